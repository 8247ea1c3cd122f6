"""Benchmark: simulated calls per second against a plain SimPy model, and a city year.

    .venv/bin/python benchmarks/bench_simulate.py [--data-dir DIR] [--cache-dir DIR]
        [--rounds 3] [--skip-city] [--city-modes scene,post] [--district1]

Cases:

1. M/M/3 queue (one node, exponential times): the event loop alone, 40,000 calls.
2. Austin, June 2015 (examples/simulate/austin_june2015.toml: community area AUSTIN, the
   month's real incidents replayed, 20 station cars at the two stations within 500 m),
   measured side by side in one process, ``--rounds`` times each, interleaved (best round
   kept; CPU seconds are printed as well because the machine is shared):

   * ``simpy``: the plain SimPy closest-unit model of ``benchmarks/simpy_closest_unit.py``
     (the baseline; its docstring states the model);
   * ``xunfang, cleared_at=post``: the simulator with the SimPy model's choices (a unit
     that clears is at once back at its post); its response times are checked equal;
   * ``xunfang, default``: the simulator as ``xunfang simulate`` runs it (a unit that
     clears is available at the scene and drives back, dispatchable on the way).

   All three read the same travel-time rows (posts -> every node), computed once before
   and not counted; the calls, their draws and the traffic factors are the same.
3. The whole city for a year, 2014-07 .. 2015-06 (about 270,000 incidents replayed; all 77
   community areas stitched, read from the network cache after the first build), 299
   station cars (13 at each of the 23 stations), stations only: simulation wall and CPU
   seconds, calls per second, and peak memory (the process's peak RSS; with
   ``--trace-memory`` also the tracemalloc peak of a second, traced run).
4. ``--district1``: district 1, June 2015, 40 units with booths, patrols and a response
   car (examples/simulate/district1_june2015.toml; makes a booth plan first, slow).

Measured on this (shared, loaded) machine, 2 CPUs, load average 8-12, CPU seconds:

=====================================  ==========================  ========================
                                       before (commit 4d680b2)     after
=====================================  ==========================  ========================
Austin month, xunfang default / SimPy  x0.28 (7,791 vs 27,476/s)   x0.59-0.62 (18,763/s)
Austin, cleared_at=post / SimPy        (no such option)            x1.64 (52,214 vs 31,869/s)
city June 2015 (22,638 calls), default 9.0 s (59.5 s wall)         2.8-3.9 s
city year (265,505 calls), default     (not run: about 110 s)      37.9 s (132.5 s wall)
city year, same run: searches kept?    no (the baseline)           yes (LRU, 8 M pairs)
  (load 13-15), default                33.8 s (381.6 s wall)       30.5 s (312.7 s wall)
  bounded searches                     18,763                      14,183 + 4,580 kept
city year, cleared_at=post             -                           6.0 s (21.4 s wall)
=====================================  ==========================  ========================

Response times before and after are identical on the Austin month (2 replications) and the
city June median; peak RSS of the city-year process 780 MiB.

Alone on the machine (2026-12-02, load 0.6-0.9, ``.venv/bin/python
benchmarks/bench_simulate.py``): Austin month, default x1.08 of SimPy (47,501 against 43,824
calls/s, wall and CPU), cleared_at=post x1.62 (every response time equal to SimPy's); the
city year (265,505 calls, 299 cars) 22.0 s wall and CPU with kept searches, 25.2 s without
(the baseline), 4.1 s with cleared_at=post; peak RSS 877-896 MiB.

Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xunfang.config import Settings
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.simulate.calls import Period, replay_calls
from xunfang.simulate.runner import prepare
from xunfang.simulate.scenario import load_scenario
from xunfang.simulate.sim import SimSettings, UnitSpec, simulate
from xunfang.simulate.tables import load_sim_table
from xunfang.simulate.units import station_cars
from xunfang.simulate.validate import erlang_check
from xunfang.simulate.world import (
    load_area,
    load_incidents,
    load_network,
    month_files,
    snap_sites,
    stations_in,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simpy_closest_unit import simpy_closest_unit

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples" / "simulate"


def default_data_dir() -> Path:
    """XUNFANG_DATA_DIR, else ../shared/data next to the repository root."""
    env = os.environ.get("XUNFANG_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, wall_s, cpu_s)`` of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def side_by_side(settings: Settings, rounds: int) -> None:
    """Case 2: SimPy against xunfang on the Austin month."""
    t0 = time.perf_counter()
    prep = prepare(load_scenario(EXAMPLES / "austin_june2015.toml"), settings)
    calls, _ = prep.calls(np.random.default_rng(1))
    units = prep.units("stations")
    sim_settings = prep.settings()
    oracle = TravelTimeOracle(prep.network.matrix)
    posts = np.asarray([u.post_node for u in units], dtype=np.int64)
    oracle.add_anchors(posts)
    table = np.ascontiguousarray(oracle.anchor_columns()[:, oracle.anchor_row(posts)].T)
    print(
        f"  {len(calls):,} calls, {len(units)} station cars at {len(prep.stations)} stations, "
        f"network {prep.network.n_nodes:,} nodes; preparation {time.perf_counter() - t0:.1f} s"
    )
    delay = sim_settings.dispatch_delay_s[units[0].kind].from_quantile(calls.dispatch_q)

    def run_simpy() -> Any:
        return simpy_closest_unit(
            table,
            np.asarray([u.speed_factor for u in units]),
            calls.t_s,
            calls.node,
            calls.priority,
            calls.call_processing_s,
            delay,
            calls.on_scene_s,
            factor_by_hour=np.asarray(sim_settings.speed_factor_by_hour),
            start_hour=sim_settings.start_hour,
        )

    post = dataclasses.replace(sim_settings, cleared_at="post")
    runs: dict[str, Callable[[], Any]] = {
        "simpy (baseline)": run_simpy,
        "xunfang, cleared_at=post (SimPy's choices)": lambda: simulate(oracle, calls, units, post),
        "xunfang, default (drive back from the scene)": lambda: simulate(
            oracle, calls, units, sim_settings
        ),
    }
    best: dict[str, tuple[float, float]] = {}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in runs.items():
            results[name], wall, cpu = timed(fn)
            w, c = best.get(name, (np.inf, np.inf))
            best[name] = (min(w, wall), min(c, cpu))
    base_wall, base_cpu = best["simpy (baseline)"]
    n = len(calls)
    for name, (wall, cpu) in best.items():
        print(
            f"  {name:46s} {n / wall:9,.0f} calls/s wall ({wall:.3f} s), "
            f"{n / cpu:9,.0f} calls/s CPU ({cpu:.3f} s); "
            f"x{base_wall / wall:.2f} of SimPy (wall), x{base_cpu / cpu:.2f} (CPU)"
        )
    simpy_resp = results["simpy (baseline)"].response_s
    post_resp = results["xunfang, cleared_at=post (SimPy's choices)"].calls["response_s"]
    scene = results["xunfang, default (drive back from the scene)"].calls
    same = np.asarray(post_resp) == simpy_resp
    print(
        f"  response times, cleared_at=post against SimPy: {int(same.sum()):,} of {n:,} "
        f"equal (largest difference {np.nanmax(np.abs(post_resp - simpy_resp)):.3g} s); "
        f"median {np.nanmedian(simpy_resp) / 60:.2f} min (SimPy), "
        f"{scene['response_s'].median() / 60:.2f} min (default: "
        f"{float((np.asarray(scene['response_s']) != simpy_resp).mean()):.1%} of calls differ)"
    )
    tracemalloc.start()
    simulate(oracle, calls, units, sim_settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak memory of one default run (tracemalloc) {peak / 2**20:.1f} MiB")


def city_year(settings: Settings, modes: list[str], trace_memory: bool) -> None:
    """Case 3: every incident of 2014-07 .. 2015-06, 299 station cars."""
    t0 = time.perf_counter()
    area = load_area(settings, "city")
    network = load_network(settings, area)
    how = "read from the cache" if network.cached else "built and cached"
    print(
        f"  network of 77 community areas {how} in {network.build_s:.1f} s "
        f"({network.n_nodes:,} nodes, {network.matrix.nnz:,} directed edges)"
    )
    period = Period(pd.Timestamp("2014-07-01"), pd.Timestamp("2015-07-01"), "2014-07..2015-06")
    months = [str(m) for m in pd.period_range("2014-07", "2015-06", freq="M")]
    folder = settings.city_dir("chicago") / "incidents_2014_2015"
    t1 = time.perf_counter()
    incidents = load_incidents(
        settings, area, network, period, 0, files=month_files(folder, months)
    )
    table = load_sim_table()
    calls, _ = replay_calls(incidents.heldout, period, table, np.random.default_rng(1))
    stations = snap_sites(stations_in(settings, area), network)
    units = station_cars(stations, 13)
    base = SimSettings(
        dispatch_delay_s=table.dispatch_delay_s,
        speed_factor_by_hour=tuple(table.speed_factor_by_hour),
        start_hour=period.start_hour,
        period_s=period.seconds,
    )
    print(
        f"  {len(calls):,} calls, {len(units)} station cars at {len(stations)} stations; "
        f"incidents read in {time.perf_counter() - t1:.1f} s, all preparation "
        f"{time.perf_counter() - t0:.1f} s"
    )
    # the same run with bounded searches not kept (bounded_budget=0: the oracle before they
    # were kept) is the baseline measured in this process; the results must be equal
    oracles = {
        "kept": TravelTimeOracle(network.matrix),
        "not kept (baseline)": TravelTimeOracle(network.matrix, bounded_budget=0),
    }
    for oracle in oracles.values():
        _, anchors_s, _ = timed(lambda o=oracle: o.add_anchors([u.post_node for u in units]))
    print(f"  travel-time rows of the {len(stations)} stations precomputed in {anchors_s:.1f} s")
    for mode in modes:
        sim_settings = dataclasses.replace(base, cleared_at=mode)
        responses = {}
        for label, oracle in oracles.items():
            if mode == "post" and label != "kept":
                continue  # units wait at their posts: no bounded search to keep
            searches, hits = oracle.bounded_searches, oracle.bounded_hits
            result, wall, cpu = timed(lambda s=sim_settings, o=oracle: simulate(o, calls, units, s))
            served = int(result.calls["served"].sum())
            responses[label] = result.calls["response_s"].to_numpy()
            print(
                f"  cleared_at={mode}, bounded searches {label}: {wall:.1f} s wall "
                f"({cpu:.1f} s CPU) = {len(calls) / wall:,.0f} calls/s; {served:,} served, "
                f"{result.n_events:,} events, {oracle.bounded_searches - searches:,} bounded "
                f"searches, {oracle.bounded_hits - hits:,} answered from kept ones; median "
                f"response {result.calls['response_s'].median() / 60:.2f} min; process peak "
                f"RSS {rss_mb():,.0f} MiB",
                flush=True,
            )
        if len(responses) == 2:
            a, b = responses.values()
            same = bool(np.array_equal(a, b, equal_nan=True))
            print(f"  cleared_at={mode}: response times identical with and without: {same}")
        if trace_memory:
            tracemalloc.start()
            simulate(oracle, calls, units, sim_settings)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"    peak memory of the run (tracemalloc) {peak / 2**20:,.0f} MiB")


def district1(settings: Settings) -> None:
    """Case 4: district 1 with booths, patrols and a response car."""
    t0 = time.perf_counter()
    prep = prepare(load_scenario(EXAMPLES / "district1_june2015.toml"), settings)
    print(f"  preparation {time.perf_counter() - t0:.1f} s")
    calls, _ = prep.calls(np.random.default_rng(1))
    units: list[UnitSpec] = prep.units("booths")
    oracle = TravelTimeOracle(prep.network.matrix)
    oracle.add_anchors(sorted(set().union(*(u.nodes() for u in units))))
    result, wall, cpu = timed(lambda: simulate(oracle, calls, units, prep.settings()))
    print(
        f"  {len(calls):,} calls, {len(units)} units: {wall:.2f} s wall ({cpu:.2f} s CPU) = "
        f"{len(calls) / wall:,.0f} calls/s; {oracle.bounded_searches:,} bounded searches"
    )
    del result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_CACHE_DIR", Path.home() / ".cache" / "xunfang")),
    )
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of case 2 (best kept).")
    parser.add_argument("--skip-city", action="store_true", help="Leave out case 3.")
    parser.add_argument(
        "--city-modes", default="scene,post", help="cleared_at values of case 3, comma list."
    )
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc in case 3.")
    parser.add_argument("--district1", action="store_true", help="Add case 4.")
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, cache_dir=args.cache_dir)
    load = os.getloadavg()[0]
    print(
        f"load average {load:.1f} on {os.cpu_count()} CPUs (a shared machine: wall times grow "
        "with the load; CPU seconds less so)\n"
    )

    print("1. M/M/3 queue, rho 0.8, zero travel time (event loop and dispatch alone)")
    r = erlang_check(servers=3, utilisation=0.8, calls=40_000, seed=1)
    print(
        f"  {r.calls:,} calls in {r.wall_s:.2f} s = {r.calls / r.wall_s:,.0f} calls/s; "
        f"mean wait {r.wait_sim_s:.1f} s against Erlang C {r.wait_exact_s:.1f} s "
        f"({100 * r.wait_rel_error:+.1f} %)"
    )

    print("\n2. Austin, June 2015: SimPy baseline and xunfang side by side (best of rounds)")
    side_by_side(settings, args.rounds)

    if not args.skip_city:
        print("\n3. The whole city, July 2014 - June 2015, 299 station cars")
        city_year(settings, [m.strip() for m in args.city_modes.split(",")], args.trace_memory)

    if args.district1:
        print(
            "\n4. District 1, June 2015, stations + booths "
            "(examples/simulate/district1_june2015.toml)"
        )
        district1(settings)


if __name__ == "__main__":
    main()
