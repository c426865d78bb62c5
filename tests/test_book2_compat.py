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


def test_ch02_ppmi_and_svd_scripts_print_the_books_numbers(tmp_path):
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


# The book's own ch04 models (cbow.py, skip_gram.py and negative_sampling_layer.py, whose
# classes build on common.layers' Embedding and SigmoidWithLoss) trained by our book-2
# Trainer on a toy corpus: they run on scratchdl's layers and learn.
_TRAIN_BOOK_MODEL = """
from common.optimizer import Adam
from common.trainer import Trainer
from common.util import create_contexts_target, preprocess
text = ' '.join(['you say goodbye and i say hello .'] * 20)
corpus, word_to_id, id_to_word = preprocess(text)
contexts, target = create_contexts_target(corpus, window_size=2)
model = MODEL(len(word_to_id), 10, 2, corpus)
trainer = Trainer(model, Adam(0.01))
trainer.fit(contexts, target, max_epoch=60, batch_size=16, eval_interval=1)
losses = trainer.loss_list
"""


@pytest.mark.slow
@pytest.mark.parametrize(("script", "model"), [("cbow.py", "CBOW"), ("skip_gram.py", "SkipGram")])
def test_ch04_book_models_train_on_our_layers(tmp_path, script, model):
    out, v = run_book2_script(
        "ch04", script, tmp_path, ("losses",), after=_TRAIN_BOOK_MODEL.replace("MODEL", model)
    )
    losses = v["losses"]
    assert len(losses) == 60 * 9, losses[:2]  # 156 windows: 9 batches of 16 per epoch
    # Untrained: the true word scores log 2 and so do 5 negatives per context window.
    per_window = 6 * np.log(2) * (1 if model == "CBOW" else 4)
    assert losses[0] == pytest.approx(per_window, rel=0.01)
    # Skip-gram cannot get far below half: "say" is followed by "goodbye" and by "hello".
    assert np.mean(losses[-9:]) < 0.6 * losses[0]
