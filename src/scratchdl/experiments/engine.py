"""The sweep engine: run a plan of trials (in parallel, resumably) and write the results.

A :class:`Sweep` is a configuration of this engine: a list of :class:`~.trial.TrialSpec` plus
three functions that know the question being asked — which columns to show while it runs,
what to conclude (:attr:`Sweep.summarize`) and what to draw (:attr:`Sweep.plot`). The engine
knows nothing about batch sizes or depths.

Output folder::

    DIR/trials/<key>.json   one finished trial, written atomically as soon as it ends
    DIR/results.json        the plan's trials, per-group aggregates (mean ± std over seeds)
                            and the numbers the summary quotes ("findings")
    DIR/results.csv         one row per trial: config, seed and scalar metrics
    DIR/summary.md          the data-driven answer
    DIR/*.png               figures

Resuming: a trial whose ``trials/<key>.json`` exists is loaded instead of run; the key hashes
everything that affects the trial's metrics, so changing any option re-runs only the trials it
changes. ``results.json``/``.csv`` are rebuilt from the trial files every time.

Parallelism: with ``jobs >= 1`` trials run in ``jobs`` spawned worker processes whose BLAS is
limited to one thread (``OPENBLAS_NUM_THREADS`` and friends are set in the parent's environment
while the workers start, before they import NumPy), so ``--jobs 2`` on two cores does not run
four threads, and per-update timings are comparable whatever ``--jobs`` is. ``jobs=0`` runs in
the calling process (for debugging and tests).
With ``executor="dask://HOST:PORT"`` the trials run on a Dask cluster instead, through the same
worker function (:mod:`~scratchdl.experiments.executors`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratchdl._fs import atomic_write_text
from scratchdl.errors import ConfigError
from scratchdl.experiments.data import Dataset, DataSource, MnistSource
from scratchdl.experiments.executors import DaskCluster, worker_trial
from scratchdl.experiments.trial import TrialSpec, run_trial
from scratchdl.train._blas import BLAS_THREAD_VARS

__all__ = [
    "BLAS_THREAD_VARS",
    "Column",
    "Sweep",
    "SweepResults",
    "aggregate",
    "describe_data",
    "flatten_row",
    "load_source",
    "run_sweep",
]

RESULTS_FORMAT = 1
#: Scalar per-trial metrics, by dotted path into a trial result, written to CSV and aggregated.
TIMING_METRICS = (
    "timing.seconds_per_update",
    "timing.seconds_per_epoch",
    "timing.samples_per_second",
    "train_seconds",
)
CHECKPOINT_METRICS = (
    "train_acc",
    "test_acc",
    "val_acc",
    "train_loss",
    "test_loss",
    "val_loss",
    "gap",
    "updates",
    "epochs",
    "seconds",
)


@dataclass(frozen=True)
class Column:
    """One column of the live table: header and a function of a trial result to text."""

    header: str
    render: Callable[[Mapping[str, Any]], str]
    justify: str = "right"


@dataclass
class SweepResults:
    """What :attr:`Sweep.summarize` and :attr:`Sweep.plot` receive.

    ``trials`` are the plan's trial results in plan order; ``groups`` their aggregates by group
    (see :func:`aggregate`), in order of first appearance.
    """

    sweep: str
    options: Mapping[str, Any]
    trials: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    data: Mapping[str, Any] = field(default_factory=dict)
    question: str = ""
    #: The text of ``summary.md`` once written.
    summary: str = ""

    def group(self, name: str) -> dict[str, Any]:
        for g in self.groups:
            if g["group"] == name:
                return g
        raise KeyError(name)


@dataclass(frozen=True)
class Sweep:
    """One experiment: a plan of trials and how to read them.

    Attributes
    ----------
    name : str
        Command name (``"batch-size"``).
    question : str
        The question the summary answers, first line of ``summary.md``.
    trials : sequence of TrialSpec
    options : mapping
        The options that built the plan (recorded in ``results.json``).
    columns : sequence of Column
        Live table columns after ``group`` and ``seed``.
    summarize : callable
        ``summarize(results) -> (markdown, findings)``; every number in the markdown must come
        from ``findings`` (stored in ``results.json``) or from the aggregates.
    plot : callable
        ``plot(results, out_dir) -> list of written PNG paths``.
    then : callable, optional
        A second stage: ``then(results of trials) -> more trials``, whose settings come from the
        first stage's results (e.g. re-running a search's best values on the full data). The
        engine runs ``trials``, writes their outputs, then runs the trials ``then`` returns;
        ``results.json`` holds both stages, and resuming re-runs neither stage's finished trials.
    then_trials : int
        How many trials ``then`` adds (for progress counts).
    """

    name: str
    question: str
    trials: Sequence[TrialSpec]
    options: Mapping[str, Any]
    columns: Sequence[Column]
    summarize: Callable[[SweepResults], tuple[str, dict[str, Any]]]
    plot: Callable[[SweepResults, Path], list[Path]]
    then: Callable[[SweepResults], Sequence[TrialSpec]] | None = None
    then_trials: int = 0


# -- aggregation -------------------------------------------------------------------------------
def _get(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _metric_paths(row: Mapping[str, Any]) -> list[str]:
    # A trial measures on the test set or on a validation split, never both.
    names = [m for m in CHECKPOINT_METRICS if m in row.get("final", {})]
    paths = [f"results.{name}.{m}" for name in sorted(row.get("results", {})) for m in names]
    return paths + [f"final.{m}" for m in names] + list(TIMING_METRICS) + ["params"]


def mean_std(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and sample std (ddof=1, 0 for one value) of the finite values; None if none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(finite) / len(finite)
    var = sum((v - mean) ** 2 for v in finite) / (len(finite) - 1) if len(finite) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "n": len(finite)}


def aggregate(trials: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group trial results by ``group`` and give each scalar metric's mean ± std over seeds.

    Each group: ``group``, ``tags``, ``train``, ``seeds``, ``diverged`` (how many seeds
    diverged) and ``metrics``: ``{dotted.path: {"mean", "std", "n"}}``.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in trials:
        groups.setdefault(row["group"], []).append(row)
    out = []
    for name, rows in groups.items():
        metrics = {p: mean_std([_get(r, p) for r in rows]) for p in _metric_paths(rows[0])}
        out.append(
            {
                "group": name,
                "tags": dict(rows[0]["tags"]),
                "train": dict(rows[0]["train"]),
                "seeds": [r["seed"] for r in rows],
                "diverged": sum(r["status"] == "diverged" for r in rows),
                "metrics": metrics,
            }
        )
    return out


def flatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row: identity, tags, training settings, seed and every scalar metric."""
    flat = {k: row[k] for k in ("key", "sweep", "group", "seed", "status")}
    flat |= {f"tag.{k}": v for k, v in row["tags"].items()}
    for k, v in row["train"].items():
        flat[f"train.{k}"] = "-".join(map(str, v)) if isinstance(v, (list, tuple)) else v
    return flat | {p: _get(row, p) for p in _metric_paths(row)}


def _csv_text(trials: Sequence[Mapping[str, Any]]) -> str:
    rows = [flatten_row(r) for r in trials]
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))  # in order of first appearance
    writer = csv.DictWriter(buf, fields, lineterminator="\n")  # None or missing: an empty cell
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# -- execution ---------------------------------------------------------------------------------
@contextlib.contextmanager
def single_thread_blas_env() -> Iterator[None]:
    """Set the BLAS thread variables to 1 in ``os.environ`` for the block, then restore them.

    Processes *spawned* inside the block inherit them and read them when NumPy loads.
    """
    saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARS}
    os.environ.update({k: "1" for k in BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_source(source: DataSource) -> Dataset:
    """Load ``source`` in this process (downloading MNIST if it is missing)."""
    return source.prepare() if isinstance(source, MnistSource) else source.load()


def describe_data(source: DataSource, data: Dataset) -> dict[str, Any]:
    """What ``results.json`` records about the data set (and what sweeps build plans from)."""
    return {
        "name": source.ident,
        "n_train": int(data.x_train.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "features": int(data.x_train.shape[1]),
        "classes": data.n_classes,
    }


def _trial_path(out_dir: Path, key: str) -> Path:
    return out_dir / "trials" / f"{key}.json"


def _load_finished(path: Path, spec: TrialSpec) -> dict[str, Any] | None:
    """A stored result for ``spec``, or None if missing or unreadable (then it is re-run)."""
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(row, dict) or row.get("key") != spec.key or "final" not in row:
        return None
    planned = spec.to_dict()
    if row.get("status") not in ("completed", "diverged") or not _measured(
        # Text by design: its status (checked above), where it ran (a Dask worker's address).
        {k: v for k, v in row.items() if k not in planned and k not in ("status", "process")}
    ):
        return None  # an edited or damaged file: its numbers cannot be trusted
    # The plan's own fields (the key is their hash), with labels and tags that may be renamed
    # without re-running.
    return {**row, **planned}


def _measured(value: Any) -> bool:
    """Whether a stored trial's measurements are all numbers (finite), booleans or None, in
    dicts and lists: a text where a number belongs means the file was edited or damaged."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, (dict, list)):
        return all(map(_measured, value.values() if isinstance(value, dict) else value))
    return False


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, allow_nan=False) + "\n"


def run_sweep(
    sweep: Sweep,
    out_dir: str | os.PathLike[str],
    *,
    source: DataSource,
    data: Dataset | None = None,
    jobs: int = 1,
    on_trial: Callable[[dict[str, Any], bool], None] | None = None,
    figures: bool = True,
    executor: Any = "local",
) -> SweepResults:
    """Run every trial of ``sweep`` that has no stored result, then write the outputs.

    Parameters
    ----------
    sweep : Sweep
    out_dir : path
    source : DataSource
        Where trials get their data; MNIST is loaded once here first so a missing data set is
        reported before any worker starts.
    data : Dataset, optional
        ``source``'s data if the caller already loaded it (saves loading it twice).
    jobs : int
        Worker processes (0: run in this process).
    on_trial : callable, optional
        ``on_trial(result, cached)`` after each trial (for the live table).
    figures : bool
        Draw the PNG figures (False skips them, e.g. in tests of the engine alone).
    executor : str or DaskCluster
        ``"local"`` (``jobs`` processes here) or ``"dask://HOST:PORT"``, a Dask scheduler to
        send the trials to, or a connected :class:`~.executors.DaskCluster` (``jobs`` is then
        unused). Trials that fail there raise :class:`~.executors.TrialsFailedError` after the
        others finished.

    Returns
    -------
    SweepResults
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        raise ConfigError(f"jobs must be a whole number >= 0, got {jobs!r}")
    if executor != "local":
        cluster = DaskCluster(executor) if isinstance(executor, str) else executor
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if sweep.then is not None:
        # The first stage is a sweep of its own (outputs written: an interrupted second stage
        # leaves them); then the whole plan runs, finding the first stage's trials on disk.
        if data is None:
            data = load_source(source)
        first = dataclasses.replace(sweep, then=None, then_trials=0)
        stage1 = run_sweep(
            first,
            out,
            source=source,
            data=data,
            jobs=jobs,
            on_trial=on_trial,
            figures=False,
            executor=executor,
        )
        shown = {s.key for s in first.trials}
        sweep = dataclasses.replace(first, trials=[*first.trials, *sweep.then(stage1)])
        if on_trial is not None:
            report = on_trial

            def on_trial(row: dict[str, Any], cached: bool) -> None:
                if row["key"] not in shown:
                    report(row, cached)

    keys = [s.key for s in sweep.trials]
    if len(set(keys)) != len(keys):
        raise ConfigError("the sweep lists the same trial twice: check for repeated values")

    done: dict[str, dict[str, Any]] = {}
    todo: list[TrialSpec] = []
    for spec in sweep.trials:
        row = _load_finished(_trial_path(out, spec.key), spec)
        if row is None:
            todo.append(spec)
        else:
            done[spec.key] = row
            if on_trial:
                on_trial(row, True)

    if data is None:
        data = load_source(source)
    data_info = describe_data(source, data)

    def finish(row: dict[str, Any]) -> None:
        atomic_write_text(_trial_path(out, row["key"]), _dump(row))
        done[row["key"]] = row
        if on_trial:
            on_trial(row, False)

    if todo and executor != "local":
        with contextlib.ExitStack() as stack:
            if cluster is not executor:  # connected here: closed here
                stack.enter_context(cluster)
            cluster.run(todo, source, finish)
    elif todo and jobs == 0:
        for spec in todo:
            finish(run_trial(spec, data))
    elif todo:
        _run_pool(todo, source, jobs, finish)

    trials = [done[k] for k in keys]
    results = SweepResults(
        sweep.name, dict(sweep.options), trials, aggregate(trials), data_info, sweep.question
    )
    # Where this run's trials ran: "local" with --jobs, or the Dask scheduler's address.
    where = executor if isinstance(executor, str) else getattr(executor, "address", "dask")
    _write_outputs(sweep, results, out, {"jobs": jobs, "executor": where}, figures)
    return results


def _run_pool(
    todo: Sequence[TrialSpec],
    source: DataSource,
    jobs: int,
    finish: Callable[[dict[str, Any]], None],
) -> None:
    # Ctrl-C reaches every process of the terminal's group: only the parent handles it.
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    try:
        # Every worker is spawned during these submits, so all of them see the variables.
        with single_thread_blas_env():
            futures: set[Future] = {pool.submit(worker_trial, spec, source) for spec in todo}
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for fut in finished:
                finish(fut.result())
    except BaseException:
        # Interrupted or failed: finished trials are on disk already; the running ones are
        # stopped now rather than awaited (a trial can take minutes), so the command exits.
        # The executor has no public way to stop a running task.
        for proc in list((pool._processes or {}).values()):
            proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


#: Seconds between a worker's checks that its sweep (parent process) is still alive.
PARENT_POLL_SECONDS = 0.5


def _worker_init(parent_pid: int) -> None:
    """Set up a sweep worker: it ignores Ctrl-C and never outlives its parent.

    Ctrl-C reaches every process of the terminal's group, and only the parent handles it.
    When the parent dies however it dies (SIGKILL included, which runs no cleanup), the worker
    must not train on for minutes: on Linux the kernel sends it SIGKILL at once
    (``PR_SET_PDEATHSIG``); everywhere, a daemon thread sees it re-parented and exits.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="scratchdl-parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(1)


def _write_outputs(
    sweep: Sweep, results: SweepResults, out: Path, ran: dict[str, Any], draw: bool
) -> None:
    text, findings = sweep.summarize(results)
    results.summary = text
    out.mkdir(parents=True, exist_ok=True)
    figures = sweep.plot(results, out) if draw else []
    payload = {
        "format": RESULTS_FORMAT,
        "sweep": sweep.name,
        "question": sweep.question,
        "options": dict(sweep.options),
        "data": dict(results.data),
        **ran,
        "findings": findings,
        "groups": results.groups,
        "figures": [p.name for p in figures],
        "trials": results.trials,
    }
    atomic_write_text(out / "results.json", _dump(payload))
    atomic_write_text(out / "results.csv", _csv_text(results.trials))
    atomic_write_text(out / "summary.md", text)
