"""The p-median model for choosing patrol booth sites.

Hakimi, S. L. (1964), "Optimum locations of switching centers and the absolute centers and
medians of a graph", *Operations Research* 12, 450-459; integer formulation of ReVelle, C. &
Swain, R. (1970), "Central facilities location", *Geographical Analysis* 2, 30-42: open ``k``
sites so that the demand-weighted travel time to the nearest open site is smallest. Inputs,
results and conventions are those of :mod:`xunfang.plan.siting`, which re-exports
:func:`p_median`.

Method
------
Demand nodes of zero weight or reached by no candidate are left out (and reported). Then:

1. greedy adding gives an incumbent, improved by vertex substitution (Teitz & Bart 1968 with the
   fast swap evaluation of Whitaker 1983) for at most a quarter of the time budget. Each swap
   step prices only the pairs nearer than the node's second-nearest open site (a prefix of its
   candidates sorted once by time: Resende & Werneck 2007): the same swaps as pricing every
   pair, 17x less CPU (district 8 from the greedy start, 4,222 x 1,835: 7.11 s dense, 0.40 s
   sparse plus 0.49 s for the sort; district 5: 3.01 s against 0.18 + 0.23 s);
2. a Lagrangian bound (Cornuejols, Fisher & Nemhauser 1977) by subgradient optimisation with a
   Lagrangian heuristic (Beasley 1993), on candidate lists (below), for at most 60 % of the time
   left. The steps follow a running average of the subgradients (the direction of Barahona &
   Anbil's volume algorithm, 2000; ``_LAGRANGIAN_DEFLECTION``). The step factor is halved
   after 60 steps without a better bound and the search stops below 2e-3
   (``_PMEDIAN_MIN_STEP``): on the example city's districts the bound stalled 1-2 % short
   with the 20 / 1e-3 of Beasley's small instances; with these it ends 0.003 % below where a
   floor of 1e-4 ends, for 1-3 s less CPU (district 25: 913,334 against 913,358). A restart
   from the best multipliers (up to 4, while the bound rose) gained nothing on districts 5
   and 25 (the same bounds, 3 s more on 25) and is gone;
3. reduced-cost fixing against the target ``UB (1 - mip_rel_gap)``: sites whose forced
   opening (closing) lifts the Lagrangian bound above the target are closed (opened). No
   solution cheaper than the target has them open (closed), so the bound over the sites left,
   capped at the target, is a bound of the whole problem: enough to prove the gap, not
   optimality beyond it. District 25: 1,539 of 1,921 sites closed, 1,417 against the UB;
4. vertex substitution from the Lagrangian subproblem's recent solutions and from the incumbent
   (at most half of the time left), never swapping in a closed site (no better solution has
   one); then fixing again against the improved incumbent. (A MIP over the "core", the sites
   open in the subproblem's recent solutions, came before the master until it replaced the
   disaggregated model: the master found the core MIP's best incumbents without it,
   district 15's 434,360 among them, and the time went to its bound);
5. HiGHS on the Benders master of Duran-Mateluna, C., Ales, Z. & Elloumi, S. (2023), "An
   efficient Benders decomposition for the p-median problem", *European Journal of
   Operational Research* 308, 84-96, over the sites that fixing leaves: the site variables
   ``y`` and one ``theta_i`` per demand node, ``min sum w_i theta_i``, with the optimality
   cuts ``theta_i + sum_{j: t_ij < R} (R - t_ij) y_j >= R`` of a radius ``R`` per node. Cuts
   come from the Lagrangian's best multipliers (``R = lam_i / w_i``: the master's LP is then
   no weaker than the Lagrangian bound), from the incumbent, and from the master's own LP
   relaxation until no cut is violated (Kelley's cutting planes; the
   radius at which the LP's ``y``, nearest first, adds up to 1). At an integer point every
   radius from the nearest open site to the second-nearest gives a tight cut; the incumbent
   and the master's own solutions get both ends (the wider cut also prices the solutions that
   close a node's nearest site, which the master priced far too low: on district 3 its optima
   were 596,505-609,007 priced at 593,682-593,703, and five runs of HiGHS lifted its bound by
   21). Then HiGHS solves the master as a MIP, warm-started from the incumbent, without its
   primal heuristics (its sub-MIPs found master solutions priced below their cost for most
   of the time: district 5, 16.8 of 23.4 s), with its cutoff (``objective_bound``) at the
   target: it prunes every node whose bound reaches the target and fixes columns by reduced
   cost against it (district 25: 19.5 % of the master's sites at its first restart, 2.6 %
   against the UB). Every improving solution is priced exactly; a callback stops HiGHS as
   soon as the best is within ``mip_rel_gap`` of HiGHS's bound (a bound of the p-median: the
   master with some of the cuts is a relaxation), or once 3 of its solutions are priced
   below their cost (``_BENDERS_CUT_AFTER``). Then, or if HiGHS proves the master optimal
   below the target, the cuts of its solutions are added, on the rows they price too low
   only, and it runs again. On district 25 the master's optimum with the first cuts was
   914,775, its solutions costing 918,555-924,841: their cuts (170 of 3,051 rows each)
   lifted the next run's bound to the target in 3-7 nodes; the cuts on every row doubled
   the master (17,056 rows, root LP 14 s) and that run did not finish. The master has one
   column per site and node where the disaggregated model below has one per assignment pair,
   so HiGHS's cuts and branching work on a much smaller LP. Cuts from the pool's 12
   solutions made the master larger (district 25: 12,880 rows, 297,670 nonzeros, root LP
   7.5 s) for little, as did one more cut per node at the incumbent's third-nearest open
   site (HiGHS's solutions stayed 0.6 % underpriced); both are off. Figures of the 22
   districts: benchmarks/bench_pmedian.py. ``lagrangian=False`` keeps the disaggregated
   model: HiGHS on the strong formulation ``min sum w_i t_ij x_ij``,
   ``sum_j x_ij = 1``, ``x_ij <= y_j``, ``sum_j y_j <= k - n_fixed`` over the remaining sites,
   warm-started from the incumbent, when its size fits the time left. HiGHS presolve stays on
   here: on district 3's model (48,767 rows, 50,364 columns, 40 s, load 12) it ended with bound
   593,197 on and 593,390 off, the same incumbent (one measurement, within noise). Running
   HiGHS although the model is over the size rule changed nothing but the wall time (district
   10 at 60 s: 55,021 pairs, the same 0.28 % gap; district 5: 0.38 % and 3 s over the limit).

Where the gaps are (HiGHS run for minutes on the truncated model after fixing, 1e-4 or 1e-6,
load 3-9 on the 2 cores). District 5: optimum 757,105.43 of the truncated model (248 s wall,
root and one node), so the optimum lies in [757,105, 757,152], the incumbent 757,151.76 being
the solution found; its LP relaxation 754,848: an integrality gap of 0.30 % that a tighter
Lagrangian cannot close. District 8: optimum in [1,389,602, 1,389,670] (425 s wall, 141 s
CPU), the 60 s incumbent 1,390,120 only 0.03 % above, but the Lagrangian bound at main's
revision 1,384,008 (the plain subgradient, restarted, in the 60 s run): there the bound was
the problem. From the same cold start (step factor 2) the plain subgradient reached 1,388,295
in 4,166 steps (10.4 s CPU), the averaged direction 1,389,296 in 1,894 steps (4.9 s); on
district 5, 754,774 (3,076 steps) against 754,868 (2,228). District 15: bound 433,811
(truncated model, 55 s), best known 434,360 (core MIP). District 6: bound 813,910 (226 s wall,
59 s CPU), best known 814,187 (vertex substitution from a pool start). District 3: bound
593,971 (24 s), incumbent 594,738 (0.13 %). District 25: the 60 s incumbent 916,502 is
optimal (truncated model solved in 213 s wall, 217 s CPU, no slack used, bound 916,427)
where its Lagrangian bound is 913,358 and the LP relaxation 913,408 (0.34 % below).

Stopping gap: every step ends as soon as the incumbent is within ``mip_rel_gap`` of the best
bound (HiGHS gets the same tolerance). The status is ``"optimal"`` only for a gap of at most
1e-4 (proven optimal); a looser tolerance met (``xunfang plan --pmedian-gap``, default 1e-3)
gives ``"within_gap"``, with ``objective_bound`` the proved lower bound. Measured on the
example city's 22 districts at 60 s and 1e-3 (benchmarks/bench_pmedian.py, load 2.3-3.2 on
the 2 cores): every district within 0.1 %, 16, 17, 18 and 20 proven optimal; the slowest
25 (41.6 s wall, 42.1 s CPU), 15 (17.5 s), 3 (16.6 s), 5 (13.5 s), the other 18 in 0.4-9.0 s;
137 s wall and 138 s CPU for the 22. Main's revision before the target and the cutoff, in
the same run: district 25 at 0.188 % at 60 s, 5 within 0.1 % in 25.1 s. The bound is a
proof of the stopping gap, not of optimality: fixing and the cutoff stop at the target, so
a run at 1e-3 proves no more than 0.1 % even where the incumbent is optimal (25's 916,502,
above). At 1e-4 (load 1.8-2.6): district 3 proven optimal in 20.9 s (38.1 s before), 5 in
37.3 s, 25 in 99.1 s given 120 s (114 s before, given 180 s). HiGHS options measured on
district 25's master, one run each at load 3-5 (noisy): presolve off 30.2 s of CPU to the
master's optimum against 28.4 on; fewer strong-branching
trials (``mip_pscost_minreliable`` 2 against 8) 56.0 s of CPU to 0.1 % against 50.2.

Formulations and options measured and not adopted. The compact formulation of Elloumi (2010)
(variables ``z_i^k`` over the distinct sorted travel times of each node, rows
``z_i^k + sum_{j: t_ij <= D_i^k} y_j >= 1``), which is the radius formulation of Garcia, S.,
Labbe, M. & Marin, A. (2011), "Solving large p-median problems with a radius formulation",
*INFORMS Journal on Computing* 23, 546-556, is smaller than this one only when travel times
repeat: on the example city's districts they are distinct reals (district 1: the 64 nearest
candidates of every demand node at 64 distinct times), so it has as many ``z`` as ``x`` and
its covering rows hold ``L_i (L_i + 1) / 2`` nonzeros per node against ``3 L_i`` here (its
chained form ``z_i^k >= z_i^(k-1) - y_j`` is this model again). A stronger relaxation of
the same model would not close the open gaps: on district 5 the LP relaxation (HiGHS, lists
below, 86,525 and 109,945 pairs) is 754,785-754,812 against the Lagrangian bound 754,744
(what is left is the integrality gap, or better solutions not yet found), while vertex
substitution from the six Lagrangian pool solutions reaches 757,152 at best (0.32 %; 12
perturbed restarts from the greedy-and-swap solution all return to 759,123), and a MIP over
the union of their 48 sites finds nothing better. HiGHS given the 9.9 s left on district 5
(72,620 pairs, load 10) ended with the same 0.59 % gap as without it, so the size rule
``_MIP_PAIRS_PER_20S`` stays.

Candidate lists: pairs ``(i, j)`` exist only when reachable and strictly nearer than ``i``'s
nearest fixed site (one pair to that fixed site replaces the rest: exact). Each demand node then
keeps its ``L_i`` nearest candidates plus one slack variable priced at the travel time to its
``(L_i + 1)``-th nearest, a lower bound of any assignment outside the list (the truncation of
Elloumi, S. (2010), "A tighter formulation of the p-median problem", *Journal of Combinatorial
Optimization* 19, 69-83). The truncated model is a relaxation: its bound is valid, and when its
solution uses no slack it is optimal for the full problem. In the MIP, the first lists hold every
site ``j`` with ``w_i t_ij < lam_i`` at the Lagrangian's best multipliers ``lam`` (then the
slack price is at least ``lam_i / w_i``, so the Lagrangian function of the truncated model at
``lam`` is the Lagrangian bound, and the model's LP relaxation is no weaker than it) and at
least twice the incumbent's rank. On district 5 (2,066 demand nodes, 1,519 free sites) these
lists have 86,525 pairs (LP 754,785; Lagrangian bound 754,744) where the previous rule, every
site nearer than the end of the Lagrangian list, had 172,614; with twice the incumbent's rank
109,945 (LP 754,812). They are doubled for the
nodes whose slack is used, up to ``max_assignment_vars // n_model_demand``; if the
cap stops this the answer is a heuristic with status ``"optimal_reduced"`` (``mip_gap`` still
compares it with a valid bound). In the Lagrangian the multipliers are capped at the same slack
prices, so its bound is valid for the full problem too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from xunfang.errors import ValidationError
from xunfang.plan._highs import new_highs
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
    _greedy_add,
    _nearest,
    _NoSolutionYet,
    _relative_gap,
    _result,
    _service_costs,
    _solve_mip,
)

__all__ = ["p_median"]

#: Demand rows processed at once when building p-median candidate lists (bounds peak memory).
_CHUNK_ROWS = 2048
#: Largest relative gap reported as ``"optimal"`` (proven optimal, up to HiGHS's default
#: tolerance); a search stopped at a looser ``mip_rel_gap`` reports ``"within_gap"``.
_PROVEN_GAP = 1e-4
#: Shares of the p-median time budget: the first vertex substitution (from the greedy start)
#: stops at this share of the budget, the subgradient search at this share of what is left
#: (the rest goes to vertex substitution from its solutions, at most this share of it, and
#: then to HiGHS on the sites that reduced-cost fixing leaves).
#: Measured on the example city's districts (benchmarks/bench_pmedian.py, 60 s, load 15-20):
#: 0.08 and 0.85
#: proved district 16 optimal where 0.25 and 0.6 stopped at 0.33 %, but left district 8 at
#: 2.2 % against 0.10 % (a poor first incumbent misguides the subgradient steps and no time is
#: left for HiGHS): 0.25 and 0.6 are kept.
_FIRST_SWAP_SHARE = 0.25
_LAGRANGIAN_SHARE = 0.6
_POOL_SWAP_SHARE = 0.5
#: Floor of the subgradient search's step factor (it halves after ``_LAGRANGIAN_STALL`` steps
#: without a better bound). Measured on district 25 of the example city (3,051 x 1,921): the
#: bound is 913,334 at 2e-3 (5.7 s of CPU) and 913,358 at 1e-4 (8.7 s), where reduced-cost
#: fixing needs it 2,200 below the incumbent; district 5: 754,796 and 754,817 (3.0, 3.8 s).
_PMEDIAN_MIN_STEP = 2e-3
#: Lagrangian subproblem solutions kept as starts for the local search. With the averaged
#: direction the search converges in fewer steps and its last solutions are alike: on district
#: 6 (60 s) 6 starts reached 815,689 at best, 12 reached 814,187 (from the 9th, an older one).
_LAGRANGIAN_POOL = 12
#: Weight of the previous direction in the subgradient search's step direction
#: ``d_t = (1 - a) g_t + a d_(t-1)`` (the direction of Barahona & Anbil's volume algorithm;
#: 0 is the plain subgradient). Measured from a cold start on district 8 (4,222 x 1,835, lists
#: of twice each node's second-nearest rank; optimum in [1,389,602, 1,389,670]): a = 0
#: 1,388,295 after 4,166 steps, 0.85 1,389,296 after 1,894 (module notes). The
#: modified-gradient rule of Camerini, Fratta & Maffioli (1975, gamma 1.5) reached 1,388,872
#: after 6,459; moving from the best multipliers (the volume algorithm's serious steps)
#: 1,379,007.
_LAGRANGIAN_DEFLECTION = 0.85
#: Shortest candidate list in the Lagrangian and in the first MIP round.
_LAGRANGIAN_MIN_LIST = 16
_MIP_MIN_LIST = 8
#: Assignment pairs of a p-median MIP that HiGHS typically solves (root LP and a few nodes) in
#: 20 s; the first MIP is skipped when larger than this times sqrt(time left / 20 s). Measured on
#: the 3,000 x 2,000 benchmark: 48k pairs take ~3 s for the LP relaxation, 94k ~22 s.
_MIP_PAIRS_PER_20S = 50_000.0
#: The Benders master's LP cut loop stops at this share of the time left (then the MIP).
_BENDERS_LP_SHARE = 0.4
#: HiGHS is interrupted after this many master solutions priced below their cost; their
#: cuts are added and it runs again.
_BENDERS_CUT_AFTER = 3
#: HiGHS's own gap on the Benders master: small, because its incumbent's value counts only the
#: cuts found so far; the search is stopped from a callback when the exactly priced incumbent
#: is within ``mip_rel_gap`` of HiGHS's bound.
_BENDERS_HIGHS_GAP = 1e-6


# --------------------------------------------------------------------------------------------
# vertex substitution


@dataclass(frozen=True)
class _SortedRows:
    """Every demand row's candidates by travel time: ``order`` (int32) and ``time_s``."""

    order: NDArray[np.int32]  # (n_rows, n_cand) candidate indices, nearest first
    time_s: FloatArray  # (n_rows, n_cand) their travel times (``sub``'s values, sorted)

    @classmethod
    def of(cls, sub: FloatArray) -> _SortedRows:
        order = np.empty(sub.shape, dtype=np.int32)
        values = np.empty(sub.shape)
        for start in range(0, sub.shape[0], _CHUNK_ROWS):
            block = sub[start : start + _CHUNK_ROWS]
            o = np.argsort(block, axis=1, kind="stable")
            order[start : start + _CHUNK_ROWS] = o
            values[start : start + _CHUNK_ROWS] = np.take_along_axis(block, o, axis=1)
        return cls(order, values)


def _interchange(
    sub: FloatArray,
    ww: FloatArray,
    opened: BoolArray,
    movable: BoolArray,
    deadline: float,
    allowed: BoolArray | None = None,
    by_time: _SortedRows | None = None,
) -> BoolArray:
    """Vertex substitution for the p-median: best improving swap until none is left.

    Teitz, M. B. & Bart, P. (1968), "Heuristic methods for estimating the generalized vertex
    median of a weighted graph", *Operations Research* 16, 955-961; every swap (insert ``c``,
    remove ``f``) is priced at once with the decomposition of Whitaker, R. (1983), "A fast
    algorithm for the greedy interchange for large-scale clustering and median location
    problems", *INFOR* 21, 95-108, as written by Resende, M. G. C. & Werneck, R. F. (2007),
    "A fast swap-based local search procedure for location problems", *Annals of OR* 150,
    205-230: ``profit(c, f) = gain(c) - loss(f) + extra(c, f)``. Only the pairs ``(i, c)``
    with ``t_ic`` below ``i``'s second-nearest open site add to ``gain`` and ``extra`` (a
    prefix of ``i``'s candidates sorted by time, ``by_time``), so each step costs the size of
    those prefixes, not ``n_rows x n_cand`` (Resende & Werneck's sparse form).
    Only sites in ``movable`` are removed and only sites in ``allowed`` (default all) opened.
    Stops at ``deadline`` (``time.perf_counter``).
    """
    opened = opened.copy()
    n_rows, n_cand = sub.shape
    if by_time is None:
        by_time = _SortedRows.of(sub)
    if allowed is None:
        allowed = np.ones(n_cand, dtype=bool)
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
        # the prefix of each row's sorted candidates nearer than its second-nearest open site
        length = np.empty(n_rows, dtype=np.int64)
        for start in range(0, n_rows, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, n_rows)
            length[start:stop] = (by_time.time_s[start:stop] < d2[start:stop, None]).sum(axis=1)
        row = np.repeat(ar, length)
        pos = np.arange(row.size) - np.repeat(np.cumsum(length) - length, length)
        c = by_time.order[row, pos].astype(np.int64)
        t = by_time.time_s[row, pos]
        wr = ww[row]
        gain = np.bincount(c, weights=wr * np.maximum(d1[row] - t, 0.0), minlength=n_cand)
        # extra(c, f) = sum over rows nearest to f of w (d2 - max(t, d1)), where t < d2
        e = wr * (d2[row] - np.maximum(t, d1[row]))
        extra = np.bincount(
            c * op.size + first[row], weights=e, minlength=n_cand * op.size
        ).reshape(n_cand, op.size)
        profit = gain[:, None] - loss[None, :] + extra
        profit[opened | ~allowed, :] = -np.inf
        profit[:, ~movable[op]] = -np.inf
        c_best, f_best = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if not profit[c_best, f_best] > 1e-9 * max(total, 1.0):
            break
        opened[op[f_best]] = False
        opened[c_best] = True
    return opened


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
    lam: FloatArray  # multipliers at the best bound


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
    deflection: float = _LAGRANGIAN_DEFLECTION,
    min_step: float = _LAGRANGIAN_MIN_STEP,
) -> _LagrangianOutcome:
    """Lagrangian lower bound of the p-median by subgradient optimisation, with a heuristic.

    The assignment constraints are relaxed with multipliers ``lam_i`` (Cornuejols, G., Fisher,
    M. L. & Nemhauser, G. L. (1977), "Location of bank accounts to optimize float", *Management
    Science* 23, 789-810); the subproblem opens the ``k_free`` sites of smallest
    ``rho_j = sum_i min(0, w_i t_ij - lam_i)``. Multipliers are capped at the weighted cost of the
    first candidate outside each list (and of the nearest fixed site), so pairs outside the lists
    contribute nothing and the bound is valid for the full problem. Step rule and heuristic (the
    subproblem's sites, evaluated exactly, as incumbents) after Beasley, J. E. (1993),
    "Lagrangean heuristics for location problems", *EJOR* 65, 383-399, except the direction:
    a running average ``d_t = (1 - a) g_t + a d_(t-1)`` of the subgradients ``g_t`` (``a`` =
    ``deflection``; the direction of Barahona, F. & Anbil, R. (2000), "The volume algorithm:
    producing primal solutions with a subgradient method", *Mathematical Programming* 87,
    385-399), without its parts that push a multiplier past a bound, and a step no longer than
    the plain one: ``lam += f (UB - L) d / (|d| max(|d|, |g|))``. The factor ``f`` starts at
    2 and halves after ``_LAGRANGIAN_STALL`` steps without a better bound; the search stops
    when it falls below ``min_step``, when the bound is within ``gap_tol`` of the incumbent,
    or at ``deadline``.
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
    # the example city's districts, and its gathers stay in cache); keys ascend across rows
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
    lam = np.minimum(ww * sub[:, incumbent].min(axis=1), lam_cap)
    best_bound, best_rho, best_lam = -math.inf, np.full(n_cand, np.inf), lam
    pool: list[IntArray] = []
    step, stall, last_key, it = 2.0, 0, b"", 0
    direction, started = np.zeros(n_m), False
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
            or step < min_step
            or time.perf_counter() >= deadline
        ):
            break
        opened = np.zeros(n_cand, dtype=bool)
        opened[sites] = True
        served = np.bincount(client[opened[cand] & (red < 0)], minlength=n_m)
        sub_gradient = 1.0 - served - (w_fixed < lam)
        if not sub_gradient.any():
            break  # the subproblem's solution serves every node once: the bound is optimal
        # the step follows a running average of the subgradients, as long as a plain step
        # (module notes)
        g_norm = math.sqrt(float(sub_gradient @ sub_gradient))
        if not started or deflection <= 0.0:
            direction, started = np.asarray(sub_gradient, dtype=np.float64), True
        else:
            mixed = (1.0 - deflection) * sub_gradient + deflection * direction
            direction = np.asarray(mixed, dtype=np.float64)
            # no part that pushes a multiplier past its bounds (it would only shrink the step)
            out = ((lam <= 0.0) & (direction < 0.0)) | ((lam >= lam_cap) & (direction > 0.0))
            direction[out] = 0.0
        d_norm = math.sqrt(float(direction @ direction))
        if d_norm == 0.0:  # every part pushed past a bound: a plain step
            direction, d_norm = np.asarray(sub_gradient, dtype=np.float64), g_norm
        scale = step * (ub - bound) / (d_norm * max(d_norm, g_norm))
        lam = np.clip(lam + scale * direction, 0.0, lam_cap)
    return _LagrangianOutcome(best_bound, best_rho, ub, ub_opened, it, tuple(pool), best_lam)


def _target(ub: float, mip_rel_gap: float) -> float:
    """The value a bound must reach for ``ub`` to be within ``mip_rel_gap`` (a hair above)."""
    return ub - mip_rel_gap * abs(ub) * (1.0 - 1e-9)


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
    2. Lagrangian bound by subgradient optimisation with a Lagrangian heuristic (Beasley 1993),
       stepping along a running average of the subgradients (Barahona & Anbil 2000);
    3. the Lagrangian values fix sites closed (or open) that cannot be in a solution cheaper
       than the target ``UB (1 - mip_rel_gap)`` (reduced-cost fixing; the bound over the
       sites left, capped at the target, is valid); vertex substitution (Teitz & Bart 1968,
       fast interchange of Whitaker 1983) from the Lagrangian's solutions and the incumbent
       over the sites left, then fixing again against the improved incumbent;
    4. HiGHS on the Benders master over the remaining sites (Duran-Mateluna, Ales & Elloumi
       2023; module notes), warm-started from the incumbent, its cutoff at the target; the
       cuts of the master solutions it prices too low are added between runs; with
       ``lagrangian=False``, on the disaggregated model with truncated candidate lists.

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
        False skips steps 2 and 3 (HiGHS then solves the disaggregated model, from the greedy
        solution, with every candidate); for checking, and for small instances.

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
        fix_at = math.inf  # solutions outside the fixing's masks cost at least this
        lag_reach = None  # travel time below which a site's pair prices under lam_i (seconds)
        by_time: _SortedRows | None = None
        if lagrangian and reaches_all:
            # vertex substitution from the greedy start first: a better incumbent is a better
            # target for the subgradient steps (measured on the example city's districts: the
            # bound then converges in fewer steps)
            budget = deadline - time.perf_counter()
            by_time = _SortedRows.of(sub)
            found = _interchange(
                sub,
                ww,
                opened,
                free_mask,
                time.perf_counter() + _FIRST_SWAP_SHARE * budget,
                by_time=by_time,
            )
            value = float(ww @ sub[:, found].min(axis=1))
            notes.append(
                f"greedy {ub:.6g}, vertex substitution {value:.6g} "
                f"(at {time.perf_counter() - t_start:.1f} s)"
            )
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
            lag = _lagrangian(
                *lag_args, fixed_mask, sub, opened, lag_end, mip_rel_gap, min_step=_PMEDIAN_MIN_STEP
            )
            lag_bound = lag.bound
            # every site with w_i t_ij < lam_i at the best multipliers: the MIP's first lists
            # hold them, so its relaxation is no weaker than the Lagrangian bound (module notes)
            lag_reach = lag.lam / ww
            if lag.ub < ub:
                ub, opened = lag.ub, lag.ub_opened
            notes.append(
                f"Lagrangian bound {lag.bound:.6g} after {lag.iterations} subgradient steps, "
                f"incumbent {ub:.6g} (at {time.perf_counter() - t_start:.1f} s)"
            )
            if ub - lag_bound > mip_rel_gap * abs(ub):
                fix_at = _target(ub, mip_rel_gap)
                closed, _ = _reduced_cost_fixing(
                    lag.rho, lag_bound, fix_at, opened, free_mask, k_free
                )
                # local search from the Lagrangian subproblem's sites at the last bound
                # improvements (near the dual optimum: few swaps), then from the incumbent;
                # closed sites are never swapped in (no better solution has them; district 8:
                # 1,327 of 1,835 sites closed)
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
                    found = _interchange(
                        sub, ww, begin, free_mask, swap_end, ~closed | begin, by_time
                    )
                    value = float(ww @ sub[:, found].min(axis=1))
                    results.append(f"{value:.6g}")
                    if value < ub:
                        ub, opened = value, found
                if results:
                    notes.append(
                        f"vertex substitution from {len(results)} starts (incumbent last): "
                        f"{', '.join(results)} (at {time.perf_counter() - t_start:.1f} s)"
                    )
                # fixing against the improved incumbent (a lower ub fixes more); an open
                # site of the new incumbent is never closed
                fix_at = _target(ub, mip_rel_gap)
                closed, forced = _reduced_cost_fixing(
                    lag.rho, lag_bound, fix_at, opened, free_mask, k_free
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
            is_open, may_open = fixed_mask | forced, free_mask & ~closed & ~forced
            n_open = k_free - int(forced.sum())
            try:
                if by_time is not None:  # the Lagrangian ran: the Benders master
                    mip = _p_median_benders(
                        sub,
                        by_time,
                        ww,
                        big,
                        opened,
                        is_open,
                        may_open,
                        n_open,
                        deadline,
                        mip_rel_gap,
                        lag_reach,
                    )
                else:
                    mip = _p_median_mip(
                        cost,
                        rows,
                        ww,
                        sub,
                        opened,
                        is_open,
                        may_open,
                        n_open,
                        cap,
                        deadline,
                        mip_rel_gap,
                        lag_reach,
                    )
            except _NoSolutionYet as exc:
                notes.append(f"{exc}: the heuristic answer is kept")
            else:
                solve_time += mip.run_time_s
                n_rows, n_cols = mip.n_rows, mip.n_cols
                stop = mip.stop
                notes.extend(mip.notes)
                lower = max(lower, min(ub, fix_at, mip.bound))
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
    gap = _relative_gap(objective, bound)
    if math.isfinite(objective) and gap <= mip_rel_gap:
        status = "optimal"
    if status == "optimal" and gap > _PROVEN_GAP:
        # stopped at a tolerance looser than a proof of optimality: say so (with the bound)
        status = "within_gap"
        notes.append(
            f"stopped within the gap tolerance {mip_rel_gap:g}: objective {objective:.6g}, "
            f"lower bound {bound:.6g} (gap {gap:.3%}); not proven optimal"
        )
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
    seconds): the first lists hold at least every site nearer than this (``lam_i / w_i`` at
    the Lagrangian's best multipliers), so that the first model's relaxation is no weaker than
    the Lagrangian bound (measured on district 3: lists of twice the incumbent's rank alone
    gave a first model 3 % below that bound, solved to optimality for nothing).
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


# --------------------------------------------------------------------------------------------
# Benders master (the last step)


def _radius_cuts(
    by_time: _SortedRows,
    radius_s: FloatArray,
    in_master: BoolArray,
    col_of: IntArray,
) -> sparse.csr_matrix:
    """The ``y`` part of the cuts ``theta_i + sum_{j: t_ij < R_i} (R_i - t_ij) y_j >= R_i``.

    One cut per demand row ``i`` with radius ``radius_s[i]`` (seconds), over the master's
    columns (``col_of`` maps a candidate to its column; sites outside ``in_master`` are left
    out). Returns a CSR matrix of shape (n_rows, n_master_columns).
    """
    order, times = by_time.order, by_time.time_s
    n_rows = order.shape[0]
    indptr = [np.zeros(1, dtype=np.int64)]
    indices: list[IntArray] = []
    data: list[FloatArray] = []
    offset = 0
    for start in range(0, n_rows, _CHUNK_ROWS):
        o = order[start : start + _CHUNK_ROWS]
        t = times[start : start + _CHUNK_ROWS]
        r = radius_s[start : start + _CHUNK_ROWS]
        keep = (t < r[:, None]) & in_master[o]
        i_idx, j_pos = np.nonzero(keep)
        indices.append(col_of[o[i_idx, j_pos]])
        data.append(r[i_idx] - t[i_idx, j_pos])
        counts = np.bincount(i_idx, minlength=o.shape[0])
        indptr.append(offset + np.cumsum(counts))
        offset += int(counts.sum())
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)),
        shape=(n_rows, int(in_master.sum())),
    )


def _benders_radius(
    by_time: _SortedRows, y: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each demand row's Benders radii at ``y`` and the subproblem's value there (seconds).

    The radius is the travel time at which the cumulated ``y`` of the row's candidates, nearest
    first, reaches 1 (Duran-Mateluna, Ales & Elloumi 2023, "An efficient Benders decomposition
    for the p-median problem", *European Journal of Operational Research* 308, 84-96): the
    cut of :func:`_radius_cuts` with that radius is tight at ``y``, where its right side minus
    its ``y`` terms is the cost of serving the row from the nearest fractions of ``y``. Where
    the cumulated ``y`` is exactly 1 there, every radius up to the next candidate with some
    ``y`` is tight too (the cut's value has slope ``1 - cumulated y`` in the radius); the
    largest of them (the second-nearest open site at an integer ``y``) also prices the
    solutions that close the nearest one. Returns (radius, largest tight radius, value).
    """
    order, times = by_time.order, by_time.time_s
    n_rows = order.shape[0]
    radius, wide, value = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    for start in range(0, n_rows, _CHUNK_ROWS):
        o = order[start : start + _CHUNK_ROWS]
        t = times[start : start + _CHUNK_ROWS]
        ys = y[o]
        cum = np.cumsum(ys, axis=1)
        reached = cum >= 1.0 - 1e-9
        last = o.shape[1] - 1
        kk = np.where(reached.any(axis=1), np.argmax(reached, axis=1), last)
        at = np.arange(o.shape[0])
        d = t[at, kk]
        # the next candidate with some y after the k-th, where the cumulated y is 1 there
        after = (np.arange(o.shape[1])[None, :] > kk[:, None]) & (ys > 1e-9)
        nxt = np.where(after.any(axis=1), np.argmax(after, axis=1), last)
        exact = cum[at, kk] <= 1.0 + 1e-9
        sl = slice(start, start + o.shape[0])
        radius[sl] = d
        wide[sl] = np.where(exact, t[at, nxt], d)
        value[sl] = d - (np.maximum(d[:, None] - t, 0.0) * ys).sum(axis=1)
    return radius, wide, value


@dataclass
class _BendersState:
    """The incumbent of the Benders master's search and the solutions HiGHS reported."""

    ub: float
    best: BoolArray
    # (open sites, the master's theta there) of each solution HiGHS reported
    found: list[tuple[BoolArray, FloatArray]] = field(default_factory=list)
    n_under: int = 0  # of them, priced below their cost (in this run of HiGHS)


def _p_median_benders(
    sub: FloatArray,
    by_time: _SortedRows,
    ww: FloatArray,
    big: float,
    incumbent: BoolArray,
    fixed_mask: BoolArray,
    free_mask: BoolArray,
    k_free: int,
    deadline: float,
    mip_rel_gap: float,
    reach_s: FloatArray | None = None,
) -> _MipPhase:
    """HiGHS on the Benders master of the p-median, warm-started from ``incumbent``.

    Duran-Mateluna, Ales & Elloumi (2023): the master holds the site variables ``y`` and one
    ``theta_i`` per demand row (``min sum w_i theta_i``), and the optimality cuts of
    :func:`_radius_cuts`. Its cuts come from the Lagrangian's best multipliers (radius
    ``reach_s``: then the master's relaxation is no weaker than the Lagrangian bound), from
    ``incumbent`` (both tight radii: exact there), and from its own LP relaxation, re-solved
    until no cut is violated (Kelley's cutting planes: then its value is the LP relaxation of
    the p-median over these sites). Then the master is a MIP with HiGHS's cutoff
    (``objective_bound``) at the target ``UB (1 - mip_rel_gap)``: HiGHS's dual bound, capped
    at the target, is a lower bound of every solution within these masks (the master with
    some of the cuts is a relaxation; a node pruned at the cutoff holds no master solution,
    hence no solution, below the target). Its improving solutions are priced exactly
    (``sub``) and it is interrupted as soon as the best of them is within ``mip_rel_gap`` of
    that bound, or once ``_BENDERS_CUT_AFTER`` of them are priced above their ``theta``.
    Then, or when HiGHS proves the master optimal below the target, the cuts of those
    solutions are added on the rows they price too low, and HiGHS runs again. The master has
    ``n_sites + n_rows`` columns where the disaggregated model has one per assignment pair:
    HiGHS's cuts and branching run on a much smaller LP (district 5: within 0.1 % in 47 s
    from a cold start over all 1,520 sites, where the disaggregated model over the 468 sites
    left after fixing needed 248 s).
    """
    ub = float(ww @ sub[:, incumbent].min(axis=1))
    best = incumbent.copy()
    if k_free == 0:
        return _MipPhase(best, ub, ub, "optimal", 0.0, 0, 0, ())
    n_rows, n_cand = sub.shape
    in_master = fixed_mask | free_mask
    cols = np.flatnonzero(in_master)
    n_y = cols.size
    col_of = np.full(n_cand, -1, dtype=np.int64)
    col_of[cols] = np.arange(n_y)
    theta0 = n_y  # first theta column
    h = new_highs()
    inf = _HIGHS_INF
    lower = np.concatenate([fixed_mask[cols].astype(float), np.zeros(n_rows)])
    upper = np.concatenate([np.ones(n_y), np.full(n_rows, inf)])
    h.addVars(n_y + n_rows, lower, upper)
    all_cols = np.arange(n_y + n_rows, dtype=np.int32)
    h.changeColsCost(all_cols.size, all_cols, np.concatenate([np.zeros(n_y), ww]))
    free_cols = np.flatnonzero(free_mask[cols]).astype(np.int32)
    h.addRow(-inf, float(k_free), free_cols.size, free_cols, np.ones(free_cols.size))
    # rows that some master sites do not reach: one of the others must be open
    reach = sub[:, cols] < big
    partial = np.flatnonzero(~reach.all(axis=1))
    if partial.size:
        part = sparse.csr_matrix(reach[partial].astype(float))
        h.addRows(
            partial.size,
            np.ones(partial.size),
            np.full(partial.size, inf),
            part.nnz,
            part.indptr.astype(np.int32),
            part.indices.astype(np.int32),
            part.data,
        )
    n_cuts = 0
    have: set[tuple[int, float]] = set()  # (row, radius) of the cuts in the master

    def add_cuts(radius: FloatArray, rows: IntArray) -> None:
        nonlocal n_cuts
        keys = list(zip(rows.tolist(), radius[rows].tolist(), strict=True))
        fresh = [n for n, key in enumerate(keys) if key not in have]
        have.update(keys)
        rows = rows[fresh]
        if rows.size == 0:
            return
        a = _radius_cuts(
            _SortedRows(by_time.order[rows], by_time.time_s[rows]), radius[rows], in_master, col_of
        )
        # append each cut's theta column
        theta = sparse.csr_matrix(
            (np.ones(rows.size), theta0 + rows, np.arange(rows.size + 1)),
            shape=(rows.size, n_y + n_rows),
        )
        full = (sparse.hstack([a, sparse.csr_matrix((rows.size, n_rows))]) + theta).tocsr()
        full.sort_indices()
        h.addRows(
            rows.size,
            radius[rows],
            np.full(rows.size, inf),
            full.nnz,
            full.indptr.astype(np.int32),
            full.indices.astype(np.int32),
            full.data,
        )
        n_cuts += rows.size

    every = np.arange(n_rows)
    if reach_s is not None:
        add_cuts(np.minimum(reach_s, by_time.time_s[:, -1]), every)
    seen: list[BoolArray] = []  # the integer points whose cuts are in the master

    def add_point_cuts(point: BoolArray, theta: FloatArray | None = None) -> None:
        """Both tight cuts at an integer point (module notes, step 5), on every row, or with
        the master's ``theta`` there on the rows it prices below their travel time."""
        seen.append(point)
        radius, wide, value = _benders_radius(by_time, point.astype(float))
        rows = every
        if theta is not None:
            rows = np.flatnonzero(value - theta > 1e-6 * value)
        add_cuts(radius, rows)
        add_cuts(wide, rows)

    add_point_cuts(incumbent)
    notes: list[str] = []
    t0 = time.perf_counter()
    # Kelley's cutting planes on the LP relaxation, for at most _BENDERS_LP_SHARE of the time
    lp_end = t0 + _BENDERS_LP_SHARE * (deadline - t0)
    lp_value, rounds, lp_time = -math.inf, 0, 0.0
    while time.perf_counter() < lp_end:
        h.setOptionValue("time_limit", max(lp_end - time.perf_counter(), 0.01))
        t_run = time.perf_counter()
        h.run()
        lp_time += time.perf_counter() - t_run
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        rounds += 1
        x = np.asarray(h.getSolution().col_value)
        lp_value = float(h.getInfo().objective_function_value)
        y = np.zeros(n_cand)
        y[cols] = np.clip(x[:n_y], 0.0, 1.0)
        radius, _, value = _benders_radius(by_time, y)
        theta = x[theta0:]
        violated = np.flatnonzero(value - theta > 1e-6 * np.maximum(1.0, value))
        if violated.size == 0:
            break
        add_cuts(radius, violated)
    notes.append(
        f"Benders master over {n_y} sites and {n_rows} demand rows: LP relaxation "
        f"{lp_value:.6g} after {rounds} round(s), {n_cuts} cuts (at "
        f"{time.perf_counter() - t0:.1f} s of the master)"
    )
    h.changeColsIntegrality(
        free_cols.size, free_cols, np.full(free_cols.size, highspy.HighsVarType.kInteger)
    )
    h.setOptionValue("mip_rel_gap", _BENDERS_HIGHS_GAP)
    # no primal heuristics: the incumbent comes from the steps before, and HiGHS's sub-MIPs
    # found master solutions priced below their cost, for most of the time (district 5: 16.8
    # of 23.4 s; bound 755,192 with them, 755,838 without, in the same time)
    h.setOptionValue("mip_heuristic_effort", 0.0)
    for name in ("rins", "rens", "root_reduced_cost", "feasibility_jump"):
        h.setOptionValue(f"mip_heuristic_run_{name}", False)
    # no restart after root reduced-cost fixing: each presolves and solves the root LP of the
    # master again (district 25, two runs each at load 3-5: 45.2 and 44.9 s of CPU to 0.1 %
    # against 50.7 and 50.2 with them; district 15: 19.7 s against 36.7)
    h.setOptionValue("mip_allow_restart", False)
    state = _BendersState(ub, best)

    def priced(x: FloatArray) -> tuple[float, BoolArray]:
        opened = fixed_mask.copy()
        opened[cols[np.asarray(x[:n_y]) > 0.5]] = True
        return float(ww @ sub[:, opened].min(axis=1)), opened

    def callback(kind: Any, _msg: str, out: Any, data_in: Any, _user: Any) -> None:
        if kind == highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution:
            x = np.asarray(out.mip_solution)
            value, opened = priced(x)
            state.found.append((opened, x[theta0:].copy()))
            # (then some row's theta is more than 1e-6 below its time: it gets a cut)
            if value - float(ww @ x[theta0:]) > 1e-6 * value:
                state.n_under += 1
            if value < state.ub:
                state.ub, state.best = value, opened
        elif kind == highspy.cb.HighsCallbackType.kCallbackMipInterrupt:
            # (set every time: HiGHS keeps the flag from one run to the next)
            data_in.user_interrupt = bool(
                state.ub - out.mip_dual_bound <= mip_rel_gap * abs(state.ub)
                or state.n_under >= _BENDERS_CUT_AFTER
            )

    h.setCallback(callback, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    bound, stop, run_time, mip_runs = -math.inf, "time_limit", lp_time, 0
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        start = np.concatenate([state.best[cols].astype(float), sub[:, state.best].min(axis=1)])
        sol = highspy.HighsSolution()
        sol.col_value = start.tolist()
        sol.value_valid = True
        h.setSolution(sol)
        h.setOptionValue("time_limit", remaining)
        cutoff = _target(state.ub, mip_rel_gap)
        h.setOptionValue("objective_bound", cutoff)
        t_run = time.perf_counter()
        h.run()
        mip_runs += 1
        run_time += time.perf_counter() - t_run
        info = h.getInfo()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible and math.isfinite(cutoff):
            bound = max(bound, cutoff)  # no master solution below the cutoff
        elif math.isfinite(info.mip_dual_bound):
            bound = max(bound, min(cutoff, float(info.mip_dual_bound)))
        notes.append(
            f"master MIP run {mip_runs}: {h.modelStatusToString(status)}, bound {bound:.6g}, "
            f"{len(state.found)} solutions, {info.mip_node_count} nodes, at "
            f"{time.perf_counter() - t0:.1f} s of the master"
        )
        if int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible):
            x = np.asarray(h.getSolution().col_value)
            priced_ub, opened = priced(x)
            state.found.append((opened, x[theta0:].copy()))
            if priced_ub < state.ub:
                state.ub, state.best = priced_ub, opened
        ub = state.ub
        if ub - bound <= mip_rel_gap * abs(ub):
            stop = "optimal"
            break
        cut_short = state.n_under >= _BENDERS_CUT_AFTER
        if status != highspy.HighsModelStatus.kOptimal and not cut_short:
            break  # time limit (or another stop) with the gap open
        # the master's optimum is below the incumbent: its solutions were priced too low;
        # their cuts make them exact and HiGHS runs again
        new = [(s, t) for s, t in state.found if not any(np.array_equal(s, q) for q in seen)]
        state.found, state.n_under = [], 0
        if not new:
            break
        for point, theta in new:
            add_point_cuts(point, theta)
    notes.append(
        f"Benders master MIP: {mip_runs} run(s), bound {bound:.6g}, incumbent "
        f"{state.ub:.6g}, {n_cuts} cuts"
    )
    return _MipPhase(
        state.best,
        state.ub,
        bound,
        stop,
        run_time,
        h.getNumRow(),
        h.getNumCol(),
        tuple(notes),
    )
