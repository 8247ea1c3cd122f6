"""Street segments vs grid cells on one Chicago police district: hit rate at 1, 5 and 20 %
(of road length for segments, of area for cells) and seconds per window.

Usage: python benchmarks/bench_segments.py [--data-dir DIR] [--areas district:1,district:8]
       [--types all,BURGLARY] [--test-start 2015-06-17] [--windows 14]

One rolling-origin run per type over 2 x ``--windows`` daily windows, each trained on the
year before it: the first ``--windows`` days (validation) choose one segment method and
one grid method per type (highest mean hit rate over 1, 5 and 20 %); the last
``--windows`` days (test) are reported. Also printed: segment naive counts over the year,
the grid forecasts flagged by road length on the segments (``grid>segments``) and the
best grid method per level with hindsight. Wall and CPU time and the load are printed
with the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import pandas as pd

from xunfang.analyse.forecast.segments import summary_table
from xunfang.analyse.segment_evaluate import SegmentEvaluationSpec, run_segment_evaluation
from xunfang.ingest.city import default_city

SEGMENT_METHODS = (
    "naive",
    "naive:period_days=56",
    "network",  # the defaults, 50 m / 52 weeks / exponential 180 days, chosen by this script
    "network:bandwidth_m=400:bandwidth_weeks=8:time=weeks",
    "network:bandwidth_m=200:bandwidth_weeks=8:time=weeks",
    "network:bandwidth_m=100:bandwidth_weeks=52:time=exponential:time_scale_days=90",
    "network:bandwidth_m=200:bandwidth_weeks=52:time=exponential:time_scale_days=365",
)
GRID_METHODS = ("naive:period_days=none", "kde", "prospective")
LEVELS = (0.01, 0.05, 0.20)


def _choose(summary: pd.DataFrame, methods: list[str]) -> str:
    s = summary[summary["method"].isin(methods) & summary["fraction"].isin(LEVELS)]
    return str(s.groupby("method")["hit_rate_mean"].mean().idxmax())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--areas", default="district:1", help="comma-separated study areas")
    ap.add_argument("--types", default="all,BURGLARY")
    ap.add_argument("--test-start", default="2015-06-17")
    ap.add_argument("--windows", type=int, default=14)
    args = ap.parse_args()
    data = args.data_dir or Path(os.environ.get("XUNFANG_DATA_DIR", "../shared/data"))
    city = default_city(data)
    files = tuple(sorted((data / "chicago" / "incidents_2014_2015").glob("*.csv.gz")))
    first = (pd.Timestamp(args.test_start) - pd.Timedelta(days=args.windows)).date()
    print(f"load before: {os.getloadavg()}")
    for area, label in [(a, t) for a in args.areas.split(",") for t in args.types.split(",")]:
        types = () if label == "all" else (label,)
        w0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        ev = run_segment_evaluation(
            SegmentEvaluationSpec(
                incident_files=files,
                profile="chicago",
                city=city,
                area=area,
                types=types,
                start=str(first),
                windows=2 * args.windows,
                lookback_days=365.0,
                methods=SEGMENT_METHODS,
                grid_methods=GRID_METHODS,
                fractions=LEVELS,
            )
        )
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - w0
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        rows = ev.rows
        test_mask = pd.to_datetime(rows["start"], utc=True) >= pd.Timestamp(
            args.test_start, tz=city.timezone or "UTC"
        )
        val, test = summary_table(rows[~test_mask]), summary_table(rows[test_mask])
        seg = _choose(val, list(SEGMENT_METHODS))
        grid = _choose(val, [f"grid {m}" for m in GRID_METHODS])
        t = test.set_index(["method", "fraction"])
        n_test = int(rows[test_mask].groupby("window")["n_events"].first().sum())
        print(
            f"\n== {label} · {ev.area.name}: {len(ev.segments):,} segments, "
            f"{ev.segments.total_length_m / 1000:.1f} km of road, {ev.area.area_km2:.2f} km²; "
            f"{n_test} test incidents in {args.windows} days from {args.test_start}"
        )
        print(f"chosen on validation: segment {seg!r}, grid {grid!r}")
        head = "".join(f"{f'HR {100 * f:g}%':>9}" for f in LEVELS)
        print(f"{'method (test days)':<70}{'of':>12}{head}{'s/window':>10}")
        shown = [
            (f"segment chosen: {seg}", seg, "road length"),
            ("segment naive counts (year)", "naive", "road length"),
            (f"grid chosen: {grid}", grid, "area"),
            (f"grid chosen on segments: {grid}", grid.replace("grid ", "grid>segments "), "road"),
        ]
        for name, m, unit in shown:
            hr = "".join(f"{t.loc[(m, f), 'hit_rate_mean']:>9.3f}" for f in LEVELS)
            print(f"{name:<70}{unit:>12}{hr}{t.loc[(m, LEVELS[0]), 'seconds_per_window']:>10.3f}")
        hind = "".join(
            f"{test[(test['fraction'] == f) & (test['method'].str.startswith('grid '))]['hit_rate_mean'].max():>9.3f}"  # noqa: E501
            for f in LEVELS
        )
        print(f"{'grid best per level with hindsight':<70}{'area':>12}{hind}")
        print("all methods on the test days (validation mean over the three levels):")
        vmean = val[val["fraction"].isin(LEVELS)].groupby("method")["hit_rate_mean"].mean()
        for m in test["method"].unique():
            hr = "".join(f"{t.loc[(m, f), 'hit_rate_mean']:>9.3f}" for f in LEVELS)
            sw = t.loc[(m, LEVELS[0]), "seconds_per_window"]
            print(f"  {m:<80}{hr}   val {vmean[m]:.3f}  {sw:.3f} s/window")
        ratio = "".join(
            f"{t.loc[(seg, f), 'hit_rate_mean'] / t.loc[(grid, f), 'hit_rate_mean']:>9.2f}"
            if t.loc[(grid, f), "hit_rate_mean"] > 0
            else f"{'n/a':>9}"
            for f in LEVELS
        )
        print(f"{'ratio segment chosen / grid chosen':<70}{'':>12}{ratio}")
        print(
            f"network {ev.network_s:.1f} s, distances {ev.distances_s:.1f} s once; run wall "
            f"{wall:.1f} s, CPU {cpu:.1f} s; load {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
