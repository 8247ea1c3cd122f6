"""Forecast speed: fit + predict time per window and peak memory of each method, on one
police district and on the whole city (a year of training events; 150 m grid).

Usage: python benchmarks/bench_forecast.py [--data-dir DIR] [--district 1] [--repeat 3]
       [--methods SPEC,SPEC,...]

Prints, per area and method: training events, fit s, predict s (best of ``--repeat``
cold runs), the refit time with ``warm_start`` for the point process (the next day's
window, as in a rolling evaluation), and the peak memory allocated during fit + predict
(tracemalloc, a separate run), plus the process's peak RSS at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.analyse.evaluate import load_incidents, study_grid
from xunfang.analyse.forecast import Forecaster, TrainingEvents, Window, make_forecaster
from xunfang.analyse.grid import Grid

ROOT = Path(__file__).resolve().parents[1]
METHODS = (
    "naive:period_days=365",
    "kde",
    "kde:kernel=gaussian:k_neighbours=2:bandwidth_m=75:window_days=365",
    "prospective",
    "prospective:positions=exact",
    "sepp",
    "sepp:background_k_neighbours=5:background_bandwidth_m=75",
    "sepp+tod",
)


def _time(model: Forecaster, events: TrainingEvents, window: Window) -> tuple[float, float]:
    t0 = time.perf_counter()
    model.fit_events(events)
    t1 = time.perf_counter()
    model.predict(window)
    return t1 - t0, time.perf_counter() - t1


def _peak_mib(model: Forecaster, events: TrainingEvents, window: Window) -> float:
    tracemalloc.start()
    model.fit_events(events)
    model.predict(window)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def bench(label: str, grid: Grid, events: TrainingEvents, methods: list[str], repeat: int) -> None:
    start = pd.Timestamp("2015-06-01", tz="America/Chicago")
    window = Window.local("2015-06-01", 0, 24, "America/Chicago")
    train = events.between(window.start_day - 365.0, window.start_day)
    nxt = Window.local("2015-06-02", 0, 24, "America/Chicago")
    train_next = events.between(nxt.start_day - 365.0, nxt.start_day)
    print(
        f"\n{label}: {len(train):,} training events (365 days before {start.date()}), "
        f"grid {grid.nx} x {grid.ny} = {grid.n_cells:,} cells of {grid.cell_m:g} m "
        f"({grid.n_active:,} active)"
    )
    print(f"{'method':68s} {'fit s':>8s} {'predict s':>9s} {'warm refit s':>12s} {'peak MiB':>9s}")
    for spec in methods:
        fits, preds = [], []
        for _ in range(repeat):
            f, p = _time(make_forecaster(spec, grid), train, window)
            fits.append(f)
            preds.append(p)
        warm = ""
        if spec.startswith("sepp"):
            model = make_forecaster(spec, grid)
            params = model.get_params()
            if "base" in params:
                model = model.with_params(base=params["base"].with_params(warm_start=True))
            else:
                model = model.with_params(warm_start=True)
            model.fit_events(train)
            f, p = _time(model, train_next, nxt)
            warm = f"{f + p:.3f}"
        peak = _peak_mib(make_forecaster(spec, grid), train, window)
        print(f"{spec:68s} {min(fits):8.3f} {min(preds):9.3f} {warm:>12s} {peak:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--district", default="1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    files = sorted((args.data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))
    if not files:
        raise SystemExit(f"no monthly files under {args.data_dir}")
    t0 = time.perf_counter()
    table, _ = load_incidents(files, "chicago", "EPSG:26916")
    print(f"ingest: {len(table):,} incidents in {time.perf_counter() - t0:.1f} s (EPSG:26916)")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    boundary = args.data_dir / "chicago/boundaries"

    district, _ = study_grid(table, f"district:{args.district}", 150.0, boundary)
    inside = district.cell_of(table.xy) >= 0
    inside[inside] = district.mask[district.cell_of(table.xy)[inside]]
    d_events = TrainingEvents.from_table(table.subset(inside), district)
    bench(f"district {args.district}", district, d_events, methods, args.repeat)

    city, _ = study_grid(table, None, 150.0, None)
    bench(
        "whole city (bounding box)",
        city,
        TrainingEvents.from_table(table, city),
        methods,
        args.repeat,
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the process: {rss:,.0f} MiB; numpy {np.__version__}")


if __name__ == "__main__":
    main()
