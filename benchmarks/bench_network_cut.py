"""A district's network cut from the city's against the one built from its own files.

For each area: the network built as a single-area command builds it
(:meth:`xunfang.ingest.city.City.road_network`: the touching community graphs, clipped,
stitched) and the one the city plan gives it (cut from the whole city's network with the same
``clip_margin_m``). Prints node counts, and for up to ``--sources`` nodes inside the area
(common to both) the travel times to every common node inside the area: the share that
differ by more than 1 s, the median and the largest difference, seconds. Also the times of
building the city network, loading it from the cache (``Settings.cache_dir``) and cutting.

Run: ``.venv/bin/python benchmarks/bench_network_cut.py [--areas district:all] [--sources 200]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import shapely

from xunfang.config import get_settings
from xunfang.ingest.city import default_city
from xunfang.plan.city_plan import district_areas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", default="district:all")
    parser.add_argument("--sources", type=int, default=200)
    args = parser.parse_args()
    settings = get_settings()
    city = default_city(settings.data_dir)
    areas = district_areas(settings, args.areas, city)
    crs = city.study_area(areas[0]).crs
    whole = city.study_area("city", crs=crs)
    for label in ("city network", "city network again"):
        t0, c0 = time.perf_counter(), time.process_time()
        again, how = city.cached_road_network(whole, cache_dir=settings.cache_dir)
        print(
            f"{label} ({how}): {again.n_nodes:,} nodes in {time.perf_counter() - t0:.1f} s "
            f"wall, {time.process_time() - c0:.1f} s CPU",
            flush=True,
        )
    rng = np.random.default_rng(0)
    worst = 0.0
    for name in areas:
        area = city.study_area(name, crs=crs)
        t0 = time.perf_counter()
        own = city.road_network(area)  # not cached: the build time is measured
        t_own = time.perf_counter() - t0
        t0 = time.perf_counter()
        cut = city.road_network(area, within=again)
        t_cut = time.perf_counter() - t0
        inside_own = shapely.contains_xy(area.polygon, own.node_xy[:, 0], own.node_xy[:, 1])
        common, i_own, i_cut = np.intersect1d(
            own.node_ids[inside_own], cut.node_ids, return_indices=True
        )
        i_own = np.flatnonzero(inside_own)[i_own]
        pick = rng.choice(common.size, size=min(args.sources, common.size), replace=False)
        a = own.travel_time_matrix(i_own[pick], i_own)
        b = cut.travel_time_matrix(i_cut[pick], i_cut)
        finite = np.isfinite(a) & np.isfinite(b)
        diff = np.abs(a - b)[finite]
        one_sided = int((np.isfinite(a) != np.isfinite(b)).sum())
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
        print(
            f"{name:<12} nodes own {own.n_nodes:6,} cut {cut.n_nodes:6,} (common inside "
            f"{common.size:6,}); build {t_own:5.1f} s, cut {t_cut:4.2f} s; of "
            f"{diff.size:,} times {np.mean(diff > 1.0):.2%} differ > 1 s, median "
            f"{np.median(diff):.2f} s, max {diff.max():.1f} s, cut shorter on "
            f"{np.mean((b < a - 1.0)[finite]):.2%}; reachable in one only: {one_sided}",
            flush=True,
        )
    print(
        f"largest difference {worst:.1f} s; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB; load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
