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
