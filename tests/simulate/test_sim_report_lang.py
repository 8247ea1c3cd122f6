"""The simulation report in Chinese (``simulate run --lang zh``): the same figures as the
English report under translated labels, on the synthetic Shanghai example (real OSM
streets; ``examples/shanghai``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from xunfang.config import Settings
from xunfang.serve.cli_simulate import app
from xunfang.serve.sim_report import _one_way, plan_source_text, write_simulation
from xunfang.simulate.runner import Comparison, prepare, run_prepared
from xunfang.simulate.scenario import Scenario
from xunfang.simulate.tables import validate_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shanghai"


def test_one_way_is_read_from_the_travel_time_graph() -> None:
    # 0 <-> 1 both ways, 1 -> 2 one way: one-way; the same with 2 -> 1 added: two-way
    one = sp.csr_matrix(([10.0, 10.0, 7.0], ([0, 1, 1], [1, 0, 2])), shape=(3, 3))
    both = sp.csr_matrix(([10.0, 10.0, 7.0, 9.0], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    assert _one_way(one) is True
    assert _one_way(both) is False


def test_plan_source_in_chinese() -> None:
    assert (
        plan_source_text(
            "MCLP plan made here: 2 booths, 2 min threshold, incidents before 2024-03", "zh"
        )
        == "本次生成的MCLP方案：2个岗亭，覆盖标准2分钟，使用2024-03之前的警情"
    )
    assert plan_source_text("sites of out/sh/sites.csv", "zh") == "out/sh/sites.csv 中的站点"
    assert plan_source_text("sites of out/sh/sites.csv", "en") == "sites of out/sh/sites.csv"


@pytest.fixture(scope="module")
def shanghai_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    # the example's three stations and two booths (GCJ-02, as a plan of the example writes)
    sites = tmp_path_factory.mktemp("plan") / "sites.csv"
    sites.write_text(
        "name,kind,lon,lat,coord_frame\n"
        "示例派出所甲,station,121.4745349,31.2280675,gcj02\n"
        "示例派出所乙,station,121.4835051,31.2245412,gcj02\n"
        "示例派出所丙,station,121.4830076,31.2340470,gcj02\n"
        "B01,booth,121.4708396,31.2226111,gcj02\n"
        "B02,booth,121.4819167,31.2206677,gcj02\n",
        encoding="utf-8",
    )
    scenario = validate_model(
        Scenario,
        {
            "scenario": {
                "name": "lang test",
                "city": str(EXAMPLE / "city.toml"),
                "area": "西片,东片",
                "month": "2024-03",
                "replications": 1,
                "seed": 7,
                "compare": ["stations", "booths"],
            },
            "calls": {"training_months": 1},
            "plan": {"sites_csv": str(sites)},
            "units": {"station_car": {"per_station": 2}},
        },
        "test",
    )
    settings = Settings(data_dir=data_dir, cache_dir=tmp_path_factory.mktemp("cache"))
    return run_prepared(prepare(scenario, settings))


def _rows(html: str) -> list[list[str]]:
    """The comparison table's rows: label and one cell per scenario."""
    table = html.split("<table>")[1].split("</table>")[0]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r) for r in table.split("<tr>")[1:]]


def test_chinese_report_has_the_english_figures(shanghai_run: Comparison, tmp_path: Path) -> None:
    zh = write_simulation(shanghai_run, tmp_path / "zh", lang="zh")["report.html"].read_text(
        encoding="utf-8"
    )
    en = write_simulation(shanghai_run, tmp_path / "en", lang="en")["report.html"].read_text(
        encoding="utf-8"
    )
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    zh_rows, en_rows = _rows(zh), _rows(en)
    assert zh_rows[0] == ["指标", "仅派出所", "派出所 + 岗亭"]
    assert en_rows[0] == ["figure", "stations only", "stations + booths"]
    assert len(zh_rows) == len(en_rows) > 10
    # every figure the same, under its Chinese label
    assert [r[1:] for r in zh_rows[1:]] == [r[1:] for r in en_rows[1:]]
    labels = dict(zip([r[0] for r in en_rows], [r[0] for r in zh_rows], strict=True))
    assert labels["calls"] == "警情数"
    assert labels["units"] == "警力单元"
    assert labels["on scene within 3 min of the call"] == "报警后3分钟内到场"
    # the two scenarios: 2 cars at each of the 3 stations; the booths add one officer each
    units = next(r for r in zh_rows if r[0] == "警力单元")
    assert units[1:] == ["6", "8"]
    for english in (
        "Scenario comparison",
        "Notes, sources and limits",
        "Run time",
        "median response",
    ):
        assert english not in zh
    # the Shanghai streets have one-way streets, and the note says so in both languages
    assert "单行道按路网方向通行" in zh and "one-way streets are driven in their direction" in en


def test_cli_lang(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--scenario",
            str(EXAMPLE / "scenario_march2024.toml"),
            "--lang",
            "fr",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0 and "--lang must be one of" in result.output
    assert not (tmp_path / "report.html").exists()
