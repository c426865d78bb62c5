"""Checks of settings and arguments: one readable sentence when a value cannot be used.

Each check returns the value (as a plain ``int``/``float``) or raises ``error`` (default
:class:`~scratchdl.errors.ConfigError`) naming ``name``, the parameter as the caller knows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchdl.errors import ConfigError, ShapeError

__all__ = [
    "check_choice",
    "check_non_negative",
    "check_non_negative_int",
    "check_positive",
    "check_positive_int",
    "check_probability",
    "generator_from_state",
    "is_int",
]


def is_int(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_positive_int(value: Any, name: str, error: type[Exception] = ConfigError) -> int:
    """``value`` as an int ``>= 1``."""
    if not is_int(value) or value < 1:
        raise error(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative_int(value: Any, name: str, error: type[Exception] = ConfigError) -> int:
    """``value`` as an int ``>= 0``."""
    if not is_int(value) or value < 0:
        raise error(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_positive(value: Any, name: str, error: type[Exception] = ConfigError) -> float:
    """``value`` as a finite float ``> 0``."""
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise error(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_non_negative(value: Any, name: str, error: type[Exception] = ConfigError) -> float:
    """``value`` as a finite float ``>= 0``."""
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise error(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_probability(value: Any, name: str, error: type[Exception] = ConfigError) -> float:
    """``value`` as a float in ``[0, 1)``: a dropout ratio, a momentum."""
    if not (_is_real(value) and 0 <= value < 1):
        raise error(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def check_choice(value: Any, choices: Sequence[str], name: str) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")
    return value


#: Bit generators a saved generator state may name (a file names one; nothing else is called).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def generator_from_state(
    state: Any, name: str = "its random generator state"
) -> np.random.Generator:
    """The generator whose ``bit_generator.state`` is ``state`` (a checkpoint's or a model
    file's): only one of NumPy's bit generators is built, whatever the file names; else
    :class:`~scratchdl.errors.ShapeError`."""
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in _BIT_GENERATORS:
        raise ShapeError(f"{name} names an unknown generator {kind!r}")
    bit_generator = getattr(np.random, kind)()
    try:
        bit_generator.state = state
    except (ValueError, TypeError, KeyError) as exc:
        raise ShapeError(f"{name} is unreadable ({exc})") from None
    return np.random.Generator(bit_generator)
