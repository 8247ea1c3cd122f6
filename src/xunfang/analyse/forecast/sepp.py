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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast._kernels import (
    AdaptiveGaussian,
    gaussian_cell_sums,
    knn_bandwidths,
)
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


def _squarem(
    p: np.ndarray,
    em_step: Callable[[np.ndarray], tuple[np.ndarray, float]],
    project: Callable[[np.ndarray], np.ndarray],
    change: Callable[[np.ndarray, np.ndarray], float],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int, bool]:
    """EM accelerated by SQUAREM (Varadhan & Roland 2008, Scand. J. Stat. 35: 335-353,
    scheme S3), falling back to the plain EM step when the extrapolation is worse.
    Returns the parameters, the EM steps run and whether ``change`` fell below ``tol``."""
    steps = 0
    while steps < max_iter:
        p1, _ = em_step(p)
        p2, ll1 = em_step(p1)
        steps += 2
        r = p1 - p
        v = p2 - p1 - r
        nv = float(np.sqrt((v**2).sum()))
        if nv > 0:
            alpha = min(-float(np.sqrt((r**2).sum())) / nv, -1.0)
            q_next, ll_q = em_step(project(p - 2 * alpha * r + alpha**2 * v))
            steps += 1
            new = q_next if ll_q >= ll1 else p2
        else:
            new = p2
        done = change(p, new) < tol
        p = new
        if done:
            return p, steps, True
    return p, steps, False


def estimated_pairs(
    xy: np.ndarray, s: np.ndarray, radius_m: float, max_days: float, *, sample: int = 2000
) -> float:
    """Estimated number of pairs :func:`space_time_pairs` would return (before the
    Euclidean filter), from the neighbour counts of a fixed, evenly spaced sample of at
    most ``sample`` events (``cKDTree.query_ball_point`` with ``return_length``)."""
    from scipy.spatial import cKDTree

    n = len(s)
    if n < 2:
        return 0.0
    pts = np.column_stack([xy[:, 0] / radius_m, xy[:, 1] / radius_m, s / max_days])
    probe = pts[np.linspace(0, n - 1, min(n, sample)).astype(np.int64)]
    counts = cKDTree(pts).query_ball_point(probe, 1.0, p=np.inf, return_length=True)
    return float((np.asarray(counts) - 1).mean()) * n / 2.0


def space_time_pairs(
    xy: np.ndarray, s: np.ndarray, radius_m: float, max_days: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs of events at most ``radius_m`` metres and ``(0, max_days]`` days
    apart, found with one k-d tree on ``(x / radius_m, y / radius_m, t / max_days)``
    (``scipy.spatial.cKDTree.query_pairs``, Chebyshev radius 1) and then filtered by
    Euclidean distance.

    Parameters
    ----------
    xy
        (n, 2) metres. s
        (n,) days.

    Returns
    -------
    (source, target, delay_days, distance2_m2)
        (P,) indices of the earlier and the later event, their delay (> 0) and squared
        distance.
    """
    from scipy.spatial import cKDTree

    empty_i = np.zeros(0, dtype=np.int64)
    if len(s) < 2:
        return empty_i, empty_i, np.zeros(0), np.zeros(0)
    pts = np.column_stack([xy[:, 0] / radius_m, xy[:, 1] / radius_m, s / max_days])
    tree = cKDTree(pts)
    pr = tree.query_pairs(1.0, p=np.inf, output_type="ndarray")
    a, b = pr[:, 0].astype(np.int64), pr[:, 1].astype(np.int64)
    swap = s[a] > s[b]
    src, tgt = np.where(swap, b, a), np.where(swap, a, b)
    tau = s[tgt] - s[src]
    d2 = ((xy[tgt] - xy[src]) ** 2).sum(axis=1)
    keep = (tau > 0) & (tau <= max_days) & (d2 <= radius_m**2)
    return src[keep], tgt[keep], tau[keep], d2[keep]


_KNN_KEPT: dict[tuple[bytes, int, int, float, float], np.ndarray] = {}
"""The bandwidths of the last few event sets (:func:`_shared_knn_bandwidths`)."""


def _shared_knn_bandwidths(xy: np.ndarray, k: int, min_m: float, max_m: float) -> np.ndarray:
    """:func:`~xunfang.analyse.forecast._kernels.knn_bandwidths` of ``xy``, kept for the
    last four sets of positions (by a digest of their bytes): the same-cell and the
    space-time model fitted on the same history (``auto`` scores both on each validation
    window) search the neighbours once. A point's distance to its ``k``-th nearest
    other point does not depend on the order of the points, so ``[order]`` of the kept
    result equals the search over ``xy[order]`` bit for bit. Read-only result."""
    import hashlib

    pts = np.ascontiguousarray(xy, dtype=np.float64)
    key = (hashlib.blake2b(pts.tobytes(), digest_size=16).digest(), len(pts), k, min_m, max_m)
    h = _KNN_KEPT.get(key)
    if h is None:
        h = knn_bandwidths(pts, k, min_m, max_m)
        h.setflags(write=False)
        while len(_KNN_KEPT) >= 4:
            del _KNN_KEPT[next(iter(_KNN_KEPT))]
        _KNN_KEPT[key] = h
    return h


def _branch(
    cell: np.ndarray,
    t: np.ndarray,
    xy: np.ndarray,
    theta: np.ndarray,
    omega: np.ndarray,
    sigma_m: np.ndarray,
    duration_days: float,
    rng: np.random.Generator,
    grid: Grid | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the offspring of the events ``(cell, t, xy)``, generation by generation."""
    cells, times, points = [cell], [t], [xy]
    parent_c, parent_t, parent_xy = cell, t, xy
    while len(parent_t):
        kid_c, kid_t, kid_xy = [], [], []
        for th, om, sg in zip(theta, omega, sigma_m, strict=True):
            k = rng.poisson(th, len(parent_t))
            c = np.repeat(parent_c, k)
            ct = np.repeat(parent_t, k) + rng.exponential(1.0 / om, int(k.sum()))
            cxy = np.repeat(parent_xy, k, axis=0)
            if grid is not None and sg > 0:
                cxy = cxy + rng.normal(0.0, sg, cxy.shape)
                c = grid.cell_of(cxy)
                inside = c >= 0
                inside[inside] = grid.mask[c[inside]]
                c, ct, cxy = c[inside], ct[inside], cxy[inside]
            keep = ct < duration_days
            kid_c.append(c[keep])
            kid_t.append(ct[keep])
            kid_xy.append(cxy[keep])
        parent_c, parent_t = np.concatenate(kid_c), np.concatenate(kid_t)
        parent_xy = np.concatenate(kid_xy)
        cells.append(parent_c)
        times.append(parent_t)
        points.append(parent_xy)
    cell_all = np.concatenate(cells)
    t_all = np.concatenate(times)
    order = np.argsort(t_all, kind="stable")
    return cell_all[order].astype(np.int64), t_all[order], np.concatenate(points)[order]


def _components(
    theta: float | Sequence[float], omega: float | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    th = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    om = np.atleast_1d(np.asarray(omega, dtype=np.float64))
    if th.shape != om.shape:
        raise ValidationError(
            f"theta and omega need one value per component, got {th.size} and {om.size}"
        )
    if (th < 0).any() or not th.sum() < 1:
        raise ValidationError(
            f"theta must be >= 0 and sum to < 1 for a stable process, got {th.tolist()}"
        )
    if not (om > 0).all():
        raise ValidationError(f"omega must be > 0, got {om.tolist()}")
    return th, om


def simulate_grid_etas(
    mu: np.ndarray,
    theta: float | Sequence[float],
    omega: float | Sequence[float],
    duration_days: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the same-cell grid ETAS model by its branching structure (vectorised per
    generation): offspring stay in their parent's cell.

    Parameters
    ----------
    mu
        (n_cells,) background rates, events/day.
    theta
        Expected offspring per event (sum over components < 1); one value per
        exponential delay component.
    omega
        Triggering decay rate(s), 1/day (mean delay ``1/omega`` days), one per component.
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
        If ``theta`` does not sum to [0, 1) or rates are negative.
    """
    mu = np.asarray(mu, dtype=np.float64)
    th, om = _components(theta, omega)
    if (mu < 0).any():
        raise ValidationError("mu must be >= 0")
    n_bg = rng.poisson(mu * duration_days)
    cell = np.repeat(np.arange(len(mu)), n_bg)
    t = rng.uniform(0.0, duration_days, int(n_bg.sum()))
    c, tt, _ = _branch(
        cell, t, np.zeros((len(t), 2)), th, om, np.zeros_like(th), duration_days, rng, None
    )
    return c, tt


def simulate_sepp(
    mu: np.ndarray,
    grid: Grid,
    theta: float | Sequence[float],
    omega: float | Sequence[float],
    sigma_m: float | Sequence[float],
    duration_days: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate the space-time SEPP of :class:`GridETAS` (``trigger_bandwidth_m > 0``)
    by its branching structure (Mohler et al. 2011, section 2; Zhuang, Ogata &
    Vere-Jones 2002): background events uniform inside their cell at rate ``mu``;
    each event has Poisson(``theta_k``) offspring per component *k*, delayed by an
    exponential of mean ``1/omega_k`` days and displaced by an isotropic Gaussian of
    standard deviation ``sigma_k`` metres. Offspring that land outside the grid's active
    cells are lost (as in the fitted model, which ignores this edge loss).

    Parameters
    ----------
    mu
        (n_cells,) background rates, events/day.
    grid
        Grid (metres, projected CRS).
    theta, omega, sigma_m
        Offspring per event, decay rate (1/day) and spatial standard deviation (metres)
        of each component (floats for one component).
    duration_days
        Simulated period ``[0, duration_days)``, days.
    rng
        Seeded generator.

    Returns
    -------
    (cell, t, xy)
        (n,) int64 cells, (n,) float64 days and (n, 2) metres, sorted by time.

    Raises
    ------
    ValidationError
        For theta summing to 1 or more, non-positive rates or bandwidths, or
        ``mu`` not of one value per cell.
    """
    mu = np.asarray(mu, dtype=np.float64)
    th, om = _components(theta, omega)
    sg = np.broadcast_to(np.asarray(sigma_m, dtype=np.float64), th.shape).copy()
    if mu.shape != (grid.n_cells,) or (mu < 0).any():
        raise ValidationError(f"mu must be {grid.n_cells} rates >= 0, one per cell")
    if not (sg > 0).all():
        raise ValidationError(f"sigma_m must be > 0 metres, got {sg.tolist()}")
    n_bg = rng.poisson(np.where(grid.mask, mu, 0.0) * duration_days)
    cell = np.repeat(np.arange(len(mu)), n_bg)
    t = rng.uniform(0.0, duration_days, len(cell))
    half = grid.cell_m / 2.0
    xy = grid.centres(cell) + rng.uniform(-half, half, (len(cell), 2))
    return _branch(cell, t, xy, th, om, sg, duration_days, rng, grid)


class GridETAS(Forecaster):
    """Self-exciting point process on a grid (Mohler et al. 2011, 2015), fitted by EM.

    Two models, chosen by ``trigger_bandwidth_m``:

    * ``trigger_bandwidth_m > 0`` (default), the space-time model of Mohler et al.
      (2011): the intensity at point *x* of cell *n* (events/day/m²) is::

          lambda(x, t) = mu_n / A + sum_{t_j < t} sum_k theta_k omega_k exp(-omega_k (t - t_j))
                                                  * N(x - x_j; sigma_k)

      with ``A`` the cell area, ``N`` an isotropic Gaussian of standard deviation
      ``sigma_k`` metres, and *k* over two exponential delay components (a fast one that
      takes repeat reports minutes to hours apart and a slow one of days to weeks, a
      two-term version of the histogram kernel of Mohler 2011). Pairs farther apart
      than ``trigger_radius_m`` or ``trigger_max_days`` do not trigger. EM (Mohler 2011,
      section 3; Veen & Schoenberg 2008): the E-step gives each pair *(j, i)* the
      probability that *j* triggered *i* by component *k*; the M-step sets
      ``theta_k`` = expected offspring / compensator, ``omega_k`` = offspring / summed
      delays, ``sigma_k^2`` = summed squared distances / (2 offspring) and ``mu_n`` =
      expected background events of *n* / T. Vectorised over the space-time pairs,
      found once per fit with a k-d tree (``scipy.spatial.cKDTree.query_pairs`` in
      scaled (x, y, t)); each EM step is O(pairs). The Gaussian's mass beyond the radius
      and outside the study area is ignored in the compensator (``sigma_k`` is kept
      at most ``trigger_radius_m / 2.5``: at least 95.6 % of its mass inside).
    * ``trigger_bandwidth_m = 0``: the grid model of Mohler et al. (2015) (the module
      docstring): one exponential, triggering only inside the event's own cell.

    Defaults come from rolling-origin validation, one parameter varied at a time from
    the space-time model: ``python benchmarks/bench_sepp_prospective.py --start
    2014-12-01 --windows 10 --types "BURGLARY;MOTOR VEHICLE THEFT;THEFT"`` (example city,
    10 daily windows from 2014-12-01, each trained on the 365 days before it, which
    start 2014-01-01; 150 m cells over the police districts; hit rate at 1/5/20 %).
    The adaptive background (5 neighbours, at least 75 m) beat one rate per cell on
    burglary (.066/.218/.586 -> .070/.232/.581) and motor vehicle theft (.052/.154/.454
    -> .057/.181/.517) and lost a little on theft (.207/.398/.685 -> .190/.374/.687); a
    trigger radius of 250 m scored as 500 m at about half the time; floors of 50 or
    100 m on the spatial bandwidth scored lower on burglary and motor vehicle theft;
    one delay component scored as two (two are kept: the fast one takes repeat reports
    minutes apart, so the slow one keeps its scale of days to weeks: burglary 20 days,
    theft 17-27 days). The same-cell model with per-cell rates (the old default)
    scored .056/.216/.549, .038/.149/.460 and .208/.418/.680. A second city, the
    Portland NIJ calls (``--parquet`` of the ``portland`` ingest, ``--area bbox
    --start 2016-09-24 --windows 7 --lookback-days 60``; dates only): street crimes
    .409/.726/.791 (old) -> .415/.710/.981, motor vehicle theft .156/.190/.318 ->
    .176/.438/.922 (51 test calls), all calls .332/.676/.929 -> .330/.670/.979. Dense
    groups gain nothing: on all of the example city's crime (``--types all --windows 5``, the pair
    budget cuts triggering to about 5 days) the old model scored .124/.326/.672, this
    default .103/.288/.644 and this model with per-cell rates
    (``background_k_neighbours=none:background_bandwidth_m=0``) .120/.315/.664.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS); each cell has its own background rate.
    initial_decay_days
        Starting value of the mean triggering delay ``1/omega``, **days** (of the slow
        component in the space-time model).
    initial_theta
        Starting value of the expected offspring per event (total over components).
    background_bandwidth_m
        Standard deviation, **metres**, of a Gaussian smoothing of the background rates
        in each M-step (Mohler 2011 estimates the background by a kernel density of the
        background events); 0 keeps one free rate per cell (Mohler 2015).
    trigger_bandwidth_m
        Starting standard deviation, **metres**, of the Gaussian spatial triggering
        kernel (fitted by EM); 0 selects the same-cell grid model.
    trigger_radius_m
        Largest distance, metres, at which an event triggers (space-time model).
    trigger_max_days
        Largest delay, days, at which an event triggers (space-time model).
    trigger_min_m
        Smallest spatial standard deviation EM may choose, metres (events geocoded to
        the same address would otherwise shrink it towards 0).
    fast_decay_days
        Starting mean delay, days, of the fast component; ``None`` fits one component.
    max_pairs
        Memory and time budget: when more space-time pairs than this are expected
        (:func:`estimated_pairs`), the largest delay is shortened in proportion (the
        value used is ``trigger_max_days_``). Dense groups (all crime of a large city)
        then keep triggering over days rather than weeks.
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
        Expected offspring per event (all components).
    omega_
        Triggering decay rate of the slowest component, 1/day (``1 / omega_`` is its
        mean delay in days).
    trigger_max_days_
        Largest delay, days, used by the fit (``trigger_max_days`` or less, see
        ``max_pairs``).
    n_pairs_
        Space-time pairs of the fit (0 for the same-cell model).
    components_
        (K, 3) per delay component, slowest last: expected offspring per event, mean
        delay (days) and spatial standard deviation (metres; 0 for the same-cell model).
    trace_
        :class:`EMTrace` of the fit.
    """

    name: ClassVar[str] = "sepp"
    warm_start_converges: ClassVar[bool] = True
    mu_: np.ndarray
    theta_: float
    omega_: float
    components_: np.ndarray
    trigger_max_days_: float
    n_pairs_: int
    trace_: EMTrace
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "initial_decay_days",
        "initial_theta",
        "background_bandwidth_m",
        "background_k_neighbours",
        "background_max_m",
        "trigger_bandwidth_m",
        "trigger_radius_m",
        "trigger_max_days",
        "trigger_min_m",
        "fast_decay_days",
        "max_pairs",
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
        background_bandwidth_m: float = 75.0,
        background_k_neighbours: int | None = 5,
        background_max_m: float = 2000.0,
        trigger_bandwidth_m: float = 100.0,
        trigger_radius_m: float = 250.0,
        trigger_max_days: float = 90.0,
        trigger_min_m: float = 25.0,
        fast_decay_days: float | None = 0.25,
        max_pairs: int = 1_000_000,
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
        self.trigger_bandwidth_m = trigger_bandwidth_m
        self.trigger_radius_m = trigger_radius_m
        self.trigger_max_days = trigger_max_days
        self.trigger_min_m = trigger_min_m
        self.fast_decay_days = fast_decay_days
        self.max_pairs = max_pairs
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
        if not self.trigger_bandwidth_m >= 0:
            raise ValidationError(
                f"trigger_bandwidth_m must be >= 0, got {self.trigger_bandwidth_m}"
            )
        self._positive("trigger_radius_m", self.trigger_radius_m)
        self._positive("trigger_max_days", self.trigger_max_days)
        self._positive("trigger_min_m", self.trigger_min_m)
        if self.fast_decay_days is not None:
            self._positive("fast_decay_days", self.fast_decay_days)
        if not (isinstance(self.max_pairs, int) and self.max_pairs >= 1000):
            raise ValidationError(f"max_pairs must be an integer >= 1000, got {self.max_pairs!r}")
        if self.trigger_bandwidth_m > 0 and not (self.trigger_min_m <= self.trigger_radius_m / 2.5):
            raise ValidationError(
                f"trigger_min_m ({self.trigger_min_m}) must be at most trigger_radius_m / 2.5 "
                f"({self.trigger_radius_m / 2.5:g})"
            )
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
        if self.trigger_bandwidth_m > 0:
            self._fit_space_time(events)
        else:
            self._fit_cell(events)

    def _background_kernel(
        self, events: TrainingEvents, order: np.ndarray, cell: np.ndarray
    ) -> AdaptiveGaussian | None:
        if self.background_k_neighbours is None:
            return None
        h = _shared_knn_bandwidths(
            events.xy,
            self.background_k_neighbours,
            float(self.background_bandwidth_m),
            float(self.background_max_m),
        )[order]
        return AdaptiveGaussian(self.grid, cell, h)

    def _fit_cell(self, events: TrainingEvents) -> None:
        g = self.grid
        T = events.duration_days
        order = np.lexsort((events.t_day, events.cell))
        cell = events.cell[order]
        s = events.t_day[order] - events.start_day
        n = len(s)
        sums = DecaySums(s, cell)
        bw = self._background_kernel(events, order, cell)
        tiny = np.finfo(np.float64).tiny

        def em_step(p: np.ndarray, *, m_step: bool = True) -> tuple[np.ndarray, float]:
            """One EM step from packed parameters; also the log-likelihood at ``p``
            (``m_step=False``: the log-likelihood only, ``p`` returned unchanged)."""
            mu, theta, omega = p[:-2], float(p[-2]), float(p[-1])
            a, b = sums(omega, with_b=m_step)
            trig = theta * omega * a
            mu_ev = mu[cell]
            lam = np.maximum(mu_ev + trig, tiny)
            tail = 1.0 - np.exp(-omega * (T - s))
            loglik = float(np.log(lam).sum() - mu.sum() * T - theta * tail.sum())
            if not m_step:
                return p, loglik
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
        p, steps, converged = _squarem(
            p,
            em_step,
            lambda q: pack(q[:-2], float(q[-2]), float(q[-1])),
            change,
            self.max_iter,
            self.tol,
        )
        _, loglik = em_step(p, m_step=False)
        mu, theta, omega = p[:-2], float(p[-2]), float(p[-1])
        a, _ = sums(omega, with_b=False)
        lam = np.maximum(mu[cell] + theta * omega * a, tiny)
        self.mu_ = mu
        self.theta_ = theta
        self.omega_ = omega
        self.components_ = np.array([[theta, 1.0 / omega, 0.0]])
        self.n_pairs_ = 0
        self.trigger_max_days_ = float("inf")
        self.trace_ = EMTrace(
            iterations=steps,
            converged=converged,
            log_likelihood=loglik,
            background_share=float((mu[cell] / lam).mean()) if n else 1.0,
        )

    def _fit_space_time(self, events: TrainingEvents) -> None:
        g = self.grid
        T = events.duration_days
        s = events.t_day - events.start_day
        cell = events.cell
        n = len(s)
        bw = self._background_kernel(events, np.arange(n), cell)
        radius, max_days = float(self.trigger_radius_m), float(self.trigger_max_days)
        expected = estimated_pairs(events.xy, s, radius, max_days)
        if expected > self.max_pairs:
            max_days = max(max_days * self.max_pairs / expected, 1.0)
        _, tgt, tau, d2 = space_time_pairs(events.xy, s, radius, max_days)
        tau_c, d2_c = tau[:, None], d2[:, None]
        area = g.cell_m**2
        k = 1 if self.fast_decay_days is None else 2
        remaining = np.minimum(T - s, max_days)[:, None]
        sig_lo, sig_hi = float(self.trigger_min_m), radius / 2.5
        om_lo = 3.0 / max_days
        tiny = np.finfo(np.float64).tiny

        def unpack(p: np.ndarray) -> tuple[np.ndarray, ...]:
            return p[: -3 * k], p[-3 * k : -2 * k], p[-2 * k : -k], p[-k:]

        def pack(mu: np.ndarray, th: np.ndarray, om: np.ndarray, sg: np.ndarray) -> np.ndarray:
            th = np.maximum(th, 0.0)
            if th.sum() > 0.999:
                th = th * (0.999 / th.sum())
            return np.concatenate(
                [np.maximum(mu, 0.0), th, np.clip(om, om_lo, 1e4), np.clip(sg, sig_lo, sig_hi)]
            )

        def kernel(th: np.ndarray, om: np.ndarray, sg: np.ndarray) -> np.ndarray:
            """(P, K) triggering density of each pair and component, events/day/m²."""
            return th * om / (2.0 * np.pi * sg**2) * np.exp(-om * tau_c - d2_c / (2.0 * sg**2))

        def em_step(p: np.ndarray, *, m_step: bool = True) -> tuple[np.ndarray, float]:
            mu, th, om, sg = unpack(p)
            v = kernel(th, om, sg)
            trig = np.bincount(tgt, weights=v @ np.ones(k), minlength=n)
            bg = mu[cell] / area
            lam = np.maximum(bg + trig, tiny)
            comp = (1.0 - np.exp(-om * remaining)).sum(axis=0)
            loglik = float(np.log(lam).sum() - mu.sum() * T - (th * comp).sum())
            if not m_step:  # the log-likelihood at p only
                return p, loglik
            # responsibilities v / lambda summed with weights 1, delay and distance^2
            # (matrix products: one pass each instead of strided reductions)
            lam_t = lam[tgt]  # an event with lambda at the floor has v ~ 0: no share
            inv = np.divide(1.0, lam_t, out=np.zeros_like(lam_t), where=lam_t > 1e-250)
            nk, delay, spread = v.T @ inv, v.T @ (tau * inv), v.T @ (d2 * inv)
            new_th = np.where(comp > 0, nk / np.maximum(comp, tiny), 0.0)
            new_om = np.where(delay > 0, nk / np.maximum(delay, tiny), om)
            new_sg = np.where(nk > 0, np.sqrt(spread / (2.0 * np.maximum(nk, tiny))), sg)
            p_bg = bg / lam
            new_mu = self._smooth(
                np.bincount(cell, weights=p_bg, minlength=g.n_cells) / T, cell, p_bg / T, bw
            )
            return pack(new_mu, new_th, new_om, new_sg), loglik

        def change(p: np.ndarray, q: np.ndarray) -> float:
            _, th0, om0, sg0 = unpack(p)
            mu1, th1, om1, sg1 = unpack(q)
            live = th1 > 1e-3
            rel = [abs(mu1.sum() - p[: -3 * k].sum()) / max(p[: -3 * k].sum(), 1e-12)]
            rel.append(float(np.abs(th1 - th0).max()) / max(float(th0.sum()), 1e-3))
            if live.any():
                rel.append(float((np.abs(om1 - om0) / om0)[live].max()))
                rel.append(float((np.abs(sg1 - sg0) / sg0)[live].max()))
            return float(max(rel))

        counts = np.bincount(cell, minlength=g.n_cells).astype(np.float64)
        mu0 = self._smooth(counts * (0.5 / T), cell, np.full(n, 0.5 / T), bw)
        decays = [float(self.initial_decay_days)]
        if self.fast_decay_days is not None:
            decays.insert(0, float(self.fast_decay_days))
        p = pack(
            mu0,
            np.full(k, float(self.initial_theta) / k),
            1.0 / np.array(decays),
            np.full(k, float(self.trigger_bandwidth_m)),
        )
        prev = getattr(self, "components_", None)
        if self.warm_start and prev is not None and prev.shape == (k, 3) and prev[0, 2] > 0:
            # cells that gained their first events start from the cold value
            mu_prev = np.where(self.mu_ > 0, self.mu_, mu0)
            p = pack(mu_prev, prev[:, 0], 1.0 / prev[:, 1], prev[:, 2])
        p, steps, converged = _squarem(
            p, em_step, lambda q: pack(*unpack(q)), change, self.max_iter, self.tol
        )
        _, loglik = em_step(p, m_step=False)
        mu, th, om, sg = unpack(p)
        trig = np.bincount(tgt, weights=kernel(th, om, sg).sum(axis=1), minlength=n)
        bg = mu[cell] / area
        slow = np.argsort(-om, kind="stable")
        self.mu_ = mu.copy()
        self.theta_ = float(th.sum())
        self.omega_ = float(om[slow[-1]])
        self.components_ = np.column_stack([th[slow], 1.0 / om[slow], sg[slow]])
        self.n_pairs_ = len(tau)
        self.trigger_max_days_ = max_days
        self.trace_ = EMTrace(
            iterations=steps,
            converged=converged,
            log_likelihood=loglik,
            background_share=float((bg / np.maximum(bg + trig, tiny)).mean()) if n else 1.0,
        )

    def _predict_space_time(self, window: Window) -> np.ndarray:
        """Background over the window plus each recent event's expected offspring in the
        window, spread by its component's Gaussian and summed over 5 x 5 sub-cells of
        each cell (events at their exact positions, binned to ``cell_m / 5``)."""
        g = self.grid
        ev = self.events_
        length = window.length_days
        max_days = self.trigger_max_days_
        age = self._origin_day(window) - ev.t_day
        used = age < max_days
        age = age[used]
        end = np.minimum(age + length, max_days)
        sub = 5
        fine_m = g.cell_m / sub
        out = self.mu_ * length
        for th, delay, sg in self.components_:
            w = th * (np.exp(-age / delay) - np.exp(-end / delay))
            # the Gaussian filter of the sub-cell image summed over each cell's block,
            # from the events themselves (the same sums to rounding)
            out = out + gaussian_cell_sums(
                g, ev.xy[used], w, sub, sg / fine_m, float(self.trigger_radius_m) / sg
            )
        return out

    def _predict(self, window: Window) -> np.ndarray:
        if self.trigger_bandwidth_m > 0:
            return self._predict_space_time(window)
        ev = self.events_
        length = window.length_days
        age = self._origin_day(window) - ev.t_day
        carry = np.bincount(
            ev.cell, weights=np.exp(-self.omega_ * age), minlength=self.grid.n_cells
        )
        return self.mu_ * length + self.theta_ * (1.0 - np.exp(-self.omega_ * length)) * carry
