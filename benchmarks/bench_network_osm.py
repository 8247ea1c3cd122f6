"""Benchmark: road networks from OpenStreetMap files (issue 9).

Prints build times (best and median of --repeat runs), the network sizes and the traced
peak memory of:

1. the real central-Shanghai extract ``shanghai-osm/central_shanghai_drive.osm`` (OSM XML,
   2,958 nodes, 796 ways) read by :func:`xunfang.ingest.roads.read_road_network`, against
   the named baseline ``osmnx.graph_from_xml`` + its largest strongly connected component
   on the same file (what a user of OSMnx would run);
2. a district-size ``.osm.pbf`` (20,000+ nodes). No real Chinese PBF of that size is in the
   data directory, so one is WRITTEN AT RUN TIME in a temporary folder from several Chicago
   community-area GraphML graphs (osmium's writer): every drivable and non-drivable street
   piece becomes a way (its inner geometry points become nodes), with its ``highway``,
   ``name`` and ``maxspeed``; the baseline's stitch links between areas are written as
   short ``residential`` ways so that both builds see the same connected streets. The named
   baseline is the existing GraphML path, :func:`xunfang.ingest.network.build_network`, on
   the same area files.

    .venv/bin/python benchmarks/bench_network_osm.py [--data-dir DIR] [--repeat 2]
        [--areas LOOP,NEAR_WEST_SIDE,...] [--min-nodes 20000]

Timings are wall-clock on whatever else the machine is doing (a shared 2-core machine when
these figures were first taken): compare the rows of one run, not runs of different days.
Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xunfang.ingest.network import build_network, load_graphml_gz
from xunfang.ingest.roads import read_road_network

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AREAS = (
    "LOOP,NEAR_SOUTH_SIDE,NEAR_WEST_SIDE,NEAR_NORTH_SIDE,WEST_TOWN,LINCOLN_PARK,LOGAN_SQUARE"
)
SHANGHAI_CRS = "EPSG:32651"  # UTM 51N
CHICAGO_CRS = "EPSG:32616"  # UTM 16N


def default_data_dir() -> Path:
    """XUNFANG_DATA_DIR, else ../shared/data next to the repository root."""
    env = os.environ.get("XUNFANG_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float], float]:
    """Run ``fn`` ``repeat`` times; the last result, the wall times (s) and the traced peak
    memory (MiB) of one more run under tracemalloc."""
    times: list[float] = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, times, peak / 2**20


def row(label: str, times: list[float], peak_mib: float, what: str) -> None:
    print(
        f"  {label:<34s} best {min(times):7.3f} s  median {statistics.median(times):7.3f} s  "
        f"peak {peak_mib:7.1f} MiB  {what}"
    )


def bench_shanghai(data_dir: Path, repeat: int) -> None:
    import networkx as nx
    import osmnx as ox

    path = data_dir / "shanghai-osm" / "central_shanghai_drive.osm"
    print(f"1. Shanghai OSM XML: {path} ({path.stat().st_size / 2**10:,.0f} KiB)")

    def ours() -> Any:
        return read_road_network(path, SHANGHAI_CRS, country="CN")

    def baseline() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = ox.graph_from_xml(path, simplify=True, retain_all=True)
        biggest = max(nx.strongly_connected_components(graph), key=len)
        return graph.subgraph(biggest)

    net, t_ours, m_ours = timed(ours, repeat)
    sub, t_base, m_base = timed(baseline, repeat)
    rep = net.report
    row(
        "xunfang read_road_network",
        t_ours,
        m_ours,
        f"{rep.nodes} nodes, {net.matrix.nnz} directed edges, one-way known; left out "
        f"{rep.nodes_left_out} nodes / {rep.edges_left_out} edges / "
        f"{rep.length_left_out_km:.1f} km",
    )
    row(
        "baseline osmnx.graph_from_xml+SCC",
        t_base,
        m_base,
        f"{sub.number_of_nodes()} nodes, {sub.number_of_edges()} edges (no access rule)",
    )
    print(f"  ratio baseline / xunfang (best): {min(t_base) / min(t_ours):.2f}")
    t0 = time.perf_counter()
    tt = net.travel_time_matrix(np.arange(net.n_nodes))
    all_pairs_s = time.perf_counter() - t0
    asym = np.abs(tt - tt.T)
    print(
        f"  all-pairs travel times {tt.shape} in {all_pairs_s:.3f} s; A->B differs from B->A "
        f"by more than 10 s for {float((asym > 10).mean()):.1%} of pairs (one-way streets)"
    )


def write_pbf_from_graphml(
    paths: list[Path], stitch: list[tuple[int, int]], out: Path
) -> tuple[int, int]:
    """Write the area graphs (and stitch links, as residential ways) as an OSM PBF file.

    Returns the number of nodes and ways written."""
    import osmium
    from osmium.osm.mutable import Node, Way

    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[list[int], dict[str, str]]] = []
    next_id = 10**12
    seen: set[tuple[int, int, float]] = set()
    for path in paths:
        graph = load_graphml_gz(path)
        for nid, data in graph.nodes(data=True):
            nodes[int(nid)] = (float(data["x"]), float(data["y"]))
        for u, v, data in graph.edges(data=True):
            key = (min(int(u), int(v)), max(int(u), int(v)), round(float(data["length"]), 2))
            if key in seen:  # the walk graph stores both directions
                continue
            seen.add(key)
            refs = [int(u)]
            geom = data.get("geometry")
            if geom is not None:
                for lon, lat in list(geom.coords)[1:-1]:
                    nodes[next_id] = (lon, lat)
                    refs.append(next_id)
                    next_id += 1
            refs.append(int(v))
            tags = {}
            for key_name in ("highway", "name", "maxspeed"):
                value = data.get(key_name)
                if isinstance(value, list):
                    value = value[0]
                if value is not None:
                    tags[key_name] = str(value)
            ways.append((refs, tags))
    for u, v in stitch:
        ways.append(([u, v], {"highway": "residential", "name": "stitch"}))
    with osmium.SimpleWriter(str(out)) as writer:
        for nid in sorted(nodes):
            lon, lat = nodes[nid]
            writer.add_node(Node(id=nid, location=(lon, lat)))
        for i, (refs, tags) in enumerate(ways, start=1):
            writer.add_way(Way(id=i, nodes=refs, tags=tags))
    return len(nodes), len(ways)


def bench_pbf(data_dir: Path, areas: list[str], min_nodes: int, repeat: int) -> None:
    graph_dir = data_dir / "chicago" / "road_network" / "osm_walk_by_community_area"
    paths = [graph_dir / f"{a}.graphml.gz" for a in areas]
    print(
        "2. District-size PBF, WRITTEN NOW from Chicago GraphML graphs (no real Chinese PBF "
        f"of this size is at hand): {', '.join(areas)}"
    )

    def baseline() -> Any:
        return build_network(paths, CHICAGO_CRS, stitch_threshold_m=60.0)

    base_net, t_base, m_base = timed(baseline, repeat)
    stitch_rows = base_net.edges[base_net.edges["highway"] == "stitch"]
    stitch = [
        (int(base_net.node_ids[u]), int(base_net.node_ids[v]))
        for u, v in zip(stitch_rows["u_index"], stitch_rows["v_index"], strict=True)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        pbf = Path(tmp) / "chicago_areas.osm.pbf"
        t0 = time.perf_counter()
        n_nodes, n_ways = write_pbf_from_graphml(paths, stitch, pbf)
        write_s = time.perf_counter() - t0
        print(
            f"  wrote {pbf.name}: {n_nodes:,} nodes, {n_ways:,} ways, "
            f"{pbf.stat().st_size / 2**20:.1f} MiB in {write_s:.1f} s"
        )
        if n_nodes < min_nodes:
            print(f"  WARNING: fewer than {min_nodes:,} nodes; add areas with --areas")

        def ours() -> Any:
            return read_road_network(pbf, CHICAGO_CRS)

        net, t_ours, m_ours = timed(ours, repeat)
    rep = net.report
    row(
        "xunfang read_road_network (PBF)",
        t_ours,
        m_ours,
        f"{rep.nodes:,} nodes, {net.matrix.nnz:,} directed edges, "
        f"{net.edges['length_m'].sum() / 1000:,.1f} km",
    )
    brep = base_net.report
    loops = base_net.edges["u_index"] == base_net.edges["v_index"]
    row(
        "baseline build_network (GraphML)",
        t_base,
        m_base,
        f"{brep.nodes:,} nodes, {base_net.matrix.nnz:,} directed edges, "
        f"{base_net.edges['length_m'].sum() / 1000:,.1f} km (of which "
        f"{base_net.edges.loc[loops, 'length_m'].sum() / 1000:.1f} km in loops back to their "
        "own node, which the OSM builder leaves out of its table: no route uses them)",
    )
    print(f"  ratio baseline / xunfang (best): {min(t_base) / min(t_ours):.2f}")
    # the same streets: drive times between the same OSM nodes agree
    common = np.intersect1d(net.node_ids, base_net.node_ids)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(common, size=min(200, common.size), replace=False))
    a = net.travel_time_matrix(np.searchsorted(net.node_ids, pick), None)
    b = base_net.travel_time_matrix(np.searchsorted(base_net.node_ids, pick), None)
    a = a[:, np.searchsorted(net.node_ids, pick)]
    b = b[:, np.searchsorted(base_net.node_ids, pick)]
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
    rel = np.abs(a[ok] - b[ok]) / b[ok]
    print(
        f"  same streets check: {common.size:,} shared nodes; on 200 x 200 of them the PBF "
        f"times differ from the GraphML times by median {np.median(rel):.2%}, max "
        f"{rel.max():.2%} (geodesic vs osmnx great-circle lengths)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--areas", default=DEFAULT_AREAS)
    parser.add_argument("--min-nodes", type=int, default=20_000)
    args = parser.parse_args()
    print("Road networks from OSM files; timings on a shared, loaded machine.")
    bench_shanghai(args.data_dir, args.repeat)
    bench_pbf(args.data_dir, args.areas.split(","), args.min_nodes, args.repeat)


if __name__ == "__main__":
    main()
