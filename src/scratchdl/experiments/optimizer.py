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

from scratchdl._text import plural
from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    BookCh6Options,
    Budget,
    Group,
    declare,
    gap,
    group_curves,
    option,
    setup_values,
    verdict,
)
from scratchdl.experiments.engine import Sweep, SweepResults
from scratchdl.experiments.summary import Summary, words_list
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
class Options(BookCh6Options):
    """The optimizers to compare, on the book's ch. 6.1.8 network and batches."""

    optimizers: tuple[str, ...] = option(
        ("sgd", "momentum", "adagrad", "rmsprop", "adam", "nesterov"), "optimizers to compare"
    )
    lr: float | None = option(None, "one learning rate for all (default: each one's book rate)")
    optimizer: str = option("sgd", "set by --optimizers", flag=False)


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    groups = []
    for given in opts.optimizers:
        name = given.lower()
        if name not in OPTIMIZERS:
            raise ConfigError(
                f"--optimizers: unknown optimizer {given!r}; use {', '.join(OPTIMIZERS)}"
            )
        lr = opts.lr if opts.lr is not None else BOOK_LR[name]
        label = OPTIMIZERS[name].__name__  # the book's names: SGD, AdaGrad, ...
        groups.append(
            Group(label, {"optimizer": name, "lr": lr}, opts.train(optimizer=name, lr=lr))
        )
    return declare(NAME, QUESTION, opts, data, groups, opts.budget(BUDGET), summarize, plot)


def _mean(row: dict[str, Any]) -> float:
    """A row's mean training loss; a run that diverged (no loss) ranks last."""
    return float("inf") if row["loss"]["mean"] is None else row["loss"]["mean"]


def _than(a: dict[str, Any], b: dict[str, Any]) -> str:
    """How ``a``'s loss compares with ``b``'s: "lower than", "higher than" (beyond the seed
    noise), "within the seed noise of", or with one seed "(one seed) lower than"."""
    found = noise_comparison(a["loss"], b["loss"])
    if found == "one seed":
        return "(one seed) " + ("lower than" if _mean(a) < _mean(b) else "higher than")
    return {"smaller": "lower than", "larger": "higher than"}.get(found, "within the seed noise of")


def _ranking(rows: list[dict[str, Any]]) -> str:
    """``"Adam ≈ AdaGrad < Momentum"``: lowest loss first; ``<`` more than the seed noise."""
    text = rows[0]["name"]
    for before, row in zip(rows, rows[1:], strict=False):
        text += (" < " if _than(before, row) == "lower than" else " ≈ ") + row["name"]
    return text


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Lowest and highest loss, the ranking against the noise, accuracies, the book's claims."""
    rows = [
        {
            "name": g["group"],
            "lr": g["tags"]["lr"],
            "loss": g["metrics"][LOSS],
            "acc": g["metrics"]["final.test_acc"],
            "verdict": verdict(res, g),
            "group": g,
        }
        for g in res.groups
    ]
    rows.sort(key=_mean)
    o = res.options
    one_seed = len(o["seeds"]) < 2
    s = Summary(res, "Optimizers (ch. 6.1.8)")
    s.say(
        "Setup: hidden layers {hidden} ({layers} hidden layers; the book's code has {book} of "
        "{book_width}, which its text calls a {book_depth}-layer net), {activation} with init "
        "{init}, batch {batch} {drawn}, {budget} per run, {seeds} per "
        "optimizer, learning rates as in the table ({lr_note}). Training loss on the full "
        "training set after the last update, test accuracy on the full test set (mean ± std "
        "over seeds).",
        layers=len(o["hidden"]),
        book=4,
        book_width=100,
        book_depth=5,
        lr_note="--lr for all" if o["lr"] is not None else "each optimizer's book rate",
        **setup_values(o),
    )
    s.heading("Findings")
    # A diverged run has no loss to rank: its verdict below says what happened.
    ranked = [r for r in rows if not r["group"]["diverged"]]
    diverged = [r["name"] for r in rows if r["group"]["diverged"]]
    if len(ranked) > 1:
        s.bullet(
            "Lowest mean training loss after {budget}: {best} ({best_loss:losspm}); {than} "
            "{second} ({second_loss:losspm}). Highest: {worst} ({worst_loss:losspm}).",
            best=ranked[0]["name"],
            best_loss=ranked[0]["loss"],
            than=_than(ranked[0], ranked[1]),
            second=ranked[1]["name"],
            second_loss=ranked[1]["loss"],
            worst=ranked[-1]["name"],
            worst_loss=ranked[-1]["loss"],
        )
        s.bullet(
            "Ranking by training loss after {budget}, lowest first: {ranking} "
            + (
                "(one seed only, so the seed noise is unknown and the order may change with it)"
                if one_seed
                else "('<': lower by more than the seed noise, '≈': within it; neighbours compared)"
            )
            + ".",
            ranking=", ".join(r["name"] for r in ranked) if one_seed else _ranking(ranked),
        )
    if diverged:
        s.bullet("Not ranked, diverged in {budget}: {diverged:list}.", diverged=diverged)
    by_acc = sorted(rows, key=lambda r: -(r["acc"]["mean"] or 0.0))
    s.bullet(
        "Test accuracy after {budget}: highest {top} ({top_acc:pm}), lowest {low} "
        "({low_acc:pm}); {gap}.",
        top=by_acc[0]["name"],
        top_acc=by_acc[0]["acc"],
        low=by_acc[-1]["name"],
        low_acc=by_acc[-1]["acc"],
        gap=gap(by_acc[0]["group"], by_acc[-1]["group"], "final.test_acc"),
    )
    for r in rows:
        if r["verdict"].kind != "learned":
            s.bullet(
                "{name} " + r["verdict"].phrase + "; test accuracy {acc:pm}.",
                name=r["name"],
                acc=r["acc"],
            )
    _book_claims(s, {r["name"]: r for r in ranked})
    s.heading("All optimizers")
    s.table(
        ["optimizer", "lr", "training loss after " + s.budget, "test accuracy"],
        "{name} | {lr} | {loss:losspm} | {acc:pm}",
        [{k: r[k] for k in ("name", "lr", "loss", "acc")} for r in rows],
    )
    return s.done(FIGURES)


def _book_claims(s: Summary, rows: dict[str, dict[str, Any]]) -> None:
    """The book (ch. 6.1.8): SGD learns slowest; AdaGrad a little faster than Adam, Momentum."""
    sgd = rows.get("SGD")
    others = [r for r in rows.values() if r is not sgd]
    if sgd is not None and others:
        compared = {r["name"]: _than(sgd, r) for r in others}
        higher = [k for k, v in compared.items() if v.endswith("higher than")]
        if any(v.startswith("(one seed)") for v in compared.values()):
            word = "not testable against the seed noise with one seed"
        elif all(v == "higher than" for v in compared.values()):
            word = "confirmed"
        elif any(v.endswith("lower than") for v in compared.values()):
            word = "not confirmed"
        else:
            word = "not shown by these runs" if higher == [] else "only partly shown"
        relations: dict[str, list[str]] = {}
        for name, relation in compared.items():
            relations.setdefault(relation, []).append(name)
        s.bullet(
            "The book finds SGD slowest (ch. 6.1.8), {word} in {budget} at these learning rates: "
            "SGD's training loss "
            "was {comparisons:list}"
            + (
                "."
                if word.startswith("not testable")
                else " ('higher'/'lower': by more than the seed noise)."
            ),
            word=word,
            comparisons=[f"{k} that of {words_list(v)}" for k, v in relations.items()],
        )
    if all(k in rows for k in ("AdaGrad", "Adam", "Momentum")):
        s.bullet(
            "The book sees AdaGrad a little faster than Adam and Momentum (ch. 6.1.8); after "
            "{budget}, AdaGrad's training loss was {vs_adam} Adam's and {vs_momentum} "
            "Momentum's.",
            vs_adam=_than(rows["AdaGrad"], rows["Adam"]),
            vs_momentum=_than(rows["AdaGrad"], rows["Momentum"]),
        )


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
    title = f"Optimizers, {res.options['budget']['text']} (mean over {plural(n_seeds, 'seed')})"
    return [save_figure(plot_panels(panels, title), out / FIGURES[0])]
