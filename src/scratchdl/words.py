"""Word vectors by counting (book 2, ch. 2) and the text helpers of chapters 2-3.

The book's ``common/util.py`` functions, by the same names and arguments: :func:`preprocess`
a text into ids, :func:`create_co_matrix`, :func:`cos_similarity`, :func:`most_similar`,
:func:`ppmi`, :func:`analogy`, :func:`create_contexts_target`, :func:`convert_one_hot`; plus
:func:`truncated_svd`, the reduction of ch. 2.4.5 without scikit-learn. Loops over words are
replaced by array operations; the results are the book's. :func:`most_similar` and
:func:`analogy` print the book's lines, and also return them as ``(word, similarity)`` pairs.

>>> corpus, word_to_id, id_to_word = preprocess('You say goodbye and I say hello.')
>>> C = create_co_matrix(corpus, len(word_to_id))
>>> W = ppmi(C)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ShapeError

__all__ = [
    "analogy",
    "convert_one_hot",
    "cos_similarity",
    "create_co_matrix",
    "create_contexts_target",
    "most_similar",
    "normalize",
    "ppmi",
    "preprocess",
    "truncated_svd",
]


def preprocess(text: str) -> tuple[NDArray[np.int64], dict[str, int], dict[int, str]]:
    """Lower-case ``text``, split off full stops, and number the words (ch. 2.3.1).

    Returns
    -------
    corpus : ndarray of int64, shape (n_words,)
        Word ids, in text order; ids are given in order of first appearance.
    word_to_id : dict of str to int
    id_to_word : dict of int to str

    The book splits on single spaces (``split(' ')``), so two spaces in a row make an empty
    "word"; here any run of whitespace separates words. Texts with single spaces, as every
    text of the book, give the same result.
    """
    if not isinstance(text, str):
        raise ConfigError(f"preprocess needs a str, got {type(text).__name__}")
    words = text.lower().replace(".", " .").split()
    word_to_id = {w: i for i, w in enumerate(dict.fromkeys(words))}
    corpus = np.array([word_to_id[w] for w in words], dtype=np.int64)
    return corpus, word_to_id, dict(enumerate(word_to_id))


def _corpus(corpus: ArrayLike, name: str = "corpus") -> NDArray[np.int64]:
    corpus = np.asarray(corpus)
    if corpus.ndim != 1 or (corpus.size and corpus.dtype.kind not in "iu"):
        raise ShapeError(
            f"{name} must be a 1-D array of word ids, got {corpus.dtype} {corpus.shape}"
        )
    if corpus.size and corpus.min() < 0:
        raise ShapeError(f"{name} holds negative word ids ({corpus.min()})")
    return corpus.astype(np.int64, copy=False)


def create_co_matrix(corpus: ArrayLike, vocab_size: int, window_size: int = 1) -> NDArray[np.int32]:
    """Co-occurrence counts (ch. 2.3.4): ``C[w, c]`` = times word ``c`` stands within
    ``window_size`` words of ``w``.

    Returns
    -------
    ndarray of int32, shape (vocab_size, vocab_size)
        Symmetric.
    """
    corpus = _corpus(corpus)
    if corpus.size and corpus.max() >= vocab_size:
        raise ShapeError(f"corpus holds word id {corpus.max()}, but vocab_size is {vocab_size}")
    if window_size < 1:
        raise ConfigError(f"window_size must be at least 1, got {window_size}")
    V = int(vocab_size)
    co = np.zeros((V, V), dtype=np.int32)
    for d in range(1, min(window_size, max(corpus.size - 1, 0)) + 1):
        left, right = corpus[:-d], corpus[d:]
        # Each pair once per direction; counting unique cells bounds the memory by the corpus
        # (a dense bincount over V*V cells would need 800 MB for PTB's 10,000 words).
        cells, counts = np.unique(np.r_[left * V + right, right * V + left], return_counts=True)
        co.flat[cells] += counts.astype(np.int32)
    return co


def normalize(x: ArrayLike) -> NDArray:
    """``x`` scaled to unit length: each row of a matrix, or a vector (a new array; the book's
    ``normalize`` divides in place)."""
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float64)  # float16 stays float16, as the book
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / norm


def cos_similarity(x: ArrayLike, y: ArrayLike, eps: float = 1e-8) -> float:
    """Cosine similarity of two vectors (ch. 2.3.5), ``eps`` keeping a zero vector finite."""
    x, y = np.asarray(x), np.asarray(y)
    nx = x / (np.sqrt(np.sum(x**2)) + eps)
    ny = y / (np.sqrt(np.sum(y**2)) + eps)
    return np.dot(nx, ny)


def _lookup(word: str, word_to_id: dict[str, int], word_matrix: NDArray) -> int:
    if word not in word_to_id:
        raise ConfigError(
            f"{word!r} is not in the vocabulary ({len(word_to_id)} words); check the "
            "spelling (the vocabulary is lower case)"
        )
    i = word_to_id[word]
    if not 0 <= i < word_matrix.shape[0]:
        raise ShapeError(
            f"{word!r} has id {i}, but word_matrix has {word_matrix.shape[0]} rows: the "
            "vocabulary and the vectors do not belong together"
        )
    return i


def most_similar(
    query: str,
    word_to_id: dict[str, int],
    id_to_word: dict[int, str],
    word_matrix: ArrayLike,
    top: int = 5,
    *,
    show: bool = True,
) -> list[tuple[str, float]]:
    """The ``top`` words most similar to ``query`` by cosine similarity (ch. 2.3.5).

    Prints the book's lines (``[query] you``, then `` word: similarity``) unless ``show`` is
    False. Similarities are computed as the book's loop of :func:`cos_similarity` does, in
    the matrix's own floating type (the book's ``cbow_params.pkl`` holds float16 vectors, so
    its printed similarities are float16 values).

    Returns
    -------
    list of (word, similarity)
        Best first, the query itself left out.

    Raises
    ------
    ConfigError
        ``query`` is not in the vocabulary.
    """
    word_matrix = np.asarray(word_matrix)
    if word_matrix.ndim != 2:
        raise ShapeError(f"word_matrix must be (vocab_size, D), got shape {word_matrix.shape}")
    qid = _lookup(query, word_to_id, word_matrix)
    if show:
        print("\n[query] " + query)
    similarity = _row_similarity(word_matrix, word_matrix[qid])
    results = []
    for i in np.argsort(-similarity, kind="stable"):  # ties: lower id first, as the book prints
        if i == qid:
            continue
        results.append((id_to_word[int(i)], float(similarity[i])))
        if show:
            print(f" {id_to_word[int(i)]}: {similarity[i]}")
        if len(results) >= top:
            break
    return results


def _row_similarity(word_matrix: NDArray, q: NDArray, eps: float = 1e-8) -> NDArray[np.float64]:
    """:func:`cos_similarity` of every row with ``q``, computed as the book's loop does (in
    the matrix's dtype), stored as float64 like the book's ``np.zeros(vocab_size)``."""
    dtype = np.result_type(word_matrix.dtype, np.float16)
    m = word_matrix.astype(dtype, copy=False)
    q = q.astype(dtype, copy=False)
    e = dtype.type(eps) if dtype != np.float16 else eps  # float16 cannot hold 1e-8: as the book
    nq = q / (np.sqrt(np.sum(q**2)) + e)
    norms = np.sqrt(np.sum(m**2, axis=1, keepdims=True)) + e
    return ((m / norms) @ nq).astype(np.float64)


def analogy(
    a: str,
    b: str,
    c: str,
    word_to_id: dict[str, int],
    id_to_word: dict[int, str],
    word_matrix: ArrayLike,
    top: int = 5,
    answer: str | None = None,
    *,
    show: bool = True,
) -> list[tuple[str, float]]:
    """``a : b = c : ?`` by vector arithmetic, ``b - a + c`` (ch. 4.4.2).

    As the book: the query vector is normalised, the vocabulary is not (scores are dot
    products with the raw vectors), and ``a``, ``b``, ``c`` themselves are left out. Prints
    the book's lines (and ``==>answer:score`` when ``answer`` is given) unless ``show`` is
    False.

    Returns
    -------
    list of (word, score)
    """
    word_matrix = np.asarray(word_matrix)
    ids = [_lookup(w, word_to_id, word_matrix) for w in (a, b, c)]
    if show:
        print("\n[analogy] " + a + ":" + b + " = " + c + ":?")
    a_vec, b_vec, c_vec = (word_matrix[i] for i in ids)
    query_vec = normalize(b_vec - a_vec + c_vec)
    similarity = word_matrix @ query_vec
    if answer is not None and show:
        aid = _lookup(answer, word_to_id, word_matrix)
        print("==>" + answer + ":" + str(np.dot(word_matrix[aid], query_vec)))
    results = []
    for i in np.argsort(-similarity, kind="stable"):  # ties: lower id first, as the book prints
        if np.isnan(similarity[i]) or id_to_word[int(i)] in (a, b, c):
            continue
        results.append((id_to_word[int(i)], float(similarity[i])))
        if show:
            print(f" {id_to_word[int(i)]}: {similarity[i]}")
        if len(results) >= top:
            break
    return results


def ppmi(
    C: ArrayLike, verbose: bool = False, eps: float = 1e-8, *, chunk_rows: int = 1024
) -> NDArray[np.float32]:
    """Positive pointwise mutual information of a co-occurrence matrix (ch. 2.4.1).

    ``M[i, j] = max(0, log2(C[i, j] · N / (S[i] · S[j]) + eps))``, ``N`` the sum of ``C`` and
    ``S`` its column sums. A word that never co-occurs (``S = 0``) or an all-zero matrix gives
    zeros, not a division by zero. Computed ``chunk_rows`` rows at a time, so the temporary
    arrays stay small for PTB's 10,000-word matrix.

    ``verbose`` is accepted for the book's calls; the book prints its progress every 1% of a
    slow double loop, which this does not need.

    Returns
    -------
    ndarray of float32, shape of ``C``
    """
    C = np.asarray(C)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ShapeError(f"ppmi needs a square co-occurrence matrix, got shape {C.shape}")
    if C.dtype.kind not in "iuf" or (C.size and C.min() < 0):
        raise ShapeError("ppmi needs non-negative counts")
    M = np.zeros(C.shape, dtype=np.float32)
    N = float(np.sum(C, dtype=np.float64))
    S = np.sum(C, axis=0, dtype=np.float64)
    if N == 0:
        return M
    # 1 / S with 0 where S is 0: such a word's row and column hold only zero counts anyway.
    inv_s = np.divide(1.0, S, out=np.zeros_like(S), where=S > 0)
    for start in range(0, C.shape[0], max(int(chunk_rows), 1)):
        rows = slice(start, start + chunk_rows)
        ratio = C[rows] * (N * inv_s[rows, None] * inv_s[None, :])
        np.maximum(np.log2(ratio + eps), 0, out=M[rows], casting="same_kind")
    return M


def truncated_svd(
    M: ArrayLike,
    k: int,
    *,
    method: str = "auto",
    n_iter: int = 5,
    oversample: int = 10,
    rng: np.random.Generator | int | None = None,
) -> tuple[NDArray, NDArray, NDArray]:
    """The ``k`` largest singular values and vectors of ``M`` (ch. 2.4.5): ``U`` (n, k) holds
    the word vectors.

    ``method='full'`` is ``np.linalg.svd`` cut to ``k`` (exact; 10,000 x 10,000 takes minutes
    and 2.4 GB). ``'randomized'`` is the randomized range finder (Halko, Martinsson and Tropp
    2011, the algorithm behind scikit-learn's ``randomized_svd`` that the book calls):
    ``n_iter`` power iterations on ``k + oversample`` random directions, then an exact SVD of
    the small projected matrix. ``'auto'`` takes ``'full'`` below 1,000 rows.

    Signs are fixed (each column of ``U`` has its largest-magnitude entry positive), so the
    result does not depend on the LAPACK build.

    Returns
    -------
    U : ndarray, shape (n, k)
    S : ndarray, shape (k,)
    Vt : ndarray, shape (k, m)
    """
    M = np.asarray(M)
    if M.ndim != 2:
        raise ShapeError(f"truncated_svd needs a matrix, got shape {M.shape}")
    if M.dtype.kind != "f":
        M = M.astype(np.float64)
    k = int(k)
    if not 1 <= k <= min(M.shape):
        raise ConfigError(f"k must be in 1..{min(M.shape)} for a {M.shape} matrix, got {k}")
    if method == "auto":
        method = "full" if M.shape[0] < 1000 else "randomized"
    if method == "full":
        U, S, Vt = np.linalg.svd(M, full_matrices=False)
        U, S, Vt = U[:, :k], S[:k], Vt[:k]
    elif method == "randomized":
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        p = min(k + int(oversample), min(M.shape))
        Q = M @ gen.standard_normal((M.shape[1], p)).astype(M.dtype, copy=False)
        Q, _ = np.linalg.qr(Q)
        for _ in range(int(n_iter)):
            # Re-orthonormalising after each product keeps small singular directions from
            # drowning in rounding (the power iteration's usual stabilisation).
            Q, _ = np.linalg.qr(M.T @ Q)
            Q, _ = np.linalg.qr(M @ Q)
        Ub, S, Vt = np.linalg.svd(Q.T @ M, full_matrices=False)
        U, S, Vt = (Q @ Ub)[:, :k], S[:k], Vt[:k]
    else:
        raise ConfigError(f"unknown method {method!r}: use 'auto', 'full' or 'randomized'")
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(k)])
    signs[signs == 0] = 1
    return U * signs, S, Vt * signs[:, None]


def create_contexts_target(
    corpus: ArrayLike, window_size: int = 1
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The CBOW training pairs of a corpus (ch. 3.3.1).

    Returns
    -------
    contexts : ndarray of int64, shape (n - 2 * window_size, 2 * window_size)
        The ``window_size`` words before and after each target, left to right.
    target : ndarray of int64, shape (n - 2 * window_size,)
        ``corpus[window_size:-window_size]``.
    """
    corpus = _corpus(corpus)
    ws = int(window_size)
    if ws < 1:
        raise ConfigError(f"window_size must be at least 1, got {window_size}")
    if corpus.size <= 2 * ws:
        raise ShapeError(
            f"a corpus of {corpus.size} words has no target with {ws} context words on each side"
        )
    windows = np.lib.stride_tricks.sliding_window_view(corpus, 2 * ws + 1)
    contexts = np.delete(windows, ws, axis=1)  # a new array; the corpus is untouched
    return contexts, corpus[ws:-ws].copy()


def convert_one_hot(corpus: ArrayLike, vocab_size: int) -> NDArray[np.int32]:
    """One-hot rows of word ids (ch. 3.3.2): ids of shape ``S`` give ``(*S, vocab_size)``
    int32 (the book handles 1-D and 2-D ids; any shape works here)."""
    ids = np.asarray(corpus)
    if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= vocab_size):
        raise ShapeError(f"word ids must be integers in 0..{vocab_size - 1}")
    one_hot = np.zeros(ids.shape + (int(vocab_size),), dtype=np.int32)
    np.put_along_axis(one_hot, ids[..., None].astype(np.intp), 1, axis=-1)
    return one_hot
