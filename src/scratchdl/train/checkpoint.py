"""Checkpoints: save a :class:`~scratchdl.train.Trainer` mid-run and continue it bit for bit.

A checkpoint is a plain ``.npz``: the weights, the last good weights, the optimizer state, the
random generator's state, the sampler's permutation and position, the evaluation subsets and
the history. Arrays and JSON only: loading one never runs code.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scratchdl._fs import atomic_path
from scratchdl._npz import inspect_npz
from scratchdl.errors import ModelFileError, ShapeError
from scratchdl.nets import layer_rng_states, layer_state, set_layer_rng_states, set_layer_state
from scratchdl.train.history import History

if TYPE_CHECKING:
    from scratchdl.train.trainer import Trainer

__all__ = ["config_differences", "load_checkpoint", "read_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "scratchdl-checkpoint"
CHECKPOINT_VERSION = 1
_META_KEY = "__checkpoint__"


def save_checkpoint(trainer: Trainer, path: str | Path) -> Path:
    """Write everything needed to continue this run to ``path`` (a ``.npz``), atomically.

    Holds the weights, the last good weights, the optimizer state, the random generator's
    state, the current permutation and position, the evaluation subsets and the history.
    Plain arrays and JSON only: loading it never runs code.
    """
    path = Path(path)
    arrays: dict[str, NDArray] = {}
    for key, value in trainer.net.params.items():
        arrays[f"param/{key}"] = value
    for key, value in trainer.good.items():
        arrays[f"good/{key}"] = value
    for key, value in layer_state(trainer.net).items():  # BatchNormalization statistics
        arrays[f"state/{key}"] = value
    opt = trainer.optimizer.state_dict()
    for key, slots in opt["state"].items():
        for slot, value in slots.items():
            arrays[f"opt/{key}/{slot}"] = value
    arrays["perm"] = trainer.sampler.perm
    if trainer.eval_train_idx is not None:
        arrays["eval_train_idx"] = trainer.eval_train_idx
    if trainer.eval_test_idx is not None:
        arrays["eval_test_idx"] = trainer.eval_test_idx
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "iteration": trainer.iteration,
        "pos": trainer.sampler.pos,
        "good_iteration": trainer.good_iteration,
        "rng": trainer.rng.bit_generator.state,
        "layer_rngs": layer_rng_states(trainer.net),  # Dropout masks
        "optimizer": {k: v for k, v in opt.items() if k != "state"},
        "trainer": _fingerprint(trainer),
        "history": trainer.history.to_dict(),
        "last_record_elapsed": trainer.last_record_elapsed,
    }
    arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _fingerprint(trainer: Trainer) -> dict[str, Any]:
    """What must match between the run that saved a checkpoint and the one loading it."""
    return {
        "batch_size": trainer.batch_size,
        "sampling": trainer.sampling,
        "total_iters": trainer.total_iters,
        "n_train": int(trainer.x_train.shape[0]),
        "n_test": 0 if trainer.x_test is None else int(trainer.x_test.shape[0]),
        "params": {k: list(v.shape) for k, v in trainer.net.params.items()},
    }


def load_checkpoint(trainer: Trainer, path: str | Path) -> None:
    """Restore the state saved by :meth:`save_checkpoint` into this Trainer.

    The Trainer must have been built like the one that saved it (same network shape,
    optimizer, data sizes, batch size, sampling and length).
    """
    arrays, meta = read_checkpoint(path)
    mismatch = {
        k: (v, meta["trainer"].get(k))
        for k, v in _fingerprint(trainer).items()
        if meta["trainer"].get(k) != v
    }
    if mismatch:
        detail = "; ".join(
            f"{k}: checkpoint {old}, now {new}" for k, (new, old) in mismatch.items()
        )
        raise ModelFileError(
            f"{path} belongs to a different run ({detail}): resume with the same settings"
        )
    opt_state = dict(meta["optimizer"])
    opt_state["state"] = {}
    for name, value in arrays.items():
        if name.startswith("opt/"):
            _, key, slot = name.split("/")
            opt_state["state"].setdefault(key, {})[slot] = value
    trainer.optimizer.load_state_dict(opt_state)
    trainer.restore({k: arrays[f"param/{k}"] for k in trainer.net.params})
    trainer.good = {k: arrays[f"good/{k}"].copy() for k in trainer.net.params}
    try:
        set_layer_state(
            trainer.net, {k[6:]: v for k, v in arrays.items() if k.startswith("state/")}
        )
    except ShapeError as exc:
        raise ModelFileError(f"{path} is damaged: {exc}") from None
    set_layer_rng_states(trainer.net, meta.get("layer_rngs", {}))
    trainer.good_iteration = int(meta["good_iteration"])
    trainer.sampler.perm = arrays["perm"].astype(np.intp)
    trainer.sampler.pos = int(meta["pos"])
    trainer.iteration = int(meta["iteration"])
    trainer.eval_train_idx = arrays.get("eval_train_idx")
    trainer.eval_test_idx = arrays.get("eval_test_idx")
    state = meta["rng"]
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    trainer.rng = trainer.sampler.rng = np.random.Generator(bit_generator)
    trainer.history = History.from_dict(meta["history"])
    trainer.last_record_elapsed = float(meta["last_record_elapsed"])


#: What :func:`load_checkpoint` reads from a checkpoint's record.
_CHECKPOINT_KEYS = (
    "iteration",
    "pos",
    "good_iteration",
    "rng",
    "optimizer",
    "trainer",
    "history",
    "last_record_elapsed",
)


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
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode("utf-8"))
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
    kinds = {
        "iteration": int,
        "pos": int,
        "good_iteration": int,
        "rng": dict,
        "optimizer": dict,
        "trainer": dict,
        "last_record_elapsed": (int, float),
    }
    wrong = [
        k for k, kind in kinds.items() if not isinstance(meta[k], kind) or isinstance(meta[k], bool)
    ]
    if wrong:
        raise ModelFileError(
            f"{path} is damaged or forged: its record has {', '.join(wrong)} of the wrong type"
        )
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path} is damaged: array {name} holds NaN or infinity")
    return arrays, meta


def config_differences(
    a: dict[str, Any], b: dict[str, Any], ignore: Sequence[str] = ()
) -> list[str]:
    """Names of the keys whose values differ between two config dicts."""
    return sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))
