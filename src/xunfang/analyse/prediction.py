"""Forecast the next window for each type group (``xunfang forecast predict``).

For each type group the method (default ``auto``: chosen by validation on the windows
before, :mod:`xunfang.analyse.forecast.select`) is fitted on the incidents before the
window's start (within the look-back) and forecasts the window. Nothing at or after the
window's start is read, even when the data go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from xunfang.analyse.evaluate import (
    EvaluationSpec,
    check_timed,
    read_study,
    select_types,
    study_contexts,
)
from xunfang.analyse.forecast._base import Forecast, TrainingEvents, Window, rolling_windows
from xunfang.analyse.forecast.learned import GradientBoosted
from xunfang.analyse.forecast.registry import make_forecaster
from xunfang.analyse.forecast.select import Selection, error_text
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable, IngestReport

ALL_TYPES = "all"
"""Name of the group of every type together."""


@dataclass(frozen=True)
class GroupForecast:
    """The forecast of one type group.

    Attributes
    ----------
    group
        Type group or type (``all`` for every type together).
    method
        The method spec asked for (e.g. ``auto``).
    chosen
        The spec that made the forecast (the chosen candidate for ``auto``).
    forecast
        Expected incidents per cell in the window.
    n_train
        Training incidents (before the window, within the look-back, in the area).
    history
        (first, last) training incident, local time.
    selection
        What ``auto`` chose and why (``None`` for a fixed method).
    seconds
        Wall time of fit and predict (with the selection).
    history_days
        Days of history the expected counts are rates over: from the start of the data
        (local midnight of its first day) or of the look-back, whichever is later, to the
        end of the history (:attr:`PredictionRun.history_end`).
    fallback
        Why the method asked for could not forecast this group (e.g. ``auto`` on a group
        too sparse to validate) and the naive counts that did instead; ``""`` otherwise.
    """

    group: str
    method: str
    chosen: str
    forecast: Forecast
    n_train: int
    history: tuple[pd.Timestamp, pd.Timestamp]
    selection: Selection | None
    seconds: float
    importance: pd.DataFrame | None = None
    """Feature importance of a ``gbm`` forecast (also when ``auto`` chose it): columns
    ``feature, importance, used``; ``None`` for other methods."""
    history_days: float = float("nan")
    fallback: str = ""
    fallback_zh: str = ""
    """``fallback`` in Chinese (for ``--lang zh``)."""
    hour_share: float | None = None
    """For a window of some hours of the day (``night``, a shift): the share of the
    history's timed incidents that fell in those local hours; the forecast was scaled by
    it over the window's share of the day's hours (:func:`hour_factor`). ``None`` for a
    window of whole days, a ``+tod`` method (its own profiles do this per cell) or no
    timed incident."""
    hour_share_from: tuple[int, int] | None = None
    """With ``hour_share``: (incidents with a time of day it was computed from, all the
    group's training incidents, whose count sets the level)."""


def hour_factor(events: TrainingEvents, window: Window) -> tuple[float, float] | None:
    """How much the window's hours hold over their share of the day: (factor, share).

    A forecaster's rate is a daily average, scaled by the window's length; a night (22-06)
    then gets a third of a day, while its hours may hold far less (14.7 % in a police
    district of the example city). ``share`` is the fraction of the history's timed
    incidents (``hour_of_week >= 0``; date-only ones carry no hour) in the window's local
    hours of the day, and ``factor = share / (window hours / 24)`` per day of the window:
    the forecast times ``factor`` has the level of those hours, the cells' ranking
    unchanged (the area-wide profile of :class:`~xunfang.analyse.forecast.TimeOfDay`).

    Returns
    -------
    (factor, share) or None
        ``None`` for a window that weighs every hour of the day alike (whole days) or a
        history without a timed incident.
    """
    hours = window.hours_of_week(events.timezone).reshape(7, 24).sum(axis=0)
    if hours.sum() <= 0 or np.all(hours == hours[0]):
        return None
    how = events.hour_of_week[events.hour_of_week >= 0] % 24
    if how.size == 0:
        return None
    profile = np.bincount(how, minlength=24) / how.size
    per_day = hours / hours.sum()  # the window's hours, as a share of its own length
    share = float(profile @ (hours > 0))
    return float(profile @ per_day) * 24.0, share


@dataclass(frozen=True)
class PredictionRun:
    """A finished ``forecast predict``.

    Attributes
    ----------
    spec
        What was asked (``methods[0]`` is the method; ``start`` the window's date).
    grid
        The study grid.
    area_name
        ``bounding rectangle`` or the study-area name.
    window
        The forecast window.
    groups
        One forecast per type group.
    ingest_report
        The ingest report (``None`` for a parquet input).
    data_span
        (first, last) incident of the input, local time.
    seconds
        Wall time of the run.
    """

    spec: EvaluationSpec
    grid: Grid
    area_name: str
    window: Window
    groups: list[GroupForecast]
    ingest_report: IngestReport | None
    data_span: tuple[pd.Timestamp, pd.Timestamp]
    seconds: float
    context_note: str = ""
    """What ``gbm``'s context held (type mix, place layers, layers left out), or ``""``."""
    history_end: pd.Timestamp | None = None
    """End of the history the forecasters read: the window's start, or the local midnight
    after the last incident before it when the window starts later (``None``: the
    window's start)."""

    @property
    def data_gap_days(self) -> float:
        """Days between the last incident of the input and the window's start (a forecast
        from data that stopped long before assumes nothing has changed since)."""
        return float((self.window.start - self.data_span[1]) / pd.Timedelta(days=1))

    @property
    def history_gap_days(self) -> float:
        """Days between :attr:`history_end` and the window's start, which hold no data
        (0 when the history runs up to the window)."""
        end = self.history_end if self.history_end is not None else self.window.start
        return float((self.window.start - end) / pd.Timedelta(days=1))


FALLBACK_METHOD = "naive:period_days=none"
"""What forecasts a group the asked method cannot (too sparse to validate or fit): each
cell's count over the whole history, as a daily rate times the window's length."""

ABSENT_METHOD = "none"
"""The ``chosen`` of a group with no incident in the area: its forecast is 0 everywhere,
made by no method (it used to be labelled as naive counts)."""


def fallback_notes(
    method: str, n_incidents: int, history_days: float, exc: Exception
) -> tuple[str, str]:
    """(English, Chinese) note of a group forecast by :data:`FALLBACK_METHOD` because
    ``method`` failed on it with ``exc``; ``n_incidents``: the group's incidents in the
    area (on the grid) before the window."""
    en = (
        f"{method} could not forecast this group ({n_incidents} incident(s) in the area in "
        f"{history_days:.0f} days of history: {exc}); forecast instead by naive counts: each "
        "cell's incidents over the whole history as a daily rate"
    )
    zh = (
        f"{method} 无法预测此类别（{history_days:.0f} 天历史中研究区内仅 {n_incidents} 起警情："
        f"{error_text(str(exc), 'zh')}）；"
        "改用朴素计数：各网格在全部历史中的警情数折算为日均值"
    )
    return en, zh


def default_groups(table: IncidentTable) -> tuple[str, ...]:
    """``all`` and every type group of the data (taxonomy groups), largest first."""
    counts = table.frame["type_group"].astype(str).value_counts()
    return (ALL_TYPES, *counts.index)


def next_day(table: IncidentTable) -> str:
    """Local date after the last incident (the first window with no data yet)."""
    last = table.local_time().max()
    return str((last.normalize() + pd.Timedelta(days=1)).date())


def run_prediction(
    spec: EvaluationSpec, *, progress: Callable[[str], None] | None = None
) -> PredictionRun:
    """Forecast the window of ``spec`` (kind ``spec.window`` starting on ``spec.start``,
    default the day after the data) for each group of ``spec.types`` (default
    :func:`default_groups`) with ``spec.methods[0]``.

    Raises
    ------
    ValidationError
        For bad options, or a group with no incident before the window.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    if len(spec.methods) != 1:
        raise ValidationError(f"give one forecast method, got {list(spec.methods)}")
    say("reading incidents")
    table, report, grid, area_name = read_study(spec)
    start = spec.start or next_day(table)
    window = rolling_windows(start, 1, spec.window, table.timezone)[0]
    when = table.frame["occurred_at"]
    before = (when < window.start).to_numpy()
    # the history ends at the window's start, or at the local midnight after the last
    # incident when the window starts later (a night from 22:00, a --start days after the
    # data): the days between were not observed, and the forecasters read back from there
    # (Forecaster._origin_day) rather than count them as days without incidents
    hist_end = window.start
    if before.any():
        last_seen = when[before].max().tz_convert(table.timezone)
        hist_end = min(window.start, (last_seen + pd.DateOffset(days=1)).normalize())
    lo = None if spec.lookback_days is None else hist_end - pd.Timedelta(spec.lookback_days, "D")
    keep = before & (True if lo is None else (when >= lo).to_numpy())
    history = table.subset(keep)
    first, last = when.min(), when.max()
    if len(history) == 0:
        advice = (
            "choose a later --start"
            if window.start <= first
            else "choose an earlier --start or a longer --lookback-days"
        )
        # local times, as the window's (the data's were printed in UTC beside it)
        tz = table.timezone
        back = f"{spec.lookback_days:g} days" if spec.lookback_days else "all history"
        raise ValidationError(
            f"no incident in the history before {window.start:%Y-%m-%d %H:%M} (look-back "
            f"{back}; data from {first.tz_convert(tz):%Y-%m-%d %H:%M} to "
            f"{last.tz_convert(tz):%Y-%m-%d %H:%M}, local time): {advice}"
        )

    check_timed(history, window, spec.window)
    groups = spec.types or default_groups(history)
    # expected counts are rates over the history there is: from the data's first day (local
    # midnight) or the look-back's start, whichever is later; a 365-day look-back over 90
    # days of data would otherwise divide by 365
    data_start = when.min().tz_convert(table.timezone).normalize()
    fit_start = data_start if lo is None else max(lo, data_start)
    history_days = float((hist_end - fit_start) / pd.Timedelta(days=1))
    # the type mix from the history only: nothing at or after the window start
    contexts, context_note = study_contexts(spec, history, {0.0: grid}, spec.methods, progress=say)
    out = []
    failures: list[ValidationError] = []
    for group in groups:
        say(f"{group}: fitting {spec.methods[0]}")
        sub = history if group == ALL_TYPES else select_types(history, (group,))
        if len(sub) == 0:
            raise ValidationError(f"no incident of {group!r} before {window.start}")
        # the group's incidents on the area's grid (the history may hold a whole city's)
        inside = grid.in_area(sub.xy)
        t1 = time.perf_counter()
        model = make_forecaster(spec.methods[0], grid, seed=spec.seed, context=contexts.get(0.0))
        fallback = fallback_zh = ""
        try:
            model.fit(sub, start=fit_start, end=hist_end)
            fc = model.predict(window)
            n_train = len(model.events_)
        except ValidationError as exc:
            # e.g. auto on a group of one incident: no validation window holds one. The
            # group is still forecast, by the simplest rate there is, and the output says so.
            failures.append(exc)
            model = make_forecaster(FALLBACK_METHOD, grid, seed=spec.seed)
            n_in = int(inside.sum())
            fallback, fallback_zh = fallback_notes(spec.methods[0], n_in, history_days, exc)
            try:
                model.fit(sub, start=fit_start, end=hist_end)
                fc = model.predict(window)
                n_train = len(model.events_)
            except ValidationError:  # none of its incidents on the grid
                # the other groups do land there: the area and the frame are right, the
                # group is absent (a tester read the CRS hint of the error as the cause)
                fc = Forecast(ABSENT_METHOD, grid, window, np.zeros(grid.n_cells))
                n_train = 0
                fallback = (
                    f"no incident of this group in the area in {history_days:.0f} days of "
                    f"history ({len(sub)} outside it): forecast 0"
                )
                fallback_zh = (
                    f"{history_days:.0f} 天历史中研究区内没有此类别的警情（区外 {len(sub)} 起）："
                    "预测为 0"
                )
        share: float | None = None
        share_from: tuple[int, int] | None = None
        events = getattr(model, "events_", None)
        chosen_spec = getattr(getattr(model, "selection_", None), "chosen", spec.methods[0])
        if events is not None and "+tod" not in f"{spec.methods[0]} {chosen_spec}":
            scaled = hour_factor(events, window)
            if scaled is not None:  # a night or a shift: the level of its own hours
                fc = Forecast(fc.method, grid, window, fc.risk * scaled[0])
                share = scaled[1]
                share_from = (int((events.hour_of_week >= 0).sum()), len(events))
        sel = getattr(model, "selection_", None)
        fitted = getattr(model, "chosen_", model)
        # the span of the incidents used: those in the area
        local = sub.subset(inside).local_time() if inside.any() else sub.local_time()
        out.append(
            GroupForecast(
                group=group,
                method=spec.methods[0],
                chosen=(
                    sel.chosen
                    if sel is not None
                    else (FALLBACK_METHOD if n_train else ABSENT_METHOD)
                    if fallback
                    else spec.methods[0]
                ),
                forecast=fc,
                n_train=n_train,
                history=(local.min(), local.max()),
                selection=sel,
                seconds=time.perf_counter() - t1,
                importance=(
                    fitted.importance_table() if isinstance(fitted, GradientBoosted) else None
                ),
                history_days=history_days,
                fallback=fallback,
                fallback_zh=fallback_zh,
                hour_share=share,
                hour_share_from=share_from,
            )
        )
    if failures and len(failures) == len(groups):  # the method fails on the data, not a group
        raise failures[0]
    local = table.local_time()
    return PredictionRun(
        spec=replace(spec, start=start, types=tuple(groups)),
        grid=grid,
        area_name=area_name,
        window=window,
        groups=out,
        ingest_report=report,
        data_span=(local.min(), local.max()),
        seconds=time.perf_counter() - t0,
        context_note=context_note,
        history_end=hist_end,
    )


def ranks(risk: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n_cells,) rank of each active cell by risk, 1 = highest (ties share the lowest
    rank of their run, ``scipy.stats.rankdata(method='min')``); 0 outside the area."""
    from scipy.stats import rankdata

    out = np.zeros(len(risk), dtype=np.int64)
    out[mask] = rankdata(-np.asarray(risk)[mask], method="min").astype(np.int64)
    return out
