"""Benchmark of the city plan: every Chicago district, on two dask workers (and in process).

Ingests the incidents once (or reads an ingested ``.parquet``), gets the city's road network
(cold: built and written to the cache; warm: read from the cache, ``Settings.cache_dir``),
cuts each district's network from it and plans the areas with
:func:`xunfang.plan.city_plan.plan_city`. Prints, per district: wall and CPU time, MCLP
status, p-median status, gap, bound and search time, and the peak RSS of the worker process
that planned it (``ru_maxrss``), and the district's CPU seconds by step (``BoothPlan.cpu_s``);
then per mode the total wall time, the CPU time of the districts and of this (client)
process, the client's peak RSS and the CPU seconds by step summed over the districts. The
machine is shared: a fixed reference task (Dijkstra from 40 nodes of the city network,
scipy) is timed before each mode, and the wall time is also given as a multiple of it, so
runs under other loads compare. Baseline named in the issue: 1,479 s for the 22 districts
one after another (``xunfang plan --area district:N`` each, ingesting and building the
network every time).

Run: ``.venv/bin/python benchmarks/bench_city.py [--areas district:all] [--modes 2,0]
[--incidents PARQUET] [--time-limit-s 60] [--curve-time-s 5] [--cold]
[--per-district-networks]``
(mode 0: in process, N: LocalCluster of N single-thread worker processes; ``--cold``
deletes the cached city network first; ``--per-district-networks``: each district builds
its own network, as before the city network).

Measured alone on the machine (2026-12-02, load 0.6-1.2, warm cache, ``--areas
district:all --modes 2,0``): two workers 124.7 s wall (districts' CPU 231.9 s, the client's
3.1 s), in process 229.8 s; every p-median within 0.1 % (3 proven optimal); peak RSS of the
largest worker 1,064 MiB, of the client 856 MiB. CPU by step over the districts (two
workers): p-median 138.2 s, trade-off curve 56.1 s, travel times 19.6 s, sectors 10.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from xunfang.config import get_settings
from xunfang.ingest.road_network import RoadNetwork
from xunfang.plan.booth_plan import BoothPlan, PlanConfig
from xunfang.plan.city_plan import (
    CITY_CURVE_TIME_S,
    DistrictSummary,
    city_network,
    city_totals,
    district_areas,
    plan_city,
)
from xunfang.plan.decisions import DecisionConfig
from xunfang.serve.cli_plan_all import dask_client, ingest_once


def reference_s(network: RoadNetwork) -> float:
    """Wall seconds of a fixed task: Dijkstra from 40 evenly spaced nodes."""
    t0 = time.perf_counter()
    dijkstra(network.matrix, indices=np.linspace(0, network.n_nodes - 1, 40).astype(int))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", default="district:all")
    parser.add_argument("--modes", default="2,0", help="comma list of worker counts; 0 = serial")
    parser.add_argument("--incidents", type=Path, default=None)
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--cold", action="store_true", help="rebuild the city network")
    parser.add_argument("--per-district-networks", action="store_true")
    parser.add_argument(
        "--curve-time-s",
        type=float,
        default=CITY_CURVE_TIME_S,
        help="branch and bound seconds of each trade-off curve (the city default)",
    )
    args = parser.parse_args()
    settings = get_settings()
    base = PlanConfig(
        area="-",
        time_limit_s=args.time_limit_s,
        incident_files=(args.incidents,) if args.incidents else (),
        decisions=DecisionConfig(curve_time_s=args.curve_time_s),
    )
    areas = district_areas(settings, args.areas)
    t0, c0 = time.perf_counter(), time.process_time()
    incidents, _ = ingest_once(base, settings, areas)
    print(
        f"ingested {len(incidents):,} incidents once in {time.perf_counter() - t0:.1f} s wall, "
        f"{time.process_time() - c0:.1f} s CPU",
        flush=True,
    )
    if args.cold:
        for old in (settings.cache_dir / "networks").glob("city-*.pkl"):
            old.unlink()
    t0, c0 = time.perf_counter(), time.process_time()
    network, how = city_network(settings, None, areas[0])
    print(
        f"city network ({how}): {network.n_nodes:,} nodes in {time.perf_counter() - t0:.1f} s "
        f"wall, {time.process_time() - c0:.1f} s CPU",
        flush=True,
    )
    given = None if args.per_district_networks else network
    for mode in (int(m) for m in args.modes.split(",")):
        label = "in process" if mode == 0 else f"{mode} workers"
        ref = reference_s(network)
        t0, c0 = time.perf_counter(), time.process_time()

        by_step: dict[str, float] = {}

        def done(
            plan: BoothPlan,
            s: DistrictSummary,
            label: str = label,
            by_step: dict[str, float] = by_step,
        ) -> None:
            print(
                f"[{label}] {s.area:<12} {s.wall_time_s:6.1f} s wall {s.cpu_time_s:6.1f} s CPU  "
                f"MCLP {s.mclp_status:<10} p-median {s.pmedian_status:<10} gap "
                f"{s.pmedian_gap:.4%} (objective {s.pmedian_objective:,.0f}, bound "
                f"{s.pmedian_bound:,.0f}, search {s.pmedian_time_s:.1f} s)  peak RSS "
                f"{s.peak_rss_mib:,.0f} MiB",
                flush=True,
            )
            rest = sum(plan.cpu_s.values()) - plan.cpu_s.get("p-median", 0.0)
            print(
                f"[{label}] {s.area:<12} CPU s by step: "
                + ", ".join(f"{k} {v:.2f}" for k, v in plan.cpu_s.items())
                + f"; all but the p-median {rest:.1f}",
                flush=True,
            )
            for k, v in plan.cpu_s.items():
                by_step[k] = by_step.get(k, 0.0) + v

        with dask_client(None, mode) as client:
            summaries = plan_city(
                base, areas, settings, incidents, client=client, city_network=given, on_done=done
            )
        wall = time.perf_counter() - t0
        t = city_totals(summaries)
        print(
            f"[{label}] {len(areas)} areas in {wall:.1f} s wall = {wall / ref:,.0f} x the "
            f"reference task ({ref:.2f} s); districts' CPU {t['cpu_time_s_sum']:.1f} s, client "
            f"CPU {time.process_time() - c0:.1f} s (sum of district wall times "
            f"{t['wall_time_s_sum']:.1f} s; baseline 1,479 s for 22 districts serial with "
            f"re-ingest); p-median proven optimal in {t['pmedian_proven']}, largest gap "
            f"{t['pmedian_max_gap']:.4%}; largest worker peak RSS {t['peak_rss_mib_max']:,.0f} "
            f"MiB; client peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
            flush=True,
        )
        print(
            f"[{label}] CPU s by step, sum over the districts: "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(by_step.items(), key=lambda kv: -kv[1])),
            flush=True,
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
