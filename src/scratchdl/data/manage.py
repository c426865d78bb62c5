"""Managing the data folder: importing files, checking them, describing what is where."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from scratchdl._fs import atomic_write_bytes
from scratchdl.data import datasets, idx, verify
from scratchdl.data.datasets import FILENAMES, KINDS, DatasetSpec, get_dataset
from scratchdl.data.paths import (
    DataLocation,
    find_file,
    locate,
    not_writable_error,
    user_cache_root,
)
from scratchdl.errors import DataError

PathLike = str | os.PathLike[str]
_KIND_OF_NAME = MappingProxyType({name: kind for kind, name in FILENAMES.items()})


def _kind_of(path: Path) -> str | None:
    return _KIND_OF_NAME.get(path.name.removesuffix(".gz"))


def import_files(
    path: PathLike, *, dataset: str | DatasetSpec = "mnist", data_dir: PathLike | None = None
) -> list[Path]:
    """Verify IDX files (``.gz`` or raw; one file or a folder of them) and copy them in.

    Nothing is copied unless every given file verifies. A data folder given that does not
    exist yet is created. One that cannot be written is an error (the files are never copied
    into the user cache instead), unless every given file is already there with the same
    content.

    Returns
    -------
    list of Path
        The files written (or, in a read-only data folder, the identical files already there).

    Raises
    ------
    DataError
        Naming each bad file and why (nothing is imported then), or the data folder that is
        a file or cannot be written.
    """
    spec = get_dataset(dataset)
    source = Path(path).expanduser()
    names = ", ".join(f"{n}[.gz]" for n in FILENAMES.values())
    if source.is_dir():
        candidates = sorted(p for p in source.iterdir() if p.is_file() and _kind_of(p))
        if not candidates:
            raise DataError(
                f"{source}: no {spec.title} IDX files in this folder (expected "
                f"{names}). Fix: pass the folder that holds them."
            )
    elif source.is_file():
        if _kind_of(source) is None:
            raise DataError(
                f"{source}: not an IDX file name we know (expected one of "
                f"{names}). Fix: keep the original file names."
            )
        candidates = [source]
    else:
        raise DataError(f"{source}: no such file or folder. Fix: check the path.")
    chosen: dict[str, Path] = {}
    for candidate in candidates:  # sorted: "x.gz" comes after "x"; prefer the .gz
        chosen[_kind_of(candidate)] = candidate  # type: ignore[index]
    location = locate(spec, data_dir, purpose="write")
    if location.files_dir is None and not location.explicit:
        raise DataError(
            f"no writable folder to import {spec.title} into. Fix: set "
            f"XDG_CACHE_HOME or pass a writable folder as data_dir."
        )
    fix = (
        f"Fix: nothing was imported; supply intact {spec.title} files (as downloaded, .gz "
        f"or decompressed), or name the dataset they belong to (dataset)."
    )
    recorded = verify.read_recorded(location.write_dir)
    good: dict[str, verify.Verified] = {}
    data: dict[str, bytes] = {}
    problems = []
    for kind, file in chosen.items():
        try:
            data[kind] = file.read_bytes()
            good[kind] = verify.verify_bytes(
                data[kind], kind, spec, name=str(file), recorded=recorded, fix=" "
            )
        except DataError as exc:
            # One "Fix:" for the whole message: the import's own, at the end.
            problems.append(str(exc).split(" Fix:")[0].strip())
        except OSError as exc:
            problems.append(f"{file}: cannot be read ({exc.strerror})")
    if problems:
        raise DataError(" | ".join(problems) + " " + fix)
    try:
        verify.check_pairs(good, spec, {k: str(p) for k, p in chosen.items()})
    except DataError as exc:
        raise DataError(str(exc).split(" Fix:")[0] + " " + fix) from None
    if location.files_dir is None:
        present = _already_present(location, spec, good)
        if present is None:
            raise not_writable_error(spec, location, "import")
        return present
    written = []
    for kind, file in chosen.items():
        dest = location.files_dir / file.name
        if dest.resolve() != file.resolve():
            atomic_write_bytes(dest, data[kind])
        # The other form (raw vs .gz) of the same file would shadow or confuse: drop it.
        other = dest.with_name(
            FILENAMES[kind] if dest.name.endswith(".gz") else FILENAMES[kind] + ".gz"
        )
        with contextlib.suppress(FileNotFoundError):
            other.unlink()
        written.append(dest)
    verify.record(location.files_dir, spec, good)
    return written


def _already_present(
    location: DataLocation, spec: DatasetSpec, good: dict[str, verify.Verified]
) -> list[Path] | None:
    """The files in the (read-only) data folder with the same content as ``good``, or None
    if any of them is missing or differs there."""
    # Only the folder asked for counts, not the user cache, so search it alone.
    own = replace(location, search_dirs=(location.root / spec.name, location.root))
    found = []
    for kind, verified in good.items():
        path = find_file(own, FILENAMES[kind])
        try:
            same = path is not None and idx.decompress(path.read_bytes()) == verified.raw
        except (OSError, idx.IdxFormatError):
            same = False
        if not same:
            return None
        found.append(path)
    return found


@dataclass(frozen=True)
class FileStatus:
    """What ``scratchdl data verify`` found for one file.

    Attributes
    ----------
    dataset, kind : str
    path : Path or None
        The file used (None when missing).
    state : str
        ``"missing"``, ``"verified"`` or ``"bad"``.
    detail : str
        How it was verified, or what is wrong.
    """

    dataset: str
    kind: str
    path: Path | None
    state: str
    detail: str


def check(dataset: str | DatasetSpec, *, data_dir: PathLike | None = None) -> list[FileStatus]:
    """Verify every file of ``dataset`` that is present (missing ones are reported, not bad)."""
    spec = get_dataset(dataset)
    location = locate(spec, data_dir)
    recorded = verify.read_recorded(location.write_dir)
    out = []
    good: dict[str, verify.Verified] = {}
    paths: dict[str, str] = {}
    for kind in KINDS:
        path = find_file(location, FILENAMES[kind])
        if path is None:
            out.append(
                FileStatus(
                    spec.name, kind, None, "missing", f"run `scratchdl data fetch {spec.name}`"
                )
            )
            continue
        paths[kind] = str(path)
        try:
            good[kind] = verify.verify_file(path, kind, spec, recorded=recorded)
        except verify.WrongDatasetError as exc:
            # A data folder may hold another dataset's files directly: not bad, just not ours.
            out.append(FileStatus(spec.name, kind, None, "missing", str(exc).split(". Fix:")[0]))
            continue
        except DataError as exc:
            out.append(FileStatus(spec.name, kind, path, "bad", str(exc)))
            continue
        out.append(FileStatus(spec.name, kind, path, "verified", f"by {good[kind].how}"))
    for split in ("train", "t10k"):
        images, labels = good.get(f"{split}-images"), good.get(f"{split}-labels")
        if (
            images is not None
            and labels is not None
            and (images.array.shape[0] != labels.array.shape[0])
        ):
            problem = (
                f"{images.array.shape[0]} images but {labels.array.shape[0]} labels in "
                f"the {split} files; {verify.fix_hint(spec)}"
            )
            out = [
                FileStatus(s.dataset, s.kind, s.path, "bad", problem)
                if s.kind.startswith(split)
                else s
                for s in out
            ]
            del good[f"{split}-images"], good[f"{split}-labels"]
    verify.record(location.write_dir, spec, good)
    return out


def _size(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for entry in folder.rglob("*"):
            with contextlib.suppress(OSError):
                if entry.is_file():
                    total += entry.stat().st_size
    return total


@dataclass(frozen=True)
class DatasetInfo:
    """Where one dataset lives and what is there."""

    spec: DatasetSpec
    location: DataLocation
    files: dict[str, Path | None]
    caches: list[Path]


def _derived(folder: Path | None, spec: DatasetSpec) -> list[Path]:
    """What loading wrote into ``folder`` (see scratchdl.data.cache): the processed ``.npz``,
    its float32 copies with their CRC files, and the memo of the sources' hashes."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(
        p
        for pattern in (f"{spec.name}-*.npz", f"{spec.name}-*.npy", f"{spec.name}-*.crc32")
        for p in folder.glob(pattern)
        if p.is_file()
    ) + [p for p in (folder / f"{spec.name}-sources.json",) if p.is_file()]


def describe(data_dir: PathLike | None = None) -> tuple[Path, int, list[DatasetInfo]]:
    """The user cache root, its size in bytes, and per-dataset locations and contents."""
    infos = []
    for spec in datasets.DATASETS.values():
        location = locate(spec, data_dir, purpose="info")
        files = {kind: find_file(location, FILENAMES[kind]) for kind in KINDS}
        infos.append(DatasetInfo(spec, location, files, _derived(location.write_dir, spec)))
    root = user_cache_root()
    return root, _size(root), infos


@dataclass(frozen=True)
class Cleaned:
    """What :func:`clean` removed (or would remove) and what it left on purpose.

    Attributes
    ----------
    removed : list of (Path, int)
        Each file removed with its size in bytes.
    kept : list of Path
        IDX files left in a data folder the person chose (their own files, not a cache).
    """

    removed: list[tuple[Path, int]]
    kept: list[Path]

    @property
    def freed(self) -> int:
        """Bytes freed."""
        return sum(size for _, size in self.removed)


def clean(
    dataset: str | DatasetSpec | None = None,
    *,
    data_dir: PathLike | None = None,
    keep_downloads: bool = False,
    dry_run: bool = False,
) -> Cleaned:
    """Remove what scratchdl keeps of a dataset (every dataset when ``dataset`` is None).

    From the user cache: the downloaded IDX files (unless ``keep_downloads``), the checksum
    record and everything loading derived from them (processed ``.npz``, float32 copies). From
    a data folder given by ``data_dir`` or ``SCRATCHDL_DATA_DIR``: only what loading derived;
    the IDX files there are the person's own and are kept (listed in ``kept``). Whatever is
    removed is rebuilt, or downloaded again, on the next load.
    """
    specs = list(datasets.DATASETS.values()) if dataset is None else [get_dataset(dataset)]
    removed: list[tuple[Path, int]] = []
    kept: list[Path] = []
    idx_names = {n for name in FILENAMES.values() for n in (name, name + ".gz")}
    for spec in specs:
        cache_dir = user_cache_root() / spec.name
        targets = _derived(cache_dir, spec)
        if not keep_downloads and cache_dir.is_dir():
            targets += sorted(
                p
                for p in cache_dir.iterdir()
                if p.is_file() and (p.name in idx_names or p.name == verify.RECORD_NAME)
            )
        location = locate(spec, data_dir, purpose="info")
        if location.explicit:
            if location.write_dir != cache_dir:
                targets += _derived(location.write_dir, spec)
            kept += [
                p
                for kind in KINDS
                if (p := find_file(location, FILENAMES[kind])) is not None and p.parent != cache_dir
            ]
        for path in targets:
            try:
                size = path.stat().st_size
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue  # another process removed it first
            removed.append((path, size))
        if not dry_run:
            with contextlib.suppress(OSError):
                cache_dir.rmdir()  # only when empty
    return Cleaned(removed, kept)


__all__ = ["Cleaned", "DatasetInfo", "FileStatus", "check", "clean", "describe", "import_files"]
