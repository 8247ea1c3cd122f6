"""Units and coordinate frames.

Inside the analysis everything is metres, seconds and one projected CRS; WGS-84
(EPSG:4326) appears only at the edges (input files, GeoJSON, maps, API).
"""

from __future__ import annotations

import math

from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from xunfang.errors import CRSError

WGS84 = "EPSG:4326"
US_SURVEY_FOOT_M = 1200.0 / 3937.0
"""One US survey foot in metres (exact by definition)."""

SECONDS_PER_MINUTE = 60.0
HOURS_PER_WEEK = 168
"""Hours of a week: hour of week = weekday * 24 + hour, local time, Monday 00:00 = 0."""


def kph_to_mps(speed_kph: float) -> float:
    """Convert a speed in km/h to m/s."""
    return speed_kph / 3.6


def minutes_to_s(minutes: float) -> float:
    """Convert minutes to seconds."""
    return minutes * SECONDS_PER_MINUTE


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS-84 UTM zone CRS that contains a point.

    Parameters
    ----------
    lon, lat
        Degrees, WGS-84.

    Returns
    -------
    pyproj.CRS
        EPSG:326zz north of the equator, EPSG:327zz south of it.

    Raises
    ------
    CRSError
        If the point is not a valid WGS-84 position.
    """
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0) or math.isnan(lon + lat):
        raise CRSError(f"cannot choose a UTM zone for lon={lon}, lat={lat}: not a WGS-84 position")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def require_projected(crs: CRS | str | int | None, what: str = "data") -> CRS:
    """Return ``crs`` as a :class:`pyproj.CRS`, or raise if it is not a projected CRS in metres.

    Distance work on longitude/latitude is an error here, not a warning
    (STYLE.md habit 2, after GeoPandas ``check_geographic_crs`` made strict).

    Raises
    ------
    CRSError
        If ``crs`` is missing, geographic, or projected in a unit other than the metre.
    """
    if crs is None:
        raise CRSError(f"{what} has no CRS; set one (e.g. EPSG:32616) before measuring distances")
    try:
        crs = CRS.from_user_input(crs)
    except PyprojCRSError:
        raise CRSError(f"{what}: unknown CRS {crs!r}; use e.g. EPSG:32616") from None
    if not crs.is_projected:
        raise CRSError(
            f"{what} is in the geographic CRS {crs.to_string()}; distances need a projected CRS "
            "in metres (project it first, e.g. to the local UTM zone)"
        )
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in ("metre", "meter"):
        raise CRSError(
            f"{what} is in {crs.to_string()} with unit {unit!r}; xunfang works in metres: "
            "project it to a metric CRS (e.g. the local UTM zone)"
        )
    return crs
