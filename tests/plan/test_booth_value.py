"""What each booth buys, on a synthetic five-node line worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xunfang.errors import ValidationError
from xunfang.plan.booth_value import StaffRule, booth_values

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
    with pytest.raises(ValidationError, match="staff-per-booth"):
        StaffRule(0, 3)
    with pytest.raises(ValidationError, match="days"):
        booth_values(COST, W, SEL, 60.0, days=0.0)
