"""The smallest plan that meets coverage targets, e.g. ``3min:95%`` and ``1min:80%`` together.

A multi-threshold location set covering model with partial coverage (Toregas, C., Swain, R.,
ReVelle, C. & Bergman, L. (1971), "The location of emergency service facilities", *Operations
Research* 19, 1363-1373, with the coverage-share constraints of the "partial covering" variant
in Church & ReVelle 1974, section 5): with ``y_j`` the free candidates and, per target ``t``,
``z_g^t`` the demand groups covered within its threshold,

    minimise    sum_j y_j
    subject to  z_g^t <= sum_{j in N_g^t} y_j                   every group g, target t
                sum_g W_g^t z_g^t >= s_t * W - F_t               every target t
                y binary, z in [0, 1]

(``W`` all demand weight, ``F_t`` the weight fixed sites already cover within ``t``). A greedy
plan gives HiGHS its first solution. A second solve then keeps that number of booths and
maximises the summed covered weight of the targets' rings, so that among the smallest plans
the one that covers most is returned.

A target above what every candidate together reaches is infeasible: it is reported with the
best reachable share and the other targets are solved without it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xunfang.errors import ValidationError
from xunfang.plan.covering import CoverModel, coverage_tiers
from xunfang.units import minutes_to_s

__all__ = ["Target", "TargetPlan", "min_booths_for_targets", "parse_target"]

IntArray = NDArray[np.int64]

_TARGET = re.compile(
    r"^\s*(?P<t>\d+(?:\.\d+)?)\s*(?P<unit>min|m|s)?\s*:\s*(?P<s>\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*$"
)


@dataclass(frozen=True)
class Target:
    """A coverage target: share ``share`` of the demand within ``threshold_s`` seconds."""

    threshold_s: float
    share: float

    @property
    def label(self) -> str:
        """``3min:95%`` style."""
        return f"{self.threshold_s / 60:g}min:{100 * self.share:g}%"


def parse_target(text: str) -> Target:
    """Read ``"3min:95%"``, ``"90s:80%"`` or ``"3:0.95"`` (minutes; a fraction without ``%``).

    Raises
    ------
    ValidationError
        Naming the text, for another form, a threshold <= 0 or a share outside (0, 100 %].
    """
    m = _TARGET.match(text)
    if not m:
        raise ValidationError(
            f"--target {text!r}: write it as MINUTESmin:PERCENT%, e.g. 3min:95% or 90s:80%"
        )
    value = float(m["t"])
    seconds = value if m["unit"] == "s" else minutes_to_s(value)
    share = float(m["s"]) / 100.0 if m["pct"] else float(m["s"])
    if not seconds > 0:
        raise ValidationError(f"--target {text!r}: the time must be > 0")
    if not 0.0 < share <= 1.0:
        raise ValidationError(f"--target {text!r}: the share must be in (0, 100%]")
    return Target(seconds, share)


@dataclass(frozen=True)
class TargetPlan:
    """The answer of :func:`min_booths_for_targets`.

    Attributes
    ----------
    targets
        The targets asked for.
    feasible
        Per target, whether every candidate together can reach it.
    best_reachable
        Per target, the share reachable with every candidate open.
    booths
        Fewest booths (besides the fixed sites) meeting every feasible target together; None
        when no target is feasible.
    selected
        Candidate indices of that plan, fixed sites included, sorted.
    shares
        Per target, the share the plan reaches within its threshold.
    status
        ``optimal`` (the count is proved minimal), ``gap <x>`` (HiGHS stopped at its time
        limit: ``booths`` is the best found, ``lower_bound`` the proof), or ``infeasible``
        when some target cannot be met (the others are answered).
    lower_bound
        Proved lower bound of the booth count.
    solve_time_s
        Wall seconds.
    """

    targets: tuple[Target, ...]
    feasible: tuple[bool, ...]
    best_reachable: tuple[float, ...]
    booths: int | None
    selected: IntArray
    shares: tuple[float, ...]
    status: str
    lower_bound: float
    solve_time_s: float

    def to_dict(self, names: Sequence[str] | None = None) -> dict[str, object]:
        """The ``target`` entry of ``plan_summary.json``; ``names`` names the sites of
        ``selected``, in its order (default: the candidate indices)."""
        sites: list[object] = (
            list(names) if names is not None else [int(j) for j in self.selected.tolist()]
        )
        return {
            "booths": self.booths,
            "sites": sites,
            "shares": {
                t.label: round(s, 4) for t, s in zip(self.targets, self.shares, strict=True)
            },
            "status": self.status,
            "targets": [
                {
                    "target": t.label,
                    "threshold_min": t.threshold_s / 60.0,
                    "share": t.share,
                    "feasible": f,
                    "best_reachable_share": round(b, 4),
                    "reached_share": round(s, 4),
                }
                for t, f, b, s in zip(
                    self.targets, self.feasible, self.best_reachable, self.shares, strict=True
                )
            ],
            "lower_bound": self.lower_bound,
            "solve_time_s": round(self.solve_time_s, 3),
        }


def _greedy(
    g_csr: list[Any], gw: list[NDArray[np.float64]], need: list[float], n_free: int
) -> NDArray[np.float64]:
    """Add the site with the largest gain towards the unmet needs until all are met."""
    y = np.zeros(n_free)
    while True:
        cov = [(g @ y) > 0.5 for g in g_csr]
        short = [max(n - float(w @ c), 0.0) for n, w, c in zip(need, gw, cov, strict=True)]
        if max(short, default=0.0) <= 1e-9 or y.sum() >= n_free:
            return y
        gain = np.zeros(n_free)
        for s, g, w, c in zip(short, g_csr, gw, cov, strict=True):
            if s > 0:
                gain += np.minimum((w * ~c) @ g, s) / s
        gain[y > 0.5] = -1.0
        y[int(np.argmax(gain))] = 1.0


def min_booths_for_targets(
    cost_s: ArrayLike,
    weights: ArrayLike,
    targets: Sequence[Target],
    *,
    fixed: Sequence[int] = (),
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-6,
    refine: bool = True,
    refine_time_limit_s: float = 5.0,
    known_lower: int = 0,
    starts: Sequence[IntArray] = (),
) -> TargetPlan:
    """Fewest booths (and where) so that every target holds together (module notes).

    Parameters
    ----------
    cost_s
        (n_demand, n_candidates) travel times, seconds, ``inf`` where unreachable.
    weights
        (n_demand,) demand weights >= 0.
    targets
        One or more :class:`Target` (:func:`parse_target`).
    fixed
        Candidate indices always open; they do not count as booths.
    time_limit_s
        HiGHS time limit of each of the two solves.
    mip_rel_gap
        Relative gap accepted as optimal.
    refine
        Second solve: among plans with the minimal count, the one covering most.
    refine_time_limit_s
        Time limit of that second solve (its best answer so far is kept).
    known_lower
        A proved lower bound of the booth count (e.g. from the trade-off curve's bounds): a
        start plan with that many booths is optimal without a MIP.
    starts
        Candidate layouts (candidate indices, fixed included) to start from; the smallest
        one meeting every feasible target is used when it beats the greedy plan.

    Returns
    -------
    TargetPlan

    Raises
    ------
    ValidationError
        Without targets, or for inputs the covering models refuse.
    """
    t0 = time.perf_counter()
    if not targets:
        raise ValidationError("give at least one --target, e.g. 3min:95%")
    cost = np.asarray(cost_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    fx = np.unique(np.asarray(list(fixed), dtype=np.int64))
    free, tiers = coverage_tiers(cost, w, [t.threshold_s for t in targets], fx.tolist())
    best = tuple(t.coverable_weight / total if total else 0.0 for t in tiers)
    feasible = tuple(tg.share <= b + 1e-12 for tg, b in zip(targets, best, strict=True))
    keep = [i for i, f in enumerate(feasible) if f]
    status = "optimal"
    lower = 0.0
    y = np.zeros(free.size)
    booths: int | None = None
    if keep:
        sub_tiers = [tiers[i] for i in keep]
        need = [max(targets[i].share * total - tiers[i].fixed_weight, 0.0) for i in keep]
        g_csr = [t.groups.tocsr() for t in sub_tiers]
        gw = [t.group_weight for t in sub_tiers]
        y = _greedy(g_csr, gw, need, free.size)

        def covered(y_: NDArray[np.float64]) -> float:
            return sum(float(w_ @ ((g @ y_) > 0.5)) for g, w_ in zip(g_csr, gw, strict=True))

        pos = {int(j): i for i, j in enumerate(free.tolist())}
        for layout in sorted(starts, key=len):
            y_s = np.zeros(free.size)
            y_s[[pos[int(j)] for j in layout if int(j) in pos]] = 1.0
            met = all(
                float(w_ @ ((g @ y_s) > 0.5)) >= n_ - 1e-9
                for g, w_, n_ in zip(g_csr, gw, need, strict=True)
            )
            if met:
                fewer = y_s.sum() < y.sum()
                if fewer or (y_s.sum() == y.sum() and covered(y_s) > covered(y)):
                    y = y_s
                break
        lower = float(known_lower)
        if y.sum() > known_lower:
            model = CoverModel(sub_tiers, needs=need, minimise_sites=True)
            model.start_from(y)
            out = model.solve(time_limit_s, mip_rel_gap)
            if out.status != "infeasible" and out.y.sum() <= y.sum():
                y = out.y
            if math.isfinite(out.bound):
                lower = max(lower, math.ceil(out.bound - 1e-6))
            if out.status != "optimal" and lower < y.sum():
                status = f"gap: {int(y.sum())} booths found, at least {int(lower)} needed"
            else:
                lower = float(y.sum())
        if refine and y.sum() > 0:
            again = CoverModel(sub_tiers, [1.0] * len(sub_tiers), n_open=int(y.sum()), needs=need)
            again.start_from(y)
            out2 = again.solve(refine_time_limit_s, 1e-4)

            if (
                out2.status != "infeasible"
                and out2.y.sum() <= y.sum()
                and covered(out2.y) >= covered(y)
            ):
                y = out2.y
        booths = int(y.sum())
    if not all(feasible):
        status = "infeasible"
    selected = np.sort(np.concatenate([fx, free[np.flatnonzero(y > 0.5)]])).astype(np.int64)
    shares = []
    for tg in targets:
        if selected.size:
            reach = cost[:, selected].min(axis=1) <= tg.threshold_s
            shares.append(float(w[reach].sum() / total) if total else 0.0)
        else:
            shares.append(0.0)
    return TargetPlan(
        targets=tuple(targets),
        feasible=feasible,
        best_reachable=best,
        booths=booths,
        selected=selected,
        shares=tuple(shares),
        status=status,
        lower_bound=float(lower),
        solve_time_s=time.perf_counter() - t0,
    )
