"""Reading incident files as analysts send them: CSV (any common separator, plain or gzip,
UTF-8 or GB18030, byte-order mark, CRLF), Excel ``.xlsx`` and vector point files.

Every reader returns the file's cells as strings in a :class:`RawFile`, with the layout of
the profile that matches its header. Nothing here interprets values; validation is in
:mod:`xunfang.ingest.incidents`.

Encoding rule (``encoding="auto"``): a byte-order mark decides; else UTF-16 when at least
a fifth of the 2-byte units carry a zero byte, all on the same side (other text encodings
have NUL bytes only as stray characters, a few in a cell of an export; UTF-16 has one per
ASCII character); else UTF-8 if every byte
of the first MiB decodes as UTF-8; else GB18030 (a superset of GBK and GB 2312) if every
byte decodes as GB18030 **and** the non-ASCII text is Chinese (at least 95 % of it in the
CJK blocks, and at least two such characters). Anything else is refused with a message
naming ``--encoding``: single-byte code pages (cp1251, latin-1, ...) decode any bytes at
all, so guessing one would turn a GBK file into Cyrillic without a word.

Mixed files: a GB18030/GBK export with some lines saved as UTF-8 (a row pasted in from
another system) is read line by line: a line with non-ASCII bytes that is valid UTF-8 is
read as UTF-8, since Chinese text in GBK is almost never valid UTF-8 while UTF-8 Chinese often
*is* valid GB18030 and would otherwise turn into other characters without a word; the lines
read so are named in the report. The reverse, a UTF-8 export with some GB18030 lines, is
read by the same rule: with ``encoding="auto"`` a file is called UTF-8 when, in its first
MiB, more of its non-ASCII lines are valid UTF-8 than not (else GB18030), and its lines that
are not UTF-8 but valid GB18030 are read as GB18030 and named in the report (a tester's
UTF-8 file whose lines 32 on were GB18030 was refused for its header, "not valid gb18030").
A line that is valid in neither refuses the file, naming it. The header line follows the
same rule.

Binary files: a file whose first 4 KiB hold NUL bytes is refused as binary unless they are
in the UTF-16 pattern above or are stray (at most 1 % of the bytes, with as few other
control bytes: :func:`_text_with_stray_nuls`); stray NULs are then removed from the text
cells and counted with the other C0 control characters (``cleaned_text``).

Field counts (CSV): every record must hold as many fields as the header. A row with more
(an unquoted separator inside an address: every later cell shifts one column to the right,
so a column never read, such as the caller's free text, would land in a column that is
read) or fewer (a row cut short) is never shifted, padded or cut: its cells are all
blanked and it is marked ``field_count`` in :attr:`RawFile.problems`, its field count in
:attr:`RawFile.fields`; ingest rejects it naming the line and both counts. The records are
counted with :mod:`csv` (the same RFC 4180 quoting as :func:`pandas.read_csv`); should the
two readers find a different number of records, the file is refused.

Bad bytes (CSV, ``bad_bytes``): by default (``refuse``) one byte not valid in the file's
encoding refuses the whole file, naming its line: such a byte far more often means a wrong
encoding (or a damaged copy) than one bad cell, and reading on would hide it. With
``reject-row`` the file is decoded line by line (in memory), the encoding judged on the
other lines, and each record on a line holding such bytes is blanked and marked
``undecodable`` (:attr:`RawFile.problems`): ingest rejects it naming the line, and the
other rows are read. Not for UTF-16 files (their lines cannot be told apart in the
bytes) nor for the header line, which must decode.

Header row (CSV and Excel, ``header_row``): exports often start with a title row
("黄浦分局110接警记录导出（2024年2月-3月）") and a two-row header whose top row groups
columns ("坐标" merged over "经度" and "纬度"; openpyxl gives a merged cell's value in its
top-left cell only). ``header_row="auto"`` (the default) takes the first of the first
:data:`HEADER_SCAN_ROWS` rows that holds *every* column a layout needs, trying each row
merged with the row above it (a column's name is the lower row's cell, else the upper
row's) and then alone, so a file whose first row is its header reads as before; a number
``N`` (1-based) names the header row (again merged with the row above when it alone lacks
columns). The data start on the row after the header.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import gzip
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import charset_normalizer
import numpy as np
import pandas as pd

from xunfang import strict_json
from xunfang.errors import DataFileError
from xunfang.ingest.profiles import (
    AliasLayout,
    CoordSpec,
    FrameName,
    Layout,
    Profile,
    normalise_header,
)

__all__ = [
    "BAD_BYTES",
    "BAD_BYTES_HINT",
    "FORMATS_READ",
    "HEADER_SCAN_ROWS",
    "ROW_PROBLEMS",
    "BadBytes",
    "HeaderRow",
    "RawFile",
    "UndecidedEncoding",
    "detect_encoding",
    "find_header",
    "read_raw",
    "sniff_kind",
]

FORMATS_READ = (
    "xunfang ingest reads CSV/TXT tables (plain or .gz; comma, semicolon, tab or | "
    "separated; UTF-8 or GB18030/GBK, or the encoding given with --encoding), Excel .xlsx "
    "workbooks (--sheet), and point files: GeoPackage (.gpkg), GeoJSON, Shapefile (.shp or "
    "a zip of one)"
)
SAMPLE_BYTES = 1 << 20
CJK_SHARE = 0.95
"""Share of the non-ASCII characters that must be Chinese for GB18030 to be chosen."""
GEOM_LON = "__geometry_lon__"
GEOM_LAT = "__geometry_lat__"
_DELIMITERS = (",", ";", "\t", "|")
_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".kml"}
Kind = Literal["csv", "xlsx", "vector"]
HeaderRow = int | Literal["auto"]
"""Which row holds the column names: 1-based, or ``auto`` (module docstring)."""
HEADER_SCAN_ROWS = 10
"""Rows ``header_row="auto"`` looks at for the header."""
ROW_PROBLEMS = ("field_count", "undecodable")
"""Why a reader may blank a row (:attr:`RawFile.problems`): ``field_count``, a CSV record
with more or fewer fields than its header; ``undecodable``, a CSV record on a line holding
bytes not valid in the file's encoding (``bad_bytes="reject-row"``)."""
BadBytes = Literal["refuse", "reject-row"]
"""What to do with bytes not valid in a CSV's encoding (module docstring, "Bad bytes")."""
BAD_BYTES: tuple[BadBytes, ...] = ("refuse", "reject-row")
BAD_BYTES_HINT = "; or give --bad-bytes reject-row to reject only the rows holding such bytes"
"""Ends the refusal of a file with undecodable bytes, naming the way through."""


def _names_of(row: Sequence[object]) -> list[str]:
    return [normalise_header("" if v is None or v != v else str(v)) for v in row]


def find_header(
    rows: Sequence[Sequence[object]],
    fits: Callable[[list[str]], bool],
    header_row: HeaderRow = "auto",
) -> tuple[list[str], int]:
    """The header of a table whose first rows are ``rows`` (module docstring, "Header
    row").

    Parameters
    ----------
    rows
        The first rows of the table, cells as read (None for an empty cell).
    fits
        Whether a list of (normalised) column names holds every column needed.
    header_row
        1-based row of the header, or ``"auto"``.

    Returns
    -------
    (names, first_data_row)
        The column names and the 0-based index of the first data row in ``rows``. When
        nothing fits, row 1 (or row ``header_row``) as it is, for the caller's error.

    Raises
    ------
    ValueError
        If ``header_row`` is not ``auto`` or a number from 1 to ``len(rows)``.
    """
    if header_row != "auto" and (
        isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1
    ):
        raise ValueError(f"header row must be a number from 1 or 'auto', got {header_row!r}")
    if header_row != "auto" and header_row > len(rows):
        raise ValueError(f"header row {header_row} is past the end ({len(rows)} rows)")
    where = range(min(HEADER_SCAN_ROWS, len(rows))) if header_row == "auto" else [header_row - 1]
    for i in where:
        alone = _names_of(rows[i])
        if i > 0:  # merged first: a group row's names fill the blanks under merged cells
            upper = _names_of(rows[i - 1])
            upper += [""] * (len(alone) - len(upper))
            merged = [lo or up for lo, up in zip(alone, upper, strict=False)]
            if fits(merged):
                return merged, i + 1
        if fits(alone):
            return alone, i + 1
    i = 0 if header_row == "auto" else header_row - 1
    return (_names_of(rows[i]) if rows else []), i + 1


@dataclass
class RawFile:
    """One file's cells as strings, and how they were read.

    Attributes
    ----------
    frame
        One row per data row (its row in the file: ``rows``), the layout's columns as
        strings.
    layout
        The matched layout (concrete column names).
    encoding
        Text encoding used (``"xlsx"``/``"vector"`` for binary formats).
    kind
        ``csv``, ``xlsx`` or ``vector``.
    decimal_comma
        True when numbers may use a decimal comma (the separator is not a comma).
    notes
        Things the report should say (columns recognised but not read, ...): a message key
        of :mod:`xunfang.ingest.messages` and its fields.
    """

    frame: pd.DataFrame
    layout: Layout
    encoding: str
    kind: Kind
    decimal_comma: bool = False
    notes: list[dict[str, str]] = field(default_factory=list)
    rows: np.ndarray | None = None
    """The row of each frame row as the file shows it, 1-based: a CSV's line number
    (counting title and header lines, blank lines and the lines of quoted line breaks), a
    sheet's row number, a vector file's feature number. None: index + 1."""
    lost_digits: dict[str, np.ndarray] = field(default_factory=dict)
    """Per text column of an Excel sheet (id, phone, ...), a mask of the rows whose cell is
    a number longer than Excel's 15 significant digits: its last digits are lost."""
    problems: np.ndarray | None = None
    """Per frame row, why the reader could not read it (``""`` when it could): one of
    :data:`ROW_PROBLEMS`. Such a row's cells are all None, so that nothing of it (a shifted
    cell may hold a column never meant to be read) reaches any output. None: no problem."""
    fields: np.ndarray | None = None
    """Per frame row of a CSV, how many fields its record holds (compare ``header_fields``)."""
    header_fields: int = 0
    """How many fields the CSV's header holds."""


# --------------------------------------------------------------------------- bytes
def _open_binary(path: Path) -> IO[bytes]:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# CJK unified ideographs and extension A, CJK punctuation 、。「」, full-width forms （），：,
# general punctuation “” … —, extensions B-F and the compatibility supplement
_CJK = re.compile(
    "[\u4e00-\u9fff\u3400-\u4dbf\u3000-\u303f\uff00-\uffef\u2000-\u206f\U00020000-\U0002fa1f]"
)


def _first_bad_line(path: Path, encoding: str, also: str | None = None) -> int:
    """1-based line number of the first line that decodes neither as ``encoding`` nor as
    ``also`` (0 if none)."""
    with _open_binary(path) as fh:
        for number, line in enumerate(fh, start=1):
            for enc in (encoding, also) if also else (encoding,):
                try:
                    line.decode(enc)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                return number
    return 0


def _is_utf8(line: bytes) -> bool:
    return _decodes(line, "utf-8")


def _decodes(line: bytes, encoding: str) -> bool:
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


UTF16_ZERO_SHARE = 0.2


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``-be`` when a sample without a byte-order mark is UTF-16 by its zero
    bytes: text files in any other encoding hold no NUL, while UTF-16 gives one per ASCII
    character (digits, separators, times), all on odd offsets (LE) or all on even (BE)."""
    n = len(sample) - len(sample) % 2
    if n < 8:
        return None
    half = n // 2
    even, odd = sample[0:n:2].count(0), sample[1:n:2].count(0)
    if odd >= UTF16_ZERO_SHARE * half and even <= 0.01 * half:
        enc = "utf-16-le"
    elif even >= UTF16_ZERO_SHARE * half and odd <= 0.01 * half:
        enc = "utf-16-be"
    else:
        return None
    for cut in (n, n - 2):  # the sample may end inside a surrogate pair
        try:
            text = sample[:cut].decode(enc)
        except UnicodeDecodeError:
            continue
        return enc if "\x00" not in text else None
    return None


STRAY_NUL_SHARE = 0.01
"""At most this share of a text file's first bytes may be NUL (a stray NUL in a cell of an
export, cleaned later with the other C0 control characters); more is a binary file."""

_BINARY_CONTROLS = bytes(b for b in range(32) if b not in b"\x00\t\n\x0b\x0c\r\x1a\x1b")
"""C0 control bytes that text files hardly hold (tab, line ends, form feed, SUB and ESC
do occur in exports) but binary data is full of: 26 of 256 byte values."""


def _text_with_stray_nuls(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes, holding NULs, not UTF-16 by their pattern) is
    text with a few stray NULs rather than binary data.

    Text: the NULs are at most :data:`STRAY_NUL_SHARE` of the bytes, and so are the other
    control bytes of :data:`_BINARY_CONTROLS`. In any single- or multi-byte text encoding
    but UTF-16/32 (UTF-8, GBK/GB18030, the code pages) a NUL byte is the NUL character
    and nothing else, so a few of them are stray characters; an executable, a database
    page or compressed data holds far more NULs (random bytes: 0.4 % NUL but about 10 %
    other control bytes).
    """
    if not head:
        return False
    limit = STRAY_NUL_SHARE * len(head)
    if head.count(0) > limit:
        return False
    controls = len(head) - len(head.translate(None, _BINARY_CONTROLS))
    return controls <= limit


def detect_encoding(path: Path, requested: str = "auto", bad_bytes: BadBytes = "refuse") -> str:
    """The text encoding of a CSV file by the rule in the module docstring.

    Parameters
    ----------
    path
        The file (plain or gzip).
    requested
        ``"auto"`` to detect; any other value is returned unchanged.
    bad_bytes
        ``reject-row``: lines valid neither as UTF-8 nor as GB18030 are left out of the
        judgement (their rows are rejected later; module docstring, "Bad bytes").

    Returns
    -------
    str
        ``utf-8-sig`` (UTF-8 with or without a BOM; also a mixed file whose non-ASCII
        lines are mostly UTF-8 and the others GB18030, read by :func:`_decode_lines` with
        ``gb_too``), ``utf-16`` (with a BOM), ``utf-16-le``/``utf-16-be`` (without one,
        told by its zero bytes), ``gb18030`` (also a mixed file mostly GB18030) or
        ``requested``.

    Raises
    ------
    DataFileError
        When the bytes do not decide it: naming the first line that is not UTF-8, what
        the bytes might be, and ``--encoding``.
    """
    if requested != "auto":
        try:
            name = codecs.lookup(requested).name
        except LookupError:
            raise DataFileError(
                path, f"unknown encoding {requested!r} (--encoding or the mapping's encoding key)"
            ) from None
        if name != "utf-16":
            return requested
    with _open_binary(path) as fh:
        sample = fh.read(SAMPLE_BYTES)
    if requested != "auto":  # UTF-16 asked for: the byte-order mark, or its zero bytes, decide
        if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        told = _utf16_without_bom(sample)
        if told is None:
            raise DataFileError(
                path,
                "is not UTF-16 (no byte-order mark, and its zero bytes do not say which byte "
                "order): check --encoding",
            )
        return told
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return utf16
    if len(sample) == SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # never judge a character cut in two
    try:
        sample.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    why = "its bytes are not GB18030 either"
    bad_line = 0
    hint = ""
    # UTF-8 lines pasted into a GBK export are read as UTF-8 (module docstring): judge the rest.
    sample_lines = sample.split(b"\n")
    n_utf8 = sum(1 for line in sample_lines if not line.isascii() and _is_utf8(line))
    others = [line for line in sample_lines if not _is_utf8(line)]
    if bad_bytes == "reject-row":  # judge the lines that decode; the others are rejected
        others = [line for line in others if _decodes(line, "gb18030")]
    rest = b"\n".join(others)
    if bad_bytes == "reject-row" and not rest:
        return "utf-8-sig"
    try:
        text = rest.decode("gb18030")
    except UnicodeDecodeError:
        bad_line = _first_bad_line(path, "gb18030", also="utf-8")
        why = f"line {bad_line} is neither UTF-8 nor GB18030"
        hint = BAD_BYTES_HINT
    else:
        n_wide = len(_NON_ASCII.findall(text))
        n_cjk = len(_CJK.findall(text))
        if n_wide and n_cjk >= 2 and n_cjk / n_wide >= CJK_SHARE:
            # mostly UTF-8 with some GB18030 lines: UTF-8, those lines read as GB18030
            return "utf-8-sig" if n_utf8 > len(others) else "gb18030"
        why = f"read as GB18030 only {n_cjk} of its {n_wide} non-ASCII characters are Chinese"
    best = charset_normalizer.from_bytes(sample).best()
    maybe = f" (a guess from its bytes: {best.encoding})" if best is not None else ""
    raise UndecidedEncoding(
        path,
        f"is not UTF-8 and {why}: the bytes do not decide its encoding{maybe}. Pass it with "
        "--encoding (e.g. --encoding gb18030 for a Chinese export, --encoding cp1252 for a "
        "Western European one) or the mapping's encoding key" + hint,
        row=bad_line or _first_bad_line(path, "utf-8") or None,
        why=f"is not UTF-8 and {why}",
    )


class UndecidedEncoding(DataFileError):
    """:func:`detect_encoding` could not tell a file's encoding from its bytes; ``why``
    says what the bytes are not ("is not UTF-8 and line 2 is neither UTF-8 nor GB18030"),
    for a caller whose remedy is not ``--encoding`` (a site file)."""

    def __init__(self, path: str | Path, message: str, *, row: int | None, why: str) -> None:
        super().__init__(path, message, row=row)
        self.why = why


INCIDENT_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".xlsx", ".gpkg", ".geojson", ".shp")
"""Names of the files read from a folder of incident files. Not ``.txt`` (data folders keep
their ``SOURCE.txt`` and read-me files beside the tables) nor ``.zip`` (a download kept
beside its contents): name such a file itself to read it."""


def is_vector_folder(path: Path) -> bool:
    """Whether a folder is one vector file (a Shapefile's parts or a File Geodatabase)."""
    return path.is_dir() and (path.suffix.lower() == ".gdb" or any(path.glob("*.shp")))


def incident_files_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """The incident files of a folder, in name order, and the files left out.

    Read: the files whose names end in :data:`INCIDENT_SUFFIXES` (case-insensitive),
    sorted by name (so ``crimes_2014-01.csv.gz`` comes before ``crimes_2014-02.csv.gz``);
    subfolders are not searched. Left out (returned so that the caller names them):
    every other file, except hidden files (``.name``) and Office lock files (``~$name``).

    Raises
    ------
    DataFileError
        When the folder holds no incident file, saying which names are read.
    """
    read: list[Path] = []
    left: list[Path] = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.is_dir() or p.name.startswith((".", "~$")):
            continue
        (read if p.name.lower().endswith(INCIDENT_SUFFIXES) else left).append(p)
    if not read:
        raise DataFileError(
            folder,
            f"is a folder with no incident files (read: {', '.join(INCIDENT_SUFFIXES)}"
            f"{'; found ' + ', '.join(p.name for p in left[:5]) if left else ''})",
        )
    return read, left


_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
XLSX_DAMAGED = "the .xlsx file is damaged or not an Excel file"
XLSX_FIX = "Open it in Excel or WPS and save it again as .xlsx, or export a CSV"


def sniff_kind(path: Path) -> Kind:
    """Whether a file is a CSV, an Excel workbook or a vector file, from its first bytes
    and its name.

    Raises
    ------
    DataFileError
        For anything else (a PDF, a Word document, an image, an old .xls, a zip of
        something other than a Shapefile), saying what is read instead.
    """
    suffix = path.suffix.lower()
    if path.is_dir():
        if is_vector_folder(path):
            return "vector"
        raise DataFileError(path, "is a folder; read its files with incident_files_in")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    what = None
    excel = suffix in _EXCEL_SUFFIXES
    if excel and not head.startswith(b"PK\x03\x04"):
        kind = "empty" if not head else "not a zip archive, as every .xlsx is; a CSV needs .csv"
        raise DataFileError(path, f"{XLSX_DAMAGED} ({kind}). {XLSX_FIX}")
    if head.startswith(b"%PDF"):
        what = "a PDF document"
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile as exc:
            if excel:
                raise DataFileError(
                    path, f"{XLSX_DAMAGED} (a cut or broken zip archive: {exc}). {XLSX_FIX}"
                ) from exc
            names = []
        if "xl/workbook.xml" in names:
            return "xlsx"
        if excel:
            raise DataFileError(
                path, f"{XLSX_DAMAGED} (a zip archive without a workbook inside). {XLSX_FIX}"
            )
        if any(n.lower().endswith(".shp") for n in names):
            return "vector"
        if "word/document.xml" in names:
            what = "a Word document (.docx)"
        elif any(n.startswith("ppt/") for n in names):
            what = "a PowerPoint file"
        else:
            inner = ", ".join(names[:5]) or "nothing readable (cut or damaged?)"
            what = f"a zip archive of {inner} (unzip it and give the table inside)"
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        what = "an old Office file (.xls or .doc): save it as .xlsx or CSV"
    elif head.startswith(b"SQLite format 3\x00"):
        return "vector"
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        what = "an image"
    elif suffix in _VECTOR_SUFFIXES or (
        head.lstrip().startswith(b"{") and (b'"FeatureCollection"' in head or b'"Feature"' in head)
    ):
        return "vector"
    elif (
        b"\x00" in head
        and not head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b"))
        and _utf16_without_bom(head) is None
        and not _text_with_stray_nuls(head)
    ):
        what = "a binary file"
    if what is not None:
        raise DataFileError(path, f"is {what}, not a table. {FORMATS_READ}")
    return "csv"


# --------------------------------------------------------------------------- layout
def _match(
    path: Path,
    profile: Profile,
    header: Sequence[str],
    frame: FrameName | None,
    *,
    geometry: bool = False,
    delimiter: str | None = None,
) -> Layout:
    """The first layout of ``profile`` whose columns are all in ``header``."""
    names = [normalise_header(c) for c in header]
    for candidate in profile.layouts:
        if delimiter is not None and candidate.delimiter != delimiter:
            continue
        needed = candidate.required_columns()
        if geometry:
            coord_cols = {c for s in candidate.coords for c in (s.x, s.y)}
            needed = {c: r for c, r in needed.items() if c not in coord_cols}
        if all(col in names for col in needed):
            lay = candidate
            if frame is not None:
                lay = _with_frame(lay, frame)
            if geometry:
                present = tuple(s for s in lay.coords if s.x in names and s.y in names)
                geom = CoordSpec(kind="lonlat", x=GEOM_LON, y=GEOM_LAT, frame=frame or "wgs84")
                lay = lay.model_copy(update={"coords": (geom, *present)})
            return lay
    for alias in profile.alias_layouts:
        lay_or_none = alias.resolve(
            names, frame or "wgs84", (GEOM_LON, GEOM_LAT) if geometry else None
        )
        if lay_or_none is not None:
            return lay_or_none.model_copy(update={"delimiter": delimiter or ","})
    _refuse_header(path, profile, names, geometry=geometry)
    raise AssertionError("unreachable")


def _with_frame(layout: Layout, frame: FrameName) -> Layout:
    coords = tuple(
        s.model_copy(update={"frame": frame}) if s.kind == "lonlat" else s for s in layout.coords
    )
    return layout.model_copy(update={"coords": coords})


def _refuse_header(path: Path, profile: Profile, names: list[str], *, geometry: bool) -> None:
    shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    if profile.layouts:

        def _missing(lay: Layout) -> list[tuple[str, str]]:
            coord_cols = {c for s in lay.coords for c in (s.x, s.y)} if geometry else set()
            return [
                (c, r)
                for c, r in lay.required_columns().items()
                if c not in names and c not in coord_cols
            ]

        best = min(profile.layouts, key=lambda lay: len(_missing(lay)))
        missing = _missing(best)
        if missing:
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
                + f"; the header has: {shown}",
                field=col,
            )
    alias = profile.alias_layouts[0]
    role, accepted = alias.missing(names)[0]
    raise DataFileError(
        path,
        f"no {role} column for profile {profile.name!r}: expected one of {accepted}; the "
        f"header has: {shown}. Name the columns in a --mapping file if they differ",
        field=role,
    )


def _refuse_duplicates(
    path: Path, names: list[str], used: set[str], header_line: int | None = None
) -> list[str]:
    """Unique column names: a used name that appears twice is refused, naming both (and
    the header's row, ``header_line``, when known)."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        if name in seen:
            if name in used:
                first = seen[name]
                raise DataFileError(
                    path,
                    f"two columns are named {name!r}: column {first + 1} and column {i + 1} "
                    "of the header; rename one so that it is clear which to read",
                    row=header_line,
                    field=name,
                )
            out.append(f"{name}#{i + 1}")
        else:
            seen[name] = i
            out.append(name)
    return out


def _layout_notes(profile: Profile, names: Sequence[str]) -> list[dict[str, str]]:
    """Notes for the report, as message keys of :mod:`xunfang.ingest.messages` and fields."""
    keys = {normalise_header(n).upper() for n in names}
    notes = []
    for alias in profile.alias_layouts:
        dropped = [d for d in alias.dropped if d.upper() in keys]
        if dropped:
            notes.append({"key": "dropped", "cols": ", ".join(dropped)})
        notes.extend(_unread_alternates(alias, names))
    return notes


def _unread_alternates(alias: AliasLayout, names: Sequence[str]) -> list[dict[str, str]]:
    """A note per field of which the header holds two accepted names: the one read and the
    other(s) not read (a tester's export had both 到达时间 and 到场时间, with different
    values, and 到场时间 was left out without a word)."""
    layout = alias.resolve(list(names))
    if layout is None:
        return []
    by_key: dict[str, str] = {}
    for col in names:
        by_key.setdefault(normalise_header(col).upper(), col)
    used = {layout.time, layout.type, layout.id, layout.subtype}
    used |= set(layout.extra.values()) | set(layout.steps.values())
    used |= {c for spec in layout.coords for c in (spec.x, spec.y)}
    roles: list[tuple[Sequence[str], str | None]] = [
        (alias.time, layout.time),
        (alias.type, layout.type),
        (alias.id, layout.id),
        (alias.subtype, layout.subtype),
        *((alias.extra[k], layout.extra.get(k)) for k in alias.extra),
        *((alias.steps[k], layout.steps.get(k)) for k in alias.steps),
    ]
    notes = []
    for accepted, read in roles:
        if read is None:
            continue
        unread = list(
            dict.fromkeys(
                by_key[a.upper()]
                for a in accepted
                if a.upper() in by_key and by_key[a.upper()] not in used
            )
        )
        if unread:
            notes.append({"key": "alternate_unread", "cols": ", ".join(unread), "read": read})
    return notes


# --------------------------------------------------------------------------- readers
_GB_ENCODINGS = {"gb18030", "gbk", "gb2312", "cp936"}


def _line_list(numbers: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def _decode_lines(
    path: Path, enc: str, *, utf8_too: bool, reject: bool, gb_too: bool = False
) -> tuple[io.StringIO, list[int], list[int]] | None:
    """The text of a CSV decoded line by line: for a GB18030/GBK file in which some lines
    are UTF-8 (``utf8_too``), for a UTF-8 file in which some lines are GB18030
    (``gb_too``; module docstring, "Mixed files"), and to reject only the lines holding
    bytes that are not valid (``reject``: ``bad_bytes="reject-row"``, module docstring).

    Returns
    -------
    tuple or None
        The whole text with each line decoded by its own encoding (a line with bytes
        valid in neither decoded with U+FFFD in their place), the 1-based line numbers
        read in the other encoding (UTF-8 with ``utf8_too``, GB18030 with ``gb_too``) and
        those holding undecodable bytes; None when the file can be read as ``enc`` as it
        is (no line in the other encoding, and with ``reject`` or ``gb_too`` every byte
        valid).

    Raises
    ------
    DataFileError
        Without ``reject``, when a line of a mixed file is valid in neither encoding,
        naming the line.
    """
    with _open_binary(path) as fh:
        data = fh.read()
    lines = data.split(b"\n")
    # Fast path: a file whose non-ASCII lines are all not UTF-8 is plain GB18030.
    other_lines: list[int] = []
    if utf8_too:
        for number, line in enumerate(lines, start=1):
            if not line.isascii() and _is_utf8(line):
                other_lines.append(number)
    if not other_lines:
        if not (reject or gb_too):
            return None
        try:
            data.decode(enc)
        except UnicodeDecodeError:
            pass
        else:
            return None
    as_utf8 = set(other_lines)
    also = "UTF-8" if utf8_too else "GB18030"
    parts: list[str] = []
    bad: list[int] = []
    for number, line in enumerate(lines, start=1):
        if number in as_utf8:
            parts.append(line.decode("utf-8"))
            continue
        try:
            parts.append(line.decode(enc))
            continue
        except UnicodeDecodeError as exc:
            error = exc
        if gb_too and _decodes(line, "gb18030"):
            parts.append(line.decode("gb18030"))
            other_lines.append(number)
            continue
        if not reject:
            raise DataFileError(
                path,
                f"line {number} is valid neither as {enc} nor as {also}; pass the file's "
                "encoding with --encoding or fix that line" + BAD_BYTES_HINT,
                row=number,
            ) from error
        bad.append(number)
        parts.append(line.decode(enc, errors="replace"))
    return io.StringIO("\n".join(parts)), other_lines, bad


def _sniff_delimiter(line: str) -> str:
    counts = Counter({d: line.count(d) for d in _DELIMITERS})
    best, n = counts.most_common(1)[0]
    return best if n > 0 else ","


def _fits(
    path: Path,
    profile: Profile,
    header: list[str],
    frame: FrameName | None = None,
    delimiter: str | None = None,
) -> bool:
    try:
        _match(path, profile, header, frame, delimiter=delimiter)
    except DataFileError:
        return False
    return True


def _head_line(line: bytes, enc: str, gb_too: bool) -> str:
    """One of a CSV's first lines decoded as :func:`_decode_lines` decodes it: in a
    GB18030/GBK file a non-ASCII line valid as UTF-8 as UTF-8; with ``gb_too`` (a UTF-8
    file with GB18030 lines) a line not valid UTF-8 as GB18030; else as ``enc``.

    Raises
    ------
    UnicodeDecodeError
        When the line is valid in none of them.
    """
    plain = enc.lower().replace("-", "").replace("_", "")
    if plain in _GB_ENCODINGS and not line.isascii() and _is_utf8(line):
        return line.decode("utf-8")
    if gb_too and not _decodes(line, enc) and _decodes(line, "gb18030"):
        return line.decode("gb18030")
    return line.decode(enc, errors="strict")


def _head_lines(
    path: Path, head: bytes, enc: str, complete: bool, gb_too: bool = False
) -> list[str]:
    """The first lines of a CSV's first bytes, decoded line by line as the file's lines
    are (:func:`_head_line`; the first one strictly)."""
    if enc.lower().replace("-", "").replace("_", "") in {"utf16", "utf16le", "utf16be"}:
        lines = head.decode(enc, errors="ignore").split("\n")
    else:
        raw = head.split(b"\n")
        try:
            lines = [_head_line(raw[0], enc, gb_too)]
        except UnicodeDecodeError as exc:
            raise DataFileError(
                path,
                f"header is not valid {enc}; pass the file's encoding with --encoding or the "
                "mapping's encoding key (e.g. gb18030 for Chinese exports)",
                row=1,
            ) from exc
        for b in raw[1 : HEADER_SCAN_ROWS + 1]:
            try:
                lines.append(_head_line(b, enc, gb_too))
            except UnicodeDecodeError:
                lines.append(b.decode(enc, errors="replace"))
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut off
    return [ln.rstrip("\r") for ln in lines[:HEADER_SCAN_ROWS]]


def _note_other_lines(notes: list[dict[str, str]], plain: str, lines: list[int]) -> None:
    """Add the note naming the lines of a mixed file read in the other encoding: UTF-8
    lines of a GB18030/GBK file, GB18030 lines of a UTF-8 one (``plain``: the file's
    encoding, lower case without ``-``/``_``)."""
    if lines:
        key = "utf8_lines" if plain in _GB_ENCODINGS else "gb18030_lines"
        notes.append({"key": key, "lines": _line_list(lines)})


def _read_csv(
    path: Path,
    profile: Profile,
    encoding: str,
    frame: FrameName | None,
    header_row: HeaderRow = "auto",
    bad_bytes: BadBytes = "refuse",
) -> RawFile:
    if path.stat().st_size == 0:
        raise DataFileError(path, "file is empty (0 bytes)")
    enc = detect_encoding(path, encoding, bad_bytes)
    plain = enc.lower().replace("-", "").replace("_", "")
    # told UTF-8 by its bytes: GB18030 lines are read as such (module docstring, "Mixed files")
    gb_too = encoding == "auto" and plain in ("utf8", "utf8sig")
    with _open_binary(path) as fh:
        head = fh.read(1 << 16)
        complete = not fh.read(1)
    lines = _head_lines(path, head, enc, complete, gb_too)
    first = lines[0]
    if not first.replace("\ufeff", "").strip():
        raise DataFileError(path, "file is empty (no header row)")
    delimiters = sorted({lay.delimiter for lay in profile.layouts}) or [_sniff_delimiter(first)]
    if profile.alias_layouts and not profile.layouts:
        delimiters = [_sniff_delimiter(first)]
    layout = None
    header: list[str] = []
    start = 1
    for delim in delimiters:
        rows = [next(csv.reader([ln], delimiter=delim), []) for ln in lines]
        try:
            header, start = find_header(
                rows,
                functools.partial(_fits, path, profile, frame=frame, delimiter=delim),
                header_row,
            )
        except ValueError as exc:
            raise DataFileError(path, str(exc), field="header_row") from exc
        try:
            layout = _match(path, profile, header, frame, delimiter=delim)
            break
        except DataFileError:
            if delim == delimiters[-1]:
                raise
    assert layout is not None
    used = set(layout.required_columns())
    names = _refuse_duplicates(path, header, used, start)
    notes = _layout_notes(profile, header)
    source: Path | io.StringIO = path
    bad_lines: list[int] = []
    reject = bad_bytes == "reject-row" and not plain.startswith("utf16")
    if plain in _GB_ENCODINGS or reject:
        decoded = _decode_lines(
            path, enc, utf8_too=plain in _GB_ENCODINGS, reject=reject, gb_too=gb_too
        )
        if decoded is not None:
            source, other_lines, bad_lines = decoded
            _note_other_lines(notes, plain, other_lines)

    def parse(src: Path | io.StringIO) -> pd.DataFrame:
        binary = isinstance(src, Path)
        with contextlib.ExitStack() as stack:
            return pd.read_csv(
                stack.enter_context(_open_binary(path)) if binary else src,
                sep=layout.delimiter,
                header=0,
                skiprows=start - 1,
                names=names,
                usecols=list(used),
                index_col=False,  # a first row longer than the header: no index column
                dtype=str,
                encoding=enc if binary else None,
                keep_default_na=False,
                na_values=[""],
                compression=None,
                engine="c",
            )

    try:
        try:
            raw = parse(source)
        except UnicodeError:
            if not (gb_too and isinstance(source, Path)):
                raise
            # a UTF-8 file with GB18030 lines (module docstring, "Mixed files"); a line
            # valid in neither refuses the file here, naming it
            decoded = _decode_lines(path, enc, utf8_too=False, reject=False, gb_too=True)
            if decoded is None:
                raise
            source, other_lines, _ = decoded
            _note_other_lines(notes, plain, other_lines)
            raw = parse(source)
    except UnicodeError as exc:  # UnicodeDecodeError, or a codec's own refusal
        line = _first_bad_line(path, enc)
        raise DataFileError(
            path,
            f"bytes that are not valid {enc}; pass the file's encoding with --encoding or the "
            "mapping's encoding key (e.g. gb18030 for Chinese exports)"
            + (BAD_BYTES_HINT if not plain.startswith("utf16") else ""),
            row=line or None,
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataFileError(path, f"malformed CSV: {exc}") from exc
    if raw.empty:
        raise DataFileError(path, "has a header but no data rows")
    lines_of, n_fields = _record_lines(path, source, enc, layout.delimiter, start)
    if len(lines_of) != len(raw):
        raise DataFileError(
            path,
            f"its records cannot be told apart with certainty ({len(raw)} read by one CSV "
            f"reader, {len(lines_of)} by another): a double quote is probably "
            "unbalanced in a cell; quote such cells in full or remove the stray quote",
        )
    problems = np.where(n_fields != len(names), "field_count", "").astype(object)
    if bad_lines:  # a record takes the lines from its first to the next record's first
        at = np.searchsorted(lines_of, np.asarray(bad_lines), side="right") - 1
        problems[at[at >= 0]] = "undecodable"  # before the first record: title lines
    if (problems != "").any():  # never a shifted, padded or cut row: blank it (docstring)
        raw.loc[problems != "", :] = None
    serial_note = _csv_excel_serials(raw, layout.time, lines_of)
    if serial_note is not None:
        notes.append(serial_note)
    return RawFile(
        raw,
        layout,
        enc,
        "csv",
        decimal_comma=layout.delimiter != ",",
        notes=notes,
        rows=lines_of,
        problems=problems,
        fields=n_fields,
        header_fields=len(names),
    )


CSV_SERIAL_RANGE = (25_569.0, 73_051.0)
"""Excel serial dates a CSV time column may hold to be read as such: 1970-01-01 (25569) to
2100-01-01 (73051), the 1900 date system."""
_SERIAL_TEXT = re.compile(r"\d{5}(?:\.\d+)?")


def _csv_excel_serials(raw: pd.DataFrame, col: str, lines: np.ndarray) -> dict[str, str] | None:
    """Replace, in place, the cells of the time column ``col`` of a CSV by the dates they
    stand for when the **whole** column is Excel serial dates (an export from Excel of a
    date column formatted as a number: ``45370.5``): every non-empty cell five digits,
    optionally with a fraction, within :data:`CSV_SERIAL_RANGE`. A column that mixes them
    with other text is left to the layout's formats (a lone 45370 among dates is more
    likely a typing slip than a date). Returns the ``excel_serial`` note naming the lines,
    or None when nothing was read so. Workbooks read every number of their time column so
    (:func:`_excel_serial`); a CSV has no cell types, hence the stricter rule."""
    if col not in raw.columns:
        return None
    cells = raw[col]
    filled = cells.notna().to_numpy()
    if not filled.any():
        return None
    text = cells[filled].astype(str).str.strip()
    if not text.map(lambda t: _SERIAL_TEXT.fullmatch(t) is not None).all():
        return None
    values = text.astype(float)
    lo, hi = CSV_SERIAL_RANGE
    if not ((values >= lo) & (values < hi)).all():
        return None
    raw.loc[filled, col] = [_excel_serial(v, None) for v in values.to_numpy()]
    return {
        "key": "excel_serial",
        "col": col,
        "n": str(int(filled.sum())),
        "rows": _line_list([int(r) for r in np.asarray(lines)[filled]]),
    }


def _record_lines(
    path: Path, source: Path | io.StringIO, enc: str, delimiter: str, header_line: int
) -> tuple[np.ndarray, np.ndarray]:
    """The 1-based line of the file on which each data record starts, counting every line
    (title, header, blank lines, the lines of a quoted field holding line breaks), and the
    number of fields of each record, for a file whose header is on line ``header_line``.

    Records are read as :func:`pandas.read_csv` reads them (RFC 4180 quoting; lines empty
    or of spaces only are no record). The caller compares the number of records with its
    own (module docstring, "Field counts").
    """
    if isinstance(source, io.StringIO):
        fh: IO[str] = io.StringIO(source.getvalue(), newline="")
    else:
        fh = io.TextIOWrapper(_open_binary(path), encoding=enc, newline="")
    lines: list[int] = []
    fields: list[int] = []
    limit = csv.field_size_limit(1 << 30)  # a cell of a document pasted whole (MAX_TEXT_CHARS)
    try:
        with fh:
            for _ in range(header_line):
                fh.readline()
            reader = csv.reader(fh, delimiter=delimiter)
            before = 0
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    lines.append(header_line + before + 1)
                    fields.append(len(record))
                before = reader.line_num
    finally:
        csv.field_size_limit(limit)
    return np.asarray(lines, dtype=np.int64), np.asarray(fields, dtype=np.int64)


def _read_xlsx(
    path: Path,
    profile: Profile,
    sheet: str | None,
    frame: FrameName | None,
    header_row: HeaderRow = "auto",
) -> RawFile:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise DataFileError(path, f"{XLSX_DAMAGED} ({exc}). {XLSX_FIX}") from exc
    try:
        sheets = list(book.sheetnames)
        name = sheets[0] if sheet is None else sheet
        if name not in sheets:
            raise DataFileError(
                path,
                f"no sheet named {sheet!r}; the workbook has: {', '.join(sheets)}",
                field="sheet",
            )
        epoch = getattr(book, "epoch", None)  # the 1900 date system, or 1904 (old Mac)
        rows = book[name].iter_rows(values_only=True)
        top = [r for _, r in zip(range(HEADER_SCAN_ROWS), rows, strict=False)]
        if not top or all(v is None for v in top[0]):
            raise DataFileError(path, f"sheet {name!r} is empty (no header row)")
        try:
            header, start = find_header(top, lambda h: _fits(path, profile, h, frame), header_row)
        except ValueError as exc:
            raise DataFileError(path, str(exc), field="header_row") from exc
        layout = _match(path, profile, header, frame)
        used = set(layout.required_columns())
        names = _refuse_duplicates(path, header, used, start)
        idx = [i for i, n in enumerate(names) if n in used]
        data = [[r[i] if i < len(r) else None for i in idx] for r in (*top[start:], *rows)]
    finally:
        book.close()
    columns = [names[i] for i in idx]
    # the numbers of the time columns (the call time's and the steps') are Excel serial
    # dates (a date cell formatted as General), all read by the same rule
    times = [layout.time, *(c for c in layout.steps.values() if c != layout.time)]
    serial: dict[str, list[str | None]] = {}
    for c in times:
        if c in columns:
            k = columns.index(c)
            serial[c] = [_excel_serial(r[k], epoch) for r in data]
            for r, v in zip(data, serial[c], strict=True):
                if v is not None:
                    r[k] = v
    # the cells as text, column by column: never through a float64 column (ids, phones)
    raw = pd.DataFrame(
        {c: pd.array([_cell(r[k]) for r in data], dtype="string") for k, c in enumerate(columns)},
        columns=columns,
    )
    # a float of 15+ digits: Excel kept only its first 15 significant digits
    text_like = {c for c in (layout.id, *layout.extra.values()) if c} & set(columns)
    lossy = {
        c: np.array([_lost_digits(r[k]) for r in data], dtype=bool)
        for k, c in enumerate(columns)
        if c in text_like
    }
    raw = raw.astype(object).where(raw.notna(), None)
    keep = raw.notna().any(axis=1).to_numpy()
    raw = raw.loc[keep].reset_index(drop=True)
    if raw.empty:
        raise DataFileError(path, f"sheet {name!r} has a header but no data rows")
    sheet_rows = np.arange(start + 1, start + 1 + len(data))[keep]  # 1-based sheet rows
    notes = _layout_notes(profile, header)
    for c, values in serial.items():
        read_serial = np.array([v is not None for v in values], dtype=bool)[keep]
        if read_serial.any():
            notes.append(
                {
                    "key": "excel_serial",
                    "col": c,
                    "n": str(int(read_serial.sum())),
                    "rows": _line_list([int(r) for r in sheet_rows[read_serial]]),
                }
            )
    lost = {c: m[keep] for c, m in lossy.items() if m[keep].any()}
    for c, m in lost.items():
        first = int(np.flatnonzero(m)[0])
        notes.append(
            {
                "key": "lost_digits",
                "col": c,
                "n": str(int(m.sum())),
                "rows": _line_list([int(r) for r in sheet_rows[m]]),
                "value": str(raw[c].iloc[first]),
            }
        )
    return RawFile(raw, layout, "xlsx", "xlsx", notes=notes, rows=sheet_rows, lost_digits=lost)


EXCEL_DIGITS = 15
"""Significant digits Excel keeps of a number: an id or phone number typed as a longer
number is stored with its last digits replaced by zeros."""


def _lost_digits(value: object) -> bool:
    """Whether an Excel cell is a float too long for Excel's :data:`EXCEL_DIGITS` digits
    (an 18-digit id stored as a number: 3.101012025e+17)."""
    return isinstance(value, float) and np.isfinite(value) and abs(value) >= 10**EXCEL_DIGITS


EXCEL_SERIAL_MAX = 2_958_466
"""Excel's last serial date plus one (10000-01-01): a larger number in a time column is no
serial date (20240316, a Unix time) and is left to the layout's formats."""


def _excel_serial(value: object, epoch: dt.datetime | None) -> str | None:
    """A number in an Excel time column as the text of the date it stands for, or None
    when it is not a number or not in 1 .. :data:`EXCEL_SERIAL_MAX`.

    Excel stores a date as days since its epoch (1900 date system: 1 = 1900-01-01, with
    Excel's phantom 1900-02-29; 1904 system: 0 = 1904-01-01), the time of day as the
    fraction: 45370.5 is 2024-03-19 12:00. A cell shows a date only through its number
    format, so a date column formatted as General (or typed as a number) holds the bare
    serial (:func:`openpyxl.utils.datetime.from_excel`). A whole number is a date without
    a time (``%Y-%m-%d``: precision day); a fraction is written to the second.
    """
    from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not (np.isfinite(value) and 1 <= value < EXCEL_SERIAL_MAX):
        return None
    when = from_excel(value, epoch=epoch or WINDOWS_EPOCH)
    if float(value).is_integer():
        return when.strftime("%Y-%m-%d")
    when = (when + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: object) -> str | None:
    """An Excel cell as the text a CSV export would hold: a whole number (int, or a float
    with no fraction) in full digits, never in exponent form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and np.isfinite(value) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]
    text = str(value).strip()
    return text or None


def _read_vector(path: Path, profile: Profile, frame: FrameName | None) -> RawFile:
    import pyogrio
    from pyproj import CRS, Transformer

    from xunfang.units import WGS84

    strict_json.check_file(path)
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio's DataSourceError and GDAL errors
        raise DataFileError(path, f"not a readable vector file: {exc}. {FORMATS_READ}") from exc
    if len(gdf) == 0:
        raise DataFileError(path, "the vector file has no features")
    geom = gdf.geometry
    kinds = geom.geom_type.fillna("None")
    bad = np.flatnonzero(~kinds.isin(["Point", "None"]).to_numpy())
    if len(bad):
        raise DataFileError(
            path,
            f"features must be points; feature {bad[0] + 1} is a {kinds.iloc[bad[0]]} "
            f"({len(bad)} non-point features in all)",
            row=int(bad[0]) + 1,
            field="geometry",
        )
    x = geom.x.to_numpy(dtype=np.float64)
    y = geom.y.to_numpy(dtype=np.float64)
    crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    geom_frame: FrameName | None = frame
    if crs is not None and not crs.is_geographic:
        tr = Transformer.from_crs(crs, WGS84, always_xy=True)
        x, y = (np.asarray(a) for a in tr.transform(x, y))
        geom_frame = "wgs84"  # a projected CRS is a real one: no Chinese offset on top
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    header = [normalise_header(str(c)) for c in attrs.columns]
    attrs.columns = pd.Index(header)
    layout = _match(path, profile, header, geom_frame, geometry=True)
    if geom_frame == "wgs84" and frame not in (None, "wgs84"):
        layout = layout.model_copy(
            update={
                "coords": (
                    layout.coords[0].model_copy(update={"frame": "wgs84"}),
                    *layout.coords[1:],
                )
            }
        )
    used = [c for c in layout.required_columns() if c not in (GEOM_LON, GEOM_LAT)]
    names = _refuse_duplicates(path, header, set(used))
    attrs.columns = pd.Index(names)
    raw = attrs[used].astype("string")
    raw = raw.astype(object).where(raw.notna(), None)
    raw[GEOM_LON] = np.where(np.isfinite(x), x, np.nan).astype(str)
    raw[GEOM_LAT] = np.where(np.isfinite(y), y, np.nan).astype(str)
    enc = "vector" + (f" ({crs.to_string()})" if crs is not None else "")
    return RawFile(raw, layout, enc, "vector", notes=_layout_notes(profile, header))


def read_raw(
    path: Path,
    profile: Profile,
    encoding: str | None = None,
    *,
    sheet: str | None = None,
    frame: FrameName | None = None,
    header_row: HeaderRow = "auto",
    bad_bytes: BadBytes = "refuse",
) -> RawFile:
    """Read one incident file of any supported kind (see :data:`FORMATS_READ`).

    Parameters
    ----------
    path
        The file.
    profile
        Its profile; the layout is chosen by the header.
    encoding
        Text encoding of a CSV (default: the profile's, ``auto`` = detect).
    sheet
        Excel sheet name (default: the first sheet).
    frame
        Frame of every lon/lat column (and of a vector file's geographic geometry);
        default: the layout's.
    header_row
        Row of a CSV's or sheet's column names, 1-based, or ``auto`` (module docstring).
    bad_bytes
        A CSV's bytes not valid in its encoding: ``refuse`` the file (default) or
        ``reject-row`` (module docstring, "Bad bytes").

    Raises
    ------
    DataFileError
        Naming the file (and row/field) for a missing or empty file, a format not read,
        an undecidable encoding, a missing or duplicated column.
    """
    if not path.exists():
        raise DataFileError(path, "file not found")
    kind = sniff_kind(path)
    if kind == "xlsx":
        return _read_xlsx(path, profile, sheet, frame, header_row)
    if kind == "vector":
        return _read_vector(path, profile, frame)
    return _read_csv(path, profile, encoding or profile.encoding, frame, header_row, bad_bytes)
