"""``xunfang ingest``: incident files into one validated table, with its report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xunfang.config import get_settings
from xunfang.errors import XunfangError
from xunfang.ingest.city import City
from xunfang.ingest.incidents import (
    FUTURE_TOLERANCE,
    PROFILES,
    IngestReport,
    NoUsableRowsError,
    ingest,
    profile_from_toml,
    write_outputs,
)
from xunfang.ingest.messages import LANGS, column_text, expected_text, reason_text, text
from xunfang.ingest.notes import note_text
from xunfang.ingest.profiles import FrameName
from xunfang.ingest.readers import BAD_BYTES
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.serve._common import fail, writes_output_folder
from xunfang.serve.cli_city import (
    BoundaryFrameOpt,
    BoundaryNameFieldOpt,
    BoundaryNameOpt,
    BoundaryOpt,
    CityOpt,
    city_from_options,
)

console = Console()
FRAMES: tuple[FrameName, ...] = ("wgs84", "gcj02", "bd09")


def print_ingest_report(report: IngestReport, lang: str = "en") -> None:
    """The ingest report as a table: rows read, accepted, rejected per reason, then the
    piles, masked columns, notes and an example of each rejection, in ``lang``."""
    table = Table(title=text("title", lang), show_header=True, header_style="bold")
    table.add_column("")
    table.add_column(text("rows", lang), justify="right")
    colon = "：" if lang == "zh" else ": "
    table.add_row(text("files", lang), str(len(report.files)))
    table.add_row(text("rows_read", lang), f"{report.rows_read:,}")
    table.add_row(text("accepted", lang), f"{report.rows_accepted:,}")
    for reason, n in report.rejected.items():
        label = f"{text('rejected', lang)}{colon}{reason_text(reason, lang)}"
        table.add_row(label, f"{n:,}", style="yellow" if n else None)
    if report.unmapped_types:
        table.add_row(
            text("unmapped", lang), f"{sum(report.unmapped_types.values()):,}", style="yellow"
        )
    if report.ambiguous_local_times:
        table.add_row(text("ambiguous", lang), f"{report.ambiguous_local_times:,}")
    if report.piled_points:
        key = "piled_kept" if report.keep_piled else "piled"
        n_piled = sum(int(p["rows"]) for p in report.piled_points)
        table.add_row(text(key, lang), f"{n_piled:,}", style="yellow")
    n_no_id = sum(report.generated_ids.values())
    if n_no_id:
        table.add_row(text("no_id", lang), f"{n_no_id:,}", style="yellow")
    for col, n in report.cleaned_text.items():
        table.add_row(f"{text('cleaned', lang)}{colon}{col}", f"{n:,}", style="yellow")
    for col, n in report.truncated_text.items():
        table.add_row(f"{text('truncated', lang)}{colon}{col}", f"{n:,}", style="yellow")
    for precision, n in report.time_precision.items():
        table.add_row(f"{text('precision', lang)}{colon}{text(precision, lang)}", f"{n:,}")
    steps = report.step_times
    for step, cols in steps.get("columns", {}).items():
        if step in steps.get("recorded", {}):  # the call time's column is listed too
            label = f"{text('step_rows', lang)}{colon}{'/'.join(cols)}"
            table.add_row(label, f"{steps['recorded'][step]:,}")
    n_aside = sum(int(a["rows"]) for a in steps.get("set_aside", []))
    if n_aside:
        table.add_row(text("step_aside", lang), f"{n_aside:,}", style="yellow")
    console.print(table)
    for pile in report.piled_points:
        console.print("  " + escape(text("pile_at", lang, **pile)))
    if report.masked_columns:
        cols = ("、" if lang == "zh" else ", ").join(
            column_text(c, lang) for c in report.masked_columns
        )
        console.print("  " + escape(text("masked", lang, cols=cols)))
    for note in report.notes_zh if lang == "zh" else report.notes:
        console.print("  " + escape(note))
    for rows in report.examples.values():
        example = {
            **rows[0],
            "field": column_text(str(rows[0]["field"]), lang),  # "(field count)" in Chinese
            "expected": expected_text(str(rows[0]["expected"]), lang),
        }
        console.print("  " + escape(text("example", lang, **example)))
    for row in report.unmapped_examples:
        example = {**row, "expected": expected_text(str(row["expected"]), lang)}
        console.print("  " + escape(text("unmapped_example", lang, **example)))


def _area_frame(city: City, area_name: str) -> str:
    """The frame the boundary layer holding ``area_name`` was read in (the first layer's
    when no layer's name prefixes it)."""
    for layer in city.boundaries:
        if area_name.startswith(f"{layer.kind}:"):
            return layer.frame
    return city.boundaries[0].frame if city.boundaries else city.frame


@writes_output_folder
def ingest_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Incident / CFS files: CSV (plain or gzip), Excel .xlsx, or point files "
            "(GeoPackage, GeoJSON, Shapefile)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/ingest"),
    profile: Annotated[
        str | None,
        typer.Option(help=f"Column profile: {', '.join(sorted(PROFILES))} (default: the city's)."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="TOML mapping of a generic source (replaces --profile)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding (default: UTF-8 or GB18030 as the bytes decide)."),
    ] = None,
    frame: Annotated[
        str | None,
        typer.Option(
            help="Frame of this run's lon/lat inputs (the incident columns and, unless "
            "--boundary-frame says otherwise, --boundary), as in `xunfang plan`: wgs84, "
            "gcj02 (AMap, Tencent) or bd09 (Baidu); default: the city file's, else the "
            "mapping's, else WGS-84. A mapping stating another frame is refused."
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="Sheet of an Excel workbook (default: the first).")
    ] = None,
    header_row: Annotated[
        str,
        typer.Option(
            "--header-row",
            help="Row of the column names in CSV and Excel files, 1-based (a two-row header "
            "is merged with the row above), or auto: the first of the first 10 rows that "
            "names every needed column.",
        ),
    ] = "auto",
    bad_bytes: Annotated[
        str,
        typer.Option(
            "--bad-bytes",
            help="Bytes of a CSV not valid in its encoding: refuse (the file, naming the "
            "line: they usually mean a wrong --encoding) or reject-row (reject only the rows "
            "holding them, as undecodable, and read the rest).",
        ),
    ] = "refuse",
    future_hours: Annotated[
        float | None,
        typer.Option(
            "--future-hours",
            help="Rows later than now plus this many hours are rejected as future_time "
            "(default 1: clock drift; a step time later than that is left empty).",
        ),
    ] = None,
    future_days: Annotated[
        float | None,
        typer.Option(
            "--future-days",
            help="The same tolerance in days (instead of --future-hours).",
        ),
    ] = None,
    keep_piled: Annotated[
        bool,
        typer.Option(
            "--keep-piled",
            help="Keep rows piled on one point (a geocoder's fallback) in hotspot analysis.",
        ),
    ] = False,
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
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    boundary_frame: BoundaryFrameOpt = None,
    lang: Annotated[str, typer.Option(help="Language of the summary: en or zh.")] = "en",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
    ] = None,
) -> None:
    """Read incident files into one validated table (incidents.parquet), with a report of
    every rejected row (rejected.csv, ingest_report.json)."""
    if lang not in LANGS:
        raise fail(ValueError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}"))
    if frame is not None and frame.lower().replace("-", "") not in FRAMES:
        raise fail(ValueError(f"--frame must be one of {', '.join(FRAMES)}, got {frame!r}"), lang)
    if future_hours is not None and future_days is not None:
        raise fail(ValueError("give --future-hours or --future-days, not both"), lang)
    if future_days is not None and not 0 <= future_days <= 36_500:
        raise fail(ValueError(f"--future-days must be 0 to 36500 days, got {future_days!r}"), lang)
    if future_hours is not None and not 0 <= future_hours <= 876_000:
        raise fail(
            ValueError(f"--future-hours must be 0 to 876000 hours, got {future_hours!r}"), lang
        )
    future_tolerance = (
        pd.Timedelta(days=future_days)
        if future_days is not None
        else pd.Timedelta(hours=future_hours)
        if future_hours is not None
        else FUTURE_TOLERANCE
    )
    if bad_bytes not in BAD_BYTES:
        raise fail(
            ValueError(f"--bad-bytes must be one of {', '.join(BAD_BYTES)}, got {bad_bytes!r}"),
            lang,
        )
    if header_row != "auto" and not (header_row.isdigit() and int(header_row) >= 1):
        raise fail(
            ValueError(f"--header-row must be a number from 1 or auto, got {header_row!r}"), lang
        )
    try:
        settings = get_settings(data_dir=data_dir)
        the_city = city_from_options(
            city=city,
            boundary=boundary,
            boundary_name=boundary_name,
            boundary_name_field=boundary_name_field,
            boundary_frame=boundary_frame,
            frame=frame,
            data_dir=settings.data_dir,
        )
        prof = profile_from_toml(mapping) if mapping else the_city.ingest_profile(profile)
        frame_name = the_city.incident_frame(prof)  # as plan reads them; refuses a conflict
        frame_note = the_city.incident_frame_note(prof)
        if frame_note is not None:  # never a frame guessed without a word
            console.print(f"[yellow]{escape(note_text(frame_note, lang))}[/]", soft_wrap=True)
        poly = area_frame = None
        if area or boundary is not None:
            sa = the_city.study_area(area)
            poly = sa.polygon_wgs84
            area_frame = _area_frame(the_city, sa.name)
            crs = crs or sa.crs.to_string()
            area = area or sa.name
        start = time.perf_counter()
        with console.status(text("reading", lang, n=len(paths))):
            try:
                table, rejected, report = ingest(
                    paths,
                    prof,
                    crs=crs,
                    area=poly,
                    area_name=area,
                    encoding=encoding,
                    taxonomy=load_taxonomy(taxonomy) if taxonomy else None,
                    frame=frame_name,
                    sheet=sheet,
                    keep_piled=keep_piled,
                    area_frame=area_frame,
                    future_tolerance=future_tolerance,
                    header_row="auto" if header_row == "auto" else int(header_row),
                    bad_bytes="reject-row" if bad_bytes == "reject-row" else "refuse",
                )
            except NoUsableRowsError as exc:
                written = write_outputs(out, None, exc.rejected, exc.report, lang=lang)
                print_ingest_report(exc.report, lang)
                console.print(text("none", lang, path=written["rejected"]))
                raise
            written = write_outputs(out, table, rejected, report, lang=lang)
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang, ingest_options=True) from exc
    print_ingest_report(report, lang)
    console.print(
        text(
            "done",
            lang,
            n=report.rows_accepted,
            s=time.perf_counter() - start,
            crs=report.crs,
            tz=report.timezone,
            path=written["incidents"],
        )
    )
