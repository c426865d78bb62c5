"""One trial of a sweep: train one network with one seed and measure it at checkpoints.

A trial configures the one training loop, :class:`scratchdl.train.Trainer`: its checkpoints
(a batch-size sweep compares runs at equal epochs, updates and training time; training each
run once and evaluating the full sets as each is reached makes the three comparisons cost one
run) and its records, the learning curve on fixed subsamples. The network, optimizer,
sampler and configuration checks are those of ``scratchdl train``. "Equal time" is the
Trainer's training clock (:attr:`~scratchdl.train.Trainer.train_seconds`): evaluation cost
never penalises a configuration that is evaluated more often.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchdl.errors import ConfigError
from scratchdl.experiments.data import Dataset
from scratchdl.layers import Sigmoid
from scratchdl.nets import ACTIVATION_LAYERS, Net
from scratchdl.train import TrainConfig
from scratchdl.train.config import augment_kinds
from scratchdl.train.history import History, finite_or_none
from scratchdl.train.run import build_trainer
from scratchdl.train.trainer import CHECKPOINT_KINDS, iter_per_epoch

__all__ = [
    "CHECKPOINT_KINDS",
    "TIMING_DEPENDENT",
    "TRIAL_FORMAT",
    "TrialSpec",
    "train_record",
    "layer_statistics",
    "run_trial",
]

#: Bumped when the meaning of a stored trial changes, so old results are not reused (2: trials
#: run through the Trainer, whose 'shuffle' drops each epoch's remainder; 3: the network is
#: built as ``scratchdl train`` builds it, data subsets, validation splits, histograms; 4: the
#: curve is the Trainer's records, and a divergence goes back to the last curve point).
TRIAL_FORMAT = 4
#: Result fields that depend on the machine's speed; everything else is a function of the
#: trial spec (the ``--jobs`` determinism test compares results without these).
TIMING_DEPENDENT = frozenset(
    {"timing", "train_seconds", "eval_seconds", "seconds", "wall_seconds", "process"}
)


@dataclass(frozen=True)
class TrialSpec:
    """Everything that determines one trial's result.

    Attributes
    ----------
    sweep : str
        The sweep it belongs to (``"batch-size"``); not part of the key.
    group : str
        Human label of its configuration (``"batch 100"``); seeds of one group are aggregated.
    tags : mapping
        The sweep's coordinates for this trial (``{"batch_size": 100}``), for tables and plots.
    train : TrainConfig
        The network, optimizer and batches (its length, seed and evaluation settings are the
        trial's own: ``checkpoints``, ``seed``, ``evaluation``); stored and keyed as
        :func:`train_record`.
    checkpoints : mapping
        ``name -> {kind: target}`` with kind in :data:`CHECKPOINT_KINDS`. The trial trains until
        every checkpoint is reached (or the loss diverges).
    seed : int
    evaluation : mapping
        ``eval_samples`` (learning-curve subsample), ``curve_points``, ``layer_stats`` (bool).
    data : str
        Identity of the data set (part of the key).
    subset : mapping
        Which data the trial sees: ``train_samples`` keeps the first N training examples (the
        book's ``x_train[:300]``); ``validation`` (a fraction) holds that share of them out,
        after one shuffle by ``split_seed`` (default 0, the same for every trial), as the
        held-out set instead of the test set, which the trial then never touches (ch. 6.5).
    """

    sweep: str
    group: str
    tags: Mapping[str, Any]
    train: TrainConfig
    checkpoints: Mapping[str, Mapping[str, float]]
    seed: int
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    data: str = "mnist"
    subset: Mapping[str, Any] = field(default_factory=dict)

    def _record(self) -> dict[str, Any]:
        """What determines the result (JSON-safe): the key's payload, without the format."""
        return {
            "seed": int(self.seed),
            "train": train_record(self.train),
            "checkpoints": {k: dict(v) for k, v in self.checkpoints.items()},
            "evaluation": dict(self.evaluation),
            "data": self.data,
            "subset": dict(self.subset),
        }

    @property
    def key(self) -> str:
        """Stable name of this trial: a hash of everything that affects its metrics."""
        payload = {"format": TRIAL_FORMAT, **self._record()}
        text = json.dumps(payload, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sweep": self.sweep,
            "group": self.group,
            "tags": dict(self.tags),
            **self._record(),
        }


#: The settings of a trial's record and key, and a sweep's network options (``batchnorm`` and
#: ``dropout`` join the record only when set, so the keys of plain nets stay as they were).
TRIAL_SETTINGS = (
    "hidden",
    "activation",
    "init",
    "optimizer",
    "lr",
    "batch_size",
    "weight_decay",
    "dtype",
    "sampling",
)


def train_record(config: TrainConfig) -> dict[str, Any]:
    """The settings of ``config`` a trial is keyed by and records (JSON-safe)."""
    record = {name: getattr(config, name) for name in TRIAL_SETTINGS}
    record.update(hidden=list(config.hidden), lr=float(config.lr))
    record["weight_decay"] = float(config.weight_decay)
    if config.batchnorm:
        record["batchnorm"] = True
    if config.dropout:
        record["dropout"] = float(config.dropout)
    if config.augment != "none":
        record["augment"] = ",".join(augment_kinds(config.augment))
    if config.lr_decay != "none":
        record["lr_decay"] = config.lr_decay
        record["lr_decay_every"] = int(config.lr_decay_every)
        record["lr_decay_factor"] = config.lr_decay_factor
    return record


def _lengths(spec: TrialSpec, n_train: int) -> list[tuple[float, int]]:
    """``(epochs, samples)`` to each checkpoint target known in advance (seconds are not)."""
    b = spec.train.batch_size
    per_epoch = iter_per_epoch(n_train, b)
    length = {
        "epochs": lambda v: (float(v), round(v * per_epoch) * b),
        "updates": lambda v: (float(v) / per_epoch, int(v) * b),
        "samples": lambda v: (float(v) / b / per_epoch, int(v)),
    }
    return [length[k](v) for t in spec.checkpoints.values() for k, v in t.items() if k in length]


def _planned_epochs(spec: TrialSpec, n_train: int) -> int:
    """Epochs (rounded up) to the last checkpoint: the length a decaying learning rate plans
    for. A budget in seconds has no length known in advance."""
    lengths = [epochs for epochs, _ in _lengths(spec, n_train)]
    if not lengths:
        if spec.train.lr_decay != "none":
            raise ConfigError(
                "a learning-rate decay needs a budget in epochs, updates or samples, not only "
                "seconds"
            )
        return 1
    return max(1, -int(-max(lengths) // 1))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} in a trial key")


#: Activation histograms (ch. 6.2.2): 30 bins over [0, 1], as the book draws them.
HIST_BINS = 30
HIST_RANGE = (0.0, 1.0)


def _hidden_outputs(net: Net, x: NDArray) -> list[tuple[Any, NDArray]]:
    """``(layer, output)`` of every hidden activation layer for ``x``, in inference mode."""
    outputs = []
    h = x
    for layer in net.layers.values():
        h = layer.forward(h, False) if layer.train_flg_aware else layer.forward(h)
        if isinstance(layer, tuple(ACTIVATION_LAYERS.values())):
            outputs.append((layer, h))
    return outputs


def layer_statistics(net: Net, x: NDArray, t: NDArray) -> dict[str, list[Any]]:
    """Per-layer activation statistics and weight-gradient sizes on one fixed batch.

    Returns
    -------
    dict
        ``act_mean``, ``act_std``: mean and std of each hidden layer's output;
        ``inactive``: fraction of units that pass (almost) no gradient, i.e. ReLU outputs at 0
        or sigmoid outputs below 0.01 or above 0.99; ``hist``: each hidden layer's histogram
        of outputs, the fraction of them in each of :data:`HIST_BINS` bins over
        :data:`HIST_RANGE` (outputs outside the range are in no bin, as in the book's
        figure); ``grad_rms``: root-mean-square of ``dL/dW`` for every weight matrix
        ``W1 ... W{L+1}`` (the vanishing-gradient signal).
    """
    net = copy.deepcopy(net)  # a training-mode pass moves BatchNorm's running averages
    stats: dict[str, list[Any]] = {"act_mean": [], "act_std": [], "inactive": [], "hist": []}
    with np.errstate(all="ignore"):
        for layer, h in _hidden_outputs(net, x):
            # A saturated sigmoid passes almost no gradient; a ReLU at 0 passes none.
            stuck = (h < 0.01) | (h > 0.99) if isinstance(layer, Sigmoid) else h <= 0
            counts, _ = np.histogram(h, bins=HIST_BINS, range=HIST_RANGE)
            stats["inactive"].append(float(np.mean(stuck)))
            stats["act_mean"].append(finite_or_none(float(np.mean(h, dtype=np.float64))))
            stats["act_std"].append(finite_or_none(float(np.std(h, dtype=np.float64))))
            stats["hist"].append([round(float(c) / h.size, 6) for c in counts])
        grads = net.gradient(x, t)
        n_weights = sum(1 for name in net.params if name.startswith("W"))
        stats["grad_rms"] = [
            finite_or_none(float(np.sqrt(np.mean(np.square(grads[f"W{i}"], dtype=np.float64)))))
            for i in range(1, n_weights + 1)
        ]
    return stats


def _nominal_samples(spec: TrialSpec, n_train: int) -> int:
    """Length of the run in samples as far as it is known in advance (for curve spacing)."""
    return max([int(spec.train.batch_size) * 10] + [n for _, n in _lengths(spec, n_train)])


def _curve(history: History, heldout: str, batch_size: int) -> dict[str, list]:
    """The learning curve from the Trainer's records: position, accuracy and loss on the fixed
    subsamples, and the mean mini-batch loss since the previous point (None at 0 updates)."""
    curve: dict[str, list] = {}
    since = 0
    for r in history.records:
        losses = history.loss[since : r.iteration]
        since = r.iteration
        point = {
            "updates": r.iteration,
            "samples": r.iteration * batch_size,
            "epochs": r.iteration / history.iter_per_epoch,
            "seconds": r.train_seconds,
            "train_acc": r.train_acc,
            "train_loss": r.train_loss,
            f"{heldout}_acc": r.test_acc,
            f"{heldout}_loss": r.test_loss,
            "batch_loss": finite_or_none(float(np.mean(losses))) if losses else None,
        }
        for key, value in point.items():
            curve.setdefault(key, []).append(value)
    return curve


def _trial_data(spec: TrialSpec, data: Dataset) -> tuple[tuple[NDArray, ...], str]:
    """``(x_train, t_train, x_heldout, t_heldout)`` as ``spec.subset`` says, and the held-out
    set's name: ``"test"``, or ``"val"`` for a validation split (then the test set is unused)."""
    dtype = np.dtype(spec.train.dtype)
    x_train, t_train = data.x_train, np.asarray(data.t_train)
    sub = spec.subset
    n = sub.get("train_samples")
    if n is not None:
        if not 1 <= int(n) <= x_train.shape[0]:
            raise ConfigError(
                f"train_samples must be between 1 and the {x_train.shape[0]} training "
                f"examples, got {n}"
            )
        x_train, t_train = x_train[: int(n)], t_train[: int(n)]
    x_train = np.asarray(x_train, dtype=dtype)
    share = sub.get("validation")
    if not share:
        x_test = np.asarray(data.x_test, dtype=dtype)
        return (x_train, t_train, x_test, np.asarray(data.t_test)), "test"
    n_val = int(x_train.shape[0] * float(share))
    if not 1 <= n_val < x_train.shape[0]:
        raise ConfigError(
            f"validation share {share} of {x_train.shape[0]} examples leaves no validation or "
            "no training examples"
        )
    # The book shuffles once, then holds out the first share (ch. 6.5.1).
    order = np.random.default_rng(int(sub.get("split_seed", 0))).permutation(x_train.shape[0])
    val, tr = order[:n_val], order[n_val:]
    return (x_train[tr], t_train[tr], x_train[val], t_train[val]), "val"


def run_trial(spec: TrialSpec, data: Dataset) -> dict[str, Any]:
    """Train one network as ``spec`` says and return its measurements (JSON-ready).

    The network, optimizer and mini-batches are those of ``scratchdl train`` with the same
    settings and ``--seed``: the random streams for the initial weights and the mini-batches
    are the first two children of ``SeedSequence(seed)``, as there, and a third one draws the
    evaluation subsamples. A trial gives the same metrics in any process. A trial that
    diverges reaches none of its remaining checkpoints; its losses are None (not finite) and
    its accuracies are those of the weights the Trainer restored (the last curve point's).
    """
    config = spec.train
    (x_train, t_train, x_test, t_test), heldout = _trial_data(spec, data)
    n_train, ev = x_train.shape[0], spec.evaluation
    step = _nominal_samples(spec, n_train) // max(1, int(ev.get("curve_points", 20)))
    trainer = build_trainer(
        dataclasses.replace(config, seed=int(spec.seed)),
        x_train,
        t_train,
        x_test,
        t_test,
        data.n_classes,
        _planned_epochs(spec, n_train),
        iters=sys.maxsize,  # until every checkpoint is reached
        checkpoints=spec.checkpoints,
        record_every=max(1, step),
    )
    net = trainer.net
    # Fixed subsamples for the learning curve, from the third child of the seed: cheap, and
    # the same points for every update.
    eval_rng = np.random.default_rng(np.random.SeedSequence(int(spec.seed)).spawn(3)[2])
    m = int(ev.get("eval_samples", 2000))
    trainer.eval_train_idx = np.sort(eval_rng.choice(n_train, min(m, n_train), replace=False))
    n_test = x_test.shape[0]
    trainer.eval_test_idx = np.sort(eval_rng.choice(n_test, min(m, n_test), replace=False))
    stats = trainer.eval_train_idx[:1000]

    wall_start = time.perf_counter()
    layer_stats = None
    if ev.get("layer_stats"):
        layer_stats = {"init": layer_statistics(net, x_train[stats], t_train[stats])}
    trainer.evaluator.record(trainer)  # the curve starts at the initial weights
    history = trainer.fit()
    if layer_stats is not None:
        layer_stats["final"] = layer_statistics(net, x_train[stats], t_train[stats])
    results = {}
    for name, point in history.checkpoints.items():
        # The Trainer's held-out set is the trial's test or validation set.
        point = {k.replace("test_", f"{heldout}_"): v for k, v in point.items()}
        results[name] = {**point, "gap": point["train_acc"] - point[f"{heldout}_acc"]}
    # "final" is the checkpoint reached last: the state the network ended in.
    final = max(results.values(), key=lambda r: (r["updates"], r["seconds"]))
    updates, clock = trainer.iteration, trainer.train_seconds
    samples, epochs_done = updates * trainer.batch_size, updates / trainer.iter_per_epoch
    return {
        **spec.to_dict(),
        "status": "diverged" if history.stop_reason == "diverged" else "completed",
        "params": int(sum(p.size for p in net.params.values())),
        "updates": updates,
        "samples": samples,
        "epochs": epochs_done,
        "train_seconds": clock,
        "eval_seconds": history.elapsed - clock,
        "wall_seconds": time.perf_counter() - wall_start,
        "timing": {
            "seconds_per_update": clock / updates if updates else None,
            "seconds_per_epoch": clock / epochs_done if epochs_done else None,
            "samples_per_second": samples / clock if clock > 0 else None,
        },
        "results": results,
        "final": dict(final),
        "curve": _curve(history, heldout, config.batch_size),
        "layer_stats": layer_stats,
    }
