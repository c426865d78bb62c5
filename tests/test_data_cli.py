"""``scratchdl data ...`` through scratchdl.cli.main, on synthetic datasets."""

from __future__ import annotations

import re

import pytest

from _data_helpers import (
    closed_port_url,
    gz,
    leftovers,
    local_server,
    make_raw,
    read_only,
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
    assert re.search(r"^  2\. \$SCRATCHDL_DATA_DIR +\(not set\)$", out, re.M)
    assert str(isolated_cache) in out and "XDG_CACHE_HOME" in out
    assert "mnist" in out and "0/4 present" in out
    # Piped output keeps its column headers, aligned with the values under them.
    header = next(line for line in out.splitlines() if line.startswith("  rule "))
    row = next(line for line in out.splitlines() if line.startswith("  2. "))
    assert header.index("value") == row.index("(not set)")


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


def test_no_action_prints_the_help(capsys):
    assert main(["data"]) == 2
    assert capsys.readouterr().out.startswith("usage: scratchdl data")


def test_import_into_new_data_dir_creates_it(tmp_path, capsys, synthetic, raw, isolated_cache):
    write_files(tmp_path / "src", raw)
    new = tmp_path / "new"
    assert main(["data", "import", str(tmp_path / "src"), "--data-dir", str(new)]) == 0
    out = capsys.readouterr().out
    assert str(new / "mnist" / "train-images-idx3-ubyte.gz") in out  # says where it wrote
    assert len(leftovers(new / "mnist")) == 4 and leftovers(isolated_cache) == []


def test_import_into_read_only_data_dir_is_refused(
    tmp_path, capsys, monkeypatch, synthetic, raw, isolated_cache
):
    write_files(tmp_path / "src", raw)
    imm = tmp_path / "imm"
    imm.mkdir()
    read_only(monkeypatch, imm)
    assert main(["data", "import", str(tmp_path / "src"), "--data-dir", str(imm)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "imported" not in captured.out and len(err.splitlines()) == 1
    assert f"cannot import Synthetic files: data folder {imm} is not writable" in err
    assert "Fix:" in err
    assert leftovers(isolated_cache) == [] and leftovers(imm) == []


def test_import_into_read_only_data_dir_that_already_has_them(
    tmp_path, capsys, monkeypatch, synthetic, raw, isolated_cache
):
    write_files(tmp_path / "src", raw)
    write_files(tmp_path / "ro", raw, compress=False)  # same content, other form
    read_only(monkeypatch, tmp_path / "ro")
    assert main(["data", "import", str(tmp_path / "src"), "--data-dir", str(tmp_path / "ro")]) == 0
    assert str(tmp_path / "ro" / "train-images-idx3-ubyte") in capsys.readouterr().out
    assert leftovers(isolated_cache) == []


def test_fetch_into_new_data_dir_says_where(tmp_path, capsys, monkeypatch, synthetic, raw):
    new = tmp_path / "new"
    with local_server() as server:
        monkeypatch.setitem(synthetic, "mnist", spec_for(raw, mirrors=(server.serve("m", raw),)))
        assert main(["data", "fetch", "mnist", "--data-dir", str(new)]) == 0
    captured = capsys.readouterr()
    assert f"data folder {new} does not exist: creating it" in captured.err
    assert str(new / "mnist" / "train-images-idx3-ubyte.gz") in captured.out
    assert len(leftovers(new / "mnist")) >= 4


@pytest.mark.parametrize("action", ["fetch", "verify"])
def test_data_dir_that_is_a_file(tmp_path, capsys, synthetic, raw, action):
    write_files(tmp_path / "d", raw)
    a_file = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    assert main(["data", action, "--data-dir", str(a_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"data folder {a_file} is a file, not a folder" in err and "Fix:" in err


def test_train_with_missing_data_dir_fails_without_download(tmp_path, capsys, synthetic):
    typo = tmp_path / "typo_dir"
    argv = ["train", "--data-dir", str(typo), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"data folder {typo} does not exist" in err
    assert f"scratchdl data fetch mnist --data-dir {typo}" in err
    assert not typo.exists()


def _sizes_and_paths(out: str) -> dict[str, str]:
    """Files listed by ``data info`` (``    in FOLDER/`` then ``  12.3 KB  name``) or
    ``data clean`` (``  12.3 KB  /whole/path``): full path -> size."""
    found = {}
    folder = ""
    for line in out.splitlines():
        if m := re.match(r"^ +in (/\S+/)$", line):
            folder = m.group(1)
        elif m := re.match(r"^ +(\d+(?:\.\d)? (?:B|KB|MB|GB))  (\S+)$", line):
            name = m.group(2)
            found[name if name.startswith("/") else folder + name] = m.group(1)
    return found


def test_info_shows_each_item_with_its_size(tmp_path, capsys, synthetic, raw, isolated_cache):
    from scratchdl.data import load_mnist

    write_files(tmp_path / "src", raw)
    assert main(["data", "import", str(tmp_path / "src")]) == 0
    load_mnist(normalize=True)  # the processed cache and its float32 copies
    capsys.readouterr()
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    items = _sizes_and_paths(out)
    mnist = isolated_cache / "mnist"
    on_disk = sorted(p for p in mnist.iterdir() if p.name != "verified-sha256.json")
    assert sorted(items) == [str(p) for p in on_disk]
    assert any(name.endswith(".npz") for name in items)
    assert any(name.endswith(".x_train.float32.npy") for name in items)
    gz_file = mnist / "train-images-idx3-ubyte.gz"
    size = gz_file.stat().st_size
    assert items[str(gz_file)] == (f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B")
    assert "user cache" in out and "`scratchdl data clean` removes it" in out


def test_info_keeps_paths_whole_in_a_narrow_terminal(
    tmp_path, capsys, monkeypatch, synthetic, raw, isolated_cache
):
    # A deep folder: in an 80-column terminal a table cell would fold it into pieces.
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "data"
    write_files(deep / "mnist", raw)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["data", "info", "--data-dir", str(deep)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"    in {deep / 'mnist'}/" in lines  # the folder whole on its own line
    for kind in FILENAMES.values():
        assert any(line.endswith(f"  {kind}.gz") for line in lines), kind
    assert all(len(line) <= 80 for line in lines if "idx" in line), out


def test_clean_removes_the_cache_and_says_what_and_how_much(
    tmp_path, capsys, synthetic, raw, isolated_cache
):
    from scratchdl.data import load_mnist

    write_files(tmp_path / "src", raw)
    assert main(["data", "import", str(tmp_path / "src")]) == 0
    load_mnist(normalize=True)
    mnist = isolated_cache / "mnist"
    before = {p: p.stat().st_size for p in mnist.iterdir()}
    capsys.readouterr()

    assert main(["data", "clean", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert set(_sizes_and_paths(out)) == {str(p) for p in before}
    assert f"would remove {len(before)} files" in out
    assert {p: p.stat().st_size for p in mnist.iterdir()} == before  # dry run: untouched

    assert main(["data", "clean", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert not mnist.exists()
    total = sum(before.values())
    assert f"removed {len(before)} files, {total / 1024:.1f} KB freed" in out
    assert set(_sizes_and_paths(out)) == {str(p) for p in before}

    assert main(["data", "clean"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_clean_never_removes_a_persons_own_files(
    tmp_path, capsys, monkeypatch, synthetic, raw, isolated_cache
):
    from scratchdl.data import load_mnist

    own = tmp_path / "mine"
    write_files(own, raw)
    read_only(monkeypatch, own)
    load_mnist(data_dir=own)  # the processed cache goes to the user cache
    capsys.readouterr()
    assert main(["data", "clean", "--data-dir", str(own), "--keep-downloads"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in own.iterdir()) == sorted(f"{n}.gz" for n in FILENAMES.values())
    assert "kept (your own data folder, not a cache):" in out
    assert str(own / "train-images-idx3-ubyte.gz") in out
    removed = _sizes_and_paths(out)
    assert removed and all(p.startswith(str(isolated_cache)) for p in removed)


def test_verify_in_a_narrow_terminal_prints_blocks_with_whole_paths(
    tmp_path, capsys, monkeypatch, synthetic, raw, isolated_cache
):
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "data"
    write_files(deep / "mnist", raw)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["data", "verify", "--dataset", "mnist", "--data-dir", str(deep)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for kind in FILENAMES.values():
        assert f"    path: {deep / 'mnist' / kind}.gz" in lines
    assert lines.count("    state: verified") == 4
