"""Run the book's chapter scripts against scratchdl (the book-compatibility suite).

The book's scripts (``$SCRATCHDL_BOOK_DIR/chNN/*.py``) do ``sys.path.append(os.pardir)`` and
then import ``common.*`` and ``dataset.*``. :func:`run_book_script` copies one chapter folder
into a temporary tree, puts a ``common`` and a ``dataset`` package beside it whose modules are
one-line re-exports of scratchdl (:data:`BOOK_MODULES`), and runs the script unchanged in a
fresh interpreter. Nothing of the book is copied into the repository, and the script text is
not edited, except for an explicit ``replace`` list that a test must justify (used only to cut
the budget of scripts whose full run takes hours).

Each re-export module also binds ``np``, as the book's modules do: ``from common.optimizer
import *`` hands ``np`` to ``optimizer_compare_mnist.py``, which never imports NumPy itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BOOK_DIR = os.environ.get("SCRATCHDL_BOOK_DIR")
DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")
BOOK_WEIGHTS = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
#: params.pkl and deep_convnet_params.pkl live beside sample_weight.pkl.
REFERENCE_DIR = Path(BOOK_WEIGHTS).parent if BOOK_WEIGHTS else None

#: The book's module -> the scratchdl module its names come from. A learner makes the same
#: change by hand: ``from common.optimizer import *`` -> ``from scratchdl.optimizers import *``.
BOOK_MODULES = {
    "common.functions": "scratchdl.functions",
    "common.gradient": "scratchdl.gradient",
    "common.layers": "scratchdl.layers",
    "common.optimizer": "scratchdl.optimizers",
    "common.multi_layer_net": "scratchdl.nets",
    "common.multi_layer_net_extend": "scratchdl.nets",
    "common.util": "scratchdl.util",
    "common.trainer": "scratchdl.train.book",
    "dataset.mnist": "scratchdl.data",
}

needs_book = pytest.mark.skipif(not BOOK_DIR, reason="set SCRATCHDL_BOOK_DIR to the book's scripts")
needs_reference = pytest.mark.skipif(
    not (REFERENCE_DIR and (REFERENCE_DIR / "deep_convnet_params.pkl").exists()),
    reason="set SCRATCHDL_BOOK_WEIGHTS beside the book's params.pkl and deep_convnet_params.pkl",
)
needs_mnist = pytest.mark.skipif(
    not (BOOK_DIR and DATA_DIR), reason="set SCRATCHDL_BOOK_DIR and SCRATCHDL_DATA_DIR"
)

_MARK = "@@book-report@@"

# Runs the script as __main__ with NumPy's global generator seeded (the book draws everything
# from it; a fixed seed makes a run repeatable), then prints the requested globals as JSON.
_DRIVER = """
import json, runpy, sys
import numpy as np
np.random.seed({seed})
sys.argv = [{script!r}]
g = runpy.run_path({script!r}, run_name="__main__")
def plain(v):
    try:
        return np.asarray(v, dtype=float).tolist()
    except (TypeError, ValueError):
        return repr(v)
print({mark!r} + json.dumps({{e: plain(eval(e, g)) for e in {report!r}}}))
"""


@dataclass
class BookRun:
    """Outcome of one script: its output lines and the globals asked for in ``report``."""

    stdout: str
    stderr: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def book_tree(tmp_path: Path, chapter: str) -> Path:
    """``tmp_path/book/<chapter>`` with the chapter's scripts and the re-export packages."""
    root = tmp_path / "book"
    shutil.copytree(Path(BOOK_DIR) / chapter, root / chapter)
    for module, target in BOOK_MODULES.items():
        package, name = module.split(".")
        folder = root / package
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").touch()
        (folder / f"{name}.py").write_text(
            f"import numpy as np  # noqa: F401  the book's modules export np too\n"
            f"from {target} import *  # noqa: F403\n"
        )
    return root / chapter


def run_book_script(
    tmp_path: Path,
    chapter: str,
    script: str,
    *,
    report: tuple[str, ...] = (),
    replace: tuple[tuple[str, str], ...] = (),
    files: tuple[Path, ...] = (),
    seed: int = 0,
    timeout: float = 170,
) -> BookRun:
    """Run ``$SCRATCHDL_BOOK_DIR/<chapter>/<script>`` on scratchdl and return what it printed.

    Parameters
    ----------
    report : expressions over the script's globals to return (as floats/lists) after it ends.
    replace : ``(old, new)`` edits of the script text; each ``old`` must occur exactly once.
    files : files copied into the chapter folder first (the book's pickles).
    """
    folder = book_tree(tmp_path, chapter)
    path = folder / script
    text = path.read_text(encoding="utf-8")
    for old, new in replace:
        assert text.count(old) == 1, f"{script} no longer contains {old!r} exactly once"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    for f in files:
        shutil.copy(f, folder / Path(f).name)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore::UserWarning")
    driver = _DRIVER.format(seed=seed, script=script, report=list(report), mark=_MARK)
    result = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"{chapter}/{script} failed:\n{result.stderr[-3000:]}"
    stdout, _, tail = result.stdout.rpartition(_MARK)
    return BookRun(stdout=stdout, stderr=result.stderr, values=json.loads(tail))
