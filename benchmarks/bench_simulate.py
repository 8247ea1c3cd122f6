"""Benchmark: simulated calls per second, one district month, the whole city month.

Prints, for each case, the calls, units, wall-clock seconds of the simulation (and of the
preparation: network, incidents, plan, precomputed travel-time rows), calls per second and
peak memory (tracemalloc peak of a second, traced run; and the process's peak RSS).

    .venv/bin/python benchmarks/bench_simulate.py [--data-dir DIR] [--cache-dir DIR]
        [--skip-city] [--rebuild-city]

Cases:

1. M/M/3 queue (one node, exponential times): the event loop alone, 40,000 calls.
2. District 1, June 2015 (examples/simulate/district1_june2015.toml): booth plan of 27
   booths made on the months before June 2015; the "stations + booths" scenario has 40
   units (8 station cars, 4 patrols, 1 response car, 27 booth officers).
3. The whole city, June 2015 (examples/simulate/city_june2015.toml): all 77 community
   areas stitched (built once, then read from the cache), 299 station cars.

Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from xunfang.config import Settings
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.simulate.runner import Prepared, prepare
from xunfang.simulate.scenario import load_scenario
from xunfang.simulate.sim import CallSet, UnitSpec, simulate
from xunfang.simulate.validate import erlang_check
from xunfang.simulate.world import cache_file, graph_paths

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples" / "simulate"


def default_data_dir() -> Path:
    """XUNFANG_DATA_DIR, else ../shared/data next to the repository root."""
    env = os.environ.get("XUNFANG_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_sim(prep: Prepared, variant: str, calls: CallSet, units: list[UnitSpec]) -> None:
    """Simulate once for time, then once under tracemalloc for peak memory; print."""
    oracle = TravelTimeOracle(prep.network.matrix)
    nodes = sorted(set().union(*(u.nodes() for u in units)))
    t0 = time.perf_counter()
    oracle.add_anchors(np.asarray(nodes, dtype=np.int64))
    anchors_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(oracle, calls, units, prep.settings())
    sim_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()
    simulate(TravelTimeOracle(prep.network.matrix), calls, units, prep.settings())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    served = int(result.calls["served"].sum())
    print(
        f"  {variant}: {len(calls):,} calls ({served:,} served), {len(units)} units, "
        f"{result.n_events:,} events"
    )
    print(
        f"  travel-time rows of {len(nodes)} posts/waypoints precomputed in {anchors_s:.2f} s; "
        f"bounded searches {oracle.bounded_searches:,}, full searches {oracle.searches}"
    )
    print(
        f"  simulation {sim_s:.2f} s wall ({cpu_s:.2f} s CPU) = {len(calls) / sim_s:,.0f} "
        f"calls/s; with the precomputation {anchors_s + sim_s:.2f} s"
    )
    print(
        f"  peak memory of the simulation (tracemalloc) {peak / 2**20:.1f} MiB; "
        f"process peak RSS {rss_mb():.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_CACHE_DIR", Path.home() / ".cache" / "xunfang")),
    )
    parser.add_argument("--skip-city", action="store_true", help="Only cases 1 and 2.")
    parser.add_argument(
        "--rebuild-city", action="store_true", help="Delete the cached city network first."
    )
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, cache_dir=args.cache_dir)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall times grow with the load)\n")

    print("1. M/M/3 queue, rho 0.8, zero travel time (event loop and dispatch core alone)")
    r = erlang_check(servers=3, utilisation=0.8, calls=40_000, seed=1)
    print(
        f"  {r.calls:,} calls in {r.wall_s:.2f} s = {r.calls / r.wall_s:,.0f} calls/s; "
        f"mean wait {r.wait_sim_s:.1f} s against Erlang C {r.wait_exact_s:.1f} s "
        f"({100 * r.wait_rel_error:+.1f} %)"
    )

    print("\n2. District 1, June 2015, 40 units (examples/simulate/district1_june2015.toml)")
    t0 = time.perf_counter()
    prep = prepare(load_scenario(EXAMPLES / "district1_june2015.toml"), settings)
    print(
        f"  preparation {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in prep.timings_s.items())
        + f"; network {prep.network.n_nodes:,} nodes"
    )
    calls, _ = prep.calls(np.random.default_rng(1))
    timed_sim(prep, "stations + booths", calls, prep.units("booths"))

    if args.skip_city:
        return
    print("\n3. The whole city, June 2015, 299 station cars (examples/simulate/city_june2015.toml)")
    scenario = load_scenario(EXAMPLES / "city_june2015.toml")
    if args.rebuild_city:
        from xunfang.simulate.world import load_area

        area = load_area(settings, "city")
        cache_file(settings, area, graph_paths(settings, area)).unlink(missing_ok=True)
    t0 = time.perf_counter()
    prep = prepare(scenario, settings)
    how = "read from the cache" if prep.network.cached else "built and cached"
    print(
        f"  preparation {time.perf_counter() - t0:.1f} s: network of 77 community areas "
        f"{how} in {prep.network.build_s:.1f} s ({prep.network.n_nodes:,} nodes, "
        f"{prep.network.matrix.nnz:,} directed edges); incidents "
        f"{prep.timings_s['incidents']:.1f} s"
    )
    calls, _ = prep.calls(np.random.default_rng(1))
    timed_sim(prep, "stations only", calls, prep.units("stations"))


if __name__ == "__main__":
    main()
