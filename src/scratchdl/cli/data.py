"""``scratchdl data``: fetch, verify, import and locate the MNIST-style datasets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from scratchdl._text import human_size, plural
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
    # Not required: a bare ``scratchdl data`` prints this help (see _handle).
    parser.set_defaults(data_parser=parser)

    fetch = actions.add_parser("fetch", help="download and verify a dataset")
    fetch.add_argument("dataset", nargs="?", default="mnist", choices=DATASETS)
    add_data_dir(fetch)
    fetch.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    verify = actions.add_parser("verify", help="check the files that are present")
    verify.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    add_data_dir(verify)

    imp = actions.add_parser("import", help="verify IDX files (or a folder) and copy them in")
    imp.add_argument("path", metavar="PATH", help="an IDX file (.gz or raw) or a folder of them")
    imp.add_argument("--dataset", choices=DATASETS, default="mnist")
    add_data_dir(imp)

    info = actions.add_parser("info", help="where data lives, what is there and its size")
    add_data_dir(info)

    clean = actions.add_parser(
        "clean",
        help="remove cached files (downloads and processed copies) to free space",
        description="Remove what scratchdl keeps of a dataset: from the user cache the "
        "downloaded IDX files and the processed copies made for fast loading; from a data "
        "folder you chose (--data-dir / SCRATCHDL_DATA_DIR) only the processed copies, never "
        "your IDX files. Everything removed is rebuilt or downloaded again on the next load.",
    )
    clean.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    clean.add_argument(
        "--keep-downloads",
        action="store_true",
        help="keep the downloaded IDX files (about 11 MB for MNIST); remove only the processed "
        "copies",
    )
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed")
    add_data_dir(clean)

    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    if args.data_command is None:
        args.data_parser.print_help()
        return 2
    handler = {
        "fetch": _fetch,
        "verify": _verify,
        "import": _import,
        "info": _info,
        "clean": _clean,
    }
    return handler[args.data_command](args)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table on a terminal wide enough for it; otherwise plain aligned columns under a
    header line (pipes, logs). A terminal too narrow for the columns gets one block per row
    instead, each value on its own line: a path is never folded into pieces."""
    lines = [list(header), *([str(c) for c in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        console = Console()
        # A rich table draws "| " before and " |" after each cell, sharing the borders.
        if sum(widths) + 3 * len(widths) + 1 <= console.width:
            table = Table(title=title)
            for name in header:
                table.add_column(name, no_wrap=True)
            for row in rows:
                table.add_row(*row)
            console.print(table)
            return
        if len(header) > 2 and sum(widths) + 2 * len(widths) > console.width:
            print(title)
            for row in lines[1:]:
                print("  " + "  ".join(row[:2]))
                for name, value in zip(header[2:], row[2:], strict=True):
                    print(f"    {name}: {value}")
            return
    print(title)
    for line in lines:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


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


def _listing(paths: Sequence[Path]) -> None:
    """Files with their sizes, grouped by folder: ``    in FOLDER`` then ``  size  name``, so
    lines stay short in an 80-column terminal and each folder and name is whole."""
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, []).append(path)
    for folder, files in by_folder.items():
        print(f"    in {folder}/")
        for path in files:
            try:
                size = human_size(path.stat().st_size)
            except OSError:
                size = "?"
            print(f"    {size:>9}  {path.name}")


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
            + ("(from $XDG_CACHE_HOME)" if xdg else "(~/.cache; set XDG_CACHE_HOME to move it)"),
        ),
    ]
    _table("where data is looked for, in order", ("rule", "value"), order)
    # Plain lines, not a table: a path in a narrow table cell is folded into pieces.
    for info in infos:
        loc = info.location
        present = [p for p in info.files.values() if p is not None]
        total = sum(p.stat().st_size for p in (*present, *info.caches))
        origin = {"argument": "--data-dir", "environment": f"${ENV_VAR}"}.get(
            loc.origin, "the user cache"
        )
        print(f"\n{info.spec.name} ({info.spec.title}): data folder from {origin}")
        print(f"  data folder:  {loc.root}")
        for i, folder in enumerate(loc.search_dirs):
            print(f"  {'searched:' if i == 0 else '':<13} {folder}")
        print(f"  writes to:    {loc.write_dir or '(nothing writable)'}")
        hint = "" if len(present) == 4 else f"; `scratchdl data fetch {info.spec.name}` gets them"
        print(f"  IDX files: {len(present)}/4 present{hint}")
        _listing(present)
        if info.caches:
            print("  processed copies for fast loading (rebuilt when removed):")
            _listing(info.caches)
        print(f"  {info.spec.name} in all: {human_size(total)}")
    print(
        f"\nuser cache {cache_root}: {human_size(cache_size)} (`scratchdl data clean` removes it)"
    )
    return 0


def _clean(args: argparse.Namespace) -> int:
    from scratchdl.data import clean

    done = clean(
        None if args.dataset == "all" else args.dataset,
        data_dir=args.data_dir,
        keep_downloads=args.keep_downloads,
        dry_run=args.dry_run,
    )
    verb = "would remove" if args.dry_run else "removed"
    if done.removed:
        print(f"{verb}:")
        for path, size in done.removed:
            # Whole paths, one a line: the record of what is gone.
            print(f"    {human_size(size):>9}  {path}")
        files = plural(len(done.removed), "file")
        if args.dry_run:
            print(f"would remove {files}, {human_size(done.freed)}")
        else:
            print(
                f"removed {files}, {human_size(done.freed)} freed; the next load rebuilds what "
                "it needs (and downloads again what was downloaded)"
            )
    else:
        which = "any dataset" if args.dataset == "all" else args.dataset
        print(f"nothing to remove: no cached files of {which}")
    if done.kept:
        print("kept (your own data folder, not a cache):")
        for path in done.kept:
            print(f"    {path}")
    return 0
