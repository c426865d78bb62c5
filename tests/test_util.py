"""scratchdl.util: im2col/col2im in the book's layout, and the book's small helpers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchdl.errors import ShapeError
from scratchdl.util import (
    col2im,
    conv_output_size,
    im2col,
    im2col_channels_last,
    shuffle_dataset,
    smooth_curve,
)


def naive_im2col(x, fh, fw, stride, pad):
    """Pixel by pixel, straight from the definition (ch. 7.4.3): row (n, oy, ox), col (c, fy, fx)."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    col = np.empty((N * oh * ow, C * fh * fw))
    for n in range(N):
        for oy in range(oh):
            for ox in range(ow):
                row = (n * oh + oy) * ow + ox
                for c in range(C):
                    for fy in range(fh):
                        for fx in range(fw):
                            col[row, (c * fh + fy) * fw + fx] = xp[
                                n, c, oy * stride + fy, ox * stride + fx
                            ]
    return col


GEOMETRIES = [
    ((2, 3, 7, 6), 3, 2, 1, 0),
    ((2, 3, 7, 6), 3, 3, 2, 1),
    ((1, 1, 5, 5), 5, 5, 1, 2),
    ((2, 2, 9, 8), 2, 2, 2, 0),
    ((3, 1, 4, 4), 1, 1, 1, 0),
    ((1, 2, 6, 7), 3, 3, 3, 1),  # stride does not divide: rounds down like the book
]


@pytest.mark.parametrize(("shape", "fh", "fw", "stride", "pad"), GEOMETRIES)
def test_im2col_matches_the_definition_in_the_books_order(shape, fh, fw, stride, pad):
    x = np.random.default_rng(0).standard_normal(shape)
    col = im2col(x, fh, fw, stride, pad)
    np.testing.assert_array_equal(col, naive_im2col(x, fh, fw, stride, pad))
    assert col.flags.writeable and not np.shares_memory(col, x)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    fh=st.integers(1, 4),
    fw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, fh, fw, stride, pad, seed):
    if fh > h + 2 * pad or fw > w + 2 * pad:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    col = im2col(x, fh, fw, stride, pad)
    y = rng.standard_normal(col.shape)
    back = col2im(y, x.shape, fh, fw, stride, pad)
    assert back.shape == x.shape
    assert np.sum(col * y) == pytest.approx(np.sum(x * back), rel=1e-10, abs=1e-10)


def test_col2im_adds_overlapping_windows():
    # A 3x3 image, 2x2 windows at stride 1: the centre pixel is in all four windows.
    col = np.ones((4, 4))
    np.testing.assert_array_equal(
        col2im(col, (1, 1, 3, 3), 2, 2), [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_inputs_are_not_modified(dtype):
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype(dtype)
    before = x.copy()
    col = im2col(x, 3, 3, 1, 1)
    assert col.dtype == dtype
    col_before = col.copy()
    img = col2im(col, x.shape, 3, 3, 1, 1)
    assert img.dtype == dtype
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(col, col_before)


def test_integer_images_become_float64_like_numpy_arithmetic():
    assert im2col(np.ones((1, 1, 3, 3), dtype=np.uint8), 2, 2).dtype == np.float64


def test_conv_output_size_is_the_int_im2col_produces():
    assert conv_output_size(28, 5) == 24
    assert isinstance(conv_output_size(28, 5), int)
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(24, 2, 2) == 12
    assert conv_output_size(7, 3, 2) == 3  # (7 - 3) / 2 + 1
    assert conv_output_size(6, 3, 2) == 2  # 2.5 rounded down, like im2col


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((4, 5), "does not fit"),
        ((28, 0), "filter_size must be a positive integer"),
        ((28, 3, 0), "stride must be a positive integer"),
        ((28, 3, 1, -1), "pad must be a non-negative integer"),
        ((28, 2.5), "filter_size"),
    ],
)
def test_conv_output_size_errors_name_the_parameter(args, match):
    with pytest.raises(ShapeError, match=match):
        conv_output_size(*args)


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        im2col(np.ones((28, 28)), 3, 3)
    with pytest.raises(ShapeError, match="does not fit"):
        im2col(np.ones((1, 1, 4, 4)), 5, 5)
    with pytest.raises(ShapeError, match=r"col of shape \(8, 4\)"):
        col2im(np.ones((9, 4)), (2, 1, 3, 3), 2, 2)


def test_smooth_curve_keeps_length_constants_and_lines():
    assert np.allclose(smooth_curve(np.full(50, 3.0)), 3.0)
    ramp = np.arange(40, dtype=float)
    smoothed = smooth_curve(ramp)
    assert smoothed.shape == ramp.shape
    # A symmetric window leaves a straight line unchanged away from the ends.
    np.testing.assert_allclose(smoothed[6:-6], ramp[6:-6], atol=1e-12)
    noisy = ramp + np.random.default_rng(0).standard_normal(40)
    assert np.std(np.diff(smooth_curve(noisy))) < np.std(np.diff(noisy)) / 2


def test_shuffle_dataset_permutes_pairs_together_and_leaves_inputs():
    x = np.arange(20).reshape(10, 2)
    t = np.arange(10)
    xs, ts = shuffle_dataset(x, t, rng=3)
    np.testing.assert_array_equal(xs[:, 0] // 2, ts)  # every row still has its label
    assert sorted(ts) == list(range(10)) and not np.array_equal(ts, t)
    np.testing.assert_array_equal(t, np.arange(10))
    xs2, ts2 = shuffle_dataset(x, t, rng=3)
    np.testing.assert_array_equal(ts, ts2)
    images = np.arange(10 * 4).reshape(10, 1, 2, 2)
    xi, ti = shuffle_dataset(images, t, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(xi[:, 0, 0, 0] // 4, ti)


def test_shuffle_dataset_needs_matching_lengths():
    with pytest.raises(ShapeError, match="same number of samples"):
        shuffle_dataset(np.ones((3, 2)), np.ones(4))


def test_col2im_reads_both_memory_orders_alike():
    rng = np.random.default_rng(5)
    y = rng.standard_normal((2 * 3 * 3, 2 * 2 * 2))  # N=2, 3x3 outputs, C=2, 2x2 filter
    a = col2im(np.ascontiguousarray(y), (2, 2, 4, 4), 2, 2)
    b = col2im(np.asfortranarray(y), (2, 2, 4, 4), 2, 2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("shape", "fh", "fw", "stride", "pad"),
    [
        ((2, 3, 7, 6), 3, 3, 1, 1),
        ((2, 1, 28, 28), 5, 5, 1, 0),
        ((3, 8, 9, 8), 3, 2, 2, 2),
        ((2, 16, 6, 6), 3, 3, 1, 2),
        ((1, 6, 5, 5), 3, 3, 3, 1),
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_im2col_channels_last_is_im2col_with_columns_in_fy_fx_c_order(
    shape, fh, fw, stride, pad, channels_last
):
    rng = np.random.default_rng(5)
    N, C, H, W = shape
    x = rng.standard_normal((N, H, W, C)).transpose(0, 3, 1, 2) if channels_last else None
    x = rng.standard_normal(shape) if x is None else x
    book = im2col(x, fh, fw, stride, pad)
    expected = book.reshape(-1, C, fh, fw).transpose(0, 2, 3, 1).reshape(book.shape)
    scratch: dict = {}
    im2col_channels_last(x * 2 + 1, fh, fw, stride, pad, scratch=scratch)  # stale buffers
    got = im2col_channels_last(x, fh, fw, stride, pad, scratch=scratch)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(im2col_channels_last(x, fh, fw, stride, pad), expected)
    assert got.dtype == x.dtype
