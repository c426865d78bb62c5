"""MultiLayerNetExtend (ch. 6.3-6.4): the book's names and options, float64 gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.layers import BatchNormalization, Dropout
from scratchdl.nets import MultiLayerNet, MultiLayerNetExtend


class FixedUniform:
    """Stands in for a Dropout layer's generator: the same uniform numbers at every forward,
    so every forward pass of a gradient check drops the same units."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def random(self, shape, dtype=np.float64):
        return np.random.default_rng(self.seed).random(shape).astype(dtype)


def data(rng, n=6, d=7, c=4):
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def test_layer_and_parameter_names_are_the_books():
    net = MultiLayerNetExtend(784, [100, 50], 10, use_dropout=True, use_batchnorm=True, rng=0)
    assert list(net.layers) == [
        "Affine1",
        "BatchNorm1",
        "Activation_function1",
        "Dropout1",
        "Affine2",
        "BatchNorm2",
        "Activation_function2",
        "Dropout2",
        "Affine3",
    ]
    assert sorted(net.params) == sorted(
        ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"]
    )
    assert net.params["gamma2"] is net.layers["BatchNorm2"].gamma  # one owner per array
    np.testing.assert_array_equal(net.params["gamma1"], 1)
    np.testing.assert_array_equal(net.params["beta1"], 0)
    assert net.layers["Dropout1"].dropout_ratio == 0.5
    plain = MultiLayerNetExtend(784, [100, 50], 10, rng=0)
    assert list(plain.layers) == [
        "Affine1",
        "Activation_function1",
        "Affine2",
        "Activation_function2",
        "Affine3",
    ]
    assert sorted(plain.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]


def test_book_defaults_he_init_and_positional_order():
    # The book's positional order: activation, weight_init_std, weight_decay_lambda,
    # use_dropout, dropout_ration, use_batchnorm.
    net = MultiLayerNetExtend(400, [200], 10, "relu", "relu", 0.1, True, 0.2, True, rng=0)
    assert (net.weight_decay_lambda, net.dropout_ration) == (0.1, 0.2)
    assert net.use_dropout and net.use_batchnorm
    assert net.layers["Dropout1"].dropout_ratio == 0.2
    default = MultiLayerNetExtend(400, [200], 10, rng=0)
    assert default.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    xavier = MultiLayerNetExtend(400, [200], 10, "sigmoid", "xavier", rng=0)
    assert xavier.params["W1"].std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    # Without dropout or batchnorm it is MultiLayerNet, draw for draw.
    same = MultiLayerNet(400, [200], 10, rng=0)
    np.testing.assert_array_equal(default.params["W2"], same.params["W2"])


@pytest.mark.parametrize(
    ("use_batchnorm", "use_dropout", "weight_decay_lambda", "activation"),
    [
        (True, False, 0.0, "relu"),
        (False, True, 0.0, "relu"),
        (True, True, 0.1, "relu"),
        (True, True, 0.0, "sigmoid"),
    ],
)
def test_gradient_matches_numerical_gradient_in_float64(
    use_batchnorm, use_dropout, weight_decay_lambda, activation
):
    rng = np.random.default_rng(3)
    net = MultiLayerNetExtend(
        7,
        [6, 5],
        4,
        activation=activation,
        weight_init_std="he",
        weight_decay_lambda=weight_decay_lambda,
        use_dropout=use_dropout,
        dropout_ration=0.3,
        use_batchnorm=use_batchnorm,
        dtype=np.float64,
        rng=1,
    )
    for i, layer in enumerate(net.layers.values()):
        if isinstance(layer, Dropout):
            layer.rng = FixedUniform(i)
    if use_batchnorm:  # gamma and beta away from 1 and 0, so their gradients matter
        for key in net.params:
            if key.startswith(("gamma", "beta")):
                net.params[key] += rng.uniform(-0.5, 0.5, net.params[key].shape)
    x, t = data(rng)
    grads = net.gradient(x, t)
    # h = 1e-5: batch statistics of 6 samples make the loss strongly curved in W1, and the
    # central difference's O(h²) error at the default 1e-4 is about 2e-6 here.
    numeric = net.numerical_gradient(x, t, h=1e-5)
    assert set(grads) == set(numeric) == set(net.params)
    for key in grads:
        scale = max(float(np.abs(numeric[key]).max()), 1e-3)
        err = float(np.abs(grads[key] - numeric[key]).max()) / scale
        assert err < 1e-6, (key, err)
    if use_dropout:  # some units were really dropped
        masks = [lay.mask for lay in net.layers.values() if isinstance(lay, Dropout)]
        assert all(0 < m.mean() < 1 for m in masks)


def test_train_mode_only_in_gradient():
    rng = np.random.default_rng(0)
    net = MultiLayerNetExtend(7, [6], 4, use_dropout=True, use_batchnorm=True, rng=0)
    x, t = data(rng)
    x = x.astype(np.float32)
    before = net.predict(x)
    np.testing.assert_array_equal(net.predict(x), before)  # test mode: deterministic
    bn = net.layers["BatchNorm1"]
    running = bn.running_mean.copy()
    net.gradient(x, t)
    assert not np.array_equal(bn.running_mean, running)  # training mode updated the averages
    assert net.last_loss is not None and np.isfinite(net.last_loss)
    # Test-time Dropout scales by 1 - ratio, as the book.
    drop = net.layers["Dropout1"]
    h = np.ones((2, 6), np.float32)
    np.testing.assert_allclose(drop.forward(h, train_flg=False), 0.5)


def test_weight_decay_adds_lambda_w_to_the_weight_gradients():
    rng = np.random.default_rng(0)
    x, t = data(rng)
    plain = MultiLayerNetExtend(7, [6], 4, dtype=np.float64, rng=5)
    decayed = MultiLayerNetExtend(7, [6], 4, weight_decay_lambda=0.5, dtype=np.float64, rng=5)
    g0, g1 = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g1["W1"], g0["W1"] + 0.5 * decayed.params["W1"])
    np.testing.assert_array_equal(g1["b1"], g0["b1"])
    penalty = 0.25 * sum(np.sum(decayed.params[k] ** 2) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty)


def test_learns_a_small_problem_with_batchnorm_and_dropout():
    from scratchdl.optimizers import Adam

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 10)).astype(np.float32)
    t = (x[:, 0] + x[:, 1] > 0).astype(int)
    net = MultiLayerNetExtend(
        10, [32, 32], 2, use_batchnorm=True, use_dropout=True, dropout_ration=0.1, rng=0
    )
    opt = Adam(lr=0.01)
    start = net.accuracy(x, t)
    for _ in range(150):
        batch = rng.choice(200, 50)
        opt.update(net.params, net.gradient(x[batch], t[batch]))
    assert net.accuracy(x, t) > max(start, 0.9)
    assert all(isinstance(net.layers[f"BatchNorm{i}"], BatchNormalization) for i in (1, 2))


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="activation"):
        MultiLayerNetExtend(4, [3], 2, activation="tanh")
    with pytest.raises(ConfigError, match="layer sizes"):
        MultiLayerNetExtend(4, [0], 2)
    with pytest.raises(ConfigError, match=r"dropout_ration must be in \[0, 1\), got 1.5"):
        MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=1.5)


def test_model_file_round_trip_keeps_batchnorm_statistics(tmp_path):
    from scratchdl.io import load_model, save_model

    rng = np.random.default_rng(0)
    net = MultiLayerNetExtend(
        7, [6, 5], 4, use_batchnorm=True, use_dropout=True, dropout_ration=0.2, rng=0
    )
    x, t = data(rng)
    x = x.astype(np.float32)
    for _ in range(3):
        net.gradient(x, t)  # moves the running mean and variance
    path = save_model(net, tmp_path / "extend.npz")
    back = load_model(path)
    assert type(back) is MultiLayerNetExtend and back.config() == net.config()
    assert list(back.layers) == list(net.layers)
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
    np.testing.assert_array_equal(
        back.layers["BatchNorm2"].running_var, net.layers["BatchNorm2"].running_var
    )


def test_state_dict_copies_the_whole_network_and_loads_into_a_twin():
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    t = np.arange(8) % 3

    def make(seed):
        return MultiLayerNetExtend(6, [5], 3, use_dropout=True, use_batchnorm=True, rng=seed)

    net = make(0)
    net.gradient(x, t)  # moves the running statistics and draws masks
    state = net.state_dict()
    assert set(state["layers"]) == {"BatchNorm1/running_mean", "BatchNorm1/running_var"}
    assert set(state["rngs"]) == {"Dropout1"}
    state["params"]["W1"] += 1  # copies: the network is not changed through them
    state["layers"]["BatchNorm1/running_mean"] += 1
    assert not np.array_equal(net.params["W1"], state["params"]["W1"])

    net, twin = make(0), make(1)
    net.gradient(x, t)
    W1 = twin.params["W1"]
    twin.load_state_dict(net.state_dict())
    assert twin.params["W1"] is W1  # in place: the layer keeps its array
    np.testing.assert_array_equal(twin.predict(x), net.predict(x))
    # the same generators: the next training step draws the same masks
    np.testing.assert_array_equal(twin.gradient(x, t)["W1"], net.gradient(x, t)["W1"])


def test_load_state_dict_refuses_a_state_that_does_not_fit_and_changes_nothing():
    net = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, rng=0)
    before = net.state_dict()
    state = net.state_dict()
    state["params"]["W1"] = np.zeros((6, 4))
    state["params"]["W2"] += 1
    with pytest.raises(ShapeError, match=r"params/W1 must have shape \(6, 5\)"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.params["W2"], before["params"]["W2"])
    del state["layers"]["BatchNorm1/running_var"]
    with pytest.raises(ShapeError, match="lacks layers/BatchNorm1/running_var"):
        net.load_state_dict(state)
    plain = MultiLayerNet(6, [5], 3, rng=0)
    with pytest.raises(ShapeError, match="has layers/BatchNorm1/running_mean"):
        plain.load_state_dict(before)


def test_load_state_dict_builds_only_numpys_generators_and_changes_nothing_on_a_bad_one():
    net = MultiLayerNetExtend(6, [5], 3, use_dropout=True, rng=0)
    before = net.state_dict()
    mask_rng = net.layers["Dropout1"].rng
    global_state = np.random.get_state()  # noqa: NPY002 - a named np.random.seed must not run
    for bad in ({"bit_generator": "seed", "state": {}}, {"bit_generator": "PCG64"}, "PCG64"):
        state = net.state_dict()
        state["params"]["W1"] += 1
        state["rngs"]["Dropout1"] = bad
        with pytest.raises(ShapeError, match="generator of Dropout1"):
            net.load_state_dict(state)
        np.testing.assert_array_equal(net.params["W1"], before["params"]["W1"])
        assert net.layers["Dropout1"].rng is mask_rng
    after = np.random.get_state()  # noqa: NPY002
    assert all(np.array_equal(a, b) for a, b in zip(global_state[1:], after[1:], strict=True))
