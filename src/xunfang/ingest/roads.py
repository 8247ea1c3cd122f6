"""A road network from one file a user already has, in any city.

The one entry point every command uses for ``--roads FILE``: it chooses the reader by the
file's form and returns the same :class:`~xunfang.ingest.network.RoadNetwork` the Chicago
community-area graphs give, so that the plan, the deployment, the simulation and the service
route on it alike.

Formats (by suffix): gzip-compressed osmnx GraphML (``.graphml.gz``). OpenStreetMap XML
(``.osm``, ``.osm.gz``), OpenStreetMap PBF (``.osm.pbf``) and road-line files
(GeoPackage, Shapefile, GeoJSON) are being added (issue 9).

Road data from OpenStreetMap is (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from xunfang.errors import DataFileError
from xunfang.ingest.network import RoadNetwork, build_network

__all__ = ["ROAD_FILE_FORMATS", "read_road_network"]

ROAD_FILE_FORMATS = (".graphml.gz",)
"""Suffixes :func:`read_road_network` reads."""

DEFAULT_CLIP_MARGIN_M = 400.0
"""Streets kept outside the study area's boundary, metres, so that routes along its edge
stay possible."""


def read_road_network(
    path: str | Path,
    crs: CRS | str,
    *,
    clip_polygon: BaseGeometry | None = None,
    clip_margin_m: float = DEFAULT_CLIP_MARGIN_M,
    speeds_kph: Mapping[str, float] | None = None,
    country: str | None = None,
) -> RoadNetwork:
    """Read a drivable road network from one file.

    Parameters
    ----------
    path
        The road file (see :data:`ROAD_FILE_FORMATS`).
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
        ``maxspeed`` is missing; ``None`` for the default table.

    Returns
    -------
    RoadNetwork
        The largest strongly connected component, in ``crs``.

    Raises
    ------
    DataFileError
        If the file is missing, unreadable or of a form not read here (the message lists
        the forms that are).
    CRSError
        If ``crs`` is not projected in metres.
    NetworkError
        If no drivable edge remains.
    """
    p = Path(path)
    name = p.name.lower()
    if not name.endswith(ROAD_FILE_FORMATS):
        raise DataFileError(
            p, f"not a road file this version reads; give one of {', '.join(ROAD_FILE_FORMATS)}"
        )
    if not p.is_file():
        raise DataFileError(p, "file not found")
    clip = None if clip_polygon is None else clip_polygon.buffer(clip_margin_m)
    return build_network([p], crs, clip_polygon=clip, speeds_kph=speeds_kph)
