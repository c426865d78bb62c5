"""``scratchdl import-weights``: convert the book's pickled weights to a safe model file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from scratchdl.choices import ACTIVATIONS
    from scratchdl.io import BOOK_MODELS

    p = sub.add_parser(
        "import-weights",
        help="convert the book's .pkl weights (e.g. sample_weight.pkl) to a scratchdl .npz model",
        description=(
            "Read a pickled weight dict (W1, b1, W2, b2, ...) with a restricted unpickler that "
            "refuses anything but NumPy arrays, and save it as a scratchdl model file."
        ),
    )
    p.add_argument(
        "pkl",
        help="the book's weight pickle: sample_weight.pkl (ch. 3), params.pkl (ch. 7) or "
        "deep_convnet_params.pkl (ch. 8)",
    )
    p.add_argument("out", help="the .npz model file to write")
    p.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="sigmoid",
        help="hidden activation of an MLP's weights (default: sigmoid, as the book's sample; "
        "the CNNs use ReLU)",
    )
    p.add_argument(
        "--model",
        choices=BOOK_MODELS,
        help="the network the weights belong to (default: detected from their shapes: all 2-D "
        "is an MLP, W1 4-D and two affine layers the ch. 7 SimpleConvNet, six 4-D the ch. 8 "
        "DeepConvNet)",
    )
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_import_weights)


def _import_weights(args: argparse.Namespace) -> int:
    from pathlib import Path

    from scratchdl.errors import ConfigError
    from scratchdl.io import load_book_weights, save_model

    # The pickle is refused if any weight is NaN or infinite, so nothing non-finite is written.
    net = load_book_weights(args.pkl, activation=args.activation, model=args.model)
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"{out} is a folder: give the name of the .npz model file to write")
    if (out.exists() or out.is_symlink()) and not args.force:
        raise ConfigError(
            f"{out} exists: pass --force to replace it, or choose another output file"
        )
    path = save_model(net, args.out, metadata={"imported_from": str(args.pkl)})
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in net.params.items())
    print(f"imported {net!r} from {args.pkl}: {shapes}")
    print(f"wrote {path}")
    return 0
