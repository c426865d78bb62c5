"""seq2seq and attention (second book, ch. 7-8): float64 gradient checks of the layers and the
whole models, the vectorised TimeAttention against the book's per-step Attention, greedy
decoding in batches equal to one row at a time, a short training that learns, the book's
AttentionSeq2seq.pkl."""

import os
from pathlib import Path

import numpy as np
import pytest

from scratchdl.attention import (
    Attention,
    AttentionSeq2seq,
    AttentionWeight,
    TimeAttention,
    WeightSum,
)
from scratchdl.errors import StateError
from scratchdl.gradient import numerical_gradient
from scratchdl.optimizers import Adam
from scratchdl.seq2seq import PeekySeq2seq, Seq2seq, eval_seq2seq, seq2seq_accuracy
from scratchdl.train.book2 import Trainer

BOOK2 = os.environ.get("SCRATCHDL_BOOK2_DIR")


def _check_two_inputs(layer, a, b, rng):
    out = layer.forward(a, b)
    w = rng.standard_normal(out.shape)
    a0, b0 = a.copy(), b.copy()
    da, db = layer.backward(w)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)

    def loss(_=None):
        return float(np.sum(layer.forward(a, b) * w))

    np.testing.assert_allclose(da, numerical_gradient(loss, a), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-5, atol=1e-8)


def test_attention_layers_gradients():
    rng = np.random.default_rng(0)
    hs, h, a = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3)), rng.random((2, 5))
    _check_two_inputs(WeightSum(), hs, a, rng)
    _check_two_inputs(AttentionWeight(), hs, h, rng)
    _check_two_inputs(Attention(), hs, h, rng)
    _check_two_inputs(TimeAttention(), hs, rng.standard_normal((2, 4, 3)), rng)


def test_time_attention_equals_the_books_per_step_attention():
    rng = np.random.default_rng(1)
    hs_enc, hs_dec = rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 5, 4))
    dout = rng.standard_normal((3, 5, 4))
    layer = TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    denc, ddec = layer.backward(dout)
    denc_ref = np.zeros_like(hs_enc)
    for t in range(5):
        step = Attention()
        np.testing.assert_allclose(out[:, t], step.forward(hs_enc, hs_dec[:, t]), rtol=1e-12)
        np.testing.assert_allclose(layer.attention_weights[t], step.attention_weight, rtol=1e-12)
        dhs, dh = step.backward(dout[:, t])
        denc_ref += dhs
        np.testing.assert_allclose(ddec[:, t], dh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(denc, denc_ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(StateError):
        TimeAttention().backward(dout)


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq, AttentionSeq2seq])
def test_model_gradients_float64(cls):
    rng = np.random.default_rng(2)
    model = cls(8, 3, 4, rng=0, dtype=np.float64)
    xs, ts = rng.integers(0, 8, (2, 4)), rng.integers(0, 8, (2, 3))
    model.forward(xs, ts)
    model.backward()
    grads = [g.copy() for g in model.grads]
    assert len(grads) == len(model.params)

    def loss(_=None):
        return model.forward(xs, ts)

    for p, g in zip(model.params, grads, strict=True):
        np.testing.assert_allclose(g, numerical_gradient(loss, p), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq, AttentionSeq2seq])
def test_batched_generation_equals_one_row_at_a_time(cls):
    rng = np.random.default_rng(3)
    model = cls(9, 4, 6, rng=1)
    xs = rng.integers(0, 9, (4, 5))
    batch = model.generate(xs, 2, 6)
    assert batch.shape == (4, 6)
    for i in range(4):
        assert model.generate(xs[i : i + 1], 2, 6) == list(batch[i])


def _reverse_task(n, rng):
    # Copy a 4-digit string backwards: answer = '_' + reversed digits.
    x = rng.integers(0, 10, (n, 4))
    t = np.concatenate([np.full((n, 1), 10), x[:, ::-1]], axis=1)
    return x, t


@pytest.mark.parametrize("cls", [PeekySeq2seq, AttentionSeq2seq])
def test_short_training_learns_a_toy_task(cls):
    rng = np.random.default_rng(4)
    x, t = _reverse_task(2000, rng)
    model = cls(11, 8, 32, rng=0)
    trainer = Trainer(model, Adam(lr=0.01), rng=0)
    x_test, t_test = _reverse_task(200, np.random.default_rng(5))
    before = seq2seq_accuracy(model, x_test, t_test)
    trainer.fit(x, t, max_epoch=6, batch_size=50, max_grad=5.0, eval_interval=None, verbose=False)
    after = seq2seq_accuracy(model, x_test, t_test)
    assert before < 0.05
    assert after > 0.5, after
    one = eval_seq2seq(model, x_test[:1], t_test[:1], {i: str(i) for i in range(11)})
    assert one in (0, 1)


@pytest.mark.slow
@pytest.mark.skipif(not BOOK2, reason="SCRATCHDL_BOOK2_DIR is not set")
def test_the_books_attention_pickle_answers_the_date_test_split():
    from scratchdl.data import sequence

    (_, _), (x_test, t_test) = sequence.load_data("date.txt")
    char_to_id, _ = sequence.get_vocab()
    model = AttentionSeq2seq(len(char_to_id), 16, 256)
    model.load_params(Path(BOOK2) / "ch08" / "AttentionSeq2seq.pkl")
    assert seq2seq_accuracy(model, x_test[:, ::-1], t_test) >= 0.99


def test_attention_figure_is_a_png(tmp_path):
    from scratchdl.plots.attention import save_attention

    model = AttentionSeq2seq(9, 4, 6, rng=0)
    xs, ts = np.array([[1, 2, 3, 4]]), np.array([[0, 5, 6]])
    a = model.attention_map(xs, ts)
    assert a.shape == (1, 2, 4)
    np.testing.assert_allclose(a.sum(axis=2), 1.0, rtol=1e-5)
    path = save_attention(tmp_path / "map.png", a[0], ["_", "5"], list("abcd"), title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="shape"):
        save_attention(tmp_path / "bad.png", a[0], ["_"], list("abcd"))


def test_attention_figure_speaks_the_language_set():
    """Like every other figure, its axis names follow ``set_language`` (ch. 8.3.3's Figure
    8-26 in the Korean edition); the characters on the ticks stay as they are."""
    from scratchdl.plots.attention import plot_attention
    from scratchdl.plots.korean import language

    a = np.full((2, 3), 1 / 3)
    with language("ko", need_font=False):
        ax = plot_attention(a, ["_", "5"], list("1+2")).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("입력(인코더)", "출력(디코더)")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "+", "2"]
    ax = plot_attention(a, ["_", "5"], list("1+2")).axes[0]
    assert ax.get_xlabel() == "input (encoder)"


@pytest.mark.slow
@pytest.mark.skipif(not BOOK2, reason="SCRATCHDL_BOOK2_DIR is not set")
def test_the_books_attention_looks_at_the_year_when_writing_the_year():
    from scratchdl.data import sequence

    (_, _), (x_test, t_test) = sequence.load_data("date.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    model = AttentionSeq2seq(len(char_to_id), 16, 256)
    model.load_params(Path(BOOK2) / "ch08" / "AttentionSeq2seq.pkl")
    hits = total = 0
    for i in range(20):
        question = "".join(id_to_char[int(c)] for c in x_test[i])
        a = model.attention_map(x_test[[i], ::-1], t_test[[i]])[0]  # (11, T_in), reversed
        year = question.strip()[-4:]
        start = question.index(year) if question.count(year) == 1 else None
        if start is None:
            continue
        for row in range(4):  # the decoder reads '_', y, y, y and writes y, y, y, y
            pos = a.shape[1] - 1 - int(a[row].argmax())  # back to the question's order
            hits += start <= pos < start + 4
            total += 1
    assert total >= 40 and hits / total >= 0.9, (hits, total)


def _short_run(cls, data, hidden, steps):
    from scratchdl.data import sequence

    (x, t), _ = sequence.load_data(data)
    model = cls(len(sequence.get_vocab()[0]), 16, hidden, rng=0)
    trainer = Trainer(model, Adam(lr=0.001), rng=0)
    n = (steps + 1) * 128  # a loss record every 50 steps from step 1: the last covers the end
    losses = trainer.fit(x[:n, ::-1], t[:n], 1, 128, max_grad=5.0, eval_interval=50, verbose=False)
    return losses


@pytest.mark.slow
def test_short_form_peeky_reversed_addition_learns():
    # The book's ch. 7.5 run for 300 steps (its 25 epochs: 0.9844 test accuracy here, see
    # docs/book2.md). Measured: mean loss of steps 251-300 = 1.76 (ln 13 = 2.56 at the start).
    losses = _short_run(PeekySeq2seq, "addition.txt", 128, 300)
    assert losses[0] > 2.4
    assert losses[-1] < 1.85, losses


@pytest.mark.slow
def test_short_form_attention_on_dates_learns():
    # The book's ch. 8.3 run for 100 steps. Measured: mean loss of steps 51-100 = 1.40
    # (ln 59 = 4.08 at the start).
    losses = _short_run(AttentionSeq2seq, "date.txt", 256, 100)
    assert losses[0] > 3.8
    assert losses[-1] < 1.6, losses


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "last"),
    [
        ("ch07_train_seq2seq.py", "PeekySeq2seq, reversed input: test accuracy "),
        ("ch08_train_attention.py", "AttentionSeq2seq: test accuracy "),
    ],
)
def test_second_book_examples_run(script, last):
    import subprocess
    import sys

    path = Path(__file__).resolve().parents[1] / "examples" / "book2" / script
    proc = subprocess.run(
        [sys.executable, str(path), "--epochs", "1", "--max-iters", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("epoch 1: test accuracy")
    assert lines[-1].startswith(last) and "on 5000" in lines[-1]
