"""The parts sweeps are declared with: options as flags, budgets, summaries, and a trial that
trains exactly what ``scratchdl train`` trains."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from _sweep_helpers import blobs, info
from scratchdl.cli._options import add_flags, options_from_args
from scratchdl.errors import ConfigError
from scratchdl.experiments import lr
from scratchdl.experiments.declare import Budget, Group, NetOptions, declare
from scratchdl.experiments.engine import SweepResults
from scratchdl.experiments.summary import Summary
from scratchdl.experiments.trial import run_trial
from scratchdl.train import TrainConfig, train


@pytest.fixture(scope="module")
def src():
    return blobs()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"hidden": (12, 12), "activation": "sigmoid", "init": "xavier", "batch_size": 32},
        {"hidden": (12, 12), "optimizer": "adam", "sampling": "replacement"},
        {"hidden": (12, 12), "batchnorm": True, "dropout": 0.2, "weight_decay": 0.01},
        # The 16 features seen as 4x4 images: augmentation and decay as train applies them.
        {"optimizer": "adam", "augment": "shift,rotate", "lr_decay": "cosine"},
    ],
)
def test_a_sweep_trial_trains_what_train_trains(src, changes):
    # `sweep` and `train` share their defaults and their random streams: the same settings
    # and seed give the same network, so the same accuracy, to the last digit.
    data = src.load()
    opts = NetOptions(epochs=2, seeds=(5,), eval_samples=50)
    group = Group("g", {}, opts.train(**changes))
    sweep = declare("t", "?", opts, info(src), [group], opts.budget(Budget(epochs=9)), None, None)
    row = run_trial(sweep.trials[0], data)
    net_changes = {k: v for k, v in changes.items() if k != "batch_size"}
    config = TrainConfig(epochs=2, seed=5, batch_size=changes.get("batch_size", 100), **net_changes)
    _, history = train(config, data=((data.x_train, data.t_train), (data.x_test, data.t_test)))
    assert row["updates"] == history.iterations == 2 * history.iter_per_epoch
    assert row["epochs"] == 2.0
    assert row["final"]["test_acc"] == history.last.test_acc
    assert row["final"]["train_loss"] == pytest.approx(history.last.train_loss, rel=1e-6)


def test_sweep_options_default_to_train_defaults():
    opts, config = NetOptions(), TrainConfig()
    settings = opts.train()
    assert settings == config and settings.hidden == (50,)
    assert (settings.init, settings.lr, settings.optimizer) == (0.01, 0.1, "sgd")
    # An optimizer without --lr gets train's rate for it (the book's ch. 6 defaults).
    assert opts.train(optimizer="adam").lr == 0.001


def test_budget_means_what_the_options_say():
    assert Budget(epochs=1).text == "1 epoch" and Budget(updates=2000).text == "2000 updates"
    assert NetOptions(epochs=1).budget(Budget(updates=5)) == Budget(epochs=1)
    assert NetOptions(iters=7).budget(Budget(epochs=2)) == Budget(updates=7)
    assert NetOptions().budget(Budget(epochs=2)) == Budget(epochs=2)
    with pytest.raises(ConfigError, match="--epochs or --iters, not both"):
        NetOptions(epochs=1, iters=3).budget(Budget(epochs=2))
    with pytest.raises(ConfigError, match="--epochs must be a positive number"):
        NetOptions(epochs=0).budget(Budget(epochs=2))


def test_one_epoch_is_one_epoch(src, tmp_path):
    opts = lr.Options(values=(0.1,), epochs=1, seeds=(0,), batch_size=32, eval_samples=50)
    sweep = lr.build(opts, info(src))
    row = run_trial(sweep.trials[0], src.load())
    assert row["updates"] == 400 // 32 and row["epochs"] == 1.0
    assert sweep.trials[0].checkpoints == {"final": {"epochs": 1.0}}


def _parse(argv):
    p = argparse.ArgumentParser()
    add_flags(p, lr.Options, defaults_note="2 epochs")
    return options_from_args(lr.Options, p.parse_args(argv))


def test_options_dataclass_is_the_command_line():
    opts = _parse(["--values", "0.1,1", "--hidden", "20,10", "--init", "he", "--epochs", "3"])
    assert opts == lr.Options(values=(0.1, 1.0), hidden=(20, 10), init="he", epochs=3.0)
    assert _parse([]) == lr.Options()
    assert _parse(["--init", "0.05", "--optimizer", "Adam"]).optimizer == "adam"
    assert _parse(["--hidden", "20", "--hidden", "10,5"]).hidden == (20, 10, 5)  # as train's


def test_train_flags_come_from_the_same_generator():
    p = argparse.ArgumentParser()
    add_flags(p, TrainConfig, exclusive=("epochs", "iters"))
    argv = ["--hidden", "30", "--no-batchnorm", "--activation", "Sigmoid", "--epochs", "2"]
    config = options_from_args(TrainConfig, p.parse_args(argv))
    assert config == TrainConfig(hidden=(30,), batchnorm=False, activation="sigmoid", epochs=2)
    assert "(default: 10000)" in p.format_help() and "{relu,sigmoid}" in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--epochs", "2", "--iters", "5"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--values", "0.1,x"], "--values: 'x' is not valid"),
        (["--hidden", "0"], "--hidden values must be >= 1"),
        (["--init", "huge"], "init must be 'he', 'xavier' or a positive std"),
        (["--batch-size", "1.5"], "--batch-size must be a whole number"),
        (["--activation", "tanh"], "--activation must be one of relu, sigmoid"),
        (["--seeds", "0,0"], "--seeds lists a value twice"),
    ],
)
def test_bad_flags_are_one_readable_error(argv, message):
    with pytest.raises(ConfigError, match=message):
        _parse(argv)


def _results(budget: Budget) -> SweepResults:
    return SweepResults("t", {"budget": budget.to_dict()}, [], [], {}, "Which?")


def test_summary_keeps_every_sentence_and_its_numbers():
    s = Summary(_results(Budget(epochs=2)), "Title")
    stat = {"mean": 0.91234, "std": 0.0123, "n": 3}
    s.bullet(
        "In {budget}, {name} reached {acc:pm} ({ratio:x}× faster).", name="a", acc=stat, ratio=4.06
    )
    s.say(
        "Loss {loss:loss}, lr {lr}, {n} runs, {who:list}.",
        loss=2.302585,
        lr=0.001,
        n=12,
        who=["x", "y", "z"],
    )
    s.table(["a", "b"], "{a} | {b:acc}", [{"a": 1, "b": 0.5}, {"a": 2, "b": None}])
    text, findings = s.done(["f.png"])
    assert "# Title\n\n**Question:** Which?" in text
    assert "- In 2 epochs, a reached 0.912 ± 0.012 (4.1× faster)." in text
    assert "Loss 2.303, lr 0.001, 12 runs, x, y and z." in text
    assert "| 1 | 0.500 |" in text and "| 2 | n/a |" in text
    assert "Figures: `f.png`" in text and "\n\n\n" not in text
    said = findings["said"]
    assert said[0]["values"] == {"budget": "2 epochs", "name": "a", "acc": stat, "ratio": 4.06}
    assert len(said) == 4 and findings["budget"]["epochs"] == 2
    json.dumps(findings, allow_nan=False)  # stored in results.json as it is


def test_declare_checks_the_plan(src):
    opts = NetOptions(seeds=(0, 1))
    g = Group("a", {}, opts.train())
    with pytest.raises(ConfigError, match="nothing to run"):
        declare("t", "?", opts, info(src), [], Budget(epochs=1), None, None)
    with pytest.raises(ConfigError, match="lists a value twice"):
        declare("t", "?", opts, info(src), [g, g], Budget(epochs=1), None, None)
    big = Group("b", {}, opts.train(batch_size=300))
    with pytest.raises(ConfigError, match="batch size 300 is larger than the 240 training"):
        declare(
            "t",
            "?",
            opts,
            info(src),
            [big],
            Budget(epochs=1),
            None,
            None,
            subset={"train_samples": 300, "validation": 0.2},
        )
    sweep = declare("t", "?", opts, info(src), [g], Budget(epochs=1), None, None)
    assert [t.seed for t in sweep.trials] == [0, 1] and sweep.options["chance"] == 0.1


def test_validation_split_never_touches_the_test_set(src):
    opts = NetOptions(seeds=(0,), eval_samples=1000)
    sub = {"train_samples": 300, "validation": 0.2}
    g = Group("a", {}, opts.train(hidden=(16,), init="he"))
    sweep = declare("t", "?", opts, info(src), [g], Budget(epochs=2), None, None, subset=sub)
    data = src.load()
    poisoned = type(data)(
        data.x_train, data.t_train, np.full_like(data.x_test, np.nan), data.t_test
    )
    row = run_trial(sweep.trials[0], poisoned)
    assert "test_acc" not in row["final"] and 0 <= row["final"]["val_acc"] <= 1
    assert row["updates"] == 2 * (240 // 100)
    assert np.isfinite(row["final"]["val_loss"])


def test_run_a_sweep_by_name_from_python(src, tmp_path):
    from scratchdl.experiments import SWEEPS, get_sweep, run

    res = run("lr", tmp_path, jobs=0, source=src, values=(0.1,), seeds=(0,), epochs=1)
    assert res.summary == (tmp_path / "summary.md").read_text()
    assert "Best in 1 epoch: lr 0.1 reached" in res.summary
    assert get_sweep("batch-size") is get_sweep("batch_size")
    for name in SWEEPS:  # every listed sweep is declared: the CLI builds its flags from these
        module = get_sweep(name)
        assert {"NAME", "HELP", "QUESTION", "BUDGET", "Options", "build"} <= set(vars(module))
    with pytest.raises(ConfigError, match="unknown sweep 'width': use one of batch-size"):
        get_sweep("width")


# -- sweep workers never outlive their sweep -------------------------------------------------------


_PARENT = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from scratchdl.experiments import engine

    def init_watchdog_only(parent):
        import threading
        threading.Thread(target=engine._watch_parent, args=(parent,), daemon=True).start()

    if __name__ == "__main__":
        init = engine._worker_init if sys.argv[1] == "full" else init_watchdog_only
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init, initargs=(os.getpid(),))
        futures = [pool.submit(time.sleep, 120) for _ in range(2)]
        time.sleep(3)
        print(" ".join(str(p) for p in pool._processes), flush=True)
        time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["full", "watchdog"])
def test_sweep_workers_exit_within_seconds_of_a_sigkilled_parent(tmp_path, mode):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True
    )
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


_SWEEP_PARENT = textwrap.dedent(
    """
    import sys

    if __name__ == "__main__":
        sys.path.insert(0, sys.argv[2])
        from test_sweep import blobs, small_batch_sweep
        from scratchdl.experiments.engine import run_sweep

        src = blobs()
        sweep = small_batch_sweep(src, epochs=100000, budget_seconds=1000.0)
        run_sweep(sweep, sys.argv[1], source=src, jobs=2, figures=False)
    """
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().split(")")[-1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_sigkilled_sweep_takes_its_workers_along(tmp_path):
    script = tmp_path / "sweep_parent.py"
    script.write_text(_SWEEP_PARENT)
    here = str(Path(__file__).resolve().parent)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path / "sweep"), here])
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline:
        # the spawn start method adds one resource tracker besides the two workers
        workers = [p for p in _children(parent.pid) if _alive(p)]
        if len(workers) >= 3:
            break
        time.sleep(0.2)
    assert len(workers) >= 3, workers
    time.sleep(1)  # the workers are training now
    assert parent.poll() is None and all(_alive(p) for p in workers)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


def test_the_sweep_pool_uses_the_worker_guard():
    import inspect

    from scratchdl.experiments import engine

    source = inspect.getsource(engine._run_pool)
    assert "initializer=_worker_init" in source and "initargs=(os.getpid(),)" in source
