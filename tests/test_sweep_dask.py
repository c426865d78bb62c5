"""Sweeps on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1.

The cluster is started with the ``dask`` command line, as a user would, in processes of their
own (``--no-nanny``: killing a worker process then really loses the worker). Every process is
killed when the module ends, whatever happened. Without Dask's ``distributed`` the cluster
tests are skipped; the error-message tests run either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from _sweep_helpers import blobs, info, strip_timing
from scratchdl import experiments
from scratchdl.cli import main
from scratchdl.errors import ConfigError
from scratchdl.experiments import executors, lr
from scratchdl.experiments.data import ArraySource
from scratchdl.experiments.engine import run_sweep
from scratchdl.experiments.executors import (
    TrialFailedWarning,
    TrialsFailedError,
    parse_executor,
)
from scratchdl.train._blas import blas_thread_count

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(
    not HAVE_DASK, reason='Dask\'s distributed is not installed (pip install "scratchdl[dask]")'
)
#: Bound on every wait for a process of the cluster.
START_SECONDS = 60


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes, each in a session of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        # The workers start with two BLAS threads: the task must bring them down to one. They
        # get the malloc setting a nanny gives (the task undoes its cost), and can import this
        # module (FlakySource).
        self.env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "PYTHONDONTWRITEBYTECODE": "1"}
        self.env["MALLOC_TRIM_THRESHOLD_"] = "65536"
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        self.client = None

    def _start(self, name: str, *argv: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.folder,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def start(self, workers: int) -> None:
        from distributed import Client

        # --idle-timeout and --death-timeout: nothing outlives a test run killed outright.
        scheduler = self._start(
            "scheduler",
            "scheduler",
            "--host=127.0.0.1",
            "--port=0",
            f"--scheduler-file={self.file}",
            "--no-dashboard",
            "--idle-timeout=300s",
        )
        deadline = time.monotonic() + START_SECONDS
        while not (self.file.exists() and "address" in self.file.read_text()):
            if scheduler.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dask scheduler did not start:\n{self.log('scheduler')}")
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.url = self.address.replace("tcp://", "dask://")
        self.client = Client(self.address, timeout=START_SECONDS, set_as_default=False)
        self.ensure_workers(workers)

    def ensure_workers(self, n: int) -> None:
        """Start workers until ``n`` are alive and registered (after a test killed one)."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < n:
            name = f"worker{len(self.procs)}"
            self.workers.append(
                self._start(
                    name,
                    "worker",
                    f"--scheduler-file={self.file}",
                    "--nthreads=1",
                    "--no-nanny",
                    "--no-dashboard",
                    f"--local-directory={self.folder / name}",
                    "--death-timeout=60s",
                )
            )
        deadline = time.monotonic() + START_SECONDS
        while len(self.client.nthreads()) != n:
            if time.monotonic() > deadline:
                pytest.fail("dask workers did not register:\n" + self.log("worker*"))
            time.sleep(0.1)

    def kill(self, pid: int) -> None:
        """SIGKILL the worker process ``pid`` (one this cluster started, nothing else)."""
        assert pid in {w.pid for w in self.workers}
        os.killpg(pid, signal.SIGKILL)

    def log(self, pattern: str) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.folder.glob(pattern))

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=5)
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.start(workers=2)
        yield c
    finally:
        c.stop()


@pytest.fixture
def dask_url(cluster) -> str:
    cluster.ensure_workers(2)
    return cluster.url


@pytest.fixture(scope="module")
def src():
    return blobs()


def plan(source, epochs: float = 200):
    """Six trials of about half a second each on this machine."""
    opts = lr.Options(
        values=(0.01, 0.1, 1.0), epochs=epochs, seeds=(0, 1), hidden=(128,), eval_samples=100
    )
    return lr.build(opts, info(source))


@pytest.fixture(scope="module")
def local(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return run_sweep(plan(src), out, source=src, jobs=0), out


def same_results(a, b) -> bool:
    return [strip_timing(t) for t in a.trials] == [strip_timing(t) for t in b.trials]


# -- a sweep on the cluster is the same sweep ------------------------------------------------
@needs_dask
@pytest.mark.slow
def test_dask_sweep_equals_a_local_run(cluster, dask_url, src, local, tmp_path):
    reference, local_out = local
    seen = []
    res = run_sweep(
        plan(src),
        tmp_path,
        source=src,
        executor=dask_url,
        on_trial=lambda row, cached: seen.append(cached),
    )
    assert same_results(res, reference)
    assert seen == [False] * 6  # progress: one call per trial as it arrived
    assert (tmp_path / "summary.md").read_text() == (local_out / "summary.md").read_text()
    findings = json.loads((tmp_path / "results.json").read_text())["findings"]
    assert findings == json.loads((local_out / "results.json").read_text())["findings"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        p.name for p in local_out.glob("*.png")
    )
    # Both workers ran trials; each loaded the data once and recorded where it ran.
    procs = [t["process"] for t in res.trials]
    assert {p["worker"] for p in procs} == set(cluster.client.nthreads())
    assert {p["pid"] for p in procs} <= {w.pid for w in cluster.workers}
    for pid in {p["pid"] for p in procs}:  # at most once (none if an earlier test loaded it)
        assert sum(p["loaded_data"] for p in procs if p["pid"] == pid) <= 1
    assert {p["host"] for p in procs} == {socket.gethostname()}
    # Started with OPENBLAS_NUM_THREADS=2, the trials ran with one BLAS thread.
    assert {p["blas_threads"]["OPENBLAS_NUM_THREADS"] for p in procs} == {"2"}
    if blas_thread_count() is not None:
        assert {p["blas_thread_count"] for p in procs} == {1}
    # Resumed: nothing runs again (the cluster is not even asked).
    again = run_sweep(plan(src), tmp_path, source=src, executor="dask://127.0.0.1:1")
    assert same_results(again, reference)


@needs_dask
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCRATCHDL_DATA_DIR"), reason="SCRATCHDL_DATA_DIR unset")
def test_cli_sweep_on_dask_equals_local(dask_url, tmp_path, capsys):
    # The workers read MNIST from the shared --data-dir, as on a cluster with a shared disk.
    argv = ["sweep", "lr", "--values", "0.1,1000", "--iters", "40", "--seeds", "0"]
    argv += ["--eval-samples", "200", "--data-dir", os.environ["SCRATCHDL_DATA_DIR"]]
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "dask"), "--executor", dask_url]) == 0
    out = capsys.readouterr().out
    address = dask_url.replace("dask://", "tcp://")
    assert f"2 runs of 40 updates, Dask scheduler {address}: 2 workers, 2 threads -> " in out
    assert "1/2" in out and "2/2" in out
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("local", "dask"))
    assert [strip_timing(t) for t in a["trials"]] == [strip_timing(t) for t in b["trials"]]
    assert (tmp_path / "local/summary.md").read_text() == (tmp_path / "dask/summary.md").read_text()


@needs_dask
@pytest.mark.slow
def test_both_stages_of_a_two_stage_sweep_run_on_the_cluster(dask_url, src, tmp_path):
    # hyperparams: a random search, then the best draw re-run, planned from the search.
    small = dict(train_samples=200, trials=4, epochs=2, hidden=(16,), top=2, region=2)
    small.update(lr_range=(1e-3, 1.0), eval_samples=100)
    here = experiments.run("hyperparams", tmp_path / "here", source=src, jobs=0, **small)
    there = experiments.run(
        "hyperparams", tmp_path / "there", source=src, executor=dask_url, **small
    )
    assert len(there.trials) == 5 and same_results(here, there)
    assert all("worker" in t["process"] for t in there.trials)


# -- failures: retried, reported by name, the rest goes on -------------------------------------
_FLAKY_FAILED: list[int] = []


@dataclasses.dataclass(frozen=True, eq=False)
class FlakySource(ArraySource):
    """Its first load in each process fails (a disk hiccup): only a retry saves that trial."""

    def load(self):
        if not _FLAKY_FAILED:
            _FLAKY_FAILED.append(os.getpid())
            raise OSError("the disk hiccuped")
        return super().load()


@needs_dask
@pytest.mark.slow
def test_a_trial_that_fails_once_is_retried(dask_url, src, local, tmp_path):
    flaky = FlakySource(src.data, name="blobs")
    assert flaky.ident == src.ident  # the same trials as the local run
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrialFailedWarning)
        res = run_sweep(
            plan(src), tmp_path, source=flaky, data=src.load(), executor=dask_url, figures=False
        )
    assert same_results(res, local[0])


@needs_dask
@pytest.mark.slow
def test_failing_trial_is_named_and_the_others_finish(dask_url, src, local, tmp_path):
    sweep = plan(src, epochs=5)
    good = sweep.trials[2]
    bad = dataclasses.replace(good, train=dataclasses.replace(good.train, optimizer="nope"))
    broken = dataclasses.replace(sweep, trials=[*sweep.trials[:2], bad, *sweep.trials[3:]])
    with pytest.warns(TrialFailedWarning) as warned, pytest.raises(TrialsFailedError) as exc:
        run_sweep(broken, tmp_path, source=src, executor=dask_url, figures=False)
    message = str(exc.value)
    assert message.startswith("1 of the 6 trials run on the cluster failed")
    assert f"'{bad.group}' seed {bad.seed}: ConfigError: unknown optimizer 'nope'" in message
    assert "failed 3 times" in message and "run the same sweep again" in message
    (warning,) = [str(w.message) for w in warned]
    assert warning.startswith(
        f"trial '{bad.group}' seed {bad.seed} failed on the cluster: ConfigError: unknown "
        "optimizer 'nope': use one of sgd, momentum, nesterov, adagrad, rmsprop, adam [on "
        f"{socket.gethostname()}, worker tcp://127.0.0.1:"
    )
    assert warning.endswith("] (failed 3 times)") and warning.split(": ", 1)[1] in message
    assert exc.value.failures[0][0] == bad
    assert len(list((tmp_path / "trials").glob("*.json"))) == 5
    # Fixed and re-run: only the failed trial runs.
    seen = []
    run_sweep(sweep, tmp_path, source=src, executor=dask_url, on_trial=lambda r, c: seen.append(c))
    assert sorted(seen) == [False] + [True] * 5


@needs_dask
@pytest.mark.slow
def test_ctrl_c_cancels_the_rest_and_keeps_finished_trials(cluster, dask_url, src, tmp_path):
    def ctrl_c(row, cached):
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan(src, epochs=400), tmp_path, source=src, executor=dask_url, on_trial=ctrl_c)
    assert time.monotonic() - start < 20
    assert len(list((tmp_path / "trials").glob("*.json"))) == 1
    # The scheduler forgets the other trials (a running one ends on its worker, unused).
    deadline = time.monotonic() + 20
    while any(cluster.client.processing().values()):
        assert time.monotonic() < deadline, cluster.client.processing()
        time.sleep(0.1)


@needs_dask
@pytest.mark.slow
def test_worker_killed_mid_sweep_its_trials_finish_elsewhere(
    cluster, dask_url, src, local, tmp_path
):
    killed = {}

    def kill_first_worker(row, cached):
        if not killed:
            address, pid = row["process"]["worker"], row["process"]["pid"]
            # The scheduler has already given this worker its next trial: it dies mid-trial.
            killed.update(pid=pid, busy=list(cluster.client.processing()[address]))
            cluster.kill(pid)

    res = run_sweep(plan(src), tmp_path, source=src, executor=dask_url, on_trial=kill_first_worker)
    assert killed["busy"], "the killed worker had no trial to lose"
    assert same_results(res, local[0])
    assert len(list((tmp_path / "trials").glob("*.json"))) == 6
    survivors = {t["process"]["pid"] for t in res.trials} - {killed["pid"]}
    assert len(survivors) == 1
    assert [p.poll() for p in cluster.procs if p.pid == killed["pid"]] == [-signal.SIGKILL]
    assert sum(t["process"]["pid"] == killed["pid"] for t in res.trials) < 3


# -- errors are one readable line ------------------------------------------------------------
def cli_error(capsys, tmp_path, *argv: str) -> str:
    code = main(["sweep", "lr", *argv, "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@needs_dask
def test_unreachable_scheduler_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    # Found before any data is loaded (--data-dir holds none).
    err = cli_error(capsys, tmp_path, "--executor", f"dask://127.0.0.1:{port}")
    assert time.monotonic() - start < 15
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in err
    assert f"dask scheduler --port {port}" in err and "dask worker 127.0.0.1:" in err


def test_missing_extra_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    err = cli_error(capsys, tmp_path, "--executor", "dask://127.0.0.1:8786")
    assert "needs Dask's 'distributed' package" in err and 'pip install "scratchdl[dask]"' in err


@pytest.mark.parametrize(
    "text", ["dask", "tcp://127.0.0.1:8786", "dask://", "dask://host:99999", "dask://h:1/x"]
)
def test_bad_executor_is_one_line(capsys, tmp_path, text):
    err = cli_error(capsys, tmp_path, "--executor", text)
    assert "--executor must be 'local' or dask://HOST:PORT" in err and repr(text) in err


def test_parse_executor():
    assert parse_executor("local") is None
    assert parse_executor("dask://10.0.0.5:9000") == "tcp://10.0.0.5:9000"
    assert parse_executor("dask://gpu-box") == "tcp://gpu-box:8786"
    assert parse_executor("dask://[::1]:8786") == "tcp://[::1]:8786"
    with pytest.raises(ConfigError, match="executor must be"):
        run_sweep(plan(blobs()), "unused", source=blobs(), executor="dask:/x")
