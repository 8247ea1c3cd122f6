"""City options and output folders of ``deploy`` / ``simulate run`` on a plan folder (found
by a tester: ``--stations /nonexistent.csv`` passed silently under ``--plan-dir``, and a
``simulate run --out`` into a deploy's folder overwrote its per-district report.html).

The refusals come before any data is read, so the plan folders here are made-up stubs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError, ValidationError
from xunfang.serve._common import refuse_out_in_city_run
from xunfang.serve.cli import app
from xunfang.serve.cli_city import city_from_options, refuse_stations_with_plan_dir


def _invoke(args: list[str], lang: str = "en") -> tuple[int, str]:
    res = CliRunner().invoke(app, [*args, "--lang", lang], env={"COLUMNS": "300"})
    return res.exit_code, " ".join(res.output.split())  # rich wraps long lines


def _city_plan(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "city_summary.json").write_text(json.dumps({"districts": []}), encoding="utf-8")
    return folder


def test_a_missing_file_option_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.csv"
    for option in ("stations", "roads", "city"):
        with pytest.raises(DataFileError, match=f"{missing}: file not found"):
            city_from_options(**{option: missing})
    with pytest.raises(DataFileError, match=f"{missing}: boundary file not found"):
        city_from_options(boundary=missing)
    with pytest.raises(DataFileError, match="file not found"):
        city_from_options(incidents=[missing])


def test_stations_beside_a_plan_dir_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="the stations are the plan's"):
        refuse_stations_with_plan_dir(Path("s.csv"), Path("plan"))
    refuse_stations_with_plan_dir(None, Path("plan"))  # no --stations: nothing to refuse
    refuse_stations_with_plan_dir(Path("s.csv"), None)  # no plan: the stations are used


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_deploy_and_simulate_refuse_stations_under_plan_dir(tmp_path: Path, lang: str) -> None:
    plan = _city_plan(tmp_path / "plan")
    scenario = tmp_path / "s.toml"
    scenario.write_text("")
    roster = tmp_path / "roster.toml"
    roster.write_text("")
    runs = [
        ["deploy", "--plan-dir", str(plan), "--roster", str(roster)],
        ["simulate", "run", "--scenario", str(scenario), "--plan-dir", str(plan)],
    ]
    for args in runs:
        code, text = _invoke(
            [*args, "--stations", "/nonexistent.csv", "--out", str(tmp_path / "o")], lang
        )
        assert code == 2, text
        if lang == "zh":
            assert "--stations /nonexistent.csv 不能与 --plan-dir" in text, text
        else:
            assert "--stations /nonexistent.csv cannot be used with --plan-dir" in text, text
        assert not (tmp_path / "o" / "city_deploy_summary.json").exists()


def test_out_inside_another_city_run_is_refused(tmp_path: Path) -> None:
    deploy_out = tmp_path / "deploy"
    deploy_out.mkdir()
    (deploy_out / "city_deploy_summary.json").write_text("{}")
    for out in (deploy_out, deploy_out / "sub" / "sim"):
        with pytest.raises(ValidationError, match=r"of a city run of xunfang deploy or inside"):
            refuse_out_in_city_run(out, "simulate run")
        with pytest.raises(ValidationError, match=r"xunfang deploy or inside it .*: plan would"):
            refuse_out_in_city_run(out, "plan")  # a plan over a deploy's folder (tester 4)
    refuse_out_in_city_run(deploy_out, "deploy")  # a deploy may write over its own run
    refuse_out_in_city_run(tmp_path / "elsewhere", "simulate run")
    with pytest.raises(ValidationError, match=r"city run of xunfang plan or inside"):
        refuse_out_in_city_run(_city_plan(tmp_path / "plan2") / "x", "deploy")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_simulate_run_refuses_a_deploy_folder_as_out(tmp_path: Path, lang: str) -> None:
    plan = _city_plan(tmp_path / "plan")
    deploy_out = tmp_path / "deploy"
    (deploy_out / "东片").mkdir(parents=True)
    (deploy_out / "city_deploy_summary.json").write_text("{}")
    report = deploy_out / "东片" / "report.html"
    report.write_text("deploy's report")
    scenario = tmp_path / "s.toml"
    scenario.write_text("")
    code, text = _invoke(
        ["simulate", "run", "--scenario", str(scenario), "--plan-dir", str(plan),
         "--out", str(deploy_out)],
        lang,
    )  # fmt: skip
    assert code == 2, text
    if lang == "zh":
        assert "xunfang deploy 城市运行的文件夹" in text and "会覆盖其文件" in text, text
    else:
        assert "of a city run of xunfang deploy or inside it (city_deploy_summary.json)" in text
    # plan refuses it as well, before writing anything
    code, text = _invoke(["plan", "--out", str(deploy_out)], lang)
    assert code == 2 and "city_deploy_summary.json" in text, text
    assert report.read_text() == "deploy's report"
    assert sorted(p.name for p in deploy_out.iterdir()) == ["city_deploy_summary.json", "东片"]


def test_the_city_simulation_prints_calls_per_replication() -> None:
    from xunfang.serve.cli_simulate import city_sim_lines

    # a month of 123 calls, 2 replications: the totals count 246
    totals = {
        "stations_calls": 246.0,
        "stations_share_within_3min": 0.5,
        "stations_mean_response_min": 2.5,
        "stations_unserved": 40.0,
        "stations_share_unserved": 40 / 246,
    }
    # the mean is over served calls: the 20 calls per replication never served stand beside it
    assert city_sim_lines(totals, 2) == [
        "stations: 123 calls per replication (2 replications), within 3 min 50.0%, "
        "unserved 20 (16.3%), mean response 2.50 min (of served calls)"
    ]
    (zh,) = city_sim_lines(totals, 2, "zh")
    assert "每次重复 123 起报警（共 2 次重复）" in zh and "246" not in zh
    assert "未处置 20 起（16.3%），平均响应 2.50 分钟（仅计已处置警情）" in zh


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_deploy_checks_its_input_files_before_reading_anything(
    tmp_path: Path, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing --incidents file was reported after the road network was loaded (17 s on
    the example city), a missing roster by each district of a city plan in turn: now one
    error before anything is read (the network readers here fail the test if called)."""
    from xunfang.ingest.city import City

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the road network was read before the input files were checked")

    monkeypatch.setattr(City, "cached_road_network", no_network)
    plan = _city_plan(tmp_path / "plan")
    roster = tmp_path / "roster.toml"
    roster.write_text("")
    nope = tmp_path / "nope.csv"
    deploy = ["deploy", "--plan-dir", str(plan), "--out", str(tmp_path / "o")]
    code, text = _invoke([*deploy, "--roster", str(roster), "--incidents", str(nope)], lang)
    assert code == 2
    assert text == (
        f"错误：{nope}：文件不存在" if lang == "zh" else f"error: {nope}: file not found"
    )
    code, text = _invoke([*deploy, "--roster", str(nope)], lang)
    assert text == (
        f"错误：{nope}：排班文件不存在" if lang == "zh" else f"error: {nope}: roster file not found"
    )
    a_csv = tmp_path / "a.csv"
    code, text = _invoke(
        [*deploy, "--roster", str(nope), "--calendar", str(nope), "--incidents", str(a_csv)], lang
    )
    listed = f"--roster {nope}, --calendar {nope}, --incidents {a_csv}"
    assert text == (
        f"错误：输入文件不存在：{listed}"
        if lang == "zh"
        else f"error: input files not found: {listed}"
    )
