"""Shared by the sweep tests: tiny synthetic data and the summary-number check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from scratchdl.experiments.data import ArraySource, Dataset
from scratchdl.experiments.engine import describe_data
from scratchdl.experiments.trial import TIMING_DEPENDENT


def blobs(
    seed: int = 0, n_train: int = 400, n_test: int = 200, d: int = 16, spread: float = 0.8
) -> ArraySource:
    """Ten Gaussian clusters: learnable in a few epochs, tiny enough for fast tests."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (10, d))

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = rng.integers(0, 10, n)
        return (centers[t] + rng.normal(0, spread, (n, d))).astype(np.float32), t

    return ArraySource(Dataset(*make(n_train), *make(n_test)), name="blobs")


def info(source: ArraySource) -> dict:
    return describe_data(source, source.load())


def strip_timing(obj):
    """A trial result without the fields that depend on the machine's speed."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_DEPENDENT}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


#: A number as a summary prints it (not part of a word, a file name or a version).
NUMBER = re.compile(r"(?<![\w.:])\d+(?:\.\d+)?(?!\w)")


def numeric_leaves(obj) -> list[float]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in numeric_leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in numeric_leaves(v)]
    return []


def assert_summary_numbers_in_results(out: Path, minimum: int = 10) -> None:
    """Every number in ``out/summary.md`` is a value stored in ``out/results.json`` (its
    findings, options or data description), to the precision printed."""
    # The book's section numbers ("ch. 6.1.8") are references, not measurements.
    text = re.sub(r"\bch\. \d+(?:\.\d+)*", "ch.", (out / "summary.md").read_text())
    data = json.loads((out / "results.json").read_text())
    leaves = numeric_leaves([data["findings"], data["options"], data["data"]])
    found = NUMBER.findall(text)
    assert len(found) >= minimum, f"only {len(found)} numbers in the summary"
    for s in found:
        decimals = len(s.split(".")[1]) if "." in s else 0
        tol = 0.5 * 10**-decimals + 1e-9
        # Ratios and percentages are printed from stored values too; sig() may round a
        # large number to fewer digits than it has, so compare at the printed precision.
        assert any(abs(abs(v) - float(s)) <= max(tol, 5e-4 * float(s)) for v in leaves), (
            f"{s} in summary.md is not in results.json"
        )
