"""The second book's toy seq2seq data sets, ``addition`` and ``date`` (book 2, ch. 7.3.1).

Each line of ``addition.txt`` / ``date.txt`` is a question, ``_``, and an answer, both padded
with spaces to a fixed width (``16+75  _91  ``). The files ship inside the package
(``scratchdl/data/sequences``, MIT, from the book's repository).

>>> from scratchdl.data import sequence
>>> (x_train, t_train), (x_test, t_test) = sequence.load_data('addition.txt')
>>> char_to_id, id_to_char = sequence.get_vocab()
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scratchdl.errors import DataError

__all__ = ["SHIPPED", "get_vocab", "load_data", "read_pairs"]

#: The data sets shipped with scratchdl.
SHIPPED = ("addition.txt", "date.txt")

Split = tuple[NDArray[np.int64], NDArray[np.int64]]

_last_vocab: tuple[dict[str, int], dict[int, str]] | None = None


def _read_text(file_name: str | os.PathLike[str]) -> tuple[str, str]:
    """The text of a shipped data set (by name) or of a file of the same form (by path)."""
    name = os.fspath(file_name)
    if name in SHIPPED:
        return name, resources.files("scratchdl.data").joinpath("sequences", name).read_text(
            encoding="utf-8"
        )
    path = Path(name)
    if not path.is_file():
        raise DataError(
            f"no data set {name!r}: give one of {', '.join(SHIPPED)} or the path of a text "
            "file with one 'question_answer' per line"
        )
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from None


def read_pairs(file_name: str | os.PathLike[str] = "addition.txt") -> tuple[list[str], list[str]]:
    """The questions and answers of a data set, in file order.

    A question is the text before the first ``_`` of a line; its answer is the rest of the
    line from the ``_`` on (the ``_`` is the decoder's start symbol, as in the book).

    Raises
    ------
    DataError
        A line without ``_``, or questions or answers of different lengths.
    """
    name, text = _read_text(file_name)
    questions, answers = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue  # the final newline
        cut = line.find("_")
        if cut < 0:
            raise DataError(f"{name}, line {number}: no '_' between question and answer")
        questions.append(line[:cut])
        answers.append(line[cut:])
    if not questions:
        raise DataError(f"{name}: no 'question_answer' lines")
    for kind, items in (("question", questions), ("answer", answers)):
        widths = {len(s) for s in items}
        if len(widths) != 1:
            raise DataError(
                f"{name}: every {kind} must have the same width (pad with spaces), found "
                f"widths {sorted(widths)}"
            )
    return questions, answers


def load_data(
    file_name: str | os.PathLike[str] = "addition.txt", seed: int | None = 1984
) -> tuple[Split, Split]:
    """The book's ``sequence.load_data``: character ids, shuffled, split 90/10.

    Characters get ids in order of first appearance, reading question then answer of each
    line in turn. The rows are shuffled by the permutation NumPy's legacy generator seeded
    with ``seed`` draws (``RandomState(seed).shuffle``, what the book's ``np.random.seed`` and
    ``np.random.shuffle`` do), without touching NumPy's global generator; the last
    ``N // 10`` rows are the test set. So the splits and ids are the book's.

    Parameters
    ----------
    file_name : str or path
        ``'addition.txt'``, ``'date.txt'`` (shipped), or the path of a file of that form.
    seed : int or None
        None shuffles differently on every call.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test))
        int64 arrays: questions ``(N, question width)``, answers ``(N, answer width)``
        (45,000 and 5,000 rows for the shipped files).
    """
    global _last_vocab
    questions, answers = read_pairs(file_name)
    char_to_id: dict[str, int] = {}
    for q, a in zip(questions, answers, strict=True):
        for ch in q + a:
            if ch not in char_to_id:
                char_to_id[ch] = len(char_to_id)
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=np.int64)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=np.int64)
    indices = np.arange(len(x))
    if seed is None:
        np.random.default_rng().shuffle(indices)
    else:
        np.random.RandomState(seed).shuffle(indices)
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    _last_vocab = (char_to_id, {i: c for c, i in char_to_id.items()})
    return (x[:split_at], t[:split_at]), (x[split_at:], t[split_at:])


def get_vocab() -> tuple[dict[str, int], dict[int, str]]:
    """``(char_to_id, id_to_char)`` of the data set :func:`load_data` loaded last.

    Unlike the book, whose dictionaries grow across every file loaded in a process, each
    file has its own vocabulary here (the same ids whenever one file is loaded alone, as
    every script of the book does).

    Raises
    ------
    DataError
        Before any :func:`load_data`.
    """
    if _last_vocab is None:
        raise DataError("no vocabulary yet: call load_data(...) first, then get_vocab()")
    char_to_id, id_to_char = _last_vocab
    return dict(char_to_id), dict(id_to_char)
