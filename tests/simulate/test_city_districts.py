"""The city simulation's totals are sums of the districts' counts (synthetic counts)."""

from __future__ import annotations

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
    assert t["wall_time_s_sum"] == 8.0 and t["cpu_time_s_sum"] == 6.0
    row = a.to_dict()
    assert row["booths_share_within_3min"] == pytest.approx(0.45)
    assert row["booths_mean_response_min"] == pytest.approx(200 / 60)
