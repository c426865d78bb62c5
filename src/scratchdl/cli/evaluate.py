"""``scratchdl evaluate`` and ``scratchdl predict``: use a trained model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl.choices import DATASETS
from scratchdl.cli._options import add_data_dir

MODEL_HELP = (
    "model file written by 'scratchdl train' (model.npz), a run folder (runs/first), or the "
    "book's weights (sample_weight.pkl, params.pkl, deep_convnet_params.pkl)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``predict`` commands."""
    ev = subparsers.add_parser(
        "evaluate",
        help="test accuracy, per-class accuracy and confusion matrix of a model",
        description=(
            "Evaluate a model file on the test set of its dataset. Given several models, "
            "evaluate their ensemble (ch. 8.1.1): the mean of their softmax probabilities "
            "answers, and each member's own accuracy is shown beside it."
        ),
    )
    ev.add_argument(
        "model",
        nargs="+",
        help=MODEL_HELP + "; several: their ensemble (averaged softmax probabilities)",
    )
    ev.add_argument(
        "--dataset",
        choices=DATASETS,
        help="test set to use (default: the one the model was trained on, else mnist)",
    )
    add_data_dir(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ev.add_argument(
        "--force",
        action="store_true",
        help="run even when the memory estimate exceeds what the machine has available",
    )
    ev.set_defaults(func=_evaluate)

    pr = subparsers.add_parser(
        "predict",
        help="predict the digit in images (photos, drawings, screenshots)",
        description=(
            "Predict the digit in each image. Any PNG, JPEG, ... (grey, colour, transparent, "
            "16-bit, any size) is converted like MNIST: the background (light or dark, even "
            "or not) is removed, the contrast stretched, the digit cropped, its longer side "
            "scaled to 20 pixels and centred by its centre of mass in 28x28 (an image that is "
            "already 28x28 is only cleaned). See what the network sees with --show-input."
        ),
    )
    pr.add_argument("model", help=MODEL_HELP)
    # nargs="*": a forgotten MODEL (``predict digit.jpg``) gets a message that says so, not
    # argparse's "the following arguments are required: IMAGE".
    pr.add_argument("images", nargs="*", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    pr.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    pr.add_argument(
        "--show-input",
        metavar="DIR",
        help="write the 28x28 image the network sees for each IMAGE to DIR (as NAME.png)",
    )
    pr.set_defaults(func=_predict)


def predict_labels(net: Any, x: np.ndarray) -> np.ndarray:
    """Predicted classes of ``x`` (N, D), in the chunks of :func:`scratchdl.nets.evaluate`."""
    from scratchdl.nets import predict_in_chunks

    out = np.empty(x.shape[0], dtype=np.intp)
    for start, scores in predict_in_chunks(net, x):
        out[start : start + scores.shape[0]] = scores.argmax(axis=1)
    return out


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``m[i, j]`` = number of samples of class ``i`` predicted as ``j``, shape (C, C)."""
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _log_probabilities(net: Any, x: np.ndarray) -> np.ndarray:
    """``log softmax(net.predict(x))`` (N, C), in the chunks of :func:`scratchdl.nets.evaluate`."""
    from scratchdl.functions import log_softmax
    from scratchdl.nets import predict_in_chunks

    parts = [log_softmax(scores) for _, scores in predict_in_chunks(net, x)]
    return np.concatenate(parts)


def _load_models(paths: list[str]) -> list[Any]:
    """The models named on the command line (the same file twice is a mistake, not a vote)."""
    from scratchdl.errors import ConfigError
    from scratchdl.serve import load_any_model

    seen: dict[str, str] = {}
    for path in paths:
        key = str(Path(path).resolve())
        if key in seen:
            raise ConfigError(
                f"{path} is given twice (as {seen[key]}): an ensemble averages different models"
            )
        seen[key] = path
    return [load_any_model(path) for path in paths]


def _evaluate(args: argparse.Namespace) -> int:
    from scratchdl.cli._resources import DATASET_SHAPES, check_model_memory
    from scratchdl.data import load_mnist
    from scratchdl.errors import ShapeError
    from scratchdl.nets import Ensemble

    nets = _load_models(args.model)
    datasets = {n.metadata.get("dataset") for n in nets} - {None}
    if args.dataset is None and len(datasets) > 1:
        raise ShapeError(
            f"the models were trained on different datasets ({', '.join(sorted(datasets))}): "
            "choose the test set with --dataset"
        )
    dataset = args.dataset or next(iter(datasets), None) or "mnist"
    n_test = DATASET_SHAPES.get(dataset, DATASET_SHAPES["mnist"])[1]
    for net in nets:
        check_model_memory("evaluate", net, n_test, "evaluate on a larger machine", args.force)
    _, (x_test, t_test) = load_mnist(
        normalize=True, flatten=True, data_dir=args.data_dir, dataset=dataset
    )
    n_classes = 10
    for path, net in zip(args.model, nets, strict=True):
        if x_test.shape[1] != net.input_size or net.output_size != n_classes:
            raise ShapeError(
                f"{path} maps {net.input_size} inputs to {net.output_size} classes but {dataset} "
                f"has {x_test.shape[1]} pixels per image and {n_classes} classes: evaluate a "
                "model trained on this data"
            )
    members = []
    if len(nets) == 1:
        predicted = predict_labels(nets[0], x_test.astype(nets[0].dtype, copy=False))
    else:
        # Each member runs once; Ensemble.combine averages their probabilities (what
        # Ensemble.predict does chunk by chunk), and each member's answers are kept too.
        log_probs = [_log_probabilities(n, x_test.astype(n.dtype, copy=False)) for n in nets]
        predicted = Ensemble.combine(log_probs).argmax(axis=1)
        for path, lp in zip(args.model, log_probs, strict=True):
            acc = float(np.count_nonzero(lp.argmax(axis=1) == t_test)) / t_test.shape[0]
            members.append({"model": str(path), "accuracy": acc})
    cm = confusion_matrix(t_test.astype(np.intp), predicted, n_classes)
    per_class = cm.diagonal() / np.maximum(cm.sum(axis=1), 1)
    accuracy = float(np.count_nonzero(predicted == t_test)) / t_test.shape[0]
    name = str(args.model[0]) if len(nets) == 1 else f"ensemble of {len(nets)} models"
    if args.json:
        record = {
            "model": name,
            "dataset": dataset,
            "n": int(t_test.shape[0]),
            "accuracy": accuracy,
            "per_class_accuracy": [float(a) for a in per_class],
            "confusion_matrix": cm.tolist(),
        }
        if members:
            record["members"] = members
        print(json.dumps(record))
        return 0
    print(f"{name} on the {dataset} test set ({t_test.shape[0]} images): accuracy {accuracy:.4f}")
    if members:
        print("\nmembers (each alone; the ensemble averages their softmax probabilities)")
        for m in members:
            print(f"  {m['model']}: {m['accuracy']:.4f}")
        best = max(m["accuracy"] for m in members)
        diff = accuracy - best
        print(
            f"the ensemble is {abs(diff) * t_test.shape[0]:.0f} test images "
            f"{'better' if diff >= 0 else 'worse'} than its best member ({diff:+.4f}), on "
            "this one test set"
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


def _predict(args: argparse.Namespace) -> int:
    from scratchdl.errors import ConfigError, ScratchdlError
    from scratchdl.images import check_digit_model, digit_probabilities, image_to_mnist
    from scratchdl.serve import load_any_model

    if not args.images:
        raise ConfigError(_no_images(args.model))
    net = load_any_model(args.model)
    check_digit_model(net, str(args.model))
    failed = 0
    shown: set[str] = set()
    for path in args.images:
        try:
            x = image_to_mnist(path)
        except ScratchdlError as exc:
            # One bad file must not cost the answers for the others.
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            print(f"scratchdl predict: error: {message}", file=sys.stderr)
            failed += 1
            continue
        if args.show_input:
            _write_input(x, Path(args.show_input), Path(path).stem, shown)
        p = digit_probabilities(net, x)
        digit = int(p.argmax())
        if args.json:
            row = {
                "image": path,
                "prediction": digit,
                "probabilities": [round(float(v), 6) for v in p],
            }
            print(json.dumps(row))
        else:
            ranked = " ".join(f"{k}:{p[k]:.3f}" for k in range(p.shape[0]))
            print(f"{path}: {digit} ({p[digit]:.1%})   {ranked}")
    # Like a command that partly failed: the good answers are printed, the status says so.
    return 2 if failed else 0


def _no_images(model: str) -> str:
    """What ``predict`` says when it got one argument: a forgotten model, or no image."""
    if Path(model).suffix.lower() in IMAGE_SUFFIXES:
        return (
            f"{model} looks like an image, and predict needs the model first: "
            f"scratchdl predict MODEL {model} (MODEL: a model.npz, a run folder such as "
            "runs/first, or the book's .pkl weights)"
        )
    return f"no image given: scratchdl predict {model} IMAGE [IMAGE ...]"


#: File name endings that mark an image (for the message above only; readers check contents).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


def _write_input(x: np.ndarray, folder: Path, stem: str, taken: set[str]) -> None:
    """Save the network's input as a 28x28 8-bit PNG named after the image (made unique)."""
    from PIL import Image

    from scratchdl._fs import atomic_path

    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}.png"
    taken.add(name)
    pixels = np.clip(np.floor(x * 255 + 0.5), 0, 255).astype(np.uint8)
    with atomic_path(folder / name, suffix=".png") as tmp:
        Image.fromarray(pixels).save(tmp)
