"""Compare ``scratchdl train``'s memory estimate with the peak RSS it measures.

For each model and batch size it runs the real command in a subprocess, reads the child's peak
resident set size (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, one fresh process per
run so the maximum is that run's), and prints it beside the estimate the command refuses with
(:func:`scratchdl.cli._resources.train_estimate_for`) and their ratio.

The run is the command's own: MNIST loaded, He-initialised network, Adam, one BLAS thread per
step, evaluation of a copy of the weights on a second thread at the end of each epoch (the
estimate counts it). To include that background evaluation the run is one epoch and a few
iterations long (``--iters`` = iterations per epoch + 3, with ``--eval-samples`` so that the
evaluations stay short); ``--quick`` runs only ``--quick-iters`` iterations (no background
evaluation: the measured peak is then below the estimate by that part).

Usage::

    SCRATCHDL_DATA_DIR=/path/to/mnist python benchmarks/bench_memory.py
    python benchmarks/bench_memory.py --data-dir /path/to/mnist --models cnn --batches 100
    python benchmarks/bench_memory.py --quick
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def measure(argv: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Peak RSS (bytes) and seconds of ``python -m scratchdl ARGV`` in a fresh child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "scratchdl", *argv], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if r.returncode != 0:
        raise SystemExit(f"scratchdl {' '.join(argv)} failed ({r.returncode}):\n{r.stderr}")
    if peak <= before:
        # ru_maxrss is the largest child so far: a smaller run after a larger one cannot be
        # told apart, so each run goes in its own process tree (see main).
        raise SystemExit("peak RSS not measurable: run one configuration per process")
    return peak * 1024, seconds, r.stdout.strip().splitlines()[-1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("SCRATCHDL_DATA_DIR"))
    p.add_argument("--models", default="cnn,deep-cnn", help="comma-separated (default: both)")
    p.add_argument("--batches", default="100,1000", help="batch sizes (default: 100,1000)")
    p.add_argument("--eval-samples", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="a few iterations, no epoch record")
    p.add_argument("--quick-iters", type=int, default=5)
    p.add_argument("--one", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir or set SCRATCHDL_DATA_DIR (the MNIST IDX files)")
    if args.one:
        return _one(args, args.one[0], int(args.one[1]))
    print(
        f"{'model':<9} {'batch':>5} {'iters':>5} {'estimate':>10} {'measured':>10} "
        f"{'est/meas':>8} {'time':>7}",
        flush=True,
    )
    for model in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            # One process per configuration: ru_maxrss of RUSAGE_CHILDREN is a maximum over
            # all children, so a small run after a large one would read the large one's peak.
            argv = [sys.executable, __file__, "--one", model, str(batch)]
            argv += ["--data-dir", args.data_dir, "--eval-samples", str(args.eval_samples)]
            if args.quick:
                argv += ["--quick", "--quick-iters", str(args.quick_iters)]
            r = subprocess.run(argv, capture_output=True, text=True)
            sys.stdout.write(r.stdout)
            sys.stderr.write(r.stderr)
            sys.stdout.flush()
            if r.returncode:
                return r.returncode
    return 0


def _one(args: argparse.Namespace, model: str, batch: int) -> int:
    sys.path.insert(0, str(SRC))
    from scratchdl.cli._resources import format_bytes, train_estimate_for
    from scratchdl.train import TrainConfig

    iters = args.quick_iters if args.quick else 60000 // batch + 3
    config = TrainConfig(model=model, batch_size=batch, iters=iters, eval_samples=args.eval_samples)
    estimate, parts = train_estimate_for(config.validate(), background_evaluation=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", "--model", model, "--batch-size", str(batch), "--iters", str(iters)]
        argv += ["--eval-samples", str(args.eval_samples), "--data-dir", args.data_dir]
        argv += ["--out", str(Path(tmp) / "run"), "--quiet"]
        peak, seconds, _ = measure(argv, env)
    mib = 2**20
    print(
        f"{model:<9} {batch:>5} {iters:>5} {estimate / mib:>6.0f} MiB {peak / mib:>6.0f} MiB "
        f"{estimate / peak:>8.2f} {seconds:>6.0f}s",
        flush=True,
    )
    detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items())
    print(f"    estimate: {detail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
