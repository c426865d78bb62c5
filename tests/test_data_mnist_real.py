"""Integration tests on the real MNIST files in $SCRATCHDL_DATA_DIR (skipped when unset).

Run with e.g. ``SCRATCHDL_DATA_DIR=../shared/mnist pytest tests/test_data_mnist_real.py``; the
folder may be read-only (the processed cache then goes to the user cache, here a temp dir).
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
import pytest

from scratchdl.data import load_mnist

DATA_DIR = os.environ.get("SCRATCHDL_DATA_DIR")
pytestmark = pytest.mark.skipif(
    not DATA_DIR, reason="set SCRATCHDL_DATA_DIR to a folder with the four MNIST files"
)


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("xdg")


@pytest.fixture(autouse=True)
def isolated_cache(cache_home, monkeypatch):
    # One cache for the module so the flag combinations reuse it; never the real ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))


@pytest.mark.parametrize(
    ("normalize", "flatten", "one_hot"), list(itertools.product([True, False], repeat=3))
)
def test_shapes_dtypes_ranges(normalize, flatten, one_hot):
    (x, t), (xt, tt) = load_mnist(normalize, flatten, one_hot, download=False)
    assert x.shape == ((60000, 784) if flatten else (60000, 1, 28, 28))
    assert xt.shape == ((10000, 784) if flatten else (10000, 1, 28, 28))
    if normalize:
        assert x.dtype == xt.dtype == np.float32
        assert x.min() == 0.0 and x.max() == 1.0
    else:
        assert x.dtype == xt.dtype == np.uint8
        assert x.min() == 0 and x.max() == 255
    if one_hot:
        assert t.shape == (60000, 10) and tt.shape == (10000, 10) and t.dtype == np.float32
        assert (t.sum(axis=1) == 1).all()
        tt = tt.argmax(axis=1)
    else:
        assert t.shape == (60000,) and t.dtype == np.int64
        assert set(np.unique(t)) == set(range(10))
    assert tt[:5].tolist() == [7, 2, 1, 0, 4]


def test_second_load_comes_from_cache_fast(capsys):
    load_mnist(download=False)  # builds the cache if an earlier test did not
    start = time.perf_counter()
    (x, _), _ = load_mnist(download=False)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nsecond MNIST load: {elapsed:.3f} s")
    assert x.shape == (60000, 784)
    assert elapsed < 2.0  # target 0.5 s; generous because CI machines are shared


def test_importing_mnist_as_fashion_names_the_mix_up_once(tmp_path, capsys):
    from scratchdl.cli import main

    code = main(["data", "import", DATA_DIR, "--dataset", "fashion", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "this is the MNIST" in err and "nothing was imported" in err
    assert err.count("Fix:") == 1
    assert not any(tmp_path.rglob("*ubyte*"))
