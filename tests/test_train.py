"""Training: config, schedule of records, determinism, divergence, interruption and resume.

Everything runs on small synthetic blobs (no MNIST), so it is fast and offline.
"""

import io
import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

import _fault_helpers as fh
from _fault_helpers import (
    RUN_FILES,
    SMALL,
    _forged_header,
    _members,
    _npy,
    _write_members,
    cli,
    one_line_error,
)
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.nets import MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from scratchdl.optimizers import SGD, Adam
from scratchdl.train import (
    BackgroundEvaluation,
    BlasThreads,
    Callback,
    History,
    StopOnCtrlC,
    TimeBudget,
    TrainConfig,
    Trainer,
    checkpoint_config,
    evaluate,
    make_optimizer,
    train,
)
from scratchdl.train._blas import blas_thread_count, blas_threads


def blobs(n_train=300, n_test=90, d=12, classes=3, seed=0):
    """Gaussian blobs, one per class: easy to separate, float32 inputs, int64 labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)) * 3

    def make(n):
        t = rng.integers(0, classes, size=n)
        x = centres[t] + rng.standard_normal((n, d))
        return x.astype(np.float32), t.astype(np.int64)

    return make(n_train), make(n_test)


DATA = blobs()


def small_config(**kw):
    base = {"hidden": (16,), "init": "he", "lr": 0.1, "batch_size": 20, "epochs": 4}
    base.update(kw)
    return TrainConfig(**base)


def make_trainer(iters=45, optimizer=None, seed=3, background=False, **kw):
    (x, t), (xt, tt) = DATA
    net = MultiLayerNet(x.shape[1], [16, 8], 3, weight_init_std="he", rng=1)
    return Trainer(
        net,
        x,
        t,
        xt,
        tt,
        optimizer=optimizer or Adam(lr=0.01),
        batch_size=20,
        iters=iters,
        rng=seed,
        evaluator=BackgroundEvaluation() if background else None,
        **kw,
    )


class StopAt(Callback):
    """Ask the trainer to stop once it has done ``k`` updates."""

    def __init__(self, k, use_signal=False):
        self.k = k
        self.use_signal = use_signal

    def on_iteration(self, trainer, loss):
        if trainer.iteration == self.k:
            if self.use_signal:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                trainer.request_stop()


# -- TrainConfig -------------------------------------------------------------------------------
def test_config_defaults_are_the_books_chapter_5_run():
    c = TrainConfig().validate()
    assert (c.dataset, c.hidden, c.activation, c.init) == ("mnist", (50,), "relu", 0.01)
    assert (c.optimizer, c.lr, c.batch_size, c.iters, c.epochs) == ("sgd", 0.1, 100, 10000, None)
    assert (c.sampling, c.dtype, c.seed) == ("shuffle", "float32", 0)


def test_config_lr_defaults_per_optimizer_and_epochs_replace_default_iters():
    assert TrainConfig(optimizer="adam").lr == 0.001
    assert TrainConfig(optimizer="momentum").lr == 0.01
    c = TrainConfig(epochs=3).validate()
    assert (c.epochs, c.iters) == (3, None)


def test_config_round_trips_through_json():
    c = TrainConfig(hidden=[100, 100], init="he", optimizer="adam", eval_samples=500)
    d = json.loads(json.dumps(c.to_dict()))
    assert TrainConfig.from_dict(d) == c
    assert d["hidden"] == [100, 100]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"batch_size": 0}, "batch size must be a positive integer, got 0"),
        ({"lr": -0.1}, "learning rate must be a positive number, got -0.1"),
        ({"hidden": (0,)}, r"hidden layer sizes must be positive integers, got \[0\]"),
        ({"hidden": ()}, "hidden layer sizes"),
        ({"epochs": 2, "iters": 5}, "exactly one of epochs and iters"),
        ({"iters": None}, "exactly one of epochs and iters"),
        ({"iters": 0}, "iters must be a positive integer"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"activation": "tanh"}, "unknown activation 'tanh'"),
        ({"init": "glorot"}, "init must be"),
        ({"init": -1.0}, "init must be"),
        ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
        ({"sampling": "bootstrap"}, "unknown sampling"),
        ({"eval_samples": 0}, "eval_samples"),
        ({"weight_decay": -1.0}, "weight decay"),
        ({"dtype": "float16"}, "dtype"),
        ({"max_seconds": 0}, "max_seconds"),
    ],
)
def test_config_validate_names_the_problem(kw, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kw).validate()


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown training setting.*learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})


# -- training on synthetic data ----------------------------------------------------------------
def test_train_learns_blobs_and_last_record_is_final_weights():
    net, h = train(small_config(), data=DATA)
    assert h.stop_reason == "completed"
    assert h.iter_per_epoch == 15 and h.iterations == 60 and len(h.loss) == 60
    assert [r.iteration for r in h.records] == [15, 30, 45, 60]
    assert [r.epoch for r in h.records] == [1, 2, 3, 4]
    assert h.last.test_acc > 0.9 and h.last.train_acc > 0.9
    (x, t), (xt, tt) = DATA
    acc, loss = evaluate(net, xt, tt)
    assert acc == h.last.test_acc and loss == pytest.approx(h.last.test_loss)
    assert net.params["W1"].dtype == np.float32
    assert isinstance(net, TwoLayerNet)
    assert h.seed == 0 and h.config["hidden"] == [16]


def test_partial_last_epoch_gets_a_final_record():
    # notes' pattern: 10000 iters / 600 per epoch = 16 full epochs + a final record = 17
    _, h = train(small_config(epochs=None, iters=50), data=DATA)
    assert [r.iteration for r in h.records] == [15, 30, 45, 50]
    assert h.records[-1].epoch == 4


def test_same_seed_same_history_other_seed_differs():
    _, a = train(small_config(), data=DATA)
    _, b = train(small_config(), data=DATA)
    _, c = train(small_config(seed=1), data=DATA)
    assert a.to_dict(times=False) == b.to_dict(times=False)
    assert a.loss != c.loss


def test_replacement_sampling_and_float64():
    net, h = train(small_config(sampling="replacement", dtype="float64"), data=DATA)
    assert net.params["W1"].dtype == np.float64
    assert h.last.test_acc > 0.9
    _, shuffled = train(small_config(dtype="float64"), data=DATA)
    assert shuffled.loss != h.loss


def test_shuffle_visits_each_sample_once_per_epoch():
    tr = make_trainer()
    for _ in range(2):  # a fresh permutation each epoch
        seen = np.concatenate([tr.sampler.next_batch() for _ in range(tr.iter_per_epoch)])
        assert np.array_equal(np.sort(seen), np.arange(300))
    odd = Trainer(tr.net, *DATA[0], batch_size=40, iters=10, rng=0)  # 300 = 7 x 40 + 20
    first = np.concatenate([odd.sampler.next_batch() for _ in range(odd.iter_per_epoch)])
    assert odd.iter_per_epoch == 7 and len(set(first.tolist())) == 280  # remainder dropped
    second = odd.sampler.next_batch()
    assert not np.array_equal(second, first[:40])  # the next epoch starts a new permutation


def test_eval_samples_changes_evaluation_not_training():
    _, full = train(small_config(), data=DATA)
    _, sampled = train(small_config(eval_samples=50), data=DATA)
    assert sampled.loss == full.loss
    assert sampled.last.train_loss != full.last.train_loss  # measured on other samples
    # accuracies on 50 samples are multiples of 1/50
    assert (sampled.last.train_acc * 50) == pytest.approx(round(sampled.last.train_acc * 50))


def test_sigmoid_and_deeper_nets_train():
    net, h = train(small_config(activation="sigmoid", hidden=(16, 16), lr=0.5), data=DATA)
    assert isinstance(net, MultiLayerNet) and len(net.params) == 6
    assert h.last.test_acc > 0.8


def test_one_hot_targets_work_like_labels():
    (x, t), (xt, tt) = DATA
    eye = np.eye(3, dtype=np.float32)
    _, h_lab = train(small_config(), data=DATA)
    _, h_hot = train(small_config(), data=((x, eye[t]), (xt, eye[tt])))
    assert h_hot.last.test_acc == pytest.approx(h_lab.last.test_acc, abs=0.02)


def test_history_saves_and_loads(tmp_path):
    _, h = train(small_config(), data=DATA)
    path = h.save(tmp_path / "h.json")
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind
    back = History.load(path)
    assert back.to_dict() == h.to_dict()
    raw = json.loads(path.read_text())
    assert raw["format"] == "scratchdl-history" and len(raw["records"]) == 4
    assert {"train_acc", "test_acc", "train_loss", "test_loss", "elapsed", "epoch_time"} <= set(
        raw["records"][0]
    )


def test_history_load_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        History.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ModelFileError, match="not a scratchdl history"):
        History.load(bad)


# -- divergence ---------------------------------------------------------------------------------
class Poison(Callback):
    """Put a NaN into W1 after ``k`` updates, as an exploding step would."""

    def __init__(self, k):
        self.k = k

    def on_iteration(self, trainer, loss):
        if trainer.iteration == self.k:
            trainer.net.params["W1"][0, 0] = np.nan


@pytest.mark.parametrize("background", [True, False])
def test_background_evaluation_gives_the_same_history(background):
    h = make_trainer(background=background).fit()
    reference = make_trainer(background=not background).fit()
    assert h.to_dict(times=False) == reference.to_dict(times=False)
    assert [r.iteration for r in h.records] == [15, 30, 45]


def _stateful_nets():
    """Networks whose records depend on more than ``params``: BatchNorm's running statistics,
    Dropout's generator; an MLP and a small CNN."""
    d = DATA[0][0].shape[1]
    return {
        "mlp-batchnorm": lambda: MultiLayerNetExtend(d, [16, 8], 3, use_batchnorm=True, rng=1),
        "mlp-dropout": lambda: MultiLayerNetExtend(
            d, [16, 8], 3, use_dropout=True, dropout_ration=0.3, rng=1
        ),
        "mlp-both": lambda: MultiLayerNetExtend(
            d, [16], 3, use_batchnorm=True, use_dropout=True, rng=1
        ),
        "cnn": lambda: SimpleConvNet(
            (1, 4, 3), {"filter_num": 3, "filter_size": 2}, hidden_size=8, output_size=3, rng=1
        ),
    }


@pytest.mark.parametrize("kind", list(_stateful_nets()))
def test_background_evaluation_measures_the_whole_network_state(kind):
    """Each record of a background evaluation is the one made in place: the spare network gets
    the running statistics and generators too, not only the parameters."""
    (x, t), (xt, tt) = DATA

    def run(background):
        net = _stateful_nets()[kind]()
        tr = Trainer(
            net,
            x,
            t,
            xt,
            tt,
            optimizer=SGD(0.1),
            batch_size=20,
            iters=60,
            rng=3,
            evaluator=BackgroundEvaluation() if background else None,
        )
        return tr.fit(), net

    h, net = run(background=True)
    reference, reference_net = run(background=False)
    assert [r.iteration for r in h.records] == [15, 30, 45, 60]
    assert h.to_dict(times=False) == reference.to_dict(times=False)
    assert len({r.test_loss for r in h.records}) == 4  # the records did change
    for key, value in reference_net.state_dict()["params"].items():
        np.testing.assert_array_equal(net.params[key], value)


@pytest.mark.parametrize("background", [True, False])
def test_divergence_restores_batchnorm_statistics_with_the_weights(background):
    (x, t), (xt, tt) = DATA
    net = _stateful_nets()["mlp-batchnorm"]()
    evaluator = BackgroundEvaluation() if background else None
    tr = Trainer(net, x, t, xt, tt, batch_size=20, iters=60, rng=3, evaluator=evaluator)
    tr.callbacks.append(Poison(37))  # the NaN step's forward pass also poisons running_mean
    h = tr.fit()
    assert h.stop_reason == "diverged" and [r.iteration for r in h.records] == [15, 30]
    assert np.isfinite(net.layers["BatchNorm1"].running_mean).all()
    assert evaluate(net, xt, tt) == (h.records[-1].test_acc, h.records[-1].test_loss)


@pytest.mark.parametrize("background", [True, False])
def test_non_finite_evaluation_loss_is_divergence(background):
    (x, t), (xt, tt) = DATA
    xt = xt.copy()
    xt[5, 0] = np.inf  # the test set itself makes the evaluation loss NaN
    net = TwoLayerNet(12, 8, 3, rng=0)
    w_init = {k: v.copy() for k, v in net.params.items()}
    tr = Trainer(
        net,
        x,
        t,
        xt,
        tt,
        optimizer=SGD(0.1),
        batch_size=20,
        iters=60,
        rng=0,
        evaluator=BackgroundEvaluation() if background else None,
    )
    h = tr.fit()
    assert h.stop_reason == "diverged" and h.diverged_at == 15
    assert "evaluation after iteration 15" in h.message
    assert h.records == []
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, w_init[k])


@pytest.mark.parametrize("background", [True, False])
def test_nan_loss_stops_names_iteration_and_keeps_last_good_weights(background):
    tr = make_trainer(iters=60, callbacks=[Poison(37)], background=background)
    h = tr.fit()
    assert h.stop_reason == "diverged"
    assert h.diverged_at == 38 and h.iterations == 37
    assert "iteration 38" in h.message and "smaller learning rate" in h.message
    assert [r.iteration for r in h.records] == [15, 30]
    # the weights are those evaluated at iteration 30: finite, and they reproduce its record
    assert all(np.isfinite(v).all() for v in tr.net.params.values())
    (_, _), (xt, tt) = DATA
    assert evaluate(tr.net, xt, tt)[0] == h.records[-1].test_acc
    json.loads(h.to_json())  # still strict JSON


def test_real_divergence_with_a_huge_learning_rate():
    (x, t), (xt, tt) = DATA
    net = TwoLayerNet(x.shape[1], 16, 3, weight_init_std=1.0, rng=0)
    w_init = {k: v.copy() for k, v in net.params.items()}
    h = Trainer(net, x, t, xt, tt, optimizer=SGD(lr=1e30), batch_size=20, iters=200, rng=0).fit()
    assert h.stop_reason == "diverged" and h.diverged_at <= 15
    assert "(now 1e+30)" in h.message and "initial" in h.message
    for k, v in net.params.items():  # diverged before the first record: back to the start
        np.testing.assert_array_equal(v, w_init[k])


def test_divergence_in_cli_style_train_call():
    net, h = train(small_config(lr=1e30, init=1.0), data=DATA)
    assert h.stop_reason == "diverged"
    assert all(np.isfinite(v).all() for v in net.params.values())


# -- interruption, checkpoint, resume -----------------------------------------------------------
def _params(tr):
    return {k: v.copy() for k, v in tr.net.params.items()}


@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_resume_continues_bit_for_bit(tmp_path, sampling):
    full = make_trainer(sampling=sampling)
    h_full = full.fit()

    first = make_trainer(sampling=sampling, callbacks=[StopAt(22)])  # mid-epoch, after a record
    h1 = first.fit()
    assert h1.stop_reason == "interrupted" and h1.iterations == 22
    path = first.save_checkpoint(tmp_path / "ck.npz")

    second = make_trainer(sampling=sampling, seed=99)  # a different seed: the state must win
    second.load_checkpoint(path)
    h2 = second.fit()
    assert h2.stop_reason == "completed"
    assert h2.to_dict(times=False) | {"seed": None} == h_full.to_dict(times=False) | {"seed": None}
    for k, v in _params(full).items():
        np.testing.assert_array_equal(second.net.params[k], v)


def test_resume_of_a_batchnorm_dropout_net_is_bit_for_bit(tmp_path):
    """Running statistics, dropout generators and the last good network go through the
    checkpoint; one written before it kept the good network's statistics still resumes."""
    (x, t), (xt, tt) = DATA

    def trainer(callbacks=()):
        net = _stateful_nets()["mlp-both"]()
        return Trainer(net, x, t, xt, tt, batch_size=20, iters=45, rng=3, callbacks=callbacks)

    full = trainer()
    h_full = full.fit()
    first = trainer([StopAt(22)])
    first.fit()
    path = first.save_checkpoint(tmp_path / "ck.npz")
    with np.load(path) as f:
        arrays = dict(f)
    assert "good/BatchNorm1/running_mean" in arrays and "state/BatchNorm1/running_var" in arrays
    old = tmp_path / "old.npz"  # the format before: good/ held the parameters only
    np.savez(old, **{k: v for k, v in arrays.items() if not k.startswith("good/BatchNorm")})
    for ck in (path, old):
        second = trainer()
        second.load_checkpoint(ck)
        h2 = second.fit()
        assert h2.to_dict(times=False) == h_full.to_dict(times=False)
        for k, v in full.net.state_dict()["params"].items():
            np.testing.assert_array_equal(second.net.params[k], v)


def test_ctrl_c_stops_cleanly_at_a_step_boundary():
    tr = make_trainer(callbacks=[StopOnCtrlC(), StopAt(7, use_signal=True)])
    h = tr.fit()
    assert h.stop_reason == "interrupted" and h.iterations == 7 and len(h.loss) == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_without_the_helper_ctrl_c_is_python_s_own():
    tr = make_trainer(callbacks=[StopAt(7, use_signal=True)])
    with pytest.raises(KeyboardInterrupt):
        tr.fit()
    assert tr.iteration == 7


class Watch(Callback):
    """What the process looks like from inside a training step."""

    def __init__(self):
        self.seen = set()

    def on_iteration(self, trainer, loss):
        self.seen.add(
            (signal.getsignal(signal.SIGINT), threading.active_count(), blas_thread_count())
        )


def test_fit_changes_nothing_in_the_process_unless_asked():
    before = (signal.getsignal(signal.SIGINT), threading.active_count(), blas_thread_count())
    watch = Watch()
    make_trainer(callbacks=[watch]).fit()
    assert watch.seen == {before}
    # Switched on, the helpers act during fit and put everything back afterwards.
    watch = Watch()
    make_trainer(callbacks=[StopOnCtrlC(), BlasThreads(1), watch], background=True).fit()
    assert all(handler is not before[0] for handler, _, _ in watch.seen)
    # The evaluation thread starts with the first background evaluation.
    assert max(threads for _, threads, _ in watch.seen) == before[1] + 1
    assert {blas for _, _, blas in watch.seen} == {None if before[2] is None else 1}
    assert (signal.getsignal(signal.SIGINT), threading.active_count(), blas_thread_count()) == (
        before
    )


def test_a_step_runs_the_forward_pass_once():
    tr = make_trainer(iters=30)
    calls = []
    loss = tr.net.loss
    tr.net.loss = lambda *a, **kw: calls.append(1) or loss(*a, **kw)
    h = tr.fit()
    assert len(calls) == 30  # gradient's own forward pass: the Trainer reads net.last_loss
    (x, t), _ = DATA
    tr.net.gradient(x[:20], t[:20])
    assert tr.net.last_loss == loss(x[:20], t[:20], train_flg=True)
    assert len(h.loss) == 30


def test_train_checkpoint_dir_and_resume(tmp_path):
    cfg = small_config(optimizer="momentum", lr=0.05, epochs=None, iters=40)
    net_full, h_full = train(cfg, data=DATA)

    class Interrupt(StopAt):
        pass

    _, h1 = train(cfg, data=DATA, checkpoint_dir=tmp_path, callbacks=[Interrupt(17)])
    assert h1.stop_reason == "interrupted"
    assert (tmp_path / "checkpoint.npz").is_file()
    assert checkpoint_config(tmp_path) == cfg
    net2, h2 = train(cfg, data=DATA, checkpoint_dir=tmp_path, resume=True)
    assert h2.to_dict(times=False) == h_full.to_dict(times=False)
    for k, v in net_full.params.items():
        np.testing.assert_array_equal(net2.params[k], v)
    assert not (tmp_path / "checkpoint.npz").exists()  # finished: the checkpoint is gone


def test_resume_refuses_other_settings_or_missing_checkpoint(tmp_path):
    cfg = small_config(epochs=None, iters=40)
    train(cfg, data=DATA, checkpoint_dir=tmp_path, callbacks=[StopAt(5)])
    with pytest.raises(ConfigError, match="other settings.*lr"):
        train(
            small_config(epochs=None, iters=40, lr=0.2),
            data=DATA,
            checkpoint_dir=tmp_path,
            resume=True,
        )
    with pytest.raises(ModelFileError, match="nothing to resume"):
        train(cfg, data=DATA, checkpoint_dir=tmp_path / "empty", resume=True)
    with pytest.raises(ConfigError, match="checkpoint_dir"):
        train(cfg, data=DATA, resume=True)


def test_checkpoint_from_another_run_is_refused(tmp_path):
    tr = make_trainer(callbacks=[StopAt(3)])
    tr.fit()
    path = tr.save_checkpoint(tmp_path / "ck.npz")
    (x, t), (xt, tt) = DATA
    other = Trainer(
        MultiLayerNet(x.shape[1], [16, 8], 3, rng=1),
        x,
        t,
        xt,
        tt,
        optimizer=Adam(lr=0.01),
        batch_size=30,
        iters=45,
        rng=3,
    )
    with pytest.raises(ModelFileError, match="batch_size"):
        other.load_checkpoint(path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable scratchdl checkpoint"):
        tr.load_checkpoint(bad)


# -- budget, input checks, helpers ---------------------------------------------------------------
def test_time_budget_stops_with_a_final_record():
    tr = make_trainer(iters=10_000, callbacks=[TimeBudget(0.05)])
    h = tr.fit()
    assert h.stop_reason == "time_limit" and "budget" in h.message
    assert 0 < h.iterations < 10_000
    assert h.records[-1].iteration == h.iterations


def test_time_budget_is_per_session_and_a_resume_gets_a_fresh_one():
    tr = make_trainer(iters=45, callbacks=[TimeBudget(60)])
    tr.history.elapsed = 1000.0  # as if earlier sessions had trained for 1000 s
    h = tr.fit()
    assert h.stop_reason == "completed" and h.iterations == 45
    assert h.elapsed > 1000.0  # elapsed still counts every session


def test_train_keeps_the_checkpoint_after_a_time_limit(tmp_path):
    cfg = small_config(max_seconds=1e-9)
    _, h1 = train(cfg, data=DATA, checkpoint_dir=tmp_path)
    assert h1.stop_reason == "time_limit" and (tmp_path / "checkpoint.npz").is_file()
    _, h2 = train(small_config(), data=DATA, checkpoint_dir=tmp_path, resume=True)
    assert h2.stop_reason == "completed" and h2.iterations == 60
    assert not (tmp_path / "checkpoint.npz").exists()


def test_eval_samples_run_reports_the_final_weights_on_the_full_sets():
    net, h = train(small_config(eval_samples=10), data=DATA)
    final = h.info["final"]
    (x, t), (xt, tt) = DATA
    assert (final["n_train_sample"], final["n_test"], final["of_test"]) == (10, 90, 90)
    assert final["test_acc"] == np.mean(net.predict(xt).argmax(axis=1) == tt)
    # Only the test set is measured in full: the train accuracy is the sampled record's.
    assert final["train_acc"] == h.last.train_acc
    assert "test: the full test set of 90 images; train: 10 sampled" in h.summary()
    assert "final" not in train(small_config(), data=DATA)[1].info


def test_interrupted_sampled_run_saves_its_checkpoint_without_a_full_evaluation(tmp_path):
    _, h = train(
        small_config(eval_samples=10), data=DATA, checkpoint_dir=tmp_path, callbacks=[StopAt(20)]
    )
    assert h.stop_reason == "interrupted" and (tmp_path / "checkpoint.npz").is_file()
    assert h.last is not None  # the epoch record at iteration 15
    assert "final" not in h.info  # the run goes on later; its final weights are not these


def test_damaged_checkpoint_record_is_a_clear_error(tmp_path):
    tr = make_trainer(callbacks=[StopAt(3)])
    tr.fit()
    path = tr.save_checkpoint(tmp_path / "checkpoint.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["__checkpoint__"].tobytes())
    del meta["history"]
    arrays["__checkpoint__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="is damaged: its record lacks history"):
        checkpoint_config(tmp_path)
    with pytest.raises(ModelFileError, match="delete it and start the run again"):
        train(small_config(), data=DATA, checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"batch_size": 301}, ConfigError, "larger than the 300 training samples"),
        ({"batch_size": 0}, ConfigError, "batch_size must be a positive integer"),
        ({"x_train": np.zeros((300, 12), np.uint8)}, ShapeError, "floating"),
        ({"t_train": np.zeros(299, np.int64)}, ShapeError, "300 samples but t_train has 299"),
        ({"t_train": np.full(300, 7)}, ShapeError, r"\[0, 3\)"),
        ({"t_test": None}, ConfigError, "both x_test and t_test"),
        ({"iters": None}, ConfigError, "exactly one of epochs and iters"),
        ({"sampling": "sorted"}, ConfigError, "unknown sampling"),
    ],
)
def test_trainer_rejects_bad_input(change, error, match):
    (x, t), (xt, tt) = DATA
    kw = {"x_train": x, "t_train": t, "x_test": xt, "t_test": tt, "batch_size": 20, "iters": 5}
    kw.update(change)
    net = TwoLayerNet(12, 4, 3, rng=0)
    with pytest.raises(error, match=match):
        Trainer(net, optimizer=SGD(), **kw)


def test_trainer_without_test_set_and_simple_net():
    (x, t), _ = DATA
    net = TwoLayerNet(12, 8, 3, rng=0)
    h = Trainer(net, x, t, optimizer=SGD(0.1), batch_size=30, epochs=2, rng=0).fit()
    assert [r.test_acc for r in h.records] == [None, None]
    json.loads(h.to_json())


def test_make_optimizer_defaults():
    assert make_optimizer("sgd").lr == 0.1
    assert make_optimizer("adam").lr == 0.001
    assert make_optimizer("rmsprop", 0.5).lr == 0.5


def test_progress_bar_is_silent_off_a_terminal():
    from rich.console import Console

    from scratchdl.train.progress import RichProgress

    buf = io.StringIO()
    bar = RichProgress(console=Console(file=buf, force_terminal=False))
    train(small_config(), data=DATA, callbacks=[bar])
    assert buf.getvalue() == "" and not bar.active


def test_blas_thread_limit_is_restored():
    before = blas_thread_count()
    with blas_threads(1):
        if before is not None:
            assert blas_thread_count() == 1
    assert blas_thread_count() == before


def test_a_model_kind_is_one_entry_in_choices(monkeypatch):
    from scratchdl import choices

    with pytest.raises(ConfigError, match="unknown model 'tiny': use one of mlp"):
        small_config(model="tiny").validate()

    def tiny(config, input_size, n_classes, rng):
        return MultiLayerNet(input_size, [4], n_classes, rng=rng)

    monkeypatch.setitem(choices.MODELS, "tiny", tiny)
    net, h = train(small_config(model="tiny"), data=DATA)
    assert isinstance(net, MultiLayerNet) and net.hidden_size_list == [4]
    assert h.config["model"] == "tiny" and h.stop_reason == "completed"


# -- damaged and forged checkpoints ----------------------------------------------------------------


def _unfinished(tmp_path, capsys) -> Path:
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), "--max-seconds", "1e-9", *SMALL)[0] == 0
    return out


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda b: b[: len(b) // 2], "checkpoint.npz"),
        (lambda b: b"", "checkpoint.npz"),
        (lambda b: b"garbage" * 10, "checkpoint.npz"),
    ],
    ids=["truncated", "empty", "garbage"],
)
def test_damaged_checkpoint_says_how_to_start_over(tmp_path, capsys, fake_data, damage, fragment):
    out = _unfinished(tmp_path, capsys)
    ckpt = out / "checkpoint.npz"
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume")
    one_line_error(err, code, str(ckpt), f"scratchdl train --out {out} --force")
    # ... and that way out works.
    assert cli(capsys, "train", "--out", str(out), "--force", *SMALL)[0] == 0
    assert set(fh.snapshot(out)) == RUN_FILES


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda m: m.update(iteration="x"), "iteration"),
        (lambda m: m.update(rng=[1]), "rng"),
        (lambda m: m.pop("history"), "lacks history"),
        (lambda m: m.update(format_version=99), "this version can read"),
    ],
    ids=["iteration-str", "rng-list", "no-history", "newer"],
)
def test_forged_checkpoint_record_is_refused(tmp_path, capsys, fake_data, edit, fragment):
    out = _unfinished(tmp_path, capsys)
    ckpt = out / "checkpoint.npz"
    members = _members(ckpt)
    meta = json.loads(np.load(io.BytesIO(members["__checkpoint__.npy"])).tobytes())
    edit(meta)
    members["__checkpoint__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    _write_members(ckpt, members)
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume")
    one_line_error(err, code, fragment, "--force")


def test_checkpoint_with_a_pickle_or_huge_header_is_refused(tmp_path, capsys, fake_data):
    out = _unfinished(tmp_path, capsys)
    ckpt = out / "checkpoint.npz"
    members = _members(ckpt)
    members["perm.npy"] = _npy(np.array([object()], dtype=object))
    _write_members(ckpt, members)
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume")
    one_line_error(err, code, "holds Python objects")
    assert "allow_pickle" not in err
    members["perm.npy"] = _forged_header((10**12,))
    _write_members(ckpt, members)
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume")
    one_line_error(err, code, "above the limit")


def test_checkpoints_are_evaluated_on_the_full_sets_and_stop_the_run():
    (x, t), (xt, tt) = DATA
    net = TwoLayerNet(12, 8, 3, rng=0)
    trainer = Trainer(
        net,
        x,
        t,
        xt,
        tt,
        batch_size=30,
        iters=10**6,
        eval_samples=20,
        rng=0,
        checkpoints={"early": {"updates": 5}, "two": {"epochs": 2, "samples": 10**6}},
    )
    history = trainer.fit()
    assert history.stop_reason == "completed" and trainer.iteration == 20  # 2 epochs of 10
    early, two = history.checkpoints["early"], history.checkpoints["two"]
    assert (early["updates"], early["samples"], two["epochs"]) == (5, 150, 2.0)
    assert two["reached"] and two["seconds"] == pytest.approx(trainer.train_seconds)
    assert (two["test_acc"], two["test_loss"]) == evaluate(net, xt, tt)  # all 90, not 20
    assert History.from_dict(history.to_dict()).checkpoints == history.checkpoints
    assert "seconds" not in history.to_dict(times=False)["checkpoints"]["two"]
    with pytest.raises(ConfigError, match="checkpoint 'x' needs a positive"):
        Trainer(net, x, t, iters=1, checkpoints={"x": {"hours": 1}})


@pytest.mark.parametrize("background", [True, False])
def test_records_every_n_samples_and_where_the_last_checkpoint_stops(background):
    (x, t), (xt, tt) = DATA
    trainer = Trainer(
        TwoLayerNet(12, 8, 3, rng=0),
        x,
        t,
        xt,
        tt,
        batch_size=30,
        iters=10**6,
        rng=0,
        record_every=100,
        checkpoints={"end": {"updates": 11}},
        evaluator=BackgroundEvaluation() if background else None,
    )
    h = trainer.fit()
    # Steps 4, 7 and 10 cross 100, 200 and 300 samples; the stop at step 11 has its own.
    assert [r.iteration for r in h.records] == [4, 7, 10, 11]
    clocks = [r.train_seconds for r in h.records]
    assert clocks == sorted(clocks) and clocks[-1] == trainer.train_seconds
    assert h.stop_reason == "completed" and h.checkpoints["end"]["updates"] == 11
    assert "train_seconds" not in h.to_dict(times=False)["records"][0]


def test_a_divergence_closes_the_pending_checkpoints():
    (x, t), _ = DATA
    net = TwoLayerNet(12, 8, 3, rng=0)
    trainer = Trainer(
        net, x, t, optimizer=SGD(1e6), iters=10**6, rng=0, checkpoints={"end": {"updates": 500}}
    )
    history = trainer.fit()
    end = history.checkpoints["end"]
    assert history.stop_reason == "diverged" and end["reached"] is False
    assert end["train_loss"] is None and end["updates"] == trainer.iteration < 500
    assert end["train_acc"] == evaluate(net, x, t)[0]  # the restored weights
