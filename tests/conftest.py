"""Shared fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

_DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _network_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Road networks built by the tests are cached in a folder of this session, not in
    the user's ``~/.cache/xunfang`` (unless XUNFANG_CACHE_DIR names one)."""
    if "XUNFANG_CACHE_DIR" not in os.environ:
        os.environ["XUNFANG_CACHE_DIR"] = str(tmp_path_factory.mktemp("xunfang-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory (XUNFANG_DATA_DIR, else ../shared/data); skips when absent."""
    path = Path(os.environ.get("XUNFANG_DATA_DIR", _DEFAULT_DATA))
    if not (path / "chicago").is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


# ---------------------------------------------------------------- a real cluster
# A scheduler and two worker processes started with the `dask` command line on 127.0.0.1
# (random ports), in an empty folder and without this repository on their path: what a
# task needs must reach them through the client (the package itself is installed).


@contextmanager
def dask_processes_in(run_dir: Path) -> Iterator[str]:
    """``tcp://127.0.0.1:PORT`` of a scheduler with two single-threaded worker processes
    (no nanny) started in ``run_dir`` (their temporary folder; their caches in
    ``run_dir/worker-cache``; logs ``scheduler.log``, ``worker1.log``, ``worker2.log``),
    stopped on exit. Skips when there is no ``dask`` command next to this Python."""
    dask_cli = Path(sys.executable).with_name("dask")
    if not dask_cli.is_file():
        pytest.skip(f"no dask command line next to {sys.executable}")
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(run_dir)  # the workers' temporary folder
    env["XUNFANG_CACHE_DIR"] = str(run_dir / "worker-cache")  # their own caches
    # a machine loaded by other jobs answers slowly: wider comm timeouts than dask's 30 s
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "180s"
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP"] = "180s"
    scheduler_file = run_dir / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(*args: str, name: str) -> None:
        log = (run_dir / f"{name}.log").open("wb")
        logs.append(log)
        procs.append(
            subprocess.Popen([str(dask_cli), *args], cwd=run_dir, env=env, stdout=log, stderr=log)
        )

    try:
        start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            name="scheduler",
        )
        deadline = time.monotonic() + 90
        while not scheduler_file.is_file():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail(
                    f"dask scheduler did not start: {(run_dir / 'scheduler.log').read_text()}"
                )
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for w in (1, 2):
            start(
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--no-nanny",
                "--local-directory",
                str(run_dir / f"w{w}"),
                name=f"worker{w}",
            )
        from dask.distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[str]:
    """``tcp://127.0.0.1:PORT`` of a scheduler with two single-threaded worker processes
    (:func:`dask_processes_in` in ``tmp_path / "cluster"``)."""
    with dask_processes_in(tmp_path / "cluster") as address:
        yield address


@pytest.fixture(scope="module")
def dask_processes_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As :func:`dask_processes`, one cluster for every test of a module."""
    with dask_processes_in(tmp_path_factory.mktemp("cluster")) as address:
        yield address
