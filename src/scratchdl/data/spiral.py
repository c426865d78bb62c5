"""The spiral data set of the second book's chapter 1 (ch. 1.4.1): three arms, 100 points each.

>>> from scratchdl.data import spiral
>>> x, t = spiral.load_data()
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["load_data"]


def load_data(
    seed: int | None = 1984, *, n_per_class: int = 100, n_classes: int = 3
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Points on ``n_classes`` noisy spiral arms, with one-hot labels.

    Point ``i`` of arm ``j`` (``r = i / n_per_class``) lies at radius ``r`` and angle
    ``4j + 4r + 0.2 ε``, at ``(r sin θ, r cos θ)``, with ``ε`` standard normal. The noise is
    drawn point by point, arm after arm, from NumPy's legacy generator seeded with ``seed``
    (``RandomState(seed)``, the values the book's ``np.random.seed(seed)`` gives), so the
    points are the book's; NumPy's global generator is not touched.

    Returns
    -------
    x : ndarray of float64, shape (n_classes * n_per_class, 2)
    t : ndarray of int64, shape (n_classes * n_per_class, n_classes)
        One-hot rows.
    """
    noise = np.random.RandomState(seed).randn(n_classes, n_per_class)
    rate = np.arange(n_per_class) / n_per_class
    theta = 4.0 * np.arange(n_classes)[:, None] + 4.0 * rate + 0.2 * noise
    x = np.stack([rate * np.sin(theta), rate * np.cos(theta)], axis=-1).reshape(-1, 2)
    t = np.repeat(np.eye(n_classes, dtype=np.int64), n_per_class, axis=0)
    return x, t
