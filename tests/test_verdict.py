"""The honesty rules of ``scratchdl.train.verdict`` on hand-made loss curves and seed aggregates.

"did not train" only when the loss stopped falling (or went up), "had not learned yet ... still
falling" when it is still falling, "diverged" on a non-finite loss; a difference is real only
when the mean ± std intervals over seeds do not overlap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchdl.train.verdict import (
    FAIL_FACTOR,
    MIN_FALL,
    MIN_LEARNED_FALL,
    MIN_POINTS,
    learning_verdict,
    loss_trend,
    noise_comparison,
)

CHANCE = 0.1
#: A deep sigmoid net on its plateau (ch. 6.2): the loss sits at ln(10) = 2.3026.
PLATEAU = [2.4, 2.31, *([math.log(10)] * 18)]
#: Falling by 1e-4 per point, deterministically: slow, but falling.
SLOW = [2.305 - 1e-4 * i for i in range(20)]


#: Mean mini-batch losses over 2 epochs on MNIST (20 curve points, mean of seeds 0 and 1) of
#: the issue's example, sigmoid+Xavier 4x64, which learns later (0.11 -> 0.53 in 8 epochs),
#: and of the same net with std 0.01, which does not.
XAVIER_4X64 = [
    2.3117,
    2.3066,
    2.305,
    2.3064,
    2.3051,
    2.3052,
    2.3052,
    2.3042,
    2.3049,
    2.3056,
    2.3038,
    2.306,
    2.3031,
    2.3041,
    2.3042,
    2.3039,
    2.3036,
    2.3043,
    2.3028,
    2.3018,
]
STD001_4X64 = [
    2.3043,
    2.3064,
    2.3049,
    2.3064,
    2.3052,
    2.3054,
    2.3054,
    2.3046,
    2.3053,
    2.3061,
    2.3045,
    2.3066,
    2.304,
    2.3051,
    2.3052,
    2.3051,
    2.305,
    2.3058,
    2.3044,
    2.3036,
]


def minibatch_losses(slope: float, seed: int, n: int = 200, sd: float = 0.1) -> list[float]:
    """Mini-batch losses: a straight line ``2.3 + slope * i`` plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    return list(2.3 + slope * np.arange(n) + rng.normal(0, sd, n))


# -- loss_trend ---------------------------------------------------------------------------------
def test_a_plateau_is_flat():
    assert loss_trend(PLATEAU) == "flat"


def test_a_slow_steady_fall_is_falling():
    assert loss_trend(SLOW) == "falling"
    # ... but a fall smaller than MIN_FALL of the loss is not called one.
    assert loss_trend([2.3 * (1 - MIN_FALL / 50 * i) for i in range(20)]) == "flat"


def test_a_fall_that_ended_is_flat():
    # Fast at first, then a plateau with small noise: the loss stopped falling.
    rng = np.random.default_rng(0)
    curve = [2.3 - 1.5 * (1 - math.exp(-i / 2)) + rng.normal(0, 0.002) for i in range(20)]
    assert loss_trend(curve) == "flat"


def test_the_issue_example_is_still_falling_after_2_epochs():
    assert loss_trend(XAVIER_4X64) == "falling"
    assert loss_trend(STD001_4X64) == "flat"


def test_noisy_falling_minibatch_losses_are_falling():
    # Falls 0.2 over 200 batches under noise of 0.1 per batch.
    for seed in range(5):
        assert loss_trend(minibatch_losses(-1e-3, seed)) == "falling"


def test_noisy_flat_minibatch_losses_are_flat():
    assert loss_trend(minibatch_losses(0.0, seed=0, sd=0.02)) == "flat"
    # Two standard errors: pure noise is rarely taken for a fall.
    called = [loss_trend(minibatch_losses(0.0, seed, sd=0.02)) for seed in range(100)]
    assert called.count("falling") <= 8


def test_losses_too_noisy_to_tell_are_unclear_not_flat():
    # Noise of 0.1 per batch hides any change below 1% of the loss: no "did not train".
    losses = minibatch_losses(0.0, seed=0, sd=0.1)
    assert loss_trend(losses) == "unclear"
    v = learning_verdict(0.11, losses, CHANCE, "2 epochs")
    assert v.kind == "learning" and "too short to tell whether its loss is still falling" in (
        v.phrase
    )


def test_a_rising_loss_is_rising():
    assert loss_trend([2.0 + 0.01 * i for i in range(20)]) == "rising"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None])
def test_a_non_finite_loss_diverged(bad):
    assert loss_trend([2.3, 2.1, 1.9, bad]) == "diverged"


def test_short_curves_are_unclear():
    # Fewer than MIN_POINTS points cannot show the noise, so nothing is called a plateau.
    for short in ([], [2.3, 2.0], [2.3] * (MIN_POINTS - 1)):
        assert loss_trend(short) == "unclear"
    assert loss_trend([2.3] * MIN_POINTS) == "flat"


# -- learning_verdict ---------------------------------------------------------------------------
#: ``scratchdl sweep lr --epochs 1`` (mean of 3 seeds, the training loss on the curve's fixed
#: subsample): lr 10 jumps above ln(10) and jitters there, at chance accuracy (0.095); lr 0.001
#: moves its loss by 0.12% while its argmax is right on 24% of the test set.
LR10 = [2.3027, 2.4337, 2.4005, 2.339, 2.3439, 2.3461, 2.3531, 2.5303, 2.3606, 2.3414, 2.344]
LR10 += [2.3772, 2.3457, 2.325, 2.3291, 2.3478, 2.3356, 2.3708, 2.3311, 2.3765, 2.3376]
LR0001 = [2.3027 - 1.3e-4 * i for i in range(21)]


def test_learned_above_the_bar_with_a_loss_that_fell():
    falling = [2.3 * (1 - 0.03 * i) for i in range(20)]
    v = learning_verdict(FAIL_FACTOR * CHANCE + 0.01, falling, CHANCE, "2 epochs")
    assert (v.kind, v.phrase, v.failed) == ("learned", "learned in 2 epochs", False)


def test_above_the_bar_with_a_loss_that_barely_moved_has_not_learned():
    # The sweep's lr 0.001: accuracy 0.24 > 1.5 x chance, loss 2.303 -> 2.300.
    v = learning_verdict(0.242, LR0001, CHANCE, "1 epoch", more="try more epochs (--epochs)")
    assert v.kind == "learning" and not v.failed
    assert v.phrase == (
        "had barely begun to learn in 1 epoch: above chance, but its loss had hardly fallen: "
        "try more epochs (--epochs)"
    )
    # A plateau that ends 4% below its start is not "learned" either (the bar is 5%).
    assert MIN_LEARNED_FALL == 0.05
    assert learning_verdict(0.16, PLATEAU, CHANCE, "2 epochs").kind == "learning"


def test_a_loss_that_rose_at_chance_is_never_learning():
    # The sweep's lr 10: 2.303 -> 2.34 (up 1.5%, beyond its jitter), accuracy 0.095.
    assert loss_trend(LR10) == "rising"
    v = learning_verdict(0.095, LR10, CHANCE, "1 epoch")
    assert (v.kind, v.phrase) == ("stalled", "did not train in 1 epoch: its loss went up")
    # ... nor "learned", even with an argmax above the bar.
    assert learning_verdict(0.2, LR10, CHANCE, "1 epoch").kind == "stalled"


def test_a_short_curve_that_ended_above_its_start_did_not_train():
    v = learning_verdict(0.1, [2.30, 2.35, 2.33], CHANCE, "100 updates")
    assert (v.kind, v.phrase) == ("stalled", "did not train in 100 updates: its loss did not fall")


def test_plateau_at_chance_did_not_train():
    v = learning_verdict(0.11, PLATEAU, CHANCE, "2 epochs")
    assert v.kind == "stalled" and v.failed
    assert v.phrase == "did not train in 2 epochs: its loss stopped falling"


def test_still_falling_at_chance_has_not_learned_yet():
    v = learning_verdict(0.11, SLOW, CHANCE, "2 epochs", more="try more epochs (--epochs)")
    assert v.kind == "learning" and not v.failed
    assert v.phrase == (
        "had not learned yet in 2 epochs, loss still falling: try more epochs (--epochs)"
    )
    assert "did not train" not in v.phrase


def test_a_fall_seen_in_another_loss_curve_counts():
    # The fixed-subsample loss jitters on the plateau; the mini-batch means show the fall.
    jitter = [2.303 + 0.003 * (-1) ** i for i in range(20)]
    assert learning_verdict(0.11, jitter, CHANCE, "2 epochs").kind == "stalled"
    v = learning_verdict(0.11, jitter, CHANCE, "2 epochs", also=[SLOW])
    assert v.kind == "learning"
    # Another curve never hides a divergence.
    assert learning_verdict(0.11, [2.3, None], CHANCE, "2 epochs", also=[SLOW]).kind == ("diverged")


def test_a_rising_loss_did_not_train_and_says_it_went_up():
    v = learning_verdict(0.1, [2.0 + 0.01 * i for i in range(20)], CHANCE, "500 updates")
    assert v.phrase == "did not train in 500 updates: its loss went up"


def test_a_rise_beyond_the_jitter_went_up_and_within_it_did_not():
    # The loss at initialisation is ln(10); the plateau sits 0.002 above it, each point
    # within 0.001 of the next: a rise beyond the noise, however small, is "went up".
    v = learning_verdict(0.11, [math.log(10), *STD001_4X64], CHANCE, "2 epochs")
    assert v.phrase == "did not train in 2 epochs: its loss went up"
    # Jitter of +-0.003 around the start is not a rise.
    jitter = [math.log(10) + 0.003 * (-1) ** i for i in range(20)]
    assert loss_trend(jitter) != "rising"


def test_pure_noise_is_rarely_called_rising():
    called = [loss_trend(minibatch_losses(0.0, seed, sd=0.02)) for seed in range(100)]
    assert called.count("rising") <= 8


def test_nan_loss_diverged_even_with_good_accuracy():
    v = learning_verdict(0.9, [2.3, 1.0, float("nan")], CHANCE, "1 epoch")
    assert v.kind == "diverged" and v.failed
    assert v.phrase == "diverged in 1 epoch (its loss became infinite or NaN)"


# -- noise_comparison ---------------------------------------------------------------------------
def stat(mean: float, std: float, n: int = 3) -> dict:
    return {"mean": mean, "std": std, "n": n}


def test_overlapping_intervals_are_within_noise():
    assert noise_comparison(stat(0.95, 0.01), stat(0.94, 0.01)) == "within noise"
    assert noise_comparison(stat(0.94, 0.01), stat(0.95, 0.01)) == "within noise"
    # Touching intervals still overlap.
    assert noise_comparison(stat(0.75, 0.125), stat(0.5, 0.125)) == "within noise"


def test_separate_intervals_are_larger_or_smaller():
    assert noise_comparison(stat(0.95, 0.004), stat(0.93, 0.004)) == "larger"
    assert noise_comparison(stat(0.93, 0.004), stat(0.95, 0.004)) == "smaller"
    # Zero spread: any difference is beyond it.
    assert noise_comparison(stat(0.5, 0.0), stat(0.4, 0.0)) == "larger"


def test_one_seed_has_no_noise_estimate():
    assert noise_comparison(stat(0.95, 0.0, n=1), stat(0.5, 0.0, n=1)) == "one seed"
    assert noise_comparison(stat(0.95, 0.0, n=1), stat(0.5, 0.01, n=3)) == "one seed"


def test_a_missing_mean_claims_nothing():
    assert noise_comparison({"mean": None, "std": None, "n": 0}, stat(0.5, 0.01)) == (
        "within noise"
    )
