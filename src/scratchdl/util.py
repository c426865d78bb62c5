"""The book's ``common/util.py`` helpers (ch. 6.5, 7.4): ``im2col``/``col2im``, and small tools.

``im2col`` unrolls every filter-sized window of a batch of images into one row, so that a
convolution becomes one matrix product (ch. 7.4.3). The book builds the rows with a Python loop
over the filter offsets into a float64 buffer and then transposes it; here the windows are a
strided *view* of the padded input (``sliding_window_view``), and one reshape copies them into
the result, in the input's dtype. The row and column order is exactly the book's, so the book's
trained filters work unchanged:

- rows: ``(n, oy, ox)``, sample by sample, each output position in row-major order;
- columns: ``(c, fy, fx)``, channel by channel, each filter offset in row-major order,
  matching ``W.reshape(FN, -1)`` for filters ``W`` of shape (FN, C, FH, FW).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_non_negative_int, check_positive_int
from scratchdl.errors import ShapeError
from scratchdl.functions import as_float_array

__all__ = ["col2im", "conv_output_size", "im2col", "shuffle_dataset", "smooth_curve"]


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """Output length of a convolution or pooling along one axis (ch. 7.2.4).

    ``(input_size + 2*pad - filter_size) // stride + 1``. The book's version divides with
    ``/`` and returns a float (24.0); this one returns the int that :func:`im2col` produces,
    rounding down when the stride does not divide evenly, as the book's ``im2col`` does.

    Raises
    ------
    ShapeError
        If a size is not a positive integer (``pad`` non-negative), or the filter does not fit
        into the padded input.
    """
    input_size = check_positive_int(input_size, "input_size", ShapeError)
    filter_size = check_positive_int(filter_size, "filter_size", ShapeError)
    stride = check_positive_int(stride, "stride", ShapeError)
    pad = check_non_negative_int(pad, "pad", ShapeError)
    if filter_size > input_size + 2 * pad:
        raise ShapeError(
            f"a filter of size {filter_size} does not fit an input of size {input_size} with "
            f"pad {pad}: use a smaller filter or more padding"
        )
    return (input_size + 2 * pad - filter_size) // stride + 1


def _geometry(
    shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int, pad: int
) -> tuple[int, int]:
    if len(shape) != 4:
        raise ShapeError(f"expected images of shape (N, C, H, W), got shape {tuple(shape)}")
    _, _, H, W = shape
    return (
        conv_output_size(H, filter_h, stride, pad),
        conv_output_size(W, filter_w, stride, pad),
    )


def im2col(
    input_data: ArrayLike, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> NDArray:
    """Unroll the filter windows of images into rows (ch. 7.4.3).

    Parameters
    ----------
    input_data : array_like, shape (N, C, H, W)
    filter_h, filter_w : int
        Window size.
    stride : int
    pad : int
        Zeros added on every side of H and W.

    Returns
    -------
    col : ndarray, shape (N*out_h*out_w, C*filter_h*filter_w)
        In ``input_data``'s float dtype (integers become float64). Rows ``(n, oy, ox)``,
        columns ``(c, fy, fx)``, as in the book; stored column-major (``col.T`` is
        C-contiguous), which is faster to build and all the same to ``@``.
    """
    x = as_float_array(input_data)
    out_h, out_w = _geometry(x.shape, filter_h, filter_w, stride, pad)
    N, C = x.shape[:2]
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (N, C, H', W', FH, FW) view of every window, then every stride-th one.
    windows = sliding_window_view(x, (filter_h, filter_w), axis=(2, 3))
    windows = windows[
        :, :, : stride * (out_h - 1) + 1 : stride, : stride * (out_w - 1) + 1 : stride
    ]
    # The one copy, made as (C, FH, FW, N, oy, ox): each (channel, offset) is a run of
    # out_w neighbouring pixels, copied fast. In the book's order (N, oy, ox, C, FH, FW) the
    # runs are FW values long, and the copy measured 3-4 times slower. The result is the
    # transpose of that array: the book's shape and values, column-major in memory, which
    # matrix products take as they are.
    col_t = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * filter_h * filter_w, N * out_h * out_w)
    # A 1x1 filter can make that reshape a read-only view of the input; return an array of
    # its own, as the book does.
    return (col_t if col_t.flags.writeable else col_t.copy()).T


def col2im(
    col: ArrayLike,
    input_shape: tuple[int, int, int, int],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> NDArray:
    """Fold rows back into images, adding where windows overlap (ch. 7.4.3).

    The adjoint of :func:`im2col`: ``<im2col(x), y> == <x, col2im(y)>``, which is what makes it
    the backward pass of a convolution. It loops over the ``filter_h * filter_w`` filter
    offsets (each step adds one strided slab for the whole batch), never over pixels.

    Parameters
    ----------
    col : array_like, shape (N*out_h*out_w, C*filter_h*filter_w)
    input_shape : tuple (N, C, H, W)
        Shape of the images that :func:`im2col` unrolled.
    filter_h, filter_w, stride, pad : int
        As given to :func:`im2col`.

    Returns
    -------
    ndarray, shape (N, C, H, W), in ``col``'s float dtype.
    """
    col = as_float_array(col)
    input_shape = tuple(int(s) for s in input_shape)
    out_h, out_w = _geometry(input_shape, filter_h, filter_w, stride, pad)
    N, C, H, W = input_shape
    expected = (N * out_h * out_w, C * filter_h * filter_w)
    if col.shape != expected:
        raise ShapeError(
            f"col2im needs col of shape {expected} for input_shape {input_shape} and a "
            f"{filter_h}x{filter_w} filter (stride {stride}, pad {pad}), got {col.shape}"
        )
    if col.T.flags.c_contiguous:  # column-major, as im2col makes it: slabs of whole rows
        slabs = col.T.reshape(C, filter_h, filter_w, N, out_h, out_w).transpose(3, 0, 1, 2, 4, 5)
    else:  # (N, oy, ox, C, FH, FW) -> (N, C, FH, FW, oy, ox): a view, each slab strided
        slabs = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    span_h, span_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
    for fy in range(filter_h):
        for fx in range(filter_w):
            img[:, :, fy : fy + span_h : stride, fx : fx + span_w : stride] += slabs[:, :, fy, fx]
    return img[:, :, pad : pad + H, pad : pad + W] if pad else img


def smooth_curve(x: ArrayLike) -> NDArray:
    """Smooth a noisy curve (a loss per iteration) for plotting, as the book's ch. 6 figures do.

    A normalised Kaiser window (length 11, beta 2) slides over ``x``, extended at both ends by
    its mirror image so the ends are not pulled towards zero. For inputs of at least 11 points
    the result has the length of ``x``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    window_len = 11
    s = np.concatenate([x[window_len - 1 : 0 : -1], x, x[-1:-window_len:-1]])
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5 : len(y) - 5]


def shuffle_dataset(
    x: ArrayLike, t: ArrayLike, rng: np.random.Generator | int | None = None
) -> tuple[NDArray, NDArray]:
    """Shuffle samples and labels together (ch. 6.5.3): ``x[p], t[p]`` for one permutation ``p``.

    Parameters
    ----------
    x : array_like, shape (N, ...)
    t : array_like, shape (N, ...)
    rng : numpy.random.Generator or int seed, optional
        Source of the permutation (the book draws from the global ``np.random``).

    Returns new arrays; the inputs are left as they were.
    """
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ShapeError(
            f"shuffle_dataset needs x and t with the same number of samples, got shapes "
            f"{x.shape} and {t.shape}"
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    p = gen.permutation(x.shape[0])
    return x[p], t[p]
