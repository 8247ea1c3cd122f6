"""Request and response bodies (pydantic). Create schemas refuse unknown fields; strings
refuse control characters (PostgreSQL cannot store NUL, and none belongs in a call) and
the invisible Unicode format characters that reorder or hide text (:data:`SPOOFING`), and
have the zero-width characters that only hide inside text (:data:`ZERO_WIDTH`) removed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from xunfang.serve.api.security import Role

SPOOFING = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Bidirectional format characters (Unicode UAX #9): the Arabic letter mark U+061C, the
left-to-right and right-to-left marks U+200E/U+200F, the embeddings and overrides
U+202A-U+202E and the isolates U+2066-U+2069. They are invisible and reorder the text
around them (``"abc\u202egnp.exe"`` shows as ``abcexe.png``: CVE-2021-42574, "Trojan
Source"), so a console could show a dispatcher an address or name other than the stored
one; no Chinese or Latin text needs them. Zero-width joiners (U+200C/U+200D) are kept:
Persian, Indic scripts and emoji sequences need them."""
ZERO_WIDTH = "\u200b\u2060\ufeff"
"""Zero-width space U+200B, word joiner U+2060 and zero-width no-break space / byte-order
mark U+FEFF: invisible, they come with text pasted from web pages, chat apps and files
saved with a BOM, and make two equal-looking names or addresses differ (a search for
"南京东路" misses "南京\u200b东路"). No text needs them, so every text field of a request
(:data:`Text`, :data:`Line`, :data:`Name`, :data:`Phone`, an alert's description) has them
removed before it is checked and stored; passwords are kept as typed."""
_ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH}]")


def strip_zero_width(value: Any) -> Any:
    """``value`` without the characters of :data:`ZERO_WIDTH` when it is text, else as it is."""
    return _ZERO_WIDTH.sub("", value) if isinstance(value, str) else value


_NO_ZERO_WIDTH = BeforeValidator(strip_zero_width)
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f{SPOOFING}]")
_CONTROL_LINE = re.compile(f"[\x00-\x1f\x7f{SPOOFING}]")


def forbidden_char(text: str, *, one_line: bool = True) -> str | None:
    """The first character ``text`` must not hold as ``U+XXXX`` (C0 controls and DEL,
    but tab and line breaks when not ``one_line``, and :data:`SPOOFING`), or ``None``."""
    m = (_CONTROL_LINE if one_line else _CONTROL).search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def _no_control(text: str) -> str:
    bad = forbidden_char(text, one_line=False)
    if bad:
        raise ValueError(f"must not contain control or bidirectional characters ({bad})")
    return text


def _no_control_line(text: str) -> str:
    bad = forbidden_char(text)
    if bad:
        raise ValueError(f"must be one line without control or bidirectional characters ({bad})")
    return text


Text = Annotated[
    str, _NO_ZERO_WIDTH, StringConstraints(max_length=2000), AfterValidator(_no_control)
]
Line = Annotated[
    str, _NO_ZERO_WIDTH, StringConstraints(max_length=200), AfterValidator(_no_control_line)
]
Name = Annotated[
    str,
    _NO_ZERO_WIDTH,
    StringConstraints(min_length=1, max_length=100, strip_whitespace=True),
    AfterValidator(_no_control_line),
]
_PHONE = re.compile(
    r"^(?P<main>\+?[0-9(][0-9 ()\-.]*[0-9])(?:\s*(?:x|ext\.?|#)\s*(?P<ext>[0-9]{1,6}))?$",
    re.IGNORECASE,
)


def _phone(text: str) -> str:
    """A phone number as people write it: ``(312) 555-0199``, ``138 0013 8000``,
    ``+86 138-0013-8000``, with an optional extension ``x123`` / ``ext. 123`` /
    ``#123``; 5 to 15 digits before the extension (ITU-T E.164 allows 15)."""
    m = _PHONE.match(text)
    if m is None:
        raise ValueError(
            "must be a phone number such as (312) 555-0199, +86 138-0013-8000 or 312-555-0199 x123"
        )
    digits = sum(c.isdigit() for c in m.group("main"))
    if not 5 <= digits <= 15:
        raise ValueError(f"a phone number has 5 to 15 digits before the extension, got {digits}")
    return text


Phone = Annotated[
    str,
    _NO_ZERO_WIDTH,
    StringConstraints(min_length=3, max_length=32, strip_whitespace=True),
    AfterValidator(_phone),
]
Password = Annotated[
    str, StringConstraints(min_length=8, max_length=128), AfterValidator(_no_control_line)
]
UnitId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-@]{1,64}$"
"""A login name: ASCII letters, digits and ``_ . - @`` only (no look-alike or invisible
characters), 1 to 64 of them; the API and ``xunfang user add`` check it."""
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="degrees")]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="degrees")]
Frame = Literal["wgs84", "gcj02", "bd09"]
Priority = Annotated[int, Field(ge=1, le=5, description="1 most urgent .. 5")]

CallStatusName = Literal["received", "dispatched", "en_route", "on_scene", "cleared", "cancelled"]
UnitStatusName = Literal[
    "available", "dispatched", "en_route", "on_scene", "returning", "out_of_service"
]
UnitModeName = Literal["car", "foot"]
DispositionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
UnitKindName = Literal["booth", "patrol", "station_car", "response_team"]


def _takes_bool(annotation: object) -> bool:
    """Whether a field's type admits ``bool`` (itself, or inside a union or list)."""
    return annotation is bool or any(_takes_bool(a) for a in get_args(annotation))


class _In(BaseModel):
    """A request body: unknown keys refused, and JSON ``true``/``false`` refused for every
    field that is not a boolean. Pydantic's lax mode reads ``true`` as 1 for an integer or
    float field (a call of ``"priority": true`` became priority 1), which no client means.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if isinstance(value, bool) and name and not _takes_bool(cls.model_fields[name].annotation):
            raise ValueError(f"expected a number or text, not {str(value).lower()}")
        return value


# ---------------------------------------------------------------------------- auth/users
class TokenOut(BaseModel):
    """An access token (OAuth2 bearer)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: dt.datetime
    username: str
    role: Role
    unit_id: str | None = None


class UserCreate(_In):
    """A new user."""

    username: Username
    password: Password
    role: Role
    unit_id: UnitId | None = None


class RoleIn(_In):
    """A user's new role (and unit, for officers)."""

    role: Role
    unit_id: UnitId | None = None


class PasswordIn(_In):
    """A new password (every token of the user is revoked)."""

    password: Password


class RevokeIn(_In):
    """Revoke one session (``session_id``), or every token of the user (no id)."""

    session_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,64}$")] | None = None


class RevokedOut(BaseModel):
    """How many sessions were revoked."""

    username: str
    revoked: int


class SessionOut(BaseModel):
    """One login of a user (a token's ``jti``)."""

    id: str
    username: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    client: str
    revoked: bool
    revoked_at: dt.datetime | None


class UserOut(BaseModel):
    """A user (never the hash)."""

    username: str
    role: Role
    unit_id: str | None
    active: bool


class MeOut(BaseModel):
    """The logged-in user."""

    username: str
    role: Role
    unit_id: str | None
    sees_caller: bool


# ---------------------------------------------------------------------------- calls
class CallCreate(_In):
    """A call taken by a dispatcher."""

    call_type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")] = Field(
        description="a key of GET /api/meta call_types (e.g. theft, missing_person)"
    )
    priority: Priority | None = Field(default=None, description="default: the type's")
    lon: Lon
    lat: Lat
    frame: Frame = "wgs84"
    description: Text = ""
    address: Line = ""
    caller_name: Name | None = None
    caller_phone: Phone | None = None


class CallOut(BaseModel):
    """A call; ``caller_name``/``caller_phone`` are masked for officers and analysts."""

    id: int
    call_type: str
    type_group: str
    priority: int
    status: CallStatusName
    description: str
    address: str
    caller_name: str | None
    caller_phone: str | None
    lon: float
    lat: float
    snap_distance_m: float
    unit_id: str | None
    received_at: dt.datetime
    dispatched_at: dt.datetime | None
    en_route_at: dt.datetime | None
    on_scene_at: dt.datetime | None
    cleared_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    call_processing_s: float | None = Field(description="received -> first dispatched")
    dispatch_delay_s: float | None = Field(description="first dispatched -> first en route")
    travel_s: float | None = Field(description="last en route -> on scene")
    response_s: float | None = Field(description="received -> on scene")
    on_scene_time_s: float | None = Field(description="on scene -> cleared")
    created_by: str
    acknowledged_at: dt.datetime | None = Field(
        default=None, description="the first assigned unit acknowledged (签收)"
    )
    disposition: str | None = Field(default=None, description="result code (处警结果)")
    disposition_note: str = ""
    alert_id: int | None = Field(default=None, description="the alert it was made from")


class CallEventOut(BaseModel):
    """One lifecycle step."""

    at: dt.datetime
    status: CallStatusName
    unit_id: str | None
    actor: str


class CrewMemberOut(BaseModel):
    """A unit on a call."""

    unit_id: str
    role: Literal["primary", "backup"]
    status: str


class CallDetailOut(CallOut):
    """A call with its history and the units on it."""

    history: list[CallEventOut]
    crew: list[CrewMemberOut] = Field(default_factory=list)


class DispatchIn(_In):
    """Assign a unit to a call."""

    unit_id: UnitId


class RecommendationOut(BaseModel):
    """One recommended unit."""

    unit_id: str
    kind: str
    name: str
    eta_s: float = Field(description="road travel time to the call, seconds")
    lon: float = Field(
        description="the unit's position: last known, or for a unit returning to its post, "
        "the node of its route home it was ranked from (by the time left to its post)"
    )
    lat: float
    outside_own_sector: bool | None = Field(
        default=None,
        description="the call lies outside the patrol sector of the unit's own booth or "
        "station (None: the plan has no sectors, or the unit's post has none)",
    )


class RecommendOut(BaseModel):
    """The k closest available units by road travel time."""

    node: int
    lon: float
    lat: float
    units: list[RecommendationOut]


# ---------------------------------------------------------------------------- units
class UnitCreate(_In):
    """A new unit at a site or a position."""

    id: UnitId
    kind: UnitKindName
    name: Line = ""
    site: Line | None = Field(default=None, description="name of its post (GET /api/sites)")
    lon: Lon | None = None
    lat: Lat | None = None
    frame: Frame = "wgs84"
    crew: Annotated[int, Field(ge=1, le=50)] = 2
    speed_factor: Annotated[float, Field(gt=0.0, le=20.0, allow_inf_nan=False)] = 1.0
    mode: UnitModeName = Field(default="car", description="foot: walking speed, 5 km/h")


class UnitOut(BaseModel):
    """A unit and its state."""

    id: str
    kind: str
    name: str
    status: UnitStatusName
    call_id: int | None
    site_id: int | None
    lon: float
    lat: float
    home_lon: float
    home_lat: float
    crew: int
    speed_factor: float
    updated_at: dt.datetime
    position_at: dt.datetime | None
    mode: str = "car"
    return_eta_at: dt.datetime | None = Field(
        default=None, description="while returning: expected back at its post"
    )


class UnitStatusIn(_In):
    """A status report: en_route, on_scene, available (clears its call, or back in
    service), out_of_service. Clearing a call may carry its disposition and a note; a
    backup unit reporting available leaves the call (released)."""

    status: UnitStatusName
    disposition: DispositionCode | None = None
    note: Text = ""


class PositionIn(_In):
    """A position report."""

    lon: Lon
    lat: Lat
    frame: Frame = "wgs84"


# ---------------------------------------------------------------------------- sites
class SiteCreate(_In):
    """A new post."""

    name: Name
    kind: Literal["station", "booth", "post"]
    lon: Lon
    lat: Lat
    frame: Frame = "wgs84"


class SiteOut(BaseModel):
    """A fixed post."""

    id: int
    name: str
    kind: str
    lon: float
    lat: float


# ---------------------------------------------------------------------------- alerts
class AlertCreate(_In):
    """A lookout: what to look for, where, and how far (minutes of travel) to push it."""

    description: Annotated[
        str,
        _NO_ZERO_WIDTH,
        StringConstraints(min_length=1, max_length=2000),
        AfterValidator(_no_control),
    ]
    lon: Lon
    lat: Lat
    frame: Frame = "wgs84"
    within_min: Annotated[float, Field(gt=0.0, le=60.0, allow_inf_nan=False)] = 5.0
    units: Annotated[int, Field(ge=1, le=500)] = 3
    """How many units to alert: the nearest available ones within ``within_min`` (by road);
    busy ones make up the number only when fewer are available, marked ``busy``."""


class AckIn(_In):
    """Acknowledge an alert for a unit (officers: their own unit, the default)."""

    unit_id: UnitId | None = None


class RecipientOut(BaseModel):
    """A unit an alert went to."""

    unit_id: str
    eta_s: float
    acked_at: dt.datetime | None
    acked_by: str | None
    busy: bool = False
    """The unit was on a call: alerted only because fewer than ``units`` available units
    were within reach."""


class AlertOut(BaseModel):
    """An alert and its acknowledgements."""

    id: int
    description: str
    lon: float
    lat: float
    within_min: float
    created_at: dt.datetime
    created_by: str
    recipients: list[RecipientOut]
    units: int | None = None
    """How many units the alert asked for (None for alerts made before it was asked)."""
    acked: int
    pending: int
    reporter_unit_id: str | None = None
    expires_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    call_id: int | None = None


# ---------------------------------------------------------------------------- KPIs, audit
class ResponseStats(BaseModel):
    """Response-time figures of one priority (seconds)."""

    priority: int
    calls: int = Field(description="calls with an on-scene time")
    median_s: float | None
    p90_s: float | None
    call_processing_median_s: float | None
    travel_median_s: float | None


class KpiOut(BaseModel):
    """Key performance indicators over a time window."""

    since: dt.datetime
    until: dt.datetime
    timezone: str
    calls: int
    response_by_priority: list[ResponseStats]
    calls_by_type: dict[str, int]
    calls_by_hour: list[int] = Field(description="24 counts by local hour received")
    calls_by_type_hour: dict[str, list[int]]
    person_times_on_duty: int = Field(
        description="sum over units of crew x duty periods overlapping the window"
    )
    person_hours_on_duty: float
    persons_on_duty_now: int


class AuditOut(BaseModel):
    """One audit entry."""

    id: int
    at: dt.datetime
    username: str
    role: str
    action: str
    resource: str
    resource_id: str
    detail: dict[str, Any]
    client: str


class MetaOut(BaseModel):
    """What the console needs to start: area, map settings, call types, roles."""

    area: str
    bbox: tuple[float, float, float, float]
    area_geojson: dict[str, Any]
    tile_url: str
    call_types: list[dict[str, Any]]
    type_groups: dict[str, dict[str, str]]
    unit_statuses: list[str]
    hotspots: bool
    sectors: bool = False
