"""The second book's ``Trainer`` (``common/trainer.py`` of book 2, ch. 1.4.4): ``fit(x, t,
max_epoch, batch_size)`` on a model with ``params``/``grads`` lists and ``forward(x, t)`` ->
loss, ``backward()``.

The first book's :class:`scratchdl.train.Trainer` evaluates accuracy on float inputs every
epoch; the second book's models take word ids and report only a loss, so this is its own
short loop. It shares what fits: the :class:`~scratchdl.train.Sampler` (a fresh permutation
each epoch, walked in ``N // batch_size`` batches, as the book) and the optimizers of
:mod:`scratchdl.optimizers`. Each step is the book's: forward, backward,
:func:`remove_duplicate` (shared weights get one summed gradient), optional
:func:`clip_grads`, update. Every ``eval_interval`` steps it prints the book's line
``| epoch 1 |  iter 21 / 300 | time 0[s] | loss 4.15`` and records the mean loss since the
last line in ``loss_list``.

Differences: a NaN or infinite loss stops the run with :class:`~scratchdl.errors.
DivergenceError` naming the step; the permutations come from a generator seeded from NumPy's
global one (so a script that calls ``np.random.seed`` repeats its run), or ``rng``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_non_negative_int, check_positive, check_positive_int
from scratchdl.errors import DivergenceError, ShapeError
from scratchdl.train.trainer import Sampler

__all__ = ["Trainer", "clip_grads", "remove_duplicate"]


def _tied(p: NDArray, q: NDArray) -> bool:
    """Whether ``q`` is ``p.T`` (a transposed view), as weight tying makes (ch. 6.5.3)."""
    return (
        p.ndim == 2
        and q.ndim == 2
        and q.base is p
        and q.shape == p.shape[::-1]
        and q.strides == p.strides[::-1]
    )


def remove_duplicate(
    params: Sequence[NDArray], grads: Sequence[NDArray]
) -> tuple[list[NDArray], list[NDArray]]:
    """One entry per distinct weight, its gradients summed (the book's ``remove_duplicate``).

    A weight shared by several layers appears once per layer in a model's ``params``; a
    transposed view of a weight (``W.T``, weight tying) counts as that weight, its gradient
    transposed back. The book compares every pair of arrays element by element at every
    step; here identity decides, in one pass. Gradients are summed into new arrays: the
    layers' own ``grads`` are left as they were.
    """
    if len(params) != len(grads):
        raise ShapeError(f"{len(params)} params but {len(grads)} grads: they must pair up")
    out_p: list[NDArray] = []
    out_g: list[NDArray] = []
    where: dict[int, int] = {}
    owned: set[int] = set()  # entries of out_g that are our own arrays (safe to add into)
    for p, g in zip(params, grads, strict=True):
        base = p.base if isinstance(p.base, np.ndarray) and _tied(p.base, p) else None
        if base is not None:  # W.T counts as W, its gradient transposed back
            p, g = base, g.T
        i = where.get(id(p))
        if i is None:
            where[id(p)] = len(out_p)
            if base is not None:  # our own copy: later gradients are added into it
                owned.add(len(out_p))
                g = g.copy()
            out_p.append(p)
            out_g.append(g)
        elif i in owned:
            out_g[i] += g  # in place: one (V, D) array per weight, not one per layer
        else:
            out_g[i] = out_g[i] + g
            owned.add(i)
    return out_p, out_g


def clip_grads(grads: Sequence[NDArray], max_norm: float) -> float:
    """Scale ``grads`` in place so that their joint L2 norm is at most ``max_norm``
    (gradient clipping, ch. 5.5.3 / 6.1.4); returns the norm before clipping."""
    total_norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate
    return total_norm


class _Loop:
    """What the second book's two loops share: the counters, stop requests (from the helpers
    of :mod:`scratchdl.train.helpers`), the callbacks and the update of one step."""

    history: Any = None  # what on_train_end receives
    _COUNTERS = ("iteration", "current_epoch", "epoch_step")  # in every state_dict

    def __init__(self, model: Any, optimizer: Any, callbacks: Sequence[Any]) -> None:
        self.model = model
        self.optimizer = optimizer
        self.callbacks = list(callbacks)
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self.iteration = 0
        self.epoch_step = 0  # updates done in the current epoch
        self.total_iters = 0
        self.iter_per_epoch = 1
        self.stop_reason: str | None = None
        self.message: str | None = None
        self._stop: tuple[str, str | None] | None = None

    def request_stop(
        self, reason: str = "interrupted", message: str | None = None, record: Any = False
    ) -> None:
        """Stop :meth:`fit` after the current step (the first request wins); ``record`` is
        accepted for the helpers' calls (there are no records here)."""
        if self._stop is None:
            self._stop = (reason, message)

    def _update(self, max_grad: float | None) -> None:
        """The step after the forward pass: backward, one summed gradient per shared weight
        (:func:`remove_duplicate`), optional :func:`clip_grads`, the optimizer's update."""
        self.model.backward()
        params, grads = remove_duplicate(self.model.params, self.model.grads)
        if max_grad is not None:
            clip_grads(grads, max_grad)
        self.optimizer.update(dict(enumerate(params)), dict(enumerate(grads)))

    def _run(self, step: Any) -> None:
        """``loss = step(i)`` (``i``: the step's index in its epoch) until ``total_iters``
        steps are done or a stop is requested, counting steps and epochs."""
        self._stop, self.stop_reason, self.message = None, None, None
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            while self.iteration < self.total_iters and self._stop is None:
                loss = step(self.epoch_step)
                self.iteration += 1
                self.epoch_step += 1
                if self.epoch_step == self.iter_per_epoch:
                    self.epoch_step = 0
                    self.current_epoch += 1
                for cb in self.callbacks:
                    cb.on_iteration(self, loss)
        finally:
            if self._stop is not None:
                self.stop_reason, self.message = self._stop
            self._finish()
            for cb in self.callbacks:
                cb.on_train_end(self, self.history)

    def _finish(self) -> None:
        pass


class Trainer(_Loop):
    """Train a second-book model (ch. 1.4.4).

    Parameters
    ----------
    model
        ``params``, ``grads`` (lists), ``forward(x, t) -> loss``, ``backward()``.
    optimizer : scratchdl.optimizers.Optimizer
    rng : Generator or int, optional
    callbacks : sequence of :class:`scratchdl.train.Callback`
        ``on_train_begin``, ``on_iteration`` and ``on_train_end`` are called (``history`` is
        None), so the opt-in helpers of :mod:`scratchdl.train.helpers` (Ctrl-C, time budget,
        BLAS threads) and the progress bar work here too; there are no epoch records.

    Attributes
    ----------
    loss_list : list of float
        Mean loss over each ``eval_interval`` steps.
    current_epoch : int
        Epochs completed over all ``fit`` calls.
    iteration : int
        Updates done over all ``fit`` calls.
    stop_reason : str or None
        Why the last ``fit`` ended early (``'interrupted'``, ``'time_limit'``), else None.
        A stopped ``fit`` resumes where it stopped when called again (mid-epoch too).
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        *,
        rng: np.random.Generator | int | None = None,
        callbacks: Sequence[Any] = (),
    ):
        super().__init__(model, optimizer, callbacks)
        self.loss_list: list[float] = []
        self.sampler: Sampler | None = None
        if rng is None:
            rng = int(np.random.randint(2**31 - 1))  # noqa: NPY002 - follows np.random.seed
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    def fit(
        self,
        x: ArrayLike,
        t: ArrayLike,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
        *,
        verbose: bool = True,
    ) -> list[float]:
        """``max_epoch`` passes over ``(x, t)`` in shuffled mini-batches (counting a pass a
        stopped ``fit`` left unfinished); returns ``loss_list``."""
        x, t = np.asarray(x), np.asarray(t)
        if len(x) != len(t) or len(x) == 0:
            raise ShapeError(f"x and t need the same, non-zero number of rows: {len(x)}, {len(t)}")
        batch_size = check_positive_int(batch_size, "batch_size")
        max_epoch = check_non_negative_int(max_epoch, "max_epoch")
        if eval_interval is not None:
            eval_interval = check_positive_int(eval_interval, "eval_interval (or None)")
        if max_grad is not None:
            max_grad = check_positive(max_grad, "max_grad (or None)")
        self.eval_interval = eval_interval
        sampler = self.sampler
        if sampler is None or sampler.n != len(x) or sampler.batch_size != batch_size:
            sampler = self.sampler = Sampler(len(x), batch_size, "shuffle", self.rng)
            self.epoch_step = 0
        max_iters = self.iter_per_epoch = sampler.batches_per_epoch
        self.total_iters = self.iteration + max_epoch * max_iters - self.epoch_step
        window = [0.0, 0]  # loss sum and count since the last line
        start_time = time.time()

        def step(iters: int) -> float:
            batch = sampler.next_batch()
            loss = float(self.model.forward(x[batch], t[batch]))
            if not math.isfinite(loss):
                raise DivergenceError(
                    f"the loss became {loss} at epoch {self.current_epoch + 1}, iteration "
                    f"{iters + 1}: lower the learning rate or set max_grad"
                )
            self._update(max_grad)
            window[0] += loss
            window[1] += 1
            if eval_interval is not None and iters % eval_interval == 0:
                avg_loss = window[0] / window[1]
                if verbose:
                    elapsed = time.time() - start_time
                    print(
                        f"| epoch {self.current_epoch + 1} |  iter {iters + 1} / "
                        f"{max_iters} | time {int(elapsed)}[s] | loss {avg_loss:.2f}"
                    )
                self.loss_list.append(avg_loss)
                window[:] = [0.0, 0]
            return loss

        self._run(step)
        return self.loss_list

    def state_dict(self) -> dict[str, Any]:
        """The loop's state, for a checkpoint: counters, ``loss_list``, the generator and
        the permutation being walked (JSON-able apart from ``perm``)."""
        sampler = self.sampler
        return {
            **{k: getattr(self, k) for k in self._COUNTERS},
            "loss_list": list(self.loss_list),
            "rng": self.rng.bit_generator.state,
            "sampler": None
            if sampler is None
            else {"n": sampler.n, "batch_size": sampler.batch_size, "pos": sampler.pos},
            "perm": None if sampler is None else sampler.perm.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`: the next ``fit`` on the same data continues the run
        step for step."""
        for k in self._COUNTERS:
            setattr(self, k, int(state[k]))
        self.loss_list = [float(v) for v in state["loss_list"]]
        self.rng.bit_generator.state = state["rng"]
        info = state.get("sampler")
        if info is None:
            self.sampler = None
            return
        sampler = Sampler(int(info["n"]), int(info["batch_size"]), "shuffle", self.rng)
        sampler.perm = np.asarray(state["perm"], dtype=np.intp)
        sampler.pos = int(info["pos"])
        self.sampler = sampler

    def plot(self, ylim: tuple[float, float] | None = None) -> Any:
        """The book's figure of ``loss_list``; returns the matplotlib Figure."""
        import matplotlib.pyplot as plt

        fig = plt.figure()
        x = np.arange(len(self.loss_list))
        if ylim is not None:
            plt.ylim(*ylim)
        plt.plot(x, self.loss_list, label="train")
        plt.xlabel(f"iterations (x{self.eval_interval})")
        plt.ylabel("loss")
        plt.show()
        return fig
