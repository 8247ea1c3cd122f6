"""Speed of the planning decisions on Chicago police district 1 (real data, 18 months).

Prints, each against a named baseline run in the same process:

1. the whole trade-off curve, K = 0..54 booths, rings 1, 3 and 5 minutes: warm (one HiGHS
   model per ring, LP bounds, K from K-1) against cold (``siting.mclp`` afresh for each point);
2. the minimum-booth solve for two targets (3min:95% alone, then 1min:80% + 3min:100%), with and
   without the curve's bounds and layouts;
3. sectoring district 1 into 27 sectors (one per booth of the 27-booth plan) against the
   nearest-booth start alone;
4. the hypercube approximation for 27 and 100 units against the exact model's cost for 10
   units (2**10 states); and the approximation against the project's simulation on the
   27-booth plan (busy shares).

Timings are wall seconds on a shared, loaded machine (2 cores, eight engineers): compare
ratios, not absolute figures.

    .venv/bin/python benchmarks/bench_tradeoff.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from xunfang.analyse.queueing import hypercube_approx, hypercube_exact, preference_lists
from xunfang.config import get_settings
from xunfang.plan.booth_plan import BoothPlan, PlanConfig, _thin_candidates, make_booth_plan
from xunfang.plan.sectors import patrol_sectors
from xunfang.plan.targets import min_booths_for_targets, parse_target
from xunfang.plan.tradeoff import tradeoff_curve


def district_one() -> tuple[np.ndarray, np.ndarray, list[int], BoothPlan]:
    """The 27-booth plan of district 1 and its cost matrix as ``make_booth_plan`` builds it."""
    plan = make_booth_plan(
        PlanConfig(area="district:1", booths=27, time_limit_s=2.0, decisions=None),
        get_settings(),
    )
    net = plan.network
    fixed_nodes = plan.sites.loc[plan.sites["kind"] == "station", "node"].to_numpy()
    cand = _thin_candidates(net, plan.config.candidate_spacing_m, plan.config.max_candidates)
    cand = np.concatenate([fixed_nodes, cand[~np.isin(cand, fixed_nodes)]])
    cand = pd.unique(cand)
    demand_nodes = plan.demand["node"].to_numpy()
    cost = net.travel_time_matrix(cand, demand_nodes).T
    fixed = list(range(len(fixed_nodes)))
    return cost, plan.demand["weight"].to_numpy(), fixed, plan


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="K up to 20 on the curve")
    ap.add_argument("--parts", default="12345", help="which parts to run, e.g. 4 or 123")
    args = ap.parse_args()
    k_max = 20 if args.quick else 54
    cost, w, fixed, plan = district_one()
    print(
        f"district 1: {cost.shape[0]} demand nodes x {cost.shape[1]} candidates, "
        f"{len(fixed)} fixed, {w.sum():.0f} incidents"
    )

    if "1" in args.parts or "2" in args.parts:
        warm = part_curve(cost, w, fixed, k_max, cold_too="1" in args.parts)
        if "2" in args.parts:
            part_targets(cost, w, fixed, warm)
    if "3" in args.parts:
        part_sectors(plan, w)
    if "4" in args.parts:
        part_hypercube(cost, w)
    if "5" in args.parts:
        part_simulation(plan, cost, w)


def part_curve(  # type: ignore[no-untyped-def]
    cost: np.ndarray, w: np.ndarray, fixed: list[int], k_max: int, cold_too: bool = True
):
    print(f"\n1. trade-off curve K = 0..{k_max}, rings 1/3/5 min")
    warm, t_warm = timed(lambda: tradeoff_curve(cost, w, k_max, fixed=fixed, time_limit_s=2.0))
    if not cold_too:
        print(f"  warm {t_warm:.1f} s")
        return warm
    cold, t_cold = timed(
        lambda: tradeoff_curve(cost, w, k_max, fixed=fixed, warm=False, time_limit_s=2.0)
    )
    for name, c, t in (("warm", warm, t_warm), ("cold (mclp per point)", cold, t_cold)):
        n_opt = sum(p.status == "optimal" for p in c.points)
        gap = max(p.gap for p in c.points)
        print(
            f"  {name:24s} {t:7.1f} s  {c.n_highs_runs:4d} solver runs  {n_opt}/{len(c.points)} "
            f"optimal, largest gap {100 * gap:.2f}%"
        )
    diff = max(
        abs(a.within[r] - b.within[r])
        for a, b in zip(warm.points, cold.points, strict=True)
        for r in (60.0, 180.0, 300.0)
    )
    print(f"  warm / cold time ratio {t_warm / t_cold:.2f}; largest share difference {diff:.4f}")

    return warm


def part_targets(cost: np.ndarray, w: np.ndarray, fixed: list[int], warm) -> None:  # type: ignore[no-untyped-def]
    print("\n2. minimum booths for targets")
    for labels in (["3min:95%"], ["1min:80%", "3min:100%"]):
        targets = [parse_target(x) for x in labels]
        plain, t_plain = timed(
            lambda t=targets: min_booths_for_targets(cost, w, t, fixed=fixed, time_limit_s=30.0)
        )
        print(
            f"  {' + '.join(labels):22s} plain  {t_plain:6.1f} s  {plain.booths} booths "
            f"({plain.status}), reached {[round(s, 4) for s in plain.shares]}"
        )
        lower = 0
        for tg in targets:
            ks = [p.booths for p in warm.points if p.upper.get(tg.threshold_s, 0) >= tg.share]
            lower = max(lower, min(ks) if ks else 0)
        hinted, t_h = timed(
            lambda t=targets, lo=lower: min_booths_for_targets(
                cost,
                w,
                t,
                fixed=fixed,
                time_limit_s=30.0,
                known_lower=lo,
                starts=[p.selected for p in warm.points],
            )
        )
        print(
            f"  {'':22s} +curve {t_h:6.1f} s  {hinted.booths} booths ({hinted.status}), "
            f"lower bound from the curve {lower}; ratio {t_h / t_plain:.2f}"
        )


def part_sectors(plan: BoothPlan, w: np.ndarray) -> None:
    print("\n3. sectors: district 1 into 27 (one per booth of the 27-booth plan)")
    net = plan.network
    node_w = np.zeros(len(net.node_ids))
    np.add.at(node_w, plan.demand["node"].to_numpy(), w)
    booths = plan.sites.loc[plan.sites["kind"] == "booth", "node"].to_numpy()
    sp, t_s = timed(lambda: patrol_sectors(net.matrix, booths, node_w))
    print(f"  {len(net.node_ids)} nodes, {t_s:.2f} s, {sp.iterations} boundary moves")
    print(
        f"  largest workload: start {sp.workload_start.max():.0f}, balanced "
        f"{sp.workload.max():.0f}; bound {sp.lower_bound:.0f}; mean {sp.mean_workload:.0f}; "
        f"ratio to bound {sp.workload.max() / sp.lower_bound:.2f} (start "
        f"{sp.workload_start.max() / sp.lower_bound:.2f}); within ±{100 * sp.tolerance:.0f}%: "
        f"{sp.within_tolerance}"
    )


def part_hypercube(cost: np.ndarray, w: np.ndarray) -> None:
    print("\n4. hypercube (synthetic loads: 0.6 per unit on district 1's demand)")
    rng = np.random.default_rng(0)
    days = 546.0
    service_s = 45 * 60.0
    lam = w / (days * 86_400)
    for n_units in (10, 27, 100):
        sel = np.sort(rng.choice(cost.shape[1], n_units, replace=False))
        tt = np.where(np.isfinite(cost[:, sel]), cost[:, sel], 1e9)
        scale = 0.6 * n_units / (lam.sum() * service_s)  # utilisation 0.6 per unit
        res, t_a = timed(
            lambda tt=tt, s=scale: hypercube_approx(lam * s, preference_lists(tt), service_s)
        )
        line = (
            f"  {n_units:3d} units approx {t_a:7.3f} s, {res.iterations} iterations "
            f"({'converged' if res.converged else 'NOT converged'}), nearest busy "
            f"{100 * res.nearest_busy_share:.1f}%"
        )
        if n_units <= 10:
            ex, t_e = timed(
                lambda tt=tt, s=scale: hypercube_exact(lam * s, preference_lists(tt), service_s)
            )
            err = np.abs(ex.busy_probability - res.busy_probability).max()
            line += f"; exact {t_e:.2f} s (ratio {t_e / t_a:.0f}x), largest busy error {err:.4f}"
        print(line)


def part_simulation(
    plan: BoothPlan, cost: np.ndarray, w: np.ndarray, n_calls: int = 20_000
) -> None:
    """The hypercube approximation against ``xunfang.simulate`` on the 27-booth plan: one car at
    each site, Poisson calls at the demand nodes in proportion to the incidents, exponential
    45 minutes on scene, no call processing or dispatch delay, no traffic factor."""
    from xunfang.dispatch.model import UnitKind
    from xunfang.dispatch.recommend import TravelTimeOracle
    from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, simulate
    from xunfang.simulate.tables import Distribution

    print("\n5. hypercube against the simulation on the 27-booth plan (one car per site)")
    sites = plan.sites
    posts = sites["node"].to_numpy()
    nodes = plan.demand["node"].to_numpy()
    tt = plan.network.travel_time_matrix(posts, nodes).T  # (n_demand, n_sites)
    on_scene_s = 45 * 60.0
    p = w / w.sum()
    mean_travel = float(p @ tt.min(axis=1))
    rate = 0.3 * len(posts) / (on_scene_s + mean_travel)  # about 0.3 busy per unit
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.exponential(1 / rate, n_calls))
    at = rng.choice(nodes.size, n_calls, p=p)
    calls = CallSet(
        t_s=t,
        node=nodes[at],
        priority=np.full(n_calls, 3),
        type_group=np.full(n_calls, "other", dtype=object),
        call_processing_s=np.zeros(n_calls),
        on_scene_s=rng.exponential(on_scene_s, n_calls),
        dispatch_q=np.full(n_calls, 0.5),
    )
    units = [
        UnitSpec(str(n), UnitKind.STATION_CAR, int(node))
        for n, node in zip(sites["name"], posts, strict=True)
    ]
    settings = SimSettings(
        dispatch_delay_s=dict.fromkeys(UnitKind, Distribution(dist="fixed", value=0.0)),
        period_s=float(t[-1]),
    )
    sim, t_sim = timed(
        lambda: simulate(TravelTimeOracle(plan.network.matrix), calls, units, settings)
    )
    busy_sim = sim.units.set_index("unit_id").loc[[u.unit_id for u in units], "utilisation"]
    tau = on_scene_s + np.minimum(np.where(np.isfinite(tt), tt, 3600.0), 3600.0).T
    res, t_hc = timed(lambda: hypercube_approx(p * rate, preference_lists(tt), tau))
    diff = res.busy_probability - busy_sim.to_numpy()
    print(
        f"  simulation {t_sim:.1f} s ({n_calls} calls); hypercube {t_hc:.3f} s "
        f"({res.iterations} iterations)"
    )
    print(
        f"  busy share per unit: mean {busy_sim.mean():.3f} (simulation) vs "
        f"{res.busy_probability.mean():.3f} (hypercube); largest difference "
        f"{np.abs(diff).max():.3f}, mean absolute {np.abs(diff).mean():.3f}"
    )
    print(
        "  (the simulation sends the closest free unit from where it is, cars clear at the "
        "scene and drive back; the hypercube keeps each unit at its post)"
    )


if __name__ == "__main__":
    main()
