"""scratchdl nlp: CBOW training into a run folder (checkpoint, resume step for step, refusals)
and most-similar from our vectors or the book's pickle."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from scratchdl.cli import main
from scratchdl.io import load_word_vectors

TEXT = "\n".join(
    " the cat sat on the mat . the dog sat on the log . a cat and a dog met on the mat "
    for _ in range(30)
)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT + "\n", encoding="utf-8")
    return path


def cbow(out, corpus, *extra):
    return main(
        ["nlp", "cbow", "--out", str(out), "--corpus", str(corpus), "--hidden", "8",
         "--window", "2", "--batch-size", "16", "--epochs", "3", "-q", *extra]
    )  # fmt: skip


def test_cbow_trains_writes_and_resumes_step_for_step(tmp_path, corpus, capsys):
    assert cbow(tmp_path / "full", corpus) == 0
    assert "finished: " in capsys.readouterr().out
    W_full, word_to_id, _ = load_word_vectors(tmp_path / "full")
    history = json.loads((tmp_path / "full" / "history.json").read_text())
    assert sorted(os.listdir(tmp_path / "full")) == ["curves.png", "history.json", "model.npz"]
    assert history["stop_reason"] is None and history["epochs_done"] == 3
    assert history["loss"][-1] < history["loss"][0]
    # Stopped by the time budget after its first step, then resumed: the same vectors.
    assert cbow(tmp_path / "cut", corpus, "--max-seconds", "1e-6") == 0
    assert "time budget used up: 1 of" in capsys.readouterr().out
    assert (tmp_path / "cut" / "checkpoint.npz").is_file()
    assert main(["nlp", "cbow", "--out", str(tmp_path / "cut"), "--resume", "-q"]) == 0
    W_cut, _, _ = load_word_vectors(tmp_path / "cut" / "model.npz")
    np.testing.assert_array_equal(W_cut, W_full)
    assert not (tmp_path / "cut" / "checkpoint.npz").exists()
    assert word_to_id["the"] == 0 and W_full.shape == (len(word_to_id), 8)


def test_cbow_refuses_to_replace_or_mix_settings(tmp_path, corpus, capsys):
    assert cbow(tmp_path / "run", corpus) == 0
    capsys.readouterr()
    assert cbow(tmp_path / "run", corpus) == 2
    assert "holds a finished run (model.npz): pass --force" in capsys.readouterr().err
    assert main(["nlp", "cbow", "--out", str(tmp_path / "run"), "--resume", "--epochs", "9"]) == 2
    assert "drop --epochs" in capsys.readouterr().err
    assert cbow(tmp_path / "cut", corpus, "--max-seconds", "1e-6") == 0
    corpus.write_text(TEXT.replace("cat", "bat") + "\n", encoding="utf-8")
    assert main(["nlp", "cbow", "--out", str(tmp_path / "cut"), "--resume", "-q"]) == 2
    assert "has changed since the run started" in capsys.readouterr().err
    assert (tmp_path / "cut" / "checkpoint.npz").is_file()  # kept
    assert cbow(tmp_path / "run", corpus, "--force") == 0
    assert cbow(tmp_path / "new", tmp_path / "missing.txt") == 2
    assert "cannot be read as a text corpus" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() or not os.listdir(tmp_path / "new")


def test_most_similar_from_a_run_and_errors(tmp_path, corpus, capsys):
    assert cbow(tmp_path / "run", corpus) == 0
    capsys.readouterr()
    assert main(["nlp", "most-similar", "Cat", "--model", str(tmp_path / "run"), "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[query] cat" and len(lines) == 4
    assert all(-1 <= float(line.split(": ")[1]) <= 1 for line in lines[1:])
    assert main(["nlp", "most-similar", "zebra", "--model", str(tmp_path / "run")]) == 2
    assert "'zebra' is not in the vocabulary" in capsys.readouterr().err
    assert main(["nlp", "most-similar", "cat", "--model", str(tmp_path / "nope.pkl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "run" / "model.npz")]) == 2
    assert "holds word vectors (scratchdl nlp cbow)" in capsys.readouterr().err


def test_most_similar_from_the_books_pickle(capsys):
    value = os.environ.get("SCRATCHDL_BOOK2_DIR")
    if not value or not (Path(value) / "ch04" / "cbow_params.pkl").is_file():
        pytest.skip("SCRATCHDL_BOOK2_DIR is not set to the second book's folder")
    pkl = str(Path(value) / "ch04" / "cbow_params.pkl")
    assert main(["nlp", "most-similar", "you", "--model", pkl]) == 0
    assert capsys.readouterr().out.splitlines()[1:4] == [
        " we: 0.6104",
        " someone: 0.5913",
        " i: 0.5542",
    ]


def test_fetch_ptb_downloads_verifies_and_refuses_a_bad_file(tmp_path, monkeypatch, capsys):
    from _data_helpers import local_server
    from scratchdl.data import ptb

    files = {"train": b" a b c \n b d \n", "valid": b" d a \n", "test": b" a \n"}
    with local_server() as server:
        for split, data in files.items():
            server.routes[f"/m/ptb.{split}.txt"] = ("ok", data)
        spec = ptb.PtbSpec(
            checksums={s: ("sha256", ptb.ptb_digest(d, "sha256")) for s, d in files.items()},
            urls={s: (server.url("m") + f"ptb.{s}.txt",) for s in files},
        )
        monkeypatch.setattr(ptb, "PTB", spec)
        assert main(["nlp", "fetch-ptb", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["train", "valid", "test"]
    assert (tmp_path / "data" / "ptb" / "ptb.valid.txt").read_bytes() == files["valid"]
    (tmp_path / "data" / "ptb" / "ptb.test.txt").write_bytes(b" tampered \n")
    assert main(["nlp", "fetch-ptb", "--data-dir", str(tmp_path / "data")]) == 2
    assert "ptb.test.txt: checksum mismatch" in capsys.readouterr().err
