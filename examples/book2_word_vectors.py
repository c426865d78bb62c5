"""The second book, chapters 2-4: word vectors by counting, CBOW by training, and the book's
trained CBOW vectors (with SCRATCHDL_BOOK2_DIR pointing at the book's folder)."""

import os
from pathlib import Path

import numpy as np

from scratchdl.io import load_word_vectors
from scratchdl.optimizers import Adam
from scratchdl.train.book2 import Trainer
from scratchdl.word2vec import SimpleCBOW
from scratchdl.words import (
    analogy,
    convert_one_hot,
    create_co_matrix,
    create_contexts_target,
    most_similar,
    ppmi,
    preprocess,
    truncated_svd,
)

TEXT = "You say goodbye and I say hello."


def counting() -> None:
    """Ch. 2: co-occurrence, PPMI, SVD and the nearest words."""
    corpus, word_to_id, id_to_word = preprocess(TEXT)
    C = create_co_matrix(corpus, len(word_to_id))
    W = ppmi(C)
    np.set_printoptions(precision=3)
    print("PPMI of 'you':", W[word_to_id["you"]])
    U, S, _ = truncated_svd(W, 2)
    print("singular values:", S)
    most_similar("you", word_to_id, id_to_word, C, top=3)


def cbow() -> None:
    """Ch. 3: SimpleCBOW trained by the book's Trainer (ch03/train.py's settings)."""
    corpus, word_to_id, _ = preprocess(TEXT)
    contexts, target = create_contexts_target(corpus, window_size=1)
    V = len(word_to_id)
    model = SimpleCBOW(V, 5, rng=0)
    trainer = Trainer(model, Adam(), rng=0)
    trainer.fit(convert_one_hot(contexts, V), convert_one_hot(target, V), 1000, 3, verbose=False)
    print(f"SimpleCBOW loss: {trainer.loss_list[0]:.2f} -> {trainer.loss_list[-1]:.2f}")


def book_vectors() -> None:
    """Ch. 4: the book's trained vectors (cbow_params.pkl), read without running code."""
    folder = os.environ.get("SCRATCHDL_BOOK2_DIR")
    path = Path(folder or ".") / "ch04" / "cbow_params.pkl"
    if not folder or not path.is_file():
        print("the book's vectors: skipped (set SCRATCHDL_BOOK2_DIR to the book's folder)")
        return
    word_vecs, word_to_id, id_to_word = load_word_vectors(path)
    most_similar("you", word_to_id, id_to_word, word_vecs, top=5)
    analogy("king", "man", "queen", word_to_id, id_to_word, word_vecs, top=3)


if __name__ == "__main__":
    counting()
    cbow()
    book_vectors()
