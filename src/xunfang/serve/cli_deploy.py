"""``xunfang deploy``: a week of dynamic deployment and patrol routes from a booth plan.

Mounted by the main CLI (``app.add_typer(deploy_app, name="deploy")``)::

    xunfang deploy --plan-dir out/demo --roster examples/deploy/roster.toml \\
        --calendar examples/deploy/calendar.toml --out out/deploy [--seed N] [--block-hours 2]

The work is done by :mod:`xunfang.plan.deployment`; this module parses options and prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xunfang import strict_json
from xunfang.config import get_settings
from xunfang.errors import DataFileError, ValidationError, XunfangError
from xunfang.ingest.incidents import incident_inputs
from xunfang.ingest.notes import note_text
from xunfang.serve._common import fail, writes_output_folder
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

__all__ = ["app", "deploy_cmd"]

app = typer.Typer(
    help=(
        "Plan a week of deployment from a booth plan: booth staff around the clock, vehicles, "
        "foot patrols and rule posts (school gates) by time block, with patrol routes."
    ),
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)
console = Console()


def check_input_files(roster: Path, calendar: Path | None, incidents: list[Path] | None) -> None:
    """Refuse missing input files before anything is read: a missing ``--incidents`` file
    was found only after the road network was loaded (17 s on a small city), a missing
    roster by each district of a city plan in turn.

    Raises
    ------
    DataFileError
        Naming the one missing file (roster, calendar or incident file).
    ValidationError
        Naming each of several missing files with its option; or an ``--incidents``
        pattern that matches nothing.
    """
    named = [("--roster", roster, "roster file"), ("--calendar", calendar, "calendar file")]
    named += [("--incidents", p, "file") for p in incident_inputs(incidents or [])]
    missing = [(opt, p, what) for opt, p, what in named if p is not None and not p.exists()]
    if len(missing) == 1:
        raise DataFileError(missing[0][1], f"{missing[0][2]} not found")
    if missing:
        raise ValidationError(
            "input files not found: " + ", ".join(f"{opt} {p}" for opt, p, _ in missing)
        )


@app.callback(invoke_without_command=True)
@writes_output_folder
def deploy_cmd(
    plan_dir: Annotated[
        Path,
        typer.Option(
            "--plan-dir",
            help="Output folder of `xunfang plan` (sites.csv), or of `xunfang plan --area "
            "district:all` (city_summary.json): then every district is deployed.",
        ),
    ],
    roster: Annotated[
        Path, typer.Option("--roster", help="Roster: shifts, officers, vehicles (TOML or CSV).")
    ],
    calendar: Annotated[
        Path | None,
        typer.Option("--calendar", help="Rule calendar: schools, places, windows (TOML)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/deploy"),
    seed: Annotated[int, typer.Option(help="Seed of the route variation.")] = 0,
    block_hours: Annotated[float, typer.Option(help="Time block length, hours.")] = 2.0,
    threshold_min: Annotated[
        float, typer.Option(help="Coverage standard T, minutes by road.")
    ] = 1.0,
    max_stops: Annotated[int, typer.Option(help="Stops per route offered: 2 x this.")] = 8,
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Incident files or an ingested .parquet (default: the city's, as the plan "
            "recorded it), raw files read with --profile/--mapping as by plan.",
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
    smoothing: Annotated[
        float,
        typer.Option(help="Weight of the separable where x when term in the risk, 0-1."),
    ] = 0.5,
    route_search: Annotated[
        str, typer.Option(help="greedy_descent (reproducible) or guided_local_search.")
    ] = "greedy_descent",
    sector_patrol_min: Annotated[
        float,
        typer.Option(
            help="With the plan's sectors.geojson: minutes per block one booth officer walks "
            "the booth's own sector (0: booth officers stay at their booths)."
        ),
    ] = 45.0,
    lang: Annotated[str, typer.Option(help="Report language: en or zh.")] = "en",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="City plan folder: a dask scheduler tcp://HOST:PORT to run on."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="City plan folder: LocalCluster worker processes (0: in process).", min=0
        ),
    ] = 2,
) -> None:
    """Plan a week of deployment and write the report, tables, routes and schedules."""
    from xunfang.plan.deployment import DeployConfig, deploy_from_plan_dir
    from xunfang.serve.deploy_report import LANGS, write_deployment
    from xunfang.serve.report import step_name

    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {LANGS}, got {lang!r}"))
    start = time.perf_counter()
    writing = False
    try:
        config = DeployConfig(
            block_hours=block_hours,
            threshold_min=threshold_min,
            max_stops=max_stops,
            seed=seed,
            route_search=route_search,
            sector_patrol_min=sector_patrol_min,
        )
        config.validate()
        settings = get_settings(data_dir=data_dir)
        refuse_stations_with_plan_dir(stations, plan_dir)
        check_input_files(roster, calendar, incidents)  # before the road network is read
        from xunfang.serve.cli_city_runs import recorded_city

        the_city = (
            city_from_options(
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
                data_dir=settings.data_dir,
                # the options replace parts of the city the plan recorded
                base_city=recorded_city(plan_dir) if city is None else None,
            )
            if any(v is not None for v in (city, boundary, roads, country, profile, mapping))
            else None  # the city recorded in the plan folder
        )
        from xunfang.serve.cli_city_runs import (
            is_city_plan_dir,
            print_failed,
            run_city_deploy,
        )

        if is_city_plan_dir(plan_dir):
            from xunfang.serve.cli_plan_all import exit_130_on_interrupt

            with exit_130_on_interrupt(out, console, lang):
                _, totals = run_city_deploy(
                    plan_dir,
                    roster,
                    calendar,
                    settings,
                    out,
                    console=console,
                    config=config,
                    incident_files=tuple(incident_inputs(incidents or [])),
                    city=the_city,
                    scheduler=scheduler,
                    workers=workers,
                    lang=lang,
                )
            wall_s = time.perf_counter() - start
            console.print(
                f"{totals['districts']} 个辖区，{totals['booths']} 个岗亭，"
                f"{totals['routes']} 条路线，{totals['officer_hours']:,.0f} 警力·小时；"
                f"岗位可及范围内的风险 {totals['covered_share']:.1%}。用时 {wall_s:.1f} 秒，"
                f"已写出 {out}/city_deploy_report.html 和 city_deploy_summary.csv"
                if lang == "zh"
                else f"{totals['districts']} districts, {totals['booths']} booths, "
                f"{totals['routes']} routes, {totals['officer_hours']:,.0f} officer-hours; "
                f"risk within reach of a post {totals['covered_share']:.1%}. Wrote "
                f"{out}/city_deploy_report.html and city_deploy_summary.csv in {wall_s:.1f} s"
            )
            print_failed(
                console,
                totals["failed"],
                lang,
                "city_deploy_summary.json",
                totals["plan_failed"],
                earlier=totals.get("earlier_run_folders", ()),
                out=out,
            )
            return
        with console.status("planning") as status:

            def say(msg: str) -> None:
                status.update(escape(msg))

            dep, ctx = deploy_from_plan_dir(
                plan_dir,
                roster,
                calendar,
                settings,
                config=config,
                incident_files=tuple(incident_inputs(incidents or [])),
                smoothing=smoothing,
                progress=say,
                city=the_city,
            )
            status.update("writing outputs")
            t_out = time.perf_counter()
            writing = True
            written = write_deployment(
                dep, out, lang=lang, plan_dir=plan_dir, output_frame=_plan_frame(plan_dir)
            )
            t_out = time.perf_counter() - t_out
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    except KeyboardInterrupt:
        console.print(interrupted_line(out, writing=writing, lang=lang), soft_wrap=True)
        raise typer.Exit(130) from None
    w = dep.weekly
    zh = lang == "zh"
    n_booths = int((dep.sites["kind"] == "booth").sum())
    console.print(
        f"[bold]{dep.area_name}[/]：{len(dep.blocks)} 个时段（每段 {block_hours:g} 小时），"
        f"{n_booths} 个岗亭，{len(dep.routes)} 条巡逻路线（{int(ctx.n_weeks)} 周警情，区内 "
        f"{len(ctx.incidents):,} 起）"
        if zh
        else f"[bold]{dep.area_name}[/]: {len(dep.blocks)} blocks of {block_hours:g} h, "
        f"{n_booths} booths, {len(dep.routes)} routes "
        f"({int(ctx.n_weeks)} weeks of incidents, {len(ctx.incidents):,} in the area)"
    )
    t = f"{threshold_min:g}"
    rows = [
        ("person-times (officer shifts)", "人次（警员班次）", f"{w['person_times']:,.0f}"),
        ("officer-hours", "警力工时", f"{w['officer_hours']:,.0f}"),
        (
            "patrol hours (vehicle + foot, officer-hours)",
            "巡逻工时（车巡+步巡）",
            f"{w['patrol_hours']:,.0f}",
        ),
        ("vehicle patrol hours", "车巡工时", f"{w['vehicle_hours']:,.0f}"),
        (
            f"risk within {t} min of a post",
            f"距岗位 {t} 分钟内的风险",
            f"{100 * w['covered_share']:.1f}%",
        ),
        (
            f"risk within {t} min of two posts",
            f"距两个岗位 {t} 分钟内的风险",
            f"{100 * w['backup_share']:.1f}%",
        ),
        (
            f"risk within {t} min of a patrol",
            f"距巡逻 {t} 分钟内的风险",
            f"{100 * w['patrol_covered_share']:.1f}%",
        ),
        ("risk at route stops", "巡逻停靠点的风险", f"{100 * w['route_risk_share']:.1f}%"),
        (
            "lowest block: risk within reach",
            "最低时段：可及风险",
            f"{100 * w['min_block_covered_share']:.1f}%",
        ),
    ]
    table = Table(title="本周" if zh else "The week")
    table.add_column("")
    table.add_column("数值" if zh else "value", justify="right")
    for en_label, zh_label, value in rows:
        table.add_row(zh_label if zh else en_label, value)
    console.print(table)
    if dep.sector_kpis is not None and dep.hotspots_changed is not None:
        k = dep.sector_kpis
        n_changed, n_hot = dep.hotspots_changed[1], dep.hotspots_changed[0]
        console.print(
            f"{len(k)} 个巡区：岗亭步巡 {int(k['patrols'].sum())} 人次，"
            f"{k['patrol_hours'].sum():.0f} 小时；{n_hot} 个热点中 {n_changed} 个归所在巡区的岗亭，"
            "而非最近的岗亭（sectors.csv）"
            if zh
            else f"{len(k)} patrol sectors: {int(k['patrols'].sum())} booth patrols "
            f"(person-times), {k['patrol_hours'].sum():.0f} h; {n_changed} of {n_hot} hotspots "
            "go to their sector's booth, not the nearest (sectors.csv)"
        )
    for note in dep.notes:
        console.print(f"  [dim]{escape(note_text(note, lang))}[/]")
    timings = {**ctx.timings_s, **dep.timings_s, "outputs": t_out}
    unit = "秒" if zh else "s"
    console.print(
        ("用时：" if zh else "Time: ")
        + ("，" if zh else ", ").join(
            f"{step_name(k, lang)} {v:.1f} {unit}" for k, v in timings.items()
        )
    )
    console.print(
        f"已写出 {len(written)} 个文件和 {len(dep.routes)} 条路线（GeoJSON + GPX）到 {out}/，"
        f"用时 {time.perf_counter() - start:.1f} 秒：报告 {written['report.html']}"
        if zh
        else f"Wrote {len(written)} files and {len(dep.routes)} routes (GeoJSON + GPX) to "
        f"{out}/ in {time.perf_counter() - start:.1f} s: report {written['report.html']}"
    )


def interrupted_line(out: Path, *, writing: bool, lang: str = "en") -> str:
    """What a single-area ``deploy`` says on Ctrl-C (exit code 130): nothing written yet,
    or the folder ``out`` is incomplete (``deploy_summary.json``, written last, missing)."""
    zh = lang == "zh"
    where = escape(str(out))
    if not writing:
        return (
            f"已中断：尚未写出任何文件到 {where}"
            if zh
            else f"interrupted: nothing written to {where}"
        )
    return (
        f"已中断：{where} 中的输出不完整（最后写出的 deploy_summary.json 不存在，报告可能缺失）；"
        "请重新运行"
        if zh
        else f"interrupted while writing: {where} is incomplete (deploy_summary.json, written "
        "last, is missing, and report.html may be too); run again"
    )


def _plan_frame(plan_dir: Path) -> str:
    """The frame the plan wrote its coordinates in (``wgs84`` for older plans)."""
    summary = plan_dir / "plan_summary.json"
    if not summary.is_file():
        return "wgs84"
    return str(strict_json.load_file(summary).get("output_frame", "wgs84"))
