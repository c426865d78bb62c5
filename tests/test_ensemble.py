"""Ensembles (ch. 8.1.1): :class:`scratchdl.nets.Ensemble` and ``scratchdl evaluate`` with
several models (synthetic data, tiny nets)."""

import json

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.functions import softmax
from scratchdl.io import load_model, save_model
from scratchdl.nets import Ensemble, TwoLayerNet, evaluate
from scratchdl.optimizers import Adam
from scratchdl.train import Trainer
from test_cli_train import _synthetic, fake_mnist, run  # noqa: F401 - fake_mnist is a fixture


def trained(seed, iters=30):
    """A small MLP trained briefly on the synthetic digits (differently per seed)."""
    (x, t), (xt, tt) = _synthetic()
    net = TwoLayerNet(784, 12, 10, weight_init_std="he", rng=seed)
    Trainer(net, x, t, optimizer=Adam(lr=0.01), batch_size=20, iters=iters, rng=seed).fit()
    return net


def test_probabilities_are_the_members_mean():
    nets = [TwoLayerNet(784, 8, 10, weight_init_std="he", rng=s) for s in range(3)]
    x = np.random.default_rng(0).uniform(0, 1, (7, 784)).astype(np.float32)
    ens = Ensemble(nets)
    mean = np.mean([softmax(n.predict(x)) for n in nets], axis=0)
    np.testing.assert_allclose(softmax(ens.predict(x)), mean, rtol=1e-5, atol=1e-7)
    one = Ensemble(nets[:1])  # an ensemble of one answers as its network
    np.testing.assert_array_equal(one.predict(x).argmax(1), nets[0].predict(x).argmax(1))
    # No overflow, no log 0: members sure of different classes.
    far = Ensemble.combine([np.array([[0.0, -1e4]]), np.array([[-1e4, 0.0]])])
    np.testing.assert_allclose(far, np.log([[0.5, 0.5]]))


def test_evaluate_of_an_ensemble_is_its_accuracy_and_loss():
    nets = [trained(s) for s in range(3)]
    _, (xt, tt) = _synthetic()
    acc, loss = evaluate(Ensemble(nets), xt, tt)
    p = np.mean([softmax(n.predict(xt)) for n in nets], axis=0)
    assert acc == pytest.approx(np.mean(p.argmax(1) == tt))
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(tt.shape[0]), tt])), rel=1e-4)
    assert Ensemble(nets).accuracy(xt, tt) == acc
    with pytest.raises(ConfigError, match="only predicts"):
        Ensemble(nets).predict(xt, train_flg=True)


def test_members_must_agree_on_their_shapes():
    with pytest.raises(ShapeError, match="same inputs to the same classes"):
        Ensemble([TwoLayerNet(784, 8, 10, rng=0), TwoLayerNet(100, 8, 10, rng=0)])
    with pytest.raises(ConfigError, match="at least one"):
        Ensemble([])


def test_cli_evaluates_an_ensemble(tmp_path, capsys, fake_mnist):  # noqa: F811
    paths = []
    for seed in range(3):
        path = tmp_path / f"m{seed}.npz"
        save_model(trained(seed), path, metadata={"dataset": "mnist"})
        paths.append(str(path))
    code, out, err = run(capsys, "evaluate", *paths, "--json")
    assert code == 0, err
    record = json.loads(out)
    _, (xt, tt) = _synthetic()
    nets = [load_model(p) for p in paths]
    assert record["model"] == "ensemble of 3 models"
    assert record["accuracy"] == pytest.approx(evaluate(Ensemble(nets), xt, tt)[0])
    assert [m["model"] for m in record["members"]] == paths
    for m, net in zip(record["members"], nets, strict=True):
        assert m["accuracy"] == pytest.approx(evaluate(net, xt, tt)[0])
    assert sum(map(sum, record["confusion_matrix"])) == tt.shape[0]

    code, out, err = run(capsys, "evaluate", *paths[:2])
    assert code == 0, err
    assert "ensemble of 2 models on the mnist test set" in out
    assert "than its best member" in out and paths[1] in out

    code, _, err = run(capsys, "evaluate", paths[0], paths[0])
    assert code == 2 and "given twice" in err and "Traceback" not in err
    other = tmp_path / "small.npz"
    save_model(TwoLayerNet(100, 8, 10, rng=0), other)
    code, _, err = run(capsys, "evaluate", paths[0], str(other))
    assert code == 2 and "small.npz maps 100 inputs" in err
