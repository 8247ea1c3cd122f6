"""Run a scenario file: prepare the world once, then simulate each compared scenario
(stations / + booths / + deployment) on the same calls, replication by replication.

Replication ``r`` draws its calls with ``numpy.random.default_rng(children[r])`` where
``children = SeedSequence(seed).spawn(R)``; every compared scenario of replication ``r``
sees exactly the same calls and draws (common random numbers), so differences between
scenarios are due to the units alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.config import Settings
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City, default_city
from xunfang.ingest.road_network import RoadNetwork
from xunfang.plan.booth_plan import plan_incident_period
from xunfang.simulate.calls import CallReport, Period, replay_calls, sample_calls
from xunfang.simulate.metrics import Estimate, combine, summarise
from xunfang.simulate.scenario import VARIANTS, Scenario
from xunfang.simulate.sim import CallSet, SimResult, SimSettings, UnitSpec, simulate
from xunfang.simulate.tables import SimTable, load_sim_table
from xunfang.simulate.units import (
    Site,
    booth_officers,
    hotspot_routes,
    patrols,
    read_deployment,
    response_team,
    station_cars,
)
from xunfang.simulate.world import (
    Incidents,
    SimNetwork,
    load_area,
    load_incidents,
    load_network,
    month_files,
    sites_from_csv,
    snap_sites,
    stations_in,
)

Progress = Callable[[str], None]

VARIANT_LABELS = {
    "stations": "stations only",
    "booths": "stations + booths",
    "deployment": "stations + booths + deployment",
}


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything a scenario needs before the first call is simulated.

    Attributes
    ----------
    scenario
        The validated scenario.
    area, network, period, incidents, table
        Study area, road network, simulated period, incidents, modelling table.
    stations, booths
        ``(name, node)`` sites.
    routes
        Patrol routes (tuples of nodes).
    deployment
        Units of the deployment schedule, or None.
    skipped
        Compared scenario -> why it cannot run (e.g. no schedule file).
    plan_source
        Where the booths came from.
    timings_s
        Seconds per preparation step.
    """

    scenario: Scenario
    area: StudyArea
    network: SimNetwork
    period: Period
    incidents: Incidents
    table: SimTable
    stations: list[Site]
    booths: list[Site]
    routes: list[tuple[int, ...]]
    deployment: list[UnitSpec] | None
    skipped: dict[str, str]
    plan_source: str
    timings_s: dict[str, float]

    def units(self, variant: str) -> list[UnitSpec]:
        """The units of one compared scenario."""
        sc = self.scenario.units
        p = self.period
        out = station_cars(
            self.stations,
            sc.station_car.per_station,
            counts=dict(sc.station_car.counts),
            period=p,
            shift_hours=sc.station_car.shift_hours,
        )
        out += patrols(
            self.routes, sc.patrol.dwell_min * 60.0, period=p, shift_hours=sc.patrol.shift_hours
        )
        if sc.response_team.count:
            out += response_team(
                sc.response_team.count,
                self._team_post(),
                max_priority=sc.response_team.max_priority,
                speed_factor=sc.response_team.speed_factor,
                period=p,
                shift_hours=sc.response_team.shift_hours,
            )
        if variant in ("booths", "deployment"):
            b = sc.booth
            out += booth_officers(
                self.booths,
                b.officers_per_booth,
                foot=b.mode == "foot",
                foot_factor=self.table.foot_factor,
                max_travel_s=None if b.max_travel_min is None else b.max_travel_min * 60.0,
                period=p,
                shift_hours=b.shift_hours,
            )
        if variant == "deployment":
            out += list(self.deployment or ())
        return out

    def _team_post(self) -> int:
        post = self.scenario.units.response_team.post
        if post == "station":
            if not self.stations:
                raise ValidationError(
                    'units.response_team.post = "station" but the area has no station; '
                    "give [lon, lat]"
                )
            return self.stations[0][1]
        frame = pd.DataFrame({"name": ["team"], "lon": [post[0]], "lat": [post[1]]})
        return snap_sites(frame, self.network)[0][1]

    def settings(self, *, record_log: bool = False) -> SimSettings:
        """Simulation settings of the scenario."""
        sc = self.scenario
        factors = sc.travel.speed_factor_by_hour or list(self.table.speed_factor_by_hour)
        return SimSettings(
            dispatch_delay_s=self.table.dispatch_delay_s,
            speed_factor_by_hour=tuple(factors),
            start_hour=self.period.start_hour,
            preempt_min=sc.scenario.preempt_min if sc.scenario.preemption else None,
            period_s=self.period.seconds,
            record_log=record_log,
            cleared_at=sc.scenario.cleared_at,
        )

    def calls(self, rng: np.random.Generator) -> tuple[CallSet, CallReport]:
        """One replication's calls."""
        c = self.scenario.calls
        if c.source == "replay":
            return replay_calls(
                self.incidents.heldout, self.period, self.table, rng, midnight=c.midnight
            )
        return sample_calls(
            self.incidents.training, self.period, self.table, rng, midnight=c.midnight
        )


def prepare(
    scenario: Scenario,
    settings: Settings,
    *,
    progress: Progress | None = None,
    plan_incidents: Path | Sequence[Path] | None = None,
    city: City | None = None,
    road_network: RoadNetwork | None = None,
) -> Prepared:
    """Load the area, network, incidents, sites and units of a scenario.

    Parameters
    ----------
    scenario
        Validated scenario.
    settings
        Data and cache folders.
    progress
        Called with the name of each step.
    plan_incidents
        Incident file(s) for a booth plan made here (default: every monthly file before
        the held-out month); a ``.parquet`` written by ``xunfang ingest`` is fastest.
    city
        The city; default the scenario's ``city`` file, else the default city of the
        data directory.
    road_network
        The area's road network when the caller has it (the city simulation cuts each
        district's from the city's, as the city plan does); else built or read from the
        cache.

    Raises
    ------
    ValidationError, DataFileError
        For missing data or files, naming them.
    """
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        timings[name] = time.perf_counter() - t0
        t0 = time.perf_counter()

    sc = scenario.scenario
    period = Period.month(sc.month)
    table = (
        load_sim_table()
        if scenario.calls.table == "default"
        else load_sim_table(scenario.path(scenario.calls.table))
    )
    say("study area")
    if city is None:
        city = (
            City.from_toml(scenario.path(sc.city), data_dir=settings.data_dir)
            if sc.city
            else default_city(settings.data_dir)
        )
    area = load_area(settings, sc.area, city=city)
    lap("study area")

    booths_frame: pd.DataFrame | None = None
    stations_frame: pd.DataFrame
    network: SimNetwork | None = None
    plan_source = "no booth plan (give [plan] sites_csv or booths)"
    if scenario.plan.booths is not None:
        if area.kind == "city":
            raise ValidationError(
                "plan.booths: a booth plan is made per district; for the city give "
                "plan.sites_csv or leave [plan] out"
            )
        say("booth plan (MCLP)")
        from xunfang.plan.booth_plan import PlanConfig, make_booth_plan

        if plan_incidents is None:
            files = months_before(settings, period, city=city)
        elif isinstance(plan_incidents, Path):
            files = [plan_incidents]
        else:
            files = list(plan_incidents)
        plan = make_booth_plan(
            PlanConfig(
                area=sc.area,
                city=city,
                booths=scenario.plan.booths,
                threshold_min=scenario.plan.threshold_min,
                incident_files=tuple(files),
                time_limit_s=scenario.plan.time_limit_s,
            ),
            settings,
            network=road_network,
        )
        sites = pd.DataFrame(
            {
                "name": plan.sites["name"].astype(str),
                "kind": plan.sites["kind"].astype(str),
                "lon": plan.sites.geometry.x.to_numpy(),
                "lat": plan.sites.geometry.y.to_numpy(),
            }
        )
        stations_frame = sites[sites["kind"] == "station"]
        booths_frame = sites[sites["kind"] == "booth"]
        network = SimNetwork.from_road_network(plan.network, plan.timings_s.get("network", 0.0))
        plan_source = (
            f"MCLP plan made here: {scenario.plan.booths} booths, "
            f"{scenario.plan.threshold_min:g} min threshold, incidents before {period.label}"
        )
        lap("booth plan")
    elif scenario.plan.sites_csv is not None:
        path = scenario.path(scenario.plan.sites_csv)
        sites = sites_from_csv(path)
        stations_frame = sites[sites["kind"] == "station"]
        booths_frame = sites[sites["kind"] == "booth"]
        plan_source = f"sites of {path}" + held_out_warning(path.parent, period)
    else:
        stations_frame = stations_in(settings, area, city=city)

    say("road network")
    if network is None and road_network is not None:
        network = SimNetwork.from_road_network(road_network)
    elif network is None:
        network = load_network(settings, area, city=city)
    lap("network")

    say("incidents")
    inc_files = [scenario.path(f) for f in sc.incidents] if sc.incidents else None
    incidents = load_incidents(
        settings,
        area,
        network,
        period,
        scenario.calls.training_months,
        files=inc_files,
        types=scenario.calls.types or None,
        city=city,
    )
    lap("incidents")

    say("units")
    stations = snap_sites(stations_frame, network)
    booths = snap_sites(booths_frame, network) if booths_frame is not None else []
    skipped: dict[str, str] = {}
    if "booths" in sc.compare and not booths:
        skipped["booths"] = plan_source if booths_frame is None else "the plan has no booths"
    routes: list[tuple[int, ...]] = []
    if scenario.units.patrol.count:
        if incidents.training.empty:
            raise ValidationError(
                "units.patrol needs training incidents (the months before scenario.month) "
                "to draw hotspot routes; none were found"
            )
        routes = hotspot_routes(
            network.node_xy,
            incidents.training["node"].to_numpy(),
            scenario.units.patrol.count,
            scenario.units.patrol.waypoints,
            sc.seed,
        )
    deployment: list[UnitSpec] | None = None
    if "deployment" in sc.compare:
        csv = scenario.deployment.schedule_csv
        if csv is None:
            skipped["deployment"] = "no deployment schedule ([deployment] schedule_csv)"
        elif not scenario.path(csv).is_file():
            skipped["deployment"] = (
                f"deployment schedule {scenario.path(csv)} not found: scenario skipped"
            )
        else:
            deployment = read_deployment(
                scenario.path(csv),
                period,
                snap=network.snap,
                crs=network.crs,
                n_nodes=network.n_nodes,
                foot_factor=table.foot_factor,
            )
    lap("units")
    return Prepared(
        scenario=scenario,
        area=area,
        network=network,
        period=period,
        incidents=incidents,
        table=table,
        stations=stations,
        booths=booths,
        routes=routes,
        deployment=deployment,
        skipped=skipped,
        plan_source=plan_source,
        timings_s=timings,
    )


def months_before(settings: Settings, period: Period, *, city: City | None = None) -> list[Path]:
    """Every monthly incident file of the city before the period (the training data of a
    plan); a file without ``YYYY-MM`` in its name is left out."""
    the_city = city if city is not None else default_city(settings.data_dir)
    files = the_city.incident_files()
    before = [f for f in files if (_month_of(f) or "9999") < period.label]
    if not before:
        month_files(files, [period.label])  # raises with the months available
        raise ValidationError(f"no incident files before {period.label} to make the booth plan on")
    return before


def _month_of(path: Path) -> str | None:
    m = re.search(r"\d{4}-\d{2}", path.name)
    return m.group(0) if m else None


@dataclass(frozen=True)
class VariantResult:
    """One compared scenario over all replications.

    Attributes
    ----------
    variant
        ``stations``, ``booths`` or ``deployment``.
    n_units
        Units (each on duty in its shifts).
    summaries
        :func:`~xunfang.simulate.metrics.summarise` of each replication.
    estimates
        Means with 95 % confidence half-widths.
    first
        The first replication's full result (for charts and the per-call table).
    sim_s
        Seconds spent simulating (all replications).
    calls_simulated
        Calls simulated (all replications).
    """

    variant: str
    n_units: int
    summaries: tuple[dict[str, float], ...]
    estimates: dict[str, Estimate]
    first: SimResult
    sim_s: float
    calls_simulated: int

    @property
    def calls_per_s(self) -> float:
        """Simulated calls per wall-clock second."""
        return self.calls_simulated / self.sim_s if self.sim_s > 0 else float("nan")


@dataclass(frozen=True)
class Comparison:
    """The compared scenarios of one scenario file."""

    prepared: Prepared
    results: dict[str, VariantResult]
    call_reports: tuple[CallReport, ...]
    skipped: dict[str, str]
    wall_s: float
    all_calls: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Variant -> per-call table of every replication (column ``replication``)."""
    all_units: dict[str, pd.DataFrame] = field(default_factory=dict)


def run_prepared(
    prep: Prepared,
    *,
    replications: int | None = None,
    record_log: bool = False,
    progress: Progress | None = None,
    variants: list[str] | None = None,
) -> Comparison:
    """Simulate every compared scenario for every replication.

    Parameters
    ----------
    prep
        From :func:`prepare`.
    replications
        Override of ``scenario.replications``.
    record_log
        Keep the event log of the first replication.
    progress
        Called with ``"replication r/R: variant"``.
    variants
        Override of ``scenario.compare``.
    """
    say = progress or (lambda _m: None)
    start = time.perf_counter()
    sc = prep.scenario.scenario
    reps = replications or sc.replications
    wanted = [v for v in (variants or sc.compare) if v in VARIANTS]
    runnable = [v for v in wanted if v not in prep.skipped]
    oracle = TravelTimeOracle(prep.network.matrix)
    units = {v: prep.units(v) for v in runnable}
    children = np.random.SeedSequence(sc.seed).spawn(reps)
    summaries: dict[str, list[dict[str, float]]] = {v: [] for v in runnable}
    first: dict[str, SimResult] = {}
    sim_s = dict.fromkeys(runnable, 0.0)
    n_calls = dict.fromkeys(runnable, 0)
    reports = []
    frames: dict[str, list[pd.DataFrame]] = {v: [] for v in runnable}
    uframes: dict[str, list[pd.DataFrame]] = {v: [] for v in runnable}
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        calls, report = prep.calls(rng)
        reports.append(report)
        for v in runnable:
            say(f"replication {r + 1}/{reps}: {VARIANT_LABELS[v]}")
            res = simulate(oracle, calls, units[v], prep.settings(record_log=record_log and r == 0))
            sim_s[v] += res.wall_s
            n_calls[v] += len(calls)
            summaries[v].append(summarise(res))
            frames[v].append(res.calls.assign(replication=r))
            uframes[v].append(res.units.assign(replication=r))
            if r == 0:
                first[v] = res
    results = {
        v: VariantResult(
            variant=v,
            n_units=len(units[v]),
            summaries=tuple(summaries[v]),
            estimates=combine(summaries[v]),
            first=first[v],
            sim_s=sim_s[v],
            calls_simulated=n_calls[v],
        )
        for v in runnable
    }
    return Comparison(
        prepared=prep,
        results=results,
        call_reports=tuple(reports),
        skipped={v: prep.skipped[v] for v in wanted if v in prep.skipped},
        wall_s=time.perf_counter() - start,
        all_calls={v: pd.concat(frames[v], ignore_index=True) for v in runnable},
        all_units={v: pd.concat(uframes[v], ignore_index=True) for v in runnable},
    )


def run_scenario(
    scenario: Scenario,
    settings: Settings,
    *,
    replications: int | None = None,
    record_log: bool = False,
    progress: Progress | None = None,
) -> Comparison:
    """:func:`prepare` then :func:`run_prepared`."""
    prep = prepare(scenario, settings, progress=progress)
    return run_prepared(prep, replications=replications, record_log=record_log, progress=progress)


def held_out_warning(plan_dir: Path, period: Period) -> str:
    """A clause for the plan's description when the plan of ``plan_dir`` was made from
    incidents of the replayed ``period`` (the comparison is then not a held-out test);
    empty when it was not, or when the plan does not record its incidents' dates."""
    span = plan_incident_period(plan_dir)
    if span is None:
        return ""
    first, last = (pd.Timestamp(d) for d in span)
    start, end = (
        t if t.tzinfo is None else t.tz_localize(None) for t in (period.start, period.end)
    )
    if last < start.normalize() or first >= end:
        return ""
    return (
        f" (NOT held out: the plan was made from incidents of {span[0]} to {span[1]}, which "
        f"include the replayed {period.label}; plan from the months before it, e.g. "
        "`xunfang plan --incidents` of those months, for a fair test)"
    )
