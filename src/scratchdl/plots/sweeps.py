"""Figures of the sweeps: metric against a swept value, heatmaps, overlaid learning curves.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (no display, no global
state); :func:`scratchdl.plots.save_figure` writes it atomically. The functions take plain series, so each sweep
decides what to draw and this module only how.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from scratchdl.plots import new_figure

#: viridis with missing cells (no result) in light grey.
_CMAP = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")

__all__ = [
    "Panel",
    "Series",
    "plot_heatmaps",
    "plot_panels",
]


@dataclass
class Series:
    """One line: x values, y values and optional error bars (std), with a legend label.

    ``None`` y values (a diverged run) are left out of the line.
    """

    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    err: Sequence[float | None] | None = None
    style: str = "-o"


@dataclass
class Panel:
    """One axes: title, axis labels and scales, and its lines."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    logx: bool = False
    logy: bool = False
    hline: tuple[float, str] | None = None  # (y, label), e.g. chance level
    integer_x: bool = False  # depths and layer numbers: no 1.5 ticks


def _clean(s: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    keep = [i for i, v in enumerate(s.y) if v is not None and np.isfinite(v)]
    x = np.asarray([s.x[i] for i in keep], dtype=float)
    y = np.asarray([s.y[i] for i in keep], dtype=float)
    err = None
    if s.err is not None:
        err = np.asarray([0.0 if s.err[i] is None else s.err[i] for i in keep], dtype=float)
    return x, y, err


def plot_panels(panels: Sequence[Panel], suptitle: str, *, ncols: int | None = None) -> Figure:
    """Side-by-side panels of lines (with error bars where given)."""
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig = new_figure(5.2 * ncols, 4.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        for s in panel.series:
            x, y, err = _clean(s)
            if x.size == 0:
                continue
            if err is not None:
                ax.errorbar(x, y, yerr=err, fmt=s.style, capsize=4, label=s.label, markersize=5)
            else:
                ax.plot(x, y, s.style, label=s.label, markersize=3 if s.style == "-" else 5)
        if panel.hline is not None:
            ax.axhline(panel.hline[0], color="grey", linestyle=":", label=panel.hline[1])
        if panel.logx:
            ax.set_xscale("log")
        if panel.logy:
            ax.set_yscale("log")
        if panel.integer_x:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(panel.title)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, which="major", alpha=0.3)
        if any(s.label for s in panel.series):
            ax.legend(fontsize=8)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(suptitle)
    return fig


def plot_heatmaps(
    grids: Mapping[str, np.ndarray],
    annotations: Mapping[str, Sequence[Sequence[str]]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    xlabel: str,
    ylabel: str,
    suptitle: str,
    colorbar_label: str,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Figure:
    """One annotated heatmap per entry of ``grids`` (rows x cols), sharing one colour scale.

    NaN cells (no result) are drawn grey.
    """
    n = len(grids)
    fig = new_figure(1.2 + 1.25 * len(col_labels) * n + 1.2, 1.6 + 0.8 * len(row_labels))
    axes = fig.subplots(1, n, squeeze=False)[0]
    image = None
    for ax, (title, grid) in zip(axes, grids.items(), strict=True):
        grid = np.asarray(grid, dtype=float)
        masked = np.ma.masked_invalid(grid)
        image = ax.imshow(masked, cmap=_CMAP, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels))
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                value = grid[i, j]
                # Dark text on the bright end of viridis, white on the dark end.
                dark = np.isfinite(value) and (value - vmin) / (vmax - vmin or 1) > 0.6
                ax.text(
                    j,
                    i,
                    annotations[title][i][j],
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if dark else "white",
                )
    if image is not None:
        fig.colorbar(image, ax=list(axes), label=colorbar_label, shrink=0.9)
    fig.suptitle(suptitle)
    return fig
