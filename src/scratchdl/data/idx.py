"""The IDX file format used by MNIST: read, check and write.

An IDX file is a big-endian header (magic number, then one uint32 per dimension) followed by the
raw uint8 body. MNIST uses magic 2051 for images (N, 28, 28) and 2049 for labels (N,).
"""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np

from scratchdl.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
ROWS = COLS = 28
GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(DataError):
    """The bytes are not a well-formed MNIST IDX file; the message says what is wrong only.

    Callers add the file name and the fix before showing it to a person.
    """


def is_gzip(data: bytes) -> bool:
    """True when ``data`` starts with the gzip magic bytes."""
    return data[:2] == GZIP_MAGIC


def decompress(data: bytes) -> bytes:
    """Return the IDX bytes of ``data``, gunzipping it when it is gzip.

    Raises
    ------
    IdxFormatError
        If the gzip stream is truncated or corrupt.
    """
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise IdxFormatError("the gzip stream is truncated (the file was cut off)") from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise IdxFormatError(f"the gzip stream is corrupt ({exc})") from None


def _header(raw: bytes, magic: int, ndim: int, what: str) -> tuple[int, ...]:
    head_len = 4 + 4 * ndim
    if len(raw) < head_len:
        raise IdxFormatError(
            f"only {len(raw)} bytes, too short for an IDX {what} header ({head_len} bytes)"
        )
    found, *dims = struct.unpack(f">{1 + ndim}I", raw[:head_len])
    if found != magic:
        raise IdxFormatError(
            f"wrong magic number {found} (expected {magic} for an IDX {what} file)"
        )
    expected_len = head_len + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected_len:
        state = "truncated" if len(raw) < expected_len else "has trailing bytes"
        raise IdxFormatError(
            f"{state}: {len(raw)} bytes, but its header {tuple(dims)} needs {expected_len}"
        )
    return tuple(dims)


def parse_images(raw: bytes) -> np.ndarray:
    """Parse decompressed IDX image bytes.

    Returns
    -------
    ndarray of uint8, shape (N, 28, 28)
        A read-only view of ``raw``.
    """
    n, rows, cols = _header(raw, IMAGES_MAGIC, 3, "images")
    if (rows, cols) != (ROWS, COLS):
        raise IdxFormatError(f"images are {rows}x{cols}, expected {ROWS}x{COLS}")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def parse_labels(raw: bytes, num_classes: int = 10) -> np.ndarray:
    """Parse decompressed IDX label bytes.

    Returns
    -------
    ndarray of uint8, shape (N,)
        A read-only view of ``raw``; every value is below ``num_classes``.
    """
    (n,) = _header(raw, LABELS_MAGIC, 1, "labels")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if n and int(labels.max()) >= num_classes:
        raise IdxFormatError(
            f"label value {int(labels.max())} is out of range 0..{num_classes - 1}"
        )
    return labels


def parse(raw: bytes, kind: str) -> np.ndarray:
    """Parse ``raw`` as the IDX file of ``kind`` (``"...-images"`` or ``"...-labels"``)."""
    return parse_images(raw) if kind.endswith("images") else parse_labels(raw)


def encode_images(images: np.ndarray) -> bytes:
    """IDX bytes for uint8 images of shape (N, 28, 28)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    n, rows, cols = images.shape
    return struct.pack(">4I", IMAGES_MAGIC, n, rows, cols) + images.tobytes()


def encode_labels(labels: np.ndarray) -> bytes:
    """IDX bytes for uint8 labels of shape (N,)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    return struct.pack(">2I", LABELS_MAGIC, labels.shape[0]) + labels.tobytes()
