"""``scratchdl sweep batch-size``: how the mini-batch size (ch. 4.2.3) affects speed and accuracy.

The network and optimizer are ``scratchdl train``'s (784-50-10, ReLU, std 0.01, SGD lr 0.1);
one trial per batch size and seed, compared at three checkpoints of the same run:

* **equal epochs**: the budget (``--epochs``, default 2; with ``--iters N``, the epochs the
  smallest batch makes in N updates);
* **equal updates**: ``--updates`` (default: what the largest batch makes in the budget, so it
  falls inside every run's budget; with ``--iters N``, N);
* **equal time**: ``--budget-seconds`` of training. The one checkpoint that can outlast the
  budget: a run that finishes its epochs sooner trains on until it. Stopping it at its budget
  instead would pit a run that had stopped against runs still training, which is no equal-time
  race. The first printed line says so and the summary names how far each run went.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scratchdl._text import over_seeds, plural_epochs
from scratchdl.checks import check_positive, check_positive_int
from scratchdl.errors import ConfigError
from scratchdl.experiments.declare import (
    Budget,
    Group,
    NetOptions,
    declare,
    option,
    setup_values,
    verdict,
)
from scratchdl.experiments.declare import group_curves as curves
from scratchdl.experiments.engine import Column, Sweep, SweepResults
from scratchdl.experiments.summary import Summary, acc, group_metric, sig, words_list
from scratchdl.plots import save_figure
from scratchdl.plots.sweeps import Panel, Series, plot_panels
from scratchdl.train.trainer import iter_per_epoch
from scratchdl.train.verdict import noise_comparison

NAME = "batch-size"
HELP = "speed and accuracy against mini-batch size (ch. 4.2, 6)"
QUESTION = "How does mini-batch size affect speed and accuracy, and what size is right?"
BUDGET = Budget(epochs=2)
FIGURES = ("batch_accuracy.png", "batch_time.png", "batch_curves.png")
LR_SCALINGS = ("none", "linear", "sqrt")
CHECKS = {"epochs": "equal epochs", "updates": "equal updates", "time": "equal time"}


@dataclass(frozen=True)
class Options(NetOptions):
    """The batch sizes and the three checkpoints; the net is ``scratchdl train``'s."""

    values: tuple[int, ...] = option((1, 10, 32, 100, 1000, 10000), "batch sizes")
    updates: int | None = option(
        None, "equal-updates checkpoint (default: the updates the largest batch makes)"
    )
    budget_seconds: float = option(
        3.0, "equal-time checkpoint, seconds of training: runs done sooner train on until it"
    )
    lr: float | None = option(
        None, "learning rate at --lr-reference (default: the optimizer's, 0.1 for sgd)"
    )
    lr_scaling: str = option("none", "scale lr with batch / --lr-reference", choices=LR_SCALINGS)
    lr_reference: int = option(100, "batch size at which lr is --lr")
    batch_size: int = option(100, "set by --values", flag=False)


def scaled_lr(lr: float, batch: int, scaling: str, reference: int = 100) -> float:
    """Learning rate for ``batch``: ``lr`` at ``reference``, scaled linearly, by sqrt, or not."""
    factors = {"none": 1.0, "linear": batch / reference, "sqrt": math.sqrt(batch / reference)}
    if scaling not in factors:
        raise ConfigError(f"--lr-scaling must be one of {', '.join(LR_SCALINGS)}, got {scaling!r}")
    return lr * factors[scaling]


def build(opts: Options, data: dict[str, Any]) -> Sweep:
    if opts.updates is not None:
        check_positive_int(opts.updates, "--updates")
    check_positive_int(opts.lr_reference, "--lr-reference")
    check_positive(opts.budget_seconds, "--budget-seconds")
    budget, values, n = opts.budget(BUDGET), sorted(opts.values), int(data["n_train"])
    if not values:
        raise ConfigError("--values needs at least one batch size")
    if budget.epochs is not None:  # the Trainer's epochs: n // batch updates each
        epochs, made = budget.epochs, math.ceil(budget.epochs * iter_per_epoch(n, values[-1]))
    else:
        epochs, made = budget.updates / iter_per_epoch(n, values[0]), budget.updates
    updates = opts.updates or made
    checks = {"epochs": {"epochs": epochs}, "updates": {"updates": updates}}
    checks["time"] = {"seconds": float(opts.budget_seconds)}
    beyond = f"runs also train until {sig(opts.budget_seconds)} s of training (equal time)"
    if updates > made:
        beyond += f" and {updates} updates (equal updates)"
    beyond += f", past their budget of {budget.text} if they finish it sooner"
    opts = replace(opts, lr=opts.train().lr)  # recorded: the lr at --lr-reference
    groups = []
    for b in values:
        lr = scaled_lr(opts.lr, b, opts.lr_scaling, opts.lr_reference)
        tags = {"batch_size": b, "lr": lr}
        groups.append(Group(f"batch {b}", tags, opts.train(batch_size=b, lr=lr)))
    return declare(
        *(NAME, QUESTION, opts, data, groups, budget, summarize, plot),
        extra_checkpoints=checks,
        beyond_budget=beyond,
        columns=COLUMNS,
    )


COLUMNS = (
    Column("lr", lambda r: sig(r["train"]["lr"])),
    *(Column(f"acc@{c}", lambda r, c=c: acc(r["results"][c]["test_acc"])) for c in CHECKS),
    Column("ms/update", lambda r: sig(1e3 * (r["timing"]["seconds_per_update"] or 0))),
    Column("epochs run", lambda r: sig(r["epochs"])),
    Column("status", lambda r: r["status"], justify="left"),
)


def _row(g: dict[str, Any]) -> dict[str, Any]:
    """One batch size's named numbers: seed aggregates (mean, std, n) and means."""
    m = g["metrics"]
    t = m["timing.seconds_per_update"]
    return {
        "batch": g["tags"]["batch_size"],
        "lr": g["tags"]["lr"],
        "ms": {k: 1e3 * t[k] if k != "n" else t[k] for k in t},
        "s_epoch": m["timing.seconds_per_epoch"],
        "trained": m["final.epochs"]["mean"],
        "longer": m["final.updates"]["mean"] > m["results.final.updates"]["mean"],
        "more_updates": m["results.updates.updates"]["mean"] > m["results.final.updates"]["mean"],
        **{c: m[f"results.{c}.test_acc"] for c in CHECKS},
    }


def _best(rows: list[dict[str, Any]], key: str, lowest: bool = False) -> dict[str, Any]:
    """The batch with the best mean ``key``, the runner-up, and which are within the seed
    noise of it (mean ± std intervals overlap: :func:`noise_comparison`)."""
    order = sorted(rows, key=lambda r: r[key]["mean"] * (1 if lowest else -1))
    top, rest = order[0], order[1:]
    tied = [r for r in rest if noise_comparison(r[key], top[key]) == "within noise"]
    return {
        "batch": top["batch"],
        "value": top[key],
        "next": rest[0]["batch"] if rest else None,
        "next_value": rest[0][key] if rest else None,
        "tied": [f"batch {r['batch']}" for r in tied],
        "ratio": order[-1][key]["mean"] / top[key]["mean"],
        "last": order[-1]["batch"],
        "last_value": order[-1][key],
        "one_seed": top[key]["n"] < 2,
    }


def _tied(b: dict[str, Any], of: str = "") -> str:
    """``"; {tied:list} is within the seed noise<of>."`` (``are`` for more than one)."""
    verb = "is" if len(b["tied"]) == 1 else "are"
    return f"; {{tied:list}} {verb} within the seed noise{of}."


def _noise(b: dict[str, Any]) -> str:
    """What the seed noise lets the summary say of the runner-up (one seed: said once)."""
    if b["next"] is None:
        return "."
    if b["one_seed"]:
        return "; the next was batch {next} ({next_value:pm}), and with one seed whether they differ is unknown."
    if b["tied"]:
        return _tied(b)
    return "; the next, batch {next} ({next_value:pm}), is lower by more than the seed noise."


def summarize(res: SweepResults) -> tuple[str, dict[str, Any]]:
    """Speed per update and per epoch, then accuracy at the three checkpoints."""
    o, s = res.options, Summary(res, "Batch size: speed and accuracy")
    rows = [_row(g) for g in res.groups]
    cp = o["checkpoints"]
    marks = {"epochs": cp["epochs"]["epochs"], "updates": cp["updates"]["updates"]}
    marks["seconds"] = cp["time"]["seconds"]
    scaled = "" if o["lr_scaling"] == "none" else " at batch {reference}, scaled {scaling}"
    s.say(
        "Setup: hidden layers {hidden}, {activation} with init {init}, {optimizer} with lr "
        "{lr}" + scaled + "; {budget} per run, {seeds} per batch size. Test accuracy "
        "on the full test set (mean ± std over seeds); times count training only (evaluation "
        "excluded), one BLAS thread per run, on this machine.",
        reference=o["lr_reference"],
        scaling=o["lr_scaling"],
        **setup_values(o),
    )
    longer = [r for r in rows if r["longer"]]
    s.say(
        "Besides the budget of {budget}, runs trained on until {seconds} s of training for the "
        "equal-time comparison"
        + (
            " and {updates} updates for the equal-updates one"
            if any(r["more_updates"] for r in rows)
            else ""
        )
        + ": {trained:list}."
        if longer
        else "Every run reached all three checkpoints below within its {budget}.",
        trained=[f"batch {r['batch']} trained {plural_epochs(sig(r['trained']))}" for r in longer],
        trained_epochs=[r["trained"] for r in longer],
        **marks,
    )
    if len(rows) == 1:
        s.say(
            "Batch {batch} took {ms:sig} ms per update and {s_epoch:sig} s per epoch; in "
            "{budget} it reached {epochs:pm} test accuracy. Only one batch size was run, so "
            "there is nothing to compare: give two or more --values.",
            **{**rows[0], "ms": rows[0]["ms"]["mean"], "s_epoch": rows[0]["s_epoch"]["mean"]},
        )
        return s.done(FIGURES)
    s.heading("Speed")
    for key, what, unit in (("ms", "update", "ms"), ("s_epoch", "epoch", "s")):
        fast = _best(rows, key, lowest=True)
        s.bullet(
            f"Per {what} (runs of {{budget}} or more), batch {{batch}} was the fastest "
            f"({{value:sig}} {unit}) and batch {{last}} the slowest ({{last_value:sig}} {unit}, "
            "{ratio:x}× longer)" + (_tied(fast, " of the fastest") if fast["tied"] else "."),
            **{**fast, "value": fast["value"]["mean"], "last_value": fast["last_value"]["mean"]},
        )
    ranked = [r for r, g in zip(rows, res.groups, strict=True) if not g["diverged"]]
    left_out = " (batch sizes that diverged left out)" if len(ranked) < len(rows) else ""
    s.heading("Accuracy: three fair comparisons" + left_out)
    marks["at_epochs"] = plural_epochs(sig(marks["epochs"]))
    where = {
        "epochs": "{budget}, the budget"
        if o["budget"]["epochs"]
        else "{at_epochs}; budget {budget}",
        "updates": "{updates} updates; budget {budget}",
        "time": "{seconds} s of training; budget {budget}",
    }
    best = {c: _best(ranked, c) for c in CHECKS} if len(ranked) > 1 else {}
    for c, title in CHECKS.items() if best else ():
        s.bullet(
            f"**{title.capitalize()}** ({where[c]}): batch {{batch}} reached the highest mean "
            "test accuracy, {value:pm}" + _noise(best[c]),
            **best[c],
            **marks,
        )
    for g, r in zip(res.groups, rows, strict=True):
        v = verdict(res, g)
        if v.kind != "learned":
            s.bullet(
                "Batch {batch} (lr {lr}) " + v.phrase + "; test accuracy {epochs:pm} (chance "
                "{chance:acc})"
                + ("; {diverged} of {seeds} seeds diverged" if g["diverged"] else "")
                + (
                    ""
                    if v.kind == "diverged" or not g["diverged"]
                    else " after the budget, training on to a later checkpoint"
                )
                + ".",
                **r,
                chance=o["chance"],
                diverged=g["diverged"],
                seeds=len(g["seeds"]),
            )
    s.heading("Answer")
    if not best:
        s.say("Fewer than two batch sizes trained without diverging in {budget}: nothing to rank.")
        return s.done(FIGURES)
    picks = {
        c: f"batch {b['batch']}"
        + (f" (or {words_list(b['tied'])}, within the seed noise)" if b["tied"] else "")
        for c, b in best.items()
    }
    s.say(
        "Batch {batch} reached the highest test accuracy whichever way you count: at "
        "{at_epochs}, at {updates} updates and at {seconds} s of training (budget {budget})."
        if len(set(picks.values())) == 1 and not best["time"]["tied"]
        else '"It depends" is really "it depends on what you hold fixed": the highest test '
        "accuracy at equal epochs (" + where["epochs"] + ") went to {at_epochs_pick}, at "
        "equal updates ({updates}) to {at_updates_pick}, at equal time ({seconds} s of "
        "training) to {at_time_pick}. When compute time is what you pay for, the equal-time "
        "comparison is the one that matters: on this machine it points to {at_time_pick}.",
        batch=best["time"]["batch"],
        **{f"at_{c}_pick": p for c, p in picks.items()},
        **marks,
    )
    if best["time"]["one_seed"]:
        s.say(
            "With one seed per batch size the seed noise is unknown: run two or more --seeds "
            "before trusting differences of a few thousandths (in {budget})."
        )
    s.heading("All batch sizes")
    s.table(
        ["batch", "lr", "ms/update", "s/epoch", "epochs trained"]
        + [f"test acc, {t}" for t in CHECKS.values()],
        "{batch} | {lr} | {ms:sig} | {s_epoch:sig} | {trained} | {epochs:pm} | {updates:pm} | "
        "{time:pm}",
        [{**r, "ms": r["ms"]["mean"], "s_epoch": r["s_epoch"]["mean"]} for r in rows],
    )
    return s.done(FIGURES)


def plot(res: SweepResults, out: Path) -> list[Path]:
    """Accuracy and speed against batch size (log x, error bars); learning curves."""
    xs = [g["tags"]["batch_size"] for g in res.groups]

    def series(path: str, label: str = "", scale: float = 1.0) -> Series:
        def get(field: str) -> list[float | None]:
            values = [group_metric(g, path, field) for g in res.groups]
            return [None if v is None else v * scale for v in values]

        return Series(label, xs, get("mean"), get("std"))

    o = res.options
    labels = {
        "epochs": f"equal epochs ({sig(o['checkpoints']['epochs']['epochs'])})",
        "updates": f"equal updates ({o['checkpoints']['updates']['updates']})",
        "time": f"equal time ({sig(o['checkpoints']['time']['seconds'])} s)",
    }
    accuracy = [
        Panel(
            f"{name.capitalize()} accuracy",
            "batch size",
            f"{name} accuracy (full {name} set)",
            [series(f"results.{c}.{name}_acc", label) for c, label in labels.items()],
            logx=True,
        )
        for name in ("test", "train")
    ]
    speed = [
        Panel(title, "batch size", ylabel, [series(path, scale=scale)], logx=True, logy=True)
        for title, ylabel, path, scale in (
            ("Time per update", "milliseconds per update", "timing.seconds_per_update", 1e3),
            ("Time per epoch", "seconds per epoch", "timing.seconds_per_epoch", 1.0),
            ("Throughput", "training samples per second", "timing.samples_per_second", 1.0),
        )
    ]
    learning = [
        Panel(
            f"Test accuracy against {x}",
            xlabel,
            "test accuracy (eval subsample)",
            curves(res, x, "test_acc", skip_first=x == "updates"),
            logx=x == "updates",
        )
        for x, xlabel in (
            ("epochs", "epochs (as the Trainer counts them)"),
            ("updates", "updates"),
            ("seconds", "training seconds"),
        )
    ]
    spread = over_seeds(len(o["seeds"]))
    figures = (
        (accuracy, f"Accuracy against batch size ({spread})"),
        (speed, "Training speed against batch size (one BLAS thread, evaluation excluded)"),
        (learning, "Learning curves by batch size (mean over seeds)"),
    )
    return [
        save_figure(plot_panels(panels, title), out / name)
        for (panels, title), name in zip(figures, FIGURES, strict=True)
    ]
