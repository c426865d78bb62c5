"""The chapter 6.3-6.5 sweeps: batchnorm, overfit, hyperparams (on synthetic blobs, fast)."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest

from _sweep_helpers import assert_summary_numbers_in_results, blobs, info
from scratchdl.cli import main
from scratchdl.experiments import batchnorm, hyperparams, overfit
from scratchdl.experiments.declare import verdict
from scratchdl.experiments.engine import run_sweep
from scratchdl.train.verdict import noise_comparison

MNIST = pytest.mark.skipif(
    not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR unset"
)


@pytest.fixture(scope="module")
def src():
    return blobs()


# -- batchnorm (ch. 6.3.2) ---------------------------------------------------------------------
def test_batchnorm_rescues_a_tiny_initial_scale(src, tmp_path):
    opts = batchnorm.Options(
        scales=(0.01, 1e-4), train_samples=300, hidden=(32,) * 5, lr=0.05, epochs=8, seeds=(0, 1)
    )
    res = run_sweep(batchnorm.build(opts, info(src)), tmp_path, source=src, jobs=0)
    assert_summary_numbers_in_results(tmp_path)
    for w in (0.01, 1e-4):
        bn, plain = res.group(f"BN, W {w:.3g}"), res.group(f"no BN, W {w:.3g}")
        # A deep ReLU net whose weights start 100x too small passes no signal; BN rescales it.
        assert verdict(res, bn).kind == "learned" and verdict(res, plain).kind != "learned"
        a, b = bn["metrics"]["final.train_acc"], plain["metrics"]["final.train_acc"]
        assert noise_comparison(a, b) == "larger"
    text = (tmp_path / "summary.md").read_text()
    assert "by more than the seed noise at 2 of the 2 scales" in text
    assert "With BN, every scale learned in 8 epochs." in text
    assert (
        "After 2 epochs (a quarter of 8 epochs), BN was ahead by more than the seed noise" in text
    )
    # One curve point per epoch, on every one of the 300 training images.
    trial = res.trials[0]
    assert trial["curve"]["epochs"] == [float(e) for e in range(9)]
    assert trial["subset"] == {"train_samples": 300} and trial["train"]["batchnorm"] is True
    assert trial["train"]["sampling"] == "replacement" and trial["train"]["init"] == 0.01
    assert (tmp_path / "batchnorm_grid.png").stat().st_size > 0


# -- overfit (ch. 6.4) -------------------------------------------------------------------------
def test_overfit_regularisers_shrink_a_big_gap(tmp_path):
    # 40 noisy 64-dimensional points: a 2x64 net memorises them and generalises poorly.
    src = blobs(d=64, spread=3.0)
    opts = overfit.Options(
        train_samples=40,
        batch_size=20,
        hidden=(64, 64),
        lr=0.1,
        weight_decay=0.3,
        dropout=0.7,
        epochs=100,
    )
    res = run_sweep(overfit.build(opts, info(src)), tmp_path, source=src, jobs=0)
    assert_summary_numbers_in_results(tmp_path)
    none = res.group("no regularisation")["metrics"]
    assert none["final.train_acc"]["mean"] == 1.0 and none["final.gap"]["mean"] > 0.6
    for name in ("weight decay 0.3", "dropout 0.7"):
        g = res.group(name)["metrics"]
        assert noise_comparison(g["final.gap"], none["final.gap"]) == "smaller"
    text = (tmp_path / "summary.md").read_text()
    assert "In 100 epochs, weight decay 0.3 shrank the gap by more than the seed noise" in text
    assert "In 100 epochs, dropout 0.7 shrank the gap by more than the seed noise" in text
    # At 1.000 from early on, the unregularised net's training accuracy is not "still rising".
    assert "training accuracy of no regularisation was still rising" not in text
    trials = {t["group"]: t for t in res.trials}
    assert trials["dropout 0.7"]["train"]["dropout"] == 0.7
    assert trials["dropout 0.7"]["train"]["weight_decay"] == 0.0
    assert trials["weight decay 0.3"]["train"]["weight_decay"] == 0.3
    # Per epoch on the whole training subset and the whole test set.
    assert len(trials["no regularisation"]["curve"]["epochs"]) == 101
    assert res.options["eval_samples"] >= 200 and res.options["curve_points"] == 100


# -- hyperparams (ch. 6.5) ---------------------------------------------------------------------
def hyper_opts(**kw):
    base = dict(
        train_samples=200,
        trials=8,
        epochs=4,
        hidden=(32, 32),
        lr_range=(1e-4, 1.0),
        top=4,
        region=3,
        eval_samples=500,
    )
    return hyperparams.Options(**{**base, **kw})


def test_hyperparams_search_uses_validation_and_reruns_the_best(src, tmp_path):
    opts = hyper_opts()
    res = run_sweep(hyperparams.build(opts, info(src)), tmp_path, source=src, jobs=0)
    assert_summary_numbers_in_results(tmp_path)
    search = [t for t in res.trials if t["group"] != hyperparams.RERUN]
    assert len(search) == 8 and [t["seed"] for t in search] == [0] * 8
    for t in search:
        # The search sees 160 training images, is judged on 40 held out, never on the test set.
        assert "val_acc" in t["final"] and "test_acc" not in t["final"]
        assert "test_acc" not in t["curve"] and t["subset"]["validation"] == 0.2
        assert 1e-4 <= t["tags"]["lr"] <= 1.0 and 1e-8 <= t["tags"]["weight_decay"] <= 1e-4
        assert t["train"]["lr"] == t["tags"]["lr"]
    # The draws are seeded and recorded: the same seed draws the same values.
    assert [(t["tags"]["lr"], t["tags"]["weight_decay"]) for t in search] == hyperparams._draws(
        opts
    )
    assert hyperparams._draws(opts) != hyperparams._draws(hyper_opts(draw_seed=1))
    # Stage two: the best draw (by validation accuracy) on the full set, measured on the test set.
    best = max(search, key=lambda t: (t["final"]["val_acc"], -t["final"]["val_loss"]))
    (rerun,) = [t for t in res.trials if t["group"] == hyperparams.RERUN]
    assert rerun["subset"] == {} and "test_acc" in rerun["final"]
    assert rerun["train"]["lr"] == best["tags"]["lr"]
    assert rerun["tags"]["draw"] == best["tags"]["draw"]
    text = (tmp_path / "summary.md").read_text()
    test = res.group(hyperparams.RERUN)["metrics"]["final.test_acc"]["mean"]
    assert "trained on all 400 training images for 4 epochs (1 seed)" in text
    assert f"test accuracy {test:.3f}" in text
    assert "the search never touches the test set" in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["options"]["rerun"]["text"] == "4 epochs"


# Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
@pytest.mark.slow
def test_hyperparams_resumes_both_stages_and_extends_the_search(src, tmp_path):
    seen = []
    build = hyperparams.build(hyper_opts(trials=4), info(src))
    run_sweep(build, tmp_path, source=src, jobs=0, on_trial=lambda r, c: seen.append(c))
    assert seen == [False] * 5
    seen.clear()
    run_sweep(build, tmp_path, source=src, jobs=0, on_trial=lambda r, c: seen.append(c))
    assert seen == [True] * 5  # each trial reported once, none re-run
    seen.clear()
    # More trials with the same draw seed: the first four draws are the same, so reused.
    more = hyperparams.build(hyper_opts(trials=6), info(src))
    run_sweep(more, tmp_path, source=src, jobs=0, on_trial=lambda r, c: seen.append(c))
    assert seen[:4] == [True] * 4 and seen[4:6] == [False] * 2 and len(seen) == 7


def test_an_interrupted_second_stage_keeps_the_first(src, tmp_path):
    def interrupted(res):
        raise KeyboardInterrupt

    sweep = dataclasses.replace(
        hyperparams.build(hyper_opts(trials=3), info(src)), then=interrupted
    )
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path, source=src, jobs=0)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [t["group"] for t in saved["trials"]] == ["draw 1", "draw 2", "draw 3"]
    assert "Not finished yet: run the command again" in (tmp_path / "summary.md").read_text()


def test_hyperparams_without_rerun(src, tmp_path):
    res = run_sweep(
        hyperparams.build(hyper_opts(rerun=False), info(src)), tmp_path, source=src, jobs=0
    )
    assert all(t["group"] != hyperparams.RERUN for t in res.trials)
    assert "Not run (--no-rerun)." in (tmp_path / "summary.md").read_text()


# -- option errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["batchnorm", "--scales", "0.1,0"], "--scales values must be positive"),
        (["batchnorm", "--train-samples", "0"], "--train-samples must be between 1"),
        (["overfit", "--dropout", "1.5"], "--dropout must be between 0 and 1"),
        (["overfit", "--weight-decay", "0"], "--weight-decay must be a positive number"),
        (["overfit", "--epochs", "x"], "--epochs must be a number"),
        (["hyperparams", "--lr-range", "0.1"], "--lr-range must be two numbers LOW,HIGH"),
        (["hyperparams", "--weight-decay-range", "1e-4,1e-8"], "LOW < HIGH"),
        (["hyperparams", "--trials", "0"], "--trials must be at least 1"),
        (["hyperparams", "--validation", "1"], "--validation must be between 0 and 1"),
        (["hyperparams", "--rerun-epochs", "0"], "--rerun-epochs must be a positive number"),
    ],
)
def test_cli_option_errors(argv, message, capsys, tmp_path):
    out = ["--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]
    assert main(["sweep", *argv, *out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


# -- the book's settings on MNIST, with reduced budgets ----------------------------------------
def _run_cli(argv, out):
    assert main(["sweep", *argv, "--out", str(out), "--jobs", "1"]) == 0
    assert_summary_numbers_in_results(out)
    return json.loads((out / "results.json").read_text())


@pytest.mark.slow
@MNIST
def test_batchnorm_on_mnist(tmp_path):
    data = _run_cli(
        ["batchnorm", "--scales", "1,0.01,0.0001", "--epochs", "4", "--seeds", "0,1"], tmp_path
    )
    groups = {g["group"]: g["metrics"]["final.train_acc"]["mean"] for g in data["groups"]}
    assert data["options"]["n_train"] == 1000
    # The book's figure at W = 0.0001: BN learns, the plain net stays near chance.
    assert groups["BN, W 0.0001"] > 0.3 and groups["no BN, W 0.0001"] < 0.2


@pytest.mark.slow
@MNIST
def test_overfit_on_mnist(tmp_path):
    argv = ["overfit", "--epochs", "100", "--seeds", "0", "--curve-points", "20"]
    data = _run_cli([*argv, "--eval-samples", "1000"], tmp_path)
    none = data["groups"][0]["metrics"]
    assert data["options"]["n_train"] == 300
    assert none["final.train_acc"]["mean"] > 0.9 and none["final.gap"]["mean"] > 0.15


@pytest.mark.slow
@MNIST
def test_hyperparams_on_mnist(tmp_path):
    data = _run_cli(
        ["hyperparams", "--trials", "6", "--epochs", "5", "--rerun-epochs", "0.5"], tmp_path
    )
    assert data["options"]["n_train"] == 400
    search = [t for t in data["trials"] if t["group"] != hyperparams.RERUN]
    assert len(search) == 6 and all("test_acc" not in t["final"] for t in search)
    (rerun,) = [t for t in data["trials"] if t["group"] == hyperparams.RERUN]
    assert rerun["epochs"] == 0.5 and math.isfinite(rerun["final"]["test_acc"])
    assert rerun["updates"] == 300  # half an epoch of the full 60,000


def test_hyperparams_with_seeds_judges_the_winner_against_the_noise(src, tmp_path):
    opts = hyper_opts(trials=6, seeds=(0, 1), rerun=False)
    res = run_sweep(hyperparams.build(opts, info(src)), tmp_path, source=src, jobs=0)
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    # Draws 5 and 3 (lr 0.55 and 0.448) are a few validation images apart, seeds 0.12 apart.
    first, second = hyperparams._ranked(res)[:2]
    assert {first["tags"]["draw"], second["tags"]["draw"]} == {3, 5}
    assert "In 4 epochs, the best draw against the second best: within the seed noise" in text
    assert "One seed per draw" not in text
