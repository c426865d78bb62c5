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


def test_xor_message_counts_the_samples_the_final_perceptron_gets_wrong():
    fit = fit_perceptron(TRUTH_TABLE_INPUTS, EXPECTED["XOR"], max_epochs=100)
    wrong = int(np.sum(truth_table(fit.perceptron)[:, 2] != EXPECTED["XOR"]))
    # A line can get at most 3 of XOR's 4 wrong, and this one gets 2; the last epoch made 4
    # updates, which the message once reported as "4 of the samples still wrong".
    assert fit.misclassified == wrong == 2 and fit.n_samples == 4
    assert fit.errors[-1] == 4
    assert "gets 2 of the 4 samples wrong" in fit.message


def test_learned_weights_print_as_clean_decimals():
    fit = fit_perceptron(TRUTH_TABLE_INPUTS, EXPECTED["NAND"])
    assert fit.perceptron.b == pytest.approx(0.2) and fit.perceptron.b != 0.2  # 0.1 + 0.1 ...
    assert repr(fit.perceptron) == "Perceptron(w=[-0.1, -0.2], b=0.2)"
    assert "learned all samples after 4 epochs:" in fit.message


def test_one_epoch_is_singular():
    fit = fit_perceptron([[1.0]], [0])
    assert fit.epochs == 1 and "after 1 epoch:" in fit.message
