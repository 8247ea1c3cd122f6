"""The hand-made road grid of the service tests (light: the test server imports it).

10 x 10 nodes, 200 m apart, in UTM 16N (EPSG:32616) at the Chicago Loop
(x0 = 447000 m, y0 = 4636000 m); node index i*10 + j is at (x0 + 200 j, y0 + 200 i).
Every edge runs both ways at 36 km/h = 10 m/s, so one block takes 20 s and the road time
between two nodes is 20 s times their Manhattan distance in blocks.
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer
from shapely.geometry import box

from xunfang.ingest.network import RoadNetwork, network_from_edges
from xunfang.serve.api.geo import Geo, SiteSpec

N = 10
STEP_M = 200.0
X0, Y0 = 447000.0, 4636000.0
CRS = "EPSG:32616"

_to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def node(i: int, j: int) -> int:
    """Index of the grid node in row i, column j."""
    return i * N + j


def lonlat(i: int, j: int) -> tuple[float, float]:
    """WGS-84 position of grid node (i, j)."""
    lon, lat = _to_wgs.transform(X0 + STEP_M * j, Y0 + STEP_M * i)
    return float(lon), float(lat)


def grid_network() -> RoadNetwork:
    xy = np.array([[X0 + STEP_M * j, Y0 + STEP_M * i] for i in range(N) for j in range(N)])
    edges = []
    for i in range(N):
        for j in range(N):
            if j + 1 < N:
                edges.append((node(i, j), node(i, j + 1), STEP_M))
            if i + 1 < N:
                edges.append((node(i, j), node(i + 1, j), STEP_M))
    return network_from_edges(xy, edges, CRS, speed_kph=36.0)


SITES = (
    SiteSpec("Station A", "station", *lonlat(0, 0)),
    SiteSpec("B01", "booth", *lonlat(5, 5)),
    SiteSpec("B02", "booth", *lonlat(9, 9)),
)
"""Station A at (0,0) gets patrols StationA-P1 and -P2; booths B01 at (5,5), B02 at (9,9)."""


def synthetic_geo() -> Geo:
    """The 10 x 10 grid as the service's area (buffer 100 m)."""
    polygon = box(X0, Y0, X0 + STEP_M * (N - 1), Y0 + STEP_M * (N - 1))
    return Geo("grid", grid_network(), polygon, SITES, buffer_m=100.0, max_snap_m=300.0)
