"""Run a sweep's trials on a Dask cluster: ``--executor dask://HOST:PORT``.

:func:`~scratchdl.experiments.engine.run_sweep` hands the trials that have no stored result to
:meth:`DaskCluster.run`, which submits each one through Dask's ``concurrent.futures`` executor
(``Client.get_executor``). The task is the engine's own worker function, so a trial's result is
the same wherever it ran, and the engine writes each result to ``trials/<key>.json`` the moment
it arrives: resume, results, summaries and figures are those of a local run.

Failures are never dropped. A trial whose task raises is run again up to :data:`RETRIES` times
(on any worker); a worker that dies mid-trial has its trials moved to live workers by the
scheduler (until ``distributed.scheduler.allowed-failures`` workers have died running the same
trial: then Dask gives up with ``KilledWorker``). A trial that still fails is reported at once
(:class:`TrialFailedWarning`) while the others go on, and :class:`TrialsFailedError` names them
all at the end; re-running the same sweep runs just those. Ctrl-C cancels every trial not yet
finished (a worker completes the trial it is on and throws the result away).

Workers need ``pip install "scratchdl[dask]"`` (the same scratchdl version) and the data: a
source travels as a small description (:class:`~.data.MnistSource` is a name and a folder) and
each worker loads it itself, once, from ``--data-dir`` on a shared path or its own cache.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import logging
import os
import socket
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from scratchdl._text import plural
from scratchdl.errors import ConfigError, ScratchdlError
from scratchdl.experiments.data import Dataset, DataSource
from scratchdl.experiments.trial import TrialSpec, run_trial
from scratchdl.train._blas import BLAS_THREAD_VARS

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_PORT",
    "LOCAL",
    "RETRIES",
    "DaskCluster",
    "TrialFailedWarning",
    "TrialsFailedError",
    "WorkerTrialError",
    "parse_executor",
]

LOCAL = "local"
#: The port ``dask scheduler`` listens on unless told otherwise.
DEFAULT_PORT = 8786
#: Seconds to connect to the scheduler and complete Dask's handshake, all told.
CONNECT_TIMEOUT = 10.0
#: Seconds of silence after which the probe asks the other end in HTTP (a scheduler speaks
#: first, at once; a web server, such as the dashboard on 8787, waits for a request).
_ASK_HTTP_AFTER = 2.0
#: Extra runs of a trial whose task raised, before it counts as failed.
RETRIES = 2
_FORMS = "'local' or dask://HOST:PORT, a Dask scheduler's address such as dask://127.0.0.1:8786"
_INSTALL = 'pip install "scratchdl[dask]"'
_NOT_SCHEDULER = (
    f"it is not a Dask scheduler; give the scheduler's port ({DEFAULT_PORT} unless started with "
    "--port)"
)
_START = (
    "start one with `dask scheduler --port {port}` and workers with "
    "`dask worker {host}:{port} --nthreads 1`"
)


class TrialFailedWarning(UserWarning):
    """A trial failed on the cluster after its retries; the sweep goes on without it."""


class TrialsFailedError(ScratchdlError):
    """Some trials failed on the cluster; the finished ones are stored, a re-run resumes.

    ``failures`` lists ``(spec, message)`` pairs.
    """

    def __init__(self, failures: Sequence[tuple[TrialSpec, str]], total: int) -> None:
        self.failures = list(failures)
        # Trials that failed alike (a worker without the data fails them all) are named once.
        alike: dict[str, list[str]] = {}
        for spec, message in self.failures:
            alike.setdefault(message, []).append(_name(spec))
        parts = [
            ", ".join(names[:3])
            + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            + f": {message}"
            for message, names in list(alike.items())[:3]
        ]
        if len(alike) > 3:
            parts.append(f"{len(alike) - 3} other errors")
        super().__init__(
            f"{len(self.failures)} of the {total} trials run on the cluster failed "
            f"({'; '.join(parts)}); the finished trials are saved: run the same sweep again "
            "into the same folder to run just the failed ones"
        )


class WorkerTrialError(ScratchdlError):
    """A trial's error as its worker saw it, with the worker's name (the task raises this)."""


def _name(spec: TrialSpec) -> str:
    return f"'{spec.group}' seed {spec.seed}"


def parse_executor(text: str, name: str = "executor") -> str | None:
    """The scheduler address ``tcp://HOST:PORT`` of ``dask://HOST[:PORT]``, None for 'local'.

    ``name`` is how the error names the setting (``--executor`` on the command line).
    """
    if not isinstance(text, str):
        raise ConfigError(f"{name} must be {_FORMS}, got {text!r}")
    if text.strip() == LOCAL:
        return None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme != "dask"
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ConfigError(f"{name} must be {_FORMS}, got {text!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port or DEFAULT_PORT}"


class DaskCluster:
    """A connection to a Dask scheduler that runs a sweep's trials (a context manager).

    Parameters
    ----------
    executor : str
        ``dask://HOST:PORT`` (see :func:`parse_executor`).
    name : str
        How errors name the setting.
    """

    def __init__(self, executor: str, name: str = "executor") -> None:
        address = parse_executor(executor, name)
        if address is None:
            raise ConfigError(f"{name} 'local' runs on this machine, not on a Dask cluster")
        self.address = address
        try:
            import distributed
        except ImportError:
            raise ConfigError(
                f"the Dask executor needs Dask's 'distributed' package, which is not installed: "
                f"{_INSTALL}"
            ) from None
        self._distributed = distributed
        self.client: Any = None

    def connect(self) -> DaskCluster:
        """Connect to the scheduler, or raise ConfigError within :data:`CONNECT_TIMEOUT` s.

        The address is first probed with a plain socket for Dask's handshake (which a
        scheduler sends as soon as it accepts), so a port that never speaks, a web server or a
        TLS port is named in one sentence instead of hanging or reaching Dask's own reader.
        """
        if self.client is None:
            deadline = time.monotonic() + CONNECT_TIMEOUT
            _probe(self.address, deadline)
            left = max(deadline - time.monotonic(), 0.5)
            try:
                self.client = self._distributed.Client(
                    self.address, timeout=left, set_as_default=False
                )
            except Exception as exc:  # noqa: BLE001 - whatever Dask raises, one sentence
                raise ConfigError(
                    f"could not connect to the Dask scheduler at {self.address} within "
                    f"{CONNECT_TIMEOUT:g} s ({_one_line(exc)}): check that it is running and "
                    "that this machine has the same Dask version"
                ) from None
        return self

    def close(self) -> None:
        if self.client is not None:
            # After the scheduler went away, closing cancels the client's reconnection
            # attempts, which Dask logs as an error with a traceback; the sweep has already
            # said what happened.
            log = logging.getLogger("distributed.client")
            level = log.level
            log.setLevel(logging.CRITICAL)
            try:
                self.client.close()
            finally:
                log.setLevel(level)
                self.client = None

    def __enter__(self) -> DaskCluster:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """'Dask scheduler tcp://...: 2 workers, 2 threads' (as the sweep's first line says)."""
        nthreads = self.connect().client.nthreads()
        text = f"Dask scheduler {self.address}: {plural(len(nthreads), 'worker')}, "
        text += plural(sum(nthreads.values()), "thread")
        return text + ("" if nthreads else " (the trials wait until a worker joins)")

    def run(
        self,
        todo: Sequence[TrialSpec],
        source: DataSource,
        finish: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run ``todo`` on the cluster, calling ``finish(result)`` as each trial ends.

        Raises
        ------
        TrialsFailedError
            After every other trial ended, if some failed.
        """
        pool = self.connect().client.get_executor(retries=RETRIES, pure=False)
        futures = {pool.submit(_dask_trial, spec, source): spec for spec in todo}
        failures: list[tuple[TrialSpec, str]] = []
        try:
            for future in cf.as_completed(futures):
                spec = futures[future]
                try:
                    row = future.result()
                except cf.CancelledError:
                    message = f"lost: the scheduler at {self.address} went away or was restarted"
                except Exception as exc:
                    message = _failure(exc)
                else:
                    finish(row)
                    continue
                failures.append((spec, message))
                warnings.warn(
                    f"trial {_name(spec)} failed on the cluster: {message}",
                    TrialFailedWarning,
                    stacklevel=2,
                )
        except BaseException:
            # Ctrl-C or a failure here: finished trials are on disk; cancel the rest.
            pool.shutdown(wait=False)
            raise
        if failures:
            raise TrialsFailedError(failures, len(todo))


def _probe(address: str, deadline: float) -> None:
    """Connect to ``tcp://HOST:PORT`` and read Dask's handshake before ``deadline``
    (``time.monotonic()``), or raise ConfigError saying what answered instead."""
    host, _, port_text = address.removeprefix("tcp://").rpartition(":")
    host, port = host.strip("[]"), int(port_text)
    start = _START.format(host=host, port=port)
    try:
        ip = _resolve(host, port, deadline)
        sock = socket.create_connection((ip, port), timeout=max(deadline - time.monotonic(), 0.01))
    except OSError as exc:  # refused, unreachable, unknown host, timed out
        raise ConfigError(
            f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT:g} s "
            f"({_one_line(exc)}): {start}"
        ) from None
    data, asked = b"", False
    with sock:
        while (verdict := _handshake(data)) == "more":
            wait = deadline - time.monotonic()
            if not data and not asked:
                wait = min(wait, _ASK_HTTP_AFTER)
            try:
                if wait <= 0:
                    raise TimeoutError
                sock.settimeout(wait)
                chunk = sock.recv(65536)
            except TimeoutError:
                if not data and not asked and time.monotonic() < deadline:
                    asked = True
                    with contextlib.suppress(OSError):
                        sock.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                    continue
                raise ConfigError(
                    f"{address} accepted the connection but did not answer as a Dask "
                    f"scheduler within {CONNECT_TIMEOUT:g} s: check the port (a scheduler "
                    f"listens on {DEFAULT_PORT} unless started with --port), or {start}"
                ) from None
            except OSError as exc:  # reset by the other end
                raise ConfigError(
                    f"{address} broke the connection ({_one_line(exc)}): {_NOT_SCHEDULER}"
                ) from None
            if not chunk:
                what = "closed the connection without a word" if not data else _kind(data)
                raise ConfigError(f"{address} {what}: {_NOT_SCHEDULER}")
            data += chunk
    if verdict != "ok":
        raise ConfigError(
            f"{address} {_kind(data)}, not a Dask scheduler: give the scheduler's port "
            f"({DEFAULT_PORT} unless started with --port; 8787 is its dashboard)"
        )


def _resolve(host: str, port: int, deadline: float) -> str:
    """The first address of ``host``, looked up in a thread so that a slow name server is held
    to ``deadline`` too (``getaddrinfo`` itself has no timeout)."""
    found: list[Any] = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])
        except OSError as exc:
            found.append(exc)

    thread = threading.Thread(target=look_up, name="scratchdl-resolve", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0))
    if not found:
        raise TimeoutError(f"looking up {host} took longer than the deadline")
    if isinstance(found[0], OSError):
        raise found[0]
    return found[0]


def _handshake(data: bytes) -> str:
    """'ok' when ``data`` holds Dask's handshake message, 'more' while it may, else 'no'.

    On TCP a message is: its length (8 bytes, little-endian), the number of frames, each
    frame's length, then the frames; the handshake is one small msgpack frame naming the
    pickle protocol.
    """
    if len(data) < 8:
        return "more" if not data.startswith((b"HTTP/", b"\x15\x03", b"\x16\x03")) else "no"
    (total,) = struct.unpack("<Q", data[:8])
    if not 16 <= total <= 1 << 16:
        return "no"
    if len(data) < 8 + total:
        return "more"
    (frames,) = struct.unpack("<Q", data[8:16])
    if not 1 <= frames <= 16 or 8 + 8 * frames > total:
        return "no"
    sizes = struct.unpack(f"<{frames}Q", data[16 : 16 + 8 * frames])
    if sum(sizes) != total - 8 - 8 * frames or b"pickle-protocol" not in data[8 : 8 + total]:
        return "no"
    return "ok"


def _kind(data: bytes) -> str:
    """What sent ``data``, for a sentence: 'is a web server (HTTP)', ..."""
    if data.startswith(b"HTTP/"):
        return "is a web server (HTTP)"
    if data[:1] in (b"\x15", b"\x16") and data[1:2] == b"\x03":
        return "speaks TLS (dask:// is plain TCP)"
    return f"answered something else ({data[:24]!r})"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure(exc: BaseException) -> str:
    if isinstance(exc, WorkerTrialError):
        return f"{exc} (failed {RETRIES + 1} times)"
    if type(exc).__name__ == "KilledWorker":
        deaths = getattr(exc, "allowed_failures", 0) + 1
        return (
            f"{deaths} workers died while running it (Dask's KilledWorker; out of memory? see "
            "the workers' logs)"
        )
    if isinstance(exc, ImportError):  # the task could not even be unpacked on the worker
        return (
            f"{_one_line(exc)} on a worker: install the same scratchdl on every worker ({_INSTALL})"
        )
    return f"{_one_line(exc)} (failed {RETRIES + 1} times)"


#: The data of a sweep worker process: loaded by its first trial, reused by the next ones
#: (loading MNIST takes up to a second; a sweep runs dozens of trials). Filled only in the
#: processes :func:`_run_pool` spawns, which end with the sweep, and in Dask workers, which keep
#: it for the next sweep (one data set at a time); the parent never touches it.
_WORKER_DATA: dict[str, Dataset] = {}


def worker_trial(spec: TrialSpec, source: DataSource) -> dict[str, Any]:
    """Run one trial in a sweep's worker process (a local pool's or a Dask worker's)."""
    data = _WORKER_DATA.get(source.ident)
    loaded = data is None
    if loaded:
        _WORKER_DATA.clear()
        data = _WORKER_DATA[source.ident] = source.load()
    row = run_trial(spec, data)
    # Recorded so a user (and the tests) can see the worker really ran single-threaded, and
    # loaded the data only for its first trial.
    row["process"] = {
        "pid": os.getpid(),
        "loaded_data": loaded,
        "blas_threads": {k: os.environ.get(k) for k in BLAS_THREAD_VARS[:3]},
    }
    return row


def _dask_trial(spec: TrialSpec, source: DataSource) -> dict[str, Any]:
    """The task a Dask worker runs: the engine's worker function, with one BLAS thread."""
    from distributed import get_worker

    threads = _one_blas_thread()
    _numpy_friendly_malloc()
    where = {"host": socket.gethostname(), "worker": get_worker().address}
    try:
        row = worker_trial(spec, source)
    except Exception as exc:
        # Which machine failed matters on a cluster (one without the data, say).
        raise WorkerTrialError(
            f"{_one_line(exc)} [on {where['host']}, worker {where['worker']}]"
        ) from exc
    # ``blas_threads`` (from worker_trial) are the variables the worker was started with,
    # ``blas_thread_count`` what its BLAS really used.
    row["process"].update(where, blas_thread_count=threads)
    return row


#: glibc's ``mallopt`` parameters, and the thresholds its dynamic rule reaches for big arrays.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20


def _numpy_friendly_malloc() -> None:
    """Undo the cost of the Dask nanny's ``MALLOC_TRIM_THRESHOLD_`` for training (Linux).

    The nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory back
    to the system). Any such setting also turns off glibc's rule that raises the mmap threshold
    as big blocks are freed, so every array over 128 KiB (a batch of 100 images is 313 KB) is
    mapped and unmapped afresh: a 5-epoch MNIST trial trained 1.6 to 1.8 times slower. Setting
    the thresholds to where that rule ends up makes it as fast as in a local worker. Only done
    when the variable is set; like the BLAS count, it stays for the worker's life.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def _one_blas_thread() -> int | None:
    """Limit this worker process's BLAS to one thread, for good; return the count now.

    A local sweep worker gets one BLAS thread from its environment. A Dask worker may run
    several trials at once on its threads: each would otherwise start as many BLAS threads as
    there are cores (the nanny sets ``OPENBLAS_NUM_THREADS=1``, ``--no-nanny`` does not). The
    count is not restored after the trial: with two trials on two threads, one restoring it
    would undo the other's.
    """
    from scratchdl.train import _blas

    funcs = _blas._openblas()
    if funcs is not None and funcs[0]() != 1:
        funcs[1](1)
    return _blas.blas_thread_count()
