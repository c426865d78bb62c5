"""Perplexity of the book's ``Rnnlm.pkl`` on PTB test: the book's ``ch06/eval.py`` against ours.

The book's script runs unchanged, in a temporary folder, in a child process: its ``ch06``
files and the pickle are copied there, and the two packages it imports are stand-ins written
for this comparison (nothing from the book's ``common/`` or ``dataset/``, which are not in this
repository):

* ``common``: ``time_layers`` holds the book-style reference layers of
  ``benchmarks/bench_lstm.py`` (written from the book's equations), ``base_model`` a
  ``BaseModel.load_params`` that unpickles the list of arrays as the book does (the book's
  own trusted file, in a throwaway process), ``util.eval_perplexity`` the book's definition.
* ``dataset.ptb.load_data('test')`` returns the same word ids that ours gets.

Ours: :class:`scratchdl.rnnlm.Rnnlm`, ``load_params`` through the safe reader, and
:func:`scratchdl.train.rnnlm.eval_perplexity`.

Word ids: the book numbers words in order of first appearance in ``ptb.train.txt``. Its
``ch04/cbow_params.pkl`` keeps that numbering (the ``word_to_id`` of the book's
``ptb.load_data('train')``, 10,000 words), so the test file is numbered with it
(``load_ptb('test', vocab=...)``) and the training file is not needed: both sides see the
book's ids, and the value is the book's test perplexity.

    python benchmarks/compare_book_perplexity.py --book2 /path/to/book2
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

BASE_MODEL = """
import os, pickle
import numpy as np
class BaseModel:
    def __init__(self):
        self.params, self.grads = None, None
    def load_params(self, file_name=None):
        file_name = file_name or self.__class__.__name__ + '.pkl'
        with open(file_name, 'rb') as f:
            params = pickle.load(f)
        params = [p.astype('f') for p in params]
        for i, param in enumerate(self.params):
            param[...] = params[i]
"""

UTIL = """
import numpy as np
def eval_perplexity(model, corpus, batch_size=10, time_size=35):
    corpus_size = len(corpus)
    total_loss = 0
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    jump = (corpus_size - 1) // batch_size
    for iters in range(max_iters):
        xs = np.zeros((batch_size, time_size), dtype=np.int32)
        ts = np.zeros((batch_size, time_size), dtype=np.int32)
        time_offset = iters * time_size
        offsets = [time_offset + (i * jump) for i in range(batch_size)]
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                xs[i, t] = corpus[(offset + t) % corpus_size]
                ts[i, t] = corpus[(offset + t + 1) % corpus_size]
        try:
            loss = model.forward(xs, ts, train_flg=False)
        except TypeError:
            loss = model.forward(xs, ts)
        total_loss += loss
    return np.exp(total_loss / max_iters)
"""


def test_ids(book2: Path) -> np.ndarray:
    from scratchdl.data.ptb import load_ptb

    vocab = book2 / "ch04" / "cbow_params.pkl"
    corpus, _, _ = load_ptb("test", data_dir=book2, vocab=vocab, download=False)
    return np.asarray(corpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--book2", required=True, type=Path)
    args = ap.parse_args()
    corpus = test_ids(args.book2)

    sys.path.insert(0, str(HERE))
    from bench_lstm import book_reference

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ch06").mkdir()
        for name in ("eval.py", "rnnlm.py", "better_rnnlm.py", "Rnnlm.pkl"):
            shutil.copy(args.book2 / "ch06" / name, root / "ch06" / name)
        (root / "common").mkdir()
        (root / "common" / "__init__.py").write_text("")
        (root / "common" / "base_model.py").write_text(BASE_MODEL)
        (root / "common" / "util.py").write_text(UTIL)
        (root / "common" / "np.py").write_text("import numpy as np\n")
        src = inspect.getsource(book_reference)
        (root / "common" / "time_layers.py").write_text(
            "import numpy as np\n" + src + "\nglobals().update(book_reference())\n"
            "class TimeDropout:\n    pass\n"
        )
        (root / "dataset").mkdir()
        (root / "dataset" / "__init__.py").write_text("")
        np.save(root / "dataset" / "test_ids.npy", corpus)
        (root / "dataset" / "ptb.py").write_text(
            "import os\nimport numpy as np\n"
            "def load_data(data_type='train'):\n"
            "    assert data_type == 'test'\n"
            "    ids = np.load(os.path.join(os.path.dirname(__file__), 'test_ids.npy'))\n"
            "    return ids, None, None\n"
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "eval.py"], cwd=root / "ch06", capture_output=True, text=True
        )
        if proc.returncode != 0:
            sys.exit(f"the book's eval.py failed:\n{proc.stderr}")
        out = proc.stdout
        book_time = time.perf_counter() - t0
    book_ppl = float(out.split("test perplexity:")[1].split()[0])

    from scratchdl.rnnlm import Rnnlm
    from scratchdl.train.rnnlm import eval_perplexity

    t0 = time.perf_counter()
    model = Rnnlm()
    model.load_params(args.book2 / "ch06" / "Rnnlm.pkl")
    model.reset_state()
    ours = eval_perplexity(model, corpus)
    ours_time = time.perf_counter() - t0
    print(f"word ids: the book's (cbow_params.pkl's vocabulary), {len(corpus)} words")
    print(f"book's ch06/eval.py: test perplexity {book_ppl:.4f} ({book_time:.1f} s)")
    print(f"scratchdl:           test perplexity {ours:.4f} ({ours_time:.1f} s)")
    print(f"relative difference: {abs(ours - book_ppl) / book_ppl:.2e}")


if __name__ == "__main__":
    main()
