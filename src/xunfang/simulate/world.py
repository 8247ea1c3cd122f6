"""The simulated world of a study area: road network (cached), incidents, stations and
booths.

The road network is built as the booth planner builds it (the per-community-area OSM
graphs touching the area, clipped to the area plus 400 m, stitched across area boundaries
with 60 m links and 200 m same-street-name bridge links; see
:func:`xunfang.ingest.network.build_network`) and cached as a ``.npz`` of node
coordinates and the CSR travel-time matrix under ``Settings.cache_dir/simulate``, keyed by
the area, the recipe and the graph files' names and sizes. ``area = "city"`` stitches all
77 community areas without clipping.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.ingest.areas import (
    StudyArea,
    load_study_area,
    read_boundaries,
)
from xunfang.ingest.incidents import IncidentTable, ingest
from xunfang.ingest.network import RoadNetwork, area_graph_paths, build_network
from xunfang.ingest.sites import STATION_BUFFER_M, stations_near
from xunfang.plan.booth_plan import read_sites_csv
from xunfang.simulate.calls import Period, incident_frame
from xunfang.units import WGS84, utm_crs_for

CLIP_BUFFER_M = 400.0
STITCH_M = 60.0
SAME_NAME_M = 200.0
_CACHE_VERSION = 1


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


def city_area(boundary_dir: Path) -> StudyArea:
    """The whole city: the union of the community areas (UTM zone of its centroid)."""
    layer = read_boundaries(boundary_dir, "community")
    poly = shapely.union_all(layer.geometry.to_numpy())
    crs = utm_crs_for(poly.centroid.x, poly.centroid.y)
    projected = gpd.GeoSeries([poly], crs=WGS84).to_crs(crs).iloc[0]
    return StudyArea(
        name="city",
        kind="city",
        members=tuple(sorted(layer["name"].astype(str))),
        polygon_wgs84=poly,
        crs=crs,
        polygon=projected,
    )


def load_area(settings: Settings, name: str) -> StudyArea:
    """A study area by name, or ``"city"``."""
    boundary_dir = settings.city_dir("chicago") / "boundaries"
    if name.strip().lower() == "city":
        return city_area(boundary_dir)
    return load_study_area(boundary_dir, name)


def graph_paths(settings: Settings, area: StudyArea) -> list[Path]:
    """The community-area graph files covering the area.

    Raises
    ------
    ValidationError
        If a graph file is missing.
    """
    return area_graph_paths(settings.city_dir("chicago"), area)


def cache_file(settings: Settings, area: StudyArea, paths: list[Path]) -> Path:
    """Where the area's network is cached (the name changes with the recipe and files)."""
    key = json.dumps(
        {
            "v": _CACHE_VERSION,
            "area": area.name,
            "members": list(area.members),
            "crs": area.crs.to_string(),
            "clip": area.kind != "city",
            "recipe": [CLIP_BUFFER_M, STITCH_M, SAME_NAME_M],
            "files": [(p.name, p.stat().st_size) for p in paths],
        },
        sort_keys=True,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", area.name).strip("_").lower() or "area"
    return settings.cache_dir / "simulate" / f"network-{slug}-{digest}.npz"


def load_network(settings: Settings, area: StudyArea, *, use_cache: bool = True) -> SimNetwork:
    """The area's road network, from the cache when possible (see the module docstring).

    Raises
    ------
    ValidationError
        If graph files are missing; the errors of ``build_network`` pass through.
    """
    paths = graph_paths(settings, area)
    cache = cache_file(settings, area, paths)
    start = time.perf_counter()
    if use_cache and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                n = int(z["node_xy"].shape[0])
                matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(n, n))
                return SimNetwork(
                    crs=CRS.from_wkt(str(z["crs_wkt"])),
                    node_xy=np.asarray(z["node_xy"]),
                    matrix=matrix,
                    areas=tuple(str(a) for a in z["areas"]),
                    build_s=time.perf_counter() - start,
                    cached=True,
                )
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache file is rebuilt below
    net = build_network(
        paths,
        area.crs,
        clip_polygon=None if area.kind == "city" else area.polygon.buffer(CLIP_BUFFER_M),
        stitch_threshold_m=STITCH_M,
        same_name_threshold_m=SAME_NAME_M,
    )
    out = SimNetwork.from_road_network(net, time.perf_counter() - start)
    if use_cache:
        save_network(out, cache)
    return out


def save_network(net: SimNetwork, path: Path) -> None:
    """Write the network cache file (atomically: a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    m = net.matrix.tocsr()
    np.savez(
        tmp,
        node_xy=net.node_xy,
        data=m.data,
        indices=m.indices,
        indptr=m.indptr,
        crs_wkt=np.array(net.crs.to_wkt()),
        areas=np.array(list(net.areas), dtype=str),
    )
    tmp.replace(path)


def month_files(folder: Path, months: list[str]) -> list[Path]:
    """The monthly incident files of ``months`` (names containing ``YYYY-MM``).

    Raises
    ------
    ValidationError
        If a month has no file, naming the months available.
    """
    files = sorted(Path(p) for p in glob.glob(str(folder / "*.csv*")))
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
        raise ValidationError(
            f"no incident file for month(s) {missing} in {folder}; months available: "
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
) -> Incidents:
    """Ingest the held-out month and the ``training_months`` before it, keep the
    incidents inside the area and snap them to the network.

    Raises
    ------
    ValidationError
        If files are missing or ``types`` names groups absent from the data.
    """
    folder = settings.city_dir("chicago") / "incidents_2014_2015"
    if files is None:
        months = [*previous_months(period, training_months), period.label]
        available = month_files(folder, [period.label])
        files = []
        for m in months[:-1]:
            try:
                files.extend(month_files(folder, [m]))
            except ValidationError:
                continue  # fewer training months than asked: reported by the count below
        files.extend(available)
    table, _rejected, report = ingest(files, "chicago", crs=area.crs)
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
        rejected=dict(report.rejected),
        files=tuple(str(f) for f in files),
        training_months=tuple(sorted(months)),
    )


def stations_in(settings: Settings, area: StudyArea) -> pd.DataFrame:
    """Police stations in or within :data:`STATION_BUFFER_M` of the area: ``name``,
    ``lon``, ``lat`` (names as the booth planner writes them)."""
    chosen = stations_near(settings.city_dir("chicago"), area, buffer_m=STATION_BUFFER_M)
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
    return frame[["name", "kind", "lon", "lat"]].copy()


def snap_sites(frame: pd.DataFrame, network: SimNetwork) -> list[tuple[str, int]]:
    """``(name, node)`` of each site (lon/lat projected and snapped)."""
    if frame.empty:
        return []
    tr = Transformer.from_crs(WGS84, network.crs, always_xy=True)
    x, y = tr.transform(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
    nodes, _ = network.snap(np.column_stack([x, y]))
    return [(str(n), int(v)) for n, v in zip(frame["name"], nodes, strict=True)]
