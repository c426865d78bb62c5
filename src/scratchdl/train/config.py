"""``TrainConfig``: every setting of a training run, JSON-safe and validated."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scratchdl._text import plural_epochs
from scratchdl.choices import (
    ACTIVATIONS,
    DATASETS,
    DTYPES,
    INITS,
    MODEL_DEFAULTS,
    MODELS,
    OPTIMIZERS,
    SAMPLINGS,
)
from scratchdl.errors import ConfigError

__all__ = ["DEFAULT_ITERS", "DEFAULT_LR", "TrainConfig", "check_time_budget"]

#: The book's ch. 4.5 / 5.7.4 run: 10,000 iterations of batch 100.
DEFAULT_ITERS = 10000
#: Learning rate used when none is given: the book's 0.1 of ch. 4.5 / 5.7.4 for SGD, the
#: book's defaults (ch. 6.1) for the rest.
DEFAULT_LR = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.01,
    "adam": 0.001,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Settings of one training run. The defaults reproduce the book's ch. 5.7.4 run.

    784-50-10 ReLU net, weights ``0.01 * N(0, 1)``, SGD with lr 0.1, batches of 100,
    10,000 iterations, train and test accuracy every 600 iterations.

    Attributes
    ----------
    dataset : {'mnist', 'fashion'}
    model : str
        A model kind of :data:`scratchdl.choices.MODELS`: ``'mlp'``, ``'cnn'`` (the book's
        SimpleConvNet, ch. 7.5) or ``'deep-cnn'`` (DeepConvNet, ch. 8.1).
    hidden : tuple of int or None
        Hidden layer widths; ``(50,)`` is the book's TwoLayerNet. None takes the model's
        default (:data:`scratchdl.choices.MODEL_DEFAULTS`: 50 for the MLP and DeepConvNet,
        100 for SimpleConvNet).
    activation : {'relu', 'sigmoid'}
    init : float or {'he', 'xavier'} or None
        Standard deviation of the initial weights; None takes the model's default: 0.01 for
        the MLP (the book's ch. 5), He for the CNNs (``scratchdl train --model cnn`` reaches
        0.979 after one epoch with He, 0.962 with the book's 0.01).
    optimizer : {'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'} or None
        None takes the model's default: SGD for the MLP, Adam for the CNNs (as the book).
    lr : float or None
        Learning rate; None picks :data:`DEFAULT_LR` for the optimizer (0.1 for SGD, as the
        book's ch. 5.7.4; the book's defaults for the others, e.g. 0.001 for Adam).
    batch_size : int
    epochs, iters : int or None
        Length of the run; exactly one is set. Giving ``epochs`` drops the default ``iters``.
    weight_decay : float
        L2 penalty ``lambda`` (0 = none).
    seed : int
        Seeds the initial weights and the mini-batch sampling.
    eval_samples : int or None
        Evaluate each epoch on this many random train and test samples (None = full sets);
        :func:`~scratchdl.train.train` still measures the final weights on the full sets
        (``history.info["final"]``).
    sampling : {'shuffle', 'replacement'}
        'shuffle': every epoch is a fresh permutation (default); 'replacement': each batch is
        ``batch_size`` indices drawn with replacement, the book's ``np.random.choice`` loop.
    max_seconds : float or None
        Wall-clock budget of each session (a resumed run gets a fresh one); the run stops after
        the first iteration past it, and :func:`~scratchdl.train.train` keeps its checkpoint
        so that it can be resumed.
    dtype : {'float32', 'float64'}
    batchnorm : bool
        MLP only: batch normalisation after every hidden Affine layer (ch. 6.3), through
        :class:`~scratchdl.nets.MultiLayerNetExtend`.
    dropout : float
        MLP only: dropout ratio after every hidden activation (ch. 6.4.3); 0 means none.
    """

    dataset: str = "mnist"
    model: str = "mlp"
    hidden: tuple[int, ...] | None = None
    activation: str = "relu"
    init: float | str | None = None
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int = 100
    epochs: int | None = None
    iters: int | None = DEFAULT_ITERS
    weight_decay: float = 0.0
    seed: int = 0
    eval_samples: int | None = None
    sampling: str = "shuffle"
    max_seconds: float | None = None
    dtype: str = "float32"
    batchnorm: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        defaults = MODEL_DEFAULTS.get(self.model, MODEL_DEFAULTS["mlp"])
        if self.hidden is None:
            self.hidden = defaults["hidden"]
        if self.optimizer is None:
            self.optimizer = defaults["optimizer"]
        if self.init is None:
            self.init = defaults["init"]
        if isinstance(self.hidden, (list, tuple)):
            self.hidden = tuple(self.hidden)
        elif _is_int(self.hidden):
            self.hidden = (self.hidden,)
        if isinstance(self.optimizer, str):
            self.optimizer = self.optimizer.lower()
        if self.lr is None:
            self.lr = DEFAULT_LR.get(self.optimizer)
        if self.epochs is not None and self.iters == DEFAULT_ITERS:
            self.iters = None  # epochs given: the default length gives way

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` with one sentence for an impossible setting.

        Returns ``self`` so it chains: ``TrainConfig(...).validate()``.
        """
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}: use one of {', '.join(DATASETS)}")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}: use one of {', '.join(MODELS)}")
        if not self.hidden or not all(_is_int(h) and h >= 1 for h in self.hidden):
            raise ConfigError(
                f"hidden layer sizes must be positive integers, got {list(self.hidden)}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}: use one of {', '.join(ACTIVATIONS)}"
            )
        if isinstance(self.init, str):
            if self.init.lower() not in INITS:
                raise ConfigError(
                    f"init must be a positive number, 'he' or 'xavier', got {self.init!r}"
                )
        elif isinstance(self.init, bool) or not (
            isinstance(self.init, (int, float)) and math.isfinite(self.init) and self.init > 0
        ):
            raise ConfigError(
                f"init must be a positive number, 'he' or 'xavier', got {self.init!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}"
            )
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"learning rate must be a positive number, got {self.lr}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise ConfigError(f"batch size must be a positive integer, got {self.batch_size}")
        if (self.epochs is None) == (self.iters is None):
            raise ConfigError(
                "give exactly one of epochs and iters, got "
                f"epochs={self.epochs} and iters={self.iters}"
            )
        for name in ("epochs", "iters"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        if not (
            isinstance(self.weight_decay, (int, float))
            and math.isfinite(self.weight_decay)
            and self.weight_decay >= 0
        ):
            raise ConfigError(f"weight decay must be a number >= 0, got {self.weight_decay}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if self.eval_samples is not None and (
            not _is_int(self.eval_samples) or self.eval_samples < 1
        ):
            raise ConfigError(
                f"eval_samples must be a positive integer or None (full sets), got {self.eval_samples}"
            )
        if self.sampling not in SAMPLINGS:
            raise ConfigError(
                f"unknown sampling {self.sampling!r}: use one of {', '.join(SAMPLINGS)}"
            )
        check_time_budget(self.max_seconds)
        if not isinstance(self.batchnorm, bool):
            raise ConfigError(f"batchnorm must be True or False, got {self.batchnorm!r}")
        if not (
            isinstance(self.dropout, (int, float))
            and not isinstance(self.dropout, bool)
            and 0 <= self.dropout < 1
        ):
            raise ConfigError(f"dropout must be a ratio in [0, 1), got {self.dropout!r}")
        if self.batchnorm and self.batch_size < 2:
            raise ConfigError(
                f"batchnorm needs a batch size of at least 2, got {self.batch_size}: it "
                "normalises each feature with the batch's own mean and variance, and one "
                "sample normalises to 0 (nothing would be learned)"
            )
        if self.model != "mlp" and (self.batchnorm or self.dropout):
            raise ConfigError(
                f"batchnorm and dropout apply to the MLP; the {self.model} has the book's "
                "architecture (deep-cnn already drops 0.5 after its affine layers)"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (``hidden`` as a list)."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"unknown training setting(s) {', '.join(unknown)}: known are {', '.join(sorted(names))}"
            )
        return cls(**dict(d))

    def describe(self) -> str:
        """One line such as ``784-50-10 relu, sgd lr=0.1, batch 100, 10000 iters``."""
        length = plural_epochs(self.epochs) if self.epochs is not None else f"{self.iters} iters"
        hidden = "-".join(str(h) for h in self.hidden)
        model = "" if self.model == "mlp" else f"{self.model}, "
        extras = ("batchnorm, " if self.batchnorm else "") + (
            f"dropout {self.dropout:g}, " if self.dropout else ""
        )
        return (
            f"{self.dataset}, {model}hidden {hidden} {self.activation}, {extras}init {self.init}, "
            f"{self.optimizer} "
            f"lr={self.lr:g}, batch {self.batch_size}, {length}, seed {self.seed}"
        )


def check_time_budget(max_seconds: float | None) -> None:
    """Raise :class:`ConfigError` unless ``max_seconds`` is None or a positive finite number."""
    if max_seconds is not None and not (
        isinstance(max_seconds, (int, float))
        and not isinstance(max_seconds, bool)
        and math.isfinite(max_seconds)
        and max_seconds > 0
    ):
        raise ConfigError(
            f"time budget (max_seconds) must be a positive finite number of seconds, got "
            f"{max_seconds}; leave it out for no limit"
        )
