"""How good is a hotspot forecast? The field's standard metrics and a rolling-origin
evaluation.

Metrics (pure functions of a risk surface and the observed counts per cell):

hit rate
    Share of the window's incidents that fall in the cells flagged as hotspots, the
    ``floor(f * N)`` highest-risk cells out of the ``N`` active cells for a coverage
    ``f`` (Bowers, Johnson & Pease 2004; open_cp ``evaluation.hit_rates``).
PAI
    Predictive accuracy index, hit rate divided by the share of the area flagged
    (Chainey, Tompson & Uhlig 2008, Security Journal 21: 4-28).
PEI
    Predictive efficiency index, incidents captured divided by the most that any
    ``floor(f * N)`` cells could have captured in that window (Hunt 2016; the NIJ Real-
    Time Crime Forecasting Challenge 2017: PEI = PAI / PAI*, PAI* the best possible PAI
    for the same area).

**Tie rule.** Cells whose risk equals the risk at the cut-off are chosen at random; the
metrics give the *expected value* over that choice, computed exactly: the cells above
the cut-off count fully, and the ``m`` tied cells contribute ``(k - a) / m`` of their
incidents when ``a`` cells lie above the cut-off and ``k`` are flagged.

The rolling-origin evaluation (Tashman 2000, "Out-of-sample tests of forecasting
accuracy", IJF 16: 437-450) trains on the incidents before each window (within a
look-back) and scores the forecast of that window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS
from scipy import stats as scipy_stats

from xunfang.analyse.forecast._base import (
    Forecaster,
    TrainingEvents,
    Window,
    parse_window_kind,
    rolling_windows,
    to_days,
)
from xunfang.analyse.forecast.groups import PerGroup
from xunfang.analyse.forecast.learned import CellContext, cell_context
from xunfang.analyse.forecast.registry import make_forecaster, needs_context, with_context
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.areas import StudyArea, load_study_area, read_boundaries
from xunfang.ingest.city import City
from xunfang.ingest.incidents import (
    IncidentTable,
    IngestReport,
    Profile,
    ingest,
    ingested_folder_table,
    ingested_inputs,
    read_incident_table,
    read_ingested_tables,
)
from xunfang.ingest.profiles import FrameName
from xunfang.ingest.taxonomy import type_mask, unknown_types_message

FRACTIONS = (0.01, 0.02, 0.05, 0.10, 0.20)
PAIRED_COLUMNS = (
    "method",
    "baseline",
    "fraction",
    "windows",
    "windows_differ",
    "events_per_window",
    "mean_diff",
    "ci_lo",
    "ci_hi",
    "t_p",
    "wilcoxon_p",
    "noise_se",
    "few_incidents",
    "verdict",
)
"""The columns of :func:`paired_tests` (``paired.csv``), also of an empty table: a run of
the baseline alone (``--methods naive``) or with none has no pair to test."""
TOO_FEW_WINDOWS = (
    "too few windows that differ to test: {differ} of {windows} windows differ "
    "(needs ≥ {n} for p < {alpha:g})"
)
"""The paired tests' verdict when the Wilcoxon test cannot reach ``alpha`` with so few
windows in which the two hit rates differ (the test drops the tied ones;
:func:`wilcoxon_min_windows`), filled in with the windows that differ, the windows
paired, that number and ``alpha``. A tester read "too few windows (needs 6)" beside
``windows`` = 14 in ``paired.csv``: 9 of the 14 were ties."""


def wilcoxon_min_windows(alpha: float = 0.05) -> int:
    """Fewest non-zero paired differences with which the two-sided Wilcoxon signed-rank
    test can give ``p < alpha``.

    With ``n`` differences all of one sign the exact two-sided p-value is its smallest,
    ``2 / 2**n`` (Wilcoxon 1945): 0.125 for 4 windows, 0.0625 for 5, 0.03125 for 6, so
    below 6 windows "no significant difference" at 0.05 says nothing about the methods.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1].
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    n = 1
    while 2.0 / 2**n >= alpha:
        n += 1
    return n


"""Coverage levels: shares of the study area's cells flagged as hotspots."""


# --------------------------------------------------------------------------- metrics
def coverage_cells(n_active: int, fraction: float) -> int:
    """Cells flagged at a coverage: ``floor(fraction * n_active)`` (as open_cp).

    Raises
    ------
    ValidationError
        If ``fraction`` is not in (0, 1] or ``n_active < 1``.
    """
    if not 0 < fraction <= 1:
        raise ValidationError(f"coverage fraction must be in (0, 1], got {fraction}")
    if n_active < 1:
        raise ValidationError("the grid has no active cell: the study area has zero area")
    return int(np.floor(fraction * n_active + 1e-9))


class CaptureRates:
    """Hit rate and PEI from ``hits``, ``best_hits`` and ``total``: shared by the grid's
    :class:`HitCounts` and the street segments' captures."""

    hits: np.ndarray
    best_hits: np.ndarray
    total: int

    @property
    def hit_rate(self) -> np.ndarray:
        """(m,) share of incidents captured; NaN when the window has no incident."""
        if self.total == 0:
            return np.full(len(self.hits), np.nan)
        return self.hits / self.total

    @property
    def pei(self) -> np.ndarray:
        """(m,) predictive efficiency index: hits / best possible hits (NaN if none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.best_hits > 0, self.hits / self.best_hits, np.nan)


@dataclass(frozen=True)
class HitCounts(CaptureRates):
    """Expected captures of one forecast at several coverages.

    Attributes
    ----------
    fractions
        (m,) coverage levels.
    k_cells
        (m,) cells flagged at each level.
    hits
        (m,) expected incidents captured (random tie-breaking at the cut-off).
    best_hits
        (m,) most incidents any ``k`` cells could capture (for PEI).
    total
        Incidents of the window inside the active cells.
    n_active
        Active cells.
    """

    fractions: np.ndarray
    k_cells: np.ndarray
    hits: np.ndarray
    best_hits: np.ndarray
    total: int
    n_active: int

    @property
    def area_share(self) -> np.ndarray:
        """(m,) share of the active cells flagged."""
        return self.k_cells / self.n_active

    @property
    def pai(self) -> np.ndarray:
        """(m,) predictive accuracy index: hit rate / area share (NaN for 0 cells)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.k_cells > 0, self.hit_rate / self.area_share, np.nan)


def hit_counts(
    risk: np.ndarray,
    counts: np.ndarray,
    fractions: Sequence[float] = FRACTIONS,
    *,
    mask: np.ndarray | None = None,
) -> HitCounts:
    """Expected incidents captured by the top cells of ``risk`` at each coverage.

    Parameters
    ----------
    risk
        (n_cells,) forecast risk (any scale; only the order and ties matter).
    counts
        (n_cells,) observed incidents per cell in the window.
    fractions
        Coverage levels in (0, 1].
    mask
        (n_cells,) bool active cells (the study area); default all.

    Raises
    ------
    ValidationError
        For mismatched shapes, NaN risk, negative counts, or no active cell.
    """
    r = np.asarray(risk, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    if r.shape != c.shape or r.ndim != 1:
        raise ValidationError(f"risk {r.shape} and counts {c.shape} must be equal 1-d shapes")
    m = np.ones(len(r), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != r.shape:
        raise ValidationError(f"mask {m.shape} does not match risk {r.shape}")
    r, c = r[m], c[m]
    if np.isnan(r).any():
        raise ValidationError("risk has NaN values in active cells")
    if (c < 0).any():
        raise ValidationError("counts must be >= 0")
    n = len(r)
    k = np.array([coverage_cells(n, f) for f in fractions], dtype=np.int64)
    order = np.argsort(-r, kind="stable")
    neg = -r[order]
    cum = np.concatenate([[0.0], np.cumsum(c[order])])
    best = np.concatenate([[0.0], np.cumsum(np.sort(c)[::-1])])
    kk = np.maximum(k, 1)
    cut = neg[kk - 1]
    lo = np.searchsorted(neg, cut, side="left")
    hi = np.searchsorted(neg, cut, side="right")
    hits = cum[lo] + (kk - lo) / (hi - lo) * (cum[hi] - cum[lo])
    hits = np.where(k > 0, hits, 0.0)
    return HitCounts(
        fractions=np.asarray(fractions, dtype=np.float64),
        k_cells=k,
        hits=hits,
        best_hits=best[k],
        total=round(float(c.sum())),
        n_active=n,
    )


def hit_rate(
    risk: np.ndarray, counts: np.ndarray, fraction: float, *, mask: np.ndarray | None = None
) -> float:
    """Expected hit rate at one coverage (see :func:`hit_counts`); NaN with no incident."""
    return float(hit_counts(risk, counts, (fraction,), mask=mask).hit_rate[0])


def pai(
    risk: np.ndarray, counts: np.ndarray, fraction: float, *, mask: np.ndarray | None = None
) -> float:
    """Predictive accuracy index at one coverage (see :func:`hit_counts`)."""
    return float(hit_counts(risk, counts, (fraction,), mask=mask).pai[0])


def pei(
    risk: np.ndarray, counts: np.ndarray, fraction: float, *, mask: np.ndarray | None = None
) -> float:
    """Predictive efficiency index at one coverage (see :func:`hit_counts`)."""
    return float(hit_counts(risk, counts, (fraction,), mask=mask).pei[0])


# --------------------------------------------------------------------------- test events
@dataclass(frozen=True)
class ScoringEvents:
    """Incidents to score forecasts against, as arrays on one grid.

    Attributes
    ----------
    t_day
        (n,) days since the epoch, sorted.
    cell
        (n,) cell, -1 outside the grid's active cells.
    date_only
        (n,) bool: time known only to the day (not scored in sub-day windows).
    """

    t_day: np.ndarray
    cell: np.ndarray
    date_only: np.ndarray

    @classmethod
    def from_table(cls, table: IncidentTable, grid: Grid) -> ScoringEvents:
        """Convert a table (projected like ``grid``)."""
        t = to_days(table.frame["occurred_at"])
        cell = grid.cell_of(table.xy)
        ok = cell >= 0
        ok[ok] = grid.mask[cell[ok]]
        cell = np.where(ok, cell, -1)
        if "time_precision" in table.frame.columns:
            date_only = (table.frame["time_precision"] == "day").to_numpy(dtype=bool)
        else:
            date_only = np.zeros(len(t), dtype=bool)
        order = np.argsort(t, kind="stable")
        return cls(t[order], cell[order], date_only[order])

    def in_window(self, window: Window, timezone: str) -> tuple[np.ndarray, int, int]:
        """Cells of the window's incidents inside the area, plus the numbers left out:
        (cells, n_outside_area, n_date_only).

        Incidents known only to the day count in windows that start at local midnight
        and last whole days; in other windows they are left out and counted: those
        stored (at their day's local midnight) in the window, or, for a window inside one
        day (08-16), those of its day (an 08-16 window counted none of them), so that each
        is counted once over windows a day apart.
        """
        lo, hi = np.searchsorted(self.t_day, [window.start_day, window.end_day], side="left")
        cell = self.cell[lo:hi]
        date_only = self.date_only[lo:hi]
        n_date_only = 0
        if not whole_days(window, timezone):
            n_date_only = int(date_only.sum())
            day0 = window.start.tz_convert(timezone).normalize()
            if window.end.tz_convert(timezone) <= day0 + pd.DateOffset(days=1):  # one day
                a, b = np.searchsorted(
                    self.t_day, [float(to_days(day0)), window.start_day], side="left"
                )
                n_date_only += int(self.date_only[a:b].sum())
            cell = cell[~date_only]
        outside = cell < 0
        return cell[~outside], int(outside.sum()), n_date_only


# --------------------------------------------------------------------------- rolling origin
def whole_days(window: Window, timezone: str) -> bool:
    """Whether ``window`` starts at local midnight and lasts whole days (an incident
    known only to its day falls in it or not; in any other window it cannot be placed)."""
    local = window.start.tz_convert(timezone)
    return bool(
        local == local.normalize()
        and abs(window.length_days - round(window.length_days)) < 1e-6
        and window.length_days >= 1 - 1e-6
    )


def check_timed(table: IncidentTable, window: Window, kind: str) -> None:
    """Refuse a window of some hours of the day (``kind``: ``night``, ``08-16``) over
    incidents that are all known only to the day (``time_precision`` ``day``, as the
    Portland calls for service): nothing says which of them fell in those hours, so a
    forecast would be a share of the day's count and an evaluation would score nothing.

    Raises
    ------
    ValidationError
        Naming the incidents and the windows that can be used.
    """
    f = table.frame
    if whole_days(window, table.timezone) or len(f) == 0 or "time_precision" not in f:
        return
    if (f["time_precision"] == "day").all():
        raise ValidationError(
            f"all {len(f):,} incidents are known only to the day (no time of day): --window "
            f"{kind}, some hours of the day, cannot be forecast or scored from them; use "
            "--window day or week"
        )


@dataclass(frozen=True)
class Evaluation:
    """Result of a rolling-origin evaluation.

    Attributes
    ----------
    rows
        One row per method x grid offset x window x coverage: ``method, offset_m,
        window, start, end, fraction, k_cells, n_events, hits, best_hits, hit_rate,
        pai, pei, fit_s, predict_s, n_train``.
    n_outside
        Test incidents outside the study area (not scored), per grid offset.
    n_date_only
        Test incidents without a time of day left out of sub-day windows.
    settings
        What was run (for the report).
    """

    rows: pd.DataFrame
    n_outside: dict[float, int]
    n_date_only: int
    settings: dict[str, Any] = field(default_factory=dict)
    selections: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per automatic method (``auto``), offset, test window and candidate: the
    validation scores and the choice (:class:`xunfang.analyse.forecast.select.Selection`
    rows, with ``method, offset_m, test_window, reason`` added)."""
    validation_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The scores behind :attr:`selections`, one row per candidate and validation
    window (``Selection.scores`` with ``method, offset_m, test_window`` added)."""
    not_evaluated: dict[str, str] = field(default_factory=dict)
    """Methods left out of the evaluation, by label, with the reason (their fit failed
    in every window, e.g. ``auto`` without a validation window; the other methods are
    scored)."""
    windows_left_out: dict[str, dict[str, str]] = field(default_factory=dict)
    """Methods scored on only some of the test windows, by label: the windows they could
    not forecast (window label -> the reason, e.g. ``auto`` before the history holds a
    validation window), in test-window order. Such a method's means are over its own
    windows; the paired tests compare it with the baseline on the windows both scored."""

    def summary(self) -> pd.DataFrame:
        """Mean, spread and interval over windows per method, offset and coverage.

        Columns: ``method, offset_m, fraction, windows, hit_rate_mean, hit_rate_q25,
        hit_rate_q75, hit_rate_sd, hit_rate_ci_lo, hit_rate_ci_hi, pai_mean, pai_q25,
        pai_q75, pei_mean, pei_q25, pei_q75, seconds_per_window`` (mean fit + predict
        time). ``hit_rate_sd`` is the standard deviation over windows and ``ci`` the 95 %
        Student-t interval of the mean hit rate. Windows without incidents are left out
        (``windows`` counts those scored). Methods in the order they were given.
        """
        return self._in_method_order(summarise(self.rows))

    def _in_method_order(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with its rows by method in the order the methods were given
        (``settings["methods"]``; a method that skipped the first windows would come
        last by first appearance), keeping the order within a method."""
        given = list(self.settings.get("methods", {}))
        if not given or "method" not in table:
            return table
        rank = table["method"].map({m: i for i, m in enumerate(given)}).fillna(len(given))
        return table.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)

    def paired(self, baseline: str | None = None) -> pd.DataFrame:
        """Paired tests of each method against ``baseline`` (default: the first
        ``naive`` method of the run) on the unshifted grid (:func:`paired_tests`);
        empty when the run has no such baseline."""
        methods = list(dict.fromkeys(self.rows["method"])) if len(self.rows) else []
        base = baseline or next((m for m in methods if is_naive(m)), None)
        if base is None or base not in methods:
            return pd.DataFrame(columns=list(PAIRED_COLUMNS))
        sub = self.rows[self.rows["offset_m"] == self.rows["offset_m"].min()]
        return self._in_method_order(paired_tests(sub, base))


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """See :meth:`Evaluation.summary`."""
    out = []
    keys = ["method", "offset_m", "fraction"]
    for key, grp in rows.groupby(keys, sort=False):
        rec: dict[str, Any] = dict(zip(keys, key, strict=True))
        scored = grp[grp["n_events"] > 0]
        rec["windows"] = len(scored)
        for metric in ("hit_rate", "pai", "pei"):
            v = scored[metric].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            rec[f"{metric}_mean"] = float(v.mean()) if len(v) else np.nan
            rec[f"{metric}_q25"] = float(np.percentile(v, 25)) if len(v) else np.nan
            rec[f"{metric}_q75"] = float(np.percentile(v, 75)) if len(v) else np.nan
            if metric == "hit_rate":
                _m, sd, lo, hi = mean_interval(v)
                rec.update(hit_rate_sd=sd, hit_rate_ci_lo=lo, hit_rate_ci_hi=hi)
        rec["seconds_per_window"] = float((grp["fit_s"] + grp["predict_s"]).mean())
        out.append(rec)
    return pd.DataFrame(out)


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """Mean, standard deviation (``ddof=1``) and the Student-t interval of the mean of
    ``values`` (windows as independent draws): ``mean -+ t_{(1+level)/2, n-1} sd / sqrt(n)``.

    NaN values are left out; with fewer than two values the spread and interval are NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan, np.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, np.nan, np.nan, np.nan
    sd = float(v.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, len(v) - 1)) * sd / np.sqrt(len(v))
    return mean, sd, mean - half, mean + half


def paired_tests(
    rows: pd.DataFrame, baseline: str, *, alpha: float = 0.05, relative_effect: float = 0.10
) -> pd.DataFrame:
    """Each method against ``baseline`` over the same windows, per coverage.

    For the per-window differences ``d = hit rate(method) - hit rate(baseline)`` (windows
    with incidents): the mean, its 95 % t interval, the paired t-test
    (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test
    (``scipy.stats.wilcoxon``, zero differences dropped, Wilcoxon 1945), two-sided.

    ``noise_se`` is the standard error of the mean difference that the counts alone
    produce: with ``n_w`` incidents in window ``w`` each hit rate is a share of ``n_w``,
    of binomial variance ``p (1 - p) / n_w``, so
    ``noise_se = sqrt(sum_w (p_a,w (1 - p_a,w) + p_b,w (1 - p_b,w)) / n_w) / W``
    (the two methods taken as independent: an upper bound). ``few_incidents`` flags
    windows that hold too few incidents to tell the methods apart: twice that noise
    exceeds ``relative_effect`` (10 %) of the baseline's mean hit rate, so a difference of
    that size could be noise alone. Methods with equal hit rates in every window (e.g.
    ``auto`` chose the baseline each time) get the verdict ``the same in every window``.
    With fewer non-zero differences (windows whose hit rates differ, ``windows_differ``)
    than :func:`wilcoxon_min_windows` (6 at 0.05) the Wilcoxon test cannot reach
    ``alpha`` whatever the hit rates, so the verdict is :data:`TOO_FEW_WINDOWS` (``too few
    windows that differ to test: 5 of 14 windows differ (needs ≥ 6 for p < 0.05)``), not
    "no significant difference".

    Parameters
    ----------
    rows
        Per-window rows (:attr:`Evaluation.rows` of one grid offset): ``method, window,
        fraction, n_events, hit_rate``.
    baseline
        The method label compared against (e.g. ``naive:period_days=365``).
    alpha
        Level of the tests for the ``verdict`` column.
    relative_effect
        Smallest difference of interest, as a share of the baseline's mean hit rate.

    Returns
    -------
    pandas.DataFrame
        ``method, baseline, fraction, windows, windows_differ, events_per_window,
        mean_diff, ci_lo, ci_hi, t_p, wilcoxon_p, noise_se, few_incidents, verdict``
        (no row for the baseline itself): ``windows`` paired (with incidents),
        ``windows_differ`` of them with different hit rates.
    """
    out = []
    base = rows[rows["method"] == baseline]
    for (method, frac), grp in rows.groupby(["method", "fraction"], sort=False):
        if method == baseline:
            continue
        b = base[np.isclose(base["fraction"], frac)].set_index("window")
        a = grp.set_index("window")
        common = [w for w in a.index if w in b.index and a.loc[w, "n_events"] > 0]
        pa = a.loc[common, "hit_rate"].to_numpy(dtype=np.float64)
        pb = b.loc[common, "hit_rate"].to_numpy(dtype=np.float64)
        n = a.loc[common, "n_events"].to_numpy(dtype=np.float64)
        d = pa - pb
        mean, _sd, lo, hi = mean_interval(d)
        t_p = w_p = np.nan
        if len(d) >= 2 and np.any(d != 0):
            t_p = float(scipy_stats.ttest_rel(pa, pb).pvalue)
            w_p = float(scipy_stats.wilcoxon(pa, pb, zero_method="wilcox").pvalue)
        elif len(d) >= 2:
            t_p = w_p = 1.0
        noise = (
            float(np.sqrt(np.sum((pa * (1 - pa) + pb * (1 - pb)) / n)) / len(d))
            if len(d)
            else np.nan
        )
        same = bool(len(d) > 0 and np.all(d == 0))
        differ = int(np.count_nonzero(d))
        testable = differ >= wilcoxon_min_windows(alpha)
        few = bool(len(d) == 0 or (2 * noise > relative_effect * pb.mean() and not same))
        significant = bool(np.isfinite(w_p) and w_p < alpha and np.isfinite(t_p) and t_p < alpha)
        if same:
            verdict = "the same in every window"
        elif not testable:
            verdict = TOO_FEW_WINDOWS.format(
                differ=differ, windows=len(d), n=wilcoxon_min_windows(alpha), alpha=alpha
            )
        elif significant:
            verdict = "better" if mean > 0 else "worse"
        elif few:
            verdict = "too few incidents to tell apart"
        else:
            verdict = "no significant difference"
        out.append(
            {
                "method": method,
                "baseline": baseline,
                "fraction": float(frac),
                "windows": len(d),
                "windows_differ": differ,
                "events_per_window": float(n.mean()) if len(n) else np.nan,
                "mean_diff": mean,
                "ci_lo": lo,
                "ci_hi": hi,
                "t_p": t_p,
                "wilcoxon_p": w_p,
                "noise_se": noise,
                "few_incidents": few,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(out, columns=list(PAIRED_COLUMNS))


def rolling_origin(
    table: IncidentTable,
    grids: Mapping[float, Grid] | Grid,
    forecasters: Mapping[str, Forecaster],
    windows: Sequence[Window],
    *,
    lookback_days: float | None = 365.0,
    fractions: Sequence[float] = FRACTIONS,
    progress: Callable[[str], None] | None = None,
    contexts: Mapping[float, CellContext] | None = None,
) -> Evaluation:
    """Train on what precedes each window, forecast it, score it.

    Parameters
    ----------
    table
        All incidents (training and test), projected like the grids.
    grids
        One grid, or grids by offset in metres (e.g. ``{0.0: g, 75.0: shifted}``) for
        the grid-offset sensitivity; every forecaster is rebuilt on each grid.
    forecasters
        By label; their own grid is replaced by each of ``grids``.
    windows
        Test windows, in any order. For each, training uses incidents in
        ``[start - lookback_days, start)``.
    lookback_days
        Training look-back, days; ``None`` uses everything before the window.
    fractions
        Coverage levels.
    progress
        Called with a short message before each window.
    contexts
        Type mix and place features by grid offset (each on its own grid), given to the
        forecasters that take one (:func:`~xunfang.analyse.forecast.registry.with_context`).

    A method whose fit fails in a window with a :class:`ValidationError` (``auto`` with
    no validation window before a test window: too little history) is not scored on that
    window and named with the reason in ``Evaluation.windows_left_out``; it is still
    scored on the windows it can forecast (``auto`` on the later windows, once the history
    holds validation windows). A method that fails in every window is left out of the
    evaluation and named in ``Evaluation.not_evaluated`` with the last window's reason
    (the nearest to enough history); the first window's error passes through when no
    method forecast any window.

    Raises
    ------
    ValidationError
        If there are no windows or forecasters, or a window has no training data
        (e.g. it starts before the data), or the fit of every method fails.
    """
    if not windows:
        raise ValidationError("no test windows: give --windows >= 1")
    if not forecasters:
        raise ValidationError("no forecast methods given")
    grid_map = {0.0: grids} if isinstance(grids, Grid) else dict(grids)
    if lookback_days is not None and not lookback_days > 0:
        raise ValidationError(f"--lookback-days must be positive, got {lookback_days}")
    t_all = to_days(table.frame["occurred_at"])
    first_t = float(t_all.min()) if len(t_all) else np.inf
    tz = table.timezone
    for w in windows:
        if w.start_day <= first_t:  # no incident before it: nothing to train on
            raise ValidationError(
                f"a test window starts at {w.start.tz_convert(tz):%Y-%m-%d %H:%M}, with no "
                f"incident before it (first incident {table.local_time().min():%Y-%m-%d %H:%M}"
                ", local time): choose a later --start"
            )
    rows: list[dict[str, Any]] = []
    chosen: list[pd.DataFrame] = []
    scores: list[pd.DataFrame] = []
    n_outside: dict[float, int] = {}
    n_date_only = 0
    failed: dict[str, dict[str, str]] = {}  # label -> window label -> reason
    for offset, grid in grid_map.items():
        events = TrainingEvents.from_table(table, grid)
        tests = ScoringEvents.from_table(table, grid)
        ctx = (contexts or {}).get(offset)
        models = {
            label: with_context(f.with_params(grid=grid), ctx) for label, f in forecasters.items()
        }
        n_out = 0
        for w in windows:
            if progress is not None:
                progress(f"offset {offset:g} m, window {w.label}")
            lo = events.start_day if lookback_days is None else w.start_day - lookback_days
            train = events.between(max(lo, events.start_day), w.start_day)
            cells, out_w, date_w = tests.in_window(w, table.timezone)
            n_out += out_w
            if offset == next(iter(grid_map)):
                n_date_only += date_w
            counts = np.bincount(cells, minlength=grid.n_cells)
            for label, model in models.items():
                t0 = time.perf_counter()
                try:  # auto chooses (and may find no validation window) in predict
                    model.fit_events(train)
                    t1 = time.perf_counter()
                    fc = model.predict(w)
                except ValidationError as exc:
                    failed.setdefault(label, {}).setdefault(w.label, str(exc))
                    continue
                t2 = time.perf_counter()
                hc = hit_counts(fc.risk, counts, fractions, mask=grid.mask)
                sel = getattr(model, "selection_", None)
                if sel is not None:  # an automatic method: what it chose and why
                    where = {"method": label, "offset_m": float(offset), "test_window": w.label}
                    by_group = getattr(sel, "by_group", None)  # one reason per group's rows
                    reasons = {}
                    for lang in ("en", "zh"):  # the report shows the reader's language
                        reasons[lang] = (
                            sel.table["group"].map({g: s.reason(lang) for g, s in by_group.items()})
                            if by_group and "group" in sel.table
                            else sel.reason(lang)
                        )
                    when = _choice_times(sel)
                    chosen.append(
                        sel.table.assign(
                            **where, reason=reasons["en"], reason_zh=reasons["zh"], **when
                        )
                    )
                    fresh = _fresh_scores(sel)  # a kept choice scored nothing anew
                    if len(fresh):
                        scores.append(fresh.assign(**where))
                for i, frac in enumerate(hc.fractions):
                    rows.append(
                        {
                            "method": label,
                            "offset_m": float(offset),
                            "window": w.label,
                            "start": w.start,
                            "end": w.end,
                            "fraction": float(frac),
                            "k_cells": int(hc.k_cells[i]),
                            "n_events": hc.total,
                            "hits": float(hc.hits[i]),
                            "best_hits": float(hc.best_hits[i]),
                            "hit_rate": float(hc.hit_rate[i]),
                            "pai": float(hc.pai[i]),
                            "pei": float(hc.pei[i]),
                            "fit_s": t1 - t0,
                            "predict_s": t2 - t1,
                            "n_train": len(train),
                            "chosen": sel.chosen if sel is not None else "",
                        }
                    )
        n_outside[float(offset)] = n_out
    scored = {r["method"] for r in rows}
    if not scored and failed:  # no method forecast any window: the first one's error
        raise ValidationError(next(iter(next(iter(failed.values())).values())))
    order = {w.label: i for i, w in enumerate(sorted(windows, key=lambda w: w.start_day))}
    failed = {
        label: dict(sorted(bad.items(), key=lambda kv: order.get(kv[0], 0)))
        for label, bad in failed.items()
    }
    # the last window's reason: the one nearest to having enough history
    not_evaluated = {
        label: list(bad.values())[-1] for label, bad in failed.items() if label not in scored
    }
    windows_left_out = {label: bad for label, bad in failed.items() if label in scored}
    return Evaluation(
        rows=pd.DataFrame(rows),
        n_outside=n_outside,
        n_date_only=n_date_only,
        settings={
            "lookback_days": lookback_days,
            "fractions": list(fractions),
            "windows": [w.label for w in windows],
            "methods": {label: f.describe() for label, f in forecasters.items()},
            "offsets_m": list(grid_map),
        },
        selections=pd.concat(chosen, ignore_index=True) if chosen else pd.DataFrame(),
        validation_scores=pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(),
        not_evaluated=not_evaluated,
        windows_left_out=windows_left_out,
    )


def _choice_times(sel: Any) -> dict[str, Any]:
    """``selected_for`` (the window whose selection made the choice) and
    ``model_fitted_on`` (end of the chosen forecaster's last full fit) of a selection,
    per row of its table: one value, or a column by group for
    :class:`~xunfang.analyse.forecast.groups.GroupSelections`."""
    by_group = getattr(sel, "by_group", None)
    out: dict[str, Any] = {}
    for name in ("selected_for", "model_fitted_on"):
        if by_group and "group" in sel.table:
            out[name] = sel.table["group"].map({g: getattr(s, name) for g, s in by_group.items()})
        else:
            out[name] = getattr(sel, name, "")
    return out


def _fresh_scores(sel: Any) -> pd.DataFrame:
    """The validation scores of a selection that ran for its window (those of a choice
    kept from an earlier window were written with that window)."""
    by_group = getattr(sel, "by_group", None)
    if by_group:
        ran = [g for g, s in by_group.items() if s.reselected]
        scores = sel.scores
        return scores[scores["group"].isin(ran)] if len(scores) else scores
    return sel.scores if getattr(sel, "reselected", True) else pd.DataFrame()


# --------------------------------------------------------------------------- whole runs
@dataclass(frozen=True)
class EvaluationSpec:
    """Everything ``xunfang forecast evaluate`` needs.

    Attributes
    ----------
    incident_files
        Incident CSV files (read with ``profile``) or one ingested ``.parquet``.
    profile
        Ingest profile (e.g. ``cn110``, ``portland``) or a mapping; ``None`` takes the
        profile of ``city``.
    crs
        Projected analysis CRS; default the study area's UTM zone, else the data's.
    types
        Type filter: values matching a ``type_group`` (e.g. ``property``) select that
        group, others match the ``type`` column case-insensitively (e.g. ``BURGLARY``).
        Empty: all types. With several values the incidents of all are scored together,
        and ``auto`` chooses for each value on its own incidents (the forecast is the
        sum of the groups'; :class:`~xunfang.analyse.forecast.groups.PerGroup`).
    area
        ``None``: the bounding rectangle of all geolocated incidents of the input
        (before the type filter); ``city``: the union of the police districts; else a
        study-area name for :func:`xunfang.ingest.areas.load_study_area`.
    boundary_dir
        Folder of the boundary files (needed when ``area`` is given).
    cell_m
        Grid cell side, metres.
    window
        ``day``, ``night`` (22:00-06:00), ``week`` or ``HH-HH`` (local time).
    start
        Local date of the first test window (``YYYY-MM-DD``); default: the last
        ``windows`` windows that fit in the data.
    windows
        Number of test windows.
    lookback_days
        Training look-back, days (``None`` = everything before the window).
    methods
        Method specs (:func:`xunfang.analyse.forecast.make_forecaster`).
    fractions
        Coverage levels.
    offset_sensitivity
        Also run with the grid shifted by half a cell in x and y.
    seed
        Seed passed to every forecaster.
    """

    incident_files: tuple[Path, ...]
    profile: str | Profile | None = None
    crs: str | None = None
    types: tuple[str, ...] = ()
    area: str | None = None
    boundary_dir: Path | None = None
    city: City | None = None
    """Where ``area`` is looked up (replaces ``boundary_dir``)."""
    frame: FrameName | None = None
    """Frame of the incidents' lon/lat columns (``None``: the profile's; see
    :meth:`xunfang.ingest.city.City.incident_frame`)."""
    cell_m: float = 150.0
    window: str = "day"
    start: str | None = None
    windows: int = 7
    lookback_days: float | None = 365.0
    methods: tuple[str, ...] = ("naive", "kde", "prospective", "sepp")
    fractions: tuple[float, ...] = FRACTIONS
    offset_sensitivity: bool = True
    seed: int = 0
    place: bool | None = None
    """Build the place layers of ``gbm``'s context (``None``: yes, unless ``area`` is
    ``city``, whose road network takes minutes)."""


@dataclass(frozen=True)
class EvaluationRun:
    """A finished evaluation with its context.

    Attributes
    ----------
    spec
        What was asked.
    evaluation
        The rolling-origin result.
    grid
        The unshifted grid.
    area_name
        ``bounding rectangle`` or the study-area name.
    area_km2
        Area of the active cells, km².
    n_input
        Incidents read (after ingest).
    n_selected
        Incidents kept by the type filter.
    n_in_area
        Of those, the incidents inside the area's cells (those a hit rate can count;
        ``-1`` when not known).
    ingest_report
        The ingest report (``None`` for a parquet input).
    data_span
        (first, last) incident time of the input, local.
    seconds
        Wall time of the run.
    """

    spec: EvaluationSpec
    evaluation: Evaluation
    grid: Grid
    area_name: str
    area_km2: float
    n_input: int
    n_selected: int
    ingest_report: IngestReport | None
    data_span: tuple[pd.Timestamp, pd.Timestamp]
    seconds: float
    context_note: str = ""
    """What ``gbm``'s context held (type mix, place layers, layers left out), or ``""``."""
    n_in_area: int = -1


def load_incidents(
    files: Sequence[Path],
    profile: str | Profile | None,
    crs: str | None,
    frame: FrameName | None = None,
) -> tuple[IncidentTable, IngestReport | None]:
    """Read incident files projected to ``crs``, lon/lat columns in ``frame`` (default the
    profile's); ingested tables (``xunfang ingest`` folders or their ``.parquet``) are read
    back as written, with no profile (:func:`xunfang.ingest.incidents.read_ingested_tables`).

    Raises
    ------
    ValidationError
        If no files are given, or raw files come with no ``profile``.
    """
    paths = [Path(p) for p in files]
    if not paths:
        raise ValidationError("no incident files given: pass --incidents FILE [FILE ...]")
    if ingested_inputs(paths):
        if crs is None:  # the first table's own CRS
            first = ingested_folder_table(paths[0]) or paths[0]
            crs = read_incident_table(first).crs.to_string()
        table = read_ingested_tables(paths, crs)
        assert table is not None  # ingested_inputs said so
        return table, None
    if profile is None:
        raise ValidationError("no ingest profile: give --profile, --mapping or a city file")
    table, _rejected, report = ingest(paths, profile, crs=crs, frame=frame)
    return table, report


def _n_in_area(table: IncidentTable, grid: Grid) -> int:
    """Incidents of ``table`` in an active cell of ``grid``."""
    return int(grid.in_area(table.xy).sum())


def select_types(table: IncidentTable, types: Sequence[str]) -> IncidentTable:
    """Keep the incidents of the given type groups, types or subtypes (see
    :attr:`EvaluationSpec.types` and :func:`xunfang.ingest.taxonomy.type_mask`).

    Raises
    ------
    ValidationError
        If a value matches no type group, type or subtype of the data (naming them).
    """
    if not types:
        return table
    f = table.frame
    keep, unknown = type_mask(f, list(types))
    if unknown:
        raise ValidationError(unknown_types_message(f, unknown))
    return table.subset(keep)


def study_grid(
    table: IncidentTable,
    area: str | None,
    cell_m: float,
    boundary_dir: Path | None,
    *,
    offset_m: float = 0.0,
    city: City | None = None,
) -> tuple[Grid, str]:
    """The evaluation grid: the bounding rectangle of all incidents (``area=None``), the
    city (``city``: all police districts) or a named study area.

    Raises
    ------
    ValidationError
        If an area is named without a boundary folder, or the input is empty.
    """
    if len(table) == 0:
        raise ValidationError("no incidents in the input: nothing to evaluate")
    off = (offset_m, offset_m)
    if area is None:
        xy = table.xy
        bounds = (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())
        check_grid_size(bounds, cell_m)
        return Grid.from_bounds(bounds, cell_m, table.crs, offset_m=off), "bounding rectangle"
    if city is not None:
        sa = _city_area(city, area, table.crs)
        check_grid_size(sa.polygon.bounds, cell_m)
        return Grid.from_polygon(sa.polygon, cell_m, table.crs, offset_m=off), area
    if boundary_dir is None:
        raise ValidationError(f"--area {area} needs the boundary files: set --data-dir")
    name = area
    if area.strip().lower() == "city":
        districts = read_boundaries(boundary_dir, "district")
        name = "district:" + ",".join(districts["name"].astype(str))
    sa = load_study_area(boundary_dir, name, crs=table.crs)
    check_grid_size(sa.polygon.bounds, cell_m)
    return Grid.from_polygon(sa.polygon, cell_m, table.crs, offset_m=off), area


def check_cell_m(cell_m: float) -> None:
    """Refuse a ``--cell-m`` that is not a positive finite number of metres.

    Raises
    ------
    ValidationError
        Naming the value.
    """
    if not (cell_m > 0 and math.isfinite(cell_m)):
        raise ValidationError(f"--cell-m must be positive, got {cell_m}")


MAX_GRID_CELLS = 1_000_000
"""Most cells (of the study area's bounding rectangle) a forecast grid may have: the
example city's has 64,349 at 150 m and 580,000 at 50 m. Memory grows by about 4 kB a cell
(a new-user test: 1 million cells of 3 m over one police district took 4 GB and 60 s;
5 million over a 1,124 km² rectangle passed 14 GB; 45 million ran ten minutes without a
word)."""


def check_grid_size(bounds: tuple[float, float, float, float], cell_m: float) -> None:
    """Refuse a grid over ``bounds`` (metres, the analysis CRS; of the study area, or
    the rectangle around the incidents) whose cells of ``cell_m`` would number more than
    :data:`MAX_GRID_CELLS`.

    Raises
    ------
    ValidationError
        Naming the count and the smallest ``--cell-m`` that fits.
    """
    w, h = max(bounds[2] - bounds[0], cell_m), max(bounds[3] - bounds[1], cell_m)

    def cells(c: float) -> int:
        return math.ceil(w / c) * math.ceil(h / c)

    n = cells(cell_m)
    if n > MAX_GRID_CELLS:
        fits = math.ceil(math.sqrt(w * h / MAX_GRID_CELLS))
        while cells(fits) > MAX_GRID_CELLS:
            fits += 1
        raise ValidationError(
            f"--cell-m {cell_m:g} over the study area ({w / 1000:.1f} x {h / 1000:.1f} km) makes "
            f"{n:,} cells, more than {MAX_GRID_CELLS:,}: give --cell-m {fits} or more"
        )


def _city_area(city: City, area: str, crs: CRS | str | None) -> StudyArea:
    """A study area of ``city``; ``city`` is the union of its districts when it has a
    district layer (as without a city), else of its road areas."""
    if area.strip().lower() == "city" and any(b.kind == "district" for b in city.boundaries):
        names = city.layer("district").read()["name"].astype(str)
        return city.study_area("district:" + ",".join(names), crs=crs)
    return city.study_area(area, crs=crs)


def with_warm_start(model: Forecaster) -> Forecaster:
    """The same forecaster with ``warm_start=True`` where it has that parameter (also
    inside a :class:`~xunfang.analyse.forecast.TimeOfDay` wrapper). For ``auto`` this
    also turns on its cadence in rolling use: the choice kept for ``reselect_every_days``
    and a chosen ``gbm`` or ``stack`` refitted every ``refit_every_days`` (see
    :class:`~xunfang.analyse.forecast.select.AutoSelect`)."""
    params = model.get_params()
    if "base" in params and isinstance(params["base"], Forecaster):
        return model.with_params(base=with_warm_start(params["base"]))
    if "warm_start" in params:
        return model.with_params(warm_start=True)
    return model


NAIVE_BASELINE = "naive:period_days=365"
"""The naive counts every evaluation is compared against when it runs none itself."""


def is_naive(spec: str) -> bool:
    """Whether a method spec is plain naive counts (no time-of-day wrapper)."""
    return "+" not in spec and spec.split(":")[0].strip().lower() == "naive"


def with_baseline(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods``, plus :data:`NAIVE_BASELINE` when none of them is naive counts (the
    paired tests of :meth:`Evaluation.paired` need one)."""
    out = tuple(methods)
    if any(is_naive(m) for m in out):
        return out
    return (*out, NAIVE_BASELINE)


def default_start(table: IncidentTable, window: str, n: int) -> str:
    """Local date of the first of the last ``n`` whole windows before the data ends."""
    a, b, days = parse_window_kind(window)
    local = table.local_time()
    last = local.max()
    last_day = last.normalize()
    end_day = (last + pd.Timedelta(hours=1)).normalize()  # a day ending 23:xx is complete
    f = table.frame
    dated = "time_precision" in f and bool(
        (f["time_precision"].to_numpy()[local == last] == "day").any()
    )
    # the last day is whole when its incidents are known only to the day (stored at local
    # midnight), or when it holds at least 3/4 of the daily mean of the (up to) 28 days
    # before it, that mean being at least 4 (a police district's last incident may fall
    # at 22:00 of a complete day; an export cut at noon holds about half a day)
    n_days = min(28, (last_day - local.min().normalize()).days)
    before = (local >= last_day - pd.DateOffset(days=n_days)) & (local < last_day)
    typical = float(before.sum()) / max(n_days, 1)
    if dated or (
        n_days >= 7 and typical >= 4 and float((local >= last_day).sum()) >= 0.75 * typical
    ):
        end_day = (last + pd.DateOffset(days=1)).normalize()
    if b <= a:  # overnight window ends the next morning
        end_day -= pd.Timedelta(days=1)
    first = end_day - pd.Timedelta(days=n * days)
    return str(first.date())


def study_contexts(
    spec: EvaluationSpec,
    table: IncidentTable,
    grids: Mapping[float, Grid],
    methods: Sequence[str],
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[float, CellContext], str]:
    """The context of ``gbm`` (also inside ``auto``) on each grid, and a sentence saying
    what it holds; ``({}, "")`` when no method of ``methods`` reads one.

    The type mix comes from every incident of ``table`` (all types); the place layers
    from ``spec.city`` in ``spec.area`` when ``spec.place`` allows (default: not for the
    whole city), the road network read once for all grids.
    """
    if not needs_context(methods):
        return {}, ""
    area_name = (spec.area or "").strip().lower()
    place = spec.place if spec.place is not None else area_name != "city"
    city = spec.city
    crs = next(iter(grids.values())).crs
    sa = _city_area(city, spec.area, crs) if city is not None and spec.area else None
    network = None
    if place and city is not None and sa is not None and city.roads is not None:
        if progress is not None:
            progress("reading the road network for the place layers")
        network = city.road_network(sa)
    out = {
        off: cell_context(
            table,
            g,
            city=city,
            area=sa,
            place=place,
            network=network,
        )
        for off, g in grids.items()
    }
    c0 = out[min(out)]
    note = (
        f"gbm context: type mix of {len(c0.all_events or ()):,} incidents of all types; "
        f"place layers {', '.join(sorted(c0.place)) or 'none'}"
    )
    if c0.missing:
        note += "; left out: " + "; ".join(c0.missing)
    return out, note + "."


def read_study(spec: EvaluationSpec) -> tuple[IncidentTable, IngestReport | None, Grid, str]:
    """The incidents of ``spec`` (all types) projected to the analysis CRS, the ingest
    report, the study grid and the area's name.

    Raises
    ------
    ValidationError
        For a bad cell size or no ingest profile; errors of the steps pass through.
    """
    check_cell_m(spec.cell_m)
    crs = spec.crs
    if crs is None and spec.area is not None and spec.city is not None:
        crs = _city_area(spec.city, spec.area, None).crs.to_string()
    elif crs is None and spec.area is not None and spec.boundary_dir is not None:
        probe = "district:1" if spec.area.strip().lower() == "city" else spec.area
        crs = load_study_area(spec.boundary_dir, probe).crs.to_string()
    profile: str | Profile | None = spec.profile
    if profile is not None or ingested_inputs(spec.incident_files):
        pass  # ingested tables are read back as written, with no profile
    elif spec.city is not None:
        profile = spec.city.ingest_profile()
    else:
        raise ValidationError("no ingest profile: give --profile, --mapping or a city file")
    table, report = load_incidents(spec.incident_files, profile, crs, spec.frame)
    grid, area_name = study_grid(table, spec.area, spec.cell_m, spec.boundary_dir, city=spec.city)
    if spec.area is not None and not grid.in_area(table.xy).any():
        # e.g. --area district:1 of the example city over another city's incidents
        of = f"city: {spec.city.name}" if spec.city is not None else "boundary files"
        raise ValidationError(
            f"none of the {len(table):,} incidents lies inside --area {spec.area} ({of}): the "
            "area is of another place than the incidents (or in another frame); give the "
            "incidents' own city or boundary (--city FILE, --boundary FILE) or no --area"
        )
    return table, report, grid, area_name


def run_evaluation(
    spec: EvaluationSpec, *, progress: Callable[[str], None] | None = None
) -> EvaluationRun:
    """Read, select, grid, and run the rolling-origin evaluation of ``spec``.

    Raises
    ------
    ValidationError
        For bad options, naming them; errors of the steps pass through.
    """
    t_start = time.perf_counter()
    say = progress or (lambda _m: None)
    say("reading incidents")
    table, report, grid, area_name = read_study(spec)
    grids = {0.0: grid}
    if spec.offset_sensitivity:
        half = spec.cell_m / 2.0
        grids[half] = study_grid(
            table, spec.area, spec.cell_m, spec.boundary_dir, offset_m=half, city=spec.city
        )[0]
    selected = select_types(table, spec.types)
    if len(selected) == 0:
        raise ValidationError(f"no incident of types {list(spec.types)} in the input")
    start = spec.start or default_start(selected, spec.window, spec.windows)
    windows = rolling_windows(start, spec.windows, spec.window, table.timezone)
    check_timed(selected, windows[0], spec.window)
    first_t = float(to_days(selected.frame["occurred_at"]).min())
    if spec.start is None and windows[0].start_day <= first_t:  # no history before it
        n_fit = sum(w.start_day > first_t for w in windows)
        raise ValidationError(
            f"the last {spec.windows} {spec.window} windows (no --start given) reach back to "
            f"{windows[0].start.date()}, before the data (first incident "
            f"{selected.local_time().min():%Y-%m-%d %H:%M}): give --windows {n_fit} or fewer, "
            "or more history"
        )
    last = to_days(table.frame["occurred_at"]).max()
    if windows[-1].end_day > last + 1.0:
        end = windows[-1].end.tz_convert(table.timezone)
        raise ValidationError(
            f"the last test window ends at {end:%Y-%m-%d %H:%M}, after the data (last "
            f"incident {table.local_time().max():%Y-%m-%d %H:%M}, local time): use an "
            "earlier --start or fewer --windows"
        )
    # the rolling refits differ by one window: iterative fits start from the last one
    methods = with_baseline(spec.methods)
    models = {m: with_warm_start(make_forecaster(m, grid, seed=spec.seed)) for m in methods}
    if len(spec.types) > 1:  # auto chooses per type group; the groups' forecasts add up
        by_group = {t: select_types(table, (t,)) for t in spec.types}
        for m in methods:
            if m.split("+")[0].split(":")[0].strip().lower() == "auto":
                models[m] = PerGroup(grid=grid, base=models[m], groups=by_group, seed=spec.seed)
    contexts, context_note = study_contexts(spec, table, grids, methods, progress=say)
    evaluation = rolling_origin(
        selected,
        grids,
        models,
        windows,
        lookback_days=spec.lookback_days,
        fractions=spec.fractions,
        progress=say,
        contexts=contexts,
    )
    local = table.local_time()
    return EvaluationRun(
        spec=spec,
        evaluation=evaluation,
        grid=grid,
        area_name=area_name,
        area_km2=grid.n_active * grid.cell_area_km2,
        n_input=len(table),
        n_selected=len(selected),
        n_in_area=_n_in_area(selected, grid),
        ingest_report=report,
        data_span=(local.min(), local.max()),
        seconds=time.perf_counter() - t_start,
        context_note=context_note,
    )
