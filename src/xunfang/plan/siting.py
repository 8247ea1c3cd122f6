"""Choosing patrol booth sites from a travel-time matrix: maximal covering and p-median models.

Two classic discrete location models, solved with heuristics for good solutions, Lagrangian
relaxation for bounds, and the HiGHS MIP solver (``highspy``) for proofs:

* **MCLP**, the maximal covering location problem (Church, R. & ReVelle, C. (1974), "The maximal
  covering location problem", *Papers of the Regional Science Association* 32, 101-118): open
  ``k`` sites so that the demand weight within ``threshold_s`` of an open site is largest.
* **p-median** (Hakimi, S. L. (1964), "Optimum locations of switching centers and the absolute
  centers and medians of a graph", *Operations Research* 12, 450-459; integer formulation of
  ReVelle, C. & Swain, R. (1970), "Central facilities location", *Geographical Analysis* 2,
  30-42): open ``k`` sites so that the demand-weighted travel time to the nearest open site is
  smallest.

Both take the same inputs: ``cost_s``, an array of shape ``(n_demand, n_candidates)`` of travel
times in seconds (``np.inf`` where a candidate cannot reach a demand node), and ``weights`` of
shape ``(n_demand,)`` (incident counts, >= 0). ``k`` counts every open site, the ``fixed`` ones
(e.g. existing police stations, forced open) included. Results are frozen :class:`SitingResult`
objects; :func:`evaluate_sites` scores any given set of sites on the same demand (e.g. "stations
alone" against "stations + booths").

Every answer carries a proved bound (``objective_bound``) and ``mip_gap``; ``status`` is
``"optimal"`` only when that gap is within ``mip_rel_gap``. Under ``time_limit_s`` the best
solution found is returned with status ``"time_limit"``.

MCLP
----
Demand nodes of zero weight, nodes that no candidate reaches within ``threshold_s`` and nodes
already covered by a fixed site are left out of the model (their coverage cannot change; they are
still reported in the result and counted in ``notes``). Demand nodes with the same set of covering
candidates are merged into one row with the summed weight, identical candidate columns are merged,
and candidates covering nothing left are dropped (all exact). Then:

1. greedy covering; if it covers every coverable node it is optimal and nothing else runs;
2. vertex substitution (best improving swap, Teitz & Bart 1968) and the Lagrangian relaxation of
   Galvao & ReVelle (1996), whose bound may prove the heuristic optimal;
3. otherwise HiGHS solves ``max sum_g W_g z_g`` s.t. ``z_g <= sum_{j in N_g} y_j``,
   ``sum_j y_j <= k - n_fixed``, ``y`` binary, ``z`` in [0, 1] (continuous is enough), warm
   started from the heuristic, with HiGHS presolve off. Measured both ways by
   ``benchmarks/bench_siting.py`` (same model, same 20 s limit, loaded machine): presolve on
   stopped after 42 s (HiGHS 32 s) with a 1.3 % gap at 120 s, presolve off after 23 s with
   0.94 %; at 90 s both ended with the same solution (gaps 3.05 % on, 2.90 % off). On the
   Chicago districts at the plan's default 3 minutes the heuristics settle the MCLP and HiGHS
   does not run. The reductions above do presolve's main work here.

p-median
--------
Demand nodes of zero weight or reached by no candidate are left out (and reported). Then:

1. greedy adding gives an incumbent, improved by vertex substitution (Teitz & Bart 1968 with the
   fast swap evaluation of Whitaker 1983) for at most a quarter of the time budget;
2. a Lagrangian bound (Cornuejols, Fisher & Nemhauser 1977) by subgradient optimisation with a
   Lagrangian heuristic (Beasley 1993), on candidate lists (below), for at most 60 % of the time
   left. The step factor is halved after 60 steps without a better bound and the search stops
   below 1e-4: on Chicago districts the bound stalled 1-2 % short with the 20 / 1e-3 of Beasley's
   small instances, and came within 0.05 % with these. When it stops that way with time left
   and the gap open, it restarts from its best multipliers (step factor 0.5, up to 4 times)
   while the bound still rises;
3. reduced-cost fixing: sites whose forced opening (closing) lifts the Lagrangian bound above the
   incumbent are closed (opened): exact;
4. vertex substitution from the Lagrangian subproblem's recent solutions and from the incumbent
   (at most half of the time left), never swapping in a closed site (fewer columns, faster
   swaps), then fixing again against the improved incumbent;
5. HiGHS on the strong ("disaggregated") formulation ``min sum w_i t_ij x_ij``,
   ``sum_j x_ij = 1``, ``x_ij <= y_j``, ``sum_j y_j <= k - n_fixed`` over the remaining sites,
   warm-started from the incumbent, when its size fits the time left. HiGHS presolve stays on
   here: on district 3's model (48,767 rows, 50,364 columns, 40 s, load 12) it ended with bound
   593,197 on and 593,390 off, the same incumbent (one measurement, within noise). Running
   HiGHS although the model is over the size rule changed nothing but the wall time (district
   10 at 60 s: 55,021 pairs, the same 0.28 % gap; district 5: 0.38 % and 3 s over the limit).
   The districts left open have a real duality gap: the subgradient search converges (district
   10: 10,121 steps in 5 runs) 0.2-0.5 % below the best incumbent, and HiGHS's branch and
   bound needs more than the minute to close it.

Candidate lists: pairs ``(i, j)`` exist only when reachable and strictly nearer than ``i``'s
nearest fixed site (one pair to that fixed site replaces the rest: exact). Each demand node then
keeps its ``L_i`` nearest candidates plus one slack variable priced at the travel time to its
``(L_i + 1)``-th nearest, a lower bound of any assignment outside the list (the truncation of
Elloumi, S. (2010), "A tighter formulation of the p-median problem", *Journal of Combinatorial
Optimization* 19, 69-83). The truncated model is a relaxation: its bound is valid, and when its
solution uses no slack it is optimal for the full problem. In the MIP, the first lists hold every
site nearer than the end of the node's Lagrangian list (so the model's relaxation is no weaker
than the Lagrangian bound) and at least twice the incumbent's rank; they are doubled for the
nodes whose slack is used, up to ``max_assignment_vars // n_model_demand``; if the
cap stops this the answer is a heuristic with status ``"optimal_reduced"`` (``mip_gap`` still
compares it with a valid bound). In the Lagrangian the multipliers are capped at the same slack
prices, so its bound is valid for the full problem too.

``k`` sites are always returned. When fewer are opened (every coverable node is already covered,
or no further site lowers the model cost), the rest are added greedily, one at a time: largest
covered-weight gain (MCLP only), then largest drop of total weighted travel time, with unreachable
pairs priced above any reachable assignment; ties go to the lowest candidate index. These
additions never lower the objective.

Conventions
-----------
* Travel time to the "nearest selected site" is the minimum over the selected columns; ties go to
  the lowest candidate index. ``assignment`` is -1 and ``travel_time_s`` is ``np.inf`` where no
  selected site reaches the demand node.
* Means and the 90th percentile are weighted by ``weights`` over demand nodes that some selected
  site reaches; the weight share of the others is ``unreachable_weight_share``. The percentile is
  the weighted "inverted_cdf" rule (Hyndman & Fan (1996) definition 1, as
  ``numpy.percentile(..., weights=w, method="inverted_cdf")``): the smallest travel time ``t``
  whose cumulative weight share (values sorted ascending) reaches 0.9.
* ``time_limit_s`` is the budget of the whole search (checks, the first greedy step and the final
  evaluation come on top and take well under a second on the benchmark). ``mip_gap`` is
  ``|objective_bound - objective| / |objective|`` on the reported objective (fixed sites
  included), so it can be smaller than HiGHS's own gap on the reduced model.
* Memory: a few dense float64 arrays of the size of ``cost_s`` (its positive-weight rows) and the
  candidate lists (at most ``max_assignment_vars`` pairs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from xunfang.errors import InfeasibleError, SolverError, ValidationError
from xunfang.plan._highs import new_highs, pass_model

__all__ = [
    "P90_QUANTILE",
    "SiteEvaluation",
    "SitingResult",
    "evaluate_sites",
    "mclp",
    "p_median",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Quantile reported as ``p90_travel_time_s``.
P90_QUANTILE = 0.9
#: Demand rows processed at once when building p-median candidate lists (bounds peak memory).
_CHUNK_ROWS = 2048
#: Row block of the dense gain computations (keeps the work buffer in cache).
_GAIN_BLOCK_ROWS = 64
_HIGHS_INF: float = float(highspy.kHighsInf)
#: Subgradient limits (Beasley 1993 uses similar values): iterations, non-improving steps before
#: the step factor is halved, and the step factor at which the search stops.
_LAGRANGIAN_MAX_ITER = 20000
_LAGRANGIAN_STALL = 60
_LAGRANGIAN_MIN_STEP = 1e-4
#: HiGHS presolve in the MCLP MIP (off: measured in the module notes, benchmarks/bench_siting.py).
_MCLP_PRESOLVE = False
#: Shares of the p-median time budget: the first vertex substitution (from the greedy start)
#: stops at this share of the budget, the subgradient search at this share of what is left
#: (the rest goes to vertex substitution from its solutions, at most this share of it, and
#: then to HiGHS on the sites that reduced-cost fixing leaves).
#: Measured on Chicago districts (benchmarks/bench_pmedian.py, 60 s, load 15-20): 0.08 and 0.85
#: proved district 16 optimal where 0.25 and 0.6 stopped at 0.33 %, but left district 8 at
#: 2.2 % against 0.10 % (a poor first incumbent misguides the subgradient steps and no time is
#: left for HiGHS): 0.25 and 0.6 are kept.
_FIRST_SWAP_SHARE = 0.25
_LAGRANGIAN_SHARE = 0.6
_POOL_SWAP_SHARE = 0.5
#: Restarts of the subgradient search (from its best multipliers, step factor 0.5) when it
#: converged with time left and the gap open.
_LAGRANGIAN_RESTARTS = 4
#: Lagrangian subproblem solutions kept as starts for the local search.
_LAGRANGIAN_POOL = 6
#: Shortest candidate list in the Lagrangian and in the first MIP round.
_LAGRANGIAN_MIN_LIST = 16
_MIP_MIN_LIST = 8
#: Assignment pairs of a p-median MIP that HiGHS typically solves (root LP and a few nodes) in
#: 20 s; the first MIP is skipped when larger than this times sqrt(time left / 20 s). Measured on
#: the 3,000 x 2,000 benchmark: 48k pairs take ~3 s for the LP relaxation, 94k ~22 s.
_MIP_PAIRS_PER_20S = 50_000.0

_STATUS_NAMES: dict[Any, str] = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kMemoryLimit: "memory_limit",
}


@dataclass(frozen=True)
class SiteEvaluation:
    """How well a set of open sites serves the demand.

    Attributes
    ----------
    selected
        (k,) int64, the open candidate indices, sorted.
    assignment
        (n_demand,) int64, candidate index of the nearest open site; -1 where none reaches.
    travel_time_s
        (n_demand,) float64, seconds to the nearest open site; ``np.inf`` where none reaches.
    covered
        (n_demand,) bool, ``travel_time_s <= threshold_s``; all False without a threshold.
    threshold_s
        The coverage threshold in seconds, or None.
    total_weight
        Sum of all demand weights.
    covered_weight
        Demand weight within ``threshold_s`` (nan without a threshold).
    covered_weight_share
        ``covered_weight / total_weight`` (nan without a threshold or when the total is 0).
    mean_travel_time_s
        Weighted mean travel time over the demand that some open site reaches (nan if none).
    p90_travel_time_s
        Weighted 90th percentile of the same, "inverted_cdf" rule (see the module notes).
    unreachable_weight_share
        Share of the total weight that no open site reaches (nan when the total is 0).
    n_unreachable
        Number of demand nodes that no open site reaches.
    """

    selected: IntArray
    assignment: IntArray
    travel_time_s: FloatArray
    covered: BoolArray
    threshold_s: float | None
    total_weight: float
    covered_weight: float
    covered_weight_share: float
    mean_travel_time_s: float
    p90_travel_time_s: float
    unreachable_weight_share: float
    n_unreachable: int


@dataclass(frozen=True)
class SitingResult:
    """The answer of :func:`mclp` or :func:`p_median`.

    Attributes
    ----------
    model
        ``"MCLP"`` or ``"p-median"``.
    selected
        (k,) int64, the open candidate indices, sorted, fixed ones included.
    fixed
        (n_fixed,) int64, the candidate indices forced open, sorted.
    assignment
        (n_demand,) int64, candidate index of the nearest selected site (-1 where none reaches).
    travel_time_s
        (n_demand,) float64, seconds to the nearest selected site (``np.inf`` where none reaches).
    covered
        (n_demand,) bool, ``travel_time_s <= threshold_s``; all False without a threshold.
    objective
        MCLP: covered demand weight. p-median: total weighted travel time in seconds (weight x s)
        over the demand that some candidate reaches (``np.inf`` if a selected set leaves such a
        node unreached).
    covered_weight_share
        Share of the total demand weight within ``threshold_s`` (nan without a threshold).
    mean_travel_time_s
        Weighted mean travel time to the nearest selected site over the reached demand.
    threshold_s
        Coverage threshold in seconds (None for a p-median solved without one).
    solve_time_s
        Seconds of the search: heuristics, bounds and HiGHS (not the checks nor the final
        evaluation; see ``wall_time_s``).
    mip_gap
        ``|objective_bound - objective| / |objective|``; 0.0 when the bound is attained.
    status
        ``"optimal"``, ``"optimal_reduced"`` (p-median: list cap reached, heuristic answer),
        ``"time_limit"``, or another HiGHS stop reason in lower case.
    p90_travel_time_s
        Weighted 90th percentile travel time over the reached demand ("inverted_cdf").
    unreachable_weight_share
        Share of the demand weight that no selected site reaches.
    objective_bound
        Best bound proved on the objective (upper bound for MCLP, lower bound for p-median).
    wall_time_s
        Seconds for the whole call: checks, model building, solving and evaluation.
    highs_time_s
        Seconds spent inside HiGHS (0.0 when the heuristics and bounds settled it).
    n_model_rows, n_model_cols
        Size of the last MIP given to HiGHS (0 when no choice was left).
    notes
        What was left out of the model and why, with counts, and what was added greedily.
    """

    model: str
    selected: IntArray
    fixed: IntArray
    assignment: IntArray
    travel_time_s: FloatArray
    covered: BoolArray
    objective: float
    covered_weight_share: float
    mean_travel_time_s: float
    threshold_s: float | None
    solve_time_s: float
    mip_gap: float
    status: str
    p90_travel_time_s: float = math.nan
    unreachable_weight_share: float = math.nan
    objective_bound: float = math.nan
    wall_time_s: float = math.nan
    highs_time_s: float = 0.0
    n_model_rows: int = 0
    n_model_cols: int = 0
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# checks


def _as_cost_matrix(cost_s: ArrayLike) -> FloatArray:
    cost = np.asarray(cost_s)
    if cost.dtype == np.bool_ or not (
        np.issubdtype(cost.dtype, np.floating) or np.issubdtype(cost.dtype, np.integer)
    ):
        raise TypeError(
            f"cost_s must be a numeric array of travel times in seconds, got dtype {cost.dtype}"
        )
    if cost.ndim != 2:
        raise ValidationError(
            f"cost_s must be 2-D with shape (n_demand, n_candidates), got shape {cost.shape}"
        )
    if cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValidationError(
            f"cost_s has shape {cost.shape}: it needs at least one demand row and one candidate "
            "column"
        )
    # row-major float64: every model works on rows (a transposed matrix is copied once here)
    return np.ascontiguousarray(cost, dtype=np.float64)


def _check_inputs(cost_s: ArrayLike, weights: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate the travel-time matrix and the weights; collect every problem, raise once."""
    cost = _as_cost_matrix(cost_s)
    w = np.asarray(weights)
    if w.dtype == np.bool_ or not (
        np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)
    ):
        raise TypeError(f"weights must be a numeric array, got dtype {w.dtype}")
    if w.ndim != 1 or w.shape[0] != cost.shape[0]:
        raise ValidationError(
            f"weights must have shape (n_demand,) = ({cost.shape[0]},) to match the rows of "
            f"cost_s {cost.shape}, got shape {w.shape}"
        )
    w = w.astype(np.float64, copy=False)
    problems: list[str] = []
    bad = np.isnan(cost)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        problems.append(
            f"cost_s has {int(bad.sum())} NaN entries (first at [{i}, {j}]); use np.inf for "
            "pairs that cannot be reached"
        )
    bad = cost < 0
    if bad.any():
        i, j = np.argwhere(bad)[0]
        problems.append(
            f"cost_s has {int(bad.sum())} negative travel times (first at [{i}, {j}]: "
            f"{cost[i, j]}); travel times must be >= 0 seconds"
        )
    bad = ~np.isfinite(w)
    if bad.any():
        problems.append(
            f"weights has {int(bad.sum())} non-finite values (first at index "
            f"{int(np.flatnonzero(bad)[0])}); give every demand node a finite weight"
        )
    bad = w < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        problems.append(
            f"weights has {int(bad.sum())} negative values (first at index {i}: {w[i]}); "
            "weights are incident counts and must be >= 0"
        )
    if problems:
        raise ValidationError("; ".join(problems))
    return cost, w


def _as_index_array(values: Sequence[int] | ArrayLike, name: str) -> IntArray:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer candidate indices, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a flat sequence of indices, got shape {arr.shape}")
    return arr.astype(np.int64)


def _index_problems(idx: IntArray, n_candidates: int, name: str) -> list[str]:
    problems: list[str] = []
    out = (idx < 0) | (idx >= n_candidates)
    if out.any():
        problems.append(
            f"{name} has indices outside 0..{n_candidates - 1} (the columns of cost_s): "
            f"{idx[out].tolist()[:10]}"
        )
    uniq, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        problems.append(f"{name} lists candidates more than once: {uniq[counts > 1].tolist()[:10]}")
    return problems


def _check_sites(k: int, fixed: Sequence[int], n_candidates: int) -> IntArray:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an integer number of sites, got {type(k).__name__}")
    k = int(k)
    fx = _as_index_array(fixed, "fixed")
    problems = _index_problems(fx, n_candidates, "fixed")
    if k < 1:
        problems.insert(0, f"k must be at least 1 (the number of sites to open), got {k}")
    if problems:
        raise ValidationError("; ".join(problems))
    if fx.size > k:
        raise InfeasibleError(
            f"k={k} is smaller than the number of fixed sites ({fx.size}): raise k to at least "
            f"{fx.size} or pass fewer fixed sites"
        )
    if k > n_candidates:
        raise InfeasibleError(
            f"k={k} exceeds the number of candidate sites ({n_candidates} columns in cost_s): "
            "lower k or add candidates"
        )
    return np.sort(fx)


def _check_real(value: object, name: str, *, positive: bool, allow_inf: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValidationError(f"{name} must be a finite number, got {x}")
    if x < 0 or (positive and x == 0):
        raise ValidationError(f"{name} must be {'> 0' if positive else '>= 0'}, got {x}")
    return x


def _check_solver_options(time_limit_s: float, mip_rel_gap: float) -> tuple[float, float]:
    return (
        _check_real(time_limit_s, "time_limit_s", positive=True, allow_inf=True),
        _check_real(mip_rel_gap, "mip_rel_gap", positive=False, allow_inf=False),
    )


# --------------------------------------------------------------------------------------------
# evaluation


def _nearest(cost: FloatArray, selected: IntArray) -> tuple[IntArray, FloatArray]:
    """Nearest selected site of every demand row (ties: lowest candidate index)."""
    n_demand = cost.shape[0]
    if selected.size == 0:
        return np.full(n_demand, -1, dtype=np.int64), np.full(n_demand, np.inf)
    sub = cost[:, selected]
    pos = np.argmin(sub, axis=1)
    travel = sub[np.arange(n_demand), pos]
    assignment = np.where(np.isfinite(travel), selected[pos], -1).astype(np.int64)
    return assignment, travel.astype(np.float64, copy=False)


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """Weighted quantile, "inverted_cdf" rule: smallest value whose cumulative weight share >= q.

    Matches ``numpy.quantile(values, q, weights=weights, method="inverted_cdf")``.
    """
    keep = weights > 0
    v, w = values[keep], weights[keep]
    if v.size == 0:
        return math.nan
    order = np.argsort(v, kind="stable")
    cdf = np.cumsum(w[order])
    cdf /= cdf[-1]
    pos = int(np.searchsorted(cdf, q, side="left"))
    return float(v[order][min(pos, v.size - 1)])


def _summarise(
    cost: FloatArray, w: FloatArray, selected: IntArray, threshold_s: float | None
) -> SiteEvaluation:
    assignment, travel = _nearest(cost, selected)
    reached = np.isfinite(travel)
    total = float(w.sum())
    if threshold_s is None:
        covered = np.zeros(travel.shape, dtype=bool)
        covered_weight = math.nan
        share = math.nan
    else:
        covered = travel <= threshold_s
        covered_weight = float(w[covered].sum())
        share = covered_weight / total if total > 0 else math.nan
    w_reached = w[reached]
    reached_weight = float(w_reached.sum())
    mean = float(w_reached @ travel[reached]) / reached_weight if reached_weight > 0 else math.nan
    p90 = weighted_quantile(travel[reached], w_reached, P90_QUANTILE)
    unreached_share = float(w[~reached].sum()) / total if total > 0 else math.nan
    return SiteEvaluation(
        selected=selected,
        assignment=assignment,
        travel_time_s=travel,
        covered=covered,
        threshold_s=threshold_s,
        total_weight=total,
        covered_weight=covered_weight,
        covered_weight_share=share,
        mean_travel_time_s=mean,
        p90_travel_time_s=p90,
        unreachable_weight_share=unreached_share,
        n_unreachable=int((~reached).sum()),
    )


def evaluate_sites(
    cost_s: ArrayLike,
    weights: ArrayLike,
    selected: Sequence[int] | ArrayLike,
    threshold_s: float | None = None,
) -> SiteEvaluation:
    """Score a given set of open sites on the demand: nearest site, coverage, mean and p90 time.

    Used to compare, on the same demand, e.g. existing stations alone with stations plus booths.

    Parameters
    ----------
    cost_s
        Array of shape (n_demand, n_candidates), travel times in seconds, ``np.inf`` where a
        candidate cannot reach a demand node.
    weights
        Array of shape (n_demand,), demand weights (incident counts), >= 0.
    selected
        Candidate (column) indices of the open sites; at least one, no repeats.
    threshold_s
        Coverage threshold in seconds; None to skip coverage (covered is then all False and the
        coverage numbers are nan).

    Returns
    -------
    SiteEvaluation
        Means and the 90th percentile are weighted by ``weights`` over the demand that some open
        site reaches; p90 uses the weighted "inverted_cdf" rule (module notes).

    Raises
    ------
    ValidationError
        Wrong shapes, NaN or negative travel times, negative or non-finite weights, ``selected``
        empty, repeated or out of range, negative ``threshold_s``.
    TypeError
        Non-numeric arrays or indices.
    """
    cost, w = _check_inputs(cost_s, weights)
    sel = _as_index_array(selected, "selected")
    problems = _index_problems(sel, cost.shape[1], "selected")
    if sel.size == 0:
        problems.insert(0, "selected must name at least one candidate index")
    if problems:
        raise ValidationError("; ".join(problems))
    thr = (
        None
        if threshold_s is None
        else _check_real(threshold_s, "threshold_s", positive=False, allow_inf=False)
    )
    return _summarise(cost, w, np.sort(sel), thr)


# --------------------------------------------------------------------------------------------
# heuristics shared by both models (greedy adding, vertex substitution)


def _service_costs(
    cost: FloatArray, w: FloatArray, rows: IntArray | None = None
) -> tuple[FloatArray, FloatArray, float]:
    """Dense travel times of some rows with unreachable pairs priced at ``big``.

    ``rows`` defaults to the positive-weight rows (all rows, weight 1, if there are none). ``big``
    is chosen so that leaving one row unreached costs more than any assignment that reaches every
    row: greedy and interchange then reach what can be reached first. Returns (costs of shape
    (n_rows, n_candidates), row weights, big).
    """
    if rows is None:
        rows = np.flatnonzero(w > 0)
    if rows.size == 0:
        rows, ww = np.arange(cost.shape[0]), np.ones(cost.shape[0])
    else:
        ww = w[rows]
    sub = cost[rows]
    finite = np.isfinite(sub)
    max_t = float(sub[finite].max()) if finite.any() else 0.0
    big = (max_t + 1.0) * (1.0 + float(ww.sum()) / float(ww.min()))
    np.copyto(sub, big, where=~finite)
    return sub, ww, big


def _time_gain(sub: FloatArray, ww: FloatArray, current: FloatArray) -> FloatArray:
    """``ww @ max(current[:, None] - sub, 0)``: weighted time saved by opening each candidate.

    Computed in row blocks with one reused buffer (no full-size temporaries).
    """
    n_rows, n_cand = sub.shape
    gain = np.zeros(n_cand)
    buf = np.empty((min(_GAIN_BLOCK_ROWS, n_rows), n_cand))
    for start in range(0, n_rows, _GAIN_BLOCK_ROWS):
        stop = min(start + _GAIN_BLOCK_ROWS, n_rows)
        b = buf[: stop - start]
        np.subtract(current[start:stop, None], sub[start:stop], out=b)
        np.maximum(b, 0.0, out=b)
        gain += ww[start:stop] @ b
    return gain


def _greedy_add(
    sub: FloatArray,
    ww: FloatArray,
    opened: BoolArray,
    n_add: int,
    big: float,
    threshold_s: float | None = None,
) -> BoolArray:
    """Open ``n_add`` more sites one at a time, each the best for the current set.

    The best site gives the largest covered-weight gain within ``threshold_s`` (when given), then
    the largest drop of total weighted travel time; ties go to the lowest candidate index.
    """
    opened = opened.copy()
    current = sub[:, opened].min(axis=1) if opened.any() else np.full(sub.shape[0], big)
    for _ in range(n_add):
        time_gain = _time_gain(sub, ww, current)
        time_gain[opened] = -np.inf
        if threshold_s is None:
            best = int(np.argmax(time_gain))
        else:
            cover_gain = ww @ ((sub <= threshold_s) & (current > threshold_s)[:, None])
            cover_gain[opened] = -np.inf
            best = int(np.lexsort((-time_gain, -cover_gain))[0])
        opened[best] = True
        current = np.minimum(current, sub[:, best])
    return opened


def _interchange(
    sub: FloatArray, ww: FloatArray, opened: BoolArray, movable: BoolArray, deadline: float
) -> BoolArray:
    """Vertex substitution for the p-median: best improving swap until none is left.

    Teitz, M. B. & Bart, P. (1968), "Heuristic methods for estimating the generalized vertex
    median of a weighted graph", *Operations Research* 16, 955-961; every swap (insert ``c``,
    remove ``f``) is priced at once with the decomposition of Whitaker, R. (1983), "A fast
    algorithm for the greedy interchange for large-scale clustering and median location
    problems", *INFOR* 21, 95-108, as written by Resende, M. G. C. & Werneck, R. F. (2007),
    "A fast swap-based local search procedure for location problems", *Annals of OR* 150,
    205-230: ``profit(c, f) = gain(c) - loss(f) + extra(c, f)``.
    Only sites in ``movable`` are removed. Stops at ``deadline`` (``time.perf_counter``).
    """
    opened = opened.copy()
    n_rows = sub.shape[0]
    ar = np.arange(n_rows)
    while time.perf_counter() < deadline:
        op = np.flatnonzero(opened)
        if not movable[op].any() or opened.all():
            break
        so = sub[:, op]
        if op.size >= 2:
            two = np.argpartition(so, 1, axis=1)[:, :2]
            a, b = so[ar, two[:, 0]], so[ar, two[:, 1]]
            first = np.where(a <= b, two[:, 0], two[:, 1])
            d1, d2 = np.minimum(a, b), np.maximum(a, b)
        else:
            first = np.zeros(n_rows, dtype=np.int64)
            d1 = so[:, 0]
            d2 = np.full(n_rows, float(sub.max()) * 2.0 + 1.0)
        total = float(ww @ d1)
        loss = np.bincount(first, weights=ww * (d2 - d1), minlength=op.size).astype(np.float64)
        gain = _time_gain(sub, ww, d1)
        extra = np.zeros((sub.shape[1], op.size))
        buf = np.empty((min(_GAIN_BLOCK_ROWS, n_rows), sub.shape[1]))
        for start in range(0, n_rows, _GAIN_BLOCK_ROWS):
            stop = min(start + _GAIN_BLOCK_ROWS, n_rows)
            e, s = buf[: stop - start], sub[start:stop]
            d1c, d2c = d1[start:stop, None], d2[start:stop, None]
            # e = w * (d2 - max(t, d1)) where t < d2, else 0
            np.maximum(s, d1c, out=e)
            np.subtract(d2c, e, out=e)
            np.maximum(e, 0.0, out=e)
            e *= ww[start:stop, None]
            onehot = np.zeros((stop - start, op.size))
            onehot[np.arange(stop - start), first[start:stop]] = 1.0
            extra += e.T @ onehot
        profit = gain[:, None] - loss[None, :] + extra
        profit[opened, :] = -np.inf
        profit[:, ~movable[op]] = -np.inf
        c, f = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if not profit[c, f] > 1e-9 * max(total, 1.0):
            break
        opened[op[f]] = False
        opened[c] = True
    return opened


def _fill_greedy(
    cost: FloatArray,
    w: FloatArray,
    selected: IntArray,
    n_add: int,
    threshold_s: float | None,
) -> IntArray:
    """``selected`` plus ``n_add`` sites added by :func:`_greedy_add` (sorted indices)."""
    if n_add <= 0:
        return np.sort(selected)
    sub, ww, big = _service_costs(cost, w)
    opened = np.zeros(cost.shape[1], dtype=bool)
    opened[selected] = True
    return np.flatnonzero(_greedy_add(sub, ww, opened, n_add, big, threshold_s)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# HiGHS


class _NoSolutionYet(SolverError):
    """HiGHS hit a limit (time, ...) before its first feasible solution."""


@dataclass(frozen=True)
class _MipOutcome:
    col_value: FloatArray
    status: str
    objective: float
    bound: float
    run_time_s: float


def _solve_mip(
    a: sparse.csc_matrix,
    col_cost: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    row_lower: FloatArray,
    row_upper: FloatArray,
    integer_cols: IntArray,
    *,
    maximise: bool,
    time_limit_s: float,
    mip_rel_gap: float,
    start: FloatArray | None = None,
    presolve: bool = True,
) -> _MipOutcome:
    """Solve one MIP given as a CSC matrix; raise SolverError without a feasible solution."""
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if not presolve:
        h.setOptionValue("presolve", "off")
    n_row, n_col = a.shape
    integrality = np.zeros(n_col, dtype=np.int32)
    integrality[integer_cols] = 1
    pass_model(
        h,
        a,
        col_cost,
        col_lower,
        col_upper,
        row_lower,
        row_upper,
        integrality,
        maximise=maximise,
    )
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    run_status = h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    run_time = float(h.getRunTime())
    if model_status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError(
            "the siting model is infeasible: with this k some demand node that a candidate "
            "reaches cannot be served; raise k or check cost_s for disconnected parts"
        )
    name = _STATUS_NAMES.get(model_status)
    has_solution = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    if name is not None and name != "optimal" and not has_solution:
        raise _NoSolutionYet(
            f"HiGHS stopped ({name}) before finding a solution ({n_row} rows, {n_col} columns); "
            "raise time_limit_s"
        )
    if run_status == highspy.HighsStatus.kError or name is None or not has_solution:
        raise SolverError(
            f"HiGHS stopped without a usable solution (model status "
            f"{h.modelStatusToString(model_status)!r}, {n_row} rows, {n_col} columns); raise "
            "time_limit_s or mip_rel_gap"
        )
    return _MipOutcome(
        col_value=np.asarray(h.getSolution().col_value, dtype=np.float64),
        status=name,
        objective=float(info.objective_function_value),
        bound=float(info.mip_dual_bound),
        run_time_s=run_time,
    )


def _relative_gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return 0.0 if objective == bound else math.inf
    diff = abs(bound - objective)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / abs(objective) if objective != 0 else math.inf


def _result(
    model: str,
    cost: FloatArray,
    w: FloatArray,
    selected: IntArray,
    fixed: IntArray,
    threshold_s: float | None,
    *,
    objective: float,
    bound: float,
    status: str,
    solve_time_s: float,
    highs_time_s: float,
    t_start: float,
    n_rows: int,
    n_cols: int,
    notes: list[str],
) -> SitingResult:
    ev = _summarise(cost, w, selected, threshold_s)
    return SitingResult(
        model=model,
        selected=selected,
        fixed=fixed,
        assignment=ev.assignment,
        travel_time_s=ev.travel_time_s,
        covered=ev.covered,
        objective=objective,
        covered_weight_share=ev.covered_weight_share,
        mean_travel_time_s=ev.mean_travel_time_s,
        threshold_s=threshold_s,
        solve_time_s=solve_time_s,
        mip_gap=_relative_gap(objective, bound),
        status=status,
        p90_travel_time_s=ev.p90_travel_time_s,
        unreachable_weight_share=ev.unreachable_weight_share,
        objective_bound=bound,
        wall_time_s=time.perf_counter() - t_start,
        highs_time_s=highs_time_s,
        n_model_rows=n_rows,
        n_model_cols=n_cols,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# MCLP


def _unique_rows(mat: BoolArray) -> tuple[IntArray, IntArray]:
    """Indices of the first occurrence of each distinct row, and the inverse map."""
    if mat.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    packed = np.ascontiguousarray(np.packbits(mat, axis=1))
    if packed.shape[1] == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(mat.shape[0], dtype=np.int64)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # keep groups in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order].astype(np.int64), rank[inverse.ravel()].astype(np.int64)


def _greedy_cover(
    g_csc: sparse.csc_matrix, group_w: FloatArray, n_pick: int
) -> tuple[IntArray, BoolArray]:
    """Greedy maximal covering on the (groups x candidates) matrix: up to ``n_pick`` columns.

    Each step opens the column covering the most uncovered weight (lowest index on ties) and
    stops early when nothing uncovered is left. Returns (chosen columns, covered groups).
    """
    covered = np.zeros(g_csc.shape[0], dtype=bool)
    chosen: list[int] = []
    for _ in range(n_pick):
        gain = g_csc.T @ np.where(covered, 0.0, group_w)
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        covered[g_csc.indices[g_csc.indptr[j] : g_csc.indptr[j + 1]]] = True
    return np.asarray(chosen, dtype=np.int64), covered


def _cover_interchange(
    g_csc: sparse.csc_matrix, group_w: FloatArray, chosen: IntArray, deadline: float
) -> tuple[IntArray, BoolArray]:
    """Vertex substitution for the MCLP: best improving swap of one open column until none.

    Teitz & Bart (1968) swaps, priced all at once as in Whitaker (1983):
    ``profit(c, f) = gain(c) - loss(f) + extra(c, f)`` with ``gain`` the uncovered weight ``c``
    covers, ``loss`` the weight only ``f`` covers, and ``extra`` the part of that weight ``c``
    also covers. Returns (chosen columns, covered groups).
    """
    g_csr = g_csc.tocsr()
    opened = np.zeros(g_csc.shape[1], dtype=bool)
    opened[chosen] = True
    while True:
        op = np.flatnonzero(opened)
        count = np.asarray(g_csc[:, op].sum(axis=1)).ravel()
        if op.size == 0 or time.perf_counter() >= deadline:
            break
        gain = g_csc.T @ np.where(count == 0, group_w, 0.0)
        only = np.where(count == 1, group_w, 0.0)
        sole = g_csc[:, op].multiply(only[:, None])  # (groups, open) weight covered only by f
        loss = np.asarray(sole.sum(axis=0)).ravel()
        extra = np.asarray((g_csr.T @ sole.tocsc()).todense())
        profit = gain[:, None] - loss[None, :] + extra
        profit[opened, :] = -np.inf
        c, f = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if not profit[c, f] > 1e-9 * max(1.0, float(group_w.sum())):
            break
        opened[op[f]] = False
        opened[c] = True
    op = np.flatnonzero(opened)
    covered = np.asarray(g_csc[:, op].sum(axis=1)).ravel() > 0
    return op.astype(np.int64), covered


def _mclp_lagrangian(
    g_csc: sparse.csc_matrix,
    group_w: FloatArray,
    n_pick: int,
    incumbent: IntArray,
    deadline: float,
    gap_tol: float,
) -> tuple[float, IntArray, float]:
    """Upper bound of the MCLP model by Lagrangian relaxation of the coverage rows.

    Galvao, R. D. & ReVelle, C. (1996), "A Lagrangean heuristic for the maximal covering location
    problem", *EJOR* 88, 114-123: with multipliers ``0 <= lam_g <= W_g`` the bound is
    ``sum_g max(0, W_g - lam_g) + (sum of the n_pick largest sum_{g in N_j} lam_g)``, minimised by
    subgradient steps; the chosen columns of each step are a heuristic solution. Returns (bound,
    best columns found, their covered weight), starting from the ``incumbent`` columns.
    """
    g_csr = g_csc.tocsr()
    n_cols = g_csc.shape[1]

    def covered_weight(cols: IntArray) -> float:
        hit = np.zeros(g_csc.shape[0], dtype=bool)
        for j in cols:
            hit[g_csc.indices[g_csc.indptr[j] : g_csc.indptr[j + 1]]] = True
        return float(group_w[hit].sum())

    best_cols, best_value = incumbent, covered_weight(incumbent)
    lam = 0.5 * group_w
    best_bound, step, stall = math.inf, 2.0, 0
    n_pick = min(n_pick, n_cols)
    for _ in range(_LAGRANGIAN_MAX_ITER):
        col_value = g_csc.T @ lam
        top = np.argpartition(-col_value, n_pick - 1)[:n_pick]
        z = group_w > lam
        bound = float(np.maximum(group_w - lam, 0.0).sum() + col_value[top].sum())
        if bound < best_bound:
            best_bound, stall = bound, 0
        else:
            stall += 1
            if stall >= _LAGRANGIAN_STALL:
                step, stall = step / 2.0, 0
        value = covered_weight(top)
        if value > best_value:
            best_cols, best_value = np.sort(top).astype(np.int64), value
        if (
            best_bound - best_value <= gap_tol * max(abs(best_value), 1e-12)
            or step < _LAGRANGIAN_MIN_STEP
            or time.perf_counter() >= deadline
        ):
            break
        y = np.zeros(n_cols)
        y[top] = 1.0
        sub_gradient = z.astype(np.float64) - g_csr @ y
        norm = float(sub_gradient @ sub_gradient)
        if norm == 0.0:
            break
        lam = np.clip(lam + step * (bound - best_value) / norm * sub_gradient, 0.0, group_w)
    return best_bound, best_cols, best_value


def mclp(
    cost_s: ArrayLike,
    weights: ArrayLike,
    k: int,
    threshold_s: float,
    *,
    fixed: Sequence[int] = (),
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    lagrangian: bool = True,
) -> SitingResult:
    """Maximal covering location: open ``k`` sites covering the most demand within a time.

    Church & ReVelle (1974), "The maximal covering location problem": exact reductions, greedy
    covering, vertex substitution, Lagrangian bound (Galvao & ReVelle 1996), then HiGHS (module
    notes).

    Parameters
    ----------
    cost_s
        Array of shape (n_demand, n_candidates), travel times in seconds; ``np.inf`` where the
        candidate cannot reach the demand node.
    weights
        Array of shape (n_demand,), demand weights (incident counts), >= 0.
    k
        Number of sites to open, fixed ones included; ``len(fixed) <= k <= n_candidates``.
        ``k == len(fixed)`` leaves no choice: the fixed sites are evaluated.
    threshold_s
        Coverage standard in seconds: a demand node is covered when an open site reaches it
        within ``threshold_s`` (inclusive).
    fixed
        Candidate indices forced open (e.g. existing stations).
    time_limit_s
        Time budget in seconds of the search: vertex substitution stops at a quarter of it, the
        Lagrangian bound at half, HiGHS gets the rest; the best solution found is returned
        with status ``"time_limit"`` when the gap is not closed by then.
    mip_rel_gap
        Relative gap at which the search stops as optimal (also given to HiGHS).
    lagrangian
        False skips vertex substitution and the Lagrangian bound: HiGHS starts from the greedy
        solution (for checking, and for small instances).

    Returns
    -------
    SitingResult
        ``objective`` is the covered demand weight; ``objective_bound`` an upper bound of it.

    Raises
    ------
    ValidationError
        Shapes that do not match, NaN or negative travel times, negative weights, ``k < 1``,
        ``fixed`` out of range or repeated, bad ``threshold_s``/``time_limit_s``/``mip_rel_gap``.
    InfeasibleError
        ``k < len(fixed)`` or ``k > n_candidates``.
    SolverError
        HiGHS fails or stops before finding a solution.
    TypeError
        Non-numeric arrays or a non-integer ``k``.
    """
    t_start = time.perf_counter()
    cost, w = _check_inputs(cost_s, weights)
    fx = _check_sites(k, fixed, cost.shape[1])
    thr = _check_real(threshold_s, "threshold_s", positive=False, allow_inf=False)
    time_limit_s, mip_rel_gap = _check_solver_options(time_limit_s, mip_rel_gap)
    n_demand, n_cand = cost.shape
    k_free = int(k) - fx.size
    notes: list[str] = []

    cover = cost <= thr
    coverable = cover.any(axis=1)
    by_fixed = cover[:, fx].any(axis=1) if fx.size else np.zeros(n_demand, dtype=bool)
    positive = w > 0
    n_zero = int((~positive).sum())
    n_uncoverable = int((positive & ~coverable).sum())
    n_by_fixed = int((positive & by_fixed).sum())
    if n_zero:
        notes.append(f"{n_zero} demand nodes of zero weight left out of the model")
    if n_uncoverable:
        notes.append(
            f"{n_uncoverable} demand nodes (weight {float(w[positive & ~coverable].sum()):g}) "
            f"are within {thr:g} s of no candidate: never coverable"
        )
    if n_by_fixed:
        notes.append(f"{n_by_fixed} demand nodes already covered by fixed sites")
    in_model = positive & coverable & ~by_fixed
    const_weight = float(w[positive & by_fixed].sum())

    free_mask = np.ones(n_cand, dtype=bool)
    free_mask[fx] = False
    free = np.flatnonzero(free_mask)
    chosen: IntArray = np.zeros(0, dtype=np.int64)
    status, solve_time, bound_extra, n_rows, n_cols = "optimal", 0.0, math.nan, 0, 0
    t_search = time.perf_counter()
    if k_free > 0 and in_model.any():
        sub = cover[np.ix_(np.flatnonzero(in_model), free)]
        # merge demand rows with the same covering set
        first, inverse = _unique_rows(sub)
        group_w = np.bincount(inverse, weights=w[in_model], minlength=first.size).astype(np.float64)
        groups = sub[first]
        # drop candidates covering nothing, merge identical candidate columns
        useful = groups.any(axis=0)
        col_first, _ = _unique_rows(np.ascontiguousarray(groups[:, useful].T))
        cols = np.flatnonzero(useful)[col_first]
        n_merged_cols = int(useful.sum()) - cols.size
        groups = groups[:, cols]
        notes.append(
            f"MCLP model: {int(in_model.sum())} demand nodes in {first.size} coverage groups, "
            f"{cols.size} of {free.size} free candidates ({int((~useful).sum())} cover nothing "
            f"left, {n_merged_cols} duplicate a kept candidate's coverage)"
        )
        n_y, n_g = cols.size, first.size
        g_csc = sparse.csc_matrix(groups, dtype=np.float64)
        start_cols, start_cov = _greedy_cover(g_csc, group_w, k_free)
        lag_bound = math.inf
        if lagrangian and not start_cov.all() and start_cols.size:
            start_cols, start_cov = _cover_interchange(
                g_csc, group_w, start_cols, t_start + time_limit_s / 4.0
            )
            lag_bound, lag_cols, lag_value = _mclp_lagrangian(
                g_csc, group_w, k_free, start_cols, t_start + time_limit_s / 2.0, mip_rel_gap
            )
            if lag_value > float(group_w @ start_cov):
                start_cols, start_cov = _cover_interchange(
                    g_csc, group_w, lag_cols, t_start + time_limit_s / 2.0
                )
            notes.append(
                "greedy + vertex substitution + Lagrangian heuristic cover "
                f"{float(group_w @ start_cov):g} of the model's weight {float(group_w.sum()):g}; "
                f"Lagrangian bound {lag_bound:g}"
            )
        chosen = free[cols[start_cols]]
        if start_cov.all():
            notes.append("the heuristics cover every coverable demand node: optimal, no MIP")
        elif lag_bound - float(group_w @ start_cov) <= mip_rel_gap * float(group_w @ start_cov):
            bound_extra = lag_bound
            notes.append("the Lagrangian bound proves the heuristic solution optimal: no MIP")
        else:
            a = sparse.vstack(
                [
                    sparse.hstack([-g_csc, sparse.identity(n_g, format="csc")]),
                    sparse.hstack(
                        [sparse.csr_matrix(np.ones((1, n_y))), sparse.csr_matrix((1, n_g))]
                    ),
                ],
                format="csc",
            )
            n_rows, n_cols = a.shape
            start = np.zeros(n_y + n_g)
            start[start_cols] = 1.0
            start[n_y:] = start_cov
            out = _solve_mip(
                a,
                col_cost=np.concatenate([np.zeros(n_y), group_w]),
                col_lower=np.zeros(n_y + n_g),
                col_upper=np.ones(n_y + n_g),
                row_lower=np.full(n_g + 1, -_HIGHS_INF),
                row_upper=np.concatenate([np.zeros(n_g), [float(k_free)]]),
                integer_cols=np.arange(n_y),
                maximise=True,
                time_limit_s=max(t_start + time_limit_s - time.perf_counter(), 1e-3),
                mip_rel_gap=mip_rel_gap,
                start=start,
                presolve=_MCLP_PRESOLVE,
            )
            status, solve_time = out.status, out.run_time_s
            # no dual bound yet (stopped in the root LP): the model's total weight bounds it
            bound_extra = min(out.bound, lag_bound, float(group_w.sum()))
            y_mip = (out.col_value[:n_y] > 0.5).astype(np.float64)
            if float(group_w @ ((g_csc @ y_mip) > 0.5)) >= float(group_w @ start_cov):
                chosen = free[cols[y_mip > 0.5]]
    search_time = time.perf_counter() - t_search
    selected = np.sort(np.concatenate([fx, chosen]))
    n_add = int(k) - selected.size
    if n_add > 0:
        notes.append(f"{n_add} sites added greedily (no further coverage gain in the model)")
        selected = _fill_greedy(cost, w, selected, n_add, thr)
    objective = float(w[cost[:, selected].min(axis=1) <= thr].sum())
    bound = objective if math.isnan(bound_extra) else max(objective, const_weight + bound_extra)
    return _result(
        "MCLP",
        cost,
        w,
        selected,
        fx,
        thr,
        objective=objective,
        bound=bound,
        status=status,
        solve_time_s=search_time,
        highs_time_s=solve_time,
        t_start=t_start,
        n_rows=n_rows,
        n_cols=n_cols,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# p-median


@dataclass(frozen=True)
class _Lists:
    """Sorted candidate lists of the p-median demand rows (free candidates only)."""

    cand: NDArray[np.int64]  # (n_model, width) candidate index, -1 padding
    cost: FloatArray  # (n_model, width) travel time, inf padding
    n_eligible: IntArray  # (n_model,) free candidates reachable and nearer than any fixed site
    fixed_cost: FloatArray  # (n_model,) travel time to the nearest fixed site (inf if none)
    fixed_site: IntArray  # (n_model,) that fixed site (-1 if none)


def _candidate_lists(
    cost: FloatArray, rows: IntArray, free: IntArray, fixed: IntArray, width: int
) -> _Lists:
    n_model = rows.size
    cand = np.full((n_model, width), -1, dtype=np.int64)
    vals = np.full((n_model, width), np.inf)
    n_elig = np.zeros(n_model, dtype=np.int64)
    fixed_cost = np.full(n_model, np.inf)
    fixed_site = np.full(n_model, -1, dtype=np.int64)
    for start in range(0, n_model, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n_model)
        r = rows[start:stop]
        sub = cost[np.ix_(r, free)]
        if fixed.size:
            fsub = cost[np.ix_(r, fixed)]
            fpos = np.argmin(fsub, axis=1)
            fc = fsub[np.arange(r.size), fpos]
            fixed_cost[start:stop] = fc
            fixed_site[start:stop] = np.where(np.isfinite(fc), fixed[fpos], -1)
            sub[sub >= fc[:, None]] = np.inf
        n_elig[start:stop] = np.isfinite(sub).sum(axis=1)
        if width < free.size:
            part = np.argpartition(sub, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(free.size), sub.shape).copy()
        pv = np.take_along_axis(sub, part, axis=1)
        order = np.lexsort((part, pv), axis=-1)
        part = np.take_along_axis(part, order, axis=1)
        pv = np.take_along_axis(pv, order, axis=1)
        cand[start:stop] = np.where(np.isfinite(pv), free[part], -1)
        vals[start:stop] = pv
    return _Lists(cand, vals, n_elig, fixed_cost, fixed_site)


@dataclass(frozen=True)
class _PMedianModel:
    a: sparse.csc_matrix
    col_cost: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    y_cand: IntArray  # candidate index of each y column (columns 0..n_y-1)
    pair_client: IntArray  # model row of each x column
    pair_cand: IntArray
    fixed_clients: IntArray  # model rows with a fixed-site assignment column
    slack_clients: IntArray  # model rows with a slack column

    @property
    def n_y(self) -> int:
        return int(self.y_cand.size)


def _build_p_median(lists: _Lists, length: IntArray, w: FloatArray, k_free: int) -> _PMedianModel:
    n_m, width = lists.cand.shape
    in_list = np.arange(width)[None, :] < length[:, None]
    client, pos = np.nonzero(in_list)
    pair_cand = lists.cand[client, pos]
    pair_cost = lists.cost[client, pos]
    y_cand, y_of_pair = np.unique(pair_cand, return_inverse=True)
    n_y, n_p = y_cand.size, pair_cand.size
    fixed_clients = np.flatnonzero(np.isfinite(lists.fixed_cost))
    slack_clients = np.flatnonzero(lists.n_eligible > length)
    n_f, n_s = fixed_clients.size, slack_clients.size
    x0, f0, s0 = n_y, n_y + n_p, n_y + n_p + n_f
    n_col = s0 + n_s
    link0, card = n_m, n_m + n_p
    p = np.arange(n_p)
    rows = np.concatenate(
        [client, link0 + p, link0 + p, np.full(n_y, card), fixed_clients, slack_clients]
    )
    cols = np.concatenate(
        [
            x0 + p,
            x0 + p,
            y_of_pair.ravel(),
            np.arange(n_y),
            f0 + np.arange(n_f),
            s0 + np.arange(n_s),
        ]
    )
    data = np.concatenate([np.ones(2 * n_p), -np.ones(n_p), np.ones(n_y + n_f + n_s)])
    a = sparse.coo_matrix((data, (rows, cols)), shape=(card + 1, n_col)).tocsc()
    slack_cost = lists.cost[slack_clients, length[slack_clients]]
    col_cost = np.concatenate(
        [
            np.zeros(n_y),
            w[client] * pair_cost,
            w[fixed_clients] * lists.fixed_cost[fixed_clients],
            w[slack_clients] * slack_cost,
        ]
    )
    row_lower = np.concatenate([np.ones(n_m), np.full(n_p + 1, -_HIGHS_INF)])
    row_upper = np.concatenate([np.ones(n_m), np.zeros(n_p), [float(k_free)]])
    return _PMedianModel(
        a, col_cost, row_lower, row_upper, y_cand, client, pair_cand, fixed_clients, slack_clients
    )


def _p_median_start(
    model: _PMedianModel, lists: _Lists, length: IntArray, open_mask: BoolArray
) -> FloatArray | None:
    """A feasible column vector for ``model`` with the open sites ``open_mask`` (or None)."""
    n_m, width = lists.cand.shape
    in_list = np.arange(width)[None, :] < length[:, None]
    is_open = in_list & (lists.cand >= 0) & open_mask[np.maximum(lists.cand, 0)]
    first = np.argmax(is_open, axis=1)
    served = is_open[np.arange(n_m), first]
    col = np.zeros(model.a.shape[1])
    col[: model.n_y] = open_mask[model.y_cand]
    if col[: model.n_y].sum() > float(model.row_upper[-1]) + 0.5:
        return None
    # x columns are numbered in row-major order of in_list: offset of each client's first pair
    offsets = np.concatenate([[0], np.cumsum(length)[:-1]])
    col[model.n_y + offsets[served] + first[served]] = 1.0
    need = ~served
    slack_pos = np.full(n_m, -1)
    slack_pos[model.slack_clients] = np.arange(model.slack_clients.size)
    fixed_pos = np.full(n_m, -1)
    fixed_pos[model.fixed_clients] = np.arange(model.fixed_clients.size)
    n_p = model.pair_cand.size
    use_slack = need & (slack_pos >= 0)
    use_fixed = need & ~use_slack & (fixed_pos >= 0)
    if (need & ~use_slack & ~use_fixed).any():
        return None
    col[model.n_y + n_p + fixed_pos[use_fixed]] = 1.0
    col[model.n_y + n_p + model.fixed_clients.size + slack_pos[use_slack]] = 1.0
    return col


@dataclass(frozen=True)
class _LagrangianOutcome:
    bound: float
    rho: FloatArray  # (n_candidates,) site values at the best multipliers; inf: not free
    ub: float
    ub_opened: BoolArray  # best open set found (the incumbent, possibly improved)
    iterations: int
    pool: tuple[IntArray, ...]  # distinct subproblem site sets at the last bound improvements
    lam: FloatArray  # multipliers at the best bound (a warm start for a restart)
    converged: bool  # stopped because the step factor fell below its floor (not time, not gap)


def _lagrangian(
    lists: _Lists,
    length: IntArray,
    ww: FloatArray,
    k_free: int,
    free_mask: BoolArray,
    fixed_mask: BoolArray,
    sub: FloatArray,
    incumbent: BoolArray,
    deadline: float,
    gap_tol: float,
    lam0: FloatArray | None = None,
    step0: float = 2.0,
) -> _LagrangianOutcome:
    """Lagrangian lower bound of the p-median by subgradient optimisation, with a heuristic.

    The assignment constraints are relaxed with multipliers ``lam_i`` (Cornuejols, G., Fisher,
    M. L. & Nemhauser, G. L. (1977), "Location of bank accounts to optimize float", *Management
    Science* 23, 789-810); the subproblem opens the ``k_free`` sites of smallest
    ``rho_j = sum_i min(0, w_i t_ij - lam_i)``. Multipliers are capped at the weighted cost of the
    first candidate outside each list (and of the nearest fixed site), so pairs outside the lists
    contribute nothing and the bound is valid for the full problem. Step rule and heuristic (the
    subproblem's sites, evaluated exactly, as incumbents) after Beasley, J. E. (1993),
    "Lagrangean heuristics for location problems", *EJOR* 65, 383-399.
    """
    n_m, width = lists.cand.shape
    n_cand = free_mask.size
    in_list = np.arange(width)[None, :] < length[:, None]
    # Only pairs with w_i t_ij < lam_i count, a prefix of each (sorted) list: find its length
    # for all rows at once with one searchsorted on row-offset keys.
    finite_max = float(lists.cost[in_list].max()) if in_list.any() else 0.0
    pad = finite_max + 1.0
    row_gap = pad + 1.0
    # the listed pairs only, row after row (compressed rows: a third of the padded array on
    # Chicago districts, and its gathers stay in cache); keys ascend across rows
    row_key0 = np.arange(n_m) * row_gap
    keys = (lists.cost + row_key0[:, None])[in_list]
    row_pos0 = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    cand_flat = lists.cand[in_list]
    wcost_flat = (ww[:, None] * lists.cost)[in_list]
    truncated = lists.n_eligible > length
    tail = np.where(truncated, lists.cost[np.arange(n_m), np.minimum(length, width - 1)], np.inf)
    lam_cap = ww * np.minimum(lists.fixed_cost, tail)
    w_fixed = ww * lists.fixed_cost
    fixed_sites = np.flatnonzero(fixed_mask)

    inv_w = (1.0 + 1e-12) / ww  # thresholds a hair generous: extra pairs add min(0, .) = 0
    thr = np.empty(n_m)
    ar_n = np.arange(n_m)
    ar_pairs = np.arange(int(length.sum()))

    # candidate-major copy: the rows of a site set are contiguous (3x faster than a column
    # gather of ``sub`` for the exact cost of each subproblem solution)
    sub_t = np.ascontiguousarray(sub.T)

    def true_cost(sites: IntArray) -> float:
        return float(sub_t[np.concatenate([fixed_sites, sites])].min(axis=0) @ ww)

    ub_opened = incumbent.copy()
    ub = float(ww @ sub[:, incumbent].min(axis=1))
    lam = np.minimum(ww * sub[:, incumbent].min(axis=1) if lam0 is None else lam0, lam_cap)
    best_bound, best_rho, best_lam = -math.inf, np.full(n_cand, np.inf), lam
    pool: list[IntArray] = []
    step, stall, last_key, it = step0, 0, b"", 0
    for it in range(1, _LAGRANGIAN_MAX_ITER + 1):  # noqa: B007 (it is reported)
        # active prefix lengths (a hair generous: extra pairs only add min(0, red) = 0)
        # (thresholds stay below the next row's keys: active <= length without a clip)
        np.multiply(lam, inv_w, out=thr)
        np.minimum(thr, pad, out=thr)
        thr += row_key0
        active = np.searchsorted(keys, thr, side="left")
        active -= row_pos0
        ends = np.cumsum(active)
        n_act = int(ends[-1])
        client = np.repeat(ar_n, active)
        ends -= active + row_pos0  # minus each row's first flat position
        idx = np.repeat(ends, active)
        np.subtract(ar_pairs[:n_act], idx, out=idx)
        cand = cand_flat[idx]
        red = wcost_flat[idx]
        red -= lam[client]
        np.minimum(red, 0.0, out=red)
        # (float even when no pair is active: bincount of nothing is integer)
        rho = np.bincount(cand, weights=red, minlength=n_cand).astype(np.float64, copy=False)
        rho[~free_mask] = np.inf
        sites = np.argpartition(rho, k_free - 1)[:k_free]
        bound = float(lam.sum() + np.minimum(0.0, w_fixed - lam).sum() + rho[sites].sum())
        if bound > best_bound:
            best_bound, best_rho, best_lam, stall = bound, rho, lam, 0
            chosen = np.sort(sites)
            if not any(np.array_equal(chosen, p) for p in pool):
                pool = [chosen, *pool][:_LAGRANGIAN_POOL]
        else:
            stall += 1
            if stall >= _LAGRANGIAN_STALL:
                step, stall = step / 2.0, 0
        key = np.sort(sites).tobytes()
        if key != last_key:
            last_key = key
            value = true_cost(sites)
            if value < ub:
                ub = value
                ub_opened = fixed_mask.copy()
                ub_opened[sites] = True
        if (
            ub - best_bound <= gap_tol * abs(ub)
            or step < _LAGRANGIAN_MIN_STEP
            or time.perf_counter() >= deadline
        ):
            break
        opened = np.zeros(n_cand, dtype=bool)
        opened[sites] = True
        served = np.bincount(client[opened[cand] & (red < 0)], minlength=n_m)
        sub_gradient = 1.0 - served - (w_fixed < lam)
        norm = float(sub_gradient @ sub_gradient)
        if norm == 0.0:
            break
        lam = np.clip(lam + step * (ub - bound) / norm * sub_gradient, 0.0, lam_cap)
    converged = step < _LAGRANGIAN_MIN_STEP
    return _LagrangianOutcome(
        best_bound, best_rho, ub, ub_opened, it, tuple(pool), best_lam, converged
    )


def _reduced_cost_fixing(
    rho: FloatArray,
    bound: float,
    ub: float,
    opened: BoolArray,
    free_mask: BoolArray,
    k_free: int,
) -> tuple[BoolArray, BoolArray]:
    """Sites closed and forced open by the Lagrangian values ``rho`` (exact).

    Forcing a site open that the subproblem leaves closed lifts the Lagrangian bound ``bound``
    by at least ``rho_j - rho_[k]`` (the k-th smallest value is swapped out); closing one it
    opens, by ``rho_[k+1] - rho_j``. When the lifted bound exceeds ``ub`` (the cost of
    ``opened``) no better solution has the site open (closed): Beasley, J. E. (1993),
    "Lagrangean heuristics for location problems", *EJOR* 65, 383-399. Sites of ``opened`` are
    never closed and its closed sites never forced, so ``opened`` stays feasible.
    """
    rho_free = np.sort(rho[free_mask])
    kth = rho_free[k_free - 1]
    after = rho_free[k_free] if rho_free.size > k_free else math.inf
    slack = 1e-9 * max(1.0, abs(ub))
    closed = free_mask & ~opened & (bound + rho - kth > ub + slack)
    forced = free_mask & opened & (bound + after - rho > ub + slack)
    return closed, forced


def p_median(
    cost_s: ArrayLike,
    weights: ArrayLike,
    k: int,
    *,
    fixed: Sequence[int] = (),
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    max_assignment_vars: int = 3_000_000,
    threshold_s: float | None = None,
    lagrangian: bool = True,
) -> SitingResult:
    """p-median: open ``k`` sites minimising the demand-weighted travel time to the nearest one.

    Hakimi (1964); ReVelle & Swain (1970) formulation. The search, in order, stopping as soon as
    the gap is proved within ``mip_rel_gap`` or the time is up:

    1. greedy adding gives the first incumbent, improved by vertex substitution;
    2. Lagrangian bound by subgradient optimisation with a Lagrangian heuristic (Beasley 1993);
    3. the Lagrangian values fix sites closed (or open) that cannot be in a solution better
       than the incumbent (reduced-cost fixing: exact); vertex substitution (Teitz & Bart 1968,
       fast interchange of Whitaker 1983) from the Lagrangian's solutions and the incumbent
       over the sites left;
    4. HiGHS on the remaining sites with truncated candidate lists (module notes), warm-started
       from the incumbent.

    Parameters
    ----------
    cost_s
        Array of shape (n_demand, n_candidates), travel times in seconds; ``np.inf`` where the
        candidate cannot reach the demand node.
    weights
        Array of shape (n_demand,), demand weights (incident counts), >= 0.
    k
        Number of sites to open, fixed ones included; ``len(fixed) <= k <= n_candidates``.
    fixed
        Candidate indices forced open.
    time_limit_s
        Time budget in seconds for steps 1-4 together (the greedy start always completes).
    mip_rel_gap
        Relative gap at which the search stops as optimal (also given to HiGHS).
    max_assignment_vars
        Cap on the assignment pairs ``x_ij`` (and on the Lagrangian's pairs): each demand node
        keeps at most ``max_assignment_vars // n_model_demand`` candidates (at least 1).
    threshold_s
        Optional coverage threshold in seconds, used only to report ``covered`` and
        ``covered_weight_share`` (it does not change the model).
    lagrangian
        False skips steps 2 and 3 (HiGHS then starts from the greedy solution with every
        candidate); for checking, and for small instances.

    Returns
    -------
    SitingResult
        ``objective`` is the total weighted travel time (weight x seconds) over the demand that
        some candidate reaches; ``objective_bound`` a proved lower bound of the optimum.

    Raises
    ------
    ValidationError
        Shapes that do not match, NaN or negative travel times, negative weights, ``k < 1``,
        ``fixed`` out of range or repeated, bad numeric options.
    InfeasibleError
        ``k < len(fixed)``, ``k > n_candidates``, or no ``k`` sites can reach every demand node
        that some candidate reaches.
    SolverError
        HiGHS fails or stops before finding a solution.
    TypeError
        Non-numeric arrays or non-integer ``k``/``max_assignment_vars``.

    Notes
    -----
    Memory: a dense float64 copy of the positive-weight rows of ``cost_s`` plus candidate lists of
    at most ``max_assignment_vars`` entries (each about 30 bytes in the MIP).
    """
    t_start = time.perf_counter()
    cost, w = _check_inputs(cost_s, weights)
    fx = _check_sites(k, fixed, cost.shape[1])
    time_limit_s, mip_rel_gap = _check_solver_options(time_limit_s, mip_rel_gap)
    if isinstance(max_assignment_vars, bool) or not isinstance(
        max_assignment_vars, int | np.integer
    ):
        raise TypeError("max_assignment_vars must be an integer")
    if max_assignment_vars < 1:
        raise ValidationError(f"max_assignment_vars must be >= 1, got {max_assignment_vars}")
    thr = (
        None
        if threshold_s is None
        else _check_real(threshold_s, "threshold_s", positive=False, allow_inf=False)
    )
    n_cand = cost.shape[1]
    k_free = int(k) - fx.size
    notes: list[str] = []

    reachable = np.isfinite(cost).any(axis=1)
    positive = w > 0
    n_zero = int((~positive).sum())
    n_unreach = int((positive & ~reachable).sum())
    if n_zero:
        notes.append(f"{n_zero} demand nodes of zero weight left out of the model")
    if n_unreach:
        notes.append(
            f"{n_unreach} demand nodes (weight {float(w[positive & ~reachable].sum()):g}) are "
            "reached by no candidate: left out of the model and of the objective"
        )
    rows = np.flatnonzero(positive & reachable)
    fixed_mask = np.zeros(n_cand, dtype=bool)
    fixed_mask[fx] = True
    free_mask = ~fixed_mask

    opened = fixed_mask.copy()
    status, solve_time, lower, n_rows, n_cols = "optimal", 0.0, math.nan, 0, 0
    t_search = time.perf_counter()
    if k_free > 0 and rows.size:
        deadline = t_start + time_limit_s
        ww = w[rows]
        sub, _, big = _service_costs(cost, w, rows)
        cap = max(1, min(int(max_assignment_vars) // rows.size, int(free_mask.sum())))
        opened = _greedy_add(sub, ww, fixed_mask, k_free, big)
        ub = float(ww @ sub[:, opened].min(axis=1))
        reaches_all = bool((sub[:, opened].min(axis=1) < big).all())
        closed = np.zeros(n_cand, dtype=bool)
        forced = np.zeros(n_cand, dtype=bool)
        lag_bound = -math.inf
        lag_reach = None  # travel time past each node's Lagrangian list (inf: not truncated)
        if lagrangian and reaches_all:
            # vertex substitution from the greedy start first: a better incumbent is a better
            # target for the subgradient steps (measured on Chicago districts: the bound then
            # converges in fewer steps)
            budget = deadline - time.perf_counter()
            found = _interchange(
                sub, ww, opened, free_mask, time.perf_counter() + _FIRST_SWAP_SHARE * budget
            )
            value = float(ww @ sub[:, found].min(axis=1))
            notes.append(f"greedy {ub:.6g}, vertex substitution {value:.6g}")
            if value < ub:
                ub, opened = value, found
            # list lengths: twice the rank of each node's second-nearest open site, >= 16
            so = sub[:, opened]
            d2 = np.partition(so, 1, axis=1)[:, 1] if so.shape[1] > 1 else np.full(rows.size, big)
            rank2 = (sub[:, free_mask] < d2[:, None]).sum(axis=1)
            want = np.minimum(cap, np.maximum(_LAGRANGIAN_MIN_LIST, 2 * rank2))
            lists = _candidate_lists(
                cost,
                rows,
                np.flatnonzero(free_mask),
                fx,
                min(int(want.max()) + 1, int(free_mask.sum())),
            )
            lag_end = time.perf_counter() + _LAGRANGIAN_SHARE * (deadline - time.perf_counter())
            lag_args = (lists, np.minimum(lists.n_eligible, want), ww, k_free, free_mask)
            lag = _lagrangian(*lag_args, fixed_mask, sub, opened, lag_end, mip_rel_gap)
            n_steps, n_runs = lag.iterations, 1
            # the step factor fell to its floor with time left: restart from the best
            # multipliers with a larger step while that still lifts the bound
            while lag.converged and ub - lag.bound > mip_rel_gap * abs(ub):
                if time.perf_counter() >= lag_end or n_runs >= _LAGRANGIAN_RESTARTS + 1:
                    break
                best = lag.ub_opened if lag.ub < ub else opened
                again = _lagrangian(
                    *lag_args, fixed_mask, sub, best, lag_end, mip_rel_gap, lag.lam, 0.5
                )
                n_steps, n_runs = n_steps + again.iterations, n_runs + 1
                improved = again.bound > lag.bound + 1e-9 * abs(lag.bound)
                if again.ub < lag.ub or improved:
                    pool = again.pool + tuple(
                        p for p in lag.pool if not any(np.array_equal(p, q) for q in again.pool)
                    )
                    better = again if improved else lag
                    lag = _LagrangianOutcome(
                        better.bound,
                        better.rho,
                        min(again.ub, lag.ub),
                        again.ub_opened if again.ub < lag.ub else lag.ub_opened,
                        better.iterations,
                        pool[:_LAGRANGIAN_POOL],
                        better.lam,
                        again.converged,
                    )
                if not improved:
                    break
            lag_bound = lag.bound
            lag_len = lag_args[1]
            lag_reach = np.where(
                lists.n_eligible > lag_len,
                lists.cost[np.arange(rows.size), np.minimum(lag_len, lists.cost.shape[1] - 1)],
                np.inf,
            )
            if lag.ub < ub:
                ub, opened = lag.ub, lag.ub_opened
            notes.append(
                f"Lagrangian bound {lag.bound:.6g} after {n_steps} subgradient steps in "
                f"{n_runs} run(s), incumbent {ub:.6g}"
            )
            if ub - lag_bound > mip_rel_gap * abs(ub):
                closed, _ = _reduced_cost_fixing(lag.rho, lag_bound, ub, opened, free_mask, k_free)
                # local search from the Lagrangian subproblem's sites at the last bound
                # improvements (near the dual optimum: few swaps), then from the incumbent;
                # closed sites are never swapped in (no better solution has them), which
                # makes each swap cheaper (district 8: 1,327 of 1,835 sites closed)
                starts = []
                for sites in lag.pool:
                    begin = fixed_mask.copy()
                    begin[sites] = True
                    starts.append(begin)
                starts.append(opened)
                results = []
                swap_end = time.perf_counter() + _POOL_SWAP_SHARE * (deadline - time.perf_counter())
                for begin in starts:
                    if time.perf_counter() >= swap_end or ub - lag_bound <= mip_rel_gap * ub:
                        break
                    cols = np.flatnonzero(~closed | begin)
                    part = _interchange(sub[:, cols], ww, begin[cols], free_mask[cols], swap_end)
                    found = np.zeros(n_cand, dtype=bool)
                    found[cols[part]] = True
                    value = float(ww @ sub[:, found].min(axis=1))
                    results.append(f"{value:.6g}")
                    if value < ub:
                        ub, opened = value, found
                if results:
                    notes.append(
                        f"vertex substitution from {len(results)} starts (incumbent last): "
                        f"{', '.join(results)}"
                    )
                # fixing against the improved incumbent (a lower ub fixes more); an open
                # site of the new incumbent is never closed
                closed, forced = _reduced_cost_fixing(
                    lag.rho, lag_bound, ub, opened, free_mask, k_free
                )
                notes.append(
                    f"reduced-cost fixing: {int(closed.sum())} sites closed, "
                    f"{int(forced.sum())} forced open"
                )
        # every node at its nearest candidate is a (weak) lower bound as well
        lower = max(lag_bound, float(ww @ sub.min(axis=1)))
        stop = "time_limit"
        if ub - lower <= mip_rel_gap * abs(ub):
            stop = "optimal"
        elif time.perf_counter() < deadline:
            try:
                mip = _p_median_mip(
                    cost,
                    rows,
                    ww,
                    sub,
                    opened,
                    fixed_mask | forced,
                    free_mask & ~closed & ~forced,
                    k_free - int(forced.sum()),
                    cap,
                    deadline,
                    mip_rel_gap,
                    lag_reach,
                )
            except _NoSolutionYet as exc:
                notes.append(f"{exc}: the heuristic answer is kept")
            else:
                solve_time, n_rows, n_cols = mip.run_time_s, mip.n_rows, mip.n_cols
                stop = mip.stop
                notes.extend(mip.notes)
                lower = max(lower, min(ub, mip.bound))
                if mip.ub < ub:
                    ub, opened = mip.ub, mip.opened
        status = stop
    search_time = time.perf_counter() - t_search
    selected = np.flatnonzero(opened).astype(np.int64)
    n_add = int(k) - selected.size
    if n_add > 0:
        notes.append(f"{n_add} sites added greedily (no further gain in the model)")
        selected = _fill_greedy(cost, w, selected, n_add, None)
    _, travel = _nearest(cost, selected)
    obj_rows = positive & reachable
    t_obj = travel[obj_rows]
    objective = float(w[obj_rows] @ t_obj) if np.isfinite(t_obj).all() else math.inf
    if not math.isfinite(objective):
        notes.append(
            f"{int((~np.isfinite(t_obj)).sum())} demand nodes that some candidate reaches are "
            "reached by no selected site: objective is inf; raise k or fix other sites"
        )
    bound = objective if math.isnan(lower) else min(objective, lower)
    if math.isfinite(objective) and objective - bound <= mip_rel_gap * abs(objective):
        status = "optimal"
    if status == "optimal_reduced":
        notes.append(
            "the candidate lists were capped: the answer is a heuristic with the gap shown; "
            "raise max_assignment_vars for a proof of optimality"
        )
    return _result(
        "p-median",
        cost,
        w,
        selected,
        fx,
        thr,
        objective=objective,
        bound=bound,
        status=status,
        solve_time_s=search_time,
        highs_time_s=solve_time,
        t_start=t_start,
        n_rows=n_rows,
        n_cols=n_cols,
        notes=notes,
    )


@dataclass(frozen=True)
class _MipPhase:
    opened: BoolArray
    ub: float
    bound: float
    stop: str
    run_time_s: float
    n_rows: int
    n_cols: int
    notes: tuple[str, ...]


def _p_median_mip(
    cost: FloatArray,
    rows: IntArray,
    ww: FloatArray,
    sub: FloatArray,
    incumbent: BoolArray,
    fixed_mask: BoolArray,
    free_mask: BoolArray,
    k_free: int,
    cap: int,
    deadline: float,
    mip_rel_gap: float,
    reach_s: FloatArray | None = None,
) -> _MipPhase:
    """HiGHS rounds on growing truncated lists (module notes), warm-started from ``incumbent``.

    ``fixed_mask`` sites are open, ``free_mask`` sites may be opened (``k_free`` of them); the
    incumbent must be feasible for that. Returns the best open set found (exact cost ``ub``),
    and a lower bound valid for every solution within these masks. ``reach_s`` (per model row,
    seconds): the first lists hold at least every site nearer than this (the travel time past
    the Lagrangian's list), so that the first model's relaxation is no weaker than the
    Lagrangian bound (measured on district 3: lists of twice the incumbent's rank gave a first
    model 3 % below that bound, solved to optimality for nothing).
    """
    ub = float(ww @ sub[:, incumbent].min(axis=1))
    if k_free == 0:
        return _MipPhase(incumbent, ub, ub, "optimal", 0.0, 0, 0, ())
    free = np.flatnonzero(free_mask)
    fixed = np.flatnonzero(fixed_mask)
    cap = min(cap, free.size)
    lists = _candidate_lists(cost, rows, free, fixed, min(cap + 1, free.size))
    width = lists.cand.shape[1]
    listed_open = (lists.cand >= 0) & incumbent[np.maximum(lists.cand, 0)]
    rank = np.where(listed_open.any(axis=1), np.argmax(listed_open, axis=1) + 1, 0)
    want = np.maximum(_MIP_MIN_LIST, 2 * rank)
    if reach_s is not None:
        want = np.maximum(want, (lists.cost < reach_s[:, None]).sum(axis=1))
    length = np.minimum(lists.n_eligible, np.minimum(cap, want))
    notes = [
        f"MIP on {free.size} free sites ({k_free} to open), lists of up to {cap} of width "
        f"{width}, starting at {int(length.sum())} assignment pairs"
    ]
    remaining = deadline - time.perf_counter()
    affordable = _MIP_PAIRS_PER_20S * math.sqrt(max(remaining, 0.0) / 20.0)
    if int(length.sum()) > affordable:
        notes.append(
            f"MIP skipped: {int(length.sum())} assignment pairs are more than HiGHS can solve "
            f"in the {max(remaining, 0.0):.1f} s left (about {affordable:.0f}); raise "
            "time_limit_s to try it"
        )
        return _MipPhase(incumbent, ub, -math.inf, "time_limit", 0.0, 0, 0, tuple(notes))
    best = incumbent.copy()
    run_time, rounds, bound, stop = 0.0, 0, -math.inf, "time_limit"
    n_rows = n_cols = 0
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stop = "time_limit"
            break
        rounds += 1
        model = _build_p_median(lists, length, ww, k_free)
        out = _solve_mip(
            model.a,
            col_cost=model.col_cost,
            col_lower=np.zeros(model.a.shape[1]),
            col_upper=np.ones(model.a.shape[1]),
            row_lower=model.row_lower,
            row_upper=model.row_upper,
            integer_cols=np.arange(model.n_y),
            maximise=False,
            time_limit_s=remaining,
            mip_rel_gap=mip_rel_gap,
            start=_p_median_start(model, lists, length, best),
        )
        n_rows, n_cols = model.a.shape
        run_time += out.run_time_s
        bound = out.bound
        opened = fixed_mask.copy()
        opened[model.y_cand[out.col_value[: model.n_y] > 0.5]] = True
        n_open = int(opened.sum()) - fixed.size
        if n_open < k_free:
            opened = _greedy_add(sub, ww, opened, k_free - n_open, float(sub.max()) + 1.0)
        value = float(ww @ sub[:, opened].min(axis=1))
        if value < ub:
            ub, best = value, opened
        s0 = model.n_y + model.pair_cand.size + model.fixed_clients.size
        used = model.slack_clients[out.col_value[s0:] > 0.5]
        if used.size == 0:
            stop = out.status
            break
        if out.status != "optimal":
            stop = out.status
            break
        grow = used[length[used] < np.minimum(lists.n_eligible[used], cap)]
        if grow.size == 0:
            stop = "optimal_reduced"
            notes.append(f"{used.size} demand nodes are served beyond their capped list")
            break
        length[grow] = np.minimum(np.minimum(lists.n_eligible[grow], cap), 2 * length[grow])
    notes.append(f"MIP: {rounds} round(s), last with {int(length.sum())} assignment pairs")
    return _MipPhase(best, ub, bound, stop, run_time, n_rows, n_cols, tuple(notes))
