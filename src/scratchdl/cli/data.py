"""``scratchdl data``: fetch, verify, import and locate the MNIST-style datasets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from scratchdl.choices import DATASETS
from scratchdl.cli._options import add_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command and its actions to the top-level parser."""
    parser = subparsers.add_parser(
        "data",
        help="download, verify, import and locate MNIST / Fashion-MNIST",
        description="Download, verify, import and locate MNIST and Fashion-MNIST files.",
    )
    actions = parser.add_subparsers(
        dest="data_command", metavar="ACTION", parser_class=type(parser)
    )
    actions.required = True

    def data_dir(p: argparse.ArgumentParser) -> None:
        add_data_dir(p)

    fetch = actions.add_parser("fetch", help="download and verify a dataset")
    fetch.add_argument("dataset", nargs="?", default="mnist", choices=DATASETS)
    data_dir(fetch)
    fetch.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    verify = actions.add_parser("verify", help="check the files that are present")
    verify.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    data_dir(verify)

    imp = actions.add_parser("import", help="verify IDX files (or a folder) and copy them in")
    imp.add_argument("path", metavar="PATH", help="an IDX file (.gz or raw) or a folder of them")
    imp.add_argument("--dataset", choices=DATASETS, default="mnist")
    data_dir(imp)

    info = actions.add_parser("info", help="where data lives and what is there")
    data_dir(info)

    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    handler = {"fetch": _fetch, "verify": _verify, "import": _import, "info": _info}
    return handler[args.data_command](args)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table on a terminal; otherwise plain aligned columns under a header line (for
    pipes and logs)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for name in header:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    print(title)
    lines = [list(header), *([str(c) for c in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _fetch(args: argparse.Namespace) -> int:
    from scratchdl.data import fetch

    paths = fetch(args.dataset, data_dir=args.data_dir, quiet=args.quiet)
    _table(
        f"{args.dataset}: all files verified",
        ("file", "path"),
        [(kind, str(path)) for kind, path in paths.items()],
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from scratchdl.data import check

    names = DATASETS if args.dataset == "all" else (args.dataset,)
    statuses = [s for name in names for s in check(name, data_dir=args.data_dir)]
    rows = [(s.dataset, s.kind, s.state, str(s.path or "-"), s.detail) for s in statuses]
    _table("dataset files", ("dataset", "file", "state", "path", "detail"), rows)
    bad = [s for s in statuses if s.state == "bad"]
    if bad:
        print(f"{len(bad)} bad file(s); see the messages above for the fix", file=sys.stderr)
        return 1
    return 0


def _import(args: argparse.Namespace) -> int:
    from scratchdl.data import import_files

    written = import_files(args.path, dataset=args.dataset, data_dir=args.data_dir)
    _table(f"imported into {args.dataset}", ("file",), [(str(p),) for p in written])
    return 0


def _info(args: argparse.Namespace) -> int:
    from scratchdl.data import ENV_VAR, describe, user_cache_root

    env = os.environ.get(ENV_VAR)
    xdg = os.environ.get("XDG_CACHE_HOME")
    cache_root, cache_size, infos = describe(args.data_dir)
    order = [
        ("1. --data-dir / data_dir=", args.data_dir or "(not given)"),
        (f"2. ${ENV_VAR}", env or "(not set)"),
        (
            "3. user cache",
            f"{user_cache_root()} "
            + (f"($XDG_CACHE_HOME={xdg})" if xdg else "(~/.cache; set XDG_CACHE_HOME to move it)"),
        ),
    ]
    _table("where data is looked for, in order", ("rule", "value"), order)
    rows = []
    for info in infos:
        loc = info.location
        present = sum(p is not None for p in info.files.values())
        caches = ", ".join(f"{p.name} ({_human(p.stat().st_size)})" for p in info.caches)
        rows.append(
            (
                info.spec.name,
                f"{loc.root} (from {loc.origin})",
                " ; ".join(str(d) for d in loc.search_dirs),
                str(loc.write_dir or "(nothing writable)"),
                f"{present}/4 present",
                caches or "none",
            )
        )
    _table(
        "datasets",
        ("dataset", "data folder", "searched", "writes to", "IDX files", "processed cache"),
        rows,
    )
    print(f"user cache {cache_root}: {_human(cache_size)}")
    return 0
