"""Covering models beyond one threshold: the tiered 1-3-5 objective and MEXCLP, on HiGHS.

Both take the cost matrix of :mod:`xunfang.plan.siting` (``cost_s`` of shape
``(n_demand, n_candidates)``, seconds, ``inf`` where unreachable), demand ``weights`` of shape
``(n_demand,)`` and ``fixed`` candidate indices forced open, and return a
:class:`~xunfang.plan.siting.SitingResult`.

* :func:`tiered_mclp` sites for several rings at once (e.g. 1, 3 and 5 minutes): maximise
  ``sum_t a_t * (demand weight within t of an open site)``, an MCLP with one coverage variable
  per demand group and tier (Church & ReVelle 1974, with the "multiple coverage standards" of
  Moore, G. C. & ReVelle, C. (1982), "The hierarchical service location problem", *Management
  Science* 28, 775-780). Incident-priority weights (violent above property above service) enter
  through ``weights`` (:func:`priority_weights`).
* :func:`mexclp` is Daskin's maximum expected covering location model (Daskin, M. S. (1983),
  "A maximum expected covering location model: formulation, properties and heuristic
  solution", *Transportation Science* 17, 48-70): each site is busy with probability ``q``
  independently, so a demand node covered by ``m`` open sites is served within the threshold
  with probability ``1 - q**m``; maximise the expected covered weight
  ``sum_i w_i sum_{l=1}^{m_i} (1 - q) q**(l-1)``.

The shared machinery (:func:`coverage_tiers`, :class:`CoverModel`) is also what
:mod:`xunfang.plan.tradeoff` and :mod:`xunfang.plan.targets` build on: demand rows covered by a
fixed site at a tier are constant there and left out, rows with the same covering set are merged
(exact), and HiGHS solves with presolve off (see :mod:`xunfang.plan.mclp` on presolve).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from xunfang.errors import SolverError, ValidationError
from xunfang.plan._highs import new_highs, pass_model
from xunfang.plan.siting import SitingResult, evaluate_sites

__all__ = [
    "DEFAULT_PRIORITY_WEIGHTS",
    "CoverModel",
    "CoverageTier",
    "GreedyFiller",
    "coverage_tiers",
    "drop_dominated",
    "expected_coverage",
    "greedy_fill",
    "greedy_fill_priced",
    "mexclp",
    "priority_weights",
    "swap_search",
    "tiered_mclp",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_INF = float(highspy.kHighsInf)

DEFAULT_PRIORITY_WEIGHTS: dict[str, float] = {
    "violent": 3.0,
    "property": 2.0,
    "vehicle": 2.0,
    "service": 1.0,
}
"""Demand weight per incident by type group (others: 1.0): violent above property above
service."""


def priority_weights(
    type_groups: ArrayLike, weights: Mapping[str, float] | None = None, default: float = 1.0
) -> FloatArray:
    """Per-incident demand weights from their type groups.

    Parameters
    ----------
    type_groups
        (n_incidents,) type-group names.
    weights
        Group -> weight (>= 0); default :data:`DEFAULT_PRIORITY_WEIGHTS`.
    default
        Weight of a group not named.

    Raises
    ------
    ValidationError
        For a negative or non-finite weight.
    """
    table = dict(DEFAULT_PRIORITY_WEIGHTS if weights is None else weights)
    bad = {k: v for k, v in table.items() if not (math.isfinite(v) and v >= 0)}
    if bad:
        raise ValidationError(f"priority weights must be finite and >= 0: {bad}")
    groups = np.asarray(type_groups, dtype=object)
    return np.array([table.get(str(g), default) for g in groups], dtype=np.float64)


@dataclass(frozen=True)
class CoverageTier:
    """One coverage threshold reduced for the free candidates.

    Attributes
    ----------
    threshold_s
        The threshold, seconds.
    groups
        (n_groups, n_free) sparse 0/1: which free candidates cover each demand group.
    group_weight
        (n_groups,) summed weight of the merged demand rows.
    fixed_weight
        Weight already covered by fixed sites at this threshold (constant).
    coverable_weight
        Weight within the threshold of some candidate (fixed or free): the most reachable.
    total_weight
        All demand weight.
    """

    threshold_s: float
    groups: sparse.csc_matrix
    group_weight: FloatArray
    fixed_weight: float
    coverable_weight: float
    total_weight: float


def _check(cost_s: ArrayLike, weights: ArrayLike, fixed: Sequence[int]) -> tuple[Any, Any, Any]:
    cost = np.asarray(cost_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if cost.ndim != 2 or w.shape != (cost.shape[0],):
        raise ValidationError(
            f"cost_s (n_demand, n_candidates) and weights (n_demand,) do not match: "
            f"{cost.shape} and {w.shape}"
        )
    if np.isnan(cost).any() or (cost < 0).any():
        raise ValidationError("cost_s has NaN or negative travel times")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError("weights must be finite and >= 0")
    fx = np.unique(np.asarray(list(fixed), dtype=np.int64))
    if fx.size and (fx.min() < 0 or fx.max() >= cost.shape[1]):
        raise ValidationError(f"fixed indices must be in [0, {cost.shape[1] - 1}]")
    return cost, w, fx


def _unique_bool_rows(rows: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], IntArray]:
    """``numpy.unique(rows, axis=0, return_inverse=True)`` of a 2-D boolean array, the same
    distinct rows in the same (lexicographic) order and the same inverse, computed on the rows
    packed eight to a byte (:func:`numpy.packbits`, first column in the high bit, so that the
    byte order of two packed rows is the order of the rows): 8 times less to sort."""
    n_cols = rows.shape[1]
    packed = np.packbits(rows, axis=1)
    uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
    return np.unpackbits(uniq, axis=1, count=n_cols).astype(bool), inverse.ravel()


def coverage_tiers(
    cost_s: ArrayLike, weights: ArrayLike, thresholds_s: Sequence[float], fixed: Sequence[int]
) -> tuple[IntArray, list[CoverageTier]]:
    """The free candidates and one reduced :class:`CoverageTier` per threshold.

    Returns
    -------
    free : numpy.ndarray
        (n_free,) candidate indices not fixed (the model's columns, in this order).
    tiers : list of CoverageTier
    """
    cost, w, fx = _check(cost_s, weights, fixed)
    free_mask = np.ones(cost.shape[1], dtype=bool)
    free_mask[fx] = False
    free = np.flatnonzero(free_mask).astype(np.int64)
    tiers = []
    total = float(w.sum())
    for t in thresholds_s:
        cover = cost <= float(t)
        by_fixed = cover[:, fx].any(axis=1) if fx.size else np.zeros(len(w), dtype=bool)
        coverable = cover.any(axis=1)
        rows = np.flatnonzero((w > 0) & coverable & ~by_fixed)
        sub = cover[np.ix_(rows, free)]
        uniq: NDArray[np.bool_] = np.zeros((0, free.size), dtype=bool)
        gw: FloatArray = np.zeros(0)
        if rows.size:
            uniq, inverse = _unique_bool_rows(sub)
            gw = np.bincount(inverse.ravel(), weights=w[rows], minlength=uniq.shape[0]).astype(
                np.float64
            )
        tiers.append(
            CoverageTier(
                threshold_s=float(t),
                groups=sparse.csc_matrix(uniq, dtype=np.float64),
                group_weight=gw.astype(np.float64),
                fixed_weight=float(w[by_fixed].sum()),
                coverable_weight=float(w[coverable].sum()),
                total_weight=total,
            )
        )
    return free, tiers


_DOMINANCE_BLOCK = 256
"""Columns checked at once by :func:`drop_dominated` (a dense block x kept overlap)."""


def drop_dominated(tier: CoverageTier) -> tuple[CoverageTier, IntArray]:
    """Drop the columns whose covered groups another column covers too (exact for a single
    coverage tier: swapping a dominated site for its dominator never loses coverage).

    Returns the reduced tier and the kept column positions (into the tier's columns). Of
    columns with equal cover sets the lowest index is kept.
    """
    g = sparse.csc_matrix(tier.groups)
    size = np.asarray(g.sum(axis=0)).ravel()
    n = g.shape[1]
    # Columns in the order (larger cover first, then lower index): a column is dominated iff
    # one kept before it in that order covers all it covers (a dominated column's dominator
    # is itself dominated only by a column before it, so the chain ends at a kept one). Each
    # block of the order is checked against the kept columns, then within itself: the
    # overlaps of a block with the few kept columns, not the (n, n) overlap of every pair
    # (district 9's 5-minute ring, 1,959 columns of which 87 kept: 0.16 s against 1.2 s).
    order = np.lexsort((np.arange(n), -size))
    order = order[size[order] > 0]
    gt = g.T.tocsr()
    kept = np.zeros(0, dtype=np.int64)
    for start in range(0, order.size, _DOMINANCE_BLOCK):
        b = order[start : start + _DOMINANCE_BLOCK]
        if kept.size:
            inside = (gt[b] @ g[:, kept]).toarray() >= size[b][:, None] - 1e-9
            b = b[~inside.any(axis=1)]
        if b.size:
            inside = (gt[b] @ g[:, b]).toarray() >= size[b][:, None] - 1e-9
            inside &= np.tri(b.size, k=-1, dtype=bool)  # only columns before it
            b = b[~inside.any(axis=1)]
        kept = np.concatenate([kept, b])
    keep = np.sort(kept).astype(np.int64)
    if keep.size == n:
        return tier, keep
    reduced = CoverageTier(
        threshold_s=tier.threshold_s,
        groups=sparse.csc_matrix(g[:, keep]),
        group_weight=tier.group_weight,
        fixed_weight=tier.fixed_weight,
        coverable_weight=tier.coverable_weight,
        total_weight=tier.total_weight,
    )
    return reduced, keep


_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
}


@dataclass(frozen=True)
class CoverSolve:
    """One HiGHS run of a :class:`CoverModel`."""

    y: FloatArray
    """(n_free,) 0/1 open free candidates."""
    status: str
    objective: float
    bound: float
    gap: float
    """Relative gap ``|bound - objective| / max(|objective|, 1e-9)``."""
    run_time_s: float


class CoverModel:
    """A covering MIP over the free candidates, kept in one HiGHS instance for warm re-solves.

    Columns: ``y`` (n_free, binary) then, per tier, ``z`` (n_groups, continuous in [0, 1]).
    Rows: per tier ``z_g - sum_{j in N_g} y_j <= 0``; then an optional cardinality row
    ``sum y <= n_open`` (:meth:`set_open`); then optional ``sum_g W_g z_g >= need`` rows.

    Parameters
    ----------
    tiers
        From :func:`coverage_tiers`.
    tier_objective
        Objective coefficient of each tier's covered weight (maximised); ignored with
        ``minimise_sites``.
    n_open
        Right-hand side of the cardinality row; None: no such row.
    needs
        Per tier the covered weight it must reach beyond its fixed weight (None: no row).
    minimise_sites
        Minimise ``sum y`` instead (the set-covering form of :mod:`xunfang.plan.targets`).
    """

    def __init__(
        self,
        tiers: Sequence[CoverageTier],
        tier_objective: Sequence[float] = (),
        *,
        n_open: int | None = None,
        needs: Sequence[float | None] = (),
        minimise_sites: bool = False,
    ) -> None:
        if not tiers:
            raise ValidationError("at least one coverage tier is needed")
        n_y = tiers[0].groups.shape[1]
        self.n_y = n_y
        self.tiers = list(tiers)
        blocks_top = []
        col_cost = [np.ones(n_y) if minimise_sites else np.zeros(n_y)]
        self.z_slices: list[slice] = []
        pos = n_y
        n_z_total = sum(t.groups.shape[0] for t in tiers)
        for i, t in enumerate(tiers):
            n_g = t.groups.shape[0]
            left = -t.groups
            mid = sparse.csc_matrix((n_g, pos - n_y))
            eye = sparse.identity(n_g, format="csc")
            right = sparse.csc_matrix((n_g, n_z_total - (pos - n_y) - n_g))
            blocks_top.append(sparse.hstack([left, mid, eye, right], format="csc"))
            a_t = tier_objective[i] if i < len(tier_objective) else 0.0
            col_cost.append(np.zeros(n_g) if minimise_sites else a_t * t.group_weight)
            self.z_slices.append(slice(pos, pos + n_g))
            pos += n_g
        n_col = pos
        rows = list(blocks_top)
        row_lower = [np.full(b.shape[0], -_INF) for b in blocks_top]
        row_upper = [np.zeros(b.shape[0]) for b in blocks_top]
        self.card_row = -1
        n_rows = sum(b.shape[0] for b in blocks_top)
        if n_open is not None:
            rows.append(sparse.csc_matrix(np.concatenate([np.ones(n_y), np.zeros(n_col - n_y)])))
            row_lower.append(np.array([-_INF]))
            row_upper.append(np.array([float(n_open)]))
            self.card_row = n_rows
            n_rows += 1
        for i, need in enumerate(needs):
            if need is None:
                continue
            vec = np.zeros(n_col)
            vec[self.z_slices[i]] = tiers[i].group_weight
            rows.append(sparse.csc_matrix(vec))
            row_lower.append(np.array([float(need)]))
            row_upper.append(np.array([_INF]))
            n_rows += 1
        a = sparse.vstack(rows, format="csc") if rows else sparse.csc_matrix((0, n_col))
        integrality = np.zeros(n_col, dtype=np.int32)
        integrality[:n_y] = 1
        self.h = new_highs()
        self.h.setOptionValue("presolve", "off")
        self.minimise = minimise_sites
        pass_model(
            self.h,
            a,
            np.concatenate(col_cost),
            np.zeros(n_col),
            np.ones(n_col),
            np.concatenate(row_lower) if row_lower else np.zeros(0),
            np.concatenate(row_upper) if row_upper else np.zeros(0),
            integrality,
            maximise=not minimise_sites,
        )
        self.n_col = n_col
        self.shape = a.shape

    def relax(self) -> None:
        """Make the ``y`` columns continuous: the model becomes its LP relaxation."""
        cols = np.arange(self.n_y, dtype=np.int32)
        self.h.changeColsIntegrality(self.n_y, cols, np.zeros(self.n_y, dtype=np.uint8))

    def lp_value(self) -> float:
        """Solve the (relaxed) model as an LP; return its objective (nan if not optimal)."""
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return math.nan
        return float(self.h.getInfo().objective_function_value)

    def lp_solution(self) -> FloatArray:
        """The ``y`` part of the last LP solution."""
        return np.asarray(self.h.getSolution().col_value[: self.n_y], dtype=np.float64)

    def set_open(self, n_open: int) -> None:
        """Change the cardinality row's right-hand side (the model must have one)."""
        if self.card_row < 0:
            raise ValidationError("this model has no cardinality row")
        self.h.changeRowBounds(self.card_row, -_INF, float(n_open))

    def start_from(self, y: FloatArray) -> None:
        """Give HiGHS a feasible start: ``y`` and the coverage it implies."""
        col = np.zeros(self.n_col)
        col[: self.n_y] = y
        for t, sl in zip(self.tiers, self.z_slices, strict=True):
            col[sl] = np.minimum(t.groups @ y, 1.0)
        sol = highspy.HighsSolution()
        sol.col_value = col.tolist()
        sol.value_valid = True
        self.h.setSolution(sol)

    def solve(self, time_limit_s: float, mip_rel_gap: float = 1e-4) -> CoverSolve:
        """Run HiGHS; raise SolverError if it stops without a solution."""
        self.h.setOptionValue("time_limit", max(float(time_limit_s), 1e-3))
        self.h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        t0 = time.perf_counter()
        self.h.run()
        status = _STATUS.get(self.h.getModelStatus(), "unknown")
        info = self.h.getInfo()
        if status == "infeasible":
            return CoverSolve(np.zeros(self.n_y), "infeasible", math.nan, math.nan, math.inf, 0.0)
        if int(info.primal_solution_status) != int(highspy.kSolutionStatusFeasible):
            raise SolverError(
                f"HiGHS stopped ({status}) without a solution ({self.shape[0]} rows, "
                f"{self.shape[1]} columns); raise the time limit"
            )
        y = np.round(np.asarray(self.h.getSolution().col_value[: self.n_y]))
        obj = float(info.objective_function_value)
        bound = float(info.mip_dual_bound)
        gap = abs(bound - obj) / max(abs(obj), 1e-9) if math.isfinite(bound) else math.inf
        if gap <= mip_rel_gap:
            status = "optimal"
        return CoverSolve(y, status, obj, bound, gap, time.perf_counter() - t0)


def swap_search(
    groups: sparse.spmatrix,
    group_weight: FloatArray,
    y: FloatArray,
    max_rounds: int = 200,
    *,
    groups_csr: sparse.csr_matrix | None = None,
) -> FloatArray:
    """Best-improvement vertex substitution for a covering model (Teitz, M. B. & Bart, P.
    (1968), "Heuristic methods for estimating the generalized vertex median of a weighted
    graph", *Operations Research* 16, 955-961): swap one open column for one closed column
    while that covers more group weight.

    Parameters
    ----------
    groups
        (n_groups, n_cols) 0/1 coverage.
    group_weight
        (n_groups,) weights.
    y
        (n_cols,) 0/1 start.
    groups_csr
        ``groups`` in CSR form when the caller has it (:mod:`xunfang.plan.tradeoff` calls
        this for every K of a ring with the same groups): not converted again. ``groups``
        is then best given in CSC form.
    """
    g = groups if sparse.issparse(groups) and groups.format == "csc" else sparse.csc_matrix(groups)
    g_csr = groups_csr if groups_csr is not None else g.tocsr()
    y = y.copy()
    for _ in range(max_rounds):
        count = g_csr @ y
        open_cols = np.flatnonzero(y > 0.5)
        if open_cols.size == 0 or open_cols.size == y.size:
            break
        uncovered = group_weight * (count < 0.5)
        gain = uncovered @ g  # (n_cols,)
        only = group_weight * (np.abs(count - 1.0) < 0.5)  # groups covered exactly once
        g_open = g[:, open_cols]
        loss = only @ g_open  # (n_open,)
        # weight covered only by open column a that closed column b covers too
        back = (g_open.multiply(only[:, None]).T @ g_csr).toarray()  # (n_open, n_cols)
        delta = gain[None, :] - loss[:, None] + back
        delta[:, open_cols] = -np.inf
        a, b = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[a, b] > 1e-9:
            break
        y[open_cols[a]] = 0.0
        y[b] = 1.0
    return y


def greedy_fill(cost: FloatArray, w: FloatArray, selected: IntArray, n_add: int) -> IntArray:
    """Add ``n_add`` candidates one at a time, each the largest drop of total weighted travel
    time (unreachable priced above any reachable time); ties to the lowest index."""
    finite = cost[np.isfinite(cost)]
    big = 2.0 * (float(finite.max()) if finite.size else 1.0) + 1.0
    return greedy_fill_priced(np.where(np.isfinite(cost), cost, big), w, selected, n_add, big)


def greedy_fill_priced(
    c: FloatArray,
    w: FloatArray,
    selected: IntArray,
    n_add: int,
    big: float,
    *,
    buf: FloatArray | None = None,
) -> IntArray:
    """:func:`greedy_fill` on a cost matrix ``c`` already priced (no ``inf``: unreachable
    at ``big``, e.g. :mod:`xunfang.plan.tradeoff`'s matrix, priced once for every K), the
    same steps and the same answer without pricing it again.

    Parameters
    ----------
    c
        (n_demand, n_candidates) finite travel times, seconds.
    w
        (n_demand,) weights.
    selected
        Open candidate indices.
    n_add
        Candidates to add.
    big
        The price of unreachable (the start of the current best time when nothing is open).
    buf
        Scratch array of the shape and dtype of ``c`` (overwritten), for a caller that fills
        many layouts on the same matrix (:mod:`xunfang.plan.tradeoff`, once per K): one
        allocation of ``c``'s size instead of one per call. None: allocated here.
    """
    sel = list(np.asarray(selected, dtype=np.int64).tolist())
    cur = c[:, sel].min(axis=1) if sel else np.full(c.shape[0], big)
    if buf is None or buf.shape != c.shape or buf.dtype != c.dtype:
        buf = np.empty_like(c) if n_add > 0 else c
    for _ in range(n_add):
        np.subtract(cur[:, None], c, out=buf)  # the drop of each row's time, if opened
        np.maximum(buf, 0.0, out=buf)
        gain = w @ buf
        gain[sel] = -1.0
        j = int(np.argmax(gain))
        sel.append(j)
        cur = np.minimum(cur, c[:, j])
    return np.sort(np.asarray(sel, dtype=np.int64))


class GreedyFiller:
    """:func:`greedy_fill_priced` for a caller that extends one layout a site at a time
    (:mod:`xunfang.plan.tradeoff`, once per K): the same steps and the same answer, but the
    gain of every candidate is kept between calls and updated only on the rows the site just
    added serves better (its catchment, about ``1 / K`` of the rows), instead of a pass over
    the whole ``(n_demand, n_candidates)`` matrix per site added (the lazy update of greedy
    adding for the p-median: Whitaker 1983; Resende & Werneck 2007). A layout that is not
    the last one filled costs one full pass, as :func:`greedy_fill_priced`.

    Parameters
    ----------
    c
        (n_demand, n_candidates) finite travel times, seconds, already priced (unreachable
        at a large finite time).
    w
        (n_demand,) weights, >= 0.
    big
        The price of unreachable when nothing is open (as :func:`greedy_fill_priced`).

    Notes
    -----
    The kept gains equal a fresh pass up to the rounding of the updates (a few ulps): the
    choice can differ from :func:`greedy_fill_priced` only between candidates whose gains
    tie to that precision, where either is a greedy step.
    """

    def __init__(self, c: FloatArray, w: FloatArray, big: float) -> None:
        self.c = c
        self.w = np.asarray(w, dtype=np.float64)
        self.big = float(big)
        self._sel: list[int] | None = None
        self._cur = np.zeros(0)
        self._gain = np.zeros(0)

    def fill(self, selected: IntArray, n_add: int) -> IntArray:
        """``selected`` plus ``n_add`` candidates added greedily (sorted indices)."""
        sel = list(np.asarray(selected, dtype=np.int64).tolist())
        if n_add <= 0:
            return np.sort(np.asarray(sel, dtype=np.int64))
        c, w = self.c, self.w
        if self._sel is None or sorted(sel) != sorted(self._sel):
            cur = c[:, sel].min(axis=1) if sel else np.full(c.shape[0], self.big)
            self._cur, self._gain = cur, w @ np.maximum(cur[:, None] - c, 0.0)
        cur, gain = self._cur, self._gain
        for _ in range(n_add):
            masked = gain.copy()
            masked[sel] = -1.0
            j = int(np.argmax(masked))
            sel.append(j)
            rows = np.flatnonzero(c[:, j] < cur)  # the rows j serves better than before
            if rows.size:
                c_r = c[rows]
                new = c_r[:, j]
                old = np.maximum(cur[rows, None] - c_r, 0.0)
                gain -= w[rows] @ (old - np.maximum(new[:, None] - c_r, 0.0))
                cur[rows] = new
        self._sel = list(sel)
        return np.sort(np.asarray(sel, dtype=np.int64))


def _as_result(
    model: str,
    cost: FloatArray,
    w: FloatArray,
    selected: IntArray,
    fx: IntArray,
    threshold_s: float,
    solved: CoverSolve | None,
    objective: float,
    t0: float,
    notes: list[str],
    shape: tuple[int, int] = (0, 0),
) -> SitingResult:
    ev = evaluate_sites(cost, w, selected, threshold_s)
    status = "optimal" if solved is None else solved.status
    gap = 0.0 if solved is None else solved.gap
    return SitingResult(
        model=model,
        selected=selected,
        fixed=fx,
        assignment=ev.assignment,
        travel_time_s=ev.travel_time_s,
        covered=ev.covered,
        objective=objective,
        covered_weight_share=ev.covered_weight_share,
        mean_travel_time_s=ev.mean_travel_time_s,
        threshold_s=threshold_s,
        solve_time_s=time.perf_counter() - t0,
        mip_gap=gap,
        status=status,
        p90_travel_time_s=ev.p90_travel_time_s,
        unreachable_weight_share=ev.unreachable_weight_share,
        objective_bound=objective if solved is None else solved.bound,
        wall_time_s=time.perf_counter() - t0,
        highs_time_s=0.0 if solved is None else solved.run_time_s,
        n_model_rows=shape[0],
        n_model_cols=shape[1],
        notes=tuple(notes),
    )


def tiered_mclp(
    cost_s: ArrayLike,
    weights: ArrayLike,
    k: int,
    thresholds_s: Sequence[float] = (60.0, 180.0, 300.0),
    tier_weights: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    fixed: Sequence[int] = (),
    report_threshold_s: float | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> SitingResult:
    """Open ``k`` sites (fixed included) maximising the weighted sum of the covered demand of
    several rings (module notes: Church & ReVelle 1974; Moore & ReVelle 1982).

    Parameters
    ----------
    cost_s
        (n_demand, n_candidates) travel times, seconds, ``inf`` where unreachable.
    weights
        (n_demand,) demand weights >= 0 (e.g. incidents x :func:`priority_weights`).
    k
        Sites to open, fixed ones included.
    thresholds_s
        The rings, seconds.
    tier_weights
        Objective weight of each ring (>= 0), same length as ``thresholds_s``.
    fixed
        Candidate indices forced open.
    report_threshold_s
        Threshold of the result's ``covered``/``covered_weight_share`` (default the ring of the
        largest weight).
    time_limit_s, mip_rel_gap
        HiGHS limits.

    Returns
    -------
    SitingResult
        ``model`` is ``"tiered MCLP"``; ``objective`` the weighted covered demand (fixed sites
        included) and ``objective_bound`` HiGHS's bound of it.

    Raises
    ------
    ValidationError
        For shapes that do not match, negative weights, ``k`` out of range.
    SolverError
        When HiGHS stops without a solution.
    """
    t0 = time.perf_counter()
    cost, w, fx = _check(cost_s, weights, fixed)
    if len(tier_weights) != len(thresholds_s) or any(a < 0 for a in tier_weights):
        raise ValidationError("tier_weights must be >= 0, one per threshold")
    if not fx.size <= k <= cost.shape[1]:
        raise ValidationError(f"k={k} must be between {fx.size} (fixed) and {cost.shape[1]}")
    free, tiers = coverage_tiers(cost, w, thresholds_s, fx.tolist())
    report = (
        float(report_threshold_s)
        if report_threshold_s is not None
        else float(thresholds_s[int(np.argmax(tier_weights))])
    )
    k_free = int(k) - fx.size
    const = sum(a * t.fixed_weight for a, t in zip(tier_weights, tiers, strict=True))
    solved = None
    shape = (0, 0)
    chosen = np.zeros(0, dtype=np.int64)
    if k_free > 0 and any(t.groups.shape[0] for t in tiers):
        model = CoverModel(tiers, tier_weights, n_open=k_free)
        shape = model.shape
        start = greedy_fill(cost[:, free], w, np.zeros(0, np.int64), k_free)
        y0 = np.zeros(free.size)
        y0[start] = 1.0
        model.start_from(y0)
        solved = model.solve(time_limit_s, mip_rel_gap)
        chosen = free[np.flatnonzero(solved.y > 0.5)]
        solved = CoverSolve(
            solved.y,
            solved.status,
            solved.objective + const,
            solved.bound + const,
            abs(solved.bound - solved.objective) / max(solved.objective + const, 1e-9),
            solved.run_time_s,
        )
    selected = np.sort(np.concatenate([fx, chosen])).astype(np.int64)
    notes = [f"rings {[round(t / 60, 2) for t in thresholds_s]} min, weights {list(tier_weights)}"]
    if selected.size < k:
        notes.append(f"{k - selected.size} sites added greedily (no further coverage gain)")
        selected = greedy_fill(cost, w, selected, int(k) - selected.size)
    objective = sum(
        a * float(w[cost[:, selected].min(axis=1) <= t].sum())
        for a, t in zip(tier_weights, thresholds_s, strict=True)
    )
    return _as_result(
        "tiered MCLP", cost, w, selected, fx, report, solved, objective, t0, notes, shape
    )


def expected_coverage(
    cost_s: ArrayLike,
    weights: ArrayLike,
    selected: Sequence[int] | ArrayLike,
    threshold_s: float,
    busy_probability: float | ArrayLike,
) -> float:
    """Expected share of demand served within ``threshold_s`` when each open site is busy
    independently: ``sum_i w_i (1 - prod_{j covering i} q_j) / sum_i w_i`` (Daskin 1983).

    ``busy_probability`` is one ``q`` or one per selected site (in the order of ``selected``).
    """
    cost = np.asarray(cost_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    sel = np.asarray(selected, dtype=np.int64)
    q = np.broadcast_to(np.asarray(busy_probability, dtype=np.float64), sel.shape)
    if ((q < 0) | (q > 1)).any():
        raise ValidationError("busy probabilities must be in [0, 1]")
    cover = cost[:, sel] <= threshold_s
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    all_busy = np.exp(np.where(cover, log_q[None, :], 0.0).sum(axis=1))
    all_busy[~cover.any(axis=1)] = 1.0
    total = float(w.sum())
    return float(w @ (1.0 - all_busy) / total) if total > 0 else math.nan


def mexclp(
    cost_s: ArrayLike,
    weights: ArrayLike,
    k: int,
    threshold_s: float,
    busy_probability: float,
    *,
    fixed: Sequence[int] = (),
    max_levels: int = 12,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> SitingResult:
    """Maximum expected covering location (Daskin 1983): open ``k`` sites (fixed included)
    maximising the expected demand weight served within ``threshold_s`` when each site is
    busy with probability ``busy_probability``.

    Model: ``max sum_i w_i sum_{l=1}^{L} (1-q) q^(l-1) u_il`` s.t.
    ``sum_l u_il <= sum_{j in N_i} y_j``, ``sum_j y_j = k``, ``y`` binary, ``u`` in [0, 1]
    (continuous is enough: the coefficients fall with ``l``). ``L = min(k, max_levels)``.

    Returns
    -------
    SitingResult
        ``model`` ``"MEXCLP"``; ``objective`` the expected covered weight;
        ``covered_weight_share`` the plain (all free) coverage of the layout.

    Raises
    ------
    ValidationError
        For ``busy_probability`` outside [0, 1), bad shapes, ``k`` out of range.
    """
    t0 = time.perf_counter()
    cost, w, fx = _check(cost_s, weights, fixed)
    q = float(busy_probability)
    if not 0.0 <= q < 1.0:
        raise ValidationError(f"busy_probability must be in [0, 1), got {q}")
    if not fx.size <= k <= cost.shape[1]:
        raise ValidationError(f"k={k} must be between {fx.size} (fixed) and {cost.shape[1]}")
    levels = max(1, min(int(k), int(max_levels)))
    cover = cost <= threshold_s
    rows = np.flatnonzero((w > 0) & cover.any(axis=1))
    free_mask = np.ones(cost.shape[1], dtype=bool)
    free_mask[fx] = False
    free = np.flatnonzero(free_mask)
    sub = cover[np.ix_(rows, free)]
    n_fixed_cov = cover[np.ix_(rows, fx)].sum(axis=1) if fx.size else np.zeros(rows.size)
    if rows.size:  # merge rows with the same covering set and fixed count
        mat = np.column_stack([sub.astype(np.int64), n_fixed_cov.astype(np.int64)])
        _, first, inverse = np.unique(mat, axis=0, return_index=True, return_inverse=True)
    else:
        first, inverse = np.zeros(0, np.int64), np.zeros(0, np.int64)
    gw = np.bincount(inverse.ravel(), weights=w[rows], minlength=first.size)
    g = sparse.csc_matrix(sub[first], dtype=np.float64)
    fixed_count = n_fixed_cov[first].astype(np.float64)
    n_g, n_y = g.shape
    coef = (1.0 - q) * q ** np.arange(levels)
    k_free = int(k) - fx.size
    solved = None
    chosen = np.zeros(0, dtype=np.int64)
    shape = (0, 0)
    if k_free > 0 and n_g:
        # columns: y (n_y), u (n_g * levels, level-major)
        u_block = sparse.hstack([sparse.identity(n_g, format="csc")] * levels, format="csc")
        a = sparse.vstack(
            [
                sparse.hstack([-g, u_block]),
                sparse.hstack(
                    [sparse.csr_matrix(np.ones((1, n_y))), sparse.csr_matrix((1, n_g * levels))]
                ),
            ],
            format="csc",
        )
        shape = a.shape
        col_cost = np.concatenate([np.zeros(n_y), np.kron(coef, gw)])
        integrality = np.zeros(a.shape[1], dtype=np.int32)
        integrality[:n_y] = 1
        h = new_highs()
        h.setOptionValue("presolve", "off")
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        pass_model(
            h,
            a,
            col_cost,
            np.zeros(a.shape[1]),
            np.ones(a.shape[1]),
            np.concatenate([np.full(n_g, -_INF), [-_INF]]),
            np.concatenate([fixed_count, [float(k_free)]]),
            integrality,
            maximise=True,
        )
        t_run = time.perf_counter()
        h.run()
        info = h.getInfo()
        if int(info.primal_solution_status) != int(highspy.kSolutionStatusFeasible):
            raise SolverError("HiGHS stopped without a MEXCLP solution; raise time_limit_s")
        y = np.round(np.asarray(h.getSolution().col_value[:n_y]))
        obj = float(info.objective_function_value)
        bound = float(info.mip_dual_bound)
        gap = abs(bound - obj) / max(abs(obj), 1e-9)
        status = _STATUS.get(h.getModelStatus(), "unknown")
        solved = CoverSolve(
            y,
            "optimal" if gap <= mip_rel_gap else status,
            obj,
            bound,
            gap,
            time.perf_counter() - t_run,
        )
        chosen = free[np.flatnonzero(y > 0.5)]
    selected = np.sort(np.concatenate([fx, chosen])).astype(np.int64)
    notes = [f"busy probability q = {q:.3f} per site, {levels} coverage levels"]
    if selected.size < k:
        notes.append(f"{k - selected.size} sites added greedily (no further expected gain)")
        selected = greedy_fill(cost, w, selected, int(k) - selected.size)
    objective = expected_coverage(cost, w, selected, threshold_s, q) * float(w.sum())
    return _as_result(
        "MEXCLP", cost, w, selected, fx, float(threshold_s), solved, objective, t0, notes, shape
    )
