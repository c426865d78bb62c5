"""Dropout, BatchNormalization, Convolution, Pooling: float64 gradient checks, ties, no input
mutation, dtypes, errors."""

import copy
import pickle

import numpy as np
import pytest

from scratchdl import layers as layers_module
from scratchdl.errors import ShapeError, StateError
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import BatchNormalization, Convolution, Dropout, Pooling
from scratchdl.util import col2im, im2col


def check_gradients(layer, x, rng, forward=None, rtol=1e-6, atol=1e-8):
    """L = sum(forward(x) * w): compare backward's dx and parameter gradients with central
    differences in float64."""
    forward = forward or layer.forward
    w = rng.standard_normal(forward(x).shape)

    def loss(_=None):
        return float(np.sum(forward(x) * w))

    forward(x)
    dx = layer.backward(w)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=rtol, atol=atol)
    for name in layer.param_names:
        forward(x)
        layer.backward(w)
        analytic = getattr(layer, "d" + name).copy()
        numeric = numerical_gradient(loss, getattr(layer, name))
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def naive_conv(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    FN, _, FH, FW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (H + 2 * pad - FH) // stride + 1, (Wd + 2 * pad - FW) // stride + 1
    out = np.empty((N, FN, oh, ow))
    for n in range(N):
        for f in range(FN):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[n, :, i * stride : i * stride + FH, j * stride : j * stride + FW]
                    out[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return out


CONV_CASES = [
    # (x shape, W shape, stride, pad)
    ((2, 1, 6, 6), (3, 1, 3, 3), 1, 0),
    ((2, 2, 7, 6), (3, 2, 3, 2), 2, 1),
    ((1, 3, 5, 5), (2, 3, 3, 3), 1, 2),
    ((2, 2, 8, 8), (4, 2, 2, 2), 2, 0),
    ((1, 2, 7, 7), (2, 2, 3, 3), 3, 1),
]


@pytest.mark.parametrize(("xs", "ws", "stride", "pad"), CONV_CASES)
def test_convolution_forward_is_the_definition_and_gradients_match(xs, ws, stride, pad):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    layer = Convolution(W, b, stride, pad)
    np.testing.assert_allclose(layer.forward(x), naive_conv(x, W, b, stride, pad), rtol=1e-12)
    check_gradients(layer, x, rng)


def test_convolution_without_dx_still_sets_parameter_gradients():
    rng = np.random.default_rng(1)
    layer = Convolution(rng.standard_normal((3, 2, 3, 3)), np.zeros(3), 1, 1)
    x = rng.standard_normal((2, 2, 5, 5))
    dout = rng.standard_normal(layer.forward(x).shape)
    assert layer.backward(dout).shape == x.shape
    dW, db = layer.dW.copy(), layer.db.copy()
    layer.need_dx = False  # a network's first layer
    layer.forward(x)
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.dW, dW, rtol=1e-12)
    np.testing.assert_allclose(layer.db, db, rtol=1e-12)


def distinct(shape, rng):
    """Values at least 0.01 apart, so no central difference (h = 1e-4) moves a maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0


POOL_CASES = [
    # (x shape, pool_h, pool_w, stride, pad)
    ((2, 3, 4, 4), 2, 2, 2, 0),
    ((2, 2, 5, 5), 2, 2, 2, 0),  # last row/column outside every window
    ((1, 2, 5, 6), 3, 3, 2, 1),  # overlapping windows, padded
    ((2, 1, 4, 5), 2, 3, 1, 0),
]


@pytest.mark.parametrize(("xs", "ph", "pw", "stride", "pad"), POOL_CASES)
def test_pooling_is_the_window_maximum_and_gradients_match(xs, ph, pw, stride, pad):
    rng = np.random.default_rng(2)
    x = distinct(xs, rng)
    layer = Pooling(ph, pw, stride, pad)
    out = layer.forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            win = xp[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            np.testing.assert_array_equal(out[:, :, i, j], win.max(axis=(2, 3)))
    check_gradients(layer, x, rng)


def test_pooling_ties_give_the_whole_gradient_to_the_first_maximum_in_row_major_order():
    x = np.array(
        [
            [
                [
                    [1.0, 5.0, 2.0, 2.0],
                    [5.0, 5.0, 2.0, 2.0],
                    [0.0, 0.0, 3.0, 7.0],
                    [0.0, 0.0, 7.0, 3.0],
                ]
            ]
        ]
    )
    layer = Pooling(2, 2, stride=2)
    np.testing.assert_array_equal(layer.forward(x), [[[[5.0, 2.0], [0.0, 7.0]]]])
    dx = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(
        dx,
        [[[[0, 10, 20, 0], [0, 0, 0, 0], [30, 0, 0, 40], [0, 0, 0, 0]]]],
    )


def test_pooling_overlapping_windows_add_their_gradients():
    # 3x3 input, 2x2 windows at stride 1: the centre 9 is the maximum of all four windows.
    x = np.array([[[[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]]]])
    layer = Pooling(2, 2, stride=1)
    np.testing.assert_array_equal(layer.forward(x), np.full((1, 1, 2, 2), 9.0))
    dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0, 0, 0], [0, 10, 0], [0, 0, 0]]]])


def test_pooling_ties_with_overlap_follow_each_windows_order():
    x = np.zeros((1, 1, 3, 3))  # every position ties in every window
    layer = Pooling(2, 2, stride=1)
    layer.forward(x)
    dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    # Each window's gradient goes to its top-left position.
    np.testing.assert_array_equal(dx, [[[[1, 2, 0], [3, 4, 0], [0, 0, 0]]]])


def test_pooling_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))  # all below the 0 the book would pad with
    layer = Pooling(2, 2, stride=2, pad=1)
    np.testing.assert_array_equal(layer.forward(x), -np.ones((1, 1, 2, 2)))
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dx, np.ones((1, 1, 2, 2)))


def test_dropout_fixed_mask_gradient_check():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal(x.shape)

    def loss(_=None):
        return float(np.sum(Dropout(0.3, rng=7).forward(x) * w))  # same seed, same mask

    layer = Dropout(0.3, rng=7)
    y = layer.forward(x)
    assert 0 < np.count_nonzero(layer.mask) < x.size
    np.testing.assert_array_equal(y, x * layer.mask)
    np.testing.assert_allclose(layer.backward(w), numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_dropout_test_time_scales_like_the_book_and_train_keeps_the_expected_fraction():
    x = np.ones((200, 500), dtype=np.float32)
    layer = Dropout(0.5, rng=0)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), 0.5 * x)
    kept = layer.forward(x).mean()
    assert kept == pytest.approx(0.5, abs=0.01)
    # New masks each call, reproducible from the seed.
    assert not np.array_equal(layer.forward(x), layer.forward(x))
    np.testing.assert_array_equal(Dropout(0.5, rng=4).forward(x), Dropout(0.5, rng=4).forward(x))


def test_dropout_backward_after_a_test_time_forward_is_refused():
    layer = Dropout(0.5, rng=0)
    layer.forward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3)), train_flg=False)
    with pytest.raises(StateError, match="train_flg=True"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 2])
def test_dropout_ratio_must_be_a_probability_below_one(ratio):
    with pytest.raises(ShapeError, match="dropout_ratio"):
        Dropout(ratio)


def book_bn_forward(x, gamma, beta):
    """The book's (N, D) training-mode formula, written out."""
    mu = x.mean(axis=0)
    xc = x - mu
    std = np.sqrt(np.mean(xc**2, axis=0) + 10e-7)
    return gamma * xc / std + beta


def bn_case(kind, rng):
    if kind == "2d":
        x, d = rng.standard_normal((6, 4)) * 3 + 1, 4
    elif kind == "per-channel":
        x, d = rng.standard_normal((3, 2, 3, 4)) * 2 - 1, 2
    else:  # the book's per-feature form for images
        x, d = rng.standard_normal((5, 2, 2, 2)) * 2 - 1, 8
    gamma, beta = rng.uniform(0.5, 2.0, d), rng.standard_normal(d)
    return x, gamma, beta


@pytest.mark.parametrize("kind", ["2d", "per-channel", "per-feature"])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients_match(kind, train):
    rng = np.random.default_rng(4)
    x, gamma, beta = bn_case(kind, rng)
    layer = BatchNormalization(
        gamma,
        beta,
        running_mean=rng.standard_normal(gamma.shape),
        running_var=rng.uniform(1, 2, gamma.shape),
    )
    check_gradients(layer, x, rng, forward=lambda x_: layer.forward(x_, train_flg=train))


def test_batchnorm_2d_is_the_books_formula_and_updates_running_statistics():
    rng = np.random.default_rng(5)
    x, gamma, beta = bn_case("2d", rng)
    layer = BatchNormalization(gamma, beta, momentum=0.8)
    np.testing.assert_allclose(layer.forward(x), book_bn_forward(x, gamma, beta), rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.2 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.2 * x.var(axis=0), rtol=1e-12)
    # Test time uses the running statistics.
    expected = gamma * (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-6) + beta
    np.testing.assert_allclose(layer.forward(x, train_flg=False), expected, rtol=1e-12)


def test_batchnorm_images_are_normalised_per_channel():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1, 5, 10]).reshape(1, 3, 1, 1) + 7
    y = BatchNormalization(np.ones(3), np.zeros(3)).forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    # The book's form (one gamma per pixel and channel) normalises each pixel over the batch.
    book = BatchNormalization(np.ones(75), np.zeros(75)).forward(x)
    np.testing.assert_allclose(book.reshape(4, 75), book_bn_forward(x.reshape(4, 75), 1, 0))


def test_batchnorm_keeps_its_own_running_statistics():
    mean, var = np.zeros(3), np.ones(3)
    layer = BatchNormalization(np.ones(3), np.zeros(3), running_mean=mean, running_var=var)
    layer.forward(np.random.default_rng(0).standard_normal((4, 3)))
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)


def test_batchnorm_shape_errors_are_clear():
    with pytest.raises(ShapeError, match="same shape"):
        BatchNormalization(np.ones(3), np.zeros(4))
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    with pytest.raises(ShapeError, match="with 3 features"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(ShapeError, match="running_mean"):
        BatchNormalization(np.ones(3), np.zeros(3), running_mean=np.zeros(2))


def make(kind, rng):
    if kind == "conv":
        return Convolution(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), 1, 1)
    if kind == "pool":
        return Pooling(2, 2, 2)
    if kind == "dropout":
        return Dropout(0.5, rng=0)
    return BatchNormalization(rng.uniform(0.5, 2, 2), rng.standard_normal(2))


KINDS = ["conv", "pool", "dropout", "bn"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_never_modify_inputs_and_keep_dtype(kind, dtype):
    rng = np.random.default_rng(7)
    layer = make(kind, rng)
    for name in layer.param_names:
        setattr(layer, name, getattr(layer, name).astype(dtype))
    x = rng.standard_normal((2, 2, 4, 4)).astype(dtype)
    x.flags.writeable = False  # any write raises
    y = layer.forward(x)
    assert y.dtype == dtype
    dout = rng.standard_normal(y.shape).astype(dtype)
    dout.flags.writeable = False
    dx = layer.backward(dout)
    assert dx.dtype == dtype and dx.shape == x.shape
    for name in layer.param_names:
        assert getattr(layer, "d" + name).dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_backward_before_forward_raises(kind):
    layer = make(kind, np.random.default_rng(0))
    with pytest.raises(StateError):
        layer.backward(np.ones((2, 2, 2, 2)))


def test_convolution_and_pooling_errors_are_clear():
    conv = Convolution(np.ones((4, 3, 5, 5)), np.zeros(4))
    with pytest.raises(ShapeError, match=r"expects 3 input channel"):
        conv.forward(np.ones((2, 1, 28, 28)))
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        conv.forward(np.ones((2, 784)))
    with pytest.raises(ShapeError, match="does not fit"):
        conv.forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ShapeError, match=r"\(FN, C, FH, FW\)"):
        Convolution(np.ones((4, 5, 5)), np.zeros(4))
    with pytest.raises(ShapeError, match="stride"):
        Convolution(np.ones((4, 3, 5, 5)), np.zeros(4), stride=0)
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        Pooling(2, 2, 2).forward(np.ones((2, 4, 4)))
    with pytest.raises(ShapeError, match="pad must be smaller"):
        Pooling(2, 2, 2, pad=2)


def book_conv_backward(x, W, dout, stride, pad):
    """The book's backward (ch. 7.4.3) from util.im2col / col2im: dW, db, dx."""
    FN = W.shape[0]
    col = im2col(x, W.shape[2], W.shape[3], stride, pad)
    dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
    dW = (col.T @ dout2).T.reshape(W.shape)
    dx = col2im(dout2 @ W.reshape(FN, -1), x.shape, W.shape[2], W.shape[3], stride, pad)
    return dW, dout2.sum(axis=0), dx


@pytest.mark.parametrize(
    ("xs", "ws", "stride", "pad"),
    [
        ((7, 8, 9, 9), (5, 8, 3, 3), 1, 1),  # channels-last columns, dx by the turned filters
        ((7, 8, 6, 6), (4, 8, 3, 3), 1, 2),  # DeepConvNet's pad 2
        ((5, 6, 7, 7), (3, 6, 3, 3), 1, 3),  # pad >= filter: dx by col2im
        ((5, 8, 9, 8), (3, 8, 3, 3), 2, 1),  # stride 2: dx by col2im
        ((9, 1, 8, 8), (4, 1, 3, 3), 1, 1),  # one channel: column-major columns
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
# One image per chunk, or all at once (one BLAS thread); with several threads: one image per
# chunk into the matrix kept for backward, or not kept (too large) and built again.
@pytest.mark.parametrize("policy", ["one-image", "whole", "threaded-kept", "threaded-rebuilt"])
def test_convolution_in_chunks_and_layouts_is_the_books_arithmetic(
    xs, ws, stride, pad, channels_last, policy, monkeypatch
):
    chunk_bytes = 1 << 20 if policy == "whole" else 1
    monkeypatch.setattr(layers_module, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(layers_module, "KEEP_BYTES", 0 if chunk_bytes == 1 else 1 << 23)
    threaded = policy.startswith("threaded")
    monkeypatch.setattr(layers_module, "_several_blas_threads", lambda: threaded)
    monkeypatch.setattr(layers_module, "THREADED_CHUNK_BYTES", 1)
    monkeypatch.setattr(layers_module, "THREADED_KEEP_BYTES", 0 if "rebuilt" in policy else 1 << 23)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs)
    if channels_last:  # as a convolution or pooling hands it on: (N, C, H, W) view of NHWC
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    W, b = rng.standard_normal(ws), rng.standard_normal(ws[0])
    layer = Convolution(W, b, stride, pad)
    x_before = x.copy()
    y = layer.forward(x)
    np.testing.assert_allclose(y, naive_conv(x, W, b, stride, pad), rtol=1e-12, atol=1e-12)
    assert (layer.kept_col is not None) == (policy in ("whole", "threaded-kept"))
    dout = rng.standard_normal(y.shape)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    dW, db, dx_book = book_conv_backward(x, W, dout, stride, pad)
    np.testing.assert_allclose(layer.dW, dW, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(layer.db, db, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx_book, rtol=1e-11, atol=1e-11)
    np.testing.assert_array_equal(x, x_before)  # inputs untouched
    np.testing.assert_array_equal(dout, dout_before)
    # A second, smaller batch through the same (reused) buffers gives its own answer.
    x2 = rng.standard_normal((2, *xs[1:]))
    np.testing.assert_allclose(
        layer.forward(x2), naive_conv(x2, W, b, stride, pad), rtol=1e-12, atol=1e-12
    )


def test_convolution_keeps_its_columns_only_in_training_with_several_threads(monkeypatch):
    monkeypatch.setattr(layers_module, "KEEP_BYTES", 0)
    monkeypatch.setattr(layers_module, "_several_blas_threads", lambda: True)
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal((4, 8, 6, 6)), rng.standard_normal((4, 8, 3, 3))
    layer = Convolution(W, np.zeros(4), 1, 1)
    layer.forward(x)  # training, as the book's forward(x)
    assert layer.kept_col is not None
    y = layer.forward(x, train_flg=False)  # a prediction keeps no column matrix ...
    assert layer.kept_col is None
    dout = rng.standard_normal(y.shape)
    layer.backward(dout)  # ... and backward builds it again
    np.testing.assert_allclose(layer.dW, book_conv_backward(x, W, dout, 1, 1)[0], rtol=1e-11)


def test_convolution_copies_leave_the_scratch_buffers_behind():
    rng = np.random.default_rng(4)
    layer = Convolution(rng.standard_normal((4, 8, 3, 3)), np.zeros(4), 1, 1)
    x = rng.standard_normal((3, 8, 6, 6))
    y = layer.forward(x)
    assert layer._buffers  # the column matrix is kept for the next step
    twin = copy.deepcopy(layer)
    assert twin._buffers == {} and twin.kept_col is None
    np.testing.assert_allclose(twin.forward(x), y, rtol=1e-12)
    dout = rng.standard_normal(y.shape)
    layer.backward(dout), twin.backward(dout)
    np.testing.assert_allclose(twin.dW, layer.dW, rtol=1e-12)
    assert pickle.loads(pickle.dumps(layer))._buffers == {}
