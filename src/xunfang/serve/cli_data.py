"""``xunfang data``: download the public data sources into the data directory.

Mounted by the main CLI as ``xunfang data``::

    xunfang data list [CITY]
    xunfang data fetch CITY [--only NAME ...] [--force] [--with-roads [--area AREA ...]]
                            [--data-dir PATH] [--dataset-id NAME=ID ...] [--no-progress]
    xunfang data osm --boundary FILE [--boundary-name NAME] [--frame gcj02] --out FILE.osm

The work is done by :mod:`xunfang.ingest.sources`; this module only parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xunfang.config import get_settings
from xunfang.errors import XunfangError
from xunfang.ingest.sources import (
    CITIES,
    DEFAULT_EXTRACT_MARGIN_M,
    ROADS_DIR,
    FetchResult,
    fetch,
    fetch_osm_extract,
    fetch_roads,
    resolve_url,
    sources_for,
)
from xunfang.serve.cli_city import (
    BoundaryNameFieldOpt,
    BoundaryNameOpt,
    BoundaryOpt,
    CityOpt,
    FrameOpt,
    city_from_options,
)

app = typer.Typer(
    help=(
        "Download the public data of the cities in the source registry (their open-data "
        "portals, OpenStreetMap) into the data "
        "directory (XUNFANG_DATA_DIR), in the layout xunfang reads."
    ),
    no_args_is_help=True,
)

_out = Console()
_err = Console(stderr=True)


def _parse_dataset_ids(items: list[str] | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    for item in items or []:
        name, sep, dataset_id = item.partition("=")
        if not sep or not name.strip() or not dataset_id.strip():
            raise typer.BadParameter(
                f"{item!r} is not NAME=ID (e.g. police_beats=aerh-rz74)", param_hint="--dataset-id"
            )
        ids[name.strip()] = dataset_id.strip()
    return ids


def _human_bytes(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("kB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _result_table(result: FetchResult, title: str) -> Table:
    table = Table(title=title)
    table.add_column("source")
    table.add_column("status")
    table.add_column("size", justify="right")
    table.add_column("path")
    style = {"downloaded": "green", "built": "green", "cached": "cyan", "present": "cyan"}
    for item in result.files:
        try:
            shown = item.path.relative_to(result.data_dir)
        except ValueError:
            shown = item.path
        table.add_row(
            item.name,
            f"[{style[item.status]}]{item.status}[/]",
            _human_bytes(item.size_bytes),
            str(shown),
        )
    return table


@app.command("list")
def list_sources(
    city: Annotated[
        str | None,
        typer.Argument(help=f"City ({', '.join(CITIES)}); default: every city listed."),
    ] = None,
    dataset_id: Annotated[
        list[str] | None,
        typer.Option("--dataset-id", help="Replace a Socrata dataset id: NAME=ID (repeatable)."),
    ] = None,
) -> None:
    """List the public sources of CITY (default: of every city the registry knows): name,
    target path, URL and licence."""
    cities = [city] if city is not None else list(CITIES)
    try:
        settings = get_settings()
        ids = _parse_dataset_ids(dataset_id)
        sources = tuple(src for c in cities for src in sources_for(c, dataset_ids=ids))
        table = Table(title=f"Sources for {', '.join(cities)} (targets under {settings.data_dir})")
        table.add_column("name")
        table.add_column("group")
        table.add_column("target")
        table.add_column("url", overflow="fold")
        table.add_column("description / licence", overflow="fold")
        for src in sources:
            table.add_row(
                src.name,
                src.group,
                src.target,
                resolve_url(src.url, settings.source_base_url),
                f"{src.description}\n[dim]{src.licence}[/]",
            )
    except XunfangError as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from exc
    _out.print(table)
    _out.print(
        f"Road graphs (--with-roads): {ROADS_DIR}/<AREA>.graphml.gz, built with osmnx from "
        "OpenStreetMap (Overpass API), (c) OpenStreetMap contributors, ODbL 1.0."
    )


@app.command("fetch")
def fetch_sources(
    city: Annotated[str, typer.Argument(help=f"City to fetch ({', '.join(CITIES)}).")],
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Fetch only this source name or group (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Download again even when cached.")
    ] = False,
    with_roads: Annotated[
        bool,
        typer.Option(
            "--with-roads",
            help="Also build the OpenStreetMap street graphs per community area (osmnx, "
            "Overpass API; slow).",
        ),
    ] = False,
    area: Annotated[
        list[str] | None,
        typer.Option("--area", help="With --with-roads: only this community area (repeatable)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: XUNFANG_DATA_DIR)."),
    ] = None,
    dataset_id: Annotated[
        list[str] | None,
        typer.Option("--dataset-id", help="Replace a Socrata dataset id: NAME=ID (repeatable)."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
    ] = True,
) -> None:
    """Download the public sources of CITY into the data directory and show what was done."""
    if area and not with_roads:
        raise typer.BadParameter("--area only applies with --with-roads", param_hint="--area")
    ids = _parse_dataset_ids(dataset_id)
    try:
        settings = get_settings(data_dir=data_dir)
        result = fetch(
            city,
            settings,
            only=only,
            force=force,
            progress=progress,
            dataset_ids=ids,
            console=_err,
        )
        _out.print(_result_table(result, f"{city}: data under {result.data_dir}"))
        _out.print(
            f"{len(result.downloaded)} downloaded, {len(result.cached)} from the cache "
            f"({settings.cache_dir})."
        )
        if with_roads:
            roads = fetch_roads(
                city, settings, areas=area, force=force, progress=progress, console=_err
            )
            _out.print(_result_table(roads, f"{city}: road graphs (OpenStreetMap, ODbL)"))
    except XunfangError as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from exc


@app.command("osm")
def fetch_osm(
    out: Annotated[Path, typer.Option("--out", help="The .osm file to write.")],
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    frame: FrameOpt = None,
    city: CityOpt = None,
    area: Annotated[
        str | None, typer.Option(help="Study area of --city (default: its default polygon).")
    ] = None,
    margin_m: Annotated[
        float, typer.Option(help="Margin around the boundary's bounding box, metres.")
    ] = DEFAULT_EXTRACT_MARGIN_M,
    force: Annotated[
        bool, typer.Option("--force", help="Download again even when cached.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Download the OpenStreetMap streets around a boundary (Overpass API; needs the
    internet) into an .osm file that `--roads` reads."""
    if boundary is None and city is None:
        raise typer.BadParameter("give --boundary FILE or --city FILE", param_hint="--boundary")
    try:
        settings = get_settings()
        the_city = city_from_options(
            city=city, boundary=boundary, boundary_name=boundary_name,
            boundary_name_field=boundary_name_field, frame=frame,
            data_dir=settings.data_dir,
        )  # fmt: skip
        sa = the_city.study_area(area)
        got = fetch_osm_extract(
            sa.polygon_wgs84, out, settings, margin_m=margin_m, force=force, progress=progress,
            console=_err,
        )  # fmt: skip
    except XunfangError as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from exc
    _out.print(
        f"{got.status}: {got.path} ({_human_bytes(got.size_bytes)}; {got.note}). "
        "(c) OpenStreetMap contributors, ODbL 1.0."
    )
