"""What a run's numbers support saying about it: one rule for ``train``'s warning and the sweeps.

A network at chance accuracy after a short run has either *stopped* learning (its loss is flat:
"did not train") or *not yet* learned (its loss is still falling: it needs more epochs). Deep
sigmoid nets with small initial weights (ch. 6.2) often sit on a plateau for several epochs
before they learn, so the second case is common and must not be reported as the first. Every
sentence names the budget it holds for ("in 2 epochs").

Two numbers differ only when the difference is larger than the seed noise: here, when their
``mean ± std`` intervals over seeds do not overlap. With one seed there is no noise estimate,
and the sentence says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAIL_FACTOR",
    "MIN_FALL",
    "Verdict",
    "learning_verdict",
    "loss_trend",
    "noise_comparison",
]

#: A net "has not learned" while its accuracy is at most this many times chance (1.5 × 0.1 on
#: MNIST): better than a guess by a few points only.
FAIL_FACTOR = 1.5
#: The loss is "still falling" when its last quarter is below the quarter before by more than
#: this share (and, for noisy mini-batch losses, by more than twice their standard error).
MIN_FALL = 1e-4


def loss_trend(losses: Sequence[float | None]) -> str:
    """``"falling"``, ``"flat"`` or ``"diverged"``: how a loss curve ended.

    Compares the mean of the last quarter of the points with the mean of the quarter before
    it. The loss is falling when the later mean is lower by more than :data:`MIN_FALL` of the
    earlier one and by more than twice the standard error of the difference (the spread of
    the points within each quarter, which is what mini-batch noise looks like). A non-finite
    (None, NaN, inf) point means the run diverged. Fewer than 4 points: ``"falling"`` unless
    the last is no lower than the first (too little to call a plateau).
    """
    values = [None if v is None else float(v) for v in losses]
    if any(v is None or not math.isfinite(v) for v in values):
        return "diverged"
    if len(values) < 2:
        return "falling"
    if len(values) < 4:
        return "falling" if values[-1] < values[0] * (1 - MIN_FALL) else "flat"
    k = len(values) // 4
    before, last = values[-2 * k : -k], values[-k:]
    m_before, m_last = sum(before) / k, sum(last) / k
    noise = 0.0
    if k > 1:
        var = sum((v - m_before) ** 2 for v in before) + sum((v - m_last) ** 2 for v in last)
        var /= 2 * (k - 1)
        noise = 2 * math.sqrt(2 * var / k)
    fall = m_before - m_last
    return "falling" if fall > MIN_FALL * abs(m_before) and fall > noise else "flat"


@dataclass(frozen=True)
class Verdict:
    """What a run supports saying: ``kind`` and a phrase that completes "the net ...".

    ``kind`` is ``"learned"``, ``"learning"`` (not yet: loss still falling), ``"stalled"``
    (did not train: loss stopped falling) or ``"diverged"``.
    """

    kind: str
    phrase: str

    @property
    def failed(self) -> bool:
        """Stalled or diverged: more of the same budget would not help."""
        return self.kind in ("stalled", "diverged")


def learning_verdict(
    accuracy: float | None,
    losses: Sequence[float | None],
    chance: float,
    budget: str,
    more: str = "try more epochs",
) -> Verdict:
    """Classify a run from its final accuracy and its loss curve, with the phrase to print.

    Parameters
    ----------
    accuracy : float or None
        Final accuracy (train or held-out); None if unknown.
    losses : sequence of float or None
        The run's loss curve, oldest first (see :func:`loss_trend`).
    chance : float
        Accuracy of guessing (``1 / classes``).
    budget : str
        What the run was given, as it should read after "in": ``"2 epochs"``, ``"2000 updates"``.
    more : str
        The advice when the loss is still falling (``train`` names its flag here).

    Returns
    -------
    Verdict
    """
    trend = loss_trend(losses)
    if trend == "diverged":
        return Verdict("diverged", f"diverged in {budget} (its loss became infinite or NaN)")
    if accuracy is not None and accuracy > FAIL_FACTOR * chance:
        return Verdict("learned", f"learned in {budget}")
    if trend == "falling":
        return Verdict("learning", f"had not learned yet in {budget}, loss still falling: {more}")
    finite = [float(v) for v in losses if v is not None]
    if len(finite) >= 2 and finite[-1] > finite[0]:
        return Verdict("stalled", f"did not train in {budget}: its loss went up")
    return Verdict("stalled", f"did not train in {budget}: its loss stopped falling")


def noise_comparison(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Whether two seed aggregates (``{"mean", "std", "n"}``) differ by more than the noise.

    Returns ``"larger"`` (a's mean is higher and the ``mean ± std`` intervals do not overlap),
    ``"smaller"``, ``"within noise"`` (they overlap) or ``"one seed"`` (no std to judge by).
    """
    if a.get("mean") is None or b.get("mean") is None:
        return "within noise"
    if min(a.get("n", 0), b.get("n", 0)) < 2:
        return "one seed"
    diff = a["mean"] - b["mean"]
    if abs(diff) <= (a["std"] or 0.0) + (b["std"] or 0.0):
        return "within noise"
    return "larger" if diff > 0 else "smaller"
