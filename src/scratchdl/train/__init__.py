"""Training: ``TrainConfig``, ``Trainer``, ``History`` and the one-call ``train(config)``.

>>> from scratchdl.train import TrainConfig, train
>>> net, history = train(TrainConfig())          # the notes' run: 784-50-10, SGD 0.1
>>> history.last.test_acc                          # doctest: +SKIP
0.97...

See :mod:`scratchdl.train.trainer` for what the loop does (sampling, when records are made,
divergence, Ctrl-C and checkpoints).
"""

from __future__ import annotations

from scratchdl.train.config import DEFAULT_ITERS, DEFAULT_LR, TrainConfig
from scratchdl.train.history import EpochRecord, History
from scratchdl.train.run import CHECKPOINT_NAME, build_net, checkpoint_config, make_optimizer, train
from scratchdl.train.trainer import EVAL_BATCH, Callback, Trainer, evaluate, read_checkpoint

__all__ = [
    "CHECKPOINT_NAME",
    "DEFAULT_ITERS",
    "DEFAULT_LR",
    "EVAL_BATCH",
    "Callback",
    "EpochRecord",
    "History",
    "TrainConfig",
    "Trainer",
    "build_net",
    "checkpoint_config",
    "evaluate",
    "make_optimizer",
    "read_checkpoint",
    "train",
]
