"""Command-line options shared by several commands, spelled and explained once."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from scratchdl.errors import ConfigError


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir D``: where the dataset's IDX files are (see ``scratchdl data info``)."""
    parser.add_argument(
        "--data-dir",
        metavar="D",
        help="data folder (default: $SCRATCHDL_DATA_DIR, else the user cache)",
    )


def add_lang(parser: argparse.ArgumentParser, what: str) -> None:
    """``--lang en|ko``: the language of ``what`` (Korean needs a Hangul font for figures)."""
    parser.add_argument(
        "--lang",
        choices=("en", "ko"),
        default="en",
        help=f"language of {what} (default en; ko draws Korean figure text when a Hangul font "
        "is installed, else prints how to install one and keeps English)",
    )


# -- flags made from a dataclass's fields (TrainConfig, a sweep's Options) --------------------
def _field_type(tp: Any) -> Any:
    """The base type of a field annotation such as ``float | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else str
    return tp


@functools.cache
def _type_hints(options: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass, worked out once: every ``main()`` call builds
    the parser again, and resolving them was a third of that."""
    return typing.get_type_hints(options)


def _flag_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def flag_name(name: str) -> str:
    """The command-line flag of a parameter name: ``batch_size`` is ``--batch-size``."""
    return "--" + name.replace("_", "-")


def add_flags(
    parser: argparse.ArgumentParser,
    options: type,
    defaults_note: str = "",
    exclusive: Sequence[str] = (),
) -> None:
    """One ``--flag`` per field of the ``options`` dataclass, from its metadata: ``help``,
    ``choices``, ``metavar``, ``default_text`` (the default shown when it is not the field's;
    "" shows none) and ``flag`` (False: no flag). A bool is ``--flag``/``--no-flag``; a tuple
    may be given several times (``--hidden 100 --hidden 50``); the fields in ``exclusive``
    exclude each other. Every value stays text (None when not given) until
    :func:`flag_values` converts and checks it."""
    hints = _type_hints(options)
    inherited = {
        f.name
        for base in options.__mro__[1:]
        if dataclasses.is_dataclass(base)
        for f in dataclasses.fields(base)
    }
    group = parser.add_mutually_exclusive_group() if exclusive else parser
    # The sweep's own options first (they are its question), then the shared ones.
    for f in sorted(dataclasses.fields(options), key=lambda f: f.name in inherited):
        meta = f.metadata
        if not meta.get("flag", True):
            continue
        tp, shown = _field_type(hints[f.name]), meta.get("default_text")
        if f.name == "epochs" and defaults_note:
            shown = defaults_note
        elif shown is None and f.default is not None:
            shown = ("on" if f.default else "off") if tp is bool else _flag_text(f.default)
        kwargs: dict[str, Any] = {
            "default": None,
            "help": meta.get("help", "") + (f" (default: {shown})" if shown else ""),
        }
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            choices = meta.get("choices")
            kwargs["metavar"] = meta.get("metavar") or (
                "{" + ",".join(choices) + "}" if choices else f.name.upper()
            )
            if typing.get_origin(tp) is tuple:
                kwargs["action"] = "append"
        (group if f.name in exclusive else parser).add_argument(flag_name(f.name), **kwargs)


def _convert(text: Any, tp: Any, flag: str, choices: Sequence[str] | None) -> Any:
    from scratchdl.experiments.config import parse_float_list, parse_init, parse_int_list

    if tp is bool:
        return text
    if typing.get_origin(tp) is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}

        def parse(one: str) -> tuple[Any, ...]:
            if item is int:
                return parse_int_list(one, flag, minimum=0 if flag == "--seeds" else 1)
            if item is float:
                return parse_float_list(one, flag)
            return tuple(p.strip() for p in one.split(",") if p.strip())

        return tuple(v for one in text for v in parse(one))
    if choices and text.lower() not in choices:
        raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {text!r}")
    if tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            what = "a whole number" if tp is int else "a number"
            raise ConfigError(f"{flag} must be {what}, got {text!r}") from None
    if flag == "--init":
        return parse_init(text)
    return text.lower() if choices else text


def flag_values(options: type, args: argparse.Namespace) -> dict[str, Any]:
    """The values of the flags :func:`add_flags` made that were given, converted and checked
    (one readable :class:`ConfigError` for a bad one)."""
    hints = _type_hints(options)
    return {
        f.name: _convert(
            raw, _field_type(hints[f.name]), flag_name(f.name), f.metadata.get("choices")
        )
        for f in dataclasses.fields(options)
        if f.metadata.get("flag", True) and (raw := getattr(args, f.name, None)) is not None
    }


def options_from_args(options: type, args: argparse.Namespace) -> Any:
    """The ``options`` dataclass from parsed flags (unset flags keep the defaults)."""
    return options(**flag_values(options, args))
