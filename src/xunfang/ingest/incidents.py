"""Incident and call-for-service files -> one validated, projected, UTC-aware table.

A *profile* says how a source lays out its columns. Built-in profiles:

``chicago``
    Both CPD CLEAR layouts: the 20-column monthly extracts (State Plane x/y in US feet,
    EPSG:3435, and WGS-84 lat/lon) and the 11-column September 2014 file whose ``Date``
    mixes ``MM/DD/YYYY hh:mm:ss AM/PM``, ``YYYY/DD/MM HH:MM:SS`` and ``YYYY/DD/MM``.
``portland``
    The NIJ 2016 Portland CFS release: semicolons, ``DD/MM/YYYY`` dates without a time of
    day, Oregon State Plane North x/y in feet (EPSG:2913).
``generic``
    Any CSV described by a small TOML mapping (:func:`profile_from_toml`).

The output table (:class:`IncidentTable`) has one row per usable incident with columns
``incident_id, occurred_at (UTC), time_precision, type_group, type, subtype, premise,
lon, lat (WGS-84), x_m, y_m (the table's projected CRS), arrest`` plus the profile's
extra columns (``district``, ``beat``, ...) and ``source_file``/``source_row``. Every
row that cannot be used is kept in a rejected table with its reason; nothing is dropped
silently.
"""

from __future__ import annotations

import gzip
import io
import json
import tomllib
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

from xunfang.errors import CRSError, DataFileError
from xunfang.ingest.coords import to_wgs84
from xunfang.ingest.taxonomy import Taxonomy, load_taxonomy
from xunfang.units import WGS84, require_projected, utm_crs_for

REASONS = (
    "missing_coordinates",
    "invalid_coordinates",
    "unparseable_time",
    "outside_area",
    "duplicate_id",
)
"""Why a row can be rejected, in the order the checks run (a row gets the first reason)."""

OUTPUT_COLUMNS = (
    "incident_id",
    "occurred_at",
    "time_precision",
    "type_group",
    "type",
    "subtype",
    "premise",
    "lon",
    "lat",
    "x_m",
    "y_m",
    "arrest",
)
SWAP_SHARE = 0.5
"""If more than this share of geolocated rows fall outside the area but the swapped
coordinates fall inside, the file's lat/lon are taken to be swapped (an error)."""
MIN_ROWS_FOR_FRAME_CHECK = 5
"""Swap and CRS checks need at least this many positions; fewer are judged row by row
(and rejected as ``outside_area``)."""


# --------------------------------------------------------------------------- profiles
class CoordSpec(BaseModel):
    """Where a row's position is: two columns and their frame.

    ``kind="lonlat"`` reads degrees in ``frame`` (``wgs84``, ``gcj02`` or ``bd09``);
    ``kind="xy"`` reads projected coordinates in ``crs`` (any unit PROJ knows).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["lonlat", "xy"]
    x: str
    y: str
    crs: str = WGS84
    frame: Literal["wgs84", "gcj02", "bd09"] = "wgs84"

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str) -> str:
        try:
            CRS.from_user_input(value)
        except PyprojCRSError:
            raise ValueError(f"unknown CRS {value!r}; use e.g. EPSG:3435") from None
        return value


class Layout(BaseModel):
    """One column layout of a source. See the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    delimiter: str = ","
    timezone: str
    id: str | None = None
    time: str
    time_formats: tuple[str, ...] = Field(min_length=1)
    time_precision: Literal["second", "minute", "day"] = "second"
    type: str
    subtype: str | None = None
    premise: str | None = None
    arrest: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)
    coords: tuple[CoordSpec, ...] = Field(min_length=1)
    scheme: str
    bbox: tuple[float, float, float, float] | None = None
    """Plausible (min_lon, min_lat, max_lon, max_lat) of the source, WGS-84."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai or "
                "America/Chicago"
            ) from None
        return value

    def required_columns(self) -> dict[str, str]:
        """Source column -> role, for the columns this layout reads."""
        cols: dict[str, str] = {self.time: "time", self.type: "type"}
        for role in ("id", "subtype", "premise", "arrest"):
            col = getattr(self, role)
            if col is not None:
                cols[col] = role
        for out, col in self.extra.items():
            cols[col] = out
        for spec in self.coords:
            cols[spec.x] = f"{spec.kind} x"
            cols[spec.y] = f"{spec.kind} y"
        return cols


class Profile(BaseModel):
    """A named source with one or more layouts (chosen per file by its header)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    layouts: tuple[Layout, ...] = Field(min_length=1)
    encoding: str = "auto"


_CHICAGO_BBOX = (-87.95, 41.6, -87.5, 42.05)
CHICAGO = Profile(
    name="chicago",
    layouts=(
        Layout(
            name="chicago-monthly",
            timezone="America/Chicago",
            id="ID",
            time="Date",
            time_formats=("%m/%d/%Y %I:%M:%S %p",),
            time_precision="minute",
            type="Primary Type",
            subtype="Description",
            premise="Location Description",
            arrest="Arrest",
            extra={
                "district": "District",
                "beat": "Beat",
                "iucr": "IUCR",
                "community_area": "Community Area",
            },
            coords=(
                CoordSpec(kind="xy", x="X Coordinate", y="Y Coordinate", crs="EPSG:3435"),
                CoordSpec(kind="lonlat", x="Longitude", y="Latitude"),
            ),
            scheme="chicago",
            bbox=_CHICAGO_BBOX,
        ),
        Layout(
            name="chicago-sept2014",
            timezone="America/Chicago",
            id="ID",
            time="Date",
            # SOURCE.txt: rows starting "2014/" are YYYY/DD/MM (with or without a time)
            time_formats=("%m/%d/%Y %I:%M:%S %p", "%Y/%d/%m %H:%M:%S", "%Y/%d/%m"),
            time_precision="minute",
            type="Primary Type",
            subtype="Description",
            premise="Location Description",
            arrest="Arrest",
            extra={"district": "District"},
            coords=(CoordSpec(kind="lonlat", x="Longitude", y="Latitude"),),
            scheme="chicago",
            bbox=_CHICAGO_BBOX,
        ),
    ),
)
PORTLAND = Profile(
    name="portland",
    layouts=(
        Layout(
            name="portland-nij",
            delimiter=";",
            timezone="America/Los_Angeles",
            time="occ_date",
            time_formats=("%d/%m/%Y",),
            time_precision="day",
            type="CALL GROUPS",
            subtype="CASE DESC",
            premise=None,
            extra={
                "category": "CATEGORY",
                "case_type": "final_case_type",
                "census_tract": "census_tract",
            },
            coords=(CoordSpec(kind="xy", x="x_coordinate", y="y_coordinate", crs="EPSG:2913"),),
            scheme="portland",
            bbox=(-123.1, 45.3, -122.2, 45.8),
        ),
    ),
)
PROFILES: dict[str, Profile] = {"chicago": CHICAGO, "portland": PORTLAND}


def profile_from_toml(path: str | Path) -> Profile:
    """Read a generic profile from a TOML mapping.

    Example (a Chinese 110 export in GCJ-02)::

        name = "city-110"
        encoding = "gb18030"          # optional; default: detect
        [layout]
        delimiter = ","
        timezone = "Asia/Shanghai"
        id = "警情编号"
        time = "报警时间"
        time_formats = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"]
        type = "警情类别"
        subtype = "警情细类"
        scheme = "cn110"
        bbox = [120.8, 30.6, 122.2, 31.9]
        [[layout.coords]]
        kind = "lonlat"
        x = "经度"
        y = "纬度"
        frame = "gcj02"

    Raises
    ------
    DataFileError
        Naming the field that is missing or wrong.
    """
    try:
        doc = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise DataFileError(path, f"cannot read mapping: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, f"not valid TOML: {exc}") from exc
    layout = dict(doc.get("layout", {}))
    layout.setdefault("name", doc.get("name", Path(path).stem))
    try:
        return Profile(
            name=str(doc.get("name", Path(path).stem)),
            encoding=str(doc.get("encoding", "auto")),
            layouts=(Layout(**layout),),
        )
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DataFileError(path, f"{err['msg']}", field=f"layout.{loc}") from exc


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class IngestReport:
    """What an ingest run read, kept and rejected (and why)."""

    profile: str
    files: tuple[dict[str, Any], ...]
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int]
    unmapped_types: dict[str, int]
    ambiguous_local_times: int
    crs: str
    timezone: str
    area: str | None
    by_type_group: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        """Rows rejected for any reason."""
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "profile": self.profile,
            "files": list(self.files),
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rejected": self.rejected,
            "unmapped_types": self.unmapped_types,
            "ambiguous_local_times": self.ambiguous_local_times,
            "crs": self.crs,
            "timezone": self.timezone,
            "area": self.area,
            "by_type_group": self.by_type_group,
        }


@dataclass(frozen=True)
class IncidentTable:
    """Validated incidents.

    Attributes
    ----------
    frame
        One row per incident (columns: see module docstring). ``occurred_at`` is
        ``datetime64[ns, UTC]``; ``x_m``/``y_m`` are metres in ``crs``.
    crs
        The projected CRS of ``x_m``/``y_m``.
    timezone
        IANA name of the local time zone (for hour-of-day and weekday analysis).
    """

    frame: pd.DataFrame
    crs: CRS
    timezone: str

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def xy(self) -> np.ndarray:
        """(n, 2) float64 projected coordinates, metres."""
        return self.frame[["x_m", "y_m"]].to_numpy(dtype=np.float64)

    def local_time(self) -> pd.Series:
        """``occurred_at`` in the local time zone."""
        return self.frame["occurred_at"].dt.tz_convert(self.timezone)

    def subset(self, mask: np.ndarray | pd.Series) -> IncidentTable:
        """A new table with the rows where ``mask`` is True."""
        return IncidentTable(
            self.frame.loc[np.asarray(mask)].reset_index(drop=True), self.crs, self.timezone
        )

    def reproject(self, crs: CRS | str) -> IncidentTable:
        """The same incidents with ``x_m``/``y_m`` recomputed in ``crs`` (from lon/lat)."""
        crs = require_projected(crs, "incident table")
        tr = Transformer.from_crs(WGS84, crs, always_xy=True)
        frame = self.frame.copy()
        x, y = tr.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        frame["x_m"], frame["y_m"] = x, y
        return IncidentTable(frame, crs, self.timezone)

    def write_parquet(self, path: str | Path) -> None:
        """Write the table with its CRS and time zone in the Parquet metadata."""
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"xunfang"] = json.dumps(
            {"crs": self.crs.to_string(), "timezone": self.timezone}
        ).encode()
        pq.write_table(table.replace_schema_metadata(meta), path)


def read_incident_table(path: str | Path) -> IncidentTable:
    """Read a table written by :meth:`IncidentTable.write_parquet`.

    Raises
    ------
    DataFileError
        If the file is not such a table.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataFileError(path, f"not a readable Parquet file: {exc}") from exc
    raw = (table.schema.metadata or {}).get(b"xunfang")
    if raw is None:
        raise DataFileError(
            path,
            "not an xunfang incident table (no 'xunfang' metadata); "
            "create it with `xunfang ingest`",
        )
    meta = json.loads(raw)
    return IncidentTable(table.to_pandas(), CRS.from_user_input(meta["crs"]), meta["timezone"])


# --------------------------------------------------------------------------- reading
def _open_binary(path: Path) -> IO[bytes]:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _detect_encoding(path: Path, requested: str) -> str:
    if requested != "auto":
        return requested
    with _open_binary(path) as fh:
        sample = fh.read(1 << 20)
    try:
        sample.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and len(sample) == 1 << 20:
            return "utf-8-sig"  # a multi-byte character cut by the sample's end
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise DataFileError(
            path,
            "is not UTF-8 and its encoding could not be detected; pass --encoding or set "
            "encoding in the mapping (e.g. gb18030 for Chinese exports)",
            row=max(_bad_line(path, "utf-8") - 1, 1),
        )
    return str(best.encoding)


def _bad_line(path: Path, encoding: str) -> int:
    """1-based line number of the first line that does not decode."""
    with _open_binary(path) as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                return number
    return 0


def _read_raw(
    path: Path, profile: Profile, encoding: str | None
) -> tuple[pd.DataFrame, Layout, str]:
    if path.is_dir():
        raise DataFileError(path, "is a directory; give the files in it (e.g. DIR/*.csv.gz)")
    if not path.is_file():
        raise DataFileError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataFileError(path, "file is empty (0 bytes)")
    enc = _detect_encoding(path, encoding or profile.encoding)
    with _open_binary(path) as fh:
        head = fh.read(1 << 16)
    try:
        first_line = head.split(b"\n", 1)[0].decode(enc, errors="strict").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path,
            f"header is not valid {enc}; pass the file's encoding with --encoding or the "
            "mapping's encoding key (e.g. gb18030 for Chinese exports)",
            row=0,
        ) from exc
    if not first_line.strip():
        raise DataFileError(path, "file is empty (no header row)")
    layout = None
    for candidate in profile.layouts:
        header = [c.strip().strip('"') for c in first_line.split(candidate.delimiter)]
        if all(col in header for col in candidate.required_columns()):
            layout = candidate
            break
    if layout is None:
        # name the columns missing from the layout this file comes closest to
        def _missing(lay: Layout) -> list[tuple[str, str]]:
            head = [c.strip().strip('"') for c in first_line.split(lay.delimiter)]
            return [(c, r) for c, r in lay.required_columns().items() if c not in head]

        best = min(profile.layouts, key=lambda lay: len(_missing(lay)))
        header = [c.strip().strip('"') for c in first_line.split(best.delimiter)]
        missing = _missing(best)
        col, role = missing[0]
        raise DataFileError(
            path,
            f"missing column {col!r} ({role}) required by profile {profile.name!r}"
            + (
                f" (and {len(missing) - 1} more: {', '.join(c for c, _ in missing[1:])})"
                if len(missing) > 1
                else ""
            )
            + (f" (layout {best.name})" if len(profile.layouts) > 1 else "")
            + f"; the header has: {', '.join(header[:30])}",
            field=col,
        )
    usecols = list(layout.required_columns())
    try:
        raw = pd.read_csv(
            path,
            sep=layout.delimiter,
            usecols=usecols,
            dtype=str,
            encoding=enc,
            keep_default_na=False,
            na_values=[""],
            compression="infer",
            engine="c",
        )
    except UnicodeDecodeError as exc:
        line = _bad_line(path, enc)
        raise DataFileError(
            path,
            f"bytes that are not valid {enc}; pass the file's encoding with --encoding or the "
            "mapping's encoding key (e.g. gb18030 for Chinese exports)",
            row=max(line - 1, 1),
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataFileError(path, f"malformed CSV: {exc}") from exc
    if raw.empty:
        raise DataFileError(path, "has a header but no data rows")
    return raw, layout, enc


def _parse_times(values: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, np.ndarray]:
    """Naive local datetimes; each row takes the first format that parses it (NaT if none).

    Also returns a boolean mask of the rows parsed by a format without a time of day.
    """
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    date_only = np.zeros(len(values), dtype=bool)
    todo = values.notna()
    text = values.astype("string").str.strip()
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok].astype("datetime64[ns]")
        if not any(code in fmt for code in ("%H", "%I")):
            date_only[values.index.get_indexer(ok[ok].index)] = True
        todo &= out.isna()
    return out, date_only


def _localize(naive: pd.Series, tz: str) -> tuple[pd.Series, int]:
    """Local wall-clock times -> UTC. Times that fall twice (autumn clock change) take the
    daylight-saving reading; times that do not exist (spring) are shifted forward. Both are
    counted as ambiguous, never dropped."""
    aware = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    odd = (aware.isna() & naive.notna()).to_numpy()
    if odd.any():  # only the few rows at a clock change are localised again, by the rule
        aware[odd] = naive[odd].dt.tz_localize(
            tz, ambiguous=np.ones(int(odd.sum()), dtype=bool), nonexistent="shift_forward"
        )
    return aware.dt.tz_convert("UTC"), int(odd.sum())


def _to_number(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of cells that held text that is not a number."""
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    text_bad = s.notna().to_numpy() & np.isnan(num)
    return num, text_bad


def _in_bbox(
    lon: np.ndarray, lat: np.ndarray, bbox: tuple[float, float, float, float]
) -> np.ndarray:
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


def _locate(
    path: Path, raw: pd.DataFrame, layout: Layout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS-84 lon, lat of each row, and a reason code (0 ok, 1 missing, 2 invalid)."""
    n = len(raw)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    invalid = np.zeros(n, dtype=bool)
    # frame checks (swapped axes, wrong CRS) compare with the source's plausible extent,
    # never with a study area: a city-wide file is mostly outside any one district
    bbox = layout.bbox
    for spec in layout.coords:
        todo = np.isnan(lon)
        if not todo.any():
            break
        x, xbad = _to_number(raw[spec.x])
        y, ybad = _to_number(raw[spec.y])
        have = todo & np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
        invalid |= todo & (xbad | ybad)
        if not have.any():
            continue
        if spec.kind == "lonlat":
            xx, yy = x[have], y[have]
            in_range = (np.abs(xx) <= 180) & (np.abs(yy) <= 90)
            _check_swap(path, spec, xx, yy, in_range, bbox)
            if spec.frame != "wgs84":
                cx, cy = to_wgs84(xx, yy, spec.frame)
                xx, yy = np.asarray(cx, dtype=np.float64), np.asarray(cy, dtype=np.float64)
            idx = np.flatnonzero(have)
            lon[idx[in_range]] = xx[in_range]
            lat[idx[in_range]] = yy[in_range]
            invalid[idx[~in_range]] = True
        else:
            crs = CRS.from_user_input(spec.crs)
            tr = Transformer.from_crs(crs, WGS84, always_xy=True)
            tx, ty = tr.transform(x[have], y[have])
            tx, ty = np.asarray(tx), np.asarray(ty)
            _check_crs(path, spec, crs, tx, ty, bbox)
            ok = np.isfinite(tx) & np.isfinite(ty)
            idx = np.flatnonzero(have)
            lon[idx[ok]] = tx[ok]
            lat[idx[ok]] = ty[ok]
            invalid[idx[~ok]] = True
    reason = np.zeros(n, dtype=np.int8)
    missing = np.isnan(lon)
    reason[missing] = 1
    reason[missing & invalid] = 2
    return lon, lat, reason


def _check_swap(
    path: Path,
    spec: CoordSpec,
    lon: np.ndarray,
    lat: np.ndarray,
    in_range: np.ndarray,
    bbox: tuple[float, float, float, float] | None,
) -> None:
    if len(lon) < MIN_ROWS_FOR_FRAME_CHECK:
        return
    if bbox is not None:
        inside = _in_bbox(lon, lat, bbox).mean()
        swapped = _in_bbox(lat, lon, bbox).mean()
    else:
        inside = in_range.mean()
        swapped = ((np.abs(lat) <= 180) & (np.abs(lon) <= 90)).mean()
    if inside < SWAP_SHARE and swapped > SWAP_SHARE:
        first = int(np.flatnonzero(~(_in_bbox(lon, lat, bbox) if bbox else in_range))[0]) + 1
        raise DataFileError(
            path,
            f"{1 - inside:.0%} of the positions fall outside the area but {swapped:.0%} fall "
            f"inside when longitude and latitude are swapped: the columns look swapped "
            f"(e.g. row {first}: {spec.x}={lon[first - 1]}, {spec.y}={lat[first - 1]}); "
            f"map x to {spec.y!r} and y to {spec.x!r}",
            field=spec.x,
        )


def _check_crs(
    path: Path,
    spec: CoordSpec,
    crs: CRS,
    lon: np.ndarray,
    lat: np.ndarray,
    bbox: tuple[float, float, float, float] | None,
) -> None:
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.any():
        raise CRSError(
            f"{path}: no x/y in columns {spec.x!r}/{spec.y!r} can be transformed "
            f"from {crs.to_string()}: is the CRS right?"
        )
    if finite.sum() < MIN_ROWS_FOR_FRAME_CHECK:
        return
    check = bbox
    if check is None and crs.area_of_use is not None:
        check = crs.area_of_use.bounds
    if check is None:
        return
    inside = _in_bbox(lon[finite], lat[finite], check).mean()
    if inside < SWAP_SHARE:
        raise DataFileError(
            path,
            f"only {inside:.0%} of the x/y positions fall inside the expected area "
            f"({check[0]:.3f}..{check[2]:.3f} E, {check[1]:.3f}..{check[3]:.3f} N) when read "
            f"as {crs.to_string()} ({crs.name}); is the CRS right (feet vs metres, zone)?",
            field=spec.x,
        )


# --------------------------------------------------------------------------- ingest
def ingest(
    paths: Sequence[str | Path],
    profile: Profile | str,
    *,
    crs: CRS | str | None = None,
    area: BaseGeometry | None = None,
    area_name: str | None = None,
    encoding: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> tuple[IncidentTable, pd.DataFrame, IngestReport]:
    """Read, validate and project incident files.

    Parameters
    ----------
    paths
        One or more CSV files, plain or gzip.
    profile
        A :class:`Profile` or the name of a built-in one (``chicago``, ``portland``).
    crs
        Projected analysis CRS (metres); default: the UTM zone of the median position.
    area
        Optional study-area polygon in WGS-84 degrees; rows outside it are rejected as
        ``outside_area``. Without it, the profile's plausible bounding box is used.
    area_name
        Name of the area, for the report.
    encoding
        Text encoding of every file; default: the profile's (``auto`` detects UTF-8, else
        uses charset-normalizer, e.g. for GBK/GB18030 exports).
    taxonomy
        Type-group table; default the shipped one.

    Returns
    -------
    (table, rejected, report)
        ``rejected`` holds every rejected row with ``reason``, ``source_file``,
        ``source_row`` and its raw fields.

    Raises
    ------
    DataFileError
        For a missing or empty file, a missing column, undecodable bytes, swapped
        lat/lon or coordinates that do not match the stated CRS — naming file, row, field.
    """
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise DataFileError(
                profile,
                f"unknown profile; use one of {sorted(PROFILES)} or --mapping FILE.toml",
                field="profile",
            )
        profile = PROFILES[profile]
    if not paths:
        raise DataFileError("(none)", "no input files given")
    taxonomy = taxonomy or load_taxonomy()
    parts: list[pd.DataFrame] = []
    files_info: list[dict[str, Any]] = []
    timezones: set[str] = set()
    for p in paths:
        path = Path(p)
        try:
            raw, layout, enc = _read_raw(path, profile, encoding)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataFileError(
                path,
                f"the compressed file is truncated or corrupt ({exc}); download or copy it again",
            ) from exc
        timezones.add(layout.timezone)
        lon, lat, creason = _locate(path, raw, layout)
        naive, date_only = _parse_times(raw[layout.time], layout.time_formats)
        occurred, n_amb = _localize(naive, layout.timezone)
        rows = np.arange(1, len(raw) + 1)
        ids = (
            raw[layout.id].astype("string").str.strip()
            if layout.id
            else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        if ids.isna().any():  # no id: the file name and row stand in for it
            missing = ids.isna().to_numpy()
            ids[missing] = [f"{path.name}:{r}" for r in rows[missing]]
        groups, unmapped = taxonomy.classify(
            layout.scheme,
            raw[layout.type],
            raw[layout.subtype] if layout.subtype else pd.Series("", index=raw.index),
            raw[layout.premise] if layout.premise else pd.Series("", index=raw.index),
        )
        part = pd.DataFrame(
            {
                "incident_id": ids.to_numpy(),
                "occurred_at": occurred.reset_index(drop=True),
                "time_precision": np.where(date_only, "day", layout.time_precision),
                "type_group": groups.to_numpy(),
                "type": raw[layout.type].astype("string").str.strip().to_numpy(),
                "subtype": (
                    raw[layout.subtype].astype("string").str.strip().to_numpy()
                    if layout.subtype
                    else pd.NA
                ),
                "premise": (
                    raw[layout.premise].astype("string").str.strip().to_numpy()
                    if layout.premise
                    else pd.NA
                ),
                "lon": lon,
                "lat": lat,
                "arrest": (
                    raw[layout.arrest]
                    .astype("string")
                    .str.strip()
                    .str.lower()
                    .map(
                        {
                            "true": True,
                            "false": False,
                            "y": True,
                            "n": False,
                            "1": True,
                            "0": False,
                            "是": True,
                            "否": False,
                        }
                    )
                    .astype("boolean")
                    .to_numpy()
                    if layout.arrest
                    else pd.NA
                ),
            }
        )
        part["occurred_at"] = pd.to_datetime(part["occurred_at"], utc=True)
        for out, col in layout.extra.items():
            part[out] = raw[col].astype("string").str.strip().to_numpy()
        part["source_file"] = path.name
        part["source_row"] = rows
        part["_creason"] = creason
        part["_unmapped"] = unmapped.to_numpy()
        part["_raw_type"] = raw[layout.type].astype("string").to_numpy()
        parts.append(part)
        files_info.append(
            {
                "path": str(path),
                "layout": layout.name,
                "encoding": enc,
                "rows": len(raw),
                "ambiguous_local_times": n_amb,
            }
        )
    if len(timezones) > 1:
        raise DataFileError(
            ", ".join(str(p) for p in paths),
            f"files are in different time zones {sorted(timezones)}: ingest them separately",
        )
    df = pd.concat(parts, ignore_index=True)
    reason = pd.Series(pd.NA, index=df.index, dtype="string")
    reason[df["_creason"].to_numpy() == 1] = "missing_coordinates"
    reason[df["_creason"].to_numpy() == 2] = "invalid_coordinates"
    reason[reason.isna() & df["occurred_at"].isna()] = "unparseable_time"
    lon = df["lon"].to_numpy()
    lat = df["lat"].to_numpy()
    located = reason.isna().to_numpy()
    if area is not None:
        inside = np.zeros(len(df), dtype=bool)
        inside[located] = shapely.contains_xy(area, lon[located], lat[located])
    else:
        bbox = profile.layouts[0].bbox
        inside = _in_bbox(lon, lat, bbox) if bbox else np.ones(len(df), dtype=bool)
    reason[located & ~inside] = "outside_area"
    dup = df["incident_id"].duplicated(keep="first").to_numpy()
    reason[reason.isna().to_numpy() & dup] = "duplicate_id"
    ok = reason.isna().to_numpy()

    rejected = df.loc[~ok].drop(columns=["_creason", "_unmapped", "_raw_type"]).copy()
    rejected.insert(0, "reason", reason[~ok].to_numpy())
    good = df.loc[ok].reset_index(drop=True)
    if good.empty:
        target_crs = require_projected(crs, "analysis") if crs is not None else None
        if target_crs is None:
            raise DataFileError(
                ", ".join(str(p) for p in paths),
                f"no usable rows: every row was rejected ({dict(Counter(rejected['reason']))})",
            )
    else:
        target_crs = (
            require_projected(crs, "analysis")
            if crs is not None
            else utm_crs_for(float(good["lon"].median()), float(good["lat"].median()))
        )
    tr = Transformer.from_crs(WGS84, target_crs, always_xy=True)
    x, y = tr.transform(good["lon"].to_numpy(), good["lat"].to_numpy())
    good.insert(good.columns.get_loc("lat") + 1, "x_m", np.asarray(x))
    good.insert(good.columns.get_loc("x_m") + 1, "y_m", np.asarray(y))
    unmapped_counts = good.loc[good["_unmapped"], "_raw_type"].value_counts()
    good = good.drop(columns=["_creason", "_unmapped", "_raw_type"])
    for col in (
        "incident_id",
        "type_group",
        "type",
        "subtype",
        "premise",
        "time_precision",
        "source_file",
    ):
        good[col] = good[col].astype("string")
    counts = Counter(rejected["reason"])
    report = IngestReport(
        profile=profile.name,
        files=tuple(files_info),
        rows_read=len(df),
        rows_accepted=len(good),
        rejected={r: int(counts.get(r, 0)) for r in REASONS},
        unmapped_types={str(k): int(v) for k, v in unmapped_counts.items()},
        ambiguous_local_times=sum(f["ambiguous_local_times"] for f in files_info),
        crs=target_crs.to_string(),
        timezone=timezones.pop(),
        area=area_name,
        by_type_group={str(k): int(v) for k, v in good["type_group"].value_counts().items()},
    )
    table = IncidentTable(good, target_crs, report.timezone)
    return table, rejected.reset_index(drop=True), report


def write_outputs(
    out_dir: str | Path, table: IncidentTable, rejected: pd.DataFrame, report: IngestReport
) -> dict[str, Path]:
    """Write ``incidents.parquet``, ``rejected.csv`` and ``ingest_report.json`` to ``out_dir``.

    Each file is written to a temporary name and renamed, so a failed run leaves no half file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "incidents": out / "incidents.parquet",
        "rejected": out / "rejected.csv",
        "report": out / "ingest_report.json",
    }
    tmp = {k: v.with_suffix(v.suffix + ".tmp") for k, v in paths.items()}
    try:
        table.write_parquet(tmp["incidents"])
        rejected.to_csv(tmp["rejected"], index=False)
        buf = io.StringIO()
        json.dump(report.to_dict(), buf, indent=2, ensure_ascii=False)
        tmp["report"].write_text(buf.getvalue(), encoding="utf-8")
    except BaseException:  # an error or Ctrl-C: leave no half-written file behind
        for t in tmp.values():
            t.unlink(missing_ok=True)
        raise
    for k, v in paths.items():
        tmp[k].replace(v)
    return paths
