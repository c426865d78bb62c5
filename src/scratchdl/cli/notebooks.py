"""``scratchdl notebooks DIR``: copy the installed version's chapter notebooks out to open them."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

#: The notebooks' languages: one folder each inside the package (``scratchdl/notebooks``).
LANGUAGES = ("en", "ko")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebooks",
        help="copy the chapter notebooks (English and Korean) into a folder to open in Jupyter",
        description=(
            "Copy the chapter notebooks of this installed version of scratchdl into DIR (DIR/en "
            "and DIR/ko, with their README), then open them with 'jupyter lab DIR'. Existing "
            "files are never replaced without --force."
        ),
    )
    p.add_argument("out", metavar="DIR", help="folder to copy the notebooks into")
    p.add_argument("--lang", choices=LANGUAGES, help="only this language (default: both)")
    p.add_argument("--force", action="store_true", help="replace notebooks already in DIR")
    p.set_defaults(func=_notebooks)


def packaged_notebooks(langs: tuple[str, ...] = LANGUAGES) -> dict[str, bytes]:
    """The notebooks inside the installed package: relative path -> file contents."""
    root = resources.files("scratchdl").joinpath("notebooks")
    found = {"README.md": root.joinpath("README.md").read_bytes()}
    for lang in langs:
        for item in sorted(root.joinpath(lang).iterdir(), key=lambda i: i.name):
            if item.name.endswith(".ipynb"):
                found[f"{lang}/{item.name}"] = item.read_bytes()
    return found


def _notebooks(args: argparse.Namespace) -> int:
    from scratchdl._fs import atomic_write_bytes
    from scratchdl.errors import ConfigError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder: give a folder for the notebooks")
    files = packaged_notebooks((args.lang,) if args.lang else LANGUAGES)
    taken = [name for name in files if (out / name).exists()]
    if taken and not args.force:
        raise ConfigError(
            f"{out} already holds {len(taken)} of these files ({taken[0]}, ...): choose another "
            "folder, or add --force to replace them with this version's notebooks"
        )
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    count = sum(name.endswith(".ipynb") for name in files)
    print(f"copied {count} notebooks to {out}; open them with: jupyter lab {out}")
    return 0
