"""The chapter notebooks: committed without outputs, one per chapter in each language, and each
runs from top to bottom in a fresh kernel and shows its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _notebooks import notebook_id as _id
from _notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
#: Inside the package, so that an installed scratchdl carries them ('scratchdl notebooks DIR').
NOTEBOOKS = ROOT / "src" / "scratchdl" / "notebooks"
LANGUAGES = ("en", "ko")
#: The first book's notebooks (the second book's, book2_ch*, have tests/test_notebooks_book2.py).
ALL = sorted(NOTEBOOKS.glob("*/ch*.ipynb"))
#: Every notebook the package ships, both books.
SHIPPED = sorted(NOTEBOOKS.glob("*/*.ipynb"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_chapter_has_a_notebook_in_each_language():
    names = {
        lang: sorted(p.name for p in (NOTEBOOKS / lang).glob("ch*.ipynb")) for lang in LANGUAGES
    }
    assert names["en"], "no notebooks found"
    assert names["en"] == names["ko"], f"en and ko differ: {names}"
    for chapter in ("ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08"):
        assert any(n.startswith(chapter) for n in names["en"]), chapter
    assert sorted(p.parent.name for p in ALL) == sorted(LANGUAGES * len(names["en"]))


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_committed_without_outputs(path):
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {i} has outputs: clear them before committing"
            assert cell["execution_count"] is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_first_cell_installs_only_where_missing(path):
    cells = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    first = "".join(cells[0]["source"])
    assert 'importlib.util.find_spec("scratchdl") is None' in first
    assert "pip" in first and "install" in first


#: What a notebook reading MNIST contains: ``load_mnist``, or chapter 6's sweeps (on MNIST).
MNIST_MARKERS = ("load_mnist", "scratchdl.experiments import run")


def _needs_mnist(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return any(marker in text for marker in MNIST_MARKERS)


def test_sweep_notebooks_count_as_needing_mnist(tmp_path):
    # Chapter 6's notebooks run sweeps on MNIST without calling load_mnist themselves.
    sweeps, plain = tmp_path / "sweeps.ipynb", tmp_path / "plain.ipynb"
    sweeps.write_text('"from scratchdl.experiments import run\\n"', encoding="utf-8")
    plain.write_text('"import numpy as np\\n"', encoding="utf-8")
    assert _needs_mnist(sweeps) and not _needs_mnist(plain)
    for lang in LANGUAGES:
        assert _needs_mnist(NOTEBOOKS / lang / "ch06_experiments.ipynb"), lang


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_runs_and_shows_its_figures(path, monkeypatch):
    if _needs_mnist(path) and not os.environ.get("SCRATCHDL_DATA_DIR"):
        pytest.skip("needs MNIST: set SCRATCHDL_DATA_DIR (tests never download)")
    nb = run_notebook(path, monkeypatch)
    if path.stem.startswith("ch08"):
        _check_the_book_deep_convnet(nb)


def _book_file(name: str) -> Path | None:
    """A reference file beside $SCRATCHDL_BOOK_WEIGHTS, as the notebooks look for it."""
    weights = os.environ.get("SCRATCHDL_BOOK_WEIGHTS")
    found = Path(weights).with_name(name) if weights else None
    return found if found is not None and found.exists() else None


def _check_the_book_deep_convnet(nb) -> None:  # noqa: ANN001
    """Chapter 8 with the book's weights: their accuracy and mistakes shown; without: said."""
    cell = next(c for c in nb.cells if "plot_misclassified(" in c.source)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    if _book_file("deep_convnet_params.pkl"):
        assert "0.9935" in printed and len(images) == 1
    else:
        assert "deep_convnet_params.pkl" in printed and not images


def test_scratchdl_notebooks_copies_the_installed_ones_and_never_overwrites(tmp_path, capsys):
    from scratchdl.cli import main

    out = tmp_path / "nb"
    assert main(["notebooks", str(out)]) == 0
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb"))
    assert copied == sorted(p.relative_to(NOTEBOOKS).as_posix() for p in SHIPPED)
    assert (out / "en" / "ch02_perceptron.ipynb").read_bytes() == (
        NOTEBOOKS / "en" / "ch02_perceptron.ipynb"
    ).read_bytes()
    assert f"copied {len(SHIPPED)} notebooks to {out}" in capsys.readouterr().out
    # A second copy would replace the user's (maybe edited) notebooks: refused, one line.
    (out / "en" / "ch02_perceptron.ipynb").write_text("my notes", encoding="utf-8")
    assert main(["notebooks", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert (out / "en" / "ch02_perceptron.ipynb").read_text(encoding="utf-8") == "my notes"
    assert main(["notebooks", str(out), "--force", "--lang", "ko"]) == 0
    assert main(["notebooks", str(tmp_path / "ko-only"), "--lang", "ko"]) == 0
    assert not (tmp_path / "ko-only" / "en").exists()


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.slow
def test_a_notebook_copied_out_installs_scratchdl_from_the_wheel_and_runs(tmp_path):
    """As on Colab: a fresh Python without scratchdl, the notebook and the wheel in one folder;
    the first cell finds the wheel, installs it, and the notebook runs to the end."""
    work = tmp_path / "content"
    work.mkdir()
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(ROOT)]
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build the wheel here (no package index?): {built.stderr[-300:]}")
    (wheel,) = work.glob("scratchdl-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for path in SHIPPED:  # every notebook ships inside the package
        assert f"scratchdl/notebooks/{path.parent.name}/{path.name}" in names
    shutil.copy(NOTEBOOKS / "en" / "ch02_perceptron.ipynb", work)
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    tools = _run([str(python), "-m", "pip", "install", "-q", "nbclient", "nbformat", "ipykernel"])
    if tools.returncode != 0:
        pytest.skip(
            f"cannot install Jupyter's kernel here (no package index?): {tools.stderr[-300:]}"
        )
    assert _run([str(python), "-c", "import scratchdl"]).returncode != 0  # really without it
    script = (
        "import nbformat, nbclient\n"
        "nb = nbformat.read('ch02_perceptron.ipynb', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',"
        " resources={'metadata': {'path': '.'}}).execute()\n"
        "print('images', sum('image/png' in o.get('data', {}) for c in nb.cells"
        " if c.cell_type == 'code' for o in c.outputs))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRATCHDL_SOURCE")}
    ran = _run([str(python), "-c", script], cwd=work, env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert int(ran.stdout.split("images")[-1]) >= 2
    shown = _run([str(python), "-m", "pip", "show", "scratchdl"])
    assert shown.returncode == 0 and wheel.name.split("-")[1] in shown.stdout
