"""The whole path on real data: a small area (community area LOOP), a booth plan made on
the months before June 2015, and June 2015 replayed against stations only and stations +
booths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from xunfang.config import Settings
from xunfang.ingest.areas import load_study_area
from xunfang.serve.sim_report import write_simulation
from xunfang.simulate.calls import sample_calls
from xunfang.simulate.runner import Comparison, Prepared, prepare, run_prepared
from xunfang.simulate.scenario import Scenario
from xunfang.simulate.tables import validate_model
from xunfang.simulate.world import load_network

pytestmark = pytest.mark.realdata

SCENARIO = {
    "scenario": {
        "name": "Loop test",
        "area": "community:LOOP",
        "month": "2015-06",
        "replications": 2,
        "seed": 3,
        "compare": ["stations", "booths", "deployment"],
        "preemption": True,
    },
    "calls": {"training_months": 1},
    "plan": {"booths": 4},
    "units": {
        "station_car": {"per_station": 3},
        "booth": {"max_travel_min": 3.0},
        "patrol": {"count": 2},
        # the LOOP has no police station within 500 m: the team is posted at its centre
        "response_team": {"count": 1, "post": [-87.6298, 41.8781]},
    },
    "deployment": {"schedule_csv": "no-such-schedule.csv"},
}


@pytest.fixture(scope="session")
def loop_settings(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=data_dir, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def loop_prepared(loop_settings: Settings) -> Prepared:
    scenario = validate_model(Scenario, SCENARIO, "test")
    # the plan is made on May 2015 only (the default, every month before June, is slower)
    may = loop_settings.data_dir / "chicago/incidents_2014_2015/chicago_crimes_2015-05.csv.gz"
    return prepare(scenario, loop_settings, plan_incidents=[may])


@pytest.fixture(scope="session")
def loop_run(loop_prepared: Prepared) -> Comparison:
    return run_prepared(loop_prepared, record_log=True)


def _loop_june_incidents(data_dir: Path) -> int:
    """June 2015 incidents in the LOOP polygon, counted from the raw CSV independently."""
    raw = pd.read_csv(
        data_dir / "chicago/incidents_2014_2015/chicago_crimes_2015-06.csv.gz",
        usecols=["ID", "Latitude", "Longitude"],
    ).dropna(subset=["Latitude", "Longitude"])
    loop = load_study_area(data_dir / "chicago/boundaries", "community:LOOP")
    inside = shapely.contains_xy(
        loop.polygon_wgs84, raw["Longitude"].to_numpy(), raw["Latitude"].to_numpy()
    )
    return int(inside.sum())


def test_replayed_calls_are_the_areas_incidents(loop_run: Comparison, data_dir: Path) -> None:
    expected = _loop_june_incidents(data_dir)
    assert 300 < expected < 2000
    report = loop_run.call_reports[0]
    assert report.calls == expected
    assert report.spread_midnight + report.kept_midnight >= 0
    a = loop_run.all_calls["stations"]
    b = loop_run.all_calls["booths"]
    assert len(a) == len(b) == 2 * expected  # two replications
    # common random numbers: the same calls and draws in both scenarios
    same = ["t_s", "node", "priority", "call_processing_s"]
    pd.testing.assert_frame_equal(a[same], b[same])
    # the two replications differ (independent seeds)
    first, second = a[a["replication"] == 0], a[a["replication"] == 1]
    assert not np.allclose(first["call_processing_s"], second["call_processing_s"])


def test_booths_shorten_response_and_deployment_is_skipped(loop_run: Comparison) -> None:
    st = loop_run.results["stations"].estimates
    bo = loop_run.results["booths"].estimates
    assert st["units"].mean == 3  # 2 patrols and the response team (no station)
    assert bo["units"].mean == st["units"].mean + 4  # one officer per booth
    assert bo["mean_travel_s"].mean < st["mean_travel_s"].mean
    assert bo["share_travel_within_3min"].mean >= st["share_travel_within_3min"].mean
    assert st["unserved"].mean == 0 and bo["unserved"].mean == 0
    assert 0 < bo["utilisation_booth"].mean < 1
    assert "no-such-schedule.csv not found" in loop_run.skipped["deployment"]
    # components add up for calls that were not preempted
    calls = loop_run.all_calls["booths"]
    ok = calls[calls["preempted"] == 0]
    total = ok[["call_processing_s", "queue_s", "dispatch_delay_s", "travel_s"]].sum(axis=1)
    assert np.allclose(total, ok["response_s"])


def test_report_and_tables_are_written(loop_run: Comparison, tmp_path: Path) -> None:
    written = write_simulation(loop_run, tmp_path)
    html = written["report.html"].read_text(encoding="utf-8")
    assert "Scenario comparison (same calls)" in html and "Plotly.newPlot" in html
    assert "skipped" in html  # the deployment scenario, with its reason
    summary = json.loads(written["summary.json"].read_text())
    assert set(summary["scenarios"]) == {"stations", "booths"}
    assert summary["replications"] == 2
    calls = pd.read_csv(written["calls_booths.csv.gz"])
    assert len(calls) == 2 * loop_run.call_reports[0].calls
    log = pd.read_csv(written["event_log.csv"])
    assert {"received", "queued", "dispatched", "en_route", "on_scene", "cleared"} <= set(
        log["event"]
    )


def test_network_cache_and_sampled_calls(loop_prepared: Prepared, loop_settings: Settings) -> None:
    again = load_network(loop_settings, loop_prepared.area)
    assert again.cached and again.n_nodes == loop_prepared.network.n_nodes
    training = loop_prepared.incidents.training  # May 2015
    calls, report = sample_calls(
        training, loop_prepared.period, loop_prepared.table, np.random.default_rng(1)
    )
    rate_per_week = len(training) / report.training_weeks
    expected = rate_per_week * loop_prepared.period.seconds / (7 * 86400)
    assert abs(len(calls) - expected) < 4 * np.sqrt(expected)  # Poisson count
    again_calls, _ = sample_calls(
        training, loop_prepared.period, loop_prepared.table, np.random.default_rng(1)
    )
    assert np.array_equal(calls.t_s, again_calls.t_s)
