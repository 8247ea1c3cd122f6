"""Benchmark: plan a week of 2-hour blocks for 27 booths and 10 mobile units on Chicago
police district 1 (``xunfang deploy``), and print the time of each step and the peak memory.

    .venv/bin/python benchmarks/bench_deploy.py [--data-dir DIR] [--plan-dir out/demo]
        [--roster examples/deploy/roster.toml] [--calendar examples/deploy/calendar.toml]
        [--block-hours 2] [--seed 0] [--out DIR] [--no-trace]

Inputs: the booth plan in ``--plan-dir`` (made first with ``xunfang plan --area district:1
--booths 27 --out out/demo`` when the folder is missing), the example roster (3 x 8 h shifts,
10 vehicles each, 30-min breaks) and calendar (the Chicago public schools' dismissal windows,
two retail places at weekend peaks, vehicle-related incidents x2 at night).

Figures printed:

* preparation: rebuilding the study area's road network and reading the 18 monthly incident
  files (the same work ``xunfang plan`` does; not part of the planning time);
* planning (the figure with the 60 s target): time blocks and checks, risk per block, travel
  times, the covering model of every block (HiGHS) and every route (OR-Tools), the booths'
  walks of their sectors (with the plan's ``sectors.geojson``; ``--no-sectors`` leaves them
  out), summaries;
* outputs: report, tables, GeoJSON + GPX per route, schedules (with ``--out``);
* peak memory: Python-level peak of the planning step (tracemalloc, a second run; numpy
  buffers are included, OR-Tools' and HiGHS's C++ heaps are not) and the process's peak
  resident set size (``resource.getrusage``, everything, including the incident data).

Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """XUNFANG_DATA_DIR, else ../shared/data next to the repository root."""
    env = os.environ.get("XUNFANG_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--plan-dir", type=Path, default=REPO_ROOT / "out" / "demo")
    ap.add_argument("--roster", type=Path, default=REPO_ROOT / "examples/deploy/roster.toml")
    ap.add_argument("--calendar", type=Path, default=REPO_ROOT / "examples/deploy/calendar.toml")
    ap.add_argument("--block-hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write (and time) the outputs")
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    ap.add_argument(
        "--no-sectors", action="store_true", help="ignore the plan's sectors (no booth walks)"
    )
    args = ap.parse_args()

    from xunfang.config import Settings
    from xunfang.plan.deployment import (
        DeployConfig,
        HourOfWeekRisk,
        load_plan_context,
        locate_places,
        plan_deployment,
    )
    from xunfang.plan.roster import load_calendar, load_roster

    settings = Settings(data_dir=args.data_dir)
    if not (args.data_dir / "chicago").is_dir():
        sys.exit(f"no data at {args.data_dir}: set XUNFANG_DATA_DIR or --data-dir")
    plan_dir = args.plan_dir
    if not (plan_dir / "sites.csv").is_file():
        from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
        from xunfang.serve.report import write_plan

        print(f"no booth plan in {plan_dir}: planning district 1 with 27 booths first ...")
        t = time.perf_counter()
        plan = make_booth_plan(PlanConfig(area="district:1", booths=27), settings)
        write_plan(plan, plan_dir)
        print(f"  booth plan: {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    roster = load_roster(args.roster)
    ctx = load_plan_context(plan_dir, settings)
    from xunfang.ingest.taxonomy import load_taxonomy

    cal = load_calendar(args.calendar, data_dir=args.data_dir, type_groups=load_taxonomy().groups)
    places = locate_places(cal, ctx.network, ctx.area.polygon)
    risk = HourOfWeekRisk.from_where_when(
        ctx.where_when,
        ctx.network,
        n_weeks=ctx.n_weeks,
        emphasis=cal.emphasis_matrix(ctx.where_when.groups),
    )
    t_prep = time.perf_counter() - t
    config = DeployConfig(block_hours=args.block_hours, seed=args.seed)
    n_booths = int((ctx.sites["kind"] == "booth").sum())
    print(
        f"{ctx.area.name}: {ctx.network.n_nodes:,} road nodes, {n_booths} booths, "
        f"{len(ctx.incidents):,} incidents over {ctx.n_weeks:.0f} weeks, "
        f"{sum(p for p in places['inside'])} calendar places inside"
    )
    print(
        "preparation (network, ingest, where/when, calendar): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in ctx.timings_s.items())
        + f"; total {t_prep:.2f} s"
    )

    def run() -> object:
        return plan_deployment(
            ctx.network,
            ctx.sites,
            roster,
            risk,
            calendar=cal,
            places=places,
            config=config,
            area_name=ctx.area.name,
            sectors=None if args.no_sectors else ctx.sectors,
        )

    t = time.perf_counter()
    dep = run()
    t_plan = time.perf_counter() - t
    from xunfang.plan.deployment import Deployment

    assert isinstance(dep, Deployment)
    k = dep.block_kpis
    units = int(k["vehicles"].max())
    n_walks = sum(rt.unit.endswith(" sector") for rt in dep.routes)
    n_vehicle_routes = len(dep.routes) - n_walks
    print(
        f"week: {len(dep.blocks)} blocks of {args.block_hours:g} h, {units} mobile units, "
        f"{len(dep.routes)} routes, {len(dep.assignments):,} officer-block assignments"
    )
    print("planning steps: " + ", ".join(f"{s} {v:.2f} s" for s, v in dep.timings_s.items()))
    print(
        f"PLANNING TIME: {t_plan:.2f} s for the week (target < 60 s): "
        f"{1000 * dep.timings_s['allocation'] / len(dep.blocks):.1f} ms per block allocation, "
        f"{1000 * dep.timings_s['routes'] / max(n_vehicle_routes, 1):.1f} ms per vehicle route"
        + (
            f", {1000 * dep.timings_s['sector patrols'] / max(n_walks, 1):.1f} ms per sector "
            f"walk ({n_walks} walks of {len(dep.sectors.names) if dep.sectors else 0} sectors)"
            if "sector patrols" in dep.timings_s
            else " (no sectors)"
        )
    )
    w = dep.weekly
    print(
        f"week figures: person-times {w['person_times']:.0f}, patrol hours "
        f"{w['patrol_hours']:.0f}, vehicle hours {w['vehicle_hours']:.0f}; risk within "
        f"{config.threshold_min:g} min of a post {100 * w['covered_share']:.1f}% (lowest block "
        f"{100 * w['min_block_covered_share']:.1f}%), of two {100 * w['backup_share']:.1f}%, "
        f"of a patrol {100 * w['patrol_covered_share']:.1f}%, at route stops "
        f"{100 * w['route_risk_share']:.1f}%; MIP status "
        f"{sorted(set(k['mip_status']))}, longest route "
        f"{max(r.end_s / r.horizon_s for r in dep.routes):.1%} of its block"
    )
    if args.out is not None:
        from xunfang.serve.deploy_report import write_deployment

        t = time.perf_counter()
        write_deployment(dep, args.out, plan_dir=plan_dir)
        print(f"outputs: {time.perf_counter() - t:.2f} s -> {args.out}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            from xunfang.serve.deploy_report import write_deployment

            t = time.perf_counter()
            write_deployment(dep, tmp, plan_dir=plan_dir)
            print(f"outputs (to a temporary folder): {time.perf_counter() - t:.2f} s")
    if not args.no_trace:
        tracemalloc.start()
        run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"PEAK MEMORY of planning (tracemalloc, Python + numpy): {peak / 2**20:.1f} MiB")
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"PEAK RSS of the process (all steps, incident data included): {rss_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
