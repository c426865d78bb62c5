"""``scratchdl export-web``: the digit page as static files that run the network in JavaScript."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl._fs import atomic_path
from scratchdl.errors import ConfigError

__all__ = ["export_web", "web_model"]

#: Layer classes the page's JavaScript runs, by class name.
_WEB_LAYERS = {"Affine": "affine", "Relu": "relu", "Sigmoid": "sigmoid"}


def web_model(net: Any, name: str = "model") -> dict[str, Any]:
    """The network as the page's ``model.js`` holds it: layer list and base64 float32 weights.

    Raises
    ------
    ConfigError
        If ``net`` has a layer the page cannot run (only Affine, ReLU and sigmoid layers:
        MLPs such as TwoLayerNet, MultiLayerNet and the book's imported weights).
    """
    layers = getattr(net, "layers", None)
    if layers is None:
        raise ConfigError(f"net must be a layered network, got {type(net).__name__}")
    if isinstance(layers, dict):
        layers = list(layers.values())
    spec, chunks = [], []
    for layer in layers:
        kind = _WEB_LAYERS.get(type(layer).__name__)
        if kind is None:
            raise ConfigError(
                f"the web page runs MLPs (Affine, ReLU and sigmoid layers); {name} has a "
                f"{type(layer).__name__} layer: use 'scratchdl serve' for this model"
            )
        if kind == "affine":
            W = np.ascontiguousarray(layer.W, dtype="<f4")
            b = np.ascontiguousarray(layer.b, dtype="<f4")
            spec.append({"type": kind, "in": int(W.shape[0]), "out": int(W.shape[1])})
            chunks += [W.tobytes(), b.tobytes()]
        else:
            spec.append({"type": kind})
    blob = b"".join(chunks)
    return {
        "name": name,
        "layers": spec,
        "weights": base64.b64encode(blob).decode("ascii"),
        "weight_bytes": len(blob),
    }


def export_web(net: Any, out: str | os.PathLike[str], name: str = "model") -> dict[str, int]:
    """Write the page (``index.html``, ``app.js``, ``mnist.js``, ``style.css``) and the
    network (``model.js``: float32 weights in base64) to the folder ``out``.

    The page needs no server: open ``index.html`` from the disk or put the folder on any
    static host. Returns the size in bytes of each file written.
    """
    from scratchdl.serve import _PAGE_MARK, page_file

    model = web_model(net, name)
    files = {
        "index.html": page_file("index.html").replace(
            _PAGE_MARK, '<script src="model.js"></script>'
        ),
        "app.js": page_file("app.js"),
        "mnist.js": page_file("mnist.js"),
        "style.css": page_file("style.css"),
        "model.js": "window.SCRATCHDL_MODEL = " + json.dumps(model) + ";\n",
    }
    sizes = {}
    for filename, text in files.items():
        data = text.encode("utf-8")
        with atomic_path(Path(out) / filename) as tmp:
            tmp.write_bytes(data)
        sizes[filename] = len(data)
    return sizes
