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
from scratchdl.util import col2im, conv_output_size, im2col_channels_last

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


#: Bytes of column matrix a convolution builds at a time: small enough to stay in the CPU's
#: cache between the copy that writes it and the matrix product that reads it. Measured on
#: (100, 16, 28, 28) images, chunks of about this size made the forward pass 1.5x faster than
#: one 45 MB matrix for the whole batch.
CHUNK_BYTES = 1 << 20
#: A column matrix up to this size is built whole and kept from forward to backward (the
#: first layer's, on one channel: 3-6 MB); larger ones are built again in backward, chunk by
#: chunk, which measured faster than keeping them (they would not stay in cache).
KEEP_BYTES = 8 << 20
#: ... but no more than this many chunks per layer and pass (so larger ones for conv2): each
#: chunk is a few matrix products, and with several BLAS threads on a busy machine every
#: product waits until all its threads get a core (measured there: 50 chunks for conv2 made a
#: 2-thread step several times slower than the previous whole-batch layers). At one thread,
#: 16 chunks cost about 1 % against chunks of exactly CHUNK_BYTES.
MAX_CHUNKS = 16


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
            if m < 1:
                # Checked before the running statistics move: an empty batch would make them
                # NaN for good. (One value per feature is allowed, as in the book, whose
                # ch06/batch_norm_gradient_check.py uses a batch of one: it normalises to 0,
                # so there is nothing to learn; `scratchdl train` refuses such batches.)
                per = "per channel (N*H*W)" if x2.ndim == 4 else "per feature (N)"
                raise ShapeError(
                    f"BatchNormalization in training needs at least 1 value {per} to take "
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
    ``dW`` (FN, C, FH, FW) and ``db`` (FN,) and returns ``dx`` (N, C, H, W) (None when
    ``need_dx`` is False).

    The book's arithmetic, arranged for speed (the results are the same numbers):

    * **Channels last in memory.** The product ``col · Wᵀ`` comes out as (N*out_h*out_w, FN),
      that is (N, out_h, out_w, FN) in memory; the book copies it into (N, FN, out_h, out_w)
      with a transpose. Here ``forward`` returns the transposed *view* (shape (N, FN, out_h,
      out_w), channels last in memory), and the next layers keep that layout, so no
      activation is ever transposed by a copy.
    * **Columns by filter offset.** :func:`~scratchdl.util.im2col_channels_last` writes the
      column matrix once, one slice per filter offset, with columns ordered ``(fy, fx, c)``
      (the book: ``(c, fy, fx)``), so the filters are used as
      ``W.transpose(0, 2, 3, 1).reshape(FN, -1)``. The matrix lives in a buffer of the layer
      that is reused from step to step (tens of MB that are not allocated again).
    * **dx as a convolution.** The book computes ``dcol = dout · W_col`` (as large as ``col``)
      and folds it back with ``col2im``, adding overlapping windows. For stride 1 the same sum
      is a convolution of ``dout`` (padded by ``FH-1-pad``) with the filters turned by 180
      degrees and their two channel axes swapped: one more ``im2col`` and one product,
      no scattered additions. Other strides use ``col2im`` as the book does.
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
        self.x: NDArray | None = None
        self.kept_col: NDArray | None = None
        self.dW: NDArray | None = None
        self.db: NDArray | None = None
        self._buffers: dict[str, dict[str, NDArray]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Copies and pickles of a layer leave the scratch buffers (tens of MB) behind.
        state = self.__dict__.copy()
        state["_buffers"], state["kept_col"] = {}, None  # backward then builds it again
        return state

    def _columns(self, x: NDArray, pad: int | tuple[int, int], key: str) -> NDArray:
        FN, C, FH, FW = self.W.shape
        scratch = self._buffers.setdefault(key, {})
        return im2col_channels_last(x, FH, FW, self.stride, pad, scratch=scratch)

    def _chunks(self, N: int, rows_per_image: int, cols: int, itemsize: int):
        """Image ranges ``(start, stop)`` whose column matrix is about 1 MB (fits in cache)."""
        step = max(1, CHUNK_BYTES // max(1, rows_per_image * cols * itemsize), -(-N // MAX_CHUNKS))
        return [(s, min(s + step, N)) for s in range(0, N, step)]

    def forward(self, x: NDArray) -> NDArray:
        x = as_float_array(x)
        FN, C, FH, FW = self.W.shape
        _check_images(x, self, C)
        N, _, H, W = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        W_col = self.W.transpose(0, 2, 3, 1).reshape(FN, -1)  # (FN, FH*FW*C), a small copy
        rows = out_h * out_w
        out = np.empty((N * rows, FN), dtype=np.result_type(x, self.W))
        # A small column matrix (a first layer on one channel) is built whole and kept for
        # backward; a large one in chunks, which backward builds again.
        keep = N * rows * W_col.shape[1] * x.itemsize <= KEEP_BYTES
        chunks = [(0, N)] if keep else self._chunks(N, rows, W_col.shape[1], x.itemsize)
        for start, stop in chunks:
            col = self._columns(x[start:stop], self.pad, "kept" if keep else "col")
            part = out[start * rows : stop * rows]
            np.matmul(col, W_col.T, out=part)  # (images*rows, FN)
            part += self.b
        self.x, self.kept_col = x, col if keep else None
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)  # a view, channels last

    def backward(self, dout: NDArray) -> NDArray | None:
        x = _need(self.x, self)
        FN, C, FH, FW = self.W.shape
        dout = np.asarray(dout)
        N, _, H, W = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        if dout.shape != (N, FN, out_h, out_w):
            raise ShapeError(
                f"Convolution.backward needs dout of shape {(N, FN, out_h, out_w)} (the last "
                f"forward's output), got {dout.shape}"
            )
        # Free when dout is channels-last in memory, as the layers here pass it.
        dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)  # (N*out_h*out_w, FN)
        # Σ over rows as a matrix-vector product: .sum(axis=0) of a tall (78400, 16) array
        # takes one small step per row and measured several times slower.
        self.db = np.ones(dout2.shape[0], dtype=dout2.dtype) @ dout2
        # dx = dout (padded by FH-1-pad) convolved with the turned, channel-swapped filters:
        # for stride 1; other strides fold dcol back with col2im as the book does.
        turned = self.need_dx and self.stride == 1 and self.pad < FH and self.pad < FW
        W_col = self.W.transpose(0, 2, 3, 1).reshape(FN, -1)
        W_turned = self.W[:, :, ::-1, ::-1].transpose(1, 2, 3, 0).reshape(C, -1)
        dtype = np.result_type(dout2, x)
        dW = np.zeros((FN, W_col.shape[1]), dtype=dtype)
        dx = np.empty((N * H * W, C), dtype=dtype) if turned else None
        dcols = []
        rows, in_rows = out_h * out_w, H * W
        if self.kept_col is not None:
            dW += (self.kept_col.T @ dout2).T  # the book's dot(col.T, dout)
        chunks = self._chunks(N, max(rows, in_rows), W_col.shape[1], x.itemsize)
        for start, stop in chunks if self.kept_col is None or self.need_dx else []:
            d2 = dout2[start * rows : stop * rows]
            if self.kept_col is None:
                col = self._columns(x[start:stop], self.pad, "col")
                dW += d2.T @ col  # the book's dot(col.T, dout), transposed: (FN, FH*FW*C)
            if not self.need_dx:
                continue
            if turned:
                pad = (FH - 1 - self.pad, FW - 1 - self.pad)
                dcol = self._columns(dout[start:stop], pad, "dcol")
                np.matmul(dcol, W_turned.T, out=dx[start * in_rows : stop * in_rows])
            else:
                dcols.append(d2 @ W_col)  # (rows, FH*FW*C)
        self.dW = np.ascontiguousarray(dW.reshape(FN, FH, FW, C).transpose(0, 3, 1, 2))
        if not self.need_dx:
            return None  # the network's first layer: the images' gradient would be thrown away
        if turned:
            return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # channels last in memory
        dcol = np.concatenate(dcols).reshape(-1, FH, FW, C).transpose(0, 3, 1, 2)
        return col2im(dcol.reshape(N * rows, -1), x.shape, FH, FW, self.stride, self.pad)

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

    The book unrolls the windows with ``im2col`` and takes ``np.max`` and ``np.argmax`` of each
    row. Here the loops run over the window offsets instead (``pool_h * pool_w`` steps, each
    over the whole batch at once, never over pixels): the running maximum and the offset where
    it was first reached, as one would find the maximum of a list by hand. ``forward`` caches
    only that offset for every window (one byte each), which is all ``backward`` needs. Images
    are read in whatever memory layout they come (channels last from a convolution) and the
    result keeps the layout: no copy of the input is made.
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

    def _windows(self, out_h: int, out_w: int) -> list[tuple[slice, ...]]:
        """For each window offset (row-major), the index of that element in every window,
        on images of shape (N, H, W, C)."""
        s = self.stride
        span_h, span_w = s * (out_h - 1) + 1, s * (out_w - 1) + 1
        return [
            (slice(None), slice(fy, fy + span_h, s), slice(fx, fx + span_w, s))
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
        x = x.transpose(0, 2, 3, 1)  # (N, H, W, C): channels last, a view
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-np.inf)
        windows = self._windows(out_h, out_w)
        out = x[windows[0]].copy()  # the running maximum, (N, out_h, out_w, C)
        arg_max = np.zeros(out.shape, dtype=np.uint8 if len(windows) < 256 else np.intp)
        larger = np.empty(out.shape, dtype=np.bool_)
        for k, window in enumerate(windows[1:], start=1):
            value = x[window]  # element k of every window
            np.greater(value, out, out=larger)  # strictly: on a tie the earlier one stays
            np.maximum(out, value, out=out)
            # ... and where it was reached: k where larger (a + 1*(k - a) = k), else a. This
            # blend measured 3x faster than ``arg_max[larger] = k`` (a masked store).
            arg_max += larger * (k - arg_max)
        self.arg_max, self.x_shape, self.x_dtype = arg_max, self._shape(x.shape), x.dtype
        return out.transpose(0, 3, 1, 2)  # (N, C, out_h, out_w), channels last in memory

    def _shape(self, padded_nhwc: tuple[int, ...]) -> tuple[int, int, int, int]:
        N, H, W, C = padded_nhwc
        return N, C, H - 2 * self.pad, W - 2 * self.pad

    def backward(self, dout: NDArray) -> NDArray:
        arg_max = _need(self.arg_max, self)
        dout = np.asarray(dout)
        N, C, H, W = self.x_shape
        if dout.shape != (N, C, *arg_max.shape[1:3]):
            raise ShapeError(
                f"Pooling.backward needs dout of shape {(N, C, *arg_max.shape[1:3])}, got "
                f"{dout.shape}"
            )
        dout = dout.transpose(0, 2, 3, 1)  # (N, out_h, out_w, C), like arg_max
        p = self.pad
        windows = self._windows(*arg_max.shape[1:3])
        out_h, out_w = arg_max.shape[1:3]
        overlap = self.stride < max(self.pool_h, self.pool_w)
        # Windows that tile the image exactly write every position once: no zeros needed.
        tiled = not overlap and not p and (out_h * self.stride, out_w * self.stride) == (H, W)
        shape = (N, H + 2 * p, W + 2 * p, C)
        dtype = np.result_type(dout, self.x_dtype)
        dx = np.empty(shape, dtype) if tiled else np.zeros(shape, dtype)
        for k, window in enumerate(windows):
            if overlap:
                dx[window] += dout * (arg_max == k)
            else:  # each position lies in one window at most: write its part directly
                np.multiply(dout, arg_max == k, out=dx[window])
        if p:
            dx = dx[:, p : p + H, p : p + W]
        return dx.transpose(0, 3, 1, 2)  # (N, C, H, W), channels last in memory

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
