"""Look inside a ``.npz`` before loading it: what arrays it claims to hold, and how big they are.

``np.load`` allocates whatever an array header asks for before reading a byte of data, so a
3 KB file whose header claims (100000, 100000) float64 asks for 74.5 GiB. :func:`inspect_npz`
reads only the zip directory and each ``.npy`` member's header, and refuses a file whose arrays
would exceed a limit, that disagree with the member sizes (truncated or forged), or that hold
Python objects (which only a pickle could restore). Only then do callers ``np.load`` it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl.errors import ModelFileError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_ENV",
    "ArrayInfo",
    "array_json",
    "inspect_npz",
    "json_array",
    "max_bytes_limit",
]

#: Largest total array size a model or checkpoint file may claim, unless overridden: 1 GiB.
#: The book's largest network (ch. 8's DeepConvNet) needs under 10 MB.
DEFAULT_MAX_BYTES = 1 << 30

#: Environment variable overriding :data:`DEFAULT_MAX_BYTES` (a number of bytes).
MAX_BYTES_ENV = "SCRATCHDL_MAX_MODEL_BYTES"

_MAX_MEMBERS = 4096
_MAX_HEADER = 10_000  # bytes; NumPy's own default limit for a .npy header


class ArrayInfo(tuple):
    """``(shape, dtype, nbytes)`` of one array in an archive, read from its header."""

    __slots__ = ()

    def __new__(cls, shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> ArrayInfo:
        return super().__new__(cls, (shape, dtype, nbytes))

    @property
    def shape(self) -> tuple[int, ...]:
        return self[0]

    @property
    def dtype(self) -> np.dtype:
        return self[1]

    @property
    def nbytes(self) -> int:
        return self[2]


def json_array(value: Any) -> np.ndarray:
    """``value`` as UTF-8 JSON in a uint8 array: how a model, checkpoint or word-vector file
    keeps its record among its arrays, readable without a pickle."""
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def array_json(array: np.ndarray) -> Any:
    """The value :func:`json_array` stored; a damaged one raises ValueError (bad UTF-8 or
    JSON)."""
    return json.loads(np.asarray(array).tobytes().decode("utf-8"))


def max_bytes_limit(max_bytes: int | None = None) -> int:
    """The limit in force: ``max_bytes`` if given, else ``$SCRATCHDL_MAX_MODEL_BYTES``, else
    :data:`DEFAULT_MAX_BYTES`."""
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ModelFileError(f"max_bytes must be a positive int, got {max_bytes!r}")
        return max_bytes
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(float(text))
    except ValueError:
        value = 0
    if value <= 0:
        raise ModelFileError(
            f"{MAX_BYTES_ENV}={text!r} is not a positive number of bytes (e.g. 4000000000)"
        )
    return value


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def _read_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> tuple[ArrayInfo, int]:
    with zf.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                    fp, max_header_size=_MAX_HEADER
                )
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                    fp, max_header_size=_MAX_HEADER
                )
            else:
                raise ValueError(f".npy format version {version} is not one scratchdl writes")
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
            raise ModelFileError(
                f"{path} is damaged: member {info.filename} has no readable array header ({exc})"
            ) from None
        header_len = fp.tell()
    del fortran
    if dtype.hasobject:
        raise ModelFileError(
            f"refused to load {path}: member {info.filename} holds Python objects, which only a "
            "pickle can restore and a model file never needs (this file may be malicious)"
        )
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ModelFileError(f"{path} is damaged: member {info.filename} has shape {shape}")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    return ArrayInfo(tuple(shape), dtype, nbytes), header_len


def inspect_npz(
    path: str | os.PathLike[str], max_bytes: int | None = None, what: str = "model file"
) -> dict[str, ArrayInfo]:
    """Shapes, dtypes and sizes of the arrays in ``path``, read from headers only.

    Parameters
    ----------
    path : path-like
        A ``.npz`` archive.
    max_bytes : int, optional
        Refuse archives whose arrays would take more than this many bytes in memory
        (default: :func:`max_bytes_limit`).
    what : str
        What the file is, for messages ("model file", "checkpoint").

    Returns
    -------
    dict
        ``{array name: ArrayInfo(shape, dtype, nbytes)}``, names without ``.npy``.

    Raises
    ------
    ModelFileError
        If the file is not a zip archive, is truncated, holds object arrays, declares arrays
        larger than their members, or more than ``max_bytes`` in total.
    """
    path = Path(path)
    limit = max_bytes_limit(max_bytes)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ModelFileError(
            f"{path} is not a readable {what} ({reason}): it is damaged, truncated or another "
            "kind of file"
        ) from None
    found: dict[str, ArrayInfo] = {}
    total = 0
    with zf:
        members = zf.infolist()
        if len(members) > _MAX_MEMBERS:
            raise ModelFileError(f"{path} holds {len(members)} members; a {what} has a few")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise ModelFileError(
                    f"{path} is not a {what}: member {info.filename!r} is not a .npy array"
                )
            array, header_len = _read_header(zf, info, path)
            total += array.nbytes
            if total > limit:
                raise ModelFileError(
                    f"refused to load {path}: its arrays would take at least {_gib(total)} of "
                    f"memory, above the limit of {_gib(limit)}; if you trust this file, raise "
                    f"the limit with max_bytes= or {MAX_BYTES_ENV}=<bytes>"
                )
            if header_len + array.nbytes != info.file_size:
                raise ModelFileError(
                    f"{path} is damaged or forged: member {info.filename} declares "
                    f"{array.dtype}{array.shape} ({array.nbytes} bytes) but holds "
                    f"{max(info.file_size - header_len, 0)} bytes of data"
                )
            found[info.filename[: -len(".npy")]] = array
    return found
