"""The command centre's KPIs as SQL aggregates over a bounded window (SQLite and
PostgreSQL alike).

Definitions (the reference district's; each step's standard is configurable, see
``xunfang/data/kpi_standards.toml``):

======================  ===============================================  ==============
KPI                     measured from -> to                              default limit
======================  ===============================================  ==============
签收 acknowledgement    dispatched -> acknowledged by the primary unit   30 s
出警 departure          dispatched -> en route                           60 s
到场 arrival            received -> first unit on scene                  300 s
反馈 feedback           first unit on scene -> cleared with a result     1800 s
======================  ===============================================  ==============

over calls *received* in ``[since, until)``. A call counts for a step (``measured``) when
both ends are known, and also when the step started and has not ended although the
standard has passed: a call dispatched and never acknowledged is a miss for 签收 once
30 s are over (judged at ``now``, the time of the query, or at the call's clearing or
cancellation if earlier). Leaving such calls out would report 3 of 4 acknowledged in time
where 3 of 6 were. A step started and not ended whose standard has not yet passed (the
call still open) is ``pending``, counted apart; one whose call was cleared or cancelled
before the standard passed is not counted. ``within`` is the number with duration <= the
standard (durations rounded to the millisecond); ``mean_s``/``max_s`` are over the steps
with both ends.

签收 is the call's primary unit's acknowledgement (``calls.acknowledged_at``: the unit the
call was dispatched to, or the unit it was reassigned to; a backup's acknowledgement or
setting off does not acknowledge the call): the usual rule that a call is 签收'd when its
first assigned unit acknowledges it, and setting off counts as acknowledging.

* Alerts acted on: alerts created in the window that at least one unit acknowledged or
  that were made into a call; acknowledged (by a unit) within ``alert_ack_s`` of
  creation; escalated; made into calls. An alert made into a call is not escalated.
* Patrol person-times (巡逻人次): for patrol and booth units, crew x duty periods
  (in service, i.e. not ``out_of_service``) that overlap the window.
* Police visibility (见警率): the share of on-duty unit time in the window that units
  spent more than 100 m from their post (``unit_presence``: written when a position
  report, arrival on scene or return to post changes it; going off duty ends "away").
  Unit-time, not person-time; units that never reported a position count as at post.

Every query is bounded: the window may not exceed ``max_window_days`` and the calls,
alerts and unit events are reached through indexes on their time columns
(``ix_calls_received``, ``ix_alerts_created``, ``ix_unit_events_at``,
``ix_unit_presence_at``); the state of each
unit at ``since`` is one indexed look-up per unit (``ix_unit_events_unit_at``,
``ix_unit_presence_unit_at``). On PostgreSQL the transaction also carries a statement
timeout, so that an analyst's query cannot hold a connection that intake needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from xunfang.store.models import UTCDateTime

PATROL_KINDS = ("patrol", "booth")
STATEMENT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class StepStats:
    """One timed step: calls measured, within the standard, mean and max seconds."""

    measured: int
    within: int
    mean_s: float | None
    max_s: float | None
    missed_unfinished: int = 0
    """Of ``measured``: steps not ended although the standard has passed (misses)."""
    pending: int = 0
    """Steps started, not ended, the call open and the standard not yet passed."""


def _secs(dialect: str, a: str, b: str) -> str:
    """SQL for the seconds from ``a`` to ``b`` (column expressions)."""
    if dialect == "sqlite":
        return f"((julianday({b}) - julianday({a})) * 86400.0)"
    return f"EXTRACT(EPOCH FROM ({b} - {a}))"


def _ms(dialect: str, a: str, b: str) -> str:
    return f"ROUND(CAST({_secs(dialect, a, b)} AS NUMERIC), 3)"


def _ts(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def _bounded(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    return dialect


STEPS = {
    "acknowledge": ("dispatched_at", "acknowledged_at"),
    "depart": ("dispatched_at", "en_route_at"),
    "arrive": ("received_at", "on_scene_at"),
    "feedback": ("on_scene_at", "cleared_at"),
}
"""Each timed step's start and end column of ``calls`` (module docstring)."""


def call_steps(
    session: Session,
    since: dt.datetime,
    until: dt.datetime,
    standards_s: dict[str, float],
    now: dt.datetime,
) -> tuple[int, dict[str, StepStats], dict[str, int]]:
    """Calls received in the window, the four timed steps, and cleared calls by
    disposition.

    Parameters
    ----------
    session
        An open session (SQLite or PostgreSQL).
    since, until
        The window of ``received_at``, tz-aware.
    standards_s
        Seconds per step: ``acknowledge``, ``depart``, ``arrive``, ``feedback``.
    now
        The time of the query (tz-aware): a step not ended by then (nor by the call's
        clearing or cancellation) is a miss once its standard has passed, else pending
        (module docstring).
    """
    d = _bounded(session)
    closed = "COALESCE(cleared_at, cancelled_at, :now)"
    cols = ["COUNT(*) AS n"]
    for name, (start, end) in STEPS.items():
        expr = _ms(d, start, end)
        waited = _ms(d, start, closed)
        unended = f"{start} IS NOT NULL AND {end} IS NULL"
        cols += [
            f"COUNT({expr}) AS {name}_n",
            f"SUM(CASE WHEN {expr} <= :std_{name} THEN 1 ELSE 0 END) AS {name}_within",
            f"AVG({expr}) AS {name}_mean",
            f"MAX({expr}) AS {name}_max",
            f"SUM(CASE WHEN {unended} AND {waited} > :std_{name} THEN 1 ELSE 0 END) "
            f"AS {name}_missed",
            f"SUM(CASE WHEN {unended} AND cleared_at IS NULL AND cancelled_at IS NULL "
            f"AND {waited} <= :std_{name} THEN 1 ELSE 0 END) AS {name}_pending",
        ]
    sql = text(
        f"SELECT {', '.join(cols)} FROM calls WHERE received_at >= :since AND received_at < :until"
    ).bindparams(_ts("since"), _ts("until"), _ts("now"))
    params: dict[str, Any] = {"since": since, "until": until, "now": now}
    params.update({f"std_{k}": float(standards_s[k]) for k in STEPS})
    row = session.execute(sql, params).mappings().one()
    out = {}
    for name in STEPS:
        mean, mx = row[f"{name}_mean"], row[f"{name}_max"]
        missed = int(row[f"{name}_missed"] or 0)
        out[name] = StepStats(
            int(row[f"{name}_n"] or 0) + missed,
            int(row[f"{name}_within"] or 0),
            None if mean is None else round(float(mean), 3),
            None if mx is None else float(mx),
            missed_unfinished=missed,
            pending=int(row[f"{name}_pending"] or 0),
        )
    disp = session.execute(
        text(
            "SELECT disposition, COUNT(*) FROM calls WHERE received_at >= :since "
            "AND received_at < :until AND disposition IS NOT NULL GROUP BY disposition"
        ).bindparams(_ts("since"), _ts("until")),
        {"since": since, "until": until},
    ).all()
    return int(row["n"]), out, {str(k): int(v) for k, v in sorted(disp)}


def alert_counts(
    session: Session, since: dt.datetime, until: dt.datetime, ack_standard_s: float
) -> dict[str, int]:
    """Alerts created in the window: total, acted on (acknowledged by a unit or made
    into a call), acknowledged by a unit within the standard, escalated, made into
    calls."""
    d = _bounded(session)
    first = _ms(d, "a.created_at", "f.first_ack")
    sql = text(
        "SELECT COUNT(*) AS n, "
        "SUM(CASE WHEN f.first_ack IS NOT NULL OR a.call_id IS NOT NULL THEN 1 ELSE 0 END) "
        "AS acted, "
        f"SUM(CASE WHEN {first} <= :std THEN 1 ELSE 0 END) AS in_time, "
        "COUNT(a.escalated_at) AS escalated, COUNT(a.call_id) AS calls "
        "FROM alerts a LEFT JOIN (SELECT alert_id, MIN(acked_at) AS first_ack "
        "FROM alert_recipients GROUP BY alert_id) f ON f.alert_id = a.id "
        "WHERE a.created_at >= :since AND a.created_at < :until"
    ).bindparams(_ts("since"), _ts("until"))
    row = (
        session.execute(sql, {"since": since, "until": until, "std": float(ack_standard_s)})
        .mappings()
        .one()
    )
    return {k: int(row[k] or 0) for k in ("n", "acted", "in_time", "escalated", "calls")}


def patrol_person_times(session: Session, since: dt.datetime, until: dt.datetime) -> int:
    """Crew x duty periods overlapping the window, patrol and booth units: units on duty
    at ``since`` plus duty periods starting in the window."""
    _bounded(session)
    kinds = ", ".join(f"'{k}'" for k in PATROL_KINDS)
    at_start = text(
        "SELECT COALESCE(SUM(u.crew), 0) FROM units u WHERE u.kind IN (" + kinds + ") AND "
        "(SELECT e.new_status FROM unit_events e WHERE e.unit_id = u.id AND e.at < :since "
        "ORDER BY e.at DESC, e.id DESC LIMIT 1) <> 'out_of_service'"
    ).bindparams(_ts("since"))
    starts = text(
        "SELECT COALESCE(SUM(u.crew), 0) FROM unit_events e JOIN units u ON u.id = e.unit_id "
        "WHERE e.at >= :since AND e.at < :until AND u.kind IN (" + kinds + ") "
        "AND e.new_status <> 'out_of_service' "
        "AND (e.old_status IS NULL OR e.old_status = 'out_of_service')"
    ).bindparams(_ts("since"), _ts("until"))
    a = session.execute(at_start, {"since": since}).scalar_one()
    b = session.execute(starts, {"since": since, "until": until}).scalar_one()
    return int(a) + int(b)


def _state_seconds(
    session: Session,
    d: str,
    table: str,
    value: str,
    predicate: str,
    since: dt.datetime,
    until: dt.datetime,
) -> float:
    """Unit-seconds in the window during which ``predicate`` holds of the unit's state
    (``value`` column of ``table``: the state at ``since`` is the last row before it)."""
    secs = _secs(d, "at", "stop")
    sql = text(
        f"WITH s0 AS (SELECT u.id AS unit_id, :since AS at, "
        f"(SELECT t.{value} FROM {table} t WHERE t.unit_id = u.id AND t.at < :since "
        f"ORDER BY t.at DESC, t.id DESC LIMIT 1) AS v FROM units u), "
        f"ev AS (SELECT unit_id, at, {value} AS v, id AS seq FROM {table} "
        f"WHERE at >= :since AND at < :until "
        f"UNION ALL SELECT unit_id, at, v, 0 AS seq FROM s0 WHERE v IS NOT NULL), "
        f"iv AS (SELECT unit_id, at, v, COALESCE(LEAD(at) OVER "
        f"(PARTITION BY unit_id ORDER BY at, seq), :until) AS stop FROM ev) "
        f"SELECT COALESCE(SUM({secs}), 0) FROM iv WHERE {predicate}"
    ).bindparams(_ts("since"), _ts("until"))
    return float(session.execute(sql, {"since": since, "until": until}).scalar_one())


def visibility_seconds(
    session: Session, since: dt.datetime, until: dt.datetime
) -> tuple[float, float]:
    """(on-duty unit-seconds, away-from-post unit-seconds) in the window."""
    d = _bounded(session)
    on = _state_seconds(
        session, d, "unit_events", "new_status", "v <> 'out_of_service'", since, until
    )
    away_true = "v = 1" if d == "sqlite" else "v"
    away = _state_seconds(session, d, "unit_presence", "away", away_true, since, until)
    return round(on, 3), round(away, 3)
