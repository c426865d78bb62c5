"""``scratchdl sweep batchnorm``: does Batch Normalization rescue a badly scaled start? (ch. 6.3.2)

The book's ``batch_norm_test.py``: a 784-100x5-10 ReLU net (``MultiLayerNetExtend``) with and
without BatchNorm, for 16 initial weight scales from 1 to 0.0001, trained with SGD (lr 0.01,
batch 100 drawn with replacement) for 20 epochs on the first 1,000 training images. The summary
counts the scales at which BN ended (and, after a quarter of the budget, was) ahead by more than
the seed noise, says how each failing run failed, and how much the final accuracy varied with
the scale, with and without BN.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import over_seeds
from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    epoch_points,
    mean_curve,
    option,
    verdict,
)
from scratchdl.experiments.engine import Sweep, SweepResults
from scratchdl.experiments.summary import Summary, group_metric
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels
from scratchdl.train.verdict import noise_comparison

NAME = "batchnorm"
HELP = "with and without BatchNorm across initial weight scales"
QUESTION = "Does Batch Normalization train faster and depend less on the initial weight scale?"
BUDGET = Budget(epochs=20)
FIGURES = ("batchnorm_grid.png", "batchnorm_scale.png")
BOOK_SCALES = tuple(float(w) for w in np.logspace(0, -4, 16))


@dataclass(frozen=True)
class Options(NetOptions):
    """The book's setting of ch. 6.3.2; ``scales`` replaces ``--init``."""

    scales: tuple[float, ...] = option(BOOK_SCALES, "initial weight stds (the book: 1 to 1e-4)")
    train_samples: int = option(1000, "train on the first N training images")
    hidden: tuple[int, ...] = option((100,) * 5, "hidden layer sizes")
    lr: float | None = option(0.01, "learning rate")
    sampling: str = option("replacement", "mini-batches: replacement (the book's) or shuffle")
    eval_samples: int = option(1000, "images per learning-curve point (>= N: every image)")
    curve_points: int | None = option(None, "points on each learning curve (default: 1 an epoch)")
    init: float | str = option(0.01, "set by --scales", flag=False)


def _name(scale: float, bn: bool) -> str:
    return f"{'BN' if bn else 'no BN'}, W {scale:.3g}"


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    if not 1 <= opts.train_samples <= data["n_train"]:
        raise ConfigError(
            f"--train-samples must be between 1 and the {data['n_train']} training images, "
            f"got {opts.train_samples}"
        )
    budget = opts.budget(BUDGET)
    points = opts.curve_points or epoch_points(budget, opts.train_samples, opts.batch_size)
    opts = replace(opts, curve_points=points)
    groups = [
        Group(_name(w, bn), {"scale": w, "batchnorm": bn}, opts.train(init=w, batchnorm=bn))
        for w in opts.scales
        for bn in (True, False)
    ]
    # BN's "faster" is judged a quarter of the way in: inside the budget, so nothing extra.
    early = {
        k: (v / 4 if k == "epochs" else max(1, int(v) // 4)) for k, v in budget.checkpoint.items()
    }
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


#: How BN's accuracy compares with the plain net's at one scale, as the table says it.
COMPARE = {"larger": "ahead", "smaller": "behind", "within noise": "within noise"}


def _compare(bn: dict[str, Any], plain: dict[str, Any]) -> str:
    """``noise_comparison``; with one seed (noise unknown) the means decide, as the summary
    then says."""
    result = noise_comparison(bn, plain)
    if result == "one seed":
        return "larger" if bn["mean"] > plain["mean"] else "smaller"
    return result


def _row(res: SweepResults, scale: float) -> dict[str, Any]:
    bn, plain = res.group(_name(scale, True)), res.group(_name(scale, False))
    metric = {
        k: (bn["metrics"][k], plain["metrics"][k])
        for k in ("final.train_acc", "final.test_acc", "results.early.train_acc")
    }
    return {
        "scale": scale,
        "bn": metric["final.train_acc"][0],
        "plain": metric["final.train_acc"][1],
        "bn_test": metric["final.test_acc"][0],
        "plain_test": metric["final.test_acc"][1],
        "final": _compare(*metric["final.train_acc"]),
        "early": _compare(*metric["results.early.train_acc"]),
        "bn_verdict": verdict(res, bn),
        "plain_verdict": verdict(res, plain),
        "bn_fall": _fall(res, bn),
        "plain_fall": _fall(res, plain),
    }


def _fall(res: SweepResults, group: dict[str, Any]) -> float | None:
    """How much the seed-averaged training loss fell over the run (None if it diverged)."""
    _, losses = mean_curve(by_group(res)[group["group"]], "updates", "train_loss")
    return None if group["diverged"] or None in losses else losses[0] - losses[-1]


def _scales(rows: list[dict[str, Any]], key: str, value: str) -> list[float]:
    return [r["scale"] for r in rows if r[key] == value]


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """BN ahead/behind per scale against the seed noise; failures; spread over the scales."""
    o = res.options
    rows = [_row(res, w) for w in o["scales"]]
    n = len(rows)
    early = Budget(**o["checkpoints"]["early"]).text
    s = Summary(res, "Batch Normalization against the initial weight scale")
    s.say(
        "Setup: {hidden} hidden units, {activation}, SGD lr {lr}, batch {batch} ({sampling}), "
        "on the first {n_train} training images, {budget} per run, {seeds} seed(s) per run, "
        "with and without BatchNorm at {n} initial weight scales W (the std of every weight "
        "matrix). Training accuracy on all {n_train} training images, as the book plots it; "
        "mean ± std over seeds.",
        hidden="-".join(map(str, o["hidden"])),
        activation=o["activation"],
        lr=o["lr"],
        batch=o["batch_size"],
        sampling=o["sampling"],
        n_train=o["n_train"],
        seeds=len(o["seeds"]),
        n=n,
    )
    s.heading("Findings")
    by = " (one seed, so the seed noise is unknown: compared by mean)"
    by = by if len(o["seeds"]) < 2 else " by more than the seed noise"
    better = _scales(rows, "final", "larger")
    worse, within = _scales(rows, "final", "smaller"), _scales(rows, "final", "within noise")
    s.bullet(
        "In {budget}, BN ended with a higher training accuracy than without" + by + " at "
        "{better} of the {n} scales"
        + (", lower at {worse} (W = {worse_scales:list})" if worse else "")
        + (", within the noise at {within} (W = {within_scales:list})" if within else "")
        + ".",
        better=len(better),
        n=n,
        worse=len(worse),
        worse_scales=worse,
        within=len(within),
        within_scales=within,
    )
    s.bullet(
        "After {early} (a quarter of the budget of {budget}), BN was ahead" + by + " at "
        "{ahead} of the {n} scales and behind at {behind}.",
        early=early,
        ahead=len(_scales(rows, "early", "larger")),
        behind=len(_scales(rows, "early", "smaller")),
        n=n,
    )
    spread = {}
    for key, label in (("bn", "with BN"), ("plain", "without BN")):
        finals = [r[key]["mean"] for r in rows]
        spread[key] = max(finals) - min(finals)
        s.bullet(
            "In {budget}, " + label + ", the final training accuracy over the {n} scales ranged "
            "from {low:acc} to {high:acc}.",
            n=n,
            low=min(finals),
            high=max(finals),
        )
    for key, label in (("bn_verdict", "With BN"), ("plain_verdict", "Without BN")):
        phrases: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r[key].kind != "learned":
                phrases.setdefault(r[key].phrase, []).append(r)
        if not phrases:
            s.bullet(label + ", every scale learned in {budget}.")
        for phrase, failed in phrases.items():
            # How far "still falling" went: a net that only learns its output bias creeps.
            falls = [r[key.replace("verdict", "fall")] for r in failed]
            s.bullet(
                label
                + ", W = {scales:list}: "
                + phrase
                + (
                    ""
                    if None in falls
                    else "; over the run the training loss fell by at most {fall:sig}"
                )
                + ".",
                scales=[r["scale"] for r in failed],
                fall=None if None in falls else max(falls),
            )
    s.heading("The book's claim")
    learned = {
        k: sum(r[k].kind == "learned" for r in rows) for k in ("bn_verdict", "plain_verdict")
    }
    ahead = len(_scales(rows, "early", "larger"))
    if len(better) == n and ahead == n and learned["bn_verdict"] == n:
        answer = "the numbers agree with the claim at every scale tried."
    elif better:
        answer = "the numbers support it only at the scales where BN was ahead."
    else:
        answer = "the numbers do not support it here."
    s.say(
        "BN learns faster and depends less on the initial weight scale. Measured in {budget} on "
        "{n_train} images: with BN the net learned at {bn_learned} of {n} scales, without at "
        "{plain_learned}; BN ended ahead" + by + " at {better} and was ahead after {early} at "
        "{ahead}: " + answer,
        n_train=o["n_train"],
        bn_learned=learned["bn_verdict"],
        plain_learned=learned["plain_verdict"],
        n=n,
        better=len(better),
        early=early,
        ahead=ahead,
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
        "{scale} | {bn:pm} | {plain:pm} | {final} | {bn_test:pm} | {plain_test:pm} | {bk} | {pk}",
        [
            {
                **{k: r[k] for k in ("scale", "bn", "plain", "bn_test", "plain_test")},
                "final": COMPARE[r["final"]],
                "bk": r["bn_verdict"].kind,
                "pk": r["plain_verdict"].kind,
            }
            for r in rows
        ],
    )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """The book's 4x4 grid of training accuracy per epoch; final accuracy against the scale."""
    trials = by_group(res)
    scales = res.options["scales"]
    chance = (res.options["chance"], "chance")
    ncols = 4 if len(scales) >= 4 else len(scales)
    grid = []
    for i, w in enumerate(scales):
        lines = []
        for bn, label, style in ((True, "with BN", "-"), (False, "without BN", "--")):
            xs, ys = mean_curve(trials[_name(w, bn)], "epochs", "train_acc")
            lines.append(Series(label, xs, ys, style=style))
        last_row = i >= len(scales) - ncols
        diverged = res.group(_name(w, False))["diverged"]
        grid.append(
            Panel(
                f"W = {w:.3g}" + (" (no BN diverged)" if diverged else ""),
                "epochs" if last_row else "",
                "train acc" if i % ncols == 0 else "",
                lines,
                ylim=(0, 1),
                integer_x=True,
            )
        )
    spread = over_seeds(len(res.options["seeds"]))
    early = Budget(**res.options["checkpoints"]["early"]).text

    def series(path: str, bn: bool, label: str) -> Series:
        groups = [res.group(_name(w, bn)) for w in scales]
        return Series(
            label,
            scales,
            [group_metric(g, path) for g in groups],
            [group_metric(g, path, "std") for g in groups],
        )

    summary = [
        Panel(
            f"After {title}",
            "initial weight scale W",
            "training accuracy",
            [series(path, True, "with BN"), series(path, False, "without BN")],
            logx=True,
            hline=chance,
            ylim=(0, 1),
        )
        for title, path in (
            (early, "results.early.train_acc"),
            (res.options["budget"]["text"], "final.train_acc"),
        )
    ]
    return [
        save_figure(
            plot_panels(
                grid, "Training accuracy with and without BatchNorm (mean over seeds)", ncols=ncols
            ),
            out / FIGURES[0],
        ),
        save_figure(
            plot_panels(summary, f"Training accuracy against the initial scale ({spread})"),
            out / FIGURES[1],
        ),
    ]
