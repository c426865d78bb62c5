"""Pure, vectorised math of the book: activations, softmax and losses.

Every function keeps a floating input's dtype (float32 in, float32 out) and never modifies its
arguments.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import InputTypeError, ShapeError

#: The book's guard against ``log(0)`` in :func:`cross_entropy_error`.
CEE_DELTA = 1e-7

__all__ = [
    "CEE_DELTA",
    "as_float_array",
    "cross_entropy_error",
    "identity_function",
    "log_softmax",
    "mean_squared_error",
    "real_array",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "split_labels",
    "step_function",
    "sum_squared_error",
]


def as_float_array(x: ArrayLike) -> NDArray[np.floating]:
    """Return ``x`` as a floating array, keeping float32/float64 and promoting the rest.

    Integers, booleans and Python lists become float64, like NumPy's own arithmetic.

    Raises
    ------
    InputTypeError
        For strings, complex numbers, Python objects or anything else that is not real numbers.
    """
    x = real_array(x)
    if x.dtype.kind == "f":
        return x
    return x.astype(np.float64)


def real_array(x: ArrayLike) -> NDArray:
    """``np.asarray(x)``, refusing anything but booleans, integers and floats (no conversion).

    Raises
    ------
    InputTypeError
        For strings, complex numbers, Python objects and ragged lists.
    """
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise InputTypeError(f"expected an array of real numbers, got {exc}") from None
    if x.dtype.kind not in "biuf":
        kind = "complex numbers" if x.dtype.kind == "c" else f"dtype {x.dtype}"
        raise InputTypeError(
            f"expected an array of real numbers, got {kind}: convert it first, e.g. "
            "np.asarray(x, dtype=float)"
        )
    return x


def step_function(x: ArrayLike) -> NDArray:
    """Step activation: 1 where ``x > 0`` else 0, in ``x``'s float dtype."""
    x = as_float_array(x)
    return (x > 0).astype(x.dtype)


def sigmoid(x: ArrayLike) -> NDArray:
    """Logistic sigmoid ``1 / (1 + exp(-x))`` that never overflows.

    ``exp`` is only ever taken of ``-|x|``, so ``sigmoid(±1000)`` is exactly 1 or 0 with no
    warning.
    """
    x = as_float_array(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_grad(x: ArrayLike) -> NDArray:
    """Derivative of :func:`sigmoid`: ``s(x) * (1 - s(x))``."""
    s = sigmoid(x)
    return (1 - s) * s


def relu(x: ArrayLike) -> NDArray:
    """ReLU activation ``max(0, x)``."""
    x = as_float_array(x)
    return np.maximum(x, 0, dtype=x.dtype)


def relu_grad(x: ArrayLike) -> NDArray:
    """Derivative of :func:`relu`: 1 where ``x > 0`` else 0, so 0 at ``x == 0``.

    The book's ``relu_grad`` (common/functions.py) returns 1 at ``x == 0``; its own ``Relu``
    layer (ch. 5.5.1) passes 0 there (mask ``x <= 0``). Either value is a valid subgradient at
    the kink; we keep 0 so this function and :class:`~scratchdl.layers.Relu` always agree. No
    script of the book calls ``relu_grad``, so no result of the book changes.
    """
    return step_function(x)


def identity_function(x: ArrayLike) -> NDArray:
    """Identity activation for regression outputs."""
    return np.asarray(x)


def _scores(x: ArrayLike, name: str) -> NDArray:
    x = as_float_array(x)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ShapeError(
            f"{name} needs at least one class score: shape (C,) or (N, C) with C >= 1, "
            f"got {x.shape}"
        )
    return x


def softmax(x: ArrayLike) -> NDArray:
    """Softmax over the last axis, for ``(C,)`` or ``(N, C)`` scores (ch. 3.5).

    ``y_k = exp(x_k - max(x)) / sum_i exp(x_i - max(x))``; subtracting the row maximum keeps
    ``exp`` from overflowing, so ``softmax([1010, 1000, 990])`` is finite.

    A row holding NaN or ``+inf`` (a diverged network's scores) gives NaN, without a warning.

    Raises
    ------
    ShapeError
        For an empty class axis.
    InputTypeError
        For strings, complex numbers and other non-real input.
    """
    x = _scores(x, "softmax")
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as the diverged net's loss
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(x: ArrayLike) -> NDArray:
    """Log of :func:`softmax` over the last axis, computed without taking ``log`` of 0.

    ``log y_k = (x_k - m) - log sum_i exp(x_i - m)`` with ``m`` the row maximum.
    """
    x = _scores(x, "log_softmax")
    z = x - x.max(axis=-1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z


def sum_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """Sum of squared errors ``0.5 * sum((y - t)**2)`` over all elements."""
    y = as_float_array(y)
    t = np.asarray(t)
    if y.shape != t.shape:
        raise ShapeError(
            f"sum_squared_error needs y and t of one shape, got {y.shape} and {t.shape}"
        )
    return float(0.5 * np.sum((y - t) ** 2))


#: The book's name (ch. 4.2.1) for :func:`sum_squared_error`.
mean_squared_error = sum_squared_error


def split_labels(
    t: ArrayLike, y_shape: tuple[int, ...]
) -> tuple[NDArray[np.intp] | None, NDArray | None]:
    """Tell integer labels from one-hot targets by shape and dtype, never by guessing.

    Parameters
    ----------
    t : array_like
        Integer labels, shape ``y_shape[:-1]`` (``(N,)`` for batched scores, a scalar for
        ``(C,)``) or a column ``(N, 1)`` of them, or one-hot / probability targets of shape
        ``y_shape``.
    y_shape : tuple of int
        Shape of the scores or probabilities ``(C,)`` or ``(N, C)``.

    Returns
    -------
    labels, onehot : (ndarray or None, ndarray or None)
        Exactly one is not None.

    Raises
    ------
    ShapeError
        For any other shape, non-integer labels, or labels outside ``[0, C)``.
    """
    t = np.asarray(t)
    if len(y_shape) == 0:
        raise ShapeError("scores y must have a class axis: shape (C,) or (N, C), got a scalar")
    n_classes = y_shape[-1]
    if t.shape == tuple(y_shape):
        return None, t
    if n_classes > 1 and t.shape == (*y_shape[:-1], 1) and t.dtype.kind in "iu":
        # A column of integer labels, (N, 1): the book's ch. 7 gradient_check.py passes
        # np.array([1]).reshape((1, 1)). With C > 1 it cannot be mistaken for one-hot rows.
        t = t.reshape(t.shape[:-1])
    if t.shape == tuple(y_shape[:-1]):
        if t.dtype.kind not in "iu":
            if t.dtype.kind == "f" and np.all(np.mod(t, 1) == 0):
                raise ShapeError(
                    f"labels t have float dtype {t.dtype}; integer class labels must be an "
                    "integer array (use t.astype(int))"
                )
            raise ShapeError(f"labels t must be integers in [0, {n_classes}), got dtype {t.dtype}")
        if t.size and (t.min() < 0 or t.max() >= n_classes):
            raise ShapeError(
                f"labels t must lie in [0, {n_classes}) for scores of shape {tuple(y_shape)}, "
                f"got values from {t.min()} to {t.max()}"
            )
        return t.astype(np.intp, copy=False), None
    raise ShapeError(
        f"t has shape {t.shape} but scores have shape {tuple(y_shape)}: give integer labels of "
        f"shape {tuple(y_shape[:-1])} or one-hot targets of shape {tuple(y_shape)}"
    )


def cross_entropy_error(y: ArrayLike, t: ArrayLike) -> float:
    """Cross-entropy error of probabilities ``y``, averaged over the batch.

    ``E = -1/N * sum_n sum_k t_nk * log(y_nk + 1e-7)``, with the book's ``delta = 1e-7`` so the
    book's numbers (ch. 4.2.2) come out exactly.

    Parameters
    ----------
    y : array_like, shape (C,) or (N, C)
        Probabilities (the output of :func:`softmax`).
    t : array_like
        One-hot targets of ``y``'s shape, or integer labels of shape ``()`` / ``(N,)``.
    """
    y = as_float_array(y)
    labels, onehot = split_labels(t, y.shape)
    y2 = y.reshape(-1, y.shape[-1])
    n = y2.shape[0]
    if n == 0:
        raise ShapeError("the loss of an empty batch is undefined: give at least one sample")
    if labels is not None:
        picked = y2[np.arange(n), labels.reshape(-1)]
        return float(-np.sum(np.log(picked + CEE_DELTA)) / n)
    return float(-np.sum(onehot.reshape(n, -1) * np.log(y2 + CEE_DELTA)) / n)
