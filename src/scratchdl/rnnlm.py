"""Language models of the second book (ch. 5-7): ``SimpleRnnlm``, ``Rnnlm``, ``BetterRnnlm``
and their text generators ``RnnlmGen``, ``BetterRnnlmGen``.

Each model is the book's: ``layers`` in order, ``params`` and ``grads`` lists (the book's
order, so the book's ``Rnnlm.pkl`` loads), ``predict``, ``forward(xs, ts) -> loss``,
``backward(dout=1)``. Weights are float32 (``dtype=`` for float64 gradient checks) and drawn
from ``rng=`` (a Generator or a seed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ModelFileError
from scratchdl.functions import softmax
from scratchdl.time_layers import (
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)

__all__ = [
    "BaseModel",
    "BetterRnnlm",
    "BetterRnnlmGen",
    "Rnnlm",
    "RnnlmGen",
    "SimpleRnnlm",
]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _sizes(**sizes: Any) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


class BaseModel:
    """What every model of the second book shares: ``params``/``grads`` collected from its
    layers, and ``save_params``/``load_params`` (the book's ``common/base_model.py``)."""

    params: list[NDArray]
    grads: list[NDArray]

    def _collect(self, layers: list[Any]) -> None:
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads

    def save_params(self, file_name: str | os.PathLike[str] | None = None) -> Path:
        """Write the parameters to ``file_name`` (default ``<ClassName>.npz``) as a plain
        ``.npz`` (``p0``, ``p1``, ... in ``params`` order), atomically; never a pickle."""
        from scratchdl._fs import atomic_path

        path = Path(file_name if file_name is not None else f"{type(self).__name__}.npz")
        if path.suffix != ".npz":
            raise ConfigError(f"save_params writes .npz files, got {path.name}: use a .npz name")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{f"p{i}": p for i, p in enumerate(self.params)})
        return path

    def load_params(
        self, file_name: str | os.PathLike[str] | None = None, max_bytes: int | None = None
    ) -> None:
        """Copy saved parameters into ``params`` in place (the book's ``load_params``).

        A ``.pkl`` is read as the book's pickle through the safe reader
        (:func:`scratchdl.io.read_book_param_list`: no code runs, shapes checked); anything else
        as the ``.npz`` of :meth:`save_params`.
        """
        from scratchdl.io import read_book_param_list

        path = Path(file_name if file_name is not None else f"{type(self).__name__}.pkl")
        shapes = [p.shape for p in self.params]
        if path.suffix == ".pkl":
            arrays = read_book_param_list(path, shapes, max_bytes)
        else:
            arrays = _read_npz_params(path, shapes, max_bytes)
        for param, value in zip(self.params, arrays, strict=True):
            if not np.all(np.isfinite(value)):
                raise ModelFileError(f"{path} holds NaN or infinite weights: it is damaged")
            param[...] = value


def _read_npz_params(
    path: Path, shapes: list[tuple[int, ...]], max_bytes: int | None
) -> list[NDArray]:
    from scratchdl._npz import inspect_npz

    if not path.is_file():
        raise ModelFileError(f"parameter file {path} does not exist: check the path")
    infos = inspect_npz(path, max_bytes, what="parameter file")
    names = [f"p{i}" for i in range(len(shapes))]
    got = {k: tuple(v.shape) for k, v in infos.items()}
    want = dict(zip(names, map(tuple, shapes), strict=True))
    if got != want:
        raise ModelFileError(
            f"{path} holds arrays {got}, but the network needs {want}: "
            "build the network with the sizes the file was saved from"
        )
    with np.load(path, allow_pickle=False) as data:
        return [data[n] for n in names]


# -- ch. 5.5: SimpleRnnlm -------------------------------------------------------------------------


class SimpleRnnlm(BaseModel):
    """TimeEmbedding -> TimeRNN (stateful) -> TimeAffine -> TimeSoftmaxWithLoss (ch. 5.5.1).

    Parameters
    ----------
    vocab_size, wordvec_size, hidden_size : int
    rng : numpy.random.Generator or int, optional
    dtype : float32 (default) or float64
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
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _rng(rng).standard_normal
        embed_W = (rn((V, D)) / 100).astype(dtype)
        rnn_Wx = (rn((D, H)) / np.sqrt(D)).astype(dtype)
        rnn_Wh = (rn((H, H)) / np.sqrt(H)).astype(dtype)
        rnn_b = np.zeros(H, dtype=dtype)
        affine_W = (rn((H, V)) / np.sqrt(H)).astype(dtype)
        affine_b = np.zeros(V, dtype=dtype)
        self.layers = [
            TimeEmbedding(embed_W),
            TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=True),
            TimeAffine(affine_W, affine_b),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.rnn_layer = self.layers[1]
        self._collect(self.layers)

    def predict(self, xs: ArrayLike) -> NDArray:
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs: ArrayLike, ts: ArrayLike) -> float:
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self, dout: float = 1.0) -> None:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self) -> None:
        self.rnn_layer.reset_state()


# -- ch. 6.4: Rnnlm ---------------------------------------------------------------------------


class Rnnlm(SimpleRnnlm):
    """TimeEmbedding -> TimeLSTM (stateful) -> TimeAffine -> TimeSoftmaxWithLoss (ch. 6.4).

    ``params``: ``embed_W (V, D), lstm_Wx (D, 4H), lstm_Wh (H, 4H), lstm_b (4H,),
    affine_W (H, V), affine_b (V,)``, the order of the book's ``Rnnlm.pkl``.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = _rng(rng).standard_normal
        embed_W = (rn((V, D)) / 100).astype(dtype)
        lstm_Wx = (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype)
        lstm_Wh = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b = np.zeros(4 * H, dtype=dtype)
        affine_W = (rn((H, V)) / np.sqrt(H)).astype(dtype)
        affine_b = np.zeros(V, dtype=dtype)
        self.layers = [
            TimeEmbedding(embed_W),
            TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True),
            TimeAffine(affine_W, affine_b),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layer = self.layers[1]
        self._collect(self.layers)

    def reset_state(self) -> None:
        self.lstm_layer.reset_state()


# -- ch. 6.5: BetterRnnlm ---------------------------------------------------------------------


class BetterRnnlm(BaseModel):
    """Two stateful TimeLSTM layers, TimeDropout around them and weight tying (ch. 6.5).

    The TimeAffine layer's weight is ``embed_W.T``, a view: the two share one array, and
    :func:`scratchdl.train.rnnlm.remove_duplicate` sums their gradients before an update.
    ``predict(xs, train_flg=False)`` turns dropout off (evaluation), the book's default.

    Parameters
    ----------
    vocab_size, wordvec_size, hidden_size : int
        ``wordvec_size`` must equal ``hidden_size`` (weight tying).
    dropout_ratio : float in [0, 1)
    rng : numpy.random.Generator or int, optional
        Weights and dropout masks.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        if wordvec_size != hidden_size:
            raise ConfigError(
                f"weight tying needs wordvec_size == hidden_size, got {wordvec_size} and "
                f"{hidden_size}"
            )
        V, D, H = vocab_size, wordvec_size, hidden_size
        gen = _rng(rng)
        rn = gen.standard_normal
        embed_W = (rn((V, D)) / 100).astype(dtype)
        lstm_Wx1 = (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype)
        lstm_Wh1 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b1 = np.zeros(4 * H, dtype=dtype)
        lstm_Wx2 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_Wh2 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b2 = np.zeros(4 * H, dtype=dtype)
        affine_b = np.zeros(V, dtype=dtype)
        self.layers = [
            TimeEmbedding(embed_W),
            TimeDropout(dropout_ratio, rng=gen),
            TimeLSTM(lstm_Wx1, lstm_Wh1, lstm_b1, stateful=True),
            TimeDropout(dropout_ratio, rng=gen),
            TimeLSTM(lstm_Wx2, lstm_Wh2, lstm_b2, stateful=True),
            TimeDropout(dropout_ratio, rng=gen),
            TimeAffine(embed_W.T, affine_b),  # weight tying
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layers = [self.layers[2], self.layers[4]]
        self.drop_layers = [self.layers[1], self.layers[3], self.layers[5]]
        self._collect(self.layers)

    def predict(self, xs: ArrayLike, train_flg: bool = False) -> NDArray:
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs: ArrayLike, ts: ArrayLike, train_flg: bool = True) -> float:
        return self.loss_layer.forward(self.predict(xs, train_flg), ts)

    def backward(self, dout: float = 1.0) -> None:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self) -> None:
        for layer in self.lstm_layers:
            layer.reset_state()


# -- ch. 7.1: text generation -----------------------------------------------------------------


class _Generate:
    """``generate`` and the LSTM state get/set shared by the two generators (ch. 7.1.2)."""

    lstm_layers: list[TimeLSTM]

    def generate(
        self,
        start_id: int,
        skip_ids: list[int] | None = None,
        sample_size: int = 100,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> list[int]:
        """Sample ``sample_size`` word ids, starting with ``start_id``: each next word is drawn
        from the softmax of the model's scores; words in ``skip_ids`` are drawn again."""
        gen = _rng(rng)
        word_ids = [int(start_id)]
        x = int(start_id)
        skip = set(skip_ids or ())
        while len(word_ids) < sample_size:
            score = self.predict(np.array([[x]]))
            p = softmax(score.reshape(-1).astype(np.float64))
            sampled = int(gen.choice(p.shape[0], p=p))
            if sampled not in skip:
                x = sampled
                word_ids.append(x)
        return word_ids

    def get_state(self) -> list[tuple[NDArray | None, NDArray | None]]:
        return [(layer.h, layer.c) for layer in self.lstm_layers]

    def set_state(self, states: list[tuple[NDArray, NDArray]]) -> None:
        for layer, (h, c) in zip(self.lstm_layers, states, strict=True):
            layer.set_state(h, c)


class RnnlmGen(_Generate, Rnnlm):
    """:class:`Rnnlm` that writes text (ch. 7.1.2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lstm_layers = [self.lstm_layer]


class BetterRnnlmGen(_Generate, BetterRnnlm):
    """:class:`BetterRnnlm` that writes text (ch. 7.1.3)."""
