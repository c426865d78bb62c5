"""Sweep engine and the three sweeps, on tiny synthetic data (no MNIST needed)."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re

import numpy as np
import pytest

from _sweep_helpers import assert_summary_numbers_in_results, blobs, info, strip_timing
from scratchdl.cli import main
from scratchdl.errors import ConfigError
from scratchdl.experiments import batch_size, depth_width, lr, trial
from scratchdl.experiments.config import Variant, parse_int_list, parse_variants
from scratchdl.experiments.data import ArraySource
from scratchdl.experiments.declare import verdict
from scratchdl.experiments.engine import run_sweep
from scratchdl.experiments.trial import TrialSpec, run_trial
from scratchdl.nets import MultiLayerNet


@pytest.fixture(scope="module")
def src() -> ArraySource:
    return blobs()


def small_batch_sweep(source: ArraySource, **kw):
    # He init: these tests are about the engine, and the blobs learn in few updates with it.
    opts = dict(
        values=(10, 50),
        epochs=2,
        seeds=(0, 1),
        budget_seconds=1e-6,
        hidden=(16,),
        init="he",
        eval_samples=100,
        curve_points=5,
    )
    opts.update(kw)
    return batch_size.build(batch_size.Options(**opts), info(source))


# -- trials ------------------------------------------------------------------------------------
def test_trial_key_depends_on_what_changes_the_result(src):
    sweep = small_batch_sweep(src)
    a = sweep.trials[0]
    same = TrialSpec(**{**a.__dict__, "group": "renamed", "tags": {"x": 1}})
    assert same.key == a.key  # labels do not change results
    assert TrialSpec(**{**a.__dict__, "seed": 7}).key != a.key
    assert TrialSpec(**{**a.__dict__, "train": dataclasses.replace(a.train, lr=0.2)}).key != a.key
    assert TrialSpec(**{**a.__dict__, "data": "other"}).key != a.key
    assert len({t.key for t in sweep.trials}) == len(sweep.trials)


def test_trial_keys_and_records_stay_those_of_stored_results():
    # A stored trial is reused when its key matches: the keys (and the settings a trial
    # records) of the default plans must not change when the code that builds them does.
    data = {"name": "mnist", "n_train": 60000, "classes": 10, "features": 784}
    a = lr.build(lr.Options(), data).trials[0]
    assert a.key == "1d24fbab26626005"
    assert a.to_dict()["train"] == {
        "hidden": [50],
        "activation": "relu",
        "init": 0.01,
        "optimizer": "sgd",
        "lr": 0.001,
        "batch_size": 100,
        "weight_decay": 0.0,
        "dtype": "float32",
        "sampling": "shuffle",
    }
    assert depth_width.build(depth_width.Options(), data).trials[0].key == "41e43f9d215f4742"


def test_trial_checkpoints_are_where_the_plan_says(src):
    sweep = small_batch_sweep(src, budget_seconds=0.05)
    spec = next(t for t in sweep.trials if t.train.batch_size == 10)
    row = run_trial(spec, src.load())
    res = row["results"]
    # --epochs 2 is 2 epochs as the Trainer counts them (400 // 10 updates each): the budget.
    assert res["epochs"]["samples"] == 800 and res["epochs"]["epochs"] == 2.0
    assert res["final"]["updates"] == res["epochs"]["updates"] == 80
    assert res["updates"]["updates"] == sweep.options["checkpoints"]["updates"]["updates"] == 16
    assert res["time"]["seconds"] >= 0.05
    assert row["final"]["updates"] == max(r["updates"] for r in res.values())
    # Learning curve starts untrained and is evaluated on the subsample.
    assert row["curve"]["updates"][0] == 0 and row["curve"]["epochs"][-1] == row["epochs"]
    assert row["final"]["test_acc"] > 0.6 > row["curve"]["test_acc"][0]
    assert row["timing"]["seconds_per_update"] > 0


def test_trial_is_deterministic_given_its_seed(src):
    spec = small_batch_sweep(src).trials[1]
    a, b = run_trial(spec, src.load()), run_trial(spec, src.load())
    assert strip_timing(a) == strip_timing(b)
    other = run_trial(TrialSpec(**{**spec.__dict__, "seed": 5}), src.load())
    assert strip_timing(other)["final"] != strip_timing(a)["final"]


def test_divergence_is_recorded_not_raised(src):
    spec = lr.build(
        lr.Options(values=(1e4,), iters=30, seeds=(0,), hidden=(16,), eval_samples=50), info(src)
    ).trials[0]
    row = run_trial(spec, src.load())
    assert row["status"] == "diverged"
    assert row["final"]["train_loss"] is None and row["final"]["reached"] is False
    json.dumps(row, allow_nan=False)  # storable


@pytest.mark.slow
# -- engine: outputs, resume, parallel ---------------------------------------------------------
def test_batch_size_sweep_writes_every_output(src, tmp_path):
    sweep = small_batch_sweep(src)
    res = run_sweep(sweep, tmp_path, source=src, jobs=0)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["sweep"] == "batch-size" and len(data["trials"]) == 4
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(int(r["tag.batch_size"]), int(r["seed"])) for r in rows] == [
        (10, 0),
        (10, 1),
        (50, 0),
        (50, 1),
    ]
    for r, t in zip(rows, data["trials"], strict=True):
        assert float(r["results.epochs.test_acc"]) == t["results"]["epochs"]["test_acc"]
    g = res.group("batch 10")["metrics"]["results.epochs.test_acc"]
    vals = [
        t["results"]["epochs"]["test_acc"] for t in data["trials"] if t["tags"]["batch_size"] == 10
    ]
    assert g["mean"] == pytest.approx(np.mean(vals)) and g["std"] == pytest.approx(
        np.std(vals, ddof=1)
    )
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(batch_size.FIGURES)
    assert all((tmp_path / p).stat().st_size > 10_000 for p in pngs)
    assert len(list((tmp_path / "trials").glob("*.json"))) == 4


def test_resume_skips_finished_trials(src, tmp_path):
    sweep = small_batch_sweep(src)
    seen: list[tuple[str, bool]] = []
    run_sweep(sweep, tmp_path, source=src, jobs=0, figures=False)
    trial_files = sorted((tmp_path / "trials").glob("*.json"))
    stamps = {p: p.stat().st_mtime_ns for p in trial_files}
    trial_files[0].unlink()
    run_sweep(
        sweep,
        tmp_path,
        source=src,
        jobs=0,
        figures=False,
        on_trial=lambda r, c: seen.append((r["key"], c)),
    )
    assert sorted(c for _, c in seen) == [False, True, True, True]
    assert [k for k, c in seen if not c] == [trial_files[0].stem]
    for p in trial_files[1:]:
        assert p.stat().st_mtime_ns == stamps[p]
    # Changing one option re-runs only what it changes: a new seed adds two trials.
    seen.clear()
    run_sweep(
        small_batch_sweep(src, seeds=(0, 1, 2)),
        tmp_path,
        source=src,
        jobs=0,
        figures=False,
        on_trial=lambda r, c: seen.append((r["group"], c)),
    )
    assert sorted(g for g, c in seen if not c) == ["batch 10", "batch 50"]
    assert len(json.loads((tmp_path / "results.json").read_text())["trials"]) == 6


def test_unreadable_trial_file_is_rerun(src, tmp_path):
    sweep = small_batch_sweep(src, values=(50,), seeds=(0,))
    run_sweep(sweep, tmp_path, source=src, jobs=0, figures=False)
    path = next((tmp_path / "trials").glob("*.json"))
    path.write_text("{truncated")
    seen = []
    run_sweep(
        sweep, tmp_path, source=src, jobs=0, figures=False, on_trial=lambda r, c: seen.append(c)
    )
    assert seen == [False] and json.loads(path.read_text())["key"] == path.stem


def test_trial_of_an_older_format_is_rerun(src, tmp_path, monkeypatch):
    sweep = small_batch_sweep(src, values=(50,), seeds=(0,))
    monkeypatch.setattr(trial, "TRIAL_FORMAT", trial.TRIAL_FORMAT - 1)
    run_sweep(sweep, tmp_path, source=src, jobs=0, figures=False)
    (old,) = (tmp_path / "trials").glob("*.json")
    monkeypatch.undo()
    seen = []
    run_sweep(
        sweep, tmp_path, source=src, jobs=0, figures=False, on_trial=lambda r, c: seen.append(c)
    )
    assert seen == [False] and sweep.trials[0].key != old.stem


def test_the_curve_is_the_trainers_records(src):
    # One record format: the learning curve is the Trainer's History, one point at the
    # start, one per curve step (in samples) and one where the last checkpoint is reached.
    spec = small_batch_sweep(src, values=(50,), seeds=(0,), curve_points=3).trials[0]
    row = run_trial(spec, src.load())
    curve = row["curve"]
    # 16 updates of 50 make the run's 800 samples: a point every 800 // 3 = 266 of them.
    assert curve["updates"] == [0, 6, 11, 16]
    assert curve["samples"] == [50 * u for u in curve["updates"]]
    assert curve["epochs"] == [u / 8 for u in curve["updates"]]  # 400 // 50 updates an epoch
    assert curve["batch_loss"][0] is None and all(v > 0 for v in curve["batch_loss"][1:])
    assert curve["seconds"][0] == 0.0 and curve["seconds"] == sorted(curve["seconds"])
    assert curve["updates"][-1] == row["results"]["final"]["updates"] == row["updates"]


@pytest.mark.slow
def test_jobs_two_gives_the_same_results_as_jobs_one(src, tmp_path):
    # Budget 1e-6 s: the time checkpoint is update 1 for all. 200 epochs: each trial lasts long
    # enough (about a second) for the second worker to have started before the first is done.
    sweep = small_batch_sweep(src, epochs=200)
    one = run_sweep(sweep, tmp_path / "one", source=src, jobs=1, figures=False)
    two = run_sweep(sweep, tmp_path / "two", source=src, jobs=2, figures=False)
    assert [strip_timing(t) for t in one.trials] == [strip_timing(t) for t in two.trials]
    assert len({t["process"]["pid"] for t in two.trials}) == 2
    # Each worker loaded the data once, for its first trial, and reused it for the others.
    for res in (one, two):
        pids = {t["process"]["pid"] for t in res.trials}
        assert sum(t["process"]["loaded_data"] for t in res.trials) == len(pids)
        assert len(res.trials) > len(pids)
    for t in one.trials + two.trials:
        assert set(t["process"]["blas_threads"].values()) == {"1"}
    # The parent's environment is restored after the workers started.
    assert os.environ.get("OPENBLAS_NUM_THREADS") != "1" or "OPENBLAS_NUM_THREADS" in os.environ


@pytest.mark.slow
def test_interrupted_parallel_sweep_stops_its_workers_and_keeps_finished_trials(src, tmp_path):
    import multiprocessing
    import time

    def ctrl_c(row, cached):
        raise KeyboardInterrupt

    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            small_batch_sweep(src, epochs=30),
            tmp_path,
            source=src,
            jobs=2,
            figures=False,
            on_trial=ctrl_c,
        )
    # The other worker's trial (30 epochs) is stopped, not awaited.
    assert time.perf_counter() - start < 20
    assert multiprocessing.active_children() == []
    assert len(list((tmp_path / "trials").glob("*.json"))) == 1  # written before the callback


# -- summaries: every number comes from results.json ------------------------------------------
@pytest.mark.slow
def test_batch_size_summary_matches_results(src, tmp_path):
    run_sweep(small_batch_sweep(src, budget_seconds=0.02), tmp_path, source=src, jobs=0)
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    data = json.loads((tmp_path / "results.json").read_text())
    # Recompute each table row's accuracies from the raw per-seed trials.
    rows = re.findall(r"^\| (\d+) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| (.+) \|$", text, re.M)
    assert [int(b) for b, _ in rows] == [10, 50]
    for b, cells in rows:
        for check, cell in zip(batch_size.CHECKS, cells.split(" | "), strict=True):
            mean, std = (float(x) for x in cell.split(" ± "))
            vals = [
                t["results"][check]["test_acc"]
                for t in data["trials"]
                if t["tags"]["batch_size"] == int(b)
            ]
            assert mean == pytest.approx(np.mean(vals), abs=5e-4)
            assert std == pytest.approx(np.std(vals, ddof=1), abs=5e-4)
    assert "Equal epochs" in text and "Equal updates" in text and "Equal time" in text
    assert "seed noise is unknown" not in text
    # Every claim of a winner says what the seed noise allows.
    for line in text.splitlines():
        if "reached the highest mean test accuracy" in line:
            assert "seed noise" in line


def test_batch_size_names_the_checkpoint_that_outlasts_the_budget(src, tmp_path):
    # 0.05 s of training takes the blobs (400 examples) many epochs past the 2-epoch budget.
    res = run_sweep(
        small_batch_sweep(src, budget_seconds=0.05), tmp_path, source=src, jobs=0, figures=False
    )
    assert res.options["beyond_budget"] == (
        "runs also train until 0.05 s of training (equal time), past their budget of 2 epochs "
        "if they finish it sooner"
    )
    for t in res.trials:  # the budget checkpoint is the budget, whatever came after it
        assert t["results"]["final"]["epochs"] == 2.0 and t["epochs"] > 2.0
    said = json.loads((tmp_path / "results.json").read_text())["findings"]["said"]
    extra = said[1]["values"]
    assert said[1]["template"].startswith("Besides the budget of {budget}, runs trained on until")
    assert extra["seconds"] == 0.05 and extra["trained_epochs"] == [
        res.group(f"batch {b}")["metrics"]["final.epochs"]["mean"] for b in (10, 50)
    ]
    text = (tmp_path / "summary.md").read_text()
    assert "Besides the budget of 2 epochs, runs trained on until 0.05 s of training" in text
    assert_summary_numbers_in_results(tmp_path)


def test_one_seed_batch_summary_warns_that_noise_is_unknown(src, tmp_path):
    run_sweep(small_batch_sweep(src, seeds=(0,)), tmp_path, source=src, jobs=0, figures=False)
    text = (tmp_path / "summary.md").read_text()
    assert "With one seed per batch size the seed noise is unknown" in text
    assert "within the seed noise" not in text and "more than the seed noise" not in text


def test_batch_size_uses_the_network_of_scratchdl_train(src):
    sweep = batch_size.build(batch_size.Options(values=(10,), seeds=(0,)), info(src))
    train = sweep.trials[0].train
    assert (train.hidden, train.activation, train.init) == ((50,), "relu", 0.01)
    assert (train.optimizer, train.lr, train.sampling) == ("sgd", 0.1, "shuffle")
    assert sweep.options["budget"]["text"] == "2 epochs"
    assert sweep.trials[0].checkpoints["final"] == {"epochs": 2.0}


def depth_width_run(src, tmp_path, **kw):
    opts = dict(seeds=(0, 1), batch_size=20, eval_samples=100, curve_points=10)
    opts.update(kw)
    return run_sweep(
        depth_width.build(depth_width.Options(**opts), info(src)), tmp_path, source=src, jobs=0
    )


@pytest.mark.slow
def test_depth_width_shows_failure_and_fix(src, tmp_path):
    res = depth_width_run(src, tmp_path, depths=(1, 4), widths=(16,), epochs=6)
    assert len(res.trials) == 3 * 2 * 2
    cells = {(c["variant"], c["depth"]): c for c in depth_width._cells(res)}
    assert cells["relu+he", 4]["verdict"].kind == "learned"
    assert cells["relu+he", 4]["acc"]["mean"] > 0.6
    for variant in ("sigmoid+0.01", "sigmoid+xavier"):
        assert cells[variant, 4]["verdict"].kind != "learned"
        assert cells[variant, 4]["acc"]["mean"] < 0.2
    # The vanishing gradient, measured: W1's gradient is far smaller than the last layer's.
    assert cells["sigmoid+0.01", 4]["ratio"] > 100 > 10 > cells["relu+he", 4]["ratio"]
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "**relu+he** learned in 6 epochs at every depth and width" in text
    assert "no depth-4 sigmoid+xavier net learned, while shallower ones did" in text
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(depth_width.FIGURES)


@pytest.mark.slow
def test_depth_width_says_not_yet_while_the_loss_still_falls(src, tmp_path):
    # The case on synthetic data: a deep sigmoid+Xavier net at chance whose loss is
    # still falling "had not learned yet", never "did not train"; a longer run shows it learns.
    grid = dict(depths=(4,), widths=(16,), variants=("sigmoid+xavier",))
    res = depth_width_run(src, tmp_path / "short", epochs=60, **grid)
    (cell,) = depth_width._cells(res)
    assert cell["acc"]["mean"] < 0.15 and cell["verdict"].kind == "learning"
    assert cell["last"] < cell["first"]
    text = (tmp_path / "short" / "summary.md").read_text()
    assert (
        "At depth 4, sigmoid+xavier had not learned yet in 60 epochs, loss still falling: "
        "try more epochs (--epochs)"
    ) in text
    assert "did not train" not in text.split("## Does a deep net learn")[1]  # only defined
    assert_summary_numbers_in_results(tmp_path / "short")
    (longer,) = depth_width._cells(depth_width_run(src, tmp_path / "long", epochs=150, **grid))
    assert longer["verdict"].kind == "learned" and longer["acc"]["mean"] > 0.2


@pytest.mark.parametrize(
    ("depths", "widths", "claim"),
    [
        ((1,), (8, 32), "For relu+he: Only widening was tried, in 1 epoch: widening changed"),
        ((1, 2), (16,), "For relu+he: Only deepening was tried, in 1 epoch: deepening changed"),
        ((2,), (16,), "For relu+he: One depth and one width: nothing to compare"),
    ],
)
def test_depth_width_answer_never_compares_what_was_not_varied(
    src, tmp_path, depths, widths, claim
):
    opts = depth_width.Options(
        depths=depths,
        widths=widths,
        epochs=1,
        seeds=(0,),
        batch_size=20,
        eval_samples=50,
        curve_points=3,
        variants=("relu+he",),
    )
    run_sweep(depth_width.build(opts, info(src)), tmp_path, source=src, jobs=0, figures=False)
    text = (tmp_path / "summary.md").read_text()
    answer = text.split("## Answer")[1]
    assert claim in answer
    assert "Both helped" not in answer and "Neither" not in answer
    assert ("Deeper, at" in text) == (len(depths) > 1)
    assert ("Wider, at" in text) == (len(widths) > 1)
    said = json.loads((tmp_path / "results.json").read_text())["findings"]["said"]
    values = next(x["values"] for x in said if x["template"].startswith("For {variant}"))
    assert ("deepening" in values) == (len(depths) > 1)
    assert ("widening" in values) == (len(widths) > 1)


@pytest.mark.parametrize(
    ("changes", "match", "expected"),
    [
        # A change is called help or harm only beyond the seed noise.
        (
            [("deepening", -0.05, "smaller"), ("widening", 0.01, "larger")],
            False,
            "In {budget}, only widening helped: deepening changed test accuracy by "
            "{deepening:+.3f} (more than the seed noise) and widening changed test accuracy by "
            "{widening:+.3f} (more than the seed noise).",
        ),
        ([("deepening", 0.02, "larger"), ("widening", 0.01, "larger")], False, "Both helped"),
        ([("deepening", -0.02, "smaller"), ("widening", -0.01, "smaller")], False, "Neither"),
        (
            [("deepening", 0.004, "within noise"), ("widening", -0.003, "within noise")],
            False,
            "In {budget}, neither changed test accuracy by more than the seed noise: deepening "
            "changed test accuracy by {deepening:+.3f} (within the seed noise)",
        ),
        (
            [("deepening", 0.04, "one seed"), ("widening", 0.03, "one seed")],
            False,
            "with one seed per net neither change can be told from noise",
        ),
        ([("deepening", -0.02, "smaller")], True, "the deep-narrow net fell behind"),
        ([("deepening", 0.03, "larger")], True, "the deep-narrow net beat the shallow-wide one"),
        ([("deepening", 0.01, "within noise")], True, "could not be told apart"),
    ],
)
def test_depth_width_answer_claims_only_beyond_the_seed_noise(changes, match, expected):
    assert expected in depth_width._answer(changes, match)


@pytest.mark.slow
def test_depth_width_matched_params_and_no_layer_stats(src, tmp_path):
    res = depth_width_run(
        src,
        tmp_path,
        depths=(1, 3),
        widths=(32,),
        epochs=1,
        seeds=(0,),
        variants=("relu+he",),
        match_params=True,
        layer_stats=False,
    )
    target = depth_width.param_count(16, 1, 32, 10)
    widths = {g["tags"]["depth"]: g["tags"]["width"] for g in res.groups}
    assert widths == {1: 32, 3: depth_width.matched_width(target, 16, 3, 10)}
    for g in res.groups:  # every column is the same parameter budget
        assert g["tags"]["column"] == f"~{target} params"
        assert abs(g["tags"]["params"] - target) < 0.1 * target
    assert all(t["layer_stats"] is None for t in res.trials)
    assert "depth_width_layers.png" not in {p.name for p in tmp_path.glob("*.png")}
    text = (tmp_path / "summary.md").read_text()
    assert f"Deeper, at ~{target} params" in text and "At about the same number of" in text
    assert_summary_numbers_in_results(tmp_path)


def test_single_batch_size_summary_draws_no_comparison(src, tmp_path):
    run_sweep(
        small_batch_sweep(src, values=(50,), seeds=(0,)),
        tmp_path,
        source=src,
        jobs=0,
        figures=False,
    )
    text = (tmp_path / "summary.md").read_text()
    assert "Batch 50 took" in text and "ms per update" in text
    assert "Only one batch size was run, so there is nothing to compare" in text
    assert "fastest" not in text and "slowest" not in text
    assert "± 0.000" not in text  # one seed has a mean, not a spread
    assert_summary_numbers_in_results(tmp_path, minimum=5)


@pytest.mark.slow
def test_lr_sweep_summary(src, tmp_path):
    opts = lr.Options(
        values=(1e-4, 0.1, 1e4),
        epochs=3,
        seeds=(0, 1),
        hidden=(16,),
        init="he",
        eval_samples=100,
        curve_points=12,
    )
    res = run_sweep(lr.build(opts, info(src)), tmp_path, source=src, jobs=0)
    kinds = {g["group"]: verdict(res, g).kind for g in res.groups}
    # The smallest rate's loss still falls, slowly: "not learned yet", never "did not train".
    assert kinds == {"lr 0.0001": "learning", "lr 0.1": "learned", "lr 10000": "diverged"}
    assert [g["diverged"] for g in res.groups] == [0, 0, 2]
    assert_summary_numbers_in_results(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    best = res.group("lr 0.1")["metrics"]["final.test_acc"]
    assert f"Best in 3 epochs: lr 0.1 reached {best['mean']:.3f} ± {best['std']:.3f}" in text
    assert "lr 0.0001 had not learned yet in 3 epochs, loss still falling: try more" in text
    assert "lr 10000 diverged in 3 epochs" in text
    assert "did not train" not in text


# -- helpers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_matched_width_hits_the_parameter_budget(depth):
    target = depth_width.param_count(784, 1, 64, 10)
    w = depth_width.matched_width(target, 784, depth, 10)
    net = MultiLayerNet(784, [w] * depth, 10, rng=0)
    assert sum(p.size for p in net.params.values()) == depth_width.param_count(784, depth, w, 10)
    step = depth_width.param_count(784, depth, w + 1, 10) - depth_width.param_count(
        784, depth, w, 10
    )
    assert abs(depth_width.param_count(784, depth, w, 10) - target) <= step / 2 + 1


def test_option_parsers():
    assert parse_int_list("10, 100", "--values") == (10, 100)
    assert parse_variants("sigmoid+0.01,relu+he") == (
        Variant("sigmoid", 0.01),
        Variant("relu", "he"),
    )
    for bad in ("", "10,", "a", "0", "10,10"):
        with pytest.raises(ConfigError):
            parse_int_list(bad, "--values")
    assert batch_size.scaled_lr(0.1, 400, "linear") == pytest.approx(0.4)
    assert batch_size.scaled_lr(0.1, 400, "sqrt") == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"values": (10, 5000)}, "larger than the 400"),
        ({"epochs": 2, "iters": 3}, "not both"),
        ({"lr": -1.0}, "positive"),
        ({"lr_scaling": "cubic"}, "--lr-scaling"),
        ({"budget_seconds": 0.0}, "--budget-seconds"),
    ],
)
def test_batch_size_rejects_bad_options(src, kw, message):
    with pytest.raises(ConfigError, match=message):
        small_batch_sweep(src, **kw)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "batch-size", "--values", "10,x"], "--values"),
        (["sweep", "batch-size", "--lr", "-0.1"], "learning rate must be a positive number"),
        (["sweep", "lr", "--values", "0.1,-1"], "positive finite"),
        (["sweep", "depth-width", "--variants", "tanh+he"], "relu+he"),
        (["sweep", "depth-width", "--jobs", "-1"], "--jobs"),
        (["sweep", "lr", "--optimizer", "nope"], "--optimizer must be one of sgd"),
    ],
)
def test_cli_reports_one_readable_error(argv, message, capsys, tmp_path):
    # Options are checked before any data is loaded: these need no MNIST.
    assert main([*argv, "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_cli_unknown_sweep_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "width"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR unset")
def test_cli_lr_sweep_on_mnist(tmp_path, capsys):
    out = tmp_path / "lr"
    argv = [
        "sweep",
        "lr",
        "--values",
        "0.1,1000",
        "--iters",
        "40",
        "--seeds",
        "0",
        "--eval-samples",
        "200",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["data"]["n_train"] == 60000 and data["data"]["n_test"] == 10000
    (best,) = [  # "Best in 40 updates: lr 0.1 reached ..."
        said["values"] for said in data["findings"]["said"] if said["template"].startswith("Best")
    ]
    assert best["lr"] == 0.1 and best["acc"]["mean"] > 0.3
    assert_summary_numbers_in_results(out)
    assert main(argv) == 0  # resumed: nothing re-run
    assert capsys.readouterr().out.count("(cached)") == 2
    assert math.isfinite(data["trials"][0]["final"]["train_loss"])


@pytest.mark.parametrize(
    ("sweep", "flags"),
    [
        (
            "batch-size",
            ["--values", "--updates", "--budget-seconds", "--lr-scaling", "--lr-reference"],
        ),
        (
            "depth-width",
            ["--depths", "--widths", "--variants", "--match-params", "--no-layer-stats"],
        ),
    ],
)
def test_sweep_flags_come_from_the_options(sweep, flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", sweep, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 0
    assert "--epochs EPOCHS train each run for this many epochs (default: 2 epochs)" in text
    for flag in [*flags, "--iters", "--seeds", "--optimizer", "--jobs", "--out", "--data-dir"]:
        assert flag in text
    # Each sweep sets these itself: the batch sizes are --values, the nets --depths/--widths.
    own = ["--batch-size"] if sweep == "batch-size" else ["--hidden", "--activation", "--init"]
    assert not [flag for flag in own if f"{flag} " in text]


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR unset")
def test_cli_depth_width_on_mnist_says_not_yet_for_a_falling_loss(tmp_path):
    # The example: sigmoid+Xavier 4x64 is at chance after 2 epochs (it reaches 0.53 in
    # 8) and its loss is still falling: "had not learned yet", not "did not train".
    out = tmp_path / "dw"
    argv = ["sweep", "depth-width", "--variants", "sigmoid+xavier", "--depths", "4"]
    argv += ["--widths", "64", "--epochs", "2", "--seeds", "0,1", "--out", str(out)]
    assert main(argv) == 0
    text = (out / "summary.md").read_text()
    findings = text.split("## Does a deep net learn")[1]
    assert "At depth 4, sigmoid+xavier had not learned yet in 2 epochs, loss still falling" in (
        findings
    )
    assert "did not train" not in findings
    assert_summary_numbers_in_results(out)
    assert sorted(p.name for p in out.glob("*.png")) == sorted(depth_width.FIGURES)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR unset")
def test_cli_batch_size_on_mnist_names_its_extra_checkpoint(tmp_path, capsys):
    out = tmp_path / "bs"
    argv = ["sweep", "batch-size", "--values", "100,1000", "--epochs", "0.2", "--seeds", "0"]
    argv += ["--budget-seconds", "0.5", "--eval-samples", "200", "--out", str(out)]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert printed.startswith(
        f"sweep batch-size: 2 runs of 0.2 epochs, 1 job(s) -> {out}; runs also train until "
        "0.5 s of training (equal time), past their budget of 0.2 epochs if they finish it sooner"
    )
    data = json.loads((out / "results.json").read_text())
    for t in data["trials"]:  # 0.2 epochs as the Trainer counts them: 600 // batch per epoch
        assert t["results"]["final"]["updates"] == math.ceil(
            0.2 * (60000 // t["train"]["batch_size"])
        )
    assert "Besides the budget of 0.2 epochs, runs trained on until 0.5 s" in (
        (out / "summary.md").read_text()
    )
    assert_summary_numbers_in_results(out)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"layer_stats": True, "match_params": False, "seeds": (0, 1)}),
        (["--no-layer-stats", "--match-params"], {"layer_stats": False, "match_params": True}),
        (
            ["--layer-stats", "--variants", "relu+he"],
            {"layer_stats": True, "variants": ("relu+he",)},
        ),
        (["--depths", "1,3", "--epochs", "0.5"], {"depths": (1, 3), "epochs": 0.5}),
    ],
)
def test_depth_width_flags_parse_into_its_options(argv, expected):
    from scratchdl.cli import build_parser

    args = build_parser().parse_args(["sweep", "depth-width", *argv])
    opts, build = args.options(args)
    assert build is depth_width.build
    assert {k: getattr(opts, k) for k in expected} == expected
