"""Second book, ch. 8.3: AttentionSeq2seq on the date-format set (input reversed).

The book's settings: word vectors 16, hidden 256, batches of 128, Adam (lr 0.001), gradients
clipped at 5.0, 10 epochs (it is near 100% after two); the exact-answer accuracy on the 5,000
test dates after each epoch. ``--epochs`` and ``--max-iters`` make a short run; ``--save``
writes the weights (``.npz``) for ``scratchdl nlp attention-map``.

    python examples/book2/ch08_train_attention.py --epochs 3
    python examples/book2/ch08_train_attention.py --epochs 1 --max-iters 100
"""

from __future__ import annotations

import argparse
import time

from scratchdl.attention import AttentionSeq2seq
from scratchdl.data import sequence
from scratchdl.optimizers import Adam
from scratchdl.seq2seq import eval_seq2seq, seq2seq_accuracy
from scratchdl.train.book2 import Trainer


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument(
        "--max-iters",
        type=int,
        default=None,
        help="steps per epoch: train on the first N x 128 questions (default all)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default=None, help="write the trained weights to this .npz")
    args = ap.parse_args(argv)

    (x_train, t_train), (x_test, t_test) = sequence.load_data("date.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
    model = AttentionSeq2seq(len(char_to_id), 16, 256, rng=args.seed)
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
        eval_seq2seq(model, x_test[[i]], t_test[[i]], id_to_char, verbose=True, is_reverse=True)
    print(
        f"AttentionSeq2seq: test accuracy {acc:.4f} on {len(x_test)} dates after "
        f"{args.epochs} epoch(s), {time.perf_counter() - start:.0f} s"
    )
    if args.save:
        print("saved", model.save_params(args.save))
    return acc


if __name__ == "__main__":
    main()
