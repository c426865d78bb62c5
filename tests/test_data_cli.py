"""``scratchdl data ...`` through scratchdl.cli.main, on synthetic datasets."""

from __future__ import annotations

import pytest

from _data_helpers import (
    closed_port_url,
    gz,
    leftovers,
    local_server,
    make_raw,
    spec_for,
    write_files,
)
from scratchdl.cli import main
from scratchdl.data import FILENAMES, datasets

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def synthetic(monkeypatch, raw):
    """Make the names "mnist" and "fashion" mean tiny synthetic datasets."""
    specs = {
        "mnist": spec_for(raw, mirrors=(closed_port_url(),)),
        "fashion": spec_for(make_raw(seed=2), name="fashion", title="Fash", sha256={}),
    }
    monkeypatch.setattr(datasets, "DATASETS", specs)
    return specs


def test_info_plain_text(capsys, synthetic, isolated_cache):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "$SCRATCHDL_DATA_DIR  (not set)" in out
    assert str(isolated_cache) in out and "XDG_CACHE_HOME" in out
    assert "mnist" in out and "0/4 present" in out


def test_import_then_verify(tmp_path, capsys, synthetic, raw, isolated_cache):
    write_files(tmp_path / "src", raw)
    assert main(["data", "import", str(tmp_path / "src")]) == 0
    assert "imported into mnist" in capsys.readouterr().out
    assert (isolated_cache / "mnist" / "train-images-idx3-ubyte.gz").read_bytes() == gz(
        raw["train-images"]
    )
    assert main(["data", "verify", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert out.count(" verified ") == 4
    assert main(["data", "info"]) == 0
    assert "4/4 present" in capsys.readouterr().out


def test_import_refuses_bad_files(tmp_path, capsys, synthetic, raw, isolated_cache):
    write_files(tmp_path / "src", raw)
    path = tmp_path / "src" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50])
    assert main(["data", "import", str(tmp_path / "src")]) == 2
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte.gz: the gzip stream is truncated" in err
    assert "nothing was imported" in err and len(err.strip().splitlines()) == 1
    assert leftovers(isolated_cache) == []


def test_import_single_file_and_unknown_name(tmp_path, capsys, synthetic, raw):
    single = tmp_path / FILENAMES["t10k-labels"]
    single.write_bytes(raw["t10k-labels"])
    assert main(["data", "import", str(single)]) == 0
    other = tmp_path / "labels.bin"
    other.write_bytes(raw["t10k-labels"])
    assert main(["data", "import", str(other)]) == 2
    assert "not an IDX file name we know" in capsys.readouterr().err


def test_verify_reports_bad_file(tmp_path, capsys, synthetic, raw, isolated_cache):
    write_files(isolated_cache / "mnist", raw)
    (isolated_cache / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(gz(b"\0\0\x08\x01"))
    assert main(["data", "verify"]) == 1
    out = capsys.readouterr().out
    assert "train-labels  bad" in out and "too short for an IDX labels header" in out
    assert out.count(" verified ") == 3 and out.count(" missing ") == 4  # fashion is absent


def test_fetch_from_local_mirror(capsys, monkeypatch, synthetic, raw, isolated_cache):
    with local_server() as server:
        spec = spec_for(raw, mirrors=(closed_port_url(), server.serve("m", raw)))
        monkeypatch.setitem(synthetic, "mnist", spec)
        assert main(["data", "fetch", "mnist", "--quiet"]) == 0
    assert "all files verified" in capsys.readouterr().out
    assert len(leftovers(isolated_cache / "mnist")) >= 4


def test_fetch_offline_is_one_line(capsys, synthetic, tmp_path):
    assert main(["data", "fetch", "--quiet", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("scratchdl data: error: could not download Synthetic")
    assert "connection refused" in err and "scratchdl data import PATH" in err


def test_fashion_import_records_sha(tmp_path, capsys, synthetic, isolated_cache):
    write_files(tmp_path / "f", make_raw(seed=2))
    assert main(["data", "import", str(tmp_path / "f"), "--dataset", "fashion"]) == 0
    assert (isolated_cache / "fashion" / "verified-sha256.json").is_file()
    assert main(["data", "verify", "--dataset", "fashion"]) == 0
    assert capsys.readouterr().out.count("by gz md5") == 4


def test_action_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data"])
    assert info.value.code == 2
