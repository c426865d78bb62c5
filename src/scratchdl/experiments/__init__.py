"""Sweeps: one engine (:mod:`.engine`), experiments declared on it (:mod:`.declare`).

Chapter 6's experiments: :mod:`.optimizer`, :mod:`.init`, :mod:`.batchnorm`, :mod:`.overfit`,
:mod:`.hyperparams`; the book's open questions: :mod:`.lr`, :mod:`.batch_size`,
:mod:`.depth_width`. Each is ``scratchdl sweep NAME`` on the command line and
``run("NAME", out, **options)`` here::

    from scratchdl.experiments import run
    res = run("optimizer", "sweep-optimizer", iters=500, seeds=(0,))
    print(res.summary)              # the summary.md text; the figures are in sweep-optimizer/

A new sweep is a module with ``NAME, HELP, QUESTION, BUDGET``, an ``Options`` dataclass (its
flags) and ``build(options, data) -> Sweep``, listed in :data:`SWEEPS`; ``lr.py`` is the model.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from scratchdl.errors import ConfigError
from scratchdl.experiments.data import ArraySource, Dataset, DataSource, MnistSource, as_source
from scratchdl.experiments.engine import Column, Sweep, SweepResults, run_sweep
from scratchdl.experiments.trial import TrialSpec, run_trial

__all__ = [
    "ArraySource",
    "Column",
    "DataSource",
    "Dataset",
    "MnistSource",
    "Sweep",
    "SweepResults",
    "TrialSpec",
    "as_source",
    "SWEEPS",
    "get_sweep",
    "run",
    "run_sweep",
    "run_trial",
]

#: Every sweep's module, in the order ``scratchdl sweep --help`` lists them.
SWEEPS = (
    "batch_size",
    "depth_width",
    "lr",
    "optimizer",
    "init",
    "batchnorm",
    "overfit",
    "hyperparams",
)


def get_sweep(name: str) -> ModuleType:
    """The module of sweep ``name`` (``"batch-size"`` or ``"batch_size"``)."""
    module = str(name).replace("-", "_")
    if module not in SWEEPS:
        known = ", ".join(m.replace("_", "-") for m in SWEEPS)
        raise ConfigError(f"unknown sweep {name!r}: use one of {known}")
    return importlib.import_module(f"scratchdl.experiments.{module}")


def run(
    name: str,
    out: str | os.PathLike[str],
    *,
    jobs: int = 1,
    executor: str = "local",
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    on_trial: Any = None,
    source: DataSource | None = None,
    **options: Any,
) -> SweepResults:
    """Run sweep ``name`` as ``scratchdl sweep NAME`` would, from Python (a notebook, a script).

    Parameters
    ----------
    name : str
        ``"optimizer"``, ``"init"``, ``"batchnorm"``, ``"overfit"``, ``"hyperparams"``, ``"lr"``,
        ``"batch-size"`` or ``"depth-width"``.
    out : path
        Output folder; finished trials found there are not re-run.
    jobs : int
        Worker processes (0: in this process).
    executor : str
        As ``--executor``: ``"local"`` or ``"dask://HOST:PORT"`` (a Dask cluster).
    dataset, data_dir : str
        As ``--dataset`` and ``--data-dir``.
    on_trial : callable, optional
        ``on_trial(result, cached)`` after each trial.
    source : DataSource, optional
        Other data than ``dataset`` (e.g. :class:`ArraySource` of your own arrays).
    **options
        The sweep's options, as its flags with ``_`` for ``-``: ``iters=500``, ``seeds=(0,)``.

    Returns
    -------
    SweepResults
        With ``.summary``, the text of ``out/summary.md``.
    """
    from scratchdl.experiments.engine import describe_data, load_source

    module = get_sweep(name)
    opts = module.Options(**options)
    if source is None:
        source = MnistSource(dataset, None if data_dir is None else os.fspath(data_dir))
    data = load_source(source)
    sweep = module.build(opts, describe_data(source, data))
    return run_sweep(
        sweep, out, source=source, data=data, jobs=jobs, on_trial=on_trial, executor=executor
    )
