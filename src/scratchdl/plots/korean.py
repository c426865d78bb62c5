"""Korean text in figures: find a font with Hangul, or say in one line how to get one.

Matplotlib's default font (DejaVu Sans) has no Hangul: a Korean title comes out as empty
boxes with a "Glyph ... missing" warning. :func:`use_korean_font` looks for an installed font
that has Hangul (NanumGothic, Noto Sans CJK KR, Malgun Gothic, AppleGothic, ... or whatever
``fc-list :lang=ko`` reports), registers it with matplotlib (its font cache may predate the
font: no kernel restart needed) and makes it the first sans-serif font. Without one it prints
one line saying how to install one, and :func:`ko` then gives the English label instead.

It changes matplotlib's settings for the whole process, so nothing calls it for you: a notebook
or script that wants Korean labels calls it once.

>>> from scratchdl.plots.korean import use_korean_font, ko
>>> use_korean_font()                                      # doctest: +SKIP
'NanumGothic'
>>> ax.set_title(ko("활성화 함수", "activation functions"))  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import matplotlib
from matplotlib import font_manager

from scratchdl.errors import ConfigError
from scratchdl.plots.ko_text import translate

__all__ = [
    "INSTALL_HINT",
    "current_language",
    "find_hangul_font",
    "ko",
    "language",
    "localize",
    "requested_language",
    "set_language",
    "tr",
    "use_korean_font",
]

#: The languages figures and summaries are written in.
LANGUAGES = ("en", "ko")

#: Families known to carry Hangul, best first (Linux, Windows, macOS).
PREFERRED = (
    "NanumGothic",
    "NanumBarunGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Malgun Gothic",
    "AppleGothic",
    "Apple SD Gothic Neo",
    "UnDotum",
    "Baekmuk Gulim",
)

#: The one line printed when no font has Hangul (Korean, for the readers who need it).
INSTALL_HINT = (
    "한글 글꼴이 없어 그림 글자는 영어로 표시합니다 (no Hangul font: English labels). "
    "설치/install: apt-get install fonts-nanum (Colab: !apt-get -qq install fonts-nanum)"
)

_HANGUL = ord("한")
_active: str | None = None
_lang = "en"  # the language of figure texts (English without a Hangul font)
_requested = "en"  # the language asked for: summary.md text needs no font


def _has_hangul(path: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font

        return _HANGUL in FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False


def _fc_list_files() -> list[str]:
    """Font files fontconfig says cover Korean (empty where fc-list is missing)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        done = subprocess.run(
            [fc_list, ":lang=ko", "file"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in done.stdout.splitlines() if line.strip()]
    return sorted(f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc")))


def _candidates() -> list[tuple[str, str]]:
    """(family, file) of fonts that may have Hangul: matplotlib's own list first, then the
    files fontconfig reports (a font installed after matplotlib built its cache)."""
    found = [(f.name, f.fname) for f in font_manager.fontManager.ttflist]
    known = {fname for _, fname in found}
    for path in _fc_list_files():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
            found.append((font_manager.FontProperties(fname=path).get_name(), path))
    return found


def find_hangul_font() -> str | None:
    """The family name of an installed font with Hangul glyphs, or None.

    Families of :data:`PREFERRED` come first, in that order; then any other font whose
    character map has Hangul.
    """
    by_name: dict[str, list[str]] = {}
    for name, path in _candidates():
        by_name.setdefault(name, []).append(path)
    for name in (*PREFERRED, *by_name):
        if any(_has_hangul(p) for p in by_name.get(name, [])):
            return name
    return None


def use_korean_font(*, stream: TextIO | None = None) -> str | None:
    """Make matplotlib draw Hangul with an installed font; return its family name.

    Without such a font, print :data:`INSTALL_HINT` (one line, to ``stream``, default
    stdout) and return None; :func:`ko` then returns the English labels.
    """
    global _active
    _active = name = find_hangul_font()
    if name is None:
        print(INSTALL_HINT, file=stream or sys.stdout)
        return None
    rc = matplotlib.rcParams
    # DejaVu Sans first, the Hangul font as the fallback for the glyphs it lacks: many Korean
    # fonts lack U+2212 MINUS SIGN, which log-axis labels such as 10^-6 draw through mathtext
    # whatever axes.unicode_minus says.
    rc["font.family"] = ["DejaVu Sans", name]
    rc["font.sans-serif"] = [name, *(f for f in rc["font.sans-serif"] if f != name)]
    rc["axes.unicode_minus"] = False
    return name


def ko(korean: str, english: str) -> str:
    """``korean`` when :func:`use_korean_font` found a font, else ``english``."""
    return korean if _active is not None else english


def set_language(lang: str, *, need_font: bool = True, stream: TextIO | None = None) -> str:
    """Write figure texts and sweep summaries in ``lang`` (``"en"``, the default, or ``"ko"``)
    from now on; return the language in effect.

    For ``"ko"`` a Hangul font is looked up (:func:`use_korean_font`) unless one was found
    already; without one the install hint is printed and English stays. ``need_font=False``
    switches to Korean anyway (summary.md text needs no font; tests read figure texts).
    """
    global _lang, _requested
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    _requested = lang
    if lang == "ko" and need_font and _active is None and use_korean_font(stream=stream) is None:
        lang = "en"
    _lang = lang
    return lang


def current_language() -> str:
    """``"en"`` or ``"ko"``: the language of figure texts (English when Korean was asked for
    but no Hangul font was found)."""
    return _lang


def requested_language() -> str:
    """``"en"`` or ``"ko"``: the language :func:`set_language` was asked for (the language of
    text files such as a sweep's summary.md, which need no font)."""
    return _requested


@contextmanager
def language(lang: str, **kwargs: object) -> Iterator[str]:
    """:func:`set_language` for the ``with`` block only."""
    global _lang, _requested
    before = _lang, _requested
    try:
        yield set_language(lang, **kwargs)  # type: ignore[arg-type]
    finally:
        _lang, _requested = before


def tr(text: str) -> str:
    """``text`` in the current language: the Korean of :mod:`scratchdl.plots.ko_text` when
    Korean is on (text it does not know stays as it is), else ``text``."""
    return translate(text) if _lang == "ko" and text else text


def localize(fig):  # noqa: ANN001, ANN201 (a matplotlib Figure, imported lazily)
    """Put every text of ``fig`` (titles, labels, legends, annotations, fixed tick labels) in
    the current language; a no-op in English. Returns ``fig``."""
    if _lang != "ko":
        return fig
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter, FuncFormatter

    for text in fig.findobj(Text):
        old = text.get_text()
        new = translate(old)
        if new != old:
            text.set_text(new)
    for ax in fig.axes:
        axes = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
        for axis in axes:
            # Tick labels given as text (class names, heatmap rows) are made at each draw.
            fmt = axis.get_major_formatter()
            if isinstance(fmt, FixedFormatter):
                fmt.seq = [translate(s) for s in fmt.seq]
            elif isinstance(fmt, FuncFormatter) and not getattr(fmt, "_scratchdl_ko", False):
                fmt.func = lambda value, pos, func=fmt.func: translate(str(func(value, pos)))
                fmt._scratchdl_ko = True
    return fig
