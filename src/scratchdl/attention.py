"""Attention (second book, ch. 8): ``WeightSum``, ``AttentionWeight``, ``Attention``,
``TimeAttention``, ``AttentionEncoder``, ``AttentionDecoder``, ``AttentionSeq2seq``.

At a decoder step with hidden state ``h`` (N, H), the attention weights over the encoder's
states ``hs`` (N, T, H) are ``a = softmax(hs · h)`` (N, T), and the context vector is
``c = Σ_t a_t hs_t`` (N, H) (ch. 8.1). :class:`TimeAttention` computes every decoder step at
once with batched matrix products (the book loops over steps with one :class:`Attention`
each; the numbers are the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import StateError
from scratchdl.functions import softmax
from scratchdl.rnnlm import _rng, _sizes
from scratchdl.seq2seq import Encoder, Seq2seq, _greedy, _ids
from scratchdl.time_layers import TimeAffine, TimeEmbedding, TimeLSTM

__all__ = [
    "Attention",
    "AttentionDecoder",
    "AttentionEncoder",
    "AttentionSeq2seq",
    "AttentionWeight",
    "TimeAttention",
    "WeightSum",
]


def _need(value: Any, layer: object) -> Any:
    if value is None:
        raise StateError(
            f"{type(layer).__name__}.backward called before forward: run forward first"
        )
    return value


class WeightSum:
    """Context vector ``c = Σ_t a_t hs_t``: ``forward(hs (N, T, H), a (N, T)) -> (N, H)``
    (ch. 8.1.2)."""

    def __init__(self) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.cache: tuple[NDArray, NDArray] | None = None

    def forward(self, hs: NDArray, a: NDArray) -> NDArray:
        ar = a[:, :, None]
        self.cache = (hs, ar)
        return np.sum(hs * ar, axis=1)

    def backward(self, dc: NDArray) -> tuple[NDArray, NDArray]:
        hs, ar = _need(self.cache, self)
        dt = dc[:, None, :]
        return dt * ar, np.sum(dt * hs, axis=2)


class AttentionWeight:
    """Weights ``a = softmax(hs · h)``: ``forward(hs (N, T, H), h (N, H)) -> (N, T)``
    (ch. 8.1.3)."""

    def __init__(self) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.cache: tuple[NDArray, NDArray, NDArray] | None = None

    def forward(self, hs: NDArray, h: NDArray) -> NDArray:
        hr = h[:, None, :]
        a = softmax(np.sum(hs * hr, axis=2))
        self.cache = (hs, hr, a)
        return a

    def backward(self, da: NDArray) -> tuple[NDArray, NDArray]:
        hs, hr, a = _need(self.cache, self)
        ds = a * (da - np.sum(da * a, axis=1, keepdims=True))  # softmax backward
        dt = ds[:, :, None]
        return dt * hr, np.sum(dt * hs, axis=1)


class Attention:
    """:class:`AttentionWeight` then :class:`WeightSum`: ``forward(hs, h) -> c`` (N, H);
    ``attention_weight`` keeps the last ``a`` (ch. 8.1.4)."""

    def __init__(self) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight: NDArray | None = None

    def forward(self, hs: NDArray, h: NDArray) -> NDArray:
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a)

    def backward(self, dout: NDArray) -> tuple[NDArray, NDArray]:
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention:
    """Attention at every decoder step: ``forward(hs_enc (N, Ts, H), hs_dec (N, T, H)) ->
    c (N, T, H)`` (ch. 8.1.5), as batched matrix products.

    ``attention_weights`` is the book's list of T arrays (N, Ts), one per decoder step.
    """

    def __init__(self) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.cache: tuple[NDArray, NDArray, NDArray] | None = None
        self.attention_weights: list[NDArray] = []

    def forward(self, hs_enc: NDArray, hs_dec: NDArray) -> NDArray:
        a = softmax(hs_dec @ hs_enc.transpose(0, 2, 1))  # (N, T, Ts)
        self.cache = (hs_enc, hs_dec, a)
        self.attention_weights = [a[:, t, :] for t in range(a.shape[1])]
        return a @ hs_enc

    def backward(self, dout: NDArray) -> tuple[NDArray, NDArray]:
        hs_enc, hs_dec, a = _need(self.cache, self)
        da = dout @ hs_enc.transpose(0, 2, 1)  # (N, T, Ts)
        ds = a * (da - np.sum(da * a, axis=2, keepdims=True))
        dhs_enc = a.transpose(0, 2, 1) @ dout + ds.transpose(0, 2, 1) @ hs_dec
        dhs_dec = ds @ hs_enc
        return dhs_enc, dhs_dec


class AttentionEncoder(Encoder):
    """The :class:`~scratchdl.seq2seq.Encoder` returning all its hidden states (N, T, H)
    (ch. 8.2.1)."""

    def forward(self, xs: ArrayLike) -> NDArray:
        self.hs = self.lstm.forward(self.embed.forward(_ids(xs, "xs")))
        return self.hs

    def backward(self, dhs: NDArray) -> None:
        dout = self.lstm.backward(dhs)
        return self.embed.backward(dout)


class AttentionDecoder:
    """TimeEmbedding -> TimeLSTM -> TimeAttention -> TimeAffine over ``[c, h]`` (ch. 8.2.2);
    ``affine_W`` is (2H, V)."""

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
        self.lstm = TimeLSTM(
            (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype),
            (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype),
            np.zeros(4 * H, dtype),
            stateful=True,
        )
        self.attention = TimeAttention()
        self.affine = TimeAffine(
            (rn((2 * H, V)) / np.sqrt(2 * H)).astype(dtype), np.zeros(V, dtype)
        )
        layers = [self.embed, self.lstm, self.attention, self.affine]
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self._enc_hs: NDArray | None = None

    def forward(self, xs: ArrayLike, enc_hs: NDArray) -> NDArray:
        self.lstm.set_state(enc_hs[:, -1])
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        c = self.attention.forward(enc_hs, dec_hs)
        return self.affine.forward(np.concatenate((c, dec_hs), axis=2))

    def backward(self, dscore: NDArray) -> NDArray:
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        dc, ddec_hs0 = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        dout = self.lstm.backward(ddec_hs0 + ddec_hs1)
        denc_hs[:, -1] += self.lstm.dh
        self.embed.backward(dout)
        return denc_hs

    def _step(self, ids: NDArray) -> NDArray:
        dec_hs = self.lstm.forward(self.embed.forward(ids))
        c = self.attention.forward(self._enc_hs, dec_hs)
        return self.affine.forward(np.concatenate((c, dec_hs), axis=2))

    def generate(self, enc_hs: NDArray, start_id: int | ArrayLike, sample_size: int) -> Any:
        """Greedy decoding (see :meth:`scratchdl.seq2seq.Decoder.generate`)."""
        self.lstm.set_state(enc_hs[:, -1])
        self._enc_hs = enc_hs
        weights: list[NDArray] = []

        def step(ids: NDArray) -> NDArray:
            score = self._step(ids)
            weights.extend(self.attention.attention_weights)
            return score

        out = _greedy(step, enc_hs.shape[0], start_id, sample_size)
        self.attention.attention_weights = weights  # one (N, Ts) per generated step
        return out


class AttentionSeq2seq(Seq2seq):
    """:class:`AttentionEncoder` + :class:`AttentionDecoder` (ch. 8.2.3); ``params`` in the
    order of the book's ``AttentionSeq2seq.pkl``."""

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
        self.encoder = AttentionEncoder(*args, rng=gen, dtype=dtype)
        self.decoder = AttentionDecoder(*args, rng=gen, dtype=dtype)
        from scratchdl.time_layers import TimeSoftmaxWithLoss

        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def generate(self, xs: ArrayLike, start_id: int | ArrayLike, sample_size: int) -> Any:
        enc_hs = self.encoder.forward(xs)
        return self.decoder.generate(enc_hs, start_id, sample_size)

    def attention_map(self, xs: ArrayLike, ts: ArrayLike) -> NDArray:
        """The attention weights (N, T', Ts) of a teacher-forced pass over ``(xs, ts)``: row
        ``j`` says where in the question the decoder looked when reading ``ts[:, j]``."""
        self.forward(xs, ts)
        return np.stack(self.decoder.attention.attention_weights, axis=1)
