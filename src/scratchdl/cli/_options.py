"""Command-line options shared by several commands, spelled and explained once."""

from __future__ import annotations

import argparse


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir D``: where the dataset's IDX files are (see ``scratchdl data info``)."""
    parser.add_argument(
        "--data-dir",
        metavar="D",
        help="data folder (default: $SCRATCHDL_DATA_DIR, else the user cache)",
    )


def add_lang(parser: argparse.ArgumentParser, what: str) -> None:
    """``--lang en|ko``: the language of ``what`` (Korean needs a Hangul font for figures)."""
    parser.add_argument(
        "--lang",
        choices=("en", "ko"),
        default="en",
        help=f"language of {what} (default en; ko draws Korean figure text when a Hangul font "
        "is installed, else prints how to install one and keeps English)",
    )
