"""``xunfang forecast``: evaluate hotspot forecasters on held-out windows.

Mounted by the main CLI as ``xunfang forecast``::

    xunfang forecast evaluate [--incidents PATH ...] [--types T,...] [--area district:1|city]
        [--cell-m 150] [--window day|night|week|HH-HH] [--start YYYY-MM-DD] [--windows N]
        [--lookback-days D] [--methods naive,kde,prospective,sepp] [--out DIR]
    xunfang forecast reproduce-opencp [--incidents Crimes_September_2014.csv] [--out DIR]

The work is done by :mod:`xunfang.analyse.evaluate`; this module parses options and prints.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xunfang.analyse.evaluate import FRACTIONS, EvaluationRun, EvaluationSpec, run_evaluation
from xunfang.analyse.forecast.select import AUTO_BUDGET_S, REFIT_EVERY_DAYS, RESELECT_EVERY_DAYS
from xunfang.analyse.prediction import run_prediction
from xunfang.config import get_settings
from xunfang.errors import ValidationError, XunfangError
from xunfang.ingest.city import DEFAULT_CITY_ENV, City
from xunfang.ingest.incidents import incident_inputs
from xunfang.ingest.sources import OPENCP_SPLIT_CRS, OPENCP_SPLIT_FILE, OPENCP_SPLIT_PROFILE
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
    FrameOpt,
    RoadsOpt,
    StationsOpt,
    city_from_options,
)
from xunfang.serve.cli_forecast_segments import segments_cmd
from xunfang.serve.forecast_report import (
    OPENCP_PROSPECTIVE_S_PER_DAY,
    OPENCP_SEPT2014,
    area_text,
    fit_failure_text,
    input_notes,
    left_out_notes,
    pai_gap_notes,
    text,
    verdict_text,
    window_label_text,
    window_text,
    write_evaluation,
)
from xunfang.serve.predict_report import group_text, write_prediction

app = typer.Typer(
    help="Forecast hotspots by time window and evaluate the forecasts (hit rate, PAI, PEI).",
    no_args_is_help=True,
)
_out = Console(width=None if sys.stdout.isatty() else 220)  # wide tables in logs
app.command("segments")(segments_cmd)  # street segments (serve/cli_forecast_segments.py)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $XUNFANG_DATA_DIR or ./data)."),
]

IncidentsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--incidents",
        help="Incident files, folders or glob patterns (repeat the option); an "
        "ingested .parquet also works. Default: the city's incident files.",
    ),
]
AreaOpt = Annotated[
    str | None,
    typer.Option(
        help="Study area: district:1, community:LOOP, city (all districts); default the "
        "bounding rectangle of all geolocated incidents."
    ),
]
CellOpt = Annotated[float, typer.Option(help="Grid cell side, metres.")]
WindowOpt = Annotated[
    str, typer.Option(help="Window: day, night (22-06), week or HH-HH (local time).")
]
CrsOpt = Annotated[str | None, typer.Option(help="Projected CRS (default: UTM zone).")]
ProfileOpt = Annotated[str | None, typer.Option(help="Ingest profile (default: the city's).")]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="TOML mapping of the incident files.")
]

DEFAULT_METHODS = "auto,naive:period_days=365,kde,prospective"
"""``auto`` (chosen per window by validation before it) beside the fixed methods it is
compared with."""

BudgetOpt = Annotated[
    float,
    typer.Option(
        "--budget-s",
        help="Time budget of each automatic selection (method auto), seconds: past it no "
        "further candidate or validation window is added (the report says so).",
    ),
]


PlaceOpt = Annotated[
    bool | None,
    typer.Option(
        "--place/--no-place",
        help="Build the place layers (roads, stations, schools) that gbm reads, also inside "
        "auto. Default: on for a district or smaller area, off for --area city (its road "
        "network takes minutes). The report names the layers used and left out.",
        show_default=False,
    ),
]


ReselectOpt = Annotated[
    int,
    typer.Option(
        "--reselect-every-days",
        help="Method auto in the rolling evaluation: choose anew every N days (the choice is "
        "kept in between: only the chosen method is fitted; 1 = every window). "
        "selection.csv says for which window each choice was made.",
        min=1,
    ),
]

RefitOpt = Annotated[
    int,
    typer.Option(
        "--refit-every-days",
        help="Method auto in the rolling evaluation: a chosen gbm or stack is fully refitted "
        "at the start of each block of N days (the fit its validation windows of that block "
        "use), only its inputs updated in between (1 = every window); selection.csv says when "
        "it was last fitted (model_fitted_on).",
        min=1,
    ),
]


def with_cadence(
    specs: Sequence[str], reselect_every_days: int, refit_every_days: int
) -> tuple[str, ...]:
    """``auto`` specs given the cadence of re-selection and refit in rolling use unless
    they name their own (or it is the default, to keep the label short)."""
    out = []
    for m in specs:
        if m.split(":")[0].strip().lower() == "auto":
            for name, value, default in (
                ("reselect_every_days", reselect_every_days, RESELECT_EVERY_DAYS),
                ("refit_every_days", refit_every_days, REFIT_EVERY_DAYS),
            ):
                if f"{name}=" not in m and value != default:
                    m = f"{m}:{name}={value}"
        out.append(m)
    return tuple(out)


def with_budget(specs: list[str], budget_s: float) -> tuple[str, ...]:
    """``auto`` specs given ``budget_s`` unless they name their own (or it is the
    default, to keep the label short)."""
    return tuple(
        f"{m}:budget_s={budget_s:g}"
        if m.split(":")[0].strip().lower() == "auto"
        and "budget_s=" not in m
        and budget_s != AUTO_BUDGET_S
        else m
        for m in specs
    )


OPENCP_METHODS = (
    "naive:period_days=none",
    "kde:window_days=none",
    "prospective",
)
"""open_cp's predictors on the item-5 split: counting grid over all history, retrospective
quartic 200 m, prospective 400 m / 8 weeks on cells (Chebyshev grid distance)."""

OUR_OPENCP_METHODS = (
    "kde:kernel=gaussian:k_neighbours=1:bandwidth_m=50:window_days=none",
    "kde:kernel=gaussian:k_neighbours=2:bandwidth_m=75:window_days=none",
    "kde:kernel=gaussian:k_neighbours=3:bandwidth_m=50:window_days=none",
    "prospective:distance=euclidean:bandwidth_m=600",
    "prospective:positions=exact:bandwidth_m=600",
    "sepp:background_k_neighbours=2:background_bandwidth_m=75",
)
"""Our candidates on the item-5 split. One per type is chosen on the validation week
(2014-09-16..22, each day trained on every earlier event) by the mean hit rate at 1, 5
and 20 %, before the test week is looked at."""

OPENCP_TEST_START = "2014-09-23"
OPENCP_VALIDATION_START = "2014-09-16"


def expand_paths(items: list[Path]) -> list[Path]:
    """Files, folders and glob patterns, as every command reads them
    (:func:`xunfang.ingest.incidents.incident_inputs`)."""
    return incident_inputs(items)


def _print_summary(
    run: EvaluationRun, title: str, reference: dict[float, float] | None, lang: str = "en"
) -> None:
    zh = lang == "zh"
    for method, reason in run.evaluation.not_evaluated.items():
        said = escape(fit_failure_text(reason, lang))
        _out.print(
            f"[yellow]{method} 未参与评估[/]（其他方法照常评估）：{said}"
            if zh
            else f"[yellow]{method} not evaluated[/] (the other methods are): {said}",
            soft_wrap=True,
        )
    rows = run.evaluation.rows
    per_window = rows[rows["offset_m"] == 0.0].groupby("window")["n_events"].first()
    if len(per_window) and int((per_window > 0).sum()) == 0:
        n_day = run.evaluation.n_date_only
        if n_day:  # the real cause: incidents without a time of day fit no sub-day window
            _out.print(
                f"[yellow]无可计分的时段：[/]{len(per_window)} 个测试时段中没有一个含有带时刻的"
                f"警情：{n_day:,} 起测试警情只精确到日期（没有时刻），不计入小于一天的时段；"
                "请用 --window day 或 week，或使用带时刻的警情数据"
                if zh
                else f"[yellow]nothing to score:[/] 0 of {len(per_window)} test windows held an "
                f"incident with a time of day: {n_day:,} test incidents are known only to the "
                "day (no time of day) and were left out of the sub-day windows; use --window "
                "day or week, or incident data with times",
                soft_wrap=True,
            )
            return
        _out.print(
            f"[yellow]无可计分的时段：[/]{len(per_window)} 个测试时段中没有一个含有区域内这些类别的"
            "警情；请放宽 --types、--windows 或区域"
            if zh
            else f"[yellow]nothing to score:[/] 0 of {len(per_window)} test windows held an "
            "incident of these types in the area; widen --types, --windows or the area",
            soft_wrap=True,
        )
        return
    summary = run.evaluation.summary()
    sub = summary[summary["offset_m"] == 0.0]
    fracs = sorted(sub["fraction"].unique())
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column(text("method", lang), no_wrap=True)
    for f in fracs:
        table.add_column(f"{'命中率' if zh else 'HR'} {100 * f:g}%", justify="right")
    for f in fracs:
        table.add_column(f"PAI {100 * f:g}%", justify="right")
    table.add_column("秒/时段" if zh else "s/window", justify="right")
    if reference:
        table.add_row(
            "open_cp best (reference)",
            *(f"{reference[f]:.3f}" if f in reference else "" for f in fracs),
            *("" for _ in fracs),
            "",
            style="dim",
        )
    for method, grp in sub.groupby("method", sort=False):
        g = grp.set_index("fraction")
        table.add_row(
            str(method),
            *(_figure(g.loc[f, "hit_rate_mean"], "{:.3f}") for f in fracs),
            *(_figure(g.loc[f, "pai_mean"], "{:.1f}") for f in fracs),
            f"{g['seconds_per_window'].iloc[0]:.3f}",
        )
    _out.print(table)
    for note in (*left_out_notes(run, lang), *pai_gap_notes(run, lang)):
        _out.print(f"[yellow]{escape(note)}[/]", soft_wrap=True)
    _print_checks(run, lang)
    offsets = sorted(summary["offset_m"].unique())
    if len(offsets) > 1:
        a = summary[summary["offset_m"] == offsets[0]]["hit_rate_mean"].to_numpy()
        b = summary[summary["offset_m"] == offsets[1]]["hit_rate_mean"].to_numpy()
        _out.print(
            f"网格平移 {offsets[1]:g} 米：命中率平均变化 {np.nanmean(b - a):+.3f}"
            f"（最大 {np.nanmax(np.abs(b - a)):.3f}）。"
            if zh
            else f"Grid shifted by {offsets[1]:g} m: hit rate changes by "
            f"{np.nanmean(b - a):+.3f} on average (largest {np.nanmax(np.abs(b - a)):.3f})."
        )


PredictAreaOpt = Annotated[
    str | None,
    typer.Option(
        help="Study area: district:1, community:LOOP, city (all districts). Default, as for "
        "plan: the only polygon of --boundary (or --boundary-name); with a city file (--city "
        "or $XUNFANG_CITY), --roads or --stations, the city's default area (its first "
        "boundary layer's default); else the bounding rectangle of all geolocated incidents."
    ),
]


def city_default_area(city: City) -> str:
    """The area a command takes without ``--area``, as ``plan`` does
    (:meth:`xunfang.ingest.city.City.study_area` of ``None``: the ``default`` of the city's
    first boundary layer, or its only polygon), named ``KIND:NAME[,NAME]``.

    Raises
    ------
    AreaNotFoundError
        If the layer names no default and holds several polygons (the message names them).
    """
    layer = city.boundaries[0]
    return f"{layer.kind}:{city.study_area(None).name}"


def _spec_from_options(
    *,
    incidents: list[Path] | None,
    types: str | None,
    area: str | None,
    cell_m: float,
    window: str,
    start: str | None,
    windows: int,
    lookback_days: float,
    methods: tuple[str, ...],
    offset_sensitivity: bool,
    crs: str | None,
    profile: str | None,
    mapping: Path | None,
    seed: int,
    city: Path | None,
    boundary: Path | None,
    boundary_name: str | None,
    frame: str | None,
    data_dir: Path | None,
    place: bool | None = None,
    boundary_name_field: str | None = None,
    roads: Path | None = None,
    stations: Path | None = None,
    city_area_default: bool = False,
) -> EvaluationSpec:
    """The spec of ``evaluate`` and ``predict`` from their shared options.

    ``roads`` and ``stations`` replace the city's files (the place layers of ``gbm``).
    Without ``area``: the polygon of ``boundary``; with ``city_area_default`` (``predict``)
    and a city file (``city`` or ``$XUNFANG_CITY``), ``roads`` or ``stations``, the city's
    default area (:func:`city_default_area`, as ``plan``); else ``None``, the bounding
    rectangle of the incidents.
    """
    check_methods(methods)
    if types is not None and not any(t.strip() for t in types.split(",")):
        # `--types ""` (an empty shell variable) ran every group without a word
        raise ValidationError(
            f"--types is empty (got {types!r}): give type groups or types separated by "
            "commas, or leave --types out for the default groups"
        )
    settings = get_settings(data_dir=data_dir)
    the_city = city_from_options(
        city=city,
        boundary=boundary,
        boundary_name=boundary_name,
        boundary_name_field=boundary_name_field,
        roads=roads,
        stations=stations,
        frame=frame,
        profile=profile,
        mapping=mapping,
        data_dir=settings.data_dir,
    )
    files = expand_paths(list(incidents)) if incidents else the_city.incident_files()
    if boundary is not None and area is None:
        area = "boundary:" + boundary_name if boundary_name else "boundary"
    elif area is None and city_area_default:
        users_city = city is not None or bool(os.environ.get(DEFAULT_CITY_ENV))
        if users_city or roads is not None or stations is not None:
            area = city_default_area(the_city)
    if area == "boundary":  # the only polygon of --boundary
        area = "boundary:" + the_city.study_area(None).name
    prof = the_city.profile_for(files, profile)
    return EvaluationSpec(
        incident_files=tuple(files),
        profile=prof,
        frame=the_city.incident_frame(prof) if prof is not None else None,
        crs=crs,
        types=tuple(t.strip() for t in types.split(",") if t.strip()) if types else (),
        area=area,
        city=the_city if area else None,
        cell_m=cell_m,
        window=window,
        start=start,
        windows=windows,
        lookback_days=_lookback(lookback_days),
        methods=methods,
        offset_sensitivity=offset_sensitivity,
        seed=seed,
        place=place,
    )


def check_methods(methods: tuple[str, ...]) -> None:
    """Build each method spec on a one-cell grid, so that a bad name or value is refused
    before any data is read (the road network of a whole city takes minutes; a tester
    waited for it before ``gbm:max_rows=0`` was refused).

    Raises
    ------
    ValidationError
        From :func:`xunfang.analyse.forecast.make_forecaster`.
    """
    from xunfang.analyse.forecast.registry import make_forecaster
    from xunfang.analyse.grid import Grid

    probe = Grid.from_bounds((0.0, 0.0, 99.0, 99.0), 100.0, "EPSG:32650")
    for m in methods:
        make_forecaster(m, probe)


def _figure(value: object, fmt: str) -> str:
    """``value`` in ``fmt``, or ``–`` when it is not a finite number (not computed: the
    notes say why)."""
    v = float(value)  # type: ignore[arg-type]
    return fmt.format(v) if np.isfinite(v) else "–"


def _print_checks(run: EvaluationRun, lang: str = "en") -> None:
    """Paired tests against naive counts and the automatic choices, in a few lines."""
    zh = lang == "zh"
    paired = run.evaluation.paired()
    for method, grp in paired.groupby("method", sort=False):
        g = grp[grp["fraction"].isin([0.01, 0.05, 0.20])]
        parts = [
            f"{100 * r.fraction:g}% {r.mean_diff:+.3f}"
            + (
                f"（t 检验 p={_figure(r.t_p, '{:.2g}')}，"
                f"Wilcoxon p={_figure(r.wilcoxon_p, '{:.2g}')}："
                f"{verdict_text(str(r.verdict), lang)}）"
                if zh
                else f" (t p={_figure(r.t_p, '{:.2g}')}, "
                f"Wilcoxon p={_figure(r.wilcoxon_p, '{:.2g}')}: {r.verdict})"
            )
            for r in g.itertuples()
        ]
        vs = " 对比 " if zh else " vs "
        colon = "：" if zh else ": "
        _out.print(
            f"{method}{vs}{grp['baseline'].iloc[0]}{colon}" + ("；" if zh else "; ").join(parts)
        )
    sel = run.evaluation.selections
    if len(sel):
        s0 = sel[(sel["offset_m"] == sel["offset_m"].min()) & sel["chosen"]]
        keys = ["method", "candidate"]
        if "group" in s0.columns:  # auto chose per type group
            s0 = s0.assign(method=s0["method"] + " (" + s0["group"].astype(str) + ")")
        counts = s0.groupby(keys, sort=False).size()
        n_windows = s0["test_window"].nunique()
        for (method, cand), n in counts.items():
            _out.print(
                f"{method}：{n_windows} 个时段中有 {n} 个选择了 {cand}"
                if zh
                else f"{method}: chose {cand} in {n} of {n_windows} windows"
            )
        if "selected_for" in s0.columns:  # a cadence: choices kept between selections
            for method, grp in s0.groupby("method", sort=False):
                n_sel = int((grp["selected_for"] == grp["test_window"]).sum())
                if n_sel < len(grp):
                    _out.print(
                        f"{method}：{len(grp)} 个时段中有 {n_sel} 个重新选择，其余沿用之前的选择"
                        f"（--reselect-every-days）"
                        if zh
                        else f"{method}: chose anew for {n_sel} of {len(grp)} windows, the "
                        "choice kept in between (--reselect-every-days)"
                    )


def _command() -> str:
    args = sys.argv[1:]
    if not args or args[0] != "forecast":
        args = ["forecast", *args]
    return "xunfang " + " ".join(shlex.quote(a) for a in args)


@app.command("evaluate")
@writes_output_folder
def evaluate_cmd(
    incidents: IncidentsOpt = None,
    types: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated type groups (property, violent, 侵财 ...), types "
            "(BURGLARY, THEFT, 求助 ...) or subtypes (走失求助 ...); default all."
        ),
    ] = None,
    area: AreaOpt = None,
    cell_m: CellOpt = 150.0,
    window: WindowOpt = "day",
    start: Annotated[
        str | None,
        typer.Option(help="Local date of the first test window (default: the last N windows)."),
    ] = None,
    windows: Annotated[int, typer.Option(help="Number of test windows.")] = 56,
    lookback_days: Annotated[
        float, typer.Option(help="Training look-back, days (0 = all history).")
    ] = 365.0,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated method specs, e.g. naive:period_days=365,"
            "prospective:bandwidth_m=400:bandwidth_weeks=8,sepp+tod."
        ),
    ] = DEFAULT_METHODS,
    offset_sensitivity: Annotated[
        bool, typer.Option(help="Also run on the grid shifted by half a cell.")
    ] = True,
    crs: CrsOpt = None,
    profile: ProfileOpt = None,
    mapping: MappingOpt = None,
    seed: Annotated[int, typer.Option(help="Seed for every forecaster.")] = 0,
    budget_s: BudgetOpt = AUTO_BUDGET_S,
    reselect_every_days: ReselectOpt = RESELECT_EVERY_DAYS,
    refit_every_days: RefitOpt = REFIT_EVERY_DAYS,
    place: PlaceOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/forecast"),
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    frame: FrameOpt = None,
    roads: RoadsOpt = None,
    stations: StationsOpt = None,
    data_dir: DataDir = None,
    lang: LangOpt = "en",
) -> None:
    """Rolling-origin evaluation: train on everything before each window, forecast it,
    score hit rate, PAI and PEI at 1, 2, 5, 10 and 20 % of the area."""
    check_lang_option(lang)
    zh = lang == "zh"
    try:
        spec = _spec_from_options(
            incidents=incidents,
            types=types,
            area=area,
            cell_m=cell_m,
            window=window,
            start=start,
            windows=windows,
            lookback_days=lookback_days,
            methods=with_cadence(
                with_budget([m.strip() for m in methods.split(",") if m.strip()], budget_s),
                reselect_every_days,
                refit_every_days,
            ),
            offset_sensitivity=offset_sensitivity,
            crs=crs,
            profile=profile,
            mapping=mapping,
            seed=seed,
            city=city,
            boundary=boundary,
            boundary_name=boundary_name,
            boundary_name_field=boundary_name_field,
            frame=frame,
            data_dir=data_dir,
            place=place,
            roads=roads,
            stations=stations,
        )
        busy = "正在评估" if zh else "evaluating"
        with _out.status(busy) as status:
            run = run_evaluation(spec, progress=lambda m: status.update(f"{busy}: {m}"))
        written = write_evaluation(
            run,
            out,
            title=text("title_windows", lang, window=window_text(window, lang)),
            command=_command(),
            lang=lang,
        )
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    types_text = ", ".join(spec.types) or text("all_types", lang)
    _print_summary(run, f"{types_text} · {area_text(run.area_name, lang)}", None, lang)
    if run.context_note:
        from xunfang.serve.forecast_report import context_note_text

        _out.print(escape(context_note_text(run.context_note, lang)), soft_wrap=True)
    for said in input_notes(run.ingest_report, lang):
        _out.print(f"[yellow]{escape(said)}[/]", soft_wrap=True)
    _out.print(_wrote(len(written), out, run.seconds, written["report.html"], lang))


@app.command("predict")
@writes_output_folder
def predict_cmd(
    incidents: IncidentsOpt = None,
    types: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated type groups, types or subtypes, each forecast on its own; "
            "default "
            "all types together and each type group of the data."
        ),
    ] = None,
    area: PredictAreaOpt = None,
    cell_m: CellOpt = 150.0,
    window: WindowOpt = "day",
    start: Annotated[
        str | None,
        typer.Option(help="Local date the window starts (default: the day after the data)."),
    ] = None,
    lookback_days: Annotated[
        float, typer.Option(help="History used before the window, days (0 = all).")
    ] = 365.0,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "--methods",  # as `forecast evaluate` spells it (one spec here)
            help="Method spec; auto chooses per group by validation.",
        ),
    ] = "auto",
    budget_s: BudgetOpt = AUTO_BUDGET_S,
    place: PlaceOpt = None,
    output_frame: Annotated[
        str,
        typer.Option("--output-frame", help="Frame of the output lon/lat: wgs84, gcj02 or bd09."),
    ] = "wgs84",
    crs: CrsOpt = None,
    profile: ProfileOpt = None,
    mapping: MappingOpt = None,
    seed: Annotated[int, typer.Option(help="Seed for the forecaster and tie-breaking.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/forecast-predict"),
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    boundary_name_field: BoundaryNameFieldOpt = None,
    roads: RoadsOpt = None,
    stations: StationsOpt = None,
    frame: FrameOpt = None,
    data_dir: DataDir = None,
    lang: LangOpt = "en",
) -> None:
    """Forecast one window from all history before it: forecast.geojson (risk and rank of
    every cell per group), hotspots.csv (top cells at 1, 5, 20 % of the area), the
    automatic selection's scores and an HTML report with maps."""
    check_lang_option(lang)
    zh = lang == "zh"
    try:
        from xunfang.serve.cli import to_output_frame_check  # cli imports this module

        to_output_frame_check(output_frame)
        if "," in method:  # evaluate's list, given to predict (a tester's first try)
            raise ValidationError(
                f"forecast predict forecasts with one method, got {method!r}: give one "
                f"(e.g. auto), or compare them with forecast evaluate --methods {method}"
            )
        spec = _spec_from_options(
            incidents=incidents,
            types=types,
            area=area,
            cell_m=cell_m,
            window=window,
            start=start,
            windows=1,
            lookback_days=lookback_days,
            methods=with_budget([method.strip()], budget_s),
            offset_sensitivity=False,
            crs=crs,
            profile=profile,
            mapping=mapping,
            seed=seed,
            city=city,
            boundary=boundary,
            boundary_name=boundary_name,
            boundary_name_field=boundary_name_field,
            frame=frame,
            data_dir=data_dir,
            place=place,
            roads=roads,
            stations=stations,
            city_area_default=True,
        )
        busy = "正在预测" if zh else "forecasting"
        with _out.status(busy) as status:
            run = run_prediction(spec, progress=lambda m: status.update(f"{busy}: {m}"))
        written = write_prediction(
            run, out, output_frame=output_frame, command=_command(), lang=lang
        )
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    table = Table(
        title=f"{'预测' if zh else 'Forecast'} {window_label_text(run.window.label, lang)} · "
        f"{area_text(run.area_name, lang)}",
        header_style="bold",
    )
    heads = (
        ("类别", "所选方法", "使用警情", "预计警情", "秒")
        if zh
        else ("types", "chosen", "incidents used", "expected", "s")
    )
    for i, col in enumerate(heads):
        table.add_column(col, justify="left" if i < 2 else "right")
    for g in run.groups:
        table.add_row(
            group_text(g.group, lang),
            g.chosen,
            f"{g.n_train:,}",
            f"{g.forecast.expected_total:.1f}",
            f"{g.seconds:.1f}",
        )
    _out.print(table)
    shares = [(g, g.hour_share) for g in run.groups if g.hour_share is not None]
    if shares:  # a night or a shift: the level of its own hours, not a share of the day
        each = ("、" if zh else ", ").join(
            f"{group_text(g.group, lang)} {v:.1%}" for g, v in shares
        )
        _out.print(
            f"按各类别历史上落在本时段钟点内的警情占比缩放预期数：{each}"
            if zh
            else f"expected counts scaled to the share of each group's past incidents in "
            f"these hours of the day: {each}",
            soft_wrap=True,
        )
        part = [g.hour_share_from for g, _ in shares if g.hour_share_from]
        if any(t < n for t, n in part):  # some known only to the day: say how each was used
            t, n = max(part, key=lambda p: p[1])
            _out.print(
                f"（占比只由有具体时间的警情算出，如 {n:,} 起中的 {t:,} 起；预期数的水平由全部"
                "警情决定）"
                if zh
                else f"(the shares from the incidents with a time of day only, e.g. {t:,} of "
                f"{n:,}; the level from all of them)",
                soft_wrap=True,
            )
    for g in run.groups:
        if g.fallback:
            note = g.fallback_zh if zh else g.fallback
            _out.print(f"[yellow]{group_text(g.group, lang)}:[/] {escape(note)}", soft_wrap=True)
        elif g.selection is not None:
            _out.print(f"{group_text(g.group, lang)}: {g.selection.reason(lang)}")
    if run.context_note:
        from xunfang.serve.forecast_report import context_note_text

        _out.print(escape(context_note_text(run.context_note, lang)), soft_wrap=True)
    if run.data_gap_days > STALE_DATA_DAYS:
        gap = f"({run.data_span[1]:%Y-%m-%d} -> {run.window.start:%Y-%m-%d})"
        _out.print(
            f"[yellow]警告：[/]数据在预测时段之前 {run.data_gap_days:.0f} 天就已结束{gap}："
            "预测假定此后一切未变"
            if zh
            else f"[yellow]warning:[/] the data end {run.data_gap_days:.0f} days before the "
            f"forecast window {gap}: the forecast assumes nothing has changed since",
            soft_wrap=True,
        )
    elif run.history_end is not None and run.history_gap_days >= 1:
        # a hole of days before the window: said, not only in the report
        days = run.history_gap_days
        end = f"{run.history_end:%Y-%m-%d %H:%M}"
        _out.print(
            f"历史截至 {end}（最后一起警情之后的当地午夜）：其后至预测时段的 {days:.0f} 天没有数据"
            if zh
            else f"the history ends at {end} (the local midnight after the last incident): the "
            f"{days:.0f} days from there to the window hold no data",
            soft_wrap=True,
        )
    for said in input_notes(run.ingest_report, lang):
        _out.print(f"[yellow]{escape(said)}[/]", soft_wrap=True)
    _out.print(_wrote(len(written), out, run.seconds, written["report.html"], lang))


def _wrote(n: int, out: Path, seconds: float, report: Path, lang: str) -> str:
    """The last line of evaluate and predict: what was written where."""
    if lang == "zh":
        return f"用时 {seconds:.1f} 秒，已写出 {n} 个文件到 {out}/：{report}"
    return f"Wrote {n} files to {out}/ in {seconds:.1f} s: {report}"


@app.command("reproduce-opencp")
@writes_output_folder
def reproduce_opencp_cmd(
    incidents: Annotated[
        Path | None,
        typer.Option(
            "--incidents",
            help=f"The incident file of open_cp's split (default: DATA/{OPENCP_SPLIT_FILE}).",
        ),
    ] = None,
    methods: Annotated[
        str | None,
        typer.Option(help="Extra method specs to run beside open_cp's and ours."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/forecast-opencp"),
    data_dir: DataDir = None,
) -> None:
    """The open_cp reference split: September 2014, EPSG:26916, 150 m rectangle grid at the
    floor of the incidents' minimum x/y (212 x 280 cells, coverage over all of them), test
    days 2014-09-23..29 each trained on every earlier event; all types and burglary. Our
    method for each type is chosen on the week before (2014-09-16..22)."""
    try:
        settings = get_settings(data_dir=data_dir)
        path = incidents or settings.data_dir / OPENCP_SPLIT_FILE
        extra = tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else ()
        ours = OUR_OPENCP_METHODS + extra
        rows = []
        for label, types in (("all", ()), ("BURGLARY", ("BURGLARY",))):
            runs = {}
            for period, start in (
                ("validation", OPENCP_VALIDATION_START),
                ("test", OPENCP_TEST_START),
            ):
                spec = EvaluationSpec(
                    incident_files=(path,),
                    profile=OPENCP_SPLIT_PROFILE,
                    crs=OPENCP_SPLIT_CRS,
                    types=types,
                    area=None,
                    cell_m=150.0,
                    window="day",
                    start=start,
                    windows=7,
                    lookback_days=None,
                    methods=OPENCP_METHODS + ours,
                    fractions=FRACTIONS,
                    offset_sensitivity=False,
                )
                with _out.status(f"open_cp split, {label}, {period} week"):
                    run = run_evaluation(spec)
                if (run.grid.nx, run.grid.ny) != (212, 280):
                    raise ValidationError(
                        f"the grid is {run.grid.nx} x {run.grid.ny} cells, not open_cp's "
                        "212 x 280: is this the September 2014 file?"
                    )
                runs[period] = run
            chosen = choose_on_validation(runs["validation"], ours)
            test = runs["test"]
            write_evaluation(
                test,
                out / label.lower(),
                title=f"open_cp reference split, September 2014: {label.lower()} "
                f"(chosen on validation: {chosen})",
                reference=OPENCP_SEPT2014[label],
                command=_command(),
            )
            _print_summary(test, f"open_cp split · {label} · test week", OPENCP_SEPT2014[label])
            rows.append(comparison_rows(label, test, runs["validation"], chosen, ours))
        comparison = pd.concat(rows, ignore_index=True)
        write_atomic(out / "comparison.csv", comparison.to_csv(index=False))
    except (XunfangError, OSError) as exc:
        raise fail(exc) from exc
    _print_comparison(comparison)
    _out.print(
        f"open_cp's prospective predictor: about {OPENCP_PROSPECTIVE_S_PER_DAY:g} s per day "
        f"(burglary). Wrote {out}/comparison.csv and a report per type under {out}/."
    )


def choose_on_validation(run: EvaluationRun, candidates: tuple[str, ...]) -> str:
    """The candidate with the highest mean hit rate over 1, 5 and 20 % on ``run``."""
    s = run.evaluation.summary()
    s = s[s["method"].isin(candidates) & s["fraction"].isin([0.01, 0.05, 0.20])]
    score = s.groupby("method")["hit_rate_mean"].mean()
    return str(score.idxmax())


def comparison_rows(
    label: str,
    test: EvaluationRun,
    validation: EvaluationRun,
    chosen: str,
    ours: tuple[str, ...],
) -> pd.DataFrame:
    """Per coverage of the reference: open_cp's best, our chosen method (test week), our
    best method at that coverage on the test week (like open_cp's after-the-fact best),
    and the seconds per day."""
    ref = OPENCP_SEPT2014[label]
    s = test.evaluation.summary().set_index(["method", "fraction"])
    v = validation.evaluation.summary().set_index(["method", "fraction"])
    out = []
    for f, ref_hr in ref.items():
        ours_f = {m: float(s.loc[(m, f), "hit_rate_mean"]) for m in ours}
        best = max(ours_f, key=lambda m: ours_f[m])
        out.append(
            {
                "types": label,
                "coverage": f,
                "opencp_best": ref_hr,
                "chosen_method": chosen,
                "chosen_validation": float(v.loc[(chosen, f), "hit_rate_mean"]),
                "chosen_test": ours_f[chosen],
                "chosen_s_per_day": float(s.loc[(chosen, f), "seconds_per_window"]),
                "best_method_test": best,
                "best_test": ours_f[best],
                "best_s_per_day": float(s.loc[(best, f), "seconds_per_window"]),
                "opencp_naive_ours": float(s.loc[("naive:period_days=none", f), "hit_rate_mean"]),
                "opencp_retro_ours": float(s.loc[("kde:window_days=none", f), "hit_rate_mean"]),
                "opencp_prospective_ours": float(s.loc[("prospective", f), "hit_rate_mean"]),
            }
        )
    return pd.DataFrame(out)


def _print_comparison(df: pd.DataFrame) -> None:
    table = Table(title="open_cp split, test week 2014-09-23..29: mean daily hit rate")
    for col in ("types", "coverage", "open_cp best", "ours (chosen)", "ours (best)", "s/day"):
        table.add_column(col, justify="left" if col == "types" else "right")
    for _, r in df.iterrows():
        table.add_row(
            str(r["types"]),
            f"{100 * r['coverage']:g}%",
            f"{r['opencp_best']:.3f}",
            f"{r['chosen_test']:.3f}",
            f"{r['best_test']:.3f}",
            f"{r['chosen_s_per_day']:.2f}",
        )
    _out.print(table)
    for types, grp in df.groupby("types", sort=False):
        _out.print(f"{types}: chosen on validation = {grp['chosen_method'].iloc[0]}")


STALE_DATA_DAYS = 28
"""``forecast predict`` warns when the data end more than this many days before the window."""


def _lookback(days: float) -> float | None:
    """``--lookback-days``: 0 means all history; a negative or non-finite value is refused."""
    if not 0 <= days < float("inf"):
        raise ValidationError(f"--lookback-days must be 0 (all history) or more, got {days!r}")
    return days if days > 0 else None


from xunfang.serve import cli_nij as _cli_nij  # noqa: E402,F401  (registers `forecast nij`)
