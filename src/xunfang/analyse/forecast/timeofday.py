"""Time-of-day awareness: a forecast for a shift from each cell's hour-of-week profile.

A base forecaster gives the expected count of a window assuming a flat rate through the
week; this wrapper re-weights it by the share of each cell's incidents that fall in the
window's hours of the week. The per-cell profile is shrunk towards the area's profile
(empirical Bayes, as in the "temporal signature" of hotspots: Ratcliffe 2004,
"The hotspot matrix", Police Practice and Research 5(1): 5-23; shrinkage by
pseudo-counts: Gelman et al., Bayesian Data Analysis, ch. 5)::

    p_c(h) = (n_c(h) + k * P(h)) / (n_c + k)
    risk_c(W) = base_c(W) * sum_{h in W} p_c(h) / (|W| / 168)

where ``n_c(h)`` counts the cell's timed training incidents in hour ``h``, ``P(h)`` is
the area's share, ``k`` is ``shrinkage_events`` and ``|W|`` the window's length in
hours. ``h`` runs over the 168 hours of the week (``by_weekday=True``) or, by default,
the 24 hours of the day (then 168 reads 24 and ``W`` is folded onto the day).
Incidents known only to the day do not enter the profiles.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import ndimage

from xunfang.analyse.forecast._base import (
    Forecaster,
    TrainingEvents,
    Window,
)
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable
from xunfang.units import HOURS_PER_WEEK


class TimeOfDay(Forecaster):
    """Make a forecaster shift-aware from per-cell hour-of-week profiles.

    Parameters
    ----------
    base
        The forecaster that gives the per-cell level (fitted on the same incidents).
    shrinkage_events
        Pseudo-count ``k``: how many incidents' worth of the area-wide profile each
        cell's profile starts from (0 = raw per-cell shares, large = area profile).
    profile_bandwidth_m
        Standard deviation, **metres**, of a Gaussian pooling of neighbouring cells'
        hour counts before shrinkage (0 = none).
    by_weekday
        True: 168 hours of the week; False (default): 24 hours of the day, pooled over
        the weekdays (on the example city's validation nights, 2015-03-11..05-05, the pooled
        profile scored better: a cell rarely has enough incidents for 168 hours).
    seed
        Kept for the common contract.

    Attributes
    ----------
    area_profile_
        (168,) share of the area's timed incidents by hour of week.
    """

    name: ClassVar[str] = "tod"
    _params: ClassVar[tuple[str, ...]] = (
        "base",
        "shrinkage_events",
        "profile_bandwidth_m",
        "by_weekday",
        "seed",
    )

    def __init__(
        self,
        *,
        base: Forecaster,
        shrinkage_events: float = 20.0,
        profile_bandwidth_m: float = 0.0,
        by_weekday: bool = False,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.grid = base.grid  # the base's grid (not a parameter of its own)
        self.shrinkage_events = shrinkage_events
        self.profile_bandwidth_m = profile_bandwidth_m
        self.by_weekday = by_weekday
        self.seed = seed

    def with_params(self, **changes: Any) -> Self:
        """As :meth:`Forecaster.with_params`; ``grid=`` is passed on to the base."""
        if "grid" in changes:
            grid = changes.pop("grid")
            changes.setdefault("base", self.base.with_params(grid=grid))
        return super().with_params(**changes)

    def describe(self) -> str:
        """Base description + profile settings."""
        how = "week" if self.by_weekday else "day"
        return f"{self.base.describe()}+tod(k={self.shrinkage_events:g}, hour of {how})"

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.base, Forecaster):
            raise ValidationError("base must be a Forecaster (e.g. ProspectiveHotspot(...))")
        for name in ("shrinkage_events", "profile_bandwidth_m"):
            value = getattr(self, name)
            # text from a spec (shrinkage_events=abc) is refused too, not a TypeError
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and value >= 0 and np.isfinite(value)):
                raise ValidationError(f"{name} must be >= 0, got {value}")

    def fit(
        self,
        incidents: IncidentTable,
        *,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Self:
        """Fit the base forecaster, then the profiles (see :meth:`Forecaster.fit`)."""
        self._validate()
        self.grid = self.base.grid
        return super().fit(incidents, start=start, end=end)

    def fit_events(self, events: TrainingEvents) -> Self:
        """Fit the base forecaster and the profiles on converted events."""
        self._validate()
        self.grid = self.base.grid
        self.base.fit_events(events)
        return super().fit_events(events)

    def _fit(self, events: TrainingEvents) -> None:
        g = self.grid
        timed = events.hour_of_week >= 0
        how = events.hour_of_week[timed]
        if not self.by_weekday:
            how = how % 24
        nh = HOURS_PER_WEEK if self.by_weekday else 24
        area = np.bincount(how, minlength=nh).astype(np.float64)
        self.area_profile_ = area / area.sum() if area.sum() > 0 else np.full(nh, 1.0 / nh)
        cells = events.cell[timed]
        if self.profile_bandwidth_m > 0:
            cube = np.zeros((nh, g.n_cells))
            np.add.at(cube, (how, cells), 1.0)
            sigma = self.profile_bandwidth_m / g.cell_m
            cube = ndimage.gaussian_filter(
                cube.reshape(nh, g.ny, g.nx), (0, sigma, sigma), mode="constant", truncate=3.0
            ).reshape(nh, g.n_cells)
            used = np.flatnonzero(cube.sum(axis=0) > 0)
            counts = cube[:, used].T
        else:
            used, inv = np.unique(cells, return_inverse=True)
            counts = np.zeros((len(used), nh))
            np.add.at(counts, (inv, how), 1.0)
        k = float(self.shrinkage_events)
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            prof = (counts + k * self.area_profile_) / (totals + k)
        prof = np.where(totals + k > 0, prof, self.area_profile_)
        self.profile_cells_ = used
        self.profiles_ = prof

    def share(self, window: Window) -> np.ndarray:
        """(n_cells,) factor ``sum_{h in W} p_c(h) / (|W| / H)`` of each cell, ``H`` = 168
        hours of the week or 24 of the day; exactly 1.0 for a window that covers every
        hour alike (a whole day or week), so that ``+tod`` leaves such a forecast unchanged
        bit for bit."""
        hours = window.hours_of_week(self.events_.timezone)
        if not self.by_weekday:
            hours = hours.reshape(7, 24).sum(axis=0)
        total = hours.sum()
        if total <= 0 or np.all(hours == hours[0]):
            # A window that weighs every hour alike (a whole day, a whole week) holds
            # sum_h p_c(h) * |W| / H / (|W| / H) = 1 for every cell; return it exactly, as
            # the floating sum of the shares is 1 - 1e-16 for some cells and would break
            # ties in the ranking of equal cells.
            return np.ones(self.grid.n_cells)
        nh = len(hours)
        area = float(self.area_profile_ @ hours) * nh / total
        out = np.full(self.grid.n_cells, area)
        out[self.profile_cells_] = (self.profiles_ @ hours) * nh / total
        return out

    def _predict(self, window: Window) -> np.ndarray:
        base = self.base.predict(window).risk
        return base * self.share(window)
