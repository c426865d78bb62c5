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
from scratchdl.nets import ACTIVATION_LAYERS, MultiLayerNet, Net, TwoLayerNet
from scratchdl.optimizers import OPTIMIZERS as _OPTIMIZER_CLASSES

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "DTYPES",
    "INITS",
    "MODELS",
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
    """The fully connected net: the book's TwoLayerNet for one hidden layer."""
    common = {
        "activation": config.activation,
        "weight_decay_lambda": config.weight_decay,
        "dtype": config.dtype,
        "rng": rng,
    }
    if len(config.hidden) == 1:
        return TwoLayerNet(input_size, config.hidden[0], n_classes, config.init, **common)
    return MultiLayerNet(
        input_size, list(config.hidden), n_classes, weight_init_std=config.init, **common
    )


#: Model kinds: ``name -> builder(config, input_size, n_classes, rng)``.
MODELS: dict[str, ModelBuilder] = {"mlp": _mlp}


def build_model(
    config: Any, input_size: int, n_classes: int, rng: np.random.Generator | int | None
) -> Net:
    """The network ``config`` (a :class:`~scratchdl.train.TrainConfig`) describes."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return MODELS[config.model](config, input_size, n_classes, rng)
