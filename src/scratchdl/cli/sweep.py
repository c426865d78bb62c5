"""``scratchdl sweep NAME``: settle a question by running code.

Every sweep writes ``results.json``, ``results.csv``, PNG figures and ``summary.md`` into
``--out``, prints a table row per finished trial, runs trials in ``--jobs`` worker processes and
skips trials already finished in ``--out`` (see :mod:`scratchdl.experiments.engine`).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from scratchdl.cli._options import add_data_dir

_COMMON_HELP = {
    "seeds": "comma-separated seeds; accuracy is reported as mean ± std over them",
    "jobs": "worker processes, each with one BLAS thread (default: 1)",
    "out": "output folder; finished trials found there are not re-run",
}


def _add_common(p: argparse.ArgumentParser, *, seeds: str, default_out: str) -> None:
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs", type=float, help="train each run for this many epochs (default: 2)"
    )
    length.add_argument("--iters", type=int, help="train each run for this many updates instead")
    p.add_argument("--seeds", default=seeds, help=_COMMON_HELP["seeds"] + f" (default: {seeds})")
    p.add_argument("--jobs", type=int, default=1, help=_COMMON_HELP["jobs"])
    p.add_argument(
        "--out", default=default_out, help=_COMMON_HELP["out"] + f" (default: {default_out})"
    )
    p.add_argument(
        "--optimizer",
        default="sgd",
        help="sgd, momentum, nesterov, adagrad, rmsprop or adam (default: sgd)",
    )
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (default: 0)")
    p.add_argument(
        "--eval-samples",
        type=int,
        default=2000,
        help="training/test images per learning-curve point; checkpoints always use "
        "the full sets (default: 2000)",
    )
    p.add_argument("--dataset", default="mnist", help="mnist or fashion (default: mnist)")
    add_data_dir(p)


def register(sub: argparse._SubParsersAction) -> None:
    from scratchdl.choices import ACTIVATIONS

    p = sub.add_parser(
        "sweep",
        help="run an experiment grid and answer its question with data",
        description="Run a sweep of training runs, in parallel and resumable, and write "
        "results.json/csv, figures and a data-driven summary.md.",
    )
    kinds = p.add_subparsers(dest="sweep", metavar="SWEEP", parser_class=type(p))
    kinds.required = True

    b = kinds.add_parser(
        "batch-size",
        help="speed and accuracy against mini-batch size",
        description="Compare batch sizes at equal epochs, equal updates and equal training time.",
    )
    b.add_argument(
        "--values",
        default="1,10,32,100,1000,10000",
        help="batch sizes (default: 1,10,32,100,1000,10000)",
    )
    b.add_argument(
        "--updates",
        type=int,
        help="the equal-updates checkpoint (default: the "
        "updates the largest batch makes in --epochs)",
    )
    b.add_argument(
        "--budget-seconds",
        type=float,
        default=3.0,
        help="the equal-time checkpoint, seconds of training (default: 3)",
    )
    b.add_argument(
        "--lr", type=float, default=0.1, help="learning rate at --lr-reference (default: 0.1)"
    )
    b.add_argument(
        "--lr-scaling",
        choices=("none", "linear", "sqrt"),
        default="none",
        help="scale lr with batch/--lr-reference (default: none)",
    )
    b.add_argument(
        "--lr-reference",
        type=int,
        default=100,
        help="batch size at which lr is --lr (default: 100)",
    )
    b.add_argument("--hidden", default="50", help="hidden layer sizes (default: 50)")
    b.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    b.add_argument("--init", default="he", help="he, xavier or a std such as 0.01 (default: he)")
    _add_common(b, seeds="0,1,2", default_out="sweep-batch-size")
    b.set_defaults(func=_run, options=_batch_size)

    d = kinds.add_parser(
        "depth-width",
        help="accuracy, gap and time over depth x width",
        description="A grid of depths x widths for each activation+init "
        "variant; shows deep sigmoid nets with std 0.01 failing.",
    )
    d.add_argument("--depths", default="1,2,4", help="hidden-layer counts (default: 1,2,4)")
    d.add_argument("--widths", default="16,64,256", help="units per layer (default: 16,64,256)")
    d.add_argument(
        "--variants",
        default="sigmoid+0.01,sigmoid+xavier,relu+he",
        help="activation+init pairs (default: sigmoid+0.01,sigmoid+xavier,relu+he)",
    )
    d.add_argument(
        "--match-params",
        action="store_true",
        help="compare depths at equal parameter counts: each --widths value sets a "
        "budget (the shallowest net's size), deeper nets get narrower",
    )
    d.add_argument(
        "--no-layer-stats",
        action="store_true",
        help="skip the per-layer activation/gradient statistics",
    )
    d.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    d.add_argument("--batch-size", type=int, default=100, help="mini-batch size (default: 100)")
    _add_common(d, seeds="0,1", default_out="sweep-depth-width")
    d.set_defaults(func=_run, options=_depth_width)

    for module in _declared():
        _register_declared(kinds, module)


#: The sweeps declared with :mod:`scratchdl.experiments.declare`, in the order ``--help`` lists
#: them: each module has NAME, HELP, QUESTION, BUDGET, Options and build.
DECLARED = ("lr", "optimizer", "init", "batchnorm", "overfit", "hyperparams")


def _declared() -> list[Any]:
    import importlib

    return [importlib.import_module(f"scratchdl.experiments.{m}") for m in DECLARED]


def _register_declared(kinds: argparse._SubParsersAction, module: Any) -> None:
    from scratchdl.experiments.declare import add_flags

    p = kinds.add_parser(
        module.NAME,
        help=module.HELP,
        description=module.QUESTION,
    )
    add_flags(p, module.Options, defaults_note=module.BUDGET.text)
    _add_engine_flags(p, default_out=f"sweep-{module.NAME}")
    p.set_defaults(func=_run, options=lambda args: _declared_options(module, args))


def _declared_options(module: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    from scratchdl.experiments.declare import options_from_args

    return options_from_args(module.Options, args), module.build


def _add_engine_flags(p: argparse.ArgumentParser, *, default_out: str) -> None:
    """Where the trials run and where the results go (every sweep has these)."""
    p.add_argument("--jobs", type=int, default=1, help=_COMMON_HELP["jobs"])
    p.add_argument(
        "--out", default=default_out, help=_COMMON_HELP["out"] + f" (default: {default_out})"
    )
    p.add_argument("--dataset", default="mnist", help="mnist or fashion (default: mnist)")
    add_data_dir(p)


def _common(args: argparse.Namespace) -> dict[str, Any]:
    from scratchdl.experiments.config import check_positive, parse_int_list

    check_positive(args.eval_samples, "--eval-samples", integer=True)
    return {
        "epochs": args.epochs,
        "iters": args.iters,
        "seeds": parse_int_list(args.seeds, "--seeds", minimum=0),
        "optimizer": args.optimizer,
        "weight_decay": args.weight_decay,
        "eval_samples": args.eval_samples,
    }


def _init(text: str) -> float | str:
    from scratchdl.experiments.config import parse_variants

    return parse_variants(f"relu+{text}", "--init")[0].init


# Each options function checks every flag *before* the data set is loaded, and returns the
# sweep's options plus its build function.
def _batch_size(args: argparse.Namespace) -> tuple[Any, Any]:
    from scratchdl.experiments import batch_size
    from scratchdl.experiments.config import parse_int_list

    opts = batch_size.BatchSizeOptions(
        values=parse_int_list(args.values, "--values"),
        updates=args.updates,
        budget_seconds=args.budget_seconds,
        lr=args.lr,
        lr_scaling=args.lr_scaling,
        lr_reference=args.lr_reference,
        hidden=parse_int_list(args.hidden, "--hidden"),
        activation=args.activation,
        init=_init(args.init),
        **_common(args),
    )
    return opts, batch_size.build


def _depth_width(args: argparse.Namespace) -> tuple[Any, Any]:
    from scratchdl.experiments import depth_width
    from scratchdl.experiments.config import parse_int_list, parse_variants

    opts = depth_width.DepthWidthOptions(
        depths=parse_int_list(args.depths, "--depths"),
        widths=parse_int_list(args.widths, "--widths"),
        variants=parse_variants(args.variants),
        match_params=args.match_params,
        layer_stats=not args.no_layer_stats,
        lr=args.lr,
        batch_size=args.batch_size,
        **_common(args),
    )
    return opts, depth_width.build


class _RowPrinter:
    """Prints one table row per finished trial, as it finishes, with fixed column widths."""

    def __init__(self, sweep: Any, total: int) -> None:
        from rich.console import Console

        self.console = Console()
        if not self.console.is_terminal:  # piped to a file: no terminal width to respect
            self.console = Console(width=200)
        self.sweep = sweep
        self.total = total
        self.count = 0
        self.group_width = max(len(s.group) for s in sweep.trials)

    def __call__(self, row: dict[str, Any], cached: bool) -> None:
        from rich import box
        from rich.table import Table

        self.count += 1
        table = Table(
            box=box.SIMPLE_HEAD, show_header=self.count == 1, pad_edge=False, show_edge=False
        )
        table.add_column("#", justify="right", width=len(str(self.total)) * 2 + 1)
        table.add_column("run", width=self.group_width, no_wrap=True)
        table.add_column("seed", justify="right", width=4)
        cells = [f"{self.count}/{self.total}", row["group"], str(row["seed"])]
        for col in self.sweep.columns:
            table.add_column(
                col.header,
                justify=col.justify,
                no_wrap=True,
                width=max(len(col.header), 9 if col.header != "status" else 19),
            )
            text = col.render(row)
            if col.header == "status" and cached:
                text = f"{text} (cached)"
            cells.append(text)
        table.add_row(*cells)
        self.console.print(table)


def _run(args: argparse.Namespace) -> int:
    from scratchdl.experiments.config import check_positive
    from scratchdl.experiments.data import MnistSource
    from scratchdl.experiments.engine import describe_data, load_source, run_sweep

    check_positive(args.jobs, "--jobs", integer=True)
    opts, build = args.options(args)
    # Plan once against a stand-in data description: every option is checked (lr, values,
    # variants, optimizer, ...) before MNIST is loaded, so a typo fails in milliseconds.
    build(opts, {"name": "check", "n_train": 2**62, "n_test": 1, "features": 784, "classes": 10})
    source = MnistSource(
        args.dataset, args.data_dir if args.data_dir is None else os.fspath(args.data_dir)
    )
    data = load_source(source)
    sweep = build(opts, describe_data(source, data))
    total = len(sweep.trials) + sweep.then_trials
    printer = _RowPrinter(sweep, total)
    runs = f"{len(sweep.trials)} runs"
    if sweep.then_trials:  # a second stage planned from the first's results
        runs += f" + {sweep.then_trials} in a second stage"
    printer.console.print(f"[bold]sweep {sweep.name}[/]: {runs}, {args.jobs} job(s) -> {args.out}")
    start = time.perf_counter()
    run_sweep(sweep, args.out, source=source, data=data, jobs=args.jobs, on_trial=printer)
    printer.console.print(
        f"done in {time.perf_counter() - start:.1f} s; wrote {args.out}/results.json, "
        f"results.csv, summary.md and the figures"
    )
    return 0
