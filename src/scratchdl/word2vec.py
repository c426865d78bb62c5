"""word2vec (book 2, ch. 3-4): CBOW and skip-gram, first with full softmax, then with an
Embedding layer and negative sampling.

Every model has the second book's surface: ``params`` and ``grads`` are lists (a weight shared
by several layers appears once per layer, and :func:`scratchdl.train.book2.remove_duplicate`
adds up their gradients, as the book's ``Trainer`` does), ``forward(contexts, target)``
returns the loss, ``backward(dout=1)`` fills ``grads``, and ``word_vecs`` is the input weight.
Weights are float32, drawn from ``rng`` (a Generator or a seed; never NumPy's global state).

>>> from scratchdl.words import preprocess, create_contexts_target
>>> corpus, word_to_id, id_to_word = preprocess('You say goodbye and I say hello.')
>>> contexts, target = create_contexts_target(corpus, window_size=1)
>>> model = CBOW(len(word_to_id), 5, 1, corpus, rng=0)
>>> loss = model.forward(contexts, target); model.backward()
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.layers import Embedding, MatMul, SigmoidWithLoss, SoftmaxWithLoss, _need

__all__ = [
    "CBOW",
    "EmbeddingDot",
    "NegativeSamplingLoss",
    "SimpleCBOW",
    "SimpleSkipGram",
    "SkipGram",
    "UnigramSampler",
]

Rng = np.random.Generator | int | None


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _weights(rng: np.random.Generator, shape: tuple[int, int], dtype) -> NDArray:
    # The book's 0.01 * np.random.randn(...).astype('f').
    return (0.01 * rng.standard_normal(shape)).astype(dtype)


def _collect(model, layers) -> None:
    model.params, model.grads = [], []
    for layer in layers:
        model.params += layer.params
        model.grads += layer.grads


def _contexts(contexts: ArrayLike, n_context: int, name: str) -> NDArray:
    contexts = np.asarray(contexts)
    if contexts.ndim < 2 or contexts.shape[1] != n_context:
        raise ShapeError(
            f"{name} expects contexts of shape (N, {n_context}, ...) (window_size words on "
            f"each side), got {contexts.shape}"
        )
    return contexts


class SimpleCBOW:
    """CBOW with one-hot input and a full softmax (book 2, ch. 3.4), window size 1.

    Parameters
    ----------
    vocab_size, hidden_size : int
    rng : Generator or int, optional
    dtype : float32 (default) or float64

    ``forward(contexts, target)``: one-hot ``contexts`` (N, 2, V) and ``target`` (N, V) (or
    labels (N,)); the hidden layer is the mean of the two context words' rows of ``W_in``.
    """

    def __init__(self, vocab_size: int, hidden_size: int, *, rng: Rng = None, dtype=np.float32):
        gen = _rng(rng)
        W_in = _weights(gen, (vocab_size, hidden_size), dtype)
        W_out = _weights(gen, (hidden_size, vocab_size), dtype)
        self.in_layer0 = MatMul(W_in)
        self.in_layer1 = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer = SoftmaxWithLoss()
        _collect(self, [self.in_layer0, self.in_layer1, self.out_layer])
        self.word_vecs = W_in

    def forward(self, contexts: ArrayLike, target: ArrayLike) -> float:
        contexts = _contexts(contexts, 2, "SimpleCBOW")
        h0 = self.in_layer0.forward(contexts[:, 0])
        h1 = self.in_layer1.forward(contexts[:, 1])
        h = (h0 + h1) * 0.5
        score = self.out_layer.forward(h)
        return self.loss_layer.forward(score, target)

    def backward(self, dout: float = 1.0) -> None:
        ds = self.loss_layer.backward(dout)
        da = self.out_layer.backward(ds)
        da *= 0.5
        self.in_layer1.backward(da)
        self.in_layer0.backward(da)


class SimpleSkipGram:
    """Skip-gram with one-hot input and a full softmax (book 2, ch. 3.5.2), window size 1:
    the target word predicts both context words; the loss is the sum of the two."""

    def __init__(self, vocab_size: int, hidden_size: int, *, rng: Rng = None, dtype=np.float32):
        gen = _rng(rng)
        W_in = _weights(gen, (vocab_size, hidden_size), dtype)
        W_out = _weights(gen, (hidden_size, vocab_size), dtype)
        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer1 = SoftmaxWithLoss()
        self.loss_layer2 = SoftmaxWithLoss()
        _collect(self, [self.in_layer, self.out_layer])
        self.word_vecs = W_in

    def forward(self, contexts: ArrayLike, target: ArrayLike) -> float:
        contexts = _contexts(contexts, 2, "SimpleSkipGram")
        h = self.in_layer.forward(target)
        s = self.out_layer.forward(h)
        l1 = self.loss_layer1.forward(s, contexts[:, 0])
        l2 = self.loss_layer2.forward(s, contexts[:, 1])
        return l1 + l2

    def backward(self, dout: float = 1.0) -> None:
        ds = self.loss_layer1.backward(dout) + self.loss_layer2.backward(dout)
        dh = self.out_layer.backward(ds)
        self.in_layer.backward(dh)


class EmbeddingDot:
    """Dot product of each hidden vector with one word's row of ``W`` (book 2, ch. 4.2.4).

    ``forward(h, idx)``: ``h`` (N, D), ``idx`` (N,) word ids; returns the scores (N,) =
    ``Σ_d W[idx] * h``. ``backward(dout)`` (N,) fills the Embedding's gradient and returns
    ``dh`` (N, D).
    """

    def __init__(self, W: NDArray) -> None:
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache: tuple[NDArray, NDArray] | None = None

    def forward(self, h: ArrayLike, idx: ArrayLike) -> NDArray:
        h = np.asarray(h)
        target_W = self.embed.forward(idx)
        if h.shape != target_W.shape:
            raise ShapeError(
                f"EmbeddingDot needs h of shape {target_W.shape} (one row per id), got {h.shape}"
            )
        self.cache = (h, target_W)
        return np.sum(target_W * h, axis=-1)

    def backward(self, dout: ArrayLike) -> NDArray:
        h, target_W = _need(self.cache, self)
        dout = np.asarray(dout)[..., None]
        self.embed.backward(dout * h)
        return dout * target_W


class UnigramSampler:
    """Negative samples drawn from the unigram distribution raised to ``power``
    (book 2, ch. 4.2.6).

    ``P(w) ∝ count(w) ** power`` (0.75 in the book makes rare words a little likelier).
    :meth:`get_negative_sample` draws ``sample_size`` distinct words per target, never the
    target itself: in distribution exactly the book's CPU code (``np.random.choice`` without
    replacement, with the target's probability set to 0), but vectorised: each of the
    ``sample_size`` rounds draws from the cumulative distribution for all rows at once and
    redraws only the rows whose word is already taken.

    Parameters
    ----------
    corpus : array of int, shape (n,)
    power : float
    sample_size : int
    rng : Generator or int, optional
    """

    def __init__(self, corpus: ArrayLike, power: float, sample_size: int, *, rng: Rng = None):
        corpus = np.asarray(corpus)
        if corpus.ndim != 1 or corpus.size == 0 or corpus.dtype.kind not in "iu":
            raise ShapeError("UnigramSampler needs a non-empty 1-D corpus of word ids")
        if corpus.min() < 0:
            raise ShapeError("UnigramSampler: the corpus holds negative word ids")
        counts = np.bincount(corpus)
        self.vocab_size = counts.shape[0]
        self.sample_size = int(sample_size)
        if not 1 <= self.sample_size < np.count_nonzero(counts):
            raise ConfigError(
                f"sample_size must be in 1..{np.count_nonzero(counts) - 1} (fewer than the "
                f"{np.count_nonzero(counts)} distinct words of the corpus), got {sample_size}"
            )
        word_p = counts.astype(np.float64) ** float(power)
        self.word_p = word_p / word_p.sum()
        self._cdf = np.cumsum(self.word_p)
        self.rng = _rng(rng)

    def _draw(self, n: int) -> NDArray[np.intp]:
        u = self.rng.random(n) * self._cdf[-1]
        return np.minimum(np.searchsorted(self._cdf, u, side="right"), self.vocab_size - 1)

    def get_negative_sample(self, target: ArrayLike) -> NDArray[np.intp]:
        """``(N, sample_size)`` word ids for targets of shape (N,)."""
        target = np.asarray(target)
        if target.ndim != 1:
            raise ShapeError(f"target must be word ids of shape (N,), got {target.shape}")
        n, k = target.shape[0], self.sample_size
        taken = np.empty((n, k + 1), dtype=np.intp)
        taken[:, 0] = target
        for j in range(1, k + 1):
            taken[:, j] = self._draw(n)
            rows = np.arange(n)
            while rows.size:
                # Redraw only where the word is the target or an earlier sample of the row.
                clash = (taken[rows, :j] == taken[rows, j][:, None]).any(axis=1)
                rows = rows[clash]
                taken[rows, j] = self._draw(rows.size)
        return taken[:, 1:]


class NegativeSamplingLoss:
    """Binary classification of the true word against ``sample_size`` negative samples
    (book 2, ch. 4.2.7): ``sample_size + 1`` EmbeddingDot layers sharing ``W`` and as many
    SigmoidWithLoss layers; the loss is their sum.

    ``forward(h, target)``: ``h`` (N, D), ``target`` (N,) word ids. ``backward(dout=1)``
    returns ``dh`` (N, D).
    """

    def __init__(
        self,
        W: NDArray,
        corpus: ArrayLike,
        power: float = 0.75,
        sample_size: int = 5,
        *,
        rng: Rng = None,
    ) -> None:
        self.sample_size = int(sample_size)
        self.sampler = UnigramSampler(corpus, power, sample_size, rng=rng)
        self.loss_layers = [SigmoidWithLoss() for _ in range(self.sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(self.sample_size + 1)]
        _collect(self, self.embed_dot_layers)

    def forward(self, h: ArrayLike, target: ArrayLike) -> float:
        target = np.asarray(target)
        negative_sample = self.sampler.get_negative_sample(target)
        n = target.shape[0]
        score = self.embed_dot_layers[0].forward(h, target)
        loss = self.loss_layers[0].forward(score, np.ones(n, dtype=np.int32))
        negative_label = np.zeros(n, dtype=np.int32)
        for i in range(self.sample_size):
            score = self.embed_dot_layers[1 + i].forward(h, negative_sample[:, i])
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout: float = 1.0) -> NDArray:
        dh = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers, strict=True):
            dh = dh + l1.backward(l0.backward(dout))
        return dh


class CBOW:
    """CBOW with Embedding input and negative sampling (book 2, ch. 4.3.1).

    Parameters
    ----------
    vocab_size, hidden_size, window_size : int
    corpus : array of int
        For the unigram distribution of the negative samples.
    rng : Generator or int, optional
        Draws the weights, then seeds the sampler.

    ``forward(contexts, target)``: ``contexts`` (N, 2 * window_size) and ``target`` (N,) word
    ids (:func:`scratchdl.words.create_contexts_target`).
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: ArrayLike,
        *,
        rng: Rng = None,
        dtype=np.float32,
    ) -> None:
        gen = _rng(rng)
        W_in = _weights(gen, (vocab_size, hidden_size), dtype)
        W_out = _weights(gen, (vocab_size, hidden_size), dtype)
        self.in_layers = [Embedding(W_in) for _ in range(2 * window_size)]
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5, rng=gen)
        _collect(self, [*self.in_layers, self.ns_loss])
        self.word_vecs = W_in

    def forward(self, contexts: ArrayLike, target: ArrayLike) -> float:
        contexts = _contexts(contexts, len(self.in_layers), "CBOW")
        h = 0
        for i, layer in enumerate(self.in_layers):
            h = h + layer.forward(contexts[:, i])
        h = h * (1 / len(self.in_layers))
        return self.ns_loss.forward(h, target)

    def backward(self, dout: float = 1.0) -> None:
        dout = self.ns_loss.backward(dout)
        dout = dout * (1 / len(self.in_layers))
        for layer in self.in_layers:
            layer.backward(dout)


class SkipGram:
    """Skip-gram with Embedding input and negative sampling (book 2, ch. 4.3.1, skip_gram.py):
    the target word's vector predicts each of the ``2 * window_size`` context words."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: ArrayLike,
        *,
        rng: Rng = None,
        dtype=np.float32,
    ) -> None:
        gen = _rng(rng)
        W_in = _weights(gen, (vocab_size, hidden_size), dtype)
        W_out = _weights(gen, (vocab_size, hidden_size), dtype)
        self.in_layer = Embedding(W_in)
        self.loss_layers = [
            NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5, rng=gen)
            for _ in range(2 * window_size)
        ]
        _collect(self, [self.in_layer, *self.loss_layers])
        self.word_vecs = W_in

    def forward(self, contexts: ArrayLike, target: ArrayLike) -> float:
        contexts = _contexts(contexts, len(self.loss_layers), "SkipGram")
        h = self.in_layer.forward(target)
        loss = 0.0
        for i, layer in enumerate(self.loss_layers):
            loss += layer.forward(h, contexts[:, i])
        return loss

    def backward(self, dout: float = 1.0) -> None:
        dh = 0
        for layer in self.loss_layers:
            dh = dh + layer.backward(dout)
        self.in_layer.backward(dh)
