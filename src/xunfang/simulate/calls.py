"""Calls for the simulation: replayed from real incidents, or sampled from a fitted rate.

Incident records are crime reports or 110 calls, often without dispatch or arrival times:
a replayed call is received at the incident's ``occurred_at`` (local wall-clock time), at the
road node nearest to its recorded position. Its priority, call-processing time, on-scene time and
the quantile of the dispatch delay come from the simulation table
(:mod:`xunfang.simulate.tables`), drawn with the run's seeded generator.

Records without a real time of day: rows with ``time_precision == "day"`` and rows stamped
exactly 00:00:00 local (1.0 % of the example city's crime reports; mostly placeholders for
"some time that day") are, by default, moved to a uniformly random time of the same day
with the seeded generator (``midnight="spread"``); ``"keep"`` replays them at midnight.
Either way they are counted in the :class:`CallReport`.

Sampling (``sample_calls``): a non-homogeneous Poisson process whose rate in each hour of
the week is the mean count of the training incidents in that hour of the week (hour of week
= weekday x 24 + hour, Monday 00:00 = 0); each sampled call copies the place and type of a
training incident of the same hour of the week, drawn uniformly (a bootstrap). Counts per
hour are Poisson, times uniform within the hour (Ross, *Simulation*, 5th ed., 2013,
section 5.5: a piecewise-constant rate is simulated hour by hour).

Clock: seconds of local wall-clock time since the start of the period. A month with a
daylight-saving change has one hour without calls (spring) or one hour twice (autumn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from xunfang.errors import ValidationError
from xunfang.ingest.incidents import bulk_span
from xunfang.ingest.road_network import FAR_FROM_ROAD_M
from xunfang.simulate.sim import CallSet
from xunfang.simulate.tables import SimTable
from xunfang.units import HOURS_PER_WEEK


@dataclass(frozen=True)
class Period:
    """A simulated period in local wall-clock time ``[start, end)``.

    Attributes
    ----------
    start, end
        Naive local timestamps.
    label
        E.g. ``"2015-06"``.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    label: str

    @classmethod
    def month(cls, month: str) -> Period:
        """The calendar month ``"YYYY-MM"``.

        Raises
        ------
        ValidationError
            If ``month`` is not of that form.
        """
        try:
            start = pd.Timestamp(f"{month}-01")
        except ValueError:
            start = None
        if start is None or len(month) != 7 or month[4] != "-":
            raise ValidationError(f"month must be YYYY-MM (e.g. 2015-06), got {month!r}")
        return cls(start, start + pd.offsets.MonthBegin(1), month)

    @property
    def seconds(self) -> float:
        """Length, seconds."""
        return float((self.end - self.start).total_seconds())

    @property
    def start_hour(self) -> float:
        """Local hour of day at the start (0-24)."""
        return self.start.hour + self.start.minute / 60.0 + self.start.second / 3600.0

    @property
    def start_hour_of_week(self) -> int:
        """Hour of week (Monday 00:00 = 0) of the start."""
        return int(self.start.day_of_week) * 24 + int(self.start.hour)


@dataclass(frozen=True)
class CallReport:
    """Where the calls came from and what was modelled.

    Attributes
    ----------
    source
        ``"replay"`` or ``"sample"``.
    incidents
        Incidents in the period (replay) or training incidents (sample).
    calls
        Calls made.
    spread_midnight
        Rows stamped exactly 00:00:00 moved to a random time of their day.
    spread_day_precision
        Rows with a date only moved to a random time of their day.
    kept_midnight
        Midnight rows replayed at midnight (``midnight="keep"``).
    far_from_road
        Calls more than :data:`FAR_FROM_ROAD_M` from their road node (kept).
    snap_median_m
        Median distance from incident to its road node, metres.
    by_priority
        Calls per priority.
    training_weeks
        Weeks of training data behind the fitted rate (sample only).
    """

    source: str
    incidents: int
    calls: int
    spread_midnight: int = 0
    spread_day_precision: int = 0
    kept_midnight: int = 0
    far_from_road: int = 0
    snap_median_m: float = float("nan")
    by_priority: dict[int, int] = field(default_factory=dict)
    training_weeks: float = float("nan")

    def sentences(self) -> list[str]:
        """The report in words."""
        out = [f"{self.calls:,} calls ({self.source} of {self.incidents:,} incidents)."]
        if self.spread_midnight or self.spread_day_precision:
            out.append(
                f"{self.spread_midnight:,} incidents stamped exactly 00:00 and "
                f"{self.spread_day_precision:,} with a date only were given a uniformly "
                "random time of their day (seeded)."
            )
        if self.kept_midnight:
            out.append(f"{self.kept_midnight:,} midnight-stamped incidents replayed at 00:00.")
        if self.far_from_road:
            out.append(
                f"{self.far_from_road:,} calls lie more than {FAR_FROM_ROAD_M:g} m from the "
                "nearest road node (kept, served at that node)."
            )
        if np.isfinite(self.training_weeks):
            out.append(f"Rate fitted on {self.training_weeks:.1f} weeks of incidents.")
        return out


def incident_frame(
    local_time: pd.Series,
    precision: pd.Series,
    type_group: pd.Series,
    source_type: pd.Series,
    node: np.ndarray,
    snap_m: np.ndarray,
    *,
    district: pd.Series | None = None,
    incident_id: pd.Series | None = None,
) -> pd.DataFrame:
    """The columns the call builders need, from an incident table.

    Parameters
    ----------
    local_time
        Local times (tz-aware or naive local).
    precision
        ``"minute"``, ``"second"`` or ``"day"``.
    type_group, source_type
        Type group and source type of each incident.
    node, snap_m
        (n,) road node and snapping distance (metres) of each incident.
    district, incident_id
        Optional labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``local`` (naive local datetime64), ``precision``, ``type_group``,
        ``type``, ``node``, ``snap_m``, ``district``, ``incident_id``.
    """
    local = pd.to_datetime(local_time)
    if getattr(local.dt, "tz", None) is not None:
        local = local.dt.tz_localize(None)
    n = len(local)
    return pd.DataFrame(
        {
            "local": local.to_numpy(),
            "precision": np.asarray(precision, dtype=object),
            "type_group": np.asarray(type_group, dtype=object),
            "type": np.asarray(source_type, dtype=object),
            "node": np.asarray(node, dtype=np.int64),
            "snap_m": np.asarray(snap_m, dtype=np.float64),
            "district": (
                np.asarray(district, dtype=object)
                if district is not None
                else np.full(n, "", dtype=object)
            ),
            "incident_id": (
                np.asarray(incident_id, dtype=object)
                if incident_id is not None
                else np.arange(n).astype(str).astype(object)
            ),
        }
    )


def _quantiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniforms strictly inside (0, 1) (inverse transforms need no 0 or 1)."""
    return (np.floor(rng.random(n) * 2.0**52) + 0.5) / 2.0**52


def _spread(
    frame: pd.DataFrame, rng: np.random.Generator, midnight: str
) -> tuple[np.ndarray, int, int, int]:
    """Local times as datetime64, with date-only and midnight rows spread over their day."""
    local = frame["local"].to_numpy(dtype="datetime64[ns]")
    ts = pd.DatetimeIndex(local)
    day_only = (frame["precision"].to_numpy(dtype=object) == "day") & np.ones(len(frame), bool)
    at_midnight = (ts.hour == 0) & (ts.minute == 0) & (ts.second == 0) & ~day_only
    if midnight not in ("spread", "keep"):
        raise ValidationError(f"midnight must be 'spread' or 'keep', got {midnight!r}")
    move = day_only | (at_midnight if midnight == "spread" else np.zeros(len(frame), bool))
    out = local.copy()
    if move.any():
        offset_ns = (rng.random(int(move.sum())) * 86400e9).astype(np.int64)
        days = ts[move].normalize().to_numpy(dtype="datetime64[ns]")
        out[move] = days + offset_ns.astype("timedelta64[ns]")
    kept = int(at_midnight.sum()) if midnight == "keep" else 0
    spread_mid = int(at_midnight.sum()) if midnight == "spread" else 0
    return out, spread_mid, int(day_only.sum()), kept


def _make(
    rows: pd.DataFrame,
    t_s: np.ndarray,
    table: SimTable,
    rng: np.random.Generator,
) -> CallSet:
    order = np.argsort(t_s, kind="stable")
    rows = rows.iloc[order]
    t = t_s[order]
    n = len(rows)
    groups = rows["type_group"].to_numpy(dtype=object)
    priority = table.priorities(groups, rows["type"].to_numpy(dtype=object))
    q_cp, q_os, q_dd = _quantiles(rng, n), _quantiles(rng, n), _quantiles(rng, n)
    return CallSet(
        t_s=np.asarray(t, dtype=np.float64),
        node=rows["node"].to_numpy(dtype=np.int64),
        priority=priority,
        type_group=groups,
        call_processing_s=table.call_processing_s.from_quantile(q_cp),
        on_scene_s=table.on_scene_s(groups, q_os),
        dispatch_q=q_dd,
        district=rows["district"].to_numpy(dtype=object),
        source_id=rows["incident_id"].to_numpy(dtype=object),
    )


def replay_calls(
    frame: pd.DataFrame,
    period: Period,
    table: SimTable,
    rng: np.random.Generator,
    *,
    midnight: Literal["spread", "keep"] = "spread",
) -> tuple[CallSet, CallReport]:
    """Replay the incidents of ``period`` as calls.

    Parameters
    ----------
    frame
        From :func:`incident_frame` (any span: rows outside the period are ignored after
        the spreading of date-only rows, which keeps them on their own day).
    period
        The simulated period.
    table
        Priorities and durations.
    rng
        The run's generator. Draw order: spread times, then call processing, on-scene and
        dispatch-delay quantiles (one each per call, in time order).
    midnight
        ``"spread"`` (default) or ``"keep"``, see the module docstring.

    Returns
    -------
    (CallSet, CallReport)

    Raises
    ------
    ValidationError
        If no incident falls in the period, or a type group is not in the table.
    """
    day_start = np.datetime64(period.start.to_datetime64(), "ns")
    day_end = np.datetime64(period.end.to_datetime64(), "ns")
    local = frame["local"].to_numpy(dtype="datetime64[ns]")
    rows = frame[(local >= day_start) & (local < day_end)].reset_index(drop=True)
    if rows.empty:
        raise ValidationError(
            f"no incidents in {period.label} ({period.start} .. {period.end}); pick a month "
            "covered by the incident files"
        )
    times, spread_mid, spread_day, kept = _spread(rows, rng, midnight)
    t_s = (times - day_start).astype("timedelta64[ns]").astype(np.int64) / 1e9
    calls = _make(rows, t_s, table, rng)
    snap = rows["snap_m"].to_numpy(dtype=np.float64)
    report = CallReport(
        source="replay",
        incidents=len(rows),
        calls=len(calls),
        spread_midnight=spread_mid,
        spread_day_precision=spread_day,
        kept_midnight=kept,
        far_from_road=int((snap > FAR_FROM_ROAD_M).sum()),
        snap_median_m=float(np.median(snap)),
        by_priority=_by_priority(calls.priority),
    )
    return calls, report


def sample_calls(
    training: pd.DataFrame,
    period: Period,
    table: SimTable,
    rng: np.random.Generator,
    *,
    midnight: Literal["spread", "keep"] = "spread",
) -> tuple[CallSet, CallReport]:
    """Sample calls for ``period`` from the hour-of-week rate of ``training`` incidents.

    Parameters
    ----------
    training
        From :func:`incident_frame`: the incidents the rate is fitted on (e.g. the months
        before the period); at least one week.
    period, table, rng, midnight
        As for :func:`replay_calls`.

    Raises
    ------
    ValidationError
        If the training data span less than a week.
    """
    times, spread_mid, spread_day, kept = _spread(training, rng, midnight)
    if len(times) == 0:
        raise ValidationError("no training incidents to fit a call rate on")
    start, end, _ = bulk_span(times)  # not stretched by a stray row years away
    span_s = float((end - start).total_seconds())
    weeks = max(span_s, 1.0) / (7 * 86400.0)
    if weeks < 1.0:
        raise ValidationError(
            f"the training incidents span {weeks * 7:.1f} days; fitting an hour-of-week rate "
            "needs at least one week"
        )
    ts = pd.DatetimeIndex(times)
    how = np.asarray(ts.day_of_week * 24 + ts.hour, dtype=np.int64)
    counts = np.bincount(how, minlength=HOURS_PER_WEEK)
    rate = counts / weeks  # expected calls per hour of week
    order = np.argsort(how, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_slots = int(np.ceil(period.seconds / 3600.0))
    slot_how = (period.start_hour_of_week + np.arange(n_slots)) % HOURS_PER_WEEK
    per_slot = rng.poisson(rate[slot_how])
    slot = np.repeat(np.arange(n_slots), per_slot)
    t_s = (slot + rng.random(slot.size)) * 3600.0
    keep = t_s < period.seconds
    slot, t_s = slot[keep], t_s[keep]
    h = slot_how[slot]
    pick = order[first[h] + np.floor(rng.random(slot.size) * counts[h]).astype(np.int64)]
    rows = training.iloc[pick].reset_index(drop=True)
    calls = _make(rows, t_s, table, rng)
    snap = rows["snap_m"].to_numpy(dtype=np.float64)
    report = CallReport(
        source="sample",
        incidents=len(training),
        calls=len(calls),
        spread_midnight=spread_mid,
        spread_day_precision=spread_day,
        kept_midnight=kept,
        far_from_road=int((snap > FAR_FROM_ROAD_M).sum()),
        snap_median_m=float(np.median(snap)) if snap.size else float("nan"),
        by_priority=_by_priority(calls.priority),
        training_weeks=weeks,
    )
    return calls, report


def _by_priority(priority: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(priority, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}
