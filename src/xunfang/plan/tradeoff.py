"""How many booths: the trade-off curve of coverage against the number of booths.

For each K from 0 (the fixed sites alone) to ``k_max`` booths, and for each ring (1, 3 and 5
minutes by default), the largest share of demand within the ring that K booths plus the fixed
sites can reach: one MCLP per (K, ring) (Church & ReVelle 1974). Mean and 90th-percentile
travel time are those of the layout optimal for the plan's own threshold at that K (filled up
to K booths greedily by travel time when fewer already cover all it can).

Warm solving (the default): one HiGHS model per ring is built once (rows with the same covering
set merged, rows covered by a fixed site left out: :func:`xunfang.plan.covering.coverage_tiers`;
candidates whose covered demand another candidate covers too dropped:
:func:`xunfang.plan.covering.drop_dominated`, exact for one ring);
for K + 1 only the cardinality row changes and HiGHS starts from the K solution plus the
greedy best extra site. When that start covers every coverable demand group it is optimal and
HiGHS is not called; every later K is then optimal too. Cold solving calls
:func:`xunfang.plan.mclp.mclp` afresh for every (K, ring) (the benchmark's baseline).

The optimum at K is at most the proved bound at any larger K, so each bound is tightened to the
smallest bound to its right. Every point carries its status: ``optimal`` when each ring's answer
is proved within ``mip_rel_gap``, else ``gap <x>%`` (the largest relative gap of the three,
HiGHS stopped at its time limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from xunfang.errors import ValidationError
from xunfang.plan.covering import (
    CoverModel,
    GreedyFiller,
    coverage_tiers,
    drop_dominated,
    swap_search,
)
from xunfang.plan.mclp import mclp
from xunfang.plan.siting import weighted_quantile

__all__ = ["TRADEOFF_COLUMNS", "CurvePoint", "TradeoffCurve", "tradeoff_curve"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

TRADEOFF_COLUMNS = (
    "booths",
    "within_1min",
    "within_3min",
    "within_5min",
    "mean_min",
    "p90_min",
    "status",
)
"""Columns of ``tradeoff.csv``."""


@dataclass(frozen=True)
class CurvePoint:
    """One K of the curve.

    Attributes
    ----------
    booths
        Booths opened besides the fixed sites.
    within
        Ring (seconds) -> best share of demand weight within it with ``booths`` booths.
    mean_s, p90_s
        Weighted mean and 90th percentile travel time of the layout optimal for the plan
        threshold, seconds (over the demand some site reaches).
    status
        ``optimal`` or ``gap <x>%``.
    gap
        Largest relative MIP gap over the rings (0 when all optimal).
    selected
        Candidate indices of that layout (fixed included).
    """

    booths: int
    within: dict[float, float]
    mean_s: float
    p90_s: float
    status: str
    gap: float
    selected: IntArray = field(repr=False)
    upper: dict[float, float] = field(default_factory=dict)
    """Ring -> proved upper bound of the best share (equal to ``within`` when optimal)."""


@dataclass(frozen=True)
class TradeoffCurve:
    """The curve and how it was solved.

    Attributes
    ----------
    points
        One per K, increasing.
    thresholds_s
        The rings, seconds.
    layout_threshold_s
        The ring whose optimal layout gives mean and p90.
    n_fixed
        Fixed sites (always open).
    warm
        Whether the sequence was solved warm.
    solve_time_s
        Wall seconds of the whole curve.
    n_highs_runs
        HiGHS runs (warm) or MCLP calls (cold).
    coverable_share
        Ring -> share reachable with every candidate open (the ceiling).
    """

    points: list[CurvePoint]
    thresholds_s: tuple[float, ...]
    layout_threshold_s: float
    n_fixed: int
    warm: bool
    solve_time_s: float
    n_highs_runs: int
    coverable_share: dict[float, float]

    def frame(self) -> pd.DataFrame:
        """``tradeoff.csv``: :data:`TRADEOFF_COLUMNS`, one row per K, shares as fractions,
        times in minutes (the 1, 3 and 5 minute rings; others get their own columns)."""
        rows = []
        for p in self.points:
            row: dict[str, object] = {"booths": p.booths}
            for t, share in p.within.items():
                row[f"within_{t / 60:g}min"] = round(share, 6)
            row["mean_min"] = round(p.mean_s / 60.0, 4)
            row["p90_min"] = round(p.p90_s / 60.0, 4)
            row["status"] = p.status
            rows.append(row)
        frame = pd.DataFrame(rows)
        cols = [c for c in TRADEOFF_COLUMNS if c in frame.columns]
        return frame[cols + [c for c in frame.columns if c not in cols]]

    def smallest_k(self, threshold_s: float, share: float) -> int | None:
        """Fewest booths whose ring ``threshold_s`` reaches ``share`` (None: not on the curve)."""
        for p in self.points:
            if p.within.get(float(threshold_s), -1.0) >= share - 1e-12:
                return p.booths
        return None


def _status(gaps: Sequence[float], mip_rel_gap: float) -> tuple[str, float]:
    worst = max(gaps) if gaps else 0.0
    if worst <= mip_rel_gap:
        return "optimal", 0.0
    return (f"gap {100 * worst:.2f}%" if math.isfinite(worst) else "no bound"), worst


def _best_extra(groups_csr: object, gw: FloatArray, covered: NDArray[np.bool_]) -> int:
    """Free column adding the most uncovered group weight (ties: lowest index)."""
    g = groups_csr
    gain = (gw * ~covered) @ g  # type: ignore[operator]
    return int(np.argmax(gain))


def tradeoff_curve(
    cost_s: ArrayLike,
    weights: ArrayLike,
    k_max: int,
    *,
    fixed: Sequence[int] = (),
    thresholds_s: Sequence[float] = (60.0, 180.0, 300.0),
    layout_threshold_s: float = 180.0,
    k_min: int = 0,
    warm: bool = True,
    time_limit_s: float = 10.0,
    total_time_s: float | None = None,
    mip_rel_gap: float = 1e-4,
) -> TradeoffCurve:
    """The optimal coverage of each ring for every number of booths ``k_min..k_max``.

    Parameters
    ----------
    cost_s
        (n_demand, n_candidates) travel times, seconds, ``inf`` where unreachable.
    weights
        (n_demand,) demand weights, >= 0.
    k_max
        Most booths (besides the fixed sites); capped at the free candidates.
    fixed
        Candidate indices always open (e.g. police stations).
    thresholds_s
        The rings, seconds; ``layout_threshold_s`` is added if missing.
    layout_threshold_s
        The plan's threshold: its optimal layout gives the mean and p90 columns.
    k_min
        Fewest booths on the curve.
    warm
        Solve each ring's sequence warm (module notes); False calls
        :func:`~xunfang.plan.mclp.mclp` cold for every point.
    time_limit_s
        HiGHS time limit per (K, ring), seconds.
    total_time_s
        Budget of the whole warm curve, wall seconds from its start: each HiGHS branch and
        bound gets at most its share of what is left (at least 0.05 s); points past the
        budget keep their heuristic layout and LP bound and report their gap (no HiGHS run:
        one costs a root LP of CPU however short its time limit). None: no budget.
    mip_rel_gap
        Relative gap accepted as optimal.

    Returns
    -------
    TradeoffCurve

    Raises
    ------
    ValidationError
        For ``k_min > k_max``, negative K, or inputs the covering models refuse.
    """
    t0 = time.perf_counter()
    cost = np.asarray(cost_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    rings = tuple(float(t) for t in thresholds_s)
    if float(layout_threshold_s) not in rings:
        rings = (*rings, float(layout_threshold_s))
    fx = np.unique(np.asarray(list(fixed), dtype=np.int64))
    k_max = min(int(k_max), cost.shape[1] - fx.size)
    if k_min < 0 or k_min > k_max:
        raise ValidationError(f"need 0 <= k_min <= k_max, got {k_min} and {k_max}")
    total = float(w.sum())
    ks = list(range(int(k_min), k_max + 1))
    share: dict[float, list[float]] = {t: [] for t in rings}
    gaps: dict[float, list[float]] = {t: [] for t in rings}
    upper: dict[float, list[float]] = {t: [] for t in rings}
    deadline = time.perf_counter() + (math.inf if total_time_s is None else total_time_s)
    layouts: list[IntArray] = []
    runs = 0
    free, tiers = coverage_tiers(cost, w, rings, fx.tolist())
    coverable = {t.threshold_s: t.coverable_weight / total if total else 0.0 for t in tiers}
    for tier in tiers:
        t = tier.threshold_s
        if not warm:
            for k in ks:
                if k + fx.size == 0:
                    share[t].append(0.0)
                    gaps[t].append(0.0)
                    upper[t].append(0.0)
                    if t == layout_threshold_s:
                        layouts.append(np.zeros(0, np.int64))
                    continue
                res = mclp(cost, w, k + fx.size, t, fixed=fx.tolist(), time_limit_s=time_limit_s)
                runs += 1
                share[t].append(res.covered_weight_share)
                gaps[t].append(res.mip_gap if res.status != "optimal" else 0.0)
                upper[t].append(res.objective_bound / total if total else 0.0)
                if t == layout_threshold_s:
                    layouts.append(res.selected)
            continue
        red, keep_cols = drop_dominated(tier)  # exact for one ring
        g_csc = sparse.csc_matrix(red.groups)
        g_csr = g_csc.tocsr()
        gw = red.group_weight
        n_g = g_csr.shape[0]
        model: CoverModel | None = None
        lp: CoverModel | None = None
        y = np.zeros(keep_cols.size)
        all_covered = n_g == 0
        for i_k, k in enumerate(ks):
            covered = (g_csr @ y) > 0.5 if n_g else np.zeros(0, dtype=bool)
            bound = float(gw.sum())
            if k > 0 and not all_covered:
                start = y.copy()
                while start.sum() < k:  # K - 1 solution plus greedy extra sites
                    cov_s = (g_csr @ start) > 0.5
                    if cov_s.all():
                        break
                    start[_best_extra(g_csr, gw, cov_s)] = 1.0
                if not ((g_csr @ start) > 0.5).all():
                    start = swap_search(g_csc, gw, start, groups_csr=g_csr)
                    if lp is None:
                        lp = CoverModel([red], [1.0], n_open=k)
                        lp.relax()
                    lp.set_open(k)
                    lp_bound = lp.lp_value()
                    runs += 1
                    if math.isfinite(lp_bound):
                        bound = min(bound, lp_bound)
                        top = np.argsort(-lp.lp_solution(), kind="stable")[:k]
                        y_lp = np.zeros(keep_cols.size)
                        y_lp[top] = 1.0
                        y_lp = swap_search(g_csc, gw, y_lp, groups_csr=g_csr)
                        if float(gw @ ((g_csr @ y_lp) > 0.5)) > float(gw @ ((g_csr @ start) > 0.5)):
                            start = y_lp
                cov_s = (g_csr @ start) > 0.5
                value = float(gw @ cov_s)
                y = start
                left = deadline - time.perf_counter()
                if (
                    not cov_s.all()
                    and bound - value > mip_rel_gap * max(value, 1e-9)
                    and left > 0.0  # past the budget: the LP bound and its gap stand
                ):
                    # the LP bound does not prove the heuristic: HiGHS branch and bound, briefly
                    if model is None:
                        model = CoverModel([red], [1.0], n_open=k)
                    model.set_open(k)
                    model.start_from(start)
                    per_k = min(time_limit_s, left / max(len(ks) - i_k, 1))
                    out = model.solve(max(per_k, 0.05), mip_rel_gap)
                    runs += 1
                    if float(gw @ ((g_csr @ out.y) > 0.5)) > value:
                        y = out.y
                    if math.isfinite(out.bound) and out.bound >= float(gw @ ((g_csr @ y) > 0.5)):
                        bound = min(bound, out.bound)  # a valid upper bound only
                elif cov_s.all() or bound - value <= mip_rel_gap * max(value, 1e-9):
                    bound = value if cov_s.all() else bound
                covered = (g_csr @ y) > 0.5
                all_covered = bool(covered.all())
            cw = tier.fixed_weight + (float(gw @ covered) if n_g else 0.0)
            if all_covered or k == 0:
                bound = cw - tier.fixed_weight
            share[t].append(cw / total if total else 0.0)
            upper[t].append((tier.fixed_weight + bound) / total if total else 0.0)
            if t == layout_threshold_s:
                chosen = np.concatenate([fx, free[keep_cols[np.flatnonzero(y > 0.5)]]])
                layouts.append(np.sort(chosen.astype(np.int64)))
        # the optimum at K is at most the bound at any larger K: tighten from the right
        ub = np.minimum.accumulate(np.asarray(upper[t])[::-1])[::-1]
        upper[t] = ub.tolist()
        gaps[t] = [
            max(u - v, 0.0) / v if v > 0 else (0.0 if u <= 0 else math.inf)
            for u, v in zip(upper[t], share[t], strict=True)
        ]
    points = []
    prev: IntArray = np.zeros(0, dtype=np.int64)
    finite = np.isfinite(cost)
    big = 2.0 * float(cost[finite].max()) + 1.0
    c_big = np.where(finite, cost, big)
    del finite
    big_fill = 2.0 * float(c_big.max()) + 1.0 if c_big.size else 1.0  # as greedy_fill prices it
    filler = GreedyFiller(c_big, w, big_fill)  # gains kept from one K to the next
    for i, k in enumerate(ks):
        sel = layouts[i]
        if sel.size < k + fx.size:
            if np.isin(sel, prev).all() and prev.size < k + fx.size:
                sel = prev  # the same covering sites: extend the last filled layout
            sel = filler.fill(sel, k + fx.size - sel.size)
        prev = sel
        if sel.size:
            tt = cost[:, sel].min(axis=1)
            ok = np.isfinite(tt) & (w > 0)
            mean_s = float(w[ok] @ tt[ok] / w[ok].sum()) if ok.any() else math.nan
            p90_s = weighted_quantile(tt[ok], w[ok], 0.9) if ok.any() else math.nan
        else:
            mean_s = p90_s = math.nan
        status, gap = _status([gaps[t][i] for t in rings], mip_rel_gap)
        points.append(
            CurvePoint(
                booths=k,
                within={t: share[t][i] for t in rings},
                upper={t: upper[t][i] for t in rings},
                mean_s=mean_s,
                p90_s=p90_s,
                status=status,
                gap=gap,
                selected=sel,
            )
        )
    return TradeoffCurve(
        points=points,
        thresholds_s=rings,
        layout_threshold_s=float(layout_threshold_s),
        n_fixed=int(fx.size),
        warm=warm,
        solve_time_s=time.perf_counter() - t0,
        n_highs_runs=runs,
        coverable_share=coverable,
    )
