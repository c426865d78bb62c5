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
from scratchdl._text import human_size
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


def _names(mirrors: Sequence[str]) -> dict[str, str]:
    """How notes name each mirror: its host, or host and path where two share a host."""
    hosts = [urlsplit(m).netloc or m for m in mirrors]
    return {
        m: h if hosts.count(h) == 1 else h + urlsplit(m).path.rstrip("/")
        for m, h in zip(mirrors, hosts, strict=True)
    }


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"  # the resolver's wording ("Name or service not known") adds nothing
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
        used: dict[str, int] = {}  # source -> files it supplied, for the closing line
        dest_dir.mkdir(parents=True, exist_ok=True)
        fallback = spec.fallback if self.use_fallback else None
        last_resort = f"the {fallback.label}" if fallback else None
        name = _names(mirrors)
        first = name[mirrors[0]] if mirrors else last_resort
        if first is not None:
            reporter.note(
                f"{spec.title}: downloading {len(kinds)} file{'s' if len(kinds) != 1 else ''}, "
                f"trying {first}"
            )
        for kind in kinds:
            filename = f"{FILENAMES[kind]}.gz"
            for i, base in enumerate(mirrors):
                if base in dead:
                    continue
                url = base if base.endswith("/") else base + "/"
                url += filename
                after = [m for m in mirrors[i + 1 :] if m not in dead]
                following = name[after[0]] if after else last_resort
                path = self._try_mirror(
                    spec,
                    kind,
                    url,
                    base,
                    name[base],
                    dest_dir / filename,
                    reporter,
                    dead,
                    following,
                )
                if path is not None:
                    stored[kind] = path
                    used[name[base]] = used.get(name[base], 0) + 1
                    break
        missing = [k for k in kinds if k not in stored]
        if missing and fallback is not None:
            got = self._try_fallback(spec, dest_dir, missing, reporter)
            stored.update(got)
            if got:
                used[str(last_resort)] = len(got)
            missing = [k for k in kinds if k not in stored]
        if missing:
            raise DownloadError(self._message(spec, missing, mirrors))
        if stored:
            sources = " and ".join(
                f"{n} from {source}" if len(used) > 1 else f"from {source}"
                for source, n in used.items()
            )
            reporter.note(
                f"{spec.title}: {len(stored)} file{'s' if len(stored) != 1 else ''} downloaded "
                f"{sources}, verified, in {dest_dir}"
            )
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
        host: str,
        dest: Path,
        reporter: Reporter,
        dead: set[str],
        following: str | None,
    ) -> Path | None:
        then = f", trying {following}" if following else ""
        for attempt in range(self.retries + 1):
            try:
                with atomic_path(dest) as tmp:
                    _stream(url, tmp, self.timeout, reporter, f"{dest.name} from {host}")
                    verify_bytes(
                        tmp.read_bytes(), kind, spec, name=url, fix="Trying the next source."
                    )
                    size = tmp.stat().st_size
                reporter.note(f"  {host}: {dest.name} ({human_size(size)}) verified")
                return dest
            except _UnreachableError as exc:
                dead.add(base)
                self._error(base, f"{exc}")
                reporter.note(f"  {host} ... unreachable ({exc}){then}")
                return None
            except (_PermanentError, DataError) as exc:
                text = str(exc).removesuffix(" Trying the next source.")
                self._error(base, f"{dest.name}: {text}")
                reporter.note(f"  {host}: {dest.name}: {text}{then}")
                return None
            except _TransientError as exc:
                self._error(base, f"{dest.name}: {exc}")
                if attempt < self.retries:
                    reporter.note(f"  {host}: {dest.name}: {exc}, retrying")
                    time.sleep(0.5 * (attempt + 1))
                else:
                    reporter.note(f"  {host}: {dest.name}: {exc}{then}")
        return None

    def _try_fallback(
        self, spec: DatasetSpec, dest_dir: Path, missing: Sequence[str], reporter: Reporter
    ) -> dict[str, Path]:
        source = spec.fallback
        assert source is not None
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
            text = str(exc).strip() or type(exc).__name__
            self._error(source.label, text)
            reporter.note(f"  {source.label} ... failed ({text})")
            return stored
        reporter.note(f"  {source.label}: {len(stored)} file(s) verified")
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
