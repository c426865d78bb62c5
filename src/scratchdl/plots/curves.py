"""The book's two training plots (ch. 4.5.3): accuracy per epoch and loss per iteration."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from scratchdl.plots import new_figure, save_figure
from scratchdl.plots.korean import localize
from scratchdl.train.history import History

__all__ = ["plot_training_curves", "save_training_curves"]


def plot_training_curves(history: History, title: str | None = None) -> Figure:
    """Left: train and test accuracy per epoch, y from 0 to 1. Right: mini-batch loss.

    The x axis of the accuracy plot is in epochs (``iteration / iter_per_epoch``), so a
    record that closes a partial epoch sits where it belongs.
    """
    fig = new_figure(11, 4.2)
    ax_acc, ax_loss = fig.subplots(1, 2)
    per_epoch = max(history.iter_per_epoch, 1)
    epochs = np.array([r.iteration / per_epoch for r in history.records], dtype=float)
    ax_acc.plot(epochs, history.train_acc, "o-", label="train", color="#1f5fa8", markersize=4)
    test = [np.nan if a is None else a for a in history.test_acc]
    if not np.all(np.isnan(test)):
        ax_acc.plot(epochs, test, "s--", label="test", color="#d95f02", markersize=4)
    ax_acc.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1), title="Accuracy per epoch")
    # From the start of training (epoch 0) to the last record, in whole epochs (a final
    # partial epoch still sits at its fraction): one epoch is one point at x=1 on 0..1, not
    # a point on an axis from 0.945 to 1.050.
    if epochs.size:
        ax_acc.set_xlim(0, max(1.0, float(epochs.max())) * 1.04)
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    if epochs.size == 1:  # a single point says its values in words
        for value, name, color, dy in (
            (history.train_acc[0], "train", "#1f5fa8", -14),
            (test[0], "test", "#d95f02", 8),
        ):
            if value is not None and np.isfinite(value):
                at, offset = (epochs[0], value), {"xytext": (-8, dy), "textcoords": "offset points"}
                ax_acc.annotate(
                    f"{name} {value:.4f}", at, ha="right", color=color, fontsize=9, **offset
                )
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")

    loss = np.asarray(history.loss, dtype=float)
    it = np.arange(1, loss.size + 1)
    ax_loss.plot(it, loss, color="#9ecae1", linewidth=0.7, label="mini-batch loss")
    window = max(1, loss.size // 50)
    if window > 1:  # a moving average shows the trend through the mini-batch noise
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax_loss.plot(
            it[window - 1 :], smooth, color="#1f5fa8", linewidth=1.8, label=f"mean of {window}"
        )
    ax_loss.set(xlabel="iteration", ylabel="loss", title="Loss per iteration")
    if loss.size:
        ax_loss.set_ylim(0, float(np.percentile(loss, 99.5)) * 1.1 or None)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    return localize(fig)


def save_training_curves(
    history: History, path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """Draw :func:`plot_training_curves` and write it as a PNG atomically."""
    return save_figure(plot_training_curves(history, title), path)
