"""Counting-based word vectors (book 2, ch. 2): the book's printed numbers on its toy text,
vectorised helpers against their definitions, no input mutation."""

import numpy as np
import pytest

from scratchdl.errors import ConfigError, ShapeError
from scratchdl.words import (
    analogy,
    convert_one_hot,
    cos_similarity,
    create_co_matrix,
    create_contexts_target,
    most_similar,
    normalize,
    ppmi,
    preprocess,
    truncated_svd,
)

TEXT = "You say goodbye and I say hello."


def toy():
    corpus, word_to_id, id_to_word = preprocess(TEXT)
    return corpus, word_to_id, id_to_word, create_co_matrix(corpus, len(word_to_id))


def test_preprocess_and_co_matrix_are_the_books():
    corpus, word_to_id, id_to_word, C = toy()
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert id_to_word == {0: "you", 1: "say", 2: "goodbye", 3: "and", 4: "i", 5: "hello", 6: "."}
    assert C.dtype == np.int32
    assert C.tolist() == [
        [0, 1, 0, 0, 0, 0, 0],
        [1, 0, 1, 0, 1, 1, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 1, 0, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
    ]


def test_co_matrix_with_wider_windows_is_the_loop_definition():
    rng = np.random.default_rng(0)
    corpus = rng.integers(0, 12, 200)
    corpus0 = corpus.copy()
    for window in (1, 2, 3):
        expected = np.zeros((12, 12), np.int32)
        for i, w in enumerate(corpus):
            for d in range(1, window + 1):
                for j in (i - d, i + d):
                    if 0 <= j < len(corpus):
                        expected[w, corpus[j]] += 1
        np.testing.assert_array_equal(create_co_matrix(corpus, 12, window), expected)
    np.testing.assert_array_equal(corpus, corpus0)
    with pytest.raises(ShapeError, match="vocab_size is 5"):
        create_co_matrix(corpus, 5)


def test_cos_similarity_and_most_similar_print_the_books_numbers(capsys):
    corpus, word_to_id, id_to_word, C = toy()
    # ch02/similarity.py prints 0.7071067691154799 for you and i.
    assert cos_similarity(C[word_to_id["you"]], C[word_to_id["i"]]) == pytest.approx(
        0.7071067691154799, abs=1e-15
    )
    got = most_similar("you", word_to_id, id_to_word, C, top=5)
    assert [w for w, _ in got[:3]] == ["goodbye", "i", "hello"]  # ch02/most_similar.py
    assert [s for _, s in got] == pytest.approx([0.7071067691154799] * 3 + [0.0, 0.0])
    out = capsys.readouterr().out
    assert out.startswith("\n[query] you\n goodbye: 0.7071067691154799\n")
    with pytest.raises(ConfigError, match="'yuo' is not in the vocabulary"):
        most_similar("yuo", word_to_id, id_to_word, C)


def test_ppmi_is_the_books_and_never_divides_by_zero():
    *_, C = toy()
    M = ppmi(C)
    # ch02/ppmi.py prints these (precision 3).
    np.testing.assert_allclose(
        M[:2], [[0, 1.807, 0, 0, 0, 0, 0], [1.807, 0, 0.807, 0, 0.807, 0.807, 0]], atol=5e-4
    )
    assert M[5, 6] == pytest.approx(2.807, abs=5e-4) and M.dtype == np.float32
    # The double loop it replaces, on a matrix with an unused word (a zero row and column).
    rng = np.random.default_rng(1)
    C = rng.integers(0, 4, (9, 9))
    C = C + C.T
    C[3] = C[:, 3] = 0
    N, S = C.sum(), C.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.maximum(np.log2(C * N / np.outer(S, S) + 1e-8), 0)
    expected[3] = expected[:, 3] = 0
    with np.errstate(all="raise"):
        np.testing.assert_allclose(ppmi(C, chunk_rows=2), expected, rtol=1e-6)
        assert not ppmi(np.zeros((3, 3))).any()


@pytest.mark.parametrize("method", ["full", "randomized"])
def test_truncated_svd_finds_the_leading_subspace(method):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((60, 8)) @ np.diag([9, 7, 5, 3, 1, 0.5, 0.2, 0.1])
    A = A @ rng.standard_normal((8, 40))
    U, S, Vt = truncated_svd(A, 3, method=method, rng=0)
    U0, S0, Vt0 = np.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(S, S0[:3], rtol=1e-8)
    np.testing.assert_allclose(np.abs(U.T @ U0[:, :3]), np.eye(3), atol=1e-8)
    np.testing.assert_allclose((U * S) @ Vt, (U0[:, :3] * S0[:3]) @ Vt0[:3], atol=1e-8)
    assert (U[np.abs(U).argmax(0), range(3)] > 0).all()  # signs fixed
    with pytest.raises(ConfigError, match="1..40"):
        truncated_svd(A, 41)


def test_analogy_prints_and_excludes_its_words(capsys):
    word_to_id = {"king": 0, "man": 1, "queen": 2, "woman": 3, "apple": 4}
    id_to_word = {i: w for w, i in word_to_id.items()}
    W = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1], [1, -1, 0.5]], float)
    W0 = W.copy()
    got = analogy("man", "king", "woman", word_to_id, id_to_word, W, top=2, answer="queen")
    assert got[0][0] == "queen" and got[0][1] == pytest.approx(
        np.sqrt(2)
    )  # raw vector · unit query
    assert "==>queen:" in capsys.readouterr().out
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_allclose(np.linalg.norm(normalize(W), axis=1), 1)


def test_contexts_target_and_one_hot_are_the_books():
    corpus, word_to_id, *_ = toy()
    contexts, target = create_contexts_target(corpus, window_size=1)
    assert contexts.tolist() == [[0, 2], [1, 3], [2, 4], [3, 1], [4, 5], [1, 6]]
    assert target.tolist() == [1, 2, 3, 4, 1, 5]
    c2, t2 = create_contexts_target(np.arange(7), window_size=2)
    assert c2.tolist() == [[0, 1, 3, 4], [1, 2, 4, 5], [2, 3, 5, 6]] and t2.tolist() == [2, 3, 4]
    one = convert_one_hot(contexts, 7)
    assert one.shape == (6, 2, 7) and one.dtype == np.int32
    np.testing.assert_array_equal(one.argmax(-1), contexts)
    assert one.sum() == 12
    with pytest.raises(ShapeError, match="no target"):
        create_contexts_target(np.arange(2), 1)
