"""Run the second book's own scripts against scratchdl (the runner the book-2 compatibility
tests share; tests/_book.py is the first book's).

The book's scripts (``$SCRATCHDL_BOOK2_DIR/chNN/*.py``, MIT) start with
``sys.path.append('..')`` and import its packages ``common`` and ``dataset``. Instead of
editing their import lines, :func:`run_book2_script` copies the chapter folders into a
temporary folder and writes *shim packages* ``common/`` and ``dataset/`` beside them, whose
modules only re-export scratchdl (:data:`SHIMS`). The scripts run unchanged, matplotlib
headless. A module the book imports that :data:`SHIMS` lacks fails with ModuleNotFoundError,
so extending the map is explicit: add the module here, pointing at ours.

Two things the book's environment does that ours does not are reproduced here, in the test
harness only: the book's ``dataset`` loaders call ``np.random.seed`` (its scripts' results
depend on that), and its scripts read pickles with ``pickle.load``, which the driver points at
scratchdl's safe reader (:func:`scratchdl.io.read_book2_pickle`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: The book's module -> the source of our shim for it. Chapters 5-8 add theirs here
#: (common.time_layers, common.base_model, the RnnlmTrainer, eval_perplexity, ...).
SHIMS: dict[str, str] = {
    "common/__init__.py": "",
    # The book picks NumPy or CuPy here; scratchdl is NumPy only.
    "common/config.py": "GPU = False\n",
    "common/np.py": "import numpy as np\n\nGPU = False\n",
    "common/functions.py": "from scratchdl.functions import *  # noqa: F403\n",
    "common/layers.py": ("import numpy as np\n\nfrom scratchdl.layers import *  # noqa: F403\n"),
    "common/util.py": (
        "import numpy as np\n\n"
        "from scratchdl.train.book2 import clip_grads  # noqa: F401\n"
        "from scratchdl.train.rnnlm import eval_perplexity  # noqa: F401\n"
        "from scratchdl.seq2seq import eval_seq2seq  # noqa: F401\n"
        "from scratchdl.words import *  # noqa: F403\n\n\n"
        "def to_cpu(x):  # the book's CuPy helpers: NumPy arrays stay as they are\n"
        "    return x\n\n\n"
        "to_gpu = to_cpu\n"
    ),
    "common/optimizer.py": "from scratchdl.optimizers import *  # noqa: F403\n",
    "common/trainer.py": (
        "from scratchdl.train.book2 import Trainer  # noqa: F401\n"
        "from scratchdl.train.rnnlm import RnnlmTrainer  # noqa: F401\n"
    ),
    # Chapters 5-8. The book's modules star-import these and use ``np`` from them.
    "common/time_layers.py": (
        "import numpy as np\n\nfrom scratchdl.time_layers import *  # noqa: F403\n"
    ),
    "common/base_model.py": "from scratchdl.rnnlm import BaseModel  # noqa: F401\n",
    "dataset/__init__.py": "",
    "dataset/spiral.py": (
        "import numpy as np\n\n"
        "from scratchdl.data import spiral\n\n\n"
        "def load_data(seed=1984):\n"
        "    np.random.seed(seed)  # what the book's loader does to the global generator\n"
        "    return spiral.load_data(seed)\n"
    ),
    "dataset/sequence.py": (
        "import numpy as np\n\n"
        "from scratchdl.data import sequence\n"
        "from scratchdl.data.sequence import get_vocab  # noqa: F401\n\n\n"
        "def load_data(file_name='addition.txt', seed=1984):\n"
        "    if seed is not None:\n"
        "        np.random.seed(seed)  # what the book's loader does to the global generator\n"
        "    return sequence.load_data(file_name, seed)\n"
    ),
    # SCRATCHDL_PTB_VOCAB (a cbow_params.pkl) numbers the files with the book's training
    # vocabulary where ptb.train.txt is not available (load_ptb's vocab=).
    "dataset/ptb.py": (
        "import os\n\n"
        "from scratchdl.data.ptb import load_ptb\n\n\n"
        "def load_data(data_type='train'):\n"
        "    return load_ptb(data_type, data_dir=os.environ.get('SCRATCHDL_PTB_DIR'), "
        "quiet=True,\n"
        "                    vocab=os.environ.get('SCRATCHDL_PTB_VOCAB') or None)\n"
    ),
}


def book2_dir() -> Path:
    """``$SCRATCHDL_BOOK2_DIR``, or skip the test where it is unset."""
    value = os.environ.get("SCRATCHDL_BOOK2_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("SCRATCHDL_BOOK2_DIR is not set to the second book's scripts")
    return Path(value)


def ptb_train_dir() -> Path:
    """A folder holding ``ptb.train.txt`` (the book's PTB scripts need it for the word ids),
    or skip: it is not in the shared folder and tests never download."""
    for value in (os.environ.get("SCRATCHDL_PTB_DIR"), str(book2_dir() / "ptb")):
        if value and (Path(value) / "ptb.train.txt").is_file():
            return Path(value)
    pytest.skip("ptb.train.txt is not available offline (set SCRATCHDL_PTB_DIR to its folder)")


_MARK = "@@book2-values@@"
_DRIVER = """
import json, pickle, runpy, sys
import numpy as np
from scratchdl.io import read_book2_pickle
pickle.load = lambda f, *a, **k: read_book2_pickle(f)  # the book's pickles, read safely
if {seed!r} is not None:
    np.random.seed({seed!r})
sys.argv = [{script!r}]
g = runpy.run_path({script!r}, run_name="__main__")
exec({after!r}, g)
def plain(v):
    try:
        return np.asarray(v, dtype=float).tolist()
    except (TypeError, ValueError):
        return repr(v)
print({mark!r} + json.dumps({{e: plain(eval(e, g)) for e in {names!r}}}))
"""


def run_book2_script(
    chapter: str,
    script: str,
    tmp_path: Path,
    names: tuple[str, ...] = (),
    *,
    timeout: float = 600,
    seed: int | None = 0,
    env: dict[str, str] | None = None,
    after: str = "",
) -> tuple[str, dict[str, Any]]:
    """Run the book's ``chapter/script`` unchanged on the shims; return its standard output
    and the values of ``names`` (expressions over the script's globals) when it ends.

    Every chapter's ``.py`` files are copied (scripts import ``ch04.negative_sampling_layer``
    and the like), and the chapter's data files (its pickles) beside the script. ``seed``
    seeds NumPy's global generator first (the book draws everything from it).
    """
    source = book2_dir()
    work = tmp_path / "book2"
    for folder in sorted(source.glob("ch0*")):
        (work / folder.name).mkdir(parents=True, exist_ok=True)
        for path in folder.glob("*.py"):
            shutil.copy(path, work / folder.name / path.name)
    for path in (source / chapter).iterdir():
        if path.is_file() and path.suffix != ".py":
            shutil.copy(path, work / chapter / path.name)
    for relative, text in SHIMS.items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_text(text, encoding="utf-8")
    full_env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    full_env["PYTHONWARNINGS"] = "ignore:FigureCanvasAgg is non-interactive"
    driver = _DRIVER.format(seed=seed, script=script, mark=_MARK, names=list(names), after=after)
    proc = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=work / chapter,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{chapter}/{script} failed:\n{proc.stdout}\n{proc.stderr}"
    stdout, _, tail = proc.stdout.rpartition(_MARK)
    return stdout, json.loads(tail)
