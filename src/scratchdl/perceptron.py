"""Perceptrons and logic gates (chapter 2).

A perceptron outputs 1 when ``w · x + b > 0`` and 0 otherwise. AND, NAND and OR are single
perceptrons with the book's weights (ch. 2.3); XOR is not linearly separable and needs two layers:
``XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_positive, check_positive_int
from scratchdl.errors import ShapeError

__all__ = [
    "AND",
    "GATES",
    "NAND",
    "OR",
    "XOR",
    "TRUTH_TABLE_INPUTS",
    "Perceptron",
    "PerceptronFit",
    "fit_perceptron",
    "truth_table",
]

#: The four inputs of a two-input truth table, shape (4, 2).
TRUTH_TABLE_INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])


class Perceptron:
    """A single perceptron ``y = 1 if w · x + b > 0 else 0``.

    Parameters
    ----------
    w : array_like, shape (D,)
        Weights.
    b : float
        Bias (``-theta``, the negated threshold).
    """

    def __init__(self, w: ArrayLike, b: float) -> None:
        self.w = np.asarray(w, dtype=np.float64)
        if self.w.ndim != 1:
            raise ShapeError(f"perceptron weights must be 1-D, got shape {self.w.shape}")
        self.b = float(b)

    def __call__(self, *inputs: ArrayLike) -> NDArray[np.int64] | int:
        """Fire on ``D`` inputs, each a 0/1 scalar or an array (broadcast together)."""
        if len(inputs) != self.w.size:
            raise ShapeError(f"this perceptron takes {self.w.size} inputs, got {len(inputs)}")
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in inputs))
        x = np.stack(arrays, axis=-1)
        y = (x @ self.w + self.b > 0).astype(np.int64)
        return int(y) if y.ndim == 0 else y

    def __repr__(self) -> str:
        # 10 significant digits: the rule's sums of 0.1 print as 0.2, not 0.20000000000000004.
        w = ", ".join(f"{v:.10g}" for v in self.w)
        return f"Perceptron(w=[{w}], b={self.b:.10g})"


#: The book's weights and biases (ch. 2.3).
AND = Perceptron([0.5, 0.5], -0.7)
NAND = Perceptron([-0.5, -0.5], 0.7)
OR = Perceptron([0.5, 0.5], -0.2)


def XOR(x1: ArrayLike, x2: ArrayLike) -> NDArray[np.int64] | int:  # noqa: N802 (the book's name)
    """Two-layer perceptron: ``AND(NAND(x1, x2), OR(x1, x2))``."""
    return AND(NAND(x1, x2), OR(x1, x2))


GATES = {"AND": AND, "NAND": NAND, "OR": OR, "XOR": XOR}


def truth_table(gate) -> NDArray[np.int64]:
    """Rows ``(x1, x2, y)`` of ``gate`` over the four binary inputs, shape (4, 3)."""
    x = TRUTH_TABLE_INPUTS
    y = np.asarray(gate(x[:, 0], x[:, 1]))
    return np.column_stack([x, y]).astype(np.int64)


@dataclass
class PerceptronFit:
    """Outcome of :func:`fit_perceptron`."""

    perceptron: Perceptron
    converged: bool
    epochs: int
    #: Updates made in each epoch (one per sample the perceptron got wrong when it met it).
    errors: list[int] = field(default_factory=list)
    #: Samples the final perceptron gets wrong.
    misclassified: int = 0
    #: Number of samples.
    n_samples: int = 0

    @property
    def message(self) -> str:
        """A sentence saying what happened."""
        if self.converged:
            epochs = "epoch" if self.epochs == 1 else "epochs"
            return f"learned all samples after {self.epochs} {epochs}: {self.perceptron!r}"
        return (
            f"did not converge in {self.epochs} epochs: the final {self.perceptron!r} still "
            f"gets {self.misclassified} of the {self.n_samples} samples wrong. No single line "
            "separates these classes, so a single perceptron cannot learn them; stack two "
            "layers (see XOR)"
        )


def fit_perceptron(
    x: ArrayLike, t: ArrayLike, lr: float = 0.1, max_epochs: int = 100
) -> PerceptronFit:
    """Learn a perceptron with Rosenblatt's rule ``w += lr * (t - y) * x``, ``b += lr * (t - y)``.

    It stops as soon as an epoch makes no mistake, or gives up after ``max_epochs`` and says so
    in the result (for data that is not linearly separable, such as XOR, it never converges).

    Parameters
    ----------
    x : array_like, shape (N, D)
        Binary inputs.
    t : array_like, shape (N,)
        Targets 0 or 1.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ShapeError(
            f"fit_perceptron needs x of shape (N, D) and t of shape (N,), got {x.shape} and {t.shape}"
        )
    if not np.isin(t, (0, 1)).all():
        raise ShapeError("fit_perceptron targets must be 0 or 1")
    check_positive(lr, "lr")
    check_positive_int(max_epochs, "max_epochs")
    w = np.zeros(x.shape[1])
    b = 0.0
    errors: list[int] = []
    for epoch in range(1, max_epochs + 1):
        wrong = 0
        for xi, ti in zip(x, t, strict=True):
            y = int(xi @ w + b > 0)
            if y != ti:
                w += lr * (ti - y) * xi
                b += lr * (ti - y)
                wrong += 1
        errors.append(wrong)
        if wrong == 0:
            return PerceptronFit(Perceptron(w, b), True, epoch, errors, 0, len(t))
    final = Perceptron(w, b)
    misclassified = int(np.sum(final(*x.T) != t))
    return PerceptronFit(final, False, max_epochs, errors, misclassified, len(t))
