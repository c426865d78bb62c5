"""Helpers of the fault tests: run ``scratchdl`` in a child process on synthetic data, pause
it at a named point, signal it, and describe a run folder.

The child is ``python tests/_fault_helpers.py ARGS...``: it replaces the MNIST loader by
synthetic data (so nothing needs ../shared), patches scratchdl to pause at the point named by
``$FAULT_POINT`` (:func:`install_fault_point`; scratchdl itself has no such hook), and runs
``scratchdl.cli.main(ARGS)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MPL_DIR = Path(tempfile.gettempdir()) / f"scratchdl-fault-tests-mpl-{os.getuid()}"

#: A small run: 20 iterations of a 784-8-10 net on 400 synthetic images, well under a second.
SMALL = ["--iters", "20", "--batch-size", "20", "--hidden", "8", "--init", "he", "--quiet"]


def synthetic(seed: int = 0, n_train: int = 400, n_test: int = 100):
    """Ten 'digits': each class lights up its own 7x7 patch of a 28x28 image, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n: int):
        t = rng.integers(0, 10, size=n)
        x = rng.uniform(0, 0.3, size=(n, 28, 28)).astype(np.float32)
        for i, k in enumerate(t):
            r, c = divmod(int(k), 4)
            x[i, 7 * r : 7 * r + 7, 7 * c : 7 * c + 7] += 0.7
        return x.reshape(n, 784), t.astype(np.int64)

    return make(n_train), make(n_test)


def patch_data() -> None:
    """Make ``scratchdl.data.load_mnist`` return the synthetic data."""
    import scratchdl.data

    data = synthetic()

    def load_mnist(normalize=True, flatten=True, one_hot_label=False, **kwargs):
        return data

    scratchdl.data.load_mnist = load_mnist


def env_for(tmp: Path, point: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FAULT_POINT", None)
    env.update(MPLBACKEND="Agg", XDG_CACHE_HOME=str(tmp / "xdg"), PYTHONDONTWRITEBYTECODE="1")
    # One matplotlib font cache for all the children (building it takes seconds).
    env["MPLCONFIGDIR"] = str(MPL_DIR)
    if point is not None:
        env["FAULT_POINT"] = point
        env["FAULT_READY"] = str(tmp / f"ready-{point.replace(':', '-')}")
    env.update(extra)
    return env


def command(*argv: str) -> list[str]:
    return [sys.executable, str(HERE / "_fault_helpers.py"), *argv]


def run(tmp: Path, *argv: str, preexec=None, **extra: str) -> subprocess.CompletedProcess:
    """Run ``scratchdl ARGV`` to the end in a child process."""
    return subprocess.run(
        command(*argv),
        env=env_for(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
    )


class Paused:
    """A child ``scratchdl`` process paused at ``point``."""

    def __init__(self, tmp: Path, point: str, *argv: str, **extra: str) -> None:
        env = env_for(tmp, point, **extra)
        self.ready = Path(env["FAULT_READY"])
        self.ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            command(*argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not self.ready.exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"ended before the point: {self.proc.returncode}\n{out}{err}")
            if time.monotonic() > end:
                self.proc.kill()
                raise AssertionError("the point was never reached")
            time.sleep(0.02)

    def signal(self, sig: int) -> tuple[int, str, str]:
        self.wait_ready()
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err


def kill_at(tmp: Path, point: str, *argv: str, **extra: str) -> tuple[int, str, str]:
    return Paused(tmp, point, *argv, **extra).signal(signal.SIGKILL)


def interrupt_at(tmp: Path, point: str, *argv: str, **extra: str) -> tuple[int, str, str]:
    return Paused(tmp, point, *argv, **extra).signal(signal.SIGINT)


def snapshot(folder: Path) -> dict[str, str]:
    """``{name: sha256}`` of the files in ``folder`` (hidden ones included)."""
    if not folder.exists():
        return {}
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Hidden staging folders, locks and temporary files beside or inside ``folder``."""
    beside = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    inside = [p.name for p in folder.iterdir() if ".tmp." in p.name] if folder.exists() else []
    return sorted(beside + inside)


def pause() -> None:
    """Pause here (in the child): create ``$FAULT_READY`` (so the test knows the point is
    reached) and sleep up to 60 s or until a Ctrl-C, which then has its usual effect here."""
    woke: list[int] = []
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: object) -> None:
            woke.append(signum)  # stop waiting, then do what Ctrl-C does here
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGINT, handler)
    Path(os.environ["FAULT_READY"]).write_text(str(os.getpid()), encoding="ascii")
    try:
        for _ in range(600):
            if woke:
                break
            time.sleep(0.1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def install_fault_point(point: str) -> None:
    """Patch scratchdl (in the child) to :func:`pause` at ``point``:

    * ``training``: after the third update of ``Trainer.fit``;
    * ``final-evaluation``: before ``train``'s final evaluation on the whole sets;
    * ``write:NAME``: when an atomic write of ``NAME`` is complete, before it replaces the file;
    * ``export-web:staged``: when ``export-web`` has written the page beside its folder;
    * ``export-web:NAME``: before ``export-web`` moves its ``NAME`` into the folder;
    * ``commit``: before the staged run folder takes the place of the run folder;
    * ``swap``: between the two renames of the portable swap (the old folder moved aside).
    """
    import scratchdl.cli._runfolder as runfolder
    import scratchdl.train.run as run
    from scratchdl.train import Callback, Trainer

    if point == "training":

        class PauseAtThree(Callback):
            def on_iteration(self, trainer, loss):
                if trainer.iteration == 3:
                    pause()

        fit = Trainer.fit

        def fit_with_pause(self):
            self.callbacks.append(PauseAtThree())
            return fit(self)

        Trainer.fit = fit_with_pause
    elif point == "final-evaluation":
        final = run._final_evaluation

        def final_after_pause(*args, **kwargs):
            pause()
            return final(*args, **kwargs)

        run._final_evaluation = final_after_pause
    elif point == "export-web:staged":
        import scratchdl.serve.export as export

        held = export.sigint_held

        def pause_then_hold():
            pause()
            return held()

        export.sigint_held = pause_then_hold
    elif point.startswith(("write:", "export-web:")):
        replace = os.replace
        name = point.split(":", 1)[1]

        def replace_after_pause(src, dst, *args, **kwargs):
            if Path(dst).name == name:
                pause()
            return replace(src, dst, *args, **kwargs)

        os.replace = replace_after_pause
    elif point == "commit":
        commit = runfolder.RunFolder.commit

        def commit_after_pause(self):
            pause()
            return commit(self)

        runfolder.RunFolder.commit = commit_after_pause
    elif point == "swap":
        rename = os.rename

        def rename_then_pause(src, dst, *args, **kwargs):
            rename(src, dst, *args, **kwargs)
            if ".old." in Path(dst).name:  # the run folder moved aside (RunFolder.swapped_out)
                pause()

        os.rename = rename_then_pause
    else:
        raise ValueError(f"unknown fault point {point!r}")


# -- what the fault tests check ---------------------------------------------------------------

#: The files of a finished run folder, and of one that can be resumed.
RUN_FILES = {"model.npz", "history.json", "curves.png"}
RESUMABLE_FILES = RUN_FILES | {"checkpoint.npz"}


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
    (_, _), (x_test, t_test) = synthetic()
    acc, loss = evaluate(net, x_test, t_test)
    assert 0.0 <= acc <= 1.0 and np.isfinite(loss)


def evaluates(tmp_path: Path, folder: Path) -> None:
    """``scratchdl evaluate DIR/model.npz`` works (child process, synthetic test set)."""
    r = run(tmp_path, "evaluate", str(folder / "model.npz"), "--json")
    assert r.returncode == 0, r.stderr
    assert 0.0 <= json.loads(r.stdout)["accuracy"] <= 1.0


def history_of(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text(encoding="utf-8"))


def finished_run(tmp_path: Path, name: str = "run") -> Path:
    """A finished run made in a child process, as a user would have it."""
    out = tmp_path / name
    r = run(tmp_path, "train", "--out", str(out), "--seed", "1", *SMALL)
    assert r.returncode == 0, r.stderr
    return out


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


def _forged_header(shape, dtype="<f8") -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 64  # a few bytes of "data"


if __name__ == "__main__":
    # Ctrl-C as at a terminal, even when this test run was started with SIGINT ignored (a
    # background job of a non-interactive shell), which a child would otherwise inherit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    patch_data()
    if os.environ.get("FAULT_NO_EXCHANGE"):
        import scratchdl.cli._runfolder as runfolder

        runfolder._EXCHANGE = None  # the portable swap: two renames
    if os.environ.get("FAULT_POINT"):
        install_fault_point(os.environ["FAULT_POINT"])
    from scratchdl.cli import main

    sys.exit(main(sys.argv[1:]))
