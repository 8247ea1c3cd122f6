"""A road network from one file a user already has, in any city.

The one entry point every command uses for ``--roads FILE``: it chooses the reader by the
file's form and returns the same :class:`~xunfang.ingest.network.RoadNetwork` the Chicago
community-area graphs give, so that the plan, the deployment, the simulation and the service
route on it alike.

Forms read (by suffix, case-insensitive):

* OpenStreetMap XML: ``.osm``, ``.osm.xml``, ``.osm.gz``, ``.osm.bz2`` (the form regional
  extract services and OSMnx's ``save_graph_xml`` write); OpenStreetMap PBF: ``.osm.pbf``
  / ``.pbf``. Read with pyosmium (:func:`~xunfang.ingest.osm.read_osm_ways`); one-way,
  speed and access rules of :mod:`xunfang.ingest.osm`; built, simplified and reduced to the
  largest strongly connected component by :func:`~xunfang.ingest.road_graph.network_from_ways`.
* osmnx GraphML: ``.graphml`` and ``.graphml.gz`` (:func:`~xunfang.ingest.network.build_network`:
  a walk network is two-way; a drive network's one-way edges are kept as given).
* Road-line files: GeoPackage ``.gpkg``, Shapefile (``.shp``, a ``.zip`` of one, or a folder
  holding one), GeoJSON ``.geojson``/``.json``; any CRS the file declares. Fields looked
  for (case-insensitive, first found wins; all optional):

  - road class: ``highway``, ``fclass`` (Geofabrik shapefiles), ``road_class``: OSM
    ``highway`` values; lines of a class that is not drivable are left out; without the
    field every line is ``unclassified``;
  - direction: ``oneway``, ``one_way``: OSM values (``yes``/``true``/``1``, ``-1``,
    ``no``/``false``/``0``), Geofabrik's ``F`` (along the line's digitised direction),
    ``T`` (against it), ``B`` (both), and ``FT``/``TF``; without the field every line is
    two-way and the report says so;
  - speed: ``maxspeed`` (OSM text or km/h; 0 means unknown), ``speed_kph``,
    ``speed_kmh``, ``speed`` (km/h); else the class speed;
  - ``name``, ``access``, ``service`` as in OSM.

  Lines meet where they share a vertex exactly (to 1e-7 degrees, about 1 cm).

Road data from OpenStreetMap is (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from xunfang import strict_json
from xunfang.errors import DataFileError
from xunfang.ingest.coords import to_wgs84
from xunfang.ingest.network import RoadNetwork, build_network
from xunfang.ingest.osm import (
    DRIVABLE_HIGHWAYS,
    OSM_SUFFIXES,
    OsmWays,
    class_speeds,
    read_osm_ways,
)
from xunfang.ingest.road_graph import network_from_ways
from xunfang.units import WGS84

__all__ = [
    "GRAPHML_SUFFIXES",
    "LINE_FIELDS",
    "LINE_SUFFIXES",
    "ROAD_FILE_FORMATS",
    "read_road_lines",
    "read_road_network",
]

GRAPHML_SUFFIXES = (".graphml.gz", ".graphml")
LINE_SUFFIXES = (".gpkg", ".shp", ".zip", ".geojson", ".json")
ROAD_FILE_FORMATS = OSM_SUFFIXES + GRAPHML_SUFFIXES + LINE_SUFFIXES
"""Suffixes :func:`read_road_network` reads (a folder holding a Shapefile is read too)."""

LINE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "highway": ("highway", "fclass", "road_class"),
    "oneway": ("oneway", "one_way"),
    "maxspeed": ("maxspeed",),
    "speed_kph": ("speed_kph", "speed_kmh", "speed"),
    "name": ("name",),
    "access": ("access",),
    "service": ("service",),
}
"""Road-line file fields looked for, by meaning (case-insensitive; the first found wins)."""

_LINE_ONEWAY = {"f": "yes", "ft": "yes", "t": "-1", "tf": "-1", "b": "no", "n": "no"}

DEFAULT_CLIP_MARGIN_M = 1500.0
"""Streets kept outside the study area's boundary, metres, so that routes along its edge
stay possible and the area's own one-way streets keep their way out and back in: at 400 m a
1 km box in central Shanghai lost 27 % of its streets with the smaller strongly connected
components (one-way streets cut at the clip edge); the report gives the share kept."""


def _forms() -> str:
    return (
        "OpenStreetMap XML (.osm, .osm.xml, .osm.gz, .osm.bz2) or PBF (.osm.pbf), osmnx "
        "GraphML (.graphml, .graphml.gz), or road lines (GeoPackage .gpkg, Shapefile .shp / "
        ".zip / folder, GeoJSON .geojson/.json)"
    )


def read_road_network(
    path: str | Path,
    crs: CRS | str,
    *,
    clip_polygon: BaseGeometry | None = None,
    clip_margin_m: float = DEFAULT_CLIP_MARGIN_M,
    speeds_kph: Mapping[str, float] | None = None,
    country: str | None = None,
    frame: str = "wgs84",
    simplify: bool = True,
) -> RoadNetwork:
    """Read a drivable road network from one file.

    Parameters
    ----------
    path
        The road file (see the module text and :data:`ROAD_FILE_FORMATS`), or a folder
        holding one Shapefile.
    crs
        Projected CRS in metres of the result.
    clip_polygon
        Optional study-area (Multi)Polygon in ``crs`` metres; the network keeps the
        streets within ``clip_margin_m`` of it.
    clip_margin_m
        Margin around ``clip_polygon``, metres.
    speeds_kph
        Overrides of the class speeds, km/h, by OSM ``highway`` class.
    country
        ISO 3166-1 alpha-2 code (e.g. ``"CN"``) choosing the class speed table where
        ``maxspeed`` is missing (:data:`~xunfang.ingest.osm.CLASS_SPEEDS_KPH`); ``None``
        for the default table.
    frame
        Frame of a road-line file in lon/lat degrees: ``"wgs84"``, ``"gcj02"`` or
        ``"bd09"`` (converted with :func:`xunfang.ingest.coords.to_wgs84`). OpenStreetMap
        and GraphML files are WGS-84 by definition and ignore it.
    simplify
        Join segments through nodes that only continue one road (OSM and road-line files;
        travel times stay the sums of the segments).

    Returns
    -------
    RoadNetwork
        The largest strongly connected component, in ``crs``; ``matrix`` is directed where
        the file states one-way streets (``report.one_way_known``).

    Raises
    ------
    DataFileError
        If the file is missing, unreadable or of a form not read here (the message lists
        the forms that are).
    CRSError
        If ``crs`` is not projected in metres.
    ValidationError
        If ``country`` has no speed table, a speed override is not positive, or ``frame``
        is unknown.
    NetworkError
        If no drivable edge remains.
    """
    p = Path(path)
    name = p.name.lower()
    is_folder = p.is_dir()
    if not is_folder and not name.endswith(ROAD_FILE_FORMATS):
        raise DataFileError(p, f"not a road file this version reads; give {_forms()}")
    if not p.exists():
        raise DataFileError(p, "file not found")
    margin = float(clip_margin_m)
    if not math.isfinite(margin) or margin < 0:
        raise DataFileError(p, f"clip_margin_m must be >= 0 metres; got {clip_margin_m!r}")
    clip = None if clip_polygon is None else clip_polygon.buffer(margin)
    speeds = None if speeds_kph is None else dict(speeds_kph)
    if name.endswith(GRAPHML_SUFFIXES):
        return build_network(
            [p],
            crs,
            clip_polygon=clip,
            speeds_kph=class_speeds(country, speeds) if country else speeds,
            exclude_closed=True,
        )
    if name.endswith(OSM_SUFFIXES):
        ways = read_osm_ways(p)
        return network_from_ways(
            ways,
            crs,
            source=p,
            clip_polygon=clip,
            speeds_kph=speeds,
            country=country,
            simplify=simplify,
            measure_polygon=clip_polygon,
        )
    ways, has_oneway = read_road_lines(p, frame=frame)
    return network_from_ways(
        ways,
        crs,
        source=p,
        clip_polygon=clip,
        speeds_kph=speeds,
        country=country,
        simplify=simplify,
        measure_polygon=clip_polygon,
        one_way_known=has_oneway,
    )


def _find(columns: list[str], meaning: str) -> str | None:
    lower = {c.lower(): c for c in columns}
    for candidate in LINE_FIELDS[meaning]:
        if candidate in lower:
            return lower[candidate]
    return None


def read_road_lines(path: str | Path, *, frame: str = "wgs84") -> tuple[OsmWays, bool]:
    """Read a road-line file (GeoPackage, Shapefile, GeoJSON) as ways with OSM-style tags.

    Parameters
    ----------
    path
        The file, a ``.zip`` holding a Shapefile, or a folder holding one.
    frame
        Frame of lon/lat coordinates (a file in a geographic CRS): ``"wgs84"``,
        ``"gcj02"`` or ``"bd09"``.

    Returns
    -------
    ways : OsmWays
        One way per line (per part of a MultiLineString); node ids number the distinct
        vertices; tags from the fields of :data:`LINE_FIELDS`.
    has_oneway : bool
        Whether the file has a direction field.

    Raises
    ------
    DataFileError
        If the file cannot be read, has no CRS, or holds no line geometry (naming the
        file and, for a bad value, the row and field).
    """
    p = Path(path)
    strict_json.check_file(p)
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own DataSourceError and OSError kinds
        raise DataFileError(p, f"cannot read as a road-line file ({exc}); give {_forms()}") from exc
    if gdf.crs is None:
        raise DataFileError(p, "the file declares no CRS; set one (e.g. with ogr2ogr -a_srs)")
    geom = gdf.geometry
    is_line = geom.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
    if not is_line.any():
        raise DataFileError(
            p, f"no LineString features (found {sorted(set(geom.geom_type.dropna()))})"
        )
    cols = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    found = {m: _find(cols, m) for m in LINE_FIELDS}
    out = OsmWays()
    out.ways_read = len(gdf)
    n_not_line = int((~is_line).sum())
    if n_not_line:
        out.skipped["not a line"] += n_not_line
    geographic = bool(gdf.crs.is_geographic)
    lines = gdf[is_line].reset_index(drop=True).to_crs(WGS84)
    values = {meaning: (lines[col].tolist() if col else None) for meaning, col in found.items()}
    parts = lines.explode(index_parts=False)
    row_of = np.asarray(parts.index, dtype=np.int64)
    coords, part_of = shapely.get_coordinates(parts.geometry.to_numpy(), return_index=True)
    if frame.lower().replace("-", "").replace("_", "") != "wgs84":
        if not geographic:
            raise DataFileError(
                p,
                f"frame {frame!r} applies to lon/lat files; this file is in "
                f"{gdf.crs.to_string()} (projected): leave the frame out",
            )
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], frame)
        coords = np.column_stack([lon, lat])
    key = np.round(coords, 7)
    _, node_id = np.unique(key, axis=0, return_inverse=True)
    node_id = node_id.ravel().astype(np.int64)
    starts = np.searchsorted(part_of, np.arange(len(parts)))
    ends = np.append(starts[1:], part_of.size)

    def field_text(meaning: str, row: int) -> str | None:
        column = values[meaning]
        return None if column is None else _text(column[row])

    for j in range(len(parts)):
        row = int(row_of[j])
        tags: dict[str, str] = {}
        cls = field_text("highway", row) if found["highway"] else "unclassified"
        if cls is None:
            out.skipped["no road class"] += 1
            continue
        tags["highway"] = cls
        raw = field_text("oneway", row)
        if raw is not None:
            tags["oneway"] = _LINE_ONEWAY.get(raw.lower(), raw)
        speed_text = field_text("maxspeed", row)
        if speed_text is None:
            speed_text = field_text("speed_kph", row)
        if speed_text is not None:
            tags["maxspeed"] = speed_text
        for meaning in ("name", "access", "service"):
            value = field_text(meaning, row)
            if value is not None:
                tags[meaning] = value
        if cls not in DRIVABLE_HIGHWAYS:
            out.skipped[f"highway={cls}"] += 1
            continue
        sl = slice(int(starts[j]), int(ends[j]))
        out.way_ids.append(int(j))
        out.refs.append(node_id[sl])
        out.lonlat.append(coords[sl])
        out.tags.append(tags)
    return out, found["oneway"] is not None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
