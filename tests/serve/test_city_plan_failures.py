"""A city plan goes on past a district that cannot be planned: on the SYNTHETIC example city
examples/shanghai, incidents only inside 西片 leave 东片 with none; 西片 is planned, 东片
is listed with its reason in the city summary and report, the exit code is 0 with a
warning; with no district planned the exit code is 2 (an error)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from xunfang.plan.city_plan import area_folder
from xunfang.serve import cli

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"


def _west_only(tmp_path: Path) -> Path:
    """The example's incidents inside the 西片 polygon (both files GCJ-02), GBK as given."""
    doc = json.loads((EXAMPLE / "boundary_gcj02.geojson").read_text("utf-8"))
    (west,) = [f for f in doc["features"] if f["properties"]["name"] == "西片"]
    poly = shapely.geometry.shape(west["geometry"])
    lines = (EXAMPLE / "incidents_110_synthetic.csv").read_bytes().decode("gb18030").splitlines()
    keep = [
        line
        for line in lines[1:]
        if poly.contains(shapely.Point(float(line.split(",")[4]), float(line.split(",")[5])))
    ]
    assert 150 < len(keep) < len(lines) - 1
    path = tmp_path / "west.csv"
    path.write_bytes(("\n".join([lines[0], *keep]) + "\n").encode("gb18030"))
    return path


def _plan(data_dir: Path, incidents: Path, area: str, out: Path, lang: str = "en") -> object:
    return CliRunner().invoke(
        cli.app,
        [
            "plan", "--city", str(EXAMPLE / "city.toml"), "--area", area, "--each",
            "--incidents", str(incidents), "--profile", "cn110", "--booths", "2",
            "--threshold-min", "2", "--no-curve", "--no-sectors", "--workers", "0",
            "--lang", lang, "--data-dir", str(data_dir), "--out", str(out),
        ],
    )  # fmt: skip


def test_one_empty_area_does_not_stop_the_city_plan(data_dir: Path, tmp_path: Path) -> None:
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    west = _west_only(tmp_path)
    out = tmp_path / "plan"
    res = _plan(data_dir, west, "area:西片,东片", out)
    assert res.exit_code == 0, res.output
    assert "warning: area:东片 not planned" in " ".join(res.output.split())
    doc = json.loads((out / "city_summary.json").read_text("utf-8"))
    assert [d["area"] for d in doc["districts"]] == ["area:西片"]
    assert doc["totals"]["districts"] == 1 and doc["totals"]["booths"] == 2
    (failed,) = doc["failed"]
    assert failed["area"] == "area:东片"
    assert failed["reason"].startswith("no incidents inside area:东片")
    table = pd.read_csv(out / "city_summary.csv", keep_default_na=False)
    # the last row counts the incidents inside neither polygon: none, all are in 西片
    assert table["area"].tolist() == ["area:西片", "area:东片", "(in no area)"]
    assert table["failed"].tolist()[0] == table["failed"].tolist()[2] == ""
    assert table["failed"].tolist()[1].startswith("no incidents inside area:东片")
    assert table["incidents"].tolist()[2] == "0" and doc["totals"]["incidents_in_no_area"] == 0
    assert (out / area_folder("area:西片") / "report.html").is_file()
    assert not (out / area_folder("area:东片")).exists()
    report = (out / "city_report.html").read_text("utf-8")
    assert "Not planned: area:东片: no incidents inside area:东片" in report
    # in Chinese: the area by its name, the reason translated
    res = _plan(data_dir, west, "area:西片,东片", tmp_path / "zh", lang="zh")
    assert res.exit_code == 0, res.output
    report = (tmp_path / "zh" / "city_report.html").read_text("utf-8")
    assert "未能规划：东片：" in report and "全市数值不含该区域" in report
    # every area empty: an error, nothing planned
    res = _plan(data_dir, west, "area:东片", tmp_path / "none")
    assert res.exit_code == 2
    assert "every area failed: area:东片: no incidents inside area:东片" in " ".join(
        res.output.split()
    )
