"""``scratchdl sweep depth-width``: what depth does, compared with width.

A grid of depths (hidden layers) × widths (units per hidden layer) for each activation+init
*variant*. The default variants are the book's ``sigmoid+0.01`` (ch. 6.2) (which fails to train once the
net is deep), ``sigmoid+xavier`` and ``relu+he`` (the two fixes), so the default command shows
both the failure and the fix. ``--match-params`` replaces the widths by parameter budgets: for
each budget (the size of the shallowest net at each ``--widths`` value) every depth gets the
width that gives about that many parameters, comparing deep-narrow with shallow-wide.

Every trial also records per-layer activation statistics and weight-gradient sizes on a fixed
batch, at initialisation and after training (the vanishing-gradient figure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._text import over_seeds, plural_epochs
from scratchdl.errors import ConfigError
from scratchdl.experiments.batch_size import mean_curve
from scratchdl.experiments.config import Variant, check_positive, train_settings
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import acc, group_metric, pm, sig, words_list
from scratchdl.experiments.trial import TrialSpec
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_heatmaps, plot_panels

__all__ = ["DEFAULT_VARIANTS", "DepthWidthOptions", "build", "matched_width", "param_count"]

QUESTION = "What does depth do, compared with width?"
DEFAULT_VARIANTS = (Variant("sigmoid", 0.01), Variant("sigmoid", "xavier"), Variant("relu", "he"))
FIGURES = (
    "depth_width_heatmap.png",
    "depth_width_lines.png",
    "depth_width_curves.png",
    "depth_width_layers.png",
)


@dataclass(frozen=True)
class DepthWidthOptions:
    """Options of the depth × width sweep (the CLI flags, with the same defaults)."""

    depths: tuple[int, ...] = (1, 2, 4)
    widths: tuple[int, ...] = (16, 64, 256)
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    match_params: bool = False
    epochs: float | None = None  # default 2 when neither epochs nor iters is given
    iters: int | None = None
    lr: float = 0.1
    batch_size: int = 100
    optimizer: str = "sgd"
    weight_decay: float = 0.0
    seeds: tuple[int, ...] = (0, 1)
    sampling: str = "shuffle"
    dtype: str = "float32"
    eval_samples: int = 2000
    curve_points: int = 20
    layer_stats: bool = True


def param_count(n_in: int, depth: int, width: int, n_out: int) -> int:
    """Weights and biases of an MLP with ``depth`` hidden layers of ``width`` units."""
    return n_in * width + width + (depth - 1) * (width * width + width) + width * n_out + n_out


def matched_width(target: int, n_in: int, depth: int, n_out: int) -> int:
    """The width whose ``depth``-layer net has the parameter count closest to ``target``."""
    a, b, c = depth - 1, n_in + 1 + (depth - 1) + n_out, n_out - target
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    candidates = {max(1, math.floor(w)), max(1, math.ceil(w))}
    return min(candidates, key=lambda x: (abs(param_count(n_in, depth, x, n_out) - target), x))


def build(opts: DepthWidthOptions, data: dict[str, Any]) -> Sweep:
    """The depth × width plan for a data set described by ``data``."""
    if opts.epochs is not None and opts.iters is not None:
        raise ConfigError("give --epochs or --iters, not both")
    check_positive(opts.epochs, "--epochs")
    check_positive(opts.iters, "--iters", integer=True)
    check_positive(opts.eval_samples, "--eval-samples", integer=True)
    for name, values in (
        ("--depths", opts.depths),
        ("--widths", opts.widths),
        ("--variants", opts.variants),
        ("--seeds", opts.seeds),
    ):
        if not values:
            raise ConfigError(f"{name} needs at least one value")
    if opts.batch_size > data["n_train"]:
        raise ConfigError(
            f"batch size {opts.batch_size} is larger than the {data['n_train']} training examples"
        )
    n_in, n_out = int(data["features"]), int(data["classes"])
    if opts.iters is not None:
        stop = {"final": {"updates": int(opts.iters)}}
    else:
        epochs = opts.epochs if opts.epochs is not None else 2.0
        stop = {"final": {"samples": max(1, round(epochs * data["n_train"]))}}
    evaluation = {
        "eval_samples": int(opts.eval_samples),
        "curve_points": int(opts.curve_points),
        "layer_stats": bool(opts.layer_stats),
    }
    depths, widths = sorted(opts.depths), sorted(opts.widths)
    columns = []  # (column label, {depth: width}, target params or None)
    for w in widths:
        if opts.match_params:
            target = param_count(n_in, depths[0], w, n_out)
            columns.append(
                (
                    f"~{target} params",
                    {d: matched_width(target, n_in, d, n_out) for d in depths},
                    target,
                )
            )
        else:
            columns.append((f"width {w}", {d: w for d in depths}, None))
    trials = []
    for v in opts.variants:
        for d in depths:
            for label, width_of, target in columns:
                w = width_of[d]
                settings = train_settings(
                    hidden=[w] * d,
                    activation=v.activation,
                    init=v.init,
                    optimizer=opts.optimizer,
                    lr=opts.lr,
                    batch_size=opts.batch_size,
                    weight_decay=opts.weight_decay,
                    dtype=opts.dtype,
                    sampling=opts.sampling,
                )
                tags = {
                    "variant": v.label,
                    "depth": d,
                    "width": w,
                    "column": label,
                    "params": param_count(n_in, d, w, n_out),
                    "target_params": target,
                }
                for seed in opts.seeds:
                    trials.append(
                        TrialSpec(
                            sweep="depth-width",
                            group=f"{v.label}, depth {d} x width {w}",
                            tags=tags,
                            train=settings,
                            checkpoints=stop,
                            seed=int(seed),
                            evaluation=evaluation,
                            data=str(data["name"]),
                        )
                    )
    options = {
        **asdict(opts),
        "variants": [v.label for v in opts.variants],
        "depths": depths,
        "widths": widths,
        "columns": [c[0] for c in columns],
        "epochs_at_end": (stop["final"].get("samples", 0) / data["n_train"]) or None,
        "chance": 1.0 / n_out,
    }
    return Sweep(
        name="depth-width",
        question=QUESTION,
        trials=trials,
        options=options,
        columns=COLUMNS,
        summarize=summarize,
        plot=plot,
    )


COLUMNS = (
    Column("params", lambda r: str(r["params"])),
    Column("train acc", lambda r: acc(r["final"]["train_acc"])),
    Column("test acc", lambda r: acc(r["final"]["test_acc"])),
    Column("gap", lambda r: acc(r["final"]["gap"])),
    Column("s/epoch", lambda r: sig(r["timing"]["seconds_per_epoch"])),
    Column("status", lambda r: r["status"], justify="left"),
)


# -- summary -----------------------------------------------------------------------------------
def _cell(g: dict[str, Any]) -> dict[str, Any]:
    t = g["tags"]
    return {
        "variant": t["variant"],
        "depth": t["depth"],
        "width": t["width"],
        "column": t["column"],
        "params": t["params"],
        "acc": group_metric(g, "final.test_acc"),
        "std": group_metric(g, "final.test_acc", "std"),
        "train_acc": group_metric(g, "final.train_acc"),
        "gap": group_metric(g, "final.gap"),
        "s_per_epoch": group_metric(g, "timing.seconds_per_epoch"),
        "n": len(g["seeds"]),
    }


def _pm(c: dict[str, Any]) -> str:
    return pm({"mean": c["acc"], "std": c["std"], "n": c["n"]})


def _answer(tried: Sequence[tuple[str, float]], match_params: bool) -> tuple[str, list[float]]:
    """The verdict on depth against width, and the accuracy changes it quotes.

    ``tried`` holds ``("deepening", gain)`` and/or ``("widening", gain)``, only for what the grid
    varied (two or more depths, two or more widths); gains are signed changes in test accuracy.
    """
    gains = dict(tried)
    if not gains:
        return (
            "One depth and one width: there is nothing to compare; give two or more "
            "--depths or --widths"
        ), []
    if match_params and "deepening" in gains:
        d_gain = gains["deepening"]
        return (
            f"At about the same number of parameters, the deep-narrow net "
            f"{'beat' if d_gain > 0 else 'did not beat'} the shallow-wide one "
            f"(test accuracy {_signed(d_gain)})"
        ), [d_gain]
    if len(gains) == 1:
        ((name, gain),) = gains.items()
        return (
            f"Only {name} was tried (one {'width' if name == 'deepening' else 'depth'}): "
            f"it changed test accuracy by {_signed(gain)}"
        ), [gain]
    d_gain, w_gain = gains["deepening"], gains["widening"]
    if max(d_gain, w_gain) <= 0:
        text = (
            f"Neither helped here: deepening changed test accuracy by {_signed(d_gain)}, "
            f"widening by {_signed(w_gain)}"
        )
    else:
        text = (
            f"Here {'depth' if d_gain > w_gain else 'width'} bought more: deepening "
            f"changed test accuracy by {_signed(d_gain)}, widening by {_signed(w_gain)}"
        )
    return text, [d_gain, w_gain]


def _signed(gain: float) -> str:
    """An accuracy change with its sign: ``+0.012``, ``-0.003``."""
    return f"{gain:+.3f}"


def _grad_ratio(trials: Sequence[dict[str, Any]], cell: dict[str, Any]) -> float | None:
    """Mean over seeds of RMS(dL/dW_last) / RMS(dL/dW1) at initialisation for one cell."""
    ratios = []
    for t in trials:
        tg = t["tags"]
        stats = t.get("layer_stats") or {}
        if (tg["variant"], tg["depth"], tg["width"]) != (
            cell["variant"],
            cell["depth"],
            cell["width"],
        ) or "init" not in stats:
            continue
        g = stats["init"]["grad_rms"]
        if g[0] and g[-1]:
            ratios.append(g[-1] / g[0])
    return float(np.mean(ratios)) if ratios else None


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Failure and fix of deep nets per variant, then depth against width."""
    opts = res.options
    cells = [_cell(g) for g in res.groups]
    chance = opts["chance"]
    depths, cols = opts["depths"], opts["columns"]
    f: dict[str, Any] = {
        "chance": chance,
        "threshold": 2 * chance,
        "cells": cells,
        "seeds": len(opts["seeds"]),
        "variants": {},
    }
    lines = [
        "# Depth against width",
        "",
        f"**Question:** {QUESTION}",
        "",
        f"Setup: {res.data.get('name')} ({res.data.get('n_train')} training / "
        f"{res.data.get('n_test')} test images), {opts['optimizer']} with lr {sig(opts['lr'])}, "
        f"batch {opts['batch_size']}, "
        + (
            plural_epochs(sig(opts["epochs_at_end"]))
            if opts["epochs_at_end"]
            else f"{opts['iters']} updates"
        )
        + f", {len(opts['seeds'])} seed(s) per cell. Accuracy is on the full test set, mean ± "
        f'std over seeds; a net "did not train" when its test accuracy stayed below '
        f"{acc(2 * chance)} (twice chance, {acc(chance)}).",
        "",
        "## Does a deep net train at all?",
        "",
    ]
    deepest = depths[-1]
    for variant in opts["variants"]:
        vc = [c for c in cells if c["variant"] == variant]
        failed = [c for c in vc if c["acc"] is not None and c["acc"] < 2 * chance]
        fail_depths = sorted({c["depth"] for c in failed})
        deep = max((c for c in vc if c["depth"] == deepest), key=lambda c: c["acc"] or 0.0)
        ok = [c for c in vc if c not in failed]
        best = max(ok, key=lambda c: c["acc"]) if ok else None
        ratio_g = _grad_ratio(res.trials, deep)
        f["variants"][variant] = {
            "failed_depths": fail_depths,
            "deepest_best": deep,
            "best": best,
            "grad_ratio_at_init": ratio_g,
        }
        if not failed:
            text = (
                f"- **{variant}** trained at every depth; at depth {deepest} it reached "
                f"{_pm(deep)} (depth {deepest} x width {deep['width']})."
            )
        elif len(failed) == len(vc):
            text = (
                f"- **{variant}** did not train at any depth: the best test accuracy was "
                f"{_pm(deep)}."
            )
        else:
            text = (
                f"- **{variant}** did not train at depth{'s' if len(fail_depths) > 1 else ''} "
                f"{words_list(map(str, fail_depths))}"
                f" (best test accuracy there {_pm(max(failed, key=lambda c: c['acc']))}), "
                f"while its best net (depth {best['depth']} x width {best['width']}) "
                f"reached {_pm(best)}."
            )
        if ratio_g is not None:
            text += (
                f" At initialisation the gradient reaching the first weight layer was "
                f"{sig(ratio_g)}× smaller than at the last one (depth {deepest}, width "
                f"{deep['width']})."
                if ratio_g >= 1
                else f" At initialisation the first layer's gradient was {sig(1 / ratio_g)}× "
                f"larger than the last one's (depth {deepest}, width {deep['width']})."
            )
            f["variants"][variant]["inverse_grad_ratio"] = 1 / ratio_g if ratio_g else None
        lines.append(text)
    broken = [v for v, r in f["variants"].items() if deepest in r["failed_depths"]]
    fixed = [v for v, r in f["variants"].items() if not r["failed_depths"]]
    if broken and fixed:
        f["sigmoid_max_slope"] = 0.25  # max of s'(x) = s(x)(1 - s(x)), at x = 0
        lines.append(
            f"- So at depth {deepest}, {words_list(broken)} "
            f"{'fail' if len(broken) > 1 else 'fails'} and "
            f"{words_list(fixed)} fixes it: the initialisation scale (and ReLU, whose "
            f"gradient does not shrink by sigmoid's factor ≤ {f['sigmoid_max_slope']} per layer) "
            "decides "
            "whether the gradient survives the trip back through the layers."
        )

    # Depth against width for the variant with the best mean accuracy over the grid.
    def mean_acc(v: str) -> float:
        return float(np.mean([c["acc"] or 0.0 for c in cells if c["variant"] == v]))

    main = max(opts["variants"], key=mean_acc)
    vc = {(c["depth"], c["column"]): c for c in cells if c["variant"] == main}
    best = max(vc.values(), key=lambda c: c["acc"] or 0.0)
    widest, narrowest = cols[-1], cols[0]
    shallow_deep = (vc[(depths[0], widest)], vc[(deepest, widest)])
    narrow_wide = (vc[(depths[0], narrowest)], vc[(depths[0], widest)])
    d_gain = (shallow_deep[1]["acc"] or 0) - (shallow_deep[0]["acc"] or 0)
    w_gain = (narrow_wide[1]["acc"] or 0) - (narrow_wide[0]["acc"] or 0)
    gaps = [c for c in vc.values() if c["gap"] is not None]
    big_gap = max(gaps, key=lambda c: c["gap"])
    # What the grid did not vary was not measured: None, not a gain of 0.
    deep_varied, wide_varied = len(depths) > 1, len(cols) > 1
    f["depth_vs_width"] = {
        "variant": main,
        "best": best,
        "deeper": shallow_deep if deep_varied else None,
        "wider": narrow_wide if wide_varied else None,
        "depth_gain": d_gain if deep_varied else None,
        "width_gain": w_gain if wide_varied else None,
        "largest_gap": big_gap,
    }
    mode = "parameter budget" if opts["match_params"] else "width"
    lines += ["", f"## Depth against width ({main})", ""]
    a, b = shallow_deep
    if deep_varied:
        lines.append(
            f"- Deeper, same {mode} ({widest}): depth {a['depth']} -> {b['depth']} changed test "
            f"accuracy {_pm(a)} -> {_pm(b)}, parameters {a['params']} -> {b['params']}, time per "
            f"epoch {sig(a['s_per_epoch'])} s -> {sig(b['s_per_epoch'])} s."
        )
    if wide_varied:
        a, b = narrow_wide
        lines.append(
            f"- Wider, depth {a['depth']}: {narrowest} -> {widest} changed test accuracy "
            f"{_pm(a)} -> {_pm(b)}, parameters {a['params']} -> {b['params']}, time per epoch "
            f"{sig(a['s_per_epoch'])} s -> {sig(b['s_per_epoch'])} s."
        )
    lines.append(
        f"- Best: depth {best['depth']} x width {best['width']} ({best['params']} parameters), "
        f"{_pm(best)}. Largest generalisation gap (train - test accuracy): {acc(big_gap['gap'])}"
        f" at depth {big_gap['depth']} x width {big_gap['width']}."
    )
    noise = max(c["std"] or 0.0 for c in vc.values())
    f["depth_vs_width"]["noise"] = noise
    lines += ["", "## Answer", ""]
    tried = [
        (name, gain)
        for name, gain, varied in (
            ("deepening", d_gain, deep_varied),
            ("widening", w_gain, wide_varied),
        )
        if varied
    ]
    answer, quoted = _answer(tried, opts["match_params"])
    if quoted:
        small = max(abs(gain) for gain in quoted) <= 2 * noise
        answer += (
            f" ({main}, seed std up to {acc(noise)}"
            + ("; differences this small are noise" if small else "")
            + ")"
        )
    answer += "."
    if broken and deep_varied:
        answer += (
            f" Depth also has a cost width does not: with {words_list(broken)} the deep "
            "nets did not train at all."
        )
    lines += [answer, "", "Figures: " + ", ".join(f"`{n}`" for n in FIGURES), ""]
    return "\n".join(lines), f


# -- figures -----------------------------------------------------------------------------------
def plot(res: SweepResults, out: Path) -> list[Path]:
    """Heatmap per variant, metrics against depth, learning curves and per-layer statistics."""
    opts = res.options
    cells = [_cell(g) for g in res.groups]
    depths, cols = opts["depths"], opts["columns"]
    grids, notes = {}, {}
    for v in opts["variants"]:
        grid = np.full((len(depths), len(cols)), np.nan)
        ann = [["" for _ in cols] for _ in depths]
        for c in cells:
            if c["variant"] != v or c["acc"] is None:
                continue
            i, j = depths.index(c["depth"]), cols.index(c["column"])
            grid[i, j] = c["acc"]
            ann[i][j] = (
                f"{c['acc']:.3f}\n±{c['std']:.3f}\nw={c['width']}"
                if opts["match_params"]
                else f"{c['acc']:.3f}\n±{c['std']:.3f}"
            )
        grids[v], notes[v] = grid, ann
    paths = [
        save_figure(
            plot_heatmaps(
                grids,
                notes,
                row_labels=[str(d) for d in depths],
                col_labels=cols,
                xlabel="parameter budget"
                if opts["match_params"]
                else "width (units per hidden layer)",
                ylabel="depth (hidden layers)",
                colorbar_label="test accuracy",
                suptitle=f"Test accuracy by depth and width ({over_seeds(len(opts['seeds']))})",
            ),
            out / FIGURES[0],
        )
    ]

    def line(v: str, col: str, key: str, scale: float = 1.0) -> Series:
        sel = sorted(
            (c for c in cells if c["variant"] == v and c["column"] == col), key=lambda c: c["depth"]
        )
        groups = {g["group"]: g for g in res.groups}
        stds = [
            group_metric(
                groups[f"{v}, depth {c['depth']} x width {c['width']}"],
                {
                    "acc": "final.test_acc",
                    "gap": "final.gap",
                    "s_per_epoch": "timing.seconds_per_epoch",
                }[key],
                "std",
            )
            for c in sel
        ]
        return Series(
            f"{v}, {col}",
            [c["depth"] for c in sel],
            [None if c[key] is None else c[key] * scale for c in sel],
            [None if s is None else s * scale for s in stds],
        )

    combos = [(v, col) for v in opts["variants"] for col in cols]
    panels = [
        Panel(
            "Test accuracy",
            "depth (hidden layers)",
            "test accuracy",
            [line(v, c, "acc") for v, c in combos],
            hline=(opts["chance"], "chance"),
        ),
        Panel(
            "Generalisation gap",
            "depth (hidden layers)",
            "train - test accuracy",
            [line(v, c, "gap") for v, c in combos],
        ),
        Panel(
            "Training time",
            "depth (hidden layers)",
            "seconds per epoch",
            [line(v, c, "s_per_epoch") for v, c in combos],
        ),
    ]
    for p in panels:
        p.integer_x = True
        for s in p.series:
            s.style = "-o"
    paths.append(
        save_figure(
            plot_panels(panels, "Accuracy, gap and time against depth (mean ± std over seeds)"),
            out / FIGURES[1],
        )
    )

    widest = cols[-1]
    curve_panels = []
    for v in opts["variants"]:
        series = []
        for d in depths:
            trials = [
                t
                for t in res.trials
                if t["tags"]["variant"] == v
                and t["tags"]["depth"] == d
                and t["tags"]["column"] == widest
            ]
            if trials:
                xs, ys = mean_curve(trials, "epochs", "test_acc")
                series.append(Series(f"depth {d}", xs, ys, style="-"))
        curve_panels.append(
            Panel(
                f"{v}, {widest}",
                "epochs",
                "test accuracy (eval subsample)",
                series,
                hline=(opts["chance"], "chance"),
            )
        )
    paths.append(
        save_figure(
            plot_panels(curve_panels, "Learning curves by depth (mean over seeds)"),
            out / FIGURES[2],
        )
    )
    layer_fig = _layers_figure(res, depths[-1], widest)
    if layer_fig is not None:
        paths.append(save_figure(layer_fig, out / FIGURES[3]))
    return paths


def _layers_figure(res: SweepResults, depth: int, column: str) -> Any:
    grad, act = [], []
    for v in res.options["variants"]:
        trials = [
            t
            for t in res.trials
            if t["tags"]["variant"] == v
            and t["tags"]["depth"] == depth
            and t["tags"]["column"] == column
            and t.get("layer_stats")
        ]
        if not trials:
            continue
        for when, style in (("init", "--o"), ("final", "-o")):
            g = np.array(
                [
                    [np.nan if x is None else x for x in t["layer_stats"][when]["grad_rms"]]
                    for t in trials
                ]
            )
            a = np.array(
                [
                    [np.nan if x is None else x for x in t["layer_stats"][when]["act_std"]]
                    for t in trials
                ]
            )
            label = f"{v}, {'at init' if when == 'init' else 'trained'}"
            grad.append(
                Series(
                    label, list(range(1, g.shape[1] + 1)), list(np.nanmean(g, axis=0)), style=style
                )
            )
            act.append(
                Series(
                    label, list(range(1, a.shape[1] + 1)), list(np.nanmean(a, axis=0)), style=style
                )
            )
    if not grad:
        return None
    panels = [
        Panel(
            "Gradient size per layer",
            "weight layer (1 = next to the input)",
            "RMS of dLoss/dW (log scale)",
            grad,
            logy=True,
        ),
        Panel("Activation spread per layer", "hidden layer", "std of activations", act),
    ]
    for p in panels:
        p.integer_x = True
    return plot_panels(
        panels,
        f"Vanishing gradients: depth {depth}, {column} "
        "(fixed batch of 1000 training images, mean over seeds)",
    )
