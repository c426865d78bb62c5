"""Sweeps: one engine (:mod:`.engine`), experiments as configurations of it.

* :mod:`.batch_size` — ``scratchdl sweep batch-size``
* :mod:`.depth_width` — ``scratchdl sweep depth-width``
* :mod:`.lr` — ``scratchdl sweep lr``

A new sweep is a module with an options dataclass and a ``build(options, data) -> Sweep``
function; the engine runs, resumes, parallelises and writes it.
"""

from __future__ import annotations

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
    "run_sweep",
    "run_trial",
]
