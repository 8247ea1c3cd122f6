"""Rebuild src/xunfang/data/china_gcj02_outline.geojson, the outline where GCJ-02 applies.

Source: Natural Earth 1:110m Admin 0 countries (public domain, naturalearthdata.com), as
bundled with pyogrio's test fixtures (``pyogrio/tests/fixtures/naturalearth_lowres``).
China is widened by 0.8 degrees into the sea (coastal cities and islands stay inside), every
other country of the layer is cut out, and so are hand-drawn outlines (about 0.5 km) of
Hong Kong, Macau, Kinmen and Matsu: their map data is not offset (see ingest/coords.py).

Usage: python tools/make_china_outline.py NATURALEARTH_LOWRES.shp OUT.geojson
"""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import shapely
from shapely.geometry import Polygon, mapping

HONG_KONG = Polygon(
    [
        (113.83, 22.13), (113.83, 22.30), (113.87, 22.36), (113.89, 22.42), (113.93, 22.455),
        (113.97, 22.48), (114.03, 22.505), (114.07, 22.513), (114.11, 22.53), (114.16, 22.555),
        (114.225, 22.545), (114.26, 22.56), (114.40, 22.51), (114.50, 22.42), (114.50, 22.13),
    ]
)  # fmt: skip
MACAU = Polygon(
    [
        (113.527, 22.185), (113.535, 22.217), (113.555, 22.218), (113.565, 22.20),
        (113.60, 22.165), (113.60, 22.105), (113.553, 22.105), (113.553, 22.16),
        (113.535, 22.175),
    ]
)  # fmt: skip
KINMEN = Polygon(
    [
        (118.22, 24.38), (118.22, 24.47), (118.28, 24.49), (118.35, 24.53), (118.42, 24.53),
        (118.50, 24.50), (118.50, 24.38),
    ]
)  # fmt: skip
MATSU = [
    shapely.box(119.90, 26.13, 120.03, 26.26),
    shapely.box(119.92, 25.94, 119.99, 25.99),
    shapely.box(120.46, 26.34, 120.52, 26.39),
]


def main(src: str, dst: str) -> None:
    countries = gpd.read_file(src)
    china = countries.loc[countries.name == "China", "geometry"].iloc[0]
    others = shapely.union_all(countries.loc[countries.name != "China", "geometry"].values)
    land = china.buffer(0.8, quad_segs=4).simplify(0.02).difference(others)
    out = land.difference(shapely.union_all([HONG_KONG, MACAU, KINMEN, *MATSU]))
    out = shapely.set_precision(out, 1e-4)
    feature = {
        "type": "Feature",
        "properties": {
            "name": "mainland China (GCJ-02 applies)",
            "source": "Natural Earth 1:110m Admin 0 countries, public domain",
        },
        "geometry": mapping(out),
    }
    doc = {"type": "FeatureCollection", "name": "china_gcj02_outline", "features": [feature]}
    with open(dst, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(out.geom_type, shapely.get_num_coordinates(out), "vertices, valid:", out.is_valid)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
