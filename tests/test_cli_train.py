"""The train / evaluate / predict / gradcheck / gates commands, end to end.

The dataset loader is replaced by synthetic 28x28 data (see ``fake_mnist``), so the commands run
offline in about a second; one test uses real MNIST when ``SCRATCHDL_DATA_DIR`` is set.
"""

import json
import os
import re
import signal

import numpy as np
import pytest
from PIL import Image

import scratchdl.data
from _fault_helpers import synthetic
from scratchdl.cli import main
from scratchdl.cli.evaluate import confusion_matrix
from scratchdl.errors import ConfigError
from scratchdl.train import History, Trainer
from scratchdl.train.history import EpochRecord

SMALL = ["--iters", "120", "--batch-size", "20", "--hidden", "16", "--init", "he", "--quiet"]


_synthetic = synthetic  # the fault tests' ten-patch digits


@pytest.fixture
def fake_mnist(monkeypatch):
    """Replace the MNIST loader by synthetic data; records the calls it gets."""
    calls = []
    data = _synthetic()

    def load_mnist(
        normalize=True,
        flatten=True,
        one_hot_label=False,
        *,
        data_dir=None,
        download=True,
        dataset="mnist",
    ):
        calls.append({"data_dir": data_dir, "dataset": dataset})
        return data

    monkeypatch.setattr(scratchdl.data, "load_mnist", load_mnist)
    return calls


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_model_history_and_curves(tmp_path, capsys, fake_mnist):
    out_dir = tmp_path / "run1"
    code, out, err = run(capsys, "train", "--out", str(out_dir), "--data-dir", "somewhere", *SMALL)
    assert code == 0, err
    assert fake_mnist == [{"data_dir": "somewhere", "dataset": "mnist"}]
    h = History.load(out_dir / "history.json")
    assert h.stop_reason == "completed" and h.iterations == 120
    assert [r.iteration for r in h.records] == [20 * k for k in range(1, 7)]
    assert h.last.test_acc > 0.9
    assert f"test accuracy {h.last.test_acc:.4f}" in out and str(out_dir / "model.npz") in out
    png = out_dir / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        assert im.size[0] > 600 and im.size[1] > 300
    assert not (out_dir / "checkpoint.npz").exists()

    # evaluate reports exactly the history's last test accuracy
    code, out, err = run(capsys, "evaluate", str(out_dir / "model.npz"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["accuracy"] == h.last.test_acc
    assert report["n"] == 100 and len(report["per_class_accuracy"]) == 10
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 100
    assert np.trace(cm) == round(report["accuracy"] * 100)

    code, out, _ = run(capsys, "evaluate", str(out_dir / "model.npz"))
    assert code == 0 and "per-class accuracy" in out and "confusion matrix" in out


def test_table_printed_unless_quiet(tmp_path, capsys, fake_mnist):
    argv = [a for a in SMALL if a != "--quiet"]
    code, out, _ = run(capsys, "train", "--out", str(tmp_path / "r"), *argv)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("training mnist, hidden 16 relu")
    assert lines[1].split()[:4] == ["epoch", "iter", "train", "acc"]
    assert sum(1 for line in lines if line.split() and line.split()[0].isdigit()) == 6


def test_same_seed_same_history(tmp_path, capsys, fake_mnist):
    for name in ("a", "b"):
        assert run(capsys, "train", "--out", str(tmp_path / name), "--seed", "5", *SMALL)[0] == 0
    a = History.load(tmp_path / "a" / "history.json").to_dict(times=False)
    b = History.load(tmp_path / "b" / "history.json").to_dict(times=False)
    assert a == b


def test_interrupt_then_resume_matches_an_uninterrupted_run(
    tmp_path, capsys, fake_mnist, monkeypatch
):
    assert run(capsys, "train", "--out", str(tmp_path / "full"), *SMALL)[0] == 0

    original = Trainer.add_record
    fired = []

    def record_then_ctrl_c(self, *args):
        result = original(self, *args)
        if not fired:  # Ctrl-C right after the first evaluation
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "add_record", record_then_ctrl_c)
    out_dir = tmp_path / "cut"
    code, out, err = run(capsys, "train", "--out", str(out_dir), *SMALL)
    assert code == 130
    # the record is collected from the background evaluation a few steps after iteration 20
    done = int(re.search(r"interrupted after (\d+) of 120 iterations", err).group(1))
    assert 20 <= done < 120 and "--resume" in err
    assert (out_dir / "checkpoint.npz").is_file()
    assert History.load(out_dir / "history.json").stop_reason == "interrupted"

    # a new run in the same folder must not silently discard the checkpoint
    code, _, err = run(capsys, "train", "--out", str(out_dir), *SMALL)
    assert code == 2 and "--resume" in err
    code, _, err = run(capsys, "train", "--out", str(out_dir), "--resume", "--lr", "0.5")
    assert code == 2 and "drop --lr" in err

    code, out, err = run(capsys, "train", "--out", str(out_dir), "--resume", "--quiet")
    assert code == 0, err
    resumed = History.load(out_dir / "history.json").to_dict(times=False)
    full = History.load(tmp_path / "full" / "history.json").to_dict(times=False)
    assert resumed == full
    assert not (out_dir / "checkpoint.npz").exists()


def test_divergence_is_one_line_error_and_keeps_files(tmp_path, capsys, fake_mnist):
    out_dir = tmp_path / "boom"
    code, out, err = run(
        capsys, "train", "--out", str(out_dir), "--lr", "1e30", "--init", "1", *SMALL
    )
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("scratchdl train: error: training diverged")
    assert "smaller learning rate" in err and "iteration" in err
    assert (out_dir / "model.npz").is_file() and (out_dir / "history.json").is_file()
    assert History.load(out_dir / "history.json").stop_reason == "diverged"


def test_too_much_weight_decay_is_named_as_the_cause(tmp_path, capsys, fake_mnist):
    code, _, err = run(
        capsys, "train", "--out", str(tmp_path / "wd"), "--weight-decay", "1e9", *SMALL
    )
    assert code == 2 and err.count("\n") == 1
    assert "try a smaller weight decay (now 1e+09): lr x weight decay is 1e+08" in err
    assert "smaller learning rate" not in err


def test_a_run_that_learns_nothing_is_flagged(tmp_path, capsys, fake_mnist):
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "big"), "--lr", "1e6", *SMALL)
    h = History.load(tmp_path / "big" / "history.json")
    # Finite all the way (saturated units), so not caught as divergence.
    assert h.stop_reason == "completed" and code == 0 and h.last.train_acc <= 0.15
    assert "warning: the network did not train in " in err and "learning rate (1e+06)" in err
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "ok"), *SMALL)
    assert code == 0 and "warning" not in err


def _history(loss: list[float], train_acc: float) -> History:
    h = History(loss=loss, iter_per_epoch=len(loss), iterations=len(loss))
    h.records.append(EpochRecord(1, len(loss), train_acc, loss[-1], None, None, 1.0, 1.0))
    return h


@pytest.mark.parametrize(
    "loss, expected, blames_settings",
    [
        # Still falling (a plateau being left, as deep sigmoid nets do): not yet, not failed.
        (
            list(np.linspace(2.30, 2.20, 600)),
            "had not learned yet in 1 epoch, loss still falling: try more epochs (--epochs)",
            False,
        ),
        # Flat at ln(10) with mini-batch noise: stopped.
        (
            list(2.30 + 0.05 * np.random.default_rng(0).standard_normal(600)),
            "did not train in 1 epoch: its loss stopped falling",
            True,
        ),
        # Rising.
        (list(np.linspace(2.30, 9.0, 600)), "did not train in 1 epoch: its loss went up", True),
    ],
)
def test_the_warning_says_what_the_loss_did(loss, expected, blames_settings, capsys):
    from scratchdl.cli.train import _warn_if_not_learned
    from scratchdl.train import TrainConfig

    _warn_if_not_learned(_history(loss, 0.11), TrainConfig(epochs=1), 10)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"the network {expected} (train accuracy 0.110" in err
    assert ("learning rate (0.1) may be" in err) == blames_settings
    # It learned (accuracy well above chance, loss down by a third): nothing to say.
    _warn_if_not_learned(
        _history(list(np.linspace(2.30, 1.5, 600)), 0.5), TrainConfig(epochs=1), 10
    )
    assert capsys.readouterr().err == ""
    # Above chance with this loss is not "learned": the warning never contradicts the loss.
    _warn_if_not_learned(_history(loss, 0.5), TrainConfig(epochs=1), 10)
    assert "learned in" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch-size", "0"], "batch size must be a positive integer, got 0"),
        (["--lr", "-1"], "learning rate must be a positive number, got -1.0"),
        (["--hidden", "0"], "--hidden values must be >= 1, got 0"),
        (["--hidden", "50,x"], "--hidden: 'x' is not valid"),
        (["--hidden", "50", "--hidden", "-3"], "--hidden values must be >= 1, got -3"),
        (["--init", "big"], "init must be 'he', 'xavier' or a positive std"),
        (["--optimizer", "lbfgs"], "--optimizer must be one of sgd, momentum"),
        (["--epochs", "0"], "epochs must be a positive integer"),
        (["--resume"], "no checkpoint at"),
        (
            ["--max-seconds", "inf"],
            "time budget (--max-seconds) must be a positive finite number of seconds, got inf",
        ),
        (
            ["--max-seconds", "nan"],
            "time budget (--max-seconds) must be a positive finite number of seconds, got nan",
        ),
        (
            ["--max-seconds", "0"],
            "time budget (--max-seconds) must be a positive finite number of seconds, got 0.0",
        ),
    ],
)
def test_impossible_settings_are_one_line_errors(tmp_path, capsys, fake_mnist, argv, message):
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "x"), *argv)
    assert code == 2
    assert err.startswith("scratchdl train: error: ") and message in err
    assert err.count("\n") == 1
    assert fake_mnist == []  # refused before loading any data


class _ClosedPipe:
    """A stdout whose reader has gone away, as in ``scratchdl train | head -1``."""

    def __init__(self):
        self.lines = 0

    def write(self, text):
        self.lines += 1
        if self.lines > 1:
            raise BrokenPipeError(32, "Broken pipe")
        return len(text)

    def flush(self):
        pass


def test_a_closed_pipe_does_not_lose_the_run(tmp_path, monkeypatch, fake_mnist):
    pipe = _ClosedPipe()
    monkeypatch.setattr("sys.stdout", pipe)
    argv = [a for a in SMALL if a != "--quiet"]  # the per-epoch table prints all along
    assert main(["train", "--out", str(tmp_path / "piped"), *argv]) == 0
    assert pipe.lines == 2  # the first line went out, the second broke the pipe, then silence
    h = History.load(tmp_path / "piped" / "history.json")
    assert h.stop_reason == "completed" and h.iterations == 120
    assert (tmp_path / "piped" / "model.npz").is_file()


def test_out_that_cannot_be_a_folder_fails_before_training(tmp_path, capsys, fake_mnist):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "run"):
        code, _, err = run(capsys, "train", "--out", str(out), *SMALL)
        assert code == 2 and err.count("\n") == 1
        assert f"{blocker} is a file, not a folder; choose another --out" in err
    assert fake_mnist == []  # nothing was loaded, let alone trained


def test_time_limit_keeps_a_checkpoint_to_resume(tmp_path, capsys, fake_mnist):
    out_dir = tmp_path / "budget"
    code, out, err = run(capsys, "train", "--out", str(out_dir), "--max-seconds", "1e-9", *SMALL)
    assert code == 0, err
    h = History.load(out_dir / "history.json")
    assert h.stop_reason == "time_limit" and h.iterations == 1
    assert [r.iteration for r in h.records] == [1]  # a final record of the weights it stopped at
    assert (out_dir / "model.npz").is_file() and (out_dir / "checkpoint.npz").is_file()
    assert f"scratchdl train --out {out_dir} --resume" in out
    # A new run must not overwrite it; --resume continues it to the end.
    assert run(capsys, "train", "--out", str(out_dir), *SMALL)[0] == 2
    code, _, err = run(capsys, "train", "--out", str(out_dir), "--resume", "--quiet")
    assert code == 0, err
    h = History.load(out_dir / "history.json")
    assert h.stop_reason == "completed" and h.iterations == 120
    assert [r.iteration for r in h.records] == [1, 20, 40, 60, 80, 100, 120]
    assert [r.epoch for r in h.records] == [1, 1, 2, 3, 4, 5, 6]  # as in an unbroken run
    assert not (out_dir / "checkpoint.npz").exists()


def test_eval_samples_still_reports_the_full_test_set(tmp_path, capsys, fake_mnist):
    out_dir = tmp_path / "sampled"
    code, out, err = run(capsys, "train", "--out", str(out_dir), "--eval-samples", "30", *SMALL)
    assert code == 0, err
    h = History.load(out_dir / "history.json")
    final = h.info["final"]
    # The full test set; the train accuracy stays the sampled record's (--eval-samples).
    assert final["n_test"] == final["of_test"] == 100 and final["n_train_sample"] == 30
    assert final["train_acc"] == h.last.train_acc
    code, ev, _ = run(capsys, "evaluate", str(out_dir / "model.npz"), "--json")
    full = json.loads(ev)["accuracy"]
    assert final["test_acc"] == full
    assert f"test accuracy {full:.4f}" in out
    assert "test: the full test set of 100 images; train: 30 sampled" in out
    # The per-epoch records were made on 30 samples: accuracies in steps of 1/30.
    assert all(round(r.test_acc * 30, 6).is_integer() for r in h.records)
    from scratchdl.io import load_model

    assert load_model(out_dir / "model.npz").metadata["test_acc"] == full


def test_evaluate_and_predict_refuse_models_of_other_shapes(tmp_path, capsys, fake_mnist):
    from scratchdl.io import save_model
    from scratchdl.nets import SimpleNet, TwoLayerNet

    five = save_model(TwoLayerNet(784, 8, 5, rng=0), tmp_path / "five.npz")
    code, _, err = run(capsys, "evaluate", str(five))
    assert code == 2 and err.count("\n") == 1
    assert "maps 784 inputs to 5 classes but mnist has 784 pixels per image and 10 classes" in err
    simple = save_model(SimpleNet(rng=0), tmp_path / "simple.npz")
    code, _, err = run(capsys, "evaluate", str(simple))
    assert code == 2 and "maps 2 inputs to 3 classes" in err
    png = tmp_path / "d.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    code, _, err = run(capsys, "predict", str(simple), str(png))
    assert code == 2 and "maps 2 inputs to 3 classes, not 28x28 images to 10 digits" in err
    code, _, err = run(capsys, "predict", str(five), str(png))
    assert code == 2 and "maps 784 inputs to 5 classes" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--bogus"],
        ["train", "--init", "big"],
        ["train", "--optimizer", "lbfgs"],
        ["train", "--epochs", "2", "--iters", "5"],
    ],
)
def test_bad_options_exit_2(capsys, argv):
    try:  # argparse's own errors exit; a bad value is the command's one-line error
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_missing_files_are_one_line_errors(tmp_path, capsys, fake_mnist):
    code, _, err = run(capsys, "evaluate", str(tmp_path / "none.npz"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert run(capsys, "train", "--out", str(tmp_path / "m"), *SMALL)[0] == 0
    code, _, err = run(
        capsys, "predict", str(tmp_path / "m" / "model.npz"), str(tmp_path / "nope.png")
    )
    assert code == 2 and "nope.png does not exist" in err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code, _, err = run(capsys, "predict", str(tmp_path / "m" / "model.npz"), str(bad))
    assert code == 2 and "not an image" in err


def test_predict_reads_grayscale_and_inverted_rgb(tmp_path, capsys, fake_mnist):
    assert run(capsys, "train", "--out", str(tmp_path / "m"), *SMALL)[0] == 0
    _, (x_test, t_test) = _synthetic()
    sample = (x_test[0].reshape(28, 28) * 255).round().astype(np.uint8)
    gray = tmp_path / "gray.png"
    Image.fromarray(sample, mode="L").save(gray)
    dark_on_light = np.stack([255 - sample] * 3, axis=-1)
    rgb = tmp_path / "rgb.png"
    Image.fromarray(dark_on_light, mode="RGB").save(rgb)
    code, out, err = run(
        capsys, "predict", str(tmp_path / "m" / "model.npz"), str(gray), str(rgb), "--json"
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["prediction"] for r in rows] == [int(t_test[0])] * 2
    assert rows[0]["probabilities"] == rows[1]["probabilities"]
    assert sum(rows[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    code, out, _ = run(capsys, "predict", str(tmp_path / "m" / "model.npz"), str(gray))
    assert out.startswith(f"{gray}: {int(t_test[0])} (")


def test_predict_answers_the_good_images_and_flags_bad_and_blank_ones(tmp_path, capsys, fake_mnist):
    assert run(capsys, "train", "--out", str(tmp_path / "m"), *SMALL)[0] == 0
    _, (x_test, t_test) = _synthetic()
    good = tmp_path / "good.png"
    Image.fromarray((x_test[0].reshape(28, 28) * 255).round().astype(np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(blank)
    code, out, err = run(
        capsys,
        "predict",
        str(tmp_path / "m" / "model.npz"),
        str(good),
        str(bad),
        str(blank),
        str(good),
        "--json",
    )
    assert code == 2
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in rows] == [str(good), str(good)]
    assert rows[0]["prediction"] == int(t_test[0]) and rows[0] == rows[1]
    assert err.count("\n") == 2
    assert "bad.png is not an image" in err and f"{blank}: no digit found" in err


def test_confusion_matrix_counts():
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_gates_prints_truth_tables_and_xor_failure(capsys):
    code, out, _ = run(capsys, "gates")
    assert code == 0
    blocks = {b.splitlines()[0]: b.splitlines()[2:] for b in out.split("\n\n") if "|" in b}
    assert [line.split()[-1] for line in blocks["AND"]] == ["0", "0", "0", "1"]
    assert [line.split()[-1] for line in blocks["NAND"]] == ["1", "1", "1", "0"]
    assert [line.split()[-1] for line in blocks["OR"]] == ["0", "1", "1", "1"]
    assert [line.split()[-1] for line in blocks["XOR"]] == ["0", "1", "1", "0"]
    assert "did not converge" in out and "XOR" in out


def test_gradcheck_passes_and_prints_differences(capsys):
    code, out, _ = run(
        capsys, "gradcheck", "--hidden", "6", "--hidden", "5", "--activation", "sigmoid"
    )
    assert code == 0
    diffs = {
        line.split(":")[0].strip(): float(line.split(":")[1])
        for line in out.splitlines()
        if line.strip()[:1] in "Wb" and ":" in line
    }
    assert set(diffs) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert max(diffs.values()) < 1e-7
    assert "OK" in out
    code, _, err = run(capsys, "gradcheck", "--samples", "0")
    assert code == 2 and "--samples must be an integer of at least 1, got 0" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "--seed must be an integer of at least 0, got -1"),
        (["--classes", "1"], "--classes must be an integer of at least 2, got 1"),
        (["--hidden", "0"], "--hidden must be an integer of at least 1, got 0"),
    ],
)
def test_gradcheck_bad_options_are_one_line_errors(capsys, argv, message):
    code, out, err = run(capsys, "gradcheck", *argv)
    assert code == 2 and out == ""
    assert err == f"scratchdl gradcheck: error: {message}\n"


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="set SCRATCHDL_DATA_DIR")
def test_short_real_mnist_run(tmp_path, capsys):
    out_dir = tmp_path / "mnist"
    code, out, err = run(
        capsys,
        "train",
        "--out",
        str(out_dir),
        "--iters",
        "600",
        "--eval-samples",
        "2000",
        "--quiet",
    )
    assert code == 0, err
    h = History.load(out_dir / "history.json")
    assert len(h.records) == 1 and h.last.test_acc > 0.85


def test_library_errors_name_parameters_and_the_cli_says_flags(capsys, tmp_path):
    from scratchdl.cli import as_flags
    from scratchdl.train import TrainConfig

    with pytest.raises(ConfigError, match=r"time budget \(max_seconds\)") as info:
        TrainConfig(max_seconds=0).validate()
    assert "--" not in str(info.value)
    code, _, err = run(capsys, "train", "--out", str(tmp_path), "--max-seconds", "0")
    assert code == 2 and "time budget (--max-seconds) must be" in err
    assert (
        as_flags("pass a writable folder as data_dir.") == "pass a writable folder as --data-dir."
    )
    assert as_flags("in /tmp/data_dir/x") == "in /tmp/data_dir/x"  # paths stay as they are
