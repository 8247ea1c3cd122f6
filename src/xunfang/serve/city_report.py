"""The city reports: one HTML page over every district of a city run, and the pieces they share.

Three pages use these pieces: the city booth plan (``city_report.html``, written by
``xunfang plan --area district:all``), the city deployment (``city_deploy_report.html``,
:mod:`xunfang.serve.city_deploy_report`) and the city simulation
(``city_simulation_report.html``, :mod:`xunfang.serve.city_sim_report`). Each has the same
look and the same parts, in English or Chinese (``lang``): a lead paragraph and figure cards
of the city, "computed on" lines (which plan, which incidents, which period, held out or
not), a map of the districts (WGS-84 outlines filled by the page's key figure, a labelled
marker per district), a table of all districts with a city row whose figures are the sums
of the districts' (shares and means recomputed from those sums: weighted, never a mean of
the districts' shares), links to each district's own report, and notes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import shapely
from plotly.colors import sample_colorscale
from plotly.offline import get_plotlyjs

from xunfang import __version__
from xunfang.errors import ValidationError
from xunfang.plan.city_plan import DistrictSummary, StationsOutside, area_folder, city_totals
from xunfang.serve._common import reason_text, write_atomic
from xunfang.serve.decisions_report import status_text

__all__ = [
    "LANGS",
    "Column",
    "area_label",
    "area_text",
    "check_lang",
    "city_map",
    "count",
    "district_map",
    "district_table",
    "earlier_notes",
    "failed_notes",
    "number",
    "percent",
    "render_city_html",
    "render_city_page",
    "report_links",
    "solver_status_text",
    "stations_outside_section",
    "translate",
    "write_city_report",
]

LANGS = ("en", "zh")

Catalogue = Mapping[str, Mapping[str, str]]

_TEXT: dict[str, dict[str, str]] = {
    # shared by the three pages
    "city": {"en": "city", "zh": "全市"},
    "area": {"en": "district", "zh": "辖区"},
    "report": {"en": "report", "zh": "报告"},
    "computed_on": {"en": "Computed on", "zh": "计算依据"},
    "map": {"en": "Map of the districts", "zh": "辖区地图"},
    "map_help": {
        "en": "Each district is filled by {what} (darker: higher); the marker's label is {label}.",
        "zh": "各辖区按{what}着色（颜色越深数值越高）；标注为{label}。",
    },
    "districts": {"en": "Districts", "zh": "各辖区"},
    "table_help": {
        "en": "The city row holds the sums of the districts' figures; its shares and means "
        "are recomputed from those sums (weighted by the districts' own counts), not "
        "averaged over districts. Each district's name links to its own report.",
        "zh": "“全市”一行为各辖区数值之和；其比例与均值由这些和重新计算（按各辖区自身的数量加权），"
        "而非各辖区比例的简单平均。点击辖区名称打开该辖区的报告。",
    },
    "notes": {"en": "Notes", "zh": "说明"},
    "generated": {"en": "xunfang {v} · {when}", "zh": "xunfang {v} · 生成于 {when}"},
    # the city booth plan
    "plan_title": {"en": "City booth plan: {n} districts", "zh": "全市岗亭布设方案：{n} 个辖区"},
    "plan_lead": {
        "en": "{incidents} incidents, {stations}{distinct} stations, {booths} booths. "
        "Incidents within the coverage threshold: {before} with stations alone, {after} with "
        "stations and booths (+{gain} incidents per booth). p-median proven optimal in "
        "{proven} of {n} districts, {more} more within its stopping gap (bound stated; "
        "largest gap {gap}).",
        "zh": "警情 {incidents} 起，派出所 {stations} 个{distinct}，岗亭 {booths} 个。"
        "覆盖标准内的警情："
        "仅派出所 {before}，派出所加岗亭 {after}（每个岗亭新增覆盖 {gain} 起）。"
        "p-中位模型在 {n} 个辖区中有 {proven} 个证明最优，另有 {more} 个在停止间隙内（给出下界；"
        "最大间隙 {gap}）。",
    },
    "card_incidents": {"en": "incidents", "zh": "警情"},
    "card_booths": {"en": "booths", "zh": "岗亭"},
    "card_before": {"en": "within the threshold, stations alone", "zh": "覆盖率（仅派出所）"},
    "card_after": {"en": "within the threshold, with booths", "zh": "覆盖率（派出所+岗亭）"},
    "plan_top": {
        "en": "Districts that gain most from each extra booth",
        "zh": "每增设一个岗亭收益最大的辖区",
    },
    "plan_top_item": {
        "en": "{area}: +{gain} incidents within the threshold per booth",
        "zh": "{area}：每个岗亭新增覆盖 {gain} 起警情",
    },
    "plan_map_what": {
        "en": "the incidents brought within the threshold per booth",
        "zh": "每个岗亭新增覆盖的警情数",
    },
    "plan_map_label": {"en": "district: booths", "zh": "辖区：岗亭数"},
    "plan_colour": {"en": "incidents / booth", "zh": "起/岗亭"},
    "plan_hover": {
        "en": "booths {booths}<br>within threshold {before} -> {after}<br>"
        "per booth +{gain} incidents",
        "zh": "岗亭 {booths} 个<br>覆盖率 {before} -> {after}<br>每个岗亭新增覆盖 {gain} 起",
    },
    "plan_on_incidents": {
        "en": "Incidents: {incidents} in the {n} districts (ingested once for the city); "
        "each district's plan is made on the incidents inside it.",
        "zh": "警情：{n} 个辖区内共 {incidents} 起（全市一次导入），各辖区方案只用其辖区内的警情。",
    },
    "plan_on_no_area": {
        "en": "Incidents in no district: {none} of the {total} ingested lie inside none of "
        "the districts' polygons and are in no plan.",
        "zh": "不在任何辖区内的警情：导入的 {total} 起中有 {none} 起不在任何辖区范围内，"
        "未计入任何方案。",
    },
    "plan_on_plans": {
        "en": "Plans: one MCLP and p-median per district, in the folders beside this page.",
        "zh": "方案：每个辖区各自求解 MCLP 与 p-中位模型，结果在本页旁的各辖区目录中。",
    },
    "h_incidents": {"en": "incidents", "zh": "警情"},
    "h_stations": {"en": "stations", "zh": "派出所"},
    "h_booths": {"en": "booths", "zh": "岗亭"},
    "h_before": {"en": "within threshold, stations", "zh": "覆盖率（仅派出所）"},
    "h_after": {"en": "with booths", "zh": "覆盖率（加岗亭）"},
    "h_gain": {"en": "incidents per booth", "zh": "每岗亭新增覆盖"},
    "h_mean_before": {"en": "mean s, stations", "zh": "平均到达（秒，仅派出所）"},
    "h_mean_after": {"en": "mean s, with booths", "zh": "平均到达（秒，加岗亭）"},
    "h_mclp": {"en": "MCLP", "zh": "MCLP"},
    "h_pmedian": {"en": "p-median", "zh": "p-中位"},
    "h_wall": {"en": "wall s", "zh": "用时（秒）"},
    "proven": {"en": "proven optimal", "zh": "已证明最优"},
    "within_gap": {
        "en": "within {gap} of its bound {bound}",
        "zh": "与下界 {bound} 相差不超过 {gap}",
    },
    "gap": {
        "en": "{status}, gap {gap} (bound {bound})",
        "zh": "{status}，间隙 {gap}（下界 {bound}）",
    },
    "failed_plan": {
        "en": "Not planned: {area}: {reason}. The city figures leave it out.",
        "zh": "未能规划：{area}：{reason}。全市数值不含该区域。",
    },
    "failed_deploy": {
        "en": "Not deployed: {area}: {reason}. The city figures leave it out.",
        "zh": "未能部署：{area}：{reason}。全市数值不含该区域。",
    },
    "failed_simulate": {
        "en": "Not simulated: {area}: {reason}. The city figures leave it out.",
        "zh": "未能模拟：{area}：{reason}。全市数值不含该区域。",
    },
    "earlier_folders": {
        "en": "{n} folder(s) beside this page are from an earlier run, not this one (left in "
        "place; listed under earlier_run_folders in {summary}): {folders}.",
        "zh": "本页旁有 {n} 个文件夹来自之前的运行，不是本次的结果（未删除；见 {summary} 的 "
        "earlier_run_folders）：{folders}。",
    },
    "outside_title": {
        "en": "Stations outside every district",
        "zh": "在所有辖区之外的派出所",
    },
    "outside_help": {
        "en": "{n} station(s) of {source} lie more than {buffer} m from every district, so "
        "they are in no district's plan (listed under stations_outside_areas in "
        "city_summary.json).",
        "zh": "{source} 中有 {n} 个派出所距每个辖区都超过 {buffer} 米，未用于任何辖区的方案"
        "（见 city_summary.json 的 stations_outside_areas）。",
    },
    "outside_name": {"en": "station", "zh": "派出所"},
    "outside_row": {"en": "row in the file", "zh": "文件中的行"},
    "outside_distance": {"en": "to the nearest district, m", "zh": "距最近辖区（米）"},
    "plan_note": {
        "en": "Map outlines: the districts' boundaries. City figures are sums of the "
        "districts' own plans; a booth serves its own district only.",
        "zh": "地图轮廓为各辖区边界。全市数值为各辖区方案之和；岗亭只服务本辖区。",
    },
}


_KIND_ZH = {"district": "{} 区", "beat": "{} 号巡区"}
"""How a numbered member of a boundary layer reads in Chinese (``district:1`` -> ``1 区``)."""


def area_text(area: str, lang: str) -> str:
    """A study area's name for a reader: the id (``area:西片,东片``, ``district:1``) as it
    is in English; in Chinese its members joined with ``、``, a number of a district or
    beat layer with its word (``西片、东片``, ``1 区``); bare names (``西片,东片``) the same
    way. CSV and JSON keep the id."""
    if lang != "zh":
        return area
    kind, sep, names = area.partition(":")
    if not sep:  # bare names (``西片,东片``)
        kind, names = "", area
    if not names:
        return area
    fmt = _KIND_ZH.get(kind, "{}")
    return "、".join(
        fmt.format(m.strip()) if m.strip().isdigit() else m.strip() for m in names.split(",")
    )


def area_label(area: str, lang: str) -> str:
    """A district's short map label: ``1`` (``district:1``) in English, :func:`area_text`
    (``1 区``) in Chinese."""
    return area_text(area, lang) if lang == "zh" else area.partition(":")[2] or area


def failed_notes(failed: Mapping[str, str] | None, lang: str, run: str) -> list[str]:
    """One note per district that ``failed`` (area -> reason) in a city ``run`` (``plan``,
    ``deploy`` or ``simulate``), in ``lang``."""
    return [
        translate({}, f"failed_{run}", lang, area=area_text(a, lang), reason=reason_text(r, lang))
        for a, r in (failed or {}).items()
    ]


def earlier_notes(folders: Sequence[str], lang: str, summary: str) -> list[str]:
    """The note naming the subfolders beside a city page left by an earlier run
    (:func:`xunfang.plan.city_plan.earlier_run_folders`, all of them), pointing to
    ``summary`` (the JSON that lists them); none when there are none."""
    if not folders:
        return []
    return [
        translate(
            {},
            "earlier_folders",
            lang,
            n=len(folders),
            summary=summary,
            folders=("、" if lang == "zh" else ", ").join(folders),
        )
    ]


def stations_outside_section(outside: StationsOutside | None, lang: str) -> list[tuple[str, str]]:
    """The city plan page's section on the stations in no district's plan (a heading and
    a table: name, row in the file, distance to the nearest district in metres); none
    when ``outside`` names none."""
    if outside is None or not outside.stations:
        return []
    esc = html.escape

    def tr(key: str, **kw: Any) -> str:
        return translate({}, key, lang, **kw)

    head = "".join(
        f"<th>{esc(tr(k))}</th>" for k in ("outside_name", "outside_row", "outside_distance")
    )
    body = "".join(
        f"<tr><td>{esc(str(r['name']))}</td><td>{int(r['source_row'])}</td>"
        f"<td>{esc(number(0)(r['distance_m']))}</td></tr>"
        for r in outside.stations
    )
    help_text = tr(
        "outside_help",
        n=len(outside.stations),
        source=outside.source,
        buffer=f"{outside.buffer_m:.0f}",
    )
    return [
        (
            tr("outside_title"),
            f'<p class="muted">{esc(help_text)}</p>'
            f'<table class="stations-outside"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>",
        )
    ]


def solver_status_text(status: str, lang: str) -> str:
    """A solver status (``optimal``, ``time_limit``, ``within_gap`` ...) in ``lang``
    (:func:`xunfang.serve.decisions_report.status_text`); an unknown status as it is."""
    return status_text(status, lang)


def translate(catalogue: Catalogue, key: str, lang: str, **kw: Any) -> str:
    """The text of ``key`` in ``lang`` from ``catalogue`` (a page's own) or, when it has no
    such key, from the shared catalogue of the city pages, with ``kw`` filled in.

    Raises
    ------
    KeyError
        If neither catalogue has ``key``.
    """
    entry = catalogue.get(key) or _TEXT[key]
    return entry[lang].format(**kw)


def check_lang(lang: str) -> None:
    """Refuse a report language other than ``en`` or ``zh``.

    Raises
    ------
    ValidationError
        Naming the option and the languages there are.
    """
    if lang not in LANGS:
        raise ValidationError(f"--lang must be one of {LANGS}, got {lang!r}")


# ------------------------------------------------------------------------------ formats
def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(float(x))


def count(x: Any) -> str:
    """A count with thousands separators (``1,234``); ``–`` for nan or None."""
    return f"{round(float(x)):,}" if _finite(x) else "–"


def number(digits: int) -> Callable[[Any], str]:
    """A formatter with ``digits`` decimals and thousands separators; ``–`` for nan."""

    def fmt(x: Any) -> str:
        return f"{float(x):,.{digits}f}" if _finite(x) else "–"

    return fmt


def percent(digits: int = 1) -> Callable[[Any], str]:
    """A formatter of a share (0-1) as a percentage; ``–`` for nan."""

    def fmt(x: Any) -> str:
        return f"{100 * float(x):.{digits}f}%" if _finite(x) else "–"

    return fmt


# ------------------------------------------------------------------------------ table
@dataclass(frozen=True)
class Column:
    """One column of a district table.

    Attributes
    ----------
    key
        Key of the figure in each row (and in the city row).
    header
        Column heading (already in the page's language).
    fmt
        Figure -> cell text (:func:`count`, :func:`number`, :func:`percent`, or the page's).
    """

    key: str
    header: str
    fmt: Callable[[Any], str]


def district_table(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    *,
    lang: str,
    total: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """An HTML table: a row per district (``row["area"]``, linked to ``links[area]`` when
    given), then the city row (``total``, class ``total``) when given."""
    esc = html.escape
    head = "".join(f"<th>{esc(c.header)}</th>" for c in columns)
    out = [f'<table class="districts"><tr><th>{esc(_TEXT["area"][lang])}</th>{head}</tr>']
    for r in rows:
        area = str(r["area"])
        link = (links or {}).get(area)
        shown = area_text(area, lang)
        name = f'<a href="{esc(link)}">{esc(shown)}</a>' if link else esc(shown)
        cells = "".join(f"<td>{esc(c.fmt(r.get(c.key)))}</td>" for c in columns)
        out.append(f'<tr data-area="{esc(area)}"><td>{name}</td>{cells}</tr>')
    if total is not None:
        cells = "".join(f"<td>{esc(c.fmt(total.get(c.key)))}</td>" for c in columns)
        out.append(f'<tr class="total"><td>{esc(_TEXT["city"][lang])}</td>{cells}</tr>')
    out.append("</table>")
    return "\n".join(out)


def report_links(areas: Sequence[str], out_dir: Path, name: str = "report.html") -> dict[str, str]:
    """Area -> relative link to its own report (``<area folder>/report.html``) for the
    areas whose report exists in ``out_dir``."""
    return {
        a: f"{area_folder(a)}/{name}" for a in areas if (out_dir / area_folder(a) / name).is_file()
    }


# ------------------------------------------------------------------------------ map
def _rings(geom: Any) -> list[Any]:
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    return [p.exterior for p in polys if not p.is_empty]


def district_map(
    areas: Sequence[str],
    values: Sequence[float],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    *,
    labels: Sequence[str],
    hover: Sequence[str],
    colour_title: str,
    points: Sequence[tuple[float, float]] | None = None,
    colorscale: str = "YlOrRd",
    tickformat: str = "",
) -> go.Figure:
    """The districts filled by a figure, with a labelled marker per district.

    Parameters
    ----------
    areas
        District names (keys of ``polygons_wgs84``; a district without a polygon gets its
        marker only).
    values
        The key figure of each district (nan: drawn grey).
    polygons_wgs84
        Area -> outline, EPSG:4326 degrees (lon, lat).
    labels, hover
        Marker label and hover text of each district.
    colour_title
        Title of the colour bar.
    points
        (lon, lat) of each marker, degrees; default a point inside each polygon.
    colorscale
        A plotly colour scale name (low to high).
    tickformat
        d3 format of the colour bar's ticks (e.g. ``".0%"`` for shares).
    """
    finite = [float(v) for v in values if _finite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    fig = go.Figure()
    pts: list[tuple[float, float]] = []
    for i, area in enumerate(areas):
        geom = polygons_wgs84.get(area)
        v = values[i]
        fill = (
            # the lowest district a light tint, not white (it is coloured, not missing)
            sample_colorscale(colorscale, [0.12 + 0.88 * (float(v) - lo) / span])[0]
            .replace("rgb(", "rgba(")
            .replace(")", ", 0.65)")
            if _finite(v)
            else "rgba(200, 200, 200, 0.5)"
        )
        if geom is not None:
            for ring in _rings(geom):
                x, y = ring.xy
                fig.add_trace(
                    go.Scatter(
                        x=list(x),
                        y=list(y),
                        mode="lines",
                        fill="toself",
                        fillcolor=fill,
                        line={"color": "#555", "width": 1},
                        hoverinfo="text",
                        hovertext=hover[i],
                        showlegend=False,
                    )
                )
        if points is not None:
            pts.append(points[i])
        elif geom is not None:
            p = geom.representative_point()
            pts.append((float(p.x), float(p.y)))
        else:
            pts.append((math.nan, math.nan))
    fig.add_trace(
        go.Scatter(
            x=[p[0] for p in pts],
            y=[p[1] for p in pts],
            mode="markers+text",
            text=list(labels),
            textposition="top center",
            hovertext=list(hover),
            hoverinfo="text",
            marker={
                "size": 12,
                "color": [float(v) if _finite(v) else math.nan for v in values],
                "colorscale": colorscale,
                "cmin": lo,
                "cmax": hi,
                "showscale": True,
                "colorbar": {"title": colour_title, "tickformat": tickformat},
                "line": {"color": "#333", "width": 1},
            },
            showlegend=False,
        )
    )
    lats = [p[1] for p in pts if math.isfinite(p[1])]
    lat0 = sum(lats) / len(lats) if lats else 0.0
    fig.update_layout(
        height=640,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={
            "visible": False,
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
        },
        plot_bgcolor="white",
    )
    return fig


# ------------------------------------------------------------------------------ page
_STYLE = """
 body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Microsoft YaHei",
        sans-serif; margin: 0 auto; max-width: 1300px; padding: 1rem 1.5rem; color: #222; }
 h1 { margin-bottom: .2rem; }
 h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
 .cards { display: flex; flex-wrap: wrap; gap: .8rem; }
 .card { background: #f4f6f8; border-radius: 6px; padding: .6rem 1rem; min-width: 170px; }
 .card b { display: block; font-size: 1.5rem; }
 table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
 th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
 th:first-child, td:first-child { text-align: left; }
 tr.total td { font-weight: bold; background: #f4f6f8; }
 .muted { color: #666; font-size: .85rem; }
"""


def render_city_page(
    *,
    lang: str,
    title: str,
    lead: str,
    cards: Sequence[tuple[str, str]],
    computed_on: Sequence[str],
    map_fig: go.Figure | None,
    map_help: str,
    sections: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
) -> str:
    """One city page (plotly.js embedded once: it opens offline).

    Parameters
    ----------
    lang
        ``en`` or ``zh`` (the page's headings; the other texts come translated).
    title, lead
        Heading and lead paragraph (plain text).
    cards
        (figure, what it is) of the city, plain text.
    computed_on
        What the figures were computed on (plain text, one line each).
    map_fig, map_help
        The district map (:func:`district_map`) and a line saying what its colours mean.
    sections
        (heading, HTML body) after the map, e.g. the district table.
    notes
        Plain-text notes at the end.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    check_lang(lang)
    esc = html.escape
    card_html = "".join(
        f'<div class="card"><b>{esc(big)}</b>{esc(small)}</div>' for big, small in cards
    )
    on = "".join(f"<li>{esc(line)}</li>" for line in computed_on)
    fig = (
        map_fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        if map_fig is not None
        else ""
    )
    body = "".join(f"<h2>{esc(h)}</h2>\n{b}\n" for h, b in sections)
    note_html = (
        f"<h2>{esc(_TEXT['notes'][lang])}</h2><ul>"
        + "".join(f"<li>{esc(n)}</li>" for n in notes)
        + "</ul>"
        if notes
        else ""
    )
    stamp = _TEXT["generated"][lang].format(
        v=__version__, when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_STYLE}</style>
<script>{get_plotlyjs()}</script></head><body>
<h1>{esc(title)}</h1>
<p>{esc(lead)}</p>
<div class="cards">{card_html}</div>
<h2>{esc(_TEXT["computed_on"][lang])}</h2>
<ul class="computed-on">{on}</ul>
<h2>{esc(_TEXT["map"][lang])}</h2>
<p class="muted">{esc(map_help)}</p>
{fig}
{body}
{note_html}
<p class="muted">{esc(stamp)}</p>
</body></html>
"""


# ------------------------------------------------------------------------------ the plan page
def city_map(
    summaries: Sequence[DistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    lang: str = "en",
) -> go.Figure:
    """The city plan's map: districts filled by the incidents brought within the threshold
    per booth, each labelled with its booth count (WGS-84)."""
    return district_map(
        [s.area for s in summaries],
        [s.gain_per_booth for s in summaries],
        polygons_wgs84,
        labels=[f"{area_label(s.area, lang)}: {s.booths}" for s in summaries],
        hover=[
            html.escape(area_text(s.area, lang))
            + "<br>"
            + _TEXT["plan_hover"][lang].format(
                booths=s.booths,
                before=percent(1)(s.share_before),
                after=percent(1)(s.share_after),
                gain=number(1)(s.gain_per_booth),
            )
            for s in summaries
        ],
        colour_title=_TEXT["plan_colour"][lang],
        points=[(s.lon, s.lat) for s in summaries],
    )


def render_city_html(
    summaries: Sequence[DistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    lang: str = "en",
    *,
    links: Mapping[str, str] | None = None,
    failed: Mapping[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
    earlier_folders: Sequence[str] = (),
    stations_outside: StationsOutside | None = None,
) -> str:
    """The city plan page: city totals, the map, the districts by gain per booth, the table;
    the districts that ``failed`` (area -> reason) are named first, with their reasons;
    ``counts`` (``incidents_total``, ``incidents_in_no_area``, ``stations_distinct``, as
    :func:`xunfang.plan.city_plan.city_totals` takes them) add the incidents inside no
    district to the "computed on" lines. The stations in no district's plan
    (``stations_outside``) get a table after the districts'; the folders beside the page
    from an earlier run (``earlier_folders``) a note.

    Raises
    ------
    ValidationError
        For a language other than ``en`` or ``zh``.
    """
    check_lang(lang)
    t = city_totals(summaries, **(counts or {}))
    pct = percent(1)

    def tr(key: str, **kw: Any) -> str:
        return translate(_TEXT, key, lang, **kw)

    def pm_text(s: Mapping[str, Any]) -> str:
        if s["pmedian_proven"]:
            return tr("proven")
        if s["pmedian_status"] == "within_gap":
            return tr(
                "within_gap",
                gap=percent(3)(s["pmedian_gap"]),
                bound=count(s["pmedian_bound"]),
            )
        return tr(
            "gap",
            status=solver_status_text(s["pmedian_status"], lang),
            gap=percent(3)(s["pmedian_gap"]),
            bound=count(s["pmedian_bound"]),
        )

    columns = [
        Column("incidents", tr("h_incidents"), count),
        Column("stations", tr("h_stations"), count),
        Column("booths", tr("h_booths"), count),
        Column("share_before", tr("h_before"), pct),
        Column("share_after", tr("h_after"), pct),
        Column("gain_per_booth", tr("h_gain"), number(1)),
        Column("mean_before_s", tr("h_mean_before"), number(0)),
        Column("mean_after_s", tr("h_mean_after"), number(0)),
        Column("mclp_status", tr("h_mclp"), lambda v: solver_status_text(str(v or ""), lang)),
        Column("pmedian_text", tr("h_pmedian"), str),
        Column("wall_time_s", tr("h_wall"), number(1)),
    ]
    rows = [{**s.to_dict(), "pmedian_text": pm_text(s.to_dict())} for s in summaries]
    total = {**t, "mclp_status": "", "pmedian_text": f"{t['pmedian_proven']}/{t['districts']}"}
    total["wall_time_s"] = t["wall_time_s_sum"]
    # a station serving two districts is in both rows: the city row counts it once
    distinct = ""
    if "stations_distinct" in t:
        total["stations"] = t["stations_distinct"]
        distinct = " distinct" if lang == "en" else "（不重复计）"
    ranked = sorted(summaries, key=lambda s: -s.gain_per_booth if s.booths else math.inf)
    top = "".join(
        "<li>"
        + html.escape(
            tr("plan_top_item", area=area_text(s.area, lang), gain=number(1)(s.gain_per_booth))
        )
        + "</li>"
        for s in ranked[:5]
    )
    return render_city_page(
        lang=lang,
        title=tr("plan_title", n=t["districts"]),
        lead=tr(
            "plan_lead",
            incidents=count(t["incidents"]),
            stations=total["stations"],
            distinct=distinct,
            booths=t["booths"],
            before=pct(t["share_before"]),
            after=pct(t["share_after"]),
            gain=number(1)(t["gain_per_booth"]),
            proven=t["pmedian_proven"],
            # pmedian_within_gap counts the proven ones too
            more=t["pmedian_within_gap"] - t["pmedian_proven"],
            n=t["districts"],
            gap=percent(3)(t["pmedian_max_gap"]),
        ),
        cards=[
            (count(t["incidents"]), tr("card_incidents")),
            (count(t["booths"]), tr("card_booths")),
            (pct(t["share_before"]), tr("card_before")),
            (pct(t["share_after"]), tr("card_after")),
        ],
        computed_on=[
            tr("plan_on_incidents", incidents=count(t["incidents"]), n=t["districts"]),
            *(
                [
                    tr(
                        "plan_on_no_area",
                        none=count(t["incidents_in_no_area"]),
                        total=count(t["incidents_total"]),
                    )
                ]
                if "incidents_in_no_area" in t and "incidents_total" in t
                else []
            ),
            tr("plan_on_plans"),
        ],
        map_fig=city_map(summaries, polygons_wgs84, lang),
        map_help=tr("map_help", what=tr("plan_map_what"), label=tr("plan_map_label")),
        sections=[
            (tr("plan_top"), f"<ol>{top}</ol>"),
            (
                tr("districts"),
                f'<p class="muted">{html.escape(tr("table_help"))}</p>'
                + district_table(columns, rows, lang=lang, total=total, links=links),
            ),
            *stations_outside_section(stations_outside, lang),
        ],
        notes=[
            *failed_notes(failed, lang, "plan"),
            *earlier_notes(earlier_folders, lang, "city_summary.json"),
            tr("plan_note"),
        ],
    )


def write_city_report(
    summaries: Sequence[DistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    out_dir: Path,
    lang: str = "en",
    failed: Mapping[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
    earlier_folders: Sequence[str] = (),
    stations_outside: StationsOutside | None = None,
) -> Path:
    """Write ``city_report.html`` into ``out_dir`` (linking the districts' ``report.html``
    found there; naming the districts that ``failed``, area -> reason; ``counts``,
    ``earlier_folders`` and ``stations_outside`` as :func:`render_city_html` takes them)."""
    links = report_links([s.area for s in summaries], out_dir)
    return write_atomic(
        out_dir / "city_report.html",
        render_city_html(
            summaries,
            polygons_wgs84,
            lang,
            links=links,
            failed=failed,
            counts=counts,
            earlier_folders=earlier_folders,
            stations_outside=stations_outside,
        ),
    )
