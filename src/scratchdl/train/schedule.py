"""Learning-rate decay per epoch (ch. 8.1.1 names it among the ways past 99.35%).

A schedule is a pure function of the epoch: ``lr(epoch)`` for the 0-based epoch a step falls
in. :class:`~scratchdl.train.Trainer` sets ``optimizer.lr`` to it before every step (any
optimizer: they all read ``self.lr``), so a run resumed from a checkpoint computes the same
rates from its iteration count, bit for bit; the checkpoint only records the settings, and
refuses to continue a run under other ones.

* ``'step'``: ``lr0 * factor ** (epoch // every)``, e.g. halve every 2 epochs.
* ``'cosine'``: ``lr0 * (min + (1 - min) * (1 + cos(pi * epoch / epochs)) / 2)``, from ``lr0``
  in the first epoch down towards ``min * lr0`` in the last (Loshchilov and Hutter 2017,
  without restarts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scratchdl.checks import check_positive, check_positive_int
from scratchdl.errors import ConfigError

__all__ = ["LR_DECAYS", "LRSchedule"]

#: Schedules :class:`LRSchedule` knows (``'none'``: a constant rate, the book's runs).
LR_DECAYS: tuple[str, ...] = ("none", "step", "cosine")


class LRSchedule:
    """The learning rate of each epoch.

    Parameters
    ----------
    kind : {'step', 'cosine'}
    lr0 : float
        Rate of the first epoch (the optimizer's ``lr``).
    epochs : int
        Length of the run in epochs (cosine reaches its floor at this epoch; a partial last
        epoch counts as one).
    every : int
        Step decay: epochs between two decays.
    factor : float
        Step decay: multiplier at each decay, in (0, 1]. Cosine: the floor as a fraction of
        ``lr0``, in [0, 1).
    """

    def __init__(
        self, kind: str, lr0: float, epochs: int, every: int = 1, factor: float = 0.5
    ) -> None:
        if kind not in LR_DECAYS[1:]:
            raise ConfigError(f"unknown lr decay {kind!r}: use one of {', '.join(LR_DECAYS)}")
        self.kind = kind
        self.lr0 = float(check_positive(lr0, "lr0"))
        self.epochs = check_positive_int(epochs, "epochs")
        self.every = check_positive_int(every, "every")
        if kind == "step" and not 0 < factor <= 1:
            raise ConfigError(f"step decay factor must be in (0, 1], got {factor}")
        if kind == "cosine" and not 0 <= factor < 1:
            raise ConfigError(
                f"cosine decay factor (the final fraction of the rate) must be in [0, 1), got "
                f"{factor}"
            )
        self.factor = float(factor)

    def lr(self, epoch: int) -> float:
        """The rate of 0-based ``epoch``."""
        if self.kind == "step":
            return self.lr0 * self.factor ** (epoch // self.every)
        progress = min(epoch, self.epochs) / self.epochs
        return self.lr0 * (self.factor + (1 - self.factor) * (1 + math.cos(math.pi * progress)) / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings; :meth:`from_dict` rebuilds the same schedule."""
        return {k: getattr(self, k) for k in ("kind", "lr0", "epochs", "every", "factor")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LRSchedule:
        return cls(d["kind"], d["lr0"], d["epochs"], d["every"], d["factor"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"LRSchedule({args})"
