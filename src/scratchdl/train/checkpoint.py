"""Checkpoints: save a :class:`~scratchdl.train.Trainer` mid-run and continue it bit for bit.

A checkpoint is a plain ``.npz``: the weights, the last good weights, the optimizer state, the
random generator's state, the sampler's permutation and position, the evaluation subsets and
the history. Arrays and JSON only: loading one never runs code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from scratchdl._fs import atomic_path
from scratchdl._npz import array_json, inspect_npz, json_array
from scratchdl.errors import ConfigError, ModelFileError, ShapeError

__all__ = ["load_checkpoint", "read_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "scratchdl-checkpoint"
CHECKPOINT_VERSION = 1
_META_KEY = "__checkpoint__"


class _Stateful(Protocol):
    """A :class:`~scratchdl.train.Trainer`, as far as a checkpoint needs one."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def save_checkpoint(trainer: _Stateful, path: str | Path) -> Path:
    """Write :meth:`Trainer.state_dict <scratchdl.train.Trainer.state_dict>` to ``path`` (a
    ``.npz``), atomically: everything needed to continue this run.

    The arrays go in as arrays (``param/W1``, ``state/BatchNorm1/running_mean``, ``good/W1``,
    ``opt/W1/v``, ``perm``...), everything else into one JSON record: loading it never runs
    code.
    """
    path = Path(path)
    meta = trainer.state_dict()
    net, good, opt = meta.pop("net"), meta.pop("good"), meta.pop("optimizer")
    arrays: dict[str, NDArray] = {
        **{f"param/{k}": v for k, v in net["params"].items()},
        **{f"state/{k}": v for k, v in net["layers"].items()},
        # Parameter names have no '/', layer arrays have one: both fit under good/.
        **{f"good/{k}": v for k, v in (good["params"] | good["layers"]).items()},
        **{
            f"opt/{k}/{slot}": v
            for k, slots in opt.pop("state").items()
            for slot, v in slots.items()
        },
        **{
            k: v
            for k in ("perm", "eval_train_idx", "eval_test_idx")
            if (v := meta.pop(k)) is not None
        },
    }
    meta |= {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "layer_rngs": net["rngs"],  # Dropout masks
        "optimizer": opt,
    }
    arrays[_META_KEY] = json_array(meta)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_checkpoint(trainer: _Stateful, path: str | Path) -> None:
    """Restore the state saved by :meth:`save_checkpoint` into this Trainer.

    The Trainer must have been built like the one that saved it (same network shape,
    optimizer, data sizes, batch size, sampling and length).
    """
    arrays, meta = read_checkpoint(path)

    def under(prefix: str, layer: bool) -> dict[str, NDArray]:
        n = len(prefix)
        return {
            k[n:]: v for k, v in arrays.items() if k.startswith(prefix) and ("/" in k[n:]) == layer
        }

    opt_state: dict[str, dict[str, NDArray]] = {}
    for name, value in under("opt/", layer=True).items():
        key, slot = name.split("/")
        opt_state.setdefault(key, {})[slot] = value
    net = {"params": under("param/", False), "layers": under("state/", True)}
    state = {
        **{k: meta[k] for k in _CHECKPOINT_KEYS},
        "augment_rng": meta.get("augment_rng"),  # optional: older checkpoints lack it
        "net": {**net, "rngs": meta.get("layer_rngs", {})},
        # A checkpoint from before the good record kept its layer arrays has the current ones.
        "good": {"params": under("good/", False), "layers": under("good/", True) or net["layers"]},
        "optimizer": {**meta["optimizer"], "state": opt_state},
        "perm": arrays["perm"],
        "eval_train_idx": arrays.get("eval_train_idx"),
        "eval_test_idx": arrays.get("eval_test_idx"),
        "train_seconds": meta.get("train_seconds", 0.0),  # older checkpoints: not kept
    }
    try:
        trainer.load_state_dict(state)
    except ConfigError as exc:
        raise ModelFileError(f"{path}: {exc}: resume with the same settings") from None
    except ShapeError as exc:
        raise ModelFileError(f"{path} is damaged: {exc}") from None


#: What :func:`load_checkpoint` reads from a checkpoint's record, and of what type (the
#: history's is checked with its config).
_CHECKPOINT_KEYS = {
    "iteration": int,
    "pos": int,
    "good_iteration": int,
    "rng": dict,
    "optimizer": dict,
    "trainer": dict,
    "history": None,
    "last_record_elapsed": (int, float),
}


def read_checkpoint(path: str | Path) -> tuple[dict[str, NDArray], dict[str, Any]]:
    """Arrays and metadata of a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no checkpoint at {path}: there is nothing to resume")
    # Headers first: a truncated, forged or oversized file is refused before any allocation.
    inspect_npz(path, what="scratchdl checkpoint")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = array_json(arrays.pop(_META_KEY))
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"{path} is not a readable scratchdl checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != CHECKPOINT_FORMAT
        or meta.get("format_version", 0) > CHECKPOINT_VERSION
    ):
        raise ModelFileError(f"{path} is not a scratchdl checkpoint this version can read")
    missing = [k for k in _CHECKPOINT_KEYS if k not in meta]
    history = meta.get("history")
    if not isinstance(history, dict) or not isinstance(history.get("config"), dict):
        missing.append("history.config")
    if missing:
        raise ModelFileError(
            f"{path} is damaged: its record lacks {', '.join(missing)}; delete it and start the "
            "run again"
        )
    wrong = [
        k
        for k, kind in _CHECKPOINT_KEYS.items()
        if kind and (not isinstance(meta[k], kind) or isinstance(meta[k], bool))
    ]
    if not isinstance(meta.get("augment_rng", {}), dict):
        wrong.append("augment_rng")
    if not isinstance(meta.get("train_seconds", 0.0), (int, float)):
        wrong.append("train_seconds")
    if wrong:
        raise ModelFileError(
            f"{path} is damaged or forged: its record has {', '.join(wrong)} of the wrong type"
        )
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path} is damaged: array {name} holds NaN or infinity")
    return arrays, meta
