"""The book's pickles held to the rules of ``.npz`` model files: a byte cap from the declared
shapes before anything is allocated, plain number arrays only, finite values, shapes that fit
the network, and ``import-weights`` never replacing a file without ``--force``.

The hostile files are forged here, a few hundred bytes each, with ``__reduce__``.
"""

from __future__ import annotations

import os
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from scratchdl.cli import main
from scratchdl.errors import ModelFileError
from scratchdl.io import load_book_weights, load_model, read_book_pickle

try:
    from numpy._core.multiarray import _reconstruct  # NumPy >= 2
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct


class _Forged:
    """Pickles as NumPy's array recipe with any arguments: ``_reconstruct(*args)`` then
    ``__setstate__(state)``."""

    def __init__(self, args, state=None):
        self.args, self.state = args, state

    def __reduce__(self):
        if self.state is None:
            return (_reconstruct, self.args)
        return (_reconstruct, self.args, self.state)


class _Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _write(path: Path, obj, protocol: int = 3) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def _cnn_weights(rng=0) -> dict[str, np.ndarray]:
    """Weights shaped as the book's ch. 7 SimpleConvNet on 28x28 images (small values)."""
    g = np.random.default_rng(rng)
    shapes = {"W1": (30, 1, 5, 5), "W2": (4320, 100), "W3": (100, 10)}
    weights = {}
    for i, shape in enumerate(shapes.values(), 1):
        weights[f"W{i}"] = (0.01 * g.standard_normal(shape)).astype(np.float32)
        weights[f"b{i}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1], np.float32)
    return weights


def _mlp_weights() -> dict[str, np.ndarray]:
    g = np.random.default_rng(1)
    return {
        "W1": g.standard_normal((784, 8)).astype(np.float32),
        "b1": np.zeros(8, np.float32),
        "W2": g.standard_normal((8, 10)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }


def test_the_forged_recipe_is_numpys_own(tmp_path):
    """The forgery helper writes what NumPy writes: plain pickle builds the same array."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    forged = _Forged((np.ndarray, (0,), b"b"), (1, (2, 3), np.dtype("f4"), False, a.tobytes()))
    path = _write(tmp_path / "ok.pkl", {"W1": forged})
    assert np.array_equal(pickle.loads(path.read_bytes())["W1"], a)
    assert np.array_equal(read_book_pickle(path)["W1"], a)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        # 74.5 GiB declared, no data: refused from the shape, before any allocation.
        ((1, (100_000, 100_000), np.dtype("f8"), False, b""), "more than the 1,073,741,824"),
        # Python objects: NumPy would allocate the declared size before reading the list.
        ((1, (200_000_000,), np.dtype("O"), False, []), "not a plain number type"),
        ((1, (10,), np.dtype([("a", "f8")]), False, b""), "not a plain number type"),
        ((1, (1_000_000_000,), np.dtype("V100"), False, b""), "not a plain number type"),
        ((1, (-5, 3), np.dtype("f8"), False, b""), "impossible shape"),
        ((1, (100, 100), np.dtype("f8"), False, b"\0" * 8), "needs 80,000 bytes of data"),
    ],
)
def test_a_tiny_pickle_declaring_huge_or_odd_arrays_is_refused_without_allocating(
    tmp_path, state, message
):
    path = _write(tmp_path / "w.pkl", {"W1": _Forged((np.ndarray, (0,), b"b"), state)})
    assert path.stat().st_size < 600
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=message) as err:
            read_book_pickle(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # NumPy's allocations are traced: nothing big was made
    assert "array #1" in str(err.value) and "\n" not in str(err.value)


def test_the_cap_is_on_the_total_and_follows_the_environment(tmp_path, monkeypatch):
    weights = _mlp_weights()  # 25,088 + 32 + 320 + 40 bytes
    path = _write(tmp_path / "w.pkl", weights)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "25000")
    with pytest.raises(ModelFileError, match=r"array #1 \(shape \(784, 8\), float32\)"):
        read_book_pickle(path)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "25200")
    with pytest.raises(ModelFileError, match=r"array #3 .* \(25,440 for the arrays so far\)"):
        read_book_pickle(path)
    monkeypatch.setenv("SCRATCHDL_MAX_MODEL_BYTES", "25480")
    assert set(read_book_pickle(path)) == set(weights)
    big = _write(tmp_path / "big.pkl", {"W1": np.zeros(300_000, np.float32)})
    with pytest.raises(ModelFileError, match="more than arrays of at most 1,000 bytes take"):
        read_book_pickle(big, max_bytes=1000)  # refused by its size, before it is read


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"W1": _Forged((np.ndarray, (100_000, 100_000), b"f8"))}, "way NumPy never writes"),
        ({"W1": _Call(np.ndarray, (100_000, 100_000))}, r"calls numpy.ndarray\(...\) directly"),
        ({"W1": _Call(os.system, "echo hi")}, "asks for posix.system"),
    ],
)
def test_other_recipes_are_refused_before_they_run(tmp_path, obj, message):
    path = _write(tmp_path / "w.pkl", obj)
    with pytest.raises(ModelFileError, match=message):
        read_book_pickle(path)


def test_a_counted_length_past_the_end_is_damage_not_an_allocation(tmp_path):
    # PROTO 4, BINBYTES8 declaring 1 TiB, then the end: CPython would allocate it first.
    path = tmp_path / "w.pkl"
    path.write_bytes(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc.")
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        read_book_pickle(path)
    path.write_bytes(b"\x80\x02c__main__\nX\n)\x81.")  # NEWOBJ: an object, not an array
    with pytest.raises(ModelFileError, match="opcode NEWOBJ"):
        read_book_pickle(path)


def test_every_protocol_and_layout_numpy_writes_is_read(tmp_path):
    g = np.random.default_rng(0)
    arrays = {
        "W1": g.standard_normal((5, 3)).astype(np.float32),
        "b1": np.asfortranarray(g.standard_normal((4, 3))),
        "c": np.arange(5, dtype=">i4"),
        "h": np.ones(3, np.float16),
        "z": np.zeros((0, 3)),
        "s": np.array(3.0),
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = read_book_pickle(_write(tmp_path / f"p{protocol}.pkl", arrays, protocol))
        for key, a in arrays.items():
            assert back[key].dtype == a.dtype and np.array_equal(back[key], a), (protocol, key)
            assert back[key].flags.writeable
        assert back["b1"].flags.f_contiguous


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused_naming_the_array(tmp_path, bad):
    weights = _mlp_weights()
    weights["W2"][3, 4] = bad
    path = _write(tmp_path / "w.pkl", weights)
    with pytest.raises(ModelFileError, match="W2 holds 1 NaN or infinite values of 80"):
        read_book_pickle(path)
    out = tmp_path / "m.npz"
    assert main(["import-weights", str(path), str(out)]) == 2
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "reshape", "message"),
    [
        ("W2", np.ravel, r"W2 has shape \(432000,\); the book's SimpleConvNet needs W2 as a 2-D"),
        ("W3", lambda a: a[:, 0], r"W3 has shape \(100,\); the book's SimpleConvNet needs W3"),
        ("b2", lambda a: a[:5], r"b2 has shape \(5,\); with W2 \(4320, 100\) it must have"),
        ("b1", lambda a: a.reshape(30, 1), r"b1 has shape \(30, 1\)"),
    ],
)
def test_cnn_pickles_with_misshapen_arrays_get_a_sentence_naming_the_array(
    tmp_path, capsys, key, reshape, message
):
    weights = _cnn_weights()
    assert type(load_book_weights(_write(tmp_path / "good.pkl", weights))).__name__ == (
        "SimpleConvNet"
    )
    weights[key] = reshape(weights[key])
    path = _write(tmp_path / "bad.pkl", weights)
    with pytest.raises(ModelFileError, match=message):
        load_book_weights(path)
    assert main(["import-weights", str(path), str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and key in err


def test_import_weights_replaces_a_file_only_with_force(tmp_path, capsys):
    path = _write(tmp_path / "w.pkl", _mlp_weights())
    out = tmp_path / "m.npz"
    out.write_bytes(b"the user's own file")
    assert main(["import-weights", str(path), str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} exists: pass --force to replace it, or choose another output file" in err
    assert out.read_bytes() == b"the user's own file"
    assert main(["import-weights", str(path), str(out), "--force"]) == 0
    assert load_model(out).params["W2"].shape == (8, 10)
    assert main(["import-weights", str(path), str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_fifo_is_not_a_regular_file_and_nothing_waits(tmp_path):
    fifo = tmp_path / "weights.pkl"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="weights.pkl is not a regular file"):
        read_book_pickle(fifo)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_book_pickle(tmp_path / "none.pkl")


def test_a_pickle_cannot_change_what_outlives_its_own_load(tmp_path):
    # GLOBAL _codecs.encode, then BUILD (None, {'__defaults__': ('utf-8',)}) on it: with the
    # stand-in shared between loads this would change the function for every later file.
    import scratchdl.io as io

    def unicode(text: str) -> bytes:
        data = text.encode()
        return b"X" + len(data).to_bytes(4, "little") + data

    forged = (
        b"\x80\x02c_codecs\nencode\nN}"
        + unicode("__defaults__")
        + unicode("utf-8")
        + b"\x85s\x86b0}."
    )
    path = tmp_path / "w.pkl"
    path.write_bytes(forged)
    before = io._latin1_encode.__defaults__
    with pytest.raises(ModelFileError, match="gives state to a function"):
        read_book_pickle(path)
    assert io._latin1_encode.__defaults__ == before
    _write(path, _mlp_weights(), protocol=2)  # and the next file reads as ever
    assert set(read_book_pickle(path)) == {"W1", "b1", "W2", "b2"}
