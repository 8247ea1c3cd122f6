"""A learned forecaster: gradient-boosted trees with a Poisson loss over cell features.

For each training origin ``t`` (the ``n_origins`` days before the end of the training
data, ``origin_step_days`` apart) and each active cell ``c`` the model sees features
computed only from events before ``t`` and learns the count in ``[t, t + horizon_days)``.
To forecast a window it computes the same features at the window's start from every
training event (all of which precede it) and scales the predicted rate to the window's
length. Features, per cell:

- counts per day over the last 7, 28, 91 and 365 days (divided by the days of history
  actually available, so that a short history does not read as a quiet cell);
- the same 28- and 365-day rates smoothed over neighbouring cells (Gaussian, 1 and 3
  cells), the spatial scales of the retrospective KDE;
- a near-repeat score: events of the last 8 weeks weighted ``exp(-age / 7 days)`` and
  spread over the neighbouring cells (the prospective kernel of Bowers, Johnson & Pease
  2004, in continuous form);
- the rate in the same 4 weeks of the previous year (missing when the history is
  shorter: the trees route missing values, no imputation);
- the trend (28-day rate minus 365-day rate);
- the cell's position (x, y in cell units from the grid origin): a place term.

Model: scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingRegressor` with
``loss="poisson"`` (Friedman 2001, "Greedy function approximation: a gradient boosting
machine", Annals of Statistics 29(5); histogram binning as in LightGBM, Ke et al. 2017).
The use of such features for crime hotspots follows Mohler & Porter (2018), "Rotational
grid, PAI-maximizing crime forecasts", Statistical Analysis and Data Mining 11(5), and
the risk-terrain idea that place carries risk (Caplan & Kennedy 2011).

Scikit-learn's histogram trees expose no split-gain importance, so
``feature_importance_`` reports the mean absolute change of the predicted log-rate when a
feature is replaced by its mean over the training rows (cheap and model-agnostic): it
tells an analyst which of the features above make a cell hot.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import ndimage
from sklearn.ensemble import HistGradientBoostingRegressor

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.grid import Grid

FEATURES: tuple[str, ...] = (
    "rate_7d",
    "rate_28d",
    "rate_91d",
    "rate_365d",
    "rate_28d_s1",
    "rate_28d_s3",
    "rate_365d_s1",
    "rate_365d_s3",
    "near_repeat",
    "last_year_4w",
    "trend",
    "x_cell",
    "y_cell",
)
"""Names of the feature columns, in order."""

_SCALES_D = (7.0, 28.0, 91.0, 365.0)
_NEAR_REPEAT_DAYS = 56.0
_NEAR_REPEAT_TAU_D = 7.0


class GradientBoosted(Forecaster):
    """Gradient-boosted Poisson trees over cell features (see the module docstring).

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    horizon_days
        Length of the target period of each training origin, days (the forecast of a
        window of another length is scaled by its length).
    n_origins
        Number of training origins before the end of the training data.
    origin_step_days
        Spacing of the training origins, days.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to :class:`sklearn.ensemble.HistGradientBoostingRegressor`.
    warm_start
        Keep the fitted trees when refitted on data that ends less than
        ``refit_days`` later than the last full fit (the rolling evaluation refits every
        window): only the features move on.
    refit_days
        See ``warm_start``.
    seed
        Random state of the trees.

    Attributes
    ----------
    model_
        The fitted regressor.
    used_features_
        (len(FEATURES),) bool: the features that had a value at some training origin
        (the others, e.g. the previous year under a one-year look-back, are left out).
    feature_importance_
        Dict feature name -> importance (mean absolute change of the log-rate when
        the feature is set to its mean; 0 for a feature left out), summing to 1.
    """

    name: ClassVar[str] = "gbm"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "horizon_days",
        "n_origins",
        "origin_step_days",
        "max_iter",
        "learning_rate",
        "max_leaf_nodes",
        "min_samples_leaf",
        "l2_regularization",
        "warm_start",
        "refit_days",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        horizon_days: float = 1.0,
        n_origins: int = 28,
        origin_step_days: float = 1.0,
        max_iter: int = 150,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        warm_start: bool = False,
        refit_days: float = 7.0,
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.horizon_days = horizon_days
        self.n_origins = n_origins
        self.origin_step_days = origin_step_days
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.warm_start = warm_start
        self.refit_days = refit_days
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        for name in ("horizon_days", "origin_step_days", "learning_rate", "refit_days"):
            self._positive(name, getattr(self, name))
        for name in ("n_origins", "max_iter", "min_samples_leaf"):
            self._positive(name, getattr(self, name))

    # ---- features
    def features(self, events: TrainingEvents, origin_day: float) -> np.ndarray:
        """Features of every active cell at ``origin_day`` from the events before it.

        Parameters
        ----------
        events
            Training events (only those with ``t_day < origin_day`` are read).
        origin_day
            Days since 1970-01-01 UTC.

        Returns
        -------
        numpy.ndarray
            Shape (n_active, len(FEATURES)), float64, rows in the order of
            ``numpy.flatnonzero(grid.mask)``.
        """
        g = self.grid
        active = np.flatnonzero(g.mask)
        t = events.t_day
        end = int(np.searchsorted(t, origin_day, side="left"))
        history_d = max(origin_day - events.start_day, 1e-9)
        cols: dict[str, np.ndarray] = {}
        images: dict[float, np.ndarray] = {}
        for scale in _SCALES_D:
            lo = int(np.searchsorted(t, origin_day - scale, side="left"))
            days = min(scale, history_d)
            img = np.bincount(events.cell[lo:end], minlength=g.n_cells) / days
            images[scale] = img.reshape(g.ny, g.nx)
            cols[f"rate_{int(scale)}d"] = img[active]
        for scale in (28.0, 365.0):
            for sigma in (1, 3):
                sm = ndimage.gaussian_filter(images[scale], sigma, mode="constant", truncate=3.0)
                cols[f"rate_{int(scale)}d_s{sigma}"] = sm.ravel()[active]
        lo = int(np.searchsorted(t, origin_day - _NEAR_REPEAT_DAYS, side="left"))
        w = np.exp(-(origin_day - t[lo:end]) / _NEAR_REPEAT_TAU_D)
        nr = np.bincount(events.cell[lo:end], weights=w, minlength=g.n_cells)
        nr = ndimage.gaussian_filter(nr.reshape(g.ny, g.nx), 1.0, mode="constant", truncate=2.0)
        cols["near_repeat"] = nr.ravel()[active]
        ly0, ly1 = origin_day - 365.0, origin_day - 365.0 + 28.0
        if ly0 >= events.start_day:
            a = int(np.searchsorted(t, ly0, side="left"))
            b = int(np.searchsorted(t, ly1, side="left"))
            cols["last_year_4w"] = (np.bincount(events.cell[a:b], minlength=g.n_cells) / 28.0)[
                active
            ]
        else:
            cols["last_year_4w"] = np.full(active.size, np.nan)
        cols["trend"] = cols["rate_28d"] - cols["rate_365d"]
        cols["x_cell"] = (active % g.nx).astype(np.float64)
        cols["y_cell"] = (active // g.nx).astype(np.float64)
        return np.column_stack([cols[name] for name in FEATURES])

    # ---- contract
    def _fit(self, events: TrainingEvents) -> None:
        prev = getattr(self, "model_", None)
        fitted_end = getattr(self, "fitted_end_day_", None)
        if (
            self.warm_start
            and prev is not None
            and fitted_end is not None
            and 0 <= events.end_day - fitted_end < float(self.refit_days)
        ):
            return
        g = self.grid
        active = np.flatnonzero(g.mask)
        h = float(self.horizon_days)
        origins = events.end_day - h - float(self.origin_step_days) * np.arange(self.n_origins)
        origins = origins[origins - events.start_day >= 28.0]
        if origins.size == 0:  # too short a history to learn from: one origin at the middle
            origins = np.array([events.start_day + 0.5 * events.duration_days])
            h = min(h, events.end_day - float(origins[0]))
        xs, ys = [], []
        for o in origins:
            xs.append(self.features(events, float(o)))
            a = int(np.searchsorted(events.t_day, o, side="left"))
            b = int(np.searchsorted(events.t_day, o + h, side="left"))
            ys.append(np.bincount(events.cell[a:b], minlength=g.n_cells)[active] / h)
        x = np.vstack(xs)
        y = np.concatenate(ys)
        # a feature with no value at any origin (the previous year, under a one-year
        # look-back) carries nothing: leave it out rather than give the trees a NaN column
        used = np.isfinite(x).any(axis=0)
        x = x[:, used]
        model = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=int(self.max_iter),
            learning_rate=float(self.learning_rate),
            max_leaf_nodes=int(self.max_leaf_nodes),
            min_samples_leaf=int(self.min_samples_leaf),
            l2_regularization=float(self.l2_regularization),
            early_stopping=False,
            random_state=int(self.seed),
        )
        model.fit(x, y)
        self.model_ = model
        self.used_features_ = used
        self.fitted_end_day_ = events.end_day
        names = [n for n, u in zip(FEATURES, used, strict=True) if u]
        self.feature_importance_ = dict.fromkeys(FEATURES, 0.0) | _importance(model, x, names)

    def _predict(self, window: Window) -> np.ndarray:
        g = self.grid
        x = self.features(self.events_, window.start_day)[:, self.used_features_]
        out = np.zeros(g.n_cells)
        out[np.flatnonzero(g.mask)] = self.model_.predict(x) * window.length_days
        return out


def _importance(
    model: HistGradientBoostingRegressor, x: np.ndarray, names: list[str]
) -> dict[str, float]:
    """Mean absolute change of the log-rate when each feature is set to its mean."""
    rows = x[:: max(1, x.shape[0] // 20000)]
    base = np.log(np.maximum(model.predict(rows), 1e-12))
    raw = []
    for j in range(rows.shape[1]):
        z = rows.copy()
        col = z[:, j]
        z[:, j] = np.nanmean(col) if np.isfinite(col).any() else np.nan
        raw.append(float(np.mean(np.abs(np.log(np.maximum(model.predict(z), 1e-12)) - base))))
    total = sum(raw) or 1.0
    return {name: v / total for name, v in zip(names, raw, strict=True)}
