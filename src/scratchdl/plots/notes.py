"""The book's figures of ch. 2-5, drawn from the library itself.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot, so
nothing here needs a display or touches matplotlib's global state; :func:`save_figure` writes a
PNG atomically. The math figures call :mod:`scratchdl.functions`, :mod:`scratchdl.perceptron`
and :mod:`scratchdl.gradient` rather than re-deriving anything, so a figure that looks wrong
points at a bug in the library.

:func:`write_figures` draws them all into a folder. The MNIST figures (digits, first-layer
weights, misclassified digits, learning curves) need the data set and a trained network; when
the data cannot be loaded they are skipped with a reason and the math figures are still written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from numpy.typing import NDArray

from scratchdl.errors import ConfigError, ModelFileError, ScratchdlError, ShapeError
from scratchdl.functions import relu, sigmoid, softmax, step_function
from scratchdl.gradient import gradient_descent, numerical_diff, numerical_gradient
from scratchdl.perceptron import AND, NAND, OR, TRUTH_TABLE_INPUTS, XOR, Perceptron
from scratchdl.plots import new_figure, save_figure, styled
from scratchdl.plots.chapters67 import plot_optimizer_paths, plot_weight_init_histograms

if TYPE_CHECKING:
    from scratchdl.nets import Net
    from scratchdl.train import History

__all__ = [
    "FiguresResult",
    "MATH_FIGURES",
    "MNIST_FIGURES",
    "plot_activations",
    "plot_first_layer_weights",
    "plot_gradient_descent",
    "plot_gradient_field",
    "plot_logic_gates",
    "plot_misclassified",
    "plot_mnist_samples",
    "plot_numerical_diff",
    "plot_softmax",
    "plot_surface",
    "plot_xor",
    "save_figure",
    "write_figures",
]

IMAGE_SIDE = 28  # MNIST digits are 28 x 28

# Two-class colours for the perceptron plots: output 0 (light orange), output 1 (light blue).
_REGION_CMAP = ListedColormap(["#fde0c5", "#c6dbef"])
_CLASS_COLORS = ("#d95f02", "#1f5fa8")


# -- chapter 3: activations and softmax ---------------------------------------------------------


@styled
def plot_activations() -> Figure:
    """Step, sigmoid and ReLU on [-5, 5], one panel each (figures 3-6, 3-7 and 3-9)."""
    x = np.linspace(-5.0, 5.0, 1001)
    fig = new_figure(12, 3.8)
    axes = fig.subplots(1, 3)
    panels = [
        ("Step function", step_function, (-0.1, 1.1), "y = 1 if x > 0 else 0"),
        ("Sigmoid", sigmoid, (-0.1, 1.1), "y = 1 / (1 + exp(-x))"),
        ("ReLU", relu, (-0.5, 5.5), "y = max(0, x)"),
    ]
    for ax, (title, fn, ylim, formula) in zip(axes, panels, strict=True):
        ax.plot(x, fn(x), color="#1f5fa8", linewidth=2, label=formula)
        ax.set(title=title, xlabel="x", ylabel="y", ylim=ylim)
        ax.axhline(0, color="0.4", linewidth=0.8)
        ax.axvline(0, color="0.4", linewidth=0.8)
        ax.legend(loc="upper left")
    fig.suptitle("Activation functions")
    return fig


@styled
def plot_softmax(scores: Sequence[float] = (0.3, 2.9, 4.0)) -> Figure:
    """Softmax of a score vector (bars) and the probabilities as one score varies."""
    scores_arr = np.asarray(scores, dtype=np.float64)
    probs = softmax(scores_arr)
    n = scores_arr.size
    fig = new_figure(12, 4.2)
    ax_bar, ax_sweep = fig.subplots(1, 2)

    idx = np.arange(n)
    bars = ax_bar.bar(idx, probs, color="#1f5fa8")
    ax_bar.bar_label(bars, labels=[f"{p:.3f}" for p in probs], padding=3)
    ax_bar.set_xticks(idx, [f"class {i}\nscore a = {a:g}" for i, a in enumerate(scores_arr)])
    ax_bar.set(
        title=f"softmax({', '.join(f'{a:g}' for a in scores_arr)}): probabilities sum to 1",
        ylabel="probability y",
        ylim=(0, 1.05),
    )

    a0 = np.linspace(-4.0, 10.0, 400)
    grid = np.tile(scores_arr, (a0.size, 1))
    grid[:, 0] = a0
    sweep = softmax(grid)  # one softmax per row
    for k in range(n):
        label = f"y{k} (score a{k} = " + ("varied)" if k == 0 else f"{scores_arr[k]:g})")
        ax_sweep.plot(a0, sweep[:, k], linewidth=2, label=label)
    ax_sweep.set(
        title="Raising score a0 moves probability to class 0",
        xlabel="score a0",
        ylabel="probability y",
        ylim=(-0.02, 1.02),
    )
    ax_sweep.legend(loc="center left")
    fig.suptitle("Softmax")
    return fig


# -- chapter 2: perceptrons -----------------------------------------------------------------------

_GATE_LIMITS = (-0.5, 1.5)


def _shade(ax: Any, gate: Callable[..., Any]) -> None:
    """Shade where ``gate`` outputs 0 (orange) and 1 (blue)."""
    g = np.linspace(*_GATE_LIMITS, 301)
    x1, x2 = np.meshgrid(g, g)
    ax.contourf(x1, x2, np.asarray(gate(x1, x2)), levels=[-0.5, 0.5, 1.5], cmap=_REGION_CMAP)


def _draw_points(ax: Any, outputs: NDArray) -> None:
    for y, marker in ((0, "o"), (1, "s")):
        x1, x2 = TRUTH_TABLE_INPUTS[outputs == y].T
        style = {"s": 110, "color": _CLASS_COLORS[y], "edgecolor": "black", "zorder": 3}
        ax.scatter(x1, x2, marker=marker, label=f"output {y}", **style)


def _draw_line(ax: Any, p: Perceptron, **kwargs: Any) -> None:
    """Draw ``w1 x1 + w2 x2 + b = 0`` across the plot (the gates' lines are never vertical)."""
    w1, w2 = p.w
    xs = np.array(_GATE_LIMITS)
    ax.plot(xs, -(w1 * xs + p.b) / w2, **kwargs)


def _line_equation(p: Perceptron) -> str:
    (w1, w2), b = p.w, p.b

    def sign(v: float) -> str:
        return "-" if v < 0 else "+"

    return f"{w1:g}·x1 {sign(w2)} {abs(w2):g}·x2 {sign(b)} {abs(b):g} = 0"


def _setup_gate_axes(ax: Any, title: str) -> None:
    ax.set(title=title, xlabel="x1", ylabel="x2", xlim=_GATE_LIMITS, ylim=_GATE_LIMITS)
    ax.set(xticks=[-0.5, 0, 0.5, 1, 1.5], yticks=[-0.5, 0, 0.5, 1, 1.5])
    ax.set_aspect("equal")
    ax.grid(False)


@styled
def plot_logic_gates() -> Figure:
    """AND, NAND and OR: each perceptron's line ``w·x + b = 0`` splits the plane in two."""
    fig = new_figure(14.5, 5)
    axes = fig.subplots(1, 3)
    for ax, (name, gate) in zip(axes, (("AND", AND), ("NAND", NAND), ("OR", OR)), strict=True):
        _shade(ax, gate)
        _draw_line(ax, gate, color="black", linewidth=2, label="w·x + b = 0")
        pts = TRUTH_TABLE_INPUTS
        _draw_points(ax, np.asarray(gate(pts[:, 0], pts[:, 1])))
        _setup_gate_axes(ax, f"{name}\n{_line_equation(gate)}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center")
    fig.suptitle("Single perceptrons: shaded blue where the gate outputs 1")
    return fig


@styled
def plot_xor() -> Figure:
    """XOR: no single line separates its outputs, but two layers carve out a band."""
    fig = new_figure(12, 5.4)
    ax_line, ax_two = fig.subplots(1, 2)
    pts = TRUTH_TABLE_INPUTS
    xor_out = np.asarray(XOR(pts[:, 0], pts[:, 1]))

    # Left: OR's line is the best a single line can do, and it still gets (1, 1) wrong.
    _shade(ax_line, OR)
    _draw_line(ax_line, OR, color="black", linewidth=2, label="OR's line")
    _draw_points(ax_line, xor_out)
    wrong = np.asarray(OR(pts[:, 0], pts[:, 1])) != xor_out
    ring = {"s": 500, "facecolor": "none", "edgecolor": "red", "linewidth": 2, "zorder": 4}
    ax_line.scatter(pts[wrong, 0], pts[wrong, 1], label="misclassified", **ring)
    _setup_gate_axes(ax_line, "One line (here OR's) always gets a point wrong")
    legend = ax_line.legend(loc="upper left", fontsize=9, framealpha=0.9)
    legend.legend_handles[-1].set_sizes([110])  # the ring's legend entry at marker size

    # Right: the two-layer XOR = AND(NAND, OR), evaluated on a grid.
    _shade(ax_two, XOR)
    _draw_line(ax_two, NAND, color="black", linewidth=1.5, linestyle="--", label="NAND's line")
    _draw_line(ax_two, OR, color="black", linewidth=1.5, linestyle=":", label="OR's line")
    _draw_points(ax_two, xor_out)
    _setup_gate_axes(ax_two, "Two layers: XOR = AND(NAND, OR)")
    ax_two.legend(loc="upper left", fontsize=9, framealpha=0.9)
    fig.suptitle("XOR is not linearly separable (blue: output 1)")
    return fig


# -- chapter 4: numerical differentiation and gradients ------------------------------------------


def _function_1(x: Any) -> Any:
    return 0.01 * x**2 + 0.1 * x


def _function_2(x: NDArray) -> float:
    return float(np.sum(x**2))


@styled
def plot_numerical_diff(points: Sequence[float] = (5.0, 10.0)) -> Figure:
    """f(x) = 0.01x² + 0.1x on [0, 20] with tangents whose slopes come from numerical_diff."""
    x = np.linspace(0.0, 20.0, 400)
    fig = new_figure(7.5, 5)
    ax = fig.add_subplot()
    ax.plot(x, _function_1(x), color="#1f5fa8", linewidth=2.2, label="f(x) = 0.01x² + 0.1x")
    styles = ("-", "--", ":", "-.")
    for i, x0 in enumerate(points):
        slope, y0 = numerical_diff(_function_1, x0), _function_1(x0)
        label = f"tangent at x = {x0:g}: slope {slope:.4f}"
        tangent = slope * (x - x0) + y0
        ax.plot(x, tangent, styles[i % len(styles)], color="#d95f02", linewidth=1.6, label=label)
        ax.plot([x0], [y0], "o", color="#d95f02", markersize=7)
    ax.set(
        title="Numerical differentiation: tangent slope by central difference",
        xlabel="x",
        ylabel="f(x)",
        xlim=(0, 20),
        ylim=(-0.5, 6.5),
    )
    ax.legend(loc="upper left")
    return fig


@styled
def plot_surface() -> Figure:
    """The 3-D surface of f(x0, x1) = x0² + x1² (figure 4-8)."""
    g = np.linspace(-3.0, 3.0, 61)
    x0, x1 = np.meshgrid(g, g)
    fig = new_figure(7.5, 6)
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(x0, x1, x0**2 + x1**2, cmap="viridis", edgecolor="none", alpha=0.95)
    ax.set(title="f(x0, x1) = x0² + x1²", xlabel="x0", ylabel="x1", zlabel="f(x0, x1)")
    ax.view_init(elev=28, azim=-60)
    return fig


@styled
def plot_gradient_field() -> Figure:
    """Negative gradients of x0² + x1² from numerical_gradient on a grid (figure 4-9)."""
    g = np.arange(-2.0, 2.5, 0.25)
    x0, x1 = np.meshgrid(g, g)
    points = np.column_stack([x0.ravel(), x1.ravel()])
    grads = np.array([numerical_gradient(_function_2, p.copy()) for p in points])
    fig = new_figure(7, 6.5)
    ax = fig.add_subplot()
    ax.quiver(*points.T, *-grads.T, angles="xy", color="#444444", width=0.004)
    ax.plot([0], [0], "*", color="#d95f02", markersize=14, label="minimum (0, 0)")
    ax.set(
        title="Negative gradient of f(x0, x1) = x0² + x1²\n(arrows point downhill)",
        xlabel="x0",
        ylabel="x1",
        xlim=(-2.5, 2.5),
        ylim=(-2.5, 2.5),
    )
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    return fig


@styled
def plot_gradient_descent(init: Sequence[float] = (-3.0, 4.0), step_num: int = 100) -> Figure:
    """Gradient-descent paths from ``init`` for lr 0.1 (good), 10 (too big) and 1e-10 (too small).

    lr = 10 multiplies x by -19 each step until the finite difference in numerical_gradient is
    lost to rounding (around |x| ~ 1e13) and the path freezes; it is shown on a log scale.
    """
    start = np.asarray(init, dtype=np.float64)
    start_txt = "(" + ", ".join(f"{v:g}" for v in start) + ")"
    runs = {
        lr: gradient_descent(_function_2, start, lr=lr, step_num=step_num, history=True)
        for lr in (0.1, 10.0, 1e-10)
    }
    fig = new_figure(15, 5.2)
    ax_good, ax_big, ax_small = fig.subplots(1, 3)

    g = np.linspace(-5, 5, 201)
    c0, c1 = np.meshgrid(g, g)
    for ax, lr in ((ax_good, 0.1), (ax_small, 1e-10)):
        ax.contour(c0, c1, c0**2 + c1**2, levels=[1, 4, 9, 16, 25], colors="0.7", linewidths=1)
        ax.set(xlabel="x0", ylabel="x1", xlim=(-4.5, 4.5), ylim=(-4.5, 4.5))
        ax.set_aspect("equal")
        path = runs[lr][1]
        ax.plot(path[:, 0], path[:, 1], "o-", color="#1f5fa8", markersize=4, label="path")
        ax.plot(*start, "s", color="#d95f02", markersize=9, label=f"start {start_txt}")
        ax.legend(loc="lower right")

    arrow = {"arrowprops": {"arrowstyle": "->", "color": "0.3"}, "fontsize": 10}
    final = runs[0.1][0]
    ax_good.set_title(f"lr = 0.1: converges to ({final[0]:.1e}, {final[1]:.1e})")

    final, path = runs[10.0]
    dist = np.linalg.norm(np.vstack([path, final]), axis=1)
    steps = np.arange(dist.size)
    ax_big.semilogy(steps, dist, "o-", color="#c0392b", markersize=3)
    ax_big.set(
        title="lr = 10: diverges, x ← -19·x each step",
        xlabel="step",
        ylabel="distance from the minimum ||x|| (log scale)",
    )
    ax_big.annotate(
        f"ends at ({final[0]:.2e}, {final[1]:.2e}):\nthe numerical gradient is lost to\n"
        "rounding at this size, so x freezes",
        xy=(steps[-1], dist[-1]),
        xytext=(0.3, 0.45),
        textcoords="axes fraction",
        **arrow,
    )

    final = runs[1e-10][0]
    moved = float(np.linalg.norm(final - start))
    ax_small.set_title(f"lr = 1e-10: barely moves ({moved:.1e} in {step_num} steps)")
    ax_small.annotate(
        f"ends at ({final[0]:.8f}, {final[1]:.8f})",
        xy=tuple(final),
        xytext=(-2.5, 1.8),
        **arrow,
        backgroundcolor="white",
    )

    fig.suptitle(f"Gradient descent on x0² + x1² from {start_txt}, {step_num} steps")
    return fig


MATH_FIGURES: tuple[tuple[str, Callable[[], Figure]], ...] = (
    ("activations", plot_activations),
    ("softmax", plot_softmax),
    ("logic_gates", plot_logic_gates),
    ("xor", plot_xor),
    ("numerical_diff", plot_numerical_diff),
    ("surface", plot_surface),
    ("gradient_field", plot_gradient_field),
    ("gradient_descent", plot_gradient_descent),
    ("optimizer_paths", plot_optimizer_paths),
    ("weight_init_histograms", plot_weight_init_histograms),
)
"""Figures that need no data: ``(file stem, builder)`` in the book's order."""

#: Figures that need MNIST (or, for the weights, a ``--model``), in the order they are drawn.
MNIST_FIGURES = ("mnist_samples", "first_layer_weights", "misclassified", "learning_curves")

#: Chapter 7 figures: a digit through a few filters (needs MNIST) and SimpleConvNet's first
#: layer before and after training (needs the book's ``params.pkl`` or MNIST for a short run).
CONV_FIGURES = ("conv_digit", "conv_filters")


# -- MNIST figures ---------------------------------------------------------------------------------


def _as_images(x: NDArray) -> NDArray:
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        return x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if x.ndim == 4 and x.shape[1:] == (1, IMAGE_SIDE, IMAGE_SIDE):
        return x[:, 0]
    if x.ndim == 3 and x.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return x
    raise ScratchdlError(
        f"expected MNIST images of 784 pixels each, got an array of shape {x.shape}"
    )


def _labels(t: NDArray) -> NDArray:
    t = np.asarray(t)
    return np.argmax(t, axis=1) if t.ndim == 2 else t


def _image_grid(
    images: NDArray,
    titles: Sequence[str],
    cols: int,
    suptitle: str,
    *,
    cmap: str = "gray_r",
    symmetric: bool = False,
) -> Figure:
    rows = max(1, -(-len(images) // cols))
    height = 1.65 * rows + 0.6
    # Fixed margins instead of constrained layout: solving it for 50 axes takes seconds.
    fig = new_figure(1.45 * cols, height, layout=None)
    fig.subplots_adjust(
        left=0.01, right=0.99, bottom=0.01, top=1 - 0.55 / height, wspace=0.08, hspace=0.3
    )
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(images):
            continue
        img = images[i]
        if symmetric:  # weights: white is 0, so sign is visible per image
            m = float(np.max(np.abs(img))) or 1.0
            ax.imshow(img, cmap=cmap, vmin=-m, vmax=m)
        else:
            ax.imshow(img, cmap=cmap)
        ax.set_title(titles[i], fontsize=10, color="black")
    fig.suptitle(suptitle, y=1 - 0.12 / height, va="top")
    return fig


@styled
def plot_mnist_samples(
    x: NDArray, t: NDArray, count: int = 32, rng: np.random.Generator | int | None = 0
) -> Figure:
    """A random sample of ``count`` digits with their labels."""
    images, labels = _as_images(x), _labels(t)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    idx = np.sort(gen.choice(len(images), size=min(count, len(images)), replace=False))
    return _image_grid(
        images[idx],
        [f"label {labels[i]}" for i in idx],
        cols=8,
        suptitle=f"MNIST: {len(idx)} random digits with their labels",
    )


def _check_first_layer(net: Net) -> NDArray:
    """``W1`` of an MNIST network, or :class:`ModelFileError` saying why it cannot be shown."""
    if "W1" not in net.params:
        raise ModelFileError(
            f"a {type(net).__name__} has no first-layer weights W1 to show: give a model of a "
            "TwoLayerNet or MultiLayerNet trained on MNIST"
        )
    W1 = np.asarray(net.params["W1"])
    if W1.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ModelFileError(
            f"first-layer weights have shape {W1.shape}; showing them as 28 x 28 images needs "
            "784 inputs (an MNIST network)"
        )
    return W1


@styled
def plot_first_layer_weights(net: Net, count: int = 50) -> Figure:
    """The first ``count`` columns of ``W1`` shown as 28 × 28 images (red +, blue -)."""
    W1 = _check_first_layer(net)
    n = min(count, W1.shape[1])
    images = W1[:, :n].T.reshape(n, IMAGE_SIDE, IMAGE_SIDE)
    return _image_grid(
        images,
        [f"unit {i + 1}" for i in range(n)],
        cols=10,
        cmap="RdBu_r",
        symmetric=True,
        suptitle=f"First-layer weights W1: {n} of {W1.shape[1]} hidden units "
        "(red positive, blue negative)",
    )


@styled
def plot_misclassified(
    net: Net | None, x: NDArray, t: NDArray, count: int = 24, *, pred: NDArray | None = None
) -> Figure:
    """The first ``count`` test digits the network gets wrong, with true and predicted labels.

    ``pred``: the network's predicted labels (N,) when already computed (a deep network takes
    seconds per pass over the test set); ``net`` is then not run and may be None.
    """
    images, labels = _as_images(x), _labels(t)
    if pred is None:
        if net is None:
            raise ScratchdlError("plot_misclassified needs a network or its predictions (pred=)")
        flat = np.asarray(x).reshape(len(images), -1)
        pred = np.concatenate(
            [np.argmax(net.predict(flat[i : i + 2000]), axis=1) for i in range(0, len(flat), 2000)]
        )
    pred = np.asarray(pred)
    if pred.shape != labels.shape:
        raise ShapeError(
            f"pred has shape {pred.shape}, the labels {labels.shape}: give one per image"
        )
    wrong = np.flatnonzero(pred != labels)
    shown = wrong[:count]
    title = (
        f"Misclassified test digits: {len(wrong)} of {len(labels)} wrong "
        f"({len(wrong) / len(labels):.1%}), first {len(shown)} shown"
    )
    if len(shown) == 0:
        fig = new_figure(6, 2)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no test digit is misclassified", ha="center", va="center")
        fig.suptitle(title)
        return fig
    return _image_grid(
        images[shown], [f"true {labels[i]}, pred {pred[i]}" for i in shown], cols=8, suptitle=title
    )


# -- everything -----------------------------------------------------------------------------------


@dataclass
class FiguresResult:
    """Outcome of :func:`write_figures`: files written and figures skipped with the reason."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def write_figures(
    out_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    epochs: int = 3,
    download: bool = True,
    only: Collection[str] | None = None,
    mnist: tuple[tuple[NDArray, NDArray], tuple[NDArray, NDArray]] | None = None,
    progress: Callable[[str], None] | None = None,
    convnet_params: str | os.PathLike[str] | None = None,
) -> FiguresResult:
    """Draw every figure of ch. 2-5 into ``out_dir`` as PNGs.

    Parameters
    ----------
    out_dir : path-like
        Destination folder, created if needed.
    data_dir : path-like, optional
        Where MNIST lives (passed to :func:`scratchdl.data.load_mnist`).
    model_path : path-like, optional
        A trained model (``.npz``) for the weights and misclassified figures; without it a
        TwoLayerNet is trained with :func:`scratchdl.train.train` for ``epochs`` epochs with
        ``seed``.
    seed : int
        Seed of the digit sample and of the quick training.
    epochs : int
        Epochs of that training.
    download : bool
        Let :func:`scratchdl.data.load_mnist` download missing files.
    only : collection of str, optional
        Draw only these figures (file stems, such as ``"softmax"``); default all.
    mnist : ((x_train, t_train), (x_test, t_test)), optional
        Data to use instead of loading MNIST (for tests and notebooks).
    progress : callable, optional
        Called with a line of text as each figure is written or skipped.
    convnet_params : path-like, optional
        The book's trained SimpleConvNet weights (``params.pkl``, ch. 7), read safely, for the
        "after training" half of ``conv_filters``. Without it a SimpleConvNet is trained
        briefly on MNIST (or the figure is skipped when MNIST is not available).

    Returns
    -------
    FiguresResult
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ScratchdlError(f"--out {out} exists and is not a folder: choose a folder path")
    wanted = _select(only)
    result = FiguresResult()
    say = progress or (lambda _msg: None)

    def emit(name: str, build: Callable[[], Figure]) -> None:
        if name in wanted:
            path = save_figure(build(), out / f"{name}.png")
            result.written.append(path)
            say(f"wrote {path}")

    def skip(name: str, reason: str, announce: bool = True) -> None:
        if name in wanted:
            result.skipped.append((name, reason))
            if announce:
                say(f"skipped {name}.png: {reason}")

    net: Net | None = None
    if model_path is not None:
        from scratchdl.io import load_model

        # Before any drawing, so a bad --model stops the command at once with one message.
        net = load_model(model_path)
        _check_first_layer(net)

    for name, build in MATH_FIGURES:
        emit(name, build)

    trained_filters = None
    if convnet_params is not None and "conv_filters" in wanted:
        from scratchdl.io import read_book_pickle

        trained_filters = read_book_pickle(convnet_params).get("W1")
        if trained_filters is None or trained_filters.ndim != 4:
            raise ModelFileError(
                f"{convnet_params} has no convolution filters W1 (FN, C, FH, FW): give the "
                "book's SimpleConvNet params.pkl"
            )
        emit(
            "conv_filters", lambda: _conv_filters(trained_filters, seed, " (the book's params.pkl)")
        )

    needs_data = wanted & {"mnist_samples", "misclassified", "learning_curves", "conv_digit"}
    if trained_filters is None and "conv_filters" in wanted:
        needs_data.add("conv_filters")
    if net is None and "first_layer_weights" in wanted:
        needs_data.add("first_layer_weights")  # its network has to be trained first
    if needs_data and mnist is None:
        try:
            from scratchdl.data import load_mnist

            mnist = load_mnist(data_dir=data_dir, download=download)
        except ScratchdlError as exc:
            # One note with the loader's full message; each skipped file then gets a short one.
            say(f"MNIST is not available, so the figures that need it are skipped: {exc}")
            for name in MNIST_FIGURES + CONV_FIGURES:
                if name in needs_data:
                    skip(name, "MNIST is not available", announce=False)
    if not needs_data or mnist is None:
        if net is not None:
            emit("first_layer_weights", lambda: plot_first_layer_weights(net))
        return result

    (x_train, t_train), (x_test, t_test) = mnist
    emit("mnist_samples", lambda: plot_mnist_samples(x_test, t_test, rng=seed))
    emit("conv_digit", lambda: _conv_digit(x_test, t_test, seed))
    if "conv_filters" in needs_data:
        emit("conv_filters", lambda: _conv_filters_trained(x_train, t_train, seed, say))
    if net is None and not wanted & {"first_layer_weights", "misclassified", "learning_curves"}:
        return result  # nothing below is wanted: do not train the MLP
    history: History | None = None
    if net is None:
        from scratchdl.train import TrainConfig, train

        # The book's ch. 5.7.4 TwoLayerNet (784-50-10, SGD lr 0.1), short and seeded.
        config = TrainConfig(epochs=epochs, seed=seed)
        say(f"training {config.describe()} ...")
        net, history = train(config, data=((x_train, t_train), (x_test, t_test)))
        say(f"trained: {history.summary()}")
    emit("first_layer_weights", lambda: plot_first_layer_weights(net))
    emit("misclassified", lambda: plot_misclassified(net, x_test, t_test))
    if history is not None:
        from scratchdl.plots.curves import plot_training_curves

        # The very figure 'scratchdl train' writes as curves.png, for this quick run.
        emit("learning_curves", lambda: plot_training_curves(history, title=config.describe()))
    else:
        skip(
            "learning_curves",
            "the --model file holds no training history; its run folder's curves.png shows them",
        )
    return result


def _conv_digit(x: NDArray, t: NDArray, seed: int) -> Figure:
    from scratchdl.plots.chapters67 import plot_convolved_digit, simple_filters

    images, labels = _as_images(x), _labels(t)
    i = int(np.random.default_rng(seed).integers(len(images)))
    filters, names = simple_filters()
    return plot_convolved_digit(images[i], filters, label=int(labels[i]), titles=names)


def _conv_filters(trained: NDArray, seed: int, note: str) -> Figure:
    from scratchdl.nets import SimpleConvNet
    from scratchdl.plots.chapters67 import plot_conv_filters

    # The book's initial filters: std 0.01 Gaussian noise, the same shape as the trained ones.
    FN, C, FH, _ = trained.shape
    conv = {"filter_num": FN, "filter_size": FH, "pad": 0, "stride": 1}
    before = SimpleConvNet((C, 28, 28), conv, rng=seed).params["W1"]
    return plot_conv_filters(before, trained, note)


#: The short SimpleConvNet run behind ``conv_filters`` when no trained weights are given:
#: Adam (lr 0.001, the book's train_convnet.py), batches of 100, this many steps.
CONV_QUICK_ITERS = 300


def _conv_filters_trained(x: NDArray, t: NDArray, seed: int, say: Callable[[str], None]) -> Figure:
    from scratchdl.nets import SimpleConvNet
    from scratchdl.optimizers import Adam
    from scratchdl.plots.chapters67 import plot_conv_filters
    from scratchdl.train import Trainer

    net = SimpleConvNet(rng=seed)
    before = net.params["W1"].copy()
    say(f"training SimpleConvNet for {CONV_QUICK_ITERS} steps (Adam, batch 100) ...")
    history = Trainer(
        net,
        _as_images(x)[:, np.newaxis],
        _labels(t),
        optimizer=Adam(lr=0.001),
        iters=CONV_QUICK_ITERS,
        eval_samples=1000,
        rng=seed,
    ).fit()
    acc = history.last.train_acc
    note = f" ({CONV_QUICK_ITERS} steps of 100, train accuracy {acc:.3f} on 1000 samples)"
    return plot_conv_filters(before, net.params["W1"], note)


def _select(only: Collection[str] | None) -> set[str]:
    everything = [name for name, _ in MATH_FIGURES] + list(MNIST_FIGURES) + list(CONV_FIGURES)
    if not only:
        return set(everything)
    unknown = sorted(set(only) - set(everything))
    if unknown:
        raise ConfigError(
            f"unknown figure name(s) {', '.join(unknown)}: choose from {', '.join(everything)}"
        )
    return set(only)
