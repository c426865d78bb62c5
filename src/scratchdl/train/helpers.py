"""Opt-in pieces around :meth:`Trainer.fit <scratchdl.train.Trainer.fit>`: Ctrl-C, time
budget, BLAS threads, background evaluation.

The loop itself never touches the process: each of these changes something only while a
``fit`` it was given to runs, and puts it back afterwards. ``scratchdl train`` switches them
all on::

    trainer = Trainer(net, x_train, t_train, x_test, t_test, optimizer=SGD(0.1), iters=10000,
                      callbacks=[StopOnCtrlC(), BlasThreads(1)],
                      evaluator=BackgroundEvaluation())
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scratchdl.nets import EVAL_BATCH
from scratchdl.train._blas import blas_thread_count, blas_threads
from scratchdl.train.config import check_time_budget
from scratchdl.train.trainer import Callback, Evaluator

if TYPE_CHECKING:
    from scratchdl.train.history import History
    from scratchdl.train.trainer import Trainer

__all__ = ["BackgroundEvaluation", "BlasThreads", "StopOnCtrlC", "TimeBudget"]


class StopOnCtrlC(Callback):
    """The first Ctrl-C (SIGINT) during ``fit`` stops the run cleanly after the current step,
    with reason ``'interrupted'``; a second one interrupts at once. The previous handler is
    back when ``fit`` returns. Only in the main thread (elsewhere it does nothing)."""

    def __init__(self) -> None:
        self._previous: Any = None
        self._installed = False

    def on_train_begin(self, trainer: Trainer) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        requested = False

        def handler(signum: int, frame: Any) -> None:
            nonlocal requested
            if requested:  # second Ctrl-C: stop right now
                raise KeyboardInterrupt
            requested = True
            trainer.request_stop("interrupted")

        self._previous = signal.signal(signal.SIGINT, handler)
        self._installed = True

    def on_train_end(self, trainer: Trainer, history: History) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


#: Samples of each set in the record of a run the time budget stopped, when the full
#: evaluation sets would take long (DeepConvNet: minutes for 70,000 images).
CUT_RECORD = 1000


class TimeBudget(Callback):
    """Stop after the first step past ``max_seconds`` of this ``fit`` call (a resumed run gets
    a fresh budget), with reason ``'time_limit'`` and a record of the weights where it stopped.
    """

    def __init__(self, max_seconds: float) -> None:
        check_time_budget(max_seconds)
        self.max_seconds = max_seconds
        self._start = 0.0
        self._first_iteration = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self._start = time.perf_counter()
        self._first_iteration = trainer.iteration

    def on_iteration(self, trainer: Trainer, loss: float) -> None:
        spent = time.perf_counter() - self._start
        if spent > self.max_seconds and trainer.iteration < trainer.total_iters:
            trainer.request_stop(
                "time_limit",
                f"stopped after {trainer.iteration} of {trainer.total_iters} iterations: "
                f"the {self.max_seconds:g} s budget was used up",
                record=self._record_size(trainer, spent),
            )

    def _record_size(self, trainer: Trainer, spent: float) -> bool | int:
        """The stop's record on the evaluation sets (True), or on :data:`CUT_RECORD` samples
        of each when that would take more than a tenth of the budget (forward passes cost
        about a third of a training step per sample)."""
        rows = getattr(trainer, "record_rows", lambda: 0)()  # the second book's: no records
        steps = max(trainer.iteration - self._first_iteration, 1)
        seconds = rows and rows * spent / (steps * trainer.batch_size) / 3
        return CUT_RECORD if seconds > max(1.0, 0.1 * self.max_seconds) else True


class BlasThreads(Callback):
    """Run the training loop with ``n`` BLAS threads and restore the count afterwards.

    A step multiplies a (100, 784) batch by a (784, 50) matrix, some 100 µs on one core:
    sharing that out saves little on an idle machine, and on a busy one OpenBLAS's threads spin
    waiting for each other (the MNIST run measured 5 times slower with two threads than with
    one). Where the BLAS cannot be told (not OpenBLAS), nothing changes; results never do.
    """

    def __init__(self, n: int = 1) -> None:
        self.n = n
        self._context = contextlib.ExitStack()

    def on_train_begin(self, trainer: Trainer) -> None:
        self._context.enter_context(blas_threads(self.n))

    def on_train_end(self, trainer: Trainer, history: History) -> None:
        self._context.close()  # restores the count (nothing to do when not entered)


class BackgroundEvaluation(Evaluator):
    """Evaluate a copy of the network on a second thread while training goes on.

    The copy gets the whole network state (:meth:`Net.state_dict
    <scratchdl.nets.Net.state_dict>`: weights, BatchNorm's running statistics, Dropout's
    generators), so the numbers are those of evaluating in place; records are appended in
    order, as soon as they are ready (checked after every step), at most one evaluation is in
    flight. The last record of the run has nothing to overlap with: it runs in the foreground
    with ``final_blas_threads`` (default: the count BLAS had when this object was made). The
    worker thread lives only while ``fit`` runs.
    """

    def __init__(self, batch_size: int = EVAL_BATCH, final_blas_threads: int | None = None):
        super().__init__(batch_size)
        self.final_blas_threads = final_blas_threads or blas_thread_count()
        self._executor: ThreadPoolExecutor | None = None
        self._net: Any = None
        self._pending: tuple[int, Future] | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self._executor = ThreadPoolExecutor(1, "scratchdl-eval")

    def record(self, trainer: Trainer) -> None:
        self._collect(trainer, wait=True)
        if self._executor is None or trainer.iteration == trainer.total_iters:
            with blas_threads(self.final_blas_threads):
                super().record(trainer)
            return
        if self._net is None:
            self._net = copy.deepcopy(trainer.net)
        self._net.load_state_dict(trainer.net.state_dict())
        future = self._executor.submit(
            trainer.measure, self._net, self.batch_size, trainer.train_seconds
        )
        self._pending = (trainer.iteration, future)

    def on_iteration(self, trainer: Trainer, loss: float) -> None:
        if self._pending is not None:
            self._collect(trainer, wait=False)

    def finish(self, trainer: Trainer) -> None:
        self._collect(trainer, wait=True)

    def on_train_end(self, trainer: Trainer, history: History) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _collect(self, trainer: Trainer, wait: bool) -> None:
        if self._pending is None:
            return
        iteration, future = self._pending
        if not (wait or future.done()):
            return
        self._pending = None
        trainer.add_record(iteration, future.result(), self._net)
