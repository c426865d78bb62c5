"""The second book's notebooks (src/scratchdl/notebooks/{en,ko}/book2_ch*.ipynb): one per chapter
in each language, committed without outputs, and each runs from top to bottom in a fresh kernel
within its budget and shows its figures, with and without the book's files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from _notebooks import notebook_id as _id
from _notebooks import printed, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "src" / "scratchdl" / "notebooks"
LANGUAGES = ("en", "ko")
BOOK2 = sorted(NOTEBOOKS.glob("*/book2_ch*.ipynb"))
#: The chapters of the second book with content (ch. 1 reviews the first book).
CHAPTERS = tuple(f"book2_ch{n:02d}_" for n in range(1, 9))
#: What a cell prints where it needs the book's pickles and SCRATCHDL_BOOK2_DIR is unset.
SKIP_NOTE = {"en": "skipped: set SCRATCHDL_BOOK2_DIR", "ko": "건너뜀: SCRATCHDL_BOOK2_DIR"}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_every_chapter_of_the_second_book_has_a_notebook_in_each_language():
    names = {
        lang: sorted(p.name for p in (NOTEBOOKS / lang).glob("book2_ch*.ipynb"))
        for lang in LANGUAGES
    }
    assert names["en"] == names["ko"], f"en and ko differ: {names}"
    for chapter in CHAPTERS:
        assert sum(n.startswith(chapter) for n in names["en"]) == 1, chapter


@pytest.mark.parametrize("path", BOOK2, ids=_id)
def test_committed_without_outputs_and_installs_only_where_missing(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        assert cell["outputs"] == [] and cell["execution_count"] is None, f"code cell {i}"
    first = "".join(code[0]["source"])
    assert 'importlib.util.find_spec("scratchdl") is None' in first
    assert "pip" in first and "install" in first
    if path.parent.name == "ko":  # Korean figure texts, as the first book's ko notebooks
        assert 'set_language("ko")' in "".join(code[1]["source"])


@pytest.mark.parametrize("path", BOOK2, ids=_id)
def test_cells_needing_the_books_files_say_so_and_skip_without_them(path):
    """Every cell reading the book's pickles names SCRATCHDL_BOOK2_DIR in its skip line."""
    for cell in _cells(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and ".pkl" in source:
            assert SKIP_NOTE[path.parent.name] in source, source


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch, book2: str | None) -> str:
    """What the notebook prints, run with SCRATCHDL_BOOK2_DIR set to ``book2`` or unset."""
    if book2 is None:
        monkeypatch.delenv("SCRATCHDL_BOOK2_DIR", raising=False)
    else:
        monkeypatch.setenv("SCRATCHDL_BOOK2_DIR", book2)
    label = f" ({'with' if book2 else 'without'} the book's files)"
    return printed(run_notebook(path, monkeypatch, label))


@pytest.mark.slow
@pytest.mark.parametrize("path", BOOK2, ids=_id)
def test_notebook_runs_and_shows_its_figures(path, monkeypatch):
    """With SCRATCHDL_BOOK2_DIR as CI sets it (the book's PTB file and pickles), else without."""
    book2 = os.environ.get("SCRATCHDL_BOOK2_DIR")
    out = _execute(path, monkeypatch, book2)
    if book2 and Path(book2, "ch04", "cbow_params.pkl").is_file() and "ch04" in path.name:
        assert " we: 0.61" in out and " someone: 0.59" in out  # the book's neighbours of 'you'
    if book2 and Path(book2, "ch08", "AttentionSeq2seq.pkl").is_file() and "ch08" in path.name:
        assert "AttentionSeq2seq.pkl" in out and "1.0000" in out  # 5,000 of 5,000 dates


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [p for p in BOOK2 if p.parent.name == "en" and ("ch04" in p.name or "ch08" in p.name)],
    ids=_id,
)
def test_notebook_runs_without_the_books_files(path, monkeypatch):
    """A learner without the book's folder: the pickle cells skip, the rest runs on what ships."""
    if not os.environ.get("SCRATCHDL_BOOK2_DIR"):
        pytest.skip("the run above already went without the book's files")
    out = _execute(path, monkeypatch, None)
    assert SKIP_NOTE["en"] in out
