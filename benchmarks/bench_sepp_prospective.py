"""Old vs new point process and prospective hotspotting: hit rate at 1, 5 and 20 % of
the city and time per window, by rolling-origin evaluation on Chicago.

Usage: python benchmarks/bench_sepp_prospective.py [--data-dir DIR] [--parquet FILE]
       [--types BURGLARY,"MOTOR VEHICLE THEFT"] [--start 2015-01-05] [--windows 14]
       [--lookback-days 365] [--methods SPEC;SPEC;...]

Daily windows (local midnight to midnight), 150 m cells over the union of the police
districts, each window trained on the ``--lookback-days`` before it (warm-started EM as
in ``xunfang forecast evaluate``). Prints per type and method the mean hit rate at each
coverage, the mean fit + predict seconds per window (wall) and the process CPU seconds,
with the machine's load. ``--parquet`` reads an ingested table (``xunfang ingest``)
instead of the monthly CSVs (faster for repeated runs; another city's table with
``--area bbox``). Methods and types are separated by ``;``; a type ``col=value``
selects on a column (e.g. ``category=STREET CRIMES`` of the Portland NIJ calls).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from xunfang.analyse.evaluate import (
    load_incidents,
    rolling_origin,
    select_types,
    study_grid,
    with_warm_start,
)
from xunfang.analyse.forecast import make_forecaster, rolling_windows
from xunfang.ingest.incidents import read_incident_table

ROOT = Path(__file__).resolve().parents[1]
OLD_SEPP = "sepp:trigger_bandwidth_m=0:background_k_neighbours=none:background_bandwidth_m=0"
"""The point process as it was before issue 13: same cell, one exponential, per-cell rates."""
METHODS = (
    OLD_SEPP,
    "sepp",
    "prospective",
    "prospective-continuous",
)
FRACTIONS = (0.01, 0.05, 0.20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--parquet", type=Path, default=None)
    parser.add_argument("--types", default="BURGLARY;MOTOR VEHICLE THEFT")
    parser.add_argument("--start", default="2015-01-05")
    parser.add_argument("--windows", type=int, default=14)
    parser.add_argument("--lookback-days", type=float, default=365.0)
    parser.add_argument("--methods", default=";".join(METHODS))
    parser.add_argument(
        "--area", default="city", help="'city' (Chicago's police districts) or 'bbox'"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.parquet is not None:
        table = read_incident_table(args.parquet)
    else:
        files = sorted((args.data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))
        if not files:
            raise SystemExit(f"no monthly files under {args.data_dir}")
        table, _ = load_incidents(files, "chicago", "EPSG:26916")
    print(f"read {len(table):,} incidents in {time.perf_counter() - t0:.1f} s")
    area = None if args.area == "bbox" else args.area
    grid, _ = study_grid(table, area, 150.0, args.data_dir / "chicago/boundaries")
    windows = rolling_windows(args.start, args.windows, "day", table.timezone)
    specs = [m.strip() for m in args.methods.split(";") if m.strip()]
    print(
        f"{grid.n_active:,} active 150 m cells; {args.windows} daily windows from "
        f"{args.start}; {args.lookback_days:g} days of history; load {os.getloadavg()}"
    )
    for group in [t.strip() for t in args.types.split(";") if t.strip()]:
        if "=" in group:  # column=value, e.g. category=STREET CRIMES (Portland's NIJ groups)
            col, _, val = group.partition("=")
            sub = table.subset((table.frame[col].astype(str) == val).to_numpy(dtype=bool))
        else:
            sub = table if group == "all" else select_types(table, [group])
        models = {s: with_warm_start(make_forecaster(s, grid)) for s in specs}
        c0 = time.process_time()
        ev = rolling_origin(
            sub, grid, models, windows, lookback_days=args.lookback_days, fractions=FRACTIONS
        )
        cpu = time.process_time() - c0
        summ = ev.summary()
        wide = summ.pivot_table(index="method", columns="fraction", values="hit_rate_mean")
        secs = summ.groupby("method")["seconds_per_window"].first()
        print(f"\n{group}: {int(ev.rows['n_events'].sum() / len(specs) / 3):,} test events")
        print(f"{'method':60s} {'1 %':>6s} {'5 %':>6s} {'20 %':>6s} {'s/window':>9s}")
        for spec in specs:
            r = wide.loc[spec]
            print(f"{spec:60s} {r[0.01]:6.3f} {r[0.05]:6.3f} {r[0.2]:6.3f} {secs[spec]:9.3f}")
        print(f"(CPU {cpu:.1f} s for the group, load {os.getloadavg()})")


if __name__ == "__main__":
    main()
