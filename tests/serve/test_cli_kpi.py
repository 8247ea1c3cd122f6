"""``xunfang kpi`` on the SYNTHETIC 110 export tests/fixtures/cn110_kpi_synthetic.csv (the
hand-worked values are in tests/analyse/test_kpi_history.py)."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from xunfang.serve.cli import app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cn110_kpi_synthetic.csv"
NAMES = ("张三", "李四", "王五", "赵六", "陈七", "周八", "吴九")
PHONES = ("13812348000", "13998761234", "138****8000", "8000", "1234")


def _overall(out: Path, step: str) -> list[object]:
    t = pd.read_csv(out / "kpi.csv", encoding="utf-8-sig")
    row = t[(t["dimension"] == "overall") & (t["step"] == step)].iloc[0]
    return [int(row["calls"]), int(row["measured"]), int(row["within"]), float(row["mean_s"])]


def test_kpi_from_a_raw_export_writes_the_table_json_and_report(tmp_path: Path) -> None:
    out = tmp_path / "kpi"
    res = CliRunner().invoke(app, ["kpi", "--incidents", str(FIXTURE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _overall(out, "arrive") == [7, 6, 4, 300.0]
    assert _overall(out, "acknowledge") == [7, 4, 3, 27.5]
    info = json.loads((out / "kpi.json").read_text("utf-8"))
    assert (info["rows_read"], info["rows_accepted"], info["calls"]) == (7, 7, 7)
    assert info["standards_s"] == {
        "acknowledge": 30.0,
        "depart": 60.0,
        "arrive": 300.0,
        "feedback": 1800.0,
    }
    assert info["standards_file"].endswith("kpi_standards.toml")
    assert info["period"] == ["2026-03-02T08:00:00+08:00", "2026-03-03T23:30:00+08:00"]
    # the file's 处警单位 is read as the table's unit (no 管辖单位 beside it)
    assert (info["unit_column"], info["unit_source"]) == ("unit", ["处警单位"])
    assert info["has_priority"] is True and info["priority_source"] == ["警情级别"]
    assert len(info["step_times_set_aside"]) == 3
    assert "到达时间 before 报警时间: 1 rows, e.g. row 6" in res.output
    html = (out / "report.html").read_text("utf-8")
    assert "Call-handling KPIs from history" in html and "南京东路派出所" in html
    for name in ("kpi.csv", "kpi.json", "report.html"):  # aggregates only: nobody named
        body = (out / name).read_text("utf-8")
        assert not any(n in body for n in NAMES), name
        assert not any(p in body for p in PHONES[:3]), name
        assert "KPI20260302" not in body, name  # no call ids


def test_kpi_of_an_ingested_folder_equals_the_raw_files(tmp_path: Path) -> None:
    runner = CliRunner()
    ing = tmp_path / "ing"
    res = runner.invoke(app, ["ingest", str(FIXTURE), "--profile", "cn110", "--out", str(ing)])
    assert res.exit_code == 0, res.output
    # ingest's summary counts the step times read and those left empty (3: calls 5, 6, 7)
    lines = [" ".join(ln.replace("│", " ").split()) for ln in res.output.splitlines()]
    assert "step time read: 签收时间 4" in lines
    assert "step time read: 到达时间 6" in lines
    assert "step time left empty 3" in lines
    a, b = tmp_path / "a", tmp_path / "b"
    assert runner.invoke(app, ["kpi", "--incidents", str(ing), "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, ["kpi", "--incidents", str(FIXTURE), "--out", str(b)]).exit_code == 0
    assert (a / "kpi.csv").read_text("utf-8-sig") == (b / "kpi.csv").read_text("utf-8-sig")
    info = json.loads((a / "kpi.json").read_text("utf-8"))
    assert info["files"] == [str(FIXTURE)]
    assert len(info["step_times_set_aside"]) == 3


def test_kpi_window_standards_and_chinese_report(tmp_path: Path) -> None:
    std = tmp_path / "std.toml"
    std.write_text("arrive_s = 240\n", encoding="utf-8")
    out = tmp_path / "zh"
    res = CliRunner().invoke(
        app,
        [
            "kpi",
            "--incidents",
            str(FIXTURE),
            "--since",
            "2026-03-03",
            "--standards",
            str(std),
            "--out",
            str(out),
            "--lang",
            "zh",
        ],
    )
    assert res.exit_code == 0, res.output
    # calls 5, 6, 7 (3 March, Shanghai); 到场 200 and 280 measured, 200 within 240 s
    assert _overall(out, "arrive") == [3, 2, 1, 240.0]
    info = json.loads((out / "kpi.json").read_text("utf-8"))
    assert info["calls_outside_window"] == 4 and info["standards_s"]["arrive"] == 240.0
    html = (out / "report.html").read_text("utf-8")
    assert "接处警考核指标" in html and "到达时间 早于 报警时间" in html
    assert "<td>交通（traffic）</td>" in html  # the type group's Chinese name, with its key
    assert "<td>traffic</td>" not in html
    bad = CliRunner().invoke(
        app, ["kpi", "--incidents", str(FIXTURE), "--since", "3 March", "--out", str(out)]
    )
    assert bad.exit_code != 0 and "--since" in bad.output


def test_a_bad_date_is_named_in_chinese(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "kpi",
            "--incidents",
            str(FIXTURE),
            "--until",
            "昨天",
            "--out",
            str(tmp_path / "o"),
            "--lang",
            "zh",
        ],
    )
    assert res.exit_code == 2
    assert "--until：'昨天' 不是日期" in res.output


def test_step_times_to_the_minute_are_named_in_the_report(tmp_path: Path) -> None:
    lines = FIXTURE.read_bytes().decode("gbk").split("\r\n")
    cut = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) > 12 and len(cells[12]) == 19:
            cells[12] = cells[12][:16]  # 到达时间 2026-03-02 08:04:00 -> 2026-03-02 08:04
        cut.append(",".join(cells))
    src = tmp_path / "minutes.csv"
    src.write_bytes("\r\n".join(cut).encode("gbk"))
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["kpi", "--incidents", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads((out / "kpi.json").read_text("utf-8"))
    # the six arrivals kept (call 5's is still before its call) are read to the minute
    assert info["time_precision"]["on_scene_at"] == {"minute": 6}
    assert info["time_precision"]["received_at"] == {"second": 7}
    assert "到达时间: 6 minute" in (out / "report.html").read_text("utf-8")
    # cut to the minute, call 6 arrives after 180 s (not 200) and call 7 after 240 s (not
    # 280): 240 + 360 + 300 + 420 + 180 + 240 = 1740 s over 6, within 300 s still 4
    assert _overall(out, "arrive") == [7, 6, 4, 290.0]


def test_a_step_longer_than_24_h_is_named_and_kept_out(tmp_path: Path) -> None:
    # the SYNTHETIC fixture with call 1's 反馈 typed a day late (25 h 20 min after 到达)
    src = tmp_path / "late.csv"
    body = FIXTURE.read_bytes().decode("gbk")
    src.write_bytes(
        body.replace("08:04:00,2026-03-02 08:24:00", "08:04:00,2026-03-03 09:24:00").encode("gbk")
    )
    for lang, words in (
        ("en", "反馈 feedback: 1 calls longer than 24 h, e.g. row 2 of late.csv"),
        ("zh", "反馈：1 起警情用时超过 24 小时，例如 late.csv 第 2 行"),
    ):
        out = tmp_path / lang
        res = CliRunner().invoke(
            app, ["kpi", "--incidents", str(src), "--out", str(out), "--lang", lang]
        )
        assert res.exit_code == 0, res.output
        assert words in " ".join(res.output.split())
        assert words in (out / "report.html").read_text("utf-8")
    assert _overall(tmp_path / "en", "feedback") == [7, 4, 3, 1450.0]
    info = json.loads((tmp_path / "en" / "kpi.json").read_text("utf-8"))
    assert info["duration_cap_s"] == 86400.0
    assert info["too_long"]["feedback"]["row"] == 2


def test_an_export_without_step_columns_is_warned_of_in_the_terminal(tmp_path: Path) -> None:
    # the SYNTHETIC cn110_synthetic.csv has no 派警/签收/出警/到达/反馈 column
    src = FIXTURE.with_name("cn110_synthetic.csv")
    argv = ["kpi", "--incidents", str(src), "--frame", "gcj02", "--out", str(tmp_path / "k")]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert (
        "warning: the input has no step time columns (missing: dispatched_at (派警时间), "
        "acknowledged_at (签收时间), en_route_at (出警时间), on_scene_at (到达时间), "
        "cleared_at (反馈时间)): every step is not recorded" in text
    )
    res = CliRunner().invoke(app, [*argv, "--lang", "zh"])
    assert (
        "警告：输入中没有任何环节时间列（缺少派警时间、签收时间、出警时间、到达时间、反馈时间）"
        in ("".join(res.output.split()))
    )
    # an export with step columns gives no such warning
    res = CliRunner().invoke(
        app, ["kpi", "--incidents", str(FIXTURE), "--out", str(tmp_path / "s")]
    )
    assert "no step time columns" not in res.output


def test_a_bad_standards_file_is_named_in_chinese(tmp_path: Path) -> None:
    std = tmp_path / "std.toml"
    std.write_text('acknowledge_s = "thirty"\ndepart_s = 0\nfoo = 1\n', encoding="utf-8")
    argv = ["kpi", "--incidents", str(FIXTURE), "--standards", str(std)]
    res = CliRunner().invoke(app, [*argv, "--out", str(tmp_path / "o"), "--lang", "zh"])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert f"{std}：foo：未知的键（可用的键：acknowledge_s, " in text
    assert "acknowledge_s：应为正数，实为 'thirty'；depart_s：应为正数，实为 0" in text
    assert "must be" not in text


def test_kpi_names_a_step_column_left_unread_for_another_name(tmp_path: Path) -> None:
    """SYNTHETIC 2-call export with both 到达时间 and 到场时间 (different values): the KPIs
    read 到达时间 and say, in the terminal and report, that 到场时间 was not read (a tester's
    到场 share was 32.7 % or 8.0 % depending on the column, with no word which)."""
    src = tmp_path / "two_arrivals.csv"
    src.write_text(
        "接警单编号,报警时间,报警类别,经度,纬度,派警时间,到达时间,到场时间\n"
        "A1,2024-03-16 05:45:00,刑事,121.4845,31.2280,2024-03-16 05:46:00,"
        "2024-03-16 05:50:00,2024-03-16 05:55:00\n"
        "A2,2024-03-16 06:00:00,刑事,121.4894,31.2300,2024-03-16 06:01:00,"
        "2024-03-16 06:04:00,2024-03-16 06:09:00\n",
        encoding="gb18030",
    )
    out = tmp_path / "kpi"
    res = CliRunner().invoke(
        app,
        ["kpi", "--incidents", str(src), "--frame", "gcj02", "--out", str(out)],
        env={"COLUMNS": "300"},
    )
    assert res.exit_code == 0, res.output
    assert _overall(out, "arrive") == [2, 2, 2, 270.0]  # 5 and 4 minutes: 到达时间's
    said = (
        "two_arrivals.csv: column(s) 到场时间 not read: they name the same field as 到达时间, "
        "which was read"
    )
    assert said in res.output
    assert said in (out / "report.html").read_text("utf-8")


def test_a_window_without_calls_is_warned_of_with_the_data_period(tmp_path: Path) -> None:
    # found by a new-user test: --since after the last call gave a table of zeros, no word
    for lang, said in (
        (
            "en",
            "warning: the window [2026-03-05, 2026-03-07) holds no calls: the data's calls run "
            "from 2026-03-02 08:00:00 to 2026-03-03 23:30:00 (Asia/Shanghai); every figure is 0",
        ),
        (
            "zh",
            "警告：统计区间 [2026-03-05, 2026-03-07) 内没有警情：数据中的警情时间为 "
            "2026-03-02 08:00:00 至 2026-03-03 23:30:00（Asia/Shanghai）；各项均为 0",
        ),
    ):
        out = tmp_path / lang
        argv = ["kpi", "--incidents", str(FIXTURE), "--since", "2026-03-05"]
        argv += ["--until", "2026-03-07", "--out", str(out), "--lang", lang]
        res = CliRunner().invoke(app, argv, env={"COLUMNS": "300"})
        assert res.exit_code == 0, res.output
        assert said in " ".join(res.output.split())
        assert said in unescape((out / "report.html").read_text("utf-8"))
        info = json.loads((out / "kpi.json").read_text("utf-8"))
        assert info["calls"] == 0 and info["calls_outside_window"] == 7
        assert info["window_empty"] is True and info["period"] is None
        assert info["data_period"] == ["2026-03-02T08:00:00+08:00", "2026-03-03T23:30:00+08:00"]
    # a window holding calls (3 of 7 on 3 March) says nothing of the kind
    out = tmp_path / "some"
    argv = ["kpi", "--incidents", str(FIXTURE), "--since", "2026-03-03", "--out", str(out)]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    assert "holds no calls" not in res.output
    assert json.loads((out / "kpi.json").read_text("utf-8"))["window_empty"] is False


def test_kpi_says_the_frame_assumed_for_a_110_export_as_ingest_does(tmp_path: Path) -> None:
    # found by a new-user test: ingest names --frame for a cn110 file read without it, kpi
    # (reading the same file through ingest) said nothing
    ingest_said = (
        "Incident coordinates read as WGS-84: cn110 states no frame for them and no --frame "
        "was given; exports in China are often GCJ-02 (AMap, Tencent) or BD-09 (Baidu): if "
        "so, give --frame gcj02 or --frame bd09."
    )
    kpi_said = "The frame does not change the KPIs: they are computed from the call and step"
    runner = CliRunner()
    ing = runner.invoke(
        app, ["ingest", str(FIXTURE), "--profile", "cn110", "--out", str(tmp_path / "ing")]
    )
    assert ingest_said in " ".join(ing.output.split())
    res = runner.invoke(app, ["kpi", "--incidents", str(FIXTURE), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert ingest_said in text and kpi_said in text
    report = unescape((tmp_path / "a" / "report.html").read_text("utf-8"))
    assert ingest_said in report and kpi_said in report
    zh = runner.invoke(
        app, ["kpi", "--incidents", str(FIXTURE), "--out", str(tmp_path / "z"), "--lang", "zh"]
    )
    assert "警情坐标按 WGS-84 读取：cn110 未写明其坐标系" in zh.output
    assert "坐标系不影响考核指标" in zh.output
    # with --frame, or for the ingested folder (ingest said it), no note; the KPIs the same
    for argv in (["--frame", "gcj02"], ["--frame", "bd09"]):
        b = tmp_path / argv[1]
        res = runner.invoke(app, ["kpi", "--incidents", str(FIXTURE), *argv, "--out", str(b)])
        assert res.exit_code == 0 and "Incident coordinates read as" not in res.output
        assert (b / "kpi.csv").read_bytes() == (tmp_path / "a" / "kpi.csv").read_bytes()
    res = runner.invoke(app, ["kpi", "--incidents", str(tmp_path / "ing"), "--out", str(b)])
    assert res.exit_code == 0 and "Incident coordinates read as" not in res.output
