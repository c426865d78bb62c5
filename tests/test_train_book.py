"""The book's Trainer form (scratchdl.train.book): its arguments, lists and printed lines, on
the one training loop."""

from __future__ import annotations

import numpy as np
import pytest

from scratchdl.errors import ConfigError
from scratchdl.nets import MultiLayerNetExtend, TwoLayerNet
from scratchdl.optimizers import Adam
from scratchdl.train import Trainer as LoopTrainer
from scratchdl.train.book import Trainer


def toy(seed=0, n=300, d=20, c=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    t = np.argmax(x[:, :c], axis=1)
    return x, t


def test_book_arguments_lists_and_lines(capsys):
    x, t = toy()
    net = TwoLayerNet(20, 16, 3, weight_init_std="he", rng=0)
    trainer = Trainer(
        net,
        x[:200],
        t[:200],
        x[200:],
        t[200:],
        epochs=8,
        mini_batch_size=50,
        optimizer="Adam",
        optimizer_param={"lr": 0.03},
        evaluate_sample_num_per_epoch=80,
        rng=0,
    )
    assert isinstance(trainer, LoopTrainer)  # the one loop, not a second one
    assert isinstance(trainer.optimizer, Adam) and trainer.optimizer.lr == 0.03
    assert trainer.network is net and trainer.batch_size == 50
    trainer.train()
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("train loss:") for line in lines) == 32  # 8 epochs of 200/50
    epochs = [line for line in lines if line.startswith("=== epoch:")]
    assert len(epochs) == 8
    assert epochs[0].startswith("=== epoch:1, train acc:") and epochs[-1].endswith(" ===")
    assert lines[-2] == "=============== Final Test Accuracy ==============="
    final = float(lines[-1].removeprefix("test acc:"))
    assert final == pytest.approx(net.accuracy(x[200:], t[200:]))
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 8
    assert len(trainer.train_loss_list) == 32
    assert trainer.train_acc_list[-1] > 0.8 and final > 0.75  # chance: 1/3
    # evaluate_sample_num_per_epoch: accuracies on 80 samples are multiples of 1/80
    assert all(abs(a * 80 - round(a * 80)) < 1e-9 for a in trainer.train_acc_list)


def test_defaults_are_the_books_sgd_and_quiet_when_not_verbose(capsys):
    x, t = toy()
    trainer = Trainer(TwoLayerNet(20, 8, 3, rng=0), x, t, x, t, epochs=1, verbose=False)
    assert trainer.optimizer.name == "sgd" and trainer.optimizer.lr == 0.01
    assert trainer.batch_size == 100 and trainer.sampling == "replacement"
    trainer.train()
    assert capsys.readouterr().out == ""
    assert len(trainer.train_acc_list) == 1


def test_optimizer_names_are_case_insensitive_and_checked():
    x, t = toy()
    for name in ("sgd", "Momentum", "NESTEROV", "adagrad", "RMSprop", "adam"):
        tr = Trainer(TwoLayerNet(20, 8, 3, rng=0), x, t, x, t, optimizer=name, verbose=False)
        assert tr.optimizer.name == name.lower()
    with pytest.raises(ConfigError, match="unknown optimizer 'adamw'"):
        Trainer(TwoLayerNet(20, 8, 3, rng=0), x, t, x, t, optimizer="adamw")


def test_follows_numpys_global_seed_like_the_books_scripts():
    x, t = toy()

    def run():
        net = MultiLayerNetExtend(20, [10], 3, use_dropout=True, rng=1)
        tr = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=30, verbose=False)
        tr.train()
        return tr.train_loss_list

    np.random.seed(7)  # noqa: NPY002 - what the book's scripts do; the Trainer follows it
    first = run()
    np.random.seed(7)  # noqa: NPY002
    assert run() == first
