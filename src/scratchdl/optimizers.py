"""Gradient-descent optimizers of chapter 6, with the book's default hyperparameters.

Every optimizer has ``update(params, grads)``: it changes the arrays in ``params`` in place
(``params`` may be a plain dict or a network's live ``net.params`` view) and keeps its own
state (velocities, squared-gradient sums, Adam's moments) per parameter key. State arrays are
created on the first update with each parameter's shape and dtype, so a float32 network stays
float32. ``state_dict()`` / ``load_state_dict()`` capture and restore all of it, so a resumed
run continues with exactly the same numbers.

``params`` may also hold plain Python floats, as in the book's ch. 6.1 toy problem
(``optimizer_compare_naive.py``: ``params = {'x': -7.0, 'y': 2.0}``). A float cannot change in
place, so its step is taken on a float64 copy and the new value is stored back under its key.

Scalars are kept as Python floats on purpose: a NumPy ``float64`` scalar times a float32 array
would promote the whole update to float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from scratchdl.checks import check_positive, check_probability
from scratchdl.errors import ConfigError, ModelFileError

__all__ = [
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get_optimizer",
]

#: Added to the denominators of AdaGrad, RMSprop and Adam, as in the book.
EPS = 1e-7


class Optimizer:
    """Base class: subclasses define ``slots`` (state arrays per key) and ``_step``.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    """

    name: ClassVar[str] = "optimizer"
    #: Names of the per-parameter state arrays, e.g. ``("v",)`` for Momentum.
    slots: ClassVar[tuple[str, ...]] = ()

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, f"{type(self).__name__}'s lr")
        self.state: dict[str, dict[str, NDArray]] = {}
        self.iterations = 0  # number of update() calls, Adam's bias correction needs it

    # -- public API --------------------------------------------------------------------------
    def update(self, params: MutableMapping[str, NDArray], grads: Mapping[str, NDArray]) -> None:
        """Take one step on every key of ``grads``, changing ``params[key]`` in place.

        Parameters
        ----------
        params : mapping of str to ndarray or float
            The parameters; each array is modified in place, never rebound. A plain number is
            replaced by its updated value (a Python float stays a Python float).
        grads : mapping of str to ndarray or float
            Gradients with the parameters' shapes. They are not modified.

        The second book's lists (``optimizer.update(model.params, model.grads)``) work too:
        the arrays are keyed by their position.
        """
        if isinstance(params, (list, tuple)):
            params, grads = dict(enumerate(params)), dict(enumerate(grads))
        self.iterations += 1
        for key, grad in grads.items():
            param = params[key]
            scalar = not isinstance(param, np.ndarray)
            if scalar:
                # A Python float (the book's ch. 6.1 toy dict) cannot be updated in place.
                param = np.array(param, dtype=np.float64)
            grad = np.asarray(grad)
            if grad.shape != param.shape:
                raise ConfigError(
                    f"gradient {key!r} has shape {grad.shape} but the parameter has {param.shape}"
                )
            slot = self.state.get(key)
            if slot is None:
                slot = {name: np.zeros_like(param) for name in self.slots}
                self.state[key] = slot
            self._step(param, grad, slot)
            if scalar:
                old = params[key]
                params[key] = old.dtype.type(param) if isinstance(old, np.generic) else float(param)

    def hyperparameters(self) -> dict[str, float]:
        """The settings that define this optimizer (``lr`` and friends)."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: name, hyperparameters, counter and state.

        The arrays are copies, so later updates do not change a saved state.
        """
        return {
            "name": self.name,
            "hyperparameters": self.hyperparameters(),
            "iterations": self.iterations,
            "state": {k: {s: a.copy() for s, a in slot.items()} for k, slot in self.state.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (the hyperparameters must match)."""
        if state.get("name") != self.name:
            raise ModelFileError(
                f"optimizer state is for {state.get('name')!r}, not {self.name!r}: resume with "
                "the optimizer the run was started with"
            )
        if dict(state.get("hyperparameters", {})) != self.hyperparameters():
            raise ModelFileError(
                f"optimizer state has hyperparameters {state.get('hyperparameters')}, this "
                f"{self.name} has {self.hyperparameters()}: resume with the same settings"
            )
        new_state: dict[str, dict[str, NDArray]] = {}
        for key, slot in state.get("state", {}).items():
            if set(slot) != set(self.slots):
                raise ModelFileError(
                    f"optimizer state for {key!r} has slots {sorted(slot)}, expected "
                    f"{sorted(self.slots)}"
                )
            new_state[key] = {s: np.array(a, copy=True) for s, a in slot.items()}
        self.state = new_state
        self.iterations = int(state.get("iterations", 0))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    # -- subclass hook -----------------------------------------------------------------------
    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        raise NotImplementedError  # pragma: no cover - interface


class SGD(Optimizer):
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.01).
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        param -= self.lr * grad


class Momentum(Optimizer):
    """Momentum SGD: ``v <- momentum * v - lr * dW``, ``W <- W + v``.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.01).
    momentum : float
        Decay of the velocity, in [0, 1) (book default 0.9).
    """

    name = "momentum"
    slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_probability(momentum, "Momentum's momentum")

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum}

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        v = slot["v"]
        v *= self.momentum
        v -= self.lr * grad
        param += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient in the book's form (ch. 6.1).

    ``W <- W + momentum² * v - (1 + momentum) * lr * dW`` with the velocity ``v`` of the
    previous step, and only then ``v <- momentum * v - lr * dW``.

    This is Bengio et al. (2012, arXiv:1212.0901) rewritten in terms of the current
    parameters: ``W + (1 + momentum) * v_new - momentum * v_old`` expands to the line above.
    Copies of the book's ``common/optimizer.py`` differ here: some update ``v`` first and then
    add ``momentum² * v``, which puts ``momentum³ * v_old`` in the step, not that formula.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.01).
    momentum : float
        In [0, 1) (book default 0.9).
    """

    name = "nesterov"
    slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_probability(momentum, "Nesterov's momentum")

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum}

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        v = slot["v"]
        param += (self.momentum * self.momentum) * v
        param -= ((1 + self.momentum) * self.lr) * grad
        v *= self.momentum
        v -= self.lr * grad


class AdaGrad(Optimizer):
    """AdaGrad: ``h <- h + dW²``, ``W <- W - lr * dW / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.01).
    """

    name = "adagrad"
    slots = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        h = slot["h"]
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + EPS)


class RMSprop(Optimizer):
    """RMSprop: ``h <- decay * h + (1 - decay) * dW²``, ``W <- W - lr * dW / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.01).
    decay_rate : float
        In [0, 1) (book default 0.99).
    """

    name = "rmsprop"
    slots = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = check_probability(decay_rate, "RMSprop's decay_rate")

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "decay_rate": self.decay_rate}

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        h = slot["h"]
        h *= self.decay_rate
        h += (1 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + EPS)


class Adam(Optimizer):
    """Adam, in the book's form (bias correction folded into the step size).

    With ``t`` the update count: ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m <- m + (1 - beta1) (dW - m)``, ``v <- v + (1 - beta2) (dW² - v)``,
    ``W <- W - lr_t * m / (sqrt(v) + 1e-7)``.

    Parameters
    ----------
    lr : float
        Learning rate (book default 0.001).
    beta1, beta2 : float
        Decay of the first and second moments, in [0, 1) (book defaults 0.9, 0.999).
    """

    name = "adam"
    slots = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1 = check_probability(beta1, "Adam's beta1")
        self.beta2 = check_probability(beta2, "Adam's beta2")

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2}

    def update(self, params: MutableMapping[str, NDArray], grads: Mapping[str, NDArray]) -> None:
        t = self.iterations + 1
        # One step size for all keys of this update (Python float: keeps float32 arrays float32).
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        super().update(params, grads)

    def _step(self, param: NDArray, grad: NDArray, slot: dict[str, NDArray]) -> None:
        m, v = slot["m"], slot["v"]
        if grad.dtype != param.dtype or param.ndim == 0:
            m += (1 - self.beta1) * (grad - m)
            v += (1 - self.beta2) * (grad * grad - v)
            param -= self._lr_t * m / (np.sqrt(v) + EPS)
            return
        # The same three lines, operation for operation (so the same bits), written into two
        # work arrays kept between steps instead of eight temporaries per step.
        a, b = self._work_arrays(param)
        np.subtract(grad, m, out=a)
        a *= 1 - self.beta1
        m += a
        np.multiply(grad, grad, out=a)
        a -= v
        a *= 1 - self.beta2
        v += a
        np.multiply(m, self._lr_t, out=a)
        np.sqrt(v, out=b)
        b += EPS
        a /= b
        param -= a

    def _work_arrays(self, param: NDArray) -> tuple[NDArray, NDArray]:
        # Scratch only, shared by the parameters of one shape (steps run one after another).
        work = self.__dict__.setdefault("_work", {})
        key = (param.shape, param.dtype.str)
        if key not in work:
            work[key] = (np.empty(param.shape, param.dtype), np.empty(param.shape, param.dtype))
        return work[key]


#: Optimizer classes by the names the CLI and :class:`~scratchdl.train.TrainConfig` use.
OPTIMIZERS: Mapping[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)
}


def get_optimizer(name: str, **kwargs: float) -> Optimizer:
    """Build an optimizer by name (``'sgd'``, ``'momentum'``, ``'nesterov'``, ``'adagrad'``,
    ``'rmsprop'``, ``'adam'``; case-insensitive) with keyword hyperparameters.

    Examples
    --------
    >>> get_optimizer("adam", lr=0.01)
    Adam(lr=0.01, beta1=0.9, beta2=0.999)
    """
    cls = OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ConfigError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    try:
        return cls(**kwargs)
    except TypeError:
        allowed = ", ".join(cls().hyperparameters())
        raise ConfigError(
            f"{cls.__name__} takes the hyperparameters {allowed}, got {', '.join(kwargs)}"
        ) from None
