"""README.ko.md stays in step with README.md: the same commands and the same numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN, KO = ROOT / "README.md", ROOT / "README.ko.md"

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`]+)`")
# A number standing on its own, not part of a name such as W1, ch04 or x_train; a ratio such as
# "1.03x" counts (Korean writes it "1.03배").
_NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:[.,]\d+)*(?![A-Za-wyz_\d]|x[A-Za-z_\d])")


def commands(text: str) -> set[str]:
    """Every ``scratchdl ...`` command line in code blocks, and in inline code."""
    found = set()
    for block in _FENCE.findall(text):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = " ".join(part.split())
                if part.startswith("scratchdl"):
                    found.add(part)
    prose = _FENCE.sub("", text)
    for span in _INLINE.findall(prose):
        span = " ".join(span.split())
        if span.startswith("scratchdl "):
            found.add(span)
    return found


def numbers(text: str) -> dict[str, str]:
    """Each number in the text (``10,000`` read as ``10000``) with the first line it is on."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        for match in _NUMBER.finditer(line):
            value = re.sub(r",(?=\d{3}\b)", "", match.group())
            found.setdefault(value, line.strip())
    return found


def _difference(what: str, en: dict[str, str] | set[str], ko: dict[str, str] | set[str]) -> str:
    lines = []
    for name, mine, other in (("README.md", en, ko), ("README.ko.md", ko, en)):
        for item in sorted(set(mine) - set(other)):
            where = f"  (in: {mine[item][:100]})" if isinstance(mine, dict) else ""
            lines.append(f"  only in {name}: {item}{where}")
    return f"README.md and README.ko.md list different {what}; re-sync README.ko.md:\n" + "\n".join(
        lines
    )


@pytest.fixture(scope="module")
def texts() -> tuple[str, str]:
    return EN.read_text(encoding="utf-8"), KO.read_text(encoding="utf-8")


def test_readme_links_the_korean_readme(texts):
    en, ko = texts
    assert "(README.ko.md)" in "\n".join(en.splitlines()[:5])
    assert "(README.md)" in "\n".join(ko.splitlines()[:5])


def test_same_commands(texts):
    en, ko = (commands(t) for t in texts)
    assert "scratchdl train --out DIR" in en and "scratchdl data clean" in en
    assert en == ko, _difference("commands", en, ko)


def test_same_numbers(texts):
    en, ko = (numbers(t) for t in texts)
    assert {"0.9352", "10000", "784"} <= set(en)
    assert set(en) == set(ko), _difference("numbers", en, ko)


def test_korean_readme_is_korean(texts):
    _, ko = texts
    prose = _FENCE.sub("", ko)
    hangul = sum("\uac00" <= c <= "\ud7a3" for c in prose)
    assert hangul > 1000
    for term in ("오차역전파법", "기울기", "에폭", "시그모이드", "가중치"):
        assert term in ko


def test_the_sync_check_names_what_differs():
    en = "Run `scratchdl data info`: about 11 MB.\n"
    ko = "`scratchdl data fetch`을 실행하세요: 약 12 MB.\n"
    message = _difference("commands", commands(en), commands(ko))
    assert "only in README.md: scratchdl data info" in message
    assert "only in README.ko.md: scratchdl data fetch" in message
    message = _difference("numbers", numbers(en), numbers(ko))
    assert "only in README.md: 11  (in: Run `scratchdl data info`: about 11 MB.)" in message
    assert "only in README.ko.md: 12" in message
