"""Where and when incidents concentrate: counts and kernel density per grid cell and
hour of the week, by type group, and hotspot summaries a shift commander can read.

Hour of week is ``weekday * 24 + hour`` in local time, Monday 00:00 = 0. Incidents whose
time is known only to the day (``time_precision == "day"``) count in the cell totals and
by weekday but not by hour; how many there were is kept in :attr:`WhereWhen.n_date_only`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable
from xunfang.units import HOURS_PER_WEEK

ALL = "all"
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(frozen=True)
class WhereWhen:
    """Incident counts on a grid and over the week.

    Attributes
    ----------
    grid
        The grid (metres, projected CRS).
    groups
        Type groups present, most frequent first.
    cell_counts
        DataFrame, index = cell id, one column per group plus ``all``: incidents per cell.
    hour_of_week
        (n_groups + 1, 168) int64 counts over the whole area; row ``-1`` is ``all``.
    cell_hours
        Long DataFrame ``type_group, cell, hour_of_week, count`` (timed incidents only, only
        non-zero combinations): the sparse cell x hour-of-week x type cube.
    n_outside_grid
        Incidents that fell outside the grid rectangle (counted, not used).
    n_date_only
        Incidents without a time of day (in cell totals, not in hourly counts).
    n_piled
        Incidents on a pile (``piled`` column of ingest: a geocoder's fallback point),
        left out of every count here (``xunfang ingest --keep-piled`` keeps them).
    """

    grid: Grid
    groups: tuple[str, ...]
    cell_counts: pd.DataFrame
    hour_of_week: np.ndarray
    cell_hours: pd.DataFrame
    n_outside_grid: int
    n_date_only: int
    n_piled: int = 0

    def group_index(self, group: str) -> int:
        """Row of ``group`` in :attr:`hour_of_week` (``all`` is the last)."""
        if group == ALL:
            return len(self.groups)
        if group not in self.groups:
            raise ValidationError(f"no type group {group!r}; groups: {(*self.groups, ALL)}")
        return self.groups.index(group)

    def hour_of_day(self, group: str = ALL) -> np.ndarray:
        """(24,) counts by local hour of day."""
        return self.hour_of_week[self.group_index(group)].reshape(7, 24).sum(axis=0)

    def weekday(self, group: str = ALL) -> np.ndarray:
        """(7,) counts by local weekday, Monday first (timed incidents only)."""
        return self.hour_of_week[self.group_index(group)].reshape(7, 24).sum(axis=1)

    def kde(self, group: str = ALL, *, bandwidth_m: float = 300.0) -> np.ndarray:
        """Kernel density of incidents per km², per cell (n_cells,).

        A Gaussian kernel with standard deviation ``bandwidth_m`` applied to the binned
        counts (the binned approximation of KDE, Silverman 1986 ch. 3; its use for crime
        hotspot maps: Chainey, Tompson & Uhlig 2008, Security Journal 21). Mass that
        falls outside the grid rectangle is lost at the edges.

        Raises
        ------
        ValidationError
            If ``bandwidth_m`` is not positive.
        """
        if not bandwidth_m > 0:
            raise ValidationError(f"bandwidth_m must be positive, got {bandwidth_m}")
        col = ALL if group == ALL else group
        counts = self.cell_counts[col].reindex(range(self.grid.n_cells), fill_value=0)
        image = self.grid.to_image(counts.to_numpy(dtype=np.float64))
        smooth = ndimage.gaussian_filter(
            image, sigma=bandwidth_m / self.grid.cell_m, mode="constant", truncate=4.0
        )
        return smooth.ravel() / self.grid.cell_area_km2


def where_when(table: IncidentTable, grid: Grid) -> WhereWhen:
    """Count incidents per cell, hour of week and type group.

    Parameters
    ----------
    table
        Incidents; ``x_m``/``y_m`` must be in ``grid.crs``.
    grid
        The grid.

    Raises
    ------
    ValidationError
        If the table and grid CRS differ, or the table is empty.
    """
    if table.crs != grid.crs:
        raise ValidationError(
            f"incidents are in {table.crs.to_string()} but the grid is in "
            f"{grid.crs.to_string()}: reproject the table first (IncidentTable.reproject)"
        )
    if len(table) == 0:
        raise ValidationError("no incidents to analyse: the table is empty")
    f = table.frame
    cell = grid.cell_of(table.xy)
    # rows piled on one point (a geocoder's fallback, marked by ingest) are left out
    piled = f["piled"].to_numpy(dtype=bool) if "piled" in f else np.zeros(len(f), dtype=bool)
    on_grid = cell >= 0
    inside = on_grid & ~piled
    local = table.local_time()
    how = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy(dtype=np.int64)
    date_only = (f["time_precision"] == "day").to_numpy()
    groups_all = f["type_group"].astype(str).to_numpy()
    groups = tuple(pd.Series(groups_all[inside]).value_counts().index.astype(str))

    long = pd.DataFrame({"type_group": groups_all[inside], "cell": cell[inside]})
    wide = pd.crosstab(long["cell"], long["type_group"])
    wide = wide.reindex(columns=list(groups), fill_value=0)
    wide[ALL] = wide.sum(axis=1)
    wide.columns.name = None

    hw = np.zeros((len(groups) + 1, HOURS_PER_WEEK), dtype=np.int64)
    timed = inside & ~date_only
    gi = pd.Categorical(groups_all[timed], categories=list(groups)).codes
    np.add.at(hw, (gi, how[timed]), 1)
    hw[-1] = hw[:-1].sum(axis=0)
    cube = (
        pd.DataFrame(
            {"type_group": groups_all[timed], "cell": cell[timed], "hour_of_week": how[timed]}
        )
        .value_counts()
        .rename("count")
        .reset_index()
    )
    return WhereWhen(
        grid=grid,
        groups=groups,
        cell_counts=wide,
        hour_of_week=hw,
        cell_hours=cube,
        n_outside_grid=int((~on_grid).sum()),
        n_piled=int((on_grid & piled).sum()),
        n_date_only=int((inside & date_only).sum()),
    )


def empty_where_when(grid: Grid) -> WhereWhen:
    """The counts of no incidents on ``grid`` (a district planned without history): no
    groups, zero counts."""
    return WhereWhen(
        grid=grid,
        groups=(),
        cell_counts=pd.DataFrame({ALL: pd.Series([], dtype=np.int64)}),
        hour_of_week=np.zeros((1, HOURS_PER_WEEK), dtype=np.int64),
        cell_hours=pd.DataFrame(
            {
                "type_group": pd.Series([], dtype=str),
                "cell": pd.Series([], dtype=np.int64),
                "hour_of_week": pd.Series([], dtype=np.int64),
                "count": pd.Series([], dtype=np.int64),
            }
        ),
        n_outside_grid=0,
        n_date_only=0,
    )


@dataclass(frozen=True)
class HotspotSummary:
    """The top cells of one type group and when their incidents happen.

    Attributes
    ----------
    group
        Type group (or ``all``).
    cells
        Cell ids, most incidents first.
    counts
        Incidents in each cell.
    group_total
        All incidents of the group on the grid.
    area_share
        Share of the study area's cells that ``cells`` make up.
    incident_share
        Share of the group's incidents in ``cells``.
    window
        (start_hour, end_hour) local: the shortest run of hours (wrapping midnight) that
        holds at least ``window_share`` of the timed incidents in ``cells``; end exclusive.
    window_share
        The share actually held by ``window``.
    peak_days
        Weekday numbers (Monday = 0) whose counts exceed the daily mean by 10 %, busiest first.
    """

    group: str
    cells: np.ndarray
    counts: np.ndarray
    group_total: int
    area_share: float
    incident_share: float
    window: tuple[int, int]
    window_share: float
    peak_days: tuple[int, ...]

    def sentence(self, label: str, lang: str = "en") -> str:
        """One sentence for a shift commander, in English (``en``) or Chinese (``zh``)."""
        start, end = self.window
        span = (end - start) % 24 or 24
        n = len(self.cells)
        if lang == "zh":
            when = (
                "全天分布较均匀"
                if span >= 18
                else f"其中{self.window_share:.0%}发生在{start:02d}:00至{end % 24:02d}:00"
            )
            days = (
                "，以" + "、".join(WEEKDAYS_ZH[d] for d in self.peak_days) + "最多"
                if self.peak_days
                else ""
            )
            return (
                f"{label}警情集中在这{n}个网格（占研究区域网格的{self.area_share:.1%}，"
                f"占该类{self.group_total:,}起中的{self.incident_share:.1%}）；{when}{days}。"
            )
        when = (
            "spread through the day"
            if span >= 18
            else f"{self.window_share:.0%} of them between {start:02d}:00 and {end % 24:02d}:00"
        )
        days = (
            "; busiest on " + " and ".join(WEEKDAYS_EN[d] for d in self.peak_days)
            if self.peak_days
            else ""
        )
        return (
            f"{label[:1].upper() + label[1:]} incidents concentrate in these {n} cells "
            f"({self.area_share:.1%} of the area's grid cells, {self.incident_share:.1%} of the "
            f"group's "
            f"{self.group_total:,}): {when}{days}."
        )


def shortest_window(hours: np.ndarray, share: float = 0.5) -> tuple[int, int, float]:
    """Shortest circular run of hours holding at least ``share`` of the total.

    Parameters
    ----------
    hours
        (24,) non-negative counts by hour of day.
    share
        Target share in (0, 1].

    Returns
    -------
    (start, end, held)
        ``start`` inclusive and ``end`` exclusive hours (``end`` may exceed 24 when the
        window wraps midnight: take it modulo 24), and the share held. Ties go to the
        window holding more, then to the earliest start.
    """
    h = np.asarray(hours, dtype=np.float64)
    total = h.sum()
    if total <= 0:
        return 0, 24, 0.0
    doubled = np.concatenate([h, h])
    csum = np.concatenate([[0.0], np.cumsum(doubled)])
    for length in range(1, 25):
        sums = csum[length : length + 24] - csum[:24]
        best = int(np.argmax(sums))
        if sums[best] >= share * total - 1e-9:
            return best, best + length, float(sums[best] / total)
    return 0, 24, 1.0


def summarise_hotspots(
    ww: WhereWhen,
    *,
    n_cells: int = 10,
    window_share: float = 0.5,
    groups: list[str] | None = None,
    min_incidents: int = 30,
) -> list[HotspotSummary]:
    """Top-``n_cells`` cells per type group with their peak hours and days.

    Parameters
    ----------
    ww
        Output of :func:`where_when`.
    n_cells
        How many cells make a group's hotspot (the busiest, by count).
    window_share
        Share of the hotspot's timed incidents the peak window must hold.
    groups
        Groups to summarise; default every group, then ``all``.
    min_incidents
        Groups with fewer incidents on the grid are not summarised (too few to speak of
        a concentration).
    """
    out = []
    n_active = max(ww.grid.n_active, 1)
    for group in groups or [*ww.groups, ALL]:
        col = ww.cell_counts[group]
        top = col[col > 0].sort_values(ascending=False, kind="stable").head(n_cells)
        if top.empty or col.sum() < min_incidents:
            continue
        cells = top.index.to_numpy(dtype=np.int64)
        sub = ww.cell_hours[ww.cell_hours["cell"].isin(cells)]
        if group != ALL:
            sub = sub[sub["type_group"] == group]
        how = np.bincount(sub["hour_of_week"], weights=sub["count"], minlength=HOURS_PER_WEEK)
        start, end, held = shortest_window(how.reshape(7, 24).sum(axis=0), window_share)
        days = how.reshape(7, 24).sum(axis=1)
        mean = days.mean()
        order = np.argsort(-days, kind="stable")
        peak = tuple(int(d) for d in order[:2] if mean > 0 and days[d] > 1.1 * mean)
        total = int(col.sum())
        out.append(
            HotspotSummary(
                group=group,
                cells=cells,
                counts=top.to_numpy(dtype=np.int64),
                group_total=total,
                area_share=len(cells) / n_active,
                incident_share=float(top.sum() / total) if total else 0.0,
                window=(start, end),
                window_share=held,
                peak_days=peak,
            )
        )
    return out
