"""The service's geography: the area, its road network, travel times and fixed sites.

Positions come in as WGS-84 longitude/latitude (or GCJ-02 / BD-09 with a ``frame``),
are checked against the area polygon buffered by ``area_buffer_m``, projected to the
area's UTM CRS and snapped to the nearest network node. Travel times come from the
dispatch core's :class:`~xunfang.dispatch.recommend.TravelTimeOracle`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from xunfang import strict_json
from xunfang.dispatch.crew import walking_matrix
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City, from_output_frame
from xunfang.ingest.coords import to_wgs84
from xunfang.ingest.network import RoadNetwork
from xunfang.ingest.sites import read_sites
from xunfang.units import WGS84

log = logging.getLogger("xunfang.serve")

SITE_KINDS = ("station", "booth", "post")


class FieldError(ValidationError):
    """A position that cannot be used, naming the request field to blame."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Located:
    """A point checked and snapped: WGS-84 degrees, projected metres, network node."""

    lon: float
    lat: float
    x_m: float
    y_m: float
    node: int
    snap_distance_m: float


@dataclass(frozen=True)
class SiteSpec:
    """A fixed post read from a plan: name, kind (station/booth/post), WGS-84 position."""

    name: str
    kind: str
    lon: float
    lat: float
    source: str = ""


@dataclass
class Geo:
    """Area, network, oracle and sites of one running service.

    Parameters
    ----------
    name
        Area name (``district:1``).
    network
        Road network in the area's projected CRS (metres, seconds).
    polygon
        Area polygon in ``network.crs`` metres.
    sites
        Fixed posts from a plan (may be empty).
    buffer_m
        Points up to this far outside ``polygon`` are accepted, metres.
    max_snap_m
        Points farther than this from every node are refused, metres.
    hotspots_geojson
        Optional GeoJSON text of the plan's hotspot cells.
    sectors_geojson
        Optional GeoJSON text of the plan's patrol sectors (WGS-84; ``name``, ``kind``,
        ``sector``, ``workload`` per feature).
    """

    name: str
    network: RoadNetwork
    polygon: BaseGeometry
    sites: tuple[SiteSpec, ...] = ()
    buffer_m: float = 300.0
    max_snap_m: float = 500.0
    hotspots_geojson: str | None = None
    sectors_geojson: str | None = None
    oracle: TravelTimeOracle = field(init=False)
    crs: CRS = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.crs = self.network.crs
        self.oracle = TravelTimeOracle(self.network.matrix)
        self._accept = self.polygon.buffer(self.buffer_m)
        shapely.prepare(self._accept)
        self._to_xy = Transformer.from_crs(WGS84, self.crs, always_xy=True)
        self._to_lonlat = Transformer.from_crs(self.crs, WGS84, always_xy=True)
        self.polygon_wgs84 = shapely.transform(
            self.polygon, lambda xy: np.column_stack(self._to_lonlat.transform(xy[:, 0], xy[:, 1]))
        )
        self._roads: bytes | None = None
        self._walk: TravelTimeOracle | None = None
        self._walk_matrix: sp.csr_matrix | None = None
        self._sectors: list[tuple[str, BaseGeometry]] | None = None

    @property
    def walk_matrix(self) -> sp.csr_matrix:
        """Walking times between nodes, seconds: every road piece both ways at
        ``WALK_SPEED_KPH`` (shape (n, n); built on first use)."""
        if self._walk_matrix is None:
            e = self.network.edges
            self._walk_matrix = walking_matrix(
                e["u_index"].to_numpy(),
                e["v_index"].to_numpy(),
                e["length_m"].to_numpy(),
                self.network.n_nodes,
            )
        return self._walk_matrix

    @property
    def walk_oracle(self) -> TravelTimeOracle:
        """Walking times on the same roads (units on foot: booth officers), built on first
        use."""
        if self._walk is None:
            self._walk = TravelTimeOracle(self.walk_matrix)
        return self._walk

    # ------------------------------------------------------------------ points
    def locate(self, lon: float, lat: float, frame: str = "wgs84") -> Located:
        """Check, convert and snap one position.

        Raises
        ------
        FieldError
            If the coordinates are not finite degrees, the frame is unknown, the point is
            outside the area (plus buffer) or too far from any road.
        """
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise FieldError("lon", f"lon must be a longitude in degrees (-180..180), got {lon}")
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise FieldError("lat", f"lat must be a latitude in degrees (-90..90), got {lat}")
        try:
            w_lon, w_lat = (float(v) for v in to_wgs84(lon, lat, frame))
        except ValidationError as exc:
            raise FieldError("frame", str(exc)) from exc
        with self._lock:  # pyproj transformers are not thread-safe
            x, y = self._to_xy.transform(w_lon, w_lat)
        if not (math.isfinite(x) and math.isfinite(y)) or not shapely.contains_xy(
            self._accept, x, y
        ):
            raise FieldError(
                "lon",
                f"point (lon={lon}, lat={lat}, {frame}) is outside the service area "
                f"{self.name} (buffered by {self.buffer_m:g} m)",
            )
        nodes, dist = self.network.snap(np.array([[x, y]]))
        if dist[0] > self.max_snap_m:
            raise FieldError(
                "lon",
                f"point is {dist[0]:.0f} m from the nearest road (limit {self.max_snap_m:g} m)",
            )
        return Located(w_lon, w_lat, float(x), float(y), int(nodes[0]), float(dist[0]))

    def nodes_of(self, lon: Sequence[float], lat: Sequence[float]) -> np.ndarray:
        """Network nodes of many WGS-84 positions (no area check): shape (m,), int64."""
        if len(lon) == 0:
            return np.empty(0, dtype=np.int64)
        with self._lock:
            x, y = self._to_xy.transform(np.asarray(lon, float), np.asarray(lat, float))
        nodes, _ = self.network.snap(np.column_stack([x, y]))
        return nodes

    def project(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 degrees -> metres in the area's CRS (arrays of one shape)."""
        with self._lock:
            x, y = self._to_xy.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def unproject(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres in the area's CRS -> WGS-84 degrees."""
        with self._lock:
            lon, lat = self._to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def node_lonlat(self, node: int) -> tuple[float, float]:
        """WGS-84 position of a network node."""
        x, y = self.network.node_xy[int(node)]
        with self._lock:
            lon, lat = self._to_lonlat.transform(x, y)
        return float(lon), float(lat)

    # ------------------------------------------------------------------ sectors
    def _sector_shapes(self) -> list[tuple[str, BaseGeometry]]:
        if self._sectors is None:
            fc = json.loads(self.sectors_geojson) if self.sectors_geojson else {"features": []}
            shapes = []
            for f in fc["features"]:
                g = shapely.geometry.shape(f["geometry"])
                shapely.prepare(g)
                shapes.append((str(f["properties"].get("name")), g))
            self._sectors = shapes
        return self._sectors

    @property
    def sector_names(self) -> frozenset[str]:
        """Names of the plan's sectors (their booths and stations); empty without sectors."""
        return frozenset(n for n, _ in self._sector_shapes())

    def sector_at(self, lon: float, lat: float) -> str | None:
        """Name of the sector containing a WGS-84 position (the first, in file order); None
        outside every sector or without sectors."""
        for name, g in self._sector_shapes():
            if shapely.contains_xy(g, lon, lat):
                return name
        return None

    # ------------------------------------------------------------------ map layers
    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the area, degrees."""
        w, s, e, n = self.polygon_wgs84.bounds
        return float(w), float(s), float(e), float(n)

    def area_geojson(self) -> dict[str, Any]:
        """The area polygon as a GeoJSON geometry (WGS-84)."""
        return dict(shapely.geometry.mapping(self.polygon_wgs84))

    def roads_geojson(self) -> bytes:
        """The road network as GeoJSON (one MultiLineString per road class, WGS-84,
        6 decimals ~ 0.1 m), built once and cached."""
        if self._roads is None:
            edges = self.network.edges
            coords_by_class: dict[str, list[list[list[float]]]] = {}
            geoms = edges.geometry.to_numpy()
            classes = edges["highway"].astype(str).to_numpy()
            for cls in sorted(set(classes.tolist())):
                lines = []
                for g in geoms[classes == cls]:
                    xy = shapely.get_coordinates(g)
                    with self._lock:
                        lon, lat = self._to_lonlat.transform(xy[:, 0], xy[:, 1])
                    lines.append(
                        [
                            [round(float(a), 6), round(float(b), 6)]
                            for a, b in zip(lon, lat, strict=True)
                        ]
                    )
                coords_by_class[cls] = lines
            fc = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"highway": cls},
                        "geometry": {"type": "MultiLineString", "coordinates": lines},
                    }
                    for cls, lines in coords_by_class.items()
                ],
            }
            self._roads = json.dumps(fc, separators=(",", ":")).encode()
        return self._roads


# ---------------------------------------------------------------------------- loading
def read_plan_sites(plan_dir: Path) -> tuple[SiteSpec, ...]:
    """Sites of an ``xunfang plan`` output folder (``sites.csv``: name, kind, lon, lat, ...).

    Raises
    ------
    DataFileError
        If sites.csv is missing or a row has a kind other than station/booth/post.
    """
    path = Path(plan_dir) / "sites.csv"
    if not path.is_file():
        if (Path(plan_dir) / "city_summary.json").is_file():
            folders = sorted(p.parent.name for p in Path(plan_dir).glob("*/sites.csv"))
            shown = ", ".join(folders[:5]) + (", ..." if len(folders) > 5 else "")
            raise DataFileError(
                path,
                "no sites.csv: this is a city plan; point XUNFANG_PLAN_DIR (--plan-dir) at one "
                f"district's folder inside it ({shown})",
            )
        raise DataFileError(
            path, "no sites.csv: point XUNFANG_PLAN_DIR at an `xunfang plan` output"
        )
    frame = "wgs84"
    if (Path(plan_dir) / "plan_summary.json").is_file():
        from xunfang.plan.booth_plan import read_plan_record

        frame = read_plan_record(plan_dir).output_frame
    gdf = read_sites(path, frame=frame)
    kinds = gdf["kind"].astype(str) if "kind" in gdf.columns else None
    out = []
    for i, (name, geom) in enumerate(zip(gdf["name"], gdf.geometry, strict=True)):
        kind = str(kinds.iloc[i]).strip().lower() if kinds is not None else "post"
        if kind not in SITE_KINDS:
            raise DataFileError(
                path, f"kind {kind!r} is not one of {SITE_KINDS}", row=i + 1, field="kind"
            )
        out.append(SiteSpec(str(name), kind, float(geom.x), float(geom.y), str(path)))
    return tuple(out)


def build_geo(
    area_name: str | None,
    data_dir: Path,
    *,
    plan_dir: Path | None = None,
    buffer_m: float = 300.0,
    max_snap_m: float = 500.0,
    city: City | None = None,
    cache_dir: Path | None = None,
) -> Geo:
    """Build the area's road network as the booth plan does and read the plan's sites.

    Without a plan folder the city's police stations near the area are the sites. The city
    is ``city``, else the one the plan folder records, else the default city of
    ``data_dir``. With ``cache_dir`` (``ServeSettings.cache_dir``) the network is read from
    the disk cache that plan, deploy and simulate share, or built and written there
    (:func:`xunfang.ingest.network_cache.cached_network`: a stale entry is rebuilt, a
    corrupt one rebuilt with a :class:`~xunfang.errors.CacheWarning`).

    Raises
    ------
    ValidationError, DataFileError, AreaNotFoundError, NetworkError
        From loading the area, the road graphs or the sites; ``ValidationError`` also when
        ``area_name`` names another area than the one the plan folder was made for.
    """
    from xunfang.ingest.city import default_city

    record = None
    if plan_dir is not None and not (Path(plan_dir) / "sites.csv").is_file():
        read_plan_sites(plan_dir)  # raises, naming a city plan's district folders
    if plan_dir is not None and (Path(plan_dir) / "plan_summary.json").is_file():
        from xunfang.plan.booth_plan import read_plan_record

        record = read_plan_record(plan_dir)
        city = city or record.city
    city = city or default_city(data_dir)
    area = city.study_area(area_name)
    if record is not None and area_name is not None:
        planned = city.study_area(record.area).name
        if planned != area.name:
            raise ValidationError(
                f"the plan in {plan_dir} is for {planned}, not {area.name}: its booths and "
                f"sectors lie in another area; serve {planned} (--area {record.area}) or give "
                f"the plan folder of {area.name}"
            )
    network, how = city.cached_road_network(area, cache_dir=cache_dir)
    hotspots = sectors = None
    if plan_dir is not None:
        sites = read_plan_sites(plan_dir)
        hot = Path(plan_dir) / "hotspots.geojson"
        hotspots = _hotspots_wgs84(hot, plan_dir) if hot.is_file() else None
        sec = Path(plan_dir) / "sectors.geojson"
        sectors = _hotspots_wgs84(sec, plan_dir) if sec.is_file() else None
    else:
        sites = _stations_near(city, area)
    log.info("area %s: %d road nodes (%s), %d sites", area.name, network.n_nodes, how, len(sites))
    return Geo(
        area.name,
        network,
        area.polygon,
        sites,
        buffer_m=buffer_m,
        max_snap_m=max_snap_m,
        hotspots_geojson=hotspots,
        sectors_geojson=sectors,
    )


def _hotspots_wgs84(path: Path, plan_dir: Path) -> str:
    """A GeoJSON layer of the plan (``hotspots.geojson``, ``sectors.geojson``) as WGS-84
    text (a plan written with ``--output-frame gcj02``/``bd09`` is converted back, so that
    the console's map draws it in place)."""
    strict_json.check_file(path)  # a repeated key: refused, naming the file, line and key
    text = path.read_text("utf-8")
    if not (Path(plan_dir) / "plan_summary.json").is_file():
        return text
    from xunfang.plan.booth_plan import read_plan_record

    frame = read_plan_record(plan_dir).output_frame
    if frame == "wgs84":
        return text
    import geopandas as gpd

    return str(from_output_frame(gpd.read_file(path), frame).to_json(drop_id=True))


def _stations_near(city: City, area: StudyArea) -> tuple[SiteSpec, ...]:
    path = city.stations
    if path is None or not path.is_file():
        return ()
    chosen = city.stations_for(area)
    return tuple(
        SiteSpec(str(name), "station", float(g.x), float(g.y), str(path))
        for name, g in zip(chosen["name"], chosen.geometry, strict=True)
    )
