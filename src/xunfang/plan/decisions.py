"""The commander's questions after the plan is sited: how many booths, what each buys, and
where each booth's patrol sector ends.

:func:`plan_decisions` is called by :func:`xunfang.plan.booth_plan.make_booth_plan` after its
comparison step, on the same cost matrix (demand nodes x candidates, seconds). It runs

1. the trade-off curve (:mod:`xunfang.plan.tradeoff`), K from 0 to ``curve_max_booths``
   (default ``max(2 x requested, 40)``);
2. the smallest plan for the ``targets`` (:mod:`xunfang.plan.targets`);
3. optionally a tiered 1-3-5 or MEXCLP layout (:mod:`xunfang.plan.covering`) that replaces the
   MCLP layout as the plan;
4. what each site buys, with the hypercube busy shares (:mod:`xunfang.plan.booth_value`);
5. the patrol sectors (:mod:`xunfang.plan.sectors`);

and writes one sentence on what the requested K buys beyond the target, in officers per day
(booth staffing from ``roster`` when given, :meth:`StaffRule.from_roster`; else
``staff_per_booth x shifts_per_day``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from xunfang.errors import ValidationError
from xunfang.ingest.incidents import bulk_span
from xunfang.plan.booth_value import BoothValue, StaffRule, booth_values
from xunfang.plan.covering import mexclp, priority_weights, tiered_mclp
from xunfang.plan.roster import load_roster
from xunfang.plan.sectors import SectorPlan, patrol_sectors, sector_polygons
from xunfang.plan.siting import SitingResult
from xunfang.plan.targets import TargetPlan, min_booths_for_targets, parse_target
from xunfang.plan.tradeoff import TradeoffCurve, tradeoff_curve

__all__ = ["OBJECTIVES", "DecisionConfig", "PlanDecisions", "plan_decisions"]

OBJECTIVES = ("mclp", "tiered", "mexclp")


@dataclass(frozen=True)
class DecisionConfig:
    """Options of the planning decisions (the ``plan`` command's options of the same names).

    Attributes
    ----------
    targets
        Coverage targets such as ``"3min:95%"`` (all met together).
    curve_max_booths
        Largest K of the trade-off curve; default ``max(2 x booths, 40)``.
    curve
        Whether to compute the curve at all.
    curve_time_s
        Time budget of the whole curve, seconds (points past it report their gap).
    staff_per_booth, shifts_per_day
        Officers per booth per shift, and shifts per day (when there is no ``roster``).
    roster
        A roster file (:mod:`xunfang.plan.roster`): booth staffing from its minimum staff per
        booth and its shifts per day (:meth:`StaffRule.from_roster`), instead of
        ``staff_per_booth`` and ``shifts_per_day``.
    service_min
        Mean time on scene per call, minutes (the hypercube's service time, with the drive).
    low_value_share
        Booths whose tiered marginal gain is below this share of the demand are flagged.
    sector_tolerance
        Target balance of the sectors' workloads (share of the mean).
    sectors
        Whether to draw patrol sectors.
    objective
        ``mclp`` (the plan's threshold alone), ``tiered`` (1-3-5 rings with ``tier_weights``) or
        ``mexclp`` (expected coverage with each site busy with the hypercube's mean busy share).
    tier_weights
        Weights of the 1, 3 and 5 minute rings (tiered objective and marginal gain).
    priority
        Weigh incidents by type group (violent 3, property/vehicle 2, service 1, others 1) in
        the tiered and MEXCLP objectives.
    time_limit_s
        HiGHS time limit per solve of the curve and targets, seconds.
    """

    targets: tuple[str, ...] = ()
    curve_max_booths: int | None = None
    curve: bool = True
    curve_time_s: float = 40.0
    staff_per_booth: int = 2
    shifts_per_day: int = 3
    roster: str | None = None
    service_min: float = 45.0
    low_value_share: float = 0.005
    sector_tolerance: float = 0.15
    sectors: bool = True
    objective: str = "mclp"
    tier_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    priority: bool = False
    time_limit_s: float = 5.0

    def validate(self) -> None:
        """Raise ValidationError naming the first bad option."""
        for t in self.targets:
            parse_target(t)
        if self.objective not in OBJECTIVES:
            raise ValidationError(
                f"--objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )
        StaffRule.from_options(self.staff_per_booth, self.shifts_per_day)
        if self.roster is not None:
            load_roster(self.roster)
        if not self.service_min > 0:
            raise ValidationError(f"--service-min must be > 0, got {self.service_min}")
        if self.curve_max_booths is not None and self.curve_max_booths < 0:
            raise ValidationError(f"--curve-max-booths must be >= 0, got {self.curve_max_booths}")
        if len(self.tier_weights) != 3 or any(not a >= 0 for a in self.tier_weights):
            raise ValidationError(f"--tier-weights: three weights >= 0, got {self.tier_weights}")


@dataclass(frozen=True)
class PlanDecisions:
    """The answers (see the module notes). Fields are None when not asked for."""

    config: DecisionConfig
    curve: TradeoffCurve | None
    target: TargetPlan | None
    target_sites: list[str]
    """Names of the target plan's sites (stations by name, booths as ``T01``...)."""
    target_lonlat: list[tuple[float, float]]
    """WGS-84 longitude, latitude of each of those sites."""
    layout: SitingResult | None
    """The tiered or MEXCLP layout that replaced the MCLP one (None for ``mclp``)."""
    values: BoothValue
    value_table: pd.DataFrame
    """``values.table`` with ``name`` and ``kind`` of each site."""
    sectors: SectorPlan | None
    sector_frame: gpd.GeoDataFrame | None
    """One polygon per site (WGS-84) with ``name``, ``kind``, ``workload``, ``workload_start``."""
    days: float
    officers_per_day: float
    """Per booth (a booth without its own entry in the roster)."""
    staff_source: str
    """Where booth staffing comes from (the roster file, or the options)."""
    summary: str
    """What the requested K buys beyond the target (or the curve's answer), one sentence."""
    summary_zh: str = ""
    """The same in Chinese (``--lang zh``)."""
    timings_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds per step (the keys of ``timings_s``, wall seconds)."""


def _num(x: float) -> str:
    """Officers per day: whole numbers as such, a week's average to one decimal."""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def _share_text(x: float) -> str:
    return f"{100 * x:.1f}%"


_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "and": " and ",
        "at_most": "{label}: at most {share} reachable",
        "sep": ", ",
        "cannot": "The target {labels} cannot be met ({best})",
        "feasible_part": "; the feasible part needs {k} booths",
        "needs": "The target {labels} needs {k} booths",
        "adds": "; the requested {booths} add {extra} booths, {officers} officers per day "
        "({per} per booth)",
        "curve": ", which at best raise the share within 1 min from {a1} to {b1} (the best "
        "layouts for 1 min alone) and take the mean travel time of the best {t}-min layouts "
        "from {am} to {bm} min",
        "fewer": ": {n} more than the requested {booths}, {officers} more officers per day "
        "({per} per booth).",
        "exact": ", exactly the requested {booths}.",
        "end": ".",
        "reached": "{share} within {t} min is reached with {k} booths; the requested {booths} "
        "add {extra} booths, {officers} officers per day ({per} per booth), for the other "
        "rings and travel times.",
        "all_needed": "All {booths} booths are needed for {share} within {t} min.",
        "roster": " Booth staffing from the roster: {n} officers per day at the plan's {k} booths.",
    },
    "zh": {
        "and": "且",
        "at_most": "{label}最多可达 {share}",
        "sep": "，",
        "cannot": "目标 {labels} 无法达到（{best}）",
        "feasible_part": "；可达部分需要 {k} 个岗亭",
        "needs": "目标 {labels} 需要 {k} 个岗亭",
        "adds": "；所要求的 {booths} 个多出 {extra} 个岗亭，每天多 {officers} 名警力（每个岗亭 "
        "{per} 名）",
        "curve": "，1 分钟内到达的比例最多从 {a1} 提高到 {b1}（仅按 1 分钟优化的最佳布局），"
        "{t} 分钟最佳布局的平均行车时间从 {am} 分钟降到 {bm} 分钟",
        "fewer": "：比所要求的 {booths} 个多 {n} 个，每天多 {officers} 名警力（每个岗亭 "
        "{per} 名）。",
        "exact": "，正好是所要求的 {booths} 个。",
        "end": "。",
        "reached": "{t} 分钟内 {share} 用 {k} 个岗亭即可达到；所要求的 {booths} 个多出 {extra} "
        "个岗亭，每天多 {officers} 名警力（每个岗亭 {per} 名），用于其他时间圈和行车时间。",
        "all_needed": "{t} 分钟内 {share} 需要全部 {booths} 个岗亭。",
        "roster": "岗亭警力按排班表：方案的 {k} 个岗亭每天共 {n} 名警力。",
    },
}


def _summary_sentence(
    curve: TradeoffCurve | None,
    target: TargetPlan | None,
    booths: int,
    threshold_s: float,
    officers: float,
    mclp_share: float,
    lang: str = "en",
) -> str:
    """What the requested K buys beyond the target (or the curve's answer), in ``lang``."""
    ph = _PHRASES[lang]
    t_min = f"{threshold_s / 60:g}"
    per = _num(officers)
    if target is not None:
        labels = ph["and"].join(t.label for t in target.targets)
        bad = [t for t, ok in zip(target.targets, target.feasible, strict=True) if not ok]
        if bad:
            best = ph["sep"].join(
                ph["at_most"].format(label=t.label, share=_share_text(b))
                for t, b, ok in zip(
                    target.targets, target.best_reachable, target.feasible, strict=True
                )
                if not ok
            )
            head = ph["cannot"].format(labels=labels, best=best)
            if target.booths is None:
                return head + ph["end"]
            head += ph["feasible_part"].format(k=target.booths)
        else:
            head = ph["needs"].format(labels=labels, k=target.booths)
        need = target.booths or 0
        extra = booths - need
        if extra > 0:
            tail = ph["adds"].format(
                booths=booths, extra=extra, officers=_num(extra * officers), per=per
            )
            if curve is not None and need < len(curve.points) and booths < len(curve.points):
                a, b = curve.points[need], curve.points[booths]
                if 60.0 in a.within:
                    # curve figures are each ring's own optimum, not the sited layout's: say so
                    tail += ph["curve"].format(
                        a1=_share_text(a.within[60.0]),
                        b1=_share_text(b.within[60.0]),
                        t=t_min,
                        am=f"{a.mean_s / 60:.2f}",
                        bm=f"{b.mean_s / 60:.2f}",
                    )
            return head + tail + ph["end"]
        if extra < 0:
            return head + ph["fewer"].format(
                n=-extra, booths=booths, officers=_num(-extra * officers), per=per
            )
        return head + ph["exact"].format(booths=booths)
    share = _share_text(mclp_share)
    if curve is not None:
        k = curve.smallest_k(threshold_s, mclp_share - 1e-9)
        if k is not None and k < booths:
            return ph["reached"].format(
                share=share,
                t=t_min,
                k=k,
                booths=booths,
                extra=booths - k,
                officers=_num((booths - k) * officers),
                per=per,
            )
        return ph["all_needed"].format(booths=booths, share=share, t=t_min)
    return ""


def plan_decisions(
    config: DecisionConfig,
    *,
    cost: np.ndarray,
    demand_w: np.ndarray,
    booths: int,
    threshold_s: float,
    fixed_idx: np.ndarray,
    selected: np.ndarray,
    site_names: list[str],
    site_kinds: list[str],
    fixed_names: list[str],
    cand_nodes: np.ndarray,
    demand_nodes: np.ndarray,
    network_matrix: Any,
    node_xy: np.ndarray,
    edges_uv: tuple[np.ndarray, np.ndarray],
    area_polygon: Any,
    crs: object,
    days: float,
    type_group_weights: np.ndarray | None = None,
    time_limit_s: float = 60.0,
    say: object = None,
) -> PlanDecisions:
    """Run the decisions on the plan's cost matrix (module notes).

    Parameters
    ----------
    config
        The options.
    cost
        (n_demand, n_candidates) travel times, seconds (``make_booth_plan``'s matrix).
    demand_w
        (n_demand,) incident weights.
    booths, threshold_s
        The requested K and the plan threshold (seconds).
    fixed_idx
        Candidate indices of the fixed sites.
    selected
        The plan's open candidate indices (fixed included), in the order of ``site_names``.
    site_names, site_kinds
        Name and kind (station/booth) of each selected site.
    fixed_names
        Names of the fixed sites, in the order of ``fixed_idx``.
    cand_nodes, demand_nodes
        Network node of each candidate and demand row.
    network_matrix, node_xy, edges_uv
        The road graph (sparse travel times), node coordinates (metres) and street ends.
    area_polygon, crs
        The study area in the projected CRS.
    days
        Days of incidents behind ``demand_w``.
    type_group_weights
        (n_demand,) priority-weighted demand (``config.priority``); None: ``demand_w``.
    time_limit_s
        Time limit of a replacement siting solve, seconds.

    Raises
    ------
    ValidationError
        For bad options (naming them).
    """
    config.validate()
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    step = say if callable(say) else (lambda _m: None)

    def lap(name: str) -> None:
        nonlocal t0, c0
        now, now_cpu = time.perf_counter(), time.process_time()
        timings[name], cpu[name] = now - t0, now_cpu - c0
        t0, c0 = now, now_cpu

    staff = StaffRule.from_options(config.staff_per_booth, config.shifts_per_day)
    fixed_list = fixed_idx.tolist()
    curve = None
    if config.curve:
        step("trade-off curve")
        k_max = config.curve_max_booths
        if k_max is None:
            k_max = max(2 * booths, 40)
        curve = tradeoff_curve(
            cost,
            demand_w,
            k_max,
            fixed=fixed_list,
            layout_threshold_s=threshold_s,
            time_limit_s=config.time_limit_s,
            total_time_s=config.curve_time_s,
        )
        lap("trade-off curve")
    target = None
    target_sites: list[str] = []
    target_lonlat: list[tuple[float, float]] = []
    if config.targets:
        step("targets")
        wanted = [parse_target(t) for t in config.targets]
        lower, starts = 0, []
        if curve is not None:  # the curve's bounds and layouts: a lower bound and starts
            starts = [p.selected for p in curve.points]
            for tg in wanted:
                t = tg.threshold_s
                ks = [p.booths for p in curve.points if p.upper.get(t, 0) >= tg.share - 1e-12]
                if ks:
                    lower = max(lower, min(ks))
                elif tg.share <= curve.coverable_share.get(t, 0.0):  # feasible, beyond the curve
                    lower = max(lower, curve.points[-1].booths + 1)
        target = min_booths_for_targets(
            cost,
            demand_w,
            wanted,
            fixed=fixed_list,
            time_limit_s=config.time_limit_s * 3,
            refine_time_limit_s=config.time_limit_s / 2,
            known_lower=lower,
            starts=starts,
        )
        fixed_name = dict(zip(fixed_list, fixed_names, strict=False))
        n = 0
        for j in target.selected.tolist():
            if j in fixed_name:
                target_sites.append(str(fixed_name[j]))
            else:
                n += 1
                target_sites.append(f"T{n:02d}")
        xy = node_xy[cand_nodes[target.selected]]
        lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
            xy[:, 0], xy[:, 1]
        )
        target_lonlat = [
            (round(float(a), 6), round(float(b), 6)) for a, b in zip(lon, lat, strict=True)
        ]
        lap("targets")
    layout = None
    w_obj = demand_w if type_group_weights is None or not config.priority else type_group_weights
    k_total = len(fixed_list) + booths
    if config.objective == "tiered":
        step("tiered siting")
        layout = tiered_mclp(
            cost,
            w_obj,
            k_total,
            tier_weights=config.tier_weights,
            fixed=fixed_list,
            report_threshold_s=threshold_s,
            time_limit_s=time_limit_s,
        )
        lap("tiered siting")
    elif config.objective == "mexclp":
        step("MEXCLP siting")
        rate = float(demand_w.sum()) / (days * 86_400.0)
        q = min(rate * config.service_min * 60.0 / max(k_total, 1), 0.95)
        layout = mexclp(
            cost, w_obj, k_total, threshold_s, q, fixed=fixed_list, time_limit_s=time_limit_s
        )
        lap("MEXCLP siting")
    sel = selected if layout is None else layout.selected
    if layout is not None:
        site_names, site_kinds = [], []
        fixed_name = dict(zip(fixed_list, fixed_names, strict=False))
        n = 0
        for j in sel.tolist():
            if j in fixed_name:
                site_names.append(str(fixed_name[j]))
                site_kinds.append("station")
            else:
                n += 1
                site_names.append(f"B{n:02d}")
                site_kinds.append("booth")
    step("what each booth buys")
    values = booth_values(
        cost,
        demand_w,
        sel,
        threshold_s,
        fixed=fixed_list,
        days=days,
        service_s=config.service_min * 60.0,
        ring_weights=config.tier_weights,
        low_value_share=config.low_value_share,
        staff=staff,
    )
    if config.roster is not None:
        staff = StaffRule.from_roster(
            load_roster(config.roster),
            [n for n, k in zip(site_names, site_kinds, strict=True) if k == "booth"],
        )
    table = values.table.copy()
    table.insert(0, "kind", site_kinds)
    table.insert(0, "name", site_names)
    table["officers_per_day"] = [
        staff.for_booth(n) if k == "booth" else 0.0
        for n, k in zip(site_names, site_kinds, strict=True)
    ]
    lap("booth values")
    sectors = None
    frame = None
    if config.sectors:
        step("patrol sectors")
        n_nodes = int(node_xy.shape[0])
        node_w = np.zeros(n_nodes)
        np.add.at(node_w, demand_nodes, demand_w)
        site_nodes = cand_nodes[sel]
        sectors = patrol_sectors(
            network_matrix,
            site_nodes,
            node_w,
            tolerance=config.sector_tolerance,
        )
        frame = sector_polygons(
            node_xy,
            sectors.labels,
            area_polygon,
            crs,
            site_names,
            sectors.workload,
            sectors.workload_start,
            edges=edges_uv,
        )
        frame.insert(1, "kind", site_kinds)
        frame = frame.to_crs("EPSG:4326")
        lap("sectors")
    mclp_share = float(demand_w[cost[:, sel].min(axis=1) <= threshold_s].sum()) / max(
        float(demand_w.sum()), 1e-12
    )
    summaries = {}
    for lang in _PHRASES:
        text = _summary_sentence(
            curve, target, booths, threshold_s, staff.officers_per_day, mclp_share, lang
        )
        if config.roster is not None:
            text += _PHRASES[lang]["roster"].format(
                n=f"{table['officers_per_day'].sum():g}",
                k=sum(kind == "booth" for kind in site_kinds),
            )
        summaries[lang] = text.strip()
    return PlanDecisions(
        config=config,
        curve=curve,
        target=target,
        target_sites=target_sites,
        target_lonlat=target_lonlat,
        layout=layout,
        values=values,
        value_table=table,
        sectors=sectors,
        sector_frame=frame,
        days=days,
        officers_per_day=staff.officers_per_day,
        staff_source=staff.source,
        summary=summaries["en"],
        summary_zh=summaries["zh"],
        timings_s=timings,
        cpu_s=cpu,
    )


def incident_days(times: pd.Series) -> float:
    """Days spanned by the bulk of incident times (at least one): a stray row years away
    is left out of the span (:func:`xunfang.ingest.incidents.bulk_span`)."""
    t = pd.to_datetime(times)
    if len(t) == 0 or t.isna().all():
        return 1.0
    start, end, _ = bulk_span(t)
    span = (end - start).total_seconds() / 86_400.0
    return max(math.ceil(span), 1.0)


__all__ += ["decide_for_plan", "incident_days", "priority_weights"]


def decide_for_plan(
    config: DecisionConfig,
    *,
    booths: int,
    threshold_s: float,
    cost: np.ndarray,
    demand_w: np.ndarray,
    fixed_idx: np.ndarray,
    cand_nodes: np.ndarray,
    demand_nodes: np.ndarray,
    network: Any,
    area: Any,
    incidents: Any,
    node_of_incident: np.ndarray,
    weights_inc: np.ndarray,
    plan: tuple[SitingResult, gpd.GeoDataFrame, pd.DataFrame, list[Any]],
    ring_fn: Callable[..., Any],
    sites_fn: Callable[[SitingResult], gpd.GeoDataFrame],
    say: Callable[[str], None],
    time_limit_s: float,
) -> tuple[PlanDecisions, SitingResult, gpd.GeoDataFrame, pd.DataFrame, list[Any]]:
    """The call-out of :func:`xunfang.plan.booth_plan.make_booth_plan` after its comparison
    step: runs :func:`plan_decisions` on the plan's matrices; with the ``tiered`` or
    ``mexclp`` objective that layout becomes the plan (its sites, the demand's ``tt_plan_s``
    and one more row of the comparison).

    Returns
    -------
    (PlanDecisions, the plan's SitingResult, sites, demand, rings)
    """
    res, sites, demand, rings = plan
    type_w = None
    if config.priority and len(node_of_incident):  # (no types without incident demand)
        groups = incidents.frame["type_group"].to_numpy()
        inc_w = weights_inc * priority_weights(groups)
        node_w = np.bincount(node_of_incident, weights=inc_w, minlength=len(network.node_ids))
        type_w = node_w[demand_nodes]
    fixed_list = fixed_idx.tolist()
    fixed_names = [
        str(n) for n in sites.loc[sites["kind"] == "station", "name"]
    ]  # stations in selected order = fixed order (sorted indices)
    sel_fixed = [j for j in res.selected.tolist() if j in set(fixed_list)]
    fixed_idx_ordered = np.asarray(sel_fixed, dtype=np.int64)
    decisions = plan_decisions(
        config,
        cost=cost,
        demand_w=demand_w,
        booths=booths,
        threshold_s=threshold_s,
        fixed_idx=fixed_idx_ordered,
        selected=res.selected,
        site_names=[str(n) for n in sites["name"]],
        site_kinds=[str(k) for k in sites["kind"]],
        fixed_names=fixed_names,
        cand_nodes=cand_nodes,
        demand_nodes=demand_nodes,
        network_matrix=network.matrix,
        node_xy=network.node_xy,
        edges_uv=(network.edges["u_index"].to_numpy(), network.edges["v_index"].to_numpy()),
        area_polygon=area.polygon,
        crs=area.crs,
        days=incident_days(incidents.frame["occurred_at"]),
        type_group_weights=type_w,
        time_limit_s=time_limit_s,
        say=say,
    )
    if decisions.layout is not None:
        res = decisions.layout
        label = "plan_tiered" if config.objective == "tiered" else "plan_mexclp"
        rings = [*rings, ring_fn(label, len(res.selected), res.travel_time_s)]
        sites = sites_fn(res)
        demand = demand.assign(tt_plan_s=res.travel_time_s)
    return decisions, res, sites, demand, rings
