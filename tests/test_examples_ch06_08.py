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


#: Examples that are all MNIST or the book's weights: only their slow tests below run them.
DATA_ONLY = [
    "ch06_batch_norm.py",
    "ch06_overfit.py",
    "ch07_train_convnet.py",
    "ch08_deep_convnet.py",
]


def test_every_example_is_covered():
    names = sorted(p.name for p in EXAMPLES.glob("ch0[6-8]_*.py"))
    assert names == sorted([*EXPECTED, *DATA_ONLY])


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


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR, reason="set SCRATCHDL_DATA_DIR to a folder with MNIST")
def test_batch_norm_learns_faster(tmp_path, mpl_dir):
    out = run_example("ch06_batch_norm.py", tmp_path=tmp_path, mpl_dir=mpl_dir, with_data=True)
    rows = re.findall(r"epoch:(\d+) \| (\S+) - (\S+)", out)
    assert [int(r[0]) for r in rows] == list(range(20))
    plain, bn = float(rows[-1][1]), float(rows[-1][2])
    assert bn > 0.85 and bn > plain + 0.3  # the book's figure 6-19 at this scale


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR, reason="set SCRATCHDL_DATA_DIR to a folder with MNIST")
def test_overfit_gap_narrows_with_weight_decay_and_dropout(tmp_path, mpl_dir):
    out = run_example("ch06_overfit.py", "101", tmp_path=tmp_path, mpl_dir=mpl_dir, with_data=True)
    finals = re.findall(r"epoch:101, train acc:(\S+), test acc:(\S+)", out)
    assert len(finals) == 3
    (tr0, te0), (tr1, te1), (tr2, te2) = [(float(a), float(b)) for a, b in finals]
    assert tr0 > 0.95 and tr0 - te0 > 0.2  # learns the 300 images by heart
    assert tr1 - te1 < tr0 - te0 and tr2 - te2 < tr0 - te0


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR, reason="set SCRATCHDL_DATA_DIR to a folder with MNIST")
def test_train_convnet_one_epoch(tmp_path, mpl_dir):
    out = run_example(
        "ch07_train_convnet.py", "1", tmp_path=tmp_path, mpl_dir=mpl_dir, with_data=True
    )
    assert "=== epoch:1, train acc:" in out
    final = float(re.search(r"^test acc:(\S+)$", out, re.M).group(1))
    assert final > 0.95  # measured 0.9617 (weight_init_std 0.01, as the book)


@pytest.mark.slow
@pytest.mark.skipif(
    not DATA_DIR or not BOOK_WEIGHTS, reason="set SCRATCHDL_DATA_DIR and SCRATCHDL_BOOK_WEIGHTS"
)
def test_deep_convnet_with_the_books_weights(tmp_path, mpl_dir):
    out = run_example("ch08_deep_convnet.py", tmp_path=tmp_path, mpl_dir=mpl_dir, with_data=True)
    assert "test accuracy:0.9935" in out.splitlines()
