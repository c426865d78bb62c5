"""Figures drawn with matplotlib, always without a display.

Every module here builds :class:`matplotlib.figure.Figure` objects with :func:`new_figure`
(an Agg canvas, no pyplot), so figures work on a headless machine and never touch pyplot's
global figure list or backend; :func:`save_figure` writes them as PNGs atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from scratchdl._fs import atomic_path

__all__ = ["DPI", "new_figure", "save_figure"]

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
