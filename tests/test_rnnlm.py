"""Language models (second book, ch. 5-7): gradients through whole models (float64), weight
tying, training lowers perplexity, eval_perplexity's definition, clipping, save/load (the
book's pickles through the safe reader), generation."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ModelFileError
from scratchdl.gradient import numerical_gradient
from scratchdl.optimizers import SGD
from scratchdl.rnnlm import BetterRnnlm, BetterRnnlmGen, Rnnlm, RnnlmGen, SimpleRnnlm
from scratchdl.train.rnnlm import RnnlmTrainer, clip_grads, eval_perplexity, remove_duplicate

BOOK2 = os.environ.get("SCRATCHDL_BOOK2_DIR")


@pytest.mark.parametrize("cls", [SimpleRnnlm, Rnnlm])
def test_model_gradients_float64(cls):
    rng = np.random.default_rng(0)
    model = cls(7, 3, 4, rng=0, dtype=np.float64)
    xs, ts = rng.integers(0, 7, (2, 3)), rng.integers(0, 7, (2, 3))
    model.reset_state()
    model.forward(xs, ts)
    model.backward()
    for p, g in zip(model.params, [g.copy() for g in model.grads], strict=True):

        def loss(_=None):
            model.reset_state()
            return model.forward(xs, ts)

        np.testing.assert_allclose(g, numerical_gradient(loss, p), rtol=1e-5, atol=1e-8)


def test_better_rnnlm_ties_weights_and_its_merged_gradient_is_right():
    rng = np.random.default_rng(1)
    model = BetterRnnlm(6, 4, 4, dropout_ratio=0.0, rng=0, dtype=np.float64)
    assert np.shares_memory(model.params[0], model.layers[-1].params[0])
    xs, ts = rng.integers(0, 6, (2, 3)), rng.integers(0, 6, (2, 3))
    model.reset_state()
    model.forward(xs, ts)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    assert len(params) == len(model.params) - 1
    grads = [g.copy() for g in grads]
    for p, g in zip(params, grads, strict=True):

        def loss(_=None):
            model.reset_state()
            return model.forward(xs, ts)

        np.testing.assert_allclose(g, numerical_gradient(loss, p), rtol=1e-5, atol=1e-8)


def test_clip_grads_scales_to_the_norm_and_leaves_small_ones():
    grads = [np.full(4, 3.0), np.full((2, 2), 4.0)]  # norm sqrt(4*9 + 4*16) = 10
    assert clip_grads(grads, 5.0) == pytest.approx(10.0)
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    assert total == pytest.approx(5.0, rel=1e-6)
    small = [np.ones(4)]
    clip_grads(small, 5.0)
    np.testing.assert_array_equal(small[0], 1.0)


class _Uniform:
    """A 'model' whose every prediction is uniform over V words: perplexity exactly V."""

    def __init__(self, V):
        self.V = V
        self.seen = []

    def forward(self, xs, ts):
        self.seen.append((xs.copy(), ts.copy()))
        return float(np.log(self.V))


def test_eval_perplexity_is_the_books_definition():
    model = _Uniform(17)
    corpus = np.arange(101)
    assert eval_perplexity(model, corpus, batch_size=2, time_size=5) == pytest.approx(17)
    # (101 - 1) // (2 * 5) = 10 steps; rows start 50 apart; targets are the next word.
    assert len(model.seen) == 10
    xs, ts = model.seen[1]
    np.testing.assert_array_equal(xs, [[5, 6, 7, 8, 9], [55, 56, 57, 58, 59]])
    np.testing.assert_array_equal(ts, xs + 1)
    with pytest.raises(ConfigError, match="too short"):
        eval_perplexity(model, np.arange(5), 2, 5)


def _toy_corpus(n=1500, seed=0):
    # A corpus with structure: a repeating phrase of 10 words with noise words between.
    rng = np.random.default_rng(seed)
    phrase = np.arange(10)
    out = []
    while len(out) < n:
        out.extend(phrase)
        out.extend(rng.integers(10, 20, 2))
    return np.array(out[:n])


def test_rnnlm_trainer_lowers_perplexity_far_below_uniform():
    corpus = _toy_corpus()
    model = Rnnlm(20, 16, 16, rng=0)
    model.reset_state()
    before = eval_perplexity(model, corpus, 5, 10)
    trainer = RnnlmTrainer(model, SGD(lr=10))
    history = trainer.fit(
        corpus[:-1],
        corpus[1:],
        max_epoch=15,
        batch_size=5,
        time_size=10,
        max_grad=0.25,
        eval_interval=10,
        log=None,
    )
    model.reset_state()
    after = eval_perplexity(model, corpus, 5, 10)
    assert before > 15  # about uniform over 20 words
    assert after < 4.0  # 10 of every 12 words are predictable
    assert trainer.ppl_list[-1] < trainer.ppl_list[0]
    assert len(history.loss) == 15 * (1499 // 50)


def test_save_and_load_params_round_trip(tmp_path):
    model = BetterRnnlm(12, 6, 6, rng=0)
    path = model.save_params(tmp_path / "m.npz")
    other = BetterRnnlm(12, 6, 6, rng=1)
    other.load_params(path)
    for a, b in zip(model.params, other.params, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.shares_memory(other.params[0], other.layers[-1].params[0])  # still tied
    with pytest.raises(ModelFileError, match="needs"):
        Rnnlm(13, 6, 6).load_params(path)
    with pytest.raises(ConfigError, match=r"\.npz"):
        model.save_params(tmp_path / "m.pkl")


def test_book_pickle_loads_safely_and_malicious_ones_are_refused(tmp_path):
    model = Rnnlm(9, 4, 5, rng=0)
    book = tmp_path / "Rnnlm.pkl"
    with open(book, "wb") as f:  # the book's save_params: float16 list, protocol as it pickles
        pickle.dump([p.astype(np.float16) for p in model.params], f)
    other = Rnnlm(9, 4, 5, rng=1)
    other.load_params(book)
    np.testing.assert_allclose(other.params[1], model.params[1], atol=1e-3)
    assert other.params[1].dtype == np.float32

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(ModelFileError, match="refused"):
        other.load_params(evil)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(ModelFileError, match="more than the 10 allowed|larger than 10 bytes"):
        other.load_params(book, max_bytes=10)
    with pytest.raises(ModelFileError, match="shapes"):
        Rnnlm(9, 4, 6).load_params(book)
    with pytest.raises(ModelFileError, match="does not exist"):
        other.load_params(tmp_path / "missing.pkl")


def test_generators_sample_reproducibly_and_skip_words():
    gen = RnnlmGen(15, 4, 4, rng=0)
    a = gen.generate(3, skip_ids=[5, 6], sample_size=30, rng=1)
    gen.reset_state()
    b = gen.generate(3, skip_ids=[5, 6], sample_size=30, rng=1)
    assert a == b and len(a) == 30 and a[0] == 3
    assert not {5, 6} & set(a[1:])
    better = BetterRnnlmGen(15, 4, 4, rng=0)
    out = better.generate(0, sample_size=10, rng=0)
    assert len(out) == 10 and all(0 <= w < 15 for w in out)
    state = better.get_state()
    better.set_state(state)


@pytest.mark.skipif(not BOOK2, reason="SCRATCHDL_BOOK2_DIR is not set")
def test_the_books_rnnlm_pickle_loads_into_rnnlm():
    model = Rnnlm()
    model.load_params(Path(BOOK2) / "ch06" / "Rnnlm.pkl")
    assert model.params[0].shape == (10000, 100)
    assert np.abs(model.params[1]).max() > 0
