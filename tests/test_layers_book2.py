"""The second book's MatMul, Embedding and SigmoidWithLoss: float64 gradient checks, the
book's list surface (``params``/``grads`` updated in place), no input mutation, dtypes, errors."""

import numpy as np
import pytest

from scratchdl.errors import ShapeError, StateError
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import Embedding, MatMul, SigmoidWithLoss, scatter_add_rows


def test_matmul_gradients_and_book_surface():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    layer = MatMul(W)
    grads = layer.grads[0]  # a model collects this list once, at construction
    w = rng.standard_normal((5, 3))
    x0, w0, W0 = x.copy(), w.copy(), W.copy()

    def loss(_=None):
        return float(np.sum(layer.forward(x) * w))

    np.testing.assert_allclose(layer.forward(x), x @ W)
    dx = layer.backward(w)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    layer.forward(x)
    layer.backward(w)
    assert layer.grads[0] is grads and layer.dW is grads and layer.W is layer.params[0] is W
    np.testing.assert_allclose(grads.copy(), numerical_gradient(loss, W), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(W, W0)


def test_matmul_float32_and_errors():
    layer = MatMul(np.ones((3, 2), np.float32))
    assert layer.forward(np.ones((4, 3), np.float32)).dtype == np.float32
    with pytest.raises(ShapeError, match=r"\(N, 3\)"):
        layer.forward(np.ones((4, 2)))
    with pytest.raises(StateError, match="forward first"):
        MatMul(np.ones((3, 2))).backward(np.ones((1, 2)))
    with pytest.raises(ShapeError, match="D, H"):
        MatMul(np.ones(3))


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_embedding_gradient_with_repeated_ids(shape):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 3))
    idx = rng.integers(0, 6, shape)
    idx.flat[0] = idx.flat[-1] = 2  # an id seen more than once sums its gradients
    idx0 = idx.copy()
    layer = Embedding(W)
    grads = layer.grads[0]
    w = rng.standard_normal(shape + (3,))

    def loss(_=None):
        return float(np.sum(layer.forward(idx) * w))

    np.testing.assert_array_equal(layer.forward(idx), W[idx])
    assert layer.backward(w) is None
    assert layer.grads[0] is grads
    np.testing.assert_allclose(grads.copy(), numerical_gradient(loss, W), rtol=1e-6, atol=1e-8)
    expected = np.zeros_like(W)
    np.add.at(expected, idx.reshape(-1), w.reshape(-1, 3))
    np.testing.assert_allclose(grads, expected, rtol=1e-12)
    np.testing.assert_array_equal(idx, idx0)
    # A second backward starts from zero: rows seen only the first time are cleared.
    layer.forward(np.array([5]))
    layer.backward(np.ones((1, 3)))
    assert grads[5].tolist() == [1, 1, 1] and not grads[:5].any()


def test_scatter_add_rows_is_np_add_at():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 50, 400)
    dout = rng.standard_normal((400, 5)).astype(np.float32)
    expected = np.zeros((50, 5), np.float32)
    np.add.at(expected, idx, dout)
    got = np.zeros((50, 5), np.float32)
    scatter_add_rows(got, idx, dout)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    scatter_add_rows(got, idx[:0], dout[:0])  # nothing to add
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_embedding_errors_and_dtype():
    layer = Embedding(np.zeros((4, 2), np.float32))
    assert layer.forward(np.array([0, 3])).dtype == np.float32
    with pytest.raises(ShapeError, match=r"0\.\.3, got 0\.\.4"):
        layer.forward(np.array([0, 4]))
    with pytest.raises(ShapeError, match="integer word ids"):
        layer.forward(np.array([0.0, 1.0]))
    with pytest.raises(StateError):
        Embedding(np.zeros((4, 2))).backward(np.zeros((1, 2)))
    layer.forward(np.array([1, 2]))
    with pytest.raises(ShapeError, match=r"\(2, 2\)"):
        layer.backward(np.zeros((3, 2)))


def test_sigmoid_with_loss_value_gradient_and_extremes():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(6)
    t = np.array([1, 0, 1, 1, 0, 0])
    x0 = x.copy()
    layer = SigmoidWithLoss()
    y = 1 / (1 + np.exp(-x))
    expected = -np.mean(t * np.log(y) + (1 - t) * np.log(1 - y))
    assert layer.forward(x, t) == pytest.approx(expected, rel=1e-12)
    dx = layer.backward()
    numeric = numerical_gradient(lambda _=None: layer.forward(x, t), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(x, x0)
    layer.forward(x, t)
    np.testing.assert_allclose(layer.backward(2.0), 2 * dx)
    # Extreme scores: finite loss, the right limit (a confident wrong answer costs |x|).
    assert layer.forward(np.array([1000.0, -1000.0]), np.array([0, 1])) == pytest.approx(1000)
    assert layer.forward(np.array([1000.0], np.float32), np.array([1])) == 0.0
    assert layer.backward().dtype == np.float32
    with pytest.raises(ShapeError, match="scores' shape"):
        layer.forward(np.zeros(3), np.zeros(2))
    with pytest.raises(StateError):
        SigmoidWithLoss().backward()
