"""Options that do nothing are refused or honoured; raw errors become one line; a sweep never
mixes into another sweep's folder.

``--init`` for DeepConvNet, BatchNorm's smallest batch, the final evaluation under
``--eval-samples`` and ``--max-seconds``, the curves' title of a stopped run, zero filters and
empty batches, trial files with text where numbers belong, and sweep folders.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from _fault_helpers import SMALL, synthetic
from _sweep_helpers import blobs, info
from scratchdl.choices import build_model
from scratchdl.cli import main
from scratchdl.errors import ConfigError, ShapeError
from scratchdl.layers import BatchNormalization, Convolution
from scratchdl.nets import DeepConvNet, SimpleConvNet
from scratchdl.train import History, TrainConfig


@pytest.fixture
def fake_data(monkeypatch):
    """Synthetic data, and curves.png written without drawing; the titles drawn are kept."""
    import scratchdl.data
    import scratchdl.plots.curves
    from scratchdl._fs import atomic_path

    data = synthetic()
    monkeypatch.setattr(scratchdl.data, "load_mnist", lambda *a, **k: data)
    titles: list[str] = []

    def save_training_curves(history, path, title=None):
        titles.append(title)
        with atomic_path(path, suffix=".png") as tmp:
            tmp.write_bytes(b"\x89PNG\r\n\x1a\n")
        return Path(path)

    monkeypatch.setattr(scratchdl.plots.curves, "save_training_curves", save_training_curves)
    return titles


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, code: int, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# == --init for DeepConvNet ========================================================================


def test_deep_cnn_honours_init():
    def first_std(init):
        config = TrainConfig(model="deep-cnn", init=init).validate()
        return float(build_model(config, 784, 10, 0).params["W1"].std())

    assert first_std(0.01) == pytest.approx(0.01, rel=0.2)
    assert first_std("he") == pytest.approx(np.sqrt(2 / 9), rel=0.2)  # the book's default
    assert first_std("xavier") == pytest.approx(np.sqrt(1 / 9), rel=0.2)
    # The book's He weights are unchanged by the new parameter: same seed, same draws.
    book = DeepConvNet(rng=5)
    assert np.array_equal(DeepConvNet(weight_init_std="he", rng=5).params["W3"], book.params["W3"])


def test_deep_cnn_init_is_recorded_in_the_model_and_survives_loading(tmp_path):
    from scratchdl.io import load_model, save_model

    net = DeepConvNet(weight_init_std=0.02, rng=0)
    back = load_model(save_model(net, tmp_path / "deep.npz"))
    assert back.config()["weight_init_std"] == 0.02 and back.config() == net.config()
    with pytest.raises(ConfigError, match="weight_init_std"):
        DeepConvNet(weight_init_std=-1.0)


# == BatchNormalization's smallest batch ===========================================================


def test_batchnorm_refuses_an_empty_batch_and_keeps_its_statistics():
    bn = BatchNormalization(np.ones(3, np.float32), np.zeros(3, np.float32))
    bn.forward(np.arange(6, dtype=np.float32).reshape(2, 3))
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    with pytest.raises(ShapeError, match="at least 1 value per feature"):
        bn.forward(np.empty((0, 3), np.float32))
    assert np.array_equal(bn.running_mean, mean) and np.array_equal(bn.running_var, var)
    # One sample (the book's ch06 gradient check uses one) normalises to beta; statistics stay
    # finite.
    y = bn.forward(np.array([[1.0, 2.0, 3.0]], np.float32))
    assert np.array_equal(y, np.zeros((1, 3), np.float32)) and np.isfinite(bn.running_var).all()
    # Test mode uses the running statistics: one sample (or none) is fine there.
    assert bn.forward(np.ones((1, 3), np.float32), train_flg=False).shape == (1, 3)
    assert bn.forward(np.empty((0, 3), np.float32), train_flg=False).shape == (0, 3)


def test_batchnorm_on_images_counts_values_per_channel():
    bn = BatchNormalization(np.ones(2), np.zeros(2))
    with pytest.raises(ShapeError, match=r"per channel \(N\*H\*W\)"):
        bn.forward(np.ones((0, 2, 1, 1)))
    y = bn.forward(np.array([[[[1.0], [3.0]], [[2.0], [6.0]]]]))  # N=1, H*W=2: fine
    assert np.allclose(y.mean(axis=(0, 2, 3)), 0) and np.isfinite(bn.running_mean).all()


def test_train_batchnorm_with_batches_of_one_is_refused_up_front(tmp_path, capsys, fake_data):
    out = tmp_path / "r"
    code, _, err = cli(capsys, "train", "--batchnorm", "--batch-size", "1", "--out", str(out))
    one_line_error(err, code, "batchnorm needs a batch size of at least 2, got 1")
    assert not out.exists() or not any(out.iterdir())


# == the final evaluation and --max-seconds ========================================================


def test_eval_samples_final_evaluation_measures_only_the_test_set(
    tmp_path, capsys, monkeypatch, fake_data
):
    import scratchdl.train.run as run

    sizes: list[int] = []
    real = run.evaluate

    def counting(net, x, t, *args):
        sizes.append(x.shape[0])
        return real(net, x, t, *args)

    monkeypatch.setattr(run, "evaluate", counting)
    out = tmp_path / "r"
    code, text, err = cli(capsys, "train", "--out", str(out), "--eval-samples", "30", *SMALL)
    assert code == 0, err
    assert sizes == [100]  # the 100 test images, not the 400 training images as well
    final = History.load(out / "history.json").info["final"]
    assert final["n_test"] == 100 and final["n_train_sample"] == 30
    assert "train: 30 sampled, --eval-samples" in text


def test_max_seconds_skips_the_final_evaluation_and_says_so(tmp_path, capsys, fake_data):
    out = tmp_path / "r"
    argv = ("--out", str(out), "--eval-samples", "30", "--max-seconds", "1e-9", *SMALL)
    code, text, err = cli(capsys, "train", *argv)
    assert code == 0, err
    assert "the final evaluation on the full test set was skipped: the --max-seconds" in text
    h = History.load(out / "history.json")
    assert h.stop_reason == "time_limit" and "final" not in h.info
    from scratchdl.io import load_model

    assert load_model(out / "model.npz").metadata["test_n"] == 30  # what test_acc stands on


def test_the_final_evaluation_stops_at_the_deadline():
    from scratchdl.train import Trainer
    from scratchdl.train.run import _final_evaluation

    (x, t), (xt, tt) = synthetic(n_train=200, n_test=100)
    net = build_model(TrainConfig(hidden=(8,)).validate(), 784, 10, 0)
    trainer = Trainer(net, x, t, xt, tt, iters=2, batch_size=20, eval_samples=10, rng=0)
    trainer.fit()
    assert _final_evaluation(net, trainer, deadline=0.0) is None  # no time left at all
    full = _final_evaluation(net, trainer)
    assert (full["n_test"], full["of_test"]) == (100, 100)
    assert full["test_acc"] == np.mean(net.predict(xt).argmax(axis=1) == tt)


def test_a_stop_record_can_be_cut_to_a_sample_and_the_run_keeps_its_sets(monkeypatch):
    import scratchdl.train.helpers as helpers
    from scratchdl.train import TimeBudget, Trainer

    (x, t), (xt, tt) = synthetic(n_train=200, n_test=100)
    net = build_model(TrainConfig(hidden=(8,)).validate(), 784, 10, 0)
    monkeypatch.setattr(helpers.TimeBudget, "_record_size", lambda self, tr, spent: 7)
    trainer = Trainer(
        net, x, t, xt, tt, iters=50, batch_size=20, rng=0, callbacks=[TimeBudget(1e-9)]
    )
    h = trainer.fit()
    assert h.stop_reason == "time_limit" and h.info["cut_record"]["samples"] == 7
    assert round(h.last.test_acc * 7, 6).is_integer()  # measured on 7 images
    assert trainer.eval_train_idx is None and trainer.eval_test_idx is None  # restored


def test_the_time_budget_cuts_the_record_only_when_the_full_one_would_take_long():
    budget = helpers_budget(10.0)

    def trainer(rows):
        return types.SimpleNamespace(
            record_rows=lambda: rows + rows // 6, iteration=10, batch_size=100
        )

    # 10 steps of 100 in 10 s: 70,000 images to evaluate take about 230 s: cut.
    assert budget._record_size(trainer(60000), 10.0) == 1000
    # 700 images: about 2 s, a fifth of the budget... still more than a tenth: cut.
    assert budget._record_size(trainer(600), 10.0) == 1000
    # 70 images: a quarter of a second: the full record.
    assert budget._record_size(trainer(60), 10.0) is True
    # A trainer without records (the second book's) costs nothing to stop.
    assert budget._record_size(types.SimpleNamespace(iteration=10), 10.0) is True


def test_a_record_costs_the_rows_of_its_evaluation_sets():
    from scratchdl.train import Trainer

    (x, t), (xt, tt) = synthetic(n_train=200, n_test=100)
    net = build_model(TrainConfig(hidden=(8,)).validate(), 784, 10, 0)
    assert Trainer(net, x, t, xt, tt, iters=1).record_rows() == 300
    assert Trainer(net, x, t, xt, tt, iters=1, eval_samples=50).record_rows() == 100
    assert Trainer(net, x, t, iters=1, eval_samples=500).record_rows() == 200


def helpers_budget(seconds: float):
    from scratchdl.train import TimeBudget

    budget = TimeBudget(seconds)
    budget._first_iteration = 0
    return budget


def test_curves_title_counts_the_epochs_actually_trained(tmp_path, capsys, fake_data):
    out = tmp_path / "r"
    code, _, err = cli(capsys, "train", "--out", str(out), "--max-seconds", "1e-9", *SMALL)
    assert code == 0, err
    h = History.load(out / "history.json")
    assert h.iterations < 20
    assert f"trained 0.05 epochs ({h.iterations} iters), stopped: time_limit" in fake_data[-1]
    code, _, err = cli(capsys, "train", "--out", str(tmp_path / "full"), *SMALL)
    assert code == 0 and "trained" not in fake_data[-1]


# == raw errors: zero filters, empty batches =======================================================


def test_zero_filters_are_refused_in_one_sentence():
    with pytest.raises(ShapeError, match="at least one filter"):
        Convolution(np.ones((0, 1, 3, 3)), np.zeros(0))
    with pytest.raises(ShapeError, match="at least one filter"):
        Convolution(np.ones((2, 1, 0, 3)), np.zeros(2))
    with pytest.raises(ConfigError, match="filter_num"):
        SimpleConvNet(conv_param={"filter_num": 0})


@pytest.mark.parametrize("net", [SimpleConvNet(rng=0), DeepConvNet(rng=0)], ids=repr)
def test_an_empty_batch_gives_no_scores_and_no_numpy_message(net):
    empty = np.empty((0, 784), np.float32)
    assert net.predict(empty).shape == (0, 10)
    assert net.predict(empty.reshape(0, 1, 28, 28)).shape == (0, 10)
    with pytest.raises(ShapeError, match="empty batch"):
        net.gradient(empty, np.empty(0, np.int64))


# == sweeps: text metrics in a trial file, another sweep's folder ==================================


def test_a_trial_file_with_text_metrics_is_rerun():
    from scratchdl.experiments import batch_size
    from scratchdl.experiments.engine import run_sweep

    src = blobs()
    opts = batch_size.Options(
        values=(50,), epochs=1, seeds=(0,), budget_seconds=1e-6, hidden=(16,), init="he"
    )
    sweep = batch_size.build(opts, info(src))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(sweep, tmp, source=src, jobs=0, figures=False)
        path = next((Path(tmp) / "trials").glob("*.json"))
        row = json.loads(path.read_text())
        row["final"]["test_acc"] = "0.97"
        path.write_text(json.dumps(row))
        seen: list[bool] = []
        results = run_sweep(
            sweep, tmp, source=src, jobs=0, figures=False, on_trial=lambda r, c: seen.append(c)
        )
        assert seen == [False]  # re-run, not a TypeError in the summary
        assert isinstance(results.trials[0]["final"]["test_acc"], float)


def _sweep_folder(path: Path, name: str) -> Path:
    (path / "trials").mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"sweep": name, "trials": []}))
    (path / "trials" / "abc.json").write_text(json.dumps({"sweep": name, "key": "abc"}))
    (path / "summary.md").write_text("# old\n")
    (path / "accuracy.png").write_bytes(b"\x89PNG")
    return path


@pytest.fixture
def no_run(monkeypatch):
    """The sweep's run replaced: these tests are about the folder, checked before any data."""
    import scratchdl.cli.sweep as sweep_cli

    calls: list[str] = []
    monkeypatch.setattr(sweep_cli, "_run_sweep", lambda args, *a: calls.append(args.out) or 0)
    return calls


def test_a_sweep_refuses_another_sweeps_folder(tmp_path, capsys, no_run):
    out = _sweep_folder(tmp_path / "s", "lr")
    code, _, err = cli(capsys, "sweep", "batch-size", "--out", str(out))
    one_line_error(err, code, "holds the results of another sweep (sweep lr)", "--force")
    assert no_run == [] and (out / "results.json").exists() and (out / "trials").is_dir()


def test_force_replaces_another_sweep_and_its_own_earlier_run_is_resumed(tmp_path, capsys, no_run):
    out = _sweep_folder(tmp_path / "s", "lr")
    code, _, err = cli(capsys, "sweep", "batch-size", "--out", str(out), "--force")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [] and no_run == [str(out)]
    own = _sweep_folder(tmp_path / "own", "batch-size")
    code, _, err = cli(capsys, "sweep", "batch-size", "--out", str(own))
    assert code == 0, err
    assert (own / "results.json").exists() and (own / "trials" / "abc.json").exists()


def test_a_sweep_refuses_foreign_files_even_with_force(tmp_path, capsys, no_run):
    out = tmp_path / "s"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    for extra in ((), ("--force",)):
        code, _, err = cli(capsys, "sweep", "batch-size", "--out", str(out), *extra)
        one_line_error(err, code, "not a scratchdl sweep (thesis.tex)", "choose a new or empty")
    assert (out / "thesis.tex").read_text() == "mine" and no_run == []


def test_a_damaged_sweep_folder_needs_force(tmp_path, capsys, no_run):
    out = tmp_path / "s"
    out.mkdir()
    (out / "results.json").write_text("{not json")
    code, _, err = cli(capsys, "sweep", "lr", "--out", str(out))
    one_line_error(err, code, "another sweep (a damaged sweep)", "--force")
