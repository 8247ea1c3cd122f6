"""A learned forecaster: gradient-boosted trees with a Poisson loss over cell features.

For each training origin ``t`` (``n_origins`` origins before the end of the training
data, ``origin_step_days`` apart) and each active cell ``c`` the model sees features
computed only from events before ``t`` and learns the count in ``[t, t + horizon_days)``
(stacked rows: origin x cell). To forecast a window it computes the same features at
the window's start from the training events (all of which precede it) and scales the
predicted rate to the window's length. Features, per cell (names in brackets):

- counts per day over the last 7, 28, 91 and 365 days (``rate_7d`` ...), divided by the
  days of history actually available, so that a short history does not read as a quiet
  cell;
- spatial scales: the same rates smoothed by Gaussian kernels of 1, 2 and 3 cells
  (``rate_28d_s1`` ..., the retrospective KDE at several bandwidths) and the mean rate of
  the first and second ring of neighbours (``ring1_365d``, ``ring2_365d``);
- near-repeat scores, the prospective kernel of Bowers, Johnson & Pease (2004) in
  continuous form: events of the last 8 weeks weighted ``exp(-age / 7 days)``
  (``near_repeat``) and of the last 2 weeks weighted ``exp(-age / 1 day)``
  (``near_repeat_1d``), spread over the neighbouring cells;
- the rate in the same 4 weeks of the previous year (``last_year_4w``; missing when the
  history is shorter: the trees route missing values, no imputation) and the trends
  (``trend_28d``, ``trend_91d``: short minus long rate);
- the window: local day of week, start hour, season (``season_sin``/``season_cos`` of the
  day of year), and the share of the cell's last-year events that fell on the window's
  day of week (``dow_share``, from the events' local hour of week);
- the cell's position (``x_cell``, ``y_cell`` in cells from the grid origin);
- with a :class:`CellContext`: the type mix (the rate of all crime types in the cell and
  around it, and the share of them that is of the forecast type: ``all_rate_28d``,
  ``all_rate_365d``, ``all_rate_365d_s1``, ``type_share_365d``), and the place: distance
  to police stations, schools, major roads and junctions and the junction and road
  density of the cell (risk terrain modelling, Caplan, Kennedy & Miller 2011, "Risk
  terrain modeling: brokering criminological theory and GIS methods for crime
  forecasting", Justice Quarterly 28(2)), built by :func:`place_layers` from a city's
  files. A layer the city does not have is left out and named in ``CellContext.missing``.

Features for all training origins are built at once: event counts by day of age are
summed cumulatively over days (one array per source, the windows are differences of
it), the exponentially weighted near-repeat sums use the same trick with a reverse
cumulative sum, and the spatial smoothing runs on the stack of origins with separable
Gaussian and box filters.

Model: LightGBM's gradient-boosted trees with a Poisson objective (Ke et al. 2017,
"LightGBM: a highly efficient gradient boosting decision tree", NeurIPS; Friedman 2001,
"Greedy function approximation: a gradient boosting machine", Annals of Statistics
29(5)), one thread. Rows with no event in the target period are subsampled (kept with
probability ``q`` and weight ``1/q``), which leaves the expected Poisson loss unchanged
and makes a fit several times faster on a city grid where most cells are empty on most
days. The use of such features for crime hotspots follows Mohler & Porter (2018),
"Rotational grid, PAI-maximizing crime forecasts", Statistical Analysis and Data Mining
11(5).

Why a cell is hot: ``feature_importance_`` is each feature's share of the total split
gain of the trees, and :meth:`GradientBoosted.explain` gives, for chosen cells of a
forecast, each feature's additive contribution to the predicted log-rate (TreeSHAP,
Lundberg et al. 2020, "From local explanations to global understanding with explainable
AI for trees", Nature Machine Intelligence 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window, from_days
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

if TYPE_CHECKING:
    from xunfang.ingest.areas import StudyArea
    from xunfang.ingest.city import City
    from xunfang.ingest.incidents import IncidentTable
    from xunfang.ingest.network import RoadNetwork

FEATURES: tuple[str, ...] = (
    "rate_7d",
    "rate_28d",
    "rate_91d",
    "rate_365d",
    "rate_7d_s1",
    "rate_28d_s1",
    "rate_28d_s3",
    "rate_91d_s2",
    "rate_365d_s1",
    "rate_365d_s3",
    "ring1_365d",
    "ring2_365d",
    "near_repeat",
    "near_repeat_1d",
    "last_year_4w",
    "trend_28d",
    "trend_91d",
    "dow_share",
    "day_of_week",
    "start_hour",
    "season_sin",
    "season_cos",
    "x_cell",
    "y_cell",
)
"""Names of the feature columns computed from the forecast type's own events, in order."""

CONTEXT_FEATURES: tuple[str, ...] = (
    "all_rate_28d",
    "all_rate_365d",
    "all_rate_365d_s1",
    "type_share_365d",
)
"""Type-mix features, present when a :class:`CellContext` carries all types' events."""

EXTRA_FEATURES: tuple[str, ...] = (
    "rate_182d",
    "rate_365d_s2",
    "rate_365d_s5",
    "rate_182d_s1",
    "rate_91d_s1",
    "ring1_28d",
    "near_repeat_28d",
    "near_repeat_3d",
)
"""More scales (``extra_features=True``): half a year, KDEs of 300 and 750 m over a year,
the first ring over 4 weeks, near-repeat scores with 28- and 3-day time scales."""

EXTRA_CONTEXT_FEATURES: tuple[str, ...] = ("all_near_repeat", "all_rate_7d", "all_rate_365d_s3")
"""All types' near-repeat score, last week and wide KDE (``extra_features=True``)."""

_SCALES_D = (7, 28, 91, 365)
_COUNTS = FEATURES.index("rate_365d")
_OBJECTIVES = ("poisson", "lambdarank", "rank_xendcg")
_EXTRA_SMOOTH = ((365, 2.0), (365, 5.0), (182, 1.0), (91, 1.0))
_EXTRA_NEAR_REPEAT = (("near_repeat_28d", 91, 28.0), ("near_repeat_3d", 28, 3.0))
_SMOOTH = ((7, 1.0), (28, 1.0), (28, 3.0), (91, 2.0), (365, 1.0), (365, 3.0))
_NEAR_REPEAT = (("near_repeat", 56, 7.0), ("near_repeat_1d", 14, 1.0))
_LAST_YEAR_D = 365
_LAST_YEAR_SPAN_D = 28
_MAJOR_ROADS = frozenset({"motorway", "trunk", "primary", "secondary"})


@dataclass(frozen=True, repr=False)
class CellContext:
    """What the learned forecaster may know beyond the forecast type's own events.

    Attributes
    ----------
    place
        Place features by name: each an array of shape (n_cells,) float64 on the
        forecaster's grid (e.g. ``dist_station_m``), constant in time.
    missing
        Human-readable notes on the place layers that could not be built (e.g.
        ``"schools: the city names no schools file"``), for reports.
    all_events
        Incidents of every type on the same grid, for the type-mix features (only those
        before each origin are read), or ``None``.
    """

    place: Mapping[str, np.ndarray] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    all_events: TrainingEvents | None = None

    def __repr__(self) -> str:  # short, for Forecaster.describe()
        n = "none" if self.all_events is None else f"{len(self.all_events):,}"
        return f"CellContext(place={sorted(self.place)}, all_events={n})"


MIN_ROWS = 1_000
"""Least ``max_rows`` of :class:`GradientBoosted`: five leaves of the default
``min_samples_leaf`` (200 rows)."""


class GradientBoosted(Forecaster):
    """Gradient-boosted Poisson trees over cell features (see the module docstring).

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    horizon_days
        Length of the target period of each training origin, whole days (the forecast
        of a window of another length is scaled by its length). The default, 28 days
        at 8 origins a week apart, learns a smoother target than the next day's counts
        and was as good on the tuning days (example city, January 2015: burglary mean hit
        rate at 1/5/20 % .311 against .300 for 1 day at 56 daily origins; all crime .394
        against .397) at half the time.
    n_origins
        Number of training origins before the end of the training data.
    origin_step_days
        Spacing of the training origins, whole days.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Trees, shrinkage, leaves per tree, least rows per leaf and L2 penalty of the
        leaf values (LightGBM's ``n_estimators``, ``learning_rate``, ``num_leaves``,
        ``min_child_samples``, ``reg_lambda``). 75 trees at a shrinkage of 0.1 (150 at
        0.05 before) fit in 30-40 % less time at the same accuracy: on the whole city
        (a year of history, 14 days, one cold fit a day) mean hit rate at 1/5/20 % and
        fit time, 150 at 0.05 against 75 at 0.1: burglary from 2015-01-05 .302 / 2.2 s
        CPU against .304 / 1.6 s, from 2015-04-06 .316 / 1.5 s against .313 / 1.1 s;
        all types .3888 / 5.5 s against .3890 / 3.3 s and .3784 / 5.4 s against
        .3787 / 3.2 s. Fewer bins (``max_bin=63``) or fewer empty rows
        (``zero_rows=5``) saved less or nothing.
    zero_rows
        Rows with no event in their target period kept per row with an event (the
        others are dropped at random and the kept ones weighted up); ``None`` keeps
        every row.
    max_rows
        Most training rows per booster, after ``zero_rows``: when there are more, each
        is kept with the same probability and weighted up by its inverse (a uniform
        subsample; the fit's time is linear in the rows). ``None`` keeps them all; a
        whole number of at least :data:`MIN_ROWS` otherwise. Only
        dense types reach the default: on the whole example city (150 m cells, 8 origins)
        theft and all crime have 220,360 rows (every cell at every origin), burglary about
        70,000. On a development split (92 days from 2014-10-01, 273-364 days of history;
        ``benchmarks/bench_forecast_target.py --ours gbm,gbm:max_rows=none --groups
        "theft,all crime" --test-start 2014-10-01 --test-days 92``) the mean hit rate at
        1 / 5 / 20 % of the area with 100,000 rows against all of them was .222 .421 .703
        against .222 .422 .705 (theft) and .125 .334 .676 against .126 .334 .678 (all
        crime), at 0.35 against 0.56 s a day (fit every 7 days, predict daily); 110,000
        rows gave .223 .421 .706 and .125 .334 .677 at 0.36 s.
    objective
        ``"poisson"`` (the expected count; default), or a learning-to-rank objective
        over the cells of each training origin with the count as relevance and a linear
        gain (``"lambdarank"``, Burges 2010, "From RankNet to LambdaRank to LambdaMART",
        Microsoft Research MSR-TR-2010-82; ``"rank_xendcg"``, Bruch 2021, "An alternative
        cross entropy loss for learning-to-rank", WWW), as hit rate is a top-k measure.
        LightGBM ranks at most 10,000 rows per query, so each origin's cells are split at
        random into queries below that. The scores are mapped to ``exp(score)`` scaled to
        the year's total rate. On the example city's tuning days (January 2015) ``rank_xendcg``
        was no better than Poisson (burglary mean hit rate ratio to the best baseline
        1.045 against 1.060, motor vehicle theft 1.019 against 1.008) at twice the time.
    rank_depth
        Positions of each query that lambdarank optimises (``lambdarank_truncation_level``).
    extra_features
        Add :data:`EXTRA_FEATURES` (and, with a context's events, the other types'
        :data:`EXTRA_CONTEXT_FEATURES`). On the tuning days (example city, 14 days from
        2015-01-05, whole city) the mean hit rate ratio to the best baseline over 1, 5 and
        20 % was 1.065 against 1.060 (burglary), 1.060 against 1.008 (motor vehicle
        theft), 1.019 against 1.022 (theft), 1.005 against 1.004 (all crime): within the
        noise of 14 days, at about twice the time, so off by default (the simpler
        setting, as ``auto``'s one-standard-error rule).
    blend_counts
        Share ``a`` in [0, 1] of the cell's own rate over the last year (``rate_365d``)
        in the forecast: ``(1 - a) * trees + a * rate``, a shrinkage of the learned rate
        towards the observed one (``1`` gives naive counts). On the tuning days
        ``a = 0.2`` to ``0.5`` helped motor vehicle theft (1.087 to 1.123 against 1.008)
        but on the 28 days before them (from 2014-12-08) it lowered it (1.269 to 1.164
        against 1.304), and changed burglary, theft and all crime by under 0.02: 0 by
        default.
    n_bags
        Boosters averaged (bagging, Breiman 1996, "Bagging predictors", Machine Learning
        24(2)): bag ``b`` has its training origins shifted by ``b * origin_step_days /
        n_bags`` days and its own seed for the row subsampling; the forecast is the mean
        of their rates. Costs ``n_bags`` times the fit. On the tuning days ``n_bags=3``
        gave 1.088 against 1.060 (burglary), 0.963 against 1.008 (motor vehicle theft),
        1.017 against 1.022 (theft): no gain, so 1 by default.
    context
        Type mix and place features (:class:`CellContext`), or ``None``; the other types'
        events are read over the forecast type's training period only.
    warm_start
        Keep the fitted trees when refitted on data that ends less than
        ``refit_days`` later than the last full fit (the rolling evaluation refits every
        window): only the features move on.
    refit_days
        See ``warm_start``.
    seed
        Random state of the trees and of the row subsampling.

    Attributes
    ----------
    model_
        The first fitted booster (:class:`lightgbm.LGBMRegressor`, or
        :class:`lightgbm.LGBMRanker` under a ranking objective).
    models_
        All ``n_bags`` boosters.
    feature_names_
        All feature names (:data:`FEATURES`, then the context's).
    used_features_
        (len(feature_names_),) bool: the features that had a value at some training
        origin (the others, e.g. the previous year under a one-year look-back, are left
        out).
    feature_importance_
        Dict feature name -> share of the trees' total split gain (0 for a feature left
        out), summing to 1.
    n_rows_
        Training rows used (after subsampling).
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
        "zero_rows",
        "max_rows",
        "objective",
        "rank_depth",
        "extra_features",
        "blend_counts",
        "n_bags",
        "context",
        "warm_start",
        "refit_days",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        horizon_days: float = 28.0,
        n_origins: int = 8,
        origin_step_days: float = 7.0,
        max_iter: int = 75,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        zero_rows: float | None = 10.0,
        max_rows: int | None = 100_000,
        objective: str = "poisson",
        rank_depth: int = 300,
        extra_features: bool = False,
        blend_counts: float = 0.0,
        n_bags: int = 1,
        context: CellContext | None = None,
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
        self.zero_rows = zero_rows
        self.max_rows = max_rows
        self.objective = objective
        self.rank_depth = rank_depth
        self.extra_features = extra_features
        self.blend_counts = blend_counts
        self.n_bags = n_bags
        self.context = context
        self.warm_start = warm_start
        self.refit_days = refit_days
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        for name in ("horizon_days", "origin_step_days", "learning_rate", "refit_days"):
            self._positive(name, getattr(self, name))
        for name in ("horizon_days", "origin_step_days"):
            if float(getattr(self, name)) != round(float(getattr(self, name))):
                raise ValidationError(
                    f"{name} must be a whole number of days, got {getattr(self, name)}"
                )
        for name in ("n_origins", "max_iter", "min_samples_leaf", "n_bags"):
            self._positive(name, getattr(self, name))
        self._positive("zero_rows", self.zero_rows, allow_none=True)  # type: ignore[arg-type]
        rows = self.max_rows  # a whole number; 1e5 in a spec reads as a float
        whole = isinstance(rows, int) or (isinstance(rows, float) and rows.is_integer())
        if rows is not None and (isinstance(rows, bool) or not whole or rows < MIN_ROWS):
            raise ValidationError(
                f"max_rows must be a whole number of at least {MIN_ROWS:,} (or none), "
                f"got {self.max_rows!r}"
            )
        self._positive("rank_depth", self.rank_depth)
        if self.objective not in _OBJECTIVES:
            raise ValidationError(
                f"gbm objective must be one of {', '.join(_OBJECTIVES)}, got {self.objective!r}"
            )
        if not 0.0 <= float(self.blend_counts) <= 1.0:
            raise ValidationError(f"blend_counts must be in [0, 1], got {self.blend_counts}")
        if self.context is not None and not isinstance(self.context, CellContext):
            raise ValidationError(
                f"context must be a CellContext or None, got {type(self.context).__name__}"
            )
        if self.context is not None:
            for key, arr in self.context.place.items():
                if np.shape(arr) != (self.grid.n_cells,):
                    raise ValidationError(
                        f"context place feature {key!r} has shape {np.shape(arr)}, "
                        f"the grid has {self.grid.n_cells} cells"
                    )

    # ---- features
    def feature_names(self) -> tuple[str, ...]:
        """Names of the feature columns: :data:`FEATURES`, the type mix, the place."""
        ctx = self.context
        own = FEATURES + (EXTRA_FEATURES if self.extra_features else ())
        if ctx is None:
            return own
        extra = CONTEXT_FEATURES if ctx.all_events is not None else ()
        if ctx.all_events is not None and self.extra_features:
            extra = extra + EXTRA_CONTEXT_FEATURES
        return own + extra + tuple(ctx.place)

    def features(
        self, events: TrainingEvents, origin_day: float, window_day: float | None = None
    ) -> np.ndarray:
        """Features of every active cell at ``origin_day`` from the events before it.

        Parameters
        ----------
        events
            Training events (only those with ``t_day < origin_day`` are read; the same
            holds for the context's events).
        origin_day
            Days since 1970-01-01 UTC.
        window_day
            Start of the window forecast, when later than ``origin_day`` (a window after
            a gap in the data, see :meth:`Forecaster._origin_day`): the window's own
            features (day of week, start hour, season, ``dow_share``'s day) are taken
            there, those of the events at ``origin_day``. Default ``origin_day``.

        Returns
        -------
        numpy.ndarray
            Shape (n_active, len(feature_names())), float64, rows in the order of
            ``numpy.flatnonzero(grid.mask)``.
        """
        one = np.zeros(1, dtype=np.int64)
        return self._feature_stack(events, origin_day, one, window_day)[0]

    def _feature_stack(
        self,
        events: TrainingEvents,
        ref_day: float,
        offsets: np.ndarray,
        window_day: float | None = None,
    ) -> np.ndarray:
        """Features at the origins ``ref_day - offsets`` (whole days), shape
        (len(offsets), n_active, n_features); only events before each origin are read.
        ``window_day``: see :meth:`features`."""
        g = self.grid
        origins = ref_day - offsets.astype(np.float64)
        starts = origins if window_day is None else window_day - offsets.astype(np.float64)
        cols = _event_features(events, g, ref_day, offsets, extra=bool(self.extra_features))
        cols.update(_window_features(starts, events.timezone))
        cols["dow_share"] = _dow_share(events, g, origins, starts)
        active = np.flatnonzero(g.mask)
        k = len(offsets)
        cols["x_cell"] = np.broadcast_to((active % g.nx).astype(np.float64), (k, active.size))
        cols["y_cell"] = np.broadcast_to((active // g.nx).astype(np.float64), (k, active.size))
        ctx = self.context
        if ctx is not None:
            if ctx.all_events is not None:
                # the other types over the same period as the forecast type's events:
                # no more history than the model was given (the forecast type's own
                # features when it is every type: the same events, the same values)
                others = _same_period(ctx.all_events, events)
                allc = (
                    cols
                    if _same_counts(others, events)
                    else _event_features(
                        others,
                        g,
                        ref_day,
                        offsets,
                        extra=bool(self.extra_features),
                        only=_CONTEXT_READS,
                    )
                )
                for name in EXTRA_CONTEXT_FEATURES if self.extra_features else ():
                    cols[name] = allc[name.removeprefix("all_")]
                cols["all_rate_28d"] = allc["rate_28d"]
                cols["all_rate_365d"] = allc["rate_365d"]
                cols["all_rate_365d_s1"] = allc["rate_365d_s1"]
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = cols["rate_365d"] / allc["rate_365d"]
                cols["type_share_365d"] = np.where(allc["rate_365d"] > 0, share, np.nan)
            for key, arr in ctx.place.items():
                cols[key] = np.broadcast_to(
                    np.asarray(arr, dtype=np.float64)[active], (k, active.size)
                )
        shape = (k, active.size)
        return np.stack(
            [np.broadcast_to(cols[name], shape) for name in self.feature_names()], axis=2
        )

    # ---- contract
    def _fit(self, events: TrainingEvents) -> None:
        if keeps_warm_fit(self, events):
            return
        h = round(float(self.horizon_days))
        step = round(float(self.origin_step_days))
        n_bags = int(self.n_bags)
        models: list[lgb.LGBMModel] = []
        used: np.ndarray | None = None
        n_rows = 0
        gain = np.zeros(0)
        for bag in range(n_bags):
            # origins end_day - m, m = h + shift, h + shift + step, ...; each keeps 28 days
            # of history; bag b shifts them by b * step / n_bags days
            shift = (bag * step) // n_bags
            offsets = h + shift + step * np.arange(int(self.n_origins), dtype=np.int64)
            offsets = offsets[events.duration_days - offsets >= 28.0]
            if offsets.size == 0:
                if bag > 0:
                    continue
                raise ValidationError(
                    f"gbm needs at least {28 + h} days of training history, got "
                    f"{events.duration_days:.1f} (from "
                    f"{from_days(events.start_day).tz_convert(events.timezone):%Y-%m-%d})"
                )
            model, used, rows = self._fit_bag(events, offsets, h, int(self.seed) + bag, used)
            models.append(model)
            n_rows += rows
            g = model.booster_.feature_importance(importance_type="gain").astype(np.float64)
            gain = g if gain.size == 0 else gain + g
        assert used is not None
        names = self.feature_names()
        self.model_ = models[0]
        self.models_ = models
        self.feature_names_ = names
        self.used_features_ = used
        self.fitted_end_day_ = events.end_day
        self.n_rows_ = n_rows
        gain = gain / (gain.sum() or 1.0)
        kept = [n for n, u in zip(names, used, strict=True) if u]
        self.feature_importance_ = dict.fromkeys(names, 0.0) | dict(
            zip(kept, gain.tolist(), strict=True)
        )

    def _fit_bag(
        self,
        events: TrainingEvents,
        offsets: np.ndarray,
        h: int,
        seed: int,
        used: np.ndarray | None,
    ) -> tuple[lgb.LGBMModel, np.ndarray, int]:
        """One booster on the origins ``events.end_day - offsets``: (model, used feature
        mask, training rows). ``used`` (from the first bag) is kept for later bags."""
        x = self._feature_stack(events, events.end_day, offsets)
        y = _target(events, self.grid, events.end_day, offsets, h)
        x = x.reshape(-1, x.shape[2])
        y = y.ravel()
        weight = np.ones_like(y)
        origin_of = np.repeat(np.arange(offsets.size), self.grid.n_active)
        rng = np.random.default_rng(seed)
        if self.zero_rows is not None:
            pos = y > 0
            n_pos, n_zero = int(pos.sum()), int((~pos).sum())
            q = min(1.0, float(self.zero_rows) * max(n_pos, 1) / max(n_zero, 1))
            keep = pos | (rng.random(y.size) < q)
            x, y, weight = x[keep], y[keep], np.where(pos[keep], 1.0, 1.0 / q)
            origin_of = origin_of[keep]
        if self.max_rows is not None and y.size > int(self.max_rows):
            r = int(self.max_rows) / y.size
            keep = rng.random(y.size) < r
            x, y, weight, origin_of = x[keep], y[keep], weight[keep] / r, origin_of[keep]
        if not (y > 0).any():
            # LightGBM's Poisson objective stops the process on an all-zero target
            first = from_days(events.end_day - float(offsets.max())).tz_convert(events.timezone)
            raise ValidationError(
                f"gbm: no incident in the {h}-day target periods of its {offsets.size} "
                f"training origins (from {first:%Y-%m-%d}, every {int(self.origin_step_days)} "
                f"days; {len(events)} incident(s) in the history): too few to learn from"
            )
        group = np.bincount(origin_of, minlength=offsets.size)
        # a feature with no value at any origin (the previous year, under a one-year
        # look-back) carries nothing: leave it out rather than give the trees a NaN column
        if used is None:
            used = np.isfinite(x).any(axis=0)
        x = x[:, used]
        common: dict[str, Any] = dict(
            n_estimators=int(self.max_iter),
            learning_rate=float(self.learning_rate),
            num_leaves=int(self.max_leaf_nodes),
            min_child_samples=int(self.min_samples_leaf),
            reg_lambda=float(self.l2_regularization),
            subsample_freq=0,
            n_jobs=1,
            deterministic=True,
            force_row_wise=True,
            random_state=seed,
            verbose=-1,
        )
        model: lgb.LGBMModel
        if self.objective == "poisson":
            model = lgb.LGBMRegressor(objective="poisson", **common)
            model.fit(x, y, sample_weight=weight)
        else:  # learning to rank the cells of each origin by their count in the target
            # LightGBM ranks at most 10,000 rows per query: each origin's rows are split
            # at random into queries of about equal size below that
            n_q = -(-group // 9_000)
            sub = np.concatenate(
                [rng.permutation(np.arange(n) % q) for n, q in zip(group, n_q, strict=True)]
            )
            order = np.lexsort((sub, origin_of))
            x, y = x[order], y[order]
            qid = origin_of[order] * int(n_q.max()) + sub[order]
            label = np.rint(y * h).astype(np.int64)
            model = lgb.LGBMRanker(
                objective=self.objective,
                label_gain=np.arange(int(label.max()) + 1, dtype=np.float64).tolist(),
                lambdarank_truncation_level=int(self.rank_depth),
                **common,
            )
            model.fit(x, label, group=np.unique(qid, return_counts=True)[1])
        return model, used, int(y.size)

    def _predict(self, window: Window) -> np.ndarray:
        g = self.grid
        x = self.features(self.events_, self._origin_day(window), window.start_day)
        xu = x[:, self.used_features_]
        out = np.zeros(g.n_cells)
        pred = np.zeros(g.n_active)
        for model in self.models_:
            p = np.asarray(model.predict(xu), dtype=np.float64)
            if self.objective != "poisson":  # ranking scores: a positive, order-keeping scale
                p = np.exp(p - p.max())
                p *= x[:, _COUNTS].sum() / max(p.sum(), 1e-300)
            pred += p / len(self.models_)
        a = float(self.blend_counts)
        if a > 0:  # shrink towards the cell's own rate over the last year
            pred = (1.0 - a) * pred + a * x[:, _COUNTS]
        out[np.flatnonzero(g.mask)] = pred * window.length_days
        return out

    # ---- explanation
    def importance_table(self) -> pd.DataFrame:
        """Feature importance, largest first: columns ``feature, importance, used``."""
        if not hasattr(self, "feature_importance_"):
            raise ValidationError("gbm is not fitted: call fit() before importance_table()")
        used = dict(zip(self.feature_names_, self.used_features_.tolist(), strict=True))
        rows = [
            {"feature": k, "importance": v, "used": used[k]}
            for k, v in self.feature_importance_.items()
        ]
        return (
            pd.DataFrame(rows)
            .sort_values("importance", ascending=False, kind="stable")
            .reset_index(drop=True)
        )

    def explain(self, window: Window, cells: np.ndarray) -> pd.DataFrame:
        """Why these cells are hot: for each cell and feature, the feature's value and
        its additive contribution to the cell's predicted log-rate (TreeSHAP; the
        contributions of a cell plus the model's mean log-rate sum to its log-rate; with
        ``n_bags > 1`` they are the bags' mean and sum to the mean of the bags' log-rates,
        with ``blend_counts > 0`` to the trees' part of the forecast only;
        positive: the feature raises the cell's risk).

        Parameters
        ----------
        window
            The forecast window (after the training data).
        cells
            (m,) flat cell indices (e.g. :meth:`Forecast.top_cells`), active cells only.

        Returns
        -------
        pandas.DataFrame
            One row per cell and used feature: ``cell, feature, value, effect_log``.

        Raises
        ------
        ValidationError
            If a cell is outside the study area, or the window precedes the training end.
        """
        self.predict(window)  # checks fit and look-ahead
        g = self.grid
        pos = np.full(g.n_cells, -1)
        pos[np.flatnonzero(g.mask)] = np.arange(g.n_active)
        cells = np.asarray(cells, dtype=np.int64)
        bad = (cells < 0) | (cells >= g.n_cells)
        bad[~bad] = pos[cells[~bad]] < 0
        if bad.any():
            raise ValidationError(
                f"explain(): cells {cells[bad][:5].tolist()} are not active cells of the grid"
            )
        x = self.features(self.events_, self._origin_day(window), window.start_day)
        x = x[pos[cells]][:, self.used_features_]
        # (m, n_used + 1), log scale; bags: the mean of their contributions
        contrib = np.mean([m.predict(x, pred_contrib=True) for m in self.models_], axis=0)
        names = [n for n, u in zip(self.feature_names_, self.used_features_, strict=True) if u]
        return pd.DataFrame(
            {
                "cell": np.repeat(cells, len(names)),
                "feature": np.tile(np.asarray(names, dtype=object), len(cells)),
                "value": x.ravel(),
                "effect_log": np.asarray(contrib)[:, :-1].ravel(),
            }
        )


def keeps_warm_fit(model: Forecaster, events: TrainingEvents) -> bool:
    """True when ``model`` (with ``warm_start`` and ``refit_days`` parameters) may keep
    what it learned: it was fitted before (``fitted_end_day_``) on data ending less than
    ``refit_days`` before ``events.end_day`` (and not after it)."""
    fitted_end: float | None = getattr(model, "fitted_end_day_", None)
    return (
        bool(getattr(model, "warm_start", False))
        and fitted_end is not None
        and 0 <= events.end_day - fitted_end < float(getattr(model, "refit_days", 0.0))
    )


# --------------------------------------------------------------------------- features
def _same_period(other: TrainingEvents, events: TrainingEvents) -> TrainingEvents:
    """``other`` cut to the observation period of ``events`` (kept whole when that
    period holds none of them)."""
    lo = max(other.start_day, events.start_day)
    hi = min(other.end_day, events.end_day)
    try:
        return other.between(lo, hi)
    except ValidationError:
        return other


def _same_counts(a: TrainingEvents, b: TrainingEvents) -> bool:
    """Whether :func:`_event_features` reads the same from ``a`` as from ``b``: the same
    observation start and the same times and cells (the forecast type is every type)."""
    return a is b or (
        a.start_day == b.start_day
        and len(a) == len(b)
        and np.array_equal(a.t_day, b.t_day)
        and np.array_equal(a.cell, b.cell)
    )


def _ages(events: TrainingEvents, ref_day: float, n_age: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole-day age bins of the events before ``ref_day``: an event at ``t`` has age
    ``ceil(ref - t) - 1``, so age ``a`` holds ``t`` in ``[ref - a - 1, ref - a)`` and the
    events before the origin ``ref - m`` are exactly those of age >= m. Returns
    (index of the events with 0 <= age < n_age, their ages)."""
    t = events.t_day
    lo = int(np.searchsorted(t, ref_day - n_age, side="left"))
    hi = int(np.searchsorted(t, ref_day, side="left"))
    age = np.ceil(ref_day - t[lo:hi]).astype(np.int64) - 1
    ok = (age >= 0) & (age < n_age)
    return np.arange(lo, hi)[ok], age[ok]


class _AgeSums:
    """Cumulative sums over age of the events per active cell, kept only at the rows
    asked for: ``table[j]`` (``j`` an int array of such rows) is (len(j), n_active).

    Forward (no weights): row ``j`` counts the events of age < ``j`` (float32: counts
    stay exact below 2**24). Reverse (``weights``): row ``j`` sums the weights of ages
    ``j`` .. ``max(rows) - 1``. The events are binned to the intervals between the rows
    asked for (one ``bincount``) and the bins summed up: the cost is that of the events
    and the rows asked for, not of every day of age times every cell. The forward rows
    equal a full cumulative sum over ages exactly; the reverse ones to rounding.
    """

    def __init__(
        self,
        events: TrainingEvents,
        grid: Grid,
        ref_day: float,
        rows: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        self.rows = np.unique(np.asarray(rows, dtype=np.int64))
        self.values: np.ndarray
        n_age = int(self.rows[-1])
        idx, age = _ages(events, ref_day, n_age)
        pos = np.full(grid.n_cells, -1, dtype=np.int64)
        pos[np.flatnonzero(grid.mask)] = np.arange(grid.n_active)
        n, k = grid.n_active, len(self.rows)
        cell = pos[events.cell[idx]]
        if weights is None:
            # an event of age a counts in every row j > a: bin by the first such row
            first = np.searchsorted(self.rows, age, side="right")
            counts = np.bincount(first * n + cell, minlength=(k + 1) * n)[: k * n]
            self.values = np.cumsum(counts.reshape(k, n), axis=0, dtype=np.float32)
        else:
            # a weight of age a counts in every row j <= a: bin by the last such row
            last = np.searchsorted(self.rows, age, side="right") - 1
            ok = last >= 0
            hist = np.bincount(
                last[ok] * n + cell[ok], weights=weights[idx][ok], minlength=k * n
            ).reshape(k, n)
            self.values = np.cumsum(hist[::-1], axis=0)[::-1]

    def __getitem__(self, j: np.ndarray) -> np.ndarray:
        return np.asarray(self.values[np.searchsorted(self.rows, j)])


def _to_image(values: np.ndarray, grid: Grid) -> np.ndarray:
    """(k, n_active) -> (k, ny, nx) float64, zero outside the study area."""
    img = np.zeros((values.shape[0], grid.n_cells))
    img[:, np.flatnonzero(grid.mask)] = values
    return img.reshape(values.shape[0], grid.ny, grid.nx)


_CONTEXT_READS = frozenset(
    {"rate_28d", "rate_365d", "rate_365d_s1"}
    | {name.removeprefix("all_") for name in EXTRA_CONTEXT_FEATURES}
)
"""The features of all types' events that the type-mix features read."""


def _event_features(
    events: TrainingEvents,
    grid: Grid,
    ref_day: float,
    offsets: np.ndarray,
    *,
    extra: bool = False,
    only: frozenset[str] | None = None,
) -> dict[str, np.ndarray]:
    """Count, smoothing, ring, near-repeat, last-year and trend features at the origins
    ``ref_day - offsets``, each of shape (len(offsets), n_active); with ``only``, the
    smoothed, ring, near-repeat, last-year and trend features not named there are left
    out (the counts per day at each scale are always given; the same values)."""
    g = grid
    active = np.flatnonzero(g.mask)
    k = len(offsets)
    m = offsets.astype(np.int64)
    ly0, ly1 = m + _LAST_YEAR_D - _LAST_YEAR_SPAN_D, m + _LAST_YEAR_D
    cum = _AgeSums(events, g, ref_day, np.concatenate([m, *(m + sc for sc in _SCALES_D), ly0, ly1]))
    history_d = np.maximum(ref_day - m - events.start_day, 1e-9)
    cols: dict[str, np.ndarray] = {}
    full: dict[int, np.ndarray] = {}
    for scale in _SCALES_D:
        days = np.minimum(float(scale), history_d)[:, None]
        cols[f"rate_{scale}d"] = (cum[m + scale] - cum[m]) / days
        full[scale] = _to_image(cols[f"rate_{scale}d"], g)
    smooth = _SMOOTH + (_EXTRA_SMOOTH if extra else ())
    if extra:
        days = np.minimum(182.0, history_d)[:, None]
        cols["rate_182d"] = (cum[m + 182] - cum[m]) / days
        full[182] = _to_image(cols["rate_182d"], g)
    for scale, sigma in smooth:
        if only is not None and f"rate_{scale}d_s{sigma:g}" not in only:
            continue
        sm = ndimage.gaussian_filter(
            full[scale], (0.0, sigma, sigma), mode="constant", truncate=3.0
        )
        cols[f"rate_{scale}d_s{sigma:g}"] = sm.reshape(k, -1)[:, active]
    if only is not None and not only & {"ring1_28d", "ring1_365d", "ring2_365d"}:
        return _late_features(cols, events, g, ref_day, m, cum, only, extra)
    box3 = ndimage.uniform_filter(full[365], (1, 3, 3), mode="constant") * 9.0
    box5 = ndimage.uniform_filter(full[365], (1, 5, 5), mode="constant") * 25.0
    if extra:
        b28 = ndimage.uniform_filter(full[28], (1, 3, 3), mode="constant") * 9.0
        cols["ring1_28d"] = ((b28 - full[28]) / 8.0).reshape(k, -1)[:, active]
    cols["ring1_365d"] = ((box3 - full[365]) / 8.0).reshape(k, -1)[:, active]
    cols["ring2_365d"] = ((box5 - box3) / 16.0).reshape(k, -1)[:, active]
    return _late_features(cols, events, g, ref_day, m, cum, only, extra)


def _late_features(
    cols: dict[str, np.ndarray],
    events: TrainingEvents,
    g: Grid,
    ref_day: float,
    m: np.ndarray,
    cum: _AgeSums,
    only: frozenset[str] | None,
    extra: bool,
) -> dict[str, np.ndarray]:
    """The near-repeat, last-year and trend features of :func:`_event_features` (those
    named in ``only`` when given) added to ``cols``."""
    active = np.flatnonzero(g.mask)
    k = len(m)
    ly0, ly1 = m + _LAST_YEAR_D - _LAST_YEAR_SPAN_D, m + _LAST_YEAR_D
    for name, span, tau in _NEAR_REPEAT + (_EXTRA_NEAR_REPEAT if extra else ()):
        if only is not None and name not in only:
            continue
        # weight exp(-(origin - t) / tau) = exp(-(ref - t) / tau) * exp(m / tau)
        w = np.exp(-(ref_day - events.t_day) / tau)
        rcum = _AgeSums(events, g, ref_day, np.concatenate([m, m + span]), w)
        nr = (rcum[m] - rcum[m + span]) * np.exp(m / tau)[:, None]
        nr_img = ndimage.gaussian_filter(
            _to_image(nr, g), (0.0, 1.0, 1.0), mode="constant", truncate=2.0
        )
        cols[name] = nr_img.reshape(k, -1)[:, active]
    if only is not None:
        return cols
    ly = np.full((k, active.size), np.nan)
    ok = ref_day - m - _LAST_YEAR_D >= events.start_day
    ly[ok] = (cum[ly1[ok]] - cum[ly0[ok]]) / _LAST_YEAR_SPAN_D
    cols["last_year_4w"] = ly
    cols["trend_28d"] = cols["rate_28d"] - cols["rate_365d"]
    cols["trend_91d"] = cols["rate_91d"] - cols["rate_365d"]
    return cols


def _target(
    events: TrainingEvents, grid: Grid, ref_day: float, offsets: np.ndarray, h: int
) -> np.ndarray:
    """Events per day in ``[origin, origin + h)`` at each origin ``ref_day - offsets``,
    shape (len(offsets), n_active)."""
    m = offsets.astype(np.int64)
    cum = _AgeSums(events, grid, ref_day, np.concatenate([m, m - h]))
    return (cum[m] - cum[m - h]).astype(np.float64) / h


def _window_features(origins: np.ndarray, timezone: str) -> dict[str, np.ndarray]:
    """Day of week, start hour and season of windows starting at ``origins``, (k, 1)."""
    local = pd.DatetimeIndex([from_days(o) for o in origins]).tz_convert(timezone)
    doy = 2.0 * np.pi * (local.day_of_year.to_numpy() - 1) / 365.25
    return {
        "day_of_week": local.day_of_week.to_numpy(dtype=np.float64)[:, None],
        "start_hour": (local.hour + local.minute / 60.0).to_numpy(dtype=np.float64)[:, None],
        "season_sin": np.sin(doy)[:, None],
        "season_cos": np.cos(doy)[:, None],
    }


def _dow_share(
    events: TrainingEvents, grid: Grid, origins: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Share of each active cell's events of the last 365 days before each origin that
    fell on the local day of week of its window's start (``starts``, the origin but after
    a gap in the data; events with a known hour only); NaN where the cell has none. Shape
    (len(origins), n_active)."""
    active = np.flatnonzero(grid.mask)
    local = pd.DatetimeIndex([from_days(o) for o in starts]).tz_convert(events.timezone)
    dows = local.day_of_week.to_numpy()
    known = events.hour_of_week >= 0
    ev_dow = np.where(known, events.hour_of_week // 24, -1)
    out = np.empty((len(origins), active.size))
    for i, (o, d) in enumerate(zip(origins, dows, strict=True)):
        lo, hi = np.searchsorted(events.t_day, [o - 365.0, o], side="left")
        sl = slice(int(lo), int(hi))
        cell, kn = events.cell[sl], known[sl]
        tot = np.bincount(cell[kn], minlength=grid.n_cells)[active]
        same = np.bincount(cell[ev_dow[sl] == d], minlength=grid.n_cells)[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(tot > 0, same / np.maximum(tot, 1), np.nan)
    return out


# --------------------------------------------------------------------------- place
def place_layers(
    grid: Grid,
    city: City,
    area: StudyArea,
    *,
    schools: Path | None = None,
    network: RoadNetwork | None = None,
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Risk-terrain place features of every cell from a city's files.

    Distances run from each cell's centre, metres in the grid CRS. Layers: police
    stations (``dist_station_m``, from ``city.stations``), schools (``dist_school_m``,
    from ``schools`` or the city file's ``schools`` entry), the road network
    (``dist_major_road_m``: to the nearest node of a motorway, trunk, primary or
    secondary road; ``dist_junction_m``: to the nearest node where three or more road
    pieces meet; ``junctions``: such nodes in the cell; ``road_m``: length of road
    pieces whose midpoint lies in the cell). Caplan, Kennedy & Miller (2011).

    Parameters
    ----------
    grid
        The forecast grid (its CRS must be the area's).
    city
        The city (stations, roads; ``city.extra["schools"]`` a site file if configured).
    area
        The study area whose roads are read.
    schools
        A schools site file (CSV/Excel/points with ``name``), overriding the city's.
    network
        The area's road network when the caller has built it already (as
        ``city.road_network(area)``); ``None`` builds it.

    Returns
    -------
    (features, missing)
        Features by name, each (n_cells,) float64; notes naming each layer left out and
        why (a missing layer is reported, never silently zero).
    """
    from xunfang.ingest.sites import read_sites  # ingest: the stage to the left

    centres = grid.centres()
    out: dict[str, np.ndarray] = {}
    missing: list[str] = []

    def nearest(points: np.ndarray) -> np.ndarray:
        return cKDTree(points).query(centres, k=1)[0].astype(np.float64)

    if city.stations is None:
        missing.append("stations: the city names no stations file")
    else:
        st = city.stations_for(area, buffer_m=1e9).to_crs(grid.crs)
        if len(st):
            out["dist_station_m"] = nearest(np.column_stack([st.geometry.x, st.geometry.y]))
        else:
            missing.append("stations: the stations file holds no station")
    school_file = schools if schools is not None else city.extra.get("schools")
    if school_file is None:
        missing.append("schools: the city names no schools file (give one to place_layers)")
    else:
        sc = read_sites(Path(school_file), frame=city.frame).to_crs(grid.crs)
        out["dist_school_m"] = nearest(np.column_stack([sc.geometry.x, sc.geometry.y]))
    if city.roads is None:
        missing.append("roads: the city has no road network")
    else:
        net = network if network is not None else city.road_network(area)
        e = net.edges
        hw = e["highway"].astype(str)
        major = hw.isin(_MAJOR_ROADS).to_numpy()
        if major.any():
            nodes = np.unique(e.loc[major, ["u_index", "v_index"]].to_numpy().ravel())
            out["dist_major_road_m"] = nearest(net.node_xy[nodes])
        else:
            missing.append("major roads: no motorway/trunk/primary/secondary piece in the roads")
        deg = np.bincount(e[["u_index", "v_index"]].to_numpy().ravel(), minlength=net.n_nodes)
        junction = np.flatnonzero(deg >= 3)
        if junction.size:
            out["dist_junction_m"] = nearest(net.node_xy[junction])
            jc = grid.cell_of(net.node_xy[junction])
            out["junctions"] = np.bincount(jc[jc >= 0], minlength=grid.n_cells).astype(float)
        else:
            missing.append("junctions: no node of degree 3 or more in the roads")
        mid_pts = e.geometry.interpolate(0.5, normalized=True)
        mid = np.column_stack([mid_pts.x, mid_pts.y])
        mc = grid.cell_of(mid)
        ok = mc >= 0
        out["road_m"] = np.bincount(
            mc[ok], weights=e["length_m"].to_numpy()[ok], minlength=grid.n_cells
        )
    return out, tuple(missing)


def cell_context(
    table: IncidentTable,
    grid: Grid,
    *,
    city: City | None = None,
    area: StudyArea | None = None,
    place: bool = True,
    network: RoadNetwork | None = None,
) -> CellContext:
    """The :class:`CellContext` of a command: the type mix from every incident of
    ``table`` (all types, on ``grid``) and, when ``place``, the place layers of ``city``
    in ``area`` (:func:`place_layers`; reusing ``network`` if given).

    Raises
    ------
    ValidationError
        Errors of :func:`place_layers` pass through.
    """
    events = TrainingEvents.from_table(table, grid)
    if not place:
        return CellContext(
            missing=("place layers: not built (--no-place; the default for the whole city)",),
            all_events=events,
        )
    if city is None or area is None:
        return CellContext(
            missing=(
                "place layers: no study area of a city (give --area with --city, or --boundary "
                "FILE)",
            ),
            all_events=events,
        )
    layers, missing = place_layers(grid, city, area, network=network)
    return CellContext(place=layers, missing=missing, all_events=events)
