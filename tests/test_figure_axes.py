"""Figures a learner reads at once (issue 14): axes fitted to the data, plain labels on log
axes, no overlapping labels, no legend on the lines; checked for one epoch, one width and one
value through the axes' limits, ticks and text boxes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from scratchdl.plots.axes import log_ticks, plain_number
from scratchdl.plots.curves import plot_training_curves
from scratchdl.plots.sweeps import Panel, Series, plot_heatmaps, plot_panels
from scratchdl.train.history import EpochRecord, History

# A tick label on a log axis: a plain decimal (0.0005, 0.5, 20, 200,000) or a power of ten.
PLAIN = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^\$-?10\^\{-?\d+\}\$$")


def _drawn(fig):
    fig.canvas.draw()  # constrained layout places everything at draw time
    return fig.canvas.get_renderer()


def _labels(axis) -> list[str]:
    """The tick labels drawn (a locator may place ticks outside the limits, never drawn)."""
    low, high = sorted(axis.get_view_interval())
    return [
        t.get_text()
        for t in axis.get_ticklabels()
        if t.get_text() and low - 1e-12 <= t.get_position()[axis.axis_name == "y"] <= high + 1e-12
    ]


def _no_overlap(texts, renderer) -> None:
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text()]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"


def _history(n_epochs: int) -> History:
    per_epoch = 600
    records = [
        EpochRecord(e, e * per_epoch, 0.90 + 0.01 * e, 0.3, 0.91 + 0.01 * e, 0.3, e, 1.0)
        for e in range(1, n_epochs + 1)
    ]
    return History(
        loss=list(np.linspace(2.3, 0.3, n_epochs * per_epoch)),
        records=records,
        iter_per_epoch=per_epoch,
        total_iters=n_epochs * per_epoch,
        iterations=n_epochs * per_epoch,
    )


def test_one_epoch_accuracy_panel_spans_the_run_not_a_sliver():
    fig = plot_training_curves(_history(1))
    _drawn(fig)
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    # Once a point on an axis from 0.945 to 1.050; now the run from epoch 0 to 1.
    assert low == 0 and 1 <= high <= 1.1
    assert _labels(ax.xaxis) == ["0", "1"]
    assert ax.get_ylim() == (0, 1)
    notes = sorted(t.get_text() for t in ax.texts)
    assert notes == ["test 0.9200", "train 0.9100"]


def test_several_epochs_have_whole_epoch_ticks_and_no_notes():
    fig = plot_training_curves(_history(5))
    _drawn(fig)
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == 0 and 5 <= ax.get_xlim()[1] <= 5.3
    assert all(re.fullmatch(r"\d", label) for label in _labels(ax.xaxis))
    assert len(ax.texts) == 0


def _heatmap(widths: list[str]):
    grids = {
        v: np.full((3, len(widths)), 0.8) for v in ("sigmoid+0.01", "sigmoid+xavier", "relu+he")
    }
    notes = {v: [["0.800\n±0.010"] * len(widths)] * 3 for v in grids}
    return plot_heatmaps(
        grids,
        notes,
        row_labels=["1", "2", "4"],
        col_labels=widths,
        xlabel="width (units per hidden layer)",
        ylabel="depth (hidden layers)",
        suptitle="Test accuracy by depth and width",
        colorbar_label="test accuracy",
    )


@pytest.mark.parametrize("widths", [["width 16"], ["width 16", "width 64", "width 256"]])
def test_heatmap_labels_never_overlap(widths):
    fig = _heatmap(widths)
    renderer = _drawn(fig)
    texts = [fig._supxlabel, fig._suptitle]
    for ax in fig.axes[:3]:
        texts += [*ax.xaxis.get_ticklabels(), *ax.yaxis.get_ticklabels(), ax.title]
        texts += [ax.xaxis.label, ax.yaxis.label]
    _no_overlap(texts, renderer)
    # One x label for the three panels (it once sat under each, running into the next).
    assert fig._supxlabel.get_text() == "width (units per hidden layer)"
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == ["", "", ""]


def _speed_panels(sizes, per_update_ms, samples_per_s):
    return [
        Panel(
            "Time per update", "batch size", "ms", [Series("", sizes, per_update_ms)], True, True
        ),
        Panel(
            "Throughput", "batch size", "samples/s", [Series("", sizes, samples_per_s)], True, True
        ),
    ]


def test_log_axes_have_plain_labels_at_the_swept_values():
    fig = plot_panels(
        _speed_panels([10, 50, 100], [0.055, 0.075, 0.082], [1.8e5, 6.6e5, 1.2e6]), "speed"
    )
    _drawn(fig)
    for ax in fig.axes:
        assert _labels(ax.xaxis) == ["10", "50", "100"]
        ylabels = _labels(ax.yaxis)
        assert len(ylabels) >= 2
        assert all(PLAIN.match(label) for label in ylabels), ylabels
        assert not [t.get_text() for t in ax.yaxis.get_minorticklabels() if t.get_text()]
    assert _labels(fig.axes[0].yaxis) == ["0.06", "0.07", "0.08"]
    assert _labels(fig.axes[1].yaxis) == ["200,000", "500,000", "1,000,000"]


def test_one_value_gets_a_close_axis_with_one_tick():
    fig = plot_panels(_speed_panels([50], [0.075], [6.6e5]), "speed")
    _drawn(fig)
    for ax in fig.axes:
        low, high = ax.get_xlim()
        assert high / low <= 2.3  # once a decade on each side
        assert _labels(ax.xaxis) == ["50"]
        low, high = ax.get_ylim()
        assert high / low <= 2.3
    lin = plot_panels(
        [Panel("depth", "depth", "acc", [Series("a", [2], [0.9])], integer_x=True)], "t"
    )
    _drawn(lin)
    assert lin.axes[0].get_xlim() == (1.5, 2.5) and _labels(lin.axes[0].xaxis) == ["2"]


def test_learning_rate_axis_reads_as_decimals():
    lrs = [1e-4, 1e-3, 0.01, 0.1, 1.0]
    fig = plot_panels(
        [Panel("acc", "lr", "acc", [Series("t", lrs, [0.1, 0.5, 0.9, 0.95, 0.2])], True)], "t"
    )
    _drawn(fig)
    assert _labels(fig.axes[0].xaxis) == ["0.0001", "0.001", "0.01", "0.1", "1"]


def test_legend_shared_by_panels_sits_below_them_off_the_lines():
    series = [
        Series(f"{v}, width 16", [1, 2, 4], [0.8, 0.7, 0.6], [0.01, 0.02, 0.03])
        for v in ("sigmoid+0.01", "sigmoid+xavier", "relu+he")
    ]
    panels = [
        Panel("Test accuracy", "depth", "acc", series, hline=(0.1, "chance"), integer_x=True),
        Panel("Gap", "depth", "gap", series, integer_x=True),
        Panel("Time", "depth", "s", series, integer_x=True),
    ]
    fig = plot_panels(panels, "depth")
    renderer = _drawn(fig)
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "sigmoid+0.01, width 16",
        "sigmoid+xavier, width 16",
        "relu+he, width 16",
        "chance",
    ]
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer))
        assert not box.overlaps(ax.xaxis.label.get_window_extent(renderer))


def test_legends_of_different_panels_sit_below_their_own_axes():
    panels = [
        Panel(
            "acc",
            "lr",
            "acc",
            [Series("test", [0.1, 1], [0.9, 0.8]), Series("train", [0.1, 1], [0.95, 0.85])],
            True,
        ),
        Panel("loss", "lr", "loss", [Series("train loss", [0.1, 1], [0.3, 0.5])], True, True),
    ]
    fig = plot_panels(panels, "lr")
    renderer = _drawn(fig)
    for ax in fig.axes:
        box = ax.get_legend().get_window_extent(renderer)
        for other in fig.axes:
            assert not box.overlaps(other.get_window_extent(renderer))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0005, "0.0005"),
        (0.055, "0.055"),
        (0.5, "0.5"),
        (2.0, "2"),
        (250, "250"),
        (200000, "200,000"),
        (1e-5, "$10^{-5}$"),
    ],
)
def test_plain_number(value, text):
    assert plain_number(value) == text


def test_log_ticks_choose_readable_steps():
    assert log_ticks(0.053, 0.093) == pytest.approx([0.06, 0.07, 0.08, 0.09])
    assert log_ticks(2.8e-4, 2.3e-3) == pytest.approx([0.0005, 0.001, 0.002])
    assert log_ticks(1e-6, 1e3) == pytest.approx([1e-6, 1e-4, 1e-2, 1, 100])
    # Narrower than a 1-2-5 step: round values as on a linear axis, not the two raw ends.
    assert log_ticks(2.4, 3.14) == [2.4, 2.6, 2.8, 3.0]


def test_log_axis_over_many_decades_uses_one_style():
    layers = [1, 2, 3, 4, 5]
    fig = plot_panels(
        [
            Panel(
                "grad",
                "layer",
                "rms",
                [Series("a", layers, [1e-9, 1e-7, 1e-5, 1e-3, 0.1])],
                logy=True,
            )
        ],
        "t",
    )
    _drawn(fig)
    labels = _labels(fig.axes[0].yaxis)
    assert labels and all(re.fullmatch(r"\$10\^\{-?\d+\}\$", label) for label in labels), labels
