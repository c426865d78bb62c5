"""A run folder is one run: whatever stops `scratchdl train` (Ctrl-C, SIGKILL, a full disk,
a second process), the folder holds the previous run or the new complete one, nothing is lost,
and the message is one line.

Child processes run ``tests/_fault_helpers.py`` (synthetic data, about 2-3 s each): those
tests are marked slow; the in-process ones are fast.
"""

import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import _fault_helpers as fh
from _fault_helpers import (
    RESUMABLE_FILES,
    RUN_FILES,
    SMALL,
    assert_loads,
    cli,
    evaluates,
    finished_run,
    history_of,
    no_traceback,
    one_line_error,
)

# -- Ctrl-C at named points of train (a child process paused by tests/_fault_helpers.py) -----------


@pytest.mark.slow
def test_sigint_during_training_saves_model_curves_and_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "run"
    code, _, err = fh.interrupt_at(tmp_path, "training", "train", "--out", str(out), *SMALL)
    assert code == 130 and "continue with: scratchdl train --out" in err
    no_traceback(err)
    assert set(fh.snapshot(out)) == RESUMABLE_FILES and fh.leftovers(out) == []
    assert history_of(out)["stop_reason"] == "interrupted"
    evaluates(tmp_path, out)  # model.npz of the last good weights, as --max-seconds writes
    r = fh.run(tmp_path, "train", "--out", str(out), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert set(fh.snapshot(out)) == RUN_FILES
    assert history_of(out)["iterations"] == 20


@pytest.mark.slow
def test_sigint_during_the_final_evaluation_keeps_the_run_resumable(tmp_path):
    out = tmp_path / "run"
    argv = ("train", "--out", str(out), "--eval-samples", "50", *SMALL)
    code, _, err = fh.interrupt_at(tmp_path, "final-evaluation", *argv)
    assert code == 130 and "interrupted during the final evaluation" in err
    no_traceback(err)
    assert set(fh.snapshot(out)) == RESUMABLE_FILES
    r = fh.run(tmp_path, "train", "--out", str(out), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    h = history_of(out)
    assert h["stop_reason"] == "completed" and h["info"]["final"]["n_test"] == 100
    assert set(fh.snapshot(out)) == RUN_FILES


@pytest.mark.slow
def test_sigint_during_the_final_evaluation_of_a_resumed_run(tmp_path):
    out = tmp_path / "run"
    argv = ("train", "--out", str(out), "--eval-samples", "50", *SMALL)
    assert fh.interrupt_at(tmp_path, "training", *argv)[0] == 130
    code, _, err = fh.interrupt_at(
        tmp_path, "final-evaluation", "train", "--out", str(out), "--resume", "--quiet"
    )
    assert code == 130
    no_traceback(err)
    assert set(fh.snapshot(out)) == RESUMABLE_FILES
    assert fh.run(tmp_path, "train", "--out", str(out), "--resume", "-q").returncode == 0
    assert set(fh.snapshot(out)) == RUN_FILES


@pytest.mark.slow
@pytest.mark.parametrize(
    "point", ["write:history.json", "write:model.npz", "write:curves.png", "commit"]
)
def test_sigint_while_saving_is_held_back_until_the_results_are_complete(tmp_path, point):
    out = tmp_path / "run"
    code, outtext, err = fh.interrupt_at(tmp_path, point, "train", "--out", str(out), *SMALL)
    assert code == 130
    assert "interrupted while saving: the results above were saved completely" in err
    no_traceback(err)
    assert set(fh.snapshot(out)) == RUN_FILES and fh.leftovers(out) == []
    assert_loads(out)


@pytest.mark.slow
def test_sigint_while_writing_the_checkpoint_keeps_the_previous_run(tmp_path):
    out = finished_run(tmp_path)
    before = fh.snapshot(out)
    argv = ("train", "--out", str(out), "--force", "--max-seconds", "1e-9", *SMALL)
    code, _, err = fh.interrupt_at(tmp_path, "write:checkpoint.npz", *argv)
    assert code == 130 and "interrupted" in err
    no_traceback(err)
    assert fh.snapshot(out) == before and fh.leftovers(out) == []


# -- SIGKILL at the same points, on a new folder and over a finished run ---------------------------


KILL_POINTS = [
    "training",
    "final-evaluation",
    "write:history.json",
    "write:model.npz",
    "write:curves.png",
    "commit",
]


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_on_a_new_folder_leaves_it_empty_and_usable(tmp_path, point):
    out = tmp_path / "run"
    code, _, _ = fh.kill_at(
        tmp_path, point, "train", "--out", str(out), "--eval-samples", "50", *SMALL
    )
    assert code == -signal.SIGKILL
    assert fh.snapshot(out) == {}  # no half run: the folder is as it was
    r = fh.run(tmp_path, "train", "--out", str(out), *SMALL)
    assert r.returncode == 0, r.stderr
    assert set(fh.snapshot(out)) == RUN_FILES and fh.leftovers(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("point", [*KILL_POINTS, "write:checkpoint.npz"])
def test_sigkill_over_a_finished_run_leaves_it_untouched(tmp_path, point):
    out = finished_run(tmp_path)
    before = fh.snapshot(out)
    extra = ["--max-seconds", "1e-9"] if point == "write:checkpoint.npz" else []
    code, _, _ = fh.kill_at(
        tmp_path,
        point,
        "train",
        "--out",
        str(out),
        "--force",
        "--eval-samples",
        "50",
        *extra,
        "--seed",
        "2",
        *SMALL,
    )
    assert code == -signal.SIGKILL
    assert fh.snapshot(out) == before
    evaluates(tmp_path, out)
    # The next run cleans what the killed one left beside the folder.
    assert fh.run(tmp_path, "train", "--out", str(out), "--force", *SMALL).returncode == 0
    assert fh.leftovers(out) == []


@pytest.mark.slow
def test_sigkill_over_a_checkpoint_keeps_it_resumable(tmp_path):
    out = tmp_path / "run"
    assert fh.interrupt_at(tmp_path, "training", "train", "--out", str(out), *SMALL)[0] == 130
    before = fh.snapshot(out)
    code, _, _ = fh.kill_at(tmp_path, "write:model.npz", "train", "--out", str(out), "--resume")
    assert code == -signal.SIGKILL
    assert fh.snapshot(out) == before
    r = fh.run(tmp_path, "train", "--out", str(out), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert set(fh.snapshot(out)) == RUN_FILES


@pytest.mark.slow
def test_sigkill_between_the_two_renames_of_a_portable_swap_is_repaired(tmp_path):
    out = finished_run(tmp_path)
    before = fh.snapshot(out)
    code, _, _ = fh.kill_at(
        tmp_path, "swap", "train", "--out", str(out), "--force", *SMALL, FAULT_NO_EXCHANGE="1"
    )
    assert code == -signal.SIGKILL
    assert not out.exists()  # cut between "run -> .run.old" and ".run.new -> run"
    r = fh.run(tmp_path, "train", "--out", str(out), "--resume", FAULT_NO_EXCHANGE="1")
    # The next train on the folder first puts the previous run back, then judges it.
    assert r.returncode == 2 and "holds a finished run" in r.stderr
    assert fh.snapshot(out) == before and fh.leftovers(out) == []


@pytest.mark.slow
def test_portable_swap_replaces_a_run_completely(tmp_path):
    out = finished_run(tmp_path)
    r = fh.run(
        tmp_path,
        "train",
        "--out",
        str(out),
        "--force",
        "--seed",
        "3",
        *SMALL,
        FAULT_NO_EXCHANGE="1",
    )
    assert r.returncode == 0, r.stderr
    assert history_of(out)["seed"] == 3 and fh.leftovers(out) == []


# -- two train processes on one folder -------------------------------------------------------------


@pytest.mark.slow
def test_a_second_train_on_a_busy_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run"
    first = fh.Paused(tmp_path, "training", "train", "--out", str(out), *SMALL)
    first.wait_ready()
    r = fh.run(tmp_path, "train", "--out", str(out), "--force", *SMALL)
    one_line_error(
        r.stderr, r.returncode, "in use by another 'scratchdl train'", f"process {first.proc.pid}"
    )
    code, _, _ = first.signal(signal.SIGINT)
    assert code == 130
    assert set(fh.snapshot(out)) == RESUMABLE_FILES  # the first run's, whole


@pytest.mark.slow
def test_the_lock_of_a_killed_train_does_not_block(tmp_path):
    out = tmp_path / "run"
    fh.kill_at(tmp_path, "training", "train", "--out", str(out), *SMALL)
    assert fh.run(tmp_path, "train", "--out", str(out), *SMALL).returncode == 0
    assert fh.leftovers(out) == []


def test_a_lock_file_nobody_holds_does_not_block(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    (tmp_path / ".run.lock").write_text("999999\n")
    code, _, err = cli(capsys, "train", "--out", str(out), *SMALL)
    assert code == 0, err
    assert not (tmp_path / ".run.lock").exists()


def test_lock_is_held_in_process(tmp_path):
    from scratchdl.cli._runfolder import RunFolder, RunFolderError

    a, b = RunFolder(tmp_path / "run"), RunFolder(tmp_path / "run")
    a.open()
    try:
        with pytest.raises(RunFolderError, match=f"process {os.getpid()}"):
            b.lock.acquire()
    finally:
        a.close()
    b.open()
    b.close()


# -- a full disk: RLIMIT_FSIZE in a child, ENOSPC monkeypatched in process -------------------------


def _fsize_limit(nbytes: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return preexec


@pytest.mark.slow
def test_full_disk_names_the_file_and_keeps_the_previous_run(tmp_path):
    out = finished_run(tmp_path)
    before = fh.snapshot(out)
    # history.json fits in 8 KB, a 784-8-10 model.npz (26 KB) does not.
    r = fh.run(tmp_path, "train", "--out", str(out), "--force", *SMALL, preexec=_fsize_limit(8000))
    one_line_error(
        r.stderr,
        r.returncode,
        f"cannot write {out / 'model.npz'}",
        "File too large",
        "keeps its previous contents",
    )
    assert fh.snapshot(out) == before and fh.leftovers(out) == []


@pytest.mark.slow
def test_full_disk_on_a_new_folder_leaves_it_empty(tmp_path):
    out = tmp_path / "run"
    r = fh.run(tmp_path, "train", "--out", str(out), *SMALL, preexec=_fsize_limit(8000))
    one_line_error(r.stderr, r.returncode, "model.npz", "File too large")
    assert fh.snapshot(out) == {} and fh.leftovers(out) == []


@pytest.mark.parametrize("victim", ["history.json", "model.npz", "curves.png"])
def test_enospc_on_each_result_file(tmp_path, capsys, fake_data, monkeypatch, victim):
    import scratchdl._fs as fs

    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), "--seed", "1", *SMALL)[0] == 0
    before = fh.snapshot(out)
    real = fs.os.replace

    def full(src, dst):
        if Path(dst).name == victim:
            raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real(src, dst)

    monkeypatch.setattr(fs.os, "replace", full)
    code, _, err = cli(capsys, "train", "--out", str(out), "--force", *SMALL)
    one_line_error(err, code, f"cannot write {out / victim}", "No space left on device")
    assert fh.snapshot(out) == before and fh.leftovers(out) == []


def test_enospc_on_the_checkpoint_keeps_the_previous_run(tmp_path, capsys, fake_data, monkeypatch):
    import scratchdl._fs as fs

    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), *SMALL)[0] == 0
    before = fh.snapshot(out)
    real = fs.os.replace

    def full(src, dst):
        if Path(dst).name == "checkpoint.npz":
            raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real(src, dst)

    monkeypatch.setattr(fs.os, "replace", full)
    code, _, err = cli(
        capsys, "train", "--out", str(out), "--force", "--max-seconds", "1e-9", *SMALL
    )
    one_line_error(err, code, f"cannot write {out / 'checkpoint.npz'}: No space left on device")
    assert fh.snapshot(out) == before and fh.leftovers(out) == []


# -- what a folder may be replaced with ------------------------------------------------------------


def test_a_finished_run_is_not_replaced_without_force(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), *SMALL)[0] == 0
    before = fh.snapshot(out)
    code, _, err = cli(capsys, "train", "--out", str(out), *SMALL)
    one_line_error(err, code, "holds a finished run", "pass --force to replace it")
    assert fh.snapshot(out) == before


def test_force_replaces_a_finished_run_completely(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), "--seed", "1", *SMALL)[0] == 0
    assert cli(capsys, "train", "--out", str(out), "--seed", "2", "--force", *SMALL)[0] == 0
    assert history_of(out)["seed"] == 2
    from scratchdl.io import load_model

    assert load_model(out / "model.npz").metadata["train_config"]["seed"] == 2
    assert fh.leftovers(out) == []


def test_an_unfinished_run_needs_resume_or_force(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--out", str(out), "--max-seconds", "1e-9", *SMALL)
    assert code == 0 and (out / "checkpoint.npz").exists()
    code, _, err = cli(capsys, "train", "--out", str(out), *SMALL)
    one_line_error(err, code, "holds an unfinished run", "--resume", "--force")
    assert cli(capsys, "train", "--out", str(out), "--force", *SMALL)[0] == 0
    assert set(fh.snapshot(out)) == RUN_FILES


def test_resume_of_a_finished_run_says_there_is_nothing_to_resume(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), *SMALL)[0] == 0
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume")
    one_line_error(err, code, "nothing to resume", "holds a finished run")


def test_part_of_a_run_left_by_an_older_version_needs_force(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.json").write_text("{}")
    code, _, err = cli(capsys, "train", "--out", str(out), *SMALL)
    one_line_error(err, code, "holds part of a run (history.json, no model.npz)", "--force")
    assert cli(capsys, "train", "--out", str(out), "--force", *SMALL)[0] == 0
    assert set(fh.snapshot(out)) == RUN_FILES


def test_a_folder_of_other_files_is_never_used(tmp_path, capsys, fake_data):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, _, err = cli(capsys, "train", "--out", str(out), "--force", *SMALL)
    one_line_error(err, code, "not a scratchdl run", "thesis.tex")
    assert (out / "thesis.tex").read_text() == "precious" and len(list(out.iterdir())) == 1


def test_the_current_folder_is_never_a_run_folder(tmp_path, capsys, fake_data, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path), str(tmp_path.parent)):
        code, _, err = cli(capsys, "train", "--out", out, "--force", *SMALL)
        one_line_error(err, code, "is the current folder (or holds it)")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_library_train_keeps_a_checkpoint_when_the_final_evaluation_is_interrupted(
    tmp_path, monkeypatch
):
    import scratchdl.train.run as run_mod
    from scratchdl.train import TrainConfig, train

    config = TrainConfig(iters=20, batch_size=20, hidden=(8,), eval_samples=50)
    real = run_mod.evaluate

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "evaluate", interrupted)
    _, history = train(config, data=fh.synthetic(), checkpoint_dir=tmp_path)
    assert history.stop_reason == "interrupted" and (tmp_path / "checkpoint.npz").exists()
    monkeypatch.setattr(run_mod, "evaluate", real)
    _, history = train(config, data=fh.synthetic(), checkpoint_dir=tmp_path, resume=True)
    assert history.stop_reason == "completed" and history.iterations == 20
    assert history.info["final"]["n_test"] == 100
    assert not (tmp_path / "checkpoint.npz").exists()


def test_a_diverged_run_never_replaces_a_good_model(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), *SMALL)[0] == 0
    before = fh.snapshot(out)
    code, _, err = cli(
        capsys,
        "train",
        "--out",
        str(out),
        "--force",
        "--lr",
        "1e30",
        "--init",
        "1",
        *SMALL[:-1],
        "--quiet",
    )
    one_line_error(err, code, "keeps its previous run, nothing was replaced")
    assert fh.snapshot(out) == before


def test_a_diverged_resume_keeps_its_checkpoint(tmp_path, capsys, fake_data, monkeypatch):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--out", str(out), "--max-seconds", "1e-9", *SMALL)[0] == 0
    before = fh.snapshot(out)
    import scratchdl.train.trainer as trainer_mod

    real = trainer_mod.Trainer._loss_of_step
    monkeypatch.setattr(trainer_mod.Trainer, "_loss_of_step", lambda self, x, t: float("nan"))
    code, _, err = cli(capsys, "train", "--out", str(out), "--resume", "--quiet")
    one_line_error(err, code, "keeps the checkpoint it resumed from")
    assert fh.snapshot(out) == before
    monkeypatch.setattr(trainer_mod.Trainer, "_loss_of_step", real)
    assert cli(capsys, "train", "--out", str(out), "--resume", "--quiet")[0] == 0


def test_a_diverged_run_in_a_new_folder_keeps_its_last_good_weights(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--out", str(out), "--lr", "1e30", "--init", "1", *SMALL)
    assert code == 2 and "Traceback" not in err
    assert set(fh.snapshot(out)) == RUN_FILES
    assert_loads(out)


# -- stale temporary files of killed writers -------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temporary_files_of_dead_writers_are_removed_at_the_next_write(tmp_path):
    from scratchdl._fs import atomic_write_text

    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / f".model.npz.tmp.{dead}.abcd1234.tmp"
    live = tmp_path / f".model.npz.tmp.{alive}.abcd1234.tmp"
    old_style = tmp_path / ".model.npz.tmp.abcd1234"  # no process id: not provably ours
    other = tmp_path / "notes.tmp.123.txt"
    for p in (stale, live, old_style, other):
        p.write_text("x")
    atomic_write_text(tmp_path / "history.json", "{}")
    assert not stale.exists()
    assert live.exists() and old_style.exists() and other.exists()


@pytest.mark.slow
def test_a_killed_write_leaves_a_temporary_file_that_the_next_write_removes(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[2])
        import _fault_helpers
        from scratchdl._fs import atomic_path
        _fault_helpers.install_fault_point("write:x.bin")
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"half")
        """
    )
    env = fh.env_for(tmp_path, "write:x.bin")
    argv = [sys.executable, "-c", code, str(tmp_path / "x.bin"), str(fh.HERE)]
    proc = subprocess.Popen(argv, env=env)
    ready = Path(env["FAULT_READY"])
    for _ in range(300):
        if ready.exists():
            break
        time.sleep(0.05)
    # atomic_path pauses (patched) at "write:x.bin" before the rename
    proc.kill()
    proc.wait()
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".x.bin.tmp.")]
    assert len(temps) == 1 and not (tmp_path / "x.bin").exists()
    from scratchdl._fs import atomic_write_bytes

    atomic_write_bytes(tmp_path / "y.bin", b"ok")
    assert not temps[0].exists()
