"""Benchmark: build Chicago police district 1's road network and a 2,000 x n travel-time matrix.

Prints the areas used, build time, matrix time, matrix shape and peak memory.

    .venv/bin/python benchmarks/bench_travel_matrix.py [--data-dir DIR] [--district 1]
        [--sources 2000] [--threshold-m 60] [--same-name-m 200] [--limit-s inf]

The network is every community area whose polygon intersects the district polygon
(boundaries/police_districts.geojson ``dist_num``, community_areas.geojson ``community``),
loaded from road_network/osm_walk_by_community_area/<COMMUNITY_NAME>.graphml.gz, stitched,
not clipped. It is built twice: with nearest-node stitch links only (the plain rule), then
also with same-street-name links across the river (the network the matrix is timed on).
Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np

from xunfang.ingest.network import build_network
from xunfang.units import utm_crs_for

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """XUNFANG_DATA_DIR, else ../shared/data next to the repository root."""
    env = os.environ.get("XUNFANG_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def district_areas(data_dir: Path, district: str) -> tuple[list[Path], list[tuple[str, float]]]:
    """Graph files of the community areas intersecting a police district, with overlap m2."""
    bounds = data_dir / "chicago" / "boundaries"
    districts = gpd.read_file(bounds / "police_districts.geojson")
    areas = gpd.read_file(bounds / "community_areas.geojson")
    match = districts[districts["dist_num"].astype(str).str.strip() == str(district)]
    if match.empty:
        sys.exit(f"police district {district!r} not found in police_districts.geojson dist_num")
    lon, lat = match.geometry.union_all().centroid.coords[0]
    crs = utm_crs_for(lon, lat)
    polygon = match.to_crs(crs).geometry.union_all()
    areas_m = areas.to_crs(crs)
    hit = areas_m[areas_m.intersects(polygon)]
    overlap = hit.geometry.intersection(polygon).area
    graph_dir = data_dir / "chicago" / "road_network" / "osm_walk_by_community_area"
    names = [str(c) for c in hit["community"]]
    paths = [graph_dir / f"{name.strip().replace(' ', '_').upper()}.graphml.gz" for name in names]
    return paths, list(zip(names, overlap.to_numpy().tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--district", default="1")
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--threshold-m", type=float, default=60.0)
    parser.add_argument("--same-name-m", type=float, default=200.0)
    parser.add_argument("--limit-s", type=float, default=np.inf)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    paths, overlaps = district_areas(args.data_dir, args.district)
    print(f"police district {args.district}: {len(paths)} community areas intersect it")
    for name, area_m2 in overlaps:
        print(f"  {name:<20s} overlap {area_m2 / 1e6:10.6f} km2")

    t0 = time.perf_counter()
    plain = build_network(paths, "EPSG:32616", stitch_threshold_m=args.threshold_m)
    plain_s = time.perf_counter() - t0
    prep = plain.report
    print(
        f"build, stitch only    {plain_s:8.2f} s: {prep.nodes} nodes, {prep.stitch_links} links, "
        f"{prep.nodes_left_out} nodes left out of {prep.components_before} components"
    )

    t0 = time.perf_counter()
    net = build_network(
        paths,
        "EPSG:32616",
        stitch_threshold_m=args.threshold_m,
        same_name_threshold_m=args.same_name_m,
    )
    build_s = time.perf_counter() - t0
    rep = net.report
    print(
        f"build time            {build_s:8.2f} s  (stitch {args.threshold_m:g} m, same name "
        f"{args.same_name_m:g} m)"
    )
    print(
        f"network               {rep.nodes} nodes, {net.matrix.nnz} directed arcs, "
        f"{len(net.edges)} map rows; {rep.stitch_links} stitch links; "
        f"{rep.nodes_left_out} nodes left out of {rep.components_before} components"
    )
    for note in rep.notes:
        print(f"  - {note}")

    rng = np.random.default_rng(args.seed)
    k = min(args.sources, rep.nodes)
    sources = np.sort(rng.choice(rep.nodes, size=k, replace=False))
    tracemalloc.start()
    t0 = time.perf_counter()
    tt = net.travel_time_matrix(sources, limit_s=args.limit_s)
    matrix_s = time.perf_counter() - t0
    _, peak_b = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    finite = np.isfinite(tt)
    print(f"matrix time           {matrix_s:8.2f} s  ({k} sources x {rep.nodes} targets)")
    print(f"matrix shape          {tt.shape} {tt.dtype}, {tt.nbytes / 2**20:.1f} MiB")
    print(f"matrix peak (traced)  {peak_b / 2**20:8.1f} MiB during travel_time_matrix")
    print(
        f"travel times          finite {finite.mean():.4f}; median "
        f"{np.median(tt[finite]):.0f} s; max {tt[finite].max():.0f} s"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    print(f"process peak RSS      {rss * scale / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
