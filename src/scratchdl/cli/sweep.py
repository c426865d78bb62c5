"""``scratchdl sweep NAME``: settle a question by running code.

Every sweep writes ``results.json``, ``results.csv``, PNG figures and ``summary.md`` into
``--out``, prints a table row per finished trial, runs trials in ``--jobs`` worker processes and
skips trials already finished in ``--out`` (see :mod:`scratchdl.experiments.engine`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any

from scratchdl.cli._options import add_data_dir

_COMMON_HELP = {
    "jobs": "worker processes, each with one BLAS thread (default: 1)",
    "executor": "where the trials run: 'local' (--jobs processes here) or dask://HOST:PORT, "
    'a Dask scheduler whose workers run them (pip install "scratchdl[dask]"; start it with '
    "'dask scheduler' and workers with 'dask worker HOST:8786 --nthreads 1'; failed trials "
    "are retried, then named, and a re-run runs just those; see docs/dask.md) (default: local)",
    "out": "output folder; finished trials found there are not re-run",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run an experiment grid and answer its question with data",
        description="Run a sweep of training runs, in parallel and resumable, and write "
        "results.json/csv, figures and a data-driven summary.md.",
    )
    kinds = p.add_subparsers(dest="sweep", metavar="SWEEP", parser_class=type(p))
    kinds.required = True

    for module in _declared():
        _register_declared(kinds, module)


def _declared() -> list[Any]:
    import importlib

    from scratchdl.experiments import SWEEPS

    return [importlib.import_module(f"scratchdl.experiments.{m}") for m in SWEEPS]


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
    p.add_argument("--executor", default="local", metavar="WHERE", help=_COMMON_HELP["executor"])
    p.add_argument(
        "--out", default=default_out, help=_COMMON_HELP["out"] + f" (default: {default_out})"
    )
    p.add_argument("--dataset", default="mnist", help="mnist or fashion (default: mnist)")
    add_data_dir(p)


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
    from scratchdl.checks import check_positive_int

    if args.jobs is not None:
        check_positive_int(args.jobs, "--jobs")
    opts, build = args.options(args)
    # Plan once against a stand-in data description: every option is checked (lr, values,
    # variants, optimizer, ...) before MNIST is loaded, so a typo fails in milliseconds.
    build(opts, {"name": "check", "n_train": 2**62, "n_test": 1, "features": 784, "classes": 10})
    with contextlib.ExitStack() as stack:
        # One connection for the whole command; an unreachable scheduler fails here, before
        # MNIST is loaded.
        executor = _connect(args, stack)
        return _run_sweep(args, opts, build, executor)


def _run_sweep(args: argparse.Namespace, opts: Any, build: Any, executor: Any) -> int:
    from scratchdl.experiments.data import MnistSource
    from scratchdl.experiments.engine import describe_data, load_source, run_sweep
    from scratchdl.experiments.executors import TrialsFailedError

    where = f"{args.jobs} job(s)" if executor == "local" else executor.describe()
    source = MnistSource(
        args.dataset, args.data_dir if args.data_dir is None else os.fspath(args.data_dir)
    )
    data = load_source(source)
    sweep = build(opts, describe_data(source, data))
    total = len(sweep.trials) + sweep.then_trials
    printer = _RowPrinter(sweep, total)
    runs = f"{len(sweep.trials)} runs"
    budget = sweep.options.get("budget", {}).get("text")
    if budget:
        runs += f" of {budget}"
    if sweep.then_trials:  # a second stage planned from the first's results
        runs += f" + {sweep.then_trials} in a second stage"
    # A checkpoint that can outlast the budget is named before anything runs.
    beyond = sweep.options.get("beyond_budget")
    printer.console.print(
        f"[bold]sweep {sweep.name}[/]: {runs}, {where} -> {args.out}"
        + (f"; {beyond}" if beyond else "")
    )
    start = time.perf_counter()
    try:
        run_sweep(
            sweep,
            args.out,
            source=source,
            data=data,
            jobs=args.jobs,
            on_trial=printer,
            executor=executor,
        )
    except TrialsFailedError as exc:  # the sweep ran, some trials failed: not a usage error
        print(f"scratchdl sweep: error: {exc}", file=sys.stderr)
        return 1
    printer.console.print(
        f"done in {time.perf_counter() - start:.1f} s; wrote {args.out}/results.json, "
        f"results.csv, summary.md and the figures"
    )
    return 0


def _connect(args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    """``"local"``, or the Dask cluster of ``--executor``, connected for the block."""
    from scratchdl.experiments.executors import DaskCluster, parse_executor

    if parse_executor(args.executor, "--executor") is None:
        return "local"
    return stack.enter_context(DaskCluster(args.executor, "--executor"))
