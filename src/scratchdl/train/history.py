"""``History``: what a training run did, saved as JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratchdl._fs import atomic_write_text
from scratchdl.errors import ModelFileError

__all__ = ["EpochRecord", "History"]

HISTORY_FORMAT = "scratchdl-history"
HISTORY_VERSION = 1

#: Fields that hold wall-clock times: they differ between otherwise identical runs.
TIME_FIELDS = ("elapsed", "epoch_time", "train_seconds")


@dataclass
class EpochRecord:
    """One evaluation, made at the end of each epoch and at the end of the run.

    Attributes
    ----------
    epoch : int
        The epoch the record falls in, ``ceil(iteration / iter_per_epoch)``: a record that
        closes a partial epoch (the end of the run, a time limit) shares it with that epoch's
        own record.
    iteration : int
        Updates done when the record was made (the weights it describes).
    train_acc, train_loss : float
        Accuracy and mean cross-entropy (without weight decay) on the training set or its
        ``eval_samples`` sample.
    test_acc, test_loss : float or None
        The same on the test set (None without one).
    elapsed : float
        Seconds since the run started (across resumes), evaluation included.
    epoch_time : float
        Seconds since the previous record.
    train_seconds : float or None
        The Trainer's training clock at the weights it describes (evaluation left out; None in
        histories written before it was kept).
    """

    epoch: int
    iteration: int
    train_acc: float
    train_loss: float
    test_acc: float | None
    test_loss: float | None
    elapsed: float
    epoch_time: float
    train_seconds: float | None = None


@dataclass
class History:
    """Per-iteration loss, per-epoch records, and the settings of a run.

    Attributes
    ----------
    loss : list of float
        Mini-batch loss of every update, computed in the step's forward pass (before the update
        it leads to), including any weight-decay penalty.
    records : list of EpochRecord
    config : dict
        The run's :class:`~scratchdl.train.TrainConfig` as a dict, or the Trainer's settings.
    seed : int or None
    stop_reason : {'completed', 'diverged', 'interrupted', 'time_limit'} or None
        None while running.
    message : str
        A sentence on how the run ended (empty when it completed).
    iter_per_epoch, total_iters : int
        Updates per epoch and planned updates.
    iterations : int
        Updates done.
    elapsed : float
        Seconds of training (evaluation included, across resumes).
    diverged_at : int or None
        1-based iteration whose loss was NaN or infinite.
    checkpoints : dict
        ``name -> point`` of the Trainer's ``checkpoints``: where the run was (``updates``,
        ``samples``, ``epochs``, ``seconds`` of training), ``train_acc``, ``train_loss``,
        ``test_acc``, ``test_loss`` on the full sets, and ``reached``.
    info : dict
        Anything else worth keeping (data sizes and source, timing of data loading...).
    """

    loss: list[float] = field(default_factory=list)
    records: list[EpochRecord] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    stop_reason: str | None = None
    message: str = ""
    iter_per_epoch: int = 0
    total_iters: int = 0
    iterations: int = 0
    elapsed: float = 0.0
    diverged_at: int | None = None
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    # -- views -------------------------------------------------------------------------------
    @property
    def train_acc(self) -> list[float]:
        """Train accuracy of every record."""
        return [r.train_acc for r in self.records]

    @property
    def test_acc(self) -> list[float | None]:
        """Test accuracy of every record."""
        return [r.test_acc for r in self.records]

    @property
    def last(self) -> EpochRecord | None:
        """The last record: it describes the final weights of a completed run."""
        return self.records[-1] if self.records else None

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self, *, times: bool = True) -> dict[str, Any]:
        """A JSON-safe dict. ``times=False`` drops the wall-clock fields, so two runs with the
        same seed compare equal."""
        d = dataclasses.asdict(self)
        d = {"format": HISTORY_FORMAT, "format_version": HISTORY_VERSION, **d}
        if not d["checkpoints"]:  # a run without checkpoints writes the file it always wrote
            del d["checkpoints"]
        if not times:
            d.pop("elapsed")
            for rec in d["records"]:
                for name in TIME_FIELDS:
                    rec.pop(name)
            d["info"] = {k: v for k, v in d["info"].items() if "seconds" not in k}
            for point in d.get("checkpoints", {}).values():
                point.pop("seconds")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        if d.get("format") != HISTORY_FORMAT:
            raise ModelFileError(
                f"not a scratchdl history (format {d.get('format')!r}): give a history.json "
                "written by 'scratchdl train'"
            )
        if d.get("format_version", 0) > HISTORY_VERSION:
            raise ModelFileError(
                f"history format version {d['format_version']} is newer than this scratchdl "
                f"reads ({HISTORY_VERSION}): upgrade scratchdl"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        kwargs["records"] = [EpochRecord(**r) for r in d.get("records", [])]
        kwargs["loss"] = [float(v) for v in d.get("loss", [])]
        return cls(**kwargs)

    def to_json(self) -> str:
        """Strict JSON (a NaN anywhere is an error, so files stay readable by any tool)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the history as JSON to ``path`` atomically and return the path."""
        path = Path(path)
        atomic_write_text(path, self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`save`."""
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFileError(f"{path} does not exist: give the history.json of a run") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path} is not a readable JSON history: {exc}") from None
        if not isinstance(d, dict):
            raise ModelFileError(f"{path} is not a scratchdl history: it holds no JSON object")
        return cls.from_dict(d)

    def summary(self) -> str:
        """One line: final accuracies, iterations and time.

        When the records were made on ``eval_samples`` subsets and :func:`scratchdl.train.train`
        measured the final weights on the full sets (``info["final"]``), those are the numbers
        given.
        """
        last = self.last
        if last is None:
            return f"no evaluation after {self.iterations} iterations ({self.stop_reason})"
        final = self.info.get("final")
        if final and "n_train" in final:  # a history of an older version: full sets
            test = final.get("test_acc")
            sets = f"{final['n_test']} test, " if final.get("n_test") else ""
            where = f" (full sets: {sets}{final['n_train']} train images)"
            train_acc = final["train_acc"]
        elif final:
            test, train_acc = final.get("test_acc"), final["train_acc"]
            n, of = final["n_test"], final.get("of_test", final["n_test"])
            tested = f"the full test set of {n}" if n == of else f"{n} of the {of} test"
            where = (
                f" (test: {tested} images; train: {final['n_train_sample']} sampled, "
                "--eval-samples)"
            )
        else:
            test, where, train_acc = last.test_acc, "", last.train_acc
        test_text = "n/a" if test is None else f"{test:.4f}"
        return (
            f"test accuracy {test_text}, train accuracy {train_acc:.4f}{where} after "
            f"{self.iterations} iterations in {self.elapsed:.1f} s"
        )


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
