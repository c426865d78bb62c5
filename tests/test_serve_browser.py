"""The digit page in headless Chromium: drawn digits, uploaded photos, the static export.

``scratchdl serve`` and ``scratchdl export-web`` pages are driven with real pointer events
(mouse, pen and finger) and file uploads; the page's answers, its console and a screenshot are
checked, and the exported page's JavaScript is compared with NumPy on the same images. Needs
chromium, chromium-driver and MNIST (SCRATCHDL_DATA_DIR); skipped otherwise.
"""

from __future__ import annotations

import base64
import math
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _browser import (
    WINDOW,
    By,
    WebDriverWait,
    chromium,
    console_errors,
    draw,
    needs_browser,
    wait_for_prediction,
)
from _digit_images import MAKERS
from scratchdl.images import digit_probabilities, image_to_mnist

pytestmark = [pytest.mark.slow, needs_browser]

# Digits drawn stroke by stroke on the 280x280 pad, as a person would: (x, y) corners.
STROKES = {
    7: [[(70, 60), (210, 60), (130, 240)]],
    0: [
        [
            (140 + 60 * math.sin(2 * math.pi * k / 24), 145 - 95 * math.cos(2 * math.pi * k / 24))
            for k in range(25)
        ]
    ],
    4: [[(110, 40), (80, 170), (210, 170)], [(175, 90), (170, 250)]],
    3: [
        [(80, 60), (140, 40), (200, 70), (190, 120), (130, 140), (200, 170), (200, 220)]
        + [(140, 250), (80, 230)]
    ],
}
POINTERS = ("mouse", "pen", "touch", "mouse")  # one digit with each kind of pointer
BAR_RED = np.array([0xE4, 0x57, 0x56])  # the top bar's colour in style.css


@pytest.fixture(scope="module")
def server(default_model):
    from scratchdl.serve import DigitServer, load_any_model

    srv = DigitServer(load_any_model(default_model), "127.0.0.1", 0, name="model.npz")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def mnist_test():
    from scratchdl.data import load_mnist

    _, (x, t) = load_mnist(normalize=False, flatten=False)
    return x[:, 0], t


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory, mnist_test):
    """A JPEG phone photo of test digit 0 (a 7): tinted paper, uneven light, noise, blur."""
    x, t = mnist_test
    path = tmp_path_factory.mktemp("photo") / "photo-of-a-digit.jpg"
    path.write_bytes(MAKERS["photo"](x[0], np.random.default_rng(5)))
    return path, int(t[0])


def _top_bar_pixels(shot: Path) -> int:
    """Pixels of the top bar's colour in a screenshot (the page uses it nowhere else)."""
    with Image.open(shot) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return int((np.abs(rgb - BAR_RED).max(axis=2) <= 6).sum())


def _keep(shot: Path, name: str) -> None:
    folder = os.environ.get("SCRATCHDL_SCREENSHOT_DIR")
    if folder:
        shutil.copy(shot, Path(folder) / name)


def _draw_digits(driver, tmp_path: Path, prefix: str) -> None:
    pad = driver.find_element(By.ID, "pad")
    for (digit, strokes), kind in zip(STROKES.items(), POINTERS, strict=True):
        driver.find_element(By.ID, "clear").click()
        draw(driver, pad, strokes, kind)
        assert wait_for_prediction(driver) == digit, f"drew {digit} with a {kind}"
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
        widths = [b.rect["width"] for b in bars]
        assert len(widths) == 10 and int(np.argmax(widths)) == digit
        seen = driver.execute_script("return window.scratchdl.last.input")
        assert np.asarray(seen).shape == (28, 28) and np.asarray(seen).max() > 0.99
    shot = tmp_path / f"{prefix}-drawn.png"
    driver.save_screenshot(str(shot))
    with Image.open(shot) as img:
        assert img.size[0] == WINDOW[0] and img.size[1] > 500  # the viewport
    assert _top_bar_pixels(shot) > 1000, "the bar chart's top bar is not in the screenshot"
    _keep(shot, f"{prefix}-drawn.png")


def _upload(driver, photo_file, tmp_path: Path, prefix: str) -> None:
    path, label = photo_file
    driver.find_element(By.ID, "upload").send_keys(str(path))
    status = driver.find_element(By.ID, "status")
    WebDriverWait(driver, 30).until(
        lambda d: "reads" in status.text or "error" in status.get_attribute("class")
    )
    assert f"the network reads {label}" in status.text, status.text
    assert driver.find_element(By.ID, "prediction").get_attribute("data-prediction") == str(label)
    shot = tmp_path / f"{prefix}-photo.png"
    driver.save_screenshot(str(shot))
    assert _top_bar_pixels(shot) > 1000
    _keep(shot, f"{prefix}-photo.png")


def test_served_page_reads_drawn_digits_and_a_photo(server, photo_file, tmp_path):
    with chromium(tmp_path / "profile") as driver:
        driver.get(server.url)
        model = driver.find_element(By.ID, "model")
        WebDriverWait(driver, 30).until(lambda d: "Model: model.npz" in model.text)
        # The network and the test accuracy its file records, as the exported page says them.
        about = driver.find_element(By.ID, "about").text
        assert "Net, " in about and "affine 10" in about, about
        assert "(recorded when the model was trained, on the mnist test set)" in about, about
        _draw_digits(driver, tmp_path, "serve")
        assert driver.find_element(By.ID, "took").text == ""  # computed by the server
        _upload(driver, photo_file, tmp_path, "serve")
        assert console_errors(driver) == []


@pytest.fixture(scope="module")
def exported(default_model, tmp_path_factory):
    from scratchdl.cli import main

    out = tmp_path_factory.mktemp("export") / "site"
    assert main(["export-web", str(default_model), "--out", str(out)]) == 0
    return out


def test_exported_page_reads_drawn_digits_and_a_photo_without_a_server(
    exported, photo_file, tmp_path
):
    with chromium(tmp_path / "profile") as driver:
        driver.get((exported / "index.html").as_uri())
        assert "no server" in driver.find_element(By.ID, "model").text
        assert "recorded when the model was trained" in driver.find_element(By.ID, "about").text
        _draw_digits(driver, tmp_path, "export")
        took = driver.find_element(By.ID, "took").text  # the network's time, computed here
        assert re.fullmatch(r"the network took \d+\.\d ms in this browser", took), took
        _upload(driver, photo_file, tmp_path, "export")
        assert console_errors(driver) == []


def _data_url(data: bytes) -> str:
    kind = "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def test_exported_page_computes_what_numpy_computes(exported, default_model, mnist_test, tmp_path):
    """Same images, same answers: the page's preprocessing (JavaScript) against
    scratchdl.images (pixels), and its forward pass against NumPy (probabilities, 1e-5)."""
    from scratchdl.io import load_model

    net = load_model(default_model)
    x, _ = mnist_test
    rng = np.random.default_rng(11)
    files = [MAKERS[kind](x[i], rng) for i, kind in enumerate(sorted(MAKERS) * 3)]
    pixel_diff, prob_diff, forward_diff = [], [], []
    with chromium(tmp_path / "profile") as driver:
        driver.get((exported / "index.html").as_uri())
        for data in files:
            ours = image_to_mnist(data)
            theirs = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "window.scratchdl.classifyURL(arguments[0]).then(done, e => done(String(e)));",
                _data_url(data),
            )
            assert isinstance(theirs, dict), theirs
            js_x = np.asarray(theirs["input"])
            pixel_diff.append(float(np.abs(js_x - ours).max()))
            p = digit_probabilities(net, ours)
            prob_diff.append(float(np.abs(np.asarray(theirs["probabilities"]) - p).max()))
            # The forward pass alone, on the very same input.
            js_p = driver.execute_script(
                "const m = ScratchdlNet.loadModel(window.SCRATCHDL_MODEL);"
                "return ScratchdlNet.forward(m, arguments[0]);",
                ours.ravel().tolist(),
            )
            forward_diff.append(float(np.abs(np.asarray(js_p) - p).max()))
        assert console_errors(driver) == []
    print(
        f"max |JS - Python| over {len(files)} images: input pixels {max(pixel_diff):.2e}, "
        f"probabilities {max(prob_diff):.2e}; forward pass alone {max(forward_diff):.2e}"
    )
    assert max(forward_diff) <= 1e-5
    assert max(pixel_diff) <= 1 / 255  # within one grey level of 255
    assert max(prob_diff) <= 1e-5
