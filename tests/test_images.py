"""scratchdl.images: any picture of a digit -> MNIST's 28x28 input.

The fast tests build small images by hand; the slow one makes realistic photos, drawings and
screenshots from real MNIST test digits (SCRATCHDL_DATA_DIR) and checks that the default
``scratchdl train`` model reads each kind at least 90% right.
"""

from __future__ import annotations

import io
import json
import warnings

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from PIL import Image

from _digit_images import KINDS, MAKERS
from scratchdl.cli import main
from scratchdl.errors import DataError, ShapeError
from scratchdl.images import (
    BlankImageError,
    check_digit_model,
    digit_probabilities,
    image_to_mnist,
    read_image,
    to_mnist,
)


def _png(array, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **kw)
    return buf.getvalue()


def _centre_of_mass(img):
    total = img.sum()
    return (np.arange(28) @ img.sum(axis=1)) / total, (np.arange(28) @ img.sum(axis=0)) / total


def _aligned_diff(a, b):
    """Largest pixel difference between two inputs, after the best shift by up to one pixel
    (a symmetric digit's centre of mass sits on a half pixel: noise decides the side)."""
    return min(
        float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).max())
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def _similarity(a, b):
    """Correlation of two inputs' pixels, after the best shift by up to one pixel."""
    return max(
        float(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def _ring(size=120, thickness=14):
    """A white "0" on black: a ring as tall as ``size``, about two thirds as wide."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot((yy - size / 2) / (size / 2 - 2), (xx - size / 2) / (size / 3))
    inner = 1 - thickness / (size / 3)
    return ((r <= 1) & (r >= inner)).astype(np.float64)


# -- the recipe, piece by piece ----------------------------------------------------------------
def test_image_to_mnist_inverts_scales_and_centres(tmp_path):
    # a big dark "digit" off-centre on a white RGB page
    page = np.full((200, 300, 3), 255, np.uint8)
    page[20:120, 30:80] = 0
    path = tmp_path / "page.png"
    Image.fromarray(page).save(path)
    img = image_to_mnist(path)
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert img.min() == 0.0 and img.max() == 1.0
    rows, cols = np.nonzero(img > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the 20-pixel box
    assert cols.max() - cols.min() + 1 == 10  # and keeps its proportions
    cy, cx = _centre_of_mass(img)
    assert abs(cy - 14) <= 0.5 + 1e-3 and abs(cx - 14) <= 0.5 + 1e-3
    assert img[0].max() == 0 and img[:, 0].max() == 0  # background is black


def test_light_on_dark_and_dark_on_light_give_the_same_input():
    ring = _ring()
    canvas = np.zeros((300, 260))
    canvas[60:180, 90:210] = ring
    dark_screen = 20 + 200 * canvas  # light strokes on a dark background
    paper = 235 - 200 * canvas  # dark ink on light paper
    a, b = to_mnist(dark_screen), to_mnist(paper)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.max() == 1.0 and a[0, 0] == 0.0


def test_uneven_light_and_grey_paper_leave_no_grey_box():
    """The photo from the issue: grey paper, light falling off across it, a dark digit.
    Before, the grey background became a grey box; now the background is black."""
    h, w = 400, 500
    canvas = np.zeros((h, w))
    canvas[100:220, 200:320] = _ring()
    yy, xx = np.mgrid[0:h, 0:w]
    light = 0.55 + 0.45 * (xx / w) * (0.6 + 0.4 * yy / h)  # 55% to 100%
    photo = (170 - 120 * canvas) * light  # grey paper, dark grey ink
    photo += np.random.default_rng(0).normal(0, 4, size=photo.shape)
    img = to_mnist(photo)
    clean = to_mnist(20 + 200 * canvas)
    assert _aligned_diff(img, clean) < 0.25
    assert (img > 0.1).sum() <= 1.1 * (clean > 0.1).sum()  # no grey box around the digit
    assert np.sort(img.ravel())[-100:].mean() > 0.85  # contrast stretched: the ink near white


def test_faint_ink_is_stretched_to_full_contrast():
    canvas = np.zeros((200, 200))
    canvas[40:160, 40:160] = _ring()
    img = to_mnist(200 - 40 * canvas)  # pencil: 40 grey levels darker than the paper
    assert img.max() == 1.0
    np.testing.assert_allclose(img, to_mnist(255 - 255 * canvas), atol=1e-6)


def test_a_speck_of_dust_does_not_move_the_digit():
    canvas = np.zeros((600, 600))
    canvas[100:220, 100:220] = _ring()
    dusty = canvas.copy()
    dusty[560:563, 580:583] = 1  # a 3x3 speck in the far corner
    np.testing.assert_array_equal(to_mnist(255 - 255 * dusty), to_mnist(255 - 255 * canvas))


def test_thin_strokes_are_thickened_towards_mnists_width():
    thin = _ring(size=400, thickness=4)  # 1% of the height; MNIST's strokes are about 12%
    img = to_mnist(255 - 255 * np.pad(thin, 50))
    # Without evening the width the ring would be faint: at most 0.31, no pixel above 0.5.
    assert img.max() > 0.9
    assert (img > 0.5).sum() >= 60


def test_a_28x28_image_is_taken_as_framed_and_a_clean_one_kept():
    digit = np.zeros((28, 28))
    digit[4:24, 9:19] = _ring(20, 4)[:, 5:15]
    digit_u8 = (255 * digit).astype(np.uint8)
    out = to_mnist(digit_u8)
    np.testing.assert_array_equal(out, digit_u8 / np.float32(255))  # not moved, not rescaled


def test_noise_alone_is_blank_and_blank_images_say_so():
    rng = np.random.default_rng(0)
    for gray in (
        np.full((50, 80), 255.0),
        np.zeros((28, 28)),
        np.full((300, 200), 128.0) + rng.normal(0, 6, size=(300, 200)),
        np.full((100, 100), 200.0) + 3 * np.arange(100)[None, :] / 10,  # a faint gradient
    ):
        with pytest.raises(BlankImageError, match="no digit found"):
            to_mnist(gray)


def test_to_mnist_checks_its_input_and_never_modifies_it():
    gray = 255 - 255 * np.pad(_ring(), 20)
    before = gray.copy()
    to_mnist(gray)
    np.testing.assert_array_equal(gray, before)
    with pytest.raises(ShapeError, match="gray must be a 2-D image"):
        to_mnist(np.zeros((10, 10, 3)))
    with pytest.raises(ShapeError, match="gray must be a 2-D image"):
        to_mnist(np.zeros((0, 5)))
    bad = gray.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ShapeError, match="gray contains NaN"):
        to_mnist(bad)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 70).flatmap(
        lambda h: st.integers(1, 70).flatmap(
            lambda w: hnp.arrays(np.uint8, (h, w), elements=st.integers(0, 255))
        )
    )
)
def test_any_array_gives_a_valid_input_or_says_blank(gray):
    """Tiny, one-row, striped, random, flat: never a crash, NaN or value outside [0, 1]."""
    try:
        x = to_mnist(gray)
    except BlankImageError:
        return
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1 and x.max() > 0


# -- reading files ------------------------------------------------------------------------------
def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    canvas = np.pad(_ring(60, 8), 10)
    eight, sixteen = tmp_path / "8.png", tmp_path / "16.png"
    Image.fromarray((255 - 200 * canvas).astype(np.uint8)).save(eight)
    Image.fromarray(((255 - 200 * canvas) * 257).astype(np.uint16)).save(sixteen)
    with Image.open(sixteen) as im:
        assert im.mode.startswith("I")
    np.testing.assert_allclose(image_to_mnist(sixteen), image_to_mnist(eight), atol=1e-6)
    # The same page whose background level is marked transparent: laid over white, still inked.
    page = np.where(canvas > 0, 1000, 7).astype(np.uint16)
    Image.fromarray(page).save(tmp_path / "trns16.png", transparency=7)
    with Image.open(tmp_path / "trns16.png") as im:
        assert im.info.get("transparency") == 7
    trns = image_to_mnist(tmp_path / "trns16.png")
    np.testing.assert_allclose(trns, image_to_mnist(eight), atol=0.02)


def test_transparent_rgba_and_palette_images_are_laid_over_white(tmp_path):
    canvas = np.pad(_ring(60, 8), 10)
    rgba = np.zeros(canvas.shape + (4,), np.uint8)
    rgba[canvas > 0] = (0, 0, 0, 255)  # opaque black strokes on a transparent page
    reference = image_to_mnist(_png((255 - 255 * canvas).astype(np.uint8)))
    np.testing.assert_array_equal(image_to_mnist(_png(rgba)), reference)
    palette = Image.fromarray((255 - 255 * canvas).astype(np.uint8)).convert("RGB").quantize(4)
    buf = io.BytesIO()
    palette.save(buf, format="PNG")
    np.testing.assert_allclose(image_to_mnist(buf.getvalue()), reference, atol=1e-6)


def test_jpeg_any_size_and_colour(tmp_path):
    canvas = np.zeros((900, 1400))
    canvas[300:600, 800:1000] = _ring(300, 36)[:, 50:250]
    rgb = np.stack([250 - 200 * canvas, 240 - 190 * canvas, 200 - 120 * canvas], axis=2)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format="JPEG", quality=70)
    img = image_to_mnist(buf.getvalue())
    # JPEG's blur moves the ink's edge by a pixel of 1400: the box may differ by one of 28.
    assert _similarity(img, to_mnist(255 - 255 * canvas)) > 0.9


def test_unreadable_files_get_one_clear_sentence(tmp_path):
    with pytest.raises(DataError, match="nope.png does not exist"):
        image_to_mnist(tmp_path / "nope.png")
    with pytest.raises(DataError, match="is a folder"):
        image_to_mnist(tmp_path)
    with pytest.raises(DataError, match="is not an image in a known format"):
        image_to_mnist(b"hello")
    with pytest.raises(DataError, match="empty"):
        image_to_mnist(b"")
    truncated = _png(np.zeros((300, 300), np.uint8) + np.arange(300, dtype=np.uint8))[:400]
    with pytest.raises(DataError, match="damaged or not an image"):
        image_to_mnist(truncated)


def test_huge_images_are_refused_never_warned_about(tmp_path, monkeypatch):
    """Pillow errors above twice its limit and only warns (DecompressionBombWarning) between
    the limit and twice it; both become our error, and no warning reaches the user."""
    from PIL import Image as PILImage

    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(path)
    for limit in (100, 1000):  # 1600 pixels: above twice 100 (error), between 1000 and 2000
        monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", limit)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(DataError, match="too many pixels to be read safely"):
                image_to_mnist(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(DataError, match=r"more than 1,000\)"):
        read_image(path, max_pixels=1000)
    assert read_image(path).shape == (40, 40)


# -- with a network -----------------------------------------------------------------------------
def test_digit_probabilities_and_the_model_check():
    from scratchdl.nets import SimpleNet, TwoLayerNet

    net = TwoLayerNet(784, 8, 10, rng=0)
    x = to_mnist(255 - 255 * np.pad(_ring(), 20))
    p = digit_probabilities(net, x)
    assert p.shape == (10,) and p.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(digit_probabilities(net, np.stack([x, x]))[1], p)
    with pytest.raises(ShapeError, match=r"x must be \(28, 28\) or \(N, 28, 28\)"):
        digit_probabilities(net, x.ravel())
    check_digit_model(net)
    with pytest.raises(ShapeError, match="m.npz maps 784 inputs to 5 classes, not 28x28 images"):
        check_digit_model(TwoLayerNet(784, 8, 5, rng=0), "m.npz")
    with pytest.raises(ShapeError, match="maps 2 inputs to 3 classes"):
        check_digit_model(SimpleNet(rng=0))


def test_predict_show_input_writes_what_the_network_sees(tmp_path, capsys):
    from scratchdl.io import save_model
    from scratchdl.nets import TwoLayerNet

    model = save_model(TwoLayerNet(784, 8, 10, rng=0), tmp_path / "m.npz")
    a = tmp_path / "a" / "digit.png"
    b = tmp_path / "b" / "digit.jpg"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_bytes(_png((255 - 255 * np.pad(_ring(), 30)).astype(np.uint8)))
    Image.fromarray((20 + 200 * np.pad(_ring(), 50)).astype(np.uint8)).save(b, quality=90)
    out = tmp_path / "seen"
    code = main(["predict", str(model), str(a), str(b), "--show-input", str(out), "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2
    assert sorted(p.name for p in out.iterdir()) == ["digit-2.png", "digit.png"]
    for name, source in (("digit.png", a), ("digit-2.png", b)):
        with Image.open(out / name) as im:
            assert im.size == (28, 28) and im.mode == "L"
            seen = np.asarray(im, np.float64) / 255
        assert np.abs(seen - image_to_mnist(source)).max() <= 0.5 / 255 + 1e-6


# -- realistic pictures of real digits ---------------------------------------------------------
N_PER_KIND = 200


@pytest.mark.slow
def test_the_default_model_reads_photos_drawings_and_screenshots(default_model):
    """Each kind of picture, made from the same 200 MNIST test digits, is read at least 90%
    right by the default ``scratchdl train`` model (the clean digits are the reference)."""
    from scratchdl.data import load_mnist
    from scratchdl.io import load_model

    net = load_model(default_model)
    _, (x, t) = load_mnist(normalize=False, flatten=False)
    chosen = np.random.default_rng(2026).choice(len(t), N_PER_KIND, replace=False)
    accuracy = {}
    for kind in KINDS:
        rng = np.random.default_rng(7)
        images = np.stack([image_to_mnist(MAKERS[kind](x[i, 0], rng)) for i in chosen])
        predicted = digit_probabilities(net, images).argmax(axis=1)
        accuracy[kind] = float((predicted == t[chosen]).mean())
    print("accuracy of the default model by kind of picture:", json.dumps(accuracy))
    for kind, acc in accuracy.items():
        assert acc >= 0.9, f"{kind}: {acc:.3f}"
    assert accuracy["clean"] >= 0.93  # the reference: near the model's test accuracy (0.97)


def test_white_strokes_on_a_transparent_png_are_read_like_black_on_white():
    # Over white (the rule for transparency) white strokes would vanish: "one flat colour".
    from PIL import ImageDraw

    def drawn(background, ink):
        img = Image.new("RGBA", (200, 200), background)
        ImageDraw.Draw(img).line([(60, 40), (140, 40), (100, 160)], fill=ink, width=14)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        return image_to_mnist(buf.getvalue())

    light = drawn((0, 0, 0, 0), (255, 255, 255, 255))
    dark = drawn((255, 255, 255, 255), (0, 0, 0, 255))
    assert (light > 0.5).sum() > 40
    np.testing.assert_allclose(light, dark, atol=1e-6)
    # Dark strokes on a transparent canvas still go over white.
    np.testing.assert_allclose(drawn((0, 0, 0, 0), (0, 0, 0, 255)), dark, atol=1e-6)


def _two(lines: bool) -> bytes:
    """A '2' in dark ink, 120 pixels tall, on paper with or without ruled lines."""
    from PIL import ImageDraw, ImageFilter

    img = Image.new("RGB", (600, 800), (238, 236, 230))
    d = ImageDraw.Draw(img)
    if lines:
        for y in range(60, 800, 34):
            d.line([(0, y), (600, y)], fill=(150, 175, 215), width=2)
        d.line([(80, 0), (80, 800)], fill=(215, 120, 120), width=2)
    pts = [(270, 352), (290, 335), (318, 332), (338, 348), (340, 372), (320, 400), (290, 430)]
    d.line([*pts, (268, 452), (345, 452)], fill=(40, 40, 60), width=7, joint="curve")
    buf = io.BytesIO()
    img.filter(ImageFilter.GaussianBlur(0.6)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_the_ruled_lines_of_notebook_paper_are_left_out_of_the_crop():
    # Before, the lines framed the crop: a small 2 inside a grey box.
    on_lines, on_plain = image_to_mnist(_two(True)), image_to_mnist(_two(False))
    assert np.corrcoef(on_lines.ravel(), on_plain.ravel())[0, 1] > 0.97
    assert (on_lines > 0.5).sum() == pytest.approx((on_plain > 0.5).sum(), rel=0.15)


def test_a_thick_bar_across_a_tight_crop_is_a_stroke_not_a_ruled_line():
    # A 7 cropped tightly: its bar runs across most of the width, but it is a stroke.
    from scratchdl.images import _unrule

    v = np.zeros((100, 80))
    v[5:17, 4:76] = 1.0  # the bar, 12% of the height
    v[17:95, 60:70] = 1.0  # the stem
    assert np.array_equal(_unrule(v), v)
    ruled = v.copy()
    ruled[50, :] = 0.4  # a ruled line across it, crossing the stem
    cleared = _unrule(ruled)
    assert np.array_equal(cleared[50, 60:70], ruled[50, 60:70])  # the stem crossing it stays
    # Cleared elsewhere (2 columns beside the stem count as the stroke: a slanted one moves).
    assert not cleared[50, :58].any() and not cleared[50, 72:].any()
