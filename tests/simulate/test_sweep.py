"""Sweeps run on dask.distributed (a LocalCluster with threads here, to stay fast)."""

from __future__ import annotations

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
            task=fake_task,
        )
    assert frame.to_dict("records") == [
        {"booths": 3, "officers_per_booth": 1, "response_median_min": 2.5}
    ]
