"""Time a CNN training step three ways in one process: ours, the book's, PyTorch.

The steps: batches of 100 MNIST images (N, 1, 28, 28), forward + backward + Adam (lr 0.001),
for SimpleConvNet (ch. 7.5: conv 30x5x5 - ReLU - 2x2 max pool - affine 100 - ReLU - affine 10)
and DeepConvNet (ch. 8.1: six 3x3 convolutions 16-16-32-32-64-64 with ReLU, 2x2 pooling after
every second one, affine 50 - ReLU - dropout - affine 10 - dropout). All contenders start from
the same weights (He init for DeepConvNet, 0.01 for SimpleConvNet) and see the same batches;
rounds are interleaved (ours, book, torch, then the reverse order) so a busy spell of the
shared machine hits all alike. Each round times ``--steps`` steps per contender; the script
prints every round, the best and the median time per step (wall clock, and the process's CPU
time, which a busy machine disturbs less), and the ratios both ways.

* ``scratchdl``: ``scratchdl.nets.SimpleConvNet`` / ``DeepConvNet`` (float32) and
  ``scratchdl.optimizers.Adam``.
* ``book``: with ``--book-code DIR`` (or ``SCRATCHDL_BOOK_CODE``), the book's own
  ``ch07/simple_convnet.py`` / ``ch08/deep_convnet.py`` with its ``common/`` package (float64
  weights), which this repository does not contain. Without it, ``book_style_cnn.py``: the
  book's algorithms (float64, two-copy ``im2col``, ``col2im``, pooling by ``im2col`` and
  ``argmax``, Adam in its form) written here in its style.
* ``torch``: the same network in PyTorch on the CPU (``torch.optim.Adam``, float32), skipped
  when PyTorch is not installed.
* ``products`` (with ``--products``): only the matrix products our step does (each
  convolution's ``col · W``, ``dW = colᵀ · dout`` and, after the first layer, ``dx`` as a
  product with the turned filters; each Affine's three), as whole contiguous float32 matrices
  of the same shapes on preallocated outputs: no im2col, no pooling, no ReLU, no Adam. What
  any im2col-and-BLAS step must spend at least, against the whole steps.

BLAS threads: each thread count in ``--threads`` (default ``1,2``) runs in a child process
started with ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set (they must be
set before NumPy loads) and ``torch.set_num_threads`` to the same number; the child prints
which BLAS kernel runs (threadpoolctl, when installed). Unset ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` for the command if your environment sets them.

Usage::

    SCRATCHDL_DATA_DIR=/path/to/mnist python benchmarks/bench_conv.py
    python benchmarks/bench_conv.py --threads 1 --rounds 3 --steps 5 --nets deep
    python benchmarks/bench_conv.py --epoch   # also one DeepConvNet epoch of ours
    python benchmarks/bench_conv.py --nets deep --products   # and its matrix products alone

Only this script imports PyTorch; the library never does.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

BATCH = 100
LR = 0.001
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# -- data --------------------------------------------------------------------------------------
def batches(data_dir: str | None, n_batches: int, seed: int = 0):
    """``n_batches`` batches of (100, 1, 28, 28) float32 images and int labels, and the source."""
    import numpy as np

    rng = np.random.default_rng(seed)
    try:
        from scratchdl.data import load_mnist

        (x, t), _ = load_mnist(flatten=False, data_dir=data_dir, download=False)
        source = "MNIST training images"
    except Exception as exc:  # noqa: BLE001 - any data problem: fall back to noise
        x = rng.random((n_batches * BATCH, 1, 28, 28), dtype=np.float32)
        t = rng.integers(0, 10, n_batches * BATCH)
        source = f"random images (MNIST not found: {exc})"
    out = []
    for _ in range(n_batches):
        idx = rng.choice(x.shape[0], BATCH, replace=False)
        out.append((np.ascontiguousarray(x[idx]), np.asarray(t[idx], dtype=np.int64)))
    return out, source


def make_ours(kind: str):
    from scratchdl import nets

    return nets.SimpleConvNet(rng=0) if kind == "simple" else nets.DeepConvNet(rng=0)


# -- contenders: each returns (step(x, t) -> loss, description) ----------------------------------
def ours(kind: str, init: dict[str, Any]) -> tuple[Callable, str]:
    from scratchdl.optimizers import Adam

    net = make_ours(kind)
    for key, value in init.items():
        net.params[key] = value
    opt = Adam(lr=LR)

    def step(x, t):
        grads = net.gradient(x, t)  # keeps its forward pass's loss in net.last_loss
        opt.update(net.params, grads)
        return net.last_loss

    return step, "float32"


def book(kind: str, init: dict[str, Any], code_dir: str) -> tuple[Callable, str]:
    import numpy as np

    for sub in ("", "ch07", "ch08"):
        path = os.path.join(code_dir, sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    from common.optimizer import Adam

    if kind == "simple":
        from simple_convnet import SimpleConvNet

        net = SimpleConvNet()
    else:
        from deep_convnet import DeepConvNet

        net = DeepConvNet()
    for key, value in init.items():
        # In place: the book's layers hold the very arrays of ``net.params``.
        net.params[key][...] = np.asarray(value, dtype=net.params[key].dtype)
    opt = Adam(lr=LR)

    def step(x, t):
        grads = net.gradient(x, t)
        opt.update(net.params, grads)
        return float(net.last_layer.loss)

    return step, f"float64 weights, {code_dir}"


def book_style(kind: str, init: dict[str, Any]) -> tuple[Callable, str]:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from book_style_cnn import BookAdam, Net

    net = Net(kind, init)
    opt = BookAdam(lr=LR)

    def step(x, t):
        grads = net.gradient(x, t)
        opt.update(net.params, grads)
        return float(net.loss)

    return step, "the book's algorithms rewritten (book_style_cnn.py), float64"


def torch_net(kind: str, init: dict[str, Any], threads: int) -> tuple[Callable, str]:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    if kind == "simple":
        model = nn.Sequential(
            nn.Conv2d(1, 30, 5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(4320, 100),
            nn.ReLU(),
            nn.Linear(100, 10),
        )
        convs = [0]
        linears = [4, 6]
    else:
        pads = [1, 1, 1, 2, 1, 1]
        chans = [1, 16, 16, 32, 32, 64, 64]
        layers: list[nn.Module] = []
        convs = []
        for i in range(6):
            convs.append(len(layers))
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=pads[i]), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2, 2))
        layers.append(nn.Flatten())
        linears = [len(layers)]
        layers += [nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5)]
        linears.append(len(layers))
        layers += [nn.Linear(50, 10), nn.Dropout(0.5)]
        model = nn.Sequential(*layers)
    with torch.no_grad():
        for i, idx in enumerate(convs + linears, start=1):
            W = torch.from_numpy(init[f"W{i}"].copy())
            model[idx].weight.copy_(W if idx in convs else W.T)
            model[idx].bias.copy_(torch.from_numpy(init[f"b{i}"].copy()))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, t):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(t))
        loss.backward()
        opt.step()
        return loss.item()

    return step, f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads"


def products(kind: str, x) -> tuple[Callable, str]:
    """The matrix products of one step of our ``kind`` net on batch ``x``, and nothing else."""
    import numpy as np

    from scratchdl.layers import Affine, Convolution

    net = make_ours(kind)
    rng = np.random.default_rng(0)
    shapes = []  # (rows, inner, cols) of each product
    h = x
    for layer in net.layers.values():
        y = layer.forward(h)
        if isinstance(layer, Convolution):
            FN, C, FH, FW = layer.W.shape
            N, _, OH, OW = y.shape
            shapes += [(N * OH * OW, FH * FW * C, FN), (FH * FW * C, N * OH * OW, FN)]
            if layer.need_dx:  # dx: the padded dout's columns times the turned filters
                shapes.append((N * h.shape[2] * h.shape[3], FH * FW * FN, C))
        elif isinstance(layer, Affine):
            D, M = layer.W.shape
            shapes += [(BATCH, D, M), (D, BATCH, M), (BATCH, M, D)]
        h = y
    work = [
        (
            rng.random((m, k), dtype=np.float32),
            rng.random((k, n), dtype=np.float32),
            np.empty((m, n), np.float32),
        )
        for m, k, n in shapes
    ]
    gflop = sum(2 * m * k * n for m, k, n in shapes) / 1e9

    def step(x, t):
        for a, b, out in work:
            np.dot(a, b, out=out)
        return float("nan")

    return step, f"{len(shapes)} products, {gflop:.2f} GFLOP, whole contiguous matrices"


# -- one thread count, in this process ------------------------------------------------------------
def run_rounds(contenders, data, rounds: int, steps: int) -> dict[str, dict[str, list[float]]]:
    """Wall-clock and CPU seconds per step, per contender and round."""
    times: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name, _, _ in contenders
    }
    for round_no in range(1, rounds + 1):
        line = []
        # Every other round in reverse order: no contender always follows the same one.
        order = contenders if round_no % 2 else contenders[::-1]
        for name, step, _ in order:
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(steps):
                step(*data[i % len(data)])
            times[name]["wall"].append((time.perf_counter() - wall) / steps)
            times[name]["cpu"].append((time.process_time() - cpu) / steps)
            line.append(
                f"{name} {times[name]['wall'][-1] * 1e3:6.1f} ms (cpu {times[name]['cpu'][-1] * 1e3:6.1f})"
            )
        print(f"  round {round_no}: " + "   ".join(line), flush=True)
    return times


def report(times: dict[str, dict[str, list[float]]], notes: dict[str, str]) -> None:
    names = list(times)
    for name in names:
        w, c = times[name]["wall"], times[name]["cpu"]
        print(
            f"  {name:>9}: wall best {min(w) * 1e3:7.1f} ms, median {statistics.median(w) * 1e3:7.1f} "
            f"ms;  cpu best {min(c) * 1e3:7.1f} ms, median {statistics.median(c) * 1e3:7.1f} ms "
            f"per step   ({notes[name]})"
        )
    for kind in ("wall", "cpu"):
        ours = times["scratchdl"][kind]
        for name in names[1:]:
            ts = times[name][kind]
            print(
                f"  {kind:>4}: scratchdl / {name:<5} = {min(ours) / min(ts):5.2f}x (best)  "
                f"{statistics.median(ours) / statistics.median(ts):5.2f}x (median);  "
                f"{name} / scratchdl = {min(ts) / min(ours):5.2f}x (best)  "
                f"{statistics.median(ts) / statistics.median(ours):5.2f}x (median)"
            )
        if "products" in times and "torch" in times:  # the floor against PyTorch's whole step
            p, ts = times["products"][kind], times["torch"][kind]
            print(
                f"  {kind:>4}: products alone / torch's whole step = {min(p) / min(ts):5.2f}x "
                f"(best)  {statistics.median(p) / statistics.median(ts):5.2f}x (median)"
            )


def child(args: argparse.Namespace) -> int:
    import numpy as np

    threads = args.threads_now
    data, source = batches(args.data_dir, max(args.steps, 1))
    blas = "?"
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    print(
        f"== BLAS threads {threads} ({', '.join(f'{v}={os.environ.get(v)}' for v in THREAD_VARS)}); "
        f"load average {os.getloadavg()[0]:.2f}; NumPy {np.__version__} ({blas}); data: {source}"
    )
    kinds = [k for k in ("simple", "deep") if k in args.nets.split(",")]
    for kind in kinds:
        label = "SimpleConvNet" if kind == "simple" else "DeepConvNet"
        net = make_ours(kind)
        init = {k: np.array(v) for k, v in net.params.items()}
        contenders = [("scratchdl", *ours(kind, init))]
        script = "ch07/simple_convnet.py" if kind == "simple" else "ch08/deep_convnet.py"
        if args.book_code and os.path.isfile(os.path.join(args.book_code, script)):
            contenders.append(("book", *book(kind, init, args.book_code)))
        else:  # no copy of the book's code: its algorithms, rewritten in its style
            contenders.append(("book", *book_style(kind, init)))
        if not args.skip_torch and importlib.util.find_spec("torch") is not None:
            contenders.append(("torch", *torch_net(kind, init, threads)))
        elif not args.skip_torch:
            print("      torch: skipped (PyTorch is not installed)")
        if args.products:
            contenders.append(("products", *products(kind, data[0][0])))
        # Same weights, same batch: the first losses must agree (the comparison is fair).
        losses = {name: step(*data[0]) for name, step, _ in contenders}
        print(
            f"{label} step (batch {BATCH}, forward + backward + Adam), {args.rounds} rounds of "
            f"{args.steps} steps; first-step losses "
            + ", ".join(f"{k} {v:.5f}" for k, v in losses.items())
            + ("" if kind == "simple" else " (each draws its own dropout masks)")
        )
        times = run_rounds(contenders, data, args.rounds, args.steps)
        report(times, {name: note for name, _, note in contenders})
        if kind == "simple":
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  peak RSS of this process so far: {peak:.0f} MB")
    if args.epoch:
        from scratchdl.data import load_mnist

        (x, t), _ = load_mnist(flatten=False, data_dir=args.data_dir, download=False)
        step, _ = ours("deep", {})
        rng = np.random.default_rng(1)
        order = rng.permutation(x.shape[0])
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(x.shape[0] // BATCH):
            idx = order[i * BATCH : (i + 1) * BATCH]
            step(x[idx], t[idx])
        epoch, epoch_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"DeepConvNet: one epoch of ours ({x.shape[0] // BATCH} steps of {BATCH}, Adam): "
            f"{epoch:.1f} s wall, {epoch_cpu:.1f} s cpu; load average now "
            f"{os.getloadavg()[0]:.2f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SCRATCHDL_DATA_DIR"),
        help="MNIST folder (default: $SCRATCHDL_DATA_DIR; random images if absent)",
    )
    parser.add_argument(
        "--book-code",
        default=os.environ.get("SCRATCHDL_BOOK_CODE"),
        help="folder with the book's common/ and ch07/ (default: $SCRATCHDL_BOOK_CODE)",
    )
    parser.add_argument("--threads", default="1,2", help="BLAS/torch thread counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per contender per round")
    parser.add_argument(
        "--nets", default="simple,deep", help="which CNNs to time (default simple,deep)"
    )
    parser.add_argument(
        "--epoch", action="store_true", help="also time one DeepConvNet epoch of ours (600 steps)"
    )
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument(
        "--products",
        action="store_true",
        help="also time the step's matrix products alone (a floor for any im2col + BLAS step)",
    )
    parser.add_argument("--threads-now", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads_now is not None:
        return child(args)
    status = 0
    for n in (int(s) for s in args.threads.split(",")):
        env = dict(os.environ, **{v: str(n) for v in THREAD_VARS})
        cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])]
        status |= subprocess.call([*cmd, "--threads-now", str(n)], env=env)
    return status


if __name__ == "__main__":
    sys.exit(main())
