"""Time the book's ch. 5 MNIST run: ``scratchdl train``, a baseline checkout, the book's loop,
PyTorch.

The run: 784-50-10 ReLU, SGD lr 0.1, batches of 100, 10,000 iterations, train and test
accuracy on the full sets every 600 iterations (17 evaluations).

* ``scratchdl``: ``scratchdl train --quiet`` of this tree, in a subprocess (float32, integer
  labels, fused softmax-cross-entropy backward, one BLAS thread per step, evaluation on a second
  thread); its time includes starting Python and loading the cached MNIST.
* ``baseline``: the same command from another checkout's ``src`` folder (``--baseline``), e.g.
  ``git worktree add /tmp/old a44f977`` and ``--baseline /tmp/old/src``.
* ``book``: the book's ``train_neuralnet.py`` loop, written here in its style: float64 weights
  (float32 images, as the book's loader gives), one-hot labels, ``OrderedDict`` of layers,
  every layer's ``dx`` computed, the loss computed again after the update, ``choice``
  sampling with replacement, accuracy over the whole set in one forward pass.
* ``torch``: the same network and schedule in PyTorch on the CPU (skipped when PyTorch is not
  installed), with its default thread count.

Usage::

    python benchmarks/bench_train.py --data-dir /path/to/mnist    # or SCRATCHDL_DATA_DIR
    python benchmarks/bench_train.py --baseline /tmp/old/src --skip-book --skip-torch --repeat 5

Only this script imports PyTorch; the library never does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from scratchdl.data import load_mnist
from scratchdl.train._blas import blas_thread_count

ITERS = 10_000
BATCH = 100
LR = 0.1
HIDDEN = 50


# -- the book's loop, float64 and one-hot ------------------------------------------------------
class BookRelu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class BookAffine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class BookSoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        x = x - np.max(x, axis=1, keepdims=True)
        self.y = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
        return -np.sum(t * np.log(self.y + 1e-7)) / x.shape[0]

    def backward(self, dout=1):
        return (self.y - self.t) / self.t.shape[0]


class BookTwoLayerNet:
    def __init__(self, rng, input_size=784, hidden_size=HIDDEN, output_size=10, std=0.01):
        self.params = {
            "W1": std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = BookAffine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = BookRelu()
        self.layers["Affine2"] = BookAffine(self.params["W2"], self.params["b2"])
        self.last_layer = BookSoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        return np.sum(y == np.argmax(t, axis=1)) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {
            "W1": self.layers["Affine1"].dW,
            "b1": self.layers["Affine1"].db,
            "W2": self.layers["Affine2"].dW,
            "b2": self.layers["Affine2"].db,
        }


def run_book(data, iters: int) -> tuple[float, float]:
    (x_train, t_train), (x_test, t_test) = data
    eye = np.eye(10)
    t_train, t_test = eye[t_train], eye[t_test]  # one-hot float64, as the book loads it
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    net = BookTwoLayerNet(rng)
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / BATCH, 1)
    test_acc = float("nan")
    for i in range(iters):
        batch_mask = rng.choice(train_size, BATCH)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = net.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= LR * grad[key]
        net.loss(x_batch, t_batch)
        if i % iter_per_epoch == 0:
            net.accuracy(x_train, t_train)
            test_acc = net.accuracy(x_test, t_test)
    # the book's last evaluation is at i = 9600; evaluate the final weights like the others
    test_acc = net.accuracy(x_test, t_test)
    return time.perf_counter() - start, float(test_acc)


# -- PyTorch -----------------------------------------------------------------------------------
def run_torch(data, iters: int) -> tuple[float, float] | None:
    try:
        import torch
    except ImportError:
        return None
    (x_train, t_train), (x_test, t_test) = data
    torch.manual_seed(0)
    xtr, ttr = torch.from_numpy(x_train), torch.from_numpy(t_train)
    xte, tte = torch.from_numpy(x_test), torch.from_numpy(t_test)
    start = time.perf_counter()
    model = torch.nn.Sequential(
        torch.nn.Linear(784, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = xtr.shape[0]
    per_epoch = n // BATCH

    def accuracy(x, t):
        with torch.no_grad():
            correct = 0
            for s in range(0, x.shape[0], 10_000):
                correct += (model(x[s : s + 10_000]).argmax(1) == t[s : s + 10_000]).sum().item()
        return correct / x.shape[0]

    perm = torch.randperm(n)
    test_acc = float("nan")
    for it in range(iters):
        pos = it % per_epoch
        if pos == 0:
            perm = torch.randperm(n)
        idx = perm[pos * BATCH : (pos + 1) * BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr[idx]), ttr[idx])
        loss.backward()
        opt.step()
        if (it + 1) % per_epoch == 0 or it + 1 == iters:
            accuracy(xtr, ttr)
            test_acc = accuracy(xte, tte)
    return time.perf_counter() - start, test_acc


# -- ours (and a baseline checkout): the command line --------------------------------------------
def run_cli(
    iters: int, data_dir: str | None, src: str | None = None
) -> tuple[float, float, str, float]:
    """``scratchdl train --quiet`` in a subprocess (of ``src``'s package when given): wall time,
    final test accuracy, the history without its times (to compare runs) and the CPU seconds
    (user + system) the process used, which a busy machine disturbs less than wall time."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(Path(src).resolve())
    if data_dir:
        env["SCRATCHDL_DATA_DIR"] = data_dir
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "scratchdl", "train", "--quiet", "--out", out]
        cmd += ["--iters", str(iters)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
        acc = float(re.search(r"test accuracy (\d\.\d+)", proc.stdout).group(1))
        history = json.loads((Path(out) / "history.json").read_text())
    history.pop("elapsed", None)
    for record in history["records"]:
        for name in ("elapsed", "epoch_time", "train_seconds"):  # wall-clock times
            record.pop(name, None)
    history["info"] = {k: v for k, v in history["info"].items() if "seconds" not in k}
    return seconds, acc, json.dumps(history, sort_keys=True), cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SCRATCHDL_DATA_DIR"),
        help="MNIST folder (default: $SCRATCHDL_DATA_DIR)",
    )
    parser.add_argument("--iters", type=int, default=ITERS)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each contender; the fastest counts (default: 1)",
    )
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also time 'scratchdl train' from this checkout's src folder (e.g. /tmp/old/src)",
    )
    parser.add_argument("--skip-book", action="store_true")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args(argv)

    data = load_mnist(
        normalize=True, flatten=True, one_hot_label=False, data_dir=args.data_dir, download=False
    )
    load = os.getloadavg()[0]
    print(
        f"ch. 5 run: 784-{HIDDEN}-10 ReLU, SGD lr {LR}, batch {BATCH}, {args.iters} "
        f"iterations, {-(-args.iters // 600)} full evaluations; load average {load:.2f}; BLAS threads "
        f"{blas_thread_count()}"
    )

    histories: dict[str, set[str]] = {"scratchdl": set(), "baseline": set()}
    cpu: dict[str, list[float]] = {"scratchdl": [], "baseline": []}

    def cli(name: str, src: str | None) -> tuple[float, float]:
        seconds, acc, history, cpu_seconds = run_cli(args.iters, args.data_dir, src)
        histories[name].add(history)
        cpu[name].append(cpu_seconds)
        print(f"  ({name} used {cpu_seconds:.2f} s of CPU)", flush=True)
        return seconds, acc

    contenders: list[tuple[str, Any, str]] = [
        ("scratchdl", lambda: cli("scratchdl", None), "  (scratchdl train, this tree)")
    ]
    if args.baseline:
        contenders.append(
            ("baseline", lambda: cli("baseline", args.baseline), f"  ({args.baseline})")
        )
    if not args.skip_book:
        contenders.append(("book", lambda: run_book(data, args.iters), "  (float64, one-hot)"))
    if not args.skip_torch:
        # Not imported yet: PyTorch alone adds ~150 MB, which would count in our peak RSS.
        if importlib.util.find_spec("torch") is not None:
            contenders.append(("torch", lambda: run_torch(data, args.iters), ""))
        else:
            print(f"{'torch':>10}: skipped (PyTorch is not installed)")

    # Rounds of one run per contender, so a slow spell of the machine hits all of them alike.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in contenders}
    for round_no in range(1, args.repeat + 1):
        # Every other round in reverse order, so neither goes first more often (ABBA).
        order = contenders if round_no % 2 else contenders[::-1]
        for name, fn, _ in order:
            t, acc = fn()
            runs[name].append((t, acc))
            print(f"  round {round_no}: {name:>9} {t:7.2f} s   test accuracy {acc:.4f}", flush=True)
            if round_no == 1 and name == "scratchdl":
                peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(f"  peak RSS of our first run (data + run): {peak_mb:.0f} MB")

    print(f"best of {args.repeat}:")
    for name, _, note in contenders:
        if name == "torch":
            import torch

            note = f"  (PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads)"
        t, acc = min(runs[name])
        print(f"{name:>10}: {t:7.2f} s   test accuracy {acc:.4f}{note}")
    ours_best = min(runs["scratchdl"])[0]
    ours_median = statistics.median(t for t, _ in runs["scratchdl"])
    for name, _, _ in contenders[1:]:
        best_ratio = min(runs[name])[0] / ours_best
        median_ratio = statistics.median(t for t, _ in runs[name]) / ours_median
        print(f"{name:>10} / scratchdl = {best_ratio:5.2f}x (best)  {median_ratio:5.2f}x (median)")
    if cpu["baseline"]:
        ours, theirs = min(cpu["scratchdl"]), min(cpu["baseline"])
        print(
            f"CPU seconds, best: scratchdl {ours:.2f}, baseline {theirs:.2f} "
            f"(baseline / scratchdl = {theirs / ours:.2f}x; median "
            f"{statistics.median(cpu['baseline']) / statistics.median(cpu['scratchdl']):.2f}x)"
        )
    for name, seen in histories.items():
        if seen:
            same = "the same history" if len(seen) == 1 else f"{len(seen)} different histories"
            print(f"{name:>10}: {args.repeat} runs of seed 0 gave {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
