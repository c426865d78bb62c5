"""MNIST and Fashion-MNIST: verified downloads, a processed cache, and the book's loader.

>>> from scratchdl.data import load_mnist
>>> (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
"""

from __future__ import annotations

from scratchdl.data.datasets import (
    DATASETS,
    FASHION_MNIST,
    FILENAMES,
    KINDS,
    MNIST,
    DatasetSpec,
    FallbackSource,
    get_dataset,
)
from scratchdl.data.download import Downloader
from scratchdl.data.manage import Cleaned, FileStatus, check, clean, describe, import_files
from scratchdl.data.mnist import fetch, load_fashion_mnist, load_mnist, to_one_hot
from scratchdl.data.paths import ENV_VAR, locate, user_cache_root

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "FASHION_MNIST",
    "FILENAMES",
    "KINDS",
    "MNIST",
    "DatasetSpec",
    "Downloader",
    "FallbackSource",
    "FileStatus",
    "Cleaned",
    "check",
    "clean",
    "describe",
    "fetch",
    "get_dataset",
    "import_files",
    "load_fashion_mnist",
    "load_mnist",
    "locate",
    "to_one_hot",
    "user_cache_root",
]
