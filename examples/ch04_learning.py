"""Chapter 4: loss functions, numerical differentiation, gradient descent and simpleNet."""

import numpy as np

from scratchdl.functions import cross_entropy_error, sum_squared_error
from scratchdl.gradient import gradient_descent, numerical_diff, numerical_gradient
from scratchdl.nets import SimpleNet


def function_1(x):
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    return np.sum(x**2)


def main() -> None:
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y_good = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    y_bad = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    print("SSE:", sum_squared_error(y_good, t), sum_squared_error(y_bad, t))
    print("CEE:", cross_entropy_error(y_good, t), cross_entropy_error(y_bad, t))

    print(
        "numerical_diff at 5 and 10:", numerical_diff(function_1, 5), numerical_diff(function_1, 10)
    )
    for point in ([3.0, 4.0], [0.0, 2.0], [3.0, 0.0]):
        print(f"gradient at {tuple(point)}:", numerical_gradient(function_2, np.array(point)))
    print(
        "gradient descent from (-3, 4), lr 0.1:",
        gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1),
    )
    print("  lr 10:", gradient_descent(function_2, np.array([-3.0, 4.0]), lr=10.0))
    print("  lr 1e-10:", gradient_descent(function_2, np.array([-3.0, 4.0]), lr=1e-10))

    # The book's printed weights (ch. 4.4.2), so the numbers below match its own.
    net = SimpleNet(
        [[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]],
        dtype=np.float64,
    )
    x, t = np.array([0.6, 0.9]), np.array([0, 0, 1])
    p = net.predict(x)
    print("simpleNet predict:", p, "argmax", np.argmax(p))
    print("simpleNet loss:", net.loss(x, t))
    print("simpleNet dW:\n", numerical_gradient(lambda w: net.loss(x, t), net.W))


if __name__ == "__main__":
    main()
