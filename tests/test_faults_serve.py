"""Faults at ``scratchdl serve``'s door: terminal escapes in what it logs, JSON it cannot parse
(deep nesting included), methods it does not serve, and networks whose answer is not a number.

A real server in a thread on 127.0.0.1 (port 0), spoken to over raw sockets where
``http.client`` would refuse to send the hostile bytes.
"""

from __future__ import annotations

import io
import json
import pickle
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from scratchdl.errors import ModelFileError
from scratchdl.nets import MultiLayerNetExtend, TwoLayerNet
from scratchdl.serve import DigitServer


def _digit_png() -> bytes:
    yy, xx = np.mgrid[0:120, 0:100]
    r = np.hypot((yy - 60) / 40, (xx - 50) / 30)
    buf = io.BytesIO()
    Image.fromarray(np.where((r <= 1) & (r >= 0.7), 20, 240).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def net():
    return TwoLayerNet(784, 16, 10, weight_init_std=0.3, rng=0)


@pytest.fixture(scope="module")
def server(net):
    """One server for the tests that leave it as they found it (stopping one takes 0.5 s)."""
    with _Running(net) as srv:
        yield srv


class _Running:
    def __init__(self, net, **kwargs):
        self.srv = DigitServer(net, "127.0.0.1", 0, **kwargs)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.srv

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)


def _raw(srv, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is; (status, headers, body) of the answer, read to the close."""
    with socket.create_connection(srv.server_address[:2], timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _strict_json(body: bytes):
    def refuse(name):
        raise AssertionError(f"{name} in a JSON answer")

    return json.loads(body, parse_constant=refuse)


def _post(path: str, body: bytes, kind: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


# -- logs ---------------------------------------------------------------------------------------
def test_terminal_escapes_from_clients_are_escaped_in_the_log(net, capsys):
    class Failing:
        def predict(self, x):
            if x.shape[0] == 1 and Failing.armed:
                raise RuntimeError("boom \x1b[2J")
            return net.predict(x)

    Failing.armed = False
    evil = "/\x1b[31mred\x1b]0;owned\x07\x9b"
    with _Running(Failing(), verbose=True) as srv:
        Failing.armed = True
        status, _, body = _raw(srv, _post(f"/predict?{evil}", _digit_png(), "image/png"))
        assert status == 500 and _strict_json(body)["error"] == "internal error: see the server log"
        status, _, body = _raw(
            srv, f"GET {evil} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        assert status == 404
        status, _, _ = _raw(srv, f"F\x1bOO {evil} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        assert status == 501
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\x9b" not in err
    assert "\\x1b[31mred\\x1b]0;owned\\x07" in err and "\\x9b" in err  # readable, as text
    assert "boom \\x1b[2J" in err


# -- bodies it cannot parse -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"image": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001, "nested too deeply"),
        (b'{"image": NaN}', 'object with "image"'),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"image": "\\ud800"}', "not valid base64"),
    ],
)
def test_any_json_it_cannot_use_is_a_400_json_error(server, body, message):
    status, headers, answer = _raw(server, _post("/predict", body, "application/json"))
    assert status == 400 and headers["content-type"] == "application/json"
    assert message in _strict_json(answer)["error"]
    # The server is fine afterwards.
    assert _raw(server, _post("/predict", _digit_png(), "image/png"))[0] == 200


# -- methods --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_line", "status", "allow", "message"),
    [
        ("GET /predict", 405, "POST", "POST the image to /predict"),
        ("HEAD /predict", 405, "POST", None),
        ("POST /index.html", 405, "GET, HEAD", "GET it"),
        ("PUT /predict", 405, "GET, HEAD, POST", "PUT is not allowed"),
        ("BREW /", 501, "GET, HEAD, POST", "the method BREW is not supported"),
        ("PROPFIND /", 501, "GET, HEAD, POST", "not supported"),
    ],
)
def test_other_methods_get_json_with_an_allow_header(server, request_line, status, allow, message):
    got, headers, body = _raw(
        server, f"{request_line} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode()
    )
    assert got == status and headers["allow"] == allow
    if request_line.startswith("HEAD"):
        assert body == b""
    else:
        assert headers["content-type"] == "application/json"
        assert message in _strict_json(body)["error"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
    ],
)
def test_http_servers_own_refusals_are_json_too(server, raw, status):
    got, headers, body = _raw(server, raw)
    assert got == status and headers["content-type"] == "application/json"
    assert set(_strict_json(body)) == {"error"} and b"<html" not in body.lower()


# -- answers that are not numbers ----------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_a_network_answering_nan_gets_a_500_json_error_never_nan(net, capsys, bad):
    class Overflowing:
        """Passes the startup checks, then answers NaN (or only -inf, which has no softmax)
        for a real image, as a network whose weights overflow does."""

        def predict(self, x):
            y = net.predict(x)
            return y if not x.any() else np.full_like(y, bad)

    with _Running(Overflowing()) as srv:
        status, _, body = _raw(srv, _post("/predict", _digit_png(), "image/png"))
    answer = _strict_json(body)  # no NaN or Infinity constants in it
    assert status == 500 and set(answer) == {"error"}
    assert "the model's output is not a number" in answer["error"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a number" in err and "Traceback" not in err


def test_a_model_with_non_finite_weights_is_refused_at_startup(tmp_path, net):
    bad = TwoLayerNet(784, 16, 10, rng=0)
    bad.params["b2"][3] = np.nan
    with pytest.raises(ModelFileError, match="holds NaN or infinite values in b2"):
        DigitServer(bad, "127.0.0.1", 0, name="bad.npz")
    normed = MultiLayerNetExtend(784, [8], 10, use_batchnorm=True, rng=0)
    normed.layers["BatchNorm1"].running_var[2] = np.inf  # a statistic, not a parameter
    with pytest.raises(ModelFileError, match="in BatchNorm1/running_var: it cannot be served"):
        DigitServer(normed, "127.0.0.1", 0, name="bn.npz")
    weights = {k: v.copy() for k, v in net.params.items()}
    weights["W1"][0, 0] = np.inf
    pkl = tmp_path / "weights.pkl"
    pkl.write_bytes(pickle.dumps(weights))
    result = subprocess.run(
        [sys.executable, "-m", "scratchdl", "serve", str(pkl), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "W1 holds 1 NaN or infinite values" in result.stderr
