"""Figures drawn with matplotlib, always without a display.

The modules here build :class:`matplotlib.figure.Figure` objects directly (no pyplot), so they
work on a headless machine and never touch pyplot's global figure list. For code that does use
pyplot, :func:`use_headless_backend` switches to Agg when there is no display.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from matplotlib.figure import Figure

from scratchdl._fs import atomic_path

__all__ = ["new_figure", "save_figure_atomic", "use_headless_backend"]


def use_headless_backend() -> str:
    """Select matplotlib's Agg backend unless a display is available; return the backend.

    On Linux a display means ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set; macOS and Windows
    always have one. Call it before importing pyplot.
    """
    import matplotlib

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless:
        matplotlib.use("Agg")
    return matplotlib.get_backend()


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with the Agg canvas, outside pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure_atomic(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path``: readers see the old file or the new one, never half."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
