"""Rosters, time blocks and rule calendars: parsing, hand-worked blocks, refusals naming fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xunfang.errors import DataFileError, ValidationError
from xunfang.plan.roster import (
    MINUTES_PER_WEEK,
    TimeBlock,
    calendar_from_mapping,
    load_calendar,
    load_roster,
    make_blocks,
    parse_clock,
    parse_days,
    roster_from_mapping,
)


def three_shifts(**over: Any) -> dict[str, Any]:
    shifts = [
        {"name": "day", "start": "06:00", "hours": 8, "officers": 12, "vehicles": 2},
        {"name": "evening", "start": "14:00", "hours": 8, "officers": 10, "vehicles": 2},
        {"name": "night", "start": "22:00", "hours": 8, "officers": 8, "vehicles": 1},
    ]
    return {"shift": shifts, **over}


def test_parse_clock_and_days() -> None:
    assert parse_clock("06:00") == 360
    assert parse_clock("14:45") == 885
    assert parse_clock("24:00", allow_24=True) == 1440
    for bad in ("25:00", "6h", "12:60", "24:00"):
        with pytest.raises(ValidationError, match="clock time"):
            parse_clock(bad)
    assert parse_days("Mon-Fri") == (0, 1, 2, 3, 4)
    assert parse_days("Fri-Mon") == (0, 4, 5, 6)  # wraps over the weekend
    assert parse_days(["Sat", "sunday"]) == (5, 6)
    assert parse_days("周一，周三") == (0, 2)
    assert parse_days("weekends") == (5, 6)
    assert parse_days([0, 6]) == (0, 6)
    assert parse_days("school_days", named={"school_days": (1, 2)}) == (1, 2)
    with pytest.raises(ValidationError, match="'Funday' is not a day"):
        parse_days("Mon,Funday")
    with pytest.raises(ValidationError, match="outside 0"):
        parse_days([7])


def test_roster_from_toml_mapping() -> None:
    r = roster_from_mapping(
        three_shifts(crew_per_vehicle=3, booths={"default_min_staff": 2, "min_staff": {"B1": 1}})
    )
    assert [s.name for s in r.shifts] == ["day", "evening", "night"]
    day = r.shift("day")
    assert (day.start_min, day.length_min, day.break_min) == (360, 480, 30)
    assert day.officers[:2] == ("day/01", "day/02") and len(day.officers) == 12
    assert day.vehicles == ("V01", "V02")  # the same cars in every shift
    assert day.days == tuple(range(7)) and not day.named
    assert r.crew_per_vehicle == 3
    assert r.min_staff("B1") == 1 and r.min_staff("B2") == 2


def test_blocks_of_a_week_follow_the_shift_starts() -> None:
    blocks = make_blocks(roster_from_mapping(three_shifts()), 2.0)
    assert len(blocks) == 84  # 3 shifts x 4 blocks x 7 days
    b0 = blocks[0]
    # Monday 00:00 is the second block of Sunday's night shift
    assert (b0.label, b0.shift, b0.part, b0.parts) == ("Mon 00:00-02:00", "night", 1, 4)
    assert b0.shift_start_min == 6 * 1440 + 22 * 60
    starts = np.array([b.start_min for b in blocks])
    lengths = np.array([b.length_min for b in blocks])
    assert (np.diff(starts) == 120).all() and (lengths == 120).all()
    assert blocks[-1].label == "Sun 22:00-00:00"


def test_shift_boundaries_set_the_block_boundaries() -> None:
    # 07:00 / 15:00 / 23:00 shifts: blocks start at odd hours; a 7 h shift ends in a 1 h block
    data = {
        "shift": [
            {"name": "a", "start": "07:00", "hours": 8, "officers": 4},
            {"name": "b", "start": "15:00", "hours": 7, "officers": 4},
            {"name": "c", "start": "22:00", "hours": 9, "officers": 4},
        ]
    }
    blocks = make_blocks(roster_from_mapping(data), 2.0)
    monday = [b for b in blocks if b.day == 0]
    assert [b.label for b in monday] == [
        "Mon 00:00-02:00",
        "Mon 02:00-04:00",
        "Mon 04:00-06:00",
        "Mon 06:00-07:00",  # the 9 h night shift's last, 1 h block
        "Mon 07:00-09:00",
        "Mon 09:00-11:00",
        "Mon 11:00-13:00",
        "Mon 13:00-15:00",
        "Mon 15:00-17:00",
        "Mon 17:00-19:00",
        "Mon 19:00-21:00",
        "Mon 21:00-22:00",  # 7 h shift: 2 + 2 + 2 + 1
        "Mon 22:00-00:00",
    ]
    assert sum(b.length_min for b in blocks) == MINUTES_PER_WEEK


def test_block_overlap_and_hours() -> None:
    b = TimeBlock(0, 14 * 60, 120, "x", 14 * 60, 0, 1)  # Mon 14:00-16:00
    assert b.overlap_min(14 * 60 + 45, 30) == 30  # 14:45-15:15
    assert b.overlap_min(15 * 60 + 30, 60) == 30  # 15:30-16:30
    assert b.overlap_min(16 * 60, 60) == 0
    assert b.overlap_min(14 * 60 + 7 * 1440, 30) == 30  # same window a week later
    late = TimeBlock(0, 0, 120, "x", 0, 0, 1)  # Mon 00:00-02:00
    assert late.overlap_min(6 * 1440 + 23 * 60, 120) == 60  # Sun 23:00-Mon 01:00
    half = TimeBlock(0, 30, 90, "x", 0, 0, 1)  # Mon 00:30-02:00
    hours, minutes = half.hour_weights()
    assert hours.tolist() == [0, 1] and minutes.tolist() == [30.0, 60.0]


def test_overlapping_shifts_are_refused() -> None:
    data = three_shifts()
    data["shift"][1]["start"] = "13:00"  # day runs to 14:00
    with pytest.raises(
        DataFileError, match=r"'day' and 'evening' overlap on every day 13:00-14:00"
    ) as e:
        roster_from_mapping(data)
    assert e.value.field == "shift"
    assert "2 problems" in str(e.value)
    assert "no shift covers every day 21:00-22:00" in str(e.value)


def test_hours_no_shift_covers_are_refused() -> None:
    data = three_shifts()
    data["shift"][2]["days"] = "Mon-Sat"
    with pytest.raises(DataFileError, match=r"no shift covers Sun 22:00-06:00: booths are staffed"):
        roster_from_mapping(data)


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"start": "25:00"}, "shift[2].start", "not a valid 24-hour clock time"),
        ({"start": None}, "shift[2].start", "missing"),
        ({"hours": 14}, "shift[2].hours", r"must be a number in \[0.25, 12\]"),
        ({"days": "Mon,Funday"}, "shift[2].days", "not a day"),
        ({"officers": -3}, "shift[2].officers", "must be >= 0"),
        ({"officers": ["Li", "Li"]}, "shift[2].officers", "repeats Li"),
        ({"break_minutes": 600}, "shift[2].break_minutes", r"must be a number in \[0, 180\]"),
        ({"colour": "blue"}, "shift[2].colour", "unknown field"),
    ],
)
def test_bad_shift_fields_are_named(change: dict[str, Any], field: str, text: str) -> None:
    data = three_shifts()
    for k, v in change.items():
        if v is None:
            data["shift"][1].pop(k)
        else:
            data["shift"][1][k] = v
    with pytest.raises(DataFileError, match=text) as e:
        roster_from_mapping(data, "roster.toml")
    assert e.value.field == field
    assert str(e.value).startswith(f"roster.toml, field {field!r}")


def test_repeated_names_and_rest_between_shifts() -> None:
    data = three_shifts()
    data["shift"][1]["name"] = "day"
    with pytest.raises(DataFileError, match="'day' is used twice"):
        roster_from_mapping(data)
    named = three_shifts()
    named["shift"][0]["officers"] = ["Wang", "Li"]
    named["shift"][1]["officers"] = ["Zhao", "Li"]  # Li: day 06-14 then evening 14-22
    with pytest.raises(DataFileError, match=r"officer 'Li' works 'day' .* 0.0 h of rest"):
        roster_from_mapping(named)


def test_unknown_booth_is_refused_naming_the_field() -> None:
    r = roster_from_mapping(three_shifts(booths={"min_staff": {"B01": 2, "B99": 1}}), "r.toml")
    with pytest.raises(DataFileError, match="unknown booth 'B99'") as e:
        r.check_booths(["B01", "B02"])
    assert e.value.field == "booths.min_staff.B99"


def test_toml_and_csv_rosters_agree(tmp_path: Path) -> None:
    toml = tmp_path / "r.toml"
    toml.write_text(
        "crew_per_vehicle = 2\n"
        '[[shift]]\nname = "day"\nstart = "06:00"\nhours = 12\nofficers = 5\nvehicles = 1\n'
        '[[shift]]\nname = "night"\nstart = "18:00"\nhours = 12\nofficers = 4\n'
        "break_minutes = 45\n",
        encoding="utf-8",
    )
    csv = tmp_path / "r.csv"
    csv.write_text(
        "name,start,hours,break_minutes,days,officers,vehicles\n"
        "day,06:00,12,30,all,5,1\nnight,18:00,12,45,all,4,0\n",
        encoding="utf-8",
    )
    a, b = load_roster(toml), load_roster(csv)
    assert a.shifts == b.shifts
    bad = tmp_path / "bad.csv"
    bad.write_text("name,start,hours,officers\nday,06:00,12,5\nnight,6pm,12,4\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="not a clock time") as e:
        load_roster(bad)
    assert (e.value.row, e.value.field) == (2, "start")
    with pytest.raises(DataFileError, match="missing column"):
        (tmp_path / "x.csv").write_text("name,start\nday,06:00\n", encoding="utf-8")
        load_roster(tmp_path / "x.csv")
    # an unquoted comma in a name moves every later cell: the row is refused, not read
    shifted = tmp_path / "shifted.csv"
    shifted.write_text(
        "name,start,hours,officers\nday,06:00,12,5\nnight, late,18:00,12,4\nx,06:00\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match="2 problem") as e:
        load_roster(shifted)
    assert "row 2, field None: 5 fields where the header has 4" in str(e.value)
    assert "row 3, field None: 2 fields where the header has 4" in str(e.value)
    assert e.value.row == 2


def test_break_longer_than_a_block_is_refused() -> None:
    data = three_shifts()
    data["shift"][0]["break_minutes"] = 90
    with pytest.raises(ValidationError, match="break_minutes 90 is longer than a 60 min block"):
        make_blocks(roster_from_mapping(data), 1.0)
    with pytest.raises(ValidationError, match="--block-hours"):
        make_blocks(roster_from_mapping(three_shifts()), 0.1)


SCHOOLS = (
    "School_ID,NAME_OF_SCHOOL,Elementary_Middle_HighSchool,Latitude,Longitude\n"
    "1,Alpha Elementary,ES,41.87,-87.63\n"
    "2,Beta High,HS,41.88,-87.62\n"
    "3,Gamma Middle,MS,41.86,-87.64\n"
)


def calendar_doc() -> dict[str, Any]:
    return {
        "school_days": "Mon-Fri",
        "schools": {"file": "schools.csv"},
        "place": [{"name": "Plaza", "lon": -87.628, "lat": 41.882, "group": "retail"}],
        "window": [
            {
                "name": "ES/MS",
                "at": "schools:ES,MS",
                "start": "14:45",
                "end": "15:15",
                "days": "school_days",
            },
            {
                "name": "evening study",
                "at": "schools:HS",
                "start": "20:30",
                "end": "21:30",
                "days": "school_days",
                "min_officers": 2,
            },
            {
                "name": "night market",
                "at": ["group:retail"],
                "start": "22:00",
                "end": "02:00",
                "days": "Sat",
            },
        ],
        "emphasis": [
            {"type_group": "vehicle", "start": "22:00", "end": "06:00", "weight": 2.0},
            {
                "type_group": "vehicle",
                "start": "23:30",
                "end": "00:30",
                "weight": 3.0,
                "days": "Mon",
            },
        ],
    }


def test_calendar_places_windows_and_emphasis(tmp_path: Path) -> None:
    (tmp_path / "schools.csv").write_text(SCHOOLS, encoding="utf-8")
    cal = calendar_from_mapping(calendar_doc(), base_dir=tmp_path, type_groups=["vehicle", "other"])
    assert [p.name for p in cal.places] == [
        "Alpha Elementary",
        "Beta High",
        "Gamma Middle",
        "Plaza",
    ]
    assert [p.group for p in cal.places] == ["school:ES", "school:HS", "school:MS", "retail"]
    es, study, market = cal.windows
    assert es.places == ("Alpha Elementary", "Gamma Middle")
    assert (es.start_min, es.length_min, es.days, es.min_officers) == (885, 30, (0, 1, 2, 3, 4), 1)
    assert (
        study.places == ("Beta High",) and study.min_officers == 2 and study.clock == "20:30-21:30"
    )
    assert market.length_min == 240  # past midnight
    assert market.occurrences() == [(5 * 1440 + 22 * 60, 240)]
    assert "3 schools read" in cal.notes[0] and "ES 1, HS 1, MS 1" in cal.notes[0]
    m = cal.emphasis_matrix(["other", "vehicle"])
    assert (m[0] == 1).all()
    v = m[1]
    assert v[21] == 1 and v[22] == 2 and v[5] == 2 and v[6] == 1  # Mon 22:00-06:00 x2
    # Monday 23:30-00:30 x3 on top: hour 23 half x2, half x6 -> 4; Tuesday 00:00 half 6, half 2
    assert v[23] == pytest.approx(4.0) and v[24] == pytest.approx(4.0)
    assert v[6 * 24 + 23] == 2  # other nights: x2 only


@pytest.mark.parametrize(
    ("edit", "field", "text"),
    [
        (
            lambda d: d["window"][0].update(at="schools:XS"),
            "window[1].at",
            r"school type\(s\) \['XS'\]",
        ),
        (lambda d: d["window"][0].update(min_officers=0), "window[1].min_officers", r"\[1, 50\]"),
        (lambda d: d["window"][1].update(end="20:30"), "window[2].end", "the window is empty"),
        (lambda d: d["window"][2].update(at="place:Nowhere"), "window[3].at", "no place named"),
        (lambda d: d["window"][2].update(days="Caturday"), "window[3].days", "not a day"),
        (lambda d: d["emphasis"][0].update(type_group="cars"), "emphasis[1].type_group", "unknown"),
        (lambda d: d["emphasis"][0].update(weight=0), "emphasis[1].weight", "must be > 0"),
        (lambda d: d["schools"].update(file="missing.csv"), "schools.file", "file not found"),
        (lambda d: d["schools"].update(file="data:x.csv"), "schools.file", "data directory"),
        (lambda d: d["place"][0].pop("lat"), "place[1].lat", "not a number"),
    ],
)
def test_bad_calendar_fields_are_named(tmp_path: Path, edit: Any, field: str, text: str) -> None:
    (tmp_path / "schools.csv").write_text(SCHOOLS, encoding="utf-8")
    doc = calendar_doc()
    edit(doc)
    with pytest.raises(DataFileError, match=text) as e:
        calendar_from_mapping(doc, "cal.toml", base_dir=tmp_path, type_groups=["vehicle"])
    assert e.value.field == field


@pytest.mark.realdata
def test_example_files_parse(data_dir: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "deploy"
    r = load_roster(root / "roster.toml")
    assert load_roster(root / "roster.csv").shifts == r.shifts
    assert len(make_blocks(r)) == 84
    cal = load_calendar(root / "calendar.toml", data_dir=data_dir)
    assert sum(p.group.startswith("school:") for p in cal.places) == 566
    assert [w.name for w in cal.windows][:2] == ["ES/MS dismissal", "HS dismissal"]


def test_csv_roster_reports_every_bad_row(tmp_path: Path) -> None:
    from xunfang.plan.roster import load_roster

    path = tmp_path / "r.csv"
    path.write_text("name,start,hours,officers\nday,06:00,8,60\nlate,25:00,8,60\nnight,22:00,,50\n")
    with pytest.raises(
        DataFileError,
        match=r"2 problem\(s\).*row 2, field 'start'.*row 3, "
        r"field 'hours'",
    ):
        load_roster(path)
