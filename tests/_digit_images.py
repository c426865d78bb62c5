"""Realistic pictures of digits, made from MNIST test digits, for the preprocessing tests.

Each maker takes one MNIST digit (28, 28) uint8 (white on black) and a Generator and returns
the encoded file (PNG or JPEG bytes), as a person would hand it to ``scratchdl predict``:

- ``clean``: the digit itself as a 28x28 PNG (the reference);
- ``photo``: dark ink on grey or tinted paper, uneven light, blur, sensor noise, JPEG;
- ``paint``: black strokes on a large white canvas, anywhere and any size;
- ``screenshot``: light strokes on a dark background;
- ``thin`` / ``thick``: Paint drawings with strokes 0.5x / 1.7x as wide as MNIST's.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

KINDS = ("clean", "photo", "paint", "screenshot", "thin", "thick", "lined")


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _shape(digit: np.ndarray, height: int, level: float = 0.5) -> Image.Image:
    """The digit drawn with a smooth outline at ``height`` pixels tall: a bicubic enlargement
    thresholded at ``level`` (a brush stroke's silhouette), as an L image 0/255."""
    big = Image.fromarray(digit).resize((height, height), Image.BICUBIC)
    return big.point(lambda v: 255 if v >= 255 * level else 0)


def _crop_to_ink(img: Image.Image, margin: int) -> Image.Image:
    box = img.getbbox() or (0, 0, img.width, img.height)
    l, t, r, b = box
    return img.crop((max(l - margin, 0), max(t - margin, 0), r + margin, b + margin))


def _paste(canvas_size, ink: Image.Image, rng) -> tuple[np.ndarray, tuple[int, int]]:
    """Ink mask (H, W) float in [0, 1] on a canvas, at a random position."""
    W, H = canvas_size
    x = int(rng.integers(0, max(W - ink.width, 0) + 1))
    y = int(rng.integers(0, max(H - ink.height, 0) + 1))
    m = np.zeros((H, W), np.float64)
    m[y : y + ink.height, x : x + ink.width] = np.asarray(ink, np.float64)[: H - y, : W - x] / 255
    return m, (x, y)


def clean(digit, rng) -> bytes:
    return _encode(Image.fromarray(digit))


def paint(digit, rng, stroke: float = 1.0) -> bytes:
    """Black brush strokes on a white canvas of 600..1600 x 400..1200 pixels; the digit is
    60 pixels to 90% of the canvas tall. ``stroke`` > 1 makes the brush 1.7x as wide, < 1 half."""
    W, H = int(rng.integers(600, 1601)), int(rng.integers(400, 1201))
    height = int(rng.integers(60, int(0.9 * H)))
    shape = _shape(digit, 112)  # MNIST's strokes are about 10 pixels wide at this size
    if stroke > 1:
        shape = shape.filter(ImageFilter.MaxFilter(7))  # measured: 1.7x as wide
    elif stroke < 1:
        shape = shape.filter(ImageFilter.MinFilter(5))  # measured: 0.49x as wide
    # Enlarged smoothly and thresholded again: the outline of a brush, not of blocks.
    shape = shape.resize((height, height), Image.BICUBIC).point(lambda v: 255 if v >= 128 else 0)
    shape = _crop_to_ink(shape, 2)
    m, _ = _paste((W, H), shape, rng)
    rgb = np.repeat((255 * (1 - m))[..., None], 3, axis=2).round().astype(np.uint8)
    return _encode(Image.fromarray(rgb, "RGB"))


def thin(digit, rng) -> bytes:
    return paint(digit, rng, stroke=0.5)


def thick(digit, rng) -> bytes:
    return paint(digit, rng, stroke=1.7)


def screenshot(digit, rng) -> bytes:
    """Light anti-aliased strokes (a drawing app in dark mode) on a dark RGBA background."""
    W, H = int(rng.integers(300, 900)), int(rng.integers(300, 700))
    height = int(rng.integers(80, int(0.8 * H)))
    shape = Image.fromarray(digit).resize((height, height), Image.BICUBIC)
    shape = _crop_to_ink(shape, 2)
    m, _ = _paste((W, H), shape, rng)
    bg = np.array([30, 32, 40], np.float64) + rng.integers(-10, 10)
    fg = np.array([235, 235, 220], np.float64)
    rgb = bg + m[..., None] * (fg - bg)
    alpha = np.full((H, W, 1), 255.0)
    return _encode(Image.fromarray(np.concatenate([rgb, alpha], axis=2).round().astype(np.uint8)))


def photo(digit, rng) -> bytes:
    """A phone photo of ink on paper: grey or tinted paper, light falling off across the page
    (to 55..75% at the far side or corner), ink a little translucent, lens blur, sensor noise
    (sigma 4..8 grey levels), JPEG at quality 60..85."""
    W, H = int(rng.integers(480, 1200)), int(rng.integers(400, 900))
    height = int(rng.integers(int(0.3 * H), int(0.8 * H)))
    shape = _shape(digit, height, 0.45).filter(ImageFilter.GaussianBlur(height / 150))
    shape = _crop_to_ink(shape, 4)
    m, _ = _paste((W, H), shape, rng)
    paper = np.array([200, 200, 200], np.float64) * rng.uniform(0.8, 1.15)
    paper *= rng.uniform(0.9, 1.05, size=3)  # tinted: bluish, yellowish or grey
    ink = np.array([40, 40, 60], np.float64) * rng.uniform(0.6, 1.4)
    yy, xx = np.mgrid[0:H, 0:W]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / W + np.sin(angle) * yy / H + 1.5) / 3  # 0..1 across the page
    light = 1 - rng.uniform(0.25, 0.45) * (1 - ramp)
    strength = rng.uniform(0.75, 0.95)  # ballpoint ink is not fully opaque
    rgb = (paper + (ink - paper) * (strength * m)[..., None]) * light[..., None]
    rgb += rng.normal(0, rng.uniform(4, 8), size=rgb.shape)
    img = Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    return _encode(img, "JPEG", quality=int(rng.integers(60, 86)))


def lined(digit, rng) -> bytes:
    """A crisp photo of a digit written on lined notebook paper: light blue ruled lines 1..3
    pixels thick every 25..45 pixels across the whole page (and a red margin line), the digit
    1.2..2.5 line spacings tall, crossing the lines; little blur, JPEG at quality 80..92."""
    W, H = int(rng.integers(480, 1200)), int(rng.integers(400, 900))
    spacing = int(rng.integers(25, 46))
    height = int(spacing * rng.uniform(1.2, 2.5))
    shape = _crop_to_ink(_shape(digit, height, 0.45), 2)
    m, _ = _paste((W, H), shape, rng)
    paper = np.array([236, 234, 228], np.float64) * rng.uniform(0.9, 1.05)
    rgb = np.broadcast_to(paper, (H, W, 3)).copy()
    thick = int(rng.integers(1, 4))
    for y in range(int(rng.integers(0, spacing)), H, spacing):
        rgb[y : y + thick] = [150, 175, 215]
    margin = int(rng.integers(30, 120))
    rgb[:, margin : margin + thick] = [215, 120, 120]
    ink = np.array([35, 35, 70], np.float64)
    rgb = rgb + (ink - rgb) * m[..., None]
    rgb += rng.normal(0, 2, size=rgb.shape)
    img = Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(0.5))
    return _encode(img, "JPEG", quality=int(rng.integers(80, 93)))


MAKERS = {
    "clean": clean,
    "photo": photo,
    "paint": paint,
    "screenshot": screenshot,
    "thin": thin,
    "thick": thick,
    "lined": lined,
}
