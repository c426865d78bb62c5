"""``scratchdl sweep init``: initial weights std 0.01, Xavier and He, with sigmoid and ReLU
(ch. 6.2).

The book's setting (``weight_init_compare.py``): hidden layers 100-100-100-100 (the book's code
has 4 hidden layers of 100; its text calls this a 5-layer network, counting the output layer),
SGD with lr 0.01, mini-batches of 128 drawn with replacement, 2000 updates. The default grid is
the book's two figures of the section: with ReLU, std 0.01, Xavier and He (``relu+0.01,
relu+xavier,relu+he``, the trio ``weight_init_compare.py`` trains, ch. 6.2.3-6.2.4); with
sigmoid, std 1, std 0.01 and Xavier (``sigmoid+1,sigmoid+0.01,sigmoid+xavier``, the activation
histograms of ch. 6.2.2: saturated at 0 and 1, bunched at 0.5, spread out). ``--variants``
takes any ``activation+init`` pairs.

Each trial records every hidden layer's outputs on 1000 fixed training images at initialisation
and after training (mean, std, the share of units passing no gradient, a 30-bin histogram over
[0, 1]); the summary says which variants trained (by the verdict rules) and what the activations
looked like, in these words: *saturated* when a sigmoid layer has over half its outputs within
0.1 of 0 or 1; *concentrated near 0.5* when every sigmoid layer's mean is within 0.1 of 0.5 with
std below 0.05; otherwise *shrinking*/*growing layer by layer* when every layer's std is under
0.8/over 1.25 times the one before, *kept its spread* when the last hidden layer's std is within
a factor 2 of the first's, else *no steady trend*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import mean_over
from scratchdl.experiments.config import parse_variants
from scratchdl.experiments.declare import (
    BookCh6Options,
    Budget,
    Group,
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
from scratchdl.experiments.summary import Summary
from scratchdl.experiments.trial import HIST_BINS, HIST_RANGE
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import HistRow, Panel, Series, plot_histogram_grid, plot_panels

NAME = "init"
HELP = "initial weights std 0.01, Xavier, He with sigmoid and ReLU (ch. 6.2)"
QUESTION = "Which initial weights let the deep net train, and what do its activations show?"
BUDGET = Budget(updates=2000)
FIGURES = ("init_curves.png", "init_histograms.png", "init_histograms_trained.png")
#: Outer bins of the histogram on each side: outputs within 0.1 of 0 or 1, where the sigmoid's
#: slope y(1 - y) is under 0.09 (0.25 at y = 0.5): the gradient vanishes there (ch. 6.2.2).
EDGE_BINS = 3
#: The verdict kinds (scratchdl.train.verdict) in words.
KIND_WORDS = {
    "learned": "learned",
    "learning": "had not learned yet",
    "stalled": "did not train",
    "diverged": "diverged",
}
VARIANTS = ("relu+0.01", "relu+xavier", "relu+he", "sigmoid+1", "sigmoid+0.01", "sigmoid+xavier")


@dataclass(frozen=True)
class Options(BookCh6Options):
    """The activation+init pairs, on the book's ch. 6.2.4 network, optimizer and batches."""

    variants: tuple[str, ...] = option(VARIANTS, "activation+init pairs such as relu+he")
    lr: float | None = option(0.01, "learning rate (the book's for ch. 6.2.4)")
    activation: str = option("relu", "set by --variants", flag=False)
    init: float | str = option("he", "set by --variants", flag=False)


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    variants = parse_variants(",".join(opts.variants))
    groups = [
        Group(
            v.label,
            {"activation": v.activation, "init": v.init},
            opts.train(activation=v.activation, init=v.init),
        )
        for v in variants
    ]
    budget = opts.budget(BUDGET)
    return declare(NAME, QUESTION, opts, data, groups, budget, summarize, plot, layer_stats=True)


def _layers(trials: list[dict[str, Any]], when: str, key: str) -> list[Any]:
    """A per-layer statistic at ``when`` ("init" or "final"), mean over seeds."""
    values = np.array([t["layer_stats"][when][key] for t in trials], dtype=float)
    return np.mean(values, axis=0).tolist()


def _shape(activation: str, stats: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """How the activations look, as a phrase with its numbers (rules in the module docstring)."""
    means, stds = stats["act_mean"], stats["act_std"]
    if activation == "sigmoid":
        edge = [sum(h[:EDGE_BINS]) + sum(h[-EDGE_BINS:]) for h in stats["hist"]]
        if max(edge) > 0.5:
            return "saturated: share of outputs within 0.1 of 0 or 1 by layer {edge:sigs}", {
                "edge": edge
            }
        if max(abs(m - 0.5) for m in means) < 0.1 and max(stds) < 0.05:
            return "every layer concentrated near 0.5 (means {means:sigs})", {"means": means}
    steps = [b / a if a else float("nan") for a, b in zip(stds, stds[1:], strict=False)]
    for trend, holds in (("shrinking", lambda f: f < 0.8), ("growing", lambda f: f > 1.25)):
        if steps and all(map(holds, steps)):
            phrase = " layer by layer (each std {steps:sigs} times the one before)"
            return trend + phrase, {"steps": steps}
    ratio = stds[-1] / stds[0] if stds[0] else float("nan")
    if 0.5 <= ratio <= 2:
        return "kept its spread (last layer's std {ratio:sig} times the first's)", {"ratio": ratio}
    return "no steady trend (last layer's std {ratio:sig} times the first's)", {"ratio": ratio}


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Which variants trained; the activation statistics at init and after training."""
    o = res.options
    s = Summary(res, "Initial weights (ch. 6.2)")
    s.say(
        "Setup: hidden layers {hidden} (the book's code has {book} of {book_width}, which its "
        "text calls a {book_depth}-layer net), {optimizer} lr {lr}, batch {batch} {drawn}, {budget} "
        "per run, {seeds} per variant. Test accuracy on the full test set and training "
        "loss on the learning curve's fixed training subsample (mean ± std over seeds); "
        "activation statistics of each hidden layer on {images} fixed training images (mean "
        "over seeds).",
        book=4,
        book_width=100,
        book_depth=5,
        images=min(1000, o["eval_samples"], o["n_train"]),
        **setup_values(o),
    )
    rows = []
    for g in res.groups:
        trials = by_group(res)[g["group"]]
        _, losses = mean_curve(trials, "updates", "train_loss")
        stats = {
            when: {k: _layers(trials, when, k) for k in ("act_mean", "act_std", "hist")}
            for when in ("init", "final")
        }
        grad = _layers(trials, "init", "grad_rms")
        rows.append(
            {
                **g["tags"],
                "name": g["group"],
                "acc": g["metrics"]["final.test_acc"],
                "loss": g["metrics"]["final.train_loss"],
                "start": losses[0],
                "end": None if g["diverged"] else losses[-1],
                "verdict": verdict(res, g),
                "stats": stats,
                "grad": (grad[0], grad[-1]),
                "group": g,
            }
        )
    s.heading("Which initial weights trained")
    for r in rows:
        s.bullet(
            "{name} " + r["verdict"].phrase + "; test accuracy {acc:pm} (chance {chance:acc}), "
            "training loss {start:loss} -> {end:loss}.",
            name=r["name"],
            acc=r["acc"],
            chance=o["chance"],
            start=r["start"],
            end=r["end"],
        )
    # A run that diverged has no loss to rank (its verdict says so).
    ranked = sorted(
        (r for r in rows if not r["group"]["diverged"]),
        key=lambda r: math.inf if r["loss"]["mean"] is None else r["loss"]["mean"],
    )
    if len(ranked) > 1:
        best, second = ranked[0], ranked[1]
        s.bullet(
            "Lowest full-training-set loss after {budget}: {best} ({best_loss:losspm}), then "
            "{second} ({second_loss:losspm}); {gap}.",
            best=best["name"],
            best_loss=best["loss"],
            second=second["name"],
            second_loss=second["loss"],
            gap=gap(best["group"], second["group"], "final.train_loss"),
        )
    _book_claims(s, {r["name"]: r for r in rows})
    if any(r["verdict"].kind == "stalled" for r in rows):
        s.say(
            "'Did not train' means the training loss of the last quarter of the {budget} was no "
            "lower than that of the quarter before; a deep net's plateau can still end later, "
            "which only a longer run (--iters) shows."
        )
    s.heading("What the activations show")
    n_layers = len(o["hidden"])
    for r in rows:
        start = r["stats"]["init"]
        phrase, values = _shape(r["activation"], start)
        s.bullet(
            "At initialisation (update 0), {name}: output std of hidden layers 1-{n} {stds:sigs}; "
            + phrase
            + "; weight-gradient RMS {g_first:sig} for W1, {g_last:sig} for W{n_w} (W1's "
            "{g_share:sig} times W{n_w}'s).",
            name=r["name"],
            n=n_layers,
            stds=start["act_std"],
            g_first=r["grad"][0],
            g_last=r["grad"][1],
            g_share=r["grad"][0] / r["grad"][1] if r["grad"][1] else None,
            n_w=n_layers + 1,
            **values,
        )
    for r in rows:
        end = r["stats"]["final"]
        phrase, values = _shape(r["activation"], end)
        s.bullet(
            "After {budget}, {name}: output std by layer {stds:sigs}; " + phrase + ".",
            name=r["name"],
            stds=end["act_std"],
            **values,
        )
    s.heading("All variants")
    s.table(
        ["variant", "activation", "init", "test accuracy", "training loss", "in " + s.budget],
        "{name} | {activation} | {init} | {acc:pm} | {start:loss} -> {end:loss} | {kind}",
        [
            {
                **{k: r[k] for k in ("name", "activation", "init", "acc", "start", "end")},
                "kind": r["verdict"].kind,
            }
            for r in rows
        ],
    )
    return s.done(FIGURES)


def _book_claims(s: Summary, rows: dict[str, dict[str, Any]]) -> None:
    """The book (ch. 6.2.4, figure 6-15): with ReLU, std 0.01 does not learn; He beats Xavier."""
    if not all(k in rows for k in ("relu+0.01", "relu+xavier", "relu+he")):
        return
    he, xavier = rows["relu+he"], rows["relu+xavier"]
    s.bullet(
        "The book (ch. 6.2.4) finds that with ReLU std 0.01 does not learn at all and He "
        "learns faster than Xavier. Here, in {budget}: relu+0.01 "
        + KIND_WORDS[rows["relu+0.01"]["verdict"].kind]
        + " (verdict above); relu+he reached a full-training-set loss of {he:losspm} against "
        "{xavier:losspm} for relu+xavier; {gap}.",
        he=he["loss"],
        xavier=xavier["loss"],
        gap=gap(he["group"], xavier["group"], "final.train_loss"),
    )


def _hist_rows(res: SweepResults, when: str) -> list[HistRow]:
    """Seed-averaged histograms; for ReLU the exact zeros leave the first bin (noted)."""
    rows = []
    for name, trials in by_group(res).items():
        hist = np.mean([t["layer_stats"][when]["hist"] for t in trials], axis=0)
        zeros = _layers(trials, when, "inactive")
        notes = []
        for layer, heights in enumerate(hist):
            above = 1 - float(np.sum(heights))
            note = f"{above:.0%} above 1" if above >= 0.005 else ""
            if trials[0]["train"]["activation"] == "relu":
                heights[0] = max(heights[0] - zeros[layer], 0.0)
                note = f"{zeros[layer]:.0%} exactly 0 (not drawn)\n" + note
            notes.append(note.strip())
        rows.append(HistRow(name, list(hist), notes))
    return rows


def _curves(res: SweepResults, y_key: str) -> list[Series]:
    """Seed-averaged curves, sigmoid dashed: flat runs at chance lie on top of each other."""
    return [
        Series(c.label, c.x, c.y, style="--" if c.label.startswith("sigmoid") else "-")
        for c in group_curves(res, "updates", y_key, skip_first=y_key == "batch_loss")
    ]


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Learning curves; activation histograms at initialisation and after training."""
    losses = _curves(res, "batch_loss")
    # The book's figure shows 0..2.5 (an untrained net sits at ln 10 = 2.3); a curve above that
    # (sigmoid with std 1 starts near 10) widens the range rather than leaving the axes.
    top = max([2.5] + [y for c in losses for y in c.y if y is not None and math.isfinite(y)])
    curves = [
        Panel(
            "Training loss (the book's figure 6-15)",
            "updates",
            "mini-batch loss, mean since the last point",
            losses,
            ylim=(0, 2.5 if top <= 2.5 else 1.05 * top),
        ),
        Panel(
            "Test accuracy",
            "updates",
            f"test accuracy ({res.options['eval_samples']} test images)",
            _curves(res, "test_acc"),
            hline=(res.options["chance"], "chance"),
        ),
    ]
    seeds, budget = mean_over(len(res.options["seeds"])), res.options["budget"]["text"]
    paths = [
        save_figure(plot_panels(curves, f"Initial weights, {budget} ({seeds})"), out / FIGURES[0])
    ]
    edges = np.linspace(*HIST_RANGE, HIST_BINS + 1)
    hidden = res.options["hidden"]
    for when, name, title in (
        ("init", FIGURES[1], "at initialisation"),
        ("final", FIGURES[2], f"after {budget}"),
    ):
        fig = plot_histogram_grid(
            _hist_rows(res, when),
            edges,
            col_titles=[f"layer {i + 1} ({n} units)" for i, n in enumerate(hidden)],
            xlabel="output",
            ylabel="share per bin",
            suptitle=f"Hidden-layer outputs {title} (the book's figures 6-10 to 6-14; "
            f"{HIST_BINS} bins over [0, 1], {seeds})",
        )
        paths.append(save_figure(fig, out / name))
    return paths
