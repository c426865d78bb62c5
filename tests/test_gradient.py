"""Numerical differentiation and gradient descent: the notes' numbers and safety."""

import numpy as np
import pytest

from scratchdl.errors import (
    ConfigError,
    ShapeError,
)
from scratchdl.gradient import gradient_descent, numerical_diff, numerical_gradient


def function_1(x):
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    return np.sum(x**2)


def test_numerical_diff_matches_notes_exactly():
    assert numerical_diff(function_1, 5) == 0.1999999999990898
    assert numerical_diff(function_1, 10) == 0.2999999999986347


@pytest.mark.parametrize(
    ("point", "expected"), [([3.0, 4.0], [6, 8]), ([0.0, 2.0], [0, 4]), ([3.0, 0.0], [6, 0])]
)
def test_numerical_gradient_matches_notes(point, expected):
    np.testing.assert_allclose(numerical_gradient(function_2, np.array(point)), expected, atol=1e-7)


def test_numerical_gradient_any_shape_and_dtype():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    g = numerical_gradient(function_2, x)
    assert g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x, atol=1e-6)
    x32 = np.ones((2, 2), dtype=np.float32)
    assert numerical_gradient(function_2, x32).dtype == np.float32


def test_numerical_gradient_restores_argument_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_restores_even_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    calls = []

    def boom(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, before)
    assert calls[-1][1] != before[1]  # it really was perturbing element 1 when f raised


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(ShapeError, match="floating"):
        numerical_gradient(function_2, np.array([3, 4]))


def test_gradient_descent_matches_notes_and_leaves_init_alone():
    init = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, init, lr=0.1, step_num=100)
    np.testing.assert_allclose(x, [-6.11110793e-10, 8.14814391e-10], rtol=1e-6)
    np.testing.assert_array_equal(init, [-3.0, 4.0])


def test_gradient_descent_runs_in_float64_and_returns_the_input_dtype():
    x64 = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=100)
    x32, path = gradient_descent(
        function_2, np.array([-3.0, 4.0], np.float32), lr=0.1, step_num=100, history=True
    )
    assert x64.dtype == np.float64 and x32.dtype == np.float32 and path.dtype == np.float32
    np.testing.assert_array_equal(x32, x64.astype(np.float32))
    assert gradient_descent(function_2, np.array([-3, 4]), lr=0.1).dtype == np.float64


def test_gradient_descent_history_and_learning_rates():
    x, path = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=20, history=True)
    assert path.shape == (20, 2)
    np.testing.assert_array_equal(path[0], [-3.0, 4.0])
    assert np.all(np.diff(np.sum(path**2, axis=1)) < 0)  # the value falls at every step
    big = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=10.0, step_num=100)
    assert np.abs(big).max() > 1e10  # too large: diverges
    tiny = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=1e-10, step_num=100)
    np.testing.assert_allclose(tiny, [-3.0, 4.0], atol=1e-6)  # too small: barely moves


# -- bad inputs ------------------------------------------------------------------------------------


def test_numerical_gradient_and_diff_refuse_a_zero_step():
    from scratchdl.gradient import numerical_diff, numerical_gradient

    with pytest.raises(ConfigError, match="h must be"):
        numerical_gradient(lambda x: float(np.sum(x)), np.ones(3), h=0)
    with pytest.raises(ConfigError, match="h must be"):
        numerical_diff(lambda x: x * x, 1.0, h=0.0)
