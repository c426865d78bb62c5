"""``scratchdl nlp rnnlm``, ``nlp seq2seq`` and ``nlp attention-map``: chapters 6-8 of the
second book on the command line (registered in the ``nlp`` group by :mod:`scratchdl.cli.nlp`).

* ``scratchdl nlp rnnlm --corpus ptb|FILE --out FILE.npz``: train the ch. 6 ``Rnnlm``
  (truncated BPTT, SGD, clipping; weights written after every epoch) and report the perplexity
  on held-out text.
* ``scratchdl nlp seq2seq --data addition|date --out FILE.npz``: train the book's improved
  seq2seq (``addition``: PeekySeq2seq with reversed input, ch. 7.5; ``date``: AttentionSeq2seq,
  ch. 8.3) and print the test accuracy after every epoch and three answers. The weights are
  written (atomically) after every epoch, so a run stopped with Ctrl-C keeps its last
  complete epoch. An existing file is replaced only with ``--force``.
* ``scratchdl nlp attention-map --question TEXT --out FILE.png``: the answer of an
  AttentionSeq2seq for one date question (weights from ``nlp seq2seq --data date`` or the
  book's ``AttentionSeq2seq.pkl``) and its attention map as a PNG (Figure 8-26).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

#: What ``--data`` trains: model class name, hidden size, the book's epochs.
SEQ_DATA = {"addition": ("PeekySeq2seq", 128, 25), "date": ("AttentionSeq2seq", 256, 10)}
_WORDVEC = 16
_BATCH = 128


def register_nlp(sub: Any) -> None:
    """Add ``rnnlm``, ``seq2seq`` and ``attention-map`` to the ``nlp`` subcommands."""
    r = sub.add_parser(
        "rnnlm",
        help="train the book's LSTM language model (Rnnlm, ch. 6) and report its perplexity",
        description="Train Rnnlm with truncated BPTT (SGD, gradient clipping) and report the "
        "perplexity on held-out text: PTB's test file for --corpus ptb, else the last 10%% "
        "of the corpus (trained on the first 90%%). Weights go to --out (.npz) after every "
        "epoch.",
    )
    r.add_argument(
        "--corpus",
        required=True,
        help="'ptb' (the PTB training file, downloaded and verified if missing) or a text file "
        "(one sentence per line)",
    )
    r.add_argument("--data-dir", help="folder with the PTB files (default: the user cache)")
    r.add_argument("--out", required=True, help="weights file to write (.npz)")
    r.add_argument("--epochs", type=int, default=4, help="passes over the corpus (4)")
    r.add_argument("--max-iters", type=int, help="steps per epoch (default: the whole corpus)")
    r.add_argument("--wordvec", type=int, default=100, help="word-vector size (100)")
    r.add_argument("--hidden", type=int, default=100, help="LSTM size (100)")
    r.add_argument("--batch-size", type=int, default=20, help="rows per step (20)")
    r.add_argument("--time-size", type=int, default=35, help="words per row per step (35)")
    r.add_argument("--lr", type=float, default=20.0, help="SGD learning rate (20)")
    r.add_argument("--max-grad", type=float, default=0.25, help="gradient clipping norm (0.25)")
    r.add_argument("--seed", type=int, default=0, help="seed of the weights (0)")
    r.add_argument("--force", action="store_true", help="replace --out if it exists")
    r.set_defaults(func=_rnnlm)

    s = sub.add_parser(
        "seq2seq",
        help="train seq2seq on addition (Peeky, reversed input) or dates (attention), book 2 "
        "ch. 7-8",
        description="Train the book's improved seq2seq on its addition or date data set and "
        "print the test accuracy after each epoch; the weights go to --out (a .npz) after "
        "every epoch.",
    )
    s.add_argument("--data", choices=sorted(SEQ_DATA), required=True)
    s.add_argument("--out", required=True, help="weights file to write (.npz)")
    s.add_argument("--epochs", type=int, help="epochs (default: the book's, 25 / 10)")
    s.add_argument(
        "--max-iters",
        type=int,
        help="steps per epoch, on the first N x 128 questions (default: all 351)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the weights and batches (0)")
    s.add_argument("--force", action="store_true", help="replace --out if it exists")
    s.set_defaults(func=_seq2seq)

    a = sub.add_parser(
        "attention-map",
        help="answer one date question and draw where the attention looked (PNG)",
        description="Run an AttentionSeq2seq trained on the date set on one question, print "
        "its answer and write the attention weights as a PNG heat map.",
    )
    a.add_argument(
        "--model",
        required=True,
        help="weights: a .npz from 'scratchdl nlp seq2seq --data date' or the book's "
        "AttentionSeq2seq.pkl",
    )
    a.add_argument(
        "--question",
        required=True,
        help="a date as in the data set, e.g. 'Sunday, September 12, 1999'",
    )
    a.add_argument("--out", required=True, help="PNG to write")
    a.add_argument("--force", action="store_true", help="replace --out if it exists")
    a.set_defaults(func=_attention_map)


def _refuse_existing(path: Path, force: bool) -> None:
    from scratchdl.errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give a file name for --out")
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: choose another --out, or pass --force")
    if not path.parent.is_dir():
        raise ConfigError(f"the folder {path.parent} does not exist: create it first")


def _build(kind: str, vocab_size: int, seed: int | None) -> Any:
    from scratchdl.attention import AttentionSeq2seq
    from scratchdl.seq2seq import PeekySeq2seq

    name, hidden, _ = SEQ_DATA[kind]
    cls = PeekySeq2seq if name == "PeekySeq2seq" else AttentionSeq2seq
    return cls(vocab_size, _WORDVEC, hidden, rng=seed)


def _seq2seq(args: argparse.Namespace) -> int:
    from scratchdl.data import sequence
    from scratchdl.errors import ConfigError
    from scratchdl.optimizers import Adam
    from scratchdl.seq2seq import seq2seq_accuracy
    from scratchdl.train.book2 import Trainer

    out = Path(args.out)
    if out.suffix != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {out.name}")
    _refuse_existing(out, args.force)
    name, _, book_epochs = SEQ_DATA[args.data]
    epochs = book_epochs if args.epochs is None else args.epochs
    if epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    if args.max_iters is not None and args.max_iters < 1:
        raise ConfigError(f"--max-iters must be at least 1, got {args.max_iters}")

    (x_train, t_train), (x_test, t_test) = sequence.load_data(f"{args.data}.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]  # reversed input (ch. 7.5.1)
    if args.max_iters is not None:
        x_train, t_train = x_train[: args.max_iters * _BATCH], t_train[: args.max_iters * _BATCH]
    model = _build(args.data, len(char_to_id), args.seed)
    trainer = Trainer(model, Adam(lr=0.001), rng=args.seed)
    steps = len(x_train) // _BATCH
    print(
        f"{name} on {args.data}: {len(x_train)} training questions ({steps} steps of {_BATCH} "
        f"per epoch), {epochs} epoch(s), test on {len(x_test)}",
        flush=True,
    )
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(epochs):
        trainer.fit(x_train, t_train, 1, _BATCH, max_grad=5.0, eval_interval=None, verbose=False)
        acc = seq2seq_accuracy(model, x_test, t_test)
        model.save_params(out)  # atomic: a stop keeps the last complete epoch
        print(
            f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    guesses = model.generate(x_test[:3], t_test[:3, 0], t_test.shape[1] - 1)
    for q, t, g in zip(x_test[:3], t_test[:3], guesses, strict=True):
        text = "".join(id_to_char[int(c)] for c in q[::-1]).strip()
        want = "".join(id_to_char[int(c)] for c in t[1:]).strip()
        got = "".join(id_to_char[int(c)] for c in g).strip()
        print(f"  {text} -> {got} ({'right' if got == want else 'wrong, ' + want})")
    print(
        f"test accuracy {acc:.4f} ({round(acc * len(x_test))} of {len(x_test)} exact answers) "
        f"after {epochs} epoch(s) of {steps} steps, {time.perf_counter() - start:.0f} s; "
        f"weights in {out}"
    )
    return 0


def _rnnlm(args: argparse.Namespace) -> int:
    import numpy as np

    from scratchdl.errors import ConfigError
    from scratchdl.optimizers import SGD
    from scratchdl.rnnlm import Rnnlm
    from scratchdl.train.rnnlm import RnnlmTrainer, eval_perplexity

    out = Path(args.out)
    if out.suffix != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {out.name}")
    _refuse_existing(out, args.force)
    for flag in ("epochs", "wordvec", "hidden", "batch_size", "time_size"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.max_iters is not None and args.max_iters < 1:
        raise ConfigError(f"--max-iters must be at least 1, got {args.max_iters}")
    if args.corpus == "ptb":
        from scratchdl.data.ptb import load_ptb

        corpus, word_to_id, _ = load_ptb("train", data_dir=args.data_dir)
        held_out, _, _ = load_ptb("test", data_dir=args.data_dir, quiet=True)
        where = "PTB test file"
    else:
        from scratchdl.data.ptb import load_corpus_file

        corpus, word_to_id, _ = load_corpus_file(args.corpus)
        split = len(corpus) - len(corpus) // 10
        corpus, held_out = corpus[:split], corpus[split:]
        where = f"last 10% of {args.corpus}"
    corpus, held_out = np.asarray(corpus), np.asarray(held_out)
    step_words = args.batch_size * args.time_size
    if args.max_iters is not None:
        corpus = corpus[: args.max_iters * step_words + 1]
    if len(corpus) <= step_words or len(held_out) <= 10 * args.time_size:
        raise ConfigError(
            f"the corpus is too short ({len(corpus)} training and {len(held_out)} held-out "
            f"words) for steps of {args.batch_size} x {args.time_size}: use a longer corpus"
        )
    model = Rnnlm(len(word_to_id), args.wordvec, args.hidden, rng=args.seed)
    trainer = RnnlmTrainer(model, SGD(lr=args.lr))
    steps = (len(corpus) - 1) // step_words
    print(
        f"Rnnlm ({len(word_to_id)} words, {args.wordvec}/{args.hidden}) on {len(corpus)} words: "
        f"{steps} steps of {args.batch_size} x {args.time_size} per epoch, {args.epochs} "
        f"epoch(s)",
        flush=True,
    )
    start = time.perf_counter()
    for _ in range(args.epochs):
        trainer.fit(
            corpus[:-1],
            corpus[1:],
            1,
            args.batch_size,
            args.time_size,
            max_grad=args.max_grad,
            eval_interval=max(steps // 5, 1),
        )
        model.save_params(out)  # atomic: a stop keeps the last complete epoch
    model.reset_state()
    ppl = eval_perplexity(model, held_out, batch_size=10, time_size=args.time_size)
    print(
        f"perplexity {ppl:.2f} on the {where} ({len(held_out)} words) after {args.epochs} "
        f"epoch(s), {time.perf_counter() - start:.0f} s; weights in {out}"
    )
    return 0


def _attention_map(args: argparse.Namespace) -> int:
    import numpy as np

    from scratchdl.data import sequence
    from scratchdl.errors import ConfigError
    from scratchdl.plots.attention import save_attention

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out.name}")
    _refuse_existing(out, args.force)
    (x_train, t_train), _ = sequence.load_data("date.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    width = x_train.shape[1]
    question = args.question
    unknown = sorted({c for c in question if c not in char_to_id})
    if unknown:
        raise ConfigError(
            f"the question has characters the date model never saw: {''.join(unknown)!r}; "
            "write dates as in the data set, e.g. 'Sunday, September 12, 1999'"
        )
    if len(question) > width:
        raise ConfigError(f"the question is {len(question)} characters; at most {width}")
    question = question.ljust(width)
    model = _build("date", len(char_to_id), 0)
    model.load_params(args.model)
    xs = np.array([[char_to_id[c] for c in question]])[:, ::-1]
    start_id = char_to_id["_"]
    answer = model.generate(xs, start_id, t_train.shape[1] - 1)
    ts = np.array([[start_id, *answer]])
    attention = model.attention_map(xs, ts)[0][:, ::-1]  # columns back in reading order
    rows = [id_to_char[i] for i in answer]  # step j's weights chose the j-th output
    text = "".join(id_to_char[i] for i in answer)
    save_attention(out, attention, rows, list(question), title=f"{question.strip()} -> {text}")
    print(f"{question.strip()} -> {text.strip()}")
    print(f"attention map written to {out}")
    return 0
