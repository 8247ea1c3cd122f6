"""Ingest speed on a Chinese 110 export: a generated 1,000,000-row GB18030 CSV with Chinese
headers and categories (GCJ-02 positions, two time layouts, caller name and phone), read
with ``xunfang ingest --profile cn110 --frame gcj02`` against plain ``pandas.read_csv`` of
the same file (``dtype=str``, ``encoding="gb18030"``) as the baseline, in one process.

The file is SYNTHETIC, made at run time in a temporary folder (seeded).

Usage: python benchmarks/bench_ingest_cn110.py [--rows N]
Prints wall time, rows/s, the ratio to pandas.read_csv and peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.ingest.coords import wgs84_to_gcj02
from xunfang.ingest.incidents import ingest

CATEGORIES = [
    ("刑事", "盗窃", "盗窃电动车"),
    ("刑事", "诈骗", "电信诈骗"),
    ("治安", "治安案件", "打架斗殴"),
    ("治安", "治安案件", "噪音扰民"),
    ("交通", "交通事故", "机动车事故"),
    ("求助", "群众求助", "老人走失"),
    ("纠纷", "民事纠纷", "邻里纠纷"),
    ("200000", "", ""),
    ("410000", "", ""),
    ("900000", "", ""),
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
UNITS = ["南京东路派出所", "外滩派出所", "人民广场派出所", "豫园派出所", "打浦桥派出所"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, seed: int = 42) -> None:
    """Write a synthetic 110 export of ``rows`` rows, GB18030, CRLF."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00")
    seconds = rng.integers(0, 365 * 86400, rows)
    t = pd.to_datetime(start + seconds.astype("timedelta64[s]"))
    iso = t.strftime("%Y-%m-%d %H:%M:%S")
    slash = t.strftime("%Y/%m/%d %H:%M")  # a second layout, minute precision (10 % of rows)
    times = np.where(rng.random(rows) < 0.1, slash, iso)
    cat = rng.integers(0, len(CATEGORIES), rows)
    lon = 121.46 + rng.random(rows) * 0.05
    lat = 31.21 + rng.random(rows) * 0.04
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    frame = pd.DataFrame(
        {
            "接警单编号": np.char.add("JJD", np.arange(rows).astype(str)),
            "报警时间": times,
            "报警类别": [CATEGORIES[c][0] for c in cat],
            "报警类型": [CATEGORIES[c][1] for c in cat],
            "报警细类": [CATEGORIES[c][2] for c in cat],
            "经度": np.round(g_lon, 6),
            "纬度": np.round(g_lat, 6),
            "事发地址": np.char.add("黄浦区南京东路", (rng.integers(1, 999, rows)).astype(str)),
            "报警人": np.char.add(np.array(SURNAMES)[rng.integers(0, len(SURNAMES), rows)], "某"),
            "联系电话": (13_000_000_000 + rng.integers(0, 999_999_999, rows)).astype(str),
            "报警内容": "报警人称有人需要帮助",
            "管辖单位": np.array(UNITS)[rng.integers(0, len(UNITS), rows)],
        }
    )
    frame.to_csv(path, index=False, encoding="gb18030", lineterminator="\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "110_export.csv"
        t = time.perf_counter()
        generate(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        print(
            f"generated {args.rows:,} rows ({size_mib:,.0f} MiB, GB18030) in "
            f"{time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        plain = pd.read_csv(path, dtype=str, encoding="gb18030")
        t_pandas = time.perf_counter() - t
        assert len(plain) == args.rows
        del plain
        t = time.perf_counter()
        _, _, report = ingest([path], "cn110", frame="gcj02")
        t_ours = time.perf_counter() - t
    print(
        f"baseline pandas.read_csv(dtype=str, encoding='gb18030'): {t_pandas:.2f} s "
        f"({args.rows / t_pandas:,.0f} rows/s)"
    )
    print(
        f"xunfang ingest --profile cn110 --frame gcj02: {t_ours:.2f} s "
        f"({args.rows / t_ours:,.0f} rows/s; {report.rows_accepted:,} accepted, encoding "
        f"{report.files[0]['encoding']} detected, precision {report.time_precision}); "
        f"ratio ingest/read_csv time = {t_ours / t_pandas:.2f}"
    )
    print(f"peak memory (ru_maxrss): {_peak_mib():,.0f} MiB (machine shared, timings indicative)")


if __name__ == "__main__":
    main()
