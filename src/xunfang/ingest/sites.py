"""Point sites from CSV: police stations, existing booths, user candidate lists, schools.

A site file is a CSV with a name column and a position: ``lon``/``lat`` (or
``longitude``/``latitude``, any case) in WGS-84, GCJ-02 or BD-09. The Chicago
``Police_Stations.csv`` (columns ``DISTRICT``, ``LATITUDE``, ``LONGITUDE``) and the
schools file (``NAME_OF_SCHOOL``, ``Latitude``, ``Longitude``) are read as they are.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from xunfang.errors import DataFileError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.coords import to_wgs84
from xunfang.units import WGS84

NAME_COLUMNS = ("name", "site", "site_name", "district", "name_of_school", "名称", "站点")
LON_COLUMNS = ("lon", "lng", "longitude", "经度", "x_lon")
LAT_COLUMNS = ("lat", "latitude", "纬度", "y_lat")


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    for w in wanted:
        if w in lower:
            return lower[w]
    return None


def read_sites(
    path: str | Path,
    *,
    frame: str = "wgs84",
    name_column: str | None = None,
    encoding: str = "utf-8-sig",
) -> gpd.GeoDataFrame:
    """Read a site list.

    Parameters
    ----------
    path
        CSV file.
    frame
        Datum of the coordinates: ``wgs84``, ``gcj02`` or ``bd09``.
    name_column
        Column holding the site name; default the first of :data:`NAME_COLUMNS` present,
        else the row number.
    encoding
        Text encoding.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name`` (str), every other column of the file, and point ``geometry``
        in EPSG:4326.

    Raises
    ------
    DataFileError
        If the file is missing, has no longitude/latitude columns, or a row has no valid
        position (naming the row and column: a site list is short, so one bad row is an
        error, not a rejection).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "site file not found")
    try:
        df = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"not valid {encoding}; pass the right encoding") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(path, "file is empty") from exc
    if df.empty:
        raise DataFileError(path, "has a header but no rows")
    cols = list(df.columns)
    lon_col, lat_col = _pick(cols, LON_COLUMNS), _pick(cols, LAT_COLUMNS)
    if lon_col is None or lat_col is None:
        raise DataFileError(
            path,
            f"needs longitude and latitude columns (one of {LON_COLUMNS} "
            f"and one of {LAT_COLUMNS}); found {cols}",
            field="lon" if lon_col is None else "lat",
        )
    lon = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        field = lon_col if not np.isfinite(lon[row - 1]) or abs(lon[row - 1]) > 180 else lat_col
        raise DataFileError(
            path,
            f"no valid position ({lon_col}={df[lon_col].iloc[row - 1]!r}, "
            f"{lat_col}={df[lat_col].iloc[row - 1]!r}); "
            f"{int(bad.sum())} row(s) like this",
            row=row,
            field=field,
        )
    if frame != "wgs84":
        lon, lat = to_wgs84(lon, lat, frame)
    name_col = name_column or _pick(cols, NAME_COLUMNS)
    if name_column is not None and name_column not in cols:
        raise DataFileError(path, f"no column {name_column!r}; found {cols}", field=name_column)
    names = (
        df[name_col].astype(str).str.strip()
        if name_col
        else pd.Series([f"site {i + 1}" for i in range(len(df))])
    )
    out = df.drop(columns=[c for c in (lon_col, lat_col, name_col) if c in df.columns])
    out.insert(0, "name", names.to_numpy())
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


STATIONS_CSV = Path("stations") / "Police_Stations.csv"
STATION_BUFFER_M = 500.0
"""Police stations within this distance of a study area belong to it, metres."""


def stations_near(
    city_dir: Path, area: StudyArea, *, buffer_m: float = STATION_BUFFER_M
) -> gpd.GeoDataFrame:
    """The police stations in or within ``buffer_m`` of a study area, from
    ``CITY/stations/Police_Stations.csv``; a bare district number as the name becomes
    ``"District N station"``.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_sites`, EPSG:4326.

    Raises
    ------
    DataFileError
        If the stations file is missing or unreadable.
    """
    stations = read_sites(city_dir / STATIONS_CSV)
    near = stations.to_crs(area.crs).distance(area.polygon).to_numpy() <= buffer_m
    chosen = stations[near].copy()
    chosen["name"] = [
        f"District {n} station" if str(n).isdigit() else str(n) for n in chosen["name"]
    ]
    return chosen.reset_index(drop=True)
