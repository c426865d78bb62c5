"""``scratchdl serve`` and ``scratchdl export-web``: the draw-a-digit page."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``serve`` and ``export-web`` commands."""
    p = sub.add_parser(
        "serve",
        help="a local web page: draw a digit or upload a photo, see the network's answer",
        description=(
            "Serve a page where you draw a digit (mouse, pen or finger) or upload a photo and "
            "see the prediction, the ten probabilities and the 28x28 image the network sees, "
            "live. Also answers POST /predict (JSON API, see docs/serve.md). Without MODEL it "
            "uses the most recently written model.npz in the current folder, its subfolders "
            "(such as ./run, where 'scratchdl train' writes) or runs/*/."
        ),
    )
    p.add_argument(
        "model",
        nargs="?",
        help="model file (model.npz from 'scratchdl train', or the book's sample_weight.pkl)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this computer only)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument(
        "--force",
        action="store_true",
        help="serve even when the memory estimate exceeds what the machine has available",
    )
    p.set_defaults(func=_serve)

    e = sub.add_parser(
        "export-web",
        help="write the draw-a-digit page as static files that run the network in the browser",
        description=(
            "Write a page that runs the same preprocessing and the network's forward pass in "
            "the browser's JavaScript: no server needed, open index.html or put the folder on "
            "any static host. MLPs, SimpleConvNet and DeepConvNet (our model.npz files and the "
            "book's params.pkl, deep_convnet_params.pkl); the weights are float32. The page "
            "shows the network's test accuracy: the one its file records, else measured on "
            "MNIST's test set if it is on this computer. DIR must be new, empty or an earlier "
            "export."
        ),
    )
    e.add_argument(
        "model",
        help="model file (model.npz, or the book's sample_weight.pkl, params.pkl, "
        "deep_convnet_params.pkl)",
    )
    e.add_argument("--out", required=True, metavar="DIR", help="folder to write the page to")
    e.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that holds other files (files of the page's names replaced)",
    )
    e.set_defaults(func=_export_web)


def _serve(args: argparse.Namespace) -> int:
    from scratchdl.cli._resources import check_model_memory
    from scratchdl.errors import ConfigError
    from scratchdl.images import check_digit_model
    from scratchdl.serve import DigitServer, find_model, load_any_model

    path = Path(args.model) if args.model else find_model(".")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    net = load_any_model(path)
    check_digit_model(net, str(path))
    # The server runs one image at a time.
    check_model_memory("serve", net, 1, "serve it on a larger machine", args.force)
    about = _about(net, "served")
    try:
        server = DigitServer(
            net, args.host, args.port, name=str(path), verbose=args.verbose, about=about
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): "
            "choose another --port (or --port 0 for any free one)"
        ) from None
    with server:
        where = "" if server.loopback else " (reachable from other computers on the network)"
        print(f"serving {path} at {server.url}{where}")
        print("open that address in a browser; Ctrl-C stops the server", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")
    return 0


def _about(net: object, when: str) -> dict:
    """The page's facts about ``net``; its test accuracy measured (saying so on standard
    error, where it cannot be mistaken for the command's output) when its file records none."""
    import sys
    import time

    from scratchdl.serve.about import NOT_MEASURED, model_about

    about = model_about(net, measure=False)
    if about["test_acc"] is None:
        print(
            "the model file records no test accuracy: measuring it on MNIST's test set...",
            file=sys.stderr,
            flush=True,
        )
        start = time.perf_counter()
        about = model_about(net, measure=True, when=when)
        took = time.perf_counter() - start
        if about["test_acc"] is None:
            fix = (
                ": 'scratchdl data fetch' gets it" if about["test_acc_note"] == NOT_MEASURED else ""
            )
            print(f"test accuracy {about['test_acc_note']}{fix}", file=sys.stderr)
        else:
            print(
                f"test accuracy {about['test_acc']:.4f} on MNIST's 10,000 test images "
                f"({took:.1f} s)",
                file=sys.stderr,
            )
    return about


def _export_web(args: argparse.Namespace) -> int:
    from scratchdl.serve import find_model, load_any_model
    from scratchdl.serve.export import check_export_folder, export_web, web_model

    model = Path(args.model)
    if model.is_dir():  # a run folder: its newest model.npz, named with the folder
        model = find_model(model)
    net = load_any_model(model)
    out = Path(args.out)
    name = model.name if model.name != "model.npz" else f"{model.parent.name}/{model.name}"
    # Refuse a layer, a weight or a folder before the test accuracy is measured.
    web_model(net, name, about={})
    check_export_folder(out, args.force)
    about = _about(net, "exported")
    sizes = export_web(net, out, name=name, about=about, force=args.force)
    total = sum(sizes.values())
    print(
        f"wrote {out}/index.html and its files ({total / 1024:.0f} KiB; the weights, model.js, "
        f"{sizes['model.js'] / 1024:.0f} KiB)"
    )
    acc = about["test_acc"]
    print(
        f"the page runs {about['network']} ({about['parameters']:,} parameters), test accuracy "
        + (f"{acc:.4f} ({about['test_acc_note']})" if acc is not None else about["test_acc_note"])
    )
    print(f"open {out / 'index.html'} in a browser, or put {out} on any static web host")
    return 0
