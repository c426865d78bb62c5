"""The second book's chapter 5-8 scripts, run unchanged on scratchdl through the shim packages
of tests/_book2.py (common.time_layers, common.base_model, RnnlmTrainer, eval_perplexity,
eval_seq2seq point at scratchdl)."""

from __future__ import annotations

import numpy as np
import pytest

from _book2 import book2_dir, ptb_train_dir, run_book2_script


def test_ch07_show_addition_dataset(tmp_path):
    out, _ = run_book2_script("ch07", "show_addition_dataset.py", tmp_path)
    lines = out.strip().split("\n")
    assert lines[0] == "(45000, 7) (45000, 5)"
    assert lines[1] == "(5000, 7) (5000, 5)"
    assert lines[2].split() == ["[", "3", "0", "2", "0", "0", "11", "5]"]
    assert [line.rstrip() for line in lines[4:6]] == ["71+118", "_189"]


@pytest.mark.slow
def test_ch08_visualize_attention_runs_the_books_classes_on_our_layers(tmp_path):
    # The book's own ch07 Encoder/Seq2seq and ch08 attention classes, on our TimeLSTM,
    # TimeEmbedding, TimeAffine, Softmax, and our load_params reading AttentionSeq2seq.pkl.
    names = (
        "attention_map.tolist()",
        "[list(map(int, model.generate(x_test[[i]], int(t_test[i, 0]), 10))) for i in range(20)]",
        "t_test[:20, 1:].tolist()",
    )
    _, values = run_book2_script("ch08", "visualize_attention.py", tmp_path, names)
    attention = np.array(values[names[0]])
    assert attention.shape == (10, 29)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-4)
    assert values[names[1]] == values[names[2]]  # the book's model answers all 20 right


@pytest.mark.slow
def test_ch06_eval_with_the_training_file(tmp_path):
    ptb = ptb_train_dir()
    out, values = run_book2_script(
        "ch06", "eval.py", tmp_path, ("ppl_test",), env={"SCRATCHDL_PTB_DIR": str(ptb)}
    )
    assert "test perplexity:" in out
    assert 100 < values["ppl_test"] < 200


@pytest.mark.slow
def test_ch06_eval_of_rnnlm_pkl_matches_ours_on_the_books_ids(tmp_path):
    """The acceptance of the book's Rnnlm.pkl: the book's ch06/eval.py, unchanged (its Rnnlm
    class, its load_params call, its eval_perplexity call), against scratchdl's Rnnlm and
    eval_perplexity, both on the PTB test file numbered with the book's training vocabulary
    (from cbow_params.pkl, see load_ptb's vocab=). The whole file, 82,430 words: about 3 s
    for each side on this machine."""
    from scratchdl.data.ptb import load_ptb
    from scratchdl.rnnlm import Rnnlm
    from scratchdl.train.rnnlm import eval_perplexity

    book2 = book2_dir()
    vocab = book2 / "ch04" / "cbow_params.pkl"
    env = {"SCRATCHDL_PTB_DIR": str(book2 / "ptb"), "SCRATCHDL_PTB_VOCAB": str(vocab)}
    out, values = run_book2_script("ch06", "eval.py", tmp_path, ("ppl_test",), env=env)
    assert "test perplexity:" in out
    book = values["ppl_test"]

    corpus, _, _ = load_ptb("test", data_dir=book2, vocab=vocab)
    model = Rnnlm()
    model.load_params(book2 / "ch06" / "Rnnlm.pkl")
    model.reset_state()
    ours = eval_perplexity(model, corpus)
    assert abs(ours - book) / book < 0.01
    # The book reports a test perplexity of about 136 for this model; word ids not the
    # book's would give thousands.
    assert 130 < ours < 142
