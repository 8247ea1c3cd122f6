"""``xunfang simulate``: response times of a plan against a real held-out month.

Mounted by the main CLI as ``xunfang simulate``::

    xunfang simulate run --scenario FILE.toml --out DIR [--replications N] [--event-log]
    xunfang simulate sweep --scenario FILE.toml --booths 5:40:5 [--officers 1:2]
                           [--scheduler tcp://HOST:8786 [--worker-data-dir PATH]]
                           [--workers 2] --out DIR
    xunfang simulate sweep --area district:1 --month 2015-06 --booths 5:40:5 --out DIR
    xunfang simulate erlang [--servers 3] [--utilisation 0.8] [--calls 40000]

The work is done by :mod:`xunfang.simulate`; this module parses options and prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from xunfang.config import get_settings
from xunfang.errors import XunfangError
from xunfang.ingest.incidents import incident_inputs
from xunfang.serve._common import (
    LangOpt,
    check_lang_option,
    fail,
    write_atomic,
    writes_output_folder,
)
from xunfang.serve.cli_city import (
    BoundaryNameFieldOpt,
    BoundaryNameOpt,
    BoundaryOpt,
    CityOpt,
    CountryOpt,
    FrameOpt,
    MappingOpt,
    ProfileOpt,
    RoadsOpt,
    StationsOpt,
    city_from_options,
    refuse_stations_with_plan_dir,
)

app = typer.Typer(
    help=(
        "Simulate calls, units and dispatch on a real held-out month: stations only, "
        "+ booths, + deployment; sweeps on dask.distributed; Erlang C validation."
    ),
    no_args_is_help=True,
)

_out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_out,
    )


@app.command("run")
@writes_output_folder
def run_cmd(
    scenario: Annotated[Path, typer.Option("--scenario", help="Scenario file (TOML).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/simulate"),
    replications: Annotated[
        int | None, typer.Option(help="Override the scenario's replications.", min=1)
    ] = None,
    event_log: Annotated[
        bool, typer.Option("--event-log", help="Write the first replication's event log.")
    ] = False,
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    roads: RoadsOpt = None,
    country: CountryOpt = None,
    stations: StationsOpt = None,
    frame: FrameOpt = None,
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Incident files replacing the city's (default: the scenario's city's; with "
            "--plan-dir, those the plan recorded), read with --profile/--mapping as by plan.",
        ),
    ] = None,
    profile: ProfileOpt = None,
    mapping: MappingOpt = None,
    data_dir: DataDir = None,
    plan_dir: Annotated[
        Path | None,
        typer.Option(
            "--plan-dir",
            help="Output folder of `xunfang plan --area district:all`: simulate every "
            "district on its own plan (the scenario's area and [plan] are replaced).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="With --plan-dir: a dask scheduler tcp://HOST:PORT to run on."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="With --plan-dir: LocalCluster worker processes (0: in process).", min=0),
    ] = 2,
    lang: Annotated[str, typer.Option(help="Report language: en or zh.")] = "en",
) -> None:
    """Compare stations only, + booths and + deployment on the scenario's held-out month,
    and write the HTML report with charts (and CSV/JSON tables). The city is the
    scenario's (its ``city`` file) unless --city or the part options are given."""
    from xunfang.serve.sim_report import (
        LANGS,
        call_lines,
        comparison_table,
        plan_source_text,
        progress_text,
        variant_label,
        write_simulation,
    )
    from xunfang.simulate.runner import prepare, run_prepared
    from xunfang.simulate.scenario import load_scenario

    start = time.perf_counter()
    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {LANGS}, got {lang!r}"))
    zh = lang == "zh"
    try:
        settings = get_settings(data_dir=data_dir)
        refuse_stations_with_plan_dir(stations, plan_dir)
        # with --plan-dir each district's area replaces the scenario's: it may give none
        sc = load_scenario(scenario, default_area="city" if plan_dir is not None else None)
        the_city = None
        # a city plan: the options replace parts of the city the plan recorded (its
        # boundary layers name the districts), not of the scenario's city file
        from xunfang.serve.cli_city_runs import is_city_plan_dir, recorded_city

        city_plan = plan_dir is not None and is_city_plan_dir(plan_dir)
        parts = (city, boundary, roads, country, stations, incidents, profile, mapping)
        if any(v is not None for v in parts):
            the_city = city_from_options(
                city=city
                if city is not None or city_plan
                else (sc.path(sc.scenario.city) if sc.scenario.city else None),
                boundary=boundary,
                boundary_name=boundary_name,
                boundary_name_field=boundary_name_field,
                roads=roads,
                country=country,
                stations=stations,
                frame=frame,
                profile=profile,
                mapping=mapping,
                incidents=list(incident_inputs(incidents or [])),
                data_dir=settings.data_dir,
                base_city=recorded_city(plan_dir) if city_plan and plan_dir else None,
            )
        reps = replications or sc.scenario.replications
        if plan_dir is not None:
            from xunfang.serve.cli_city_runs import print_failed, run_city_simulation
            from xunfang.serve.cli_plan_all import exit_130_on_interrupt

            with exit_130_on_interrupt(out, _out, lang):
                _, totals = run_city_simulation(
                    sc,
                    plan_dir,
                    settings,
                    out,
                    console=_out,
                    replications=reps,
                    city=the_city,
                    scheduler=scheduler,
                    workers=workers,
                    lang=lang,
                )
            for line in city_sim_lines(totals, reps, lang):
                _out.print(line)
            wall_s = time.perf_counter() - start
            _out.print(
                f"{totals['districts']} 个辖区：用时 {wall_s:.1f} 秒，已写出 "
                f"{out}/city_simulation_report.html 和 city_simulation_summary.csv"
                if zh
                else f"{totals['districts']} districts: wrote {out}/city_simulation_report.html "
                f"and city_simulation_summary.csv in {wall_s:.1f} s"
            )
            print_failed(
                _out,
                totals["failed"],
                lang,
                "city_simulation_summary.json",
                totals["plan_failed"],
                earlier=totals.get("earlier_run_folders", ()),
                out=out,
            )
            return
        with _progress() as progress:
            steps = ["study area", "booth plan (MCLP)", "road network", "incidents", "units"]
            prep_task = progress.add_task(progress_text("prepare", lang), total=len(steps))

            def step(name: str) -> None:
                done = steps.index(name) if name in steps else 0
                progress.update(prep_task, description=progress_text(name, lang), completed=done)

            prep = prepare(sc, settings, progress=step, city=the_city)
            progress.update(
                prep_task, completed=len(steps), description=progress_text("prepared", lang)
            )
            n_var = len([v for v in sc.scenario.compare if v not in prep.skipped])
            sim_task = progress.add_task(progress_text("simulate", lang), total=reps * n_var)

            def tick(msg: str) -> None:
                progress.update(sim_task, description=progress_text(msg, lang), advance=1)

            cmp = run_prepared(prep, replications=reps, record_log=event_log, progress=tick)
            written = write_simulation(cmp, out, lang=lang)
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    for v, why in cmp.skipped.items():
        head = "未运行" if zh else "skipped"
        _out.print(f"[yellow]{head}[/] {variant_label(v, lang)}: {escape(why)}")
    if "NOT held out" in prep.plan_source:
        head = "警告：" if zh else "warning:"
        booths = "岗亭：" if zh else "booths: "
        source = plan_source_text(prep.plan_source, lang)
        _out.print(f"[yellow]{head}[/] {booths}{escape(source)}", soft_wrap=True)
    for line in call_lines(cmp.call_reports[0], lang) if cmp.call_reports else []:
        _out.print(f"  [dim]{escape(line)}[/]")
    table = Table(
        title=(
            f"{sc.scenario.name}：{prep.area.name}，{prep.period.label}，{reps} 次重复，相同警情"
            if zh
            else f"{sc.scenario.name}: {prep.area.name}, {prep.period.label}, "
            f"{reps} replication(s), same calls"
        )
    )
    table.add_column("指标" if zh else "figure")
    variants = list(cmp.results)
    for v in variants:
        table.add_column(variant_label(v, lang), justify="right")
    for row in comparison_table(cmp, lang).to_dict("records"):
        table.add_row(str(row["label"]), *(str(row[f"{v}_text"]) for v in variants))
    _out.print(table)
    for v, res in cmp.results.items():
        _out.print(
            f"{variant_label(v, lang)}：仿真 {res.calls_simulated:,} 起警情，用时 "
            f"{res.sim_s:.2f} 秒（每秒 {res.calls_per_s:,.0f} 起）"
            if zh
            else f"{variant_label(v, lang)}: {res.calls_simulated:,} calls simulated in "
            f"{res.sim_s:.2f} s ({res.calls_per_s:,.0f} calls/s)"
        )
    elapsed = time.perf_counter() - start
    _out.print(
        f"\n已写出 {len(written)} 个文件到 {out}/，用时 {elapsed:.1f} 秒：报告 "
        f"{written['report.html']}"
        if zh
        else f"\nWrote {len(written)} files to {out}/ in {elapsed:.1f} s: "
        f"report {written['report.html']}"
    )


def city_sim_lines(totals: dict[str, Any], replications: int, lang: str = "en") -> list[str]:
    """The terminal lines of a city simulation's totals (``sim_totals``), one per variant
    (``stations``, ``booths``): the calls per replication (the totals count every
    replication's; a mean when the calls are sampled), the share within 3 minutes, the calls
    never served per replication and their share, and the mean response time of the served
    calls (said so: alone it would hide the unserved ones)."""
    from xunfang.serve.sim_report import variant_label

    zh = lang == "zh"
    lines = []
    for v in ("stations", "booths"):
        if f"{v}_calls" not in totals:
            continue
        per_rep = float(totals[f"{v}_calls"]) / replications
        share = float(totals[f"{v}_share_within_3min"])
        mean_min = float(totals[f"{v}_mean_response_min"])
        unserved = float(totals[f"{v}_unserved"]) / replications
        share_unserved = float(totals[f"{v}_share_unserved"])
        lines.append(
            f"{variant_label(v, lang)}：每次重复 {per_rep:,.0f} 起报警（共 {replications} 次"
            f"重复），3 分钟内到达 {share:.1%}，未处置 {unserved:,.0f} 起（{share_unserved:.1%}），"
            f"平均响应 {mean_min:.2f} 分钟（仅计已处置警情）"
            if zh
            else f"{v}: {per_rep:,.0f} calls per replication ({replications} replications), "
            f"within 3 min {share:.1%}, unserved {unserved:,.0f} ({share_unserved:.1%}), "
            f"mean response {mean_min:.2f} min (of served calls)"
        )
    return lines


@app.command("sweep")
@writes_output_folder
def sweep_cmd(
    booths: Annotated[
        str, typer.Option(help="K booths: START:STOP[:STEP] or a list, e.g. 5:40:5.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/sweep"),
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Base scenario (TOML); its [plan] is replaced."),
    ] = None,
    area: Annotated[
        str | None, typer.Option(help="Study area when no --scenario, e.g. district:1.")
    ] = None,
    month: Annotated[str, typer.Option(help="Held-out month when no --scenario.")] = "2015-06",
    officers: Annotated[
        str, typer.Option(help="Officers per booth (per shift): START:STOP[:STEP] or a list.")
    ] = "1",
    replications: Annotated[
        int | None, typer.Option(help="Override the scenario's replications.", min=1)
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of an existing dask scheduler (default: a LocalCluster)."),
    ] = None,
    worker_data_dir: Annotated[
        Path | None,
        typer.Option(
            help="The data directory as the workers see it (a shared path; default: the "
            "same path as here). The training incidents are shipped to the workers."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="LocalCluster workers.", min=1)] = 2,
    threads: Annotated[
        bool, typer.Option("--threads", help="LocalCluster with threads, not processes.")
    ] = False,
    data_dir: DataDir = None,
    lang: LangOpt = "en",
) -> None:
    """Sweep K booths (and officers per booth) on dask.distributed; writes sweep.csv and
    sweep.html."""
    from xunfang.simulate.scenario import Scenario, load_scenario
    from xunfang.simulate.sweep import parse_range, run_sweep
    from xunfang.simulate.tables import validate_model

    check_lang_option(lang)
    zh = lang == "zh"
    start = time.perf_counter()
    try:
        settings = get_settings(data_dir=data_dir)
        k_values = parse_range(booths, "--booths")
        o_values = parse_range(officers, "--officers")
        if scenario is not None:
            base = load_scenario(scenario)
        elif area is not None:
            base = validate_model(
                Scenario,
                {
                    "scenario": {"name": f"sweep {area}", "area": area, "month": month},
                    "units": {"station_car": {"per_station": 6}, "patrol": {"count": 2}},
                    "source": "command line",
                },
                "command line",
            )
        else:
            raise typer.BadParameter("give --scenario FILE or --area AREA", param_hint="--area")
        if replications is not None:
            base = base.with_changes(scenario={"replications": replications})
        with _progress() as progress:
            task = progress.add_task(
                "正在启动 dask" if zh else "starting dask", total=len(k_values)
            )

            def done(n: int, total: int, label: str) -> None:
                progress.update(
                    task, completed=n, description=f"已完成 {label}" if zh else f"finished {label}"
                )

            def started(msg: str) -> None:
                progress.update(task, description=f"运行于 {msg}" if zh else f"running on {msg}")

            frame = run_sweep(
                base,
                settings,
                k_values,
                o_values,
                out_dir=out,
                scheduler=scheduler,
                worker_data_dir=worker_data_dir,
                workers=workers,
                processes=not threads,
                on_done=done,
                on_start=started,
            )
        write_atomic(out / "sweep.csv", frame.to_csv(index=False))
        _write_sweep_html(frame, out / "sweep.html", base.scenario.area, base.scenario.month, lang)
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    table = Table(
        title=f"{'方案扫描' if zh else 'Sweep'}: {base.scenario.area}, {base.scenario.month}"
    )
    heads = (
        ("岗亭", "每岗警力", "单元", "中位数 分钟", "P90 分钟", "≤3 分钟", "利用率")
        if zh
        else ("booths", "officers", "units", "median min", "p90 min", "≤3 min", "utilisation")
    )
    for col in heads:
        table.add_column(col, justify="right")
    for r in frame.to_dict("records"):
        table.add_row(
            str(int(r["booths"])),
            str(int(r["officers_per_booth"])),
            str(int(r["units"])),
            f"{r['response_median_min']:.2f}",
            f"{r['response_p90_min']:.2f}",
            f"{100 * r['share_response_within_3min']:.1f}%",
            f"{100 * r['utilisation']:.1f}%",
        )
    _out.print(table)
    seconds = time.perf_counter() - start
    _out.print(
        f"已写出 {out}/sweep.csv 和 sweep.html，用时 {seconds:.1f} 秒"
        if zh
        else f"Wrote {out}/sweep.csv and sweep.html in {seconds:.1f} s"
    )


def _write_sweep_html(frame: object, path: Path, area: str, month: str, lang: str = "en") -> None:
    import pandas as pd
    import plotly.graph_objects as go

    assert isinstance(frame, pd.DataFrame)
    zh = lang == "zh"
    fig = go.Figure()
    for n, part in frame.groupby("officers_per_booth"):
        for key, dash in (("response_median_min", "solid"), ("response_p90_min", "dash")):
            median = dash == "solid"
            name = (
                f"{'中位数' if median else '第 90 百分位'}，每岗 {n} 名警力"
                if zh
                else f"{'median' if median else '90th pct'}, {n} officer(s)/booth"
            )
            fig.add_trace(
                go.Scatter(
                    x=part["booths"],
                    y=part[key],
                    error_y={"type": "data", "array": part[f"{key}_ci95"].fillna(0)},
                    mode="lines+markers",
                    line={"dash": dash},
                    name=name,
                )
            )
    fig.update_layout(
        title=(
            f"响应时间与岗亭数 K：{area}，{month}（95% 置信区间）"
            if zh
            else f"Response time against K booths: {area}, {month} (95 % CI)"
        ),
        xaxis_title="岗亭数（K）" if zh else "booths (K)",
        yaxis_title="分钟" if zh else "minutes",
        template="plotly_white",
    )
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    if zh:
        html = html.replace("<html>", '<html lang="zh">', 1)
    write_atomic(path, html)


@app.command("erlang")
def erlang_cmd(
    servers: Annotated[int, typer.Option(help="Units (servers c).", min=1)] = 3,
    utilisation: Annotated[float, typer.Option(help="Offered load per unit (rho).")] = 0.8,
    mean_service_min: Annotated[float, typer.Option(help="Mean on-scene time, minutes.")] = 10.0,
    calls: Annotated[int, typer.Option(help="Calls to simulate.", min=101)] = 40_000,
    seed: Annotated[int, typer.Option(help="Seed.")] = 1,
) -> None:
    """Validate the simulator against the Erlang C formula (M/M/c, zero travel time)."""
    from xunfang.simulate.validate import erlang_check

    try:
        r = erlang_check(servers, utilisation, mean_service_min * 60.0, calls, seed)
    except XunfangError as exc:
        raise fail(exc) from exc
    table = Table(
        title=f"M/M/{r.servers}: {r.arrival_rate_per_h:.2f} calls/h, mean service "
        f"{r.mean_service_s / 60:.1f} min, rho {r.utilisation:.2f}, {r.calls:,} calls "
        f"({r.warmup_calls:,} warm-up left out)"
    )
    for col in ("", "Erlang C", "simulated", "difference"):
        table.add_column(col, justify="right")
    table.add_row(
        "P(wait > 0)",
        f"{r.p_wait_exact:.4f}",
        f"{r.p_wait_sim:.4f}",
        f"{r.p_wait_sim - r.p_wait_exact:+.4f}",
    )
    table.add_row(
        "mean wait (s)",
        f"{r.wait_exact_s:.1f}",
        f"{r.wait_sim_s:.1f}",
        f"{100 * r.wait_rel_error:+.1f}%",
    )
    _out.print(table)
    _out.print(f"simulated in {r.wall_s:.2f} s ({r.calls / r.wall_s:,.0f} calls/s)")
