"""Chapter 5: the apple and orange computational graphs, and the gradient check."""

import numpy as np

from scratchdl.gradient import gradient_check
from scratchdl.layers import AddLayer, MulLayer
from scratchdl.nets import TwoLayerNet


def apple() -> None:
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    print("apple price:", round(price, 10))
    dapple_price, dtax = mul_tax_layer.backward(1)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    print("dapple, dapple_num, dtax:", round(dapple, 10), round(dapple_num, 10), dtax)


def apple_orange() -> None:
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple_layer, mul_orange_layer = MulLayer(), MulLayer()
    add_apple_orange_layer, mul_tax_layer = AddLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)
    print("apple + orange price:", round(price, 10))
    dall_price, dtax = mul_tax_layer.backward(1)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    print(
        "dapple_num, dapple, dorange, dorange_num, dtax:",
        round(dapple_num, 10),
        round(dapple, 10),
        round(dorange, 10),
        round(dorange_num, 10),
        dtax,
    )


def check() -> None:
    net = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=0)
    rng = np.random.default_rng(1)
    x, t = rng.random((3, 784)).astype(np.float32), np.array([3, 1, 4])
    for key, diff in gradient_check(net, x, t).items():
        print(f"{key}: {diff:.3e}")


def main() -> None:
    apple()
    apple_orange()
    print("gradient check, TwoLayerNet(784, 50, 10), batch of 3 (mean |numerical - backprop|):")
    check()


if __name__ == "__main__":
    main()
