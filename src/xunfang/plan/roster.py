"""Rosters, time blocks and the rule calendar of a deployment plan.

Three inputs of :mod:`xunfang.plan.deployment` are read here, each validated with every
problem collected and reported at once (messages name the file and the field):

Roster (TOML or CSV)
    The shifts of the week: start time, length, days, break, and the officers and vehicles on
    each. Shifts may not overlap (on the same day or across midnight) and together they must
    cover all 168 hours of the week, since the booths are staffed around the clock. An officer
    named in two shifts needs ``min_rest_hours`` between them. TOML layout::

        crew_per_vehicle = 2          # officers per mobile unit (default 2)
        min_rest_hours = 8            # between two shifts of the same named officer

        [booths]
        default_min_staff = 1         # every booth, unless overridden below
        [booths.min_staff]
        B03 = 2                       # booth names as in the plan's sites.csv

        [[shift]]
        name = "day"
        start = "06:00"
        hours = 8
        break_minutes = 30
        days = "all"                  # or "Mon-Fri", ["Sat", "Sun"], "weekdays", ...
        officers = 60                 # a head count, or a list of names/badge numbers
        vehicles = 10                 # a count, or a list of call signs

    A CSV roster has one row per shift with the columns ``name, start, hours, break_minutes,
    days, officers, vehicles`` (``officers``/``vehicles`` as counts, or names separated by
    ``;``); booth staffing then takes the defaults.

Time blocks
    Each shift is cut into blocks of ``block_hours`` from its start (the last block of a
    shift is shorter when the shift is not a multiple of the block), so no block straddles a
    shift change: the shift boundaries set the block boundaries. With the default 3 x 8 h
    roster and 2-hour blocks a week has 84 blocks.

Rule calendar (TOML)
    Places (schools from the city's schools CSV, and named places), recurring
    windows at those places with a minimum presence, and type-specific risk emphasis::

        school_days = "Mon-Fri"

        [schools]
        file = "data:my_city/schools.csv"  # data: = the data directory
        type_column = "school_type"         # default: detected

        [[place]]
        name = "State & Madison"
        lon = -87.62782
        lat = 41.88203
        group = "retail"

        [[window]]
        name = "ES/MS dismissal"
        at = "schools:ES,MS"          # schools | schools:TYPES | group:NAME | place:NAME
        start = "14:45"
        end = "15:15"
        days = "school_days"
        min_officers = 1

        [[emphasis]]
        type_group = "vehicle"        # thefts from parked cars at night count double
        start = "22:00"
        end = "06:00"
        weight = 2.0

    Bell times are not in a schools file: the windows configure them (elementary
    dismissal about 14:45-15:15, high schools 15:00-15:30; a Chinese evening-study dismissal
    is e.g. 20:30-21:30). A window whose end is earlier than its start runs past midnight.

All times are local clock times; minutes of the week count from Monday 00:00 (the hour of
week of :mod:`xunfang.analyse.hotspots` is ``minute_of_week // 60``).
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from xunfang.errors import DataFileError, ValidationError, read_toml_text
from xunfang.ingest.notes import Note

__all__ = [
    "DAY_NAMES",
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "Emphasis",
    "Place",
    "Roster",
    "RuleCalendar",
    "RuleWindow",
    "Shift",
    "TimeBlock",
    "calendar_from_mapping",
    "format_minute_of_week",
    "load_calendar",
    "load_roster",
    "make_blocks",
    "parse_clock",
    "parse_days",
    "roster_from_mapping",
]

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_SHIFT_HOURS = 12.0
"""Longest shift accepted, hours."""

_DAY_ALIASES: dict[str, int] = {}
for _i, (_short, _long, _zh) in enumerate(
    zip(
        DAY_NAMES,
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        ("一", "二", "三", "四", "五", "六", "日"),
        strict=True,
    )
):
    _DAY_ALIASES[_short.lower()] = _i
    _DAY_ALIASES[_long] = _i
    _DAY_ALIASES["周" + _zh] = _i
    _DAY_ALIASES["星期" + _zh] = _i
_DAY_ALIASES["周天"] = _DAY_ALIASES["星期天"] = 6
_DAY_SETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(7)),
    "daily": tuple(range(7)),
    "every day": tuple(range(7)),
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "工作日": (0, 1, 2, 3, 4),
    "周末": (5, 6),
    "每天": tuple(range(7)),
}
_CLOCK_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


# --------------------------------------------------------------------------- small parsers
class _Problems:
    """Collects (field, message) pairs and raises one DataFileError naming them all."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append((field_name, message))

    def raise_if_any(self, *, row: int | None = None) -> None:
        if not self.items:
            return
        first = self.items[0][0]
        if len(self.items) == 1:
            text = self.items[0][1]
        else:
            text = f"{len(self.items)} problems: " + "; ".join(f"{f}: {m}" for f, m in self.items)
        raise DataFileError(self.path, text, row=row, field=first)


def parse_clock(value: object, *, allow_24: bool = False) -> int:
    """Minute of the day of a ``"HH:MM"`` clock time.

    Parameters
    ----------
    value
        ``"06:00"``, ``"14:45"``; ``"24:00"`` only with ``allow_24`` (an end time).

    Raises
    ------
    ValidationError
        If the text is not a valid 24-hour clock time.
    """
    m = _CLOCK_RE.match(str(value)) if isinstance(value, str) else None
    if m is None:
        raise ValidationError(f"{value!r} is not a clock time: write it as HH:MM, e.g. '06:00'")
    hh, mm = int(m.group(1)), int(m.group(2))
    if mm >= 60 or hh > 24 or (hh == 24 and (mm or not allow_24)):
        raise ValidationError(f"{value!r} is not a valid 24-hour clock time (00:00-23:59)")
    return hh * 60 + mm


def parse_days(
    value: object, *, named: Mapping[str, tuple[int, ...]] | None = None
) -> tuple[int, ...]:
    """Weekday numbers (Monday = 0) from a days specification.

    Accepts ``"all"``, ``"weekdays"``, ``"weekends"``, ``"Mon-Fri"`` (a range, wrapping
    ``"Fri-Mon"``), ``"Mon,Wed;Fri"``, a list of names or of numbers 0-6, English short or
    long names and Chinese 周一..周日; ``named`` adds sets such as ``school_days``.

    Returns
    -------
    tuple of int
        Sorted, without repeats.

    Raises
    ------
    ValidationError
        For an unknown name, a number outside 0-6, or an empty list.
    """
    sets = {**_DAY_SETS, **{k.lower(): v for k, v in (named or {}).items()}}
    items: list[object]
    if isinstance(value, str):
        key = value.strip().lower()
        if key in sets:
            return tuple(sorted(set(sets[key])))
        items = [p for p in re.split(r"[,;，、\s]+", value.strip()) if p]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise ValidationError(f"{value!r} is not a list of days (e.g. 'Mon-Fri' or ['Sat', 'Sun'])")
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise ValidationError(f"{item!r} is not a day")
        if isinstance(item, int):
            if not 0 <= item <= 6:
                raise ValidationError(f"day number {item} is outside 0 (Monday) .. 6 (Sunday)")
            out.add(item)
            continue
        text = str(item).strip().lower()
        if text in sets:
            out.update(sets[text])
        elif "-" in text:
            a, _, b = text.partition("-")
            if a.strip() not in _DAY_ALIASES or b.strip() not in _DAY_ALIASES:
                raise ValidationError(f"{item!r} is not a range of days like 'Mon-Fri'")
            i, j = _DAY_ALIASES[a.strip()], _DAY_ALIASES[b.strip()]
            out.update((i + k) % 7 for k in range((j - i) % 7 + 1))
        elif text in _DAY_ALIASES:
            out.add(_DAY_ALIASES[text])
        else:
            raise ValidationError(
                f"{item!r} is not a day: use Mon..Sun, Monday..Sunday, 周一..周日, a range "
                f"'Mon-Fri', or one of {sorted(sets)}"
            )
    if not out:
        raise ValidationError("no days given: name at least one day")
    return tuple(sorted(out))


def format_minute_of_week(minute: int) -> str:
    """``"Mon 06:00"`` for a minute of the week (taken modulo one week)."""
    m = int(minute) % MINUTES_PER_WEEK
    d, r = divmod(m, MINUTES_PER_DAY)
    return f"{DAY_NAMES[d]} {r // 60:02d}:{r % 60:02d}"


def _clock(minute_of_day: int) -> str:
    r = int(minute_of_day) % MINUTES_PER_DAY
    return f"{r // 60:02d}:{r % 60:02d}"


def _week_coverage(intervals: Iterable[tuple[int, int]]) -> np.ndarray:
    """(10080,) int32: how many of the ``(start, length)`` minute intervals cover each
    minute of the week (intervals wrap around Sunday midnight)."""
    diff = np.zeros(2 * MINUTES_PER_WEEK + 1, dtype=np.int64)
    for start, length in intervals:
        s = int(start) % MINUTES_PER_WEEK
        diff[s] += 1
        diff[s + int(length)] -= 1
    cum = np.cumsum(diff[:-1])
    return (cum[:MINUTES_PER_WEEK] + cum[MINUTES_PER_WEEK:]).astype(np.int32)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a circular (10080,) mask as (start, length), merged across Sunday
    midnight."""
    if mask.all():
        return [(0, MINUTES_PER_WEEK)]
    m = mask.astype(np.int8)
    d = np.diff(np.concatenate([[0], m, [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    runs = [(int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]
    if len(runs) > 1 and mask[0] and mask[-1]:
        first = runs.pop(0)
        last = runs.pop()
        runs.append((last[0], last[1] + first[1]))
    return runs


def _days_text(days: Sequence[int]) -> str:
    """``"every day"``, ``"Mon"`` or ``"Mon, Wed"``."""
    uniq = sorted(set(days))
    return "every day" if len(uniq) == 7 else ", ".join(DAY_NAMES[d] for d in uniq)


# --------------------------------------------------------------------------- roster
@dataclass(frozen=True)
class Shift:
    """One shift of the roster.

    Attributes
    ----------
    name
        Shift name (unique in the roster).
    start_min
        Start, minute of the day (local clock).
    length_min
        Length, minutes (at most 12 hours).
    days
        Weekdays on which the shift starts (Monday = 0); a night shift starting Sunday
        22:00 runs into Monday.
    officers
        Officer labels. A head count ``n`` becomes ``("<name>/01", ..., "<name>/n")``: roster
        slots (the k-th officer on this shift that day), to be matched to people by the duty
        sergeant; a list of names is used as given on every day of the shift.
    vehicles
        Vehicle call signs; a count ``n`` becomes ``("V01", ..., "Vn")`` (the same cars in
        every shift; the crews change with the shift).
    break_min
        Meal break per officer, minutes (staggered; see :mod:`xunfang.plan.deployment`).
    """

    name: str
    start_min: int
    length_min: int
    days: tuple[int, ...]
    officers: tuple[str, ...]
    vehicles: tuple[str, ...]
    break_min: int = 30
    named: bool = False
    """True when ``officers`` are names given in the roster (not head-count slots)."""

    def occurrences(self) -> list[tuple[int, int]]:
        """(start minute of week, length) of each day's shift."""
        return [(d * MINUTES_PER_DAY + self.start_min, self.length_min) for d in self.days]


@dataclass(frozen=True)
class Roster:
    """The week's shifts and the booth staffing rules.

    Attributes
    ----------
    shifts
        The shifts (no two overlap; together they cover the week).
    crew_per_vehicle
        Officers per mobile unit.
    default_booth_min_staff
        Minimum officers at every booth at all times.
    booth_min_staff
        Per-booth overrides (booth name -> minimum officers).
    min_rest_hours
        Least rest between two shifts of the same named officer, hours.
    source
        The file read, or ``"<mapping>"``.
    """

    shifts: tuple[Shift, ...]
    crew_per_vehicle: int = 2
    default_booth_min_staff: int = 1
    booth_min_staff: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    min_rest_hours: float = 8.0
    source: str = "<mapping>"

    def min_staff(self, booth: str) -> int:
        """Minimum officers at ``booth``."""
        return int(self.booth_min_staff.get(booth, self.default_booth_min_staff))

    def check_booths(self, booth_names: Iterable[str]) -> None:
        """Refuse per-booth staffing rules for booths the plan does not have.

        Raises
        ------
        DataFileError
            Naming the field ``booths.min_staff.<name>`` of every unknown booth.
        """
        known = set(booth_names)
        unknown = [b for b in self.booth_min_staff if b not in known]
        if unknown:
            problems = _Problems(self.source)
            for b in unknown:
                problems.add(
                    f"booths.min_staff.{b}",
                    f"unknown booth {b!r}: the plan's booths are "
                    f"{', '.join(sorted(known)) or '(none)'}",
                )
            problems.raise_if_any()

    def shift(self, name: str) -> Shift:
        """The shift called ``name``."""
        for s in self.shifts:
            if s.name == name:
                return s
        raise ValidationError(f"no shift {name!r} in the roster")


def _count_or_list(
    value: object, prefix: str, fmt: str, field_name: str, problems: _Problems
) -> tuple[str, ...]:
    if isinstance(value, bool):
        problems.add(field_name, f"{value!r} is neither a count nor a list of names")
        return ()
    if isinstance(value, int):
        if value < 0:
            problems.add(field_name, f"must be >= 0, got {value}")
            return ()
        return tuple(fmt.format(prefix=prefix, i=i + 1) for i in range(value))
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return _count_or_list(int(text), prefix, fmt, field_name, problems)
        value = [p.strip() for p in text.split(";") if p.strip()] if text else []
    if isinstance(value, Sequence):
        names = tuple(str(v).strip() for v in value)
        if any(not n for n in names):
            problems.add(field_name, "has an empty name")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.add(field_name, f"repeats {', '.join(dupes)}")
        return names
    problems.add(field_name, f"{value!r} is neither a count nor a list of names")
    return ()


def _number(value: object, field_name: str, problems: _Problems, *, lo: float, hi: float) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.add(field_name, f"{value!r} is not a number")
        return math.nan
    if isinstance(value, bool) or not (math.isfinite(x) and lo <= x <= hi):
        problems.add(field_name, f"must be a number in [{lo:g}, {hi:g}], got {value!r}")
        return math.nan
    return x


def _int(value: object, field_name: str, problems: _Problems, *, lo: int, hi: int) -> int:
    x = _number(value, field_name, problems, lo=lo, hi=hi)
    if math.isnan(x):
        return lo
    if x != int(x):
        problems.add(field_name, f"must be a whole number, got {value!r}")
    return int(x)


def _shift_from(raw: Mapping[str, Any], where: str, problems: _Problems) -> Shift | None:
    known = {"name", "start", "hours", "break_minutes", "days", "officers", "vehicles"}
    for key in raw:
        if key not in known:
            problems.add(f"{where}.{key}", f"unknown field; a shift has {sorted(known)}")
    n_before = len(problems.items)
    name = str(raw.get("name", "")).strip()
    if not name:
        problems.add(f"{where}.name", "every shift needs a name")
    start = 0
    if "start" not in raw:
        problems.add(f"{where}.start", "missing: the shift's start time, HH:MM")
    else:
        try:
            start = parse_clock(raw["start"])
        except ValidationError as exc:
            problems.add(f"{where}.start", str(exc))
    hours = math.nan
    if "hours" not in raw:
        problems.add(f"{where}.hours", "missing: the shift's length in hours")
    else:
        hours = _number(raw["hours"], f"{where}.hours", problems, lo=0.25, hi=MAX_SHIFT_HOURS)
        if math.isfinite(hours) and abs(hours * 60 - round(hours * 60)) > 1e-9:
            problems.add(f"{where}.hours", f"{hours:g} h is not a whole number of minutes")
    brk = _int(raw.get("break_minutes", 30), f"{where}.break_minutes", problems, lo=0, hi=180)
    days: tuple[int, ...] = ()
    try:
        days = parse_days(raw.get("days", "all"))
    except ValidationError as exc:
        problems.add(f"{where}.days", str(exc))
    officers = _count_or_list(
        raw.get("officers"), name, "{prefix}/{i:02d}", f"{where}.officers", problems
    )
    if "officers" not in raw:
        problems.add(f"{where}.officers", "missing: a head count or a list of officers")
    vehicles = _count_or_list(
        raw.get("vehicles", 0), name, "V{i:02d}", f"{where}.vehicles", problems
    )
    length = round(hours * 60) if math.isfinite(hours) else 0
    if math.isfinite(hours) and brk >= length > 0:
        problems.add(
            f"{where}.break_minutes", f"a {brk} min break does not fit a {hours:g} h shift"
        )
    if len(problems.items) > n_before:
        return None
    named = not isinstance(raw.get("officers"), int) and not re.fullmatch(
        r"\s*\d+\s*", str(raw.get("officers"))
    )
    return Shift(name, start, length, days, officers, vehicles, brk, named)


def _check_week(shifts: Sequence[Shift], min_rest_h: float, problems: _Problems) -> None:
    """Shifts may not overlap and must cover the week; named officers need rest."""
    occ = [(s, st, ln) for s in shifts for st, ln in s.occurrences()]
    cover = _week_coverage((st, ln) for _, st, ln in occ)
    overlaps: dict[tuple[str, int, int], list[int]] = {}
    for start, length in _runs(cover > 1):
        names = sorted({s.name for s, st, ln in occ if (start - st) % MINUTES_PER_WEEK < ln})
        key = (" and ".join(repr(n) for n in names), start % MINUTES_PER_DAY, length)
        overlaps.setdefault(key, []).append(start // MINUTES_PER_DAY)
    for (names_text, clock, length), days in overlaps.items():
        problems.add(
            "shift",
            f"shifts {names_text} overlap on {_days_text(days)} {_clock(clock)}-"
            f"{_clock(clock + length)}: shift times may not overlap (move a start or shorten "
            "a shift)",
        )
    gaps: dict[tuple[int, int], list[int]] = {}
    for start, length in _runs(cover == 0):
        gaps.setdefault((start % MINUTES_PER_DAY, length), []).append(start // MINUTES_PER_DAY)
    for (clock, length), days in gaps.items():
        problems.add(
            "shift",
            f"no shift covers {_days_text(days)} {_clock(clock)}-{_clock(clock + length)}: "
            "booths are staffed around the clock, so the shifts must cover all 168 hours of "
            "the week",
        )
    by_officer: dict[str, list[tuple[int, int, str]]] = {}
    for s, st, ln in occ:
        if not s.named:
            continue  # head-count slots are per shift, not people
        for o in s.officers:
            by_officer.setdefault(o, []).append((st % MINUTES_PER_WEEK, ln, s.name))
    rest_min = min_rest_h * 60
    for officer, spans in by_officer.items():
        spans.sort()
        for k, (st, ln, nm) in enumerate(spans):
            nst, _, nnm = spans[(k + 1) % len(spans)]
            gap = (nst - (st + ln)) % MINUTES_PER_WEEK if len(spans) > 1 else MINUTES_PER_WEEK
            if gap < rest_min:
                problems.add(
                    "shift",
                    f"officer {officer!r} works {nm!r} ending {format_minute_of_week(st + ln)} "
                    f"and {nnm!r} starting {format_minute_of_week(nst)}: {gap / 60:.1f} h of "
                    f"rest, less than min_rest_hours = {min_rest_h:g}",
                )
                break


def roster_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> Roster:
    """Build a :class:`Roster` from parsed TOML (see the module docstring for the layout).

    Raises
    ------
    DataFileError
        Naming the file and every bad field (``shift[2].start``, ``booths.min_staff.B03``, ...):
        missing or malformed values, repeated shift names, overlapping shifts, hours of the
        week no shift covers, an officer without enough rest between shifts.
    """
    problems = _Problems(source)
    known = {"crew_per_vehicle", "min_rest_hours", "booths", "shift"}
    for key in data:
        if key not in known:
            problems.add(key, f"unknown field; a roster has {sorted(known)}")
    crew = _int(data.get("crew_per_vehicle", 2), "crew_per_vehicle", problems, lo=1, hi=8)
    rest = _number(data.get("min_rest_hours", 8.0), "min_rest_hours", problems, lo=0, hi=48)
    booths = data.get("booths", {})
    default_min, overrides = 1, {}
    if not isinstance(booths, Mapping):
        problems.add("booths", "must be a table ([booths])")
    else:
        for key in booths:
            if key not in ("default_min_staff", "min_staff"):
                problems.add(f"booths.{key}", "unknown field; use default_min_staff, min_staff")
        default_min = _int(
            booths.get("default_min_staff", 1), "booths.default_min_staff", problems, lo=0, hi=20
        )
        raw_over = booths.get("min_staff", {})
        if not isinstance(raw_over, Mapping):
            problems.add("booths.min_staff", "must be a table of booth = officers")
        else:
            overrides = {
                str(k): _int(v, f"booths.min_staff.{k}", problems, lo=0, hi=20)
                for k, v in raw_over.items()
            }
    raw_shifts = data.get("shift", [])
    if not isinstance(raw_shifts, list) or not raw_shifts:
        problems.add("shift", "the roster has no [[shift]] entries")
        raw_shifts = []
    shifts: list[Shift] = []
    for i, raw in enumerate(raw_shifts, start=1):
        if not isinstance(raw, Mapping):
            problems.add(f"shift[{i}]", "must be a table ([[shift]])")
            continue
        s = _shift_from(raw, f"shift[{i}]", problems)
        if s is not None:
            shifts.append(s)
    names = [s.name for s in shifts]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.add("shift", f"the shift name {n!r} is used twice; names must be unique")
    if not problems.items:
        _check_week(shifts, rest, problems)
    problems.raise_if_any()
    return Roster(
        shifts=tuple(shifts),
        crew_per_vehicle=crew,
        default_booth_min_staff=default_min,
        booth_min_staff=MappingProxyType(dict(overrides)),
        min_rest_hours=rest,
        source=source,
    )


def load_roster(path: str | Path) -> Roster:
    """Read a roster from TOML or CSV (see the module docstring).

    Raises
    ------
    DataFileError
        For a missing or unreadable file, an unknown suffix, or any invalid field (naming it;
        CSV problems also name the row).
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "roster file not found")
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(read_toml_text(p))
        except tomllib.TOMLDecodeError as exc:
            raise DataFileError(p, f"not valid TOML: {exc}") from exc
        return roster_from_mapping(data, str(p))
    if p.suffix.lower() == ".csv":
        return _roster_from_csv(p)
    raise DataFileError(p, "a roster is a .toml or .csv file")


def _roster_from_csv(path: Path) -> Roster:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataFileError(path, "has no shift rows")
    need = ("name", "start", "hours", "officers")
    missing = [c for c in need if c not in rows[0]]
    if missing:
        raise DataFileError(
            path,
            f"missing column(s) {missing}; a CSV roster has the columns "
            "name, start, hours, officers and optionally days, break_minutes, vehicles",
            field=missing[0],
        )
    shifts: list[dict[str, Any]] = []
    found: list[tuple[int, str | None, str]] = []  # every problem of every row, then one error
    width = len(rows[0]) - (None in rows[0])
    for i, row in enumerate(rows, start=1):
        # more fields than the header go to key None, fewer leave values None: an unquoted
        # comma in a shift's name would move hours into officers; never read such a row
        extra, short = len(row.get(None) or []), sum(v is None for v in row.values())
        if extra or short:
            found.append((i, None, f"{width + extra - short} fields where the header has {width}"))
            continue
        item: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
        bad = False
        for key in ("hours", "break_minutes"):
            if key in item:
                try:
                    item[key] = float(item[key])
                except ValueError:
                    found.append((i, key, f"{item[key]!r} is not a number"))
                    bad = True
        if not bad:
            try:
                roster_from_mapping({"shift": [item]}, str(path))
            except DataFileError as exc:
                if exc.field and exc.field.startswith("shift[1]."):
                    msg = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
                    found.append((i, exc.field.removeprefix("shift[1]."), msg))
        shifts.append(item)
    if found:
        row0, field0, _ = found[0]
        raise DataFileError(
            path,
            f"{len(found)} problem(s) (rows are data rows, the header not counted): "
            + "; ".join(f"row {r}, field {f!r}: {m}" for r, f, m in found),
            row=row0,
            field=field0,
        )
    return roster_from_mapping({"shift": shifts}, str(path))


# --------------------------------------------------------------------------- time blocks
@dataclass(frozen=True)
class TimeBlock:
    """A planning block: a piece of one shift.

    Attributes
    ----------
    index
        0-based position in the week (blocks sorted by start, Monday 00:00 first).
    start_min
        Start, minute of the week in [0, 10080).
    length_min
        Length, minutes.
    shift
        Name of the shift the block belongs to.
    shift_start_min
        Start of that shift occurrence, minute of the week.
    part
        Position of the block in its shift occurrence (0 = first).
    parts
        Number of blocks of the shift occurrence.
    """

    index: int
    start_min: int
    length_min: int
    shift: str
    shift_start_min: int
    part: int
    parts: int

    @property
    def end_min(self) -> int:
        """End, minute of the week (may exceed 10080 when the block runs past Sunday)."""
        return self.start_min + self.length_min

    @property
    def day(self) -> int:
        """Weekday of the block's start (Monday = 0)."""
        return self.start_min // MINUTES_PER_DAY

    @property
    def shift_day(self) -> int:
        """Weekday on which the block's shift started."""
        return (self.shift_start_min % MINUTES_PER_WEEK) // MINUTES_PER_DAY

    @property
    def length_s(self) -> float:
        """Length, seconds."""
        return self.length_min * 60.0

    @property
    def label(self) -> str:
        """``"Mon 06:00-08:00"``."""
        return f"{format_minute_of_week(self.start_min)}-{_clock(self.end_min)}"

    @property
    def key(self) -> str:
        """File-name friendly label, ``"Mon-0600"``."""
        return format_minute_of_week(self.start_min).replace(" ", "-").replace(":", "")

    def hour_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Hours of the week the block overlaps and the minutes of each it holds.

        Returns
        -------
        hours : (k,) int64
            Hours of the week (``minute_of_week // 60``), wrapping past Sunday.
        minutes : (k,) float64
            Minutes of the block in each hour (sum = ``length_min``).
        """
        m = (self.start_min + np.arange(self.length_min)) % MINUTES_PER_WEEK
        hours, counts = np.unique(m // 60, return_counts=True)
        return hours.astype(np.int64), counts.astype(np.float64)

    def overlap_min(self, start_min: int, length_min: int) -> int:
        """Minutes shared with the weekly window ``[start_min, start_min + length_min)``
        (both taken around the week, so a Sunday-night window reaches Monday)."""
        b0, b1 = self.start_min, self.start_min + self.length_min
        w = int(start_min) % MINUTES_PER_WEEK
        return sum(
            max(0, min(b1, w + k + int(length_min)) - max(b0, w + k))
            for k in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK)
        )


def make_blocks(roster: Roster, block_hours: float = 2.0) -> tuple[TimeBlock, ...]:
    """Cut each shift occurrence of the week into blocks of ``block_hours``.

    Blocks start at the shift start; a shift of 8 h gives four 2 h blocks, a shift of 7 h
    three 2 h blocks and one of 1 h. The shifts cover the week without overlap (checked by
    :func:`roster_from_mapping`), so the blocks tile the week.

    Raises
    ------
    ValidationError
        If ``block_hours`` is not a whole number of minutes in [0.25, 12], or a shift's break
        is longer than one of its blocks (breaks are taken inside one block).
    """
    if isinstance(block_hours, bool) or not (0.25 <= float(block_hours) <= MAX_SHIFT_HOURS):
        raise ValidationError(f"--block-hours must be in [0.25, 12], got {block_hours!r}")
    block_min = float(block_hours) * 60
    if abs(block_min - round(block_min)) > 1e-9:
        raise ValidationError(f"--block-hours {block_hours:g} is not a whole number of minutes")
    bm = round(block_min)
    raw: list[tuple[int, int, str, int, int, int]] = []
    for s in roster.shifts:
        if s.break_min > min(bm, s.length_min) and s.officers:
            raise ValidationError(
                f"shift {s.name!r}: break_minutes {s.break_min} is longer than a "
                f"{min(bm, s.length_min)} min block; use longer blocks or shorter breaks"
            )
        parts = math.ceil(s.length_min / bm)
        for occ_start, _ in s.occurrences():
            for k in range(parts):
                length = min(bm, s.length_min - k * bm)
                raw.append(
                    ((occ_start + k * bm) % MINUTES_PER_WEEK, length, s.name, occ_start, k, parts)
                )
    raw.sort(key=lambda r: r[0])
    return tuple(
        TimeBlock(i, st, ln, nm, occ % MINUTES_PER_WEEK, k, parts)
        for i, (st, ln, nm, occ, k, parts) in enumerate(raw)
    )


# --------------------------------------------------------------------------- rule calendar
@dataclass(frozen=True)
class Place:
    """A place where a rule may require presence.

    Attributes
    ----------
    name
        Unique name.
    lon, lat
        WGS-84 degrees.
    group
        ``"school:ES"`` (schools, by type) or the user's group name.
    """

    name: str
    lon: float
    lat: float
    group: str


@dataclass(frozen=True)
class RuleWindow:
    """A recurring window with a minimum presence at some places.

    Attributes
    ----------
    name
        Window name (e.g. ``"ES dismissal"``).
    at
        The selectors as written (``"schools:ES,MS"``, ``"place:State & Madison"``).
    places
        Names of the places selected.
    start_min
        Start, minute of the day.
    length_min
        Length, minutes (a window past midnight ends the next day).
    days
        Weekdays on which the window starts.
    min_officers
        Officers required at each place throughout the window.
    """

    name: str
    at: tuple[str, ...]
    places: tuple[str, ...]
    start_min: int
    length_min: int
    days: tuple[int, ...]
    min_officers: int

    def occurrences(self) -> list[tuple[int, int]]:
        """(start minute of week, length) of each day's window."""
        return [(d * MINUTES_PER_DAY + self.start_min, self.length_min) for d in self.days]

    @property
    def clock(self) -> str:
        """``"14:45-15:15"``."""
        return f"{_clock(self.start_min)}-{_clock(self.start_min + self.length_min)}"


@dataclass(frozen=True)
class Emphasis:
    """A risk weight for one type group in a recurring window.

    Attributes
    ----------
    type_group
        Type group (see the taxonomy), e.g. ``"vehicle"``.
    start_min, length_min, days
        The window, as in :class:`RuleWindow`.
    weight
        Factor applied to the group's risk in the window (> 0; several matching rules
        multiply).
    """

    type_group: str
    start_min: int
    length_min: int
    days: tuple[int, ...]
    weight: float


@dataclass(frozen=True)
class RuleCalendar:
    """Places, rule windows and type emphasis of a deployment.

    Attributes
    ----------
    places
        Every place read (schools and named places), in file order.
    windows
        Rule windows.
    emphasis
        Type emphasis rules.
    school_days
        Weekdays that are school days.
    notes
        What was read (e.g. how many schools of each type).
    source
        The file read.
    """

    places: tuple[Place, ...] = ()
    windows: tuple[RuleWindow, ...] = ()
    emphasis: tuple[Emphasis, ...] = ()
    school_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    notes: tuple[str, ...] = ()
    source: str = "<mapping>"

    def emphasis_matrix(self, groups: Sequence[str]) -> np.ndarray:
        """Risk weights by type group and hour of the week.

        Parameters
        ----------
        groups
            Type groups, in the order of the rows wanted.

        Returns
        -------
        numpy.ndarray
            (len(groups), 168) float64; 1 where no rule applies. A rule covering part of an
            hour weights that hour by the minute-average of the factors.
        """
        out = np.ones((len(groups), 168), dtype=np.float64)
        for e in self.emphasis:
            if e.type_group not in groups:
                continue
            factor = np.ones(MINUTES_PER_WEEK)
            for st, ln in ((d * MINUTES_PER_DAY + e.start_min, e.length_min) for d in e.days):
                idx = (st + np.arange(ln)) % MINUTES_PER_WEEK
                factor[idx] *= e.weight
            out[list(groups).index(e.type_group)] *= factor.reshape(168, 60).mean(axis=1)
        return out


def _resolve_file(value: str, base: Path, data_dir: Path | None) -> Path | None:
    if value.startswith("data:"):
        if data_dir is None:
            return None
        return data_dir / value.removeprefix("data:").lstrip("/")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _window_times(raw: Mapping[str, Any], where: str, problems: _Problems) -> tuple[int, int]:
    start = end = 0
    ok = True
    for key in ("start", "end"):
        if key not in raw:
            problems.add(f"{where}.{key}", f"missing: the {key} time, HH:MM")
            ok = False
    if ok:
        try:
            start = parse_clock(raw["start"])
        except ValidationError as exc:
            problems.add(f"{where}.start", str(exc))
            ok = False
        try:
            end = parse_clock(raw["end"], allow_24=True)
        except ValidationError as exc:
            problems.add(f"{where}.end", str(exc))
            ok = False
    if ok and start == end % MINUTES_PER_DAY and end != MINUTES_PER_DAY:
        problems.add(f"{where}.end", f"equals start ({raw['start']}): the window is empty")
    length = (end - start) % MINUTES_PER_DAY or (MINUTES_PER_DAY if end != start else 0)
    return start, length


def calendar_from_mapping(
    data: Mapping[str, Any],
    source: str = "<mapping>",
    *,
    base_dir: Path | None = None,
    data_dir: Path | None = None,
    type_groups: Sequence[str] | None = None,
) -> RuleCalendar:
    """Build a :class:`RuleCalendar` from parsed TOML (see the module docstring).

    Parameters
    ----------
    data
        The parsed file.
    source
        Its name, for messages.
    base_dir
        Folder that relative ``schools.file`` paths are read from (the calendar's folder).
    data_dir
        The data directory, for ``data:`` paths.
    type_groups
        Known type groups; emphasis rules naming another group are refused. Default: not
        checked.

    Raises
    ------
    DataFileError
        Naming every bad field: missing or malformed times, an empty window, unknown days,
        ``min_officers`` < 1, selectors that match no place, a school type not in the file,
        repeated place names, unknown type groups, non-positive weights, an unreadable schools
        file.
    """
    from xunfang.ingest.sites import read_sites

    problems = _Problems(source)
    base = base_dir or Path.cwd()
    known = {"school_days", "schools", "place", "window", "emphasis"}
    for key in data:
        if key not in known:
            problems.add(key, f"unknown field; a calendar has {sorted(known)}")
    school_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    try:
        school_days = parse_days(data.get("school_days", "weekdays"))
    except ValidationError as exc:
        problems.add("school_days", str(exc))
    named = {"school_days": school_days, "school days": school_days}

    places: list[Place] = []
    notes: list[str] = []
    school_types: set[str] = set()
    schools = data.get("schools")
    if schools is not None:
        if not isinstance(schools, Mapping) or "file" not in schools:
            problems.add("schools.file", "missing: the CSV of schools (name, lat, lon, type)")
        else:
            path = _resolve_file(str(schools["file"]), base, data_dir)
            if path is None:
                problems.add(
                    "schools.file",
                    f"{schools['file']!r} is inside the data directory, which is not set "
                    "(set XUNFANG_DATA_DIR or --data-dir)",
                )
            elif not path.is_file():
                problems.add("schools.file", f"file not found: {path}")
            else:
                try:
                    frame = read_sites(path)
                except DataFileError as exc:
                    problems.add("schools.file", str(exc))
                else:
                    col = schools.get("type_column")
                    if col is None:
                        col = next(
                            (
                                c
                                for c in frame.columns
                                if c.lower()
                                in ("elementary_middle_highschool", "type", "school_type")
                            ),
                            None,
                        )
                    if col is not None and col not in frame.columns:
                        problems.add("schools.type_column", f"no column {col!r} in {path.name}")
                        col = None
                    types = (
                        frame[col].astype(str).str.strip().to_numpy()
                        if col is not None
                        else np.full(len(frame), "school")
                    )
                    school_types = set(types.tolist())
                    seen: dict[str, int] = {}
                    for nm, t, geom in zip(frame["name"], types, frame.geometry, strict=True):
                        label = str(nm)
                        seen[label] = seen.get(label, 0) + 1
                        if seen[label] > 1:
                            label = f"{label} ({seen[label]})"
                        places.append(Place(label, float(geom.x), float(geom.y), f"school:{t}"))
                    counts = {t: int((types == t).sum()) for t in sorted(school_types)}
                    notes.append(Note("schools_read", n=len(frame), file=path.name, counts=counts))
    raw_places = data.get("place", [])
    if not isinstance(raw_places, list):
        problems.add("place", "must be a list of [[place]] tables")
        raw_places = []
    for i, raw in enumerate(raw_places, start=1):
        where = f"place[{i}]"
        if not isinstance(raw, Mapping):
            problems.add(where, "must be a table")
            continue
        name = str(raw.get("name", "")).strip()
        if not name:
            problems.add(f"{where}.name", "every place needs a name")
        lon = _number(raw.get("lon"), f"{where}.lon", problems, lo=-180, hi=180)
        lat = _number(raw.get("lat"), f"{where}.lat", problems, lo=-90, hi=90)
        group = str(raw.get("group", "place")).strip() or "place"
        if group.startswith("school:"):
            problems.add(f"{where}.group", "the group prefix 'school:' is kept for schools")
        places.append(Place(name, lon, lat, group))
    pnames = [p.name for p in places]
    for n in sorted({n for n in pnames if pnames.count(n) > 1}):
        problems.add("place", f"the place name {n!r} is used twice; names must be unique")

    windows: list[RuleWindow] = []
    raw_windows = data.get("window", [])
    if not isinstance(raw_windows, list):
        problems.add("window", "must be a list of [[window]] tables")
        raw_windows = []
    for i, raw in enumerate(raw_windows, start=1):
        where = f"window[{i}]"
        if not isinstance(raw, Mapping):
            problems.add(where, "must be a table")
            continue
        for key in raw:
            if key not in ("name", "at", "start", "end", "days", "min_officers"):
                problems.add(f"{where}.{key}", "unknown field")
        name = str(raw.get("name", f"window {i}"))
        start, length = _window_times(raw, where, problems)
        days: tuple[int, ...] = ()
        try:
            days = parse_days(raw.get("days", "all"), named=named)
        except ValidationError as exc:
            problems.add(f"{where}.days", str(exc))
        mino = _int(raw.get("min_officers", 1), f"{where}.min_officers", problems, lo=1, hi=50)
        at_raw = raw.get("at")
        at = (at_raw,) if isinstance(at_raw, str) else tuple(at_raw or ())
        if not at:
            problems.add(f"{where}.at", "missing: where the window applies, e.g. 'schools:HS'")
        chosen: list[str] = []
        for sel in at:
            kind, _, arg = str(sel).partition(":")
            kind = kind.strip().lower()
            if kind == "schools":
                want = {t.strip() for t in arg.split(",") if t.strip()}
                if schools is None:
                    problems.add(f"{where}.at", f"{sel!r} needs a [schools] file")
                    continue
                bad = sorted(want - school_types)
                if bad and school_types:
                    problems.add(
                        f"{where}.at",
                        f"school type(s) {bad} not in the schools file (types: "
                        f"{sorted(school_types)})",
                    )
                chosen += [
                    p.name
                    for p in places
                    if p.group.startswith("school:")
                    and (not want or p.group.removeprefix("school:") in want)
                ]
            elif kind == "group":
                hit = [p.name for p in places if p.group == arg.strip()]
                if not hit:
                    problems.add(f"{where}.at", f"no place has group {arg.strip()!r}")
                chosen += hit
            elif kind == "place":
                if arg.strip() not in pnames:
                    problems.add(f"{where}.at", f"no place named {arg.strip()!r}")
                else:
                    chosen.append(arg.strip())
            else:
                problems.add(
                    f"{where}.at",
                    f"{sel!r}: use 'schools', 'schools:ES,HS', 'group:NAME' or 'place:NAME'",
                )
        windows.append(
            RuleWindow(name, at, tuple(dict.fromkeys(chosen)), start, length, days, mino)
        )

    emphasis: list[Emphasis] = []
    raw_emph = data.get("emphasis", [])
    if not isinstance(raw_emph, list):
        problems.add("emphasis", "must be a list of [[emphasis]] tables")
        raw_emph = []
    for i, raw in enumerate(raw_emph, start=1):
        where = f"emphasis[{i}]"
        if not isinstance(raw, Mapping):
            problems.add(where, "must be a table")
            continue
        group = str(raw.get("type_group", "")).strip()
        if not group:
            problems.add(f"{where}.type_group", "missing: the type group to weight")
        elif type_groups is not None and group not in type_groups:
            problems.add(
                f"{where}.type_group", f"unknown type group {group!r}; groups: {list(type_groups)}"
            )
        start, length = (0, MINUTES_PER_DAY)
        if "start" in raw or "end" in raw:
            start, length = _window_times(raw, where, problems)
        try:
            days = parse_days(raw.get("days", "all"), named=named)
        except ValidationError as exc:
            problems.add(f"{where}.days", str(exc))
            days = ()
        weight = _number(raw.get("weight", 1.0), f"{where}.weight", problems, lo=0, hi=100)
        if weight == 0:
            problems.add(f"{where}.weight", "must be > 0 (use a small value to de-emphasise)")
        emphasis.append(Emphasis(group, start, length, days, weight))
    problems.raise_if_any()
    return RuleCalendar(
        places=tuple(places),
        windows=tuple(windows),
        emphasis=tuple(emphasis),
        school_days=school_days,
        notes=tuple(notes),
        source=source,
    )


def load_calendar(
    path: str | Path,
    *,
    data_dir: Path | None = None,
    type_groups: Sequence[str] | None = None,
) -> RuleCalendar:
    """Read a rule calendar (TOML; see the module docstring).

    Relative ``schools.file`` paths are read from the calendar's folder; ``data:`` paths from
    ``data_dir``.

    Raises
    ------
    DataFileError
        For a missing file, invalid TOML, or any invalid field (naming it).
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "calendar file not found")
    try:
        data = tomllib.loads(read_toml_text(p))
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(p, f"not valid TOML: {exc}") from exc
    return calendar_from_mapping(
        data, str(p), base_dir=p.parent, data_dir=data_dir, type_groups=type_groups
    )
