"""``scratchdl sweep overfit``: overfitting, and weight decay and Dropout against it (ch. 6.4).

The book's ``overfit_weight_decay.py`` and ``overfit_dropout.py``: a 784-100x6-10 ReLU net (He
initialisation) on only the first 300 training images, SGD lr 0.01, batch 100 drawn with
replacement. Three groups: no regularisation, weight decay λ = 0.1, Dropout 0.2. The book trains
201 and 301 epochs; here every group gets the same budget (200 epochs), so the gaps are compared
at equal training. Training and test accuracy are measured every epoch on all 300 training
images and the full test set; the summary gives each group's final gap (train - test), whether
each regulariser shrank it by more than the seed noise, and what it cost in test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scratchdl._text import mean_over
from scratchdl.checks import check_positive
from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    mean_curve,
    option,
    setup_values,
    train_option,
    verdict,
)
from scratchdl.experiments.engine import Sweep, SweepResults
from scratchdl.experiments.summary import Summary
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels
from scratchdl.train.verdict import loss_trend, noise_comparison

NAME = "overfit"
HELP = "train/test gap on 300 images: none vs weight decay vs Dropout (ch. 6.4)"
QUESTION = (
    "How far apart do training and test accuracy grow on a small training set, and how much "
    "do weight decay and Dropout close the gap?"
)
BUDGET = Budget(epochs=200)
FIGURES = ("overfit_curves.png",)
#: The book's epochs: 201 in overfit_weight_decay.py, 301 in overfit_dropout.py.
BOOK_EPOCHS = {"weight decay": 201, "dropout": 301}


@dataclass(frozen=True)
class Options(NetOptions):
    """The book's setting of ch. 6.4; ``--weight-decay`` and ``--dropout`` set the two
    regularised groups (the first group has neither)."""

    weight_decay: float = option(0.1, "L2 penalty λ of the weight-decay group")
    dropout: float = option(0.2, "dropout ratio of the Dropout group")
    train_samples: int = option(300, "train on the first N training images")
    hidden: tuple[int, ...] = train_option("hidden", (100,) * 6)
    init: float | str = train_option("init", "he")
    lr: float | None = train_option("lr", 0.01)
    sampling: str = train_option("sampling", "replacement")
    eval_samples: int = option(10000, "images per learning-curve point (>= the sets: all)")
    curve_points: int | None = option(None, "points on each learning curve (default: 1 an epoch)")


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    check_positive(opts.weight_decay, "--weight-decay")
    if not 0 < opts.dropout < 1:
        raise ConfigError(f"--dropout must be between 0 and 1 (exclusive), got {opts.dropout:g}")
    groups = [
        Group("no regularisation", {"regulariser": "none"}, opts.train(weight_decay=0.0)),
        Group(
            f"weight decay {opts.weight_decay:g}",
            {"regulariser": "weight decay", "value": opts.weight_decay},
            opts.train(),
        ),
        Group(
            f"dropout {opts.dropout:g}",
            {"regulariser": "dropout", "value": opts.dropout},
            opts.train(weight_decay=0.0, dropout=opts.dropout),
        ),
    ]
    return declare(
        NAME,
        QUESTION,
        opts,
        data,
        groups,
        opts.budget(BUDGET),
        summarize,
        plot,
        subset={"train_samples": opts.train_samples},
    )


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """The final gap of each group; each regulariser's effect on it and on test accuracy."""
    o = res.options
    s = Summary(res, "Overfitting, weight decay and Dropout")
    s.say(
        "Setup: {hidden} hidden units, {activation}, init {init}, {optimizer} lr {lr}, batch {batch} "
        "({sampling}), on the first {n_train} training images, {seeds} per group. "
        "Every group trains for {budget} (the book runs {book_wd} epochs for weight decay and "
        "{book_do} for Dropout; one budget keeps the comparison fair: more epochs would favour "
        "whichever group gets them). Accuracy on all {n_train} training images and the full "
        "test set of {n_test}; gap = train - test, mean ± std over seeds.",
        n_test=res.data["n_test"],
        book_wd=BOOK_EPOCHS["weight decay"],
        book_do=BOOK_EPOCHS["dropout"],
        **setup_values(o),
    )
    s.heading("Findings")
    base, *regularised = res.groups
    for g in res.groups:
        m = g["metrics"]
        s.bullet(
            "In {budget}, " + g["group"] + ": train {train:pm}, test {test:pm}, gap {gap:pm}.",
            train=m["final.train_acc"],
            test=m["final.test_acc"],
            gap=m["final.gap"],
        )
    for g in regularised:
        gap = noise_comparison(g["metrics"]["final.gap"], base["metrics"]["final.gap"])
        test = noise_comparison(g["metrics"]["final.test_acc"], base["metrics"]["final.test_acc"])
        effect = {
            "smaller": "shrank the gap by more than the seed noise",
            "larger": "widened the gap by more than the seed noise",
            "within noise": "changed the gap by no more than the seed noise",
            "one seed": "changed the gap (one seed only, so the seed noise is unknown)",
        }[gap]
        cost = {
            "smaller": "it cost test accuracy, more than the seed noise",
            "larger": "it raised test accuracy, by more than the seed noise",
            "within noise": "test accuracy moved within the seed noise",
            "one seed": "test accuracy moved (noise unknown)",
        }[test]
        s.bullet(
            f"In {{budget}}, {g['group']} {effect} ({{base_gap:pm}} -> {{gap:pm}}); {cost} "
            "({base_test:pm} -> {test:pm}).",
            base_gap=base["metrics"]["final.gap"],
            gap=g["metrics"]["final.gap"],
            base_test=base["metrics"]["final.test_acc"],
            test=g["metrics"]["final.test_acc"],
        )
    trials = by_group(res)
    for g in res.groups:
        v = verdict(res, g)
        if v.kind != "learned":
            s.bullet("The " + g["group"] + " group " + v.phrase + ".")
            continue
        # A gap measured while the net still fits its training set is not the final gap.
        # Rising: beyond the curve's own noise, and by at least a point over the last quarter.
        _, accs = mean_curve(trials[g["group"]], "epochs", "train_acc")
        before = accs[-(len(accs) // 4) - 1]
        if None in accs or loss_trend([-a for a in accs]) != "falling" or accs[-1] - before < 0.01:
            continue
        s.bullet(
            "The training accuracy of " + g["group"] + " was still rising at the end of {budget} "
            "({before:acc} at three quarters of the run, {end:acc} at the end): its gap and test "
            "accuracy are those of an unfinished run; try more epochs (--epochs).",
            before=before,
            end=accs[-1],
        )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Train and test accuracy per epoch for each group (the book's figures), and the gap."""
    panels, gaps = [], []
    for name, trials in by_group(res).items():
        xs, train = mean_curve(trials, "epochs", "train_acc")
        _, test = mean_curve(trials, "epochs", "test_acc")
        panels.append(
            Panel(
                name,
                "epochs",
                "accuracy",
                [Series("train", xs, train, style="-"), Series("test", xs, test, style="--")],
                ylim=(0, 1),
            )
        )
        gap = [None if a is None or b is None else a - b for a, b in zip(train, test, strict=True)]
        gaps.append(Series(name, xs, gap, style="-"))
    panels.append(Panel("Gap (train - test)", "epochs", "accuracy gap", gaps))
    seeds = mean_over(len(res.options["seeds"]))
    title = f"Accuracy on {res.options['n_train']} training images and the test set ({seeds})"
    return [save_figure(plot_panels(panels, title, ncols=2), out / FIGURES[0])]
