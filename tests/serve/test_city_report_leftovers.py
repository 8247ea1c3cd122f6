"""What a city run leaves out of its districts, in its HTML pages and city_summary.json:
the folders beside the page from an earlier run (the JSON and terminal named them, the
pages did not) and the stations outside every area (the terminal named them, the JSON and
page did not). Synthetic districts and a made-up city on the equator, built here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import shapely

from xunfang.ingest.city import BoundaryLayer, City
from xunfang.plan.city_plan import DistrictSummary, StationsOutside, write_city_summary
from xunfang.serve.city_deploy_report import render_city_deploy_html
from xunfang.serve.city_report import render_city_html
from xunfang.serve.city_sim_report import render_city_sim_html
from xunfang.simulate.city_sim import SimDistrictSummary


def _summary(area: str, status: str) -> DistrictSummary:
    return DistrictSummary(
        area=area, incidents=10, demand_weight=10.0, stations=1, booths=2,
        covered_before=4.0, covered_after=8.0, share_before=0.4, share_after=0.8,
        mean_before_s=100.0, mean_after_s=60.0, gain_per_booth=2.0, mclp_status=status,
        pmedian_status="time_limit", pmedian_proven=False, pmedian_gap=0.02,
        pmedian_objective=100.0, pmedian_bound=98.0, pmedian_time_s=1.0, wall_time_s=2.0,
        peak_rss_mib=100.0, lon=121.47, lat=31.23,
    )  # fmt: skip


BOX = shapely.box(121.46, 31.22, 121.48, 31.24)
EARLIER = ["district_<9>&x", "district_3"]  # a folder name is the user's: escaped


def _notes(page: str) -> str:
    return page.split("<h2>Notes</h2>")[-1].split("<h2>说明</h2>")[-1]


def test_the_city_plan_page_names_the_earlier_runs_folders_escaped() -> None:
    s = [_summary("district:1", "optimal")]
    en = render_city_html(s, {"district:1": BOX}, "en", earlier_folders=EARLIER)
    assert (
        "2 folder(s) beside this page are from an earlier run, not this one (left in place; "
        "listed under earlier_run_folders in city_summary.json): "
        "district_&lt;9&gt;&amp;x, district_3."
    ) in _notes(en)
    assert "district_<9>" not in en
    zh = render_city_html(s, {"district:1": BOX}, "zh", earlier_folders=EARLIER)
    assert (
        "本页旁有 2 个文件夹来自之前的运行，不是本次的结果（未删除；见 city_summary.json 的 "
        "earlier_run_folders）：district_&lt;9&gt;&amp;x、district_3。"
    ) in _notes(zh)
    # none: no such note
    assert "earlier run" not in render_city_html(s, {"district:1": BOX}, "en")


def test_the_city_deploy_and_simulation_pages_name_the_earlier_runs_folders() -> None:
    deploy = render_city_deploy_html(
        [], {}, "en", plan_dir="plan", roster="roster.toml", earlier_folders=EARLIER
    )
    assert (
        "listed under earlier_run_folders in city_deploy_summary.json): "
        "district_&lt;9&gt;&amp;x, district_3."
    ) in _notes(deploy)
    sim: list[SimDistrictSummary] = []
    page = render_city_sim_html(
        sim,
        {},
        "zh",
        scenario_name="s",
        scenario_source="s.toml",
        plan_dir="plan",
        earlier_folders=EARLIER,
    )
    assert "见 city_simulation_summary.json 的 earlier_run_folders）：district_&lt;9&gt;" in page


def _equator_city(tmp_path: Path) -> City:
    """One square area from lon 0 to 0.01 E, lat 0 to 0.01 N; three stations: one inside,
    one 0.001 degrees east of it (within 500 m), one 0.01 degrees east."""
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "方块"},
                "geometry": shapely.geometry.mapping(shapely.box(0.0, 0.0, 0.01, 0.01)),
            }
        ],
    }
    (tmp_path / "area.geojson").write_text(json.dumps(square), encoding="utf-8")
    (tmp_path / "stations.csv").write_text(
        "name,lon,lat\n里面,0.005,0.005\n近处,0.011,0.005\n远处<1>,0.02,0.005\n",
        encoding="utf-8",
    )
    return City(
        name="equator",
        boundaries=(BoundaryLayer("area", tmp_path / "area.geojson"),),
        stations=tmp_path / "stations.csv",
        station_buffer_m=500.0,
    )


def test_the_stations_outside_every_area_are_in_the_city_summary_and_page(
    tmp_path: Path,
) -> None:
    city = _equator_city(tmp_path)
    # Web Mercator at the equator: x = 6378137 m * lon in radians, scale 1 there
    area = city.study_area("area:方块", crs="EPSG:3857")
    frame = city.stations_outside([area])
    outside = StationsOutside.from_frame(frame, "stations.csv", 500.0)
    by_hand_m = 6378137.0 * math.radians(0.02 - 0.01)  # 1113.19 m, the far one only
    assert [r["name"] for r in outside.stations] == ["远处<1>"]
    assert outside.stations[0]["source_row"] == 4  # the CSV's 4th line
    assert math.isclose(outside.stations[0]["distance_m"], by_hand_m, abs_tol=0.1)

    summaries = [_summary("area:方块", "optimal")]
    write_city_summary(summaries, tmp_path, stations_outside=outside)
    doc = json.loads((tmp_path / "city_summary.json").read_text("utf-8"))
    assert doc["stations_outside_areas"] == {
        "source": "stations.csv",
        "buffer_m": 500.0,
        "stations": [{"name": "远处<1>", "source_row": 4, "distance_m": 1113.2}],
    }
    # none outside: no key
    empty = StationsOutside.from_frame(frame.iloc[:0], "stations.csv", 500.0)
    write_city_summary(summaries, tmp_path / "b", stations_outside=empty)
    assert "stations_outside_areas" not in json.loads(
        (tmp_path / "b" / "city_summary.json").read_text("utf-8")
    )

    en = render_city_html(summaries, {"area:方块": BOX}, "en", stations_outside=outside)
    assert "<h2>Stations outside every district</h2>" in en
    assert (
        "1 station(s) of stations.csv lie more than 500 m from every district, so they are "
        "in no district&#x27;s plan"
    ) in en
    assert "<tr><td>远处&lt;1&gt;</td><td>4</td><td>1,113</td></tr>" in en
    zh = render_city_html(summaries, {"area:方块": BOX}, "zh", stations_outside=outside)
    assert "<h2>在所有辖区之外的派出所</h2>" in zh
    assert "stations.csv 中有 1 个派出所距每个辖区都超过 500 米，未用于任何辖区的方案" in zh
    assert "<th>距最近辖区（米）</th>" in zh
    assert "Stations outside" not in render_city_html(summaries, {"area:方块": BOX}, "en")


def test_stations_outside_from_an_empty_frame_has_none() -> None:
    frame = pd.DataFrame({"name": [], "source_row": [], "distance_m": []})
    assert StationsOutside.from_frame(frame, "s.csv", 300.0).stations == ()
