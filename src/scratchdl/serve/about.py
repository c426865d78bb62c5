"""What the digit page says about its network: class, layers and test accuracy.

``scratchdl serve`` (``GET /info``) and ``scratchdl export-web`` (``model.js``) show the same
facts. The test accuracy is the one the model file records (``scratchdl train`` writes it), or
else measured on MNIST's 10,000 test images when they are on this computer (nothing is
downloaded for it), or else "not measured".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratchdl.errors import DataError

__all__ = ["NOT_MEASURED", "describe_layers", "measure_test_accuracy", "model_about"]

NOT_MEASURED = "not measured (no MNIST test set on this computer)"


def _layer_words(layer: Any) -> str | None:
    kind = type(layer).__name__
    if kind == "Convolution":
        FN, _, FH, FW = layer.W.shape
        words = f"conv {FN}@{FH}x{FW}"
        words += f" pad {layer.pad}" if layer.pad else ""
        return words + (f" stride {layer.stride}" if layer.stride != 1 else "")
    if kind == "Pooling":
        words = f"max-pool {layer.pool_h}x{layer.pool_w}"
        if layer.stride != layer.pool_h or layer.stride != layer.pool_w:
            words += f" stride {layer.stride}"
        return words + (f" pad {layer.pad}" if layer.pad else "")
    if kind == "Affine":
        return f"affine {layer.W.shape[1]}"
    if kind == "Dropout":
        return f"dropout {layer.dropout_ratio:g}"
    if kind == "Relu":
        return "ReLU"
    if kind == "BatchNormalization":
        return "batch-norm"
    return kind.lower()


def describe_layers(net: Any) -> str:
    """The layers in order, in a few words each (``conv 16@3x3 pad 1 → ReLU → ...``), or
    ``repr(net)`` for a network without layers."""
    layers = getattr(net, "layers", None)
    if layers is None:
        return repr(net)
    if isinstance(layers, dict):
        layers = list(layers.values())
    return " → ".join(w for w in map(_layer_words, layers) if w)


def measure_test_accuracy(net: Any) -> float | None:
    """Accuracy of ``net`` on MNIST's 10,000 test images, or None when they are not on this
    computer (``SCRATCHDL_DATA_DIR`` or the user cache; never downloaded here)."""
    from scratchdl.data import load_mnist
    from scratchdl.nets import evaluate

    try:
        # uint8, scaled here as load_mnist(normalize=True) scales: the training images are
        # not needed, nor their float32 copy.
        _, (x, t) = load_mnist(normalize=False, flatten=False, download=False)
    except (DataError, OSError):
        return None
    x = x.astype(np.float32)
    x /= np.float32(255.0)
    return evaluate(net, x.astype(net.dtype, copy=False), t)[0]


def _recorded(net: Any) -> tuple[float, str] | None:
    meta = getattr(net, "metadata", None) or {}
    acc = meta.get("test_acc")
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not math.isfinite(acc):
        return None
    if not 0.0 <= acc <= 1.0:
        return None
    dataset = meta.get("dataset")
    where = f"on the {dataset} test set" if isinstance(dataset, str) else "on its test set"
    return float(acc), f"recorded when the model was trained, {where}"


def model_about(net: Any, *, measure: bool = False, when: str = "exported") -> dict[str, Any]:
    """The facts the page shows: ``network`` (class), ``summary`` (the layers), ``parameters`` (count),
    ``test_acc`` (a fraction, or None) and ``test_acc_note`` (where it comes from).

    Parameters
    ----------
    net : Net
    measure : bool
        Measure the test accuracy on MNIST when the model records none (a few seconds for a
        CNN).
    when : str
        Shown in the note: "measured on ... when <when>".
    """
    params = getattr(net, "params", {}) or {}
    about: dict[str, Any] = {
        "network": type(net).__name__,
        "summary": describe_layers(net),
        "parameters": int(sum(getattr(v, "size", 0) for v in params.values())),
        "test_acc": None,
        "test_acc_note": "not measured",
    }
    recorded = _recorded(net)
    if recorded is not None:
        about["test_acc"], about["test_acc_note"] = recorded
    elif measure:
        meta = getattr(net, "metadata", None) or {}
        if meta.get("dataset", "mnist") != "mnist":
            about["test_acc_note"] = f"not measured (the model was trained on {meta['dataset']})"
            return about
        acc = measure_test_accuracy(net)
        if acc is None:
            about["test_acc_note"] = NOT_MEASURED
        else:
            about["test_acc"] = acc
            about["test_acc_note"] = f"on MNIST's 10,000 test images, measured when {when}"
    return about
