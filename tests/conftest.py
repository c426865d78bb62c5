"""Shared test setup: headless plotting and no writes to the user's real cache."""

import json
import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# A test run started in the background without job control (`pytest &` in a script, nohup)
# inherits Ctrl-C ignored, and so would every command the tests start; the Ctrl-C tests need
# Python's own handler, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the user cache at one temporary folder per session, never at ~/.cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A user cache of the test's own, and no developer's SCRATCHDL_DATA_DIR; returns the
    scratchdl folder inside that cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SCRATCHDL_DATA_DIR", raising=False)
    return tmp_path / "xdg" / "scratchdl"


@pytest.fixture
def raw():
    """The four IDX files of a tiny synthetic dataset, as bytes keyed by kind."""
    from _data_helpers import make_raw

    return make_raw()


@pytest.fixture(scope="session")
def mnist_size_gradients():
    """The book's ch. 5.6.3 gradient check at full size (784-50-10, 3 samples), computed once
    per session: the numerical gradient alone is 2 x 39,760 forward passes.

    Attributes: ``net`` (float32 TwoLayerNet, seed 0), ``x``, ``t``, ``num`` and ``bp`` (the
    numerical and backprop gradients), ``arrays`` (the parameter arrays before the check) and
    ``before`` (their bytes).
    """
    from types import SimpleNamespace

    import numpy as np

    from scratchdl.nets import TwoLayerNet

    net = TwoLayerNet(784, 50, 10, rng=0)
    x = np.random.default_rng(1).random((3, 784)).astype(np.float32)
    t = np.array([3, 1, 4])
    before = {key: value.tobytes() for key, value in net.params.items()}
    arrays = [net.params[key] for key in net.params]
    num = net.numerical_gradient(x, t)
    bp = net.gradient(x, t)
    return SimpleNamespace(net=net, x=x, t=t, num=num, bp=bp, arrays=arrays, before=before)


@pytest.fixture(scope="session")
def default_model(tmp_path_factory):
    """The model ``scratchdl train`` makes with its defaults on real MNIST (about 10 s), trained
    once per session; skipped where SCRATCHDL_DATA_DIR is unset."""
    if not os.environ.get("SCRATCHDL_DATA_DIR"):
        pytest.skip("SCRATCHDL_DATA_DIR is not set (real MNIST needed)")
    from scratchdl.cli import main

    out = tmp_path_factory.mktemp("default-model")
    assert main(["train", "--out", str(out), "--quiet"]) == 0
    return out / "model.npz"


@pytest.fixture
def fake_data(monkeypatch):
    """Synthetic data for in-process commands, and curves.png written (atomically, as the real
    one) without drawing: matplotlib takes half a second a figure. The child-process tests
    draw real curves."""
    import scratchdl.data
    import scratchdl.plots.curves
    from _fault_helpers import synthetic
    from scratchdl._fs import atomic_path

    data = synthetic()
    monkeypatch.setattr(scratchdl.data, "load_mnist", lambda *a, **k: data)

    def save_training_curves(history, path, title=None):
        with atomic_path(path, suffix=".png") as tmp:
            tmp.write_bytes(b"\x89PNG\r\n\x1a\n" + json.dumps(history.to_dict()).encode())
        return Path(path)

    monkeypatch.setattr(scratchdl.plots.curves, "save_training_curves", save_training_curves)
    return data
