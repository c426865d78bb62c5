"""``scratchdl figures`` (the book's figures as PNGs) and ``scratchdl report`` (one HTML page)."""

from __future__ import annotations

import argparse

from scratchdl.cli._options import add_data_dir, add_lang


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figures`` and ``report`` commands to the top-level parser."""
    fig = subparsers.add_parser(
        "figures",
        help="draw the book's figures of ch. 2-7 as PNG files",
        description=(
            "Draw the book's figures from the library: activations, softmax, logic gates, XOR, "
            "numerical differentiation, gradients and gradient descent, optimizer paths and "
            "activations by weight initialisation (ch. 6), and (when MNIST is available) digits, "
            "first-layer weights, misclassified digits, learning curves, a digit through "
            "convolution filters and SimpleConvNet's filters before and after training (ch. 7). "
            "Without --model a small TwoLayerNet is trained first."
        ),
    )
    fig.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")
    add_data_dir(fig)
    fig.add_argument(
        "--model",
        metavar="MODEL.npz",
        help="trained model for the weights and misclassified-digit figures",
    )
    fig.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the digit sample and the quick training (default 0)",
    )
    fig.add_argument(
        "--epochs",
        type=_positive_int,
        default=3,
        metavar="N",
        help="epochs of the quick training when no --model is given (default 3)",
    )
    fig.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="draw only these figures (file names without .png)",
    )
    fig.add_argument(
        "--convnet-params",
        metavar="PARAMS.pkl",
        help="the book's trained SimpleConvNet weights (ch. 7 params.pkl) for conv_filters; "
        "without it a SimpleConvNet is trained briefly on MNIST",
    )
    fig.add_argument(
        "--no-download",
        action="store_true",
        help="never download MNIST; skip its figures if the files are absent",
    )
    add_lang(fig, "the figures' titles, labels and legends")
    fig.set_defaults(func=_figures)

    rep = subparsers.add_parser(
        "report",
        help="one self-contained HTML page from run, sweep and figure folders",
        description=(
            "Build one HTML page, with every image embedded, from folders written by "
            "'scratchdl train --out', 'scratchdl sweep' and 'scratchdl figures --out'."
        ),
    )
    rep.add_argument("folders", nargs="+", metavar="DIR", help="run, sweep or figure folders")
    rep.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    rep.add_argument("--title", default=None, help="page title (default: scratchdl report)")
    add_lang(rep, "the page's headings and captions")
    rep.set_defaults(func=_report)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _figures(args: argparse.Namespace) -> int:
    from scratchdl.plots.korean import language
    from scratchdl.plots.notes import write_figures

    with language(args.lang):
        result = write_figures(
            args.out,
            data_dir=args.data_dir,
            model_path=args.model,
            seed=args.seed,
            epochs=args.epochs,
            download=not args.no_download,
            only=args.only,
            progress=lambda line: print(line, flush=True),
            convnet_params=args.convnet_params,
        )
    # The "wrote" lines above are the list of files; this line sums them up.
    summary = f"{len(result.written)} figure(s) written to {args.out}"
    if result.skipped:
        summary += f"; {len(result.skipped)} skipped: " + ", ".join(
            f"{name}.png" for name, _ in result.skipped
        )
    print(summary)
    return 0


def _report(args: argparse.Namespace) -> int:
    from scratchdl.report import write_report

    title = args.title or ("scratchdl 보고서" if args.lang == "ko" else "scratchdl report")
    sections = write_report(args.folders, args.out, title=title, lang=args.lang)
    images = sum(s.images for s in sections)
    print(f"wrote {args.out}: {len(sections)} section(s), {images} image(s) embedded")
    for s in sections:
        print(f"  {s.kind:8s} {s.title} ({s.images} image(s))")
    return 0
