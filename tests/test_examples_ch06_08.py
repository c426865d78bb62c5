"""The chapter 6-8 examples run and print the book's kind of numbers.

Without MNIST (a user cache of their own and no SCRATCHDL_DATA_DIR) the MNIST parts are skipped
with a one-line note, which keeps these tests fast; the slow tests run the MNIST parts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")
BOOK_WEIGHTS = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")

#: Lines each example prints whatever data is around.
EXPECTED = {
    "ch06_optimizer_compare.py": [
        "SGD: after 30 steps x = -0.3504, y = 0.0848",
        "Momentum: after 30 steps x = 0.8964, y = 0.0881",
        "AdaGrad: after 30 steps x = -0.1202, y = 0.0000",
        "Adam: after 30 steps x = 0.1360, y = 0.3182",
    ],
    "ch07_apply_filter.py": [
        "im2col of (1, 3, 7, 7) with 5x5 filters: (9, 75)",
        "im2col of (10, 3, 7, 7) with 5x5 filters: (90, 75)",
        "output size of 4x4 input, 3x3 filter, pad 1, stride 1: 4",
        "output size of 7x7 input, 3x3 filter, pad 0, stride 2: 3",
    ],
    "ch08_deep_convnet.py": [],
    "ch06_weight_init.py": [
        "sigmoid, std = 1",
        "  5-layer: mean 0.500  std 0.012",
        "ReLU, He (std = √(2/n))",
    ],
}


@pytest.fixture(scope="module")
def mpl_dir(tmp_path_factory):
    """One matplotlib cache for the module: building its font list takes seconds."""
    return tmp_path_factory.mktemp("mplconfig")


def run_example(name, *args, tmp_path, mpl_dir, with_data=False, timeout=300):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SCRATCHDL_DATA_DIR", "SCRATCHDL_BOOK_WEIGHTS")
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["MPLBACKEND"] = "Agg"
    env["MPLCONFIGDIR"] = str(mpl_dir)
    if with_data:
        env["SCRATCHDL_DATA_DIR"] = DATA_DIR
        if BOOK_WEIGHTS:
            env["SCRATCHDL_BOOK_WEIGHTS"] = BOOK_WEIGHTS
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    return result.stdout


def test_every_example_is_covered():
    names = sorted(p.name for p in EXAMPLES.glob("ch0[6-8]_*.py"))
    assert names == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_books_numbers_without_mnist(name, tmp_path, mpl_dir):
    out = run_example(name, tmp_path=tmp_path, mpl_dir=mpl_dir)
    for line in EXPECTED[name]:
        assert line in out, f"{line!r} missing from {name}'s output:\n{out}"
    skips = [line for line in out.splitlines() if "skipped" in line]
    assert all("MNIST" in line or "weights" in line for line in skips)
    assert not (tmp_path / "cache" / "scratchdl").exists()  # nothing downloaded


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR, reason="set SCRATCHDL_DATA_DIR to a folder with MNIST")
def test_optimizer_compare_on_mnist(tmp_path, mpl_dir):
    out = run_example(
        "ch06_optimizer_compare.py", "300", tmp_path=tmp_path, mpl_dir=mpl_dir, with_data=True
    )
    blocks = re.findall(
        r"iteration:(\d+)=+\nSGD:(\S+)\nMomentum:(\S+)\nAdaGrad:(\S+)\nAdam:(\S+)", out
    )
    assert [int(b[0]) for b in blocks] == [0, 100, 200]
    first, last = [float(v) for v in blocks[0][1:]], [float(v) for v in blocks[-1][1:]]
    assert all(2.0 < v < 2.6 for v in first)  # about ln 10 at the start
    sgd, *others = last
    assert max(others) < sgd  # the book's figure 6-9: SGD is the slowest
