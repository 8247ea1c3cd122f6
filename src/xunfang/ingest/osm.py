"""OpenStreetMap roads as a driver meets them: tag rules and the OSM file reader.

Pure functions over OSM tags, shared by every road reader (:mod:`xunfang.ingest.roads`):

* which ``highway`` classes a car may use (:data:`DRIVABLE_HIGHWAYS`) and which ways are
  closed to it (:func:`excluded_reason`: ``access``, ``service``);
* the direction of travel (:func:`parse_oneway`);
* the posted speed (:func:`parse_maxspeed`, with the implicit country limits of
  :data:`IMPLICIT_MAXSPEED_KPH`) and, where none is posted, the travel speed of the road
  class in a country (:data:`CLASS_SPEEDS_KPH`, :func:`class_speeds`);
* :func:`read_osm_ways`, which reads the drivable ways of an OSM XML or PBF file with
  pyosmium (the Python bindings of libosmium).

The tag semantics follow the OpenStreetMap wiki pages ``Key:oneway``, ``Key:maxspeed``,
``Key:access``, ``Key:service`` and ``Default speed limits``.

Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from xunfang.errors import DataFileError, ValidationError

__all__ = [
    "CLASS_SPEEDS_KPH",
    "DEFAULT_SPEEDS_KPH",
    "DRIVABLE_HIGHWAYS",
    "IMPLICIT_MAXSPEED_KPH",
    "OsmWays",
    "class_speeds",
    "drivable_class",
    "excluded_reason",
    "parse_maxspeed",
    "parse_oneway",
    "read_osm_ways",
]

_MAIN_CLASSES = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
)
_LINK_CLASSES = ("motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link")

DRIVABLE_HIGHWAYS: frozenset[str] = frozenset(_MAIN_CLASSES + _LINK_CLASSES)
"""OSM ``highway`` values kept for a vehicle graph (the list in chicago/SOURCE.txt section 5)."""

DEFAULT_SPEEDS_KPH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 80.0,
        "trunk": 60.0,
        "primary": 50.0,
        "secondary": 45.0,
        "tertiary": 40.0,
        "unclassified": 35.0,
        "residential": 30.0,
        "living_street": 15.0,
        "service": 20.0,
        **dict.fromkeys(_LINK_CLASSES, 40.0),
    }
)
"""Imputed urban travel speed by OSM road class, km/h (read-only; copy it to change it).

An assumption, not a measurement: the source graphs almost never carry ``maxspeed``
(38 of 6,946 LOOP edges). The values sit at or below the Illinois statutory urban limit
of 30 mph = 48 km/h (625 ILCS 5/11-601) on local streets, and allow for signals and
congestion on arterials; expressways (``motorway``) at 80 km/h. Calibrate them against
observed response or probe-vehicle times when those are available. A stitch link between
two areas uses the ``residential`` speed. This is also the ``"US"`` table of
:data:`CLASS_SPEEDS_KPH` and the table used when no country is given.
"""

_CN_SPEEDS_KPH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 80.0,
        "trunk": 60.0,
        "primary": 40.0,
        "secondary": 30.0,
        "tertiary": 30.0,
        "unclassified": 20.0,
        "residential": 20.0,
        "living_street": 10.0,
        "service": 15.0,
        "motorway_link": 40.0,
        "trunk_link": 40.0,
        "primary_link": 30.0,
        "secondary_link": 30.0,
        "tertiary_link": 20.0,
    }
)

CLASS_SPEEDS_KPH: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {"US": DEFAULT_SPEEDS_KPH, "CN": _CN_SPEEDS_KPH}
)
"""Travel speed by OSM road class where a way has no usable ``maxspeed``, km/h, by
ISO 3166-1 alpha-2 country code.

``US``
    :data:`DEFAULT_SPEEDS_KPH` (Illinois statutory urban limits, see there).
``CN``
    China's urban road classes are set by design speed in CJJ 37-2012 *Code for design of
    urban road engineering* (城市道路工程设计规范), section 3.2: 快速路 (expressway)
    100/80/60, 主干路 (arterial) 60/50/40, 次干路 (sub-arterial) 50/40/30, 支路 (branch)
    40/30/20 km/h. OSM China tags 快速路 as ``trunk`` (elevated expressways sometimes as
    ``motorway``), 主干路 as ``primary``, 次干路 as ``secondary``, 支路 as ``tertiary`` or
    ``residential``. For a dense central district the table takes the lowest design speed
    of each class (signals and congestion keep real speeds below design speeds): trunk
    60, primary 40, secondary 30, tertiary 30, residential and unclassified 20; expressway
    ramps (CJJ 37: 0.4-0.7 of the main line) 40; ``living_street`` 10 and ``service`` 15
    are walking-pace estimates. An urban road with one lane each way has the statutory
    limit 50 km/h and one without a centre line 30 km/h (Regulations for the Implementation
    of the Road Traffic Safety Law, art. 45), so no class exceeds its legal limit.

Both are assumptions to calibrate against observed drive times where a bureau has them;
pass ``speeds_kph`` to override single classes.
"""

IMPLICIT_MAXSPEED_KPH: Mapping[str, float] = MappingProxyType(
    {
        # China: Regulations for the Implementation of the Road Traffic Safety Law, art. 45
        # (no centre line: urban 30, highway 40; one lane each way: urban 50, highway 70)
        # and art. 78 (expressway at most 120).
        "CN:urban": 50.0,
        "CN:urban:no_centre_line": 30.0,
        "CN:rural": 70.0,
        "CN:rural:no_centre_line": 40.0,
        "CN:motorway": 120.0,
        # Russia: Rules of the Road (ПДД) 10.2-10.3.
        "RU:urban": 60.0,
        "RU:rural": 90.0,
        "RU:motorway": 110.0,
        "RU:living_street": 20.0,
        # Germany: StVO section 3 (motorway: the advisory 130 km/h), Anlage 3 Zeichen 325.
        "DE:urban": 50.0,
        "DE:rural": 100.0,
        "DE:motorway": 130.0,
        "DE:living_street": 7.0,
        "DE:bicycle_road": 30.0,
        # France: Code de la route R413-2 (rural 80 since 2018).
        "FR:urban": 50.0,
        "FR:rural": 80.0,
        "FR:motorway": 130.0,
        # Italy, Spain, Austria, the Netherlands: national highway codes.
        "IT:urban": 50.0,
        "IT:rural": 90.0,
        "IT:motorway": 130.0,
        "ES:urban": 50.0,
        "ES:rural": 90.0,
        "ES:motorway": 120.0,
        "AT:urban": 50.0,
        "AT:rural": 100.0,
        "AT:motorway": 130.0,
        "NL:urban": 50.0,
        "NL:rural": 80.0,
        "NL:motorway": 130.0,
        # United Kingdom: national speed limits (mph) 30 built-up, 60 single, 70 dual.
        "GB:urban": 30 * 1.609344,
        "GB:nsl_single": 60 * 1.609344,
        "GB:nsl_dual": 70 * 1.609344,
        "GB:motorway": 70 * 1.609344,
    }
)
"""Implicit ``maxspeed`` values ``<country>:<context>``, km/h, from the OpenStreetMap wiki
page *Default speed limits* and the laws cited beside each country (read-only).

Any ``<country>:zone<N>`` or ``<country>:zone:<N>`` reads as N km/h. A code not in this
table (for example ``US:urban``: the United States set limits per state) reads as no posted
speed, and the class speed applies; :func:`parse_maxspeed` says so by returning NaN.
"""

_MPH_KPH = 1.609344
_KNOT_KPH = 1.852
_WALK_KPH = 5.0
_MAXSPEED_RE = re.compile(
    r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE
)
_ZONE_RE = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]+)?:zone:?(?P<value>\d+)$", re.IGNORECASE)

_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "false", "0"})
_ONEWAY_BOTH_AT_TIMES = frozenset({"reversible", "alternating"})
_IMPLIED_ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})

_CLOSED_ACCESS = frozenset({"no", "private"})
_ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")
"""Most specific first: the first of these a way carries decides (OSM access hierarchy)."""
EXCLUDED_SERVICE = frozenset({"parking_aisle", "driveway", "drive-through"})
"""``service=*`` values left out: aisles of car parks, private driveways and drive-throughs
are not streets a patrol car routes along. ``emergency_access`` is kept: police vehicles
may use it."""


def drivable_class(value: object) -> str | None:
    """The road class of an edge: the first drivable class of a list, else its first class.

    ``None`` when the edge has no class. Strings like ``"['residential', 'service']"`` are
    parsed as lists.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                value = ast.literal_eval(text)
            except (SyntaxError, ValueError):
                return text or None
        else:
            return text or None
    if isinstance(value, list | tuple):
        classes = [str(c).strip() for c in value if str(c).strip()]
        if not classes:
            return None
        return next((c for c in classes if c in DRIVABLE_HIGHWAYS), classes[0])
    return str(value)


def parse_maxspeed(value: object) -> float:
    """A posted speed in km/h, or NaN when absent, unlimited or unparseable.

    Parameters
    ----------
    value
        The ``maxspeed`` tag (a string), a number, or a list of tags (a simplified OSMnx
        edge).

    Returns
    -------
    float
        km/h. Rules: a bare number is km/h (the OSM default unit); ``"30 mph"`` is 48.28032;
        ``"knots"`` are converted; several values in one tag (``"70|100"`` per lane,
        ``"40;60"``) give the lowest; ``"CN:urban"`` and the other codes of
        :data:`IMPLICIT_MAXSPEED_KPH` give their limit; ``"DE:zone30"`` /
        ``"DE:zone:30"`` give 30; ``"walk"`` gives 5; ``"none"``, ``"signals"``,
        ``"variable"``, unknown codes, zero and negative values give NaN. A list (an OSMnx
        edge simplified across ways) gives the mean of its parseable values, as
        ``osmnx.add_edge_speeds`` does: which part of such an edge had which speed is lost.
    """
    if value is None:
        return math.nan
    if isinstance(value, list | tuple):
        parsed = [s for s in (parse_maxspeed(v) for v in value) if math.isfinite(s)]
        return sum(parsed) / len(parsed) if parsed else math.nan
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value > 0 else math.nan
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            return parse_maxspeed(ast.literal_eval(text))
        except (SyntaxError, ValueError):
            return math.nan
    if ";" in text or "|" in text:
        parts = [parse_maxspeed(p) for p in re.split(r"[;|]", text)]
        finite = [p for p in parts if math.isfinite(p)]
        return min(finite) if finite else math.nan
    if text.lower() == "walk":
        return _WALK_KPH
    if ":" in text:
        key = text.upper().split(":", 1)[0] + ":" + text.split(":", 1)[1].lower()
        if key in IMPLICIT_MAXSPEED_KPH:
            return float(IMPLICIT_MAXSPEED_KPH[key])
        zone = _ZONE_RE.match(text)
        return float(zone["value"]) if zone and float(zone["value"]) > 0 else math.nan
    match = _MAXSPEED_RE.match(text)
    if match is None:
        return math.nan
    speed = float(match["value"])
    unit = (match["unit"] or "").lower()
    if unit == "mph":
        speed *= _MPH_KPH
    elif unit == "knots":
        speed *= _KNOT_KPH
    return speed if speed > 0 else math.nan


def parse_oneway(tags: Mapping[str, str]) -> tuple[int, str]:
    """The direction a car may drive a way, from its tags.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    direction : int
        ``1`` along the way's node order only, ``-1`` against it only, ``0`` both ways.
    rule : str
        Which rule decided: ``"tag"`` (``oneway`` = yes/true/1, -1/reverse or
        no/false/0), ``"implied"`` (no ``oneway`` tag on ``junction=roundabout`` or
        ``circular``, or on ``highway=motorway``: one-way as the OSM wiki says),
        ``"reversible"`` (``oneway=reversible`` or ``alternating``: the direction changes
        by time of day; taken as two-way, as OSMnx does, so travel times there can be
        optimistic), ``"unknown"`` (another value, such as ``yes;no``: taken as two-way)
        or ``"none"`` (no tag and nothing implied: two-way).
    """
    raw = tags.get("oneway")
    if raw is not None:
        value = raw.strip().lower()
        if value in _ONEWAY_FORWARD:
            return 1, "tag"
        if value in _ONEWAY_BACKWARD:
            return -1, "tag"
        if value in _ONEWAY_NO:
            return 0, "tag"
        if value in _ONEWAY_BOTH_AT_TIMES:
            return 0, "reversible"
        return 0, "unknown"
    if tags.get("junction", "").strip().lower() in _IMPLIED_ONEWAY_JUNCTIONS:
        return 1, "implied"
    if tags.get("highway", "").strip().lower() == "motorway":
        return 1, "implied"
    return 0, "none"


def excluded_reason(tags: Mapping[str, str]) -> str | None:
    """Why a way of a drivable class is still left out, or ``None`` when a car may use it.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    str or None
        ``"access=<value>"`` when the most specific of ``motorcar``, ``motor_vehicle``,
        ``vehicle``, ``access`` that the way carries is ``no`` or ``private`` (so
        ``access=no`` with ``motor_vehicle=yes`` stays in); ``"service=<value>"`` for
        the values of :data:`EXCLUDED_SERVICE`; ``"area=yes"`` for a closed way mapped as
        an area (a square, not a street).
    """
    for key in _ACCESS_KEYS:
        value = tags.get(key)
        if value is not None:
            value = value.strip().lower()
            if value in _CLOSED_ACCESS:
                return f"access={value}"
            break
    service = tags.get("service", "").strip().lower()
    if service in EXCLUDED_SERVICE:
        return f"service={service}"
    if tags.get("area", "").strip().lower() == "yes":
        return "area=yes"
    return None


def class_speeds(
    country: str | None = None, overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The class speed table of a country, with overrides, km/h.

    Parameters
    ----------
    country
        ISO 3166-1 alpha-2 code (case-insensitive) of :data:`CLASS_SPEEDS_KPH`, or
        ``None`` for :data:`DEFAULT_SPEEDS_KPH`.
    overrides
        Speeds by ``highway`` class replacing the table's, km/h.

    Returns
    -------
    dict
        Speed by every class of :data:`DRIVABLE_HIGHWAYS`, km/h.

    Raises
    ------
    ValidationError
        If the country has no table (the message lists those that do) or an override is
        not a positive finite number.
    """
    if country is None:
        speeds = dict(DEFAULT_SPEEDS_KPH)
    else:
        key = str(country).strip().upper()
        if key not in CLASS_SPEEDS_KPH:
            raise ValidationError(
                f"no road-class speed table for country {country!r}; use one of "
                f"{', '.join(sorted(CLASS_SPEEDS_KPH))}, or leave it out for the default "
                "table and pass speeds_kph for your own"
            )
        speeds = dict(CLASS_SPEEDS_KPH[key])
    for cls, value in (overrides or {}).items():
        speed = float(value)
        if not math.isfinite(speed) or speed <= 0:
            raise ValidationError(
                f"speeds_kph[{cls!r}] must be a positive number of km/h; got {value!r}"
            )
        speeds[cls] = speed
    return speeds


# --------------------------------------------------------------------------- OSM files


@dataclass
class OsmWays:
    """Ways of a road file with their node ids, positions and tags.

    Attributes
    ----------
    way_ids
        One id per way (OSM way ids, or feature numbers for road-line files).
    refs
        Per way, array of shape (k,), int64: node ids in way order.
    lonlat
        Per way, array of shape (k, 2), float64, WGS-84 degrees; NaN where the node is not
        in the file (a way cut at the extract's edge).
    tags
        Per way, its tags.
    ways_read
        Ways read: for an OSM file, the ways with a ``highway`` tag (other ways, such as
        buildings, are not counted); for a road-line file, every feature.
    skipped
        Ways not returned, by reason (``highway=<class>`` for a class that is not
        drivable; for road-line files also ``not a line`` and ``no road class``).
    """

    way_ids: list[int] = field(default_factory=list)
    refs: list[np.ndarray] = field(default_factory=list)
    lonlat: list[np.ndarray] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    ways_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.xml", ".osm.pbf", ".pbf")
"""Suffixes :func:`read_osm_ways` reads."""


def _osmium_format(name: str) -> str:
    if name.endswith((".osm.pbf", ".pbf")):
        return "pbf"
    if name.endswith(".gz"):
        return "osm.gz"
    if name.endswith(".bz2"):
        return "osm.bz2"
    return "osm"


def read_osm_ways(path: str | Path) -> OsmWays:
    """Read the ways with a ``highway`` tag of an OpenStreetMap XML or PBF file.

    Parameters
    ----------
    path
        ``.osm``/``.osm.xml`` (XML), ``.osm.gz``/``.osm.bz2`` (compressed XML) or
        ``.osm.pbf`` (PBF), as regional extract services and OSMnx's ``save_graph_xml``
        write them. Coordinates are WGS-84 by definition.

    Returns
    -------
    OsmWays
        The ways whose ``highway`` class is in :data:`DRIVABLE_HIGHWAYS` (other highway
        ways are counted in ``skipped``); node positions from the file (NaN where a node is
        absent).

    Raises
    ------
    DataFileError
        If the file is missing or libosmium cannot parse it (the message names the file
        and libosmium's reason).

    Notes
    -----
    Read with pyosmium's :class:`osmium.FileProcessor` (libosmium, Topf & Hoffmann), node
    locations held in libosmium's in-memory index, so only ways reach Python.
    """
    import osmium

    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "file not found")
    out = OsmWays()
    try:
        source = osmium.io.File(str(p), _osmium_format(p.name.lower()))
        # node locations go to libosmium's index; only ways with a highway tag reach Python
        processor = (
            osmium.FileProcessor(source, osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):  # pragma: no cover - filtered above
                continue
            out.ways_read += 1
            highway = obj.tags.get("highway")
            if highway not in DRIVABLE_HIGHWAYS:
                out.skipped[f"highway={highway}"] += 1
                continue
            nodes = obj.nodes
            k = len(nodes)
            refs = np.empty(k, dtype=np.int64)
            lonlat = np.full((k, 2), np.nan, dtype=np.float64)
            for i, nd in enumerate(nodes):
                refs[i] = nd.ref
                loc = nd.location
                if loc.valid():
                    lonlat[i, 0] = loc.lon
                    lonlat[i, 1] = loc.lat
            out.way_ids.append(int(obj.id))
            out.refs.append(refs)
            out.lonlat.append(lonlat)
            out.tags.append({t.k: t.v for t in obj.tags})
    except RuntimeError as exc:
        raise DataFileError(p, f"not a readable OpenStreetMap file ({exc})") from exc
    return out
