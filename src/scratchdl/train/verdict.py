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
#: The loss is "still falling" when the straight line fitted to the last half of its curve
#: falls, over that half, by more than this share of the loss (and by more than twice the
#: standard error of the fitted slope, which is what mini-batch noise looks like).
MIN_FALL = 1e-4
#: A loss "went up" when the last half of its curve is above its start by more than this share.
MIN_RISE = 0.01


def _finite(losses: Sequence[float | None]) -> list[float] | None:
    values = [None if v is None else float(v) for v in losses]
    return None if any(v is None or not math.isfinite(v) for v in values) else values


def loss_trend(losses: Sequence[float | None]) -> str:
    """``"falling"``, ``"flat"`` or ``"diverged"``: how a loss curve ended.

    Fits a straight line (least squares) to the last half of the points. The loss is falling
    when the line falls, across that half, by more than :data:`MIN_FALL` of the loss and its
    slope is below zero by more than twice its standard error (from the scatter of the points
    about the line). Using the whole last half, not just its two ends, is what lets a slow,
    steady fall on a plateau (a deep sigmoid net in its first epochs, ch. 6.2) show through
    the noise of each point. A non-finite (None, NaN, inf) point means the run diverged.
    Fewer than 4 points: ``"falling"`` unless the last is no lower than the first (too little
    to call a plateau).
    """
    values = _finite(losses)
    if values is None:
        return "diverged"
    if len(values) < 2:
        return "falling"
    if len(values) < 4:
        return "falling" if values[-1] < values[0] * (1 - MIN_FALL) else "flat"
    y = values[len(values) // 2 :]
    n = len(y)
    x = [i - (n - 1) / 2 for i in range(n)]
    sxx = sum(xi * xi for xi in x)
    mean = sum(y) / n
    slope = sum(xi * (yi - mean) for xi, yi in zip(x, y, strict=True)) / sxx
    scatter = sum((yi - mean - slope * xi) ** 2 for xi, yi in zip(x, y, strict=True))
    stderr = math.sqrt(scatter / (n - 2) / sxx) if n > 2 else 0.0
    fall = -slope * (n - 1)
    return "falling" if fall > MIN_FALL * abs(mean) and -slope > 2 * stderr else "flat"


def _went_up(losses: Sequence[float | None]) -> bool:
    """The last half of the curve sits above its first point by more than :data:`MIN_RISE`
    of it and more than twice its spread (a plateau jittering about its start, a few
    thousandths above ln(10), has not "gone up")."""
    values = [float(v) for v in losses if v is not None]
    if len(values) < 2:
        return False
    tail = values[len(values) // 2 :]
    mean = sum(tail) / len(tail)
    spread = math.sqrt(sum((v - mean) ** 2 for v in tail) / max(len(tail) - 1, 1))
    return mean - values[0] > max(2 * spread, MIN_RISE * abs(values[0]))


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
    also: Sequence[Sequence[float | None]] = (),
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
    also : sequence of sequences
        Other measurements of the same run's loss (such as mean mini-batch losses): the loss
        is still falling when ``losses`` or any of these is (only ``losses`` decides
        divergence and "went up").

    Returns
    -------
    Verdict
    """
    trend = loss_trend(losses)
    if trend == "flat" and any(loss_trend(other) == "falling" for other in also):
        trend = "falling"
    if trend == "diverged":
        return Verdict("diverged", f"diverged in {budget} (its loss became infinite or NaN)")
    if accuracy is not None and accuracy > FAIL_FACTOR * chance:
        return Verdict("learned", f"learned in {budget}")
    if trend == "falling":
        return Verdict("learning", f"had not learned yet in {budget}, loss still falling: {more}")
    if _went_up(losses):
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
