"""Networks (ch. 4.5, 5.7, 6.1-6.4): one small contract, the book's layered nets on it.

**The Net contract.** Every network has

* ``params``: ``{'W1': ..., 'b1': ...}``, the arrays the network computes with;
* ``predict(x, train_flg=False)``: scores before softmax, (N, C);
* ``loss(x, t, train_flg=False)``: mean cross-entropy (plus weight decay, ch. 6.4.1);
* ``accuracy(x, t)``: fraction of correct answers;
* ``gradient(x, t)``: ``{key: dL/dparam}`` by backpropagation (ch. 5.7). Its forward pass
  computes the loss anyway, and it keeps it in ``last_loss``: a training step reads it there
  instead of running the forward pass a second time;
* ``numerical_gradient(x, t)``: the same by central differences (ch. 4.4, slow).

:class:`~scratchdl.train.Trainer`, :func:`~scratchdl.gradient.gradient_check`, the CLI and the
sweeps use nothing else. :class:`SimpleNet` (ch. 4.4.2) meets it directly; the layered networks
share :class:`LayerNet`: an ordered dict of named layers, ``predict`` a loop over them, and
``gradient`` the book's forward, backward through the reversed layers, collect.

**One owner per array.** ``net.params`` is a live view onto the layers: ``net.params['W1']`` is
the very array ``net.layers['Affine1'].W`` that ``predict`` uses, so updating it in place
(``-=``) is seen at once, and rebinding ``net.params['W1'] = new`` rebinds the layer's array
(after checking its shape). The book's trap, a dict whose entries silently stop being the arrays
in use, cannot happen.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from scratchdl.checks import (
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_positive_int,
    check_probability,
    generator_from_state,
    is_int,
)
from scratchdl.errors import ConfigError, ShapeError
from scratchdl.functions import (
    cross_entropy_error,
    log_softmax,
    real_array,
    softmax,
    split_labels,
)
from scratchdl.gradient import numerical_gradient
from scratchdl.layers import (
    Affine,
    BatchNormalization,
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
    "ACTIVATION_LAYERS",
    "EVAL_BATCH",
    "NET_CLASSES",
    "LayerNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Net",
    "ParamView",
    "ConvNet",
    "DeepConvNet",
    "Ensemble",
    "SimpleConvNet",
    "SimpleNet",
    "TwoLayerNet",
    "evaluate",
    "predict_in_chunks",
    "init_std",
]

#: Hidden activations by name, the book's ``activation_layer`` of ``MultiLayerNet`` (ch. 6.2).
ACTIVATION_LAYERS: dict[str, type[Layer]] = {"relu": Relu, "sigmoid": Sigmoid}

#: Rows per forward pass in :func:`evaluate`: memory stays flat for any set size (the
#: activations of a 784-100-100-10 net are a few MB), and BLAS still runs at full speed.
EVAL_BATCH = 10000


def _resolve_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"network dtype must be float32 or float64, got {dt}")
    return dt


def predict_in_chunks(
    net: Net, x: NDArray, batch_size: int = EVAL_BATCH
) -> Iterator[tuple[int, NDArray]]:
    """``(start, net.predict(x[start : start + batch_size]))`` for each chunk of ``x``: the one
    chunking rule of :func:`evaluate` and ``scratchdl evaluate``. A network with an
    ``eval_batch_size`` attribute (the CNNs, whose activations are large per sample) caps it.
    """
    batch_size = min(batch_size, getattr(net, "eval_batch_size", batch_size))
    for start in range(0, x.shape[0], batch_size):
        yield start, net.predict(x[start : start + batch_size])


def evaluate(
    net: Net, x: NDArray, t: ArrayLike, batch_size: int = EVAL_BATCH
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy (without weight decay) of ``net`` on ``(x, t)``.

    The set is run through ``net.predict`` in chunks of ``batch_size`` rows (views, no
    copies). This is the one evaluation of the package: :meth:`Net.accuracy`, the Trainer's
    records, ``scratchdl evaluate`` and the sweeps all use it.

    Parameters
    ----------
    net : Net
    x : ndarray, shape (N, ...)
    t : array_like
        Integer labels (N,) or one-hot targets (N, C).
    batch_size : int
        At most this many rows per pass; a network with an ``eval_batch_size`` attribute
        (the CNNs) caps it.

    Returns
    -------
    accuracy, loss : float
        ``loss`` is NaN or infinite for a diverged network (accuracy is still a number).
    """
    t = np.asarray(t)
    n = x.shape[0]
    if n == 0:
        raise ShapeError("cannot evaluate on an empty set: give at least one sample")
    correct = 0
    loss_sum = 0.0
    for start, scores in predict_in_chunks(net, x, batch_size):
        labels, onehot = split_labels(t[start : start + scores.shape[0]], scores.shape)
        log_y = log_softmax(scores)
        if labels is None:
            labels = onehot.argmax(axis=1)
            loss_sum -= float(np.sum(onehot * log_y))
        else:
            loss_sum -= float(np.sum(log_y[np.arange(log_y.shape[0]), labels]))
        correct += int(np.count_nonzero(scores.argmax(axis=1) == labels))
    return correct / n, loss_sum / n


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
    """The contract every network meets (see the module docstring).

    Subclasses set ``dtype``, ``input_size``, ``output_size`` and ``params`` (a
    :class:`ParamView` built by :meth:`_bind`), and define ``predict``, ``loss`` and
    ``gradient``; ``gradient`` stores the loss of its forward pass in ``last_loss``.
    ``accuracy``, ``numerical_gradient``, ``copy`` and ``astype`` come from here.
    """

    params: ParamView
    dtype: np.dtype
    #: Features per sample ``D`` and classes ``C``: ``predict`` maps (N, D) to (N, C).
    input_size: int
    output_size: int
    #: The loss computed by the forward pass of the latest :meth:`gradient` call.
    last_loss: float | None = None
    #: The file's record (dataset, config...), set by :func:`scratchdl.io.load_model`; a new
    #: network has none (a read-only empty mapping).
    metadata: Mapping[str, Any] = MappingProxyType({})

    def _bind(self, owners: dict[str, tuple[Any, str]]) -> None:
        """Make ``self.params`` the live view of ``{key: (owner, attribute)}``."""
        self._owners = owners
        self.params = ParamView(owners, self.dtype)

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:  # pragma: no cover
        raise NotImplementedError

    def loss(
        self, x: ArrayLike, t: ArrayLike, train_flg: bool = False
    ) -> float:  # pragma: no cover
        raise NotImplementedError

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:  # pragma: no cover
        raise NotImplementedError

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

    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float:
        """Fraction of samples whose highest score is the label (ch. 4.5.3), in chunks.

        ``t`` may be integer labels (N,) or one-hot (N, C); one sample (D,) with its label
        counts as a batch of one.
        """
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        if x.shape[0] == 0:
            raise ShapeError("accuracy of an empty set is undefined: give at least one sample")
        return evaluate(self, x, t)[0]

    def numerical_gradient(self, x: ArrayLike, t: ArrayLike, h: float = 1e-4) -> dict[str, NDArray]:
        """Gradient of ``loss(x, t, train_flg=True)`` for every parameter by central
        differences (ch. 4.4; slow).

        The differences are taken in float64, on a float64 copy of this network and of ``x``,
        whatever the network's dtype: in float32, rounding in ``(f(w + h) - f(w - h)) / 2h``
        with ``h = 1e-4`` alone costs about 1e-4, which would swamp the ch. 5.6.3 comparison
        with :meth:`gradient` (about 1e-10 in float64). The results come back in the network's
        dtype; the network itself is left exactly as it was.
        """
        net64 = self.astype(np.float64)
        x64 = np.asarray(x, dtype=np.float64)

        def loss_W(_: NDArray) -> float:
            return net64.loss(x64, t, train_flg=True)

        return {
            key: numerical_gradient(loss_W, net64.params[key], h=h).astype(self.dtype, copy=False)
            for key in net64.params
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything the network computes with, as copies (later training changes nothing).

        ``{'params': {'W1': ...}, 'layers': {'BatchNorm1/running_mean': ...}, 'rngs':
        {'Dropout1': ...}}``: the parameters, the arrays a layer keeps besides them (the
        running statistics of BatchNormalization, ch. 6.3, listed in its ``state_names``) and
        the states of the layers' own generators (Dropout masks, ch. 6.4.3), so that a copy
        predicts, and trains on, exactly as this network would.
        """
        layers = getattr(self, "layers", {})
        return {
            "params": {k: np.array(v, copy=True) for k, v in self.params.items()},
            "layers": {
                f"{name}/{attr}": np.array(getattr(layer, attr), copy=True)
                for name, layer in layers.items()
                for attr in getattr(layer, "state_names", ())
            },
            "rngs": {
                name: layer.rng.bit_generator.state
                for name, layer in layers.items()
                if isinstance(getattr(layer, "rng", None), np.random.Generator)
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy a :meth:`state_dict` into this network, in place (arrays in its dtype).

        Every parameter and layer array must be there with its shape; ``'rngs'`` may be left
        out (or hold only some layers), which leaves those generators as they are. Nothing
        changes unless all of it fits.

        Raises
        ------
        ShapeError
            If an array is missing, extra or of another shape.
        """
        layers = getattr(self, "layers", {})
        targets = {f"params/{k}": (self.params, k) for k in self.params}
        for name, layer in layers.items():
            for attr in getattr(layer, "state_names", ()):
                targets[f"layers/{name}/{attr}"] = (layer, attr)
        given = {
            f"{section}/{k}": v
            for section in ("params", "layers")
            for k, v in state.get(section, {}).items()
        }
        missing, extra = sorted(set(targets) - set(given)), sorted(set(given) - set(targets))
        if missing or extra:
            problem = f"lacks {', '.join(missing)}" if missing else f"has {', '.join(extra)}"
            raise ShapeError(
                f"the state {problem}, which {self!r} {'needs' if missing else 'does not have'}"
            )
        rngs = state.get("rngs", {})
        unknown = sorted(name for name in rngs if not hasattr(layers.get(name), "rng"))
        if unknown:
            raise ShapeError(f"the state has generators for {unknown}, which are no Dropout layers")
        # Built first, so that an unreadable one leaves the network as it was.
        generators = {
            name: generator_from_state(rng_state, f"the state's generator of {name}")
            for name, rng_state in rngs.items()
        }
        arrays = {}
        for key, (owner, attr) in targets.items():
            current = owner[attr] if owner is self.params else getattr(owner, attr)
            value = np.asarray(given[key])
            if value.shape != current.shape:
                raise ShapeError(f"{key} must have shape {current.shape}, got {value.shape}")
            arrays[key] = (current, value)
        for current, value in arrays.values():
            np.copyto(current, value, casting="same_kind")
        for name, rng in generators.items():
            layers[name].rng = rng

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """``{'W1': (784, 100), ...}``: the parameter shapes of ``cls(**config)``, worked out
        from ``config`` alone, with nothing allocated (a model file's arrays are compared with
        them before its network is built: sizes that each look small can multiply to terabytes).

        Raises
        ------
        ConfigError, TypeError
            If ``config`` gives sizes that do not fit together, or arguments the constructor
            does not take.
        """
        args = inspect.signature(cls).bind(**config)
        args.apply_defaults()
        return cls._shapes(**args.arguments)  # each class's own arithmetic

    def copy(self) -> Net:
        """An independent deep copy (parameters and all)."""
        return copy.deepcopy(self)

    def astype(self, dtype: DTypeLike) -> Net:
        """A copy of this network with parameters in ``dtype``."""
        dt = _check_dtype(dtype)
        clone = self.copy()
        clone.dtype = dt
        clone.params._dtype = dt
        for owner, attr in clone._owners.values():
            setattr(owner, attr, getattr(owner, attr).astype(dt))
        return clone


def init_std(weight_init_std: float | str, fan_in: int) -> float:
    """Standard deviation of a layer's initial weights (ch. 6.2).

    ``'he'`` (or the book's ``'relu'``) gives ``sqrt(2 / fan_in)``, ``'xavier'`` (or
    ``'sigmoid'``) gives ``sqrt(1 / fan_in)``, a number is used as it is.
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


class LayerNet(Net):
    """Base of the layered networks (ch. 5.7): named layers in order, then ``lastLayer``.

    A subclass fills ``self.layers`` (an ``OrderedDict`` such as ``Affine1, Relu1, Affine2``)
    and ``self.lastLayer``, then calls :meth:`_bind_layers`. Parameters are named after their
    layer's number, the book's convention: ``'Affine1'`` owns ``W1, b1``, ``'Conv2'`` owns
    ``W2, b2``, ``'BatchNorm1'`` owns ``gamma1, beta1`` (each layer lists its arrays in
    ``param_names``; the gradients are its ``d``-attributes, ``dW``, ``db``, ...).

    Layers that behave differently in training (Dropout, BatchNormalization, ch. 6.4) set the
    class attribute ``train_flg_aware = True`` and take ``forward(x, train_flg)``: ``predict``
    passes the flag to them only. ``gradient`` runs with ``train_flg=True``, ``accuracy`` with
    False.

    With ``weight_decay_lambda`` (ch. 6.4.1) the loss adds ``0.5 * lambda * Σ ||W||²`` over the
    parameters named ``W``, and ``gradient`` adds ``lambda * W`` to their gradients.
    """

    layers: OrderedDict[str, Layer]
    lastLayer: SoftmaxWithLoss  # noqa: N815 - the book's name
    weight_decay_lambda: float = 0.0

    @property
    def last_layer(self) -> SoftmaxWithLoss:
        """``lastLayer`` by its Pythonic name (the same object)."""
        return self.lastLayer

    def _bind_layers(self, numbers: dict[str, int] | None = None) -> None:
        """Name the parameters after their layers and bind ``params``.

        A layer's parameters get the number its name ends with (``Affine1`` -> ``W1``, ``b1``),
        unless ``numbers`` gives it another: the book's SimpleConvNet (ch. 7.5) has ``Conv1``
        own ``W1`` but ``Affine1`` own ``W2``, i.e. ``numbers={'Affine1': 2, 'Affine2': 3}``.
        Two layers claiming one name is an error.
        """
        owners: dict[str, tuple[Any, str]] = {}
        for name, layer in self.layers.items():
            if not layer.param_names:
                continue
            number = (numbers or {}).get(name)
            if number is None:
                found = re.search(r"\d+$", name)
                if found is None:
                    raise ConfigError(
                        f"layer {name!r} has parameters but its name ends in no number"
                    )
                number = int(found.group())
            for attr in layer.param_names:
                key = f"{attr}{number}"
                if key in owners:
                    raise ConfigError(f"layers {name!r} and another both claim {key!r}")
                owners[key] = (layer, attr)
        # dx of the input images is thrown away, and costs as much as dW: about 15 % of a
        # training step of the MNIST MLP (benchmarks/README.md).
        next(iter(self.layers.values())).need_dx = False
        self._bind(owners)

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:
        """Scores (before softmax): (N, C) for a batch (N, D) or images (N, 1, 28, 28); (C,)
        for one sample (D,), as in the book's ch. 3.6.2 loop over ``x[i]``."""
        x, single = self._as_batch(x)
        for layer in self.layers.values():
            x = layer.forward(x, train_flg) if layer.train_flg_aware else layer.forward(x)
        return x[0] if single else x

    def loss(self, x: ArrayLike, t: ArrayLike, train_flg: bool = False) -> float:
        """Mean cross-entropy of softmax(predict(x)) against ``t`` (labels or one-hot), plus
        weight decay."""
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        y = self.predict(x, train_flg)
        return self.lastLayer.forward(y, t) + self.weight_decay()

    def weight_decay(self) -> float:
        """The L2 penalty ``0.5 * lambda * Σ ||W||²`` over the weights ``W1, W2, ...``
        (ch. 6.4.1); 0 without ``weight_decay_lambda``."""
        weight_decay = 0.0
        if self.weight_decay_lambda:
            for key in self.params:
                if key.startswith("W"):
                    W = self.params[key]
                    weight_decay += 0.5 * self.weight_decay_lambda * float(np.sum(W * W))
        return weight_decay

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """Gradient of :meth:`loss` for every parameter by backpropagation (ch. 5.7.2).

        Keeps the loss of its forward pass in ``last_loss``.
        """
        # forward
        self.last_loss = self.loss(x, t, train_flg=True)

        # backward
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)

        # collect
        grads = {}
        for key, (layer, attr) in self._owners.items():
            grads[key] = getattr(layer, "d" + attr)
            if attr == "W" and self.weight_decay_lambda:
                grads[key] = grads[key] + self.weight_decay_lambda * layer.W
        return grads


class TwoLayerNet(LayerNet):
    """The book's two-layer net (ch. 5.7.2): Affine1 - Relu1 - Affine2, SoftmaxWithLoss.

    ``predict``, ``loss`` and ``gradient`` are written out here as in the book (the deeper
    nets share :class:`LayerNet`'s loops, which do the same for any layers). Parameters
    ``W1, b1, W2, b2``, initial weights ``weight_init_std * N(0, 1)``, biases 0.
    ``activation='sigmoid'`` gives the ch. 4.5 variant (its layer is ``'Sigmoid1'``).
    ``rng`` (a Generator or a seed) draws the weights; ``dtype`` is float32 or float64.
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
        _check_sizes([input_size, hidden_size, output_size], activation, weight_decay_lambda)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.hidden_size_list = [hidden_size]
        self.activation, self.weight_init_std = activation, weight_init_std
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.dtype = _check_dtype(dtype)
        rng = _resolve_rng(rng)
        W1 = _init_weight(rng, weight_init_std, input_size, hidden_size, self.dtype)
        W2 = _init_weight(rng, weight_init_std, hidden_size, output_size, self.dtype)

        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(W1, np.zeros(hidden_size, dtype=self.dtype))
        self.layers[activation.capitalize() + "1"] = ACTIVATION_LAYERS[activation]()
        self.layers["Affine2"] = Affine(W2, np.zeros(output_size, dtype=self.dtype))
        self.lastLayer = SoftmaxWithLoss()
        self._bind_layers()

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:
        """Scores before softmax, (N, C); (C,) for one sample (D,)."""
        x, single = self._as_batch(x)
        for layer in self.layers.values():
            x = layer.forward(x)
        return x[0] if single else x

    def loss(self, x: ArrayLike, t: ArrayLike, train_flg: bool = False) -> float:
        """Cross-entropy of softmax(predict(x)) against ``t``, plus :meth:`weight_decay`."""
        x, single = self._as_batch(x)
        if single:
            t = np.asarray(t)[np.newaxis]
        y = self.predict(x)
        return self.lastLayer.forward(y, t) + self.weight_decay()

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """``{'W1': dL/dW1, ...}`` by backpropagation; the loss is kept in ``last_loss``."""
        # forward
        self.last_loss = self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)

        # collect
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W2"], grads["b2"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        if self.weight_decay_lambda:  # d/dW of the penalty (ch. 6.4.1)
            grads["W1"] = grads["W1"] + self.weight_decay_lambda * self.params["W1"]
            grads["W2"] = grads["W2"] + self.weight_decay_lambda * self.params["W2"]
        return grads

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``rng``): ``TwoLayerNet(**net.config())``
        has this network's shape."""
        config = _mlp_config(self)
        config["hidden_size"] = config.pop("hidden_size_list")[0]
        return config

    @staticmethod
    def _shapes(input_size: Any, hidden_size: Any, output_size: Any, **_: Any) -> dict[str, Any]:
        return _mlp_shapes([input_size, hidden_size, output_size])

    def __repr__(self) -> str:
        return _mlp_repr(self)


class MultiLayerNet(LayerNet):
    """Fully connected net of any depth (ch. 6.1-6.4, the book's ``multi_layer_net.py``).

    Layers ``Affine1, Activation_function1, ..., Affine{L+1}``, then ``SoftmaxWithLoss``;
    parameters ``W1, b1, ..., W{L+1}, b{L+1}``.

    Parameters
    ----------
    input_size : int
        Features per sample ``D`` (784 for MNIST).
    hidden_size_list : sequence of int
        Width of each hidden layer; its length ``L`` is the depth.
    output_size : int
        Number of classes ``C``.
    activation : {'relu', 'sigmoid'}
    weight_init_std : float or {'relu', 'he', 'sigmoid', 'xavier'}
        Initial weights are ``std * N(0, 1)``; ``'relu'``/``'he'`` is ``sqrt(2 / fan_in)``
        (the book's default), ``'sigmoid'``/``'xavier'`` ``sqrt(1 / fan_in)``. Biases start at 0.
    weight_decay_lambda : float
        L2 penalty ``0.5 * lambda * Σ ||W||²`` added to the loss (ch. 6.4.1).
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
        Source of the initial weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0.0,
        *,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        sizes = [input_size, *hidden_size_list, output_size]
        _check_sizes(sizes, activation, weight_decay_lambda)
        self.input_size = int(input_size)
        self.hidden_size_list = [int(s) for s in hidden_size_list]
        self.output_size = int(output_size)
        self.activation, self.weight_init_std = activation, weight_init_std
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.dtype = _check_dtype(dtype)
        rng = _resolve_rng(rng)

        self.layers = OrderedDict()
        for idx in range(1, len(sizes)):
            W = _init_weight(rng, weight_init_std, sizes[idx - 1], sizes[idx], self.dtype)
            self.layers[f"Affine{idx}"] = Affine(W, np.zeros(sizes[idx], dtype=self.dtype))
            if idx < len(sizes) - 1:
                self.layers[f"Activation_function{idx}"] = ACTIVATION_LAYERS[activation]()
        self.lastLayer = SoftmaxWithLoss()
        self._bind_layers()

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``rng``): ``MultiLayerNet(**net.config())``
        has this network's shape."""
        return _mlp_config(self)

    @staticmethod
    def _shapes(input_size: Any, hidden_size_list: Any, output_size: Any, **_: Any) -> dict:
        return _mlp_shapes([input_size, *hidden_size_list, output_size])

    def __repr__(self) -> str:
        return _mlp_repr(self)


def _mlp_shapes(sizes: list[Any]) -> dict[str, tuple[int, ...]]:
    """``W1, b1, ...`` of fully connected layers ``sizes[0] -> sizes[1] -> ...``."""
    if not all(is_int(s) and s >= 1 for s in sizes):
        raise ConfigError(f"layer sizes must be positive integers, got {sizes}")
    shapes = {}
    for i in range(1, len(sizes)):
        shapes[f"W{i}"], shapes[f"b{i}"] = (int(sizes[i - 1]), int(sizes[i])), (int(sizes[i]),)
    return shapes


def _check_sizes(sizes: list[Any], activation: str, weight_decay_lambda: float) -> None:
    _mlp_shapes(sizes)
    check_choice(activation, tuple(ACTIVATION_LAYERS), "activation")
    check_non_negative(weight_decay_lambda, "weight_decay_lambda")


def _init_weight(
    rng: np.random.Generator,
    weight_init_std: float | str,
    fan_in: int,
    fan_out: int,
    dtype: np.dtype,
) -> NDArray:
    std = init_std(weight_init_std, fan_in)
    # Drawn in float64 and then cast, so one seed gives the same net in either dtype.
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)


def _mlp_config(net: TwoLayerNet | MultiLayerNet) -> dict[str, Any]:
    return {
        "input_size": int(net.input_size),
        "hidden_size_list": [int(s) for s in net.hidden_size_list],
        "output_size": int(net.output_size),
        "activation": net.activation,
        "weight_init_std": net.weight_init_std,
        "weight_decay_lambda": net.weight_decay_lambda,
        "dtype": net.dtype.name,
    }


def _mlp_repr(net: TwoLayerNet | MultiLayerNet) -> str:
    sizes = "-".join(str(s) for s in [net.input_size, *net.hidden_size_list, net.output_size])
    return f"{type(net).__name__}({sizes}, {net.activation}, {net.dtype.name})"


class MultiLayerNetExtend(LayerNet):
    """The book's extended fully connected net (ch. 6.3-6.4, ``multi_layer_net_extend.py``):
    :class:`MultiLayerNet` plus weight decay, Dropout and Batch Normalization.

    Each hidden block is ``Affine{i}``, then ``BatchNorm{i}`` (with ``use_batchnorm``), then
    ``Activation_function{i}``, then ``Dropout{i}`` (with ``use_dropout``); the last layer is
    ``Affine{L+1}``, then ``SoftmaxWithLoss``. Parameters ``W1, b1, ..., W{L+1}, b{L+1}`` and,
    with batch normalisation, ``gamma1, beta1, ..., gammaL, betaL`` (initially 1 and 0), as in
    the book.

    Parameters
    ----------
    input_size : int
    hidden_size_list : sequence of int
    output_size : int
    activation : {'relu', 'sigmoid'}
    weight_init_std : float or {'relu', 'he', 'sigmoid', 'xavier'}
        The book's default ``'relu'``: He, ``sqrt(2 / fan_in)``.
    weight_decay_lambda : float
        L2 penalty ``0.5 * lambda * Σ ||W||²`` (ch. 6.4.1).
    use_dropout : bool
    dropout_ration : float
        The book's spelling of the dropout ratio (ch. 6.4.3); each unit is dropped with this
        probability in training, and outputs are scaled by ``1 - dropout_ration`` at test time
        (see :class:`~scratchdl.layers.Dropout`).
    use_batchnorm : bool
        Batch normalisation after every hidden Affine layer (ch. 6.3).
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
        Source of the initial weights and of the dropout masks.

    ``gradient`` (and ``numerical_gradient``) run in training mode: fresh dropout masks and
    batch statistics; ``predict`` and ``accuracy`` in test mode.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0.0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        *,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        sizes = [input_size, *hidden_size_list, output_size]
        _check_sizes(sizes, activation, weight_decay_lambda)
        self.input_size = int(input_size)
        self.hidden_size_list = [int(s) for s in hidden_size_list]
        self.hidden_layer_num = len(self.hidden_size_list)
        self.output_size = int(output_size)
        self.activation, self.weight_init_std = activation, weight_init_std
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.use_dropout = bool(use_dropout)
        self.dropout_ration = check_probability(dropout_ration, "dropout_ration")
        self.use_batchnorm = bool(use_batchnorm)
        self.dtype = _check_dtype(dtype)
        rng = _resolve_rng(rng)

        self.layers = OrderedDict()
        for idx in range(1, len(sizes)):
            W = _init_weight(rng, weight_init_std, sizes[idx - 1], sizes[idx], self.dtype)
            self.layers[f"Affine{idx}"] = Affine(W, np.zeros(sizes[idx], dtype=self.dtype))
            if idx == len(sizes) - 1:
                break
            if self.use_batchnorm:
                gamma = np.ones(sizes[idx], dtype=self.dtype)
                beta = np.zeros(sizes[idx], dtype=self.dtype)
                self.layers[f"BatchNorm{idx}"] = BatchNormalization(gamma, beta)
            self.layers[f"Activation_function{idx}"] = ACTIVATION_LAYERS[activation]()
            if self.use_dropout:
                # A generator of its own per Dropout: checkpoints save and restore it.
                self.layers[f"Dropout{idx}"] = Dropout(self.dropout_ration, rng=rng.spawn(1)[0])
        self.lastLayer = SoftmaxWithLoss()
        self._bind_layers()

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``rng``): ``cls(**net.config())`` has this
        network's shape."""
        return {
            **_mlp_config(self),
            "use_dropout": self.use_dropout,
            "dropout_ration": self.dropout_ration,
            "use_batchnorm": self.use_batchnorm,
        }

    @staticmethod
    def _shapes(input_size: Any, hidden_size_list: Any, output_size: Any, **args: Any) -> dict:
        shapes = _mlp_shapes([input_size, *hidden_size_list, output_size])
        for i, size in enumerate(hidden_size_list, start=1) if args["use_batchnorm"] else ():
            shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (size,)
        return shapes

    def __repr__(self) -> str:
        extras = "".join(
            text
            for flag, text in (
                (self.use_batchnorm, ", batchnorm"),
                (self.use_dropout, f", dropout {self.dropout_ration:g}"),
            )
            if flag
        )
        return _mlp_repr(self)[:-1] + extras + ")"


class SimpleNet(Net):
    """The book's ``simpleNet`` (ch. 4.4.2): ``predict(x) = x · W``, loss =
    ``cross_entropy_error(softmax(x · W), t)``. Not layered; it meets the contract directly.

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
        if W is None:
            W = _resolve_rng(rng).standard_normal((2, 3))
        W = np.array(real_array(W), dtype=self.dtype, copy=True)
        if W.shape != (2, 3):
            raise ShapeError(f"SimpleNet weights must have shape (2, 3), got {W.shape}")
        self.W = W
        self._bind({"W": (self, "W")})

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments but ``W`` (a parameter) and ``rng``."""
        return {"dtype": self.dtype.name}

    @staticmethod
    def _shapes(**_: Any) -> dict[str, tuple[int, ...]]:
        return {"W": (2, 3)}

    def __repr__(self) -> str:
        return f"SimpleNet(2-3, {self.dtype.name})"

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:
        """Scores ``x · W``, shape (3,) or (N, 3)."""
        return np.dot(x, self.W)

    def loss(self, x: ArrayLike, t: ArrayLike, train_flg: bool = False) -> float:
        """The book's ``cross_entropy_error(softmax(x · W), t)``."""
        return cross_entropy_error(softmax(self.predict(x)), t)

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """Analytic gradient ``xᵀ · (softmax(x · W) - t) / N`` (ignoring the tiny ``delta``);
        keeps the loss in ``last_loss``."""
        x = np.asarray(x, dtype=self.dtype)
        y = softmax(self.predict(x))
        self.last_loss = cross_entropy_error(y, t)
        labels, onehot = split_labels(t, y.shape)
        target = onehot if labels is None else np.eye(y.shape[-1], dtype=self.dtype)[labels]
        x2, dy = x.reshape(-1, 2), (y - target).reshape(-1, 3)
        return {"W": (x2.T @ dy / x2.shape[0]).astype(self.dtype, copy=False)}


# -- chapters 7 and 8: convolutional networks ---------------------------------------------------


class ConvNet(LayerNet):
    """Base of the convolutional networks (ch. 7-8): :class:`LayerNet` on images.

    ``predict`` accepts a batch of images (N, C, H, W), a batch of flat rows (N, C*H*W) (as
    ``load_mnist(flatten=True)`` gives), or one image (C, H, W) or (C*H*W,), which gives
    scores of shape (C,).

    Parameters are numbered in layer order, as the book's ``gradient`` collects them:
    ``Conv1`` owns ``W1, b1``, and in SimpleConvNet ``Affine1`` owns ``W2, b2``.
    """

    input_dim: tuple[int, int, int]
    #: Images per forward pass in :func:`evaluate`: im2col takes a few hundred kB per image,
    #: so 10,000 at once would need gigabytes.
    eval_batch_size = 200

    def _bind_layers(self, numbers: dict[str, int] | None = None) -> None:
        """Number the layers with parameters in order (``Conv1`` -> 1, ``Affine1`` -> 2, ...),
        as the book's ``gradient`` collects them."""
        if numbers is None:
            named = [name for name, layer in self.layers.items() if layer.param_names]
            numbers = {name: i for i, name in enumerate(named, start=1)}
        super()._bind_layers(numbers)

    def _init_params(
        self,
        shapes: dict[str, tuple[int, ...]],
        weight_init_std: float | str,
        rng: np.random.Generator,
    ) -> dict[str, NDArray]:
        """The book's ``self.params``: each ``W`` is ``std * N(0, 1)`` for its fan-in (a
        filter's ``C * FH * FW``, an Affine layer's inputs), each ``b`` zeros."""
        params = {}
        for key, shape in shapes.items():
            if key.startswith("W"):
                fan_in = math.prod(shape[1:]) if len(shape) == 4 else shape[0]
                std = init_std(weight_init_std, fan_in)
                # Drawn in float64 and then cast, so one seed gives the same net in either dtype.
                params[key] = (std * rng.standard_normal(shape)).astype(self.dtype)
            else:
                params[key] = np.zeros(shape, dtype=self.dtype)
        return params

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
        check = check_non_negative_int if key == "pad" else check_positive_int
        conv[key] = check(value, f"conv_param[{key!r}]")
    return conv


def _conv_shapes(
    input_dim: Sequence[int],
    convs: dict[str, dict[str, int] | None],
    defaults: Sequence[dict[str, int]],
    pool_after: Sequence[int],
    hidden_size: int,
    output_size: int,
) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of a ConvNet by the arithmetic of ch. 7.2.4, settings checked: the
    convolutions ``convs`` (by the argument that sets each, in order, over ``defaults``), a
    2x2 pooling after those numbered in ``pool_after``, then Affine layers to ``hidden_size``
    and ``output_size``."""
    C, h, w = dim = _input_dim(input_dim)
    hidden = check_positive_int(hidden_size, "hidden_size")
    out = check_positive_int(output_size, "output_size")
    shapes: dict[str, tuple[int, ...]] = {}
    for i, ((name, given), default) in enumerate(zip(convs.items(), defaults, strict=True), 1):
        p = _conv_settings(given, default)
        fn, fs = p["filter_num"], p["filter_size"]
        try:
            h = conv_output_size(h, fs, p["stride"], p["pad"])
            w = conv_output_size(w, fs, p["stride"], p["pad"])
        except ShapeError as exc:
            raise ConfigError(f"{name} does not fit input_dim {dim}: {exc}") from None
        shapes[f"W{i}"], shapes[f"b{i}"] = (fn, C, fs, fs), (fn,)
        C = fn
        if i in pool_after:
            if h < 2 or w < 2:
                raise ConfigError(f"{name} leaves a {h}x{w} image, too small for the 2x2 pooling")
            h, w = h // 2, w // 2
    n = len(convs)
    shapes[f"W{n + 1}"], shapes[f"b{n + 1}"] = (C * h * w, hidden), (hidden,)
    shapes[f"W{n + 2}"], shapes[f"b{n + 2}"] = (hidden, out), (out,)
    return shapes


def _input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dim = tuple(input_dim)
    if len(dim) != 3 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in dim
    ):
        raise ConfigError(f"input_dim must be (C, H, W) of positive integers, got {input_dim!r}")
    return int(dim[0]), int(dim[1]), int(dim[2])


_SIMPLE_CONV = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}


class SimpleConvNet(ConvNet):
    """The book's chapter 7 network (ch. 7.5): layers ``Conv1, Relu1, Pool1, Affine1, Relu2,
    Affine2``, then ``SoftmaxWithLoss``.

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
    weight_decay_lambda : float
        L2 penalty on every ``W`` (filters included), ch. 6.4.1; the book's run uses none.
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
        weight_decay_lambda: float = 0.0,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        shapes = self._shapes(input_dim, conv_param, hidden_size, output_size)
        self.input_dim = C, H, W = _input_dim(input_dim)
        self.weight_decay_lambda = check_non_negative(weight_decay_lambda, "weight_decay_lambda")
        self.conv_param = _conv_settings(conv_param, _SIMPLE_CONV)
        self.hidden_size, self.output_size = int(hidden_size), int(output_size)
        self.input_size = C * H * W
        self.weight_init_std = weight_init_std
        self.dtype = _check_dtype(dtype)
        params = self._init_params(shapes, weight_init_std, _resolve_rng(rng))

        self.layers = OrderedDict()
        stride, pad = self.conv_param["stride"], self.conv_param["pad"]
        self.layers["Conv1"] = Convolution(params["W1"], params["b1"], stride, pad)
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(params["W2"], params["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(params["W3"], params["b3"])
        self.lastLayer = SoftmaxWithLoss()
        self._bind_layers()

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``rng``): ``cls(**net.config())`` has this
        network's shape."""
        return {
            "input_dim": list(self.input_dim),
            "conv_param": dict(self.conv_param),
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "weight_init_std": self.weight_init_std,
            "weight_decay_lambda": self.weight_decay_lambda,
            "dtype": self.dtype.name,
        }

    @staticmethod
    def _shapes(
        input_dim: Any, conv_param: Any, hidden_size: Any, output_size: Any, **_: Any
    ) -> dict[str, tuple[int, ...]]:
        convs = {"conv_param": conv_param}
        return _conv_shapes(input_dim, convs, [_SIMPLE_CONV], [1], hidden_size, output_size)

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
    weight_init_std : float or {'he', 'xavier'}
        Initial weights are ``std * N(0, 1)``; the book's DeepConvNet always uses He
        (``sqrt(2 / fan_in)``, the default here); a number or ``'xavier'`` is honoured so
        that ``scratchdl train --model deep-cnn --init`` does what it says.
    weight_decay_lambda : float
        L2 penalty on every ``W`` (filters included), ch. 6.4.1; the book's run uses none.
    dtype : float32 or float64
    rng : numpy.random.Generator or int seed, optional
        Source of the initial weights and of the dropout masks.

    Layers ``Conv1, Relu1, Conv2, Relu2, Pool1, ..., Conv6, Relu6, Pool3, Affine1, Relu7,
    Dropout1, Affine2, Dropout2`` (the book keeps them in a list). Parameters ``W1..W6``/
    ``b1..b6`` are the convolutions, ``W7``/``b7`` and ``W8``/``b8`` the affine layers, as in
    the book.
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
        weight_init_std: float | str = "he",
        weight_decay_lambda: float = 0.0,
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        convs = {f"conv_param_{i}": p for i, p in enumerate(given, start=1)}
        shapes = self._shapes(input_dim, hidden_size, output_size, **convs)
        self.input_dim = C, H, W = _input_dim(input_dim)
        self.weight_decay_lambda = check_non_negative(weight_decay_lambda, "weight_decay_lambda")
        init_std(weight_init_std, 1)  # a bad value fails here, before anything is drawn
        self.weight_init_std = weight_init_std
        self.conv_params = [
            _conv_settings(p, d) for p, d in zip(given, DEEP_CONV_PARAMS, strict=True)
        ]
        self.hidden_size, self.output_size = int(hidden_size), int(output_size)
        self.dropout_ratio = float(dropout_ratio)
        self.input_size = C * H * W
        self.dtype = _check_dtype(dtype)
        gen = _resolve_rng(rng)
        params = self._init_params(shapes, weight_init_std, gen)

        self.layers = OrderedDict()
        for i, p in enumerate(self.conv_params, start=1):
            conv = Convolution(params[f"W{i}"], params[f"b{i}"], p["stride"], p["pad"])
            self.layers[f"Conv{i}"] = conv
            self.layers[f"Relu{i}"] = Relu()
            if i % 2 == 0:
                self.layers[f"Pool{i // 2}"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(params["W7"], params["b7"])
        self.layers["Relu7"] = Relu()
        # Each Dropout draws from a generator of its own (spawned from rng), which a
        # checkpoint can save and restore.
        self.layers["Dropout1"] = Dropout(self.dropout_ratio, rng=gen.spawn(1)[0])
        self.layers["Affine2"] = Affine(params["W8"], params["b8"])
        self.layers["Dropout2"] = Dropout(self.dropout_ratio, rng=gen.spawn(1)[0])
        self.lastLayer = SoftmaxWithLoss()
        self._bind_layers()

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``rng``): ``cls(**net.config())`` has this
        network's shape."""
        return {
            "input_dim": list(self.input_dim),
            **{f"conv_param_{i + 1}": dict(p) for i, p in enumerate(self.conv_params)},
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "dropout_ratio": self.dropout_ratio,
            "weight_init_std": self.weight_init_std,
            "weight_decay_lambda": self.weight_decay_lambda,
            "dtype": self.dtype.name,
        }

    @staticmethod
    def _shapes(
        input_dim: Any, hidden_size: Any, output_size: Any, **convs: Any
    ) -> dict[str, tuple[int, ...]]:
        convs = {f"conv_param_{i}": convs[f"conv_param_{i}"] for i in range(1, 7)}
        return _conv_shapes(input_dim, convs, DEEP_CONV_PARAMS, [2, 4, 6], hidden_size, output_size)

    def __repr__(self) -> str:
        filters = ",".join(str(p["filter_num"]) for p in self.conv_params)
        return (
            f"DeepConvNet({'x'.join(map(str, self.input_dim))}, conv {filters}, "
            f"{self.hidden_size}, {self.output_size}, {self.dtype.name})"
        )


class Ensemble:
    """Several trained networks answering together (ch. 8.1.1, "ensemble learning").

    Each member computes its softmax probabilities; the ensemble's are their mean, and its
    answer their argmax. Members trained from other seeds (or with other settings) make
    partly different mistakes, so the average is usually right more often than any one.

    Only prediction: ``predict`` returns the *log* of the averaged probabilities, so
    ``softmax(predict(x))`` is that average, and :func:`evaluate` (the one evaluation) gives
    the ensemble's accuracy and the cross-entropy of its averaged probabilities. Train the
    members one by one, as separate runs.

    Parameters
    ----------
    nets : sequence of Net
        At least one; all with the same ``input_size`` and ``output_size``.
    """

    def __init__(self, nets: Sequence[Any]) -> None:
        self.nets = list(nets)
        if not self.nets:
            raise ConfigError("an ensemble needs at least one network")
        shapes = {(int(n.input_size), int(n.output_size)) for n in self.nets}
        if len(shapes) != 1:
            found = ", ".join(f"{i} inputs -> {o} classes" for i, o in sorted(shapes))
            raise ShapeError(
                f"the networks of an ensemble must map the same inputs to the same classes, "
                f"got {found}"
            )
        ((self.input_size, self.output_size),) = shapes
        self.dtype = np.result_type(*(n.dtype for n in self.nets))
        # The members run one after another: the smallest chunk suits them all.
        self.eval_batch_size = min(getattr(n, "eval_batch_size", EVAL_BATCH) for n in self.nets)

    def predict(self, x: ArrayLike, train_flg: bool = False) -> NDArray:
        """Log of the members' mean softmax probabilities, (N, C)."""
        if train_flg:
            raise ConfigError("an ensemble only predicts: train its networks one by one")
        return self.combine([log_softmax(net.predict(x)) for net in self.nets])

    @staticmethod
    def combine(log_probs: Sequence[NDArray]) -> NDArray:
        """``log(mean_k exp(log_probs[k]))``, (N, C), computed without overflow or ``log 0``
        (the log-sum-exp of :func:`~scratchdl.functions.log_softmax`)."""
        logs = np.stack(log_probs)  # (K, N, C)
        top = logs.max(axis=0)
        return top + np.log(np.exp(logs - top).mean(axis=0))

    def accuracy(self, x: NDArray, t: ArrayLike) -> float:
        """Fraction of ``x`` the ensemble answers right (:func:`evaluate`)."""
        return evaluate(self, x, t)[0]

    def __repr__(self) -> str:
        return f"Ensemble({', '.join(type(n).__name__ for n in self.nets)})"


#: The networks a model file can hold, by class name: :func:`scratchdl.io.load_model` builds
#: ``NET_CLASSES[name](**config)`` from a file's record.
NET_CLASSES: dict[str, type[Net]] = {
    cls.__name__: cls
    for cls in (
        TwoLayerNet,
        MultiLayerNet,
        MultiLayerNetExtend,
        SimpleNet,
        SimpleConvNet,
        DeepConvNet,
    )
}
