"""Networks: gradient checks, one owner per parameter, dtypes, accuracy, errors."""

import numpy as np
import pytest

from scratchdl.errors import (
    ConfigError,
    InputTypeError,
    ScratchdlError,
    ShapeError,
)
from scratchdl.gradient import gradient_check
from scratchdl.layers import Affine, Layer, Relu, SoftmaxWithLoss
from scratchdl.nets import MultiLayerNet, SimpleNet, TwoLayerNet, evaluate, init_std


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def relu_margin(net, x):
    """Smallest |pre-activation| of any hidden unit: central differences need it > h."""
    margins, h = [], np.asarray(x)
    for layer in list(net.layers.values())[:-1]:
        h = layer.forward(h)
        if type(layer).__name__ == "Affine":
            margins.append(float(np.abs(h).min()))
    return min(margins)


BOOK_W = [[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]]


def test_simple_net_reproduces_the_notes():
    net = SimpleNet(BOOK_W, dtype=np.float64)
    x, t = np.array([0.6, 0.9]), np.array([0, 0, 1])
    np.testing.assert_allclose(net.predict(x), [1.05414809, 0.63071653, 1.1328074], rtol=1e-7)
    assert np.argmax(net.predict(x)) == 2
    assert net.loss(x, t) == pytest.approx(0.92806853663411326, rel=1e-6)
    dW = net.numerical_gradient(x, t)["W"]
    np.testing.assert_allclose(
        dW, [[0.21924763, 0.14356247, -0.36281009], [0.32887144, 0.2153437, -0.54421514]], atol=1e-6
    )
    np.testing.assert_allclose(net.gradient(x, t)["W"], dW, atol=1e-6)
    assert net.gradient(x, 2)["W"] == pytest.approx(net.gradient(x, t)["W"])


@pytest.mark.slow  # 2 x 39,760 forward passes (3 s); CI runs it
def test_two_layer_net_784_50_10_backprop_matches_numerical(mnist_size_gradients):
    """The book's ch. 5.6.3 check at full size (computed once per session, see conftest)."""
    g = mnist_size_gradients
    assert relu_margin(g.net.astype(np.float64), g.x) > 1e-3  # no ReLU input near its kink
    assert list(g.num) == list(g.bp) == ["W1", "b1", "W2", "b2"]
    for key in g.num:
        assert float(np.mean(np.abs(g.num[key] - g.bp[key]))) < 1e-6, key


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("init", [0.3, "he", "xavier"])
@pytest.mark.parametrize("labels", [True, False])
def test_multilayer_net_gradients_match_numerical(activation, init, labels):
    net = MultiLayerNet(
        8,
        [6, 5, 4],
        3,
        activation=activation,
        weight_init_std=init,
        weight_decay_lambda=0.05,
        dtype=np.float64,
        rng=1,
    )
    rng = np.random.default_rng(5)
    for key in ("b1", "b2", "b3"):  # zero biases put dead units' successors exactly on the kink
        net.params[key] = rng.choice([-1.0, 1.0], net.params[key].shape) * rng.uniform(
            0.2, 0.5, net.params[key].shape
        )
    x = rng.standard_normal((5, 8))
    if activation == "relu":
        assert relu_margin(net, x) > 5e-4  # several times h = 1e-4 from the kink
    t = np.array([0, 2, 1, 1, 0])
    target = t if labels else np.eye(3)[t]
    num = net.numerical_gradient(x, target)
    bp = net.gradient(x, target)
    assert list(num) == list(bp) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    for key in num:
        np.testing.assert_allclose(bp[key], num[key], rtol=1e-5, atol=1e-8, err_msg=key)


def test_image_shaped_input_works(rng):
    net = TwoLayerNet(784, 3, 10, rng=0, dtype=np.float64)
    x = rng.random((4, 1, 28, 28))
    t = np.array([1, 2, 3, 4])
    np.testing.assert_allclose(net.predict(x), net.predict(x.reshape(4, 784)))
    assert max(gradient_check(net, x.reshape(4, 784), t).values()) < 1e-7


def test_float32_in_float32_out_and_float64_option(rng):
    net = TwoLayerNet(6, 4, 3, rng=0)
    x = rng.random((2, 6)).astype(np.float32)
    assert net.predict(x).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.gradient(x, np.array([0, 1])).values())
    assert net.predict(np.zeros((1, 6), dtype=np.uint8)).dtype == np.float32
    net64 = TwoLayerNet(6, 4, 3, rng=0, dtype=np.float64)
    assert net64.predict(x.astype(np.float64)).dtype == np.float64
    # One seed gives the same initial weights in either dtype.
    np.testing.assert_allclose(net64.params["W1"], net.params["W1"], rtol=1e-6)
    with pytest.raises(ConfigError, match="float32 or float64"):
        TwoLayerNet(6, 4, 3, dtype=np.int32)


def test_params_view_has_one_owner(rng):
    net = TwoLayerNet(4, 3, 2, rng=0)
    x = rng.random((2, 4)).astype(np.float32)
    # In-place update is seen by predict.
    before = net.predict(x).copy()
    net.params["b2"] += 1.0
    np.testing.assert_allclose(net.predict(x), before + 1.0, rtol=1e-6)
    # Rebinding takes effect (the book's trap: it would silently keep using the old array).
    net.params["W1"] = np.zeros((4, 3))
    assert net.params["W1"].dtype == np.float32
    np.testing.assert_allclose(net.predict(x), np.broadcast_to(net.params["b2"], (2, 2)) + 0.0)
    assert net.params["W1"] is net.layers["Affine1"].W
    # The assigned array is copied: mutating the caller's array later changes nothing.
    mine = np.ones((4, 3), dtype=np.float32)
    net.params["W1"] = mine
    mine[:] = 5
    assert float(net.params["W1"].max()) == 1.0
    with pytest.raises(ShapeError, match=r"keep shape \(4, 3\)"):
        net.params["W1"] = np.zeros((3, 4))
    with pytest.raises(KeyError, match="not a parameter"):
        net.params["W9"] = np.zeros(1)
    with pytest.raises(TypeError):
        del net.params["W1"]
    assert list(net.params) == ["W1", "b1", "W2", "b2"] and len(net.params) == 4


def test_gradient_returns_fresh_dict_keyed_like_params(rng):
    net = TwoLayerNet(4, 3, 2, rng=0)
    g = net.gradient(rng.random((2, 4)), np.array([0, 1]))
    assert set(g) == set(net.params)
    for key in g:
        assert g[key].shape == net.params[key].shape


def test_accuracy_labels_one_hot_and_chunks(rng):
    net = TwoLayerNet(5, 4, 3, rng=3)
    x = rng.random((50, 5)).astype(np.float32)
    pred = np.argmax(net.predict(x), axis=1)
    t = pred.copy()
    t[:10] = (t[:10] + 1) % 3
    assert net.accuracy(x, t) == pytest.approx(0.8)
    assert net.accuracy(x, np.eye(3)[t]) == pytest.approx(0.8)
    assert evaluate(net, x, t, batch_size=7)[0] == pytest.approx(0.8)
    with pytest.raises(ShapeError, match=r"\[0, 3\)"):
        net.accuracy(x, t + 5)


def test_seeded_init_is_reproducible_and_init_rules():
    a = MultiLayerNet(10, [5], 2, rng=4)
    b = MultiLayerNet(10, [5], 2, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert init_std("he", 50) == pytest.approx(np.sqrt(2 / 50))
    assert init_std("xavier", 50) == pytest.approx(np.sqrt(1 / 50))
    assert init_std(0.01, 50) == 0.01
    big = MultiLayerNet(1000, [1000], 2, weight_init_std="he", rng=0)
    assert float(big.params["W1"].std()) == pytest.approx(np.sqrt(2 / 1000), rel=0.02)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_size_list": [0]}, "positive integers"),
        ({"activation": "tanh"}, "unknown activation"),
        ({"weight_init_std": "lecun"}, "unknown weight_init_std"),
        ({"weight_init_std": -1.0}, "positive"),
        ({"weight_decay_lambda": -0.1}, ">= 0"),
    ],
)
def test_bad_configs_raise_config_error(kwargs, match):
    args = {"input_size": 4, "hidden_size_list": [3], "output_size": 2, **kwargs}
    with pytest.raises(ConfigError, match=match):
        MultiLayerNet(**args)


def test_astype_copies_and_never_touches_original():
    net = TwoLayerNet(4, 3, 2, rng=0)
    net64 = net.astype(np.float64)
    assert net64.params["W1"].dtype == np.float64 and net.params["W1"].dtype == np.float32
    net64.params["W1"] += 1
    assert not np.allclose(net64.params["W1"], net.params["W1"])


def test_weight_decay_adds_to_loss(rng):
    x, t = rng.random((3, 4)), np.array([0, 1, 0])
    plain = MultiLayerNet(4, [3], 2, rng=0, dtype=np.float64)
    decayed = MultiLayerNet(4, [3], 2, weight_decay_lambda=0.5, rng=0, dtype=np.float64)
    penalty = 0.25 * sum(float(np.sum(plain.params[k] ** 2)) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty)


def test_numerical_gradient_of_float32_net_runs_in_float64():
    """The ch. 5.6.3 check on a float32 net agrees to far below 1e-6 (the differences are taken
    in float64), and leaves the network exactly as it was."""
    net = TwoLayerNet(40, 8, 5, rng=0)
    x = np.random.default_rng(1).random((3, 40)).astype(np.float32)
    t = np.array([3, 1, 4])
    before = {key: value.tobytes() for key, value in net.params.items()}
    arrays = [net.params[key] for key in net.params]
    num, bp = net.numerical_gradient(x, t), net.gradient(x, t)
    for key in num:
        assert num[key].dtype == np.float32 and bp[key].dtype == np.float32
        assert num[key].shape == net.params[key].shape
        assert float(np.mean(np.abs(num[key] - bp[key]))) < 1e-6, key
    assert net.dtype == np.float32
    for key, array in zip(net.params, arrays, strict=True):
        assert net.params[key] is array  # same arrays, same bits
        assert net.params[key].dtype == np.float32
        assert net.params[key].tobytes() == before[key]


def test_simple_net_numerical_gradient_keeps_its_dtype():
    net = SimpleNet(BOOK_W)
    W = net.params["W"].copy()
    dW = net.numerical_gradient(np.array([0.6, 0.9]), np.array([0, 0, 1]))["W"]
    assert dW.dtype == np.float32 and net.params["W"].tobytes() == W.tobytes()
    np.testing.assert_allclose(dW, net.gradient(np.array([0.6, 0.9]), 2)["W"], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_one_sample_gives_one_row_of_scores(dtype, rng):
    """The book's chapter 3 loop: ``for i in range(len(x)): y = network.predict(x[i])``."""
    net = TwoLayerNet(784, 20, 10, rng=0, dtype=dtype)
    x = rng.random((5, 784)).astype(dtype)
    batch = net.predict(x)
    for i in range(len(x)):
        y = net.predict(x[i])
        assert y.shape == (10,) and y.dtype == dtype
        np.testing.assert_allclose(y, batch[i], rtol=1e-5, atol=1e-6)  # float32 BLAS rounding
        assert np.argmax(y) == np.argmax(batch[i])
    assert net.predict(list(x[0])).shape == (10,)
    # A single sample counts as a batch of one for the loss, the gradient and the accuracy.
    assert net.loss(x[0], 3) == pytest.approx(net.loss(x[:1], np.array([3])), rel=1e-6)
    assert net.loss(x[0], np.eye(10)[3]) == pytest.approx(net.loss(x[0], 3), rel=1e-6)
    g1, g = net.gradient(x[0], 3), net.gradient(x[:1], np.array([3]))
    for key in g:
        np.testing.assert_allclose(g1[key], g[key], rtol=1e-5, atol=1e-7)
    assert net.accuracy(x[0], int(np.argmax(batch[0]))) == 1.0


def test_predict_wrong_shapes_raise_clear_shape_errors(rng):
    net = TwoLayerNet(784, 20, 10, rng=0)
    with pytest.raises(
        ShapeError, match=r"one sample of shape \(784,\) .* got a 1-D input of length 783"
    ):
        net.predict(np.zeros(783))
    with pytest.raises(ShapeError, match="got a scalar"):
        net.predict(1.0)
    with pytest.raises(ShapeError, match=r"784 input features per sample, got input of shape"):
        net.predict(np.zeros((2, 783)))
    with pytest.raises(ShapeError, match="length 0"):
        net.predict(np.zeros(0))
    with pytest.raises(ShapeError, match="length 5"):
        net.loss(np.zeros(5), 1)


# -- the book's surface and the Net contract -------------------------------------------------
def test_two_layer_net_has_the_books_named_layers_and_one_owner(rng):
    net = TwoLayerNet(784, 50, 10, rng=0)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.layers["Affine1"], Affine) and isinstance(net.layers["Relu1"], Relu)
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.layers["Affine2"].b is net.params["b2"]
    assert isinstance(net.lastLayer, SoftmaxWithLoss) and net.last_layer is net.lastLayer
    # The book's update loop changes the arrays the layers compute with.
    x, t = rng.random((4, 784)).astype(np.float32), np.array([1, 2, 3, 4])
    grad = net.gradient(x, t)
    W1 = net.params["W1"]
    for key in ("W1", "b1", "W2", "b2"):
        net.params[key] -= 0.1 * grad[key]
    assert net.params["W1"] is W1 is net.layers["Affine1"].W
    assert net.loss(x, t) < net.last_loss
    sigmoid = TwoLayerNet(4, 3, 2, activation="sigmoid", rng=0)
    assert list(sigmoid.layers) == ["Affine1", "Sigmoid1", "Affine2"]


def test_multi_layer_net_names_its_layers_as_the_book():
    net = MultiLayerNet(input_size=784, hidden_size_list=[100] * 3, output_size=10)
    assert list(net.layers) == [
        "Affine1",
        "Activation_function1",
        "Affine2",
        "Activation_function2",
        "Affine3",
        "Activation_function3",
        "Affine4",
    ]
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    assert net.layers["Affine3"].W is net.params["W3"]
    # The book's default is He initialisation: std sqrt(2 / 784) for W1, not 0.01.
    assert float(net.params["W1"].std()) == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert net.last_layer is net.lastLayer


def test_gradient_keeps_the_loss_of_its_forward_pass(rng):
    net = MultiLayerNet(6, [5], 3, weight_decay_lambda=0.1, rng=0, dtype=np.float64)
    x, t = rng.random((4, 6)), np.array([0, 1, 2, 0])
    assert net.last_loss is None
    net.gradient(x, t)
    assert net.last_loss == net.loss(x, t)  # weight decay included
    simple = SimpleNet(rng=0, dtype=np.float64)
    simple.gradient(x[:, :2], t)
    assert simple.last_loss == pytest.approx(simple.loss(x[:, :2], t))


def test_first_layer_skips_the_unused_input_gradient(rng):
    net = TwoLayerNet(5, 4, 3, rng=0, dtype=np.float64)
    assert net.layers["Affine1"].need_dx is False and net.layers["Affine2"].need_dx is True
    x, t = rng.random((2, 5)), np.array([0, 2])
    net.gradient(x, t)
    assert net.layers["Affine1"].backward(np.ones((2, 4))) is None
    net.layers["Affine1"].need_dx = True  # who wants dx (a saliency map) switches it back on
    assert net.layers["Affine1"].backward(np.ones((2, 4))).shape == (2, 5)


class _FlagSpy(Layer):
    """A layer that behaves differently in training, like Dropout (ch. 6.4.3)."""

    train_flg_aware = True

    def __init__(self):
        self.seen = []

    def forward(self, x, train_flg=True):
        self.seen.append(train_flg)
        return x

    def backward(self, dout):
        return dout


def test_train_flg_reaches_the_layers_that_take_it(rng):
    net = MultiLayerNet(5, [4], 3, rng=0)  # LayerNet's loops (TwoLayerNet has no such layers)
    spy = _FlagSpy()
    net.layers["Spy1"] = spy
    net.layers.move_to_end("Spy1", last=False)
    x, t = rng.random((2, 5)).astype(np.float32), np.array([0, 2])
    net.predict(x)
    net.accuracy(x, t)
    net.loss(x, t)
    net.gradient(x, t)
    net.loss(x, t, train_flg=True)
    assert spy.seen == [False, False, False, True, True]


def test_simple_net_meets_the_contract(rng):
    from scratchdl.optimizers import SGD
    from scratchdl.train import Trainer

    x = rng.standard_normal((200, 2)).astype(np.float32)
    t = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)
    net = SimpleNet(rng=0)
    diff = gradient_check(net, x[:5], t[:5])
    assert set(diff) == {"W"} and diff["W"] < 1e-7
    history = Trainer(net, x, t, x, t, optimizer=SGD(0.5), batch_size=20, epochs=5, rng=0).fit()
    assert history.stop_reason == "completed" and len(history.loss) == 50
    assert history.loss[-1] < history.loss[0]
    assert history.last.train_acc > 0.8 and history.last.train_acc == net.accuracy(x, t)


def test_parameter_numbers_come_from_layer_names_or_an_explicit_map(rng):
    """The book's SimpleConvNet (ch. 7.5) names Conv1 and Affine1 but owns W1 and W2."""
    from collections import OrderedDict

    from scratchdl.nets import LayerNet

    class Two(LayerNet):
        def __init__(self, numbers=None):
            self.dtype, self.input_size, self.output_size = np.dtype(np.float64), 4, 2
            self.layers = OrderedDict()
            self.layers["First1"] = Affine(rng.standard_normal((4, 3)), np.zeros(3))
            self.layers["Relu1"] = Relu()
            self.layers["Affine1"] = Affine(rng.standard_normal((3, 2)), np.zeros(2))
            self.lastLayer = SoftmaxWithLoss()
            self._bind_layers(numbers)

    with pytest.raises(ConfigError, match="both claim 'W1'"):
        Two()
    net = Two({"Affine1": 2})
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.params["W2"] is net.layers["Affine1"].W
    x, t = rng.random((3, 4)), np.array([0, 1, 1])
    assert max(gradient_check(net, x, t).values()) < 1e-7


# -- bad inputs ------------------------------------------------------------------------------------


def _net():
    from scratchdl.nets import TwoLayerNet

    return TwoLayerNet(4, 3, 2, rng=0)


def _gradient_check(*args, **kw):
    from scratchdl.gradient import gradient_check

    return gradient_check(*args, **kw)


def _set_param(value):
    net = _net()
    net.params["W1"] = value


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _net().predict(np.array([["a"] * 4])), InputTypeError, "real numbers"),
        (lambda: _net().predict(np.ones((1, 4)) * 1j), InputTypeError, "complex"),
        (lambda: _net().loss(np.array([["a"] * 4]), [0]), InputTypeError, "real numbers"),
        (
            lambda: _gradient_check(object(), np.ones((1, 4)), [0]),
            InputTypeError,
            "needs a scratchdl network",
        ),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=0), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=np.nan), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), np.ones((1, 4)), [0], h=-1e-4), ConfigError, "h must be"),
        (lambda: _gradient_check(_net(), [["x"] * 4], [0]), InputTypeError, "real numbers"),
        (lambda: _set_param(np.ones((4, 3)) * 1j), InputTypeError, "complex"),
        (lambda: _set_param(np.full((4, 3), "w")), InputTypeError, "real numbers"),
    ],
    ids=[
        "predict-str",
        "predict-complex",
        "loss-str",
        "gradcheck-object",
        "h-zero",
        "h-nan",
        "h-negative",
        "gradcheck-str",
        "param-complex",
        "param-str",
    ],
)
def test_networks_and_gradient_check_refuse_bad_input(call, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        call()
    assert isinstance(info.value, ScratchdlError)


@pytest.mark.parametrize("decay", [float("nan"), float("inf"), -0.1, "0.1", None, True])
def test_weight_decay_must_be_a_finite_number(decay):
    from scratchdl.nets import MultiLayerNet, TwoLayerNet

    for make in (
        lambda: TwoLayerNet(4, 3, 2, weight_decay_lambda=decay),
        lambda: MultiLayerNet(4, [3], 2, weight_decay_lambda=decay),
    ):
        with pytest.raises(ConfigError, match="weight_decay_lambda must be a finite number"):
            make()


def test_simple_net_refuses_complex_weights():
    from scratchdl.nets import SimpleNet

    with pytest.raises(InputTypeError, match="complex"):
        SimpleNet(W=np.ones((2, 3)) * 1j)
