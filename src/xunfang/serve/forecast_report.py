"""Write a forecast evaluation to a folder: per-window CSV, summary CSV, JSON and a
self-contained HTML report with charts (plotly.js embedded once, opens offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from xunfang import __version__, strict_json
from xunfang.analyse.evaluate import EvaluationRun
from xunfang.serve._common import write_atomic

OPENCP_SEPT2014: dict[str, dict[float, float]] = {
    "BURGLARY": {0.01: 0.117, 0.05: 0.359, 0.20: 0.753},
    "all": {0.01: 0.159, 0.05: 0.421, 0.20: 0.840},
}
"""Mean daily hit rate of open_cp's best predictor at each coverage on the September 2014
Chicago split (test days 2014-09-23..29; issue 3, item 5)."""

OPENCP_PROSPECTIVE_S_PER_DAY = 15.0
"""open_cp's prospective predictor, seconds per day for burglary (issue 3, item 5)."""

_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#ad494a",
]


def _pct(f: float) -> str:
    return f"{100 * f:g}%"


def wide_table(summary: pd.DataFrame, metric: str, offset_m: float = 0.0) -> pd.DataFrame:
    """Method x coverage table of ``<metric>_mean`` at one grid offset."""
    sub = summary[summary["offset_m"] == offset_m]
    tab = sub.pivot(index="method", columns="fraction", values=f"{metric}_mean")
    tab = tab.reindex(list(dict.fromkeys(sub["method"])))
    tab.columns = [_pct(c) for c in tab.columns]
    return tab


def offset_table(summary: pd.DataFrame) -> pd.DataFrame | None:
    """Mean hit rate per method and coverage on the grid and on the half-cell-shifted
    grid, with the difference (None when only one offset was run)."""
    offsets = sorted(summary["offset_m"].unique())
    if len(offsets) < 2:
        return None
    a = wide_table(summary, "hit_rate", offsets[0])
    b = wide_table(summary, "hit_rate", offsets[1])
    parts = {
        f"offset {offsets[0]:g} m": a,
        f"offset {offsets[1]:g} m": b,
        "difference": b - a,
    }
    return pd.concat(parts, axis=1)


def metric_figure(summary: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """Mean of ``metric`` against coverage per method (offset 0), with the interquartile
    range over windows as error bars."""
    fig = go.Figure()
    sub = summary[summary["offset_m"] == summary["offset_m"].min()]
    for i, (method, grp) in enumerate(sub.groupby("method", sort=False)):
        x = 100 * grp["fraction"].to_numpy()
        y = grp[f"{metric}_mean"].to_numpy()
        lo = y - grp[f"{metric}_q25"].to_numpy()
        hi = grp[f"{metric}_q75"].to_numpy() - y
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=str(method),
                line={"color": _PALETTE[i % len(_PALETTE)]},
                error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="share of the area flagged (%)",
        yaxis_title=metric.replace("_", " "),
        xaxis={"type": "log", "tickvals": [1, 2, 5, 10, 20]},
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig


def daily_figure(rows: pd.DataFrame, fraction: float) -> go.Figure:
    """Hit rate of each window at one coverage, per method (offset 0)."""
    fig = go.Figure()
    sub = rows[
        (rows["offset_m"] == rows["offset_m"].min()) & np.isclose(rows["fraction"], fraction)
    ]
    for i, (method, grp) in enumerate(sub.groupby("method", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=grp["start"].astype(str),
                y=grp["hit_rate"],
                mode="lines",
                name=str(method),
                line={"color": _PALETTE[i % len(_PALETTE)], "width": 1},
            )
        )
    fig.update_layout(
        title=f"Hit rate per window at {_pct(fraction)} of the area",
        yaxis_title="hit rate",
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig


def reference_table(summary: pd.DataFrame, reference: dict[float, float]) -> pd.DataFrame:
    """Our mean hit rates beside reference figures at the reference's coverages."""
    ours = wide_table(summary, "hit_rate")
    cols = [_pct(f) for f in reference]
    tab = ours[[c for c in cols if c in ours.columns]].copy()
    ref = pd.DataFrame([[reference[f] for f in reference]], columns=cols, index=["open_cp best"])
    return pd.concat([ref, tab])


def spread_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per method and coverage (unshifted grid): ``mean [lo, hi] (sd x)`` of the hit rate
    over windows, as text."""
    sub = summary[summary["offset_m"] == summary["offset_m"].min()].copy()
    sub["cell"] = [
        f"{r.hit_rate_mean:.3f} [{r.hit_rate_ci_lo:.3f}, {r.hit_rate_ci_hi:.3f}] "
        f"(sd {r.hit_rate_sd:.3f})"
        for r in sub.itertuples()
    ]
    tab = sub.pivot(index="method", columns="fraction", values="cell")
    tab = tab.reindex(list(dict.fromkeys(sub["method"])))
    tab.columns = [_pct(c) for c in tab.columns]
    return tab


def paired_table(paired: pd.DataFrame) -> pd.DataFrame:
    """The paired tests at 1, 5 and 20 % (all coverages if none of those) for the report."""
    keep = paired[paired["fraction"].isin([0.01, 0.05, 0.20])]
    p = (keep if len(keep) else paired).copy()
    p["coverage"] = [_pct(f) for f in p["fraction"]]
    p["difference [95 % CI]"] = [
        f"{r.mean_diff:+.3f} [{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]" for r in p.itertuples()
    ]
    cols = {
        "events_per_window": "incidents / window",
        "t_p": "t-test p",
        "wilcoxon_p": "Wilcoxon p",
        "noise_se": "count noise (se)",
    }
    p = p.rename(columns=cols)
    return p.set_index(["method", "coverage"])[
        ["windows", *cols.values(), "difference [95 % CI]", "verdict"]
    ]


def selection_table(selections: pd.DataFrame) -> pd.DataFrame:
    """How often each candidate was chosen and its mean validation score (offset 0),
    per type group when ``auto`` chose per group."""
    s = selections[selections["offset_m"] == selections["offset_m"].min()]
    keys = ["method", "group", "candidate"] if "group" in s.columns else ["method", "candidate"]
    g = s.groupby(keys, sort=False)
    return pd.DataFrame(
        {
            "complexity": g["complexity"].first(),
            "chosen (windows)": g["chosen"].sum().astype(int),
            "best (windows)": g["diff_to_best"].apply(lambda d: int((d == 0).sum())),
            "within 1 SE (windows)": g["within_1se"].sum().astype(int),
            "mean validation score": g["score_mean"].mean(),
            "validation s (mean)": g["seconds"].mean(),
        }
    )


def selection_reasons(selections: pd.DataFrame) -> list[str]:
    """One line per test window (offset 0): what was chosen and why."""
    if not len(selections):
        return []
    s = selections[selections["offset_m"] == selections["offset_m"].min()]
    first = s.drop_duplicates(["method", "test_window"])
    return [f"{r.test_window} ({r.method}): {r.reason}" for r in first.itertuples()]


def _html_table(df: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    return df.to_html(
        float_format=lambda v: fmt.format(v) if np.isfinite(v) else "–",
        border=0,
        classes="t",
        na_rep="–",
    )


def notes(run: EvaluationRun) -> list[str]:
    """What the reader must know to read the figures."""
    ev = run.evaluation
    out = [
        "Tie rule: cells whose risk equals the risk at the cut-off are chosen at random; "
        "hit rate, PAI and PEI are the exact expected values over that choice.",
        f"Coverage k = floor(share x {run.grid.n_active:,} active cells); the share of the "
        "area is over the active cells of the study area.",
        "PAI = hit rate / share of area (Chainey et al. 2008); PEI = incidents captured / "
        "the most any k cells could capture in that window (Hunt 2016, NIJ 2017). When a "
        "window has no more incidents than flagged cells, the best k cells capture all of "
        "them and PEI equals the hit rate.",
        "Rolling origin: each window is forecast from the incidents before its start "
        f"(look-back {ev.settings.get('lookback_days') or 'all'} days); nothing after the "
        "window start is used.",
    ]
    if run.context_note:
        out.append(run.context_note)
    for off, n in ev.n_outside.items():
        if n:
            out.append(
                f"{n:,} test incidents fell outside the study area (offset {off:g} m): not scored."
            )
    if ev.n_date_only:
        out.append(
            f"{ev.n_date_only:,} test incidents known only to the day were left out of the "
            "sub-day windows."
        )
    return out


def render_html(
    run: EvaluationRun,
    *,
    title: str = "Hotspot forecast evaluation",
    reference: dict[float, float] | None = None,
    command: str = "",
) -> str:
    """The report as one HTML string."""
    summary = run.evaluation.summary()
    rows = run.evaluation.rows
    figs = {
        "hit": metric_figure(summary, "hit_rate", "Hit rate (mean, IQR over windows)"),
        "pai": metric_figure(summary, "pai", "PAI (mean, IQR over windows)"),
        "daily": daily_figure(rows, float(summary["fraction"].max())),
    }
    html = {
        k: f.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for k, f in figs.items()
    }
    tables = {
        "spread": _html_table(spread_table(summary)),
        "hit_rate": _html_table(wide_table(summary, "hit_rate")),
        "pai": _html_table(wide_table(summary, "pai"), "{:.2f}"),
        "pei": _html_table(wide_table(summary, "pei")),
    }
    paired = run.evaluation.paired()
    sel = run.evaluation.selections
    off = offset_table(summary)
    timing = (
        summary[summary["offset_m"] == summary["offset_m"].min()]
        .groupby("method", sort=False)["seconds_per_window"]
        .first()
        .to_frame("fit + predict, s per window")
    )
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )
    spec = run.spec
    return env.get_template("forecast_report.html").render(
        title=title,
        run=run,
        spec=spec,
        windows=run.evaluation.settings.get("windows", []),
        methods=run.evaluation.settings.get("methods", {}),
        figs=html,
        tables=tables,
        offset=_html_table(off) if off is not None else None,
        spread_windows=len(run.evaluation.settings.get("windows", [])),
        paired=_html_table(paired_table(paired), "{:.3g}") if len(paired) else None,
        paired_baseline=paired["baseline"].iloc[0] if len(paired) else "",
        selection=_html_table(selection_table(sel)) if len(sel) else None,
        selection_reasons=selection_reasons(sel),
        reference=_html_table(reference_table(summary, reference)) if reference else None,
        timing=_html_table(timing, "{:.3f}"),
        notes=notes(run),
        command=command,
        plotlyjs=get_plotlyjs(),
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def run_summary(run: EvaluationRun, command: str = "") -> dict[str, Any]:
    """JSON-ready description of the run."""
    spec = run.spec
    return {
        "command": command,
        "incident_files": [str(p) for p in spec.incident_files],
        "types": list(spec.types) or "all",
        "area": run.area_name,
        "area_km2": round(run.area_km2, 3),
        "grid": {
            "cell_m": run.grid.cell_m,
            "nx": run.grid.nx,
            "ny": run.grid.ny,
            "active_cells": run.grid.n_active,
            "x0": run.grid.x0,
            "y0": run.grid.y0,
            "crs": run.grid.crs.to_string(),
        },
        "window": spec.window,
        "windows": run.evaluation.settings.get("windows"),
        "lookback_days": spec.lookback_days,
        "methods": run.evaluation.settings.get("methods"),
        "n_input": run.n_input,
        "n_selected": run.n_selected,
        "n_outside_area": {str(k): v for k, v in run.evaluation.n_outside.items()},
        "n_date_only_left_out": run.evaluation.n_date_only,
        "data_span": [str(run.data_span[0]), str(run.data_span[1])],
        "seconds": round(run.seconds, 2),
        "ingest": run.ingest_report.to_dict() if run.ingest_report else None,
        "version": __version__,
    }


def write_evaluation(
    run: EvaluationRun,
    out_dir: str | Path,
    *,
    title: str = "Hotspot forecast evaluation",
    reference: dict[float, float] | None = None,
    command: str = "",
) -> dict[str, Path]:
    """Write ``results.csv`` (one row per method, offset, window and coverage),
    ``summary.csv`` (mean, IQR, sd, t interval), ``paired.csv`` (each method against
    naive counts), for an ``auto`` method ``selection.csv``, ``selection_scores.csv`` and
    ``selection.json`` (every validation score and choice), ``run.json`` and
    ``report.html`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        written[name] = write_atomic(out / name, text)

    rows = run.evaluation.rows.copy()
    rows["start"] = rows["start"].astype(str)
    rows["end"] = rows["end"].astype(str)
    put("results.csv", rows.to_csv(index=False))
    put("summary.csv", run.evaluation.summary().to_csv(index=False))
    put("run.json", strict_json.dumps(run_summary(run, command), indent=2, default=str))
    paired = run.evaluation.paired()
    if len(paired):
        put("paired.csv", paired.to_csv(index=False))
    sel = run.evaluation.selections
    if len(sel):
        put("selection.csv", sel.to_csv(index=False))
        put("selection_scores.csv", run.evaluation.validation_scores.to_csv(index=False))
        put(
            "selection.json",
            strict_json.dumps(
                sel.replace({np.nan: None}).to_dict(orient="records"), indent=1, default=str
            ),
        )
    put("report.html", render_html(run, title=title, reference=reference, command=command))
    return written
