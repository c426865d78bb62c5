"""Chapter 6.2: how the initial weights shape the activations of five hidden layers.

The book's weight_init_activation_histogram.py, as numbers instead of histograms: 1000 inputs
from N(0, 1) through five layers of 100 units, for sigmoid with std 1 (outputs pile up at 0 and
1: vanishing gradients), std 0.01 (all near 0.5: every unit says the same), Xavier, and ReLU
with He. `scratchdl figures --only weight_init_histograms` draws the histograms.
"""

from scratchdl.plots.chapters67 import WEIGHT_INIT_SETTINGS, weight_init_activations


def main() -> None:
    for label, activation, std in WEIGHT_INIT_SETTINGS:
        outputs = weight_init_activations(activation, std, rng=0)
        print(label)
        for i, a in enumerate(outputs):
            if activation == "sigmoid":
                note = f"saturated (< 0.01 or > 0.99): {((a < 0.01) | (a > 0.99)).mean():.0%}"
            else:
                note = f"exactly 0: {(a == 0).mean():.0%}"
            print(f"  {i + 1}-layer: mean {a.mean():.3f}  std {a.std():.3f}  {note}")


if __name__ == "__main__":
    main()
