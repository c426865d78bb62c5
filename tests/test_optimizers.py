"""Optimizers: book defaults, hand-computed first steps, descent on a quadratic, state."""

import math

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ModelFileError
from scratchdl.optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    Momentum,
    Nesterov,
    RMSprop,
    get_optimizer,
)

G = np.array([0.5, -2.0, 0.0, 1e-3], dtype=np.float32)
W0 = np.array([1.0, 2.0, -3.0, 0.25], dtype=np.float32)


def _first_step(opt):
    params = {"W": W0.copy()}
    opt.update(params, {"W": G.copy()})
    return params["W"]


def test_book_defaults():
    assert SGD().lr == 0.01
    assert (Momentum().lr, Momentum().momentum) == (0.01, 0.9)
    assert (Nesterov().lr, Nesterov().momentum) == (0.01, 0.9)
    assert AdaGrad().lr == 0.01
    assert (RMSprop().lr, RMSprop().decay_rate) == (0.01, 0.99)
    assert (Adam().lr, Adam().beta1, Adam().beta2) == (0.001, 0.9, 0.999)


@pytest.mark.parametrize(
    ("opt", "expected"),
    [
        (SGD(lr=0.1), W0 - 0.1 * G),
        # v = -lr g; W += v
        (Momentum(lr=0.1, momentum=0.9), W0 - 0.1 * G),
        # v = -lr g; W += m^2 v - (1 + m) lr g = W - lr g (m^2 + 1 + m)
        (Nesterov(lr=0.1, momentum=0.9), W0 - 0.1 * G * (0.81 + 1.9)),
        # h = g^2; W -= lr g / (|g| + 1e-7)
        (AdaGrad(lr=0.1), W0 - 0.1 * G / (np.abs(G) + 1e-7)),
        # h = 0.01 g^2; W -= lr g / (0.1 |g| + 1e-7)
        (RMSprop(lr=0.1, decay_rate=0.99), W0 - 0.1 * G / (0.1 * np.abs(G) + 1e-7)),
        # m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1
        (
            Adam(lr=0.1),
            W0 - 0.1 * math.sqrt(0.001) / 0.1 * (0.1 * G) / (np.sqrt(0.001) * np.abs(G) + 1e-7),
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else "",
)
def test_first_step_matches_hand_computation(opt, expected):
    w = _first_step(opt)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, expected.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_adam_first_step_is_about_lr_times_sign():
    w = _first_step(Adam(lr=0.01))
    moved = W0 - w
    np.testing.assert_allclose(moved[[0, 1]], 0.01 * np.sign(G[[0, 1]]), rtol=1e-4)
    assert moved[2] == 0.0  # zero gradient, no step


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_decreases_a_quadratic(name):
    # f(x, y) = x^2 / 20 + y^2 (the book's ill-conditioned bowl), minimum at 0
    def f(p):
        return float(p[0] ** 2 / 20 + p[1] ** 2)

    lr = {
        "sgd": 0.1,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "rmsprop": 0.05,
        "adam": 0.1,
    }[name]
    opt = get_optimizer(name, lr=lr)
    params = {"xy": np.array([-7.0, 2.0], dtype=np.float32)}
    start = f(params["xy"])
    for _ in range(200):
        x, y = params["xy"]
        opt.update(params, {"xy": np.array([x / 10, 2 * y], dtype=np.float32)})
    assert params["xy"].dtype == np.float32
    assert f(params["xy"]) < 0.05 * start


def test_update_is_in_place_and_leaves_grads_alone():
    params = {"W": W0.copy()}
    w_before = params["W"]
    g = G.copy()
    Adam().update(params, {"W": g})
    assert params["W"] is w_before
    np.testing.assert_array_equal(g, G)


def test_state_is_kept_per_key_and_round_trips():
    opt = Momentum(lr=0.1)
    params = {"a": np.ones(3, np.float32), "b": np.ones(2, np.float32)}
    opt.update(params, {"a": np.ones(3, np.float32), "b": np.full(2, 2, np.float32)})
    assert set(opt.state) == {"a", "b"}
    np.testing.assert_allclose(opt.state["b"]["v"], -0.2)
    saved = opt.state_dict()
    twin = Momentum(lr=0.1)
    twin.load_state_dict(saved)
    p1 = {k: v.copy() for k, v in params.items()}
    p2 = {k: v.copy() for k, v in params.items()}
    grads = {"a": np.full(3, 0.5, np.float32), "b": np.full(2, -1, np.float32)}
    opt.update(p1, grads)
    twin.update(p2, grads)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])
    # the saved state is a copy: later updates did not change it
    np.testing.assert_allclose(saved["state"]["b"]["v"], -0.2)


def test_adam_counts_steps_across_state_dict():
    opt = Adam()
    params = {"W": W0.copy()}
    for _ in range(3):
        opt.update(params, {"W": G})
    twin = Adam()
    twin.load_state_dict(opt.state_dict())
    assert twin.iterations == 3


def test_load_state_dict_refuses_another_optimizer_or_settings():
    with pytest.raises(ModelFileError, match="adam"):
        SGD().load_state_dict(Adam().state_dict())
    with pytest.raises(ModelFileError, match="hyperparameters"):
        SGD(lr=0.1).load_state_dict(SGD(lr=0.2).state_dict())


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: SGD(lr=0), "lr > 0"),
        (lambda: SGD(lr=-1), "lr > 0"),
        (lambda: SGD(lr=float("nan")), "lr > 0"),
        (lambda: Momentum(momentum=1.0), "momentum"),
        (lambda: Adam(beta2=-0.1), "beta2"),
        (lambda: get_optimizer("lbfgs"), "unknown optimizer 'lbfgs'"),
        (lambda: get_optimizer("sgd", momentum=0.9), "SGD takes the hyperparameters lr"),
    ],
)
def test_bad_settings_are_config_errors(factory, match):
    with pytest.raises(ConfigError, match=match):
        factory()


def test_get_optimizer_is_case_insensitive():
    opt = get_optimizer("Adam", lr=0.01)
    assert isinstance(opt, Adam) and opt.lr == 0.01


def test_shape_mismatch_is_reported():
    with pytest.raises(ConfigError, match="shape"):
        SGD().update({"W": np.zeros(3, np.float32)}, {"W": np.zeros(4, np.float32)})


def test_works_on_a_network_params_view():
    from scratchdl.nets import TwoLayerNet

    net = TwoLayerNet(4, 3, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    t = np.array([0, 1, 1, 0, 1])
    before = net.loss(x, t)
    opt = Adam(lr=0.05)
    w1 = net.params["W1"]
    for _ in range(50):
        opt.update(net.params, net.gradient(x, t))
    assert net.params["W1"] is w1 and w1.dtype == np.float32
    assert net.loss(x, t) < before
