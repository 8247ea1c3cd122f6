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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from xunfang import __version__, strict_json
from xunfang.serve._common import OSM_ATTRIBUTION
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


def comparison_table(cmp: Comparison) -> pd.DataFrame:
    """One row per figure, per scenario a mean and a 95 % half-width column."""
    rows = []
    for key, label, scale, digits, unit in ROWS:
        if not any(
            key in r.estimates and math.isfinite(r.estimates[key].mean)
            for r in cmp.results.values()
        ):
            continue
        row: dict[str, Any] = {"metric": key, "label": label.strip()}
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


def figures(cmp: Comparison) -> dict[str, str]:
    """The report's charts as HTML fragments."""
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
                name=VARIANT_LABELS[v],
                marker_color=COLOURS[v],
                boxpoints=False,
            )
        )
    _layout(
        fig,
        "Response time by priority (call to on scene)",
        boxmode="group",
        yaxis_title="minutes",
        xaxis={"categoryorder": "category ascending"},
    )
    figs["response"] = _html(fig)
    # share within 1/3/5 min
    fig = go.Figure()
    for v, res in cmp.results.items():
        est = [res.estimates[f"share_response_within_{m}min"] for m in RINGS_MIN]
        fig.add_trace(
            go.Bar(
                x=[f"≤ {m} min" for m in RINGS_MIN],
                y=[100 * e.mean for e in est],
                error_y={
                    "type": "data",
                    "array": [
                        100 * e.half_width if math.isfinite(e.half_width) else 0 for e in est
                    ],
                },
                name=VARIANT_LABELS[v],
                marker_color=COLOURS[v],
            )
        )
    _layout(fig, "Share of calls with a unit on scene within 1, 3 and 5 minutes", yaxis_title="%")
    figs["rings"] = _html(fig)
    # utilisation by unit kind
    fig = go.Figure()
    kinds = ["station_car", "patrol", "booth", "response_team"]
    for v, res in cmp.results.items():
        present = [k for k in kinds if f"utilisation_{k}" in res.estimates]
        fig.add_trace(
            go.Bar(
                x=[k.replace("_", " ") for k in present],
                y=[100 * res.estimates[f"utilisation_{k}"].mean for k in present],
                name=VARIANT_LABELS[v],
                marker_color=COLOURS[v],
            )
        )
    _layout(fig, "Unit utilisation (busy time / on-duty time)", yaxis_title="%", barmode="group")
    figs["utilisation"] = _html(fig)
    # components
    fig = go.Figure()
    parts = [
        ("mean_call_processing_s", "call processing", "#9ecae1"),
        ("mean_queue_s", "queueing", "#fc9272"),
        ("mean_dispatch_delay_s", "dispatch delay", "#a1d99b"),
        ("mean_travel_s", "travel", "#6baed6"),
    ]
    names = [VARIANT_LABELS[v] for v in cmp.results]
    for key, label, colour in parts:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[res.estimates[key].mean for res in cmp.results.values()],
                name=label,
                marker_color=colour,
            )
        )
    _layout(fig, "Mean response time by component", yaxis_title="seconds", barmode="stack")
    figs["components"] = _html(fig)
    # queueing by hour of day: dropped when no call waited (an all-zero curve says nothing)
    fig = go.Figure()
    start_h = cmp.prepared.period.start_hour
    waited = any(
        float(np.nan_to_num(cmp.all_calls[v]["queue_s"].to_numpy(), nan=0.0).max(initial=0.0)) > 0
        for v in cmp.results
    )
    if not waited:
        figs["queue"] = (
            '<p class="muted">No chart of queueing delay by hour: no call waited for a unit in '
            "any scenario (the delay is zero at every hour).</p>"
        )
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
                name=VARIANT_LABELS[v],
                line={"color": COLOURS[v]},
            )
        )
    _layout(
        fig,
        "Mean queueing delay by hour of day of the call",
        xaxis_title="local hour",
        yaxis_title="seconds",
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


def _workload_figure(table: pd.DataFrame) -> str:
    if len(table) < MIN_WORKLOAD_POINTS:
        return (
            f'<p class="muted">No chart of busy hours against incidents: only {len(table)} '
            f"districts, too few points for the comparison to say anything (at least "
            f"{MIN_WORKLOAD_POINTS}); the table above has the figures.</p>"
        )
    fig = go.Figure(
        go.Scatter(
            x=table["incidents"],
            y=table["busy_hours"],
            mode="markers+text",
            text=table["district"],
            textposition="top center",
            marker={"size": 9, "color": "#2171b5"},
            name="district",
        )
    )
    corr = float(np.corrcoef(table["incidents"], table["busy_hours"])[0, 1])
    _layout(
        fig,
        f"Simulated busy hours against incidents per district (Pearson r = {corr:.3f})",
        xaxis_title="incidents (calls) in the month",
        yaxis_title="unit busy hours on the district's calls",
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


def notes(cmp: Comparison) -> list[str]:
    """Modelling notes and sources, for the report."""
    prep = cmp.prepared
    t = prep.table
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
            if prep.scenario.scenario.preemption
            else "no preemption."
        ),
        "Units return to their post (or patrol route) after each call and can be dispatched "
        "on the way, from the scene's node. Booth officers only take calls within their "
        "area (max travel time); the response team only calls of its priority.",
        "Travel times come from the OpenStreetMap street graphs with imputed class speeds; "
        "every street is two-way (the source graphs are walk networks without one-way data). "
        "Vehicle travel times are multiplied by the hour-of-day factor; officers on foot by "
        f"{t.foot_factor:g}.",
        "Replications use independent seeds; every compared scenario sees the same calls and "
        "random draws in a replication (common random numbers). ± is the 95 % Student-t "
        "half-width over replications.",
        f"Road data {OSM_ATTRIBUTION}.",
    ]
    for v, why in cmp.skipped.items():
        out.append(f"Scenario '{VARIANT_LABELS.get(v, v)}' skipped: {why}.")
    return out


def write_simulation(cmp: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write the report and tables; returns name -> path of every file written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table = comparison_table(cmp)
    p = out / "comparison.csv"
    table.drop(columns=[c for c in table.columns if c.endswith("_text")]).to_csv(p, index=False)
    written["comparison.csv"] = p
    p = out / "summary.json"
    p.write_text(
        strict_json.dumps(summary_dict(cmp), indent=2, default=_json_default), encoding="utf-8"
    )
    written["summary.json"] = p
    for v in cmp.results:
        p = out / f"calls_{v}.csv.gz"
        cmp.all_calls[v].to_csv(p, index=False, compression="gzip")
        written[p.name] = p
        p = out / f"units_{v}.csv"
        cmp.all_units[v].to_csv(p, index=False)
        written[p.name] = p
    work = workload(cmp)
    if work is not None:
        p = out / "workload_by_district.csv"
        work.to_csv(p, index=False)
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
        pd.concat(frames).to_csv(p, index=False)
        written[p.name] = p
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    prep = cmp.prepared
    html = env.get_template("sim_report.html").render(
        cmp=cmp,
        prep=prep,
        labels=VARIANT_LABELS,
        colours=COLOURS,
        table=table.to_dict("records"),
        variants=list(cmp.results),
        figs=figures(cmp) if cmp.results else {},
        workload=None if work is None else work.to_dict("records"),
        workload_fig=None if work is None else _workload_figure(work),
        workload_corr=None
        if work is None
        else float(np.corrcoef(work["incidents"], work["busy_hours"])[0, 1]),
        workload_own_corr=None
        if work is None or "own_unit_busy_hours" not in work
        else float(np.corrcoef(work["incidents"], work["own_unit_busy_hours"])[0, 1]),
        notes=notes(cmp),
        call_lines=cmp.call_reports[0].sentences() if cmp.call_reports else [],
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plotlyjs=get_plotlyjs(),
        osm=OSM_ATTRIBUTION,
    )
    p = out / "report.html"
    p.write_text(html, encoding="utf-8")
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
