"""Logic gates and the perceptron learning rule (chapter 2)."""

import numpy as np
import pytest

from scratchdl.perceptron import (
    AND,
    GATES,
    NAND,
    OR,
    TRUTH_TABLE_INPUTS,
    XOR,
    Perceptron,
    fit_perceptron,
    truth_table,
)

EXPECTED = {"AND": [0, 0, 0, 1], "NAND": [1, 1, 1, 0], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


@pytest.mark.parametrize("name", EXPECTED)
def test_truth_tables(name):
    table = truth_table(GATES[name])
    np.testing.assert_array_equal(table[:, :2], TRUTH_TABLE_INPUTS)
    np.testing.assert_array_equal(table[:, 2], EXPECTED[name])


def test_notes_weights_and_scalar_calls():
    assert (AND.w.tolist(), AND.b) == ([0.5, 0.5], -0.7)
    assert (NAND.w.tolist(), NAND.b) == ([-0.5, -0.5], 0.7)
    assert (OR.w.tolist(), OR.b) == ([0.5, 0.5], -0.2)
    assert AND(1, 1) == 1 and isinstance(AND(1, 1), int)
    assert XOR(1, 0) == 1 and XOR(1, 1) == 0


def test_perceptron_input_count_checked():
    with pytest.raises(ValueError, match="takes 2 inputs"):
        AND(1, 0, 1)
    with pytest.raises(ValueError, match="1-D"):
        Perceptron([[1, 2]], 0)


@pytest.mark.parametrize("name", ["AND", "NAND", "OR"])
def test_learning_rule_learns_linearly_separable_gates(name):
    fit = fit_perceptron(TRUTH_TABLE_INPUTS, EXPECTED[name])
    assert fit.converged
    assert fit.errors[-1] == 0
    np.testing.assert_array_equal(truth_table(fit.perceptron)[:, 2], EXPECTED[name])


def test_learning_rule_reports_xor_failure_instead_of_looping():
    fit = fit_perceptron(TRUTH_TABLE_INPUTS, EXPECTED["XOR"], max_epochs=50)
    assert not fit.converged
    assert fit.epochs == 50 and len(fit.errors) == 50
    assert min(fit.errors) > 0
    assert "cannot" in fit.message and "XOR" in fit.message
