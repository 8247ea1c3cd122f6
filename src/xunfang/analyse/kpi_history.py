"""The command centre's 签收/出警/到场/反馈 KPIs computed from a call history (an ingested
110 export's step times) instead of the live ``calls`` table.

The steps, their start and end and the rule "within = duration <= standard, durations
rounded to the millisecond" are those of :mod:`xunfang.store.kpi_sql` (its
:data:`~xunfang.store.kpi_sql.STEPS`, read here, not copied); the standards are the same
file (``xunfang/data/kpi_standards.toml``, passed in by the caller). The call's
``received_at`` is the incident table's ``occurred_at`` (the export's 报警时间); the other
columns have the calls table's names (:data:`xunfang.ingest.profiles.STEP_COLUMNS`).

======================  ===============================================  ==============
KPI                     measured from -> to                              default limit
======================  ===============================================  ==============
签收 acknowledge        派警 dispatched -> 签收 acknowledged             30 s
出警 depart             派警 dispatched -> 出警 en route                 60 s
到场 arrive             报警 received -> 到达 first unit on scene        300 s
反馈 feedback           到达 on scene -> 反馈 cleared with a result      1800 s
======================  ===============================================  ==============

One difference from the live KPIs, on purpose: live, a step started and not ended once
its standard has passed is a miss, because the live system records every event. In an
export an empty cell is no evidence that the step did not happen (the column may not be
exported, or ingest left an out-of-order time empty), so a call lacking either end of a
step is counted as ``not_recorded`` for that step: never measured, never within the
standard. A duration longer than :data:`DURATION_CAP_S` (24 h) is no KPI measurement but a
wrong date in the export (a 反馈 typed a month late, a step of the next day's call): it is
counted apart as ``too_long``, kept out of ``measured``, ``within``, the mean, p90 and max,
and the first such call is named (:attr:`KpiHistory.too_long`).
``measured + not_recorded + too_long = calls`` on every row of the table.

Per step and group: ``calls``, ``measured`` (both ends known, at most the cap), ``not_recorded``,
``too_long`` (longer than :data:`DURATION_CAP_S`), ``within`` (measured and duration <=
standard), ``share_within`` (``within / measured``, as live; empty when nothing was
measured), ``mean_s``, ``p90_s`` and ``max_s`` over the measured durations. ``p90_s`` is
the nearest-rank 90th percentile (the smallest duration with at least 90 % of the
measured ones <= it: sorted durations ``d``, ``d[ceil(0.9 n) - 1]``; Hyndman & Fan 1996,
definition 1), so that it is always a duration that occurred.
Groups: the whole history (``overall``), the call type group (``type_group``, the
taxonomy's), the priority (``priority``, when the export has such a column), the unit
that handled the call (``unit``: the ``handling_unit`` column, 处警单位, when the table
has one, else ``unit``) and the local hour of the call (``hour``, 0-23). A call whose group
value is blank is counted under ``(blank)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xunfang.errors import ValidationError
from xunfang.ingest.profiles import STEP_COLUMNS
from xunfang.store.kpi_sql import STEPS

__all__ = [
    "BLANK",
    "DIMENSIONS",
    "DURATION_CAP_S",
    "KPI_COLUMNS",
    "TABLE_COLUMN",
    "KpiHistory",
    "kpi_history",
    "nearest_rank",
    "step_durations",
]

TABLE_COLUMN = {"received_at": "occurred_at", **{c: c for c in STEP_COLUMNS}}
"""A column of the live ``calls`` table (:data:`xunfang.store.kpi_sql.STEPS`) -> the
incident table's column holding it."""
DIMENSIONS = ("overall", "type_group", "priority", "unit", "hour")
"""The groupings of the table, in its order (``priority`` only when recorded)."""
KPI_COLUMNS = (
    "dimension",
    "group",
    "step",
    "standard_s",
    "calls",
    "measured",
    "not_recorded",
    "too_long",
    "within",
    "share_within",
    "mean_s",
    "p90_s",
    "max_s",
)
"""Columns of :attr:`KpiHistory.table`."""
DURATION_CAP_S = 86_400.0
"""Longest step duration taken as a KPI measurement, seconds (24 h). Every step's
standard is minutes (签收 30 s ... 反馈 30 min); a step that took more than a day in an
export is a wrong date (a typing slip of the day or month, a time from another call), and
one such duration would move the mean and the max of a whole history. Such durations are
counted apart (``too_long``), never measured, never within."""
BLANK = "(blank)"
"""The group of calls whose group column is empty."""


def nearest_rank(values: np.ndarray, q: float = 0.9) -> float | None:
    """The nearest-rank ``q`` quantile of ``values`` (None when empty).

    The smallest value with at least ``q`` of the values <= it: sorted ``v``,
    ``v[ceil(q n) - 1]`` (Hyndman & Fan 1996, definition 1). Of 1, 2, ..., 10 the 0.9
    quantile is 9; of 5 values it is the largest.
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    if len(v) == 0:
        return None
    k = max(math.ceil(round(q * len(v), 9)), 1)
    return float(v[k - 1])


def step_durations(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Seconds of each step (:data:`xunfang.store.kpi_sql.STEPS`) per call, rounded to the
    millisecond as the live KPIs round them; NaN where either end is missing or the table
    has no such column (ingested before step times were read).

    Parameters
    ----------
    frame
        An incident table's frame: ``occurred_at`` and the step columns, tz-aware UTC.

    Returns
    -------
    dict
        Step name (``acknowledge``, ``depart``, ``arrive``, ``feedback``) -> float64 series
        on ``frame``'s index, seconds.
    """
    out: dict[str, pd.Series] = {}
    for name, (start, end) in STEPS.items():
        a, b = TABLE_COLUMN[start], TABLE_COLUMN[end]
        if a not in frame.columns or b not in frame.columns:
            out[name] = pd.Series(np.nan, index=frame.index, dtype="float64")
            continue
        secs = (pd.to_datetime(frame[b], utc=True) - pd.to_datetime(frame[a], utc=True)).dt
        out[name] = (secs.total_seconds()).round(3).astype("float64")
    return out


@dataclass(frozen=True)
class KpiHistory:
    """The KPI table of a call history.

    Attributes
    ----------
    table
        One row per dimension, group and step (columns :data:`KPI_COLUMNS`; seconds).
    calls
        Calls the table was computed on.
    standards_s
        Seconds per step, as used.
    unit_column
        The incident table's column the ``unit`` rows group by (None: no unit column).
    has_priority
        Whether the history records a priority.
    recorded
        Per step, the calls with both ends recorded.
    too_long
        Per step, the calls whose duration is longer than :data:`DURATION_CAP_S` and the
        first of them (``calls``, ``file``, ``row``: the ``source_file`` and ``source_row``
        of the frame, None when it has no such column; ``seconds``, its duration).
    """

    table: pd.DataFrame
    calls: int
    standards_s: dict[str, float]
    unit_column: str | None
    has_priority: bool
    recorded: dict[str, int]
    too_long: dict[str, dict[str, object]] = field(default_factory=dict)


def _stats(d: np.ndarray, standard_s: float) -> dict[str, object]:
    seen = d[~np.isnan(d)]
    known = seen[seen <= DURATION_CAP_S]
    n = len(known)
    within = int((known <= standard_s).sum())
    return {
        "calls": len(d),
        "measured": n,
        "not_recorded": len(d) - len(seen),
        "too_long": len(seen) - n,
        "within": within,
        "share_within": round(within / n, 4) if n else None,
        "mean_s": round(float(known.mean()), 3) if n else None,
        "p90_s": nearest_rank(known),
        "max_s": float(known.max()) if n else None,
    }


def _group_values(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), BLANK).astype(str)


def kpi_history(frame: pd.DataFrame, standards_s: Mapping[str, float], timezone: str) -> KpiHistory:
    """签收/出警/到场/反馈 KPIs of every call in ``frame``, overall and by group (module
    docstring).

    Parameters
    ----------
    frame
        An incident table's frame (:class:`xunfang.ingest.incidents.IncidentTable`):
        ``occurred_at`` and the step columns (tz-aware UTC; missing columns count as not
        recorded), ``type_group``, and optionally ``priority``, ``handling_unit``/``unit``.
    standards_s
        Seconds per step: ``acknowledge``, ``depart``, ``arrive``, ``feedback`` (the live
        KPIs' standards, :func:`xunfang.serve.api.codes.load_standards`).
    timezone
        IANA zone of the hour of day.

    Returns
    -------
    KpiHistory

    Raises
    ------
    ValidationError
        If a step's standard is missing or not a positive number.
    """
    std: dict[str, float] = {}
    for name in STEPS:
        value = standards_s.get(name)
        if value is None or isinstance(value, bool) or not float(value) > 0:
            raise ValidationError(f"standards: {name} must be a positive number of seconds")
        std[name] = float(value)
    durations = step_durations(frame)
    groups: list[tuple[str, pd.Series | None]] = [("overall", None)]
    if "type_group" in frame.columns:
        groups.append(("type_group", _group_values(frame["type_group"])))
    has_priority = "priority" in frame.columns and bool(
        frame["priority"].astype("string").str.strip().fillna("").ne("").any()
    )
    if has_priority:
        groups.append(("priority", _group_values(frame["priority"])))
    unit_column = next(
        (
            c
            for c in ("handling_unit", "unit")
            if c in frame.columns and frame[c].astype("string").str.strip().fillna("").ne("").any()
        ),
        None,
    )
    if unit_column is not None:
        groups.append(("unit", _group_values(frame[unit_column])))
    local = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(timezone)
    groups.append(("hour", local.dt.hour.astype("Int64").astype(str)))
    rows: list[dict[str, object]] = []
    for dim, keys in groups:
        if keys is None:
            parts: list[tuple[str, np.ndarray]] = [("all", np.arange(len(frame)))]
        else:
            order = sorted(set(keys), key=lambda k: (k == BLANK, _sort_key(dim, k)))
            parts = [(k, np.flatnonzero(keys.to_numpy() == k)) for k in order]
        for key, idx in parts:
            for name in STEPS:
                d = durations[name].to_numpy()[idx]
                rows.append(
                    {"dimension": dim, "group": key, "step": name, "standard_s": std[name]}
                    | _stats(d, std[name])
                )
    table = pd.DataFrame(rows, columns=list(KPI_COLUMNS))
    for col in ("calls", "measured", "not_recorded", "too_long", "within"):
        table[col] = table[col].astype("int64")
    recorded = {name: int(durations[name].notna().sum()) for name in STEPS}
    too_long: dict[str, dict[str, object]] = {}
    for name in STEPS:
        over = np.flatnonzero(durations[name].to_numpy() > DURATION_CAP_S)
        if len(over):
            k = int(over[0])
            too_long[name] = {
                "calls": len(over),
                "file": str(frame["source_file"].iloc[k]) if "source_file" in frame else None,
                "row": int(frame["source_row"].iloc[k]) if "source_row" in frame else None,
                "seconds": float(durations[name].iloc[k]),
            }
    return KpiHistory(table, len(frame), std, unit_column, has_priority, recorded, too_long)


_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}


def _sort_key(dim: str, key: str) -> tuple[float, str]:
    """Hours in numeric order; priorities by their leading number, Arabic or Chinese
    (一级, 二级, 三级: by code point 三 would come before 二); the rest by text."""
    if dim == "hour" and key.isdigit():
        return (float(key), "")
    if dim == "priority":
        digits = re.match(r"\d+", key)
        if digits:
            return (float(digits.group()), key)
        if key[:1] in _NUMERALS:
            return (float(_NUMERALS[key[0]]), key)
    return (float("inf") if dim == "priority" else 0.0, key)
