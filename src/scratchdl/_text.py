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
