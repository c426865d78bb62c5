"""scratchdl nlp seq2seq / attention-map: end to end on the shipped data sets, refusals in one
line."""

import numpy as np
import pytest

from scratchdl.attention import AttentionSeq2seq
from scratchdl.cli import main
from scratchdl.data import sequence


@pytest.mark.slow
def test_seq2seq_trains_saves_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "m.npz"
    args = ["nlp", "seq2seq", "--data", "addition", "--epochs", "1", "--max-iters", "3"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "PeekySeq2seq on addition: 384 training questions (3 steps of 128" in text
    assert "epoch 1: test accuracy" in text and "of 5000 exact answers" in text
    assert out.is_file()
    before = out.read_bytes()
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert out.read_bytes() == before
    # Peeky weights are not an attention model: a shape error, one line.
    png = tmp_path / "a.png"
    code = main(
        [
            "nlp",
            "attention-map",
            "--model",
            str(out),
            "--question",
            "Jan 1, 2000",
            "--out",
            str(png),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the network needs" in err and not png.exists()


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


def test_rnnlm_trains_on_a_text_file_and_reports_held_out_perplexity(tmp_path, capsys):
    import re

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    # Sentences of a fixed phrase with one random word: an LSTM learns most of it.
    lines = [" ".join(words[:8] + [words[8 + rng.integers(12)]]) for _ in range(400)]
    corpus = tmp_path / "text.txt"
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp_path / "lm.npz"
    args = [
        "nlp",
        "rnnlm",
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--epochs",
        "3",
        "--hidden",
        "16",
        "--wordvec",
        "16",
        "--batch-size",
        "5",
        "--time-size",
        "10",
        "--lr",
        "10",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    ppl = float(re.search(r"perplexity ([\d.]+) on the last 10%", text).group(1))
    assert ppl < 4.0, text  # 21 words (with <eos>): uniform guessing would give 21
    assert out.is_file()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args[:5], str(tmp_path / "x.npz"), "--time-size", "0"]) == 2
    assert "--time-size must be at least 1" in capsys.readouterr().err
