"""Downloading missing dataset files from mirrors, then a last-resort fallback source.

Every file is streamed into a temporary file beside its destination, verified (IDX structure and
checksums) and only then moved into place with ``os.replace``: a cut-off or corrupt download never
enters the cache. Timeouts and retries are small and bounded; a mirror that cannot be reached at
all is skipped for the remaining files, so a machine without network fails in seconds with one
message listing every source tried.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from scratchdl import __version__
from scratchdl._fs import atomic_path, atomic_write_bytes
from scratchdl.data.datasets import FILENAMES, DatasetSpec
from scratchdl.data.verify import verify_bytes
from scratchdl.errors import DataError, DownloadError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 6.0  # seconds per connect/read; three dead mirrors cost at most ~18 s
DEFAULT_RETRIES = 1  # extra attempts after a transient failure (timeout mid-body, cut-off, 5xx)
_CHUNK = 1 << 16


class _UnreachableError(Exception):
    """The server could not be reached at all: skip this mirror for the other files too."""


class _TransientError(Exception):
    """Worth one more try: read timeout, connection dropped, server error."""


class _PermanentError(Exception):
    """This mirror will not serve this file (404, ...); try the next mirror."""


def supply_hint(spec: DatasetSpec) -> str:
    """How a person can provide the files without a download."""
    return (
        f"To supply the files yourself, get the four {spec.title} IDX files (.gz or raw) and "
        f"run `scratchdl data import PATH --dataset {spec.name}`, or point data_dir or the "
        f"SCRATCHDL_DATA_DIR environment variable at their folder."
    )


class Reporter:
    """Notes on stderr (one line per file or failed source) unless quiet; progress bars only
    for a person watching a terminal, so a log file gets the notes without the bars."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._console = None
        if not quiet:
            from rich.console import Console

            self._console = Console(stderr=True)

    def note(self, message: str) -> None:
        log.info(message)
        if self._console is not None:
            self._console.print(message, markup=False, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Callable[[int], object]]:
        if not self.enabled or self._console is None:
            yield lambda n: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        ) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host not found ({exc.strerror or exc})"
    text = str(exc) or type(exc).__name__
    return text


def _stream(url: str, dest: Path, timeout: float, reporter: Reporter, label: str) -> None:
    """Download ``url`` into ``dest``, raising _UnreachableError/_TransientError/_PermanentError."""
    request = urllib.request.Request(url, headers={"User-Agent": f"scratchdl/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        message = f"HTTP {exc.code} {exc.reason}"
        exc.close()
        if exc.code >= 500 or exc.code == 429:
            raise _TransientError(message) from None
        raise _PermanentError(message) from None
    except urllib.error.URLError as exc:
        raise _UnreachableError(_describe(exc)) from None
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise _UnreachableError(_describe(exc)) from None
    except ValueError as exc:  # malformed URL
        raise _PermanentError(str(exc)) from None
    with response:
        length_header = response.headers.get("Content-Length")
        total = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        try:
            with dest.open("wb") as out, reporter.bar(label, total) as advance:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    advance(len(chunk))
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise _TransientError(
                f"download interrupted after {received} bytes ({_describe(exc)})"
            ) from None
    if total is not None and received < total:
        raise _TransientError(f"connection closed after {received} of {total} bytes")


@dataclass
class Downloader:
    """Fetch missing files of one dataset into a folder.

    Attributes
    ----------
    mirrors : sequence of str or None
        Base URLs to try in order (default: the dataset's own list).
    timeout : float
        Seconds per connection attempt and per read.
    retries : int
        Extra attempts per mirror after a transient failure.
    quiet : bool
        No progress bars or notes (they also stay off when stderr is not a terminal).
    use_fallback : bool
        Whether to try the dataset's last-resort source after the mirrors.
    """

    mirrors: Sequence[str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    quiet: bool = False
    use_fallback: bool = True
    _errors: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)

    def fetch(self, spec: DatasetSpec, dest_dir: Path, kinds: Sequence[str]) -> dict[str, Path]:
        """Download, verify and store the files of ``kinds`` in ``dest_dir``.

        Returns
        -------
        dict
            Path of each stored file by kind.

        Raises
        ------
        DownloadError
            One message listing every source tried with its error, and how to supply the files.
        """
        self._errors = {}
        reporter = Reporter(self.quiet)
        mirrors = list(self.mirrors if self.mirrors is not None else spec.mirrors)
        dead: set[str] = set()
        stored: dict[str, Path] = {}
        dest_dir.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            filename = f"{FILENAMES[kind]}.gz"
            for base in mirrors:
                if base in dead:
                    continue
                url = base if base.endswith("/") else base + "/"
                url += filename
                path = self._try_mirror(spec, kind, url, base, dest_dir / filename, reporter, dead)
                if path is not None:
                    stored[kind] = path
                    break
        missing = [k for k in kinds if k not in stored]
        if missing and self.use_fallback and spec.fallback is not None:
            stored.update(self._try_fallback(spec, dest_dir, missing, reporter))
            missing = [k for k in kinds if k not in stored]
        if missing:
            raise DownloadError(self._message(spec, missing, mirrors))
        return stored

    def _error(self, source: str, text: str) -> None:
        self._errors.setdefault(source, [])
        if text not in self._errors[source]:
            self._errors[source].append(text)

    def _try_mirror(
        self,
        spec: DatasetSpec,
        kind: str,
        url: str,
        base: str,
        dest: Path,
        reporter: Reporter,
        dead: set[str],
    ) -> Path | None:
        host = urlsplit(url).netloc or base
        for attempt in range(self.retries + 1):
            try:
                with atomic_path(dest) as tmp:
                    _stream(url, tmp, self.timeout, reporter, f"{dest.name} from {host}")
                    verify_bytes(
                        tmp.read_bytes(), kind, spec, name=url, fix="Trying the next source."
                    )
                reporter.note(f"downloaded and verified {dest.name} from {host}")
                return dest
            except _UnreachableError as exc:
                dead.add(base)
                self._error(base, f"{exc}")
                reporter.note(f"{host}: {exc}; trying the next source")
                return None
            except (_PermanentError, DataError) as exc:
                text = str(exc).removesuffix(" Trying the next source.")
                self._error(base, f"{dest.name}: {text}")
                reporter.note(f"{host}: {dest.name}: {text}; trying the next source")
                return None
            except _TransientError as exc:
                self._error(base, f"{dest.name}: {exc}")
                if attempt < self.retries:
                    reporter.note(f"{host}: {exc}; retrying")
                    time.sleep(0.5 * (attempt + 1))
        return None

    def _try_fallback(
        self, spec: DatasetSpec, dest_dir: Path, missing: Sequence[str], reporter: Reporter
    ) -> dict[str, Path]:
        source = spec.fallback
        assert source is not None
        reporter.note(
            f"every mirror failed for {len(missing)} {spec.title} file(s); "
            f"trying the {source.label}"
        )
        stored: dict[str, Path] = {}
        try:
            with tempfile.TemporaryDirectory(prefix="scratchdl-fetch-") as tmp:
                got = source.fetch(Path(tmp))
                for kind in missing:
                    if kind not in got:
                        raise DataError(f"it does not provide {FILENAMES[kind]}")
                    verify_bytes(got[kind], kind, spec, name=FILENAMES[kind], fix="")
                for kind in missing:
                    # Raw IDX: converting took the time; gzip would only add more.
                    path = dest_dir / FILENAMES[kind]
                    atomic_write_bytes(path, got[kind])
                    stored[kind] = path
        except Exception as exc:  # noqa: BLE001 - a last resort: report whatever went wrong
            self._error(source.label, str(exc).strip() or type(exc).__name__)
            return stored
        reporter.note(f"verified {len(stored)} {spec.title} file(s) from the {source.label}")
        return stored

    def _message(self, spec: DatasetSpec, missing: Sequence[str], mirrors: Sequence[str]) -> str:
        names = ", ".join(FILENAMES[k] for k in missing)
        tried = []
        sources = list(mirrors)
        if self.use_fallback and spec.fallback is not None:
            sources.append(spec.fallback.label)
        for source in sources:
            errors = self._errors.get(source, ["not tried"])
            tried.append(f"{source} -> {'; '.join(errors)}")
        if not tried:
            tried.append("no download sources are configured")
        return (
            f"could not download {spec.title} ({names}). Sources tried: "
            + " | ".join(tried)
            + f". {supply_hint(spec)}"
        )
