"""The ``xunfang`` command line (Typer) over the library functions."""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.columns import Columns
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from xunfang import __version__
from xunfang.config import get_settings
from xunfang.errors import CacheWarning, DataWarning, XunfangError
from xunfang.ingest.incidents import incident_inputs
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.serve._common import (
    LangOpt,
    check_lang_option,
    fail,
    reason_text,
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
)
from xunfang.serve.cli_data import app as data_app
from xunfang.serve.cli_deploy import deploy_cmd
from xunfang.serve.cli_forecast import app as forecast_app
from xunfang.serve.cli_ingest import ingest_cmd, print_ingest_report
from xunfang.serve.cli_kpi import kpi_cmd
from xunfang.serve.cli_serve import app as serve_app
from xunfang.serve.cli_simulate import app as simulate_app
from xunfang.serve.cli_travel import app as travel_app

if TYPE_CHECKING:
    from xunfang.plan.booth_plan import BoothPlan, PlanConfig

_default_formatwarning = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """The project's own warnings as one line for the user, not a Python source location."""
    if issubclass(category, (CacheWarning, DataWarning)):
        return f"warning: {message}\n"
    return _default_formatwarning(message, category, filename, lineno, line)


warnings.formatwarning = _format_warning

app = typer.Typer(
    name="xunfang",
    help="巡防 xunfang: booth siting, deployment and dispatch planning from incident history.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data", help="Download the public data sources.")
app.add_typer(simulate_app, name="simulate", help="Simulate calls, units and dispatch.")
app.add_typer(forecast_app, name="forecast", help="Forecast hotspots and evaluate forecasts.")
app.add_typer(serve_app)  # `xunfang serve` (the command centre) and `xunfang user add`
app.add_typer(travel_app, name="travel-time")  # drive time both ways on a road file
app.command(
    "deploy",
    help="Plan a week of deployment by time block (booths, patrols, school gates) with routes.",
)(deploy_cmd)
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
]


@app.command("version")
def version() -> None:
    """Print the version."""
    console.print(f"xunfang {__version__}")


app.command("ingest")(ingest_cmd)
app.command("kpi", help="签收/出警/到场/反馈 KPIs of a call history (a 110 export's step times).")(
    kpi_cmd
)


@app.command("areas")
def areas_cmd(
    kind: Annotated[
        str | None,
        typer.Argument(
            help="Boundary layer of the city, e.g. district, beat or community (default: the "
            "city's first layer, its default).",
            show_default=False,
        ),
    ] = None,
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    frame: FrameOpt = None,
    data_dir: DataDir = None,
    lang: LangOpt = "en",
) -> None:
    """List the study-area names of one boundary layer of the city (or of --boundary)."""
    check_lang_option(lang)
    try:
        settings = get_settings(data_dir=data_dir)
        the_city = city_from_options(
            city=city, boundary=boundary, frame=frame, data_dir=settings.data_dir
        )
        if boundary is not None:
            kind = "boundary"
        elif kind is None:
            kind = the_city.boundaries[0].kind
        layer = the_city.layer(kind).read()
    except XunfangError as exc:
        raise fail(exc, lang) from exc
    names = sorted(layer["name"], key=lambda n: n.zfill(6) if n.isdigit() else n)
    if kind == "community":
        names = [n.upper().replace(" ", "_") for n in names]
    console.print(
        f"{kind} 图层共 {len(names)} 个名称（用作 --area {kind}:名称）："
        if lang == "zh"
        else f"{len(names)} {kind} names (use as --area {kind}:NAME):"
    )
    console.print(Columns(names, equal=True, expand=False))


@app.command("plan")
@writes_output_folder
def plan_cmd(
    area: Annotated[
        str | None,
        typer.Option(
            help="Study area, e.g. district:1 or community:LOOP,NEAR_WEST_SIDE (default: the "
            "city's default polygon, or the only one of --boundary)."
        ),
    ] = None,
    booths: Annotated[int, typer.Option(help="Booths to site (stations are kept as well).")] = 27,
    threshold_min: Annotated[
        float, typer.Option(help="Coverage threshold, minutes of drive.")
    ] = 3.0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/plan"),
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Incident files, folders or glob patterns (repeat the option: --incidents a.csv "
            "--incidents b.xlsx) or an ingested .parquet (default: the city's incident files).",
        ),
    ] = None,
    profile: ProfileOpt = None,
    mapping: MappingOpt = None,
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    roads: RoadsOpt = None,
    country: CountryOpt = None,
    stations: StationsOpt = None,
    frame: FrameOpt = None,
    demand: Annotated[
        str,
        typer.Option(
            help="Demand: incidents (history), road_length (no history: each node weighted by "
            "half its street length) or points (--demand-points)."
        ),
    ] = "incidents",
    demand_points: Annotated[
        Path | None,
        typer.Option(
            "--demand-points",
            help="Places to cover (CSV/Excel/points, optional weight column): the demand "
            "when there is no history.",
        ),
    ] = None,
    output_frame: Annotated[
        str,
        typer.Option(
            "--output-frame",
            help="Frame of the lon/lat in the GeoJSON/CSV outputs: wgs84, gcj02 (AMap, "
            "Tencent) or bd09 (Baidu).",
        ),
    ] = "wgs84",
    types: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated type groups (property, service, 侵财, 求助服务 ...), types "
            "(BURGLARY, 求助 ...) or subtypes (走失求助 ...) that make the demand (default: all)."
        ),
    ] = None,
    cell_m: Annotated[float, typer.Option(help="Grid cell, metres.")] = 150.0,
    fixed_sites: Annotated[
        Path | None,
        typer.Option(
            help="Existing sites kept open, CSV/Excel/points (default: the city's stations)."
        ),
    ] = None,
    candidate_sites: Annotated[
        Path | None,
        typer.Option(help="Candidate sites, CSV/Excel/points (default: road intersections)."),
    ] = None,
    candidates_outside_m: Annotated[
        float,
        typer.Option(
            "--candidates-outside-m",
            help="How far outside the study area a booth may be placed, metres (default 0: "
            "booths inside the boundary; stations may lie outside).",
        ),
    ] = 0.0,
    lang: Annotated[str, typer.Option(help="Report language: en or zh.")] = "en",
    crs: Annotated[
        str | None, typer.Option(help="Projected CRS in metres (default: UTM zone of the area).")
    ] = None,
    forecast: Annotated[
        str | None,
        typer.Option(
            help="Weigh demand by a forecast instead of history, e.g. auto (chosen by "
            "validation before the window), sepp, naive:period_days=365, kde (see "
            "`xunfang forecast evaluate --help`)."
        ),
    ] = None,
    forecast_window: Annotated[
        str, typer.Option(help="Forecast window: day, night, week or HH-HH.")
    ] = "week",
    forecast_start: Annotated[
        str | None,
        typer.Option(help="Local date the forecast window starts (default: after the data)."),
    ] = None,
    time_limit_s: Annotated[float, typer.Option(help="Solver time limit, seconds.")] = 60.0,
    pmedian_gap: Annotated[
        float,
        typer.Option(
            help="Relative gap at which the p-median stops (0.001: within 0.1 % of the "
            "stated lower bound; 0.0001 or less: proven optimal, slower)."
        ),
    ] = 1e-3,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="Coverage target, e.g. 3min:95% (repeat for several, met together): the "
            "fewest booths and where.",
        ),
    ] = None,
    staff_per_booth: Annotated[
        int, typer.Option(help="Officers per booth per shift (officer cost of each booth).")
    ] = 2,
    shifts_per_day: Annotated[int, typer.Option(help="Shifts per day at a booth.")] = 3,
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster",
            help="Roster (TOML/CSV, as for `deploy`): booth staffing (officers per day) from "
            "its booths.min_staff and shifts, instead of --staff-per-booth/--shifts-per-day.",
        ),
    ] = None,
    objective: Annotated[
        str,
        typer.Option(
            help="Siting objective: mclp (the threshold alone), tiered (1-3-5 rings with "
            "--tier-weights) or mexclp (expected coverage with busy booths, Daskin 1983)."
        ),
    ] = "mclp",
    tier_weights: Annotated[
        str, typer.Option(help="Weights of the 1, 3 and 5 minute rings, e.g. 3,2,1.")
    ] = "1,1,1",
    priority_weights: Annotated[
        bool,
        typer.Option(
            "--priority-weights",
            help="Weigh incidents violent 3 > property 2 > service 1 (tiered/mexclp).",
        ),
    ] = False,
    curve_max_booths: Annotated[
        int | None,
        typer.Option(help="Largest K of the trade-off curve (default 2 x booths, at least 40)."),
    ] = None,
    curve: Annotated[bool, typer.Option(help="Compute the trade-off curve.")] = True,
    curve_time_s: Annotated[
        float | None,
        typer.Option(
            help="Wall seconds of the trade-off curve after which it runs no more branch and "
            "bound (points past it report their gap in tradeoff.csv); default 40, and 5 per "
            "district for district:all / --each."
        ),
    ] = None,
    sectors: Annotated[bool, typer.Option(help="Draw one patrol sector per site.")] = True,
    service_min: Annotated[
        float, typer.Option(help="Mean time on scene per call, minutes (busy shares).")
    ] = 45.0,
    each: Annotated[
        bool,
        typer.Option(
            help="Plan every area of a comma list on its own (district:all always does) and "
            "write a city summary."
        ),
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask scheduler tcp://HOST:PORT for --each / KIND:all (default: local)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Local worker processes for --each / KIND:all (0: in process).")
    ] = 2,
    data_dir: DataDir = None,
) -> None:
    """Plan booths for a study area and write the report (HTML, GeoJSON, CSV).

    ``--area district:all`` (or ``--each`` with a comma list) plans every district at once on
    dask.distributed and writes one folder per district plus ``city_summary.csv/json`` and
    ``city_report.html``. ``--area all`` is every polygon of the first boundary layer (with
    ``--boundary FILE``, the layer ``boundary``: the same as ``--area boundary:all``).
    """
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
    from xunfang.plan.decisions import DecisionConfig
    from xunfang.serve.decisions_report import terminal_lines
    from xunfang.serve.report import LANGS, step_name, write_plan

    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {LANGS}, got {lang!r}"))
    if demand_points is not None and demand == "incidents":
        demand = "points"
    try:
        the_city = city_from_options(
            city=city,
            boundary=boundary,
            boundary_name=boundary_name,
            boundary_name_field=boundary_name_field,
            roads=roads,
            country=country,
            stations=stations,
            frame=frame,
            profile=profile,
            mapping=mapping,
            incidents=incidents,
            data_dir=get_settings(data_dir=data_dir).data_dir,
        )
        to_output_frame_check(output_frame)
        incident_paths = tuple(incident_inputs(incidents or []))
    except XunfangError as exc:
        raise fail(exc, lang) from exc
    config = PlanConfig(
        area=area,
        city=the_city,
        crs=crs,
        forecast=forecast,
        forecast_window=forecast_window,
        forecast_start=forecast_start,
        booths=booths,
        threshold_min=threshold_min,
        cell_m=cell_m,
        incident_files=incident_paths,
        profile=profile,
        types=tuple(t.strip() for t in types.split(",")) if types else (),
        fixed_sites=fixed_sites,
        candidate_sites=candidate_sites,
        candidates_outside_m=candidates_outside_m,
        frame=frame,
        demand=demand.replace("-", "_"),
        demand_points=demand_points,
        time_limit_s=time_limit_s,
        pmedian_gap=pmedian_gap,
    )
    try:
        weights = tuple(float(x) for x in tier_weights.split(","))
    except ValueError as exc:
        raise fail(
            ValueError(f"--tier-weights {tier_weights!r}: three numbers, e.g. 3,2,1"), lang
        ) from exc
    decisions = DecisionConfig(
        targets=tuple(target or ()),
        curve_max_booths=curve_max_booths,
        curve=curve,
        curve_time_s=DecisionConfig.curve_time_s if curve_time_s is None else curve_time_s,
        staff_per_booth=staff_per_booth,
        shifts_per_day=shifts_per_day,
        roster=str(roster) if roster is not None else None,
        service_min=service_min,
        sectors=sectors,
        objective=objective,
        tier_weights=weights,  # type: ignore[arg-type]
        priority=priority_weights,
    )
    try:
        decisions.validate()
    except XunfangError as exc:
        raise fail(exc, lang) from exc
    config = dataclasses.replace(config, decisions=decisions)
    every = area is not None and (
        area.strip().lower() == "all" or area.partition(":")[2].strip().lower() == "all"
    )
    if area and (each or every):
        if curve_time_s is None:
            from xunfang.plan.city_plan import CITY_CURVE_TIME_S

            config = dataclasses.replace(
                config, decisions=dataclasses.replace(decisions, curve_time_s=CITY_CURVE_TIME_S)
            )
        _city_plan(config, area, out, scheduler, workers, lang, data_dir, output_frame)
        return
    union = one_area_note(area, lang)
    if union:
        console.print(f"[dim]{escape(union)}[/]", soft_wrap=True)
    steps = [
        "study area",
        "ingest incidents",
        "road network",
        "where and when",
        "forecast",
        "travel times",
        "booth siting (MCLP)",
        "p-median",
        "compare layouts",
        "trade-off curve",
        "targets",
        "tiered siting",
        "MEXCLP siting",
        "what each booth buys",
        "patrol sectors",
        "report",
    ]
    start = time.perf_counter()
    try:
        settings = get_settings(data_dir=data_dir)
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task(step_name("plan", lang), total=len(steps))

            def step(name: str) -> None:
                progress.update(
                    task,
                    description=step_name(name, lang),
                    completed=steps.index(name) if name in steps else 0,
                )

            plan = make_booth_plan(config, settings, progress=step)
            step("report")
            written = write_plan(plan, out, lang=lang, output_frame=output_frame)
            progress.update(task, completed=len(steps), description=step_name("done", lang))
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    if plan.ingest_report is not None:
        print_ingest_report(plan.ingest_report, lang)
    _print_plan_summary(plan, lang)
    for line in terminal_lines(plan, lang):
        console.print(line)
    if plan.forecast_note:
        label = "按预测加权的方案" if lang == "zh" else "Forecast-weighted plan"
        console.print(f"[bold yellow]{label}:[/] {plan.forecast_note}")
    seconds = time.perf_counter() - start
    console.print(
        f"\n已写出 {len(written)} 个文件到 {out}/，用时 {seconds:.1f} 秒："
        f"报告 {written['report.html']}"
        if lang == "zh"
        else f"\nWrote {len(written)} files to {out}/ in {seconds:.1f} s: report "
        f"{written['report.html']}"
    )


def _city_plan(
    config: PlanConfig,
    area: str,
    out: Path,
    scheduler: str | None,
    workers: int,
    lang: str,
    data_dir: Path | None,
    output_frame: str = "wgs84",
) -> None:
    from xunfang.serve.cli_plan_all import (
        earlier_folders_line,
        exit_130_on_interrupt,
        run_city_plan,
    )

    start = time.perf_counter()
    try:
        settings = get_settings(data_dir=data_dir)
        with exit_130_on_interrupt(out, console, lang):
            summaries, totals, report = run_city_plan(
                config,
                area,
                settings,
                out,
                console=console,
                scheduler=scheduler,
                workers=workers,
                lang=lang,
                output_frame=output_frame,
            )
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    if report is not None:
        print_ingest_report(report, lang)
    wall_s = time.perf_counter() - start
    more = totals["pmedian_within_gap"] - totals["pmedian_proven"]  # it counts the proven too
    console.print(
        f"\n{totals['districts']} 个区域，{totals['booths']} 个岗亭：覆盖标准内的警情 "
        f"{totals['share_before']:.1%} -> {totals['share_after']:.1%}；p-中位模型在 "
        f"{totals['districts']} 个区域中有 {totals['pmedian_proven']} 个证明最优，另有 "
        f"{more} 个在停止间隙内"
        f"（最大间隙 {totals['pmedian_max_gap']:.3%}）。"
        f"用时 {wall_s:.1f} 秒，已写出 {out}/city_report.html 和 {len(summaries)} 个目录"
        if lang == "zh"
        else f"\n{totals['districts']} areas, {totals['booths']} booths: within the threshold "
        f"{totals['share_before']:.1%} -> {totals['share_after']:.1%}; p-median proven optimal "
        f"in {totals['pmedian_proven']} of {totals['districts']}, {more} more within its "
        f"stopping gap (largest gap {totals['pmedian_max_gap']:.3%}). Wrote "
        f"{out}/city_report.html and {len(summaries)} folders in {wall_s:.1f} s"
    )
    if "incidents_in_no_area" in totals:
        console.print(
            f"不在任何辖区内的警情：{totals['incidents_total']:,} 起中有 "
            f"{totals['incidents_in_no_area']:,} 起（未计入任何方案）"
            if lang == "zh"
            else f"incidents in no area: {totals['incidents_in_no_area']:,} of "
            f"{totals['incidents_total']:,} (in no district's plan)"
        )
    earlier = earlier_folders_line(
        totals.get("earlier_run_folders", []), out, "city_summary.json", lang
    )
    if earlier:
        console.print(earlier, soft_wrap=True)
    for failed_area, reason in totals.get("failed", {}).items():
        console.print(
            f"[yellow]警告：[/]{escape(failed_area)} 未能规划（其他区域已完成，见 "
            f"city_summary.json 的 failed）：{escape(reason_text(reason, lang))}"
            if lang == "zh"
            else f"[yellow]warning:[/] {escape(failed_area)} not planned (the other areas are; "
            f"see failed in city_summary.json): {escape(reason)}",
            soft_wrap=True,
        )


RING_LABELS = {
    "stations_only": "stations alone",
    "plan_mclp": "stations + booths (MCLP)",
    "plan_pmedian": "stations + booths (p-median)",
    "plan_tiered": "stations + booths (tiered 1-3-5)",
    "plan_mexclp": "stations + booths (MEXCLP)",
}


def _print_plan_summary(plan: BoothPlan, lang: str = "en") -> None:
    """The plan's figures in the terminal (``lang`` ``zh``: in Chinese, the notes too)."""
    from xunfang.ingest.notes import note_text
    from xunfang.serve.decisions_report import status_text
    from xunfang.serve.report import _t as report_text

    zh = lang == "zh"
    net = plan.network.report
    inside = (
        f"区内 {len(plan.incidents):,} 起警情，区外 {plan.n_outside_area:,} 起"
        + (f"，其他类别 {plan.n_other_types:,} 起" if plan.config.types else "")
        if zh
        else f"{len(plan.incidents):,} incidents inside, {plan.n_outside_area:,} outside"
        + (f", {plan.n_other_types:,} of other types" if plan.config.types else "")
    )
    console.print(
        f"\n[bold]{plan.area.name}[/] ({', '.join(plan.area.members)}; "
        f"{plan.area.area_km2:.1f} km², {plan.area.crs.to_string()}): {inside}"
    )
    if plan.demand_note:
        console.print(f"[bold]{'需求' if zh else 'Demand'}:[/] {note_text(plan.demand_note, lang)}")
    if plan.candidates_note:
        label = "候选点" if zh else "Candidates"
        console.print(f"[bold yellow]{label}:[/] {escape(plan.candidates_note)}", soft_wrap=True)
    if plan.stations_note:
        label = "派出所" if zh else "Stations"
        note = escape(note_text(plan.stations_note, lang))
        console.print(f"[bold yellow]{label}:[/] {note}", soft_wrap=True)
    if net.stitch_links or len(net.areas) > 1:  # graphs per area, stitched
        console.print(
            f"路网：{net.nodes:,} 个节点，{net.edges_kept:,} 条可行车边，{len(net.areas)} 个片区间"
            f"拼接 {net.stitch_links} 条连接，{net.nodes_left_out} 个节点未强连通而剔除"
            if zh
            else f"Road network: {net.nodes:,} nodes, {net.edges_kept:,} drivable edges, "
            f"{net.stitch_links} links stitched between {len(net.areas)} areas, "
            f"{net.nodes_left_out} nodes left out (not strongly connected)"
        )
    else:  # one road file: its ways counted as read, the nodes as kept after clipping
        console.print(
            f"路网（{escape(', '.join(net.areas))}）：保留 {net.nodes:,} 个节点，"
            f"{net.nodes_left_out} 个未强连通而剔除；文件中 {net.edges_read:,} 条道路，"
            f"{net.edges_kept:,} 条可行车"
            if zh
            else f"Road network of {escape(', '.join(net.areas))}: {net.nodes:,} nodes kept, "
            f"{net.nodes_left_out} left out (not strongly connected); {net.edges_kept:,} "
            f"drivable ways of {net.edges_read:,} in the file"
        )
    if net.area_road_km is not None and net.area_road_km_kept is not None:
        share = 100 * net.area_road_km_kept / net.area_road_km if net.area_road_km else 100.0
        console.print(
            f"{escape(plan.area.name)} 区内道路 {net.area_road_km:.1f} 公里，路网保留 "
            f"[bold]{share:.1f} %[/]"
            if zh
            else f"[bold]{share:.1f} %[/] of the {net.area_road_km:.1f} km of road inside "
            f"{escape(plan.area.name)} kept in the network"
        )
    for note in net.notes:
        console.print(f"  [dim]{escape(note_text(note, lang))}[/]")
    from xunfang.plan.booth_plan import plan_warnings

    for warning in plan_warnings(plan, lang):
        console.print(
            f"[bold yellow]{'警告' if zh else 'warning'}:[/] {escape(warning)}", soft_wrap=True
        )
    if zh:
        demand = (
            f"同一批 {len(plan.incidents):,} 起警情"
            if plan.config.demand == "incidents"
            else "需求："
            + ("道路长度" if plan.config.demand == "road_length" else "地点")
            + "（见上）"
        )
        title = f"道路通行覆盖，{demand}"
        # two-line headings and labels: Chinese has no spaces to wrap at, and at 80 columns
        # the layouts were cut to the same "派出所+…"
        heads = ["布局", "站点数", *(f"≤{m}分钟" for m in (1, 3, 5))]
        heads += [f"≤{plan.config.threshold_min:g}分钟\n（规划）", "平均\n分钟", "p90\n分钟"]
    else:
        demand = (
            f"same {len(plan.incidents):,} incidents"
            if plan.config.demand == "incidents"
            else f"demand: {plan.config.demand.replace('_', ' ')} (see above)"
        )
        title = f"Response coverage by road, {demand}"
        heads = ["layout", "sites", *(f"≤{m} min" for m in (1, 3, 5))]
        heads += [f"≤{plan.config.threshold_min:g} min (plan)", "mean min", "p90 min"]
    table = Table(title=title)
    for i, head in enumerate(heads):
        # the layout column folds rather than ends in "…": every layout stays told apart
        wide = 11 if zh and not i else None  # "派出所+岗亭" on one line
        table.add_column(
            head, justify="right" if i else "left", overflow="fold" if not i else "ellipsis",
            min_width=wide,
        )  # fmt: skip
    for r in plan.rings:
        table.add_row(
            report_text(r.label, "zh").replace("（", "\n（", 1) if zh else RING_LABELS[r.label],
            str(r.n_sites),
            *(f"{100 * r.share_within[m]:.1f}%" for m in (1, 3, 5)),
            f"{100 * r.share_within_threshold:.1f}%",
            f"{r.mean_s / 60:.2f}",
            f"{r.p90_s / 60:.2f}",
        )
    console.print(table)
    for res in (plan.mclp, plan.pmedian):
        if res is not None:
            console.print(
                f"{res.model}：{status_text(res.status, lang)}，求解 {res.solve_time_s:.2f} 秒，"
                f"最优性差距 {res.mip_gap:.2e}"
                if zh
                else f"{res.model}: {res.status}, solved in {res.solve_time_s:.2f} s, "
                f"optimality gap {res.mip_gap:.2e}"
            )
    if not plan.hotspots:  # road-length or point demand: no incident hotspots
        return
    console.print(f"\n[bold]{'热点' if zh else 'Hotspots'}[/]")
    tax = load_taxonomy()
    for h in plan.hotspots:
        group = tax.label(h.group, lang) if h.group != "all" else ("全部" if zh else "all")
        console.print("  " + h.sentence(group, lang))


def one_area_note(area: str | None, lang: str = "en") -> str | None:
    """The note ``plan`` prints for ``--area KIND:A,B,C`` without ``--each``: the list is
    planned as ONE area (the union of its polygons), which a user may have meant as one
    plan each; None for a single name."""
    names = [n.strip() for n in (area or "").partition(":")[2].split(",") if n.strip()]
    if len(names) < 2:
        return None
    return (
        f"--area {area}：{len(names)} 个区域合为一个区域规划；--each 则逐个规划"
        if lang == "zh"
        else f"--area {area}: planned as one area (the union of {len(names)}); --each plans each"
    )


def to_output_frame_check(frame: str) -> None:
    """Raise ValidationError unless ``frame`` is wgs84, gcj02 or bd09."""
    from xunfang.errors import ValidationError
    from xunfang.ingest.city import FRAMES

    if frame.lower().replace("-", "") not in FRAMES:
        raise ValidationError(f"--output-frame must be one of {', '.join(FRAMES)}, got {frame!r}")


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    app()
