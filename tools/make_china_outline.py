import json, sys
import geopandas as gpd, shapely
from shapely.geometry import Polygon, mapping

src = sys.argv[1]
g = gpd.read_file(src)
china = g.loc[g.name == "China", "geometry"].iloc[0]
others = shapely.union_all(g.loc[g.name != "China", "geometry"].values)
HK = Polygon(
    [
        (113.83, 22.13),
        (113.83, 22.30),
        (113.87, 22.36),
        (113.89, 22.42),
        (113.93, 22.455),
        (113.97, 22.48),
        (114.03, 22.505),
        (114.07, 22.513),
        (114.11, 22.53),
        (114.16, 22.555),
        (114.225, 22.545),
        (114.26, 22.56),
        (114.40, 22.51),
        (114.50, 22.42),
        (114.50, 22.13),
    ]
)
MACAU = Polygon(
    [
        (113.527, 22.185),
        (113.535, 22.217),
        (113.555, 22.218),
        (113.565, 22.20),
        (113.60, 22.165),
        (113.60, 22.105),
        (113.553, 22.105),
        (113.553, 22.16),
        (113.535, 22.175),
    ]
)
KINMEN = Polygon(
    [
        (118.22, 24.38),
        (118.22, 24.47),
        (118.28, 24.49),
        (118.35, 24.53),
        (118.42, 24.53),
        (118.50, 24.50),
        (118.50, 24.38),
    ]
)
MATSU = [
    shapely.box(119.90, 26.13, 120.03, 26.26),
    shapely.box(119.92, 25.94, 119.99, 25.99),
    shapely.box(120.46, 26.34, 120.52, 26.39),
]
land = china.buffer(0.8, quad_segs=4).simplify(0.02).difference(others)
out = shapely.union_all([land]).difference(shapely.union_all([HK, MACAU, KINMEN, *MATSU]))
out = shapely.set_precision(out, 1e-4)
print(out.geom_type, shapely.get_num_coordinates(out), out.is_valid)
fc = {
    "type": "FeatureCollection",
    "name": "china_gcj02_outline",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "mainland China (GCJ-02 applies)"},
            "geometry": mapping(out),
        }
    ],
}
json.dump(fc, open(sys.argv[2], "w"), separators=(",", ":"))
