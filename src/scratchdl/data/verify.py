"""Checking dataset files: IDX structure plus content checksums.

Content is identified by the SHA-256 of the *decompressed* IDX bytes, so official and
re-compressed ``.gz`` files and raw files are all accepted. For datasets whose SHA-256 is not
built in (Fashion-MNIST) the MD5 of the official ``.gz`` is checked instead, and the SHA-256 is
recorded beside the files after the first success so a later raw copy can be verified too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchdl._fs import atomic_write_text
from scratchdl.data import datasets, idx
from scratchdl.data.datasets import FILENAMES, DatasetSpec
from scratchdl.errors import DataError

RECORD_NAME = "verified-sha256.json"


class WrongDatasetError(DataError):
    """The file is intact but belongs to another known dataset (e.g. MNIST, not Fashion)."""


def _identify(sha: str, spec: DatasetSpec) -> str | None:
    """Name the known file with this SHA-256, if it belongs to a dataset other than ``spec``."""
    for other in datasets.DATASETS.values():
        if other.name == spec.name:
            continue
        for kind, value in other.sha256.items():
            if value == sha:
                return f"{other.title} {FILENAMES[kind]}"
    return None


def _wrong(name: str, elsewhere: str, title: str, spec: DatasetSpec) -> str:
    return (
        f"{name}: this is the {elsewhere} file, not {title}. Fix: keep each dataset in its own "
        f"subfolder of the data folder (e.g. DATA_DIR/{spec.name}/), or run "
        f"`scratchdl data fetch {spec.name}`."
    )


def fix_hint(spec: DatasetSpec) -> str:
    """The standard 'how to fix it' sentence for a bad or missing file."""
    return (
        f"Fix: delete it and run `scratchdl data fetch {spec.name}`, or supply good files with "
        f"`scratchdl data import PATH --dataset {spec.name}`."
    )


@dataclass(frozen=True)
class Verified:
    """A file that passed every check.

    Attributes
    ----------
    kind : str
        ``"train-images"``, ...
    raw : bytes
        Decompressed IDX bytes.
    array : ndarray of uint8
        (N, 28, 28) images or (N,) labels, a read-only view of ``raw``.
    sha256 : str
        SHA-256 of ``raw``.
    how : str
        What vouched for the content: ``"sha256"``, ``"gz md5"`` or ``"recorded sha256"``.
    """

    kind: str
    raw: bytes
    array: np.ndarray
    sha256: str
    how: str


def verify_bytes(
    data: bytes,
    kind: str,
    spec: DatasetSpec,
    *,
    name: str,
    recorded: Mapping[str, str] | None = None,
    fix: str | None = None,
) -> Verified:
    """Check file content ``data`` (gzip or raw IDX) as the ``kind`` file of ``spec``.

    Parameters
    ----------
    data : bytes
        The file's bytes as stored.
    name : str
        How messages name the file (a path or URL).
    recorded : mapping, optional
        SHA-256 values recorded earlier for kinds without a built-in one.
    fix : str, optional
        Fix sentence for error messages (default :func:`fix_hint`).

    Raises
    ------
    DataError
        Naming the file, what is wrong and the fix.
    """
    fix = fix or fix_hint(spec)
    title = f"{spec.title} {FILENAMES[kind]}"
    gz_md5 = hashlib.md5(data).hexdigest() if idx.is_gzip(data) else None
    try:
        raw = idx.decompress(data)
        array = idx.parse(raw, kind)
    except idx.IdxFormatError as exc:
        raise DataError(f"{name}: {exc}; it is not a valid {title} file. {fix}") from None
    expected_n = spec.expected_count(kind)
    if expected_n is not None and array.shape[0] != expected_n:
        raise DataError(
            f"{name}: holds {array.shape[0]} items, but {title} has {expected_n}. {fix}"
        )
    sha = hashlib.sha256(raw).hexdigest()
    builtin = spec.sha256.get(kind)
    if builtin is not None:
        if sha != builtin:
            elsewhere = _identify(sha, spec)
            if elsewhere is not None:
                raise WrongDatasetError(_wrong(name, elsewhere, title, spec))
            raise DataError(
                f"{name}: checksum mismatch (SHA-256 of the decompressed data is {sha[:16]}..., "
                f"expected {builtin[:16]}...); the file is corrupt or not {title}. {fix}"
            )
        return Verified(kind, raw, array, sha, "sha256")
    official = spec.gz_md5.get(kind)
    if gz_md5 is not None and gz_md5 == official:
        return Verified(kind, raw, array, sha, "gz md5")
    elsewhere = _identify(sha, spec)
    if elsewhere is not None:
        raise WrongDatasetError(_wrong(name, elsewhere, title, spec))
    known = (recorded or {}).get(kind)
    if known is not None and sha == known:
        return Verified(kind, raw, array, sha, "recorded sha256")
    if known is not None:
        problem = f"checksum mismatch (SHA-256 {sha[:16]}..., recorded {known[:16]}...)"
    elif gz_md5 is None:
        problem = (
            f"cannot be verified: it is not gzip, and {spec.title} files are checked "
            f"against the MD5 of the official .gz release"
        )
    else:
        problem = f"checksum mismatch (MD5 of the .gz is {gz_md5}, expected {official})"
    raise DataError(f"{name}: {problem}. {fix}")


def verify_file(
    path: Path, kind: str, spec: DatasetSpec, *, recorded: Mapping[str, str] | None = None
) -> Verified:
    """:func:`verify_bytes` for a file on disk."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}). {fix_hint(spec)}") from None
    return verify_bytes(data, kind, spec, name=str(path), recorded=recorded)


def check_pairs(files: Mapping[str, Verified], spec: DatasetSpec, names: Mapping[str, str]) -> None:
    """Check that each images file has as many items as its labels file."""
    for split in ("train", "t10k"):
        images, labels = files.get(f"{split}-images"), files.get(f"{split}-labels")
        if images is None or labels is None:
            continue
        if images.array.shape[0] != labels.array.shape[0]:
            raise DataError(
                f"{names[f'{split}-images']} has {images.array.shape[0]} images but "
                f"{names[f'{split}-labels']} has {labels.array.shape[0]} labels; they are not "
                f"from the same {spec.title} release. {fix_hint(spec)}"
            )


def read_recorded(folder: Path | None) -> dict[str, str]:
    """SHA-256 values recorded in ``folder`` (empty if none or unreadable)."""
    if folder is None:
        return {}
    try:
        data = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def record(folder: Path | None, spec: DatasetSpec, verified: Mapping[str, Verified]) -> None:
    """Record SHA-256 values of files verified by gz MD5 (best effort: a cache, not the truth)."""
    if folder is None:
        return
    new = {k: v.sha256 for k, v in verified.items() if v.how == "gz md5"}
    old = read_recorded(folder)
    if not new or all(old.get(k) == v for k, v in new.items()):
        return
    with contextlib.suppress(OSError):
        os.makedirs(folder, exist_ok=True)
        atomic_write_text(folder / RECORD_NAME, json.dumps({**old, **new}, indent=1) + "\n")
