"""``train(config)``: build the network and optimizer, load the data, train, checkpoint."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchdl.choices import build_model
from scratchdl.data.augment import Augmenter
from scratchdl.errors import ConfigError, ShapeError
from scratchdl.nets import EVAL_BATCH, Net, evaluate
from scratchdl.optimizers import Optimizer, get_optimizer
from scratchdl.train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from scratchdl.train.config import DEFAULT_LR, TrainConfig, augment_kinds
from scratchdl.train.helpers import TimeBudget
from scratchdl.train.history import History
from scratchdl.train.trainer import Callback, Evaluator, Trainer, iter_per_epoch

__all__ = [
    "CHECKPOINT_NAME",
    "RESUMABLE",
    "augmenter_for",
    "build_trainer",
    "checkpoint_config",
    "make_optimizer",
    "train",
]

#: File name of the checkpoint inside ``checkpoint_dir``.
CHECKPOINT_NAME = "checkpoint.npz"

#: Stop reasons after which the checkpoint is kept so that ``resume`` can continue the run.
RESUMABLE = ("interrupted", "time_limit")

Split = tuple[NDArray, NDArray]
Data = tuple[Split, "Split | None"]


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """Optimizer ``name`` with learning rate ``lr`` (None: :data:`DEFAULT_LR` for it)."""
    key = str(name).lower()
    # An unknown name never gets here with lr None: get_optimizer names the choices first.
    return get_optimizer(key, lr=DEFAULT_LR.get(key) if lr is None else lr)


def build_trainer(
    config: TrainConfig,
    x_train: NDArray,
    t_train: NDArray,
    x_test: NDArray | None,
    t_test: NDArray | None,
    n_classes: int,
    planned_epochs: int,
    **trainer_options: Any,
) -> Trainer:
    """The network ``config`` describes and its :class:`Trainer`: the initial weights draw from
    the first child of ``SeedSequence(config.seed)``, the mini-batches from the second (how
    ``train`` and a sweep's trial build a run). ``planned_epochs`` is the length a decaying
    learning rate plans for; ``trainer_options`` go to the Trainer (its length, evaluation)."""
    init_seq, train_seq = np.random.SeedSequence(config.seed).spawn(2)
    net = build_model(config, x_train.shape[1], n_classes, np.random.default_rng(init_seq))
    return Trainer(
        net,
        x_train,
        t_train,
        x_test,
        t_test,
        optimizer=make_optimizer(config.optimizer, config.lr),
        batch_size=config.batch_size,
        sampling=config.sampling,
        rng=np.random.default_rng(train_seq),
        augment=augmenter_for(config, x_train.shape[1]),
        lr_schedule=config.lr_schedule(planned_epochs),
        **trainer_options,
    )


def checkpoint_config(checkpoint_dir: str | os.PathLike[str]) -> TrainConfig:
    """The :class:`TrainConfig` of the run whose checkpoint is in ``checkpoint_dir``."""
    _, meta = read_checkpoint(Path(checkpoint_dir) / CHECKPOINT_NAME)
    return TrainConfig.from_dict(meta["history"]["config"])


def augmenter_for(config: TrainConfig, input_size: int) -> Augmenter | None:
    """The :class:`Augmenter` of ``config.augment`` for flat square images (None: none)."""
    kinds = augment_kinds(config.augment)
    if not kinds:
        return None
    side = int(round(input_size**0.5))
    if side * side != input_size:
        raise ConfigError(
            f"augmentation transforms square one-channel images, and {input_size} values per "
            "sample are not a square: train without augment (--augment none)"
        )
    return Augmenter(kinds, (1, side, side))


def _n_classes(t_train: NDArray, t_test: NDArray | None, dataset_default: int | None) -> int:
    if t_train.ndim == 2:
        return int(t_train.shape[1])
    if dataset_default is not None:
        return dataset_default
    top = int(t_train.max())
    if t_test is not None and np.size(t_test):
        top = max(top, int(np.max(t_test)))
    return max(top + 1, 2)


def _unpack(data: Any) -> tuple[NDArray, NDArray, NDArray | None, NDArray | None]:
    try:
        (x_train, t_train), test = data
        x_test, t_test = (None, None) if test is None else test
    except (TypeError, ValueError):
        raise ShapeError(
            "data must be ((x_train, t_train), (x_test, t_test)) or ((x_train, t_train), None)"
        ) from None
    return np.asarray(x_train), np.asarray(t_train), x_test, t_test


def train(
    config: TrainConfig | None = None,
    data: Data | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    evaluator: Evaluator | None = None,
) -> tuple[Net, History]:
    """Train the network ``config`` describes and return it with its history.

    Parameters
    ----------
    config : TrainConfig, optional
        Defaults to the book's ch. 5.7.4 run.
    data : ((x_train, t_train), (x_test, t_test)), optional
        Use these arrays instead of loading ``config.dataset`` (tests, custom data). Inputs
        must be floating; labels integer (N,) or one-hot (N, C). The test part may be None.
    data_dir : path, optional
        Where :func:`scratchdl.data.load_mnist` looks for the dataset.
    progress : bool
        Show a progress bar (only on a terminal).
    checkpoint_dir : path, optional
        Folder of ``checkpoint.npz``: written when the run is interrupted (Ctrl-C) or stops at
        ``max_seconds``, removed when it ends otherwise.
    resume : bool
        Continue the run saved in ``checkpoint_dir``; ``config`` must match its settings
        (``max_seconds`` may change, and applies afresh to the resumed session).
    callbacks : iterable of Callback
        Added to the Trainer's; ``scratchdl train`` passes the opt-in helpers of
        :mod:`scratchdl.train.helpers` (Ctrl-C, BLAS threads) here.
    evaluator : Evaluator, optional
        Who makes the per-epoch records (default: in the foreground).

    Returns
    -------
    net, history
        ``history.stop_reason`` says how it ended; after divergence ``net`` holds the last good
        weights and ``history.message`` explains. With ``eval_samples``,
        ``history.info["final"]`` holds the final weights' accuracy and loss on the full sets.
    """
    config = (config or TrainConfig()).validate()
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume:
        if ckpt_path is None:
            raise ConfigError("resume needs checkpoint_dir: the folder holding checkpoint.npz")
        saved, now = checkpoint_config(checkpoint_dir).to_dict(), config.to_dict()
        diffs = sorted(k for k in now if k != "max_seconds" and now[k] != saved[k])
        if diffs:
            raise ConfigError(
                f"the checkpoint in {checkpoint_dir} was made with other settings "
                f"({', '.join(diffs)}): resume with the run's own settings"
            )

    load_start = time.perf_counter()
    if data is None:
        from scratchdl.data import load_mnist

        data = load_mnist(
            normalize=True,
            flatten=True,
            one_hot_label=False,
            data_dir=data_dir,
            dataset=config.dataset,
        )
        source, default_classes = config.dataset, 10
    else:
        source, default_classes = "data argument", None
    x_train, t_train, x_test, t_test = _unpack(data)
    load_seconds = time.perf_counter() - load_start
    x_train = x_train.reshape(x_train.shape[0], -1)
    if x_test is not None:
        x_test = np.reshape(x_test, (np.shape(x_test)[0], -1))
    n_classes = _n_classes(t_train, t_test, default_classes)
    all_callbacks = list(callbacks)
    if progress:
        from scratchdl.train.progress import RichProgress

        all_callbacks.append(RichProgress())
    if config.max_seconds is not None:
        all_callbacks.append(TimeBudget(config.max_seconds))
    per_epoch = iter_per_epoch(x_train.shape[0], config.batch_size)
    trainer = build_trainer(
        config,
        x_train,
        t_train,
        x_test,
        t_test,
        n_classes,
        config.epochs or -(-config.iters // per_epoch),
        epochs=config.epochs,
        iters=config.iters,
        eval_samples=config.eval_samples,
        callbacks=all_callbacks,
        evaluator=evaluator,
    )
    net = trainer.net
    trainer.history.config = config.to_dict()
    trainer.history.seed = config.seed
    if resume:
        load_checkpoint(trainer, ckpt_path)
    # n_train and n_test are there already: the Trainer's, or the checkpoint's (they match).
    trainer.history.info.update(data=source, load_seconds=round(load_seconds, 3))
    # The time budget covers the final evaluation below too.
    deadline = None if config.max_seconds is None else time.perf_counter() + config.max_seconds
    history = trainer.fit()
    if ckpt_path is not None and history.stop_reason in RESUMABLE:
        # First of all, so a second Ctrl-C during the evaluation below cannot lose the run.
        save_checkpoint(trainer, ckpt_path)
        history.info["checkpoint"] = str(ckpt_path)
    if (
        config.eval_samples is not None
        and history.last is not None
        and history.stop_reason != "interrupted"
    ):
        try:
            final = _final_evaluation(net, trainer, deadline)
            if final is not None:
                history.info["final"] = final
        except KeyboardInterrupt:
            # Ctrl-C here must not lose a finished run: keep it resumable (a resumed run
            # has no iterations left and goes straight to this evaluation).
            history.stop_reason = "interrupted"
            history.message = "interrupted during the final evaluation"
            if ckpt_path is not None:
                save_checkpoint(trainer, ckpt_path)
                history.info["checkpoint"] = str(ckpt_path)
            return net, history
    if ckpt_path is not None and history.stop_reason not in RESUMABLE:
        # The run is over (and evaluated): its checkpoint would only invite a wrong resume.
        with contextlib.suppress(FileNotFoundError):
            ckpt_path.unlink()
    return net, history


def _final_evaluation(
    net: Net, trainer: Trainer, deadline: float | None = None
) -> dict[str, Any] | None:
    """The final weights on the full test set (the records used ``eval_samples`` samples).

    Only the test set: the train accuracy stays the last record's, on its sample (measuring
    all 60,000 training images would cost DeepConvNet minutes after a short run). With a
    ``deadline`` (the time budget's end) the images are taken in a random order, in chunks,
    until it passes: the result then says on how many of them it was measured (``n_test`` of
    ``of_test``), or is None when no time was left at all. None as well when there is no test
    set, or the records already used all of it.
    """
    last = trainer.history.last
    if trainer.x_test is None or trainer.eval_test_idx is None or last is None:
        return None
    x, t = trainer.x_test, trainer.t_test
    n = int(x.shape[0])
    final: dict[str, Any] = {
        "n_test": n,
        "of_test": n,
        "test_acc": None,
        "train_acc": last.train_acc,
        "train_loss": last.train_loss,
        "n_train_sample": int(trainer.eval_train_idx.shape[0])
        if trainer.eval_train_idx is not None
        else int(trainer.x_train.shape[0]),
    }
    if deadline is None:
        final["test_acc"], final["test_loss"] = evaluate(net, x, t)
        return final
    order = np.random.default_rng(0).permutation(n)
    step = min(EVAL_BATCH, getattr(net, "eval_batch_size", EVAL_BATCH))
    correct = loss = 0.0
    done = 0
    while done < n and time.perf_counter() < deadline:
        idx = np.sort(order[done : done + step])
        acc, chunk_loss = evaluate(net, x[idx], t[idx])
        correct += acc * idx.shape[0]
        loss += chunk_loss * idx.shape[0]
        done += idx.shape[0]
    if done == 0:
        return None
    final.update(n_test=done, test_acc=correct / done, test_loss=loss / done)
    return final
