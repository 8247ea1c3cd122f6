"""The road network disk cache (stale and corrupt entries rebuilt) and cutting an area's
network out of a larger one. Synthetic networks made here (network_from_edges)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from xunfang.errors import CacheWarning, NetworkError
from xunfang.ingest.network import network_from_edges
from xunfang.ingest.network_cache import cache_path, cached_network, cut_network
from xunfang.ingest.road_network import RoadNetwork

CRS = "EPSG:32616"


def _line(n: int) -> RoadNetwork:
    # n nodes 100 m apart on a line, 36 km/h: 10 s per edge
    xy = np.column_stack([np.arange(n) * 100.0, np.zeros(n)])
    return network_from_edges(xy, [(i, i + 1, 100.0) for i in range(n - 1)], CRS, speed_kph=36.0)


class _Builder:
    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self) -> RoadNetwork:
        self.calls += 1
        return _line(self.n)


def test_second_call_loads_and_a_changed_source_file_rebuilds(tmp_path: Path) -> None:
    src = tmp_path / "roads.graphml"
    src.write_text("synthetic road file")
    build = _Builder(4)
    key = {"clip_margin_m": 400}
    net, how = cached_network(tmp_path / "cache", "district:7", key, [src], build)
    assert how == "built" and build.calls == 1
    again, how = cached_network(tmp_path / "cache", "district:7", key, [src], build)
    assert how == "loaded" and build.calls == 1
    assert again.n_nodes == 4
    assert again.travel_time_matrix(np.array([0]))[0].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert (again.matrix != net.matrix).nnz == 0
    old = cache_path(tmp_path / "cache", "district:7", key, [src])
    # the source file changes (new size and time): stale, rebuilt, the old entry removed
    src.write_text("synthetic road file, edited")
    os.utime(src, ns=(1_000_000_000, 2_000_000_000))
    _, how = cached_network(tmp_path / "cache", "district:7", key, [src], build)
    assert how == "built" and build.calls == 2
    assert not old.exists()
    assert len(list((tmp_path / "cache" / "networks").glob("district_7-*.pkl"))) == 1
    # other options: another entry
    _, how = cached_network(tmp_path / "cache", "district:7", {"clip_margin_m": 0}, [src], build)
    assert how == "built" and build.calls == 3


@pytest.mark.parametrize("damage", [b"", b"not a pickle at all", b"\x80\x05K\x01."])
def test_a_corrupt_entry_is_rebuilt_with_a_warning(tmp_path: Path, damage: bytes) -> None:
    src = tmp_path / "roads.osm"
    src.write_text("synthetic")
    build = _Builder(3)
    path = cache_path(tmp_path, "city", {}, [src])
    path.parent.mkdir(parents=True)
    path.write_bytes(damage)  # truncated / garbage / a pickle of the integer 1
    with pytest.warns(CacheWarning, match="unreadable.*rebuilding"):
        net, how = cached_network(tmp_path, "city", {}, [src], build)
    assert how == "rebuilt" and build.calls == 1 and net.n_nodes == 3
    _, how = cached_network(tmp_path, "city", {}, [src], build)  # written again, good now
    assert how == "loaded" and build.calls == 1


def test_no_cache_dir_builds_every_time(tmp_path: Path) -> None:
    build = _Builder(2)
    assert cached_network(None, "x", {}, [], build)[1] == "off"
    assert cached_network(None, "x", {}, [], build)[1] == "off"
    assert build.calls == 2


def test_cut_keeps_the_nodes_inside_and_their_largest_strong_component() -> None:
    # 0 - 1 - 2 - 3 - 4 on a line (100 m, 10 s each) plus node 5 at (250, 0) joined only to 4
    xy = np.array([[0, 0], [100, 0], [200, 0], [300, 0], [400, 0], [250, 0]], dtype=float)
    edges = [(0, 1, 100.0), (1, 2, 100.0), (2, 3, 100.0), (3, 4, 100.0), (4, 5, 150.0)]
    net = network_from_edges(xy, edges, CRS, speed_kph=36.0)
    box = shapely.box(-10, -10, 310, 10)  # nodes 0, 1, 2, 3 and 5 inside; 4 outside
    cut = cut_network(net, box, name="box")
    # node 5 is inside but joined to the rest only through 4: left out with its component
    assert cut.node_ids.tolist() == [0, 1, 2, 3]
    assert cut.report.nodes == 4 and cut.report.nodes_left_out == 1
    # the source graph's largest-component figures are the source's, not the cut's
    rep = dataclasses.replace(
        net.report,
        scc_nodes_before=8,
        scc_nodes_left_out=2,
        scc_km_before=1.0,
        length_left_out_km=0.25,
    )
    loss = cut_network(dataclasses.replace(net, report=rep), box).report.largest_component_loss()
    assert loss == {
        "nodes": 8,
        "nodes_left_out": 2,
        "share_nodes": 0.25,
        "km": 1.0,
        "km_left_out": 0.25,
        "share_km": 0.25,
    }
    assert cut.travel_time_matrix(np.array([0]))[0].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert sorted(zip(cut.edges["u_index"], cut.edges["v_index"], strict=True)) == [
        (0, 1),
        (1, 2),
        (2, 3),
    ]
    assert "Cut from a larger network (6 nodes) to box" in cut.report.notes[-1]
    # a node on the boundary counts as inside (as the clipping of build_network)
    assert cut_network(net, shapely.box(0, 0, 100, 0.5)).n_nodes == 2
    with pytest.raises(NetworkError, match="no road node"):
        cut_network(net, shapely.box(1000, 1000, 1100, 1100))


@pytest.mark.realdata
def test_district_network_cached_and_cut_by_the_build_rule(data_dir: Path, tmp_path: Path) -> None:
    """Chicago district 1: the second command loads the network the first built (also when
    it passes the city's own stitch thresholds explicitly, as `xunfang plan` does), and
    cutting the district's own network with the district's clip rule gives it back: the cut
    rule is the build's (the city plan cuts each district from the city's network so)."""
    from xunfang.ingest.city import default_city

    city = default_city(data_dir)
    area = city.study_area("district:1")
    built, how = city.cached_road_network(area, cache_dir=tmp_path)
    assert how == "built"
    loaded, how = city.cached_road_network(
        area, cache_dir=tmp_path, stitch_threshold_m=60.0, same_name_threshold_m=200.0
    )
    assert how == "loaded"
    np.testing.assert_array_equal(loaded.node_ids, built.node_ids)
    assert (loaded.matrix != built.matrix).nnz == 0
    cut, how = city.cached_road_network(area, within=built)
    assert how == "cut"
    np.testing.assert_array_equal(cut.node_ids, built.node_ids)
    assert (cut.matrix != built.matrix).nnz == 0
    assert len(cut.edges) == len(built.edges)


def test_a_cut_reports_its_own_loss_to_the_largest_component_rule(tmp_path: Path) -> None:
    """SYNTHETIC road lines (UTM 51N, metres from an origin): the city network's rule
    drops a one-way stub in the west district; the east district's cut drops a pair of
    nodes joined to the rest only outside it. Each district's "dropped road" figures are
    its own, not the city's (a tester saw every district of a city plan report the city's
    share)."""
    from types import SimpleNamespace

    import geopandas as gpd
    from shapely.geometry import LineString

    from xunfang.ingest.roads import read_road_network
    from xunfang.plan.booth_plan import network_honesty, network_warnings

    utm = "EPSG:32651"
    x0, y0 = 352_000.0, 3_456_000.0
    at = {
        "a": (0, 0), "b": (500, 0), "c": (1000, 0), "d": (2000, 0), "e": (1000, 500),
        "f": (1500, 500), "k": (2300, 0), "m1": (2000, 400), "m2": (2050, 400),
        "s": (500, -300),
    }  # fmt: skip
    two_way = ["a-b", "b-c", "c-d", "c-e", "e-f", "d-k", "k-m1", "m1-m2"]
    pairs = [*(p.split("-") for p in two_way), ["b", "s"]]  # b -> s: a one-way dead end
    lines = gpd.GeoDataFrame(
        {"highway": ["residential"] * len(pairs), "oneway": ["no"] * len(two_way) + ["yes"]},
        geometry=[
            LineString([(x0 + at[u][0], y0 + at[u][1]), (x0 + at[v][0], y0 + at[v][1])])
            for u, v in pairs
        ],
        crs=utm,
    )
    path = tmp_path / "roads.gpkg"
    lines.to_file(path, driver="GPKG")
    city = read_road_network(path, utm, simplify=False)
    # the city: s left out (1 of 10 nodes), its 300 m stub of 4,150 m (lengths measured on
    # the ellipsoid: the UTM grid's metres differ from them by its scale, < 0.04 % here)
    whole = city.report.largest_component_loss()
    assert whole is not None
    assert (whole["nodes"], whole["nodes_left_out"]) == (10, 1)
    assert whole["km"] == pytest.approx(4.15, rel=4e-4)
    assert whole["km_left_out"] == pytest.approx(0.3, rel=4e-4)

    def box(x1: float, x2: float) -> shapely.Polygon:
        return shapely.box(x0 + x1, y0 - 400, x0 + x2, y0 + 600)

    # west: a, b and the city's left-out s; a-b (500 m) kept, b-s (300 m) left out
    west = cut_network(city, box(-10, 900), name="west")
    loss = west.report.largest_component_loss()
    assert loss is not None and west.report.scc_of_cut
    assert (loss["nodes"], loss["nodes_left_out"]) == (3, 1)
    assert loss["km"] == pytest.approx(0.8, rel=4e-4)
    assert loss["km_left_out"] == pytest.approx(0.3, rel=4e-4)
    assert loss["share_km"] == pytest.approx(0.375, abs=1e-5)
    # east: c, d, e, f kept (c-d 1000 m, c-e 500 m, e-f 500 m); m1-m2 (50 m) reach the
    # rest only through k, outside the cut: the cut's own rule leaves them out
    east = cut_network(city, box(900, 2100), name="east")
    loss = east.report.largest_component_loss()
    assert loss is not None
    assert (loss["nodes"], loss["nodes_left_out"]) == (6, 2)
    assert loss["km"] == pytest.approx(2.05, rel=4e-4)
    assert loss["km_left_out"] == pytest.approx(0.05, rel=4e-4)
    # a cut with a margin (c and e too) measured on the district alone: the same figures
    wider = cut_network(city, box(-10, 1100), measure=box(-10, 900)).report
    assert wider.nodes == 4
    assert (wider.scc_nodes_before, wider.scc_nodes_left_out) == (3, 1)
    assert wider.length_left_out_km == pytest.approx(0.3, rel=4e-4)
    # a cut of the cut counts the same left-out pieces inside it
    again = cut_network(west, box(-10, 900)).report.largest_component_loss()
    assert again is not None and (again["nodes"], again["nodes_left_out"]) == (3, 1)
    assert again["km_left_out"] == pytest.approx(0.3, rel=4e-4)
    # the plan's "computed on" and its warning: the district's own share
    plan = SimpleNamespace(snap_count=0, network=west)
    h = network_honesty(plan)  # type: ignore[arg-type]
    assert h["largest_component"]["scope"] == "area"
    assert h["largest_component"]["share_km"] == 0.375
    assert h["warnings"] == ["largest_component"]
    assert network_warnings(plan)[0].startswith(  # type: ignore[arg-type]
        "the largest-strongly-connected-component rule dropped 38 % of the road network "
        "(0.3 of 0.8 km, 1 of 3 nodes)"
    )
    assert network_warnings(plan, "zh")[0].startswith(  # type: ignore[arg-type]
        "最大强连通分量规则剔除了路网的 38 %（0.3 / 0.8 公里，1 / 3 个节点）"
    )
