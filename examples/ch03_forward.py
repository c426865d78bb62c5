"""Chapter 3: activation functions, softmax and the 3-layer toy network's forward pass.

With SCRATCHDL_BOOK_WEIGHTS (the book's sample_weight.pkl) and MNIST available, it also runs the
book's pretrained network over the test set (accuracy 0.9352).
"""

import os

import numpy as np

from scratchdl.functions import identity_function, relu, sigmoid, softmax, step_function


def init_network() -> dict[str, np.ndarray]:
    """The notes' hand-set weights of a 2-3-2-2 network."""
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

    weights, data_dir = (
        os.environ.get("SCRATCHDL_BOOK_WEIGHTS"),
        os.environ.get("SCRATCHDL_DATA_DIR"),
    )
    if weights and data_dir:
        from scratchdl.data import load_mnist
        from scratchdl.io import load_book_weights

        net = load_book_weights(weights)
        _, (x_test, t_test) = load_mnist(normalize=True, flatten=True, data_dir=data_dir)
        print("Accuracy:" + str(net.accuracy(x_test, t_test)))
    else:
        print(
            "(set SCRATCHDL_BOOK_WEIGHTS and SCRATCHDL_DATA_DIR to run the book's pretrained network)"
        )


if __name__ == "__main__":
    main()
