"""Figures of a simulation run, their means over replications with confidence intervals,
the Erlang C formula, and workload per district.

Replications are independent runs with independent seeds; a figure's mean over ``R``
replications gets the Student-t interval ``mean +- t(0.975, R-1) s / sqrt(R)`` (Law 2015,
*Simulation Modeling and Analysis*, 5th ed., section 9.4.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from xunfang.errors import ValidationError
from xunfang.simulate.sim import SimResult

RINGS_MIN = (1, 3, 5)
"""The 1-3-5 minute circle."""


def summarise(result: SimResult) -> dict[str, float]:
    """Scalar figures of one run (flat dict; times in minutes unless named ``_s``).

    Keys: ``calls``, ``served``, ``unserved``; ``response_median_min``,
    ``response_p90_min``; per priority ``p{k}_calls``, ``p{k}_response_median_min``,
    ``p{k}_response_p90_min``; ``share_response_within_{m}min`` and
    ``share_travel_within_{m}min`` for m in 1, 3, 5; mean components
    ``mean_call_processing_s``, ``mean_queue_s``, ``mean_dispatch_delay_s``,
    ``mean_travel_s``, ``mean_on_scene_min``; ``share_queued``, ``queue_p90_s``;
    ``utilisation`` (all units: busy / on duty) and ``utilisation_<kind>``;
    ``unit_hours`` on duty; ``preempted``.
    """
    calls = result.calls
    served = calls[calls["served"]]
    out: dict[str, float] = {
        "calls": float(len(calls)),
        "served": float(len(served)),
        "unserved": float(len(calls) - len(served)),
    }
    resp = served["response_s"].to_numpy(dtype=np.float64)
    out["response_median_min"] = _q(resp, 0.5) / 60.0
    out["response_p90_min"] = _q(resp, 0.9) / 60.0
    prio = served["priority"].to_numpy()
    for k in range(1, 6):
        r = resp[prio == k]
        out[f"p{k}_calls"] = float(r.size)
        out[f"p{k}_response_median_min"] = _q(r, 0.5) / 60.0
        out[f"p{k}_response_p90_min"] = _q(r, 0.9) / 60.0
    travel = served["travel_s"].to_numpy(dtype=np.float64)
    n = max(len(calls), 1)
    for m in RINGS_MIN:
        # unserved calls count as not reached
        out[f"share_response_within_{m}min"] = float((resp <= 60.0 * m).sum() / n)
        out[f"share_travel_within_{m}min"] = float((travel <= 60.0 * m).sum() / n)
    for name in ("call_processing_s", "queue_s", "dispatch_delay_s", "travel_s"):
        out[f"mean_{name}"] = _mean(served[name].to_numpy(dtype=np.float64))
    out["mean_on_scene_min"] = _mean(served["on_scene_s"].to_numpy(dtype=np.float64)) / 60.0
    queue = served["queue_s"].to_numpy(dtype=np.float64)
    out["share_queued"] = float((queue > 1e-9).mean()) if queue.size else math.nan
    out["queue_p90_s"] = _q(queue, 0.9)
    units = result.units
    duty = float(units["on_duty_s"].sum())
    out["utilisation"] = float(units["busy_s"].sum()) / duty if duty > 0 else math.nan
    for kind, part in units.groupby("kind", sort=True):
        d = float(part["on_duty_s"].sum())
        out[f"utilisation_{kind}"] = float(part["busy_s"].sum()) / d if d > 0 else math.nan
    out["unit_hours"] = duty / 3600.0
    out["units"] = float(len(units))
    out["preempted"] = float((calls["preempted"] > 0).sum())
    return out


def _q(values: np.ndarray, q: float) -> float:
    v = values[np.isfinite(values)]
    return float(np.quantile(v, q)) if v.size else math.nan


def _mean(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else math.nan


@dataclass(frozen=True)
class Estimate:
    """A figure over replications: mean and 95 % confidence half-width (NaN for one)."""

    mean: float
    half_width: float
    n: int

    def text(self, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
        """``"12.34 ± 0.56"`` (``scale`` multiplies, e.g. 100 for percent)."""
        if not math.isfinite(self.mean):
            return "–"
        m = f"{self.mean * scale:.{digits}f}{unit}"
        if not math.isfinite(self.half_width) or self.half_width == 0:
            return m
        return f"{m} ± {self.half_width * scale:.{digits}f}"


def combine(summaries: Sequence[Mapping[str, float]], level: float = 0.95) -> dict[str, Estimate]:
    """Mean and Student-t confidence half-width of every key over replications.

    Raises
    ------
    ValidationError
        If ``summaries`` is empty.
    """
    if not summaries:
        raise ValidationError("no replications to combine")
    keys = sorted(set().union(*(s.keys() for s in summaries)))
    out = {}
    r = len(summaries)
    t = float(stats.t.ppf(0.5 + level / 2.0, r - 1)) if r > 1 else math.nan
    for key in keys:
        v = np.array([s.get(key, math.nan) for s in summaries], dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            out[key] = Estimate(math.nan, math.nan, 0)
            continue
        half = t * float(v.std(ddof=1)) / math.sqrt(v.size) if v.size > 1 and r > 1 else math.nan
        out[key] = Estimate(float(v.mean()), half, int(v.size))
    return out


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> tuple[float, float]:
    """Probability of waiting and mean wait in an M/M/c queue (Erlang C).

    Parameters
    ----------
    servers
        Number of servers ``c``.
    arrival_rate
        Calls per second ``lambda``.
    service_rate
        Services per second per server ``mu``.

    Returns
    -------
    (p_wait, mean_wait_s)
        ``C(c, a)`` with ``a = lambda / mu``, and ``Wq = C / (c mu - lambda)`` seconds
        (Erlang 1917; e.g. Kleinrock 1975, *Queueing Systems* vol. 1, eq. 3.40).
        ``C`` is computed from the Erlang B recursion ``B(k) = a B(k-1) / (k + a B(k-1))``,
        ``C = c B / (c - a (1 - B))``, which is stable for large ``c``.

    Raises
    ------
    ValidationError
        Unless ``servers >= 1``, rates > 0 and ``lambda < c mu`` (a stable queue).
    """
    if servers < 1 or not arrival_rate > 0 or not service_rate > 0:
        raise ValidationError("erlang_c needs servers >= 1 and positive rates")
    a = arrival_rate / service_rate
    if a >= servers:
        raise ValidationError(
            f"offered load {a:.3f} erlang >= {servers} servers: the queue is unstable"
        )
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    c = servers * b / (servers - a * (1.0 - b))
    return c, c / (servers * service_rate - arrival_rate)


def workload_by_district(
    calls: pd.DataFrame,
    units: pd.DataFrame | None = None,
    unit_district: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Simulated workload per district against incident counts.

    Parameters
    ----------
    calls
        ``SimResult.calls`` (or several replications concatenated with a ``replication``
        column: figures are then means per replication).
    units, unit_district
        Optionally the unit table and unit id -> district of its home station, to add the
        busy hours of each district's own units.

    Returns
    -------
    pandas.DataFrame
        One row per district: ``district``, ``incidents`` (calls), ``share_incidents``,
        ``busy_hours`` (unit time on its calls: dispatch to clear), ``share_busy``,
        ``busy_min_per_incident``, and with units ``own_unit_busy_hours``.
    """
    reps = calls["replication"].nunique() if "replication" in calls else 1
    frame = calls.assign(busy_h=calls["busy_s"].fillna(0.0) / 3600.0)
    table = frame.groupby("district", sort=True).agg(
        incidents=("call", "size"), busy_hours=("busy_h", "sum")
    )
    table["incidents"] = table["incidents"] / reps
    table["busy_hours"] = table["busy_hours"] / reps
    table["share_incidents"] = table["incidents"] / table["incidents"].sum()
    table["share_busy"] = table["busy_hours"] / table["busy_hours"].sum()
    table["busy_min_per_incident"] = 60.0 * table["busy_hours"] / table["incidents"]
    if units is not None and unit_district is not None:
        ureps = units["replication"].nunique() if "replication" in units else 1
        own = (
            units.assign(district=units["unit_id"].map(unit_district))
            .groupby("district")["busy_s"]
            .sum()
            / 3600.0
            / ureps
        )
        table["own_unit_busy_hours"] = own.reindex(table.index).fillna(0.0)
    table = table.reset_index()
    key = pd.to_numeric(table["district"], errors="coerce")
    order = np.lexsort((table["district"].astype(str).to_numpy(), key.fillna(np.inf).to_numpy()))
    return table.iloc[order].reset_index(drop=True)
