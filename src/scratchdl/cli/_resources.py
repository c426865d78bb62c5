"""Up-front resource checks for the commands: refuse a run that cannot fit, before it starts.

``train --hidden 100000`` would otherwise allocate for minutes and then die with a
MemoryError (or take the machine into swap). The estimates count the arrays a run holds at its
peak: the data, the parameters with their gradients, optimizer state and saved copies, and the
activations of the largest forward pass (an evaluation chunk). They are estimates, stated as
such; ``--force`` runs anyway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from scratchdl.errors import ConfigError

#: Python, NumPy, matplotlib and the interpreter's own memory, roughly.
BASELINE_BYTES = 150 * 2**20

#: Optimizer state arrays per parameter (see scratchdl.optimizers).
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}

#: Input features and classes of the datasets ``train`` and ``evaluate`` read.
DATASET_SHAPES = {"mnist": (60000, 10000, 784, 10), "fashion": (60000, 10000, 784, 10)}


def available_memory() -> int | None:
    """Bytes the system can give a new process without swapping (None when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1.5 GiB``, ``320 MiB``: what a person reads at once."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    """Weights and biases of a fully connected net with layer sizes ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _activation_bytes(rows: int, sizes: Sequence[int], itemsize: int, backward: bool) -> int:
    # Per layer: the affine output, the activation output and its mask; backward adds dout.
    per_row = sum(sizes[1:]) * (3 + (2 if backward else 0)) + sizes[0]
    return rows * per_row * itemsize


def train_estimate(
    sizes: Sequence[int],
    itemsize: int,
    batch_size: int,
    eval_rows: int,
    n_samples: int,
    optimizer: str = "sgd",
) -> tuple[int, dict[str, int]]:
    """Peak bytes of training a fully connected net; also the parts of the estimate."""
    n_params = mlp_parameter_count(sizes)
    # weights, gradients, optimizer state, the last good weights and the checkpoint's copy
    copies = 4 + OPTIMIZER_STATES.get(optimizer, 2)
    parts = {
        "parameters": n_params * itemsize * copies,
        "data": n_samples * sizes[0] * itemsize,
        "activations": max(
            _activation_bytes(batch_size, sizes, itemsize, backward=True),
            _activation_bytes(eval_rows, sizes, itemsize, backward=False),
        ),
        "interpreter": BASELINE_BYTES,
    }
    return sum(parts.values()), parts


def gradcheck_estimate(sizes: Sequence[int], samples: int) -> tuple[int, dict[str, int]]:
    """Peak bytes of ``gradcheck``: float64 copies of the net, two gradients of each kind."""
    n_params = mlp_parameter_count(sizes)
    parts = {
        "parameters": n_params * 8 * 6,
        "activations": _activation_bytes(samples, sizes, 8, backward=True),
        "interpreter": BASELINE_BYTES,
    }
    return sum(parts.values()), parts


def check_memory(command: str, estimate: int, parts: dict[str, int], fix: str, force: bool) -> None:
    """Refuse (ConfigError) when ``estimate`` exceeds the memory available, unless ``force``."""
    available = available_memory()
    if force or available is None or estimate <= available:
        return
    detail = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items() if n)
    raise ConfigError(
        f"{command} would need about {format_bytes(estimate)} of memory ({detail}), and this "
        f"machine has {format_bytes(available)} available: {fix}, or pass --force to try anyway"
    )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``4.2 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = [
    "BASELINE_BYTES",
    "available_memory",
    "check_memory",
    "format_bytes",
    "format_duration",
    "gradcheck_estimate",
    "mlp_parameter_count",
    "train_estimate",
]
