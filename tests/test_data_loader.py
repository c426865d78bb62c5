"""load_mnist on tiny synthetic datasets: flags, locations, the processed cache."""

from __future__ import annotations

import itertools
import os
import stat
import warnings
import zlib

import numpy as np
import pytest

from _data_helpers import (
    N_TEST,
    N_TRAIN,
    closed_port_url,
    leftovers,
    make_raw,
    read_only,
    spec_for,
    write_files,
)
from scratchdl.data import (
    ENV_VAR,
    Downloader,
    cache,
    fetch,
    import_files,
    load_mnist,
    locate,
    verify,
)
from scratchdl.data import mnist as mnist_module
from scratchdl.errors import DataError

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def data_dir(tmp_path, raw):
    folder = tmp_path / "data"
    write_files(folder, raw)
    return folder


@pytest.mark.parametrize(
    ("normalize", "flatten", "one_hot"), list(itertools.product([True, False], repeat=3))
)
def test_flags(data_dir, raw, normalize, flatten, one_hot):
    spec = spec_for(raw)
    (x, t), (xt, tt) = load_mnist(normalize, flatten, one_hot, data_dir=data_dir, dataset=spec)
    shape = (N_TRAIN, 784) if flatten else (N_TRAIN, 1, 28, 28)
    assert x.shape == shape and xt.shape[0] == N_TEST
    if normalize:
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    else:
        assert x.dtype == np.uint8 and x.min() == 0 and x.max() == 255
    expected = np.frombuffer(raw["train-images"], np.uint8, offset=16)
    np.testing.assert_array_equal(
        x.reshape(-1), expected / np.float32(255) if normalize else expected
    )
    if one_hot:
        assert t.shape == (N_TRAIN, 10) and t.dtype == np.float32
        np.testing.assert_array_equal(t.argmax(axis=1), np.arange(N_TRAIN) % 10)
    else:
        assert t.dtype == np.int64
        np.testing.assert_array_equal(tt, np.arange(N_TEST) % 10)


def test_processed_cache_is_used_and_fast_path_skips_sources(data_dir, raw, monkeypatch):
    spec = spec_for(raw)
    first = load_mnist(dataset=spec, data_dir=data_dir)
    npzs = list((data_dir / "mnist").glob("mnist-*.npz"))
    assert len(npzs) == 1
    # Second load: from the cache, without reading or hashing the sources.
    monkeypatch.setattr(verify, "verify_file", lambda *a, **k: pytest.fail("sources re-read"))
    second = load_mnist(dataset=spec, data_dir=data_dir)
    np.testing.assert_array_equal(first[0][0], second[0][0])
    np.testing.assert_array_equal(first[1][1], second[1][1])


def test_normalised_images_are_mapped_from_a_checked_float32_copy(data_dir, raw):
    spec = spec_for(raw)
    (x_raw, _), (xt_raw, _) = load_mnist(normalize=False, dataset=spec, data_dir=data_dir)
    expected = x_raw.reshape(len(x_raw), 784).astype(np.float32) / np.float32(255)
    first = load_mnist(dataset=spec, data_dir=data_dir)[0][0]  # builds the float32 copies
    (npz,) = (data_dir / "mnist").glob("mnist-*.npz")
    copy = cache.float_path(npz, "train")
    assert copy.is_file() and cache.float_path(npz, "test").is_file()
    x = load_mnist(dataset=spec, data_dir=data_dir)[0][0]
    assert isinstance(x.base, np.memmap)  # mapped, not converted again
    assert type(x) is np.ndarray and x.dtype == np.float32 and x.flags.writeable
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(x, expected)
    x[0, :] = 7.0  # copy-on-write: the caller's change stays in the caller's array
    np.testing.assert_array_equal(load_mnist(dataset=spec, data_dir=data_dir)[0][0], expected)
    images = load_mnist(flatten=False, dataset=spec, data_dir=data_dir)[1][0]
    np.testing.assert_array_equal(images.reshape(len(xt_raw), 784) * 255, xt_raw.reshape(-1, 784))
    # A damaged copy fails its CRC-32 and is rebuilt from the uint8 cache, never served.
    data = bytearray(copy.read_bytes())
    data[-5] ^= 0x55
    copy.write_bytes(bytes(data))
    np.testing.assert_array_equal(load_mnist(dataset=spec, data_dir=data_dir)[0][0], expected)
    assert zlib.crc32(np.load(copy)) == int(copy.with_name(copy.name + ".crc32").read_text())


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_cache_is_rebuilt_with_a_warning(data_dir, raw, damage):
    spec = spec_for(raw)
    expected = load_mnist(normalize=False, dataset=spec, data_dir=data_dir)
    (npz,) = (data_dir / "mnist").glob("mnist-*.npz")
    data = bytearray(npz.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x55  # inside the image array: caught by the zip CRC
    else:
        data = bytearray(b"not a zip at all")
    npz.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="processed cache ignored .*rebuilding"):
        got = load_mnist(normalize=False, dataset=spec, data_dir=data_dir)
    np.testing.assert_array_equal(got[0][0], expected[0][0])
    np.testing.assert_array_equal(got[1][0], expected[1][0])
    # Rebuilt: the next load is clean and silent.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_mnist(dataset=spec, data_dir=data_dir)


def test_changed_source_gets_a_new_cache(data_dir, raw):
    load_mnist(dataset=spec_for(raw), data_dir=data_dir)
    assert len(list((data_dir / "mnist").glob("mnist-*.x_*.float32.npy"))) == 2
    new = dict(raw, **{"t10k-images": make_raw(seed=5)["t10k-images"]})
    write_files(data_dir, new)
    os.utime(data_dir / "t10k-images-idx3-ubyte.gz", ns=(1, 1))  # even with an odd mtime
    (_, _), (xt, _) = load_mnist(normalize=False, dataset=spec_for(new), data_dir=data_dir)
    np.testing.assert_array_equal(
        xt.reshape(-1), np.frombuffer(new["t10k-images"], np.uint8, offset=16)
    )
    assert len(list((data_dir / "mnist").glob("mnist-*.npz"))) == 1  # the old one is gone
    (npz,) = (data_dir / "mnist").glob("mnist-*.npz")
    stems = {p.name.split(".")[0] for p in (data_dir / "mnist").glob("mnist-*.x_*")}
    assert stems <= {npz.stem}  # and so are its float32 copies


def test_changed_source_failing_checksum_is_an_error_not_stale_data(data_dir, raw):
    spec = spec_for(raw)
    load_mnist(dataset=spec, data_dir=data_dir)
    write_files(data_dir, make_raw(seed=9))
    with pytest.raises(DataError, match="checksum mismatch.*data fetch"):
        load_mnist(dataset=spec, data_dir=data_dir)


def test_read_only_data_dir_caches_in_user_cache(tmp_path, raw, isolated_cache):
    folder = tmp_path / "readonly"
    write_files(folder, raw, compress=False)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        location = locate(spec_for(raw), folder)
        assert location.write_dir == isolated_cache / "mnist"
        (x, t), _ = load_mnist(dataset=spec_for(raw), data_dir=folder)
        assert x.shape == (N_TRAIN, 784)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
            ]
        )
        assert len(list((isolated_cache / "mnist").glob("mnist-*.npz"))) == 1
    finally:
        folder.chmod(0o755)


def test_files_in_dataset_subfolder_and_env_var(tmp_path, raw, monkeypatch):
    write_files(tmp_path / "env" / "mnist", raw)
    monkeypatch.setenv("SCRATCHDL_DATA_DIR", str(tmp_path / "env"))
    (x, _), _ = load_mnist(dataset=spec_for(raw), download=False)
    assert x.shape == (N_TRAIN, 784)


def test_default_location_is_xdg_cache(raw, isolated_cache):
    write_files(isolated_cache / "mnist", raw)
    (x, _), _ = load_mnist(dataset=spec_for(raw), download=False)
    assert x.shape == (N_TRAIN, 784)
    assert locate(spec_for(raw)).origin == "user cache"


def test_missing_files_without_download(tmp_path, raw):
    (tmp_path / "empty").mkdir()  # an existing, empty folder (a missing one is its own error)
    with pytest.raises(DataError) as info:
        load_mnist(dataset=spec_for(raw), data_dir=tmp_path / "empty", download=False)
    message = str(info.value)
    assert "files missing: train-images-idx3-ubyte" in message
    assert "scratchdl data fetch" in message and "scratchdl data import PATH" in message
    assert "SCRATCHDL_DATA_DIR" in message


def test_image_label_count_mismatch_in_files(data_dir, raw):
    bad = dict(raw, **{"train-labels": make_raw(n_train=5)["train-labels"]})
    write_files(data_dir, bad)
    with pytest.raises(DataError, match="has 6 images but .*train-labels.* has 5 labels"):
        load_mnist(dataset=spec_for(bad), data_dir=data_dir)


def test_truncated_file_on_disk(data_dir, raw):
    path = data_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: the gzip stream is trunc"):
        load_mnist(dataset=spec_for(raw), data_dir=data_dir)
    assert not list(data_dir.rglob("*.npz"))


def test_fashion_style_md5_then_recorded_sha(data_dir, raw):
    spec = spec_for(raw, name="fashion", sha256={})
    load_mnist(dataset=spec, data_dir=data_dir)
    recorded = verify.read_recorded(data_dir / "fashion")
    assert set(recorded) == {"train-images", "train-labels", "t10k-images", "t10k-labels"}
    # A raw copy of the same content now verifies through the recorded SHA-256.
    for p in data_dir.glob("*.gz"):
        p.unlink()
    write_files(data_dir, raw, compress=False)
    (x, _), _ = load_mnist(dataset=spec, data_dir=data_dir)
    assert x.shape == (N_TRAIN, 784)


def test_unwritable_cache_still_loads(tmp_path, raw, monkeypatch):
    write_files(tmp_path / "d", raw)
    monkeypatch.setattr(cache.np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "x")))
    with pytest.warns(RuntimeWarning, match="could not write the processed cache"):
        (x, _), _ = load_mnist(dataset=spec_for(raw), data_dir=tmp_path / "d")
    assert x.shape == (N_TRAIN, 784)
    assert [p for p in leftovers(tmp_path / "d") if "npz" in p] == []


def test_loader_is_exported_from_package():
    assert mnist_module.load_mnist is load_mnist


# --- a data folder asked for is checked, never silently replaced ------------------------------


def _no_download(monkeypatch):
    monkeypatch.setattr(Downloader, "fetch", lambda *a, **k: pytest.fail("download attempted"))


def test_missing_data_dir_is_an_error_and_not_created(tmp_path, raw, monkeypatch, isolated_cache):
    _no_download(monkeypatch)
    typo = tmp_path / "typo_dir"
    with pytest.raises(DataError) as info:
        load_mnist(dataset=spec_for(raw), data_dir=typo)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert f"data folder {typo} does not exist" in message
    assert f"scratchdl data fetch mnist --data-dir {typo}" in message
    assert not typo.exists() and leftovers(isolated_cache) == []


def test_file_as_data_dir_is_an_error(tmp_path, raw, monkeypatch, isolated_cache):
    _no_download(monkeypatch)
    write_files(tmp_path / "d", raw)
    a_file = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    for call in (
        lambda: load_mnist(dataset=spec_for(raw), data_dir=a_file),
        lambda: fetch(spec_for(raw), data_dir=a_file),
        lambda: import_files(tmp_path / "d", dataset=spec_for(raw), data_dir=a_file),
    ):
        with pytest.raises(DataError) as info:
            call()
        message = str(info.value)
        assert len(message.splitlines()) == 1
        assert f"data folder {a_file} is a file, not a folder" in message
        assert f"(perhaps {tmp_path / 'd'})" in message and "Fix:" in message
    assert leftovers(isolated_cache) == []


@pytest.mark.parametrize("problem", ["missing", "file"])
def test_env_var_pointing_at_missing_path_or_file(tmp_path, raw, monkeypatch, problem):
    target = tmp_path / "env"
    if problem == "file":
        target.write_bytes(b"x")
    monkeypatch.setenv(ENV_VAR, str(target))
    with pytest.raises(DataError) as info:
        load_mnist(dataset=spec_for(raw))
    message = str(info.value)
    assert message.startswith(f"SCRATCHDL_DATA_DIR={target}")
    assert ("does not exist" if problem == "missing" else "is a file") in message
    assert "unset it" in message or "unset SCRATCHDL_DATA_DIR" in message
    if problem == "missing":
        assert not target.exists()
        # fetch may create it (that is its job): it gets as far as the (offline) download.
        with pytest.raises(DataError, match="could not download"):
            fetch(spec_for(raw, mirrors=(closed_port_url(),)), quiet=True)
        assert (target / "mnist").is_dir()


def test_read_only_data_dir_missing_files_is_not_downloaded_into_user_cache(
    tmp_path, raw, monkeypatch, isolated_cache
):
    folder = tmp_path / "ro"
    write_files(folder, raw)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    read_only(monkeypatch, folder)
    _no_download(monkeypatch)
    for call in (
        lambda: load_mnist(dataset=spec_for(raw), data_dir=folder),
        lambda: fetch(spec_for(raw), data_dir=folder),
    ):
        with pytest.raises(DataError) as info:
            call()
        message = str(info.value)
        assert f"cannot download Synthetic files: data folder {folder} is not writable" in message
        assert "nothing was written to the user cache" in message and "Fix:" in message
    assert not (isolated_cache / "mnist").exists()


def test_read_only_data_dir_with_good_files_still_loads_and_fetches(
    tmp_path, raw, monkeypatch, isolated_cache
):
    folder = tmp_path / "ro"
    write_files(folder, raw)
    read_only(monkeypatch, folder)
    _no_download(monkeypatch)
    assert locate(spec_for(raw), folder).files_dir is None
    (x, _), _ = load_mnist(dataset=spec_for(raw), data_dir=folder)
    assert x.shape == (N_TRAIN, 784)
    assert len(list((isolated_cache / "mnist").glob("mnist-*.npz"))) == 1  # cache as before
    paths_found = fetch(spec_for(raw), data_dir=folder)
    assert {p.parent for p in paths_found.values()} == {folder}
