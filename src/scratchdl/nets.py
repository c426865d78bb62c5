"""Networks built from layers (chapters 4 and 5).

Every network keeps the book's surface, ``net.params['W1']``, ``predict``, ``loss``,
``accuracy``, ``numerical_gradient`` and ``gradient``, but each parameter array has exactly one
owner: the layer that uses it. ``net.params`` is a live view onto the layers, so reading
``net.params['W1']`` gives the very array ``predict`` uses, updating it in place (``-=``) is
seen at once, and rebinding ``net.params['W1'] = new`` rebinds the layer's array (after checking
its shape). The book's trap, a dict whose entries silently stop being the arrays in use, cannot
happen.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.functions import cross_entropy_error, softmax, split_labels
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import (
    Affine,
    Convolution,
    Dropout,
    Layer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from scratchdl.util import conv_output_size

__all__ = [
    "MultiLayerNet",
    "Net",
    "ParamView",
    "ConvNet",
    "DeepConvNet",
    "SimpleConvNet",
    "SimpleNet",
    "TwoLayerNet",
    "init_std",
]

ACTIVATIONS: dict[str, type[Layer]] = {"relu": Relu, "sigmoid": Sigmoid}
EVAL_BATCH = 2000  # rows per chunk in accuracy(): keeps memory flat for any set size


def _resolve_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"network dtype must be float32 or float64, got {dt}")
    return dt


class ParamView(MutableMapping[str, NDArray]):
    """``net.params``: a dict-like live view of a network's parameters.

    Keys are fixed (``W1``, ``b1``, ...). Setting a key checks the shape, casts to the network's
    dtype and rebinds the owning layer's array.
    """

    def __init__(self, owners: dict[str, tuple[Any, str]], dtype: np.dtype) -> None:
        self._owners = owners
        self._dtype = dtype

    def __getitem__(self, key: str) -> NDArray:
        owner, attr = self._owners[key]
        return getattr(owner, attr)

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        if key not in self._owners:
            raise KeyError(
                f"{key!r} is not a parameter of this network; it has {list(self._owners)}"
            )
        owner, attr = self._owners[key]
        current = getattr(owner, attr)
        if value is current:
            return  # ``params[k] -= g`` updates in place, then re-sets the same array
        value = np.asarray(value)
        if value.shape != current.shape:
            raise ShapeError(f"params[{key!r}] must keep shape {current.shape}, got {value.shape}")
        setattr(owner, attr, np.array(value, dtype=self._dtype, copy=True))

    def __delitem__(self, key: str) -> None:
        raise TypeError("network parameters cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._owners)

    def __len__(self) -> int:
        return len(self._owners)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self.items())
        return f"ParamView({{{body}}})"


class Net:
    """Base of the layered networks: a list of layers ending in :class:`SoftmaxWithLoss`.

    Subclasses build ``self.layers`` and call :meth:`_bind_params`.
    """

    layers: list[Layer]
    last_layer: SoftmaxWithLoss
    dtype: np.dtype
    #: Features per sample ``D`` and classes ``C``: ``predict`` maps (N, D) to (N, C).
    input_size: int
    output_size: int
    weight_decay_lambda: float = 0.0

    def _bind_params(self) -> None:
        owners: dict[str, tuple[Any, str]] = {}
        self._grad_owners: dict[str, tuple[Any, str]] = {}
        index = 0
        for layer in self.layers:
            if not layer.param_names:
                continue
            index += 1
            for attr in layer.param_names:
                owners[f"{attr}{index}"] = (layer, attr)
                self._grad_owners[f"{attr}{index}"] = (layer, f"d{attr}")
        self._owners = owners
        self.params = ParamView(owners, self.dtype)

    # -- forward -----------------------------------------------------------------------------
    def _as_batch(self, x: ArrayLike) -> tuple[NDArray, bool]:
        """``x`` as a batch, and whether it was one 1-D sample ``(D,)`` (now ``(1, D)``)."""
        x = np.asarray(x)
        if x.ndim >= 2:
            return x, False
        d = self.input_size
        expected = f"one sample of shape ({d},) or a batch of shape (N, {d})"
        if x.ndim == 0:
            raise ShapeError(f"{type(self).__name__} expects {expected}, got a scalar")
        if x.shape[0] != d:
            raise ShapeError(
                f"{type(self).__name__} expects {expected}, got a 1-D input of length {x.shape[0]}"
            )
        return x[np.newaxis], True

    def predict(self, x: ArrayLike) -> NDArray:
        """Scores (before softmax): shape (N, C) for a batch ``x`` of shape (N, D) (or images
        (N, 1, 28, 28)), shape (C,) for one sample of shape (D,), as ``np.dot`` gives in the
        book's chapter 3 loop ``for i in range(len(x)): y = network.predict(x[i])``.

        Raises :class:`~scratchdl.errors.ShapeError` for any other shape.
        """
        x, single = self._as_batch(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x[0] if single else x

    def _weight_decay(self) -> float:
        if not self.weight_decay_lambda:
            return 0.0
        return (
            0.5
            * self.weight_decay_lambda
            * sum(float(np.sum(layer.W**2)) for layer in self.layers if isinstance(layer, Affine))
        )

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """Mean cross-entropy of softmax(predict(x)) against ``t`` (labels or one-hot).

        With ``weight_decay_lambda`` it adds ``0.5 * lambda * Σ ||W||²``. One sample ``x`` of
        shape (D,) with a scalar label (or a (C,) one-hot ``t``) counts as a batch of one.
        """
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        return self.last_layer.forward(self.predict(x), t) + self._weight_decay()

    def accuracy(self, x: ArrayLike, t: ArrayLike, batch_size: int = EVAL_BATCH) -> float:
        """Fraction of rows whose highest score is the label, evaluated in chunks.

        ``t`` may be integer labels (N,) or one-hot (N, C).
        """
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        n = x.shape[0]
        if n == 0:
            raise ShapeError("accuracy of an empty set is undefined: give at least one sample")
        correct = 0
        for start in range(0, n, batch_size):
            scores = self.predict(x[start : start + batch_size])
            labels, onehot = split_labels(t[start : start + batch_size], scores.shape)
            if labels is None:
                labels = np.argmax(onehot, axis=1)
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == labels))
        return correct / n

    # -- gradients ---------------------------------------------------------------------------
    def numerical_gradient(self, x: ArrayLike, t: ArrayLike, h: float = 1e-4) -> dict[str, NDArray]:
        """Gradient of :meth:`loss` for every parameter by central differences (slow).

        The differences are always taken in float64, on a float64 copy of this network and a
        float64 copy of ``x``, whatever the network's dtype: in float32, rounding in
        ``(f(w + h) - f(w - h)) / 2h`` with ``h = 1e-4`` alone costs about 1e-4, which would swamp
        the book's chapter 5 comparison with :meth:`gradient` (about 1e-10 in float64). The
        results are returned in the network's dtype, and the network itself is left exactly as
        it was (parameters bit for bit, and the layers' cached forward state).
        """
        net64 = self.astype(np.float64)
        x64 = np.asarray(x, dtype=np.float64)

        def loss_w(_: NDArray) -> float:
            return net64.loss(x64, t)

        return {
            key: numerical_gradient(loss_w, net64.params[key], h=h).astype(self.dtype, copy=False)
            for key in net64.params
        }

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """Gradient of :meth:`loss` for every parameter by backpropagation.

        Returns fresh arrays keyed like ``params``.
        """
        return self.loss_and_gradient(x, t)[1]

    def loss_and_gradient(self, x: ArrayLike, t: ArrayLike) -> tuple[float, dict[str, NDArray]]:
        """:meth:`loss` and :meth:`gradient` from one forward and one backward pass.

        A training step needs both; calling the two methods would run the forward pass twice.
        """
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1.0)
        first, *rest = self.layers
        for layer in reversed(rest):
            dout = layer.backward(dout)
        if isinstance(first, Affine):
            first.backward_params(dout)  # the input's gradient would be thrown away
        else:
            first.backward(dout)
        grads = {}
        for key, (layer, attr) in self._grad_owners.items():
            g = getattr(layer, attr)
            if self.weight_decay_lambda and attr == "dW":
                g = g + self.weight_decay_lambda * layer.W
            grads[key] = g
        return loss, grads

    # -- copies ------------------------------------------------------------------------------
    def copy(self) -> Net:
        """An independent deep copy (parameters and all)."""
        return copy.deepcopy(self)

    def astype(self, dtype: DTypeLike) -> Net:
        """A copy of this network with parameters in ``dtype``."""
        dt = _check_dtype(dtype)
        clone = self.copy()
        clone.dtype = dt
        clone.params._dtype = dt
        for key in clone.params:
            owner, attr = clone._owners[key]
            setattr(owner, attr, getattr(owner, attr).astype(dt))
        return clone


def init_std(weight_init_std: float | str, fan_in: int) -> float:
    """Standard deviation of a layer's initial weights.

    ``'he'`` (or ``'relu'``) gives ``sqrt(2 / fan_in)``, ``'xavier'`` (or ``'sigmoid'``) gives
    ``sqrt(1 / fan_in)``, a number is used as it is (the book's default is 0.01).
    """
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in ("he", "relu"):
            return float(np.sqrt(2.0 / fan_in))
        if name in ("xavier", "sigmoid"):
            return float(np.sqrt(1.0 / fan_in))
        raise ConfigError(
            f"unknown weight_init_std {weight_init_std!r}: use a number, 'he' or 'xavier'"
        )
    std = float(weight_init_std)
    if not np.isfinite(std) or std <= 0:
        raise ConfigError(
            f"weight_init_std must be a positive number, 'he' or 'xavier', got {weight_init_std!r}"
        )
    return std


class MultiLayerNet(Net):
    """Fully connected net of any depth: (Affine–activation) × L, Affine, SoftmaxWithLoss.

    Parameters
    ----------
    input_size : int
        Features per sample ``D`` (784 for MNIST).
    hidden_size_list : sequence of int
        Width of each hidden layer; its length is the depth.
    output_size : int
        Number of classes ``C``.
    activation : {'relu', 'sigmoid'}
    weight_init_std : float or {'he', 'xavier'}
        Initial weights are ``std * N(0, 1)``; biases start at 0.
    weight_decay_lambda : float
        L2 penalty ``0.5 * lambda * Σ ||W||²`` added to the loss.
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
        Source of the initial weights.

    Parameters are named ``W1, b1, ..., W{L+1}, b{L+1}``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = 0.01,
        weight_decay_lambda: float = 0.0,
        *,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        sizes = [input_size, *hidden_size_list, output_size]
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ConfigError(f"layer sizes must be positive integers, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {activation!r}: use one of {sorted(ACTIVATIONS)}"
            )
        if weight_decay_lambda < 0:
            raise ConfigError(f"weight_decay_lambda must be >= 0, got {weight_decay_lambda}")
        self.input_size = int(input_size)
        self.hidden_size_list = [int(s) for s in hidden_size_list]
        self.output_size = int(output_size)
        self.activation = activation
        self.weight_init_std = weight_init_std
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.dtype = _check_dtype(dtype)
        # Filled by scratchdl.io.load_model from the file's record (dataset, config, ...).
        self.metadata: dict[str, Any] = {}
        gen = _resolve_rng(rng)
        self.layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            std = init_std(weight_init_std, fan_in)
            # Drawn in float64 and then cast, so one seed gives the same net in either dtype.
            W = (std * gen.standard_normal((fan_in, fan_out))).astype(self.dtype)
            self.layers.append(Affine(W, np.zeros(fan_out, dtype=self.dtype)))
            if i < len(sizes) - 2:
                self.layers.append(ACTIVATIONS[activation]())
        self.last_layer = SoftmaxWithLoss()
        self._bind_params()

    def config(self) -> dict[str, Any]:
        """The architecture record: enough to rebuild this network's shape."""
        return {
            "class": type(self).__name__,
            "input_size": self.input_size,
            "hidden_size_list": list(self.hidden_size_list),
            "output_size": self.output_size,
            "activation": self.activation,
            "weight_init_std": self.weight_init_std,
            "weight_decay_lambda": self.weight_decay_lambda,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        sizes = "-".join(
            str(s) for s in [self.input_size, *self.hidden_size_list, self.output_size]
        )
        return f"{type(self).__name__}({sizes}, {self.activation}, {self.dtype.name})"


class TwoLayerNet(MultiLayerNet):
    """The book's two-layer net: Affine–ReLU–Affine with SoftmaxWithLoss.

    ``activation='sigmoid'`` gives the chapter 4 variant. Parameters ``W1, b1, W2, b2``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float | str = 0.01,
        *,
        activation: str = "relu",
        weight_decay_lambda: float = 0.0,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size,
            [hidden_size],
            output_size,
            activation=activation,
            weight_init_std=weight_init_std,
            weight_decay_lambda=weight_decay_lambda,
            dtype=dtype,
            rng=rng,
        )

    @property
    def hidden_size(self) -> int:
        return self.hidden_size_list[0]


class SimpleNet(Net):
    """The notes' 2×3 example: ``predict(x) = x · W``, loss = CEE(softmax(predict(x)), t).

    Parameters
    ----------
    W : array_like, shape (2, 3), optional
        Weights; by default drawn from ``N(0, 1)`` with ``rng``.
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
    """

    input_size = 2
    output_size = 3

    def __init__(
        self,
        W: ArrayLike | None = None,
        *,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.dtype = _check_dtype(dtype)
        # Filled by scratchdl.io.load_model from the file's record (dataset, config, ...).
        self.metadata: dict[str, Any] = {}
        if W is None:
            W = _resolve_rng(rng).standard_normal((2, 3))
        W = np.array(W, dtype=self.dtype, copy=True)
        if W.shape != (2, 3):
            raise ShapeError(f"SimpleNet weights must have shape (2, 3), got {W.shape}")
        self.W = W
        self.dW: NDArray | None = None
        self.param_names = ("W",)
        self._owners = {"W": (self, "W")}
        self._grad_owners = {"W": (self, "dW")}
        self.params = ParamView(self._owners, self.dtype)

    def __repr__(self) -> str:
        return f"SimpleNet(2-3, {self.dtype.name})"

    def predict(self, x: ArrayLike) -> NDArray:
        """Scores ``x · W``, shape (3,) or (N, 3)."""
        return np.dot(x, self.W)

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The book's ``cross_entropy_error(softmax(x · W), t)``."""
        return cross_entropy_error(softmax(self.predict(x)), t)

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """Analytic gradient ``xᵀ · (softmax(x · W) - t) / N`` (ignoring the tiny ``delta``)."""
        x = np.asarray(x, dtype=self.dtype)
        y = softmax(self.predict(x))
        labels, onehot = split_labels(t, y.shape)
        target = onehot if labels is None else np.eye(y.shape[-1], dtype=self.dtype)[labels]
        x2, dy = x.reshape(-1, 2), (y - target).reshape(-1, 3)
        self.dW = x2.T @ dy / x2.shape[0]
        return {"W": self.dW}


# -- chapters 7 and 8: convolutional networks ---------------------------------------------------


class ConvNet(Net):
    """Base of the convolutional networks: images in, layers that may take ``train_flg``.

    ``predict`` accepts a batch of images (N, C, H, W), a batch of flat rows (N, C*H*W) (as
    ``load_mnist(flatten=True)`` gives), or one sample (C, H, W) or (C*H*W,) which gives scores
    of shape (C,). Layers marked ``train_flg_aware`` (Dropout, BatchNormalization) get
    ``train_flg``: ``loss`` (and so ``gradient``) runs in training mode, ``predict`` and
    ``accuracy`` in test mode, as in the book's ``DeepConvNet``.
    """

    input_dim: tuple[int, int, int]
    #: Images per chunk in ``accuracy``: im2col makes a few hundred kB per image.
    eval_batch = 200

    def _as_batch(self, x: ArrayLike) -> tuple[NDArray, bool]:
        x = np.asarray(x)
        dim = self.input_dim
        if x.shape == dim or x.shape == (self.input_size,):
            return x.reshape(1, *dim), True
        if x.ndim == 4 and x.shape[1:] == dim:
            return x, False
        if x.ndim == 2 and x.shape[1] == self.input_size:
            return x.reshape(x.shape[0], *dim), False
        raise ShapeError(
            f"{type(self).__name__} expects images of shape (N, {dim[0]}, {dim[1]}, {dim[2]}) or "
            f"(N, {self.input_size}), or one image, got shape {x.shape}"
        )

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:
        """Scores (N, C) for images (N, C, H, W) or rows (N, C*H*W); (C,) for one image."""
        x, single = self._as_batch(x)
        for layer in self.layers:
            if getattr(layer, "train_flg_aware", False):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x[0] if single else x

    def loss(self, x: ArrayLike, t: ArrayLike, train_flg: bool = True) -> float:
        """Mean cross-entropy of softmax(predict(x, train_flg)) against ``t``."""
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        return self.last_layer.forward(self.predict(x, train_flg), t) + self._weight_decay()

    def accuracy(self, x: ArrayLike, t: ArrayLike, batch_size: int | None = None) -> float:
        return super().accuracy(x, t, batch_size or self.eval_batch)


def _conv_settings(conv_param: dict[str, int] | None, default: dict[str, int]) -> dict[str, int]:
    conv = dict(default)
    if conv_param is not None:
        unknown = set(conv_param) - set(conv)
        if unknown:
            raise ConfigError(
                f"unknown conv_param keys {sorted(unknown)}: use filter_num, filter_size, pad, stride"
            )
        conv.update(conv_param)
    for key, value in conv.items():
        low = 0 if key == "pad" else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"conv_param[{key!r}] must be an integer >= {low}, got {value!r}")
    return {k: int(v) for k, v in conv.items()}


def _input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dim = tuple(input_dim)
    if len(dim) != 3 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in dim
    ):
        raise ConfigError(f"input_dim must be (C, H, W) of positive integers, got {input_dim!r}")
    return int(dim[0]), int(dim[1]), int(dim[2])


class SimpleConvNet(ConvNet):
    """The book's chapter 7 network (ch. 7.5):
    Conv1–Relu1–Pool1–Affine1–Relu2–Affine2, with SoftmaxWithLoss.

    Parameters
    ----------
    input_dim : tuple (C, H, W)
        Shape of one image (1, 28, 28 for MNIST).
    conv_param : dict
        ``filter_num``, ``filter_size``, ``pad``, ``stride`` of the convolution (the book's
        default 30 filters of 5x5, pad 0, stride 1).
    hidden_size : int
        Width of the hidden affine layer.
    output_size : int
        Number of classes.
    weight_init_std : float or {'he', 'xavier'}
        Initial weights are ``std * N(0, 1)`` (the book: 0.01); biases start at 0.
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional

    Parameters are named as in the book: ``W1`` (FN, C, FH, FW) and ``b1`` for the
    convolution, ``W2``/``b2`` and ``W3``/``b3`` for the two affine layers. The pooling is
    2x2 with stride 2.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param: dict[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float | str = 0.01,
        *,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.input_dim = C, H, W = _input_dim(input_dim)
        self.conv_param = _conv_settings(
            conv_param, {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        )
        for name, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.hidden_size = int(hidden_size)
        self.output_size = int(output_size)
        self.input_size = C * H * W
        self.weight_init_std = weight_init_std
        self.dtype = _check_dtype(dtype)
        self.metadata: dict[str, Any] = {}
        gen = _resolve_rng(rng)
        fn, fs = self.conv_param["filter_num"], self.conv_param["filter_size"]
        stride, pad = self.conv_param["stride"], self.conv_param["pad"]
        try:
            conv_h = conv_output_size(H, fs, stride, pad)
            conv_w = conv_output_size(W, fs, stride, pad)
        except ShapeError as exc:
            raise ConfigError(
                f"conv_param does not fit input_dim {self.input_dim}: {exc}"
            ) from None
        if conv_h < 2 or conv_w < 2:
            raise ConfigError(
                f"conv_param leaves a {conv_h}x{conv_w} image, too small for the 2x2 pooling"
            )
        pool_size = fn * (conv_h // 2) * (conv_w // 2)

        def weights(shape: tuple[int, ...], fan_in: int) -> NDArray:
            # Drawn in float64 and then cast, so one seed gives the same net in either dtype.
            std = init_std(weight_init_std, fan_in)
            return (std * gen.standard_normal(shape)).astype(self.dtype)

        def zeros(n: int) -> NDArray:
            return np.zeros(n, dtype=self.dtype)

        hidden, out = self.hidden_size, self.output_size
        self.layers = [
            Convolution(weights((fn, C, fs, fs), C * fs * fs), zeros(fn), stride, pad),
            Relu(),
            Pooling(pool_h=2, pool_w=2, stride=2),
            Affine(weights((pool_size, hidden), pool_size), zeros(hidden)),
            Relu(),
            Affine(weights((hidden, out), hidden), zeros(out)),
        ]
        self.last_layer = SoftmaxWithLoss()
        self.layers[0].need_dx = False
        self._bind_params()

    def config(self) -> dict[str, Any]:
        """The architecture record: enough to rebuild this network's shape."""
        return {
            "class": type(self).__name__,
            "input_dim": list(self.input_dim),
            "conv_param": dict(self.conv_param),
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "weight_init_std": self.weight_init_std,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        c = self.conv_param
        return (
            f"SimpleConvNet({'x'.join(map(str, self.input_dim))}, conv {c['filter_num']}x"
            f"{c['filter_size']}x{c['filter_size']}, {self.hidden_size}, {self.output_size}, "
            f"{self.dtype.name})"
        )


#: The book's DeepConvNet convolutions (ch. 8.1.1); the fourth pads by 2, as in its code.
DEEP_CONV_PARAMS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


class DeepConvNet(ConvNet):
    """The book's chapter 8 network (ch. 8.1.1), over 99% on MNIST::

        conv - relu - conv - relu - pool -
        conv - relu - conv - relu - pool -
        conv - relu - conv - relu - pool -
        affine - relu - dropout - affine - dropout - softmax

    Parameters
    ----------
    input_dim : tuple (C, H, W)
    conv_param_1, ..., conv_param_6 : dict, optional
        ``filter_num``, ``filter_size``, ``pad``, ``stride`` of each convolution; the book's
        defaults are 16, 16, 32, 32, 64, 64 filters of 3x3, stride 1, pad 1 (pad 2 for the
        fourth). Pooling is 2x2 with stride 2 after every second convolution.
    hidden_size, output_size : int
        The two affine layers (the book: 50 and 10).
    dropout_ratio : float
        Both Dropout layers (the book: 0.5); test-time scaling as the book (see
        :class:`~scratchdl.layers.Dropout`).
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
        Source of the initial weights (He: ``sqrt(2 / fan_in)``) and of the dropout masks.

    Parameters ``W1..W6``/``b1..b6`` are the convolutions, ``W7``/``b7`` and ``W8``/``b8``
    the affine layers, as in the book.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param_1: dict[str, int] | None = None,
        conv_param_2: dict[str, int] | None = None,
        conv_param_3: dict[str, int] | None = None,
        conv_param_4: dict[str, int] | None = None,
        conv_param_5: dict[str, int] | None = None,
        conv_param_6: dict[str, int] | None = None,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        dropout_ratio: float = 0.5,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.input_dim = C, H, W = _input_dim(input_dim)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        self.conv_params = [
            _conv_settings(p, default) for p, default in zip(given, DEEP_CONV_PARAMS, strict=True)
        ]
        for name, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.hidden_size = int(hidden_size)
        self.output_size = int(output_size)
        self.dropout_ratio = float(dropout_ratio)
        self.input_size = C * H * W
        self.dtype = _check_dtype(dtype)
        self.metadata: dict[str, Any] = {}
        gen = _resolve_rng(rng)

        def he(shape: tuple[int, ...], fan_in: int) -> NDArray:
            return (np.sqrt(2.0 / fan_in) * gen.standard_normal(shape)).astype(self.dtype)

        def zeros(n: int) -> NDArray:
            return np.zeros(n, dtype=self.dtype)

        self.layers = []
        channels, h, w = C, H, W
        for i, p in enumerate(self.conv_params):
            fn, fs = p["filter_num"], p["filter_size"]
            try:
                h = conv_output_size(h, fs, p["stride"], p["pad"])
                w = conv_output_size(w, fs, p["stride"], p["pad"])
            except ShapeError as exc:
                raise ConfigError(f"conv_param_{i + 1} does not fit: {exc}") from None
            W_i = he((fn, channels, fs, fs), channels * fs * fs)
            self.layers += [Convolution(W_i, zeros(fn), p["stride"], p["pad"]), Relu()]
            channels = fn
            if i % 2 == 1:
                if h < 2 or w < 2:
                    raise ConfigError(
                        f"the image is {h}x{w} before pooling {i // 2 + 1}: too small"
                    )
                h, w = h // 2, w // 2
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
        flat = channels * h * w
        self.layers += [
            Affine(he((flat, self.hidden_size), flat), zeros(self.hidden_size)),
            Relu(),
            Dropout(self.dropout_ratio, rng=gen),
            Affine(
                he((self.hidden_size, self.output_size), self.hidden_size), zeros(self.output_size)
            ),
            Dropout(self.dropout_ratio, rng=gen),
        ]
        self.last_layer = SoftmaxWithLoss()
        self.layers[0].need_dx = False
        self._bind_params()

    def config(self) -> dict[str, Any]:
        """The architecture record: enough to rebuild this network's shape."""
        return {
            "class": type(self).__name__,
            "input_dim": list(self.input_dim),
            **{f"conv_param_{i + 1}": dict(p) for i, p in enumerate(self.conv_params)},
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "dropout_ratio": self.dropout_ratio,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        filters = ",".join(str(p["filter_num"]) for p in self.conv_params)
        return (
            f"DeepConvNet({'x'.join(map(str, self.input_dim))}, conv {filters}, "
            f"{self.hidden_size}, {self.output_size}, {self.dtype.name})"
        )
