"""Draw a digit in the browser: ``scratchdl serve`` and ``scratchdl export-web``.

``serve`` runs a local web page on the standard library's :class:`~http.server.ThreadingHTTPServer`
(no framework): draw with mouse, pen or finger or upload a photo, and see the network's answer,
the ten probabilities and the 28x28 image it was given, live. The page asks ``POST /predict``,
which runs :func:`scratchdl.images.image_to_mnist` and the network in Python, so it works with
every model kind. ``export-web`` writes the same page as static files that run the same
preprocessing (``static/mnist.js``) and an MLP's forward pass in the browser, for any static host.

The JSON API (also usable with ``curl``)::

    POST /predict
      Content-Type: application/json    {"image": "<data: URL or base64 of a PNG/JPEG/...>"}
      Content-Type: image/png, image/jpeg, ... or application/octet-stream: the file's bytes
    200 {"prediction": 7, "probabilities": [10 floats], "input": [[28 floats] x 28]}
    4xx {"error": "one sentence naming the problem and the fix"}
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl.checks import check_positive_int
from scratchdl.errors import DataError, ModelFileError, ScratchdlError, ShapeError
from scratchdl.images import BlankImageError, ImageBusyError, PixelBudget

__all__ = [
    "MAX_BODY",
    "MAX_PIXELS",
    "DigitServer",
    "find_model",
    "load_any_model",
    "page_file",
    "predict_image",
]

MAX_BODY = 8 * 1024 * 1024  #: largest request body, bytes (a phone photo, base64-encoded)
MAX_PIXELS = 40_000_000  #: largest image, pixels (a 40-megapixel photo)
#: Pixels decoded at once by all requests together (about 20 bytes each at the peak of
#: decoding and converting, so about 0.8 GB), and images at once; a request that finds no room
#: within BUSY_WAIT seconds gets 503.
PIXEL_BUDGET = 40_000_000
IMAGES_AT_ONCE = 4
BUSY_WAIT = 10.0
#: Request bodies held at once (each up to MAX_BODY, plus its decoded copy), from the moment
#: they are read until they are answered; others wait BUSY_WAIT seconds, then get 503.
BODIES_AT_ONCE = 8
_BUSY = (
    HTTPStatus.SERVICE_UNAVAILABLE,
    "the server is busy reading other images: try again in a few seconds",
    {"Retry-After": "2"},
)
#: Files of the page, by URL path; nothing else is served.
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/mnist.js": ("mnist.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
#: Where ``scratchdl serve`` looks for a model when none is given, relative to the current
#: folder; the most recently written one wins.
MODEL_PLACES = ("model.npz", "*/model.npz", "runs/*/model.npz")
MODEL_HINT = "train one with 'scratchdl train --out runs/first' (about 10 s) and run this again"
_PAGE_MARK = "<!--scratchdl:model-->"


def page_file(name: str) -> str:
    """Text of one file of the page (``index.html``, ``app.js``, ``mnist.js``, ``style.css``)."""
    return resources.files("scratchdl.serve").joinpath("static", name).read_text(encoding="utf-8")


def find_model(folder: str | Path = ".") -> Path:
    """The most recently written ``model.npz`` in ``folder``, its subfolders or ``runs/*``.

    Raises
    ------
    ModelFileError
        If there is none, saying how to make one.
    """
    folder = Path(folder)
    found = {p for pattern in MODEL_PLACES for p in folder.glob(pattern) if p.is_file()}
    if not found:
        places = ", ".join(str(folder / p) for p in MODEL_PLACES)
        raise ModelFileError(f"no model found (looked for {places}): {MODEL_HINT}")
    return max(found, key=lambda p: (p.stat().st_mtime, str(p)))


def load_any_model(path: str | Path) -> Any:
    """What every command that uses a model accepts: a scratchdl model file (``model.npz``), a
    run folder (its newest ``model.npz``, as :func:`find_model` finds it), or the book's pickled
    weights (``sample_weight.pkl``, ``params.pkl``, ``deep_convnet_params.pkl``)."""
    from scratchdl.io import load_book_weights, load_model

    path = Path(path)
    if path.is_dir():
        path = find_model(path)
    if path.suffix == ".pkl" and path.is_file():
        return load_book_weights(path)
    return load_model(path)


def predict_image(
    net: Any,
    data: bytes,
    lock: threading.Lock | None = None,
    budget: PixelBudget | None = None,
) -> dict[str, Any]:
    """What ``POST /predict`` answers for the image file ``data``: prediction, probabilities
    and the 28x28 input, as JSON-ready Python values.

    ``lock`` serialises the network: its layers keep their last input for ``backward``, so two
    threads must not run ``predict`` at the same time. ``budget`` bounds the pixels decoded at
    once by all threads (see :class:`scratchdl.images.PixelBudget`).
    """
    from scratchdl.images import digit_probabilities, image_to_mnist

    x = image_to_mnist(data, max_pixels=MAX_PIXELS, budget=budget)
    with lock or contextlib.nullcontext():
        try:
            p = digit_probabilities(net, x)
        except ShapeError:  # softmax of scores that are all -inf: no probabilities either
            p = np.full(10, np.nan)
    if not np.isfinite(p).all():
        raise NonFiniteOutputError(
            "the model's output is not a number (NaN or infinite) for this image: its weights "
            "overflow; retrain the model or import its weights again"
        )
    return {
        "prediction": int(p.argmax()),
        "probabilities": [round(float(v), 6) for v in p],
        "input": np.round(x.astype(np.float64), 4).tolist(),
    }


class _ClientError(Exception):
    """A bad request: answered with ``status`` and a JSON error, never a traceback."""

    def __init__(
        self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


#: Control characters (C0, DEL, C1) as ``\\xNN``: what a client sends must not drive the
#: operator's terminal through the server's log.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def _escape(text: str) -> str:
    return text.translate(_CONTROL)


class NonFiniteOutputError(ScratchdlError):
    """The network gave NaN or infinite scores: there is no answer to send."""


def _decode_json_image(body: bytes) -> bytes:
    try:
        request = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise _ClientError(
            HTTPStatus.BAD_REQUEST,
            'the JSON is nested too deeply to read: send {"image": "..."}',
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _ClientError(
            HTTPStatus.BAD_REQUEST, f'the body is not valid JSON ({exc}): send {{"image": "..."}}'
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("image"), str):
        raise _ClientError(
            HTTPStatus.BAD_REQUEST,
            'the JSON must be an object with "image": a data: URL or base64 of a PNG or JPEG',
        )
    text = request["image"]
    if text.startswith("data:"):
        head, _, text = text.partition(",")
        if not head.endswith(";base64"):
            raise _ClientError(HTTPStatus.BAD_REQUEST, '"image" must be a base64 data: URL')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _ClientError(
            HTTPStatus.BAD_REQUEST, '"image" is not valid base64: encode the image file in base64'
        ) from None


class _Handler(BaseHTTPRequestHandler):
    server: DigitServer
    server_version = "scratchdl"
    sys_version = ""
    timeout = 30  # seconds a client may take to send its request before it is dropped
    protocol_version = "HTTP/1.1"

    # -- plumbing ---------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' data: blob:; "
            "style-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        # allow_nan=False: NaN and Infinity are not JSON; predict_image never returns them.
        body = json.dumps(payload, allow_nan=False).encode("utf-8")
        self._send(status, body, "application/json", headers)

    def _error(
        self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._json(status, {"error": message}, headers)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.server.verbose:
            sys.stderr.write(_escape(f"{self.address_string()} {format % args}") + "\n")

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(_escape(f"scratchdl serve: {format % args}") + "\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (unknown method, bad request line, headers too long) as
        JSON like ours, instead of its HTML page."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self.log_error("code %d, message %s", code, message or phrase)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            # A garbled request line: answer with a status line and headers all the same.
            self.request_version = "HTTP/1.0"
        headers = None
        if code == HTTPStatus.NOT_IMPLEMENTED:
            text = (
                f"the method {self.command} is not supported: use GET for the page and "
                "POST /predict"
            )
            headers = {"Allow": "GET, HEAD, POST"}
        else:
            text = f"{phrase.lower()}: {message or explain or phrase}"
        self._error(code, _escape(text), headers)

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            if not self._host_ok():
                raise _ClientError(
                    HTTPStatus.FORBIDDEN,
                    "this server answers only requests addressed to localhost",
                )
            work()
        except _ClientError as exc:
            if self.command == "POST":
                # The body may be unread: it must not be taken for the next request.
                self.close_connection = True
            self._error(exc.status, str(exc), exc.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing to answer
        except Exception as exc:  # noqa: BLE001 - the server must keep serving
            self.log_error("internal error on %s %s: %r", self.command, self.path, exc)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the server log")

    def _host_ok(self) -> bool:
        """On a loopback address, refuse Host names other than localhost's (a web page on
        another site could otherwise reach this server through DNS rebinding)."""
        if not self.server.loopback:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    # -- methods ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._guarded(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"{self.command} is not allowed: use GET for the page and POST /predict",
            {"Allow": "GET, HEAD, POST"},
        )

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/info":
            self._json(HTTPStatus.OK, self.server.info)
            return
        if path == "/predict":
            raise _ClientError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command} /predict is not allowed: POST the image to /predict",
                {"Allow": "POST"},
            )
        if path not in ASSETS:
            raise _ClientError(HTTPStatus.NOT_FOUND, f"{path} is not here: open / for the page")
        name, content_type = ASSETS[path]
        self._send(HTTPStatus.OK, self.server.assets[name], content_type)

    def _post(self) -> None:
        # Any error answer from here on closes the connection (see _guarded).
        path = self.path.split("?", 1)[0]
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise _ClientError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        if path in ASSETS or path == "/info":
            raise _ClientError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"POST {path} is not allowed: GET it, or POST the image to /predict",
                {"Allow": "GET, HEAD"},
            )
        if path != "/predict":
            raise _ClientError(HTTPStatus.NOT_FOUND, f"{path} is not here: POST to /predict")
        try:
            length = int(length_text) if length_text is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            raise _ClientError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header")
        if length > self.server.max_body:
            self._refuse_body(length)
            raise _ClientError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body has {length:,} bytes, more than the {self.server.max_body:,} allowed: "
                "send a smaller image (a photo cropped to the digit)",
            )
        # Bodies held at once (each up to max_body, and a decoded copy): bounded like images.
        if not self.server.bodies.acquire(timeout=self.server.budget.wait):
            self._refuse_body(length)
            raise _ClientError(*_BUSY)
        try:
            answer = self._answer(length)
        finally:
            self.server.bodies.release()
        self._json(HTTPStatus.OK, answer)

    def _answer(self, length: int) -> dict[str, Any]:
        """Read the body of ``length`` bytes and answer it (the JSON-ready dict)."""
        body = self.rfile.read(length)
        if len(body) < length:
            raise _ClientError(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
        kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind == "application/json":
            data = _decode_json_image(body)
        elif kind.startswith("image/") or kind == "application/octet-stream":
            data = body
        else:
            raise _ClientError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {kind or '(none)'} is not understood: send application/json "
                "or the image file itself (image/png, image/jpeg, ...)",
            )
        try:
            answer = predict_image(self.server.net, data, self.server.net_lock, self.server.budget)
        except ImageBusyError:
            raise _ClientError(*_BUSY) from None
        except DataError as exc:
            status = (
                HTTPStatus.UNPROCESSABLE_ENTITY
                if isinstance(exc, BlankImageError)
                else HTTPStatus.BAD_REQUEST
            )
            raise _ClientError(status, str(exc)) from None
        except NonFiniteOutputError as exc:
            self.log_error("%s", exc)
            raise _ClientError(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc)) from None
        except ScratchdlError as exc:
            raise _ClientError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        return answer

    def _refuse_body(self, length: int) -> None:
        """Read and drop a body a little over the limit, so the client, still sending, gets
        our answer instead of a reset connection; a huge one is not read at all."""
        if length <= 2 * self.server.max_body:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)


def _check_finite(net: Any, name: str) -> None:
    """Refuse a network with NaN or infinite weights: it could only answer NaN."""
    arrays = dict(getattr(net, "params", None) or {})
    for layer_name, layer in (getattr(net, "layers", None) or {}).items():
        for attr in getattr(layer, "state_names", ()):  # BatchNorm's running statistics
            arrays[f"{layer_name}/{attr}"] = getattr(layer, attr)
    for key, value in arrays.items():
        a = np.asarray(value)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            raise ModelFileError(
                f"{name} holds NaN or infinite values in {key}: it cannot be served; retrain it "
                "or import its weights again"
            )


class DigitServer(ThreadingHTTPServer):
    """The demo's HTTP server: the page, ``GET /info`` and ``POST /predict`` for one network.

    Parameters
    ----------
    net : Net
        A network mapping (N, 1, 28, 28) images to 10 scores (checked here).
    host, port : str, int
        Where to listen; port 0 picks a free one (see ``server_address``).
    name : str
        Shown on the page (the model's file name).
    max_body : int
        Largest request body in bytes.
    verbose : bool
        Log every request to standard error (errors are always logged).
    """

    daemon_threads = True
    request_queue_size = 128  # 200 parallel clients wait in the queue instead of being reset

    def __init__(
        self,
        net: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        name: str = "model",
        max_body: int = MAX_BODY,
        verbose: bool = False,
    ) -> None:
        from scratchdl.images import check_digit_model

        _check_finite(net, name)
        check_digit_model(net, name)
        check_positive_int(max_body, "max_body")
        self.net = net
        self.net_lock = threading.Lock()
        # Images being decoded at once, and their pixels, across all request threads.
        self.budget = PixelBudget(PIXEL_BUDGET, IMAGES_AT_ONCE, BUSY_WAIT)
        self.bodies = threading.BoundedSemaphore(BODIES_AT_ONCE)
        self.max_body = max_body
        self.verbose = verbose
        self.info = {"model": name, "network": repr(net), "mode": "server"}
        page = page_file("index.html").replace(_PAGE_MARK, "")
        self.assets = {"index.html": page.encode("utf-8")}
        for name_ in ("app.js", "mnist.js", "style.css"):
            self.assets[name_] = page_file(name_).encode("utf-8")
        try:
            self.loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            self.loopback = host == "localhost"
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # One line, never a traceback: a client that vanishes mid-request is not our fault.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            sys.stderr.write(_escape(f"scratchdl serve: error with {client_address[0]}: {exc!r}"))
            sys.stderr.write("\n")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "localhost" if self.loopback else host
        return f"http://{shown}:{port}/"
