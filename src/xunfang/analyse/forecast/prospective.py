"""Prospective hotspotting (Bowers, Johnson & Pease 2004).

Bowers, K. J., Johnson, S. D. & Pease, K. (2004), "Prospective hot-spotting: the future
of crime mapping?", British Journal of Criminology 44(5): 641-658,
doi:10.1093/bjc/azh036; operational version: Johnson et al. (2007), Home Office Online
Report 19/07. Each past event adds to the risk of every cell within a spatial bandwidth
a weight that decays with distance and with the time since the event::

    risk(c) = sum_i  1 / (1 + d_i)  *  1 / (1 + w_i)      d_i * cell_m < bandwidth_m,
                                                          w_i < bandwidth_weeks

with ``d_i`` the distance from the event's cell to ``c`` in **cell sides** and ``w_i``
its age in **whole weeks** before the window start (the classic discretisation;
``time="continuous"`` uses fractional weeks).

Vectorised: the time weights are summed per cell with one ``bincount`` and the spatial
kernel is applied by a correlation over kernel taps (no loop over events or pairs).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import ndimage

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast._kernels import centre_sum_2d, fine_image
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

DISTANCES = ("chebyshev", "euclidean", "manhattan")
TIMES = ("weeks", "continuous")
POSITIONS = ("cell", "exact")


class ProspectiveHotspot(Forecaster):
    """Prospective hotspotting, Bowers, Johnson & Pease (2004).

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    bandwidth_m
        Spatial bandwidth, **metres**: events farther than this (strictly, measured
        between cell centres, or from the event to the centre with
        ``positions="exact"``) add nothing.
    bandwidth_weeks
        Temporal bandwidth, **weeks**: events this old or older add nothing.
    distance
        Grid distance between cells: ``chebyshev`` (diagonal neighbours at 1, as
        open_cp's default), ``euclidean`` or ``manhattan``.
    time
        ``weeks`` (age floored to whole weeks, the classic) or ``continuous``.
    positions
        ``cell`` (events at their cell's centre, the classic) or ``exact`` (distance
        from the event, binned to ``cell_m / 5``, to each cell centre; Euclidean).
    seed
        Kept for the common contract (nothing is random).

    Notes
    -----
    The spatial weight ``1/(1+d)`` takes ``d`` in cell sides, so the kernel's shape in
    metres depends on the cell size, as in the original. Scores are scaled to the
    expected count of the window from the event rate over the temporal bandwidth.
    """

    name: ClassVar[str] = "prospective"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "bandwidth_m",
        "bandwidth_weeks",
        "distance",
        "time",
        "positions",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        bandwidth_m: float = 400.0,
        bandwidth_weeks: float = 8.0,
        distance: str = "chebyshev",
        time: str = "weeks",
        positions: str = "cell",
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.bandwidth_m = bandwidth_m
        self.bandwidth_weeks = bandwidth_weeks
        self.distance = distance
        self.time = time
        self.positions = positions
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive("bandwidth_m", self.bandwidth_m)
        self._positive("bandwidth_weeks", self.bandwidth_weeks)
        for name, value, allowed in (
            ("distance", self.distance, DISTANCES),
            ("time", self.time, TIMES),
            ("positions", self.positions, POSITIONS),
        ):
            if value not in allowed:
                raise ValidationError(f"{name} must be one of {allowed}, got {value!r}")

    def _fit(self, events: TrainingEvents) -> None:
        return None

    def spatial_kernel(self) -> np.ndarray:
        """(2r+1, 2r+1) weights ``1/(1+d)`` over cell offsets, 0 at or beyond the bandwidth."""
        r = int(np.ceil(self.bandwidth_m / self.grid.cell_m))
        dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
        if self.distance == "chebyshev":
            d = np.maximum(np.abs(dx), np.abs(dy)).astype(np.float64)
        elif self.distance == "manhattan":
            d = (np.abs(dx) + np.abs(dy)).astype(np.float64)
        else:
            d = np.hypot(dx, dy)
        return np.where(d * self.grid.cell_m < self.bandwidth_m, 1.0 / (1.0 + d), 0.0)

    def time_weights(self, age_days: np.ndarray) -> np.ndarray:
        """``1/(1+w)`` for ages (days, >= 0) younger than the bandwidth, else 0."""
        weeks = np.asarray(age_days, dtype=np.float64) / 7.0
        if self.time == "weeks":
            weeks = np.floor(weeks)
        return np.where(weeks < self.bandwidth_weeks, 1.0 / (1.0 + weeks), 0.0)

    def _predict(self, window: Window) -> np.ndarray:
        ev = self.events_
        t0 = window.start_day
        age = t0 - ev.t_day
        w = self.time_weights(age)
        used = (w > 0) & (age >= 0)
        if self.positions == "cell":
            img = self._image(np.where(used, w, 0.0))
            score = ndimage.correlate(img, self.spatial_kernel(), mode="constant", cval=0.0)
        else:
            cell_m = self.grid.cell_m
            bw = float(self.bandwidth_m)

            def kern(d: np.ndarray) -> np.ndarray:
                return np.where(d < bw, 1.0 / (1.0 + d / cell_m), 0.0)

            fine = fine_image(self.grid, ev.xy[used], w[used], 5)
            score = centre_sum_2d(self.grid, fine, 5, bw, kern)
        span = min(float(self.bandwidth_weeks) * 7.0, t0 - ev.start_day)
        recent = float(((age >= 0) & (age < span)).sum())
        return self._scale_to_rate(score, recent, span, window)
