"""Data augmentation for digit images, generated on the fly (ch. 8.1.1, "data augmentation").

The book's ch. 8 names augmentation as one way past 99.35%: train on slightly moved, turned,
scaled or distorted copies of the digits, drawn afresh for every mini-batch, so the network
sees a new variant of each image every epoch. All of them are one idea: each output pixel
``(i, j)`` reads the input at a *source* position ``(i + dy, j + dx)``, interpolated bilinearly
(zero outside the image). The transforms only differ in how they choose the displacement:

* :func:`random_shift`: the same whole-pixel ``(dy, dx)`` for every pixel (exact, no blur).
* :func:`random_rotate`, :func:`random_scale`: a rotation or scaling about the image centre.
* :func:`elastic_distort`: Simard, Steinkraus and Platt (2003), "Best practices for
  convolutional neural networks applied to visual document analysis": a random field of
  displacements in [-1, 1], smoothed by a Gaussian of width ``sigma`` and scaled by
  ``alpha``, so neighbouring pixels move together like a hand-drawn stroke wobbles.

:func:`augment` draws all the chosen transforms for a batch and resamples it once (one
interpolation, not one per transform). Every function takes a batch ``(N, C, H, W)`` and a
generator (or seed), returns a new array of the input's dtype and never modifies its input.
:class:`Augmenter` is what :class:`~scratchdl.train.Trainer` applies to each training batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchdl.errors import ConfigError, ShapeError

__all__ = [
    "AUGMENTATIONS",
    "Augmenter",
    "augment",
    "elastic_distort",
    "gaussian_matrix",
    "parse_augmentations",
    "random_rotate",
    "random_scale",
    "random_shift",
    "warp",
]

#: The transforms :func:`augment` knows, in the order it composes them.
AUGMENTATIONS: tuple[str, ...] = ("shift", "rotate", "scale", "elastic")

#: Default strengths: ±2 pixels, ±10 degrees, ±10% size, Simard et al.'s alpha 34, sigma 4.
DEFAULTS: dict[str, float] = {
    "max_shift": 2,
    "max_degrees": 10.0,
    "max_scale": 0.1,
    "alpha": 34.0,
    "sigma": 4.0,
}


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_batch(x: Any) -> NDArray:
    x = np.asarray(x)
    if x.ndim != 4 or x.dtype.kind != "f":
        raise ShapeError(
            f"augmentation needs a floating batch of images (N, C, H, W), got shape {x.shape} "
            f"and dtype {x.dtype}; reshape flat MNIST rows with x.reshape(-1, 1, 28, 28)"
        )
    return x


def warp(x: NDArray, sy: NDArray, sx: NDArray) -> NDArray:
    """Resample ``x`` at source positions, bilinearly, with zeros outside the image.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    sy, sx : ndarray, shape (N, H, W)
        Row and column (in pixels) that output pixel ``(i, j)`` of image ``n`` reads; the
        same for every channel.

    Returns
    -------
    ndarray, shape (N, C, H, W), dtype of ``x``
    """
    n, c, h, w = x.shape
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    wy = (sy - y0).astype(x.dtype)[:, None]  # (N, 1, H, W): broadcast over channels
    wx = (sx - x0).astype(x.dtype)[:, None]
    y0 = y0.astype(np.intp)
    x0 = x0.astype(np.intp)
    flat = x.reshape(n, c, h * w)

    def at(yi: NDArray, xi: NDArray) -> NDArray:
        """``x[n, :, yi, xi]`` for every output pixel, 0 where it falls outside."""
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        idx = np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)  # (N, H, W)
        vals = np.take_along_axis(flat, idx.reshape(n, 1, h * w), axis=2).reshape(n, c, h, w)
        return vals * inside[:, None].astype(x.dtype)

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).astype(x.dtype, copy=False)


def gaussian_matrix(size: int, sigma: float) -> NDArray[np.float64]:
    """``G`` with ``G @ f`` = ``f`` convolved with a Gaussian of std ``sigma`` (zeros beyond
    the edges, kernel cut at 4 sigma and summing to 1), shape (size, size).

    Smoothing a field ``f`` (N, H, W) along both axes is then ``G @ f @ G.T``: two batched
    matrix products instead of a convolution loop.
    """
    d = np.arange(size)[:, None] - np.arange(size)[None, :]
    g = np.exp(-0.5 * (d / sigma) ** 2)
    g[np.abs(d) > 4 * sigma] = 0.0
    radius = min(int(4 * sigma), size - 1)
    full = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()
    return g / full


def _grid(n: int, h: int, w: int) -> tuple[NDArray, NDArray]:
    ii, jj = np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )
    return np.broadcast_to(ii, (n, h, w)), np.broadcast_to(jj, (n, h, w))


def augment(
    x: NDArray,
    rng: np.random.Generator | int | None = None,
    kinds: Iterable[str] = AUGMENTATIONS,
    *,
    max_shift: int = 2,
    max_degrees: float = 10.0,
    max_scale: float = 0.1,
    alpha: float = 34.0,
    sigma: float = 4.0,
) -> NDArray:
    """Randomly transform each image of ``x``; one bilinear resampling for all ``kinds``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Floating images (MNIST: ``(N, 1, 28, 28)`` in [0, 1]); not modified.
    rng : numpy.random.Generator or int, optional
        Source of the random transforms (an int is a seed).
    kinds : iterable of str
        Any of ``'shift'``, ``'rotate'``, ``'scale'``, ``'elastic'`` (:data:`AUGMENTATIONS`).
    max_shift : int
        Whole-pixel shifts drawn uniformly from ``-max_shift..max_shift`` along each axis.
    max_degrees : float
        Rotation angle drawn uniformly from ``[-max_degrees, max_degrees]``.
    max_scale : float
        Size factor drawn uniformly from ``[1 - max_scale, 1 + max_scale]``.
    alpha, sigma : float
        Elastic distortion: displacements ``alpha * (G * U(-1, 1))`` with ``G`` a Gaussian of
        std ``sigma`` pixels (Simard et al. 2003 use 34 and 4 on MNIST: about 1.4 pixels of
        smooth displacement on average).

    Returns
    -------
    ndarray, shape (N, C, H, W), the dtype of ``x``
        A new array; at zero strength (0 shift, 0 degrees, 0 scale, 0 alpha) equal to ``x``.
    """
    x = _check_batch(x)
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in AUGMENTATIONS:
            raise ConfigError(
                f"unknown augmentation {kind!r}: use any of {', '.join(AUGMENTATIONS)}"
            )
    rng = _rng(rng)
    n, _, h, w = x.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ii, jj = _grid(n, h, w)
    # Output pixel p reads source q = A^-1 (p - c - t) + c, with A = scale * rotation.
    dy = ii - cy
    dx = jj - cx
    if "elastic" in kinds and alpha:
        # Simard et al.: smooth a uniform random field, then scale it; applied before the
        # affine part, so the stroke wobbles in the digit's own frame.
        field = rng.uniform(-1.0, 1.0, size=(2, n, h, w))
        gy, gx = gaussian_matrix(h, sigma), gaussian_matrix(w, sigma)
        smooth = gy @ field @ gx.T
        dy = dy + alpha * smooth[0]
        dx = dx + alpha * smooth[1]
    ty = tx = np.zeros((n, 1, 1))
    if "shift" in kinds and max_shift:
        shifts = rng.integers(-int(max_shift), int(max_shift) + 1, size=(2, n, 1, 1))
        ty, tx = shifts[0].astype(np.float64), shifts[1].astype(np.float64)
    cos = np.ones((n, 1, 1))
    sin = np.zeros((n, 1, 1))
    if "rotate" in kinds and max_degrees:
        theta = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=(n, 1, 1)))
        cos, sin = np.cos(theta), np.sin(theta)
    inv_scale = np.ones((n, 1, 1))
    if "scale" in kinds and max_scale:
        inv_scale = 1.0 / rng.uniform(1.0 - max_scale, 1.0 + max_scale, size=(n, 1, 1))
    py, px = dy - ty, dx - tx
    # Inverse rotation R(-theta) in (row, column) coordinates, then inverse scaling.
    sy = inv_scale * (cos * py - sin * px) + cy
    sx = inv_scale * (sin * py + cos * px) + cx
    return warp(x, sy, sx)


def random_shift(
    x: NDArray, rng: np.random.Generator | int | None = None, max_shift: int = 2
) -> NDArray:
    """Shift each image by whole pixels, ``-max_shift..max_shift`` along each axis, zeros
    coming in at the edges (exact: no interpolation blur). See :func:`augment`."""
    return augment(x, rng, ("shift",), max_shift=max_shift)


def random_rotate(
    x: NDArray, rng: np.random.Generator | int | None = None, max_degrees: float = 10.0
) -> NDArray:
    """Rotate each image about its centre by an angle in ``[-max_degrees, max_degrees]``."""
    return augment(x, rng, ("rotate",), max_degrees=max_degrees)


def random_scale(
    x: NDArray, rng: np.random.Generator | int | None = None, max_scale: float = 0.1
) -> NDArray:
    """Scale each image about its centre by a factor in ``[1 - max_scale, 1 + max_scale]``."""
    return augment(x, rng, ("scale",), max_scale=max_scale)


def elastic_distort(
    x: NDArray,
    rng: np.random.Generator | int | None = None,
    alpha: float = 34.0,
    sigma: float = 4.0,
) -> NDArray:
    """Simard et al.'s (2003) elastic distortion: a smoothed random displacement field."""
    return augment(x, rng, ("elastic",), alpha=alpha, sigma=sigma)


def parse_augmentations(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``'shift,rotate'`` -> ``('shift', 'rotate')`` (``''``, ``'none'`` or None: no
    augmentation); an unknown name is a :class:`ConfigError` listing the known ones."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(p.strip().lower() for p in parts if p.strip())
    if names == ("none",):
        return ()
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(
                f"unknown augmentation {name!r}: give a comma-separated list of "
                f"{', '.join(AUGMENTATIONS)} (or none)"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"augmentation {text!r} names a transform twice")
    return names


class Augmenter:
    """What :class:`~scratchdl.train.Trainer` applies to each training mini-batch.

    Calls :func:`augment` on the batch seen as images of ``shape`` (flat MNIST rows
    ``(N, 784)`` as ``(N, 1, 28, 28)``) and gives it back in the batch's own shape.

    Parameters
    ----------
    kinds : iterable of str
        The transforms (:data:`AUGMENTATIONS`).
    shape : (C, H, W)
        Shape of one image.
    **strengths
        ``max_shift``, ``max_degrees``, ``max_scale``, ``alpha``, ``sigma`` of :func:`augment`.
    """

    def __init__(
        self, kinds: Iterable[str], shape: tuple[int, int, int] = (1, 28, 28), **strengths: Any
    ) -> None:
        self.kinds = parse_augmentations(list(kinds))
        self.shape = tuple(int(s) for s in shape)
        unknown = sorted(set(strengths) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown augmentation strength(s) {', '.join(unknown)}")
        self.strengths = {**DEFAULTS, **strengths}

    def __call__(self, x_batch: NDArray, rng: np.random.Generator) -> NDArray:
        images = x_batch.reshape((x_batch.shape[0], *self.shape))
        return augment(images, rng, self.kinds, **self.strengths).reshape(x_batch.shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings (what a checkpoint must match)."""
        return {"kinds": list(self.kinds), "shape": list(self.shape), **self.strengths}
