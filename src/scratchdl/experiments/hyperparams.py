"""``scratchdl sweep hyperparams``: a random search of learning rate and weight decay (ch. 6.5).

The book's ``hyperparameter_optimization.py``: 100 draws of lr = 10^U(-6, -2) and weight decay
= 10^U(-8, -4), each training a 784-100x6-10 ReLU net (He init, SGD, batch 100 with
replacement) for 50 epochs on 400 of the first 500 training images and measured on the other
100, a validation split: the search never touches the test set. Each draw is one group, trained
with one seed by default (every draw then starts from the same weights and batches, so draws
differ only in lr and weight decay). The draws come from ``--draw-seed`` and are recorded.

Then, a second stage (:attr:`Sweep.then`): the best draw's lr and weight decay are trained on the
full training set for the same budget (or `--rerun-epochs`) and measured on the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import plural
from scratchdl.checks import check_positive
from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    default_columns,
    mean_curve,
    noise,
    option,
    setup_values,
    train_option,
    verdict,
)
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import Summary, acc, group_metric, sig
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels, plot_scatter

NAME = "hyperparams"
HELP = "random search of lr and weight decay on a validation split (ch. 6.5)"
QUESTION = "Which learning rates and weight decays train this net best, judged on validation data?"
BUDGET = Budget(epochs=50)
FIGURES = ("hyperparams_search.png", "hyperparams_top.png")
VAL = "final.val_acc"
RERUN = "rerun"  # the second stage's group: the best draw on the full training set


@dataclass(frozen=True)
class Options(NetOptions):
    """The book's search of ch. 6.5; ``--lr`` and ``--weight-decay`` are drawn, not set."""

    trials: int = option(100, "random draws of (lr, weight decay)")
    lr_range: tuple[float, ...] = option((1e-6, 1e-2), "lr drawn log-uniformly in LOW,HIGH")
    weight_decay_range: tuple[float, ...] = option((1e-8, 1e-4), "weight decay, the same way")
    draw_seed: int = option(0, "seed of the random draws (the same seed draws the same values)")
    top: int = option(20, "best draws whose learning curves are drawn, as the book's figure")
    region: int = option(10, "best draws whose lr and weight-decay ranges the summary states")
    rerun_epochs: float | None = option(None, "epochs of the full-set re-run (default: --epochs)")
    rerun: bool = option(
        True, "re-run the best draw on the full training set (--no-rerun skips it)"
    )
    train_samples: int = option(500, "search on the first N training images")
    validation: float = option(0.2, "share of them held out for validation")
    seeds: tuple[int, ...] = option((0,), "seeds per draw (one: draws differ only in lr, wd)")
    hidden: tuple[int, ...] = train_option("hidden", (100,) * 6)
    init: float | str = train_option("init", "he")
    sampling: str = train_option("sampling", "replacement")
    curve_points: int | None = option(None, "points on each learning curve (default: 1 an epoch)")
    lr: float | None = option(None, "drawn", flag=False)
    weight_decay: float = option(0.0, "drawn", flag=False)


def _draws(opts: Options) -> list[tuple[float, float]]:
    """``(lr, weight_decay)`` per trial, log-uniform, weight decay drawn first as in the book."""
    for flag, pair in (
        ("--lr-range", opts.lr_range),
        ("--weight-decay-range", opts.weight_decay_range),
    ):
        if len(pair) != 2 or not pair[0] < pair[1]:
            raise ConfigError(f"{flag} must be two numbers LOW,HIGH with LOW < HIGH, got {pair}")
    rng = np.random.default_rng(opts.draw_seed)
    out = []
    for _ in range(opts.trials):
        wd = 10 ** rng.uniform(*np.log10(opts.weight_decay_range))
        out.append((float(10 ** rng.uniform(*np.log10(opts.lr_range))), float(wd)))
    return out


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    for flag, value in (("--trials", opts.trials), ("--top", opts.top), ("--region", opts.region)):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    budget = opts.budget(BUDGET)
    if opts.rerun_epochs is not None:
        check_positive(opts.rerun_epochs, "--rerun-epochs")
    rerun = budget if opts.rerun_epochs is None else Budget(epochs=float(opts.rerun_epochs))
    groups = [
        Group(
            f"draw {i + 1}",
            {"draw": i + 1, "lr": lr, "weight_decay": wd},
            opts.train(lr=lr, weight_decay=wd),
        )
        for i, (lr, wd) in enumerate(_draws(opts))
    ]
    loss, _, status = default_columns("val")
    search = declare(
        NAME,
        QUESTION,
        opts,
        data,
        groups,
        budget,
        summarize,
        plot,
        subset={"train_samples": opts.train_samples, "validation": opts.validation},
        columns=(
            Column("learning rate", lambda r: sig(r["train"]["lr"])),
            Column("weight decay", lambda r: sig(r["train"]["weight_decay"])),
            loss,
            # The search's trials measure on the validation split, the re-run on the test set.
            Column(
                "val/test acc", lambda r: acc(r["final"].get("val_acc", r["final"].get("test_acc")))
            ),
            status,
        ),
    )
    options = {**search.options, "rerun": rerun.to_dict() if opts.rerun else None}
    search = replace(search, options=options)
    if not opts.rerun:
        return search

    def then(res: SweepResults) -> list[Any]:
        """The best draw's values on the full training set, measured on the test set."""
        best = _ranked(res)[0]
        tags = {**best["tags"], "stage": "rerun"}
        group = Group(RERUN, tags, opts.train(lr=tags["lr"], weight_decay=tags["weight_decay"]))
        return list(declare(NAME, QUESTION, opts, data, [group], rerun, summarize, plot).trials)

    return replace(search, then=then, then_trials=len(opts.seeds))


def _ranked(res: SweepResults) -> list[dict[str, Any]]:
    """The search's draws, best first: validation accuracy, then validation loss."""
    draws = [g for g in res.groups if g["group"] != RERUN]

    def key(g: dict[str, Any]) -> tuple[float, float]:
        acc, loss = group_metric(g, "final.val_acc"), group_metric(g, "final.val_loss")
        return (-1.0 if acc is None else acc, -(math.inf if loss is None else loss))

    return sorted(draws, key=key, reverse=True)


def _span(values: list[float]) -> float:
    """Decades between the smallest and the largest of ``values``."""
    return math.log10(max(values) / min(values))


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """The best draws, the region they occupy, what failed; the full-set re-run."""
    o = res.options
    ranked = _ranked(res)
    n_draws, n_val = len(ranked), o["subset"]["train_samples"] - o["n_train"]
    one_seed = len(o["seeds"]) < 2
    s = Summary(res, "Random search of learning rate and weight decay")
    s.say(
        "Setup: {draws} random draws (draw seed {draw_seed}) of lr log-uniform between {lr_lo} "
        "and {lr_hi} and weight decay between {wd_lo} and {wd_hi}. Each trains {hidden} hidden "
        "units, {activation}, init {init}, {optimizer}, batch {batch} ({sampling}) for {budget} on "
        "{n_fit} of the first {n_search} training images and is measured on the other {n_val}, "
        "a validation split: the search never touches the test set. {seeds} per draw"
        + (
            ": every draw starts from the same weights and batches, so draws differ only in lr "
            "and weight decay."
            if one_seed
            else "; mean ± std over seeds."
        ),
        draws=n_draws,
        draw_seed=o["draw_seed"],
        lr_lo=o["lr_range"][0],
        lr_hi=o["lr_range"][1],
        wd_lo=o["weight_decay_range"][0],
        wd_hi=o["weight_decay_range"][1],
        n_fit=o["n_train"],
        n_search=o["subset"]["train_samples"],
        n_val=n_val,
        **setup_values(o),
    )
    s.heading("Findings")
    best = ranked[0]
    s.bullet(
        "Best in {budget}: draw {draw}, lr {lr}, weight decay {wd}: validation accuracy "
        "{val:pm} (training accuracy {train:pm}).",
        draw=best["tags"]["draw"],
        lr=best["tags"]["lr"],
        wd=best["tags"]["weight_decay"],
        val=best["metrics"]["final.val_acc"],
        train=best["metrics"]["final.train_acc"],
    )
    top = ranked[: min(o["region"], n_draws)]
    lrs = [g["tags"]["lr"] for g in top]
    wds = [g["tags"]["weight_decay"] for g in top]
    s.bullet(
        "The best {k} of {draws} draws in {budget} (validation accuracy {low:acc} to "
        "{high:acc}) had lr from {lr_lo} to {lr_hi} ({lr_span:sig} of the {lr_all:sig} "
        "decades searched) and weight decay from {wd_lo} to {wd_hi} ({wd_span:sig} of "
        "{wd_all:sig} decades).",
        k=len(top),
        draws=n_draws,
        low=group_metric(top[-1], "final.val_acc"),
        high=group_metric(top[0], "final.val_acc"),
        lr_lo=min(lrs),
        lr_hi=max(lrs),
        lr_span=_span(lrs),
        lr_all=_span(o["lr_range"]),
        wd_lo=min(wds),
        wd_hi=max(wds),
        wd_span=_span(wds),
        wd_all=_span(o["weight_decay_range"]),
    )
    for name, flag, values, (low, high) in (
        ("lr", "--lr-range", lrs, o["lr_range"]),
        ("weight decay", "--weight-decay-range", wds, o["weight_decay_range"]),
    ):
        if _span(values) >= _span([low, high]) / 2:
            s.bullet(
                "The best {k} spread over {span:sig} of the {all:sig} decades of " + name + ": "
                "in {budget} the search did not narrow it down.",
                k=len(top),
                span=_span(values),
                all=_span([low, high]),
            )
            continue
        # A narrow best region in the outer tenth of the range: the optimum may lie beyond.
        tenth = 10 ** (0.1 * _span([low, high]))
        for edge, side, near in (
            (high, "upper", max(values) * tenth >= high),
            (low, "lower", min(values) <= low * tenth),
        ):
            if near:
                s.bullet(
                    f"In {{budget}}, the best {{k}} reach within a tenth of the searched decades "
                    f"of the {side} end of the {name} range, {{edge}}: the best {name} may lie "
                    f"beyond it; widen {flag}.",
                    k=len(top),
                    edge=edge,
                )
    ties = sum(
        group_metric(g, "final.val_acc") == group_metric(best, "final.val_acc") for g in ranked
    )
    if one_seed:
        s.bullet(
            "One seed per draw, so the seed noise is unknown, and on {n_val} validation images "
            "one image is {step:acc} of accuracy: draws a few images apart ({ties}) are not ranked beyond doubt in {budget}.",
            n_val=n_val,
            step=1 / n_val,
            ties="only the best has its accuracy"
            if ties == 1
            else f"{ties} share the best accuracy",
        )
    elif len(ranked) > 1:
        s.bullet(
            "In {budget}, the best draw against the second best: "
            + noise(best, ranked[1], VAL)
            + " ({best_val:pm} against {second_val:pm}).",
            best_val=best["metrics"][VAL],
            second_val=ranked[1]["metrics"][VAL],
        )
    kinds: dict[str, list[dict[str, Any]]] = {}
    for g in ranked:
        kinds.setdefault(verdict(res, g).phrase, []).append(g)
    for phrase, groups in kinds.items():
        rates = [g["tags"]["lr"] for g in groups]
        s.bullet(
            "{count} of {draws} draws (lr {lr_lo} to {lr_hi}): each " + phrase + ".",
            count=len(groups),
            draws=n_draws,
            lr_lo=min(rates),
            lr_hi=max(rates),
        )
    s.heading("The best values re-run on the full set")
    if o["rerun"] is None:
        s.say("Not run (--no-rerun).")
    elif not any(g["group"] == RERUN for g in res.groups):
        s.say("Not finished yet: run the command again to resume it.")
    else:
        rerun = res.group(RERUN)
        s.say(
            "Draw {draw}'s lr {lr} and weight decay {wd}, trained on all {n_full} training "
            "images for {rerun_budget} ({seeds}) and measured on the {n_test} test "
            "images: test accuracy {test:pm}, training accuracy {train:pm}"
            + (" (it diverged)." if rerun["diverged"] else "."),
            draw=rerun["tags"]["draw"],
            lr=rerun["tags"]["lr"],
            wd=rerun["tags"]["weight_decay"],
            n_full=res.data["n_train"],
            rerun_budget=o["rerun"]["text"],
            seeds=plural(len(rerun["seeds"]), "seed"),
            n_test=res.data["n_test"],
            test=rerun["metrics"]["final.test_acc"],
            train=rerun["metrics"]["final.train_acc"],
        )
    s.heading(f"The best {min(o['top'], n_draws)} draws")
    s.table(
        ["rank", "draw", "lr", "weight decay", "validation acc", "training acc", "in " + s.budget],
        "{rank} | {draw} | {lr} | {wd} | {val:pm} | {train:pm} | {kind}",
        [
            {
                "rank": i + 1,
                "draw": g["tags"]["draw"],
                "lr": g["tags"]["lr"],
                "wd": g["tags"]["weight_decay"],
                "val": g["metrics"]["final.val_acc"],
                "train": g["metrics"]["final.train_acc"],
                "kind": verdict(res, g).kind,
            }
            for i, g in enumerate(ranked[: o["top"]])
        ],
    )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Validation accuracy over the (lr, weight decay) plane; the best draws' learning curves."""
    o = res.options
    ranked = _ranked(res)
    top = ranked[: min(o["region"], len(ranked))]
    lrs = [g["tags"]["lr"] for g in top]
    wds = [g["tags"]["weight_decay"] for g in top]
    best = ranked[0]["tags"]
    plane = plot_scatter(
        [g["tags"]["lr"] for g in ranked],
        [g["tags"]["weight_decay"] for g in ranked],
        [group_metric(g, "final.val_acc") for g in ranked],
        xlabel="learning rate",
        ylabel="weight decay λ",
        title=f"Validation accuracy after {o['budget']['text']} ({len(ranked)} draws)",
        colorbar_label=f"validation accuracy ({o['subset']['train_samples'] - o['n_train']} images)",
        logx=True,
        logy=True,
        box=(min(lrs), max(lrs), min(wds), max(wds)),
        box_label=f"the best {len(top)}",
        star=(best["lr"], best["weight_decay"], f"best: draw {best['draw']}"),
    )
    trials = by_group(res)
    panels = []
    for i, g in enumerate(ranked[: o["top"]]):
        xs, val = mean_curve(trials[g["group"]], "epochs", "val_acc")
        _, train = mean_curve(trials[g["group"]], "epochs", "train_acc")
        tags = g["tags"]
        panels.append(
            Panel(
                f"Best-{i + 1}: lr {tags['lr']:.2g}, λ {tags['weight_decay']:.2g}",
                "epochs",
                "accuracy",
                [Series("validation", xs, val, style="-"), Series("train", xs, train, style="--")],
                ylim=(0, 1),
            )
        )
    title = "The best draws' learning curves (as the book's figure)"
    curves = plot_panels(panels, title, ncols=min(5, len(panels)))
    return [save_figure(plane, out / FIGURES[0]), save_figure(curves, out / FIGURES[1])]
