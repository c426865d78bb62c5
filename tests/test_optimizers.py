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
        # W += m^2 v_old - (1 + m) lr g with v_old = 0, then v = -lr g
        (Nesterov(lr=0.1, momentum=0.9), W0 - 0.1 * G * 1.9),
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
        (lambda: SGD(lr=0), "lr must be a positive number"),
        (lambda: SGD(lr=-1), "lr must be a positive number"),
        (lambda: SGD(lr=float("nan")), "lr must be a positive number"),
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


# -- the book's ch. 6.1 toy problem: f(x, y) = x^2 / 20 + y^2 from (-7, 2), plain floats --------


def _df(x, y):
    return x / 10.0, 2.0 * y


def _toy_path(opt, steps):
    """The loop of the book's optimizer_compare_naive.py: a dict of Python floats."""
    params = {"x": -7.0, "y": 2.0}
    grads = {"x": 0, "y": 0}
    for _ in range(steps):
        grads["x"], grads["y"] = _df(params["x"], params["y"])
        opt.update(params, grads)
    return params


@pytest.mark.parametrize(
    ("opt", "x", "y"),
    [
        # optimizer_compare_naive.py's four settings, 30 steps each; the values are the book's
        # update rules evaluated in float64 by hand-written loops (Adam checked below)
        (SGD(lr=0.95), -0.3503929957523197, 0.0847823165504322),
        (Momentum(lr=0.1), 0.896413858493733, 0.08808560171506971),
        (AdaGrad(lr=1.5), -0.12016232231416045, 2.486389893984459e-17),
        (Adam(lr=0.3), 0.13600685239498186, 0.31824537553721943),
    ],
    ids=["SGD", "Momentum", "AdaGrad", "Adam"],
)
def test_book_toy_problem_updates_a_dict_of_python_floats(opt, x, y):
    params = _toy_path(opt, 30)
    assert type(params["x"]) is float and type(params["y"]) is float
    assert params["x"] == pytest.approx(x, rel=1e-12, abs=1e-15)
    assert params["y"] == pytest.approx(y, rel=1e-12, abs=1e-15)


def test_adam_on_floats_matches_the_book_formula_written_out():
    params = _toy_path(Adam(lr=0.3), 30)
    p, m, v = [-7.0, 2.0], [0.0, 0.0], [0.0, 0.0]
    for it in range(1, 31):
        g = _df(*p)
        lr_t = 0.3 * math.sqrt(1 - 0.999**it) / (1 - 0.9**it)
        for i in range(2):
            m[i] += 0.1 * (g[i] - m[i])
            v[i] += 0.001 * (g[i] ** 2 - v[i])
            p[i] -= lr_t * m[i] / (math.sqrt(v[i]) + 1e-7)
    assert (params["x"], params["y"]) == pytest.approx(tuple(p), rel=1e-12)


def test_nesterov_steps_with_the_old_velocity_as_the_book():
    # The book's order: W += m^2 v - (1 + m) lr g with the previous v, then v = m v - lr g.
    params = _toy_path(Nesterov(lr=0.1, momentum=0.9), 5)
    assert params["x"] == pytest.approx(-5.8690853432435075, rel=1e-12)
    assert params["y"] == pytest.approx(-0.8314351616000001, rel=1e-12)
    # Updating v first (the old scratchdl form) lands elsewhere: -5.667, -0.531.
    assert abs(params["y"] - (-0.5308932508192641)) > 0.3


def test_nesterov_same_numbers_on_arrays_and_floats():
    opt_a, opt_f = Nesterov(lr=0.1), Nesterov(lr=0.1)
    arr = {"xy": np.array([-7.0, 2.0])}
    flt = {"x": -7.0, "y": 2.0}
    for _ in range(5):
        opt_a.update(arr, {"xy": np.array(_df(*arr["xy"]))})
        gx, gy = _df(flt["x"], flt["y"])
        opt_f.update(flt, {"x": gx, "y": gy})
    np.testing.assert_array_equal(arr["xy"], [flt["x"], flt["y"]])


def test_numpy_scalars_keep_their_type():
    params = {"x": np.float32(1.0)}
    SGD(lr=0.5).update(params, {"x": np.float32(2.0)})
    assert type(params["x"]) is np.float32 and params["x"] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_in_work_arrays_gives_the_bits_of_the_books_three_lines(dtype):
    rng = np.random.default_rng(7)
    params = {"W": rng.standard_normal((6, 5)).astype(dtype), "b": np.zeros(5, dtype)}
    ref = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in ref.items()}
    v = {k: np.zeros_like(x) for k, x in ref.items()}
    opt = Adam(lr=0.01)
    for t in range(1, 6):
        grads = {k: rng.standard_normal(x.shape).astype(dtype) for k, x in ref.items()}
        opt.update(params, grads)
        lr_t = 0.01 * math.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
        for k, g in grads.items():
            m[k] += (1 - 0.9) * (g - m[k])
            v[k] += (1 - 0.999) * (g * g - v[k])
            ref[k] -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)
    for k in ref:
        np.testing.assert_array_equal(params[k], ref[k])
        assert params[k].dtype == dtype
