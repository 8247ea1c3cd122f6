"""Write a simulation comparison to an output folder: a self-contained HTML report with
charts, JSON and CSV tables.

Files::

    report.html                 the report (plotly.js embedded once: opens offline)
    summary.json                every figure per scenario: mean, 95 % half-width, n
    comparison.csv              the comparison table (metric x scenario, mean and CI)
    calls_<scenario>.csv.gz     per call, every replication (column ``replication``)
    units_<scenario>.csv        per unit, every replication
    workload_by_district.csv    when the calls span several districts
    event_log.csv               with ``--event-log``: the first replication's events
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from xunfang import __version__, strict_json
from xunfang.errors import ValidationError
from xunfang.ingest.messages import reason_text
from xunfang.ingest.road_network import FAR_FROM_ROAD_M
from xunfang.outputs import temporary_path
from xunfang.serve._common import OSM_ATTRIBUTION, write_atomic
from xunfang.simulate.calls import CallReport
from xunfang.simulate.metrics import RINGS_MIN, Estimate, workload_by_district
from xunfang.simulate.runner import VARIANT_LABELS, Comparison

COLOURS = {"stations": "#6b6b6b", "booths": "#2171b5", "deployment": "#d94801"}

# (key, label, scale, digits, unit)
ROWS: list[tuple[str, str, float, int, str]] = [
    ("units", "units", 1.0, 0, ""),
    ("unit_hours", "unit-hours on duty", 1.0, 0, ""),
    ("calls", "calls", 1.0, 0, ""),
    ("unserved", "calls not served", 1.0, 0, ""),
    ("response_median_min", "response time, median (min)", 1.0, 2, ""),
    ("response_p90_min", "response time, 90th percentile (min)", 1.0, 2, ""),
    *[
        row
        for k in range(1, 6)
        for row in (
            (f"p{k}_response_median_min", f"priority {k}: median (min)", 1.0, 2, ""),
            (f"p{k}_response_p90_min", f"priority {k}: 90th percentile (min)", 1.0, 2, ""),
        )
    ],
    *[
        (f"share_response_within_{m}min", f"on scene within {m} min of the call", 100.0, 1, "%")
        for m in RINGS_MIN
    ],
    *[(f"share_travel_within_{m}min", f"travel within {m} min", 100.0, 1, "%") for m in RINGS_MIN],
    ("mean_call_processing_s", "mean call processing (s)", 1.0, 1, ""),
    ("mean_queue_s", "mean queueing delay (s)", 1.0, 1, ""),
    ("queue_p90_s", "queueing delay, 90th percentile (s)", 1.0, 1, ""),
    ("share_queued", "calls that waited for a unit", 100.0, 2, "%"),
    ("mean_dispatch_delay_s", "mean dispatch delay (s)", 1.0, 1, ""),
    ("mean_travel_s", "mean travel (s)", 1.0, 1, ""),
    ("mean_on_scene_min", "mean on-scene time (min)", 1.0, 1, ""),
    ("utilisation", "unit utilisation (busy / on duty)", 100.0, 1, "%"),
    ("utilisation_station_car", "  station cars", 100.0, 1, "%"),
    ("utilisation_patrol", "  patrols", 100.0, 1, "%"),
    ("utilisation_booth", "  booth officers", 100.0, 1, "%"),
    ("utilisation_response_team", "  response team", 100.0, 1, "%"),
    ("preempted", "calls preempted (unit diverted)", 1.0, 1, ""),
]


LANGS = ("en", "zh")

_ROWS_ZH: dict[str, str] = {
    "units": "警力单元",
    "unit_hours": "在岗单元·小时",
    "calls": "警情数",
    "unserved": "未处置警情",
    "response_median_min": "响应时间中位数（分钟）",
    "response_p90_min": "响应时间90百分位（分钟）",
    **{
        key: text
        for k in range(1, 6)
        for key, text in (
            (f"p{k}_response_median_min", f"{k}级警情：中位数（分钟）"),
            (f"p{k}_response_p90_min", f"{k}级警情：90百分位（分钟）"),
        )
    },
    **{f"share_response_within_{m}min": f"报警后{m}分钟内到场" for m in RINGS_MIN},
    **{f"share_travel_within_{m}min": f"行驶{m}分钟内" for m in RINGS_MIN},
    "mean_call_processing_s": "平均接警处理（秒）",
    "mean_queue_s": "平均排队等待（秒）",
    "queue_p90_s": "排队等待90百分位（秒）",
    "share_queued": "需等待警力的警情",
    "mean_dispatch_delay_s": "平均派警延迟（秒）",
    "mean_travel_s": "平均行驶时间（秒）",
    "mean_on_scene_min": "平均现场处置时间（分钟）",
    "utilisation": "警力利用率（忙碌/在岗）",
    "utilisation_station_car": "  派出所警车",
    "utilisation_patrol": "  巡逻车",
    "utilisation_booth": "  岗亭警力",
    "utilisation_response_team": "  快反队",
    "preempted": "被抢占的警情（警力改派）",
}
"""Chinese labels of :data:`ROWS`, by key."""

VARIANT_LABELS_ZH = {
    "stations": "仅派出所",
    "booths": "派出所 + 岗亭",
    "deployment": "派出所 + 岗亭 + 勤务部署",
}
"""Chinese names of the compared scenarios (:data:`VARIANT_LABELS`)."""

_UNIT_KINDS = {
    "station_car": {"en": "station car", "zh": "派出所警车"},
    "patrol": {"en": "patrol", "zh": "巡逻车"},
    "booth": {"en": "booth", "zh": "岗亭"},
    "response_team": {"en": "response team", "zh": "快反队"},
}

_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Simulation", "zh": "仿真"},
    "head": {
        "en": "Study area {area} · held-out month {month} · {reps} replication(s), seed {seed} "
        "· road network {nodes} nodes · booths: {plan} · scenario file {file}",
        "zh": "研究区域 {area} · 留出月份 {month} · {reps} 次重复，随机种子 {seed} "
        "· 路网 {nodes} 个节点 · 岗亭：{plan} · 情景文件 {file}",
    },
    "summary": {"en": "Summary", "zh": "概要"},
    "calls_card": {
        "en": "calls per replication ({source})",
        "zh": "每次重复的警情数（{source}）",
    },
    "replay": {"en": "replay", "zh": "历史回放"},
    "sample": {"en": "sample", "zh": "抽样"},
    "median_card": {
        "en": "median response, {v} ({n} units)",
        "zh": "响应时间中位数，{v}（{n}个单元）",
    },
    "min": {"en": "min", "zh": "分钟"},
    "comparison": {"en": "Scenario comparison (same calls)", "zh": "情景对比（相同警情）"},
    "figure": {"en": "figure", "zh": "指标"},
    "comparison_help": {
        "en": "Response time = call processing + queueing + dispatch delay + travel (received "
        'to on scene). "Within m min" counts calls with a unit on scene within m minutes of the '
        'call (unserved calls count as not reached); "travel within" counts the drive alone. '
        "± = 95 % confidence half-width over replications.",
        "zh": "响应时间 = 接警处理 + 排队等待 + 派警延迟 + 行驶（从接警到到场）。"
        "“m分钟内到场”统计报警后m分钟内有警力到场的警情（未处置的警情计为未到达）；"
        "“行驶m分钟内”只计行驶时间。± 为各次重复间95 %置信区间的半宽。",
    },
    "calls": {"en": "Calls", "zh": "警情"},
    "by_priority": {
        "en": "Calls by priority (first replication)",
        "zh": "按等级的警情数（第一次重复）",
    },
    "training": {
        "en": "Training incidents (patrol routes{fitted}): {n} from {months}.",
        "zh": "训练警情（巡逻路线{fitted}）：{n} 起，来自 {months}。",
    },
    "fitted": {"en": ", fitted rate", "zh": "、拟合发生率"},
    "no_month": {"en": "no month", "zh": "无月份"},
    "outside": {
        "en": "Incidents outside the study area (not simulated): {n}; rejected by the ingest: "
        "{rejected}.",
        "zh": "研究区域外的警情（未仿真）：{n} 起；导入时剔除：{rejected}。",
    },
    "workload": {
        "en": "Validation: simulated workload per district against incident counts",
        "zh": "验证：各辖区仿真工作量与警情数",
    },
    "workload_help": {
        "en": "Busy hours are the unit time spent on each district's calls (dispatch to clear), "
        'mean per replication; "own units" are the hours worked by the cars of the district\'s '
        "station, wherever they were sent. Pearson correlation of busy hours with incidents: "
        "{corr}{own}. The first is close to 1 largely by construction (each call costs its "
        "modelled on-scene time plus travel): it checks the bookkeeping, and the spread of "
        '"busy min / incident" shows where travel is long. The second shows how the '
        "closest-unit rule spreads the load over the stations, across district lines.",
        "zh": "忙碌时长是警力处置各辖区警情的时间（派警到结束），取各次重复的平均；“本辖区警力”"
        "是该辖区派出所警车的工作时长，无论被派往何处。忙碌时长与警情数的皮尔逊相关系数：{corr}"
        "{own}。前者接近1主要是构造使然（每起警情耗费建模的现场时间加行驶时间）：它检验的是记账，"
        "“每起警情忙碌分钟”的差异显示哪里行驶较远。后者显示最近警力规则如何跨辖区分摊负荷。",
    },
    "workload_own": {
        "en": "; of the district's own units' busy hours with its incidents: {corr}",
        "zh": "；本辖区警力忙碌时长与本辖区警情数：{corr}",
    },
    "district": {"en": "district", "zh": "辖区"},
    "no_workload": {
        "en": "No chart of busy hours against incidents: only {n} districts, too few points "
        "for the comparison to say anything (at least {k}); the table above has the figures.",
        "zh": "无忙碌时长与警情数的对比图：只有 {n} 个辖区，点数太少，无法说明问题（至少 {k} 个）；"
        "数字见上表。",
    },
    "fig_workload": {
        "en": "Simulated busy hours against incidents per district (Pearson r = {r})",
        "zh": "各辖区仿真忙碌时长与警情数（皮尔逊 r = {r}）",
    },
    "workload_x": {"en": "incidents (calls) in the month", "zh": "当月警情数"},
    "workload_y": {
        "en": "unit busy hours on the district's calls",
        "zh": "处置该辖区警情的警力忙碌时长（小时）",
    },
    "share": {"en": "share", "zh": "占比"},
    "busy_hours": {"en": "busy hours", "zh": "忙碌时长（小时）"},
    "busy_per_incident": {"en": "busy min / incident", "zh": "每起警情忙碌分钟"},
    "own_busy": {"en": "own units' busy hours", "zh": "本辖区警力忙碌时长（小时）"},
    "notes": {"en": "Notes, sources and limits", "zh": "说明、来源与局限"},
    "run_time": {"en": "Run time", "zh": "运行时间"},
    "step": {"en": "step", "zh": "步骤"},
    "seconds": {"en": "seconds", "zh": "秒"},
    "sim_step": {
        "en": "simulation: {v} ({calls} calls, {rate} calls/s)",
        "zh": "仿真：{v}（{calls} 起警情，每秒 {rate} 起）",
    },
    "study area": {"en": "study area", "zh": "研究区域"},
    "network": {"en": "road network", "zh": "路网"},
    "booth plan": {"en": "booth plan", "zh": "岗亭方案"},
    "incidents": {"en": "incidents", "zh": "警情"},
    "units": {"en": "units", "zh": "警力单元"},
    # charts
    "fig_response": {
        "en": "Response time by priority (call to on scene)",
        "zh": "各等级警情的响应时间（接警到到场）",
    },
    "minutes": {"en": "minutes", "zh": "分钟"},
    "fig_rings": {
        "en": "Share of calls with a unit on scene within 1, 3 and 5 minutes",
        "zh": "1、3、5分钟内有警力到场的警情占比",
    },
    "ring": {"en": "≤ {m} min", "zh": "≤ {m} 分钟"},
    "fig_utilisation": {
        "en": "Unit utilisation (busy time / on-duty time)",
        "zh": "警力利用率（忙碌时间/在岗时间）",
    },
    "call processing": {"en": "call processing", "zh": "接警处理"},
    "queueing": {"en": "queueing", "zh": "排队等待"},
    "dispatch delay": {"en": "dispatch delay", "zh": "派警延迟"},
    "travel": {"en": "travel", "zh": "行驶"},
    "fig_components": {"en": "Mean response time by component", "zh": "平均响应时间构成"},
    "fig_queue": {
        "en": "Mean queueing delay by hour of day of the call",
        "zh": "按报警时刻（小时）的平均排队等待",
    },
    "local_hour": {"en": "local hour", "zh": "当地时间（小时）"},
    "no_queue": {
        "en": "No chart of queueing delay by hour: no call waited for a unit in any scenario "
        "(the delay is zero at every hour).",
        "zh": "无排队等待图：所有情景中没有警情需要等待警力（每个小时的等待均为零）。",
    },
}
"""The report's words in English and Chinese (``--lang``)."""


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValidationError(f"--lang must be one of {LANGS}, got {lang!r}")


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def variant_label(variant: str, lang: str = "en") -> str:
    """The name of a compared scenario (``stations``, ``booths``, ``deployment``) in
    ``lang``."""
    table = VARIANT_LABELS_ZH if lang == "zh" else VARIANT_LABELS
    return table.get(variant, variant)


def comparison_table(cmp: Comparison, lang: str = "en") -> pd.DataFrame:
    """One row per figure, per scenario a mean and a 95 % half-width column; ``label`` in
    ``lang`` (``en`` or ``zh``), ``metric`` the same key in every language."""
    _check_lang(lang)
    rows = []
    for key, label, scale, digits, unit in ROWS:
        if not any(
            key in r.estimates and math.isfinite(r.estimates[key].mean)
            for r in cmp.results.values()
        ):
            continue
        text = _ROWS_ZH.get(key, label) if lang == "zh" else label
        row: dict[str, Any] = {"metric": key, "label": text.strip()}
        for v, res in cmp.results.items():
            e = res.estimates.get(key, Estimate(math.nan, math.nan, 0))
            row[f"{v}_mean"] = e.mean * scale if math.isfinite(e.mean) else math.nan
            row[f"{v}_ci95"] = e.half_width * scale if math.isfinite(e.half_width) else math.nan
            row[f"{v}_text"] = e.text(digits, scale, unit)
        rows.append(row)
    return pd.DataFrame(rows)


def _html(fig: go.Figure) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def _layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        height=420,
        legend={"orientation": "h", "y": -0.18},
        **kw,
    )
    return fig


def figures(cmp: Comparison, lang: str = "en") -> dict[str, str]:
    """The report's charts as HTML fragments, titled in ``lang``."""
    _check_lang(lang)
    figs: dict[str, str] = {}
    # response-time distribution by priority (all replications)
    fig = go.Figure()
    for v in cmp.results:
        calls = cmp.all_calls[v]
        served = calls[calls["served"]]
        fig.add_trace(
            go.Box(
                x=served["priority"].map(lambda p: f"P{p}"),
                y=served["response_s"] / 60.0,
                name=variant_label(v, lang),
                marker_color=COLOURS[v],
                boxpoints=False,
            )
        )
    _layout(
        fig,
        _t("fig_response", lang),
        boxmode="group",
        yaxis_title=_t("minutes", lang),
        xaxis={"categoryorder": "category ascending"},
    )
    figs["response"] = _html(fig)
    # share within 1/3/5 min
    fig = go.Figure()
    for v, res in cmp.results.items():
        est = [res.estimates[f"share_response_within_{m}min"] for m in RINGS_MIN]
        fig.add_trace(
            go.Bar(
                x=[_t("ring", lang, m=m) for m in RINGS_MIN],
                y=[100 * e.mean for e in est],
                error_y={
                    "type": "data",
                    "array": [
                        100 * e.half_width if math.isfinite(e.half_width) else 0 for e in est
                    ],
                },
                name=variant_label(v, lang),
                marker_color=COLOURS[v],
            )
        )
    _layout(fig, _t("fig_rings", lang), yaxis_title="%")
    figs["rings"] = _html(fig)
    # utilisation by unit kind
    fig = go.Figure()
    kinds = ["station_car", "patrol", "booth", "response_team"]
    for v, res in cmp.results.items():
        present = [k for k in kinds if f"utilisation_{k}" in res.estimates]
        fig.add_trace(
            go.Bar(
                x=[_UNIT_KINDS[k][lang] for k in present],
                y=[100 * res.estimates[f"utilisation_{k}"].mean for k in present],
                name=variant_label(v, lang),
                marker_color=COLOURS[v],
            )
        )
    _layout(fig, _t("fig_utilisation", lang), yaxis_title="%", barmode="group")
    figs["utilisation"] = _html(fig)
    # components
    fig = go.Figure()
    parts = [
        ("mean_call_processing_s", "call processing", "#9ecae1"),
        ("mean_queue_s", "queueing", "#fc9272"),
        ("mean_dispatch_delay_s", "dispatch delay", "#a1d99b"),
        ("mean_travel_s", "travel", "#6baed6"),
    ]
    names = [variant_label(v, lang) for v in cmp.results]
    for key, label, colour in parts:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[res.estimates[key].mean for res in cmp.results.values()],
                name=_t(label, lang),
                marker_color=colour,
            )
        )
    _layout(fig, _t("fig_components", lang), yaxis_title=_t("seconds", lang), barmode="stack")
    figs["components"] = _html(fig)
    # queueing by hour of day: dropped when no call waited (an all-zero curve says nothing)
    fig = go.Figure()
    start_h = cmp.prepared.period.start_hour
    waited = any(
        float(np.nan_to_num(cmp.all_calls[v]["queue_s"].to_numpy(), nan=0.0).max(initial=0.0)) > 0
        for v in cmp.results
    )
    if not waited:
        figs["queue"] = f'<p class="muted">{_t("no_queue", lang)}</p>'
        return figs
    for v in cmp.results:
        calls = cmp.all_calls[v]
        hour = ((calls["t_s"] / 3600.0 + start_h) // 1 % 24).astype(int)
        mean = calls.groupby(hour)["queue_s"].mean().reindex(range(24))
        fig.add_trace(
            go.Scatter(
                x=list(range(24)),
                y=mean.to_numpy(),
                mode="lines+markers",
                name=variant_label(v, lang),
                line={"color": COLOURS[v]},
            )
        )
    _layout(
        fig,
        _t("fig_queue", lang),
        xaxis_title=_t("local_hour", lang),
        yaxis_title=_t("seconds", lang),
    )
    figs["queue"] = _html(fig)
    return figs


def workload(cmp: Comparison) -> pd.DataFrame | None:
    """Workload per district (first compared scenario), or None for one district."""
    if not cmp.results:
        return None
    v = next(iter(cmp.results))
    calls = cmp.all_calls[v]
    districts = calls["district"].replace("", np.nan).dropna().unique()
    if len(districts) < 2:
        return None
    units = cmp.all_units[v]
    station_district = {
        uid: g.removeprefix("District ").removesuffix(" station")
        for uid, g in zip(units["unit_id"], units["group"], strict=True)
        if g.startswith("District ")
    }
    table = workload_by_district(calls, units, station_district)
    return table


MIN_WORKLOAD_POINTS = 5
"""Fewer districts than this make no validation chart (a line through three points shows
nothing); the report says so instead."""


def _workload_figure(table: pd.DataFrame, lang: str = "en") -> str:
    if len(table) < MIN_WORKLOAD_POINTS:
        return (
            f'<p class="muted">{_t("no_workload", lang, n=len(table), k=MIN_WORKLOAD_POINTS)}</p>'
        )
    fig = go.Figure(
        go.Scatter(
            x=table["incidents"],
            y=table["busy_hours"],
            mode="markers+text",
            text=table["district"],
            textposition="top center",
            marker={"size": 9, "color": "#2171b5"},
            name=_t("district", lang),
        )
    )
    corr = float(np.corrcoef(table["incidents"], table["busy_hours"])[0, 1])
    _layout(
        fig,
        _t("fig_workload", lang, r=f"{corr:.3f}"),
        xaxis_title=_t("workload_x", lang),
        yaxis_title=_t("workload_y", lang),
        showlegend=False,
    )
    return _html(fig)


def summary_dict(cmp: Comparison) -> dict[str, Any]:
    """JSON-ready summary."""
    prep = cmp.prepared
    sc = prep.scenario
    return {
        "xunfang_version": __version__,
        "scenario": sc.scenario.name,
        "source": sc.source,
        "area": prep.area.name,
        "month": prep.period.label,
        "replications": len(cmp.call_reports),
        "seed": sc.scenario.seed,
        "preemption": sc.scenario.preemption,
        "preempt_min": sc.scenario.preempt_min if sc.scenario.preemption else None,
        "plan_source": prep.plan_source,
        "network_nodes": prep.network.n_nodes,
        "call_report": [r.__dict__ for r in cmp.call_reports[:1]],
        "skipped": cmp.skipped,
        "timings_s": {**prep.timings_s, "simulation": cmp.wall_s},
        "scenarios": {
            v: {
                "units": res.n_units,
                "calls_per_s": res.calls_per_s,
                "sim_s": res.sim_s,
                "figures": {
                    k: {"mean": e.mean, "ci95": e.half_width, "n": e.n}
                    for k, e in res.estimates.items()
                },
            }
            for v, res in cmp.results.items()
        },
    }


def _one_way(matrix: Any) -> bool:
    """Whether a travel-time graph has a directed edge without its reverse (one-way
    streets)."""
    m = matrix.tocsr()
    pattern = (m != 0).astype(np.int8)
    return bool((pattern != pattern.T).nnz)


def notes(cmp: Comparison, lang: str = "en") -> list[str]:
    """Modelling notes and sources, for the report, in ``lang``."""
    _check_lang(lang)
    prep = cmp.prepared
    t = prep.table
    one_way = _one_way(prep.network.matrix)
    preemption = prep.scenario.scenario.preemption
    if lang == "zh":
        out = [
            "警情按报警记录回放：在记录时间于距记录位置最近的路网节点接警（犯罪记录没有接警、"
            "派警和到场时间，位置常常只到街区）。警情等级、接警处理、派警延迟和现场处置时间"
            f"按仿真参数表（{t.source}）建模；表中注释给出来源（NFPA 1221 接警处理目标、"
            "NFPA 1710 出动目标），并标明哪些是假设（按类型的等级、现场处置时间、交通系数）。",
            "犯罪记录只是警察出警的一部分；这里的利用率只是这些警情的负荷。",
            "按道路通行时间派最近的警力（与在线服务共用的派警核心）；警情按等级、再按时间排队；"
            + (
                f"允许抢占：1级警情无空闲警力时，改派正赶往{prep.scenario.scenario.preempt_min}"
                "级及以上警情的警力。"
                if preemption
                else "不抢占。"
            ),
            "每次处警后警力返回岗位（或巡逻路线），途中可被派警，从现场节点出发。岗亭警力只接"
            "其范围内（最长通行时间）的警情；快反队只接其等级的警情。",
            "通行时间取自道路网（OpenStreetMap），有限速标注处用标注限速，其余按道路等级速度；"
            + (
                "单行道按路网方向通行。"
                if one_way
                else "路网没有单行方向，每条路按双向计（可能偏乐观）。"
            )
            + f"车辆通行时间乘以按小时的交通系数；步行警力乘以{t.foot_factor:g}。",
            "各次重复使用独立随机种子；同一次重复中，所有对比情景使用相同的警情和随机数"
            "（公共随机数）。± 为各次重复间95 %置信区间（Student-t）的半宽。",
            f"道路数据 {OSM_ATTRIBUTION}。",
        ]
        for v, why in cmp.skipped.items():
            out.append(f"情景“{variant_label(v, lang)}”未运行：{why}。")
        return out
    out = [
        "The incidents are replayed as calls: a call is received at the incident's recorded "
        "time, at the road node nearest its recorded position (crime reports carry no call, "
        "dispatch or arrival times, and often only block-level positions). "
        "Priority, call processing, dispatch delay and on-scene time are modelled "
        f"from the simulation table ({t.source}); its comments give the sources (NFPA 1221 "
        "call-processing targets, NFPA 1710 turnout targets) and mark the values that are "
        "assumptions (priorities by type, on-scene times, traffic factors).",
        "Crime reports are only part of what police are called to; utilisation here is the "
        "load of these incidents alone.",
        "Closest unit by road travel time (the dispatch core shared with the live service); "
        "calls wait in a queue by priority then time; "
        + (
            f"preemption on: a priority-1 call with no free unit diverts a unit travelling to a "
            f"call of priority {prep.scenario.scenario.preempt_min} or above."
            if preemption
            else "no preemption."
        ),
        "Units return to their post (or patrol route) after each call and can be dispatched "
        "on the way, from the scene's node. Booth officers only take calls within their "
        "area (max travel time); the response team only calls of its priority.",
        "Travel times come from the road network (OpenStreetMap) at the posted maxspeed where "
        "there is one and class speeds elsewhere; "
        + (
            "one-way streets are driven in their direction. "
            if one_way
            else "the network has no one-way data, so every street is two-way (travel times "
            "can be optimistic). "
        )
        + "Vehicle travel times are multiplied by the hour-of-day factor; officers on foot by "
        f"{t.foot_factor:g}.",
        "Replications use independent seeds; every compared scenario sees the same calls and "
        "random draws in a replication (common random numbers). ± is the 95 % Student-t "
        "half-width over replications.",
        f"Road data {OSM_ATTRIBUTION}.",
    ]
    for v, why in cmp.skipped.items():
        out.append(f"Scenario '{VARIANT_LABELS.get(v, v)}' skipped: {why}.")
    return out


_PLAN_SOURCES_ZH = (
    (
        re.compile(
            r"^MCLP plan made here: (\d+) booths, ([\d.]+) min threshold, incidents before (.+)$"
        ),
        "本次生成的MCLP方案：{0}个岗亭，覆盖标准{1}分钟，使用{2}之前的警情",
    ),
    (
        re.compile(
            r"^sites of (.+?) \(NOT held out: the plan was made from incidents of (\S+) to (\S+), "
            r"which include the replayed (\S+);.*\)$"
        ),
        "{0} 中的站点（不是留出检验：方案所用警情为 {1} 至 {2}，包含回放的 {3}；"
        "为公平检验，请用之前月份的警情制定方案，如 `xunfang plan --incidents`）",
    ),
    (re.compile(r"^sites of (.+)$"), "{0} 中的站点"),
    (
        re.compile(r"^no booth plan \(give \[plan\] sites_csv or booths\)$"),
        "无岗亭方案（请在 [plan] 中给出 sites_csv 或 booths）",
    ),
)


_PROGRESS_ZH = {
    "prepare": "准备",
    "prepared": "已准备",
    "simulate": "仿真",
    "study area": "研究区域",
    "booth plan (MCLP)": "岗亭方案（MCLP）",
    "road network": "路网",
    "incidents": "警情",
    "units": "警力单元",
}
_REPLICATION = re.compile(r"^replication (\d+)/(\d+): (.+)$")


def progress_text(message: str, lang: str = "en") -> str:
    """A progress message of :func:`xunfang.simulate.runner.prepare` or
    :func:`~xunfang.simulate.runner.run_prepared` in ``lang``."""
    if lang != "zh":
        return message
    m = _REPLICATION.match(message)
    if m:
        label = {v: k for k, v in VARIANT_LABELS.items()}.get(m.group(3))
        name = variant_label(label, lang) if label else m.group(3)
        return f"第 {m.group(1)}/{m.group(2)} 次重复：{name}"
    return _PROGRESS_ZH.get(message, message)


def plan_source_text(source: str, lang: str = "en") -> str:
    """Where the booths came from (:attr:`Prepared.plan_source`) in ``lang``; a sentence of
    another form as it is."""
    if lang != "zh":
        return source
    for pattern, zh in _PLAN_SOURCES_ZH:
        m = pattern.match(source)
        if m:
            return zh.format(*m.groups())
    return source


def call_lines(report: CallReport, lang: str = "en") -> list[str]:
    """:meth:`CallReport.sentences` in ``lang``."""
    _check_lang(lang)
    if lang == "en":
        return report.sentences()
    source = _t(report.source, lang) if report.source in _TEXT else report.source
    out = [f"{report.calls:,} 起警情（{source}，共 {report.incidents:,} 起警情记录）。"]
    if report.spread_midnight or report.spread_day_precision:
        out.append(
            f"{report.spread_midnight:,} 起时间恰为 00:00 的警情和 "
            f"{report.spread_day_precision:,} 起只有日期的警情被随机安排到当天的某个时刻"
            "（有随机种子）。"
        )
    if report.kept_midnight:
        out.append(f"{report.kept_midnight:,} 起午夜时刻的警情按 00:00 回放。")
    if report.far_from_road:
        out.append(
            f"{report.far_from_road:,} 起警情距最近路网节点超过 {FAR_FROM_ROAD_M:g} 米"
            "（保留，在该节点处置）。"
        )
    if np.isfinite(report.training_weeks):
        out.append(f"发生率按 {report.training_weeks:.1f} 周的警情拟合。")
    return out


def write_simulation(cmp: Comparison, out_dir: str | Path, lang: str = "en") -> dict[str, Path]:
    """Write the report (in ``lang``, ``en`` or ``zh``) and tables; returns name -> path of
    every file written. The CSV and JSON files are the same in every language.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    _check_lang(lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table = comparison_table(cmp)
    p = out / "comparison.csv"
    write_atomic(
        p, table.drop(columns=[c for c in table.columns if c.endswith("_text")]).to_csv(index=False)
    )
    written["comparison.csv"] = p
    p = out / "summary.json"
    write_atomic(p, strict_json.dumps(summary_dict(cmp), indent=2, default=_json_default))
    written["summary.json"] = p
    for v in cmp.results:
        p = out / f"calls_{v}.csv.gz"
        with temporary_path(p) as tmp:  # gzip: read by programs, not opened in a spreadsheet
            cmp.all_calls[v].to_csv(tmp, index=False, compression="gzip")
        written[p.name] = p
        p = out / f"units_{v}.csv"
        write_atomic(p, cmp.all_units[v].to_csv(index=False))
        written[p.name] = p
    work = workload(cmp)
    if work is not None:
        p = out / "workload_by_district.csv"
        write_atomic(p, work.to_csv(index=False))
        written[p.name] = p
    first = next(iter(cmp.results.values()), None)
    if first is not None and first.first.log:
        p = out / "event_log.csv"
        frames = [
            pd.DataFrame(list(r.first.log), columns=["t_s", "event", "call", "unit_id"]).assign(
                scenario=v
            )
            for v, r in cmp.results.items()
        ]
        write_atomic(p, pd.concat(frames).to_csv(index=False))
        written[p.name] = p
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    prep = cmp.prepared
    html = env.get_template("sim_report.html").render(
        T=lambda key, **kw: _t(key, lang, **kw),
        lang=lang,
        cmp=cmp,
        prep=prep,
        labels={v: variant_label(v, lang) for v in VARIANT_LABELS},
        colours=COLOURS,
        table=comparison_table(cmp, lang).to_dict("records"),
        variants=list(cmp.results),
        figs=figures(cmp, lang) if cmp.results else {},
        workload=None if work is None else work.to_dict("records"),
        workload_fig=None if work is None else _workload_figure(work, lang),
        workload_corr=None
        if work is None
        else float(np.corrcoef(work["incidents"], work["busy_hours"])[0, 1]),
        workload_own_corr=None
        if work is None or "own_unit_busy_hours" not in work
        else float(np.corrcoef(work["incidents"], work["own_unit_busy_hours"])[0, 1]),
        notes=notes(cmp, lang),
        call_lines=call_lines(cmp.call_reports[0], lang) if cmp.call_reports else [],
        step_name=lambda k: _t(k, lang) if k in _TEXT else k,
        plan_source=plan_source_text(prep.plan_source, lang),
        rejected=(", " if lang == "en" else "，").join(
            f"{reason_text(k, lang)} {n:,}" for k, n in prep.incidents.rejected.items() if n
        )
        or ("none" if lang == "en" else "无"),
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plotlyjs=get_plotlyjs(),
        osm=OSM_ATTRIBUTION,
    )
    p = out / "report.html"
    write_atomic(p, html)
    written["report.html"] = p
    return written


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
