"""The city deploy and simulation reports: their city rows are the sums of the districts' own
figures, read back from each district's folder; and a dask scheduler with two worker
processes started here gives the same districts as this process for the same seed.

On the SYNTHETIC example city examples/shanghai (real OpenStreetMap streets of central
Shanghai, made-up boundary, stations and 110 calls of March 2024): its two areas 西片 and
东片 are planned here with 2 booths each, then deployed with a small roster (day shift 8
officers, night shift 6, 12 hours each, every day) and a calendar of three made-up schools
(two in 西片, one in 东片; dismissal 15:00-15:30 on school days) and one market in 东片
(Saturday and Sunday 10:00-12:00), and simulated on March 2024 (two replications).
"""

from __future__ import annotations

import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from xunfang.config import Settings
from xunfang.ingest.city import City
from xunfang.plan.booth_plan import PlanConfig
from xunfang.plan.city_plan import area_folder
from xunfang.plan.decisions import DecisionConfig
from xunfang.serve.city_deploy_report import render_city_deploy_html
from xunfang.serve.city_report import count, number, percent
from xunfang.serve.city_sim_report import render_city_sim_html
from xunfang.serve.cli_city_runs import district_polygons, run_city_deploy, run_city_simulation
from xunfang.serve.cli_plan_all import run_city_plan
from xunfang.simulate.scenario import load_scenario

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"
AREAS = ["area:东片", "area:西片"]  # sorted by name, as `area:all` lists them

ROSTER = """crew_per_vehicle = 2
min_rest_hours = 8
[booths]
default_min_staff = 1
[[shift]]
name = "day"
start = "08:00"
hours = 12
break_minutes = 30
days = "all"
officers = 8
vehicles = 1
[[shift]]
name = "night"
start = "20:00"
hours = 12
break_minutes = 30
days = "all"
officers = 6
vehicles = 1
"""

# WGS-84 points inside the areas (西片 lies west of 121.4745 E, 东片 east of it)
SCHOOLS = """name,lon,lat,type
West Primary,121.4694,31.2305,ES
West High,121.4680,31.2260,HS
East Primary,121.4791,31.2309,ES
"""

CALENDAR = """school_days = "Mon-Fri"
[schools]
file = "schools.csv"
type_column = "type"
[[place]]
name = "East market"
lon = 121.4800
lat = 31.2280
group = "market"
[[window]]
name = "dismissal"
at = "schools"
start = "15:00"
end = "15:30"
days = "school_days"
min_officers = 1
[[window]]
name = "market"
at = "group:market"
start = "10:00"
end = "12:00"
days = "Sat,Sun"
min_officers = 1
"""


class _Tables(HTMLParser):
    """The text of every ``<table class="districts">``: a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.computed_on: list[str] = []
        self._in_table = False
        self._cell: list[str] | None = None
        self._li: list[str] | None = None
        self._in_on = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("class") == "districts":
            self._in_table = True
            self.tables.append([])
        elif tag == "tr" and self._in_table:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._in_table:
            self._cell = []
        elif tag == "ul" and a.get("class") == "computed-on":
            self._in_on = True
        elif tag == "li" and self._in_on:
            self._li = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "li" and self._li is not None:
            self.computed_on.append("".join(self._li))
            self._li = None
        elif tag == "ul":
            self._in_on = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._li is not None:
            self._li.append(data)


def _parse(path: Path) -> _Tables:
    p = _Tables()
    p.feed(path.read_text("utf-8"))
    return p


def _city_row(table: list[list[str]]) -> dict[str, str]:
    """Heading -> cell of the table's city row (its last)."""
    head, last = table[0], table[-1]
    assert last[0] in ("city", "全市")
    return dict(zip(head, last, strict=True))


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture(scope="module")
def city(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example city planned here (both areas, 2 booths each), with roster and calendar;
    the files in GCJ-02 (``--output-frame gcj02``), which deploy and simulate read back."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    root = tmp_path_factory.mktemp("city")
    settings = Settings(data_dir=data_dir, cache_dir=root / "cache")
    the_city = City.from_toml(EXAMPLE / "city.toml", data_dir=data_dir)
    config = PlanConfig(
        city=the_city, booths=2, threshold_min=2.0, decisions=DecisionConfig(curve=False)
    )
    summaries, _totals, _report = run_city_plan(
        config,
        "area:all",
        settings,
        root / "plan",
        console=_quiet(),
        workers=0,
        output_frame="gcj02",
    )
    assert [s.area for s in summaries] == AREAS
    (root / "roster.toml").write_text(ROSTER, encoding="utf-8")
    (root / "schools.csv").write_text(SCHOOLS, encoding="utf-8")
    (root / "calendar.toml").write_text(CALENDAR, encoding="utf-8")
    return {"root": root, "settings": settings, "city": the_city, "plan": root / "plan"}


def test_city_plan_report_totals_are_sums_of_the_districts(city: dict[str, Any]) -> None:
    plans = [
        json.loads((city["plan"] / area_folder(a) / "plan_summary.json").read_text("utf-8"))
        for a in AREAS
    ]
    page = _parse(city["plan"] / "city_report.html")
    row = _city_row(page.tables[0])
    # 183 + 200 incidents of the example file inside the two areas, 2 booths each
    assert [p["incidents_in_area"] for p in plans] == [183, 200]
    assert row["incidents"] == "383" and row["booths"] == "4"
    assert row["booths"] == str(sum(p["booths"] for p in plans))
    assert [r[0] for r in page.tables[0][1:]] == [*AREAS, "city"]
    html = (city["plan"] / "city_report.html").read_text("utf-8")
    assert f'href="{area_folder(AREAS[1])}/report.html"' in html


def test_city_runs_write_and_read_the_output_frame(
    city: dict[str, Any], deployed: tuple[Any, dict[str, Any], Path]
) -> None:
    """``plan --area area:all --output-frame gcj02``: every district's files in GCJ-02 and
    saying so; deploy writes its posts in the plan's frame; both read back to WGS-84 give
    the road nodes' positions (x_m, y_m in the plan's UTM CRS) to 1e-6 degrees."""
    from pyproj import Transformer

    from xunfang.ingest.coords import gcj02_to_wgs84, wgs84_to_gcj02
    from xunfang.simulate.world import sites_from_csv

    _summaries, _totals, dep_out = deployed
    for area in AREAS:
        folder = city["plan"] / area_folder(area)
        summary = json.loads((folder / "plan_summary.json").read_text("utf-8"))
        assert summary["output_frame"] == "gcj02"
        sites = pd.read_csv(folder / "sites.csv", encoding="utf-8-sig")
        assert set(sites["coord_frame"]) == {"gcj02"}
        crs = city["city"].study_area(area).crs
        tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        wlon, wlat = tr.transform(sites["x_m"].to_numpy(), sites["y_m"].to_numpy())
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        np.testing.assert_allclose(sites["lon"], glon, atol=1e-9, rtol=0)
        np.testing.assert_allclose(sites["lat"], glat, atol=1e-9, rtol=0)
        back = sites_from_csv(folder / "sites.csv")  # what simulate reads
        np.testing.assert_allclose(back["lon"], wlon, atol=1e-6, rtol=0)
        np.testing.assert_allclose(back["lat"], wlat, atol=1e-6, rtol=0)
        dep = pd.read_csv(dep_out / area_folder(area) / "deployment.csv", encoding="utf-8-sig")
        assert set(dep["coord_frame"]) == {"gcj02"}
        booths = dep[dep["post_kind"] == "booth"].drop_duplicates("post_name")
        by_osm = dict(zip(sites["osm_id"], zip(wlon, wlat, strict=True), strict=True))
        assert len(booths) == 2
        dlon, dlat = gcj02_to_wgs84(booths["lon"].to_numpy(), booths["lat"].to_numpy())
        want = np.array([by_osm[o] for o in booths["osm_id"]])
        # deploy rounds to 6 decimals (~0.1 m)
        np.testing.assert_allclose(np.column_stack([dlon, dlat]), want, atol=1e-6, rtol=0)


def _deploy(city: dict[str, Any], out: Path, scheduler: str | None = None) -> Any:
    from xunfang.plan.deployment import DeployConfig

    return run_city_deploy(
        city["plan"],
        city["root"] / "roster.toml",
        city["root"] / "calendar.toml",
        city["settings"],
        out,
        console=_quiet(),
        config=DeployConfig(),
        scheduler=scheduler,
        workers=0,
    )


def _simulate(city: dict[str, Any], out: Path, scheduler: str | None = None) -> Any:
    return run_city_simulation(
        load_scenario(EXAMPLE / "scenario_march2024.toml"),
        city["plan"],
        city["settings"],
        out,
        console=_quiet(),
        replications=2,
        scheduler=scheduler,
        workers=0,
    )


@pytest.fixture(scope="module")
def deployed(city: dict[str, Any]) -> tuple[Any, dict[str, Any], Path]:
    out = city["root"] / "deploy"
    summaries, totals = _deploy(city, out)
    return summaries, totals, out


@pytest.fixture(scope="module")
def simulated(city: dict[str, Any]) -> tuple[Any, dict[str, Any], Path]:
    out = city["root"] / "sim"
    summaries, totals = _simulate(city, out)
    return summaries, totals, out


def test_city_deploy_report_totals_are_sums_of_the_districts(
    city: dict[str, Any], deployed: tuple[Any, dict[str, Any], Path]
) -> None:
    summaries, totals, out = deployed
    by_area = {s.area: s for s in summaries}
    # by hand: 8 + 6 officers, each on one 12-hour shift every day, in each district
    for s in summaries:
        assert s.officers == 14
        assert s.person_times == 7 * 14 and s.officer_hours == 7 * 14 * 12
    # school gates: 2 schools in 西片, 1 in 东片, one post each on 5 school days; the market
    # in 东片 adds a rule post on Saturday and Sunday
    assert by_area["area:西片"].school_gate_posts == 2 * 5
    assert by_area["area:东片"].school_gate_posts == 1 * 5
    assert by_area["area:西片"].rule_posts == 10 and by_area["area:东片"].rule_posts == 5 + 2
    # every district's figures from its own folder's files
    risk = covered = 0.0
    for area in AREAS:
        d = out / area_folder(area)
        dep = pd.read_csv(d / "deployment.csv")
        blocks = pd.read_csv(d / "blocks.csv")
        s = by_area[area]
        assert s.officers == dep["officer"].nunique()
        patrol = dep[dep["post_kind"].isin(["mobile", "foot"])]
        assert s.patrol_person_times == len(patrol.drop_duplicates(["officer", "shift_start"]))
        rule = dep[dep["post_kind"] == "rule"].drop_duplicates(["block", "post_name"])
        assert s.rule_posts == len(rule)
        schools = {"West Primary", "West High", "East Primary"}
        assert s.school_gate_posts == int(rule["post_name"].isin(schools).sum())
        assert s.booth_walks == int(pd.read_csv(d / "sectors.csv")["patrols"].sum()) > 0
        weekly = json.loads((d / "deploy_summary.json").read_text("utf-8"))["weekly"]
        assert s.person_times == weekly["person_times"]
        share = blocks["covered_share"].fillna(0.0)
        assert s.risk == pytest.approx(blocks["risk"].sum(), rel=1e-12)
        assert s.covered_risk == pytest.approx((blocks["risk"] * share).sum(), rel=1e-12)
        risk += float(blocks["risk"].sum())
        covered += float((blocks["risk"] * share).sum())
    # the city totals: sums, and the share from the sums
    assert totals["officers"] == 28 and totals["person_times"] == 196
    assert totals["school_gate_posts"] == 15 and totals["rule_posts"] == 17
    for key in ("booth_walks", "patrol_person_times", "incidents", "booths"):
        assert totals[key] == sum(getattr(s, key) for s in summaries)
    assert totals["covered_share"] == pytest.approx(covered / risk, rel=1e-12)
    assert totals["covered_share"] != pytest.approx(
        sum(s.covered_share for s in summaries) / 2, rel=1e-9
    )
    saved = json.loads((out / "city_deploy_summary.json").read_text("utf-8"))["totals"]
    assert saved["school_gate_posts"] == 15 and saved["officers"] == 28
    # the report's city row shows those totals
    page = _parse(out / "city_deploy_report.html")
    row = _city_row(page.tables[0])
    assert row["officers"] == "28" and row["school-gate posts"] == "15"
    assert row["person-times (officer shifts)"] == "196"
    assert row["booth walks (sector patrols)"] == count(totals["booth_walks"])
    assert row["hotspot patrol person-times"] == count(totals["patrol_person_times"])
    assert row["share within reach"] == percent(1)(covered / risk)
    assert row["risk (incidents / week)"] == number(1)(risk)
    assert [r[0] for r in page.tables[0][1:]] == [*AREAS, "city"]
    html = (out / "city_deploy_report.html").read_text("utf-8")
    assert f'href="{area_folder(AREAS[0])}/report.html"' in html
    assert (out / area_folder(AREAS[0]) / "report.html").is_file()
    on = " ".join(page.computed_on)
    # the plan, roster, calendar, incidents (383 in the two areas, all of March 2024)
    assert str(city["plan"]) in on and "calendar.toml" in on
    assert "Incidents: 383 inside the districts, 2024-03-01 to 2024-03-31" in on
    assert "Not held out" in on and "made from incidents of 2024-03-01 to 2024-03-31" in on
    # in Chinese: the same page, translated
    zh = render_city_deploy_html(
        summaries,
        district_polygons(city["city"], AREAS),
        "zh",
        plan_dir=city["plan"],
        roster="roster.toml",
    )
    assert "全市勤务部署：2 个辖区" in zh and "校园门口岗位" in zh and "非留出检验" in zh
    assert "City deployment" not in zh and "school-gate" not in zh


def test_city_simulation_report_totals_are_sums_of_the_districts(
    city: dict[str, Any], simulated: tuple[Any, dict[str, Any], Path]
) -> None:
    summaries, totals, out = simulated
    page = _parse(out / "city_simulation_report.html")
    assert [r[0] for r in page.tables[0][1:]] == [*AREAS, "city"]
    for i, v in enumerate(("stations", "booths")):
        calls = pd.concat(
            [pd.read_csv(out / area_folder(a) / f"calls_{v}.csv.gz") for a in AREAS],
            ignore_index=True,
        )
        units = pd.concat(
            [pd.read_csv(out / area_folder(a) / f"units_{v}.csv") for a in AREAS],
            ignore_index=True,
        )
        # 383 incidents of March replayed in each of 2 replications
        assert len(calls) == 2 * 383 == totals[f"{v}_calls"]
        served = calls[calls["served"]]
        resp = served["response_s"].to_numpy()
        within = float((resp <= 180.0).sum())
        assert totals[f"{v}_within_3min"] == within
        assert totals[f"{v}_share_within_3min"] == pytest.approx(within / len(calls), rel=1e-12)
        assert totals[f"{v}_mean_response_min"] == pytest.approx(resp.mean() / 60, rel=1e-12)
        p50, p90 = np.quantile(resp, [0.5, 0.9]) / 60
        assert totals[f"{v}_response_p50_min"] == pytest.approx(p50, rel=1e-12)
        assert totals[f"{v}_response_p90_min"] == pytest.approx(p90, rel=1e-12)
        util = units["busy_s"].sum() / units["on_duty_s"].sum()
        assert totals[f"{v}_utilisation"] == pytest.approx(util, rel=1e-12)
        for k in sorted(set(calls["priority"])):
            rk = served.loc[served["priority"] == k, "response_s"].to_numpy()
            assert totals[f"{v}_p{k}_calls"] == (calls["priority"] == k).sum()
            assert totals[f"{v}_p{k}_mean_response_min"] == pytest.approx(rk.mean() / 60)
            assert totals[f"{v}_p{k}_response_p90_min"] == pytest.approx(
                np.quantile(rk, 0.9) / 60, rel=1e-12
            )
        # the city is not the mean of the districts' percentiles
        rows = [s.to_dict() for s in summaries]
        assert not math.isclose(
            totals[f"{v}_response_p90_min"],
            sum(r[f"{v}_response_p90_min"] for r in rows) / 2,
            rel_tol=1e-9,
        )
        # the report's city rows
        row = _city_row(page.tables[i])
        assert row["calls"] == "766"
        assert row["median (min)"] == number(2)(p50) and row["90th pct (min)"] == number(2)(p90)
        assert row["within 3 min"] == percent(1)(within / len(calls))
        assert row["unit utilisation"] == percent(1)(util)
        # the calls the mean leaves out stand beside it
        unserved = len(calls) - len(served)
        assert totals[f"{v}_unserved"] == unserved
        assert row["unserved"] == count(unserved)
        assert row["unserved share"] == percent(1)(unserved / len(calls))
        assert row["mean of served (min)"] == number(2)(resp.mean() / 60)
        prio = _city_row(page.tables[2 + i])
        k = int(calls["priority"].min())
        rk = served.loc[served["priority"] == k, "response_s"].to_numpy()
        assert prio[f"P{k} min"] == " / ".join(
            number(2)(x) for x in (rk.mean() / 60, *(np.quantile(rk, [0.5, 0.9]) / 60))
        )
    assert "Calls never served: stations only " in (out / "city_simulation_report.html").read_text()
    on = " ".join(page.computed_on)
    assert "central Shanghai (synthetic), March 2024" in on and "seed 20240301" in on
    assert "383 incidents of 2024-03 inside the districts, replayed" in on
    # the plans were made from March itself: the report says the test is not held out
    assert all(s.held_out is False for s in summaries)
    assert "NOT held out: the plans of area:东片, area:西片" in on
    zh = render_city_sim_html(
        summaries,
        district_polygons(city["city"], AREAS),
        "zh",
        scenario_name="x",
        scenario_source="x.toml",
        plan_dir=city["plan"],
    )
    assert "全市仿真：2 个辖区" in zh and "非留出检验" in zh and "警力利用率" in zh
    assert "City simulation" not in zh and "unit utilisation" not in zh


def _same(a: Any, b: Any) -> None:
    """Two district summaries are equal but for their timings."""
    timing = {"wall_time_s", "cpu_time_s"}
    da = {k: v for k, v in a.to_dict().items() if k not in timing}
    db = {k: v for k, v in b.to_dict().items() if k not in timing}
    assert json.dumps(da, sort_keys=True, default=str) == json.dumps(
        db, sort_keys=True, default=str
    )


def test_city_deploy_and_simulation_on_a_cluster_equal_in_process(
    city: dict[str, Any],
    deployed: tuple[Any, dict[str, Any], Path],
    simulated: tuple[Any, dict[str, Any], Path],
    dask_processes_module: str,
) -> None:
    timeouts = {
        "distributed.comm.timeouts.connect": "180s",
        "distributed.comm.timeouts.tcp": "180s",
    }
    with dask.config.set(timeouts):
        there_dep, t_dep = _deploy(city, city["root"] / "deploy_cluster", dask_processes_module)
        there_sim, t_sim = _simulate(city, city["root"] / "sim_cluster", dask_processes_module)
    here_dep, here_t_dep, here_dep_out = deployed
    here_sim, here_t_sim, here_sim_out = simulated
    # the deployment: the same figures, and the same officers at the same posts
    for a, b in zip(here_dep, there_dep, strict=True):
        _same(a, b)
    for area in AREAS:
        here = pd.read_csv(here_dep_out / area_folder(area) / "deployment.csv")
        there = pd.read_csv(city["root"] / "deploy_cluster" / area_folder(area) / "deployment.csv")
        pd.testing.assert_frame_equal(here, there)
    assert {k: v for k, v in t_dep.items() if "time" not in k} == {
        k: v for k, v in here_t_dep.items() if "time" not in k
    }
    # the simulation: the same calls answered at the same times (same seed)
    for a, b in zip(here_sim, there_sim, strict=True):
        _same(a, b)
        for v in a.response_s:
            np.testing.assert_array_equal(a.response_s[v], b.response_s[v])
    for area in AREAS:
        for v in ("stations", "booths"):
            name = f"calls_{v}.csv.gz"
            pd.testing.assert_frame_equal(
                pd.read_csv(here_sim_out / area_folder(area) / name),
                pd.read_csv(city["root"] / "sim_cluster" / area_folder(area) / name),
            )
    assert t_sim["booths_response_p90_min"] == here_t_sim["booths_response_p90_min"]
    assert (city["root"] / "sim_cluster" / "city_simulation_report.html").is_file()


def test_simulate_run_with_a_city_plan_writes_the_report_in_chinese(
    city: dict[str, Any], data_dir: Path
) -> None:
    from typer.testing import CliRunner

    from xunfang.serve.cli import app

    out = city["root"] / "sim_cli"
    res = CliRunner().invoke(
        app,
        [
            "simulate", "run", "--scenario", str(EXAMPLE / "scenario_march2024.toml"),
            "--plan-dir", str(city["plan"]), "--replications", "1", "--workers", "0",
            "--lang", "zh", "--out", str(out), "--data-dir", str(data_dir),
        ],
        env={"COLUMNS": "200", "XUNFANG_CACHE_DIR": str(city["root"] / "cache")},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "city_simulation_report.html" in res.output
    # the terminal in Chinese too: the city network line and the closing line
    assert "全市路网（" in res.output and "个辖区：用时" in res.output
    assert "districts: wrote" not in res.output
    page = _parse(out / "city_simulation_report.html")
    row = _city_row(page.tables[0])
    assert row["警情"] == "383"  # one replication of March's 383 incidents
    assert any(line.startswith("非留出检验") for line in page.computed_on)


def test_city_deploy_goes_on_past_a_district_that_fails(
    city: dict[str, Any], tmp_path: Path
) -> None:
    import shutil

    plan = tmp_path / "plan"
    shutil.copytree(city["plan"], plan)
    (plan / area_folder("area:东片") / "sites.csv").unlink()  # 东片 cannot be deployed
    summaries, totals = _deploy({**city, "plan": plan}, tmp_path / "deploy")
    assert [s.area for s in summaries] == ["area:西片"] and totals["districts"] == 1
    assert list(totals["failed"]) == ["area:东片"]
    assert "sites.csv" in totals["failed"]["area:东片"]
    doc = json.loads((tmp_path / "deploy" / "city_deploy_summary.json").read_text("utf-8"))
    assert [d["area"] for d in doc["districts"]] == ["area:西片"]
    assert doc["failed"][0]["area"] == "area:东片"
    page = (tmp_path / "deploy" / "city_deploy_report.html").read_text("utf-8")
    assert "Not deployed: area:东片: " in page
