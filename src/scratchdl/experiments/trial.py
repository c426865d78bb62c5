"""One trial of a sweep: train one network with one seed and measure it at checkpoints.

Why a loop of its own rather than one ``train()`` call per comparison: a batch-size sweep
compares runs at equal epochs, at equal updates and at equal wall-clock time. Training each run
once and *pausing* at each of those checkpoints for a full evaluation makes the three
comparisons cost one run instead of three. The network, optimizer and configuration checks come
from :mod:`scratchdl.nets` and :mod:`scratchdl.train`, so a trial trains exactly what
``scratchdl train`` would.

How time is measured: the trial keeps a *training clock* that runs only while a mini-batch is
drawn, the gradient computed and the parameters updated; every evaluation (learning-curve
points, checkpoints, layer statistics) happens with the clock stopped. "Equal time" therefore
means equal training compute, and evaluation cost never penalises a configuration that is
evaluated more often.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchdl.errors import ConfigError
from scratchdl.experiments.data import Dataset
from scratchdl.layers import Affine, Relu, Sigmoid
from scratchdl.nets import MultiLayerNet

__all__ = [
    "CHECKPOINT_KINDS",
    "TIMING_DEPENDENT",
    "TRIAL_FORMAT",
    "TrialSpec",
    "evaluate",
    "layer_statistics",
    "run_trial",
]

#: Bumped when the meaning of a stored trial changes, so old results are not reused.
TRIAL_FORMAT = 1
#: A checkpoint is reached when samples seen, updates made or training seconds hit a target.
CHECKPOINT_KINDS = ("samples", "updates", "seconds")
#: Result fields that depend on the machine's speed; everything else is a function of the
#: trial spec (the ``--jobs`` determinism test compares results without these).
TIMING_DEPENDENT = frozenset(
    {"timing", "train_seconds", "eval_seconds", "seconds", "wall_seconds", "process"}
)
#: Rows per chunk when evaluating: keeps memory flat for any set size.
EVAL_CHUNK = 5000


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
    train : mapping
        Training settings: ``hidden``, ``activation``, ``init``, ``optimizer``, ``lr``,
        ``batch_size``, ``weight_decay``, ``dtype``, ``sampling``.
    checkpoints : mapping
        ``name -> {kind: target}`` with kind in :data:`CHECKPOINT_KINDS`. The trial trains until
        every checkpoint is reached (or the loss diverges).
    seed : int
    evaluation : mapping
        ``eval_samples`` (learning-curve subsample), ``curve_points``, ``layer_stats`` (bool).
    data : str
        Identity of the data set (part of the key).
    """

    sweep: str
    group: str
    tags: Mapping[str, Any]
    train: Mapping[str, Any]
    checkpoints: Mapping[str, Mapping[str, float]]
    seed: int
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    data: str = "mnist"

    @property
    def key(self) -> str:
        """Stable name of this trial: a hash of everything that affects its metrics."""
        payload = {
            "format": TRIAL_FORMAT,
            "train": dict(self.train),
            "checkpoints": {k: dict(v) for k, v in self.checkpoints.items()},
            "seed": int(self.seed),
            "evaluation": dict(self.evaluation),
            "data": self.data,
        }
        text = json.dumps(payload, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sweep": self.sweep,
            "group": self.group,
            "tags": dict(self.tags),
            "seed": int(self.seed),
            "train": dict(self.train),
            "checkpoints": {k: dict(v) for k, v in self.checkpoints.items()},
            "evaluation": dict(self.evaluation),
            "data": self.data,
        }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} in a trial key")


def _finite(value: float) -> float | None:
    """JSON has no NaN/inf: a diverged loss is stored as None."""
    return float(value) if math.isfinite(value) else None


def evaluate(net: MultiLayerNet, x: NDArray, t: NDArray) -> tuple[float, float | None]:
    """Accuracy and mean cross-entropy of ``net`` on ``(x, t)``, in chunks.

    :func:`scratchdl.train.evaluate`, with a diverged net's non-finite loss stored as None.
    """
    from scratchdl.train import evaluate as train_evaluate

    with np.errstate(all="ignore"):  # a diverged net's NaN scores are reported, not warned
        acc, loss = train_evaluate(net, x, t, batch_size=EVAL_CHUNK)
    return acc, _finite(loss)


def layer_statistics(net: MultiLayerNet, x: NDArray, t: NDArray) -> dict[str, list[float | None]]:
    """Per-layer activation statistics and weight-gradient sizes on one fixed batch.

    Returns
    -------
    dict
        ``act_mean``, ``act_std``: mean and std of each hidden layer's output;
        ``inactive``: fraction of units that pass (almost) no gradient, i.e. ReLU outputs at 0
        or sigmoid outputs below 0.01 or above 0.99; ``grad_rms``: root-mean-square of
        ``dL/dW`` for every weight matrix ``W1 ... W{L+1}`` (the vanishing-gradient signal).
    """
    act_mean: list[float | None] = []
    act_std: list[float | None] = []
    inactive: list[float | None] = []
    h = x
    with np.errstate(all="ignore"):
        for layer in net.layers:
            h = layer.forward(h)
            if isinstance(layer, Relu):
                inactive.append(float(np.mean(h <= 0)))
            elif isinstance(layer, Sigmoid):
                inactive.append(float(np.mean((h < 0.01) | (h > 0.99))))
            else:
                continue
            act_mean.append(_finite(float(np.mean(h, dtype=np.float64))))
            act_std.append(_finite(float(np.std(h, dtype=np.float64))))
        grads = net.gradient(x, t)
        grad_rms = [
            _finite(float(np.sqrt(np.mean(np.square(grads[f"W{i}"], dtype=np.float64)))))
            for i in range(1, sum(isinstance(la, Affine) for la in net.layers) + 1)
        ]
    return {"act_mean": act_mean, "act_std": act_std, "inactive": inactive, "grad_rms": grad_rms}


class _Sampler:
    """Mini-batch indices: ``shuffle`` walks a stream of permutations (each epoch sees every
    sample once, batches may straddle epochs); ``replacement`` draws with replacement like the
    book's ``np.random.choice`` loop."""

    def __init__(self, n: int, mode: str, rng: np.random.Generator) -> None:
        self.n, self.mode, self.rng = n, mode, rng
        self._perm = rng.permutation(n)
        self._pos = 0

    def next(self, size: int) -> NDArray[np.intp]:
        if self.mode == "replacement":
            return self.rng.integers(0, self.n, size)
        parts = []
        while size:
            if self._pos == self.n:
                self._perm, self._pos = self.rng.permutation(self.n), 0
            take = min(size, self.n - self._pos)
            parts.append(self._perm[self._pos : self._pos + take])
            self._pos += take
            size -= take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _reached(target: Mapping[str, float], samples: int, updates: int, seconds: float) -> bool:
    now = {"samples": samples, "updates": updates, "seconds": seconds}
    return any(now[kind] >= value for kind, value in target.items())


def _nominal_samples(spec: TrialSpec) -> int:
    """Length of the run in samples as far as it is known in advance (for curve spacing)."""
    b = int(spec.train["batch_size"])
    lengths = [int(b) * 10]
    for target in spec.checkpoints.values():
        if "samples" in target:
            lengths.append(int(target["samples"]))
        if "updates" in target:
            lengths.append(int(target["updates"]) * b)
    return max(lengths)


def run_trial(spec: TrialSpec, data: Dataset) -> dict[str, Any]:
    """Train one network as ``spec`` says and return its measurements (JSON-ready).

    The random streams for initial weights, mini-batches and evaluation subsamples are all
    derived from ``spec.seed``, so a trial gives the same metrics in any process.
    """
    from scratchdl.train import make_optimizer

    tr = spec.train
    for name, target in spec.checkpoints.items():
        if not target or any(k not in CHECKPOINT_KINDS or not v > 0 for k, v in target.items()):
            raise ConfigError(
                f"checkpoint {name!r} needs a positive samples/updates/seconds target"
            )
    dtype = np.dtype(tr.get("dtype", "float32"))
    x_train = np.asarray(data.x_train, dtype=dtype)
    x_test = np.asarray(data.x_test, dtype=dtype)
    t_train, t_test = np.asarray(data.t_train), np.asarray(data.t_test)
    n_train = x_train.shape[0]
    batch = int(tr["batch_size"])

    init_seq, batch_seq, eval_seq = np.random.SeedSequence(int(spec.seed)).spawn(3)
    net = MultiLayerNet(
        x_train.shape[1],
        list(tr["hidden"]),
        data.n_classes,
        activation=tr["activation"],
        weight_init_std=tr["init"],
        weight_decay_lambda=float(tr.get("weight_decay", 0.0)),
        dtype=dtype,
        rng=np.random.default_rng(init_seq),
    )
    optimizer = make_optimizer(tr["optimizer"], float(tr["lr"]))
    sampler = _Sampler(n_train, tr.get("sampling", "shuffle"), np.random.default_rng(batch_seq))

    ev = spec.evaluation
    eval_rng = np.random.default_rng(eval_seq)
    m = int(ev.get("eval_samples", 2000))
    # Fixed subsamples for the learning curve: cheap, and the same points for every update.
    tr_idx = np.sort(eval_rng.choice(n_train, min(m, n_train), replace=False))
    te_idx = np.sort(eval_rng.choice(x_test.shape[0], min(m, x_test.shape[0]), replace=False))
    stats_idx = tr_idx[: min(1000, tr_idx.size)]

    wall_start = time.perf_counter()
    clock = 0.0  # training seconds only; see the module docstring
    updates = samples = 0
    curve: dict[str, list] = {
        k: []
        for k in (
            "updates",
            "samples",
            "epochs",
            "seconds",
            "train_acc",
            "train_loss",
            "test_acc",
            "test_loss",
            "batch_loss",
        )
    }
    batch_losses: list[float] = []

    def add_curve_point() -> None:
        tr_acc, tr_loss = evaluate(net, x_train[tr_idx], t_train[tr_idx])
        te_acc, te_loss = evaluate(net, x_test[te_idx], t_test[te_idx])
        for k, v in (
            ("updates", updates),
            ("samples", samples),
            ("epochs", samples / n_train),
            ("seconds", clock),
            ("train_acc", tr_acc),
            ("train_loss", tr_loss),
            ("test_acc", te_acc),
            ("test_loss", te_loss),
        ):
            curve[k].append(v)
        mean_loss = float(np.mean(batch_losses)) if batch_losses else None
        curve["batch_loss"].append(None if mean_loss is None else _finite(mean_loss))
        batch_losses.clear()

    def snapshot() -> dict[str, Any]:
        tr_acc, tr_loss = evaluate(net, x_train, t_train)
        te_acc, te_loss = evaluate(net, x_test, t_test)
        return {
            "updates": updates,
            "samples": samples,
            "epochs": samples / n_train,
            "seconds": clock,
            "train_acc": tr_acc,
            "train_loss": tr_loss,
            "test_acc": te_acc,
            "test_loss": te_loss,
            "gap": tr_acc - te_acc,
        }

    layer_stats = None
    if ev.get("layer_stats"):
        layer_stats = {"init": layer_statistics(net, x_train[stats_idx], t_train[stats_idx])}

    pending = dict(spec.checkpoints)
    results: dict[str, dict[str, Any]] = {}
    step = max(1, _nominal_samples(spec) // max(1, int(ev.get("curve_points", 20))))
    next_curve = step
    add_curve_point()
    status = "completed"
    eval_seconds = 0.0
    # A diverging run overflows on its way to NaN; that is recorded as its status, not warned.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while pending:
            t0 = time.perf_counter()
            idx = sampler.next(batch)
            loss, grads = net.loss_and_gradient(x_train[idx], t_train[idx])
            optimizer.update(net.params, grads)
            clock += time.perf_counter() - t0
            updates += 1
            samples += batch
            batch_losses.append(loss)
            # A NaN/inf parameter makes the next loss non-finite, so the loss alone is enough.
            diverged = not math.isfinite(loss)
            e0 = time.perf_counter()
            if diverged:
                status = "diverged"
                add_curve_point()
                snap = snapshot()
                for name in pending:
                    results[name] = {**snap, "reached": False}
                pending.clear()
            else:
                for name in [
                    n for n, target in pending.items() if _reached(target, samples, updates, clock)
                ]:
                    results[name] = {**snapshot(), "reached": True}
                    del pending[name]
                if samples >= next_curve or not pending:
                    add_curve_point()
                    next_curve = (samples // step + 1) * step
            eval_seconds += time.perf_counter() - e0

    if layer_stats is not None:
        layer_stats["final"] = layer_statistics(net, x_train[stats_idx], t_train[stats_idx])
    # "final" is the checkpoint reached last: the state the network ended in.
    final = max(results.values(), key=lambda r: (r["updates"], r["seconds"]))
    n_params = int(sum(p.size for p in net.params.values()))
    epochs_done = samples / n_train
    return {
        **spec.to_dict(),
        "status": status,
        "params": n_params,
        "updates": updates,
        "samples": samples,
        "epochs": epochs_done,
        "train_seconds": clock,
        "eval_seconds": eval_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "timing": {
            "seconds_per_update": clock / updates,
            "seconds_per_epoch": clock / epochs_done,
            "samples_per_second": samples / clock if clock > 0 else None,
        },
        "results": results,
        "final": dict(final),
        "curve": curve,
        "layer_stats": layer_stats,
    }
