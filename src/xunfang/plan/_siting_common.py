"""What the siting models share: result types, input checks, evaluation, greedy adding, HiGHS.

Used by :mod:`xunfang.plan.mclp` and :mod:`xunfang.plan.pmedian`; the public names
(:class:`SiteEvaluation`, :class:`SitingResult`, :func:`evaluate_sites`,
:func:`weighted_quantile`, ``P90_QUANTILE``) are re-exported by :mod:`xunfang.plan.siting`,
whose notes give the conventions (nearest site, ties, weighted means and percentile, gaps).

* :func:`evaluate_sites` scores a set of open sites; its 90th percentile is the weighted
  "inverted_cdf" rule of Hyndman, R. J. & Fan, Y. (1996), "Sample quantiles in statistical
  packages", *The American Statistician* 50, 361-365, definition 1 (:func:`weighted_quantile`).
* Greedy adding (:func:`_greedy_add`, :func:`_fill_greedy`) opens one site at a time, the best
  for the current set: largest covered-weight gain (MCLP only), then largest drop of total
  weighted travel time, unreachable pairs priced above any reachable assignment
  (:func:`_service_costs`); ties go to the lowest candidate index.
* :func:`_solve_mip` passes a MIP to HiGHS (``highspy``) with a warm start and returns the
  best solution, bound and status; :func:`_result` assembles a :class:`SitingResult`.
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
    "weighted_quantile",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Quantile reported as ``p90_travel_time_s``.
P90_QUANTILE = 0.9
#: Row block of the dense gain computations (keeps the work buffer in cache).
_GAIN_BLOCK_ROWS = 64
_HIGHS_INF: float = float(highspy.kHighsInf)
#: Subgradient limits (Beasley 1993 uses similar values): iterations, non-improving steps before
#: the step factor is halved, and the step factor at which the search stops.
_LAGRANGIAN_MAX_ITER = 20000
_LAGRANGIAN_STALL = 60
_LAGRANGIAN_MIN_STEP = 1e-4

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
        ``"within_gap"`` (p-median: stopped within a ``mip_rel_gap`` above 1e-4, not proven
        optimal; ``objective_bound`` is the proved bound), ``"time_limit"``, or another HiGHS
        stop reason in lower case.
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
# heuristics shared by both models (greedy adding)


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
    # within the threshold, as 0/1 numbers once: each round's cover gain is then the weights of
    # the rows not yet covered times it, the same products (w x 1 or 0) and the same sum as
    # ``ww @ ((sub <= t) & uncovered[:, None])``, without a new (n_rows, n_cand) array a round
    within = None if threshold_s is None or n_add <= 0 else (sub <= threshold_s).astype(np.float64)
    for _ in range(n_add):
        time_gain = _time_gain(sub, ww, current)
        time_gain[opened] = -np.inf
        if within is None:
            best = int(np.argmax(time_gain))
        else:
            cover_gain = (ww * (current > threshold_s)) @ within
            cover_gain[opened] = -np.inf
            best = int(np.lexsort((-time_gain, -cover_gain))[0])
        opened[best] = True
        current = np.minimum(current, sub[:, best])
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
