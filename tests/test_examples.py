"""Each chapter's example script runs and prints the notes' numbers."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

EXPECTED = {
    "ch02_perceptron.py": [
        "XOR:",
        "  1 1 -> 0",
        "learning AND: learned",
        "learning XOR: did not converge",
    ],
    "ch03_forward.py": [
        "[0.31682708 0.69627909]",
        "[0.01821127 0.24519181 0.73659691]",
        "[9.99954600e-01",
    ],
    "ch04_learning.py": [
        "SSE: 0.09750000000000003 0.5975",
        "CEE: 0.510825457099338 2.302584092994546",
        "0.1999999999990898 0.2999999999986347",
        "gradient at (3.0, 4.0): [6. 8.]",
        "[-6.11110793e-10  8.14814391e-10]",
        "[-2.58983747e+13 -1.29524862e+12]",
        "[-2.99999994  3.99999992]",
        "[1.05414809 0.63071653 1.1328074 ] argmax 2",
    ],
    "ch05_backprop.py": [
        "apple price: 220.0",
        "dapple, dapple_num, dtax: 2.2 110.0 200",
        "apple + orange price: 715.0",
        "dapple_num, dapple, dorange, dorange_num, dtax: 110.0 2.2 3.3 165.0 650",
        "W1: ",
    ],
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_notes_numbers(name):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    for line in EXPECTED[name]:
        assert line in result.stdout, f"{line!r} missing from {name}'s output:\n{result.stdout}"
    if name == "ch05_backprop.py":
        diffs = [
            float(line.split(":")[1])
            for line in result.stdout.splitlines()
            if line[:2] in ("W1", "b1", "W2", "b2")
        ]
        assert len(diffs) == 4 and max(diffs) < 1e-6
