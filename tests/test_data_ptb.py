"""load_ptb: the book's ids and <eos>, checksums, the .npy cache, mirrors, clear errors."""

import os
from pathlib import Path

import numpy as np
import pytest

from _data_helpers import closed_port_url, leftovers, local_server
from scratchdl.data import ptb
from scratchdl.data.ptb import PTB, PtbSpec, fetch_ptb, load_ptb, ptb_digest
from scratchdl.errors import ConfigError, DataError, DownloadError

pytestmark = pytest.mark.usefixtures("isolated_cache")

TRAIN = b" a b c \n b d \n"
VALID = b" d a \n"


def spec_for(files, **urls):
    return PtbSpec(
        checksums={s: ("sha256", ptb_digest(d, "sha256")) for s, d in files.items()},
        urls={s: tuple(u) for s, u in urls.items()},
    )


def write(folder: Path, files) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, data in files.items():
        (folder / f"ptb.{split}.txt").write_bytes(data)


def test_git_blob_digest_is_gits():
    # `printf 'hello\n' | git hash-object --stdin`
    assert ptb_digest(b"hello\n", "git-blob") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert PTB.checksums["train"] == ("git-blob", "04d78dc94771b5c04adc40b3be08bd8c82942e7f")
    with pytest.raises(ConfigError, match="sha256"):
        ptb_digest(b"", "md5")


def test_ids_follow_the_training_file_and_eos_ends_every_line(tmp_path, monkeypatch):
    files = {"train": TRAIN, "valid": VALID}
    write(tmp_path, files)
    spec = spec_for(files)
    corpus, word_to_id, id_to_word = load_ptb("train", data_dir=tmp_path, spec=spec)
    assert list(word_to_id) == ["a", "b", "c", "<eos>", "d"]
    assert corpus.tolist() == [0, 1, 2, 3, 1, 4, 3] and corpus.dtype == np.int64
    assert id_to_word == {i: w for w, i in word_to_id.items()}
    val, word_to_id2, _ = load_ptb("val", data_dir=tmp_path, spec=spec)
    assert val.tolist() == [4, 0, 3] and word_to_id2 == word_to_id
    # The ids are cached as .npy in the data folder's ptb/ subfolder; a second load reads them.
    cached = [p for p in leftovers(tmp_path) if p.endswith(".npy")]
    assert len(cached) == 2 and all(p.startswith("ptb/") for p in cached)
    monkeypatch.setattr(ptb, "_words", lambda data: pytest.fail("rebuilt despite the cache"))
    np.testing.assert_array_equal(load_ptb("val", data_dir=tmp_path, spec=spec)[0], val)


def test_bad_files_are_errors_not_replaced(tmp_path):
    files = {"train": TRAIN, "valid": VALID}
    write(tmp_path, {"train": TRAIN, "valid": b" a zebra \n"})
    spec = spec_for({**files, "valid": b" a zebra \n"})
    with pytest.raises(DataError, match="'zebra' is not in the training file"):
        load_ptb("val", data_dir=tmp_path, spec=spec)
    spec = spec_for(files)
    with pytest.raises(DataError, match="checksum mismatch"):
        load_ptb("val", data_dir=tmp_path, spec=spec)
    assert (tmp_path / "ptb.valid.txt").read_bytes() == b" a zebra \n"  # left alone
    with pytest.raises(DataError, match=r"ptb\.test\.txt not found .*Fix: load with download=True"):
        load_ptb("test", data_dir=tmp_path, spec=spec, download=False)
    with pytest.raises(ConfigError, match="'train', 'val' or 'test'"):
        load_ptb("training", data_dir=tmp_path, spec=spec)


def test_download_falls_through_bad_mirrors_and_stores_only_a_verified_file(tmp_path):
    with local_server() as server:
        server.routes["/bad/ptb.train.txt"] = ("ok", b" tampered \n")
        server.routes["/good/ptb.train.txt"] = ("ok", TRAIN)
        urls = [
            closed_port_url() + "ptb.train.txt",
            server.url("missing") + "ptb.train.txt",
            server.url("bad") + "ptb.train.txt",
            server.url("good") + "ptb.train.txt",
        ]
        spec = spec_for({"train": TRAIN}, train=urls)
        corpus, _, _ = load_ptb("train", data_dir=tmp_path / "new", spec=spec, quiet=True)
        assert corpus.tolist() == [0, 1, 2, 3, 1, 4, 3]
        assert (tmp_path / "new" / "ptb" / "ptb.train.txt").read_bytes() == TRAIN
        spec = spec_for({"train": TRAIN}, train=urls[:3])
        with pytest.raises(DownloadError) as info:
            load_ptb("train", data_dir=tmp_path / "other", spec=spec, quiet=True)
    message = str(info.value)
    assert "connection refused" in message and "HTTP 404" in message
    assert "checksum mismatch" in message and "tomsercu/lstm" in message
    assert leftovers(tmp_path / "other") == []  # nothing partial or unverified kept


@pytest.fixture
def book2_ptb():
    value = os.environ.get("SCRATCHDL_BOOK2_DIR")
    if not value or not (Path(value) / "ptb" / "ptb.valid.txt").is_file():
        pytest.skip("SCRATCHDL_BOOK2_DIR is not set to the second book's folder (with ptb/)")
    return Path(value)


def test_real_valid_and_test_files_verify_and_need_the_training_file(book2_ptb):
    paths = fetch_ptb(("val", "test"), data_dir=book2_ptb, download=False)
    assert set(paths) == {"valid", "test"}
    for split, path in paths.items():
        ptb._read(path, split, PTB)  # raises on a checksum mismatch
    if (book2_ptb / "ptb" / "ptb.train.txt").is_file():
        pytest.skip("the training file is present here")
    with pytest.raises(DataError, match=r"ptb\.train\.txt not found"):
        load_ptb("test", data_dir=book2_ptb, download=False)


def test_real_files_give_the_books_sizes(book2_ptb, tmp_path):
    # The training file is not in the shared folder: a "training file" made of the validation
    # and test files gives every word of both an id, so their sizes can be checked.
    valid = (book2_ptb / "ptb" / "ptb.valid.txt").read_bytes()
    test = (book2_ptb / "ptb" / "ptb.test.txt").read_bytes()
    files = {"train": valid + test, "valid": valid, "test": test}
    write(tmp_path, files)
    spec = spec_for(files)
    val, word_to_id, _ = load_ptb("val", data_dir=tmp_path, spec=spec)
    corpus, _, _ = load_ptb("test", data_dir=tmp_path, spec=spec)
    assert len(val) == 73760 and len(corpus) == 82430  # the book's corpus sizes
    assert val[:4].tolist() == [0, 1, 2, 3]  # "consumers may want to"
    assert (val == word_to_id["<eos>"]).sum() == valid.count(b"\n")


def test_training_file_ids_are_the_books_pickles(tmp_path):
    """Where the real training file is available offline (SCRATCHDL_PTB_DIR), its ids are the
    ones the book's cbow_params.pkl was trained with."""
    from scratchdl.io import load_word_vectors

    folder, book2 = os.environ.get("SCRATCHDL_PTB_DIR"), os.environ.get("SCRATCHDL_BOOK2_DIR")
    if not folder or not (Path(folder) / "ptb.train.txt").is_file() or not book2:
        pytest.skip("needs SCRATCHDL_PTB_DIR (with ptb.train.txt) and SCRATCHDL_BOOK2_DIR")
    corpus, word_to_id, _ = load_ptb("train", data_dir=folder, download=False)
    _, book_ids, _ = load_word_vectors(Path(book2) / "ch04" / "cbow_params.pkl")
    assert len(corpus) == 929589 and word_to_id == book_ids


def test_a_given_vocabulary_numbers_a_split_without_the_training_file(tmp_path):
    files = {"valid": VALID}
    write(tmp_path, files)  # no ptb.train.txt anywhere
    spec = spec_for({"train": TRAIN, **files})
    vocab = {"a": 0, "b": 1, "c": 2, "<eos>": 3, "d": 4}
    val, word_to_id, id_to_word = load_ptb("val", data_dir=tmp_path, spec=spec, vocab=vocab)
    assert val.tolist() == [4, 0, 3] and val.dtype == np.int64
    assert word_to_id == vocab and word_to_id is not vocab
    assert id_to_word == {i: w for w, i in vocab.items()}
    assert not [p for p in leftovers(tmp_path) if p.endswith((".npy", ".json"))]  # no cache
    with pytest.raises(DataError, match="'d' is not in the given vocabulary"):
        load_ptb("val", data_dir=tmp_path, spec=spec, vocab={"a": 0, "<eos>": 1})
    for bad, match in (
        ({"a": 0, "<eos>": 2}, "ids 0 to 1, each once; '<eos>' -> 2"),
        ({"a": 0, "d": 0, "<eos>": 1}, "'d' -> 0 breaks"),
        ({"a": 0, "d": 1, "<eos>": True}, "'<eos>' -> True"),
        ({"a": 0, "d": 1}, "no '<eos>'"),
        (["a", "<eos>"], "must map words to ids"),
    ):
        with pytest.raises(ConfigError, match=match):
            load_ptb("val", data_dir=tmp_path, spec=spec, vocab=bad)
    with pytest.raises(DataError, match=r"ptb\.train\.txt not found"):
        load_ptb("train", data_dir=tmp_path, spec=spec, vocab=vocab, download=False)


def test_the_books_cbow_vocabulary_is_the_training_files(book2_ptb):
    """cbow_params.pkl keeps the word_to_id of the book's ptb.load_data('train'): it numbers
    the test and validation files as the book does, without ptb.train.txt."""
    pkl = book2_ptb / "ch04" / "cbow_params.pkl"
    corpus, word_to_id, id_to_word = load_ptb("test", data_dir=book2_ptb, vocab=pkl)
    assert len(word_to_id) == 10000 and len(corpus) == 82430
    # What the book's ch02/show_ptb.py prints from ptb.load_data('train'); the training file
    # starts with the 24 words of its first line, then <eos>.
    assert [id_to_word[i] for i in range(3)] == ["aer", "banknote", "berlitz"]
    assert word_to_id["<eos>"] == 24 and id_to_word[25] == "pierre"
    assert (word_to_id["car"], word_to_id["happy"], word_to_id["lexus"]) == (3856, 4428, 7426)
    test = (book2_ptb / "ptb" / "ptb.test.txt").read_text(encoding="utf-8")
    assert (corpus == 24).sum() == test.count("\n")
    assert [id_to_word[i] for i in corpus[:5]] == test.split()[:5]
    val, _, _ = load_ptb("val", data_dir=book2_ptb, vocab=word_to_id)
    assert len(val) == 73760
