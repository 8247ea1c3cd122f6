"""Benchmark of the city plan: every Chicago district, in process against two dask workers.

Ingests the incidents once (or reads an ingested ``.parquet``), then plans the areas with
:func:`xunfang.plan.city_plan.plan_city` and prints, per district: wall time, MCLP status,
p-median status, gap, bound and search time, and the peak RSS of the process that planned it
(``ru_maxrss``); then the total wall time of each mode. Baseline named in the issue: 1,479 s for
the 22 districts one after another (``xunfang plan --area district:N`` each, ingesting every
time). Timings depend on the machine's load (printed at the end).

Run: ``.venv/bin/python benchmarks/bench_city.py [--areas district:all] [--modes 2,0]
[--incidents PARQUET] [--time-limit-s 60]`` (mode 0: in process, N: LocalCluster of N
single-thread worker processes).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from xunfang.config import get_settings
from xunfang.plan.booth_plan import PlanConfig
from xunfang.plan.city_plan import (
    DistrictSummary,
    city_totals,
    district_areas,
    plan_city,
)
from xunfang.serve.cli_plan_all import dask_client, ingest_once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", default="district:all")
    parser.add_argument("--modes", default="2,0", help="comma list of worker counts; 0 = serial")
    parser.add_argument("--incidents", type=Path, default=None)
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    args = parser.parse_args()
    settings = get_settings()
    base = PlanConfig(
        area="-",
        time_limit_s=args.time_limit_s,
        incident_files=(args.incidents,) if args.incidents else (),
    )
    areas = district_areas(settings, args.areas)
    t0 = time.perf_counter()
    incidents, _ = ingest_once(base, settings, areas)
    print(f"ingested {len(incidents):,} incidents once in {time.perf_counter() - t0:.1f} s")
    for mode in (int(m) for m in args.modes.split(",")):
        label = "in process" if mode == 0 else f"{mode} workers"
        t0 = time.perf_counter()

        def done(_plan: object, s: DistrictSummary, label: str = label) -> None:
            print(
                f"[{label}] {s.area:<12} {s.wall_time_s:6.1f} s  MCLP {s.mclp_status:<10} "
                f"p-median {s.pmedian_status:<10} gap {s.pmedian_gap:.4%} "
                f"(objective {s.pmedian_objective:,.0f}, bound {s.pmedian_bound:,.0f}, "
                f"search {s.pmedian_time_s:.1f} s)  peak RSS {s.peak_rss_mib:,.0f} MiB",
                flush=True,
            )

        with dask_client(None, mode) as client:
            summaries = plan_city(base, areas, settings, incidents, client=client, on_done=done)
        wall = time.perf_counter() - t0
        t = city_totals(summaries)
        print(
            f"[{label}] {len(areas)} areas in {wall:.1f} s wall (sum of district times "
            f"{t['wall_time_s_sum']:.1f} s; baseline 1,479 s for 22 districts serial with "
            f"re-ingest); p-median proven optimal in {t['pmedian_proven']}, largest gap "
            f"{t['pmedian_max_gap']:.4%}; largest district peak RSS {t['peak_rss_mib_max']:,.0f} "
            f"MiB; client peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
            flush=True,
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
