"""Limit the BLAS thread pool while training.

A training step multiplies a (100, 784) batch by a (784, 50) matrix: about 4 million
multiply-adds, some 100 µs on one core. Splitting that across threads saves little even on an
idle machine, and on a shared one, where the second core is often busy, OpenBLAS's threads
spin waiting for each other: the MNIST run measured 5 times slower with two threads than with
one. So ``scratchdl train`` runs the Trainer's loop with one BLAS thread (the
:class:`~scratchdl.train.BlasThreads` callback, which a Python caller adds when it wants it).

Evaluation multiplies 10,000-row chunks, big enough to share out, so it runs with the thread
count BLAS had before training started.

NumPy has no API for this, so the thread-count functions of the OpenBLAS that NumPy loaded are
called through ``ctypes`` (the calls ``threadpoolctl`` makes). Where that does not work (another
BLAS, another OS) nothing is changed: the setting only ever affects speed, never results.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["BLAS_THREAD_VARS", "blas_thread_count", "blas_threads"]

#: The environment variables that set a BLAS's thread count when it starts (a sweep's worker
#: processes get 1 in each).
BLAS_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_SET_NAMES = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GET_NAMES = tuple(name.replace("set_", "get_") for name in _SET_NAMES)


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple[Any, Any] | None:
    """(get, set) functions of the OpenBLAS mapped into this process, or None."""
    import numpy  # noqa: F401  - make sure NumPy's BLAS is loaded before looking for it

    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in zip(_GET_NAMES, _SET_NAMES, strict=True):
            getter = getattr(lib, get_name, None)
            setter = getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                return getter, setter
    return None


def blas_thread_count() -> int | None:
    """Threads the BLAS uses now, or None when it cannot be told."""
    funcs = _openblas()
    return None if funcs is None else int(funcs[0]())


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` BLAS threads, then restore the count (None: change nothing)."""
    funcs = _openblas() if n is not None else None
    if funcs is None:
        yield
        return
    get, set_ = funcs
    before = get()
    if before == n:
        yield
        return
    set_(n)
    try:
        yield
    finally:
        set_(before)
