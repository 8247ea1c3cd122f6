"""The main job: a district's incident history -> a booth plan.

Steps (each timed and reported):

1. ingest the incident files (every rejected row counted with its reason);
2. select the study area and keep the incidents inside it;
3. build the drivable road network of the area (from the city's road source: one road
   file, or graphs per area stitched together);
4. count where and when incidents concentrate (grid x hour of week x type group);
5. snap incidents, stations and candidate sites to the network and compute the
   candidate -> demand travel-time matrix;
6. site K booths by MCLP with the stations fixed, and solve the p-median with the same
   number of sites for comparison;
7. compare stations alone with stations plus booths on the same incidents
   (share within 1, 3 and 5 minutes; mean and 90th percentile travel time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from xunfang import strict_json
from xunfang.analyse.forecast import forecast_demand_weights, make_forecaster, rolling_windows
from xunfang.analyse.forecast.learned import cell_context
from xunfang.analyse.forecast.registry import needs_context
from xunfang.analyse.grid import Grid
from xunfang.analyse.hotspots import (
    HotspotSummary,
    WhereWhen,
    empty_where_when,
    summarise_hotspots,
    where_when,
)
from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City, default_city
from xunfang.ingest.coords import FRAMES, outside_china, to_output_frame, to_wgs84
from xunfang.ingest.incidents import (
    IncidentTable,
    IngestReport,
    ingest,
    read_ingested_tables,
)
from xunfang.ingest.network import STITCH_HIGHWAY, RoadNetwork
from xunfang.ingest.notes import Note
from xunfang.ingest.road_network import FAR_FROM_ROAD_M
from xunfang.ingest.sites import read_sites, site_position
from xunfang.ingest.taxonomy import type_mask, unknown_types_message
from xunfang.plan.decisions import DecisionConfig, PlanDecisions, decide_for_plan
from xunfang.plan.mclp import mclp
from xunfang.plan.pmedian import p_median
from xunfang.plan.siting import SitingResult, evaluate_sites, weighted_quantile
from xunfang.units import WGS84, minutes_to_s

RESPONSE_RINGS_S = (60.0, 180.0, 300.0)
"""The 1-3-5 minute circle, seconds."""
MIN_INCIDENTS = 30
"""Fewer incidents than this make no basis for a plan."""
DEMAND_KINDS = ("incidents", "road_length", "points")
"""What a plan's demand can be (see :class:`PlanConfig`)."""


MAX_THRESHOLD_MIN = 120.0
"""Largest ``--threshold-min``, minutes: a booth or post that covers what it reaches in two
hours covers a whole city and the plan means nothing (a typo such as 1e9 was accepted)."""


def check_threshold_min(threshold_min: float) -> None:
    """Refuse a coverage threshold outside (0, :data:`MAX_THRESHOLD_MIN`] minutes.

    Raises
    ------
    ValidationError
        Naming ``--threshold-min`` and the value.
    """
    if not threshold_min > 0:
        raise ValidationError(f"--threshold-min must be > 0, got {threshold_min:g}")
    if not threshold_min <= MAX_THRESHOLD_MIN:
        raise ValidationError(
            f"--threshold-min must be at most {MAX_THRESHOLD_MIN:g} minutes, got {threshold_min:g}"
        )


@dataclass(frozen=True)
class PlanConfig:
    """What to plan.

    Attributes
    ----------
    area
        Study area name (see :meth:`xunfang.ingest.city.City.study_area`): ``KIND:NAME``
        such as ``district:1``, a bare name, or ``None`` for the city's default polygon.
    city
        Where the boundary, roads, stations and incident files come from; ``None`` for
        :func:`xunfang.ingest.city.default_city` under the settings' data directory.
    crs
        Projected analysis CRS in metres; default the UTM zone of the area's centroid.
    booths
        Number of booths to site, not counting the fixed sites.
    threshold_min
        MCLP coverage threshold, minutes of drive, in (0, :data:`MAX_THRESHOLD_MIN`].
    cell_m
        Grid cell side for the where/when analysis, metres.
    incident_files
        Incident files; default the city's. A ``.parquet`` written by ``xunfang ingest``
        is read as it is.
    profile
        Ingest profile of the incident files; default the city's profile or mapping.
    types
        Type groups, types or subtypes of the data that make the demand (default all;
        matched by :func:`xunfang.ingest.taxonomy.type_mask`).
    fixed_sites
        Site file (CSV, Excel, vector points) of existing sites kept open; default the
        city's police stations in or within ``station_buffer_m`` of the area.
    candidate_sites
        Site file of candidate booth sites; default network intersections.
    frame
        Frame of the lon/lat of ``fixed_sites``, ``candidate_sites`` and
        ``demand_points``: ``wgs84``, ``gcj02``, ``bd09``, or ``None`` for the city's.
    demand
        What the demand is: ``incidents`` (history, the default), ``road_length`` (each
        node of the area weighted by half the length of its edges, km: for a district
        without history) or ``points`` (the places of ``demand_points``).
    demand_points
        Site file of places to cover (a ``weight`` column is used when present), for
        ``demand="points"``.
    candidate_spacing_m
        Minimum spacing of intersection candidates, metres.
    max_candidates
        Upper bound of intersection candidates (the spacing grows until it fits).
    max_site_snap_m
        A fixed or candidate site farther than this from the road network is an error.
    stitch_threshold_m
        Largest gap bridged between neighbouring community-area graphs, metres.
    same_name_threshold_m
        Largest gap bridged between the same-named street on both sides of an area
        boundary (the bridges cut off at the river), metres.
    hotspot_cells
        Cells per hotspot summary.
    kde_bandwidth_m
        Kernel bandwidth of the density map, metres.
    time_limit_s
        Time limit of each solver run, seconds.
    pmedian_gap
        Relative gap at which the p-median stops (``mip_rel_gap`` of
        :func:`xunfang.plan.pmedian.p_median`): its answer is then proven optimal (gap within
        0.01 %) or within this gap of the stated lower bound.
    """

    area: str | None = None
    crs: str | None = None
    city: City | None = None
    booths: int = 27
    threshold_min: float = 3.0
    cell_m: float = 150.0
    incident_files: tuple[Path, ...] = ()
    profile: str | None = None
    types: tuple[str, ...] = ()
    fixed_sites: Path | None = None
    candidate_sites: Path | None = None
    frame: str | None = None
    demand: str = "incidents"
    demand_points: Path | None = None
    candidate_spacing_m: float = 100.0
    max_candidates: int = 2000
    candidates_outside_m: float = 0.0
    """How far outside the study area a candidate booth site may lie, metres: 0 keeps
    booths inside the boundary (the network's clip margin serves routing only). Fixed
    sites (stations) may lie outside."""
    station_buffer_m: float | None = None
    max_site_snap_m: float = 300.0
    stitch_threshold_m: float = 60.0
    same_name_threshold_m: float = 200.0
    hotspot_cells: int = 12
    kde_bandwidth_m: float = 250.0
    time_limit_s: float = 60.0
    pmedian_gap: float = 1e-3
    forecast: str | None = None
    """Forecaster spec (e.g. ``sepp``, ``naive:period_days=365``, ``kde``; see
    :func:`xunfang.analyse.forecast.make_forecaster`): weigh demand by the forecast of
    ``forecast_window`` instead of raw history."""
    forecast_window: str = "week"
    """``day``, ``night``, ``week`` or ``HH-HH``."""
    forecast_start: str | None = None
    """Local date of the forecast window; default the day after the last incident."""
    demand_weights: np.ndarray | None = field(default=None, repr=False)
    """Optional (n_incidents_in_area,) weights replacing raw counts."""
    decisions: DecisionConfig | None = field(default_factory=DecisionConfig)
    """Trade-off curve, targets, booth values, sectors (:mod:`xunfang.plan.decisions`);
    None skips them."""

    def validate(self) -> None:
        """Raise ValidationError naming the first bad option."""
        if self.booths < 0:
            raise ValidationError(f"--booths must be >= 0, got {self.booths}")
        check_threshold_min(self.threshold_min)
        if not self.cell_m > 0:
            raise ValidationError(f"--cell-m must be > 0, got {self.cell_m}")
        if not self.candidates_outside_m >= 0:
            raise ValidationError(
                f"--candidates-outside-m must be >= 0 metres, got {self.candidates_outside_m}"
            )
        if not 0.0 <= self.pmedian_gap < 1.0:
            raise ValidationError(
                f"--pmedian-gap must be a share in [0, 1), e.g. 0.001 for 0.1 %, got "
                f"{self.pmedian_gap}"
            )
        if self.max_candidates < 1:
            raise ValidationError(f"max_candidates must be >= 1, got {self.max_candidates}")
        if self.demand not in DEMAND_KINDS:
            raise ValidationError(
                f"--demand must be one of {', '.join(DEMAND_KINDS)}, got {self.demand!r}"
            )
        if (self.demand == "points") != (self.demand_points is not None):
            raise ValidationError(
                "--demand-points FILE goes with demand 'points' (and 'points' needs the file)"
            )
        if self.demand != "incidents" and self.forecast:
            raise ValidationError("--forecast weighs incident demand: leave out --demand")


@dataclass(frozen=True)
class RingStats:
    """Response-time figures of one layout over the same incidents."""

    label: str
    """``stations_only``, ``plan_mclp`` or ``plan_pmedian`` (reports translate it)."""
    n_sites: int
    share_within: dict[int, float]
    """Minutes (1, 3, 5) -> share of incidents reachable within them."""
    mean_s: float
    p90_s: float
    unreachable: int
    share_within_threshold: float = float("nan")
    """Share within the plan's coverage threshold."""


@dataclass(frozen=True)
class BoothPlan:
    """Everything the report and the output files show."""

    config: PlanConfig
    area: StudyArea
    ingest_report: IngestReport | None
    incidents: IncidentTable
    n_outside_area: int
    n_other_types: int
    """Incidents inside the area but not of the chosen ``types``."""
    n_fixed_merged: int
    """Fixed sites that snapped to the same node as another (merged into one)."""
    network: RoadNetwork
    where_when: WhereWhen
    hotspots: list[HotspotSummary]
    sites: gpd.GeoDataFrame
    """Stations and booths: name, kind (station/booth), node, x_m, y_m, geometry (WGS-84),
    incidents_within_threshold, incidents_nearest."""
    demand: pd.DataFrame
    """Per demand node: node, x_m, y_m, lon, lat, weight, tt_stations_s, tt_plan_s,
    tt_pmedian_s."""
    mclp: SitingResult
    pmedian: SitingResult | None
    rings: list[RingStats]
    n_candidates: int
    snap_median_m: float
    timings_s: dict[str, float]
    snap_quantiles_m: tuple[float, ...] | None = None
    """Median, 90th percentile and largest snap distance of the demand, metres."""
    snap_far_count: int = 0
    """Demand points (incidents) more than :data:`~xunfang.ingest.road_network.FAR_FROM_ROAD_M`
    from their road node."""
    snap_count: int = 0
    """Demand points snapped (0 for road-length demand)."""
    snap_nodes_left_out: int = 0
    """Nodes (expressways, bridges, tunnels) incidents were not snapped to
    (:meth:`~xunfang.ingest.road_network.RoadNetwork.snap_to_streets`)."""
    forecast_note: str | None = None
    """What the forecast demand was (method, window, share of the forecast placed)."""
    city: City | None = None
    """The city the area, roads and stations came from."""
    demand_note: str | None = None
    """What the demand is when it is not incident history (road length, points)."""
    decisions: PlanDecisions | None = None
    """How many booths, what each buys, patrol sectors (:mod:`xunfang.plan.decisions`)."""
    stations_note: str | None = None
    """Which of the city's stations were used and which left out as too far from the area."""
    candidates_note: str | None = None
    """Candidate sites of the user's file left out as outside the study area."""
    frame_check: dict[str, Any] | None = None
    """When another coordinate frame would put clearly more of the incidents inside the
    area than the frame they were read in (:func:`frame_check`): its figures; else
    ``None``."""
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds of this process (all its threads) per step, the keys of ``timings_s``
    (wall seconds): on a shared machine the CPU time is what a step costs."""


def ring_stats(
    label: str,
    n_sites: int,
    travel_time_s: np.ndarray,
    weights: np.ndarray,
    threshold_s: float = float("nan"),
) -> RingStats:
    """Share within 1/3/5 minutes and within the planning threshold, weighted mean and 90th
    percentile of travel times.

    Unreachable demand (``inf``) counts as not covered and is left out of mean and p90.
    """
    tt = np.asarray(travel_time_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    ok = np.isfinite(tt)
    share = {
        int(r // 60): float(w[tt <= r].sum() / total) if total else 0.0 for r in RESPONSE_RINGS_S
    }
    mean = float(np.average(tt[ok], weights=w[ok])) if w[ok].sum() > 0 else float("nan")
    p90 = weighted_quantile(tt[ok], w[ok], 0.9) if ok.any() else float("nan")
    at_t = float(w[tt <= threshold_s].sum() / total) if total else 0.0
    return RingStats(label, n_sites, share, mean, p90, int(w[~ok].sum()), at_t)


def _thin_candidates(
    network: RoadNetwork,
    spacing_m: float,
    max_candidates: int,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Intersection nodes (3+ distinct neighbours) among ``allowed`` (a boolean mask of
    the nodes, default all), at most one per ``spacing_m`` square, the spacing growing by
    25 % until at most ``max_candidates`` remain."""
    m = network.matrix
    sym = (m + m.T).tocsr()
    degree = np.diff(sym.indptr)
    ok = np.ones(network.n_nodes, dtype=bool) if allowed is None else np.asarray(allowed)
    nodes = np.flatnonzero((degree >= 3) & ok)
    if len(nodes) == 0:
        nodes = np.flatnonzero(ok)
    xy = network.node_xy[nodes]
    spacing = spacing_m
    while True:
        key = np.floor(xy / spacing).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        chosen = nodes[np.sort(first)]
        if len(chosen) <= max_candidates:
            return np.asarray(chosen, dtype=np.int64)
        spacing *= 1.25


def make_booth_plan(
    config: PlanConfig,
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    incidents: IncidentTable | None = None,
    network: RoadNetwork | None = None,
) -> BoothPlan:
    """Run the main job. See the module docstring for the steps.

    ``incidents``, when given, is an already ingested table (any projected CRS) used instead
    of ``config.incident_files`` (the city plan ingests once for every district).
    ``network``, when given, is the area's road network (the city plan cuts each district's
    from the city's); else it is built, or read from ``settings.cache_dir``.

    Raises
    ------
    ValidationError
        For bad options or files (naming them); the errors of the steps pass through.
    """
    config.validate()
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal t0, c0
        now, now_cpu = time.perf_counter(), time.process_time()
        timings[name], cpu[name] = now - t0, now_cpu - c0
        t0, c0 = now, now_cpu

    city = config.city or default_city(settings.data_dir)
    say("study area")
    area = city.study_area(config.area, crs=config.crs)
    lap("study area")

    say("ingest incidents")
    if incidents is not None:  # ingested once for many areas (plan/city_plan.py)
        table, report = incidents.reproject(area.crs), None
    else:
        table, report = read_plan_incidents(config, city, area.crs)
    inside = shapely.contains_xy(
        area.polygon, table.frame["x_m"].to_numpy(), table.frame["y_m"].to_numpy()
    )
    n_outside = int((~inside).sum())
    in_area = inside.copy()  # where, whatever the type: the frame hint's test
    read_frames = {str(f.get("frame")) for f in report.files} if report is not None else set()
    frame_checked = (
        frame_check(table, int(in_area.sum()), area.polygon, read_frames.pop())
        if len(read_frames) == 1
        else None
    )
    n_other_types = 0
    if config.types and len(table):
        of_type, unknown = type_mask(table.frame, list(config.types))
        if unknown:
            raise ValidationError(unknown_types_message(table.frame, unknown))
        n_other_types = int((inside & ~of_type).sum())
        inside &= of_type
    incidents = table.subset(inside)
    if config.demand == "incidents":
        if len(incidents) == 0:
            raise ValidationError(
                f"no incidents inside {area.name}: check the area and the files (a district "
                "without history: --demand road_length or --demand-points FILE)"
                + frame_hint(table, in_area, area.polygon, area.name)
            )
        if len(incidents) < MIN_INCIDENTS:
            raise ValidationError(
                f"only {len(incidents)} incidents inside {area.name} (of the chosen types): too "
                f"few to site booths on (at least {MIN_INCIDENTS}); widen --types or the period, "
                "or plan on road length (--demand road_length)"
                + frame_hint(table, in_area, area.polygon, area.name)
            )
    lap("ingest")

    say("road network")
    if network is None:
        network = city.road_network(
            area,
            stitch_threshold_m=config.stitch_threshold_m,
            same_name_threshold_m=config.same_name_threshold_m,
            cache_dir=settings.cache_dir,
        )
    lap("network")

    say("where and when")
    grid = Grid.from_polygon(area.polygon, config.cell_m, area.crs)
    ww = where_when(incidents, grid) if len(incidents) else empty_where_when(grid)
    hotspots = summarise_hotspots(ww, n_cells=config.hotspot_cells) if len(incidents) else []
    lap("where/when")

    say("travel times")
    forecast_note: str | None = None
    demand_note: str | None = None  # a Note (English text, Chinese at the edge)
    n_lifted = 0
    node_of_incident = np.zeros(0, dtype=np.int64)  # no incident demand: none snapped
    weights_inc = np.zeros(0)
    if config.demand == "incidents":
        node_of_incident, snap_m, n_lifted = network.snap_to_streets(incidents.xy)
        weights_inc = (
            np.ones(len(incidents))
            if config.demand_weights is None
            else np.asarray(config.demand_weights, dtype=np.float64)
        )
        if config.forecast:
            say("forecast")
            weights_inc, forecast_note = _forecast_weights(
                config, incidents, grid, city, area, network
            )
        if len(weights_inc) != len(incidents):
            raise ValidationError(
                f"demand_weights has {len(weights_inc)} values for {len(incidents)} incidents"
            )
        node_weight = np.bincount(
            node_of_incident, weights=weights_inc, minlength=len(network.node_ids)
        )
    elif config.demand == "road_length":
        node_weight = road_length_weights(network, area.polygon)
        snap_m = np.zeros(1)
        demand_note = Note("demand_road_length", km=float(node_weight.sum()), area=str(area.name))
    else:
        assert config.demand_points is not None
        node_weight, snap_m, demand_note = _point_weights(config, city, network, area)
    snapped = config.demand != "road_length"  # road-length demand sits on the nodes
    demand_nodes = np.flatnonzero(node_weight > 0)
    demand_w = node_weight[demand_nodes]

    fixed, stations_note = _fixed_sites(config, city, area)
    fixed_nodes = _snap_sites(
        network, fixed, area, config.fixed_sites or city.stations, config.max_site_snap_m
    )
    n_fixed_merged = len(fixed_nodes) - len(np.unique(fixed_nodes))
    # booths inside the boundary (plus candidates_outside_m); the clip margin is for routing
    zone = (
        area.polygon.buffer(config.candidates_outside_m)
        if config.candidates_outside_m
        else area.polygon
    )
    in_zone = shapely.contains_xy(zone, network.node_xy[:, 0], network.node_xy[:, 1])
    candidates_note = None
    if config.candidate_sites is not None:
        cand = read_sites(config.candidate_sites, frame=config.frame or city.frame)
        cand_nodes = _snap_sites(
            network, cand, area, config.candidate_sites, config.max_site_snap_m
        )
        cxy = _project(cand, area.crs)
        outside = ~shapely.contains_xy(zone, cxy[:, 0], cxy[:, 1])
        if outside.all():
            raise ValidationError(
                f"none of the {len(cand)} candidate sites of {Path(config.candidate_sites).name} "
                f"lies inside {area.name} (or within --candidates-outside-m "
                f"{config.candidates_outside_m:g} m of it)"
            )
        if outside.any():
            names = [str(n) for n in cand["name"].to_numpy()[outside]]
            candidates_note = (
                f"{int(outside.sum())} of {len(cand)} candidate sites of "
                f"{Path(config.candidate_sites).name} lie outside {area.name} and were left "
                f"out: {', '.join(names[:5])}{' …' if len(names) > 5 else ''} "
                "(--candidates-outside-m M allows a margin)."
            )
        cand_nodes = cand_nodes[~outside]
    else:
        cand_nodes = _thin_candidates(
            network, config.candidate_spacing_m, config.max_candidates, allowed=in_zone
        )
        if len(cand_nodes) == 0:
            raise ValidationError(
                f"no road node lies inside {area.name} to put a booth on; allow a margin "
                "with --candidates-outside-m M"
            )
    cand_nodes = np.concatenate([fixed_nodes, cand_nodes[~np.isin(cand_nodes, fixed_nodes)]])
    cand_nodes = pd.unique(cand_nodes)
    fixed_idx = np.flatnonzero(np.isin(cand_nodes, fixed_nodes))
    cost = network.travel_time_matrix(cand_nodes, demand_nodes).T  # (n_demand, n_cand)
    lap("travel times")

    say("booth siting (MCLP)")
    threshold_s = minutes_to_s(config.threshold_min)
    k_total = len(fixed_idx) + config.booths
    if k_total > len(cand_nodes):
        raise ValidationError(
            f"--booths {config.booths} plus {len(fixed_idx)} fixed sites "
            f"exceeds the {len(cand_nodes)} candidate sites"
        )
    res_mclp = mclp(
        cost,
        demand_w,
        k_total,
        threshold_s,
        fixed=fixed_idx.tolist(),
        time_limit_s=config.time_limit_s,
    )
    lap("MCLP")
    say("p-median")
    res_pmed: SitingResult | None = p_median(
        cost,
        demand_w,
        k_total,
        fixed=fixed_idx.tolist(),
        time_limit_s=config.time_limit_s,
        mip_rel_gap=config.pmedian_gap,
    )
    lap("p-median")

    say("compare layouts")
    ev_st = evaluate_sites(cost, demand_w, fixed_idx, threshold_s) if len(fixed_idx) else None
    tt_st = ev_st.travel_time_s if ev_st is not None else np.full(len(demand_nodes), np.inf)
    rings = [
        ring_stats("stations_only", len(fixed_idx), tt_st, demand_w, threshold_s),
        ring_stats("plan_mclp", k_total, res_mclp.travel_time_s, demand_w, threshold_s),
    ]
    if res_pmed is not None:
        rings.append(
            ring_stats("plan_pmedian", k_total, res_pmed.travel_time_s, demand_w, threshold_s)
        )

    to_wgs = Transformer.from_crs(area.crs, WGS84, always_xy=True)
    dxy = network.node_xy[demand_nodes]
    dlon, dlat = to_wgs.transform(dxy[:, 0], dxy[:, 1])
    demand = pd.DataFrame(
        {
            "node": demand_nodes,
            "x_m": dxy[:, 0],
            "y_m": dxy[:, 1],
            "lon": dlon,
            "lat": dlat,
            "weight": demand_w,
            "tt_stations_s": tt_st,
            "tt_plan_s": res_mclp.travel_time_s,
            "tt_pmedian_s": res_pmed.travel_time_s if res_pmed is not None else np.nan,
        }
    )
    sites = _sites_frame(
        res_mclp, cand_nodes, fixed_idx, fixed, network, demand_w, cost, threshold_s, to_wgs
    )
    lap("compare")
    decisions = None
    if config.decisions is not None:  # how many booths, what each buys, sectors
        decisions, res_mclp, sites, demand, rings = decide_for_plan(
            config.decisions,
            booths=config.booths,
            threshold_s=threshold_s,
            cost=cost,
            demand_w=demand_w,
            fixed_idx=fixed_idx,
            cand_nodes=cand_nodes,
            demand_nodes=demand_nodes,
            network=network,
            area=area,
            incidents=incidents,
            node_of_incident=node_of_incident,
            weights_inc=weights_inc,
            plan=(res_mclp, sites, demand, rings),
            ring_fn=partial(ring_stats, weights=demand_w, threshold_s=threshold_s),
            sites_fn=partial(
                _sites_frame,
                cand_nodes=cand_nodes,
                fixed_idx=fixed_idx,
                fixed=fixed,
                network=network,
                demand_w=demand_w,
                cost=cost,
                threshold_s=threshold_s,
                to_wgs=to_wgs,
            ),
            say=say,
            time_limit_s=config.time_limit_s,
        )
        timings.update(decisions.timings_s)
        cpu.update(decisions.cpu_s)
    return BoothPlan(
        config=config,
        area=area,
        ingest_report=report,
        incidents=incidents,
        n_outside_area=n_outside,
        n_other_types=n_other_types,
        n_fixed_merged=n_fixed_merged,
        network=network,
        where_when=ww,
        hotspots=hotspots,
        sites=sites,
        demand=demand,
        mclp=res_mclp,
        pmedian=res_pmed,
        rings=rings,
        n_candidates=len(cand_nodes),
        snap_median_m=float(np.median(snap_m)) if len(snap_m) else float("nan"),
        snap_quantiles_m=(
            tuple(float(q) for q in np.quantile(snap_m, [0.5, 0.9, 1.0])) if len(snap_m) else None
        ),
        snap_nodes_left_out=n_lifted,
        snap_far_count=int((snap_m > FAR_FROM_ROAD_M).sum()) if snapped else 0,
        snap_count=len(snap_m) if snapped else 0,
        timings_s=timings,
        cpu_s=cpu,
        forecast_note=forecast_note,
        city=city,
        demand_note=demand_note,
        decisions=decisions,
        stations_note=stations_note,
        candidates_note=candidates_note,
        frame_check=frame_checked,
    )


PLAN_SITE_KINDS = ("station", "booth")


def read_sites_csv(path: str | Path, *, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the ``sites.csv`` an ``xunfang plan`` writes, checked: the file exists, it has
    ``name``, ``kind`` and ``columns``, and every kind is station or booth.

    Raises
    ------
    DataFileError
        Naming the file, and the row and field of the first bad kind.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            p, "sites file not found: give the output folder of `xunfang plan` (its sites.csv)"
        )
    df = pd.read_csv(p, dtype={"name": str, "kind": str})
    need = list(dict.fromkeys(("name", "kind", *columns)))
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise DataFileError(
            p, f"missing column(s) {miss} (an `xunfang plan` sites.csv has them)", field=miss[0]
        )
    bad = ~df["kind"].isin(PLAN_SITE_KINDS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(
            p, f"kind {df['kind'].iloc[i]!r} is neither booth nor station", row=i + 1, field="kind"
        )
    return df


def _forecast_weights(
    config: PlanConfig,
    incidents: IncidentTable,
    grid: Grid,
    city: City,
    area: StudyArea,
    network: RoadNetwork,
) -> tuple[np.ndarray, str]:
    """Per-incident demand weights from a forecast of the configured window; ``gbm``
    (also inside ``auto``) gets its context: the type mix of the incidents before the
    window and the place layers of the plan's area (from the plan's road network)."""
    assert config.forecast is not None
    start = config.forecast_start or str(
        (incidents.local_time().max().normalize() + pd.Timedelta(days=1)).date()
    )
    window = rolling_windows(start, 1, config.forecast_window, incidents.timezone)[0]
    ctx = None
    if needs_context([config.forecast]):
        before = (incidents.frame["occurred_at"] < window.start).to_numpy()
        ctx = cell_context(incidents.subset(before), grid, city=city, area=area, network=network)
    forecaster = make_forecaster(config.forecast, grid, context=ctx)
    iw = forecast_demand_weights(incidents, forecaster, window)
    note = (
        f"Demand weighted by the {config.forecast} forecast of {window.label}: "
        f"{iw.weights.sum():.1f} expected incidents, {iw.placed_share:.0%} of the forecast "
        "placed on historical incident locations."
    )
    if ctx is not None and ctx.missing:
        note += " Place layers left out: " + "; ".join(ctx.missing) + "."
    return iw.weights, note


def _fixed_sites(
    config: PlanConfig, city: City, area: StudyArea
) -> tuple[gpd.GeoDataFrame, str | None]:
    """The fixed sites (``fixed_sites``, else the city's stations near the area) and, for
    the city's stations, a sentence naming those left out as too far from the area."""
    if config.fixed_sites is not None:
        return read_sites(config.fixed_sites, frame=config.frame or city.frame), None
    chosen, left_out = city.stations_split(area, buffer_m=config.station_buffer_m)
    if not left_out:
        return chosen, None
    buffer_m = city.station_buffer_m if config.station_buffer_m is None else config.station_buffer_m
    note = Note(
        "stations_left_out",
        used=len(chosen),
        total=len(chosen) + len(left_out),
        source=city.stations.name if city.stations is not None else Note("stations_file"),
        buffer_m=buffer_m,
        area=area.name,
        shown=tuple(Note("station_far", name=n, km=d_m / 1000) for n, d_m in left_out[:5]),
        more=Note("and_more", n=len(left_out) - 5) if len(left_out) > 5 else "",
    )
    return chosen, note


def read_plan_incidents(
    config: PlanConfig, city: City, crs: CRS
) -> tuple[IncidentTable, IngestReport | None]:
    """The incident table of a plan in ``crs`` (empty, without a report, when the demand is
    not incidents and no incident file is at hand): ``config.incident_files`` or the city's,
    read with the config's profile and frame or the city's (an ingested ``.parquet`` or
    folder is read as it is: :func:`xunfang.ingest.incidents.read_ingested_tables`). Used
    once per district by :func:`make_booth_plan` and once for the whole city by
    :mod:`xunfang.plan.city_plan`.

    Raises
    ------
    ValidationError, DataFileError
        As :func:`xunfang.ingest.incidents.ingest` and :meth:`City.incident_files`.
    """
    files = list(config.incident_files) or city.incident_files(
        required=config.demand == "incidents"
    )
    if not files:
        return _empty_incidents(crs, city.timezone or "UTC"), None
    ingested = read_ingested_tables(files, crs)
    if ingested is not None:  # read as `xunfang ingest` wrote it, never ingested again
        return ingested, None
    if config.frame is not None:  # the run's frame covers the incident columns too
        city = replace(
            city, frame=config.frame.lower().replace("-", ""), frame_stated=True, frame_option=True
        )
    prof = city.ingest_profile(config.profile)
    table, _rejected, report = ingest(files, prof, crs=crs, frame=city.incident_frame(prof))
    return table, report


NEAR_OUTSIDE_M = 1000.0
"""How far outside the area :func:`frame_hint` counts incidents as just outside, metres: about
the shift a wrong coordinate frame makes in China (GCJ-02 against WGS-84 a few hundred
metres, BD-09 against GCJ-02 some 0.006-0.0065 degrees, near 1 km: :mod:`xunfang.ingest.coords`)."""


def frame_hint(
    table: IncidentTable, inside: np.ndarray, polygon: BaseGeometry, area_name: str
) -> str:
    """The tail of a "too few incidents inside" message when most of ``table`` falls
    outside the area: how many, how many of them within :data:`NEAR_OUTSIDE_M` of it, and
    to check ``--frame`` (incidents read in the wrong frame land beside the area); ``""``
    when most fall inside.

    Parameters
    ----------
    table
        The incidents read, ``x_m``/``y_m`` in the area's CRS (metres).
    inside
        Boolean array of shape (len(table),): the rows inside the area.
    polygon
        The area, in the table's CRS.
    area_name
        The area's name, for the message.
    """
    n = len(table)
    n_out = n - int(np.count_nonzero(inside))
    if n == 0 or n_out * 2 <= n:
        return ""
    xy = table.xy[~np.asarray(inside, dtype=bool)]
    x0, y0, x1, y1 = polygon.bounds
    d = NEAR_OUTSIDE_M
    box = (xy[:, 0] >= x0 - d) & (xy[:, 0] <= x1 + d) & (xy[:, 1] >= y0 - d) & (xy[:, 1] <= y1 + d)
    shapely.prepare(polygon)
    near = (
        int(np.count_nonzero(shapely.dwithin(polygon, shapely.points(xy[box]), d)))
        if box.any()
        else 0
    )
    return (
        f"; {n_out:,} of the {n:,} incidents read fall outside {area_name}, {near:,} of them "
        f"within 1 km of it: if the area is right, check --frame (the frame of the incident "
        f"coordinates: wgs84, gcj02 or bd09)"
    )


FRAME_CHECK_RATIO = 1.5
"""How many times the incidents inside the area another frame must give, against the frame
they were read in, before :func:`frame_check` reports it."""
FRAME_CHECK_MIN = 20
"""And by at least this many incidents (a few points moved across the boundary by the
offset of a correct frame are not a frame mix-up)."""


def frame_check(
    table: IncidentTable, n_inside: int, polygon: BaseGeometry, read_frame: str
) -> dict[str, Any] | None:
    """Whether the incidents would fall inside the area far more often in another frame.

    The offsets between WGS-84, GCJ-02 and BD-09 are 300-700 m in China: incidents read in
    the wrong frame land beside their streets, and a district's plan silently loses those
    across its boundary. Each incident's coordinates as the file gave them (its WGS-84
    position converted back to ``read_frame``) are read again as each other frame, and the
    incidents inside the area counted. Only for an area in China (elsewhere GCJ-02 is
    WGS-84; a file read as BD-09 outside China is not checked).

    Parameters
    ----------
    table
        The incidents read: ``lon``/``lat`` WGS-84 degrees, ``x_m``/``y_m`` in the area's
        CRS.
    n_inside
        How many of them lie inside the area as read.
    polygon
        The area in the table's CRS.
    read_frame
        The frame the incident file was read in (``wgs84``, ``gcj02``, ``bd09``).

    Returns
    -------
    dict or None
        ``read_frame``, ``n_read``, ``inside`` (as read), ``frame`` (the other frame that
        puts the most inside) and ``inside_other``, when that is at least
        :data:`FRAME_CHECK_RATIO` times ``inside`` and :data:`FRAME_CHECK_MIN` more; else
        ``None``.
    """
    if len(table) == 0 or read_frame not in FRAMES or "lon" not in table.frame:
        return None
    lon = table.frame["lon"].to_numpy(dtype=np.float64)
    lat = table.frame["lat"].to_numpy(dtype=np.float64)
    centre = shapely.centroid(polygon)
    to_lonlat = Transformer.from_crs(table.crs, WGS84, always_xy=True)
    c_lon, c_lat = to_lonlat.transform(centre.x, centre.y)
    if bool(outside_china(c_lon, c_lat)):
        return None
    raw_lon, raw_lat = to_output_frame(lon, lat, read_frame)
    to_xy = Transformer.from_crs(WGS84, table.crs, always_xy=True)
    shapely.prepare(polygon)
    best: tuple[int, str] = (n_inside, read_frame)
    for other in FRAMES:
        if other == read_frame:
            continue
        x, y = to_xy.transform(*to_wgs84(raw_lon, raw_lat, other))
        n = int(np.count_nonzero(shapely.contains_xy(polygon, x, y)))
        if n > best[0]:
            best = (n, other)
    n_other, other = best
    if other == read_frame or n_other < max(
        FRAME_CHECK_RATIO * n_inside, n_inside + FRAME_CHECK_MIN
    ):
        return None
    return {
        "read_frame": read_frame,
        "n_read": len(table),
        "inside": n_inside,
        "frame": other,
        "inside_other": n_other,
    }


def _empty_incidents(crs: CRS, timezone: str) -> IncidentTable:
    """An incident table with no rows (a district planned without history)."""
    frame = pd.DataFrame(
        {
            "incident_id": pd.Series([], dtype=str),
            "occurred_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "time_precision": pd.Series([], dtype=str),
            "type_group": pd.Series([], dtype=str),
            "type": pd.Series([], dtype=str),
            "lon": pd.Series([], dtype=np.float64),
            "lat": pd.Series([], dtype=np.float64),
            "x_m": pd.Series([], dtype=np.float64),
            "y_m": pd.Series([], dtype=np.float64),
        }
    )
    return IncidentTable(frame, crs, timezone)


def road_length_weights(network: RoadNetwork, polygon: BaseGeometry) -> np.ndarray:
    """Demand from road length: each node weighted by half the length of the road pieces
    that meet at it, counting the pieces whose midpoint lies in ``polygon``.

    Parameters
    ----------
    network
        The road network (``edges`` with ``u_index``, ``v_index``, ``length_m``; stitch
        links between areas are left out).
    polygon
        Study area in the network's CRS, metres.

    Returns
    -------
    numpy.ndarray
        Shape (n_nodes,), float64, kilometres of road; sums to the road length in the
        area.
    """
    e = network.edges
    keep = np.array(e["highway"].astype(str) != STITCH_HIGHWAY, dtype=bool)
    mid = shapely.line_interpolate_point(e.geometry.to_numpy(), 0.5, normalized=True)
    keep &= shapely.contains_xy(polygon, shapely.get_x(mid), shapely.get_y(mid))
    half_km = e["length_m"].to_numpy(dtype=np.float64)[keep] / 2000.0
    u = e["u_index"].to_numpy(dtype=np.int64)[keep]
    v = e["v_index"].to_numpy(dtype=np.int64)[keep]
    n = network.n_nodes
    return np.bincount(u, weights=half_km, minlength=n) + np.bincount(
        v, weights=half_km, minlength=n
    )


def _point_weights(
    config: PlanConfig, city: City, network: RoadNetwork, area: StudyArea
) -> tuple[np.ndarray, np.ndarray, str]:
    """Demand from a point file of places to cover: each point's weight (its ``weight``
    column, else 1) on its nearest node; points outside the area are counted, not used."""
    assert config.demand_points is not None
    pts = read_sites(config.demand_points, frame=config.frame or city.frame)
    xy = _project(pts, area.crs)
    inside = shapely.contains_xy(area.polygon, xy[:, 0], xy[:, 1])
    if "weight" in pts.columns:
        w = pd.to_numeric(pts["weight"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(w) & (w >= 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            row_no, feature = site_position(
                config.demand_points, int(pts.attrs["source_rows"][row])
            )
            raise DataFileError(
                config.demand_points,
                f"weight {pts['weight'].iloc[row]!r} is not a number >= 0",
                row=row_no,
                field="weight",
                feature=feature,
            )
    else:
        w = np.ones(len(pts))
    if not inside.any():
        raise ValidationError(
            f"none of the {len(pts)} places of {config.demand_points} lies inside {area.name}"
        )
    nodes, snap_m = network.snap(xy[inside])
    node_weight = np.bincount(nodes, weights=w[inside], minlength=network.n_nodes)
    note = Note(
        "demand_points",
        n=int(inside.sum()),
        file=Path(config.demand_points).name,
        weight=float(w[inside].sum()),
        outside=(
            Note("demand_points_outside", n=int((~inside).sum()), area=str(area.name))
            if (~inside).any()
            else ""
        ),
    )
    return node_weight, snap_m, note


def _snap_sites(
    network: RoadNetwork,
    sites: gpd.GeoDataFrame,
    area: StudyArea,
    source: Path | None,
    max_snap_m: float,
) -> np.ndarray:
    """Network nodes of sites; a site farther than ``max_snap_m`` from the road network
    (outside the area, swapped coordinates, 0/0) is an error naming its file and row."""
    if len(sites) == 0:
        return np.empty(0, np.int64)
    xy = _project(sites, area.crs)
    bad = ~np.isfinite(xy).all(axis=1)
    if not bad.any():
        nodes, dist = network.snap(xy)
        bad = dist > max_snap_m
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        name = sites["name"].iloc[row]
        lon, lat = sites.geometry.x.iloc[row], sites.geometry.y.iloc[row]
        if "source_row" in sites:
            file_row = int(sites["source_row"].iloc[row])
        elif len(sites.attrs.get("source_rows", ())) == len(sites):  # read_sites: file rows
            file_row = int(sites.attrs["source_rows"][row])
        else:
            file_row = row + 1
        row_no, feature = site_position(source, file_row)
        raise DataFileError(
            source or "the city's police stations",
            f"site {name!r} at lon {lon:.6f}, lat {lat:.6f} is more than {max_snap_m:.0f} m from "
            f"the road network of {area.name} ({int(bad.sum())} site(s) like this): outside "
            "the area, or longitude and latitude swapped?",
            row=row_no,
            feature=feature,
        )
    return np.asarray(nodes, dtype=np.int64)


def _project(sites: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    if len(sites) == 0:
        return np.empty((0, 2))
    p = sites.to_crs(crs)
    return np.column_stack([p.geometry.x.to_numpy(), p.geometry.y.to_numpy()])


def _sites_frame(
    res: SitingResult,
    cand_nodes: np.ndarray,
    fixed_idx: np.ndarray,
    fixed: gpd.GeoDataFrame,
    network: RoadNetwork,
    demand_w: np.ndarray,
    cost: np.ndarray,
    threshold_s: float,
    to_wgs: Transformer,
) -> gpd.GeoDataFrame:
    rows: list[dict[str, Any]] = []
    fixed_names = dict(
        zip(fixed_idx.tolist(), list(fixed["name"]) if len(fixed) else [], strict=False)
    )
    booth_no = 0
    for j in res.selected.tolist():
        node = int(cand_nodes[j])
        x, y = network.node_xy[node]
        if j in fixed_names:
            name, kind = str(fixed_names[j]), "station"
        else:
            booth_no += 1
            name, kind = f"B{booth_no:02d}", "booth"
        within = cost[:, j] <= threshold_s
        rows.append(
            {
                "name": name,
                "kind": kind,
                "node": node,
                "osm_id": int(network.node_ids[node]),
                "x_m": float(x),
                "y_m": float(y),
                "incidents_within_threshold": float(demand_w[within].sum()),
                "incidents_nearest": float(demand_w[res.assignment == j].sum()),
            }
        )
    frame = pd.DataFrame(rows)
    lon, lat = to_wgs.transform(frame["x_m"].to_numpy(), frame["y_m"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


@dataclass(frozen=True)
class PlanRecord:
    """What an ``xunfang plan`` output folder says about how it was made
    (``plan_summary.json``), so that ``deploy``, ``simulate`` and ``serve`` rebuild the same
    study area and network.

    Attributes
    ----------
    area
        The study area name as given to the plan.
    city
        The city recorded (``None`` for a plan written before cities were recorded: the
        default city then); when it states no time zone, the one the plan's incidents were
        read in (``incident_timezone``, else the ingest report's), so that ``serve`` of a
        Shanghai plan made with ``--boundary`` reports on Shanghai time, not UTC.
    output_frame
        The frame of the lon/lat in the plan's CSV/GeoJSON files.
    """

    area: str | None
    city: City | None
    output_frame: str


def read_plan_record(plan_dir: str | Path) -> PlanRecord:
    """Read ``plan_summary.json`` of a plan folder.

    Raises
    ------
    DataFileError
        If the file is missing or not a plan summary.
    """

    path = Path(plan_dir) / "plan_summary.json"
    if not path.is_file():
        raise DataFileError(path, "not found: give the output folder of `xunfang plan`")
    doc = strict_json.load_file(path)  # names the file, line and key of a repeated key
    try:
        area = doc.get("area")
        recorded = doc.get("city")
        city = (
            City.from_dict(recorded, source=str(recorded.get("source", path)))
            if isinstance(recorded, dict)
            else None
        )
    except (ValueError, AttributeError) as exc:
        raise DataFileError(path, f"unreadable plan summary: {exc}") from exc
    zone = _recorded_timezone(doc)
    if city is not None and city.timezone is None and zone is not None:
        city = replace(city, timezone=zone)  # the clock the plan's incidents were read on
    return PlanRecord(
        area=None if area is None else str(area),
        city=city,
        output_frame=str(doc.get("output_frame", "wgs84")),
    )


def _recorded_timezone(doc: dict[str, Any]) -> str | None:
    """The time zone a plan summary records for its incidents: ``incident_timezone``, else
    (a plan written before it was recorded) its ingest report's ``timezone``."""
    zone = doc.get("incident_timezone")
    if not zone and isinstance(doc.get("ingest"), dict):
        zone = doc["ingest"].get("timezone")
    return str(zone) if zone else None


def plan_incident_period(plan_dir: str | Path) -> tuple[str, str] | None:
    """The first and last local day (``YYYY-MM-DD``) of the incidents the plan in
    ``plan_dir`` was made from (``incident_period`` of its ``plan_summary.json``), or None
    when the folder has no summary or the summary does not say.

    Raises
    ------
    DataFileError
        If ``plan_summary.json`` is not valid JSON or repeats a key.
    """
    path = Path(plan_dir) / "plan_summary.json"
    if not path.is_file():
        return None
    span = strict_json.load_file(path).get("incident_period")
    if not span or len(span) != 2:
        return None
    return str(span[0])[:10], str(span[1])[:10]


SNAP_FAR_WARN_SHARE = 0.05
"""Share of incidents farther than :data:`~xunfang.ingest.road_network.FAR_FROM_ROAD_M`
from their road node past which a plan warns."""
LEFT_OUT_WARN_SHARE = 0.10
"""Share of the road source's length the largest-component rule may drop before a plan
warns."""


def network_honesty(plan: BoothPlan) -> dict[str, Any]:
    """What the plan's travel times were computed on: how far the incidents lie from the
    road nodes they were snapped to, and how much of the road source the
    largest-strongly-connected-component rule dropped (``plan_summary.json``'s
    ``computed_on``).

    Returns
    -------
    dict
        ``snap``: ``median_m``, ``p90_m``, ``max_m``, ``far_m`` (the threshold,
        :data:`~xunfang.ingest.road_network.FAR_FROM_ROAD_M`), ``far_count``,
        ``far_share`` (0..1), ``count`` (``None`` for road-length demand);
        ``largest_component``:
        :meth:`~xunfang.ingest.road_network.NetworkReport.largest_component_loss`
        (``None`` when the builder did not record it) with ``scope``: ``area`` (the
        area's own road source; for a network cut from a larger one, e.g. a city plan's
        district from the city's, the nodes and streets inside the cut, counting those the
        larger network's rule left out there) or ``cut_from`` (a cut from a network that
        did not record where its losses lie: the figures are that network's, the area's
        own share is not measured); ``warnings``: the keys of the
        figures past :data:`SNAP_FAR_WARN_SHARE` / :data:`LEFT_OUT_WARN_SHARE`
        (``snap_far``, ``largest_component``).
    """
    snap = None
    warn = []
    if plan.snap_count:
        q = plan.snap_quantiles_m or (plan.snap_median_m,) * 3
        share = plan.snap_far_count / plan.snap_count
        snap = {
            "count": plan.snap_count,
            "median_m": round(q[0], 1),
            "p90_m": round(q[1], 1),
            "max_m": round(q[2], 1),
            "far_m": FAR_FROM_ROAD_M,
            "far_count": plan.snap_far_count,
            "far_share": round(share, 4),
        }
        if share > SNAP_FAR_WARN_SHARE:
            warn.append("snap_far")
    raw_loss = plan.network.report.largest_component_loss()
    loss: dict[str, Any] | None = None
    if raw_loss is not None:
        loss = {k: round(v, 4) if isinstance(v, float) else v for k, v in raw_loss.items()}
        # a network cut from a larger one (a city plan's district) has its own figures
        # when the larger one recorded where its rule's losses lie; else it keeps the
        # larger network's: say so, they are not the area's own
        report = plan.network.report
        cut = any(getattr(n, "key", None) == "cut_network" for n in report.notes)
        loss["scope"] = "cut_from" if cut and not report.scc_of_cut else "area"
        if max(loss["share_km"], loss["share_nodes"]) > LEFT_OUT_WARN_SHARE:
            warn.append("largest_component")
    return {"snap": snap, "largest_component": loss, "warnings": warn}


def plan_warnings(plan: BoothPlan, lang: str = "en") -> list[str]:
    """Every warning of a plan in ``lang`` (``en``, ``zh``), for the terminal (single-area
    and city plans) and the report: an area with no fixed station (no station of the
    stations file within the station buffer, and no ``--fixed-sites``: nothing covers it
    around the clock, its booths only in their shifts, so a simulation's ``stations``
    variant serves none of its calls and night calls wait for the morning shift), then
    :func:`network_warnings`."""
    out = []
    if not (plan.sites["kind"] == "station").any():
        out.append(
            f"{plan.area.name} 内及附近没有固定派出所：全天 24 小时无警力覆盖，岗亭只在其班次内覆盖"
            "（仿真“仅派出所”方案中本区警情无一得到处置，夜间警情要等到早班）；请用 --stations "
            "提供派出所，或检查 station_buffer_m"
            if lang == "zh"
            else f"{plan.area.name} has no fixed station in or near it: nothing covers it "
            "around the clock (24 h), its booths only during their shifts (a simulation's "
            '"stations only" serves none of its calls, and night calls wait for the morning '
            "shift); give the stations with --stations, or check station_buffer_m"
        )
    fc = plan.frame_check
    if fc is not None:
        out.append(
            f"按 {fc['read_frame']} 坐标系读取的 {fc['n_read']:,} 起警情中只有 {fc['inside']:,} 起"
            f"位于 {plan.area.name} 内，若按 {fc['frame']} 读取则有 {fc['inside_other']:,} 起："
            f"警情坐标很可能是 {fc['frame']}：请先按该坐标系导入（`xunfang ingest 文件 --frame "
            f'{fc["frame"]} --out 文件夹`；映射文件已写明坐标系时，改为 frame = "{fc["frame"]}" '
            "且不加 --frame），再以 --incidents 文件夹 重新运行（导入的文件夹保持自己的坐标系，"
            "而本命令的 --frame 也作用于边界和站点文件）"
            if lang == "zh"
            else f"of the {fc['n_read']:,} incidents read in frame {fc['read_frame']}, only "
            f"{fc['inside']:,} fall inside {plan.area.name}; read as {fc['frame']}, "
            f"{fc['inside_other']:,} would: the incident coordinates are likely {fc['frame']}; "
            f"ingest them in that frame first (`xunfang ingest FILE --frame {fc['frame']} --out "
            f'DIR`; with a mapping that states a frame, set frame = "{fc["frame"]}" there and give '
            "no --frame) and run again with --incidents DIR (an ingested folder keeps its own "
            "frame, while this command's --frame applies to the boundary and site files too)"
        )
    return out + network_warnings(plan, lang)


def network_warnings(plan: BoothPlan, lang: str = "en") -> list[str]:
    """The sentences of :func:`network_honesty`'s warnings in ``lang`` (``en``, ``zh``),
    for the terminal and the report."""
    h = network_honesty(plan)
    zh = lang == "zh"
    out = []
    if "snap_far" in h["warnings"]:
        s = h["snap"]
        out.append(
            f"{s['far_count']:,} 起警情（{100 * s['far_share']:.0f} %）距其吸附的路网节点超过 "
            f"{s['far_m']:g} 米（中位 {s['median_m']:.0f} 米，90% 分位 {s['p90_m']:.0f} 米）："
            "覆盖率和行车时间按这些节点计算，可能偏乐观；请检查路网是否覆盖整个辖区"
            if zh
            else f"{s['far_count']:,} incidents ({100 * s['far_share']:.0f} %) lie more than "
            f"{s['far_m']:g} m from the road node they were snapped to (median "
            f"{s['median_m']:.0f} m, 90th percentile {s['p90_m']:.0f} m): coverage and "
            "travel times are computed from those nodes and may be optimistic; check that the "
            "road network covers the whole area"
        )
    if "largest_component" in h["warnings"]:
        c = h["largest_component"]
        cut = c.get("scope") == "cut_from"
        of_zh = (
            "本区路网所取自的整体路网（如全市路网；本区自身的比例未单独测算）" if cut else "路网"
        )
        of_en = (
            "the whole road network this area's is cut from (e.g. the city's; this area's "
            "own share is not measured)"
            if cut
            else "the road network"
        )
        out.append(
            f"最大强连通分量规则剔除了{of_zh}的 {100 * c['share_km']:.0f} %"
            f"（{c['km_left_out']:.1f} / "
            f"{c['km']:.1f} 公里，{c['nodes_left_out']:,} / {c['nodes']:,} 个节点）：这些道路只能"
            "单向进出或与主路网不相连（驶出道路文件的单行道和匝道、孤立路段），警情改吸附到更远的节点"
            if zh
            else f"the largest-strongly-connected-component rule dropped "
            f"{100 * c['share_km']:.0f} % of {of_en} ({c['km_left_out']:.1f} of "
            f"{c['km']:.1f} km, {c['nodes_left_out']:,} of {c['nodes']:,} nodes): those "
            "streets cannot be both reached and left from the rest (one-way streets and ramps "
            "leading out of the road file, pieces joined to nothing), so incidents near them "
            "snap to farther nodes"
        )
    return out
