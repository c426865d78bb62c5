"""Chapter 7.5: train the book's SimpleConvNet on MNIST (the book's train_convnet.py).

conv(30 filters 5x5) - relu - pool - affine 100 - relu - affine 10, Adam (lr 0.001), batches of
100, accuracies each epoch on 1000 samples of each set, then the whole test set: the book's
Trainer lines. The book trains 20 epochs (test accuracy 0.9896 in the book); the argument sets
fewer: `python examples/ch07_train_convnet.py 1` (600 steps) ended at 0.9617 here.
"""

import sys

from scratchdl.errors import ScratchdlError
from scratchdl.nets import SimpleConvNet
from scratchdl.train.book import Trainer


def main(max_epochs: int = 20) -> None:
    from scratchdl.data import load_mnist

    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    network = SimpleConvNet(
        input_dim=(1, 28, 28),
        conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
        hidden_size=100,
        output_size=10,
        weight_init_std=0.01,
        rng=0,
    )
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=max_epochs,
        mini_batch_size=100,
        optimizer="Adam",
        optimizer_param={"lr": 0.001},
        evaluate_sample_num_per_epoch=1000,
        verbose=False,  # the book's verbose Trainer prints the loss of all 600 steps per epoch
        rng=0,
    )
    history = trainer.train()
    for r in history.records:
        print(f"=== epoch:{r.epoch}, train acc:{r.train_acc}, test acc:{r.test_acc} ===")
    print("test acc:" + str(network.accuracy(x_test, t_test)))
    print(f"{history.elapsed:.0f} s for {history.iterations} steps")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
