"""Every command that takes a model takes the same things: a model file, a run folder, or the
book's pickled weights; a forgotten argument gets a message that names it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from _digit_images import clean
from scratchdl.cli import main
from scratchdl.io import save_model
from scratchdl.nets import TwoLayerNet

REFERENCE = Path(os.environ.get("SCRATCHDL_BOOK_WEIGHTS", "/nonexistent")).parent


@pytest.fixture
def digit(tmp_path):
    path = tmp_path / "seven.png"
    path.write_bytes(clean(np.eye(28)[::-1] > 0, np.random.default_rng(0)))
    return path


def _book_style_pickle(path: Path) -> Path:
    """A dict of float32 arrays shaped like the book's sample_weight.pkl (random values)."""
    rng = np.random.default_rng(0)
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,)}
    shapes |= {"W3": (100, 10), "b3": (10,)}
    weights = {k: rng.normal(0, 0.1, s).astype(np.float32) for k, s in shapes.items()}
    path.write_bytes(pickle.dumps(weights))
    return path


def _out(capsys) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_predict_takes_the_books_pickle(tmp_path, digit, capsys):
    pkl = _book_style_pickle(tmp_path / "sample_weight.pkl")
    assert main(["predict", str(pkl), str(digit)]) == 0
    out, err = _out(capsys)
    assert out.startswith(f"{digit}: ") and err == ""


def test_predict_takes_a_run_folder(tmp_path, digit, capsys):
    run = tmp_path / "runs" / "first"
    save_model(TwoLayerNet(784, 20, 10, rng=0), run / "model.npz")
    assert main(["predict", str(run), str(digit)]) == 0
    assert _out(capsys)[0].startswith(f"{digit}: ")


def test_predict_with_the_model_forgotten_says_so(digit, capsys):
    assert main(["predict", str(digit)]) == 2
    _, err = _out(capsys)
    assert err.count("\n") == 1 and "looks like an image, and predict needs the model first" in err
    assert "the following arguments are required" not in err
    assert main(["predict", "model.npz"]) == 2
    assert "no image given: scratchdl predict model.npz IMAGE" in _out(capsys)[1]


def test_a_run_folder_without_a_model_is_one_line(tmp_path, digit, capsys):
    assert main(["predict", str(tmp_path / "empty"), str(digit)]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), str(digit)]) == 2
    _, err = _out(capsys)
    assert "no model found" in err and "Traceback" not in err


def test_figures_help_names_the_chapters_it_draws(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "figures of ch. 2-7" in _out(capsys)[0]


@pytest.mark.skipif(
    not (REFERENCE / "params.pkl").exists() or not os.environ.get("SCRATCHDL_DATA_DIR"),
    reason="needs the book's params.pkl beside SCRATCHDL_BOOK_WEIGHTS and SCRATCHDL_DATA_DIR",
)
@pytest.mark.slow  # seconds of the quick check; CI runs it
def test_evaluate_takes_the_books_cnn_pickle(capsys):
    assert main(["evaluate", str(REFERENCE / "params.pkl"), "--json"]) == 0
    import json

    assert json.loads(_out(capsys)[0])["accuracy"] == pytest.approx(0.9890, abs=5e-5)
