"""Training the second book's models (ch. 5-8): ``RnnlmTrainer`` (truncated BPTT, perplexity),
``SeqTrainer`` (the book's ``common/trainer.Trainer`` for seq2seq), ``clip_grads``,
``eval_perplexity``, ``remove_duplicate``.

Why not :class:`scratchdl.train.Trainer`? That loop is built on the first book's Net contract
(a ``params`` dict, ``gradient(x, t)``, floating inputs, accuracy records); the second book's
models keep ``params``/``grads`` lists, take word ids, and a language model must see its
corpus in order (offset batches, state carried between steps) and is judged by perplexity.
These two classes are the book's loops, short; they reuse the optimizers of
:mod:`scratchdl.optimizers` (a list is handed over as a dict keyed by position) and record
into a :class:`~scratchdl.train.history.History` (``loss`` per step).
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.optimizers import SGD, Optimizer
from scratchdl.train.history import History

__all__ = ["RnnlmTrainer", "SeqTrainer", "clip_grads", "eval_perplexity", "remove_duplicate"]


def clip_grads(grads: Sequence[NDArray], max_norm: float) -> float:
    """Scale every gradient in place by ``max_norm / ‖g‖`` when the global L2 norm ``‖g‖``
    of all of them exceeds ``max_norm`` (ch. 5.6.2 / 6.1.4). Returns ``‖g‖`` before clipping."""
    if not max_norm > 0:
        raise ConfigError(f"max_norm must be positive, got {max_norm!r}")
    total_norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate
    return total_norm


def remove_duplicate(
    params: Sequence[NDArray], grads: Sequence[NDArray]
) -> tuple[list[NDArray], list[NDArray]]:
    """Merge parameters that share memory (weight tying, ch. 6.5.3): the same array, or one
    the transpose view of another. The gradient of the dropped one is added to the kept one's
    (transposed back as needed). The model's own ``grads`` arrays are not changed."""
    params, grads = list(params), [g for g in grads]
    i = 0
    while i < len(params):
        j = i + 1
        while j < len(params):
            a, b = params[i], params[j]
            if a is b:
                grads[i] = grads[i] + grads[j]
            elif _is_transpose(a, b) or _is_transpose(b, a):
                grads[i] = grads[i] + grads[j].T
            else:
                j += 1
                continue
            del params[j], grads[j]
        i += 1
    return params, grads


def _is_transpose(a: NDArray, b: NDArray) -> bool:
    """True when ``b`` is exactly ``a.T``, a view of the same memory."""
    return a.ndim == 2 and b.base is a and b.shape == a.shape[::-1] and b.strides == a.strides[::-1]


def _keyed(arrays: Sequence[NDArray]) -> dict[str, NDArray]:
    return {str(i): a for i, a in enumerate(arrays)}


def _update(model: Any, optimizer: Optimizer, max_grad: float | None) -> None:
    params, grads = remove_duplicate(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(_keyed(params), _keyed(grads))


def _corpus(corpus: ArrayLike, name: str) -> NDArray:
    corpus = np.asarray(corpus)
    if corpus.ndim != 1 or corpus.dtype.kind not in "iu":
        raise ShapeError(
            f"{name} must be a 1-D array of word ids, got {corpus.dtype} {corpus.shape}"
        )
    return corpus


def eval_perplexity(
    model: Any,
    corpus: ArrayLike,
    batch_size: int = 10,
    time_size: int = 35,
    progress: Callable[[int, int], None] | None = None,
) -> float:
    """Perplexity ``exp(mean loss)`` of a language model on ``corpus`` (ch. 6.4; the book's
    ``common/util.eval_perplexity``).

    The corpus is cut into ``batch_size`` rows starting ``(len - 1) // batch_size`` words apart;
    each of the ``(len - 1) // (batch_size * time_size)`` steps feeds the next ``time_size``
    words of every row and scores the word after each. The model's state carries over between
    steps: call ``model.reset_state()`` first. Dropout is off (``train_flg=False``) for models
    that take it.
    """
    corpus = _corpus(corpus, "corpus")
    corpus_size = corpus.shape[0]
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ConfigError(
            f"a corpus of {corpus_size} words is too short for batches of {batch_size} x "
            f"{time_size}: use a longer corpus or smaller batch_size/time_size"
        )
    jump = (corpus_size - 1) // batch_size
    rows = (np.arange(batch_size) * jump)[:, None] + np.arange(time_size)[None, :]
    total_loss = 0.0
    takes_flag = "train_flg" in inspect.signature(model.forward).parameters
    for iters in range(max_iters):
        pos = rows + iters * time_size
        xs = corpus[pos % corpus_size]
        ts = corpus[(pos + 1) % corpus_size]
        loss = model.forward(xs, ts, train_flg=False) if takes_flag else model.forward(xs, ts)
        total_loss += loss
        if progress is not None:
            progress(iters + 1, max_iters)
    return float(np.exp(total_loss / max_iters))


class RnnlmTrainer:
    """The book's ``RnnlmTrainer`` (ch. 5.5.4, 6.4): truncated BPTT over one corpus.

    Each step takes ``time_size`` consecutive words from ``batch_size`` rows that start
    ``len // batch_size`` words apart, so a stateful model sees every row in order; every
    ``eval_interval`` steps it appends the perplexity of the steps since the last one to
    ``ppl_list`` (the book's printout).

    Parameters
    ----------
    model : a language model with ``params``, ``grads``, ``forward(xs, ts)``, ``backward()``
    optimizer : Optimizer, optional
        Default ``SGD(lr=0.01)``.
    """

    def __init__(self, model: Any, optimizer: Optimizer | None = None) -> None:
        self.model = model
        self.optimizer = optimizer if optimizer is not None else SGD()
        self.time_idx = 0
        self.ppl_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self.history = History(config={"optimizer": self.optimizer.name})

    def get_batch(
        self, x: NDArray, t: NDArray, batch_size: int, time_size: int
    ) -> tuple[NDArray, NDArray]:
        data_size = x.shape[0]
        jump = data_size // batch_size
        pos = (np.arange(batch_size) * jump)[:, None] + (self.time_idx + np.arange(time_size))
        self.time_idx += time_size
        return x[pos % data_size], t[pos % data_size]

    def fit(
        self,
        xs: ArrayLike,
        ts: ArrayLike,
        max_epoch: int = 10,
        batch_size: int = 20,
        time_size: int = 35,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
        log: Callable[[str], None] | None = print,
    ) -> History:
        """Train for ``max_epoch`` passes of ``len(xs) // (batch_size * time_size)`` steps.

        ``log`` receives the book's progress line at each evaluation (None: silent).
        """
        xs, ts = _corpus(xs, "xs"), _corpus(ts, "ts")
        max_iters = xs.shape[0] // (batch_size * time_size)
        if max_iters < 1:
            raise ConfigError(
                f"{xs.shape[0]} words are too few for batches of {batch_size} x {time_size}: "
                "use a longer corpus or smaller batch_size/time_size"
            )
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        total_loss, loss_count = 0.0, 0
        start = time.perf_counter()
        for _ in range(max_epoch):
            for iters in range(max_iters):
                batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
                loss = self.model.forward(batch_x, batch_t)
                self.model.backward()
                _update(self.model, self.optimizer, max_grad)
                total_loss += loss
                loss_count += 1
                self.history.loss.append(float(loss))
                if eval_interval is not None and iters % eval_interval == 0:
                    ppl = float(np.exp(total_loss / loss_count))
                    elapsed = time.perf_counter() - start
                    if log is not None:
                        log(
                            f"| epoch {self.current_epoch + 1} |  iter {iters + 1} / {max_iters} "
                            f"| time {elapsed:.0f}[s] | perplexity {ppl:.2f}"
                        )
                    self.ppl_list.append(ppl)
                    total_loss, loss_count = 0.0, 0
            self.current_epoch += 1
        self.history.iterations = len(self.history.loss)
        self.history.elapsed += time.perf_counter() - start
        self.history.stop_reason = "completed"
        return self.history


class SeqTrainer:
    """The book's ``common/trainer.Trainer`` for list-parameter models (ch. 7-8): shuffled
    mini-batches of ``(x, t)`` rows, ``forward``/``backward``, gradient clipping, update.

    Parameters
    ----------
    model : a model with ``params``, ``grads``, ``forward(x, t)``, ``backward()``
    optimizer : Optimizer, optional
        Default ``SGD(lr=0.01)``.
    rng : numpy.random.Generator or int, optional
        Source of the shuffles.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Optimizer | None = None,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer if optimizer is not None else SGD()
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.loss_list: list[float] = []
        self.current_epoch = 0
        self.history = History(config={"optimizer": self.optimizer.name})

    def fit(
        self,
        x: ArrayLike,
        t: ArrayLike,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
        max_iters: int | None = None,
        log: Callable[[str], None] | None = print,
    ) -> History:
        """``max_epoch`` epochs of ``len(x) // batch_size`` steps (``max_iters`` caps the steps
        of each epoch, for short runs); ``loss_list`` gets the mean loss of every
        ``eval_interval`` steps."""
        x, t = np.asarray(x), np.asarray(t)
        if x.shape[0] != t.shape[0]:
            raise ShapeError(f"x has {x.shape[0]} rows but t has {t.shape[0]}")
        iters_per_epoch = x.shape[0] // batch_size
        if iters_per_epoch < 1:
            raise ConfigError(f"batch_size {batch_size} is larger than the {x.shape[0]} rows")
        if max_iters is not None:
            iters_per_epoch = min(iters_per_epoch, max_iters)
        total_loss, loss_count = 0.0, 0
        start = time.perf_counter()
        for _ in range(max_epoch):
            idx = self.rng.permutation(x.shape[0])
            for iters in range(iters_per_epoch):
                batch = idx[iters * batch_size : (iters + 1) * batch_size]
                loss = self.model.forward(x[batch], t[batch])
                self.model.backward()
                _update(self.model, self.optimizer, max_grad)
                total_loss += loss
                loss_count += 1
                self.history.loss.append(float(loss))
                if eval_interval is not None and (iters + 1) % eval_interval == 0:
                    avg = total_loss / loss_count
                    if log is not None:
                        log(
                            f"| epoch {self.current_epoch + 1} |  iter {iters + 1} / "
                            f"{iters_per_epoch} | time {time.perf_counter() - start:.0f}[s] | "
                            f"loss {avg:.2f}"
                        )
                    self.loss_list.append(float(avg))
                    total_loss, loss_count = 0.0, 0
            self.current_epoch += 1
        self.history.iterations = len(self.history.loss)
        self.history.elapsed += time.perf_counter() - start
        self.history.stop_reason = "completed"
        return self.history
