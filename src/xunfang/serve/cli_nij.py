"""``xunfang forecast nij``: score the forecasters by the NIJ Real-Time Crime Forecasting
Challenge's rules (PAI and PEI*, 250-600 ft cells, 0.25-0.75 sq mi of hotspots) on the
Portland calls for service.

Registered on the ``forecast`` sub-app by one import at the end of
:mod:`xunfang.serve.cli_forecast`; the work is done by :mod:`xunfang.analyse.nij`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from xunfang import strict_json
from xunfang.analyse.nij import (
    CATEGORY_KEYS,
    DEFAULT_METHODS,
    FT_M,
    HORIZON_DAYS,
    WINNERS_SOURCE,
    NijRun,
    NijSpec,
    run_nij,
    winners_note,
)
from xunfang.config import get_settings
from xunfang.errors import XunfangError
from xunfang.serve._common import (
    LangOpt,
    check_lang_option,
    fail,
    write_atomic,
    writes_output_folder,
)
from xunfang.serve.cli_forecast import DataDir, _command, app, expand_paths

_out = Console(width=None if sys.stdout.isatty() else 220)


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


@app.command("nij")
@writes_output_folder
def nij_cmd(
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Portland CFS files, folders or globs (default: DATA/portland-nij/).",
        ),
    ] = None,
    categories: Annotated[
        str, typer.Option(help="Challenge categories: all, burglary, street, vehicle.")
    ] = ",".join(CATEGORY_KEYS),
    horizons: Annotated[
        str,
        typer.Option(help="Forecast periods: 1w, 2w, 1m, 2m, 3m (those the data hold are run)."),
    ] = ",".join(HORIZON_DAYS),
    cell_ft: Annotated[
        float, typer.Option(help="Square cell side, feet (the rules: 250-600).")
    ] = 600.0,
    hotspot_sq_mi: Annotated[
        str,
        typer.Option(help="Flagged areas to score, square miles (the rules: 0.25-0.75)."),
    ] = "0.25,0.75",
    methods: Annotated[
        str, typer.Option(help="Comma-separated method specs (see `forecast evaluate`).")
    ] = ",".join(DEFAULT_METHODS),
    min_train_days: Annotated[
        int, typer.Option(help="Whole days of calls before the first forecast period.")
    ] = 28,
    boundary: Annotated[
        Path | None,
        typer.Option(help="Polygon file of the study area A (default: hull of all calls)."),
    ] = None,
    categories_file: Annotated[
        Path | None,
        typer.Option(help="TOML table of the categories' call types (default: packaged)."),
    ] = None,
    profile: Annotated[str, typer.Option(help="Ingest profile of the files.")] = "portland",
    seed: Annotated[int, typer.Option(help="Seed of every forecaster.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/forecast-nij"),
    data_dir: DataDir = None,
    lang: LangOpt = "en",
) -> None:
    """Train each method on every call before each forecast period, flag the busiest
    forecast cells, and score PAI = (n/N)/(a/A) and PEI* = n/n* per category, period and
    flagged area (n* = calls in the busiest cells of the same area)."""
    check_lang_option(lang)
    zh = lang == "zh"
    try:
        if incidents:
            files = expand_paths(list(incidents))
        else:
            files = expand_paths([get_settings(data_dir=data_dir).city_dir("portland-nij")])
        spec = NijSpec(
            incident_files=tuple(files),
            profile=profile,
            cell_side_ft=cell_ft,
            hotspot_sq_mi=tuple(float(a) for a in _split(hotspot_sq_mi)),
            categories=_split(categories),
            horizons=_split(horizons),
            methods=_split(methods),
            min_train_days=min_train_days,
            boundary=boundary,
            categories_file=categories_file,
            seed=seed,
        )
        busy = "NIJ 规则评分" if zh else "NIJ rules"
        with _out.status(busy) as status:
            run = run_nij(spec, progress=lambda m: status.update(f"{busy}: {m}"))
        write_nij(run, out, lang=lang, command=_command())
    except (XunfangError, OSError, ValueError) as exc:
        raise fail(exc, lang) from exc
    print_nij(run, lang)
    _out.print(
        f"已写出 {out}/report.html、rows.csv、summary.csv、summary.md、settings.json。"
        if zh
        else f"Wrote {out}/report.html, rows.csv, summary.csv, summary.md, settings.json."
    )


def print_nij(run: NijRun, lang: str = "en") -> None:
    """The summary tables (one per flagged area) and the notes, on the console, in
    ``lang`` (``en`` or ``zh``)."""
    zh = lang == "zh"
    s = run.summary()
    methods = list(dict.fromkeys(s["method"]))
    g = run.grid
    ft = run.spec.cell_side_ft
    _out.print(
        f"报警 {run.n_input:,} 起；网格 {g.nx} x {g.ny} 个 {ft:g} 英尺（{ft * FT_M:.2f} 米）"
        f"网格，坐标系 {run.settings['crs']}，研究区域内 {g.n_active:,} 个；"
        f"A = {run.study_area_sq_mi:.1f} 平方英里（{run.area_source}）。"
        if zh
        else f"{run.n_input:,} calls; grid {g.nx} x {g.ny} cells of {ft:g} ft "
        f"({ft * FT_M:.2f} m) in {run.settings['crs']}, {g.n_active:,} in "
        f"the study area; A = {run.study_area_sq_mi:.1f} sq mi ({run.area_source})."
    )
    for area, sub in s.groupby("hotspot_sq_mi", sort=False):
        k = int(sub["k_cells"].iloc[0])
        a = k * run.spec.cell_side_ft**2 / 5280.0**2
        table = Table(
            title=f"NIJ 规则：标记 {k} 个网格 = {a:.3f} 平方英里（要求 {area:g}）；"
            "各预测期平均，PAI / PEI*"
            if zh
            else f"NIJ rules: {k} cells = {a:.3f} sq mi flagged (asked {area:g}); "
            "mean over periods, PAI / PEI*",
            header_style="bold",
        )
        heads = (
            ("类别", "预测期", "期数", "报警数")
            if zh
            else ("category", "period", "periods", "calls")
        )
        for i, col in enumerate(heads):
            table.add_column(col, justify="left" if i < 2 else "right")
        for m in methods:
            table.add_column(m, justify="right")
        table.add_column(
            "NIJ 2017 获胜者（大型机构，PAI / PEI*）"
            if zh
            else "NIJ winners 2017 (large business, PAI / PEI*)"
        )
        for (cat, hor), grp in sub.groupby(["category", "horizon"], sort=False):
            by = grp.set_index("method")
            first = grp.iloc[0]
            table.add_row(
                str(cat),
                str(hor),
                str(int(first["periods"])),
                f"{int(first['calls']):,}",
                *(f"{by.loc[m, 'pai']:.1f} / {by.loc[m, 'pei_star']:.3f}" for m in methods),
                f"{first['nij_winner_pai']} / {first['nij_winner_pei_star']}",
            )
        _out.print(table)
    for horizon, why in run.skipped.items():
        _out.print(f"未运行：{horizon}：{why}。" if zh else f"Not run: {horizon}: {why}.")
    bad = {k: v for k, v in run.disagreements.items() if v}
    if bad:
        _out.print(
            f"报警类型表与 CATEGORY 列不一致的行：{bad}。"
            if zh
            else f"Rows where the call-type table and the CATEGORY column differ: {bad}."
        )
    if run.n_outside:
        _out.print(
            f"{run.n_outside:,} 起报警位于研究区域之外：不参与训练，不计分。"
            if zh
            else f"{run.n_outside:,} calls outside the study area: not trained on, not scored."
        )
    _out.print(
        f"NIJ 获胜者页面（{WINNERS_SOURCE}）列出了各类别、各预测期的获胜者，但未公布得分；"
        "挑战赛按 2017 年 3 月 1 日至 5 月 31 日、以 PPB 辖区为 A 计分，本数据（2016 年 8-9 月）"
        "不覆盖该时期，因此没有可与本结果比较的获胜者得分。"
        if zh
        else winners_note()
    )
    mean_s = run.rows["seconds"].mean()
    _out.print(
        f"墙钟时间 {run.seconds:.1f} 秒，CPU 时间 {run.cpu_seconds:.1f} 秒"
        f"（每个预测期和方法的平均拟合+预测：{mean_s:.3f} 秒）。"
        if zh
        else f"Wall {run.seconds:.1f} s, CPU {run.cpu_seconds:.1f} s "
        f"(mean fit + predict per period and method: {mean_s:.3f} s)."
    )


def write_nij(run: NijRun, out: Path, *, lang: str = "en", command: str = "") -> None:
    """``report.html`` (in ``lang``, :func:`xunfang.serve.nij_report.render_nij_html`),
    ``rows.csv`` (every period), ``summary.csv``, ``summary.md`` and ``settings.json``."""
    from xunfang.serve.nij_report import render_nij_html

    write_atomic(out / "report.html", render_nij_html(run, command=command, lang=lang))
    write_atomic(out / "rows.csv", run.rows.to_csv(index=False))
    s = run.summary()
    write_atomic(out / "summary.csv", s.to_csv(index=False))
    wide = s.pivot_table(
        index=["hotspot_sq_mi", "category", "horizon", "periods", "calls"],
        columns="method",
        values=["pai", "pei_star"],
        sort=False,
    )
    wide.columns = [f"{metric} {method}" for metric, method in wide.columns]
    md = wide.reset_index().round(3)
    write_atomic(out / "summary.md", _markdown(md) + "\n\n" + winners_note() + "\n")
    settings = {
        **run.settings,
        "hotspot_sq_mi": list(run.spec.hotspot_sq_mi),
        "study_area_sq_mi": run.study_area_sq_mi,
        "area_source": run.area_source,
        "skipped": run.skipped,
        "disagreements": run.disagreements,
        "n_input": run.n_input,
        "n_outside": run.n_outside,
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "hotspot_cells": {str(k): v for k, v in run.settings["hotspot_cells"].items()},
    }
    write_atomic(out / "settings.json", strict_json.dumps(settings, indent=2, default=str))


def _markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])
