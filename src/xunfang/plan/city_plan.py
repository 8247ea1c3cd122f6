"""Every district of a city at once: ingest once, plan the districts in parallel, sum up.

The incidents are ingested once by the caller and given to :func:`plan_city`, which runs
:func:`xunfang.plan.booth_plan.make_booth_plan` for every study area, either in this process one
after another or on a dask.distributed cluster (a ``LocalCluster`` or a scheduler at
``tcp://HOST:PORT``). On a cluster the incident table is scattered once to every worker
(``broadcast=True``) and the configurations travel with the tasks, so a worker needs the package
and the data directory's boundary, road and station files (a shared path named by
``Settings.data_dir``), not the incident files. Each finished district comes back as its
:class:`~xunfang.plan.booth_plan.BoothPlan` and a :class:`DistrictSummary`; the caller writes its
folder as it arrives (``on_done``) and lets it go, so the client holds one plan at a time.

The city figures (:func:`city_totals`) are plain sums of the districts' own figures: incidents,
stations, booths, incident weight within the coverage threshold before (stations alone) and
after (stations + MCLP booths); shares are recomputed from those sums.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from xunfang import strict_json
from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import IncidentTable
from xunfang.plan.booth_plan import BoothPlan, PlanConfig, make_booth_plan
from xunfang.units import WGS84, minutes_to_s

__all__ = [
    "DistrictSummary",
    "city_totals",
    "district_areas",
    "plan_city",
    "plan_one_district",
    "summarise_district",
    "write_city_summary",
]


@dataclass(frozen=True)
class DistrictSummary:
    """One district's plan in figures (one row of ``city_summary.csv``).

    Attributes
    ----------
    area
        Study area name, e.g. ``district:7``.
    incidents
        Incidents inside the area (of the chosen types).
    demand_weight
        Total demand weight (incident count, or forecast weight).
    stations, booths
        Fixed sites kept open; booths sited.
    covered_before, covered_after
        Demand weight within the threshold of a station alone / of a station or booth (MCLP).
    share_before, share_after
        The same as shares of ``demand_weight``.
    mean_before_s, mean_after_s
        Weighted mean travel time to the nearest site, seconds (reached demand only).
    gain_per_booth
        ``(covered_after - covered_before) / booths``: incidents brought within the threshold
        per extra booth (nan without booths).
    mclp_status, pmedian_status
        Solver status; ``pmedian_proven`` is True when the p-median gap is within its tolerance.
    pmedian_gap, pmedian_objective, pmedian_bound
        Relative gap, total weighted travel time (weight x s) and its proved lower bound.
    pmedian_time_s
        Seconds of the p-median search.
    wall_time_s
        Seconds of the district's whole plan on its worker.
    peak_rss_mib
        Peak resident memory of the process that planned it, MiB (``ru_maxrss``: the largest
        since that process started, so an upper bound of this district's own peak).
    lon, lat
        Area centroid, WGS-84 degrees (for the city map).
    """

    area: str
    incidents: int
    demand_weight: float
    stations: int
    booths: int
    covered_before: float
    covered_after: float
    share_before: float
    share_after: float
    mean_before_s: float
    mean_after_s: float
    gain_per_booth: float
    mclp_status: str
    pmedian_status: str
    pmedian_proven: bool
    pmedian_gap: float
    pmedian_objective: float
    pmedian_bound: float
    pmedian_time_s: float
    wall_time_s: float
    peak_rss_mib: float
    lon: float
    lat: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from nan)."""
        return asdict(self)


def district_areas(settings: Settings, spec: str, city: City | None = None) -> list[str]:
    """Study-area names of ``spec``: ``district:all`` (every polygon of the layer, e.g. all 22
    Chicago police districts) or ``KIND:A,B,C`` (each listed polygon, planned separately).

    Raises
    ------
    ValidationError
        If ``spec`` has no ``KIND:`` prefix or names nothing.
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not rest.strip():
        raise ValidationError(
            f"--area {spec!r}: give KIND:all or KIND:A,B (e.g. district:all, district:1,7)"
        )
    kind = kind.strip().lower()
    if rest.strip().lower() == "all":
        layer = (city or default_city(settings.data_dir)).layer(kind).read()
        names = sorted(
            (str(n) for n in layer["name"]), key=lambda n: n.zfill(6) if n.isdigit() else n
        )
    else:
        names = [n.strip() for n in rest.split(",") if n.strip()]
    return [f"{kind}:{n}" for n in names]


def summarise_district(plan: BoothPlan, wall_time_s: float = float("nan")) -> DistrictSummary:
    """The figures of one district's plan (see :class:`DistrictSummary`)."""
    thr = minutes_to_s(plan.config.threshold_min)
    w = plan.demand["weight"].to_numpy(dtype=np.float64)
    tt_before = plan.demand["tt_stations_s"].to_numpy(dtype=np.float64)
    tt_after = plan.demand["tt_plan_s"].to_numpy(dtype=np.float64)
    total = float(w.sum())
    before = float(w[tt_before <= thr].sum())
    after = float(w[tt_after <= thr].sum())

    def mean(tt: np.ndarray) -> float:
        ok = np.isfinite(tt)
        return float(np.average(tt[ok], weights=w[ok])) if w[ok].sum() > 0 else float("nan")

    n_booths = int((plan.sites["kind"] == "booth").sum())
    n_stations = int((plan.sites["kind"] == "station").sum())
    pm = plan.pmedian
    centre = plan.area.polygon.centroid
    lon, lat = Transformer.from_crs(plan.area.crs, WGS84, always_xy=True).transform(
        centre.x, centre.y
    )
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mib = rss_kib / (2**20 if sys.platform == "darwin" else 2**10)
    return DistrictSummary(
        area=plan.config.area or plan.area.name,
        incidents=len(plan.incidents),
        demand_weight=total,
        stations=n_stations,
        booths=n_booths,
        covered_before=before,
        covered_after=after,
        share_before=before / total if total else float("nan"),
        share_after=after / total if total else float("nan"),
        mean_before_s=mean(tt_before),
        mean_after_s=mean(tt_after),
        gain_per_booth=(after - before) / n_booths if n_booths else float("nan"),
        mclp_status=plan.mclp.status,
        pmedian_status=pm.status if pm is not None else "not run",
        pmedian_proven=pm is not None and pm.status == "optimal",
        pmedian_gap=pm.mip_gap if pm is not None else float("nan"),
        pmedian_objective=pm.objective if pm is not None else float("nan"),
        pmedian_bound=pm.objective_bound if pm is not None else float("nan"),
        pmedian_time_s=pm.solve_time_s if pm is not None else float("nan"),
        wall_time_s=wall_time_s,
        peak_rss_mib=float(rss_mib),
        lon=float(lon),
        lat=float(lat),
    )


def plan_one_district(
    config: PlanConfig, settings: Settings, incidents: IncidentTable
) -> tuple[BoothPlan, DistrictSummary]:
    """Plan one district from the city's ingested incidents (the task a worker runs)."""
    t0 = time.perf_counter()
    plan = make_booth_plan(config, settings, incidents=incidents)
    return plan, summarise_district(plan, time.perf_counter() - t0)


def plan_city(
    base: PlanConfig,
    areas: Sequence[str],
    settings: Settings,
    incidents: IncidentTable,
    *,
    client: Any | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[BoothPlan, DistrictSummary], None] | None = None,
) -> list[DistrictSummary]:
    """Plan every area of ``areas`` with the options of ``base``; summaries in ``areas`` order.

    Parameters
    ----------
    base
        Options shared by every district (its ``area`` is replaced by each of ``areas``).
    areas
        Study-area names (see :func:`district_areas`).
    settings
        Data and cache directories; on a cluster the workers read the boundary, road and
        station files from ``settings.data_dir`` (a path they must see).
    incidents
        The city's ingested incidents (one table for every district).
    client
        A ``dask.distributed.Client``; None plans the districts here, one after another.
    on_start, on_done
        Called with the area name when its task is submitted (or started, in process), and
        with the plan and its summary when it is done (in order of completion on a cluster).

    Raises
    ------
    ValidationError
        If ``areas`` is empty or names an area twice; the errors of a district's plan pass
        through (the first one stops the city plan).
    """
    if not areas:
        raise ValidationError("no areas to plan")
    dupes = sorted({a for a in areas if list(areas).count(a) > 1})
    if dupes:
        raise ValidationError(f"areas named more than once: {dupes}")
    city = base.city or default_city(settings.data_dir)
    for name in areas:  # fail fast on a bad name, before any worker starts
        city.study_area(name, crs=base.crs)
    configs = [(name, replace(base, area=name)) for name in areas]
    out: dict[str, DistrictSummary] = {}
    if client is None:
        for name, cfg in configs:
            if on_start:
                on_start(name)
            plan, summary = plan_one_district(cfg, settings, incidents)
            out[name] = summary
            if on_done:
                on_done(plan, summary)
            del plan
        return [out[a] for a in areas]

    from distributed import as_completed

    shared = client.scatter(incidents, broadcast=True)
    futures = {}
    for name, cfg in configs:
        fut = client.submit(plan_one_district, cfg, settings, shared, pure=False, key=None)
        futures[fut] = name
        if on_start:
            on_start(name)
    for fut in as_completed(list(futures)):
        plan, summary = fut.result()
        out[futures[fut]] = summary
        if on_done:
            on_done(plan, summary)
        del plan
        fut.release()
    return [out[a] for a in areas]


def city_totals(summaries: Sequence[DistrictSummary]) -> dict[str, Any]:
    """City figures as sums of the districts' own figures (shares from those sums)."""
    incidents = sum(s.incidents for s in summaries)
    weight = float(sum(s.demand_weight for s in summaries))
    before = float(sum(s.covered_before for s in summaries))
    after = float(sum(s.covered_after for s in summaries))
    booths = sum(s.booths for s in summaries)
    return {
        "districts": len(summaries),
        "incidents": incidents,
        "demand_weight": weight,
        "stations": sum(s.stations for s in summaries),
        "booths": booths,
        "covered_before": before,
        "covered_after": after,
        "share_before": before / weight if weight else float("nan"),
        "share_after": after / weight if weight else float("nan"),
        "gain_per_booth": (after - before) / booths if booths else float("nan"),
        "pmedian_proven": sum(1 for s in summaries if s.pmedian_proven),
        "pmedian_max_gap": max((s.pmedian_gap for s in summaries), default=float("nan")),
        "wall_time_s_sum": float(sum(s.wall_time_s for s in summaries)),
        "peak_rss_mib_max": max((s.peak_rss_mib for s in summaries), default=float("nan")),
    }


def write_city_summary(summaries: Sequence[DistrictSummary], out_dir: Path) -> dict[str, Path]:
    """``city_summary.csv`` (one row per district) and ``city_summary.json`` (rows + totals)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([s.to_dict() for s in summaries])
    csv_path = out_dir / "city_summary.csv"
    frame.to_csv(csv_path, index=False)
    json_path = out_dir / "city_summary.json"

    payload = {
        "totals": city_totals(summaries),
        "districts": [s.to_dict() for s in summaries],
    }
    json_path.write_text(strict_json.dumps(payload, indent=2), encoding="utf-8")
    return {"city_summary.csv": csv_path, "city_summary.json": json_path}
