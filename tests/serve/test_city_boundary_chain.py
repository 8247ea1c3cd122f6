"""A city plan made from a boundary file alone (``plan --boundary F --area boundary:all``),
then ``deploy --plan-dir`` and ``simulate run --plan-dir`` on it: the runs take the areas,
boundary and incident files the plan recorded, not the scenario's city file (whose layer is
``area``, so it has no ``boundary:`` districts), unless the options replace them.

On the SYNTHETIC example city examples/shanghai (real OpenStreetMap streets of central
Shanghai, a made-up 2-polygon GCJ-02 boundary, stations and 110 calls of March 2024).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from xunfang.serve.cli import app

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"
OSM = "shanghai-osm/central_shanghai_drive.osm"
AREAS = ["boundary:东片", "boundary:西片"]

ROSTER = """crew_per_vehicle = 2
min_rest_hours = 8
[[shift]]
name = "day"
start = "08:00"
hours = 12
break_minutes = 30
days = "all"
officers = 4
vehicles = 1
[[shift]]
name = "night"
start = "20:00"
hours = 12
break_minutes = 30
days = "all"
officers = 4
vehicles = 1
"""


def _run(args: list[str], root: Path, data_dir: Path) -> Any:
    res = CliRunner().invoke(
        app,
        [*args, "--data-dir", str(data_dir)],
        env={"COLUMNS": "200", "XUNFANG_CACHE_DIR": str(root / "cache")},
    )
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def chain(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    root = tmp_path_factory.mktemp("chain")
    (root / "roster.toml").write_text(ROSTER, encoding="utf-8")
    res = _run(
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(data_dir / OSM),
            "--stations", str(EXAMPLE / "stations_gcj02.csv"),
            "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
            "--mapping", str(EXAMPLE / "mapping_110.toml"),
            "--area", "boundary:all", "--booths", "2", "--threshold-min", "2",
            "--no-curve", "--workers", "0", "--out", str(root / "city"),
        ],
        root,
        data_dir,
    )  # fmt: skip
    return {"root": root, "plan": root / "city", "data_dir": data_dir, "output": res.output}


def test_the_city_plan_counts_the_incidents_in_no_area(chain: dict[str, Any]) -> None:
    t = json.loads((chain["plan"] / "city_summary.json").read_text("utf-8"))["totals"]
    # every incident ingested is in one district's plan or counted as in none
    assert t["incidents_total"] == 400  # the rows of incidents_110_synthetic.csv
    assert t["incidents"] + t["incidents_in_no_area"] == 400
    assert f"incidents in no area: {t['incidents_in_no_area']:,} of 400" in chain["output"]


@pytest.mark.parametrize("override", [False, True], ids=["recorded", "boundary-roads"])
def test_deploy_a_boundary_city_plan_uses_the_recorded_incidents(
    chain: dict[str, Any], override: bool
) -> None:
    root, data_dir = chain["root"], chain["data_dir"]
    out = root / f"deploy_{override}"
    # --boundary/--roads replace those parts of the recorded city; its incidents stay
    extra = (
        ["--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--roads", str(data_dir / OSM)]
        if override
        else []
    )
    _run(
        [
            "deploy", "--plan-dir", str(chain["plan"]), "--roster", str(root / "roster.toml"),
            "--workers", "0", "--out", str(out), *extra,
        ],
        root,
        chain["data_dir"],
    )  # fmt: skip
    doc = json.loads((out / "city_deploy_summary.json").read_text("utf-8"))
    assert sorted(d["area"] for d in doc["districts"]) == AREAS
    assert not doc.get("failed")
    # by hand: 4 + 4 officers, each on one 12-hour shift every day of the week, in each
    # of the 2 districts
    assert doc["totals"]["officer_hours"] == 2 * 7 * 8 * 12


@pytest.mark.parametrize("override", [False, True], ids=["recorded", "boundary-roads"])
def test_simulate_a_boundary_city_plan_uses_the_recorded_areas(
    chain: dict[str, Any], override: bool
) -> None:
    root, data_dir = chain["root"], chain["data_dir"]
    out = root / f"sim_{override}"
    extra = (
        ["--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--roads", str(data_dir / OSM)]
        if override
        else []
    )
    _run(
        [
            "simulate", "run", "--scenario", str(EXAMPLE / "scenario_march2024.toml"),
            "--plan-dir", str(chain["plan"]), "--replications", "1", "--workers", "0",
            "--out", str(out), *extra,
        ],
        root,
        data_dir,
    )  # fmt: skip
    doc = json.loads((out / "city_simulation_summary.json").read_text("utf-8"))
    assert sorted(d["area"] for d in doc["districts"]) == AREAS
    # one replication of the 383 incidents of March 2024 inside the two polygons
    assert doc["totals"]["booths_calls"] == 383


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_deploy_and_simulate_refuse_to_write_into_the_plan_folder(
    chain: dict[str, Any], lang: str
) -> None:
    root, plan = chain["root"], chain["plan"]
    report = plan / "boundary_东片" / "report.html"
    before = report.read_bytes()
    runs = [
        ["deploy", "--plan-dir", str(plan), "--roster", str(root / "roster.toml"),
         "--out", str(plan)],
        ["simulate", "run", "--scenario", str(EXAMPLE / "scenario_march2024.toml"),
         "--plan-dir", str(plan), "--out", str(plan / "sim")],
    ]  # fmt: skip
    for args in runs:
        res = CliRunner().invoke(
            app,
            [*args, "--workers", "0", "--lang", lang, "--data-dir", str(chain["data_dir"])],
            env={"COLUMNS": "300", "XUNFANG_CACHE_DIR": str(root / "cache")},
        )
        assert res.exit_code != 0
        text = " ".join(res.output.split())
        if lang == "zh":
            assert "是方案文件夹" in text and "会覆盖方案的文件" in text, text
        else:
            assert "or inside it" in text and "would overwrite the plan's files" in text, text
    assert report.read_bytes() == before
    assert not (plan / "sim").exists()


def test_deploy_and_simulate_name_the_districts_the_plan_failed(
    chain: dict[str, Any], tmp_path: Path
) -> None:
    import shutil

    import pandas as pd

    root, data_dir = chain["root"], chain["data_dir"]
    plan = tmp_path / "plan"
    shutil.copytree(chain["plan"], plan)
    # as a city plan writes it when 东片 fails: no folder, listed under failed
    shutil.rmtree(plan / "boundary_东片")
    path = plan / "city_summary.json"
    doc = json.loads(path.read_text("utf-8"))
    doc["districts"] = [d for d in doc["districts"] if d["area"] != "boundary:东片"]
    doc["failed"] = [{"area": "boundary:东片", "reason": "no incidents inside boundary:东片"}]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    runs = {
        "city_deploy": ["deploy", "--plan-dir", str(plan), "--roster", str(root / "roster.toml")],
        "city_simulation": [
            "simulate", "run", "--scenario", str(EXAMPLE / "scenario_march2024.toml"),
            "--plan-dir", str(plan), "--replications", "1",
        ],
    }  # fmt: skip
    for stem, args in runs.items():
        out = tmp_path / stem
        res = _run([*args, "--workers", "0", "--out", str(out)], root, data_dir)
        assert "boundary:东片 was not planned" in " ".join(res.output.split())
        summary = json.loads((out / f"{stem}_summary.json").read_text("utf-8"))
        assert [d["area"] for d in summary["districts"]] == ["boundary:西片"]
        assert summary["plan_failed"] == [
            {"area": "boundary:东片", "reason": "no incidents inside boundary:东片"}
        ]
        rows = pd.read_csv(out / f"{stem}_summary.csv", keep_default_na=False)
        assert rows["area"].tolist() == ["boundary:西片", "boundary:东片"]
        assert rows["failed"].tolist() == ["", "not planned: no incidents inside boundary:东片"]
        page = (out / f"{stem}_report.html").read_text("utf-8")
        assert "Not planned: " in page and "no incidents inside boundary:东片" in page


@pytest.fixture(scope="module")
def ingested_chain(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same city plan made from an INGESTED folder (`xunfang ingest` output, holding
    incidents.parquet) rather than the raw CSV and its mapping, in Chinese."""
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    root = tmp_path_factory.mktemp("ingested")
    (root / "roster.toml").write_text(ROSTER, encoding="utf-8")
    _run(
        [
            "ingest", str(EXAMPLE / "incidents_110_synthetic.csv"),
            "--mapping", str(EXAMPLE / "mapping_110.toml"), "--frame", "gcj02",
            "--out", str(root / "i2"),
        ],
        root,
        data_dir,
    )  # fmt: skip
    assert (root / "i2" / "incidents.parquet").is_file()
    _run(
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(data_dir / OSM),
            "--stations", str(EXAMPLE / "stations_gcj02.csv"),
            "--incidents", str(root / "i2"),
            "--area", "boundary:all", "--booths", "2", "--threshold-min", "2",
            "--no-curve", "--workers", "0", "--lang", "zh", "--out", str(root / "city"),
        ],
        root,
        data_dir,
    )  # fmt: skip
    return {"root": root, "plan": root / "city", "data_dir": data_dir}


def test_deploy_a_city_plan_made_from_an_ingested_folder(
    ingested_chain: dict[str, Any],
) -> None:
    root, data_dir = ingested_chain["root"], ingested_chain["data_dir"]
    record = json.loads(
        (ingested_chain["plan"] / "boundary_东片" / "plan_summary.json").read_text("utf-8")
    )
    assert record["city"]["incidents"] == [str(root / "i2")]  # the folder, as given
    out = root / "deploy"
    res = _run(
        [
            "deploy", "--plan-dir", str(ingested_chain["plan"]),
            "--roster", str(root / "roster.toml"), "--workers", "0", "--lang", "zh",
            "--out", str(out),
        ],
        root,
        data_dir,
    )  # fmt: skip
    # the 400 rows of incidents_110_synthetic.csv, read back from the table, not re-ingested
    assert "400 起警情一次性导入" in res.output
    doc = json.loads((out / "city_deploy_summary.json").read_text("utf-8"))
    assert sorted(d["area"] for d in doc["districts"]) == AREAS
    assert not doc.get("failed")
    assert doc["totals"]["officer_hours"] == 2 * 7 * 8 * 12


def test_deploy_reads_raw_incidents_with_profile_as_plan_does(chain: dict[str, Any]) -> None:
    """``deploy --incidents RAW.csv`` takes ``--profile``/``--mapping`` too (the same options
    as plan and simulate run): the profile named is the one the file is read with."""
    root, data_dir = chain["root"], chain["data_dir"]
    argv = [
        "deploy", "--plan-dir", str(chain["plan"] / "boundary_西片"),
        "--roster", str(root / "roster.toml"),
        "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    env = {"COLUMNS": "300", "XUNFANG_CACHE_DIR": str(root / "cache")}
    wrong = CliRunner().invoke(
        app, [*argv, "--profile", "portland", "--out", str(root / "dep_wrong")], env=env
    )
    assert wrong.exit_code == 2
    text = " ".join(wrong.output.split())
    assert "incidents_110_synthetic.csv, field 'occ_date': missing column 'occ_date' (time) " in (
        text
    )
    assert "required by profile 'portland'" in text
    _run([*argv[:-2], "--profile", "cn110", "--out", str(root / "dep_cn110")], root, data_dir)
    assert (root / "dep_cn110" / "report.html").is_file()


@pytest.mark.parametrize("given", [False, True], ids=["recorded", "--incidents"])
def test_simulate_a_city_plan_made_from_an_ingested_folder(
    ingested_chain: dict[str, Any], given: bool
) -> None:
    root, data_dir = ingested_chain["root"], ingested_chain["data_dir"]
    out = root / f"sim_{given}"
    extra = ["--incidents", str(root / "i2")] if given else []
    _run(
        [
            "simulate", "run", "--scenario", str(EXAMPLE / "scenario_march2024.toml"),
            "--plan-dir", str(ingested_chain["plan"]), "--replications", "1",
            "--workers", "0", "--lang", "zh", "--out", str(out), *extra,
        ],
        root,
        data_dir,
    )  # fmt: skip
    doc = json.loads((out / "city_simulation_summary.json").read_text("utf-8"))
    assert not doc.get("failed")
    assert sorted(d["area"] for d in doc["districts"]) == AREAS
    # the same 383 incidents of March 2024 inside the two polygons as from the raw CSV
    assert doc["totals"]["booths_calls"] == 383


def test_a_district_report_suggests_a_deploy_folder_deploy_accepts(
    chain: dict[str, Any],
) -> None:
    """The district report's next step of a city run names a deploy folder outside the
    run (deploy refuses one inside it), and that command runs."""
    import html
    import re

    root, plan = chain["root"], chain["plan"]
    page = (plan / "boundary_东片" / "report.html").read_text("utf-8")
    cmd = html.unescape(re.search(r"<code>(xunfang deploy [^<]+)</code>", page).group(1))
    district = plan / "boundary_东片"
    out = root / "city_deploy" / "boundary_东片"
    assert cmd == (
        f"xunfang deploy --plan-dir {district} --roster ROSTER.toml --calendar CALENDAR.toml "
        f"--out {out}"
    )
    assert 'href="../../city_deploy/boundary_东片/report.html"' in page
    _run(
        ["deploy", "--plan-dir", str(district), "--roster", str(root / "roster.toml"),
         "--out", str(out)],
        root,
        chain["data_dir"],
    )  # fmt: skip
    assert (out / "report.html").is_file()


def test_simulate_one_area_from_a_boundary_and_an_ingested_folder(
    ingested_chain: dict[str, Any],
) -> None:
    """``simulate run`` without a city file or plan folder: --boundary, --roads, --stations
    and --incidents naming an ingested folder (it said "no incident files ... pass
    --incidents" although they were given: the options' city left the table out)."""
    root, data_dir = ingested_chain["root"], ingested_chain["data_dir"]
    scenario = (EXAMPLE / "scenario_march2024.toml").read_text("utf-8")
    scenario = scenario.replace('city = "city.toml"', "").replace('"西片,东片"', '"西片"')
    sites = ingested_chain["plan"] / "boundary_西片" / "sites.csv"
    scenario = scenario.replace("../../out/shanghai/sites.csv", sites.as_posix())
    scenario = scenario.replace("replications = 3", "replications = 1")
    (root / "one.toml").write_text(scenario, encoding="utf-8")
    out = root / "sim_one"
    _run(
        [
            "simulate", "run", "--scenario", str(root / "one.toml"),
            "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(data_dir / OSM), "--stations", str(EXAMPLE / "stations_gcj02.csv"),
            "--incidents", str(root / "i2"), "--out", str(out),
        ],
        root,
        data_dir,
    )  # fmt: skip
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["area"] == "西片"
    # March 2024's incidents inside 西片, read from the table (as a plan of 西片 reads them)
    assert doc["call_report"][0]["incidents"] == 200


def test_a_city_plan_rerun_with_fewer_areas_names_the_earlier_runs_folders(
    chain: dict[str, Any],
) -> None:
    # found by a new-user test: re-running a city plan into the same folder with fewer
    # areas left the other district's folder beside the new summary without a word
    root = chain["root"]
    out = root / "rerun"
    shutil.copytree(chain["plan"], out)  # the two-district plan, as an earlier run
    (out / "notes").mkdir()  # a folder of the user's own: not a district's output
    res = _run(
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(chain["data_dir"] / OSM),
            "--stations", str(EXAMPLE / "stations_gcj02.csv"),
            "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
            "--mapping", str(EXAMPLE / "mapping_110.toml"),
            "--area", "boundary:东片", "--each", "--booths", "2", "--threshold-min", "2",
            "--no-curve", "--workers", "0", "--out", str(out),
        ],
        root,
        chain["data_dir"],
    )  # fmt: skip
    doc = json.loads((out / "city_summary.json").read_text("utf-8"))
    assert [d["area"] for d in doc["districts"]] == ["boundary:东片"]
    assert doc["earlier_run_folders"] == ["boundary_西片"]
    assert (out / "boundary_西片" / "plan_summary.json").is_file()  # left in place
    text = " ".join(res.output.split())
    assert (
        f"warning: 1 folder(s) in {out} are from an earlier run, not this one (left in place; "
        "see earlier_run_folders in city_summary.json): boundary_西片"
    ) in text
    # and the city report (found by a new-user test: only the terminal and JSON said so)
    page = (out / "city_report.html").read_text("utf-8")
    assert (
        "1 folder(s) beside this page are from an earlier run, not this one (left in place; "
        "listed under earlier_run_folders in city_summary.json): boundary_西片."
    ) in page
    # a deploy of this plan into a folder holding an earlier deploy's district says so too
    dep = root / "rerun_deploy"
    shutil.copytree(chain["plan"] / "boundary_西片", dep / "boundary_西片")
    (dep / "boundary_西片" / "deploy_summary.json").write_text("{}", encoding="utf-8")
    res = _run(
        [
            "deploy", "--plan-dir", str(out), "--roster", str(root / "roster.toml"),
            "--workers", "0", "--out", str(dep),
        ],
        root,
        chain["data_dir"],
    )  # fmt: skip
    doc = json.loads((dep / "city_deploy_summary.json").read_text("utf-8"))
    assert doc["earlier_run_folders"] == ["boundary_西片"]
    assert "see earlier_run_folders in city_deploy_summary.json): boundary_西片" in " ".join(
        res.output.split()
    )
    page = (dep / "city_deploy_report.html").read_text("utf-8")
    assert "listed under earlier_run_folders in city_deploy_summary.json): boundary_西片." in page


@pytest.mark.parametrize(
    "how", [["--profile", "cn110"], ["--mapping", str(EXAMPLE / "mapping_110.toml")]]
)
def test_simulate_one_area_from_a_raw_110_export_with_profile_or_mapping(
    chain: dict[str, Any], how: list[str]
) -> None:
    """``simulate run --incidents RAW.csv`` with ``--profile``/``--mapping`` (found by a
    new-user test: simulate had neither, so a GB18030 110 export had to be ingested
    first); they mean what they mean to ``plan``: how the file's columns are read."""
    root, data_dir = chain["root"], chain["data_dir"]
    scenario = (EXAMPLE / "scenario_march2024.toml").read_text("utf-8")
    scenario = scenario.replace('city = "city.toml"', "").replace('"西片,东片"', '"西片"')
    sites = chain["plan"] / "boundary_西片" / "sites.csv"
    scenario = scenario.replace("../../out/shanghai/sites.csv", sites.as_posix())
    scenario = scenario.replace("replications = 3", "replications = 1")
    (root / "raw.toml").write_text(scenario, encoding="utf-8")
    out = root / f"sim_raw_{how[0][2:]}"
    _run(
        [
            "simulate", "run", "--scenario", str(root / "raw.toml"),
            "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(data_dir / OSM), "--stations", str(EXAMPLE / "stations_gcj02.csv"),
            "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"), *how,
            "--out", str(out),
        ],
        root,
        data_dir,
    )  # fmt: skip
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["area"] == "西片"
    # the same 200 incidents of March 2024 inside 西片 as from the ingested table
    assert doc["call_report"][0]["incidents"] == 200


def test_a_city_plan_names_the_stations_outside_every_area(chain: dict[str, Any]) -> None:
    """Found by a new-user test: a station of --stations outside every area was in no
    district's plan without a word. Twelve made-up stations far outside the two areas (in
    Mongolia, outside China, where GCJ-02 is WGS-84: they read the same in every frame)
    beside the example's three; a city from files alone keeps stations within 500 m."""
    root, data_dir = chain["root"], chain["data_dir"]
    rows = (EXAMPLE / "stations_gcj02.csv").read_text("utf-8").splitlines()
    far = [f"远处{i:02d},{100.0 + i / 100:.6f},{47.0 + i / 100:.6f},合成" for i in range(12)]
    stations = root / "stations_far.csv"
    stations.write_text("\n".join([*rows, *far]) + "\n", encoding="utf-8")
    res = _run(
        [
            "plan", "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--frame", "gcj02",
            "--roads", str(data_dir / OSM), "--stations", str(stations),
            "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
            "--mapping", str(EXAMPLE / "mapping_110.toml"),
            "--area", "boundary:all", "--booths", "2", "--threshold-min", "2",
            "--no-curve", "--workers", "0", "--out", str(root / "far"),
        ],
        root,
        data_dir,
    )  # fmt: skip
    text = " ".join(res.output.split())
    shown = ", ".join(
        f"远处{i:02d} ({100.0 + i / 100:.6f}, {47.0 + i / 100:.6f})" for i in range(10)
    )
    assert (
        "warning: 12 station(s) of stations_far.csv lie outside every area (more than 500 m "
        f"from each), so in no district's plan (lon, lat wgs84): {shown}, and 2 more"
    ) in text, text
    assert "示例派出所" not in text.split("lie outside every area")[1]  # those are used
    # and city_summary.json and the city report name them too, with the distance to the
    # nearest area: lines 5-16 of the file (a header and the example's three before them)
    doc = json.loads((root / "far" / "city_summary.json").read_text("utf-8"))[
        "stations_outside_areas"
    ]
    assert (doc["source"], doc["buffer_m"]) == ("stations_far.csv", 500.0)
    assert [(r["name"], r["source_row"]) for r in doc["stations"]] == [
        (f"远处{i:02d}", 5 + i) for i in range(12)
    ]
    # Mongolia is over 1,500 km from Shanghai (the nearest, 远处11 at 100.11 E, 47.11 N)
    assert all(r["distance_m"] > 1.5e6 for r in doc["stations"])
    page = (root / "far" / "city_report.html").read_text("utf-8")
    assert "12 station(s) of stations_far.csv lie more than 500 m from every district" in page
    assert "<tr><td>远处11</td><td>16</td>" in page
