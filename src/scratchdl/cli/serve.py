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
    p.set_defaults(func=_serve)

    e = sub.add_parser(
        "export-web",
        help="write the draw-a-digit page as static files that run an MLP in the browser",
        description=(
            "Write a page that runs the same preprocessing and the network's forward pass in "
            "the browser's JavaScript: no server needed, open index.html or put the folder on "
            "any static host. MLP models (ReLU or sigmoid) only; the weights are float32."
        ),
    )
    e.add_argument("model", help="model file (model.npz, or the book's sample_weight.pkl)")
    e.add_argument("--out", required=True, metavar="DIR", help="folder to write the page to")
    e.set_defaults(func=_export_web)


def _serve(args: argparse.Namespace) -> int:
    from scratchdl.errors import ConfigError
    from scratchdl.serve import DigitServer, find_model, load_any_model

    path = Path(args.model) if args.model else find_model(".")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    net = load_any_model(path)
    try:
        server = DigitServer(net, args.host, args.port, name=str(path), verbose=args.verbose)
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


def _export_web(args: argparse.Namespace) -> int:
    from scratchdl.serve import load_any_model
    from scratchdl.serve.export import export_web

    net = load_any_model(args.model)
    out = Path(args.out)
    sizes = export_web(net, out, name=Path(args.model).name)
    total = sum(sizes.values())
    print(
        f"wrote {out}/index.html and its files ({total / 1024:.0f} KiB; the weights, model.js, "
        f"{sizes['model.js'] / 1024:.0f} KiB)"
    )
    print(f"open {out / 'index.html'} in a browser, or put {out} on any static web host")
    return 0
