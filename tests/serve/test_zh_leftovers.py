"""English left in ``--lang zh`` output, found by a new-user test: the forecasters' own
reasons inside a note (gbm/stack with too little history, auto with no incident in its
validation windows) and the schools note of a deploy calendar. Data: the repository's
synthetic Shanghai example and a synthetic schools file written here."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from xunfang.ingest.notes import note_text
from xunfang.plan.roster import calendar_from_mapping
from xunfang.serve.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples/shanghai"


def test_forecast_predict_says_why_a_method_is_left_out_in_chinese(tmp_path: Path) -> None:
    # 31 days of synthetic calls: gbm needs 56 days, stack 29 with events, and the sparse
    # group has no incident in auto's validation windows; gbm's history starts 2024-03-02
    # 16:00 UTC, named by its local date in Shanghai, 2024-03-03
    args = ["forecast", "predict", "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv")]
    args += ["--mapping", str(EXAMPLE / "mapping_110.toml")]
    args += ["--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02"]
    args += ["--boundary-name", "西片", "--lang", "zh", "--out", str(tmp_path / "p")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = "".join(result.output.split())
    assert "gbm未参与选择：gbm至少需要56天的训练历史，实有28.0天（自2024-03-03起）" in text
    assert "stack至少需要29天的训练历史（且有警情），实有28.0天" in text
    assert "之前的3个验证时段都没有警情：请提供更长的历史" in text
    assert "needs at least" not in text and "give more history" not in text
    assert "gbm至少需要56天" in "".join((tmp_path / "p/report.html").read_text().split())


def test_forecast_predict_names_its_window_and_area_in_chinese(tmp_path: Path) -> None:
    # without an area the grid is the incidents' bounding rectangle: the table's title
    # said "预测 2024-04-01 day · bounding rectangle" under --lang zh (a tester), and the
    # report "区域：bounding rectangle"
    args = ["forecast", "predict", "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv")]
    args += ["--mapping", str(EXAMPLE / "mapping_110.toml"), "--frame", "gcj02"]
    args += ["--method", "naive", "--out", str(tmp_path / "p")]
    result = CliRunner().invoke(app, [*args, "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert "预测 2024-04-01 每日 · 全部警情的外接矩形" in result.output
    assert "bounding rectangle" not in result.output
    assert "区域：全部警情的外接矩形，" in (tmp_path / "p/report.html").read_text()
    en = CliRunner().invoke(app, args)
    assert "Forecast 2024-04-01 day · bounding rectangle" in en.output


def test_the_calendar_schools_note_in_chinese(tmp_path: Path) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text(
        "name,lon,lat,type\n一中,121.47,31.23,HS\n二小,121.48,31.23,ES\n三小,121.48,31.24,ES\n",
        encoding="utf-8",
    )
    cal = calendar_from_mapping({"schools": {"file": str(schools)}}, base_dir=tmp_path)
    (note,) = cal.notes
    assert note == (
        "3 schools read from schools.csv (ES 2, HS 1); bell times are not in the file: the "
        "calendar's windows set them"
    )
    assert note_text(note, "zh") == (
        "从 schools.csv 读取 3 所学校（ES 2，HS 1）；文件中没有上下学时间：由日程规则的时段设定"
    )
