"""A learner's first hour (issue 14): the rough edges a newcomer hit, each pinned by a test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scratchdl.cli import main


def test_bare_scratchdl_prints_the_help_and_exits_2(capsys):
    # git prints its usage and exits non-zero; we do the same with our usage-error status.
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("usage: scratchdl")
    for command in ("train", "evaluate", "data", "sweep", "figures", "gates"):
        assert f"    {command}" in out
    assert err == ""


def test_bare_scratchdl_console_script_exits_2():
    done = subprocess.run(
        [sys.executable, "-m", "scratchdl"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout.startswith("usage: scratchdl") and "error" not in done.stderr


def test_bare_data_prints_its_actions(capsys):
    assert main(["data"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: scratchdl data")
    for action in ("fetch", "verify", "import", "info", "clean"):
        assert action in out


@pytest.mark.parametrize("argv", [["--help"], ["data", "--help"]])
def test_help_still_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0


@pytest.mark.slow
def test_readme_mnist_size_claims_match_a_real_load(tmp_path, monkeypatch):
    import gzip
    import os
    import re
    import shutil
    from pathlib import Path

    from scratchdl.data import FILENAMES, load_mnist

    source = os.environ.get("SCRATCHDL_DATA_DIR")
    if not source:
        pytest.skip("needs MNIST: set SCRATCHDL_DATA_DIR")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    claim = re.search(r"about (\d+) MB to\s+download, up to about (\d+) MB in the cache", readme)
    assert claim, "the README's size sentence changed: update this test"
    download_mb, cache_mb = int(claim.group(1)), int(claim.group(2))
    data = tmp_path / "data"
    data.mkdir()
    for name in FILENAMES.values():
        shutil.copy(Path(source) / f"{name}.gz", data)
    gz_bytes = sum(p.stat().st_size for p in data.iterdir())
    assert round(gz_bytes / 2**20) == download_mb
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_mnist(normalize=True, data_dir=data)  # the processed copies go beside the files
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    # The package-index fallback stores the IDX files decompressed: the most the cache holds.
    raw_bytes = sum(len(gzip.decompress(p.read_bytes())) for p in data.glob("*.gz"))
    largest = total - gz_bytes + raw_bytes
    assert 0.8 * cache_mb <= total / 2**20 <= largest / 2**20 <= cache_mb + 1


@pytest.fixture
def tiny_mnist(monkeypatch):
    """A stand-in for MNIST: 400 training images, so 20 mini-batches of 20 are one epoch."""
    import numpy as np

    import scratchdl.data

    rng = np.random.default_rng(0)

    def make(n):
        t = rng.integers(0, 10, n)
        x = rng.random((n, 784), dtype=np.float32) * 0.3
        for k in range(10):
            x[t == k, k * 70 : k * 70 + 70] += 0.7
        return x, t

    data = (make(400), make(100))
    monkeypatch.setattr(scratchdl.data, "load_mnist", lambda *a, **k: data)


def _epoch_column(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["epoch", "iter"])
    return [line.split()[0] for line in lines[start + 1 :] if line.split()[0][0].isdigit()]


def test_epoch_column_counts_epochs_done_not_the_epoch_begun(tmp_path, capsys, tiny_mnist):
    argv = ["train", "--out", str(tmp_path / "r"), "--batch-size", "20", "--hidden", "16"]
    assert main([*argv, "--iters", "50"]) == 0
    out = capsys.readouterr().out
    # 50 updates of 20 per epoch: records at 1, 2 and 2.5 epochs (once "1, 2, 3").
    assert _epoch_column(out) == ["1", "2", "2.5"]


def test_one_epoch_is_singular_in_the_run_description(tmp_path, capsys, tiny_mnist):
    argv = ["train", "--out", str(tmp_path / "r"), "--batch-size", "20", "--hidden", "16"]
    assert main([*argv, "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert ", 1 epoch, seed 0" in out and "1 epochs" not in out
    assert _epoch_column(out) == ["1"]


def test_progress_bar_shows_epochs_done_of_the_run():
    from types import SimpleNamespace

    from scratchdl.train.progress import RichProgress

    def label(iteration):
        trainer = SimpleNamespace(iteration=iteration, iter_per_epoch=600, total_iters=10_000)
        return RichProgress._epoch(trainer)

    assert label(0) == "0/16.67"
    assert label(6000) == "10/16.67"
    assert label(6060) == "10.1/16.67"
    assert label(10_000) == "16.67/16.67"


def test_text_helpers():
    from scratchdl._text import epochs_done, over_seeds, plural_epochs

    assert [plural_epochs(n) for n in (1, 2, 0.5, "1", "3")] == [
        "1 epoch",
        "2 epochs",
        "0.5 epochs",
        "1 epoch",
        "3 epochs",
    ]
    assert epochs_done(10_000, 600) == "16.67" and epochs_done(9600, 600) == "16"
    assert over_seeds(1) == "one seed" and over_seeds(3) == "mean ± std over 3 seeds"


def test_one_epoch_sweep_summary_says_epoch(tmp_path):
    from _sweep_helpers import blobs, info
    from scratchdl.experiments import lr
    from scratchdl.experiments.engine import run_sweep

    source = blobs()
    opts = lr.Options(values=(0.1,), epochs=1, seeds=(0,), hidden=(16,), eval_samples=100)
    run_sweep(lr.build(opts, info(source)), tmp_path, source=source, jobs=0)
    summary = (tmp_path / "summary.md").read_text()
    assert "1 epoch" in summary and "1 epochs" not in summary
