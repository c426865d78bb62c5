"""Chapter 3: activation functions, softmax and the 3-layer toy network's forward pass.

When MNIST is available (in SCRATCHDL_DATA_DIR, else the user cache that `scratchdl data fetch`
fills), it also loads it and prints its shapes; with SCRATCHDL_BOOK_WEIGHTS (the book's
sample_weight.pkl) as well, it runs the book's pretrained network over the test set, one sample at
a time and then in batches of 100 (accuracy 0.9352). Nothing is downloaded.
"""

import os

import numpy as np

from scratchdl.functions import identity_function, relu, sigmoid, softmax, step_function


def init_network() -> dict[str, np.ndarray]:
    """The book's hand-set weights of its 2-3-2-2 network (ch. 3.4.3)."""
    return {
        "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
        "b2": np.array([0.1, 0.2]),
        "W3": np.array([[0.1, 0.3], [0.2, 0.4]]),
        "b3": np.array([0.1, 0.2]),
    }


def forward(network: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    z1 = sigmoid(x @ network["W1"] + network["b1"])
    z2 = sigmoid(z1 @ network["W2"] + network["b2"])
    return identity_function(z2 @ network["W3"] + network["b3"])


def main() -> None:
    x = np.array([-1.0, 1.0, 2.0])
    print("step_function", x, "->", step_function(x))
    print("sigmoid", x, "->", sigmoid(x))
    print("relu", x, "->", relu(x))
    a = np.array([0.3, 2.9, 4.0])
    y = softmax(a)
    print("softmax", a, "->", y, "sum", np.sum(y))
    print("softmax [1010, 1000, 990] ->", softmax(np.array([1010, 1000, 990])))
    y = forward(init_network(), np.array([1.0, 0.5]))
    print("3-layer network output:", y)

    mnist()


def mnist() -> None:
    """The book's MNIST part of chapter 3, skipped (with a hint) when MNIST is not available."""
    from scratchdl.data import load_mnist
    from scratchdl.errors import DataError

    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True, flatten=True, download=False
        )
    except DataError as err:
        reason = str(err).split(". ")[0]
        print(f"(MNIST part skipped: {reason}; get MNIST with `scratchdl data fetch`)")
        return
    print("MNIST shapes:", x_train.shape, t_train.shape, x_test.shape, t_test.shape)

    weights = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    if not weights:
        print("(set SCRATCHDL_BOOK_WEIGHTS to the book's sample_weight.pkl to run its network)")
        return
    from scratchdl.io import load_book_weights

    network = load_book_weights(weights)
    accuracy_cnt = 0
    for i in range(len(x_test)):
        y = network.predict(x_test[i])
        p = np.argmax(y)  # index of the most likely class
        if p == t_test[i]:
            accuracy_cnt += 1
    print("Accuracy:" + str(float(accuracy_cnt) / len(x_test)))

    batch_size = 100
    accuracy_cnt = 0
    for i in range(0, len(x_test), batch_size):
        y_batch = network.predict(x_test[i : i + batch_size])
        p = np.argmax(y_batch, axis=1)
        accuracy_cnt += int(np.sum(p == t_test[i : i + batch_size]))
    print("Accuracy (batches of 100):" + str(float(accuracy_cnt) / len(x_test)))


if __name__ == "__main__":
    main()
