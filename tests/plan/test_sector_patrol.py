"""Booth officers patrol their own sector: a synthetic street where the sector rule and the
nearest-booth rule disagree.

Nine nodes on a straight street, 100 m apart (the world of ``test_deployment.py``: walked at
3.6 km/h, 100 s per 100 m). Booth B1 stands at node 0, booth B2 at node 8. Risk per node::

    node    0  1  2  3  4  5  6  7  8
    risk    5  1  1  2  0  3  1  6  1

By walking time node 5 is nearer B2 (300 s) than B1 (500 s); nodes 1-3 are nearer B1, nodes
6-7 nearer B2 (node 4, equidistant, has no risk). The plan's sectors put nodes 0-5 in B1's
sector (x < 550 m) and nodes 6-8 in B2's: node 5 changes booth. With ``max_stops = 8`` every
hotspot of a sector is offered (16 places), the booth's own node excepted:
B1 gets 5, 3, 1, 2 (riskiest first, ties in node order), B2 gets 7, 6.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_deployment import CONFIG, CRS, X0, Y0, line_network, roster

from xunfang.plan.deployment import BlockRisk, _walk_matrix, plan_deployment
from xunfang.plan.roster import TimeBlock
from xunfang.plan.sector_patrol import nearest_booth, sector_hotspots, sector_map

RISK = np.array([5.0, 1, 1, 2, 0, 3, 1, 6, 1])
SITES = pd.DataFrame({"name": ["B1", "B2"], "kind": ["booth", "booth"], "node": [0, 8]})


def risk(_block: TimeBlock) -> BlockRisk:
    return BlockRisk(np.arange(9, dtype=np.int64), RISK.copy())


def box(x0: float, x1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 - 100.0, X0 + x1, Y0 + 100.0)


def sectors(b1: shapely.Geometry, b2: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["B1", "B2"], "kind": ["booth", "booth"], "workload": [12.0, 8.0]},
        geometry=[b1, b2],
        crs=CRS,
    ).to_crs("EPSG:4326")  # as the plan writes them


def deploy(frame: gpd.GeoDataFrame | None, **kw: Any) -> Any:
    net = line_network()
    sm = sector_map(frame, net) if frame is not None else None
    cfg = replace(CONFIG, block_hours=8.0, **kw)  # 21 blocks
    return plan_deployment(net, SITES, roster(), risk, config=cfg, sectors=sm)


def test_nodes_take_the_sector_that_contains_them() -> None:
    sm = sector_map(sectors(box(-50, 550), box(550, 850)), line_network())
    assert sm.node_sector.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert sm.names == ("B1", "B2") and sm.n_outside == 0
    # node 8 (x = 800 m) past the polygons: the nearest takes it
    short = sector_map(sectors(box(-50, 550), box(550, 750)), line_network())
    assert short.n_outside == 1 and short.node_sector[8] == 1


def test_sector_rule_against_the_nearest_booth_rule() -> None:
    net = line_network()
    sm = sector_map(sectors(box(-50, 550), box(550, 850)), net)
    near = nearest_booth(_walk_matrix(net, 3.6), [0, 8])
    assert near[[1, 2, 3, 5, 6, 7]].tolist() == [0, 0, 0, 1, 1, 1]
    nodes = np.arange(9)
    assert sector_hotspots(nodes, RISK, sm.node_sector, 0, 16).tolist() == [0, 5, 3, 1, 2]
    assert sector_hotspots(nodes, RISK, sm.node_sector, 1, 16).tolist() == [7, 6, 8]
    assert sector_hotspots(nodes, RISK, sm.node_sector, 0, 2).tolist() == [0, 5]


def test_booth_officers_walk_their_own_sector() -> None:
    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    walks = [rt for rt in dep.routes if rt.unit.endswith(" sector")]
    assert len(walks) == 2 * 21
    for rt in walks:
        inside = set(range(6)) if rt.unit == "B1 sector" else {6, 7, 8}
        assert set(rt.path_nodes.tolist()) <= inside
        assert rt.end_s <= rt.horizon_s == 45 * 60
        assert len(rt.crew) == 1
    # the offered hotspots, every block: node 5 goes to B1 (its sector), not B2 (nearest)
    k = dep.sector_kpis.set_index("sector")
    assert dep.hotspots_changed == (6, 1)
    assert k["hotspots_from_other_booths"].tolist() == [1, 0]
    assert k["patrols"].tolist() == [21, 21]
    # the deployment's risk per week in each sector: 21 blocks x (12, 8)
    assert k["risk_per_week"].tolist() == pytest.approx([21 * 12.0, 21 * 8.0])
    assert k["plan_workload"].tolist() == [12.0, 8.0]
    a = dep.assignments
    walkers = a[a["note"].str.startswith("walks the sector patrol")]
    assert len(walkers) == 2 * 21 and set(walkers["post_kind"]) == {"booth"}
    assert any("0 of" in n and "legs of the sector patrols" in n for n in dep.notes)


def test_sector_patrol_schedule_heading_in_chinese() -> None:
    from xunfang.serve.deploy_report import render_deploy_html, render_schedule

    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    zh = render_schedule(dep, "B1 sector", "zh")
    assert "<h1>B1 巡区 · " in zh and "B1 sector" not in zh
    assert "<h1>B1 sector · " in render_schedule(dep, "B1 sector", "en")
    report = render_deploy_html(dep, "zh")
    assert ">B1 巡区</a>" in report and "schedules/B1-sector.html" in report


def test_a_leg_outside_the_sector_is_walked_on_the_whole_network_and_counted() -> None:
    # B1's sector: nodes 0-1 and, cut off from them, node 6 (a second piece)
    b1 = shapely.union(box(-50, 150), box(550, 650))
    b2 = shapely.union(box(150, 550), box(650, 850))
    dep = deploy(sectors(b1, b2), sector_patrol_min=60.0)
    walks = [rt for rt in dep.routes if rt.unit == "B1 sector"]
    assert all(sorted(rt.stop_nodes.tolist()) == [1, 6] for rt in walks)
    # 0 -> 1 inside, 1 -> 6 and 6 -> 0 through nodes 2-5: two legs per loop outside
    assert all(set(rt.path_nodes.tolist()) == set(range(7)) for rt in walks)
    # B2's sector (nodes 2-5 and 7-8) is cut by node 6 too: its loop over 3, 5 and 7 (its
    # best that fit 60 min) crosses node 6 twice. 21 x (2 of 3 + 2 of 4) legs outside
    b2_walks = [rt for rt in dep.routes if rt.unit == "B2 sector"]
    assert all(sorted(rt.stop_nodes.tolist()) == [3, 5, 7] for rt in b2_walks)
    assert any(n.startswith("84 of 147 legs") for n in dep.notes)


def test_without_sectors_booth_officers_stay() -> None:
    dep = deploy(None)
    assert not [rt for rt in dep.routes if rt.unit.endswith(" sector")]
    assert dep.sector_kpis is None and dep.hotspots_changed is None
    assert any("no patrol sectors" in n for n in dep.notes)


def test_report_draws_the_sectors_and_tables_their_patrols(tmp_path: Path) -> None:
    from xunfang.serve.deploy_report import deploy_summary, write_deployment

    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    written = write_deployment(dep, tmp_path)
    k = pd.read_csv(written["sectors.csv"])
    assert k["sector"].tolist() == ["B1", "B2"] and k["patrols"].tolist() == [21, 21]
    html = written["report.html"].read_text(encoding="utf-8")
    assert "Patrol sectors" in html and "sector B1" in html and "sector B2" in html
    assert "1 of the 6 hotspots offered to booth patrols" in html
    # the schedule of a sector walker is linked by its file name
    assert 'href="schedules/B1-sector.html"' in html
    assert (tmp_path / "schedules" / "B1-sector.html").is_file()
    s = deploy_summary(dep)["sectors"]
    assert (s["hotspots_offered"], s["hotspots_not_at_nearest_booth"]) == (6, 1)
    # without sectors the report says so
    html = write_deployment(deploy(None), tmp_path / "old")["report.html"].read_text("utf-8")
    assert "has no sectors.geojson" in html


def test_read_sectors_written_in_gcj02(tmp_path: Path) -> None:
    from xunfang.ingest.city import to_output_frame
    from xunfang.ingest.network import network_from_edges
    from xunfang.plan.sector_patrol import read_sectors

    # the same street in Shanghai (UTM 51N), where GCJ-02 moves points by some 500 m
    crs, x0, y0 = "EPSG:32651", 350000.0, 3450000.0
    xy = np.column_stack([x0 + 100.0 * np.arange(9), np.full(9, y0)])
    net = network_from_edges(xy, [(i, i + 1, 100.0) for i in range(8)], crs, speed_kph=36.0)
    frame = gpd.GeoDataFrame(
        {"name": ["B1", "B2"], "kind": ["booth", "booth"]},
        geometry=[
            shapely.box(x0 - 50, y0 - 100, x0 + 550, y0 + 100),
            shapely.box(x0 + 550, y0 - 100, x0 + 850, y0 + 100),
        ],
        crs=crs,
    ).to_crs("EPSG:4326")
    path = tmp_path / "sectors.geojson"
    path.write_text(to_output_frame(frame, "gcj02").to_json(drop_id=True), encoding="utf-8")
    sm = read_sectors(path, net, frame="gcj02")
    assert sm.node_sector.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1] and sm.n_outside == 0
    # read as WGS-84, the shifted polygons miss the street
    assert read_sectors(path, net).n_outside == 9


def test_deployment_files_follow_the_plans_output_frame(tmp_path: Path) -> None:
    # A plan written for Baidu maps gives a deployment for Baidu maps; GPX stays WGS-84.
    import json

    from xunfang.ingest.coords import wgs84_to_bd09
    from xunfang.serve.deploy_report import write_deployment

    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    plain = write_deployment(dep, tmp_path / "wgs")
    baidu = write_deployment(dep, tmp_path / "bd", output_frame="bd09")
    a, b = pd.read_csv(plain["deployment.csv"]), pd.read_csv(baidu["deployment.csv"])
    assert set(a["coord_frame"]) == {"wgs84"} and set(b["coord_frame"]) == {"bd09"}
    lon, lat = wgs84_to_bd09(a["lon"].to_numpy(), a["lat"].to_numpy())
    assert np.allclose(b["lon"], lon, atol=2e-6) and np.allclose(b["lat"], lat, atol=2e-6)
    assert not np.allclose(b["lon"], a["lon"], atol=1e-4)  # BD-09 shifts everywhere
    ra = json.loads(plain["routes.geojson"].read_text(encoding="utf-8"))["features"][0]
    rb = json.loads(baidu["routes.geojson"].read_text(encoding="utf-8"))["features"][0]
    x0, y0 = ra["geometry"]["coordinates"][0]
    assert np.allclose(rb["geometry"]["coordinates"][0], wgs84_to_bd09(x0, y0), atol=1e-9)
    gpx_a = sorted((tmp_path / "wgs" / "routes").rglob("*.gpx"))[0]
    gpx_b = tmp_path / "bd" / gpx_a.relative_to(tmp_path / "wgs")
    assert gpx_a.read_text(encoding="utf-8") == gpx_b.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_deployment_csv_has_the_deployments_own_words_in_chinese(tmp_path: Path, lang: str) -> None:
    """deployment.csv under --lang zh said "walks the sector patrol (45 min)" (a tester):
    ``note_zh`` and ``post_name_zh`` beside ``note`` and ``post_name`` (as ``reason_zh``
    beside ``reason`` in the forecast's table), in both languages so the columns are the
    same; the codes stay English. The relief note: a hand-made row through the same
    function."""
    from xunfang.serve.deploy_report import with_zh_columns, write_deployment

    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    a = pd.read_csv(write_deployment(dep, tmp_path, lang=lang)["deployment.csv"], dtype=str)
    cols = a.columns.tolist()
    assert cols[cols.index("post_name") + 1] == "post_name_zh"
    assert cols[cols.index("note") + 1] == "note_zh"
    booth, mobile = a[a["post_kind"] == "booth"], a[a["post_kind"] == "mobile"]
    assert set(booth["note"]) == {"walks the sector patrol (45 min)"}
    assert set(booth["note_zh"]) == {"巡区步巡（45分钟）"}
    assert set(booth["post_name_zh"]) == set(booth["post_name"]) == {"B1", "B2"}
    assert set(mobile["post_name"]) == {"patrol line at node 5"}
    assert set(mobile["post_name_zh"]) == {"车巡线：节点 5"}
    assert mobile["note"].isna().all() and mobile["note_zh"].isna().all()
    # the block's weekday in Chinese (block_label was "Mon 00:00-02:00" only, a tester)
    assert cols[cols.index("block_label") + 1] == "block_label_zh"
    labels = dict(zip(a["block_label"], a["block_label_zh"], strict=True))
    assert len(labels) == 21  # 7 days, 3 shifts
    assert labels["Mon 06:00-14:00"] == "周一 06:00-14:00"
    assert labels["Sun 22:00-06:00"] == "周日 22:00-06:00"
    blocks = pd.read_csv(tmp_path / "blocks.csv", dtype=str)
    assert blocks.columns.tolist()[blocks.columns.tolist().index("label") + 1] == "label_zh"
    assert blocks["label_zh"].iloc[20] == "周日 22:00-06:00"
    rows = pd.DataFrame(
        {
            "post_kind": ["relief", "rule"],
            "post_name": ["foot patrol at near Main St", "第一小学"],
            "note": ["stands in for officers on break", "07:30-08:30"],
        }
    )
    zh = with_zh_columns(rows)
    assert zh["post_name_zh"].tolist() == ["步巡点：Main St附近", "第一小学"]
    assert zh["note_zh"].tolist() == ["为就餐警员顶岗", "07:30-08:30"]
    assert zh["post_kind"].tolist() == ["relief", "rule"]


def test_sector_patrol_routes_on_the_zh_map_read_in_chinese() -> None:
    """The deploy report's map legend (a tester saw "B01 sector" under --lang zh)."""
    from xunfang.serve.deploy_report import block_map

    dep = deploy(sectors(box(-50, 550), box(550, 850)))
    zh = {t.name for t in block_map(dep, "zh").data if t.mode == "lines+text"}
    en = {t.name for t in block_map(dep, "en").data if t.mode == "lines+text"}
    assert {"B1 巡区", "B2 巡区"} <= zh and not any("sector" in n for n in zh)
    assert {"B1 sector", "B2 sector"} <= en


def test_an_interrupted_write_leaves_no_summary_and_deploy_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a single-area deploy left deploy_summary.json without report.html and
    exited 130 without a word: the summary is now written last (an earlier one removed
    first), so its absence marks an incomplete folder, and the command says so."""
    from xunfang.serve import deploy_report
    from xunfang.serve.cli_deploy import interrupted_line

    dep = deploy(None)
    out = tmp_path / "dep"
    deploy_report.write_deployment(dep, out)
    assert (out / "deploy_summary.json").is_file() and (out / "report.html").is_file()

    def stop(*_a: object, **_k: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy_report, "render_deploy_html", stop)  # Ctrl-C at the report
    with pytest.raises(KeyboardInterrupt):
        deploy_report.write_deployment(dep, out)
    assert (out / "deployment.csv").is_file() and not (out / "deploy_summary.json").exists()
    assert interrupted_line(out, writing=True) == (
        f"interrupted while writing: {out} is incomplete (deploy_summary.json, written last, "
        "is missing, and report.html may be too); run again"
    )
    assert interrupted_line(out, writing=False) == f"interrupted: nothing written to {out}"
    assert "输出不完整" in interrupted_line(out, writing=True, lang="zh")
