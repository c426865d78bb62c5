"""Atomic file writes: a reader sees the old file or the new one, never half of one.

A write goes to ``.<name>.tmp.<pid>.<random><suffix>`` beside the destination and is renamed
over it when complete. A process killed mid-write (SIGKILL, power loss) leaves its temporary
file behind; the next atomic write into the same folder removes such files when the process
named in them is gone (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``.

    The temporary file lives in the same folder so ``os.replace`` is atomic. On any exception
    it is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        Final destination.
    suffix : str
        End of the temporary name, for writers that pick a format from it (``savefig``).
        Writers that rename files (``np.savez(name)`` appends ``.npz``) should be handed an
        open file object instead.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, "is a folder, not a file: give a file name inside it", str(path)
        )
    ensure_dir(path.parent, for_path=path)
    remove_stale_temporaries(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.tmp.{os.getpid()}.", suffix=suffix
        )
    except OSError as exc:
        raise _about(exc, path) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); results and caches are ordinary files.
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and (
            exc.filename in (str(tmp_path), tmp_path)
            or (exc.filename is None and exc.errno is not None)
        ):
            # A failed write (full disk, file size limit) names the file asked for.
            raise _about(exc, path) from None
        raise


#: Our temporary names: ``.<name>.tmp.<pid>.<8 characters of mkstemp><suffix>``.
_TEMP_NAME = re.compile(r"^\..+\.tmp\.(\d+)\.[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?$")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or we cannot tell: keep its file
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files of :func:`atomic_path` in ``folder`` whose writer is gone.

    Only files named as ours (with the writer's process id) are considered, and only when no
    process with that id exists, so a write in progress is never disturbed. Errors (a file
    another cleaner removed first, a read-only folder) are ignored: this is housekeeping.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def ensure_dir(folder: str | os.PathLike[str], for_path: Path | None = None) -> Path:
    """Create ``folder`` (and its parents) unless it exists; return it.

    An existing file on the way is a :class:`NotADirectoryError` that names it, instead of
    ``mkdir``'s bare "File exists". Errors name ``for_path`` (the file about to be written
    there) when given, else ``folder``.
    """
    folder = Path(folder)
    named = for_path if for_path is not None else folder
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, f"{parent} is a file, not a folder", str(named)
                )
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _about(exc, named) from None
    return folder


def _about(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file the caller asked for instead of our temporary one."""
    return type(exc)(exc.errno, f"cannot write {path.name} ({exc.strerror})", str(path))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
