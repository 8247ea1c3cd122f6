"""Figures of a run: summary and workload per district, on the hand-worked case."""

from __future__ import annotations

import numpy as np
import pytest

from xunfang.dispatch.model import UnitKind
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.ingest.network import network_from_edges
from xunfang.simulate.metrics import summarise, workload_by_district
from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, simulate
from xunfang.simulate.tables import Distribution

XY = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 0.0], [600.0, 900.0]])
EDGES = [(1, 3, 1000.0), (3, 0, 1000.0), (2, 0, 500.0)]


def _run() -> object:
    oracle = TravelTimeOracle(network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0).matrix)
    calls = CallSet(
        t_s=np.array([0.0, 10.0, 20.0]),
        node=np.array([0, 3, 0]),
        priority=np.array([3, 2, 1]),
        type_group=np.full(3, "other", dtype=object),
        call_processing_s=np.full(3, 30.0),
        on_scene_s=np.array([300.0, 100.0, 60.0]),
        dispatch_q=np.full(3, 0.5),
        district=np.array(["10", "2", "10"], dtype=object),
    )
    units = [
        UnitSpec("A", UnitKind.BOOTH, 1, vehicle=False, group="District 2 station"),
        UnitSpec("B", UnitKind.STATION_CAR, 2, vehicle=False, group="District 10 station"),
    ]
    fixed = Distribution(dist="fixed", value=10.0)
    settings = SimSettings(dispatch_delay_s=dict.fromkeys(UnitKind, fixed), period_s=1000.0)
    return simulate(oracle, calls, units, settings)


def test_summary_of_the_hand_worked_case() -> None:
    s = summarise(_run())  # type: ignore[arg-type]
    # responses 90, 140, 340 s; travel 50, 100, 100 s; queue 0, 0, 200 s
    assert s["response_median_min"] == pytest.approx(140 / 60)
    assert s["p1_response_median_min"] == pytest.approx(340 / 60) and s["p1_calls"] == 1
    assert s["share_response_within_3min"] == pytest.approx(2 / 3)
    assert s["share_response_within_5min"] == pytest.approx(2 / 3)
    assert s["share_travel_within_1min"] == pytest.approx(1 / 3)
    assert s["mean_queue_s"] == pytest.approx(200 / 3) and s["share_queued"] == pytest.approx(1 / 3)
    assert s["mean_travel_s"] == pytest.approx(250 / 3)
    assert s["utilisation"] == pytest.approx((380 + 360) / 2000)
    assert s["utilisation_booth"] == pytest.approx(0.38)
    assert s["unit_hours"] == pytest.approx(2000 / 3600)


def test_workload_by_district_by_hand() -> None:
    res = _run()
    table = workload_by_district(res.calls, res.units, {"A": "2", "B": "10"})  # type: ignore[attr-defined]
    # numeric order; district 10: calls 0 (B, 360 s) and 2 (A, 170 s); district 2: call 1 (A, 210 s)
    assert table["district"].tolist() == ["2", "10"]
    assert table["incidents"].tolist() == [1, 2]
    assert table["busy_hours"].tolist() == pytest.approx([210 / 3600, 530 / 3600])
    assert table["busy_min_per_incident"].tolist() == pytest.approx([3.5, 530 / 120])
    # A (district 2's own unit) worked 380 s, B 360 s
    assert table["own_unit_busy_hours"].tolist() == pytest.approx([380 / 3600, 360 / 3600])
