"""The second book's chapter 1-4 scripts, run unchanged on scratchdl through shim packages
(tests/_book2.py), print the book's numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from _book2 import SHIMS, ptb_train_dir, run_book2_script
from scratchdl.data import spiral
from test_io_book2 import ANALOGIES, NEIGHBOURS

NUMBER = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"


def test_shims_only_point_at_scratchdl():
    for relative, text in SHIMS.items():
        imports = re.findall(r"^(?:from|import) (\S+)", text, re.MULTILINE)
        assert all(m == "numpy" or m == "os" or m.startswith("scratchdl") for m in imports), (
            relative,
            imports,
        )


def test_ch01_spiral(tmp_path):
    out, values = run_book2_script("ch01", "show_spiral_dataset.py", tmp_path, ("x", "t"))
    assert out.split("\n")[:2] == ["x (300, 2)", "t (300, 3)"]
    x, t = spiral.load_data()
    np.testing.assert_allclose(values["x"], x)
    np.testing.assert_array_equal(values["t"], t)


def test_ch02_count_based_scripts_print_the_books_numbers(tmp_path):
    out, _ = run_book2_script("ch02", "similarity.py", tmp_path)
    assert out.strip() == "0.7071067691154799"
    out, _ = run_book2_script("ch02", "most_similar.py", tmp_path)
    assert out.strip().splitlines() == [
        "[query] you",
        " goodbye: 0.7071067691154799",
        " i: 0.7071067691154799",
        " hello: 0.7071067691154799",
        " say: 0.0",
        " and: 0.0",
    ]
    out, _ = run_book2_script("ch02", "ppmi.py", tmp_path)
    ppmi_rows = out.split("PPMI")[1].strip().splitlines()
    assert ppmi_rows[0] == "[[0.    1.807 0.    0.    0.    0.    0.   ]"
    assert ppmi_rows[-1] == " [0.    0.    0.    0.    0.    2.807 0.   ]]"
    out, values = run_book2_script("ch02", "count_method_small.py", tmp_path, ("U",))
    lines = out.strip().splitlines()
    assert lines[0] == "[0 1 0 0 0 0 0]"
    assert lines[1] == "[0.    1.807 0.    0.    0.    0.    0.   ]"
    # The book prints U[0] = [3.409e-01 -1.110e-16 -1.205e-01 ... -9.323e-01 ...]; the
    # singular values come in equal pairs, so LAPACK builds may order the pair's vectors
    # either way: the magnitudes are what carries over.
    top = np.sort(np.abs(values["U"][0]))[-3:]
    np.testing.assert_allclose(top, [0.1205, 0.3409, 0.9323], atol=1e-4)


def test_ch03_cbow_forward_and_training(tmp_path):
    out, v = run_book2_script("ch03", "cbow_predict.py", tmp_path, ("W_in", "W_out", "s"))
    W_in, W_out = np.array(v["W_in"]), np.array(v["W_out"])
    np.testing.assert_allclose(v["s"], [0.5 * (W_in[0] + W_in[2]) @ W_out], rtol=1e-12)
    out, v = run_book2_script(
        "ch03", "train.py", tmp_path, ("trainer.loss_list", "model.word_vecs"), timeout=300
    )
    losses = v["trainer.loss_list"]
    assert len(losses) == 1000  # one line per epoch: 2 batches of 3, eval_interval 20
    assert losses[0] == pytest.approx(np.log(7), abs=0.01) and losses[-1] < 1.0
    assert out.count("| epoch ") == 1000 and out.splitlines()[0].endswith("loss 1.95")
    vecs = out.strip().splitlines()[-7:]  # "you [ ... ]" for the 7 words, as the book prints
    assert [line.split()[0] for line in vecs] == ["you", "say", "goodbye", "and", "i", "hello", "."]
    assert np.array(v["model.word_vecs"]).shape == (7, 5)


def test_ch04_eval_prints_the_books_neighbours_and_analogies(tmp_path):
    out, _ = run_book2_script("ch04", "eval.py", tmp_path)
    for query, expected in NEIGHBOURS.items():
        block = out.split(f"[query] {query}\n")[1].splitlines()[:5]
        assert block == [f" {w}: {s}" for w, s in expected]
    for (a, b, c), word, score in ANALOGIES:
        block = out.split(f"[analogy] {a}:{b} = {c}:?\n")[1].splitlines()
        assert block[0] == f" {word}: {score}"


def test_ch02_show_ptb(tmp_path):
    folder = ptb_train_dir()
    out, _ = run_book2_script(
        "ch02", "show_ptb.py", tmp_path, env={"SCRATCHDL_PTB_DIR": str(folder)}
    )
    assert "corpus size: 929589" in out and "id_to_word[0]: aer" in out
    # The ids of the book's cbow_params.pkl (its vocabulary pickle came from the same file).
    assert "word_to_id['car']: 3856" in out and "word_to_id['lexus']: 7426" in out
