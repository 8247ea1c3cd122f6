"""Ctrl-C during a city run (found by a new-user test: pages of dask.distributed tracebacks
and no word of what was done): one line saying how many districts were finished and where,
exit code 130, the local cluster closed without a word.

On the SYNTHETIC example city examples/shanghai (real OpenStreetMap streets of central
Shanghai, a made-up 2-polygon GCJ-02 boundary, stations and 110 calls of March 2024).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.serve import cli_plan_all
from xunfang.serve.cli import app
from xunfang.serve.cli_plan_all import whole_district

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"
OSM = "shanghai-osm/central_shanghai_drive.osm"
XUNFANG = Path(sys.executable).with_name("xunfang")


def _plan_argv(data_dir: Path, out: Path, workers: int) -> list[str]:
    return [
        "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
        "--roads", str(data_dir / OSM), "--stations", str(EXAMPLE / "stations_gcj02.csv"),
        "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
        "--mapping", str(EXAMPLE / "mapping_110.toml"), "--area", "boundary:all",
        "--booths", "2", "--threshold-min", "2", "--no-curve", "--workers", str(workers),
        "--out", str(out), "--data-dir", str(data_dir),
    ]  # fmt: skip


def test_a_ctrl_c_while_a_district_is_written_comes_after_its_files(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    with pytest.raises(KeyboardInterrupt), whole_district():
        os.kill(os.getpid(), signal.SIGINT)  # arrives at once; held back
        path.write_text("whole", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == "whole"
    # without a Ctrl-C the block ends as usual, and the handler is put back
    before = signal.getsignal(signal.SIGINT)
    with whole_district():
        pass
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.realdata
def test_ctrl_c_after_one_district_says_so_and_exits_130(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    real_done = cli_plan_all.DistrictBars.done

    def done_then_ctrl_c(
        self: cli_plan_all.DistrictBars, area: str, state: str, **kw: bool
    ) -> None:
        real_done(self, area, state, **kw)
        raise KeyboardInterrupt  # Ctrl-C right after the first district is written

    monkeypatch.setattr(cli_plan_all.DistrictBars, "done", done_then_ctrl_c)
    out = tmp_path / "city"
    res = CliRunner().invoke(
        app,
        _plan_argv(data_dir, out, 0),
        env={"COLUMNS": "300", "XUNFANG_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.exit_code == 130, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("interrupted")]
    assert lines == [
        f"interrupted: 1 of 2 districts finished, written to {out} (each finished district's "
        "folder is complete; no city summary was written)"
    ]
    assert "Traceback" not in res.output
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert (folder / "report.html").is_file() and (folder / "plan_summary.json").is_file()
    assert not (out / "city_summary.json").exists()


@pytest.mark.realdata
@pytest.mark.skipif(not XUNFANG.is_file(), reason="no xunfang command next to this Python")
def test_ctrl_c_on_a_local_cluster_closes_it_quietly(data_dir: Path, tmp_path: Path) -> None:
    """A real Ctrl-C: SIGINT to the whole process group, as a terminal sends it, while the
    second district is planned on a LocalCluster of one worker."""
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    out = tmp_path / "city"
    env = dict(os.environ, COLUMNS="300", XUNFANG_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [str(XUNFANG), *_plan_argv(data_dir, out, 1)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not any(out.glob("*/report.html")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no district finished in 300 s"
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    # no traceback, no dask log line (from this process or the worker); a warning at the
    # cluster's start that another program holds dask's port 8787 is not the interrupt's
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert not [ln for ln in stderr.splitlines() if " - distributed." in ln], stderr
    lines = [ln for ln in stdout.splitlines() if ln.startswith("interrupted")]
    assert lines == [
        f"interrupted: 1 of 2 districts finished, written to {out} (each finished district's "
        "folder is complete; no city summary was written)"
    ]


@pytest.mark.realdata
def test_ctrl_c_while_the_city_summary_is_written_says_so(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")

    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_plan_all, "write_city_summary", ctrl_c)
    out = tmp_path / "city"
    res = CliRunner().invoke(
        app,
        _plan_argv(data_dir, out, 0),
        env={"COLUMNS": "300", "XUNFANG_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.exit_code == 130, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("interrupted")]
    assert lines == [
        f"interrupted while the city summary was written: 2 of 2 districts finished, written "
        f"to {out} (each finished district's folder is complete; the city summary and report "
        "may be missing or from an earlier run)"
    ]


@pytest.mark.realdata
def test_ctrl_c_while_a_district_is_written_counts_it_finished(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Ctrl-C held back while the first district's files are written is raised after
    the district is counted: '1 of 2', beside its complete folder (it said '0 of 2')."""
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    real_write = cli_plan_all.write_plan_files

    def write_then_ctrl_c(files: object, folder: Path) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # pressed while the files are written
        real_write(files, folder)  # type: ignore[arg-type]

    monkeypatch.setattr(cli_plan_all, "write_plan_files", write_then_ctrl_c)
    out = tmp_path / "city"
    res = CliRunner().invoke(
        app,
        _plan_argv(data_dir, out, 0),
        env={"COLUMNS": "300", "XUNFANG_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert res.exit_code == 130, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("interrupted")]
    assert lines == [
        f"interrupted: 1 of 2 districts finished, written to {out} (each finished district's "
        "folder is complete; no city summary was written)"
    ]
    assert len(list(out.glob("*/report.html"))) == 1


_CTRL_C_AS_WORKERS_START = """
import os, signal, sys, time
import distributed
from xunfang.serve import cli_plan_all

real = distributed.LocalCluster

def cluster_with_ctrl_c(*args, **kwargs):
    cluster = real(*args, **kwargs)
    for w in cluster.workers.values():
        status = open(f"/proc/{w.process.pid}/status").read()
        print("worker SigBlk", status.split("SigBlk:")[1].split()[0], flush=True)
    os.killpg(os.getpgrp(), signal.SIGINT)  # Ctrl-C in the terminal, workers starting
    time.sleep(0.5)
    return cluster

if __name__ == "__main__":
    distributed.LocalCluster = cluster_with_ctrl_c
    try:
        with cli_plan_all.dask_client(None, 1):
            print("ran", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_a_ctrl_c_while_the_local_workers_start_is_held_and_raised(tmp_path: Path) -> None:
    # found by a new-user test: Ctrl-C did nothing for the ~2 s the workers took to start
    # (SIGINT was ignored then); now it is held back and raised once the cluster is up
    script = tmp_path / "ctrl_c.py"
    script.write_text(_CTRL_C_AS_WORKERS_START, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # the worker has SIGINT blocked (bit 2 of the mask): the Ctrl-C never reaches it
    assert proc.stdout.splitlines() == ["worker SigBlk 0000000000000002", "interrupted"]
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
