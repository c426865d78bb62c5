"""``scratchdl sweep lr``: "too large diverges, too small barely moves", on a real net (ch. 4.4).

The network and optimizer are ``scratchdl train``'s (784-50-10, ReLU, std 0.01, SGD, batch 100);
one trial per learning rate and seed. The summary names the best rate, says of every rate that
failed whether it diverged, stopped learning, or had not learned *yet* in the budget, and how
far the loss moved at each end of the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scratchdl._text import mean_over, over_seeds
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    gap,
    group_curves,
    mean_curve,
    option,
    setup_values,
    verdict,
)
from scratchdl.experiments.engine import Sweep, SweepResults
from scratchdl.experiments.summary import Summary, group_metric
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels

NAME = "lr"
HELP = "accuracy and loss against the learning rate (ch. 4.4)"
QUESTION = "Which learning rate trains this net, and what happens when it is too large or small?"
BUDGET = Budget(epochs=2)
FIGURES = ("lr_accuracy.png", "lr_curves.png")


@dataclass(frozen=True)
class Options(NetOptions):
    """The learning rates to try; the net is ``scratchdl train``'s."""

    values: tuple[float, ...] = option((0.001, 0.01, 0.1, 1.0, 10.0), "learning rates")
    lr: float | None = option(None, "set by --values", flag=False)


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    groups = [Group(f"lr {lr:g}", {"lr": lr}, opts.train(lr=lr)) for lr in sorted(opts.values)]
    return declare(NAME, QUESTION, opts, data, groups, opts.budget(BUDGET), summarize, plot)


def _row(res: SweepResults, g: dict[str, Any]) -> dict[str, Any]:
    # Start and end on the same images: the learning curve's fixed training subsample.
    _, losses = mean_curve(by_group(res)[g["group"]], "updates", "train_loss")
    return {
        "lr": g["tags"]["lr"],
        "acc": g["metrics"]["final.test_acc"],
        "start": losses[0],
        "end": None if g["diverged"] else losses[-1],
        "diverged": g["diverged"],
        "seeds": len(g["seeds"]),
        "verdict": verdict(res, g),
    }


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Best rate; what each failing rate did; how little the smallest moved."""
    rows = [_row(res, g) for g in res.groups]
    best = max(rows, key=lambda r: r["acc"]["mean"] if r["acc"]["mean"] is not None else -1)
    s = Summary(res, "Learning rate")
    o = res.options
    s.say(
        "Setup: {hidden} hidden units, {activation} with init {init}, {optimizer}, batch "
        "{batch}, {budget} per run, {seeds} per rate. Accuracy on the full test set "
        "(mean ± std over seeds); training loss on the learning curve's fixed training subsample.",
        **setup_values(o),
    )
    s.heading("Findings")
    if best["verdict"].kind != "learned":
        s.bullet(
            "No rate learned in {budget}: the best test accuracy was {acc:pm}.", acc=best["acc"]
        )
    s.bullet(
        "Best in {budget}: lr {lr} reached {acc:pm} test accuracy (training loss {start:loss} -> "
        "{end:loss}).",
        **{k: best[k] for k in ("lr", "acc", "start", "end")},
    )
    ranked = sorted(rows, key=lambda r: -1 if r["acc"]["mean"] is None else r["acc"]["mean"])
    if len(ranked) > 1 and ranked[-2]["acc"]["mean"] is not None:
        second = ranked[-2]
        groups = {g["tags"]["lr"]: g for g in res.groups}
        s.bullet(
            "Runner-up in {budget}: lr {lr} with {acc:pm}; "
            + gap(groups[best["lr"]], groups[second["lr"]], "final.test_acc")
            + ".",
            lr=second["lr"],
            acc=second["acc"],
        )
    for r in rows:
        v = r["verdict"]
        if r is best or v.kind == "learned":
            continue
        s.bullet(
            "lr {lr} " + v.phrase + " (test accuracy {acc:pm}, chance {chance:acc}).",
            lr=r["lr"],
            acc=r["acc"],
            chance=o["chance"],
        )
    for r in rows:
        if r["verdict"].kind == "learned" and r["end"] > r["start"]:
            s.bullet(
                "After {budget}, lr {lr} had a higher training loss than it started ({start:loss} "
                "-> {end:loss}).",
                lr=r["lr"],
                start=r["start"],
                end=r["end"],
            )
    small = rows[0]
    if small is not best and small["end"] is not None and best["end"] is not None:
        drop = 100 * (1 - small["end"] / small["start"])
        s.bullet(
            "Smallest: in {budget} lr {lr} moved the training loss {start:loss} -> {end:loss} "
            + ("(down {drop}%" if drop >= 0 else "(up {rise}%")
            + ", against down {best_drop}% for lr {best_lr}).",
            lr=small["lr"],
            start=small["start"],
            end=small["end"],
            drop=drop,
            rise=-drop,
            best_drop=100 * (1 - best["end"] / best["start"]),
            best_lr=best["lr"],
        )
    s.heading("All rates")
    s.table(
        ["lr", "test accuracy", "training loss start -> end", "diverged seeds", "in " + s.budget],
        "{lr} | {acc:pm} | {start:loss} -> {end:loss} | {diverged} | {kind}",
        [{**r, "kind": r["verdict"].kind} for r in rows],
    )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Accuracy and loss against the learning rate; overlaid learning curves."""
    xs = [g["tags"]["lr"] for g in res.groups]

    def series(path: str, label: str) -> Series:
        ys = [group_metric(g, path) for g in res.groups]
        return Series(label, xs, ys, [group_metric(g, path, "std") for g in res.groups])

    chance = (res.options["chance"], "chance")
    accuracy = Panel(
        "Accuracy after training",
        "learning rate",
        "accuracy",
        [series("final.test_acc", "test (full set)"), series("final.train_acc", "train")],
        logx=True,
        hline=chance,
    )
    loss = Panel(
        "Loss after training",
        "learning rate",
        "training loss (diverged runs left out)",
        [series("final.train_loss", "train loss")],
        logx=True,
        logy=True,
    )
    curves = [
        Panel(
            "Training loss",
            "epochs",
            "training loss (eval subsample, log scale)",
            group_curves(res, "epochs", "train_loss"),
            logy=True,
        ),
        Panel(
            "Test accuracy",
            "epochs",
            "test accuracy (eval subsample)",
            group_curves(res, "epochs", "test_acc"),
            hline=chance,
        ),
    ]
    n_seeds = len(res.options["seeds"])
    figures = (
        plot_panels([accuracy, loss], f"Against learning rate ({over_seeds(n_seeds)})"),
        plot_panels(curves, f"Learning curves by learning rate ({mean_over(n_seeds)})"),
    )
    return [save_figure(f, out / name) for f, name in zip(figures, FIGURES, strict=True)]
