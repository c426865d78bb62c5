"""The second book's pickles: read without running code, size-capped, checked; the imported
cbow_params.pkl gives the book's neighbours and analogies."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from scratchdl.errors import ModelFileError
from scratchdl.io import load_word_vectors, read_book2_pickle
from scratchdl.words import analogy, most_similar


def book2_file(relative: str) -> Path:
    value = os.environ.get("SCRATCHDL_BOOK2_DIR")
    if not value or not (Path(value) / relative).is_file():
        pytest.skip("SCRATCHDL_BOOK2_DIR is not set to the second book's folder")
    return Path(value) / relative


# What the book's ch04/eval.py prints for its cbow_params.pkl (its float16 arithmetic, run
# here with the book's loop re-typed: /tmp scripts, not committed).
NEIGHBOURS = {
    "you": [
        ("we", 0.6103515625),
        ("someone", 0.59130859375),
        ("i", 0.55419921875),
        ("something", 0.48974609375),
        ("anyone", 0.47314453125),
    ],
    "year": [
        ("month", 0.71875),
        ("week", 0.65234375),
        ("spring", 0.62744140625),
        ("summer", 0.6259765625),
        ("decade", 0.603515625),
    ],
    "car": [
        ("luxury", 0.497314453125),
        ("arabia", 0.47802734375),
        ("auto", 0.47119140625),
        ("disk-drive", 0.450927734375),
        ("travel", 0.4091796875),
    ],
    "toyota": [
        ("ford", 0.55078125),
        ("instrumentation", 0.509765625),
        ("mazda", 0.49365234375),
        ("bethlehem", 0.47509765625),
        ("nissan", 0.474853515625),
    ],
}
ANALOGIES = [
    (("king", "man", "queen"), "woman", 5.16015625),
    (("take", "took", "go"), "went", 4.55078125),
    (("car", "cars", "child"), "children", 5.21875),
    (("good", "better", "bad"), "more", 6.6484375),
]


def test_cbow_params_gives_the_books_neighbours_and_analogies():
    W, word_to_id, id_to_word = load_word_vectors(book2_file("ch04/cbow_params.pkl"))
    assert W.shape == (10000, 100) and W.dtype == np.float16
    assert id_to_word[0] == "aer" and word_to_id["<eos>"] == 24  # the PTB training file's ids
    for query, expected in NEIGHBOURS.items():
        assert most_similar(query, word_to_id, id_to_word, W, show=False) == expected
    for (a, b, c), word, score in ANALOGIES:
        best = analogy(a, b, c, word_to_id, id_to_word, W, show=False)[0]
        assert best == (word, score)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > boom.txt",))


def test_unsafe_big_damaged_and_inconsistent_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"word_vecs": _Boom()}))
    with pytest.raises(ModelFileError, match="refused to load.*system"):
        read_book2_pickle(evil)
    assert not (tmp_path / "boom.txt").exists()
    good = {
        "word_vecs": np.ones((2, 3), np.float16),
        "word_to_id": {"a": 0, "b": 1},
        "id_to_word": {0: "a", 1: "b"},
    }
    path = tmp_path / "vecs.pkl"
    path.write_bytes(pickle.dumps(good))
    W, w2i, i2w = load_word_vectors(path)
    assert W.shape == (2, 3) and w2i == {"a": 0, "b": 1}
    with pytest.raises(ModelFileError, match="more than the 8 allowed"):
        load_word_vectors(path, max_bytes=8)  # the arrays' declared size, before allocation
    path.write_bytes(pickle.dumps(good)[:-20])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        load_word_vectors(path)
    path.write_bytes(pickle.dumps({**good, "id_to_word": {0: "b", 1: "a"}}))
    with pytest.raises(ModelFileError, match="inverse dicts"):
        load_word_vectors(path)
    path.write_bytes(pickle.dumps({**good, "word_vecs": np.array(["x"])}))
    with pytest.raises(ModelFileError, match="not a plain number type"):
        load_word_vectors(path)
    path.write_bytes(pickle.dumps([np.zeros(2, np.float16)]))
    with pytest.raises(ModelFileError, match="must hold a dict"):
        load_word_vectors(path)
    assert read_book2_pickle(path)[0].dtype == np.float16  # Rnnlm.pkl's form: a list
    with pytest.raises(ModelFileError, match="does not exist"):
        load_word_vectors(tmp_path / "missing.pkl")
    os.mkfifo(tmp_path / "pipe.pkl")  # opening it to read would wait for a writer forever
    with pytest.raises(ModelFileError, match="not a regular file"):
        load_word_vectors(tmp_path / "pipe.pkl")


def test_word_vector_npz_round_trip_and_size_cap(tmp_path):
    from scratchdl.io import save_word_vectors

    W = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = save_word_vectors(tmp_path / "v.npz", W, {0: "a", 1: "b", 2: "<eos>"})
    W2, word_to_id, id_to_word = load_word_vectors(path)
    np.testing.assert_array_equal(W2, W)
    assert word_to_id == {"a": 0, "b": 1, "<eos>": 2} and id_to_word[2] == "<eos>"
    with pytest.raises(ModelFileError, match="limit"):
        load_word_vectors(path, max_bytes=16)
    np.savez(tmp_path / "other.npz", W=W)
    with pytest.raises(ModelFileError, match="not a word-vector file"):
        load_word_vectors(tmp_path / "other.npz")
