"""The options every area command shares: which city, and its parts as files.

``plan``, ``deploy``, ``simulate run``, ``forecast evaluate``, ``serve`` and ``ingest`` take
``--city FILE.toml`` or the parts (``--boundary``, ``--boundary-name``, ``--roads``,
``--stations``, ``--frame``), turned into one :class:`xunfang.ingest.city.City` by
:func:`city_from_options`; without them, the default city (``XUNFANG_CITY`` or the packaged
example city file, :func:`xunfang.ingest.city.default_city`, read from the data directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.city import City, resolve_city
from xunfang.ingest.incidents import PROFILES

__all__ = [
    "BoundaryFrameOpt",
    "BoundaryNameFieldOpt",
    "BoundaryNameOpt",
    "BoundaryOpt",
    "CityOpt",
    "CountryOpt",
    "FrameOpt",
    "MappingOpt",
    "ProfileOpt",
    "RoadsOpt",
    "StationsOpt",
    "city_from_options",
    "refuse_stations_with_plan_dir",
]

CityOpt = Annotated[
    Path | None,
    typer.Option(
        "--city",
        help="City file (TOML: boundary, roads, stations, incidents, time zone, frame; see "
        "examples/cities/). Default: $XUNFANG_CITY or the packaged example city file "
        "(src/xunfang/data/cities/) read from --data-dir.",
    ),
]
BoundaryOpt = Annotated[
    Path | None,
    typer.Option(
        "--boundary",
        help="Study-area boundary: GeoJSON, GeoPackage, Shapefile (.zip or folder) or KML, "
        "any CRS (lon/lat files in --frame).",
    ),
]
BoundaryNameOpt = Annotated[
    str | None,
    typer.Option(
        "--boundary-name",
        help="The polygon(s) of --boundary to use, by name (comma-separated) when it holds "
        "several.",
    ),
]
BoundaryNameFieldOpt = Annotated[
    str | None,
    typer.Option(
        "--boundary-name-field",
        help="The property of --boundary that holds each polygon's name (default: a name "
        "property such as name/名称, else one of distinct non-empty strings, 名/name first).",
    ),
]
BoundaryFrameOpt = Annotated[
    str | None,
    typer.Option(
        "--boundary-frame",
        help="Frame of the boundary's lon/lat (wgs84, gcj02, bd09) when it differs from "
        "--frame (e.g. a Baidu-frame 110 export and an AMap-frame boundary). Default: the "
        "city file's boundary frame, else --frame.",
    ),
]
RoadsOpt = Annotated[
    Path | None,
    typer.Option(
        "--roads",
        help="Road network: OpenStreetMap .osm/.osm.pbf, osmnx GraphML or a road-line file; "
        "clipped to the boundary plus a margin.",
    ),
]
StationsOpt = Annotated[
    Path | None,
    typer.Option(
        "--stations",
        help="Police stations: CSV, Excel (.xlsx) or vector points (name + lon/lat).",
    ),
]
CountryOpt = Annotated[
    str | None,
    typer.Option(
        "--country",
        help="Road-class speed table where a street has no maxspeed: auto (CN when the "
        "study area is in mainland China, else the default table), CN, US or default. "
        "Default: the city file's country, else auto.",
    ),
]
FrameOpt = Annotated[
    str | None,
    typer.Option(
        "--frame",
        help="Frame of this run's lon/lat input files: wgs84, gcj02 or bd09 (OpenStreetMap "
        "files are WGS-84). Default: the city file's, else wgs84.",
    ),
]

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help=f"Ingest profile of --incidents: {', '.join(sorted(PROFILES))} (default: the city's).",
        show_default=False,
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML mapping of --incidents (replaces --profile)."),
]
"""``--profile``/``--mapping``: how the columns of raw incident files (a 110 export, a CAD
dump) are read. Every command that takes ``--incidents`` files and reads them through
:func:`city_from_options` takes these two with the same meaning (``plan``, ``deploy``,
``simulate run``): they become the city's ``profile``/``mapping``."""


def city_from_options(
    *,
    city: Path | None = None,
    boundary: Path | None = None,
    boundary_name: str | None = None,
    boundary_name_field: str | None = None,
    boundary_frame: str | None = None,
    roads: Path | None = None,
    stations: Path | None = None,
    frame: str | None = None,
    profile: str | None = None,
    mapping: Path | None = None,
    incidents: list[Path] | None = None,
    country: str | None = None,
    data_dir: Path | None = None,
    base_city: City | None = None,
) -> City:
    """The city the options describe (:func:`xunfang.ingest.city.resolve_city`; without
    ``city``, its parts replace those of ``base_city`` when given).

    Raises
    ------
    ValidationError, DataFileError
        For an unknown frame, an unreadable city file, or a file option (``city``,
        ``boundary``, ``roads``, ``stations``, ``mapping``, ``incidents``) naming a path
        that does not exist.
    """
    if boundary is not None and not Path(boundary).exists():
        raise DataFileError(boundary, "boundary file not found")  # as the boundary reader
    for path in (city, roads, stations, mapping, *(incidents or [])):
        if path is not None and not Path(path).exists():
            raise DataFileError(path, "file not found")
    return resolve_city(
        city=city,
        boundary=boundary,
        boundary_name=boundary_name,
        boundary_name_field=boundary_name_field,
        boundary_frame=boundary_frame,
        roads=roads,
        stations=stations,
        frame=frame,
        profile=profile,
        mapping=mapping,
        incidents=list(incidents or []),
        country=country,
        data_dir=data_dir,
        base_city=base_city,
    )


def refuse_stations_with_plan_dir(stations: Path | None, plan_dir: Path | None) -> None:
    """Refuse ``--stations`` beside ``--plan-dir``: a plan folder's stations are those of
    its ``sites.csv`` (each district's, for a city plan), chosen when the plan was made, so
    another stations file would be silently ignored.

    Raises
    ------
    ValidationError
        If both are given.
    """
    if stations is not None and plan_dir is not None:
        raise ValidationError(
            f"--stations {stations} cannot be used with --plan-dir {plan_dir}: the stations "
            "are the plan's (sites.csv); run xunfang plan with --stations to use other stations"
        )
