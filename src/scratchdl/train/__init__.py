"""Training (ch. 4.5, 5.7.4, 6): ``Trainer``, its opt-in helpers, ``TrainConfig`` and
``train(config)``.

The book's loop over our library::

    >>> from scratchdl.nets import TwoLayerNet
    >>> from scratchdl.optimizers import SGD
    >>> from scratchdl.train import Trainer
    >>> trainer = Trainer(TwoLayerNet(784, 50, 10), x_train, t_train, x_test, t_test,
    ...                   optimizer=SGD(lr=0.1), iters=10000)       # doctest: +SKIP
    >>> history = trainer.fit()                                      # doctest: +SKIP

and the whole run of ``scratchdl train`` in one call::

    >>> net, history = train(TrainConfig())     # 784-50-10, SGD 0.1    # doctest: +SKIP

:mod:`scratchdl.train.trainer` says what the loop does; :mod:`scratchdl.train.helpers` holds
the opt-in pieces (Ctrl-C, time budget, BLAS threads, background evaluation);
:mod:`scratchdl.train.checkpoint` saves and resumes a Trainer.
"""

from __future__ import annotations

from scratchdl.nets import EVAL_BATCH, evaluate
from scratchdl.train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from scratchdl.train.config import DEFAULT_ITERS, DEFAULT_LR, TrainConfig
from scratchdl.train.helpers import BackgroundEvaluation, BlasThreads, StopOnCtrlC, TimeBudget
from scratchdl.train.history import EpochRecord, History
from scratchdl.train.run import (
    CHECKPOINT_NAME,
    augmenter_for,
    checkpoint_config,
    make_optimizer,
    train,
)
from scratchdl.train.trainer import Callback, Evaluator, Sampler, Trainer

__all__ = [
    "CHECKPOINT_NAME",
    "DEFAULT_ITERS",
    "DEFAULT_LR",
    "EVAL_BATCH",
    "BackgroundEvaluation",
    "BlasThreads",
    "Callback",
    "EpochRecord",
    "Evaluator",
    "History",
    "Sampler",
    "StopOnCtrlC",
    "TimeBudget",
    "TrainConfig",
    "Trainer",
    "augmenter_for",
    "checkpoint_config",
    "evaluate",
    "load_checkpoint",
    "make_optimizer",
    "read_checkpoint",
    "save_checkpoint",
    "train",
]
