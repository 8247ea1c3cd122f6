"""The plan report's answers to "how many booths, what each buys, where each sector ends":
the trade-off curve (table and chart), the target answer, the per-booth table with low-value
flags, the patrol sectors map, and the files ``tradeoff.csv``, ``booth_values.csv`` and
``sectors.geojson``, plus their entries in ``plan_summary.json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from rich.markup import escape

from xunfang.ingest.city import to_output_frame
from xunfang.ingest.notes import note_text
from xunfang.plan.booth_plan import BoothPlan
from xunfang.plan.decisions import PlanDecisions
from xunfang.serve.map_helpers import (
    SECTOR_COLOURS,
    boundary_trace,
    figure_height,
    label_positions,
    sector_trace,
)

DECISION_FILES = frozenset({"tradeoff.csv", "booth_values.csv", "sectors.geojson"})


_TEXT: dict[str, dict[str, str]] = {
    "how_many": {"en": "How many booths", "zh": "需要多少个岗亭"},
    "curve_note": {
        "en": "Best share of incidents within 1, 3 and 5 minutes for each number of booths "
        "(besides the stations), each solved to optimality or its gap; mean and 90th percentile "
        "of the layout best for the {t}-minute threshold.",
        "zh": "每个岗亭数量（不含派出所）下1、3、5分钟内可达警情的最优比例，均求至最优或注明差距；"
        "平均与90百分位为{t}分钟最优布局的通行时间。",
    },
    "booths_axis": {"en": "booths (besides stations)", "zh": "岗亭数（不含派出所）"},
    "requested": {"en": "requested", "zh": "本方案"},
    "target": {"en": "Smallest plan for the target", "zh": "满足目标的最少岗亭"},
    "each_buys": {"en": "What each booth buys", "zh": "每个岗亭的作用"},
    "each_note": {
        "en": "Nearest: incidents for which it is the nearest site. Alone: incidents within {t} "
        "min of it and of no other site. Lost within 1/3/5 min: incidents that drop out of "
        "each ring if it is removed. Gain: the tiered loss as a share of all incidents. "
        "Busy: share of time on calls (hypercube approximation). Flagged: gain below {low}.",
        "zh": "就近：以其为最近站点的警情。独占：仅由其在{t}分钟内覆盖的警情。"
        "移除后1/3/5分钟内失去：撤掉该岗亭后掉出各圈的警情。增益：分层损失占全部警情的比例。"
        "忙碌：出警时间占比（超立方体近似）。标记：增益低于{low}。",
    },
    "sectors": {"en": "Patrol sectors (区块警务)", "zh": "巡区划分（区块警务）"},
    "workload": {"en": "workload (incidents)", "zh": "工作量（警情）"},
    "before": {"en": "nearest booth", "zh": "最近岗亭"},
    "after": {"en": "balanced", "zh": "均衡后"},
    # the lines the plan command prints (terminal_lines)
    "curve_line": {
        "en": "Trade-off curve: K = {k0}..{k1}, {n_opt} of {n} points optimal, largest gap "
        "{gap:.2f}%, {s:.1f} s -> tradeoff.csv",
        "zh": "权衡曲线：K = {k0}..{k1}，{n} 个点中 {n_opt} 个求得最优，最大差距 {gap:.2f}%，"
        "用时 {s:.1f} 秒 -> tradeoff.csv",
    },
    "target_line": {
        "en": "Target {targets}: {booths} booths ({status}); reached {shares}",
        "zh": "目标 {targets}：{booths} 个岗亭（{status}）；达到 {shares}",
    },
    "low_line": {
        "en": "Low-value booths (marginal gain < {low}): {names}",
        "zh": "低价值岗亭（边际增益 < {low}）：{names}",
    },
    "none": {"en": "none", "zh": "无"},
    "hypercube_line": {
        "en": "Hypercube: nearest site busy for {busy:.1f}% of calls; expected share within "
        "{t:g} min with busy sites {share:.1f}%",
        "zh": "超立方体排队模型：{busy:.1f}% 的出警中最近站点正忙；考虑站点忙碌，"
        "{t:g} 分钟内到达的期望比例 {share:.1f}%",
    },
    "sectors_line": {
        "en": "Sectors: largest workload {max:.0f} (nearest-booth start {start:.0f}; no "
        "partition below {lb:.0f}), mean {mean:.0f} -> sectors.geojson",
        "zh": "巡区：最大工作量 {max:.0f}（按最近岗亭划分时 {start:.0f}；任何划分都不低于 "
        "{lb:.0f}），平均 {mean:.0f} -> sectors.geojson",
    },
    # the template's paragraphs (plan_decisions.html)
    "busy_para": {
        "en": "Nearest site busy for {busy:.1f}% of calls; expected share within {t:g} min when "
        "busy sites do not respond (Daskin 1983): {share:.1f}%.",
        "zh": "{busy:.1f}% 的出警中最近站点正忙；忙碌站点不出警时，{t:g} 分钟内到达的期望比例"
        "（Daskin 1983）：{share:.1f}%。",
    },
    "officers_para": {
        "en": "{per:g} officers per booth per day ({all:g} at all booths; staffing from {source}).",
        "zh": "每个岗亭每天 {per:g} 名警力（全部岗亭共 {all:g} 名；警力依据 {source}）。",
    },
    "sectors_para": {
        "en": "One sector per site along the road network, contiguous; largest workload "
        "{max:.0f} incidents (nearest-booth start {start:.0f}; no division can go below "
        "{lb:.0f}), mean {mean:.0f}; {within} ±{tol:.0f}% of the mean. Mean drive from an "
        "incident to its sector's booth {drive:.0f} s (start {drive0:.0f} s).",
        "zh": "每个站点一个巡区，沿路网连片；最大工作量 {max:.0f} 起警情（按最近岗亭划分时 "
        "{start:.0f}；任何划分都不低于 {lb:.0f}），平均 {mean:.0f}；{within}平均值的 ±{tol:.0f}% "
        "以内。警情到所属巡区岗亭的平均车程 {drive:.0f} 秒（划分前 {drive0:.0f} 秒）。",
    },
    "all_within": {"en": "every sector within", "zh": "所有巡区都在"},
    # table heads
    "rows": {"en": "rows", "zh": "行"},
    "col_booths": {"en": "booths", "zh": "岗亭数"},
    "col_within": {"en": "within_{m}min", "zh": "≤{m}分钟"},
    "col_mean_min": {"en": "mean_min", "zh": "平均分钟"},
    "col_p90_min": {"en": "p90_min", "zh": "p90分钟"},
    "col_status": {"en": "status", "zh": "求解状态"},
    "th_target": {"en": "target", "zh": "目标"},
    "th_feasible": {"en": "feasible", "zh": "可达"},
    "th_best": {"en": "best reachable", "zh": "最高可达"},
    "th_reached": {"en": "reached", "zh": "实际达到"},
    "th_booths": {"en": "booths", "zh": "岗亭数"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "NO", "zh": "否"},
    "th_name": {"en": "name", "zh": "名称"},
    "th_kind": {"en": "kind", "zh": "类型"},
    "th_nearest": {"en": "nearest", "zh": "就近"},
    "th_alone": {"en": "alone ≤{t} min", "zh": "独占 ≤{t}分钟"},
    "th_lost": {"en": "lost ≤{m}", "zh": "失去 ≤{m}"},
    "th_gain": {"en": "gain", "zh": "增益"},
    "th_mean": {"en": "+mean s", "zh": "+平均秒"},
    "th_calls": {"en": "calls/day", "zh": "日出警"},
    "th_busy": {"en": "busy", "zh": "忙碌"},
    "th_officers": {"en": "officers/day", "zh": "日警力"},
    "th_flag": {"en": "flag", "zh": "标记"},
    "booth": {"en": "booth", "zh": "岗亭"},
    "station": {"en": "station", "zh": "派出所"},
    "low_value": {"en": "low value", "zh": "低价值"},
    "not_all_within": {"en": "not every sector within", "zh": "并非所有巡区都在"},
}

# solver statuses (xunfang.plan.siting); unknown ones are shown as they are
_STATUS_ZH = {
    "optimal": "最优",
    "optimal_reduced": "缩减模型最优",
    "within_gap": "在差距容限内（未证最优）",
    "time_limit": "达到时间上限",
    "iteration_limit": "达到迭代上限",
    "solution_limit": "达到解数上限",
    "interrupted": "已中断",
    "memory_limit": "达到内存上限",
    "infeasible": "不可行",
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def status_text(status: str, lang: str = "en") -> str:
    """A solver status (``optimal``, ``time_limit``, ...) in ``lang`` (``en``: the code)."""
    return _STATUS_ZH.get(status, status) if lang == "zh" else status


def curve_figure(plan: BoothPlan, lang: str = "en") -> go.Figure | None:
    """Shares within 1/3/5 minutes against the number of booths, with the requested K and the
    target answer marked."""
    d = plan.decisions
    if d is None or d.curve is None:
        return None
    frame = d.curve.frame()
    fig = go.Figure()
    for col, colour in (
        ("within_1min", "#d62728"),
        ("within_3min", "#1f77b4"),
        ("within_5min", "#2ca02c"),
    ):
        if col in frame:
            fig.add_trace(
                go.Scatter(
                    x=frame["booths"],
                    y=100 * frame[col],
                    mode="lines+markers",
                    name=col.replace("within_", "≤ ").replace("min", " min"),
                    line={"color": colour},
                    marker={"size": 4},
                    customdata=frame["status"],
                    hovertemplate="%{x} booths: %{y:.1f}% (%{customdata})<extra></extra>",
                )
            )
    k = plan.config.booths
    fig.add_vline(x=k, line={"dash": "dash", "color": "#444"})
    fig.add_annotation(x=k, y=5, text=f"{_t('requested', lang)}: {k}", showarrow=False, xshift=40)
    if d.target is not None and d.target.booths is not None:
        kt = d.target.booths
        fig.add_vline(x=kt, line={"dash": "dot", "color": "#b30000"})
        label = " + ".join(t.label for t in d.target.targets)
        fig.add_annotation(x=kt, y=15, text=f"{label}: {kt}", showarrow=False, xshift=50)
    fig.update_layout(
        height=380,
        margin={"t": 10},
        xaxis={"title": _t("booths_axis", lang)},
        yaxis={"title": "%", "range": [0, 101]},
        legend={"orientation": "h", "y": 1.08},
    )
    return fig


def sectors_figure(plan: BoothPlan, lang: str = "en") -> go.Figure | None:
    """Sector polygons in distinct colours with their booths and workloads."""
    d = plan.decisions
    if d is None or d.sector_frame is None:
        return None
    frame = d.sector_frame
    fig = go.Figure()
    for i, row in enumerate(frame.itertuples()):
        fig.add_trace(
            sector_trace(
                row.geometry,
                SECTOR_COLOURS[i % len(SECTOR_COLOURS)],
                name=f"{row.name}: {row.workload:.0f}",
                hover=f"{row.name}: {row.workload:.0f} incidents "
                f"(nearest-booth start {row.workload_start:.0f})",
            )
        )
    s = plan.sites
    b = plan.area.polygon_wgs84.bounds
    fig.add_trace(
        go.Scatter(
            x=s.geometry.x,
            y=s.geometry.y,
            mode="markers+text",
            text=s["name"],
            textfont={"size": 9},
            textposition=label_positions(
                s.geometry.x.to_numpy(), s.geometry.y.to_numpy(), gap=(b[3] - b[1]) / 60
            ),
            marker={"size": 7, "color": "#111", "symbol": "diamond"},
            showlegend=False,
            hoverinfo="text",
        )
    )
    fig.add_trace(boundary_trace(plan.area.polygon_wgs84, plan.area.name))
    bounds = plan.area.polygon_wgs84.bounds
    lat0 = (bounds[1] + bounds[3]) / 2
    fig.update_layout(
        height=figure_height(bounds, width_px=900),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={
            "visible": False,
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
        },
        plot_bgcolor="white",
        legend={"font": {"size": 9}},
    )
    return fig


def workload_figure(plan: BoothPlan, lang: str = "en") -> go.Figure | None:
    """Workload per sector: nearest-booth start and balanced."""
    d = plan.decisions
    if d is None or d.sector_frame is None:
        return None
    f = d.sector_frame.sort_values("workload_start", ascending=False)
    fig = go.Figure(
        [
            go.Bar(x=f["name"], y=f["workload_start"], name=_t("before", lang)),
            go.Bar(x=f["name"], y=f["workload"], name=_t("after", lang)),
        ]
    )
    assert d.sectors is not None
    fig.add_hline(y=d.sectors.mean_workload, line={"dash": "dash", "color": "#444"})
    fig.update_layout(
        barmode="group", height=320, margin={"t": 10}, yaxis={"title": _t("workload", lang)}
    )
    return fig


def curve_column(column: str, lang: str = "en") -> str:
    """A column head of ``tradeoff.csv`` in ``lang`` (the CSV's own name in English)."""
    m = re.fullmatch(r"within_(\d+)min", column)
    if m:
        return _t("col_within", lang, m=m.group(1))
    key = f"col_{column}"
    return _t(key, lang) if key in _TEXT else column


def decisions_context(plan: BoothPlan, lang: str = "en") -> dict[str, Any] | None:
    """What the template's decisions section shows (None when the plan has no decisions)."""
    d = plan.decisions
    if d is None:
        return None
    figs = {
        name: fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for name, fig in (
            ("curve", curve_figure(plan, lang)),
            ("sectors", sectors_figure(plan, lang)),
            ("workload", workload_figure(plan, lang)),
        )
        if fig is not None
    }
    threshold = plan.config.threshold_min
    return {
        "T": lambda key, **kw: _t(key, lang, **kw),
        "column": lambda column: curve_column(column, lang),
        "status": lambda status: status_text(status, lang),
        "d": d,
        "summary": d.summary_zh if lang == "zh" and d.summary_zh else d.summary,
        "figs": figs,
        "curve": d.curve.frame() if d.curve is not None else None,
        "target": d.target.to_dict(d.target_sites) if d.target is not None else None,
        "target_rows": [
            f"{n} ({lon:.5f}, {lat:.5f})"
            for n, (lon, lat) in zip(d.target_sites, d.target_lonlat, strict=False)
        ],
        "values": d.value_table,
        "threshold": threshold,
        "low": f"{100 * d.config.low_value_share:.1f}%",
        "n_low": int(d.value_table["low_value"].sum()),
        "sectors": d.sectors,
        "values_notes": "".join(
            note_text(n, lang) + ("。" if lang == "zh" else ". ") for n in d.values.notes
        ),
    }


def decision_summary(plan: BoothPlan) -> dict[str, Any]:
    """Entries of ``plan_summary.json``: ``target``, ``tradeoff``, ``booth_values``,
    ``sectors``, ``queueing`` and the one-sentence ``decision``."""
    d: PlanDecisions | None = plan.decisions
    if d is None:
        return {}
    out: dict[str, Any] = {"decision": d.summary, "objective": d.config.objective}
    if d.target is not None:
        out["target"] = d.target.to_dict(d.target_sites)
        out["target"]["sites_lonlat"] = [list(p) for p in d.target_lonlat]
    if d.curve is not None:
        c = d.curve
        out["tradeoff"] = {
            "file": "tradeoff.csv",
            "booths": [c.points[0].booths, c.points[-1].booths],
            "warm": c.warm,
            "solve_time_s": round(c.solve_time_s, 2),
            "time_budget_s": d.config.curve_time_s,
            "optimal_points": sum(p.status == "optimal" for p in c.points),
            "largest_gap": max((p.gap for p in c.points), default=0.0),
            "coverable_share": {
                f"{t / 60:g}min": round(v, 4) for t, v in c.coverable_share.items()
            },
        }
    v = d.value_table
    out["booth_values"] = {
        "file": "booth_values.csv",
        "low_value_booths": v.loc[v["low_value"], "name"].tolist(),
        "low_value_share": d.config.low_value_share,
        "officers_per_booth_per_day": d.officers_per_day,
        "officers_per_day_total": float(v["officers_per_day"].sum()),
        "staff_source": d.staff_source,
        "days": d.days,
    }
    q = d.values.queue
    out["queueing"] = {
        "model": "hypercube approximation (Larson 1975; Jarvis 1985)",
        "nearest_busy_share": d.values.nearest_busy_share,
        "expected_share_within_threshold": d.values.expected_share_within_t,
        "utilisation": q.utilisation if q is not None else None,
        "converged": q.converged if q is not None else None,
        "service_min": d.config.service_min,
    }
    if d.sectors is not None:
        s = d.sectors
        out["sectors"] = {
            "file": "sectors.geojson",
            "mean_workload": round(s.mean_workload, 2),
            "lower_bound_of_largest": round(s.lower_bound, 2),
            "largest": {
                "balanced": float(s.workload.max()),
                "start": float(s.workload_start.max()),
            },
            "max_deviation": {"balanced": s.max_deviation[0], "start": s.max_deviation[1]},
            "tolerance": s.tolerance,
            "within_tolerance": s.within_tolerance,
            "mean_travel_s": {"balanced": s.mean_travel_s[0], "start": s.mean_travel_s[1]},
        }
    return out


def write_decision_files(
    plan: BoothPlan, put: Callable[[str, str], None], *, output_frame: str = "wgs84"
) -> None:
    """``tradeoff.csv``, ``booth_values.csv`` and ``sectors.geojson`` through ``put(name,
    text)``; the sectors in ``output_frame`` (see
    :func:`xunfang.ingest.city.to_output_frame`)."""
    d = plan.decisions
    if d is None:
        return
    if d.curve is not None:
        put("tradeoff.csv", d.curve.frame().to_csv(index=False))
    v = d.value_table.drop(columns=["site"]).copy()
    v["busy_probability"] = v["busy_probability"].round(5)
    v["marginal_gain"] = v["marginal_gain"].round(6)
    put("booth_values.csv", pd.DataFrame(v).to_csv(index=False))
    if d.sector_frame is not None:
        sectors = to_output_frame(d.sector_frame, output_frame)
        put("sectors.geojson", sectors.to_json(drop_id=True))


def terminal_lines(plan: BoothPlan, lang: str = "en") -> list[str]:
    """Lines the ``plan`` command prints about the decisions (the decision in ``lang``)."""
    d = plan.decisions
    if d is None:
        return []
    summary = d.summary_zh if lang == "zh" and d.summary_zh else d.summary
    lines = [f"[bold]{escape(summary)}[/]"] if summary else []
    if d.curve is not None:
        c = d.curve
        n_opt = sum(p.status == "optimal" for p in c.points)
        lines.append(
            _t(
                "curve_line",
                lang,
                k0=c.points[0].booths,
                k1=c.points[-1].booths,
                n_opt=n_opt,
                n=len(c.points),
                gap=100 * max((p.gap for p in c.points), default=0),
                s=c.solve_time_s,
            )
        )
    if d.target is not None:
        t = d.target
        lines.append(
            _t(
                "target_line",
                lang,
                targets=" + ".join(x.label for x in t.targets),
                booths=t.booths,
                status=status_text(t.status, lang),
                shares=", ".join(f"{100 * s:.1f}%" for s in t.shares),
            )
        )
    v = d.value_table
    low = v.loc[v["low_value"], "name"].tolist()
    lines.append(
        _t(
            "low_line",
            lang,
            low=f"{100 * d.config.low_value_share:.1f}%",
            names=", ".join(low) if low else _t("none", lang),
        )
    )
    if not math.isnan(d.values.nearest_busy_share):
        lines.append(
            _t(
                "hypercube_line",
                lang,
                busy=100 * d.values.nearest_busy_share,
                t=plan.config.threshold_min,
                share=100 * d.values.expected_share_within_t,
            )
        )
    if d.sectors is not None:
        s = d.sectors
        lines.append(
            _t(
                "sectors_line",
                lang,
                max=s.workload.max(),
                start=s.workload_start.max(),
                lb=s.lower_bound,
                mean=s.mean_workload,
            )
        )
    return lines


__all__ = [
    "DECISION_FILES",
    "curve_figure",
    "decision_summary",
    "decisions_context",
    "sectors_figure",
    "status_text",
    "terminal_lines",
    "write_decision_files",
]
