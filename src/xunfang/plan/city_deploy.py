"""A week of deployment for every district of a city plan, in parallel, with a city summary.

The input is the output folder of ``xunfang plan --area district:all`` (``city_summary.json``
and one plan folder per district). The incidents are ingested once, the city's road network
is built once or read from the disk cache and each district's network cut from it (the
network its plan was made on: :func:`xunfang.plan.city_plan.plan_city`), then
:func:`xunfang.plan.deployment.deploy_from_plan_dir` runs for every district with one roster
and one rule calendar, in this process or on dask.distributed
(:func:`xunfang.plan.city_plan.map_areas`). A worker reads the district's plan folder, the
roster and the calendar from their paths (a path the workers must see); the incidents and the
network are shipped to it.

The city figures (:func:`deploy_totals`) are plain sums of the districts' figures
(officers, person-times, booth walks, patrol person-times, school-gate posts, hours, routes,
booths, incidents, risk and covered risk); the covered share is recomputed from those sums.
Each district is deployed with its own force (the roster applies to every district), so the
city's officers are the sum of the districts'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xunfang import strict_json
from xunfang.config import Settings
from xunfang.errors import DataFileError
from xunfang.ingest.city import City
from xunfang.ingest.incidents import IncidentTable
from xunfang.ingest.road_network import RoadNetwork
from xunfang.plan.booth_plan import plan_incident_period
from xunfang.plan.city_plan import area_folder, area_jobs, map_areas
from xunfang.plan.deployment import DeployConfig, Deployment, PlanContext, deploy_from_plan_dir

__all__ = [
    "DeploySummary",
    "city_plan_folders",
    "deploy_city",
    "deploy_one_district",
    "deploy_totals",
    "plan_failed_districts",
    "plan_incident_period",
    "summarise_deployment",
]


@dataclass(frozen=True)
class DeploySummary:
    """One district's week in figures (one row of ``city_deploy_summary.csv``).

    Attributes
    ----------
    area
        Study area name.
    booths, routes, blocks
        Booths of the plan, mobile-unit routes of the week, time blocks.
    person_times, officer_hours, patrol_hours, vehicle_hours
        The week's officer shifts and hours (``Deployment.weekly``).
    risk
        The week's risk (sum over the blocks of the risk model: expected incidents).
    covered_risk
        Of ``risk``, the part within the coverage standard of a post.
    covered_share
        ``covered_risk / risk``.
    wall_time_s, cpu_time_s
        Seconds of the district's deployment on its worker (wall, CPU of that process).
    officers
        Officers with a post in the week (distinct roster names: booths, rule posts,
        patrols, relief and reserve).
    booth_walks
        Sector patrols walked by booth officers in the week (one loop per booth and block,
        person-times; 0 without the plan's patrol sectors).
    patrol_person_times
        Person-times (officer shifts, as ``person_times``) of vehicle crews and foot patrols:
        the officers sent to the hotspots.
    school_gate_posts, rule_posts
        Posts of the rule calendar held in the week, counted once per place and block:
        at schools (places of the calendar's ``[schools]`` file), and at every place.
    threshold_min
        The coverage standard of ``covered_risk``, minutes.
    incidents
        Incidents inside the district that the risk was estimated from.
    incidents_from, incidents_to
        Their first and last day (local, ISO dates; empty without incidents).
    history_weeks
        Weeks of history the risk per block is averaged over.
    plan_incidents_from, plan_incidents_to
        The period of the incidents the district's booth plan was made from
        (``plan_summary.json``; empty when the plan does not record it).
    """

    area: str
    booths: int
    routes: int
    blocks: int
    person_times: float
    officer_hours: float
    patrol_hours: float
    vehicle_hours: float
    risk: float
    covered_risk: float
    covered_share: float
    wall_time_s: float
    cpu_time_s: float
    officers: int = 0
    booth_walks: int = 0
    patrol_person_times: int = 0
    school_gate_posts: int = 0
    rule_posts: int = 0
    threshold_min: float = float("nan")
    incidents: int = 0
    incidents_from: str = ""
    incidents_to: str = ""
    history_weeks: float = float("nan")
    plan_incidents_from: str = ""
    plan_incidents_to: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def summarise_deployment(
    dep: Deployment,
    wall_time_s: float = float("nan"),
    cpu_time_s: float = float("nan"),
    ctx: PlanContext | None = None,
) -> DeploySummary:
    """The figures of one district's week (see :class:`DeploySummary`); ``ctx``, the plan
    folder's context the week was planned on, gives the incidents and their period."""
    a = dep.assignments
    shifts = ["officer", "shift", "shift_start"]
    patrol = a[a["post_kind"].isin(["mobile", "foot"])] if len(a) else a
    rule = a[a["post_kind"] == "rule"] if len(a) else a
    school = set(dep.places.loc[dep.places["group"].astype(str).str.startswith("school:"), "name"])
    rule_posts = rule.drop_duplicates(["block", "post_name"]) if len(rule) else rule
    walks = (
        int(dep.sector_kpis["patrols"].sum())
        if dep.sector_kpis is not None and len(dep.sector_kpis)
        else 0
    )
    extra: dict[str, Any] = {}
    if ctx is not None:
        inc = ctx.incidents
        when = inc.frame["occurred_at"].dt.tz_convert(inc.timezone) if len(inc) else None
        extra = {
            "incidents": len(inc),
            "incidents_from": "" if when is None else f"{when.min():%Y-%m-%d}",
            "incidents_to": "" if when is None else f"{when.max():%Y-%m-%d}",
            "history_weeks": float(ctx.n_weeks),
        }
        span = plan_incident_period(ctx.plan_dir)
        if span:
            extra["plan_incidents_from"], extra["plan_incidents_to"] = span
    k = dep.block_kpis
    risk = k["risk"].to_numpy(dtype=float)
    share = k["covered_share"].to_numpy(dtype=float)
    ok = share == share  # not nan
    covered = float((risk[ok] * share[ok]).sum())
    total = float(risk.sum())
    w = dep.weekly
    return DeploySummary(
        area=dep.area_name,
        booths=int((dep.sites["kind"] == "booth").sum()),
        routes=len(dep.routes),
        blocks=len(dep.blocks),
        person_times=float(w.get("person_times", 0.0)),
        officer_hours=float(w.get("officer_hours", 0.0)),
        patrol_hours=float(w.get("patrol_hours", 0.0)),
        vehicle_hours=float(w.get("vehicle_hours", 0.0)),
        risk=total,
        covered_risk=covered,
        covered_share=covered / total if total > 0 else float("nan"),
        wall_time_s=wall_time_s,
        cpu_time_s=cpu_time_s,
        officers=int(a["officer"].nunique()) if len(a) else 0,
        booth_walks=walks,
        patrol_person_times=len(patrol.drop_duplicates(shifts)) if len(patrol) else 0,
        school_gate_posts=int(rule_posts["post_name"].isin(school).sum()) if len(rule) else 0,
        rule_posts=len(rule_posts),
        threshold_min=float(dep.config.threshold_min),
        **extra,
    )


def city_plan_folders(plan_dir: str | Path) -> dict[str, Path]:
    """Area name -> plan folder of a city plan output folder (``city_summary.json``).

    Raises
    ------
    DataFileError
        If the summary is missing or unreadable, or a district's folder lacks
        ``plan_summary.json``.
    """
    path = Path(plan_dir) / "city_summary.json"
    if not path.is_file():
        raise DataFileError(
            path, "not found: give the output folder of `xunfang plan --area district:all`"
        )
    doc = strict_json.load_file(path)  # names the file, line and key of a repeated key
    try:
        areas = [str(d["area"]) for d in doc["districts"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFileError(path, f"unreadable city summary: {exc}", field="districts") from exc
    folders = {a: Path(plan_dir) / area_folder(a) for a in areas}
    missing = [str(f) for f in folders.values() if not (f / "plan_summary.json").is_file()]
    if missing:
        raise DataFileError(
            path, f"district plan folder(s) without plan_summary.json: {', '.join(missing[:5])}"
        )
    return folders


def plan_failed_districts(plan_dir: str | Path) -> dict[str, str]:
    """Area -> reason of the districts the city plan in ``plan_dir`` failed to plan
    (``failed`` of its ``city_summary.json``; empty when none failed or the folder has no
    city summary): they have no plan folder, so the city deploy and simulation name them.

    Raises
    ------
    DataFileError
        If ``city_summary.json`` is unreadable or its ``failed`` is not a list of
        ``{"area": ..., "reason": ...}``.
    """
    path = Path(plan_dir) / "city_summary.json"
    if not path.is_file():
        return {}
    doc = strict_json.load_file(path)
    try:
        return {str(d["area"]): str(d.get("reason", "")) for d in doc.get("failed") or []}
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataFileError(path, f"unreadable city summary: {exc}", field="failed") from exc


def deploy_one_district(
    plan_folder: Path,
    roster_path: Path,
    calendar_path: Path | None,
    settings: Settings,
    config: DeployConfig | None,
    city: City | None,
    incidents: IncidentTable | None,
    network: RoadNetwork | None,
) -> tuple[Deployment, DeploySummary]:
    """One district's week (the task a worker runs)."""
    t0, c0 = time.perf_counter(), time.process_time()
    dep, ctx = deploy_from_plan_dir(
        plan_folder,
        roster_path,
        calendar_path,
        settings,
        config=config,
        city=city,
        network=network,
        incidents=incidents,
    )
    return dep, summarise_deployment(dep, time.perf_counter() - t0, time.process_time() - c0, ctx)


def deploy_city(
    folders: dict[str, Path],
    roster_path: Path,
    calendar_path: Path | None,
    settings: Settings,
    *,
    config: DeployConfig | None = None,
    city: City,
    incidents: IncidentTable | None = None,
    city_network: RoadNetwork | None = None,
    client: Any | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Deployment, DeploySummary], None] | None = None,
    failed: dict[str, str] | None = None,
) -> list[DeploySummary]:
    """Deploy every district of ``folders`` (:func:`city_plan_folders`); summaries in its order.

    Parameters
    ----------
    folders
        Area name -> its plan folder.
    roster_path, calendar_path
        One roster and one rule calendar for every district.
    settings
        Data and cache directories.
    config
        Deployment options.
    city
        The city the plans were made for.
    incidents
        The city's ingested incidents (each district takes those inside it); None: each
        district ingests its plan's files.
    city_network
        The city's network; each district's is cut from it here and shipped to its worker.
        None: each district builds its own (or reads it from the cache).
    client
        A ``dask.distributed.Client``; None runs here, one district after another.
    on_start, on_done
        Called with the area when its task starts, and with the deployment and its summary
        when it is done.
    failed
        When given, a district whose task fails with a :class:`~xunfang.errors.XunfangError`
        is recorded here (area -> message), its summary left out, and the others run.

    Raises
    ------
    The errors of a district's deployment pass through (the first one
    stops the rest) unless ``failed`` is given.
    """

    results = map_areas(
        deploy_one_district,
        area_jobs(
            city,
            {
                name: (folder, roster_path, calendar_path, settings, config, city)
                for name, folder in folders.items()
            },
            city_network,
        ),
        shared=(incidents,),
        client=client,
        on_start=on_start,
        on_done=on_done,
        failed=failed,
    )
    return [results[a] for a in folders if a in results]


def deploy_totals(summaries: Sequence[DeploySummary]) -> dict[str, Any]:
    """City figures as sums of the districts' own (the covered share from those sums)."""
    risk = float(sum(s.risk for s in summaries))
    covered = float(sum(s.covered_risk for s in summaries))
    out: dict[str, Any] = {"districts": len(summaries)}
    for key in (
        "booths",
        "routes",
        "blocks",
        "officers",
        "booth_walks",
        "patrol_person_times",
        "school_gate_posts",
        "rule_posts",
        "incidents",
    ):
        out[key] = sum(getattr(s, key) for s in summaries)
    for key in ("person_times", "officer_hours", "patrol_hours", "vehicle_hours"):
        out[key] = float(sum(getattr(s, key) for s in summaries))
    out["risk"] = risk
    out["covered_risk"] = covered
    out["covered_share"] = covered / risk if risk > 0 else float("nan")
    out["wall_time_s_sum"] = float(sum(s.wall_time_s for s in summaries))
    out["cpu_time_s_sum"] = float(sum(s.cpu_time_s for s in summaries))
    return out
