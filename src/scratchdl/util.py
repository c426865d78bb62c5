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
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_non_negative_int, check_positive_int
from scratchdl.errors import ShapeError
from scratchdl.functions import as_float_array

__all__ = [
    "col2im",
    "conv_output_size",
    "im2col",
    "im2col_channels_last",
    "shuffle_dataset",
    "smooth_curve",
]


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


def im2col_channels_last(
    input_data: ArrayLike,
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int | tuple[int, int] = 0,
    *,
    scratch: dict[str, NDArray] | None = None,
    out: NDArray | None = None,
) -> NDArray:
    """:func:`im2col` with the columns in ``(fy, fx, c)`` order, for channels-last images.

    The book's ``im2col`` (ch. 7.4.3) pads the images, copies what each filter offset
    ``(fy, fx)`` sees into a 6-d array (N, C, FH, FW, out_h, out_w) and then transposes and
    reshapes it into the result: two full copies, the second with short strided runs. Here
    the images are read channels last, (N, H, W, C), where the ``FW`` pixels of one filter row
    and all their channels lie side by side in memory: ``FW*C`` values in one run (48 for a
    3x3 filter on 16 channels). A strided *view* points every (window, filter row) at its run,
    and one copy writes the column matrix; measured on (100, 16, 28, 28) images that is 2.3 ms
    against 5.3 ms for nine per-offset slice copies and 7.3 ms for the book's order. The
    matching filter matrix is ``W.transpose(0, 2, 3, 1).reshape(FN, -1)``.

    Parameters
    ----------
    input_data : array_like, shape (N, C, H, W)
        Any memory layout; channels last in memory (``x.transpose(0, 2, 3, 1)`` contiguous,
        as :class:`~scratchdl.layers.Convolution` returns its output) is the fast case.
    filter_h, filter_w, stride : int
    pad : int or (pad_h, pad_w)
        Zeros on both sides of H (pad_h) and of W (pad_w).
    scratch : dict, optional
        Where to keep the two work arrays (the zero-padded images and the result) for the
        next call with the same shapes: a convolution layer passes its own dict, so a training
        step does not allocate tens of MB again. The returned matrix is then a view of
        ``scratch['col']``, overwritten by the next call.
    out : ndarray, shape (N*out_h*out_w, filter_h*filter_w*C), C-contiguous, optional
        Write the column matrix here instead (a convolution layer builds the matrix it keeps
        for backward chunk by chunk, into slices of one buffer). For ``filter_w * C`` < 16
        that is the slower copy of short runs.

    Returns
    -------
    col : ndarray, shape (N*out_h*out_w, filter_h*filter_w*C)
        Rows ``(n, oy, ox)`` as in :func:`im2col`, columns ``(fy, fx, c)``. C-contiguous,
        except when ``filter_w * C`` < 16 (one channel): then column-major (see the code).
    """
    x = as_float_array(input_data)
    pad_h, pad_w = (pad, pad) if isinstance(pad, (int, np.integer)) else pad
    if len(x.shape) != 4:
        raise ShapeError(f"expected images of shape (N, C, H, W), got shape {tuple(x.shape)}")
    N, C, H, W = x.shape
    out_h = conv_output_size(H, filter_h, stride, pad_h)
    out_w = conv_output_size(W, filter_w, stride, pad_w)
    scratch = {} if scratch is None else scratch
    x = x.transpose(0, 2, 3, 1)  # (N, H, W, C), a view
    if pad_h or pad_w or not x.flags.c_contiguous:
        shape = (N, H + 2 * pad_h, W + 2 * pad_w, C)
        padded = scratch.get("padded")
        if padded is None or padded.shape != shape or padded.dtype != x.dtype:
            padded = scratch["padded"] = np.zeros(shape, dtype=x.dtype)  # borders stay 0
        padded[:, pad_h : pad_h + H, pad_w : pad_w + W] = x
        x = padded
    K = filter_h * filter_w * C
    if filter_w * C < 16 and out is None:
        # Runs of FW*C values are too short to copy fast (one channel: 3 or 5 values). Then
        # the matrix is built transposed, (K, N*out_h*out_w), one filter offset at a time:
        # each copy moves runs of out_w pixels. Returned as its transpose: same values.
        shape = (filter_h, filter_w, C, N, out_h, out_w)
        col_t = _scratch_array(scratch, "col_t", shape, x.dtype)
        span_h, span_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
        for fy in range(filter_h):
            for fx in range(filter_w):
                window = x[:, fy : fy + span_h : stride, fx : fx + span_w : stride]
                col_t[fy, fx] = window.transpose(3, 0, 1, 2)
        return col_t.reshape(K, -1).T
    shape = (N, out_h, out_w, filter_h, filter_w * C)
    if out is None:
        col = _scratch_array(scratch, "col", shape, x.dtype)
    elif out.shape == (N * out_h * out_w, K) and out.flags.c_contiguous and out.dtype == x.dtype:
        col = out.reshape(shape)
    else:
        raise ShapeError(
            f"out must be a C-contiguous {x.dtype} array of shape {(N * out_h * out_w, K)}, "
            f"got {out.dtype} {out.shape}"
        )
    _, height, width, _ = x.shape  # padded
    sc = x.itemsize  # x is C-contiguous (N, height, width, C)
    sx, sy, sn = C * sc, width * C * sc, height * width * C * sc
    # windows[n, oy, ox, fy] is the run of FW*C values the filter row fy sees in the window
    # at (oy, ox): it starts at pixel (oy*stride + fy, ox*stride) and goes on channel by
    # channel, pixel by pixel (W's stride is exactly C values).
    windows = as_strided(x, col.shape, (sn, sy * stride, sx * stride, sy, sc), writeable=False)
    col[...] = windows
    return col.reshape(-1, K)


def _scratch_array(scratch: dict, key: str, shape: tuple[int, ...], dtype: np.dtype) -> NDArray:
    array = scratch.get(key)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = scratch[key] = np.empty(shape, dtype=dtype)
    return array


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
