"""Layers of the computational graph (chapter 5), with the book's protocol.

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
from scratchdl.functions import as_float_array, sigmoid, split_labels

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
    attributes with a ``d`` prefix (``W`` -> ``dW``).
    """

    param_names: tuple[str, ...] = ()

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
    ``(N, D)``; ``backward`` returns ``dx`` in the input's original shape and sets
    ``dW = xᵀ · dout`` (D, M) and ``db = Σ_n dout`` (M,).
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

    def backward(self, dout: NDArray) -> NDArray:
        self.backward_params(dout)
        return (dout @ self.W.T).reshape(self.original_x_shape)

    def backward_params(self, dout: NDArray) -> None:
        """Set ``dW`` and ``db`` only, without ``dx``.

        For the first layer of a network nobody needs the gradient of the input, and
        ``dx = dout · Wᵀ`` costs as much as ``dW``, so :meth:`Net.gradient` skips it there.
        """
        x = _need(self.x, self)
        self.dW = x.T @ dout
        self.db = dout.sum(axis=0)

    def __repr__(self) -> str:
        return f"Affine({self.W.shape[0]} -> {self.W.shape[1]}, {self.W.dtype})"


class Softmax(Layer):
    """Softmax over the last axis; ``dx = y * (dout - Σ_k dout_k y_k)``."""

    def __init__(self) -> None:
        self.out: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        x = as_float_array(x)
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        self.out = e / np.sum(e, axis=-1, keepdims=True)
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
        x2 = x.reshape(-1, x.shape[-1])
        n = x2.shape[0]
        z = x2 - x2.max(axis=1, keepdims=True)
        # Every step of a training run comes through here, so the temporaries are reused in
        # place: e = exp(z), then y = e / sum(e).
        y = np.exp(z)
        s = y.sum(axis=1, keepdims=True)
        y /= s
        self.y = y.reshape(x.shape)
        log_s = np.log(s[:, 0])
        if labels is not None:
            labels = labels.reshape(-1)
            self.labels, self.onehot = labels, None
            self.loss = float((log_s.sum() - z[np.arange(n), labels].sum()) / n)
        else:
            # Integer or float64 one-hot targets must not turn a float32 net's gradients float64.
            onehot = onehot.reshape(n, -1).astype(y.dtype, copy=False)
            self.labels, self.onehot = None, onehot
            self.loss = float(-np.sum(onehot * (z - log_s[:, None])) / n)
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
