"""Units for a scenario: station cars, booth officers, patrols on hotspot routes, a
rapid-response team, and units from a deployment schedule (CSV).

Deployment schedule format (one row per unit and on-duty block; the output format the
dynamic-deployment planner is asked to write)::

    unit_id,kind,block_start_hour_of_week,block_end_hour_of_week,lon,lat
    D1,patrol,16,24,-87.6270,41.8790
    D1,patrol,40,48,-87.6270,41.8790

``unit_id``
    Unit identifier; a unit may have several blocks (they must not overlap).
``kind``
    ``booth``, ``patrol``, ``station_car`` or ``response_team``.
``block_start_hour_of_week``, ``block_end_hour_of_week``
    Integers 0..168, hour of week in local time (Monday 00:00 = 0); the unit is on duty
    in ``[start, end)``, every week. ``end < start`` wraps over Sunday midnight.
``lon``, ``lat`` (WGS-84) or ``node``
    The post during the block: a position (snapped to the nearest road node) or a node
    index of the study area's road network as built by xunfang (positions are safer:
    node indices change with the network). Positions win when both are given.
``coord_frame`` (optional)
    The frame of ``lon``/``lat`` on that row (``wgs84``, ``gcj02``, ``bd09``), as
    ``xunfang deploy`` writes it after a plan with ``--output-frame``; positions are
    converted back to WGS-84 (blank or absent: WGS-84).
``max_travel_min`` (optional)
    The unit only takes calls within this many minutes of travel.
``mode`` (optional)
    ``car`` (default) or ``foot``.

The ``deployment.csv`` written by ``xunfang deploy`` (one row per officer and block, with
``start``/``end`` as ``"Mon 08:00"`` and a ``post_kind``) is read as well, through
:func:`from_planner_table`: a vehicle crew becomes one ``patrol`` car unit, a foot patrol
one ``patrol`` unit on foot, a rule post (school gate) one ``booth`` unit on foot; booth
staff are left out (the booth scenario already has them: counting them again would double
the booths) and so are the reserve and relief officers, who wait at the station.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from xunfang.dispatch.model import UnitKind
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.coords import frame_column_to_wgs84
from xunfang.plan.roster import DAY_NAMES
from xunfang.simulate.calls import Period
from xunfang.simulate.sim import UnitSpec
from xunfang.units import HOURS_PER_WEEK, WGS84

DEPLOYMENT_COLUMNS = (
    "unit_id",
    "kind",
    "block_start_hour_of_week",
    "block_end_hour_of_week",
)

Site = tuple[str, int]
"""``(name, node)`` of a station or booth."""


def daily_duty(
    shift_hours: Sequence[float], period: Period, node: int, *, extra_days: int = 2
) -> tuple[tuple[float, float, int], ...]:
    """On-duty blocks of a daily shift ``[start_hour, end_hour)`` over the period.

    ``[0, 24]`` means always on duty (returns ``()``); ``end < start`` is an overnight
    shift. Blocks run ``extra_days`` past the period so late calls are still served.

    Raises
    ------
    ValidationError
        For hours outside 0..24 or an empty shift.
    """
    if len(shift_hours) != 2:
        raise ValidationError(f"shift_hours must be [start, end], got {list(shift_hours)}")
    a, b = float(shift_hours[0]), float(shift_hours[1])
    if not (0 <= a <= 24 and 0 <= b <= 24) or a == b:
        raise ValidationError(f"shift_hours must be two different hours in 0..24, got {[a, b]}")
    if (a, b) in ((0.0, 24.0), (24.0, 0.0)):
        return ()
    length_h = (b - a) % 24 or 24.0
    n_days = int(np.ceil(period.seconds / 86400.0)) + extra_days
    blocks = []
    for d in range(-1, n_days):
        start = (d * 24 + a - period.start_hour) * 3600.0
        end = start + length_h * 3600.0
        if end > 0:
            blocks.append((start, end, node))
    return tuple(blocks)


def weekly_duty(
    blocks_how: Sequence[tuple[int, int, int]], period: Period, *, extra_days: int = 2
) -> tuple[tuple[float, float, int], ...]:
    """On-duty blocks from hour-of-week blocks ``(start, end, node)`` repeated weekly."""
    horizon_h = period.seconds / 3600.0 + 24 * extra_days
    n_weeks = int(np.ceil(horizon_h / HOURS_PER_WEEK)) + 1
    h0 = period.start_hour_of_week
    out = []
    for s, e, node in blocks_how:
        length = (e - s) % HOURS_PER_WEEK or HOURS_PER_WEEK
        for w in range(-1, n_weeks):
            start_h = w * HOURS_PER_WEEK + s - h0
            end_h = start_h + length
            if end_h > 0 and start_h < horizon_h:
                out.append((start_h * 3600.0, end_h * 3600.0, node))
    out.sort()
    merged: list[tuple[float, float, int]] = []
    for block in out:
        if merged and block[0] < merged[-1][1]:
            raise ValidationError(f"overlapping duty blocks {merged[-1]} and {block}")
        merged.append(block)
    return tuple(merged)


def station_cars(
    stations: Sequence[Site],
    per_station: int,
    *,
    counts: dict[str, int] | None = None,
    period: Period | None = None,
    shift_hours: Sequence[float] = (0, 24),
) -> list[UnitSpec]:
    """``per_station`` cars at each station (``counts`` overrides by station name)."""
    units = []
    counts = counts or {}
    unknown = sorted(set(counts) - {name for name, _ in stations})
    if unknown:
        raise ValidationError(
            f"units.station_car.counts names stations {unknown} that are not in the plan; "
            f"stations: {[name for name, _ in stations]}"
        )
    for name, node in stations:
        blocks = daily_duty(shift_hours, period, node) if period is not None else ()
        for k in range(counts.get(name, per_station)):
            units.append(
                UnitSpec(
                    f"car:{name}#{k + 1}",
                    UnitKind.STATION_CAR,
                    node,
                    duty=blocks,
                    group=name,
                )
            )
    return units


def booth_officers(
    booths: Sequence[Site],
    per_booth: int,
    *,
    foot: bool,
    foot_factor: float,
    max_travel_s: float | None,
    period: Period | None = None,
    shift_hours: Sequence[float] = (0, 24),
) -> list[UnitSpec]:
    """``per_booth`` officers at each booth, on foot or by car, limited to their area."""
    units = []
    for name, node in booths:
        blocks = daily_duty(shift_hours, period, node) if period is not None else ()
        for k in range(per_booth):
            units.append(
                UnitSpec(
                    f"booth:{name}#{k + 1}",
                    UnitKind.BOOTH,
                    node,
                    speed_factor=foot_factor if foot else 1.0,
                    vehicle=not foot,
                    max_travel_s=max_travel_s,
                    duty=blocks,
                    group=name,
                )
            )
    return units


def hotspot_routes(
    node_xy: np.ndarray,
    incident_nodes: np.ndarray,
    count: int,
    waypoints: int,
    seed: int,
) -> list[tuple[int, ...]]:
    """Patrol routes through hotspots: ``count`` k-means clusters of the incidents
    (Lloyd 1982, scikit-learn ``KMeans``), each route visiting the ``waypoints`` road
    nodes with the most incidents in its cluster, in angular order around the cluster's
    centre (a simple loop).

    Parameters
    ----------
    node_xy
        (n, 2) node coordinates, metres.
    incident_nodes
        (m,) road node of each training incident.
    count, waypoints
        Routes and waypoints per route.
    seed
        Seed of the k-means initialisation.

    Raises
    ------
    ValidationError
        If there are fewer distinct incident nodes than routes.
    """
    from sklearn.cluster import KMeans

    nodes, weight = np.unique(np.asarray(incident_nodes, dtype=np.int64), return_counts=True)
    if nodes.size < count:
        raise ValidationError(
            f"{count} patrol routes need at least {count} distinct incident places; "
            f"found {nodes.size}"
        )
    xy = node_xy[nodes]
    km = KMeans(n_clusters=count, n_init=4, random_state=seed).fit(xy, sample_weight=weight)
    routes = []
    for j in range(count):
        mine = np.flatnonzero(km.labels_ == j)
        top = mine[np.lexsort((nodes[mine], -weight[mine]))][:waypoints]
        centre = km.cluster_centers_[j]
        angle = np.arctan2(xy[top, 1] - centre[1], xy[top, 0] - centre[0])
        routes.append(tuple(int(v) for v in nodes[top[np.argsort(angle, kind="stable")]]))
    return routes


def patrols(
    routes: Sequence[tuple[int, ...]],
    dwell_s: float,
    *,
    period: Period | None = None,
    shift_hours: Sequence[float] = (0, 24),
) -> list[UnitSpec]:
    """One patrol car per route, starting at its first waypoint."""
    units = []
    for j, route in enumerate(routes):
        blocks = daily_duty(shift_hours, period, route[0]) if period is not None else ()
        units.append(
            UnitSpec(
                f"patrol:R{j + 1}",
                UnitKind.PATROL,
                route[0],
                route=tuple(route),
                dwell_s=dwell_s,
                duty=blocks,
                group=f"route R{j + 1}",
            )
        )
    return units


def response_team(
    count: int,
    node: int,
    *,
    max_priority: int,
    speed_factor: float,
    period: Period | None = None,
    shift_hours: Sequence[float] = (0, 24),
    name: str = "response team",
) -> list[UnitSpec]:
    """``count`` rapid-response cars at one post, sent only to calls of priority
    ``<= max_priority``."""
    blocks = daily_duty(shift_hours, period, node) if period is not None else ()
    return [
        UnitSpec(
            f"rrt#{k + 1}",
            UnitKind.RESPONSE_TEAM,
            node,
            speed_factor=speed_factor,
            max_priority=max_priority,
            duty=blocks,
            group=name,
        )
        for k in range(count)
    ]


def _hour_of_week(text: str) -> int:
    day, _, clock = str(text).strip().partition(" ")
    if day not in DAY_NAMES or ":" not in clock:
        raise ValueError(f"{text!r} is not like 'Mon 08:00'")
    hh, mm = clock.split(":")
    return DAY_NAMES.index(day) * 24 + int(hh) + (1 if int(mm) >= 30 else 0)


def from_planner_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert ``xunfang deploy``'s ``deployment.csv`` rows to the schedule format above.

    Raises
    ------
    ValueError
        If a ``start``/``end`` value is not like ``"Mon 08:00"``.
    """
    keep = frame[frame["post_kind"].isin(["mobile", "foot", "rule"])].copy()
    is_car = keep["post_kind"] == "mobile"
    # an officer on foot in one block and at a school gate in the next is two units here
    keep["unit_id"] = np.where(
        is_car,
        "V:" + keep["unit"].astype(str),
        "O:" + keep["officer"].astype(str) + ":" + keep["post_kind"].astype(str),
    )
    keep["kind"] = np.where(keep["post_kind"] == "rule", "booth", "patrol")
    keep["mode"] = np.where(is_car, "car", "foot")
    keep["block_start_hour_of_week"] = keep["start"].map(_hour_of_week) % HOURS_PER_WEEK
    keep["block_end_hour_of_week"] = keep["end"].map(_hour_of_week) % HOURS_PER_WEEK
    cols = [
        "unit_id",
        "kind",
        "block_start_hour_of_week",
        "block_end_hour_of_week",
        "lon",
        "lat",
        "mode",
    ]
    out = keep[cols].drop_duplicates(["unit_id", "block_start_hour_of_week"])
    return out.astype(str).reset_index(drop=True)


def _positions_to_wgs84(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``lon``/``lat`` moved to WGS-84 from the frame its
    ``coord_frame`` column names (``xunfang deploy`` writes its positions in the plan's
    ``--output-frame``, e.g. GCJ-02); unchanged without that column."""
    if "coord_frame" not in frame.columns or not {"lon", "lat"} <= set(frame.columns):
        return frame
    given = frame["lon"].str.strip().ne("") & frame["lat"].str.strip().ne("")
    try:
        lon, lat = frame_column_to_wgs84(
            frame.loc[given, "lon"], frame.loc[given, "lat"], list(frame.loc[given, "coord_frame"])
        )
    except ValidationError as exc:
        raise DataFileError(path, str(exc), field="coord_frame") from exc
    out = frame.copy()
    ok = np.isfinite(lon) & np.isfinite(lat)  # unparsable ones stay as written (reported below)
    idx = out.index[given][ok]
    out.loc[idx, "lon"] = [repr(float(v)) for v in lon[ok]]
    out.loc[idx, "lat"] = [repr(float(v)) for v in lat[ok]]
    return out


def read_deployment(
    path: str | Path,
    period: Period,
    *,
    snap: object,
    crs: CRS,
    n_nodes: int,
    foot_factor: float,
) -> list[UnitSpec]:
    """Units of a deployment schedule CSV (format in the module docstring).

    Parameters
    ----------
    path
        The CSV.
    period
        The simulated period (hour of week of its start).
    snap
        ``callable(xy (m, 2) metres) -> (node_index, distance_m)`` of the road network.
    crs
        The network's projected CRS.
    n_nodes
        Nodes in the network (to check ``node``).
    foot_factor
        Travel-time multiplier of units with ``mode = foot``.

    Raises
    ------
    DataFileError
        Naming the row and field of every problem found (all are collected first).
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"cannot read the deployment schedule: {exc}") from exc
    frame.columns = [c.strip().lower() for c in frame.columns]
    frame = _positions_to_wgs84(path, frame)
    if {"post_kind", "start", "end", "officer"} <= set(frame.columns):
        try:
            frame = from_planner_table(frame)
        except ValueError as exc:
            raise DataFileError(path, f"not a deploy table: {exc}", field="start") from exc
    missing = [c for c in DEPLOYMENT_COLUMNS if c not in frame.columns]
    has_pos = {"lon", "lat"} <= set(frame.columns)
    if not has_pos and "node" not in frame.columns:
        missing.append("lon/lat or node")
    if missing:
        raise DataFileError(
            path,
            f"missing columns {missing}; expected {', '.join(DEPLOYMENT_COLUMNS)}, lon, lat "
            "(or node)",
            field=missing[0],
        )
    if frame.empty:
        raise DataFileError(path, "the deployment schedule has no rows")
    problems: list[tuple[int, str, str]] = []
    kinds = {k.value: k for k in UnitKind}
    rows = []
    for r, rec in enumerate(frame.to_dict("records"), start=1):
        kind = kinds.get(rec["kind"].strip())
        if kind is None:
            problems.append((r, "kind", f"{rec['kind']!r} is not one of {sorted(kinds)}"))
        hours = []
        for col in ("block_start_hour_of_week", "block_end_hour_of_week"):
            try:
                h = int(rec[col])
                if not 0 <= h <= HOURS_PER_WEEK:
                    raise ValueError
                hours.append(h)
            except ValueError:
                problems.append((r, col, f"{rec[col]!r} is not an hour of week 0..168"))
        if len(hours) == 2 and hours[0] == hours[1]:
            problems.append((r, "block_end_hour_of_week", "the block is empty (start == end)"))
        pos: tuple[float, float] | None = None
        node = -1
        if has_pos and rec.get("lon", "").strip() and rec.get("lat", "").strip():
            try:
                pos = (float(rec["lon"]), float(rec["lat"]))
                if not (-180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
                    raise ValueError
            except ValueError:
                problems.append((r, "lon", f"{rec['lon']!r}, {rec['lat']!r} is not WGS-84"))
        elif rec.get("node", "").strip():
            try:
                node = int(rec["node"])
                if not 0 <= node < n_nodes:
                    raise ValueError
            except ValueError:
                problems.append((r, "node", f"{rec['node']!r} is not a node 0..{n_nodes - 1}"))
        else:
            problems.append((r, "lon", "no post: give lon and lat (or node)"))
        mode = rec.get("mode", "").strip() or "car"
        if mode not in ("car", "foot"):
            problems.append((r, "mode", f"{mode!r} is not car or foot"))
        max_travel = rec.get("max_travel_min", "").strip()
        max_s = None
        if max_travel:
            try:
                max_s = float(max_travel) * 60.0
                if not max_s > 0:
                    raise ValueError
            except ValueError:
                problems.append((r, "max_travel_min", f"{max_travel!r} is not > 0 minutes"))
        uid = rec["unit_id"].strip()
        if not uid:
            problems.append((r, "unit_id", "empty unit id"))
        rows.append((r, uid, kind, hours, pos, node, mode, max_s))
    if problems:
        r, col, _ = problems[0]
        text = "; ".join(f"row {pr} field {pc!r}: {msg}" for pr, pc, msg in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise DataFileError(path, f"{len(problems)} problem(s): {text}{more}", row=r, field=col)
    positions = [(i, row[4]) for i, row in enumerate(rows) if row[4] is not None]
    nodes = [row[5] for row in rows]
    if positions:
        tr = Transformer.from_crs(WGS84, crs, always_xy=True)
        lon = np.array([p[1][0] for p in positions])
        lat = np.array([p[1][1] for p in positions])
        x, y = tr.transform(lon, lat)
        snapped, _dist = snap(np.column_stack([x, y]))  # type: ignore[operator]
        for (i, _), v in zip(positions, snapped, strict=True):
            nodes[i] = int(v)
    by_unit: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_unit.setdefault(row[1], []).append(i)
    units = []
    for uid, idx in by_unit.items():
        kinds_used = {rows[i][2] for i in idx}
        modes = {rows[i][6] for i in idx}
        if len(kinds_used) > 1 or len(modes) > 1:
            raise DataFileError(
                path,
                f"unit {uid} has different kinds or modes in its rows; one unit, one kind",
                row=rows[idx[0]][0],
                field="kind",
            )
        try:
            duty = weekly_duty([(rows[i][3][0], rows[i][3][1], nodes[i]) for i in idx], period)
        except ValidationError as exc:
            raise DataFileError(path, f"unit {uid}: {exc}", row=rows[idx[0]][0]) from None
        kind = rows[idx[0]][2]
        foot = rows[idx[0]][6] == "foot"
        assert kind is not None
        units.append(
            UnitSpec(
                f"dep:{uid}",
                kind,
                nodes[idx[0]],
                speed_factor=foot_factor if foot else 1.0,
                vehicle=not foot,
                max_travel_s=rows[idx[0]][7],
                duty=duty,
                group=f"deployment {uid}",
            )
        )
    return units
