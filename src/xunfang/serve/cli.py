"""The ``xunfang`` command line (Typer) over the library functions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.columns import Columns
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from xunfang import __version__
from xunfang.config import get_settings
from xunfang.errors import XunfangError
from xunfang.ingest.incidents import IngestReport, ingest, profile_from_toml, write_outputs
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.serve._common import fail
from xunfang.serve.cli_data import app as data_app
from xunfang.serve.cli_deploy import deploy_cmd
from xunfang.serve.cli_forecast import app as forecast_app
from xunfang.serve.cli_serve import app as serve_app
from xunfang.serve.cli_simulate import app as simulate_app

if TYPE_CHECKING:
    from xunfang.plan.booth_plan import BoothPlan, PlanConfig

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
app.command(
    "deploy",
    help="Plan a week of deployment by time block (booths, patrols, school gates) with routes.",
)(deploy_cmd)
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
]


def print_ingest_report(report: IngestReport) -> None:
    """The ingest report as a table: rows read, accepted, rejected per reason."""
    table = Table(title="Ingest report", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("files", str(len(report.files)))
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("accepted", f"{report.rows_accepted:,}")
    for reason, n in report.rejected.items():
        table.add_row(f"rejected: {reason}", f"{n:,}", style="yellow" if n else None)
    if report.unmapped_types:
        table.add_row(
            "type not in taxonomy (kept as 'other')",
            f"{sum(report.unmapped_types.values()):,}",
            style="yellow",
        )
    if report.ambiguous_local_times:
        table.add_row("local time at a clock change (kept)", f"{report.ambiguous_local_times:,}")
    console.print(table)


@app.command("version")
def version() -> None:
    """Print the version."""
    console.print(f"xunfang {__version__}")


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Incident / CFS files (CSV, plain or gzip).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/ingest"),
    profile: Annotated[str, typer.Option(help="Column profile: chicago, portland.")] = "chicago",
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="TOML mapping of a generic source (replaces --profile)."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (default: detect; e.g. gb18030).")
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="Projected CRS of x_m/y_m (default: UTM zone of the data).")
    ] = None,
    area: Annotated[
        str | None,
        typer.Option(
            help="Keep only this study area (e.g. district:1); others count as outside_area."
        ),
    ] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Type-group table (TOML).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Read incident files into one validated table (incidents.parquet), with a report of
    every rejected row (rejected.csv, ingest_report.json)."""
    try:
        prof = profile_from_toml(mapping) if mapping else profile
        poly = None
        if area:
            from xunfang.ingest.areas import load_study_area

            settings = get_settings(data_dir=data_dir)
            sa = load_study_area(settings.city_dir("chicago") / "boundaries", area)
            poly = sa.polygon_wgs84
            crs = crs or sa.crs.to_string()
        start = time.perf_counter()
        with console.status(f"reading {len(paths)} file(s)"):
            table, rejected, report = ingest(
                paths,
                prof,
                crs=crs,
                area=poly,
                area_name=area,
                encoding=encoding,
                taxonomy=load_taxonomy(taxonomy) if taxonomy else None,
            )
            written = write_outputs(out, table, rejected, report)
    except (XunfangError, OSError) as exc:
        raise fail(exc) from exc
    print_ingest_report(report)
    console.print(
        f"{report.rows_accepted:,} incidents in {time.perf_counter() - start:.1f} s "
        f"({report.crs}, {report.timezone}) -> {written['incidents']}"
    )


@app.command("areas")
def areas_cmd(
    kind: Annotated[str, typer.Argument(help="district, beat or community")] = "district",
    data_dir: DataDir = None,
) -> None:
    """List the study-area names of one kind."""
    from xunfang.ingest.areas import read_boundaries

    try:
        settings = get_settings(data_dir=data_dir)
        layer = read_boundaries(settings.city_dir("chicago") / "boundaries", kind)
    except XunfangError as exc:
        raise fail(exc) from exc
    names = sorted(layer["name"], key=lambda n: n.zfill(6) if n.isdigit() else n)
    if kind == "community":
        names = [n.upper().replace(" ", "_") for n in names]
    console.print(f"{len(names)} {kind} names (use as --area {kind}:NAME):")
    console.print(Columns(names, equal=True, expand=False))


@app.command("plan")
def plan_cmd(
    area: Annotated[
        str, typer.Option(help="Study area, e.g. district:1 or community:LOOP,NEAR_WEST_SIDE.")
    ],
    booths: Annotated[int, typer.Option(help="Booths to site (stations are kept as well).")] = 27,
    threshold_min: Annotated[
        float, typer.Option(help="Coverage threshold, minutes of drive.")
    ] = 3.0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/plan"),
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Incident files or an ingested .parquet (default: the data "
            "directory's Chicago monthly files).",
        ),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option(help="Comma-separated type groups that make the demand (default: all)."),
    ] = None,
    cell_m: Annotated[float, typer.Option(help="Grid cell, metres.")] = 150.0,
    fixed_sites: Annotated[
        Path | None,
        typer.Option(help="CSV of existing sites kept open (default: police stations)."),
    ] = None,
    candidate_sites: Annotated[
        Path | None, typer.Option(help="CSV of candidate sites (default: road intersections).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Report language: en or zh.")] = "en",
    crs: Annotated[
        str | None, typer.Option(help="Projected CRS in metres (default: UTM zone of the area).")
    ] = None,
    forecast: Annotated[
        str | None,
        typer.Option(
            help="Weigh demand by a forecast instead of history, e.g. sepp, "
            "naive:period_days=365, kde (see `xunfang forecast evaluate --help`)."
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
    ``city_report.html``.
    """
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
    from xunfang.serve.report import LANGS, write_plan

    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {LANGS}, got {lang!r}"))
    config = PlanConfig(
        area=area,
        crs=crs,
        forecast=forecast,
        forecast_window=forecast_window,
        forecast_start=forecast_start,
        booths=booths,
        threshold_min=threshold_min,
        cell_m=cell_m,
        incident_files=tuple(incidents or ()),
        types=tuple(t.strip() for t in types.split(",")) if types else (),
        fixed_sites=fixed_sites,
        candidate_sites=candidate_sites,
        time_limit_s=time_limit_s,
    )
    if each or area.partition(":")[2].strip().lower() == "all":
        _city_plan(config, area, out, scheduler, workers, lang, data_dir)
        return
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
            task = progress.add_task("plan", total=len(steps))

            def step(name: str) -> None:
                progress.update(
                    task, description=name, completed=steps.index(name) if name in steps else 0
                )

            plan = make_booth_plan(config, settings, progress=step)
            step("report")
            written = write_plan(plan, out, lang=lang)
            progress.update(task, completed=len(steps), description="done")
    except (XunfangError, OSError) as exc:
        raise fail(exc) from exc
    if plan.ingest_report is not None:
        print_ingest_report(plan.ingest_report)
    _print_plan_summary(plan)
    console.print(
        f"\nWrote {len(written)} files to {out}/ in "
        f"{time.perf_counter() - start:.1f} s: report {written['report.html']}"
    )


def _city_plan(
    config: PlanConfig,
    area: str,
    out: Path,
    scheduler: str | None,
    workers: int,
    lang: str,
    data_dir: Path | None,
) -> None:
    from xunfang.serve.cli_city import run_city_plan

    start = time.perf_counter()
    try:
        settings = get_settings(data_dir=data_dir)
        summaries, totals, report = run_city_plan(
            config,
            area,
            settings,
            out,
            console=console,
            scheduler=scheduler,
            workers=workers,
            lang=lang,
        )
    except (XunfangError, OSError) as exc:
        raise fail(exc) from exc
    if report is not None:
        print_ingest_report(report)
    console.print(
        f"\n{totals['districts']} areas, {totals['booths']} booths: within the threshold "
        f"{totals['share_before']:.1%} -> {totals['share_after']:.1%}; p-median proven optimal "
        f"in {totals['pmedian_proven']} (largest gap {totals['pmedian_max_gap']:.3%}). Wrote "
        f"{out}/city_report.html and {len(summaries)} folders in "
        f"{time.perf_counter() - start:.1f} s"
    )


RING_LABELS = {
    "stations_only": "stations alone",
    "plan_mclp": "stations + booths (MCLP)",
    "plan_pmedian": "stations + booths (p-median)",
}


def _print_plan_summary(plan: BoothPlan) -> None:
    net = plan.network.report
    console.print(
        f"\n[bold]{plan.area.name}[/] ({', '.join(plan.area.members)}; "
        f"{plan.area.area_km2:.1f} km², {plan.area.crs.to_string()}): "
        f"{len(plan.incidents):,} incidents inside, {plan.n_outside_area:,} outside"
        + (f", {plan.n_other_types:,} of other types" if plan.config.types else "")
    )
    console.print(
        f"Road network: {net.nodes:,} nodes, {net.edges_kept:,} drivable edges, "
        f"{net.stitch_links} links stitched between {len(net.areas)} areas, "
        f"{net.nodes_left_out} nodes left out (not strongly connected)"
    )
    for note in net.notes:
        console.print(f"  [dim]{note}[/]")
    table = Table(title=f"Response coverage by road, same {len(plan.incidents):,} incidents")
    table.add_column("layout")
    table.add_column("sites", justify="right")
    for m in (1, 3, 5):
        table.add_column(f"≤{m} min", justify="right")
    table.add_column(f"≤{plan.config.threshold_min:g} min (plan)", justify="right")
    table.add_column("mean min", justify="right")
    table.add_column("p90 min", justify="right")
    for r in plan.rings:
        table.add_row(
            RING_LABELS[r.label],
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
                f"{res.model}: {res.status}, solved in {res.solve_time_s:.2f} s, "
                f"optimality gap {res.mip_gap:.2e}"
            )
    console.print("\n[bold]Hotspots[/]")
    tax = load_taxonomy()
    for h in plan.hotspots:
        console.print("  " + h.sentence(tax.label(h.group) if h.group != "all" else "all"))


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    app()
