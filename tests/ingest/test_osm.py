"""OSM tag rules: maxspeed, oneway, access and the class speed tables (values from the
OSM wiki pages Key:maxspeed, Key:oneway, Key:access and the laws cited in ingest/osm.py)."""

from __future__ import annotations

import math

import pytest

from xunfang.errors import ValidationError
from xunfang.ingest.osm import (
    CLASS_SPEEDS_KPH,
    DEFAULT_SPEEDS_KPH,
    DRIVABLE_HIGHWAYS,
    class_speeds,
    excluded_reason,
    parse_maxspeed,
    parse_oneway,
)


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("50", 50.0),
        (" 40 ", 40.0),
        ("40 km/h", 40.0),
        ("60 kmh", 60.0),
        ("30 mph", 48.28032),  # 30 x 1.609344
        ("25mph", 40.2336),
        ("10 knots", 18.52),
        ("70|100", 70.0),  # per lane: the lower
        ("40;60", 40.0),
        ("60;30 mph", 48.28032),  # mixed units: lower after conversion
        ("signals;50", 50.0),
        ("CN:urban", 50.0),  # one lane each way, art. 45
        ("CN:rural", 70.0),
        ("CN:motorway", 120.0),
        ("RU:urban", 60.0),
        ("RU:rural", 90.0),
        ("DE:urban", 50.0),
        ("DE:rural", 100.0),
        ("de:rural", 100.0),  # country code case
        ("FR:rural", 80.0),
        ("GB:nsl_single", 96.56064),  # 60 mph
        ("DE:zone30", 30.0),
        ("DE:zone:30", 30.0),
        ("walk", 5.0),
        ("US:urban", math.nan),  # no national default: class speed
        ("none", math.nan),
        ("signals", math.nan),
        ("variable", math.nan),
        ("0", math.nan),
        ("-30", math.nan),
        ("", math.nan),
        (None, math.nan),
        (45, 45.0),
        (True, math.nan),
        (["30 mph", "40 mph"], 56.32704),  # an OSMnx list: mean, as osmnx
        ("['25 mph', '35 mph']", 48.28032),
    ],
)
def test_parse_maxspeed_table(raw: object, kph: float) -> None:
    got = parse_maxspeed(raw)
    if math.isnan(kph):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(kph)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"oneway": "yes"}, (1, "tag")),
        ({"oneway": "true"}, (1, "tag")),
        ({"oneway": "1"}, (1, "tag")),
        ({"oneway": "-1"}, (-1, "tag")),
        ({"oneway": "reverse"}, (-1, "tag")),
        ({"oneway": "no"}, (0, "tag")),
        ({"oneway": "false"}, (0, "tag")),
        ({"oneway": "0"}, (0, "tag")),
        ({"oneway": "reversible"}, (0, "reversible")),
        ({"oneway": "alternating"}, (0, "reversible")),
        ({"oneway": "yes;no"}, (0, "unknown")),
        ({"junction": "roundabout"}, (1, "implied")),
        ({"junction": "circular"}, (1, "implied")),
        ({"junction": "roundabout", "oneway": "no"}, (0, "tag")),  # the tag wins
        ({"highway": "motorway"}, (1, "implied")),
        ({"highway": "motorway_link"}, (0, "none")),
        ({"highway": "residential"}, (0, "none")),
    ],
)
def test_parse_oneway(tags: dict[str, str], expected: tuple[int, str]) -> None:
    assert parse_oneway(tags) == expected


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"highway": "service", "access": "private"}, "access=private"),
        ({"highway": "residential", "access": "no"}, "access=no"),
        ({"highway": "residential", "motor_vehicle": "no"}, "access=no"),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, None),
        ({"highway": "residential", "access": "destination"}, None),
        ({"highway": "service", "service": "parking_aisle"}, "service=parking_aisle"),
        ({"highway": "service", "service": "driveway"}, "service=driveway"),
        ({"highway": "service", "service": "drive-through"}, "service=drive-through"),
        ({"highway": "service", "service": "emergency_access"}, None),
        ({"highway": "service", "service": "alley"}, None),
        ({"highway": "residential", "area": "yes"}, "area=yes"),
        ({"highway": "primary"}, None),
    ],
)
def test_excluded_reason(tags: dict[str, str], reason: str | None) -> None:
    assert excluded_reason(tags) == reason


def test_country_speed_tables() -> None:
    for table in CLASS_SPEEDS_KPH.values():
        assert set(table) == DRIVABLE_HIGHWAYS
    assert CLASS_SPEEDS_KPH["US"] is DEFAULT_SPEEDS_KPH
    cn = class_speeds("cn")
    # CJJ 37-2012 lowest design speeds: expressway 60, arterial 40, sub-arterial 30, branch 20
    assert (cn["trunk"], cn["primary"], cn["secondary"], cn["residential"]) == (60, 40, 30, 20)
    us = class_speeds()
    assert (us["primary"], us["secondary"], us["residential"]) == (50, 45, 30)
    assert class_speeds("CN", {"primary": 35})["primary"] == 35
    with pytest.raises(ValidationError, match=r"no road-class speed table for country 'ZZ'.*CN"):
        class_speeds("ZZ")
    with pytest.raises(ValidationError, match=r"speeds_kph\['primary'\] must be a positive"):
        class_speeds("CN", {"primary": 0})
