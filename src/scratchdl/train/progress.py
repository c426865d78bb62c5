"""A rich progress bar for :class:`~scratchdl.train.Trainer`, shown only on a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scratchdl._text import epochs_done
from scratchdl.train.trainer import Callback

if TYPE_CHECKING:
    from scratchdl.train.history import EpochRecord, History
    from scratchdl.train.trainer import Trainer

__all__ = ["RichProgress"]


class RichProgress(Callback):
    """Progress bar with the epoch, the mini-batch loss and the last accuracies.

    Parameters
    ----------
    console : rich.console.Console, optional
        Defaults to a console on standard error. Nothing is drawn unless it is a terminal.
    every : int
        Refresh the numbers every this many iterations (each refresh costs some microseconds,
        which add up over 10,000 steps).
    """

    def __init__(self, console: Any = None, every: int = 20) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.every = max(int(every), 1)
        self._progress: Any = None
        self._task: Any = None
        self._acc = ""

    @property
    def active(self) -> bool:
        return self._progress is not None

    def print(self, *objects: Any) -> None:
        """Print above the bar (or plainly when there is none)."""
        self.console.print(*objects)

    def on_train_begin(self, trainer: Trainer) -> None:
        if not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[acc]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train",
            total=trainer.total_iters,
            completed=trainer.iteration,
            epoch=self._epoch(trainer),
            loss="-",
            acc=self._acc,
        )

    @staticmethod
    def _epoch(trainer: Trainer) -> str:
        # Epochs done of the run's length: "3.45/16.67", never a rounded-up 17.
        done = epochs_done(trainer.iteration, trainer.iter_per_epoch)
        return f"{done}/{epochs_done(trainer.total_iters, trainer.iter_per_epoch)}"

    def on_iteration(self, trainer: Trainer, loss: float) -> None:
        if self._progress is not None and trainer.iteration % self.every == 0:
            self._progress.update(
                self._task,
                completed=trainer.iteration,
                loss=f"{loss:.4f}",
                epoch=self._epoch(trainer),
                acc=self._acc,
            )

    def on_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        test = "" if record.test_acc is None else f" test {record.test_acc:.4f}"
        self._acc = f"train {record.train_acc:.4f}{test}"

    def on_train_end(self, trainer: Trainer, history: History) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
