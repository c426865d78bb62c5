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

from scratchdl.checks import check_probability
from scratchdl.errors import ShapeError, StateError
from scratchdl.functions import (
    as_float_array,
    log_softmax,
    real_array,
    sigmoid,
    softmax,
    split_labels,
)
from scratchdl.util import col2im, conv_output_size, im2col

__all__ = [
    "AddLayer",
    "Affine",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "Layer",
    "MulLayer",
    "Pooling",
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
        x = real_array(x)  # strings or complex numbers are an error of ours, not NumPy's
        self.original_x_shape = x.shape
        # The feature count spelled out, not -1: NumPy cannot infer it for an empty batch.
        x2 = x.reshape(x.shape[0], int(np.prod(x.shape[1:]))) if x.ndim != 2 else x
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
        if n == 0:
            raise ShapeError("the loss of an empty batch is undefined: give at least one sample")
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


# -- chapters 6 and 7: Dropout, BatchNormalization, Convolution, Pooling ----------------------


def _check_images(x: NDArray, layer: object, channels: int | None = None) -> None:
    if x.ndim != 4:
        raise ShapeError(
            f"{type(layer).__name__} expects images of shape (N, C, H, W), got shape {x.shape}; "
            "reshape flat input with x.reshape(N, C, H, W)"
        )
    if channels is not None and x.shape[1] != channels:
        raise ShapeError(
            f"{type(layer).__name__} expects {channels} input channel(s), got images of shape "
            f"{x.shape} ({x.shape[1]} channels)"
        )


def _resolve_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Dropout(Layer):
    """Dropout (ch. 6.4.3): in training, each unit is kept with probability ``1 - dropout_ratio``.

    ``forward(x, train_flg=True)`` draws a fresh mask ``keep = u > dropout_ratio`` (``u``
    uniform in [0, 1)) and returns ``x * keep``; ``backward`` returns ``dout * keep``.
    ``forward(x, train_flg=False)`` returns ``x * (1 - dropout_ratio)``.

    This is the book's form, scaling at test time. The common alternative, "inverted" dropout
    (PyTorch), divides by ``1 - dropout_ratio`` in training instead and leaves test time alone;
    both give the next layer the same expected input. The book's form is kept so that the
    book's trained weights (``deep_convnet_params.pkl``, trained this way) and its numbers carry
    over unchanged.

    Parameters
    ----------
    dropout_ratio : float in [0, 1)
        Probability of dropping a unit.
    rng : numpy.random.Generator or int seed, optional
        Source of the masks.
    """

    train_flg_aware = True  # networks pass ``train_flg`` to layers marked like this

    def __init__(
        self, dropout_ratio: float = 0.5, *, rng: np.random.Generator | int | None = None
    ) -> None:
        self.dropout_ratio = check_probability(dropout_ratio, "dropout_ratio", ShapeError)
        self.rng = _resolve_rng(rng)
        self.mask: NDArray[np.bool_] | None = None

    def forward(self, x: NDArray, train_flg: bool = True) -> NDArray:
        x = as_float_array(x)
        if train_flg:
            self.mask = self.rng.random(x.shape, dtype=x.dtype) > self.dropout_ratio
            return x * self.mask
        self.mask = None  # a backward now would use a mask that did not make this output
        return x * x.dtype.type(1.0 - self.dropout_ratio)

    def backward(self, dout: NDArray) -> NDArray:
        if self.mask is None:
            raise StateError(
                "Dropout.backward needs a forward with train_flg=True first (test-time forward "
                "has no mask)"
            )
        return dout * self.mask

    def __repr__(self) -> str:
        return f"Dropout({self.dropout_ratio})"


class BatchNormalization(Layer):
    """Batch normalisation (ch. 6.3): ``y = gamma * (x - mu) / sqrt(var + 1e-6) + beta``.

    In training (``train_flg=True``) ``mu`` and ``var`` are the batch's mean and (biased)
    variance, and the running averages used at test time move towards them:
    ``running = momentum * running + (1 - momentum) * batch``.

    Input of shape (N, D) is normalised per feature, exactly as the book. For images
    (N, C, H, W) the statistics are taken **per channel**, over N, H and W, with ``gamma`` and
    ``beta`` of shape (C,), as convolutional networks do (and PyTorch's ``BatchNorm2d``). The
    book instead flattens images to (N, C*H*W) and normalises every pixel of every channel on
    its own; give ``gamma`` and ``beta`` of shape (C*H*W,) to get the book's behaviour (so its
    parameters still load).

    Parameters
    ----------
    gamma, beta : ndarray, shape (D,) or (C,)
        Scale and shift, trained like weights (gradients ``dgamma``, ``dbeta``).
    momentum : float in [0, 1)
    running_mean, running_var : ndarray, optional
        Test-time statistics; zeros (and zeros) until the first training batch, as in the
        book. The layer keeps its own copies and updates them in place.
    """

    param_names = ("gamma", "beta")
    #: Arrays that are not trained but belong to the model (saved with it).
    state_names = ("running_mean", "running_var")
    train_flg_aware = True
    eps = 1e-6  # the book's 10e-7

    def __init__(
        self,
        gamma: NDArray,
        beta: NDArray,
        momentum: float = 0.9,
        running_mean: NDArray | None = None,
        running_var: NDArray | None = None,
    ) -> None:
        gamma = as_float_array(gamma)
        beta = np.asarray(beta, dtype=gamma.dtype)
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ShapeError(
                f"BatchNormalization needs gamma and beta of the same shape (D,), got "
                f"{gamma.shape} and {beta.shape}"
            )
        self.gamma = gamma
        self.beta = beta
        self.momentum = check_probability(momentum, "momentum", ShapeError)
        d = gamma.shape[0]
        self.running_mean = self._own_stat(running_mean, d, "running_mean")
        self.running_var = self._own_stat(running_var, d, "running_var")
        self.xn: NDArray | None = None
        self.inv_std: NDArray | None = None
        self.train_mode: bool | None = None
        self.x_shape: tuple[int, ...] | None = None
        self.dgamma: NDArray | None = None
        self.dbeta: NDArray | None = None

    def _own_stat(self, value: NDArray | None, d: int, name: str) -> NDArray:
        if value is None:
            return np.zeros(d, dtype=self.gamma.dtype)
        value = np.array(value, dtype=self.gamma.dtype, copy=True)
        if value.shape != (d,):
            raise ShapeError(f"{name} must have shape ({d},) like gamma, got {value.shape}")
        return value

    def _layout(self, x: NDArray) -> tuple[NDArray, tuple[int, ...]]:
        """``x`` as 2-D (M, D) or 4-D, and the axes to average over."""
        d = self.gamma.shape[0]
        if x.ndim == 2 and x.shape[1] == d:
            return x, (0,)
        if x.ndim == 4 and x.shape[1] == d:
            return x, (0, 2, 3)  # per channel
        if x.ndim >= 2 and int(np.prod(x.shape[1:])) == d:
            return x.reshape(x.shape[0], d), (0,)  # the book's per-feature form
        raise ShapeError(
            f"BatchNormalization with {d} features cannot normalise input of shape {x.shape}: "
            f"give (N, {d}), images (N, {d}, H, W), or input with {d} values per sample"
        )

    def _per_feature(self, a: NDArray, ndim: int) -> NDArray:
        return a.reshape(1, -1, 1, 1) if ndim == 4 else a

    def forward(self, x: NDArray, train_flg: bool = True) -> NDArray:
        x = as_float_array(x)
        x2, axes = self._layout(x)
        shape = lambda a: self._per_feature(a, x2.ndim)  # noqa: E731
        if train_flg:
            m = x2.size // max(self.gamma.shape[0], 1)  # values per feature (or channel)
            if m < 2:
                # Checked before the running statistics move: an empty batch would make them
                # NaN for good, and one value per feature normalises to 0 (nothing to learn).
                per = "per channel (N*H*W)" if x2.ndim == 4 else "per feature (N)"
                raise ShapeError(
                    f"BatchNormalization in training needs at least 2 values {per} to take "
                    f"batch statistics, got input of shape {x.shape}: give a batch of 2 or "
                    "more samples, or call forward with train_flg=False"
                )
            mu = x2.mean(axis=axes)
            xc = x2 - shape(mu)
            var = np.mean(xc * xc, axis=axes)
            self.running_mean *= self.momentum
            self.running_mean += (1 - self.momentum) * mu
            self.running_var *= self.momentum
            self.running_var += (1 - self.momentum) * var
        else:
            xc = x2 - shape(self.running_mean)
            var = self.running_var
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xn = xc * shape(inv_std)
        self.xn, self.inv_std, self.train_mode, self.x_shape = xn, inv_std, train_flg, x.shape
        out = xn * shape(self.gamma)
        out += shape(self.beta)
        return out.reshape(x.shape)

    def backward(self, dout: NDArray) -> NDArray:
        xn = _need(self.xn, self)
        dout = np.asarray(dout).reshape(xn.shape)
        axes = (0,) if xn.ndim == 2 else (0, 2, 3)
        shape = lambda a: self._per_feature(a, xn.ndim)  # noqa: E731
        self.dbeta = dout.sum(axis=axes)
        self.dgamma = (dout * xn).sum(axis=axes)
        scale = shape(self.gamma * self.inv_std)
        if not self.train_mode:  # fixed statistics: a per-feature affine map
            return (dout * scale).reshape(self.x_shape)
        # The book's chain (dxn, dxc, dstd, dvar, dmu) collapsed into one expression:
        # dx = gamma / std * (dout - mean(dout) - xn * mean(dout * xn)).
        m = dout.size // self.gamma.shape[0]
        dx = dout - shape(self.dbeta / m) - xn * shape(self.dgamma / m)
        dx *= scale
        return dx.reshape(self.x_shape)

    def __repr__(self) -> str:
        return f"BatchNormalization({self.gamma.shape[0]}, momentum={self.momentum})"


class Convolution(Layer):
    """Convolution layer (ch. 7.4.3): ``im2col``, then one matrix product with the filters.

    Parameters
    ----------
    W : ndarray, shape (FN, C, FH, FW)
        FN filters over C channels.
    b : ndarray, shape (FN,)
    stride, pad : int

    ``forward`` maps images (N, C, H, W) to (N, FN, out_h, out_w); ``backward`` sets
    ``dW`` (FN, C, FH, FW) and ``db`` (FN,) and returns ``dx`` (N, C, H, W) through ``col2im``
    (None when ``need_dx`` is False).
    """

    param_names = ("W", "b")
    need_dx = True

    def __init__(self, W: NDArray, b: NDArray, stride: int = 1, pad: int = 0) -> None:
        W = as_float_array(W)
        b = np.asarray(b, dtype=W.dtype)
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise ShapeError(
                "Convolution needs W of shape (FN, C, FH, FW) and b of shape (FN,), got "
                f"{W.shape} and {b.shape}"
            )
        if 0 in W.shape:
            raise ShapeError(
                f"Convolution needs at least one filter, one channel and a filter of at least "
                f"1x1, got W of shape {W.shape}"
            )
        conv_output_size(W.shape[2], W.shape[2], stride, pad)  # validates stride and pad
        self.W = W
        self.b = b
        self.stride = int(stride)
        self.pad = int(pad)
        self.col: NDArray | None = None
        self.x_shape: tuple[int, ...] | None = None
        self.dW: NDArray | None = None
        self.db: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        x = as_float_array(x)
        FN, C, FH, FW = self.W.shape
        _check_images(x, self, C)
        N, _, H, W = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        col = im2col(x, FH, FW, self.stride, self.pad)  # (N*out_h*out_w, C*FH*FW)
        out = col @ self.W.reshape(FN, -1).T  # (N*out_h*out_w, FN)
        out += self.b
        self.col, self.x_shape = col, x.shape
        # As in the book, the result is a transposed view (channels last in memory); no copy.
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout: NDArray) -> NDArray | None:
        col = _need(self.col, self)
        FN, C, FH, FW = self.W.shape
        # Free when dout is channels-last in memory, as the layers here pass it.
        dout2 = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1, FN)  # (N*out_h*out_w, FN)
        if dout2.shape[0] != col.shape[0]:
            raise ShapeError(
                f"Convolution.backward got dout of shape {np.shape(dout)}, which does not "
                "match the last forward's output"
            )
        # Σ over rows as a matrix-vector product: .sum(axis=0) of a tall (57600, 30) array
        # takes one small step per row and measured twice as slow.
        self.db = np.ones(dout2.shape[0], dtype=dout2.dtype) @ dout2
        self.dW = (col.T @ dout2).T.reshape(self.W.shape)  # the book's dot(col.T, dout)
        if not self.need_dx:
            return None  # the network's first layer: the images' gradient would be thrown away
        # dcol = dout · W_col, computed as its transpose so that it comes out column-major
        # like im2col's result, which col2im folds back fastest.
        dcol = (self.W.reshape(FN, -1).T @ dout2.T).T  # (N*out_h*out_w, C*FH*FW)
        return col2im(dcol, self.x_shape, FH, FW, self.stride, self.pad)

    def __repr__(self) -> str:
        FN, C, FH, FW = self.W.shape
        return f"Convolution({C} -> {FN}, {FH}x{FW}, stride={self.stride}, pad={self.pad})"


class Pooling(Layer):
    """Max pooling (ch. 7.5): the largest value of each ``pool_h x pool_w`` window per channel.

    Ties: when several positions of a window hold the maximum, the first one in row-major
    window order (top row first, left to right) receives the whole gradient, like the book's
    ``argmax``; the others get 0. Where windows overlap (stride smaller than the window) the
    gradients of all windows a position wins are added.

    Padding (``pad`` on every side) uses ``-inf``, so a padded position never wins; ``pad``
    must be smaller than the window. (The book pads with 0 and its pooling does not handle
    ``pad`` > 0.)

    The loops run over the window offsets (``pool_h * pool_w`` steps over the whole batch),
    never over pixels. ``forward`` caches only the winning offset of every window (one byte
    each), which is all ``backward`` needs.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        conv_output_size(pool_h, pool_h, stride, pad)  # validates all four
        conv_output_size(pool_w, pool_w, stride, pad)
        if pad >= min(pool_h, pool_w):
            raise ShapeError(
                f"Pooling pad must be smaller than the window ({pool_h}x{pool_w}), got {pad}"
            )
        self.pool_h, self.pool_w = int(pool_h), int(pool_w)
        self.stride, self.pad = int(stride), int(pad)
        self.arg_max: NDArray | None = None
        self.x_shape: tuple[int, ...] | None = None
        self.x_dtype: np.dtype | None = None

    def _slabs(self, out_h: int, out_w: int) -> list[tuple[slice, ...]]:
        """Index of the window element at each offset (row-major), for all windows at once."""
        s = self.stride
        span_h, span_w = s * (out_h - 1) + 1, s * (out_w - 1) + 1
        return [
            (slice(None), slice(None), slice(fy, fy + span_h, s), slice(fx, fx + span_w, s))
            for fy in range(self.pool_h)
            for fx in range(self.pool_w)
        ]

    def forward(self, x: NDArray) -> NDArray:
        x = as_float_array(x)
        _check_images(x, self)
        _, _, H, W = x.shape
        out_h = conv_output_size(H, self.pool_h, self.stride, self.pad)
        out_w = conv_output_size(W, self.pool_w, self.stride, self.pad)
        p = self.pad
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf) if p else x
        slabs = [xp[sl] for sl in self._slabs(out_h, out_w)]
        out = slabs[0].copy()
        for slab in slabs[1:]:
            np.maximum(out, slab, out=out)
        # The first winning offset k of each window, without a loop over windows: with
        # ne_k = (slab_k != max) as 0/1, k = ne_0 * (1 + ne_1 * (1 + ne_2 * (...))).
        arg_max = np.zeros(out.shape, dtype=np.uint8 if len(slabs) < 256 else np.intp)
        for slab in reversed(slabs[:-1]):
            arg_max += 1
            arg_max *= (slab != out).view(np.uint8)  # the bytes of a bool: no cast
        self.arg_max, self.x_shape, self.x_dtype = arg_max, x.shape, x.dtype
        return out

    def backward(self, dout: NDArray) -> NDArray:
        arg_max = _need(self.arg_max, self)
        dout = np.asarray(dout)
        if dout.shape != arg_max.shape:
            raise ShapeError(
                f"Pooling.backward needs dout of shape {arg_max.shape}, got {dout.shape}"
            )
        N, C, H, W = self.x_shape
        p = self.pad
        # Channels last in memory, like the convolution's output, so that its backward reads
        # dout without a copy.
        dxp = np.zeros((N, H + 2 * p, W + 2 * p, C), np.result_type(dout, self.x_dtype))
        dxp = dxp.transpose(0, 3, 1, 2)
        overlap = self.stride < max(self.pool_h, self.pool_w)
        for k, sl in enumerate(self._slabs(*arg_max.shape[2:])):
            if overlap:
                dxp[sl] += dout * (arg_max == k)
            else:  # each position lies in one window at most: write its slab directly
                np.multiply(dout, arg_max == k, out=dxp[sl])
        return dxp[:, :, p : p + H, p : p + W] if p else dxp

    def __repr__(self) -> str:
        return f"Pooling({self.pool_h}x{self.pool_w}, stride={self.stride}, pad={self.pad})"


# -- the second book (Deep Learning from Scratch 2): MatMul, Embedding, SigmoidWithLoss -------
# These layers keep the second book's surface as well as ours: ``params`` and ``grads`` are
# lists (``[W]``, ``[dW]``) that its models concatenate once, at construction, so a gradient is
# always written into the array already in ``grads`` (``grads[0][...] = dW``), never rebound.
# ``W`` and ``dW`` name the same arrays, for the first book's ``param_names`` convention.

__all__ += ["Embedding", "MatMul", "SigmoidWithLoss", "scatter_add_rows"]


class _ListParams(Layer):
    """A layer whose single weight ``W`` lives in ``params[0]`` and its gradient in
    ``grads[0]`` (the second book's convention, zeros until the first backward)."""

    param_names = ("W",)

    def __init__(self, W: NDArray) -> None:
        W = as_float_array(W)
        self.params: list[NDArray] = [W]
        self.grads: list[NDArray] = [np.zeros_like(W)]

    @property
    def W(self) -> NDArray:
        return self.params[0]

    @property
    def dW(self) -> NDArray:
        return self.grads[0]


class MatMul(_ListParams):
    """``y = x · W`` without a bias (book 2, ch. 1.3.4.5).

    Parameters
    ----------
    W : ndarray, shape (D, H)

    ``forward`` takes ``x`` of shape ``(N, D)``; ``backward(dout)`` with ``dout`` of shape
    ``(N, H)`` writes ``xᵀ · dout`` into ``grads[0]`` and returns ``dout · Wᵀ`` (N, D).
    """

    def __init__(self, W: NDArray) -> None:
        super().__init__(W)
        if self.W.ndim != 2:
            raise ShapeError(f"MatMul needs W of shape (D, H), got {self.W.shape}")
        self.x: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        x = real_array(x)
        if x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            raise ShapeError(f"MatMul expects input of shape (N, {self.W.shape[0]}), got {x.shape}")
        if x.dtype.kind != "f":
            x = x.astype(self.W.dtype)  # one-hot int32 rows (ch. 3) must not make float64
        self.x = x
        return x @ self.W

    def backward(self, dout: NDArray) -> NDArray:
        x = _need(self.x, self)
        self.grads[0][...] = x.T @ dout
        return dout @ self.W.T

    def __repr__(self) -> str:
        return f"MatMul({self.W.shape[0]} -> {self.W.shape[1]}, {self.W.dtype})"


def _word_ids(idx: ArrayLike, vocab_size: int, layer: object) -> NDArray[np.intp]:
    """``idx`` as integer row numbers of a ``(vocab_size, D)`` matrix, checked."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise ShapeError(
            f"{type(layer).__name__} expects integer word ids, got dtype {idx.dtype}: pass "
            "the corpus ids (e.g. corpus[i:j]), not one-hot vectors"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ShapeError(
            f"{type(layer).__name__} has {vocab_size} rows; word ids must lie in "
            f"0..{vocab_size - 1}, got {idx.min()}..{idx.max()}"
        )
    return idx.astype(np.intp, copy=False)


def scatter_add_rows(dW: NDArray, idx: NDArray[np.intp], dout: NDArray) -> None:
    """``dW[idx[i]] += dout[i]`` for every ``i``, repeated ids added up (``np.add.at``).

    Sorting the ids and summing each run of equal ids with ``np.add.reduceat`` touches every
    row of ``dout`` once and writes each distinct row of ``dW`` once. Measured against
    ``np.add.at`` on NumPy 2.4, one BLAS thread, V=10,000, float32, on a busy 2-core machine
    (benchmarks/bench_word2vec.py): 1.4x faster for 100 or 700 ids at D=100, on par for 700
    ids at D=650 and for 5,000 ids. NumPy 2's ``np.add.at`` already has a fast path for this
    case; the ``dW[...] = 0`` before it (5 ms for D=650) now costs as much as the scatter.

    Parameters
    ----------
    dW : ndarray, shape (V, D)
        Updated in place.
    idx : ndarray of int, shape (N,)
    dout : ndarray, shape (N, D)
    """
    if idx.size == 0:
        return
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1])))
    dW[sorted_idx[starts]] += np.add.reduceat(dout[order], starts, axis=0)


class Embedding(_ListParams):
    """Row lookup ``y = W[idx]`` (book 2, ch. 4.1.3): the product of one-hot rows with ``W``
    without building them.

    Parameters
    ----------
    W : ndarray, shape (V, D)
        One D-dimensional vector per word id.

    ``forward(idx)`` takes integer ids of any shape ``S`` and returns ``(*S, D)``.
    ``backward(dout)`` sets ``grads[0]`` to zeros except the rows of the ids seen, which get
    the sum of their ``dout`` rows (an id seen twice gets both); it returns None, as ids have
    no gradient.
    """

    def __init__(self, W: NDArray) -> None:
        super().__init__(W)
        if self.W.ndim != 2:
            raise ShapeError(f"Embedding needs W of shape (V, D), got {self.W.shape}")
        self.idx: NDArray[np.intp] | None = None

    def forward(self, idx: ArrayLike) -> NDArray:
        idx = _word_ids(idx, self.W.shape[0], self)
        self.idx = idx
        return self.W[idx]

    def backward(self, dout: NDArray) -> None:
        idx = _need(self.idx, self)
        dout = np.asarray(dout)
        D = self.W.shape[1]
        if dout.shape != idx.shape + (D,):
            raise ShapeError(
                f"Embedding.backward needs dout of shape {idx.shape + (D,)}, got {dout.shape}"
            )
        dW = self.grads[0]
        dW[...] = 0
        scatter_add_rows(dW, idx.reshape(-1), dout.reshape(-1, D))
        return None

    def __repr__(self) -> str:
        return f"Embedding({self.W.shape[0]} words, {self.W.shape[1]} dims, {self.W.dtype})"


class SigmoidWithLoss:
    """Sigmoid followed by the binary cross-entropy loss, fused (book 2, ch. 4.2.3).

    ``forward(x, t)`` takes scores ``x`` and 0/1 labels ``t`` of the same shape (``(N,)`` in
    the book) and returns the mean of ``-log y`` for ``t = 1`` and ``-log(1 - y)`` for
    ``t = 0``, ``y = sigmoid(x)``; it is computed as ``log(1 + exp(x)) - t·x`` with
    ``np.logaddexp``, so extreme scores give a finite loss (the book adds 1e-7 inside the log
    instead). ``backward(dout=1)`` returns ``dout * (y - t) / n``, ``n`` the number of scores.
    """

    def __init__(self) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.y: NDArray | None = None
        self.t: NDArray | None = None
        self.loss: float | None = None

    def forward(self, x: NDArray, t: ArrayLike) -> float:
        x = as_float_array(x)
        t = real_array(t)
        if t.shape != x.shape:
            raise ShapeError(
                f"SigmoidWithLoss needs labels t of the scores' shape {x.shape}, got {t.shape}"
            )
        if x.size == 0:
            raise ShapeError("the loss of an empty batch is undefined: give at least one sample")
        self.t = t.astype(x.dtype, copy=False)
        self.y = sigmoid(x)
        self.loss = float(np.mean(np.logaddexp(0, x) - self.t * x))
        return self.loss

    def backward(self, dout: float = 1.0) -> NDArray:
        y = _need(self.y, self)
        dx = y - self.t
        dx *= dout / y.size
        return dx
