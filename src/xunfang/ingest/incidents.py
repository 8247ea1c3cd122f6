"""Incident and call-for-service files -> one validated, projected, UTC-aware table.

Profiles (which column holds what) are in :mod:`xunfang.ingest.profiles` (``chicago``,
``portland``, ``cn110`` and TOML mappings); file formats and encodings in
:mod:`xunfang.ingest.readers` (CSV, Excel, vector point files). This module validates.

The output table (:class:`IncidentTable`) has one row per usable incident with columns
``incident_id, occurred_at (UTC), time_precision, type_group, type, subtype, premise,
lon, lat (WGS-84), x_m, y_m (the table's projected CRS), arrest``, the step times
``dispatched_at, acknowledged_at, en_route_at, on_scene_at, cleared_at`` (UTC, empty when
the source has no such column; :func:`_step_times`) plus the profile's
extra columns (``district``, ``beat``, ``address``, ...), ``piled`` and
``source_file``/``source_row`` (the row as the file shows it: a CSV's line number, the
header line counting as line 1 or later, a sheet's row number, a feature's number). Every
row that cannot be used is kept in a rejected table
with its reason and field; nothing is dropped silently.

Personal data: a layout's ``mask`` columns (the 110 caller's name and phone) are masked
before anything else sees them (张三 -> 张*, 13812348000 -> 138****8000): the parquet, the
rejected rows, the report and every message only ever hold the masked text. They are kept
masked rather than left out because the masked phone still tells a repeat caller from many
callers at one spot (same prefix and last four digits), which analysts use to discount
one person's repeated calls, while it identifies no one.

Piled points: when more than ``max(20, 1 %)`` of the accepted rows sit on one exact
position, that position is a geocoder's fallback (a station, a district centroid), not a
place where incidents happen. Those rows are kept, listed in the report with their count
and place, and marked ``piled=True`` so that hotspot analysis leaves them out
(``keep_piled=True`` keeps them: the column is then False everywhere, the report still
lists the piles).

Times in the future: a row whose time lies later than the time of the ingest plus
``future_tolerance`` (default :data:`FUTURE_TOLERANCE`, one hour: the clocks of the
exporting system and of this machine drift apart by seconds to minutes; the zone is no
reason for more, the times being read in the layout's zone) is rejected as
``future_time`` (field: the time column). A call time later than that is a typing or
clock error, and kept it would put every step time of the call "before" it (a tester's
call dated 19 hours ahead, accepted under the one-day tolerance used before, had each of
its step times blamed by kpi as earlier than the call). A placeholder time beyond what a
nanosecond timestamp holds (``9999-12-31``, ``2262年...``, ``1677-01-01``;
:data:`TIME_RANGE`) is rejected too, never stored: as ``future_time`` when after now,
else as ``implausible_time``. So is a time before
``earliest`` (default :data:`EARLIEST`, 1970-01-01 00:00 UTC, itself included): ``1900-01-01`` and
``1970-01-01 00:00`` are what exports write for "no time", and one such row kept would
stretch every weekly rate (a quarter's 110 calls read as 6,569 weeks of incidents by
``deploy``). Accepted rows lying more than :data:`SPAN_OUTLIER_MIN` (and ten interquartile
ranges) from the median time are kept but named in a note, since one such row stretches
the period every rate is computed over.

Duplicate ids: a row whose id an earlier row already used is rejected as
``duplicate_id`` when its time and position are the same as that earlier row's (an exact
repeat, e.g. a file exported twice), and as ``duplicate_id_conflict`` when they differ
(two records disagree about one call: the analyst should look at both).

Excel numbers: an id or phone number stored in a workbook as a number is read in full
digits (openpyxl's integers stay exact; a float with no fraction is written without an
exponent). A number longer than Excel's 15 significant digits has lost its last digits in
the workbook (3.101012025e+17 for an 18-digit 接警单编号): a note names the column and
rows, and such an id stands for no call (rows sharing it are not duplicates), so the file
name and row identify the row instead. A number in an Excel time column (the call time's
or a step time's, read by one rule) is an Excel serial
date (a date cell formatted as a number: 45370.5 is 2024-03-19 12:00 in the 1900 date
system, the 1904 system when the workbook uses it) and is read as that date, named in a
note (:func:`xunfang.ingest.readers._excel_serial`). A CSV time column is read so only when
*every* cell in it is such a number from 1970 to 2100 (an Excel sheet saved as CSV with its
date column formatted as a number: :func:`xunfang.ingest.readers._csv_excel_serials`);
otherwise its numbers are only what the layout's formats make of them.

Step times: a step time that cannot be read, lies after the ingest (plus
``future_tolerance``), or lies before the call or a step it must follow
(:data:`STEP_AFTER`: 签收, 出警 and 到达 after 派警, 反馈 after 到达; an arrival before the
call, an acknowledgement before the dispatch; no rule between 签收 and 出警, since setting
off counts as acknowledging) never rejects the row: that step
time is left empty, and the report counts such rows per file, field and reason
(``step_times``) and names them in a note, in English and Chinese ("到达时间 before 报警时间:
12 rows, e.g. row 7"). A blank step cell is no error.

Control characters: every text column (id, types, premise, address and the profile's
other text) is *cleaned*, never rejected for them: tab, line feed and carriage return
become a space, and the other C0 control characters (U+0000-U+001F), DEL (U+007F) and the
bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069, which can
make text display in another order than it is stored) are removed. The report counts the
cleaned cells per column (``cleaned_text``), so nothing changes silently; the cleaned text
is what the API would accept.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from xunfang import strict_json
from xunfang.errors import CRSError, DataFileError, ValidationError
from xunfang.ingest.coords import to_wgs84
from xunfang.ingest.masking import mask_name_text, mask_phone_text
from xunfang.ingest.messages import column_text, reason_text, text
from xunfang.ingest.profiles import (
    CHICAGO,
    CN110,
    EPOCH_FORMATS,
    PORTLAND,
    PROFILES,
    STEP_COLUMNS,
    CoordSpec,
    FrameName,
    Layout,
    MaskKind,
    Profile,
    profile_from_toml,
)
from xunfang.ingest.readers import (
    BadBytes,
    HeaderRow,
    incident_files_in,
    is_vector_folder,
    read_raw,
)
from xunfang.ingest.taxonomy import OTHER, Taxonomy, load_taxonomy
from xunfang.outputs import CSV_ENCODING, temporary_path
from xunfang.units import WGS84, require_projected, utm_crs_for

__all__ = [
    "CHICAGO",
    "CN110",
    "PORTLAND",
    "PROFILES",
    "REASONS",
    "CoordSpec",
    "IncidentTable",
    "IngestReport",
    "Layout",
    "NoUsableRowsError",
    "Profile",
    "bulk_span",
    "incident_inputs",
    "ingest",
    "ingested_folder_table",
    "ingested_table_paths",
    "mask_name",
    "mask_phone",
    "profile_from_toml",
    "read_incident_table",
    "read_ingested_tables",
    "write_outputs",
]

REASONS = (
    "field_count",
    "undecodable",
    "missing_coordinates",
    "invalid_coordinates",
    "swapped_coordinates",
    "unparseable_time",
    "implausible_time",
    "future_time",
    "outside_area",
    "duplicate_id",
    "duplicate_id_conflict",
)
"""Why a row can be rejected, in the order the checks run (a row gets the first reason).
``field_count``: a CSV row with more or fewer fields than the header (an unquoted comma in
an address shifts every later cell), which the reader blanked
(:attr:`xunfang.ingest.readers.RawFile.problems`); the rejected table names its line and
both counts (``row_fields``, ``header_fields``). ``undecodable``: a CSV row on a line
holding bytes not valid in the file's encoding, with ``bad_bytes="reject-row"`` (by
default such a byte refuses the file)."""
FIELD_COUNT_FIELD = "(field count)"
"""The ``field`` of a ``field_count`` rejection: the row as a whole, not one column."""
ENCODING_FIELD = "(encoding)"
"""The ``field`` of an ``undecodable`` rejection: the row's bytes, not one column."""
EMPTY_TYPE = "(empty/空)"
"""How an empty type field is named among the unmapped types of the ingest report."""
OUTSIDE_SHARE = 0.5
"""When more than this share of the located rows fall outside the study area, a note names
the frames the area and the incidents were read in (a frame mix-up is the usual cause)."""
OUTSIDE_SHARE_FRAME_MIX = 0.1
"""The same note's threshold when the area and the incidents were read in different frames:
a frame mix-up moves points some 500 m (GCJ-02 against WGS-84), which puts only the rows
near the boundary outside (a tester's district: 27 %), far fewer than half."""
FUTURE_TOLERANCE = pd.Timedelta(hours=1)
"""A row may lie this much after the time of the ingest before it counts as ``future_time``
(the call time; a step time later than it is left empty): clock drift between the
exporting system and this machine (module docstring)."""
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
"""Default first plausible time: a row before it is rejected as ``implausible_time``
(a placeholder: 1900-01-01, Excel's day 0, a zero Unix time; 1970-01-01 00:00 read in a
zone east of UTC lies before it). A row exactly at it is rejected too. No
call-for-service system in use kept records before 1970."""
SPAN_OUTLIER_MIN = pd.Timedelta(days=365)
"""An accepted row this far (and ten interquartile ranges) from the median time is named
in a note: the period looks wrong."""
MAX_TEXT_CHARS = 2_000
"""Longest text cell kept, in characters: a longer one (a whole document pasted into an
address) is cut to this length and counted per column (``truncated_text``), its file, row
and field named in a note. A 110 address or category runs to a few dozen characters."""

_WHITESPACE_CONTROL = "[\t\n\r]"
_OTHER_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]"

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
PILE_MIN_ROWS = 20
PILE_SHARE = 0.01
"""A position holding more than ``max(PILE_MIN_ROWS, PILE_SHARE * accepted rows)`` rows is
a pile (see the module docstring)."""
EXAMPLES_PER_REASON = 3
MOSTLY_OTHER_SHARE = 0.9
MOSTLY_OTHER_MIN_ROWS = 10
"""When more than this share of at least this many accepted rows fall in the catch-all
group ``other``, a note says so: the type column, the encoding or the taxonomy is wrong."""
MOJIBAKE_SHARE = 0.5
MOJIBAKE_MIN_CELLS = 3
MOJIBAKE_SAMPLE_ROWS = 1_000
_MOJIBAKE = re.compile(
    # three or more Latin-1/Windows-1252 letters and signs in a row, or a C1 control
    # character: what Chinese (or UTF-8) bytes turn into when read in a single-byte code
    # page (黄浦区 in GBK read as cp1252: »ÆÆÖÇø); words of Western languages hold their
    # accented letters one or two at a time (Crème, ação)
    "[\u0080-\u009f]|[\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030"
    "\u2039\u203a\u20ac\u2122]{3,}"
)
"""A cell that looks like text decoded in the wrong encoding (:func:`_mojibake`)."""
UNMAPPED_EXAMPLES = 5
"""Types not in the taxonomy given an example row in the report (the commonest first)."""


# --------------------------------------------------------------------------- masking
def mask_name(values: pd.Series) -> pd.Series:
    """:func:`~xunfang.ingest.masking.mask_name_text` of each name (张三 -> 张*, 欧阳娜娜 ->
    欧*). Missing or blank becomes missing."""
    return values.astype("string").map(mask_name_text, na_action="ignore").astype("string")


def mask_phone(values: pd.Series) -> pd.Series:
    """:func:`~xunfang.ingest.masking.mask_phone_text` of each number (13812348000 ->
    138****8000, 021-6432-1234 -> 021****1234, 110 -> ``***``). Missing or blank becomes
    missing."""
    return values.astype("string").map(mask_phone_text, na_action="ignore").astype("string")


_MASKS = {"name": mask_name, "phone": mask_phone}


def _mask(values: pd.Series, kind: MaskKind) -> pd.Series:
    return _MASKS[kind](values)


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
    piled_points: tuple[dict[str, Any], ...] = ()
    """Positions holding a pile of rows: lon, lat (WGS-84), rows, share of accepted rows."""
    keep_piled: bool = False
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per rejection reason, a few rejected rows: file, row, field, value, expected."""
    unmapped_examples: tuple[dict[str, Any], ...] = ()
    """For each of the commonest types not in the taxonomy (at most
    :data:`UNMAPPED_EXAMPLES`), its first row: file, row, field, value, expected, rows
    (how many rows hold it)."""
    notes: tuple[str, ...] = ()
    notes_zh: tuple[str, ...] = ()
    """The notes in Chinese (for ``--lang zh``)."""
    masked_columns: tuple[str, ...] = ()
    time_precision: dict[str, int] = field(default_factory=dict)
    cleaned_text: dict[str, int] = field(default_factory=dict)
    """Per text column, the cells that held control or bidi characters (cleaned)."""
    truncated_text: dict[str, int] = field(default_factory=dict)
    """Per text column, the cells longer than :data:`MAX_TEXT_CHARS` (cut to it; the
    rows are named in a note)."""
    generated_ids: dict[str, int] = field(default_factory=dict)
    """Per file, the rows read whose id cell was blank: each was given the id
    ``FILE:ROW`` (its file name and row), and a note names the rows."""
    period: tuple[str, str] | None = None
    """First and last accepted time (ISO 8601, UTC)."""
    ingested_at: str = ""
    """The time of the ingest (ISO 8601, UTC) that ``future_time`` is judged against."""
    area_frame: str | None = None
    """Frame the study area's lon/lat file was read in (``None``: no area file)."""
    step_times: dict[str, Any] = field(default_factory=dict)
    """The step times read (:func:`_step_times`): ``columns`` (per step column, and
    ``received_at`` for the call time, the source columns), ``recorded`` (per step,
    accepted rows holding it), ``precision`` (per step, accepted rows per time precision)
    ``set_aside`` (per file, field and reason, the accepted
    rows whose step time was left empty: ``rows``, ``first_row``, ``other`` the field it
    came before, ``value`` the cell of an unreadable or future one) and ``not_read`` (per
    file, the columns left unread because another accepted name of the same field was
    read: ``file``, ``cols``, ``read``)."""
    rejected_summary: str = ""
    """The rejected rows in words, by reason, field and rows
    (:func:`rejection_summary`); ``""`` when none was."""

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
            "time_precision": self.time_precision,
            "piled_points": list(self.piled_points),
            "keep_piled": self.keep_piled,
            "masked_columns": list(self.masked_columns),
            "cleaned_text": self.cleaned_text,
            "truncated_text": self.truncated_text,
            "generated_ids": self.generated_ids,
            "max_text_chars": MAX_TEXT_CHARS,
            "period": list(self.period) if self.period else None,
            "ingested_at": self.ingested_at,
            "frame": sorted({str(f.get("frame")) for f in self.files}),
            "area_frame": self.area_frame,
            "step_times": self.step_times,
            "rejected_summary": self.rejected_summary,
            "rejected_examples": self.examples,
            "unmapped_examples": list(self.unmapped_examples),
            "notes": list(self.notes),
        }


class NoUsableRowsError(DataFileError):
    """Every row was rejected. ``rejected`` and ``report`` say why, so that a caller can
    still write ``rejected.csv`` and the report (as ``xunfang ingest`` does)."""

    def __init__(self, path: str, message: str, rejected: pd.DataFrame, report: IngestReport):
        super().__init__(path, message)
        self.rejected = rejected
        self.report = report


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
    try:
        meta = strict_json.loads(raw)
    except ValueError as exc:
        raise DataFileError(path, f"unreadable 'xunfang' metadata: {exc}") from exc
    return IncidentTable(table.to_pandas(), CRS.from_user_input(meta["crs"]), meta["timezone"])


def ingested_folder_table(path: Path) -> Path | None:
    """The table of a folder written by ``xunfang ingest`` (``incidents.parquet`` beside
    ``ingest_report.json``), None for any other path."""
    p = Path(path)
    if p.is_dir() and (p / "incidents.parquet").is_file() and (p / "ingest_report.json").is_file():
        return p / "incidents.parquet"
    return None


def ingested_inputs(paths: Sequence[str | Path]) -> bool:
    """True when ``paths`` hold an ingested table (a ``.parquet`` written by ``xunfang
    ingest``, or the folder holding one): such inputs are read back by
    :func:`read_ingested_tables` and need no ingest profile, whatever the command."""
    return any(
        Path(p).suffix.lower() == ".parquet" or ingested_folder_table(Path(p)) is not None
        for p in paths
    )


def ingested_table_paths(paths: Sequence[str | Path]) -> list[Path] | None:
    """The ``.parquet`` tables of ingested inputs (a folder written by ``xunfang ingest``
    stands for its ``incidents.parquet``), in the order given; None when ``paths`` holds
    none, so that the caller ingests raw files.

    Raises
    ------
    ValidationError
        If ingested tables and raw files are mixed, naming one of each.
    """
    resolved = [ingested_folder_table(Path(p)) or Path(p) for p in paths]
    tables = [p for p in resolved if p.suffix.lower() == ".parquet"]
    if not tables:
        return None
    raw = [p for p in resolved if p.suffix.lower() != ".parquet"]
    if raw:
        raise ValidationError(
            f"incidents: {tables[0]} is an ingested table but {raw[0]} is a raw file; ingest "
            f"the raw files with `xunfang ingest` and pass the ingested folders together"
        )
    return tables


def read_ingested_tables(paths: Sequence[str | Path], crs: CRS | str) -> IncidentTable | None:
    """The incidents of ingested tables (``.parquet`` written by ``xunfang ingest``, or the
    folder holding one) as one table in ``crs`` (metres), in the order given; None when
    ``paths`` is empty or holds no such table, so that the caller ingests raw files.

    The same door for every command that reads a plan's or a city's incident files: an
    ingested folder is read back as it was written (masked, validated), never ingested a
    second time with a profile.

    Raises
    ------
    ValidationError
        If ingested tables and raw files are mixed (the raw ones would need a profile the
        tables do not record), naming one of each.
    DataFileError
        If a ``.parquet`` is not an xunfang incident table (:func:`read_incident_table`).
    """
    tables = ingested_table_paths(paths)
    if tables is None:
        return None
    read = [read_incident_table(p).reproject(crs) for p in tables]
    if len(read) == 1:
        return read[0]
    frame = pd.concat([t.frame for t in read], ignore_index=True)
    return IncidentTable(frame, require_projected(crs, "incident table"), read[0].timezone)


# --------------------------------------------------------------------------- times
_PRECISION_RANK = {"second": 0, "minute": 1, "hour": 2, "day": 3}


def format_precision(fmt: str) -> str:
    """The precision a time format records: ``second``, ``minute``, ``hour`` or ``day``."""
    if fmt in EPOCH_FORMATS or "%S" in fmt or "%T" in fmt or "%s" in fmt:
        return "second"
    if "%M" in fmt:
        return "minute"
    if "%H" in fmt or "%I" in fmt:
        return "hour"
    return "day"


_EPOCH_PATTERNS = {
    "epoch_s": (r"^\d{9,10}(\.\d+)?$", "s"),
    "epoch_ms": (r"^\d{12,13}$", "ms"),
}


TIME_RANGE = (pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31"))
"""Times a table can hold: nanosecond timestamps reach 1677-09-21 to 2262-04-11; a day's
margin on each side keeps a local time inside once moved to UTC. A time read outside this
range (``9999-12-31``, ``1677-01-01``: placeholders) is rejected, never stored."""


def _parse_times(
    values: pd.Series, formats: Sequence[str], cap: str = "second"
) -> tuple[pd.Series, pd.Series, np.ndarray, np.ndarray]:
    """Each row takes the first format that parses it.

    Returns
    -------
    (naive, aware, precision, beyond)
        ``naive``: local wall-clock datetimes (NaT where a zone-aware format or none
        parsed the row); ``aware``: UTC datetimes of the rows read by a ``%z`` or epoch
        format; ``precision``: object array of ``second``/``minute``/``hour``/``day``
        per row (the format's, capped at ``cap``), None where nothing parsed;
        ``beyond``: int8 per row, +1 (-1) where a format read a time after (before)
        :data:`TIME_RANGE` (NaT in ``naive`` and ``aware``), else 0.
    """
    n = len(values)
    naive = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    aware = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    precision = np.full(n, None, dtype=object)
    beyond = np.zeros(n, dtype=np.int8)
    text = values.astype("string").str.strip()
    todo = text.notna() & (text.str.len() > 0)
    for fmt in formats:
        if not todo.any():
            break
        sub = text[todo]
        if fmt in _EPOCH_PATTERNS:
            pattern, unit = _EPOCH_PATTERNS[fmt]
            ok_text = sub.str.match(pattern).fillna(False).astype(bool)
            num = pd.to_numeric(sub[ok_text], errors="coerce")
            parsed = pd.to_datetime(num, unit=unit, utc=True, errors="coerce")
            target = aware
        elif "%z" in fmt:
            parsed = pd.to_datetime(sub, format=fmt, errors="coerce", utc=True)
            target = aware
        else:
            parsed = pd.to_datetime(sub, format=fmt, errors="coerce")
            target = naive
        ok = parsed.notna()
        if ok.any():  # pandas reads such times at a coarser unit: never cast them to ns
            wall = parsed[ok].dt.tz_localize(None) if target is aware else parsed[ok]
            late, early = wall > TIME_RANGE[1], wall < TIME_RANGE[0]
            if late.any() or early.any():
                where = values.index.get_indexer(wall.index)
                beyond[where[late.to_numpy()]] = 1
                beyond[where[early.to_numpy()]] = -1
                todo.loc[wall.index[(late | early).to_numpy()]] = False
                ok.loc[wall.index[(late | early).to_numpy()]] = False
        idx = ok[ok].index
        if len(idx) == 0:
            continue
        target.loc[idx] = parsed[idx].astype(target.dtype)
        rank = max(_PRECISION_RANK[format_precision(fmt)], _PRECISION_RANK[cap])
        precision[values.index.get_indexer(idx)] = next(
            k for k, v in _PRECISION_RANK.items() if v == rank
        )
        todo &= naive.isna() & aware.isna()
    return naive, aware, precision, beyond


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


STEP_AFTER: dict[str, tuple[str, ...]] = {
    "dispatched_at": (),
    "acknowledged_at": ("dispatched_at",),
    "en_route_at": ("dispatched_at",),
    "on_scene_at": ("dispatched_at",),
    "cleared_at": ("on_scene_at",),
}
"""The steps each step time must not lie before, besides the call time (报警时间), which
every step must not lie before: 签收 acknowledged, 出警 en route and 到达 on scene after 派警
dispatched, 反馈 cleared after 到达 on scene. These are the orders the KPIs
(:data:`xunfang.store.kpi_sql.STEPS`: 签收 and 出警 from 派警, 到场 from the call, 反馈 from
到达) and the definition of each step need, and no more: there is no rule between 签收 and
出警, since setting off counts as acknowledging (a unit may set off before it presses
签收), so an en-route time before the acknowledgement is a real record, not an error."""


def _step_times(
    raw: pd.DataFrame, layout: Layout, occurred: pd.Series, latest: pd.Timestamp
) -> dict[str, tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]]:
    """The layout's step times (:data:`~xunfang.ingest.profiles.STEP_COLUMNS`) as UTC, each
    with why it was left empty.

    A step column is read in the call time's formats, precision and zone. A cell holding
    text is left empty (NaT), never rejecting the call, when no format reads it or it lies
    outside :data:`TIME_RANGE` (``unreadable``), when it is later than ``latest``
    (``future``), or when it lies before the call time or a step :data:`STEP_AFTER` names
    for it and kept for the row (``before``: the call time checked first; equal times are
    in order). A step left empty is not compared with the steps after it. Times are
    compared as read: a step recorded to the minute (08:00) lies before a call recorded
    to the second in the same minute (08:00:30).

    Parameters
    ----------
    raw
        The file's columns as read (text).
    layout
        Its layout; steps it does not name come back all NaT.
    occurred
        The call time of each row, UTC (NaT where unread), index of ``raw``.
    latest
        The latest plausible time (the ingest time plus its tolerance), UTC.

    Returns
    -------
    dict
        Step name -> (times, code, detail, precision): ``datetime64[ns, UTC]`` series on a
        0..n-1 index; object arrays, ``code`` ``""``/``unreadable``/``future``/``before``,
        ``detail`` the cell's text (unreadable, future) or the field it came before, and
        ``precision`` the kept time's (``second`` ... ``day``, None where empty).
    """
    n = len(raw)
    # reset_index, never to_numpy: that makes an object array of Timestamps (0.4 s a column
    # for 100,000 rows)
    call = pd.to_datetime(occurred, utc=True).reset_index(drop=True)
    kept: dict[str, tuple[str, pd.Series]] = {}
    out: dict[str, tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]] = {}
    for step in STEP_COLUMNS:
        code = np.full(n, "", dtype=object)
        detail = np.full(n, "", dtype=object)
        col = layout.steps.get(step)
        if col is None:
            out[step] = (
                pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"),
                code,
                detail,
                np.full(n, None, dtype=object),
            )
            continue
        cells = raw[col].astype("string").str.strip()
        naive, aware, precision, _ = _parse_times(
            raw[col], layout.time_formats, layout.time_precision
        )
        local, _ = _localize(naive, layout.timezone)
        t = pd.to_datetime(local.where(aware.isna(), aware), utc=True).reset_index(drop=True)
        held = (cells.notna() & (cells.str.len() > 0)).to_numpy(dtype=bool)
        unread = held & t.isna().to_numpy()
        code[unread] = "unreadable"
        later = t.gt(latest).to_numpy(dtype=bool)
        code[later] = "future"
        text_cells = cells.fillna("").to_numpy(dtype=object)
        detail[unread | later] = text_cells[unread | later]
        checks = [(layout.time, call)] + [kept[p] for p in STEP_AFTER[step] if p in kept]
        for name, before in checks:
            wrong = (code == "") & t.lt(before).to_numpy(dtype=bool)
            code[wrong] = "before"
            detail[wrong] = name
        t[code != ""] = pd.NaT
        precision[code != ""] = None
        kept[step] = (col, t)
        out[step] = (t, code, detail, precision)
    return out


def _step_summary(
    good: pd.DataFrame, fields: list[dict[str, str]], files: list[str]
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The report's ``step_times`` and the notes (message key, fields) naming the step
    times left empty in accepted rows, per file, field and reason."""
    recorded = {c: int(good[c].notna().sum()) for c in STEP_COLUMNS}
    precision = {
        c: {str(k): int(v) for k, v in good[f"_sq_{c}"].dropna().value_counts().items()}
        for c in STEP_COLUMNS
        if recorded[c]
    }
    columns = {"received_at": sorted({f["_time"] for f in fields})}
    columns.update(
        {
            c: sorted({f[c] for f in fields if c in f})
            for c in STEP_COLUMNS
            if any(c in f for f in fields)
        }
    )
    aside: list[dict[str, Any]] = []
    notes: list[tuple[str, dict[str, Any]]] = []
    for c in STEP_COLUMNS:
        codes = good[f"_sp_{c}"]
        hit = codes != ""
        if not hit.any():
            continue
        sub = good.loc[hit, ["_file", "source_row", f"_sp_{c}", f"_sx_{c}"]]
        sub = sub.sort_values(["_file", "source_row"], kind="stable")
        for (k, reason), grp in sub.groupby(["_file", f"_sp_{c}"], sort=False):
            parts = grp.groupby(f"_sx_{c}", sort=False) if reason == "before" else [("", grp)]
            for other, g in parts:
                item: dict[str, Any] = {
                    "file": files[int(k)],
                    "step": c,
                    "field": fields[int(k)][c],
                    "reason": reason,
                    "other": str(other) if reason == "before" else None,
                    "rows": len(g),
                    "first_row": int(g["source_row"].iloc[0]),
                    "value": None if reason == "before" else str(g[f"_sx_{c}"].iloc[0]),
                }
                aside.append(item)
                notes.append(
                    (
                        f"step_{reason}",
                        {
                            "file": item["file"],
                            "field": item["field"],
                            "other": item["other"],
                            "n": item["rows"],
                            "row": item["first_row"],
                            "value": item["value"],
                        },
                    )
                )
    summary = {"columns": columns, "recorded": recorded, "precision": precision, "set_aside": aside}
    return summary, notes


_DECIMAL_COMMA = r"^\s*[-+]?\d+,\d+\s*$"


def _to_number(s: pd.Series, decimal_comma: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of cells that held text that is not a number.

    With ``decimal_comma`` (a file separated by ``;`` or tabs), ``121,47`` reads 121.47.
    """
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    if decimal_comma:
        retry = np.isnan(num) & s.notna().to_numpy()
        if retry.any():
            sub = s[retry].astype("string")
            comma = sub.str.match(_DECIMAL_COMMA).fillna(False).to_numpy(dtype=bool)
            fixed = pd.to_numeric(sub[comma].str.replace(",", ".", regex=False), errors="coerce")
            num[np.flatnonzero(retry)[comma]] = fixed.to_numpy(dtype=np.float64)
    text_bad = s.notna().to_numpy() & np.isnan(num)
    return num, text_bad


def _in_bbox(
    lon: np.ndarray, lat: np.ndarray, bbox: tuple[float, float, float, float]
) -> np.ndarray:
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


def _locate(
    path: Path,
    raw: pd.DataFrame,
    layout: Layout,
    decimal_comma: bool = False,
    file_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """WGS-84 lon, lat of each row, and a reason code (0 ok, 1 missing, 2 invalid, 3 out of
    range but in range, and inside the source's extent when it has one, once swapped), and
    for the code-3 rows the fields and values as read (``"lon/lat: 200.0, 41.9"``), for the
    rows a lon/lat pair located its fields (``"lon/lat"``), else empty. ``file_rows``: each
    row's number in the file, for an error (default: index + 1)."""
    n = len(raw)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    invalid = np.zeros(n, dtype=bool)
    swapped = np.zeros(n, dtype=bool)
    swap_text = np.full(n, "", dtype=object)
    # frame checks (swapped axes, wrong CRS) compare with the source's plausible extent,
    # never with a study area: a city-wide file is mostly outside any one district
    bbox = layout.bbox
    if file_rows is None:
        file_rows = np.arange(1, n + 1)
    for spec in layout.coords:
        todo = np.isnan(lon)
        if not todo.any():
            break
        x, xbad = _to_number(raw[spec.x], decimal_comma)
        y, ybad = _to_number(raw[spec.y], decimal_comma)
        have = todo & np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
        invalid |= todo & (xbad | ybad)
        if not have.any():
            continue
        if spec.kind == "lonlat":
            xx, yy = x[have], y[have]
            in_range = (np.abs(xx) <= 180) & (np.abs(yy) <= 90)
            _check_swap(path, spec, xx, yy, in_range, bbox, file_rows[have])
            if spec.frame != "wgs84":
                cx, cy = to_wgs84(xx, yy, spec.frame)
                xx, yy = np.asarray(cx, dtype=np.float64), np.asarray(cy, dtype=np.float64)
            idx = np.flatnonzero(have)
            lon[idx[in_range]] = xx[in_range]
            lat[idx[in_range]] = yy[in_range]
            invalid[idx[~in_range]] = True
            flip = ~in_range & (np.abs(yy) <= 180) & (np.abs(xx) <= 90)
            if bbox is not None:
                flip &= _in_bbox(yy, xx, bbox)
            swapped[idx[flip]] = True
            swap_text[idx[flip]] = [
                f"{spec.x}/{spec.y}: {float(a)}, {float(b)}"
                for a, b in zip(x[have][flip], y[have][flip], strict=True)
            ]
            swap_text[idx[in_range]] = f"{spec.x}/{spec.y}"  # the pair that located them
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
    reason[missing & invalid & swapped] = 3
    return lon, lat, reason, swap_text


def _check_swap(
    path: Path,
    spec: CoordSpec,
    lon: np.ndarray,
    lat: np.ndarray,
    in_range: np.ndarray,
    bbox: tuple[float, float, float, float] | None,
    file_rows: np.ndarray,
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
        first = int(np.flatnonzero(~(_in_bbox(lon, lat, bbox) if bbox else in_range))[0])
        raise DataFileError(
            path,
            f"{1 - inside:.0%} of the positions fall outside the area but {swapped:.0%} fall "
            f"inside when longitude and latitude are swapped: the columns look swapped "
            f"(e.g. row {int(file_rows[first])}: {spec.x}={lon[first]}, {spec.y}={lat[first]}); "
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
    frame: FrameName | None = None,
    sheet: str | None = None,
    keep_piled: bool = False,
    future_tolerance: pd.Timedelta = FUTURE_TOLERANCE,
    now: pd.Timestamp | None = None,
    earliest: pd.Timestamp = EARLIEST,
    area_frame: str | None = None,
    header_row: HeaderRow = "auto",
    bad_bytes: BadBytes = "refuse",
) -> tuple[IncidentTable, pd.DataFrame, IngestReport]:
    """Read, validate and project incident files.

    Parameters
    ----------
    paths
        One or more files: CSV (plain or gzip), Excel ``.xlsx`` or vector point files
        (GeoPackage, GeoJSON, Shapefile); see :data:`xunfang.ingest.readers.FORMATS_READ`.
        A folder stands for its incident files in name order
        (:func:`xunfang.ingest.readers.incident_files_in`; not its subfolders); the other
        files in it are named in a note of the report.
    profile
        A :class:`Profile` or the name of a built-in one (``chicago``, ``portland``,
        ``cn110``).
    crs
        Projected analysis CRS (metres); default: the UTM zone of the median position.
    area
        Optional study-area polygon in WGS-84 degrees; rows outside it are rejected as
        ``outside_area``. Without it, the profile's plausible bounding box is used.
    area_name
        Name of the area, for the report.
    encoding
        Text encoding of every CSV; default: the profile's (``auto``: UTF-8 or GB18030 as
        the bytes decide, else an error naming ``--encoding``).
    taxonomy
        Type-group table; default the shipped one.
    frame
        Frame of every lon/lat column (``wgs84``, ``gcj02``, ``bd09``); default: the
        layout's (WGS-84 unless a mapping says otherwise). Converted to WGS-84.
    sheet
        Sheet of an Excel file (default: the first).
    keep_piled
        Keep rows piled on one point in hotspot analysis (``piled`` False everywhere).
    future_tolerance
        Rows later than ``now + future_tolerance`` are rejected as ``future_time``.
    now
        The time of the ingest (tz-aware; default: the clock's, UTC).
    earliest
        Rows at or before this time (tz-aware, or naive UTC) are rejected as
        ``implausible_time``; default :data:`EARLIEST`.
    area_frame
        Frame the caller read ``area``'s file in, recorded in the report.
    header_row
        Row of the column names in CSV and Excel files, 1-based, or ``auto`` (the first
        of the first rows that names every needed column; see
        :mod:`xunfang.ingest.readers`).
    bad_bytes
        Bytes of a CSV not valid in its encoding: ``refuse`` the file (default: they
        usually mean a wrong encoding), or ``reject-row``: reject the rows on the lines
        holding them as ``undecodable`` and read the rest
        (:mod:`xunfang.ingest.readers`, "Bad bytes").

    Returns
    -------
    (table, rejected, report)
        ``rejected`` holds every rejected row with ``reason``, ``field`` (the column to
        blame), ``source_file``, ``source_row``, the parsed fields and the raw
        ``raw_time``/``raw_x``/``raw_y`` text.

    Raises
    ------
    NoUsableRowsError
        When every row is rejected (it carries the rejected rows and the report).
    DataFileError
        For a missing or empty file, a format not read, a missing or duplicated column,
        undecodable bytes, swapped lat/lon or coordinates that do not match the stated CRS
        — naming file, row, field.
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
    notes: list[str] = []
    notes_zh: list[str] = []
    not_read: list[dict[str, str]] = []  # columns left unread for another name of the field
    paths = _expand_folders(paths, notes, notes_zh)
    taxonomy = taxonomy or load_taxonomy()
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    earliest = pd.Timestamp(earliest)
    earliest = earliest.tz_localize("UTC") if earliest.tzinfo is None else earliest
    earliest = earliest.tz_convert("UTC")
    parts: list[pd.DataFrame] = []
    files_info: list[dict[str, Any]] = []
    timezones: set[str] = set()
    masked: set[str] = set()
    cleaned: dict[str, int] = {}
    truncated: dict[str, int] = {}
    generated_ids: dict[str, int] = {}  # per file: rows with a blank id, given FILE:ROW
    metas: list[dict[str, str]] = []  # per file: the fields to blame and what they expect
    raws: list[pd.DataFrame] = []  # per file: the raw time and position text
    step_fields: list[dict[str, str]] = []  # per file: the step-time columns read
    for p in paths:
        path = Path(p)
        try:
            rf = read_raw(
                path,
                profile,
                encoding,
                sheet=sheet,
                frame=frame,
                header_row=header_row,
                bad_bytes=bad_bytes,
            )
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataFileError(
                path,
                f"the compressed file is truncated or corrupt ({exc}); download or copy it again",
            ) from exc
        raw, layout = rf.frame, rf.layout
        unasked = sorted(set(raw.columns) - set(layout.required_columns()))
        if unasked:  # defence in depth: a column the layout does not name is never read
            raise DataFileError(
                path, f"internal error: the reader returned columns {unasked} not in the layout"
            )
        for note in rf.notes:
            fields = {k: v for k, v in note.items() if k != "key"}
            if note["key"] == "alternate_unread":
                not_read.append({"file": path.name, **fields})
            notes.append(f"{path.name}: {text(note['key'], 'en', **fields)}")
            notes_zh.append(f"{path.name}: {text(note['key'], 'zh', **fields)}")
        if rf.kind == "csv":
            odd = _mojibake(raw, layout)
            if odd is not None:
                odd["enc"] = rf.encoding
                notes.append(f"{path.name}: {text('mojibake', 'en', **odd)}")
                notes_zh.append(f"{path.name}: {text('mojibake', 'zh', **odd)}")
        timezones.add(layout.timezone)
        problems = rf.problems if rf.problems is not None else np.full(len(raw), "", dtype=object)
        n_fields = rf.fields if rf.fields is not None else np.zeros(len(raw), dtype=np.int64)
        lon, lat, creason, swap_text = _locate(path, raw, layout, rf.decimal_comma, rf.rows)
        naive, aware, precision, beyond = _parse_times(
            raw[layout.time], layout.time_formats, layout.time_precision
        )
        local, n_amb = _localize(naive, layout.timezone)
        occurred = local.where(aware.isna(), aware)
        # the row as the file shows it: a CSV's line, a sheet's row (readers.RawFile.rows)
        rows = rf.rows if rf.rows is not None else np.arange(1, len(raw) + 1)
        ids = (
            raw[layout.id].astype("string").str.strip()
            if layout.id
            else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        ids = ids.mask((ids == "").fillna(False))  # a cell of spaces is no id either
        if layout.id:  # a row without an id is given FILE:ROW, counted and named
            no_id = ids.isna().to_numpy(dtype=bool) & (problems == "")
            if no_id.any():
                generated_ids[path.name] = int(no_id.sum())
                blank: dict[str, object] = {
                    "file": path.name,
                    "n": int(no_id.sum()),
                    "col": layout.id,
                    "rows": row_ranges([int(r) for r in rows[no_id]]),
                }
                notes.append(text("no_id_note", "en", **blank))
                notes_zh.append(text("no_id_note", "zh", **blank))
        lost_ids = rf.lost_digits.get(layout.id or "")
        if lost_ids is not None:  # an id Excel cut to 15 digits is no id (module docstring)
            ids[lost_ids] = pd.NA
            lost = {"col": layout.id, "n": int(lost_ids.sum())}
            notes.append(f"{path.name}: {text('lost_id_digits', 'en', **lost)}")
            notes_zh.append(f"{path.name}: {text('lost_id_digits', 'zh', **lost)}")
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
                "incident_id": ids.reset_index(drop=True).array,
                "occurred_at": occurred.reset_index(drop=True),
                "time_precision": precision,
                "type_group": groups.reset_index(drop=True).array,
                "type": _strip(raw[layout.type]),
                "subtype": (_strip(raw[layout.subtype]) if layout.subtype else pd.NA),
                "premise": (_strip(raw[layout.premise]) if layout.premise else pd.NA),
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
        for step, (times, code, detail, step_precision) in _step_times(
            raw, layout, occurred, now + future_tolerance
        ).items():
            part[step] = times
            part[f"_sp_{step}"] = code
            part[f"_sx_{step}"] = detail
            part[f"_sq_{step}"] = step_precision
        step_fields.append({"_time": layout.time, **layout.steps})
        for out, col in layout.extra.items():
            values = raw[col].astype("string").str.strip()
            if out in layout.mask:
                values = _mask(values, layout.mask[out])
                masked.add(out)
            part[out] = values.reset_index(drop=True).array
        sources = {
            "incident_id": layout.id,
            "type": layout.type,
            "subtype": layout.subtype,
            "premise": layout.premise,
            **layout.extra,
        }
        for col in _TEXT_COLUMNS_FIXED + tuple(layout.extra):
            if col in part.columns and part[col].dtype == "string":
                part[col], n_clean = _clean_text(part[col])
                if n_clean:
                    cleaned[col] = cleaned.get(col, 0) + n_clean
                part[col], long_rows, longest = _cap_text(part[col], rows)
                if long_rows:
                    truncated[col] = truncated.get(col, 0) + len(long_rows)
                    cut: dict[str, object] = {
                        "file": path.name,
                        "n": len(long_rows),
                        "field": sources.get(col) or col,
                        "rows": _row_list(long_rows),
                        "longest": longest,
                        "max": MAX_TEXT_CHARS,
                    }
                    notes.append(text("truncated_note", "en", **cut))
                    notes_zh.append(text("truncated_note", "zh", **cut))
        part["source_file"] = path.name
        part["source_row"] = rows
        part["_pos"] = np.arange(len(raw))
        part["_creason"] = creason
        part["_problem"] = problems
        part["_nfields"] = n_fields
        part["_hfields"] = rf.header_fields
        part["_beyond"] = beyond
        part["_swap"] = swap_text
        part["_unmapped"] = unmapped.to_numpy()
        # an empty type is counted among the unmapped (value_counts would drop a NaN)
        raw_type = raw[layout.type].astype("string").str.strip()
        part["_raw_type"] = raw_type.mask(raw_type.isna() | (raw_type == ""), EMPTY_TYPE).to_numpy(
            dtype=object
        )
        part["_file"] = len(parts)
        spec = layout.coords[0]
        metas.append(
            {
                "_f_time": layout.time,
                "_f_xy": f"{spec.x}/{spec.y}",
                "_f_id": layout.id or "(row)",
                "_f_type": layout.type + (f"/{layout.subtype}" if layout.subtype else ""),
                "_expect_time": " | ".join(layout.time_formats),
                "_expect_xy": (
                    f"degrees ({spec.frame}), lon -180..180, lat -90..90"
                    if spec.kind == "lonlat"
                    else f"numbers in {spec.crs}"
                ),
            }
        )
        raws.append(
            pd.DataFrame(
                {"raw_time": raw[layout.time], "raw_x": raw[spec.x], "raw_y": raw[spec.y]}
            ).reset_index(drop=True)
        )
        parts.append(part)
        files_info.append(
            {
                "path": str(path),
                "kind": rf.kind,
                "layout": layout.name,
                "encoding": rf.encoding,
                "frame": spec.frame if spec.kind == "lonlat" else spec.crs,
                "rows": len(raw),
                "columns": {k: v for k, v in layout.required_columns().items()},
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
    problem = df["_problem"].to_numpy(dtype=object)
    unread = problem != ""  # blanked by the reader: that reason before any other
    reason[unread] = problem[unread]
    reason[~unread & (df["_creason"].to_numpy() == 1)] = "missing_coordinates"
    reason[~unread & (df["_creason"].to_numpy() == 2)] = "invalid_coordinates"
    reason[~unread & (df["_creason"].to_numpy() == 3)] = "swapped_coordinates"
    beyond = df["_beyond"].to_numpy()
    reason[reason.isna().to_numpy() & (beyond < 0)] = "implausible_time"
    reason[reason.isna().to_numpy() & (beyond > 0)] = "future_time"
    reason[reason.isna() & df["occurred_at"].isna()] = "unparseable_time"
    reason[reason.isna() & (df["occurred_at"] <= earliest)] = "implausible_time"
    reason[reason.isna() & (df["occurred_at"] > now + future_tolerance)] = "future_time"
    lon = df["lon"].to_numpy()
    lat = df["lat"].to_numpy()
    located = reason.isna().to_numpy()
    if area is not None:
        inside = np.zeros(len(df), dtype=bool)
        inside[located] = shapely.contains_xy(area, lon[located], lat[located])
    else:
        bbox = profile.bbox
        inside = _in_bbox(lon, lat, bbox) if bbox else np.ones(len(df), dtype=bool)
    reason[located & ~inside] = "outside_area"
    # a row outside the area that swapping its lon and lat puts inside: name the swap
    out_rows = located & ~inside
    if out_rows.any():
        flipped = np.zeros(len(df), dtype=bool)
        if area is not None:
            flipped[out_rows] = shapely.contains_xy(area, lat[out_rows], lon[out_rows])
        elif profile.bbox:
            flipped[out_rows] = _in_bbox(lat[out_rows], lon[out_rows], profile.bbox)
        reason[flipped] = "swapped_coordinates"
    reason = _duplicates(df, reason)
    ok = reason.isna().to_numpy()

    private = [
        "_creason",
        "_beyond",
        "_swap",
        "_unmapped",
        "_raw_type",
        "_file",
        "_pos",
        "_problem",
        "_nfields",
        "_hfields",
        *(f"_s{k}_{c}" for c in STEP_COLUMNS for k in "pxq"),
    ]
    bad = _with_raw(df.loc[~ok], metas, raws)
    blame = np.select(
        [
            reason[~ok].isin(["field_count"]),
            reason[~ok].isin(["undecodable"]),
            reason[~ok].isin(
                [
                    "missing_coordinates",
                    "invalid_coordinates",
                    "swapped_coordinates",
                    "outside_area",
                ]
            ),
            reason[~ok].isin(["unparseable_time", "implausible_time", "future_time"]),
        ],
        [FIELD_COUNT_FIELD, ENCODING_FIELD, bad["_f_xy"], bad["_f_time"]],
        default=bad["_f_id"],
    )
    examples = _examples(
        bad, reason[~ok], area_name, profile.bbox, now + future_tolerance, earliest
    )
    rejected = bad.drop(columns=[*private, *metas[0]]).copy()
    rejected.insert(0, "reason", reason[~ok].to_numpy())
    rejected.insert(1, "field", blame)
    counted = (reason[~ok] == "field_count").to_numpy()
    for pos, (col, key) in enumerate((("row_fields", "_nfields"), ("header_fields", "_hfields"))):
        values = pd.array(bad[key].to_numpy(dtype=np.int64), dtype="Int64")
        values[~counted] = pd.NA
        rejected.insert(2 + pos, col, values)
    rejected = rejected.reset_index(drop=True)
    good = df.loc[ok].reset_index(drop=True)
    unmapped_counts = good.loc[good["_unmapped"], "_raw_type"].value_counts()
    unmapped_examples = _unmapped_examples(good, unmapped_counts, metas)
    step_times, step_notes = _step_summary(good, step_fields, [Path(p).name for p in paths])
    step_times["not_read"] = not_read
    for key, fields in step_notes:
        notes.append(text(key, "en", **fields))
        notes_zh.append(text(key, "zh", **fields))
    good = good.drop(columns=private)
    piles, on_pile = _piles(good)
    good["piled"] = on_pile & (not keep_piled)
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
    n_located = int(located.sum())
    inc_frames = {str(f["frame"]) for f in files_info}
    mixed = area_frame is not None and inc_frames != {area_frame}
    limit = OUTSIDE_SHARE_FRAME_MIX if mixed else OUTSIDE_SHARE
    if area is not None and n_located and counts["outside_area"] > limit * n_located:
        outside: dict[str, Any] = {
            "n": counts["outside_area"],
            "of": n_located,
            "share": counts["outside_area"] / n_located,
            "area": area_name or "the area",
            "frame": area_frame or "?",
            "inc": ", ".join(sorted(inc_frames)),
        }
        notes.append(text("mostly_outside", "en", **outside))
        notes_zh.append(
            text("mostly_outside", "zh", **{**outside, "area": area_name or "研究区域"})
        )
    n_other = int((good["type_group"] == OTHER).sum())
    if len(good) >= MOSTLY_OTHER_MIN_ROWS and n_other > MOSTLY_OTHER_SHARE * len(good):
        most: dict[str, Any] = {"n": n_other, "of": len(good), "share": n_other / len(good)}
        notes.append(text("mostly_other", "en", **most))
        notes_zh.append(text("mostly_other", "zh", **most))
    for key, fields in _span_outliers(good):
        notes.append(text(key, "en", **fields))
        notes_zh.append(text(key, "zh", **fields))
    if good.empty:
        target_crs = require_projected(crs, "analysis") if crs is not None else None
    else:
        target_crs = (
            require_projected(crs, "analysis")
            if crs is not None
            else utm_crs_for(float(good["lon"].median()), float(good["lat"].median()))
        )
    report = IngestReport(
        profile=profile.name,
        files=tuple(files_info),
        rows_read=len(df),
        rows_accepted=len(good),
        rejected={r: int(counts.get(r, 0)) for r in REASONS},
        unmapped_types={str(k): int(v) for k, v in unmapped_counts.items()},
        unmapped_examples=tuple(unmapped_examples),
        ambiguous_local_times=sum(f["ambiguous_local_times"] for f in files_info),
        crs=target_crs.to_string() if target_crs is not None else "",
        timezone=next(iter(timezones)),
        area=area_name,
        by_type_group={str(k): int(v) for k, v in good["type_group"].value_counts().items()},
        piled_points=tuple(piles),
        keep_piled=keep_piled,
        examples=examples,
        notes=tuple(notes),
        notes_zh=tuple(notes_zh),
        masked_columns=tuple(sorted(masked)),
        time_precision={str(k): int(v) for k, v in good["time_precision"].value_counts().items()},
        cleaned_text=cleaned,
        truncated_text=truncated,
        generated_ids=generated_ids,
        period=(
            (good["occurred_at"].min().isoformat(), good["occurred_at"].max().isoformat())
            if len(good)
            else None
        ),
        ingested_at=now.isoformat(),
        area_frame=area_frame if area is not None else None,
        step_times=step_times,
        rejected_summary=rejection_summary(rejected) if len(rejected) else "",
    )
    if good.empty or target_crs is None:  # with a crs too: every door says why, alike
        first = min((e[0] for e in examples.values()), key=lambda e: int(e["row"]), default={})
        hint = (
            f"; e.g. row {first.get('row')} field {first.get('field')!r} = "
            f"{first.get('value')!r}, expected {first.get('expected')}"
            if first
            else ""
        )
        raise NoUsableRowsError(
            ", ".join(str(p) for p in paths),
            f"no usable rows: every row was rejected: {rejection_summary(rejected)}{hint}",
            rejected,
            report,
        )
    tr = Transformer.from_crs(WGS84, target_crs, always_xy=True)
    x, y = tr.transform(good["lon"].to_numpy(), good["lat"].to_numpy())
    good.insert(good.columns.get_loc("lat") + 1, "x_m", np.asarray(x))
    good.insert(good.columns.get_loc("x_m") + 1, "y_m", np.asarray(y))
    table = IncidentTable(good, target_crs, report.timezone)
    return table, rejected, report


def incident_inputs(items: Sequence[str | Path], option: str = "--incidents") -> list[Path]:
    """The incident inputs a user named, as every command reads them.

    A glob pattern (``DIR/*.csv.gz``) becomes its matches in name order; a folder written
    by ``xunfang ingest`` (``incidents.parquet`` beside ``ingest_report.json``) becomes
    that table; any other folder stays a folder, which :func:`ingest` reads as its
    incident files in name order (:func:`xunfang.ingest.readers.incident_files_in`);
    a file stays a file.

    Raises
    ------
    ValidationError
        For a pattern that matches nothing, naming ``option``.
    """
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if any(c in str(item) for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(item)))
            if not matches:
                raise ValidationError(f"{option} {item}: no file matches")
            out.extend(matches)
        elif ingested_folder_table(p) is not None:
            out.append(p / "incidents.parquet")
        else:
            out.append(p)
    return out


def _expand_folders(
    paths: Sequence[str | Path], notes: list[str], notes_zh: list[str]
) -> list[Path]:
    """``paths`` with each folder (not a Shapefile folder) replaced by its incident files
    in name order; the files a folder holds besides them are named in ``notes``."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir() or is_vector_folder(p):
            out.append(p)
            continue
        read, left = incident_files_in(p)
        out.extend(read)
        if left:
            names = ", ".join(q.name for q in left[:10]) + (" ..." if len(left) > 10 else "")
            fields = {"folder": str(p), "n": len(read), "k": len(left), "names": names}
            notes.append(text("folder_left_out", "en", **fields))
            notes_zh.append(text("folder_left_out", "zh", **fields))
    return out


_TEXT_COLUMNS_FIXED = ("incident_id", "type", "subtype", "premise")


def _clean_text(values: pd.Series) -> tuple[pd.Series, int]:
    """``values`` with control and bidi characters cleaned (module docstring), and the
    number of cells changed."""
    out = (
        values.str.replace(_WHITESPACE_CONTROL, " ", regex=True)
        .str.replace(_OTHER_CONTROL, "", regex=True)
        .str.strip()
    )
    changed = (out != values).fillna(False)
    return out, int(changed.sum())


def _cap_text(values: pd.Series, rows: np.ndarray) -> tuple[pd.Series, list[int], int]:
    """``values`` with cells longer than :data:`MAX_TEXT_CHARS` cut to it, the 1-based
    data rows (from ``rows``, aligned with ``values``) of those cells, and the longest
    length found (0 when none is cut)."""
    lengths = values.str.len()
    long = (lengths > MAX_TEXT_CHARS).fillna(False).to_numpy(dtype=bool)
    if not long.any():
        return values, [], 0
    out = values.copy()
    out[long] = values[long].str.slice(0, MAX_TEXT_CHARS)
    return out, [int(r) for r in rows[long]], int(lengths[long].max())


def row_ranges(rows: Sequence[int], most: int = 10) -> str:
    """Row numbers as runs: ``2-13, 15, 20-22`` (sorted, duplicates once; the first
    ``most`` runs, then ``and N more`` rows)."""
    values = sorted({int(r) for r in rows})
    runs: list[tuple[int, int]] = []
    for r in values:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    shown = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:most])
    rest = sum(b - a + 1 for a, b in runs[most:])
    return shown + (f" and {rest} more" if rest else "")


def rejection_summary(rejected: pd.DataFrame) -> str:
    """The rejected rows in words, one part per (reason, field), most rows first:
    ``12 rows: time in no listed format in field 报警时间 (rows 2-13); 1 row: no
    coordinates in field 经度/纬度 (row 14)`` (the reasons as
    :func:`xunfang.ingest.messages.reason_text` says them; a row's file named before its
    rows when the rows come from several files). For the error of a file none of whose
    rows is usable.

    Parameters
    ----------
    rejected
        The rejected rows: ``reason``, ``field``, ``source_file``, ``source_row``.
    """
    if rejected.empty:
        return "no rows"
    several = rejected["source_file"].nunique() > 1
    parts = []
    groups = rejected.groupby(["reason", "field"], sort=False, dropna=False)
    for (reason, fld), sub in sorted(groups, key=lambda g: (-len(g[1]), str(g[0]))):
        n = len(sub)
        where = (
            ", ".join(
                f"{Path(str(f)).name} row{'s' if len(s) > 1 else ''} {row_ranges(s['source_row'])}"
                for f, s in sub.groupby("source_file", sort=False)
            )
            if several
            else f"row{'s' if n > 1 else ''} {row_ranges(sub['source_row'])}"
        )
        field_part = (
            ""
            if pd.isna(fld) or fld in ("", FIELD_COUNT_FIELD, ENCODING_FIELD)
            else f" in field {fld}"
        )
        parts.append(
            f"{n} row{'s' if n > 1 else ''}: {reason_text(str(reason))}{field_part} ({where})"
        )
    return "; ".join(parts)


def _row_list(rows: list[int], most: int = 10) -> str:
    """``3, 7, 12`` (the first ``most`` rows, then ``...``)."""
    shown = ", ".join(str(r) for r in rows[:most])
    return shown + (", ..." if len(rows) > most else "")


def _duplicates(df: pd.DataFrame, reason: pd.Series) -> pd.Series:
    """Mark rows (not yet rejected) whose id an earlier such row used: ``duplicate_id``
    when time and position equal that first row's, else ``duplicate_id_conflict``."""
    todo = reason.isna().to_numpy()
    sub = df.loc[todo, ["incident_id", "occurred_at", "lon", "lat"]]
    dup = sub["incident_id"].duplicated(keep="first")
    if not dup.any():
        return reason
    first = sub.drop_duplicates("incident_id", keep="first").set_index("incident_id")
    later = sub[dup]
    ref = first.loc[later["incident_id"]]
    same = (
        (later["occurred_at"].to_numpy() == ref["occurred_at"].to_numpy())
        & np.isclose(later["lon"].to_numpy(), ref["lon"].to_numpy(), rtol=0, atol=1e-9)
        & np.isclose(later["lat"].to_numpy(), ref["lat"].to_numpy(), rtol=0, atol=1e-9)
    )
    reason = reason.copy()
    reason[later.index[same]] = "duplicate_id"
    reason[later.index[~same]] = "duplicate_id_conflict"
    return reason


def _far_in_time(t: pd.Series) -> tuple[np.ndarray, pd.Timedelta, pd.Timestamp]:
    """Which times lie more than ``max(SPAN_OUTLIER_MIN, 10 * IQR)`` from the median, that
    limit, and the median."""
    median = t.quantile(0.5)
    iqr = t.quantile(0.75) - t.quantile(0.25)
    limit = max(SPAN_OUTLIER_MIN, 10 * iqr)
    return ((t - median).abs() > limit).to_numpy(dtype=bool), limit, median


def bulk_span(times: pd.Series | np.ndarray) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    """First and last time of the bulk of ``times``: the period a rate per week or day is
    counted over.

    Times more than ``max(SPAN_OUTLIER_MIN, 10 * IQR)`` from the median (the rows ingest
    names in its ``span_outliers`` note) are left out of the span, so that one stray row
    years away does not dilute every rate; they are few and still counted as incidents.
    The rule is the interquartile-range fence of Tukey, *Exploratory Data Analysis*
    (1977), widened to ten IQRs and at least a year: only gross outliers are cut.

    Parameters
    ----------
    times
        Datetimes (naive or tz-aware; missing ones ignored).

    Returns
    -------
    (start, end, n_left_out)

    Raises
    ------
    ValueError
        If no time is given.
    """
    t = pd.Series(pd.to_datetime(times)).dropna().reset_index(drop=True)
    if t.empty:
        raise ValueError("no times to span")
    if len(t) < 2:
        return t.iloc[0], t.iloc[0], 0
    far, _, _ = _far_in_time(t)
    kept = t[~far]
    return kept.min(), kept.max(), int(far.sum())


def _span_outliers(good: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """A note when accepted rows lie far from the others in time: more than
    ``max(SPAN_OUTLIER_MIN, 10 * IQR)`` from the median time (:func:`bulk_span`)."""
    t = good["occurred_at"]
    if len(t) < 2:
        return []
    far, limit, median = _far_in_time(t)
    if not far.any():
        return []
    rows = good.loc[far]
    i = int(np.argmax((rows["occurred_at"] - median).abs().to_numpy()))
    return [
        (
            "span_outliers",
            {
                "n": int(far.sum()),
                "days": int(limit / pd.Timedelta(days=1)),
                "file": rows["source_file"].iloc[i],
                "row": int(rows["source_row"].iloc[i]),
                "time": rows["occurred_at"].iloc[i].isoformat(),
                "start": t.min().isoformat(),
                "end": t.max().isoformat(),
            },
        )
    ]


def _strip(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """Text with surrounding spaces removed, as a string array on a fresh 0..n-1 index."""
    return values.astype("string").str.strip().reset_index(drop=True).array


def _with_raw(
    bad: pd.DataFrame, metas: list[dict[str, str]], raws: list[pd.DataFrame]
) -> pd.DataFrame:
    """The rejected rows with their file's blame/expectation fields and raw text."""
    bad = bad.copy()
    files = bad["_file"].to_numpy()
    for key in metas[0]:
        bad[key] = np.array([m[key] for m in metas], dtype=object)[files] if len(bad) else []
    for col in ("raw_time", "raw_x", "raw_y"):
        values = np.empty(len(bad), dtype=object)
        for i, raw in enumerate(raws):
            here = files == i
            if here.any():
                pos = bad["_pos"].to_numpy()[here]
                values[here] = raw[col].to_numpy(dtype=object)[pos]
        bad[col] = pd.array(values, dtype="string")
    return bad


def _examples(
    bad: pd.DataFrame,
    reason: pd.Series,
    area_name: str | None,
    bbox: tuple[float, float, float, float] | None,
    latest: pd.Timestamp | None = None,
    earliest: pd.Timestamp = EARLIEST,
) -> dict[str, list[dict[str, Any]]]:
    """A few rejected rows per reason: where, which field, what it held, what was expected."""
    out: dict[str, list[dict[str, Any]]] = {}
    reason_arr = reason.to_numpy()
    for r in REASONS:
        sub = bad.loc[reason_arr == r].head(EXAMPLES_PER_REASON)
        if sub.empty:
            continue
        rows = []
        for _, row in sub.iterrows():
            if r == "field_count":
                fld, value = FIELD_COUNT_FIELD, str(int(row["_nfields"]))
                expected = (
                    f"{int(row['_hfields'])} fields, as many as the header (an unquoted "
                    "separator in a cell shifts every later cell; the row was not read)"
                )
            elif r == "undecodable":
                fld, value = ENCODING_FIELD, ""
                expected = (
                    "bytes valid in the file's encoding (the row was not read; --bad-bytes "
                    "reject-row)"
                )
            elif r == "unparseable_time":
                fld, value, expected = row["_f_time"], row["raw_time"], row["_expect_time"]
            elif r == "implausible_time":
                fld, value = row["_f_time"], row["raw_time"]
                expected = (
                    f"a time after {earliest:%Y-%m-%d %H:%M} UTC (an earlier time is a "
                    "placeholder such as 1900-01-01, not when the incident happened)"
                )
            elif r == "future_time":
                fld, value = row["_f_time"], row["raw_time"]
                expected = f"a time not after {latest.isoformat() if latest else 'now'} (UTC)"
            elif r == "duplicate_id":
                fld, value = row["_f_id"], row["incident_id"]
                expected = "an id not used by an earlier row"
            elif r == "duplicate_id_conflict":
                fld, value = row["_f_id"], row["incident_id"]
                expected = (
                    "an id not used by an earlier row (an earlier row has this id with "
                    "another time or position)"
                )
            else:
                fld = row["_f_xy"]
                x_text, y_text = _text(row["raw_x"]), _text(row["raw_y"])
                value = f"{x_text}, {y_text}" if x_text or y_text else ""
                expected = row["_expect_xy"]
                if r == "missing_coordinates" and _is_zero(x_text) and _is_zero(y_text):
                    expected = (
                        f"a position other than 0, 0 ({expected}): 0, 0 is read as no "
                        "position, the placeholder many exports write"
                    )
                if r == "swapped_coordinates":
                    swap = str(row["_swap"] or "")
                    if ": " in swap:  # out of range as read: that pair's fields and values
                        fld, _, value = swap.partition(": ")
                        a_text, _, b_text = value.partition(", ")
                    else:  # located outside the area (by a lon/lat pair when named)
                        fld = swap or fld
                        a_text, b_text = str(float(row["lon"])), str(float(row["lat"]))
                        value = f"{a_text}, {b_text}"
                    expected = (
                        f"{fld} in that order: the two columns look swapped "
                        f"({b_text}, {a_text} would be a valid position)"
                    )
                elif r == "outside_area":
                    expected = (
                        f"a position inside {area_name}"
                        if area_name
                        else "a position inside "
                        + (
                            f"{bbox[0]}..{bbox[2]} E, {bbox[1]}..{bbox[3]} N"
                            if bbox
                            else "the area"
                        )
                    )
            rows.append(
                {
                    "file": row["source_file"],
                    "row": int(row["source_row"]),
                    "field": fld,
                    "value": _text(value),
                    "expected": expected,
                }
            )
        out[r] = rows
    return out


def _unmapped_examples(
    good: pd.DataFrame, counts: pd.Series, metas: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The first row of each of the :data:`UNMAPPED_EXAMPLES` commonest types that no
    taxonomy rule or type maps (kept as ``other``): where it is, and what it holds."""
    out: list[dict[str, Any]] = []
    if counts.empty:
        return out
    sub = good.loc[good["_unmapped"].to_numpy(dtype=bool)]
    first = sub.drop_duplicates("_raw_type").set_index("_raw_type")
    for name, n in counts.head(UNMAPPED_EXAMPLES).items():
        row = first.loc[name]
        subtype = _text(row["subtype"])
        out.append(
            {
                "file": row["source_file"],
                "row": int(row["source_row"]),
                "field": metas[int(row["_file"])]["_f_type"],
                "value": _text(name) + (f" / {subtype}" if subtype else ""),
                "expected": (
                    "a type the taxonomy maps (kept as 'other'; add it to a --taxonomy file)"
                ),
                "rows": int(n),
            }
        )
    return out


def _mojibake(raw: pd.DataFrame, layout: Layout) -> dict[str, Any] | None:
    """Fields of a note when a CSV's text looks decoded in the wrong encoding, else None.

    Looked at: the type, subtype, premise and other text columns of the first
    :data:`MOJIBAKE_SAMPLE_ROWS` rows. A cell holding non-ASCII text is suspect when it
    matches :data:`_MOJIBAKE`; the note is given when at least :data:`MOJIBAKE_MIN_CELLS`
    cells and more than :data:`MOJIBAKE_SHARE` of the non-ASCII cells are suspect.
    """
    cols = [c for c in (layout.type, layout.subtype, layout.premise, *layout.extra.values()) if c]
    cols = list(dict.fromkeys(c for c in cols if c in raw.columns))
    if not cols:
        return None
    cells = raw[cols].head(MOJIBAKE_SAMPLE_ROWS).stack().astype("string")
    wide = cells[~cells.str.isascii().fillna(True).astype(bool)]
    if wide.empty:
        return None
    odd = wide[wide.str.contains(_MOJIBAKE).fillna(False).astype(bool)]
    if len(odd) < MOJIBAKE_MIN_CELLS or len(odd) <= MOJIBAKE_SHARE * len(wide):
        return None
    return {"n": len(odd), "of": len(wide), "value": str(odd.iloc[0])[:40]}


def _is_zero(text: str) -> bool:
    """Whether a coordinate as written reads as the number 0 (``0``, ``0.0``, ``-0``)."""
    try:
        return float(text.replace(",", ".")) == 0.0
    except ValueError:
        return False


def _text(value: object) -> str:
    return (
        ""
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else str(value)
    )


def _piles(good: pd.DataFrame) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Positions holding more than ``max(PILE_MIN_ROWS, PILE_SHARE * n)`` rows."""
    n = len(good)
    on = np.zeros(n, dtype=bool)
    if n == 0:
        return [], on
    limit = max(PILE_MIN_ROWS, PILE_SHARE * n)
    lon_code, lon_uniq = pd.factorize(good["lon"].to_numpy())
    lat_code, lat_uniq = pd.factorize(good["lat"].to_numpy())
    pair = lon_code.astype(np.int64) * len(lat_uniq) + lat_code
    codes, pair_uniq = pd.factorize(pair)
    counts = np.bincount(codes)
    big = np.flatnonzero(counts > limit)
    piles = []
    for k in big[np.argsort(-counts[big], kind="stable")]:
        u = int(pair_uniq[k])
        lon_k, lat_k = lon_uniq[u // len(lat_uniq)], lat_uniq[u % len(lat_uniq)]
        piles.append(
            {
                "lon": round(float(lon_k), 7),
                "lat": round(float(lat_k), 7),
                "rows": int(counts[k]),
                "share": round(float(counts[k]) / n, 4),
            }
        )
    on[np.isin(codes, big)] = True
    return piles, on


def write_outputs(
    out_dir: str | Path,
    table: IncidentTable | None,
    rejected: pd.DataFrame,
    report: IngestReport,
    *,
    lang: str = "en",
) -> dict[str, Path]:
    """Write ``incidents.parquet``, ``rejected.csv`` and ``ingest_report.json`` to ``out_dir``.

    ``table=None`` (every row rejected) writes only ``rejected.csv`` and the report, and
    removes an ``incidents.parquet`` left by an earlier run so that no stale table remains.
    ``rejected.csv`` gets a ``reason_text`` column in ``lang`` (``en`` or ``zh``) after the
    ``reason`` code (and, in ``zh``, the ``field`` of a row not read, ``(field count)`` or
    ``(encoding)``, in Chinese), and like every CSV for people is UTF-8 with a byte-order mark
    (:data:`xunfang.outputs.CSV_ENCODING`). Each file is written to a unique temporary name
    in ``out_dir`` (:func:`tempfile.mkstemp`) and the three are renamed only when all are
    complete, so a failed run leaves no half file and a second writer never shares a
    temporary file (the command line also locks the folder: :class:`xunfang.outputs.OutputLock`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "incidents": out / "incidents.parquet",
        "rejected": out / "rejected.csv",
        "report": out / "ingest_report.json",
    }
    if table is None:
        paths["incidents"].unlink(missing_ok=True)
        del paths["incidents"]
    with contextlib.ExitStack() as stack:
        # all three complete before any is renamed; an error or Ctrl-C removes them all
        tmp = {k: stack.enter_context(temporary_path(v)) for k, v in paths.items()}
        if table is not None:
            table.write_parquet(tmp["incidents"])
        rej = rejected.copy()
        rej.insert(
            1,
            "reason_text",
            [
                reason_text(r, lang, row_fields=n, header_fields=m)
                for r, n, m in zip(
                    rej["reason"],
                    rej.get("row_fields", pd.Series(pd.NA, index=rej.index)),
                    rej.get("header_fields", pd.Series(pd.NA, index=rej.index)),
                    strict=True,
                )
            ],
        )
        if "field" in rej and lang == "zh":  # a row not read blames no column: say so
            marks = rej["field"].isin([FIELD_COUNT_FIELD, ENCODING_FIELD])
            rej.loc[marks, "field"] = rej.loc[marks, "field"].map(lambda f: column_text(f, lang))
        rej.to_csv(tmp["rejected"], index=False, encoding=CSV_ENCODING)
        tmp["report"].write_text(
            strict_json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
        )
    return paths
