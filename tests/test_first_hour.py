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
