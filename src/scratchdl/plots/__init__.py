"""Figures drawn with matplotlib, always without a display.

Every module here builds :class:`matplotlib.figure.Figure` objects with :func:`new_figure`
(an Agg canvas, no pyplot), so figures work on a headless machine and never touch pyplot's
global figure list or backend; :func:`save_figure` writes them as PNGs atomically.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
from matplotlib.figure import Figure

from scratchdl._fs import atomic_path

__all__ = ["DPI", "STYLE", "new_figure", "save_figure", "styled"]

#: Resolution of every PNG scratchdl writes.
DPI = 110


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A figure of ``width`` x ``height`` inches with its own Agg canvas, outside pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG to ``path``: readers see the old file or the new one, never half."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


#: Applied to every figure through ``rc_context``: legible on a laptop screen and in a report.
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "figure.titlesize": 14,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


_F = TypeVar("_F", bound=Callable[..., Figure])


def styled(builder: _F) -> _F:
    """Build the figure under :data:`STYLE` without changing matplotlib's global settings,
    its texts in the current language (:func:`scratchdl.plots.korean.localize`)."""

    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        from scratchdl.plots.korean import localize  # here: korean.py is a module of this package

        with matplotlib.rc_context(STYLE):
            return localize(builder(*args, **kwargs))

    return wrapper  # type: ignore[return-value]
