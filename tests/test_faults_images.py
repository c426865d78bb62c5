"""Faults with images: formats outside the allow-list (EPS above all, which Pillow would hand to
Ghostscript), pipes and devices, NaN pixels, and many large images at once in the server.

Real files, real child processes and a real server on 127.0.0.1; each test takes well under
5 s.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.errors import ConfigError, DataError
from scratchdl.images import (
    FORMATS,
    ImageBusyError,
    PixelBudget,
    image_to_mnist,
    read_image,
    to_mnist,
)
from scratchdl.io import save_model
from scratchdl.nets import TwoLayerNet
from scratchdl.serve import DigitServer


def _ring(h: int = 120, w: int = 100) -> np.ndarray:
    """A dark ring (a "0") on white paper, uint8 (h, w)."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (0.3 * h), (xx - w / 2) / (0.3 * w))
    return np.where((r <= 1) & (r >= 0.7), 20, 240).astype(np.uint8)


def _encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _fake_gs(tmp_path: Path) -> tuple[Path, Path]:
    """A ``gs`` on PATH that records each call in ``calls.txt``: (its folder, the record)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    record = tmp_path / "calls.txt"
    gs = folder / "gs"
    gs.write_text(f'#!/bin/sh\necho "gs $*" >> "{record}"\nexit 0\n')
    gs.chmod(gs.stat().st_mode | stat.S_IXUSR)
    return folder, record


def _env(bin_folder: Path) -> dict[str, str]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = f"{bin_folder}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def net():
    return TwoLayerNet(784, 16, 10, weight_init_std=0.3, rng=0)


@pytest.fixture
def eps_file(tmp_path) -> Path:
    """A real EPS file (Pillow writes PostScript without Ghostscript)."""
    path = tmp_path / "digit.eps"
    Image.fromarray(_ring()).save(path, format="EPS")
    assert path.read_bytes().startswith(b"%!PS")
    return path


# -- the allow-list --------------------------------------------------------------------------
def test_every_allowed_format_is_read_alike():
    ring = _ring()
    want = to_mnist(ring.astype(np.float32))
    gray = Image.fromarray(ring)
    files = {
        "PNG": _encoded(gray, "PNG"),
        "JPEG": _encoded(gray, "JPEG", quality=95),
        "GIF": _encoded(gray, "GIF"),
        "BMP": _encoded(gray, "BMP"),
        "WEBP": _encoded(gray.convert("RGB"), "WEBP", lossless=True),
        "TIFF": _encoded(gray, "TIFF"),
    }
    assert set(files) == set(FORMATS)
    for fmt, data in files.items():
        got = image_to_mnist(data)
        if fmt == "JPEG":  # lossy: the same as its decoded pixels
            pixels = np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32)
            assert np.abs(got - to_mnist(pixels)).max() < 1e-6
        else:
            assert np.abs(got - want).max() < 1e-6, fmt


def test_a_gif_is_read_by_its_first_frame():
    digit = Image.fromarray(_ring()).convert("P")
    blank = Image.new("P", digit.size, 255)
    data = _encoded(digit, "GIF", save_all=True, append_images=[blank])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert np.abs(image_to_mnist(data) - image_to_mnist(_encoded(digit, "PNG"))).max() < 1e-6


@pytest.mark.parametrize(
    ("fmt", "named"),
    [
        ("EPS", "is a PostScript/EPS file"),
        ("PDF", "is a PDF file"),
        ("ICO", "is an ICO file"),
        ("PSD", None),  # Pillow cannot write PSD: made by hand below
        ("PPM", "is not an image in a known format"),
        ("TGA", "is not an image in a known format"),
        ("PCX", "is not an image in a known format"),
        ("SGI", "is not an image in a known format"),
    ],
)
def test_other_formats_are_refused_by_name_whatever_the_file_is_called(tmp_path, fmt, named):
    if fmt == "PSD":
        data, named = b"8BPS\x00\x01" + bytes(40), "is a Photoshop (PSD) file"
    else:
        data = _encoded(Image.fromarray(_ring()).convert("RGB"), fmt)
    path = tmp_path / "digit.png"  # the name does not matter, the first bytes do
    path.write_bytes(data)
    for source in (path, data):
        with pytest.raises(DataError, match="give a PNG, JPEG, GIF, BMP, WebP or TIFF") as err:
            read_image(source)
        assert named in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_claims_a_format_by_its_first_bytes_but_is_not_one_is_damaged():
    with pytest.raises(DataError, match="damaged or not an image"):
        read_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


@pytest.mark.slow  # a few seconds: the quick check stays under 90 s
def test_eps_is_never_handed_to_ghostscript_in_predict(tmp_path, eps_file, net):
    bin_folder, calls = _fake_gs(tmp_path)
    env = _env(bin_folder)
    # The trap works: plain Pillow on this file runs the fake gs.
    probe = "import sys; from PIL import Image; Image.open(sys.argv[1]).load()"
    subprocess.run(
        [sys.executable, "-c", probe, str(eps_file)], env=env, capture_output=True, timeout=60
    )
    assert calls.is_file() and "gs" in calls.read_text()
    calls.unlink()
    model = tmp_path / "model.npz"
    save_model(net, model)
    disguised = tmp_path / "photo.jpg"
    disguised.write_bytes(eps_file.read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "scratchdl", "predict", str(model), str(eps_file), str(disguised)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert not calls.exists(), calls.read_text()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert all("is a PostScript/EPS file" in line for line in lines)


def test_eps_is_never_handed_to_ghostscript_by_the_server(tmp_path, eps_file, net, monkeypatch):
    from PIL import EpsImagePlugin

    bin_folder, calls = _fake_gs(tmp_path)
    monkeypatch.setenv("PATH", _env(bin_folder)["PATH"])
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks for gs again
    srv = DigitServer(net, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        for kind in ("image/png", "application/octet-stream"):
            status, answer = _post(srv, eps_file.read_bytes(), kind)
            assert status == 400 and "is a PostScript/EPS file" in answer["error"], answer
        status, answer = _post(srv, eps_file.read_bytes(), "application/postscript")
        assert status == 415, answer
    finally:
        srv.shutdown()
        srv.server_close()
    assert not calls.exists()


# -- what a path can be ---------------------------------------------------------------------
def test_a_fifo_or_a_device_is_not_a_regular_file_and_nothing_waits(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    for path in (fifo, Path("/dev/null"), Path("/dev/zero")):
        with pytest.raises(DataError, match="is not a regular file") as err:
            read_image(path)
        assert str(path) in str(err.value) and "does not exist" not in str(err.value)
    assert time.monotonic() - start < 2  # opening the FIFO did not wait for a writer
    with pytest.raises(DataError, match="does not exist"):
        read_image(tmp_path / "nothing.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty.png is empty"):
        read_image(empty)


# -- pixels that are not numbers ------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_tiffs_with_non_finite_pixels_are_refused_in_the_users_words(tmp_path, bad):
    a = np.where(_ring() < 100, 0.1, 0.9).astype(np.float32)
    a[5, 7] = bad
    path = tmp_path / "float.tif"
    Image.fromarray(a, mode="F").save(path)
    with pytest.raises(DataError, match="float.tif has pixels that are not numbers") as err:
        image_to_mnist(path)
    assert "gray" not in str(err.value)
    a[5, 7] = 0.9
    Image.fromarray(a, mode="F").save(path)
    assert image_to_mnist(path).shape == (28, 28)


# -- many images at once ----------------------------------------------------------------------
class _Watched(PixelBudget):
    """A budget that records the most pixels and images it held at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.peak_pixels = self.peak_images = 0

    def hold(self, pixels):
        inner = super().hold(pixels)
        outer = self

        class _Recording:
            def __enter__(self):
                inner.__enter__()
                outer.peak_pixels = max(outer.peak_pixels, outer.busy_pixels)
                outer.peak_images = max(outer.peak_images, outer.busy_images)

            def __exit__(self, *exc):
                return inner.__exit__(*exc)

        return _Recording()


def test_the_pixel_budget_holds_across_threads():
    budget = _Watched(1000, images=2, wait=5)
    inside = []

    def work(pixels):
        with budget.hold(pixels):
            inside.append(pixels)
            time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, [400, 400, 400, 300, 2000, 100, 600, 500]))
    assert sorted(inside) == [100, 300, 400, 400, 400, 500, 600, 2000]
    assert budget.peak_pixels <= 1000 and budget.peak_images <= 2
    assert budget.busy_pixels == 0 and budget.busy_images == 0
    budget.wait = 0.2
    with budget.hold(1000):  # full: the next one waits 0.2 s, then gives up
        start = time.monotonic()
        with pytest.raises(ImageBusyError, match="try again"), budget.hold(1):
            pass
        assert 0.15 < time.monotonic() - start < 2
    with pytest.raises(ConfigError):
        PixelBudget(0)


def _post(srv, body: bytes, kind: str = "image/png", timeout: float = 30):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body=body, headers={"Content-Type": kind})
        response = conn.getresponse()
        answer = json.loads(response.read())
        answer["_retry_after"] = response.getheader("Retry-After")
        return response.status, answer
    finally:
        conn.close()


def test_the_server_decodes_a_bounded_number_of_pixels_at_once(net):
    srv = DigitServer(net, "127.0.0.1", 0)
    srv.budget = budget = _Watched(3_000_000, images=4, wait=30)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    big = np.full((1200, 1200), 240, np.uint8)  # 1.44 Mpx: two fit in the budget, not three
    big[300:900, 500:700] = 20
    data = _encoded(Image.fromarray(big), "PNG")
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: _post(srv, data), range(6)))
        assert [status for status, _ in results] == [200] * 6
        assert budget.peak_pixels <= 3_000_000 and budget.peak_images <= 2
        # No room within the wait: 503 JSON with Retry-After, and the server goes on.
        srv.budget = PixelBudget(3_000_000, images=1, wait=0.2)
        with srv.budget.hold(1):
            status, answer = _post(srv, data)
        assert status == 503 and "busy" in answer["error"] and answer["_retry_after"] == "2"
        assert _post(srv, data)[0] == 200
        # Bodies are bounded too: with every body slot taken, the next upload is not read.
        taken = 0
        while srv.bodies.acquire(blocking=False):
            taken += 1
        try:
            status, answer = _post(srv, data)
        finally:
            for _ in range(taken):
                srv.bodies.release()
        assert taken == 8 and status == 503 and "busy" in answer["error"]
        assert _post(srv, data)[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_a_binary_stream_that_cannot_seek_is_read_too():
    class Stream(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(b)

    png = _encoded(Image.fromarray(_ring()), "PNG")
    assert not Stream(png).seekable()
    assert np.array_equal(image_to_mnist(Stream(png)), image_to_mnist(png))
    with pytest.raises(DataError, match="is a PostScript/EPS file"):
        image_to_mnist(Stream(b"%!PS-Adobe-3.0 EPSF-3.0\n"))
