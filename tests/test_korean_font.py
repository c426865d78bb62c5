"""Korean labels in figures: a font with Hangul is found and used, or one line says how to
install one and the labels fall back to English."""

from __future__ import annotations

import io
import logging
import warnings

import matplotlib
import pytest

from scratchdl.plots import korean, new_figure


@pytest.fixture(autouse=True)
def _restore_rc():
    with matplotlib.rc_context():
        yield
    korean._active = None


def _draw(title: str, log: bool = False) -> list[str]:
    """Render a figure titled ``title``; return the warnings matplotlib gave."""
    fig = new_figure(3, 2)
    ax = fig.subplots()
    if log:  # tick labels such as 10^-6 are drawn by mathtext, with U+2212 for the minus
        ax.loglog([1e-6, 1e-2], [1e-8, 1e-4])
    else:
        ax.plot([-1, 1], [-1, 1])
    ax.set_title(title)
    logged: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: logged.append(record.getMessage())  # mathtext logs, not warns
    logger = logging.getLogger("matplotlib")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(io.BytesIO(), format="png")
    finally:
        logger.removeHandler(handler)
    return [str(w.message) for w in caught] + logged


def test_default_font_has_no_hangul():
    # What the helper is for: matplotlib's default font draws Korean as empty boxes.
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        assert any("missing from font" in w for w in _draw("활성화 함수"))


@pytest.mark.skipif(korean.find_hangul_font() is None, reason="no font with Hangul installed")
def test_found_font_renders_hangul(capsys):
    name = korean.use_korean_font()
    assert name is not None and capsys.readouterr().out == ""
    assert korean.ko("활성화 함수", "activation functions") == "활성화 함수"
    assert matplotlib.rcParams["font.sans-serif"][0] == name
    assert matplotlib.rcParams["font.family"] == ["DejaVu Sans", name]
    assert _draw(korean.ko("활성화 함수", "activation functions") + " -1") == []
    assert _draw("학습률", log=True) == []


def test_no_font_prints_one_line_and_uses_english(monkeypatch, capsys):
    monkeypatch.setattr(korean, "_candidates", lambda: [("DejaVu Sans", "/nonexistent.ttf")])
    before = list(matplotlib.rcParams["font.sans-serif"])
    assert korean.use_korean_font() is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "apt-get install fonts-nanum" in out and "Colab" in out
    assert matplotlib.rcParams["font.sans-serif"] == before  # nothing changed
    label = korean.ko("활성화 함수", "activation functions")
    assert label == "activation functions"
    assert _draw(label) == []


def test_font_installed_after_matplotlib_cached_its_list_is_found(monkeypatch):
    # fc-list knows the font; matplotlib's cached list does not (a font installed later, as
    # on Colab after apt-get): the helper registers it itself.
    files = korean._fc_list_files()
    if not files:
        pytest.skip("fc-list reports no Korean font here")
    monkeypatch.setattr(korean.font_manager.fontManager, "ttflist", [])
    assert korean.find_hangul_font() is not None
