"""seq2seq (second book, ch. 7): ``Encoder``, ``Decoder``, ``Seq2seq``, ``PeekyDecoder``,
``PeekySeq2seq``, and their evaluation ``eval_seq2seq`` / ``seq2seq_accuracy``.

The encoder reads the question ``xs`` (N, T) of character ids and hands its last hidden state
``h`` (N, H) to the decoder, which is trained with teacher forcing: given the answer ``ts``
(N, 1 + T'), starting with the separator ``'_'``, it reads ``ts[:, :-1]`` and predicts
``ts[:, 1:]``. ``generate`` feeds the decoder its own argmax, one step at a time. Reversing the
question (``xs[:, ::-1]``, ch. 7.5.1) and the Peeky decoder (ch. 7.5.2) are the book's two
improvements.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ShapeError, StateError
from scratchdl.rnnlm import BaseModel, _rng, _sizes
from scratchdl.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = [
    "Decoder",
    "Encoder",
    "PeekyDecoder",
    "PeekySeq2seq",
    "Seq2seq",
    "eval_seq2seq",
    "seq2seq_accuracy",
]


def _lstm_weights(rn: Any, D: int, H: int, dtype: Any) -> tuple[NDArray, NDArray, NDArray]:
    return (
        (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype),
        (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype),
        np.zeros(4 * H, dtype=dtype),
    )


def _ids(x: ArrayLike, name: str) -> NDArray:
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind not in "iu":
        raise ShapeError(f"{name} must be integer ids of shape (N, T), got {x.dtype} {x.shape}")
    return x


class Encoder:
    """TimeEmbedding -> TimeLSTM; ``forward(xs)`` returns the last hidden state (N, H)
    (ch. 7.2.1)."""

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _rng(rng).standard_normal
        self.embed = TimeEmbedding((rn((V, D)) / 100).astype(dtype))
        self.lstm = TimeLSTM(*_lstm_weights(rn, D, H, dtype), stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads
        self.hs: NDArray | None = None

    def forward(self, xs: ArrayLike) -> NDArray:
        hs = self.lstm.forward(self.embed.forward(_ids(xs, "xs")))
        self.hs = hs
        return hs[:, -1, :]

    def backward(self, dh: NDArray) -> None:
        if self.hs is None:
            raise StateError("Encoder.backward called before forward: run forward first")
        dhs = np.zeros_like(self.hs)
        dhs[:, -1, :] = dh
        dout = self.lstm.backward(dhs)
        return self.embed.backward(dout)


class Decoder:
    """TimeEmbedding -> TimeLSTM (state from the encoder) -> TimeAffine (ch. 7.2.2)."""

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _rng(rng).standard_normal
        self.embed = TimeEmbedding((rn((V, D)) / 100).astype(dtype))
        self.lstm = TimeLSTM(*_lstm_weights(rn, D, H, dtype), stateful=True)
        self.affine = TimeAffine((rn((H, V)) / np.sqrt(H)).astype(dtype), np.zeros(V, dtype))
        self.params = self.embed.params + self.lstm.params + self.affine.params
        self.grads = self.embed.grads + self.lstm.grads + self.affine.grads

    def forward(self, xs: ArrayLike, h: NDArray) -> NDArray:
        self.lstm.set_state(h)
        out = self.lstm.forward(self.embed.forward(xs))
        return self.affine.forward(out)

    def backward(self, dscore: NDArray) -> NDArray:
        dout = self.affine.backward(dscore)
        dout = self.lstm.backward(dout)
        self.embed.backward(dout)
        return self.lstm.dh

    def _step(self, ids: NDArray) -> NDArray:
        return self.affine.forward(self.lstm.forward(self.embed.forward(ids)))

    def generate(self, h: NDArray, start_id: int | ArrayLike, sample_size: int) -> Any:
        """Greedy decoding: ``sample_size`` ids after ``start_id``. One row (the book's case)
        gives a list of ints; N rows (``h`` (N, H), ``start_id`` a scalar or (N,)) an (N,
        sample_size) array."""
        self.lstm.set_state(h)
        return _greedy(self._step, h.shape[0], start_id, sample_size)


def _greedy(step: Any, n: int, start_id: int | ArrayLike, sample_size: int) -> Any:
    ids = np.broadcast_to(np.asarray(start_id, dtype=np.intp), (n,)).reshape(n, 1)
    out = np.empty((n, sample_size), dtype=np.intp)
    for k in range(sample_size):
        score = step(ids)
        ids = score[:, -1, :].argmax(axis=1).reshape(n, 1)
        out[:, k] = ids[:, 0]
    return [int(i) for i in out[0]] if n == 1 else out


class Seq2seq(BaseModel):
    """Encoder + Decoder + TimeSoftmaxWithLoss (ch. 7.2.3).

    ``forward(xs, ts)``: the decoder reads ``ts[:, :-1]`` and is scored on ``ts[:, 1:]``.
    ``params``: the encoder's (embed_W, Wx, Wh, b) then the decoder's (embed_W, Wx, Wh, b,
    affine_W, affine_b).
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        gen = _rng(rng)
        args = (vocab_size, wordvec_size, hidden_size)
        self.encoder = Encoder(*args, rng=gen, dtype=dtype)
        self.decoder = self._decoder_class(*args, rng=gen, dtype=dtype)
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    _decoder_class: Any = Decoder

    def forward(self, xs: ArrayLike, ts: ArrayLike) -> float:
        ts = _ids(ts, "ts")
        h = self.encoder.forward(xs)
        score = self.decoder.forward(ts[:, :-1], h)
        return self.softmax.forward(score, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dout = self.softmax.backward(dout)
        dh = self.decoder.backward(dout)
        return self.encoder.backward(dh)

    def generate(self, xs: ArrayLike, start_id: int | ArrayLike, sample_size: int) -> Any:
        """The answer the model writes for ``xs`` (greedy); see :meth:`Decoder.generate`."""
        h = self.encoder.forward(xs)
        return self.decoder.generate(h, start_id, sample_size)

    def reset_state(self) -> None:
        """Nothing carries over between batches (the encoder is stateless, the decoder's state
        is set from the encoder each time); kept for the language-model interface."""


class PeekyDecoder(Decoder):
    """Decoder that also feeds the encoder's ``h`` to the LSTM and to the Affine layer at
    every step (ch. 7.5.2): ``lstm_Wx`` is (H + D, 4H), ``affine_W`` (2H, V)."""

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _rng(rng).standard_normal
        self.embed = TimeEmbedding((rn((V, D)) / 100).astype(dtype))
        Wx = (rn((H + D, 4 * H)) / np.sqrt(H + D)).astype(dtype)
        Wh = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        self.lstm = TimeLSTM(Wx, Wh, np.zeros(4 * H, dtype), stateful=True)
        self.affine = TimeAffine(
            (rn((2 * H, V)) / np.sqrt(2 * H)).astype(dtype), np.zeros(V, dtype)
        )
        self.params = self.embed.params + self.lstm.params + self.affine.params
        self.grads = self.embed.grads + self.lstm.grads + self.affine.grads
        self.cache: int | None = None
        self._h: NDArray | None = None

    def forward(self, xs: ArrayLike, h: NDArray) -> NDArray:
        xs = _ids(xs, "xs")
        N, T = xs.shape
        H = h.shape[1]
        self.lstm.set_state(h)
        hs = np.broadcast_to(h[:, None, :], (N, T, H))
        out = np.concatenate((hs, self.embed.forward(xs)), axis=2)
        out = self.lstm.forward(out)
        out = np.concatenate((hs, out), axis=2)
        self.cache = H
        return self.affine.forward(out)

    def backward(self, dscore: NDArray) -> NDArray:
        H = self.cache
        if H is None:
            raise StateError("PeekyDecoder.backward called before forward: run forward first")
        dout = self.affine.backward(dscore)
        dout, dhs0 = dout[:, :, H:], dout[:, :, :H]
        dout = self.lstm.backward(dout)
        dembed, dhs1 = dout[:, :, H:], dout[:, :, :H]
        self.embed.backward(dembed)
        return self.lstm.dh + (dhs0 + dhs1).sum(axis=1)

    def _step(self, ids: NDArray) -> NDArray:
        h = self._h[:, None, :]
        out = np.concatenate((h, self.embed.forward(ids)), axis=2)
        out = np.concatenate((h, self.lstm.forward(out)), axis=2)
        return self.affine.forward(out)

    def generate(self, h: NDArray, start_id: int | ArrayLike, sample_size: int) -> Any:
        self.lstm.set_state(h)
        self._h = np.asarray(h, dtype=self.params[0].dtype)
        return _greedy(self._step, h.shape[0], start_id, sample_size)


class PeekySeq2seq(Seq2seq):
    """Encoder + :class:`PeekyDecoder` (ch. 7.5.2)."""

    _decoder_class = PeekyDecoder


def eval_seq2seq(
    model: Any,
    question: ArrayLike,
    correct: ArrayLike,
    id_to_char: dict[int, str],
    verbose: bool = False,
    is_reverse: bool = False,
) -> int:
    """1 if the model answers one ``question`` (1, T) exactly ``correct`` (1, 1 + T'), else 0
    (the book's ``common/util.eval_seq2seq``); ``verbose`` prints Q, T and the guess."""
    correct = np.asarray(correct).reshape(-1)
    start_id = int(correct[0])
    correct = correct[1:]
    guess = model.generate(np.asarray(question).reshape(1, -1), start_id, len(correct))
    ok = int(list(guess) == [int(c) for c in correct])
    if verbose:
        q = np.asarray(question).reshape(-1)
        if is_reverse:
            q = q[::-1]
        text = "".join(id_to_char[int(c)] for c in q)
        print("Q", text)
        print("T", "".join(id_to_char[int(c)] for c in correct))
        print(("O " if ok else "X ") + "".join(id_to_char[int(c)] for c in guess))
        print("---")
    return ok


def seq2seq_accuracy(model: Any, x: ArrayLike, t: ArrayLike, batch_size: int = 1000) -> float:
    """Fraction of rows of ``x`` whose greedy answer equals ``t[:, 1:]`` exactly: what
    :func:`eval_seq2seq` counts, decoded in batches (the same argmax decisions, faster)."""
    x, t = _ids(x, "x"), _ids(t, "t")
    if x.shape[0] != t.shape[0] or x.shape[0] == 0:
        raise ShapeError(f"x and t must have the same number of rows (> 0): {x.shape}, {t.shape}")
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        xb, tb = x[i : i + batch_size], t[i : i + batch_size]
        guess = model.generate(xb, tb[:, 0], tb.shape[1] - 1)
        guess = np.asarray(guess).reshape(tb.shape[0], -1)
        correct += int(np.all(guess == tb[:, 1:], axis=1).sum())
    return correct / x.shape[0]
