"""Chapter 8.1: the book's DeepConvNet with its trained weights (deep_convnet_params.pkl).

Like the book's misclassified_mnist.py: the test accuracy (the book: 0.9935) and the first
misclassified digits as {view index: (label, inference)}. Give the weight file as the argument,
or set SCRATCHDL_BOOK_WEIGHTS to the folder's sample_weight.pkl; without it, or without MNIST,
the evaluation is skipped with a note. The book's weights load through a restricted unpickler.
"""

import os
import sys
from pathlib import Path

import numpy as np

from scratchdl.errors import ScratchdlError
from scratchdl.io import load_book_weights


def weights_path() -> Path | None:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    beside = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    return Path(beside).parent / "deep_convnet_params.pkl" if beside else None


def main() -> None:
    path = weights_path()
    if path is None or not path.exists():
        print("DeepConvNet evaluation skipped: no deep_convnet_params.pkl weights (give the path)")
        return
    network = load_book_weights(path, model="deep-cnn")
    print(network)
    try:
        from scratchdl.data import load_mnist

        _, (x_test, t_test) = load_mnist(flatten=False, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    print("calculating test accuracy ... ")
    y = np.concatenate(
        [network.predict(x_test[i : i + 500]).argmax(axis=1) for i in range(0, len(x_test), 500)]
    )
    print("test accuracy:" + str(np.mean(y == t_test)))
    wrong = np.flatnonzero(y != t_test)[:20]
    print("======= misclassified result =======")
    print("{view index: (label, inference), ...}")
    print({i + 1: (int(t_test[k]), int(y[k])) for i, k in enumerate(wrong)})


if __name__ == "__main__":
    main()
