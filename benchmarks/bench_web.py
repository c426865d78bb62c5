"""Time one prediction of the exported page's network in headless Chromium (net.js).

Exports MODEL (default: a randomly initialised DeepConvNet, which has the book's shapes, so the
same work as ``deep_convnet_params.pkl``) with ``export-web``, opens the page from the disk and
times ``ScratchdlNet.forward`` on one digit with ``performance.now()``: ``--warmup`` calls
first, then ``--runs`` timed calls, over ``--rounds`` rounds (a fresh page each). Prints the
best and median per round, NumPy's ``predict`` of one image in this process for comparison,
the files' total size and the largest probability difference from NumPy on ``--digits``
digits (MNIST test digits when SCRATCHDL_DATA_DIR is set, else random ones).

Needs chromium and chromium-driver (Debian packages) and selenium (the test extra)::

    python benchmarks/bench_web.py
    python benchmarks/bench_web.py /path/to/deep_convnet_params.pkl --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _browser import chromium, console_errors  # noqa: E402
from scratchdl.images import digit_probabilities  # noqa: E402
from scratchdl.nets import DeepConvNet  # noqa: E402
from scratchdl.serve import load_any_model  # noqa: E402
from scratchdl.serve.export import export_web  # noqa: E402

TIMED = """
const m = ScratchdlNet.loadModel(window.SCRATCHDL_MODEL);
const xs = arguments[0], warmup = arguments[1], runs = arguments[2];
for (let i = 0; i < warmup; i++) ScratchdlNet.forward(m, xs[i % xs.length]);
const t = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  ScratchdlNet.forward(m, xs[i % xs.length]);
  t.push(performance.now() - t0);
}
return t;
"""


def _digits(n: int) -> np.ndarray:
    if os.environ.get("SCRATCHDL_DATA_DIR"):
        from scratchdl.data import load_mnist

        _, (x, _) = load_mnist(flatten=False)
        return x[:n, 0]
    return np.random.default_rng(0).random((n, 28, 28), dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", help="model file (default: a random DeepConvNet)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--digits", type=int, default=100)
    args = ap.parse_args()

    net = load_any_model(args.model) if args.model else DeepConvNet(rng=0)
    name = Path(args.model).name if args.model else "random DeepConvNet"
    x = _digits(args.digits)
    p = digit_probabilities(net, x)
    one = x[:1].reshape(1, 1, 28, 28).astype(np.float32)
    numpy_ms = []
    for _ in range(50):
        t0 = time.perf_counter()
        net.predict(one)
        numpy_ms.append(1000 * (time.perf_counter() - t0))

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        sizes = export_web(net, site, name=name)
        print(f"{name}: {type(net).__name__}, page files {sum(sizes.values()) / 1e6:.3f} MB")
        for r in range(args.rounds):
            with chromium(Path(tmp) / f"profile{r}") as driver:
                driver.get((site / "index.html").as_uri())
                flat = x.reshape(x.shape[0], -1).tolist()
                times = driver.execute_script(TIMED, flat[:10], args.warmup, args.runs)
                if r == 0:
                    js = driver.execute_script(
                        "const m = ScratchdlNet.loadModel(window.SCRATCHDL_MODEL);"
                        "return arguments[0].map(v => ScratchdlNet.forward(m, v));",
                        flat,
                    )
                    diff = float(np.abs(np.asarray(js) - p).max())
                    print(f"max |JS - NumPy| over {x.shape[0]} digits: {diff:.2e}")
                errors = console_errors(driver)
                if errors:
                    raise SystemExit(f"the page logged errors: {errors}")
            print(
                f"round {r + 1}: Chromium best {min(times):.2f} ms, median "
                f"{statistics.median(times):.2f} ms per prediction ({args.runs} runs)"
            )
    print(
        f"NumPy predict of one image in this process: best {min(numpy_ms):.2f} ms, median "
        f"{statistics.median(numpy_ms):.2f} ms; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
