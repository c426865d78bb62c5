"""``TrainConfig``: every setting of a training run, JSON-safe and validated."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scratchdl._text import plural_epochs
from scratchdl.checks import (
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_positive,
    check_positive_int,
    check_probability,
    is_int,
)
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
from scratchdl.data.augment import AUGMENTATIONS, parse_augmentations
from scratchdl.errors import ConfigError
from scratchdl.train.schedule import LR_DECAYS, LRSchedule

__all__ = [
    "DEFAULT_ITERS",
    "DEFAULT_LR",
    "TrainConfig",
    "augment_kinds",
    "check_time_budget",
    "setting",
]

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


def setting(
    default: Any,
    help: str,
    *,
    choices: Sequence[str] | None = None,
    check: Callable[[Any, str], Any] | None = None,
    name: str | None = None,
    metavar: str | None = None,
    default_text: str | None = None,
) -> Any:
    """A field of :class:`TrainConfig` with what its flag and its check need: ``help`` (the
    ``--help`` text), ``choices`` (from :mod:`scratchdl.choices`), ``check(value, name)``, the
    ``name`` errors use (default: the field's), ``metavar``, and ``default_text`` when the
    default shown is not the field's (None: the field's; "": none shown)."""
    meta = {
        "help": help,
        "choices": choices,  # as given: MODELS is a dict that may gain entries
        "check": check,
        "name": name,
        "metavar": metavar,
        "default_text": default_text,
    }
    return field(default=default, metadata=meta)


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """``check`` that lets None through (None: "not set")."""
    return lambda value, name: None if value is None else check(value, name)


def _check_hidden(hidden: Any, name: str) -> None:
    if not hidden or not all(is_int(h) and h >= 1 for h in hidden):
        raise ConfigError(f"hidden layer sizes must be positive integers, got {list(hidden)}")


def _check_init(init: Any, name: str) -> None:
    if init in INITS:
        return
    try:
        check_positive(init, name)
    except ConfigError:
        raise ConfigError(
            f"init must be a positive number, 'he' or 'xavier', got {init!r}"
        ) from None


def _check_augment(value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a comma-separated list of transforms, got {value!r}")
    augment_kinds(value)


def augment_kinds(text: str) -> tuple[str, ...]:
    """The transforms of an ``augment`` setting: ``'shift,rotate'``, ``'all'`` (every one of
    :data:`~scratchdl.data.augment.AUGMENTATIONS`) or ``'none'``."""
    if text.strip().lower() == "all":
        return AUGMENTATIONS
    try:
        return parse_augmentations(text)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; 'all' names every one") from None


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")


@dataclass
class TrainConfig:
    """Settings of one training run. The defaults reproduce the book's ch. 5.7.4 run.

    784-50-10 ReLU net, weights ``0.01 * N(0, 1)``, SGD with lr 0.1, batches of 100,
    10,000 iterations, train and test accuracy every 600 iterations.

    Each field's metadata (:func:`setting`) holds its ``--help`` text, choices and check; the
    flags of ``scratchdl train`` and the sweeps are made from them. More on some of them:

    Attributes
    ----------
    hidden, init, optimizer : None for the model's default
        (:data:`scratchdl.choices.MODEL_DEFAULTS`): 50 hidden units for the MLP and
        DeepConvNet, 100 for SimpleConvNet; init 0.01 for the MLP (the book's ch. 5), He for the
        CNNs (``--model cnn`` reaches 0.979 after one epoch with He, 0.962 with 0.01); SGD for
        the MLP, Adam for the CNNs (as the book).
    lr : float or None
        None picks :data:`DEFAULT_LR` for the optimizer (0.1 for SGD, as the book's ch. 5.7.4;
        the book's defaults for the others, e.g. 0.001 for Adam).
    epochs, iters : int or None
        Length of the run; exactly one is set. Giving ``epochs`` drops the default ``iters``.
    eval_samples : int or None
        Evaluate each epoch on this many random train and test samples (None = full sets);
        :func:`~scratchdl.train.train` still measures the final weights on the full sets
        (``history.info["final"]``).
    max_seconds : float or None
        Wall-clock budget of each session (a resumed run gets a fresh one); the run stops after
        the first iteration past it, and :func:`~scratchdl.train.train` keeps its checkpoint.
    batchnorm, dropout
        MLP only, through :class:`~scratchdl.nets.MultiLayerNetExtend` (ch. 6.3, 6.4.3).
    """

    dataset: str = setting("mnist", "dataset", choices=DATASETS)
    model: str = setting(
        "mlp",
        "mlp (default): fully connected; cnn: the book's SimpleConvNet (ch. 7, Adam, about 99%% "
        "in 20 epochs); deep-cnn: its DeepConvNet (ch. 8)",
        choices=MODELS,
        default_text="",
    )
    hidden: tuple[int, ...] | None = setting(
        None,
        "hidden layer widths: --hidden 100,100 for two layers of 100",
        check=_check_hidden,
        metavar="N[,N...]",
        default_text="one layer of 50; 100 for cnn",
    )
    activation: str = setting("relu", "hidden activation", choices=ACTIVATIONS)
    init: float | str | None = setting(
        None,
        "initial weights: he, xavier or a std such as 0.01",
        check=_check_init,
        metavar="STD|he|xavier",
        default_text="0.01 for mlp, he for the CNNs",
    )
    optimizer: str | None = setting(
        None,
        f"{', '.join(OPTIMIZERS[:-1])} or {OPTIMIZERS[-1]}",
        choices=OPTIMIZERS,
        default_text="sgd (mlp), adam (cnn, deep-cnn)",
    )
    lr: float | None = setting(
        None,
        "learning rate",
        check=check_positive,
        name="learning rate",
        default_text="0.1 for sgd, the book's default for the other optimizers, e.g. 0.001 "
        "for adam",
    )
    batch_size: int = setting(
        100, "mini-batch size", check=check_positive_int, name="batch size", metavar="N"
    )
    epochs: int | None = setting(
        None, "train for N epochs", check=_optional(check_positive_int), metavar="N"
    )
    iters: int | None = setting(
        DEFAULT_ITERS, "train for N iterations", check=_optional(check_positive_int), metavar="N"
    )
    weight_decay: float = setting(
        0.0, "L2 penalty λ", check=check_non_negative, name="weight decay", metavar="L"
    )
    seed: int = setting(0, "random seed", check=check_non_negative_int)
    eval_samples: int | None = setting(
        None,
        "evaluate on N samples of each set",
        check=_optional(check_positive_int),
        metavar="N",
        default_text="the full sets",
    )
    sampling: str = setting(
        "shuffle",
        "mini-batches: shuffle (a fresh permutation each epoch, the remainder dropped) or "
        "replacement (drawn with replacement, the book's np.random.choice)",
        choices=SAMPLINGS,
    )
    max_seconds: float | None = setting(
        None,
        "stop after S seconds of training in this session (resumable with --resume)",
        check=lambda value, name: check_time_budget(value),
        metavar="S",
    )
    dtype: str = setting("float32", "network dtype", choices=DTYPES)
    batchnorm: bool = setting(
        False,
        "MLP: batch normalisation after every hidden Affine layer (the book's "
        "MultiLayerNetExtend, ch. 6.3)",
        check=_check_bool,
        default_text="",
    )
    dropout: float = setting(
        0.0,
        "MLP: drop each hidden unit with probability P in training (ch. 6.4.3)",
        check=check_probability,
        metavar="P",
        default_text="",
    )

    augment: str = setting(
        "none",
        "data augmentation (ch. 8.1.1): transforms applied on the fly to every training batch, "
        f"a comma-separated list of {', '.join(AUGMENTATIONS)}, or all",
        check=_check_augment,
        metavar="KINDS",
    )
    lr_decay: str = setting(
        "none",
        "learning-rate decay per epoch (ch. 8.1.1): step multiplies the rate by "
        "--lr-decay-factor every --lr-decay-every epochs; cosine lowers it from --lr to "
        "--lr-decay-factor times --lr over the run",
        choices=LR_DECAYS,
    )
    lr_decay_every: int = setting(
        1, "step decay: epochs between two decays", check=check_positive_int, metavar="N"
    )
    lr_decay_factor: float | None = setting(
        None,
        "step decay: the multiplier at each decay, in (0, 1]; cosine: the final rate as a "
        "fraction of --lr, in [0, 1)",
        check=_optional(check_non_negative),
        metavar="F",
        default_text="0.5 for step, 0 for cosine",
    )

    def __post_init__(self) -> None:
        defaults = MODEL_DEFAULTS.get(self.model, MODEL_DEFAULTS["mlp"])
        for name in ("hidden", "optimizer", "init"):
            if getattr(self, name) is None:
                setattr(self, name, defaults[name])
        if isinstance(self.hidden, (list, tuple)):
            self.hidden = tuple(self.hidden)
        elif is_int(self.hidden):
            self.hidden = (self.hidden,)
        for name in ("optimizer", "init", "lr_decay"):  # names are matched in lower case
            if isinstance(getattr(self, name), str):
                setattr(self, name, getattr(self, name).lower())
        if self.lr is None:
            self.lr = DEFAULT_LR.get(self.optimizer)
        if isinstance(self.augment, str):
            self.augment = self.augment.strip().lower() or "none"
        if self.epochs is not None and self.iters == DEFAULT_ITERS:
            self.iters = None  # epochs given: the default length gives way

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` with one sentence for an impossible setting.

        Each field's check is in its metadata (:func:`setting`); the checks across fields
        follow. Returns ``self`` so it chains: ``TrainConfig(...).validate()``.
        """
        for f in dataclasses.fields(self):
            meta, value = f.metadata, getattr(self, f.name)
            name = meta["name"] or f.name
            if meta["choices"]:
                check_choice(value, meta["choices"], name)
            if meta["check"]:
                meta["check"](value, name)
        if (self.epochs is None) == (self.iters is None):
            raise ConfigError(
                "give exactly one of epochs and iters, got "
                f"epochs={self.epochs} and iters={self.iters}"
            )
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
        if self.lr_decay == "none" and self.lr_decay_factor is not None:
            raise ConfigError(
                "lr_decay_factor needs a decay: give lr_decay step or cosine (--lr-decay)"
            )
        if self.lr_decay != "none":
            self.lr_schedule(1)  # its own checks (the factor's range)
        return self

    def lr_schedule(self, epochs: int) -> LRSchedule | None:
        """The :class:`~scratchdl.train.schedule.LRSchedule` of a run of ``epochs`` epochs
        (None without ``lr_decay``)."""
        if self.lr_decay == "none":
            return None
        factor = self.lr_decay_factor
        if factor is None:
            factor = 0.5 if self.lr_decay == "step" else 0.0
        return LRSchedule(self.lr_decay, self.lr, epochs, self.lr_decay_every, factor)

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
        if self.augment != "none":
            extras += f"augment {','.join(augment_kinds(self.augment))}, "
        if self.lr_decay != "none":
            extras += f"{self.lr_decay} lr decay, "
        return (
            f"{self.dataset}, {model}hidden {hidden} {self.activation}, {extras}init {self.init}, "
            f"{self.optimizer} lr={self.lr:g}, batch {self.batch_size}, {length}, seed {self.seed}"
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
