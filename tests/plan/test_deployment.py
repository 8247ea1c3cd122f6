"""Deployment by block: a hand-worked covering instance, breaks, rule windows, KPIs, refusals.

The small world used throughout: nine nodes on a straight street, 100 m apart, driven at
36 km/h (10 s per 100 m) and walked at 3.6 km/h (100 s per 100 m). With a coverage standard
of T = 25 s a vehicle or a booth reaches two nodes either way, a walker only its own node.
Risk per node (the same in every block)::

    node    0  1  2  3  4  5  6  7  8
    risk    5  1  1  2  4  3  1  6  1      (total 24)

The booth B1 stands at node 0 and covers nodes 0-2 once. One vehicle and one walker are to be
placed; backup coverage is worth 0.5 (beta). A vehicle at node 5 covers nodes 3-7 for the first
time: 2 + 4 + 3 + 1 + 6 = 16, more than at node 6 (4 + 3 + 1 + 6 + 1 = 15) or node 4 (2 + 4 + 3
+ 1 first, 0.5 x 1 backup = 10.5). With the vehicle at 5 the walker's best node is 7: backup
0.5 x 6 = 3, more than node 0 (0.5 x 5 = 2.5) or node 8 (first coverage 1). No other pair does
better (vehicle 6 + walker 3 = 15 + 2 = 17, vehicle 6 + walker 7 = 15 + 3 = 18 < 16 + 3 = 19).
Objective: booth 5 + 1 + 1 = 7, plus 19 = 26. Nodes reached: 0-7 (23 of 24 risk); twice: node 7
(6 of 24); by a patrol (vehicle or walker): nodes 3-7 (16 of 24).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from xunfang.analyse.grid import Grid
from xunfang.analyse.hotspots import WhereWhen
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.network import RoadNetwork, network_from_edges
from xunfang.plan.deployment import (
    BlockRisk,
    DeployConfig,
    HourOfWeekRisk,
    allocate_cover,
    break_plan,
    plan_deployment,
    share_stops,
)
from xunfang.plan.roster import (
    RuleCalendar,
    TimeBlock,
    calendar_from_mapping,
    make_blocks,
    roster_from_mapping,
)

CRS = "EPSG:32616"
RISK = np.array([5.0, 1, 1, 2, 4, 3, 1, 6, 1])
X0, Y0 = 447000.0, 4636000.0


def line_network(n: int = 9) -> RoadNetwork:
    xy = np.column_stack([X0 + 100.0 * np.arange(n), np.full(n, Y0)])
    return network_from_edges(xy, [(i, i + 1, 100.0) for i in range(n - 1)], CRS, speed_kph=36.0)


def const_risk(_block: TimeBlock) -> BlockRisk:
    return BlockRisk(np.arange(9, dtype=np.int64), RISK.copy())


SITES = pd.DataFrame({"name": ["HQ", "B1"], "kind": ["station", "booth"], "node": [4, 0]})
CONFIG = DeployConfig(threshold_min=25 / 60, walk_speed_kph=3.6, backup_weight=0.5, seed=3)


def roster(officers: int = 4, vehicles: int = 1, break_minutes: int = 0, **kw: Any) -> Any:
    shifts = [
        {
            "name": n,
            "start": s,
            "hours": 8,
            "officers": officers,
            "vehicles": vehicles,
            "break_minutes": break_minutes,
        }
        for n, s in (("day", "06:00"), ("evening", "14:00"), ("night", "22:00"))
    ]
    return roster_from_mapping({"shift": shifts, **kw}, "roster.toml")


def lonlat(node: int) -> tuple[float, float]:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 100.0 * node, Y0
    )
    return float(lon), float(lat)


# --------------------------------------------------------------------------- covering model
def line_cover() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = np.arange(9)
    drive = np.abs(i[:, None] - i[None, :]) <= 2
    walk = np.eye(9, dtype=bool)
    fixed = (i <= 2).astype(np.int64)
    return drive, walk, fixed


def test_allocate_cover_hand_worked() -> None:
    drive, walk, fixed = line_cover()
    res = allocate_cover(RISK, fixed, drive, walk, 1, 1, backup_weight=0.5)
    assert res.vehicle_sites.tolist() == [5]
    assert res.foot_sites.tolist() == [7]
    assert res.objective == pytest.approx(26.0)
    assert res.coverage.tolist() == [1, 1, 1, 1, 1, 1, 1, 2, 0]
    assert res.status == "optimal" and res.mip_gap == 0.0
    # without backup value the best is 24 (e.g. vehicle 5 + walker 8, or vehicle 6 + walker 3)
    assert allocate_cover(RISK, fixed, drive, walk, 1, 1, backup_weight=0.0).objective == 24.0
    # two vehicles: 5 and 6 -- node 8 reached once (1), nodes 4-7 twice (0.5 x (4+3+1+6));
    # e.g. 4 and 7 reach every node but only 2, 5, 6 twice: 24 + 0.5 x 5 = 26.5 < 31
    two = allocate_cover(RISK, fixed, drive, walk, 2, 0, backup_weight=0.5)
    assert two.vehicle_sites.tolist() == [5, 6]
    assert two.objective == pytest.approx(24 + 0.5 * 14)


def test_allocate_cover_edge_cases() -> None:
    drive, walk, fixed = line_cover()
    none = allocate_cover(RISK, fixed, drive, walk, 0, 0)
    assert none.status == "no_choice" and none.coverage.tolist() == fixed.tolist()
    assert none.objective == 7.0
    with pytest.raises(ValidationError, match="cannot place 10 vehicles"):
        allocate_cover(RISK, fixed, drive, walk, 10, 0)
    with pytest.raises(ValidationError, match="shapes do not match"):
        allocate_cover(RISK[:5], fixed, drive, walk, 1, 0)


def test_share_stops_nearest_first_with_capacity() -> None:
    t = np.array([[10.0, 20, 30, 40], [50, 15, 5, np.inf]])
    assert share_stops(t, 2).tolist() == [0, 1, 1, 0]
    assert share_stops(t, 1).tolist() == [0, -1, 1, -1]


# --------------------------------------------------------------------------- risk surfaces
def test_hour_of_week_risk_hand_worked() -> None:
    net = line_network()
    grid = Grid.from_bounds((X0 - 50, Y0 - 50, X0 + 850, Y0 + 49), 100.0, CRS)
    cell = grid.cell_of(np.array([[X0 + 200, Y0], [X0 + 600, Y0]]))
    ch = pd.DataFrame(
        {
            "type_group": ["vehicle", "vehicle", "vehicle", "property"],
            "cell": [cell[0], cell[0], cell[1], cell[1]],
            "hour_of_week": [0, 1, 5, 1],
            "count": [4, 2, 6, 6],
        }
    )
    ww = WhereWhen(grid, ("vehicle", "property"), pd.DataFrame(), np.zeros((3, 168)), ch, 0, 0)
    emph = np.ones((2, 168))
    emph[0] = 2.0  # vehicle x2
    block = TimeBlock(0, 0, 120, "night", 0, 0, 1)  # Mon 00:00-02:00
    raw = HourOfWeekRisk.from_where_when(ww, net, n_weeks=2, emphasis=emph, smoothing=0.0)
    r = raw(block)
    assert r.node.tolist() == [2, 6]
    # node 2: vehicle (4 + 2) / 2 weeks x 2 = 6; node 6: property 6 / 2 = 3
    # (node 6's vehicle incidents are at 05:00, outside the block)
    assert r.weight.tolist() == pytest.approx([6.0, 3.0])
    sep = replace(raw, smoothing=1.0)(block).weight
    # vehicle: 3 per week in the block, half at each node, x2; property 3 at node 6
    assert sep.tolist() == pytest.approx([3.0, 6.0])
    mixed = replace(raw, smoothing=0.5)(block).weight
    assert mixed.tolist() == pytest.approx([4.5, 4.5])
    half = TimeBlock(0, 30, 60, "x", 0, 0, 1)  # Mon 00:30-01:30: half of hour 0 and of hour 1
    assert raw(half).weight.tolist() == pytest.approx([(4 / 2 * 0.5 + 2 / 2 * 0.5) * 2, 1.5])


def test_block_risk_from_cells_moves_cells_to_nodes() -> None:
    net = line_network()
    grid = Grid.from_bounds((X0 - 50, Y0 - 50, X0 + 850, Y0 + 49), 100.0, CRS)
    values = np.zeros(grid.n_cells)
    values[grid.cell_of(np.array([[X0 + 300, Y0]]))[0]] = 2.5
    r = BlockRisk.from_cells(grid, values, net)
    assert r.node.tolist() == [3] and r.weight.tolist() == [2.5]
    with pytest.raises(ValidationError, match="finite and >= 0"):
        BlockRisk.from_cells(grid, -values, net)


# --------------------------------------------------------------------------- whole week
@pytest.fixture(scope="module")
def week() -> Any:
    return plan_deployment(line_network(), SITES, roster(), const_risk, config=CONFIG)


def test_every_block_gets_the_hand_worked_allocation(week: Any) -> None:
    k = week.block_kpis
    assert len(k) == 84
    assert k["objective"].to_numpy() == pytest.approx(np.full(84, 26.0))
    assert k["covered_share"].to_numpy() == pytest.approx(np.full(84, 23 / 24))
    assert k["backup_share"].to_numpy() == pytest.approx(np.full(84, 6 / 24))
    assert k["booth_covered_share"].to_numpy() == pytest.approx(np.full(84, 7 / 24))
    assert k["patrol_covered_share"].to_numpy() == pytest.approx(np.full(84, 16 / 24))
    a = week.assignments
    assert len(a) == 84 * 4
    per_kind = a.groupby("post_kind")["node"].agg(["count", "min", "max"])
    assert per_kind.loc["booth"].tolist() == [84, 0, 0]
    assert per_kind.loc["mobile"].tolist() == [168, 5, 5]
    assert per_kind.loc["foot"].tolist() == [84, 7, 7]
    # the booth officer is the first of the shift, the crew the next two: stable over the week
    day = a[a["shift"] == "day"]
    assert set(day.loc[day["post_kind"] == "booth", "officer"]) == {"day/01"}
    assert set(day.loc[day["post_kind"] == "mobile", "officer"]) == {"day/02", "day/03"}
    assert set(a["unit"]) == {"", "V01"}


def test_person_times_and_hours(week: Any) -> None:
    d = week.daily
    assert d["person_times"].tolist() == [12] * 7  # 3 shifts x 4 officers
    assert d["officer_hours"].tolist() == [96.0] * 7
    assert d["booth_hours"].tolist() == [24.0] * 7
    assert d["vehicle_patrol_hours"].tolist() == [48.0] * 7
    assert d["foot_patrol_hours"].tolist() == [24.0] * 7
    assert d["patrol_hours"].tolist() == [72.0] * 7
    assert d["vehicle_hours"].tolist() == [24.0] * 7
    w = week.weekly
    assert (w["person_times"], w["patrol_hours"], w["vehicle_hours"]) == (84, 504, 168)
    assert w["covered_share"] == pytest.approx(23 / 24)


def test_routes_fit_blocks_and_follow_roads(week: Any) -> None:
    assert len(week.routes) == 84
    m = week.network.matrix
    for rt in week.routes:
        assert rt.depot_node == 5 and rt.unit == "V01"
        assert rt.end_s <= rt.horizon_s == 7200
        assert ((rt.dwell_s >= 600) & (rt.dwell_s <= 900)).all()
        assert (rt.arrive_s[1:] >= rt.depart_s[:-1]).all()
        # the line has 9 stops worth 6,600 s of dwell and 160 s of driving at least: all fit
        assert sorted(rt.stop_nodes.tolist()) == list(range(9))
        p = rt.path_nodes
        assert p[0] == p[-1] == 5
        steps = p[1:] != p[:-1]
        assert (np.asarray(m[p[:-1][steps], p[1:][steps]]).ravel() > 0).all()
    assert week.block_kpis["route_risk_share"].to_numpy() == pytest.approx(np.ones(84))


def test_same_seed_same_routes_other_seed_other_routes() -> None:
    cfg = replace(CONFIG, block_hours=8.0)  # one block per shift: 21 blocks

    def routes(seed: int) -> list[list[int]]:
        dep = plan_deployment(
            line_network(), SITES, roster(), const_risk, config=replace(cfg, seed=seed)
        )
        return [r.stop_nodes.tolist() for r in dep.routes]

    first = routes(3)
    assert len(first) == 21
    assert routes(3) == first
    other = routes(4)
    assert sum(a == b for a, b in zip(first, other, strict=True)) < 21  # orders change
    assert all(sorted(a) == sorted(b) for a, b in zip(first, other, strict=True))


def test_breaks_are_staggered_and_relieved() -> None:
    r = roster(officers=10, break_minutes=30)
    blocks = make_blocks(r)
    day = [b for b in blocks if b.shift == "day" and b.shift_day == 0]
    plan = break_plan(r.shift("day"), sorted(day, key=lambda b: b.part))
    # 10 officers, interior blocks 2 and 3 (parts 1, 2), four 30-min slots each:
    # block 1 gets officers 0, 2, 4, 6, 8 in slots 0, 1, 2, 3, 0 -> at most 2 at once
    assert [plan[b.index].relief for b in sorted(day, key=lambda b: b.part)] == [0, 2, 2, 0]
    b1 = sorted(day, key=lambda b: b.part)[1]  # Mon 08:00-10:00
    assert plan[b1.index].breaks == {
        0: (480, 30),
        2: (510, 30),
        4: (540, 30),
        6: (570, 30),
        8: (480, 30),
    }
    dep = plan_deployment(line_network(), SITES, r, const_risk, config=CONFIG)
    k = dep.block_kpis
    assert k.loc[k["label"] == "Mon 08:00-10:00", ["relief", "foot"]].values.tolist() == [[2, 5]]
    assert k.loc[k["label"] == "Mon 06:00-08:00", ["relief", "foot"]].values.tolist() == [[0, 7]]
    a = dep.assignments
    one = a[(a["shift"] == "day") & (a["shift_start"] == "Mon 06:00")]
    assert (one.groupby("officer")["break_min"].sum() == 30).all()  # one break each
    assert one.loc[one["break_min"] > 0, "break_start"].min() == "08:00"
    relief = one[one["post_kind"] == "relief"]
    assert set(relief["officer"]) == {"day/09", "day/10"} and set(relief["node"]) == {4}


def calendar(min_officers: int = 1, evening: bool = False) -> RuleCalendar:
    lon, lat = lonlat(8)
    windows: list[dict[str, Any]] = [
        {
            "name": "dismissal",
            "at": "place:Gate",
            "start": "14:45",
            "end": "15:15",
            "days": "Mon-Fri",
            "min_officers": min_officers,
        },
    ]
    if evening:
        windows.append(
            {
                "name": "evening study",
                "at": "place:Gate",
                "start": "20:30",
                "end": "21:30",
                "days": "Mon-Fri",
                "min_officers": 2,
            }
        )
    return calendar_from_mapping(
        {"place": [{"name": "Gate", "lon": lon, "lat": lat, "group": "school"}], "window": windows}
    )


def test_rule_windows_always_get_their_minimum_presence() -> None:
    cal = calendar(evening=True)
    dep = plan_deployment(line_network(), SITES, roster(), const_risk, calendar=cal, config=CONFIG)
    a = dep.assignments
    rule = a[a["post_kind"] == "rule"]
    assert set(rule["post_name"]) == {"Gate"} and set(rule["node"]) == {8}
    staffed = rule.groupby("block").size()
    for win in cal.windows:
        for start, length in win.occurrences():
            hit = [b for b in dep.blocks if b.overlap_min(start, length) > 0]
            assert hit, win.name
            for b in hit:
                assert staffed.get(b.index, 0) >= win.min_officers, (win.name, b.label)
    # the windows overlap Mon-Fri 14:00-16:00 and 20:00-22:00 only
    labels = sorted(set(rule["block_label"].str[4:]))
    assert labels == ["14:00-16:00", "20:00-22:00"]
    assert len(staffed) == 10
    k = dep.block_kpis.set_index("label")
    # 14-16: booth 1 + gate 1 + crew 2 = 4 officers; the gate covers node 8: all risk reached
    assert k.loc["Tue 14:00-16:00", ["rule_staff", "vehicles", "foot"]].tolist() == [1, 1, 0]
    assert k.loc["Tue 14:00-16:00", "covered_share"] == 1.0
    # 20-22: booth 1 + gate 2 leave one officer: no crew for the car, one walker
    assert k.loc["Tue 20:00-22:00", ["rule_staff", "vehicles", "foot"]].tolist() == [2, 0, 1]
    assert any("stand idle" in n for n in dep.notes)
    note = rule.loc[rule["block_label"] == "Wed 20:00-22:00", "note"].iloc[0]
    assert note == "evening study 20:30-21:30"


def test_more_posts_than_officers_is_refused() -> None:
    with pytest.raises(DataFileError, match="more posts than officers") as e:
        plan_deployment(
            line_network(), SITES, roster(), const_risk, calendar=calendar(4), config=CONFIG
        )
    assert e.value.field == "shift[2].officers"
    assert "'evening' has 4 officers but Mon 14:00-16:00 needs 1 at booths + 4 at rule posts" in (
        str(e.value)
    )


def test_unknown_booth_and_bad_inputs_are_refused() -> None:
    r = roster(booths={"min_staff": {"B7": 2}})
    with pytest.raises(DataFileError, match="unknown booth 'B7'") as e:
        plan_deployment(line_network(), SITES, r, const_risk, config=CONFIG)
    assert e.value.field == "booths.min_staff.B7"
    with pytest.raises(ValidationError, match="sites needs the columns"):
        plan_deployment(line_network(), SITES.drop(columns="kind"), roster(), const_risk)
    with pytest.raises(ValidationError, match="--threshold-min must be > 0"):
        plan_deployment(
            line_network(), SITES, roster(), const_risk, config=DeployConfig(threshold_min=0)
        )
    # before: 1e9 minutes was accepted (a post then "covers" everything)
    with pytest.raises(ValidationError, match="at most 120 minutes, got 1e\\+09"):
        DeployConfig(threshold_min=1e9).validate()
    DeployConfig(threshold_min=120.0).validate()

    def bad_risk(block: TimeBlock) -> BlockRisk:
        return BlockRisk(np.array([0, 99]), np.array([1.0, 1.0]))

    with pytest.raises(ValidationError, match="node index outside the network"):
        plan_deployment(line_network(), SITES, roster(), bad_risk, config=CONFIG)


def test_outputs_are_written(week: Any, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from xunfang.serve.deploy_report import write_deployment

    written = write_deployment(week, tmp_path, lang="zh")
    assert {"report.html", "deployment.csv", "blocks.csv", "daily.csv", "routes.geojson"} <= set(
        written
    )
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors (ODbL)" in html and "周一 06:00-08:00" in html
    table = pd.read_csv(tmp_path / "deployment.csv")
    assert len(table) == 84 * 4
    assert {"block", "officer", "post_kind", "post_name", "node", "lon", "lat"} <= set(table)
    gj = json.loads((tmp_path / "routes.geojson").read_text(encoding="utf-8"))
    assert len(gj["features"]) == 84
    one = tmp_path / "routes" / "V01" / "V01_Mon-0600.gpx"
    root = ET.parse(one).getroot()
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert len(root.findall("g:wpt", ns)) == 9
    assert len(root.findall("g:rte/g:rtept", ns)) == 11  # base, 9 stops, base
    sched = (tmp_path / "schedules" / "V01.html").read_text(encoding="utf-8")
    assert sched.count("<h2>") == 84 and "返回起点" in sched


def test_duty_tables_speak_the_report_language(week: Any) -> None:
    """Under zh the tables' column heads, weekdays, shift names and the deployment's own
    words are Chinese; under en they stay English (same hand-worked week as above)."""
    from xunfang.serve.deploy_report import render_deploy_html, render_schedule

    zh = render_deploy_html(week, "zh")
    # block table: block label, shift name, officers of the shift (4)
    assert '<td>周一 06:00-08:00</td><td class="l">白班</td><td>4</td>' in zh
    assert '<td>周日 22:00-00:00</td><td class="l">夜班</td><td>4</td>' in zh
    assert "<th>时段</th><th>班次</th><th>警力</th>" in zh
    # daily table: Monday's 12 person-times and 96 officer-hours; the week's row
    assert "<tr><td>周一</td><td>12</td><td>96</td>" in zh
    assert "<tr><th>全周</th><th>84</th>" in zh
    # who is where: the vehicle's post at node 5 and the walker's at node 7
    assert '<td>车巡</td><td class="l">车巡线：节点 5</td>' in zh
    assert '<td>步巡</td><td class="l">步巡点：节点 7</td>' in zh
    for english in ("<th>shift</th>", "<th>officers</th>", "≥1 post", "<th>week</th>", "Mon 0"):
        assert english not in zh
    from xunfang.serve.deploy_report import _label

    assert _label("walks the sector patrol (45 min)", "zh") == "巡区步巡（45分钟）"
    assert _label("walks the sector patrol (45 min)", "en") == "walks the sector patrol (45 min)"
    assert _label("stands in for officers on break", "zh") == "为就餐警员顶岗"
    sched = render_schedule(week, "V01", "zh")
    assert "<h2>周一 06:00-08:00</h2>" in sched and "min driving" not in sched
    en = render_deploy_html(week, "en")
    assert '<td>Mon 06:00-08:00</td><td class="l">day</td><td>4</td>' in en
    assert "<tr><td>Mon</td><td>12</td><td>96</td>" in en
    assert '<td>vehicle crews</td><td class="l">patrol line at node 5</td>' in en


# --------------------------------------------------------------------------- real data (Loop)
@pytest.fixture(scope="module")
def loop_plan(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from xunfang.config import Settings
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
    from xunfang.serve.report import write_plan

    tmp = tmp_path_factory.mktemp("loop_deploy")
    station = tmp / "fixed.csv"
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
    write_plan(plan, tmp / "plan")
    return plan, tmp, files


@pytest.mark.realdata
def test_loop_week_from_a_booth_plan_in_memory(loop_plan: Any) -> None:
    from xunfang.plan.deployment import deploy_from_booth_plan

    plan = loop_plan[0]
    r = roster(officers=9, vehicles=2)  # 5 booths + 2 crews of 2
    dep = deploy_from_booth_plan(plan, r, config=DeployConfig(block_hours=8.0))
    k = dep.block_kpis
    assert len(k) == 21 and (k["booth_staff"] == 5).all() and (k["vehicles"] == 2).all()
    assert (k["foot"] == 0).all() and (k["mip_status"] == "optimal").all()
    # the booths were sited by MCLP at 1 min on the same incidents: they reach most risk
    assert (k["booth_covered_share"] > 0.5).all()
    assert (k["covered_share"] >= k["booth_covered_share"]).all()
    assert all(rt.end_s <= rt.horizon_s for rt in dep.routes)
    # 2 vehicles, and the 5 booths' sector walks (the plan's sectors), in each of 21 blocks
    assert len(dep.routes) == 21 * (2 + 5) and dep.sector_kpis is not None
    assert dep.sector_kpis.loc[dep.sector_kpis["kind"] == "booth", "patrols"].tolist() == [21] * 5


@pytest.mark.realdata
def test_loop_week_from_the_command_line(loop_plan: Any, data_dir: Path) -> None:
    from typer.testing import CliRunner

    from xunfang.serve.cli_deploy import app

    _, tmp, files = loop_plan
    (tmp / "roster.toml").write_text(
        "[[shift]]\nname = 'day'\nstart = '07:00'\nhours = 8\nofficers = 14\nvehicles = 3\n"
        "[[shift]]\nname = 'evening'\nstart = '15:00'\nhours = 8\nofficers = 14\nvehicles = 3\n"
        "[[shift]]\nname = 'night'\nstart = '23:00'\nhours = 8\nofficers = 12\nvehicles = 3\n",
        encoding="utf-8",
    )
    (tmp / "calendar.toml").write_text(
        "[schools]\nfile = 'data:chicago/schools/ChicagoPublicSchools_2011-12.csv'\n"
        "[[window]]\nname = 'HS dismissal'\nat = 'schools:HS'\nstart = '15:00'\nend = '15:30'\n"
        "days = 'school_days'\nmin_officers = 2\n"
        "[[emphasis]]\ntype_group = 'vehicle'\nstart = '22:00'\nend = '06:00'\nweight = 2.0\n",
        encoding="utf-8",
    )
    args = [
        "--plan-dir",
        str(tmp / "plan"),
        "--roster",
        str(tmp / "roster.toml"),
        "--calendar",
        str(tmp / "calendar.toml"),
        "--out",
        str(tmp / "out"),
        "--block-hours",
        "4",
        "--seed",
        "7",
        "--data-dir",
        str(data_dir),
    ]
    for f in files:
        args += ["--incidents", str(f)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = tmp / "out"
    a = pd.read_csv(out / "deployment.csv")
    k = pd.read_csv(out / "blocks.csv")
    assert len(k) == 42  # 3 shifts x 2 blocks x 7 days
    # every block: the 5 booths staffed, by the same officers through the shift
    booth = a[a["post_kind"] == "booth"]
    assert (booth.groupby("block").size() == 5).all() and booth["block"].nunique() == 42
    # the one high school of the Loop (Jones College Prep) gets 2 officers Mon-Fri 15:00-19:00
    rule = a[a["post_kind"] == "rule"]
    assert set(rule["post_name"]) == {"William Jones College Preparatory High School"}
    assert sorted(rule.groupby("block_label").size().items()) == [
        (f"{d} 15:00-19:00", 2) for d in ("Fri", "Mon", "Thu", "Tue", "Wed")
    ]
    assert (k["covered_share"].between(0, 1)).all() and (k["vehicles"] == 3).all()
    d = pd.read_csv(out / "daily.csv")
    assert d["person_times"].tolist() == [40] * 7
    gj = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))
    # 3 vehicles, and one walker of each of the 5 booths on a loop of the booth's sector
    assert len(gj["features"]) == 42 * (3 + 5)
    walks = [f for f in gj["features"] if f["properties"]["unit"].endswith(" sector")]
    assert len(walks) == 42 * 5 and all(f["properties"]["duration_min"] <= 45 for f in walks)
    assert all(
        f["properties"]["duration_min"] <= f["properties"]["block_min"] for f in gj["features"]
    )
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "../plan/report.html" in html
