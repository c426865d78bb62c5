"""Small text helpers shared by messages and tables."""

from __future__ import annotations


def human_size(n: int) -> str:
    """A byte count for people, in powers of 1024: ``512 B``, ``9.2 MB``, ``1.3 GB``."""
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 epoch``, ``3 epochs`` (``words`` for an irregular plural)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def over_seeds(n: int) -> str:
    """How a figure states its spread: ``mean ± std over 3 seeds``, or ``one seed`` (no std)."""
    return f"mean ± std over {n} seeds" if n > 1 else "one seed"


def mean_over(n: int) -> str:
    """How a curve averaged over seeds says so: ``mean over 3 seeds``, or ``one seed``."""
    return f"mean over {n} seeds" if n > 1 else "one seed"


def plural_epochs(count: float | str) -> str:
    """``1 epoch``, ``2 epochs``, ``0.5 epochs``; ``count`` may be already formatted."""
    text = f"{count:g}" if isinstance(count, (int, float)) else str(count)
    return f"{text} epoch" if text in ("1", "1.0") else f"{text} epochs"


def epochs_done(iteration: int, iter_per_epoch: int, digits: int = 2) -> str:
    """Epochs of training after ``iteration`` updates: ``16`` at the end of an epoch, ``16.67``
    part-way through one (10,000 updates of 600 per epoch), never a rounded-up ``17``."""
    value = iteration / max(iter_per_epoch, 1)
    if value == int(value):
        return str(int(value))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")
