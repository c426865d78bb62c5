"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import errno
import os
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
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp.", suffix=suffix)
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
        if isinstance(exc, OSError) and exc.filename in (str(tmp_path), tmp_path):
            raise _about(exc, path) from None
        raise


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
