"""``Trainer``: mini-batch training of any scratchdl network, with evaluation each epoch.

The loop is the notes' loop made fast and safe:

* **Sampling.** ``'shuffle'`` draws a fresh permutation each epoch and walks it in batches
  (without replacement; the ``n % batch_size`` samples left over differ each epoch).
  ``'replacement'`` draws ``batch_size`` indices with replacement each iteration, the notes'
  ``np.random.choice(train_size, batch_size)``. An epoch is ``max(n // batch_size, 1)``
  iterations either way (600 for MNIST with batches of 100).
* **Evaluation.** A record is made at the end of every epoch and at the end of the run, so the
  last record always describes the final weights (what ``model.npz`` holds). The notes'
  10,000 iterations give 16 full epochs plus a partial one: 17 records, at iterations 600,
  1200, ..., 9600 and 10000. The notes instead evaluate after updates 1, 601, ..., 9601, which
  leaves the final 399 updates unevaluated. Evaluation runs in batches of ``eval_batch_size``
  rows (views of the data, no copies), so memory stays flat, and by default on a second
  thread, on a copy of the weights, while training goes on (the numbers are the same).
* **Speed.** Data are converted to the network's dtype once; a batch is one fancy-index
  gather; one forward and one backward pass per step (``Net.loss_and_gradient``), and the
  first layer skips the input gradient nobody uses.
* **Divergence.** A NaN or infinite loss stops the run with a message naming the iteration; the
  weights go back to those of the last record (evaluated and finite), or the initial ones.
* **Ctrl-C.** While :meth:`fit` runs, the first SIGINT asks the loop to stop after the current
  step (a second one interrupts at once). :meth:`save_checkpoint` then captures everything, and
  a Trainer that loads it continues bit for bit as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl._fs import atomic_path
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.functions import split_labels
from scratchdl.optimizers import Optimizer
from scratchdl.train._blas import blas_thread_count, blas_threads
from scratchdl.train.config import check_time_budget
from scratchdl.train.history import EpochRecord, History, finite_or_none

__all__ = ["EVAL_BATCH", "Callback", "Trainer", "evaluate"]

#: Rows per forward pass during evaluation: big enough for BLAS to run at full speed, small
#: enough that the activations of a 784-100-100-10 net stay a few MB.
EVAL_BATCH = 10000

CHECKPOINT_FORMAT = "scratchdl-checkpoint"
CHECKPOINT_VERSION = 1
_META_KEY = "__checkpoint__"


class Callback:
    """Hooks called by :meth:`Trainer.fit`; override the ones you need."""

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first step of this :meth:`~Trainer.fit` call."""

    def on_iteration(self, trainer: Trainer, loss: float) -> None:
        """After each update; ``trainer.iteration`` counts the updates done."""

    def on_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        """After each evaluation record."""

    def on_train_end(self, trainer: Trainer, history: History) -> None:
        """When the loop ends, for any reason."""


def evaluate(net: Any, x: NDArray, t: NDArray, batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``net`` on ``(x, t)``, in batches.

    Parameters
    ----------
    net : Net
        Anything with ``predict(x) -> scores (N, C)``.
    x : ndarray, shape (N, ...)
    t : ndarray
        Integer labels (N,) or one-hot targets (N, C).
    batch_size : int
        Rows per forward pass.

    Returns
    -------
    accuracy, loss : float
    """
    n = x.shape[0]
    if n == 0:
        raise ShapeError("cannot evaluate on an empty set: give at least one sample")
    correct = 0
    loss_sum = 0.0
    for start in range(0, n, batch_size):
        scores = net.predict(x[start : start + batch_size])
        labels, onehot = split_labels(t[start : start + batch_size], scores.shape)
        # log-softmax: z - log(sum(exp(z))) with z shifted by the row max, so no overflow
        z = scores - scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        if labels is None:
            labels = onehot.argmax(axis=1)
            loss_sum -= float(np.sum(onehot * (z - log_norm[:, None])))
        else:
            loss_sum += float(np.sum(log_norm - z[np.arange(z.shape[0]), labels]))
        # argmax of the raw scores: what predict-based tools (scratchdl evaluate) compute
        correct += int(np.count_nonzero(scores.argmax(axis=1) == labels))
    return correct / n, loss_sum / n


def _loss_and_gradient_fn(net: Any) -> Callable[[NDArray, NDArray], tuple[float, dict]]:
    fn = getattr(net, "loss_and_gradient", None)
    if fn is not None:
        return fn

    def fallback(x: NDArray, t: NDArray) -> tuple[float, dict]:
        grads = net.gradient(x, t)
        return float(net.loss(x, t)), grads

    return fallback


def _as_inputs(x: ArrayLike, dtype: np.dtype, name: str) -> NDArray:
    x = np.asarray(x)
    if x.dtype.kind not in "f":
        raise ShapeError(
            f"{name} has dtype {x.dtype}; give floating inputs, e.g. x / 255 or "
            "load_mnist(normalize=True)"
        )
    if x.ndim < 2:
        raise ShapeError(f"{name} must have shape (N, D) or (N, ...), got {x.shape}")
    # One conversion up front (a no-op when the dtype already matches), never one per batch.
    return np.ascontiguousarray(x, dtype=dtype)


class Trainer:
    """Train ``net`` on ``(x_train, t_train)`` with mini-batches; see the module docstring.

    Parameters
    ----------
    net : Net
        A scratchdl network (``params``, ``predict``, ``gradient``/``loss_and_gradient``).
    optimizer : Optimizer
        Updates ``net.params`` in place.
    x_train : ndarray, shape (N, D) or (N, ...)
        Floating inputs; converted once to the network's dtype.
    t_train : ndarray
        Integer labels (N,) or one-hot targets (N, C).
    x_test, t_test : ndarray, optional
        Test set, evaluated at every record.
    batch_size : int
    epochs, iters : int
        Length of the run: exactly one of them.
    eval_samples : int, optional
        Evaluate on this many samples of each set, drawn once without replacement (None: all).
    eval_batch_size : int
        Rows per forward pass in evaluation.
    sampling : {'shuffle', 'replacement'}
    rng : numpy.random.Generator or int, optional
        Source of the mini-batches (and of the ``eval_samples`` subsets). An int is a seed.
    seed : int, optional
        Used when ``rng`` is None; recorded in the history.
    max_seconds : float, optional
        Wall-clock budget of each call to :meth:`fit` (a resumed run gets a fresh one); the
        run stops after the first step past it, with a final record.
    callbacks : iterable of Callback
    config : dict, optional
        Stored in the history (``train()`` passes its ``TrainConfig``).
    handle_sigint : bool
        Turn the first Ctrl-C during :meth:`fit` into a clean stop (main thread only).
    blas_threads : int or None
        BLAS threads during :meth:`fit` (restored afterwards). One by default: a mini-batch
        step is too small to share out, and extra threads make it much slower on a busy
        machine (see :mod:`scratchdl.train._blas`). None leaves the BLAS setting alone.
    eval_blas_threads : int or None
        BLAS threads while evaluating in the foreground; None: the count BLAS had before
        :meth:`fit`.
    eval_in_background : bool or None
        Evaluate a copy of the weights on a second thread while training continues (same
        numbers, records appended in order). None: yes when the machine has several cores.
    """

    def __init__(
        self,
        net: Any,
        optimizer: Optimizer,
        x_train: ArrayLike,
        t_train: ArrayLike,
        x_test: ArrayLike | None = None,
        t_test: ArrayLike | None = None,
        *,
        batch_size: int = 100,
        epochs: int | None = None,
        iters: int | None = None,
        eval_samples: int | None = None,
        eval_batch_size: int = EVAL_BATCH,
        sampling: str = "shuffle",
        rng: np.random.Generator | int | None = None,
        seed: int | None = None,
        max_seconds: float | None = None,
        callbacks: Iterable[Callback] = (),
        config: dict[str, Any] | None = None,
        handle_sigint: bool = True,
        blas_threads: int | None = 1,
        eval_blas_threads: int | None = None,
        eval_in_background: bool | None = None,
    ) -> None:
        self.net = net
        self.optimizer = optimizer
        dtype = np.dtype(getattr(net, "dtype", np.float32))
        self.x_train = _as_inputs(x_train, dtype, "x_train")
        self.t_train = np.asarray(t_train)
        n = self.x_train.shape[0]
        if (x_test is None) != (t_test is None):
            raise ConfigError("give both x_test and t_test, or neither")
        self.x_test = None if x_test is None else _as_inputs(x_test, dtype, "x_test")
        self.t_test = None if t_test is None else np.asarray(t_test)

        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ConfigError(f"batch size must be a positive integer, got {batch_size}")
        if batch_size > n:
            raise ConfigError(
                f"batch size {batch_size} is larger than the {n} training samples: use at most {n}"
            )
        if (epochs is None) == (iters is None):
            raise ConfigError(
                f"give exactly one of epochs and iters, got epochs={epochs}, iters={iters}"
            )
        length = epochs if epochs is not None else iters
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ConfigError(
                f"{'epochs' if epochs is not None else 'iters'} must be a positive integer, got {length}"
            )
        if sampling not in ("shuffle", "replacement"):
            raise ConfigError(f"unknown sampling {sampling!r}: use 'shuffle' or 'replacement'")
        if eval_samples is not None and (isinstance(eval_samples, bool) or eval_samples < 1):
            raise ConfigError(
                f"eval_samples must be a positive integer or None, got {eval_samples}"
            )
        check_time_budget(max_seconds)

        self.batch_size = int(batch_size)
        self.sampling = sampling
        self.iter_per_epoch = max(n // self.batch_size, 1)
        self.total_iters = int(epochs) * self.iter_per_epoch if epochs is not None else int(iters)
        self.eval_batch_size = int(eval_batch_size)
        self.max_seconds = max_seconds
        self.callbacks: list[Callback] = list(callbacks)
        self.handle_sigint = handle_sigint
        self.blas_threads = blas_threads
        self.eval_blas_threads = eval_blas_threads
        if eval_in_background is None:
            eval_in_background = (os.cpu_count() or 1) > 1
        self.eval_in_background = bool(eval_in_background)
        self._executor: ThreadPoolExecutor | None = None
        self._eval_net: Any = None
        self._pending: tuple[int, Future] | None = None
        self._fit_blas_threads: int | None = None
        if isinstance(rng, np.random.Generator):
            self.rng = rng
        else:
            seed = rng if rng is not None else seed
            self.rng = np.random.default_rng(seed)
        self._loss_and_gradient = _loss_and_gradient_fn(net)

        self._check_labels()
        # Evaluation subsets come from a child stream, so eval_samples never changes which
        # mini-batches training sees.
        eval_rng = self.rng.spawn(1)[0]
        self.eval_train_idx = self._eval_subset(eval_rng, n, eval_samples)
        self.eval_test_idx = (
            None
            if self.x_test is None
            else self._eval_subset(eval_rng, self.x_test.shape[0], eval_samples)
        )

        # Position in the run: all of it goes into a checkpoint.
        self.iteration = 0
        self._perm: NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self._pos = 0  # batches of the current permutation already used
        self._last_record_elapsed = 0.0  # run time (s) at the previous record
        self._good = self._snapshot()  # weights of the last finite record (initially: init)
        self._good_iteration = 0
        self._stop_request: str | None = None
        self.history = History(
            config=dict(config) if config is not None else self._settings(),
            seed=None
            if isinstance(rng, np.random.Generator)
            else (rng if rng is not None else seed),
            iter_per_epoch=self.iter_per_epoch,
            total_iters=self.total_iters,
            info={"n_train": n, "n_test": 0 if self.x_test is None else int(self.x_test.shape[0])},
        )

    # -- setup helpers -----------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "total_iters": self.total_iters,
            "sampling": self.sampling,
            "optimizer": getattr(self.optimizer, "name", type(self.optimizer).__name__),
            **getattr(self.optimizer, "hyperparameters", dict)(),
        }

    def _check_labels(self) -> None:
        n = self.x_train.shape[0]
        scores = self.net.predict(self.x_train[:1])
        n_classes = scores.shape[-1]
        if self.t_train.shape[0] != n:
            raise ShapeError(f"x_train has {n} samples but t_train has {self.t_train.shape[0]}")
        split_labels(self.t_train, (n, n_classes))  # raises on bad shape, dtype or range
        if self.x_test is not None:
            m = self.x_test.shape[0]
            if self.t_test.shape[0] != m:
                raise ShapeError(f"x_test has {m} samples but t_test has {self.t_test.shape[0]}")
            if self.x_test.shape[1:] != self.x_train.shape[1:]:
                raise ShapeError(
                    f"x_test samples have shape {self.x_test.shape[1:]}, x_train samples "
                    f"{self.x_train.shape[1:]}"
                )
            split_labels(self.t_test, (m, n_classes))
        if self.t_train.dtype.kind in "iu":
            self.t_train = self.t_train.astype(np.intp, copy=False)

    @staticmethod
    def _eval_subset(rng: np.random.Generator, n: int, k: int | None) -> NDArray[np.intp] | None:
        if k is None or k >= n:
            return None
        # Sorted, so the gathered rows are read in memory order.
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.intp)

    def _snapshot(self) -> dict[str, NDArray]:
        return {k: np.array(v, copy=True) for k, v in self.net.params.items()}

    def _restore(self, arrays: dict[str, NDArray]) -> None:
        for key, value in arrays.items():
            np.copyto(self.net.params[key], value)

    # -- the loop ----------------------------------------------------------------------------
    def request_stop(self, reason: str = "interrupted") -> None:
        """Ask :meth:`fit` to stop after the current step (what the first Ctrl-C does)."""
        self._stop_request = reason

    def _next_batch(self) -> NDArray[np.intp]:
        bs = self.batch_size
        if self.sampling == "replacement":
            return self.rng.choice(self.x_train.shape[0], bs)
        if self._pos == 0 or (self._pos + 1) * bs > self._perm.shape[0]:
            self._perm = self.rng.permutation(self.x_train.shape[0])
            self._pos = 0
        idx = self._perm[self._pos * bs : (self._pos + 1) * bs]
        self._pos = (self._pos + 1) % self.iter_per_epoch
        return idx

    def fit(self) -> History:
        """Train until the planned number of iterations (or a stop), and return the history.

        Calling ``fit`` again after an interruption (or on a Trainer that loaded a checkpoint)
        continues where it stopped.
        """
        history = self.history
        history.stop_reason = None
        history.message = ""
        self._stop_request = None
        # Time spent in earlier sessions counts towards elapsed; the budget is per session.
        t0 = time.perf_counter() - history.elapsed
        self._fit_blas_threads = blas_thread_count()
        try:
            with contextlib.ExitStack() as cleanup:
                cleanup.callback(self._install_sigint())
                cleanup.enter_context(blas_threads(self.blas_threads))
                # Overflow to inf/NaN is caught as divergence with a clear message; NumPy's
                # warnings about it would only add noise.
                cleanup.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
                if self.eval_in_background:
                    self._executor = cleanup.enter_context(ThreadPoolExecutor(1, "scratchdl-eval"))
                    cleanup.callback(setattr, self, "_executor", None)
                for cb in self.callbacks:
                    cb.on_train_begin(self)
                reason, message = self._loop(t0, time.perf_counter())
                # Every run ends with its records complete, however it stopped.
                bad = self._collect(wait=True)
                if bad is not None and reason != "diverged":
                    reason, message = self._diverged(*bad)
                history.stop_reason, history.message = reason, message
        finally:
            history.elapsed = time.perf_counter() - t0
            history.iterations = self.iteration
        for cb in self.callbacks:
            cb.on_train_end(self, history)
        return history

    def _loop(self, t0: float, session_start: float) -> tuple[str, str]:
        """The training loop proper; returns ``(stop_reason, message)``."""
        history = self.history
        params = self.net.params
        loss_and_gradient = self._loss_and_gradient
        update = self.optimizer.update
        x_train, t_train = self.x_train, self.t_train
        while self.iteration < self.total_iters:
            if self._stop_request is not None:
                return self._stop_request, (
                    f"stopped at iteration {self.iteration} of {self.total_iters} "
                    f"({self._stop_request})"
                )
            idx = self._next_batch()
            loss, grads = loss_and_gradient(x_train[idx], t_train[idx])
            if not math.isfinite(loss):
                # A pending evaluation may already have seen the trouble coming.
                bad = self._collect(wait=True)
                if bad is not None:
                    return self._diverged(*bad)
                return self._diverged(loss, self.iteration + 1, in_eval=False)
            update(params, grads)
            self.iteration += 1
            history.loss.append(loss)
            for cb in self.callbacks:
                cb.on_iteration(self, loss)
            if self._pending is not None:
                bad = self._collect(wait=False)
                if bad is not None:
                    return self._diverged(*bad)
            over_budget = (
                self.max_seconds is not None
                and time.perf_counter() - session_start > self.max_seconds
            )
            if (
                self.iteration % self.iter_per_epoch == 0
                or self.iteration == self.total_iters
                or over_budget
            ):
                bad = self._start_record(t0)
                if bad is not None:
                    return self._diverged(*bad)
            if over_budget and self.iteration < self.total_iters:
                return "time_limit", (
                    f"stopped after {self.iteration} of {self.total_iters} iterations: "
                    f"the {self.max_seconds:g} s budget was used up"
                )
        return "completed", ""

    # -- evaluation records ------------------------------------------------------------------
    def _start_record(self, t0: float) -> tuple[float, int] | None:
        """Evaluate the current weights, now or in the background.

        In the background, a copy of the weights is evaluated by a second network on the
        worker thread while training goes on: the numbers are the same as evaluating in place,
        and the 17 passes over the 70,000 MNIST images no longer hold up training. At most one
        evaluation is in flight; the record is appended, in order, when it is collected.
        Returns ``(loss, iteration)`` of a non-finite evaluation loss, else None.
        """
        bad = self._collect(wait=True)
        if bad is not None:
            return bad
        if self._executor is None or self.iteration == self.total_iters:
            # The last evaluation has nothing to overlap with: run it here, with every thread.
            with blas_threads(self.eval_blas_threads or self._fit_blas_threads):
                result = self._evaluate_net(self.net, t0)
            return self._finish_record(self.iteration, result, self.net)
        if self._eval_net is None:
            self._eval_net = copy.deepcopy(self.net)
        for key, value in self.net.params.items():
            np.copyto(self._eval_net.params[key], value)
        future = self._executor.submit(self._evaluate_net, self._eval_net, t0)
        self._pending = (self.iteration, future)
        return None

    def _collect(self, wait: bool) -> tuple[float, int] | None:
        """Append the record of the background evaluation if it is done (or ``wait``)."""
        if self._pending is None:
            return None
        iteration, future = self._pending
        if not (wait or future.done()):
            return None
        self._pending = None
        return self._finish_record(iteration, future.result(), self._eval_net)

    def _evaluate_net(
        self, net: Any, t0: float
    ) -> tuple[float, float, float | None, float | None, float]:
        # np.errstate is per thread: the worker needs its own (non-finite losses are handled).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x_tr, t_tr = self._eval_set(self.x_train, self.t_train, self.eval_train_idx)
            train_acc, train_loss = evaluate(net, x_tr, t_tr, self.eval_batch_size)
            test_acc = test_loss = None
            if self.x_test is not None:
                x_te, t_te = self._eval_set(self.x_test, self.t_test, self.eval_test_idx)
                test_acc, test_loss = evaluate(net, x_te, t_te, self.eval_batch_size)
        return train_acc, train_loss, test_acc, test_loss, time.perf_counter() - t0

    def _finish_record(
        self, iteration: int, result: tuple, evaluated: Any
    ) -> tuple[float, int] | None:
        """Append the record of ``result``; ``evaluated`` is the net holding those weights."""
        train_acc, train_loss, test_acc, test_loss, elapsed = result
        for value in (train_loss, test_loss):
            if value is not None and not math.isfinite(value):
                return value, iteration
        record = EpochRecord(
            # The epoch the record falls in: a stop mid-epoch and its resume share a label.
            epoch=-(-iteration // self.iter_per_epoch),
            iteration=iteration,
            train_acc=train_acc,
            train_loss=train_loss,
            test_acc=test_acc,
            test_loss=finite_or_none(test_loss),
            elapsed=elapsed,
            epoch_time=elapsed - self._last_record_elapsed,
        )
        self._last_record_elapsed = elapsed
        self.history.records.append(record)
        self._good = {k: np.array(v, copy=True) for k, v in evaluated.params.items()}
        self._good_iteration = iteration
        for cb in self.callbacks:
            cb.on_epoch(self, record)
        return None

    @staticmethod
    def _eval_set(x: NDArray, t: NDArray, idx: NDArray | None) -> tuple[NDArray, NDArray]:
        if idx is None:
            return x, t
        return x[idx], t[idx]

    def _diverged(self, loss: float, at: int, in_eval: bool = True) -> tuple[str, str]:
        """Restore the last good weights; return the stop reason and the message.

        ``at`` is the 1-based iteration whose loss was not finite, or the iteration after which
        an evaluation found a non-finite loss (``in_eval``).
        """
        self.history.diverged_at = at
        self._restore(self._good)
        where = "the evaluation after iteration" if in_eval else "iteration"
        lr = getattr(self.optimizer, "lr", None)
        now = f" (now {lr:g})" if lr is not None else ""
        fix = f"try a smaller learning rate{now}, e.g. 10 times smaller"
        decay = getattr(self.net, "weight_decay_lambda", 0.0)
        if decay and lr is not None and lr * decay >= 1:
            # Each step multiplies W by (1 - lr * lambda): at 1 or more it flips or blows up.
            fix = (
                f"try a smaller weight decay (now {decay:g}): lr x weight decay is "
                f"{lr * decay:g}, and it must stay well below 1"
            )
        elif decay:
            fix += f", or a smaller weight decay (now {decay:g})"
        kept = (
            f"those of the evaluation at iteration {self._good_iteration}"
            if self._good_iteration
            else "the initial ones"
        )
        return "diverged", (
            f"training diverged: the loss became {loss} at {where} {at}; {fix}. The weights "
            f"were reset to the last good ones: {kept}"
        )

    def _install_sigint(self) -> Callable[[], None]:
        if not self.handle_sigint or threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if self._stop_request is not None:  # second Ctrl-C: stop right now
                raise KeyboardInterrupt
            self.request_stop("interrupted")

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> Path:
        """Write everything needed to continue this run to ``path`` (a ``.npz``), atomically.

        Holds the weights, the last good weights, the optimizer state, the random generator's
        state, the current permutation and position, the evaluation subsets and the history.
        Plain arrays and JSON only: loading it never runs code.
        """
        path = Path(path)
        arrays: dict[str, NDArray] = {}
        for key, value in self.net.params.items():
            arrays[f"param/{key}"] = value
        for key, value in self._good.items():
            arrays[f"good/{key}"] = value
        opt = self.optimizer.state_dict()
        for key, slots in opt["state"].items():
            for slot, value in slots.items():
                arrays[f"opt/{key}/{slot}"] = value
        arrays["perm"] = self._perm
        if self.eval_train_idx is not None:
            arrays["eval_train_idx"] = self.eval_train_idx
        if self.eval_test_idx is not None:
            arrays["eval_test_idx"] = self.eval_test_idx
        meta = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "iteration": self.iteration,
            "pos": self._pos,
            "good_iteration": self._good_iteration,
            "rng": self.rng.bit_generator.state,
            "optimizer": {k: v for k, v in opt.items() if k != "state"},
            "trainer": self._fingerprint(),
            "history": self.history.to_dict(),
            "last_record_elapsed": self._last_record_elapsed,
        }
        arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        return path

    def _fingerprint(self) -> dict[str, Any]:
        """What must match between the run that saved a checkpoint and the one loading it."""
        return {
            "batch_size": self.batch_size,
            "sampling": self.sampling,
            "total_iters": self.total_iters,
            "n_train": int(self.x_train.shape[0]),
            "n_test": 0 if self.x_test is None else int(self.x_test.shape[0]),
            "params": {k: list(v.shape) for k, v in self.net.params.items()},
        }

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore the state saved by :meth:`save_checkpoint` into this Trainer.

        The Trainer must have been built like the one that saved it (same network shape,
        optimizer, data sizes, batch size, sampling and length).
        """
        arrays, meta = read_checkpoint(path)
        mismatch = {
            k: (v, meta["trainer"].get(k))
            for k, v in self._fingerprint().items()
            if meta["trainer"].get(k) != v
        }
        if mismatch:
            detail = "; ".join(
                f"{k}: checkpoint {old}, now {new}" for k, (new, old) in mismatch.items()
            )
            raise ModelFileError(
                f"{path} belongs to a different run ({detail}): resume with the same settings"
            )
        opt_state = dict(meta["optimizer"])
        opt_state["state"] = {}
        for name, value in arrays.items():
            if name.startswith("opt/"):
                _, key, slot = name.split("/")
                opt_state["state"].setdefault(key, {})[slot] = value
        self.optimizer.load_state_dict(opt_state)
        self._restore({k: arrays[f"param/{k}"] for k in self.net.params})
        self._good = {k: arrays[f"good/{k}"].copy() for k in self.net.params}
        self._good_iteration = int(meta["good_iteration"])
        self._perm = arrays["perm"].astype(np.intp)
        self._pos = int(meta["pos"])
        self.iteration = int(meta["iteration"])
        self.eval_train_idx = arrays.get("eval_train_idx")
        self.eval_test_idx = arrays.get("eval_test_idx")
        state = meta["rng"]
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
        self.rng = np.random.Generator(bit_generator)
        self.history = History.from_dict(meta["history"])
        self._last_record_elapsed = float(meta["last_record_elapsed"])


#: What :meth:`Trainer.load_checkpoint` reads from a checkpoint's record.
_CHECKPOINT_KEYS = (
    "iteration",
    "pos",
    "good_iteration",
    "rng",
    "optimizer",
    "trainer",
    "history",
    "last_record_elapsed",
)


def read_checkpoint(path: str | Path) -> tuple[dict[str, NDArray], dict[str, Any]]:
    """Arrays and metadata of a checkpoint written by :meth:`Trainer.save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no checkpoint at {path}: there is nothing to resume")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is not a readable scratchdl checkpoint: {exc}") from None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != CHECKPOINT_FORMAT
        or meta.get("format_version", 0) > CHECKPOINT_VERSION
    ):
        raise ModelFileError(f"{path} is not a scratchdl checkpoint this version can read")
    missing = [k for k in _CHECKPOINT_KEYS if k not in meta]
    history = meta.get("history")
    if not isinstance(history, dict) or not isinstance(history.get("config"), dict):
        missing.append("history.config")
    if missing:
        raise ModelFileError(
            f"{path} is damaged: its record lacks {', '.join(missing)}; delete it and start the "
            "run again"
        )
    return arrays, meta


def config_differences(
    a: dict[str, Any], b: dict[str, Any], ignore: Sequence[str] = ()
) -> list[str]:
    """Names of the keys whose values differ between two config dicts."""
    return sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))
