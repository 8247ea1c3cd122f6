"""Write a week's deployment to a folder: report, deployment table, KPIs, routes, schedules.

Files (``out/``):

``report.html``
    Self-contained report (plotly.js embedded once, opens offline): the week's figures, a
    map per block (slider) drawn from the road network with the OpenStreetMap attribution,
    staffing and coverage by block, person-times and hours per day, rule posts, notes.
``deployment.csv``
    Who is where, when: one row per officer and block (see :class:`Deployment`), with
    ``block_label_zh``, ``post_name_zh`` and ``note_zh`` beside ``block_label``,
    ``post_name`` and ``note``: the deployment's own words (``Mon 00:00-02:00``, ``patrol
    line at ...``, ``walks the sector patrol (45 min)``, ...) in Chinese
    (:func:`with_zh_columns`), whatever ``lang``, so that the columns are the same in both.
``blocks.csv``
    One row per block: staffing, risk and the shares of risk covered; ``label_zh`` beside
    ``label``.
``daily.csv``
    Person-times and hours per weekday; ``deploy_summary.json`` the week's totals, the
    options, notes and timings.
``routes.geojson``
    Every route as a LineString along the roads (WGS-84), with its unit, block and figures.
``routes/<unit>/<unit>_<Day-HHMM>.geojson`` and ``.gpx``
    Each route on its own: the road line and the timed stops (GeoJSON), and GPX 1.1
    waypoints, route and track for navigation devices.
``schedules/<unit>.html``
    Printable schedule of each mobile unit: per block, crew, base, stops with arrival and
    departure times and dwell.
``rule_posts.csv``
    The calendar's places inside the area with their network node and snap distance.
``sectors.csv``
    With the plan's patrol sectors: one row per sector, its workload and the booth
    officers' patrols in it (:meth:`xunfang.plan.sector_patrol.SectorPatrols.summary`).
"""

from __future__ import annotations

import math
import os
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
from xunfang.analyse.hotspots import WEEKDAYS_ZH
from xunfang.errors import ValidationError
from xunfang.ingest.coords import to_output_frame as coords_to_frame
from xunfang.ingest.notes import note_text
from xunfang.plan.deployment import Deployment
from xunfang.plan.roster import DAY_NAMES, format_minute_of_week
from xunfang.plan.routes import Route, route_geojson, route_gpx
from xunfang.serve._common import OSM_ATTRIBUTION, osm_annotation, write_atomic
from xunfang.serve.map_helpers import SECTOR_COLOURS, sector_trace

__all__ = [
    "LANGS",
    "OSM_ATTRIBUTION",
    "block_map",
    "deploy_summary",
    "render_deploy_html",
    "render_schedule",
    "with_zh_columns",
    "write_deployment",
]

LANGS = ("en", "zh")
_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Deployment plan", "zh": "动态勤务部署方案"},
    "summary": {"en": "The week", "zh": "本周概况"},
    "blocks": {"en": "time blocks", "zh": "个时段"},
    "person_times": {"en": "person-times (officer shifts)", "zh": "警力人次"},
    "patrol_hours": {"en": "patrol hours (officer-hours)", "zh": "巡逻时长（人·小时）"},
    "vehicle_hours": {"en": "vehicle patrol hours", "zh": "车巡时长（车·小时）"},
    "covered": {"en": "of risk within {t} min of a post", "zh": "风险处于岗位{t}分钟内"},
    "backup": {"en": "within {t} min of two posts", "zh": "处于两个岗位{t}分钟内"},
    "patrol": {"en": "within {t} min of a patrol", "zh": "处于巡逻力量{t}分钟内"},
    "route_share": {"en": "of risk at route stops", "zh": "风险位于巡逻路线停靠点"},
    "map": {"en": "Map by time block", "zh": "分时段部署地图"},
    "map_help": {
        "en": "Move the slider to change the block. Circles: risk in the block (size); "
        "diamonds: booths; squares: rule posts; triangles: foot patrols; stars: vehicle "
        "positions; lines: patrol routes.",
        "zh": "拖动滑块切换时段。圆点：该时段风险（大小）；菱形：岗亭；方块：规则岗位；"
        "三角：步巡；星形：车巡位置；线：巡逻路线。",
    },
    "by_block": {"en": "Staffing and coverage by block", "zh": "各时段警力与覆盖"},
    "staff_chart": {"en": "Officers by post kind", "zh": "按岗位类型的警力"},
    "share_chart": {"en": "Share of the block's risk covered", "zh": "各时段风险覆盖率"},
    "daily": {"en": "Person-times and hours per day", "zh": "每日人次与时长"},
    "rule_posts": {
        "en": "Rule posts (calendar places in the area)",
        "zh": "规则岗位（区域内地点）",
    },
    "units": {"en": "Unit schedules (printable)", "zh": "巡逻组勤务表（可打印）"},
    "sectors": {"en": "Patrol sectors (区块警务)", "zh": "巡区（区块警务）"},
    "sectors_help": {
        "en": "Each booth's officers patrol the hotspots of the booth's own sector (the plan's "
        "sectors.geojson): one officer of the booth walks a loop of at most {m} min per block "
        "on the sector's streets. Plan workload: the plan's incidents in the sector; risk: "
        "the deployment's expected incidents per week; patrols: person-times (loops walked) "
        "in the week.",
        "zh": "各岗亭警力巡逻本岗巡区内的热点（方案的 sectors.geojson）：每个时段由岗亭一名警员"
        "沿巡区内道路步巡一圈，最长 {m} 分钟。方案工作量：巡区内方案警情数；风险：每周预期警情；"
        "巡逻人次：每周步巡圈数。",
    },
    "no_sectors": {
        "en": "The plan folder has no sectors.geojson (an older plan, or made with "
        "--no-sectors): booth officers stay at their booths and hotspots go to the vehicles, "
        "nearest first, as before sectors.",
        "zh": "方案目录中没有 sectors.geojson（旧方案或使用了 --no-sectors）：岗亭警力驻守岗亭，"
        "热点按就近原则分给巡逻车。",
    },
    "changed": {
        "en": "{c} of the {n} hotspots offered to booth patrols lie in another booth's sector "
        "than their nearest booth's (walking): the sector decides.",
        "zh": "分配给岗亭巡逻的 {n} 个热点中，有 {c} 个所在巡区不属于步行最近的岗亭：以巡区为准。",
    },
    "files": {"en": "Files", "zh": "文件"},
    "notes": {"en": "Method, notes and limits", "zh": "方法、说明与局限"},
    "plan_link": {"en": "Booth plan report", "zh": "岗亭布设方案报告"},
    "booth": {"en": "booths", "zh": "岗亭"},
    "rule": {"en": "rule posts", "zh": "规则岗位"},
    "mobile": {"en": "vehicle crews", "zh": "车巡"},
    "foot": {"en": "foot patrols", "zh": "步巡"},
    "relief": {"en": "relief (breaks)", "zh": "替岗（就餐）"},
    "reserve": {"en": "reserve", "zh": "备勤"},
    "risk": {"en": "risk", "zh": "风险"},
    "routes": {"en": "routes", "zh": "巡逻路线"},
    "vehicles": {"en": "vehicle positions", "zh": "车巡位置"},
    "roads": {"en": "roads", "zh": "道路"},
    "block": {"en": "Block", "zh": "时段"},
    "schedule": {"en": "Schedule", "zh": "勤务表"},
    "crew": {"en": "Crew", "zh": "车组"},
    "base": {"en": "Base", "zh": "巡逻起点"},
    "stop": {"en": "Stop", "zh": "停靠点"},
    "arrive": {"en": "Arrive", "zh": "到达"},
    "depart": {"en": "Leave", "zh": "离开"},
    "dwell": {"en": "Stay (min)", "zh": "停留（分钟）"},
    "back": {"en": "Back at base", "zh": "返回起点"},
    "no_stops": {"en": "no stops in this block", "zh": "本时段无停靠点"},
    "who": {"en": "Who is where, when", "zh": "各时段人员岗位"},
    "who_help": {
        "en": "One table per block (click to open); the same in deployment.csv, one row per "
        "officer and block. Breaks are covered by the relief officers.",
        "zh": "每个时段一张表（点击展开）；deployment.csv 中每名警员每个时段一行。"
        "就餐时间由替岗警力顶岗。",
    },
    "kind": {"en": "Post kind", "zh": "岗位类型"},
    "post": {"en": "Post", "zh": "岗位"},
    "unit": {"en": "Unit", "zh": "车组"},
    "officers": {"en": "Officers", "zh": "警员"},
    "breaks": {"en": "Breaks", "zh": "就餐"},
    "window": {"en": "Window", "zh": "时间窗"},
    # column heads of the report's tables (the CSV files keep their English column names)
    "shift": {"en": "shift", "zh": "班次"},
    "officers_col": {"en": "officers", "zh": "警力"},
    "post1": {"en": "≥1 post", "zh": "≥1个岗位"},
    "post2": {"en": "≥2 posts", "zh": "≥2个岗位"},
    "patrol_col": {"en": "patrol", "zh": "巡逻"},
    "routes_col": {"en": "routes", "zh": "路线"},
    "mip": {"en": "MIP", "zh": "求解状态"},
    "sector": {"en": "sector", "zh": "巡区"},
    "sector_kind": {"en": "kind", "zh": "类型"},
    "plan_workload": {"en": "plan workload", "zh": "方案工作量"},
    "risk_week": {"en": "risk / week", "zh": "风险/周"},
    "patrols": {"en": "patrols (person-times)", "zh": "巡逻（人次）"},
    "patrol_hours_col": {"en": "patrol hours", "zh": "巡逻时长（小时）"},
    "stops": {"en": "stops", "zh": "停靠点"},
    "stop_risk": {"en": "risk at stops", "zh": "停靠点风险"},
    "not_nearest": {"en": "hotspots not nearest this booth", "zh": "非最近岗亭的热点"},
    "person_times_col": {"en": "person-times", "zh": "人次"},
    "officer_hours": {"en": "officer-hours", "zh": "警力时长（人·小时）"},
    "vehicle_hours_col": {"en": "vehicle-hours", "zh": "车辆时长（车·小时）"},
    "break_hours": {"en": "breaks", "zh": "就餐（小时）"},
    "week": {"en": "week", "zh": "全周"},
    "place": {"en": "place", "zh": "地点"},
    "group": {"en": "group", "zh": "类别"},
    "snap": {"en": "snap (m)", "zh": "吸附距离（米）"},
    "windows": {"en": "windows", "zh": "时间窗"},
    "blocks_staffed": {"en": "blocks staffed", "zh": "安排警力的时段数"},
    "seed": {"en": "seed", "zh": "随机种子"},
    "block_hours": {"en": "{h} h", "zh": "每时段{h}小时"},
    "driving": {"en": "{m} min driving", "zh": "车程{m}分钟"},
    "per_week": {"en": "{r} / week, {p} patrols", "zh": "每周风险{r}，巡逻{p}人次"},
    "file_deployment": {
        "en": "who is where, when (one row per officer and block)",
        "zh": "各时段人员岗位（每名警员每个时段一行）",
    },
    "file_routes": {"en": "per route", "zh": "每条路线一份"},
    "file_sectors": {
        "en": "workload and booth patrols per sector",
        "zh": "各巡区工作量与岗亭巡逻",
    },
    "relief_note": {"en": "stands in for officers on break", "zh": "为就餐警员顶岗"},
    "sector_walk": {"en": "walks the sector patrol ({m} min)", "zh": "巡区步巡（{m}分钟）"},
    "station": {"en": "station", "zh": "派出所"},
    "optimal": {"en": "optimal", "zh": "最优"},
    "no_choice": {"en": "no_choice", "zh": "无需选择"},
}

_DAYS_ZH = dict(zip(DAY_NAMES, WEEKDAYS_ZH, strict=True))
_SHIFTS_ZH = {
    "day": "白班",
    "early": "早班",
    "morning": "早班",
    "evening": "中班",
    "afternoon": "中班",
    "late": "晚班",
    "night": "夜班",
}
"""Chinese names of the usual English shift names; any other name (a roster written in
Chinese, say) is shown as the roster gives it."""
_OWN_WORDS = {
    "booth": "booth",
    "station": "station",
    "optimal": "optimal",
    "no_choice": "no_choice",
    "stands in for officers on break": "relief_note",
}
"""The deployment's own words in its tables, by their English text -> catalogue key."""
_SECTOR_WALK = re.compile(r"walks the sector patrol \(([\d.]+) min\)")
"""The note of a booth officer on the sector walk (:mod:`xunfang.plan.deployment`)."""


def _safe(text: str) -> str:
    """A file-name-safe form of a unit name (letters, digits, - and _ kept)."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _label(text: str, lang: str) -> str:
    """A label of the deployment's own words (a post kind, a solver status, the relief
    officers' note) in ``lang``; anything else (a user's name for a place) as it is."""
    if lang == "en":
        return text
    key = _OWN_WORDS.get(text)
    if key is not None:
        return _TEXT[key][lang]
    walk = _SECTOR_WALK.fullmatch(text)
    if walk is not None:
        return _t("sector_walk", lang, m=walk.group(1))
    return text


def _day(label: str, lang: str) -> str:
    """A block label (``"Mon 06:00-08:00"``) or weekday (``"Mon"``) with its weekday in
    ``lang`` (``"周一 06:00-08:00"``)."""
    if lang != "zh":
        return label
    head, sep, rest = label.partition(" ")
    return _DAYS_ZH.get(head, head) + sep + rest


def _shift(name: str, lang: str) -> str:
    """A roster shift name in ``lang`` (``day`` -> ``白班``); names not in
    :data:`_SHIFTS_ZH` as the roster gives them."""
    if lang != "zh":
        return name
    return _SHIFTS_ZH.get(name.strip().lower(), name)


_POST_PREFIXES = (("patrol line at ", "车巡线："), ("foot patrol at ", "步巡点："))


def _place(name: str, lang: str) -> str:
    """A post or stop name the deployment made from the streets (``"patrol line at near
    Main St"``, ``"node 123"``) in ``lang`` (``"车巡线：Main St附近"``, ``"节点 123"``);
    names from the plan or calendar (booths, schools) as they are."""
    if lang != "zh":
        return name
    head = ""
    for en, zh in _POST_PREFIXES:
        if name.startswith(en):
            head, name = zh, name.removeprefix(en)
            break
    if name.startswith("near "):
        name = name.removeprefix("near ") + "附近"
    elif name.startswith("node ") and name.removeprefix("node ").isdigit():
        name = "节点 " + name.removeprefix("node ")
    return head + name


def _unit(unit: str, lang: str) -> str:
    """A unit's name in ``lang``: a booth's sector patrol (``"B01 sector"``) reads
    ``"B01 巡区"`` in Chinese; the name itself (files, CSV) is unchanged."""
    if lang == "zh" and unit.endswith(" sector"):
        return unit.removesuffix(" sector") + " 巡区"
    return unit


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValidationError(f"--lang must be one of {LANGS}, got {lang!r}")


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _r(values: np.ndarray) -> np.ndarray:
    """Coordinates rounded to 1e-6 degrees (about 0.1 m); NaN marks a gap between lines."""
    return np.round(np.asarray(values, dtype=np.float64), 6)


def _roads(dep: Deployment, lang: str) -> go.Scattergl:
    e = dep.network.edges
    u = e["u_index"].to_numpy()
    v = e["v_index"].to_numpy()
    lon = np.full((len(u), 3), np.nan)
    lat = np.full((len(u), 3), np.nan)
    lon[:, 0], lon[:, 1] = dep.node_lon[u], dep.node_lon[v]
    lat[:, 0], lat[:, 1] = dep.node_lat[u], dep.node_lat[v]
    return go.Scattergl(
        x=_r(lon.ravel()),
        y=_r(lat.ravel()),
        mode="lines",
        line={"color": "#d0d0d0", "width": 1},
        name=_t("roads", lang),
        hoverinfo="skip",
    )


UNIT_COLOURS = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#17becf",
)
"""Route colours, one per unit (the same unit keeps its colour in every block)."""


def block_map(dep: Deployment, lang: str = "en") -> go.Figure:
    """The per-block map: roads and booths always, and for the block the slider selects its
    risk, rule posts, foot patrols, vehicle positions and each unit's route in its own colour
    with its name (WGS-84 lon/lat, no tiles). Clicking a unit in the legend hides or shows its
    routes (double-click: that unit alone)."""
    _check_lang(lang)
    fig = go.Figure()
    for trace in _sector_traces(dep, lang):
        fig.add_trace(trace)
    fig.add_trace(_roads(dep, lang))
    booths = dep.sites[dep.sites["kind"] == "booth"]
    fig.add_trace(
        go.Scatter(
            x=booths["lon"],
            y=booths["lat"],
            mode="markers",
            name=_t("booth", lang),
            text=booths["name"],
            hovertemplate="%{text}<extra></extra>",
            marker={
                "symbol": "diamond",
                "size": 9,
                "color": "#2171b5",
                "line": {"width": 1, "color": "white"},
            },
        )
    )
    n_fixed = len(fig.data)
    a = dep.assignments
    routes_by_block: dict[int, list[Route]] = {}
    for rt in dep.routes:
        routes_by_block.setdefault(rt.block, []).append(rt)
    units = sorted({rt.unit for rt in dep.routes})
    unit_colour = {u: UNIT_COLOURS[i % len(UNIT_COLOURS)] for i, u in enumerate(units)}
    block_traces: list[list[int]] = []
    for b, risk in zip(dep.blocks, dep.risks, strict=True):
        first = len(fig.data)
        visible = b.index == 0
        w = risk.weight
        keep = w > 0
        top = float(w.max()) if w.size and w.max() > 0 else 1.0
        fig.add_trace(
            go.Scattergl(
                x=_r(dep.node_lon[risk.node[keep]]),
                y=_r(dep.node_lat[risk.node[keep]]),
                mode="markers",
                name=_t("risk", lang),
                visible=visible,
                marker={
                    "size": (3 + 14 * np.sqrt(w[keep] / top)).round(1),
                    "color": "#e6550d",
                    "opacity": 0.45,
                },
                text=[f"{x:.3f}" for x in w[keep]],
                hovertemplate="%{text}<extra></extra>",
            )
        )
        # each unit's route in its own colour, named at its start; the legend entry of a
        # unit (one group across blocks) shows or hides it: the per-unit filter
        for rt in sorted(routes_by_block.get(b.index, []), key=lambda r: r.unit):
            p = np.asarray(rt.path_nodes)
            if p.size == 0:
                continue
            shown = _unit(rt.unit, lang)  # "B01 sector" -> "B01 巡区" in Chinese
            fig.add_trace(
                go.Scatter(
                    x=_r(dep.node_lon[p]),
                    y=_r(dep.node_lat[p]),
                    mode="lines+text",
                    name=shown,
                    legendgroup=rt.unit,
                    showlegend=True,
                    visible=visible,
                    line={"color": unit_colour[rt.unit], "width": 3},
                    text=[shown] + [""] * (p.size - 1),
                    textposition="top right",
                    textfont={"color": unit_colour[rt.unit], "size": 11},
                    hovertemplate=f"{shown}<extra></extra>",
                )
            )
        blk = a[a["block"] == b.index]
        for kind, symbol, colour in (
            ("rule", "square", "#31a354"),
            ("foot", "triangle-up", "#fd8d3c"),
            ("mobile", "star", "#6a51a3"),
        ):
            sub = blk[blk["post_kind"] == kind].drop_duplicates(["post_name", "node", "unit"])
            label = sub["unit"].where(sub["unit"] != "", sub["post_name"])
            fig.add_trace(
                go.Scatter(
                    x=sub["lon"],
                    y=sub["lat"],
                    mode="markers",
                    name=_t("vehicles" if kind == "mobile" else kind, lang),
                    visible=visible,
                    text=[
                        f"{_place(_unit(x, lang), lang)} · {_place(n, lang)}"
                        for x, n in zip(label, sub["post_name"], strict=True)
                    ],
                    hovertemplate="%{text}<extra></extra>",
                    marker={
                        "symbol": symbol,
                        "size": 11,
                        "color": colour,
                        "line": {"width": 1, "color": "white"},
                    },
                )
            )
        block_traces.append(list(range(first, len(fig.data))))
    steps = []
    n_traces = len(fig.data)
    for b, idx in zip(dep.blocks, block_traces, strict=True):
        vis = [True] * n_fixed + [False] * (n_traces - n_fixed)
        for j in idx:
            vis[j] = True
        steps.append({"method": "update", "args": [{"visible": vis}], "label": _day(b.label, lang)})
    lat0 = float(np.mean(dep.node_lat)) if dep.node_lat.size else 0.0
    fig.update_layout(
        height=760,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"visible": False},
        yaxis={
            "visible": False,
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
        },
        plot_bgcolor="white",
        legend={"orientation": "h", "y": 1.04},
        sliders=[
            {
                "active": 0,
                "steps": steps,
                "currentvalue": {"prefix": _t("block", lang) + ": "},
                "pad": {"t": 30},
            }
        ],
        annotations=[osm_annotation()],
    )
    return fig


def _sector_traces(dep: Deployment, lang: str) -> list[go.Scatter]:
    """The plan's sectors, each in its own colour, with the booth's name at the sector's
    centre (WGS-84); none without sectors."""
    if dep.sectors is None:
        return []
    frame = dep.sectors.frame.to_crs("EPSG:4326")
    k = dep.sector_kpis.set_index("sector") if dep.sector_kpis is not None else None
    traces: list[go.Scatter] = []
    label = "巡区" if lang == "zh" else "sector"
    for i, row in enumerate(frame.itertuples()):
        extra = ""
        if k is not None and row.name in k.index:
            r = k.loc[row.name]
            extra = ": " + _t("per_week", lang, r=f"{r['risk_per_week']:.1f}", p=int(r["patrols"]))
        trace = sector_trace(
            row.geometry,
            SECTOR_COLOURS[i % len(SECTOR_COLOURS)],
            name=f"{label} {row.name}",
            hover=f"{label} {row.name}{extra}",
            opacity=0.18,
        )
        # one legend entry shows or hides all sectors and their names
        traces.append(trace.update(legendgroup="sectors", showlegend=i == 0, name=label))
    centre = frame.geometry.representative_point()
    traces.append(
        go.Scatter(
            x=centre.x.round(6),
            y=centre.y.round(6),
            mode="text",
            text=frame["name"],
            textfont={"size": 10, "color": "#333"},
            name=label,
            legendgroup="sectors",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    return traces


def _sector_rows(dep: Deployment) -> list[dict[str, Any]]:
    if dep.sector_kpis is None:
        return []
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in dep.sector_kpis.to_dict("records")
    ]


def _block_charts(dep: Deployment, lang: str) -> dict[str, go.Figure]:
    k = dep.block_kpis
    labels = [_day(x, lang) for x in k["label"]]
    staff = go.Figure()
    counts = dep.assignments.groupby(["block", "post_kind"]).size().unstack(fill_value=0)
    for kind in ("booth", "rule", "mobile", "foot", "relief", "reserve"):
        if kind in counts.columns:
            staff.add_trace(
                go.Bar(x=labels, y=counts[kind].reindex(k["block"]).to_numpy(), name=_t(kind, lang))
            )
    staff.update_layout(
        barmode="stack", height=340, margin={"t": 10}, xaxis={"tickangle": -60, "nticks": 42}
    )
    share = go.Figure()
    t = dep.config.threshold_min
    for col, key in (
        ("covered_share", "covered"),
        ("backup_share", "backup"),
        ("patrol_covered_share", "patrol"),
        ("route_risk_share", "route_share"),
    ):
        share.add_trace(
            go.Scatter(
                x=labels,
                y=(100 * k[col]).round(2),
                mode="lines",
                name=_t(key, lang, t=f"{t:g}"),
            )
        )
    share.update_layout(
        height=340,
        margin={"t": 10},
        yaxis={"title": "%", "range": [0, 101]},
        xaxis={"tickangle": -60, "nticks": 42},
    )
    return {"staff": staff, "share": share}


def deploy_summary(dep: Deployment) -> dict[str, Any]:
    """Machine-readable figures of the deployment (``deploy_summary.json``)."""
    cfg = dep.config
    return {
        "xunfang_version": __version__,
        "area": dep.area_name,
        "blocks": len(dep.blocks),
        "block_hours": cfg.block_hours,
        "threshold_min": cfg.threshold_min,
        "backup_weight": cfg.backup_weight,
        "walk_speed_kph": cfg.walk_speed_kph,
        "seed": cfg.seed,
        "candidates": int(dep.candidates.size),
        "booths": int((dep.sites["kind"] == "booth").sum()),
        "shifts": [
            {
                "name": s.name,
                "start": f"{s.start_min // 60:02d}:{s.start_min % 60:02d}",
                "hours": s.length_min / 60,
                "days": [DAY_NAMES[d] for d in s.days],
                "officers": len(s.officers),
                "vehicles": len(s.vehicles),
                "break_minutes": s.break_min,
            }
            for s in dep.roster.shifts
        ],
        "weekly": {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in dep.weekly.items()
        },
        "routes": len(dep.routes),
        "sectors": (
            {
                "source": dep.sectors.source,
                "sector_patrol_min": cfg.sector_patrol_min,
                "hotspots_offered": dep.hotspots_changed[0] if dep.hotspots_changed else 0,
                "hotspots_not_at_nearest_booth": (
                    dep.hotspots_changed[1] if dep.hotspots_changed else 0
                ),
                "per_sector": _sector_rows(dep),
            }
            if dep.sectors is not None
            else None
        ),
        "longest_route_share_of_block": max(
            (rt.end_s / rt.horizon_s for rt in dep.routes), default=0.0
        ),
        "notes": list(dep.notes),
        "timings_s": {k: round(v, 3) for k, v in dep.timings_s.items()},
        "attribution": OSM_ATTRIBUTION,
    }


def _method_notes(dep: Deployment, lang: str) -> list[str]:
    cfg = dep.config
    crew = dep.roster.crew_per_vehicle
    lo, hi = cfg.dwell_min
    notes = [
        "Each block puts the booths' minimum staff first, then the rule posts of the "
        f"calendar, then vehicle crews ({crew} officers each) and foot patrols. Vehicles "
        "and walkers are placed by a maximal covering model with the booths and rule posts "
        f"fixed and backup coverage worth {cfg.backup_weight:g} of first coverage (Church & "
        "ReVelle 1974; Hogan & ReVelle 1986), solved exactly with HiGHS, on "
        f"{dep.candidates.size} candidate positions; reach is {cfg.threshold_min:g} min by "
        "road (vehicles and booths driving, walkers and rule posts at "
        f"{cfg.walk_speed_kph:g} km/h).",
        f"Routes: OR-Tools routing with optional stops (penalty = risk), {lo:g}-{hi:g} min "
        "stops (Koper 1995), back at base within the block; seeded variation "
        f"(seed {cfg.seed}) among hotspots within {100 * cfg.tie_tolerance:g}% of each "
        "other and among tours of near-equal length.",
        "Risk per block: incidents per week by grid cell and hour of week over the history, "
        "with the calendar's type emphasis (a forecast can replace it).",
        "Meal breaks are staggered inside each shift; relief officers (at the station) "
        "stand in so that every post keeps its staff.",
        "A rule-post officer is assigned for the whole block that holds the window; walking "
        "reach uses the drivable street graph (footpaths are not in it).",
    ]
    if lang == "zh":
        notes = [
            "每个时段先满足岗亭最低警力，再满足规则日历中的岗位（如学校放学），"
            f"其余警力编为车巡组（每车{crew}人）和步巡；车巡与步巡位置由最大覆盖模型"
            f"（岗亭与规则岗位固定，二次覆盖权重{cfg.backup_weight:g}）以HiGHS精确求解，"
            f"覆盖标准为{cfg.threshold_min:g}分钟。",
            f"巡逻路线：OR-Tools路径规划，停靠{lo:g}-{hi:g}分钟（Koper 1995），"
            f"时段内返回起点；随机种子{cfg.seed}使路线在风险相近的热点间变化，不易被预测。",
            "时段风险：按历史每周各网格、各小时的警情数计算，并按日历中的类型权重加权"
            "（可替换为预测）。",
            "就餐时间在班次内错开，由替岗警力（驻派出所）顶岗，各岗位警力不减。",
            "规则岗位警力按包含该时间窗的整个时段安排；步行可达性基于机动车道路网（不含步行道）。",
        ]
    return notes + [note_text(n, lang) for n in (*dep.network.report.notes, *dep.notes)]


def render_deploy_html(dep: Deployment, lang: str = "en", *, plan_report: str | None = None) -> str:
    """The report as one HTML string (plotly.js embedded once).

    Parameters
    ----------
    dep
        The deployment.
    lang
        ``en`` or ``zh``.
    plan_report
        Relative link to the booth plan's report, if any.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    _check_lang(lang)
    figs = {"map": block_map(dep, lang), **_block_charts(dep, lang)}
    html = {
        key: fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for key, fig in figs.items()
    }
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )
    units = [
        {"name": _unit(u, lang), "file": _safe(u)} for u in sorted({rt.unit for rt in dep.routes})
    ]
    k = dep.block_kpis
    changed = dep.hotspots_changed
    return env.get_template("deploy_report.html").render(
        T=lambda key, **kw: _t(key, lang, **kw),
        lang=lang,
        dep=dep,
        figs=html,
        plotlyjs=get_plotlyjs(),
        weekly=dep.weekly,
        pct=_pct,
        threshold=f"{dep.config.threshold_min:g}",
        kpis=[
            {
                **r,
                "label": _day(r["label"], lang),
                "shift": _shift(str(r["shift"]), lang),
                "mip_status": _label(str(r["mip_status"]), lang),
            }
            for r in k.to_dict("records")
        ],
        daily=[{**d, "weekday": _day(d["weekday"], lang)} for d in dep.daily.to_dict("records")],
        posts=_rule_post_rows(dep),
        block_tables=_block_tables(dep, lang),
        units=units,
        sectors=[{**r, "kind": _label(str(r["kind"]), lang)} for r in _sector_rows(dep)],
        has_sectors=dep.sectors is not None,
        sector_min=f"{dep.config.sector_patrol_min:g}",
        changed=(_t("changed", lang, c=changed[1], n=changed[0]) if changed is not None else ""),
        notes=_method_notes(dep, lang),
        plan_report=plan_report,
        osm=OSM_ATTRIBUTION,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _block_tables(dep: Deployment, lang: str = "en") -> list[dict[str, Any]]:
    """Who is where in each block: one row per post with its officers and their breaks
    (block labels and the deployment's own notes in ``lang``)."""
    a = dep.assignments
    if a.empty:
        return []
    order = {k: i for i, k in enumerate(("booth", "mobile", "rule", "foot", "relief", "reserve"))}
    a = a.assign(
        _k=a["post_kind"].map(order),
        _brk=np.where(
            a["break_min"] > 0, a["officer"] + " " + a["break_start"] + "-" + a["break_end"], ""
        ),
    )
    out = []
    for (_, label), blk in a.groupby(["block", "block_label"], sort=True):
        rows = []
        for (_, kind, name, unit), g in blk.groupby(
            ["_k", "post_kind", "post_name", "unit"], sort=True
        ):
            rows.append(
                {
                    "kind": kind,
                    "name": _place(name, lang),
                    "unit": _unit(unit, lang) if isinstance(unit, str) else unit,
                    "officers": ", ".join(g["officer"]),
                    "breaks": ", ".join(b for b in g["_brk"] if b),
                    "note": (
                        _label(g["note"].iloc[0], lang)
                        if isinstance(g["note"].iloc[0], str)
                        else ""
                    ),
                }
            )
        out.append({"label": _day(str(label), lang), "rows": rows})
    return out


def _rule_post_rows(dep: Deployment) -> list[dict[str, Any]]:
    p = dep.places
    if len(p) == 0:
        return []
    inside = p[p["inside"].astype(bool)]
    a = dep.assignments
    rule = a[a["post_kind"] == "rule"]
    windows = rule.groupby("post_name")["note"].first()
    blocks = rule.groupby("post_name")["block"].nunique()
    rows = []
    for r in inside.itertuples():
        rows.append(
            {
                "name": r.name,
                "group": r.group,
                "snap_m": float(r.snap_m),
                "windows": windows.get(r.name, ""),
                "blocks": int(blocks.get(r.name, 0)),
            }
        )
    return rows


def render_schedule(dep: Deployment, unit: str, lang: str = "en") -> str:
    """Printable HTML schedule of one mobile unit over the week.

    Raises
    ------
    ValidationError
        If the unit has no route, or for an unknown language.
    """
    _check_lang(lang)
    routes = [rt for rt in dep.routes if rt.unit == unit]
    if not routes:
        raise ValidationError(f"unit {unit!r} has no route in this deployment")
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )

    def clock(rt: Route, s: float) -> str:
        return format_minute_of_week(rt.block_start_min + round(s / 60.0))[4:]

    a = dep.assignments
    mine = a[a["unit"] == unit]
    base_of = dict(zip(mine["block"], mine["post_name"], strict=True))
    items = []
    for rt in sorted(routes, key=lambda r: r.block):
        items.append(
            {
                "label": _day(rt.block_label, lang),
                "day": rt.block_label[:3],
                "crew": ", ".join(rt.crew),
                "base": _place(base_of.get(rt.block, ""), lang),
                "stops": [
                    {
                        "n": i + 1,
                        "name": _place(rt.stop_names[i], lang),
                        "arrive": clock(rt, rt.arrive_s[i]),
                        "depart": clock(rt, rt.depart_s[i]),
                        "dwell": f"{rt.dwell_s[i] / 60:.0f}",
                    }
                    for i in range(len(rt.stop_nodes))
                ],
                "back": clock(rt, rt.end_s),
                "driving": _t("driving", lang, m=f"{rt.travel_s / 60:.0f}"),
                "key": rt.key,
                "folder": _safe(unit),
            }
        )
    return env.from_string(_SCHEDULE_TEMPLATE).render(
        T=lambda key, **kw: _t(key, lang, **kw),
        lang=lang,
        unit=_unit(unit, lang),
        area=dep.area_name,
        items=items,
        osm=OSM_ATTRIBUTION,
        version=__version__,
    )


def with_zh_columns(assignments: pd.DataFrame) -> pd.DataFrame:
    """``assignments`` with ``block_label_zh`` after ``block_label`` (``label_zh`` after
    ``label`` in the blocks' table), ``post_name_zh`` after ``post_name`` and ``note_zh``
    after ``note``: the texts the deployment writes itself in Chinese (a block's weekday,
    ``周一 00:00-02:00`` for ``Mon 00:00-02:00``; a mobile or foot post's ``patrol line
    at`` / ``foot patrol at``, the relief officers' and the sector walk's notes, as the
    Chinese report shows them); names from the plan, roster or calendar (a booth, a
    school, a rule window's times) as they are. The codes (``day``, ``post_kind``,
    ``unit``, ``shift``) stay as they are, in English."""
    out = assignments.copy()
    for col, words in (
        ("block_label", _day),
        ("label", _day),
        ("post_name", _place),
        ("note", _label),
    ):
        if col in out.columns:
            out.insert(
                out.columns.get_loc(col) + 1,
                f"{col}_zh",
                [words(v, "zh") if isinstance(v, str) else v for v in out[col]],
            )
    return out


def write_deployment(
    dep: Deployment,
    out_dir: str | Path,
    *,
    lang: str = "en",
    plan_dir: str | Path | None = None,
    output_frame: str = "wgs84",
) -> dict[str, Path]:
    """Write the files listed in the module docstring into ``out_dir``.

    Every file is written under a temporary name and renamed when complete, and
    ``deploy_summary.json`` last (an earlier one is removed first): a folder without it is
    incomplete, e.g. the run was interrupted while writing.
    ``lon``/``lat`` of the CSV and GeoJSON files are in ``output_frame`` (the plan's, so
    that a plan made for AMap gives a deployment for AMap; each CSV says so in its
    ``coord_frame`` column); GPX files stay WGS-84, the frame of GPS receivers.

    Parameters
    ----------
    dep
        The deployment.
    out_dir
        Output folder (created).
    lang
        Report language, ``en`` or ``zh``.
    plan_dir
        The booth plan's folder: the report links to its ``report.html``.

    Returns
    -------
    dict
        File name (relative to ``out_dir``) -> path, for the main files (the per-route files
        are counted under ``routes/`` and ``schedules/``).
    """
    _check_lang(lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    # an earlier run's summary would vouch for the files this run is about to replace
    (out / "deploy_summary.json").unlink(missing_ok=True)

    def put(name: str, text: str, *, record: bool = True) -> None:
        path = write_atomic(out / name, text)
        if record:
            written[name] = path

    plan_report = None
    if plan_dir is not None and (Path(plan_dir) / "report.html").is_file():
        plan_report = os.path.relpath(Path(plan_dir) / "report.html", out)

    def framed(table: pd.DataFrame) -> pd.DataFrame:
        if not {"lon", "lat"} <= set(table.columns):
            return table
        table = table.copy()
        lon, lat = coords_to_frame(table["lon"], table["lat"], output_frame)
        table["lon"], table["lat"] = lon.round(6), lat.round(6)
        table["coord_frame"] = output_frame
        return table

    put("deployment.csv", with_zh_columns(framed(dep.assignments)).to_csv(index=False))
    put("blocks.csv", with_zh_columns(dep.block_kpis).to_csv(index=False))
    put("daily.csv", dep.daily.to_csv(index=False))
    if len(dep.places):
        inside = dep.places[dep.places["inside"].astype(bool)]
        put("rule_posts.csv", framed(inside).to_csv(index=False))
    if dep.sector_kpis is not None:
        put("sectors.csv", dep.sector_kpis.to_csv(index=False))
    else:  # from an earlier run with sectors into the same folder
        (out / "sectors.csv").unlink(missing_ok=True)
    features = []
    out_lon, out_lat = coords_to_frame(dep.node_lon, dep.node_lat, output_frame)
    for rt in dep.routes:
        fc = route_geojson(rt, out_lon, out_lat)
        features.append(fc["features"][0])
        folder = f"routes/{_safe(rt.unit)}"
        put(f"{folder}/{rt.key}.geojson", strict_json.dumps(fc, ensure_ascii=False), record=False)
        put(f"{folder}/{rt.key}.gpx", route_gpx(rt, dep.node_lon, dep.node_lat), record=False)
    put(
        "routes.geojson",
        strict_json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
    )
    for unit in sorted({rt.unit for rt in dep.routes}):
        put(f"schedules/{_safe(unit)}.html", render_schedule(dep, unit, lang), record=False)
    put("report.html", render_deploy_html(dep, lang, plan_report=plan_report))
    # last: a folder without it is incomplete (a run interrupted while writing)
    put("deploy_summary.json", strict_json.dumps(deploy_summary(dep), indent=2, ensure_ascii=False))
    return written


_SCHEDULE_TEMPLATE = """<!doctype html>
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}">
<head>
<meta charset="utf-8">
<title>{{ unit }} · {{ T('schedule') }} · {{ area }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC",
        "Microsoft YaHei", sans-serif;
        margin: 1rem auto; max-width: 900px; color: #111; font-size: 11pt; }
 h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
 h2 { font-size: 1.05rem; margin: 1.2rem 0 .2rem; border-bottom: 1px solid #999; }
 table { border-collapse: collapse; width: 100%; margin: .2rem 0 .6rem; }
 th, td { border: 1px solid #bbb; padding: .15rem .4rem; text-align: left; }
 td.n { text-align: right; width: 3rem; }
 .muted { color: #555; font-size: .85rem; }
 .day { break-before: page; }
 .day:first-of-type { break-before: auto; }
 .block { break-inside: avoid; }
 @media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
</style>
</head>
<body>
<h1>{{ unit }} · {{ T('schedule') }}</h1>
<p class="muted">{{ area }} · xunfang {{ version }} · {{ osm }}</p>
{% set ns = namespace(day='') %}
{% for it in items %}
{% if it.day != ns.day %}{% set ns.day = it.day %}<div class="day"></div>{% endif %}
<div class="block">
<h2>{{ it.label }}</h2>
<p>{{ T('crew') }}: <b>{{ it.crew }}</b> · {{ T('base') }}: {{ it.base }} ·
 {{ T('back') }}: <b>{{ it.back }}</b> ({{ it.driving }}) ·
 <a href="../routes/{{ it.folder }}/{{ it.key }}.gpx">GPX</a></p>
{% if it.stops %}
<table>
<tr><th>#</th><th>{{ T('stop') }}</th><th>{{ T('arrive') }}</th><th>{{ T('depart') }}</th>
 <th>{{ T('dwell') }}</th></tr>
{% for s in it.stops %}
<tr><td class="n">{{ s.n }}</td><td>{{ s.name }}</td><td>{{ s.arrive }}</td>
 <td>{{ s.depart }}</td><td class="n">{{ s.dwell }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">{{ T('no_stops') }}</p>{% endif %}
</div>
{% endfor %}
</body>
</html>
"""
