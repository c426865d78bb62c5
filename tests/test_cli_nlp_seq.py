"""scratchdl nlp seq2seq / attention-map: end to end on the shipped data sets, refusals in one
line."""

import json
import os

import numpy as np
import pytest

from scratchdl.attention import AttentionSeq2seq
from scratchdl.cli import main
from scratchdl.data import sequence

SEQ = ["nlp", "seq2seq", "--data", "addition", "--epochs", "2", "--max-iters", "3"]


@pytest.mark.slow
def test_seq2seq_run_folder_resumes_step_for_step_and_refuses_to_overwrite(tmp_path, capsys):
    full = tmp_path / "full"
    assert main([*SEQ, "--out", str(full)]) == 0
    text = capsys.readouterr().out
    assert "PeekySeq2seq on addition: 384 training questions (3 steps of 128" in text
    assert "epoch 2: test accuracy" in text and "of 5000 exact answers" in text
    assert sorted(os.listdir(full)) == ["history.json", "model.npz"]
    history = json.loads((full / "history.json").read_text())
    assert history["iterations"] == 6 and history["stop_reason"] is None
    assert len(history["test_accuracy"]) == 2
    # Stopped by the time budget after one step, twice (mid-epoch, then across the epoch's
    # end and its test), then resumed to the end: the same weights, bit for bit.
    cut = tmp_path / "cut"
    assert main([*SEQ, "--out", str(cut), "--max-seconds", "1e-6"]) == 0
    assert "time budget used up: 1 of 6 steps" in capsys.readouterr().out
    assert sorted(os.listdir(cut)) == ["checkpoint.npz", "history.json", "model.npz"]
    resume = ["nlp", "seq2seq", "--out", str(cut), "--resume"]
    for step in (2, 3, 4):  # step 3 ends epoch 1: its test runs when the next resume starts
        assert main([*resume, "--max-seconds", "1e-6"]) == 0
        text = capsys.readouterr().out
        assert f"time budget used up: {step} of 6 steps" in text
        assert ("epoch 1: test accuracy" in text) == (step == 4)
    assert main(resume) == 0
    assert "resuming at step 4" in capsys.readouterr().out
    assert sorted(os.listdir(cut)) == ["history.json", "model.npz"]
    with np.load(full / "model.npz") as a, np.load(cut / "model.npz") as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    assert (
        json.loads((cut / "history.json").read_text())["test_accuracy"]
        == (history["test_accuracy"])
    )
    # The fault rules of a run folder: one line each, nothing replaced.
    before = (full / "model.npz").read_bytes()
    assert main([*SEQ, "--out", str(full)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a finished run (model.npz): pass --force" in err
    assert main(["nlp", "seq2seq", "--out", str(full), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main([*resume, "--epochs", "9"]) == 2
    assert "drop --epochs" in capsys.readouterr().err
    assert (full / "model.npz").read_bytes() == before
    # Peeky weights are not an attention model: a shape error, one line.
    png = tmp_path / "a.png"
    code = main(
        ["nlp", "attention-map", "--model", str(full), "--question", "Jan 1, 2000",
         "--out", str(png)]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the network needs" in err and not png.exists()


def test_seq2seq_refuses_bad_settings_and_damaged_checkpoints(tmp_path, capsys):
    assert main(["nlp", "seq2seq", "--out", str(tmp_path / "r")]) == 2
    assert "--data is required" in capsys.readouterr().err
    assert main([*SEQ[:4], "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    # The run flags are checked once for every nlp command, in flag words, resumed runs too.
    for command in (SEQ, ["nlp", "rnnlm", "--corpus", "ptb"], ["nlp", "cbow"]):
        for resume in ([], ["--resume"]):
            out = tmp_path / "never"
            assert main([*command, "--out", str(out), *resume, "--max-seconds", "-1"]) == 2
            err = capsys.readouterr().err
            assert "--max-seconds must be a positive number, got -1.0" in err, err
            assert err.count("\n") == 1 and not out.exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(b"not a zip")
    assert main(["nlp", "seq2seq", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot resume from" in err and "--force" in err
    assert (run / "checkpoint.npz").read_bytes() == b"not a zip"  # kept


@pytest.mark.slow  # a few seconds: the quick check stays under 90 s
def test_attention_map_writes_a_png_and_checks_the_question(tmp_path, capsys):
    sequence.load_data("date.txt")
    model = AttentionSeq2seq(len(sequence.get_vocab()[0]), 16, 256, rng=0)
    weights = model.save_params(tmp_path / "att.npz")
    png = tmp_path / "map.png"
    base = ["nlp", "attention-map", "--model", str(weights), "--out", str(png)]
    assert main([*base, "--question", "Sunday, September 12, 1999"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sunday, September 12, 1999 -> ") and "written to" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main([*base, "--question", "Sunday, September 12, 1999 ☃", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never saw" in err
    assert main([*base, "--question", "1" * 40, "--force"]) == 2
    assert "at most 29" in capsys.readouterr().err
    assert np.load(weights)["p0"].shape == (59, 16)


def test_rnnlm_trains_on_a_text_file_resumes_step_for_step_and_reports_perplexity(tmp_path, capsys):
    import re

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    # Sentences of a fixed phrase with one random word: an LSTM learns most of it.
    lines = [" ".join(words[:8] + [words[8 + rng.integers(12)]]) for _ in range(400)]
    corpus = tmp_path / "text.txt"
    corpus.write_text("\n".join(lines) + "\n")
    settings = ["--corpus", str(corpus), "--epochs", "3", "--hidden", "16", "--wordvec", "16",
                "--batch-size", "5", "--time-size", "10", "--lr", "10"]  # fmt: skip
    full = tmp_path / "full"
    assert main(["nlp", "rnnlm", "--out", str(full), *settings]) == 0
    text = capsys.readouterr().out
    ppl = float(re.search(r"perplexity ([\d.]+) on the last 10%", text).group(1))
    assert ppl < 4.0, text  # 21 words (with <eos>): uniform guessing would give 21
    assert sorted(os.listdir(full)) == ["history.json", "model.npz"]
    history = json.loads((full / "history.json").read_text())
    assert history["iterations"] == 3 * 71 and history["held_out_perplexity"] == pytest.approx(
        ppl, abs=0.01
    )
    # Stopped after step 1, then after step 2 (the LSTM's carried state and the row position
    # in the checkpoint), then resumed to the end: the same weights and perplexity.
    cut = tmp_path / "cut"
    assert main(["nlp", "rnnlm", "--out", str(cut), *settings, "--max-seconds", "1e-6"]) == 0
    assert "time budget used up: 1 of 213 steps" in capsys.readouterr().out
    resume = ["nlp", "rnnlm", "--out", str(cut), "--resume"]
    assert main([*resume, "--max-seconds", "1e-6"]) == 0
    assert "time budget used up: 2 of 213 steps" in capsys.readouterr().out
    assert main(resume) == 0
    text = capsys.readouterr().out
    assert "resuming at step 2" in text and f"perplexity {ppl:.2f} on the last 10%" in text
    with np.load(full / "model.npz") as a, np.load(cut / "model.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    assert (
        json.loads((cut / "history.json").read_text())["train_perplexity"]
        == (history["train_perplexity"])
    )
    # Refusals, one line each.
    assert main(["nlp", "rnnlm", "--out", str(full), *settings]) == 2
    assert "holds a finished run (model.npz): pass --force" in capsys.readouterr().err
    assert main([*resume, "--epochs", "9"]) == 2
    assert "drop --epochs" in capsys.readouterr().err
    assert main(["nlp", "rnnlm", "--out", str(tmp_path / "x"), *settings, "--time-size", "0"]) == 2
    assert "--time-size must be at least 1" in capsys.readouterr().err
    assert main(["nlp", "rnnlm", "--out", str(tmp_path / "x")]) == 2
    assert "--corpus is required" in capsys.readouterr().err
