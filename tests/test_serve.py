"""``scratchdl serve``'s HTTP server and ``export-web``, without a browser.

The server runs in a thread on a free loopback port with a small untrained network, so these
tests need neither MNIST nor Chromium.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.cli import main
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.images import image_to_mnist
from scratchdl.io import save_model
from scratchdl.nets import SimpleNet, TwoLayerNet
from scratchdl.serve import MAX_BODY, DigitServer, find_model, page_file
from scratchdl.serve.export import export_web, web_model


def _digit_png(shift: int = 0) -> bytes:
    """A dark ring (a "0") on white paper, somewhere on a 200x160 page."""
    yy, xx = np.mgrid[0:200, 0:160]
    r = np.hypot((yy - 90 - shift) / 60, (xx - 70 - shift) / 40)
    page = np.where((r <= 1) & (r >= 0.75), 20, 245).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG")
    return buf.getvalue()


def _blank_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((280, 280), 255, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def net():
    return TwoLayerNet(784, 16, 10, weight_init_std=0.3, rng=0)


@pytest.fixture(scope="module")
def server(net):
    srv = DigitServer(net, "127.0.0.1", 0, name="tiny.npz")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def request(server, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh connection: (status, JSON or bytes, headers)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        payload = json.loads(data) if kind.startswith("application/json") else data
        return response.status, payload, response
    finally:
        conn.close()


def post_json(server, obj, **kw):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return request(server, "POST", "/predict", body, {"Content-Type": "application/json"}, **kw)


def _expected(net, data: bytes):
    from scratchdl.images import digit_probabilities

    return digit_probabilities(net, image_to_mnist(data))


def test_predict_answers_json_and_raw_images_like_the_library(server, net):
    data = _digit_png()
    p = _expected(net, data)
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    for body, kind in (
        (json.dumps({"image": url}).encode(), "application/json"),
        (json.dumps({"image": base64.b64encode(data).decode()}).encode(), "application/json"),
        (data, "image/png"),
        (data, "application/octet-stream"),
    ):
        status, answer, _ = request(server, "POST", "/predict", body, {"Content-Type": kind})
        assert status == 200, answer
        assert answer["prediction"] == int(p.argmax())
        np.testing.assert_allclose(answer["probabilities"], p, atol=1e-6)
        seen = np.asarray(answer["input"])
        assert seen.shape == (28, 28)
        np.testing.assert_allclose(seen, image_to_mnist(data), atol=1e-4)


def test_the_page_and_nothing_else_is_served(server):
    status, page, response = request(server, "GET", "/")
    assert status == 200 and b'<canvas id="pad"' in page
    assert b"<!--scratchdl:model-->" not in page and b"model.js" not in page
    assert response.getheader("Content-Type").startswith("text/html")
    assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    for path, kind in (("/app.js", "text/javascript"), ("/mnist.js", "text/javascript")):
        status, body, response = request(server, "GET", path)
        assert status == 200 and response.getheader("Content-Type").startswith(kind)
        assert body.decode() == page_file(path[1:])
    status, info, _ = request(server, "GET", "/info")
    assert status == 200 and info["model"] == "tiny.npz" and "784-16-10" in info["network"]
    for path in ("/../pyproject.toml", "/static/app.js", "/etc/passwd", "/model.js", "/%2e%2e/"):
        status, answer, _ = request(server, "GET", path)
        assert status == 404 and "is not here" in answer["error"]
    status, answer, _ = request(server, "DELETE", "/")
    assert status == 405 and "POST /predict" in answer["error"]
    status, answer, _ = request(server, "POST", "/elsewhere", b"{}", {"Content-Type": "x"})
    assert status == 404


def test_requests_for_another_host_name_are_refused(server):
    """A page on another site cannot reach the server by pointing its name at 127.0.0.1."""
    status, answer, _ = request(server, "GET", "/", headers={"Host": "attacker.example:8000"})
    assert status == 403 and "localhost" in answer["error"]
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert request(server, "GET", "/info", headers={"Host": host})[0] == 200


@pytest.mark.parametrize(
    ("body", "kind", "status", "message"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b'["image"]', "application/json", 400, 'object with "image"'),
        (b'{"image": 7}', "application/json", 400, 'object with "image"'),
        (b'{"image": "%%%"}', "application/json", 400, "not valid base64"),
        (b'{"image": "data:image/png,abc"}', "application/json", 400, "base64 data: URL"),
        (
            json.dumps({"image": base64.b64encode(b"GIF89a junk").decode()}).encode(),
            "application/json",
            400,
            "not an image",
        ),
        (
            b"plain text, not a picture",
            "image/png",
            400,
            "is not an image in a known format",
        ),
        (b"", "image/png", 400, "empty"),
        (b"hello", "text/plain", 415, "Content-Type text/plain is not understood"),
        (_blank_png(), "image/png", 422, "no digit found"),
    ],
)
def test_bad_requests_get_a_4xx_json_error(server, body, kind, status, message):
    got, answer, _ = request(server, "POST", "/predict", body, {"Content-Type": kind})
    assert got == status
    assert set(answer) == {"error"} and message in answer["error"]
    assert "Traceback" not in answer["error"] and "\n" not in answer["error"]


def test_an_empty_canvas_from_the_page_is_a_422(server):
    """What the page's pad sends before anything is drawn: a white 280x280 PNG."""
    url = "data:image/png;base64," + base64.b64encode(_blank_png()).decode()
    status, answer, _ = post_json(server, {"image": url})
    assert status == 422 and answer["error"].startswith("no digit found")


def test_oversize_and_unannounced_bodies_are_refused(server):
    status, answer, _ = request(
        server, "POST", "/predict", b"x" * (MAX_BODY + 1), {"Content-Type": "image/png"}
    )
    assert status == 413 and f"more than the {MAX_BODY:,} allowed" in answer["error"]
    # A claimed size far beyond the limit is refused before a byte of it is read.
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", "image/png")
    conn.putheader("Content-Length", str(10**12))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and b"1,000,000,000,000 bytes" in response.read()
    conn.close()
    for headers in ({"Content-Length": "-5"}, {"Content-Length": "many"}):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.putrequest("POST", "/predict", skip_accept_encoding=True)
        for key, value in {"Content-Type": "image/png", **headers}.items():
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 411, headers
        response.read()
        conn.close()
    assert request(server, "GET", "/info")[0] == 200  # still serving


def test_a_slow_client_cannot_hold_a_request_forever(net):
    srv = DigitServer(net, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        import socket

        with socket.create_connection(srv.server_address[:2], timeout=10) as s:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")
            # ... and never sends the body: other clients are still answered meanwhile.
            status, _, _ = request(srv, "GET", "/info", timeout=5)
            assert status == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_200_parallel_requests_are_each_answered_correctly(server, net):
    """A mix of good images, bad JSON, non-images, empty canvases and oversize bodies,
    200 at once over loopback (32 client threads): each gets its own right answer."""
    digits = [_digit_png(shift) for shift in range(5)]
    expected = [int(_expected(net, d).argmax()) for d in digits]
    blank = _blank_png()

    def one(i: int):
        kind = i % 5
        if kind == 0:
            status, answer, _ = request(
                server, "POST", "/predict", digits[i % 25 // 5], {"Content-Type": "image/png"}
            )
            return status == 200 and answer["prediction"] == expected[i % 25 // 5]
        if kind == 1:
            status, answer, _ = post_json(server, b"{broken")
            return status == 400 and "not valid JSON" in answer["error"]
        if kind == 2:
            status, answer, _ = post_json(server, {"image": base64.b64encode(b"nope").decode()})
            return status == 400 and "not an image" in answer["error"]
        if kind == 3:
            status, answer, _ = request(
                server, "POST", "/predict", blank, {"Content-Type": "image/png"}
            )
            return status == 422 and "no digit found" in answer["error"]
        status, answer, _ = request(
            server, "POST", "/predict", b"0" * (MAX_BODY + 10), {"Content-Type": "image/png"}
        )
        return status == 413

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(200)))
    assert all(results), [i for i, ok in enumerate(results) if not ok]
    assert request(server, "GET", "/info")[0] == 200  # alive afterwards
    status, answer, _ = request(
        server, "POST", "/predict", digits[0], {"Content-Type": "image/png"}
    )
    assert status == 200 and answer["prediction"] == expected[0]


def test_the_server_refuses_models_that_do_not_read_digits():
    with pytest.raises(ShapeError, match="maps 2 inputs to 3 classes"):
        DigitServer(SimpleNet(rng=0), "127.0.0.1", 0)
    with pytest.raises(ShapeError, match="maps 784 inputs to 5 classes"):
        DigitServer(TwoLayerNet(784, 4, 5, rng=0), "127.0.0.1", 0)


def test_find_model_takes_the_newest_and_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelFileError, match="scratchdl train --out runs/first"):
        find_model(tmp_path)
    net = TwoLayerNet(784, 4, 10, rng=0)
    old = save_model(net, tmp_path / "run" / "model.npz")
    new = save_model(net, tmp_path / "runs" / "second" / "model.npz")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert find_model(tmp_path) == new
    os.utime(new, (time.time() - 200, time.time() - 200))
    assert find_model(tmp_path) == old


def test_serve_without_a_model_gives_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model found" in err and "scratchdl train --out" in err
    assert main(["serve", "missing.npz"]) == 2
    assert "missing.npz does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--port", "many"])
    assert main(["serve", str(tmp_path / "x.npz"), "--port", "70000"]) == 2


def test_serve_starts_on_localhost_and_stops_on_ctrl_c(tmp_path):
    """The real command in a child process: it prints its address, answers, stops cleanly."""
    model = save_model(TwoLayerNet(784, 4, 10, rng=0), tmp_path / "runs" / "a" / "model.npz")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scratchdl", "serve", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {Path('runs/a/model.npz')} at http://localhost:")
        port = int(line.rsplit(":", 1)[1].strip(" /\n"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/info")
        assert json.loads(conn.getresponse().read())["model"] == str(Path("runs/a/model.npz"))
        conn.close()
    finally:
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err
    assert model.is_file()


def test_export_web_writes_a_small_self_contained_page(tmp_path, net):
    sizes = export_web(net, tmp_path / "site", name="tiny.npz")
    files = sorted(p.name for p in (tmp_path / "site").iterdir())
    assert files == ["app.js", "index.html", "mnist.js", "model.js", "style.css"]
    page = (tmp_path / "site" / "index.html").read_text()
    assert '<script src="model.js"></script>' in page and "http" not in page.split("<body")[1]
    js = (tmp_path / "site" / "model.js").read_text()
    model = json.loads(js.removeprefix("window.SCRATCHDL_MODEL = ").rstrip(";\n"))
    assert [layer["type"] for layer in model["layers"]] == ["affine", "relu", "affine"]
    weights = np.frombuffer(base64.b64decode(model["weights"]), dtype="<f4")
    n = 784 * 16 + 16 + 16 * 10 + 10
    assert weights.size == n and model["weight_bytes"] == 4 * n
    np.testing.assert_array_equal(weights[: 784 * 16], net.params["W1"].ravel())
    assert sizes["model.js"] < 4 * n * 1.4 + 500  # base64: 4/3 of the float32 bytes


def test_export_web_takes_the_books_sigmoid_weights_and_refuses_other_layers(tmp_path):
    book = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    if book:
        from scratchdl.io import load_book_weights

        spec = web_model(load_book_weights(book))
        assert [layer["type"] for layer in spec["layers"]] == [
            "affine",
            "sigmoid",
            "affine",
            "sigmoid",
            "affine",
        ]

    class Conv:
        pass

    class Fake:
        layers = {"Conv1": Conv()}

    with pytest.raises(ConfigError, match="has a Conv layer: use 'scratchdl serve'"):
        web_model(Fake(), "cnn.npz")


def test_export_web_command(tmp_path, capsys, net):
    model = save_model(net, tmp_path / "m.npz")
    assert main(["export-web", str(model), "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert "model.js" in out and "KiB" in out and (tmp_path / "site" / "index.html").is_file()
    assert main(["export-web", str(tmp_path / "none.npz"), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_pip_install_ships_the_page(tmp_path):
    """The page's files are package data: a wheel built from the tree contains them."""
    pytest.importorskip("setuptools")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr[-300:]}")
    import zipfile

    (wheel,) = tmp_path.glob("scratchdl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("index.html", "app.js", "mnist.js", "style.css"):
        assert f"scratchdl/serve/static/{name}" in names


def test_an_unexpected_failure_is_a_500_json_error_and_the_server_goes_on(net, capsys):
    class Flaky:
        """A network that works when checked and then fails once."""

        failing = False

        def predict(self, x):
            if self.failing:
                self.failing = False
                raise RuntimeError("out of cheese")
            return net.predict(x)

    flaky = Flaky()
    srv = DigitServer(flaky, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        flaky.failing = True
        status, answer, _ = request(
            srv, "POST", "/predict", _digit_png(), {"Content-Type": "image/png"}
        )
        assert status == 500 and answer == {"error": "internal error: see the server log"}
        status, answer, _ = request(
            srv, "POST", "/predict", _digit_png(), {"Content-Type": "image/png"}
        )
        assert status == 200 and answer["prediction"] == int(_expected(net, _digit_png()).argmax())
    finally:
        srv.shutdown()
        srv.server_close()
    err = capsys.readouterr().err
    assert "out of cheese" in err and "Traceback" not in err and err.count("\n") == 1


class _ImageNet:
    """Stands for a CNN: it takes only (N, 1, 28, 28) images, as SimpleConvNet does."""

    def __init__(self, net):
        self.net = net
        self.seen = []

    def predict(self, x):
        assert x.ndim == 4 and x.shape[1:] == (1, 28, 28), x.shape
        self.seen.append(x.shape)
        return self.net.predict(x.reshape(len(x), -1))


def test_networks_that_take_images_are_served_as_they_are(net):
    cnn = _ImageNet(net)
    srv = DigitServer(cnn, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        status, answer, _ = request(
            srv, "POST", "/predict", _digit_png(), {"Content-Type": "image/png"}
        )
    finally:
        srv.shutdown()
        srv.server_close()
    assert status == 200 and answer["prediction"] == int(_expected(net, _digit_png()).argmax())
    assert cnn.seen[-1] == (1, 1, 28, 28)


def test_the_books_weights_are_served_directly_and_after_import_weights(tmp_path, capsys):
    book = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    if not book:
        pytest.skip("SCRATCHDL_BOOK_WEIGHTS is not set")
    from scratchdl.io import load_book_weights
    from scratchdl.serve import load_any_model

    assert main(["import-weights", book, str(tmp_path / "book.npz")]) == 0
    expected = _expected(load_book_weights(book), _digit_png())
    for source in (book, tmp_path / "book.npz"):
        srv = DigitServer(load_any_model(source), "127.0.0.1", 0, name=str(source))
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            status, answer, _ = request(
                srv, "POST", "/predict", _digit_png(), {"Content-Type": "image/png"}
            )
            info = request(srv, "GET", "/info")[1]
        finally:
            srv.shutdown()
            srv.server_close()
        assert status == 200, answer
        np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-6)
        assert "784-50-100-10" in info["network"] and "sigmoid" in info["network"]
