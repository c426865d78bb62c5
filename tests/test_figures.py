"""``scratchdl figures`` and :mod:`scratchdl.plots.notes`: real PNGs drawn from the library."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.cli import main
from scratchdl.errors import ModelFileError, ScratchdlError, ShapeError
from scratchdl.io import save_model
from scratchdl.nets import MultiLayerNet, SimpleNet, TwoLayerNet
from scratchdl.plots import notes

MATH_NAMES = [name for name, _ in notes.MATH_FIGURES]
MNIST_NAMES = list(notes.MNIST_FIGURES)


def assert_png(path: Path) -> tuple[int, int]:
    assert path.is_file(), path
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.load()  # decodes every pixel: a truncated file fails here
        width, height = img.size
    assert width > 0 and height > 0
    return width, height


def fake_mnist(seed: int = 0, n_train: int = 400, n_test: int = 120):
    """Learnable stand-in for MNIST: each class lights its own block of pixels, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        t = rng.integers(0, 10, n)
        x = rng.random((n, 784), dtype=np.float32) * 0.3
        for k in range(10):
            x[t == k, k * 70 : k * 70 + 70] += 0.7
        return x, t

    return make(n_train), make(n_test)


@pytest.fixture(scope="module")
def no_data_run(tmp_path_factory):
    """One ``scratchdl figures`` run with no MNIST anywhere (shared: drawing takes seconds)."""
    root = tmp_path_factory.mktemp("figures")
    out = root / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(
            ["figures", "--out", str(out), "--data-dir", str(root / "empty"), "--no-download"]
        )
    return status, out, stdout.getvalue()


@pytest.mark.slow  # shares a 3.5 s drawing of every figure; CI runs it
def test_math_figures_are_written_without_mnist(no_data_run):
    status, out, _ = no_data_run
    assert status == 0
    for name in MATH_NAMES:
        assert_png(out / f"{name}.png")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in MATH_NAMES)


@pytest.mark.slow  # shares a 3.5 s drawing of every figure; CI runs it
def test_figures_prints_files_and_a_clear_skip_note(no_data_run):
    _, out, text = no_data_run
    for name in MATH_NAMES:
        assert f"wrote {out / name}.png" in text
    assert "MNIST is not available" in text
    assert "scratchdl data fetch mnist" in text  # the loader's fix hint reaches the user
    assert f"{len(MATH_NAMES)} figure(s) written" in text
    for name in MNIST_NAMES:
        assert f"{name}.png" in text.splitlines()[-1]


@pytest.mark.slow  # shares a 3.5 s drawing of every figure; CI runs it
def test_no_temporary_files_are_left(no_data_run):
    _, out, _ = no_data_run
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
@pytest.mark.slow
def test_mnist_figures_with_injected_data(tmp_path):
    lines: list[str] = []
    result = notes.write_figures(
        tmp_path, mnist=fake_mnist(), epochs=2, seed=3, only=MNIST_NAMES, progress=lines.append
    )
    assert [p.stem for p in result.written] == MNIST_NAMES
    assert any("2 epochs, seed 3" in line for line in lines)  # the quick training's settings
    assert result.skipped == []
    for name in MNIST_NAMES:
        assert_png(tmp_path / f"{name}.png")


def test_model_without_data_still_draws_its_weights(tmp_path):
    model = save_model(TwoLayerNet(784, 12, 10, rng=1), tmp_path / "m.npz")
    result = notes.write_figures(
        tmp_path / "out",
        model_path=model,
        only=MNIST_NAMES,
        data_dir=tmp_path / "empty",
        download=False,
    )
    assert_png(tmp_path / "out" / "first_layer_weights.png")
    assert {name for name, _ in result.skipped} == {
        "mnist_samples",
        "misclassified",
        "learning_curves",
    }


def test_model_with_data_skips_curves_it_cannot_know(tmp_path):
    model = save_model(TwoLayerNet(784, 12, 10, rng=1), tmp_path / "m.npz")
    result = notes.write_figures(
        tmp_path / "out", model_path=model, mnist=fake_mnist(), only=MNIST_NAMES
    )
    assert [name for name, _ in result.skipped] == ["learning_curves"]
    assert_png(tmp_path / "out" / "misclassified.png")


def test_bad_model_fails_before_drawing(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    out = tmp_path / "out"
    assert main(["figures", "--out", str(out), "--model", str(bad), "--no-download"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scratchdl figures: error:")
    assert not out.exists()


def test_model_that_is_not_an_mnist_net_is_refused(tmp_path, capsys):
    model = save_model(MultiLayerNet(20, [5], 3, rng=0), tmp_path / "small.npz")
    assert main(["figures", "--out", str(tmp_path / "o"), "--model", str(model)]) == 2
    assert "784 inputs" in capsys.readouterr().err
    simple = save_model(SimpleNet(rng=0), tmp_path / "simple.npz")
    assert main(["figures", "--out", str(tmp_path / "o"), "--model", str(simple)]) == 2
    err = capsys.readouterr().err
    assert "a SimpleNet has no first-layer weights W1 to show" in err and " at 0x" not in err


def test_only_draws_the_named_figures(tmp_path, capsys):
    out = tmp_path / "o"
    assert (
        main(
            [
                "figures",
                "--out",
                str(out),
                "--only",
                "softmax",
                "mnist_samples",
                "--data-dir",
                str(tmp_path / "empty"),
                "--no-download",
            ]
        )
        == 0
    )
    assert [p.name for p in out.iterdir()] == ["softmax.png"]
    assert "1 skipped: mnist_samples.png" in capsys.readouterr().out


def test_only_with_an_unknown_name_lists_the_choices(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "sigmiod"]) == 2
    err = capsys.readouterr().err
    assert "unknown figure name(s) sigmiod" in err and "activations" in err


def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file.png"
    target.write_bytes(b"x")
    with pytest.raises(ScratchdlError, match="not a folder"):
        notes.write_figures(target, mnist=fake_mnist())


def test_epochs_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["figures", "--out", str(tmp_path), "--epochs", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


# -- the figures show the library's numbers -----------------------------------------------------


def test_tangent_slopes_come_from_numerical_diff():
    fig = notes.plot_numerical_diff()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "tangent at x = 5: slope 0.2000" in labels
    assert "tangent at x = 10: slope 0.3000" in labels


def test_gradient_field_arrows_are_negative_gradients():
    fig = notes.plot_gradient_field()
    quiver = next(c for c in fig.axes[0].collections if hasattr(c, "U"))
    xy = quiver.XY
    # grad of x0² + x1² is 2x, so the drawn arrows are -2x.
    np.testing.assert_allclose(quiver.U, -2 * xy[:, 0], atol=1e-6)
    np.testing.assert_allclose(quiver.V, -2 * xy[:, 1], atol=1e-6)


def test_gradient_descent_reports_where_each_run_ended():
    fig = notes.plot_gradient_descent()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("lr = 0.1: converges")
    assert "diverges" in titles[1] and fig.axes[1].get_yscale() == "log"
    assert "barely moves" in titles[2]
    texts = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert "e+13" in texts  # the honest end point of lr = 10, not a clipped value


def test_xor_marks_the_point_a_single_line_gets_wrong():
    fig = notes.plot_xor()
    ring = fig.axes[0].collections[-1]
    np.testing.assert_array_equal(ring.get_offsets(), [[1, 1]])


def test_misclassified_counts_errors():
    (xtr, ttr), (xte, tte) = fake_mnist()
    net = TwoLayerNet(784, 8, 10, rng=0)  # untrained: most digits are wrong
    wrong = int(np.sum(np.argmax(net.predict(xte), axis=1) != tte))
    fig = notes.plot_misclassified(net, xte, tte, count=6)
    assert f"{wrong} of {len(tte)} wrong" in fig.get_suptitle()
    assert sum(len(ax.images) > 0 for ax in fig.axes) == 6
    # Predictions computed once elsewhere (a deep net's pass takes seconds): the same figure.
    pred = np.argmax(net.predict(xte), axis=1)
    again = notes.plot_misclassified(None, xte, tte, count=6, pred=pred)
    assert again.get_suptitle() == fig.get_suptitle()
    with pytest.raises(ShapeError, match="one per image"):
        notes.plot_misclassified(None, xte, tte, pred=pred[:-1])


def test_chapter8_figures():
    from scratchdl.plots import chapter8

    (xtr, _), _ = fake_mnist()
    digits = xtr[:3].reshape(3, 1, 28, 28)
    fig = chapter8.plot_augmented_digits(digits, rng=0)
    # original, shift, rotate, scale, elastic, all at once: six rows of three digits
    assert len(fig.axes) == 18 and fig.axes[0].get_ylabel() == "original"
    shown = [ax.images[0].get_array() for ax in fig.axes]
    np.testing.assert_array_equal(shown[0], digits[0, 0])
    assert not np.array_equal(shown[15], digits[0, 0])  # 'all at once' moved the digit
    with pytest.raises(ShapeError, match="N, 1, H, W"):
        chapter8.plot_augmented_digits(xtr[:3])
    fig = chapter8.plot_ilsvrc_winners()
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [e for _, _, e in chapter8.ILSVRC_WINNERS]
    assert heights == sorted(heights, reverse=True)  # each winner beat the year before


def test_weights_of_a_non_mnist_net_are_refused():
    with pytest.raises(ModelFileError, match="784 inputs"):
        notes.plot_first_layer_weights(TwoLayerNet(10, 4, 2, rng=0))


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SCRATCHDL_DATA_DIR"), reason="needs MNIST: set SCRATCHDL_DATA_DIR"
)
def test_real_mnist_figures(tmp_path):
    result = notes.write_figures(tmp_path, epochs=1, seed=0, download=False)
    assert result.skipped == []
    for name in MNIST_NAMES:
        assert_png(tmp_path / f"{name}.png")
