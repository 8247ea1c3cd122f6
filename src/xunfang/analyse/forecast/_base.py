"""The forecaster contract shared by every method: windows, events, forecasts.

Every forecaster follows the scikit-learn estimator contract (STYLE.md habit 4):
``__init__`` stores keyword-only parameters and nothing else; ``fit(incidents)``
validates them and learns attributes ending in ``_``; ``predict(window)`` returns a
:class:`Forecast`, the expected number of incidents in each grid cell during the
window. Time inside the package is **days** (float) since 1970-01-01 00:00 UTC; space
is metres in the grid's projected CRS.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from xunfang.analyse.grid import Grid
from xunfang.errors import NotFittedError, ValidationError
from xunfang.ingest.incidents import IncidentTable
from xunfang.units import HOURS_PER_WEEK

NS_PER_DAY = 86_400 * 10**9
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def to_days(times: pd.Series | pd.DatetimeIndex | pd.Timestamp) -> np.ndarray:
    """Tz-aware timestamps -> float days since 1970-01-01 UTC (array, or 0-d for a scalar).

    Raises
    ------
    ValidationError
        If the timestamps carry no time zone (ambiguous instants).
    """
    if isinstance(times, pd.Timestamp):
        if times.tzinfo is None:
            raise ValidationError(f"timestamp {times} has no time zone; give a tz-aware time")
        return np.asarray((times - EPOCH) / pd.Timedelta(days=1), dtype=np.float64)
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        raise ValidationError("timestamps have no time zone; give tz-aware (UTC) times")
    ns = idx.tz_convert("UTC").as_unit("ns").asi8
    return ns.astype(np.float64) / NS_PER_DAY


def from_days(days: float) -> pd.Timestamp:
    """Float days since 1970-01-01 UTC -> a UTC timestamp."""
    return EPOCH + pd.Timedelta(days=float(days))


# --------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """A forecast window ``[start, end)``.

    Attributes
    ----------
    start, end
        Tz-aware timestamps (any zone; compared as instants), ``end > start``.
    label
        Short name for tables (e.g. ``2015-06-01 night``).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, pd.Timestamp) or value.tzinfo is None:
                raise ValidationError(f"Window.{name} must be a tz-aware pandas Timestamp")
        if not self.end > self.start:
            raise ValidationError(f"Window end {self.end} is not after its start {self.start}")

    @property
    def start_day(self) -> float:
        """Start, days since 1970-01-01 UTC."""
        return float(to_days(self.start))

    @property
    def end_day(self) -> float:
        """End, days since 1970-01-01 UTC."""
        return float(to_days(self.end))

    @property
    def length_days(self) -> float:
        """Duration, days."""
        return self.end_day - self.start_day

    def hours_of_week(self, timezone: str) -> np.ndarray:
        """(168,) hours of the window falling on each local hour of the week.

        Hour of week is ``weekday * 24 + hour`` (Monday 00:00 = 0), as in
        :mod:`xunfang.analyse.hotspots`. Each whole hour that starts inside the window
        counts once (windows are expected to start on the hour).
        """
        hours = pd.date_range(
            self.start.tz_convert(timezone).ceil("h", ambiguous=False, nonexistent="shift_forward"),
            self.end.tz_convert(timezone),
            freq="h",
            inclusive="left",
        )
        how = np.asarray(hours.day_of_week * 24 + hours.hour, dtype=np.int64)
        return np.bincount(how, minlength=HOURS_PER_WEEK).astype(np.float64)

    # ---- constructors in local time
    @classmethod
    def local(
        cls,
        day: dt.date | str,
        start_hour: int,
        end_hour: int,
        timezone: str,
        *,
        days: int = 1,
        label: str | None = None,
    ) -> Window:
        """A window from ``start_hour`` on local ``day`` to ``end_hour`` (the next day when
        ``end_hour <= start_hour``), lasting ``days`` days when the hours are 0 and 24.

        Raises
        ------
        ValidationError
            For hours outside 0..24.
        """
        if not (0 <= start_hour < 24 and 0 < end_hour <= 24):
            raise ValidationError(
                f"window hours must be 0 <= start < 24 and 0 < end <= 24, "
                f"got {start_hour}-{end_hour}"
            )
        d = pd.Timestamp(day).normalize()
        start = (d + pd.Timedelta(hours=start_hour)).tz_localize(
            timezone, nonexistent="shift_forward", ambiguous=False
        )
        if start_hour == 0 and end_hour == 24:
            end_naive = d + pd.Timedelta(days=days)
        else:
            extra = 1 if end_hour <= start_hour else 0
            end_naive = d + pd.Timedelta(days=extra, hours=end_hour)
        end = end_naive.tz_localize(timezone, nonexistent="shift_forward", ambiguous=False)
        name = label if label is not None else f"{d.date()} {start_hour:02d}-{end_hour:02d}"
        return cls(start, end, name)


WINDOW_KINDS = {"day": (0, 24, 1), "night": (22, 6, 1), "week": (0, 24, 7)}
"""Named window kinds: (start hour, end hour, days)."""


def parse_window_kind(kind: str) -> tuple[int, int, int]:
    """``day``, ``night`` (22-06), ``week`` or ``HH-HH`` -> (start hour, end hour, days).

    Raises
    ------
    ValidationError
        For anything else.
    """
    if kind in WINDOW_KINDS:
        return WINDOW_KINDS[kind]
    parts = kind.split("-")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        a, b = int(parts[0]), int(parts[1])
        if 0 <= a < 24 and 0 < b <= 24 and a != b:
            return a, b, 1
    raise ValidationError(f"--window must be day, night, week or HH-HH (e.g. 22-06), got {kind!r}")


def rolling_windows(first: dt.date | str, n: int, kind: str, timezone: str) -> list[Window]:
    """``n`` consecutive windows of one kind, the first on local date ``first``.

    Day and shift windows start on consecutive days; week windows on consecutive weeks.

    Raises
    ------
    ValidationError
        If ``n < 1`` or the kind is unknown.
    """
    if n < 1:
        raise ValidationError(f"--windows must be at least 1, got {n}")
    a, b, days = parse_window_kind(kind)
    try:
        d0 = pd.Timestamp(first).normalize()
    except (ValueError, TypeError):
        raise ValidationError(f"--start must be a date like 2015-06-01, got {first!r}") from None
    if pd.isna(d0):
        raise ValidationError(f"--start must be a date like 2015-06-01, got {first!r}")
    out = []
    for i in range(n):
        d = d0 + pd.Timedelta(days=i * days)
        lab = f"{d.date()} {kind}"
        out.append(Window.local(d.date(), a, b, timezone, days=days, label=lab))
    return out


# --------------------------------------------------------------------------- events
@dataclass(frozen=True)
class TrainingEvents:
    """Training incidents as arrays on one grid.

    Attributes
    ----------
    t_day
        (n,) float64 occurrence time, days since 1970-01-01 UTC, sorted ascending.
    xy
        (n, 2) float64 metres in the grid CRS.
    cell
        (n,) int64 grid cell of each event (every one inside the grid's active cells).
    hour_of_week
        (n,) int64 local hour of week, -1 where only the date is known.
    start_day, end_day
        Observation period ``[start_day, end_day)``, days since the epoch.
    timezone
        IANA zone of the incidents' local time.
    n_outside
        Incidents of the table that fell outside the grid's active cells (not used).
    end_known
        Whether ``end_day`` was stated (``end`` given to :meth:`from_table`, or
        :meth:`between`): the history was observed up to it and no later, so a window
        starting after it is forecast as of it (:meth:`Forecaster._origin_day`). ``False``
        (no ``end``: ``end_day`` is the last incident's time): the history is taken to
        run up to the window.
    """

    t_day: np.ndarray
    xy: np.ndarray
    cell: np.ndarray
    hour_of_week: np.ndarray
    start_day: float
    end_day: float
    timezone: str
    n_outside: int
    end_known: bool = True

    def __len__(self) -> int:
        return len(self.t_day)

    @property
    def duration_days(self) -> float:
        """Length of the observation period, days."""
        return self.end_day - self.start_day

    @classmethod
    def from_table(
        cls,
        table: IncidentTable,
        grid: Grid,
        *,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> TrainingEvents:
        """Validate and convert a table to arrays on ``grid``.

        Parameters
        ----------
        table
            Incidents; ``x_m``/``y_m`` in ``grid.crs``.
        grid
            The forecast grid.
        start, end
            Observation period (tz-aware). Default: from the midnight (UTC) before the
            first incident to the last incident. Incidents outside ``[start, end)`` are
            an error, not dropped: select them first.

        Raises
        ------
        ValidationError
            If the CRS differs from the grid's, no incident lies on the grid, the period
            is empty, or incidents fall outside the period.
        """
        if not isinstance(table, IncidentTable):
            raise TypeError(f"fit() takes an IncidentTable, got {type(table).__name__}")
        if table.crs != grid.crs:
            raise ValidationError(
                f"incidents are in {table.crs.to_string()} but the grid is in "
                f"{grid.crs.to_string()}: reproject the table (IncidentTable.reproject)"
            )
        if len(table) == 0:
            raise ValidationError("empty training set: fit() needs at least one incident")
        f = table.frame
        t = to_days(f["occurred_at"])
        cell = grid.cell_of(table.xy)
        inside = cell >= 0
        inside[inside] = grid.mask[cell[inside]]
        n_out = int((~inside).sum())
        if not inside.any():
            raise ValidationError(
                f"empty training set: none of the {len(table):,} incidents lies inside the "
                "grid's study area (check the area and the CRS)"
            )
        local = f["occurred_at"].dt.tz_convert(table.timezone)
        how = np.asarray(local.dt.day_of_week * 24 + local.dt.hour, dtype=np.int64)
        if "time_precision" in f.columns:
            how[(f["time_precision"] == "day").to_numpy()] = -1
        s_day = float(np.floor(t.min())) if start is None else float(to_days(start))
        e_day = float(t.max()) if end is None else float(to_days(end))
        if not e_day > s_day:
            raise ValidationError(
                f"the training period {from_days(s_day)} .. {from_days(e_day)} is empty"
            )
        if t.min() < s_day or (end is not None and t.max() >= e_day):
            raise ValidationError(
                f"training incidents run from {from_days(t.min())} to {from_days(t.max())}, "
                f"outside the stated period {from_days(s_day)} .. {from_days(e_day)}: "
                "select the incidents of the period first"
            )
        order = np.argsort(t[inside], kind="stable")
        return cls(
            t_day=t[inside][order],
            xy=table.xy[inside][order],
            cell=cell[inside][order],
            hour_of_week=how[inside][order],
            start_day=s_day,
            end_day=e_day,
            timezone=table.timezone,
            n_outside=n_out,
            end_known=end is not None,
        )

    def _local(self, day: float) -> str:
        """``day`` (days since the epoch) as local ``YYYY-MM-DD HH:MM``."""
        return f"{from_days(day).tz_convert(self.timezone):%Y-%m-%d %H:%M}"

    def between(self, start_day: float, end_day: float) -> TrainingEvents:
        """The events in ``[start_day, end_day)`` (days since the epoch) as a new set
        with that observation period (a rolling-origin training slice).

        Raises
        ------
        ValidationError
            If the period is empty or holds no event.
        """
        if not end_day > start_day:
            raise ValidationError(
                f"the training period {from_days(start_day)} .. {from_days(end_day)} is empty"
            )
        lo, hi = np.searchsorted(self.t_day, [start_day, end_day], side="left")
        if hi <= lo:
            raise ValidationError(
                f"empty training set: no incident between {self._local(start_day)} and "
                f"{self._local(end_day)} (a forecast trains on the --lookback-days before its "
                "window, and `auto` also validates on earlier windows): give incidents that "
                "cover that period (is there a hole in the data?), a longer --lookback-days, or "
                "a method that needs less history (e.g. kde rather than auto)"
            )
        sl = slice(int(lo), int(hi))
        return TrainingEvents(
            t_day=self.t_day[sl],
            xy=self.xy[sl],
            cell=self.cell[sl],
            hour_of_week=self.hour_of_week[sl],
            start_day=float(start_day),
            end_day=float(end_day),
            timezone=self.timezone,
            n_outside=0,
        )


# --------------------------------------------------------------------------- forecasts
@dataclass(frozen=True)
class Forecast:
    """A risk surface over grid cells for one window.

    Attributes
    ----------
    method
        Name and parameters of the forecaster.
    grid
        The grid (metres, projected CRS).
    window
        The forecast window.
    risk
        (n_cells,) float64: expected number of incidents in each cell during the window
        (0 outside the study area). Ranking cells by it gives the hotspots.
    """

    method: str
    grid: Grid
    window: Window
    risk: np.ndarray

    def __post_init__(self) -> None:
        if self.risk.shape != (self.grid.n_cells,):
            raise ValidationError(
                f"risk has shape {self.risk.shape}, the grid has {self.grid.n_cells} cells"
            )

    @property
    def expected_total(self) -> float:
        """Expected incidents in the window over the whole area."""
        return float(self.risk.sum())

    def top_cells(self, fraction: float, *, seed: int | None = 0) -> np.ndarray:
        """The ``floor(fraction * n_active)`` highest-risk active cells, ties at the
        cut-off broken at random with ``numpy.random.default_rng(seed)``.

        Raises
        ------
        ValidationError
            If ``fraction`` is not in (0, 1].
        """
        if not 0 < fraction <= 1:
            raise ValidationError(f"fraction must be in (0, 1], got {fraction}")
        active = np.flatnonzero(self.grid.mask)
        k = int(np.floor(fraction * len(active) + 1e-9))
        rng = np.random.default_rng(seed)
        jitter = rng.permutation(len(active))
        order = np.lexsort((jitter, -self.risk[active]))
        return np.asarray(active[order[:k]], dtype=np.int64)

    def at(self, xy: np.ndarray) -> np.ndarray:
        """Risk of the cell holding each point (e.g. street-segment midpoints); NaN
        outside the grid or the study area.

        Parameters
        ----------
        xy
            (n, 2) metres in the grid CRS.
        """
        cell = self.grid.cell_of(xy)
        out = np.full(len(cell), np.nan)
        ok = cell >= 0
        ok[ok] = self.grid.mask[cell[ok]]
        out[ok] = self.risk[cell[ok]]
        return out


# --------------------------------------------------------------------------- base class
class Forecaster(ABC):
    """Base class: parameter handling, validation, the fit/predict contract.

    Subclasses list their parameters in ``_params`` (all keyword-only in ``__init__``),
    implement :meth:`_validate` (raise :class:`ValidationError` naming the parameter),
    :meth:`_fit` and :meth:`_predict`.
    """

    name: ClassVar[str] = "forecaster"
    _params: ClassVar[tuple[str, ...]] = ()
    warm_start_converges: ClassVar[bool] = False
    """Whether the forecaster's ``warm_start`` only moves the starting point of an
    iteration that stops on the same convergence tolerance (EM), so that a warm-started
    fit equals a cold one within that tolerance. ``False`` where a warm start keeps a
    fit (``gbm``, ``stack``: their forecasts then differ from a cold fit's)."""
    grid: Grid
    seed: int

    # ---- parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return {p: getattr(self, p) for p in self._params}

    def with_params(self, **changes: Any) -> Self:
        """A new, unfitted forecaster with some parameters changed (e.g. another grid)."""
        unknown = set(changes) - set(self._params)
        if unknown:
            raise ValidationError(
                f"{type(self).__name__} has no parameter(s) {sorted(unknown)}; "
                f"parameters: {list(self._params)}"
            )
        params = self.get_params()
        params.update(changes)
        return type(self)(**params)

    def describe(self) -> str:
        """Name with the non-default-looking parameters, for tables."""
        parts = [
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.get_params().items()
            if k not in ("grid", "seed", "base")
        ]
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        return self.describe()

    def _validate(self) -> None:
        """Raise ValidationError for a bad parameter (subclasses extend it)."""
        if not isinstance(self.seed, int | np.integer):
            raise ValidationError(f"seed must be an integer, got {self.seed!r}")

    @staticmethod
    def _positive(name: str, value: float, *, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        try:  # an int too large for a float (1e20 typed in full) is refused, not a crash
            ok = ok and value > 0 and bool(np.isfinite(float(value)))
        except OverflowError:
            ok = False
        if not ok:
            raise ValidationError(f"{name} must be a positive number, got {value!r}")

    # ---- contract
    def fit(
        self,
        incidents: IncidentTable,
        *,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Self:
        """Learn from the incidents observed in ``[start, end)``.

        Parameters
        ----------
        incidents
            Training incidents (projected like the grid). Those outside the grid's
            active cells are counted in ``events_.n_outside`` and not used.
        start, end
            Observation period, tz-aware; default from the first to the last incident.
            Forecasts may only be made for windows starting at or after ``end``.

        Raises
        ------
        ValidationError
            For a bad parameter, an empty training set, or mismatched CRS.
        """
        if not isinstance(getattr(self, "grid", None), Grid):
            raise ValidationError(f"{type(self).__name__}: grid must be an analyse.grid.Grid")
        if self.grid.n_active == 0:
            raise ValidationError("the grid has no active cell (zero-area study area)")
        self._validate()
        events = TrainingEvents.from_table(incidents, self.grid, start=start, end=end)
        return self.fit_events(events)

    def fit_events(self, events: TrainingEvents) -> Self:
        """:meth:`fit` from events already converted for this grid (used by the
        rolling-origin evaluation to convert the incidents once)."""
        if self.grid.n_active == 0:
            raise ValidationError("the grid has no active cell (zero-area study area)")
        self._validate()
        if len(events) == 0:
            raise ValidationError("empty training set: fit() needs at least one incident")
        self.events_ = events
        self._fit(events)
        return self

    def predict(self, window: Window) -> Forecast:
        """Expected incidents per cell in ``window``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValidationError
            If the window starts before the end of the training period (no look-ahead:
            this includes a window before the data).
        """
        events = getattr(self, "events_", None)
        if events is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        if not isinstance(window, Window):
            raise TypeError(f"predict() takes a Window, got {type(window).__name__}")
        if window.start_day < events.end_day - 1e-9:
            raise ValidationError(
                f"window {window.label or window.start} starts at {window.start}, before the "
                f"end of the training data ({from_days(events.end_day)}): a forecast may only "
                "use incidents before its window; fit on earlier incidents"
            )
        risk = np.asarray(self._predict(window), dtype=np.float64)
        risk = np.where(self.grid.mask, np.maximum(risk, 0.0), 0.0)
        return Forecast(self.describe(), self.grid, window, risk)

    @abstractmethod
    def _fit(self, events: TrainingEvents) -> None: ...

    @abstractmethod
    def _predict(self, window: Window) -> np.ndarray: ...

    # ---- helpers shared by methods
    def _origin_day(self, window: Window) -> float:
        """The time the history is read back from for ``window``, days since the epoch:
        its start, or the end of the training period when that is earlier (a window
        after a gap in the data: ``forecast predict`` fits on the data up to their last
        day and forecasts a later window). Counting periods end there, so the days of
        the gap, which nothing observed, are not taken for days without incidents (a
        night from 22:00 after data ending at midnight would lose 22 hours of a 7-day
        count, a forecast four days later four of seven days). In a rolling evaluation
        the training period ends at the window's start and this is the start."""
        events = self.events_
        return min(window.start_day, events.end_day) if events.end_known else window.start_day

    def _image(
        self, weights: np.ndarray | None = None, *, cells: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-cell sums of ``weights`` (default 1) as an image (ny, nx)."""
        c = self.events_.cell if cells is None else cells
        counts = np.bincount(c, weights=weights, minlength=self.grid.n_cells)
        return counts.astype(np.float64).reshape(self.grid.ny, self.grid.nx)

    def _scale_to_rate(
        self, surface: np.ndarray, n_events: float, days: float, window: Window
    ) -> np.ndarray:
        """Scale a non-negative surface so that it sums (over active cells) to the
        expected count ``n_events / days * window.length_days``; zero stays zero."""
        s = np.where(self.grid.mask, np.asarray(surface, dtype=np.float64).ravel(), 0.0)
        total = s.sum()
        if total <= 0 or days <= 0:
            return np.zeros_like(s)
        return s * (n_events / days * window.length_days / total)
