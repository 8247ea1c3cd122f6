"""The maximal covering location problem (MCLP) for choosing patrol booth sites.

Church, R. & ReVelle, C. (1974), "The maximal covering location problem", *Papers of the
Regional Science Association* 32, 101-118: open ``k`` sites so that the demand weight within
``threshold_s`` of an open site is largest. Inputs, results and conventions are those of
:mod:`xunfang.plan.siting`, which re-exports :func:`mclp`.

Method
------
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
   example city's districts at the plan's default 3 minutes the heuristics settle the MCLP and HiGHS
   does not run. The reductions above do presolve's main work here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from xunfang.plan._siting_common import (
    _HIGHS_INF,
    _LAGRANGIAN_MAX_ITER,
    _LAGRANGIAN_MIN_STEP,
    _LAGRANGIAN_STALL,
    BoolArray,
    FloatArray,
    IntArray,
    SitingResult,
    _check_inputs,
    _check_real,
    _check_sites,
    _check_solver_options,
    _fill_greedy,
    _result,
    _solve_mip,
)

__all__ = ["mclp"]

#: HiGHS presolve in the MCLP MIP (off: measured in the module notes, benchmarks/bench_siting.py).
_MCLP_PRESOLVE = False


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
    total_w = float(group_w.sum())
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
            or best_value >= total_w  # every group covered: nothing to prove
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
            if start_cov.all():  # optimal: no bound to compute
                notes.append(
                    "greedy + vertex substitution cover all the model's weight "
                    f"{float(group_w.sum()):g}"
                )
            else:
                lag_bound, lag_cols, lag_value = _mclp_lagrangian(
                    g_csc, group_w, k_free, start_cols, t_start + time_limit_s / 2.0, mip_rel_gap
                )
                if lag_value > float(group_w @ start_cov):
                    start_cols, start_cov = _cover_interchange(
                        g_csc, group_w, lag_cols, t_start + time_limit_s / 2.0
                    )
                notes.append(
                    "greedy + vertex substitution + Lagrangian heuristic cover "
                    f"{float(group_w @ start_cov):g} of the model's weight "
                    f"{float(group_w.sum()):g}; Lagrangian bound {lag_bound:g}"
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
