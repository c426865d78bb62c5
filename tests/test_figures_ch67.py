"""Chapter 6 and 7 figures: the numbers behind them and axes that fit the data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from scratchdl.errors import ModelFileError, ShapeError
from scratchdl.plots import chapters67 as ch67
from scratchdl.plots import notes, save_figure


def test_optimizer_paths_are_the_books_settings_on_the_bowl():
    paths = ch67.optimizer_paths()
    assert list(paths) == ["SGD", "Momentum", "AdaGrad", "Adam"]
    for path in paths.values():
        assert path.shape == (31, 2)
        np.testing.assert_array_equal(path[0], [-7.0, 2.0])
    # 30 steps of each; the same numbers test_optimizers.py derives from the book's formulas
    np.testing.assert_allclose(paths["SGD"][-1], [-0.3503929957523197, 0.0847823165504322])
    np.testing.assert_allclose(paths["Adam"][-1], [0.13600685239498186, 0.31824537553721943])
    # SGD zig-zags along the steep y axis: the sign of y flips at every step
    assert np.all(np.sign(paths["SGD"][1:6, 1]) == [-1, 1, -1, 1, -1])


def test_optimizer_figure_frames_the_paths_tightly(tmp_path):
    fig = ch67.plot_optimizer_paths()
    axes = fig.axes
    assert len(axes) == 4
    every = np.vstack(list(ch67.optimizer_paths().values()))
    for ax, name in zip(axes, ["SGD", "Momentum", "AdaGrad", "Adam"], strict=True):
        assert ax.get_title().startswith(name)
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        # every point visible ...
        assert x0 < every[:, 0].min() and x1 > every[:, 0].max()
        assert y0 < every[:, 1].min() and y1 > every[:, 1].max()
        # ... and the frame no wider than the data plus a small margin
        assert x1 - x0 < np.ptp(every[:, 0]) + 1.5
        assert y1 - y0 < max(np.ptp(every[:, 1]), 5.0) + 1.5
    path = save_figure(fig, tmp_path / "optimizer_paths.png")
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("activation", "std", "check"),
    [
        # std 1: sigmoid saturates, most outputs sit near 0 or 1 (vanishing gradients)
        ("sigmoid", 1.0, lambda a: np.mean((a < 0.1) | (a > 0.9)) > 0.5),
        # std 0.01: every unit says about 0.5, the layers lose their expressive power
        ("sigmoid", 0.01, lambda a: a.std() < 0.03 and abs(a.mean() - 0.5) < 0.01),
        # Xavier: a spread in between
        ("sigmoid", "xavier", lambda a: 0.05 < a.std() < 0.3),
    ],
)
def test_weight_init_activations_show_the_books_three_cases(activation, std, check):
    outs = ch67.weight_init_activations(activation, std, rng=0)
    assert len(outs) == 5 and all(a.shape == (1000, 100) for a in outs)
    assert check(outs[-1])


def test_he_init_keeps_relu_activations_from_shrinking():
    he = ch67.weight_init_activations("relu", "he", rng=0)
    small = ch67.weight_init_activations("relu", 0.01, rng=0)
    assert 0.5 < he[-1].std() / he[0].std() < 2
    assert small[-1].std() < 1e-4 * small[0].std()  # std 0.01 fades layer by layer


def test_weight_init_figure_has_one_row_per_setting_and_honest_ranges():
    fig = ch67.plot_weight_init_histograms()
    axes = np.array(fig.axes).reshape(4, 5)
    for ax in axes[:3].ravel():
        assert ax.get_xlim() == (0.0, 1.0)  # sigmoid outputs live in (0, 1)
    he = ch67.weight_init_activations("relu", "he", rng=0)
    hi = axes[3, 0].get_xlim()[1]
    assert max(np.percentile(a, 99.5) for a in he) <= hi < max(a.max() for a in he) + 1
    texts = [t.get_text() for t in axes[3, 0].texts]
    assert any("exactly 0" in t for t in texts)  # the left-out bar is said out loud
    for r, (label, _, _) in enumerate(ch67.WEIGHT_INIT_SETTINGS):
        assert axes[r, 0].get_ylabel() == label


# -- chapter 7 ------------------------------------------------------------------------------

REFERENCE = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
PARAMS_PKL = Path(REFERENCE).parent / "params.pkl" if REFERENCE else None


def _correlate(image, kernel):
    """Plain sliding-window cross-correlation, the definition of ch. 7.2.2 (no im2col)."""
    fh, fw = kernel.shape
    out = np.empty((image.shape[0] - fh + 1, image.shape[1] - fw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + fh, j : j + fw] * kernel)
    return out


def test_convolved_digit_shows_the_layers_feature_maps():
    rng = np.random.default_rng(0)
    image = rng.random((28, 28)).astype(np.float32)
    filters, names = ch67.simple_filters()
    assert filters.shape == (4, 1, 5, 5) and len(names) == 4
    fig = ch67.plot_convolved_digit(image, filters, label=7, titles=names)
    axes = np.array(fig.axes).reshape(2, 5)
    assert axes[0, 0].get_title() == "input (label 7)"
    for i in range(4):
        assert axes[0, i + 1].get_title() == names[i]
        shown = np.asarray(axes[1, i + 1].images[0].get_array())
        assert shown.shape == (24, 24)  # 28 - 5 + 1
        np.testing.assert_allclose(shown, _correlate(image, filters[i, 0]), rtol=1e-4, atol=1e-4)
        lo, hi = axes[1, i + 1].images[0].get_clim()
        assert lo == -hi  # gray means 0 in every map


def test_edge_filters_answer_to_edges():
    filters, _ = ch67.simple_filters()
    image = np.zeros((28, 28), np.float32)
    image[:, 14:] = 1.0  # a vertical edge
    vertical = _correlate(image, filters[0, 0])
    horizontal = _correlate(image, filters[1, 0])
    assert np.abs(vertical).max() > 1 and np.abs(horizontal).max() < 1e-6


def test_conv_filters_figure_has_every_filter_twice():
    rng = np.random.default_rng(1)
    before = rng.standard_normal((30, 1, 5, 5))
    after = rng.standard_normal((30, 1, 5, 5))
    fig = ch67.plot_conv_filters(before, after, " (test)")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 60
    np.testing.assert_array_equal(images[0].images[0].get_array(), before[0, 0])
    np.testing.assert_array_equal(images[30].images[0].get_array(), after[0, 0])
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "after training (test)" in texts
    with pytest.raises(ShapeError, match="FN, C, FH, FW"):
        ch67.plot_conv_filters(before[0], after)


def test_conv_digit_is_written_with_injected_data(tmp_path):
    from test_figures import assert_png, fake_mnist

    result = notes.write_figures(tmp_path, mnist=fake_mnist(), only=["conv_digit"])
    assert [p.stem for p in result.written] == ["conv_digit"]
    assert_png(tmp_path / "conv_digit.png")


def test_conv_figures_are_skipped_with_a_reason_without_mnist(tmp_path):
    result = notes.write_figures(
        tmp_path, only=list(notes.CONV_FIGURES), data_dir=tmp_path / "none", download=False
    )
    assert result.written == []
    assert dict(result.skipped) == {
        "conv_digit": "MNIST is not available",
        "conv_filters": "MNIST is not available",
    }


@pytest.mark.skipif(not PARAMS_PKL or not PARAMS_PKL.exists(), reason="needs the book's params.pkl")
def test_conv_filters_from_the_books_params_without_mnist(tmp_path):
    from scratchdl.io import read_book_pickle

    lines = []
    result = notes.write_figures(
        tmp_path,
        only=["conv_filters"],
        convnet_params=PARAMS_PKL,
        data_dir=tmp_path / "none",
        download=False,
        progress=lines.append,
    )
    assert [p.stem for p in result.written] == ["conv_filters"] and result.skipped == []
    W1 = read_book_pickle(PARAMS_PKL)["W1"]
    fig = notes._conv_filters(W1, 0, "")
    after = [ax.images[0].get_array() for ax in fig.axes if ax.images][30:]
    np.testing.assert_array_equal(after[29], W1[29, 0])


def test_convnet_params_without_filters_is_refused(tmp_path):
    import pickle

    bad = tmp_path / "mlp.pkl"
    bad.write_bytes(pickle.dumps({"W1": np.zeros((4, 3)), "b1": np.zeros(3)}))
    with pytest.raises(ModelFileError, match="no convolution filters W1"):
        notes.write_figures(tmp_path / "o", only=["conv_filters"], convnet_params=bad)


def test_conv_filters_after_a_short_run_without_the_books_params(tmp_path, monkeypatch):
    from test_figures import fake_mnist

    monkeypatch.setattr(notes, "CONV_QUICK_ITERS", 8)
    (x_train, t_train), test = fake_mnist(n_train=200)
    lines = []
    result = notes.write_figures(
        tmp_path, mnist=((x_train, t_train), test), only=["conv_filters"], progress=lines.append
    )
    assert [p.stem for p in result.written] == ["conv_filters"]
    assert any("training SimpleConvNet for 8 steps" in line for line in lines)
