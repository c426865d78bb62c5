"""The book's ``Trainer`` (``common/trainer.py``, ch. 6.4-8): its arguments, ``train()`` and
its printed lines, as a thin form of :class:`scratchdl.train.Trainer`.

The book's scripts write::

    trainer = Trainer(network, x_train, t_train, x_test, t_test,
                      epochs=20, mini_batch_size=100,
                      optimizer='Adam', optimizer_param={'lr': 0.001},
                      evaluate_sample_num_per_epoch=1000)
    trainer.train()
    trainer.train_acc_list, trainer.test_acc_list

``from common.trainer import Trainer`` becomes ``from scratchdl.train.book import Trainer``.
The loop is :meth:`scratchdl.train.Trainer.fit`, not a copy of the book's: this class only
translates the arguments and prints what the book prints. Differences, all small:

* An epoch's record is made after its last step (the book's is made after its first step,
  so its first entry describes a network trained one step). Both give ``epochs`` entries.
* ``evaluate_sample_num_per_epoch=k`` evaluates on ``k`` samples of each set drawn once at
  random (the book takes the first ``k``).
* ``train loss:`` is the mini-batch loss of the step's forward pass, before the update (the
  book runs the forward pass again after it).
* Mini-batches are drawn with replacement, as the book's ``np.random.choice``, from a
  generator seeded from NumPy's global one, so a script that calls ``np.random.seed`` gets the
  same run each time. Pass ``rng`` for a generator of your own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scratchdl.optimizers import get_optimizer
from scratchdl.train.history import EpochRecord, History
from scratchdl.train.trainer import Callback
from scratchdl.train.trainer import Trainer as _Trainer

__all__ = ["Trainer"]


class _BookLines(Callback):
    """Prints the book's lines: the loss of every step, and one line per epoch."""

    def on_iteration(self, trainer: _Trainer, loss: float) -> None:
        print("train loss:" + str(loss))

    def on_epoch(self, trainer: _Trainer, record: EpochRecord) -> None:
        print(
            f"=== epoch:{record.epoch}, train acc:{record.train_acc}, "
            f"test acc:{record.test_acc} ==="
        )


class Trainer(_Trainer):
    """The book's ``Trainer`` (ch. 6.4.2): train ``network`` with the named optimizer.

    Parameters
    ----------
    network : Net
        Any network of the Net contract.
    x_train, t_train, x_test, t_test : ndarray
    epochs : int
        Length of the run; an epoch is ``max(N // mini_batch_size, 1)`` steps.
    mini_batch_size : int
    optimizer : str
        ``'SGD'``, ``'Momentum'``, ``'Nesterov'``, ``'AdaGrad'``, ``'RMSprop'`` or ``'Adam'``
        (any case), built with ``optimizer_param``.
    optimizer_param : dict
        Keyword arguments of the optimizer, the book's default ``{'lr': 0.01}``.
    evaluate_sample_num_per_epoch : int, optional
        Evaluate each epoch on this many samples of each set (None: all of them).
    verbose : bool
        Print the book's lines (the loss of every step, accuracies every epoch, the final
        test accuracy).
    rng : numpy.random.Generator or int, optional
        Source of the mini-batches; by default seeded from NumPy's global generator.

    Attributes
    ----------
    train_acc_list, test_acc_list : list of float
        Accuracy on the training and test sets (or their samples) at each epoch.
    train_loss_list : list of float
        The mini-batch loss of every step.
    """

    def __init__(
        self,
        network: Any,
        x_train: ArrayLike,
        t_train: ArrayLike,
        x_test: ArrayLike,
        t_test: ArrayLike,
        epochs: int = 20,
        mini_batch_size: int = 100,
        optimizer: str = "SGD",
        optimizer_param: Mapping[str, float] | None = None,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        params = {"lr": 0.01} if optimizer_param is None else dict(optimizer_param)
        if rng is None:
            rng = int(np.random.randint(2**31 - 1))  # noqa: NPY002 - follows np.random.seed
        self.verbose = bool(verbose)
        super().__init__(
            network,
            x_train,
            t_train,
            x_test,
            t_test,
            optimizer=get_optimizer(optimizer, **params),
            batch_size=mini_batch_size,
            epochs=epochs,
            sampling="replacement",
            eval_samples=evaluate_sample_num_per_epoch,
            rng=rng,
            callbacks=[_BookLines()] if self.verbose else (),
        )

    @property
    def network(self) -> Any:
        """The network being trained (the book's name for ``net``)."""
        return self.net

    @property
    def train_acc_list(self) -> list[float]:
        return [r.train_acc for r in self.history.records]

    @property
    def test_acc_list(self) -> list[float | None]:
        return [r.test_acc for r in self.history.records]

    @property
    def train_loss_list(self) -> list[float]:
        return list(self.history.loss)

    # The book's scripts also train their own network classes, which have ``params`` but no
    # state_dict: for them the network to go back to after a divergence is its parameters.
    @staticmethod
    def _snapshot(net: Any) -> dict[str, dict[str, Any]]:
        if hasattr(net, "state_dict"):
            return _Trainer._snapshot(net)
        return {"params": {k: np.array(v, copy=True) for k, v in net.params.items()}, "layers": {}}

    def restore(self, state: dict[str, Any]) -> None:
        if hasattr(self.net, "load_state_dict"):
            super().restore(state)
            return
        for key, value in state["params"].items():
            self.net.params[key][...] = value  # in place: the book's layers hold these arrays

    def train(self) -> History:
        """Run every epoch, then report the accuracy on the whole test set (the book's
        ``train``); returns the :class:`~scratchdl.train.History` as well."""
        history = self.fit()
        test_acc = self.net.accuracy(self.x_test, self.t_test)  # the net's own chunking
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
        return history
