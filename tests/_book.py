"""Run the book's own scripts against scratchdl (a small runner the book-compatibility tests share).

The book's scripts (``$SCRATCHDL_BOOK_DIR/chNN/*.py``, MIT) import its helper packages
``common`` and ``dataset``. :func:`run_book_script` copies a chapter's scripts into a temporary
folder, rewrites only those import lines through :data:`IMPORT_MAP`, and runs one script there
with matplotlib headless. Nothing else in a script changes. A ``common.*`` or ``dataset.*``
module missing from the map is an error naming it, so extending the map is explicit (if a name
the book imports is missing from our module, add it to ours rather than bending the map).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The book's module -> ours. Documented in the README ("Running the book's scripts").
IMPORT_MAP = {
    "common.functions": "scratchdl.functions",
    "common.layers": "scratchdl.layers",
    "common.gradient": "scratchdl.gradient",
    "dataset.mnist": "scratchdl.data",
}

_IMPORT = re.compile(r"^(\s*)(from|import)\s+((?:common|dataset)\.[\w.]+)", re.MULTILINE)


def book_dir() -> Path:
    """``$SCRATCHDL_BOOK_DIR``, or skip the test where it is unset."""
    value = os.environ.get("SCRATCHDL_BOOK_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("SCRATCHDL_BOOK_DIR is not set to the book's scripts")
    return Path(value)


def rewrite_imports(source: str) -> str:
    """``source`` with its ``common.*`` / ``dataset.*`` imports pointed at scratchdl."""

    def swap(match: re.Match[str]) -> str:
        indent, keyword, module = match.groups()
        if module not in IMPORT_MAP:
            raise KeyError(f"the book imports {module}, which IMPORT_MAP does not map")
        return f"{indent}{keyword} {IMPORT_MAP[module]}"

    return _IMPORT.sub(swap, source)


def run_book_script(chapter: str, script: str, tmp_path: Path, timeout: float = 600) -> str:
    """Run the book's ``chapter/script`` with rewritten imports; return its standard output.

    Every ``.py`` of the chapter is copied (scripts import their neighbours, such as
    ``two_layer_net``). MNIST comes from ``$SCRATCHDL_DATA_DIR`` (or the user cache) through
    ``scratchdl.data.load_mnist``. A failing script fails the test with its output.
    """
    source_dir = book_dir() / chapter
    work = tmp_path / chapter
    work.mkdir(parents=True, exist_ok=True)
    for path in source_dir.glob("*.py"):
        (work / path.name).write_text(rewrite_imports(path.read_text(encoding="utf-8")))
    for path in source_dir.iterdir():  # images and other data the scripts read
        if path.suffix != ".py" and path.is_file():
            shutil.copy(path, work / path.name)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{chapter}/{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
