"""The ``scratchdl`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function; the module
does its heavy imports inside the handler so ``scratchdl --help`` stays fast. Errors the library
raises on purpose (:class:`~scratchdl.errors.ScratchdlError`) are printed as one line and exit
with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from scratchdl import __version__
from scratchdl.errors import ScratchdlError

# Order is the order in ``scratchdl --help``.
_COMMAND_MODULES = (
    "scratchdl.cli.train",
    "scratchdl.cli.evaluate",
    "scratchdl.cli.serve",
    "scratchdl.cli.data",
    "scratchdl.cli.models",
    "scratchdl.cli.sweep",
    "scratchdl.cli.figures",
    "scratchdl.cli.notebooks",
    "scratchdl.cli.basics",
)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line plus a hint, exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n(run '{self.prog} --help' for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = _Parser(prog="scratchdl", description="Deep learning from scratch in NumPy.")
    parser.add_argument("--version", action="version", version=f"scratchdl {__version__}")
    # Not required: a bare ``scratchdl`` prints the help instead of an error (see main).
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


class _PipeSafeStdout:
    """Standard output that survives its reader going away.

    When ``scratchdl train | head -1`` closes the pipe, the next print would raise
    BrokenPipeError in the middle of training and lose the run. Instead, output from then on
    goes to the null device and the command finishes its work (and writes its files).
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    def _divert(self) -> None:
        self.broken = True
        # Not a real file (e.g. captured in tests): dropping the text is enough.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._divert()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._divert()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _warning_text(message: Warning | str, category: type[Warning]) -> str:
    """A library warning as one line in our words: no source line, no class name."""
    text = " ".join(str(message).split())
    if issubclass(category, RuntimeWarning) and " encountered in " in text:
        # NumPy's floating-point warnings ("overflow encountered in exp").
        problem, _, where = text.partition(" encountered in ")
        return (
            f"numerical {problem} in {where}: some values became infinite or undefined "
            "(a learning rate or input scale far too large is the usual cause)"
        )
    return text


@contextlib.contextmanager
def _warnings_in_our_words(command: str) -> Any:
    """Print every warning once, as ``scratchdl CMD: warning: ...``, for the command's length."""
    import warnings

    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = _warning_text(message, category)
        if text not in seen:
            seen.add(text)
            print(f"scratchdl {command}: warning: {text}", file=sys.stderr, flush=True)

    import logging

    # matplotlib reports through logging ("Could not save font_manager cache"): only errors.
    mpl_logger = logging.getLogger("matplotlib")
    level = mpl_logger.level
    mpl_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show
            yield
    finally:
        mpl_logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scratchdl`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # Like git: no command prints the usage and the commands, and a non-zero status (2, our
        # status for a usage error) so a script that forgot the command still notices.
        parser.print_help()
        return 2
    real_stdout = sys.stdout
    sys.stdout = _PipeSafeStdout(real_stdout)
    try:
        with _warnings_in_our_words(args.command):
            return _run(args)
    finally:
        sys.stdout = real_stdout


#: Python parameter names in the library's errors, and the flags that set them here.
PARAMETER_FLAGS = {
    "data_dir": "--data-dir",
    "max_seconds": "--max-seconds",
    "batch_size": "--batch-size",
    "eval_samples": "--eval-samples",
    "weight_decay_lambda": "--weight-decay",
    "checkpoint_dir": "--out",
}
_PARAMETER = re.compile(r"(?<![\w./-])(" + "|".join(PARAMETER_FLAGS) + r")(?![\w/])")


def as_flags(message: str) -> str:
    """A library error as the command line says it: parameter names become flags."""
    return _PARAMETER.sub(lambda m: PARAMETER_FLAGS[m.group(1)], message)


def _run(args: argparse.Namespace) -> int:
    try:
        status = args.func(args)
    except ScratchdlError as exc:
        print(f"scratchdl {args.command}: error: {as_flags(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"scratchdl {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``scratchdl evaluate --json | head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"scratchdl {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
