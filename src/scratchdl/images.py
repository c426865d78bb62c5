"""A picture of a digit -> the 28x28 input an MNIST network expects (ch. 3.6.1).

MNIST's digits are white on black, scaled so the longer side of the digit fills 20 pixels
(with anti-aliasing) and placed in 28x28 so that their centre of mass is at the centre. A
network trained on them reads a phone photo or a Paint drawing well only after the same
treatment, so :func:`to_mnist` follows that recipe, made robust for real pictures:

1. read a PNG, JPEG, GIF, BMP, WebP or TIFF image (nothing else: see :data:`FORMATS`; grey,
   RGB, RGBA, 16-bit), transparency laid over white, as grey levels 0..255 (:func:`read_image`);
2. shrink a large image by whole-pixel block means, long side at most :data:`WORK_SIZE`;
3. fit the background, light or dark, with its unevenness (a quadratic surface fitted to the
   pixels that are not ink) and subtract it; the ink is the side that stands out the most, so
   dark ink on light paper and light strokes on a dark screen both become white on black;
4. remove the noise floor (3 noise standard deviations) and stretch the contrast so the ink
   reaches 1.0; remove the ruled lines of lined or squared paper (thin bands inked across the
   page), keeping the digit's strokes where they cross them;
5. crop to the ink's bounding box (a far speck of dust left out), scale its longer side to 20
   pixels by area averaging (exact anti-aliasing; strokes much thinner than MNIST's, from a thin
   pen on a big canvas, are first thickened towards its width) and centre it by its centre of
   mass in 28x28.

An image that is already 28x28 is taken as framed like MNIST: steps 3-4 only. The same
steps exist in JavaScript for ``scratchdl export-web`` (``scratchdl/serve/static/mnist.js``);
the tests check that both give the same pixels.

Example (``net`` any MNIST network, such as ``load_model("run/model.npz")``)::

    from scratchdl.images import image_to_mnist, digit_probabilities
    x = image_to_mnist("my_seven.jpg")   # (28, 28) float32 in [0, 1]
    p = digit_probabilities(net, x)      # (10,): softmax of net.predict(x.reshape(1, 1, 28, 28))
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from scratchdl.checks import check_non_negative, check_positive_int
from scratchdl.errors import DataError, ScratchdlError, ShapeError

__all__ = [
    "BOX",
    "FORMATS",
    "SIZE",
    "WORK_SIZE",
    "BlankImageError",
    "ImageBusyError",
    "PixelBudget",
    "check_digit_model",
    "digit_probabilities",
    "image_to_mnist",
    "read_image",
    "to_mnist",
]

SIZE = 28  #: side of the network's input image
BOX = 20  #: the digit's longer side inside it, as in MNIST
WORK_SIZE = 1024  #: larger images are first shrunk by whole-pixel block means to this long side
#: Least ink contrast, in grey levels of 255 after background and noise are removed, that
#: counts as a digit; below it the image is blank.
MIN_CONTRAST = 16.0
_FINE = 4  # strokes are measured and evened at 4x the final size (an 80-pixel box)
_MNIST_WIDTH = 10.4  # MNIST's median stroke width there (2.6 pixels at 28x28, measured)
_FIT_SAMPLES = 64  # the background is fitted on at most 64x64 evenly spaced pixels
#: A ruled line (lined or squared paper): a band of rows (or columns) each inked across at least
#: this share of the image, no thicker than ``_RULE_THICKNESS`` of it; a digit's stroke is
#: thicker than that, and does not run across the whole page.
_RULE_SPAN = 0.6
_RULE_THICKNESS = 0.015

# Opening an image and catching Pillow's DecompressionBombWarning must not race with another
# thread doing the same (warnings.catch_warnings changes the process's filters).
_OPEN_LOCK = threading.Lock()


class BlankImageError(DataError):
    """The image holds no digit: one flat colour, or contrast too faint to be ink."""


# -- reading ---------------------------------------------------------------------------------
#: The formats read, by Pillow's names; anything else is refused by name before a decoder runs
#: (Pillow would otherwise open EPS/PDF by running Ghostscript, and dozens of rarer formats).
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
_FORMATS_TEXT = "a PNG, JPEG, GIF, BMP, WebP or TIFF image"
#: Other kinds of file recognised by their first bytes, so a refusal can say what was given.
_OTHER_KINDS = (
    (b"%!PS", "a PostScript/EPS file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (b"%PDF", "a PDF file"),
    (b"<svg", "an SVG file"),
    (b"<?xml", "an XML file"),
    (b"\x00\x00\x01\x00", "an ICO file"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 file"),
    (b"\xffO\xffQ", "a JPEG 2000 file"),
    (b"icns", "an ICNS file"),
    (b"qoif", "a QOI file"),
    (b"DDS ", "a DDS file"),
    (b"\xd7\xcd\xc6\x9a", "a WMF file"),
    (b"SIMPLE", "a FITS file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"PK\x03\x04", "a ZIP file"),
    (b"\x1f\x8b", "a gzip file"),
)


class ImageBusyError(ScratchdlError):
    """A :class:`PixelBudget` had no room for an image within its wait."""


class PixelBudget:
    """At most ``pixels`` pixels in at most ``images`` images decoded at once, across threads.

    A server reading uploads in many threads holds each image's share while it decodes and
    converts it, so its memory stays bounded however many clients send large images at once.
    An image larger than the whole budget (still within ``max_pixels``) waits until it is alone.

    Parameters
    ----------
    pixels : int
        Pixels decoded at once, in all threads together.
    images : int
        Images decoded at once.
    wait : float
        Seconds an image waits for room before :class:`ImageBusyError`.
    """

    def __init__(self, pixels: int, images: int = 4, wait: float = 10.0) -> None:
        self.pixels = check_positive_int(pixels, "pixels")
        self.images = check_positive_int(images, "images")
        self.wait = check_non_negative(wait, "wait")
        self.busy_pixels = 0
        self.busy_images = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget (at most all of it) for the ``with`` block."""
        share = min(max(int(pixels), 0), self.pixels)
        deadline = time.monotonic() + self.wait
        with self._cond:
            while self.busy_pixels + share > self.pixels or self.busy_images >= self.images:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ImageBusyError(
                        f"busy: {self.busy_images} images ({self.busy_pixels:,} pixels) are "
                        f"being read; try again in a few seconds"
                    )
                self._cond.wait(left)
            self.busy_pixels += share
            self.busy_images += 1
        try:
            yield
        finally:
            with self._cond:
                self.busy_pixels -= share
                self.busy_images -= 1
                self._cond.notify_all()


def read_image(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    max_pixels: int | None = None,
    budget: PixelBudget | None = None,
) -> NDArray[np.float32]:
    """Read an image file as grey levels, float32 of shape (H, W) on a 0..255 scale.

    Parameters
    ----------
    source : path-like, bytes or binary file
        A PNG, JPEG, GIF (its first frame), BMP, WebP or TIFF image (:data:`FORMATS`); grey,
        RGB, RGBA, palette, 16-bit. Other formats are refused before any decoder runs.
        Transparency is laid over white; a photo's EXIF orientation is applied (as browsers do).
    max_pixels : int, optional
        Refuse images with more pixels than this (default: Pillow's ``Image.MAX_IMAGE_PIXELS``,
        about 89 million). A server sets it lower so one upload cannot take all the memory.
    budget : PixelBudget, optional
        Held for the image's pixels while it is decoded (a server shares one among threads).

    Raises
    ------
    DataError
        If ``source`` does not exist, is not a regular file, is not an image in one of
        :data:`FORMATS`, is damaged, has too many pixels or pixels that are not numbers.
    ImageBusyError
        If ``budget`` had no room in time.
    """
    return _read(source, max_pixels, budget, lambda gray: gray)


def _open_source(source: str | os.PathLike[str] | bytes | IO[bytes]) -> tuple[str, IO[bytes], bool]:
    """(name for messages, binary file, whether we opened it and must close it)."""
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise DataError("the file is empty (0 bytes): give a PNG or JPEG image")
        return "the file", io.BytesIO(source), True
    if not isinstance(source, (str, os.PathLike)):
        name = str(getattr(source, "name", "the file"))
        if not (hasattr(source, "seekable") and source.seekable()):
            return name, io.BytesIO(source.read()), True  # a pipe or socket: its bytes
        return name, source, False
    path = Path(source)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then tells what it is.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: give the path of an image file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder: give the path of an image file") from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror}): give an image file") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise DataError(f"{path} is a folder: give the path of an image file")
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(
            f"{path} is not a regular file (a pipe, socket or device): give an image file"
        )
    if info.st_size == 0:
        os.close(fd)
        raise DataError(f"{path} is empty (0 bytes): give a PNG or JPEG image")
    return str(path), os.fdopen(fd, "rb"), True


def _kind(head: bytes) -> str | None:
    """The allowed format whose signature ``head`` (a file's first bytes) starts with."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    return None


def _refusal(name: str, head: bytes) -> DataError:
    stripped = head.lstrip()
    for signature, kind in _OTHER_KINDS:
        if head.startswith(signature) or (signature[:1] == b"<" and stripped.startswith(signature)):
            return DataError(
                f"{name} is {kind}, not an image format read here: give {_FORMATS_TEXT}"
            )
    return DataError(f"{name} is not an image in a known format: give {_FORMATS_TEXT}")


def _read(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    max_pixels: int | None,
    budget: PixelBudget | None,
    then: Callable[[NDArray[np.float32]], NDArray[np.float32]],
) -> NDArray[np.float32]:
    """Open ``source``, check it, decode it under ``budget`` and return ``then(grey levels)``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    name, fp, own = _open_source(source)
    limit = Image.MAX_IMAGE_PIXELS
    if max_pixels is not None:
        limit = max_pixels if limit is None else min(limit, max_pixels)
    too_big = (
        f"{name} has too many pixels to be read safely (more than {limit:,}): "
        "give a smaller image, such as a photo cropped to the digit"
    )
    damaged = f"{name} is damaged or not an image ({{}}): give a PNG or JPEG"
    try:
        try:
            start = fp.tell()
            head = fp.read(16)
            fp.seek(start)
        except OSError as exc:
            raise DataError(f"{name} cannot be read ({exc}): give an image file") from None
        kind = _kind(head)
        if kind is None:
            raise _refusal(name, head)
        try:
            with _OPEN_LOCK, warnings.catch_warnings():
                # Pillow only warns between its limit and twice it; make that a refusal too.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(fp, formats=[kind])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DataError(too_big) from None
        except UnidentifiedImageError:
            raise DataError(damaged.format(f"its {kind} header is not valid")) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DataError(damaged.format(exc)) from None
        with img:
            if limit is not None and img.width * img.height > limit:
                raise DataError(too_big)
            if img.format in ("JPEG", "MPO") and max(img.size) > 2 * WORK_SIZE:
                img.draft("L", (WORK_SIZE, WORK_SIZE))  # decode a big photo at 1/2..1/8 scale
            pixels = img.width * img.height
            with budget.hold(pixels) if budget is not None else contextlib.nullcontext():
                try:
                    img.load()
                    gray = _grayscale(ImageOps.exif_transpose(img), name)
                except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                    raise DataError(too_big) from None
                except (OSError, SyntaxError, ValueError, EOFError) as exc:
                    # Truncated or damaged files fail while decoding, after the header.
                    raise DataError(damaged.format(exc)) from None
                return then(gray)
    finally:
        if own:
            fp.close()


def _grayscale(img: Any, name: str = "the image") -> NDArray[np.float32]:
    """Grey levels of a Pillow image on a 0..255 scale, float32 (H, W).

    Transparency is laid over white, or over black when what is opaque is light (white strokes
    on a transparent canvas would vanish over white): :func:`_backdrop`. 16-bit and 32-bit images are scaled by their bit depth
    rather than clipped at 255, which would turn any 16-bit image white.
    """
    from PIL import Image

    if img.mode.startswith("I") or img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if not np.isfinite(a).all():
            raise DataError(
                f"{name} has pixels that are not numbers (NaN or infinite, as in a "
                "floating-point TIFF): give an image with ordinary pixel values"
            )
        if img.mode.startswith("I;16") or (img.mode == "I" and img.format == "PNG"):
            full = 65535.0  # a PNG has no 32-bit grey: mode "I" is a 16-bit one (older Pillow)
        else:
            top = float(a.max(initial=0))
            full = 1.0 if top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        gray = np.clip(a, 0, full) * (255 / full)
        key = img.info.get("transparency")
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            gray[a == key] = 255.0  # the transparent grey level, laid over white
        return gray.astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        level = _backdrop(np.asarray(rgba))
        background = Image.new("RGBA", rgba.size, (level, level, level, 255))
        img = Image.alpha_composite(background, rgba)
    # Pillow's L = (299 R + 587 G + 114 B) / 1000 in integers; mnist.js uses the same formula.
    return np.asarray(img.convert("L"), dtype=np.float32)


def _backdrop(rgba: NDArray) -> int:
    """The grey level to lay an image's transparency over: white (255), unless the pixels that
    are at least half opaque are light on average (mean grey above 127): then black (0), so the
    strokes stand out either way. An image with no such pixels goes over white. As app.js."""
    a = rgba[..., 3]
    opaque = a >= 128
    if not opaque.any() or opaque.all():
        return 255
    rgb = rgba[opaque][:, :3].astype(np.int64)
    gray = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
    return 0 if gray.mean() > 127 else 255


# -- the recipe ------------------------------------------------------------------------------
def image_to_mnist(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    max_pixels: int | None = None,
    budget: PixelBudget | None = None,
) -> NDArray[np.float32]:
    """Read an image and convert it like MNIST: (28, 28) float32 in [0, 1], white on black.

    ``to_mnist(read_image(source))``, under ``budget`` (see :func:`read_image`) until the
    28x28 result is made; see the module's description for the steps. Feed a
    network ``x.reshape(1, 1, 28, 28)`` (an MLP flattens it) or use :func:`digit_probabilities`.

    Raises
    ------
    DataError
        If the file is missing, unreadable, not in :data:`FORMATS` or too large.
    BlankImageError
        If there is no digit in it.
    """
    return _read(source, max_pixels, budget, to_mnist)


def to_mnist(gray: Any) -> NDArray[np.float32]:
    """Convert grey levels (H, W) on a 0..255 scale into MNIST's form, (28, 28) float32.

    Parameters
    ----------
    gray : array_like, shape (H, W)
        Any size; dark ink on light paper or light strokes on a dark background.

    Raises
    ------
    ShapeError
        If ``gray`` is not a non-empty 2-D array of finite numbers.
    BlankImageError
        If ``gray`` holds no digit (flat, or contrast below :data:`MIN_CONTRAST`).
    """
    a = np.asarray(gray, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ShapeError(f"gray must be a 2-D image (H, W), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ShapeError("gray contains NaN or infinite values")
    framed = a.shape == (SIZE, SIZE)
    a = _shrink(a, WORK_SIZE)
    ink = _ink(a)
    if framed:
        return ink.astype(np.float32)
    ink = _unrule(ink)
    return _frame(ink).astype(np.float32)


def _shrink(a: NDArray, limit: int) -> NDArray:
    """Block means of k x k pixels, k the smallest whole number that brings the long side
    within ``limit``; blocks at the right and bottom edges average the pixels they have."""
    k = -(-max(a.shape) // limit)
    if k <= 1:
        return a
    h, w = a.shape
    H, W = -(-h // k), -(-w // k)
    padded = np.zeros((H * k, W * k))
    padded[:h, :w] = a
    sums = padded.reshape(H, k, W, k).sum(axis=(1, 3))
    rows = np.minimum(np.arange(1, H + 1) * k, h) - np.arange(H) * k
    cols = np.minimum(np.arange(1, W + 1) * k, w) - np.arange(W) * k
    return sums / np.outer(rows, cols)


def _design(h: int, w: int, ys: NDArray, xs: NDArray) -> NDArray:
    """Quadratic terms 1, x, y, x^2, xy, y^2 at pixel rows ``ys`` and columns ``xs``, both
    mapped to [-1, 1] across the image."""
    y = (ys - (h - 1) / 2) / max((h - 1) / 2, 1)
    x = (xs - (w - 1) / 2) / max((w - 1) / 2, 1)
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def _background(a: NDArray) -> tuple[NDArray, float]:
    """The background surface (H, W) and the noise's standard deviation around it.

    Fitted to at most 64x64 evenly spaced pixels, growing from the median level to a plane to
    a quadratic surface (1, x, y, x^2, xy, y^2) by least squares, each fit on the pixels
    within 2.5 noise deviations of the previous one: that drops the ink (darker or lighter)
    as long as it covers less than about half of the image. The deviation is 1.4826 x the
    median absolute residual (the MAD, robust to the ink too).
    """
    h, w = a.shape
    step = max(1, -(-max(h, w) // _FIT_SAMPLES))
    ys, xs = np.meshgrid(np.arange(0, h, step), np.arange(0, w, step), indexing="ij")
    ys, xs = ys.ravel().astype(np.float64), xs.ravel().astype(np.float64)
    v = a[ys.astype(np.intp), xs.astype(np.intp)]
    X = _design(h, w, ys, xs)
    # Start from the median level and grow the surface (constant, plane, quadratic): a
    # quadratic fitted to everything at once can bend around a thick "0" and call it paper.
    coef = np.zeros(6)
    coef[0] = _median(v)
    keep = np.ones(v.shape, dtype=bool)
    sigma = 0.0
    for terms in (1, 3, 3, 6, 6, 6):
        if terms > 1:
            coef = np.zeros(6)
            coef[:terms] = _solve(X[keep, :terms], v[keep])
        r = v - X @ coef
        kept = r[keep]
        center = _median(kept)
        sigma = 1.4826 * _median(np.abs(kept - center))
        # A flat synthetic background has sigma 0: one grey level keeps its pixels in.
        new_keep = np.abs(r - center) <= 2.5 * max(sigma, 1.0)
        if new_keep.sum() < 6:
            break
        keep = new_keep
    # The same polynomial at every pixel, summed by rows and columns instead of a (H, W, 6)
    # design matrix.
    y = _design(h, 1, np.arange(h, dtype=np.float64), np.zeros(h))[:, 2:3]
    x = _design(1, w, np.zeros(w), np.arange(w, dtype=np.float64))[None, :, 1]
    c0, cx, cy, cxx, cxy, cyy = coef
    surface = (c0 + cy * y + cyy * y * y) + (cx + cxy * y) * x + cxx * x * x
    return surface, float(sigma)


def _solve(X: NDArray, v: NDArray) -> NDArray:
    """Least squares by the normal equations and Gaussian elimination with partial pivoting;
    terms the pixels cannot determine (a one-row image has no y) get coefficient 0. Written
    out so mnist.js can do exactly the same."""
    n = X.shape[1]
    A = X.T @ X
    b = X.T @ v
    coef = np.zeros(n)
    M = np.concatenate([A, b[:, None]], axis=1)
    scale = max(float(np.abs(A).max()), 1e-300)
    pivots: list[int] = []
    row = 0
    for col in range(n):
        p = row + int(np.argmax(np.abs(M[row:, col]))) if row < n else row
        if row >= n or abs(M[p, col]) <= 1e-9 * scale:
            continue
        M[[row, p]] = M[[p, row]]
        M[row] /= M[row, col]
        for r in range(n):
            if r != row:
                M[r] -= M[r, col] * M[row]
        pivots.append(col)
        row += 1
    for r, col in enumerate(pivots):
        coef[col] = M[r, n]
    return coef


def _median(v: NDArray) -> float:
    """The lower median (the element at index (n - 1) // 2 when sorted); as mnist.js."""
    if v.size == 0:
        return 0.0
    return float(np.partition(v, (v.size - 1) // 2)[(v.size - 1) // 2])


def _box3(a: NDArray) -> NDArray:
    """Mean over each pixel's 3x3 neighbourhood (edges repeated): a single noisy pixel keeps a
    ninth of its value, a stroke keeps its level."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    s = np.zeros_like(a)
    for dy in range(3):
        for dx in range(3):
            s += p[dy : dy + h, dx : dx + w]
    return s / 9


def _ink(a: NDArray) -> NDArray:
    """Steps 3-4: ink in [0, 1] on a black background, same shape as ``a``."""
    surface, sigma = _background(a)
    r = a - surface
    blurred = _box3(r)
    # The ink is the side that departs furthest from the background: below it on paper,
    # above it on a dark screen.
    if -blurred.min() > blurred.max():
        r, blurred = -r, -blurred
    floor = 3 * sigma
    d = np.maximum(r - floor, 0)
    peak = float(blurred.max()) - floor
    if peak < MIN_CONTRAST:
        raise BlankImageError(
            "no digit found: the image is one flat colour or its strokes are too faint "
            f"(contrast {max(peak, 0):.0f} of 255 above the background's noise, at least "
            f"{MIN_CONTRAST:.0f} needed); draw or photograph the digit darker or larger"
        )
    core = d[d >= 0.5 * peak]
    level = max(_median(core), MIN_CONTRAST)
    return np.minimum(d / level, 1.0)


def _rule_bands(on: NDArray) -> list[tuple[int, int]]:
    """The ruled lines along the rows of ``on`` (H, W), as (first, last) row: each band of
    consecutive rows inked across at least :data:`_RULE_SPAN` of the width and at most
    :data:`_RULE_THICKNESS` of the height (2 rows at least) thick, with its blurred edges (up to
    2 rows on each side inked across a tenth as much)."""
    h, w = on.shape
    count = on.sum(axis=1)
    full, part = count >= _RULE_SPAN * w, count >= _RULE_SPAN / 10 * w
    thin = max(2, int(_RULE_THICKNESS * h))
    bands = []
    i = 0
    while i < h:
        if not full[i]:
            i += 1
            continue
        j = i
        while j + 1 < h and full[j + 1]:
            j += 1
        if j - i + 1 <= thin:
            lo, hi = i, j
            while lo > 0 and i - lo < 2 and part[lo - 1]:
                lo -= 1
            while hi + 1 < h and hi - j < 2 and part[hi + 1]:
                hi += 1
            bands.append((lo, hi))
        i = j + 1
    return bands


def _unrule(v: NDArray) -> NDArray:
    """Remove the ruled lines of lined or squared paper from ink ``v`` (H, W) (see
    :func:`_rule_bands`; rows and columns alike), except where the digit crosses a line: in the
    columns where a stroke (ink at half its level or more) lies two and three rows above and
    below it (2 columns aside allowed: a slanted stroke), and where the ink is much darker than
    the line (twice its median level: a stroke lying along it). Ink near a line of the other direction is no evidence (the two lines cross
    there). Without this a digit on lined paper is cropped with the lines around it: a small
    digit in a grey box."""
    on = v > 0
    rows, cols = _rule_bands(on), _rule_bands(on.T)
    if not rows and not cols:
        return v
    h, w = v.shape
    near_row, near_col = np.zeros(h, bool), np.zeros(w, bool)
    for lo, hi in rows:
        near_row[max(lo - 5, 0) : hi + 6] = True
    for lo, hi in cols:
        near_col[max(lo - 5, 0) : hi + 6] = True
    out = v.copy()
    strong = v >= 0.5  # a stroke, not the noise floor's specks
    for bands, ink, cleared in (
        (rows, strong & ~near_col, out),
        (cols, (strong & ~near_row[:, None]).T, out.T),
    ):
        n = ink.shape[0]
        for lo, hi in bands:
            if lo >= 3 and hi + 3 < n:
                # A slanted stroke moves a few columns across the line: look 2 columns aside.
                crossing = _widen(ink[lo - 3] & ink[lo - 2]) & _widen(ink[hi + 2] & ink[hi + 3])
            else:
                crossing = np.zeros(ink.shape[1], bool)  # a line at the edge has nothing beyond
            band = cleared[lo : hi + 1]
            # Ink much darker than the line itself is a stroke lying on it (a 2's base).
            level = _median(band[band > 0])
            keep = crossing | (band.max(axis=0) > max(2 * level, 0.5))
            band[:, ~keep] = 0
    return out


def _widen(row: NDArray) -> NDArray:
    """A boolean row, true also within 2 places of each true place."""
    out = row.copy()
    for k in (1, 2):
        out[k:] |= row[:-k]
        out[:-k] |= row[k:]
    return out


def _frame(ink: NDArray) -> NDArray:
    """Step 5: crop to the ink, longer side to 20 pixels, centre of mass at (14, 14)."""
    # Ink pixels in an inky neighbourhood: a lone noisy pixel is not, nor is the gap between
    # two of them.
    mask = (ink > 0) & (_box3(ink) >= 0.2)
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise BlankImageError(
            "no digit found: no stroke is large enough to be ink; draw the digit larger"
        )
    top, bottom = _trimmed_range(rows, ink.shape[0])
    left, right = _trimmed_range(cols, ink.shape[1])
    crop = ink[top : bottom + 1, left : right + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h = max(1, int(np.floor(h * scale + 0.5)))
    new_w = max(1, int(np.floor(w * scale + 0.5)))
    # Resampled in two steps, through 4x the final size, where strokes far thinner or
    # thicker than MNIST's are brought back towards its width.
    fine = _area_matrix(_FINE * new_h, h) @ crop @ _area_matrix(_FINE * new_w, w).T
    fine = _normalise_width(fine)
    digit = _area_matrix(new_h, _FINE * new_h) @ fine @ _area_matrix(new_w, _FINE * new_w).T
    total = digit.sum()
    cy = float(np.arange(new_h) @ digit.sum(axis=1)) / total
    cx = float(np.arange(new_w) @ digit.sum(axis=0)) / total
    # Rounded half up, with a margin: a symmetric digit's centre falls exactly on .5, where
    # rounding errors of 1e-15 would otherwise decide between two positions.
    y0 = int(np.clip(np.floor(SIZE / 2 - cy + 0.5 + 1e-6), 0, SIZE - new_h))
    x0 = int(np.clip(np.floor(SIZE / 2 - cx + 0.5 + 1e-6), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE))
    out[y0 : y0 + new_h, x0 : x0 + new_w] = np.clip(digit, 0, 1)
    return out


def _stroke_width(v: NDArray) -> float:
    """Mean stroke width in pixels: twice the ink's area over its outline (pixels of the
    v >= 0.5 shape with a 4-neighbour outside it); a ribbon of width w and length L has area
    w L and 2 L outline pixels."""
    m = v >= 0.5
    p = np.pad(m, 1)
    inside = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    outline = int(np.count_nonzero(m & ~inside))
    return 2 * float(v.sum()) / max(outline, 1)


def _max_filter(v: NDArray, radius: int) -> NDArray:
    """Maximum over each pixel's (2 radius + 1)^2 square (outside the image counts as 0)."""
    for axis in (0, 1):
        p = np.pad(v, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        n = v.shape[axis]
        out = p.take(np.arange(0, n), axis=axis)
        for s in range(1, 2 * radius + 1):
            out = np.maximum(out, p.take(np.arange(s, s + n), axis=axis))
        v = out
    return v


def _normalise_width(v: NDArray) -> NDArray:
    """Thicken strokes thinner than 0.6x MNIST's width (a thin pen on a big canvas) towards
    0.85x, at 4x the final size, where MNIST's strokes are about 10 pixels wide. Thick
    strokes are left alone: thinning them (tried) cost more accuracy than it gained."""
    width = _stroke_width(v)
    if width < 0.6 * _MNIST_WIDTH:
        radius = int(np.floor((0.85 * _MNIST_WIDTH - width) / 2 + 0.5))
        return _max_filter(v, radius) if radius > 0 else v
    return v


def _trimmed_range(coords: NDArray, n: int) -> tuple[int, int]:
    """The ink's extent along one axis (``coords`` of the ink pixels, ``n`` the axis length).

    The outermost 0.5% of ink pixels on each side are set aside, so a speck of dust far from
    the digit does not stretch the box; the range then grows back over every row (column)
    with ink that touches it, so the tip of a stroke is never cut off.
    """
    k = int(0.005 * coords.size)
    s = np.sort(coords)
    lo, hi = int(s[k]), int(s[coords.size - 1 - k])
    occupied = np.bincount(coords, minlength=n) > 0
    while lo > 0 and occupied[lo - 1]:
        lo -= 1
    while hi < n - 1 and occupied[hi + 1]:
        hi += 1
    return lo, hi


def _area_matrix(n_out: int, n_in: int) -> NDArray:
    """Resampling weights (n_out, n_in): output pixel i averages the input interval
    [i * n_in / n_out, (i + 1) * n_in / n_out), each input pixel weighted by its overlap."""
    ratio = n_in / n_out
    lo = np.arange(n_out)[:, None] * ratio
    hi = lo + ratio
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / ratio


# -- using a network -------------------------------------------------------------------------
def check_digit_model(net: Any, name: str = "the model") -> None:
    """Make sure ``net`` maps 28x28 images to 10 digit scores.

    Raises
    ------
    ShapeError
        Naming ``name`` and the sizes the network has instead.
    """
    try:
        y = np.asarray(net.predict(np.zeros((1, 1, SIZE, SIZE), dtype=_dtype(net))))
        fits = y.shape == (1, 10)
    except ShapeError:
        fits = False
    except ValueError:
        fits = False
    if not fits:
        sizes = (
            f"maps {net.input_size} inputs to {net.output_size} classes"
            if hasattr(net, "input_size") and hasattr(net, "output_size")
            else "does not map 28x28 images to 10 scores"
        )
        raise ShapeError(
            f"{name} {sizes}, not 28x28 images to 10 digits: give a model trained on MNIST"
        )


def digit_probabilities(net: Any, x: Any) -> NDArray[np.float32]:
    """Softmax of ``net.predict`` for images from :func:`to_mnist`.

    Parameters
    ----------
    net : Net
        Any network taking (N, 1, 28, 28) images (an MLP flattens them).
    x : array_like, shape (28, 28) or (N, 28, 28)

    Returns
    -------
    ndarray
        Probabilities of the ten digits, shape (10,) or (N, 10).
    """
    from scratchdl.functions import softmax

    x = np.asarray(x)
    single = x.ndim == 2
    if x.shape[-2:] != (SIZE, SIZE) or x.ndim not in (2, 3):
        raise ShapeError(f"x must be (28, 28) or (N, 28, 28) images, got shape {x.shape}")
    batch = x.reshape(-1, 1, SIZE, SIZE).astype(_dtype(net), copy=False)
    p = softmax(np.asarray(net.predict(batch)))
    return p[0] if single else p


def _dtype(net: Any) -> np.dtype:
    return np.dtype(getattr(net, "dtype", np.float32))
