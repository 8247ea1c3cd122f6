"""Sweeps run on dask.distributed: a LocalCluster with threads (fast), and a scheduler with
two worker processes started by the test."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.simulate.scenario import Scenario
from xunfang.simulate.sweep import parse_range, run_sweep
from xunfang.simulate.tables import validate_model


def fake_task(
    scenario_raw: dict[str, Any],
    settings_raw: dict[str, Any],
    booths: int,
    officers: list[int],
    plan_incidents: str | None,
) -> list[dict[str, float]]:
    """Stands in for the plan + simulation: checks what each task receives."""
    assert scenario_raw["scenario"]["area"] == "community:LOOP"
    assert plan_incidents == "training.parquet"
    return [
        {"booths": booths, "officers_per_booth": n, "response_median_min": 10.0 / (1 + booths * n)}
        for n in officers
    ]


def test_parse_range() -> None:
    assert parse_range("5:40:5", "--booths") == [5, 10, 15, 20, 25, 30, 35, 40]
    assert parse_range("1:3", "--officers") == [1, 2, 3]
    assert parse_range("0,4,8", "--booths") == [0, 4, 8]
    with pytest.raises(ValidationError, match="--booths must be START:STOP"):
        parse_range("40:5", "--booths")
    with pytest.raises(ValidationError, match="--officers must be START:STOP"):
        parse_range("a", "--officers")


def test_sweep_runs_every_point_on_a_local_cluster(tmp_path: Path) -> None:
    base = validate_model(
        Scenario, {"scenario": {"area": "community:LOOP", "month": "2015-06"}}, "test"
    )
    seen: list[tuple[int, int, str]] = []
    frame = run_sweep(
        base,
        Settings(data_dir=tmp_path, cache_dir=tmp_path),
        [10, 5],
        [1, 2],
        out_dir=tmp_path,
        workers=2,
        processes=False,
        plan_incidents=Path("training.parquet"),
        ship_inputs=False,  # a path every worker sees (no file here: the fake task)
        task=fake_task,
        on_done=lambda done, total, label: seen.append((done, total, label)),
    )
    assert frame[["booths", "officers_per_booth"]].values.tolist() == [
        [5, 1],
        [5, 2],
        [10, 1],
        [10, 2],
    ]
    assert frame["response_median_min"].tolist() == pytest.approx(
        [10 / 6, 10 / 11, 10 / 11, 10 / 21]
    )
    assert sorted(s[0] for s in seen) == [1, 2] and {s[1] for s in seen} == {2}
    assert {s[2] for s in seen} == {"K=5", "K=10"}


def test_sweep_on_an_existing_scheduler(tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    base = validate_model(
        Scenario, {"scenario": {"area": "community:LOOP", "month": "2015-06"}}, "test"
    )
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        frame = run_sweep(
            base,
            Settings(data_dir=tmp_path, cache_dir=tmp_path),
            [3],
            [1],
            out_dir=tmp_path,
            scheduler=cluster.scheduler_address,
            plan_incidents=Path("training.parquet"),
            ship_inputs=False,
            task=fake_task,
        )
    assert frame.to_dict("records") == [
        {"booths": 3, "officers_per_booth": 1, "response_median_min": 2.5}
    ]


# ---------------------------------------------------------------- a real cluster
# A scheduler and two worker processes started by the `dask_processes` fixture
# (tests/conftest.py): what a task needs must reach them through the sweep.


def make_probe() -> Any:
    """A task standing in for the plan + simulation that reports what a worker was given.

    A local function: pickled by value (cloudpickle), since the workers cannot import this
    test module.
    """

    def probe(
        scenario_raw: dict[str, Any],
        settings_raw: dict[str, Any],
        booths: int,
        officers: list[int],
        plan_incidents: str | None,
    ) -> list[dict[str, Any]]:
        from dask.distributed import get_worker

        time.sleep(0.5)  # long enough for both workers to get tasks
        assert plan_incidents is not None
        data = Path(plan_incidents).read_bytes()
        return [
            {
                "booths": booths,
                "officers_per_booth": n,
                "worker": get_worker().address,
                "pid": os.getpid(),
                "area": scenario_raw["scenario"]["area"],
                "incidents_sha1": hashlib.sha1(data).hexdigest(),
                "incidents_path": plan_incidents,
                "settings": json.dumps(settings_raw, sort_keys=True),
            }
            for n in officers
        ]

    return probe


def test_sweep_on_a_scheduler_and_two_worker_processes(tmp_path: Path, dask_processes: str) -> None:
    training = tmp_path / "client" / "training.parquet"
    training.parent.mkdir()
    training.write_bytes(b"PAR1 synthetic bytes standing in for a Parquet file PAR1")
    base = validate_model(
        Scenario, {"scenario": {"area": "community:LOOP", "month": "2015-06"}}, "test"
    )
    frame = run_sweep(
        base,
        Settings(data_dir=tmp_path / "client-data", cache_dir=tmp_path / "client-cache"),
        [4, 1, 3, 2],
        [1, 2],
        out_dir=tmp_path,
        scheduler=dask_processes,
        plan_incidents=training,
        worker_data_dir="/srv/shared/xunfang-data",
        task=make_probe(),
    )
    assert frame[["booths", "officers_per_booth"]].values.tolist() == [
        [k, n] for k in (1, 2, 3, 4) for n in (1, 2)
    ]
    # both workers worked, in processes other than this one
    assert frame["worker"].nunique() == 2 and os.getpid() not in set(frame["pid"])
    assert set(frame["area"]) == {"community:LOOP"}
    # the training file was shipped: the same bytes, in each worker's own temporary folder
    assert set(frame["incidents_sha1"]) == {hashlib.sha1(training.read_bytes()).hexdigest()}
    assert all(
        p.startswith(str(tmp_path / "cluster" / "xunfang-sweep")) for p in frame["incidents_path"]
    )
    # the data are read from the stated shared path; caches stay the workers' own
    assert set(frame["settings"]) == {json.dumps({"data_dir": "/srv/shared/xunfang-data"})}


@pytest.mark.realdata
def test_a_real_sweep_on_the_cluster_equals_the_one_made_here(
    tmp_path: Path, dask_processes: str, data_dir: Path
) -> None:
    # the real task (booth plan by MCLP + simulation) on the LOOP, K = 3 booths, one
    # replication: the workers get the scenario and the training incidents (May 2015) from
    # the client and read the public data from the stated path; the figures equal those
    # of the same task run in this process
    from xunfang.ingest.incidents import ingest
    from xunfang.simulate.sweep import SWEEP_FIGURES, sweep_task

    may = data_dir / "chicago/incidents_2014_2015/chicago_crimes_2015-05.csv.gz"
    table, _rejected, _report = ingest([may], "chicago")
    training = tmp_path / "training_may.parquet"
    table.write_parquet(training)
    raw = {
        "scenario": {
            "area": "community:LOOP",
            "month": "2015-06",
            "replications": 1,
            "seed": 3,
            "compare": ["stations", "booths"],
        },
        "calls": {"training_months": 1},
        "units": {"station_car": {"per_station": 2}},
    }
    base = validate_model(Scenario, raw, "test")
    client_settings = Settings(data_dir=data_dir, cache_dir=tmp_path / "client-cache")
    on_cluster = run_sweep(
        base,
        client_settings,
        [3],
        [1],
        out_dir=tmp_path,
        scheduler=dask_processes,
        plan_incidents=training,
    )
    here = sweep_task(
        base.model_dump(),
        {"data_dir": str(data_dir), "cache_dir": str(tmp_path / "here-cache")},
        3,
        [1],
        str(training),
    )
    assert len(on_cluster) == 1 and len(here) == 1
    row = on_cluster.iloc[0]
    assert row["units"] == here[0]["units"] and row["units"] >= 3
    assert row["calls_per_replication"] == here[0]["calls_per_replication"] > 100
    for key in SWEEP_FIGURES:
        assert row[key] == pytest.approx(here[0][key], rel=0, abs=0, nan_ok=True), key
