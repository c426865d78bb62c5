"""The parts a sweep is declared with: its options (which are its CLI flags), its budget, its
groups of trials, and the helpers its summary and figures use.

A sweep module reads top to bottom as the question, the grid, the answer::

    QUESTION = "Which learning rate trains this net ...?"

    @dataclass(frozen=True)
    class Options(NetOptions):
        values: tuple[float, ...] = option((0.001, 0.01, 0.1, 1.0, 10.0), "learning rates")

    def build(opts, data):
        groups = [Group(f"lr {lr:g}", {"lr": lr}, opts.train(lr=lr)) for lr in opts.values]
        return declare(NAME, QUESTION, opts, data, groups, opts.budget(BUDGET), summarize, plot)

    def summarize(res):
        s = Summary(res)
        s.say("In {budget}, lr {lr} reached {acc:pm}.", lr=..., acc=...)
        return s.done()

The command line's ``add_flags`` (:mod:`scratchdl.cli._options`, which makes ``scratchdl
train``'s flags from :class:`TrainConfig` too) turns the ``Options`` dataclass into flags (a
field ``batch_size`` is ``--batch-size``, its default and help come from :func:`option`), so
the CLI and the Python API cannot drift apart, and the network's defaults are those of
``scratchdl train`` (:class:`NetOptions`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import plural, plural_epochs
from scratchdl.checks import check_positive, check_positive_int
from scratchdl.errors import ConfigError
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import acc, group_metric, sig
from scratchdl.experiments.trial import TRIAL_SETTINGS, TrialSpec
from scratchdl.plots.sweeps import Series
from scratchdl.train.config import TrainConfig
from scratchdl.train.trainer import iter_per_epoch
from scratchdl.train.verdict import Verdict, learning_verdict, noise_comparison

__all__ = [
    "BookCh6Options",
    "Budget",
    "CommonOptions",
    "Group",
    "NetOptions",
    "declare",
    "epoch_points",
    "gap",
    "group_curves",
    "heldout",
    "mean_curve",
    "noise",
    "option",
    "train_option",
    "verdict",
]

_TRAIN = TrainConfig()
_TRAIN_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def option(default: Any, help: str, *, choices: Sequence[str] | None = None, flag: bool = True):
    """A field of a sweep's options: its default, its ``--help`` text, its choices.

    ``flag=False`` keeps it out of the command line (set from Python only).
    """
    meta = {"help": help, "choices": tuple(choices) if choices else None, "flag": flag}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Budget:
    """How long each trial trains: ``epochs`` (as the Trainer counts them) or ``updates``."""

    epochs: float | None = None
    updates: int | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.updates is None):
            raise ConfigError("a budget is epochs or updates: give exactly one")

    @property
    def checkpoint(self) -> dict[str, float]:
        return {"epochs": self.epochs} if self.epochs is not None else {"updates": self.updates}

    @property
    def text(self) -> str:
        """``"2 epochs"``, ``"1 epoch"``, ``"2000 updates"``: what follows "in"."""
        if self.epochs is not None:
            return plural_epochs(sig(self.epochs))
        return plural(self.updates, "update")

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "updates": self.updates, "text": self.text}


@dataclass(frozen=True)
class CommonOptions:
    """Options every sweep has: the budget, the seeds, and how finely to measure."""

    epochs: float | None = option(None, "train each run for this many epochs")
    iters: int | None = option(None, "train each run for this many updates instead")
    seeds: tuple[int, ...] = option(
        (0, 1, 2), "seeds; accuracy is reported as mean ± std over them"
    )
    eval_samples: int = option(
        2000,
        "training/held-out images per learning-curve point; checkpoints always use the full sets",
    )
    curve_points: int = option(20, "points on each learning curve")
    dtype: str = option("float32", "network dtype", choices=("float32", "float64"), flag=False)

    def budget(self, default: Budget) -> Budget:
        """The budget ``--epochs``/``--iters`` ask for, else the sweep's ``default``."""
        if self.epochs is not None and self.iters is not None:
            raise ConfigError("give --epochs or --iters, not both")
        if self.epochs is not None:
            return Budget(epochs=check_positive(self.epochs, "--epochs"))
        if self.iters is not None:
            return Budget(updates=check_positive_int(self.iters, "--iters"))
        return default

    def check(self) -> None:
        """Checks that need no data (the plan's own checks follow in :func:`declare`)."""
        if not self.seeds:
            raise ConfigError("--seeds needs at least one seed")
        check_positive_int(self.eval_samples, "--eval-samples")
        if self.curve_points is not None:  # None: one point per epoch (see declare)
            check_positive_int(self.curve_points, "--curve-points")


def train_option(name: str, default: Any = dataclasses.MISSING, *, flag: bool = True) -> Any:
    """A sweep option that is the :class:`TrainConfig` field ``name``: its help and choices,
    and ``scratchdl train``'s default unless ``default`` is given."""
    f = _TRAIN_FIELDS[name]
    if default is dataclasses.MISSING:
        default = getattr(_TRAIN, name)
    # A default of its own is shown as it is, not as TrainConfig's text for its own default.
    shown = f.metadata["default_text"] if default is None else None
    meta = {**f.metadata, "flag": flag, "default_text": shown}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NetOptions(CommonOptions):
    """The network and optimizer: :class:`TrainConfig`'s fields, with ``scratchdl train``'s
    defaults (ch. 5.7.4)."""

    hidden: tuple[int, ...] = train_option("hidden")
    activation: str = train_option("activation")
    init: float | str = train_option("init")
    optimizer: str = train_option("optimizer")
    lr: float | None = train_option("lr", None)  # None: the optimizer's (TrainConfig's)
    batch_size: int = train_option("batch_size")
    weight_decay: float = train_option("weight_decay")
    sampling: str = train_option("sampling")
    augment: str = train_option("augment")
    lr_decay: str = train_option("lr_decay")

    def train(self, **changes: Any) -> TrainConfig:
        """The training settings of a trial: these options with ``changes`` applied, checked
        as ``scratchdl train`` checks them."""
        settings = {name: getattr(self, name) for name in TRIAL_SETTINGS}
        # Chapter 8's additions join a trial's record only when set (train_record).
        settings.update(augment=self.augment, lr_decay=self.lr_decay)
        return TrainConfig(**{**settings, **changes}).validate()


@dataclass(frozen=True)
class BookCh6Options(NetOptions):
    """The setting of the book's ch. 6.1.8 and 6.2.4 MNIST comparisons: 4 hidden layers of 100
    (the book's text calls it a 5-layer net), He weights, batches of 128 drawn with replacement,
    a curve point every 20 of the 2000 updates."""

    hidden: tuple[int, ...] = train_option("hidden", (100, 100, 100, 100))
    init: float | str = train_option("init", "he")
    batch_size: int = train_option("batch_size", 128)
    sampling: str = train_option("sampling", "replacement")
    curve_points: int = option(100, "points on each learning curve")


@dataclass(frozen=True)
class Group:
    """One configuration of a sweep: its label, its coordinates, its training settings."""

    name: str
    tags: dict[str, Any]
    train: TrainConfig


def default_columns(heldout: str = "test") -> tuple[Column, ...]:
    """The live table: final training loss, held-out accuracy, status."""

    def loss(r: dict[str, Any]) -> str:
        value = r["final"].get("train_loss")
        return "-" if value is None else sig(value)

    return (
        Column("train loss", loss),
        Column(f"{heldout} acc", lambda r: acc(r["final"].get(f"{heldout}_acc"))),
        Column("status", lambda r: r["status"], justify="left"),
    )


def declare(
    name: str,
    question: str,
    opts: CommonOptions,
    data: dict[str, Any],
    groups: Sequence[Group],
    budget: Budget,
    summarize: Callable[[SweepResults], tuple[str, dict[str, Any]]],
    plot: Callable[[SweepResults, Path], list[Path]],
    *,
    extra_checkpoints: dict[str, dict[str, float]] | None = None,
    beyond_budget: str = "",
    subset: dict[str, Any] | None = None,
    layer_stats: bool = False,
    columns: Sequence[Column] | None = None,
) -> Sweep:
    """A sweep: every group trained once per seed for ``budget``.

    ``opts.curve_points`` None (a sweep may default to it) draws one point per epoch of the
    first group's batch size, as the book's ch. 6 figures.

    Parameters
    ----------
    name, question : str
    opts : CommonOptions
        Recorded in ``results.json`` with the budget, the data the trials see and chance level.
    data : dict
        The data set's description (``name``, ``n_train``, ``classes``).
    groups : sequence of Group
    budget : Budget
        The ``final`` checkpoint, where every trial stops.
    summarize, plot : callable
        See :class:`~scratchdl.experiments.engine.Sweep`.
    extra_checkpoints : dict, optional
        Named checkpoints besides ``final`` (a trial trains until all are reached: name them
        in the summary when they can outlast the budget).
    beyond_budget : str
        When an extra checkpoint can outlast the budget, what it adds, as a clause ("runs
        also train until 3 s of training for the equal-time comparison"): recorded in the
        options and printed on the sweep's first line.
    subset : dict, optional
        The data each trial sees (:attr:`TrialSpec.subset`), checked against ``data``.
    layer_stats : bool
        Record per-layer statistics and activation histograms at the start and the end.
    columns : sequence of Column, optional
        The live table (default: :func:`default_columns`).
    """
    opts.check()
    if not groups:
        raise ConfigError(f"the {name} sweep has nothing to run: give at least one value")
    subset = dict(subset or {})
    n_train = int(subset.get("train_samples", data["n_train"]))
    if not 1 <= n_train <= data["n_train"]:
        raise ConfigError(
            f"--train-samples must be between 1 and the {data['n_train']} training examples, "
            f"got {n_train}"
        )
    if subset.get("validation") is not None:
        if not 0 < float(subset["validation"]) < 1:
            raise ConfigError(
                f"--validation must be between 0 and 1 (exclusive), got {subset['validation']}"
            )
        n_train -= int(n_train * float(subset["validation"]))
    for g in groups:
        if g.train.batch_size > n_train:
            raise ConfigError(
                f"batch size {g.train.batch_size} is larger than the {n_train} training examples"
            )
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ConfigError(f"the {name} sweep lists a value twice")
    checkpoints = {"final": budget.checkpoint, **(extra_checkpoints or {})}
    points = opts.curve_points or epoch_points(budget, n_train, groups[0].train.batch_size)
    evaluation = {
        "eval_samples": int(opts.eval_samples),
        "curve_points": int(points),
        "layer_stats": bool(layer_stats),
    }
    trials = [
        TrialSpec(
            sweep=name,
            group=g.name,
            tags=g.tags,
            train=g.train,
            checkpoints=checkpoints,
            seed=int(seed),
            evaluation=evaluation,
            data=str(data["name"]),
            subset=subset,
        )
        for g in groups
        for seed in opts.seeds
    ]
    heldout = "val" if subset.get("validation") else "test"
    options = {
        **asdict(opts),
        "curve_points": int(points),
        "budget": budget.to_dict(),
        "checkpoints": checkpoints,
        "beyond_budget": beyond_budget,
        "subset": subset,
        "n_train": n_train,
        "heldout": heldout,
        "chance": 1.0 / int(data["classes"]),
    }
    return Sweep(
        name=name,
        question=question,
        trials=trials,
        options=options,
        columns=tuple(columns or default_columns(heldout)),
        summarize=summarize,
        plot=plot,
    )


def epoch_points(budget: Budget, n_train: int, batch_size: int) -> int:
    """Learning-curve points for one point per epoch of ``budget`` (at least one): the book
    plots its ch. 6 curves per epoch."""
    epochs = budget.epochs
    if epochs is None:
        epochs = int(budget.updates or 0) / iter_per_epoch(n_train, batch_size)
    return max(1, round(epochs))


# -- curves ------------------------------------------------------------------------------------
def mean_curve(
    trials: Sequence[dict[str, Any]], x_key: str, y_key: str
) -> tuple[list[float], list[float | None]]:
    """Seed-averaged curve: points are matched by index (same spec, same evaluation steps);
    seeds that stopped early (diverged) only contribute to the points they reached."""
    curves = [t["curve"] for t in trials]
    n = max(len(c[x_key]) for c in curves)
    xs, ys = [], []
    for i in range(n):
        pts = [c for c in curves if i < len(c[x_key])]
        xs.append(float(np.mean([c[x_key][i] for c in pts])))
        vals = [c[y_key][i] for c in pts if c[y_key][i] is not None]
        ys.append(float(np.mean(vals)) if vals else None)
    return xs, ys


def by_group(res: SweepResults) -> dict[str, list[dict[str, Any]]]:
    """The trials of each group, in plan order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for t in res.trials:
        out.setdefault(t["group"], []).append(t)
    return out


def group_curves(
    res: SweepResults, x_key: str, y_key: str, *, style: str = "-", skip_first: bool = False
) -> list[Series]:
    """One seed-averaged learning curve per group (``skip_first`` drops the point at 0, which
    a log axis cannot show)."""
    series = []
    for name, trials in by_group(res).items():
        xs, ys = mean_curve(trials, x_key, y_key)
        if skip_first:
            xs, ys = xs[1:], ys[1:]
        series.append(Series(name, xs, ys, style=style))
    return series


# -- what the numbers support saying (scratchdl.train.verdict) --------------------------------
def heldout(res: SweepResults) -> str:
    """``"test"``, or ``"val"`` when the trials held out a validation split."""
    return str(res.options.get("heldout", "test"))


def verdict(res: SweepResults, group: dict[str, Any]) -> Verdict:
    """What ``group``'s runs support saying at the budget (the ``final`` checkpoint), from
    their held-out accuracy there (mean over seeds) and two seed-averaged loss curves up to
    it: the training loss on the curve's fixed subsample, and the mean mini-batch loss between
    curve points. The second averages over hundreds of updates, so it shows the slow fall of a
    net on a plateau (ch. 6.2) that each update's jitter hides in the first; the loss is
    "still falling" when either curve says so. Checkpoints after the budget (a sweep's
    ``extra_checkpoints``) do not count."""
    trials = by_group(res)[group["group"]]
    at_budget = [t.get("results", {}).get("final", {}) for t in trials]
    stop = max((r.get("updates", math.inf) for r in at_budget), default=math.inf)
    curves = []
    for key in ("train_loss", "batch_loss"):
        if all(key in t["curve"] for t in trials):
            xs, ys = mean_curve(trials, "updates", key)
            curves.append([y for x, y in zip(xs, ys, strict=True) if x <= stop])
    curves[1:] = [c[1:] for c in curves[1:]]  # no mini-batch loss at 0 updates
    if any(r.get("reached") is False for r in at_budget) or (
        group["diverged"] and not any(at_budget)
    ):
        curves[0].append(None)  # diverged before the budget

    def metric(name: str) -> float | None:  # at the budget, else where the runs ended
        found = group_metric(group, f"results.final.{name}")
        return found if found is not None else group_metric(group, f"final.{name}")

    return learning_verdict(
        metric(f"{heldout(res)}_acc"),
        curves[0],
        float(res.options["chance"]),
        res.options["budget"]["text"],
        # The advice names the flag that set the budget: more updates for an updates budget.
        more="try more updates (--iters)"
        if res.options["budget"].get("updates") is not None
        else "try more epochs (--epochs)",
        epochs=metric("epochs"),
        also=curves[1:],
    )


def noise(a: dict[str, Any], b: dict[str, Any], path: str) -> str:
    """How group ``a``'s ``path`` compares with ``b``'s against the seed noise, as a phrase:
    ``"more than the seed noise"``, ``"within the seed noise"`` or, with one seed,
    ``"one seed only, so the seed noise is unknown"``."""
    verdict = noise_comparison(a["metrics"][path], b["metrics"][path])
    return {
        "one seed": "one seed only, so the seed noise is unknown",
        "within noise": "within the seed noise",
    }.get(verdict, "more than the seed noise")


def gap(a: dict[str, Any], b: dict[str, Any], path: str) -> str:
    """:func:`noise` as a clause: ``"the gap is more than the seed noise"``, ``"the gap is
    within the seed noise"`` or ``"one seed only, so the seed noise is unknown"``."""
    phrase = noise(a, b, path)
    return phrase if phrase.startswith("one seed") else "the gap is " + phrase


def setup_values(options: dict[str, Any]) -> dict[str, Any]:
    """The named values a summary's "Setup:" sentence takes from a sweep's options: ``hidden``
    ("100-100"), ``activation``, ``init``, ``optimizer``, ``lr``, ``batch``, ``sampling``,
    ``drawn`` ("drawn with replacement"), ``seeds`` ("3 seeds") and ``n_train``."""
    o = options
    return {
        "hidden": "-".join(map(str, o["hidden"])),
        "activation": o.get("activation"),
        "init": o.get("init"),
        "optimizer": o.get("optimizer"),
        "lr": o.get("lr"),
        "batch": o.get("batch_size"),
        "sampling": o.get("sampling"),
        "drawn": "drawn with replacement" if o.get("sampling") == "replacement" else "shuffled",
        "seeds": plural(len(o["seeds"]), "seed"),
        "n_train": o.get("n_train"),
    }
