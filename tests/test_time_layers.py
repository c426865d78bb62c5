"""Time layers (second book, ch. 5-6): float64 gradient checks, no input mutation, state,
dtypes, the fast TimeLSTM against the step-by-step LSTM, errors."""

import numpy as np
import pytest

from scratchdl.errors import ShapeError, StateError
from scratchdl.gradient import numerical_gradient
from scratchdl.time_layers import (
    GRU,
    LSTM,
    RNN,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    sigmoid_,
)

N, T, D, H = 3, 4, 5, 6


def rnd(rng, *shape, scale=0.5):
    return rng.standard_normal(shape) * scale


def check_layer(layer, inputs, rng, rtol=1e-5, atol=1e-7):
    """L = sum over outputs of sum(out * w): backward's input and parameter gradients match
    float64 central differences, and no input is modified."""
    outs = layer.forward(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    ws = [rng.standard_normal(o.shape) for o in outs]
    before = [a.copy() for a in inputs]

    def loss(_=None):
        o = layer.forward(*inputs)
        o = o if isinstance(o, tuple) else (o,)
        return float(sum(np.sum(a * w) for a, w in zip(o, ws, strict=True)))

    layer.forward(*inputs)
    ws_before = [w.copy() for w in ws]
    d = layer.backward(*ws)
    for a, b in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(a, b)  # forward and backward never touch their inputs
    for w, b in zip(ws, ws_before, strict=True):
        np.testing.assert_array_equal(w, b)
    d = d if isinstance(d, tuple) else (d,)
    for x, dx in zip(inputs, d, strict=True):
        if x.dtype.kind == "f":
            np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=rtol, atol=atol)
    analytic = [g.copy() for g in layer.grads]
    for p, g in zip(layer.params, analytic, strict=True):
        np.testing.assert_allclose(g, numerical_gradient(loss, p), rtol=rtol, atol=atol)


def test_sigmoid_in_place_is_the_logistic_function_and_never_overflows():
    a = np.array([-1000.0, -3.0, 0.0, 2.0, 1000.0])
    with np.errstate(all="raise"):
        out = sigmoid_(a.copy())
    np.testing.assert_allclose(out, [0.0, 1 / (1 + np.exp(3)), 0.5, 1 / (1 + np.exp(-2)), 1.0])


def test_rnn_and_time_rnn_gradients():
    rng = np.random.default_rng(0)
    p = (rnd(rng, D, H), rnd(rng, H, H), rnd(rng, H))
    check_layer(RNN(*p), (rnd(rng, N, D), rnd(rng, N, H)), rng)
    check_layer(TimeRNN(*p), (rnd(rng, N, T, D),), rng)


def test_lstm_and_time_lstm_gradients():
    rng = np.random.default_rng(1)
    p = (rnd(rng, D, 4 * H), rnd(rng, H, 4 * H), rnd(rng, 4 * H))
    check_layer(LSTM(*p), (rnd(rng, N, D), rnd(rng, N, H), rnd(rng, N, H)), rng)
    check_layer(TimeLSTM(*p), (rnd(rng, N, T, D),), rng)


def test_time_bilstm_gradients_and_its_second_half_reads_backwards():
    rng = np.random.default_rng(9)
    p1 = (rnd(rng, D, 4 * H), rnd(rng, H, 4 * H), rnd(rng, 4 * H))
    p2 = (rnd(rng, D, 4 * H), rnd(rng, H, 4 * H), rnd(rng, 4 * H))
    xs = rnd(rng, N, T, D)
    layer = TimeBiLSTM(*p1, *p2)
    out = layer.forward(xs)
    assert out.shape == (N, T, 2 * H)
    np.testing.assert_allclose(out[:, :, :H], TimeLSTM(*p1).forward(xs), rtol=1e-12)
    np.testing.assert_allclose(
        out[:, :, H:], TimeLSTM(*p2).forward(xs[:, ::-1])[:, ::-1], rtol=1e-12
    )
    check_layer(layer, (xs,), rng)


def test_gru_and_time_gru_gradients_including_the_bias():
    rng = np.random.default_rng(2)
    p = (rnd(rng, D, 3 * H), rnd(rng, H, 3 * H), rnd(rng, 3 * H))
    check_layer(GRU(*p), (rnd(rng, N, D), rnd(rng, N, H)), rng)
    layer = TimeGRU(*p)
    check_layer(layer, (rnd(rng, N, T, D),), rng)
    assert np.abs(layer.grads[2]).sum() > 0  # the bias learns


def test_time_affine_and_softmax_with_loss_gradients():
    rng = np.random.default_rng(3)
    check_layer(TimeAffine(rnd(rng, D, 7), rnd(rng, 7)), (rnd(rng, N, T, D),), rng)
    xs = rnd(rng, N, T, 7, scale=2.0)
    ts = rng.integers(0, 7, size=(N, T))
    ts[0, 1] = -1  # the book's padding label is ignored
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    # The definition: mean over the counted steps of -log softmax(x)[t].
    logp = xs - np.log(np.exp(xs).sum(axis=2, keepdims=True))
    mask = ts != -1
    expected = -np.mean(np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], 2)[mask])
    assert loss == pytest.approx(expected, rel=1e-12)
    dx = layer.backward()
    num = numerical_gradient(lambda _: layer.forward(xs, ts), xs)
    np.testing.assert_allclose(dx, num, rtol=1e-5, atol=1e-8)
    assert np.all(dx[0, 1] == 0)


def test_softmax_loss_both_paths_agree_and_backward_runs_once():
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((2, 3, 5))
    ts = rng.integers(0, 5, (2, 3))
    layer = TimeSoftmaxWithLoss()
    small = layer.forward(xs, ts)
    dx_small = layer.backward()
    with pytest.raises(StateError):
        layer.backward()  # its buffer became dx
    shifted = layer.forward(xs + 100.0, ts)  # scores past exp's safe range: the shifted path
    assert shifted == pytest.approx(small, rel=1e-12)
    np.testing.assert_allclose(layer.backward(), dx_small, rtol=1e-10, atol=1e-15)


def test_softmax_loss_stays_finite_for_extreme_scores():
    xs = np.array([[[1e4, -1e4, 0.0]]], dtype=np.float32)
    loss = TimeSoftmaxWithLoss().forward(xs, np.array([[1]]))
    assert loss == pytest.approx(2e4, rel=1e-6)


def test_time_embedding_gradient_sums_repeated_ids():
    rng = np.random.default_rng(4)
    W = rnd(rng, 10, D)
    xs = np.array([[1, 2, 1, 9], [0, 1, 2, 2]])
    layer = TimeEmbedding(W)
    out = layer.forward(xs)
    np.testing.assert_array_equal(out, W[xs])
    dout = rnd(rng, 2, 4, D)
    assert layer.backward(dout) is None
    expected = np.zeros_like(W)
    np.add.at(expected, xs.reshape(-1), dout.reshape(-1, D))
    np.testing.assert_allclose(layer.grads[0], expected, rtol=1e-12)
    with pytest.raises(ShapeError, match=r"word ids must lie in 0..9"):
        layer.forward(np.array([[10]]))


def test_fast_time_lstm_equals_the_step_by_step_lstm_and_keeps_state():
    rng = np.random.default_rng(5)
    p = (rnd(rng, D, 4 * H), rnd(rng, H, 4 * H), rnd(rng, 4 * H))
    xs = rnd(rng, N, 2 * T, D)
    fast = TimeLSTM(*p, stateful=True)
    hs = np.concatenate([fast.forward(xs[:, :T]), fast.forward(xs[:, T:])], axis=1)
    step = LSTM(*p)
    h = c = np.zeros((N, H))
    for t in range(2 * T):
        h, c = step.forward(xs[:, t], h, c)
        np.testing.assert_allclose(hs[:, t], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.c, c, rtol=1e-12, atol=1e-12)
    fast.reset_state()
    np.testing.assert_allclose(fast.forward(xs[:, :T]), hs[:, :T], rtol=1e-12)
    fast.set_state(np.ones((N, H)))
    assert not np.allclose(fast.forward(xs[:, :T]), hs[:, :T])
    stateless = TimeLSTM(*p)
    np.testing.assert_allclose(stateless.forward(xs[:, T:]), stateless.forward(xs[:, T:]))


def test_time_lstm_dh_is_the_gradient_of_the_initial_state():
    rng = np.random.default_rng(6)
    p = (rnd(rng, D, 4 * H), rnd(rng, H, 4 * H), rnd(rng, 4 * H))
    xs = rnd(rng, N, T, D)
    h0 = rnd(rng, N, H)
    layer = TimeLSTM(*p, stateful=True)
    w = rng.standard_normal((N, T, H))

    def loss(_=None):
        layer.set_state(h0)
        return float(np.sum(layer.forward(xs) * w))

    loss()
    layer.backward(w)
    np.testing.assert_allclose(layer.dh, numerical_gradient(loss, h0), rtol=1e-5, atol=1e-8)


def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    f = np.float32
    lstm = TimeLSTM(
        *(rnd(rng, D, 4 * H).astype(f), rnd(rng, H, 4 * H).astype(f), np.zeros(4 * H, f))
    )
    hs = lstm.forward(rnd(rng, N, T, D))
    assert hs.dtype == np.float32
    assert lstm.backward(np.ones_like(hs)).dtype == np.float32
    assert lstm.grads[0].dtype == np.float32


def test_dropout_scales_in_training_and_passes_through_at_test_time():
    x = np.ones((200, 50, 2))
    layer = TimeDropout(0.25, rng=0)
    y = layer.forward(x)
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_array_equal(layer.backward(x), y)
    layer.train_flg = False
    np.testing.assert_array_equal(layer.forward(x), x)


@pytest.mark.parametrize(
    "layer",
    [
        TimeLSTM(np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)),
        TimeRNN(np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)),
        TimeAffine(np.zeros((D, 2)), np.zeros(2)),
        TimeEmbedding(np.zeros((4, D))),
        TimeSoftmaxWithLoss(),
        TimeDropout(),
    ],
)
def test_backward_before_forward_raises(layer):
    with pytest.raises(StateError, match="before forward"):
        layer.backward(np.zeros((N, T, H)))


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"expects input of shape \(N, T, 5\)"):
        TimeLSTM(np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)).forward(
            np.zeros((N, D))
        )


def test_reused_buffers_never_change_an_array_a_caller_holds():
    rng = np.random.default_rng(11)
    x1, x2 = rnd(rng, N, T, D), rnd(rng, N, T, D)
    ts = rng.integers(0, 7, (N, T))
    affine, loss = TimeAffine(rnd(rng, D, 7), rnd(rng, 7)), TimeSoftmaxWithLoss()
    y1 = affine.forward(x1)
    kept = y1.copy()
    y2 = affine.forward(x2)  # y1 is still held: a new array
    np.testing.assert_array_equal(y1, kept)
    assert not np.shares_memory(y1, y2)
    loss.forward(y1, ts)
    dx1 = loss.backward()
    kept_dx = dx1.copy()
    loss.forward(y2, ts)
    loss.backward()
    np.testing.assert_array_equal(dx1, kept_dx)
    # Once nobody holds it, the array is filled again instead of asking the OS for new pages.
    address = y2.__array_interface__["data"][0]
    del y1, y2
    y3 = affine.forward(x1)
    np.testing.assert_array_equal(y3, kept)
    assert y3.__array_interface__["data"][0] == address
