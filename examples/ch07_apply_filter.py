"""Chapter 7.2-7.4: im2col, a convolution layer and what its filters do to a digit.

Prints the book's im2col shapes (ch. 7.4.3), the output size formula (ch. 7.2.4) and, when
MNIST is available, the feature maps of four hand-made filters on a test digit
(`scratchdl figures --only conv_digit` draws them).
"""

import numpy as np

from scratchdl.errors import ScratchdlError
from scratchdl.layers import Convolution, Pooling
from scratchdl.plots.chapters67 import simple_filters
from scratchdl.util import conv_output_size, im2col


def main() -> None:
    rng = np.random.default_rng(0)
    x1 = rng.random((1, 3, 7, 7))
    print("im2col of (1, 3, 7, 7) with 5x5 filters:", im2col(x1, 5, 5, stride=1, pad=0).shape)
    x2 = rng.random((10, 3, 7, 7))
    print("im2col of (10, 3, 7, 7) with 5x5 filters:", im2col(x2, 5, 5, stride=1, pad=0).shape)
    print("output size of 4x4 input, 3x3 filter, pad 1, stride 1:", conv_output_size(4, 3, 1, 1))
    print("output size of 7x7 input, 3x3 filter, pad 0, stride 2:", conv_output_size(7, 3, 2, 0))

    try:
        from scratchdl.data import load_mnist

        _, (x_test, t_test) = load_mnist(flatten=False, download=False)
    except ScratchdlError as exc:
        print(f"MNIST part skipped: {exc}")
        return
    filters, names = simple_filters()
    conv = Convolution(filters, np.zeros(len(filters), dtype=np.float32))
    pool = Pooling(pool_h=2, pool_w=2, stride=2)
    maps = conv.forward(x_test[:1])
    pooled = pool.forward(maps)
    print(f"digit {t_test[0]}: {x_test[:1].shape} -> conv {maps.shape} -> pool {pooled.shape}")
    for name, m in zip(names, maps[0], strict=True):
        print(f"  {name:16s} strongest response {m.max():6.3f}, weakest {m.min():6.3f}")


if __name__ == "__main__":
    main()
