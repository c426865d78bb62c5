"""``scratchdl sweep depth-width``: what depth does, compared with width (ch. 6.2, 8.1.5).

A grid of depths (hidden layers) × widths (units per hidden layer) for each activation+init
*variant*. The optimizer, batch size and learning rate are ``scratchdl train``'s (SGD, 100,
0.1); the activation and initial weights come from ``--variants`` instead of train's relu+0.01,
because the question needs the book's deep sigmoid+0.01 net (ch. 6.2), which is slow to start
or fails, beside its two fixes, sigmoid+xavier and relu+he. ``--match-params`` turns each width
into a parameter budget (the shallowest net's size): deeper nets get narrower, so deep-narrow
meets shallow-wide at equal size. Each trial also records per-layer activation and gradient
statistics at initialisation and after training (the vanishing-gradient figure).

The summary says of each net that it learned, did not train (its loss stopped falling) or had
not learned yet (still falling: more epochs), always "in" the budget, and calls a change in
accuracy real only when it is larger than the seed noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import over_seeds, plural
from scratchdl.errors import ConfigError
from scratchdl.experiments.config import parse_variants
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    by_group,
    declare,
    mean_curve,
    noise,
    option,
    verdict,
)
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import Summary, acc, group_metric, sig
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_heatmaps, plot_panels
from scratchdl.train.verdict import FAIL_FACTOR, noise_comparison

NAME = "depth-width"
HELP = "accuracy, gap and time over depth x width (ch. 6.2, 8.1)"
QUESTION = "What does depth do, compared with width?"
BUDGET = Budget(epochs=2)
FIGURES = (
    "depth_width_heatmap.png",
    "depth_width_lines.png",
    "depth_width_curves.png",
    "depth_width_layers.png",
)


@dataclass(frozen=True)
class Options(NetOptions):
    """The grid and the variants; optimizer, batch and lr are ``scratchdl train``'s."""

    depths: tuple[int, ...] = option((1, 2, 4), "hidden-layer counts")
    widths: tuple[int, ...] = option((16, 64, 256), "units per hidden layer")
    variants: tuple[str, ...] = option(
        ("sigmoid+0.01", "sigmoid+xavier", "relu+he"),
        "activation+init pairs (not train's relu+0.01: the book's failing deep sigmoid+0.01 "
        "beside its two fixes, ch. 6.2)",
    )
    match_params: bool = option(
        False,
        "equal parameter counts per column: each --widths value sets the shallowest "
        "net's size, deeper nets get narrower",
    )
    layer_stats: bool = option(True, "per-layer activation and gradient statistics")
    seeds: tuple[int, ...] = option((0, 1), "seeds; accuracy is reported as mean ± std over them")
    hidden: tuple[int, ...] = option((), "set by --depths and --widths", flag=False)
    activation: str = option("relu", "set by --variants", flag=False)
    init: float | str = option(0.01, "set by --variants", flag=False)


def param_count(n_in: int, depth: int, width: int, n_out: int) -> int:
    """Weights and biases of an MLP with ``depth`` hidden layers of ``width`` units."""
    return n_in * width + width + (depth - 1) * (width * width + width) + width * n_out + n_out


def matched_width(target: int, n_in: int, depth: int, n_out: int) -> int:
    """The width whose ``depth``-layer net has the parameter count closest to ``target``."""
    a, b, c = depth - 1, n_in + 1 + (depth - 1) + n_out, n_out - target
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    candidates = {max(1, math.floor(w)), max(1, math.ceil(w))}
    return min(candidates, key=lambda x: (abs(param_count(n_in, depth, x, n_out) - target), x))


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    for flag, values in (("--depths", opts.depths), ("--widths", opts.widths)):
        if not values:
            raise ConfigError(f"{flag} needs at least one value")
    variants = parse_variants(",".join(opts.variants))
    n_in, n_out, depths = int(data["features"]), int(data["classes"]), sorted(opts.depths)
    columns = {}  # column label -> {depth: width}
    for w in sorted(opts.widths):
        target = param_count(n_in, depths[0], w, n_out)
        columns[f"~{target} params" if opts.match_params else f"width {w}"] = {
            d: matched_width(target, n_in, d, n_out) if opts.match_params else w for d in depths
        }
    groups = [
        Group(
            f"{v.label}, depth {d} x width {ws[d]}",
            {"variant": v.label, "depth": d, "width": ws[d], "column": col}
            | {"params": param_count(n_in, d, ws[d], n_out)},
            opts.train(hidden=[ws[d]] * d, activation=v.activation, init=v.init),
        )
        for v in variants
        for d in depths
        for col, ws in columns.items()
    ]
    return declare(
        *(NAME, QUESTION, opts, data, groups, opts.budget(BUDGET), summarize, plot),
        layer_stats=opts.layer_stats,
        columns=COLUMNS,
    )


COLUMNS = (
    Column("params", lambda r: str(r["params"])),
    Column("train acc", lambda r: acc(r["final"]["train_acc"])),
    Column("test acc", lambda r: acc(r["final"]["test_acc"])),
    Column("s/epoch", lambda r: sig(r["timing"]["seconds_per_epoch"] or 0)),
    Column("status", lambda r: r["status"], justify="left"),
)


def _cells(res: SweepResults) -> list[dict[str, Any]]:
    """Each cell's named numbers and what its runs support saying (:func:`verdict`)."""
    cells = []
    for g in res.groups:
        trials = by_group(res)[g["group"]]
        losses = [v for v in mean_curve(trials, "updates", "batch_loss")[1] if v is not None]
        ratios = [  # RMS(dL/dW_last) / RMS(dL/dW1) at initialisation: the vanishing gradient
            t["layer_stats"]["init"]["grad_rms"][-1] / t["layer_stats"]["init"]["grad_rms"][0]
            for t in trials
            if t.get("layer_stats") and all(t["layer_stats"]["init"]["grad_rms"])
        ]
        cells.append(
            {
                **g["tags"],
                "g": g,
                "acc": g["metrics"]["final.test_acc"],
                "gap": group_metric(g, "final.gap"),
                "s_epoch": group_metric(g, "timing.seconds_per_epoch"),
                "verdict": verdict(res, g),
                "first": losses[0] if losses else None,
                "last": losses[-1] if losses else None,
                "ratio": float(np.mean(ratios)) if ratios else None,
            }
        )
    return cells


def _where(cells: list[dict[str, Any]], n_columns: int) -> list[str]:
    """``["depth 2", "depth 4 × width 16"]``: whole rows of the grid by their depth."""
    depths = sorted({c["depth"] for c in cells})
    rows = [[c for c in cells if c["depth"] == d] for d in depths]
    return [
        f"depth {r[0]['depth']}"
        if len(r) == n_columns
        else f"depth {r[0]['depth']} × width " + ", ".join(str(c["width"]) for c in r)
        for r in rows
    ]


def _answer(changes: list[tuple[str, float, str]], match_params: bool) -> str:
    """The answer's template from ``(name, change in test accuracy, noise_comparison)`` of
    "deepening" and/or "widening"; ``{budget}`` and ``{<name>}`` (the change) are filled in.
    Help or harm is claimed only beyond the seed noise."""
    if not changes:
        return "One depth and one width: nothing to compare; give two or more --depths or --widths."
    said = {"within noise": "within the seed noise", "one seed": "one seed only: noise unknown"}
    clauses = [
        f"{n} changed test accuracy by {{{n}:+.3f}} ({said.get(k, 'more than the seed noise')})"
        for n, _, k in changes
    ]
    kinds = {n: k for n, _, k in changes}
    helped = [n for n, k in kinds.items() if k == "larger"]
    if match_params and "deepening" in kinds:
        lead = "At about the same number of parameters, in {budget} the deep-narrow net " + {
            "larger": "beat the shallow-wide one",
            "smaller": "fell behind the shallow-wide one",
        }.get(kinds["deepening"], "and the shallow-wide one could not be told apart")
    elif len(changes) == 1:
        lead = f"Only {changes[0][0]} was tried, in {{budget}}"
    elif helped:
        lead = (
            "Both helped in {budget}"
            if len(helped) == 2
            else f"In {{budget}}, only {helped[0]} helped"
        )
    elif "smaller" in kinds.values():
        lead = "Neither helped in {budget}"
    elif "one seed" in kinds.values():
        lead = "In {budget}, with one seed per net neither change can be told from noise"
    else:
        lead = "In {budget}, neither changed test accuracy by more than the seed noise"
    return lead + ": " + " and ".join(clauses) + "."


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Does each variant's deep net learn in the budget; then depth against width."""
    o, s, cells = res.options, Summary(res, "Depth against width"), _cells(res)
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    depths = sorted({c["depth"] for c in cells})
    columns = list(dict.fromkeys(c["column"] for c in cells))
    deepest, widest = depths[-1], columns[-1]
    s.say(
        "Setup: {variants:list} nets with {depths:list} hidden layers × {columns:list}, "
        "{optimizer} with lr {lr}, batch {batch}, {budget} per net, {seeds} per net; "
        "test accuracy on the full test set (mean ± std over seeds). A net *learned* when its "
        "test accuracy is above {bar:acc} ({factor}× chance); if not, it *did not train* when "
        "its loss had stopped falling and *had not learned yet* when the loss was still falling.",
        variants=variants,
        depths=depths,
        columns=columns,
        optimizer=o["optimizer"],
        lr=cells[0]["g"]["train"]["lr"],
        batch=o["batch_size"],
        seeds=plural(len(o["seeds"]), "seed"),
        bar=FAIL_FACTOR * o["chance"],
        factor=FAIL_FACTOR,
    )
    s.heading(f"Does a deep net learn in {s.budget}?")
    late = []  # variants whose deepest nets all failed to learn while shallower ones learned
    for v in variants:
        vc = [c for c in cells if c["variant"] == v]
        best = max(vc, key=lambda c: c["acc"]["mean"] or 0.0)
        deep = next(c for c in vc if c["depth"] == deepest and c["column"] == widest)
        learned = [c for c in vc if c["verdict"].kind == "learned"]
        s.bullet(
            (
                "**{variant}** learned in {budget} at every depth and width; its"
                if len(learned) == len(vc)
                else "**{variant}** learned in {budget} at {where:list}; its"
                if learned
                else "**{variant}**: no net learned in {budget}; the"
            )
            + " highest test accuracy was {acc:pm}, at depth {depth} × width {width}."
            + (
                ""
                if deep["ratio"] is None
                else " At initialisation, in its depth-{deep_depth} × width-{deep_width} net, "
                "the gradient at the last weight layer was {ratio:sig}× that at the first (RMS "
                "over a fixed batch)."
            ),
            variant=v,
            where=_where(learned, len(columns)),
            **{k: best[k] for k in ("depth", "width", "acc")},
            deep_depth=deepest,
            deep_width=deep["width"],
            ratio=deep["ratio"],
        )
        # One bullet per thing said ("did not train ... stopped falling", "had not learned
        # yet ..."), naming the nets it is said of and quoting the deepest, widest of them.
        for phrase in dict.fromkeys(c["verdict"].phrase for c in vc if c not in learned):
            them = [c for c in vc if c["verdict"].phrase == phrase]
            diverged = them[0]["verdict"].kind == "diverged"
            s.bullet(
                "At {where:list}, {variant} " + phrase + "; test accuracy {acc:pm} at depth "
                "{depth} × width {width} (chance {chance:acc})"
                + ("." if diverged else ", mean mini-batch loss {first:.3f} -> {last:.3f}.")
                + (
                    " A loss that stopped falling may still be a plateau that a longer run "
                    "leaves: deep sigmoid nets can sit on one for epochs (ch. {chapter})."
                    if "stopped falling" in phrase
                    else ""
                ),
                where=_where(them, len(columns)),
                variant=v,
                chance=o["chance"],
                chapter=6.2,
                **{
                    k: max(them, key=lambda c: (c["depth"], c["width"]))[k]
                    for k in ("acc", "depth", "width", "first", "last")
                },
            )
        if learned and all(c["depth"] < deepest for c in learned):
            late.append(v)

    main = max(
        variants, key=lambda v: np.mean([c["acc"]["mean"] or 0 for c in cells if c["variant"] == v])
    )
    grid = {(c["depth"], c["column"]): c for c in cells if c["variant"] == main}
    s.heading(f"Depth against width ({main})")
    pairs = []
    if len(depths) > 1:
        pairs.append(("deepening", grid[depths[0], widest], grid[deepest, widest]))
    if len(columns) > 1:
        pairs.append(("widening", grid[depths[0], columns[0]], grid[depths[0], widest]))
    keys = {"d": "depth", "w": "width", "p": "params", "t": "s_epoch", "acc": "acc"}
    for name, a, b in pairs:
        s.bullet(
            ("Deeper, at {col}" if name == "deepening" else "Wider, at depth {d0}")
            + ": in {budget}, depth {d0} × width {w0} -> depth {d1} × width {w1} changed test "
            "accuracy {acc0:pm} -> {acc1:pm} ({noise}), parameters {p0} -> {p1}, time per "
            "epoch {t0} s -> {t1} s.",
            col=widest,
            **{f"{k}0": a[key] for k, key in keys.items()},
            **{f"{k}1": b[key] for k, key in keys.items()},
            noise=noise(b["g"], a["g"], "final.test_acc"),
        )
    best = max(grid.values(), key=lambda c: c["acc"]["mean"] or 0.0)
    gapped = max(grid.values(), key=lambda c: c["gap"] or 0.0)
    s.bullet(
        "Highest mean test accuracy in {budget}: depth {depth} × width {width} ({params} "
        "parameters), {acc:pm}. Largest generalisation gap (train - test accuracy): {gap:acc} "
        "at depth {gap_depth} × width {gap_width}.",
        **{k: best[k] for k in ("depth", "width", "params", "acc")},
        gap=gapped["gap"],
        gap_depth=gapped["depth"],
        gap_width=gapped["width"],
    )
    s.heading("Answer")
    changes = [
        (name, b["acc"]["mean"] - a["acc"]["mean"], noise_comparison(b["acc"], a["acc"]))
        for name, a, b in pairs
    ]
    s.say(
        "For {variant}: " + _answer(changes, o["match_params"]),
        variant=main,
        **{n: change for n, change, _ in changes},
    )
    if late:
        s.say(
            "Depth also has a cost width does not: in {budget}, no depth-{deepest} {late:list} "
            "net learned, while shallower ones did (see above whether their loss had stopped "
            "or was still falling).",
            deepest=deepest,
            late=late,
        )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Heatmaps, metrics against depth, learning curves by depth, per-layer statistics."""
    cells, o = _cells(res), res.options
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    depths = sorted({c["depth"] for c in cells})
    columns = list(dict.fromkeys(c["column"] for c in cells))
    grids = {v: np.full((len(depths), len(columns)), np.nan) for v in variants}
    notes = {v: [[""] * len(columns) for _ in depths] for v in variants}
    for c in cells:
        if c["acc"]["mean"] is not None:
            i, j = depths.index(c["depth"]), columns.index(c["column"])
            grids[c["variant"]][i, j] = c["acc"]["mean"]
            notes[c["variant"]][i][j] = f"{c['acc']['mean']:.3f}\n±{c['acc']['std']:.3f}" + (
                f"\nw={c['width']}" if o["match_params"] else ""
            )
    spread = over_seeds(len(o["seeds"]))
    heatmap = plot_heatmaps(
        grids,
        notes,
        row_labels=[str(d) for d in depths],
        col_labels=columns,
        xlabel="parameter budget" if o["match_params"] else "width (units per hidden layer)",
        ylabel="depth (hidden layers)",
        colorbar_label="test accuracy",
        suptitle=f"Test accuracy by depth and width after {o['budget']['text']} ({spread})",
    )

    def line(v: str, col: str, path: str) -> Series:
        row = sorted(
            (c for c in cells if (c["variant"], c["column"]) == (v, col)), key=lambda c: c["depth"]
        )
        stats = [c["g"]["metrics"][path] for c in row]
        return Series(
            f"{v}, {col}",
            [c["depth"] for c in row],
            [m["mean"] for m in stats],
            [m["std"] for m in stats],
        )

    chance = (o["chance"], "chance")
    lines = [
        Panel(
            title,
            "depth (hidden layers)",
            ylabel,
            [line(v, col, path) for v in variants for col in columns],
            hline=hl,
            integer_x=True,
        )
        for title, ylabel, path, hl in (
            ("Test accuracy", "test accuracy", "final.test_acc", chance),
            ("Generalisation gap", "train - test accuracy", "final.gap", None),
            ("Training time", "seconds per epoch", "timing.seconds_per_epoch", None),
        )
    ]
    widest = columns[-1]
    curves = [
        Panel(
            f"{v}, {widest}",
            "epochs",
            "test accuracy (eval subsample)",
            [
                Series(
                    f"depth {c['depth']}",
                    *mean_curve(by_group(res)[c["g"]["group"]], "epochs", "test_acc"),
                    style="-",
                )
                for c in cells
                if (c["variant"], c["column"]) == (v, widest)
            ],
            hline=chance,
        )
        for v in variants
    ]
    figures = [
        heatmap,
        plot_panels(lines, f"Accuracy, gap and time against depth ({spread})"),
        plot_panels(curves, "Learning curves by depth (mean over seeds)"),
    ]
    layers = _layers(res, [c for c in cells if c["depth"] == depths[-1] and c["column"] == widest])
    if layers:
        figures.append(
            plot_panels(
                layers,
                f"Vanishing gradients: depth {depths[-1]}, {widest} (fixed batch of 1000 "
                "training images, mean over seeds)",
            )
        )
    return [save_figure(f, out / name) for f, name in zip(figures, FIGURES, strict=False)]


def _layers(res: SweepResults, cells: list[dict[str, Any]]) -> list[Panel]:
    """Gradient size per weight layer and activation spread per hidden layer, before and
    after training, for each variant's deepest, widest net."""
    grad, act = [], []
    for c in cells:
        trials = [t for t in by_group(res)[c["g"]["group"]] if t.get("layer_stats")]
        for when, style in (("init", "--o"), ("final", "-o")) if trials else ():
            label = f"{c['variant']}, {'at init' if when == 'init' else 'trained'}"
            for key, into in (("grad_rms", grad), ("act_std", act)):
                # dtype float: a statistic that was not finite (None) is NaN, left out here.
                values = np.array([t["layer_stats"][when][key] for t in trials], dtype=float)
                mean = np.nanmean(values, axis=0)
                into.append(Series(label, list(range(1, len(mean) + 1)), list(mean), style=style))
    if not grad:
        return []
    return [
        Panel(
            "Gradient size per layer",
            "weight layer (1 = next to the input)",
            "RMS of dLoss/dW (log scale)",
            grad,
            logy=True,
            integer_x=True,
        ),
        Panel(
            "Activation spread per layer", "hidden layer", "std of activations", act, integer_x=True
        ),
    ]
