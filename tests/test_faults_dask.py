"""``--executor dask://`` pointed at the wrong thing: a port that accepts and never speaks, a web
server (the dashboard's 8787 is one digit away from the scheduler's 8786), a TLS port, a
stranger's protocol. Each is one line and exit 2 within the connection deadline, never a hang
or a Dask traceback.

Real sockets on 127.0.0.1; the deadline is shortened to 1.5 s here (10 s by default).
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from scratchdl.cli import main
from scratchdl.errors import ConfigError
from scratchdl.experiments import executors
from scratchdl.experiments.executors import DaskCluster

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason='Dask\'s distributed is not installed (pip install "scratchdl[dask]")',
)
if importlib.util.find_spec("distributed") is not None:
    import distributed  # noqa: F401 - imported here so the timings below are the connection's
DEADLINE = 1.5
#: Dask's handshake as a scheduler sends it on accepting a connection (Dask 2024-2026).
_PAYLOAD = b"\x83\xabcompression\xc0\xa6python\x93\x03\x0b\x07\xafpickle-protocol\x05"
HANDSHAKE = struct.pack("<QQQ", 16 + len(_PAYLOAD), 1, len(_PAYLOAD)) + _PAYLOAD


class _Endpoint:
    """A listening socket on 127.0.0.1 whose accepted connections get ``behave(conn)``."""

    def __init__(self, behave):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.behave = behave
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.behave, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


def _silent(conn):
    time.sleep(60)


def _handshake_then_silent(conn):
    conn.sendall(HANDSHAKE)
    time.sleep(60)


def _tls_like(conn):
    """What a TLS server does with bytes that are not a ClientHello: an alert, then close."""
    conn.settimeout(30)
    with contextlib.suppress(OSError):
        if conn.recv(100):
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
    conn.close()


def _ssh_like(conn):
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    time.sleep(60)


def _trickle(conn):
    """A valid-looking length, then a byte a second: slow enough to blow any deadline."""
    conn.sendall(struct.pack("<Q", 60_000))
    with contextlib.suppress(OSError):
        for _ in range(60):
            conn.sendall(b"\0")
            time.sleep(1)


def _closing(conn):
    conn.close()


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory):
    """One refused connection first: the sweep command's imports (matplotlib among them)
    take seconds on a loaded machine, and the timings below are the connection's."""
    out = tmp_path_factory.mktemp("warm")
    with contextlib.redirect_stderr(io.StringIO()):
        main(["sweep", "lr", "--executor", "dask://127.0.0.1:1", "--out", str(out / "o")])


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", DEADLINE)
    monkeypatch.setattr(executors, "_ASK_HTTP_AFTER", 0.3)


def _cli_error(capsys, tmp_path, url: str) -> tuple[str, float]:
    start = time.monotonic()
    code = main(
        [
            "sweep",
            "lr",
            "--executor",
            url,
            "--out",
            str(tmp_path / "o"),
            "--data-dir",
            str(tmp_path),
        ]
    )
    took = time.monotonic() - start
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and "distributed" not in captured.err
    assert not (tmp_path / "o").exists()
    return lines[0], took


@pytest.mark.parametrize(
    ("behave", "message"),
    [
        (_silent, "accepted the connection but did not answer as a Dask scheduler within 1.5 s"),
        # The trickle waits out the deadline as the silence does: in the slow set (CI runs it).
        pytest.param(
            _trickle,
            "accepted the connection but did not answer as a Dask scheduler within 1.5 s",
            marks=pytest.mark.slow,
        ),
        (_tls_like, "speaks TLS (dask:// is plain TCP), not a Dask scheduler"),
        (_ssh_like, "answered something else (b'SSH-2.0-OpenSSH_9.6\\r\\n'), not a Dask"),
        (_closing, "closed the connection without a word: it is not a Dask scheduler"),
    ],
)
def test_a_port_that_is_not_a_scheduler_is_one_line_within_the_deadline(
    capsys, tmp_path, short_deadline, behave, message
):
    endpoint = _Endpoint(behave)
    try:
        line, took = _cli_error(capsys, tmp_path, f"dask://127.0.0.1:{endpoint.port}")
    finally:
        endpoint.close()
    assert message in line and f"tcp://127.0.0.1:{endpoint.port}" in line
    assert took < DEADLINE + 1.5


def test_a_web_server_is_named_as_one(capsys, tmp_path, short_deadline):
    """Python's http.server waits for a request, as Dask's dashboard does: Dask's own client
    hung on it for good, and on a server that answers read 'HTTP/1.1' as a length of
    3.07 EiB."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    try:
        port = web.server_address[1]
        line, took = _cli_error(capsys, tmp_path, f"dask://127.0.0.1:{port}")
    finally:
        web.shutdown()
        web.server_close()
    assert f"tcp://127.0.0.1:{port} is a web server (HTTP), not a Dask scheduler" in line
    assert "8787 is its dashboard" in line
    assert took < 1.5  # asked in HTTP after 0.3 s of silence


# Seconds of the quick check (kept under 90 s idle); CI runs it with the slow tests.
@pytest.mark.slow
def test_a_handshake_then_silence_is_bounded_by_the_same_deadline(short_deadline):
    endpoint = _Endpoint(_handshake_then_silent)
    start = time.monotonic()
    try:
        with (
            pytest.raises(ConfigError, match="could not connect to the Dask scheduler at") as err,
            DaskCluster(f"dask://127.0.0.1:{endpoint.port}"),
        ):
            pass
    finally:
        endpoint.close()
    assert time.monotonic() - start < DEADLINE + 1.5
    assert "within 1.5 s" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_the_default_deadline_holds_in_a_real_process_and_a_real_scheduler_still_connects(
    tmp_path,
):
    """Without any shortening: ``scratchdl sweep`` in a child process against a silent port
    ends within 10 s; and the probe lets a real ``dask scheduler`` through."""
    endpoint = _Endpoint(_silent)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    try:
        argv = ["sweep", "lr", "--executor", f"dask://127.0.0.1:{endpoint.port}"]
        argv += ["--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]
        result = subprocess.run(
            [sys.executable, "-m", "scratchdl", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        endpoint.close()
    took = time.monotonic() - start
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "did not answer as a Dask scheduler within 10 s" in result.stderr
    assert took < 10 + 8  # the deadline, plus starting Python and importing Dask

    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host=127.0.0.1", "--port=0"]
        + ["--no-dashboard", f"--scheduler-file={file}", "--idle-timeout=120s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (file.exists() and "address" in file.read_text()):
            assert scheduler.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        with DaskCluster(address.replace("tcp://", "dask://")) as cluster:
            assert cluster.describe().endswith(
                "0 workers, 0 threads (the trials wait until a worker joins)"
            )
    finally:
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(timeout=30)


@pytest.mark.slow  # a few seconds: the quick check stays under 90 s
def test_a_name_lookup_is_held_to_the_deadline_too(capsys, tmp_path, short_deadline, monkeypatch):
    endpoint = _Endpoint(_closing)
    try:  # a name that resolves still works (here: to a port that is no scheduler)
        line, _ = _cli_error(capsys, tmp_path, f"dask://localhost:{endpoint.port}")
        assert "closed the connection without a word" in line
    finally:
        endpoint.close()
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow.example":
            time.sleep(30)  # a name server that does not answer
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    line, took = _cli_error(capsys, tmp_path, "dask://slow.example:8786")
    assert "no Dask scheduler answered at tcp://slow.example:8786 within 1.5 s" in line
    assert "looking up slow.example took longer than the deadline" in line
    assert took < DEADLINE + 1.5
