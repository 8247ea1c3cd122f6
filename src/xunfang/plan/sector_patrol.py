"""Booth officers patrol their own sector (区块警务): sectors read back from a plan folder,
hotspots given to the booth whose sector contains them, and walking routes kept inside the
sector.

Rules (stated in the deployment report):

* **Sector of a node.** A network node belongs to the first sector polygon of
  ``sectors.geojson`` that contains it (polygons meet on their edges only); a node in no
  polygon (the network reaches a little past the study area) takes the nearest polygon.
* **Hotspots of a booth.** In each block, the ``2 * max_stops`` riskiest nodes (risk > 0) of a
  booth's sector, whatever booth is nearer to them. Hotspots in a station's sector are left to
  the mobile units. The rule it replaces, the nearest booth by walking time (the network
  Voronoi diagram, Okabe et al. 2000), is computed alongside and the hotspots that change
  booth are counted.
* **Who walks.** One officer of the booth's staff (the first of the block) walks a loop from
  the booth over the best of those hotspots and back within ``patrol_min`` minutes of each
  block (a prize-collecting tour, :func:`xunfang.plan.routes.solve_route`). With one officer
  on the booth, the booth stands empty during the loop; with two or more, it stays staffed.
* **Staying in the sector.** Walks between stops use the streets of the sector only
  (shortest path on the sub-graph of the sector's nodes, either direction of a street); a leg
  that cannot be walked inside the sector (the sector's streets do not connect the two stops)
  takes the shortest walk on the whole network, and such legs are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import dijkstra

from xunfang import strict_json
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.city import from_output_frame
from xunfang.ingest.network import RoadNetwork
from xunfang.plan.roster import TimeBlock
from xunfang.plan.routes import Route, path_between, route_in_block

__all__ = [
    "SectorMap",
    "SectorPatrols",
    "nearest_booth",
    "read_sectors",
    "sector_hotspots",
    "sector_map",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_OFFERED = ["block", "node", "booth", "nearest_booth", "risk"]


@dataclass(frozen=True)
class SectorMap:
    """The sectors of a plan on a road network.

    Attributes
    ----------
    names, kinds
        Site name and kind (``booth``/``station``) of each sector, in file order.
    node_sector
        (n_nodes,) int64 sector (index into ``names``) of every network node.
    frame
        One row per sector: ``name, kind, workload`` (incident weight of the plan, when the
        file has it) and the polygon, in the network's projected CRS.
    n_outside
        Nodes inside no polygon (on a sector edge, or past the study area), given to the
        nearest one.
    source
        The file read (or ``"<frame>"``).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    node_sector: IntArray
    frame: gpd.GeoDataFrame
    n_outside: int
    source: str

    def sector_of(self, name: str) -> int:
        """Index of the sector of site ``name``; -1 when the file has none."""
        return self.names.index(name) if name in self.names else -1


def sector_map(
    frame: gpd.GeoDataFrame, network: RoadNetwork, *, source: str = "<frame>"
) -> SectorMap:
    """Give every network node its sector.

    Parameters
    ----------
    frame
        Sector polygons with ``name`` and ``kind`` columns, in any CRS (reprojected to the
        network's).
    network
        The road network (projected CRS, metres).
    source
        Named in errors.

    Returns
    -------
    SectorMap

    Raises
    ------
    DataFileError
        Missing columns, no CRS, repeated names or no polygon.
    """
    missing = [c for c in ("name", "kind") if c not in frame.columns]
    if missing:
        raise DataFileError(source, f"sector file lacks the column(s) {missing}", field=missing[0])
    if frame.crs is None:
        raise DataFileError(source, "sector file has no CRS", field="crs")
    if len(frame) == 0:
        raise DataFileError(source, "sector file has no sectors")
    names = frame["name"].astype(str)
    dup = names.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataFileError(source, f"sector {names.iloc[i]!r} repeats", row=i + 1, field="name")
    proj = frame.to_crs(network.crs).reset_index(drop=True)
    polys = proj.geometry.to_numpy()
    x, y = network.node_xy[:, 0], network.node_xy[:, 1]
    node_sector = np.full(network.n_nodes, -1, dtype=np.int64)
    for s, poly in enumerate(polys):
        if poly is None or shapely.is_empty(poly):
            continue
        inside = (node_sector < 0) & shapely.contains_xy(poly, x, y)
        node_sector[inside] = s
    # points on a shared edge are in neither polygon's interior: the nearest takes them
    outside = np.flatnonzero(node_sector < 0)
    if outside.size:
        keep = np.array([p is not None and not shapely.is_empty(p) for p in polys])
        tree = shapely.STRtree(polys[keep])
        _, hit = tree.query_nearest(shapely.points(x[outside], y[outside]), all_matches=False)
        node_sector[outside] = np.flatnonzero(keep)[hit]
    cols = ["name", "kind", *[c for c in ("workload",) if c in proj.columns]]
    out = gpd.GeoDataFrame(proj[cols].assign(name=names.to_numpy()), geometry=proj.geometry)
    return SectorMap(
        names=tuple(names),
        kinds=tuple(proj["kind"].astype(str)),
        node_sector=node_sector,
        frame=out,
        n_outside=int(outside.size),
        source=source,
    )


def read_sectors(path: str | Path, network: RoadNetwork, *, frame: str = "wgs84") -> SectorMap:
    """Read a plan's ``sectors.geojson`` (written in ``frame``: ``wgs84``, ``gcj02`` or
    ``bd09``, as the plan's ``output_frame``) onto ``network``.

    Raises
    ------
    DataFileError
        An unreadable file, or see :func:`sector_map`.
    """
    p = Path(path)
    strict_json.check_file(p)
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own error types
        raise DataFileError(p, f"unreadable sector file: {exc}") from exc
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    try:
        gdf = from_output_frame(gdf, frame)
    except ValidationError as exc:
        raise DataFileError(p, str(exc), field="output_frame") from exc
    return sector_map(gdf, network, source=str(p))


def nearest_booth(walk_s: sp.csr_matrix, booth_nodes: ArrayLike) -> IntArray:
    """The booth (index into ``booth_nodes``) nearest each node by walking time, the rule that
    sectors replace (network Voronoi diagram; Okabe et al. 2000). -1 where no booth is reached.

    Parameters
    ----------
    walk_s
        (n, n) walking times between neighbouring nodes, seconds.
    booth_nodes
        (b,) node of each booth.
    """
    nodes = np.asarray(booth_nodes, dtype=np.int64)
    n = walk_s.shape[0]
    if nodes.size == 0:
        return np.full(n, -1, dtype=np.int64)
    _, _, src = dijkstra(
        walk_s, directed=True, indices=nodes, min_only=True, return_predecessors=True
    )
    first = {int(v): i for i, v in reversed(list(enumerate(nodes.tolist())))}
    return np.array([first.get(int(s), -1) for s in src], dtype=np.int64)


def sector_hotspots(
    risk_node: ArrayLike, risk_w: ArrayLike, node_sector: ArrayLike, sector: int, capacity: int
) -> IntArray:
    """The ``capacity`` riskiest nodes (risk > 0) inside ``sector``, riskiest first (ties: the
    order of ``risk_node``).

    Parameters
    ----------
    risk_node, risk_w
        (m,) nodes and their risk in the block.
    node_sector
        (n_nodes,) sector of every node.
    sector
        The sector.
    capacity
        Most hotspots.
    """
    nodes = np.asarray(risk_node, dtype=np.int64)
    w = np.asarray(risk_w, dtype=np.float64)
    lab = np.asarray(node_sector, dtype=np.int64)
    mine = (w > 0) & (lab[nodes] == sector)
    order = np.argsort(-w[mine], kind="stable")[: max(int(capacity), 0)]
    return nodes[mine][order]


@dataclass
class _SectorGraph:
    nodes: IntArray  # global node ids of the sector, the booth's node included
    local: dict[int, int]
    sub: sp.csr_matrix
    rows: dict[int, tuple[FloatArray, NDArray[np.int32]]]


class SectorPatrols:
    """Walking loops of booth officers inside their sectors, block by block (module notes).

    Parameters
    ----------
    network
        The road network.
    walk_s
        (n, n) walking times, seconds (both directions of every street).
    booths
        ``name, node`` of each booth.
    sectors
        The plan's sectors.
    patrol_min
        Length of a booth's loop in each block, minutes (capped at the block).
    max_stops, dwell_min, seed, tie_tolerance, order_jitter, route_search, route_time_limit_s
        As :class:`xunfang.plan.deployment.DeployConfig`.
    label
        Street labels of nodes (for the stop names).
    """

    def __init__(
        self,
        network: RoadNetwork,
        walk_s: sp.csr_matrix,
        booths: pd.DataFrame,
        sectors: SectorMap,
        *,
        patrol_min: float,
        max_stops: int,
        dwell_min: tuple[float, float],
        seed: int,
        tie_tolerance: float,
        order_jitter: float,
        route_search: str,
        route_time_limit_s: float,
        label: Callable[[IntArray], Mapping[int, str]],
    ) -> None:
        self.network = network
        self.walk = walk_s.tocsr()
        self.sectors = sectors
        self.names = [str(b) for b in booths["name"]]
        self.booth_nodes = booths["node"].to_numpy(dtype=np.int64)
        self.sector_index = np.array([sectors.sector_of(b) for b in self.names], dtype=np.int64)
        self.patrol_s = 60.0 * float(patrol_min)
        self.max_stops = int(max_stops)
        self.dwell_min = dwell_min
        self.seed = int(seed)
        self.tie_tolerance = tie_tolerance
        self.order_jitter = order_jitter
        self.route_search = route_search
        self.route_time_limit_s = route_time_limit_s
        self.label = label
        self.nearest = nearest_booth(self.walk, self.booth_nodes)
        self._graphs: dict[int, _SectorGraph] = {}
        self._labels: dict[int, str] | None = None
        self._full: dict[int, tuple[FloatArray, NDArray[np.int32]]] = {}
        self.legs = 0
        self.legs_outside = 0
        self.offered: list[dict[str, object]] = []

    @property
    def missing(self) -> list[str]:
        """Booths without a sector in the file."""
        return [b for b, s in zip(self.names, self.sector_index, strict=True) if s < 0]

    def _labels_of(self, nodes: IntArray) -> Mapping[int, str]:
        """Street labels: of every node of the booths' sectors, computed on first use (one
        pass over the streets, not one per route)."""
        if self._labels is None:
            own = np.isin(self.sectors.node_sector, self.sector_index[self.sector_index >= 0])
            self._labels = dict(self.label(np.flatnonzero(own).astype(np.int64)))
        missing = [int(v) for v in nodes.tolist() if int(v) not in self._labels]
        if missing:
            self._labels.update(self.label(np.array(missing, dtype=np.int64)))
        return self._labels

    def _graph(self, b: int) -> _SectorGraph:
        if b not in self._graphs:
            nodes = np.flatnonzero(self.sectors.node_sector == self.sector_index[b])
            nodes = np.union1d(nodes, [self.booth_nodes[b]]).astype(np.int64)
            sub = self.walk[nodes][:, nodes].tocsr()
            local = {int(v): i for i, v in enumerate(nodes.tolist())}
            self._graphs[b] = _SectorGraph(nodes, local, sub, {})
        return self._graphs[b]

    def _rows(self, b: int, sources: IntArray) -> None:
        g = self._graph(b)
        todo = [int(v) for v in sources.tolist() if int(v) not in g.rows]
        if todo:
            d, p = dijkstra(
                g.sub, directed=True, indices=[g.local[v] for v in todo], return_predecessors=True
            )
            for k, v in enumerate(todo):
                g.rows[v] = (d[k], p[k].astype(np.int32))

    def _full_row(self, v: int) -> tuple[FloatArray, NDArray[np.int32]]:
        if v not in self._full:
            d, p = dijkstra(self.walk, directed=True, indices=[v], return_predecessors=True)
            self._full[v] = (d[0], p[0].astype(np.int32))
        return self._full[v]

    def _times(self, b: int, nodes: IntArray) -> FloatArray:
        """(k, k) walking times among ``nodes`` on the sector's streets, seconds; a pair the
        sector does not connect takes its time on the whole network."""
        self._rows(b, nodes)
        g = self._graph(b)
        cols = np.array([g.local[int(v)] for v in nodes.tolist()], dtype=np.int64)
        tt = np.vstack([g.rows[int(v)][0][cols] for v in nodes.tolist()])
        for i, j in zip(*np.nonzero(~np.isfinite(tt)), strict=True):
            tt[i, j] = self._full_row(int(nodes[i]))[0][int(nodes[j])]
        return tt

    def _leg(self, b: int, a: int, c: int) -> tuple[float, list[int], bool]:
        """Time, node path and whether the leg a -> c stays in the sector."""
        g = self._graph(b)
        d, p = g.rows[a]
        t = float(d[g.local[c]])
        if np.isfinite(t):
            path = path_between(p, g.local[a], g.local[c])
            return t, [int(g.nodes[i]) for i in path], True
        fd, fp = self._full_row(a)
        return float(fd[c]), path_between(fp, a, c), False

    def block_routes(
        self, block: TimeBlock, risk_node: ArrayLike, risk_w: ArrayLike, crew_of: Mapping[str, str]
    ) -> list[Route]:
        """Loops of the block, one per booth that has a sector and an officer in ``crew_of``
        (booth name -> the officer who walks)."""
        nodes = np.asarray(risk_node, dtype=np.int64)
        w = np.asarray(risk_w, dtype=np.float64)
        weight_of = dict(zip(nodes.tolist(), w.tolist(), strict=True))
        horizon = min(float(block.length_s), self.patrol_s)
        pool = 2 * self.max_stops
        out: list[Route] = []
        for b, name in enumerate(self.names):
            s = int(self.sector_index[b])
            if s < 0 or name not in crew_of or pool <= 0 or horizon <= 0:
                continue
            depot = int(self.booth_nodes[b])
            mine = sector_hotspots(nodes, w, self.sectors.node_sector, s, pool)
            mine = mine[mine != depot]
            for v in mine.tolist():
                near = int(self.nearest[v])
                self.offered.append(
                    {
                        "block": block.index,
                        "node": int(v),
                        "booth": name,
                        "nearest_booth": self.names[near] if near >= 0 else "",
                        "risk": weight_of[v],
                    }
                )
            if not mine.size:
                continue
            all_nodes = np.concatenate([[depot], mine]).astype(np.int64)
            tt = self._times(b, all_nodes)

            def walk(a_node: int, c_node: int, b: int = b) -> tuple[float, list[int]]:
                t, path, inside = self._leg(b, a_node, c_node)
                self.legs += 1
                self.legs_outside += 0 if inside else 1
                return t, path

            out.append(
                route_in_block(
                    f"{name} sector",
                    block,
                    (crew_of[name],),
                    depot,
                    mine,
                    np.array([weight_of[v] for v in mine.tolist()], dtype=np.float64),
                    tt,
                    walk,
                    self._labels_of(mine),
                    horizon_s=horizon,
                    dwell_min=self.dwell_min,
                    rng=np.random.default_rng([self.seed, block.index, 1000 + b]),
                    tie_tolerance=self.tie_tolerance,
                    order_jitter=self.order_jitter,
                    search=self.route_search,
                    time_limit_s=self.route_time_limit_s,
                )
            )
        return out

    def summary(
        self, routes: Sequence[Route], risks: Sequence[tuple[IntArray, FloatArray]]
    ) -> pd.DataFrame:
        """One row per sector of the file: ``sector, kind, plan_workload`` (the plan's
        incident weight), ``risk_per_week`` (the deployment's risk in the sector, summed over
        the blocks), ``patrols`` (person-times: loops walked in the week), ``patrol_hours``,
        ``stops``, ``stop_risk_share`` (risk at the stops / the sector's risk) and
        ``hotspots_from_other_booths`` (offered hotspots whose nearest booth is another)."""
        sm = self.sectors
        risk = np.zeros(len(sm.names))
        for nodes, w in risks:
            np.add.at(risk, sm.node_sector[nodes], w)
        by_unit: dict[str, list[Route]] = {}
        for rt in routes:
            by_unit.setdefault(rt.unit.removesuffix(" sector"), []).append(rt)
        off = pd.DataFrame(self.offered, columns=_OFFERED)
        moved = off[off["booth"] != off["nearest_booth"]].groupby("booth")["node"].nunique()
        rows = []
        for s, (name, kind) in enumerate(zip(sm.names, sm.kinds, strict=True)):
            rts = by_unit.get(name, [])
            stop_risk = sum(rt.visited_risk for rt in rts)
            rows.append(
                {
                    "sector": name,
                    "kind": kind,
                    "plan_workload": (
                        float(sm.frame["workload"].iloc[s]) if "workload" in sm.frame else np.nan
                    ),
                    "risk_per_week": float(risk[s]),
                    "patrols": len(rts),
                    "patrol_hours": sum(rt.end_s for rt in rts) / 3600.0,
                    "stops": sum(len(rt.stop_nodes) for rt in rts),
                    "stop_risk_share": stop_risk / risk[s] if risk[s] > 0 else np.nan,
                    "hotspots_from_other_booths": int(moved.get(name, 0)),
                }
            )
        return pd.DataFrame(rows)

    def changed(self) -> tuple[int, int]:
        """(hotspots offered to booth patrols over the week, of which in a sector other than
        their nearest booth's), distinct nodes."""
        off = pd.DataFrame(self.offered, columns=_OFFERED)
        first = off.drop_duplicates("node")
        return len(first), int((first["booth"] != first["nearest_booth"]).sum())
