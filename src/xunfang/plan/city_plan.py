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

import functools
import re
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from xunfang import strict_json
from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError, XunfangError
from xunfang.ingest.areas import same_area_name
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import IncidentTable
from xunfang.ingest.road_network import RoadNetwork
from xunfang.outputs import OUTPUT_MARKERS, write_text_atomic
from xunfang.plan.booth_plan import BoothPlan, PlanConfig, make_booth_plan
from xunfang.units import WGS84, minutes_to_s

__all__ = [
    "CITY_CURVE_TIME_S",
    "NO_AREA_ROW",
    "AreaJob",
    "DistrictSummary",
    "StationsOutside",
    "TaskFailed",
    "area_folder",
    "area_jobs",
    "catching_failure",
    "city_network",
    "city_totals",
    "distinct_stations",
    "district_areas",
    "incidents_in_no_area",
    "largest_first",
    "map_areas",
    "plan_city",
    "plan_one_district",
    "plan_rendered_district",
    "summarise_district",
    "write_city_summary",
    "write_summary_tables",
]


CITY_CURVE_TIME_S = 0.0
"""Wall seconds of each district's trade-off curve in a city plan after which it runs no more
branch and bound (``DecisionConfig.curve_time_s``; the command line's default for a city, one
area's plan gets 40): none. The curve's heuristics and LP bounds give every point with its
gap, and branch and bound rarely improves one. Measured on the example city's districts 9,
12, 22 and 4 (K = 0..54, 2026-12-02): a 5 s budget took 2.0-3.0 s more CPU per district
(8.8 against 6.6 s, 9.1 / 7.0, 6.7 / 4.4, 8.9 / 5.9) and left every point's status and gap
as without it (7, 8, 9 and 8 of 55 points proven optimal, the largest gaps 0.45-0.67 %).
Over the whole city (22 districts, 1,210 points), the run without it against the run with
5 s the same morning: 8 points differ, in districts 14, 15, 19 and 6: 7 shares lower by at
most 0.07 percentage points, one 0.22 higher, and the gaps by at most 0.07 points.
Before, on districts 1, 4, 8, 11 and 20 a 5 s budget changed the points of district 1 only
(2 more proven optimal, 3 shares up by at most 0.012 percentage points); 35-47 s of CPU of
branch and bound left the points not proven optimal at 37, 47, 35 and 43 in districts 10,
4, 6 and 25, and took them from 37 to 31 in district 11 and from 21 to 4 in district 1. Each
point of ``tradeoff.csv`` states its status and gap, and ``plan_summary.json`` the budget."""


@dataclass(frozen=True)
class StationsOutside:
    """The stations of a stations file that lie outside every area of a city run (farther
    than ``buffer_m`` from each, so in no district's plan:
    :meth:`xunfang.ingest.city.City.stations_outside`), as the city summary and report
    name them.

    Attributes
    ----------
    source
        The stations file's name.
    buffer_m
        How far outside an area a station may lie and still be in its plan, metres.
    stations
        One dict per station, in the order of the file: ``name``, ``source_row`` (its row
        in the file) and ``distance_m`` (to the nearest area, metres, to 0.1 m).
    """

    source: str
    buffer_m: float
    stations: tuple[dict[str, Any], ...]

    @classmethod
    def from_frame(cls, outside: Any, source: str, buffer_m: float) -> StationsOutside:
        """From the frame :meth:`xunfang.ingest.city.City.stations_outside` returns
        (``name``, ``source_row``, ``distance_m``)."""
        rows = tuple(
            {"name": str(n), "source_row": int(r), "distance_m": round(float(d), 1)}
            for n, r, d in zip(
                outside["name"], outside["source_row"], outside["distance_m"], strict=True
            )
        )
        return cls(source=str(source), buffer_m=float(buffer_m), stations=rows)

    def to_dict(self) -> dict[str, Any]:
        """``source``, ``buffer_m`` and ``stations`` (as in ``city_summary.json``)."""
        return {
            "source": self.source,
            "buffer_m": self.buffer_m,
            "stations": [dict(r) for r in self.stations],
        }


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
    wall_time_s, cpu_time_s
        Seconds of the district's whole plan on its worker (wall; CPU of that process,
        all its threads).
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
    cpu_time_s: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from nan)."""
        return asdict(self)


def area_folder(area: str) -> str:
    """The folder of an area's outputs inside the city folder (``district:7`` ->
    ``district_7``, ``boundary:polygon 1`` -> ``boundary_polygon_1``: no spaces, colons
    or path separators)."""
    return re.sub(r"[\s:/\\]+", "_", area.strip())


def district_areas(settings: Settings, spec: str, city: City | None = None) -> list[str]:
    """Study-area names of ``spec``: ``district:all`` (every polygon of the layer, e.g. all 22
    police districts of the example city), ``all`` (every polygon of the city's first layer: with
    ``--boundary FILE`` that is ``boundary:all``) or ``KIND:A,B,C`` (each listed polygon,
    planned separately).

    Raises
    ------
    ValidationError
        If ``spec`` has no ``KIND:`` prefix, names nothing, or names a polygon the layer does
        not have (checked before anything is read but the layer).
    """
    the_city = city or default_city(settings.data_dir)
    if spec.strip().lower() == "all":  # every polygon of the first (default) layer
        spec = f"{the_city.boundaries[0].kind}:all"
    kind, sep, rest = spec.partition(":")
    if not sep or not rest.strip():
        raise ValidationError(
            f"--area {spec!r}: give KIND:all or KIND:A,B (e.g. district:all, district:1,7)"
        )
    kind = kind.strip().lower()
    layer = the_city.layer(kind).read()
    known = sorted((str(n) for n in layer["name"]), key=lambda n: n.zfill(6) if n.isdigit() else n)
    if rest.strip().lower() == "all":
        names = known
    else:  # "district:1,18" or "district:1,district:18"
        names = [n.strip().removeprefix(f"{kind}:") for n in rest.split(",") if n.strip()]
        unknown = [n for n in names if not any(same_area_name(n, k) for k in known)]
        if unknown:  # before the incidents and the city's network are read
            raise ValidationError(
                f"--area {spec!r}: no {kind} named {', '.join(unknown)}; the {kind} layer has "
                f"{', '.join(known[:40])}{' ...' if len(known) > 40 else ''}"
            )
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
    config: PlanConfig,
    settings: Settings,
    incidents: IncidentTable,
    network: RoadNetwork | None = None,
) -> tuple[BoothPlan, DistrictSummary]:
    """Plan one district from the city's ingested incidents and, when given, its network
    cut from the city's (the task a worker runs)."""
    t0, c0 = time.perf_counter(), time.process_time()
    plan = make_booth_plan(config, settings, incidents=incidents, network=network)
    summary = summarise_district(plan, time.perf_counter() - t0)
    return plan, replace(summary, cpu_time_s=time.process_time() - c0)


def plan_rendered_district(
    render: Callable[[BoothPlan], Any],
    config: PlanConfig,
    settings: Settings,
    incidents: IncidentTable,
    network: RoadNetwork | None = None,
) -> tuple[Any, DistrictSummary]:
    """:func:`plan_one_district`, then ``render(plan)`` where the plan was made (a worker):
    the render and the summary come back instead of the whole plan."""
    plan, summary = plan_one_district(config, settings, incidents, network)
    return render(plan), summary


def plan_city(
    base: PlanConfig,
    areas: Sequence[str],
    settings: Settings,
    incidents: IncidentTable,
    *,
    client: Any | None = None,
    city_network: RoadNetwork | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Any, DistrictSummary], None] | None = None,
    render: Callable[[BoothPlan], Any] | None = None,
    failed: dict[str, str] | None = None,
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
    city_network
        The whole city's road network (:func:`city_network`): each district's network is
        cut from it here (:meth:`xunfang.ingest.city.City.road_network` with ``within``)
        and only that cut is shipped to its worker. None: each district builds its own
        network (or reads it from ``settings.cache_dir``).
    on_start, on_done
        Called with the area name when its task is submitted (or started, in process), and
        with the plan (or its ``render``) and its summary when it is done (in order of
        completion on a cluster).
    render
        Run on the plan where it was made (e.g. the text of the district's output files,
        :func:`xunfang.serve.report.render_plan_files`, and its outline): what ``on_done``
        gets instead of the plan, so that the client neither receives whole plans nor renders
        their reports (a picklable function on a cluster). None: the plan itself.
    failed
        When given, a district whose plan fails with a :class:`~xunfang.errors.XunfangError`
        (e.g. no incidents inside it) is recorded here (area -> message) and the others
        are planned; its summary is missing from the list. None: the first error stops
        the city plan.

    Raises
    ------
    ValidationError
        If ``areas`` is empty or names an area twice; the errors of a district's plan pass
        through unless ``failed`` is given.
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

    results = map_areas(
        plan_one_district if render is None else functools.partial(plan_rendered_district, render),
        area_jobs(city, {name: (cfg, settings) for name, cfg in configs}, city_network, base.crs),
        shared=(incidents,),
        client=client,
        on_start=on_start,
        on_done=on_done,
        failed=failed,
    )
    return [results[a] for a in areas if a in results]


@dataclass(frozen=True)
class AreaJob:
    """One area's task for :func:`map_areas`: ``fn(*args, *shared, *data())``.

    Attributes
    ----------
    area
        The area's name (the key of the results).
    args
        Small arguments (configurations, paths) that travel with the task.
    data
        Makes the area's large arguments (e.g. its network cut from the city's), called
        just before the task is submitted; on a cluster they are scattered to the worker
        that runs the task, so the client holds one area's at a time.
    size
        Estimated work: on a cluster the jobs start largest first.
    """

    area: str
    args: tuple[Any, ...]
    data: Callable[[], tuple[Any, ...]] = tuple
    size: float = 0.0
    """Estimated work (any unit, the same for every job; e.g. the road nodes of the area):
    on a cluster the largest jobs start first."""


def area_jobs(
    city: City,
    args: dict[str, tuple[Any, ...]],
    city_network: RoadNetwork | None,
    crs: Any = None,
) -> list[AreaJob]:
    """One :class:`AreaJob` per area of ``args`` (area -> its small arguments) whose large
    argument is the area's network cut from ``city_network`` when it is given (else None:
    the task builds its own or reads it from the cache).

    Each job's ``size`` is the number of ``city_network`` nodes inside the area (the
    travel-time matrix, the covering models and the sectors grow with it), or without a city
    network the area's km²."""

    def cut(name: str) -> tuple[RoadNetwork | None]:
        if city_network is None:
            return (None,)
        return (city.road_network(city.study_area(name, crs=crs), within=city_network),)

    def size(name: str) -> float:
        if city_network is None:
            return float(city.study_area(name, crs=crs).area_km2)
        area = city.study_area(name, crs=city_network.crs)
        xy = city_network.node_xy
        return float(shapely.contains_xy(area.polygon, xy[:, 0], xy[:, 1]).sum())

    return [AreaJob(name, a, functools.partial(cut, name), size(name)) for name, a in args.items()]


def largest_first(jobs: Sequence[AreaJob]) -> list[AreaJob]:
    """The jobs by decreasing ``size``, ties in their given order: the longest-processing-
    time-first list schedule (Graham, R. L. (1969), "Bounds on multiprocessing timing
    anomalies", *SIAM J. Appl. Math.* 17, 416-429: at most 4/3 - 1/(3m) of the optimal
    makespan on m workers), so that a big district does not start last and run alone."""
    return sorted(jobs, key=lambda j: -j.size)


@dataclass(frozen=True)
class TaskFailed:
    """A task's :class:`~xunfang.errors.XunfangError`, returned by the task instead of
    raised (:func:`catching_failure`), so that a district the run reports as failed does
    not also log an error and traceback on its dask worker."""

    message: str


def catching_failure(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or :class:`TaskFailed` with the message of its
    :class:`~xunfang.errors.XunfangError` (other errors pass through)."""
    try:
        return fn(*args)
    except XunfangError as exc:
        return TaskFailed(str(exc))


def map_areas(
    fn: Callable[..., Any],
    jobs: Sequence[AreaJob],
    *,
    shared: tuple[Any, ...] = (),
    client: Any | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Any, Any], None] | None = None,
    failed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``fn(*job.args, *shared, *job.data())`` for every job, in this process one after
    another (``client`` None) or on a dask.distributed cluster (the city plan, deploy and
    simulation share it). ``fn`` returns a pair ``(full result, summary)``.

    On a cluster ``shared`` (e.g. the city's incident table) is scattered once to every
    worker (``broadcast=True``). The jobs start largest first (:func:`largest_first`), one
    per worker thread: a job is submitted when a thread is free, its ``data`` scattered to
    that thread's worker and the task placed there (it may move if the worker is lost), so
    the order holds and the client makes one job's data at a time. The results come back
    in order of completion. ``on_done(full, summary)`` sees each pair (e.g. to write a
    district's folder); only the summary is kept, so the client holds one full result at
    a time.

    Returns
    -------
    dict
        Area name -> summary (of the jobs that did not fail).

    Raises
    ------
    The first error of a task passes through (and stops the rest), unless ``failed`` is
    given: then a task's :class:`~xunfang.errors.XunfangError` is recorded there (area ->
    message) and the other jobs run (on a cluster the task returns it,
    :func:`catching_failure`, so the worker logs no error for it). XunfangError when every
    worker has left the cluster before all jobs started.
    """
    out: dict[str, Any] = {}
    if client is None:
        for job in jobs:
            if on_start:
                on_start(job.area)
            try:
                full, summary = fn(*job.args, *shared, *job.data())
            except XunfangError as exc:
                if failed is None:
                    raise
                failed[job.area] = str(exc)
                continue
            out[job.area] = summary
            if on_done:
                on_done(full, summary)
            del full
        return out

    from distributed import as_completed

    # hash=False: a random key instead of dask's token of the data, which pickled the whole
    # incident table and each district's network once more on the client (0.4 s of CPU for
    # the example city's district 8 network alone)
    shared_futures = [client.scatter(x, broadcast=True, hash=False) for x in shared]
    client.wait_for_workers(1)
    waiting = largest_first(jobs)
    running: dict[Any, tuple[str, str]] = {}  # future -> (area, worker)
    busy: dict[str, int] = {}  # worker -> its tasks running

    def free_threads() -> list[str]:
        """A worker's address once per thread without a task (workers that joined count,
        lost ones do not)."""
        workers = client.scheduler_info(n_workers=-1)["workers"]
        return [
            addr
            for addr, info in sorted(workers.items())
            for _ in range(max(int(info.get("nthreads", 1)), 1) - busy.get(addr, 0))
        ]

    def submit(addr: str) -> Any:
        job = waiting.pop(0)
        data = [
            None if x is None else client.scatter(x, workers=[addr], hash=False) for x in job.data()
        ]
        head = (fn,) if failed is None else (catching_failure, fn)
        fut = client.submit(
            *head,
            *job.args,
            *shared_futures,
            *data,
            pure=False,
            workers=[addr],
            allow_other_workers=True,
        )
        running[fut] = (job.area, addr)
        busy[addr] = busy.get(addr, 0) + 1
        if on_start:
            on_start(job.area)
        return fut

    queue = as_completed([submit(addr) for addr in free_threads()[: len(waiting)]])
    for fut in queue:
        area, addr = running.pop(fut)
        busy[addr] -= 1
        for free in free_threads()[: len(waiting)]:  # the next largest jobs
            queue.add(submit(free))
        try:
            result = fut.result()
        except XunfangError as exc:
            if failed is None:
                raise
            result = TaskFailed(str(exc))
        if isinstance(result, TaskFailed):
            assert failed is not None  # only the catching task returns it
            failed[area] = result.message
            fut.release()
            continue
        full, summary = result
        out[area] = summary
        if on_done:
            on_done(full, summary)
        del full
        fut.release()
    if waiting:  # every worker left the cluster with jobs still to start
        raise XunfangError(
            f"the cluster has no workers left; not planned: {', '.join(j.area for j in waiting)}"
        )
    return out


def city_network(
    settings: Settings,
    city: City | None,
    first_area: str,
    *,
    crs: Any = None,
    stitch_threshold_m: float | None = None,
    same_name_threshold_m: float | None = None,
) -> tuple[RoadNetwork, str]:
    """The whole city's road network in the CRS of ``first_area`` (or ``crs``), built once
    or read from ``settings.cache_dir`` (the districts of a city plan, deploy or
    simulation are cut from it), and how it was had (``loaded``, ``built``, ``rebuilt``:
    see :func:`xunfang.ingest.network_cache.cached_network`).

    Raises
    ------
    ValidationError
        If a road file is missing; the errors of the road readers pass through.
    """
    the_city = city or default_city(settings.data_dir)
    area_crs = the_city.study_area(first_area, crs=crs).crs
    return the_city.cached_road_network(
        the_city.study_area("city", crs=area_crs),
        stitch_threshold_m=stitch_threshold_m,
        same_name_threshold_m=same_name_threshold_m,
        cache_dir=settings.cache_dir,
    )


NO_AREA_ROW = "(in no area)"
"""The ``area`` of the row of ``city_summary.csv`` that counts the incidents inside no
district (its ``incidents``; the other columns empty)."""


def incidents_in_no_area(
    incidents: IncidentTable, city: City, areas: Sequence[str], crs: Any = None
) -> int:
    """How many of ``incidents`` lie inside none of ``areas``' polygons (so in no district's
    plan), by the rule a district's plan picks its incidents
    (:func:`xunfang.plan.booth_plan.make_booth_plan`: ``shapely.contains_xy`` of the area's
    polygon on the incidents' positions projected to the area's CRS; a point on an
    outline is in no area).

    Parameters
    ----------
    incidents
        The city's incidents (any projected CRS; their lon/lat are reprojected per area).
    city
        The city whose boundary layers hold ``areas``.
    areas
        Study-area names.
    crs
        The CRS override of the areas (``PlanConfig.crs``), None for each area's own.
    """
    if not len(incidents):
        return 0
    in_some = np.zeros(len(incidents), dtype=bool)
    for name in areas:
        area = city.study_area(name, crs=crs)
        table = incidents if incidents.crs == area.crs else incidents.reproject(area.crs)
        in_some |= shapely.contains_xy(
            area.polygon, table.frame["x_m"].to_numpy(), table.frame["y_m"].to_numpy()
        )
    return int((~in_some).sum())


def city_totals(
    summaries: Sequence[DistrictSummary],
    *,
    incidents_total: int | None = None,
    incidents_in_no_area: int | None = None,
    stations_distinct: int | None = None,
) -> dict[str, Any]:
    """City figures as sums of the districts' own figures (shares from those sums).

    ``incidents_total`` (every incident ingested for the city) and ``incidents_in_no_area``
    (those inside no district, :func:`incidents_in_no_area`), when given, are added as
    they are: the districts' ``incidents`` do not count the latter. ``stations_distinct``
    (:func:`distinct_stations`), when given, is the number of different stations: a
    station that serves two districts counts once there and twice in ``stations``."""
    incidents = sum(s.incidents for s in summaries)
    weight = float(sum(s.demand_weight for s in summaries))
    before = float(sum(s.covered_before for s in summaries))
    after = float(sum(s.covered_after for s in summaries))
    booths = sum(s.booths for s in summaries)
    out: dict[str, Any] = {
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
        # proven optimal, or stopped within the plan's --pmedian-gap with the bound stated
        "pmedian_within_gap": sum(
            1 for s in summaries if s.pmedian_proven or s.pmedian_status == "within_gap"
        ),
        "pmedian_max_gap": max((s.pmedian_gap for s in summaries), default=float("nan")),
        "wall_time_s_sum": float(sum(s.wall_time_s for s in summaries)),
        "cpu_time_s_sum": float(sum(s.cpu_time_s for s in summaries)),
        "peak_rss_mib_max": max((s.peak_rss_mib for s in summaries), default=float("nan")),
    }
    if incidents_total is not None:
        out["incidents_total"] = int(incidents_total)
    if incidents_in_no_area is not None:
        out["incidents_in_no_area"] = int(incidents_in_no_area)
    if stations_distinct is not None:
        out["stations_distinct"] = int(stations_distinct)
    return out


def distinct_stations(sites_files: Sequence[Path]) -> int:
    """The number of different stations in the districts' ``sites.csv`` files: rows of
    ``kind`` ``station``, one per (``name``, ``lon``, ``lat`` to 1e-6 degree), so a station
    listed by two districts (it serves both) counts once.

    Raises
    ------
    DataFileError
        If a file cannot be read or lacks one of those columns.
    """
    seen: set[tuple[str, float, float]] = set()
    for path in sites_files:
        try:
            sites = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
            rows = sites[sites["kind"] == "station"]
            seen.update(
                (str(n), round(float(x), 6), round(float(y), 6))
                for n, x, y in zip(rows["name"], rows["lon"], rows["lat"], strict=True)
            )
        except (OSError, KeyError, ValueError) as exc:
            raise DataFileError(path, f"cannot count its stations: {exc}") from exc
    return len(seen)


def write_city_summary(
    summaries: Sequence[DistrictSummary],
    out_dir: Path,
    failed: Mapping[str, str] | None = None,
    output_frame: str = "wgs84",
    earlier_folders: Sequence[str] = (),
    stations_outside: StationsOutside | None = None,
    **counts: int | None,
) -> dict[str, Path]:
    """``city_summary.csv`` (one row per district) and ``city_summary.json`` (rows + totals),
    with the districts that ``failed`` (area -> reason) listed; ``counts`` are the keywords
    of :func:`city_totals` (``incidents_total``, ``incidents_in_no_area``).

    Each district's ``lon``/``lat`` (a point inside it) is written in ``output_frame``
    (``wgs84``, ``gcj02`` or ``bd09``, as the district's own files;
    :func:`xunfang.ingest.coords.to_output_frame`), named by a ``coord_frame`` column as
    in ``sites.csv``. ``earlier_folders`` (:func:`earlier_run_folders`) are listed under
    ``earlier_run_folders`` in the JSON, and the stations in no district's plan
    (``stations_outside``, when it names any) under ``stations_outside_areas``
    (:meth:`StationsOutside.to_dict`).

    Raises
    ------
    ValidationError
        For an unknown ``output_frame``.
    """
    from xunfang.ingest.coords import to_output_frame

    totals = city_totals(summaries, **counts)
    no_area = totals.get("incidents_in_no_area")
    rows = [s.to_dict() for s in summaries]
    if rows:
        lon, lat = to_output_frame([r["lon"] for r in rows], [r["lat"] for r in rows], output_frame)
        for r, x, y in zip(rows, lon, lat, strict=True):
            r.update(lon=float(x), lat=float(y), coord_frame=output_frame)
    return write_summary_tables(
        rows,
        totals,
        out_dir,
        "city_summary",
        failed=failed,
        csv_extra=[] if no_area is None else [{"area": NO_AREA_ROW, "incidents": no_area}],
        earlier_folders=earlier_folders,
        json_extra=(
            {"stations_outside_areas": stations_outside.to_dict()}
            if stations_outside is not None and stations_outside.stations
            else {}
        ),
    )


DISTRICT_OUTPUT_FILES = ("report.html", *OUTPUT_MARKERS)
"""Files that make a subfolder of a city run's folder a district's output (its
``report.html``, or a file only one command writes: ``plan_summary.json``, ...)."""


def earlier_run_folders(out_dir: Path, stem: str, written: Sequence[str]) -> list[str]:
    """The subfolders of a city run's folder ``out_dir`` that this run does not write:
    district folders left by an earlier run into the same folder (e.g. one of more
    districts, or a district that failed this time), which would otherwise read as this
    run's. Nothing is removed.

    A subfolder counts when its name is not in ``written`` and either the previous
    ``<stem>.json`` in ``out_dir`` (read before this run overwrites it) names it as one of
    its districts (done, ``failed`` or ``plan_failed``), or it holds one of
    :data:`DISTRICT_OUTPUT_FILES`.

    Parameters
    ----------
    out_dir
        The city run's output folder.
    stem
        Its summary's name without suffix (``city_summary``, ``city_deploy_summary``,
        ``city_simulation_summary``).
    written
        This run's district folder names (:func:`area_folder` of each district done).

    Returns
    -------
    list of str
        Folder names, sorted (empty for a new folder).
    """
    folder = Path(out_dir)
    if not folder.is_dir():
        return []
    recorded: set[str] = set()
    try:
        previous = strict_json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none, or unreadable: the files still tell
        previous = {}
    if isinstance(previous, dict):
        for key in ("districts", "failed", "plan_failed"):
            for row in previous.get(key) or ():
                if isinstance(row, dict) and isinstance(row.get("area"), str):
                    recorded.add(area_folder(row["area"]))
    mine = set(written)
    return sorted(
        d.name
        for d in folder.iterdir()
        if d.is_dir()
        and d.name not in mine
        and (d.name in recorded or any((d / f).is_file() for f in DISTRICT_OUTPUT_FILES))
    )


def write_summary_tables(
    rows: Sequence[dict[str, Any]],
    totals: dict[str, Any],
    out_dir: Path,
    stem: str,
    *,
    failed: Mapping[str, str] | None = None,
    csv_extra: Sequence[dict[str, Any]] = (),
    plan_failed: Mapping[str, str] | None = None,
    earlier_folders: Sequence[str] = (),
    json_extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """``<stem>.csv`` (one row per district) and ``<stem>.json`` (``totals`` and the rows;
    nan written as null): the summary files of the city plan, deploy and simulation.
    ``json_extra`` are more keys of the JSON, written last.

    ``earlier_folders`` (:func:`earlier_run_folders`) are listed under
    ``earlier_run_folders`` in the JSON: subfolders of ``out_dir`` left by an earlier run,
    not this run's output.

    The districts that ``failed`` (area -> reason) are listed under ``failed`` in the JSON
    (``districts`` holds those done) and as rows of the CSV with only ``area`` and
    ``failed`` (the reason; empty on the other rows) filled. ``csv_extra`` are rows added
    last to the CSV only (e.g. the incidents in no district, :data:`NO_AREA_ROW`).
    ``plan_failed`` (area -> reason; for the city deploy and simulation) are the districts
    the city plan itself failed: under ``plan_failed`` in the JSON and as CSV rows whose
    ``failed`` is ``not planned: <reason>``."""
    table = pd.DataFrame(list(rows))
    ints = {c: "Int64" for c in table.select_dtypes("integer").columns}  # 2, not 2.0
    more: list[pd.DataFrame] = []
    if plan_failed:
        reasons = [f"not planned: {r}" for r in plan_failed.values()]
        more.append(pd.DataFrame({"area": list(plan_failed), "failed": reasons}))
    if failed:
        more.append(pd.DataFrame({"area": list(failed), "failed": list(failed.values())}))
    if failed or plan_failed:
        table = table.assign(failed="")
    if csv_extra:  # last, after the failed districts
        extra = pd.DataFrame(list(csv_extra))
        more.append(extra.assign(failed="") if "failed" in table.columns else extra)
    if more:
        table = pd.concat([table, *more], ignore_index=True).astype(ints)
    csv_path = write_text_atomic(out_dir / f"{stem}.csv", table.to_csv(index=False))
    json_path = out_dir / f"{stem}.json"

    payload: dict[str, Any] = {
        "totals": dict(totals),
        "districts": [dict(r) for r in rows],
    }
    if failed:
        payload["failed"] = [{"area": a, "reason": r} for a, r in failed.items()]
    if plan_failed:
        payload["plan_failed"] = [{"area": a, "reason": r} for a, r in plan_failed.items()]
    if earlier_folders:
        payload["earlier_run_folders"] = list(earlier_folders)
    payload.update(json_extra or {})
    write_text_atomic(json_path, strict_json.dumps(payload, indent=2))
    return {csv_path.name: csv_path, json_path.name: json_path}
