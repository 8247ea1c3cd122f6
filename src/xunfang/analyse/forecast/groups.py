"""One forecast per type group, summed: each group gets its own automatic selection.

When an evaluation asks for several type groups together (``xunfang forecast evaluate
--types BURGLARY,THEFT``), the incidents scored are those of every group, but the
method and its parameters are chosen per group (issue 13: "choose the method and its
parameters per type group"; sparse types want wider smoothing than dense ones): each
group's forecaster (e.g. ``auto``) is fitted on that group's incidents alone and the
forecast of the whole is the sum of the groups' expected counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window
from xunfang.analyse.forecast.select import note_text
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable


@dataclass
class GroupSelections:
    """The selections of the groups of one window (what :class:`PerGroup` chose).

    Attributes
    ----------
    by_group
        Each group's :class:`~xunfang.analyse.forecast.select.Selection`, by group.
    notes
        Groups without incidents in the history (forecast zero).
    """

    by_group: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> str:
        """``group: chosen spec`` of each group, joined by ``; ``."""
        return "; ".join(f"{g}: {s.chosen}" for g, s in self.by_group.items())

    @property
    def table(self) -> pd.DataFrame:
        """The groups' candidate tables, with a ``group`` column first."""
        return _stack({g: s.table for g, s in self.by_group.items()})

    @property
    def scores(self) -> pd.DataFrame:
        """The groups' validation scores, with a ``group`` column first."""
        return _stack({g: s.scores for g, s in self.by_group.items()})

    def reason(self, lang: str = "en") -> str:
        """Each group's reason, ``group: reason``, joined by `` | `` (``lang``: "en" or "zh",
        as :meth:`Selection.reason`)."""
        parts = [f"{g}: {s.reason(lang)}" for g, s in self.by_group.items()]
        return " | ".join(parts + [note_text(n, lang) for n in self.notes])


def _stack(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame()
    out = [f.assign(group=g)[["group", *f.columns]] for g, f in frames.items()]
    return pd.concat(out, ignore_index=True)


class PerGroup(Forecaster):
    """The sum of one ``base`` forecaster per type group, each fitted on its group.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    base
        The forecaster of every group (e.g. ``auto``); a fresh copy per group.
    groups
        Incidents of each group, all of their history, by group name (projected like
        the grid). Each fit takes the group's incidents in the fitted period; the
        incidents given to :meth:`fit` only set that period.
    seed
        Seed passed to each group's forecaster.

    Attributes
    ----------
    models_
        The fitted forecaster of each group, by group (kept across refits, so a
        ``warm_start`` base keeps what it learned per group).
    selection_
        :class:`GroupSelections` of the last window when the base chooses (``auto``).

    Notes
    -----
    The groups should not share incidents (a type named twice would count twice).
    A group without incidents in the fitted period forecasts zero, and the selection's
    notes say so.
    """

    name: ClassVar[str] = "per-group"
    _params: ClassVar[tuple[str, ...]] = ("grid", "base", "groups", "seed")

    def __init__(
        self,
        *,
        grid: Grid,
        base: Forecaster,
        groups: Mapping[str, IncidentTable],
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.base = base
        self.groups = groups
        self.seed = seed

    def describe(self) -> str:
        """The base's name, per group."""
        return f"{self.base.describe()} per group ({', '.join(self.groups)})"

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.base, Forecaster):
            raise ValidationError(f"base must be a forecaster, got {type(self.base).__name__}")
        if not self.groups:
            raise ValidationError("per-group forecast: give at least one type group")

    def _group_events(self) -> dict[str, TrainingEvents | None]:
        """Each group's incidents on this grid (converted once), ``None`` when none lies
        in the study area."""
        cached: dict[str, TrainingEvents | None] | None = getattr(self, "_events_by_group", None)
        if cached is None:
            cached = {}
            for g, table in self.groups.items():
                try:
                    cached[g] = TrainingEvents.from_table(table, self.grid)
                except ValidationError:  # empty, or nothing inside the area
                    cached[g] = None
            self._events_by_group = cached
        return cached

    def _fit(self, events: TrainingEvents) -> None:
        models: dict[str, Forecaster] = getattr(self, "models_", {})
        fitted: dict[str, Forecaster] = {}
        notes = []
        for g, ev in self._group_events().items():
            lo = hi = 0
            if ev is not None:
                lo, hi = np.searchsorted(ev.t_day, [events.start_day, events.end_day], "left")
            if ev is None or hi <= lo:
                notes.append(f"{g}: no incident in the history, forecast 0")
                continue
            model = models.get(g) or self.base.with_params(grid=self.grid, seed=int(self.seed))
            fitted[g] = model.fit_events(ev.between(events.start_day, events.end_day))
        self.models_ = {**models, **fitted}
        self._live = list(fitted)
        self._notes = notes

    def _predict(self, window: Window) -> np.ndarray:
        out = np.zeros(self.grid.n_cells)
        chosen: dict[str, Any] = {}
        for g in self._live:
            model = self.models_[g]
            out += model.predict(window).risk
            sel = getattr(model, "selection_", None)
            if sel is not None:
                chosen[g] = sel
        if chosen:
            self.selection_ = GroupSelections(chosen, list(self._notes))
        return out
