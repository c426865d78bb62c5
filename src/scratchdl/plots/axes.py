"""Axes a learner reads at once: limits fitted to the data, plain tick labels on log axes.

Matplotlib's defaults suit a specialist: a log axis labels its ticks ``6×10⁻¹``, a single
point gets an axis a decade wide (or from 0.945 to 1.050), a legend may sit on the lines. The
helpers here are applied by the figure functions after they draw.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

__all__ = ["log_ticks", "plain_number", "single_value_limits", "tidy_log_axis"]

_MAX_TICKS = 8


def plain_number(value: float) -> str:
    """A tick label a learner reads at once: ``0.001``, ``0.5``, ``20``, ``200,000``; below
    0.0001 a power of ten (``10⁻⁵`` as mathtext) or ``3e-05``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.4g}"  # 1.5, 20, 250
    if magnitude >= 1e-4:
        # Up to 4 significant digits, no exponent: 0.0003, 0.055, 0.5.
        digits = -math.floor(math.log10(magnitude)) + 3
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    exponent = math.log10(magnitude)
    if abs(exponent - round(exponent)) < 1e-9:
        sign = "-" if value < 0 else ""
        return f"${sign}10^{{{round(exponent)}}}$"
    return f"{value:.0e}"


def log_ticks(low: float, high: float) -> list[float]:
    """Tick positions for a log axis from ``low`` to ``high`` (both > 0): 1-2-5 steps when
    they give 3 to 8 ticks, powers of ten (thinned to at most 8) when the range is wider, and
    evenly spaced round values (as on a linear axis) when it is narrower."""
    if not (0 < low <= high) or not math.isfinite(high):
        return []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    tol = 1e-9
    ticks = [
        m * 10.0**k
        for k in range(first, last + 1)
        for m in (1.0, 2.0, 5.0)
        if low * (1 - tol) <= m * 10.0**k <= high * (1 + tol)
    ]
    if 3 <= len(ticks) <= _MAX_TICKS:
        return ticks
    if len(ticks) > _MAX_TICKS:
        decades = [10.0**k for k in range(first, last + 1) if low <= 10.0**k <= high]
        step = -(-len(decades) // _MAX_TICKS)
        return decades[::step]
    # Less than a few 1-2-5 steps wide: round values evenly spaced, as a linear axis has.
    locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
    even = [
        float(f"{t:.12g}")
        for t in locator.tick_values(low, high)
        if t > 0 and low * (1 - tol) <= t <= high * (1 + tol)
    ]
    return even if len(even) >= 2 else [low, high]


def tidy_log_axis(ax: Axes, which: str, at: Iterable[float] | None = None) -> None:
    """Give the log ``which`` axis (``"x"`` or ``"y"``) plain labels: at the values ``at``
    (e.g. the swept batch sizes) when given and few, else at :func:`log_ticks` inside the
    current limits. Minor ticks stay, unlabelled."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    low, high = ax.get_xlim() if which == "x" else ax.get_ylim()
    low, high = min(low, high), max(low, high)
    values = sorted({float(v) for v in (() if at is None else at) if v is not None and v > 0})
    ticks = values if 1 <= len(values) <= _MAX_TICKS else log_ticks(low, high)
    axis.set_major_locator(FixedLocator(ticks))
    decades = all(abs(math.log10(t) - round(math.log10(t))) < 1e-9 for t in ticks)
    if decades and ticks and min(ticks) < 1e-4:
        # Decades down to 10⁻⁹: one style for all, not 0.001 beside 10⁻⁵.
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"$10^{{{round(math.log10(v))}}}$"))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: plain_number(v)))
    axis.set_minor_formatter(NullFormatter())
    # FixedLocator does not move the limits; keep the ones the data gave.
    (ax.set_xlim if which == "x" else ax.set_ylim)(low, high)


def single_value_limits(value: float, *, log: bool, integer: bool = False) -> tuple[float, float]:
    """Limits for an axis whose data is one value: close around it, never a decade wide."""
    if log and value > 0:
        return value / 1.5, value * 1.5
    if integer:
        return value - 0.5, value + 0.5
    half = abs(value) * 0.1 or 0.5
    return value - half, value + half
