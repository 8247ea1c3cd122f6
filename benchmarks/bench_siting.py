"""Benchmark of xunfang.plan.siting on a synthetic district of realistic size.

3,000 demand nodes with Poisson(3) incident counts and 2,000 candidate sites, uniform in a
6 km x 6 km square; travel time = Euclidean distance x 1.3 (detour factor) / 30 km/h. K = 27 sites
of which candidate 0 is fixed (an existing station); coverage standard 180 s. Prints build+solve
wall time, HiGHS time, gap, covered share and peak memory (tracemalloc: Python/numpy allocations;
ru_maxrss: whole process, HiGHS included) for MCLP, p-median (30 s budget) and evaluate_sites,
then two harder MCLP thresholds under a 20 s limit, each with HiGHS presolve off and on. CPU
time is printed too: wall time on a shared machine depends on its load.

Run: ``.venv/bin/python benchmarks/bench_siting.py [--seed N]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from xunfang.plan import mclp as mclp_module
from xunfang.plan.siting import SitingResult, evaluate_sites, mclp, p_median
from xunfang.units import kph_to_mps

N_DEMAND = 3_000
N_CANDIDATES = 2_000
SIDE_M = 6_000.0
SPEED_KPH = 30.0
DETOUR = 1.3
K = 27
FIXED = (0,)
THRESHOLD_S = 180.0
POISSON_MEAN = 3.0


def synthetic_district(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(cost_s of shape (N_DEMAND, N_CANDIDATES), weights of shape (N_DEMAND,))."""
    rng = np.random.default_rng(seed)
    demand_m = rng.uniform(0.0, SIDE_M, (N_DEMAND, 2))
    cand_m = rng.uniform(0.0, SIDE_M, (N_CANDIDATES, 2))
    weights = rng.poisson(POISSON_MEAN, N_DEMAND).astype(np.float64)
    dist_m = np.sqrt(((demand_m[:, None, :] - cand_m[None, :, :]) ** 2).sum(axis=-1))
    return dist_m * DETOUR / kph_to_mps(SPEED_KPH), weights


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float, float]:
    """Run ``fn``; return (its value, wall seconds, CPU seconds, tracemalloc peak MiB)."""
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, wall, cpu, peak / 2**20


def report(label: str, res: SitingResult, wall: float, cpu: float, peak_mib: float) -> None:
    print(
        f"{label:<24} wall {wall:6.2f} s  CPU {cpu:6.2f} s  search {res.solve_time_s:6.2f} s"
        f"  HiGHS {res.highs_time_s:6.2f} s"
        f"  status {res.status:<12}"
        f" gap {res.mip_gap:.2e}  objective {res.objective:,.1f} (bound {res.objective_bound:,.1f})"
    )
    print(
        f"{'':<24} covered share {res.covered_weight_share:.4f}"
        f"  mean {res.mean_travel_time_s:.1f} s  p90 {res.p90_travel_time_s:.1f} s"
        f"  model {res.n_model_rows}x{res.n_model_cols}"
        f"  peak traced {peak_mib:,.0f} MiB"
    )
    for note in res.notes:
        print(f"{'':<26}- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    default_presolve = mclp_module._MCLP_PRESOLVE
    t0 = time.perf_counter()
    cost_s, weights = synthetic_district(args.seed)
    print(
        f"synthetic district: {N_DEMAND} demand nodes (total weight {weights.sum():,.0f}), "
        f"{N_CANDIDATES} candidates, {SIDE_M / 1000:g} km square, {SPEED_KPH:g} km/h x {DETOUR}"
        f" detour, K={K} with fixed {list(FIXED)}, threshold {THRESHOLD_S:g} s "
        f"(matrix built in {time.perf_counter() - t0:.2f} s)"
    )

    res, wall, cpu, peak = measured(lambda: mclp(cost_s, weights, K, THRESHOLD_S, fixed=FIXED))
    report("MCLP 180 s", res, wall, cpu, peak)
    res_pm, wall, cpu, peak = measured(
        lambda: p_median(
            cost_s, weights, K, fixed=FIXED, threshold_s=THRESHOLD_S, time_limit_s=30.0
        )
    )
    report("p-median (limit 30 s)", res_pm, wall, cpu, peak)
    ev, wall, cpu, peak = measured(lambda: evaluate_sites(cost_s, weights, FIXED, THRESHOLD_S))
    print(
        f"{'evaluate_sites (fixed)':<24} wall {wall:6.2f} s  covered share "
        f"{ev.covered_weight_share:.4f}  mean {ev.mean_travel_time_s:.1f} s  p90 "
        f"{ev.p90_travel_time_s:.1f} s  peak traced {peak:,.0f} MiB"
    )
    for thr in (120.0, 90.0):
        # HiGHS presolve off (the default) against on, same model, same limit
        for presolve in (False, True):
            mclp_module._MCLP_PRESOLVE = presolve
            res, wall, cpu, peak = measured(
                partial(mclp, cost_s, weights, K, thr, fixed=FIXED, time_limit_s=20.0)
            )
            report(f"MCLP {thr:g} s presolve {'on' if presolve else 'off'}", res, wall, cpu, peak)
        mclp_module._MCLP_PRESOLVE = default_presolve
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"process peak RSS {rss_mib:,.0f} MiB (cost matrix alone {cost_s.nbytes / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
