"""The command centre's KPIs against the configured standards (see
:mod:`xunfang.store.kpi_sql` for the definitions)."""

from __future__ import annotations

import datetime as dt

from xunfang.serve.api import field_schemas as F
from xunfang.serve.api.codes import KpiStandards, load_standards
from xunfang.serve.api.geo import FieldError
from xunfang.serve.api.service import Service
from xunfang.store import kpi_sql


def check_window(svc: Service, since: dt.datetime, until: dt.datetime) -> KpiStandards:
    """The standards in force, after checking a KPI window ``[since, until)``: the one
    rule of ``GET /api/kpis`` and ``GET /api/kpis/standards`` (a window of years is a
    heavy read: ask for several windows).

    Raises
    ------
    FieldError
        If ``since >= until`` or the window is longer than ``max_window_days``.
    """
    std = load_standards(svc.settings.kpi_standards)
    if since >= until:
        raise FieldError("since", "since must be before until")
    if until - since > dt.timedelta(days=std.max_window_days):
        raise FieldError(
            "since",
            f"the window may cover at most {std.max_window_days:g} days (ask for several windows)",
        )
    return std


def kpi_standards(
    svc: Service, since: dt.datetime, until: dt.datetime, now: dt.datetime
) -> F.KpiStandardsOut:
    """KPIs over ``[since, until)``; ``now`` (the time of the query) judges the steps not
    yet ended (:func:`xunfang.store.kpi_sql.call_steps`) and ends the on-duty and
    away-from-post time of a window reaching into the future (见警率 counts no time after
    ``now``).

    Raises
    ------
    FieldError
        If ``since >= until`` or the window is longer than ``max_window_days``.
    """
    std = check_window(svc, since, until)
    limits = std.steps_s()
    with svc.db.read() as s:
        n, steps, disp = kpi_sql.call_steps(s, since, until, limits, now)
        alerts = kpi_sql.alert_counts(s, since, until, std.alert_ack_s)
        person_times = kpi_sql.patrol_person_times(s, since, until)
        # time after `now` has not happened: a window ending later counts up to now only
        duty_until = min(until, now)
        on_s, away_s = (
            kpi_sql.visibility_seconds(s, since, duty_until) if duty_until > since else (0.0, 0.0)
        )

    def stats(name: str) -> F.StandardStats:
        st = steps[name]
        return F.StandardStats(
            name=name,
            standard_s=limits[name],
            measured=st.measured,
            within=st.within,
            share_within=round(st.within / st.measured, 4) if st.measured else None,
            mean_s=st.mean_s,
            max_s=st.max_s,
            missed_unfinished=st.missed_unfinished,
            pending=st.pending,
        )

    return F.KpiStandardsOut(
        since=since,
        until=until,
        calls=n,
        acknowledge=stats("acknowledge"),
        depart=stats("depart"),
        arrive=stats("arrive"),
        feedback=stats("feedback"),
        dispositions=disp,
        alerts=alerts["n"],
        alerts_acted_on=alerts["acted"],
        alerts_acked_within_standard=alerts["in_time"],
        alerts_escalated=alerts["escalated"],
        alerts_made_calls=alerts["calls"],
        patrol_person_times=person_times,
        on_duty_unit_s=on_s,
        away_from_post_unit_s=away_s,
        visibility=round(away_s / on_s, 4) if on_s > 0 else None,
    )
