"""Run the book's own scripts against scratchdl (a small runner the book-compatibility tests share).

The book's scripts (``$SCRATCHDL_BOOK_DIR/chNN/*.py``, MIT) import its helper packages
``common`` and ``dataset``. :func:`run_book_script` copies a chapter's scripts into a temporary
folder, rewrites only those import lines through :data:`IMPORT_MAP`, and runs one script there
with matplotlib headless. Nothing else in a script changes. A ``common.*`` or ``dataset.*``
module missing from the map is an error naming it, so extending the map is explicit (if a name
the book imports is missing from our module, add it to ours rather than bending the map).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: The book's module -> ours. Documented in docs/book-compat.md.
IMPORT_MAP = {
    "common.functions": "scratchdl.functions",
    "common.layers": "scratchdl.layers",
    "common.gradient": "scratchdl.gradient",
    "dataset.mnist": "scratchdl.data",
    # chapters 6-8
    "common.optimizer": "scratchdl.optimizers",
    "common.multi_layer_net": "scratchdl.nets",
    "common.multi_layer_net_extend": "scratchdl.nets",
    "common.util": "scratchdl.util",
    "common.trainer": "scratchdl.train.book",
}

_IMPORT = re.compile(r"^(\s*)(from|import)\s+((?:common|dataset)\.[\w.]+)", re.MULTILINE)
_STAR = re.compile(r"^(\s*)(from scratchdl\.[\w.]+ import \*)", re.MULTILINE)


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

    source = _IMPORT.sub(swap, source)
    # The book's modules import numpy as np and define no __all__, so `from common.X import *`
    # also hands the script `np` (optimizer_compare_mnist.py never imports NumPy itself). Ours
    # export only their own names; a star import gets `np` bound beside it.
    return _STAR.sub(r"\1import numpy as np; \2", source)


def run_book_script(
    chapter: str,
    script: str,
    tmp_path: Path,
    timeout: float = 600,
    *,
    replace: tuple[tuple[str, str], ...] = (),
    files: tuple[Path, ...] = (),
    seed: int | None = None,
) -> str:
    """Run the book's ``chapter/script`` with rewritten imports; return its standard output.

    Every ``.py`` of the chapter is copied (scripts import their neighbours, such as
    ``two_layer_net``). MNIST comes from ``$SCRATCHDL_DATA_DIR`` (or the user cache) through
    ``scratchdl.data.load_mnist``. A failing script fails the test with its output.

    ``replace``: ``(old, new)`` edits of the script's text, each ``old`` found exactly once:
    only to cut the budget of a script whose full run takes hours, and the test says so.
    ``files``: copied into the folder first (the book's weight pickles the scripts load).
    ``seed``: seed NumPy's global generator before the script runs (the book draws
    everything from it), for a repeatable run.
    """
    return _run(chapter, script, tmp_path, timeout, replace, files, seed, ())[0]


def book_script_values(
    chapter: str,
    script: str,
    tmp_path: Path,
    names: tuple[str, ...],
    timeout: float = 600,
    *,
    files: tuple[Path, ...] = (),
    seed: int | None = 0,
) -> tuple[str, dict[str, Any]]:
    """Like :func:`run_book_script`, and also the values of ``names`` (expressions over the
    script's globals) when it ends, as floats or nested lists (else their repr): for the
    scripts that only draw."""
    return _run(chapter, script, tmp_path, timeout, (), files, seed, names)


_MARK = "@@book-values@@"
# Runs the script as __main__ (as `python script.py` would), then prints the asked values.
_DRIVER = """
import json, runpy, sys
import numpy as np
if {seed!r} is not None:
    np.random.seed({seed!r})
sys.argv = [{script!r}]
g = runpy.run_path({script!r}, run_name="__main__")
def plain(v):
    try:
        return np.asarray(v, dtype=float).tolist()
    except (TypeError, ValueError):
        return repr(v)
print({mark!r} + json.dumps({{e: plain(eval(e, g)) for e in {names!r}}}))
"""


def _run(
    chapter: str,
    script: str,
    tmp_path: Path,
    timeout: float,
    replace: tuple[tuple[str, str], ...],
    files: tuple[Path, ...],
    seed: int | None,
    names: tuple[str, ...],
) -> tuple[str, dict[str, Any]]:
    source_dir = book_dir() / chapter
    work = tmp_path / chapter
    work.mkdir(parents=True, exist_ok=True)
    for path in source_dir.glob("*.py"):
        (work / path.name).write_text(rewrite_imports(path.read_text(encoding="utf-8")))
    for path in source_dir.iterdir():  # images and other data the scripts read
        if path.suffix != ".py" and path.is_file():
            shutil.copy(path, work / path.name)
    for path in files:
        shutil.copy(path, work / Path(path).name)
    if replace:
        target = work / script
        text = target.read_text(encoding="utf-8")
        for old, new in replace:
            assert text.count(old) == 1, f"{script} no longer contains {old!r} exactly once"
            text = text.replace(old, new)
        target.write_text(text, encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    # plt.show() under Agg warns that it cannot show; that is all the warning says.
    env["PYTHONWARNINGS"] = "ignore:FigureCanvasAgg is non-interactive"
    if seed is None and not names:
        command = [sys.executable, script]
    else:
        driver = _DRIVER.format(seed=seed, script=script, mark=_MARK, names=list(names))
        command = [sys.executable, "-c", driver]
    proc = subprocess.run(
        command,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{chapter}/{script} failed:\n{proc.stdout}\n{proc.stderr}"
    if command[1] != "-c":
        return proc.stdout, {}
    stdout, _, tail = proc.stdout.rpartition(_MARK)
    return stdout, json.loads(tail)
