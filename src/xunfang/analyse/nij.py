"""The rules of the NIJ Real-Time Crime Forecasting Challenge as an evaluation.

The US National Institute of Justice's challenge (posted September 2016, scored on
Portland, Oregon calls for service of 1 March - 31 May 2017, winners announced August
2017; https://nij.ojp.gov/funding/real-time-crime-forecasting-challenge-posting) asked
for a map of hotspot cells per crime category and forecast period and scored it with:

PAI
    ``(n / N) / (a / A)``: ``n`` calls of the period in the flagged cells, ``N`` calls
    in the whole area, ``a`` the flagged area, ``A`` the whole area (Chainey, Tompson &
    Uhlig 2008).
PEI*
    ``n / n*``: ``n*`` the most calls that any set of cells of the same total area could
    have held in the period, i.e. the calls of the ``k`` busiest cells when ``k`` cells
    are flagged (NIJ's winners page, note 2; White, Hunt & Green 2023, "A discussion of
    current crime forecasting indices and an improvement to the prediction efficiency
    index", Security Journal, argue for it beside PAI, RRI and PEI). It equals
    :attr:`xunfang.analyse.evaluate.HitCounts.pei` at the same number of cells.

Constraints (challenge posting, Table 2, and its Q&A, Q-1): every cell 62,500 - 360,000
sq ft (a square of 250 - 600 ft side; rectangles were allowed, this grid is square),
total flagged area 0.25 - 0.75 sq mi, coordinates in NAD83(HARN) / Oregon North in
*international* feet (EPSG:2913, 1 ft = 0.3048 m). Periods: 1 week, 2 weeks, 1 month,
2 months, 3 months from 1 March 2017 (7, 14, 31, 61, 92 days). Categories: all calls,
burglary, street crimes, theft of auto (the call types of each are data:
``xunfang/data/nij_categories.toml``).

Here the grid is laid in the project's metric CRS with the side converted
(``cell_side_ft * 0.3048`` m): the UTM scale factor and the state plane's differ by less
than 0.1 % over Portland, so a cell's area in either frame is the same to that
precision. Cells cut by the study-area edge count with their whole area (the challenge
trimmed them). Ties at the cut-off of the forecast ranking count at their expected value
(:func:`xunfang.analyse.evaluate.hit_counts`); a contestant had to break them.
"""

from __future__ import annotations

import math
import resource
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from xunfang.analyse.evaluate import hit_counts, load_incidents, rolling_origin, with_warm_start
from xunfang.analyse.forecast._base import Window
from xunfang.analyse.forecast.registry import make_forecaster
from xunfang.analyse.grid import Grid
from xunfang.errors import DataFileError, ValidationError, read_toml_text
from xunfang.ingest.areas import read_boundary_file
from xunfang.ingest.incidents import IncidentTable, IngestReport, Profile

FT_M = 0.3048
"""Metres per international foot (EPSG:2913's unit; the challenge's ``Feet_Intl``)."""
SQ_FT_PER_SQ_MI = 5280.0**2
"""Square feet per square mile (27,878,400)."""
M2_PER_SQ_MI = SQ_FT_PER_SQ_MI * FT_M**2
"""Square metres per square mile (2,589,988.11)."""
CELL_SIDE_FT = (250.0, 600.0)
"""Allowed side of a square cell, feet (cell area 62,500 - 360,000 sq ft)."""
HOTSPOT_SQ_MI = (0.25, 0.75)
"""Allowed total flagged area, square miles."""
HORIZON_DAYS: dict[str, int] = {"1w": 7, "2w": 14, "1m": 31, "2m": 61, "3m": 92}
"""The challenge's forecast periods, days (from 1 March 2017: March = 31 days, March-April
= 61, March-May = 92)."""
CATEGORY_KEYS = ("all", "burglary", "street", "vehicle")
CHALLENGE_TEST = ("2017-03-01", "2017-05-31")
"""The challenge's scored period (local dates, inclusive)."""

WINNERS_LARGE_BUSINESS: dict[tuple[str, str], tuple[str, str]] = {
    ("all", "1w"): ("Codilime", "Team Kernel Glitches"),
    ("all", "2w"): ("PASDA", "Codilime"),
    ("all", "1m"): ("Codilime", "Team Kernel Glitches"),
    ("burglary", "1w"): ("Team Kernel Glitches", "Team Kernel Glitches"),
    ("burglary", "2w"): ("Team Kernel Glitches", "Team Kernel Glitches"),
    ("burglary", "1m"): ("PASDA", "IMPAQ"),
    ("street", "1w"): ("Jeremy Heffner", "GARANT Analytics"),
    ("street", "2w"): ("PASDA", "Team Kernel Glitches"),
    ("street", "1m"): ("PASDA", "Conduent Public Safety Solutions"),
    ("vehicle", "1w"): ("GRIER", "Team Kernel Glitches"),
    ("vehicle", "2w"): ("GRIER", "Maruan Al-Sedivat"),
    ("vehicle", "1m"): ("GRIER", "GRIER"),
}
"""(category, horizon) -> (PAI winner, PEI* winner), large-business class, from NIJ's
"Real-Time Crime Forecasting Challenge Winners" page
(https://nij.ojp.gov/real-time-crime-forecasting-challenge-winners). The page names the
winners but gives no scores; the scores were on 1 March - 31 May 2017, a period this
data does not cover, so no number of theirs is comparable with ours."""
WINNERS_SOURCE = "https://nij.ojp.gov/real-time-crime-forecasting-challenge-winners"

DEFAULT_METHODS = ("naive:period_days=none", "kde:window_days=none", "prospective", "sepp")
"""Counts of all history, retrospective KDE of all history, prospective hotspotting,
SEPP: the project's methods, each trained on everything before the period."""


# --------------------------------------------------------------------------- rules
def hotspot_cell_count(cell_side_ft: float, hotspot_sq_mi: float) -> int:
    """Number of square cells that make a flagged area of ``hotspot_sq_mi``.

    The nearest whole number of cells, moved up or down so that the flagged area stays
    inside 0.25 - 0.75 sq mi (with 600 ft cells, 0.25 sq mi is 19.4 cells: 19 would be
    0.245 sq mi, so 20 are flagged).

    Parameters
    ----------
    cell_side_ft
        Cell side, feet, in 250 - 600.
    hotspot_sq_mi
        Wanted flagged area, square miles, in 0.25 - 0.75.

    Raises
    ------
    ValidationError
        If either is outside the challenge's range.
    """
    check_rules(cell_side_ft, hotspot_sq_mi)
    cell_sq_mi = cell_side_ft**2 / SQ_FT_PER_SQ_MI
    lo = math.ceil(HOTSPOT_SQ_MI[0] / cell_sq_mi - 1e-9)
    hi = math.floor(HOTSPOT_SQ_MI[1] / cell_sq_mi + 1e-9)
    return int(min(max(round(hotspot_sq_mi / cell_sq_mi), lo), hi))


def check_rules(cell_side_ft: float, hotspot_sq_mi: float) -> None:
    """Raise unless the cell side and flagged area are within the challenge's limits.

    Raises
    ------
    ValidationError
        Naming the option, the value, and the allowed range.
    """
    lo, hi = CELL_SIDE_FT
    if not (isinstance(cell_side_ft, int | float) and lo <= cell_side_ft <= hi):
        raise ValidationError(
            f"NIJ rules: --cell-ft must be {lo:g}-{hi:g} ft (a cell of 62,500-360,000 sq ft), "
            f"got {cell_side_ft!r}"
        )
    lo, hi = HOTSPOT_SQ_MI
    if not (isinstance(hotspot_sq_mi, int | float) and lo <= hotspot_sq_mi <= hi):
        raise ValidationError(
            f"NIJ rules: --hotspot-sq-mi must be {lo:g}-{hi:g} square miles of flagged cells, "
            f"got {hotspot_sq_mi!r}"
        )


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class NijScore:
    """One forecast scored by the challenge's rules.

    Attributes
    ----------
    n
        Calls of the period in the flagged cells (expected value over random choice
        among cells tied at the cut-off).
    n_total
        ``N``: calls of the period in the study area.
    n_star
        ``n*``: calls in the ``k_cells`` busiest cells of the period.
    k_cells
        Cells flagged.
    hotspot_sq_mi
        ``a``: flagged area, square miles.
    study_area_sq_mi
        ``A``: area of the study area, square miles.
    """

    n: float
    n_total: int
    n_star: float
    k_cells: int
    hotspot_sq_mi: float
    study_area_sq_mi: float

    @property
    def pai(self) -> float:
        """``(n / N) / (a / A)``; NaN when the period has no call."""
        if self.n_total == 0:
            return float("nan")
        return (self.n / self.n_total) / (self.hotspot_sq_mi / self.study_area_sq_mi)

    @property
    def pei_star(self) -> float:
        """``n / n*``; NaN when no call fell in the area (``n* = 0``)."""
        return self.n / self.n_star if self.n_star > 0 else float("nan")


def nij_score(
    risk: np.ndarray,
    counts: np.ndarray,
    *,
    cell_side_ft: float,
    hotspot_sq_mi: float,
    study_area_sq_mi: float,
    mask: np.ndarray | None = None,
) -> NijScore:
    """PAI and PEI* of one forecast under the challenge's rules.

    Parameters
    ----------
    risk
        (n_cells,) forecast risk; the highest ``k`` active cells are flagged, ``k`` from
        :func:`hotspot_cell_count`.
    counts
        (n_cells,) calls observed per cell in the period.
    cell_side_ft
        Cell side, feet (250 - 600).
    hotspot_sq_mi
        Wanted flagged area, square miles (0.25 - 0.75).
    study_area_sq_mi
        ``A``, square miles.
    mask
        (n_cells,) bool cells of the study area; default all.

    Raises
    ------
    ValidationError
        For a cell side or area outside the rules, more flagged cells than active ones,
        a non-positive ``A``, or the input errors of
        :func:`xunfang.analyse.evaluate.hit_counts`.
    """
    k = hotspot_cell_count(cell_side_ft, hotspot_sq_mi)
    n_active = len(risk) if mask is None else int(np.count_nonzero(mask))
    if not study_area_sq_mi > 0:
        raise ValidationError(f"study area must be positive, got {study_area_sq_mi} sq mi")
    if k > n_active:
        raise ValidationError(
            f"NIJ rules: {k} cells of {cell_side_ft:g} ft are to be flagged but the study area "
            f"has only {n_active}"
        )
    hc = hit_counts(risk, counts, (k / n_active,), mask=mask)
    return NijScore(
        n=float(hc.hits[0]),
        n_total=hc.total,
        n_star=float(hc.best_hits[0]),
        k_cells=int(hc.k_cells[0]),
        hotspot_sq_mi=k * cell_side_ft**2 / SQ_FT_PER_SQ_MI,
        study_area_sq_mi=float(study_area_sq_mi),
    )


# --------------------------------------------------------------------------- categories
@dataclass(frozen=True)
class NijCategory:
    """A challenge category.

    Attributes
    ----------
    key
        ``all``, ``burglary``, ``street`` or ``vehicle`` (any key of the table).
    label
        Display name.
    category
        The value of the release's ``CATEGORY`` column for it (``None`` for all calls).
    case_types
        The final call types it holds (``None``: every call).
    """

    key: str
    label: str
    category: str | None
    case_types: frozenset[str] | None


def read_categories(path: str | Path | None = None) -> dict[str, NijCategory]:
    """The challenge's categories from a TOML table (default the packaged
    ``xunfang/data/nij_categories.toml``; its header gives the source).

    Raises
    ------
    DataFileError
        If the file cannot be read or a category lacks a field, naming it.
    """
    where: str | Path
    try:
        if path is None:
            where = "xunfang/data/nij_categories.toml"
            text = resources.files("xunfang").joinpath("data/nij_categories.toml").read_text()
        else:
            where = Path(path)
            text = read_toml_text(where)
        doc = tomllib.loads(text)
    except OSError as exc:
        raise DataFileError(path or "nij_categories.toml", f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(where, f"not valid TOML: {exc}") from exc
    out: dict[str, NijCategory] = {}
    for key, sec in doc.items():
        if not isinstance(sec, dict) or "label" not in sec:
            raise DataFileError(where, "each category needs a table with a label", field=key)
        types = sec.get("case_types")
        if types is not None and (
            not isinstance(types, list) or not all(isinstance(t, str) for t in types)
        ):
            raise DataFileError(where, "case_types must be a list of call types", field=key)
        out[key] = NijCategory(
            key=key,
            label=str(sec["label"]),
            category=sec.get("category"),
            case_types=None if types is None else frozenset(t.strip().upper() for t in types),
        )
    return out


def select_category(table: IncidentTable, category: NijCategory) -> tuple[IncidentTable, int]:
    """The calls of one category, and the number of rows where the call-type table and
    the release's own ``category`` column (when present) disagree.

    Raises
    ------
    ValidationError
        If the table has no ``case_type`` column (the final call type).
    """
    if category.case_types is None:
        return table, 0
    f = table.frame
    if "case_type" not in f.columns:
        raise ValidationError(
            "the NIJ categories are sets of final call types, but the incidents have no "
            "case_type column: ingest the Portland files with --profile portland"
        )
    keep = f["case_type"].astype("string").str.strip().str.upper().isin(category.case_types)
    keep_np = keep.fillna(False).to_numpy(dtype=bool)
    disagree = 0
    if category.category is not None and "category" in f.columns:
        theirs = f["category"].astype("string").str.strip().str.upper() == category.category
        disagree = int((theirs.fillna(False).to_numpy(dtype=bool) != keep_np).sum())
    return table.subset(keep_np), disagree


# --------------------------------------------------------------------------- periods
def nij_windows(
    table: IncidentTable, horizon: str, *, min_train_days: int = 28
) -> tuple[list[Window], str]:
    """Consecutive forecast periods of one horizon that end with the data, each with at
    least ``min_train_days`` whole days of data before the first.

    Returns
    -------
    (windows, reason)
        ``reason`` says why the list is empty ("" otherwise).

    Raises
    ------
    ValidationError
        For an unknown horizon or a negative ``min_train_days``.
    """
    if horizon not in HORIZON_DAYS:
        raise ValidationError(f"--horizons: {horizon!r} is not one of {list(HORIZON_DAYS)}")
    if min_train_days < 1:
        raise ValidationError(f"--min-train-days must be at least 1, got {min_train_days}")
    days = HORIZON_DAYS[horizon]
    local = table.local_time()
    first = local.min().normalize().tz_localize(None)
    end = local.max().normalize().tz_localize(None) + pd.Timedelta(days=1)
    span = int((end - first).days)
    n = (span - min_train_days) // days
    if n < 1:
        return [], (
            f"{days} days of forecast plus {min_train_days} of training need "
            f"{days + min_train_days} days; the data hold {span} ({first.date()} .. "
            f"{(end - pd.Timedelta(days=1)).date()})"
        )
    out = []
    for i in range(n):
        start = end - pd.Timedelta(days=(n - i) * days)
        last = start + pd.Timedelta(days=days - 1)
        label = f"{start.date()}..{last.date()}"
        out.append(Window.local(start.date(), 0, 24, table.timezone, days=days, label=label))
    return out, ""


# --------------------------------------------------------------------------- whole runs
@dataclass(frozen=True)
class NijSpec:
    """What ``xunfang forecast nij`` runs.

    Attributes
    ----------
    incident_files
        The Portland CFS files (or one ingested parquet).
    profile
        Ingest profile (``portland``) or a mapping.
    cell_side_ft
        Square cell side, feet (250 - 600).
    hotspot_sq_mi
        Flagged areas to score, square miles (each 0.25 - 0.75).
    categories
        Category keys of the table.
    horizons
        Horizon keys of :data:`HORIZON_DAYS`; those the data cannot hold are reported.
    methods
        Forecast method specs (:func:`xunfang.analyse.forecast.make_forecaster`).
    min_train_days
        Whole days of data before the first forecast period.
    boundary
        Polygon file of the study area (``A``); default the convex hull of all calls.
    categories_file
        Category table (default the packaged one).
    seed
        Seed of every forecaster.
    """

    incident_files: tuple[Path, ...]
    profile: str | Profile = "portland"
    cell_side_ft: float = 600.0
    hotspot_sq_mi: tuple[float, ...] = (0.25, 0.75)
    categories: tuple[str, ...] = CATEGORY_KEYS
    horizons: tuple[str, ...] = tuple(HORIZON_DAYS)
    methods: tuple[str, ...] = DEFAULT_METHODS
    min_train_days: int = 28
    boundary: Path | None = None
    categories_file: Path | None = None
    seed: int = 0


@dataclass(frozen=True)
class NijRun:
    """A finished NIJ evaluation.

    Attributes
    ----------
    spec
        What was asked.
    rows
        One row per category x horizon x flagged area x method x period: ``category,
        horizon, hotspot_sq_mi, method, window, n_train, N, n, n_star, k_cells, a_sq_mi,
        pai, pei_star, seconds``.
    skipped
        Horizon -> why the data cannot hold it.
    grid
        The grid (metres, project CRS).
    study_area_sq_mi
        ``A``, square miles.
    area_source
        Where ``A`` came from.
    n_input
        Calls read.
    disagreements
        Category -> rows where the call-type table and the ``CATEGORY`` column differ.
    n_outside
        Calls (of any category) outside the study area: neither trained on nor scored.
    ingest_report
        The ingest report (``None`` for a parquet input).
    seconds, cpu_seconds
        Wall and CPU (user + system) time of the run.
    """

    spec: NijSpec
    rows: pd.DataFrame
    skipped: dict[str, str]
    grid: Grid
    study_area_sq_mi: float
    area_source: str
    n_input: int
    disagreements: dict[str, int]
    n_outside: int
    ingest_report: IngestReport | None
    seconds: float
    cpu_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean PAI and PEI* over periods per category, horizon, flagged area and method,
        with the periods, their calls and the large-business winners of the challenge
        (names only, see :data:`WINNERS_LARGE_BUSINESS`)."""
        keys = ["category", "horizon", "hotspot_sq_mi", "method"]
        g = self.rows.groupby(keys, sort=False)
        out = g.agg(
            periods=("window", "size"),
            calls=("N", "sum"),
            k_cells=("k_cells", "first"),
            pai=("pai", "mean"),
            pei_star=("pei_star", "mean"),
            pai_min=("pai", "min"),
            pai_max=("pai", "max"),
            seconds=("seconds", "mean"),
        ).reset_index()
        win = [
            WINNERS_LARGE_BUSINESS.get((c, h), ("", ""))
            for c, h in zip(out["category"], out["horizon"], strict=True)
        ]
        out["nij_winner_pai"] = [w[0] for w in win]
        out["nij_winner_pei_star"] = [w[1] for w in win]
        return out


def study_polygon(table: IncidentTable, boundary: Path | None) -> tuple[BaseGeometry, str]:
    """The study area in the table's CRS: the union of a boundary file's polygons, or
    the convex hull of all calls."""
    if boundary is not None:
        gdf = read_boundary_file(boundary).to_crs(table.crs)
        return shapely.union_all(gdf.geometry.to_numpy()), f"boundary file {boundary}"
    hull = shapely.MultiPoint(table.xy).convex_hull
    return hull, "convex hull of all calls (no Portland boundary in the data)"


def run_nij(spec: NijSpec, *, progress: Callable[[str], None] | None = None) -> NijRun:
    """Read the calls, lay the NIJ grid, and score every method on every category,
    horizon the data can hold and flagged area.

    Each period is forecast by every method trained on all calls before it (no call of
    the period or later is read by a forecaster).

    Raises
    ------
    ValidationError
        For options outside the rules or unknown categories, methods or horizons.
    """
    t0, c0 = time.perf_counter(), _cpu()
    for area in spec.hotspot_sq_mi:
        check_rules(spec.cell_side_ft, area)
    table_cats = read_categories(spec.categories_file)
    unknown = [c for c in spec.categories if c not in table_cats]
    if unknown:
        raise ValidationError(f"--categories {unknown}: known are {list(table_cats)}")
    for h in spec.horizons:
        if h not in HORIZON_DAYS:
            raise ValidationError(f"--horizons: {h!r} is not one of {list(HORIZON_DAYS)}")
    say = progress or (lambda _m: None)
    say("reading calls")
    table, report = load_incidents(spec.incident_files, spec.profile, None)
    if len(table) == 0:
        raise ValidationError("no calls in the input: nothing to evaluate")
    polygon, area_source = study_polygon(table, spec.boundary)
    cell_m = spec.cell_side_ft * FT_M
    grid = Grid.from_polygon(polygon, cell_m, table.crs)
    a_big = float(polygon.area) / M2_PER_SQ_MI
    ks = [hotspot_cell_count(spec.cell_side_ft, a) for a in spec.hotspot_sq_mi]
    if len(set(ks)) < len(ks):
        raise ValidationError(
            f"--hotspot-sq-mi {list(spec.hotspot_sq_mi)} give the same number of "
            f"{spec.cell_side_ft:g} ft cells ({ks}): give distinct areas"
        )
    area_of_k = dict(zip(ks, spec.hotspot_sq_mi, strict=True))
    if max(ks) > grid.n_active:
        raise ValidationError(f"the study area has {grid.n_active} cells, fewer than {max(ks)}")
    models = {m: with_warm_start(make_forecaster(m, grid, seed=spec.seed)) for m in spec.methods}
    rows: list[pd.DataFrame] = []
    disagreements: dict[str, int] = {}
    inside = grid.in_area(table.xy)
    n_outside = int((~inside).sum())
    periods = {h: nij_windows(table, h, min_train_days=spec.min_train_days) for h in spec.horizons}
    skipped = {h: why for h, (windows, why) in periods.items() if not windows}
    for key in spec.categories:
        selected, disagreements[key] = select_category(table, table_cats[key])
        if len(selected) == 0:
            raise ValidationError(f"no call of category {key!r} in the input")
        for horizon in spec.horizons:
            windows = periods[horizon][0]
            if not windows:
                continue
            say(f"{key}, {horizon}: {len(windows)} period(s)")
            ev = rolling_origin(
                selected,
                grid,
                models,
                windows,
                lookback_days=None,
                fractions=[k / grid.n_active for k in ks],
            )
            r = ev.rows
            a_sq_mi = r["k_cells"] * spec.cell_side_ft**2 / SQ_FT_PER_SQ_MI
            scores = [
                NijScore(float(n), int(big_n), float(n_star), int(k), float(a), a_big)
                for n, big_n, n_star, k, a in zip(
                    r["hits"], r["n_events"], r["best_hits"], r["k_cells"], a_sq_mi, strict=True
                )
            ]
            rows.append(
                pd.DataFrame(
                    {
                        "category": key,
                        "horizon": horizon,
                        "hotspot_sq_mi": r["k_cells"].map(area_of_k),
                        "method": r["method"],
                        "window": r["window"],
                        "n_train": r["n_train"],
                        "N": r["n_events"],
                        "n": r["hits"],
                        "n_star": r["best_hits"],
                        "k_cells": r["k_cells"],
                        "a_sq_mi": a_sq_mi,
                        "pai": [sc.pai for sc in scores],
                        "pei_star": [sc.pei_star for sc in scores],
                        "seconds": r["fit_s"] + r["predict_s"],
                    }
                )
            )
    if not rows:
        raise ValidationError(
            "the data hold none of the horizons asked: "
            + "; ".join(f"{h}: {why}" for h, why in skipped.items())
        )
    return NijRun(
        spec=spec,
        rows=pd.concat(rows, ignore_index=True),
        skipped=skipped,
        grid=grid,
        study_area_sq_mi=a_big,
        area_source=area_source,
        n_input=len(table),
        disagreements=disagreements,
        n_outside=n_outside,
        ingest_report=report,
        seconds=time.perf_counter() - t0,
        cpu_seconds=_cpu() - c0,
        settings={
            "cell_side_ft": spec.cell_side_ft,
            "cell_side_m": cell_m,
            "hotspot_cells": dict(zip(spec.hotspot_sq_mi, ks, strict=True)),
            "crs": table.crs.to_string(),
            "methods": {m: f.describe() for m, f in models.items()},
        },
    )


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def winners_note() -> str:
    """One sentence on the published winners and why their scores are not beside ours."""
    return (
        f"NIJ's winners page ({WINNERS_SOURCE}) names the winners of each category and "
        "period but publishes no scores; the challenge scored 1 March - 31 May 2017 "
        "with the PPB jurisdiction as A, a period this data (Aug-Sep 2016) does not "
        "cover, so no winner's score is comparable with these."
    )
