"""The city reports in Chinese name districts by their members (西片, 1 区), not their ids
(area:西片, district:1), and translate solver statuses; the summaries keep the ids."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import shapely

from xunfang.plan.city_plan import DistrictSummary
from xunfang.serve.city_report import area_label, area_text, render_city_html


def _summary(area: str, status: str) -> DistrictSummary:
    return DistrictSummary(
        area=area, incidents=10, demand_weight=10.0, stations=1, booths=2,
        covered_before=4.0, covered_after=8.0, share_before=0.4, share_after=0.8,
        mean_before_s=100.0, mean_after_s=60.0, gain_per_booth=2.0, mclp_status=status,
        pmedian_status="time_limit", pmedian_proven=False, pmedian_gap=0.02,
        pmedian_objective=100.0, pmedian_bound=98.0, pmedian_time_s=1.0, wall_time_s=2.0,
        peak_rss_mib=100.0, lon=121.47, lat=31.23,
    )  # fmt: skip


def test_area_names_for_readers() -> None:
    assert area_text("area:西片,东片", "zh") == "西片、东片"
    assert area_text("西片,东片", "zh") == "西片、东片"
    assert area_text("district:1", "zh") == "1 区"
    assert area_text("district:黄浦示例区", "zh") == "黄浦示例区"
    assert area_text("community:LOOP", "zh") == "LOOP"
    assert area_text("district:1", "en") == "district:1"
    assert (area_label("district:1", "en"), area_label("district:1", "zh")) == ("1", "1 区")


def test_city_plan_page_in_chinese() -> None:
    box = shapely.box(121.46, 31.22, 121.48, 31.24)
    summaries = [_summary("area:西片", "optimal"), _summary("district:1", "time_limit")]
    page = render_city_html(summaries, {"area:西片": box, "district:1": box}, "zh")
    assert '<tr data-area="area:西片"><td>西片</td>' in page
    assert '<tr data-area="district:1"><td>1 区</td>' in page
    assert "<td>最优</td>" in page and "<td>达到时间上限</td>" in page
    assert ">optimal<" not in page and ">time_limit<" not in page
    # the p-median text: status in Chinese, gap 2.000 %
    assert "达到时间上限，间隙 2.000%" in page
    en = render_city_html(summaries, {"area:西片": box, "district:1": box}, "en")
    assert "<td>area:西片</td>" in en and "<td>optimal</td>" in en


def test_a_station_serving_two_districts_counts_once(tmp_path: Path) -> None:
    from xunfang.plan.city_plan import city_totals, distinct_stations

    head = "name,kind,lon,lat\n"
    # 甲 serves both districts (same name and place); 乙 and 丙 one each: 3 stations, 4 rows
    (tmp_path / "a.csv").write_text(
        head + "甲,station,121.47,31.23\n乙,station,121.48,31.22\nB1,booth,121.471,31.231\n",
        encoding="utf-8-sig",
    )
    (tmp_path / "b.csv").write_text(
        head + "甲,station,121.47,31.23\n丙,station,121.46,31.24\n", encoding="utf-8"
    )
    n = distinct_stations([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert n == 3
    summaries = [replace(_summary(a, "optimal"), stations=2) for a in ("area:西片", "area:东片")]
    t = city_totals(summaries, stations_distinct=n)
    assert (t["stations"], t["stations_distinct"]) == (4, 3)
    box = shapely.box(121.46, 31.22, 121.48, 31.24)
    polys = {"area:西片": box, "area:东片": box}
    zh = render_city_html(summaries, polys, "zh", counts={"stations_distinct": n})
    assert "派出所 3 个（不重复计）" in zh
    en = render_city_html(summaries, polys, "en", counts={"stations_distinct": n})
    assert "3 distinct stations" in en
    # without the distinct count (an older caller): the sum, not called distinct
    assert "4 stations" in render_city_html(summaries, polys, "en")
