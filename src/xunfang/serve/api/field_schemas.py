"""Request and response bodies of the field side and the complete loop: backup, release,
reassignment, clearing with a disposition, call edits, alerts made into calls, the
officer's page, routes and the KPI standards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from xunfang.serve.api.schemas import (
    CallDetailOut,
    DispositionCode,
    Frame,
    Lat,
    Line,
    Lon,
    Name,
    Phone,
    Priority,
    Text,
    UnitId,
    UnitOut,
    _In,
)


class UnitRef(_In):
    """A unit to add to or take off a call."""

    unit_id: UnitId


class ReassignIn(_In):
    """Hand a call from one of its units to another unit (the call is not cancelled)."""

    from_unit_id: UnitId
    to_unit_id: UnitId


class ClearIn(_In):
    """Clear a call on scene with its result (处警结果) and a note."""

    disposition: DispositionCode
    note: Text = ""


class CallEdit(_In):
    """Fields of a call changed after intake (only those given change)."""

    call_type: Annotated[str, Field(max_length=32)] | None = None
    priority: Priority | None = None
    description: Text | None = None
    address: Line | None = None
    caller_name: Name | None = None
    caller_phone: Phone | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    frame: Frame = "wgs84"


class AlertToCallIn(_In):
    """Make an alert into a call: the call keeps the alert's place and text."""

    call_type: Annotated[str, Field(max_length=32)]
    priority: Priority | None = None


class FieldMeOut(BaseModel):
    """What the officer's page shows: my unit, my call (the caller's contact unmasked
    for a unit on it), the position report interval."""

    username: str
    unit: UnitOut | None
    call: CallDetailOut | None
    role_on_call: Literal["primary", "backup"] | None
    position_every_s: float
    walk_speed_kph: float


class RouteOut(BaseModel):
    """The road path from a unit to its call (GeoJSON LineString, WGS-84)."""

    unit_id: str
    call_id: int
    mode: str
    eta_s: float = Field(description="travel time along the path, seconds")
    distance_m: float
    line: dict[str, Any]


class StandardStats(BaseModel):
    """One timed step against its standard."""

    name: str
    standard_s: float
    measured: int = Field(
        description="calls with both ends of the step, and calls whose step started and "
        "has not ended although the standard has passed (misses)"
    )
    within: int = Field(description="of those, within the standard")
    share_within: float | None
    mean_s: float | None = Field(description="over the steps with both ends")
    max_s: float | None = Field(description="over the steps with both ends")
    missed_unfinished: int = Field(
        default=0, description="of measured: not ended although the standard has passed"
    )
    pending: int = Field(
        default=0,
        description="started, not ended, the call open and the standard not yet passed "
        "(not in measured)",
    )


class KpiStandardsOut(BaseModel):
    """The command centre's KPIs over ``[since, until)`` against the configured
    standards (see ``xunfang.store.kpi_sql``)."""

    since: dt.datetime
    until: dt.datetime
    calls: int
    acknowledge: StandardStats
    depart: StandardStats
    arrive: StandardStats
    feedback: StandardStats
    dispositions: dict[str, int]
    alerts: int
    alerts_acted_on: int = Field(
        description="alerts acknowledged by at least one unit or made into a call"
    )
    alerts_acked_within_standard: int
    alerts_escalated: int
    alerts_made_calls: int
    patrol_person_times: int = Field(
        description="crew x duty periods overlapping the window, patrol and booth units"
    )
    on_duty_unit_s: float
    away_from_post_unit_s: float
    visibility: float | None = Field(
        description="share of on-duty unit time spent away from the post (见警率)"
    )
