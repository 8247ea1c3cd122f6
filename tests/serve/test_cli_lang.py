"""``--lang zh`` on the commands a Chinese district's analyst runs: the command line's
error messages and terminal output in Chinese, names of files, fields, options and areas
verbatim (a tester found English errors and tables under --lang zh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.serve._common import error_text
from xunfang.serve.cli import app

runner = CliRunner()
BLOCK = Path(__file__).resolve().parents[1] / "fixtures" / "oneway_block.osm"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shanghai"


def test_common_errors_in_chinese_keep_names_verbatim() -> None:
    too_few = (
        "only 3 incidents inside 西片 (of the chosen types): too few to site booths on (at "
        "least 20); widen --types or the period, or plan on road length (--demand road_length)"
    )
    assert error_text(too_few, "zh") == (
        "西片 内只有 3 起警情（所选类别）：太少，无法布设岗亭（至少需要 20 起）；"
        "请放宽 --types 或时间范围，或按道路长度规划（--demand road_length）"
    )
    assert error_text(too_few, "en") == too_few
    missing = DataFileError("110.csv", "file not found")
    assert error_text(str(missing), "zh") == "110.csv：文件不存在"
    col = DataFileError(
        "110.csv",
        "missing column '经度' (x) required by profile 'mapping_110'; the header has: 编号, 时间",
        field="经度",
    )
    assert error_text(str(col), "zh") == (
        "110.csv，字段 '经度'：缺少列 '经度'（x），配置 'mapping_110' 需要此列；"
        "表头中的列：编号, 时间"
    )
    assert (
        error_text("city.toml [incidents]: frame 'gcj' is not one of wgs84, gcj02, bd09", "zh")
        == "city.toml [incidents]：坐标系 'gcj' 不是 wgs84, gcj02, bd09 之一"
    )
    assert (
        error_text("--output-frame must be one of wgs84, gcj02, bd09, got 'x'", "zh")
        == "--output-frame 只能取 wgs84, gcj02, bd09，实际为 'x'"
    )
    # an unknown message stays as raised, not half translated
    assert error_text("something new: row 3", "zh") == "something new: row 3"


def test_more_errors_in_chinese_from_the_third_tester() -> None:
    assert (
        error_text("--booths must be >= 0, got -3", "zh") == "--booths 必须大于或等于 0，实际为 -3"
    )
    assert (
        error_text(
            "辖区9.geojson holds 4 polygons: choose with --area 责任区:NAME (names: 外滩, 豫园)",
            "zh",
        )
        == "辖区9.geojson 含 4 个多边形：请用 --area 责任区:NAME 选择（名称：外滩, 豫园）"
    )
    missing = DataFileError(
        "辖区9.geojson", "has no property '不存在' (found ['名称'])", field="不存在"
    )
    assert error_text(str(missing), "zh") == (
        "辖区9.geojson，字段 '不存在'：没有属性 '不存在'（已有属性：['名称']）"
    )
    assert error_text("areas named more than once: 外滩", "zh") == "区域被重复指定：外滩"
    month = (
        "no incidents in 2025-12 (2025-12-01 00:00:00+08:00 .. 2026-01-01 00:00:00+08:00); "
        "pick a month covered by the incident files"
    )
    assert error_text(month, "zh") == (
        "2025-12（2025-12-01 00:00:00+08:00 至 2026-01-01 00:00:00+08:00）没有警情；"
        "请选择警情文件覆盖的月份"
    )
    plan = DataFileError(
        "out/city_summary.json",
        "not found: give the output folder of `xunfang plan --area district:all`",
    )
    assert error_text(str(plan), "zh") == (
        "out/city_summary.json：不存在：请给出 `xunfang plan --area district:all` 的输出文件夹"
    )


def test_travel_time_in_chinese() -> None:
    args = ["travel-time", "--roads", str(BLOCK), "--from", "121.47001,31.2300"]
    r = runner.invoke(app, [*args, "--to", "121.47099,31.2300", "--lang", "zh"])
    assert r.exit_code == 0, r.output
    assert "起点 -> 终点" in r.output and "行驶时间" in r.output
    assert "11.4 秒（0 分 11.4 秒）" in r.output  # A to B, 95.27 m at 30 km/h
    assert "已遵守单行道。" in r.output
    r = runner.invoke(app, [*args, "--to", "31.23,121.47", "--lang", "zh"])
    assert r.exit_code == 2
    assert "错误：--to '31.23,121.47' 不是经纬度位置（看起来是“纬度,经度”：请先写经度）" in r.output
    r = runner.invoke(app, [*args, "--to", "1,2", "--lang", "fr"])
    assert r.exit_code == 2
    assert "--lang must be one of ('en', 'zh'), got 'fr'" in r.output


def test_areas_in_chinese(tmp_path: Path) -> None:
    r = runner.invoke(app, ["areas", "--boundary", str(tmp_path / "无.geojson"), "--lang", "zh"])
    assert r.exit_code == 2
    assert "错误：" in r.output and "无.geojson：边界文件不存在" in r.output


def test_plan_too_few_incidents_in_chinese(data_dir: Path, tmp_path: Path) -> None:
    """SYNTHETIC example city (examples/shanghai): 西片 holds 25 property incidents, fewer
    than the 30 a plan needs (booth_plan.MIN_INCIDENTS); the tester's error, in Chinese."""
    args = ["plan", "--city", str(EXAMPLE / "city.toml"), "--area", "西片", "--lang", "zh"]
    r = runner.invoke(
        app,
        [*args, "--types", "property", "--out", str(tmp_path)],
        env={"XUNFANG_DATA_DIR": str(data_dir), "COLUMNS": "300"},
    )
    assert r.exit_code == 2
    assert (
        "错误：西片 内只有 25 起警情（所选类别）：太少，无法布设岗亭（至少需要 30 起）；"
        "请放宽 --types 或时间范围，或按道路长度规划（--demand road_length）"
    ) in r.output
    # most incidents read lie inside 西片; the few are of the type: no frame hint (it
    # counted the other types as outside and blamed --frame)
    assert "--frame" not in r.output and "之外" not in r.output
    r = runner.invoke(
        app,
        [*args, "--types", "violent", "--out", str(tmp_path)],
        env={"XUNFANG_DATA_DIR": str(data_dir), "COLUMNS": "300"},
    )
    assert r.exit_code == 2
    assert "错误：--types ['violent'] 与数据中的类别组 ['disorder', 'other'," in r.output
    assert "、类别（如 ['交通', '其他', '刑事'," in r.output and "）均不匹配" in r.output


def test_forecast_groups_named_in_chinese() -> None:
    from xunfang.serve.predict_report import group_text

    assert group_text("traffic", "zh") == "交通（traffic）"  # the taxonomy's zh label
    assert group_text("all", "zh") == "全部"
    assert group_text("BURGLARY", "zh") == "BURGLARY"  # a type of the data, as it is
    assert group_text("traffic", "en") == "traffic"


def test_lock_and_empty_training_errors_in_chinese() -> None:
    """Found by a new-user test: the output-folder lock and a forecast without enough
    history printed English under --lang zh."""
    lock = (
        "output folder /tmp/x is in use by another xunfang run (pid 12: xunfang plan --out "
        "/tmp/x); wait for it to finish or give another --out (lock /tmp/x/.xunfang.lock)"
    )
    assert error_text(lock, "zh") == (
        "输出目录 /tmp/x 正被另一个 xunfang 进程使用（pid 12：xunfang plan --out /tmp/x）；"
        "请等它结束或换一个 --out（锁文件 /tmp/x/.xunfang.lock）"
    )
    empty = (
        "empty training set: no incident between 2023-03-30 00:00 and 2024-02-29 00:00 (a "
        "forecast trains on the --lookback-days before its window, and `auto` also validates "
        "on earlier windows): give incidents that cover that period (is there a hole in "
        "the data?), a longer --lookback-days, or a method that needs less history (e.g. kde "
        "rather than auto)"
    )
    assert error_text(empty, "zh").startswith(
        "训练集为空：2023-03-30 00:00 至 2024-02-29 00:00 之间没有警情"
    )
    assert error_text(empty, "zh").endswith(
        "更长的 --lookback-days，或改用所需历史更少的方法（如用 kde 而非 auto）"
    )
    assert error_text(empty, "en") == empty
    # auto's too-short history at the top of predict (a second new-user test)
    assert error_text(
        "auto: no validation window before 2015-07-01 day with 28 days of history before "
        "it: give more history",
        "zh",
    ) == (
        "auto：2015-07-01（全天） 之前没有一个验证时段在其之前有 28 天的历史：请提供更长的历史"
        "（更长的 --lookback-days）"
    )
    # a method evaluate could not run, in its report's notes (a third new-user test)
    from xunfang.serve.forecast_report import fit_failure_text

    assert fit_failure_text(
        "gbm needs at least 56 days of training history, got 30.6 (from 2024-02-29)", "zh"
    ) == ("gbm 至少需要 56 天的训练历史，实有 30.6 天（自 2024-02-29 起）")
    # three a new-user test on Portland met in English under --lang zh
    cell = error_text("--cell-m must be positive, got 0.0", "zh")
    assert cell == "--cell-m 必须为正数，实际为 0.0"
    assert error_text(
        "--window must be day, night, week or HH-HH (e.g. 22-06), got 'foo'", "zh"
    ) == ("--window 必须为 day、night、week 或 HH-HH（如 22-06），实际为 'foo'")
    assert error_text(
        "empty training set: none of the 2,683 incidents lies inside the grid's study area "
        "(check the area and the CRS)",
        "zh",
    ) == ("训练集为空：2,683 起警情无一落在网格的研究区内（请检查研究区和坐标系）")


def test_simulate_sweep_in_chinese(tmp_path: Path) -> None:
    """simulate sweep --lang zh: its error and its chart in Chinese (the sweep itself is
    tested in tests/simulate)."""
    import pandas as pd

    from xunfang.serve.cli_simulate import _write_sweep_html

    r = runner.invoke(
        app,
        ["simulate", "sweep", "--booths", "5", "--scenario", str(tmp_path / "无.toml"),
         "--out", str(tmp_path / "s"), "--lang", "zh"],
    )  # fmt: skip
    assert r.exit_code == 2
    assert "错误：" in r.output and "无.toml" in r.output and "error:" not in r.output
    frame = pd.DataFrame(
        {
            "booths": [5, 10],
            "officers_per_booth": [1, 1],
            "response_median_min": [6.0, 5.0],
            "response_p90_min": [12.0, 9.5],
            "response_median_min_ci95": [0.2, 0.1],
            "response_p90_min_ci95": [0.5, 0.4],
        }
    )
    _write_sweep_html(frame, tmp_path / "sweep.html", "西片", "2015-06", "zh")
    html = (tmp_path / "sweep.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in html
    for words in ("响应时间与岗亭数 K：西片，2015-06", "每岗 1 名警力", "岗亭数（K）"):
        assert json.dumps(words)[1:-1] in html  # plotly's JSON escapes non-ASCII
    assert "Response time against" not in html


def test_option_area_and_column_errors_in_chinese() -> None:
    """The errors a tester still saw in English under --lang zh (run 8), as raised."""
    import geopandas as gpd
    import pytest
    from shapely.geometry import box

    from xunfang.errors import ValidationError
    from xunfang.ingest.areas import AreaNotFoundError, area_from_layer
    from xunfang.ingest.readers import _refuse_duplicates
    from xunfang.plan.booth_plan import check_threshold_min

    def raised(fn: object, *args: object, **kw: object) -> str:
        with pytest.raises((ValidationError, AreaNotFoundError, DataFileError)) as e:
            fn(*args, **kw)  # type: ignore[operator]
        return str(e.value)

    assert error_text(raised(check_threshold_min, 0.0), "zh") == (
        "--threshold-min 必须大于 0，实际为 0"
    )
    assert error_text(raised(check_threshold_min, 1e9), "zh") == (
        "--threshold-min 不能超过 120 分钟，实际为 1e+09"
    )
    check_threshold_min(120.0)
    layer = gpd.GeoDataFrame(
        {"name": ["豫园", "外滩"]},
        geometry=[box(0, 0, 0.01, 0.01), box(1, 1, 1.01, 1.01)],
        crs="EPSG:4326",
    )
    many = raised(area_from_layer, layer, None, kind="boundary", source="b.geojson")
    assert (
        error_text(many, "zh")
        == "b.geojson 含 2 个多边形：请用 --boundary-name 选择（名称：外滩, 豫园）"
    )
    unknown = raised(area_from_layer, layer, "人民广场", kind="area", source="b.geojson")
    assert error_text(unknown, "zh") == (
        "b.geojson 中没有名为 人民广场 的区域（--boundary-name）；已有名称：外滩, 豫园"
    )
    dup = raised(_refuse_duplicates, Path("x.csv"), ["lon", "lat", "lon"], {"lon"}, 1)
    assert error_text(dup, "zh") == (
        "x.csv 第 1 行，字段 'lon'：有两列都名为 'lon'：表头第 1 列和第 3 列；"
        "请重命名其中一列，以明确应读取哪一列"
    )
    booths = "--booths 60 plus 0 fixed sites exceeds the 49 candidate sites"  # booth_plan
    assert error_text(booths, "zh") == "--booths 60 加上 0 个固定点位，超过了 49 个候选点位"


def test_row_lists_say_and_more_in_chinese() -> None:
    from xunfang.ingest.messages import text
    from xunfang.ingest.readers import _line_list

    rows = _line_list(list(range(2, 32)))  # 30 rows: 10 shown
    assert rows == "2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 20 more"
    assert text("utf8_lines", "zh", lines=rows) == (
        "GB18030 文件中第 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 及另外 20 行为 UTF-8 编码：已按 UTF-8 读取"
    )
    assert text("utf8_lines", "en", lines=rows).startswith("line(s) 2, 3, 4, 5")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_plan_points_bad_bytes_to_ingest_which_has_the_options(tmp_path: Path, lang: str) -> None:
    """`plan` has no --bad-bytes/--encoding: its hint says to ingest first (SYNTHETIC: the
    example 110 calls with two bytes invalid in GB18030 put in data row 5)."""
    lines = (EXAMPLE / "incidents_110_synthetic.csv").read_bytes().split(b"\n")[:40]
    lines[5] = lines[5].replace(b",121.", b",\xff\xff121.", 1)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines))
    common = ["--mapping", str(EXAMPLE / "mapping_110.toml"), "--lang", lang]
    env = {"COLUMNS": "400", "XUNFANG_CACHE_DIR": str(tmp_path / "cache")}
    plan = CliRunner().invoke(
        app,
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--incidents", str(bad), "--area", "boundary:东片", "--out", str(tmp_path / "p"),
            *common,
        ],
        env=env,
    )  # fmt: skip
    ingest = CliRunner().invoke(
        app, ["ingest", str(bad), "--out", str(tmp_path / "i"), *common], env=env
    )
    assert plan.exit_code == 2 and ingest.exit_code == 2
    said, said_ingest = " ".join(plan.output.split()), " ".join(ingest.output.split())
    if lang == "zh":
        assert said.endswith(
            "或先用 `xunfang ingest 文件 --bad-bytes reject-row --out 文件夹` "
            "只拒绝含有这类字节的行，再用 --incidents 文件夹"
        ), said
        assert "--encoding 是 `xunfang ingest` 的选项" in said
        assert said_ingest.endswith("或用 --bad-bytes reject-row 只拒绝含有这类字节的行")
    else:
        assert said.endswith(
            "or reject only the rows holding such bytes: `xunfang ingest FILE --bad-bytes "
            "reject-row --out DIR`, then give --incidents DIR"
        ), said
        assert "(--encoding is an option of `xunfang ingest`" in said
        assert said_ingest.endswith(
            "or give --bad-bytes reject-row to reject only the rows holding such bytes"
        )
        assert "is an option of" not in said_ingest


def test_a_city_runs_failure_reason_reads_as_the_commands_own_errors() -> None:
    # A district of a city plan failed on a file with a bad byte: its reason, recorded by
    # the worker as the reader raised it, names --bad-bytes (an option of ingest only); the
    # summary and reports show it as plan's own error would read: ingest first.
    from xunfang.ingest.readers import BAD_BYTES_HINT
    from xunfang.serve._common import INGEST_FIRST_HINT, reason_text

    reason = "x.csv, row 15: bytes that are not valid gb18030" + BAD_BYTES_HINT
    assert reason_text(reason) == "x.csv, row 15: bytes that are not valid gb18030" + (
        INGEST_FIRST_HINT
    )
    zh = reason_text(reason, "zh")
    assert "--bad-bytes reject-row --out" in zh and "再用 --incidents" in zh
    assert "or give --bad-bytes" not in zh


@pytest.mark.parametrize(
    ("content", "english", "chinese"),
    [
        ("a = [\n", "Invalid value (at end of document)", "文件末尾：值无效"),
        ("a = 1\na = 2\n", "Cannot overwrite a value (at line 2, column 6)", "第 2 行第 6 列："),
        ("[x\n", "Expected ']' at the end of a table declaration (at line 1, column 3)", "第 1 行"),
        (
            "a = 1 b\n",
            "Expected newline or end of document after a statement (at line 1, column 7)",
            "第 1 行第 7 列：一条语句之后应换行或结束",
        ),
    ],
)
def test_an_invalid_toml_file_is_named_in_chinese_with_its_line_and_column(
    tmp_path: Path, content: str, english: str, chinese: str
) -> None:
    # found by a new-user test: `kpi --standards BAD.toml --lang zh` said
    # "错误：BAD.toml: not valid TOML (Invalid value (at end of document))"
    bad = tmp_path / "BAD.toml"
    bad.write_text(content, encoding="utf-8")
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "cn110_synthetic.csv"
    kpi = ["kpi", "--incidents", str(fixture), "--profile", "cn110", "--out", str(tmp_path / "o")]
    runs = {
        "standards": [*kpi, "--standards", str(bad)],
        "mapping": [*kpi[:-4], "--mapping", str(bad), "--out", str(tmp_path / "o")],
        "roster": ["deploy", "--plan-dir", str(tmp_path / "p"), "--roster", str(bad)],
        "city": ["plan", "--city", str(bad), "--area", "x", "--out", str(tmp_path / "o")],
    }
    runs["roster"] += ["--out", str(tmp_path / "o")]
    for name, argv in runs.items():
        en = CliRunner().invoke(app, argv)
        assert en.exit_code == 2, (name, en.output)
        assert f"{bad}: not valid TOML: {english}" in " ".join(en.output.split()), name
        zh = CliRunner().invoke(app, [*argv, "--lang", "zh"])
        said = " ".join(zh.output.split())
        assert f"错误：{bad}：不是有效的 TOML：{chinese}" in said, (name, said)
        assert not any(w in said for w in ("not valid", "Invalid", "Cannot", "Expected")), said


def test_toml_messages_in_chinese() -> None:
    from xunfang.serve._common import toml_error_zh

    assert toml_error_zh("Invalid value (at line 3, column 12)") == "第 3 行第 12 列：值无效"
    assert toml_error_zh("Cannot declare ('a',) twice (at line 2, column 1)") == (
        "第 2 行第 1 列：('a',) 不能声明两次"
    )
    assert toml_error_zh("Unclosed inline table (at end of document)") == (
        "文件末尾：内联表缺少结尾的 '}'"
    )
    # a message not known here keeps the parser's words, after the Chinese place
    assert toml_error_zh("Something new (at line 1, column 2)") == "第 1 行第 2 列：Something new"


def test_a_toml_file_not_in_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    # found while fixing the TOML message: a scenario, city or taxonomy file saved as GBK
    # ended `simulate run`, `plan` and `ingest` in a UnicodeDecodeError traceback
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('a = "啊"\n'.encode("gbk"))  # 啊 is b"\xb0\xa1": byte 5 is 0xb0
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "cn110_synthetic.csv"
    out = ["--out", str(tmp_path / "o")]
    kpi = ["kpi", "--incidents", str(fixture), "--profile", "cn110"]
    runs = {
        "standards": [*kpi, "--standards", str(gbk)],
        "mapping": ["kpi", "--incidents", str(fixture), "--mapping", str(gbk)],
        "taxonomy": ["ingest", str(fixture), "--profile", "cn110", "--taxonomy", str(gbk)],
        "city": ["plan", "--city", str(gbk), "--area", "x"],
        "scenario": ["simulate", "run", "--scenario", str(gbk)],
        "roster": ["deploy", "--plan-dir", str(tmp_path / "p"), "--roster", str(gbk)],
    }
    for name, argv in runs.items():
        en = CliRunner().invoke(app, [*argv, *out])
        assert en.exit_code == 2, (name, en.output)  # a traceback exits with 1
        assert (
            f"{gbk}: not UTF-8 text (byte 0xb0 at position 5): a TOML file is UTF-8; save it "
            "as UTF-8"
        ) in " ".join(en.output.split()), name
        zh = CliRunner().invoke(app, [*argv, *out, "--lang", "zh"])
        assert f"错误：{gbk}：不是 UTF-8 文本（位置 5 的字节 0xb0）：TOML 文件须为 UTF-8 编码" in (
            " ".join(zh.output.split())
        ), name
    # UTF-8 with a byte-order mark (Windows Notepad) is read
    bom = tmp_path / "bom.toml"
    bom.write_bytes("\ufeffarrive_s = 240\n".encode())
    res = CliRunner().invoke(app, [*kpi, "--standards", str(bom), *out])
    assert res.exit_code == 0, res.output
    kpi_json = json.loads((tmp_path / "o" / "kpi.json").read_text("utf-8"))
    assert kpi_json["standards_s"]["arrive"] == 240.0
