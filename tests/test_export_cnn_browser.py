"""The exported page's CNNs in headless Chromium: net.js against NumPy on 100 digits.

Networks: the book's ``params.pkl`` (SimpleConvNet) and ``deep_convnet_params.pkl``
(DeepConvNet) when found beside ``SCRATCHDL_BOOK_WEIGHTS``, else randomly initialised nets of
both kinds; always two SimpleConvNets with strided, padded convolutions (5x5 and 3x3) and one
with overlapping, padded pooling windows (the book's nets have neither); an MLP and a
SimpleConvNet with batch normalisation (per feature, per channel). Digits: 100 MNIST test
digits when ``SCRATCHDL_DATA_DIR`` is set, else 100 deterministic synthetic ones. Needs
chromium, chromium-driver and selenium; skipped otherwise.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _browser import By, chromium, console_errors, needs_browser
from scratchdl.images import digit_probabilities, image_to_mnist
from scratchdl.layers import BatchNormalization, Pooling
from scratchdl.nets import DeepConvNet, MultiLayerNetExtend, SimpleConvNet
from scratchdl.serve.about import model_about
from scratchdl.serve.export import export_web, web_model

pytestmark = [pytest.mark.slow, needs_browser]

N_DIGITS = 100


def _odd_net() -> SimpleConvNet:
    """Stride 2 and pad 2 in the convolution (28 -> 14), then 3x3 pooling windows with
    stride 2 and pad 1 (14 -> 7, windows overlap, borders padded with -inf)."""
    net = SimpleConvNet(
        conv_param={"filter_num": 6, "filter_size": 5, "pad": 2, "stride": 2},
        hidden_size=32,
        weight_init_std="he",
        rng=3,
    )
    net.layers["Pool1"] = Pooling(3, 3, stride=2, pad=1)
    return net


def _with_statistics(net):
    """Running statistics of batch normalisation from 20 training-mode passes over random
    strokes (zero statistics would divide by sqrt(1e-6))."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = (rng.random((50, 1, 28, 28)) < 0.15).astype(np.float32)
        net.predict(x, train_flg=True)
    return net


def _batch_norm_cnn() -> SimpleConvNet:
    """SimpleConvNet with a per-channel BatchNormalization after its convolution."""
    from collections import OrderedDict

    net = SimpleConvNet(
        conv_param={"filter_num": 6, "filter_size": 5, "pad": 0, "stride": 1},
        hidden_size=24,
        weight_init_std="he",
        rng=6,
    )
    gen = np.random.default_rng(7)
    bn = BatchNormalization(
        (1 + 0.2 * gen.standard_normal(6)).astype(np.float32),
        (0.1 * gen.standard_normal(6)).astype(np.float32),
    )
    layers = list(net.layers.items())
    net.layers = OrderedDict([layers[0], ("BatchNorm1", bn), *layers[1:]])
    return _with_statistics(net)


def _nets() -> dict[str, object]:
    nets: dict[str, object] = {}
    book = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    if book:
        from scratchdl.io import load_book_weights

        for name in ("params.pkl", "deep_convnet_params.pkl"):
            path = Path(book).parent / name
            if path.is_file():
                nets[name] = load_book_weights(path)
    if "params.pkl" not in nets:
        nets["random SimpleConvNet"] = SimpleConvNet(weight_init_std="he", rng=1)
    if "deep_convnet_params.pkl" not in nets:
        nets["random DeepConvNet"] = DeepConvNet(rng=2)
    nets["strided SimpleConvNet"] = _odd_net()
    # 3x3 filters take net.js's written-out path; here with stride 2 and pad 1 (28 -> 14).
    nets["batch-norm MLP"] = _with_statistics(
        MultiLayerNetExtend(784, [40, 30], 10, use_batchnorm=True, use_dropout=True, rng=8)
    )
    nets["batch-norm SimpleConvNet"] = _batch_norm_cnn()
    nets["strided 3x3 SimpleConvNet"] = SimpleConvNet(
        conv_param={"filter_num": 5, "filter_size": 3, "pad": 1, "stride": 2},
        hidden_size=16,
        weight_init_std="he",
        rng=4,
    )
    return nets


NETS = _nets()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One headless Chromium for the module; each test opens its own exported page."""
    with chromium(tmp_path_factory.mktemp("profile")) as browser:
        yield browser


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """(100, 28, 28) float32 in [0, 1]."""
    if os.environ.get("SCRATCHDL_DATA_DIR"):
        from scratchdl.data import load_mnist

        _, (x, _) = load_mnist(flatten=False)
        return x[:N_DIGITS, 0]
    # Strokes: a few random segments, blurred by a 3x3 box, on black.
    rng = np.random.default_rng(0)
    out = np.zeros((N_DIGITS, 28, 28), np.float32)
    yy, xx = np.mgrid[0:28, 0:28]
    for img in out:
        for _ in range(rng.integers(2, 5)):
            (y0, x0), (y1, x1) = rng.uniform(5, 23, (2, 2))
            s = np.clip(
                ((yy - y0) * (y1 - y0) + (xx - x0) * (x1 - x0))
                / ((y1 - y0) ** 2 + (x1 - x0) ** 2 + 1e-9),
                0,
                1,
            )
            d = np.hypot(yy - (y0 + s * (y1 - y0)), xx - (x0 + s * (x1 - x0)))
            img[:] = np.maximum(img, np.clip(2.0 - d, 0, 1))
    return out


@pytest.mark.parametrize("name", list(NETS))
def test_the_page_computes_numpys_probabilities(name, digits, driver, tmp_path):
    net = NETS[name]
    about = model_about(net)
    sizes = export_web(net, tmp_path / "site", name=name, about=about)
    if isinstance(net, DeepConvNet):
        assert sum(sizes.values()) < 1.5e6
    if "batch-norm" in name:
        assert "batchnorm" in [layer["type"] for layer in web_model(net)["layers"]]
    p = digit_probabilities(net, digits)
    assert p.std(axis=1).min() > 1e-3  # the networks tell digits apart: not a flat softmax
    console_errors(driver)  # what an earlier page logged is not this one's
    driver.get((tmp_path / "site" / "index.html").as_uri())
    assert f"Model: {name} (running in this page" in driver.find_element(By.ID, "model").text
    shown = driver.find_element(By.ID, "about").text
    assert shown.startswith(f"{type(net).__name__}, test accuracy ")
    js = driver.execute_script(
        "const m = ScratchdlNet.loadModel(window.SCRATCHDL_MODEL);"
        "return arguments[0].map(x => ScratchdlNet.forward(m, x));",
        digits.reshape(N_DIGITS, -1).tolist(),
    )
    # Time per prediction (printed, not asserted: benchmarks/bench_web.py measures).
    ms = driver.execute_script(
        "const m = ScratchdlNet.loadModel(window.SCRATCHDL_MODEL), xs = arguments[0];"
        "for (let i = 0; i < 10; i++) ScratchdlNet.forward(m, xs[i]);"
        "const t = [];"
        "for (let i = 0; i < 50; i++) {"
        "  const t0 = performance.now(); ScratchdlNet.forward(m, xs[i % xs.length]);"
        "  t.push(performance.now() - t0); }"
        "t.sort((a, b) => a - b); return t[25];",
        digits[:10].reshape(10, -1).tolist(),
    )
    assert console_errors(driver) == []
    diff = np.abs(np.asarray(js) - p)
    print(f"{name}: max |JS - NumPy| {diff.max():.2e} over {N_DIGITS} digits, {ms:.1f} ms each")
    assert diff.max() <= 1e-5
    assert (np.asarray(js).argmax(axis=1) == p.argmax(axis=1)).all()


def _png(digit: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.round(255 * digit).astype(np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def test_the_deep_page_reads_an_image_file_as_numpy_does(digits, driver, tmp_path):
    """The page's whole path (decode, preprocess, net.js) on a few PNG files."""
    name = next(n for n in NETS if isinstance(NETS[n], DeepConvNet))
    net = NETS[name]
    export_web(net, tmp_path / "site", name=name)
    console_errors(driver)  # what an earlier page logged is not this one's
    driver.get((tmp_path / "site" / "index.html").as_uri())
    for digit in digits[:5]:
        url = _png(digit)
        theirs = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "window.scratchdl.classifyURL(arguments[0]).then(done, e => done(String(e)));",
            url,
        )
        assert isinstance(theirs, dict), theirs
        x = image_to_mnist(base64.b64decode(url.split(",", 1)[1]))
        assert np.abs(np.asarray(theirs["input"]) - x).max() <= 1 / 255
        p = digit_probabilities(net, np.asarray(theirs["input"], dtype=np.float32))
        assert np.abs(np.asarray(theirs["probabilities"]) - p).max() <= 1e-5
        assert theirs["prediction"] == int(p.argmax())
    assert console_errors(driver) == []
