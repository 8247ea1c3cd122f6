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
replications: calls, served calls, calls answered within 3 minutes and the sum of the
response times of served calls, per variant; shares and means are recomputed from the sums.
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
from xunfang.plan.city_plan import area_jobs, map_areas
from xunfang.simulate.runner import Comparison, prepare, run_prepared
from xunfang.simulate.scenario import Scenario

__all__ = [
    "SimDistrictSummary",
    "district_scenario",
    "sim_totals",
    "simulate_city",
    "simulate_one_district",
    "summarise_comparison",
]

THRESHOLD_S = 180.0
"""The response-time standard of the summary, seconds (3 minutes)."""

_COUNTS = ("calls", "served", "within_3min", "response_s_sum")


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
        (served with a response time <= 180 s) and ``response_s_sum`` (seconds, served
        calls), over all replications.
    wall_time_s, cpu_time_s
        Seconds of the district's simulation on its worker (wall, CPU of that process).
    """

    area: str
    replications: int
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time_s: float = float("nan")
    cpu_time_s: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Flat dict: ``<variant>_<count>`` columns plus the variant's shares and means."""
        out: dict[str, Any] = {"area": self.area, "replications": self.replications}
        for v, c in self.counts.items():
            out.update({f"{v}_{k}": c[k] for k in _COUNTS})
            out.update(_rates(v, c))
        out["wall_time_s"] = self.wall_time_s
        out["cpu_time_s"] = self.cpu_time_s
        return out


def _rates(variant: str, c: dict[str, float]) -> dict[str, float]:
    served = c["served"]
    return {
        f"{variant}_share_within_3min": c["within_3min"] / c["calls"] if c["calls"] else np.nan,
        f"{variant}_mean_response_min": c["response_s_sum"] / served / 60.0 if served else np.nan,
    }


def summarise_comparison(
    cmp: Comparison, wall_time_s: float = float("nan"), cpu_time_s: float = float("nan")
) -> SimDistrictSummary:
    """The counts of one district's simulation (see :class:`SimDistrictSummary`)."""
    counts: dict[str, dict[str, float]] = {}
    for v, calls in cmp.all_calls.items():
        served = calls[calls["served"].to_numpy(dtype=bool)]
        resp = served["response_s"].to_numpy(dtype=np.float64)
        counts[v] = {
            "calls": float(len(calls)),
            "served": float(len(served)),
            "within_3min": float((resp <= THRESHOLD_S).sum()),
            "response_s_sum": float(resp.sum()),
        }
    reps = len(next(iter(cmp.results.values())).summaries) if cmp.results else 0
    return SimDistrictSummary(
        area=cmp.prepared.area.name,
        replications=reps,
        counts=counts,
        wall_time_s=wall_time_s,
        cpu_time_s=cpu_time_s,
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

    Raises
    ------
    The errors of a district's simulation pass through (the first one stops the rest).
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
    )
    return [results[a] for a in folders]


def sim_totals(summaries: Sequence[SimDistrictSummary]) -> dict[str, Any]:
    """City figures: per variant the sums of the districts' counts, with the share within
    3 minutes and the mean response time recomputed from those sums."""
    out: dict[str, Any] = {"districts": len(summaries)}
    variants = sorted({v for s in summaries for v in s.counts})
    for v in variants:
        c = {k: float(sum(s.counts[v][k] for s in summaries if v in s.counts)) for k in _COUNTS}
        out.update({f"{v}_{k}": c[k] for k in _COUNTS})
        out.update(_rates(v, c))
    out["wall_time_s_sum"] = float(sum(s.wall_time_s for s in summaries))
    out["cpu_time_s_sum"] = float(sum(s.cpu_time_s for s in summaries))
    return out
