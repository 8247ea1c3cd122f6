"""Write the SYNTHETIC example files of examples/shanghai/ (seeded, so the same every run).

    python examples/shanghai/make_synthetic.py \
        ../shared/data/shanghai-osm/central_shanghai_drive.osm

Nothing here is real police data. The incidents are made up: 400 rows in the layout of a
Chinese 110 接处警 export (Chinese headers, GB18030 bytes, GCJ-02 coordinates), placed at
random street nodes of the OpenStreetMap extract (a few metres of jitter), at random times
in March 2024 with more calls in the evening, and of made-up categories. The two boundary
polygons and the three stations are drawn by hand inside the extract's box, in GCJ-02 as a
Chinese map platform would give them. Use them to try the commands, not to learn anything
about Shanghai.
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from xunfang.ingest.coords import wgs84_to_gcj02

HERE = Path(__file__).parent
SEED = 20240301
N_INCIDENTS = 400

# WGS-84 polygons (lon, lat) inside the extract's box (121.4611-121.4863, 31.2196-31.2412),
# split along 121.4745 into a west and an east part.
WEST = [(121.4640, 31.2225), (121.4745, 31.2222), (121.4745, 31.2390), (121.4648, 31.2385)]
EAST = [(121.4745, 31.2222), (121.4840, 31.2228), (121.4835, 31.2392), (121.4745, 31.2390)]
# (name, WGS-84 lon, lat): three made-up stations near streets of the extract
STATIONS = [
    ("示例派出所甲", 121.4700, 31.2300),
    ("示例派出所乙", 121.4790, 31.2265),
    ("示例派出所丙", 121.4785, 31.2360),
]
# category (报警类别), subtype (报警细类), relative frequency
CATEGORIES = [
    ("刑事", "盗窃电动车", 0.14),
    ("刑事", "扒窃", 0.12),
    ("刑事", "诈骗", 0.08),
    ("治安", "打架斗殴", 0.10),
    ("治安", "噪音扰民", 0.08),
    ("交通", "交通事故", 0.18),
    ("交通", "违停", 0.08),
    ("求助", "走失求助", 0.07),
    ("纠纷", "邻里纠纷", 0.10),
    ("其他", "其他", 0.05),
]
ADDRESSES = ["延安中路", "成都南路", "西藏中路", "南京西路", "威海路", "黄陂北路", "淮海中路"]


def gcj(points: list[tuple[float, float]]) -> list[list[float]]:
    lon, lat = wgs84_to_gcj02(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]


def street_nodes(osm: Path) -> np.ndarray:
    """(n, 2) lon/lat of the nodes of the extract's ways, WGS-84."""
    root = ET.parse(osm).getroot()
    pos = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    used = {nd.get("ref") for w in root.iter("way") for nd in w.iter("nd")}
    return np.array([pos[i] for i in sorted(used) if i in pos])


def main(osm: Path) -> None:
    rng = np.random.default_rng(SEED)
    polygons = [("西片", WEST), ("东片", EAST)]
    boundary = {
        "type": "FeatureCollection",
        "name": "synthetic example boundary (GCJ-02)",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name, "note": "SYNTHETIC example, drawn by hand"},
                "geometry": {"type": "Polygon", "coordinates": [gcj([*ring, ring[0]])]},
            }
            for name, ring in polygons
        ],
    }
    (HERE / "boundary_gcj02.geojson").write_text(
        json.dumps(boundary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    with open(HERE / "stations_gcj02.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["名称", "经度", "纬度", "备注"])
        for (name, _, _), (lon, lat) in zip(
            STATIONS, gcj([(s[1], s[2]) for s in STATIONS]), strict=True
        ):
            w.writerow([name, f"{lon:.7f}", f"{lat:.7f}", "合成示例 SYNTHETIC"])

    nodes = street_nodes(osm)
    lo, hi = np.array([121.4640, 31.2222]), np.array([121.4840, 31.2392])
    nodes = nodes[((nodes >= lo) & (nodes <= hi)).all(axis=1)]
    pick = nodes[rng.integers(0, len(nodes), N_INCIDENTS)]
    jitter_deg = rng.normal(0.0, 0.00005, size=pick.shape)  # about 5 m
    wlon, wlat = (pick + jitter_deg).T
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    p = np.array([c[2] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), N_INCIDENTS, p=p / p.sum())
    hour_w = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 5, 6, 7, 8, 8, 7, 5, 3.0])
    day = rng.integers(1, 32, N_INCIDENTS)
    hour = rng.choice(24, N_INCIDENTS, p=hour_w / hour_w.sum())
    minute = rng.integers(0, 60, N_INCIDENTS)
    second = rng.integers(0, 60, N_INCIDENTS)
    order = np.lexsort((second, minute, hour, day))
    rows = []
    for k, i in enumerate(order, start=1):
        typ, sub, _ = CATEGORIES[cat[i]]
        # two time layouts in one column, as real exports mix them
        when = (
            f"2024-03-{day[i]:02d} {hour[i]:02d}:{minute[i]:02d}:{second[i]:02d}"
            if k % 5
            else f"2024/3/{day[i]} {hour[i]}:{minute[i]:02d}"
        )
        rows.append(
            [
                f"SYN2024{k:05d}",
                when,
                typ,
                sub,
                f"{glon[i]:.6f}",
                f"{glat[i]:.6f}",
                f"{ADDRESSES[k % len(ADDRESSES)]}附近（合成）",
            ]
        )
    with open(HERE / "incidents_110_synthetic.csv", "w", newline="", encoding="gb18030") as fh:
        w = csv.writer(fh)
        w.writerow(["接警单编号", "报警时间", "报警类别", "报警细类", "经度", "纬度", "事发地址"])
        w.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
