"""Helpers for the data tests: tiny synthetic IDX datasets and a local HTTP server."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from scratchdl.data import FILENAMES, KINDS, DatasetSpec
from scratchdl.data.idx import encode_images, encode_labels

N_TRAIN, N_TEST = 6, 4


def make_raw(seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict[str, bytes]:
    """Decompressed IDX bytes of a tiny random dataset, by kind."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255  # the full range is present
        out[f"{split}-images"] = encode_images(images)
        out[f"{split}-labels"] = encode_labels(np.arange(n, dtype=np.uint8) % 10)
    return out


def gz(raw: bytes) -> bytes:
    """Gzip with a fixed mtime so the bytes (and their MD5) are reproducible."""
    return gzip.compress(raw, mtime=0)


def write_files(folder: Path, raw: Mapping[str, bytes], *, compress: bool = True) -> None:
    """Write the four files into ``folder`` (``.gz`` or raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        name = FILENAMES[kind] + (".gz" if compress else "")
        (folder / name).write_bytes(gz(raw[kind]) if compress else raw[kind])


def spec_for(raw: Mapping[str, bytes], name: str = "mnist", **changes) -> DatasetSpec:
    """A dataset spec whose checksums accept exactly ``raw``; no mirrors unless given."""
    fields = {
        "name": name,
        "title": "Synthetic",
        "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in raw.items()},
        "gz_md5": {k: hashlib.md5(gz(v)).hexdigest() for k, v in raw.items()},
        "mirrors": (),
    }
    fields.update(changes)
    return DatasetSpec(**fields)


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        route = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        if route is None:
            self.send_error(404, "Not Found")
            return
        mode, body = route
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # "cut": announce the full length, send half, hang up (a dropped connection).
        self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 serving ``routes`` (path -> (mode, bytes))."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}  # type: ignore[attr-defined]
        self.httpd.hits = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def routes(self) -> dict[str, tuple[str, bytes]]:
        return self.httpd.routes  # type: ignore[attr-defined]

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits  # type: ignore[attr-defined]

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def serve(self, prefix: str, raw: Mapping[str, bytes], mode: str = "ok") -> str:
        """Serve the gzipped files of ``raw`` under ``/prefix/``; return the base URL."""
        for kind, data in raw.items():
            self.routes[f"/{prefix}/{FILENAMES[kind]}.gz"] = (mode, gz(data))
        return self.url(prefix)


@contextlib.contextmanager
def local_server() -> Iterator[LocalServer]:
    """Run a :class:`LocalServer` for the duration of the block."""
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def leftovers(folder: Path) -> list[str]:
    """Every file under ``folder`` (to show nothing partial was left behind)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def read_only(monkeypatch, folder):
    """Make ``folder`` (and everything under it) count as unwritable; as root, chmod would not."""
    from scratchdl.data import paths

    real = paths.is_writable_dir
    monkeypatch.setattr(
        paths,
        "is_writable_dir",
        lambda p: not Path(p).absolute().is_relative_to(folder.absolute()) and real(p),
    )
