"""Self-exciting point process on a grid (grid ETAS), fitted by expectation-maximisation.

Mohler, G. O., Short, M. B., Brantingham, P. J., Schoenberg, F. P. & Tita, G. E. (2011),
"Self-exciting point process modeling of crime", JASA 106(493): 100-108; the grid
version used in the field trials of Mohler, Short, Malinowski, Johnson, Tita, Bertozzi &
Brantingham (2015), "Randomized controlled field trials of predictive policing", JASA
110(512): 1399-1411. In each cell *n* the conditional intensity (events per day) is::

    lambda_n(t) = mu_n + sum_{t_i < t, i in n} theta * omega * exp(-omega (t - t_i))

a background rate ``mu_n`` plus a triggering kernel: each event raises the rate of its
own cell by ``theta`` expected offspring spread over an exponential delay of mean
``1/omega`` days. EM (Mohler 2015, appendix): the E-step gives each event the
probability that it is background, ``mu_n / lambda_n(t_i)``, or triggered by an
earlier event *j* in its cell, ``theta omega exp(-omega (t_i - t_j)) / lambda_n(t_i)``;
the M-step sets ``mu_n`` = expected background events of *n* / T, ``theta`` = expected
triggered events / compensator, and ``omega`` = triggered events / their summed delays.

Vectorisation: the sums over earlier events of the same cell,
``A_i = sum_j exp(-omega (t_i - t_j))`` and ``B_i = sum_j (t_i - t_j) exp(...)``, are
computed for all events at once with a log-space cumulative sum
(``numpy.logaddexp.accumulate``) over events sorted by cell then time, cells separated
by a time gap long enough for ``exp(-omega * gap)`` to underflow to zero. No loop
runs over events or pairs; each EM iteration is O(n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast._kernels import AdaptiveGaussian, knn_bandwidths
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

_GAP_EXPONENT = 800.0
"""exp(-800) underflows to 0 in float64: the gap between cells in decay units."""


@dataclass(frozen=True)
class EMTrace:
    """How the EM fit went.

    Attributes
    ----------
    iterations
        EM steps run (three per SQUAREM cycle).
    converged
        Whether the relative change fell below the tolerance.
    log_likelihood
        Log-likelihood of the fitted model on the training events.
    background_share
        Expected share of training events that are background (not triggered).
    """

    iterations: int
    converged: bool
    log_likelihood: float
    background_share: float


class DecaySums:
    """Sums over earlier events of the same group, for events sorted by group then time.

    ``A_i = sum_{j<i} exp(-omega (s_i - s_j))`` and
    ``B_i = sum_{j<i} (s_i - s_j) exp(-omega (s_i - s_j))`` over earlier events *j* of the
    group of *i*, for any decay rate ``omega`` (1/day), by a log-space cumulative sum.
    The sort and the group structure are computed once.

    Parameters
    ----------
    s
        (n,) times, days, >= 0, ascending within each group.
    group
        (n,) int group (cell) labels, non-decreasing.
    """

    def __init__(self, s: np.ndarray, group: np.ndarray) -> None:
        n = len(s)
        self.s = np.asarray(s, dtype=np.float64)
        self.new = np.ones(n, dtype=bool)
        self.new[1:] = group[1:] != group[:-1]
        self.rank = (np.cumsum(self.new) - 1).astype(np.float64)
        self.span = float(self.s.max()) if n else 0.0
        with np.errstate(divide="ignore"):
            self.log_s = np.log(self.s)

    def __call__(self, omega: float, *, with_b: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) at decay rate ``omega`` (B is zeros when ``with_b`` is False)."""
        n = len(self.s)
        a = np.zeros(n)
        b = np.zeros(n)
        if n == 0:
            return a, b
        gap = self.span + _GAP_EXPONENT / omega
        x = omega * (self.s + self.rank * gap)
        lacc = np.logaddexp.accumulate(x)
        a[1:] = np.exp(lacc[:-1] - x[1:])
        a[self.new] = 0.0
        if with_b:
            lc = np.logaddexp.accumulate(x + self.log_s)
            c = np.zeros(n)
            c[1:] = np.exp(lc[:-1] - x[1:])
            c[self.new] = 0.0
            b = np.maximum(self.s * a - c, 0.0)
        return a, b


def decay_sums(s: np.ndarray, group: np.ndarray, omega: float) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` of :class:`DecaySums` in one call (see there)."""
    return DecaySums(s, group)(omega)


def simulate_grid_etas(
    mu: np.ndarray,
    theta: float,
    omega: float,
    duration_days: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the grid ETAS model by its branching structure (vectorised per generation).

    Parameters
    ----------
    mu
        (n_cells,) background rates, events/day.
    theta
        Expected offspring per event (< 1).
    omega
        Triggering decay rate, 1/day (mean delay ``1/omega`` days).
    duration_days
        Simulated period ``[0, duration_days)``, days.
    rng
        Seeded generator.

    Returns
    -------
    (cell, t)
        (n,) int64 cells and (n,) float64 times in days, sorted by time.

    Raises
    ------
    ValidationError
        If ``theta`` is not in [0, 1) or rates are negative.
    """
    mu = np.asarray(mu, dtype=np.float64)
    if not 0 <= theta < 1:
        raise ValidationError(f"theta must be in [0, 1) for a stable process, got {theta}")
    if (mu < 0).any() or not omega > 0:
        raise ValidationError("mu must be >= 0 and omega > 0")
    n_bg = rng.poisson(mu * duration_days)
    cells = [np.repeat(np.arange(len(mu)), n_bg)]
    times = [rng.uniform(0.0, duration_days, int(n_bg.sum()))]
    parent_c, parent_t = cells[0], times[0]
    while len(parent_t):
        k = rng.poisson(theta, len(parent_t))
        c = np.repeat(parent_c, k)
        t = np.repeat(parent_t, k) + rng.exponential(1.0 / omega, int(k.sum()))
        keep = t < duration_days
        parent_c, parent_t = c[keep], t[keep]
        cells.append(parent_c)
        times.append(parent_t)
    cell = np.concatenate(cells)
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return cell[order].astype(np.int64), t[order]


class GridETAS(Forecaster):
    """Grid self-exciting point process (Mohler et al. 2011, 2015), fitted by EM.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS); each cell has its own background rate.
    initial_decay_days
        Starting value of the mean triggering delay ``1/omega``, **days**.
    initial_theta
        Starting value of the expected offspring per event.
    background_bandwidth_m
        Standard deviation, **metres**, of a Gaussian smoothing of the background rates
        in each M-step (Mohler 2011 estimates the background by a kernel density of the
        background events); 0 keeps one free rate per cell (Mohler 2015).
    max_iter
        Maximum EM steps (SQUAREM-accelerated: each cycle takes three).
    tol
        Stop when the relative change of ``theta``, ``omega`` and the total background
        rate over one SQUAREM cycle is below this.
    warm_start
        Start EM from the previous fit's parameters when refitting (scikit-learn's
        convention; speeds up rolling-origin refits, which differ by one window).
    seed
        Kept for the common contract (EM is deterministic).

    Attributes
    ----------
    mu_
        (n_cells,) background rate, events/day.
    theta_
        Expected offspring per event.
    omega_
        Triggering decay rate, 1/day (``1 / omega_`` is the mean delay in days).
    trace_
        :class:`EMTrace` of the fit.
    """

    name: ClassVar[str] = "sepp"
    mu_: np.ndarray
    theta_: float
    omega_: float
    trace_: EMTrace
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "initial_decay_days",
        "initial_theta",
        "background_bandwidth_m",
        "background_k_neighbours",
        "background_max_m",
        "max_iter",
        "tol",
        "warm_start",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        initial_decay_days: float = 7.0,
        initial_theta: float = 0.3,
        background_bandwidth_m: float = 0.0,
        background_k_neighbours: int | None = None,
        background_max_m: float = 2000.0,
        max_iter: int = 200,
        tol: float = 1e-3,
        warm_start: bool = False,
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.initial_decay_days = initial_decay_days
        self.initial_theta = initial_theta
        self.background_bandwidth_m = background_bandwidth_m
        self.background_k_neighbours = background_k_neighbours
        self.background_max_m = background_max_m
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive("initial_decay_days", self.initial_decay_days)
        if not 0 < self.initial_theta < 1:
            raise ValidationError(f"initial_theta must be in (0, 1), got {self.initial_theta}")
        if not self.background_bandwidth_m >= 0:
            raise ValidationError(
                f"background_bandwidth_m must be >= 0, got {self.background_bandwidth_m}"
            )
        k = self.background_k_neighbours
        if k is not None and not (isinstance(k, int) and k >= 1):
            raise ValidationError(
                f"background_k_neighbours must be a positive integer or None, got {k!r}"
            )
        if k is not None and not self.background_bandwidth_m > 0:
            raise ValidationError(
                "background_k_neighbours needs background_bandwidth_m > 0 (the smallest "
                "adaptive bandwidth, metres)"
            )
        self._positive("background_max_m", self.background_max_m)
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValidationError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        self._positive("tol", self.tol)

    def _smooth(
        self,
        per_cell: np.ndarray,
        cell: np.ndarray,
        weight: np.ndarray,
        bw: AdaptiveGaussian | None,
    ) -> np.ndarray:
        """Smoothing of the background (per-cell sums of ``weight`` over events in
        ``cell``), mass kept inside the active cells."""
        if self.background_bandwidth_m <= 0:
            return per_cell
        g = self.grid
        if bw is not None:
            out = bw(weight)
        else:
            img = per_cell.reshape(g.ny, g.nx)
            out = ndimage.gaussian_filter(
                img, self.background_bandwidth_m / g.cell_m, mode="constant", truncate=3.0
            ).ravel()
        out = np.where(g.mask, out, 0.0)
        total = out.sum()
        return out * (per_cell.sum() / total) if total > 0 else per_cell

    def _fit(self, events: TrainingEvents) -> None:
        g = self.grid
        T = events.duration_days
        order = np.lexsort((events.t_day, events.cell))
        cell = events.cell[order]
        s = events.t_day[order] - events.start_day
        n = len(s)
        sums = DecaySums(s, cell)
        bw = None
        if self.background_k_neighbours is not None:
            h = knn_bandwidths(
                events.xy[order],
                self.background_k_neighbours,
                float(self.background_bandwidth_m),
                float(self.background_max_m),
            )
            bw = AdaptiveGaussian(g, cell, h)
        tiny = np.finfo(np.float64).tiny

        def em_step(p: np.ndarray) -> tuple[np.ndarray, float]:
            """One EM step from packed parameters; also the log-likelihood at ``p``."""
            mu, theta, omega = p[:-2], float(p[-2]), float(p[-1])
            a, b = sums(omega)
            trig = theta * omega * a
            mu_ev = mu[cell]
            lam = np.maximum(mu_ev + trig, tiny)
            tail = 1.0 - np.exp(-omega * (T - s))
            loglik = float(np.log(lam).sum() - mu.sum() * T - theta * tail.sum())
            p_bg = mu_ev / lam
            n_tr = float((trig / lam).sum())
            delay_sum = float((theta * omega * b / lam).sum())
            new_mu = self._smooth(
                np.bincount(cell, weights=p_bg, minlength=g.n_cells) / T, cell, p_bg / T, bw
            )
            new_theta = n_tr / float(tail.sum()) if tail.sum() > 0 else 0.0
            new_omega = n_tr / delay_sum if delay_sum > 0 else omega
            return pack(new_mu, new_theta, new_omega), loglik

        def pack(mu: np.ndarray, theta: float, omega: float) -> np.ndarray:
            return np.concatenate(
                [np.maximum(mu, 0.0), [min(max(theta, 0.0), 0.999)], [np.clip(omega, 1e-4, 1e4)]]
            )

        def change(p: np.ndarray, q: np.ndarray) -> float:
            return float(
                max(
                    abs(q[-2] - p[-2]) / max(p[-2], 1e-12),
                    abs(q[-1] - p[-1]) / p[-1],
                    abs(q[:-2].sum() - p[:-2].sum()) / max(p[:-2].sum(), 1e-12),
                )
            )

        counts = np.bincount(cell, minlength=g.n_cells).astype(np.float64)
        mu0 = self._smooth(counts * (0.5 / T), cell, np.full(n, 0.5 / T), bw)
        p = pack(mu0, float(self.initial_theta), 1.0 / float(self.initial_decay_days))
        prev = getattr(self, "mu_", None)
        if self.warm_start and prev is not None and prev.shape == mu0.shape:
            # cells that gained their first events start from the cold value
            p = pack(np.where(prev > 0, prev, mu0), self.theta_, self.omega_)
        # EM accelerated by SQUAREM (Varadhan & Roland 2008, Scand. J. Stat. 35: 335-353,
        # scheme S3), falling back to the plain EM step when the extrapolation is worse.
        converged = False
        steps = 0
        while steps < self.max_iter:
            p1, _ = em_step(p)
            p2, ll1 = em_step(p1)
            steps += 2
            r = p1 - p
            v = p2 - p1 - r
            nv = float(np.sqrt((v**2).sum()))
            if nv > 0:
                alpha = min(-float(np.sqrt((r**2).sum())) / nv, -1.0)
                q = p - 2 * alpha * r + alpha**2 * v
                q = pack(q[:-2], float(q[-2]), float(q[-1]))
                q_next, ll_q = em_step(q)
                steps += 1
                new = q_next if ll_q >= ll1 else p2
            else:
                new = p2
            done = change(p, new) < self.tol
            p = new
            if done:
                converged = True
                break
        _, loglik = em_step(p)
        mu, theta, omega = p[:-2], float(p[-2]), float(p[-1])
        a, _ = sums(omega, with_b=False)
        lam = np.maximum(mu[cell] + theta * omega * a, tiny)
        self.mu_ = mu
        self.theta_ = theta
        self.omega_ = omega
        self.trace_ = EMTrace(
            iterations=steps,
            converged=converged,
            log_likelihood=loglik,
            background_share=float((mu[cell] / lam).mean()) if n else 1.0,
        )

    def _predict(self, window: Window) -> np.ndarray:
        ev = self.events_
        length = window.length_days
        age = window.start_day - ev.t_day
        carry = np.bincount(
            ev.cell, weights=np.exp(-self.omega_ * age), minlength=self.grid.n_cells
        )
        return self.mu_ * length + self.theta_ * (1.0 - np.exp(-self.omega_ * length)) * carry
