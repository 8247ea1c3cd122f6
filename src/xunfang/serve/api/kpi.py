"""Key performance indicators of the dispatch service (pure functions).

* Response time (received -> on scene) by priority: median and 90th percentile. The 90th
  percentile is the nearest-rank value (the smallest response time that at least 90 % of
  calls meet: ``numpy.percentile(..., method="inverted_cdf")``), the reading of NFPA 1710
  "90th percentile" performance objectives; the median is the usual mid-point average.
* Calls by type and by local hour received.
* Person-times on duty (出勤人次): for every unit, its crew times the number of duty periods
  (in service, i.e. not ``out_of_service``) that overlap the window; person-hours are
  crew times the overlap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def median_p90(values_s: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and nearest-rank 90th percentile of durations (seconds); ``None`` when empty.

    Example: [60, 120, 180, 240, 300, 360, 420, 480, 540, 600] -> (330.0, 540.0).
    """
    arr = np.asarray([v for v in values_s if v is not None], dtype=np.float64)
    if arr.size == 0:
        return None, None
    return float(np.median(arr)), float(np.percentile(arr, 90, method="inverted_cdf"))


@dataclass(frozen=True)
class StatusChange:
    """One unit status change, for duty periods."""

    unit_id: str
    at: dt.datetime
    new_status: str


@dataclass(frozen=True)
class DutySummary:
    """Person-times and person-hours on duty in a window."""

    person_times: int
    person_hours: float


def duty_summary(
    changes: Sequence[StatusChange],
    crew: dict[str, int],
    since: dt.datetime,
    until: dt.datetime,
) -> DutySummary:
    """Person-times and person-hours on duty in ``[since, until)``.

    Parameters
    ----------
    changes
        Status changes of every unit up to ``until``, each unit's in time order; a unit's
        first change starts its first duty period (units are created in service).
    crew
        Officers per unit.
    since, until
        The window (timezone-aware).

    Returns
    -------
    DutySummary
        A duty period runs from a change out of ``out_of_service`` (or the first change)
        to the next change into it (or ``until``).
    """
    times = 0
    hours = 0.0
    by_unit: dict[str, list[StatusChange]] = {}
    for c in changes:
        by_unit.setdefault(c.unit_id, []).append(c)
    for unit_id, seq in by_unit.items():
        n = crew.get(unit_id, 1)
        start: dt.datetime | None = None
        periods: list[tuple[dt.datetime, dt.datetime]] = []
        for c in seq:
            on = c.new_status != "out_of_service"
            if on and start is None:
                start = c.at
            elif not on and start is not None:
                periods.append((start, c.at))
                start = None
        if start is not None:
            periods.append((start, until))
        for a, b in periods:
            lo, hi = max(a, since), min(b, until)
            if hi > lo or (a <= since < b):
                times += n
                hours += n * max((hi - lo).total_seconds(), 0.0) / 3600.0
    return DutySummary(times, hours)
