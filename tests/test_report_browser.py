"""The report in a real browser: headless Chromium renders it with every image and no errors.

Skipped where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdl.cli import main
from scratchdl.plots import notes

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,  # a browser per test
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]

TIMEOUT = 90  # seconds per Chromium run; a cold start on a busy machine takes a few
WINDOW = (1200, 2000)
# Chromium's own log has harmless D-Bus noise; these are what a broken page produces.
PAGE_ERRORS = re.compile(r"CONSOLE|Uncaught|Failed to load|Not allowed to load|net::ERR_")

# Added to a *copy* of the page only: the report itself has no JavaScript. After the load
# event it lists every <img> that did not decode, where --dump-dom can read it.
PROBE = """<script>window.addEventListener("load", function () {
  var broken = [];
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    if (!(im.complete && im.naturalWidth > 0)) broken.push(i);
  }
  var p = document.createElement("pre");
  p.id = "img-probe";
  p.textContent = "images=" + document.images.length + " broken=" + broken.join(",");
  document.body.appendChild(p);
});</script>"""


def chromium(tmp_path: Path, page: Path, *extra: str) -> tuple[str, str]:
    """Run headless Chromium on ``page``; return (stdout, stderr). Killed after TIMEOUT."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *extra,
        page.resolve().as_uri(),
    ]
    # Own process group, so a hung browser and its helpers can all be stopped on timeout.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT} s on {page}")
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}:\n{err[-2000:]}"
    return out, err


def page_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if PAGE_ERRORS.search(line)]


def probe(tmp_path: Path, page: Path) -> tuple[int, str]:
    html = page.read_text(encoding="utf-8")
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, _ = chromium(tmp_path, probed, "--virtual-time-budget=10000", "--dump-dom")
    found = re.search(r'id="img-probe">images=(\d+) broken=([\d,]*)<', dom)
    assert found, "the probe did not run: no result in the dumped DOM"
    return int(found.group(1)), found.group(2)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, int]:
    """``scratchdl report s1 s2 f --out report.html`` over real matplotlib figures."""
    root = tmp_path_factory.mktemp("browser")
    figs = root / "f"
    notes.save_figure(notes.plot_activations(), figs / "activations.png")
    notes.save_figure(notes.plot_softmax(), figs / "softmax.png")
    for i, name in enumerate(("s1", "s2")):
        sweep = root / name
        sweep.mkdir()
        (sweep / "summary.md").write_text(
            f"# Sweep {i + 1}\n\nBest **lr = {0.1 * (i + 1):g}**.\n\n| lr | acc |\n|---|---|\n"
            "| 0.1 | 0.93 |\n| 0.01 | 0.88 |\n"
        )
        (sweep / "results.csv").write_text("lr,acc\n0.1,0.93\n0.01,0.88\n")
        notes.save_figure(notes.plot_numerical_diff(), sweep / "acc_vs_lr.png")
    out = root / "report.html"
    assert main(["report", str(root / "s1"), str(root / "s2"), str(figs), "--out", str(out)]) == 0
    return out, 4


def test_every_img_is_a_valid_embedded_png(report):
    page, expected = report
    srcs = re.findall(r'<img [^>]*src="([^"]*)"', page.read_text(encoding="utf-8"))
    assert len(srcs) == expected
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            img.load()
            assert img.format == "PNG" and min(img.size) > 0


def test_chromium_renders_the_report_without_errors(report, tmp_path):
    page, _ = report
    shot = tmp_path / "report.png"
    _, err = chromium(tmp_path, page, f"--screenshot={shot}")
    assert page_errors(err) == []
    with Image.open(shot) as img:
        assert img.format == "PNG" and img.size == WINDOW
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert pixels.std() > 20  # not a blank page: text, tables and figures
    assert (pixels < 60).mean() > 0.002  # dark text is there
    # Keep a copy for a person to look at when SCRATCHDL_SCREENSHOT_DIR is set.
    keep = os.environ.get("SCRATCHDL_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report-screenshot.png")


def test_every_image_loads_in_chromium(report, tmp_path):
    page, expected = report
    count, broken = probe(tmp_path, page)
    assert count == expected
    assert broken == ""


def test_the_probe_catches_a_broken_image(tmp_path):
    """The image check itself works: a page with a missing image is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png" alt="x"></body></html>')
    count, broken = probe(tmp_path, bad)
    assert (count, broken) == (1, "0")
