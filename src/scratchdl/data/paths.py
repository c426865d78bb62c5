"""Where dataset files live: the data folder resolution order and writability.

Resolution order: the ``data_dir`` argument, else the ``SCRATCHDL_DATA_DIR`` environment variable,
else the user cache ``$XDG_CACHE_HOME/scratchdl`` (default ``~/.cache/scratchdl``). Inside the
user cache every dataset has its own subfolder; a user-given folder may hold the four files
directly or in that subfolder. Files we write (downloads, imports, the processed ``.npz``) go to
the dataset subfolder of the data folder when it is writable. A read-only data folder still works
for reading: its processed cache goes to the user cache, but downloads and imports are refused
rather than silently redirected there (see :attr:`DataLocation.files_dir`).

A data folder that was asked for (``data_dir`` or ``SCRATCHDL_DATA_DIR``) is checked: a file is
always an error, and so is a folder that does not exist, except when the caller is about to
download or import into it (``purpose="write"``), which creates it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scratchdl.data.datasets import DatasetSpec
from scratchdl.errors import DataError

ENV_VAR = "SCRATCHDL_DATA_DIR"


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/scratchdl``, or ``~/.cache/scratchdl`` when the variable is unset."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "scratchdl"


def is_writable_dir(path: str | os.PathLike[str]) -> bool:
    """Whether we may create files in ``path`` (created on demand if it does not exist).

    Checks the nearest existing ancestor. A folder without any write permission bit counts as
    read-only even for root, who ignores permissions: the owner marked it read-only, so we keep
    our caches out of it. Otherwise the answer comes from actually creating a temporary file,
    which also catches read-only mounts.
    """
    probe = Path(path).absolute()
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    if not probe.is_dir():
        return False
    if probe.stat().st_mode & 0o222 == 0:
        return False
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".scratchdl-probe-")
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return True


@dataclass(frozen=True)
class DataLocation:
    """Where one dataset's files are looked for and written.

    Attributes
    ----------
    origin : str
        Which rule chose ``root``: ``"argument"``, ``"environment"`` or ``"user cache"``.
    root : Path
        The data folder.
    search_dirs : tuple of Path
        Folders searched for the IDX files, in order.
    write_dir : Path or None
        Where the processed cache and checksum records go; None if nothing is writable. For a
        read-only data folder this is the user cache.
    files_dir : Path or None
        Where downloads and imports of the IDX files go: the dataset folder of ``root`` if it
        is writable, else None (never the user cache in place of a data folder asked for).
    """

    origin: str
    root: Path
    search_dirs: tuple[Path, ...]
    write_dir: Path | None
    files_dir: Path | None

    @property
    def explicit(self) -> bool:
        """Whether ``root`` was asked for (argument or environment), not the default."""
        return self.origin != "user cache"

    def describe_root(self) -> str:
        """How messages name the data folder, e.g. ``SCRATCHDL_DATA_DIR=/data``."""
        if self.origin == "environment":
            return f"{ENV_VAR}={self.root}"
        return f"data folder {self.root}"


Purpose = Literal["read", "write", "info"]


def _check_root(spec: DatasetSpec, origin: str, root: Path, purpose: Purpose) -> None:
    """Refuse a data folder that was asked for but is a file or (for reading) missing."""
    if purpose == "info":
        return
    env = origin == "environment"
    try:
        os.stat(root)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            named = f"{ENV_VAR}={root}" if env else f"data folder {root}"
            raise DataError(
                f"{named} is a loop of symbolic links that never reaches a folder. Fix: point "
                f"the link at a real folder (ls -l {root}), or pass another folder."
            ) from None
    if root.exists() and not root.is_dir():
        hint = f" (perhaps {root.parent})" if root.parent.is_dir() else ""
        if env:
            raise DataError(
                f"{ENV_VAR}={root} is a file, not a data folder. Fix: set {ENV_VAR} to the "
                f"folder that holds the {spec.title} files{hint}, or unset it."
            )
        raise DataError(
            f"data folder {root} is a file, not a folder. Fix: pass the folder that holds the "
            f"{spec.title} files{hint} as data_dir."
        )
    if purpose == "read" and not root.exists():
        if env:
            raise DataError(
                f"{ENV_VAR}={root}: that folder does not exist. Fix: correct or unset {ENV_VAR}; "
                f"or to download into a new folder, run `scratchdl data fetch {spec.name}`, "
                f"which creates it."
            )
        raise DataError(
            f"data folder {root} does not exist. Fix: check the path; or to download into a "
            f"new folder, run `scratchdl data fetch {spec.name} --data-dir {root}`, which "
            f"creates it."
        )


def locate(
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    purpose: Purpose = "read",
) -> DataLocation:
    """Resolve where ``spec``'s files live (see the module docstring for the order).

    Parameters
    ----------
    purpose : {"read", "write", "info"}
        ``"read"``: a data folder asked for must exist; ``"write"`` (fetch, import): it may be
        missing (it is created when written to); ``"info"``: no checks. A file given as the
        data folder is an error unless ``"info"``.

    Raises
    ------
    DataError
        The data folder asked for is a file, or is missing when reading; naming the path (or
        the environment variable) and the fix.
    """
    cache_dir = user_cache_root() / spec.name
    if data_dir is not None:
        origin, root = "argument", Path(data_dir).expanduser()
    elif os.environ.get(ENV_VAR):
        origin, root = "environment", Path(os.environ[ENV_VAR]).expanduser()
    else:
        writable = cache_dir if is_writable_dir(cache_dir) else None
        return DataLocation("user cache", cache_dir.parent, (cache_dir,), writable, writable)
    _check_root(spec, origin, root, purpose)
    own = root / spec.name
    if is_writable_dir(own):
        write_dir: Path | None = own
        files_dir: Path | None = own
        search = [own, root]
    else:
        # A read-only data folder still works for reading: the processed cache goes to the
        # user cache instead. Downloads and imports do not (files_dir is None): they would
        # land somewhere the person did not ask for.
        write_dir = cache_dir if is_writable_dir(cache_dir) else None
        files_dir = None
        search = [own, cache_dir, root]
    # The dataset's own folders come before the bare data folder, which may hold another
    # dataset's files (MNIST directly in DATA_DIR, Fashion-MNIST in DATA_DIR/fashion).
    return DataLocation(origin, root, tuple(search), write_dir, files_dir)


def not_writable_error(spec: DatasetSpec, location: DataLocation, action: str) -> DataError:
    """The error for a download or import into a data folder that cannot be written."""
    if not location.explicit:
        return DataError(
            f"no writable folder for {spec.title} files: the user cache "
            f"{location.root / spec.name} is read-only. Fix: set XDG_CACHE_HOME or pass "
            f"a writable folder as data_dir."
        )
    flag = f"{ENV_VAR}" if location.origin == "environment" else "data_dir"
    return DataError(
        f"cannot {action} {spec.title} files: {location.describe_root()} is not writable "
        f"(nothing was written to the user cache instead). Fix: make "
        f"{location.root / spec.name} writable, or point {flag} at a writable folder."
    )


def find_file(
    location: DataLocation, filename: str, suffixes: tuple[str, ...] = (".gz", "")
) -> Path | None:
    """First existing ``filename`` in the search folders (``.gz`` preferred, then raw)."""
    for folder in location.search_dirs:
        for candidate in (folder / f"{filename}{suffix}" for suffix in suffixes):
            if candidate.is_file():
                return candidate
    return None
