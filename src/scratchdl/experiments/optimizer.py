"""``scratchdl sweep optimizer``: SGD, Momentum, AdaGrad, RMSprop, Adam and Nesterov on MNIST
(ch. 6.1.8).

The book's setting (``optimizer_compare_mnist.py``): hidden layers 100-100-100-100 (the book's
code has 4 hidden layers of 100; its text calls this a 5-layer network, counting the output
layer), ReLU with He initial weights, mini-batches of 128 drawn with replacement, 2000 updates,
each optimizer at its book learning rate (SGD 0.01, Momentum 0.01, AdaGrad 0.01, RMSprop 0.01,
Adam 0.001, Nesterov 0.01; ``--lr`` sets one rate for all). The summary ranks the optimizers by
training loss after the budget, says for each neighbour in the ranking whether the gap is larger
than the seed noise, and checks the book's observation that SGD is the slowest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    group_curves,
    mean_curve,
    noise,
    option,
    verdict,
)
from scratchdl.experiments.engine import Sweep, SweepResults
from scratchdl.experiments.summary import Summary
from scratchdl.optimizers import OPTIMIZERS
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, plot_panels
from scratchdl.train.verdict import noise_comparison

NAME = "optimizer"
HELP = "SGD, Momentum, AdaGrad, RMSprop, Adam, Nesterov on the same net (ch. 6.1.8)"
QUESTION = (
    "Which of SGD, Momentum, AdaGrad, RMSprop, Adam and Nesterov lowers the training loss "
    "fastest, and by more than the seed noise?"
)
BUDGET = Budget(updates=2000)
FIGURES = ("optimizer_curves.png",)
LOSS = "final.train_loss"  # on the full training set, after the last update
#: The book's learning rate of each optimizer: its class's default (ch. 6.1).
BOOK_LR = {name: cls().lr for name, cls in OPTIMIZERS.items()}


@dataclass(frozen=True)
class Options(NetOptions):
    """The optimizers to compare, on the book's ch. 6.1.8 network and batches."""

    optimizers: tuple[str, ...] = option(
        ("sgd", "momentum", "adagrad", "rmsprop", "adam", "nesterov"), "optimizers to compare"
    )
    lr: float | None = option(None, "one learning rate for all (default: each one's book rate)")
    hidden: tuple[int, ...] = option((100, 100, 100, 100), "hidden layer sizes (the book's)")
    init: float | str = option("he", "initial weights: he, xavier or a std such as 0.01")
    batch_size: int = option(128, "mini-batch size")
    sampling: str = option(
        "replacement",
        "mini-batches: replacement (the book's) or shuffle",
        choices=("shuffle", "replacement"),
    )
    curve_points: int = option(100, "points on each learning curve")
    optimizer: str = option("sgd", "set by --optimizers", flag=False)


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    for name in opts.optimizers:
        if name.lower() not in OPTIMIZERS:
            raise ConfigError(
                f"--optimizers: unknown optimizer {name!r}; use {', '.join(OPTIMIZERS)}"
            )
    groups = []
    for name in (n.lower() for n in opts.optimizers):
        lr = opts.lr if opts.lr is not None else BOOK_LR[name]
        label = OPTIMIZERS[name].__name__  # the book's names: SGD, AdaGrad, ...
        groups.append(
            Group(label, {"optimizer": name, "lr": lr}, opts.train(optimizer=name, lr=lr))
        )
    return declare(NAME, QUESTION, opts, data, groups, opts.budget(BUDGET), summarize, plot)


def _mean(row: dict[str, Any]) -> float:
    """A row's mean training loss; a run that diverged (no loss) ranks last."""
    return float("inf") if row["loss"]["mean"] is None else row["loss"]["mean"]


def _ranking(rows: list[dict[str, Any]]) -> str:
    """``"Adam ≈ AdaGrad < Momentum"``: lowest loss first; ``<`` more than the seed noise."""
    text = rows[0]["name"]
    for before, row in zip(rows, rows[1:], strict=False):
        apart = noise_comparison(row["loss"], before["loss"]) in ("larger", "smaller")
        text += (" < " if apart else " ≈ ") + row["name"]
    return text


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Lowest and highest loss, the ranking against the noise, accuracies, the book's claim."""
    rows = []
    for g in res.groups:
        _, curve = mean_curve(by_group(res)[g["group"]], "updates", "train_loss")
        rows.append(
            {
                "name": g["group"],
                "lr": g["tags"]["lr"],
                "loss": g["metrics"][LOSS],
                "acc": g["metrics"]["final.test_acc"],
                "start": curve[0],
                "verdict": verdict(res, g),
                "group": g,
            }
        )
    rows.sort(key=_mean)
    o = res.options
    s = Summary(res, "Optimizers (ch. 6.1.8)")
    s.say(
        "Setup: hidden layers {hidden} ({layers} hidden layers; the book's code has {book} of "
        "{book_width}, which its text calls a {book_depth}-layer net), {activation} with init {init}, batch {batch} "
        "drawn {sampling}, {budget} per run, {seeds} seed(s) per optimizer, learning rates as in "
        "the table ({lr_note}). Training loss on the full training set after the last update, "
        "test accuracy on the full test set (mean ± std over seeds).",
        hidden="-".join(map(str, o["hidden"])),
        layers=len(o["hidden"]),
        book=4,
        book_width=100,
        book_depth=5,
        activation=o["activation"],
        init=o["init"],
        batch=o["batch_size"],
        sampling="with replacement" if o["sampling"] == "replacement" else "by shuffling",
        seeds=len(o["seeds"]),
        lr_note="--lr for all" if o["lr"] is not None else "each optimizer's book rate",
    )
    s.heading("Findings")
    best, worst = rows[0], rows[-1]
    s.bullet(
        "Lowest training loss after {budget}: {best} ({best_loss:losspm}); highest: {worst} "
        "({worst_loss:losspm}).",
        best=best["name"],
        best_loss=best["loss"],
        worst=worst["name"],
        worst_loss=worst["loss"],
    )
    one_seed = len(o["seeds"]) < 2
    s.bullet(
        "Ranking by training loss after {budget}, lowest first: {ranking} "
        + (
            "(one seed only, so the seed noise is unknown and the order may change with it)."
            if one_seed
            else "('<': lower by more than the seed noise, '≈': within it; neighbours compared)."
        ),
        ranking=_ranking(rows) if not one_seed else ", ".join(r["name"] for r in rows),
    )
    for before, row in zip(rows, rows[1:], strict=False):
        s.bullet(
            "After {budget}, {a} ({a_loss:losspm}) against {b} ({b_loss:losspm}): the gap is {noise}.",
            a=before["name"],
            a_loss=before["loss"],
            b=row["name"],
            b_loss=row["loss"],
            noise=noise(before["group"], row["group"], LOSS),
        )
    by_acc = sorted(rows, key=lambda r: -(r["acc"]["mean"] or 0.0))
    s.bullet(
        "Test accuracy after {budget}: highest {top} ({top_acc:pm}), lowest {low} "
        "({low_acc:pm}); the gap is {noise}.",
        top=by_acc[0]["name"],
        top_acc=by_acc[0]["acc"],
        low=by_acc[-1]["name"],
        low_acc=by_acc[-1]["acc"],
        noise=noise(by_acc[0]["group"], by_acc[-1]["group"], "final.test_acc"),
    )
    for r in rows:
        if r["verdict"].kind != "learned":
            s.bullet(
                "{name} " + r["verdict"].phrase + " (test accuracy {acc:pm}).",
                name=r["name"],
                acc=r["acc"],
            )
    _book_claim(s, rows, one_seed)
    s.heading("All optimizers")
    s.table(
        ["optimizer", "lr", "training loss at start -> after " + s.budget, "test accuracy"],
        "{name} | {lr} | {start:loss} -> {loss:losspm} | {acc:pm}",
        [{k: r[k] for k in ("name", "lr", "start", "loss", "acc")} for r in rows],
    )
    return s.done(FIGURES)


def _book_claim(s: Summary, rows: list[dict[str, Any]], one_seed: bool) -> None:
    """The book: SGD learns slowest; AdaGrad, Adam and Momentum (and the rest) faster."""
    sgd = next((r for r in rows if r["name"] == "SGD"), None)
    others = [r for r in rows if r is not sgd]
    if sgd is None or not others:
        return
    sgd_higher = [r["name"] for r in others if _mean(r) < _mean(sgd)]
    if one_seed:
        s.bullet(
            "The book finds SGD slowest (ch. 6.1.8). After {budget} SGD's training loss was "
            "higher than that of {lower:list} and not of {rest:list}; one seed only, so this "
            "cannot be told from the seed noise.",
            lower=sgd_higher or ["none"],
            rest=[r["name"] for r in others if r["name"] not in sgd_higher] or ["any"],
        )
        return
    apart = [r["name"] for r in others if noise_comparison(sgd["loss"], r["loss"]) == "larger"]
    beats = [r["name"] for r in others if noise_comparison(sgd["loss"], r["loss"]) == "smaller"]
    tied = [r["name"] for r in others if r["name"] not in apart + beats]
    if len(apart) == len(others):
        template = (
            "The book finds SGD slowest (ch. 6.1.8): confirmed in {budget}; SGD's training "
            "loss was higher than that of each of {apart:list} by more than the seed noise."
        )
    elif beats:
        template = (
            "The book finds SGD slowest (ch. 6.1.8): not so in {budget}; {beats:list} ended "
            "with a higher training loss than SGD, by more than the seed noise."
        )
    else:
        template = (
            "The book finds SGD slowest (ch. 6.1.8): only partly in {budget}; SGD's training "
            "loss was higher than that of {apart:list} by more than the seed noise, but within "
            "the noise of {tied:list}."
        )
    s.bullet(template, apart=apart or ["none"], beats=beats, tied=tied)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Mini-batch loss and test accuracy against updates, one line per optimizer."""
    n_seeds = len(res.options["seeds"])
    panels = [
        Panel(
            "Training loss (the book's figure 6-9)",
            "updates",
            "mini-batch loss, mean since the last point (log scale)",
            group_curves(res, "updates", "batch_loss", skip_first=True),
            logy=True,
        ),
        Panel(
            "Test accuracy",
            "updates",
            f"test accuracy ({res.options['eval_samples']} test images)",
            group_curves(res, "updates", "test_acc"),
            hline=(res.options["chance"], "chance"),
        ),
    ]
    title = f"Optimizers on {res.data.get('name', 'the data')} (mean over {n_seeds} seed(s))"
    return [save_figure(plot_panels(panels, title), out / FIGURES[0])]
