"""The processed cache: one ``.npz`` per dataset version, for fast repeated loads.

The file name holds a key derived from the SHA-256 of the four source files, so a changed source
gets a new cache instead of stale data. Hashing the sources on every load would cost more than
the load itself (~0.3 s to gunzip MNIST), so a small JSON memo remembers each verified source's
path, size and modification time with its SHA-256; when all four still match, the key is known
without reading them (the same trade-off ``make`` and ``git`` make).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from scratchdl._fs import atomic_path, atomic_write_text
from scratchdl.data.datasets import KINDS, DatasetSpec

_ARRAYS = ("x_train", "t_train", "x_test", "t_test")
_FORMAT = 1


def cache_key(hashes: Mapping[str, str]) -> str:
    """Short key from the SHA-256 of the four sources (and this cache format)."""
    text = f"format={_FORMAT}\n" + "".join(f"{k}={hashes[k]}\n" for k in KINDS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def npz_path(folder: Path, spec: DatasetSpec, key: str) -> Path:
    """Where the processed cache for ``key`` lives."""
    return folder / f"{spec.name}-{key}.npz"


def memo_path(folder: Path, spec: DatasetSpec) -> Path:
    """Where the source memo lives."""
    return folder / f"{spec.name}-sources.json"


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def remembered_hashes(
    folder: Path, spec: DatasetSpec, sources: Mapping[str, Path]
) -> dict[str, str] | None:
    """SHA-256 of the sources if the memo says they are unchanged, else None."""
    try:
        memo = json.loads(memo_path(folder, spec).read_text(encoding="utf-8"))
        hashes = {}
        for kind in KINDS:
            entry = memo["files"][kind]
            if entry["path"] != str(sources[kind].absolute()) or entry["stat"] != _stat(
                sources[kind]
            ):
                return None
            hashes[kind] = str(entry["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return hashes


def remember(
    folder: Path, spec: DatasetSpec, sources: Mapping[str, Path], hashes: Mapping[str, str]
) -> None:
    """Write the memo (best effort: without it loads are only slower)."""
    files = {
        kind: {
            "path": str(sources[kind].absolute()),
            "stat": _stat(sources[kind]),
            "sha256": hashes[kind],
        }
        for kind in KINDS
    }
    with contextlib.suppress(OSError):
        atomic_write_text(memo_path(folder, spec), json.dumps({"files": files}, indent=1))


def load(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """Load a processed cache; None if absent. A damaged one is deleted with a warning.

    Returns
    -------
    dict or None
        ``x_train`` (N, 28, 28) uint8, ``t_train`` (N,) uint8, and the same for ``test``.
    """
    if not path.is_file():
        return None
    try:
        # np.load checks the zip CRC of every member as it reads it, so bit rot is caught too.
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in _ARRAYS}
            stored_key = str(npz["key"])
        problem = None
        if stored_key != key:
            problem = "it belongs to other source files"
        for split in ("train", "test"):
            x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
            if (
                x.dtype != np.uint8
                or t.dtype != np.uint8
                or x.ndim != 3
                or x.shape[1:] != (28, 28)
                or t.shape != (x.shape[0],)
            ):
                problem = f"its {split} arrays have the wrong shape or type"
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        problem = f"it is damaged ({type(exc).__name__}: {exc})"
    if problem is None:
        return arrays
    warnings.warn(
        f"{path}: processed cache ignored because {problem}; rebuilding it from the IDX files",
        RuntimeWarning,
        stacklevel=3,
    )
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def save(path: Path, arrays: Mapping[str, np.ndarray], key: str) -> bool:
    """Write a processed cache atomically; remove older caches of the same dataset.

    Returns False (with a warning) if it could not be written; loading still works.
    """
    try:
        # Through a file object: np.savez would append ".npz" to the temporary name.
        with atomic_path(path) as tmp, tmp.open("wb") as out:
            np.savez(out, key=np.array(key), **{name: arrays[name] for name in _ARRAYS})
    except OSError as exc:
        warnings.warn(
            f"{path}: could not write the processed cache ({exc.strerror}); loads "
            f"will stay slow until it can be written",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    # Older caches (other source versions) are dead weight now, with their float32 copies.
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(f"{prefix}*.npz"):
        if old != path and len(old.stem) == len(path.stem):
            for dead in (old, *path.parent.glob(f"{old.stem}.x_*")):
                with contextlib.suppress(OSError):
                    os.unlink(dead)
    return True


# -- normalised float32 images, memory-mapped ------------------------------------------------
# ``load_mnist(normalize=True)`` needs the images as float32: 188 MB for MNIST's training set.
# Converting them costs about 0.6 s per process on a machine where fresh memory is slow to
# touch; mapping a stored float32 copy costs nothing until the rows are read, and the rows come
# from the page cache. A CRC-32 beside each copy catches a damaged file (0.08 s for 188 MB).


def float_path(npz: Path, split: str) -> Path:
    """Where the normalised float32 copy of ``x_<split>`` of the cache ``npz`` lives."""
    return npz.with_name(f"{npz.stem}.x_{split}.float32.npy")


def _crc_path(path: Path) -> Path:
    return path.with_name(path.name + ".crc32")


def load_float(npz: Path, split: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The stored float32 images of ``split``, mapped copy-on-write (writes stay private);
    None if absent. A damaged or stale copy is deleted (it is rebuilt from the uint8 cache)."""
    path = float_path(npz, split)
    if not path.is_file():
        return None
    try:
        expected = int(_crc_path(path).read_text(encoding="utf-8"))
        x = np.load(path, mmap_mode="c", allow_pickle=False)
        ok = x.dtype == np.float32 and x.shape == shape and zlib.crc32(x) == expected
    except (OSError, ValueError):
        ok = False
    if ok:
        return np.asarray(x)  # a plain ndarray over the private mapping
    for dead in (path, _crc_path(path)):
        with contextlib.suppress(OSError):
            dead.unlink()
    return None


def save_float(npz: Path, split: str, x: np.ndarray) -> None:
    """Store ``x`` for :func:`load_float` (best effort: without it loads are only slower)."""
    path = float_path(npz, split)
    with contextlib.suppress(OSError):
        # Through a file object: np.save would append ".npy" to the temporary name.
        with atomic_path(path) as tmp, tmp.open("wb") as out:
            np.save(out, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
        atomic_write_text(_crc_path(path), str(zlib.crc32(np.ascontiguousarray(x))))
