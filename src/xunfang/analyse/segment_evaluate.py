"""Rolling-origin evaluation of street-segment forecasts beside grid forecasts.

For each test window (trained on the incidents of ``[start - lookback, start)`` only):

* each segment method (:mod:`xunfang.analyse.forecast.segments`) is scored by the segment
  hit rate at coverages of **road length** (``unit = "road length"``);
* each grid method is scored by the usual hit rate at the same shares of **area**
  (``unit = "area"``, :func:`xunfang.analyse.evaluate.hit_counts`), and its forecast
  carried to the segments (cell risk density at each midpoint, Rosser et al. 2017) is
  scored at the same shares of road length (``unit = "road length"``, method
  ``grid>segments ...``).

Both score the same incidents: those of the type filter that lie inside the study-area
polygon, each snapped to its nearest segment (the grid counts them in their cells).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from xunfang.analyse.evaluate import (
    FRACTIONS,
    ScoringEvents,
    check_cell_m,
    default_start,
    hit_counts,
    load_incidents,
    select_types,
)
from xunfang.analyse.forecast._base import TrainingEvents, Window, rolling_windows, to_days
from xunfang.analyse.forecast.registry import make_forecaster
from xunfang.analyse.forecast.segments import (
    NetworkProspective,
    SegmentEvents,
    SegmentForecast,
    StreetSegments,
    grid_risk_on_segments,
    make_segment_forecaster,
    segment_hits,
    summary_table,
)
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City
from xunfang.ingest.incidents import Profile
from xunfang.ingest.profiles import FrameName


@dataclass(frozen=True)
class SegmentEvaluationSpec:
    """What ``xunfang forecast segments`` runs.

    Attributes
    ----------
    incident_files
        Incident files (read with ``profile``) or one ingested ``.parquet``.
    profile
        Ingest profile or mapping; ``None`` for ingested tables (read back as written).
    city
        The city: its study area and road network.
    area
        Study-area name (``district:1``, ``community:LOOP``, ``boundary:NAME``).
    frame
        Frame of the incidents' lon/lat columns (``None``: the profile's).
    types
        Type groups or types (:func:`xunfang.analyse.evaluate.select_types`); empty: all.
    cell_m
        Grid cell side of the grid methods, metres.
    window
        ``day`` or ``week`` (whole local days).
    start
        Local date of the first test window; default the last ``windows`` windows.
    windows
        Number of test windows.
    lookback_days
        Training look-back, days (``None``: everything before the window).
    methods
        Segment method specs (:func:`~xunfang.analyse.forecast.segments.make_segment_forecaster`).
    grid_methods
        Grid method specs (:func:`~xunfang.analyse.forecast.make_forecaster`) to compare.
    fractions
        Coverages (shares of road length for segments, of area for cells).
    """

    incident_files: tuple[Path, ...]
    profile: str | Profile | None
    city: City
    area: str
    frame: FrameName | None = None
    types: tuple[str, ...] = ()
    cell_m: float = 150.0
    window: str = "day"
    start: str | None = None
    windows: int = 14
    lookback_days: float | None = 365.0
    methods: tuple[str, ...] = ("naive", "network")
    grid_methods: tuple[str, ...] = ("naive:period_days=none", "prospective")
    fractions: tuple[float, ...] = FRACTIONS


@dataclass(frozen=True)
class SegmentEvaluation:
    """A finished segment evaluation.

    Attributes
    ----------
    spec
        What was asked.
    area
        The study area.
    segments
        The street segments (midpoint in the area).
    rows
        One row per method x window x coverage: ``method, unit, window, start, fraction,
        n_events, hits, best_hits, hit_rate, pai, pei, seconds, n_train``.
    last_forecasts
        The segment forecasts of the last window, by method spec (for the map).
    n_read, n_selected, n_inside
        Incidents read, kept by the type filter, inside the area polygon (used).
    snap_m
        (n_inside,) snapping distance of each used incident, metres.
    network_s
        Seconds to build the road network and its segments.
    distances_s
        Seconds of the one-off node-to-segment distances of the network methods.
    seconds
        Wall time of the whole run.
    """

    spec: SegmentEvaluationSpec
    area: StudyArea
    segments: StreetSegments
    rows: pd.DataFrame
    last_forecasts: dict[str, SegmentForecast]
    n_read: int
    n_selected: int
    n_inside: int
    snap_m: np.ndarray
    network_s: float
    distances_s: float
    seconds: float

    def summary(self) -> pd.DataFrame:
        """Mean, SD and seconds per window by method and coverage, with ``unit``."""
        s = summary_table(self.rows)
        units = self.rows.groupby("method", sort=False)["unit"].first()
        s.insert(1, "unit", s["method"].map(units))
        return s

    def to_dict(self) -> dict[str, Any]:
        """Run facts for ``run.json``."""
        sn = self.snap_m
        return {
            "area": self.area.name,
            "area_km2": self.area.area_km2,
            "crs": self.area.crs.to_string(),
            "segments": len(self.segments),
            "road_km": self.segments.total_length_m / 1000.0,
            "incidents_read": self.n_read,
            "incidents_selected": self.n_selected,
            "incidents_inside_area": self.n_inside,
            "snap_m_median": float(np.median(sn)) if len(sn) else None,
            "snap_m_p95": float(np.percentile(sn, 95)) if len(sn) else None,
            "snap_share_over_50m": float((sn > 50).mean()) if len(sn) else None,
            "network_s": self.network_s,
            "distances_s": self.distances_s,
            "seconds": self.seconds,
            "types": list(self.spec.types),
            "window": self.spec.window,
            "windows": self.spec.windows,
            "lookback_days": self.spec.lookback_days,
            "cell_m": self.spec.cell_m,
            "methods": list(self.spec.methods),
            "grid_methods": list(self.spec.grid_methods),
            "fractions": list(self.spec.fractions),
        }


def _row(
    method: str, unit: str, w: Window, fraction: float, n: int, hits: float, best: float,
    pai: float, seconds: float, n_train: int,
) -> dict[str, Any]:  # fmt: skip
    return {
        "method": method,
        "unit": unit,
        "window": w.label,
        "start": str(w.start),
        "fraction": float(fraction),
        "n_events": n,
        "hits": hits,
        "best_hits": best,
        "hit_rate": hits / n if n else np.nan,
        "pai": pai,
        "pei": hits / best if best > 0 else np.nan,
        "seconds": seconds,
        "n_train": n_train,
    }


def run_segment_evaluation(
    spec: SegmentEvaluationSpec, *, progress: Callable[[str], None] | None = None
) -> SegmentEvaluation:
    """Build the area's segments, read and snap the incidents, and score every segment
    and grid method on each window (module docstring).

    Raises
    ------
    ValidationError
        For a window other than whole days, no incident in the area, a window before the
        data or after it, or bad method specs; errors of the readers pass through.
    """
    t_run = time.perf_counter()
    say = progress or (lambda _m: None)
    if spec.window not in ("day", "week"):
        raise ValidationError(
            f"--window for segments must be day or week (whole local days), got {spec.window!r}"
        )
    check_cell_m(spec.cell_m)
    say("building the road network")
    t0 = time.perf_counter()
    area = spec.city.study_area(spec.area)
    network = spec.city.road_network(area)
    segments = StreetSegments.from_network(network, area.polygon)
    network_s = time.perf_counter() - t0
    seg_models = {m: make_segment_forecaster(m, segments) for m in spec.methods}
    grid = Grid.from_polygon(area.polygon, spec.cell_m, area.crs)
    grid_models = {m: make_forecaster(m, grid) for m in spec.grid_methods}

    say("reading incidents")
    table, _report = load_incidents(
        spec.incident_files, spec.profile, area.crs.to_string(), spec.frame
    )
    selected = select_types(table, spec.types)
    xy = selected.xy
    inside = shapely.contains_xy(area.polygon, xy[:, 0], xy[:, 1])
    used = selected.subset(inside)
    if len(used) == 0:
        raise ValidationError(
            f"no incident of types {list(spec.types) or 'all'} inside {spec.area}: "
            "check --area, --types and the incident files"
        )
    events = SegmentEvents.from_table(used, segments)
    cell_events = TrainingEvents.from_table(used, grid)
    scoring = ScoringEvents.from_table(used, grid)
    start = spec.start or default_start(used, spec.window, spec.windows)
    windows = rolling_windows(start, spec.windows, spec.window, used.timezone)
    first_at, last_end = (w.tz_convert(used.timezone) for w in (windows[0].start, windows[-1].end))
    if windows[0].start_day <= events.start_day:
        raise ValidationError(
            f"the first window starts at {first_at:%Y-%m-%d %H:%M} local time, before the data: "
            "choose a later --start"
        )
    if windows[-1].end_day > float(to_days(table.frame["occurred_at"]).max()) + 1.0:
        raise ValidationError(
            f"the last window ends at {last_end:%Y-%m-%d %H:%M} local time, after the data: use "
            "an earlier --start or fewer --windows"
        )
    mid = segments.midpoints
    fr = [float(f) for f in spec.fractions]
    rows: list[dict[str, Any]] = []
    last: dict[str, SegmentForecast] = {}
    say("network distances")
    t0 = time.perf_counter()
    for model in seg_models.values():  # the one-off distances, timed apart from the windows
        if isinstance(model, NetworkProspective):
            segments.node_distances_m(float(model.bandwidth_m))
    distances_s = time.perf_counter() - t0
    for w in windows:
        say(f"window {w.label}")
        lo = events.start_day if spec.lookback_days is None else w.start_day - spec.lookback_days
        lo = max(lo, events.start_day)
        train = events.between(lo, w.start_day)
        test = events.between(w.start_day, w.end_day)
        counts = test.counts(len(segments))
        for label, model in seg_models.items():
            t1 = time.perf_counter()
            fc = model.fit(train).predict(w)
            dt_s = time.perf_counter() - t1
            sh = segment_hits(fc.risk, segments.length_m, counts, fr)
            for i, f in enumerate(fr):
                rows.append(
                    _row(label, "road length", w, f, sh.total, float(sh.hits[i]),
                         float(sh.best_hits[i]), float(sh.pai[i]), dt_s, len(train))
                )  # fmt: skip
            last[label] = fc
        cells, _out, _d = scoring.in_window(w, used.timezone)
        cell_counts = np.bincount(cells, minlength=grid.n_cells)
        cell_train = cell_events.between(lo, w.start_day)
        for label, gmodel in grid_models.items():
            t1 = time.perf_counter()
            gfc = gmodel.fit_events(cell_train).predict(w)
            dt_s = time.perf_counter() - t1
            hc = hit_counts(gfc.risk, cell_counts, fr, mask=grid.mask)
            seg_risk = grid_risk_on_segments(gfc.at(mid), grid.cell_m**2, segments.length_m)
            sh = segment_hits(seg_risk, segments.length_m, counts, fr)
            for i, f in enumerate(fr):
                rows.append(
                    _row(f"grid {label}", "area", w, f, hc.total, float(hc.hits[i]),
                         float(hc.best_hits[i]), float(hc.pai[i]), dt_s, len(cell_train))
                )  # fmt: skip
                rows.append(
                    _row(f"grid>segments {label}", "road length", w, f, sh.total,
                         float(sh.hits[i]), float(sh.best_hits[i]), float(sh.pai[i]), dt_s,
                         len(cell_train))
                )  # fmt: skip
    return SegmentEvaluation(
        spec=spec,
        area=area,
        segments=segments,
        rows=pd.DataFrame(rows),
        last_forecasts=last,
        n_read=len(table),
        n_selected=len(selected),
        n_inside=len(used),
        snap_m=events.snap_m,
        network_s=network_s,
        distances_s=distances_s,
        seconds=time.perf_counter() - t_run,
    )


def comparison(
    summary: pd.DataFrame, fractions: Sequence[float] = (0.01, 0.05, 0.20)
) -> pd.DataFrame:
    """Best segment method vs best grid method per coverage: ``fraction, best_segment,
    segment_hit_rate, best_grid, grid_hit_rate, ratio`` (segment / grid; the grid at the
    same share of area, the segments at the same share of road length)."""
    out = []
    for f in fractions:
        s = summary[np.isclose(summary["fraction"], f)]
        seg = s[~s["method"].str.startswith("grid")]
        grd = s[s["unit"] == "area"]
        if seg.empty or grd.empty:
            continue
        bs = seg.loc[seg["hit_rate_mean"].idxmax()]
        bg = grd.loc[grd["hit_rate_mean"].idxmax()]
        out.append(
            {
                "fraction": float(f),
                "best_segment": bs["method"],
                "segment_hit_rate": float(bs["hit_rate_mean"]),
                "best_grid": bg["method"],
                "grid_hit_rate": float(bg["hit_rate_mean"]),
                "ratio": float(bs["hit_rate_mean"] / bg["hit_rate_mean"])
                if bg["hit_rate_mean"] > 0
                else np.nan,
            }
        )
    return pd.DataFrame(out)
