"""Road networks from one user file: OSM XML/PBF, GraphML, road lines (issue 9).

Fixture ``tests/fixtures/oneway_block.osm`` is SYNTHETIC (hand-drawn, not OSM data): four
nodes on a block, A(1) -> B(2) one-way at 30 km/h, B-C at 20 km/h, C-D without maxspeed,
D-A at "30 mph", plus a private service road and a car-park aisle from B to A and a footway.
"""

from __future__ import annotations

import itertools
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point

from xunfang.errors import DataFileError, NetworkError
from xunfang.ingest.osm import OsmWays
from xunfang.ingest.road_graph import network_from_ways
from xunfang.ingest.roads import read_road_network

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BLOCK = FIXTURES / "oneway_block.osm"
UTM51 = "EPSG:32651"

# WGS-84 ellipsoid
_A = 6378137.0
_E2 = 0.00669437999014


def parallel_m(lat_deg: float, dlon_deg: float) -> float:
    """Arc along a parallel: N(lat) cos(lat) dlon (N the prime-vertical radius)."""
    phi = math.radians(lat_deg)
    n = _A / math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    return n * math.cos(phi) * math.radians(dlon_deg)


def meridian_m(lat_mid_deg: float, dlat_deg: float) -> float:
    """Arc along a meridian: M(lat) dlat (M the meridional radius at the mid-latitude)."""
    phi = math.radians(lat_mid_deg)
    m = _A * (1 - _E2) / (1 - _E2 * math.sin(phi) ** 2) ** 1.5
    return m * math.radians(dlat_deg)


AB = parallel_m(31.2300, 0.001)  # 95.274 m
CD = parallel_m(31.2310, 0.001)
BC = meridian_m(31.2305, 0.001)  # 110.873 m
DA = BC
MPH30 = 30 * 1.609344


def kph(v: float) -> float:
    return v / 3.6


def index_of(net, osm_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(np.flatnonzero(net.node_ids == osm_id)[0])


def test_hand_lengths_are_what_they_seem() -> None:
    assert pytest.approx(95.274, abs=0.001) == AB
    assert pytest.approx(110.873, abs=0.001) == BC


@pytest.mark.parametrize("simplify", [True, False])
def test_one_way_block_forward_differs_from_backward(simplify: bool) -> None:
    net = read_road_network(BLOCK, UTM51, country="CN", simplify=simplify)
    a, b = index_of(net, 1), index_of(net, 2)
    t_ab, d_ab, path_ab = net.route(a, b)
    t_ba, d_ba, path_ba = net.route(b, a)
    # A->B on the one-way street at its posted 30 km/h
    assert t_ab == pytest.approx(AB / kph(30), abs=1e-3)  # 11.433 s
    assert d_ab == pytest.approx(AB, abs=1e-3)
    # B->A round the block: B-C posted 20, C-D CN residential 20, D-A posted 30 mph;
    # the private road and the parking aisle B->A are closed to cars
    expected = BC / kph(20) + CD / kph(20) + DA / kph(MPH30)  # 45.374 s
    assert t_ba == pytest.approx(expected, abs=1e-3)
    assert d_ba == pytest.approx(BC + CD + DA, abs=1e-3)
    assert net.report.one_way_known is True
    assert net.report.ways_excluded == {"access=private": 1, "service=parking_aisle": 1}
    assert net.report.edges_dropped_by_class["highway=footway"] == 1
    assert path_ab.tolist() == [a, b]
    assert len(path_ba) == (2 if simplify else 4)


def test_simplified_edge_sums_its_segments_speeds() -> None:
    net = read_road_network(BLOCK, UTM51, country="CN")
    # the 3 two-way streets B-C-D-A join into one piece (C and D only continue the road)
    assert net.n_nodes == 2
    piece = net.edges[~net.edges["oneway"]].iloc[0]
    parts_s = BC / kph(20) + CD / kph(20) + DA / kph(MPH30)
    assert piece["travel_time_s"] == pytest.approx(parts_s, abs=1e-3)
    assert piece["length_m"] == pytest.approx(BC + CD + DA, abs=1e-3)
    # not the length at one speed: the mean of the three speeds would give 37.9 s
    one_speed = (BC + CD + DA) / kph((20 + 20 + MPH30) / 3)
    assert abs(piece["travel_time_s"] - one_speed) > 5
    assert piece["speed_kph"] == pytest.approx((BC + CD + DA) / parts_s * 3.6)
    # the piece is stored from A (the lower node index) round to B, names in that order
    assert (piece["u_index"], piece["v_index"]) == (index_of(net, 1), index_of(net, 2))
    assert piece["name"] == "West Street / North Street / East Street"
    one_way = net.edges[net.edges["oneway"]].iloc[0]
    assert one_way["name"] == "单行路"


def test_country_table_changes_unposted_speed() -> None:
    cn = read_road_network(BLOCK, UTM51, country="CN")
    default = read_road_network(BLOCK, UTM51)
    a, b = index_of(cn, 1), index_of(cn, 2)
    t_cn = cn.route(b, a)[0]
    t_default = default.route(index_of(default, 2), index_of(default, 1))[0]
    # only C-D has no maxspeed: residential 20 km/h in CN, 30 km/h in the default table
    assert t_cn - t_default == pytest.approx(CD / kph(20) - CD / kph(30), abs=1e-3)
    over = read_road_network(BLOCK, UTM51, country="CN", speeds_kph={"residential": 10})
    t_over = over.route(index_of(over, 2), index_of(over, 1))[0]
    assert t_over - t_cn == pytest.approx(CD / kph(10) - CD / kph(20), abs=1e-3)


def test_clip_keeps_margin_and_errors_name_the_forms(tmp_path: Path) -> None:
    from pyproj import Transformer
    from shapely.geometry import Point

    x, y = Transformer.from_crs("EPSG:4326", UTM51, always_xy=True).transform(121.4700, 31.2300)
    far = Point(x + 5000, y).buffer(10)
    with pytest.raises(NetworkError, match="no drivable road lies inside the study area"):
        read_road_network(BLOCK, UTM51, clip_polygon=far)
    near = Point(x + 5000, y).buffer(10)
    net = read_road_network(BLOCK, UTM51, clip_polygon=near, clip_margin_m=5100)
    assert net.n_nodes == 2
    bad = tmp_path / "roads.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"roads\.csv.*OpenStreetMap XML.*PBF.*GraphML"):
        read_road_network(bad, UTM51)
    with pytest.raises(DataFileError, match="file not found"):
        read_road_network(tmp_path / "missing.osm", UTM51)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='x'")
    with pytest.raises(DataFileError, match=r"broken\.osm: not a readable OpenStreetMap file"):
        read_road_network(broken, UTM51)


# ------------------------------------------------------------------ real Shanghai extract


def path_length_m(lonlat: list[tuple[float, float]]) -> float:
    """Sum of the segments of a polyline, each by the local ellipsoid (N cos(lat) dlon east,
    M dlat north at the segment's mid-latitude): within a millimetre on 100 m segments."""
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(lonlat):
        mid = (lat1 + lat2) / 2
        total += math.hypot(parallel_m(mid, lon2 - lon1), meridian_m(mid, lat2 - lat1))
    return total


# way 19997100, 河南南路, highway=secondary, oneway=yes, no maxspeed (CN secondary: 30 km/h)
HENAN_SOUTH = [
    (1889249276, 121.4822313, 31.2328285),
    (152847173, 121.4823026, 31.2325544),
    (95663349, 121.4824026, 31.2320524),
]
# way 511185049, 重庆中路, highway=primary, oneway=yes, maxspeed=40
CHONGQING_MIDDLE = [
    (7716824722, 121.4670265, 31.2239391),
    (7114595662, 121.4669412, 31.2241008),
    (5000973045, 121.4668359, 31.2242945),
    (5000973048, 121.4667481, 31.2244403),
    (5000973047, 121.4665951, 31.2246584),
]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("way", "speed_kph", "length_m"),
    [(HENAN_SOUTH, 30.0, 87.6), (CHONGQING_MIDDLE, 40.0, 89.8)],
    ids=["henan-south-road", "chongqing-middle-road"],
)
def test_shanghai_one_way_streets_by_hand(
    data_dir: Path, way: list[tuple[int, float, float]], speed_kph: float, length_m: float
) -> None:
    net = read_road_network(
        data_dir / "shanghai-osm" / "central_shanghai_drive.osm", UTM51, country="CN"
    )
    hand_m = path_length_m([(lon, lat) for _, lon, lat in way])
    assert hand_m == pytest.approx(length_m, abs=0.05)
    a, b = index_of(net, way[0][0]), index_of(net, way[-1][0])
    t_fwd, d_fwd, path = net.route(a, b)
    assert d_fwd == pytest.approx(hand_m, abs=0.01)
    assert t_fwd == pytest.approx(hand_m / kph(speed_kph), abs=1e-3)
    assert path.tolist() == [a, b]  # the way's inner nodes were simplified away
    # against the one-way street a car drives round: longer and slower
    t_back, d_back, back = net.route(b, a)
    assert d_back > 1.5 * d_fwd
    assert t_back > 1.5 * t_fwd
    assert len(back) > 2
    assert not net.matrix[b, a]  # no edge back along the street


@pytest.mark.realdata
def test_shanghai_report_counts(data_dir: Path) -> None:
    net = read_road_network(
        data_dir / "shanghai-osm" / "central_shanghai_drive.osm", UTM51, country="CN"
    )
    rep = net.report
    assert rep.one_way_known
    assert rep.edges_read == 796  # ways (SOURCE.txt)
    assert rep.ways_excluded == {"access=no": 3}
    assert rep.edges_kept == 793
    assert rep.nodes + rep.nodes_left_out > rep.nodes > 0
    assert rep.edges_left_out > 0 and rep.length_left_out_km > 0
    assert any("528 of 793 ways are one-way" in n for n in rep.notes)


# ------------------------------------------------------------------ road-line files


def block_lines() -> gpd.GeoDataFrame:
    """The synthetic block as road lines in UTM 51N, Geofabrik-style fields: A-B drawn from
    B to A with oneway 'T' (against the drawing, so A to B), the rest 'B' (both ways);
    maxspeed 0 means unknown (C-D)."""
    a, b, c, d = (121.4700, 31.2300), (121.4710, 31.2300), (121.4710, 31.2310), (121.4700, 31.2310)
    lines = [LineString([b, a]), LineString([b, c]), LineString([c, d]), LineString([d, a])]
    gdf = gpd.GeoDataFrame(
        {
            "fclass": ["tertiary", "residential", "residential", "residential"],
            "ONEWAY": ["T", "B", "B", "B"],
            "maxspeed": [30, 20, 0, 48],
            "name": ["单行路", "East Street", "North Street", "West Street"],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    footway = gpd.GeoDataFrame(
        {"fclass": ["footway"], "ONEWAY": ["B"], "maxspeed": [0], "name": [None]},
        geometry=[LineString([a, c])],
        crs="EPSG:4326",
    )
    return pd.concat([gdf, footway], ignore_index=True).to_crs(UTM51)


@pytest.mark.parametrize("form", ["geojson", "gpkg", "shp-folder", "shp-zip"])
def test_road_lines_with_oneway_and_speed_fields(tmp_path: Path, form: str) -> None:
    gdf = block_lines()
    if form == "geojson":
        path = tmp_path / "roads.geojson"
        gdf.to_file(path, driver="GeoJSON")
    elif form == "gpkg":
        path = tmp_path / "roads.gpkg"
        gdf.to_file(path, driver="GPKG")
    else:
        folder = tmp_path / "roads_shp"
        folder.mkdir()
        gdf.to_file(folder / "roads.shp", driver="ESRI Shapefile", encoding="utf-8")
        path = folder
        if form == "shp-zip":
            path = tmp_path / "roads.zip"
            with zipfile.ZipFile(path, "w") as zf:
                for f in folder.iterdir():
                    zf.write(f, f.name)
    net = read_road_network(path, UTM51)
    a, b = index_of_xy(net, 121.4700, 31.2300), index_of_xy(net, 121.4710, 31.2300)
    t_ab, d_ab, _ = net.route(a, b)
    t_ba, d_ba, _ = net.route(b, a)
    assert net.report.one_way_known
    assert d_ab == pytest.approx(AB, abs=1e-3)
    assert t_ab == pytest.approx(AB / kph(30), abs=1e-3)
    # maxspeed 0 on C-D: the default residential 30 km/h
    assert t_ba == pytest.approx(BC / kph(20) + CD / kph(30) + DA / kph(48), abs=1e-3)
    assert d_ba == pytest.approx(BC + CD + DA, abs=1e-3)
    assert net.report.edges_dropped_by_class == {"highway=footway": 1}


def index_of_xy(net, lon: float, lat: float) -> int:  # type: ignore[no-untyped-def]
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    nodes, dist = net.snap(np.array([[x, y]]))
    assert dist[0] < 1e-3
    return int(nodes[0])


def test_road_lines_without_direction_are_two_way_and_say_so(tmp_path: Path) -> None:
    gdf = block_lines().drop(columns=["ONEWAY"])
    gdf.loc[0, "fclass"] = "motorway"  # in OSM a motorway implies one-way; not here
    path = tmp_path / "roads.geojson"
    gdf.to_file(path, driver="GeoJSON")
    # a ring of two-way streets: simplified, it keeps two of its four corners
    assert read_road_network(path, UTM51).n_nodes == 2
    net = read_road_network(path, UTM51, simplify=False)
    a, b = index_of_xy(net, 121.4700, 31.2300), index_of_xy(net, 121.4710, 31.2300)
    assert net.route(b, a)[0] == pytest.approx(AB / kph(30), abs=1e-3)
    assert net.report.one_way_known is False
    assert "states no direction of travel" in net.report.notes[0]


def test_road_lines_errors(tmp_path: Path) -> None:
    points = gpd.GeoDataFrame(geometry=[Point(121.47, 31.23)], crs="EPSG:4326")
    path = tmp_path / "points.geojson"
    points.to_file(path, driver="GeoJSON")
    with pytest.raises(DataFileError, match=r"points\.geojson: no LineString features"):
        read_road_network(path, UTM51)
    nocrs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])]).to_file(nocrs, driver="GPKG")
    with pytest.raises(DataFileError, match=r"nocrs\.gpkg: the file declares no CRS"):
        read_road_network(nocrs, UTM51)


# ------------------------------------------------------------------ PBF and GraphML


def test_pbf_reads_like_the_xml(tmp_path: Path) -> None:
    import osmium

    pbf = tmp_path / "block.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(BLOCK)):
            writer.add(obj)
    xml_net = read_road_network(BLOCK, UTM51, country="CN")
    pbf_net = read_road_network(pbf, UTM51, country="CN")
    assert pbf_net.node_ids.tolist() == xml_net.node_ids.tolist()
    assert (pbf_net.matrix != xml_net.matrix).nnz == 0
    assert pbf_net.report.ways_excluded == xml_net.report.ways_excluded


def test_graphml_drive_graph_keeps_one_way(tmp_path: Path) -> None:
    """An osmnx drive graph of the block (from the synthetic XML), saved as plain GraphML."""
    import osmnx as ox

    graph = ox.graph_from_xml(BLOCK, simplify=False, retain_all=True)
    path = tmp_path / "block.graphml"
    ox.save_graphml(graph, path)
    net = read_road_network(path, UTM51, country="CN")
    a, b = index_of(net, 1), index_of(net, 2)
    assert net.report.one_way_known
    # osmnx measures great-circle lengths on a sphere of radius 6,371,009 m
    ab_sphere = 6_371_009 * math.cos(math.radians(31.23)) * math.radians(0.001)  # 95.08 m
    assert net.route(a, b)[1] == pytest.approx(ab_sphere, abs=0.01)
    assert net.route(a, b)[0] == pytest.approx(ab_sphere / kph(30), abs=0.01)
    # back round the block: the private road and the parking aisle are left out here too
    assert net.report.edges_dropped_by_class["access=private"] == 2  # both directions
    assert net.report.edges_dropped_by_class["service=parking_aisle"] == 2
    bc = 6_371_009 * math.radians(0.001)
    cd = 6_371_009 * math.cos(math.radians(31.231)) * math.radians(0.001)
    back = bc / kph(20) + cd / kph(20) + bc / kph(MPH30)
    assert net.route(b, a)[0] == pytest.approx(back, abs=0.01)


def test_graphml_edges_mark_one_way_pieces(tmp_path: Path) -> None:
    import osmnx as ox

    graph = ox.graph_from_xml(BLOCK, simplify=False, retain_all=True)
    path = tmp_path / "block.graphml"
    ox.save_graphml(graph, path)
    net = read_road_network(path, UTM51, country="CN")
    a, b = index_of(net, 1), index_of(net, 2)
    one_way = net.edges[net.edges["oneway"]]
    assert list(zip(one_way["u_index"], one_way["v_index"], strict=True)) == [(a, b)]
    assert (~net.edges["oneway"]).sum() == 3  # B-C, C-D, D-A


def test_way_cut_at_the_file_edge_is_counted(tmp_path: Path) -> None:
    """SYNTHETIC: way 2 runs from node 2 to node 99, which the file does not hold."""
    path = tmp_path / "cut.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        '<node id="1" lat="31.2300" lon="121.4700"/>\n'
        '<node id="2" lat="31.2300" lon="121.4710"/>\n'
        '<node id="3" lat="31.2310" lon="121.4710"/>\n'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>\n'
        '<way id="2"><nd ref="2"/><nd ref="3"/><nd ref="99"/>'
        '<tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>\n</osm>\n'
    )
    net = read_road_network(path, UTM51)
    assert any(
        n.startswith("1 segments of 1 ways have an end node that is not in the file")
        for n in net.report.notes
    )
    # 2 -> 3 is one-way and 3 leads nowhere: the strongly connected part is 1 <-> 2
    assert sorted(net.node_ids.tolist()) == [1, 2]
    assert net.report.nodes_left_out == 1
    assert net.report.edges_left_out == 1
    assert net.report.length_left_out_km == pytest.approx(BC / 1000, abs=1e-6)
    # the rule's loss, kept for the plan's "computed on": 1 of 3 nodes, 110.9 of 206.1 m
    loss = net.report.largest_component_loss()
    assert loss is not None
    assert (loss["nodes"], loss["nodes_left_out"]) == (3, 1)
    assert loss["km"] == pytest.approx((AB + BC) / 1000, abs=1e-6)
    assert loss["share_km"] == pytest.approx(110.873 / (95.274 + 110.873), abs=1e-4)


def test_road_lines_in_gcj02_are_shifted_back(tmp_path: Path) -> None:
    from xunfang.ingest.coords import wgs84_to_gcj02

    wgs = block_lines().to_crs("EPSG:4326")
    gcj = wgs.copy()
    gcj.geometry = shapely.transform(
        wgs.geometry.to_numpy(), lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    path = tmp_path / "roads_gcj02.geojson"
    gcj.to_file(path, driver="GeoJSON")
    net = read_road_network(path, UTM51, frame="gcj02")
    a, b = index_of_xy(net, 121.4700, 31.2300), index_of_xy(net, 121.4710, 31.2300)
    assert net.route(a, b)[1] == pytest.approx(AB, abs=1e-3)
    # read as WGS-84 the same file is about half a kilometre off
    shifted = read_road_network(path, UTM51)
    x, y = Transformer.from_crs("EPSG:4326", UTM51, always_xy=True).transform(121.47, 31.23)
    assert shifted.snap(np.array([[x, y]]))[1][0] > 300
    projected = tmp_path / "roads_utm.gpkg"
    block_lines().to_file(projected, driver="GPKG")
    with pytest.raises(DataFileError, match=r"frame 'gcj02' applies to lon/lat files"):
        read_road_network(projected, UTM51, frame="gcj02")


# ------------------------------------------------------------------ direction rules in a graph


def two_node_ways(tags: dict[str, str]) -> OsmWays:
    """SYNTHETIC: one street from node 1 (121.4700 E) to node 2 (121.4710 E) at 31.23 N with
    the given tags, and a slow two-way residential loop back through node 3 (north), so
    that both nodes stay in one strongly connected component."""
    ways = OsmWays()
    ways.ways_read = 2
    ways.way_ids = [1, 2]
    ways.refs = [np.array([1, 2]), np.array([2, 3, 1])]
    ways.lonlat = [
        np.array([[121.4700, 31.2300], [121.4710, 31.2300]]),
        np.array([[121.4710, 31.2300], [121.4705, 31.2400], [121.4700, 31.2300]]),
    ]
    ways.tags = [{"highway": "primary", **tags}, {"highway": "residential", "maxspeed": "5"}]
    return ways


def direct_times(tags: dict[str, str]) -> tuple[float, float]:
    """Drive time 1 -> 2 and 2 -> 1, seconds."""
    net = network_from_ways(two_node_ways(tags), UTM51, source="synthetic", country="CN")
    a, b = index_of(net, 1), index_of(net, 2)
    return net.route(a, b)[0], net.route(b, a)[0]


@pytest.mark.parametrize(
    ("tags", "fwd_kph", "back_kph"),
    [
        ({}, 40.0, 40.0),  # CN primary, both ways
        ({"oneway": "yes"}, 40.0, None),
        ({"oneway": "-1"}, None, 40.0),  # against the way's node order only
        ({"junction": "roundabout"}, 40.0, None),
        ({"junction": "roundabout", "oneway": "no"}, 40.0, 40.0),
        ({"oneway": "reversible"}, 40.0, 40.0),
        ({"maxspeed": "60", "maxspeed:backward": "30"}, 60.0, 30.0),
        ({"maxspeed:forward": "50"}, 50.0, 40.0),
        ({"maxspeed": "CN:urban"}, 50.0, 50.0),
        ({"maxspeed": "40;60", "oneway": "-1"}, None, 40.0),
    ],
)
def test_direction_and_speed_rules_in_the_graph(
    tags: dict[str, str], fwd_kph: float | None, back_kph: float | None
) -> None:
    fwd_s, back_s = direct_times(tags)
    # the way round through node 3 (2 x ~1,115 m at 5 km/h) takes over 25 minutes
    detour_s = 2 * meridian_m(31.235, 0.01) / kph(5)
    assert detour_s > 1500
    for got, want in ((fwd_s, fwd_kph), (back_s, back_kph)):
        if want is None:
            assert got > detour_s * 0.99
        else:
            assert got == pytest.approx(AB / kph(want), abs=1e-3)


def test_route_to_itself_is_zero() -> None:
    net = read_road_network(BLOCK, UTM51, country="CN")
    a = index_of(net, 1)
    t, d, path = net.route(a, a)
    assert (t, d, path.tolist()) == (0.0, 0.0, [a])


def test_zero_length_segment_is_kept_without_warnings() -> None:
    """SYNTHETIC: nodes 2 and 4 share one position (a duplicated node in the data)."""
    ways = two_node_ways({})
    ways.refs.append(np.array([2, 4]))
    ways.lonlat.append(np.array([[121.4710, 31.2300], [121.4710, 31.2300]]))
    ways.tags.append({"highway": "service", "name": "zero"})
    ways.way_ids.append(3)
    ways.ways_read += 1
    net = network_from_ways(ways, UTM51, source="synthetic", country="CN")
    zero = net.edges[net.edges["name"] == "zero"]
    assert zero["length_m"].tolist() == [0.0]
    assert zero["speed_kph"].tolist() == [15.0]  # CN service
    b, four = index_of(net, 2), index_of(net, 4)
    assert net.route(b, four)[:2] == (0.0, 0.0)


def test_area_outside_the_roads_shows_both_extents() -> None:
    """A study area away from the road file: the error gives both extents in lon/lat and
    suggests --frame (issue 9, finding 10: it said "it must be in EPSG:32651 metres")."""
    x, y = Transformer.from_crs("EPSG:4326", UTM51, always_xy=True).transform(121.60, 31.30)
    far = shapely.box(x - 500, y - 500, x + 500, y + 500)
    with pytest.raises(NetworkError) as err:
        read_road_network(BLOCK, UTM51, clip_polygon=far, clip_margin_m=0)
    msg = str(err.value)
    assert msg.startswith("oneway_block.osm: no drivable road lies inside the study area")
    assert "the roads lon 121.47000 to 121.47100, lat 31.23000 to 31.23100 (WGS-84)" in msg
    assert "spans lon 121.59" in msg and "lat 31.29" in msg
    assert "--frame" in msg
