"""``scratchdl train --model cnn|deep-cnn``, evaluate, predict, resume, import-weights, and the
book's CNN weights through the command line (synthetic 28x28 data unless MNIST is set)."""

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.io import load_model
from scratchdl.nets import DeepConvNet, SimpleConvNet
from scratchdl.train import History, Trainer
from test_cli_train import _synthetic, fake_mnist, run  # noqa: F401 - fake_mnist is a fixture

BOOK_WEIGHTS = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")
SHORT = ["--iters", "40", "--batch-size", "20", "--quiet"]
# DeepConvNet costs several seconds even on synthetic data: its runs are slow tests.
KINDS = [("cnn", SimpleConvNet), pytest.param("deep-cnn", DeepConvNet, marks=pytest.mark.slow)]
EXTEND = ["--hidden", "16", "--batchnorm", "--dropout", "0.2"]


@pytest.mark.parametrize(("model", "cls"), KINDS)
def test_train_evaluate_predict_a_cnn(tmp_path, capsys, fake_mnist, model, cls):  # noqa: F811
    out_dir = tmp_path / model
    code, out, err = run(capsys, "train", "--model", model, "--out", str(out_dir), *SHORT)
    assert code == 0, err
    net = load_model(out_dir / "model.npz")
    assert type(net) is cls and net.input_dim == (1, 28, 28)
    history = History.load(out_dir / "history.json")
    assert history.config["model"] == model and history.config["optimizer"] == "adam"
    if model == "cnn":
        assert net.params["W2"].shape == (4320, 100)  # the book's hidden size by default
        assert history.last.test_acc > 0.5  # the synthetic classes are easy
    code, out, err = run(capsys, "evaluate", str(out_dir / "model.npz"), "--json")
    assert code == 0, err
    assert 0 <= json.loads(out)["accuracy"] <= 1
    (x_test, _), _ = _synthetic()
    png = tmp_path / "digit.png"
    Image.fromarray((x_test[0].reshape(28, 28) * 255).astype(np.uint8)).save(png)
    code, out, err = run(capsys, "predict", str(out_dir / "model.npz"), str(png))
    assert code == 0, err
    assert re.search(r"digit\.png: \d \(\d+\.\d%\)", out)


@pytest.mark.parametrize(
    "extra",
    [
        ["--model", "cnn"],
        ["--model", "mlp", "--augment", "all", "--lr-decay", "cosine"],
        pytest.param(["--model", "deep-cnn"], marks=pytest.mark.slow),
        ["--model", "mlp", *EXTEND],
    ],
)
def test_interrupt_then_resume_matches_an_uninterrupted_run(
    tmp_path,
    capsys,
    fake_mnist,  # noqa: F811
    monkeypatch,
    extra,
):
    argv = [*extra, "--iters", "40", "--batch-size", "20", "--quiet"]
    assert run(capsys, "train", "--out", str(tmp_path / "full"), *argv)[0] == 0
    original = Trainer.add_record
    fired = []

    def record_then_ctrl_c(self, *args):
        result = original(self, *args)
        if not fired:
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "add_record", record_then_ctrl_c)
    cut = tmp_path / "cut"
    code, _, err = run(capsys, "train", "--out", str(cut), *argv)
    assert code == 130 and (cut / "checkpoint.npz").is_file(), err
    code, _, err = run(capsys, "train", "--out", str(cut), "--resume", "--quiet")
    assert code == 0, err
    resumed = History.load(cut / "history.json").to_dict(times=False)
    full = History.load(tmp_path / "full" / "history.json").to_dict(times=False)
    # Dropout masks and BatchNorm statistics included: the checkpoint holds them.
    assert resumed == full
    a, b = load_model(cut / "model.npz"), load_model(tmp_path / "full" / "model.npz")
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])


def test_mlp_with_batchnorm_and_dropout(tmp_path, capsys, fake_mnist):  # noqa: F811
    from scratchdl.nets import MultiLayerNetExtend

    out_dir = tmp_path / "extend"
    code, out, err = run(capsys, "train", "--out", str(out_dir), *EXTEND, *SHORT)
    assert code == 0, err
    net = load_model(out_dir / "model.npz")
    assert isinstance(net, MultiLayerNetExtend) and net.use_batchnorm
    assert net.use_dropout and net.dropout_ration == 0.2
    assert "BatchNorm1" in net.layers and "Dropout1" in net.layers
    # The running statistics were learned and saved (they start at 0 and 0).
    assert np.any(net.layers["BatchNorm1"].running_var > 0)
    code, out, err = run(capsys, "evaluate", str(out_dir / "model.npz"), "--json")
    assert code == 0 and json.loads(out)["accuracy"] > 0.5, err


def test_cnn_settings_that_do_not_apply_are_one_line_errors(tmp_path, capsys, fake_mnist):  # noqa: F811
    code, _, err = run(capsys, "train", "--model", "cnn", "--activation", "sigmoid", *SHORT)
    assert code == 2 and "uses ReLU" in err and err.count("\n") == 1
    code, _, err = run(
        capsys, "train", "--model", "cnn", "--hidden", "10", "--hidden", "10", *SHORT
    )
    assert code == 2 and "one hidden affine layer" in err
    code, _, err = run(capsys, "train", "--model", "cnn", "--batchnorm", *SHORT)
    assert code == 2 and "apply to the MLP" in err and err.count("\n") == 1
    code, _, err = run(capsys, "train", "--dropout", "1.5", *SHORT)
    assert code == 2 and "dropout" in err and err.count("\n") == 1


@pytest.mark.parametrize("model", ["cnn", "deep-cnn"])
def test_gradcheck_of_the_cnns(capsys, model):
    code, out, _ = run(capsys, "gradcheck", "--model", model)
    assert code == 0 and "OK: largest difference" in out
    assert ("W8" in out) == (model == "deep-cnn")


def reference(name):
    path = Path(BOOK_WEIGHTS).parent / name if BOOK_WEIGHTS else None
    if path is None or not path.is_file() or not DATA_DIR:
        pytest.skip(f"set SCRATCHDL_BOOK_WEIGHTS (with {name} beside it) and SCRATCHDL_DATA_DIR")
    return path


@pytest.mark.parametrize(
    ("name", "accuracy"),
    [
        # The API tests in test_convnets.py check params.pkl in the fast suite.
        pytest.param("params.pkl", 0.9890, marks=pytest.mark.slow),
        pytest.param("deep_convnet_params.pkl", 0.9935, marks=pytest.mark.slow),
    ],
)
def test_import_weights_then_evaluate_gives_the_books_accuracy(tmp_path, capsys, name, accuracy):
    pkl = reference(name)
    model = tmp_path / "book.npz"
    code, out, err = run(capsys, "import-weights", str(pkl), str(model))
    assert code == 0, err
    code, out, err = run(capsys, "evaluate", str(model), "--json", "--data-dir", DATA_DIR)
    assert code == 0, err
    assert json.loads(out)["accuracy"] == accuracy


@pytest.mark.slow
def test_one_epoch_of_the_cnn_reaches_0_97(tmp_path, capsys):
    if not DATA_DIR:
        pytest.skip("set SCRATCHDL_DATA_DIR")
    out_dir = tmp_path / "cnn1"
    argv = ["--model", "cnn", "--epochs", "1", "--eval-samples", "1000", "--quiet"]
    code, out, err = run(capsys, "train", "--data-dir", DATA_DIR, "--out", str(out_dir), *argv)
    assert code == 0, err
    final = History.load(out_dir / "history.json").info["final"]
    assert final["test_acc"] >= 0.97
