"""``Trainer``: the book's mini-batch loop (ch. 4.5.2-4.5.3, ch. 6 ``common/trainer.py``).

:meth:`Trainer.fit` is the loop of the book's ``train_neuralnet.py``: sample a batch, compute
the gradient, let the optimizer update the parameters, and once per epoch record the train and
test accuracy. It relies on the Net contract only (:mod:`scratchdl.nets`), and it reads the
mini-batch loss from ``net.last_loss``, kept by ``gradient`` from its own forward pass, so a
step runs the forward pass once.

* **Sampling** (:class:`Sampler`). ``'shuffle'`` (the default) draws a fresh permutation each
  epoch and walks it in batches; the ``n % batch_size`` samples left over are dropped for that
  epoch (they differ each epoch). ``'replacement'`` draws ``batch_size`` indices with
  replacement every step, the book's ``np.random.choice(train_size, batch_size)``. An epoch is
  ``max(n // batch_size, 1)`` steps either way (600 for MNIST with batches of 100).
* **Records.** One at the end of every epoch and one at the end of the run, so the last record
  describes the final weights. 10,000 steps of 100 give 16 full epochs and a partial one: 17
  records, at iterations 600, ..., 9600 and 10000 (the book records after steps 1, 601, ...,
  9601 and leaves the last 399 unevaluated); ``record_every`` samples instead of an epoch's
  gives a finer learning curve. The :class:`Evaluator` makes them; it is a
  callback, and :class:`~scratchdl.train.helpers.BackgroundEvaluation` is the opt-in one that
  evaluates a copy of the weights on a second thread.
* **Chapter 8's additions** (opt-in). ``augment`` transforms each mini-batch before the
  gradient (:class:`~scratchdl.data.augment.Augmenter`: shifts, rotations, elastic
  distortions), drawn from a child stream of ``rng`` so that turning it on does not change
  which mini-batches are drawn; ``lr_schedule`` sets ``optimizer.lr`` before every step from
  the epoch it falls in (:class:`~scratchdl.train.schedule.LRSchedule`). Both are in the
  checkpoint, so a resumed run is bit for bit the uninterrupted one.
* **Divergence.** A NaN or infinite loss stops the run with a message naming the iteration; the
  weights go back to those of the last record (evaluated and finite), or the initial ones.
* **Checkpoints** (opt-in, what a sweep's trial needs). ``checkpoints={"final": {"epochs":
  2}, "time": {"seconds": 1.5}}``: when any target of one is reached (epochs as counted here,
  samples seen, updates, or seconds of :attr:`~Trainer.train_seconds`), the full sets are
  evaluated into ``history.checkpoints[name]``; the run stops once every one is, with a
  record of where it stopped. A divergence
  closes the pending ones (``reached`` False, losses None, the restored weights' accuracies).
* **Stops.** :meth:`Trainer.request_stop` (what the opt-in Ctrl-C and time-budget helpers of
  :mod:`scratchdl.train.helpers` call) ends the loop after the current step; ``fit`` again
  continues. :mod:`scratchdl.train.checkpoint` saves and restores a Trainer bit for bit.

Nothing here installs a signal handler, changes the BLAS thread count or starts a thread.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_positive_int, generator_from_state
from scratchdl.choices import SAMPLINGS
from scratchdl.errors import ConfigError, ShapeError
from scratchdl.functions import split_labels
from scratchdl.nets import EVAL_BATCH, evaluate
from scratchdl.optimizers import SGD, Optimizer
from scratchdl.train import checkpoint
from scratchdl.train.history import EpochRecord, History, finite_or_none
from scratchdl.train.schedule import LRSchedule

__all__ = ["CHECKPOINT_KINDS", "Callback", "Evaluator", "Sampler", "Trainer"]

#: What a checkpoint target counts: epochs (as the Trainer counts them), samples seen, updates,
#: or training seconds (:attr:`Trainer.train_seconds`).
CHECKPOINT_KINDS = ("epochs", "samples", "updates", "seconds")


def iter_per_epoch(n: int, batch_size: int) -> int:
    """Updates in an epoch of ``n`` samples: ``n // batch_size`` (the remainder is dropped)."""
    return max(n // batch_size, 1)


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


class Sampler:
    """Mini-batch indices for ``n`` samples: ``'shuffle'`` or ``'replacement'``.

    ``'shuffle'``: a fresh permutation each epoch, walked in ``n // batch_size`` batches (the
    remainder is dropped for that epoch). ``'replacement'``: ``batch_size`` indices drawn with
    replacement every step, the book's ``np.random.choice``. ``perm`` and ``pos`` (batches of
    the permutation used) are its whole state besides ``rng``.
    """

    def __init__(self, n: int, batch_size: int, mode: str, rng: np.random.Generator) -> None:
        if mode not in SAMPLINGS:
            raise ConfigError(f"unknown sampling {mode!r}: use one of {', '.join(SAMPLINGS)}")
        self.n, self.batch_size, self.mode, self.rng = n, batch_size, mode, rng
        self.batches_per_epoch = iter_per_epoch(n, batch_size)
        self.perm: NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self.pos = 0

    def next_batch(self) -> NDArray[np.intp]:
        bs = self.batch_size
        if self.mode == "replacement":
            return self.rng.choice(self.n, bs)
        if self.pos == 0 or (self.pos + 1) * bs > self.perm.shape[0]:
            self.perm = self.rng.permutation(self.n)
            self.pos = 0
        idx = self.perm[self.pos * bs : (self.pos + 1) * bs]
        self.pos = (self.pos + 1) % self.batches_per_epoch
        return idx


class Evaluator(Callback):
    """Makes the Trainer's records, in the foreground: the default.

    Parameters
    ----------
    batch_size : int
        Rows per forward pass (:func:`scratchdl.nets.evaluate`).
    """

    def __init__(self, batch_size: int = EVAL_BATCH) -> None:
        self.batch_size = batch_size

    def record(self, trainer: Trainer) -> None:
        """Evaluate the current weights and hand the result to :meth:`Trainer.add_record`."""
        trainer.add_record(trainer.iteration, trainer.measure(trainer.net, self.batch_size))

    def finish(self, trainer: Trainer) -> None:
        """Make sure every record asked for is in the history (nothing to do here)."""


def _as_inputs(x: ArrayLike, dtype: np.dtype, name: str) -> NDArray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
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
        Any network of the Net contract.
    x_train : ndarray, shape (N, D) or (N, ...)
        Floating inputs; converted once to the network's dtype.
    t_train : ndarray
        Integer labels (N,) or one-hot targets (N, C).
    x_test, t_test : ndarray, optional
        Test set, evaluated at every record.
    optimizer : Optimizer, optional
        Updates ``net.params`` in place; the book's default ``SGD(lr=0.01)``.
    batch_size : int
    epochs, iters : int
        Length of the run: exactly one of them.
    sampling : {'shuffle', 'replacement'}
        See :class:`Sampler`.
    eval_samples : int, optional
        Evaluate on this many samples of each set, drawn once without replacement (None: all).
    rng : numpy.random.Generator or int, optional
        Source of the mini-batches (and of the ``eval_samples`` subsets). An int is a seed.
    callbacks : iterable of Callback
    evaluator : Evaluator, optional
        Who makes the records; default :class:`Evaluator` (foreground).
    augment : callable, optional
        ``augment(x_batch, rng) -> x_batch``, a new array of the same shape and dtype (e.g.
        :class:`~scratchdl.data.augment.Augmenter`), applied to every training mini-batch
        (ch. 8.1.1); never to the evaluation sets.
    lr_schedule : LRSchedule, optional
        Sets ``optimizer.lr`` before each step to ``lr_schedule.lr(epoch)`` (ch. 8.1.1).
    checkpoints : mapping, optional
        ``name -> {kind: target}``, kind in :data:`CHECKPOINT_KINDS`; see the module docstring.
    record_every : int, optional
        Samples between records (default: an epoch's, ``iter_per_epoch * batch_size``): a
        record after each step that crosses a multiple of it (a sweep's learning curve).
    """

    def __init__(
        self,
        net: Any,
        x_train: ArrayLike,
        t_train: ArrayLike,
        x_test: ArrayLike | None = None,
        t_test: ArrayLike | None = None,
        *,
        optimizer: Optimizer | None = None,
        batch_size: int = 100,
        epochs: int | None = None,
        iters: int | None = None,
        sampling: str = "shuffle",
        eval_samples: int | None = None,
        rng: np.random.Generator | int | None = None,
        callbacks: Iterable[Callback] = (),
        evaluator: Evaluator | None = None,
        augment: Any = None,
        lr_schedule: LRSchedule | None = None,
        checkpoints: Mapping[str, Mapping[str, float]] | None = None,
        record_every: int | None = None,
    ) -> None:
        self.net = net
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer if optimizer is not None else SGD()
        dtype = np.dtype(getattr(net, "dtype", np.float32))
        self.x_train = _as_inputs(x_train, dtype, "x_train")
        self.t_train = np.asarray(t_train)
        n = self.x_train.shape[0]
        if (x_test is None) != (t_test is None):
            raise ConfigError("give both x_test and t_test, or neither")
        self.x_test = None if x_test is None else _as_inputs(x_test, dtype, "x_test")
        self.t_test = None if t_test is None else np.asarray(t_test)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if self.batch_size > n:
            raise ConfigError(
                f"batch_size {batch_size} is larger than the {n} training samples: use at most {n}"
            )
        if (epochs is None) == (iters is None):
            raise ConfigError(
                f"give exactly one of epochs and iters, got epochs={epochs}, iters={iters}"
            )
        if eval_samples is not None:
            check_positive_int(eval_samples, "eval_samples")
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.sampler = Sampler(n, self.batch_size, sampling, self.rng)
        self.iter_per_epoch = self.sampler.batches_per_epoch
        if epochs is not None:
            self.total_iters = check_positive_int(epochs, "epochs") * self.iter_per_epoch
        else:
            self.total_iters = check_positive_int(iters, "iters")
        every = self.iter_per_epoch * self.batch_size if record_every is None else record_every
        self.record_every = check_positive_int(every, "record_every")
        self.evaluator = evaluator if evaluator is not None else Evaluator()
        # The evaluator first: a background one must collect before others see the epoch.
        self.callbacks: list[Callback] = [self.evaluator, *callbacks]
        self._check_labels()
        # Evaluation subsets come from a child stream, so eval_samples never changes which
        # mini-batches training sees.
        eval_rng = self.rng.spawn(1)[0]
        n_test = 0 if self.x_test is None else self.x_test.shape[0]  # 0: no subset drawn
        self.eval_train_idx = self._eval_subset(eval_rng, n, eval_samples)
        self.eval_test_idx = self._eval_subset(eval_rng, n_test, eval_samples)
        # Augmentation draws from a second child stream: the same mini-batches with or
        # without it, so an ablation compares like with like.
        self.augment_rng = self.rng.spawn(1)[0]

        self.checkpoints = {name: dict(t) for name, t in (checkpoints or {}).items()}
        for name, target in self.checkpoints.items():
            if not target or any(k not in CHECKPOINT_KINDS or not v > 0 for k, v in target.items()):
                raise ConfigError(
                    f"checkpoint {name!r} needs a positive {'/'.join(CHECKPOINT_KINDS)} target"
                )

        # Position in the run: all of it goes into a checkpoint.
        self.iteration = 0
        #: Seconds spent sampling, computing gradients and updating: the run's compute, with
        #: every evaluation (records, checkpoints, callbacks) left out.
        self.train_seconds = 0.0
        self.last_record_elapsed = 0.0  # run time (s) at the previous record
        self.good = self._snapshot(net)  # network of the last finite record (initially: init)
        self.good_iteration = 0
        self._stop: tuple[str, str | None, bool] | None = None
        self._t0 = time.perf_counter()
        self.history = History(
            config={
                "batch_size": self.batch_size,
                "total_iters": self.total_iters,
                "sampling": sampling,
                "optimizer": getattr(self.optimizer, "name", type(self.optimizer).__name__),
                **getattr(self.optimizer, "hyperparameters", dict)(),
            },
            seed=rng if isinstance(rng, (int, np.integer)) else None,
            iter_per_epoch=self.iter_per_epoch,
            total_iters=self.total_iters,
            info={"n_train": n, "n_test": n_test},
        )

    @property
    def sampling(self) -> str:
        return self.sampler.mode

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> History:
        """Train until the planned number of iterations (or a stop), and return the history.

        Calling ``fit`` again after a stop (or on a Trainer that loaded a checkpoint)
        continues where it stopped.
        """
        net, optimizer, history = self.net, self.optimizer, self.history
        self._begin()
        try:
            # Overflow to inf/NaN is caught as divergence with a clear message; NumPy's
            # warnings about it would only add noise (np.errstate is local to this block).
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.iteration < self.total_iters and self._stop is None:
                    start = time.perf_counter()
                    batch_mask = self.sampler.next_batch()
                    x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]
                    if self.augment is not None:
                        x_batch = self.augment(x_batch, self.augment_rng)
                    if self.lr_schedule is not None:
                        optimizer.lr = self.lr_schedule.lr(self.iteration // self.iter_per_epoch)

                    grads = net.gradient(x_batch, t_batch)
                    loss = self._loss_of_step(x_batch, t_batch)
                    if not math.isfinite(loss):
                        self.diverge(loss, self.iteration + 1, in_eval=False)
                        break
                    optimizer.update(net.params, grads)

                    self.iteration += 1
                    history.loss.append(loss)
                    self.train_seconds += time.perf_counter() - start
                    self._check_checkpoints()
                    for cb in self.callbacks:
                        cb.on_iteration(self, loss)
                    samples, every = self.iteration * self.batch_size, self.record_every
                    crossed = samples // every > (samples - self.batch_size) // every
                    if crossed or self.iteration == self.total_iters:
                        self.evaluator.record(self)
                self._finish()
                if self._stop is not None and self._stop[0] == "diverged":
                    self._check_checkpoints(diverged=True)
        finally:
            history.elapsed = self.elapsed()
            history.iterations = self.iteration
            for cb in self.callbacks:
                cb.on_train_end(self, history)
        return history

    def _loss_of_step(self, x_batch: NDArray, t_batch: NDArray) -> float:
        loss = getattr(self.net, "last_loss", None)
        if loss is None:  # a network outside the contract: one more forward pass
            loss = self.net.loss(x_batch, t_batch)
        return float(loss)

    def _begin(self) -> None:
        self.history.stop_reason, self.history.message = None, ""
        self.history.info.pop("cut_record", None)  # said of an earlier session's last record
        self._stop = None
        # Time spent in earlier sessions counts towards elapsed.
        self._t0 = time.perf_counter() - self.history.elapsed
        for cb in self.callbacks:
            cb.on_train_begin(self)

    def _finish(self) -> None:
        """Complete the records and say why the run stopped."""
        history = self.history
        record = self._stop[2] if self._stop is not None else False
        last = history.last
        with self._evaluation_cut(record):
            if record and (last is None or last.iteration != self.iteration):
                self.evaluator.record(self)  # a stop that asked for a record of where it stopped
            self.evaluator.finish(self)  # every run ends with its records complete
        if self._stop is None:
            history.stop_reason, history.message = "completed", ""
        else:
            reason, message, _ = self._stop
            history.stop_reason = reason
            history.message = message or (
                f"stopped at iteration {self.iteration} of {self.total_iters} ({reason})"
            )

    def position(self) -> dict[str, float]:
        """Where the run is, in each of :data:`CHECKPOINT_KINDS`."""
        it = self.iteration
        return {
            "updates": it,
            "samples": it * self.batch_size,
            "epochs": it / self.iter_per_epoch,
            "seconds": self.train_seconds,
        }

    def _check_checkpoints(self, diverged: bool = False) -> None:
        """Evaluate the full sets for every checkpoint just reached (all pending ones after a
        divergence: not reached, losses None), and stop once none is pending."""
        pending = {k: v for k, v in self.checkpoints.items() if k not in self.history.checkpoints}
        if not pending:
            return
        now = self.position()
        reached = [
            name
            for name, target in pending.items()
            if diverged or any(now[k] >= v - 1e-9 for k, v in target.items())
        ]
        if not reached:
            return
        sets = [("train", self.x_train, self.t_train)]
        if self.x_test is not None:
            sets.append(("test", self.x_test, self.t_test))
        point: dict[str, Any] = dict(now)
        for name, x, t in sets:
            with np.errstate(all="ignore"):  # a diverged net's NaN scores are reported
                point[f"{name}_acc"], loss = evaluate(self.net, x, t)
            # After a divergence the weights are the last good ones, but the run's loss was not
            # finite: that is what its losses report.
            point[f"{name}_loss"] = None if diverged else finite_or_none(loss)
        for name in reached:
            self.history.checkpoints[name] = {**point, "reached": not diverged}
        if len(reached) == len(pending) and not diverged:
            self.request_stop("completed", "every checkpoint reached", record=True)

    def request_stop(
        self, reason: str = "interrupted", message: str | None = None, record: bool | int = False
    ) -> None:
        """Stop :meth:`fit` after the current step (the first request wins).

        ``record`` asks for a final record of the weights where the run stopped (the time
        budget does; Ctrl-C does not, to stop at once). A number asks for it on at most that
        many samples of each set (a random subset, for this record only):
        ``history.info["cut_record"]`` then says so.
        """
        if self._stop is None:
            self._stop = (reason, message, record)

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`fit` needs to continue this run bit for bit, as copies.

        The network (:meth:`Net.state_dict <scratchdl.nets.Net.state_dict>`), the network of
        the last good record, the optimizer, the generator, the sampler's permutation and
        position, the evaluation subsets, the history, and the settings a continuing Trainer
        must share (``'trainer'``). :mod:`scratchdl.train.checkpoint` writes it to a file.
        """
        return {
            "trainer": self._fingerprint(),
            "net": self.net.state_dict(),
            "good": {part: dict(arrays) for part, arrays in self.good.items()},
            "good_iteration": self.good_iteration,
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "augment_rng": self.augment_rng.bit_generator.state,
            "perm": self.sampler.perm.copy(),
            "pos": self.sampler.pos,
            "iteration": self.iteration,
            "eval_train_idx": self.eval_train_idx,
            "eval_test_idx": self.eval_test_idx,
            "history": self.history.to_dict(),
            "last_record_elapsed": self.last_record_elapsed,
            "train_seconds": self.train_seconds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`; this Trainer must be built like the one that
        made it (same network shape, optimizer, data sizes, batch size, sampling and length).

        Raises
        ------
        ConfigError
            If the settings differ (the message lists them).
        ShapeError
            If the network state does not fit the network.
        """
        saved = state["trainer"]
        mismatch = [
            f"{k}: saved {saved.get(k)}, now {v}"
            for k, v in self._fingerprint().items()
            if saved.get(k) != v
        ]
        if mismatch:
            raise ConfigError(f"the state belongs to a different run ({'; '.join(mismatch)})")
        if self.lr_schedule is not None:
            # The saved rate is the schedule's of the last step; the fingerprint has checked
            # the schedule itself (its lr0 included).
            saved_lr = state["optimizer"].get("hyperparameters", {}).get("lr")
            if saved_lr is not None:
                self.optimizer.lr = saved_lr
        self.optimizer.load_state_dict(state["optimizer"])
        self.net.load_state_dict(state["net"])
        self.good = {part: dict(arrays) for part, arrays in state["good"].items()}
        self.good_iteration = int(state["good_iteration"])
        self.sampler.perm = np.asarray(state["perm"]).astype(np.intp)
        self.sampler.pos = int(state["pos"])
        self.iteration = int(state["iteration"])
        self.eval_train_idx = state["eval_train_idx"]
        self.eval_test_idx = state["eval_test_idx"]
        self.rng = self.sampler.rng = generator_from_state(state["rng"])
        if state.get("augment_rng") is not None:  # absent from checkpoints before augment
            self.augment_rng = generator_from_state(state["augment_rng"])
        self.history = History.from_dict(state["history"])
        self.last_record_elapsed = float(state["last_record_elapsed"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def _fingerprint(self) -> dict[str, Any]:
        """What must match between the run that saved a state and the one loading it."""
        return {
            "batch_size": self.batch_size,
            "sampling": self.sampling,
            "total_iters": self.total_iters,
            "n_train": int(self.x_train.shape[0]),
            "n_test": 0 if self.x_test is None else int(self.x_test.shape[0]),
            "params": {k: list(v.shape) for k, v in self.net.params.items()},
            "augment": getattr(self.augment, "to_dict", lambda: None)(),
            "lr_schedule": None if self.lr_schedule is None else self.lr_schedule.to_dict(),
        }

    def save_checkpoint(self, path: Any) -> Any:
        """:func:`scratchdl.train.checkpoint.save_checkpoint` of this Trainer."""
        return checkpoint.save_checkpoint(self, path)

    def load_checkpoint(self, path: Any) -> None:
        """:func:`scratchdl.train.checkpoint.load_checkpoint` into this Trainer."""
        checkpoint.load_checkpoint(self, path)

    def elapsed(self) -> float:
        """Seconds since the run started (across resumes)."""
        return time.perf_counter() - self._t0

    # -- records -----------------------------------------------------------------------------
    def measure(
        self, net: Any, batch_size: int = EVAL_BATCH, train_seconds: float | None = None
    ) -> tuple[float, float, float | None, float | None, float, float]:
        """``(train_acc, train_loss, test_acc, test_loss, elapsed, train_seconds)`` of ``net``
        on the evaluation sets (any thread: a background evaluation passes the training clock
        of the weights it measures)."""
        if train_seconds is None:
            train_seconds = self.train_seconds
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x_tr, t_tr = self._eval_set(self.x_train, self.t_train, self.eval_train_idx)
            train_acc, train_loss = evaluate(net, x_tr, t_tr, batch_size)
            test_acc = test_loss = None
            if self.x_test is not None:
                x_te, t_te = self._eval_set(self.x_test, self.t_test, self.eval_test_idx)
                test_acc, test_loss = evaluate(net, x_te, t_te, batch_size)
        return train_acc, train_loss, test_acc, test_loss, self.elapsed(), train_seconds

    def record_rows(self) -> int:
        """Samples a record evaluates (what the time budget weighs a final record by)."""
        sets = ((self.x_train, self.eval_train_idx), (self.x_test, self.eval_test_idx))
        return sum(len(x if idx is None else idx) for x, idx in sets if x is not None)

    def add_record(self, iteration: int, result: tuple, net: Any = None) -> None:
        """Append the record of ``result`` (from :meth:`measure`) for the weights after
        ``iteration`` steps, held by ``net`` (default: the trained network); a non-finite loss
        is divergence."""
        train_acc, train_loss, test_acc, test_loss, elapsed, train_seconds = result
        for value in (train_loss, test_loss):
            if value is not None and not math.isfinite(value):
                self.diverge(value, iteration, in_eval=True)
                return
        record = EpochRecord(
            # The epoch the record falls in: a stop mid-epoch and its resume share a label.
            epoch=-(-iteration // self.iter_per_epoch),
            iteration=iteration,
            train_acc=train_acc,
            train_loss=train_loss,
            test_acc=test_acc,
            test_loss=finite_or_none(test_loss),
            elapsed=elapsed,
            epoch_time=elapsed - self.last_record_elapsed,
            train_seconds=train_seconds,
        )
        self.last_record_elapsed = elapsed
        self.history.records.append(record)
        self.good = self._snapshot(self.net if net is None else net)
        self.good_iteration = iteration
        for cb in self.callbacks:
            cb.on_epoch(self, record)

    def diverge(self, loss: float, at: int, in_eval: bool = True) -> None:
        """Stop as diverged and restore the last good weights.

        ``at`` is the 1-based iteration whose loss was not finite, or the iteration after which
        an evaluation found a non-finite loss (``in_eval``).
        """
        if not in_eval:
            self.evaluator.finish(self)  # a pending evaluation may have seen it coming
        if self._stop is not None and self._stop[0] == "diverged":
            return
        self.history.diverged_at = at
        self.restore(self.good)
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
            f"those of the evaluation at iteration {self.good_iteration}"
            if self.good_iteration
            else "the initial ones"
        )
        self._stop = (
            "diverged",
            f"training diverged: the loss became {loss} at {where} {at}; {fix}. The weights "
            f"were reset to the last good ones: {kept}",
            False,
        )

    # -- helpers -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _evaluation_cut(self, record: bool | int) -> Iterator[None]:
        """For a stop's record of at most ``record`` samples: smaller evaluation sets while
        the block runs (the checkpoint keeps the run's own)."""
        if isinstance(record, bool) or not isinstance(record, int):
            yield
            return
        saved = self.eval_train_idx, self.eval_test_idx
        rng = np.random.default_rng(self.iteration)
        picked, cut = [], False
        for x, idx in zip((self.x_train, self.x_test), saved, strict=True):
            if x is None or len(x if idx is None else idx) <= record:
                picked.append(idx)
                continue
            cut = True
            subset = self._eval_subset(rng, x.shape[0], record)  # drawn in either case
            picked.append(
                subset if idx is None else np.sort(rng.choice(idx, record, replace=False))
            )
        self.eval_train_idx, self.eval_test_idx = picked
        if cut:
            self.history.info["cut_record"] = {"iteration": self.iteration, "samples": record}
        try:
            yield
        finally:
            self.eval_train_idx, self.eval_test_idx = saved

    @staticmethod
    def _snapshot(net: Any) -> dict[str, dict[str, NDArray]]:
        """The parameters and layer arrays of ``net``: the network a divergence goes back to
        (its generators go on, like the Trainer's)."""
        state = net.state_dict()
        return {"params": state["params"], "layers": state["layers"]}

    def restore(self, state: dict[str, Any]) -> None:
        """Copy a network state (:meth:`Net.state_dict <scratchdl.nets.Net.state_dict>`)
        into the network, in place."""
        self.net.load_state_dict(state)

    @staticmethod
    def _eval_set(x: NDArray, t: NDArray, idx: NDArray | None) -> tuple[NDArray, NDArray]:
        return (x, t) if idx is None else (x[idx], t[idx])

    @staticmethod
    def _eval_subset(rng: np.random.Generator, n: int, k: int | None) -> NDArray[np.intp] | None:
        if k is None or k >= n:
            return None
        # Sorted, so the gathered rows are read in memory order.
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.intp)

    def _check_labels(self) -> None:
        n = self.x_train.shape[0]
        n_classes = self.net.predict(self.x_train[:1]).shape[-1]
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
