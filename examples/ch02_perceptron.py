"""Chapter 2: perceptrons and logic gates.

Prints the AND, NAND, OR and XOR truth tables, then learns AND/NAND/OR with the perceptron rule
and shows that no single perceptron learns XOR.
"""

from scratchdl.perceptron import GATES, TRUTH_TABLE_INPUTS, fit_perceptron, truth_table


def main() -> None:
    for name, gate in GATES.items():
        print(f"{name}:")
        for x1, x2, y in truth_table(gate):
            print(f"  {x1} {x2} -> {y}")
    print()
    for name in ("AND", "NAND", "OR", "XOR"):
        fit = fit_perceptron(TRUTH_TABLE_INPUTS, truth_table(GATES[name])[:, 2])
        print(f"learning {name}: {fit.message}")


if __name__ == "__main__":
    main()
