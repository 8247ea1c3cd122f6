"""The pieces the city pages share: the district table (links, city row, missing figures),
the district map's colours, and the language check (synthetic districts made here)."""

from __future__ import annotations

import math

import pytest
import shapely

from xunfang.errors import ValidationError
from xunfang.serve.city_report import (
    Column,
    count,
    district_map,
    district_table,
    number,
    percent,
    render_city_page,
)


def test_district_table_links_each_district_and_ends_with_the_city_row() -> None:
    rows = [
        {"area": "district:1", "calls": 1234.0, "share": 0.25},
        {"area": "district:<2>", "calls": 10.0, "share": math.nan},
    ]
    html = district_table(
        [Column("calls", "calls", count), Column("share", "share", percent(1))],
        rows,
        lang="en",
        total={"calls": 1244.0, "share": 0.2508},
        links={"district:1": "district_1/report.html"},
    )
    assert '<td><a href="district_1/report.html">district:1</a></td><td>1,234</td>' in html
    # a name is escaped; a missing figure is a dash, not "nan"
    assert "<td>district:&lt;2&gt;</td><td>10</td><td>–</td>" in html
    assert '<tr class="total"><td>city</td><td>1,244</td><td>25.1%</td></tr>' in html
    zh = district_table([Column("calls", "警情", count)], rows[:1], lang="zh", total={"calls": 1})
    assert "<th>辖区</th><th>警情</th>" in zh and "<td>全市</td><td>1</td>" in zh
    assert number(2)(3.14159) == "3.14" and number(0)(None) == "–"


def test_district_map_fills_higher_figures_darker_and_missing_grey() -> None:
    polys = {
        "a": shapely.box(0.0, 0.0, 1.0, 1.0),
        "b": shapely.box(1.0, 0.0, 2.0, 1.0),
        "c": shapely.box(2.0, 0.0, 3.0, 1.0),
    }
    fig = district_map(
        ["a", "b", "c"],
        [0.2, 0.8, math.nan],
        polys,
        labels=["a", "b", "c"],
        hover=["a", "b", "c"],
        colour_title="share",
        colorscale="Greys",
    )
    fills = [t.fillcolor for t in fig.data[:3]]

    def lightness(rgba: str) -> int:
        return int(rgba.removeprefix("rgba(").split(",")[0])

    # Greys from 12 % (lowest district) to 100 % (highest): the higher one is darker
    assert lightness(fills[1]) < lightness(fills[0])
    assert fills[2] == "rgba(200, 200, 200, 0.5)"
    marker = fig.data[3].marker
    assert (marker.cmin, marker.cmax) == (0.2, 0.8)
    assert list(marker.color)[:2] == [0.2, 0.8] and math.isnan(marker.color[2])
    # markers at a point inside each district
    assert 0.0 < fig.data[3].x[0] < 1.0 and 2.0 < fig.data[3].x[2] < 3.0


def test_city_page_refuses_an_unknown_language() -> None:
    with pytest.raises(ValidationError, match=r"--lang must be one of \('en', 'zh'\), got 'fr'"):
        render_city_page(
            lang="fr",
            title="t",
            lead="l",
            cards=[],
            computed_on=[],
            map_fig=None,
            map_help="",
            sections=[],
        )
