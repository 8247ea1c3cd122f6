"""The main job end to end on a small real area (the Loop), and its outputs."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError
from xunfang.plan.booth_plan import PlanConfig, make_booth_plan, ring_stats
from xunfang.serve.cli import app
from xunfang.serve.report import render_html, write_plan


def test_ring_stats_by_hand() -> None:
    # four demand points: 30 s (w 1), 120 s (w 2), 240 s (w 1), unreachable (w 1)
    r = ring_stats(
        "x", 3, np.array([30.0, 120.0, 240.0, np.inf]), np.array([1.0, 2, 1, 1]), threshold_s=150.0
    )
    assert r.share_within == {1: 0.2, 3: 0.6, 5: 0.8}
    assert r.share_within_threshold == 0.6  # 2.5 min: the 30 s and 120 s points
    assert r.mean_s == pytest.approx((30 + 240 + 240) / 4)  # 30*1 + 120*2 + 240*1 over w=4
    assert r.p90_s == 240.0  # inverted CDF: cumulative weights 1, 3, 4 of 4 -> 3.6 reached at 240
    assert r.unreachable == 1


def _no_nan(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@pytest.fixture(scope="module")
def loop_plan(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("loop")
    station = tmp / "fixed.csv"
    # an existing post at State and Madison, in the Loop
    station.write_text("name,lat,lon\nState and Madison,41.8819,-87.6278\n")
    files = tuple(sorted((data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))[:3])
    config = PlanConfig(
        area="community:LOOP",
        booths=5,
        threshold_min=1.0,
        incident_files=files,
        fixed_sites=station,
        time_limit_s=30.0,
    )
    plan = make_booth_plan(config, Settings(data_dir=data_dir))
    return plan, files, tmp


@pytest.mark.realdata
def test_loop_plan_figures(loop_plan) -> None:  # type: ignore[no-untyped-def]
    plan, files, _ = loop_plan
    # the point-in-polygon count agrees with the source's own community-area field (32 = LOOP)
    raw = pd.concat(
        [pd.read_csv(f, dtype=str, usecols=["Community Area", "Latitude"]) for f in files]
    )
    by_field = int(((raw["Community Area"] == "32") & raw["Latitude"].notna()).sum())
    assert abs(len(plan.incidents) - by_field) / by_field < 0.03
    # the weights of the demand are the incidents
    assert plan.demand["weight"].sum() == len(plan.incidents)
    assert (plan.sites["kind"] == "booth").sum() == 5
    assert list(plan.sites.loc[plan.sites["kind"] == "station", "name"]) == ["State and Madison"]
    stations, mclp_ring = plan.rings[0], plan.rings[1]
    # MCLP's own covered share is the 1-minute figure of its layout
    assert mclp_ring.share_within[1] == pytest.approx(plan.mclp.covered_weight_share)
    assert mclp_ring.share_within[1] > stations.share_within[1]
    assert mclp_ring.mean_s < stations.mean_s
    # the p-median minimises the mean: never worse than MCLP's layout by more than the gap
    assert plan.pmedian is not None
    assert (
        plan.pmedian.mean_travel_time_s
        <= plan.mclp.mean_travel_time_s * (1 + plan.pmedian.mip_gap) + 1e-6
    )
    assert plan.network.report.one_way_known is False


@pytest.mark.realdata
def test_loop_plan_outputs(loop_plan) -> None:  # type: ignore[no-untyped-def]
    plan, _, tmp = loop_plan
    written = write_plan(plan, tmp / "out", lang="zh")
    assert {
        "report.html",
        "sites.geojson",
        "sites.csv",
        "hotspots.geojson",
        "hotspots.csv",
        "coverage.geojson",
        "coverage.csv",
        "plan_summary.json",
        "ingest_report.json",
    } <= set(written)
    html = written["report.html"].read_text(encoding="utf-8")
    assert "岗亭布设方案" in html and "OpenStreetMap contributors" in html
    assert re.search(r"<script[^>]*\ssrc=", html) is None  # self-contained: no external script
    summary = json.loads(written["plan_summary.json"].read_text())
    assert summary["incidents_in_area"] == len(plan.incidents)
    assert [r["sites"] for r in summary["rings"]] == [1, 6, 6]
    assert summary["rings"][1]["share_within_threshold"] == pytest.approx(
        plan.mclp.covered_weight_share, abs=1e-4
    )
    json.loads(written["plan_summary.json"].read_text(), parse_constant=_no_nan)  # strict JSON
    assert written["sites.csv"].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    for name in ("sites.csv", "hotspots.csv", "coverage.csv"):  # each CSV names its frame
        assert set(pd.read_csv(written[name], encoding="utf-8-sig")["coord_frame"]) == {"wgs84"}
    lo, hi = summary["incident_period"]
    first = plan.incidents.frame["occurred_at"].min().tz_convert(plan.incidents.timezone)
    assert lo == f"{first:%Y-%m-%d}" and lo <= hi
    sites = json.loads(written["sites.geojson"].read_text())
    assert len(sites["features"]) == 6
    lon, lat = sites["features"][0]["geometry"]["coordinates"]
    assert -87.7 < lon < -87.6 and 41.8 < lat < 41.9  # WGS-84 at the edges
    assert "Booth plan" in render_html(plan, "en")


@pytest.mark.realdata
def test_cli_plan_and_errors(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["plan", "--area", "district:99", "--data-dir", str(data_dir), "--out", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "no district named 99" in res.output
    res = runner.invoke(
        app,
        [
            "plan",
            "--area",
            "district:1",
            "--booths",
            "-1",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "--booths must be >= 0" in res.output


def test_cli_ingest_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "nope.csv: file not found" in res.output


@pytest.mark.realdata
def test_forecast_as_demand_weights(loop_plan, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    plan, files, tmp = loop_plan
    config = PlanConfig(
        area="community:LOOP",
        booths=5,
        threshold_min=1.0,
        incident_files=files,
        fixed_sites=tmp / "fixed.csv",
        time_limit_s=30.0,
        forecast="naive:period_days=28",
        forecast_window="week",
    )
    fc = make_booth_plan(config, Settings(data_dir=data_dir))
    assert fc.forecast_note is not None and "naive:period_days=28" in fc.forecast_note
    # the same incidents, re-weighted: the total is the forecast's, not the count
    assert len(fc.incidents) == len(plan.incidents)
    assert fc.demand["weight"].sum() != pytest.approx(len(plan.incidents))
    # naive counts of the 28 days before the window, scaled to its 7 days: a quarter of the
    # last 28 days' incidents inside the grid (all of them are placed: they are incidents)
    last = fc.incidents.frame["occurred_at"].max()
    recent = (fc.incidents.frame["occurred_at"] > last.normalize() - pd.Timedelta(days=28)).sum()
    assert fc.demand["weight"].sum() == pytest.approx(recent / 4, rel=0.05)


@pytest.mark.realdata
def test_bad_sites_and_types_are_refused(loop_plan, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _, files, tmp = loop_plan
    swapped = tmp / "swapped.csv"
    swapped.write_text("name,lat,lon\nok,41.8825,-87.6290\nswapped,-87.6290,41.8825\n")
    base = {"area": "community:LOOP", "booths": 2, "incident_files": files[:1]}
    # row 3: the file's line (the header is line 1)
    with pytest.raises(DataFileError, match=r"swapped\.csv, row 3: site 'swapped'.*swapped"):
        make_booth_plan(PlanConfig(**base, fixed_sites=swapped), Settings(data_dir=data_dir))
    with pytest.raises(ValidationError, match=r"--types \['bogus'\] match no type group \["):
        make_booth_plan(PlanConfig(**base, types=("bogus",)), Settings(data_dir=data_dir))
    # a group of the taxonomy with no incident in the file is refused alike
    with pytest.raises(ValidationError, match=r"--types \['Service'\] match no type group"):
        make_booth_plan(PlanConfig(**base, types=("Service",)), Settings(data_dir=data_dir))


def test_pmedian_gap_option_is_checked() -> None:
    from xunfang.plan.booth_plan import PlanConfig

    assert PlanConfig().pmedian_gap == 1e-3  # 0.1 %: the answer states its bound
    PlanConfig(pmedian_gap=0.0).validate()
    for bad in (-0.01, 1.0, float("nan")):
        with pytest.raises(ValidationError, match=r"--pmedian-gap must be a share in \[0, 1\)"):
            PlanConfig(pmedian_gap=bad).validate()


@pytest.mark.realdata
def test_loop_plan_rendered_on_a_worker_writes_the_files_write_plan_writes(loop_plan) -> None:  # type: ignore[no-untyped-def]
    from xunfang.serve.cli_plan_all import render_district
    from xunfang.serve.report import write_plan_files

    plan, _, tmp = loop_plan
    direct = write_plan(plan, tmp / "direct")
    # the city run: the worker renders, the client writes the text into out/community_LOOP
    rendered = render_district(plan, tmp / "city", "en")
    written = write_plan_files(rendered.files, tmp / "city" / "community_LOOP")
    assert list(written) == list(direct)  # the same files, written in the same order
    for name, path in direct.items():
        if name != "report.html":  # (the report names its folder and the minute it was made)
            assert written[name].read_bytes() == path.read_bytes(), name
    assert rendered.polygon_wgs84.equals(plan.area.polygon_wgs84)
    # CPU seconds for every timed step, in plan_summary.json too
    summary = json.loads(direct["plan_summary.json"].read_text())
    assert list(summary["cpu_s"]) == list(plan.timings_s) == list(plan.cpu_s)
    assert summary["tradeoff"]["time_budget_s"] == 40.0


def test_network_honesty_figures_and_warnings_by_hand() -> None:
    """A tester's 豫园 plan said 99 % within 2 min on incidents a median 205 m from their
    road node, 35 % of the road file dropped by the largest-component rule, and no warning."""
    from types import SimpleNamespace

    from xunfang.ingest.road_network import NetworkReport
    from xunfang.plan.booth_plan import network_honesty, network_warnings

    report = NetworkReport(
        areas=("central_shanghai_drive.osm",),
        edges_read=796,
        edges_kept=793,
        edges_dropped_by_class={},
        stitch_links=0,
        stitch_threshold_m=0.0,
        nodes=409,
        nodes_left_out=0,  # the cut's own count: nothing more left out inside the polygon
        components_before=1,
        one_way_known=True,
        notes=(),
        length_left_out_km=31.56,
        scc_nodes_before=727,
        scc_nodes_left_out=318,
        scc_km_before=90.54,
    )
    plan = SimpleNamespace(
        snap_count=256,
        snap_far_count=81,
        snap_quantiles_m=(204.2, 323.8, 453.1),
        snap_median_m=204.2,
        network=SimpleNamespace(report=report),
    )
    h = network_honesty(plan)  # type: ignore[arg-type]
    assert h["snap"] == {
        "count": 256,
        "median_m": 204.2,
        "p90_m": 323.8,
        "max_m": 453.1,
        "far_m": 250.0,
        "far_count": 81,
        "far_share": 0.3164,  # 81 / 256
    }
    assert h["largest_component"]["share_km"] == 0.3486  # 31.56 / 90.54
    assert h["largest_component"]["share_nodes"] == 0.4374  # 318 / 727
    assert h["warnings"] == ["snap_far", "largest_component"]
    en, left = network_warnings(plan)  # type: ignore[arg-type]
    assert en.startswith("81 incidents (32 %) lie more than 250 m from the road node")
    assert "dropped 35 % of the road network (31.6 of 90.5 km, 318 of 727 nodes)" in left
    zh = network_warnings(plan, "zh")  # type: ignore[arg-type]
    assert zh[0].startswith("81 起警情（32 %）距其吸附的路网节点超过 250 米")
    assert "剔除了路网的 35 %（31.6 / 90.5 公里，318 / 727 个节点）" in zh[1]
    # 12 of 256 (4.7 %) far and 9 % of the road dropped: below both thresholds, no warning
    plan.snap_far_count = 12
    plan.network.report = dataclasses.replace(report, length_left_out_km=8.1, scc_nodes_left_out=60)
    assert network_honesty(plan)["warnings"] == []  # type: ignore[arg-type]
    assert network_warnings(plan) == []  # type: ignore[arg-type]
    # a city plan's district, cut from the city's network: the figures are the city's (a
    # tester saw every district report the city's 35 %), and the warning says so
    from xunfang.ingest.notes import Note

    cut_note = Note(
        "cut_network", big=727, name="豫园", inside=420, kept=409, left=11, pieces=600, km=50.0
    )
    plan.snap_far_count = 81
    plan.network.report = dataclasses.replace(report, notes=(cut_note,))
    h = network_honesty(plan)  # type: ignore[arg-type]
    assert h["largest_component"]["scope"] == "cut_from"
    left = network_warnings(plan)[1]  # type: ignore[arg-type]
    assert "dropped 35 % of the whole road network this area's is cut from" in left
    assert "this area's own share is not measured" in left
    assert "本区自身的比例未单独测算" in network_warnings(plan, "zh")[1]  # type: ignore[arg-type]
    plan.network.report = report
    assert network_honesty(plan)["largest_component"]["scope"] == "area"  # type: ignore[arg-type]


def test_a_plan_of_an_area_without_a_fixed_station_warns_of_no_24h_cover() -> None:
    """A tester's city simulation had 609 of 609 calls unserved under "stations only" in an
    area with no station, and the plan had said nothing (synthetic plan)."""
    from types import SimpleNamespace

    from xunfang.plan.booth_plan import plan_warnings

    plan = SimpleNamespace(
        area=SimpleNamespace(name="area:东片"),
        sites=pd.DataFrame({"kind": ["booth", "booth"]}),
        snap_count=0,
        network=SimpleNamespace(report=SimpleNamespace(largest_component_loss=lambda: None)),
        frame_check=None,
    )
    (en,) = plan_warnings(plan)  # type: ignore[arg-type]
    assert en.startswith("area:东片 has no fixed station in or near it: nothing covers it ")
    assert "around the clock (24 h)" in en and "--stations" in en
    # a frame finding (frame_check) is a warning too, in either language
    plan.frame_check = {
        "read_frame": "gcj02",
        "n_read": 400,
        "inside": 156,
        "frame": "bd09",
        "inside_other": 383,
    }
    frame_en = plan_warnings(plan)[1]  # type: ignore[arg-type]
    assert frame_en.startswith(
        "of the 400 incidents read in frame gcj02, only 156 fall inside area:东片; read as "
        "bd09, 383 would: the incident coordinates are likely bd09; "
    )
    # the way out that works: ingest in that frame, give the folder (a mapping frame with
    # this command's --frame is a conflict, a tester found)
    assert "`xunfang ingest FILE --frame bd09 --out DIR`" in frame_en
    assert "run again with --incidents DIR" in frame_en
    assert plan_warnings(plan, "zh")[1].startswith(  # type: ignore[arg-type]
        "按 gcj02 坐标系读取的 400 起警情中只有 156 起位于 area:东片 内，若按 bd09 读取则有 383 起"
    )
    plan.frame_check = None
    (zh,) = plan_warnings(plan, "zh")  # type: ignore[arg-type]
    assert zh.startswith("area:东片 内及附近没有固定派出所：全天 24 小时无警力覆盖")
    plan.sites = pd.DataFrame({"kind": ["station", "booth"]})
    assert plan_warnings(plan) == []  # type: ignore[arg-type]


def test_frame_hint_counts_the_incidents_just_outside() -> None:
    """Most incidents beside the area (as a BD-09 file read as GCJ-02 puts them, about 1 km
    off): the too-few message says how many and to check --frame; worked by hand on a
    1 km square."""
    import numpy as np
    import pandas as pd
    import shapely
    from pyproj import CRS

    from xunfang.ingest.incidents import IncidentTable
    from xunfang.plan.booth_plan import frame_hint
    from xunfang.serve._common import error_text

    square = shapely.box(0.0, 0.0, 1000.0, 1000.0)
    # inside; 500 m and 900 m east of the square; 5.6 km away
    x = np.array([500.0, 1500.0, 1900.0, 5000.0])
    y = np.array([500.0, 500.0, 500.0, 5000.0])
    table = IncidentTable(pd.DataFrame({"x_m": x, "y_m": y}), CRS.from_epsg(32651), "UTC")
    inside = shapely.contains_xy(square, x, y)
    hint = frame_hint(table, inside, square, "东片")
    assert hint == (
        "; 3 of the 4 incidents read fall outside 东片, 2 of them within 1 km of it: if the "
        "area is right, check --frame (the frame of the incident coordinates: wgs84, gcj02 "
        "or bd09)"
    )
    too_few = (
        "only 1 incidents inside 东片 (of the chosen types): too few to site booths on (at "
        "least 30); widen --types or the period, or plan on road length (--demand road_length)"
    )
    assert error_text(too_few + hint, "zh") == (
        "东片 内只有 1 起警情（所选类别）：太少，无法布设岗亭（至少需要 30 起）；"
        "请放宽 --types 或时间范围，或按道路长度规划（--demand road_length）"
        "；读入的 4 起警情中有 3 起在 东片 之外，其中 2 起距其 1 公里以内："
        "若区域无误，请检查 --frame（警情坐标的坐标系：wgs84、gcj02 或 bd09）"
    )
    # half outside is not "most": no hint
    two = np.array([True, True, False, False])
    assert frame_hint(table, two, square, "东片") == ""


def test_frame_check_finds_the_frame_that_puts_the_incidents_inside() -> None:
    """SYNTHETIC: 60 incidents spread over a 400 m square in central Shanghai, written by a
    Baidu map (BD-09) and read as GCJ-02 (a tester's file): the offset of about 700 m puts
    them beside the square; read as BD-09 all 60 are inside. The same incidents read in
    their own frame, or the square moved to Chicago (no GCJ-02 offset there), give no
    finding."""
    import numpy as np
    import pandas as pd
    import shapely
    from pyproj import CRS, Transformer

    from xunfang.ingest.coords import gcj02_to_bd09, gcj02_to_wgs84
    from xunfang.ingest.incidents import IncidentTable
    from xunfang.plan.booth_plan import frame_check

    def table(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> IncidentTable:
        x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        frame = pd.DataFrame({"lon": lon, "lat": lat, "x_m": x, "y_m": y})
        return IncidentTable(frame, crs, "Asia/Shanghai")

    utm = CRS.from_epsg(32651)
    rng = np.random.default_rng(0)
    g_lon = 121.47 + rng.uniform(-0.0015, 0.0015, 60)  # GCJ-02, within about 150 m
    g_lat = 31.23 + rng.uniform(-0.0015, 0.0015, 60)
    true = table(*gcj02_to_wgs84(g_lon, g_lat), utm)
    cx, cy = true.xy.mean(axis=0)
    square = shapely.box(cx - 200, cy - 200, cx + 200, cy + 200)
    assert shapely.contains_xy(square, true.xy[:, 0], true.xy[:, 1]).all()
    # the file's values are BD-09; read as GCJ-02
    misread = table(*gcj02_to_wgs84(*gcj02_to_bd09(g_lon, g_lat)), utm)
    n_in = int(shapely.contains_xy(square, misread.xy[:, 0], misread.xy[:, 1]).sum())
    assert n_in == 0
    assert frame_check(misread, n_in, square, "gcj02") == {
        "read_frame": "gcj02",
        "n_read": 60,
        "inside": 0,
        "frame": "bd09",
        "inside_other": 60,
    }
    assert frame_check(true, 60, square, "gcj02") is None  # read right: nothing to say
    # Chicago: the same square and points moved there, no offset to find
    chicago = CRS.from_epsg(32616)
    c_lon, c_lat = -87.63 + (g_lon - 121.47), 41.88 + (g_lat - 31.23)
    there = table(c_lon, c_lat, chicago)
    cx, cy = there.xy.mean(axis=0)
    box = shapely.box(cx - 200, cy - 200, cx + 200, cy + 200)
    assert frame_check(there, 60, box, "wgs84") is None
