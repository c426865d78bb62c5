"""Every layer: gradient-checked in float64, never modifies its input, keeps dtypes."""

import numpy as np
import pytest

from scratchdl.errors import (
    InputTypeError,
    ShapeError,
    StateError,
)
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, Softmax, SoftmaxWithLoss


@pytest.fixture
def rng():
    """A fresh generator per test: values never depend on which tests ran before."""
    return np.random.default_rng(42)


def away_from_zero(shape, rng):
    """Inputs for ReLU kept at least 0.1 from its kink, so central differences are exact."""
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def make(kind, rng):
    if kind == "relu":
        return Relu(), away_from_zero((4, 5), rng)
    if kind == "sigmoid":
        return Sigmoid(), rng.standard_normal((4, 5))
    if kind == "softmax":
        return Softmax(), rng.standard_normal((4, 5))
    if kind == "affine":
        return Affine(rng.standard_normal((5, 3)), rng.standard_normal(3)), rng.standard_normal(
            (4, 5)
        )
    if kind == "affine_nd":
        return Affine(rng.standard_normal((12, 3)), rng.standard_normal(3)), rng.standard_normal(
            (4, 1, 3, 4)
        )
    raise AssertionError(kind)


KINDS = ["relu", "sigmoid", "softmax", "affine", "affine_nd"]


@pytest.mark.parametrize("kind", KINDS)
def test_input_and_parameter_gradients_match_numerical(kind, rng):
    layer, x = make(kind, rng)
    weights = rng.standard_normal(layer.forward(x).shape)  # L = sum(y * weights)

    def loss(_=None):
        return float(np.sum(layer.forward(x) * weights))

    layer.forward(x)
    dx = layer.backward(weights)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name in layer.param_names:
        layer.forward(x)
        layer.backward(weights)
        analytic = getattr(layer, "d" + name).copy()
        np.testing.assert_allclose(
            analytic, numerical_gradient(loss, getattr(layer, name)), rtol=1e-6, atol=1e-8
        )


@pytest.mark.parametrize("labels", [True, False])
def test_softmax_with_loss_gradient_and_formula(labels, rng):
    x = rng.standard_normal((6, 4))
    t = np.array([0, 3, 1, 2, 2, 0])
    target = t if labels else np.eye(4)[t]
    layer = SoftmaxWithLoss()
    layer.forward(x, target)
    dx = layer.backward()
    np.testing.assert_allclose(dx, (layer.y - np.eye(4)[t]) / 6, rtol=1e-12)
    numeric = numerical_gradient(lambda _: layer.forward(x, target), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)
    layer.forward(x, target)
    np.testing.assert_allclose(layer.backward(2.0), 2 * dx)


def test_softmax_with_loss_labels_and_one_hot_agree_and_match_cee(rng):
    from scratchdl.functions import cross_entropy_error, softmax

    x = rng.standard_normal((5, 3)) * 3
    t = np.array([0, 1, 2, 1, 0])
    a = SoftmaxWithLoss().forward(x, t)
    b = SoftmaxWithLoss().forward(x, np.eye(3)[t])
    assert a == pytest.approx(b, rel=1e-12)
    picked = softmax(x)[np.arange(5), t]
    assert a == pytest.approx(-np.mean(np.log(picked)), rel=1e-12)
    # The book's CEE adds delta = 1e-7 inside the log: log(y + d) - log(y) <= d / y.
    assert abs(a - cross_entropy_error(softmax(x), t)) <= 1e-7 / picked.min()


def test_softmax_with_loss_is_finite_for_huge_scores():
    x = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    layer = SoftmaxWithLoss()
    assert layer.forward(x, np.array([1])) == pytest.approx(2e4, rel=1e-6)
    assert np.all(np.isfinite(layer.backward()))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_never_modify_inputs_and_keep_dtype(kind, dtype, rng):
    layer, x = make(kind, rng)
    for name in layer.param_names:
        setattr(layer, name, getattr(layer, name).astype(dtype))
    x = x.astype(dtype)
    x_before = x.copy()
    y = layer.forward(x)
    assert y.dtype == dtype
    dout = rng.standard_normal(y.shape).astype(dtype)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)
    for name in layer.param_names:
        assert getattr(layer, "d" + name).dtype == dtype


def test_relu_backward_does_not_zero_callers_gradient():
    # The book's ``dout[mask] = 0`` would write zeros into the caller's array.
    relu = Relu()
    relu.forward(np.array([[-1.0, 2.0]]))
    dout = np.array([[5.0, 7.0]])
    dx = relu.backward(dout)
    np.testing.assert_array_equal(dx, [[0.0, 7.0]])
    np.testing.assert_array_equal(dout, [[5.0, 7.0]])
    assert not np.shares_memory(dx, dout)


def test_softmax_with_loss_keeps_inputs_and_float32(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[[0, 1, 2]]
    xb, tb = x.copy(), t.copy()
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward()
    assert dx.dtype == np.float32 and layer.y.dtype == np.float32
    np.testing.assert_array_equal(x, xb)
    np.testing.assert_array_equal(t, tb)


@pytest.mark.parametrize("target_dtype", [np.int64, np.float64, np.uint8])
def test_softmax_with_loss_one_hot_of_any_dtype_keeps_float32_gradients(target_dtype, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = np.eye(4, dtype=target_dtype)[[0, 3, 2]]
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    assert dx.dtype == np.float32
    ref = SoftmaxWithLoss()
    assert loss == pytest.approx(ref.forward(x, np.array([0, 3, 2])), rel=1e-6)
    np.testing.assert_allclose(dx, ref.backward(), rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [Relu(), Sigmoid(), Softmax(), Affine(np.ones((2, 2)), np.zeros(2)), MulLayer(), AddLayer()],
)
def test_backward_before_forward_raises(layer):
    with pytest.raises(StateError, match="before forward"):
        layer.backward(np.ones((1, 2)))


def test_softmax_with_loss_backward_before_forward_raises():
    with pytest.raises(StateError):
        SoftmaxWithLoss().backward()


def test_affine_shape_errors_are_clear():
    with pytest.raises(ShapeError, match=r"\(D, M\)"):
        Affine(np.ones((2, 3)), np.ones(2))
    layer = Affine(np.ones((4, 3)), np.zeros(3))
    with pytest.raises(ShapeError, match="expects 4 input features"):
        layer.forward(np.ones((2, 5)))


def test_affine_restores_image_shape(rng):
    layer = Affine(rng.standard_normal((784, 10)), np.zeros(10))
    x = rng.standard_normal((2, 1, 28, 28))
    assert layer.forward(x).shape == (2, 10)
    assert layer.backward(np.ones((2, 10))).shape == (2, 1, 28, 28)


def test_apple_graph_numbers():
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(apple, apple_num), tax)
    assert price == pytest.approx(220)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (dapple, dapple_num, dtax) == (pytest.approx(2.2), pytest.approx(110), 200)


def test_apple_orange_graph_numbers():
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(100, 2)
    orange_price = mul_orange.forward(150, 3)
    price = mul_tax.forward(add.forward(apple_price, orange_price), 1.1)
    assert price == pytest.approx(715)
    dall, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dall)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert dapple_num == pytest.approx(110)
    assert dapple == pytest.approx(2.2)
    assert dorange == pytest.approx(3.3)
    assert dorange_num == pytest.approx(165)
    assert dtax == pytest.approx(650)


# -- bad inputs ------------------------------------------------------------------------------------


def _cee(y, t):
    from scratchdl.functions import cross_entropy_error

    return cross_entropy_error(y, t)


def _layer(name, *args):
    import scratchdl.layers

    return getattr(scratchdl.layers, name)(*args)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _cee(np.zeros((0, 3)), np.zeros(0, int)), ShapeError, "empty batch"),
        (lambda: _layer("SoftmaxWithLoss").forward(np.zeros((0, 3)), np.zeros(0, int)),
         ShapeError, "empty batch"),
        (lambda: _layer("Affine", np.ones((2, 2)), np.zeros(2)).forward(np.array([["a", "b"]])),
         InputTypeError, "real numbers"),
        (lambda: _layer("Relu").forward(np.array([1j])), InputTypeError, "complex"),
    ],
    ids=["cee-empty", "softmax-with-loss-empty", "affine-str", "relu-complex"],
)  # fmt: skip
def test_losses_and_layers_refuse_meaningless_input(call, error, fragment):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to our error
        with pytest.raises(error, match=fragment):
            call()
