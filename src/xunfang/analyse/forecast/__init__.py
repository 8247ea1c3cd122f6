"""Hotspot forecasts by time window: where the risk will be in the next day, shift or week.

Forecasters (one contract: keyword-only ``__init__``, ``fit(incidents)``,
``predict(window) -> Forecast`` with the expected incidents per grid cell):

- :class:`NaiveCounts` — counts of the previous period;
- :class:`RetrospectiveKDE` — fixed-bandwidth kernel density of the recent past;
- :class:`ProspectiveHotspot` — Bowers, Johnson & Pease (2004);
  :class:`ContinuousProspective` — the same in continuous space, metres;
- :class:`GridETAS` — self-exciting point process, Mohler et al. (2011, 2015), by EM;
- :class:`GradientBoosted` — Poisson gradient-boosted trees over cell features;
- :class:`StackedEnsemble` — a non-negative Poisson stack of the others;
- :class:`TimeOfDay` — wraps any of them for a shift, from hour-of-week profiles.

Evaluation metrics and the rolling-origin evaluation are in
:mod:`xunfang.analyse.evaluate`.
"""

from xunfang.analyse.forecast._base import (
    Forecast,
    Forecaster,
    TrainingEvents,
    Window,
    parse_window_kind,
    rolling_windows,
)
from xunfang.analyse.forecast.demand import (
    IncidentWeights,
    forecast_cell_weights,
    forecast_demand_weights,
    incident_weights,
)
from xunfang.analyse.forecast.kde import RetrospectiveKDE
from xunfang.analyse.forecast.learned import GradientBoosted
from xunfang.analyse.forecast.naive import NaiveCounts
from xunfang.analyse.forecast.prospective import ContinuousProspective, ProspectiveHotspot
from xunfang.analyse.forecast.registry import METHODS, make_forecaster
from xunfang.analyse.forecast.sepp import GridETAS, simulate_grid_etas, simulate_sepp
from xunfang.analyse.forecast.stack import StackedEnsemble
from xunfang.analyse.forecast.timeofday import TimeOfDay

__all__ = [
    "METHODS",
    "ContinuousProspective",
    "Forecast",
    "Forecaster",
    "GradientBoosted",
    "GridETAS",
    "IncidentWeights",
    "NaiveCounts",
    "ProspectiveHotspot",
    "RetrospectiveKDE",
    "StackedEnsemble",
    "TimeOfDay",
    "TrainingEvents",
    "Window",
    "forecast_cell_weights",
    "forecast_demand_weights",
    "incident_weights",
    "make_forecaster",
    "parse_window_kind",
    "rolling_windows",
    "simulate_grid_etas",
    "simulate_sepp",
]
