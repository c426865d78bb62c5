"""Time the word2vec hot spots of book 2, ch. 4 in one process: ours against the book's way.

* ``embedding``: the Embedding layer's backward: the scatter-add of ``dout`` rows into
  ``dW`` (V=10,000), and apart from it the ``dW[...] = 0`` both do first. Ours (:func:`scratchdl.layers.scatter_add_rows`,
  sort + ``np.add.reduceat``) against the book's ``np.add.at``, for the shapes of the book's
  CBOW (100 ids, D=100), its RNNLM (batch 20 x 35 steps, D=100 and D=650) and a large batch.
* ``sampler``: negative samples for a batch of 100 targets, 5 each, from PTB-like word
  counts (a Zipf law over 10,000 words). Ours (vectorised rounds with redraws) against the
  book's CPU loop (``np.random.choice(V, 5, replace=False, p=p)`` per target).
* ``cbow``: one training step of :class:`scratchdl.word2vec.CBOW` (V=10,000, hidden 100,
  window 5, batch 100, Adam), forward + backward + duplicate removal + update.

Rounds are interleaved (ours, book, ours, ...); the script prints the best and the median
time per call and the ratio. BLAS threads: set ``OPENBLAS_NUM_THREADS`` before running (the
numbers in docs/book2.md used 1).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_word2vec.py --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from scratchdl.layers import scatter_add_rows
from scratchdl.optimizers import Adam
from scratchdl.train.book2 import remove_duplicate
from scratchdl.word2vec import CBOW, UnigramSampler


def _time(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _race(name: str, contenders: dict, rounds: int, number: int) -> None:
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for key, fn in contenders.items():
            times[key].append(_time(fn, number))
    parts = []
    for key, ts in times.items():
        parts.append(f"{key} best {min(ts) * 1e3:.3f} ms median {statistics.median(ts) * 1e3:.3f}")
    keys = list(times)
    line = f"{name}: " + "; ".join(parts)
    if len(keys) == 2:
        ratio = statistics.median(times[keys[1]]) / statistics.median(times[keys[0]])
        line += f"; {keys[1]}/{keys[0]} (median) = {ratio:.2f}"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    V = 10_000
    for D, N in ((100, 100), (100, 700), (650, 700), (100, 5000)):
        idx = rng.integers(0, V, N)
        dout = rng.standard_normal((N, D)).astype(np.float32)
        dW = np.zeros((V, D), np.float32)

        def ours(idx=idx, dout=dout, dW=dW):
            scatter_add_rows(dW, idx, dout)

        def book(idx=idx, dout=dout, dW=dW):
            np.add.at(dW, idx, dout)

        def fill(dW=dW):
            dW[...] = 0

        name = f"embedding scatter V={V} D={D} N={N}"
        _race(name, {"ours": ours, "book": book}, args.rounds, 20)
        _race(f"  + zero fill of dW ({dW.nbytes >> 20} MiB)", {"fill": fill}, args.rounds, 20)

    counts = np.maximum((1e6 / np.arange(1, V + 1)).astype(np.int64), 1)
    corpus = np.repeat(np.arange(V), counts)
    sampler = UnigramSampler(corpus, 0.75, 5, rng=0)
    target = rng.integers(0, V, 100)
    p = sampler.word_p
    legacy = np.random.RandomState(0)

    def book_sampler():
        out = np.zeros((100, 5), dtype=np.int32)
        for i in range(100):
            q = p.copy()
            q[target[i]] = 0
            q /= q.sum()
            out[i] = legacy.choice(V, size=5, replace=False, p=q)
        return out

    _race(
        "negative sampling 100 x 5",
        {"ours": lambda: sampler.get_negative_sample(target), "book": book_sampler},
        args.rounds,
        5,
    )

    model = CBOW(V, 100, 5, corpus, rng=0)
    optimizer = Adam()
    contexts = rng.integers(0, V, (100, 10))

    def step():
        model.forward(contexts, target)
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        optimizer.update(params, grads)

    _race("CBOW step (V=10000, H=100, window 5, batch 100)", {"ours": step}, args.rounds, 5)


if __name__ == "__main__":
    main()
