"""The second book's small data sets: spiral (ch. 1) and the shipped seq2seq files (ch. 7)."""

import hashlib
from importlib import resources

import numpy as np
import pytest

from scratchdl.data import sequence, spiral
from scratchdl.errors import DataError


def test_spiral_is_the_books_point_by_point_construction():
    x, t = spiral.load_data()
    assert x.shape == (300, 2) and t.shape == (300, 3) and t.dtype == np.int64
    # The book draws one normal number per point, arm after arm, from the seeded legacy
    # generator; the vectorised draw must give the same points.
    rs = np.random.RandomState(1984)
    for j in range(3):
        for i in range(100):
            r = i / 100
            theta = 4.0 * j + 4.0 * r + rs.randn() * 0.2
            np.testing.assert_allclose(x[100 * j + i], [r * np.sin(theta), r * np.cos(theta)])
            assert t[100 * j + i].tolist() == [int(k == j) for k in range(3)]
    state = np.random.get_state()[1].copy()
    spiral.load_data(seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global generator untouched
    assert not np.allclose(spiral.load_data(seed=7)[0], x)


def test_shipped_files_are_the_books():
    expected = {
        "addition.txt": "34e0746f5014c11311c9452ee9050bf14e38eca44ec4aaf4d81eba2b38674009",
        "date.txt": "62e66a301ce8537868e725512d2a45663fc366526b7e42028cb703bda2b1c79a",
    }
    folder = resources.files("scratchdl.data").joinpath("sequences")
    for name, sha in expected.items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == sha
    assert "MIT" in folder.joinpath("LICENSE").read_text(encoding="utf-8")


def test_addition_split_and_ids_are_the_books():
    (x, t), (xt, tt) = sequence.load_data("addition.txt")
    assert (x.shape, t.shape, xt.shape, tt.shape) == ((45000, 7), (45000, 5), (5000, 7), (5000, 5))
    # What the book's ch07/show_addition_dataset.py prints.
    assert x[0].tolist() == [3, 0, 2, 0, 0, 11, 5]
    assert t[0].tolist() == [6, 0, 11, 7, 5]
    char_to_id, id_to_char = sequence.get_vocab()
    assert len(char_to_id) == 13
    assert "".join(id_to_char[i] for i in x[0]) == "71+118 "
    assert "".join(id_to_char[i] for i in t[0]) == "_189 "
    questions, answers = sequence.read_pairs("addition.txt")
    assert sorted(questions) == sorted("".join(id_to_char[i] for i in r) for r in np.r_[x, xt])
    assert answers[0] == "_91  "


def test_date_vocab_is_its_own_and_seed_changes_the_order():
    (x, t), (xt, _) = sequence.load_data("date.txt")
    char_to_id, _ = sequence.get_vocab()
    assert x.shape == (45000, 29) and t.shape == (45000, 11) and len(char_to_id) == 59
    assert "+" not in char_to_id  # addition's characters do not leak into date's ids
    (x2, _), (xt2, _) = sequence.load_data("date.txt", seed=1)
    assert not np.array_equal(x, x2)
    rows, counts = np.unique(np.r_[x, xt], axis=0, return_counts=True)
    rows2, counts2 = np.unique(np.r_[x2, xt2], axis=0, return_counts=True)
    assert np.array_equal(rows, rows2) and np.array_equal(counts, counts2)  # the same rows


def test_own_file_and_errors(tmp_path):
    good = tmp_path / "pairs.txt"
    good.write_text("ab_x\nba_y\n" * 10, encoding="utf-8")
    (x, t), (xt, tt) = sequence.load_data(good, seed=0)
    assert x.shape == (18, 2) and xt.shape == (2, 2) and t.shape == (18, 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("ab_x\nabc\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: no '_'"):
        sequence.load_data(bad)
    bad.write_text("ab_x\nabc_x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"question must have the same width .*\[2, 3\]"):
        sequence.load_data(bad)
    with pytest.raises(DataError, match="addition.txt, date.txt"):
        sequence.load_data("nope.txt")
