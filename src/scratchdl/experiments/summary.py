"""Helpers for the sweeps' ``summary.md``: number formatting that never hides a value.

Each summary is written from a ``findings`` dict that is also stored in ``results.json``; the
formatters below are the only way numbers enter the text, so every number a reader sees can be
traced to a stored value (``tests/test_sweep_summary.py`` checks exactly that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["acc", "group_metric", "pm", "ratio", "sig", "words_list"]


def sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, never in exponent notation, no trailing
    zeros (``2.0`` -> ``"2"``, ``0.000414`` -> ``"0.000414"``)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def acc(value: float | None) -> str:
    """An accuracy (or other fraction) with 3 decimals; "n/a" if missing."""
    return "n/a" if value is None else f"{value:.3f}"


def pm(stat: Mapping[str, Any]) -> str:
    """``mean ± std`` of an aggregate (3 decimals), just the mean for one seed."""
    if stat.get("mean") is None:
        return "n/a"
    if stat.get("n", 0) < 2:
        return acc(stat["mean"])
    return f"{acc(stat['mean'])} ± {acc(stat['std'])}"


def ratio(value: float) -> str:
    """A ratio such as ``4.1`` (the caller writes the ``×``)."""
    return f"{value:.1f}"


def words_list(items: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def group_metric(group: Mapping[str, Any], path: str, field: str = "mean") -> float | None:
    """One aggregate number of a group, e.g. ``group_metric(g, "final.test_acc")``."""
    stat = group["metrics"].get(path)
    return None if stat is None else stat.get(field)
