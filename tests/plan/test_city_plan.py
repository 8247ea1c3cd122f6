"""Planning any city: demand without history, and the Chicago default unchanged.

The four-node graph is SYNTHETIC, drawn by hand (metres in EPSG:32651).
"""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from xunfang.ingest.network import network_from_edges
from xunfang.plan.booth_plan import road_length_weights

XY = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 200.0], [0.0, 200.0]])
EDGES = [(0, 1, 100.0), (1, 2, 200.0), (2, 3, 100.0)]


def test_road_length_demand_by_hand() -> None:
    net = network_from_edges(XY, EDGES, "EPSG:32651", speed_kph=36.0)
    # every street inside: node 0 gets half of 0-1 (50 m), node 1 half of 0-1 and 1-2
    # (50 + 100 m), node 2 half of 1-2 and 2-3 (100 + 50 m), node 3 half of 2-3 (50 m)
    w = road_length_weights(net, box(-10, -10, 110, 210))
    np.testing.assert_allclose(w, [0.05, 0.15, 0.15, 0.05])
    assert w.sum() == pytest.approx(0.4)  # 400 m of road, km
    # an area that holds the midpoints of 0-1 (50, 0) and 1-2 (100, 100) but not of 2-3
    # (50, 200): the street 2-3 is not demand
    w = road_length_weights(net, box(-10, -10, 110, 150))
    np.testing.assert_allclose(w, [0.05, 0.15, 0.10, 0.0])
