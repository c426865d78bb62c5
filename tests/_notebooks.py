"""Run a shipped notebook as Jupyter would and check what every notebook must show: both books'
notebook suites (tests/test_notebooks.py, tests/test_notebooks_book2.py) use it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

#: Seconds a cell may run (the longest, a 10,000-step training loop, takes seconds).
CELL_TIMEOUT = 300


def notebook_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def run_notebook(path: Path, monkeypatch: pytest.MonkeyPatch, label: str = ""):  # noqa: ANN201
    """Execute ``path`` in a fresh kernel in its own folder; every cell that draws shows its
    figure, none prints a traceback, a warning or a missing glyph, at least two figures in all.
    Returns the executed notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # One BLAS thread in the kernel: on a busy 2-core machine (CI, shared developers) OpenBLAS's
    # spinning threads made the 10,000-step loops 20x slower.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        # The notebook's own folder, as Jupyter runs it (the install cell looks upwards there).
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.monotonic()
    client.execute()  # raises CellExecutionError naming the cell on any error
    print(f"{notebook_id(path)}{label}: {time.monotonic() - start:.1f} s")
    figures = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        figures += len(images)
        last = cell.source.strip().splitlines()[-1]
        if "plt.show()" in cell.source or last == "fig" or last.startswith("plot_"):
            assert images, f"cell {i} draws a figure but shows none:\n{cell.source}"
        stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        # Text ("Glyph ... missing from font") and mathtext ("does not have a glyph", e.g. the
        # minus of a log axis's 10^-6 in a Korean font) draw a missing glyph as a box.
        for missing in ("missing from font", "does not have a glyph"):
            assert missing not in stderr, f"cell {i}: a glyph is missing:\n{stderr}"
        assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    assert figures >= 2
    return nb


def printed(nb) -> str:  # noqa: ANN001
    """Everything the notebook's cells printed to standard output."""
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("name") == "stdout"
    )
