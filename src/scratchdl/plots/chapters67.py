"""The book's chapter 6 and 7 figures, drawn from the library.

- :func:`plot_optimizer_paths`: SGD, Momentum, AdaGrad and Adam on ``f(x, y) = x²/20 + y²``
  (ch. 6.1.7), with the settings of the book's ``optimizer_compare_naive.py``.
- :func:`plot_weight_init_histograms`: activations of five hidden layers by initialisation
  (ch. 6.2.2–6.2.3).
- :func:`plot_conv_filters`: the first layer's filters of a SimpleConvNet before and after
  training (ch. 7.6.1).
- :func:`plot_convolved_digit`: a digit and what a few filters make of it (ch. 7.2, 7.6.1).

Each returns a :class:`matplotlib.figure.Figure` without pyplot, like :mod:`scratchdl.plots.notes`.
The numbers come from :mod:`scratchdl.optimizers`, :mod:`scratchdl.functions`,
:func:`scratchdl.nets.init_std` and the ``Convolution`` layer, never from a copy of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from scratchdl.errors import ShapeError
from scratchdl.functions import relu, sigmoid
from scratchdl.nets import init_std
from scratchdl.optimizers import SGD, AdaGrad, Adam, Momentum, Optimizer
from scratchdl.plots import new_figure, styled

__all__ = [
    "OPTIMIZER_PATH_SETTINGS",
    "WEIGHT_INIT_SETTINGS",
    "optimizer_paths",
    "plot_conv_filters",
    "plot_convolved_digit",
    "plot_optimizer_paths",
    "plot_weight_init_histograms",
    "simple_filters",
    "weight_init_activations",
]


def _bowl(x: NDArray | float, y: NDArray | float) -> NDArray | float:
    """The book's ch. 6.1.7 test function ``x²/20 + y²``: 20 times steeper along y."""
    return x**2 / 20.0 + y**2


#: ``(label, optimizer class, lr)`` of the book's ``optimizer_compare_naive.py``.
OPTIMIZER_PATH_SETTINGS: tuple[tuple[str, type[Optimizer], float], ...] = (
    ("SGD", SGD, 0.95),
    ("Momentum", Momentum, 0.1),
    ("AdaGrad", AdaGrad, 1.5),
    ("Adam", Adam, 0.3),
)


def optimizer_paths(start: Sequence[float] = (-7.0, 2.0), steps: int = 30) -> dict[str, NDArray]:
    """The points each optimizer of :data:`OPTIMIZER_PATH_SETTINGS` visits, shape (steps + 1, 2).

    Parameters are the book's dict of two Python floats ``{'x': ..., 'y': ...}``, updated by
    each optimizer's ``update`` with the exact gradient ``(x / 10, 2 y)``.
    """
    paths = {}
    for label, cls, lr in OPTIMIZER_PATH_SETTINGS:
        opt = cls(lr=lr)
        params = {"x": float(start[0]), "y": float(start[1])}
        points = [(params["x"], params["y"])]
        for _ in range(steps):
            grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
            opt.update(params, grads)
            points.append((params["x"], params["y"]))
        paths[label] = np.array(points)
    return paths


@styled
def plot_optimizer_paths(start: Sequence[float] = (-7.0, 2.0), steps: int = 30) -> Figure:
    """Four panels: the path of SGD (lr 0.95), Momentum (0.1), AdaGrad (1.5) and Adam (0.3)
    over the contours of ``x²/20 + y²`` from ``start`` (ch. 6.1.7, figure 6-8)."""
    paths = optimizer_paths(start, steps)
    every = np.vstack(list(paths.values()))
    # One frame for all four panels, just around the data (the bowl is drawn wider than that).
    pad = 0.6
    x_lo, x_hi = float(every[:, 0].min()) - pad, float(every[:, 0].max()) + pad
    y_half = max(float(np.abs(every[:, 1]).max()) + pad, 2.5)
    gx = np.linspace(x_lo, x_hi, 300)
    gy = np.linspace(-y_half, y_half, 200)
    X, Y = np.meshgrid(gx, gy)
    Z = _bowl(X, Y)
    levels = [0.1, 0.5, 1, 2, 3, 4, 6]
    fig = new_figure(11, 7.2)
    axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
    for ax, (label, _cls, lr) in zip(axes, OPTIMIZER_PATH_SETTINGS, strict=True):
        path = paths[label]
        ax.contour(X, Y, Z, levels=levels, colors="0.65", linewidths=0.8)
        ax.plot(path[:, 0], path[:, 1], "o-", color="#c0392b", markersize=3.5, linewidth=1.2)
        ax.plot(path[0, 0], path[0, 1], "s", color="#1f5fa8", markersize=8, label="start")
        ax.plot(0, 0, "+", color="black", markersize=14, markeredgewidth=2, label="minimum")
        end = path[-1]
        ax.set_title(
            f"{label} (lr={lr:g}): after {steps} steps at ({end[0]:.2f}, {end[1]:.2f}), "
            f"f = {_bowl(end[0], end[1]):.3f}",
            fontsize=10.5,
        )
        ax.set(xlim=(x_lo, x_hi), ylim=(-y_half, y_half))
        ax.set_aspect("equal")
    for ax in axes[2:]:
        ax.set_xlabel("x")
    for ax in axes[::2]:
        ax.set_ylabel("y")
    axes[0].legend(loc="lower right", fontsize=9)
    fig.suptitle(
        f"Optimizers on f(x, y) = x²/20 + y² from ({start[0]:g}, {start[1]:g}), "
        f"{steps} steps each (contours at f = {', '.join(f'{v:g}' for v in levels)})"
    )
    return fig


#: ``(label, activation name, weight_init_std)`` of ch. 6.2's histograms.
WEIGHT_INIT_SETTINGS: tuple[tuple[str, str, float | str], ...] = (
    ("sigmoid, std = 1", "sigmoid", 1.0),
    ("sigmoid, std = 0.01", "sigmoid", 0.01),
    ("sigmoid, Xavier (std = 1/√n)", "sigmoid", "xavier"),
    ("ReLU, He (std = √(2/n))", "relu", "he"),
)


def weight_init_activations(
    activation: str,
    weight_init_std: float | str,
    layers: int = 5,
    nodes: int = 100,
    samples: int = 1000,
    rng: np.random.Generator | int | None = 0,
) -> list[NDArray]:
    """Outputs of ``layers`` hidden layers of ``nodes`` units, for ``samples`` N(0, 1) inputs.

    The book's ``weight_init_activation_histogram.py`` (ch. 6.2.2): weights
    ``std * N(0, 1)`` with ``std`` from :func:`scratchdl.nets.init_std`, no biases, the same
    input for every setting when the same ``rng`` seed is given.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    act = {"sigmoid": sigmoid, "relu": relu}[activation]
    x = gen.standard_normal((samples, nodes))
    outputs = []
    for _ in range(layers):
        W = gen.standard_normal((nodes, nodes)) * init_std(weight_init_std, nodes)
        x = act(x @ W)
        outputs.append(x)
    return outputs


@styled
def plot_weight_init_histograms(seed: int = 0) -> Figure:
    """Histograms of each hidden layer's activations, one row per initialisation (ch. 6.2).

    Sigmoid rows use the range (0, 1) and 30 bins as the book does. In the ReLU row about half
    the outputs are exactly 0; that bar is left out (its count is printed) so the spread of the
    positive outputs stays visible.
    """
    rows = len(WEIGHT_INIT_SETTINGS)
    fig = new_figure(13, 2.35 * rows + 0.8)
    axes = fig.subplots(rows, 5, sharey="row")
    for r, (label, activation, std) in enumerate(WEIGHT_INIT_SETTINGS):
        outs = weight_init_activations(activation, std, rng=seed)
        if activation == "relu":
            hi = float(np.ceil(max(float(np.percentile(a, 99.5)) for a in outs) * 2) / 2)
        for i, a in enumerate(outs):
            ax = axes[r, i]
            stats = f"mean {a.mean():.2f}\nstd {a.std():.2f}"
            if activation == "relu":
                zeros = int(np.count_nonzero(a == 0))
                ax.hist(a[a > 0].ravel(), 30, range=(0, hi), color="#1f5fa8")
                ax.set_xlim(0, hi)
                ax.set_xticks(np.arange(0, hi, 1))  # no tick at the right edge to collide
                stats = f"{zeros / a.size:.0%} exactly 0\n(not drawn)\n" + stats
                x_text, y_text, align = 0.97, 0.93, "right"
            else:
                ax.hist(a.ravel(), 30, range=(0, 1), color="#1f5fa8")
                ax.set_xlim(0, 1)
                ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
                x_text, y_text, align = 0.07, 0.75, "left"  # clear of the bar at 0
            ax.text(x_text, y_text, stats, transform=ax.transAxes, ha=align, va="top", fontsize=9)
            if r == 0:
                ax.set_title(f"layer {i + 1}")
            ax.ticklabel_format(axis="y", style="plain")
        axes[r, 0].set_ylabel(label, fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("activation")
    fig.suptitle(
        "Hidden-layer activations by weight initialisation: 5 layers of 100 units, "
        "1000 inputs from N(0, 1) (counts per bin)"
    )
    return fig


# -- chapter 7 ------------------------------------------------------------------------------


def simple_filters() -> tuple[NDArray, list[str]]:
    """Four hand-made 5 × 5 filters, shape (4, 1, 5, 5), and their names.

    Vertical and horizontal edges (positive on one side, negative on the other), a diagonal
    stroke and a blur: what ch. 7.6.1 finds trained first-layer filters look like.
    """
    side = np.linspace(-1.0, 1.0, 5)
    vertical = np.tile(side, (5, 1))  # left negative, right positive
    diagonal = np.fliplr(np.eye(5)) * 2 - 0.4  # a "/" stroke
    filters = np.stack([vertical, vertical.T, diagonal, np.full((5, 5), 1 / 25)])
    names = ["vertical edge", "horizontal edge", "diagonal stroke", "blur (average)"]
    return filters[:, np.newaxis].astype(np.float32), names


def _as_filters(W: NDArray) -> NDArray:
    W = np.asarray(W)
    if W.ndim != 4:
        raise ShapeError(f"filters must have shape (FN, C, FH, FW), got {W.shape}")
    return W


def _filter_grid(fig: Figure, spec, W: NDArray, cols: int, title: str) -> None:  # noqa: ANN001
    n = W.shape[0]
    rows = -(-n // cols)
    sub = spec.subgridspec(rows + 1, cols, height_ratios=[0.35] + [1] * rows, hspace=0.15)
    head = fig.add_subplot(sub[0, :])
    head.set_axis_off()
    head.text(0.5, 0.2, title, ha="center", va="bottom", fontsize=12)
    for i in range(rows * cols):
        ax = fig.add_subplot(sub[1 + i // cols, i % cols])
        ax.set_axis_off()
        if i < n:
            # gray_r: dark is a large weight, as the book's figure 7-24.
            ax.imshow(W[i, 0], cmap="gray_r", interpolation="nearest")


@styled
def plot_conv_filters(W_before: NDArray, W_after: NDArray, note: str = "") -> Figure:
    """First-layer filters ``W1`` (FN, C, FH, FW) before and after training (ch. 7.6.1).

    Each filter is scaled to its own range (dark = large), as in the book's figure 7-24, so the
    random ones look like noise and the trained ones show edges and blobs.
    """
    W_before, W_after = _as_filters(W_before), _as_filters(W_after)
    if note and not note[0].isspace():  # "1 epoch" reads "after training (1 epoch)"
        note = f" ({note})"
    cols = 10
    rows = -(-max(W_before.shape[0], W_after.shape[0]) // cols)
    fig = new_figure(9, 2 * (0.9 * rows + 0.5) + 0.6, layout=None)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, hspace=0.25)
    spec = fig.add_gridspec(2, 1)
    fh, fw = W_before.shape[2:]
    _filter_grid(fig, spec[0], W_before, cols, f"before training: random {fh}×{fw} filters")
    _filter_grid(fig, spec[1], W_after, cols, f"after training{note}")
    fig.suptitle(f"SimpleConvNet's first layer: {W_after.shape[0]} filters (dark = large weight)")
    return fig


@styled
def plot_convolved_digit(
    image: NDArray, filters: NDArray, label: int | None = None, titles: Sequence[str] = ()
) -> Figure:
    """A digit (28 × 28) and its feature map under each filter (FN, 1, FH, FW) (ch. 7.2).

    The maps come from :class:`scratchdl.layers.Convolution` with stride 1 and no padding, as
    the book's ``apply_filter.py``; a map is bright where the digit matches the filter's
    pattern. Each map is scaled to its own range.
    """
    from scratchdl.layers import Convolution

    filters = _as_filters(filters).astype(np.float32)
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ShapeError(f"image must have shape (H, W), got {image.shape}")
    conv = Convolution(filters, np.zeros(filters.shape[0], dtype=np.float32))
    maps = conv.forward(image[np.newaxis, np.newaxis])[0]
    n = filters.shape[0]
    fig = new_figure(2.1 * (n + 1), 4.6, layout=None)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.8, wspace=0.1, hspace=0.35)
    axes = fig.subplots(2, n + 1)
    axes[0, 0].imshow(image, cmap="gray_r", interpolation="nearest")
    axes[0, 0].set_title("input" if label is None else f"input (label {label})", fontsize=10)
    axes[1, 0].set_axis_off()
    sizes = f"{image.shape[0]}×{image.shape[1]} → {maps.shape[1]}×{maps.shape[2]}"
    axes[1, 0].text(
        0.5, 0.5, f"{sizes}\n(stride 1, no padding)", ha="center", va="center", fontsize=9.5
    )
    for i in range(n):
        name = titles[i] if i < len(titles) else f"filter {i + 1}"
        m = float(np.max(np.abs(filters[i, 0]))) or 1.0
        axes[0, i + 1].imshow(filters[i, 0], cmap="RdBu_r", vmin=-m, vmax=m)
        axes[0, i + 1].set_title(name, fontsize=10)
        # Gray is 0, white a strong positive response, black a negative one.
        r = float(np.max(np.abs(maps[i]))) or 1.0
        axes[1, i + 1].imshow(maps[i], cmap="gray", vmin=-r, vmax=r)
        axes[1, i + 1].set_title("feature map", fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "What a convolution does to a digit\n"
        "top: the filters (red +, blue -); bottom: their feature maps (white = strong match, "
        "gray = 0)"
    )
    return fig
