"""Chapter 6.1: SGD, Momentum, AdaGrad and Adam on f(x, y) = x²/20 + y², then on MNIST.

The first part is the book's optimizer_compare_naive.py: the parameters are a dict of two plain
Python floats. The second is optimizer_compare_mnist.py (a 784-100-100-100-100-10 ReLU net,
batch 128, 2000 iterations; a number on the command line sets fewer), skipped with a note when
MNIST is not available. Python floats, NumPy's generator seeded: the same numbers every run.
"""

import sys

import numpy as np

from scratchdl.errors import ScratchdlError
from scratchdl.nets import MultiLayerNet
from scratchdl.optimizers import SGD, AdaGrad, Adam, Momentum


def df(x, y):
    return x / 10.0, 2.0 * y


def toy_problem() -> None:
    for name, opt in [
        ("SGD", SGD(lr=0.95)),
        ("Momentum", Momentum(lr=0.1)),
        ("AdaGrad", AdaGrad(lr=1.5)),
        ("Adam", Adam(lr=0.3)),
    ]:
        params = {"x": -7.0, "y": 2.0}
        for _ in range(30):
            grads = dict(zip(("x", "y"), df(params["x"], params["y"]), strict=True))
            opt.update(params, grads)
        print(f"{name}: after 30 steps x = {params['x']:.4f}, y = {params['y']:.4f}")


def mnist(max_iterations: int = 2000, batch_size: int = 128) -> None:
    from scratchdl.data import load_mnist

    try:
        (x_train, t_train), _ = load_mnist(normalize=True, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    rng = np.random.default_rng(0)
    optimizers = {"SGD": SGD(), "Momentum": Momentum(), "AdaGrad": AdaGrad(), "Adam": Adam()}
    networks = {
        key: MultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std="he", rng=1)
        for key in optimizers
    }
    for i in range(max_iterations):
        batch = rng.choice(x_train.shape[0], batch_size)
        x_batch, t_batch = x_train[batch], t_train[batch]
        for key, opt in optimizers.items():
            opt.update(networks[key].params, networks[key].gradient(x_batch, t_batch))
        if i % 100 == 0:
            print(f"===========iteration:{i}===========")
            for key in optimizers:
                print(f"{key}:{networks[key].loss(x_batch, t_batch)}")


if __name__ == "__main__":
    toy_problem()
    mnist(*(int(a) for a in sys.argv[1:2]))
