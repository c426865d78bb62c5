"""``sweep optimizer`` (ch. 6.1.8) and ``sweep init`` (ch. 6.2): on synthetic blobs whose answers
are known in advance, their option errors, and (slow) their book setting on MNIST."""

from __future__ import annotations

import json
import os

import pytest

from _sweep_helpers import assert_summary_numbers_in_results, blobs, info
from scratchdl.cli import main
from scratchdl.errors import ConfigError
from scratchdl.experiments import init, optimizer
from scratchdl.experiments.declare import verdict
from scratchdl.experiments.engine import run_sweep
from scratchdl.experiments.trial import HIST_BINS

needs_mnist = pytest.mark.skipif(
    not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR not set"
)


@pytest.fixture(scope="module")
def src():
    return blobs()


# -- sweep optimizer ---------------------------------------------------------------------------
def run_optimizers(src, out, **kw):
    opts = dict(
        optimizers=("sgd", "momentum", "adam"),
        iters=150,
        seeds=(0, 1),
        hidden=(16, 16),
        eval_samples=100,
        curve_points=10,
    )
    opts.update(kw)
    return run_sweep(optimizer.build(optimizer.Options(**opts), info(src)), out, source=src, jobs=0)


def test_optimizer_sweep_finds_sgd_slowest(src, tmp_path):
    res = run_optimizers(src, tmp_path)
    # Each optimizer at the book's learning rate: SGD 0.01 (not train's 0.1), Adam 0.001.
    assert {g["group"]: g["train"]["lr"] for g in res.groups} == {
        "SGD": 0.01,
        "Momentum": 0.01,
        "Adam": 0.001,
    }
    assert all(g["train"]["sampling"] == "replacement" for g in res.groups)
    assert all(t["updates"] == 150 and t["train"]["batch_size"] == 128 for t in res.trials)
    loss = {g["group"]: g["metrics"]["final.train_loss"] for g in res.groups}
    # Known in advance: plain SGD at lr 0.01 moves slowest, by far more than the seed noise.
    assert loss["SGD"]["mean"] - loss["SGD"]["std"] > max(
        loss[k]["mean"] + loss[k]["std"] for k in ("Momentum", "Adam")
    )
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "Highest: SGD" in text
    assert text.count("in 150 updates") + text.count("after 150 updates") >= 4
    assert "< SGD ('<': lower by more than the seed noise" in text
    assert (
        "The book finds SGD slowest (ch. 6.1.8), confirmed in 150 updates at these learning "
        "rates: SGD's training loss was higher than that of Momentum and Adam" in text
    )
    assert "Lowest mean training loss after 150 updates: " in text
    assert (tmp_path / "optimizer_curves.png").stat().st_size > 10_000
    # The book's loss curve: seed-averaged mini-batch losses at every curve point.
    curve = res.trials[0]["curve"]
    assert len(curve["batch_loss"]) == 11 and curve["batch_loss"][0] is None


def test_optimizer_sweep_one_seed_and_one_rate(src, tmp_path):
    res = run_optimizers(src, tmp_path, optimizers=("sgd", "adagrad"), seeds=(0,), lr=0.05)
    assert [g["train"]["lr"] for g in res.groups] == [0.05, 0.05]
    text = (tmp_path / "summary.md").read_text()
    assert "(--lr for all)" in text
    # One seed: no claim beats the noise, and the summary says why.
    findings = text.split("## Findings")[1]
    assert "more than the seed noise" not in findings and "confirmed" not in findings
    assert "one seed only, so the seed noise is unknown" in text
    assert "not testable against the seed noise with one seed in 150 updates" in text
    assert_summary_numbers_in_results(tmp_path)


def test_optimizer_sweep_leaves_diverged_runs_out_of_the_ranking(src, tmp_path):
    res = run_optimizers(src, tmp_path, lr=1e6, iters=60)
    assert {g["group"]: g["diverged"] for g in res.groups} == {"SGD": 2, "Momentum": 2, "Adam": 0}
    text = (tmp_path / "summary.md").read_text()
    assert "Not ranked, diverged in 60 updates: SGD and Momentum." in text
    assert "SGD diverged in 60 updates" in text and "Momentum diverged in 60 updates" in text
    assert "The book finds SGD slowest" not in text  # a diverged SGD says nothing about speed
    assert_summary_numbers_in_results(tmp_path, minimum=5)


# -- sweep init --------------------------------------------------------------------------------
# Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
@pytest.mark.slow
def test_init_sweep_verdicts_and_activation_statistics(src, tmp_path):
    opts = init.Options(
        variants=("sigmoid+0.01", "relu+0.01", "relu+he"),
        iters=300,
        seeds=(0, 1),
        hidden=(32, 32, 32, 32),
        eval_samples=200,
        curve_points=12,
    )
    res = run_sweep(init.build(opts, info(src)), tmp_path, source=src, jobs=0)
    kinds = {g["group"]: verdict(res, g).kind for g in res.groups}
    # Known in advance: a deep sigmoid net with std 0.01 sits on its plateau at lr 0.01 (the
    # gradient reaching W1 is vanishingly small), while He-initialised ReLU learns.
    for t in res.trials:
        if t["group"] == "sigmoid+0.01":
            grad = t["layer_stats"]["init"]["grad_rms"]
            assert grad[0] < 1e-4 * grad[-1]
    assert kinds["relu+he"] == "learned"
    assert kinds["sigmoid+0.01"] == "stalled" and kinds["relu+0.01"] in ("learning", "stalled")
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "relu+he learned in 300 updates; test accuracy" in text
    assert "sigmoid+0.01 did not train in 300 updates: its loss stopped falling" in text
    start = text.split("## What the activations show")[1]
    line = {name: next(x for x in start.splitlines() if f", {name}:" in x) for name in kinds}
    assert "every layer concentrated near 0.5" in line["sigmoid+0.01"]
    assert "shrinking layer by layer" in line["relu+0.01"]
    assert "kept its spread" in line["relu+he"]
    # The histograms: one per hidden layer, HIST_BINS shares summing to at most 1 (ReLU
    # outputs above 1 fall outside the book's [0, 1] range; sigmoid outputs never do).
    for t in res.trials:
        for when in ("init", "final"):
            hists = t["layer_stats"][when]["hist"]
            assert len(hists) == 4 and all(len(h) == HIST_BINS for h in hists)
            sums = [sum(h) for h in hists]
            assert all(0 < s <= 1 + 1e-6 for s in sums)
            if t["train"]["activation"] == "sigmoid":
                assert sums == pytest.approx([1.0] * 4, abs=1e-4)
    for name in init.FIGURES:
        assert (tmp_path / name).stat().st_size > 10_000


def test_init_sweep_default_grid_covers_the_books_figures():
    opts = init.Options()
    sweep = init.build(opts, {"name": "x", "n_train": 60000, "classes": 10})
    pairs = {(t.train.activation, t.train.init) for t in sweep.trials}
    assert pairs == {
        ("relu", 0.01),
        ("relu", "xavier"),
        ("relu", "he"),
        ("sigmoid", 1.0),
        ("sigmoid", 0.01),
        ("sigmoid", "xavier"),
    }
    t = sweep.trials[0]
    assert t.train.hidden == (100, 100, 100, 100) and t.train.lr == 0.01
    assert t.train.optimizer == "sgd" and t.train.batch_size == 128
    assert t.checkpoints == {"final": {"updates": 2000}} and t.evaluation["layer_stats"]


def test_build_rejects_unknown_optimizer():
    with pytest.raises(ConfigError, match="--optimizers: unknown optimizer 'adamw'"):
        optimizer.build(optimizer.Options(optimizers=("sgd", "adamw")), {"name": "x"})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["optimizer", "--optimizers", "sgd,adamw"], "unknown optimizer 'adamw'; use sgd"),
        (["optimizer", "--optimizers", "sgd,SGD"], "lists a value twice"),
        (["optimizer", "--lr", "-1"], "learning rate must be a positive number"),
        (["optimizer", "--sampling", "random"], "--sampling must be one of"),
        (["optimizer", "--iters", "10", "--epochs", "1"], "not both"),
        (["init", "--variants", "tanh+he"], "relu+he"),
        (["init", "--variants", "relu+huge"], "init must be 'he', 'xavier'"),
        (["init", "--hidden", "100,0"], "--hidden"),
        (["init", "--curve-points", "0"], "--curve-points must be a positive integer"),
    ],
)
def test_cli_reports_one_readable_error(argv, message, capsys, tmp_path):
    # Checked before any data is loaded: these need no MNIST.
    out = ["--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]
    assert main(["sweep", *argv, *out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


# -- the book's setting on MNIST, reduced budget --------------------------------------------------
@pytest.mark.slow
@needs_mnist
def test_cli_optimizer_sweep_on_mnist(tmp_path):
    out = tmp_path / "opt"
    argv = ["sweep", "optimizer", "--optimizers", "sgd,adam", "--iters", "150", "--seeds", "0"]
    assert main([*argv, "--eval-samples", "300", "--curve-points", "10", "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["data"]["n_train"] == 60000 and data["options"]["hidden"] == [100] * 4
    loss = {g["group"]: g["metrics"]["final.train_loss"]["mean"] for g in data["groups"]}
    assert loss["Adam"] < loss["SGD"] < 2.3  # both moved; Adam faster, as in the book
    assert_summary_numbers_in_results(out)


@pytest.mark.slow
@needs_mnist
def test_cli_init_sweep_on_mnist(tmp_path):
    out = tmp_path / "init"
    argv = ["sweep", "init", "--variants", "relu+0.01,relu+he", "--iters", "400", "--seeds", "0"]
    assert main([*argv, "--eval-samples", "300", "--curve-points", "10", "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    acc = {g["group"]: g["metrics"]["final.test_acc"]["mean"] for g in data["groups"]}
    assert acc["relu+he"] > 0.8 and acc["relu+0.01"] < 0.15  # the book's figure 6-15
    stats = {t["group"]: t["layer_stats"]["init"] for t in data["trials"]}
    small = stats["relu+0.01"]["act_std"]
    assert all(b < a / 5 for a, b in zip(small, small[1:], strict=False))  # vanishing
    assert all(len(h) == HIST_BINS for h in stats["relu+he"]["hist"])
    assert_summary_numbers_in_results(out)


# -- what these sweeps added to the framework ------------------------------------------------------
def test_summary_specs_for_layer_lists_and_small_losses():
    from scratchdl.experiments.summary import _FORMAT

    assert _FORMAT.format("{s:sigs}", s=[0.0536, 0.000274, 1.94e-05, None]) == (
        "0.0536, 0.000274, 0.0000194, n/a"
    )
    # Losses near 0 keep their digits where pm's 3 decimals would print 0.001 ± 0.000.
    stat = {"mean": 0.0012346, "std": 0.000321, "n": 3}
    assert _FORMAT.format("{x:losspm}", x=stat) == "0.001235 ± 0.00032"
    assert _FORMAT.format("{x:losspm}", x={**stat, "n": 1}) == "0.001235"


def test_verdict_advice_names_the_flag_of_the_budget():
    from scratchdl.experiments.engine import SweepResults

    curve = {"updates": list(range(12)), "train_loss": [2.3 - 0.01 * i for i in range(12)]}
    group = {"group": "g", "diverged": 0, "metrics": {"final.test_acc": {"mean": 0.1, "n": 1}}}
    for budget, flag in (
        ({"updates": 50, "text": "50 updates"}, "--iters"),
        ({"epochs": 2.0, "updates": None, "text": "2 epochs"}, "--epochs"),
    ):
        res = SweepResults(
            "x", {"budget": budget, "chance": 0.1}, [{"group": "g", "curve": curve}], [group]
        )
        found = verdict(res, group)
        assert found.kind == "learning" and found.phrase.endswith(f"({flag})")


def test_init_loss_axis_holds_a_curve_above_the_books_range(src, tmp_path, monkeypatch):
    # sigmoid with std 1 starts near 10: the book's 0..2.5 would cut it off.
    panels = []
    real = init.plot_panels

    def keep(ps, *args, **kwargs):
        panels.extend(ps)
        return real(ps, *args, **kwargs)

    monkeypatch.setattr(init, "plot_panels", keep)
    opts = init.Options(variants=("sigmoid+1", "relu+he"), iters=60, seeds=(0,), hidden=(32, 32))
    run_sweep(init.build(opts, info(src)), tmp_path, source=src, jobs=0)
    (loss,) = [p for p in panels if p.title.startswith("Training loss")]
    highest = max(y for s in loss.series for y in s.y if y is not None)
    assert highest > 2.5 and loss.ylim[1] >= highest
