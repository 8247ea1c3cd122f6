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

:class:`ContinuousProspective` is the continuous-space version of open_cp's
``ProspectiveHotSpotContinuous`` (Daws & QuantCrimAtLeeds, ``open_cp.prohotspot``):
distance in **metres** from each event, fractional weeks, and each cell's risk the
kernel averaged over sample points inside the cell.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import ndimage

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast._kernels import cell_mean_2d, centre_sum_points, fine_image
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
        t0 = self._origin_day(window)
        age = t0 - ev.t_day
        w = self.time_weights(age)
        used = (w > 0) & (age >= 0)
        score = self._surface(w, used)
        span = min(float(self.bandwidth_weeks) * 7.0, t0 - ev.start_day)
        recent = float(((age >= 0) & (age < span)).sum())
        return self._scale_to_rate(score, recent, span, window)

    def _surface(self, w: np.ndarray, used: np.ndarray) -> np.ndarray:
        """Summed space-time weights per cell, (ny, nx), of the events ``used`` with time
        weights ``w``."""
        ev = self.events_
        if self.positions == "cell":
            img = self._image(np.where(used, w, 0.0))
            score = ndimage.correlate(img, self.spatial_kernel(), mode="constant", cval=0.0)
        else:
            cell_m = self.grid.cell_m
            bw = float(self.bandwidth_m)

            def kern(d: np.ndarray) -> np.ndarray:
                return np.where(d < bw, 1.0 / (1.0 + d / cell_m), 0.0)

            score = centre_sum_points(self.grid, ev.xy[used], w[used], 5, bw, kern)
        return score


class ContinuousProspective(ProspectiveHotspot):
    """Prospective hotspotting in continuous space, distances in metres.

    The weight of an event at distance ``d`` metres from a point and ``w`` weeks old
    (fractional) is::

        1 / (1 + d / distance_unit_m)  *  1 / (1 + w)      d < bandwidth_m, w < bandwidth_weeks

    (Bowers, Johnson & Pease 2004; open_cp's ``ProspectiveHotSpotContinuous``, whose
    distance unit is its grid size). A cell's risk is the mean of the summed weights at
    ``subcells x subcells`` sample points: the centres of a regular sub-grid of the cell
    (open_cp samples random points). Events are binned to the same sub-grid, side
    ``cell_m / subcells`` (position error at most half its diagonal); the sums are one
    batched FFT convolution on the cell grid, one image per sub-cell phase
    (:func:`~xunfang.analyse.forecast._kernels.cell_mean_2d`).

    Defaults (bandwidth 400 m, 16 weeks, distance unit 75 m, 5 x 5 samples) come from
    rolling-origin validation: ``python benchmarks/bench_sepp_prospective.py --start
    2014-12-01 --windows 10 --types "BURGLARY;MOTOR VEHICLE THEFT;THEFT"`` (example city, 10
    daily windows from 2014-12-01, 365 days of history each, which start 2014-01-01;
    150 m cells over the police districts). Hit rates at 1/5/20 % for burglary, motor
    vehicle theft and theft: open_cp's setting for 150 m cells (400 m, 8 weeks, unit
    150 m) .053/.167/.469, .037/.168/.434, .144/.300/.593; these defaults
    .064/.184/.517, .048/.157/.452, .147/.318/.613. Of the settings tried (bandwidth
    200-800 m, unit 50-400 m, 4-16 weeks) 200 m / 150 m / 16 weeks scored higher on
    burglary and theft but lost .05 on motor vehicle theft at 20 %; these won or tied
    on every group at 1 and 20 %.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    bandwidth_m
        Spatial bandwidth, **metres** (distance from the event to a sample point).
    bandwidth_weeks
        Temporal bandwidth, **weeks**.
    distance_unit_m
        Distance, **metres**, at which the spatial weight has fallen to 1/2.
    time
        ``continuous`` (fractional weeks, open_cp's continuous method) or ``weeks``.
    subcells
        Sample points per cell side (odd, >= 1).
    seed
        Kept for the common contract (nothing is random).
    """

    name: ClassVar[str] = "prospective-continuous"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "bandwidth_m",
        "bandwidth_weeks",
        "distance_unit_m",
        "time",
        "subcells",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        bandwidth_m: float = 400.0,
        bandwidth_weeks: float = 16.0,
        distance_unit_m: float = 75.0,
        time: str = "continuous",
        subcells: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(
            grid=grid,
            bandwidth_m=bandwidth_m,
            bandwidth_weeks=bandwidth_weeks,
            time=time,
            positions="exact",
            seed=seed,
        )
        self.distance_unit_m = distance_unit_m
        self.subcells = subcells

    def _validate(self) -> None:
        super()._validate()
        self._positive("distance_unit_m", self.distance_unit_m)
        s = self.subcells
        if not (isinstance(s, int) and s >= 1 and s % 2 == 1):
            raise ValidationError(f"subcells must be an odd positive integer, got {s!r}")

    def _surface(self, w: np.ndarray, used: np.ndarray) -> np.ndarray:
        ev = self.events_
        bw, unit = float(self.bandwidth_m), float(self.distance_unit_m)

        def kern(d: np.ndarray) -> np.ndarray:
            return np.where(d < bw, 1.0 / (1.0 + d / unit), 0.0)

        fine = fine_image(self.grid, ev.xy[used], w[used], self.subcells)
        return cell_mean_2d(self.grid, fine, self.subcells, bw, kern)
