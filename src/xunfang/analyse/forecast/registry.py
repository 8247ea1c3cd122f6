"""Forecasters by name, from short text specs (for the command line).

A spec is ``method[:param=value[:param=value...]][+tod[:param=value...]]``, e.g.::

    naive                                  counts of the previous 7 days
    naive:period_days=365                  counts of the previous year
    kde:bandwidth_m=200:window_days=60
    prospective:bandwidth_m=400:bandwidth_weeks=8
    prospective-continuous:bandwidth_m=400     distances in metres, sub-cell samples
    sepp:background_bandwidth_m=150
    sepp+tod:shrinkage_events=20           the point process with hour-of-week profiles
    gbm                                    gradient-boosted Poisson trees over cell features
    stack                                  non-negative Poisson stack of naive, KDE, prospective
    auto:budget_s=60                       chosen per window by validation before it

Values are read as int, float, ``none``, ``true``/``false`` or text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xunfang.analyse.forecast._base import Forecaster
from xunfang.analyse.forecast.kde import RetrospectiveKDE
from xunfang.analyse.forecast.learned import CellContext, GradientBoosted
from xunfang.analyse.forecast.naive import NaiveCounts
from xunfang.analyse.forecast.prospective import ContinuousProspective, ProspectiveHotspot
from xunfang.analyse.forecast.select import AutoSelect
from xunfang.analyse.forecast.sepp import GridETAS
from xunfang.analyse.forecast.stack import StackedEnsemble
from xunfang.analyse.forecast.timeofday import TimeOfDay
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

METHODS: dict[str, type[Forecaster]] = {
    "naive": NaiveCounts,
    "kde": RetrospectiveKDE,
    "prospective": ProspectiveHotspot,
    "prospective-continuous": ContinuousProspective,
    "sepp": GridETAS,
    "gbm": GradientBoosted,
    "stack": StackedEnsemble,
    "auto": AutoSelect,
}


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _params(parts: list[str], spec: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"method spec {spec!r}: {part!r} is not param=value")
        out[key.strip()] = _value(val)
    return out


def with_context(model: Forecaster, context: CellContext | None) -> Forecaster:
    """``model`` given ``context`` where it takes one (``gbm``, ``auto`` for its
    candidates, also inside a ``+tod`` wrapper); unchanged otherwise or for ``None``."""
    if context is None:
        return model
    params = model.get_params()
    if "base" in params and isinstance(params["base"], Forecaster):
        return model.with_params(base=with_context(params["base"], context))
    if "context" in params:
        return model.with_params(context=context)
    return model


def needs_context(specs: Sequence[str]) -> bool:
    """True when one of ``specs`` builds a forecaster that reads a
    :class:`~xunfang.analyse.forecast.learned.CellContext` (``gbm``, or ``auto``, whose
    default candidates include ``gbm``)."""
    return any(s.split("+")[0].split(":")[0].strip().lower() in ("gbm", "auto") for s in specs)


def make_forecaster(
    spec: str, grid: Grid, *, seed: int = 0, context: CellContext | None = None
) -> Forecaster:
    """Build a forecaster from a spec (see the module docstring).

    ``context`` (type mix and place features) is given to the forecasters that take it
    (:func:`with_context`); a spec cannot name one.

    Raises
    ------
    ValidationError
        For an unknown method or parameter, naming the ones that exist, or a bad value
        (the method's own check).
    """
    main, plus, tod = spec.partition("+")
    head, *rest = main.split(":")
    name = head.strip().lower()
    if name not in METHODS:
        raise ValidationError(
            f"unknown forecast method {name!r} in {spec!r}; methods: {', '.join(METHODS)}"
        )
    cls = METHODS[name]
    params = _params(rest, spec)
    allowed = set(cls._params) - {"grid"}
    unknown = set(params) - (allowed - {"context"})
    if unknown:
        raise ValidationError(
            f"method {name!r} has no parameter(s) {sorted(unknown)}; parameters: {sorted(allowed)}"
        )
    params.setdefault("seed", seed)
    factory: Callable[..., Forecaster] = cls
    model = factory(grid=grid, **params)
    if plus:
        tod_head, *tod_rest = tod.split(":")
        if tod_head.strip().lower() != "tod":
            raise ValidationError(f"after '+' only 'tod' is known, got {tod_head!r} in {spec!r}")
        tparams = _params(tod_rest, spec)
        tallowed = set(TimeOfDay._params) - {"base"}
        if set(tparams) - tallowed:
            raise ValidationError(
                f"tod has no parameter(s) {sorted(set(tparams) - tallowed)}; "
                f"parameters: {sorted(tallowed)}"
            )
        tparams.setdefault("seed", seed)
        model = TimeOfDay(base=model, **tparams)
    model = with_context(model, context)
    # every door (predict, evaluate, plan, serve) refuses a bad value here, before any
    # work, rather than at the first fit (evaluate ran on without the method)
    model._validate()
    return model
