"""Second book, ch. 7.5: seq2seq on the addition set, input reversed and the Peeky decoder.

The book's settings: word vectors 16, hidden 128, batches of 128, Adam (lr 0.001), gradients
clipped at 5.0, 25 epochs; the exact-answer accuracy on the 5,000 test questions after each
epoch. ``--epochs`` and ``--max-iters`` (steps per epoch) make a short run.

    python examples/book2/ch07_train_seq2seq.py                  # the book's 25 epochs
    python examples/book2/ch07_train_seq2seq.py --epochs 1 --max-iters 100
    python examples/book2/ch07_train_seq2seq.py --plain          # Seq2seq, input not reversed
"""

from __future__ import annotations

import argparse
import time

from scratchdl.data import sequence
from scratchdl.optimizers import Adam
from scratchdl.seq2seq import PeekySeq2seq, Seq2seq, eval_seq2seq, seq2seq_accuracy
from scratchdl.train.book2 import Trainer


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument(
        "--max-iters",
        type=int,
        default=None,
        help="steps per epoch: train on the first N x 128 questions (default all)",
    )
    ap.add_argument("--plain", action="store_true", help="Seq2seq without reversal or Peeky")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    (x_train, t_train), (x_test, t_test) = sequence.load_data("addition.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    if not args.plain:
        x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]  # ch. 7.5.1
    cls = Seq2seq if args.plain else PeekySeq2seq
    model = cls(len(char_to_id), 16, 128, rng=args.seed)
    trainer = Trainer(model, Adam(lr=0.001), rng=args.seed)

    # --max-iters: a short run on the first max_iters * 128 questions.
    n = len(x_train) if args.max_iters is None else args.max_iters * 128
    x_fit, t_fit = x_train[:n], t_train[:n]
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(args.epochs):
        trainer.fit(
            x_fit, t_fit, 1, batch_size=128, max_grad=5.0, eval_interval=None, verbose=False
        )
        acc = seq2seq_accuracy(model, x_test, t_test)
        print(
            f"epoch {epoch + 1}: test accuracy {acc:.4f} "
            f"({time.perf_counter() - start:.0f} s so far)",
            flush=True,
        )
    for i in range(3):
        eval_seq2seq(
            model, x_test[[i]], t_test[[i]], id_to_char, verbose=True, is_reverse=not args.plain
        )
    name = "Seq2seq" if args.plain else "PeekySeq2seq, reversed input"
    print(
        f"{name}: test accuracy {acc:.4f} on {len(x_test)} questions after {args.epochs} "
        f"epoch(s), {time.perf_counter() - start:.0f} s"
    )
    return acc


if __name__ == "__main__":
    main()
