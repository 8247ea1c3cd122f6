"""The road network value types every command routes on: :class:`RoadNetwork` and its
:class:`NetworkReport`, with the sparse-matrix helpers the builders share.

Built by :func:`xunfang.ingest.network.build_network` (the Chicago community-area graphs),
:func:`xunfang.ingest.road_graph.network_from_ways` (one OSM or road-line file) and
:func:`xunfang.ingest.network.network_from_edges` (hand-made networks). Travel times run
Dijkstra's algorithm (Dijkstra 1959) as implemented by
:func:`scipy.sparse.csgraph.dijkstra`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from xunfang.errors import ValidationError

__all__ = [
    "STITCH_HIGHWAY",
    "NetworkReport",
    "RoadNetwork",
    "check_indices",
    "format_counts",
    "freeze",
    "min_csr",
]

STITCH_HIGHWAY = "stitch"
"""The ``highway`` value of the straight links added between areas (see
:func:`xunfang.ingest.network.build_network`)."""
_EXPRESS_CLASSES = ("motorway", "motorway_link", "trunk", "trunk_link")
"""Road classes incidents are not snapped onto (:meth:`RoadNetwork.snap_to_streets`)."""
_CHUNK_BYTES = 64 * 1024 * 1024
"""Peak size of one Dijkstra result block (float64) in :meth:`RoadNetwork.travel_time_matrix`."""


FAR_FROM_ROAD_M = 250.0
"""Distance from an incident (call) to its road node past which the plan and the simulation
warn, metres: a point that far from the network it is routed on was placed on a road it
is not near (roads cut off by the largest-component rule, a boundary reaching past the
road file, a wrong coordinate frame)."""


@dataclass(frozen=True)
class NetworkReport:
    """What a builder (:func:`~xunfang.ingest.network.build_network`,
    :func:`~xunfang.ingest.road_graph.network_from_ways`) read, kept, dropped, added and
    left out.

    Attributes
    ----------
    areas
        Names of the graph files (areas) loaded, in the order given.
    edges_read
        Directed edges in the source graphs.
    edges_kept
        Directed edges with a drivable road class; ``edges_read == edges_kept +
        sum(edges_dropped_by_class.values())``. Edges later removed by clipping or with
        the smaller components are counted in ``notes``.
    edges_dropped_by_class
        Directed edges dropped as not drivable, by OSM ``highway`` class (the first class
        of a list; ``"<missing>"`` when the edge has none).
    stitch_links
        Undirected straight links added between nodes of different areas.
    stitch_threshold_m
        Longest stitch link allowed, metres.
    nodes
        Nodes in the final graph.
    nodes_left_out
        Drivable nodes not in the largest strongly connected component (dropped).
    components_before
        Strongly connected components before keeping the largest.
    one_way_known
        Whether one-way streets are represented. ``False`` for walk graphs: every street is
        then treated as two-way.
    notes
        Sentences for a report (one-way caveat, speeds, clipping, stitching, attribution).
    edges_left_out
        Directed edges with an end outside the largest strongly connected component
        (source edges for :func:`~xunfang.ingest.network.build_network`, stitch links
        not counted; simplified edges for the single-file readers).
    length_left_out_km
        Road length of the pieces left out with the smaller components, km (each street
        once, whatever its directions).
    ways_excluded
        Ways (edges, for GraphML) of a drivable class left out because cars may not use
        them, by reason (``access=private``, ``service=parking_aisle``, ...).

    For an OpenStreetMap or road-line file ``edges_read``, ``edges_kept`` and
    ``edges_dropped_by_class`` count *ways* (features), and ``edges_dropped_by_class``
    includes the reasons of ``ways_excluded``.
    """

    areas: tuple[str, ...]
    edges_read: int
    edges_kept: int
    edges_dropped_by_class: dict[str, int]
    stitch_links: int
    stitch_threshold_m: float
    nodes: int
    nodes_left_out: int
    components_before: int
    one_way_known: bool
    notes: tuple[str, ...]
    edges_left_out: int = 0
    length_left_out_km: float = 0.0
    ways_excluded: dict[str, int] = field(default_factory=dict)
    area_road_km: float | None = None
    """Road length inside the study area before keeping the largest strongly connected
    component, km (``None`` when not measured: no study area, or per-area graphs)."""
    area_road_km_kept: float | None = None
    """Of ``area_road_km``, the length kept in the final graph, km."""
    speed_table: str | None = None
    """The road-class speed table used where ``maxspeed`` is missing (``CN``, ``US``,
    ``default``), when a city chose it (:meth:`xunfang.ingest.city.City.road_country`)."""
    scc_nodes_before: int | None = None
    """Drivable nodes of the source graph (the whole road file, or the stitched areas)
    before its largest strongly connected component was kept (``None``: not recorded).
    :func:`~xunfang.ingest.network_cache.cut_network` replaces this, ``scc_nodes_left_out``,
    ``scc_km_before`` and ``length_left_out_km`` by the cut's own figures when the source
    recorded where its losses lie (``scc_left_out_xy``, ``scc_left_out_pieces``; then
    ``scc_of_cut``), else they describe the source graph and stay as they are."""
    scc_nodes_left_out: int | None = None
    """Of ``scc_nodes_before``, the nodes the largest-component rule left out."""
    scc_km_before: float | None = None
    """Road length of the source graph before the rule, km (each street once); the rule
    left out ``length_left_out_km`` of it."""
    scc_left_out_xy: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Where the nodes the largest-component rule left out lie: array of shape (k, 2),
    metres in the network's CRS (``None``: not recorded). With
    ``scc_left_out_pieces``, lets :func:`~xunfang.ingest.network_cache.cut_network`
    measure a cut's own loss."""
    scc_left_out_pieces: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The road pieces the rule left out (each street once): array of shape (p, 5), the
    x, y of one end, the x, y of the other (metres in the network's CRS) and the length
    in metres (``None``: not recorded)."""
    scc_of_cut: bool = False
    """Whether the ``scc_*`` figures and ``length_left_out_km`` are those of a network cut
    from a larger one (:func:`~xunfang.ingest.network_cache.cut_network`): the cut's own
    nodes and streets, counting those the larger network's rule left out inside it and
    those the cut's own rule left out."""

    def largest_component_loss(self) -> dict[str, float | int] | None:
        """How much of the source graph the largest-component rule dropped: ``nodes``,
        ``nodes_left_out``, ``share_nodes`` (0..1), ``km``, ``km_left_out``, ``share_km``
        (0..1); ``None`` when the builder did not record it."""
        if self.scc_nodes_before is None or self.scc_nodes_left_out is None:
            return None
        km = self.scc_km_before if self.scc_km_before is not None else math.nan
        n = self.scc_nodes_before
        return {
            "nodes": n,
            "nodes_left_out": self.scc_nodes_left_out,
            "share_nodes": self.scc_nodes_left_out / n if n else 0.0,
            "km": km,
            "km_left_out": self.length_left_out_km,
            "share_km": self.length_left_out_km / km if km > 0 else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready types (lists for tuples, a copied dict)."""
        return {
            "areas": list(self.areas),
            "edges_read": self.edges_read,
            "edges_kept": self.edges_kept,
            "edges_dropped_by_class": dict(self.edges_dropped_by_class),
            "stitch_links": self.stitch_links,
            "stitch_threshold_m": self.stitch_threshold_m,
            "nodes": self.nodes,
            "nodes_left_out": self.nodes_left_out,
            "components_before": self.components_before,
            "one_way_known": self.one_way_known,
            "notes": list(self.notes),
            "edges_left_out": self.edges_left_out,
            "length_left_out_km": self.length_left_out_km,
            "ways_excluded": dict(self.ways_excluded),
            "area_road_km": self.area_road_km,
            "area_road_km_kept": self.area_road_km_kept,
            "speed_table": self.speed_table,
            "scc_nodes_before": self.scc_nodes_before,
            "scc_nodes_left_out": self.scc_nodes_left_out,
            "scc_km_before": self.scc_km_before,
        }


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A road graph for travel times, in one projected CRS (metres, seconds).

    Attributes
    ----------
    crs
        Projected CRS in metres of ``node_xy`` and ``edges``.
    node_ids
        Array of shape (n,), int64: the source node ids (OSM ids, or ``0..n-1`` for
        :func:`~xunfang.ingest.network.network_from_edges`). Row ``i`` of every array is
        node index ``i``.
    node_xy
        Array of shape (n, 2), float64, metres in ``crs``.
    matrix
        CSR matrix of shape (n, n): ``matrix[i, j]`` is the travel time in seconds of the
        fastest edge from node ``i`` to node ``j`` (stored only where an edge exists; an
        explicit 0 is a zero-length edge).
    edges
        One row per undirected road piece (and stitch link) of the final graph, for maps:
        ``u_index``, ``v_index`` (node indices; the geometry runs from u to v),
        ``length_m``, ``speed_kph``, ``travel_time_s``, ``highway``, ``name``, ``oneway``
        (True when cars may drive the piece only from u to v), ``geometry`` (LineString in
        ``crs``). On a simplified edge ``speed_kph`` is the effective speed
        ``length_m / travel_time_s``.
    report
        What was read, kept, dropped and added.
    length_matrix
        CSR matrix of shape (n, n) with the same pattern as ``matrix``: the length in
        metres of the edge whose time ``matrix`` holds; ``None`` for networks built
        without lengths (:func:`~xunfang.ingest.network.network_from_edges`).
    """

    crs: CRS
    node_ids: np.ndarray
    node_xy: np.ndarray
    matrix: sp.csr_matrix
    edges: gpd.GeoDataFrame
    report: NetworkReport
    length_matrix: sp.csr_matrix | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes ``n``."""
        return int(self.node_ids.shape[0])

    @cached_property
    def _tree(self) -> cKDTree:
        return cKDTree(self.node_xy)

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest node of each point (Euclidean, k-d tree of Maneewongvatana & Mount 1999).

        Parameters
        ----------
        xy
            Array of shape (m, 2), metres in ``self.crs``.

        Returns
        -------
        node_index : numpy.ndarray
            Shape (m,), int64, indices into ``node_ids``/``node_xy``.
        snap_distance_m : numpy.ndarray
            Shape (m,), float64, straight-line distance from each point to its node, metres.

        Raises
        ------
        ValidationError
            If ``xy`` is not of shape (m, 2) or holds NaN or infinite values.
        """
        points = np.asarray(xy, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValidationError(
                f"xy must have shape (m, 2) (x, y metres in {self.crs.to_string()}); "
                f"got shape {points.shape}"
            )
        bad = ~np.isfinite(points).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValidationError(
                f"xy has {rows.size} row(s) with NaN or infinite coordinates (first: row "
                f"{int(rows[0])}); drop or geocode those points before snapping"
            )
        if points.shape[0] == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        distance_m, index = self._tree.query(points, k=1)
        return np.asarray(index, dtype=np.int64), np.asarray(distance_m, dtype=np.float64)

    def snap_to_streets(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The nearest *ground-level street* node of each point, for incidents (addresses).

        When the network records which edges are grade-separated (an OSM file's
        ``bridge``, ``tunnel`` and ``layer`` tags: the ``grade_separated`` edge column),
        nodes all of whose edges are motorway/trunk (or their ``_link`` ramps) or
        grade-separated are left out of the candidates: an incident at a street address
        does not happen on an elevated expressway above it, and snapping it there puts it
        behind ramps. Units still drive on those roads (travel times are unchanged).
        Without that column, or when every node would be left out, this is :meth:`snap`.

        Parameters
        ----------
        xy
            Array of shape (m, 2), metres in ``self.crs``.

        Returns
        -------
        (node_index, snap_distance_m, n_nodes_left_out)
            As :meth:`snap`, and the number of nodes left out of the candidates.

        Raises
        ------
        ValidationError
            As :meth:`snap`.
        """
        node, dist = self.snap(xy)
        e = self.edges
        if "grade_separated" not in e.columns or len(node) == 0:
            return node, dist, 0
        lifted = (
            e["grade_separated"].fillna(False).to_numpy(dtype=bool)
            | e["highway"].astype(str).isin(_EXPRESS_CLASSES).to_numpy()
        )
        ends = np.concatenate([e["u_index"].to_numpy(), e["v_index"].to_numpy()])
        ground = np.zeros(self.n_nodes, dtype=bool)
        ground[ends[~np.concatenate([lifted, lifted])]] = True
        if ground.all() or not ground.any():
            return node, dist, 0
        keep = np.flatnonzero(ground)
        redo = ~ground[node]
        if redo.any():
            d2, i2 = cKDTree(self.node_xy[keep]).query(np.asarray(xy, np.float64)[redo], k=1)
            node[redo], dist[redo] = keep[i2], d2
        return node, dist, int(self.n_nodes - keep.size)

    def travel_time_matrix(
        self,
        sources: np.ndarray,
        targets: np.ndarray | None = None,
        *,
        limit_s: float = np.inf,
    ) -> np.ndarray:
        """Shortest travel times from source nodes to target nodes.

        Dijkstra's algorithm (Dijkstra 1959) from every source via
        :func:`scipy.sparse.csgraph.dijkstra` with ``indices=sources``, run in blocks of
        sources so that the float64 working block stays under 64 MiB.

        Parameters
        ----------
        sources
            Array of shape (s,), node indices (integers in ``[0, n)``).
        targets
            Array of shape (t,), node indices; ``None`` means all ``n`` nodes in index order.
        limit_s
            Stop searching beyond this travel time, seconds; farther targets get ``inf``.

        Returns
        -------
        numpy.ndarray
            Shape (s, t) (or (s, n)), float32, seconds; ``inf`` where a target is
            unreachable or farther than ``limit_s``.

        Raises
        ------
        ValidationError
            If an index is not an integer in range, or ``limit_s`` is negative or NaN.
        """
        n = self.n_nodes
        src = check_indices(sources, n, "sources")
        tgt = None if targets is None else check_indices(targets, n, "targets")
        limit = float(limit_s)
        if math.isnan(limit) or limit < 0:
            raise ValidationError(f"limit_s must be >= 0 seconds (or inf); got {limit_s!r}")
        n_cols = n if tgt is None else tgt.size
        out = np.full((src.size, n_cols), np.inf, dtype=np.float32)
        if src.size == 0 or n_cols == 0:
            return out
        chunk = max(1, _CHUNK_BYTES // (8 * n))
        for start in range(0, src.size, chunk):
            block = dijkstra(
                self.matrix, directed=True, indices=src[start : start + chunk], limit=limit
            )
            out[start : start + chunk] = block if tgt is None else block[:, tgt]
        return out

    def route(self, source: int, target: int) -> tuple[float, float, np.ndarray]:
        """The fastest path from one node to another, its travel time and its length.

        Dijkstra's algorithm (Dijkstra 1959) from ``source`` with predecessors
        (:func:`scipy.sparse.csgraph.dijkstra`); the length is the sum of the lengths of
        the path's edges (``length_matrix``), not a straight line.

        Parameters
        ----------
        source, target
            Node indices in ``[0, n)``.

        Returns
        -------
        travel_time_s : float
            Seconds; ``inf`` when ``target`` cannot be reached.
        distance_m : float
            Metres along the path; ``inf`` when unreachable, NaN when the network has no
            ``length_matrix``.
        path : numpy.ndarray
            Shape (k,), int64, node indices from ``source`` to ``target`` (empty when
            unreachable).

        Raises
        ------
        ValidationError
            If an index is out of range.
        """
        src = int(check_indices(np.asarray([source]), self.n_nodes, "source")[0])
        dst = int(check_indices(np.asarray([target]), self.n_nodes, "target")[0])
        dist, pred = dijkstra(self.matrix, directed=True, indices=src, return_predecessors=True)
        time_s = float(dist[dst])
        if not math.isfinite(time_s):
            return math.inf, math.inf, np.empty(0, dtype=np.int64)
        path = [dst]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        nodes = np.asarray(path[::-1], dtype=np.int64)
        if self.length_matrix is None:
            return time_s, math.nan, nodes
        if nodes.size < 2:  # source == target
            return time_s, 0.0, nodes
        lengths = np.asarray(self.length_matrix[nodes[:-1], nodes[1:]]).ravel()
        return time_s, float(lengths.sum()), nodes


def check_indices(values: np.ndarray, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(f"{what} must be a 1-D array of node indices; got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(
            f"{what} must hold integer node indices (from snap()); got dtype {arr.dtype}"
        )
    idx = arr.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValidationError(
            f"{what} must be node indices in [0, {n}); got min {idx.min()}, max {idx.max()}"
        )
    return idx


@overload
def min_csr(
    rows: np.ndarray, cols: np.ndarray, times: np.ndarray, n: int, *, lengths: None = None
) -> sp.csr_matrix: ...
@overload
def min_csr(
    rows: np.ndarray, cols: np.ndarray, times: np.ndarray, n: int, *, lengths: np.ndarray
) -> tuple[sp.csr_matrix, sp.csr_matrix]: ...
def min_csr(
    rows: np.ndarray,
    cols: np.ndarray,
    times: np.ndarray,
    n: int,
    *,
    lengths: np.ndarray | None = None,
) -> sp.csr_matrix | tuple[sp.csr_matrix, sp.csr_matrix]:
    """CSR (n, n) of the smallest time per (row, col); self-loops dropped; zeros kept.

    With ``lengths``, also the CSR of the lengths of those fastest edges (same pattern)."""
    keep = rows != cols
    rows, cols, times = rows[keep], cols[keep], times[keep]
    order = np.lexsort((times, cols, rows))
    rows, cols, times = rows[order], cols[order], times[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    time_csr = sp.csr_matrix(
        (times[first].astype(np.float64), (rows[first], cols[first])), shape=(n, n)
    )
    if lengths is None:
        return time_csr
    lens = np.asarray(lengths, dtype=np.float64)[keep][order][first]
    # built from the same (row, col) sequence, so the two share one pattern and order
    len_csr = sp.csr_matrix((lens, (rows[first], cols[first])), shape=(n, n))
    return time_csr, len_csr


def format_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def freeze(network: RoadNetwork) -> RoadNetwork:
    """Make the arrays read-only (the matrix and table stay as built: do not edit them)."""
    network.node_ids.flags.writeable = False
    network.node_xy.flags.writeable = False
    return network
