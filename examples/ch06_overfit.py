"""Chapter 6.4: overfitting on 300 images, and two cures: weight decay and Dropout.

The book's overfit_weight_decay.py and overfit_dropout.py: a 784-100x6-10 ReLU network (He
initial weights, the book's default) trained on only 300 MNIST images with SGD (lr 0.01, batch
100) through the book's Trainer form, printing train and test accuracy every 50 epochs. Without
help the network learns the 300 images by heart while the test accuracy stays far below;
weight decay (lambda 0.1) and Dropout (ratio 0.2) narrow that gap.
"""

import sys

from scratchdl.errors import ScratchdlError
from scratchdl.nets import MultiLayerNetExtend
from scratchdl.train.book import Trainer


def run(label: str, epochs: int, data, **options) -> None:
    (x_train, t_train), (x_test, t_test) = data
    network = MultiLayerNetExtend(784, [100] * 6, 10, rng=0, **options)
    trainer = Trainer(
        network, x_train, t_train, x_test, t_test, epochs=epochs, verbose=False, rng=0
    )
    trainer.train()
    print(f"== {label} ==")
    for epoch in sorted({*range(0, epochs, 50), epochs - 1}):
        train_acc, test_acc = trainer.train_acc_list[epoch], trainer.test_acc_list[epoch]
        print(f"epoch:{epoch + 1}, train acc:{train_acc:.4f}, test acc:{test_acc:.4f}")


def main(epochs: int = 201) -> None:
    from scratchdl.data import load_mnist

    try:
        (x_train, t_train), test = load_mnist(normalize=True, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    data = ((x_train[:300], t_train[:300]), test)
    run("no regularisation", epochs, data)
    run("weight decay, lambda 0.1", epochs, data, weight_decay_lambda=0.1)
    run("Dropout, ratio 0.2", epochs, data, use_dropout=True, dropout_ration=0.2)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
