"""Fault catalogue of issue 10: whatever stops a run or whatever file we are handed, the
outcome is exact, one readable line, no traceback, and nothing is lost or allocated beyond
the documented limit.

Categories (the ids in brackets are the test names' prefixes):

- [sigint]  Ctrl-C at named points of ``train`` (child process paused by SCRATCHDL_FAULT_POINT)
- [sigkill] SIGKILL at the same points, on a new folder and over a finished run
- [lock]    two ``train`` processes on one folder
- [disk]    a full disk: RLIMIT_FSIZE in a child, ENOSPC monkeypatched in process
- [reuse]   a finished / unfinished / foreign folder, --force, --resume, divergence
- [model]   forged and damaged model files (header limit, record types, shapes, NaN, pickles)
- [ckpt]    damaged and forged checkpoints
- [temp]    stale temporary files of killed writers
- [sweep]   sweep workers when their parent dies
- [api]     bad inputs to the core API
- [res]     up-front memory and time checks
- [warn]    warnings and paths in our words

Child processes run ``tests/_fault_helpers.py`` (synthetic data, about 2-3 s each): those
tests are marked slow; the in-process ones are fast.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fault_helpers as fh  # noqa: E402
from scratchdl.errors import (  # noqa: E402
    ConfigError,
    InputTypeError,
    ModelFileError,
    ScratchdlError,
    ShapeError,
)

SMALL = fh.SMALL
RUN_FILES = {"model.npz", "history.json", "curves.png"}
RESUMABLE_FILES = RUN_FILES | {"checkpoint.npz"}


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def fake_data(monkeypatch):
    """Synthetic data for in-process commands, and curves.png written (atomically, as the real
    one) without drawing: matplotlib takes half a second a figure. The child-process tests
    draw real curves."""
    import scratchdl.data
    import scratchdl.plots.curves
    from scratchdl._fs import atomic_path

    data = fh.synthetic()
    monkeypatch.setattr(scratchdl.data, "load_mnist", lambda *a, **k: data)

    def save_training_curves(history, path, title=None):
        with atomic_path(path, suffix=".png") as tmp:
            tmp.write_bytes(b"\x89PNG\r\n\x1a\n" + json.dumps(history.to_dict()).encode())
        return Path(path)

    monkeypatch.setattr(scratchdl.plots.curves, "save_training_curves", save_training_curves)
    return data


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    from scratchdl.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, code: int, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scratchdl "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def assert_loads(folder: Path) -> None:
    """The folder's model loads and evaluates (in process, on the synthetic data)."""
    from scratchdl.io import load_model
    from scratchdl.nets import evaluate

    net = load_model(folder / "model.npz")
    (_, _), (x_test, t_test) = fh.synthetic()
    acc, loss = evaluate(net, x_test, t_test)
    assert 0.0 <= acc <= 1.0 and np.isfinite(loss)


def evaluates(tmp_path: Path, folder: Path) -> None:
    """``scratchdl evaluate DIR/model.npz`` works (child process, synthetic test set)."""
    r = fh.run(tmp_path, "evaluate", str(folder / "model.npz"), "--json")
    assert r.returncode == 0, r.stderr
    assert 0.0 <= json.loads(r.stdout)["accuracy"] <= 1.0


def history_of(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text(encoding="utf-8"))


def finished_run(tmp_path: Path, name: str = "run") -> Path:
    """A finished run made in a child process, as a user would have it."""
    out = tmp_path / name
    r = fh.run(tmp_path, "train", "--out", str(out), "--seed", "1", *SMALL)
    assert r.returncode == 0, r.stderr
    return out


# == [sigint] Ctrl-C =============================================================================


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


# == [sigkill] SIGKILL ===========================================================================

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


# == [lock] two processes on one folder ==========================================================


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


# == [disk] full disk ============================================================================


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


# == [reuse] what a folder may be replaced with ==================================================


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


# == [model] forged and damaged model files ======================================================


def _saved_model(tmp_path: Path, **kw) -> Path:
    from scratchdl.io import save_model
    from scratchdl.nets import TwoLayerNet

    path = tmp_path / "model.npz"
    save_model(TwoLayerNet(6, 4, 3, rng=0, **kw), path)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_members(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _with_record(path: Path, edit) -> Path:
    members = _members(path)
    record = json.loads(np.load(io.BytesIO(members["__scratchdl__.npy"])).tobytes())
    edit(record)
    blob = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)
    members["__scratchdl__.npy"] = _npy(blob)
    _write_members(path, members)
    return path


def _forged_header(shape, dtype="<f8") -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 64  # a few bytes of "data"


def _load_refused(path: Path, *fragments: str, **kw) -> str:
    from scratchdl.io import load_model

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as info:
            load_model(path, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "allow_pickle" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < 50 * 2**20, f"allocated {peak} bytes before refusing"
    return message


def test_model_header_claiming_74_gib_is_refused_before_allocation(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((100000, 100000))
    _write_members(path, members)
    assert path.stat().st_size < 4000
    _load_refused(path, "74.5 GiB", "above the limit of 1 GiB", "SCRATCHDL_MAX_MODEL_BYTES")


def test_model_header_larger_than_its_data_is_refused_even_under_a_raised_limit(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((6, 4000))
    _write_members(path, members)
    _load_refused(path, "damaged or forged", "declares", max_bytes=2**40)


def test_the_limit_can_be_raised_by_parameter_and_environment(tmp_path, monkeypatch):
    from scratchdl.io import load_model

    path = _saved_model(tmp_path)
    _load_refused(path, "above the limit", max_bytes=100)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "100")
    _load_refused(path, "above the limit")
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "1e6")
    assert load_model(path).params["W1"].shape == (6, 4)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "lots")
    _load_refused(path, "SCRATCHDL_MAX_MODEL_BYTES='lots' is not a positive number")


def test_record_claiming_a_hidden_size_of_1e9_is_refused_before_building(tmp_path):
    def huge(r):
        r["arch"]["hidden_size"] = 10**9

    def other(r):
        r["arch"]["hidden_size"] = 5

    _load_refused(
        _with_record(_saved_model(tmp_path), huge),
        "arch.hidden_size = 1000000000, more than the 43 parameter values",
    )
    _load_refused(
        _with_record(_saved_model(tmp_path), other),
        "parameter W1 has shape (6, 4), its record's architecture needs (6, 5)",
    )


def test_any_size_in_a_record_above_the_values_held_is_refused_before_building(tmp_path):
    def edit(r):
        r["arch"]["class"] = "SomeConvNet"  # an architecture without a shape rule here
        r["arch"]["conv_param"] = {"filter_num": 10**9}

    _load_refused(
        _with_record(_saved_model(tmp_path), edit),
        "arch.conv_param.filter_num = 1000000000, more than the 43 parameter values",
    )


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r.update(arch="x"), "arch = 'x'"),
        (lambda r: r.update(format_version="2"), "format_version = '2'"),
        (lambda r: r.update(format_version=2), "newer scratchdl"),
        (lambda r: r["arch"].update(weight_decay_lambda="0.1"), "weight_decay_lambda = '0.1'"),
        (lambda r: r["arch"].update(weight_decay_lambda=-1), "weight_decay_lambda = -1"),
        (lambda r: r["arch"].update(input_size=True), "input_size = True"),
        (lambda r: r["arch"].update(hidden_size="4"), "hidden_size = '4'"),
        (lambda r: r["arch"].update(dtype="float16"), "arch.dtype = 'float16'"),
        (lambda r: r["arch"].update({"class": 7}), "arch.class = 7"),
        (lambda r: r["arch"].update({"class": "Evil"}), "unknown network class 'Evil'"),
        (lambda r: r.update(params="W1"), "params = 'W1'"),
        (lambda r: r.update(params=["W1", "b1", "W2"]), "lists parameters"),
        (lambda r: r.update(metadata=[1]), "metadata = [1]"),
        (lambda r: r.update(format="pickle"), "not a scratchdl-model record"),
    ],
    ids=[
        "arch-str",
        "version-str",
        "version-newer",
        "decay-str",
        "decay-negative",
        "size-bool",
        "hidden-str",
        "dtype",
        "class-int",
        "class-unknown",
        "params-str",
        "params-missing",
        "metadata-list",
        "format",
    ],
)
def test_record_with_wrong_types_is_refused(tmp_path, edit, fragment):
    _load_refused(_with_record(_saved_model(tmp_path), edit), fragment)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_model_with_non_finite_weights_is_refused(tmp_path, bad):
    path = _saved_model(tmp_path)
    members = _members(path)
    W = np.load(io.BytesIO(members["param/W2.npy"]))
    W[1, 1] = bad
    members["param/W2.npy"] = _npy(W)
    _write_members(path, members)
    _load_refused(path, "NaN or infinite values in parameter W2")


def test_model_with_an_object_array_is_refused_without_pickle_advice(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _npy(np.array([object()] * 24, dtype=object).reshape(6, 4))
    _write_members(path, members)
    _load_refused(path, "holds Python objects", "may be malicious")


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda b: b[: len(b) // 2], "not a .npz archive"),
        (lambda b: b"", "not a .npz archive"),
        (lambda b: b"\x00" * 500, "not a .npz archive"),
        (lambda b: b"PK\x03\x04" + b"\xff" * 200, "not a .npz archive"),
    ],
    ids=["truncated", "empty", "zeros", "bad-zip"],
)
def test_damaged_model_file_is_one_clear_error(tmp_path, damage, fragment):
    path = _saved_model(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    _load_refused(path, fragment)


def test_model_with_a_wrong_dtype_or_foreign_member_is_refused(tmp_path):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/b1.npy"] = _npy(np.zeros(4, dtype=np.int64))
    _write_members(path, members)
    _load_refused(path, "parameter b1 is int64, its record says float32")
    members = _members(_saved_model(tmp_path))
    members["readme.txt"] = b"hello"
    _write_members(path, members)
    _load_refused(path, "member 'readme.txt' is not a .npy array")


def test_model_members_besides_parameters_and_layer_state_are_refused(tmp_path):
    from scratchdl.io import check_model_file

    path = _saved_model(tmp_path)
    members = _members(path)
    members["state/BatchNorm1/running_mean.npy"] = _npy(np.zeros(4, dtype=np.float32))
    _write_members(path, members)
    record, arrays = check_model_file(path)  # layer state (BatchNorm statistics) is allowed
    assert "state/BatchNorm1/running_mean" in arrays
    assert record["params"] == ["W1", "b1", "W2", "b2"]
    members["extra.npy"] = _npy(np.zeros(3))
    _write_members(path, members)
    _load_refused(path, "it holds extra, which no scratchdl model has")


def test_evaluate_of_a_forged_model_is_one_line(tmp_path, capsys, fake_data):
    path = _saved_model(tmp_path)
    members = _members(path)
    members["param/W1.npy"] = _forged_header((100000, 100000))
    _write_members(path, members)
    code, _, err = cli(capsys, "evaluate", str(path))
    one_line_error(err, code, "refused to load", "74.5 GiB")


# == [ckpt] damaged and forged checkpoints =======================================================


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


# == [temp] stale temporary files ================================================================


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
        from scratchdl._fs import atomic_path
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"half")
        """
    )
    env = fh.env_for(tmp_path, "write:x.bin")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "x.bin")], env=env)
    ready = Path(env["SCRATCHDL_FAULT_READY"])
    for _ in range(300):
        if ready.exists():
            break
        time.sleep(0.05)
    # the hook inside atomic_path itself pauses at "write:x.bin" before the rename
    proc.kill()
    proc.wait()
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".x.bin.tmp.")]
    assert len(temps) == 1 and not (tmp_path / "x.bin").exists()
    from scratchdl._fs import atomic_write_bytes

    atomic_write_bytes(tmp_path / "y.bin", b"ok")
    assert not temps[0].exists()


# == [sweep] workers never outlive their sweep ===================================================

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


# == [api] bad inputs to the core ================================================================


def _softmax(x):
    from scratchdl.functions import softmax

    return softmax(x)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _softmax(np.array([])), ShapeError, "at least one class score"),
        (lambda: _softmax(np.zeros((3, 0))), ShapeError, "at least one class score"),
        (lambda: _softmax(np.float64(1.0)), ShapeError, "at least one class score"),
        (lambda: _softmax(["1", "2"]), InputTypeError, "real numbers"),
        (lambda: _softmax([1 + 2j, 1]), InputTypeError, "complex numbers"),
        (lambda: _softmax([[1, 2], [3]]), InputTypeError, "real numbers"),
        (lambda: _softmax(object()), InputTypeError, "dtype object"),
    ],
    ids=["empty", "no-classes", "scalar", "strings", "complex", "ragged", "object"],
)
def test_softmax_refuses_meaningless_input(call, error, fragment):
    with pytest.raises(error, match=fragment.replace("(", r"\(")) as info:
        call()
    assert isinstance(info.value, ScratchdlError)


def test_softmax_of_infinite_scores_is_nan_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_softmax([-np.inf, 0.0, 0.0]), [0.0, 0.5, 0.5])
        y = _softmax(np.array([[1.0, np.inf], [0.0, 0.0]], dtype=np.float32))
        assert y.dtype == np.float32
        assert np.isnan(y[0]).all() and (y[1] == 0.5).all()
        assert np.isnan(_softmax([[-np.inf, -np.inf]])).all()
        assert np.isnan(_softmax([np.nan, 1.0])).all()  # a diverged net shows as NaN


def _net():
    from scratchdl.nets import TwoLayerNet

    return TwoLayerNet(4, 3, 2, rng=0)


def _gradient_check(*args, **kw):
    from scratchdl.gradient import gradient_check

    return gradient_check(*args, **kw)


def _set_param(value):
    net = _net()
    net.params["W1"] = value


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _net().predict(np.array([["a"] * 4])), InputTypeError, "real numbers"),
        (lambda: _net().predict(np.ones((1, 4)) * 1j), InputTypeError, "complex"),
        (lambda: _net().loss(np.array([["a"] * 4]), [0]), InputTypeError, "real numbers"),
        (
            lambda: _gradient_check(object(), np.ones((1, 4)), [0]),
            InputTypeError,
            "needs a scratchdl network",
        ),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=0), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=np.nan), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=-1e-4), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), [["x"] * 4], [0]), InputTypeError, "real numbers"),
        (lambda: _set_param(np.ones((4, 3)) * 1j), InputTypeError, "complex"),
        (lambda: _set_param(np.full((4, 3), "w")), InputTypeError, "real numbers"),
    ],
    ids=[
        "predict-str",
        "predict-complex",
        "loss-str",
        "gradcheck-object",
        "h-zero",
        "h-nan",
        "h-negative",
        "gradcheck-str",
        "param-complex",
        "param-str",
    ],
)
def test_networks_and_gradient_check_refuse_bad_input(call, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        call()
    assert isinstance(info.value, ScratchdlError)


@pytest.mark.parametrize("decay", [float("nan"), float("inf"), -0.1, "0.1", None, True])
def test_weight_decay_must_be_a_finite_number(decay):
    from scratchdl.nets import MultiLayerNet, TwoLayerNet

    for make in (
        lambda: TwoLayerNet(4, 3, 2, weight_decay_lambda=decay),
        lambda: MultiLayerNet(4, [3], 2, weight_decay_lambda=decay),
    ):
        with pytest.raises(ConfigError, match="weight_decay_lambda must be a finite number"):
            make()


def test_numerical_gradient_and_diff_refuse_a_zero_step():
    from scratchdl.gradient import numerical_diff, numerical_gradient

    with pytest.raises(ConfigError, match="h must be"):
        numerical_gradient(lambda x: float(np.sum(x)), np.ones(3), h=0)
    with pytest.raises(ConfigError, match="h must be"):
        numerical_diff(lambda x: x * x, 1.0, h=0.0)


def _cee(y, t):
    from scratchdl.functions import cross_entropy_error

    return cross_entropy_error(y, t)


def _layer(name, *args):
    import scratchdl.layers

    return getattr(scratchdl.layers, name)(*args)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _cee(np.zeros((0, 3)), np.zeros(0, int)), ShapeError, "empty batch"),
        (lambda: _layer("SoftmaxWithLoss").forward(np.zeros((0, 3)), np.zeros(0, int)),
         ShapeError, "empty batch"),
        (lambda: _layer("Affine", np.ones((2, 2)), np.zeros(2)).forward(np.array([["a", "b"]])),
         InputTypeError, "real numbers"),
        (lambda: _layer("Relu").forward(np.array([1j])), InputTypeError, "complex"),
    ],
    ids=["cee-empty", "softmax-with-loss-empty", "affine-str", "relu-complex"],
)  # fmt: skip
def test_losses_and_layers_refuse_meaningless_input(call, error, fragment):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to our error
        with pytest.raises(error, match=fragment):
            call()


def test_simple_net_refuses_complex_weights():
    from scratchdl.nets import SimpleNet

    with pytest.raises(InputTypeError, match="complex"):
        SimpleNet(W=np.ones((2, 3)) * 1j)


# == [res] up-front resource checks ==============================================================


def test_train_refuses_a_network_beyond_the_memory_available(tmp_path, capsys, fake_data):
    code, _, err = cli(
        capsys, "train", "--out", str(tmp_path / "r"), "--hidden", "1000000", "--iters", "1"
    )
    one_line_error(err, code, "train would need about", "GiB of memory", "--force")
    assert not (tmp_path / "r" / "model.npz").exists()


def test_train_force_skips_the_memory_check(tmp_path, capsys, fake_data, monkeypatch):
    import scratchdl.cli._resources as res

    monkeypatch.setattr(res, "available_memory", lambda: 1000)
    code, _, err = cli(capsys, "train", "--out", str(tmp_path / "r"), *SMALL)
    one_line_error(err, code, "this machine has 0 MiB available")
    assert cli(capsys, "train", "--out", str(tmp_path / "r"), "--force", *SMALL)[0] == 0


def test_gradcheck_refuses_a_days_long_run_and_states_its_duration(capsys, monkeypatch):
    import scratchdl.cli.basics as basics

    monkeypatch.setattr(basics, "MAX_HOURS", 1e-9)
    code, out, err = cli(capsys, "gradcheck", "--input-size", "200", "--hidden", "50")
    one_line_error(err, code, "gradcheck would take about", "loss evaluations", "--force")


def test_gradcheck_refuses_beyond_memory(capsys):
    code, _, err = cli(capsys, "gradcheck", "--input-size", "100000", "--hidden", "100000")
    one_line_error(err, code, "gradcheck would need about", "GiB of memory")


def test_gradcheck_shows_progress_of_long_gradients(capsys, monkeypatch):
    import scratchdl.cli.basics as basics

    monkeypatch.setattr(basics, "PROGRESS_SECONDS", 0.0)
    code, out, _ = cli(capsys, "gradcheck", "--input-size", "6", "--hidden", "4")
    assert code == 0
    assert re.search(r"gradcheck: numerical gradient: [\d,]+ of 96 loss evaluations", out)


def test_evaluate_refuses_beyond_memory(tmp_path, capsys, fake_data, monkeypatch):
    import scratchdl.cli._resources as res

    path = _saved_model(tmp_path)
    monkeypatch.setattr(res, "available_memory", lambda: 10)
    code, _, err = cli(capsys, "evaluate", str(path))
    one_line_error(err, code, "evaluate would need about", "--force")


# == [warn] warnings and paths in our words ======================================================


def test_numpy_warnings_reach_the_user_in_our_words(capsys):
    from scratchdl.cli import _warnings_in_our_words

    with _warnings_in_our_words("train"):
        np.exp(np.float32(1000))
        np.exp(np.float32(2000))
    err = capsys.readouterr().err
    assert err == (
        "scratchdl train: warning: numerical overflow in exp: some values became infinite or "
        "undefined (a learning rate or input scale far too large is the usual cause)\n"
    )


def test_a_corrupt_cache_warning_is_one_line_without_source(tmp_path, capsys):
    import warnings

    from scratchdl.cli import _warnings_in_our_words

    with _warnings_in_our_words("evaluate"):
        warnings.warn(
            "x.npz: processed cache ignored because it is damaged", RuntimeWarning, stacklevel=1
        )
    err = capsys.readouterr().err
    assert err == (
        "scratchdl evaluate: warning: x.npz: processed cache ignored because it is damaged\n"
    )


def test_a_symlink_loop_as_data_dir_is_reported_as_a_loop(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    code, _, err = cli(capsys, "train", "--out", str(tmp_path / "r"), "--data-dir", str(a), *SMALL)
    one_line_error(err, code, "is a loop of symbolic links")
    assert "does not exist" not in err
