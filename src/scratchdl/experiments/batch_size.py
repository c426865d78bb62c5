"""``scratchdl sweep batch-size``: how the mini-batch size affects speed and accuracy.

Each batch size is trained once per seed and paused at three checkpoints for a full evaluation
(see :mod:`scratchdl.experiments.trial`):

* **equal epochs** — after the same number of samples seen (``--epochs``),
* **equal updates** — after the same number of parameter updates (``--updates``; by default
  the number the largest batch makes in ``--epochs``, so no run needs to train longer),
* **equal time** — after the same number of seconds of training (``--budget-seconds``).

A run trains until it has passed all three, so the three comparisons cost one run, not three.
With ``--iters N`` the equal-updates checkpoint is at ``N`` and the equal-epochs one at the data
the smallest batch sees in ``N`` updates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import over_seeds, plural_epochs
from scratchdl.errors import ConfigError
from scratchdl.experiments.config import check_positive, train_settings
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import acc, group_metric, pm, ratio, sig
from scratchdl.experiments.trial import TrialSpec
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels

__all__ = ["BatchSizeOptions", "LR_SCALINGS", "build", "scaled_lr"]

LR_SCALINGS = ("none", "linear", "sqrt")
QUESTION = "How does mini-batch size affect speed and accuracy, and what size is right?"
CHECKS = ("epochs", "updates", "time")
CHECK_TITLES = {"epochs": "equal epochs", "updates": "equal updates", "time": "equal time"}


@dataclass(frozen=True)
class BatchSizeOptions:
    """Options of the batch-size sweep (the CLI flags, with the same defaults)."""

    values: tuple[int, ...] = (1, 10, 32, 100, 1000, 10000)
    epochs: float | None = None  # default 2 when neither epochs nor iters is given
    iters: int | None = None
    updates: int | None = None
    budget_seconds: float = 3.0
    lr: float = 0.1
    lr_scaling: str = "none"
    lr_reference: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: tuple[int, ...] = (50,)
    activation: str = "relu"
    init: float | str = "he"
    optimizer: str = "sgd"
    weight_decay: float = 0.0
    sampling: str = "shuffle"
    dtype: str = "float32"
    eval_samples: int = 2000
    curve_points: int = 20


def scaled_lr(lr: float, batch: int, scaling: str, reference: int = 100) -> float:
    """Learning rate for ``batch``: ``lr`` at ``reference``, scaled linearly, by sqrt, or not."""
    if scaling == "none":
        return lr
    if scaling == "linear":
        return lr * batch / reference
    if scaling == "sqrt":
        return lr * math.sqrt(batch / reference)
    raise ConfigError(f"--lr-scaling must be one of {', '.join(LR_SCALINGS)}, got {scaling!r}")


def build(opts: BatchSizeOptions, data: dict[str, Any]) -> Sweep:
    """The batch-size sweep plan for a data set described by ``data`` (``n_train``, ``name``)."""
    n_train = int(data["n_train"])
    if opts.epochs is not None and opts.iters is not None:
        raise ConfigError("give --epochs or --iters, not both")
    check_positive(opts.epochs, "--epochs")
    check_positive(opts.iters, "--iters", integer=True)
    check_positive(opts.updates, "--updates", integer=True)
    check_positive(opts.budget_seconds, "--budget-seconds")
    check_positive(opts.lr_reference, "--lr-reference", integer=True)
    check_positive(opts.eval_samples, "--eval-samples", integer=True)
    if not opts.values:
        raise ConfigError("--values needs at least one batch size")
    if not opts.seeds:
        raise ConfigError("--seeds needs at least one seed")
    too_big = [b for b in opts.values if b > n_train]
    if too_big:
        raise ConfigError(f"batch size {too_big[0]} is larger than the {n_train} training examples")
    scaled_lr(opts.lr, 1, opts.lr_scaling)  # reject an unknown scaling up front
    values = tuple(sorted(opts.values))
    if opts.iters is not None:
        updates = int(opts.iters)
        samples = updates * values[0]
    else:
        samples = max(1, round((opts.epochs if opts.epochs is not None else 2.0) * n_train))
        updates = opts.updates or max(1, math.ceil(samples / values[-1]))
    checkpoints = {
        "epochs": {"samples": samples},
        "updates": {"updates": int(opts.updates or updates)},
        "time": {"seconds": float(opts.budget_seconds)},
    }
    evaluation = {"eval_samples": int(opts.eval_samples), "curve_points": int(opts.curve_points)}
    trials = []
    for b in values:
        lr_b = scaled_lr(opts.lr, b, opts.lr_scaling, opts.lr_reference)
        settings = train_settings(
            hidden=opts.hidden,
            activation=opts.activation,
            init=opts.init,
            optimizer=opts.optimizer,
            lr=lr_b,
            batch_size=b,
            weight_decay=opts.weight_decay,
            dtype=opts.dtype,
            sampling=opts.sampling,
        )
        for seed in opts.seeds:
            trials.append(
                TrialSpec(
                    sweep="batch-size",
                    group=f"batch {b}",
                    tags={"batch_size": b, "lr": lr_b},
                    train=settings,
                    checkpoints=checkpoints,
                    seed=int(seed),
                    evaluation=evaluation,
                    data=str(data["name"]),
                )
            )
    options = {
        **asdict(opts),
        "values": list(values),
        "checkpoints": checkpoints,
        "epochs_at_check": samples / n_train,
    }
    return Sweep(
        name="batch-size",
        question=QUESTION,
        trials=trials,
        options=options,
        columns=COLUMNS,
        summarize=summarize,
        plot=plot,
    )


def _r(path: str) -> Any:
    def render(row: dict[str, Any]) -> str:
        value: Any = row
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return "-"
        if "acc" in path:
            return acc(value)
        if "per_update" in path:
            return sig(value * 1e3)
        return sig(value)

    return render


COLUMNS = (
    Column("lr", lambda r: sig(r["train"]["lr"])),
    Column("acc@epochs", _r("results.epochs.test_acc")),
    Column("acc@updates", _r("results.updates.test_acc")),
    Column("acc@time", _r("results.time.test_acc")),
    Column("ms/update", _r("timing.seconds_per_update")),
    Column("s/epoch", _r("timing.seconds_per_epoch")),
    Column("status", lambda r: r["status"], justify="left"),
)


# -- summary -----------------------------------------------------------------------------------
def _row(g: dict[str, Any], check: str) -> dict[str, Any]:
    p = f"results.{check}."
    return {
        "batch": g["tags"]["batch_size"],
        "acc": group_metric(g, p + "test_acc"),
        "std": group_metric(g, p + "test_acc", "std"),
        "n": group_metric(g, p + "test_acc", "n"),
        "train_acc": group_metric(g, p + "train_acc"),
        "seconds": group_metric(g, p + "seconds"),
        "epochs": group_metric(g, p + "epochs"),
        "updates": group_metric(g, p + "updates"),
    }


def _best(rows: Sequence[dict[str, Any]], key: str = "acc", worst: bool = False) -> dict[str, Any]:
    rows = [r for r in rows if r[key] is not None]
    return (min if worst else max)(rows, key=lambda r: r[key])


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """The data-driven answer: speed per update/epoch, then the three fair comparisons."""
    groups = res.groups
    opts = res.options
    n_seeds = len(opts["seeds"])
    speed = [
        {
            "batch": g["tags"]["batch_size"],
            "lr": g["train"]["lr"],
            "ms_per_update": 1e3 * group_metric(g, "timing.seconds_per_update"),
            "s_per_epoch": group_metric(g, "timing.seconds_per_epoch"),
            "samples_per_s": group_metric(g, "timing.samples_per_second"),
            "diverged": g["diverged"],
        }
        for g in groups
    ]
    checks = {c: [_row(g, c) for g in groups] for c in CHECKS}

    f: dict[str, Any] = {
        "seeds": n_seeds,
        "epochs": opts["epochs_at_check"],
        "updates": opts["checkpoints"]["updates"]["updates"],
        "budget_seconds": opts["checkpoints"]["time"]["seconds"],
        "table": [
            {
                **s,
                **{
                    f"{c}_acc": r["acc"]
                    for c, rows in checks.items()
                    for r in rows
                    if r["batch"] == s["batch"]
                },
                **{
                    f"{c}_std": r["std"]
                    for c, rows in checks.items()
                    for r in rows
                    if r["batch"] == s["batch"]
                },
            }
            for s in speed
        ],
    }
    if len(speed) == 1:
        return _summarize_one(res, speed[0], checks, f)
    fu, su = _best(speed, "ms_per_update", worst=True), _best(speed, "ms_per_update")
    fe, se = _best(speed, "s_per_epoch", worst=True), _best(speed, "s_per_epoch")
    f["speed"] = {
        "fastest_per_update": fu,
        "slowest_per_update": su,
        "fastest_per_epoch": fe,
        "slowest_per_epoch": se,
        "epoch_ratio": se["s_per_epoch"] / fe["s_per_epoch"],
        "update_ratio": su["ms_per_update"] / fu["ms_per_update"],
    }
    lines = [
        *_header(res),
        "## Speed",
        "",
        f"- Per update, batch {fu['batch']} is the fastest ({sig(fu['ms_per_update'])} ms per "
        f"update) and batch {su['batch']} the slowest ({sig(su['ms_per_update'])} ms, "
        f"{ratio(f['speed']['update_ratio'])}× longer).",
        f"- Per epoch, batch {fe['batch']} is the fastest ({sig(fe['s_per_epoch'])} s per epoch,"
        f" {sig(fe['samples_per_s'])} samples/s) and batch {se['batch']} the slowest "
        f"({sig(se['s_per_epoch'])} s, {ratio(f['speed']['epoch_ratio'])}× longer, "
        f"{sig(se['samples_per_s'])} samples/s).",
    ]
    if fu["batch"] < fe["batch"]:
        lines.append(
            f'- So "a small batch is faster per step" and "a large batch is faster per epoch" '
            f"are both true here: batch {fu['batch']} wins per update, batch {fe['batch']} per "
            "epoch. They measure different things."
        )
    elif fu["batch"] == fe["batch"]:
        lines.append(f"- Here batch {fu['batch']} is fastest both per update and per epoch.")

    lines += ["", "## Accuracy: three fair comparisons", ""]
    # Equal epochs: the most accurate batch against the one fastest per epoch.
    ep = checks["epochs"]
    best_ep = _best(ep)
    fast_ep = min((r for r in ep if r["seconds"] is not None), key=lambda r: r["seconds"])
    f["equal_epochs"] = {
        "best": best_ep,
        "fastest": fast_ep,
        "time_ratio": best_ep["seconds"] / fast_ep["seconds"],
    }
    tie_ep = _tie_note(ep, best_ep, f["equal_epochs"])
    head = f"- **Equal epochs ({plural_epochs(sig(f['epochs']))}):** "
    if best_ep["batch"] == fast_ep["batch"]:
        lines.append(
            head + f"batch {best_ep['batch']} was both the most accurate "
            f"({pm(_stat(best_ep))}) and the fastest ({sig(best_ep['seconds'])} s)."
        )
    else:
        lines.append(
            head + f"batch {best_ep['batch']} reached {pm(_stat(best_ep))} but took "
            f"{ratio(f['equal_epochs']['time_ratio'])}× longer "
            f"({sig(best_ep['seconds'])} s) than batch {fast_ep['batch']} "
            f"({pm(_stat(fast_ep))} in {sig(fast_ep['seconds'])} s)." + tie_ep
        )
    up = checks["updates"]
    best_up, worst_up = _best(up), _best(up, worst=True)
    f["equal_updates"] = {"best": best_up, "worst": worst_up}
    lines.append(
        f"- **Equal updates ({f['updates']} updates):** batch {best_up['batch']} reached "
        f"{pm(_stat(best_up))}, batch {worst_up['batch']} {pm(_stat(worst_up))}."
        + (
            " Each update of a larger batch averages the gradient over more samples, so per "
            "update the larger batch learns more."
            if best_up["batch"] > worst_up["batch"]
            else ""
        )
    )
    tm = checks["time"]
    best_tm, worst_tm = _best(tm), _best(tm, worst=True)
    f["equal_time"] = {"best": best_tm, "worst": worst_tm}
    tie = _tie_note(tm, best_tm, f["equal_time"])
    lines.append(
        f"- **Equal time ({sig(f['budget_seconds'])} s of training):** batch {best_tm['batch']} "
        f"reached {pm(_stat(best_tm))} ({plural_epochs(sig(best_tm['epochs']))}, "
        f"{sig(best_tm['updates'])} updates in that time); batch {worst_tm['batch']} reached "
        f"{pm(_stat(worst_tm))} ({plural_epochs(sig(worst_tm['epochs']))}, "
        f"{sig(worst_tm['updates'])} updates)." + tie
    )
    diverged = [s for s in speed if s["diverged"]]
    f["diverged"] = [{"batch": s["batch"], "lr": s["lr"], "seeds": s["diverged"]} for s in diverged]
    for s in diverged:
        lines.append(
            f"- Batch {s['batch']} diverged in {s['diverged']} of {n_seeds} seed(s) "
            f"(lr {sig(s['lr'])}); its accuracy is that of a broken net."
        )

    winners = {c: _best(checks[c])["batch"] for c in CHECKS}
    f["winners"] = winners
    lines += ["", "## Answer", ""]
    if len(set(winners.values())) == 1:
        lines.append(
            f"Batch {winners['epochs']} is the best choice here whichever way you count:"
            " epochs, updates or seconds."
        )
    else:
        tie = f["equal_time"].get("runner_up")
        pick = (
            f"batch {winners['time']} (or batch {tie['batch']}, a tie within seed noise)"
            if tie
            else f"batch {winners['time']}"
        )
        lines.append(
            f'"It depends" is really "it depends on what you hold fixed": per epoch batch '
            f"{winners['epochs']} is best, per update batch {winners['updates']}, per second of "
            f"training batch {winners['time']}. When compute time is what you pay for, {pick} "
            "is the right size for this net on this machine."
        )
    if n_seeds == 1:
        lines.append("")
        lines.append(
            "With one seed per batch size there is no measure of noise: run two or "
            "more --seeds before trusting differences of a few thousandths."
        )
    lines += [
        "",
        "## All batch sizes",
        "",
        "| batch | lr | ms/update | s/epoch | test acc, equal epochs | equal updates "
        "| equal time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in f["table"]:
        lines.append(
            f"| {t['batch']} | {sig(t['lr'])} | {sig(t['ms_per_update'])} | "
            f"{sig(t['s_per_epoch'])} | "
            + " | ".join(
                pm({"mean": t[f"{c}_acc"], "std": t[f"{c}_std"], "n": n_seeds}) for c in CHECKS
            )
            + " |"
        )
    lines += ["", "Figures: " + ", ".join(f"`{n}`" for n in FIGURES), ""]
    return "\n".join(lines), f


def _header(res: SweepResults) -> list[str]:
    opts, data = res.options, res.data
    return [
        "# Batch size: speed and accuracy",
        "",
        f"**Question:** {QUESTION}",
        "",
        f"Setup: {data.get('name')} ({data.get('n_train')} training / {data.get('n_test')} test "
        f"images); hidden layers {'-'.join(map(str, opts['hidden']))}, {opts['activation']} "
        f"with init {opts['init']}, {opts['optimizer']}, lr {sig(opts['lr'])} "
        f"(scaling: {opts['lr_scaling']}); {len(opts['seeds'])} seed(s) per batch size. Test "
        "accuracy is on the full test set, mean ± std over seeds. Times count training only "
        "(evaluation excluded), one BLAS thread per run, measured on this machine.",
        "",
    ]


def _summarize_one(
    res: SweepResults, s: dict[str, Any], checks: dict[str, list[dict[str, Any]]], f: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A sweep of a single batch size: its figures, and no comparison to draw."""
    row = {c: checks[c][0] for c in CHECKS}
    lines = [
        *_header(res),
        "## Batch " + str(s["batch"]),
        "",
        f"- Speed: {sig(s['ms_per_update'])} ms per update, {sig(s['s_per_epoch'])} s per epoch "
        f"({sig(s['samples_per_s'])} samples/s).",
        f"- Test accuracy after {plural_epochs(sig(f['epochs']))}: {pm(_stat(row['epochs']))}; after "
        f"{f['updates']} updates: {pm(_stat(row['updates']))}; after "
        f"{sig(f['budget_seconds'])} s of training: {pm(_stat(row['time']))}.",
    ]
    if s["diverged"]:
        lines.append(
            f"- It diverged in {s['diverged']} of {f['seeds']} seed(s) (lr {sig(s['lr'])})."
        )
    lines += [
        "",
        "## Answer",
        "",
        "Only one batch size was run, so there is nothing to compare: give two or more --values.",
        "",
        "Figures: " + ", ".join(f"`{n}`" for n in FIGURES),
        "",
    ]
    f["winners"] = None
    return "\n".join(lines), f


def _tie_note(rows: Sequence[dict[str, Any]], best: dict[str, Any], store: dict[str, Any]) -> str:
    """A sentence naming the runner-up when it is within one seed std of the best."""
    others = [r for r in rows if r is not best and r["acc"] is not None]
    if not others:
        return ""
    runner = max(others, key=lambda r: r["acc"])
    noise = max(best["std"] or 0.0, runner["std"] or 0.0)
    if best["acc"] - runner["acc"] > noise:
        return ""
    store["runner_up"] = runner
    return (
        f" Batch {runner['batch']} ({pm(_stat(runner))}) is within seed noise of it, so "
        "the two are a tie."
    )


def _stat(row: dict[str, Any]) -> dict[str, Any]:
    return {"mean": row["acc"], "std": row["std"], "n": row["n"] or 0}


# -- figures -----------------------------------------------------------------------------------
FIGURES = ("batch_accuracy.png", "batch_time.png", "batch_curves.png")


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Accuracy and time against batch size (log x, error bars), and the learning curves."""
    groups = res.groups
    xs = [g["tags"]["batch_size"] for g in groups]
    opts = res.options

    def series(path: str, label: str, scale: float = 1.0, style: str = "-o") -> Series:
        ys = [group_metric(g, path) for g in groups]
        es = [group_metric(g, path, "std") for g in groups]
        return Series(
            label,
            xs,
            [None if y is None else y * scale for y in ys],
            [None if e is None else e * scale for e in es],
            style,
        )

    labels = {
        "epochs": f"equal epochs ({sig(opts['epochs_at_check'])})",
        "updates": f"equal updates ({opts['checkpoints']['updates']['updates']})",
        "time": f"equal time ({sig(opts['checkpoints']['time']['seconds'])} s)",
    }
    acc_panels = [
        Panel(
            "Test accuracy",
            "batch size",
            "test accuracy (full test set)",
            [series(f"results.{c}.test_acc", labels[c]) for c in CHECKS],
            logx=True,
        ),
        Panel(
            "Train accuracy",
            "batch size",
            "train accuracy (full train set)",
            [series(f"results.{c}.train_acc", labels[c]) for c in CHECKS],
            logx=True,
        ),
    ]
    paths = [
        save_figure(
            plot_panels(
                acc_panels,
                f"Accuracy against batch size ({over_seeds(len(opts['seeds']))})",
            ),
            out / FIGURES[0],
        )
    ]
    time_panels = [
        Panel(
            "Time per update",
            "batch size",
            "milliseconds per update",
            [series("timing.seconds_per_update", "", 1e3)],
            logx=True,
            logy=True,
        ),
        Panel(
            "Time per epoch",
            "batch size",
            "seconds per epoch",
            [series("timing.seconds_per_epoch", "")],
            logx=True,
            logy=True,
        ),
        Panel(
            "Throughput",
            "batch size",
            "training samples per second",
            [series("timing.samples_per_second", "")],
            logx=True,
            logy=True,
        ),
    ]
    paths.append(
        save_figure(
            plot_panels(
                time_panels,
                "Training speed against batch size (one BLAS thread, evaluation excluded)",
            ),
            out / FIGURES[1],
        )
    )
    paths.append(save_figure(_curves_figure(res), out / FIGURES[2]))
    return paths


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


def _curves_figure(res: SweepResults) -> Any:
    by_group: dict[str, list[dict[str, Any]]] = {}
    for t in res.trials:
        by_group.setdefault(t["group"], []).append(t)
    panels = []
    for x_key, xlabel, logx in (
        ("epochs", "epochs (samples seen / training set size)", False),
        ("updates", "updates", True),
        ("seconds", "training seconds", False),
    ):
        series = []
        for g, trials in by_group.items():
            xs, ys = mean_curve(trials, x_key, "test_acc")
            if logx:  # the first point is at 0 updates, which a log axis cannot show
                xs, ys = xs[1:], ys[1:]
            series.append(Series(g, xs, ys, style="-"))
        panels.append(
            Panel(
                f"Test accuracy against {x_key}",
                xlabel,
                "test accuracy (eval subsample)",
                series,
                logx=logx,
            )
        )
    return plot_panels(panels, "Learning curves by batch size (mean over seeds)")
