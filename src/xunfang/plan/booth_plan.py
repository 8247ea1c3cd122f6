"""The main job: a district's incident history -> a booth plan.

Steps (each timed and reported):

1. ingest the incident files (every rejected row counted with its reason);
2. select the study area and keep the incidents inside it;
3. build the drivable road network of the area (stitched per community area);
4. count where and when incidents concentrate (grid x hour of week x type group);
5. snap incidents, stations and candidate sites to the network and compute the
   candidate -> demand travel-time matrix;
6. site K booths by MCLP with the stations fixed, and solve the p-median with the same
   number of sites for comparison;
7. compare stations alone with stations plus booths on the same incidents
   (share within 1, 3 and 5 minutes; mean and 90th percentile travel time).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from xunfang.analyse.forecast import forecast_demand_weights, make_forecaster, rolling_windows
from xunfang.analyse.grid import Grid
from xunfang.analyse.hotspots import HotspotSummary, WhereWhen, summarise_hotspots, where_when
from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import StudyArea, load_study_area
from xunfang.ingest.incidents import IncidentTable, IngestReport, ingest, read_incident_table
from xunfang.ingest.network import RoadNetwork, build_area_network
from xunfang.ingest.sites import read_sites, stations_near
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.plan.siting import SitingResult, evaluate_sites, mclp, p_median, weighted_quantile
from xunfang.units import WGS84, minutes_to_s

RESPONSE_RINGS_S = (60.0, 180.0, 300.0)
"""The 1-3-5 minute circle, seconds."""
MIN_INCIDENTS = 30
"""Fewer incidents than this make no basis for a plan."""


@dataclass(frozen=True)
class PlanConfig:
    """What to plan.

    Attributes
    ----------
    area
        Study area name (see :func:`xunfang.ingest.areas.load_study_area`).
    crs
        Projected analysis CRS in metres; default the UTM zone of the area's centroid.
    booths
        Number of booths to site, not counting the fixed sites.
    threshold_min
        MCLP coverage threshold, minutes of drive.
    cell_m
        Grid cell side for the where/when analysis, metres.
    incident_files
        Incident files; default every ``*.csv*`` under
        ``DATA_DIR/chicago/incidents_2014_2015``. A ``.parquet`` written by
        ``xunfang ingest`` is read as it is.
    profile
        Ingest profile of the incident files.
    types
        Type groups that make the demand (default all).
    fixed_sites
        CSV of existing sites kept open; default the police stations in or within
        ``station_buffer_m`` of the area.
    candidate_sites
        CSV of candidate booth sites; default network intersections.
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
    """

    area: str
    crs: str | None = None
    booths: int = 27
    threshold_min: float = 3.0
    cell_m: float = 150.0
    incident_files: tuple[Path, ...] = ()
    profile: str = "chicago"
    types: tuple[str, ...] = ()
    fixed_sites: Path | None = None
    candidate_sites: Path | None = None
    candidate_spacing_m: float = 100.0
    max_candidates: int = 2000
    station_buffer_m: float = 500.0
    max_site_snap_m: float = 300.0
    stitch_threshold_m: float = 60.0
    same_name_threshold_m: float = 200.0
    hotspot_cells: int = 12
    kde_bandwidth_m: float = 250.0
    time_limit_s: float = 60.0
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

    def validate(self) -> None:
        """Raise ValidationError naming the first bad option."""
        if self.booths < 0:
            raise ValidationError(f"--booths must be >= 0, got {self.booths}")
        if not self.threshold_min > 0:
            raise ValidationError(f"--threshold-min must be > 0, got {self.threshold_min}")
        if not self.cell_m > 0:
            raise ValidationError(f"--cell-m must be > 0, got {self.cell_m}")
        if self.max_candidates < 1:
            raise ValidationError(f"max_candidates must be >= 1, got {self.max_candidates}")


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
    forecast_note: str | None = None
    """What the forecast demand was (method, window, share of the forecast placed)."""


def _default_incident_files(settings: Settings) -> list[Path]:
    folder = settings.city_dir("chicago") / "incidents_2014_2015"
    files = sorted(Path(p) for p in glob.glob(str(folder / "*.csv*")))
    if not files:
        raise ValidationError(
            f"no incident files in {folder}; pass incident files explicitly "
            "or run `xunfang data fetch chicago`"
        )
    return files


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


def _thin_candidates(network: RoadNetwork, spacing_m: float, max_candidates: int) -> np.ndarray:
    """Intersection nodes (3+ distinct neighbours), at most one per ``spacing_m`` square,
    the spacing growing by 25 % until at most ``max_candidates`` remain."""
    m = network.matrix
    sym = (m + m.T).tocsr()
    degree = np.diff(sym.indptr)
    nodes = np.flatnonzero(degree >= 3)
    if len(nodes) == 0:
        nodes = np.arange(len(network.node_ids))
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
) -> BoothPlan:
    """Run the main job. See the module docstring for the steps.

    ``incidents``, when given, is an already ingested table (any projected CRS) used instead
    of ``config.incident_files`` (the city plan ingests once for every district).

    Raises
    ------
    ValidationError
        For bad options or files (naming them); the errors of the steps pass through.
    """
    config.validate()
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = now - t0
        t0 = now

    city = settings.city_dir("chicago")
    boundary_dir = city / "boundaries"
    say("study area")
    area = load_study_area(boundary_dir, config.area, crs=config.crs)
    lap("study area")

    say("ingest incidents")
    files = list(config.incident_files)
    if incidents is None and not files:
        files = _default_incident_files(settings)
    report: IngestReport | None
    if incidents is not None:
        table, report = incidents.reproject(area.crs), None
    elif len(files) == 1 and files[0].suffix == ".parquet":
        table, report = read_incident_table(files[0]).reproject(area.crs), None
    else:
        table, _rejected, report = ingest(files, config.profile, crs=area.crs)
    inside = shapely.contains_xy(
        area.polygon, table.frame["x_m"].to_numpy(), table.frame["y_m"].to_numpy()
    )
    n_outside = int((~inside).sum())
    n_other_types = 0
    if config.types:
        wanted = {t.strip().lower() for t in config.types}
        present = set(table.frame["type_group"].unique())
        known = set(load_taxonomy().groups)
        unknown = wanted - known
        if unknown:
            raise ValidationError(
                f"--types {sorted(unknown)}: not type groups; use some of {sorted(known)}"
            )
        if not wanted & present:
            raise ValidationError(
                f"--types {sorted(wanted)}: no such incidents in the data; groups present: "
                f"{sorted(present)}"
            )
        of_type = table.frame["type_group"].isin(wanted).to_numpy()
        n_other_types = int((inside & ~of_type).sum())
        inside &= of_type
    incidents = table.subset(inside)
    if len(incidents) == 0:
        raise ValidationError(f"no incidents inside {area.name}: check the area and the files")
    if len(incidents) < MIN_INCIDENTS:
        raise ValidationError(
            f"only {len(incidents)} incidents inside {area.name} (of the chosen types): too few "
            f"to site booths on (at least {MIN_INCIDENTS}); widen --types or the period"
        )
    lap("ingest")

    say("road network")
    network = build_area_network(
        city,
        area,
        stitch_threshold_m=config.stitch_threshold_m,
        same_name_threshold_m=config.same_name_threshold_m,
    )
    lap("network")

    say("where and when")
    grid = Grid.from_polygon(area.polygon, config.cell_m, area.crs)
    ww = where_when(incidents, grid)
    hotspots = summarise_hotspots(ww, n_cells=config.hotspot_cells)
    lap("where/when")

    say("travel times")
    node_of_incident, snap_m = network.snap(incidents.xy)
    weights_inc = (
        np.ones(len(incidents))
        if config.demand_weights is None
        else np.asarray(config.demand_weights, dtype=np.float64)
    )
    forecast_note = None
    if config.forecast:
        say("forecast")
        weights_inc, forecast_note = _forecast_weights(config, incidents, grid)
    if len(weights_inc) != len(incidents):
        raise ValidationError(
            f"demand_weights has {len(weights_inc)} values for {len(incidents)} incidents"
        )
    node_weight = np.bincount(
        node_of_incident, weights=weights_inc, minlength=len(network.node_ids)
    )
    demand_nodes = np.flatnonzero(node_weight > 0)
    demand_w = node_weight[demand_nodes]

    fixed = _fixed_sites(config, settings, area)
    fixed_nodes = _snap_sites(network, fixed, area, config.fixed_sites, config.max_site_snap_m)
    n_fixed_merged = len(fixed_nodes) - len(np.unique(fixed_nodes))
    if config.candidate_sites is not None:
        cand = read_sites(config.candidate_sites)
        cand_nodes = _snap_sites(
            network, cand, area, config.candidate_sites, config.max_site_snap_m
        )
    else:
        cand_nodes = _thin_candidates(network, config.candidate_spacing_m, config.max_candidates)
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
        cost, demand_w, k_total, fixed=fixed_idx.tolist(), time_limit_s=config.time_limit_s
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
        snap_median_m=float(np.median(snap_m)),
        timings_s=timings,
        forecast_note=forecast_note,
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
    config: PlanConfig, incidents: IncidentTable, grid: Grid
) -> tuple[np.ndarray, str]:
    """Per-incident demand weights from a forecast of the configured window."""
    assert config.forecast is not None
    start = config.forecast_start or str(
        (incidents.local_time().max().normalize() + pd.Timedelta(days=1)).date()
    )
    window = rolling_windows(start, 1, config.forecast_window, incidents.timezone)[0]
    forecaster = make_forecaster(config.forecast, grid)
    iw = forecast_demand_weights(incidents, forecaster, window)
    note = (
        f"Demand weighted by the {config.forecast} forecast of {window.label}: "
        f"{iw.weights.sum():.1f} expected incidents, {iw.placed_share:.0%} of the forecast "
        "placed on historical incident locations."
    )
    return iw.weights, note


def _fixed_sites(config: PlanConfig, settings: Settings, area: StudyArea) -> gpd.GeoDataFrame:
    if config.fixed_sites is not None:
        return read_sites(config.fixed_sites)
    return stations_near(settings.city_dir("chicago"), area, buffer_m=config.station_buffer_m)


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
        raise DataFileError(
            source or "police stations",
            f"site {name!r} at lon {lon:.6f}, lat {lat:.6f} is more than {max_snap_m:.0f} m from "
            f"the road network of {area.name} ({int(bad.sum())} site(s) like this): outside "
            "the area, or longitude and latitude swapped?",
            row=row + 1,
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
