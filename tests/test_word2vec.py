"""word2vec (book 2, ch. 3-4): float64 gradient checks of every layer and model, the sampler's
distribution, no input mutation, and the book's Trainer on the toy corpus."""

import numpy as np
import pytest

from scratchdl.errors import ConfigError, DivergenceError, ShapeError
from scratchdl.gradient import numerical_gradient
from scratchdl.optimizers import SGD, Adam
from scratchdl.train.book2 import Trainer, clip_grads, remove_duplicate
from scratchdl.word2vec import (
    CBOW,
    EmbeddingDot,
    NegativeSamplingLoss,
    SimpleCBOW,
    SimpleSkipGram,
    SkipGram,
    UnigramSampler,
)
from scratchdl.words import convert_one_hot, create_contexts_target, preprocess

TEXT = "You say goodbye and I say hello."


def toy_data(window=1):
    corpus, word_to_id, id_to_word = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window)
    return corpus, len(word_to_id), contexts, target


def check_model(model, x, t, rtol=1e-5, atol=1e-8):
    """Analytic gradients of every distinct weight (shared copies summed) against central
    differences of the loss, in float64; inputs unchanged."""
    x0, t0 = x.copy(), t.copy()
    model.forward(x, t)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    grads = [g.copy() for g in grads]
    for p, g in zip(params, grads, strict=True):
        assert p.dtype == np.float64
        numeric = numerical_gradient(lambda _=None: model.forward(x, t), p)
        np.testing.assert_allclose(g, numeric, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(t, t0)
    return params


def fixed_samples(loss_layer, samples):
    loss_layer.sampler.get_negative_sample = lambda target: samples


def test_embedding_dot_gradients():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 4))
    h = rng.standard_normal((5, 4))
    idx = np.array([0, 3, 3, 5, 1])
    layer = EmbeddingDot(W)
    w = rng.standard_normal(5)
    np.testing.assert_allclose(layer.forward(h, idx), np.sum(W[idx] * h, axis=1))
    dh = layer.backward(w)
    f = lambda _=None: float(np.sum(layer.forward(h, idx) * w))  # noqa: E731
    np.testing.assert_allclose(dh, numerical_gradient(f, h), rtol=1e-6, atol=1e-9)
    layer.forward(h, idx)
    layer.backward(w)
    dW = layer.grads[0].copy()
    np.testing.assert_allclose(dW, numerical_gradient(f, W), rtol=1e-6, atol=1e-9)
    with pytest.raises(ShapeError, match="one row per id"):
        layer.forward(h[:2], idx)


def test_negative_sampling_loss_gradients():
    rng = np.random.default_rng(1)
    corpus = np.array([0, 1, 2, 3, 4, 5, 6, 1, 2, 0])
    W = 0.5 * rng.standard_normal((7, 3))
    h = rng.standard_normal((4, 3))
    target = np.array([1, 2, 6, 0])
    layer = NegativeSamplingLoss(W, corpus, sample_size=3, rng=0)
    assert len(layer.params) == 4 and all(p is W for p in layer.params)
    fixed_samples(layer, np.array([[0, 2, 3], [5, 6, 0], [1, 1, 2], [4, 3, 2]]))
    f = lambda _=None: layer.forward(h, target)  # noqa: E731
    f()
    dh = layer.backward()
    np.testing.assert_allclose(dh, numerical_gradient(f, h), rtol=1e-6, atol=1e-9)
    check_model_like = remove_duplicate(layer.params, layer.grads)
    assert len(check_model_like[0]) == 1
    np.testing.assert_allclose(
        check_model_like[1][0], numerical_gradient(f, W), rtol=1e-6, atol=1e-9
    )


def test_simple_cbow_and_skip_gram_gradients():
    corpus, V, contexts, target = toy_data()
    c1, t1 = convert_one_hot(contexts, V), convert_one_hot(target, V)
    cbow = SimpleCBOW(V, 3, rng=0, dtype=np.float64)
    params = check_model(cbow, c1, t1)
    assert len(params) == 2 and params[0] is cbow.word_vecs  # W_in shared by two layers
    check_model(SimpleSkipGram(V, 3, rng=1, dtype=np.float64), c1, t1)


@pytest.mark.parametrize("window", [1, 2])
def test_cbow_and_skip_gram_gradients(window):
    corpus, V, contexts, target = toy_data(window)
    rng = np.random.default_rng(window)
    samples = rng.integers(0, V, (len(target), 5))
    cbow = CBOW(V, 4, window, corpus, rng=0, dtype=np.float64)
    # Larger weights than the book's 0.01 so the check sees more than the linear regime.
    for p in cbow.params:
        p[...] = rng.standard_normal(p.shape)
    fixed_samples(cbow.ns_loss, samples)
    assert len(check_model(cbow, contexts, target)) == 2
    sg = SkipGram(V, 4, window, corpus, rng=0, dtype=np.float64)
    for p in sg.params:
        p[...] = rng.standard_normal(p.shape)
    for layer in sg.loss_layers:
        fixed_samples(layer, samples)
    assert len(check_model(sg, contexts, target)) == 2


def test_models_are_float32_by_default_and_check_shapes():
    corpus, V, contexts, target = toy_data()
    model = CBOW(V, 5, 1, corpus, rng=0)
    assert model.word_vecs.dtype == np.float32
    assert isinstance(model.forward(contexts, target), float)
    model.backward()
    assert all(g.dtype == np.float32 for g in model.grads)
    with pytest.raises(ShapeError, match=r"\(N, 2, \.\.\.\)"):
        model.forward(contexts[:, :1], target)
    np.testing.assert_array_equal(
        CBOW(V, 5, 1, corpus, rng=3).word_vecs, CBOW(V, 5, 1, corpus, rng=3).word_vecs
    )


def test_unigram_sampler_is_the_books_choice_without_replacement():
    corpus = np.array([0] * 8 + [1] * 4 + [2] * 2 + [3] * 1)
    sampler = UnigramSampler(corpus, 0.75, 2, rng=0)
    p = np.array([8, 4, 2, 1]) ** 0.75
    np.testing.assert_allclose(sampler.word_p, p / p.sum())
    target = np.tile([0, 1, 2, 3], 20000)
    got = sampler.get_negative_sample(target)
    assert got.shape == (80000, 2)
    assert not (got == target[:, None]).any() and (got[:, 0] != got[:, 1]).all()
    # Per target, the ordered pairs must come with the probabilities of the book's
    # np.random.choice(V, 2, replace=False, p=p with the target's 0): first draw ∝ p, second
    # ∝ p over what is left.
    for tgt in range(4):
        rows = got[target == tgt]
        q = sampler.word_p.copy()
        q[tgt] = 0
        q /= q.sum()
        for a in range(4):
            for b in range(4):
                if len({a, b, tgt}) < 3:
                    continue
                expected = q[a] * q[b] / (1 - q[a])
                seen = np.mean((rows[:, 0] == a) & (rows[:, 1] == b))
                assert seen == pytest.approx(expected, abs=4 * np.sqrt(expected / len(rows)))
    with pytest.raises(ConfigError, match="sample_size must be in 1..3"):
        UnigramSampler(corpus, 0.75, 4)


def test_remove_duplicate_and_clip_grads():
    W = np.ones((2, 3))
    b = np.zeros(3)
    g1, g2, g3, g4 = np.ones((2, 3)), 2 * np.ones((2, 3)), np.ones(3), np.arange(6.0).reshape(3, 2)
    params, grads = remove_duplicate([W, b, W, W.T], [g1, g3, g2, g4])
    assert params[0] is W and params[1] is b and len(params) == 2
    np.testing.assert_array_equal(grads[0], 3 + g4.T)
    assert g1.tolist() == np.ones((2, 3)).tolist()  # the layers' gradients are left alone
    grads = [np.full(3, 3.0), np.full(1, 4.0)]  # norm sqrt(27 + 16)
    assert clip_grads(grads, 1.0) == pytest.approx(np.sqrt(43))
    assert np.sqrt(sum(np.sum(g**2) for g in grads)) == pytest.approx(1.0, rel=1e-5)


def test_book_trainer_learns_the_toy_corpus(capsys):
    corpus, V, contexts, target = toy_data()
    c1, t1 = convert_one_hot(contexts, V), convert_one_hot(target, V)
    model = SimpleCBOW(V, 5, rng=0)
    trainer = Trainer(model, Adam(), rng=0)
    trainer.fit(c1, t1, max_epoch=1000, batch_size=3)  # ch03/train.py's settings
    assert trainer.current_epoch == 1000 and len(trainer.loss_list) == 1000  # 2 steps/epoch
    assert trainer.loss_list[0] == pytest.approx(np.log(V), abs=0.01)  # untrained: uniform
    assert trainer.loss_list[-1] < 1.0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| epoch 1 |  iter 1 / 2 | time 0[s] | loss 1.95")
    model = SimpleCBOW(V, 5, rng=0)
    with pytest.raises(DivergenceError, match="epoch 1, iteration"):
        model.params[0][...] = np.nan
        Trainer(model, SGD(lr=1.0), rng=0).fit(c1, t1, 1, 3)


class _StopAt:
    def __init__(self, at):
        self.at = at

    def on_train_begin(self, trainer):
        pass

    def on_iteration(self, trainer, loss):
        if trainer.iteration == self.at:
            trainer.request_stop("interrupted")

    def on_train_end(self, trainer, history):
        pass


def test_book_trainer_stops_and_resumes_step_for_step():
    corpus, V, contexts, target = toy_data()

    def run(stop_at=None):
        model = CBOW(V, 4, 1, corpus, rng=0)
        opt = Adam()
        trainer = Trainer(model, opt, rng=1, callbacks=[_StopAt(stop_at)] if stop_at else [])
        trainer.fit(contexts, target, max_epoch=3, batch_size=2, eval_interval=1, verbose=False)
        return model, opt, trainer

    full_model, _, full = run()
    assert full.iteration == 9 and full.current_epoch == 3 and full.stop_reason is None
    model, opt, trainer = run(stop_at=4)  # mid-epoch: 3 steps per epoch
    assert trainer.stop_reason == "interrupted" and trainer.iteration == 4
    # A checkpoint: weights, optimizer, loop and sampler generator states; a fresh process.
    saved = (
        [p.copy() for p in model.params],
        opt.state_dict(),
        trainer.state_dict(),
        model.ns_loss.sampler.rng.bit_generator.state,
    )
    model2 = CBOW(V, 4, 1, corpus, rng=5)
    for p, v in zip(model2.params, saved[0], strict=True):
        p[...] = v
    opt2 = Adam()
    opt2.load_state_dict(saved[1])
    model2.ns_loss.sampler.rng.bit_generator.state = saved[3]
    trainer2 = Trainer(model2, opt2, rng=99)
    trainer2.load_state_dict(saved[2])
    assert trainer2.current_epoch == 1 and trainer2.epoch_step == 1
    remaining = 3 - trainer2.current_epoch  # the unfinished epoch counts as one
    trainer2.fit(contexts, target, remaining, batch_size=2, eval_interval=1, verbose=False)
    assert trainer2.iteration == 9 and trainer2.current_epoch == 3
    np.testing.assert_array_equal(model2.word_vecs, full_model.word_vecs)
    assert trainer2.loss_list == full.loss_list


def test_backward_before_forward_raises():
    from scratchdl.errors import StateError

    corpus, V, contexts, target = toy_data()
    for model in (
        SimpleCBOW(V, 3, rng=0),
        SimpleSkipGram(V, 3, rng=0),
        CBOW(V, 3, 1, corpus, rng=0),
        SkipGram(V, 3, 1, corpus, rng=0),
    ):
        with pytest.raises(StateError, match="forward first"):
            model.backward()
    with pytest.raises(StateError):
        EmbeddingDot(np.ones((3, 2))).backward(np.ones(1))


def test_optimizers_take_the_books_lists():
    W, b = np.ones((2, 2)), np.zeros(2)
    SGD(lr=0.5).update([W, b], [np.ones((2, 2)), np.full(2, 2.0)])  # the book's custom loops
    assert W.tolist() == [[0.5, 0.5], [0.5, 0.5]] and b.tolist() == [-1.0, -1.0]
    adam = Adam()
    adam.update([W], [np.ones((2, 2))])
    assert set(adam.state) == {0}  # state kept per position


def test_book_trainer_checks_its_arguments():
    corpus, V, contexts, target = toy_data()
    trainer = Trainer(CBOW(V, 3, 1, corpus, rng=0), Adam(), rng=0)
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        trainer.fit(contexts, target, 1, 0)
    with pytest.raises(ConfigError, match="max_grad"):
        trainer.fit(contexts, target, 1, 2, max_grad=-1.0)
    with pytest.raises(ShapeError, match="same, non-zero number of rows"):
        trainer.fit(contexts, target[:-1], 1, 2)
    assert trainer.iteration == 0
