"""Ingest speed: the 18 monthly Chicago files, and a generated 1,000,000-row file in the
same layout compared with plain ``pandas.read_csv`` of that file.

Usage: python benchmarks/bench_ingest.py [--data-dir DIR] [--rows N]
Prints wall time, rows/s, the ratio to pandas.read_csv and peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.ingest.incidents import ingest

ROOT = Path(__file__).resolve().parents[1]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, sample: Path) -> None:
    """Write ``rows`` rows by resampling a real monthly file (seeded), as gzip CSV."""
    real = pd.read_csv(sample, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(42)
    idx = rng.integers(0, len(real), rows)
    out = real.iloc[idx].reset_index(drop=True)
    out["ID"] = np.arange(20_000_000, 20_000_000 + rows).astype(str)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        out.to_csv(fh, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    files = sorted((args.data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))
    if not files:
        raise SystemExit(f"no monthly files under {args.data_dir}")

    t = time.perf_counter()
    _table, _, report = ingest(files, "chicago")
    dt = time.perf_counter() - t
    print(
        f"18 monthly files: {report.rows_read:,} rows read, {report.rows_accepted:,} accepted "
        f"in {dt:.2f} s ({report.rows_read / dt:,.0f} rows/s)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "generated.csv.gz"
        generate(big, args.rows, files[0])
        t = time.perf_counter()
        plain = pd.read_csv(big, dtype=str)
        t_pandas = time.perf_counter() - t
        del plain
        t = time.perf_counter()
        _, _, rep = ingest([big], "chicago")
        t_ours = time.perf_counter() - t
    print(
        f"generated {args.rows:,} rows: pandas.read_csv {t_pandas:.2f} s "
        f"({args.rows / t_pandas:,.0f} rows/s); xunfang ingest {t_ours:.2f} s "
        f"({args.rows / t_ours:,.0f} rows/s, {rep.rows_accepted:,} accepted); "
        f"ratio ingest/read_csv time = {t_ours / t_pandas:.2f}"
    )
    print(f"peak memory (ru_maxrss): {_peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
