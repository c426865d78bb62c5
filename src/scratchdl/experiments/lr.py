"""``scratchdl sweep lr``: "too large diverges, too small barely moves", on a real net.

One trial per learning rate and seed, same network and budget; the summary names the best rate,
the ones that diverged (non-finite loss) or got worse, and how little the smallest one moved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scratchdl._text import over_seeds, plural_epochs
from scratchdl.errors import ConfigError
from scratchdl.experiments.batch_size import mean_curve
from scratchdl.experiments.config import check_positive, train_settings
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import acc, group_metric, pm, sig, words_list
from scratchdl.experiments.trial import TrialSpec
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels

__all__ = ["LrOptions", "build"]

QUESTION = "Which learning rate trains this net, and what happens when it is too large or small?"
FIGURES = ("lr_accuracy.png", "lr_curves.png")


@dataclass(frozen=True)
class LrOptions:
    """Options of the learning-rate sweep (the CLI flags, with the same defaults)."""

    values: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    epochs: float | None = None  # default 2 when neither epochs nor iters is given
    iters: int | None = None
    batch_size: int = 100
    hidden: tuple[int, ...] = (50,)
    activation: str = "relu"
    init: float | str = "he"
    optimizer: str = "sgd"
    weight_decay: float = 0.0
    seeds: tuple[int, ...] = (0, 1, 2)
    sampling: str = "shuffle"
    dtype: str = "float32"
    eval_samples: int = 2000
    curve_points: int = 20


def build(opts: LrOptions, data: dict[str, Any]) -> Sweep:
    """The learning-rate plan for a data set described by ``data``."""
    if opts.epochs is not None and opts.iters is not None:
        raise ConfigError("give --epochs or --iters, not both")
    check_positive(opts.epochs, "--epochs")
    check_positive(opts.iters, "--iters", integer=True)
    if not opts.values or not opts.seeds:
        raise ConfigError("--values and --seeds need at least one value each")
    if opts.batch_size > data["n_train"]:
        raise ConfigError(
            f"batch size {opts.batch_size} is larger than the {data['n_train']} training examples"
        )
    if opts.iters is not None:
        stop = {"final": {"updates": int(opts.iters)}}
    else:
        epochs = opts.epochs if opts.epochs is not None else 2.0
        stop = {"final": {"samples": max(1, round(epochs * data["n_train"]))}}
    evaluation = {"eval_samples": int(opts.eval_samples), "curve_points": int(opts.curve_points)}
    trials = []
    for lr in sorted(opts.values):
        settings = train_settings(
            hidden=opts.hidden,
            activation=opts.activation,
            init=opts.init,
            optimizer=opts.optimizer,
            lr=lr,
            batch_size=opts.batch_size,
            weight_decay=opts.weight_decay,
            dtype=opts.dtype,
            sampling=opts.sampling,
        )
        for seed in opts.seeds:
            trials.append(
                TrialSpec(
                    sweep="lr",
                    group=f"lr {lr:g}",
                    tags={"lr": lr},
                    train=settings,
                    checkpoints=stop,
                    seed=int(seed),
                    evaluation=evaluation,
                    data=str(data["name"]),
                )
            )
    options = {
        **asdict(opts),
        "values": sorted(opts.values),
        "chance": 1.0 / data["classes"],
        "epochs_at_end": (stop["final"].get("samples", 0) / data["n_train"]) or None,
    }
    return Sweep(
        name="lr",
        question=QUESTION,
        trials=trials,
        options=options,
        columns=COLUMNS,
        summarize=summarize,
        plot=plot,
    )


COLUMNS = (
    Column(
        "train loss",
        lambda r: "-" if r["final"]["train_loss"] is None else sig(r["final"]["train_loss"]),
    ),
    Column("test acc", lambda r: acc(r["final"]["test_acc"])),
    Column("status", lambda r: r["status"], justify="left"),
)


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Best rate, the diverged ones, and how far the loss moved at each end of the range."""
    opts = res.options
    n_seeds = len(opts["seeds"])
    rows = []
    for g in res.groups:
        start = [t["curve"]["train_loss"][0] for t in res.trials if t["group"] == g["group"]]
        start = [s for s in start if s is not None]
        rows.append(
            {
                "lr": g["tags"]["lr"],
                "acc": group_metric(g, "final.test_acc"),
                "std": group_metric(g, "final.test_acc", "std"),
                "n": len(g["seeds"]),
                "loss_start": sum(start) / len(start) if start else None,
                "loss_end": group_metric(g, "final.train_loss"),
                "diverged": g["diverged"],
            }
        )
    for r in rows:
        moved = r["loss_start"] is not None and r["loss_end"] is not None
        r["loss_drop"] = (1 - r["loss_end"] / r["loss_start"]) if moved else None
    best = max(rows, key=lambda r: r["acc"] if r["acc"] is not None else -1.0)
    smallest = rows[0]
    f: dict[str, Any] = {
        "rows": rows,
        "best": best,
        "smallest": smallest,
        "seeds": n_seeds,
        "chance": opts["chance"],
    }
    length = (
        plural_epochs(sig(opts["epochs_at_end"]))
        if opts["epochs_at_end"]
        else f"{opts['iters']} updates"
    )
    lines = [
        "# Learning rate",
        "",
        f"**Question:** {QUESTION}",
        "",
        f"Setup: {res.data.get('name')} ({res.data.get('n_train')} training / "
        f"{res.data.get('n_test')} test images); hidden layers "
        f"{'-'.join(map(str, opts['hidden']))}, {opts['activation']} with init {opts['init']}, "
        f"{opts['optimizer']}, batch {opts['batch_size']}, {length}; {n_seeds} seed(s) per "
        "rate. Accuracy on the full test set, mean ± std over seeds; training loss on the full "
        "training set.",
        "",
        "## Findings",
        "",
        f"- Best: lr {sig(best['lr'])} reached {_pm(best)} test accuracy (training loss "
        f"{_loss(best['loss_start'])} -> {_loss(best['loss_end'])}).",
    ]
    diverged = [r for r in rows if r["diverged"]]
    worse = [
        r for r in rows if not r["diverged"] and r["loss_drop"] is not None and r["loss_drop"] < 0
    ]
    if diverged:
        lines.append(
            "- Too large: "
            + words_list(
                [
                    f"lr {sig(r['lr'])} diverged (non-finite loss) in {r['diverged']} of {r['n']} "
                    f"seed(s), ending at {acc(r['acc'])} test accuracy"
                    for r in diverged
                ]
            )
            + "."
        )
    # Neither NaN nor a rising loss, yet no learning: a rate so large the updates only bounce.
    stuck = [
        r
        for r in rows
        if not r["diverged"]
        and r not in worse
        and r["lr"] > best["lr"]
        and r["acc"] is not None
        and r["acc"] < 2 * opts["chance"]
    ]
    f["stuck"] = stuck
    if stuck:
        lines.append(
            "- Too large: "
            + words_list(
                [
                    f"lr {sig(r['lr'])} did not learn (test accuracy {_pm(r)}, chance is "
                    f"{acc(opts['chance'])}; training loss {_loss(r['loss_start'])} -> "
                    f"{_loss(r['loss_end'])})"
                    for r in stuck
                ]
            )
            + "."
        )
    if worse:
        lines.append(
            "- Too large: "
            + words_list(
                [
                    f"lr {sig(r['lr'])} ended with a higher training loss than it started "
                    f"({_loss(r['loss_start'])} -> {_loss(r['loss_end'])})"
                    for r in worse
                ]
            )
            + "."
        )
    if smallest is not best and smallest["loss_drop"] is not None:
        lines.append(
            f"- Smallest: lr {sig(smallest['lr'])} moved the training loss only "
            f"{_loss(smallest['loss_start'])} -> {_loss(smallest['loss_end'])} (down "
            f"{sig(100 * smallest['loss_drop'])}%, against {sig(100 * best['loss_drop'])}% for "
            f"lr {sig(best['lr'])}) and reached {_pm(smallest)} test accuracy."
        )
        smallest["loss_drop_pct"] = 100 * smallest["loss_drop"]
        best["loss_drop_pct"] = 100 * best["loss_drop"] if best["loss_drop"] is not None else None
    lines += [
        "",
        "## All rates",
        "",
        "| lr | test accuracy | training loss start -> end | diverged seeds |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {sig(r['lr'])} | {_pm(r)} | {_loss(r['loss_start'])} -> "
            f"{_loss(r['loss_end'])} | {r['diverged']} |"
        )
    lines += ["", "Figures: " + ", ".join(f"`{n}`" for n in FIGURES), ""]
    return "\n".join(lines), f


def _pm(row: dict[str, Any]) -> str:
    return pm({"mean": row["acc"], "std": row["std"], "n": row["n"]})


def _loss(value: float | None) -> str:
    return "diverged" if value is None else sig(value)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Accuracy against learning rate (log x, error bars) and overlaid loss curves."""
    groups = res.groups
    xs = [g["tags"]["lr"] for g in groups]

    def series(path: str, label: str) -> Series:
        return Series(
            label,
            xs,
            [group_metric(g, path) for g in groups],
            [group_metric(g, path, "std") for g in groups],
        )

    panels = [
        Panel(
            "Accuracy after training",
            "learning rate",
            "accuracy",
            [
                series("final.test_acc", "test (full set)"),
                series("final.train_acc", "train (full set)"),
            ],
            logx=True,
            hline=(res.options["chance"], "chance"),
        ),
        Panel(
            "Loss after training",
            "learning rate",
            "training loss (diverged runs left out)",
            [series("final.train_loss", "train loss")],
            logx=True,
            logy=True,
        ),
    ]
    paths = [
        save_figure(
            plot_panels(
                panels,
                "Accuracy and loss against learning rate "
                f"({over_seeds(len(res.options['seeds']))})",
            ),
            out / FIGURES[0],
        )
    ]
    by_group: dict[str, list[dict[str, Any]]] = {}
    for t in res.trials:
        by_group.setdefault(t["group"], []).append(t)
    loss_series, acc_series = [], []
    for g, trials in by_group.items():
        x, y = mean_curve(trials, "epochs", "train_loss")
        loss_series.append(
            Series(g, x, [v if v is None or math.isfinite(v) else None for v in y], style="-")
        )
        x, y = mean_curve(trials, "epochs", "test_acc")
        acc_series.append(Series(g, x, y, style="-"))
    curve_panels = [
        Panel(
            "Training loss",
            "epochs",
            "training loss (eval subsample, log scale)",
            loss_series,
            logy=True,
        ),
        Panel(
            "Test accuracy",
            "epochs",
            "test accuracy (eval subsample)",
            acc_series,
            hline=(res.options["chance"], "chance"),
        ),
    ]
    paths.append(
        save_figure(
            plot_panels(curve_panels, "Learning curves by learning rate (mean over seeds)"),
            out / FIGURES[1],
        )
    )
    return paths
