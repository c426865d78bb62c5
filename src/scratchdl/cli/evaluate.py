"""``scratchdl evaluate`` and ``scratchdl predict``: use a trained model."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl.choices import DATASETS
from scratchdl.cli._options import add_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``predict`` commands."""
    ev = subparsers.add_parser(
        "evaluate",
        help="test accuracy, per-class accuracy and confusion matrix of a model",
        description="Evaluate a model file on the test set of its dataset.",
    )
    ev.add_argument("model", help="model file written by 'scratchdl train' (model.npz)")
    ev.add_argument(
        "--dataset",
        choices=DATASETS,
        help="test set to use (default: the one the model was trained on, else mnist)",
    )
    add_data_dir(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ev.set_defaults(func=_evaluate)

    pr = subparsers.add_parser(
        "predict",
        help="predict the digit in PNG images",
        description=(
            "Predict the class of each image. Any grayscale or RGB image is converted like "
            "MNIST: a dark-on-light image is inverted to white on black, the digit is scaled "
            "into a 20x20 box and centred by its centre of mass in 28x28 pixels (a 28x28 image "
            "is used as it is)."
        ),
    )
    pr.add_argument("model", help="model file written by 'scratchdl train' (model.npz)")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG (or other) image files")
    pr.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    pr.set_defaults(func=_predict)


def predict_labels(net: Any, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Predicted classes of ``x`` (N, D), in the same batches as training's evaluation."""
    from scratchdl.train import EVAL_BATCH

    batch_size = batch_size or getattr(net, "eval_batch_size", EVAL_BATCH)
    out = np.empty(x.shape[0], dtype=np.intp)
    for start in range(0, x.shape[0], batch_size):
        out[start : start + batch_size] = net.predict(x[start : start + batch_size]).argmax(axis=1)
    return out


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``m[i, j]`` = number of samples of class ``i`` predicted as ``j``, shape (C, C)."""
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _evaluate(args: argparse.Namespace) -> int:
    from scratchdl.data import load_mnist
    from scratchdl.errors import ShapeError
    from scratchdl.io import load_model

    net = load_model(args.model)
    dataset = args.dataset or net.metadata.get("dataset") or "mnist"
    _, (x_test, t_test) = load_mnist(
        normalize=True, flatten=True, data_dir=args.data_dir, dataset=dataset
    )
    n_classes = 10
    if x_test.shape[1] != net.input_size or net.output_size != n_classes:
        raise ShapeError(
            f"{args.model} maps {net.input_size} inputs to {net.output_size} classes but {dataset} has "
            f"{x_test.shape[1]} pixels per image and {n_classes} classes: evaluate a model "
            "trained on this data"
        )
    x_test = x_test.astype(net.dtype, copy=False)
    predicted = predict_labels(net, x_test)
    cm = confusion_matrix(t_test.astype(np.intp), predicted, n_classes)
    per_class = cm.diagonal() / np.maximum(cm.sum(axis=1), 1)
    accuracy = float(np.count_nonzero(predicted == t_test)) / t_test.shape[0]
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(args.model),
                    "dataset": dataset,
                    "n": int(t_test.shape[0]),
                    "accuracy": accuracy,
                    "per_class_accuracy": [float(a) for a in per_class],
                    "confusion_matrix": cm.tolist(),
                }
            )
        )
        return 0
    print(
        f"{args.model} on the {dataset} test set ({t_test.shape[0]} images): "
        f"accuracy {accuracy:.4f}"
    )
    print("\nper-class accuracy")
    for k, acc in enumerate(per_class):
        print(f"  {k}: {acc:.4f}  ({cm[k, k]}/{cm[k].sum()})")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    width = max(len(str(cm.max())), 3)
    print("     " + " ".join(f"{j:>{width}}" for j in range(n_classes)))
    for i in range(n_classes):
        print(f"  {i:>2} " + " ".join(f"{v:>{width}}" for v in cm[i]))
    return 0


def image_to_mnist(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image and convert it like MNIST: (784,) float32 in [0, 1], white digit on black.

    Colour is turned to grayscale; transparency is laid over white. A light background (the
    border's median above mid-grey) means a dark digit, which is inverted. Unless the image is
    already 28x28, the digit's bounding box is scaled to fit 20x20 and placed so its centre of
    mass is at the centre of a 28x28 image, as MNIST was made.
    """
    from PIL import Image, UnidentifiedImageError

    from scratchdl.errors import DataError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            a = _grayscale(img)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: give the path of an image file") from None
    except Image.DecompressionBombError:
        raise DataError(
            f"{path} has too many pixels to be read safely: give a smaller image of the digit"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path} is not an image Pillow can read ({exc}): give a PNG") from None
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if np.median(border) > 127:
        a = 255.0 - a
    if a.shape != (28, 28):
        a = _fit_digit(a)
    return (a / np.float32(255)).astype(np.float32).reshape(784)


def _grayscale(img: Any) -> np.ndarray:
    """Pixel intensities of a Pillow image on a 0..255 scale, float32 (H, W).

    Transparency is laid over white. 16-bit and 32-bit images are scaled by their bit depth
    rather than clipped at 255, which would turn any 16-bit image white.
    """
    from PIL import Image

    if img.mode.startswith("I") or img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16") or (img.mode == "I" and img.format == "PNG"):
            full = 65535.0  # a PNG has no 32-bit gray: mode "I" is a 16-bit one (older Pillow)
        else:
            top = float(a.max(initial=0))
            full = 1.0 if top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        gray = np.clip(a, 0, full) * (255 / full)
        key = img.info.get("transparency")
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            gray[a == key] = 255.0  # the transparent gray level, laid over white
        return gray.astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32)


def _fit_digit(a: np.ndarray) -> np.ndarray:
    from PIL import Image

    mask = a > 0.2 * a.max() if a.max() > 0 else np.zeros(a.shape, dtype=bool)
    if not mask.any():  # blank image: just shrink it
        small = Image.fromarray(a.astype(np.uint8)).resize((28, 28), Image.LANCZOS)
        return np.asarray(small, dtype=np.float32)
    rows, cols = np.nonzero(mask)
    crop = a[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    digit = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).resize(
        (new_w, new_h), Image.LANCZOS
    )
    d = np.asarray(digit, dtype=np.float32)
    canvas = np.zeros((28, 28), dtype=np.float32)
    total = d.sum()
    cy = (np.arange(new_h) @ d.sum(axis=1)) / total if total else new_h / 2
    cx = (np.arange(new_w) @ d.sum(axis=0)) / total if total else new_w / 2
    top = int(np.clip(round(14 - cy), 0, 28 - new_h))
    left = int(np.clip(round(14 - cx), 0, 28 - new_w))
    canvas[top : top + new_h, left : left + new_w] = d
    return canvas


def _predict(args: argparse.Namespace) -> int:
    from scratchdl.errors import ScratchdlError, ShapeError
    from scratchdl.functions import softmax
    from scratchdl.io import load_model

    net = load_model(args.model)
    if net.input_size != 784 or net.output_size != 10:
        raise ShapeError(
            f"{args.model} maps {net.input_size} inputs to {net.output_size} classes, not 28x28 images to "
            "10 digits: give a model trained on MNIST"
        )
    failed = 0
    for path in args.images:
        try:
            x = image_to_mnist(path)
        except ScratchdlError as exc:
            # One bad file must not cost the answers for the others.
            print(f"scratchdl predict: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        p = softmax(net.predict(x.astype(net.dtype)[None]))[0]
        digit = int(p.argmax())
        blank = float(x.max() - x.min()) < 0.1  # nothing drawn: the answer means nothing
        if blank:
            print(
                f"scratchdl predict: warning: {path} looks blank (no stroke found)", file=sys.stderr
            )
        if args.json:
            row = {
                "image": path,
                "prediction": digit,
                "probabilities": [round(float(v), 6) for v in p],
            }
            if blank:
                row["blank"] = True
            print(json.dumps(row))
        else:
            ranked = " ".join(f"{k}:{p[k]:.3f}" for k in range(p.shape[0]))
            print(f"{path}: {digit} ({p[digit]:.1%})   {ranked}")
    # Like a command that partly failed: the good answers are printed, the status says so.
    return 2 if failed else 0
