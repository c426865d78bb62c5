"""``scratchdl export-web``: the digit page as static files that run the network in JavaScript.

The folder holds the page (``index.html``, ``app.js``, ``mnist.js``, ``net.js``,
``style.css``), the network (``model.js``: layer list, float32 weights in base64, what the page
says about the network) and ``scratchdl-export.json``, the manifest by which a later export
recognises the folder as its own. Why base64 in a script rather than a binary ``.bin``: a page
opened from the disk (``file://``) may not ``fetch()`` a file beside it in Chromium, but it can
run a script; base64 costs a third more bytes (DeepConvNet: about 0.66 MB), and a static host
that compresses gives most of it back.

Folder rules (no user file is replaced without ``force``): the page is written only into a new
folder, an empty one or an earlier export of ours. It is first written to a hidden staging
folder beside ``out``; a new or empty ``out`` is then replaced by it in one rename, an earlier
export gets each file by an atomic rename, the manifest last (Ctrl-C waits for the renames). A
process killed before leaves its staging folder, removed by the next export into ``out``;
killed among the renames, ``out`` keeps its old manifest and is still recognised as ours.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl import __version__
from scratchdl._fs import _about, _process_alive, ensure_dir
from scratchdl.cli._runfolder import sigint_held
from scratchdl.errors import ConfigError, ModelFileError

__all__ = [
    "MANIFEST",
    "PAGE_FILES",
    "ExportFolderError",
    "check_export_folder",
    "export_web",
    "web_model",
]

#: The manifest file that marks a folder as an export of ours.
MANIFEST = "scratchdl-export.json"
_FORMAT = "scratchdl-web-export"
#: The page's files, as written (the manifest comes last).
PAGE_FILES = ("index.html", "style.css", "mnist.js", "net.js", "app.js", "model.js")
#: What an export wrote before the manifest existed (recognised as ours too).
_OLD_EXPORT = {"index.html", "app.js", "mnist.js", "style.css", "model.js"}
_STAGING = re.compile(r"^\.(.+)\.new\.(\d+)\.[A-Za-z0-9_]+$")


class ExportFolderError(ConfigError):
    """The folder holds files that are not an export of ours (refused without ``force``)."""


def _finite(name: str, value: Any) -> np.ndarray:
    a = np.ascontiguousarray(value, dtype="<f4")
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ModelFileError(
            f"{name} holds {bad} non-finite value{'s' if bad > 1 else ''} (NaN or infinity): "
            "the model diverged or the file is damaged; export a model that evaluates"
        )
    return a


def _layer_spec(key: str, layer: Any, name: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """One layer as ``net.js`` reads it, and its arrays in the order it reads them."""
    kind = type(layer).__name__
    if kind == "Affine":
        W, b = _finite(f"{key}.W", layer.W), _finite(f"{key}.b", layer.b)
        return {"type": "affine", "in": int(W.shape[0]), "out": int(W.shape[1])}, [W, b]
    if kind == "Convolution":
        W, b = _finite(f"{key}.W", layer.W), _finite(f"{key}.b", layer.b)
        FN, C, FH, FW = (int(n) for n in W.shape)
        spec = {"type": "conv", "FN": FN, "C": C, "FH": FH, "FW": FW}
        return {**spec, "stride": int(layer.stride), "pad": int(layer.pad)}, [W, b]
    if kind == "Pooling":
        spec = {"type": "pool", "ph": int(layer.pool_h), "pw": int(layer.pool_w)}
        return {**spec, "stride": int(layer.stride), "pad": int(layer.pad)}, []
    if kind in ("Relu", "Sigmoid"):
        return {"type": kind.lower()}, []
    if kind == "Dropout":
        # At test time the book's Dropout multiplies by 1 - dropout_ratio, in the net's dtype.
        scale = float(np.float32(1.0 - layer.dropout_ratio))
        return {"type": "dropout", "scale": scale}, []
    if kind == "BatchNormalization":
        # Test time: the running statistics, with 1 / sqrt(var + eps) computed as the layer
        # computes it (in the net's dtype), so the page multiplies by the same numbers.
        mean = _finite(f"{key}.running_mean", layer.running_mean)
        var = np.asarray(layer.running_var)
        with np.errstate(invalid="ignore", divide="ignore"):  # a damaged var: refused below
            inv_std = (1.0 / np.sqrt(var + layer.eps)).astype(var.dtype, copy=False)
        arrays = [
            mean,
            _finite(f"{key}.running_var (as 1 / sqrt(var + eps))", inv_std),
            _finite(f"{key}.gamma", layer.gamma),
            _finite(f"{key}.beta", layer.beta),
        ]
        return {"type": "batchnorm", "features": int(mean.shape[0])}, arrays
    raise ConfigError(
        f"the web page runs Affine, ReLU, sigmoid, Convolution, Pooling, Dropout and "
        f"BatchNormalization layers; "
        f"{name} has a {kind} layer ({key}): use 'scratchdl serve' for this model"
    )


def web_model(net: Any, name: str = "model", about: dict[str, Any] | None = None) -> dict[str, Any]:
    """The network as the page's ``model.js`` holds it: input shape, layer list, base64
    float32 weights (each layer's ``W`` then ``b``, C order) and ``about`` (see
    :func:`scratchdl.serve.about.model_about`; computed without measuring when not given).

    Raises
    ------
    ConfigError
        If ``net`` has a layer the page cannot run.
    ShapeError
        If ``net`` does not map 28x28 images to 10 digits.
    ModelFileError
        If a weight is NaN or infinite.
    """
    from scratchdl.images import check_digit_model
    from scratchdl.serve.about import model_about

    layers = getattr(net, "layers", None)
    if layers is None:
        raise ConfigError(f"net must be a layered network, got {type(net).__name__}")
    named = list(layers.items()) if isinstance(layers, dict) else list(enumerate(layers))
    spec, chunks = [], []
    for key, layer in named:
        layer_spec, arrays = _layer_spec(str(key), layer, name)
        spec.append(layer_spec)
        chunks += [a.tobytes() for a in arrays]
    check_digit_model(net, name)
    blob = b"".join(chunks)
    input_dim = getattr(net, "input_dim", None)
    shape = [int(n) for n in input_dim] if input_dim else [int(net.input_size)]
    return {
        "name": name,
        **(about if about is not None else model_about(net)),
        "input": shape,
        "layers": spec,
        "weights": base64.b64encode(blob).decode("ascii"),
        "weight_bytes": len(blob),
    }


def _folder_state(out: Path) -> tuple[str, list[str]]:
    """``('new' | 'empty' | 'ours' | 'foreign', names in the folder)``."""
    if not out.exists():
        if out.is_symlink():
            raise ExportFolderError(f"--out {out} is a broken symbolic link: choose another --out")
        return "new", []
    if not out.is_dir():
        raise ExportFolderError(f"--out {out} is a file, not a folder: choose a folder name")
    names = sorted(os.listdir(out))
    if not names:
        return "empty", names
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and manifest.get("format") == _FORMAT:
            return "ours", names
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    if set(names) <= _OLD_EXPORT and "model.js" in names:
        with contextlib.suppress(OSError), open(out / "model.js", "rb") as f:
            if f.read(30).startswith(b"window.SCRATCHDL_MODEL = "):
                return "ours", names  # an export written before the manifest existed
    return "foreign", names


def check_export_folder(out: str | os.PathLike[str], force: bool = False) -> str:
    """Refuse a folder :func:`export_web` must not write into; return its state (``'new'``,
    ``'empty'``, ``'ours'`` or, with ``force``, ``'foreign'``).

    Raises
    ------
    ExportFolderError
        ``out`` is a file, holds files that are not an export of ours (without ``force``), or
        has a folder where the page writes a file.
    """
    out = Path(out)
    state, names = _folder_state(out)
    if state == "foreign" and not force:
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise ExportFolderError(
            f"--out {out} holds files that are not a scratchdl page export ({shown}): choose a "
            "new or empty folder, or pass --force to write the page there (files of the same "
            "names are replaced)"
        )
    taken = [n for n in (*PAGE_FILES, MANIFEST) if (out / n).is_dir()]
    if taken:
        raise ExportFolderError(
            f"--out {out} has a folder named {taken[0]} where the page writes a file: move it "
            "away or choose another --out"
        )
    return state


def _remove_dead_staging(parent: Path, out_name: str) -> None:
    """Staging folders of exports into ``out_name`` whose process is gone (killed mid-way)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            match = _STAGING.match(entry.name)
            if match and match.group(1) == out_name and not _process_alive(int(match.group(2))):
                shutil.rmtree(entry.path, ignore_errors=True)


def _page_files(model: dict[str, Any]) -> dict[str, bytes]:
    from scratchdl.serve import _PAGE_MARK, page_file

    scripts = '<script src="model.js"></script>\n<script src="net.js"></script>'
    texts = {name: page_file(name) for name in PAGE_FILES if name != "model.js"}
    texts["index.html"] = texts["index.html"].replace(_PAGE_MARK, scripts)
    # allow_nan=False: the page must never read NaN or Infinity (not JSON, not a weight).
    texts["model.js"] = "window.SCRATCHDL_MODEL = " + json.dumps(model, allow_nan=False) + ";\n"
    return {name: texts[name].encode("utf-8") for name in PAGE_FILES}


def export_web(
    net: Any,
    out: str | os.PathLike[str],
    name: str = "model",
    *,
    about: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Write the page and the network (float32 weights in ``model.js``) to the folder ``out``.

    The page needs no server: open ``index.html`` from the disk or put the folder on any
    static host.

    Parameters
    ----------
    net : Net
        A network of Affine, ReLU, sigmoid, Convolution, Pooling, Dropout and
        BatchNormalization layers mapping 28x28 images to 10 scores (MLPs with or without
        batch normalisation and dropout, SimpleConvNet, DeepConvNet).
    out : path-like
        A new or empty folder, or an earlier export (recognised by its ``scratchdl-export.json``).
    name : str
        Shown on the page (the model's file name).
    about : dict, optional
        What the page says about the network (:func:`scratchdl.serve.about.model_about`).
    force : bool
        Write into a folder holding other files too; files with the page's names are replaced,
        the others left alone.

    Returns
    -------
    dict
        Size in bytes of each file written (the manifest included).

    Raises
    ------
    ExportFolderError
        If ``out`` holds other files and ``force`` is False, or is a file.
    ConfigError, ModelFileError
        See :func:`web_model`.
    """
    out = Path(out)
    files = _page_files(web_model(net, name, about))  # every check before anything is written
    state = check_export_folder(out, force)
    manifest = {
        "format": _FORMAT,
        "version": 1,
        "scratchdl_version": __version__,
        "model": name,
        "files": {
            n: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for n, data in files.items()
        },
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")

    parent = out.absolute().parent
    ensure_dir(parent, for_path=out)
    _remove_dead_staging(parent, out.name)
    try:
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.new.{os.getpid()}."))
    except OSError as exc:
        raise _about(exc, out) from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp's folder is private; a web page is not
        for filename, data in files.items():
            try:
                (staging / filename).write_bytes(data)
            except OSError as exc:  # a full disk names the file asked for, not the staged one
                raise _about(exc, out / filename) from None
        # Ctrl-C waits for the renames (milliseconds): the folder is then the new export whole.
        with sigint_held():
            if state in ("new", "empty") and not out.is_symlink():
                try:
                    os.replace(staging, out)  # an empty folder is replaced in one step (POSIX)
                    state = "swapped"
                except OSError:
                    ensure_dir(out)
            if state != "swapped":
                for filename in files:  # each file atomically, the manifest last
                    os.replace(staging / filename, out / filename)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {filename: len(data) for filename, data in files.items()}
