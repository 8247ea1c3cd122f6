"""Incidents snap to ground-level streets, not to an expressway bridge above them, on the
SYNTHETIC hand-drawn tests/fixtures/bridge_over_street.osm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from xunfang.ingest.network import network_from_edges
from xunfang.ingest.road_graph import grade_separated
from xunfang.ingest.roads import read_road_network

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bridge_over_street.osm"
UTM51 = "EPSG:32651"
M_PER_DEG_LAT = 110_854.0  # metres per degree of latitude at 31.23 N (WGS-84 ellipsoid)


def _xy(*lonlat: tuple[float, float]) -> np.ndarray:
    tr = Transformer.from_crs("EPSG:4326", UTM51, always_xy=True)
    return np.array([tr.transform(lon, lat) for lon, lat in lonlat])


def test_incidents_snap_past_the_bridge_to_the_street() -> None:
    net = read_road_network(FIXTURE, UTM51)
    ids = list(net.node_ids)
    assert net.edges["grade_separated"].sum() == 2  # T0-T1 and T1-T2(-T3) on the bridge
    # 2 m north of junction G2 (12), 1.1 m below the bridge node T2 (32) above it
    # and 4 m north of the bridge's dead end T0 (30), whose nearest street node is G1 (11)
    pts = _xy((121.4710, 31.23002), (121.4695, 31.23004))
    near, near_m = net.snap(pts)
    assert [ids[i] for i in near] == [32, 30]
    node, dist_m, left_out = net.snap_to_streets(pts)
    assert [ids[i] for i in node] == [12, 11]
    assert left_out == 3  # T0, T1, T2: touched only by the trunk bridge and its ramps
    assert dist_m[0] == pytest.approx(0.00002 * M_PER_DEG_LAT, rel=2e-3)  # 2.22 m
    assert near_m[0] == pytest.approx(0.00001 * M_PER_DEG_LAT, rel=2e-3)  # 1.11 m
    # G1 is 0.0005 deg east (47.6 m at 31.23 N) and 0.00004 deg south (4.4 m)
    assert dist_m[1] == pytest.approx(np.hypot(47.64, 0.00004 * M_PER_DEG_LAT), rel=2e-3)
    # units still drive over the bridge: travel times are those of the full graph
    assert np.isfinite(net.travel_time_matrix(np.array([ids.index(30)]))).all()


def test_networks_without_grade_tags_snap_as_before() -> None:
    net = network_from_edges(
        np.array([[0.0, 0.0], [100.0, 0.0]]), [(0, 1, 100.0)], crs=UTM51, speed_kph=36.0
    )
    node, dist_m, left_out = net.snap_to_streets(np.array([[90.0, 0.0]]))
    assert list(node) == [1] and dist_m[0] == pytest.approx(10.0) and left_out == 0


@pytest.mark.parametrize(
    ("tags", "lifted"),
    [
        ({"bridge": "yes"}, True),
        ({"bridge": "viaduct"}, True),
        ({"bridge": "no"}, False),
        ({"tunnel": "yes"}, True),
        ({"layer": "-1"}, True),
        ({"layer": "0"}, False),
        ({"layer": "x"}, False),
        ({}, False),
    ],
)
def test_grade_separated_tags(tags: dict[str, str], lifted: bool) -> None:
    assert grade_separated(tags) is lifted
