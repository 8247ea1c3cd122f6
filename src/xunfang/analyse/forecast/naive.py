"""Naive forecast: the counts of the previous period.

The baseline of every hotspot-forecast comparison (e.g. Chainey, Tompson & Uhlig 2008,
Security Journal 21: 4-28; the "counting grid" of open_cp): each cell's risk is the
number of incidents it had in the ``period_days`` before the window, scaled to the
window's length.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.grid import Grid


class NaiveCounts(Forecaster):
    """Counts in the previous period.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    period_days
        Length of the previous period, **days** before the window start; ``None`` uses
        every training incident (open_cp's ``CountingGridKernel``).
    seed
        Seed for anything random (nothing here; kept for the common contract).

    Notes
    -----
    Risk of cell *c* for a window of length *L* days starting at *t*:
    ``count(c, [t - period_days, t)) * L / period_days`` — the expected count if the
    last period repeats. When the observation period (``TrainingEvents.start_day``)
    begins later than ``t - period_days``, the count is divided by the days observed,
    ``t - start_day``, instead (90 days of data under a 365-day period give the rate
    of those 90 days, not a quarter of it). After a gap in the data *t* is the end of
    the training period (:meth:`Forecaster._origin_day`). Many cells tie (at 0, 1, 2 ...); the
    evaluation breaks ties at random (expected value).
    """

    name: ClassVar[str] = "naive"
    _params: ClassVar[tuple[str, ...]] = ("grid", "period_days", "seed")

    def __init__(self, *, grid: Grid, period_days: float | None = 7.0, seed: int = 0) -> None:
        self.grid = grid
        self.period_days = period_days
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive("period_days", self.period_days, allow_none=True)  # type: ignore[arg-type]

    def _fit(self, events: TrainingEvents) -> None:
        return None

    def _predict(self, window: Window) -> np.ndarray:
        ev = self.events_
        t0 = self._origin_day(window)
        lo = ev.start_day if self.period_days is None else t0 - float(self.period_days)
        # a rate over the history observed: a period reaching before the data's start
        # counts only the days from that start
        days = t0 - max(lo, ev.start_day)
        if days <= 0:
            return np.zeros(self.grid.n_cells)
        sel = (ev.t_day >= lo) & (ev.t_day < t0)
        counts = np.bincount(ev.cell[sel], minlength=self.grid.n_cells).astype(np.float64)
        return counts * (window.length_days / days)
