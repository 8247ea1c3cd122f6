"""The city summary report: one HTML page over every district's plan (table and map)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import shapely
from plotly.offline import get_plotlyjs

from xunfang.plan.city_plan import DistrictSummary, city_totals
from xunfang.serve._common import write_atomic


def _rings(geom: Any) -> list[Any]:
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    return [p.exterior for p in polys if not p.is_empty]


def city_map(
    summaries: Sequence[DistrictSummary], polygons_wgs84: Mapping[str, shapely.Geometry]
) -> go.Figure:
    """District outlines (WGS-84) with a marker per district coloured by the incidents brought
    within the threshold per booth, labelled with its booth count."""
    fig = go.Figure()
    for s in summaries:
        geom = polygons_wgs84.get(s.area)
        if geom is None:
            continue
        for ring in _rings(geom):
            x, y = ring.xy
            fig.add_trace(
                go.Scatter(
                    x=list(x),
                    y=list(y),
                    mode="lines",
                    line={"color": "#555", "width": 1},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[s.lon for s in summaries],
            y=[s.lat for s in summaries],
            mode="markers+text",
            text=[f"{s.area.partition(':')[2]}: {s.booths}" for s in summaries],
            textposition="top center",
            hovertext=[
                f"{s.area}<br>booths {s.booths}<br>within threshold {s.share_before:.1%} -> "
                f"{s.share_after:.1%}<br>per booth +{s.gain_per_booth:.1f} incidents"
                for s in summaries
            ],
            hoverinfo="text",
            marker={
                "size": 14,
                "color": [s.gain_per_booth for s in summaries],
                "colorscale": "YlOrRd",
                "showscale": True,
                "colorbar": {"title": "incidents / booth"},
            },
            showlegend=False,
        )
    )
    lat0 = sum(s.lat for s in summaries) / max(len(summaries), 1)
    fig.update_layout(
        height=760,
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


def render_city_html(
    summaries: Sequence[DistrictSummary], polygons_wgs84: Mapping[str, shapely.Geometry]
) -> str:
    """The page: city totals, the map, the districts by gain per booth, the full table."""
    t = city_totals(summaries)
    esc = html.escape
    rows = []
    for s in summaries:
        if s.pmedian_proven:
            pm = "proven optimal"
        elif s.pmedian_status == "within_gap":
            pm = f"within {s.pmedian_gap:.3%} of its bound {s.pmedian_bound:,.0f}"
        else:
            pm = f"{esc(s.pmedian_status)}, gap {s.pmedian_gap:.3%} (bound {s.pmedian_bound:,.0f})"
        rows.append(
            f"<tr><td>{esc(s.area)}</td><td>{s.incidents:,}</td><td>{s.stations}</td>"
            f"<td>{s.booths}</td><td>{s.share_before:.1%}</td><td>{s.share_after:.1%}</td>"
            f"<td>{s.gain_per_booth:.1f}</td><td>{s.mean_before_s:.0f}</td>"
            f"<td>{s.mean_after_s:.0f}</td><td>{esc(s.mclp_status)}</td><td>{pm}</td>"
            f"<td>{s.wall_time_s:.1f}</td></tr>"
        )
    ranked = sorted(summaries, key=lambda s: -s.gain_per_booth if s.booths else math.inf)
    top = "".join(
        f"<li>{esc(s.area)}: +{s.gain_per_booth:.1f} incidents within the threshold per booth</li>"
        for s in ranked[:5]
    )
    fig = city_map(summaries, polygons_wgs84).to_html(full_html=False, include_plotlyjs=False)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>City booth plan</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:1.5rem}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}}</style></head><body>
<h1>City booth plan: {t["districts"]} districts</h1>
<p>{t["incidents"]:,} incidents, {t["stations"]} stations, {t["booths"]} booths. Incidents within
the coverage threshold: {t["share_before"]:.1%} with stations alone, {t["share_after"]:.1%} with
stations and booths (+{t["gain_per_booth"]:.1f} incidents per booth). p-median proven optimal in
{t["pmedian_proven"]} of {t["districts"]} districts (largest gap {t["pmedian_max_gap"]:.3%}).</p>
<h2>Districts that gain most from each extra booth</h2><ol>{top}</ol>
{fig}
<h2>Districts</h2>
<table><tr><th>area</th><th>incidents</th><th>stations</th><th>booths</th>
<th>within threshold, stations</th><th>with booths</th><th>incidents per booth</th>
<th>mean s, stations</th><th>with booths</th><th>MCLP</th><th>p-median</th><th>wall s</th></tr>
{"".join(rows)}</table>
<p>Map outlines: police district boundaries. Figures are sums of the districts' own plans.</p>
</body></html>
"""


def write_city_report(
    summaries: Sequence[DistrictSummary],
    polygons_wgs84: Mapping[str, shapely.Geometry],
    out_dir: Path,
) -> Path:
    """Write ``city_report.html`` into ``out_dir``."""
    return write_atomic(out_dir / "city_report.html", render_city_html(summaries, polygons_wgs84))
