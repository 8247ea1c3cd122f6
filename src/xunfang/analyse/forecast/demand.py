"""A forecast as demand weights for the booth plan (issue 3, item 4).

The plan (:mod:`xunfang.plan.booth_plan`) weighs demand per incident
(``PlanConfig.demand_weights``, one weight per incident inside the area, in the order of
the plan's incident table). A forecast is per cell; :func:`incident_weights` spreads
each cell's forecast evenly over the historical incidents of that cell, so that the
weights of a cell's incidents sum to its forecast. Forecast mass in cells without any
historical incident has no incident to carry it; its share is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xunfang.analyse.forecast._base import Forecaster, Window, to_days
from xunfang.analyse.grid import Grid
from xunfang.errors import NotFittedError, ValidationError
from xunfang.ingest.incidents import IncidentTable


def forecast_cell_weights(forecaster: Forecaster, grid: Grid, window: Window) -> np.ndarray:
    """Expected incidents per cell of ``grid`` in ``window`` from a fitted forecaster.

    Parameters
    ----------
    forecaster
        A fitted forecaster whose grid is ``grid``.
    grid
        The grid the weights are for.
    window
        The forecast window (starting at or after the end of the training data).

    Returns
    -------
    numpy.ndarray
        (n_cells,) float64 >= 0, zero outside the study area.

    Raises
    ------
    NotFittedError
        If the forecaster is not fitted.
    ValidationError
        If its grid is not ``grid``.
    """
    if getattr(forecaster, "events_", None) is None:
        raise NotFittedError("forecast_cell_weights needs a fitted forecaster: call fit() first")
    fg = forecaster.grid
    same = (
        (fg.x0, fg.y0, fg.cell_m, fg.nx, fg.ny) == (grid.x0, grid.y0, grid.cell_m, grid.nx, grid.ny)
        and fg.crs == grid.crs
        and np.array_equal(fg.mask, grid.mask)
    )
    if not same:
        raise ValidationError(
            "the forecaster was fitted on another grid; build it with grid=<the plan's grid>"
        )
    return forecaster.predict(window).risk


@dataclass(frozen=True)
class IncidentWeights:
    """Per-incident demand weights from a per-cell forecast.

    Attributes
    ----------
    weights
        (n_incidents,) float64: each incident's share of its cell's forecast (0 for
        incidents outside the grid's active cells).
    placed_share
        Share of the forecast total carried by incidents (the rest fell in cells
        without historical incidents).
    n_outside
        Incidents outside the grid's active cells (weight 0).
    """

    weights: np.ndarray
    placed_share: float
    n_outside: int


def incident_weights(cell_weights: np.ndarray, grid: Grid, xy: np.ndarray) -> IncidentWeights:
    """Spread per-cell weights evenly over the incidents of each cell.

    Parameters
    ----------
    cell_weights
        (n_cells,) non-negative, e.g. from :func:`forecast_cell_weights`.
    grid
        Their grid.
    xy
        (n_incidents, 2) incident positions, metres in ``grid.crs``.

    Raises
    ------
    ValidationError
        If the shapes do not match or weights are negative.
    """
    w = np.asarray(cell_weights, dtype=np.float64)
    if w.shape != (grid.n_cells,):
        raise ValidationError(
            f"cell_weights has shape {w.shape}, the grid has {grid.n_cells} cells"
        )
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValidationError("cell_weights must be finite and >= 0")
    cell = grid.cell_of(xy)
    ok = cell >= 0
    ok[ok] = grid.mask[cell[ok]]
    per_cell = np.bincount(cell[ok], minlength=grid.n_cells)
    out = np.zeros(len(cell))
    out[ok] = w[cell[ok]] / per_cell[cell[ok]]
    total = float(w[grid.mask].sum())
    placed = float(w[per_cell > 0].sum())
    return IncidentWeights(out, placed / total if total > 0 else 0.0, int((~ok).sum()))


def forecast_demand_weights(
    incidents: IncidentTable,
    forecaster: Forecaster,
    window: Window,
    *,
    lookback_days: float | None = 365.0,
) -> IncidentWeights:
    """Per-incident demand weights for the booth plan from a forecast of ``window``.

    Fits ``forecaster`` (built on the plan's grid) on the incidents of the
    ``lookback_days`` before the window start, forecasts the window, and spreads each
    cell's expected count over all of ``incidents`` in that cell
    (:func:`incident_weights`). The result is aligned with the rows of ``incidents``,
    so it can be passed as ``PlanConfig.demand_weights`` for the same incidents.

    Raises
    ------
    ValidationError
        If no incident precedes the window (within the look-back).
    """
    t = to_days(incidents.frame["occurred_at"])
    lo = -np.inf if lookback_days is None else window.start_day - float(lookback_days)
    before = (t < window.start_day) & (t >= lo)
    if not before.any():
        raise ValidationError(
            f"no incident before {window.start} to forecast from (look-back {lookback_days} days)"
        )
    # a rate over the history observed: from the data's first day (local midnight) or the
    # look-back's start, whichever is later
    when = incidents.frame["occurred_at"]
    start = when.min().tz_convert(incidents.timezone).normalize()
    if lookback_days is not None:
        start = max(start, window.start - pd.Timedelta(days=lookback_days))
    forecaster.fit(incidents.subset(before), start=start, end=window.start)
    cells = forecast_cell_weights(forecaster, forecaster.grid, window)
    return incident_weights(cells, forecaster.grid, incidents.xy)
