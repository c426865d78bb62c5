"""Figures of the sweeps: metric against a swept value, heatmaps, overlaid learning curves.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (no display, no global
state); :func:`scratchdl.plots.save_figure` writes it atomically. The functions take plain series, so each sweep
decides what to draw and this module only how.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from scratchdl.plots import new_figure
from scratchdl.plots.axes import single_value_limits, tidy_log_axis
from scratchdl.plots.korean import localize

#: viridis with missing cells (no result) in light grey.
_CMAP = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")

__all__ = [
    "HistRow",
    "Panel",
    "Series",
    "plot_heatmaps",
    "plot_histogram_grid",
    "plot_panels",
    "plot_scatter",
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
    ylim: tuple[float, float] | None = None  # a fixed y range, as a book figure has


def _clean(s: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    keep = [i for i, v in enumerate(s.y) if v is not None and np.isfinite(v)]
    x = np.asarray([s.x[i] for i in keep], dtype=float)
    y = np.asarray([s.y[i] for i in keep], dtype=float)
    err = None
    if s.err is not None:
        err = np.asarray([0.0 if s.err[i] is None else s.err[i] for i in keep], dtype=float)
    return x, y, err


def plot_panels(panels: Sequence[Panel], suptitle: str, *, ncols: int | None = None) -> Figure:
    """Side-by-side panels of lines (with error bars where given).

    Axes are fitted to the data (one value gets a close axis with one tick, never a decade),
    log axes carry plain labels (0.001, 200,000) at the swept values where there are few, and
    no legend sits on the lines: panels that show the same lines share one legend below them,
    others get theirs below their own axes.
    """
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig = new_figure(5.2 * ncols, 4.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        xs, ys = [], []
        for s in panel.series:
            x, y, err = _clean(s)
            if x.size == 0:
                continue
            xs.append(x)
            ys += [y] if err is None else [y - err, y + err]
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
        _fit_axes(ax, panel, np.concatenate(xs) if xs else None, ys)
        if panel.ylim is not None:
            ax.set_ylim(panel.ylim)
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    _legends(fig, axes[: len(panels)], panels)
    fig.suptitle(suptitle)
    return localize(fig)


def _fit_axes(ax: Axes, panel: Panel, x: np.ndarray | None, ys: list[np.ndarray]) -> None:
    """Limits and ticks that the data warrants (see :func:`plot_panels`)."""
    if x is None:
        return
    distinct_x = np.unique(x)
    if distinct_x.size == 1:
        ax.set_xlim(
            single_value_limits(float(distinct_x[0]), log=panel.logx, integer=panel.integer_x)
        )
        ax.set_xticks([float(distinct_x[0])])
    elif panel.integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if panel.logx:
        tidy_log_axis(ax, "x", at=distinct_x)
    y = np.concatenate(ys) if ys else np.array([])
    y = y[np.isfinite(y) & ((y > 0) if panel.logy else True)]
    if y.size and np.ptp(y) == 0 and panel.hline is None:
        ax.set_ylim(single_value_limits(float(y[0]), log=panel.logy))
    if panel.logy:
        tidy_log_axis(ax, "y")


def _legends(fig: Figure, axes: Sequence[Axes], panels: Sequence[Panel]) -> None:
    """One legend below all panels when they show the same lines, else one below each."""
    labelled = [[s.label for s in p.series if s.label] for p in panels]
    if not any(labelled):
        return
    if len(panels) > 1 and all(lab == labelled[0] for lab in labelled):
        found: dict[str, Any] = {}
        for ax in axes:
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                found.setdefault(label, h)
        # The lines in the order given, then reference lines such as "chance".
        order = [*labelled[0], *(label for label in found if label not in labelled[0])]
        handles = {label: found[label] for label in order if label in found}
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=len(handles) if len(handles) <= 6 else -(-len(handles) // 2),
            fontsize=8,
        )
        return
    for ax, labels in zip(axes, labelled, strict=True):
        if labels:
            n = len(ax.get_legend_handles_labels()[1])
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(n, 3))


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
) -> Figure:
    """One annotated heatmap per entry of ``grids`` (rows x cols), on one colour scale, 0 to 1.

    NaN cells (no result) are drawn grey.
    """
    n = len(grids)
    # At least 2.2 inches a panel: one column still fits its title and tick labels.
    panel_width = max(1.25 * len(col_labels), 2.2)
    fig = new_figure(1.2 + panel_width * n + 1.2, 1.6 + 0.8 * len(row_labels))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    image = None
    for k, (ax, (title, grid)) in enumerate(zip(axes, grids.items(), strict=True)):
        grid = np.asarray(grid, dtype=float)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=_CMAP, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels))
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
        if k == 0:  # the panels share their axes: one y label, one x label below all
            ax.set_ylabel(ylabel)
        ax.set_title(title)
        text = annotations[title]
        for (i, j), value in np.ndenumerate(grid):
            # Dark text on the bright end of viridis, white on the dark end.
            dark = np.isfinite(value) and value > 0.6
            color = "black" if dark else "white"
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8, color=color)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label=colorbar_label, shrink=0.9)
    fig.supxlabel(xlabel)
    fig.suptitle(suptitle)
    return localize(fig)


def plot_scatter(
    x: Sequence[float],
    y: Sequence[float],
    values: Sequence[float | None],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    colorbar_label: str,
    logx: bool = False,
    logy: bool = False,
    box: tuple[float, float, float, float] | None = None,
    box_label: str = "",
    star: tuple[float, float, str] | None = None,
) -> Figure:
    """Points at ``(x, y)`` coloured by ``values`` (None: grey), e.g. a random search's draws
    coloured by accuracy; ``box`` = ``(x0, x1, y0, y1)`` outlines a region, ``star`` =
    ``(x, y, label)`` marks one point."""
    fig = new_figure(7.0, 5.6)
    ax = fig.subplots()
    c = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    missing = ~np.isfinite(c)
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if missing.any():
        ax.scatter(xs[missing], ys[missing], c="lightgrey", s=28, label="no result")
    image = ax.scatter(xs[~missing], ys[~missing], c=c[~missing], cmap=_CMAP, s=36, vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label=colorbar_label)
    if box is not None:
        x0, x1, y0, y1 = box
        outline = {"fill": False, "edgecolor": "red", "linewidth": 1.5, "linestyle": "--"}
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, label=box_label, **outline))
    if star is not None:
        marker = {"marker": "*", "color": "red", "markersize": 16, "markeredgecolor": "black"}
        ax.plot([star[0]], [star[1]], linestyle="", label=star[2], **marker)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3)
    return localize(fig)


@dataclass
class HistRow:
    """One row of :func:`plot_histogram_grid`: a label and one histogram (bin heights) per
    column, with an optional note printed in each panel."""

    label: str
    heights: Sequence[Sequence[float]]
    notes: Sequence[str] | None = None


def plot_histogram_grid(
    rows: Sequence[HistRow],
    edges: Sequence[float],
    *,
    col_titles: Sequence[str],
    xlabel: str,
    ylabel: str,
    suptitle: str,
) -> Figure:
    """Histograms already counted (``heights`` per bin between ``edges``), one row per entry
    of ``rows`` and one column per histogram, sharing the y axis within a row (the layout of
    the book's ch. 6.2.2 activation figures)."""
    ncols = max(len(r.heights) for r in rows)
    fig = new_figure(2.5 * ncols + 1.2, 1.9 * len(rows) + 1.0)
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharey="row", sharex=True)
    edges = np.asarray(edges, dtype=float)
    for r, row in enumerate(rows):
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(row.heights):
                ax.set_visible(False)
                continue
            ax.stairs(np.asarray(row.heights[c], dtype=float), edges, fill=True, color="#1f5fa8")
            ax.set_xlim(edges[0], edges[-1])
            if row.notes is not None:
                note = row.notes[c]
                ax.text(0.97, 0.93, note, transform=ax.transAxes, ha="right", va="top", fontsize=8)
            if r == 0 and c < len(col_titles):
                ax.set_title(col_titles[c])
            if r == len(rows) - 1:
                ax.set_xlabel(xlabel)
        axes[r, 0].set_ylabel(f"{row.label}\n{ylabel}", fontsize=9)
    fig.suptitle(suptitle)
    return localize(fig)
