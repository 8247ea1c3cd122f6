"""What each booth buys, on a synthetic five-node line worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xunfang.errors import DataFileError, ValidationError
from xunfang.plan.booth_value import StaffRule, booth_values
from xunfang.plan.roster import load_roster, roster_from_mapping

# Five demand nodes on a line, 60 s apart, weights 1..5 (total 15); candidates are the nodes;
# sites open at nodes 0, 2 and 4. Nearest (ties to the lower site): node 1 -> site 0,
# node 3 -> site 2. Second nearest: node 0 -> 120 s, node 1 -> 60 s, node 2 -> 120 s,
# node 3 -> 60 s, node 4 -> 120 s.
POS = np.arange(5)
COST = 60.0 * np.abs(POS[:, None] - POS[None, :])
W = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
SEL = [0, 2, 4]


def test_five_node_marginal_gain_by_hand() -> None:
    v = booth_values(COST, W, SEL, 60.0, days=1.0, low_value_share=0.05)
    t = v.table
    assert t["nearest"].tolist() == [3.0, 7.0, 5.0]  # nodes {0,1}, {2,3}, {4}
    # closing a site drops only its own node out of the 1-minute ring (its neighbour has
    # another site 60 s away); nothing drops out of 3 or 5 minutes
    assert t["lost_within_1min"].tolist() == [1.0, 3.0, 5.0]
    assert t["lost_within_3min"].tolist() == [0.0, 0.0, 0.0]
    assert t["sole_within_t"].tolist() == [1.0, 3.0, 5.0]
    # tiered gain with equal ring weights: lost_1 / (3 * 15)
    assert t["marginal_gain"].to_numpy() == pytest.approx([1 / 45, 3 / 45, 5 / 45])
    # mean now (2*60 + 4*60) / 15 = 24 s; without site 0: (120 + 120 + 240) / 15 = 32 s;
    # without site 2: (120 + 360 + 240) / 15 = 48 s; without site 4: (120 + 240 + 600) / 15 = 64 s
    assert t["added_mean_s"].to_numpy() == pytest.approx([8.0, 24.0, 40.0])
    assert t["calls_per_day"].tolist() == [3.0, 7.0, 5.0]
    assert t["low_value"].tolist() == [True, False, False]
    assert v.officers_per_day == 6


def test_fixed_sites_are_never_low_value_and_busy_shares_follow_load() -> None:
    v = booth_values(COST, W, SEL, 60.0, fixed=[0], days=1.0, service_s=600.0, low_value_share=0.05)
    assert v.table["low_value"].tolist() == [False, False, False]
    assert v.queue is not None and v.queue.converged
    # 15 calls a day of about 10 min: each busy share is a few per cent, the busiest is the
    # site with the most calls (site 2, 7 calls), and the expected coverage is below the
    # plain 100 % within 1 min
    busy = v.table["busy_probability"].to_numpy()
    assert busy.min() > 0 and busy.max() < 0.1
    assert int(np.argmax(busy)) == 1
    assert 0.9 < v.expected_share_within_t < 1.0


def test_staff_rule_and_errors() -> None:
    assert StaffRule(1, 2).officers_per_day == 2
    assert StaffRule.from_options(2, 3).source == "--staff-per-booth 2 x --shifts-per-day 3"
    with pytest.raises(ValidationError, match="staff-per-booth"):
        StaffRule.from_options(0, 3)


ROSTER_3X8 = """
[booths]
default_min_staff = 2
[booths.min_staff]
B02 = 3
[[shift]]
name = "day"
start = "06:00"
hours = 8
officers = 12
[[shift]]
name = "evening"
start = "14:00"
hours = 8
officers = 12
[[shift]]
name = "night"
start = "22:00"
hours = 8
officers = 12
"""


def test_staff_from_a_roster_hand_worked(tmp_path: Path) -> None:
    # 3 shifts every day = 21 shift starts a week / 7 = 3 a day; 2 officers at every booth,
    # 3 at B02: 2 x 3 = 6 and 3 x 3 = 9 officers per day; B01 + B02 + B03 = 6 + 9 + 6 = 21
    path = tmp_path / "roster.toml"
    path.write_text(ROSTER_3X8, encoding="utf-8")
    staff = StaffRule.from_roster(load_roster(path), ["B01", "B02", "B03"])
    assert staff.shifts_per_day == 3.0 and staff.officers_per_day == 6.0
    assert [staff.for_booth(b) for b in ("B01", "B02", "B03")] == [6.0, 9.0, 6.0]
    assert sum(staff.for_booth(b) for b in ("B01", "B02", "B03")) == 21.0
    assert staff.source == f"roster {path}"
    # a roster naming a booth the plan does not have is refused
    with pytest.raises(DataFileError, match=r"booths\.min_staff\.B02"):
        StaffRule.from_roster(load_roster(path), ["B01"])


def test_staff_from_a_roster_averaged_over_the_week() -> None:
    # Mon-Fri three 8-hour shifts (15 starts), Sat-Sun two 12-hour shifts (4 starts):
    # 19 / 7 shifts a day; 2 officers per booth: 38 / 7 = 5.43 officers per day
    shifts = [
        {"name": "d", "start": "06:00", "hours": 8, "days": "Mon-Fri", "officers": 4},
        {"name": "e", "start": "14:00", "hours": 8, "days": "Mon-Fri", "officers": 4},
        {"name": "n", "start": "22:00", "hours": 8, "days": "Mon-Fri", "officers": 4},
        {"name": "wd", "start": "06:00", "hours": 12, "days": "Sat-Sun", "officers": 4},
        {"name": "wn", "start": "18:00", "hours": 12, "days": "Sat-Sun", "officers": 4},
    ]
    roster = roster_from_mapping({"booths": {"default_min_staff": 2}, "shift": shifts})
    staff = StaffRule.from_roster(roster)
    assert staff.shifts_per_day == pytest.approx(19 / 7)
    assert staff.for_booth("B01") == pytest.approx(38 / 7)
    with pytest.raises(ValidationError, match="days"):
        booth_values(COST, W, SEL, 60.0, days=0.0)
