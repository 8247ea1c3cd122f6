"""The city simulation's totals are sums of the districts' counts (synthetic counts)."""

from __future__ import annotations

import numpy as np
import pytest

from xunfang.simulate.city_sim import SimDistrictSummary, sim_totals


def test_sim_totals_are_sums_of_district_counts() -> None:
    # district:1: 100 calls, 90 served, 45 within 3 min, 90 x 200 s of response
    # district:2: 300 calls, 300 served, 60 within 3 min, 300 x 400 s
    a = SimDistrictSummary(
        "district:1",
        2,
        {"booths": {"calls": 100, "served": 90, "within_3min": 45, "response_s_sum": 18_000}},
        3.0,
        2.0,
    )
    b = SimDistrictSummary(
        "district:2",
        2,
        {"booths": {"calls": 300, "served": 300, "within_3min": 60, "response_s_sum": 120_000}},
        5.0,
        4.0,
    )
    t = sim_totals([a, b])
    assert t["districts"] == 2
    assert t["booths_calls"] == 400 and t["booths_served"] == 390
    assert t["booths_within_3min"] == 105
    assert t["booths_share_within_3min"] == pytest.approx(105 / 400)
    # mean response of served calls: 138,000 s / 390 calls, in minutes
    assert t["booths_mean_response_min"] == pytest.approx(138_000 / 390 / 60)
    # beside it, the calls it leaves out: 400 - 390 = 10 never served, 2.5 %
    assert t["booths_unserved"] == 10 and t["booths_share_unserved"] == pytest.approx(0.025)
    assert t["wall_time_s_sum"] == 8.0 and t["cpu_time_s_sum"] == 6.0
    row = a.to_dict()
    assert row["booths_share_within_3min"] == pytest.approx(0.45)
    assert row["booths_mean_response_min"] == pytest.approx(200 / 60)
    assert row["booths_unserved"] == 10 and row["booths_share_unserved"] == pytest.approx(0.1)


def test_an_area_without_a_station_shows_every_call_unserved() -> None:
    # the tester's case: no station in the area, so under "stations" none of 609 calls is
    # served and the mean (over served calls) is nan; under "booths" (08-20 h) 400 of 609
    # are served at a mean of 3.86 min: the headline must say 209 (34.3 %) are not
    s = SimDistrictSummary(
        "area:east",
        1,
        {
            "stations": {"calls": 609, "served": 0, "within_3min": 0, "response_s_sum": 0},
            "booths": {
                "calls": 609,
                "served": 400,
                "within_3min": 300,
                "response_s_sum": 400 * 231.6,
            },
        },
    )
    row = s.to_dict()
    assert row["stations_unserved"] == 609 and row["stations_share_unserved"] == 1.0
    assert np.isnan(row["stations_mean_response_min"])
    assert row["booths_unserved"] == 209
    assert row["booths_share_unserved"] == pytest.approx(209 / 609)
    assert row["booths_mean_response_min"] == pytest.approx(3.86)


def test_city_percentiles_pool_the_calls_and_utilisation_is_weighted() -> None:
    # district:1: served calls of 60 s (P1), 120 s and 240 s (P2); units busy 1 h of 10 h
    # district:2: served calls of 30 s and 600 s (P1), one P1 call unserved; busy 2 h of 4 h
    a = SimDistrictSummary(
        "district:1",
        1,
        {
            "booths": {
                "calls": 3, "served": 3, "within_3min": 2, "response_s_sum": 420,
                "busy_s": 3600, "on_duty_s": 36_000,
                "p1_calls": 1, "p1_served": 1, "p1_within_3min": 1, "p1_response_s_sum": 60,
                "p2_calls": 2, "p2_served": 2, "p2_within_3min": 1, "p2_response_s_sum": 360,
            }
        },
        response_s={"booths": np.array([60.0, 120.0, 240.0])},
        priority={"booths": np.array([1, 2, 2])},
    )  # fmt: skip
    b = SimDistrictSummary(
        "district:2",
        1,
        {
            "booths": {
                "calls": 3, "served": 2, "within_3min": 1, "response_s_sum": 630,
                "busy_s": 7200, "on_duty_s": 14_400,
                "p1_calls": 3, "p1_served": 2, "p1_within_3min": 1, "p1_response_s_sum": 630,
            }
        },
        response_s={"booths": np.array([30.0, 600.0])},
        priority={"booths": np.array([1, 1])},
    )  # fmt: skip
    t = sim_totals([a, b])
    assert t["booths_calls"] == 6 and t["booths_served"] == 5
    assert t["booths_share_within_3min"] == pytest.approx(3 / 6)
    assert t["booths_mean_response_min"] == pytest.approx(1050 / 5 / 60)  # 3.5 min
    # pooled 30, 60, 120, 240, 600 s: median 120 s; p90 at rank 3.6: 240 + 0.6 x 360 = 456 s
    assert t["booths_response_p50_min"] == pytest.approx(2.0)
    assert t["booths_response_p90_min"] == pytest.approx(456 / 60)
    # P1 pooled 30, 60, 600 s: median 60 s; p90 at rank 1.8: 60 + 0.8 x 540 = 492 s
    assert t["booths_p1_calls"] == 4 and t["booths_p1_share_within_3min"] == pytest.approx(0.5)
    assert t["booths_p1_mean_response_min"] == pytest.approx(690 / 3 / 60)
    assert t["booths_p1_response_p50_min"] == pytest.approx(1.0)
    assert t["booths_p1_response_p90_min"] == pytest.approx(492 / 60)
    # P2 only in district:1 (district:2 counts 0)
    assert t["booths_p2_calls"] == 2 and t["booths_p2_mean_response_min"] == pytest.approx(3.0)
    # utilisation 3 h busy of 14 h on duty, not the mean of 10 % and 50 %
    assert t["booths_utilisation"] == pytest.approx(10_800 / 50_400)
    row = a.to_dict()
    assert row["booths_utilisation"] == pytest.approx(0.1)
    assert row["booths_response_p50_min"] == pytest.approx(2.0)
    assert "response_s" not in row and "booths_response_s" not in row
