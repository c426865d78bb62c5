"""Exceptions with messages meant for people.

Every error the library raises on purpose derives from :class:`ScratchdlError`, so the CLI can
print it as one line instead of a traceback.
"""

from __future__ import annotations


class ScratchdlError(Exception):
    """Base class: the message names the problem and the fix."""


class ShapeError(ScratchdlError, ValueError):
    """An array has the wrong shape, dtype or values (labels out of range, ...)."""


class InputTypeError(ScratchdlError, TypeError):
    """An argument of the wrong kind: strings or complex numbers where real numbers belong, an
    object that is not a network where a network belongs, ..."""


class ConfigError(ScratchdlError, ValueError):
    """An impossible setting: batch size 0, negative learning rate, hidden size 0, ..."""


class DataError(ScratchdlError):
    """A dataset file is missing, truncated, corrupt or fails its checksum."""


class DownloadError(DataError):
    """No source could provide a dataset file."""


class ModelFileError(ScratchdlError):
    """A model or weight file is not ours, is damaged, or is unsafe to load."""


class DivergenceError(ScratchdlError):
    """Training produced a NaN or infinite loss."""


class StateError(ScratchdlError, RuntimeError):
    """A method was called out of order, such as ``backward`` before ``forward``."""
