"""Forecast speed for the whole city (issue 13: "under 1 s per day of fit and predict for
the whole city"): seconds per day of fit + predict of ``auto`` and of each method it
chose, on consecutive daily windows, as in a rolling-origin evaluation.

Setting: Chicago 2014-2015, the union of the 22 police districts on a 150 m grid, one
year of history before each day, one crime group (``--types``; default burglary). The
type mix of all incidents is given to ``gbm`` (as ``xunfang forecast evaluate`` does);
the place layers are not built (the whole city's road network takes minutes).

Rows printed, each timed day by day in this process:

* ``auto, no reuse (baseline)``: ``auto`` as a single forecast runs it
  (``warm_start=False``): every day scores every candidate on every validation window,
  with the loop versions of the kernel sums, the stack's EM and gbm's cumulative counts
  that this work replaced patched in (copied here: the code before it).
* ``auto, reuse, cold fits (before)``: ``auto`` with ``warm_start=True`` as before the
  iterative candidates were kept fitted across days: the scores of the validation
  windows already scored are kept, only the newest window is scored, and every fit (the
  newest window's, the chosen candidate's final fit) starts cold
  (``select.warm_start_converging`` patched to leave every candidate cold), and the
  kernel sums of KDE and prospective hotspotting take the dense loop over kernel taps
  (``_kernels.SPARSE_TERM_COST`` patched to infinity).
* ``auto, reuse``: ``auto`` as the rolling evaluation ran it before the cadence
  (``warm_start=True``, re-selected and refitted every day; see ``--cadence``):
  as the row before, but ``sepp``'s EM starts from the previous day's fit (of the newest
  validation window, and of the final fit), stopping on the same tolerance, and the
  kernel sums of few events add only their non-zero terms (the same sums bit for bit).
  All the ``auto`` rows must choose the same on every day when the budget does not bind;
  the benchmark prints whether they did, and the largest relative difference of their
  forecasts (0 when the final fits are the same: the warm-started EM stops within its
  tolerance of the cold one, not bit for bit).
* each method ``auto`` chose, and ``--also`` (default ``stack,gbm``), alone, as the
  rolling evaluation runs it (warm start where the method has one), with the loop
  versions patched in (baseline) and as now, and the largest difference of the two.

With ``--cadence``, only the operational cadence against daily re-selection, over
``--days`` consecutive days (15 gives two whole cycles of 7 after the first day):

* ``daily re-selection (baseline)``: ``auto`` with reuse as before the cadence
  (``reselect_every_days=1, refit_every_days=1``): every day scores the newest
  validation window of every candidate and fits the chosen one cold (``sepp``'s EM from
  the day before).
* ``re-selected every 7 d, refit every 7 d`` (the defaults): the choice is made on days
  1, 8, 15, ... and kept in between, when only the chosen method is fitted on the latest
  history; ``gbm`` and ``stack`` are validated and run alike: a window, validation or
  forecast, is forecast with the trees or weights fitted at the start of its block of 7
  days (blocks start on Sundays) on a validation window's history, its inputs moving on
  (one fit a block serves both).

It prints, day by day, wall and CPU seconds and what each chose (and when the chosen
model was last fully fitted), the means over all days and over the days after the first
(the cold start, where both score every validation window), and the hit rates at 1, 5
and 20 % of the area of both over those days with the paired standard error of their
difference. Give ``--budget-s 100000``: a budget that binds makes the choice depend on
the machine's load (a run at load 5-6 with the default 120 s skipped ``gbm``/``stack``
on some selections and showed 1.9 s a day for all types instead of 6.7 s).

Figures (2026-12-02, a year of history before each day from 2015-04-06, budget not
binding, ``gbm`` of 75 trees; CPU seconds a day over days 2-15, wall in brackets; load
3.6 to 4.2 during the four runs, 2 cores shared with other work; "before": the same
command on the code before issue 13's speed work on the choosing day: the dense-type
candidate list, the block fits shared by validation and forecast, the cheaper kernel
sums)::

                                      burglary, 15 days       all types, 15 days
    daily re-selection (baseline)     1.95 (2.57)             4.54 (6.86)
    every 7 d, refit every 7 d        0.70 (0.73)             0.75 (0.97)
      of which: choosing days         3.83 (2 days)           3.09 (2 days)
                other days            0.18 (12 days)          0.36 (12 days)
    before: daily re-selection        2.33 (3.11)             9.06 (13.17)
            every 7 d, refit 7 d      1.11 (1.40)             5.19 (7.27)
            of which: choosing days   6.99                   35.78
    mean hit rate 1/5/20 %, baseline  .081 .209 .578          .126 .333 .676
    every 7 d, refit every 7 d        .075 .212 .577          .126 .333 .677
            before                    .076 .211 .565          .126 .335 .677
    difference to the baseline        -.006 +.003 -.001       -.000 -.000 +.001
      (paired SE)                     (.005 .009 .019)        (.001 .001 .001)

The other days include, on Sundays, the block's fit of a chosen ``gbm`` or ``stack``
(burglary: ``gbm`` 0.98 s on 04-19; all types: ``gbm`` 2.70 s on 04-12, ``stack`` 0.77 s
on 04-19), which the next choosing day's validation reuses. Where the choosing day of all
types went before (38 s CPU, day 8): the two SEPP candidates' EM fits about 80 %,
``gbm`` 10 % and ``stack`` 3 % (and a second fit of the one chosen, for the forecast,
on all the history); ``auto`` now
leaves out the candidates never near the best on such dense histories
(``select.DENSE_EVENTS_PER_DAY``, the choice unchanged: same choice on all 15 days and on
84 days from 2015-04-06 in a separate paired run, mean hit rate differences at 1/5/20 %
-.0004 -.0003 -.0002, paired SE .0003 .0005 .0005 over the 49 days both ran; burglary
+.0005 +.0033 +.0052, SE .0023 .0041 .0033, 84 days), a chosen ``gbm``/``stack`` runs on
its validation block's fit, and the kernel sums of continuous prospective hotspotting and
SEPP's background and forecast cost less at the same values.

Before that work (29 days of burglary, load 2.4-3.9): daily re-selection 2.65 s a day,
every 7 d 1.16 s (7.48 on a choosing day), all types 11.02 and 6.41 (44.26).
With 150 trees (``gbm``'s default before) and a load of 5-6: burglary 3.88 against 1.49
(every 7 d, refit every 1 d: 4.28), all types 14.77 against 6.69.

The saving is mostly the kept ``gbm``/``stack`` fit (run and validated so); choosing
every 7 days with cold fits costs as much as choosing daily (a choice scores as many
validation windows), but moves the work to one day in 7.

With ``--kernels``, also the kernel sums of the grid methods (retrospective KDE, the
cell-mean prospective kernel, SEPP's adaptive background) against the loop versions they
replaced (copied here as the baseline), on the same events.

Usage::

    python benchmarks/bench_forecast_city.py [--data-dir DIR] [--cache /tmp/chicago.parquet]
        [--types BURGLARY] [--start 2015-04-06] [--days 7] [--budget-s 120]
        [--candidates SPEC,SPEC,...] [--kernels] [--skip-baseline] [--also SPEC,...]
    python benchmarks/bench_forecast_city.py --cadence --days 15 --budget-s 100000 [--types ''] \
        [--reselect-every-days 7] [--refit-every-days 7] [--cadence-also 1/7,7/1] [--cache F]

Wall and CPU seconds are given with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xunfang.analyse.evaluate import (
    _city_area,
    hit_counts,
    load_incidents,
    select_types,
    study_grid,
    with_warm_start,
)
from xunfang.analyse.forecast import Forecaster, TrainingEvents, Window, make_forecaster
from xunfang.analyse.forecast import select as select_module
from xunfang.analyse.forecast._base import rolling_windows
from xunfang.analyse.forecast.learned import CellContext
from xunfang.analyse.forecast.select import REFIT_EVERY_DAYS, RESELECT_EVERY_DAYS, AutoSelect
from xunfang.analyse.grid import Grid
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import IncidentTable, read_incident_table

ROOT = Path(__file__).resolve().parents[1]
LOOKBACK_DAYS = 365.0
CADENCE_FRACTIONS = (0.01, 0.05, 0.20)


def _load(data_dir: Path, cache: Path | None, city: City) -> IncidentTable:
    if cache is not None and cache.exists():
        return read_incident_table(cache)
    files = sorted((data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))
    if not files:
        raise SystemExit(f"no monthly files under {data_dir}/chicago/incidents_2014_2015")
    crs = _city_area(city, "city", None).crs.to_string()
    table, _ = load_incidents(files, "chicago", crs)
    if cache is not None:
        table.write_parquet(cache)
    return table


def _run_days(
    model: Forecaster, events: TrainingEvents, windows: list[Window]
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Fit on the year before each window and predict it, day by day: wall and CPU
    seconds per day, what ``auto`` chose, and the forecasts."""
    rows, risks = [], []
    for w in windows:
        train = events.between(max(w.start_day - LOOKBACK_DAYS, events.start_day), w.start_day)
        t0, c0 = time.perf_counter(), time.process_time()
        fc = model.fit_events(train).predict(w)
        sel = getattr(model, "selection_", None)
        rows.append(
            {
                "day": w.label,
                "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - c0,
                "chosen": getattr(sel, "chosen", ""),
                "notes": "; ".join(getattr(sel, "notes", [])),
                "reselected": getattr(sel, "reselected", True),
                "model_fitted_on": getattr(sel, "model_fitted_on", ""),
            }
        )
        risks.append(fc.risk)
    return pd.DataFrame(rows), risks


def _print_days(label: str, res: pd.DataFrame) -> None:
    per_day = " ".join(f"{w:.1f}/{c:.1f}" for w, c in zip(res["wall_s"], res["cpu_s"], strict=True))
    print(
        f"  {label:44s} {res['wall_s'].mean():8.2f} {res['cpu_s'].mean():8.2f}   "
        f"(day by day wall/CPU: {per_day})"
    )


# --------------------------------------------------------------------------- kernels
def _loop_centre_sum_2d(
    grid: Grid,
    fine: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The loop over kernel taps that ``centre_sum_2d`` was before (the baseline)."""
    s = subcells
    fine_m = grid.cell_m / s
    r = int(np.ceil(radius_m / fine_m))
    pad = np.pad(fine, r)
    out = np.zeros((grid.ny, grid.nx))
    h = s // 2
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            w = float(kernel(np.asarray(np.hypot(dx, dy) * fine_m)))
            if w == 0.0:
                continue
            y0, x0 = r + h + dy, r + h + dx
            out += w * pad[y0 : y0 + grid.ny * s : s, x0 : x0 + grid.nx * s : s]
    return out


def _loop_centre_sum_points(
    grid: Grid,
    xy: np.ndarray,
    weights: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The loop over kernel taps on the fine image of the points (the baseline)."""
    from xunfang.analyse.forecast._kernels import fine_image

    fine = fine_image(grid, xy, weights, subcells)
    return _loop_centre_sum_2d(grid, fine, subcells, radius_m, kernel)


def _dense_poisson_weights(
    surfaces: np.ndarray, counts: np.ndarray, *, n_iter: int = 300
) -> np.ndarray:
    """The stack's EM over every row, as before (the baseline; no input checks)."""
    s = np.asarray(surfaces, dtype=np.float64)
    y = np.asarray(counts, dtype=np.float64)
    col = s.sum(axis=0)
    w = np.where(col > 0, y.sum() / max(len(col), 1) / np.where(col > 0, col, 1.0), 0.0)
    for _ in range(int(n_iter)):
        mu = s @ w
        ratio = np.divide(y, mu, out=np.zeros_like(y), where=mu > 0)
        w = np.where(col > 0, w * (s.T @ ratio) / np.where(col > 0, col, 1.0), 0.0)
    return w


class _FullAgeSums:
    """gbm's cumulative sums over every day of age and every cell, as before (the
    baseline of ``learned._AgeSums``, which keeps only the rows the features read)."""

    def __init__(
        self,
        events: TrainingEvents,
        grid: Grid,
        ref_day: float,
        rows: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        from xunfang.analyse.forecast.learned import _ages

        n_age = int(np.max(rows))
        idx, age = _ages(events, ref_day, n_age)
        pos = np.full(grid.n_cells, -1, dtype=np.int64)
        pos[np.flatnonzero(grid.mask)] = np.arange(grid.n_active)
        n = grid.n_active
        w = None if weights is None else weights[idx]
        counts = np.bincount(age * n + pos[events.cell[idx]], weights=w, minlength=n_age * n)
        counts = counts.reshape(n_age, n)
        self.values: np.ndarray
        if weights is None:
            self.values = np.zeros((n_age + 1, n), dtype=np.float32)
            np.cumsum(counts, axis=0, out=self.values[1:], dtype=np.float32)
        else:
            self.values = np.zeros((n_age + 1, n))
            self.values[:-1] = np.cumsum(counts[::-1], axis=0)[::-1]

    def __getitem__(self, j: np.ndarray) -> np.ndarray:
        return np.asarray(self.values[j])


@contextmanager
def original_kernels() -> Iterator[None]:
    """Patch in the versions this work replaced: the baseline of the same run."""
    from xunfang.analyse.forecast import kde, learned, prospective, stack

    patches = [
        (kde, "centre_sum_points", _loop_centre_sum_points),
        (prospective, "centre_sum_points", _loop_centre_sum_points),
        (stack, "poisson_nonnegative_weights", _dense_poisson_weights),
        (learned, "_AgeSums", _FullAgeSums),
    ]
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in patches]
    for mod, name, value in patches:
        setattr(mod, name, value)
    try:
        yield
    finally:
        for mod, name, value in saved:
            setattr(mod, name, value)


@contextmanager
def cold_fits() -> Iterator[None]:
    """Every candidate of ``auto`` fitted cold and the kernel sums of the grid methods by
    the dense loop over taps, as before the iterative candidates were kept fitted across
    days and the sparse sums came (the baseline of the reuse row)."""
    from xunfang.analyse.forecast import _kernels

    saved = select_module.warm_start_converging, _kernels.SPARSE_TERM_COST
    select_module.warm_start_converging = lambda model: model
    _kernels.SPARSE_TERM_COST = float("inf")  # the dense loop over kernel taps
    try:
        yield
    finally:
        select_module.warm_start_converging, _kernels.SPARSE_TERM_COST = saved


def _compare(
    label: str, a: pd.DataFrame, ra: list[np.ndarray], b: pd.DataFrame, rb: list[np.ndarray]
) -> None:
    """Whether two runs chose the same and forecast the same, day by day."""
    same_choice = [x == y for x, y in zip(a["chosen"], b["chosen"], strict=True)]
    same_risk = [np.array_equal(x, y) for x, y in zip(ra, rb, strict=True)]
    rel = [
        float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-300))
        for x, y in zip(ra, rb, strict=True)
    ]
    print(
        f"  {label}: same choice {sum(same_choice)}/{len(same_choice)} days, same forecast "
        f"{sum(same_risk)}/{len(same_risk)} days (largest relative difference "
        f"{max(rel):.1e}; day by day {' '.join(f'{r:.0e}' for r in rel)}); speed-up "
        f"{a['wall_s'].mean() / b['wall_s'].mean():.1f}x wall, "
        f"{a['cpu_s'].mean() / b['cpu_s'].mean():.1f}x CPU"
        + ("" if all(same_choice) else " (a binding budget, or a score moved by the EM tolerance)")
    )
    for day, x, y, same in zip(a["day"], a["chosen"], b["chosen"], same_choice, strict=True):
        if not same:
            print(f"    {day[:10]}: {x} against {y}")


def _hit_rates(
    risks: list[np.ndarray], events: TrainingEvents, windows: list[Window], grid: Grid
) -> np.ndarray:
    """(days, 3) hit rates at 1, 5 and 20 % of the area of each day's forecast, on the
    incidents of that day (open_cp's tie rule, as the evaluation scores them)."""
    out = []
    for risk, w in zip(risks, windows, strict=True):
        lo, hi = np.searchsorted(events.t_day, [w.start_day, w.end_day], side="left")
        counts = np.bincount(events.cell[lo:hi], minlength=grid.n_cells)
        out.append(hit_counts(risk, counts, CADENCE_FRACTIONS, mask=grid.mask).hit_rate)
    return np.asarray(out)


def _cadence(
    auto: AutoSelect,
    events: TrainingEvents,
    windows: list[Window],
    grid: Grid,
    reselect_days: int,
    refit_days: int,
    also: Sequence[tuple[int, int]] = (),
) -> None:
    """Daily re-selection (the baseline: ``auto`` with reuse as before the cadence) against
    re-selection every ``reselect_days`` days with the chosen costly fit kept for
    ``refit_days`` days: seconds and hit rates day by day."""
    runs = {
        "daily re-selection (baseline)": auto.with_params(
            warm_start=True, reselect_every_days=1, refit_every_days=1
        ),
        f"re-selected every {reselect_days} d, refit every {refit_days} d": auto.with_params(
            warm_start=True, reselect_every_days=reselect_days, refit_every_days=refit_days
        ),
    }
    for r, f in also:  # other cadences, to tell the effect of each part
        runs[f"re-selected every {r} d, refit every {f} d"] = auto.with_params(
            warm_start=True, reselect_every_days=r, refit_every_days=f
        )
    res: dict[str, pd.DataFrame] = {}
    hits: dict[str, np.ndarray] = {}
    for label, model in runs.items():
        res[label], risks = _run_days(model, events, windows)
        hits[label] = _hit_rates(risks, events, windows, grid)
    (base, base_res), (_, cad_res) = list(res.items())[:2]
    print(
        "\nday by day: wall/CPU s, chosen (* re-selected that day; model: end of the history "
        "of its last full fit)"
    )
    for i, day in enumerate(base_res["day"]):
        b_row, c_row = base_res.iloc[i], cad_res.iloc[i]
        print(
            f"  {day[:10]}  baseline {b_row.wall_s:6.2f}/{b_row.cpu_s:6.2f} {b_row.chosen:38s}"
            f"  cadence {c_row.wall_s:6.2f}/{c_row.cpu_s:6.2f} "
            f"{'*' if c_row.reselected else ' '}{c_row.chosen} (model {c_row.model_fitted_on[:10]})"
        )
    n = len(windows)
    print(
        f"\nmean seconds per day, wall / CPU (day 1 is the cold start of both: every "
        f"validation window scored; days 2-{n} are the steady state)"
    )
    for label, r in res.items():
        steady = r.iloc[1:]
        print(
            f"  {label:44s} all {n} days {r['wall_s'].mean():6.2f}/{r['cpu_s'].mean():6.2f}"
            f"   days 2-{n} {steady['wall_s'].mean():6.2f}/{steady['cpu_s'].mean():6.2f}"
        )
    steady = cad_res.iloc[1:]
    on = steady[steady["reselected"]]
    off = steady[~steady["reselected"]]
    if len(on) and len(off):
        print(
            f"  {'':44s} days 2-{n}: {len(on)} re-selection days "
            f"{on['wall_s'].mean():.2f}/{on['cpu_s'].mean():.2f} each, {len(off)} other days "
            f"{off['wall_s'].mean():.2f}/{off['cpu_s'].mean():.2f} each"
        )
    same = int((base_res["chosen"] == cad_res["chosen"]).sum())
    print(f"  same choice on {same} of {n} days")
    for label, r in res.items():  # a binding budget makes the choice depend on the load
        noted = r[r["notes"].str.contains("budget", na=False) & r["reselected"]]
        print(
            f"  {label}: budget notes on {len(noted)} of {int(r['reselected'].sum())} selections"
            + "".join(f"\n    {d[:10]}: {t}" for d, t in noted[["day", "notes"]].values)
        )
    print(f"\nhit rate at {', '.join(f'{100 * f:g} %' for f in CADENCE_FRACTIONS)} of the area")
    for label, h in hits.items():
        m = h.mean(axis=0)
        print(
            f"  {label:44s} "
            + "  ".join(f"{v:.3f}" for v in m)
            + f"   (mean {m.mean():.4f}, {n} days)"
        )
    for label in list(hits)[1:]:
        d = hits[label] - hits[base]
        se = d.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(d.shape[1], np.nan)
        print(
            f"  {label.replace('re-selected', 'minus baseline:'):44s} "
            + "  ".join(f"{v:+.3f}" for v in d.mean(axis=0))
            + "   (paired SE "
            + " ".join(f"{v:.3f}" for v in se)
            + ")"
        )
    for label in list(res)[2:]:
        r = res[label]
        same = int((base_res["chosen"] == r["chosen"]).sum())
        print(
            f"  {label}: days 2-{n} {r['cpu_s'].iloc[1:].mean():.2f} s CPU a day; same choice "
            f"as the baseline on {same} of {n} days"
        )


def _best_of(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    best_w = best_c = np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best_w = min(best_w, time.perf_counter() - t0)
        best_c = min(best_c, time.process_time() - c0)
    return best_w, best_c


def _kernels(grid: Grid, events: TrainingEvents, window: Window) -> None:
    from xunfang.analyse.forecast import _kernels as k

    train = events.between(window.start_day - LOOKBACK_DAYS, window.start_day)
    print(
        f"\nkernel sums on the whole-city grid ({len(train):,} events of the year before "
        f"{window.label}); best of 3, wall / CPU s"
    )
    for h in (75.0, 150.0, 300.0):
        fine = k.fine_image(grid, train.xy, np.ones(len(train)), 5)

        def quartic(d: np.ndarray, h: float = h) -> np.ndarray:
            u = (d / h) ** 2
            return np.where(u <= 1.0, (1.0 - u) ** 2, 0.0)

        old = _loop_centre_sum_2d(grid, fine, 5, h, quartic)
        new = k.centre_sum_2d(grid, fine, 5, h, quartic)
        err = float(np.abs(new - old).max() / max(np.abs(old).max(), 1e-300))
        ow, oc = _best_of(lambda: _loop_centre_sum_2d(grid, fine, 5, h, quartic))  # noqa: B023
        nw, nc = _best_of(lambda: k.centre_sum_2d(grid, fine, 5, h, quartic))  # noqa: B023
        print(
            f"  KDE quartic {h:3.0f} m: loop over taps (baseline) {ow:.3f}/{oc:.3f}, "
            f"now {nw:.3f}/{nc:.3f} ({ow / nw:.1f}x wall); largest relative difference "
            f"{err:.1e}"
        )
        ones = np.ones(len(train))
        pts = k.centre_sum_points(grid, train.xy, ones, 5, h, quartic)
        pw, pc = _best_of(
            lambda: _loop_centre_sum_points(grid, train.xy, ones, 5, h, quartic)  # noqa: B023
        )
        qw, qc = _best_of(
            lambda: k.centre_sum_points(grid, train.xy, ones, 5, h, quartic)  # noqa: B023
        )
        print(
            f"  {'':16s} from the points (fine image included): baseline {pw:.3f}/{pc:.3f}, "
            f"now {qw:.3f}/{qc:.3f} ({pw / qw:.1f}x wall); the same sums bit for bit: "
            f"{'yes' if np.array_equal(pts, old) else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--cache", type=Path, default=None, help="parquet cache of the ingest")
    parser.add_argument("--types", default="BURGLARY", help="types, ';'-separated ('' = all)")
    parser.add_argument("--start", default="2015-04-06")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--cell-m", type=float, default=150.0)
    parser.add_argument("--budget-s", type=float, default=120.0)
    parser.add_argument("--candidates", default=None, help="auto's candidates (default all)")
    parser.add_argument("--kernels", action="store_true", help="also time the kernel sums")
    parser.add_argument(
        "--also",
        type=lambda v: [x.strip() for x in v.split(",") if x.strip()],
        default=["stack", "gbm"],
        help="methods timed alone besides those auto chose (default stack,gbm)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="leave out auto without reuse")
    parser.add_argument(
        "--cadence",
        action="store_true",
        help="only daily re-selection (baseline) against the cadence, with hit rates",
    )
    parser.add_argument("--reselect-every-days", type=int, default=RESELECT_EVERY_DAYS)
    parser.add_argument("--refit-every-days", type=int, default=REFIT_EVERY_DAYS)
    parser.add_argument(
        "--cadence-also",
        type=lambda v: [tuple(int(x) for x in p.split("/")) for p in v.split(",") if p],
        default=[],
        help="more cadences RESELECT/REFIT, e.g. 7/1,1/7 (with --cadence)",
    )
    args = parser.parse_args()
    t_run = time.perf_counter()
    city = default_city(args.data_dir)
    tz = city.timezone or "America/Chicago"
    table = _load(args.data_dir, args.cache, city)
    grid, _ = study_grid(table, "city", args.cell_m, None, city=city)
    types = tuple(t for t in args.types.split(";") if t)
    sel = select_types(table, types)
    events = TrainingEvents.from_table(sel, grid)
    ctx = CellContext(place={}, missing=(), all_events=TrainingEvents.from_table(table, grid))
    windows = rolling_windows(args.start, args.days, "day", tz)
    print(
        f"whole city (22 police districts): grid {grid.nx} x {grid.ny}, {grid.n_active:,} "
        f"active cells of {args.cell_m:g} m; {', '.join(types) or 'all types'}: "
        f"{len(events):,} incidents; {args.days} days from {args.start}, "
        f"{LOOKBACK_DAYS:g} days of history each; load {os.getloadavg()[0]:.1f} (2 cores)"
    )
    if args.kernels:
        _kernels(grid, events, windows[0])
    cands = [c.strip() for c in args.candidates.split(",")] if args.candidates else None
    auto = AutoSelect(grid=grid, candidates=cands, budget_s=args.budget_s, context=ctx)
    if args.cadence:
        _cadence(
            auto,
            events,
            windows,
            grid,
            args.reselect_every_days,
            args.refit_every_days,
            args.cadence_also,
        )
        _footer(t_run)
        return
    print("\nseconds per day of fit + predict (mean wall, mean CPU)")
    results: dict[str, pd.DataFrame] = {}
    forecasts: dict[str, list[np.ndarray]] = {}
    daily = auto.with_params(warm_start=True, reselect_every_days=1, refit_every_days=1)
    runs: list[tuple[str, Forecaster, Callable[[], Any]]] = [
        ("auto, reuse, cold fits (before)", daily, cold_fits),
        ("auto, reuse", daily.with_params(), nullcontext),
    ]
    if not args.skip_baseline:
        runs.insert(
            0, ("auto, no reuse (baseline)", auto.with_params(warm_start=False), original_kernels)
        )
    for label, model, patched in runs:
        with patched():
            results[label], forecasts[label] = _run_days(model, events, windows)
        _print_days(label, results[label])
    reuse = results["auto, reuse"]
    for label in results:
        if label != "auto, reuse":
            _compare(
                f"{label} vs reuse",
                results[label],
                forecasts[label],
                reuse,
                forecasts["auto, reuse"],
            )
    print(
        "  chosen (reuse): "
        + ", ".join(f"{d[5:10]} {c}" for d, c in reuse[["day", "chosen"]].values)
    )
    for day, note in reuse[["day", "notes"]].values:
        if note:
            print(f"  note {day[:10]}: {note}")
    print(
        "\neach method chosen, alone (rolling refit, warm start where it has one); "
        "baseline: the loop versions patched in"
    )
    for spec in dict.fromkeys([*reuse["chosen"], *args.also]):
        alone = with_warm_start(make_forecaster(spec, grid, context=ctx))
        with original_kernels():
            old, old_risk = _run_days(alone, events, windows)
        alone = with_warm_start(make_forecaster(spec, grid, context=ctx))
        res, risk = _run_days(alone, events, windows)
        _print_days(f"{spec} (baseline)", old)
        _print_days(spec, res)
        diff = max(
            float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-300))
            for a, b in zip(old_risk, risk, strict=True)
        )
        print(f"  {'':44s} largest relative difference to the baseline: {diff:.1e}")
    _footer(t_run)


def _footer(t_run: float) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"\nrun {time.perf_counter() - t_run:.0f} s wall, {time.process_time():.0f} s CPU, "
        f"peak RSS {rss:,.0f} MiB, load {load} (1, 5, 15 min; 2 cores shared)"
    )


if __name__ == "__main__":
    main()
