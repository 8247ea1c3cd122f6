"""Dynamic deployment: who is where, block by block, over a week, with patrol routes.

The booths of a booth plan are staffed around the clock; the rest of the force moves, block by
block, to where the risk is: school gates at dismissal, vehicle-crime streets at night, busy
blocks at peak hours. For every time block (:func:`xunfang.plan.roster.make_blocks`):

1. **Officers available.** The officers of the block's shift, less the *relief* officers who
   stand in for colleagues on their meal break. Breaks are staggered: officer ``k`` of a shift
   takes a ``break_minutes`` break in interior block ``k mod n_interior`` (the first and last
   block of a shift have no breaks when the shift has three or more blocks), in slot
   ``(k div n_interior) mod n_slots`` of that block (slots of ``break_minutes``). The relief of
   a block is the largest number of officers on break in the same slot: enough stand-ins so
   that every post keeps its staff throughout the block.
2. **Fixed posts.** Every booth keeps its minimum staff (roster); every rule window of the
   calendar that overlaps the block puts its minimum presence at each of its places (school
   gates; several windows at one place in one block need the largest of their minima, not the
   sum). If a block has fewer officers than these posts need, the roster is refused with a
   message naming the shift's ``officers`` field and the blocks short.
3. **Mobile units and foot patrols.** The officers left form as many vehicle crews as the
   shift has vehicles (``crew_per_vehicle`` each); the rest walk. Where they go is a covering
   model per block with the booths and rule posts fixed: the maximal covering location problem
   (Church & ReVelle 1974) extended with backup coverage (Hogan, K. & ReVelle, C. (1986),
   "Concepts and applications of backup coverage", *Management Science* 32(11), 1434-1444)::

       max  sum_i w_i z1_i + beta * sum_i w_i z2_i
       s.t. z1_i + z2_i - sum_j a_ij y_j - sum_j b_ij f_j <= c_i     (each demand point i)
            z2_i <= z1_i
            sum_j y_j = n_vehicles,  sum_j f_j = n_foot
            y, f binary;  0 <= z1, z2 <= 1

   ``w_i`` is the block's risk at demand point ``i``; ``a_ij`` (``b_ij``) is 1 when a vehicle
   (a walker) at candidate ``j`` reaches ``i`` within ``threshold_min`` by road (driving,
   resp. walking at ``walk_speed_kph``); ``c_i`` counts the fixed posts within reach (booths
   driving, rule posts walking). ``z1`` is first coverage, ``z2`` second (backup) coverage,
   worth ``beta`` of the first. The booths of a dense plan already cover most risk once, so
   the backup term is what draws units to the riskiest streets. Solved exactly with HiGHS.
   Candidates are the ``n_candidates`` demand points with the largest summed share of block
   risk over the week (the same list in every block).
4. **Patrol routes.** The block's hottest demand points are shared among the mobile units,
   nearest first with at most ``2 * max_stops`` each (:func:`share_stops`); each unit's route
   from and back to its position visits its share with 10-15 minute stops within the block
   (:mod:`xunfang.plan.routes`). Vehicles keep their crews over a shift, and are matched to
   the new positions of each block so that the total move is shortest (Hungarian method,
   Kuhn 1955, as :func:`scipy.optimize.linear_sum_assignment`).
5. **Sector patrols (区块警务).** With the plan's patrol sectors (``sectors.geojson``), one
   officer of each booth walks a loop of ``sector_patrol_min`` minutes per block over the
   riskiest hotspots of the booth's own sector, on the sector's streets
   (:mod:`xunfang.plan.sector_patrol`, which states the rules). Without sectors booth
   officers stay at their booths.

Risk per block is a pluggable surface: any callable ``risk(block) -> BlockRisk`` (the
:class:`RiskModel` protocol). The default, :class:`HourOfWeekRisk`, is the historical
hour-of-week profile of :func:`xunfang.analyse.hotspots.where_when` per grid cell, in incidents
per week, shrunk toward the separable "where x when" estimate (the raw cube is sparse) and
weighted by the calendar's type emphasis (e.g. vehicle-related x2 at night). A forecast plugs
in through :meth:`BlockRisk.from_cells` (per-cell forecasts) or by returning node weights
directly, e.g.::

    def forecast_risk(block):
        cells = forecaster.predict(window_of(block))        # (n_cells,) expected counts
        return BlockRisk.from_cells(grid, cells, network)

    plan_deployment(network, sites, roster, forecast_risk, calendar=cal)

Known simplifications (stated in the report): a rule-post officer is assigned for the whole
block that contains the window (the window's clock times are in the schedule); a walker's reach
uses the drivable street graph (footpaths and plazas are not in it: conservative); streets are
two-way (no one-way data); relief officers are placed at the station.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import dijkstra

from xunfang import strict_json
from xunfang.analyse.grid import Grid
from xunfang.analyse.hotspots import WhereWhen, where_when
from xunfang.config import Settings
from xunfang.errors import DataFileError, SolverError, ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import (
    IncidentTable,
    IngestReport,
    bulk_span,
    ingest,
    read_ingested_tables,
)
from xunfang.ingest.network import RoadNetwork
from xunfang.ingest.notes import Note
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.plan._highs import new_highs, pass_model
from xunfang.plan.booth_plan import BoothPlan, check_threshold_min, read_sites_csv
from xunfang.plan.roster import (
    DAY_NAMES,
    Roster,
    RuleCalendar,
    Shift,
    TimeBlock,
    format_minute_of_week,
    load_calendar,
    load_roster,
    make_blocks,
)
from xunfang.plan.routes import Route, path_between, route_in_block
from xunfang.plan.sector_patrol import SectorMap, SectorPatrols, read_sectors, sector_map
from xunfang.units import HOURS_PER_WEEK, WGS84, kph_to_mps, minutes_to_s

__all__ = [
    "POST_KINDS",
    "BlockRisk",
    "CoverAllocation",
    "DeployConfig",
    "Deployment",
    "HourOfWeekRisk",
    "PlanContext",
    "RiskModel",
    "allocate_cover",
    "break_plan",
    "deploy_from_booth_plan",
    "deploy_from_plan_dir",
    "load_plan_context",
    "locate_places",
    "network_for_area",
    "plan_deployment",
    "read_plan_sites",
    "share_stops",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

POST_KINDS = ("booth", "rule", "mobile", "foot", "relief", "reserve")
"""Post kinds of the deployment table, in the order officers are given to them."""

_HIGHS_INF: float = float(highspy.kHighsInf)


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class DeployConfig:
    """Options of :func:`plan_deployment`.

    Attributes
    ----------
    block_hours
        Block length, hours (blocks start at the shift starts).
    threshold_min
        Coverage standard T, minutes: a post covers the demand it reaches within T; in
        (0, :data:`xunfang.plan.booth_plan.MAX_THRESHOLD_MIN`].
    backup_weight
        Worth of a second coverage relative to the first (``beta``, in [0, 1]).
    walk_speed_kph
        Walking speed of foot patrols and rule posts, km/h.
    n_candidates
        Patrol-line positions offered to the covering model.
    max_stops
        Most hotspots offered to one route is ``2 * max_stops``; the block length decides how
        many are visited.
    dwell_min
        (shortest, longest) stop, minutes (Koper 1995).
    tie_tolerance, order_jitter
        Seeded route variation (see :mod:`xunfang.plan.routes`).
    route_search
        ``"greedy_descent"`` (deterministic) or ``"guided_local_search"`` (see
        :func:`xunfang.plan.routes.solve_route`).
    route_time_limit_s
        Time limit of one route search, seconds.
    seed
        Seed of the route variation.
    time_limit_s
        HiGHS time limit per block, seconds.
    mip_rel_gap
        HiGHS relative gap per block.
    sector_patrol_min
        Length of a booth officer's loop of the booth's sector in each block, minutes (only
        with sectors; 0: booth officers stay at their booths).
    """

    block_hours: float = 2.0
    threshold_min: float = 1.0
    backup_weight: float = 0.5
    walk_speed_kph: float = 5.0
    n_candidates: int = 120
    max_stops: int = 8
    dwell_min: tuple[float, float] = (10.0, 15.0)
    tie_tolerance: float = 0.1
    order_jitter: float = 0.05
    route_search: str = "greedy_descent"
    route_time_limit_s: float = 0.1
    seed: int = 0
    time_limit_s: float = 10.0
    mip_rel_gap: float = 1e-6
    sector_patrol_min: float = 45.0

    def validate(self) -> None:
        """Raise ValidationError naming the first bad option."""
        check_threshold_min(self.threshold_min)
        if not 0 <= self.backup_weight <= 1:
            raise ValidationError(f"backup_weight must be in [0, 1], got {self.backup_weight}")
        if not self.walk_speed_kph > 0:
            raise ValidationError(f"walk_speed_kph must be > 0, got {self.walk_speed_kph}")
        if self.n_candidates < 1:
            raise ValidationError(f"n_candidates must be >= 1, got {self.n_candidates}")
        if self.max_stops < 0:
            raise ValidationError(f"--max-stops must be >= 0, got {self.max_stops}")
        lo, hi = self.dwell_min
        if not 0 < lo <= hi:
            raise ValidationError(
                f"dwell_min must be 0 < shortest <= longest, got {self.dwell_min}"
            )
        if not 0 <= self.tie_tolerance < 1 or not 0 <= self.order_jitter < 1:
            raise ValidationError("tie_tolerance and order_jitter must be in [0, 1)")
        if self.route_search not in ("greedy_descent", "guided_local_search"):
            raise ValidationError(
                "route_search must be 'greedy_descent' or 'guided_local_search', "
                f"got {self.route_search!r}"
            )
        if not self.route_time_limit_s > 0:
            raise ValidationError(f"route_time_limit_s must be > 0, got {self.route_time_limit_s}")
        if self.seed < 0:
            raise ValidationError(f"--seed must be >= 0, got {self.seed}")
        if not self.sector_patrol_min >= 0:
            raise ValidationError(f"--sector-patrol-min must be >= 0, got {self.sector_patrol_min}")


# --------------------------------------------------------------------------- risk surfaces
@dataclass(frozen=True)
class BlockRisk:
    """Risk of one block on the road network.

    Attributes
    ----------
    node
        (m,) int64 network node indices, unique.
    weight
        (m,) float64 >= 0: expected incidents at each node during the block (any consistent
        unit works; shares are reported).
    """

    node: IntArray
    weight: FloatArray

    @classmethod
    def from_cells(
        cls,
        grid: Grid,
        cell_values: ArrayLike,
        network: RoadNetwork,
        cells: ArrayLike | None = None,
    ) -> BlockRisk:
        """Move per-cell risk (e.g. a grid forecast) to the network node nearest each cell
        centre, summing cells that share a node.

        Parameters
        ----------
        grid
            The forecast's grid, in ``network.crs``.
        cell_values
            (n_cells,) values for every cell of ``grid``, or (len(cells),) for ``cells``.
        network
            The road network.
        cells
            Optional cell ids the values belong to.

        Raises
        ------
        ValidationError
            If the grid and network CRS differ, the shapes do not match, or a value is
            negative or not finite.
        """
        if grid.crs != network.crs:
            raise ValidationError(
                f"the grid is in {grid.crs.to_string()} but the network in "
                f"{network.crs.to_string()}: use one CRS"
            )
        vals = np.asarray(cell_values, dtype=np.float64)
        ids = np.arange(grid.n_cells) if cells is None else np.asarray(cells, dtype=np.int64)
        if vals.shape != ids.shape:
            raise ValidationError(f"{vals.shape[0]} cell values for {ids.shape[0]} cells")
        if not np.isfinite(vals).all() or (vals < 0).any():
            raise ValidationError("cell risk values must be finite and >= 0")
        keep = vals > 0
        node, _ = network.snap(grid.centres(ids[keep]))
        uniq, inv = np.unique(node, return_inverse=True)
        return cls(uniq.astype(np.int64), np.bincount(inv, weights=vals[keep]).astype(np.float64))


class RiskModel(Protocol):
    """Anything that gives the risk of a block: ``risk(block) -> BlockRisk``."""

    def __call__(self, block: TimeBlock) -> BlockRisk:
        """Risk of ``block`` on the network."""
        ...


@dataclass(frozen=True)
class HourOfWeekRisk:
    """The default risk surface: historical incidents per week by cell and hour of week,
    shrunk toward a separable model.

    A cell's count in one hour of the week is sparse (most cells see no incident in a given
    2-hour slot over a year or two), so the raw cube is blended with the separable estimate
    "the cell's share of the group's incidents x the group's incidents in that hour of the
    week over the whole area" (the product of the spatial and the temporal margins, a
    standard independence model for a two-way table)::

        risk(i, h) = sum_g emphasis(g, h) * ((1 - s) * raw(g, h, i) + s * space(g, i) * time(g, h))

    with ``s = smoothing`` in [0, 1]. Both terms are incidents per week and sum to the same
    area total per hour, so shares are unchanged by ``s`` at the area level.

    Attributes
    ----------
    nodes
        (m,) int64 network nodes (grid cell centres snapped to the network).
    matrix
        CSR (n_groups * 168, m): raw incidents per week of group ``g`` in hour ``h`` at node
        ``i`` is ``matrix[g * 168 + h, i]``.
    space
        (n_groups, m): each node's share of the group's timed incidents.
    time
        (n_groups, 168): the group's incidents per week in each hour of the week (area).
    groups
        Type groups, row order.
    emphasis
        (n_groups, 168) weights (1 = none).
    n_weeks
        Weeks of history the counts were divided by.
    smoothing
        Weight ``s`` of the separable term.
    """

    nodes: IntArray
    matrix: sp.csr_matrix
    space: FloatArray
    time: FloatArray
    groups: tuple[str, ...]
    emphasis: FloatArray
    n_weeks: float
    smoothing: float

    @classmethod
    def from_where_when(
        cls,
        ww: WhereWhen,
        network: RoadNetwork,
        *,
        n_weeks: float,
        emphasis: ArrayLike | None = None,
        smoothing: float = 0.5,
    ) -> HourOfWeekRisk:
        """Build it from :func:`xunfang.analyse.hotspots.where_when` output.

        Parameters
        ----------
        ww
            The where/when counts (``cell_hours``: timed incidents only).
        network
            Road network in ``ww.grid.crs``.
        n_weeks
            Weeks of history (> 0): counts become incidents per week.
        emphasis
            (len(ww.groups), 168) weights, e.g. :meth:`RuleCalendar.emphasis_matrix`.
        smoothing
            Weight of the separable term, in [0, 1] (0 = the raw hour-of-week counts).

        Raises
        ------
        ValidationError
            For a CRS mismatch, a non-positive ``n_weeks``, a bad emphasis shape or a
            smoothing outside [0, 1].
        """
        if ww.grid.crs != network.crs:
            raise ValidationError("the where/when grid and the network must share one CRS")
        if not n_weeks > 0:
            raise ValidationError(f"n_weeks must be > 0, got {n_weeks}")
        if not 0 <= smoothing <= 1:
            raise ValidationError(f"smoothing must be in [0, 1], got {smoothing}")
        ch = ww.cell_hours
        groups = tuple(ww.groups)
        n_g = len(groups)
        cells = np.unique(ch["cell"].to_numpy(dtype=np.int64))
        node_of_cell, _ = network.snap(ww.grid.centres(cells))
        nodes, col_of_cell = np.unique(node_of_cell, return_inverse=True)
        col = col_of_cell[np.searchsorted(cells, ch["cell"].to_numpy(dtype=np.int64))]
        g = pd.Categorical(ch["type_group"], categories=list(groups)).codes.astype(np.int64)
        how = ch["hour_of_week"].to_numpy(dtype=np.int64)
        per_week = ch["count"].to_numpy(dtype=np.float64) / n_weeks
        mat = sp.csr_matrix(
            (per_week, (g * HOURS_PER_WEEK + how, col)),
            shape=(n_g * HOURS_PER_WEEK, nodes.size),
        )
        space = np.zeros((n_g, nodes.size))
        np.add.at(space, (g, col), per_week)
        tot = space.sum(axis=1, keepdims=True)
        space = np.divide(space, tot, out=np.zeros_like(space), where=tot > 0)
        tm = np.zeros((n_g, HOURS_PER_WEEK))
        np.add.at(tm, (g, how), per_week)
        emph = (
            np.ones((n_g, HOURS_PER_WEEK))
            if emphasis is None
            else np.asarray(emphasis, dtype=np.float64)
        )
        if emph.shape != (n_g, HOURS_PER_WEEK):
            raise ValidationError(
                f"emphasis must have shape ({n_g}, {HOURS_PER_WEEK}), got {emph.shape}"
            )
        return cls(
            nodes.astype(np.int64), mat, space, tm, groups, emph, float(n_weeks), float(smoothing)
        )

    def __call__(self, block: TimeBlock) -> BlockRisk:
        """Expected incidents per node in ``block``: the block's hours, each weighted by the
        minutes of it the block holds and by the type emphasis."""
        hours, minutes = block.hour_weights()
        n_g = len(self.groups)
        coef = self.emphasis[:, hours] * (minutes / 60.0)[None, :]  # (n_g, k)
        rows = (np.arange(n_g)[:, None] * HOURS_PER_WEEK + hours[None, :]).ravel()
        raw = np.asarray(coef.ravel() @ self.matrix[rows]).ravel()
        separable = ((coef * self.time[:, hours]).sum(axis=1)) @ self.space
        s = self.smoothing
        return BlockRisk(self.nodes, (1.0 - s) * raw + s * separable)


# --------------------------------------------------------------------------- covering model
@dataclass(frozen=True)
class CoverAllocation:
    """Answer of :func:`allocate_cover`.

    Attributes
    ----------
    vehicle_sites, foot_sites
        Candidate indices chosen for the vehicles and the walkers (sorted; a candidate may
        hold one of each).
    coverage
        (m,) int64: posts (fixed and chosen) within reach of each demand point.
    objective
        ``sum w z1 + beta * sum w z2`` including the demand left out of the model.
    status
        ``"optimal"``, ``"no_choice"`` (nothing to place) or another HiGHS status.
    mip_gap
        Relative gap proved by HiGHS (0 when optimal within tolerance).
    solve_time_s
        HiGHS run time, seconds.
    """

    vehicle_sites: IntArray
    foot_sites: IntArray
    coverage: IntArray
    objective: float
    status: str
    mip_gap: float
    solve_time_s: float


def _cover_value(count: IntArray, w: FloatArray, beta: float) -> float:
    return float(w @ (np.minimum(count, 1) + beta * np.clip(count - 1, 0, 1)))


def allocate_cover(
    weight: ArrayLike,
    fixed_cover: ArrayLike,
    vehicle_cover: ArrayLike,
    foot_cover: ArrayLike,
    n_vehicles: int,
    n_foot: int,
    *,
    backup_weight: float = 0.5,
    time_limit_s: float = 10.0,
    mip_rel_gap: float = 1e-6,
) -> CoverAllocation:
    """Place vehicles and walkers to maximise first plus backup coverage (module notes, step 3).

    Parameters
    ----------
    weight
        (m,) risk of each demand point, >= 0.
    fixed_cover
        (m,) int, fixed posts (booths, rule posts) already within reach of each point.
    vehicle_cover
        (n_cand, m) bool, a vehicle at candidate ``j`` reaches point ``i`` within T.
    foot_cover
        (n_cand, m) bool, the same for a walker.
    n_vehicles, n_foot
        How many of each to place (each candidate holds at most one of each kind), ``<=
        n_cand``.
    backup_weight
        ``beta`` in [0, 1].
    time_limit_s, mip_rel_gap
        HiGHS options.

    Returns
    -------
    CoverAllocation

    Raises
    ------
    ValidationError
        Shapes that do not match, negative weights or counts, more units than candidates.
    SolverError
        HiGHS fails without a feasible solution.
    """
    w = np.asarray(weight, dtype=np.float64)
    c = np.asarray(fixed_cover, dtype=np.int64)
    a = np.asarray(vehicle_cover, dtype=bool)
    b = np.asarray(foot_cover, dtype=bool)
    m = w.size
    if c.shape != (m,) or a.ndim != 2 or a.shape[1] != m or b.shape != a.shape:
        raise ValidationError(
            f"shapes do not match: weight {w.shape}, fixed_cover {c.shape}, vehicle_cover "
            f"{a.shape}, foot_cover {b.shape} (want (m,), (m,), (n_cand, m), (n_cand, m))"
        )
    if not np.isfinite(w).all() or (w < 0).any() or (c < 0).any():
        raise ValidationError("weights must be finite and >= 0, fixed_cover >= 0")
    n_cand = a.shape[0]
    if not (0 <= n_vehicles <= n_cand and 0 <= n_foot <= n_cand):
        raise ValidationError(
            f"cannot place {n_vehicles} vehicles and {n_foot} walkers on {n_cand} candidates"
        )
    beta = float(backup_weight)
    empty = np.zeros(0, dtype=np.int64)
    if n_vehicles == 0 and n_foot == 0:
        return CoverAllocation(
            empty, empty, c.copy(), _cover_value(c, w, beta), "no_choice", 0.0, 0.0
        )

    reach = a.any(axis=0) | b.any(axis=0)
    rows = np.flatnonzero((w > 0) & (c < 2) & reach)
    const_rows = np.setdiff1d(np.arange(m), rows)
    const = _cover_value(c[const_rows], w[const_rows], beta)
    k = rows.size
    # columns: y (n_cand), f (n_cand), z1 (k), z2 (k)
    ay = a[:, rows].T  # (k, n_cand)
    bf = b[:, rows].T
    ri, cj = np.nonzero(ay)
    fi, fj = np.nonzero(bf)
    z = np.arange(k)
    y0, f0, z10, z20 = 0, n_cand, 2 * n_cand, 2 * n_cand + k
    r_rows = np.concatenate(
        [ri, fi, z, z, k + z, k + z, np.full(n_cand, 2 * k), np.full(n_cand, 2 * k + 1)]
    )
    r_cols = np.concatenate(
        [
            y0 + cj,
            f0 + fj,
            z10 + z,
            z20 + z,
            z10 + z,
            z20 + z,
            y0 + np.arange(n_cand),
            f0 + np.arange(n_cand),
        ]
    )
    vals = np.concatenate(
        [
            -np.ones(ri.size),
            -np.ones(fi.size),
            np.ones(k),
            np.ones(k),
            -np.ones(k),
            np.ones(k),
            np.ones(2 * n_cand),
        ]
    )
    n_col = 2 * n_cand + 2 * k
    n_row = 2 * k + 2
    mat = sp.csc_matrix((vals, (r_rows, r_cols)), shape=(n_row, n_col))
    mat.sum_duplicates()
    cost = np.concatenate([np.zeros(2 * n_cand), w[rows], beta * w[rows]])
    row_lower = np.concatenate([np.full(2 * k, -_HIGHS_INF), [n_vehicles, n_foot]]).astype(float)
    row_upper = np.concatenate([c[rows].astype(float), np.zeros(k), [n_vehicles, n_foot]])
    integrality = np.zeros(n_col, dtype=np.int32)
    integrality[: 2 * n_cand] = 1
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    pass_model(
        h,
        mat,
        cost,
        np.zeros(n_col),
        np.ones(n_col),
        row_lower,
        row_upper,
        integrality,
        maximise=True,
    )
    h.run()
    info = h.getInfo()
    model_status = h.getModelStatus()
    has_solution = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    if not has_solution:
        raise SolverError(
            f"HiGHS found no allocation (status {h.modelStatusToString(model_status)!r}); "
            "raise time_limit_s"
        )
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    veh = np.flatnonzero(x[y0:f0] > 0.5).astype(np.int64)
    foot = np.flatnonzero(x[f0:z10] > 0.5).astype(np.int64)
    coverage = c + a[veh].sum(axis=0) + b[foot].sum(axis=0)
    objective = _cover_value(coverage, w, beta)
    bound = float(info.mip_dual_bound) + const
    gap = abs(bound - objective) / max(abs(objective), 1e-12)
    name = (
        "optimal"
        if model_status == highspy.HighsModelStatus.kOptimal
        else h.modelStatusToString(model_status).lower().replace(" ", "_")
    )
    return CoverAllocation(
        veh,
        foot,
        coverage.astype(np.int64),
        objective,
        name,
        0.0 if gap < 1e-9 else gap,
        float(h.getRunTime()),
    )


# --------------------------------------------------------------------------- breaks
@dataclass(frozen=True)
class _BreakPlan:
    relief: int
    breaks: dict[int, tuple[int, int]]
    """Officer position in the shift -> (break start minute of week, length)."""


def break_plan(shift: Shift, blocks: Sequence[TimeBlock]) -> dict[int, _BreakPlan]:
    """Staggered meal breaks of one shift occurrence and the relief each block needs.

    Parameters
    ----------
    shift
        The shift.
    blocks
        The blocks of one occurrence of it, in order.

    Returns
    -------
    dict
        Block index -> plan with ``relief`` (officers standing in, the most on break at
        once) and ``breaks`` (officer position -> (start minute of week, minutes)). See the
        module notes, step 1.
    """
    out = {b.index: _BreakPlan(0, {}) for b in blocks}
    n = len(shift.officers)
    if shift.break_min <= 0 or n == 0 or not blocks:
        return out
    interior = list(blocks[1:-1]) if len(blocks) >= 3 else list(blocks)
    interior = [b for b in interior if b.length_min >= shift.break_min] or [
        max(blocks, key=lambda b: b.length_min)
    ]
    n_int = len(interior)
    per_block: dict[int, dict[int, tuple[int, int]]] = {b.index: {} for b in interior}
    slots_used: dict[int, np.ndarray] = {}
    for k in range(n):
        blk = interior[k % n_int]
        n_slots = max(1, blk.length_min // shift.break_min)
        slot = (k // n_int) % n_slots
        per_block[blk.index][k] = (blk.start_min + slot * shift.break_min, shift.break_min)
        counts = slots_used.setdefault(blk.index, np.zeros(n_slots, dtype=np.int64))
        counts[slot] += 1
    for blk in interior:
        counts = slots_used.get(blk.index, np.zeros(1, dtype=np.int64))
        out[blk.index] = _BreakPlan(int(counts.max()), per_block[blk.index])
    return out


# --------------------------------------------------------------------------- places
def locate_places(
    calendar: RuleCalendar,
    network: RoadNetwork,
    polygon: shapely.Geometry | None = None,
) -> pd.DataFrame:
    """Snap the calendar's places to the network.

    Parameters
    ----------
    calendar
        The rule calendar.
    network
        The road network (its CRS is the projection used).
    polygon
        Study area in ``network.crs``; places outside it are marked ``inside = False``.

    Returns
    -------
    pandas.DataFrame
        One row per place: ``name, group, lon, lat, x_m, y_m, node, snap_m, inside``.
    """
    cols = ["name", "group", "lon", "lat", "x_m", "y_m", "node", "snap_m", "inside"]
    if not calendar.places:
        return pd.DataFrame(columns=cols)
    lon = np.array([p.lon for p in calendar.places])
    lat = np.array([p.lat for p in calendar.places])
    x, y = Transformer.from_crs(WGS84, network.crs, always_xy=True).transform(lon, lat)
    xy = np.column_stack([x, y])
    node, snap = network.snap(xy)
    inside = (
        np.ones(len(lon), dtype=bool) if polygon is None else shapely.contains_xy(polygon, x, y)
    )
    return pd.DataFrame(
        {
            "name": [p.name for p in calendar.places],
            "group": [p.group for p in calendar.places],
            "lon": lon,
            "lat": lat,
            "x_m": x,
            "y_m": y,
            "node": node.astype(np.int64),
            "snap_m": snap,
            "inside": inside,
        }
    )


@dataclass(frozen=True)
class _RulePost:
    place: str
    node: int
    min_officers: int
    windows: tuple[str, ...]


def _rule_posts(
    block: TimeBlock, calendar: RuleCalendar, place_node: Mapping[str, int]
) -> list[_RulePost]:
    need: dict[str, int] = {}
    why: dict[str, list[str]] = {}
    for win in calendar.windows:
        if not any(block.overlap_min(st, ln) > 0 for st, ln in win.occurrences()):
            continue
        for place in win.places:
            if place not in place_node:
                continue
            need[place] = max(need.get(place, 0), win.min_officers)
            why.setdefault(place, []).append(f"{win.name} {win.clock}")
    return [_RulePost(p, int(place_node[p]), need[p], tuple(why[p])) for p in sorted(need)]


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class Deployment:
    """A week's deployment.

    Attributes
    ----------
    area_name
        Study area.
    config
        Options used.
    roster
        The roster.
    calendar
        The rule calendar.
    network
        Road network (projected CRS, metres).
    node_lon, node_lat
        (n,) WGS-84 degrees of every network node.
    blocks
        The time blocks.
    sites
        Booths and stations: ``name, kind, node, min_staff, lon, lat``.
    places
        The calendar's places with their nodes (:func:`locate_places`).
    candidates
        (n_cand,) int64 patrol-line positions (network nodes).
    risks
        Risk of each block.
    assignments
        One row per officer and block: ``block, block_label, day, start, end, shift, officer,
        unit, post_kind, post_name, node, osm_id, lon, lat, break_start, break_end, note``.
    block_kpis
        One row per block (see :func:`plan_deployment`).
    daily
        Person-times and hours per weekday.
    weekly
        The week's totals and risk-weighted shares.
    routes
        Every mobile unit's route in every block.
    notes
        What the reader must know (counts of places left out, unused vehicles, ...).
    timings_s
        Seconds per step.
    sectors
        The plan's patrol sectors, or None (booth officers stay at their booths).
    sector_kpis
        One row per sector (:meth:`xunfang.plan.sector_patrol.SectorPatrols.summary`), or None.
    hotspots_changed
        (hotspots offered to booth patrols, of which in a sector other than their nearest
        booth's by walking), distinct nodes; None without sectors.
    """

    area_name: str
    config: DeployConfig
    roster: Roster
    calendar: RuleCalendar
    network: RoadNetwork
    node_lon: FloatArray
    node_lat: FloatArray
    blocks: tuple[TimeBlock, ...]
    sites: pd.DataFrame
    places: pd.DataFrame
    candidates: IntArray
    risks: tuple[BlockRisk, ...]
    assignments: pd.DataFrame
    block_kpis: pd.DataFrame
    daily: pd.DataFrame
    weekly: dict[str, float]
    routes: tuple[Route, ...]
    notes: tuple[str, ...]
    timings_s: dict[str, float] = field(default_factory=dict)
    sectors: SectorMap | None = None
    sector_kpis: pd.DataFrame | None = None
    hotspots_changed: tuple[int, int] | None = None


def _walk_matrix(network: RoadNetwork, walk_kph: float) -> sp.csr_matrix:
    """Walking times (s) on the street graph: each road piece both ways at ``walk_kph``."""
    e = network.edges
    u = e["u_index"].to_numpy(dtype=np.int64)
    v = e["v_index"].to_numpy(dtype=np.int64)
    t = e["length_m"].to_numpy(dtype=np.float64) / kph_to_mps(walk_kph)
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    tt = np.concatenate([t, t])
    order = np.lexsort((tt, cols, rows))
    rows, cols, tt = rows[order], cols[order], tt[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    n = network.n_nodes
    # a zero-length piece is kept as an explicit tiny time (csgraph reads stored 0 as no edge)
    return sp.csr_matrix((np.maximum(tt[first], 1e-6), (rows[first], cols[first])), shape=(n, n))


def _node_labels(network: RoadNetwork, nodes: IntArray) -> dict[int, str]:
    """Street labels of nodes: the one or two most common street names of the road pieces
    at each node; for a node on unnamed pieces (service roads, stitch links), ``"near X"``
    with the most common name one piece away; else ``"node <osm id>"``."""
    e = network.edges
    want = np.unique(nodes)
    out = {int(n): f"node {int(network.node_ids[n])}" for n in want}
    if "name" not in e.columns or want.size == 0:
        return out
    u = e["u_index"].to_numpy(dtype=np.int64)
    v = e["v_index"].to_numpy(dtype=np.int64)
    names = e["name"].astype(object).to_numpy()
    named = np.array([isinstance(x, str) and bool(x) for x in names])
    ends = pd.DataFrame({"node": np.concatenate([u, v]), "name": np.concatenate([names, names])})[
        np.concatenate([named, named])
    ]

    def top_names(frame: pd.DataFrame) -> dict[int, list[str]]:
        if frame.empty:
            return {}
        counts = frame.groupby(["node", "name"]).size().rename("n").reset_index()
        counts = counts.sort_values(["node", "n", "name"], ascending=[True, False, True])
        return {
            int(node): list(grp["name"].head(2)) for node, grp in counts.groupby("node", sort=False)
        }

    direct = top_names(ends[ends["node"].isin(want)])
    for node, top in direct.items():
        out[node] = " & ".join(top)
    bare = np.array([n for n in want.tolist() if n not in direct], dtype=np.int64)
    if bare.size:
        # neighbours of the unnamed nodes, and the names at those neighbours
        pairs = pd.DataFrame({"node": np.concatenate([u, v]), "nb": np.concatenate([v, u])})
        pairs = pairs[pairs["node"].isin(bare)]
        near = pairs.merge(ends, left_on="nb", right_on="node", suffixes=("", "_nb"))
        for node, top in top_names(near[["node", "name"]]).items():
            out[node] = f"near {top[0]}"
    return out


def _check_risk(r: BlockRisk, block: TimeBlock, n_nodes: int) -> BlockRisk:
    node = np.asarray(r.node, dtype=np.int64)
    w = np.asarray(r.weight, dtype=np.float64)
    if node.shape != w.shape or node.ndim != 1:
        raise ValidationError(
            f"risk of block {block.label}: node and weight must be 1-D of one length, got "
            f"{node.shape} and {w.shape}"
        )
    if node.size and (node.min() < 0 or node.max() >= n_nodes):
        raise ValidationError(f"risk of block {block.label}: node index outside the network")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(f"risk of block {block.label}: weights must be finite and >= 0")
    if np.unique(node).size != node.size:
        raise ValidationError(f"risk of block {block.label}: nodes must be unique")
    return BlockRisk(node, w)


@dataclass(frozen=True)
class _Geometry:
    """Shortest paths from the nodes the plan uses (the 'universe') to every node."""

    network: RoadNetwork
    dist: NDArray[np.float32]
    pred: NDArray[np.int32]
    row_of: IntArray
    labels: dict[int, str]
    node_lon: FloatArray
    node_lat: FloatArray

    def times(self, sources: IntArray, targets: IntArray) -> NDArray[np.float32]:
        return self.dist[self.row_of[sources]][:, targets]


def _shares(w: FloatArray) -> Callable[[np.ndarray], float]:
    total = float(w.sum())

    def share(mask: np.ndarray) -> float:
        return float(w[mask].sum() / total) if total > 0 else math.nan

    return share


def _match_vehicles(
    vehicles: list[str], anchors: IntArray, prev: Mapping[str, int], geo: _Geometry
) -> dict[str, int]:
    """Give each vehicle one of the new positions, the total move from the vehicles' last
    positions smallest (Hungarian method); in order when no vehicle has a last position."""
    if not anchors.size or not any(v in prev for v in vehicles):
        return {v: int(a) for v, a in zip(vehicles, anchors, strict=True)}
    cost = np.zeros((len(vehicles), anchors.size))
    for i, v in enumerate(vehicles):
        if v in prev:
            cost[i] = geo.times(np.array([prev[v]]), anchors)[0]
    cost[~np.isfinite(cost)] = 1e9
    ri, ci = linear_sum_assignment(cost)
    return {vehicles[i]: int(anchors[j]) for i, j in zip(ri, ci, strict=True)}


def _assign_officers(
    block: TimeBlock,
    shift: Shift,
    bp: _BreakPlan,
    booths: pd.DataFrame,
    anchor_of: Mapping[str, int],
    crew: int,
    posts: Sequence[_RulePost],
    foot_nodes: IntArray,
    base: tuple[str, int],
    geo: _Geometry,
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, ...]]]:
    """Officers of the block to posts, in the order of :data:`POST_KINDS`: booths first (so
    booth staff stay put over the shift), then vehicle crews, rule posts, foot patrols, the
    reserve, and last the relief (the last officers of the list)."""
    officers = list(shift.officers)
    position = {o: k for k, o in enumerate(officers)}
    n = len(officers)
    relief_ids = officers[n - bp.relief :] if bp.relief else []
    it = iter(officers[: n - bp.relief])
    common = {
        "block": block.index,
        "block_label": block.label,
        "day": block.day,
        "start": format_minute_of_week(block.start_min),
        "end": format_minute_of_week(block.end_min),
        "shift": block.shift,
        "shift_start": format_minute_of_week(block.shift_start_min),
        "hours": block.length_min / 60.0,
    }
    rows: list[dict[str, Any]] = []

    def put(officer: str, kind: str, name: str, node: int, unit: str = "", note: str = "") -> None:
        br = bp.breaks.get(position[officer])
        rows.append(
            {
                **common,
                "officer": officer,
                "unit": unit,
                "post_kind": kind,
                "post_name": name,
                "node": node,
                "osm_id": int(geo.network.node_ids[node]),
                "lon": float(geo.node_lon[node]),
                "lat": float(geo.node_lat[node]),
                "break_start": format_minute_of_week(br[0])[4:] if br else "",
                "break_end": format_minute_of_week(br[0] + br[1])[4:] if br else "",
                "break_min": br[1] if br else 0,
                "note": note,
            }
        )

    for bt in booths.itertuples():
        for _ in range(int(bt.min_staff)):
            put(next(it), "booth", str(bt.name), int(bt.node))
    crews: dict[str, tuple[str, ...]] = {}
    for v, node in anchor_of.items():
        crews[v] = tuple(next(it) for _ in range(crew))
        for o in crews[v]:
            put(o, "mobile", f"patrol line at {geo.labels.get(node, str(node))}", node, v)
    for p in posts:
        for _ in range(p.min_officers):
            put(next(it), "rule", p.place, p.node, note="; ".join(p.windows))
    for node in foot_nodes.tolist():
        put(next(it), "foot", f"foot patrol at {geo.labels.get(node, str(node))}", int(node))
    for o in it:
        put(o, "reserve", base[0], base[1])
    for o in relief_ids:
        put(o, "relief", base[0], base[1], note="stands in for officers on break")
    return rows, crews


def share_stops(times_s: ArrayLike, capacity: int) -> IntArray:
    """Share hotspots among units: nearest first, at most ``capacity`` per unit.

    The (unit, hotspot) pairs are taken in increasing travel time (ties: the hotspot listed
    first, then the unit listed first); a pair is kept when the hotspot is still unassigned
    and the unit has room. Every unit thus gets up to ``capacity`` hotspots, the nearest it
    can, and no hotspot goes to two units.

    Parameters
    ----------
    times_s
        (n_units, n_stops) travel time from each unit's position to each hotspot, seconds
        (``inf`` = unreachable: never assigned).
    capacity
        Most hotspots per unit.

    Returns
    -------
    numpy.ndarray
        (n_stops,) int64, the unit of each hotspot; -1 when none has room or reaches it.
    """
    t = np.asarray(times_s, dtype=np.float64)
    n_units, n_stops = t.shape
    owner = np.full(n_stops, -1, dtype=np.int64)
    room = np.full(n_units, int(capacity), dtype=np.int64)
    units, stops = np.meshgrid(np.arange(n_units), np.arange(n_stops), indexing="ij")
    order = np.lexsort((units.ravel(), stops.ravel(), t.ravel()))
    for flat in order.tolist():
        u, j = divmod(flat, n_stops)
        if owner[j] < 0 and room[u] > 0 and np.isfinite(t[u, j]):
            owner[j] = u
            room[u] -= 1
    return owner


def _block_routes(
    block: TimeBlock,
    risk: BlockRisk,
    stops: IntArray,
    anchor_of: Mapping[str, int],
    crews: Mapping[str, tuple[str, ...]],
    cfg: DeployConfig,
    geo: _Geometry,
) -> list[Route]:
    """Routes of the block's vehicles: the hotspots are shared out by :func:`share_stops`,
    and each vehicle's route visits the best of its share that fit the block."""
    vehicles = list(anchor_of)
    if not vehicles or not stops.size or cfg.max_stops <= 0:
        return []
    pool = 2 * cfg.max_stops
    anchor_nodes = np.array([anchor_of[v] for v in vehicles], dtype=np.int64)
    owner = share_stops(geo.times(anchor_nodes, stops), pool)
    weight_of = pd.Series(risk.weight, index=risk.node)
    out: list[Route] = []
    for vi, v in enumerate(vehicles):
        mine = stops[owner == vi][:pool]
        depot = int(anchor_nodes[vi])
        all_nodes = np.concatenate([[depot], mine]).astype(np.int64)

        def leg(a_node: int, b_node: int) -> tuple[float, list[int]]:
            row = geo.row_of[a_node]
            return float(geo.dist[row, b_node]), path_between(geo.pred[row], a_node, b_node)

        out.append(
            route_in_block(
                v,
                block,
                tuple(crews.get(v, ())),
                depot,
                mine,
                weight_of.loc[mine].to_numpy(dtype=np.float64),
                geo.times(all_nodes, all_nodes),
                leg,
                geo.labels,
                horizon_s=block.length_s,
                dwell_min=cfg.dwell_min,
                rng=np.random.default_rng([cfg.seed, block.index, vi]),
                tie_tolerance=cfg.tie_tolerance,
                order_jitter=cfg.order_jitter,
                search=cfg.route_search,
                time_limit_s=cfg.route_time_limit_s,
            )
        )
    return out


def plan_deployment(
    network: RoadNetwork,
    sites: pd.DataFrame,
    roster: Roster,
    risk: RiskModel,
    *,
    calendar: RuleCalendar | None = None,
    places: pd.DataFrame | None = None,
    config: DeployConfig | None = None,
    area_name: str = "",
    progress: Callable[[str], None] | None = None,
    sectors: SectorMap | None = None,
) -> Deployment:
    """Plan a week of deployment (module notes, steps 1-5).

    Parameters
    ----------
    network
        The road network of the booth plan.
    sites
        Booths and stations: columns ``name``, ``kind`` (``booth`` or ``station``), ``node``
        (index into ``network``).
    roster
        Shifts, officers, vehicles, booth staffing.
    risk
        Risk per block (:class:`RiskModel`).
    calendar
        Rule windows and places; default none.
    places
        The calendar's places located on the network (:func:`locate_places`); default: all
        places snapped, none left out.
    config
        Options.
    area_name
        For the outputs.
    progress
        Called with a short message at each step.
    sectors
        The plan's patrol sectors on ``network`` (step 5); None: booth officers stay at their
        booths.

    Returns
    -------
    Deployment
        ``block_kpis`` columns: ``block, label, day, shift, length_h, officers, relief,
        booth_staff, rule_staff, vehicles, mobile_officers, foot, reserve, risk,
        covered_share`` (at least one post within T), ``booth_covered_share``,
        ``backup_share`` (two or more), ``patrol_covered_share`` (a vehicle, walker or rule
        post within T), ``route_risk_share`` (risk at the stops the routes visit),
        ``mip_status``, ``mip_gap``, ``solve_time_s``.

    Raises
    ------
    DataFileError
        A roster that names unknown booths, or whose shifts have fewer officers than the
        booths and rule posts need in some block (field ``shift[i].officers``).
    ValidationError
        Bad options, sites or risk values.
    SolverError
        A solver failure.
    """
    cfg = config or DeployConfig()
    cfg.validate()
    cal = calendar or RuleCalendar()
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - t0
        t0 = now

    notes: list[str] = list(cal.notes)
    n_nodes = network.n_nodes
    missing = [c for c in ("name", "kind", "node") if c not in sites.columns]
    if missing:
        raise ValidationError(f"sites needs the columns name, kind, node; missing {missing}")
    site = sites.reset_index(drop=True).copy()
    site["node"] = site["node"].astype(np.int64)
    if ((site["node"] < 0) | (site["node"] >= n_nodes)).any():
        raise ValidationError("a site's node is outside the network: rebuild the network")
    booths = site[site["kind"] == "booth"].reset_index(drop=True)
    stations = site[site["kind"] == "station"].reset_index(drop=True)
    roster.check_booths(booths["name"])
    booths["min_staff"] = [roster.min_staff(str(b)) for b in booths["name"]]
    site["min_staff"] = [
        roster.min_staff(str(nm)) if k == "booth" else 0
        for nm, k in zip(site["name"], site["kind"], strict=True)
    ]
    base_node = (
        int(stations["node"].iloc[0] if len(stations) else booths["node"].iloc[0])
        if (len(stations) or len(booths))
        else 0
    )
    base_name = str(stations["name"].iloc[0]) if len(stations) else "base"

    if places is None:
        places = locate_places(cal, network)
    place_node = {str(r.name): int(r.node) for r in places.itertuples() if bool(r.inside)}
    n_out = int((~places["inside"].astype(bool)).sum()) if len(places) else 0
    if n_out:
        by_group = places.loc[~places["inside"].astype(bool), "group"].value_counts()
        notes.append(
            Note(
                "places_outside",
                n=n_out,
                groups={str(g): int(n) for g, n in by_group.items()},
            )
        )
    far = (
        places[places["inside"].astype(bool) & (places["snap_m"] > 250)] if len(places) else places
    )
    if len(far):
        notes.append(Note("places_far", n=len(far), largest_m=far["snap_m"].max()))
    for win in cal.windows:
        if win.places and not any(p in place_node for p in win.places):
            notes.append(Note("window_outside", name=repr(win.name), n=len(win.places)))

    say("time blocks")
    blocks = make_blocks(roster, cfg.block_hours)
    shift_index = {s.name: i for i, s in enumerate(roster.shifts)}
    by_occ: dict[tuple[str, int], list[TimeBlock]] = {}
    for b in blocks:
        by_occ.setdefault((b.shift, b.shift_start_min), []).append(b)
    breaks: dict[int, _BreakPlan] = {}
    for (name, _), blist in by_occ.items():
        breaks.update(break_plan(roster.shift(name), sorted(blist, key=lambda x: x.part)))
    rule_posts = {b.index: _rule_posts(b, cal, place_node) for b in blocks}
    booth_need = int(booths["min_staff"].sum())
    short: dict[str, list[str]] = {}
    for b in blocks:
        s = roster.shift(b.shift)
        rule_need = sum(p.min_officers for p in rule_posts[b.index])
        avail = len(s.officers) - breaks[b.index].relief
        if booth_need + rule_need > avail:
            short.setdefault(b.shift, []).append(
                f"{b.label} needs {booth_need} at booths + {rule_need} at rule posts"
                + (
                    f" + {breaks[b.index].relief} relief for breaks"
                    if breaks[b.index].relief
                    else ""
                )
                + f" = {booth_need + rule_need + breaks[b.index].relief}"
            )
    if short:
        parts = []
        for name, lines in short.items():
            s = roster.shift(name)
            parts.append(
                f"shift {name!r} has {len(s.officers)} officers but "
                + "; ".join(lines[:4])
                + (f"; and {len(lines) - 4} more blocks" if len(lines) > 4 else "")
            )
        first = next(iter(short))
        raise DataFileError(
            roster.source,
            "more posts than officers: "
            + " | ".join(parts)
            + ". Add officers to the shift, or lower booths.min_staff / a window's min_officers",
            field=f"shift[{shift_index[first] + 1}].officers",
        )
    lap("blocks and checks")

    say("risk per block")
    risks = tuple(_check_risk(risk(b), b, n_nodes) for b in blocks)
    share_sum = np.zeros(n_nodes)
    for r in risks:
        tot = r.weight.sum()
        if tot > 0:
            np.add.at(share_sum, r.node, r.weight / tot)
    ranked = np.argsort(-share_sum, kind="stable")
    candidates = ranked[: min(cfg.n_candidates, int((share_sum > 0).sum()))].astype(np.int64)
    if candidates.size == 0:
        candidates = np.unique(booths["node"].to_numpy(dtype=np.int64))[:1]
        notes.append(Note("risk_empty"))
    max_vehicles = max((len(s.vehicles) for s in roster.shifts), default=0)
    pool = 2 * cfg.max_stops
    stops_of: dict[int, IntArray] = {}
    for b, r in zip(blocks, risks, strict=True):
        pos = r.weight > 0
        order = np.argsort(-r.weight[pos], kind="stable")[: max_vehicles * pool]
        stops_of[b.index] = r.node[pos][order]
    lap("risk")

    say("travel times")
    rule_nodes = np.array(sorted(set(place_node.values())), dtype=np.int64)
    universe = np.unique(
        np.concatenate(
            [
                candidates,
                booths["node"].to_numpy(dtype=np.int64),
                rule_nodes,
                np.array([base_node], dtype=np.int64),
                *stops_of.values(),
            ]
        )
    )
    row_of = np.full(n_nodes, -1, dtype=np.int64)
    row_of[universe] = np.arange(universe.size)
    dist, pred = dijkstra(network.matrix, directed=True, indices=universe, return_predecessors=True)
    dist = dist.astype(np.float32)
    pred = pred.astype(np.int32)
    thr_s = minutes_to_s(cfg.threshold_min)
    walk = _walk_matrix(network, cfg.walk_speed_kph)
    walk_src = np.unique(np.concatenate([candidates, rule_nodes]))
    walk_row = np.full(n_nodes, -1, dtype=np.int64)
    walk_row[walk_src] = np.arange(walk_src.size)
    walk_reach = dijkstra(walk, directed=True, indices=walk_src, limit=thr_s) <= thr_s
    drive_reach_cand = dist[row_of[candidates]] <= thr_s
    booth_rows = row_of[booths["node"].to_numpy(dtype=np.int64)]
    booth_reach = dist[booth_rows] <= thr_s
    labels = _node_labels(network, universe)
    lap("travel times")

    to_wgs = Transformer.from_crs(network.crs, WGS84, always_xy=True)
    node_lon, node_lat = to_wgs.transform(network.node_xy[:, 0], network.node_xy[:, 1])
    node_lon = np.asarray(node_lon, dtype=np.float64)
    node_lat = np.asarray(node_lat, dtype=np.float64)

    geo = _Geometry(network, dist, pred, row_of, labels, node_lon, node_lat)
    patrols = _sector_patrols(network, walk, booths, sectors, cfg, notes)
    sector_routes: list[Route] = []
    rows_out: list[dict[str, Any]] = []
    kpis: list[dict[str, Any]] = []
    routes: list[Route] = []
    prev_anchor: dict[str, int] = {}
    unused_vehicles: dict[str, int] = {}
    t_alloc = t_route = t_sector = 0.0
    crew = roster.crew_per_vehicle
    for b, r in zip(blocks, risks, strict=True):
        say(f"block {b.label}")
        ta = time.perf_counter()
        s = roster.shift(b.shift)
        bp = breaks[b.index]
        posts = rule_posts[b.index]
        rule_need = sum(p.min_officers for p in posts)
        free = len(s.officers) - bp.relief - booth_need - rule_need
        n_veh = min(len(s.vehicles), free // crew, candidates.size)
        if n_veh < len(s.vehicles):
            unused_vehicles[s.name] = max(unused_vehicles.get(s.name, 0), len(s.vehicles) - n_veh)
        n_foot = min(free - crew * n_veh, candidates.size)
        nodes, w = r.node, r.weight
        fixed = booth_reach[:, nodes].sum(axis=0).astype(np.int64)
        if posts:
            prow = walk_row[np.array([p.node for p in posts], dtype=np.int64)]
            rule_cov = walk_reach[prow][:, nodes].sum(axis=0).astype(np.int64)
        else:
            rule_cov = np.zeros(nodes.size, dtype=np.int64)
        veh_cov = drive_reach_cand[:, nodes]
        foot_cov = walk_reach[walk_row[candidates]][:, nodes]
        alloc = allocate_cover(
            w,
            fixed + rule_cov,
            veh_cov,
            foot_cov,
            int(n_veh),
            int(n_foot),
            backup_weight=cfg.backup_weight,
            time_limit_s=cfg.time_limit_s,
            mip_rel_gap=cfg.mip_rel_gap,
        )
        vehicles = list(s.vehicles[:n_veh])
        anchor_of = _match_vehicles(vehicles, candidates[alloc.vehicle_sites], prev_anchor, geo)
        prev_anchor.update(anchor_of)
        t_alloc += time.perf_counter() - ta

        block_rows, crews = _assign_officers(
            b,
            s,
            bp,
            booths,
            anchor_of,
            crew,
            posts,
            candidates[alloc.foot_sites],
            (base_name, base_node),
            geo,
        )
        rows_out.extend(block_rows)

        tr = time.perf_counter()
        block_routes = _block_routes(b, r, stops_of[b.index], anchor_of, crews, cfg, geo)
        routes.extend(block_routes)
        t_route += time.perf_counter() - tr
        if patrols is not None:
            tr = time.perf_counter()
            walked = patrols.block_routes(b, r.node, r.weight, _booth_walkers(block_rows, cfg))
            sector_routes.extend(walked)
            t_sector += time.perf_counter() - tr

        patrol = (
            rule_cov
            + veh_cov[alloc.vehicle_sites].sum(axis=0)
            + foot_cov[alloc.foot_sites].sum(axis=0)
        )
        total = float(w.sum())
        share = _shares(w)
        kpis.append(
            {
                "block": b.index,
                "label": b.label,
                "day": b.day,
                "shift": b.shift,
                "length_h": b.length_min / 60.0,
                "officers": len(s.officers),
                "relief": bp.relief,
                "booth_staff": booth_need,
                "rule_posts": len(posts),
                "rule_staff": rule_need,
                "vehicles": len(vehicles),
                "mobile_officers": crew * len(vehicles),
                "foot": len(alloc.foot_sites),
                "reserve": free - crew * n_veh - len(alloc.foot_sites),
                "risk": total,
                "covered_share": share(alloc.coverage >= 1),
                "booth_covered_share": share(fixed >= 1),
                "backup_share": share(alloc.coverage >= 2),
                "patrol_covered_share": share(patrol >= 1),
                "route_risk_share": (
                    sum(rt.visited_risk for rt in block_routes) / total if total > 0 else math.nan
                ),
                "route_stops": sum(len(rt.stop_nodes) for rt in block_routes),
                "objective": alloc.objective,
                "mip_status": alloc.status,
                "mip_gap": alloc.mip_gap,
                "solve_time_s": alloc.solve_time_s,
            }
        )
    timings["allocation"] = t_alloc
    timings["routes"] = t_route
    if patrols is not None:
        timings["sector patrols"] = t_sector
    t0 = time.perf_counter()

    for name, n in unused_vehicles.items():
        notes.append(Note("idle_vehicles", shift=repr(name), n=n, crew=roster.crew_per_vehicle))
    assignments = pd.DataFrame(rows_out)
    block_kpis = pd.DataFrame(kpis)
    daily, weekly = summarise_hours(assignments, block_kpis)
    sector_kpis = None
    changed = None
    if patrols is not None:
        sector_kpis = patrols.summary(sector_routes, [(r.node, r.weight) for r in risks])
        changed = patrols.changed()
        notes.append(Note("legs_outside", n=patrols.legs_outside, legs=patrols.legs))
        routes.extend(sector_routes)
    lap("summaries")
    return Deployment(
        area_name=area_name,
        config=cfg,
        roster=roster,
        calendar=cal,
        network=network,
        node_lon=node_lon,
        node_lat=node_lat,
        blocks=blocks,
        sites=site.assign(lon=node_lon[site["node"]], lat=node_lat[site["node"]]),
        places=places,
        candidates=candidates,
        risks=risks,
        assignments=assignments,
        block_kpis=block_kpis,
        daily=daily,
        weekly=weekly,
        routes=tuple(routes),
        notes=tuple(notes),
        timings_s=timings,
        sectors=sectors,
        sector_kpis=sector_kpis,
        hotspots_changed=changed,
    )


def _sector_patrols(
    network: RoadNetwork,
    walk: sp.csr_matrix,
    booths: pd.DataFrame,
    sectors: SectorMap | None,
    cfg: DeployConfig,
    notes: list[str],
) -> SectorPatrols | None:
    """The booths' sector patrols, or None (with a note saying why) when there are none."""
    if sectors is None:
        notes.append(Note("no_sectors"))
        return None
    if cfg.sector_patrol_min <= 0:
        notes.append(Note("sector_patrol_off"))
        return None
    patrols = SectorPatrols(
        network,
        walk,
        booths,
        sectors,
        patrol_min=cfg.sector_patrol_min,
        max_stops=cfg.max_stops,
        dwell_min=cfg.dwell_min,
        seed=cfg.seed,
        tie_tolerance=cfg.tie_tolerance,
        order_jitter=cfg.order_jitter,
        route_search=cfg.route_search,
        route_time_limit_s=cfg.route_time_limit_s,
        label=lambda nodes: _node_labels(network, nodes),
    )
    if patrols.missing:
        notes.append(
            Note("booths_no_sector", source=sectors.source, booths=", ".join(patrols.missing))
        )
    notes.append(Note("sector_patrols", minutes=cfg.sector_patrol_min, n_outside=sectors.n_outside))
    return patrols


def _booth_walkers(block_rows: list[dict[str, Any]], cfg: DeployConfig) -> dict[str, str]:
    """The first officer of each booth in the block walks the sector patrol (the row's note
    says so)."""
    walker: dict[str, str] = {}
    for row in block_rows:
        if row["post_kind"] == "booth" and row["post_name"] not in walker:
            walker[row["post_name"]] = str(row["officer"])
            row["note"] = f"walks the sector patrol ({cfg.sector_patrol_min:g} min)"
    return walker


def summarise_hours(
    assignments: pd.DataFrame, block_kpis: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Person-times and hours per weekday and for the week.

    Person-times (人次) count each officer once per shift worked, on the weekday the shift
    starts; hours are officer-hours in the blocks of each weekday (a night shift's hours
    after midnight count on the next day). ``patrol_hours`` are the officer-hours of vehicle
    crews and foot patrols; ``vehicle_hours`` the hours of vehicles on patrol; ``break_hours``
    the meal breaks (covered by relief, so the posts' hours stand).

    Returns
    -------
    (daily, weekly)
        ``daily``: one row per weekday (``day``, ``weekday``, ``person_times``,
        ``officer_hours``, ``booth_hours``, ``rule_post_hours``, ``patrol_hours``,
        ``vehicle_patrol_hours``, ``foot_patrol_hours``, ``vehicle_hours``,
        ``relief_hours``, ``reserve_hours``, ``break_hours``); ``weekly``: their sums plus
        the risk-weighted ``covered_share``, ``backup_share``, ``patrol_covered_share``,
        ``route_risk_share`` and the lowest ``covered_share`` of any block.
    """
    days = pd.DataFrame({"day": range(7), "weekday": list(DAY_NAMES)})
    if assignments.empty:
        return days, {}
    a = assignments
    shift_day = a["shift_start"].str[:3].map({d: i for i, d in enumerate(DAY_NAMES)})
    person = (
        a.assign(shift_day=shift_day)
        .drop_duplicates(["officer", "shift", "shift_start"])
        .groupby("shift_day")
        .size()
    )

    def hours(kind: str | None) -> pd.Series:
        sub = a if kind is None else a[a["post_kind"] == kind]
        return sub.groupby("day")["hours"].sum()

    veh = (
        block_kpis.assign(vh=block_kpis["vehicles"] * block_kpis["length_h"])
        .groupby("day")["vh"]
        .sum()
    )
    out = days.copy()
    out["person_times"] = out["day"].map(person).fillna(0).astype(int)
    out["officer_hours"] = out["day"].map(hours(None)).fillna(0.0)
    out["booth_hours"] = out["day"].map(hours("booth")).fillna(0.0)
    out["rule_post_hours"] = out["day"].map(hours("rule")).fillna(0.0)
    out["vehicle_patrol_hours"] = out["day"].map(hours("mobile")).fillna(0.0)
    out["foot_patrol_hours"] = out["day"].map(hours("foot")).fillna(0.0)
    out["patrol_hours"] = out["vehicle_patrol_hours"] + out["foot_patrol_hours"]
    out["vehicle_hours"] = out["day"].map(veh).fillna(0.0)
    out["relief_hours"] = out["day"].map(hours("relief")).fillna(0.0)
    out["reserve_hours"] = out["day"].map(hours("reserve")).fillna(0.0)
    out["break_hours"] = out["day"].map(a.groupby("day")["break_min"].sum() / 60.0).fillna(0.0)
    weekly: dict[str, float] = {
        c: float(out[c].sum()) for c in out.columns if c not in ("day", "weekday")
    }
    k = block_kpis
    risk = k["risk"].to_numpy(dtype=np.float64)
    tot = float(risk.sum())
    for col in (
        "covered_share",
        "booth_covered_share",
        "backup_share",
        "patrol_covered_share",
        "route_risk_share",
    ):
        vals = k[col].to_numpy(dtype=np.float64)
        ok = np.isfinite(vals)
        weekly[col] = (
            float((vals[ok] * risk[ok]).sum() / risk[ok].sum())
            if tot > 0 and ok.any()
            else math.nan
        )
    weekly["min_block_covered_share"] = float(np.nanmin(k["covered_share"])) if len(k) else math.nan
    weekly["blocks"] = float(len(k))
    weekly["routes"] = float((k["vehicles"]).sum())
    return out, weekly


# --------------------------------------------------------------------------- loading
def network_for_area(
    area: StudyArea,
    settings: Settings,
    *,
    city: City | None = None,
    stitch_threshold_m: float | None = None,
    same_name_threshold_m: float | None = None,
) -> RoadNetwork:
    """The drivable network of a study area, built exactly as :func:`make_booth_plan` does
    (:meth:`xunfang.ingest.city.City.road_network`; ``city`` default the default city of
    the settings' data directory).

    Raises
    ------
    ValidationError
        If a road file is missing.
    """
    the_city = city or default_city(settings.data_dir)
    return the_city.road_network(
        area,
        stitch_threshold_m=stitch_threshold_m,
        same_name_threshold_m=same_name_threshold_m,
        cache_dir=settings.cache_dir,
    )


def read_plan_sites(path: str | Path, network: RoadNetwork) -> pd.DataFrame:
    """Read ``sites.csv`` of an ``xunfang plan`` output and find each site's node.

    Nodes are matched by ``osm_id`` (stable across rebuilds of the network); the ``node``
    column of the file is not trusted.

    Returns
    -------
    pandas.DataFrame
        ``name, kind, node, osm_id`` with ``node`` an index into ``network``.

    Raises
    ------
    DataFileError
        Missing file or columns, an unknown kind, repeated booth names, or an ``osm_id`` that
        is not in the network (naming the row).
    """
    p = Path(path)
    df = read_sites_csv(p, columns=("osm_id",))
    dup = df["name"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataFileError(p, f"site name {df['name'].iloc[i]!r} repeats", row=i + 1, field="name")
    index = pd.Series(np.arange(network.n_nodes), index=network.node_ids)
    osm = pd.to_numeric(df["osm_id"], errors="coerce")
    node = osm.map(index)
    if node.isna().any():
        i = int(np.flatnonzero(node.isna())[0])
        raise DataFileError(
            p,
            f"site {df['name'].iloc[i]!r}: osm_id {df['osm_id'].iloc[i]!r} is not a node of the "
            f"rebuilt network ({int(node.isna().sum())} site(s) like this): was the plan made "
            "for another area or with other network options?",
            row=i + 1,
            field="osm_id",
        )
    return pd.DataFrame(
        {
            "name": df["name"].astype(str),
            "kind": df["kind"].astype(str),
            "node": node.astype(np.int64).to_numpy(),
            "osm_id": osm.astype(np.int64).to_numpy(),
        }
    )


@dataclass(frozen=True)
class PlanContext:
    """What a deployment needs from a booth plan's output folder."""

    plan_dir: Path
    area: StudyArea
    network: RoadNetwork
    sites: pd.DataFrame
    incidents: IncidentTable
    ingest_report: IngestReport | None
    where_when: WhereWhen
    n_weeks: float
    timings_s: dict[str, float]
    sectors: SectorMap | None = None
    """The plan's ``sectors.geojson`` on the network; None when the folder has none."""


def load_plan_context(
    plan_dir: str | Path,
    settings: Settings,
    *,
    incident_files: Sequence[Path] = (),
    cell_m: float = 150.0,
    city: City | None = None,
    network: RoadNetwork | None = None,
    incidents: IncidentTable | None = None,
) -> PlanContext:
    """Rebuild the study area, network, sites and where/when counts of an ``xunfang plan``
    output folder (``plan_summary.json`` names the area and the city the plan was made
    for; ``sites.csv`` the sites).

    Parameters
    ----------
    plan_dir
        The folder.
    settings
        Data directory.
    incident_files
        Incident files, or one ``.parquet`` from ``xunfang ingest``; default the city's.
    cell_m
        Grid cell of the risk surface, metres.
    city
        The city; default the one recorded in ``plan_summary.json`` (the default city for
        a plan written before cities were recorded).
    network, incidents
        The area's network and an ingested incident table (any extent, any projected CRS)
        when the caller has them (the city deployment cuts each district's network from
        the city's and ingests once); else built or read from the cache, and ingested.

    Raises
    ------
    DataFileError
        If the folder lacks ``plan_summary.json`` or ``sites.csv`` or they do not match the
        network, or its ``sectors.geojson`` (optional) is unreadable.
    ValidationError
        For missing data files or an area without incidents.
    """

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    folder = Path(plan_dir)
    summary_path = folder / "plan_summary.json"
    if not summary_path.is_file():
        raise DataFileError(
            summary_path, "not found: --plan-dir must be the output folder of `xunfang plan`"
        )
    summary = strict_json.load_file(summary_path)  # names the file, line and key of a repeat
    try:
        area_name = str(summary["area"])
    except (ValueError, KeyError) as exc:
        raise DataFileError(summary_path, f"unreadable plan summary: {exc}", field="area") from exc
    if city is None:
        recorded = summary.get("city")
        city = (
            City.from_dict(recorded, source=str(recorded.get("source", summary_path)))
            if isinstance(recorded, dict)
            else default_city(settings.data_dir)
        )
    area = city.study_area(area_name)
    if network is None:
        network = city.road_network(area, cache_dir=settings.cache_dir)
    timings["network"] = time.perf_counter() - t0
    sites = read_plan_sites(folder / "sites.csv", network)
    sector_file = folder / "sectors.geojson"
    sectors = (
        read_sectors(sector_file, network, frame=str(summary.get("output_frame", "wgs84")))
        if sector_file.is_file()
        else None
    )
    t0 = time.perf_counter()
    files = list(incident_files) or _recorded_incident_files(summary, summary_path)
    files = files or city.incident_files()
    report: IngestReport | None
    # given, or an ingested table read as `xunfang ingest` wrote it (never ingested again)
    given = incidents if incidents is not None else read_ingested_tables(files, area.crs)
    if given is not None:
        table = given.reproject(area.crs)
        inside = shapely.contains_xy(area.polygon, table.xy[:, 0], table.xy[:, 1])
        table, report = table.subset(inside), None
    else:
        prof = city.ingest_profile()
        table, _rej, report = ingest(
            files,
            prof,
            crs=area.crs,
            frame=city.incident_frame(prof),
            area=area.polygon_wgs84,
            area_name=area.name,
        )
    if len(table) == 0:
        raise ValidationError(f"no incidents inside {area.name}: check the files")
    timings["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid = Grid.from_polygon(area.polygon, cell_m, area.crs)
    ww = where_when(table, grid)
    start, end, _ = bulk_span(table.frame["occurred_at"])  # not stretched by a stray row
    n_weeks = max(float((end - start).total_seconds()) / (7 * 86400.0), 1.0)
    timings["where/when"] = time.perf_counter() - t0
    return PlanContext(folder, area, network, sites, table, report, ww, n_weeks, timings, sectors)


def _recorded_incident_files(summary: dict[str, Any], summary_path: Path) -> list[Path]:
    """The incident files a plan was made from (``incident_source`` of its
    ``plan_summary.json``; relative paths are taken from the working folder), or an empty
    list when the plan used the city's own.

    Raises
    ------
    DataFileError
        If a recorded file no longer exists, naming it and ``--incidents``.
    """
    source = summary.get("incident_source")
    if not isinstance(source, list) or not source:
        return []
    files = [Path(str(p)) for p in source]
    missing = [p for p in files if not p.exists()]
    if missing:
        raise DataFileError(
            summary_path,
            f"the plan's incident file(s) {', '.join(str(p) for p in missing[:3])} no longer "
            "exist: pass --incidents",
            field="incident_source",
        )
    return files


def deploy_from_plan_dir(
    plan_dir: str | Path,
    roster_path: str | Path,
    calendar_path: str | Path | None,
    settings: Settings,
    *,
    config: DeployConfig | None = None,
    incident_files: Sequence[Path] = (),
    cell_m: float = 150.0,
    smoothing: float = 0.5,
    risk: RiskModel | None = None,
    progress: Callable[[str], None] | None = None,
    city: City | None = None,
    network: RoadNetwork | None = None,
    incidents: IncidentTable | None = None,
) -> tuple[Deployment, PlanContext]:
    """Read a plan folder, a roster and a calendar, and plan the week.

    ``city`` replaces the city recorded in the plan folder; ``network`` and ``incidents``
    are the area's network and an ingested table when the caller has them
    (:func:`load_plan_context`).

    ``risk`` replaces the default :class:`HourOfWeekRisk` (e.g. a forecast); ``smoothing``
    and ``cell_m`` are options of the default.

    Raises
    ------
    DataFileError, ValidationError, SolverError
        As the steps do.
    """
    say = progress or (lambda _m: None)
    say("roster and calendar")
    roster = load_roster(roster_path)
    say("plan folder: area, network, incidents")
    ctx = load_plan_context(
        plan_dir,
        settings,
        incident_files=incident_files,
        cell_m=cell_m,
        city=city,
        network=network,
        incidents=incidents,
    )
    roster.check_booths(ctx.sites.loc[ctx.sites["kind"] == "booth", "name"])
    cal = (
        load_calendar(
            calendar_path,
            data_dir=settings.data_dir,
            type_groups=load_taxonomy().groups,
        )
        if calendar_path is not None
        else RuleCalendar()
    )
    places = locate_places(cal, ctx.network, ctx.area.polygon)
    model: RiskModel = risk or HourOfWeekRisk.from_where_when(
        ctx.where_when,
        ctx.network,
        n_weeks=ctx.n_weeks,
        emphasis=cal.emphasis_matrix(ctx.where_when.groups),
        smoothing=smoothing,
    )
    dep = plan_deployment(
        ctx.network,
        ctx.sites,
        roster,
        model,
        calendar=cal,
        places=places,
        config=config,
        area_name=ctx.area.name,
        progress=progress,
        sectors=ctx.sectors,
    )
    return dep, ctx


def deploy_from_booth_plan(
    plan: Any,
    roster: Roster,
    calendar: RuleCalendar | None = None,
    *,
    config: DeployConfig | None = None,
    risk: RiskModel | None = None,
) -> Deployment:
    """Plan the week on a :class:`xunfang.plan.booth_plan.BoothPlan` held in memory (its
    network, sites, where/when counts and patrol sectors, when it has them).

    Raises
    ------
    TypeError
        If ``plan`` is not a BoothPlan.
    """
    if not isinstance(plan, BoothPlan):
        raise TypeError(f"plan must be a BoothPlan, got {type(plan).__name__}")
    cal = calendar or RuleCalendar()
    start, end, _ = bulk_span(plan.incidents.frame["occurred_at"])  # not stretched by a stray row
    n_weeks = max(float((end - start).total_seconds()) / (7 * 86400.0), 1.0)
    model: RiskModel = risk or HourOfWeekRisk.from_where_when(
        plan.where_when,
        plan.network,
        n_weeks=n_weeks,
        emphasis=cal.emphasis_matrix(plan.where_when.groups),
    )
    sites = pd.DataFrame(
        {"name": plan.sites["name"], "kind": plan.sites["kind"], "node": plan.sites["node"]}
    )
    return plan_deployment(
        plan.network,
        sites,
        roster,
        model,
        calendar=cal,
        places=locate_places(cal, plan.network, plan.area.polygon),
        config=config,
        area_name=plan.area.name,
        sectors=(
            sector_map(plan.decisions.sector_frame, plan.network, source="the plan's sectors")
            if plan.decisions is not None and plan.decisions.sector_frame is not None
            else None
        ),
    )
