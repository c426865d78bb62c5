"""The book's chapter 8 figures, drawn from the library.

- :func:`plot_augmented_digits`: a few digits and what each transform of
  :mod:`scratchdl.data.augment` makes of them (ch. 8.1.2, "data augmentation").
- :func:`plot_ilsvrc_winners`: the ILSVRC winners' top-5 error by year, the history the book
  tells (ch. 8.2, figure 8-7), from :data:`ILSVRC_WINNERS`.

Each returns a :class:`matplotlib.figure.Figure` without pyplot, like :mod:`scratchdl.plots.notes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from scratchdl.data.augment import AUGMENTATIONS, augment
from scratchdl.errors import ShapeError
from scratchdl.plots import new_figure, styled

__all__ = ["ILSVRC_WINNERS", "plot_augmented_digits", "plot_ilsvrc_winners"]

#: (year, winning entry, top-5 classification error in %) of the ImageNet Large Scale Visual
#: Recognition Challenge, as the book's figure 8-7 plots them (ch. 8.2); ResNet's as the book's
#: text rounds it ("3.5%"; the published entry is 3.57%). VGG, which the book also describes,
#: came second in 2014 (7.3%) and is not a winner.
ILSVRC_WINNERS: tuple[tuple[int, str, float], ...] = (
    (2010, "NEC-UIUC", 28.2),
    (2011, "XRCE", 25.8),
    (2012, "AlexNet", 16.4),
    (2013, "Clarifai", 11.7),
    (2014, "GoogLeNet", 6.7),
    (2015, "ResNet", 3.5),
)

#: Row titles of :func:`plot_augmented_digits`, one per transform.
_ROWS = {
    "shift": "shift ±2 px",
    "rotate": "rotate ±10°",
    "scale": "scale ±10%",
    "elastic": "elastic",
}


@styled
def plot_augmented_digits(
    x: NDArray, rng: np.random.Generator | int | None = 0, kinds: Sequence[str] = AUGMENTATIONS
) -> Figure:
    """Digits ``x`` (N, 1, 28, 28) in the top row, below them one row per transform of
    ``kinds`` at its default strength and a last row with all of them at once."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1] != 1 or x.shape[0] == 0:
        raise ShapeError(f"expected digits of shape (N, 1, H, W), got an array of shape {x.shape}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    rows = [("original", x)]
    rows += [(_ROWS[kind], augment(x, gen, (kind,))) for kind in kinds]
    if len(kinds) > 1:
        rows.append(("all at once", augment(x, gen, kinds)))
    n = x.shape[0]
    fig = new_figure(1.2 * n + 1.4, 1.25 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c, 0], cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set(xticks=[], yticks=[])
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center")
    fig.suptitle("Data augmentation: each row a new random draw of one transform")
    return fig


@styled
def plot_ilsvrc_winners() -> Figure:
    """The ILSVRC winners' top-5 error by year (:data:`ILSVRC_WINNERS`, the book's figure 8-7)."""
    years = [str(year) for year, _, _ in ILSVRC_WINNERS]
    errors = [error for _, _, error in ILSVRC_WINNERS]
    fig = new_figure(8, 4.2)
    ax = fig.add_subplot()
    deep = [name in ("AlexNet", "Clarifai", "GoogLeNet", "ResNet") for _, name, _ in ILSVRC_WINNERS]
    colors = ["#1f5fa8" if d else "#9e9e9e" for d in deep]
    bars = ax.bar(years, errors, color=colors)
    for bar, (_, name, error) in zip(bars, ILSVRC_WINNERS, strict=True):
        top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        ax.annotate(f"{error:g}%\n{name}", top, ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(errors) * 1.3)
    ax.set(xlabel="year", ylabel="top-5 error (%)")
    ax.set_title("ILSVRC winners (blue: deep convolutional networks)")
    return fig
