"""The city plan: totals are sums of the districts' own figures; a cluster gives the same plans."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.ingest.city import default_city
from xunfang.ingest.incidents import ingest
from xunfang.plan.booth_plan import PlanConfig
from xunfang.plan.city_plan import (
    DistrictSummary,
    city_totals,
    district_areas,
    plan_city,
    write_city_summary,
)


def _summary(
    area: str, incidents: int, booths: int, before: float, after: float
) -> DistrictSummary:
    # synthetic figures: weight = incidents, 1 station each
    return DistrictSummary(
        area=area,
        incidents=incidents,
        demand_weight=float(incidents),
        stations=1,
        booths=booths,
        covered_before=before,
        covered_after=after,
        share_before=before / incidents,
        share_after=after / incidents,
        mean_before_s=100.0,
        mean_after_s=50.0,
        gain_per_booth=(after - before) / booths,
        mclp_status="optimal",
        pmedian_status="optimal" if area.endswith("1") else "time_limit",
        pmedian_proven=area.endswith("1"),
        pmedian_gap=0.0 if area.endswith("1") else 0.002,
        pmedian_objective=1000.0,
        pmedian_bound=998.0,
        pmedian_time_s=1.0,
        wall_time_s=10.0,
        peak_rss_mib=700.0,
        lon=-87.6,
        lat=41.9,
    )


def test_city_totals_are_sums_of_district_figures(tmp_path: Path) -> None:
    # district:1: 100 incidents, 2 booths, 40 -> 70 covered; district:2: 300, 3 booths, 90 -> 210
    s = [_summary("district:1", 100, 2, 40.0, 70.0), _summary("district:2", 300, 3, 90.0, 210.0)]
    t = city_totals(s)
    assert t["districts"] == 2
    assert t["incidents"] == 400
    assert t["stations"] == 2
    assert t["booths"] == 5
    assert t["covered_before"] == 130.0
    assert t["covered_after"] == 280.0
    assert t["share_before"] == pytest.approx(130 / 400)
    assert t["share_after"] == pytest.approx(280 / 400)
    assert t["gain_per_booth"] == pytest.approx(150 / 5)  # (280 - 130) / 5 booths
    assert t["pmedian_proven"] == 1
    assert t["pmedian_within_gap"] == 1  # district:2 stopped at its time limit
    assert (
        city_totals([s[0], dataclasses.replace(s[1], pmedian_status="within_gap")])[
            "pmedian_within_gap"
        ]
        == 2
    )
    assert t["pmedian_max_gap"] == 0.002
    written = write_city_summary(s, tmp_path)
    payload = json.loads(written["city_summary.json"].read_text())
    assert payload["totals"]["booths"] == 5
    assert [d["area"] for d in payload["districts"]] == ["district:1", "district:2"]
    assert written["city_summary.csv"].read_text().count("\n") == 3  # header + 2 rows


def test_district_areas_lists_every_district(data_dir: Path) -> None:
    areas = district_areas(Settings(data_dir=data_dir), "district:all")
    assert len(areas) == 22  # Chicago's 22 police districts (chicago/boundaries)
    assert areas[0] == "district:1"
    assert district_areas(Settings(data_dir=data_dir), "community:LOOP, NEAR_SOUTH_SIDE") == [
        "community:LOOP",
        "community:NEAR_SOUTH_SIDE",
    ]
    # the kind repeated in the list is accepted; an unknown name is refused at once, listing
    # the names there are (a new user waited two minutes for the city network first)
    assert district_areas(Settings(data_dir=data_dir), "district:1,district:18") == [
        "district:1",
        "district:18",
    ]
    with pytest.raises(ValidationError, match=r"no district named 13, 99; the district layer has"):
        district_areas(Settings(data_dir=data_dir), "district:1,13,99")


def _start_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A dask scheduler and two single-thread worker processes on random 127.0.0.1 ports."""
    sched_file = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [
        subprocess.Popen(
            [
                *dask,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    deadline = time.monotonic() + 60
    while not sched_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(sched_file.read_text())["address"]
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ},
            )
        )
    return address, procs


@pytest.mark.realdata
def test_city_plan_on_a_cluster_equals_in_process(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask
    from distributed import Client

    files = tuple(sorted((data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))[:1])
    table, _, _ = ingest(files, "chicago")
    settings = Settings(data_dir=data_dir)
    base = PlanConfig(area="-", booths=4, threshold_min=1.0, time_limit_s=120.0)
    areas = ["community:LOOP", "community:NEAR_SOUTH_SIDE"]
    # the two areas' networks are cut from one larger network (as from the city's), and
    # only each area's cut is shipped to its worker
    city = default_city(data_dir)
    both = city.road_network(
        city.study_area("community:LOOP,NEAR_SOUTH_SIDE"), cache_dir=settings.cache_dir
    )
    local_plans = {}
    here = plan_city(
        base,
        areas,
        settings,
        table,
        city_network=both,
        on_done=lambda p, s: local_plans.update({p.config.area: p}),
    )
    for name in ("CONNECT", "TCP"):  # the scheduler and workers started below too
        monkeypatch.setenv(f"DASK_DISTRIBUTED__COMM__TIMEOUTS__{name}", "180s")
    address, procs = _start_cluster(tmp_path)
    try:
        remote_plans = {}
        # a machine loaded by other jobs answers slowly: wider comm timeouts than dask's 30 s
        with (
            dask.config.set(
                {
                    "distributed.comm.timeouts.connect": "180s",
                    "distributed.comm.timeouts.tcp": "180s",
                }
            ),
            Client(address, timeout=60) as client,
        ):
            client.wait_for_workers(2, timeout=120)
            there = plan_city(
                base,
                areas,
                settings,
                table,
                client=client,
                city_network=both,
                on_done=lambda p, s: remote_plans.update({p.config.area: p}),
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    timing = {"wall_time_s", "cpu_time_s", "peak_rss_mib", "pmedian_time_s"}

    def figures(s: DistrictSummary) -> dict[str, object]:
        # nan (no station in the area: no "before" mean) compared as a string
        return {
            k: "nan" if isinstance(v, float) and math.isnan(v) else v
            for k, v in s.to_dict().items()
            if k not in timing
        }

    for a, b in zip(here, there, strict=True):
        assert figures(a) == figures(b)
    for area in areas:
        lp, rp = local_plans[area], remote_plans[area]
        assert "Cut from a larger network" in lp.network.report.notes[-1]
        np.testing.assert_array_equal(lp.network.node_ids, rp.network.node_ids)
        assert lp.mclp.selected.tolist() == rp.mclp.selected.tolist()
        assert lp.pmedian is not None and rp.pmedian is not None
        assert lp.pmedian.selected.tolist() == rp.pmedian.selected.tolist()
        assert lp.sites["name"].tolist() == rp.sites["name"].tolist()
    # the city totals are the sums of the districts' own plans
    t = city_totals(here)
    assert t["incidents"] == sum(len(p.incidents) for p in local_plans.values())
    thr = 60.0
    assert t["covered_after"] == pytest.approx(
        sum(
            float(p.demand["weight"][p.demand["tt_plan_s"] <= thr].sum())
            for p in local_plans.values()
        )
    )
    assert t["booths"] == sum(int((p.sites["kind"] == "booth").sum()) for p in local_plans.values())
    assert not math.isnan(t["share_after"]) and np.isfinite(t["covered_before"])


def test_city_report_says_proven_optimal_or_within_the_gap_with_its_bound() -> None:
    import dataclasses

    import shapely

    from xunfang.serve.city_report import render_city_html

    proven = _summary("district:1", 100, 2, 40.0, 70.0)
    # stopped at --pmedian-gap 0.001: gap (1000 - 999.2) / 1000 = 0.080 %
    within = dataclasses.replace(
        _summary("district:2", 300, 3, 90.0, 210.0),
        pmedian_status="within_gap",
        pmedian_gap=0.0008,
        pmedian_bound=999.2,
    )
    late = _summary("district:3", 200, 3, 90.0, 150.0)  # time limit, gap 0.2 %, bound 998
    box = shapely.box(-87.7, 41.8, -87.6, 41.9)
    page = render_city_html([proven, within, late], {s.area: box for s in (proven, within, late)})
    assert "<td>proven optimal</td>" in page
    assert "within 0.080% of its bound 999" in page
    assert "time_limit, gap 0.200% (bound 998)" in page


def test_plan_cli_passes_the_output_frame_to_the_city_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plan --area area:all --output-frame gcj02`` plans every polygon with the files in
    GCJ-02 (the city run once wrote WGS-84 whatever the option said); the run itself is
    checked on the example city in tests/serve/test_city_reports.py."""
    from typer.testing import CliRunner

    import xunfang.serve.cli_plan_all as plan_all
    from xunfang.serve.cli import app

    seen: dict[str, object] = {}

    def fake_run(*args: object, **kwargs: object) -> None:
        seen.update(kwargs, areas=args[1])
        raise ValidationError("stopped here by the test")

    monkeypatch.setattr(plan_all, "run_city_plan", fake_run)
    example = Path(__file__).parents[2] / "examples" / "shanghai" / "city.toml"
    res = CliRunner().invoke(
        app,
        [
            "plan", "--city", str(example), "--area", "area:all", "--output-frame", "gcj02",
            "--workers", "0", "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert "stopped here by the test" in res.output
    assert seen["areas"] == "area:all" and seen["output_frame"] == "gcj02"


def test_every_polygon_of_a_boundary_file(tmp_path: Path) -> None:
    """``--boundary FILE``'s layer is ``boundary``: ``boundary:all`` and ``all`` list its
    polygons; ``area:all`` (the tester's first guess) is refused naming the forms that work."""
    from typer.testing import CliRunner

    from xunfang.errors import AreaNotFoundError
    from xunfang.serve.cli import app
    from xunfang.serve.cli_city import city_from_options

    boundary = Path(__file__).parents[2] / "examples" / "shanghai" / "boundary_gcj02.geojson"
    city = city_from_options(boundary=boundary, frame="gcj02", data_dir=tmp_path)
    settings = Settings(data_dir=tmp_path)
    both = ["boundary:东片", "boundary:西片"]
    assert district_areas(settings, "boundary:all", city) == both
    assert district_areas(settings, "all", city) == both
    with pytest.raises(AreaNotFoundError, match=r"layers: boundary \(e\.g\. --area boundary:NAME"):
        district_areas(settings, "area:all", city)
    res = CliRunner().invoke(
        app,
        ["plan", "--boundary", str(boundary), "--frame", "gcj02", "--area", "area:all",
         "--workers", "0", "--lang", "zh", "--data-dir", str(tmp_path),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert res.exit_code != 0
    text = "".join(res.output.split())
    want = "可用图层：boundary（如--areaboundary:名称规划其中一个多边形，--areaboundary:all"
    assert want in text


def test_incidents_in_no_area_counts_those_outside_every_polygon(tmp_path: Path) -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from xunfang.ingest.city import BoundaryLayer, City
    from xunfang.ingest.incidents import IncidentTable
    from xunfang.plan.city_plan import NO_AREA_ROW, incidents_in_no_area

    # two 1 km squares side by side in UTM 51N (Shanghai), west [0, 1000] and east
    # [1000, 2000] m east of X0; incidents: 2 in west, 1 in east, 2 north of both
    x0, y0, utm = 350_000.0, 3_456_000.0, "EPSG:32651"
    squares = gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
        crs=utm,
    )
    path = tmp_path / "b.geojson"
    squares.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    city = City(name="b", boundaries=(BoundaryLayer("boundary", path),), source="options")
    xs = [x0 + 100, x0 + 900, x0 + 1500, x0 + 500, x0 + 1500]
    ys = [y0 + 500, y0 + 500, y0 + 500, y0 + 1500, y0 + 2500]
    frame = pd.DataFrame({"x_m": xs, "y_m": ys})
    incidents = IncidentTable(frame, utm, "Asia/Shanghai")
    areas = ["boundary:west", "boundary:east"]
    assert incidents_in_no_area(incidents, city, areas, crs=utm) == 2
    assert incidents_in_no_area(incidents, city, areas[:1], crs=utm) == 3  # east's one too
    # the totals, the JSON and a CSV row say it
    s = [_summary("boundary:west", 2, 1, 1.0, 2.0), _summary("boundary:east", 1, 1, 0.0, 1.0)]
    t = city_totals(s, incidents_total=5, incidents_in_no_area=2)
    assert (t["incidents"], t["incidents_total"], t["incidents_in_no_area"]) == (3, 5, 2)
    written = write_city_summary(s, tmp_path, incidents_total=5, incidents_in_no_area=2)
    payload = json.loads(written["city_summary.json"].read_text())
    assert payload["totals"]["incidents_in_no_area"] == 2
    assert [d["area"] for d in payload["districts"]] == ["boundary:west", "boundary:east"]
    table = pd.read_csv(written["city_summary.csv"])
    assert table["area"].tolist() == ["boundary:west", "boundary:east", NO_AREA_ROW]
    assert table["incidents"].tolist() == [2, 1, 2]
    from xunfang.serve.city_report import render_city_html

    polygons = dict(zip(areas, squares.to_crs("EPSG:4326").geometry, strict=True))
    counts = {"incidents_total": 5, "incidents_in_no_area": 2}
    en = render_city_html(s, polygons, "en", counts=counts)
    assert "Incidents in no district: 2 of the 5 ingested" in en
    zh = render_city_html(s, polygons, "zh", counts=counts)
    assert "导入的 5 起中有 2 起不在任何辖区范围内" in zh


def test_city_report_pmedian_sentence_adds_up() -> None:
    from shapely.geometry import box

    from xunfang.serve.city_report import render_city_html

    # district:1 proven optimal; district:2 stopped within its stopping gap: 1 + 1 more of 2
    s = [
        _summary("district:1", 100, 2, 40.0, 70.0),
        dataclasses.replace(
            _summary("district:2", 300, 3, 90.0, 210.0), pmedian_status="within_gap"
        ),
    ]
    assert city_totals(s)["pmedian_within_gap"] == 2  # the field counts the proven one too
    polygons = {
        "district:1": box(-87.7, 41.8, -87.6, 41.9),
        "district:2": box(-87.6, 41.8, -87.5, 41.9),
    }
    en = render_city_html(s, polygons, "en")
    assert "p-median proven optimal in 1 of 2 districts, 1 more within its stopping gap" in en
    zh = render_city_html(s, polygons, "zh")
    assert "p-中位模型在 2 个辖区中有 1 个证明最优，另有 1 个在停止间隙内" in zh


def test_city_summary_lon_lat_are_in_the_output_frame(tmp_path: Path) -> None:
    import pandas as pd

    from xunfang.ingest.coords import wgs84_to_gcj02

    # a district point in central Shanghai (WGS-84), where GCJ-02 adds about +0.0045 deg of
    # longitude and -0.002 deg of latitude
    s = [dataclasses.replace(_summary("boundary:a", 100, 2, 40.0, 70.0), lon=121.48, lat=31.23)]
    written = write_city_summary(s, tmp_path, output_frame="gcj02")
    row = pd.read_csv(written["city_summary.csv"]).iloc[0]
    lon, lat = wgs84_to_gcj02([121.48], [31.23])
    assert row["coord_frame"] == "gcj02"
    assert (row["lon"], row["lat"]) == pytest.approx((float(lon[0]), float(lat[0])), abs=1e-9)
    assert 0.004 < row["lon"] - 121.48 < 0.005 and -0.003 < row["lat"] - 31.23 < -0.001
    doc = json.loads(written["city_summary.json"].read_text())
    assert doc["districts"][0]["coord_frame"] == "gcj02"
    assert doc["districts"][0]["lon"] == pytest.approx(row["lon"], abs=1e-12)
    wgs = pd.read_csv(write_city_summary(s, tmp_path / "w")["city_summary.csv"]).iloc[0]
    assert (wgs["lon"], wgs["lat"], wgs["coord_frame"]) == (121.48, 31.23, "wgs84")


def test_earlier_run_folders_are_the_previous_runs_districts_this_run_does_not_write(
    tmp_path: Path,
) -> None:
    from xunfang.plan.city_plan import earlier_run_folders

    assert earlier_run_folders(tmp_path / "new", "city_summary", []) == []
    # synthetic: an earlier city plan of districts 1, 2 and 7 (7 failed, its folder empty)
    (tmp_path / "city_summary.json").write_text(
        json.dumps(
            {
                "districts": [{"area": "district:1"}, {"area": "district:2"}],
                "failed": [{"area": "district:7", "reason": "no incidents"}],
            }
        ),
        encoding="utf-8",
    )
    for name in ("district_1", "district_2", "district_7", "photos"):
        (tmp_path / name).mkdir()
    (tmp_path / "district_2" / "plan_summary.json").write_text("{}", encoding="utf-8")
    # a district folder no summary names (an older run still) counts by its files
    (tmp_path / "district_9").mkdir()
    (tmp_path / "district_9" / "report.html").write_text("", encoding="utf-8")
    # this run writes district_1 only: the others are the earlier run's; photos is not
    assert earlier_run_folders(tmp_path, "city_summary", ["district_1"]) == [
        "district_2",
        "district_7",
        "district_9",
    ]
    # another command's summary names none of them: only the files tell
    assert earlier_run_folders(tmp_path, "city_deploy_summary", ["district_1"]) == [
        "district_2",
        "district_9",
    ]
