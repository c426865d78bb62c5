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
