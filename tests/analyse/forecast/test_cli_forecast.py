"""``xunfang forecast`` commands on a small generated file, and the open_cp split on
the real September 2014 file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.analyse.evaluate import EvaluationSpec, run_evaluation
from xunfang.serve.cli_forecast import app

HEADER = (
    'ID,Date,Block,"Primary Type",Description,"Location Description",Arrest,Domestic,'
    "District,Latitude,Longitude\n"
)


def _csv(path: Path) -> Path:
    """60 days of burglaries and batteries around two hot blocks in the Loop (seeded)."""
    rng = np.random.default_rng(0)
    lines = [HEADER]
    start = pd.Timestamp("2014-06-01")
    for i in range(900):
        hot = i % 3 != 0
        lat = 41.8800 + (rng.normal(0, 0.0004) if hot else rng.uniform(-0.02, 0.02))
        lon = -87.6300 + (rng.normal(0, 0.0004) if hot else rng.uniform(-0.02, 0.02))
        when = start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 60)))
        kind = "BURGLARY" if i % 2 else "BATTERY"
        lines.append(
            f"{1000 + i},{when.strftime('%m/%d/%Y %I:%M:%S %p')},001XX W MADISON ST,{kind},"
            f"X,STREET,FALSE,FALSE,1,{lat:.6f},{lon:.6f}\n"
        )
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _loop_boundary(path: Path) -> Path:
    """SYNTHETIC: a boundary file of one box around Chicago's Loop, named ``loop``."""
    box = [[-87.66, 41.85], [-87.60, 41.85], [-87.60, 41.91], [-87.66, 41.91], [-87.66, 41.85]]
    feature = {"type": "Feature", "properties": {"name": "loop"}}
    feature["geometry"] = {"type": "Polygon", "coordinates": [box]}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def _portland_calls(path: Path, days: int, per_day: int) -> Path:
    """SYNTHETIC calls in the layout of Portland's NIJ files (dates only, Oregon state
    plane feet): ``per_day`` disturbances a day from 1 August 2016, 300 ft apart."""
    head = "CATEGORY;CALL GROUPS;final_case_type;CASE DESC;occ_date;x_coordinate;y_coordinate"
    lines = [head + ";census_tract"]
    for d in range(days):
        date = pd.Timestamp("2016-08-01") + pd.Timedelta(days=d)
        for k in range(per_day):
            x = 7_640_000 + 300 * k
            lines.append(f"OTHER;DISORDER;DISTP ;DISTURBANCE;{date:%d/%m/%Y};{x};680000;1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_evaluate_writes_csv_and_report(tmp_path: Path) -> None:
    src = _csv(tmp_path / "crimes.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--incidents",
            str(src),
            "--types",
            "BURGLARY",
            "--cell-m",
            "150",
            "--window",
            "night",
            "--start",
            "2014-07-20",
            "--windows",
            "3",
            "--lookback-days",
            "30",
            "--methods",
            "naive:period_days=28,prospective,naive:period_days=28+tod",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "results.csv")
    # 3 methods x 2 grid offsets x 3 windows x 5 coverages
    assert len(rows) == 3 * 2 * 3 * 5
    assert set(rows["offset_m"]) == {0.0, 75.0}
    assert rows["hit_rate"].between(0, 1).all()
    summary = pd.read_csv(out / "summary.csv")
    assert {"hit_rate_mean", "hit_rate_q25", "pai_mean", "pei_mean"} <= set(summary.columns)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Grid-offset sensitivity" in html and "plotly" in html
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["n_selected"] == 450
    assert run["windows"][0] == "2014-07-20 night"


def test_evaluate_reports_bad_options(tmp_path: Path) -> None:
    src = _csv(tmp_path / "crimes.csv")
    runner = CliRunner()
    for cmd in ("predict", "evaluate"):  # inf crashed with a traceback (a new-user test)
        inf = runner.invoke(app, [cmd, "--incidents", str(src), "--cell-m", "inf"])
        assert inf.exit_code == 2 and "--cell-m must be positive, got inf" in inf.output
    bad = runner.invoke(app, ["evaluate", "--incidents", str(src), "--window", "dusk"])
    assert bad.exit_code == 2
    assert "day, night, week or HH-HH" in bad.output
    early = runner.invoke(
        app, ["evaluate", "--incidents", str(src), "--start", "2014-01-01", "--windows", "2"]
    )
    assert early.exit_code == 2
    assert "with no incident before it" in early.output
    args = ["evaluate", "--incidents", str(src), "--start", "2014-01-01", "--windows", "2"]
    early_zh = runner.invoke(app, [*args, "--lang", "zh"])
    assert "有一个测试时段开始于 2014-01-01 00:00，其之前没有警情" in early_zh.output
    # a window past the data: both ends in local time, named so (the last incident was
    # printed in UTC beside a local window end)
    args = ["evaluate", "--incidents", str(src), "--start", "2014-07-29", "--windows", "5"]
    late = runner.invoke(app, args)
    assert late.exit_code == 2
    assert (
        "the last test window ends at 2014-08-03 00:00, after the data (last incident "
        "2014-07-30 21:13, local time)"
    ) in " ".join(late.output.split())
    late_zh = runner.invoke(app, [*args, "--lang", "zh"])
    assert (
        "最后一个测试时段结束于 2014-08-03 00:00，晚于数据结束（最后一起警情 2014-07-30 21:13，"
        "当地时间）"
    ) in late_zh.output
    # predict: a negative look-back is refused; a window far past the data is advised
    # correctly (an earlier --start, not a later one) and a stale forecast is warned of
    for cmd in ("predict", "evaluate"):  # an empty shell variable ran every group
        empty_types = runner.invoke(app, [cmd, "--incidents", str(src), "--types", " , "])
        assert empty_types.exit_code == 2
        assert "--types is empty (got ' , '): give type groups or types" in " ".join(
            empty_types.output.split()
        )
    zh = runner.invoke(app, ["predict", "--incidents", str(src), "--types", "", "--lang", "zh"])
    assert "--types 为空（实为 ''）" in zh.output
    neg = runner.invoke(app, ["predict", "--incidents", str(src), "--lookback-days", "-3"])
    assert neg.exit_code == 2 and "--lookback-days must be 0" in neg.output
    far = [
        "predict", "--incidents", str(src), "--start", "2030-01-01", "--method", "naive",
        "--out", str(tmp_path / "far"),
    ]  # fmt: skip
    # a window years after the data: forecast as of the data's end (local midnight after
    # the last incident), the look-back counted back from there, not the empty years
    # between taken for days without incidents (a new-user test got 0 expected)
    stale = runner.invoke(app, [*far, "--lookback-days", "30"])
    assert stale.exit_code == 0, stale.output
    assert "warning: the data end" in stale.output and "(2014-07-30 -> 2030-01-01)" in stale.output
    run = json.loads((tmp_path / "far" / "run.json").read_text(encoding="utf-8"))
    assert run["history_end"] == "2014-07-31 00:00:00-05:00"
    when = pd.to_datetime(pd.read_csv(src)["Date"], format="%m/%d/%Y %I:%M:%S %p")
    last_week = int(((when >= "2014-07-24") & (when < "2014-07-31")).sum())  # naive: 7 days
    assert run["groups"][0]["group"] == "all"  # then the type groups
    assert run["groups"][0]["expected_incidents"] == round(last_week / 7, 3)
    assert run["groups"][0]["history_days"] == 30.0
    # a gap of days, under the stale warning's 28: said on the terminal too
    near = [*far[:4], "2014-08-03", *far[5:-1], str(tmp_path / "near")]
    gap = runner.invoke(app, near)
    assert gap.exit_code == 0, gap.output
    assert (
        "the history ends at 2014-07-31 00:00 (the local midnight after the last incident): the "
        "3 days from there to the window hold no data"
    ) in " ".join(gap.output.split())


@pytest.mark.realdata
def test_open_cp_split_reproduces_its_baselines(data_dir: Path) -> None:
    """The counting grid and the 200 m retrospective predictor on open_cp's split give
    open_cp's own figures (issue 3, item 5): naive 0.159 / 0.408 and retrospective
    0.421 / 0.840 (all types, 1 % / 5 % / 20 %), to within 0.003."""
    spec = EvaluationSpec(
        incident_files=(data_dir / "chicago/incidents/Crimes_September_2014.csv",),
        profile="chicago",
        crs="EPSG:26916",
        window="day",
        start="2014-09-23",
        windows=7,
        lookback_days=None,
        methods=("naive:period_days=none", "kde:window_days=none"),
        fractions=(0.01, 0.05, 0.20),
        offset_sensitivity=False,
    )
    run = run_evaluation(spec)
    assert (run.grid.nx, run.grid.ny, run.grid.n_active) == (212, 280, 59_360)
    s = run.evaluation.summary().set_index(["method", "fraction"])["hit_rate_mean"]
    assert s[("naive:period_days=none", 0.01)] == pytest.approx(0.159, abs=0.003)
    assert s[("kde:window_days=none", 0.05)] == pytest.approx(0.421, abs=0.003)
    assert s[("kde:window_days=none", 0.20)] == pytest.approx(0.840, abs=0.003)


def test_predict_writes_the_forecast_and_reads_nothing_from_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xunfang.analyse.forecast import select

    # auto without its two costliest candidates (stack, gbm), to keep the test fast; the
    # candidates' list itself is tested in test_select.py
    monkeypatch.setattr(select, "CANDIDATES", select.CANDIDATES[:-2])
    src = _csv(tmp_path / "crimes.csv")
    # the same file without the incidents from the window's start on (2014-07-25 local)
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    early = [ln for ln in lines[1:] if pd.Timestamp(ln.split(",")[1]) < pd.Timestamp("2014-07-25")]
    cut = tmp_path / "before.csv"
    cut.write_text(lines[0] + "".join(early), encoding="utf-8")
    assert len(early) < 900
    outs = {}
    for name, path in (("full", src), ("cut", cut)):
        outs[name] = tmp_path / name
        args = ["predict", "--incidents", str(path), "--types", "BURGLARY,BATTERY"]
        args += ["--start", "2014-07-25", "--lookback-days", "0", "--out", str(outs[name])]
        # a budget that never binds: both runs must make the same choice at any load
        args += ["--budget-s", "100000"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    full = json.loads((outs["full"] / "forecast.geojson").read_text(encoding="utf-8"))
    props = pd.DataFrame([f["properties"] for f in full["features"]])
    run = json.loads((outs["full"] / "run.json").read_text(encoding="utf-8"))
    n_active = run["active_cells"]
    assert len(props) == n_active
    for g in run["groups"]:
        slug = g["group"].lower()
        assert props[f"risk_{slug}"].sum() == pytest.approx(g["expected_incidents"], abs=1e-3)
        assert props[f"rank_{slug}"].min() == 1
        assert g["history"][1] < "2014-07-25"  # the last incident used is before the window
    hot = pd.read_csv(outs["full"] / "hotspots.csv")
    top1 = hot[(hot["group"] == "BURGLARY") & (hot["coverage"] == 0.01)]
    assert len(top1) == int(np.floor(0.01 * n_active + 1e-9))
    assert top1["risk"].is_monotonic_decreasing
    sel = pd.read_csv(outs["full"] / "selection.csv")
    assert set(sel["group"]) == {"BURGLARY", "BATTERY"} and sel["chosen"].sum() == 2
    # each row says why its group's choice was made, in both languages (a new-user test
    # found predict's file without the reason evaluate's has)
    picked = sel[sel["chosen"]].set_index("group")
    for g in ("BURGLARY", "BATTERY"):
        assert picked.loc[g, "reason"].startswith(picked.loc[g, "candidate"] + ": mean ")
        assert picked.loc[g, "reason_zh"].startswith(picked.loc[g, "candidate"] + "：")
        assert sel.loc[sel["group"] == g, "reason"].nunique() == 1
    picks = json.loads((outs["full"] / "selection.json").read_text(encoding="utf-8"))
    assert [p["reason_zh"] for p in picks] == [picked.loc[p["group"], "reason_zh"] for p in picks]
    html = (outs["full"] / "report.html").read_text(encoding="utf-8")
    assert "What it was computed on" in html and "one standard error" in html
    # the incidents from the window on change nothing (both files span the same rectangle,
    # so the grids are the same)
    cut_run = json.loads((outs["cut"] / "run.json").read_text(encoding="utf-8"))
    assert cut_run["grid_origin_m"] == run["grid_origin_m"] and cut_run["active_cells"] == n_active
    cut_fc = json.loads((outs["cut"] / "forecast.geojson").read_text(encoding="utf-8"))
    cut_props = pd.DataFrame([f["properties"] for f in cut_fc["features"]])
    pd.testing.assert_frame_equal(cut_props, props)
    sel_cut = pd.read_csv(outs["cut"] / "selection.csv")
    pd.testing.assert_frame_equal(sel_cut.drop(columns="seconds"), sel.drop(columns="seconds"))


def test_predict_gives_gbm_the_type_mix_of_the_incident_table(tmp_path: Path) -> None:
    src = _csv(tmp_path / "crimes.csv")
    out = tmp_path / "gbm"
    args = [
        "predict",
        "--incidents",
        str(src),
        "--types",
        "BURGLARY",
        "--methods",
        "gbm",
    ]  # evaluate's spelling
    args += ["--start", "2014-07-29", "--lookback-days", "0", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    imp = pd.read_csv(out / "importance.csv")
    # the type-mix features exist only when the CLI hands gbm a CellContext built from
    # every type of the table (burglaries and batteries here)
    mix = {"all_rate_28d", "all_rate_365d", "all_rate_365d_s1", "type_share_365d"}
    assert mix <= set(imp["feature"]) and set(imp["group"]) == {"BURGLARY"}
    assert imp["importance"].sum() == pytest.approx(1.0)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    # 450 burglaries and 450 batteries, all before the window but those of 07-29..30
    assert "type mix of " in run["context"] and "incidents of all types" in run["context"]
    n_mix = int(run["context"].split("type mix of ")[1].split(" ")[0].replace(",", ""))
    assert n_mix > run["groups"][0]["n_train"]  # more than the burglaries alone
    assert "no study area of a city" in run["context"]  # place layers named as left out
    assert "type mix" in result.output


def test_evaluate_says_when_no_window_holds_an_incident(tmp_path: Path) -> None:
    # Synthetic: burglaries only in June, batteries into July; burglary windows in late July
    # hold none (a new user got a table of nan).
    src = _csv(tmp_path / "crimes.csv")
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = [lines[0]] + [
        ln for ln in lines[1:] if ",BATTERY," in ln or pd.Timestamp(ln.split(",")[1]).month == 6
    ]
    src.write_text("".join(keep), encoding="utf-8")
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY", "--start", "2014-07-27",
        "--windows", "3", "--methods", "naive", "--no-offset-sensitivity",
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "nothing to score: 0 of 3 test windows held an incident" in result.output
    assert "nan" not in result.output


def test_evaluate_names_date_only_incidents_when_no_window_holds_one(tmp_path: Path) -> None:
    # Synthetic: the burglaries from 27 July on have a date and no time of day (the
    # sept2014 layout's %Y/%d/%m); the night windows 27-28, 28-29 and 29-30 July (22-06)
    # hold none with a time, and the date-only ones of 28, 29 and 30 July are left out
    src = _csv(tmp_path / "crimes.csv")
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    out_lines, n_left = [lines[0]], 0
    for ln in lines[1:]:
        cells = ln.split(",")
        when = pd.Timestamp(cells[1])
        if ",BURGLARY," in ln and when >= pd.Timestamp("2014-07-27"):
            cells[1] = when.strftime("%Y/%d/%m")
            n_left += when.normalize() in pd.to_datetime(["2014-07-28", "2014-07-29", "2014-07-30"])
        out_lines.append(",".join(cells))
    src.write_text("".join(out_lines), encoding="utf-8")
    assert n_left > 0
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY", "--start", "2014-07-27",
        "--windows", "3", "--window", "night", "--methods", "naive",
        "--no-offset-sensitivity", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert (
        f"nothing to score: 0 of 3 test windows held an incident with a time of day: {n_left:,} "
        "test incidents are known only to the day (no time of day)"
    ) in " ".join(result.output.split())
    assert "widen --types" not in result.output


def test_evaluate_auto_chooses_per_type_and_keeps_scores_across_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xunfang.analyse.forecast import select

    # three cheap candidates keep the test fast; the list itself is tested in test_select.py
    cheap = [c for c in select.CANDIDATES if c.family in ("naive", "prospective")]
    monkeypatch.setattr(select, "CANDIDATES", tuple(cheap))
    src = _csv(tmp_path / "crimes.csv")
    out = tmp_path / "out"
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY,BATTERY",
        "--start", "2014-07-25", "--windows", "3", "--lookback-days", "45",
        "--methods", "auto,naive:period_days=28", "--no-offset-sensitivity",
    ]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--reselect-every-days", "1"])
    assert result.exit_code == 0, result.output
    sel = pd.read_csv(out / "selection.csv")
    # one choice per type and test day
    chosen = sel[sel["chosen"]]
    assert sorted(chosen.groupby("group").size().items()) == [("BATTERY", 3), ("BURGLARY", 3)]
    # a cadence other than the default is named in the method's label, as a budget is
    assert "auto:reselect_every_days=1 (BURGLARY): chose" in result.output
    # day 1 scores its validation windows; days 2 and 3 keep all but the newest
    scores = pd.read_csv(out / "selection_scores.csv")
    fresh = scores[~scores["reused"]].groupby(["group", "test_window"])["window"].nunique()
    assert fresh.groupby(level=0).apply(lambda s: s.iloc[1:].tolist()).to_dict() == {
        "BATTERY": [1, 1],
        "BURGLARY": [1, 1],
    }
    rows = pd.read_csv(out / "results.csv")
    auto = rows[(rows["method"] == "auto:reselect_every_days=1") & (rows["fraction"] == 0.01)]
    assert len(auto) == 3 and auto["chosen"].str.startswith("BURGLARY: ").all()
    assert auto["chosen"].str.contains("; BATTERY: ").all()
    # the default cadence: chosen for the first day, kept for the next two (7 days)
    weekly = tmp_path / "weekly"
    result = CliRunner().invoke(app, [*args, "--out", str(weekly)])
    assert result.exit_code == 0, result.output
    sel = pd.read_csv(weekly / "selection.csv")
    assert set(sel["selected_for"]) == {"2014-07-25 day"}
    assert sel[sel["chosen"]]["model_fitted_on"].tolist() == [
        f"2014-07-{d} 00:00" for d in (25, 25, 26, 26, 27, 27)
    ]
    assert "auto (BURGLARY): chose anew for 1 of 3 windows" in result.output
    scores = pd.read_csv(weekly / "selection_scores.csv")
    assert set(scores["test_window"]) == {"2014-07-25 day"}
    run = json.loads((weekly / "run.json").read_text(encoding="utf-8"))
    assert "reselect_every_days=7, refit_every_days=7" in run["methods"]["auto"]


def test_evaluate_and_predict_in_chinese(tmp_path: Path) -> None:
    """--lang zh: the report and the terminal in Chinese, the CSV and JSON columns as in
    English (a Chinese district's analyst found them English only)."""
    src = _csv(tmp_path / "crimes.csv")
    runner = CliRunner()
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY", "--window", "night",
        "--start", "2014-07-20", "--windows", "3", "--lookback-days", "30",
        "--methods", "naive:period_days=28,prospective",
    ]  # fmt: skip
    zh = runner.invoke(app, [*args, "--out", str(tmp_path / "zh"), "--lang", "zh"])
    assert zh.exit_code == 0, zh.output
    en = runner.invoke(app, [*args, "--out", str(tmp_path / "en")])
    assert en.exit_code == 0, en.output
    assert "命中率 1%" in zh.output and "秒/时段" in zh.output
    assert "已写出" in zh.output and "Wrote" not in zh.output
    html = (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    assert "<h1>热点预测评估：夜间（22-06）时段</h1>" in html
    assert "网格偏移敏感性" in html and "Grid-offset sensitivity" not in html
    assert "前瞻热点（Bowers 等 2004）" in html  # what the method is
    assert json.dumps("标记面积占比（%）")[1:-1] in html  # the chart's axis (plotly's JSON)
    assert "3 个夜间（22-06）时段" in html
    assert "3 个夜间（22-06）时段 2014-07-20 夜间（22-06） – 2014-07-22 夜间（22-06）" in html
    for name in ("results.csv", "summary.csv", "paired.csv"):
        assert (
            pd.read_csv(tmp_path / "zh" / name).columns.tolist()
            == pd.read_csv(tmp_path / "en" / name).columns.tolist()
        )
    pred = [
        "predict", "--incidents", str(src), "--types", "BURGLARY", "--method", "naive",
        "--start", "2014-07-25", "--out", str(tmp_path / "p"), "--lang", "zh",
    ]  # fmt: skip
    r = runner.invoke(app, pred)
    assert r.exit_code == 0, r.output
    assert "所选方法" in r.output and "预计警情" in r.output
    html = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert "<h2>计算依据</h2>" in html and "固定方法（未做选择）" in html
    assert "What it was computed on" not in html
    # a fixed method's selection file has its one row, for a script that reads every run's
    fixed = pd.read_csv(tmp_path / "p" / "selection.csv")
    assert fixed[["group", "candidate", "chosen", "reason", "reason_zh"]].values.tolist() == [
        ["BURGLARY", "naive", True, "fixed method (no selection)", "固定方法（未做选择）"]
    ]
    assert not (tmp_path / "p" / "selection_scores.csv").exists()
    # an automatic choice says why in Chinese, in the terminal and the report
    pred[pred.index("naive")] = "auto:validation_windows=2:min_validation_events=0"
    r = runner.invoke(app, [*pred[:-4], "--out", str(tmp_path / "a"), "--lang", "zh"])
    assert r.exit_code == 0, r.output
    flat = "".join(r.output.split())  # with the incidents behind the scores
    assert re.search(r"个有警情的验证时段（共\d+起警情）上平均得分", flat)
    assert "validation score" not in r.output
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"个有警情的验证时段（共 \d+ 起警情）上平均得分", html)
    assert "windows with incidents" not in html
    # what gbm's context held, in Chinese in the report too (it stayed English there)
    assert "gbm 背景特征：" in html and "gbm context" not in html
    # the candidates' table with Chinese headers (the CSV keeps the column names)
    assert "<th>平均验证得分</th>" in html and "<th>在 1 个标准误内</th>" in html
    assert "<th>命中率 1 %</th>" in html and "score_mean" not in html
    bad = runner.invoke(app, [*pred[:3], "--lookback-days", "-3", "--lang", "zh"])
    assert bad.exit_code == 2
    assert "错误：--lookback-days 必须为 0（全部历史）或更大，实际为 -3.0" in bad.output


def _burglaries_before(src: Path, day: str) -> int:
    rows = src.read_text(encoding="utf-8").splitlines()[1:]
    return sum(
        1 for r in rows if ",BURGLARY," in r and pd.Timestamp(r.split(",")[1]) < pd.Timestamp(day)
    )


@pytest.mark.parametrize(
    "method",
    ["naive:period_days=365", "kde:window_days=365", "naive:period_days=none", "prospective"],
)
def test_expected_counts_are_rates_over_the_history_there_is(tmp_path: Path, method: str) -> None:
    """60 days of data (from 2014-06-01, Chicago time) under the default 365-day look-back:
    the expected count of the day 2014-07-25 is the burglaries before it over the 54 days
    observed (not over 365, which gave counts ~7x too low)."""
    src = _csv(tmp_path / "crimes.csv")
    n = _burglaries_before(src, "2014-07-25")
    assert 380 < n < 420  # about half of the 54/60 of 900
    out = tmp_path / "out"
    args = ["predict", "--incidents", str(src), "--types", "BURGLARY", "--method", method]
    result = CliRunner().invoke(app, [*args, "--start", "2014-07-25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    group = json.loads((out / "run.json").read_text(encoding="utf-8"))["groups"][0]
    assert group["history_days"] == pytest.approx(54.0)
    if method.startswith("prospective"):  # its look-back: the 8 weeks' bandwidth (56 days)
        # the weighted surface, scaled to the count of the incidents it used over 54 days
        assert group["expected_incidents"] == pytest.approx(n / 54.0, abs=2e-3)
    else:
        assert group["expected_incidents"] == pytest.approx(n / 54.0, abs=1e-3)


def test_a_group_too_sparse_for_auto_is_forecast_by_naive_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One arson in the history: auto finds no validation window with an incident. The
    arson group falls back to naive counts (1 incident / 54 days), saying why; the
    burglaries are forecast by auto as usual."""
    from xunfang.analyse.forecast import select

    monkeypatch.setattr(select, "CANDIDATES", select.CANDIDATES[:-2])  # fast: no stack, gbm
    src = _csv(tmp_path / "crimes.csv")
    with src.open("a", encoding="utf-8") as f:
        f.write(
            "9999,06/20/2014 10:00:00 AM,001XX W MADISON ST,ARSON,X,STREET,FALSE,FALSE,1,"
            "41.880100,-87.630100\n"
        )
    out = tmp_path / "out"
    args = ["predict", "--incidents", str(src), "--types", "BURGLARY,ARSON", "--start"]
    result = CliRunner().invoke(app, [*args, "2014-07-25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    groups = {g["group"]: g for g in json.loads((out / "run.json").read_text("utf-8"))["groups"]}
    arson, burglary = groups["ARSON"], groups["BURGLARY"]
    assert arson["fallback"] is True and arson["chosen"] == "naive:period_days=none"
    assert arson["expected_incidents"] == pytest.approx(round(1 / 54.0, 3))
    assert arson["why"].startswith(
        "auto could not forecast this group (1 incident(s) in the area in 54 days"
    )
    assert "forecast instead by naive counts" in arson["why"]
    assert arson["why_zh"].startswith("auto 无法预测此类别（54 天历史中研究区内仅 1 起警情：")
    assert burglary["why_zh"].startswith(burglary["chosen"] + "：")
    assert burglary["fallback"] is False and burglary["chosen"] != "naive:period_days=none"
    assert "could not forecast this group" in " ".join(result.output.split())
    assert "naive counts" in (out / "report.html").read_text(encoding="utf-8")
    # the selection files name every group: the fallback one with its one row and reason
    sel = pd.read_csv(out / "selection.csv")
    arson_rows = sel[sel["group"] == "ARSON"]
    assert arson_rows[["candidate", "chosen"]].values.tolist() == [["naive:period_days=none", True]]
    assert arson_rows["reason"].iloc[0] == arson["why"]
    assert (sel[sel["group"] == "BURGLARY"]["chosen"]).sum() == 1
    picks = {p["group"]: p for p in json.loads((out / "selection.json").read_text("utf-8"))}
    assert picks["ARSON"]["fallback"] is True and picks["ARSON"]["reason_zh"] == arson["why_zh"]
    assert picks["BURGLARY"]["chosen"] == burglary["chosen"]
    # the one arson cell is the only hotspot of its group, at every coverage
    hot = pd.read_csv(out / "hotspots.csv")
    assert hot[hot["group"] == "ARSON"]["rank"].tolist() == [1, 1, 1]


def test_the_gbm_context_line_is_in_chinese_under_zh(tmp_path: Path) -> None:
    from xunfang.serve.forecast_report import context_note_text

    note = (
        "gbm context: type mix of 1,156 incidents of all types; place layers dist_junction_m, "
        "road_m; left out: schools: the city names no schools file (give one to "
        "place_layers); an unknown reason."
    )
    assert context_note_text(note, "en") == note
    assert context_note_text(note, "zh") == (
        "gbm 背景特征：1,156 起各类警情的类型构成；场所图层 dist_junction_m、road_m；未使用："
        "学校：城市未给出学校文件（请在 place_layers 中给出）；an unknown reason。"
    )
    src = _csv(tmp_path / "crimes.csv")
    args = ["predict", "--incidents", str(src), "--types", "BURGLARY", "--method", "gbm"]
    args += ["--start", "2014-07-29", "--lookback-days", "0", "--lang", "zh"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "gbm")])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    # 900 incidents of both types before 2014-07-29, less those of 07-29..30
    assert "gbm背景特征：" in flat and "起各类警情的类型构成；场所图层无；未使用：" in flat
    assert "场所图层：没有城市的研究区（请给出--area和--city，或--boundaryFILE）。" in flat
    assert "gbm context" not in flat


def test_evaluate_scores_auto_once_it_can_and_names_a_pai_it_cannot_compute(
    tmp_path: Path,
) -> None:
    """Found by a new-user test: `forecast evaluate` dropped auto with an English reason
    under --lang zh, though the later windows had enough history, and printed PAI at 1 %
    as "nan". The data start 2014-06-01: with 20 days needed before a validation window,
    auto forecasts the test windows from 2014-06-22 on (2 of the 6 from 2014-06-18); the
    500 m grid of the data's rectangle has 63 active cells, 1 % of which is no cell."""
    src = _csv(tmp_path / "crimes.csv")
    auto = "auto:validation_windows=2:min_validation_events=0:min_train_days=20"
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY", "--cell-m", "500",
        "--start", "2014-06-18", "--windows", "6", "--no-offset-sensitivity",
        "--methods", f"{auto},naive:period_days=28",
    ]  # fmt: skip
    runner = CliRunner()
    en = runner.invoke(app, [*args, "--out", str(tmp_path / "en")], env={"COLUMNS": "300"})
    assert en.exit_code == 0, en.output
    said = " ".join(en.output.split())
    assert "nan" not in said and "not evaluated" not in said
    assert (
        f"{auto}: scored on 2 of 6 test windows; not on 4 (2014-06-18 day – 2014-06-21 day), "
        "which it could not forecast: auto: no validation window before 2014-06-21 day with "
        "20 days of history before it: give more history."
    ) in said
    assert ("PAI 1%: – (not computed): 1% of the 63 active cells is less than one cell") in said
    run = json.loads((tmp_path / "en" / "run.json").read_text("utf-8"))
    assert run["grid"]["active_cells"] == 63 and run["not_evaluated"] == {}
    assert list(run["windows_left_out"][auto]) == [f"2014-06-{d} day" for d in (18, 19, 20, 21)]
    rows = pd.read_csv(tmp_path / "en" / "results.csv")
    summary = pd.read_csv(tmp_path / "en" / "summary.csv")
    for method, n in ((auto, 2), ("naive:period_days=28", 6)):
        at = rows[(rows["method"] == method) & (rows["fraction"] == 0.05)]
        assert len(at) == n
        mean = summary[(summary["method"] == method) & (summary["fraction"] == 0.05)]
        assert mean["hit_rate_mean"].iloc[0] == pytest.approx(at["hit_rate"].mean())
    assert rows[rows["fraction"] == 0.01]["k_cells"].eq(0).all()  # floor(0.63)
    html = (tmp_path / "en" / "report.html").read_text("utf-8")
    assert "scored on 2 of 6 test windows" in html and "PAI 1%: – (not computed)" in html
    zh = runner.invoke(
        app, [*args, "--out", str(tmp_path / "zh"), "--lang", "zh"], env={"COLUMNS": "300"}
    )
    assert zh.exit_code == 0, zh.output
    said = " ".join(zh.output.split())
    assert "nan" not in said and "no validation window" not in said
    assert "BURGLARY · 全部警情的外接矩形" in said  # the area of the table's title
    assert (
        f"{auto}：6 个测试时段中对 2 个计分；4 个时段（2014-06-18 每日 – 2014-06-21 每日）无法"
        "预测，未计分：auto：2014-06-21 每日 之前没有一个验证时段在其之前有 20 天的历史："
        "请提供更多历史数据。"
    ) in said
    assert "PAI 1%：–（无法计算）：63 个有效网格的 1% 不足一个网格" in said
    html = (tmp_path / "zh" / "report.html").read_text("utf-8")
    assert "6 个测试时段中对 2 个计分" in html and "PAI 1%：–（无法计算）" in html


def test_auto_dropped_for_every_window_says_why_in_chinese(tmp_path: Path) -> None:
    src = _csv(tmp_path / "crimes.csv")
    auto = "auto:validation_windows=2:min_validation_events=0:min_train_days=100"
    args = [
        "evaluate", "--incidents", str(src), "--types", "BURGLARY", "--start", "2014-07-20",
        "--windows", "2", "--no-offset-sensitivity", "--methods", f"{auto},naive:period_days=28",
        "--out", str(tmp_path / "zh"), "--lang", "zh",
    ]  # fmt: skip
    zh = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert zh.exit_code == 0, zh.output
    said = " ".join(zh.output.split())
    assert (
        f"{auto} 未参与评估（其他方法照常评估）：auto：2014-07-21 每日 之前没有一个验证时段在其"
        "之前有 100 天的历史：请提供更多历史数据"
    ) in said  # the last window's reason: the nearest to enough history
    assert "no validation window" not in said


def test_default_windows_reaching_before_the_data_say_how_many_fit(tmp_path: Path) -> None:
    """Found by a new-user test: `forecast evaluate` on a month of data without --start
    said "choose a later --start" (in English under --lang zh) of a --start never given.
    The data run from 2014-06-01 00:59 to 2014-07-30 21:13 (about 15 incidents a day;
    07-30 holds as many, so it counts as whole): the last 70 days start on 2014-05-22, and
    of those windows the 59 from 2014-06-02 to 07-30 have history before them."""
    src = _csv(tmp_path / "crimes.csv")
    f = pd.read_csv(src)
    when = pd.to_datetime(f["Date"], format="%m/%d/%Y %I:%M:%S %p")
    assert when.min().date().isoformat() == "2014-06-01"
    assert when.max().date().isoformat() == "2014-07-30"
    args = ["evaluate", "--incidents", str(src), "--windows", "70", "--methods", "kde"]
    args += ["--out", str(tmp_path / "o")]
    first = f"{when.min():%Y-%m-%d %H:%M}"
    for lang, said in (
        (
            "en",
            "the last 70 day windows (no --start given) reach back to 2014-05-22, before the "
            f"data (first incident {first}): give --windows 59 or fewer, or more history",
        ),
        (
            "zh",
            "最近 70 个时段（--window day，未给出 --start）回溯到 2014-05-22，早于数据开始"
            f"（第一起警情 {first}）：请用 --windows 59 或更少，或提供更多历史数据",
        ),
    ):
        res = CliRunner().invoke(app, [*args, "--lang", lang], env={"COLUMNS": "300"})
        assert res.exit_code == 2
        assert said in " ".join(res.output.split())
    assert first == "2014-06-01 00:59"
    args[args.index("70")] = "59"
    assert CliRunner().invoke(app, args).exit_code == 0


def test_predict_with_no_history_says_so_in_local_time_and_in_chinese(tmp_path: Path) -> None:
    """The data's span in the window's local time (it was printed in UTC beside a local
    window start), in English and Chinese (a new-user test's --lang zh run got English)."""
    src = _csv(tmp_path / "crimes.csv")
    frame = pd.read_csv(src)
    when = pd.to_datetime(frame["Date"], format="%m/%d/%Y %I:%M:%S %p")
    first, last = f"{when.min():%Y-%m-%d %H:%M}", f"{when.max():%Y-%m-%d %H:%M}"
    runner = CliRunner()
    for lang, lookback, expected in (
        (
            "en",
            [],
            f"no incident in the history before 2014-05-01 00:00 (look-back 365 days; data "
            f"from {first} to {last}, local time): choose a later --start",
        ),
        (
            "zh",
            ["--lookback-days", "0"],
            f"2014-05-01 00:00 之前的历史中没有警情（回看全部历史；数据自 {first} 至 {last}，"
            "当地时间）：请用更晚的 --start",
        ),
        (
            "zh",
            # the look-back counts back from the midnight after the last incident (21:13)
            ["--lookback-days", "0.01", "--start", "2015-01-01"],
            f"2015-01-01 00:00 之前的历史中没有警情（回看 0.01 天；数据自 {first} 至 {last}，"
            "当地时间）：请用更早的 --start 或更长的 --lookback-days",
        ),
    ):
        args = ["predict", "--incidents", str(src), "--start", "2014-05-01", *lookback]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "p"), "--lang", lang])
        assert result.exit_code == 2, result.output
        assert expected in " ".join(result.output.split()), result.output


def test_predict_refuses_a_list_of_methods_and_points_to_evaluate(tmp_path: Path) -> None:
    src = _csv(tmp_path / "crimes.csv")
    args = ["predict", "--incidents", str(src), "--methods", "kde,naive", "--out", str(tmp_path)]
    en = CliRunner().invoke(app, args)
    assert en.exit_code == 2
    assert (
        "forecast predict forecasts with one method, got 'kde,naive': give one (e.g. auto), "
        "or compare them with forecast evaluate --methods kde,naive"
    ) in " ".join(en.output.split())
    zh = CliRunner().invoke(app, [*args, "--lang", "zh"])
    assert zh.exit_code == 2
    assert (
        "forecast predict 只用一种方法预测，实为 'kde,naive'：请只给一种（如 auto），或用 "
        "forecast evaluate --methods kde,naive 比较它们"
    ) in " ".join(zh.output.split())


def test_a_night_forecast_has_the_level_of_its_own_hours() -> None:
    """Synthetic history: 10 timed incidents at 10:00, 2 at 23:00 and 3 date-only ones.
    The night 22-06 holds 2 of the 12 timed ones (16.7 %) in a third of the day's hours,
    so a forecast at the day's average rate times 8/24 is scaled by 0.167 * 3 = 0.5 (a
    new-user test saw a district's night forecast 2.3 times its real nights)."""
    from xunfang.analyse.forecast import TrainingEvents, Window
    from xunfang.analyse.prediction import hour_factor

    how = np.array([10] * 10 + [23] * 2 + [-1] * 3, dtype=np.int64)  # Monday hours
    events = TrainingEvents(
        t_day=np.arange(15, dtype=np.float64),
        xy=np.zeros((15, 2)),
        cell=np.zeros(15, dtype=np.int64),
        hour_of_week=how,
        start_day=0.0,
        end_day=15.0,
        timezone="UTC",
        n_outside=0,
    )
    night = Window.local("2015-06-01", 22, 6, "UTC")
    factor, share = hour_factor(events, night)  # type: ignore[misc]
    assert share == pytest.approx(2 / 12) and factor == pytest.approx(0.5)
    # a week of nights: the same hours, the same factor
    week = Window.local("2015-06-01", 22, 6, "UTC", days=7)
    assert hour_factor(events, week) == pytest.approx((0.5, 2 / 12))
    # whole days weigh every hour alike: nothing to scale
    assert hour_factor(events, Window.local("2015-06-01", 0, 24, "UTC")) is None
    # the day shift 08-16 holds the 10 incidents at 10:00: 10/12 in a third of the day
    assert hour_factor(events, Window.local("2015-06-01", 8, 16, "UTC")) == pytest.approx(
        (2.5, 10 / 12)
    )


def test_a_group_absent_from_the_area_is_forecast_zero_without_blaming_the_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One arson, 8 km north of a boundary box around the Loop (synthetic): the other
    groups land in the box, so the note says the group is absent there, not "check the
    area and the CRS", and counts the one outside it."""
    from xunfang.analyse.forecast import select

    monkeypatch.setattr(select, "CANDIDATES", select.CANDIDATES[:2])  # fast: two naive
    src = _csv(tmp_path / "crimes.csv")
    with src.open("a", encoding="utf-8") as f:
        f.write(
            "9999,06/20/2014 10:00:00 AM,001XX W MADISON ST,ARSON,X,STREET,FALSE,FALSE,1,"
            "41.950000,-87.630000\n"
        )
    boundary = _loop_boundary(tmp_path / "loop.geojson")
    out = tmp_path / "out"
    args = ["predict", "--incidents", str(src), "--types", "BURGLARY,ARSON", "--start"]
    args += ["2014-07-25", "--boundary", str(boundary), "--profile", "chicago", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    groups = {g["group"]: g for g in json.loads((out / "run.json").read_text("utf-8"))["groups"]}
    arson = groups["ARSON"]
    assert arson["expected_incidents"] == 0.0 and arson["n_train"] == 0
    assert arson["why"] == (
        f"no incident of this group in the area in {arson['history_days']:.0f} days of "
        "history (1 outside it): forecast 0"
    )
    assert groups["BURGLARY"]["n_train"] > 0
    # nothing forecast it, and no cell of zero risk is listed or mapped as its hotspot
    assert arson["chosen"] == "none"
    hot = pd.read_csv(out / "hotspots.csv")
    assert "ARSON" not in set(hot["group"]) and "BURGLARY" in set(hot["group"])
    sel = pd.read_csv(out / "selection.csv").set_index("group")
    assert sel.loc["ARSON", "candidate"] == "none" and sel.loc["ARSON", "reason"] == arson["why"]


def test_a_bad_method_value_is_refused_before_any_data_is_read(tmp_path: Path) -> None:
    """The incidents file does not exist: the method's value is the error named, as it is
    checked first (a city's road network was loaded before the refusal)."""
    missing = str(tmp_path / "no-such.csv")
    for cmd in ("predict", "evaluate"):
        args = [cmd, "--incidents", missing, "--methods", "gbm:max_rows=0"]
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / cmd)])
        assert result.exit_code == 2
        assert "max_rows must be a whole number of at least 1,000 (or none), got 0" in " ".join(
            result.output.split()
        ), result.output


def test_a_tod_value_that_is_no_number_is_refused_in_both_languages(tmp_path: Path) -> None:
    """``+tod:shrinkage_events=abc`` raised a TypeError (a traceback) before."""
    src = _csv(tmp_path / "crimes.csv")
    for value in ("abc", "-1", "nan"):
        args = ["predict", "--incidents", str(src), "--out", str(tmp_path / "p")]
        args += ["--methods", f"naive+tod:shrinkage_events={value}"]
        en = CliRunner().invoke(app, args)
        assert en.exit_code == 2
        assert f"shrinkage_events must be >= 0, got {value}" in en.output
        zh = CliRunner().invoke(app, [*args, "--lang", "zh"])
        assert zh.exit_code == 2
        assert f"shrinkage_events 必须大于或等于 0，实际为 {value}" in zh.output


def test_a_night_over_date_only_calls_is_refused_not_guessed(tmp_path: Path) -> None:
    """SYNTHETIC calls in the Portland layout, known only to the day (as the real ones): a
    night forecast or evaluation cannot say which calls fell at night. predict used to
    give a third of a day's count, auto blamed a short history, and evaluate wrote a
    report of NaN (a new-user test). A day forecast still runs."""
    src = _portland_calls(tmp_path / "calls.csv", days=60, per_day=5)
    runner = CliRunner()
    base = ["--incidents", str(src), "--profile", "portland", "--window", "night"]
    msg = (
        "all 300 incidents are known only to the day (no time of day): --window night, some "
        "hours of the day, cannot be forecast or scored from them; use --window day or week"
    )
    for cmd in (["predict", "--method", "naive"], ["predict"], ["evaluate", "--windows", "2"]):
        r = runner.invoke(app, [cmd[0], *base, *cmd[1:], "--out", str(tmp_path / "o")])
        assert r.exit_code == 2, r.output
        assert msg in " ".join(r.output.split())
    assert not (tmp_path / "o").exists()
    zh = runner.invoke(app, ["predict", *base, "--out", str(tmp_path / "z"), "--lang", "zh"])
    said = "".join(zh.output.split())
    assert (
        "全部300起警情只有日期、没有具体时间：无法对一天中的部分时段（--windownight）做预测" in said
    )
    day = runner.invoke(
        app, ["predict", *base[:-2], "--method", "naive", "--out", str(tmp_path / "d")]
    )
    assert day.exit_code == 0, day.output
    run = json.loads((tmp_path / "d" / "run.json").read_text(encoding="utf-8"))
    assert run["groups"][0]["expected_incidents"] == 5.0  # 35 calls in the last 7 days


def test_rows_rejected_from_a_raw_file_are_named_by_every_forecast_run(tmp_path: Path) -> None:
    """Two bad rows (a date that is none, no coordinates) in a raw file: predict and
    evaluate say so on the terminal and in the report, naming field and row (a new-user
    test found them only in run.json, and the report's "of N read" counting the accepted)."""
    src = _csv(tmp_path / "crimes.csv")
    with src.open("a", encoding="utf-8") as f:
        f.write("9998,13/45/2014 10:00:00 AM,001XX W MADISON ST,BURGLARY,X,STREET,FALSE,FALSE,1,")
        f.write("41.880100,-87.630100\n")
        f.write(
            "9999,06/20/2014 10:00:00 AM,001XX W MADISON ST,BURGLARY,X,STREET,FALSE,FALSE,1,,\n"
        )
    runner = CliRunner()
    common = ["--incidents", str(src), "--types", "BURGLARY", "--start", "2014-07-25"]
    pred = runner.invoke(
        app, ["predict", *common, "--method", "naive", "--out", str(tmp_path / "p")]
    )
    assert pred.exit_code == 0, pred.output
    said = " ".join(pred.output.split())
    # one file: named in front (the summary names files only when there are several)
    assert "2 of the 902 rows read were rejected: crimes.csv: 1 row:" in said
    assert "row 902" in said and "row 903" in said and "Date" in said
    html = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert "2 of the 902 rows read were rejected" in html
    args = ["evaluate", *common, "--windows", "2", "--methods", "naive"]
    args += ["--no-offset-sensitivity", "--out", str(tmp_path / "e"), "--lang", "zh"]
    ev = runner.invoke(app, args)
    assert ev.exit_code == 0, ev.output
    assert "读入 902 行，其中 2 行被拒" in ev.output
    html = (tmp_path / "e" / "report.html").read_text(encoding="utf-8")
    assert "读入 902 行，其中 2 行被拒" in html and "（接受 900 起" in html
    # ingest's own notes reach the forecast's terminal and report too (a new-user test
    # found a mixed-encoding note only in run.json): here a row without an id
    with src.open("a", encoding="utf-8") as f:
        f.write(",06/21/2014 10:00:00 AM,001XX W MADISON ST,BURGLARY,X,STREET,FALSE,FALSE,1,")
        f.write("41.880100,-87.630100\n")
    pred = runner.invoke(
        app, ["predict", *common, "--method", "naive", "--out", str(tmp_path / "q")]
    )
    note = "crimes.csv: 1 row(s) had no ID: each was given the id crimes.csv:ROW"
    assert note in " ".join(pred.output.split())
    assert note in (tmp_path / "q" / "report.html").read_text(encoding="utf-8")


def test_an_area_of_another_city_than_the_incidents_is_named_with_its_city(
    tmp_path: Path,
) -> None:
    """SYNTHETIC: Portland-layout calls and a boundary box around Chicago's Loop. The
    error names the area and the city it came from (a new-user test got "empty training
    set ... check the area and the CRS" for the example city's district:1)."""
    boundary = _loop_boundary(tmp_path / "loop.geojson")
    src = _portland_calls(tmp_path / "calls.csv", days=28, per_day=1)
    args = ["predict", "--incidents", str(src), "--profile", "portland", "--boundary"]
    args += [str(boundary), "--method", "naive", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert (
        "none of the 28 incidents lies inside --area boundary:loop (city: loop): the area is "
        "of another place than the incidents"
    ) in " ".join(r.output.split())
    zh = CliRunner().invoke(app, [*args, "--lang", "zh"])
    assert "28 起警情无一落在 --area boundary:loop（城市 loop）内" in zh.output


def test_a_night_forecast_over_partly_dated_incidents_says_what_each_count_came_from(
    tmp_path: Path,
) -> None:
    """SYNTHETIC: the burglaries from 27 July on carry a date only. A night forecast of
    30 July takes its hour share from the timed burglaries and its level from all of
    them, and says so (a second new-user test found the numbers right but unexplained)."""
    src = _csv(tmp_path / "crimes.csv")
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    out_lines, timed, total = [lines[0]], 0, 0
    for ln in lines[1:]:
        cells = ln.split(",")
        when = pd.Timestamp(cells[1])
        if ",BURGLARY," in ln:
            if when >= pd.Timestamp("2014-07-27"):
                cells[1] = when.strftime("%Y/%d/%m")  # the sept2014 layout: a date only
            else:
                timed += 1
            total += when.normalize() < pd.Timestamp("2014-07-31")  # all before the night
        out_lines.append(",".join(cells))
    src.write_text("".join(out_lines), encoding="utf-8")
    args = ["predict", "--incidents", str(src), "--types", "BURGLARY", "--window", "night"]
    args += ["--start", "2014-07-30", "--method", "naive", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert run["groups"][0]["hour_share_from"] == [timed, total]
    assert timed < total
    assert (
        f"(the shares from the incidents with a time of day only, e.g. {timed:,} of {total:,}; "
        "the level from all of them)"
    ) in " ".join(r.output.split())
