"""``scratchdl sweep batchnorm``: does Batch Normalization rescue a badly scaled start? (ch. 6.3.2)

The book's ``batch_norm_test.py``: a 784-100x5-10 ReLU net (``MultiLayerNetExtend``) with and
without BatchNorm, for 16 initial weight scales from 1 to 0.0001, trained with SGD (lr 0.01,
batch 100 drawn with replacement) for 20 epochs on the first 1,000 training images. The summary
counts the scales at which BN ended (and, after a quarter of the budget, was) ahead by more than
the seed noise, says how each failing run failed, and how much the final accuracy varied with
the scale, with and without BN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import over_seeds
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
from scratchdl.experiments.summary import Summary, group_metric
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels
from scratchdl.train.verdict import noise_comparison

NAME = "batchnorm"
HELP = "with and without BatchNorm across 16 initial weight scales (ch. 6.3.2)"
QUESTION = "Does Batch Normalization train faster and depend less on the initial weight scale?"
BUDGET = Budget(epochs=20)
FIGURES = ("batchnorm_grid.png", "batchnorm_scale.png")
BOOK_SCALES = tuple(float(w) for w in np.logspace(0, -4, 16))


@dataclass(frozen=True)
class Options(NetOptions):
    """The book's setting of ch. 6.3.2; ``scales`` replaces ``--init``."""

    scales: tuple[float, ...] = option(
        BOOK_SCALES, "initial weight stds (the book's: 16 log-spaced from 1 to 0.0001)"
    )
    train_samples: int = option(1000, "train on the first N training images")
    hidden: tuple[int, ...] = train_option("hidden", (100,) * 5)
    lr: float | None = train_option("lr", 0.01)
    sampling: str = train_option("sampling", "replacement")
    eval_samples: int = option(1000, "images per learning-curve point (>= N: every image)")
    curve_points: int | None = option(None, "points on each learning curve (default: 1 an epoch)")
    init: float | str = option(0.01, "set by --scales", flag=False)


def _name(scale: float, bn: bool) -> str:
    return f"{'BN' if bn else 'no BN'}, W {scale:.3g}"


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    groups = [
        Group(_name(w, bn), {"scale": w, "batchnorm": bn}, opts.train(init=w, batchnorm=bn))
        for w in opts.scales
        for bn in (True, False)
    ]
    budget = opts.budget(BUDGET)
    # "Faster" is judged a quarter of the way in: inside the budget, so nothing extra to name.
    early = {k: v / 4 if k == "epochs" else max(1, v // 4) for k, v in budget.checkpoint.items()}
    return declare(
        NAME,
        QUESTION,
        opts,
        data,
        groups,
        budget,
        summarize,
        plot,
        extra_checkpoints={"early": early},
        subset={"train_samples": opts.train_samples},
    )


def _ahead(res: SweepResults, scale: float, path: str) -> str:
    """BN against no BN at ``scale``: ahead, behind or within noise (one seed: by mean)."""
    bn, plain = (res.group(_name(scale, b))["metrics"][path] for b in (True, False))
    result = noise_comparison(bn, plain)
    if result == "one seed":
        result = "larger" if bn["mean"] > plain["mean"] else "smaller"
    return {"larger": "ahead", "smaller": "behind"}.get(result, result)


def _fall(res: SweepResults, group: dict[str, Any]) -> float | None:
    """How far the seed-averaged training loss fell over the run (None if it diverged)."""
    _, losses = mean_curve(by_group(res)[group["group"]], "updates", "train_loss")
    return None if None in losses else losses[0] - losses[-1]


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """BN ahead/behind per scale against the seed noise; how each failure failed."""
    o, scales, n = res.options, res.options["scales"], len(res.options["scales"])
    early = Budget(**o["checkpoints"]["early"]).text
    final = {w: _ahead(res, w, "final.train_acc") for w in scales}
    first = {w: _ahead(res, w, "results.early.train_acc") for w in scales}
    by = " by more than the seed noise" if len(o["seeds"]) > 1 else " (one seed: by mean)"
    s = Summary(res, "Batch Normalization against the initial weight scale")
    s.say(
        "Setup: {hidden} hidden units, {activation}, {optimizer} lr {lr}, batch {batch} ({sampling}), "
        "on the first {n_train} training images, {budget} per run, {seeds}, with and "
        "without BatchNorm at {n} initial weight scales W (the std of every weight matrix). "
        "Training accuracy on all {n_train} training images, as the book plots it.",
        n=n,
        **setup_values(o),
    )
    s.heading("Findings")
    count = {k: [w for w in scales if final[w] == k] for k in ("ahead", "behind", "within noise")}
    behind, within = count["behind"], count["within noise"]
    s.bullet(
        "In {budget}, BN ended with a higher training accuracy than without" + by + " at "
        "{ahead} of the {n} scales"
        + (", lower at {behind} (W = {behind_w:list})" if behind else "")
        + (", within the noise at {within} (W = {within_w:list})" if within else "")
        + ".",
        ahead=len(count["ahead"]),
        n=n,
        behind=len(behind),
        behind_w=behind,
        within=len(within),
        within_w=within,
    )
    early_ahead = sum(v == "ahead" for v in first.values())
    s.bullet(
        "After {early} (a quarter of {budget}), BN was ahead" + by + " at {ahead} of the {n} "
        "scales and behind at {behind}.",
        early=early,
        ahead=early_ahead,
        n=n,
        behind=sum(v == "behind" for v in first.values()),
    )
    learned = {}
    for bn, label in ((True, "With BN"), (False, "Without BN")):
        groups = [res.group(_name(w, bn)) for w in scales]
        finals = [group_metric(g, "final.train_acc") for g in groups]
        s.bullet(
            f"In {{budget}}, {label[0].lower() + label[1:]}, the final training accuracy over the "
            "{n} scales ranged from {low:acc} to {high:acc}.",
            n=n,
            low=min(finals),
            high=max(finals),
        )
        failed: dict[str, list[dict[str, Any]]] = {}
        for g in groups:
            v = verdict(res, g)
            if v.kind != "learned":
                failed.setdefault(v.phrase, []).append(g)
        learned[bn] = n - sum(map(len, failed.values()))
        if not failed:
            s.bullet(label + ", every scale learned in {budget}.")
        for phrase, gs in failed.items():
            # How far "still falling" went: a net that only learns its output bias creeps.
            falls = [_fall(res, g) for g in gs]
            fell = "" if None in falls else "; its training loss fell by at most {fall:sig}"
            s.bullet(
                label + ", W = {scales:list}: " + phrase + fell + ".",
                scales=[g["tags"]["scale"] for g in gs],
                fall=None if None in falls else max(falls),
            )
    s.heading("The book's claim (ch. 6.3.2)")
    if len(count["ahead"]) == n and early_ahead == n and learned[True] == n:
        answer = "the numbers agree with the claim at every scale tried."
    elif count["ahead"]:
        answer = "the numbers support it only at the scales where BN was ahead."
    else:
        answer = "the numbers do not support it here."
    s.say(
        "BN learns faster and depends less on the initial weight scale. Measured in {budget} on "
        "{n_train} images: with BN the net learned at {bn_learned} of {n} scales, without at "
        "{plain_learned}; BN ended ahead" + by + " at {ahead} and was ahead after {early} at "
        "{early_ahead}: " + answer,
        n_train=o["n_train"],
        bn_learned=learned[True],
        plain_learned=learned[False],
        n=n,
        ahead=len(count["ahead"]),
        early=early,
        early_ahead=early_ahead,
    )
    s.heading("Every scale")
    s.table(
        [
            "W",
            "train acc, BN",
            "train acc, no BN",
            "BN vs no BN",
            "test acc, BN",
            "test acc, no BN",
            "BN in " + s.budget,
            "no BN in " + s.budget,
        ],
        "{w} | {bn:pm} | {plain:pm} | {ahead} | {bn_test:pm} | {plain_test:pm} | {bk} | {pk}",
        [{"w": w, "ahead": final[w], **_cells(res, w)} for w in scales],
    )
    return s.done(FIGURES)


def _cells(res: SweepResults, scale: float) -> dict[str, Any]:
    bn, plain = res.group(_name(scale, True)), res.group(_name(scale, False))
    return {
        "bn": bn["metrics"]["final.train_acc"],
        "plain": plain["metrics"]["final.train_acc"],
        "bn_test": bn["metrics"]["final.test_acc"],
        "plain_test": plain["metrics"]["final.test_acc"],
        "bk": verdict(res, bn).kind,
        "pk": verdict(res, plain).kind,
    }


def plot(res: SweepResults, out: Path) -> list[Path]:
    """The book's 4x4 grid of training accuracy per epoch; accuracy against the scale."""
    trials, scales = by_group(res), res.options["scales"]
    ncols = min(4, len(scales))
    grid = []
    for i, w in enumerate(scales):
        lines = [
            Series(label, *mean_curve(trials[_name(w, bn)], "epochs", "train_acc"), style=style)
            for bn, label, style in ((True, "with BN", "-"), (False, "without BN", "--"))
        ]
        diverged = " (no BN diverged)" if res.group(_name(w, False))["diverged"] else ""
        xlabel = "epochs" if i >= len(scales) - ncols else ""
        ylabel = "train acc" if i % ncols == 0 else ""
        grid.append(
            Panel(f"W = {w:.3g}{diverged}", xlabel, ylabel, lines, ylim=(0, 1), integer_x=True)
        )

    def series(path: str, bn: bool, label: str) -> Series:
        groups = [res.group(_name(w, bn)) for w in scales]
        ys = [group_metric(g, path) for g in groups]
        return Series(label, scales, ys, [group_metric(g, path, "std") for g in groups])

    checkpoints = (
        (Budget(**res.options["checkpoints"]["early"]).text, "results.early.train_acc"),
        (res.options["budget"]["text"], "final.train_acc"),
    )
    summary = [
        Panel(
            f"After {title}",
            "initial weight scale W",
            "training accuracy",
            [series(path, True, "with BN"), series(path, False, "without BN")],
            logx=True,
            hline=(res.options["chance"], "chance"),
            ylim=(0, 1),
        )
        for title, path in checkpoints
    ]
    spread = over_seeds(len(res.options["seeds"]))
    figures = (
        plot_panels(grid, f"Training accuracy with and without BatchNorm ({spread})", ncols=ncols),
        plot_panels(summary, f"Training accuracy against the initial scale ({spread})"),
    )
    return [save_figure(f, out / name) for f, name in zip(figures, FIGURES, strict=True)]
