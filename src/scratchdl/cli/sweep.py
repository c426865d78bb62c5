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
from pathlib import Path
from typing import Any

from scratchdl.cli._options import add_data_dir, add_flags, add_lang, options_from_args

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
    p = kinds.add_parser(
        module.NAME,
        help=module.HELP,
        description=module.QUESTION,
    )
    add_flags(p, module.Options, defaults_note=module.BUDGET.text)
    _add_engine_flags(p, default_out=f"sweep-{module.NAME}")
    p.set_defaults(
        func=_run, options=lambda args: (options_from_args(module.Options, args), module.build)
    )


def _add_engine_flags(p: argparse.ArgumentParser, *, default_out: str) -> None:
    """Where the trials run and where the results go (every sweep has these)."""
    p.add_argument("--jobs", type=int, default=1, help=_COMMON_HELP["jobs"])
    p.add_argument("--executor", default="local", metavar="WHERE", help=_COMMON_HELP["executor"])
    p.add_argument(
        "--out", default=default_out, help=_COMMON_HELP["out"] + f" (default: {default_out})"
    )
    p.add_argument("--dataset", default="mnist", help="mnist or fashion (default: mnist)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace another sweep's results in --out (its results, figures and trials); "
        "also run when the memory estimate exceeds what the machine has available",
    )
    add_data_dir(p)
    add_lang(p, "the figures and summary.md")


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

    check_positive_int(args.jobs, "--jobs")
    opts, build = args.options(args)
    # Plan once against a stand-in data description: every option is checked (lr, values,
    # variants, optimizer, ...) before MNIST is loaded, so a typo fails in milliseconds.
    build(opts, {"name": "check", "n_train": 2**62, "n_test": 1, "features": 784, "classes": 10})
    _check_folder(args.out, args.sweep, args.force)
    with contextlib.ExitStack() as stack:
        # One connection for the whole command; an unreachable scheduler fails here, before
        # MNIST is loaded.
        executor = _connect(args, stack)
        from scratchdl.plots.korean import language

        stack.enter_context(language(args.lang))
        return _run_sweep(args, opts, build, executor)


def _run_sweep(args: argparse.Namespace, opts: Any, build: Any, executor: Any) -> int:
    from scratchdl.experiments.data import MnistSource
    from scratchdl.experiments.engine import describe_data, load_source, run_sweep
    from scratchdl.experiments.executors import TrialsFailedError

    where = f"{args.jobs} job(s)" if executor == "local" else executor.describe()
    source = MnistSource(args.dataset, args.data_dir)
    data = load_source(source)
    sweep = build(opts, describe_data(source, data))
    if executor == "local":  # a Dask cluster's workers have their own memory
        _check_memory(sweep, describe_data(source, data), args)
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


def _check_memory(sweep: Any, data: dict[str, Any], args: argparse.Namespace) -> None:
    """Refuse a sweep whose --jobs workers cannot fit in this machine's memory."""
    from scratchdl.cli._resources import check_memory, sweep_estimate

    workers = max(min(args.jobs, len(sweep.trials)), 1)
    estimate, parts = sweep_estimate([t.train for t in sweep.trials], data, workers)
    fix = "use fewer --jobs or smaller networks or batches"
    check_memory(f"sweep {sweep.name}", estimate, parts, fix, args.force)


#: What a sweep writes into --out; figures are the ``*.png`` files beside them.
SWEEP_FILES = ("results.json", "results.csv", "summary.md", "trials")


def _folder_sweeps(out: Any) -> tuple[list[str], set[str]]:
    """The files of ``out`` that are not a sweep's, and the names of the sweeps it holds
    (from results.json and the trial files; ``"?"`` for one that cannot be read)."""
    import json

    out = Path(out)
    try:
        names = sorted(n for n in os.listdir(out) if not n.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return [], set()
    foreign = [n for n in names if n not in SWEEP_FILES and not n.endswith(".png")]
    found: set[str] = set()
    files = [out / "results.json"] if "results.json" in names else []
    if (out / "trials").is_dir():
        files += sorted((out / "trials").glob("*.json"))
    for path in files:
        try:
            found.add(str(json.loads(path.read_text(encoding="utf-8"))["sweep"]))
        except (OSError, ValueError, TypeError, KeyError):
            found.add("?")  # damaged: whose it is cannot be told
    if not found and any(n != "trials" for n in names if n in SWEEP_FILES or n.endswith(".png")):
        found.add("?")  # results.csv, summary.md or figures without results.json or trials
    return foreign, found


def _check_folder(out: Any, name: str, force: bool) -> None:
    """Refuse an --out that holds another sweep (unless ``force``: then its files are removed)
    or files that are not a sweep's; this sweep's own earlier run is resumed."""
    import shutil

    from scratchdl.cli._runfolder import RunFolderError

    foreign, found = _folder_sweeps(out)
    if foreign:
        raise RunFolderError(
            f"--out {out} holds files that are not a scratchdl sweep ({', '.join(foreign[:5])}): "
            "a sweep writes a whole folder, so choose a new or empty --out"
        )
    others = sorted(found - {name})
    if not others:
        return
    what = ", ".join("a damaged sweep" if o == "?" else f"sweep {o}" for o in others)
    if not force:
        raise RunFolderError(
            f"{out} holds the results of another sweep ({what}): pass --force to replace "
            "them, or choose another --out"
        )
    folder = Path(out)
    for entry in folder.iterdir():
        if entry.name == "trials" and entry.is_dir():
            shutil.rmtree(entry)
        elif entry.name in SWEEP_FILES or entry.name.endswith(".png"):
            entry.unlink()


def _connect(args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    """``"local"``, or the Dask cluster of ``--executor``, connected for the block."""
    from scratchdl.experiments.executors import DaskCluster, parse_executor

    if parse_executor(args.executor, "--executor") is None:
        return "local"
    return stack.enter_context(DaskCluster(args.executor, "--executor"))
