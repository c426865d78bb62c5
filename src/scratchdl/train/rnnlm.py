"""The second book's language-model loop (ch. 5.5.4, 6.4): ``RnnlmTrainer`` (truncated BPTT,
perplexity) and ``eval_perplexity``.

Why not :class:`scratchdl.train.Trainer` or :class:`scratchdl.train.book2.Trainer`? The first
is built on the first book's Net contract (a ``params`` dict, ``gradient(x, t)``, floating
inputs, accuracy records); the second shuffles rows. A language model must read its one corpus
in order: ``batch_size`` rows at fixed offsets, ``time_size`` words at a time, its state carried
from step to step, and it is judged by perplexity. So this is the book's short loop; a step is
the same as :class:`~scratchdl.train.book2.Trainer`'s (its ``remove_duplicate`` and
``clip_grads``, re-exported here under the book's names, and the optimizers of
:mod:`scratchdl.optimizers`), and the loss of every step goes into a
:class:`~scratchdl.train.history.History`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.optimizers import SGD, Optimizer
from scratchdl.train.book2 import _Loop, clip_grads, remove_duplicate
from scratchdl.train.history import History

__all__ = ["RnnlmTrainer", "clip_grads", "eval_perplexity", "remove_duplicate"]


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


class RnnlmTrainer(_Loop):
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
    callbacks : sequence of :class:`scratchdl.train.Callback`
        ``on_train_begin``, ``on_iteration`` and ``on_train_end`` are called, so the opt-in
        helpers of :mod:`scratchdl.train.helpers` (Ctrl-C, time budget, BLAS threads) work.

    Attributes
    ----------
    iteration, current_epoch : int
        Steps and epochs done over all ``fit`` calls.
    stop_reason : str or None
        Why the last ``fit`` ended early (``'interrupted'``, ``'time_limit'``), else None. The
        next ``fit`` then continues where it stopped (the same row positions and perplexity
        window), as does a ``fit`` after :meth:`load_state_dict`; otherwise a ``fit`` starts
        its rows at the corpus's offsets again, as the book's does.
    """

    def __init__(
        self, model: Any, optimizer: Optimizer | None = None, *, callbacks: Any = ()
    ) -> None:
        super().__init__(model, optimizer if optimizer is not None else SGD(), callbacks)
        self.time_idx = 0
        self.ppl_list: list[float] = []
        self._window = [0.0, 0]  # loss sum and count since the last perplexity line
        self._continue = False
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
        """Train for ``max_epoch`` passes of ``len(xs) // (batch_size * time_size)`` steps
        (counting a pass a stopped ``fit`` left unfinished).

        ``log`` receives the book's progress line at each evaluation (None: silent).
        """
        xs, ts = _corpus(xs, "xs"), _corpus(ts, "ts")
        max_iters = xs.shape[0] // (batch_size * time_size)
        if max_iters < 1:
            raise ConfigError(
                f"{xs.shape[0]} words are too few for batches of {batch_size} x {time_size}: "
                "use a longer corpus or smaller batch_size/time_size"
            )
        if not self._continue:
            self.time_idx, self.epoch_step = 0, 0
            self.ppl_list = []
            self._window = [0.0, 0]
        self.eval_interval, self.iter_per_epoch = eval_interval, max_iters
        self.total_iters = self.iteration + max_epoch * max_iters - self.epoch_step
        start = self._start = time.perf_counter()

        def step(iters: int) -> float:
            batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
            loss = float(self.model.forward(batch_x, batch_t))
            self._update(max_grad)
            self._window[0] += loss
            self._window[1] += 1
            self.history.loss.append(loss)
            if eval_interval is not None and iters % eval_interval == 0:
                ppl = float(np.exp(self._window[0] / self._window[1]))
                elapsed = time.perf_counter() - start
                if log is not None:
                    log(
                        f"| epoch {self.current_epoch + 1} |  iter {iters + 1} / {max_iters} "
                        f"| time {elapsed:.0f}[s] | perplexity {ppl:.2f}"
                    )
                self.ppl_list.append(ppl)
                self._window = [0.0, 0]
            return loss

        self._run(step)
        return self.history

    def _finish(self) -> None:
        self._continue = self._stop is not None
        self.history.iterations = len(self.history.loss)
        self.history.elapsed += time.perf_counter() - self._start
        self.history.stop_reason = self.stop_reason or "completed"

    def state_dict(self) -> dict[str, Any]:
        """The loop's state for a checkpoint (JSON-able): counters, row position, the
        perplexity window and every step's loss. The model's own state (a stateful LSTM's
        ``h`` and ``c``) and the optimizer's are saved by their owners."""
        return {
            **{k: getattr(self, k) for k in self._COUNTERS},
            "time_idx": self.time_idx,
            "ppl_list": list(self.ppl_list),
            "window": list(self._window),
            "loss": list(self.history.loss),
            "elapsed": self.history.elapsed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`: the next ``fit`` on the same corpus continues the run
        step for step."""
        for k in self._COUNTERS:
            setattr(self, k, int(state[k]))
        self.time_idx = int(state["time_idx"])
        self.ppl_list = [float(v) for v in state["ppl_list"]]
        self._window = [float(state["window"][0]), int(state["window"][1])]
        self.history.loss = [float(v) for v in state["loss"]]
        self.history.elapsed = float(state["elapsed"])
        self._continue = True
