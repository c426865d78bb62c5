"""Data augmentation (ch. 8.1.1) and learning-rate decay: the functions themselves, then the
Trainer and ``scratchdl train`` that apply them (tiny synthetic data, fast)."""

import numpy as np
import pytest

from scratchdl.data.augment import (
    AUGMENTATIONS,
    Augmenter,
    augment,
    elastic_distort,
    gaussian_matrix,
    parse_augmentations,
    random_rotate,
    random_scale,
    random_shift,
)
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.nets import TwoLayerNet
from scratchdl.optimizers import Adam
from scratchdl.train import Callback, TrainConfig, Trainer, train
from scratchdl.train.config import augment_kinds
from scratchdl.train.schedule import LRSchedule


def digits(n=6, seed=0, dtype=np.float32):
    """Blocky 'strokes' in [0, 1] on a 28x28 canvas with an empty border, (N, 1, 28, 28)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 28, 28), dtype=dtype)
    for i in range(n):
        r, c = rng.integers(6, 14, size=2)
        x[i, 0, r : r + 10, c : c + 3] = 1.0
        x[i, 0, r : r + 3, c : c + 8] = rng.uniform(0.5, 1.0)
    return x


EACH = [
    (random_shift, {}),
    (random_rotate, {}),
    (random_scale, {}),
    (elastic_distort, {}),
    (augment, {"kinds": AUGMENTATIONS}),
]


# -- the transforms ------------------------------------------------------------------------
@pytest.mark.parametrize(("fn", "kw"), EACH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_bounds_and_input_untouched(fn, kw, dtype):
    x = digits(dtype=dtype)
    before = x.copy()
    y = fn(x, np.random.default_rng(1), **kw)
    assert y.shape == x.shape and y.dtype == dtype
    assert y is not x and not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)  # never modifies its input
    # Bilinear weights are a convex combination: no value leaves the input's range.
    assert y.min() >= 0.0 and y.max() <= 1.0 + 1e-6
    assert not np.array_equal(y, x)  # it did transform something
    # Most of the ink stays on the canvas (a digit is moved, not lost).
    assert 0.6 < y.sum() / x.sum() < 1.4


@pytest.mark.parametrize(("fn", "kw"), EACH)
def test_seeded_determinism(fn, kw):
    x = digits()
    a = fn(x, 7, **kw)
    b = fn(x, np.random.default_rng(7), **kw)
    c = fn(x, 8, **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shift_is_an_exact_whole_pixel_move():
    x = digits(n=20)
    y = random_shift(x, 3, max_shift=2)
    for xi, yi in zip(x[:, 0], y[:, 0], strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(np.roll(xi, (dy, dx), axis=(0, 1)), yi)
        ]
        assert matches  # the border is empty, so a roll is the shift
    assert y.sum() == pytest.approx(x.sum(), rel=1e-6)  # no blur, no ink lost


def test_zero_strength_is_the_identity_and_labels_travel_with_the_batch():
    x = digits()
    same = augment(x, 0, max_shift=0, max_degrees=0, max_scale=0, alpha=0)
    np.testing.assert_allclose(same, x, atol=1e-6)
    # Sample i of the output is a transform of sample i of the input: the labels stay valid.
    # Each sample is a centred square of its own brightness; it keeps that brightness.
    x = np.zeros((5, 1, 28, 28), dtype=np.float32)
    for i in range(5):
        x[i, 0, 9:19, 9:19] = (i + 1) / 5
    y = augment(x, 5)
    np.testing.assert_allclose(y.max(axis=(1, 2, 3)), x.max(axis=(1, 2, 3)), rtol=1e-5)


def test_augmenter_keeps_the_batch_shape_and_rejects_bad_settings():
    aug = Augmenter(["shift", "elastic"])
    flat = digits().reshape(6, 784)
    y = aug(flat, np.random.default_rng(0))
    assert y.shape == (6, 784) and y.dtype == np.float32
    assert aug.to_dict()["kinds"] == ["shift", "elastic"]
    with pytest.raises(ConfigError, match="unknown augmentation strength"):
        Augmenter(["shift"], wobble=3)
    with pytest.raises(ShapeError, match="reshape flat MNIST"):
        augment(flat, 0)
    with pytest.raises(ConfigError, match="unknown augmentation 'blur'"):
        parse_augmentations("shift,blur")
    with pytest.raises(ConfigError, match="twice"):
        parse_augmentations("shift,shift")
    assert parse_augmentations("none") == () and augment_kinds(" ALL ") == AUGMENTATIONS


def test_gaussian_matrix_smooths_like_a_normalised_kernel():
    g = gaussian_matrix(40, 4.0)
    assert g.shape == (40, 40)
    np.testing.assert_allclose(g[20].sum(), 1.0, atol=1e-6)  # whole kernel (4 sigma) inside
    assert g[0].sum() < 1.0  # cut at the edge (zeros beyond)
    np.testing.assert_allclose(g, g.T)


# -- the learning-rate schedule -----------------------------------------------------------
def test_step_and_cosine_rates():
    step = LRSchedule("step", 0.1, epochs=10, every=2, factor=0.5)
    assert [step.lr(e) for e in range(6)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    cos = LRSchedule("cosine", 0.1, epochs=4, factor=0.1)
    assert cos.lr(0) == pytest.approx(0.1)
    assert cos.lr(2) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5))  # halfway: the midpoint
    assert cos.lr(4) == pytest.approx(0.01) and cos.lr(9) == pytest.approx(0.01)  # the floor
    rates = [cos.lr(e) for e in range(5)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    again = LRSchedule.from_dict(cos.to_dict())
    assert again.to_dict() == cos.to_dict() and "cosine" in repr(again)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("linear", 0.1, 3), "unknown lr decay"),
        (("step", 0.1, 3, 1, 1.5), r"in \(0, 1\]"),
        (("cosine", 0.1, 3, 1, 1.0), r"in \[0, 1\)"),
        (("step", -0.1, 3), "lr0"),
        (("cosine", 0.1, 0), "epochs"),
    ],
)
def test_schedule_rejects_bad_settings(args, match):
    with pytest.raises(ConfigError, match=match):
        LRSchedule(*args)


# -- in the Trainer --------------------------------------------------------------------------
def images(n, seed):
    """Two classes of 28x28 images (a bar at the top or at the bottom), flat (N, 784)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.uniform(0, 0.1, (n, 28, 28)).astype(np.float32)
    for i in range(n):
        r = 6 if t[i] == 0 else 18
        x[i, r : r + 4, 6:22] = 1.0
    return x.reshape(n, 784), t


DATA = (images(120, 0), images(40, 1))


class Rates(Callback):
    def __init__(self):
        self.lrs, self.batches = [], []

    def on_iteration(self, trainer, loss):
        self.lrs.append(trainer.optimizer.lr)


def trainer_for(augment=None, schedule=None, callbacks=(), seed=3, iters=24):
    (x, t), (xt, tt) = DATA
    net = TwoLayerNet(784, 8, 2, weight_init_std="he", rng=1)
    return Trainer(
        net,
        x,
        t,
        xt,
        tt,
        optimizer=Adam(lr=0.01),
        batch_size=20,
        iters=iters,
        rng=seed,
        callbacks=callbacks,
        augment=augment,
        lr_schedule=schedule,
    )


def test_trainer_augments_training_batches_only_and_keeps_the_batches(monkeypatch):
    seen = {}
    for name, aug in (("plain", None), ("aug", Augmenter(["shift", "rotate"]))):
        batches = []
        tr = trainer_for(aug)
        original = tr.net.gradient

        def spy(x, t, original=original, batches=batches):
            batches.append((x.copy(), t.copy()))
            return original(x, t)

        tr.net.gradient = spy
        tr.fit()
        seen[name] = batches
    (x, t), _ = DATA
    for (xp, tp), (xa, ta) in zip(seen["plain"], seen["aug"], strict=True):
        np.testing.assert_array_equal(tp, ta)  # the same mini-batches, labels unchanged
        assert xa.dtype == np.float32 and xa.shape == xp.shape
        assert not np.array_equal(xa, xp)  # but transformed images
    np.testing.assert_array_equal(DATA[0][0], x)  # the training set itself is untouched


def test_trainer_sets_the_scheduled_rate_each_epoch():
    rates = Rates()
    schedule = LRSchedule("step", 0.01, epochs=4, every=1, factor=0.5)
    trainer_for(schedule=schedule, callbacks=[rates]).fit()
    # 120 samples in batches of 20: 6 steps per epoch, 24 steps = 4 epochs.
    assert rates.lrs == pytest.approx([0.01] * 6 + [0.005] * 6 + [0.0025] * 6 + [0.00125] * 6)


class StopAt(Callback):
    def __init__(self, k):
        self.k = k

    def on_iteration(self, trainer, loss):
        if trainer.iteration == self.k:
            trainer.request_stop()


def test_resume_with_augmentation_and_decay_is_bit_for_bit(tmp_path):
    def make(callbacks=(), seed=3):
        aug = Augmenter(["shift", "rotate", "elastic"])
        return trainer_for(aug, LRSchedule("cosine", 0.01, epochs=4), callbacks, seed)

    full = make()
    h_full = full.fit()
    first = make([StopAt(9)])  # mid-epoch, after the lr has decayed once
    first.fit()
    path = first.save_checkpoint(tmp_path / "ck.npz")
    second = make(seed=99)  # another seed: the checkpoint's generators must win
    second.load_checkpoint(path)
    h2 = second.fit()
    assert h2.to_dict(times=False) | {"seed": None} == h_full.to_dict(times=False) | {"seed": None}
    for k, v in full.net.params.items():
        np.testing.assert_array_equal(second.net.params[k], v)

    # A Trainer with other augmentation or decay settings is refused, naming them.
    other = trainer_for(Augmenter(["shift"]), LRSchedule("cosine", 0.01, epochs=4))
    with pytest.raises(ModelFileError, match="augment"):
        other.load_checkpoint(path)
    plain = trainer_for(None, LRSchedule("cosine", 0.01, epochs=4))
    with pytest.raises(ModelFileError, match="augment"):
        plain.load_checkpoint(path)
    undecayed = trainer_for(Augmenter(["shift", "rotate", "elastic"]), None)
    with pytest.raises(ModelFileError, match="lr_schedule"):
        undecayed.load_checkpoint(path)


# -- TrainConfig and train() -----------------------------------------------------------------
def test_config_checks_and_describes_the_new_settings():
    c = TrainConfig(augment="Shift, Elastic", lr_decay="cosine", epochs=3).validate()
    assert c.augment == "shift, elastic"
    assert "augment shift,elastic" in c.describe() and "cosine lr decay" in c.describe()
    assert c.lr_schedule(3).to_dict() == {
        "kind": "cosine",
        "lr0": 0.1,
        "epochs": 3,
        "every": 1,
        "factor": 0.0,
    }
    assert TrainConfig().lr_schedule(3) is None and TrainConfig.from_dict(c.to_dict()) == c
    for bad, match in (
        ({"augment": "blur"}, "unknown augmentation 'blur'"),
        ({"augment": 3}, "comma-separated"),
        ({"lr_decay": "linear"}, "lr_decay"),
        ({"lr_decay_factor": 0.5}, "needs a decay"),
        ({"lr_decay": "step", "lr_decay_factor": 2.0}, r"in \(0, 1\]"),
        ({"lr_decay": "step", "lr_decay_every": 0}, "lr_decay_every"),
    ):
        with pytest.raises(ConfigError, match=match):
            TrainConfig(**bad).validate()


def test_train_with_augmentation_learns_and_records_its_settings():
    config = TrainConfig(
        hidden=(8,),
        init="he",
        lr=0.1,
        batch_size=20,
        epochs=4,
        augment="shift",
        lr_decay="step",
        lr_decay_factor=0.5,
    )
    net, history = train(config, data=DATA)
    assert history.stop_reason == "completed"
    assert history.config["augment"] == "shift" and history.config["lr_decay"] == "step"
    assert history.last.test_acc >= 0.9  # the bars survive a 2-pixel shift
    with pytest.raises(ConfigError, match="not a square"):
        (x, t), (xt, tt) = DATA
        train(config, data=((x[:, :780], t), (xt[:, :780], tt)))


def test_a_forged_generator_state_is_refused_and_an_old_checkpoint_still_resumes(tmp_path):
    import json

    first = trainer_for(callbacks=[StopAt(9)])
    first.fit()
    path = first.save_checkpoint(tmp_path / "ck.npz")
    with np.load(path) as f:
        arrays = dict(f)
    meta = json.loads(arrays["__checkpoint__"].tobytes())

    def write(name, **changes):
        forged = tmp_path / name
        record = np.frombuffer(json.dumps({**meta, **changes}).encode(), dtype=np.uint8)
        np.savez(forged, **{**arrays, "__checkpoint__": record})
        return forged

    # A file names the bit generator; only NumPy's generators are ever built from it.
    for bad in ({"bit_generator": "seed", "state": {}}, {"bit_generator": "PCG64"}):
        with pytest.raises(ModelFileError, match="damaged"):
            trainer_for().load_checkpoint(write("bad.npz", augment_rng=bad))
    with pytest.raises(ModelFileError, match="damaged"):
        trainer_for().load_checkpoint(write("bad2.npz", rng={"bit_generator": "seed"}))
    # Written before augmentation existed (no augment_rng): resumes as before.
    del meta["augment_rng"]
    second = trainer_for()
    second.load_checkpoint(write("old.npz"))
    full = trainer_for()
    full.fit()
    second.fit()
    for k, v in full.net.params.items():
        np.testing.assert_array_equal(second.net.params[k], v)
