"""README.ko.md and docs/ko/ stay in step with README.md and docs/: the same commands and the
same numbers, page by page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN, KO = ROOT / "README.md", ROOT / "README.ko.md"
#: Each English page and its Korean twin (a docs page may have none yet: then it is English only).
PAGES = [(EN, KO)] + [
    (p, ROOT / "docs" / "ko" / p.name)
    for p in sorted((ROOT / "docs").glob("*.md"))
    if (ROOT / "docs" / "ko" / p.name).exists()
]

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


def _pair(en: Path) -> tuple[str, str]:
    ko = dict(PAGES)[en]
    assert ko.exists(), f"{en.name} has no Korean twin: write {ko.relative_to(ROOT)}"
    return en.read_text(encoding="utf-8"), ko.read_text(encoding="utf-8")


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_readme_links_the_korean_readme(texts):
    en, ko = texts
    assert "(README.ko.md)" in "\n".join(en.splitlines()[:5])
    assert "(README.md)" in "\n".join(ko.splitlines()[:5])


@pytest.mark.parametrize("en", [en for en, _ in PAGES], ids=_name)
def test_same_commands(en):
    en, ko = (commands(t) for t in _pair(en))
    assert en == ko, _difference("commands", en, ko)


@pytest.mark.parametrize("en", [en for en, _ in PAGES], ids=_name)
def test_same_numbers(en):
    en, ko = (numbers(t) for t in _pair(en))
    assert set(en) == set(ko), _difference("numbers", en, ko)


def test_the_pages_hold_the_key_commands_and_numbers():
    text = "".join(en.read_text(encoding="utf-8") for en, _ in PAGES)
    assert "scratchdl train --out DIR" in commands(text) and "scratchdl data clean" in commands(
        text
    )
    assert {"0.9352", "10000", "784"} <= set(numbers(text))


def test_every_docs_page_is_linked_from_the_readme(texts):
    en, ko = texts
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in en, f"README.md does not link docs/{page.name}"
    for twin in sorted((ROOT / "docs" / "ko").glob("*.md")):
        assert f"(docs/ko/{twin.name})" in ko, f"README.ko.md does not link docs/ko/{twin.name}"


def test_korean_readme_is_korean(texts):
    ko = "".join(twin.read_text(encoding="utf-8") for _, twin in PAGES)
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
