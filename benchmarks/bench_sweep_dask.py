"""Wall time of one sweep run locally with 1 and 2 processes, and through Dask with 2 workers.

Each contender is the whole ``scratchdl sweep lr --epochs E --seeds 0,1`` command (10 trials)
in a subprocess (Python start and the parent's MNIST load included) into a fresh ``--out``:

- ``jobs 1`` / ``jobs 2``: ``--jobs 1`` / ``--jobs 2`` (the local process pool);
- ``dask``: ``--executor dask://127.0.0.1:PORT`` on a scheduler and ``--workers`` workers
  (``dask worker --nthreads 1``, with their nanny, as the README starts them) that were started
  for this run and have not loaded MNIST yet (starting them is not timed);
- ``dask warm``: the same command again on the same workers, which keep MNIST loaded;
- ``dask 1x2``: one worker with ``--nthreads 2`` (fresh, like ``dask``): two trials at a time
  in one process.

Rounds are interleaved (every other round in reverse order); the script prints every time, the
best and the median, their ratios to ``jobs 1``, the load average, and checks that every run
gave the same trial results (timings apart). Needs ``pip install "scratchdl[dask]"`` and MNIST::

    SCRATCHDL_DATA_DIR=/path/to/mnist python benchmarks/bench_sweep_dask.py --rounds 3
    python benchmarks/bench_sweep_dask.py --data-dir /path/to/mnist --epochs 5   # longer trials
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratchdl.experiments.trial import TIMING_DEPENDENT


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in TIMING_DEPENDENT}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


class Cluster:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.scheduler = self._start("scheduler", "--host=127.0.0.1", "--port=0", "--no-dashboard")
        self.workers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 60
        while "address" not in self._text("scheduler.json"):
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                sys.exit("dask scheduler did not start")
            time.sleep(0.1)
        self.address = json.loads(self._text("scheduler.json"))["address"]

    def _text(self, name: str) -> str:
        path = self.folder / name
        return path.read_text() if path.exists() else ""

    def _start(self, kind: str, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", kind, f"--scheduler-file={self.folder}/scheduler.json"]
            + list(argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )

    def restart_workers(self, n: int, nthreads: int = 1) -> None:
        """``n`` fresh workers (nothing loaded yet), registered before this returns."""
        from distributed import Client

        self._kill(self.workers)
        with Client(self.address, set_as_default=False) as client:
            while client.nthreads():
                time.sleep(0.1)
            self.workers = [
                self._start("worker", f"--nthreads={nthreads}", "--no-dashboard") for _ in range(n)
            ]
            client.wait_for_workers(n, timeout=60)

    @staticmethod
    def _kill(procs: list[subprocess.Popen]) -> None:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        self._kill([*self.workers, self.scheduler])


def timed(argv: list[str], out: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scratchdl", *argv, "--out", str(out)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="workers of 'dask' (default: 2)")
    parser.add_argument("--data-dir", default=os.environ.get("SCRATCHDL_DATA_DIR"))
    parser.add_argument("--epochs", default="1", help="of each trial (default: 1)")
    parser.add_argument("--seeds", default="0,1", help="of the lr sweep (default: 0,1)")
    args = parser.parse_args()
    sweep = ["sweep", "lr", "--epochs", args.epochs, "--seeds", args.seeds]
    if not args.data_dir:
        sys.exit("give --data-dir or set SCRATCHDL_DATA_DIR (the workers read MNIST there)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-dask-"))
    env = {**os.environ, "SCRATCHDL_DATA_DIR": args.data_dir, "MPLBACKEND": "Agg"}
    cluster = Cluster(tmp, env)
    url = cluster.address.replace("tcp://", "dask://")
    names = ["jobs 1", "jobs 2", "dask", "dask warm", "dask 1x2"]
    times: dict[str, list[float]] = {name: [] for name in names}
    print(f"sweep: scratchdl {' '.join(sweep)}; load average before {os.getloadavg()}")
    try:
        for r in range(args.rounds):
            order = ["jobs 1", "jobs 2", "dask", "dask 1x2"]
            for name in order if r % 2 == 0 else order[::-1]:
                if name.startswith("dask"):
                    two_threads = name == "dask 1x2"
                    cluster.restart_workers(1 if two_threads else args.workers, 1 + two_threads)
                    for label in [name] if two_threads else ["dask", "dask warm"]:
                        out = tmp / f"{label.replace(' ', '-')}-{r}"
                        times[label].append(timed([*sweep, "--executor", url], out, env))
                else:
                    out = tmp / f"{name.replace(' ', '')}-{r}"
                    jobs = name.split()[1]
                    times[name].append(timed([*sweep, "--jobs", jobs], out, env))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
    finally:
        cluster.stop()
    print(f"load average after {os.getloadavg()}")
    base_best, base_median = min(times["jobs 1"]), statistics.median(times["jobs 1"])
    print("| run | best | median | jobs 1 / run (best) | jobs 1 / run (median) |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(
            f"| {name} | {best:.1f} s | {median:.1f} s | {base_best / best:.2f}x "
            f"| {base_median / median:.2f}x |"
        )
    trials = [
        strip(json.loads((d / "results.json").read_text())["trials"])
        for d in sorted(tmp.iterdir())
        if (d / "results.json").exists()
    ]
    print(f"same trial results in all {len(trials)} runs: {all(t == trials[0] for t in trials)}")


if __name__ == "__main__":
    main()
