"""The city deployment's totals are the sums of the districts' own figures; a city plan
folder is read back (synthetic figures and folders made here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xunfang.errors import DataFileError
from xunfang.plan.city_deploy import DeploySummary, city_plan_folders, deploy_totals
from xunfang.plan.city_plan import AreaJob, largest_first, map_areas, write_summary_tables


def _row(area: str, booths: int, hours: float, risk: float, covered: float) -> DeploySummary:
    return DeploySummary(
        area=area,
        booths=booths,
        routes=2 * booths,
        blocks=84,
        person_times=hours / 8,
        officer_hours=hours,
        patrol_hours=hours / 4,
        vehicle_hours=hours / 10,
        risk=risk,
        covered_risk=covered,
        covered_share=covered / risk,
        wall_time_s=5.0,
        cpu_time_s=4.0,
    )


def test_deploy_totals_are_sums_of_district_figures(tmp_path: Path) -> None:
    # district:1: 5 booths, 800 officer-h, risk 40 of which 30 covered;
    # district:2: 3 booths, 400 officer-h, risk 60 of which 15 covered
    rows = [_row("district:1", 5, 800.0, 40.0, 30.0), _row("district:2", 3, 400.0, 60.0, 15.0)]
    t = deploy_totals(rows)
    assert t["districts"] == 2
    assert t["booths"] == 8 and t["routes"] == 16 and t["blocks"] == 168
    assert t["officer_hours"] == 1200.0
    assert t["person_times"] == 150.0  # 100 + 50
    assert t["patrol_hours"] == 300.0 and t["vehicle_hours"] == 120.0
    assert t["risk"] == 100.0 and t["covered_risk"] == 45.0
    # the city share is 45 / 100, not the mean of 75 % and 25 %
    assert t["covered_share"] == pytest.approx(0.45)
    assert t["wall_time_s_sum"] == 10.0 and t["cpu_time_s_sum"] == 8.0
    written = write_summary_tables([r.to_dict() for r in rows], t, tmp_path, "city_deploy_summary")
    payload = json.loads(written["city_deploy_summary.json"].read_text())
    assert payload["totals"]["officer_hours"] == 1200.0
    assert [d["area"] for d in payload["districts"]] == ["district:1", "district:2"]


def test_city_plan_folders_reads_the_summary_and_checks_every_folder(tmp_path: Path) -> None:
    summary = {"totals": {}, "districts": [{"area": "district:1"}, {"area": "district:10"}]}
    (tmp_path / "city_summary.json").write_text(json.dumps(summary))
    for name in ("district_1", "district_10"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "plan_summary.json").write_text("{}")
    folders = city_plan_folders(tmp_path)
    assert folders == {
        "district:1": tmp_path / "district_1",
        "district:10": tmp_path / "district_10",
    }
    (tmp_path / "district_10" / "plan_summary.json").unlink()
    with pytest.raises(DataFileError, match="district_10"):
        city_plan_folders(tmp_path)
    with pytest.raises(DataFileError, match="plan --area district:all"):
        city_plan_folders(tmp_path / "district_1")


def _task(x: int, scale: int, extra: int) -> tuple[str, int]:
    return f"full {x}", x * scale + extra


def test_map_areas_in_process_passes_args_shared_and_data_in_order() -> None:
    made: list[str] = []

    def data(v: int) -> tuple[int]:
        made.append(f"data {v}")
        return (v,)

    seen: list[tuple[str, int]] = []
    jobs = [AreaJob("a", (1,), lambda: data(100)), AreaJob("b", (2,), lambda: data(200))]
    out = map_areas(
        _task, jobs, shared=(10,), on_start=made.append, on_done=lambda f, s: seen.append((f, s))
    )
    # fn(*args, *shared, *data): 1 * 10 + 100, 2 * 10 + 200; the data made just before each task
    assert out == {"a": 110, "b": 220}
    assert made == ["a", "data 100", "b", "data 200"]
    assert seen == [("full 1", 110), ("full 2", 220)]


def test_largest_first_orders_by_size_ties_in_given_order() -> None:
    jobs = [
        AreaJob("d1", (), size=4109.0),
        AreaJob("d8", (), size=10256.0),
        AreaJob("d10", (), size=4276.0),
        AreaJob("d11", (), size=4276.0),
    ]
    assert [j.area for j in largest_first(jobs)] == ["d8", "d10", "d11", "d1"]


def test_map_areas_on_a_cluster_starts_the_largest_job_first_on_a_free_thread() -> None:
    from distributed import Client, LocalCluster

    jobs = [
        AreaJob("small", (1,), lambda: (100,), size=10.0),
        AreaJob("big", (2,), lambda: (200,), size=500.0),
        AreaJob("mid", (3,), lambda: (300,), size=80.0),
    ]
    started: list[str] = []
    seen: list[str] = []
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        out = map_areas(
            _task,
            jobs,
            shared=(10,),
            client=client,
            on_start=started.append,
            on_done=lambda f, s: seen.append(f),
        )
    # one thread: each job is submitted when the one before is done, largest first
    assert started == ["big", "mid", "small"]
    assert seen == ["full 2", "full 3", "full 1"]
    # fn(*args, *shared, *data): 2 * 10 + 200, 3 * 10 + 300, 1 * 10 + 100
    assert out == {"big": 220, "mid": 330, "small": 110}
