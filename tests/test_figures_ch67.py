"""Chapter 6 and 7 figures: the numbers behind them and axes that fit the data."""

from __future__ import annotations

import numpy as np
import pytest

from scratchdl.plots import chapters67 as ch67
from scratchdl.plots import save_figure


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
