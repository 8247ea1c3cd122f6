"""Write a ``forecast predict`` run: ``forecast.geojson`` (every active cell with the risk
and rank of each group), ``hotspots.csv`` (the top cells at 1, 5 and 20 % of the area),
the automatic selection's scores, and a self-contained HTML report with a map."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from xunfang import __version__, strict_json
from xunfang.analyse.prediction import GroupForecast, PredictionRun, ranks
from xunfang.ingest.city import to_output_frame
from xunfang.serve._common import write_atomic
from xunfang.serve.map_helpers import figure_height
from xunfang.units import WGS84

_TEXT: dict[str, dict[str, str]] = {
    "page_title": {"en": "hotspot forecast {date}", "zh": "热点预测 {date}"},
    "h1": {
        "en": "Hotspot forecast: {window} window from {start}",
        "zh": "热点预测：自 {start} 起的{window}时段",
    },
    "command": {"en": "Command", "zh": "命令"},
    "h_on": {"en": "What it was computed on", "zh": "计算依据"},
    "on_window": {
        "en": "Window: {start} to {end} ({window}).",
        "zh": "时段：{start} 至 {end}（{window}）。",
    },
    "on_area": {
        "en": "Area: {area}, {cells:,} cells of {cell_m:g} m ({crs}); map coordinates in {frame}.",
        "zh": "区域：{area}，{cells:,} 个 {cell_m:g} 米网格（{crs}）；地图坐标为 {frame}。",
    },
    "on_data": {
        "en": "Data: {first} to {last} in the input; the history used ends at {end}{gap}{within}.",
        "zh": "数据：输入数据覆盖 {first} 至 {last}；所用历史截至 {end}{gap}{within}。",
    },
    "on_within": {"en": " and goes back {days} days", "zh": "，回看 {days} 天"},
    "on_gap": {
        "en": " (the local midnight after the last incident: the {days:.0f} days from there to "
        "the window hold no data, and the forecast assumes nothing has changed since)",
        "zh": "（最后一起警情之后的当地午夜：此后至预测时段的 {days:.0f} 天没有数据，"
        "预测假定其间一切未变）",
    },
    "types": {"en": "types", "zh": "类别"},
    "method": {"en": "method", "zh": "方法"},
    "chosen": {"en": "chosen", "zh": "所选方法"},
    "history": {"en": "history used", "zh": "使用的历史"},
    "incidents": {"en": "incidents", "zh": "警情"},
    "expected": {"en": "expected in window", "zh": "时段内预计警情"},
    "seconds": {"en": "s", "zh": "秒"},
    "h_why": {"en": "Why these methods", "zh": "为何选择这些方法"},
    "fixed": {"en": "fixed method (no selection)", "zh": "固定方法（未做选择）"},
    "p_selection": {
        "en": "Each candidate was scored on the windows of the same kind before the forecast "
        "window, each forecast from the incidents before it (score: mean hit rate at 1, 5 and "
        "20 % of the area); the simplest candidate within one standard error of the best was "
        "chosen (Hastie, Tibshirani &amp; Friedman, ESL 7.10; standard error of the paired "
        "per-window differences). Candidates are listed simplest first. The preferred candidate "
        "(<code>gbm</code> by default; <code>auto:prefer=none</code>: none) replaces that "
        "choice when it is itself within one standard error and its mean score is no lower: "
        "on days never chosen on, the learned forecaster was the more accurate.",
        "zh": "每个候选方法都在预测时段之前的同类时段上计分，每个时段只用其之前的警情预测（得分："
        "1%、5% 和 20% 面积下的平均命中率）；选取与最佳者相差不超过一个标准误的最简单候选"
        "（Hastie、Tibshirani 与 Friedman，ESL 7.10；标准误取自逐时段配对差值）。"
        "候选按由简到繁排列。若优先候选（默认 <code>gbm</code>；<code>auto:prefer=none</code> "
        "表示不设优先）本身也在一个标准误之内且平均得分不低于该候选，则改选优先候选：在未参与"
        "选择的日期上，学习型预测更准确。",
    },
    "h_maps": {"en": "Maps", "zh": "地图"},
    "p_maps": {
        "en": "The top 5 % of the cells by expected incidents (darker = higher); the top 1 % "
        "outlined. Every cell's risk and rank: <code>forecast.geojson</code>; the top cells at "
        "1, 5 and 20 %: <code>hotspots.csv</code>.",
        "zh": "按预计警情数排名前 5% 的网格（颜色越深数值越高），前 1% 加黑框。每个网格的风险与"
        "排名见 <code>forecast.geojson</code>；1%、5% 和 20% 的热点网格见 "
        "<code>hotspots.csv</code>。",
    },
    "study_area": {"en": "study area", "zh": "研究区域"},
    "colour": {"en": "expected", "zh": "预计警情"},
    "hover": {"en": "rank {rank}, cell {cell}", "zh": "排名 {rank}，网格 {cell}"},
    "top5": {"en": "top 5 % ({n} cells)", "zh": "前 5%（{n} 个网格）"},
    "col_candidate": {"en": "candidate", "zh": "候选方法"},
    "col_complexity": {"en": "complexity order (0 = simplest)", "zh": "复杂度序号（0 = 最简单）"},
    "col_windows": {"en": "windows", "zh": "验证时段数"},
    "col_score_mean": {"en": "mean validation score", "zh": "平均验证得分"},
    "col_diff_to_best": {"en": "below the best", "zh": "低于最佳"},
    "col_se_diff": {"en": "standard error", "zh": "标准误"},
    "col_within_1se": {"en": "within 1 SE", "zh": "在 1 个标准误内"},
    "col_chosen": {"en": "chosen", "zh": "选中"},
    "col_seconds": {"en": "seconds", "zh": "用时（秒）"},
    "col_hit_rate": {"en": "hit rate {pct} %", "zh": "命中率 {pct} %"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "lon": {"en": "longitude", "zh": "经度"},
    "lat": {"en": "latitude", "zh": "纬度"},
}
"""The prediction report's words in English and Chinese (``--lang``); the files beside it
keep their English column names."""


_SELECTION_COLUMNS = (
    "candidate",
    "complexity",
    "windows",
    "score_mean",
    "diff_to_best",
    "se_diff",
    "within_1se",
    "chosen",
    "seconds",
)
"""The columns of a selection's table that the report names in its language (``col_*``
texts of :data:`_TEXT`)."""


def selection_table(table: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """A selection's candidate table as the report shows it: headers in ``lang`` (``hr_f``
    as "hit rate f %"), yes/no in words; the CSV and JSON keep the column names."""
    out = table.drop(columns="family", errors="ignore").copy()
    yes, no = text("yes", lang), text("no", lang)
    for col in ("within_1se", "chosen"):
        if col in out:
            out[col] = [yes if bool(v) else no for v in out[col]]
    names = {c: text(f"col_{c}", lang) for c in _SELECTION_COLUMNS if c in out.columns}
    for c in out.columns:
        if c.startswith("hr_"):
            names[c] = text("col_hit_rate", lang, pct=f"{100 * float(c[3:]):g}")
    return out.rename(columns=names)


def text(key: str, lang: str = "en", **kw: Any) -> str:
    """The report's text ``key`` in ``lang`` with ``kw`` filled in.

    Raises
    ------
    KeyError
        If ``key`` is not in the catalogue or ``lang`` is not ``en`` or ``zh``.
    """
    return _TEXT[key][lang].format(**kw)


def group_text(group: str, lang: str = "en") -> str:
    """A forecast group for a reader in ``lang``: for ``zh`` the type group's Chinese name
    from the taxonomy with its key (``交通（traffic）``), ``全部`` for ``all``; a type of
    the data, and any group in ``en``, as it is."""
    if lang != "zh":
        return group
    if group == "all":
        return "全部"
    from xunfang.ingest.taxonomy import load_taxonomy

    label = load_taxonomy().label(group, "zh")
    return f"{label}（{group}）" if label != group else group


HOTSPOT_FRACTIONS = (0.01, 0.05, 0.20)
"""Coverages listed in ``hotspots.csv``."""


def _slug(group: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in group.lower()).strip("_")


def cells_frame(run: PredictionRun, output_frame: str = "wgs84") -> gpd.GeoDataFrame:
    """Every active cell as a polygon in ``output_frame`` (WGS-84 lon/lat, or GCJ-02 /
    BD-09 for Chinese map platforms) with ``cell, centre_lon, centre_lat`` and, per group
    ``g``, ``risk_<g>`` (expected incidents in the window) and ``rank_<g>`` (1 = highest)."""
    grid = run.grid
    cells = np.flatnonzero(grid.mask)
    centres = gpd.GeoSeries(gpd.points_from_xy(*grid.centres(cells).T), crs=grid.crs).to_crs(WGS84)
    data: dict[str, Any] = {
        "cell": cells,
        "centre_lon": centres.x.to_numpy(),
        "centre_lat": centres.y.to_numpy(),
    }
    for g in run.groups:
        data[f"risk_{_slug(g.group)}"] = g.forecast.risk[cells]
        data[f"rank_{_slug(g.group)}"] = ranks(g.forecast.risk, grid.mask)[cells]
    frame = gpd.GeoDataFrame(data, geometry=grid.cell_boxes(cells), crs=grid.crs).to_crs(WGS84)
    return to_output_frame(frame, output_frame)


def hotspots(cells: pd.DataFrame, run: PredictionRun) -> pd.DataFrame:
    """The ``floor(f * n_active)`` highest-risk cells of each group at each coverage of
    :data:`HOTSPOT_FRACTIONS` (ties at the cut-off broken with the run's seed, as
    :meth:`xunfang.analyse.forecast.Forecast.top_cells`), those of risk above 0 only: a
    group forecast 0 in most cells lists fewer, one forecast 0 everywhere (absent from the
    area) none, rather than cells picked at random among zeros."""
    by_cell = cells.set_index("cell")
    out = []
    for g in run.groups:
        for f in HOTSPOT_FRACTIONS:
            top = g.forecast.top_cells(f, seed=run.spec.seed)
            top = top[g.forecast.risk[top] > 0]
            part = by_cell.loc[top, ["centre_lon", "centre_lat"]].reset_index()
            part.insert(0, "group", g.group)
            part.insert(1, "coverage", f)
            part.insert(2, "rank", np.arange(1, len(top) + 1))
            part["risk"] = g.forecast.risk[top]
            out.append(part)
    out = [part for part in out if len(part)]
    if not out:
        columns = ["group", "coverage", "rank", "cell", "centre_lon", "centre_lat", "risk"]
        return pd.DataFrame(columns=columns)
    return pd.concat(out, ignore_index=True)


def map_figure(cells: pd.DataFrame, run: PredictionRun, group: str, lang: str = "en") -> go.Figure:
    """The top 5 % cells of ``group`` by risk (darker = higher), the top 1 % outlined."""
    g = next(x for x in run.groups if x.group == group)
    slug = _slug(group)
    k5 = int(np.floor(0.05 * run.grid.n_active + 1e-9))
    k1 = int(np.floor(0.01 * run.grid.n_active + 1e-9))
    sub = cells[(cells[f"rank_{slug}"] <= max(k5, 1)) & (cells[f"risk_{slug}"] > 0)]
    sub = sub.sort_values(f"rank_{slug}")
    lon, lat = cells["centre_lon"], cells["centre_lat"]
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    span_m = max((bounds[2] - bounds[0]) * 111_320 * np.cos(np.radians(bounds[1])), 1.0)
    size = float(np.clip(0.9 * 800 * run.grid.cell_m / span_m, 3, 40))  # a cell, in pixels
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=cells["centre_lon"],
            y=cells["centre_lat"],
            mode="markers",
            marker={"size": size, "symbol": "square", "color": "#e4e4e4"},
            name=text("study_area", lang),
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=sub["centre_lon"],
            y=sub["centre_lat"],
            mode="markers",
            marker={
                "size": size,
                "symbol": "square",
                "color": sub[f"risk_{slug}"],
                "colorscale": "YlOrRd",
                "colorbar": {"title": text("colour", lang)},
                "line": {
                    "width": [1.2 if r <= k1 else 0 for r in sub[f"rank_{slug}"]],
                    "color": "#000",
                },
            },
            text=[
                text("hover", lang, rank=r, cell=c)
                for r, c in zip(sub[f"rank_{slug}"], sub["cell"], strict=True)
            ],
            name=text("top5", lang, n=len(sub)),
        )
    )
    fig.update_layout(
        title=f"{group_text(group, lang)}: {g.chosen}",
        height=figure_height(bounds, 900),
        xaxis={"title": text("lon", lang)},
        yaxis={
            "title": text("lat", lang),
            "scaleanchor": "x",
            "scaleratio": 1 / np.cos(np.radians(bounds[1])),
        },
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        showlegend=True,
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def why(g: GroupForecast, lang: str = "en") -> str:
    """Why ``g`` was forecast as it was, in ``lang``: ``auto``'s reason, the fallback
    note, or that the method was fixed by the user."""
    if g.fallback:
        return g.fallback_zh if lang == "zh" else g.fallback
    if g.selection is not None:
        return g.selection.reason(lang)
    return text("fixed", lang)


def selection_frames(run: PredictionRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All groups' selection tables, each row with its group's reason in English and
    Chinese and the time of the chosen model's last full fit (as ``forecast evaluate``
    writes them), and validation scores (empty for a fixed method). A group without a
    selection (a fixed method, a fallback to naive counts, a group absent from the area)
    has one row: the spec that forecast it, chosen, with why (a reader of the file finds
    every group; two new-user tests missed the fallback groups and fixed methods)."""
    tabs = [
        (
            g.selection.table
            if g.selection is not None
            else pd.DataFrame({"candidate": [g.chosen], "chosen": [True]})
        ).assign(
            group=g.group,
            reason=why(g, "en"),
            reason_zh=why(g, "zh"),
            model_fitted_on=g.selection.model_fitted_on if g.selection else "",
        )
        for g in run.groups
    ]
    scores = [g.selection.scores.assign(group=g.group) for g in run.groups if g.selection]
    return (
        pd.concat(tabs, ignore_index=True) if tabs else pd.DataFrame(),
        pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(),
    )


def write_prediction(
    run: PredictionRun,
    out_dir: str | Path,
    *,
    output_frame: str = "wgs84",
    command: str = "",
    lang: str = "en",
) -> dict[str, Path]:
    """Write ``forecast.geojson``, ``hotspots.csv``, ``selection.csv`` and
    ``selection.json`` (every group: what forecast it and why),
    ``selection_scores.csv`` (validation scores, method ``auto``), ``importance.csv``
    (a ``gbm`` forecast), ``run.json`` and ``report.html`` (in ``lang``, ``en`` or ``zh``;
    the other files are the same in every language) to ``out_dir``."""
    out = Path(out_dir)
    written: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        written[name] = write_atomic(out / name, text)

    cells = cells_frame(run, output_frame)
    put("forecast.geojson", cells.to_json(drop_id=True))
    table = pd.DataFrame(cells.drop(columns="geometry"))
    put("hotspots.csv", hotspots(table, run).to_csv(index=False))
    tabs, scores = selection_frames(run)
    put("selection.csv", tabs.to_csv(index=False))
    if len(scores):
        put("selection_scores.csv", scores.to_csv(index=False))
    sel = [
        (
            g.selection.to_dict()
            if g.selection is not None
            else {"chosen": g.chosen, "reason": why(g, "en"), "reason_zh": why(g, "zh")}
        )
        | {"group": g.group, "fallback": bool(g.fallback)}
        for g in run.groups
    ]
    put("selection.json", strict_json.dumps(sel, indent=1, default=str))
    summary = run_summary(run, output_frame, command)
    imp = [g.importance.assign(group=g.group) for g in run.groups if g.importance is not None]
    if imp:  # gbm: what makes a cell hot (share of split gain)
        put("importance.csv", pd.concat(imp, ignore_index=True).to_csv(index=False))
    put("run.json", strict_json.dumps(summary, indent=2, default=str))
    figs = {
        g.group: map_figure(table, run, g.group, lang).to_html(
            full_html=False, include_plotlyjs=False, config={"displaylogo": False}
        )
        for g in run.groups
    }
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )
    from xunfang.serve.forecast_report import (
        area_text,
        context_note_text,
        input_notes,
        window_text,
    )

    window = window_text(run.spec.window, lang)
    lookback = run.spec.lookback_days
    gap_days = summary["history_gap_days"]
    html = env.get_template("predict_report.html").render(
        lang=lang,
        t={k: v[lang] for k, v in _TEXT.items()},
        page_title=text("page_title", lang, date=run.window.start.date()),
        h1=text("h1", lang, window=window, start=run.window.start),
        on_window=text(
            "on_window", lang, start=run.window.start, end=run.window.end, window=window
        ),
        on_area=text(
            "on_area",
            lang,
            area=area_text(run.area_name, lang),
            cells=run.grid.n_active,
            cell_m=run.grid.cell_m,
            crs=run.grid.crs.to_string(),
            frame=output_frame,
        ),
        on_data=text(
            "on_data",
            lang,
            first=summary["data_span"][0],
            last=summary["data_span"][1],
            end=summary["history_end"],
            gap=text("on_gap", lang, days=gap_days) if gap_days >= 1 else "",
            within=text("on_within", lang, days=int(lookback)) if lookback else "",
        ),
        context_note=context_note_text(run.context_note, lang) if run.context_note else "",
        group_label={g.group: group_text(g.group, lang) for g in run.groups},
        why={g.group: why(g, lang) for g in run.groups},
        input_notes=input_notes(run.ingest_report, lang),
        run=run,
        summary=summary,
        figs=figs,
        selections={
            g.group: selection_table(g.selection.table, lang).to_html(
                index=False, border=0, classes="t", float_format=lambda v: f"{v:.3f}"
            )
            for g in run.groups
            if g.selection
        },
        command=command,
        plotlyjs=get_plotlyjs(),
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    put("report.html", html)
    return written


def run_summary(run: PredictionRun, output_frame: str, command: str = "") -> dict[str, Any]:
    """What the forecast was computed on, JSON-ready."""
    spec = run.spec
    return {
        "command": command,
        "window": {"kind": spec.window, "start": str(run.window.start), "end": str(run.window.end)},
        "area": run.area_name,
        "cell_m": run.grid.cell_m,
        "active_cells": run.grid.n_active,
        "grid_origin_m": [run.grid.x0, run.grid.y0],
        "crs": run.grid.crs.to_string(),
        "output_frame": output_frame,
        "lookback_days": spec.lookback_days,
        "history_end": str(run.history_end or run.window.start),
        "history_gap_days": round(run.history_gap_days, 3),
        "data_span": [str(run.data_span[0]), str(run.data_span[1])],
        "incident_files": [str(p) for p in spec.incident_files],
        "groups": [
            {
                "group": g.group,
                "method": g.method,
                "chosen": g.chosen,
                "why": why(g, "en"),
                "why_zh": why(g, "zh"),
                "fallback": bool(g.fallback),
                "n_train": g.n_train,
                "history_days": round(g.history_days, 3),
                "history": [str(g.history[0]), str(g.history[1])],
                "expected_incidents": round(g.forecast.expected_total, 3),
                "hour_share": None if g.hour_share is None else round(g.hour_share, 4),
                "hour_share_from": g.hour_share_from,
                "seconds": round(g.seconds, 3),
            }
            for g in run.groups
        ],
        "context": run.context_note,
        "seconds": round(run.seconds, 2),
        "ingest": run.ingest_report.to_dict() if run.ingest_report else None,
        "version": __version__,
    }
