"""Memory estimates for every model kind: one estimate, used by every command that refuses.

The estimate (:func:`scratchdl.cli._resources.network_estimate`) walks a network's
architecture record; these tests check that the record it reads for a training run is the
real network's, that its parameter count is exact, that its activations are within reach of
what NumPy really allocates for a step, and that ``train``, ``evaluate``, ``gradcheck``,
``serve`` and the sweeps refuse in one line. The comparison with the peak RSS of the real
command is ``benchmarks/bench_memory.py`` (a benchmark, not a timed test).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import scratchdl.cli._resources as res
from scratchdl.choices import build_model
from scratchdl.cli import main
from scratchdl.train import TrainConfig

CONFIGS = [
    TrainConfig(),
    TrainConfig(hidden=(30, 20), batchnorm=True, dropout=0.2),
    TrainConfig(model="cnn", hidden=(40,)),
    TrainConfig(model="deep-cnn", hidden=(20,)),
]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, code: int, *fragments: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.describe()[:40])
def test_the_estimate_reads_the_real_networks_architecture(config):
    net = build_model(config.validate(), 784, 10, 0)
    arch = res.architecture(config)
    real = {"class": type(net).__name__, **net.config()}
    for key, value in arch.items():
        if key in real:
            assert real[key] == value, key
    plan = res.network_plan(arch, 4)
    assert plan.params == sum(p.size for p in net.params.values())


@pytest.mark.parametrize(
    ("model", "batch"),
    [
        ("cnn", 200),
        ("cnn", 1000),
        ("deep-cnn", 200),
        # Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
        pytest.param("deep-cnn", 1000, marks=pytest.mark.slow),
    ],
)
def test_the_activation_estimate_covers_what_training_steps_allocate(model, batch):
    # tracemalloc sees NumPy's allocations: the peak of three gradient steps of a fresh
    # network (caches, the convolutions' scratch buffers, gradients) against the estimate's
    # activations plus one set of gradients. A refusal must not come too late (the estimate
    # below the need) nor far too early.
    config = TrainConfig(model=model).validate()
    net = build_model(config, 784, 10, 0)
    x = np.random.default_rng(0).random((batch, 784), dtype=np.float32)
    t = np.arange(batch) % 10
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(3):
        net.gradient(x, t)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    plan = res.network_plan(res.architecture(config), 4)
    estimate = res.training_activations(plan, batch) + 4 * plan.params
    # (measured: cnn 1.56 and 1.30, deep-cnn 2.13 and 1.43 at batches 200 and 1000)
    assert 1.0 < estimate / peak < 2.5


def test_train_cnn_with_a_huge_hidden_layer_is_refused_in_one_line(tmp_path, capsys):
    code, _, err = cli(
        capsys, "train", "--model", "cnn", "--hidden", "3000000", "--out", str(tmp_path / "r")
    )
    line = one_line_error(err, code, "train would need about", "GiB of memory", "--force")
    assert "parameters" in line and "available" in line
    assert not (tmp_path / "r" / "model.npz").exists()


def test_train_deep_cnn_with_a_huge_batch_is_refused_for_its_activations(tmp_path, capsys):
    argv = ("--model", "deep-cnn", "--batch-size", "50000", "--out", str(tmp_path / "r"))
    code, _, err = cli(capsys, "train", *argv)
    line = one_line_error(err, code, "train would need about", "--batch-size")
    # The activations (caches and column buffers of 50,000 images) are what does not fit.
    activations = line.split("activations ")[1].split(",")[0]
    assert activations.endswith("GiB") and float(activations.split()[0]) > 20


def test_every_model_kind_is_refused_when_memory_is_short(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(res, "available_memory", lambda: 50 * 2**20)
    for argv in (
        ["--model", "cnn"],
        ["--model", "deep-cnn"],
        ["--batchnorm"],
        ["--dropout", "0.5", "--hidden", "100,80"],
    ):
        code, _, err = cli(capsys, "train", "--out", str(tmp_path / "r"), *argv)
        one_line_error(err, code, "train would need about", "this machine has 50 MiB available")


def test_the_cnn_estimates_grow_with_the_batch_and_the_deep_net_costs_more():
    def total(**kw):
        return res.train_estimate_for(TrainConfig(**kw).validate(), background_evaluation=True)[0]

    assert total(model="cnn", batch_size=1000) > total(model="cnn", batch_size=100)
    assert total(model="deep-cnn", batch_size=100) > total(model="cnn", batch_size=100)
    # The activations grow with the batch, the parameters and the data do not.
    step = total(model="deep-cnn", batch_size=200) - total(model="deep-cnn", batch_size=100)
    assert step > 0
    assert total(model="deep-cnn", batch_size=1000) - total(model="deep-cnn", batch_size=100) > (
        8 * step
    )


def test_evaluate_and_serve_of_a_cnn_are_refused_when_memory_is_short(
    tmp_path, capsys, monkeypatch
):
    from scratchdl.io import save_model
    from scratchdl.nets import DeepConvNet

    path = save_model(DeepConvNet(rng=0), tmp_path / "deep.npz")
    monkeypatch.setattr(res, "available_memory", lambda: 10 * 2**20)
    code, _, err = cli(capsys, "evaluate", str(path))
    one_line_error(err, code, "evaluate would need about", "--force")
    code, _, err = cli(capsys, "serve", str(path), "--port", "0")
    one_line_error(err, code, "serve would need about", "--force")


def test_evaluate_estimate_covers_what_evaluating_a_cnn_allocates():
    from scratchdl.nets import DeepConvNet, TwoLayerNet, evaluate

    net = DeepConvNet(rng=0)
    x = np.random.default_rng(0).random((2000, 1, 28, 28), dtype=np.float32)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    evaluate(net, x, np.arange(2000) % 10)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    deep = res.evaluate_estimate(net, 2000)[1]["activations"]
    assert peak < deep < 3 * peak  # measured: 141 MiB against 70 MiB
    mlp = res.evaluate_estimate(TwoLayerNet(784, 50, 10, rng=0), 2000)[1]["activations"]
    assert deep > 5 * mlp


def test_gradcheck_of_a_cnn_is_estimated_from_its_own_architecture(capsys):
    code, _, err = cli(capsys, "gradcheck", "--model", "cnn", "--hidden", "30000000")
    one_line_error(err, code, "gradcheck would need about", "GiB of memory")
    code, _, err = cli(capsys, "gradcheck", "--model", "deep-cnn", "--hidden", "300000000")
    one_line_error(err, code, "gradcheck would need about", "GiB of memory")


def test_a_sweep_is_refused_when_its_workers_cannot_fit(tmp_path, capsys, monkeypatch):
    import scratchdl.data
    from _fault_helpers import synthetic

    monkeypatch.setattr(scratchdl.data, "load_mnist", lambda *a, **k: synthetic())
    monkeypatch.setattr(res, "available_memory", lambda: 10 * 2**20)
    out = tmp_path / "sw"
    argv = ("--values", "10,50", "--jobs", "2", "--out", str(out))
    code, _, err = cli(capsys, "sweep", "batch-size", *argv)
    one_line_error(err, code, "sweep batch-size would need about", "worker(s)", "--jobs")
    assert not (out / "results.json").exists()


def test_sweep_estimate_scales_with_the_workers():
    data = {"n_train": 60000, "n_test": 10000, "features": 784, "classes": 10}
    trials = [{"hidden": [100], "batch_size": 100}, {"hidden": [2000], "batch_size": 1000}]
    one, _ = res.sweep_estimate(trials, data, 1)
    two, _ = res.sweep_estimate(trials, data, 2)
    largest, _ = res.sweep_estimate(trials[1:], data, 1)
    assert one == largest and two > one
