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
    "FLAT_TOLERANCE",
    "MIN_FALL",
    "MIN_LEARNED_FALL",
    "MIN_POINTS",
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
#: The loss is "flat" only when the noise is small enough to see a change of this share.
FLAT_TOLERANCE = 0.01
#: A net "learned" only if, besides an accuracy above the bar, its loss fell from its start by
#: more than this share: a net whose loss moved 0.1% has barely begun, whatever its argmax says.
MIN_LEARNED_FALL = 0.05
#: Fewer loss points than this cannot show a trend (two per quarter, to measure the noise).
MIN_POINTS = 8


def loss_trend(losses: Sequence[float | None]) -> str:
    """How a loss curve ended: ``"falling"``, ``"flat"``, ``"rising"``, ``"unclear"`` or
    ``"diverged"``.

    Compares the mean of the last quarter of the points with the start (above it by more than the
    noise: *rising*, see :func:`_rise_noise`) and with the mean of the quarter before it; a fall
    those two quarters miss still counts when a straight line through the last half falls steadily
    (:func:`_steady_fall`). ``noise`` is twice the standard error of that difference, from the
    spread of the points within each quarter (what mini-batch noise looks like; near 0 for a curve
    measured on fixed images). The loss is *falling* (or *rising*) when the change is larger than
    both :data:`MIN_FALL` of the loss and the noise; *flat* when it is not and the noise is small
    enough to tell (below :data:`FLAT_TOLERANCE` of the loss); otherwise the run was too short or
    too noisy to say: *unclear*. A non-finite point (None, NaN, inf) means it diverged.
    """
    values = [None if v is None else float(v) for v in losses]
    if any(v is None or not math.isfinite(v) for v in values):
        return "diverged"
    if len(values) < MIN_POINTS:
        return "unclear"
    k = len(values) // 4
    before, last = values[-2 * k : -k], values[-k:]
    m_before, m_last = _mean(before), _mean(last)
    # Above where it started (the first loss, or the first quarter's median if lower: a run
    # that blew up at once has a huge first-quarter mean) by more than the noise: it went up.
    start = min(values[0], sorted(values[:k])[k // 2])
    if m_last - start > max(MIN_FALL * abs(start), _rise_noise(values, k)):
        return "rising"
    noise = _noise(before, last)
    change, scale = m_last - m_before, abs(m_before)
    if abs(change) > MIN_FALL * scale and abs(change) > noise:
        return "falling" if change < 0 else "rising"
    if _steady_fall(values[len(values) // 2 :]):
        return "falling"
    return "flat" if noise <= FLAT_TOLERANCE * scale else "unclear"


def _steady_fall(values: Sequence[float]) -> bool:
    """A least-squares line through ``values`` falls, across them, by more than
    :data:`MIN_FALL` of the loss, with a slope below zero by more than twice its standard
    error. Every point counts, not just two quarter means, so a slow, steady fall on a plateau
    (a deep sigmoid net in its first epochs, ch. 6.2) shows through each point's noise."""
    n = len(values)
    if n < 3:
        return False
    x = [i - (n - 1) / 2 for i in range(n)]
    sxx, mean = sum(xi * xi for xi in x), _mean(values)
    slope = sum(xi * (v - mean) for xi, v in zip(x, values, strict=True)) / sxx
    scatter = sum((v - mean - slope * xi) ** 2 for xi, v in zip(x, values, strict=True))
    stderr = math.sqrt(scatter / (n - 2) / sxx)
    return -slope * (n - 1) > MIN_FALL * abs(mean) and -slope > 2 * stderr


def _rise_noise(values: Sequence[float], k: int) -> float:
    """Twice the standard error of ``mean(last k points) - start``. The point-to-point scatter
    ``s`` is measured from successive differences over the last half (a trend does not inflate
    it); the start is one point of the same scatter, the last quarter's mean has ``s / sqrt(k)``.
    """
    half = values[len(values) // 2 :]
    diffs = [b - a for a, b in zip(half, half[1:], strict=False)]
    s = math.sqrt(sum(d * d for d in diffs) / (2 * len(diffs))) if diffs else 0.0
    return 2 * s * math.sqrt(1 + 1 / k)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _noise(a: Sequence[float], b: Sequence[float]) -> float:
    """Twice the standard error of ``mean(b) - mean(a)`` (two samples of the same size)."""
    k = len(a)
    if k < 2:
        return 0.0
    ma, mb = _mean(a), _mean(b)
    var = (sum((v - ma) ** 2 for v in a) + sum((v - mb) ** 2 for v in b)) / (2 * (k - 1))
    return 2 * math.sqrt(2 * var / k)


@dataclass(frozen=True)
class Verdict:
    """What a run supports saying: ``kind`` and a phrase that completes "the net ...".

    ``kind`` is ``"learned"`` (accuracy above the bar and the loss fell clearly),
    ``"learning"`` (not yet: loss still falling, or too short a run to tell, or above chance
    while the loss has barely moved), ``"stalled"`` (did not train: loss stopped falling or went
    up) or ``"diverged"``. The sweeps' tables, their findings and ``train``'s warning all print
    this one ``kind`` and ``phrase``, so no label contradicts its numbers.
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
    epochs: float | None = None,
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
    epochs : float, optional
        Epochs the run trained. Less than one epoch is too short to call a flat loss
        "did not train": the book's nets sit on a plateau for the first hundreds of updates.
    also : sequence of sequences
        Other measurements of the same run's loss, such as the mean mini-batch loss between
        curve points: the loss is still falling when ``losses`` or any of these is. Only
        ``losses`` decides divergence, "went up" and "unclear".

    Returns
    -------
    Verdict
    """
    trend = loss_trend(losses)
    if trend in ("flat", "unclear") and any(loss_trend(other) == "falling" for other in also):
        trend = "falling"
    if trend == "flat" and epochs is not None and epochs < 1:
        trend = "unclear"
    if trend == "diverged":
        return Verdict("diverged", f"diverged in {budget} (its loss became infinite or NaN)")
    fall = _relative_fall(losses)
    if trend == "rising":
        # A loss above where it started never counts as learning, whatever the argmax says.
        return Verdict("stalled", f"did not train in {budget}: its loss went up")
    if accuracy is not None and accuracy > FAIL_FACTOR * chance:
        if fall is None or fall > MIN_LEARNED_FALL:
            return Verdict("learned", f"learned in {budget}")
        return Verdict(
            "learning",
            f"had barely begun to learn in {budget}: above chance, but its loss had hardly "
            f"fallen: {more}",
        )
    if trend == "falling":
        return Verdict("learning", f"had not learned yet in {budget}, loss still falling: {more}")
    if trend == "unclear" and fall is not None and fall <= 0:
        return Verdict("stalled", f"did not train in {budget}: its loss did not fall")
    if trend == "unclear":
        return Verdict(
            "learning",
            f"had not learned yet in {budget}, too short to tell whether its loss is still "
            f"falling: {more}",
        )
    return Verdict("stalled", f"did not train in {budget}: its loss stopped falling")


def _relative_fall(losses: Sequence[float | None]) -> float | None:
    """How far the loss fell from its first point to its end (the mean of the last quarter, or
    the last point of a short curve), as a share of the first; None without two points."""
    values = [float(v) for v in losses if v is not None]
    if len(values) < 2 or values[0] == 0:
        return None
    k = max(len(values) // 4, 1)
    return (values[0] - _mean(values[-k:])) / abs(values[0])


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
