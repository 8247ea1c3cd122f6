"""Scenario files, the simulation table and deployment schedules: valid ones are read,
invalid ones are refused with messages naming the field (and row)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xunfang.dispatch.model import UnitKind
from xunfang.errors import DataFileError, ValidationError
from xunfang.serve.cli_simulate import app
from xunfang.simulate.calls import Period
from xunfang.simulate.scenario import load_scenario
from xunfang.simulate.tables import Distribution, load_sim_table
from xunfang.simulate.units import daily_duty, read_deployment, weekly_duty

GOOD = """
[scenario]
name = "test"
area = "community:LOOP"
month = "2015-06"
replications = 2
seed = 5
compare = ["stations", "booths"]

[plan]
booths = 4

[units.booth]
mode = "foot"
max_travel_min = 2.5
shift_hours = [20, 8]
"""


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_scenario_is_read_with_defaults(tmp_path: Path) -> None:
    sc = load_scenario(_write(tmp_path, GOOD))
    assert sc.scenario.replications == 2 and sc.scenario.compare == ["stations", "booths"]
    assert sc.units.booth.mode == "foot" and sc.units.booth.shift_hours == [20.0, 8.0]
    assert sc.units.station_car.per_station == 4  # default
    assert sc.calls.source == "replay" and sc.calls.midnight == "spread"
    assert sc.path("x.csv") == tmp_path.resolve() / "x.csv"
    changed = sc.with_changes(plan={"booths": 9}, units={"booth": {"officers_per_booth": 2}})
    assert changed.plan.booths == 9 and changed.units.booth.officers_per_booth == 2
    assert changed.units.booth.mode == "foot"  # untouched fields are kept


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('month = "2015-06"', 'month = "2015-13"'),
            r"field 'scenario\.month'.*a month like 2015-06",
        ),
        (("replications = 2", "replications = 0"), r"scenario\.replications: Input should be"),
        (("replications = 2", "replicates = 2"), r"scenario\.replicates: unknown field"),
        (("max_travel_min = 2.5", "max_travel_min = -1"), r"units\.booth\.max_travel_min"),
        (("shift_hours = [20, 8]", "shift_hours = [8, 8]"), r"units\.booth\.shift_hours"),
        (('mode = "foot"', 'mode = "bicycle"'), r"units\.booth\.mode"),
        (("booths = 4", 'booths = 4\nsites_csv = "x.csv"'), r"plan: .*either sites_csv or booths"),
        (('compare = ["stations", "booths"]', 'compare = ["drones"]'), r"scenario\.compare\.0"),
        (('area = "community:LOOP"\n', ""), r"scenario\.area: required field is missing"),
        (("replications = 2", 'replications = 2\ncleared_at = "home"'), r"scenario\.cleared_at"),
    ],
)
def test_invalid_scenarios_are_refused_naming_the_field(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    old, new = edit
    assert old in GOOD
    with pytest.raises(DataFileError, match=message):
        load_scenario(_write(tmp_path, GOOD.replace(old, new)))


def test_the_area_may_be_left_out_when_a_plan_gives_it(tmp_path: Path) -> None:
    no_area = _write(tmp_path, GOOD.replace('area = "community:LOOP"\n', ""))
    assert load_scenario(no_area, default_area="city").scenario.area == "city"
    # an area the file gives is kept
    assert load_scenario(_write(tmp_path, GOOD, "g.toml"), default_area="city").scenario.area == (
        "community:LOOP"
    )
    # simulate run --plan-dir reads it (then fails on the made-up plan folder, not the area)
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "city_summary.json").write_text('{"districts": []}')
    result = CliRunner().invoke(
        app,
        ["run", "--scenario", str(no_area), "--plan-dir", str(plan), "--workers", "0",
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    text = " ".join(result.output.split())
    assert "scenario.area" not in text, text
    result = CliRunner().invoke(app, ["run", "--scenario", str(no_area), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "scenario.area: required field is missing" in " ".join(result.output.split())


def test_unreadable_scenarios(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="scenario file not found"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(DataFileError, match="not valid TOML"):
        load_scenario(_write(tmp_path, "[scenario\narea = 1"))
    two = GOOD.replace("replications = 2", "replications = 0").replace("seed = 5", "seed = -1")
    with pytest.raises(DataFileError, match=r"2 problems: scenario\.replications.*scenario\.seed"):
        load_scenario(_write(tmp_path, two))


def test_cli_refuses_an_invalid_scenario(tmp_path: Path) -> None:
    bad = _write(tmp_path, GOOD.replace("max_travel_min = 2.5", "max_travel_mins = 2.5"))
    result = CliRunner().invoke(app, ["run", "--scenario", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "units.booth.max_travel_mins: unknown field" in " ".join(result.output.split())


def test_table_defaults_and_distributions(tmp_path: Path) -> None:
    table = load_sim_table()
    assert table.priority_group["violent"] == 1 and table.priority_type["BURGLARY"] == 2
    assert len(table.speed_factor_by_hour) == 24 and table.foot_factor == 6.0
    d = table.call_processing_s
    # the lognormal reproduces its median and 90th percentile
    assert d.from_quantile(np.array([0.5, 0.9])) == pytest.approx([45.0, 79.0])
    sigma = math.log(79.0 / 45.0) / 1.2815515655446004
    assert d.mean_value == pytest.approx(45.0 * math.exp(sigma**2 / 2))
    assert Distribution(dist="exponential", mean=10.0).from_quantile(1 - math.exp(-1)) == (
        pytest.approx(10.0)
    )
    with pytest.raises(ValueError, match=r"p90 .* must be greater than median"):
        Distribution(dist="lognormal", median=10.0, p90=5.0)
    text = (Path(__file__).parents[2] / "src/xunfang/data/sim_defaults.toml").read_text()
    bad = _write(tmp_path, text.replace("[on_scene_min.other]", "[on_scene_min.others]"), "t.toml")
    with pytest.raises(DataFileError, match="only in on_scene_min: \\['others'\\]"):
        load_sim_table(bad)
    with pytest.raises(ValidationError, match=r"type groups \['drones'\]"):
        table.priorities(np.array(["drones"], dtype=object), np.array([""], dtype=object))


JUNE = Period.month("2015-06")  # Monday 1 June 2015, 00:00


def test_duty_blocks_from_shifts_and_weeks() -> None:
    assert daily_duty([0, 24], JUNE, 7) == ()
    night = daily_duty([20, 8], JUNE, 7)
    assert night[0] == (-4 * 3600.0, 8 * 3600.0, 7)  # the night shift begun on 31 May
    assert night[1] == (20 * 3600.0, 32 * 3600.0, 7)
    # 1 June 2015 is a Monday: hour of week 0; Tuesday 10-12 h is hours 34-36
    blocks = weekly_duty([(34, 36, 3)], JUNE)
    assert blocks[:2] == (
        (34 * 3600.0, 36 * 3600.0, 3),
        ((168 + 34) * 3600.0, (168 + 36) * 3600.0, 3),
    )
    wrap = weekly_duty([(166, 2, 1)], JUNE)  # Sunday 22 h to Monday 2 h
    assert wrap[0] == (-2 * 3600.0, 2 * 3600.0, 1)
    with pytest.raises(ValidationError, match="month must be YYYY-MM"):
        Period.month("June")


def _snap(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(len(xy), dtype=np.int64) % 3, np.zeros(len(xy))


def test_deployment_schedule(tmp_path: Path) -> None:
    csv = _write(
        tmp_path,
        "unit_id,kind,block_start_hour_of_week,block_end_hour_of_week,lon,lat,node\n"
        "D1,patrol,16,24,-87.63,41.88,\n"
        "D1,patrol,40,48,-87.63,41.88,\n"
        "D2,booth,0,168,,,2\n",
        "dep.csv",
    )
    units = read_deployment(csv, JUNE, snap=_snap, crs="EPSG:32616", n_nodes=3, foot_factor=6.0)
    assert [u.unit_id for u in units] == ["dep:D1", "dep:D2"]
    assert units[0].kind is UnitKind.PATROL
    # weekly blocks in time order, each with its own post (the rows snapped to nodes 0, 1)
    assert units[0].duty[:3] == (
        (16 * 3600.0, 24 * 3600.0, 0),
        (40 * 3600.0, 48 * 3600.0, 1),
        ((168 + 16) * 3600.0, (168 + 24) * 3600.0, 0),
    )
    assert units[1].kind is UnitKind.BOOTH and units[1].post_node == 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("D1,patrol,16,24,-87.63,41.88\n", None),
        ("D1,car,16,24,-87.63,41.88\n", r"row 1, field 'kind'.*'car' is not one of"),
        ("D1,patrol,16,200,-87.63,41.88\n", r"field 'block_end_hour_of_week'"),
        ("D1,patrol,16,16,-87.63,41.88\n", r"the block is empty"),
        ("D1,patrol,16,24,,\n", r"field 'lon'.*no post"),
        (
            "D1,patrol,16,24,-87.63,41.88\nD1,patrol,20,30,-87.63,41.88\n",
            r"unit D1: overlapping duty blocks",
        ),
        (
            "D1,patrol,x,24,-87.63,41.88\nD2,boat,1,2,-87.63,41.88\n",
            r"2 problem\(s\): row 1 field 'block_start_hour_of_week'.*row 2 field 'kind'",
        ),
    ],
)
def test_invalid_deployment_schedules(tmp_path: Path, rows: str, message: str | None) -> None:
    header = "unit_id,kind,block_start_hour_of_week,block_end_hour_of_week,lon,lat\n"
    csv = _write(tmp_path, header + rows, "dep.csv")
    kw = {"snap": _snap, "crs": "EPSG:32616", "n_nodes": 3, "foot_factor": 6.0}
    if message is None:
        assert len(read_deployment(csv, JUNE, **kw)) == 1  # type: ignore[arg-type]
        return
    with pytest.raises(DataFileError, match=message):
        read_deployment(csv, JUNE, **kw)  # type: ignore[arg-type]
    missing = _write(tmp_path, "unit_id,kind\nD1,patrol\n", "m.csv")
    with pytest.raises(DataFileError, match=r"missing columns \['block_start_hour_of_week'"):
        read_deployment(missing, JUNE, **kw)  # type: ignore[arg-type]


def test_a_plan_made_from_the_replayed_month_is_said_not_to_be_held_out(tmp_path: Path) -> None:
    # A new user simulated June 2015 on booths sited from 18 months including June 2015,
    # and the report called the month held out.
    import json

    from xunfang.simulate.calls import Period
    from xunfang.simulate.runner import held_out_warning

    june = Period.month("2015-06")
    (tmp_path / "plan_summary.json").write_text(
        json.dumps({"incident_period": ["2014-01-01", "2015-06-30"]}), encoding="utf-8"
    )
    warning = held_out_warning(tmp_path, june)
    assert warning.startswith(" (NOT held out: the plan was made from incidents of 2014-01-01")
    assert "include the replayed 2015-06" in warning
    for span in (["2014-01-01", "2015-05-31"], ["2015-07-01", "2015-09-30"]):
        (tmp_path / "plan_summary.json").write_text(
            json.dumps({"incident_period": span}), encoding="utf-8"
        )
        assert held_out_warning(tmp_path, june) == ""
    (tmp_path / "plan_summary.json").write_text("{}", encoding="utf-8")  # an older plan
    assert held_out_warning(tmp_path, june) == ""


def test_deployment_positions_in_gcj02_are_read_back_to_wgs84(tmp_path: Path) -> None:
    """``xunfang deploy`` after a ``--output-frame gcj02`` plan writes its posts in GCJ-02
    with a ``coord_frame`` column: the simulation must snap the WGS-84 position, not a
    point ~500 m off (the GCJ-02 offset in Shanghai)."""
    from pyproj import Transformer

    from xunfang.ingest.coords import wgs84_to_gcj02

    wgs = [(121.4662940693, 31.2245364388), (121.4774068563, 31.2226241205)]
    gcj = [tuple(float(v) for v in wgs84_to_gcj02(lon, lat)) for lon, lat in wgs]
    # the offset is real: about 0.0045 deg of longitude, -0.0019 of latitude here
    assert 0.004 < gcj[0][0] - wgs[0][0] < 0.005 and -0.003 < gcj[0][1] - wgs[0][1] < -0.001
    seen: list[np.ndarray] = []

    def snap(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(np.asarray(xy, float))
        return np.arange(len(xy), dtype=np.int64) % 3, np.zeros(len(xy))

    header = "unit_id,kind,block_start_hour_of_week,block_end_hour_of_week,lon,lat,coord_frame\n"
    rows = "".join(
        f"D{i},patrol,16,24,{lon!r},{lat!r},{frame}\n"
        for i, ((lon, lat), frame) in enumerate(zip(gcj, ["gcj02", "GCJ-02"], strict=True))
    )
    kw = {"snap": snap, "crs": "EPSG:32651", "n_nodes": 3, "foot_factor": 6.0}
    read_deployment(_write(tmp_path, header + rows, "gcj.csv"), JUNE, **kw)  # type: ignore[arg-type]
    tr = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
    want = np.column_stack(tr.transform(*np.array(wgs).T))
    np.testing.assert_allclose(seen[-1], want, atol=0.05)  # metres: 1e-6 deg is ~0.1 m
    # a blank coord_frame is WGS-84; an unknown one is refused naming the field
    plain = "".join(f"D{i},patrol,16,24,{lon!r},{lat!r},\n" for i, (lon, lat) in enumerate(wgs))
    read_deployment(_write(tmp_path, header + plain, "w.csv"), JUNE, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(seen[-1], want, atol=0.05)
    bad = f"D0,patrol,16,24,{wgs[0][0]},{wgs[0][1]},mars\n"
    with pytest.raises(DataFileError, match=r"field 'coord_frame'.*'mars'"):
        read_deployment(_write(tmp_path, header + bad, "b.csv"), JUNE, **kw)  # type: ignore[arg-type]


def test_plan_sites_in_gcj02_are_read_back_to_wgs84(tmp_path: Path) -> None:
    """sites.csv of a GCJ-02 plan: the ``coord_frame`` column wins; without it, the
    ``output_frame`` of plan_summary.json (older plans); else WGS-84."""
    import json

    from xunfang.ingest.coords import wgs84_to_bd09, wgs84_to_gcj02
    from xunfang.simulate.world import sites_from_csv

    wgs = np.array([[121.47790880000001, 31.23444380000001], [121.4717731, 31.2335063]])
    g_lon, g_lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    b_lon, b_lat = wgs84_to_bd09(wgs[:, 0], wgs[:, 1])
    folder = tmp_path / "plan"
    folder.mkdir()
    sites = folder / "sites.csv"
    sites.write_text(
        "name,kind,lon,lat,coord_frame\n"
        f"南京东路派出所,station,{float(g_lon[0])!r},{float(g_lat[0])!r},gcj02\n"
        f"B01,booth,{float(b_lon[1])!r},{float(b_lat[1])!r},bd09\n",
        encoding="utf-8",
    )
    got = sites_from_csv(sites)
    np.testing.assert_allclose(got[["lon", "lat"]].to_numpy(float), wgs, atol=1e-6, rtol=0)
    sites.write_text(
        f"name,kind,lon,lat\nS,station,{float(g_lon[0])!r},{float(g_lat[0])!r}\nB,booth,{float(g_lon[1])!r},{float(g_lat[1])!r}\n",
        encoding="utf-8",
    )
    (folder / "plan_summary.json").write_text(json.dumps({"output_frame": "gcj02"}))
    got = sites_from_csv(sites)
    np.testing.assert_allclose(got[["lon", "lat"]].to_numpy(float), wgs, atol=1e-6, rtol=0)


def test_an_area_that_is_not_the_plans_is_refused_under_plan_dir(tmp_path: Path) -> None:
    """`simulate run --plan-dir` simulates the plan's districts: a scenario area of another
    (a tester's `community:LOOP` beside a plan of districts 1 and 2) was dropped without a
    word; now refused, naming the file, the field and both areas. The plan's own area
    (its districts in any order, KIND:all, all, city, or none) is fine."""
    from xunfang.serve.cli_city_runs import check_scenario_area

    plan = tmp_path / "plan"
    for d in ("district_1", "district_2"):
        (plan / d).mkdir(parents=True)
        (plan / d / "plan_summary.json").write_text("{}")
    (plan / "city_summary.json").write_text(
        '{"districts": [{"area": "district:1"}, {"area": "district:2"}]}'
    )
    areas = ["district:1", "district:2"]
    for same in ("city", "all", "district:all", "district:2,1", "1,2", "district:01,district:2"):
        check_scenario_area(same, areas, plan, "s.toml")  # no error
    for other in ("district:1", "community:LOOP", "district:1,2,3", "beat:1,2"):
        with pytest.raises(DataFileError, match=r"^s\.toml, field 'scenario\.area': area "):
            check_scenario_area(other, areas, plan, "s.toml")
    scenario = _write(tmp_path, GOOD)
    result = CliRunner().invoke(
        app,
        ["run", "--scenario", str(scenario), "--plan-dir", str(plan), "--workers", "0",
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        f"error: {scenario}, field 'scenario.area': area 'community:LOOP' is not the area of "
        f"the plan in {plan} (district:1, district:2): --plan-dir simulates each of the "
        "plan's areas on its own; remove area from [scenario] (or give the plan's)"
    )
    # one of the plan's districts: told how to simulate it alone
    with pytest.raises(DataFileError) as info:
        check_scenario_area("district:2", areas, plan, "s.toml")
    assert str(info.value).endswith(
        "; to simulate district:2 alone, run without --plan-dir with [plan] sites_csv = "
        f'"{plan}/district_2/sites.csv"'
    )
    from xunfang.serve._common import error_text

    assert error_text(str(info.value), "zh") == (
        f"s.toml，字段 'scenario.area'：区域 'district:2' 不是 {plan} 中方案的区域（district:1, "
        "district:2）：--plan-dir 对方案的每个区域分别仿真；请从 [scenario] 中删去 area（或写"
        "方案的区域）；如只仿真 district:2，请不用 --plan-dir 运行，并在 [plan] 中写 sites_csv = "
        f'"{plan}/district_2/sites.csv"'
    )
