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
from scratchdl.functions import cross_entropy_error, real_array, softmax, split_labels
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import Affine, Layer, Relu, Sigmoid, SoftmaxWithLoss

__all__ = [
    "MultiLayerNet",
    "Net",
    "ParamView",
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
        value = real_array(value)  # refuses strings, complex numbers, objects
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
        x = real_array(x)  # refuses strings, complex numbers, objects
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
        if (
            isinstance(weight_decay_lambda, bool)
            or not isinstance(weight_decay_lambda, (int, float, np.integer, np.floating))
            or not np.isfinite(weight_decay_lambda)
            or weight_decay_lambda < 0
        ):
            raise ConfigError(
                f"weight_decay_lambda must be a finite number >= 0, got {weight_decay_lambda!r}"
            )
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
        W = np.array(real_array(W), dtype=self.dtype, copy=True)
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
