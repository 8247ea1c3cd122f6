"""Tests of xunfang.ingest.network: hand-worked travel times, snapping, the drivable filter,
stitching of areas, and the real Chicago graphs (marked realdata)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from xunfang.errors import CRSError, DataFileError, NetworkError, ValidationError
from xunfang.ingest import network as netmod
from xunfang.ingest import road_network
from xunfang.ingest.network import (
    DEFAULT_SPEEDS_KPH,
    DRIVABLE_HIGHWAYS,
    build_network,
    load_graphml_gz,
    network_from_edges,
)

UTM = "EPSG:32616"  # Chicago's UTM zone
TO_LONLAT = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
TO_UTM = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)

# ----------------------------------------------------------------------------- helpers

_EDGE_KEYS = ("length", "highway", "name", "maxspeed", "oneway", "osmid")


def write_graphml_gz(
    path: Path,
    nodes_xy: dict[int, tuple[float, float]],
    edges: list[tuple[int, int, dict[str, str]]],
    *,
    network_type: str = "walk",
    both_ways: bool = True,
) -> Path:
    """Write an OSMnx-style gzip GraphML like the Chicago files (every attribute a string).

    ``nodes_xy`` are UTM 16N metres (converted here to lon/lat); each edge is written in both
    directions, as in the walk graphs, unless ``both_ways`` is False.
    """
    keys = [
        '<key id="n_x" for="node" attr.name="x" attr.type="string" />',
        '<key id="n_y" for="node" attr.name="y" attr.type="string" />',
        '<key id="n_osmid" for="node" attr.name="osmid" attr.type="string" />',
        '<key id="g_nt" for="graph" attr.name="network_type" attr.type="string" />',
        '<key id="g_crs" for="graph" attr.name="crs" attr.type="string" />',
    ] + [f'<key id="e_{k}" for="edge" attr.name="{k}" attr.type="string" />' for k in _EDGE_KEYS]
    body = [
        f'<data key="g_nt">{network_type}</data>',
        '<data key="g_crs">epsg:4326</data>',
    ]
    for node, (x, y) in nodes_xy.items():
        lon, lat = TO_LONLAT.transform(x, y)
        body.append(
            f'<node id="{node}"><data key="n_x">{lon!r}</data><data key="n_y">{lat!r}</data>'
            f'<data key="n_osmid">{node}</data></node>'
        )
    for u, v, attrs in edges:
        for a, b in ((u, v), (v, u)) if both_ways else ((u, v),):
            data = "".join(f'<data key="e_{k}">{escape(val)}</data>' for k, val in attrs.items())
            body.append(f'<edge source="{a}" target="{b}" id="0">{data}</edge>')
    text = (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        + "".join(keys)
        + '<graph edgedefault="directed">'
        + "".join(body)
        + "</graph></graphml>"
    )
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def road(length_m: float, highway: str, **extra: str) -> dict[str, str]:
    return {"length": repr(length_m), "highway": highway, "oneway": "False", **extra}


@pytest.fixture
def square() -> netmod.RoadNetwork:
    """Square of 100 m sides plus a 250 m winding 'diagonal' 0-2, all at 36 km/h = 10 m/s.

    3 ----- 2
    |     / |
    |   /   |
    | /     |
    0 ----- 1        node 4 at (500, 500) has no edge.
    """
    xy = np.array([[0, 0], [100, 0], [100, 100], [0, 100], [500, 500]], dtype=float)
    edges = [(0, 1, 100.0), (1, 2, 100.0), (2, 3, 100.0), (3, 0, 100.0), (0, 2, 250.0)]
    return network_from_edges(xy, edges, UTM, speed_kph=36.0)


# ----------------------------------------------------------------------------- hand-made


def test_constants_cover_every_drivable_class() -> None:
    assert {"residential", "service", "motorway_link", "tertiary_link"} <= DRIVABLE_HIGHWAYS
    assert "footway" not in DRIVABLE_HIGHWAYS
    assert set(DEFAULT_SPEEDS_KPH) == DRIVABLE_HIGHWAYS
    assert DEFAULT_SPEEDS_KPH["residential"] == 30.0
    assert DEFAULT_SPEEDS_KPH["primary_link"] == 40.0
    with pytest.raises(TypeError):
        DEFAULT_SPEEDS_KPH["residential"] = 99.0  # type: ignore[index]


def test_travel_time_square_two_edges_beat_long_diagonal(
    square: netmod.RoadNetwork,
) -> None:
    # 10 m/s: each side takes 10 s; the direct 0-2 road takes 250/10 = 25 s, so 0->2 goes
    # 0-1-2 (or 0-3-2) in 10 + 10 = 20 s. 1->3 goes via 0 or 2: 20 s. Node 4 is unreachable.
    tt = square.travel_time_matrix(np.array([0, 1]))
    inf = np.inf
    expected = np.array([[0, 10, 20, 10, inf], [10, 0, 10, 20, inf]], dtype=np.float32)
    assert tt.dtype == np.float32
    np.testing.assert_array_equal(tt, expected)
    # targets subset, in the order given
    np.testing.assert_array_equal(
        square.travel_time_matrix(np.array([2]), np.array([3, 0, 1])), [[10, 20, 10]]
    )
    # limit_s: 20 s targets are beyond 15 s
    np.testing.assert_array_equal(
        square.travel_time_matrix(np.array([0]), limit_s=15.0), [[0, 10, inf, 10, inf]]
    )
    # the matrix holds the edge times; the direct edge is there, just slower
    assert square.matrix[0, 2] == pytest.approx(25.0)
    assert square.report.components_before == 2  # the square and the lone node 4
    assert square.report.nodes == 5
    assert len(square.edges) == 5
    assert square.edges["travel_time_s"].tolist() == pytest.approx([10, 10, 10, 10, 25])


def test_travel_time_matrix_chunked_equals_one_block(
    square: netmod.RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = square.travel_time_matrix(np.array([0, 1, 2, 3, 4, 0]))
    monkeypatch.setattr(road_network, "_CHUNK_BYTES", 8)  # one source per Dijkstra call
    np.testing.assert_array_equal(square.travel_time_matrix(np.array([0, 1, 2, 3, 4, 0])), whole)
    assert whole[5, 2] == 20.0


def test_travel_time_matrix_rejects_bad_indices(square: netmod.RoadNetwork) -> None:
    with pytest.raises(ValidationError, match=r"sources must be node indices in \[0, 5\)"):
        square.travel_time_matrix(np.array([0, 5]))
    with pytest.raises(ValidationError, match="targets must hold integer node indices"):
        square.travel_time_matrix(np.array([0]), np.array([0.5]))
    with pytest.raises(ValidationError, match="limit_s must be >= 0"):
        square.travel_time_matrix(np.array([0]), limit_s=-1.0)
    assert square.travel_time_matrix(np.array([], dtype=np.int64)).shape == (0, 5)


def test_snap_returns_nearest_node_and_distance(square: netmod.RoadNetwork) -> None:
    # (10, -5) -> node 0 at sqrt(10^2 + 5^2) = 11.1803 m; (60, 0) -> node 1 at 40 m;
    # (95, 90) -> node 2 at sqrt(5^2 + 10^2) = 11.1803 m; (400, 450) -> node 4 at
    # sqrt(100^2 + 50^2) = 111.8034 m.
    idx, dist = square.snap(np.array([[10, -5], [60, 0], [95, 90], [400, 450]]))
    assert idx.dtype == np.int64
    assert dist.dtype == np.float64
    assert idx.tolist() == [0, 1, 2, 4]
    np.testing.assert_allclose(dist, [math.sqrt(125), 40.0, math.sqrt(125), math.sqrt(12500)])
    empty_idx, empty_dist = square.snap(np.empty((0, 2)))
    assert empty_idx.shape == empty_dist.shape == (0,)


def test_snap_rejects_nan_and_bad_shape(square: netmod.RoadNetwork) -> None:
    with pytest.raises(ValidationError, match=r"1 row\(s\) with NaN or infinite.*row 1"):
        square.snap(np.array([[0.0, 0.0], [np.nan, 3.0]]))
    with pytest.raises(ValidationError, match=r"shape \(m, 2\)"):
        square.snap(np.array([1.0, 2.0]))


def test_network_from_edges_validates() -> None:
    xy = np.array([[0.0, 0.0], [10.0, 0.0]])
    with pytest.raises(ValidationError, match=r"integers in \[0, 2\)"):
        network_from_edges(xy, [(0, 2, 10.0)], UTM, speed_kph=30)
    with pytest.raises(ValidationError, match="speed_kph must be a positive"):
        network_from_edges(xy, [(0, 1, 10.0)], UTM, speed_kph=0)
    with pytest.raises(ValidationError, match="lengths"):
        network_from_edges(xy, [(0, 1, -1.0)], UTM, speed_kph=30)
    with pytest.raises(CRSError, match="geographic"):
        network_from_edges(xy, [(0, 1, 10.0)], "EPSG:4326", speed_kph=30)


def test_network_is_immutable(square: netmod.RoadNetwork) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        square.report = square.report  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        square.node_xy[0, 0] = 1.0


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("30 mph", 48.28032),
        ("50", 50.0),
        ("40 km/h", 40.0),
        (["30 mph", "40 mph"], 56.32704),  # mean of 48.28032 and 64.37376, as osmnx
        ("['25 mph', '35 mph']", 48.28032),  # mean of 40.2336 and 56.3270
        ("signals", math.nan),
        (None, math.nan),
        ("0", math.nan),
    ],
)
def test_parse_maxspeed(raw: object, kph: float) -> None:
    got = netmod._parse_maxspeed(raw)
    if math.isnan(kph):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(kph)


# ----------------------------------------------------------------------------- GraphML


@pytest.fixture
def one_area(tmp_path: Path) -> Path:
    """Nodes 1-2-3-4 on a line, 100 m, 60 m and 482.8032 m apart (metres in UTM 16N)."""
    nodes = {
        1: (447000.0, 4637000.0),
        2: (447100.0, 4637000.0),
        3: (447160.0, 4637000.0),
        4: (447642.8032, 4637000.0),
        5: (447000.0, 4637050.0),
    }
    edges = [
        (1, 2, road(100.0, "residential", name="Main Street")),  # 30 km/h: 12 s
        (2, 3, road(60.0, "['footway', 'residential']")),  # first drivable: 30 km/h: 7.2 s
        (3, 4, road(482.8032, "primary", maxspeed="30 mph")),  # 13.4112 m/s: 36 s
        (1, 4, road(10.0, "footway")),  # a short cut for walkers only: dropped
        (1, 5, {"length": "50.0", "oneway": "False"}),  # no highway: dropped
    ]
    return write_graphml_gz(tmp_path / "TOWN.graphml.gz", nodes, edges)


def test_load_graphml_gz_reads_osmnx_types(one_area: Path) -> None:
    graph = load_graphml_gz(one_area)
    assert graph.number_of_nodes() == 5
    assert graph.number_of_edges() == 10
    assert graph.edges[2, 3, 0]["highway"] == ["footway", "residential"]  # osmnx parsed the list
    assert graph.edges[1, 2, 0]["length"] == 100.0


def test_drivable_filter_speeds_and_counts(one_area: Path) -> None:
    net = build_network([one_area], UTM)
    rep = net.report
    assert rep.areas == ("TOWN",)
    assert rep.edges_read == 10
    assert rep.edges_kept == 6
    assert rep.edges_dropped_by_class == {"<missing>": 2, "footway": 2}
    assert rep.edges_read == rep.edges_kept + sum(rep.edges_dropped_by_class.values())
    assert (rep.nodes, rep.nodes_left_out, rep.components_before) == (4, 0, 1)
    assert rep.stitch_links == 0
    assert rep.one_way_known is False
    assert "no one-way data" in rep.notes[0]
    assert any("maxspeed tag was used on 2 directed edges" in n for n in rep.notes)
    assert net.node_ids.tolist() == [1, 2, 3, 4]  # node 5 only had a non-drivable edge
    np.testing.assert_allclose(net.node_xy[3], [447642.8032, 4637000.0], atol=1e-6)
    # 1 -> 4 must drive 1-2-3-4: 12 + 7.2 + 36 = 55.2 s (the 10 m footway is not a road)
    tt = net.travel_time_matrix(np.array([0]))
    np.testing.assert_allclose(tt, [[0.0, 12.0, 19.2, 55.2]], rtol=1e-6)
    edges = net.edges.sort_values("u_index")
    assert edges["highway"].tolist() == ["residential", "residential", "primary"]
    np.testing.assert_allclose(edges["speed_kph"], [30.0, 30.0, 48.28032])
    np.testing.assert_allclose(edges["travel_time_s"], [12.0, 7.2, 36.0])
    np.testing.assert_allclose(edges.geometry.length, [100.0, 60.0, 482.8032], atol=1e-3)
    assert edges["name"].iloc[0] == "Main Street"
    assert net.edges.crs == net.crs
    assert json.loads(json.dumps(rep.to_dict()))["edges_dropped_by_class"]["footway"] == 2


def test_speed_overrides_and_clip(one_area: Path) -> None:
    # residential at 60 km/h: 1->3 is (100 + 60) m / (60/3.6 m/s) = 9.6 s
    net = build_network([one_area], UTM, speeds_kph={"residential": 60.0})
    assert net.travel_time_matrix(np.array([0]), np.array([2]))[0, 0] == pytest.approx(9.6)
    # clip to x < 447300: node 4 goes, with the primary edge (both directions)
    box = shapely.box(446900, 4636900, 447300, 4637100)
    clipped = build_network([one_area], UTM, clip_polygon=box)
    assert clipped.node_ids.tolist() == [1, 2, 3]
    assert any(
        "dropped 1 drivable nodes" in n and "2 directed edges" in n for n in clipped.report.notes
    )
    with pytest.raises(ValidationError, match=r"speeds_kph\['service'\] must be a positive"):
        build_network([one_area], UTM, speeds_kph={"service": -5})


def test_errors_name_the_problem(tmp_path: Path, one_area: Path) -> None:
    missing = tmp_path / "NOWHERE.graphml.gz"
    with pytest.raises(DataFileError, match=r"NOWHERE\.graphml\.gz: file not found"):
        load_graphml_gz(missing)
    corrupt = tmp_path / "BROKEN.graphml.gz"
    corrupt.write_bytes(b"this is not gzip")
    with pytest.raises(DataFileError, match=r"BROKEN\.graphml\.gz: not a valid gzip"):
        build_network([corrupt], UTM)
    not_xml = tmp_path / "TEXT.graphml.gz"
    not_xml.write_bytes(gzip.compress(b"<graphml><unclosed>"))
    with pytest.raises(DataFileError, match=r"TEXT\.graphml\.gz: not a valid OSMnx GraphML"):
        load_graphml_gz(not_xml)
    with pytest.raises(CRSError, match="geographic"):
        build_network([one_area], "EPSG:4326")
    paths_only_footway = write_graphml_gz(
        tmp_path / "PARK.graphml.gz",
        {1: (447000.0, 4637000.0), 2: (447050.0, 4637000.0)},
        [(1, 2, road(50.0, "['footway', 'steps']"))],
    )
    with pytest.raises(NetworkError, match=r"no drivable edge in PARK.*footway 2"):
        build_network([paths_only_footway], UTM)
    far_away = shapely.box(0, 0, 10, 10)
    with pytest.raises(NetworkError, match="lies inside clip_polygon"):
        build_network([one_area], UTM, clip_polygon=far_away)
    with pytest.raises(ValidationError, match="same area more than once"):
        build_network([one_area, one_area], UTM)


# ----------------------------------------------------------------------------- stitching


@pytest.fixture
def two_areas(tmp_path: Path) -> tuple[Path, Path]:
    """WEST: 3 nodes 100 m apart on x; EAST: 2 nodes 100 m apart, starting 40 m east of WEST.

    WEST 10 --- 11 --- 12   (40 m gap)   20 --- 21 EAST
    """
    west = write_graphml_gz(
        tmp_path / "WEST.graphml.gz",
        {10: (446000.0, 4636000.0), 11: (446100.0, 4636000.0), 12: (446200.0, 4636000.0)},
        [
            (10, 11, road(100.0, "residential", name="Lake Street")),
            (11, 12, road(100.0, "residential", name="Lake Street")),
        ],
    )
    east = write_graphml_gz(
        tmp_path / "EAST.graphml.gz",
        {20: (446240.0, 4636000.0), 21: (446340.0, 4636000.0)},
        [(20, 21, road(100.0, "residential", name="Lake Street"))],
    )
    return west, east


def test_stitching_within_threshold_links_areas(two_areas: tuple[Path, Path]) -> None:
    net = build_network(list(two_areas), UTM, stitch_threshold_m=60.0)
    rep = net.report
    assert rep.areas == ("WEST", "EAST")
    assert rep.stitch_links == 1  # only 12-20 are within 60 m (the next pairs are 140 m)
    assert (rep.nodes, rep.nodes_left_out, rep.components_before) == (5, 0, 1)
    stitch = net.edges[net.edges["highway"] == "stitch"]
    assert len(stitch) == 1
    assert stitch["length_m"].iloc[0] == pytest.approx(40.0, abs=1e-6)
    # 10 -> 21: 200 m + 40 m link + 100 m, all at 30 km/h (8.333 m/s): 340 / (30/3.6) = 40.8 s
    ids = net.node_ids.tolist()
    tt = net.travel_time_matrix(np.array([ids.index(10)]), np.array([ids.index(21)]))
    assert tt[0, 0] == pytest.approx(40.8, rel=1e-6)


def test_stitching_beyond_threshold_leaves_smaller_area_out(
    two_areas: tuple[Path, Path],
) -> None:
    net = build_network(list(two_areas), UTM, stitch_threshold_m=30.0)
    rep = net.report
    assert rep.stitch_links == 0
    assert (rep.nodes, rep.nodes_left_out, rep.components_before) == (3, 2, 2)
    assert net.node_ids.tolist() == [10, 11, 12]
    # EAST's street 20-21, 100 m, stored both ways as in a walk graph, is what was cut
    assert (rep.edges_left_out, rep.length_left_out_km) == (2, pytest.approx(0.1))
    # WEST's 200 m kept, EAST's 100 m left out: a third of the road, 2 of 5 nodes
    assert (rep.scc_nodes_before, rep.scc_nodes_left_out) == (5, 2)
    assert rep.scc_km_before == pytest.approx(0.3)
    assert any("2 nodes in 1 smaller components were left out" in n for n in rep.notes)
    assert any("Nodes left out by area: EAST 2 of 2" in n for n in rep.notes)
    assert any("Most of EAST is cut off" in n for n in rep.notes)


def test_same_street_name_links_across_a_gap(two_areas: tuple[Path, Path]) -> None:
    # 30 m is too short for the 40 m gap, but Lake Street runs on both sides: one bridge
    # link between its two closest nodes (12 and 20) when same-name links reach 50 m
    net = build_network(list(two_areas), UTM, stitch_threshold_m=30.0, same_name_threshold_m=50.0)
    assert (net.report.stitch_links, net.report.nodes, net.report.nodes_left_out) == (1, 5, 0)
    short = build_network(list(two_areas), UTM, stitch_threshold_m=30.0, same_name_threshold_m=39.0)
    assert short.report.stitch_links == 0


# ----------------------------------------------------------------------------- real data

GRAPHS = Path("chicago") / "road_network" / "osm_walk_by_community_area"


@pytest.mark.realdata
def test_real_loop_matches_source_figures(data_dir: Path) -> None:
    net = build_network([data_dir / GRAPHS / "LOOP.graphml.gz"], UTM)
    rep = net.report
    # SOURCE.txt: LOOP = 6,946 edges; drivable 3,120 edges; largest SCC 1,154 nodes; ~95 km
    assert rep.edges_read == 6946
    assert rep.edges_kept == 3120
    assert rep.nodes == 1154
    assert abs(rep.nodes - 1154) <= 10
    assert (rep.nodes_left_out, rep.components_before) == (0, 1)
    assert rep.edges_dropped_by_class["footway"] == 3304
    assert net.edges["length_m"][net.edges["highway"] != "stitch"].sum() / 1000 == pytest.approx(
        95.02, abs=0.01
    )
    tt = net.travel_time_matrix(np.arange(0, rep.nodes, 50))
    assert np.isfinite(tt).all()  # one strongly connected component
    assert 300 < tt.max() < 900  # across the Loop (~2.5 km) at 20-50 km/h


@pytest.mark.realdata
def test_real_loop_and_near_south_side_stitched(data_dir: Path) -> None:
    loop = data_dir / GRAPHS / "LOOP.graphml.gz"
    south = data_dir / GRAPHS / "NEAR_SOUTH_SIDE.graphml.gz"
    alone = build_network([south], UTM)
    both = build_network([loop, south], UTM)
    rep = both.report
    assert alone.report.nodes == 989
    assert rep.stitch_links == 62  # along Roosevelt Road, all <= 60 m
    assert (rep.nodes, rep.nodes_left_out, rep.components_before) == (2143, 0, 1)
    assert rep.nodes == 1154 + 989  # both areas whole in one component
    stitch = both.edges[both.edges["highway"] == "stitch"]
    assert len(stitch) == 62
    assert stitch["length_m"].max() <= 60.0


@pytest.mark.realdata
def test_real_river_needs_same_name_links(data_dir: Path) -> None:
    paths = [
        data_dir / GRAPHS / "LOOP.graphml.gz",
        data_dir / GRAPHS / "NEAR_NORTH_SIDE.graphml.gz",
    ]
    # The main branch of the Chicago River: bank nodes are >= 87.7 m apart, so 60 m links
    # nothing and the Loop (1,154 nodes) is left out of the Near North Side's component.
    plain = build_network(paths, UTM)
    assert plain.report.stitch_links == 0
    assert (plain.report.nodes, plain.report.nodes_left_out) == (2087, 1162)
    # Same-name links rejoin the bridges (Clark 87.7 m ... Lower Michigan 169.5 m)
    bridged = build_network(paths, UTM, same_name_threshold_m=200.0)
    assert bridged.report.stitch_links == 8
    assert (bridged.report.nodes, bridged.report.nodes_left_out) == (3241, 8)
