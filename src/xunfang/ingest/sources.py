"""Download the public data sources into the data directory, with a progress bar and a cache.

For users without a copy of the shared data, ``xunfang data fetch chicago`` downloads the same
public sources into the layout that the rest of xunfang reads (see :mod:`xunfang.config`)::

    DATA_DIR/chicago/incidents_2014_2015/chicago_crimes_<YYYY-MM>.csv.gz   2014-01 .. 2015-06,
                                      one gzip CSV per month, split from the yearly exports
    DATA_DIR/chicago/boundaries/police_districts.geojson              Socrata geospatial exports
    DATA_DIR/chicago/boundaries/community_areas.geojson
    DATA_DIR/chicago/boundaries/police_beats_dec2012.geojson
    DATA_DIR/chicago/stations/Police_Stations.csv
    DATA_DIR/chicago/schools/ChicagoPublicSchools_2011-12.csv
    DATA_DIR/chicago/road_network/osm_walk_by_community_area/<AREA>.graphml.gz   (--with-roads)

How a download works (:func:`fetch`)
------------------------------------
1. The URL is rewritten when ``Settings.source_base_url`` (``XUNFANG_SOURCE_BASE_URL``) is set:
   its scheme and host (and path prefix, if any) replace the source's, the path and query are
   kept. That is how mirrors and the tests (a local HTTP server) are used.
2. The cache, ``Settings.cache_dir / "downloads"``, is keyed by the SHA-256 of the final URL.
   A cached file (with its ``.json`` record of URL, size and SHA-256) is reused unless
   ``force=True``; the result says "cached" or "downloaded" for every file.
3. A download streams with :mod:`requests` (chunked, connect/read timeout, 2 retries on
   connection errors, timeouts, truncated bodies, HTTP 429 and 5xx; none on other 4xx), shows a
   :mod:`rich` progress bar (total from ``Content-Length`` when the server sends it), hashes as
   it writes into a temporary file, checks the expected size and SHA-256 when the source gives
   them, and only then renames the file into the cache.
4. The cached file is copied to a temporary file beside the target and renamed over it
   (:func:`os.replace`), so the target name never holds a partial file.

The road graphs (:func:`fetch_roads`) are built from OpenStreetMap with osmnx through the
Overpass API, as the shared copy was (``ox.graph_from_polygon(area, network_type="walk")`` per
community area); they need the internet and are not part of :func:`fetch`.

Differences from the shared copy (/work/shared/data), all from the portal changing its exports
since those copies were made (checked against the SOURCE.txt files, not live): the yearly
incident CSVs are plain CSV with a few more columns (``Year``, ``Location``) than the monthly
``.csv.gz`` files; the beat export has lower-case property names (``beat_num``, ...); the
schools export uses the portal's column names with spaces where the shared copy (an IBM course
copy) has underscores; the stations dataset is the current one. Readers must accept both.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np
import requests
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from xunfang import strict_json
from xunfang.config import Settings
from xunfang.errors import DownloadError, NetworkError, ValidationError
from xunfang.outputs import new_file_mode

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "CHICAGO_DATASET_IDS",
    "CITIES",
    "ROADS_DIR",
    "FetchResult",
    "FetchStatus",
    "FetchedFile",
    "Source",
    "area_file_stem",
    "chicago_sources",
    "fetch",
    "fetch_roads",
    "resolve_url",
    "sources_for",
]

FetchStatus = Literal["downloaded", "cached", "built", "present"]

_CHUNK_BYTES = 1 << 16
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[a-z0-9_]+$")

CHICAGO_PORTAL = "https://data.cityofchicago.org"
PORTAL_TERMS = (
    "City of Chicago Data Portal terms of use "
    "(https://www.chicago.gov/city/en/narr/foia/data_disclaimer.html)"
)

#: Socrata 4x4 dataset ids on the Chicago Data Portal. The portal retires and re-publishes
#: datasets now and then, so ids can change: override them with
#: ``chicago_sources(dataset_ids={...})``, ``fetch(..., dataset_ids={...})`` or
#: ``xunfang data fetch chicago --dataset-id NAME=ID``. Where they come from:
#: incidents per year: chicagocrimedata/datastore data/lookups/socrata-crime-incident-years.csv
#: (see chicago/incidents_2014_2015/SOURCE.txt); police districts "Boundaries - Police
#: Districts (current)" fthy-xz3r (properties dist_label, dist_num; 24zt-jpfn is its tabular
#: twin); community areas "Boundaries - Community Areas (current)" cauq-8yn6 (property
#: community; igwz-8jzy is the newer dataset); beats "Boundaries - Police Beats (effective
#: 12/19/2012)" dq28-4w9c (kd6k-pxkv is the beats DEPRECATED on 12/18/2012, aerh-rz74 the
#: current beats); Police Stations z8bn-74gv; CPS Progress Report Cards 2011-12 9xs2-f89t.
CHICAGO_DATASET_IDS: Mapping[str, str] = {
    "incidents_2014": "qnmj-8ku6",
    "incidents_2015": "vwwp-7yr9",
    "police_districts": "fthy-xz3r",
    "community_areas": "cauq-8yn6",
    "police_beats": "dq28-4w9c",
    "police_stations": "z8bn-74gv",
    "schools": "9xs2-f89t",
}

OPENCP_SPLIT_FILE = "chicago/incidents/Crimes_September_2014.csv"
"""The incident file of open_cp's published reference split (September 2014), relative to
the data directory: ``xunfang forecast reproduce-opencp`` reads it with
:data:`OPENCP_SPLIT_PROFILE` in :data:`OPENCP_SPLIT_CRS`. The split is a fixed published
dataset, so its city is named here, with the city's other sources, not in the command."""
OPENCP_SPLIT_PROFILE = "chicago"
OPENCP_SPLIT_CRS = "EPSG:26916"

_DATASET_ID_RE = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")

INCIDENT_MONTHS = ((2014, "2014-01", "2014-12"), (2015, "2015-01", "2015-06"))
"""The months of each yearly export kept as monthly files: 2014-01 .. 2015-06, the 18
months the README's commands, the demo and the example scenarios read."""


@dataclass(frozen=True)
class Source:
    """One public file to download.

    Attributes
    ----------
    name
        Short identifier, lower case with underscores (``"police_stations"``).
    group
        What kind of data it is (``"incidents"``, ``"boundaries"``, ...); ``--only`` accepts
        names and groups.
    url
        Where the file is published.
    target
        Path relative to the data directory, POSIX style (``"chicago/stations/x.csv"``).
    description
        One line for listings.
    licence
        Licence or terms of use of the content.
    sha256
        Expected SHA-256 (lower-case hex) of the file, when it is fixed; live portal exports
        change when the data is updated, so the Chicago sources leave it unset.
    size_bytes
        Expected size in bytes, when fixed.
    months
        ``(first, last)`` months (``"YYYY-MM"``, inclusive): the downloaded CSV is split
        into one gzip CSV per month of that span, written to ``target`` with ``{month}``
        replaced; rows of other months are left out (counted in :attr:`FetchedFile.note`).
    date_column
        With ``months``: the column whose ``MM/DD/YYYY`` date gives a row's month.

    Raises
    ------
    ValidationError
        On construction, if ``name`` is not lower-case snake case, ``target`` is absolute or
        leaves the data directory, ``sha256`` is not 64 hex digits or ``size_bytes`` < 0.
    """

    name: str
    group: str
    url: str
    target: str
    description: str
    licence: str
    sha256: str | None = None
    size_bytes: int | None = None
    months: tuple[str, str] | None = None
    date_column: str = "Date"

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValidationError(
                f"Source.name {self.name!r} must be lower case letters, digits and underscores"
            )
        path = PurePosixPath(self.target)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValidationError(
                f"Source {self.name!r}: target {self.target!r} must be a relative path inside "
                "the data directory (no leading '/', no '..')"
            )
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ValidationError(
                f"Source {self.name!r}: sha256 must be 64 lower-case hex digits, "
                f"got {self.sha256!r}"
            )
        if self.size_bytes is not None and self.size_bytes < 0:
            raise ValidationError(
                f"Source {self.name!r}: size_bytes must be >= 0, got {self.size_bytes}"
            )
        if self.months is not None and (
            "{month}" not in self.target
            or not all(re.fullmatch(r"\d{4}-\d{2}", m) for m in self.months)
            or self.months[0] > self.months[1]
        ):
            raise ValidationError(
                f"Source {self.name!r}: months must be (first, last) as YYYY-MM and the "
                "target must contain {month}"
            )


@dataclass(frozen=True)
class FetchedFile:
    """One file placed in the data directory.

    Attributes
    ----------
    name
        The source name (or, for road graphs, ``"roads:<AREA>"``).
    url
        The URL actually used (after ``source_base_url``); for road graphs, the Overpass API.
    path
        Absolute path of the file in the data directory.
    size_bytes
        Size of the file, bytes.
    sha256
        SHA-256 of the file, lower-case hex.
    status
        ``"downloaded"`` (over the network now), ``"cached"`` (from the download cache),
        ``"built"`` (road graph built now) or ``"present"`` (road graph already there, kept).
    """

    name: str
    url: str
    path: Path
    size_bytes: int
    sha256: str
    status: FetchStatus
    note: str = ""
    """What was done beyond a copy (e.g. the rows of other months left out)."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` or :func:`fetch_roads` did, one entry per file, in registry order.

    Attributes
    ----------
    city
        The city fetched.
    data_dir
        The data directory the files were written under.
    files
        One :class:`FetchedFile` per source.
    """

    city: str
    data_dir: Path
    files: tuple[FetchedFile, ...]

    def with_status(self, status: FetchStatus) -> tuple[FetchedFile, ...]:
        """The files that ended with ``status``."""
        return tuple(f for f in self.files if f.status == status)

    @property
    def downloaded(self) -> tuple[FetchedFile, ...]:
        """Files that went over the network in this run."""
        return self.with_status("downloaded")

    @property
    def cached(self) -> tuple[FetchedFile, ...]:
        """Files taken from the download cache."""
        return self.with_status("cached")


# --- registry -----------------------------------------------------------------------------


def _socrata_csv(dataset_id: str) -> str:
    return f"{CHICAGO_PORTAL}/api/views/{dataset_id}/rows.csv?accessType=DOWNLOAD"


def _socrata_geojson(dataset_id: str) -> str:
    return f"{CHICAGO_PORTAL}/api/geospatial/{dataset_id}?method=export&format=GeoJSON"


def chicago_sources(dataset_ids: Mapping[str, str] | None = None) -> tuple[Source, ...]:
    """The Chicago sources, with optional replacement Socrata dataset ids.

    Parameters
    ----------
    dataset_ids
        ``{source name: dataset id}`` to override :data:`CHICAGO_DATASET_IDS`, e.g.
        ``{"police_beats": "aerh-rz74"}``.

    Returns
    -------
    tuple of Source
        In download order: incidents, boundaries, stations, schools.

    Raises
    ------
    ValidationError
        If a name is unknown (the message lists the valid ones) or an id is not of the
        Socrata form ``xxxx-xxxx``.
    """
    ids = dict(CHICAGO_DATASET_IDS)
    for name, dataset_id in (dataset_ids or {}).items():
        if name not in ids:
            raise ValidationError(
                f"dataset_ids: unknown source {name!r}; valid names: {', '.join(ids)}"
            )
        if not _DATASET_ID_RE.match(dataset_id):
            raise ValidationError(
                f"dataset_ids[{name!r}] = {dataset_id!r} is not a Socrata id like 'abcd-1234'"
            )
        ids[name] = dataset_id
    incidents = tuple(
        Source(
            name=f"incidents_{year}",
            group="incidents",
            url=_socrata_csv(ids[f"incidents_{year}"]),
            target="chicago/incidents_2014_2015/chicago_crimes_{month}.csv.gz",
            description=(
                f'Chicago Police Department crime incidents, "Crimes - {year}" (whole city), '
                f"split into one gzip CSV per month, {first} .. {last} (the shared copy's layout)"
            ),
            licence=PORTAL_TERMS,
            months=(first, last),
        )
        for year, first, last in INCIDENT_MONTHS
    )
    others = (
        Source(
            name="police_districts",
            group="boundaries",
            url=_socrata_geojson(ids["police_districts"]),
            target="chicago/boundaries/police_districts.geojson",
            description="Boundaries - Police Districts (current), 22 districts, GeoJSON WGS-84",
            licence=PORTAL_TERMS,
        ),
        Source(
            name="community_areas",
            group="boundaries",
            url=_socrata_geojson(ids["community_areas"]),
            target="chicago/boundaries/community_areas.geojson",
            description="Boundaries - Community Areas, 77 areas, GeoJSON WGS-84",
            licence=PORTAL_TERMS,
        ),
        Source(
            name="police_beats",
            group="boundaries",
            url=_socrata_geojson(ids["police_beats"]),
            target="chicago/boundaries/police_beats_dec2012.geojson",
            description="Boundaries - Police Beats (effective 12/19/2012), GeoJSON WGS-84",
            licence=PORTAL_TERMS,
        ),
        Source(
            name="police_stations",
            group="stations",
            url=_socrata_csv(ids["police_stations"]),
            target="chicago/stations/Police_Stations.csv",
            description="Police Stations: headquarters and the district stations, lat/lon",
            licence=PORTAL_TERMS,
        ),
        Source(
            name="schools",
            group="schools",
            url=_socrata_csv(ids["schools"]),
            target="chicago/schools/ChicagoPublicSchools_2011-12.csv",
            description="Chicago Public Schools - Progress Report Cards (2011-2012), lat/lon",
            licence=PORTAL_TERMS,
        ),
    )
    return incidents + others


_REGISTRY: Mapping[str, Callable[[Mapping[str, str] | None], tuple[Source, ...]]] = {
    "chicago": chicago_sources,
}
#: Cities that :func:`fetch` knows.
CITIES: tuple[str, ...] = tuple(_REGISTRY)


def sources_for(city: str, *, dataset_ids: Mapping[str, str] | None = None) -> tuple[Source, ...]:
    """The registered sources of ``city``.

    Raises
    ------
    ValidationError
        If the city is unknown (the message lists the known ones), or ``dataset_ids`` is
        invalid.
    """
    key = city.strip().lower()
    if key not in _REGISTRY:
        raise ValidationError(
            f"city {city!r} has no registered sources; known cities: {', '.join(CITIES)}"
        )
    return _REGISTRY[key](dataset_ids)


def _select(sources: Sequence[Source], only: Sequence[str] | None) -> tuple[Source, ...]:
    if not only:
        return tuple(sources)
    wanted = {w.strip().lower() for w in only}
    known = {s.name for s in sources} | {s.group for s in sources}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValidationError(
            f"only: unknown source {', '.join(map(repr, unknown))}; valid names: "
            f"{', '.join(s.name for s in sources)} (or groups: "
            f"{', '.join(dict.fromkeys(s.group for s in sources))})"
        )
    return tuple(s for s in sources if s.name in wanted or s.group in wanted)


def resolve_url(url: str, base_url: str = "") -> str:
    """The URL to download: ``url`` with its scheme and host replaced by ``base_url``'s.

    Parameters
    ----------
    url
        The source's published URL.
    base_url
        ``Settings.source_base_url``; empty leaves ``url`` unchanged. A path in it
        (``http://mirror/xunfang``) is put before the source's path; the query is kept.

    Raises
    ------
    ValidationError
        If ``base_url`` is not an http(s) URL with a host.
    """
    if not base_url:
        return url
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValidationError(
            f"source_base_url (XUNFANG_SOURCE_BASE_URL) {base_url!r} must be an http(s) URL "
            "with a host, like 'http://127.0.0.1:8000'"
        )
    parts = urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


# --- cache --------------------------------------------------------------------------------


def _cache_paths(cache_dir: Path, url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()
    folder = cache_dir / "downloads"
    return folder / key, folder / f"{key}.json"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_lookup(source: Source, url: str, cache_dir: Path) -> tuple[Path, int, str] | None:
    """(file, size, sha256) of a usable cache entry for ``url``, else None."""
    data_path, meta_path = _cache_paths(cache_dir, url)
    if not (data_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        size = int(meta["size_bytes"])
        sha = str(meta["sha256"])
        cached_url = str(meta["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if cached_url != url or data_path.stat().st_size != size:
        return None
    if source.size_bytes is not None and size != source.size_bytes:
        return None
    if source.sha256 is not None and (sha != source.sha256 or _file_sha256(data_path) != sha):
        return None
    return data_path, size, sha


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    """A temporary file in ``path``'s folder, removed unless it was renamed away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())  # as open() would, not mkstemp's 0600
    finally:
        os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _write_text_atomic(path: Path, text: str) -> None:
    with _temp_beside(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def _install(cached: Path, target: Path) -> None:
    """Copy ``cached`` to ``target`` through a temporary file and an atomic rename."""
    with _temp_beside(target) as tmp:
        shutil.copyfile(cached, tmp)
        os.replace(tmp, target)


_MDY_RE = re.compile(r"^\s*(\d{2})/\d{2}/(\d{4})")


def _install_months(
    cached: Path, data_dir: Path, source: Source, url: str, status: FetchStatus
) -> list[FetchedFile]:
    """Split a downloaded CSV into one gzip CSV per month of ``source.months`` (rows in
    file order, the header repeated in each), each written atomically.

    Raises
    ------
    DataFileError
        If the file has no ``source.date_column`` or a row's date is not ``MM/DD/YYYY``
        (naming the row).
    """
    from xunfang.errors import DataFileError

    first, last = source.months or ("", "")
    by_month: dict[str, list[list[str]]] = {}
    other = 0
    with open(cached, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or source.date_column not in header:
            raise DataFileError(
                f"{source.name} ({url})",
                f"has no column {source.date_column!r} to split by month (header: {header})",
                field=source.date_column,
            )
        col = header.index(source.date_column)
        for row_no, row in enumerate(reader, start=1):
            m = _MDY_RE.match(row[col]) if col < len(row) else None
            if m is None:
                raise DataFileError(
                    f"{source.name} ({url})",
                    f"date {row[col] if col < len(row) else ''!r} is not MM/DD/YYYY",
                    row=row_no,
                    field=source.date_column,
                )
            month = f"{m.group(2)}-{m.group(1)}"
            if first <= month <= last:
                by_month.setdefault(month, []).append(row)
            else:
                other += 1
    out = []
    for month in sorted(by_month):
        target = data_dir / PurePosixPath(source.target.replace("{month}", month))
        with _temp_beside(target) as tmp:
            with gzip.open(tmp, "wt", newline="", encoding="utf-8") as gz:
                writer = csv.writer(gz, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(by_month[month])
            os.replace(tmp, target)
        note = f"{len(by_month[month]):,} rows of {month}"
        if other and month == max(by_month):
            note += f"; {other:,} rows outside {first} .. {last} left out"
        out.append(
            FetchedFile(
                f"{source.name}_{month.replace('-', '_')}",
                url,
                target,
                target.stat().st_size,
                _file_sha256(target),
                status,
                note,
            )
        )
    return out


# --- download -----------------------------------------------------------------------------

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Retryable(Exception):
    """A failure worth another attempt (its message says what happened)."""


def _advice(source: Source) -> str:
    return (
        f"Check the network connection (and any proxy or XUNFANG_SOURCE_BASE_URL mirror) and "
        f"run again (finished files are cached), or set XUNFANG_DATA_DIR (--data-dir) to an "
        f"existing copy of the data. To fetch the rest without it: --only with the other "
        f"names; if the dataset id changed, use --dataset-id {source.name}=<new id>."
    )


def _download_once(
    session: requests.Session,
    source: Source,
    url: str,
    tmp: Path,
    *,
    timeout_s: float,
    on_progress: Callable[[int, int | None], None],
) -> tuple[int, str]:
    """Stream ``url`` into ``tmp``; return (size in bytes, sha256). Raises _Retryable."""
    try:
        with session.get(url, stream=True, timeout=(min(timeout_s, 30.0), timeout_s)) as resp:
            if resp.status_code in _RETRY_STATUS:
                raise _Retryable(f"HTTP {resp.status_code} {resp.reason}")
            if resp.status_code >= 400:
                raise DownloadError(
                    f"source {source.name!r}: could not download {url}: the server answered "
                    f"HTTP {resp.status_code} {resp.reason}. {_advice(source)}"
                )
            length_header = resp.headers.get("Content-Length")
            wire_total = int(length_header) if length_header and length_header.isdigit() else None
            digest = hashlib.sha256()
            size = 0
            with tmp.open("wb") as fh:
                for chunk in resp.iter_content(chunk_size=_CHUNK_BYTES):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    on_progress(resp.raw.tell(), wire_total)
            wire_read = resp.raw.tell()
            if wire_total is not None and wire_read < wire_total:
                raise _Retryable(f"the connection closed after {wire_read} of {wire_total} bytes")
            return size, digest.hexdigest()
    except _TRANSIENT as exc:
        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc


def _download(
    session: requests.Session,
    source: Source,
    url: str,
    cache_dir: Path,
    *,
    timeout_s: float,
    retries: int,
    retry_backoff_s: float,
    on_progress: Callable[[int, int | None], None],
) -> tuple[Path, int, str]:
    """Download into the cache (atomically); return (cache file, size, sha256)."""
    data_path, meta_path = _cache_paths(cache_dir, url)
    failures: list[str] = []
    for attempt in range(retries + 1):
        with _temp_beside(data_path) as tmp:
            try:
                size, sha = _download_once(
                    session, source, url, tmp, timeout_s=timeout_s, on_progress=on_progress
                )
            except _Retryable as exc:
                failures.append(str(exc))
                if attempt < retries:
                    time.sleep(retry_backoff_s * (attempt + 1))
                continue
            if source.size_bytes is not None and size != source.size_bytes:
                raise DownloadError(
                    f"source {source.name!r}: {url} gave {size} bytes, expected "
                    f"{source.size_bytes}; the published file has changed or the download is "
                    f"damaged. Nothing was written. {_advice(source)}"
                )
            if source.sha256 is not None and sha != source.sha256:
                raise DownloadError(
                    f"source {source.name!r}: SHA-256 mismatch for {url}: got {sha}, expected "
                    f"{source.sha256}; the published file has changed or the download is "
                    f"damaged. Nothing was written. {_advice(source)}"
                )
            os.replace(tmp, data_path)
        meta = {
            "url": url,
            "source": source.name,
            "size_bytes": size,
            "sha256": sha,
            "fetched_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_text_atomic(meta_path, strict_json.dumps(meta, indent=2))
        return data_path, size, sha
    raise DownloadError(
        f"source {source.name!r}: could not download {url} after {retries + 1} "
        f"attempt{'s' if retries else ''} "
        f"({'; '.join(failures)}). {_advice(source)}"
    )


def _make_progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console if console is not None else Console(stderr=True),
    )


def fetch(
    city: str,
    settings: Settings,
    *,
    only: Sequence[str] | None = None,
    force: bool = False,
    progress: bool = True,
    dataset_ids: Mapping[str, str] | None = None,
    sources: Sequence[Source] | None = None,
    timeout_s: float = 60.0,
    retries: int = 2,
    retry_backoff_s: float = 1.0,
    console: Console | None = None,
    session: requests.Session | None = None,
) -> FetchResult:
    """Download the public sources of ``city`` into ``settings.data_dir``.

    Parameters
    ----------
    city
        A city of :data:`CITIES` (``"chicago"``).
    settings
        Gives ``data_dir`` (where files go, in the layout above), ``cache_dir`` (download
        cache) and ``source_base_url`` (mirror / test host).
    only
        Source names or groups to fetch (``["police_stations", "boundaries"]``); all when
        None or empty.
    force
        Download again even when the cache holds the URL.
    progress
        Show a rich progress bar per download (on stderr unless ``console`` is given).
    dataset_ids
        Replacement Socrata ids, ``{source name: id}`` (see :data:`CHICAGO_DATASET_IDS`).
    sources
        Use these sources instead of the city's registry (``city`` then only names the result).
    timeout_s
        Read timeout per request, seconds (connect timeout: the smaller of this and 30 s).
    retries
        Further attempts after a transient failure (connection error, timeout, truncated body,
        HTTP 408/429/5xx). Other HTTP errors fail at once.
    retry_backoff_s
        Wait before retry k (k = 1, 2, ...) is ``k * retry_backoff_s`` seconds.
    console
        Console for the progress bar.
    session
        A :class:`requests.Session` to use (one is made and closed otherwise).

    Returns
    -------
    FetchResult
        One :class:`FetchedFile` per selected source, with status "downloaded" or "cached".

    Raises
    ------
    ValidationError
        Unknown city or ``only`` name (the message lists the valid ones), bad dataset id,
        bad ``source_base_url``, or ``timeout_s``/``retries``/``retry_backoff_s`` out of range.
    DownloadError
        A source could not be downloaded (HTTP error, timeout, truncated body after the
        retries, size or SHA-256 mismatch). The message names the source and URL and what to
        do. Files fetched before it stay in place and in the cache; no partial file is left
        under a target or cache name.
    """
    if not timeout_s > 0:
        raise ValidationError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
    if retries < 0:
        raise ValidationError(f"retries must be >= 0, got {retries!r}")
    if retry_backoff_s < 0:
        raise ValidationError(f"retry_backoff_s must be >= 0 seconds, got {retry_backoff_s!r}")
    registry = tuple(sources) if sources is not None else sources_for(city, dataset_ids=dataset_ids)
    selected = _select(registry, only)
    data_dir = Path(settings.data_dir).expanduser().resolve()
    cache_dir = Path(settings.cache_dir).expanduser().resolve()
    urls = [resolve_url(s.url, settings.source_base_url) for s in selected]

    own_session = session is None
    http = session if session is not None else requests.Session()
    bar = _make_progress(console) if progress else None
    files: list[FetchedFile] = []
    try:
        if bar is not None:
            bar.start()
        for source, url in zip(selected, urls, strict=True):
            hit = None if force else _cache_lookup(source, url, cache_dir)
            status: FetchStatus
            if hit is not None:
                cached_path, size, sha = hit
                status = "cached"
            else:
                on_progress = _progress_callback(bar, source.name)
                cached_path, size, sha = _download(
                    http,
                    source,
                    url,
                    cache_dir,
                    timeout_s=timeout_s,
                    retries=retries,
                    retry_backoff_s=retry_backoff_s,
                    on_progress=on_progress,
                )
                status = "downloaded"
            if source.months is not None:
                files.extend(_install_months(cached_path, data_dir, source, url, status))
                continue
            target = data_dir / PurePosixPath(source.target)
            _install(cached_path, target)
            files.append(FetchedFile(source.name, url, target, size, sha, status))
    finally:
        if bar is not None:
            bar.stop()
        if own_session:
            http.close()
    return FetchResult(city=city, data_dir=data_dir, files=tuple(files))


def _progress_callback(bar: Progress | None, label: str) -> Callable[[int, int | None], None]:
    if bar is None:
        return lambda done, total: None
    task: list[TaskID] = []

    def update(done: int, total: int | None) -> None:
        if not task:
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    return update


# --- road graphs (OpenStreetMap via osmnx; needs the Overpass API) -------------------------

OVERPASS_NOTE = "OpenStreetMap via the Overpass API (osmnx)"
ROADS_DIR = "chicago/road_network/osm_walk_by_community_area"
_SUMMARY_NAME = "_areas_summary.csv"
_SUMMARY_FIELDS = ("community_area", "nodes", "edges", "min_lon", "min_lat", "max_lon", "max_lat")


def area_file_stem(name: str) -> str:
    """File stem of a community area's graph: upper case, runs of other characters as "_".

    ``"NEAR WEST SIDE"`` gives ``"NEAR_WEST_SIDE"``, ``"O'Hare"`` gives ``"OHARE"`` (the names
    used by the shared copy).
    """
    cleaned = name.upper().replace("'", "").replace("\u2019", "")
    return re.sub(r"[^A-Z0-9]+", "_", cleaned).strip("_")


def fetch_roads(
    city: str,
    settings: Settings,
    *,
    areas: Sequence[str] | None = None,
    force: bool = False,
    progress: bool = True,
    network_type: str = "walk",
    console: Console | None = None,
) -> FetchResult:
    """Build the OpenStreetMap street graph of each community area with osmnx and save it.

    For each area of ``chicago/boundaries/community_areas.geojson`` (fetched first when
    missing): ``ox.graph_from_polygon(area_polygon, network_type=network_type)``, then
    ``ox.save_graphml`` and gzip, written to a temporary file and renamed to
    ``road_network/osm_walk_by_community_area/<AREA>.graphml.gz``; ``_areas_summary.csv``
    (nodes, edges and lon/lat bounds per area) is updated. This queries the public Overpass
    API (network, and minutes for all 77 areas); osmnx caches its responses under
    ``settings.cache_dir / "osmnx"``. The graphs will differ from the shared copy (an OSM
    snapshot of about 2019): OpenStreetMap has changed since.

    Parameters
    ----------
    city
        Only ``"chicago"`` has community areas registered.
    settings
        Gives ``data_dir`` and ``cache_dir``.
    areas
        Community area names or file stems (``"LOOP"``, ``"near west side"``); all when None.
    force
        Rebuild graphs whose file already exists (otherwise they are kept, status "present").
    progress
        Show a progress bar over the areas.
    network_type
        osmnx network type; ``"walk"`` reproduces the shared copy.
    console
        Console for the progress bar.

    Returns
    -------
    FetchResult
        One entry per area, status "built" or "present"; ``url`` names the Overpass endpoint.

    Raises
    ------
    ValidationError
        Unknown city or area name (the message lists the valid ones).
    DownloadError
        The Overpass API could not be reached or answered with an error (names the area).
    NetworkError
        osmnx found no street network in an area's polygon.
    """
    if city.strip().lower() != "chicago":
        raise ValidationError(f"city {city!r}: road graphs are only registered for chicago")
    import geopandas as gpd
    import osmnx as ox

    data_dir = Path(settings.data_dir).expanduser().resolve()
    boundaries = data_dir / "chicago/boundaries/community_areas.geojson"
    if not boundaries.is_file():
        fetch(city, settings, only=["community_areas"], progress=progress, console=console)
    frame = gpd.read_file(boundaries)
    if "community" not in frame.columns:
        raise ValidationError(
            f"{boundaries}: no 'community' property; fetch the community areas again "
            "(xunfang data fetch chicago --only community_areas --force)"
        )
    frame = frame.to_crs("EPSG:4326")
    stems = [area_file_stem(str(n)) for n in frame["community"]]
    wanted = list(range(len(stems)))
    if areas:
        by_key = {stem: i for i, stem in enumerate(stems)}
        unknown = [a for a in areas if area_file_stem(a) not in by_key]
        if unknown:
            raise ValidationError(
                f"areas: unknown community area {', '.join(map(repr, unknown))}; "
                f"valid names: {', '.join(sorted(stems))}"
            )
        wanted = sorted({by_key[area_file_stem(a)] for a in areas})

    out_dir = data_dir / ROADS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    overpass = str(ox.settings.overpass_url)
    saved = (ox.settings.use_cache, ox.settings.cache_folder)
    ox.settings.use_cache = True
    ox.settings.cache_folder = str(Path(settings.cache_dir).expanduser() / "osmnx")
    summary: dict[str, dict[str, str]] = _read_summary(out_dir / _SUMMARY_NAME)
    files: list[FetchedFile] = []
    bar = _make_progress(console) if progress else None
    task = bar.add_task("road graphs", total=len(wanted)) if bar is not None else None
    try:
        if bar is not None:
            bar.start()
        for i in wanted:
            stem = stems[i]
            target = out_dir / f"{stem}.graphml.gz"
            status: FetchStatus = "present"
            if force or not target.is_file():
                graph = _build_area_graph(ox, frame.geometry.iloc[i], stem, network_type)
                _save_graphml_gz(ox, graph, target)
                summary[stem] = _summary_row(stem, graph)
                status = "built"
            files.append(
                FetchedFile(
                    name=f"roads:{stem}",
                    url=overpass,
                    path=target,
                    size_bytes=target.stat().st_size,
                    sha256=_file_sha256(target),
                    status=status,
                )
            )
            if bar is not None and task is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
        ox.settings.use_cache, ox.settings.cache_folder = saved
        if any(f.status == "built" for f in files):
            _write_summary(out_dir / _SUMMARY_NAME, summary)
    return FetchResult(city=city, data_dir=data_dir, files=tuple(files))


def _build_area_graph(ox: Any, polygon: Any, stem: str, network_type: str) -> nx.MultiDiGraph:
    # osmnx reports an HTTP error of the Overpass API as ResponseStatusCodeError (a ValueError)
    status_error = getattr(getattr(ox, "_errors", None), "ResponseStatusCodeError", None)
    http_errors: tuple[type[BaseException], ...] = (requests.RequestException,)
    if isinstance(status_error, type):
        http_errors = (*http_errors, status_error)
    try:
        graph: nx.MultiDiGraph = ox.graph_from_polygon(polygon, network_type=network_type)
    except http_errors as exc:
        raise DownloadError(
            f"road graph {stem!r}: the Overpass API request failed ({exc}). Check the network "
            "connection and try again later (Overpass limits request rates), or set "
            "XUNFANG_DATA_DIR to an existing copy of the data."
        ) from exc
    except ValueError as exc:  # osmnx's InsufficientResponseError and "no nodes" errors
        raise NetworkError(
            f"road graph {stem!r}: osmnx built no {network_type} network in the area ({exc})"
        ) from exc
    return graph


def _save_graphml_gz(ox: Any, graph: nx.MultiDiGraph, target: Path) -> None:
    with _temp_beside(target) as raw, _temp_beside(target) as packed:
        ox.save_graphml(graph, filepath=raw)
        with raw.open("rb") as src, gzip.open(packed, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(packed, target)


def _summary_row(stem: str, graph: nx.MultiDiGraph) -> dict[str, str]:
    xs = [float(d["x"]) for _, d in graph.nodes(data=True)]
    ys = [float(d["y"]) for _, d in graph.nodes(data=True)]

    def fmt(values: list[float], pick: Callable[[list[float]], float]) -> str:
        return f"{pick(values):.5f}" if values else ""

    return {
        "community_area": stem,
        "nodes": str(graph.number_of_nodes()),
        "edges": str(graph.number_of_edges()),
        "min_lon": fmt(xs, min),
        "min_lat": fmt(ys, min),
        "max_lon": fmt(xs, max),
        "max_lat": fmt(ys, max),
    }


def _read_summary(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["community_area"]: dict(row) for row in csv.DictReader(fh)}


def _write_summary(path: Path, rows: Mapping[str, Mapping[str, str]]) -> None:
    with _temp_beside(path) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=_SUMMARY_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for stem in sorted(rows):
                writer.writerow(rows[stem])
        os.replace(tmp, path)


# --- an OpenStreetMap extract for a user's boundary (Overpass API) -------------------------

OVERPASS_URL = "https://overpass-api.de/api/interpreter"
"""The public Overpass API endpoint (``XUNFANG_SOURCE_BASE_URL`` rewrites its host)."""
OSM_DRIVE_CLASSES = (
    "motorway|trunk|primary|secondary|tertiary|unclassified|residential|living_street|"
    "service|motorway_link|trunk_link|primary_link|secondary_link|tertiary_link|road"
)
"""The ``highway`` values an extract asks for (the road reader keeps the drivable ones)."""
DEFAULT_EXTRACT_MARGIN_M = 500.0
"""Margin around the boundary's bounding box, metres."""


def overpass_query(bbox_wgs84: tuple[float, float, float, float], *, timeout_s: int = 180) -> str:
    """The Overpass QL query for the drivable ways and their nodes in a box.

    Parameters
    ----------
    bbox_wgs84
        ``(min_lon, min_lat, max_lon, max_lat)``, degrees WGS-84.
    timeout_s
        Server-side time limit, seconds.

    Returns
    -------
    str
        A query whose answer is OpenStreetMap XML, as :func:`xunfang.ingest.roads.read_road_network`
        reads it (``.osm``).
    """
    w, s, e, n = bbox_wgs84
    return (
        f"[out:xml][timeout:{int(timeout_s)}];"
        f'(way["highway"~"^({OSM_DRIVE_CLASSES})$"]({s:.6f},{w:.6f},{n:.6f},{e:.6f}););'
        "(._;>;);out body;"
    )


def fetch_osm_extract(
    polygon_wgs84: Any,
    out: str | Path,
    settings: Settings,
    *,
    margin_m: float = DEFAULT_EXTRACT_MARGIN_M,
    force: bool = False,
    progress: bool = True,
    timeout_s: float = 300.0,
    console: Console | None = None,
) -> FetchedFile:
    """Download the OpenStreetMap streets around a boundary as an ``.osm`` file.

    The bounding box of ``polygon_wgs84`` grown by ``margin_m`` is asked of the Overpass
    API (:func:`overpass_query`) through :func:`fetch` (cache, progress bar, retries,
    atomic write). Needs the internet (or a mirror in ``XUNFANG_SOURCE_BASE_URL``). For
    a large area, a regional extract (e.g. Geofabrik) cut with ``osmium extract`` is kinder
    to the public servers.

    Parameters
    ----------
    polygon_wgs84
        Shapely (Multi)Polygon, degrees WGS-84.
    out
        The ``.osm`` file to write.
    settings
        ``cache_dir`` and ``source_base_url``.
    margin_m
        Margin around the bounding box, metres (so that routes along the edge exist).

    Returns
    -------
    FetchedFile
        ``note`` gives the counts of nodes and ways.

    Raises
    ------
    DownloadError
        If the download fails, or the answer is not OpenStreetMap XML (an Overpass error
        page, a runtime-error remark), with the server's words.
    ValidationError
        If ``out`` does not end in ``.osm``.
    """
    from pyproj import Transformer

    from xunfang.units import utm_crs_for

    target = Path(out).expanduser().resolve()
    if target.suffix.lower() != ".osm":
        raise ValidationError(f"--out {out}: an OpenStreetMap extract is written as FILE.osm")
    c = polygon_wgs84.centroid
    crs = utm_crs_for(c.x, c.y)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    import shapely

    projected = shapely.transform(
        polygon_wgs84, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1]))
    )
    x0, y0, x1, y1 = projected.buffer(margin_m).bounds
    w, s = back.transform(x0, y0)
    e, n = back.transform(x1, y1)
    query = overpass_query((w, s, e, n))
    source = Source(
        name="osm_extract",
        group="roads",
        url=f"{OVERPASS_URL}?data={quote(query)}",
        target=target.name,
        description=f"OpenStreetMap streets in {w:.5f},{s:.5f},{e:.5f},{n:.5f} (Overpass API)",
        licence="(c) OpenStreetMap contributors, ODbL 1.0",
    )
    local = settings.model_copy(update={"data_dir": target.parent})
    result = fetch(
        "osm",
        local,
        sources=[source],
        force=force,
        progress=progress,
        timeout_s=timeout_s,
        console=console,
    )
    got = result.files[0]
    head = target.read_bytes()[:4096].decode("utf-8", errors="replace")
    text_tail = target.read_bytes()[-4096:].decode("utf-8", errors="replace")
    if "<osm" not in head:
        target.unlink(missing_ok=True)
        raise DownloadError(
            f"Overpass API at {got.url.split('?')[0]} did not answer OpenStreetMap XML: "
            f"{head[:300]!r}; try again later, or cut a regional extract with osmium"
        )
    remark = re.search(r"<remark>(.*?)</remark>", head + text_tail, re.S)
    if remark and "error" in remark.group(1).lower():
        target.unlink(missing_ok=True)
        raise DownloadError(
            f"Overpass API stopped: {remark.group(1).strip()}; ask for a smaller area or use a "
            "regional extract"
        )
    body = target.read_bytes()
    n_nodes, n_ways = body.count(b"<node "), body.count(b"<way ")
    if n_ways == 0:
        raise DownloadError(f"the Overpass answer {target} holds no street: is the boundary right?")
    return FetchedFile(
        got.name, got.url, target, got.size_bytes, got.sha256, got.status,
        f"{n_nodes:,} nodes, {n_ways:,} ways in {w:.5f},{s:.5f},{e:.5f},{n:.5f}",
    )  # fmt: skip
