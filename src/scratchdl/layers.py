"""Layers of the computational graph (ch. 5.4-5.6), with the book's protocol.

``forward(x) -> y`` computes and caches only what ``backward`` needs; ``backward(dout) -> dx``
returns the gradient with respect to the input and stores parameter gradients (``dW``, ``db``)
on the layer. ``backward`` before ``forward`` raises :class:`~scratchdl.errors.StateError`. No
layer ever modifies an array it is given: the book's ``dout[mask] = 0`` would zero the caller's
gradient, so here it is ``dx = dout * mask``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ShapeError, StateError
from scratchdl.functions import as_float_array, log_softmax, sigmoid, softmax, split_labels

__all__ = [
    "AddLayer",
    "Affine",
    "Layer",
    "MulLayer",
    "Relu",
    "Sigmoid",
    "Softmax",
    "SoftmaxWithLoss",
]


def _need(value: Any, layer: object) -> Any:
    if value is None:
        raise StateError(
            f"{type(layer).__name__}.backward called before forward: run forward first"
        )
    return value


class Layer:
    """Base of the layers with one input: ``forward(x)``, ``backward(dout)``.

    ``param_names`` lists the attributes holding trainable arrays; their gradients live in the
    attributes with a ``d`` prefix (``W`` -> ``dW``). A layer that behaves differently in
    training (Dropout, BatchNormalization, ch. 6.4) sets ``train_flg_aware = True`` and takes
    ``forward(x, train_flg)``; networks pass the flag to such layers only. A layer with
    ``need_dx = False`` may skip computing the gradient of its input and return None from
    ``backward`` (networks set it on their first layer, whose input is the data).
    """

    param_names: tuple[str, ...] = ()
    train_flg_aware: bool = False
    need_dx: bool = True

    def forward(self, x: NDArray) -> NDArray:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dout: NDArray) -> NDArray:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MulLayer:
    """Multiplication node ``out = x * y``; backward swaps the inputs: ``(dout*y, dout*x)``."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        _need(self.x, self)
        return dout * self.y, dout * self.x


class AddLayer:
    """Addition node ``out = x + y``; backward passes ``dout`` to both inputs."""

    def __init__(self) -> None:
        self._ran = False

    def forward(self, x, y):
        self._ran = True
        return x + y

    def backward(self, dout):
        _need(self._ran or None, self)
        return dout * 1, dout * 1


class Relu(Layer):
    """``y = max(0, x)``; ``dx = dout * (x > 0)``."""

    def __init__(self) -> None:
        self.mask: NDArray[np.bool_] | None = None

    def forward(self, x: NDArray) -> NDArray:
        x = as_float_array(x)
        self.mask = x > 0
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, dout: NDArray) -> NDArray:
        mask = _need(self.mask, self)
        return dout * mask


class Sigmoid(Layer):
    """``y = sigmoid(x)``; ``dx = dout * y * (1 - y)``."""

    def __init__(self) -> None:
        self.out: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: NDArray) -> NDArray:
        y = _need(self.out, self)
        return dout * (1.0 - y) * y


class Affine(Layer):
    """Fully connected layer ``y = x · W + b``.

    Parameters
    ----------
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    ``forward`` accepts ``(N, D)`` or N-d input such as images ``(N, 1, 28, 28)``, flattened to
    ``(N, D)``; ``backward`` returns ``dx`` in the input's original shape (None when
    ``need_dx`` is False) and sets ``dW = xᵀ · dout`` (D, M) and ``db = Σ_n dout`` (M,).
    """

    param_names = ("W", "b")

    def __init__(self, W: NDArray, b: NDArray) -> None:
        W = as_float_array(W)
        b = np.asarray(b, dtype=W.dtype)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ShapeError(
                f"Affine needs W of shape (D, M) and b of shape (M,), got {W.shape} and {b.shape}"
            )
        self.W = W
        self.b = b
        self.x: NDArray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: NDArray | None = None
        self.db: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        x = np.asarray(x)
        self.original_x_shape = x.shape
        x2 = x.reshape(x.shape[0], -1) if x.ndim != 2 else x
        if x2.shape[1] != self.W.shape[0]:
            raise ShapeError(
                f"Affine expects {self.W.shape[0]} input features per sample, got input of shape "
                f"{x.shape} ({x2.shape[1]} features)"
            )
        self.x = x2
        out = x2 @ self.W
        out += self.b  # in place: one (N, M) array per call instead of two
        return out

    def backward(self, dout: NDArray) -> NDArray | None:
        x = _need(self.x, self)
        self.dW = x.T @ dout
        self.db = dout.sum(axis=0)
        if not self.need_dx:
            return None  # the network's first layer: dx = dout · Wᵀ would be thrown away
        return (dout @ self.W.T).reshape(self.original_x_shape)

    def __repr__(self) -> str:
        return f"Affine({self.W.shape[0]} -> {self.W.shape[1]}, {self.W.dtype})"


class Softmax(Layer):
    """Softmax over the last axis; ``dx = y * (dout - Σ_k dout_k y_k)``."""

    def __init__(self) -> None:
        self.out: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: NDArray) -> NDArray:
        y = _need(self.out, self)
        return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


class SoftmaxWithLoss:
    """Softmax followed by the cross-entropy loss, fused.

    ``forward(x, t)`` takes scores ``x`` of shape ``(N, C)`` (or ``(C,)``) and either integer
    labels ``(N,)`` or one-hot targets ``(N, C)``; it returns the mean loss, computed from the
    log-softmax so it stays finite for extreme scores. ``backward(dout=1)`` returns
    ``dout * (y - t) / N``.
    """

    def __init__(self) -> None:
        self.y: NDArray | None = None
        self.labels: NDArray[np.intp] | None = None
        self.onehot: NDArray | None = None
        self.loss: float | None = None

    def forward(self, x: NDArray, t: ArrayLike) -> float:
        x = as_float_array(x)
        labels, onehot = split_labels(t, x.shape)
        log_y = log_softmax(x.reshape(-1, x.shape[-1]))
        n = log_y.shape[0]
        y = np.exp(log_y)  # softmax(x), from the same log-softmax the loss uses
        self.y = y.reshape(x.shape)
        if labels is not None:
            labels = labels.reshape(-1)
            self.labels, self.onehot = labels, None
            self.loss = float(-log_y[np.arange(n), labels].sum() / n)
        else:
            # Integer or float64 one-hot targets must not turn a float32 net's gradients float64.
            onehot = onehot.reshape(n, -1).astype(y.dtype, copy=False)
            self.labels, self.onehot = None, onehot
            self.loss = float(-np.sum(onehot * log_y) / n)
        return self.loss

    def backward(self, dout: float = 1.0) -> NDArray:
        y = _need(self.y, self)
        y2 = y.reshape(-1, y.shape[-1])
        n = y2.shape[0]
        if self.labels is not None:
            dx = y2.copy()
            dx[np.arange(n), self.labels] -= 1
        else:
            dx = y2 - self.onehot
        dx *= dout / n
        return dx.reshape(y.shape)
