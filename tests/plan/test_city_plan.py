"""Planning any city: demand without history, and the Chicago default unchanged.

The four-node graph is SYNTHETIC, drawn by hand (metres in EPSG:32651).
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from shapely.geometry import box
from typer.testing import CliRunner

from xunfang.ingest.coords import gcj02_to_wgs84
from xunfang.ingest.incidents import ingest, profile_from_toml
from xunfang.ingest.network import network_from_edges
from xunfang.plan.booth_plan import read_plan_record, road_length_weights
from xunfang.serve.cli import app
from xunfang.units import WGS84

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"

XY = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 200.0], [0.0, 200.0]])
EDGES = [(0, 1, 100.0), (1, 2, 200.0), (2, 3, 100.0)]


def test_road_length_demand_by_hand() -> None:
    net = network_from_edges(XY, EDGES, "EPSG:32651", speed_kph=36.0)
    # every street inside: node 0 gets half of 0-1 (50 m), node 1 half of 0-1 and 1-2
    # (50 + 100 m), node 2 half of 1-2 and 2-3 (100 + 50 m), node 3 half of 2-3 (50 m)
    w = road_length_weights(net, box(-10, -10, 110, 210))
    np.testing.assert_allclose(w, [0.05, 0.15, 0.15, 0.05])
    assert w.sum() == pytest.approx(0.4)  # 400 m of road, km
    # an area that holds the midpoints of 0-1 (50, 0) and 1-2 (100, 100) but not of 2-3
    # (50, 200): the street 2-3 is not demand
    w = road_length_weights(net, box(-10, -10, 110, 150))
    np.testing.assert_allclose(w, [0.05, 0.15, 0.10, 0.0])


def _dijkstra(matrix: sp.csr_matrix, source: int) -> np.ndarray:
    """Drive times from ``source`` along the directed edges (textbook Dijkstra with a heap,
    written out here so that the check does not reuse scipy's)."""
    dist = np.full(matrix.shape[0], np.inf)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for k in range(matrix.indptr[u], matrix.indptr[u + 1]):
            v, t = int(matrix.indices[k]), float(matrix.data[k])
            if d + t < dist[v]:
                dist[v] = d + t
                heapq.heappush(heap, (d + t, v))
    return dist


@pytest.mark.realdata
def test_shanghai_plan_end_to_end_by_hand(data_dir: Path, tmp_path: Path) -> None:
    """The example city (OSM streets, SYNTHETIC 110 calls in GCJ-02) planned from the CLI,
    and three incidents checked by hand: snapped to their node by brute force, the drive
    time to the nearest site by the Dijkstra above on the rebuilt network."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        app,
        [
            "plan", "--city", str(EXAMPLE / "city.toml"), "--booths", "6",
            "--threshold-min", "2", "--output-frame", "gcj02", "--out", str(out),
            "--data-dir", str(data_dir),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "plan_summary.json").read_text("utf-8"))
    assert summary["incidents_in_area"] + summary["incidents_outside_area"] == 400
    assert summary["output_frame"] == "gcj02"
    assert summary["network"]["one_way_known"] is True
    assert summary["mclp"]["status"] == "optimal"
    assert summary["incident_timezone"] == "Asia/Shanghai"  # serve's clock (read_plan_record)
    record = read_plan_record(out)
    assert record.city is not None
    assert record.area == "西片,东片"  # the city file's default polygons
    # rebuild the network from the recorded city, as deploy and serve do
    city = record.city
    area = city.study_area(record.area)
    net = city.road_network(area)
    cov = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    sites = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    np.testing.assert_allclose(cov[["x_m", "y_m"]].to_numpy(), net.node_xy[cov["node"]])
    # GCJ-02 in the files: back to WGS-84 they are the nodes' positions
    lon, lat = gcj02_to_wgs84(cov["lon"].to_numpy(), cov["lat"].to_numpy())
    tr = Transformer.from_crs(area.crs, WGS84, always_xy=True)
    nlon, nlat = tr.transform(cov["x_m"].to_numpy(), cov["y_m"].to_numpy())
    np.testing.assert_allclose(lon, nlon, atol=2e-6)
    np.testing.assert_allclose(lat, nlat, atol=2e-6)
    # the demand weights are the incidents inside
    assert cov["weight"].sum() == summary["incidents_in_area"]

    table, _rej, _rep = ingest(
        [EXAMPLE / "incidents_110_synthetic.csv"],
        profile_from_toml(EXAMPLE / "mapping_110.toml"),
        crs=area.crs,
    )
    inside = table.frame[
        shapely.contains_xy(area.polygon, table.frame["x_m"], table.frame["y_m"])
    ].sort_values("incident_id")
    booth_nodes = sites["node"].to_numpy()
    station_nodes = sites.loc[sites["kind"] == "station", "node"].to_numpy()
    from_sites = {int(s): _dijkstra(net.matrix, int(s)) for s in booth_nodes}
    for _, inc in inside.head(3).iterrows():
        d2 = (net.node_xy[:, 0] - inc["x_m"]) ** 2 + (net.node_xy[:, 1] - inc["y_m"]) ** 2
        node = int(np.argmin(d2))
        row = cov.loc[cov["node"] == node].iloc[0]
        # site -> incident: the unit drives from its site to the call
        plan_s = min(from_sites[int(s)][node] for s in booth_nodes)
        stations_s = min(from_sites[int(s)][node] for s in station_nodes)
        assert np.isfinite(plan_s) and np.isfinite(stations_s)
        assert row["tt_plan_s"] == pytest.approx(plan_s, rel=1e-5)
        assert row["tt_stations_s"] == pytest.approx(stations_s, rel=1e-5)
    # serve --plan-dir: the recorded city's network, the sites back in WGS-84 on their nodes
    from xunfang.serve.api.geo import build_geo

    geo = build_geo(record.area, data_dir, plan_dir=out)
    assert geo.network.n_nodes == net.n_nodes
    slon, slat = tr.transform(net.node_xy[sites["node"], 0], net.node_xy[sites["node"], 1])
    np.testing.assert_allclose([s.lon for s in geo.sites], slon, atol=2e-6)
    np.testing.assert_allclose([s.lat for s in geo.sites], slat, atol=2e-6)
    # the console's hotspot cells are back in WGS-84 too: each centre is its grid cell's
    from xunfang.analyse.grid import Grid

    assert geo.hotspots_geojson is not None
    hot = json.loads(geo.hotspots_geojson)["features"]
    props = [f["properties"] for f in hot]
    centres = np.array([[p["centre_lon"], p["centre_lat"]] for p in props])
    hx, hy = Transformer.from_crs(WGS84, area.crs, always_xy=True).transform(*centres.T)
    grid = Grid.from_polygon(area.polygon, 150.0, area.crs)
    cells = grid.cell_boxes(np.array([p["cell"] for p in props]))
    cx, cy = shapely.get_x(shapely.centroid(cells)), shapely.get_y(shapely.centroid(cells))
    assert np.hypot(hx - cx, hy - cy).max() < 0.5  # metres (GCJ-02 left in: about 500 m)
    # the table's 2-minute share is the weight within 120 s over all weight
    mclp = next(r for r in summary["rings"] if r["label"] == "plan_mclp")
    share = cov.loc[cov["tt_plan_s"] <= 120.0, "weight"].sum() / cov["weight"].sum()
    assert mclp["share_within_threshold"] == pytest.approx(share, abs=1e-4)


@pytest.mark.realdata
def test_shanghai_without_history(data_dir: Path, tmp_path: Path) -> None:
    """No incident file: demand from road length, stated in the summary."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        app,
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--boundary-name", "西片", "--roads",
            str(data_dir / "shanghai-osm/central_shanghai_drive.osm"),
            "--demand", "road_length", "--booths", "3", "--threshold-min", "1",
            "--lang", "zh", "--out", str(out), "--data-dir", str(data_dir),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "plan_summary.json").read_text("utf-8"))
    assert summary["demand"]["kind"] == "road_length"
    assert "road length" in summary["demand"]["note"]
    assert summary["incidents_in_area"] == 0
    cov = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    # weights are km of road: the sum is stated in the note
    km = f"{cov['weight'].sum():.1f}"
    assert f"{km} km of road" in summary["demand"]["note"]  # the JSON keeps English
    # the terminal and the report (--lang zh) say it in Chinese
    zh = f"未使用历史警情：需求为道路长度，西片 内道路 {km} 公里"
    assert "".join(zh.split()) in "".join(res.output.split())  # the terminal wraps lines
    report = (out / "report.html").read_text("utf-8")
    assert zh in report and "road length" not in report


@pytest.mark.realdata
def test_demand_from_a_point_file(data_dir: Path, tmp_path: Path) -> None:
    """Places to cover instead of history: weights from the file, one place outside the
    area counted and left out (SYNTHETIC places, GCJ-02 like the city's files)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    from xunfang.config import Settings
    from xunfang.ingest.city import City
    from xunfang.ingest.coords import wgs84_to_gcj02
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan

    wlon = np.array([121.4700, 121.4800, 121.5000])  # the last is outside the boundary
    wlat = np.array([31.2300, 31.2350, 31.2300])
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    places = tmp_path / "places.csv"
    places.write_text(
        "名称,经度,纬度,weight\n"
        + "".join(
            f"{n},{a:.7f},{b:.7f},{w}\n"
            for n, a, b, w in zip(["学校", "医院", "码头"], glon, glat, [2, 1, 5], strict=True)
        ),
        encoding="utf-8",
    )
    city = City.from_toml(EXAMPLE / "city.toml", data_dir=data_dir)
    plan = make_booth_plan(
        PlanConfig(city=city, booths=1, threshold_min=1.0, demand="points", demand_points=places),
        Settings(data_dir=data_dir),
    )
    assert plan.demand["weight"].sum() == 3.0  # 2 + 1; the 5 is outside
    assert len(plan.demand) == 2
    assert "2 places of places.csv (weight 3); 1 outside" in (plan.demand_note or "")
    # the same note in Chinese (terminal and report under --lang zh)
    from xunfang.ingest.notes import note_text

    assert note_text(plan.demand_note or "", "zh") == (
        "未使用历史警情：需求为 places.csv 中的 2 个地点（权重 3）；"
        "西片,东片 以外的 1 个地点未使用。"
    )
    # each place sits on its nearest node (projected from WGS-84, the file read as GCJ-02)
    tr = Transformer.from_crs(WGS84, plan.area.crs, always_xy=True)
    x, y = tr.transform(wlon[:2], wlat[:2])
    d2 = (plan.network.node_xy[:, 0, None] - x) ** 2 + (plan.network.node_xy[:, 1, None] - y) ** 2
    assert sorted(plan.demand["node"]) == sorted(np.argmin(d2, axis=0).tolist())


@pytest.mark.realdata
def test_run_frame_applies_to_profile_incidents(data_dir: Path) -> None:
    """``--frame gcj02`` with ``--profile cn110`` (which states no frame) reads the
    incident columns as GCJ-02, as ``ingest --frame gcj02`` does: the same incidents fall
    inside the area as with the mapping that states GCJ-02 (issue 9, tester finding 1;
    before, about half were dropped as outside and the rest shifted by ~500 m)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    from xunfang.config import Settings
    from xunfang.ingest.city import resolve_city
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan

    city = resolve_city(
        boundary=EXAMPLE / "boundary_gcj02.geojson",
        boundary_name="西片,东片",
        frame="gcj02",
        roads=data_dir / "shanghai-osm/central_shanghai_drive.osm",
        incidents=[EXAMPLE / "incidents_110_synthetic.csv"],
        profile="cn110",
        data_dir=data_dir,
    )
    area = city.study_area(None)
    table, _rej, _rep = ingest(
        [EXAMPLE / "incidents_110_synthetic.csv"],
        profile_from_toml(EXAMPLE / "mapping_110.toml"),
        crs=area.crs,
    )
    expected = int(shapely.contains_xy(area.polygon, table.xy[:, 0], table.xy[:, 1]).sum())
    assert 300 < expected < 400
    plan = make_booth_plan(
        PlanConfig(city=city, booths=1, threshold_min=2.0, decisions=None),
        Settings(data_dir=data_dir),
    )
    assert len(plan.incidents) == expected
    assert plan.n_outside_area == 400 - expected
    np.testing.assert_allclose(
        np.sort(plan.incidents.frame["x_m"].to_numpy()),
        np.sort(table.xy[:, 0][shapely.contains_xy(area.polygon, *table.xy.T)]),
        atol=0.5,
    )


def test_run_frame_against_a_mapping_frame(tmp_path: Path) -> None:
    """A mapping that states its frame wins over an unstated run frame; a stated run
    frame that differs is refused, naming both."""
    from xunfang.errors import ValidationError
    from xunfang.ingest.city import resolve_city

    boundary = tmp_path / "b.geojson"
    boundary.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Polygon","coordinates":[[[121.4,31.2],[121.5,31.2],'
        "[121.5,31.3],[121.4,31.3],[121.4,31.2]]]}}]}",
        encoding="utf-8",
    )
    mapping = EXAMPLE / "mapping_110.toml"
    unstated = resolve_city(boundary=boundary, mapping=mapping)
    assert unstated.incident_frame(unstated.ingest_profile()) is None  # the mapping's gcj02
    same = resolve_city(boundary=boundary, mapping=mapping, frame="gcj02")
    assert same.incident_frame(same.ingest_profile()) is None
    assert resolve_city(boundary=boundary, frame="bd09").incident_frame("cn110") == "bd09"
    clash = resolve_city(boundary=boundary, mapping=mapping, frame="wgs84")
    with pytest.raises(ValidationError, match=r"mapping_110.toml states frame 'gcj02'.*'wgs84'"):
        clash.incident_frame(clash.ingest_profile())


@pytest.mark.realdata
def test_stations_far_from_the_area_are_named(data_dir: Path, tmp_path: Path) -> None:
    """A station beyond the area + buffer is left out by name with its distance, in the
    terminal and the plan summary; with a buffer wide enough to take it, it is more than
    300 m from the road network and refused, naming its row (issue 9, finding 3)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    stations = tmp_path / "stations.csv"
    rows = (EXAMPLE / "stations_gcj02.csv").read_text("utf-8").splitlines()
    stations.write_text(
        "\n".join([*rows, "远处派出所,121.5100000,31.2300000,far"]) + "\n", encoding="utf-8"
    )
    args = [
        "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
        "--boundary-name", "西片,东片", "--roads",
        str(data_dir / "shanghai-osm/central_shanghai_drive.osm"), "--stations", str(stations),
        "--demand", "road_length", "--booths", "1", "--threshold-min", "2", "--no-curve",
        "--no-sectors", "--data-dir", str(data_dir),
    ]  # fmt: skip
    out = tmp_path / "plan"
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "plan_summary.json").read_text("utf-8"))
    note = summary["stations_note"]
    assert note.startswith("3 of 4 stations of stations.csv used; left out (more than 500 m")
    from xunfang.ingest.city import resolve_city

    area = resolve_city(
        boundary=EXAMPLE / "boundary_gcj02.geojson", boundary_name="西片,东片", frame="gcj02"
    ).study_area(None)
    lon, lat = gcj02_to_wgs84(np.array([121.51]), np.array([31.23]))
    x, y = Transformer.from_crs(WGS84, area.crs, always_xy=True).transform(lon, lat)
    far_km = area.polygon.distance(shapely.Point(x[0], y[0])) / 1000
    assert f"远处派出所 ({far_km:.1f} km outside the area)" in note
    assert 1.5 < far_km < 3.0
    assert "远处派出所" in " ".join(res.output.split())
    assert summary["rings"][0]["sites"] == 3

    from xunfang.config import Settings
    from xunfang.errors import DataFileError
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan

    city = resolve_city(
        boundary=EXAMPLE / "boundary_gcj02.geojson", boundary_name="西片,东片", frame="gcj02",
        roads=data_dir / "shanghai-osm/central_shanghai_drive.osm", stations=stations,
    )  # fmt: skip
    # line 5 of the file: the header is line 1
    with pytest.raises(DataFileError, match=r"stations.csv, row 5: site '远处派出所'.*300 m"):
        make_booth_plan(
            PlanConfig(
                city=city, booths=1, threshold_min=2.0, demand="road_length",
                station_buffer_m=5000.0, decisions=None,
            ),
            Settings(data_dir=data_dir),
        )  # fmt: skip


SMALL_BOX_GCJ02 = (
    '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"测试片区"},'
    '"geometry":{"type":"Polygon","coordinates":[[[121.47453447,31.22306516],'
    "[121.48450159,31.22303768],[121.48450245,31.23304230],[121.47453533,31.23306978],"
    "[121.47453447,31.22306516]]]}}]}"
)


def _small_box_city(data_dir: Path, tmp_path: Path, **kw: object) -> object:
    from xunfang.ingest.city import resolve_city

    boundary = tmp_path / "small_gcj02.geojson"
    boundary.write_text(SMALL_BOX_GCJ02, encoding="utf-8")
    return resolve_city(
        boundary=boundary, frame="gcj02",
        roads=data_dir / "shanghai-osm/central_shanghai_drive.osm", data_dir=data_dir, **kw,
    )  # fmt: skip


@pytest.mark.realdata
def test_booths_inside_the_boundary_by_default(data_dir: Path, tmp_path: Path) -> None:
    """On the tester's 1 km box, booths sat up to 127 m outside it (on nodes of the clip
    margin). Now every candidate and booth lies inside the polygon; --candidates-outside-m
    widens that (issue 9, finding 4)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    from xunfang.config import Settings
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan

    city = _small_box_city(data_dir, tmp_path)
    base = PlanConfig(
        city=city,
        booths=3,
        threshold_min=1.0,
        demand="road_length",
        decisions=None,  # type: ignore[arg-type]
    )
    plan = make_booth_plan(base, Settings(data_dir=data_dir))
    booths = plan.sites[plan.sites["kind"] == "booth"]
    assert len(booths) == 3
    d_m = shapely.distance(plan.area.polygon, shapely.points(booths[["x_m", "y_m"]].to_numpy()))
    assert d_m.max() == 0.0
    assert plan.n_candidates > 10
    import dataclasses

    wide = make_booth_plan(
        dataclasses.replace(base, candidates_outside_m=400.0), Settings(data_dir=data_dir)
    )
    assert wide.n_candidates > plan.n_candidates


@pytest.mark.realdata
def test_deploy_reuses_the_plans_incident_source(data_dir: Path, tmp_path: Path) -> None:
    """A plan made from an ingested .parquet (not part of any city file): deploy --plan-dir
    without --incidents reads the same file, recorded as incident_source in
    plan_summary.json (issue 9, finding 7: it stopped with "no incident files")."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    from xunfang.config import Settings
    from xunfang.plan.deployment import load_plan_context

    ing = tmp_path / "ing"
    res = CliRunner().invoke(
        app,
        [
            "ingest", str(EXAMPLE / "incidents_110_synthetic.csv"),
            "--mapping", str(EXAMPLE / "mapping_110.toml"), "--out", str(ing),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        app,
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--boundary-name", "西片,东片", "--roads",
            str(data_dir / "shanghai-osm/central_shanghai_drive.osm"),
            "--incidents", str(ing / "incidents.parquet"), "--booths", "2",
            "--threshold-min", "2", "--no-curve", "--no-sectors", "--out", str(out),
            "--data-dir", str(data_dir),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "plan_summary.json").read_text("utf-8"))
    assert summary["incident_source"] == [str((ing / "incidents.parquet").absolute())]
    ctx = load_plan_context(out, Settings(data_dir=data_dir))
    assert len(ctx.incidents) == summary["incidents_in_area"] == 383
    # the command itself, its console summary in Chinese (finding 13)
    res = CliRunner().invoke(
        app,
        [
            "deploy", "--plan-dir", str(out), "--roster",
            str(EXAMPLE.parents[0] / "deploy" / "roster.toml"), "--lang", "zh",
            "--out", str(tmp_path / "dep"), "--data-dir", str(data_dir),
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "周警情，区内 383 起" in res.output and "人次（警员班次）" in res.output
    (ing / "incidents.parquet").unlink()
    with pytest.raises(Exception, match=r"incidents.parquet no longer exist: pass --incidents"):
        load_plan_context(out, Settings(data_dir=data_dir))


@pytest.mark.realdata
def test_plan_console_in_chinese_and_no_empty_hotspots(data_dir: Path, tmp_path: Path) -> None:
    """``--lang zh`` prints the plan's console summary in Chinese; with road-length demand
    there are no hotspots and no empty heading; a single road file is not said to be
    stitched between areas (issue 9, finding 13)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    base = [
        "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
        "--boundary-name", "西片,东片", "--roads",
        str(data_dir / "shanghai-osm/central_shanghai_drive.osm"),
        "--stations", str(EXAMPLE / "stations_gcj02.csv"), "--demand", "road_length",
        "--booths", "2", "--threshold-min", "2", "--no-curve", "--no-sectors",
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    wide = {"COLUMNS": "200"}
    zh = CliRunner().invoke(app, [*base, "--lang", "zh", "--out", str(tmp_path / "zh")], env=wide)
    assert zh.exit_code == 0, zh.output
    flat = " ".join(zh.output.split())
    assert "道路通行覆盖" in flat and "仅派出所" in flat and "派出所+岗亭 │" in flat
    assert "（MCLP）" in flat and "（p-中位）" in flat  # the method on the label's 2nd line
    assert "区内道路" in flat and "路网保留" in flat
    assert "Response coverage" not in flat and "stations alone" not in flat
    # at 80 columns both layouts are still told apart (they were both cut to "派出所+…")
    narrow = CliRunner().invoke(
        app, [*base, "--lang", "zh", "--out", str(tmp_path / "zh80")], env={"COLUMNS": "80"}
    )
    assert narrow.exit_code == 0, narrow.output
    rows = [ln for ln in narrow.output.splitlines() if ln.startswith("│")]
    from rich.cells import cell_len  # display width: a Chinese character takes two columns

    assert "派出所+…" not in narrow.output and max(cell_len(ln) for ln in rows) <= 80
    assert sum("（MCLP）" in ln for ln in rows) == 1 and sum("（p-中位）" in ln for ln in rows) == 1
    en = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "en")], env=wide)
    assert en.exit_code == 0, en.output
    assert "Hotspots" not in en.output and "热点" not in zh.output
    assert "links stitched" not in en.output
    assert "of road inside 西片,东片 kept in the network" in " ".join(en.output.split())
