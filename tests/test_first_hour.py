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
