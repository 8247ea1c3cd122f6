"""Benchmark: the road-network part of ``xunfang serve``'s start, cold vs warm cache.

Builds the service geography (:func:`xunfang.serve.api.geo.build_geo`, what
``xunfang serve`` and each ``--workers`` worker run at start) twice in one process with a
fresh, empty cache folder: cold (the network is built and written to
``CACHE/networks``), then warm (read back: what a restart and every worker do). Prints
wall and CPU time of each, the ratio and the load average (the machine is shared).

    .venv/bin/python benchmarks/bench_serve_cache.py [--area district:1] [--data-dir DIR]

Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from xunfang.serve.api.geo import build_geo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area", default="district:1")
    ap.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("XUNFANG_DATA_DIR", "data"))
    )
    args = ap.parse_args()
    build_geo(args.area, args.data_dir)  # warm the imports and file system caches
    with tempfile.TemporaryDirectory() as cache:
        rows = []
        for label in ("cold (built)", "warm (loaded)"):
            wall, cpu = time.perf_counter(), time.process_time()
            geo = build_geo(args.area, args.data_dir, cache_dir=Path(cache))
            rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
            print(
                f"{label:14s} {rows[-1][1]:6.2f} s wall {rows[-1][2]:6.2f} s CPU "
                f"({geo.network.n_nodes:,} nodes)"
            )
    print(
        f"warm / cold: {rows[1][1] / rows[0][1]:.3f} wall, {rows[1][2] / rows[0][2]:.3f} CPU; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
