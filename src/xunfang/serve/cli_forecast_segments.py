"""``xunfang forecast segments``: street-segment forecasts scored beside grid forecasts.

::

    xunfang forecast segments --area district:1 [--types BURGLARY] [--windows 14]
        [--methods naive,network] [--grid-methods naive:period_days=none,prospective]
        [--map-coverage 0.05] [--out DIR]

Writes ``results.csv`` (method x window x coverage), ``summary.csv`` (mean, SD, seconds
per window), ``comparison.csv`` (best segment vs best grid method at 1, 5 and 20 %),
``run.json`` and, per segment method, ``flagged_<method>.geojson``: the segments flagged
for the last test window at ``--map-coverage`` of the road length (lon/lat, or the map
platform's frame with ``--output-frame``), so patrol routes can follow the streets. The
work is done by :mod:`xunfang.analyse.segment_evaluate`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from xunfang import strict_json
from xunfang.analyse.evaluate import FRACTIONS
from xunfang.analyse.segment_evaluate import (
    SegmentEvaluation,
    SegmentEvaluationSpec,
    comparison,
    run_segment_evaluation,
)
from xunfang.config import get_settings
from xunfang.errors import ValidationError, XunfangError
from xunfang.ingest.city import to_output_frame
from xunfang.serve._common import (
    OSM_ATTRIBUTION,
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
    FrameOpt,
    RoadsOpt,
    city_from_options,
)

_out = Console(width=None if sys.stdout.isatty() else 200)


def _specs(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def write_segment_evaluation(
    ev: SegmentEvaluation,
    out: Path,
    *,
    map_fraction: float,
    output_frame: str = "wgs84",
    command: str = "",
) -> dict[str, Path]:
    """Write the files of the module docstring to ``out``; returns them by name.

    Raises
    ------
    ValidationError
        If ``map_fraction`` is not in (0, 1] or ``output_frame`` is unknown.
    """
    if not 0 < map_fraction <= 1:
        raise ValidationError(f"--map-coverage must be in (0, 1], got {map_fraction}")
    written: dict[str, Path] = {}
    rows = ev.rows
    summary = ev.summary()
    written["results.csv"] = write_atomic(out / "results.csv", rows.to_csv(index=False))
    written["summary.csv"] = write_atomic(out / "summary.csv", summary.to_csv(index=False))
    comp = comparison(summary, ev.spec.fractions)
    written["comparison.csv"] = write_atomic(out / "comparison.csv", comp.to_csv(index=False))
    facts = ev.to_dict() | {"command": command, "attribution": OSM_ATTRIBUTION}
    written["run.json"] = write_atomic(
        out / "run.json", strict_json.dumps(facts, indent=2, default=str)
    )
    for label, fc in ev.last_forecasts.items():
        gdf = fc.flagged(map_fraction)
        gdf["method"] = fc.method
        gdf["window"] = fc.window.label
        gdf["coverage"] = map_fraction
        gdf = to_output_frame(gdf.to_crs("EPSG:4326"), output_frame)
        name = "flagged_" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", label) + ".geojson"
        written[name] = write_atomic(out / name, gdf.to_json(drop_id=True))
    return written


_UNIT_ZH = {"road length": "道路长度", "area": "面积"}
"""The ``unit`` of a summary row (what a coverage is a share of) in Chinese."""


def _print(ev: SegmentEvaluation, lang: str = "en") -> None:
    zh = lang == "zh"
    s = ev.summary()
    fracs = sorted(s["fraction"].unique())
    types = ", ".join(ev.spec.types) or ("全部类别" if zh else "all types")
    km = ev.segments.total_length_m / 1000
    t = Table(
        title=f"{types} · {ev.area.name} · "
        + (
            f"{len(ev.segments):,} 个路段，道路共 {km:.1f} 公里"
            if zh
            else f"{len(ev.segments):,} segments, {km:.1f} km of road"
        ),
        header_style="bold",
    )
    t.add_column("方法" if zh else "method", no_wrap=True)
    t.add_column("覆盖率基准" if zh else "coverage of", no_wrap=True)
    for f in fracs:
        t.add_column(f"{'命中率' if zh else 'HR'} {100 * f:g}%", justify="right")
    t.add_column(f"{'标准差' if zh else 'SD'} {100 * fracs[0]:g}%", justify="right")
    t.add_column("秒/时段" if zh else "s/window", justify="right")
    for method, g in s.groupby("method", sort=False):
        g = g.set_index("fraction")
        unit = str(g["unit"].iloc[0])
        t.add_row(
            str(method),
            _UNIT_ZH.get(unit, unit) if zh else unit,
            *(f"{g.loc[f, 'hit_rate_mean']:.3f}" for f in fracs),
            f"{g['hit_rate_sd'].iloc[0]:.3f}",
            f"{g['seconds_per_window'].iloc[0]:.3f}",
        )
    _out.print(t)
    comp = comparison(s, ev.spec.fractions)
    _out.print(
        "这些时段上各类中最好的方法（事后选出）："
        if zh
        else "Best of each kind on these windows (chosen with hindsight):"
    )
    for _, r in comp.iterrows():
        if np.isfinite(r["ratio"]):
            ratio = f"x{r['ratio']:.2f}"
        else:
            ratio = "网格未捕获" if zh else "no grid capture"
        _out.print(
            f"  {100 * r['fraction']:g}%：路段 {r['best_segment']} "
            f"{r['segment_hit_rate']:.3f}（按道路长度）对比 {r['best_grid']} "
            f"{r['grid_hit_rate']:.3f}（按面积）：{ratio}"
            if zh
            else f"  {100 * r['fraction']:g}%: segment {r['best_segment']} "
            f"{r['segment_hit_rate']:.3f} (of road length) vs {r['best_grid']} "
            f"{r['grid_hit_rate']:.3f} (of area): {ratio}"
        )
    n_scored = int(ev.rows.groupby("window")["n_events"].first().sum())
    if n_scored < 100:
        _out.print(
            f"[yellow]测试时段内只有 {n_scored} 起警情：方法间零点零几的差异在偶然范围内；"
            "请增加时段数。[/]"
            if zh
            else f"[yellow]Only {n_scored} incidents in the test windows: differences between "
            "methods of a few hundredths are within chance; use more windows.[/]"
        )
    d = ev.to_dict()
    _out.print(
        f"区域内 {ev.n_inside:,} 起警情（共选中 {ev.n_selected:,} 起）吸附到最近的路段："
        f"中位距离 {d['snap_m_median']:.1f} 米，95 百分位 {d['snap_m_p95']:.1f} 米，"
        f"{100 * d['snap_share_over_50m']:.1f}% 超过 50 米；路网 {ev.network_s:.1f} 秒，"
        f"距离计算 {ev.distances_s:.1f} 秒（一次）。"
        if zh
        else f"{ev.n_inside:,} incidents inside the area (of {ev.n_selected:,} selected) "
        f"snapped to the nearest segment: median {d['snap_m_median']:.1f} m, 95th percentile "
        f"{d['snap_m_p95']:.1f} m, {100 * d['snap_share_over_50m']:.1f} % farther than 50 m; "
        f"network {ev.network_s:.1f} s, distances {ev.distances_s:.1f} s (once)."
    )


@writes_output_folder
def segments_cmd(
    area: Annotated[
        str | None,
        typer.Option(
            help="Study area with a road network: district:1, community:LOOP, ...; default "
            "the polygon of --boundary."
        ),
    ] = None,
    incidents: Annotated[
        list[Path] | None,
        typer.Option(
            "--incidents",
            help="Incident files, folders or glob patterns (repeat); default the city's.",
        ),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option(help="Comma-separated type groups, types or subtypes; default all."),
    ] = None,
    methods: Annotated[
        str,
        typer.Option(
            help="Segment method specs: naive[:period_days=D], network[:bandwidth_m=400"
            ":bandwidth_weeks=8:time=weeks|exponential:time_scale_days=14]."
        ),
    ] = "naive,network",
    grid_methods: Annotated[
        str, typer.Option(help="Grid method specs to compare (as forecast evaluate --methods).")
    ] = "naive:period_days=none,prospective",
    cell_m: Annotated[float, typer.Option(help="Grid cell side, metres.")] = 150.0,
    window: Annotated[str, typer.Option(help="Window: day or week.")] = "day",
    start: Annotated[
        str | None, typer.Option(help="Local date of the first test window (default: the last).")
    ] = None,
    windows: Annotated[int, typer.Option(help="Number of test windows.")] = 14,
    lookback_days: Annotated[
        float, typer.Option(help="Training look-back, days (0 = all history).")
    ] = 365.0,
    map_coverage: Annotated[
        float, typer.Option(help="Share of road length flagged in the GeoJSON maps.")
    ] = 0.05,
    output_frame: Annotated[
        str, typer.Option("--output-frame", help="Frame of the GeoJSON: wgs84, gcj02, bd09.")
    ] = "wgs84",
    profile: Annotated[
        str | None, typer.Option(help="Ingest profile (default: the city's).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="TOML mapping of the incident files.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/forecast-segments"),
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    roads: RoadsOpt = None,
    frame: FrameOpt = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
    lang: LangOpt = "en",
) -> None:
    """Street-segment forecasts (network prospective hotspotting, Rosser et al. 2017) and
    naive segment counts, scored by the share of incidents on the flagged road length,
    beside grid forecasts at the same share of area; GeoJSON of the flagged segments."""
    from xunfang.serve.cli_forecast import _command, expand_paths

    check_lang_option(lang)
    try:
        settings = get_settings(data_dir=data_dir)
        the_city = city_from_options(
            city=city,
            boundary=boundary,
            boundary_name=boundary_name,
            boundary_name_field=boundary_name_field,
            roads=roads,
            frame=frame,
            profile=profile,
            mapping=mapping,
            data_dir=settings.data_dir,
        )
        files = expand_paths(list(incidents)) if incidents else the_city.incident_files()
        if area is None and boundary is None:
            raise ValidationError("give --area (e.g. district:1) or --boundary FILE")
        if area is None or area == "boundary":
            area = "boundary:" + (boundary_name or the_city.study_area(None).name)
        prof = the_city.profile_for(files, profile)
        spec = SegmentEvaluationSpec(
            incident_files=tuple(files),
            profile=prof,
            city=the_city,
            area=area,
            frame=the_city.incident_frame(prof) if prof is not None else None,
            types=_specs(types) if types else (),
            cell_m=cell_m,
            window=window,
            start=start,
            windows=windows,
            lookback_days=lookback_days if lookback_days > 0 else None,
            methods=_specs(methods),
            grid_methods=_specs(grid_methods),
            fractions=FRACTIONS,
        )
        busy = "路段预测" if lang == "zh" else "segments"
        with _out.status(busy) as status:
            ev = run_segment_evaluation(spec, progress=lambda m: status.update(f"{busy}: {m}"))
        written = write_segment_evaluation(
            ev, out, map_fraction=map_coverage, output_frame=output_frame, command=_command()
        )
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    _print(ev, lang)
    _out.print(
        f"用时 {ev.seconds:.1f} 秒，已写出 {len(written)} 个文件到 {out}/。"
        if lang == "zh"
        else f"Wrote {len(written)} files to {out}/ in {ev.seconds:.1f} s."
    )
