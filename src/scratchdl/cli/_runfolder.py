"""A run folder holds one run: ``scratchdl train --out DIR`` never leaves it half written.

Mechanism (what ``train`` does with ``--out run``):

1. **Lock.** ``.run.lock`` beside the folder, held with ``flock`` for the whole command and
   holding our process id. The kernel drops the lock when the process dies, however it dies, so
   a stale lock never blocks anyone; a second ``train`` on the same folder is refused with the
   first one's process id.
2. **Stage.** Everything this run writes goes into a sibling folder ``.run.new.<pid>``: the
   checkpoint it resumes from (a hard link), then ``checkpoint.npz`` (a stopped run),
   ``history.json``, ``model.npz`` and ``curves.png``.
3. **Swap.** When the staged folder is complete, it takes the place of ``run`` in one step
   (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames, and an interrupted pair is
   repaired by the next ``train``). Ctrl-C is held back during the writes and the swap.

So at every moment ``run`` holds its previous contents (a finished run, a resumable
checkpoint, or nothing for a new folder) or this run's complete results. A process killed
mid-way leaves only hidden ``.run.new.<pid>`` / ``.run.old.<pid>`` folders, removed (or, for
an interrupted swap, put back) by the next ``train`` on that folder.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scratchdl.errors import ConfigError

#: The files a run writes; anything else in a run folder is not ours.
RUN_FILES = ("model.npz", "history.json", "curves.png", "checkpoint.npz")


class RunFolderError(ConfigError):
    """The run folder cannot be used as asked (locked, holds a run, holds foreign files)."""


def _renameat2_exchange() -> Callable[[str, str], bool] | None:
    """``exchange(a, b)`` swapping two paths atomically, or None where unsupported."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

    def exchange(a: str, b: str) -> bool:
        if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return True
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            return False  # this file system cannot: fall back to two renames
        raise OSError(err, os.strerror(err), b)

    return exchange


_EXCHANGE = _renameat2_exchange()


class _Lock:
    """An exclusive ``flock`` on ``path``, holding our process id; gone when we die."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.folder = folder
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self._acquire_by_pid()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    pid = os.read(fd, 64).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
                who = f"process {pid}" if pid.isdigit() else "another process"
                raise RunFolderError(
                    f"{self.folder} is in use by another 'scratchdl train' ({who}): wait for it "
                    f"to finish or stop it (kill {pid if pid.isdigit() else '<pid>'}), or "
                    "choose another --out"
                ) from None
            # The previous holder may have removed the file between our open and our lock.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd

    def _acquire_by_pid(self) -> None:  # pragma: no cover - not POSIX
        """Without ``flock``: create the file exclusively; a dead writer's file is taken over."""
        from scratchdl._fs import _process_alive

        for _ in range(2):
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self.path.read_text(encoding="ascii", errors="replace").strip()
                if pid.isdigit() and _process_alive(int(pid)):
                    raise RunFolderError(
                        f"{self.folder} is in use by another 'scratchdl train' (process {pid}): "
                        "wait for it to finish or stop it, or choose another --out"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            os.write(self.fd, f"{os.getpid()}\n".encode("ascii"))
            return
        raise RunFolderError(f"cannot lock {self.folder}: remove {self.path} and try again")

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


class RunFolder:
    """The ``--out`` folder of one ``train`` command: lock, state, staging and swap.

    Parameters
    ----------
    out : Path
        The run folder (need not exist).
    """

    def __init__(self, out: Path) -> None:
        real = Path(os.path.realpath(out))
        self.real = real
        self.parent = real.parent
        self.lock = _Lock(self.parent / f".{real.name}.lock", out)
        self.staging = self.parent / f".{real.name}.new.{os.getpid()}"
        self.swapped_out = self.parent / f".{real.name}.old.{os.getpid()}"

    # -- state --------------------------------------------------------------------------------
    def contents(self) -> list[str]:
        """Names in the folder (none if it does not exist)."""
        try:
            return sorted(os.listdir(self.real))
        except FileNotFoundError:
            return []

    def state(self) -> str:
        """``'empty'``, ``'unfinished'`` (a checkpoint), ``'finished'`` (a model),
        ``'partial'`` (some of a run's files but neither) or ``'foreign'`` (files that are not a
        run's)."""
        names = [n for n in self.contents() if not n.startswith(".")]
        if any(n not in RUN_FILES for n in names):
            return "foreign"
        if "checkpoint.npz" in names:
            return "unfinished"
        if "model.npz" in names:
            return "finished"
        return "empty" if not names else "partial"  # e.g. history.json alone, from an old crash

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Lock the folder, repair what a killed ``train`` left, and create the staging folder."""
        self.parent.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        self._recover()
        self.staging.mkdir()

    def close(self) -> None:
        """Remove the staging folder (if not swapped in) and release the lock."""
        shutil.rmtree(self.staging, ignore_errors=True)
        shutil.rmtree(self.swapped_out, ignore_errors=True)
        self.lock.release()

    def _recover(self) -> None:
        """We hold the lock, so every ``.NAME.new.*`` / ``.NAME.old.*`` is a dead run's."""
        prefix = f".{self.real.name}."
        leftovers = [
            p
            for p in self.parent.iterdir()
            if p.name.startswith(prefix)
            and p.name[len(prefix) :].split(".")[0] in ("new", "old")
            and p.is_dir()
            and not p.is_symlink()
        ]
        olds = [p for p in leftovers if p.name[len(prefix) :].startswith("old.")]
        if olds and (not self.real.exists() or not any(self.real.iterdir())):
            # A swap by two renames was cut between them: put the previous run back (in place
            # of the empty folder that ``--out`` checks may have created meanwhile).
            with contextlib.suppress(FileNotFoundError):
                self.real.rmdir()
            os.rename(olds[0], self.real)
            leftovers.remove(olds[0])
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True)

    def link_checkpoint(self, name: str = "checkpoint.npz") -> None:
        """Give the staging folder the checkpoint to resume from (a hard link, or a copy)."""
        src, dst = self.real / name, self.staging / name
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    def commit(self) -> None:
        """Put the staged folder in the place of the run folder, in one step."""
        _fsync_tree(self.staging)
        if not self.real.exists():
            os.rename(self.staging, self.real)
        elif _EXCHANGE is not None and _EXCHANGE(str(self.staging), str(self.real)):
            # The previous contents are now in the staging folder's place; close() drops them.
            pass
        else:
            os.rename(self.real, self.swapped_out)
            os.rename(self.staging, self.real)
        _fsync(self.parent)


def _fsync(path: Path | str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush the staged files to disk before they replace a complete run."""
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            _fsync(entry.path)
    _fsync(folder)


@contextlib.contextmanager
def run_folder(out: Path) -> Iterator[RunFolder]:
    """Lock ``out`` and stage this run's files beside it; always clean up."""
    folder = RunFolder(out)
    folder.open()
    try:
        yield folder
    finally:
        folder.close()


@contextlib.contextmanager
def sigint_held() -> Iterator[dict[str, Any]]:
    """Hold Ctrl-C back while the block runs (writing and swapping the results); the yielded
    dict's ``'interrupted'`` says whether one arrived. Elsewhere than the main thread, nothing
    is held."""
    state: dict[str, Any] = {"interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        state["interrupted"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def say_saved(held: dict[str, Any]) -> int:
    """The exit code of a finished run: 130 if Ctrl-C came while it was being saved
    (``held``: what :func:`sigint_held` yielded)."""
    if held["interrupted"]:
        print("interrupted while saving: the results above were saved completely", file=sys.stderr)
        return 130
    return 0


def refuse_on_resume(args: argparse.Namespace, given: Any) -> None:
    """``--resume`` continues a run with its own settings: refuse the flags named in ``given``
    (parameter names) that would change them."""
    if args.resume and given:
        from scratchdl.cli._options import flag_name

        flags = ", ".join(flag_name(name) for name in given)
        raise ConfigError(
            f"--resume continues the run in {args.out} with its own settings: drop {flags}"
        )


def check_out(out: Path) -> None:
    """Fail before training, not after it, when the results could not be written to ``out``."""
    from scratchdl._fs import ensure_dir

    try:
        ensure_dir(out)
    except OSError as exc:
        raise ConfigError(f"--out {out}: {exc.strerror}; choose another --out") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: {out} is not writable; choose another --out")
    real, cwd = Path(os.path.realpath(out)), Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise ConfigError(
            f"--out {out} is the current folder (or holds it): a run folder is replaced as a "
            "whole, so give a folder of its own, e.g. --out run"
        )
    parent = real.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"--out {out}: its parent folder {parent} is not writable (a run is written beside "
            "its folder, then swapped in); choose another --out"
        )


def check_folder(folder: Any, args: argparse.Namespace) -> str:
    """Refuse a run folder that holds what this command must not replace; return its state."""
    out, state = args.out, folder.state()
    if state == "foreign":
        names = [n for n in folder.contents() if not n.startswith(".")][:5]
        raise RunFolderError(
            f"--out {out} holds files that are not a scratchdl run ({', '.join(names)}): "
            "a run is written as a whole folder, so choose a new or empty --out"
        )
    if args.resume:
        if state != "unfinished":
            what = "a finished run" if state == "finished" else "no run"
            raise RunFolderError(
                f"nothing to resume: no checkpoint at {Path(out) / 'checkpoint.npz'} ({out} "
                f"holds {what}); start a new run without --resume"
            )
        return state
    if state == "unfinished" and not args.force:
        raise RunFolderError(
            f"{out} holds an unfinished run (checkpoint.npz): continue it with --resume, "
            "replace it with --force, or choose another --out"
        )
    if state == "partial" and not args.force:
        names = ", ".join(n for n in folder.contents() if not n.startswith("."))
        raise RunFolderError(
            f"{out} holds part of a run ({names}, no model.npz): pass --force to replace it, "
            "or choose another --out"
        )
    if state == "finished" and not args.force:
        raise RunFolderError(
            f"{out} holds a finished run (model.npz): pass --force to replace it, or choose "
            "another --out"
        )
    return state
