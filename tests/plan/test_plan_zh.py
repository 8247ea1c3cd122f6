"""The Shanghai example plan under ``--lang zh``: the road-network notes and the stations
note are Chinese sentences with the example's own figures, in the terminal and the report
(the figures are those of the English notes, which the other tests keep as they were)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from typer.testing import CliRunner

from xunfang.ingest.coords import gcj02_to_wgs84
from xunfang.serve import cli
from xunfang.units import WGS84

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"
# three English words in a row: an English sentence left in the Chinese output
ENGLISH = re.compile(r"\b[A-Za-z]+ [A-Za-z]+ [A-Za-z]+\b")


@pytest.mark.realdata
def test_shanghai_plan_notes_in_chinese(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    city_dir = tmp_path / "city"
    shutil.copytree(EXAMPLE, city_dir)
    stations = city_dir / "stations_gcj02.csv"  # plus one station far east of the area
    stations.write_text(
        stations.read_text("utf-8").rstrip("\n") + "\n远处派出所,121.5100000,31.2300000,far\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(cli.console, "width", 2000)  # one note per line
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        cli.app,
        [
            "plan", "--city", str(city_dir / "city.toml"), "--booths", "6", "--threshold-min",
            "2", "--no-curve", "--no-sectors", "--lang", "zh", "--data-dir", str(data_dir),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "plan_summary.json").read_text("utf-8"))
    net = summary["network"]
    # the figures the notes repeat, as the network report counts them
    assert (net["nodes"], net["nodes_left_out"], net["edges_read"], net["edges_kept"]) == (
        409,
        318,
        796,
        793,
    )
    assert net["ways_excluded"] == {"access=no": 3}
    assert round(net["area_road_km"], 1) == 55.4
    assert round(100 * net["area_road_km_kept"] / net["area_road_km"], 1) == 74.7
    expected = [
        "单行道依据 'oneway' 标签：793 条道路中 528 条为单行（标注单行 528，标注双向 265）；"
        "'oneway=reversible' 按双向处理。",
        "读取 central_shanghai_drive.osm 中 796 条道路；保留 793 条可行车道路；"
        "按道路等级不可行车：无；禁止机动车：access=no 3。",
        "速度：687 条有向边中 29 条全部或部分采用标注限速（maxspeed）；其余按 CN 道路等级速度表"
        "（已指定 country CN）取值，公里/小时：motorway 80，trunk 60，primary 40，secondary 30，"
        "tertiary 30，unclassified 20，residential 20，living_street 10，service 15。",
        "按研究区域（含外扩边距）裁剪：剔除区外 0 个节点、0 段道路。",
        "将 2454 个节点之间的 2845 段有向路段简化为路口与尽头路之间的 1069 条有向边；"
        "合并后每条边的通行时间为其各路段按各自速度计算的时间之和。",
        "保留最大强连通分量：727 个节点中保留 409 个；205 个较小分量中的 318 个节点、"
        "382 条有向边、31.56 公里道路被剔除"
        "（无法既驶入又驶出的道路，如在文件边缘被截断的单行道）。",
        "研究区域内 55.4 公里道路保留 74.7 %（13.99 公里随较小分量被剔除）。",
        "最终路网有 409 个节点、687 条有向边、584 段道路，共 59.0 公里。",
        "道路数据 (c) OpenStreetMap 贡献者，ODbL 1.0 许可。",
    ]
    # 727 - 409 = 318 nodes left out; 55.4 km x (1 - 0.747) ≈ 14.0 km cut off (13.99)
    lines = [line.strip() for line in res.output.splitlines()]
    report = html.unescape((out / "report.html").read_text("utf-8"))
    for sentence in expected:
        assert sentence in lines
        assert f"<li>{sentence}</li>" in report

    # the far station: its distance from the area's polygon, as the plan measures it
    from xunfang.ingest.city import resolve_city

    area = resolve_city(
        boundary=EXAMPLE / "boundary_gcj02.geojson", boundary_name="西片,东片", frame="gcj02"
    ).study_area(None)
    lon, lat = gcj02_to_wgs84([121.51], [31.23])
    x, y = Transformer.from_crs(WGS84, area.crs, always_xy=True).transform(lon, lat)
    far_km = area.polygon.distance(shapely.Point(x[0], y[0])) / 1000
    assert 1.5 < far_km < 3.0
    stations_zh = (
        "使用 stations_gcj02.csv 中 4 个派出所中的 3 个；未使用（距 西片,东片 超过 300 米）："
        f"远处派出所（距区域 {far_km:.1f} 公里）。"
    )
    assert f"派出所: {stations_zh}" in lines
    assert f"<li>{stations_zh}</li>" in report
    # the JSON keeps the English sentence
    assert summary["stations_note"] == (
        "3 of 4 stations of stations_gcj02.csv used; left out (more than 300 m outside "
        f"西片,东片): 远处派出所 ({far_km:.1f} km outside the area)."
    )
    # no English sentence from the road reader to the siting figures
    start = next(i for i, line in enumerate(lines) if line.startswith("路网（"))
    end = next(i for i, line in enumerate(lines) if line.startswith("MCLP："))
    assert [line for line in lines[start:end] if ENGLISH.search(line)] == []
    notes = re.search(r"<h2>说明与局限</h2>\s*<ul>(.*?)</ul>", report, re.S)
    assert notes is not None
    assert ENGLISH.findall(notes.group(1)) == []
    # the study area by its members' names, not its id
    assert "研究区域：西片、东片 (" in report and "研究区域: area" not in report
    assert "<h1>岗亭布设方案 · 西片、东片</h1>" in report


@pytest.mark.realdata
def test_gbk_110_export_plan_report_in_chinese(data_dir: Path, tmp_path: Path) -> None:
    """A GBK 110 export in the layout of ``tests/fixtures/cn110_synthetic.csv`` (with its
    free-text 报警内容 column) at the example's positions: the report's data-quality part,
    its notes and the trade-off table speak Chinese."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    fixture = Path(__file__).parents[1] / "fixtures" / "cn110_synthetic.csv"
    header = fixture.read_bytes().decode("gb18030").split("\r\n", 1)[0]
    example = (EXAMPLE / "incidents_110_synthetic.csv").read_bytes().decode("gb18030")
    rows = []
    for i, line in enumerate(example.splitlines()[1:121]):
        _, when, group, detail, lon, lat, address = line.split(",")
        rows.append(
            f"JJD{i:08d},{when},{group},{group},{detail},{lon},{lat},{address},张三,13812348000,"
            "合成示例,外滩派出所"
        )
    export = tmp_path / "export_gbk.csv"
    export.write_bytes("\r\n".join([header, *rows, ""]).encode("gbk"))
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        cli.app,
        [
            "plan", "--city", str(EXAMPLE / "city.toml"), "--incidents", str(export),
            "--profile", "cn110", "--booths", "2", "--threshold-min", "2",
            "--curve-max-booths", "3", "--no-sectors", "--lang", "zh",
            "--data-dir", str(data_dir), "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "完成" in res.output and "done" not in res.output  # the progress bar
    report = html.unescape((out / "report.html").read_text("utf-8"))
    assert "<tr><td>读取行数</td><td>120</td></tr>" in report
    assert "<tr><td>剔除：缺少坐标</td><td>0</td></tr>" in report
    assert "outside_area" not in report and "missing_coordinates" not in report
    assert "export_gbk.csv: 已识别但不读取的列：报警内容（自由文本常含报警人姓名）" in report
    assert "recognised and not read" not in report
    # the trade-off table: K = 0..3 (4 rows), heads in Chinese
    assert "<summary>tradeoff.csv (4 行)</summary>" in report
    assert "<tr><th>岗亭数</th><th>≤1分钟</th><th>≤3分钟</th><th>≤5分钟</th>" in report
    # the solver table and its references (a tester saw "p-median", "Solver: HiGHS")
    assert "<tr><td>p-中位</td>" in report and "求解器：HiGHS。" in report
    assert "p-median" not in report and "Solver" not in report


@pytest.mark.realdata
def test_a_bad_site_of_a_vector_file_is_named_by_its_feature(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site of a GeoJSON file is named "feature N" (1-based, the file's order), as a CSV's
    is by its line, in both languages (a tester was told "row 3" of a GeoJSON file); and a
    bad weight of --demand-points is named by the CSV line (the header counting)."""
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    import geopandas as gpd
    from shapely.geometry import Point

    monkeypatch.setattr(cli.console, "width", 2000)
    fixed = tmp_path / "fixed.geojson"
    gpd.GeoDataFrame(  # the third far east of the example's streets (GCJ-02, as the city)
        {"name": ["甲", "乙", "远处"]},
        geometry=[Point(121.4745349, 31.2280675), Point(121.4835051, 31.2245412),
                  Point(121.6000000, 31.3000000)],
        crs=WGS84,
    ).to_file(fixed, driver="GeoJSON")  # fmt: skip
    run = [
        "plan", "--city", str(EXAMPLE / "city.toml"), "--booths", "2", "--threshold-min", "2",
        "--no-curve", "--no-sectors", "--data-dir", str(data_dir), "--out", str(tmp_path / "o"),
    ]  # fmt: skip
    for lang, head in (("en", f"error: {fixed}, feature 3: site '远处' at lon "), ("zh", "")):
        res = CliRunner().invoke(cli.app, [*run, "--fixed-sites", str(fixed), "--lang", lang])
        assert res.exit_code == 2
        text = " ".join(res.output.split())
        text = text[text.index("error:" if lang == "en" else "错误：") :]  # after the progress
        if lang == "en":
            assert text.startswith(head), text
            assert text.endswith(
                "is more than 300 m from the road network of 西片,东片 (1 site(s) like "
                "this): outside the area, or longitude and latitude swapped?"
            )
        else:
            assert text.startswith(f"错误：{fixed} 第 3 个要素：点位 '远处'（经度 "), text
            assert text.endswith(
                "距 西片,东片 的路网超过 300 米（共 1 个这样的点位）：在区域之外，"
                "还是经纬度写反了？"
            )
    points = tmp_path / "points.csv"
    points.write_text(
        "名称,经度,纬度,weight\n\n甲,121.4745349,31.2280675,1\n乙,121.4835051,31.2245412,-2\n",
        encoding="utf-8",
    )  # the bad weight on line 4 (an empty line 2)
    res = CliRunner().invoke(
        cli.app, [*run, "--demand", "points", "--demand-points", str(points), "--lang", "zh"]
    )
    text = " ".join(res.output.split())
    assert text[text.index("错误：") :] == (
        f"错误：{points} 第 4 行，字段 'weight'：权重 '-2' 不是大于或等于 0 的数"
    )
