"""Every named choice of a training run, in one place.

:class:`~scratchdl.train.TrainConfig` validates against these, the CLI offers them as
``choices``, the sweeps parse them. Adding a model kind is one entry in :data:`MODELS` (a
function building the network from a ``TrainConfig``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchdl.data.datasets import DATASETS as _DATASET_SPECS
from scratchdl.errors import ConfigError
from scratchdl.nets import (
    ACTIVATION_LAYERS,
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    Net,
    SimpleConvNet,
    TwoLayerNet,
)
from scratchdl.optimizers import OPTIMIZERS as _OPTIMIZER_CLASSES

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "DTYPES",
    "INITS",
    "MODELS",
    "MODEL_DEFAULTS",
    "OPTIMIZERS",
    "SAMPLINGS",
    "build_model",
]

#: Hidden activations (:data:`scratchdl.nets.ACTIVATION_LAYERS`).
ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATION_LAYERS)
#: Named initial weight scales (ch. 6.2); a positive number is a choice too.
INITS: tuple[str, ...] = ("he", "xavier")
#: Optimizers (ch. 6.1), by :data:`scratchdl.optimizers.OPTIMIZERS`.
OPTIMIZERS: tuple[str, ...] = tuple(_OPTIMIZER_CLASSES)
#: Datasets :func:`scratchdl.data.load_mnist` knows.
DATASETS: tuple[str, ...] = tuple(_DATASET_SPECS)
#: Mini-batch sampling (see :class:`scratchdl.train.Sampler`).
SAMPLINGS: tuple[str, ...] = ("shuffle", "replacement")
#: Network dtypes.
DTYPES: tuple[str, ...] = ("float32", "float64")

ModelBuilder = Callable[[Any, int, int, np.random.Generator], Net]


def _mlp(config: Any, input_size: int, n_classes: int, rng: np.random.Generator) -> Net:
    """The fully connected net: the book's TwoLayerNet for one hidden layer, its
    MultiLayerNetExtend (ch. 6.3-6.4) with batch normalisation or dropout."""
    common = {
        "activation": config.activation,
        "weight_decay_lambda": config.weight_decay,
        "dtype": config.dtype,
        "rng": rng,
    }
    if getattr(config, "batchnorm", False) or getattr(config, "dropout", 0.0):
        return MultiLayerNetExtend(
            input_size,
            list(config.hidden),
            n_classes,
            weight_init_std=config.init,
            use_dropout=bool(config.dropout),
            dropout_ration=config.dropout or 0.5,
            use_batchnorm=config.batchnorm,
            **common,
        )
    if len(config.hidden) == 1:
        return TwoLayerNet(input_size, config.hidden[0], n_classes, config.init, **common)
    return MultiLayerNet(
        input_size, list(config.hidden), n_classes, weight_init_std=config.init, **common
    )


def _image_dim(input_size: int) -> tuple[int, int, int]:
    side = int(round(input_size**0.5))
    if side * side != input_size:
        raise ConfigError(
            f"the CNNs take square one-channel images, and {input_size} values per sample are "
            "not a square: use --model mlp"
        )
    return (1, side, side)


def _convnet(net_class: type, name: str) -> ModelBuilder:
    """The builder of one of the book's CNNs, ``net_class`` (model kind ``name``)."""

    def build(config: Any, input_size: int, n_classes: int, rng: np.random.Generator) -> Net:
        if config.activation != "relu":
            raise ConfigError(f"the {name} uses ReLU (as the book's): drop activation/--activation")
        if len(config.hidden) != 1:
            raise ConfigError(
                f"the {name} has one hidden affine layer: give one hidden size, got "
                f"{list(config.hidden)}"
            )
        return net_class(
            _image_dim(input_size),
            hidden_size=config.hidden[0],
            output_size=n_classes,
            weight_init_std=config.init,
            weight_decay_lambda=config.weight_decay,
            dtype=config.dtype,
            rng=rng,
        )

    return build


#: Model kinds: ``name -> builder(config, input_size, n_classes, rng)``.
#: ``cnn`` is the book's SimpleConvNet (ch. 7.5: conv 30x5x5 - pool - affine ``hidden`` -
#: affine), ``deep-cnn`` its DeepConvNet (ch. 8.1: six 3x3 convolutions, dropout 0.5).
MODELS: dict[str, ModelBuilder] = {
    "mlp": _mlp,
    "cnn": _convnet(SimpleConvNet, "cnn"),
    "deep-cnn": _convnet(DeepConvNet, "deep-cnn"),
}

#: Settings a model kind brings when a run does not give them: the book's runs (ch. 5.7.4 for
#: the MLP, ``train_convnet.py`` and ``train_deepnet.py`` with Adam for the CNNs).
#: The CNNs start from He weights (ch. 6.2.2, the book's advice for ReLU; its DeepConvNet
#: uses them): SimpleConvNet's own default 0.01 trains more slowly in the first epochs.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"hidden": (50,), "optimizer": "sgd", "init": 0.01},
    "cnn": {"hidden": (100,), "optimizer": "adam", "init": "he"},
    "deep-cnn": {"hidden": (50,), "optimizer": "adam", "init": "he"},
}


def build_model(
    config: Any, input_size: int, n_classes: int, rng: np.random.Generator | int | None
) -> Net:
    """The network ``config`` (a :class:`~scratchdl.train.TrainConfig`) describes."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return MODELS[config.model](config, input_size, n_classes, rng)
