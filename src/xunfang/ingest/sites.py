"""Point sites: police stations, existing booths, user candidate lists, schools, places to cover.

A site file is a CSV or Excel sheet with a name column and a position: ``lon``/``lat`` (or
``longitude``/``latitude``, ``经度``/``纬度``, any case) in WGS-84, GCJ-02 or BD-09, given
or stated by the file (:func:`detect_frame`); or a vector file of points in any CRS. The Chicago
``Police_Stations.csv`` (columns ``DISTRICT``, ``LATITUDE``, ``LONGITUDE``) and the
schools file (``NAME_OF_SCHOOL``, ``Latitude``, ``Longitude``) are read as they are.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd

from xunfang import strict_json
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.coords import to_wgs84
from xunfang.ingest.readers import (
    HeaderRow,
    UndecidedEncoding,
    _decode_lines,
    detect_encoding,
    find_header,
)
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


SITE_FORMATS = (
    ".csv",
    ".txt",
    ".xlsx",
    ".xlsm",
    ".geojson",
    ".json",
    ".gpkg",
    ".shp",
    ".zip",
    ".kml",
)
"""File forms :func:`read_sites` reads (CSV/Excel with lon/lat columns, or vector points)."""
FRAME_COLUMNS = ("frame", "coord_frame", "坐标系")
"""A column that states the coordinate frame of every row (one value for the file)."""
_VECTOR = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml")


def is_vector_site_file(path: str | Path) -> bool:
    """Whether :func:`read_sites` reads ``path`` as a vector file of point features (its
    sites are then numbered by feature, not by row)."""
    p = Path(path)
    return p.suffix.lower() in _VECTOR or p.is_dir()


def site_position(path: str | Path | None, number: int) -> tuple[int | None, int | None]:
    """``(row, feature)`` for :class:`~xunfang.errors.DataFileError`, naming a site as its
    file shows it: ``(None, number)`` for a vector file, else ``(number, None)``.

    Parameters
    ----------
    path
        The site file (``None``: a table).
    number
        The site's number as :func:`read_sites` records it (``attrs["source_rows"]``): a
        CSV's line or a sheet's row, or a vector file's feature, 1-based.
    """
    if path is not None and is_vector_site_file(path):
        return None, number
    return number, None


def _frame_key(frame: str) -> str:
    key = str(frame).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return {"wgs": "wgs84", "gcj": "gcj02", "bd": "bd09", "火星": "gcj02", "百度": "bd09"}.get(
        key, key
    )


def detect_frame(columns: list[str], frame_values: pd.Series | None = None) -> str | None:
    """The coordinate frame a site table states, or ``None`` when it states none.

    A ``frame``/``坐标系`` column with one value for the whole file wins; else a
    longitude column whose name carries ``gcj``, ``bd09``/``bd`` or ``wgs`` (such as
    ``lng_gcj02`` or ``bd_lon``).

    Raises
    ------
    ValidationError
        If the frame column holds more than one frame.
    """
    if frame_values is not None:
        vals = {_frame_key(v) for v in frame_values.dropna().astype(str) if v.strip()}
        if len(vals) > 1:
            raise ValidationError(f"the frame column holds several frames {sorted(vals)}: one only")
        if vals:
            return vals.pop()
    for c in columns:
        low = c.lower()
        if any(k in low for k in ("lon", "lng", "经度", "x")):
            if "gcj" in low:
                return "gcj02"
            if "bd" in low:
                return "bd09"
            if "wgs" in low:
                return "wgs84"
    return None


def read_sites(
    path: str | Path,
    *,
    frame: str | None = "wgs84",
    name_column: str | None = None,
    encoding: str = "auto",
    sheet: str | int = 0,
    header_row: HeaderRow = "auto",
) -> gpd.GeoDataFrame:
    """Read a site list: CSV, Excel or a vector point file.

    Parameters
    ----------
    path
        CSV (``.csv``/``.txt``) or Excel (``.xlsx``, read with openpyxl) with a name
        column and longitude/latitude columns (:data:`LON_COLUMNS`, :data:`LAT_COLUMNS`);
        or a vector file of points in any CRS (GeoJSON, GeoPackage, Shapefile, KML).
    frame
        Datum of lon/lat coordinates: ``wgs84``, ``gcj02`` or ``bd09``; ``None`` detects
        it (:func:`detect_frame`), WGS-84 when the file states none. A frame the file
        states that contradicts a given ``frame`` is an error. Ignored for a vector file
        in a projected CRS.
    name_column
        Column holding the site name; default the first of :data:`NAME_COLUMNS` present,
        else ``"site N"``.
    encoding
        Text encoding of a CSV; ``auto`` (the default) decides it from the bytes by the
        incident reader's rule (:func:`xunfang.ingest.readers.detect_encoding`: a
        byte-order mark, UTF-16, UTF-8, else GB18030/GBK when the text is Chinese), so a
        station list saved by Excel in China (GBK) reads as it is.
    sheet
        Excel sheet name or 0-based index.
    header_row
        Row of the column names of a CSV or Excel file, 1-based, or ``auto``: the first
        of the first rows (alone or merged with the row above: a title row and a two-row
        header with merged cells) that holds a longitude and a latitude column
        (:func:`xunfang.ingest.readers.find_header`).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name`` (str), every other column of the file, and point ``geometry``
        in EPSG:4326. ``attrs["frame"]`` is the frame the coordinates were read in;
        ``attrs["source_rows"]`` each site's number as the file shows it (a CSV's line,
        the header counting; a sheet's row number; a vector file's feature, 1-based:
        :func:`site_position` says which).

    Raises
    ------
    DataFileError
        If the file is missing or of a form not read (listing :data:`SITE_FORMATS`), has
        no longitude/latitude columns, or a row has no valid position (naming the row and
        column: a site list is short, so one bad row is an error, not a rejection), or
        a CSV row has more or fewer fields than the header (naming the row and both counts).
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "site file not found")
    suffix = path.suffix.lower()
    if suffix in _VECTOR or path.is_dir():
        return _read_vector_sites(path, frame=frame, name_column=name_column)
    kind_csv = suffix not in (".xlsx", ".xlsm")
    if suffix in (".xlsx", ".xlsm"):
        try:
            grid = pd.read_excel(
                path,
                sheet_name=sheet,
                header=None,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
        except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
            raise DataFileError(
                path, "reading Excel needs openpyxl (pip install openpyxl)"
            ) from exc
        except (ValueError, KeyError, OSError) as exc:
            raise DataFileError(path, f"not a readable Excel workbook ({exc})") from exc
        rows: list[list[object]] = grid.astype(object).where(grid.notna(), None).values.tolist()
    elif suffix in (".csv", ".txt", ".gz"):
        rows = _csv_rows(path, encoding)
        if not rows:
            raise DataFileError(path, "file is empty")
    else:
        raise DataFileError(
            path, f"not a site file this version reads; give one of {', '.join(SITE_FORMATS)}"
        )
    df = _table_below_header(path, rows, header_row, csv_fields=kind_csv)
    if df.empty:
        raise DataFileError(path, "has a header but no rows")
    cols = list(df.columns)
    lon_col, lat_col = _pick_coord(cols, LON_COLUMNS), _pick_coord(cols, LAT_COLUMNS)
    if lon_col is None or lat_col is None:
        raise DataFileError(
            path,
            f"needs longitude and latitude columns (one of {LON_COLUMNS} "
            f"and one of {LAT_COLUMNS}); found {cols}",
            field="lon" if lon_col is None else "lat",
        )
    frame_col = _pick(cols, FRAME_COLUMNS)
    try:
        stated = detect_frame([lon_col], df[frame_col] if frame_col else None)
    except ValidationError as exc:
        raise DataFileError(path, str(exc), field=frame_col) from exc
    used = _resolve_frame(path, frame, stated)
    lon = pd.to_numeric(
        df[lon_col].str.strip().str.replace(",", ".", regex=False), errors="coerce"
    ).to_numpy(dtype=np.float64)
    lat = pd.to_numeric(
        df[lat_col].str.strip().str.replace(",", ".", regex=False), errors="coerce"
    ).to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        field = lon_col if not np.isfinite(lon[i]) or abs(lon[i]) > 180 else lat_col
        raise DataFileError(
            path,
            f"no valid position ({lon_col}={df[lon_col].iloc[i]!r}, "
            f"{lat_col}={df[lat_col].iloc[i]!r}); "
            f"{int(bad.sum())} row(s) like this",
            row=int(df.index[i]),
            field=field,
        )
    if used != "wgs84":
        lon, lat = to_wgs84(lon, lat, used)
    names = _names(path, df, name_column)
    drop = [c for c in (lon_col, lat_col, frame_col) if c and c in df.columns]
    name_col = name_column or _pick(cols, NAME_COLUMNS)
    if name_col:
        drop.append(name_col)
    out = df.drop(columns=drop).reset_index(drop=True)
    out.insert(0, "name", names)
    result = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    result.attrs["frame"] = used
    result.attrs["source_rows"] = df.index.to_numpy(dtype=np.int64)
    return result


def _table_below_header(
    path: Path, rows: list[list[object]], header_row: HeaderRow, *, csv_fields: bool = False
) -> pd.DataFrame:
    """The rows below the header (:func:`~xunfang.ingest.readers.find_header`) as text
    columns named by it; empty rows left out.

    ``csv_fields``: the rows are a CSV's records, and one with more or fewer fields than
    the header is refused (its cells would be cut or shifted into other columns: an
    unquoted comma in a name moves the longitude into the latitude column), naming the
    first such row and both counts.

    Raises
    ------
    DataFileError
        For a header row out of range, or (``csv_fields``) a record whose field count is
        not the header's.
    """
    try:
        header, start = find_header(
            rows,
            lambda h: (
                _pick_coord(h, LON_COLUMNS) is not None and _pick_coord(h, LAT_COLUMNS) is not None
            ),
            header_row,
        )
    except ValueError as exc:
        raise DataFileError(path, str(exc), field="header_row") from exc
    width = len(header)
    if csv_fields:
        ragged = [
            (k, len(r))
            for k, r in enumerate(rows[start:])
            if len(r) != width and any(str(v).strip() for v in r)
        ]
        if ragged:
            k, n = ragged[0]
            raise DataFileError(
                path,
                f"a row has {n} fields where the header has {width} (an unquoted comma in a "
                "cell moves every later cell to another column): quote that cell"
                + (f"; {len(ragged)} rows like this" if len(ragged) > 1 else ""),
                row=start + k + 1,
            )
    body = [[_text_cell(v) for v in r[:width]] for r in rows[start:]]
    kept = [k for k, r in enumerate(body) if any(isinstance(v, str) for v in r)]
    body = [body[k] + [np.nan] * (width - len(body[k])) for k in kept]
    names = [h or f"column {i + 1}" for i, h in enumerate(header)]
    # indexed by the row as the file shows it (a sheet's row, a CSV's line: 1-based)
    index = pd.Index([start + k + 1 for k in kept], dtype=np.int64)
    return pd.DataFrame(body, columns=names, dtype=object, index=index)


def _text_cell(value: object) -> object:
    """A cell as the text ``pd.read_csv(dtype=str)`` gives: NaN when empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return np.nan
    return str(value)


def _csv_rows(path: Path, encoding: str) -> list[list[object]]:
    """The records of a CSV site file, its encoding told from its bytes when ``auto``.

    One rule with the incident reader (:func:`xunfang.ingest.readers.detect_encoding`,
    and a GBK file with some UTF-8 lines, or a UTF-8 file with some GB18030 lines, read
    line by line). A file the rule cannot
    decide is refused saying to save it as UTF-8: a site list has no ``--encoding``.
    """
    if encoding == "auto":
        try:
            enc = detect_encoding(path)
        except UndecidedEncoding as exc:
            raise DataFileError(
                path,
                f"site file {exc.why}: a site file is read as UTF-8, UTF-16 or GB18030/GBK "
                "(told from its bytes); save it as UTF-8",
                row=exc.row,
            ) from None
    else:
        enc = encoding
    try:
        mixed = _decode_lines(
            path,
            enc,
            utf8_too=enc == "gb18030",
            reject=False,
            gb_too=encoding == "auto" and enc == "utf-8-sig",
        )
        if mixed is not None:
            return [list(r) for r in csv.reader(mixed[0])]
        with _open_text(path, enc) as fh:
            return [list(r) for r in csv.reader(fh)]
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path,
            f"site file is not valid {enc} (byte {exc.start} of a line): "
            "save it as UTF-8 or GB18030/GBK",
        ) from exc


def _open_text(path: Path, encoding: str) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def _pick_coord(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    """Like :func:`_pick`, also accepting a frame suffix (``lng_gcj02``, ``bd_lat``)."""
    hit = _pick(columns, wanted)
    if hit is not None:
        return hit
    for c in columns:
        low = c.strip().lower()
        for tag in ("gcj02", "gcj", "bd09", "bd", "wgs84", "wgs"):
            bare = low.replace(tag, "").strip("_- ")
            if bare != low and bare in wanted:
                return c
    return None


def _resolve_frame(path: Path, given: str | None, stated: str | None) -> str:
    if given is None:
        return stated or "wgs84"
    key = _frame_key(given)
    if key not in ("wgs84", "gcj02", "bd09"):
        raise ValidationError(f"--frame {given!r}: use wgs84, gcj02 or bd09")
    if stated is not None and stated != key and key != "wgs84":
        raise DataFileError(path, f"the file states frame {stated} but {key} was given")
    return stated if (stated is not None and key == "wgs84") else key


def _names(path: Path, df: pd.DataFrame, name_column: str | None) -> np.ndarray:
    cols = list(df.columns)
    if name_column is not None and name_column not in cols:
        raise DataFileError(path, f"no column {name_column!r}; found {cols}", field=name_column)
    name_col = name_column or _pick(cols, NAME_COLUMNS)
    if name_col:
        return df[name_col].astype(str).str.strip().to_numpy()
    return np.array([f"site {i + 1}" for i in range(len(df))], dtype=object)


def _read_vector_sites(
    path: Path, *, frame: str | None, name_column: str | None
) -> gpd.GeoDataFrame:
    import pyogrio

    strict_json.check_file(path)
    try:
        gdf = gpd.read_file(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise DataFileError(
            path, f"not a readable point file ({exc}); give one of {', '.join(SITE_FORMATS)}"
        ) from exc
    if gdf.empty:
        raise DataFileError(path, "holds no features")
    kinds = set(gdf.geometry.geom_type.dropna())
    if kinds - {"Point"}:
        bad = int(np.flatnonzero(gdf.geometry.geom_type.to_numpy() != "Point")[0])
        raise DataFileError(
            path,
            f"site files hold points; this feature is a {gdf.geometry.iloc[bad].geom_type}",
            feature=bad + 1,
        )
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    props.columns = [str(c).strip() for c in props.columns]
    used = "wgs84"
    if gdf.crs.is_geographic:
        gdf = gdf.to_crs(WGS84)
        frame_col = _pick(list(props.columns), FRAME_COLUMNS)
        try:
            stated = detect_frame([], props[frame_col] if frame_col else None)
        except ValidationError as exc:
            raise DataFileError(path, str(exc), field=frame_col) from exc
        used = _resolve_frame(path, frame, stated)
        lon, lat = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        if used != "wgs84":
            lon, lat = to_wgs84(lon, lat, used)
    else:
        wgs = gdf.to_crs(WGS84)
        lon, lat = wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy()
    names = _names(path, props.astype(str), name_column)
    name_col = name_column or _pick(list(props.columns), NAME_COLUMNS)
    out = props.drop(columns=[name_col]) if name_col else props
    out.insert(0, "name", names)
    result = gpd.GeoDataFrame(
        out.reset_index(drop=True), geometry=gpd.points_from_xy(lon, lat), crs=WGS84
    )
    result.attrs["frame"] = used
    result.attrs["source_rows"] = np.arange(1, len(result) + 1, dtype=np.int64)  # features
    return result


def sites_near(
    sites: gpd.GeoDataFrame, area: StudyArea, *, buffer_m: float = 500.0
) -> gpd.GeoDataFrame:
    """The sites in or within ``buffer_m`` metres of a study area (EPSG:4326 in and out)."""
    if len(sites) == 0:
        return sites
    near = sites.to_crs(area.crs).distance(area.polygon).to_numpy() <= buffer_m
    return sites[near].reset_index(drop=True)


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
