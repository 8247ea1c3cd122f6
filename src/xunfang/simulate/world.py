"""The simulated world of a study area: road network (cached), incidents, stations and
booths.

Everything comes from a :class:`xunfang.ingest.city.City` (the scenario's ``city`` file,
else the default city of the data directory). The road network is built as the booth
planner builds it (:meth:`~xunfang.ingest.city.City.road_network`) and cached as a
the road network of every command under ``Settings.cache_dir/networks``
(:mod:`xunfang.ingest.network_cache`: keyed by the area, the city's recipe and the road
files' paths, sizes and times). ``area = "city"`` takes the whole city without clipping.
"""

from __future__ import annotations

import glob
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import StudyArea
from xunfang.ingest.city import City, default_city
from xunfang.ingest.coords import frame_column_to_wgs84
from xunfang.ingest.incidents import IncidentTable, ingest, read_ingested_tables
from xunfang.ingest.network import RoadNetwork
from xunfang.plan.booth_plan import read_plan_record, read_sites_csv
from xunfang.simulate.calls import Period, incident_frame
from xunfang.units import WGS84


@dataclass(frozen=True, eq=False)
class SimNetwork:
    """What the simulator needs of a road network.

    Attributes
    ----------
    crs
        Projected CRS, metres.
    node_xy
        (n, 2) float64 node coordinates, metres.
    matrix
        (n, n) CSR travel-time graph, seconds.
    areas
        Community areas it was built from.
    build_s
        Seconds to build (or to load from the cache).
    cached
        Whether it came from the cache.
    """

    crs: CRS
    node_xy: np.ndarray
    matrix: sp.csr_matrix
    areas: tuple[str, ...]
    build_s: float
    cached: bool

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point: ``(node (m,) int64, distance_m (m,) float64)``."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if pts.shape[0] == 0:
            return np.empty(0, np.int64), np.empty(0)
        if not np.isfinite(pts).all():
            raise ValidationError("cannot snap NaN or infinite coordinates")
        dist, idx = _tree(self).query(pts, k=1)
        return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float64)

    @classmethod
    def from_road_network(cls, net: RoadNetwork, build_s: float = 0.0) -> SimNetwork:
        """From a :class:`~xunfang.ingest.network.RoadNetwork` (e.g. a booth plan's)."""
        return cls(
            crs=net.crs,
            node_xy=np.asarray(net.node_xy),
            matrix=net.matrix,
            areas=net.report.areas,
            build_s=build_s,
            cached=False,
        )


_TREES: dict[int, cKDTree] = {}


def _tree(net: SimNetwork) -> cKDTree:
    key = id(net.node_xy)
    tree = _TREES.get(key)
    if tree is None:
        tree = cKDTree(net.node_xy)
        _TREES.clear()
        _TREES[key] = tree
    return tree


def city_of(settings: Settings, city: City | None = None) -> City:
    """``city``, else the default city of the settings' data directory."""
    return city if city is not None else default_city(settings.data_dir)


def load_area(settings: Settings, name: str, *, city: City | None = None) -> StudyArea:
    """A study area of the city by name, or ``"city"`` (the whole city)."""
    return city_of(settings, city).study_area(name)


def load_network(
    settings: Settings,
    area: StudyArea,
    *,
    use_cache: bool = True,
    city: City | None = None,
) -> SimNetwork:
    """The area's road network, from the disk cache of every command when possible
    (:meth:`xunfang.ingest.city.City.road_network` with ``settings.cache_dir``).

    Raises
    ------
    ValidationError
        If graph files are missing; the errors of ``build_network`` pass through.
    """
    start = time.perf_counter()
    net, how = city_of(settings, city).cached_road_network(
        area, cache_dir=settings.cache_dir if use_cache else None
    )
    out = SimNetwork.from_road_network(net, time.perf_counter() - start)
    return replace(out, cached=how == "loaded")


def month_files(source: Path | list[Path], months: list[str]) -> list[Path]:
    """The incident files of ``months`` (names containing ``YYYY-MM``) among ``source``
    (a folder's ``*.csv*`` files, or a list of files).

    Raises
    ------
    ValidationError
        If a month has no file, naming the months available.
    """
    files = (
        sorted(Path(p) for p in glob.glob(str(source / "*.csv*")))
        if isinstance(source, Path)
        else list(source)
    )
    out = []
    missing = []
    for m in months:
        hit = [f for f in files if m in f.name]
        if hit:
            out.extend(hit)
        else:
            missing.append(m)
    if missing:
        have = sorted({mm for f in files for mm in re.findall(r"\d{4}-\d{2}", f.name)})
        where = source if isinstance(source, Path) else "the city's incident files"
        raise ValidationError(
            f"no incident file for month(s) {missing} in {where}; months available: "
            f"{have[0] if have else '-'} .. {have[-1] if have else '-'}"
        )
    return out


def previous_months(period: Period, n: int) -> list[str]:
    """The ``n`` calendar months before the period, oldest first (``YYYY-MM``)."""
    start = period.start.to_period("M")
    return [str(start - k) for k in range(n, 0, -1)]


@dataclass(frozen=True)
class Incidents:
    """Incidents of the area split into the held-out period and training months.

    Attributes
    ----------
    heldout, training
        :func:`~xunfang.simulate.calls.incident_frame` frames (node and snap distance on
        the network).
    outside_area
        Incidents read but outside the area polygon (not simulated).
    rejected
        Rows the ingest rejected, by reason.
    files
        Files read.
    training_months
        Months present in the training incidents (fewer than asked when the data start
        later).
    """

    heldout: pd.DataFrame
    training: pd.DataFrame
    outside_area: int
    rejected: dict[str, int]
    files: tuple[str, ...]
    training_months: tuple[str, ...] = ()


def load_incidents(
    settings: Settings,
    area: StudyArea,
    network: SimNetwork,
    period: Period,
    training_months: int,
    *,
    files: list[Path] | None = None,
    types: list[str] | None = None,
    city: City | None = None,
) -> Incidents:
    """Ingest the held-out month and the ``training_months`` before it, keep the
    incidents inside the area and snap them to the network.

    Without ``files``, the city's incident files: those named by month (``YYYY-MM`` in
    the name) for the months needed, else all of them (the split is by time).

    Raises
    ------
    ValidationError
        If files are missing or ``types`` names groups absent from the data.
    """
    the_city = city_of(settings, city)
    if files is None:
        every = the_city.incident_files()
        if any(re.search(r"\d{4}-\d{2}", f.name) for f in every):
            months = [*previous_months(period, training_months), period.label]
            available = month_files(every, [period.label])
            files = []
            for m in months[:-1]:
                try:
                    files.extend(month_files(every, [m]))
                except ValidationError:
                    continue  # fewer training months than asked: reported by the count below
            files.extend(available)
        else:
            files = every
    ingested = read_ingested_tables(files, area.crs)  # as `xunfang ingest` wrote it
    rejected: dict[str, int] = {}
    if ingested is not None:
        table = ingested
    else:
        prof = the_city.ingest_profile()
        table, _rejected, report = ingest(
            files, prof, crs=area.crs, frame=the_city.incident_frame(prof)
        )
        rejected = dict(report.rejected)
    frame = table.frame
    inside = shapely.contains_xy(area.polygon, frame["x_m"].to_numpy(), frame["y_m"].to_numpy())
    if types:
        present = set(frame["type_group"].astype(str).unique())
        unknown = sorted(set(types) - present)
        if unknown:
            raise ValidationError(
                f"calls.types {unknown} not in the data; groups present: {sorted(present)}"
            )
        inside &= frame["type_group"].isin(types).to_numpy()
    kept = IncidentTable(frame.loc[inside].reset_index(drop=True), table.crs, table.timezone)
    node, snap_m = network.snap(kept.xy)
    full = incident_frame(
        kept.local_time(),
        kept.frame["time_precision"].astype(str),
        kept.frame["type_group"].astype(str),
        kept.frame["type"].astype(str),
        node,
        snap_m,
        district=kept.frame["district"].astype(str).str.lstrip("0")
        if "district" in kept.frame
        else None,
        incident_id=kept.frame["incident_id"].astype(str),
    )
    local = full["local"].to_numpy(dtype="datetime64[ns]")
    start = np.datetime64(period.start.to_datetime64(), "ns")
    end = np.datetime64(period.end.to_datetime64(), "ns")
    # date-only rows carry 00:00 of their day, so they stay on their day when spread
    held = (local >= start) & (local < end)
    training = full[local < start].reset_index(drop=True)
    months = pd.DatetimeIndex(training["local"]).to_period("M").astype(str).unique()
    return Incidents(
        heldout=full[held].reset_index(drop=True),
        training=training,
        outside_area=int((~inside).sum()),
        rejected=rejected,
        files=tuple(str(f) for f in files),
        training_months=tuple(sorted(months)),
    )


def stations_in(settings: Settings, area: StudyArea, *, city: City | None = None) -> pd.DataFrame:
    """The city's police stations in or near the area: ``name``, ``lon``, ``lat`` (names
    as the booth planner writes them)."""
    chosen = city_of(settings, city).stations_for(area)
    return pd.DataFrame(
        {
            "name": list(chosen["name"]),
            "lon": chosen.geometry.x.to_numpy(),
            "lat": chosen.geometry.y.to_numpy(),
        }
    )


def sites_from_csv(path: Path) -> pd.DataFrame:
    """Stations and booths of an ``xunfang plan`` sites.csv: ``name``, ``kind``, ``lon``,
    ``lat``.

    Raises
    ------
    DataFileError
        If the file is missing or lacks the columns.
    """
    frame = read_sites_csv(path, columns=("lon", "lat"))
    out = frame[["name", "kind", "lon", "lat"]].copy()
    # the plan wrote its CSV in its --output-frame (for a Chinese map platform), named by
    # the coord_frame column, else by plan_summary.json's output_frame
    default = "wgs84"
    if (Path(path).parent / "plan_summary.json").is_file():
        default = read_plan_record(Path(path).parent).output_frame
    frames = list(frame["coord_frame"]) if "coord_frame" in frame.columns else None
    try:
        lon, lat = frame_column_to_wgs84(out["lon"], out["lat"], frames, default)
    except ValidationError as exc:
        raise DataFileError(path, str(exc), field="coord_frame") from exc
    out["lon"], out["lat"] = lon, lat
    return out


def snap_sites(frame: pd.DataFrame, network: SimNetwork) -> list[tuple[str, int]]:
    """``(name, node)`` of each site (lon/lat projected and snapped)."""
    if frame.empty:
        return []
    tr = Transformer.from_crs(WGS84, network.crs, always_xy=True)
    x, y = tr.transform(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
    nodes, _ = network.snap(np.column_stack([x, y]))
    return [(str(n), int(v)) for n, v in zip(frame["name"], nodes, strict=True)]
