"""Option parsing and checks shared by the sweeps: one readable error per bad value."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from scratchdl.choices import ACTIVATIONS, INITS
from scratchdl.errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "Variant",
    "parse_float_list",
    "parse_init",
    "parse_int_list",
    "parse_variants",
]

T = TypeVar("T")


def _parse_list(text: str, option: str, convert: Callable[[str], T], what: str) -> tuple[T, ...]:
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ConfigError(f"{option} must be a comma-separated list of {what}, got {text!r}")
    values = []
    for p in parts:
        try:
            values.append(convert(p))
        except ValueError:
            raise ConfigError(
                f"{option}: {p!r} is not valid, expected {what} (got {text!r})"
            ) from None
    if len(set(values)) != len(values):
        raise ConfigError(f"{option} lists a value twice: {text!r}")
    return tuple(values)


def parse_int_list(text: str, option: str, *, minimum: int = 1) -> tuple[int, ...]:
    """``"10,100"`` -> ``(10, 100)``; every value a whole number ``>= minimum``."""
    values = _parse_list(text, option, int, "whole numbers")
    bad = [v for v in values if v < minimum]
    if bad:
        raise ConfigError(f"{option} values must be >= {minimum}, got {bad[0]}")
    return values


def parse_float_list(text: str, option: str) -> tuple[float, ...]:
    """``"0.01,0.1"`` -> ``(0.01, 0.1)``; every value finite and > 0."""
    values = _parse_list(text, option, float, "positive numbers")
    bad = [v for v in values if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ConfigError(f"{option} values must be positive finite numbers, got {bad[0]}")
    return values


def parse_init(text: str) -> float | str:
    if text.lower() in INITS:
        return text.lower()
    try:
        std = float(text)
    except ValueError:
        raise ConfigError(
            f"init must be 'he', 'xavier' or a positive std such as 0.01, got {text!r}"
        ) from None
    if not (math.isfinite(std) and std > 0):
        raise ConfigError(f"init std must be positive, got {text!r}")
    return std


@dataclass(frozen=True)
class Variant:
    """An ``activation+init`` pair such as ``sigmoid+0.01`` or ``relu+he``."""

    activation: str
    init: float | str

    @property
    def label(self) -> str:
        if isinstance(self.init, float):
            return f"{self.activation}+{self.init:g}"
        return f"{self.activation}+{self.init}"


def parse_variants(text: str, option: str = "--variants") -> tuple[Variant, ...]:
    """``"sigmoid+0.01,relu+he"`` -> variants; activation relu|sigmoid, init he|xavier|std."""
    out = []
    for part in _parse_list(text, option, str, "activation+init pairs"):
        act, sep, init = part.partition("+")
        if not sep or act.lower() not in ACTIVATIONS:
            raise ConfigError(
                f"{option}: {part!r} must look like 'relu+he', 'sigmoid+xavier' or 'sigmoid+0.01'"
            )
        out.append(Variant(act.lower(), parse_init(init)))
    return tuple(out)
