"""A stacked ensemble: a non-negative Poisson combination of other forecasters' surfaces.

Stacked generalisation (Wolpert 1992, "Stacked generalization", Neural Networks 5(2)) with
non-negative weights (Breiman 1996, "Stacked regressions", Machine Learning 24(1)): at
each of ``n_origins`` past origins ``t`` (``origin_step_days`` apart, before the end of the
training data) every base forecaster is fitted on the training events before ``t`` and
forecasts ``[t, t + horizon_days)``; the weights ``w >= 0`` maximise the Poisson
likelihood of the counts observed there under the rate ``sum_k w_k * surface_k``. They
are found by the multiplicative EM update for non-negative Poisson linear models
(Shepp & Vardi 1982, "Maximum likelihood reconstruction for emission tomography", IEEE
Trans. Medical Imaging 1(2)), which keeps every weight non-negative and raises the
likelihood at every step. To forecast a window the bases are refitted on all training
events and their surfaces combined with the weights. No step reads an event at or
after the window's start: the origins all lie inside the training data.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window, from_days
from xunfang.analyse.forecast.kde import RetrospectiveKDE
from xunfang.analyse.forecast.learned import keeps_warm_fit
from xunfang.analyse.forecast.naive import NaiveCounts
from xunfang.analyse.forecast.prospective import ProspectiveHotspot
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError


def default_bases(grid: Grid) -> tuple[Forecaster, ...]:
    """The ensemble's default members: counts of the last year, a 60-day KDE (200 m), a
    one-year KDE (400 m) and prospective hotspotting (400 m, 8 weeks)."""
    return (
        NaiveCounts(grid=grid, period_days=365.0),
        RetrospectiveKDE(grid=grid),
        RetrospectiveKDE(grid=grid, bandwidth_m=400.0, window_days=365.0),
        ProspectiveHotspot(grid=grid),
    )


def poisson_nonnegative_weights(
    surfaces: np.ndarray, counts: np.ndarray, *, n_iter: int = 300
) -> np.ndarray:
    """Non-negative weights maximising the Poisson likelihood of ``counts`` under the
    rates ``surfaces @ w`` (multiplicative EM, Shepp & Vardi 1982).

    Parameters
    ----------
    surfaces
        (n_rows, n_bases) non-negative expected counts of each base.
    counts
        (n_rows,) observed counts.
    n_iter
        EM iterations.

    Returns
    -------
    numpy.ndarray
        (n_bases,) weights, ``>= 0``; a base whose surface is zero everywhere gets 0.

    Raises
    ------
    ValidationError
        On negative or non-finite input, or mismatched shapes.
    """
    s = np.asarray(surfaces, dtype=np.float64)
    y = np.asarray(counts, dtype=np.float64)
    if s.ndim != 2 or y.shape != (s.shape[0],):
        raise ValidationError(
            f"surfaces must be (n_rows, n_bases) and counts (n_rows,), got {s.shape}, {y.shape}"
        )
    if not (np.isfinite(s).all() and np.isfinite(y).all()) or (s < 0).any() or (y < 0).any():
        raise ValidationError("surfaces and counts must be finite and non-negative")
    col = s.sum(axis=0)
    w = np.where(col > 0, y.sum() / max(len(col), 1) / np.where(col > 0, col, 1.0), 0.0)
    # a row without a count adds only to the column sums ``col``: the updates need the
    # rows with counts alone (on a city grid, a few per cent of the rows)
    seen = y > 0
    s_seen, y_seen = s[seen], y[seen]
    for _ in range(int(n_iter)):
        mu = s_seen @ w
        ratio = np.divide(y_seen, mu, out=np.zeros_like(y_seen), where=mu > 0)
        w = np.where(col > 0, w * (s_seen.T @ ratio) / np.where(col > 0, col, 1.0), 0.0)
    return w


class StackedEnsemble(Forecaster):
    """Non-negative Poisson stack of base forecasters (see the module docstring).

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS); the bases are rebuilt on it.
    bases
        The member forecasters (any grid); ``None`` for :func:`default_bases`.
    n_origins
        Past origins at which the weights are fitted.
    origin_step_days
        Spacing of the origins, days.
    horizon_days
        Length of the period forecast at each origin, days.
    warm_start
        Keep the weights when refitted on data that ends less than ``refit_days`` after
        the last full fit (the bases are refitted every time).
    refit_days
        See ``warm_start``.
    seed
        Passed to the bases.

    Attributes
    ----------
    bases_
        The fitted bases, on ``grid``.
    weights_
        (n_bases,) non-negative weights.
    """

    name: ClassVar[str] = "stack"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "bases",
        "n_origins",
        "origin_step_days",
        "horizon_days",
        "warm_start",
        "refit_days",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        bases: tuple[Forecaster, ...] | None = None,
        n_origins: int = 10,
        origin_step_days: float = 3.0,
        horizon_days: float = 1.0,
        warm_start: bool = False,
        refit_days: float = 7.0,
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.bases = bases
        self.n_origins = n_origins
        self.origin_step_days = origin_step_days
        self.horizon_days = horizon_days
        self.warm_start = warm_start
        self.refit_days = refit_days
        self.seed = seed

    def describe(self) -> str:
        """Name with the members, for tables."""
        members = "default" if self.bases is None else ", ".join(b.describe() for b in self.bases)
        return f"stack(bases=[{members}], n_origins={self.n_origins})"

    def _validate(self) -> None:
        super()._validate()
        for name in ("n_origins", "origin_step_days", "horizon_days", "refit_days"):
            self._positive(name, getattr(self, name))
        if self.bases is not None and (
            not self.bases or not all(isinstance(b, Forecaster) for b in self.bases)
        ):
            raise ValidationError("bases must be a non-empty tuple of forecasters or None")

    def _members(self) -> list[Forecaster]:
        raw = default_bases(self.grid) if self.bases is None else self.bases
        return [b.with_params(grid=self.grid, seed=int(self.seed)) for b in raw]

    def _fit(self, events: TrainingEvents) -> None:
        members = self._members()
        if not keeps_warm_fit(self, events):
            self.weights_ = self._fit_weights(events, members)
            self.fitted_end_day_ = events.end_day
        self.bases_ = [b.fit_events(events) for b in members]

    def _fit_weights(self, events: TrainingEvents, members: list[Forecaster]) -> np.ndarray:
        g = self.grid
        active = np.flatnonzero(g.mask)
        h = float(self.horizon_days)
        rows, ys = [], []
        for k in range(int(self.n_origins)):
            o = events.end_day - h - k * float(self.origin_step_days)
            if o - events.start_day < 28.0:
                break
            try:
                past = events.between(events.start_day, o)
            except ValidationError:  # no event before this origin: nothing to learn here
                continue
            w = Window(from_days(o), from_days(o + h))
            surfaces = [b.fit_events(past).predict(w).risk[active] for b in members]
            rows.append(np.column_stack(surfaces))
            a, b_ = np.searchsorted(events.t_day, [o, o + h], side="left")
            ys.append(np.bincount(events.cell[a:b_], minlength=g.n_cells)[active])
        if not rows:
            raise ValidationError(
                f"stack needs at least {28 + h:g} days of training history with events, got "
                f"{events.duration_days:.1f} days"
            )
        return poisson_nonnegative_weights(np.vstack(rows), np.concatenate(ys))

    def _predict(self, window: Window) -> np.ndarray:
        out = np.zeros(self.grid.n_cells)
        for wk, b in zip(self.weights_, self.bases_, strict=True):
            if wk > 0:
                out += wk * b.predict(window).risk
        return out
