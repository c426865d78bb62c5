"""Where dataset files live: the data folder resolution order and writability.

Resolution order: the ``data_dir`` argument, else the ``SCRATCHDL_DATA_DIR`` environment variable,
else the user cache ``$XDG_CACHE_HOME/scratchdl`` (default ``~/.cache/scratchdl``). Inside the
user cache every dataset has its own subfolder; a user-given folder may hold the four files
directly or in that subfolder. Files we write (downloads, imports, the processed ``.npz``) go to
the dataset subfolder of the data folder when it is writable, else to the user cache.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scratchdl.data.datasets import DatasetSpec

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
        Where downloads, imports and the processed cache go; None if nothing is writable.
    """

    origin: str
    root: Path
    search_dirs: tuple[Path, ...]
    write_dir: Path | None


def locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None) -> DataLocation:
    """Resolve where ``spec``'s files live (see the module docstring for the order)."""
    cache_dir = user_cache_root() / spec.name
    if data_dir is not None:
        origin, root = "argument", Path(data_dir).expanduser()
    elif os.environ.get(ENV_VAR):
        origin, root = "environment", Path(os.environ[ENV_VAR]).expanduser()
    else:
        writable = is_writable_dir(cache_dir)
        return DataLocation(
            "user cache", cache_dir.parent, (cache_dir,), cache_dir if writable else None
        )
    own = root / spec.name
    if is_writable_dir(own):
        write_dir: Path | None = own
        search = [own, root]
    else:
        # A read-only data folder still works: derived files go to the user cache instead.
        write_dir = cache_dir if is_writable_dir(cache_dir) else None
        search = [own, cache_dir, root]
    # The dataset's own folders come before the bare data folder, which may hold another
    # dataset's files (MNIST directly in DATA_DIR, Fashion-MNIST in DATA_DIR/fashion).
    return DataLocation(origin, root, tuple(search), write_dir)


def find_file(location: DataLocation, filename: str) -> Path | None:
    """First existing ``filename`` (``.gz`` preferred, then raw) in the search folders."""
    for folder in location.search_dirs:
        for candidate in (folder / f"{filename}.gz", folder / filename):
            if candidate.is_file():
                return candidate
    return None
