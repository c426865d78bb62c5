"""Chapter 6.3: Batch Normalization learns faster (the book's batch_norm_test.py, one scale).

Two MultiLayerNetExtend (784-100x5-10), one with BatchNorm, trained side by side on the same
1000 MNIST images with SGD (lr 0.01, batch 100) for 20 epochs, printing the training accuracy
of each per epoch as the book does: "epoch:N | without - with". The initial weights have
std 0.05 (one of the book's 16 scales; the argument sets another).
"""

import sys

import numpy as np

from scratchdl.errors import ScratchdlError
from scratchdl.nets import MultiLayerNetExtend
from scratchdl.optimizers import SGD


def main(weight_init_std: float = 0.05, max_epochs: int = 20) -> None:
    from scratchdl.data import load_mnist

    try:
        (x_train, t_train), _ = load_mnist(normalize=True, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    x_train, t_train = x_train[:1000], t_train[:1000]
    sizes = dict(input_size=784, hidden_size_list=[100] * 5, output_size=10)
    bn_network = MultiLayerNetExtend(
        **sizes, weight_init_std=weight_init_std, use_batchnorm=True, rng=0
    )
    network = MultiLayerNetExtend(**sizes, weight_init_std=weight_init_std, rng=0)
    optimizer = SGD(lr=0.01)
    rng = np.random.default_rng(0)
    print(f"weight_init_std {weight_init_std}: accuracy without - with BatchNorm")
    for epoch in range(max_epochs):
        for _ in range(10):  # 1000 images in batches of 100
            batch = rng.choice(1000, 100)
            for net in (bn_network, network):
                optimizer.update(net.params, net.gradient(x_train[batch], t_train[batch]))
        acc, bn_acc = network.accuracy(x_train, t_train), bn_network.accuracy(x_train, t_train)
        print(f"epoch:{epoch} | {acc} - {bn_acc}")


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]))
