"""Headless Chromium driven by Selenium, for the digit page's browser tests.

Why Selenium: it is the W3C WebDriver client, well kept and packaged; its actions send real
pointer events of each kind (mouse, pen, touch), it uploads files through <input type=file>,
reads the console and takes screenshots. It drives Debian's chromium with Debian's
chromium-driver (never a downloaded driver: the service is given the driver's path).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
WINDOW = (1100, 760)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs it; the tests then skip
    webdriver = Service = ActionBuilder = PointerInput = By = WebDriverWait = None

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None or webdriver is None,
    reason="needs chromium, chromium-driver (apt-get install chromium chromium-driver) and selenium",
)


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile folder, closed afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",  # tests run as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """Messages the page logged at error level (or uncaught exceptions) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def draw(driver, canvas, strokes, kind: str = "mouse") -> None:
    """Draw ``strokes`` (lists of (x, y) in canvas pixels) with real pointer events of ``kind``
    ("mouse", "pen" or "touch"): down, moves along the stroke, up, stroke after stroke."""
    rect = canvas.rect
    scale = rect["width"] / int(canvas.get_attribute("width"))
    builder = ActionBuilder(driver, mouse=PointerInput(kind, f"{kind}-1"), duration=10)
    pointer = builder.pointer_action
    for stroke in strokes:
        points = list(_densify(stroke, 8))
        x, y = points[0]
        # Offsets are from the element's centre in WebDriver's actions.
        pointer.move_to(
            canvas, int((x * scale) - rect["width"] / 2), int(y * scale - rect["height"] / 2)
        )
        pointer.pointer_down()
        for x, y in points[1:]:
            pointer.move_to(
                canvas, int(x * scale - rect["width"] / 2), int(y * scale - rect["height"] / 2)
            )
        pointer.pointer_up()
    builder.perform()


def _densify(stroke, step: float):
    """The stroke's corners with points every ``step`` pixels between them."""
    yield stroke[0]
    for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
        n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / step))
        for k in range(1, n + 1):
            yield (x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n)


def wait_for_prediction(driver, timeout: float = 30) -> int:
    """The digit the page shows once its answer includes every stroke drawn."""
    WebDriverWait(driver, timeout).until(
        lambda d: (
            d.execute_script("return window.scratchdl.settled()")
            and d.find_element(By.ID, "prediction").get_attribute("data-prediction") != ""
        )
    )
    return int(driver.find_element(By.ID, "prediction").get_attribute("data-prediction"))


__all__ = [
    "By",
    "WINDOW",
    "WebDriverWait",
    "chromium",
    "console_errors",
    "draw",
    "needs_browser",
    "wait_for_prediction",
]
