"""Write a booth plan to an output folder: a self-contained HTML report, GeoJSON and CSV.

The HTML embeds plotly.js once, so it opens offline. Maps are drawn from the road
network itself (no web tiles) and carry the OpenStreetMap attribution (ODbL).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs
from pyproj import Transformer

from xunfang import __version__, strict_json
from xunfang.analyse.hotspots import ALL, WEEKDAYS_EN, WEEKDAYS_ZH
from xunfang.errors import ValidationError
from xunfang.ingest.city import to_output_frame
from xunfang.ingest.messages import reason_text
from xunfang.ingest.notes import Note, note_text
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.plan.booth_plan import (
    RESPONSE_RINGS_S,
    BoothPlan,
    network_honesty,
    plan_warnings,
)
from xunfang.serve._common import OSM_ATTRIBUTION, osm_annotation, write_atomic
from xunfang.serve.city_report import area_text
from xunfang.serve.decisions_report import (
    DECISION_FILES,
    decision_summary,
    decisions_context,
    status_text,
    write_decision_files,
)
from xunfang.serve.map_helpers import (
    boundary_trace,
    figure_height,
    label_positions,
    street_labels,
)
from xunfang.units import WGS84

LANGS = ("en", "zh")
_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Booth plan", "zh": "岗亭布设方案"},
    "summary": {"en": "Summary", "zh": "概要"},
    "incidents": {"en": "incidents", "zh": "起警情"},
    "period": {"en": "Period", "zh": "时段"},
    "area": {"en": "Study area", "zh": "研究区域"},
    "booths": {"en": "booths", "zh": "个岗亭"},
    "stations": {"en": "stations", "zh": "派出所"},
    "stations_only": {"en": "stations alone", "zh": "仅派出所"},
    "plan_mclp": {"en": "stations + booths (MCLP)", "zh": "派出所+岗亭（MCLP）"},
    "plan_pmedian": {"en": "stations + booths (p-median)", "zh": "派出所+岗亭（p-中位）"},
    "plan_tiered": {"en": "stations + booths (tiered 1-3-5)", "zh": "派出所+岗亭（1-3-5分层）"},
    "plan_mexclp": {"en": "stations + booths (MEXCLP)", "zh": "派出所+岗亭（MEXCLP）"},
    "coverage": {
        "en": "Response coverage by road (the 1-3-5 minute circle)",
        "zh": "道路通行覆盖（1-3-5分钟圈）",
    },
    "layout": {"en": "Layout", "zh": "布局"},
    "sites": {"en": "Sites", "zh": "站点数"},
    "within": {"en": "within {m} min", "zh": "{m}分钟内"},
    "mean": {"en": "mean travel time", "zh": "平均通行时间"},
    "p90": {"en": "90th percentile", "zh": "90百分位"},
    "map": {
        "en": "Map: hotspots, booths, stations and travel time to the nearest site",
        "zh": "地图：热点、岗亭、派出所及到最近站点的通行时间",
    },
    "hotspots": {"en": "Where and when", "zh": "热点与时段"},
    "by_hour": {"en": "Incidents by hour of day (local time)", "zh": "按小时分布（当地时间）"},
    "by_weekday": {"en": "Incidents by weekday", "zh": "按星期分布"},
    "by_type": {"en": "Incidents by type group", "zh": "按类别分布"},
    "site_table": {"en": "Booths and stations", "zh": "岗亭与派出所"},
    "name": {"en": "Name", "zh": "名称"},
    "kind": {"en": "Kind", "zh": "类型"},
    "covered": {"en": "Incidents within {t} min", "zh": "{t}分钟内警情"},
    "nearest": {"en": "Incidents nearest", "zh": "就近警情"},
    "solver": {"en": "Siting model", "zh": "选址模型"},
    "ingest": {"en": "Data quality (ingest report)", "zh": "数据质量（导入报告）"},
    "network": {"en": "Road network", "zh": "道路网络"},
    "notes": {"en": "Notes and limits", "zh": "说明与局限"},
    "rows_read": {"en": "rows read", "zh": "读取行数"},
    "accepted": {"en": "accepted", "zh": "有效"},
    "reason": {"en": "rejected: {r}", "zh": "剔除：{r}"},
    "minutes": {"en": "min", "zh": "分钟"},
    "booth": {"en": "booth", "zh": "岗亭"},
    "station": {"en": "station", "zh": "派出所"},
    "roads": {"en": "roads", "zh": "道路"},
    "density": {"en": "incident density", "zh": "警情密度"},
    "hotcells": {"en": "hotspot cells", "zh": "热点网格"},
    "tt_band": {"en": "demand: ≤{a} min", "zh": "需求点：≤{a}分钟"},
    "tt_over": {"en": "demand: >5 min", "zh": "需求点：>5分钟"},
    "timings": {"en": "Run time by step", "zh": "各步骤耗时"},
    "next_deploy": {
        "en": "Next: plan the deployment by time block and the patrol routes for these booths:",
        "zh": "下一步：按时段为这些岗亭编排勤务与巡逻路线：",
    },
    "step": {"en": "Step", "zh": "步骤"},
    "seconds": {"en": "seconds", "zh": "秒"},
    # the siting-model table
    "status": {"en": "status", "zh": "状态"},
    "solve_time": {"en": "solve time (s)", "zh": "求解时间（秒）"},
    "gap": {"en": "optimality gap", "zh": "最优性差距"},
    "objective": {"en": "objective", "zh": "目标值"},
    "bound": {"en": "proved bound", "zh": "已证界"},
    "proven": {"en": "(proven optimal)", "zh": "（已证最优）"},
    "models_refs": {
        "en": "MCLP: Church & ReVelle (1974); p-median: Hakimi (1964), ReVelle & Swain (1970). "
        "Solver: HiGHS.",
        "zh": "MCLP：Church 与 ReVelle (1974)；p-中位：Hakimi (1964)，ReVelle 与 Swain "
        "(1970)。求解器：HiGHS。",
    },
    "models_note": {
        "en": "{n_cand} candidate sites, {n_demand} demand nodes.",
        "zh": "{n_cand} 个候选点，{n_demand} 个需求节点。",
    },
    # the road-network table
    "net_areas": {"en": "areas", "zh": "片区"},
    "net_nodes": {"en": "nodes", "zh": "节点"},
    "net_edges": {"en": "drivable edges kept / read", "zh": "保留 / 读取的可行车道路"},
    "net_stitched": {
        "en": "links stitched between areas (≤ {m:g} m)",
        "zh": "片区间拼接连接（≤ {m:g} 米）",
    },
    "net_left_out": {
        "en": "nodes left out (not strongly connected)",
        "zh": "剔除的节点（未强连通）",
    },
    "net_area_kept": {"en": "road inside the study area kept", "zh": "研究区域内道路保留"},
    "net_area_kept_value": {
        "en": "{share:.1f} % of {km:.1f} km ({kept:.1f} km)",
        "zh": "{km:.1f} 公里中的 {share:.1f} %（{kept:.1f} 公里）",
    },
    "generated": {"en": "Generated by xunfang {v}.", "zh": "由 xunfang {v} 生成。"},
    "net_speed_table": {
        "en": "road-class speed table (no maxspeed)",
        "zh": "道路等级速度表（无 maxspeed 时）",
    },
}

# the steps of plan.timings_s (xunfang.plan.booth_plan, xunfang.plan.decisions)
_STEPS_ZH = {
    "study area": "研究区域",
    "ingest": "导入警情",
    "network": "路网",
    "where/when": "热点与时段",
    "forecast": "预测",
    "travel times": "通行时间",
    "compare": "布局比较",
    "trade-off curve": "权衡曲线",
    "targets": "目标",
    "tiered siting": "分层选址",
    "MEXCLP siting": "MEXCLP 选址",
    "booth values": "岗亭价值",
    "sectors": "巡区",
    # xunfang.plan.deployment and the deploy command
    "blocks and checks": "时段与检查",
    "risk": "风险",
    "allocation": "警力分配",
    "routes": "巡逻路线",
    "sector patrols": "巡区步巡",
    "summaries": "汇总",
    "outputs": "写出文件",
    # the plan command's progress bar
    "plan": "方案",
    "ingest incidents": "导入警情",
    "road network": "路网",
    "where and when": "热点与时段",
    "booth siting (MCLP)": "岗亭选址（MCLP）",
    "p-median": "p-中位",
    "compare layouts": "布局比较",
    "what each booth buys": "岗亭价值",
    "patrol sectors": "巡区",
    "report": "写出报告",
    "done": "完成",
}


def step_name(step: str, lang: str = "en") -> str:
    """A step of a run's timings in ``lang`` (``en``, or an unknown step: as it is)."""
    return _STEPS_ZH.get(step, step) if lang == "zh" else step


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _fmt_min(seconds: float) -> str:
    return "–" if not math.isfinite(seconds) else f"{seconds / 60:.2f}"


def _roads_trace(plan: BoothPlan, to_wgs: Transformer, lang: str) -> go.Scattergl:
    edges = plan.network.edges
    xy = plan.network.node_xy
    u = edges["u_index"].to_numpy()
    v = edges["v_index"].to_numpy()
    lon_n, lat_n = to_wgs.transform(xy[:, 0], xy[:, 1])
    # one trace for all roads: u, v, NaN per edge (a NaN breaks the line between edges)
    gap = np.full(len(u), np.nan)
    return go.Scattergl(
        x=np.column_stack([lon_n[u], lon_n[v], gap]).ravel(),
        y=np.column_stack([lat_n[u], lat_n[v], gap]).ravel(),
        mode="lines",
        line={"color": "#c8c8c8", "width": 1},
        name=_t("roads", lang),
        hoverinfo="skip",
    )


def map_figure(plan: BoothPlan, lang: str = "en") -> go.Figure:
    """The plan map in WGS-84 longitude/latitude, drawn without web tiles."""
    to_wgs = Transformer.from_crs(plan.area.crs, WGS84, always_xy=True)
    fig = go.Figure()
    fig.add_trace(_roads_trace(plan, to_wgs, lang))
    grid = plan.where_when.grid
    dens = plan.where_when.kde(ALL, bandwidth_m=plan.config.kde_bandwidth_m)
    cells = np.flatnonzero(grid.mask & (dens > np.percentile(dens[grid.mask], 35)))
    c = grid.centres(cells)
    clon, clat = to_wgs.transform(c[:, 0], c[:, 1])
    fig.add_trace(
        go.Scattergl(
            x=clon,
            y=clat,
            mode="markers",
            name=_t("density", lang),
            marker={
                "symbol": "square",
                "size": 9,
                "color": dens[cells],
                "colorscale": "YlOrRd",
                "opacity": 0.75,
                "showscale": True,
                "colorbar": {"title": "/km²", "thickness": 10, "len": 0.4, "x": 1.0},
            },
            hovertemplate="%{marker.color:.0f} /km²<extra></extra>",
        )
    )
    # top hotspot cells (all types): outlines
    top = next((h for h in plan.hotspots if h.group == ALL), None)
    if top is not None:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for box in grid.cell_boxes(top.cells):
            bx, by = box.exterior.coords.xy
            lo, la = to_wgs.transform(np.asarray(bx), np.asarray(by))
            xs += [*map(float, lo), None]
            ys += [*map(float, la), None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=_t("hotcells", lang),
                line={"color": "#b30000", "width": 2},
                hoverinfo="skip",
            )
        )
    d = plan.demand
    bands = [(0, 60), (60, 180), (180, 300)]
    colours = ["#1a9850", "#91cf60", "#fee08b"]
    for (a, b), col in zip(bands, colours, strict=True):
        sel = (d["tt_plan_s"] > a if a else d["tt_plan_s"] >= 0) & (d["tt_plan_s"] <= b)
        fig.add_trace(
            go.Scattergl(
                x=d.loc[sel, "lon"],
                y=d.loc[sel, "lat"],
                mode="markers",
                name=_t("tt_band", lang, a=b // 60),
                marker={"size": 4, "color": col},
                hovertemplate="%{text}<extra></extra>",
                text=[
                    f"{w:.0f} · {t / 60:.1f} min"
                    for w, t in zip(d.loc[sel, "weight"], d.loc[sel, "tt_plan_s"], strict=True)
                ],
            )
        )
    sel = ~(d["tt_plan_s"] <= 300)
    fig.add_trace(
        go.Scattergl(
            x=d.loc[sel, "lon"],
            y=d.loc[sel, "lat"],
            mode="markers",
            name=_t("tt_over", lang),
            marker={"size": 4, "color": "#d73027"},
        )
    )
    s = plan.sites
    bounds = plan.area.polygon_wgs84.bounds
    positions = label_positions(
        s.geometry.x.to_numpy(), s.geometry.y.to_numpy(), gap=(bounds[3] - bounds[1]) / 60
    )
    s = s.assign(_pos=positions)
    for kind, symbol, colour in (("station", "star", "#08306b"), ("booth", "diamond", "#2171b5")):
        sub = s[s["kind"] == kind]
        fig.add_trace(
            go.Scatter(
                x=sub.geometry.x,
                y=sub.geometry.y,
                mode="markers+text",
                text=sub["name"],
                textposition=list(sub["_pos"]),
                textfont={"size": 10, "color": colour},
                name=_t(kind, lang),
                marker={
                    "symbol": symbol,
                    "size": 13 if kind == "station" else 10,
                    "color": colour,
                    "line": {"color": "white", "width": 1},
                },
            )
        )
    fig.add_trace(boundary_trace(plan.area.polygon_wgs84, plan.area.name))
    lat0 = float(plan.area.polygon_wgs84.centroid.y)
    lon_n, lat_n = to_wgs.transform(plan.network.node_xy[:, 0], plan.network.node_xy[:, 1])
    streets = street_labels(plan.network.edges, np.asarray(lon_n), np.asarray(lat_n))
    pad_x = (bounds[2] - bounds[0]) * 0.03
    pad_y = (bounds[3] - bounds[1]) * 0.02
    title = None
    if plan.forecast_note:
        title = {
            "text": ("按预测加权的方案" if lang == "zh" else "Forecast-weighted plan")
            + f": {plan.config.forecast} ({plan.config.forecast_window})",
            "x": 0.01,
        }
    fig.update_layout(
        height=figure_height(bounds),
        title=title,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
        xaxis={"visible": False, "range": [bounds[0] - pad_x, bounds[2] + pad_x]},
        legend={"orientation": "h", "y": -0.02},
        yaxis={
            "visible": False,
            "range": [bounds[1] - pad_y, bounds[3] + pad_y],
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
        },
        plot_bgcolor="white",
        annotations=[osm_annotation(), *streets],
    )
    return fig


def _charts(plan: BoothPlan, lang: str) -> dict[str, go.Figure]:
    tax = load_taxonomy()
    ww = plan.where_when
    hour = go.Figure()
    for g in ww.groups:
        hour.add_trace(go.Bar(x=list(range(24)), y=ww.hour_of_day(g), name=tax.label(g, lang)))
    hour.update_layout(
        barmode="stack",
        height=340,
        margin={"t": 10},
        xaxis={"title": "hour" if lang == "en" else "小时", "dtick": 2},
    )
    wd = go.Figure()
    names = WEEKDAYS_EN if lang == "en" else WEEKDAYS_ZH
    for g in ww.groups:
        wd.add_trace(go.Bar(x=list(names), y=ww.weekday(g), name=tax.label(g, lang)))
    wd.update_layout(barmode="stack", height=340, margin={"t": 10})
    counts = ww.cell_counts[list(ww.groups)].sum()
    typ = go.Figure(go.Bar(x=[tax.label(g, lang) for g in counts.index], y=counts.to_numpy()))
    typ.update_layout(height=300, margin={"t": 10})
    cov = go.Figure()
    for r in plan.rings:
        cov.add_trace(
            go.Bar(
                x=[_t("within", lang, m=m) for m in (1, 3, 5)],
                y=[100 * r.share_within[m] for m in (1, 3, 5)],
                name=_t(r.label, lang),
                text=[f"{100 * r.share_within[m]:.0f}%" for m in (1, 3, 5)],
            )
        )
    cov.update_layout(
        barmode="group", height=320, margin={"t": 10}, yaxis={"title": "%", "range": [0, 100]}
    )
    return {"hour": hour, "weekday": wd, "type": typ, "coverage": cov}


@functools.lru_cache(maxsize=1)
def _template_env() -> Environment:
    """The report templates' environment, made once per process: it keeps the compiled
    templates (compiling ``plan_report.html`` and ``plan_decisions.html`` took 0.2 s of CPU
    per district of a city plan), and reloads a template whose file changed."""
    return Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )


def render_html(
    plan: BoothPlan, lang: str = "en", *, out_dir: str = "OUT", city_dir: str | None = None
) -> str:
    """The report as one HTML string (plotly.js embedded once). Its next step names
    ``out_dir`` (the plan's folder) and a deploy folder beside it; for a district of a
    city run (``city_dir``: the run's folder, which deploy refuses to write into) the
    deploy folder is ``<city_dir>_deploy/<district>`` outside it, where the city's
    ``deploy --plan-dir`` writes that district too.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    if lang not in LANGS:
        raise ValidationError(f"--lang must be one of {LANGS}, got {lang!r}")
    tax = load_taxonomy()
    figs = {"map": map_figure(plan, lang), **_charts(plan, lang)}
    html = {
        key: fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for key, fig in figs.items()
    }
    env = _template_env()
    if city_dir is None:
        deploy_out, deploy_link = f"{out_dir}/../deploy", "../deploy/report.html"
    else:
        city = Path(city_dir)
        district = Path(out_dir).name
        deploy_out = str(city.with_name(city.name + "_deploy") / district)
        deploy_link = f"../../{city.name}_deploy/{district}/report.html"
    local = plan.incidents.local_time()
    period = (
        (local.min().strftime("%Y-%m-%d"), local.max().strftime("%Y-%m-%d"))
        if len(local)
        else ("-", "-")
    )
    hotspot_lines = [
        h.sentence(
            tax.label(h.group, lang) if h.group != ALL else ("all" if lang == "en" else "全部"),
            lang,
        )
        for h in plan.hotspots
    ]
    return env.get_template("plan_report.html").render(
        T=lambda key, **kw: _t(key, lang, **kw),
        status=lambda s: status_text(s, lang),
        step_name=lambda k: step_name(k, lang),
        lang=lang,
        plan=plan,
        area_shown=area_text(plan.area.name, lang),
        figs=html,
        plotlyjs=get_plotlyjs(),
        out_dir=out_dir,
        deploy_out=deploy_out,
        deploy_link=deploy_link,
        period=period,
        hotspot_lines=hotspot_lines,
        fmt_min=_fmt_min,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        threshold=plan.config.threshold_min,
        rings_min=[int(r // 60) for r in RESPONSE_RINGS_S],
        osm=OSM_ATTRIBUTION,
        notes=plan_notes(plan, lang),
        ingest=plan.ingest_report.to_dict() if plan.ingest_report else None,
        ingest_notes=(
            ()
            if plan.ingest_report is None
            else plan.ingest_report.notes_zh
            if lang == "zh" and plan.ingest_report.notes_zh
            else plan.ingest_report.notes
        ),
        reason_text=lambda r: reason_text(r, lang),
        network=plan.network.report,
        credit=plan.city.credit if plan.city is not None else None,
        dec=decisions_context(plan, lang),
    )


def plan_notes(plan: BoothPlan, lang: str = "en") -> list[str]:
    """Caveats the reader must know, from the data and the model."""
    notes = [note_text(n, lang) for n in plan.network.report.notes]
    loss = plan.network.report.largest_component_loss()
    if loss is not None:
        # a district cut from the city's network: its own streets (the cut measured them)
        own = plan.network.report.scc_of_cut
        of_en = "the area's own streets" if own else "the road source"
        notes.append(
            f"最大强连通分量规则剔除了{'本区道路' if own else '道路来源'}的 "
            f"{loss['nodes_left_out']:,} / {loss['nodes']:,} "
            f"个节点、{loss['km_left_out']:.1f} / {loss['km']:.1f} 公里道路"
            f"（{100 * loss['share_km']:.1f} %）。"
            if lang == "zh"
            else f"The largest-strongly-connected-component rule dropped "
            f"{loss['nodes_left_out']:,} of {loss['nodes']:,} nodes and "
            f"{loss['km_left_out']:.1f} of {loss['km']:.1f} km of road "
            f"({100 * loss['share_km']:.1f} %) of {of_en}."
        )
    notes[:0] = [
        "⚠ " + w[:1].upper() + w[1:] + ("。" if lang == "zh" else ".")
        for w in plan_warnings(plan, lang)
    ]
    if plan.forecast_note:
        notes.insert(0, plan.forecast_note)
    if plan.demand_note:
        notes.insert(0, note_text(plan.demand_note, lang))
    if plan.stations_note:
        notes.insert(0, note_text(plan.stations_note, lang))
    if plan.candidates_note:
        notes.insert(0, plan.candidates_note)
    ww = plan.where_when
    zh = lang == "zh"
    if plan.config.demand != "road_length":  # road-length demand sits on the nodes
        q = plan.snap_quantiles_m or (plan.snap_median_m,) * 3
        notes.append(
            (
                "警情已吸附到最近路网节点，吸附距离中位 {:.0f} 米、90% 分位 {:.0f} 米、"
                "最大 {:.0f} 米。"
                if zh
                else "Incidents are snapped to the nearest network node (snap distance median "
                "{:.0f} m, 90th percentile {:.0f} m, largest {:.0f} m); travel times run node "
                "to node."
            ).format(*q)
        )
        h = network_honesty(plan)
        if h["snap"] is not None:
            sn = h["snap"]
            notes.append(
                f"距吸附节点超过 {sn['far_m']:g} 米的警情：{sn['far_count']:,} 起"
                f"（{100 * sn['far_share']:.1f} %）。"
                if zh
                else f"Incidents more than {sn['far_m']:g} m from their snapped node: "
                f"{sn['far_count']:,} ({100 * sn['far_share']:.1f} %)."
            )
        if plan.snap_nodes_left_out:
            notes.append(
                f"{plan.snap_nodes_left_out} 个只连接快速路、高架、桥梁或隧道的节点不作为警情吸附点"
                "（巡逻车辆仍可通行）。"
                if zh
                else f"{plan.snap_nodes_left_out} nodes touched only by motorways, trunk roads, "
                "their ramps, bridges or tunnels are not used to snap incidents (units still "
                "drive on them)."
            )
    if ww.n_date_only:
        notes.append(
            f"{ww.n_date_only} 起警情只有日期没有时刻，未计入按小时统计。"
            if zh
            else f"{ww.n_date_only} incidents have a date but no time of day: they count "
            "in the maps but not by hour."
        )
    notes.append(
        "道路速度按道路等级估算，未考虑拥堵与信号灯。"
        if zh
        else "Road speeds are imputed by road class (no congestion or signal delay)."
    )
    notes.append(
        (
            "研究区外的 {:,} 起警情未纳入。"
            if zh
            else "{:,} incidents outside the study area are not part of this plan."
        ).format(plan.n_outside_area)
    )
    if plan.config.types:
        notes.append(
            (
                "需求仅含类别 {}；区内其他类别的 {:,} 起警情未计入。"
                if zh
                else "Demand is the type groups {} only; {:,} incidents of other types inside "
                "the area are not counted."
            ).format(", ".join(plan.config.types), plan.n_other_types)
        )
    if plan.n_fixed_merged:
        notes.append(Note("fixed_merged", n=plan.n_fixed_merged).text(lang))
    return notes


def _framed_csv(frame: gpd.GeoDataFrame, output_frame: str) -> str:
    """A layer's table as CSV without its geometry, naming the frame of its lon/lat in a
    ``coord_frame`` column (as deploy's CSVs do)."""
    table = pd.DataFrame(frame.drop(columns="geometry"))
    return table.assign(coord_frame=output_frame).to_csv(index=False)


def _incident_period(plan: BoothPlan) -> list[str] | None:
    """First and last local date of the plan's incidents (a simulation checks that its
    replayed month lies outside them)."""
    t = plan.incidents.frame["occurred_at"]
    if len(t) == 0:
        return None
    local = t.dt.tz_convert(plan.incidents.timezone)
    return [f"{local.min():%Y-%m-%d}", f"{local.max():%Y-%m-%d}"]


def plan_summary(plan: BoothPlan) -> dict[str, Any]:
    """Machine-readable figures of the plan (``plan_summary.json``)."""

    def ring(r: Any) -> dict[str, Any]:
        return {
            "label": r.label,
            "description": _t(r.label, "en"),
            "sites": r.n_sites,
            "share_within_min": {str(k): round(v, 4) for k, v in r.share_within.items()},
            "share_within_threshold": round(r.share_within_threshold, 4),
            "mean_travel_time_s": round(r.mean_s, 1),
            "p90_travel_time_s": round(r.p90_s, 1),
            "unreachable_incidents": r.unreachable,
        }

    def solver(res: Any) -> dict[str, Any] | None:
        if res is None:
            return None
        return {
            "model": res.model,
            "status": res.status,
            "solve_time_s": round(res.solve_time_s, 3),
            "mip_gap": res.mip_gap,
            "objective": res.objective,
            "objective_bound": res.objective_bound,
            "proven_optimal": res.status == "optimal",
            "covered_weight_share": res.covered_weight_share,
            "mean_travel_time_s": round(res.mean_travel_time_s, 1),
        }

    return {
        "xunfang_version": __version__,
        "area": plan.area.name,
        "area_members": list(plan.area.members),
        "area_km2": round(plan.area.area_km2, 3),
        "crs": plan.area.crs.to_string(),
        "booths": plan.config.booths,
        "threshold_min": plan.config.threshold_min,
        "incidents_in_area": len(plan.incidents),
        "incident_period": _incident_period(plan),
        # the incidents' clock (the ingest's, or the ingested table's): serve takes it for
        # the KPIs' hour of day when the city states none (read_plan_record)
        "incident_timezone": plan.incidents.timezone if len(plan.incidents) else None,
        "incidents_outside_area": plan.n_outside_area,
        "types": list(plan.config.types) or "all",
        "incidents_of_other_types": plan.n_other_types,
        "frame_check": plan.frame_check,
        "fixed_sites_merged": plan.n_fixed_merged,
        "stations_note": plan.stations_note,
        "candidates_note": plan.candidates_note,
        "candidates_outside_m": plan.config.candidates_outside_m,
        "incident_source": [str(Path(p).absolute()) for p in plan.config.incident_files]
        or "data directory",
        "candidates": plan.n_candidates,
        "demand_nodes": len(plan.demand),
        "rings": [ring(r) for r in plan.rings],
        "mclp": solver(plan.mclp),
        "p_median": (
            None
            if plan.pmedian is None
            else {**(solver(plan.pmedian) or {}), "gap_tolerance": plan.config.pmedian_gap}
        ),
        "network": plan.network.report.to_dict(),
        # what the travel times were computed on: snap distances, roads the
        # largest-component rule dropped (a tester's plan said 99 % within 2 min on
        # incidents a median 205 m from their node)
        "computed_on": network_honesty(plan),
        "ingest": plan.ingest_report.to_dict() if plan.ingest_report else None,
        "timings_s": {k: round(v, 2) for k, v in plan.timings_s.items()},
        "cpu_s": {k: round(v, 2) for k, v in plan.cpu_s.items()},
        "forecast": plan.forecast_note,
        "demand": {"kind": plan.config.demand, "note": plan.demand_note},
        "city": plan.city.to_dict() if plan.city is not None else None,
        "attribution": OSM_ATTRIBUTION,
        **decision_summary(plan),
    }


def hotspot_frame(plan: BoothPlan, lang: str = "en") -> gpd.GeoDataFrame:
    """Hotspot cells of every group with their counts and peak window (WGS-84 polygons)."""
    tax = load_taxonomy()
    rows = []
    geoms = []
    grid = plan.where_when.grid
    for h in plan.hotspots:
        for rank, (cell, count) in enumerate(zip(h.cells, h.counts, strict=True), start=1):
            rows.append(
                {
                    "type_group": h.group,
                    "label": tax.label(h.group, lang),
                    "rank": rank,
                    "cell": int(cell),
                    "incidents": int(count),
                    "peak_start_hour": h.window[0],
                    "peak_end_hour": h.window[1] % 24,
                    "peak_share": round(h.window_share, 4),
                }
            )
            geoms.append(grid.cell_boxes(np.array([cell]))[0])
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=grid.crs).to_crs(WGS84)
    centre = frame.geometry.to_crs(grid.crs).centroid.to_crs(WGS84)
    frame["centre_lon"], frame["centre_lat"] = centre.x.round(6), centre.y.round(6)
    return frame


def write_plan(
    plan: BoothPlan, out_dir: str | Path, *, lang: str = "en", output_frame: str = "wgs84"
) -> dict[str, Path]:
    """Write ``report.html``, ``sites``/``hotspots``/``coverage`` as GeoJSON and CSV,
    ``plan_summary.json`` and ``ingest_report.json`` into ``out_dir``.

    ``output_frame`` (``wgs84``, ``gcj02``, ``bd09``) is the frame of the lon/lat in the
    GeoJSON and CSV files (:func:`xunfang.ingest.city.to_output_frame`); the report's map
    stays WGS-84 on OpenStreetMap.

    Every file is written under a temporary name and renamed when complete.
    """
    files = render_plan_files(plan, out_dir, lang=lang, output_frame=output_frame)
    return write_plan_files(files, out_dir)


def render_plan_files(
    plan: BoothPlan,
    out_dir: str | Path,
    *,
    lang: str = "en",
    output_frame: str = "wgs84",
    city_dir: str | Path | None = None,
) -> dict[str, str]:
    """The text of every file :func:`write_plan` writes, by file name, in the order written
    (a city plan's worker renders them, and the client only writes them:
    :func:`write_plan_files`). ``out_dir`` (and ``city_dir``, the city run's folder for a
    district of one: :func:`render_html`) is only named in the report."""
    out = Path(out_dir)
    files: dict[str, str] = {}

    def put(name: str, text: str) -> None:
        files[name] = text

    city = None if city_dir is None else str(city_dir)
    put("report.html", render_html(plan, lang, out_dir=str(out), city_dir=city))
    sites = plan.sites.copy()
    sites["lon"], sites["lat"] = sites.geometry.x, sites.geometry.y
    sites = to_output_frame(sites, output_frame)
    put("sites.geojson", sites.to_json(drop_id=True))
    put("sites.csv", _framed_csv(sites, output_frame))
    hs = to_output_frame(hotspot_frame(plan, lang), output_frame)
    put("hotspots.geojson", hs.to_json(drop_id=True))
    put("hotspots.csv", _framed_csv(hs, output_frame))
    cov = gpd.GeoDataFrame(
        plan.demand.copy(),
        geometry=gpd.points_from_xy(plan.demand["lon"], plan.demand["lat"]),
        crs=WGS84,
    )
    cov = to_output_frame(cov.replace([np.inf], np.nan), output_frame)
    put("coverage.geojson", cov.to_json(drop_id=True))
    put("coverage.csv", _framed_csv(cov, output_frame))
    write_decision_files(plan, put, output_frame=output_frame)
    put("plan_summary.json", _json({**plan_summary(plan), "output_frame": output_frame}))
    if plan.ingest_report is not None:
        put("ingest_report.json", _json(plan.ingest_report.to_dict()))
    return files


def write_plan_files(files: Mapping[str, str], out_dir: str | Path) -> dict[str, Path]:
    """Write the files of :func:`render_plan_files` into ``out_dir`` (CSV with a byte-order
    mark, so that spreadsheet programs read Chinese text right), each under a temporary name
    renamed when complete, and remove the plan files of an earlier run that this one has not.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, text in files.items():  # write_atomic gives a .csv its byte-order mark
        written[name] = write_atomic(out / name, text)
    for stale in OUTPUT_FILES - set(written):  # from an earlier run into the same folder
        (out / stale).unlink(missing_ok=True)
    return written


OUTPUT_FILES = frozenset(
    {
        "report.html",
        "sites.geojson",
        "sites.csv",
        "hotspots.geojson",
        "hotspots.csv",
        "coverage.geojson",
        "coverage.csv",
        "plan_summary.json",
        "ingest_report.json",
        *DECISION_FILES,
    }
)


def _json(obj: Any) -> str:
    """Strict JSON: NaN and infinities become null (JSON has no such numbers)."""
    return strict_json.dumps(obj, indent=2, ensure_ascii=False)
