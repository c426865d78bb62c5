"""Where a sweep's trials get their data: MNIST from disk, or arrays handed in (tests).

A source is a small picklable object, so it can travel to worker processes; a worker loads
MNIST from the data cache once, for its first trial, instead of receiving 200 MB of arrays with
every trial.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from scratchdl.errors import ShapeError

__all__ = ["ArraySource", "Dataset", "DataSource", "MnistSource", "as_source"]


class Dataset(NamedTuple):
    """Train and test arrays: images flattened to (N, D) floats, labels int (N,)."""

    x_train: NDArray
    t_train: NDArray
    x_test: NDArray
    t_test: NDArray

    @property
    def n_classes(self) -> int:
        return int(max(self.t_train.max(), self.t_test.max())) + 1


class DataSource:
    """Base of the data sources: ``load()`` gives a :class:`Dataset`, ``ident`` names it."""

    ident: str

    def load(self) -> Dataset:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class MnistSource(DataSource):
    """MNIST-style data read by :func:`scratchdl.data.load_mnist`.

    ``download`` is only honoured in the parent process (see :meth:`prepare`); workers read
    what the parent made sure exists.
    """

    dataset: str = "mnist"
    data_dir: str | None = None

    @property
    def ident(self) -> str:
        return self.dataset

    def load(self) -> Dataset:
        # Not memoised here: a sweep worker keeps what it loaded (worker_trial), and nothing
        # else should hold 200 MB for the life of the process.
        return self.prepare(download=False)

    def prepare(self, download: bool = True) -> Dataset:
        """Load (downloading if allowed) in the parent, so errors surface before any worker."""
        from scratchdl.data import load_mnist

        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True,
            flatten=True,
            one_hot_label=False,
            data_dir=self.data_dir,
            download=download,
            dataset=self.dataset,
        )
        return Dataset(x_train, t_train, x_test, t_test)


@dataclass(frozen=True, eq=False)
class ArraySource(DataSource):
    """In-memory arrays (synthetic data in tests, or a subset a caller prepared)."""

    data: Dataset
    name: str = "arrays"
    ident: str = field(init=False)

    def __post_init__(self) -> None:
        x_train, t_train, x_test, t_test = (np.asarray(a) for a in self.data)
        if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
            raise ShapeError(
                f"sweep data must be (N, D) images with the same D, got {x_train.shape} and "
                f"{x_test.shape}"
            )
        if t_train.shape != (x_train.shape[0],) or t_test.shape != (x_test.shape[0],):
            raise ShapeError("sweep labels must be integer class indices of shape (N,)")
        data = Dataset(x_train, t_train.astype(np.int64), x_test, t_test.astype(np.int64))
        object.__setattr__(self, "data", data)
        # The content hash goes into every trial key, so cached results never leak across
        # different arrays that happen to share a name.
        digest = hashlib.sha256()
        for a in data:
            digest.update(str((a.dtype.str, a.shape)).encode())
            digest.update(np.ascontiguousarray(a).tobytes())
        object.__setattr__(self, "ident", f"{self.name}:{digest.hexdigest()[:12]}")

    def load(self) -> Dataset:
        return self.data


def as_source(
    data: Dataset | tuple | DataSource | None,
    *,
    dataset: str = "mnist",
    data_dir: str | None = None,
) -> DataSource:
    """Normalise the ``data=`` argument of :func:`~scratchdl.experiments.engine.run_sweep`.

    Accepts a source, a :class:`Dataset`, the book's ``((x_train, t_train), (x_test, t_test))``
    or None (MNIST from ``data_dir``).
    """
    if data is None:
        return MnistSource(dataset, None if data_dir is None else str(data_dir))
    if isinstance(data, DataSource):
        return data
    if isinstance(data, Dataset):
        return ArraySource(data)
    if isinstance(data, tuple) and len(data) == 2:
        (x_train, t_train), (x_test, t_test) = data
        return ArraySource(Dataset(x_train, t_train, x_test, t_test))
    if isinstance(data, tuple) and len(data) == 4:
        return ArraySource(Dataset(*data))
    raise ShapeError(
        "data must be ((x_train, t_train), (x_test, t_test)), a Dataset or a DataSource"
    )
