"""The attention map of a seq2seq model with attention (second book, ch. 8.3.3, Figure 8-26):
for one question, which input characters the decoder weighed at each output step."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from scratchdl.errors import ShapeError
from scratchdl.plots import new_figure, save_figure, styled

__all__ = ["plot_attention", "save_attention"]


@styled
def plot_attention(
    attention_map: ArrayLike,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str | None = None,
) -> Figure:
    """A heat map of ``attention_map`` (rows: output steps, columns: input positions), grey
    levels from 0 (black) to 1 (white) like the book's figure.

    Parameters
    ----------
    attention_map : array-like, shape (T_out, T_in)
        Attention weights, each row summing to 1.
    row_labels : sequence of str, length T_out
        The output characters (what the decoder wrote or read).
    column_labels : sequence of str, length T_in
        The input characters, in the order the encoder read them.
    """
    a = np.asarray(attention_map, dtype=float)
    if a.ndim != 2 or a.shape != (len(row_labels), len(column_labels)):
        raise ShapeError(
            f"attention_map must have shape (len(row_labels), len(column_labels)) = "
            f"{(len(row_labels), len(column_labels))}, got {a.shape}"
        )
    fig = new_figure(max(4.0, 0.28 * a.shape[1] + 1.5), max(3.0, 0.3 * a.shape[0] + 1.2))
    ax = fig.add_subplot()
    im = ax.pcolormesh(a, cmap="gray", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax)
    ax.set_xticks(np.arange(a.shape[1]) + 0.5, [repr(c)[1:-1] for c in column_labels])
    ax.set_yticks(np.arange(a.shape[0]) + 0.5, [repr(c)[1:-1] for c in row_labels])
    ax.invert_yaxis()
    ax.set(xlabel="input (encoder)", ylabel="output (decoder)")
    if title:
        ax.set_title(title)
    return fig


def save_attention(
    path: str | os.PathLike[str],
    attention_map: ArrayLike,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str | None = None,
) -> Path:
    """Draw :func:`plot_attention` and write it as a PNG atomically."""
    return save_figure(plot_attention(attention_map, row_labels, column_labels, title), path)
