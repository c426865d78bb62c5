"""``scratchdl gradcheck``: no false failures at ReLU kinks, real backprop bugs still fail."""

import numpy as np
import pytest

from scratchdl.cli import main
from scratchdl.gradient import kink_samples
from scratchdl.layers import Affine, Relu, Sigmoid
from scratchdl.nets import MultiLayerNet


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def diffs_of(out):
    return {
        line.split(":")[0].strip(): float(line.split(":")[1])
        for line in out.splitlines()
        if line.startswith("  ") and ":" in line
    }


def test_many_relu_samples_do_not_fail_at_the_kink(capsys):
    code, out, err = run(capsys, "gradcheck", "--samples", "1000")
    assert code == 0, out + err
    assert "note: 1 of the 1000 random samples put a ReLU input within h=0.0001" in out
    assert "1 redrawn" in out and "on 1000 random samples" in out
    assert max(diffs_of(out).values()) < 1e-7
    assert "OK: largest difference" in out
    # A seed gives the same batch, redraws included.
    assert run(capsys, "gradcheck", "--samples", "1000")[1] == out


def test_many_sigmoid_samples_pass_without_redraws(capsys):
    code, out, _ = run(capsys, "gradcheck", "--samples", "1000", "--activation", "sigmoid")
    assert code == 0 and "note:" not in out and "OK: largest difference" in out


def test_deep_narrow_relu_net_passes(capsys):
    code, out, _ = run(
        capsys, "gradcheck", "--samples", "300", "--hidden", "3", "--hidden", "2", "--seed", "4"
    )
    assert code == 0, out


def _wrong_relu_backward(self, dout):
    return dout * (self.mask + 0.01)  # leaks a little gradient through switched-off units


def _wrong_sigmoid_backward(self, dout):
    return dout * (1.0 - self.out) * self.out * 1.001


def _wrong_bias_gradient(self, dout):
    self.dW = self.x.T @ dout
    self.db = dout.mean(axis=0)  # should be the sum
    return None if not self.need_dx else (dout @ self.W.T).reshape(self.original_x_shape)


@pytest.mark.parametrize(
    ("layer", "method", "wrong", "activation"),
    [
        (Relu, "backward", _wrong_relu_backward, "relu"),
        (Sigmoid, "backward", _wrong_sigmoid_backward, "sigmoid"),
        (Affine, "backward", _wrong_bias_gradient, "relu"),
    ],
)
@pytest.mark.parametrize("samples", ["3", "1000"])
def test_a_real_backprop_bug_still_fails(
    capsys, monkeypatch, layer, method, wrong, activation, samples
):
    monkeypatch.setattr(layer, method, wrong)
    code, out, _ = run(capsys, "gradcheck", "--samples", samples, "--activation", activation)
    assert code == 1, out
    assert "FAIL: largest difference" in out and "above the tolerance 1e-07" in out


def test_kink_samples_flags_exactly_the_samples_near_zero():
    W1 = np.array([[1.0, -1.0]])
    net = MultiLayerNet(1, [2], 2, dtype=np.float64, rng=0)
    net.params["W1"] = W1
    x = np.array([[0.5], [3e-5], [-2e-4], [0.0], [-1.0]])
    t = np.array([0, 1, 0, 1, 0])
    # W1 ± h and b1 ± h move a pre-activation x*w by about h*|x| and h: only near-zero x cross.
    np.testing.assert_array_equal(kink_samples(net, x, t), [False, True, False, True, False])
    sig = MultiLayerNet(1, [2], 2, activation="sigmoid", dtype=np.float64, rng=0)
    assert not kink_samples(sig, x, t).any()


def test_a_nan_gradient_fails(capsys, monkeypatch):
    def nan_bias_gradient(self, dout):
        dx = _wrong_bias_gradient(self, dout)
        self.db = np.full_like(self.db, np.nan)
        return dx

    monkeypatch.setattr(Affine, "backward", nan_bias_gradient)
    code, out, _ = run(capsys, "gradcheck", "--samples", "3")
    assert code == 1, out
    assert "FAIL: largest difference nan" in out
