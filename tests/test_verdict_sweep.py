"""``scratchdl sweep lr --epochs 1`` on real MNIST: every row's label agrees with its numbers.

Before one rule gave the table's label and the findings, lr 10 (loss 2.303 -> 2.338, accuracy
at chance) was labelled "learning" and lr 0.001 (loss down 0.1%) "learned".
"""

from __future__ import annotations

import os
import re

import pytest

from scratchdl.train.verdict import FAIL_FACTOR, MIN_LEARNED_FALL

pytestmark = pytest.mark.slow

ROW = re.compile(
    r"^\| ([\d.e+-]+) \| ([\d.]+)(?: ± [\d.]+)? \| ([\d.]+) -> ([\d.]+|n/a) \| \d+ \| (\w+) \|$"
)


@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="needs real MNIST")
def test_sweep_lr_one_epoch_labels_never_contradict_their_rows(tmp_path):
    from scratchdl.experiments import run

    data_dir = os.environ["SCRATCHDL_DATA_DIR"]
    res = run("lr", tmp_path / "lr", jobs=0, data_dir=data_dir, epochs=1, seeds=(0,))
    text = (tmp_path / "lr" / "summary.md").read_text()
    rows = [ROW.match(line) for line in text.splitlines() if line.startswith("| ")]
    rows = [m.groups() for m in rows if m]
    assert len(rows) == 5, text
    chance = res.options["chance"]
    labels = {}
    for lr, acc, start, end, kind in rows:
        labels[float(lr)] = kind
        if end == "n/a":
            assert kind == "diverged" or kind == "stalled"
            continue
        acc, start, end = float(acc), float(start), float(end)
        if end >= start:  # a loss that did not fall is never learning nor learned
            assert kind == "stalled", (lr, start, end, kind)
        if kind == "learned":
            assert acc > FAIL_FACTOR * chance and end < start * (1 - MIN_LEARNED_FALL)
        # The findings say the same of each rate as the table.
        if kind != "learned":
            said = [line for line in text.splitlines() if line.startswith(f"- lr {lr} ")]
            word = {"stalled": "did not train", "learning": "learn", "diverged": "diverged"}
            assert said and word[kind] in said[0], (lr, kind, said)
    assert labels[10.0] == "stalled" and labels[0.001] == "learning"
    assert "seed(s)" not in text and "1 seeds" not in text
