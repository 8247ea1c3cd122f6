"""Retrospective hotspot forecast: a kernel density of the recent past.

The classic hotspot map used as a forecast (Chainey, Tompson & Uhlig 2008, "The
utility of hotspot mapping for predicting spatial patterns of crime", Security
Journal 21: 4-28; kernel density estimation: Silverman 1986, ch. 3). The quartic
kernel with a 200 m bandwidth over the last two months is the retrospective
hotspotting of Bowers, Johnson & Pease (2004) and of open_cp's ``RetroHotSpotGrid``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast._kernels import (
    adaptive_gaussian,
    centre_sum_points,
    centre_sum_separable,
    fine_image,
    knn_bandwidths,
)
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

KERNELS = ("quartic", "gaussian")


class RetrospectiveKDE(Forecaster):
    """Fixed-bandwidth kernel density of the incidents of the last ``window_days``.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    bandwidth_m
        Kernel bandwidth, **metres**: the radius of the quartic kernel
        ``(1 - (d/h)^2)^2`` (zero beyond ``h``), or the standard deviation of the
        Gaussian kernel (cut at 3 standard deviations).
    window_days
        Length of the look-back, **days** before the window start; ``None`` uses every
        training incident.
    kernel
        ``quartic`` or ``gaussian``.
    k_neighbours
        If set, an *adaptive* Gaussian kernel: each event's standard deviation is the
        distance to its ``k_neighbours``-th nearest neighbour, clipped to
        [``bandwidth_m``, ``max_bandwidth_m``] metres (Silverman 1986, section 5.3; the
        background of Mohler et al. 2011). Narrow where incidents are dense, wide where
        they are sparse; events sit at their cell centres.
    max_bandwidth_m
        Upper clip of the adaptive bandwidth, **metres**.
    subcells
        Odd number of sub-cells per cell side used to bin event positions (position
        error at most ``cell_m / subcells / sqrt(2)`` metres).
    seed
        Kept for the common contract (nothing is random).

    Notes
    -----
    The density is evaluated at each cell centre and scaled so that the cells sum to
    the look-back's daily rate times the forecast window's length (expected count).
    """

    name: ClassVar[str] = "kde"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "bandwidth_m",
        "window_days",
        "kernel",
        "k_neighbours",
        "max_bandwidth_m",
        "subcells",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        bandwidth_m: float = 200.0,
        window_days: float | None = 60.0,
        kernel: str = "quartic",
        k_neighbours: int | None = None,
        max_bandwidth_m: float = 2000.0,
        subcells: int = 5,
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.bandwidth_m = bandwidth_m
        self.window_days = window_days
        self.kernel = kernel
        self.k_neighbours = k_neighbours
        self.max_bandwidth_m = max_bandwidth_m
        self.subcells = subcells
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive("bandwidth_m", self.bandwidth_m)
        self._positive("window_days", self.window_days, allow_none=True)  # type: ignore[arg-type]
        if self.kernel not in KERNELS:
            raise ValidationError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.k_neighbours is not None and not (
            isinstance(self.k_neighbours, int) and self.k_neighbours >= 1
        ):
            raise ValidationError(
                f"k_neighbours must be a positive integer or None, got {self.k_neighbours!r}"
            )
        self._positive("max_bandwidth_m", self.max_bandwidth_m)
        if not isinstance(self.subcells, int) or self.subcells < 1 or self.subcells % 2 == 0:
            raise ValidationError(
                f"subcells must be an odd positive integer, got {self.subcells!r}"
            )

    def _fit(self, events: TrainingEvents) -> None:
        return None

    def density(self, xy: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Kernel sums at the cell centres (ny, nx) of weighted points ``xy`` (n, 2) m."""
        h = float(self.bandwidth_m)
        if self.kernel == "quartic":

            def quartic(d: np.ndarray) -> np.ndarray:
                u = (d / h) ** 2
                return np.where(u <= 1.0, (1.0 - u) ** 2, 0.0)

            return centre_sum_points(self.grid, xy, weights, self.subcells, h, quartic)
        fine = fine_image(self.grid, xy, weights, self.subcells)

        def gauss(d: np.ndarray) -> np.ndarray:
            return np.asarray(np.exp(-0.5 * (d / h) ** 2), dtype=np.float64)

        return centre_sum_separable(self.grid, fine, self.subcells, 3.0 * h, gauss)

    def _predict(self, window: Window) -> np.ndarray:
        ev = self.events_
        t0 = self._origin_day(window)
        lo = ev.start_day if self.window_days is None else t0 - float(self.window_days)
        sel = (ev.t_day >= lo) & (ev.t_day < t0)
        if self.k_neighbours is not None:
            bw = knn_bandwidths(
                ev.xy[sel], self.k_neighbours, float(self.bandwidth_m), float(self.max_bandwidth_m)
            )
            dens = adaptive_gaussian(self.grid, ev.cell[sel], np.ones(len(bw)), bw)
        else:
            dens = self.density(ev.xy[sel], np.ones(int(sel.sum())))
        return self._scale_to_rate(dens, float(sel.sum()), t0 - max(lo, ev.start_day), window)
