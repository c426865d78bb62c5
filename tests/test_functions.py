"""The pure math: the notes' numbers, numerics at the extremes, dtypes, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scratchdl.errors import (
    InputTypeError,
    ScratchdlError,
    ShapeError,
)
from scratchdl.functions import (
    cross_entropy_error,
    identity_function,
    log_softmax,
    mean_squared_error,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    step_function,
    sum_squared_error,
)

T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y_GOOD = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y_BAD = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


def test_sum_squared_error_matches_notes():
    assert sum_squared_error(Y_GOOD, T) == pytest.approx(0.0975, abs=1e-15)
    assert sum_squared_error(Y_BAD, T) == pytest.approx(0.5975, abs=1e-15)
    assert mean_squared_error is sum_squared_error


def test_cross_entropy_error_matches_notes_exactly():
    assert cross_entropy_error(Y_GOOD, T) == 0.510825457099338
    assert cross_entropy_error(Y_BAD, T) == 2.302584092994546


def test_cross_entropy_error_labels_equal_one_hot_and_average_over_batch():
    y = np.stack([Y_GOOD, Y_BAD])
    onehot = np.stack([T, T])
    expected = (0.510825457099338 + 2.302584092994546) / 2
    assert cross_entropy_error(y, onehot) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy_error(y, np.array([2, 2])) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy_error(Y_GOOD, 2) == pytest.approx(0.510825457099338, rel=1e-12)


@pytest.mark.parametrize(
    ("t", "match"),
    [
        (np.array([2, 10]), r"\[0, 10\)"),
        (np.array([-1, 0]), r"\[0, 10\)"),
        (np.array([1, 2, 3]), r"\(3,\).*\(2, 10\)"),
        (np.zeros((2, 9)), r"\(2, 9\).*\(2, 10\)"),
        (np.array([2.0, 7.0]), "integer"),
        (np.array([[2], [10]]), r"\[0, 10\)"),  # a column of labels is still checked
        (np.array([[2.0], [7.0]]), r"\(2, 1\).*\(2, 10\)"),  # float column: not labels
    ],
)
def test_cross_entropy_error_rejects_bad_labels_with_shapes(t, match):
    y = np.stack([Y_GOOD, Y_BAD])
    with pytest.raises(ValueError, match=match):
        cross_entropy_error(y, t)
    with pytest.raises(ShapeError):
        cross_entropy_error(y, t)


def test_a_column_of_integer_labels_counts_as_labels():
    # The book's ch. 7 gradient_check.py gives t = np.array([1]).reshape((1, 1)).
    y = np.stack([Y_GOOD, Y_BAD])
    expected = cross_entropy_error(y, np.array([2, 2]))
    assert cross_entropy_error(y, np.array([[2], [2]])) == expected
    from scratchdl.layers import SoftmaxWithLoss

    layer = SoftmaxWithLoss()
    scores = np.log(y + 1e-12)
    assert layer.forward(scores, np.array([[2], [7]])) == pytest.approx(
        SoftmaxWithLoss().forward(scores, np.array([2, 7])), rel=1e-12
    )


def test_sigmoid_never_overflows_or_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            y = sigmoid(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype))
            assert y.dtype == dtype
            assert np.all(np.isfinite(y))
            assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)


def test_activations_values_and_grads():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(step_function(x), [0, 0, 1])
    np.testing.assert_array_equal(relu(x), [0, 0, 2])
    np.testing.assert_array_equal(relu_grad(x), [0, 0, 1])
    np.testing.assert_allclose(sigmoid_grad(x), sigmoid(x) * (1 - sigmoid(x)))
    assert identity_function(x) is x


def test_relu_grad_at_zero_is_zero_like_the_relu_layer():
    # The book's common/functions.py returns 1 at x == 0; we keep 0 so the function agrees with
    # the Relu layer's backward (ours and the book's, mask x <= 0 -> 0). See relu_grad's docstring.
    from scratchdl.layers import Relu

    x = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0])
    assert relu_grad(np.array(0.0)) == 0.0
    layer = Relu()
    layer.forward(x)
    np.testing.assert_array_equal(relu_grad(x), layer.backward(np.ones_like(x)))
    np.testing.assert_array_equal(relu_grad(x), [0, 0, 0, 1, 1])


@pytest.mark.parametrize(
    "fn", [step_function, sigmoid, sigmoid_grad, relu, relu_grad, softmax, log_softmax]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_preserved(fn, dtype):
    x = np.array([[-1.0, 0.5, 3.0]], dtype=dtype)
    before = x.copy()
    assert fn(x).dtype == dtype
    np.testing.assert_array_equal(x, before)  # never modifies its input


def test_softmax_is_overflow_safe_and_batched():
    y = softmax([1010, 1000, 990])
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=1e-6)
    batch = softmax(np.array([[1010, 1000, 990], [0.3, 2.9, 4.0]]))
    np.testing.assert_allclose(batch[1], [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0)


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 8)), elements=finite), finite)
def test_softmax_rows_sum_to_one_and_shift_invariant(x, c):
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(y >= 0)
    np.testing.assert_allclose(softmax(x + c), y, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(2, 8)),
        elements=st.floats(-1e300, 1e300, allow_nan=False),
    ),
    st.data(),
)
def test_log_softmax_loss_finite_for_extreme_logits(x, data):
    from scratchdl.layers import SoftmaxWithLoss

    t = np.array([data.draw(st.integers(0, x.shape[1] - 1)) for _ in range(x.shape[0])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = SoftmaxWithLoss().forward(x, t)
        assert np.isfinite(loss) and loss >= 0
        assert np.all(np.isfinite(log_softmax(x)))
        assert np.isfinite(cross_entropy_error(softmax(x), t))


# -- bad inputs ------------------------------------------------------------------------------------


def _softmax(x):
    from scratchdl.functions import softmax

    return softmax(x)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: _softmax(np.array([])), ShapeError, "at least one class score"),
        (lambda: _softmax(np.zeros((3, 0))), ShapeError, "at least one class score"),
        (lambda: _softmax(np.float64(1.0)), ShapeError, "at least one class score"),
        (lambda: _softmax(["1", "2"]), InputTypeError, "real numbers"),
        (lambda: _softmax([1 + 2j, 1]), InputTypeError, "complex numbers"),
        (lambda: _softmax([[1, 2], [3]]), InputTypeError, "real numbers"),
        (lambda: _softmax(object()), InputTypeError, "dtype object"),
    ],
    ids=["empty", "no-classes", "scalar", "strings", "complex", "ragged", "object"],
)
def test_softmax_refuses_meaningless_input(call, error, fragment):
    with pytest.raises(error, match=fragment.replace("(", r"\(")) as info:
        call()
    assert isinstance(info.value, ScratchdlError)


def test_softmax_of_infinite_scores_is_nan_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_softmax([-np.inf, 0.0, 0.0]), [0.0, 0.5, 0.5])
        y = _softmax(np.array([[1.0, np.inf], [0.0, 0.0]], dtype=np.float32))
        assert y.dtype == np.float32
        assert np.isnan(y[0]).all() and (y[1] == 0.5).all()
        assert np.isnan(_softmax([[-np.inf, -np.inf]])).all()
        assert np.isnan(_softmax([np.nan, 1.0])).all()  # a diverged net shows as NaN
