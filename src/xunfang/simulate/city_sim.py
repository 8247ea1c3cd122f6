"""The simulation of every district of a city plan, in parallel, with a city summary.

The input is a scenario file (its ``[scenario] area`` and ``[plan]`` are replaced) and the
output folder of ``xunfang plan --area district:all``: each district is simulated on its own
plan's ``sites.csv`` (stations and booths), with the scenario's month, calls, units and seed,
on the district's network cut from the city's (built once or read from the disk cache, as
the city plan does), in this process or on dask.distributed
(:func:`xunfang.plan.city_plan.map_areas`). The ``deployment`` variant needs a schedule per
district and is left out. Each district is a closed world: its units serve only its calls
(as in the single-district simulation); calls are not passed across district lines.

The city figures (:func:`sim_totals`) are sums of the districts' own counts over all
replications, per variant: calls, served calls, calls answered within 3 minutes, the sum of
the response times of served calls, unit busy and on-duty seconds, and the same per call
priority; shares, means and the utilisation are recomputed from those sums (weighted by the
districts' counts). The mean response time is over the served calls; the calls never
served (count and share) stand beside it in every table. The city's median and 90th
percentile response times are those of the districts' served calls pooled (every
replication), not a mean of the districts'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xunfang.config import Settings
from xunfang.ingest.city import City
from xunfang.ingest.road_network import RoadNetwork
from xunfang.plan.city_deploy import plan_incident_period
from xunfang.plan.city_plan import area_jobs, map_areas
from xunfang.simulate.runner import Comparison, held_out_warning, prepare, run_prepared
from xunfang.simulate.scenario import Scenario

__all__ = [
    "SimDistrictSummary",
    "district_scenario",
    "pooled_quantiles",
    "sim_totals",
    "simulate_city",
    "simulate_one_district",
    "summarise_comparison",
]

THRESHOLD_S = 180.0
"""The response-time standard of the summary, seconds (3 minutes)."""

_COUNTS = ("calls", "served", "within_3min", "response_s_sum")
PRIORITIES = range(1, 6)
"""Call priorities (1 most urgent), as the simulation table gives them."""


@dataclass(frozen=True)
class SimDistrictSummary:
    """One district's simulation in figures (one row of ``city_simulation_summary.csv``).

    Attributes
    ----------
    area
        Study area name.
    replications
        Replications run.
    counts
        Per variant (``stations``, ``booths``): ``calls``, ``served``, ``within_3min``
        (served with a response time <= 180 s), ``response_s_sum`` (seconds, served
        calls), ``busy_s`` and ``on_duty_s`` (all units' seconds busy on calls and on
        duty), and per priority ``k`` present ``p{k}_calls``, ``p{k}_served``,
        ``p{k}_within_3min``, ``p{k}_response_s_sum``; all over every replication.
    wall_time_s, cpu_time_s
        Seconds of the district's simulation on its worker (wall, CPU of that process).
    response_s, priority
        Per variant: the response time (seconds) and priority of every served call, every
        replication, in the order of the per-call tables (for pooled percentiles).
    month
        The simulated month (``YYYY-MM``).
    calls_source
        ``replay`` (the month's incidents replayed) or ``sample`` (drawn from a rate
        fitted to the training months).
    month_incidents, training_incidents
        Incidents of the month inside the district, and of the training months.
    seed
        The scenario's seed.
    plan_incidents_from, plan_incidents_to
        The period of the incidents the district's plan was made from (empty when the plan
        does not record it).
    held_out
        True when that period lies outside the simulated month, False when it overlaps it
        (the booths were placed knowing the month's incidents), None when unknown.
    """

    area: str
    replications: int
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time_s: float = float("nan")
    cpu_time_s: float = float("nan")
    response_s: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    priority: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    month: str = ""
    calls_source: str = ""
    month_incidents: int = 0
    training_incidents: int = 0
    seed: int | None = None
    plan_incidents_from: str = ""
    plan_incidents_to: str = ""
    held_out: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat dict: ``<variant>_<count>`` columns plus the variant's shares, means,
        percentiles and utilisation (no per-call arrays)."""
        out: dict[str, Any] = {"area": self.area, "replications": self.replications}
        for v, c in self.counts.items():
            out.update({f"{v}_{k}": x for k, x in c.items()})
            out.update(_rates(v, c))
            out.update(_percentiles(v, [self]))
        out["wall_time_s"] = self.wall_time_s
        out["cpu_time_s"] = self.cpu_time_s
        for key in (
            "month",
            "calls_source",
            "month_incidents",
            "training_incidents",
            "seed",
            "plan_incidents_from",
            "plan_incidents_to",
            "held_out",
        ):
            out[key] = getattr(self, key)
        return out


def _ratio(a: float, b: float, scale: float = 1.0) -> float:
    return a / b * scale if b else np.nan


def _rates(variant: str, c: dict[str, float]) -> dict[str, float]:
    """Shares, means (minutes) and utilisation of one variant's summed counts.

    ``mean_response_min`` is over the *served* calls only; ``unserved`` (calls never
    reached: no unit on duty or able to reach them before the month ends) and
    ``share_unserved`` stand beside it so that a mean over a few served calls is never
    read alone (an area with no station has every call unserved under ``stations``)."""
    out = {
        f"{variant}_share_within_3min": _ratio(c["within_3min"], c["calls"]),
        f"{variant}_mean_response_min": _ratio(c["response_s_sum"], c["served"], 1 / 60.0),
        f"{variant}_unserved": c["calls"] - c["served"],
        f"{variant}_share_unserved": _ratio(c["calls"] - c["served"], c["calls"]),
    }
    if "on_duty_s" in c:
        out[f"{variant}_utilisation"] = _ratio(c.get("busy_s", 0.0), c["on_duty_s"])
    for k in PRIORITIES:
        if f"p{k}_calls" in c:
            out[f"{variant}_p{k}_share_within_3min"] = _ratio(
                c.get(f"p{k}_within_3min", 0.0), c[f"p{k}_calls"]
            )
            out[f"{variant}_p{k}_mean_response_min"] = _ratio(
                c.get(f"p{k}_response_s_sum", 0.0), c.get(f"p{k}_served", 0.0), 1 / 60.0
            )
    return out


def pooled_quantiles(
    summaries: Sequence[SimDistrictSummary], variant: str, priority: int | None = None
) -> tuple[float, float]:
    """Median and 90th percentile (minutes) of the response times of the served calls of
    ``summaries`` pooled (every replication; of one ``priority`` when given), by numpy's
    default linear interpolation (as the district reports); nan when there are none or a
    summary lacks the per-call times."""
    parts = []
    for s in summaries:
        if variant not in s.counts:
            continue
        if variant not in s.response_s:
            return np.nan, np.nan
        r = s.response_s[variant]
        parts.append(r if priority is None else r[s.priority[variant] == priority])
    resp = np.concatenate(parts) if parts else np.empty(0)
    resp = resp[np.isfinite(resp)]
    if not resp.size:
        return np.nan, np.nan
    p50, p90 = np.quantile(resp, [0.5, 0.9])
    return float(p50) / 60.0, float(p90) / 60.0


def _percentiles(variant: str, summaries: Sequence[SimDistrictSummary]) -> dict[str, float]:
    out = {}
    p50, p90 = pooled_quantiles(summaries, variant)
    out[f"{variant}_response_p50_min"], out[f"{variant}_response_p90_min"] = p50, p90
    present = {
        k for s in summaries for k in PRIORITIES if f"p{k}_calls" in s.counts.get(variant, {})
    }
    for k in sorted(present):
        p50, p90 = pooled_quantiles(summaries, variant, k)
        out[f"{variant}_p{k}_response_p50_min"] = p50
        out[f"{variant}_p{k}_response_p90_min"] = p90
    return out


def summarise_comparison(
    cmp: Comparison, wall_time_s: float = float("nan"), cpu_time_s: float = float("nan")
) -> SimDistrictSummary:
    """The counts of one district's simulation (see :class:`SimDistrictSummary`)."""
    counts: dict[str, dict[str, float]] = {}
    response: dict[str, np.ndarray] = {}
    priority: dict[str, np.ndarray] = {}
    for v, calls in cmp.all_calls.items():
        served = calls[calls["served"].to_numpy(dtype=bool)]
        resp = served["response_s"].to_numpy(dtype=np.float64)
        prio = served["priority"].to_numpy(dtype=np.int64)
        units = cmp.all_units.get(v)
        c = {
            "calls": float(len(calls)),
            "served": float(len(served)),
            "within_3min": float((resp <= THRESHOLD_S).sum()),
            "response_s_sum": float(resp.sum()),
            "busy_s": float(units["busy_s"].sum()) if units is not None else 0.0,
            "on_duty_s": float(units["on_duty_s"].sum()) if units is not None else 0.0,
        }
        all_prio = calls["priority"].to_numpy(dtype=np.int64)
        for k in PRIORITIES:
            n = int((all_prio == k).sum())
            if not n:
                continue
            rk = resp[prio == k]
            c[f"p{k}_calls"] = float(n)
            c[f"p{k}_served"] = float(rk.size)
            c[f"p{k}_within_3min"] = float((rk <= THRESHOLD_S).sum())
            c[f"p{k}_response_s_sum"] = float(rk.sum())
        counts[v] = c
        response[v], priority[v] = resp, prio
    reps = len(next(iter(cmp.results.values())).summaries) if cmp.results else 0
    prep = cmp.prepared
    sc = prep.scenario
    span = None
    held: bool | None = None
    if sc.plan.sites_csv is not None:
        plan_dir = sc.path(sc.plan.sites_csv).parent
        span = plan_incident_period(plan_dir)
        held = None if span is None else not held_out_warning(plan_dir, prep.period)
    return SimDistrictSummary(
        area=prep.area.name,
        replications=reps,
        counts=counts,
        wall_time_s=wall_time_s,
        cpu_time_s=cpu_time_s,
        response_s=response,
        priority=priority,
        month=prep.period.label,
        calls_source=sc.calls.source,
        month_incidents=len(prep.incidents.heldout),
        training_incidents=len(prep.incidents.training),
        seed=sc.scenario.seed,
        plan_incidents_from=span[0] if span else "",
        plan_incidents_to=span[1] if span else "",
        held_out=held,
    )


def district_scenario(base: Scenario, area: str, sites_csv: Path) -> Scenario:
    """``base`` for one district: its area, its plan's ``sites.csv`` (absolute path) and
    the variants ``stations`` and ``booths`` of ``compare``."""
    compare = [v for v in base.scenario.compare if v != "deployment"] or ["stations"]
    return base.with_changes(
        scenario={"area": area, "name": f"{base.scenario.name}: {area}", "compare": compare},
        plan={"sites_csv": str(Path(sites_csv).absolute()), "booths": None},
    )


def simulate_one_district(
    scenario: Scenario,
    settings: Settings,
    city: City | None,
    replications: int | None,
    network: RoadNetwork | None,
) -> tuple[Comparison, SimDistrictSummary]:
    """One district's simulation (the task a worker runs)."""
    t0, c0 = time.perf_counter(), time.process_time()
    prep = prepare(scenario, settings, city=city, road_network=network)
    cmp = run_prepared(prep, replications=replications)
    return cmp, summarise_comparison(cmp, time.perf_counter() - t0, time.process_time() - c0)


def simulate_city(
    base: Scenario,
    folders: dict[str, Path],
    settings: Settings,
    *,
    city: City,
    replications: int | None = None,
    city_network: RoadNetwork | None = None,
    client: Any | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Comparison, SimDistrictSummary], None] | None = None,
    failed: dict[str, str] | None = None,
) -> list[SimDistrictSummary]:
    """Simulate every district of ``folders`` (area -> plan folder, see
    :func:`xunfang.plan.city_deploy.city_plan_folders`); summaries in its order.

    Parameters
    ----------
    base
        The scenario; area and plan replaced per district (:func:`district_scenario`).
    folders
        Area name -> its plan folder (``sites.csv``), a path the workers must see.
    settings
        Data and cache directories (the workers read the month's incident files from
        ``settings.data_dir``).
    city
        The city of the plans.
    replications
        Replaces the scenario's.
    city_network
        The city's network: each district's is cut from it here and shipped to its
        worker. None: each district builds its own (or reads it from the cache).
    client
        A ``dask.distributed.Client``; None runs here, one district after another.
    on_start, on_done
        Called with the area when its task starts, and with the comparison and its
        summary when it is done.
    failed
        When given, a district whose task fails with a :class:`~xunfang.errors.XunfangError`
        is recorded here (area -> message), its summary left out, and the others run.

    Raises
    ------
    The errors of a district's simulation pass through (the first one
    stops the rest) unless ``failed`` is given.
    """
    args = {
        name: (district_scenario(base, name, folder / "sites.csv"), settings, city, replications)
        for name, folder in folders.items()
    }
    results = map_areas(
        simulate_one_district,
        area_jobs(city, args, city_network),
        client=client,
        on_start=on_start,
        on_done=on_done,
        failed=failed,
    )
    return [results[a] for a in folders if a in results]


def sim_totals(summaries: Sequence[SimDistrictSummary]) -> dict[str, Any]:
    """City figures: per variant the sums of the districts' counts, with the shares within
    3 minutes, mean response times and utilisation recomputed from those sums, and the
    median and 90th percentile of the districts' served calls pooled
    (:func:`pooled_quantiles`)."""
    out: dict[str, Any] = {"districts": len(summaries)}
    variants = sorted({v for s in summaries for v in s.counts})
    for v in variants:
        keys = list(_COUNTS)
        keys += sorted({k for s in summaries for k in s.counts.get(v, {})} - set(_COUNTS))
        c = {
            k: float(sum(s.counts[v].get(k, 0.0) for s in summaries if v in s.counts)) for k in keys
        }
        out.update({f"{v}_{k}": c[k] for k in keys})
        out.update(_rates(v, c))
        out.update(_percentiles(v, summaries))
    out["wall_time_s_sum"] = float(sum(s.wall_time_s for s in summaries))
    out["cpu_time_s_sum"] = float(sum(s.cpu_time_s for s in summaries))
    return out
