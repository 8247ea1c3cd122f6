"""Forecasts on street segments: network prospective hotspotting and the segment hit rate.

Rosser, G., Davies, T., Bowers, K. J., Johnson, S. D. & Cheng, T. (2017), "Predictive crime
mapping: arbitrary grids or street networks?", Journal of Quantitative Criminology 33:
569-594, doi:10.1007/s10940-016-9321-x. Events are snapped to the nearest road segment;
the risk of a segment is a sum over past events of a kernel of the **network distance**
(metres along the roads) times a kernel of the event's age; hotspots are the segments of
highest risk *per metre* until their length reaches a share of the network's length, and
a forecast is scored by the share of the window's incidents on the flagged length.

Here:

* a *segment* is one undirected road piece of a :class:`~xunfang.ingest.road_network.RoadNetwork`
  (junction to junction, or to a clip edge) whose midpoint lies in the study area; stitch
  links between areas carry distance but are not segments;
* the network distance from an event (snapped at ``offset_m`` along its segment) to each
  point of a segment runs along the shortest path (:func:`scipy.sparse.csgraph.dijkstra`
  limited to the bandwidth, on the undirected graph of road lengths: people and crime do
  not follow one-way rules), and the kernel is **integrated along each segment** in closed
  form (:meth:`StreetSegments.kernel_mass`): a segment's risk is its expected share of the
  kernel mass, and its risk per metre is the kernel averaged over its length. Rosser et
  al. spread each event's kernel over every non-cyclic path and split it at junctions
  (after Okabe, Satoh & Sugihara 2009); only the shortest path counts here;
* spatial kernel ``max(0, 1 - d / bandwidth_m)`` (linear, as Rosser et al.); time kernel
  ``1 / (1 + w)`` for an age of ``w`` whole weeks below ``bandwidth_weeks`` (Bowers,
  Johnson & Pease 2004, as :class:`~xunfang.analyse.forecast.ProspectiveHotspot`) or
  ``exp(-age / time_scale_days)`` below the same cut (``time="exponential"``, Rosser's).

**Coverage, partial segments and ties** (:func:`flagged_share`). Segments are ranked by
risk per metre, descending. Segments of equal risk per metre form one block. Blocks are
flagged whole while their total length fits the budget ``fraction * total length``; the
block that straddles the budget is flagged *in part*: the same share ``s = remaining
budget / block length`` of each of its segments, and a share ``s`` of their incidents
counts as captured (the expected capture if the flagged metres were spread uniformly
over the block). The hit rate is then ``sum(share * incidents) / incidents``, exactly at
the coverage asked, whatever the segment lengths. A single segment straddling the
budget is the one-segment block of the same rule.

Time is days since 1970-01-01 UTC (as the grid forecasters); space is metres in the
network's projected CRS.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from xunfang.analyse.evaluate import CaptureRates
from xunfang.analyse.forecast._base import Window, from_days, to_days
from xunfang.errors import NotFittedError, ValidationError
from xunfang.ingest.incidents import IncidentTable
from xunfang.ingest.road_network import RoadNetwork

STITCH_HIGHWAY = "stitch"
"""``highway`` of the straight links the network builder adds between areas."""

_CHUNK_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True, eq=False)
class StreetSegments:
    """The road segments of a study area, with the network that measures distance.

    Attributes
    ----------
    crs
        Projected CRS (metres) of everything below.
    geometry
        (n_seg,) shapely LineStrings, metres in ``crs``.
    length_m
        (n_seg,) float64 segment lengths, metres (> 0).
    u, v
        (n_seg,) int64 end nodes (indices of ``graph``); ``geometry`` runs from ``u`` to ``v``.
    graph
        CSR (n_nodes, n_nodes), symmetric: shortest road piece between two nodes, metres
        (every piece of the network, stitch links and pieces outside the area included).
    name, highway
        (n_seg,) object arrays: street name (``None`` when unknown) and road class.
    """

    crs: CRS
    geometry: np.ndarray
    length_m: np.ndarray
    u: np.ndarray
    v: np.ndarray
    graph: sp.csr_matrix
    name: np.ndarray
    highway: np.ndarray
    _cache: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    def __len__(self) -> int:
        return int(self.length_m.shape[0])

    @property
    def total_length_m(self) -> float:
        """Total length of the segments, metres."""
        return float(self.length_m.sum())

    @property
    def midpoints(self) -> np.ndarray:
        """(n_seg, 2) midpoints along each segment, metres in ``crs``."""
        pts = shapely.line_interpolate_point(self.geometry, 0.5, normalized=True)
        return np.asarray(shapely.get_coordinates(pts), dtype=np.float64)

    @classmethod
    def from_network(cls, network: RoadNetwork, area: BaseGeometry | None = None) -> StreetSegments:
        """Segments of ``network``: its road pieces (not stitch links) of positive length
        whose midpoint lies in ``area`` (all when ``None``).

        Parameters
        ----------
        network
            A road network (:meth:`xunfang.ingest.city.City.road_network`).
        area
            Study-area polygon in the network's CRS (metres).

        Raises
        ------
        ValidationError
            If no segment is left.
        """
        e = network.edges
        n = network.n_nodes
        u_all = e["u_index"].to_numpy(dtype=np.int64)
        v_all = e["v_index"].to_numpy(dtype=np.int64)
        len_all = e["length_m"].to_numpy(dtype=np.float64)
        keep = u_all != v_all
        graph = _length_graph(u_all[keep], v_all[keep], len_all[keep], n)
        highway = e["highway"].astype(str).to_numpy() if "highway" in e else np.full(len(e), "")
        seg = (highway != STITCH_HIGHWAY) & (len_all > 0) & keep
        geom = np.asarray(e.geometry.to_numpy())
        if area is not None:
            mid = shapely.line_interpolate_point(geom, 0.5, normalized=True)
            shapely.prepare(area)
            seg &= shapely.contains(area, mid) | shapely.touches(area, mid)
        if not seg.any():
            raise ValidationError(
                "no road segment has its midpoint in the study area: check the area and the "
                "road network's CRS"
            )
        names = e["name"].to_numpy(dtype=object) if "name" in e else np.full(len(e), None)
        return cls(
            crs=CRS.from_user_input(network.crs),
            geometry=geom[seg],
            length_m=len_all[seg],
            u=u_all[seg],
            v=v_all[seg],
            graph=graph,
            name=names[seg],
            highway=highway[seg],
        )

    @classmethod
    def from_lines(
        cls,
        coords: Sequence[Sequence[tuple[float, float]]],
        u: Sequence[int],
        v: Sequence[int],
        crs: CRS | str,
        *,
        extra_links: Sequence[tuple[int, int, float]] = (),
    ) -> StreetSegments:
        """Segments from polylines and their end nodes (small hand-made networks, tests).

        Parameters
        ----------
        coords
            Per segment, its vertices ``(x, y)`` in metres, from node ``u`` to node ``v``.
        u, v
            End nodes of each segment (integers from 0).
        crs
            Projected CRS.
        extra_links
            ``(node, node, length_m)`` links that carry distance but are not segments.
        """
        geom = shapely.linestrings([np.asarray(c, dtype=np.float64) for c in coords])
        length = np.asarray(shapely.length(geom), dtype=np.float64)
        uu = np.asarray(u, dtype=np.int64)
        vv = np.asarray(v, dtype=np.int64)
        xu = [a for a, _, _ in extra_links]
        xv = [b for _, b, _ in extra_links]
        xl = [float(d) for _, _, d in extra_links]
        n = int(max(uu.max(), vv.max(), *(xu or [0]), *(xv or [0]))) + 1
        graph = _length_graph(
            np.concatenate([uu, xu]).astype(np.int64),
            np.concatenate([vv, xv]).astype(np.int64),
            np.concatenate([length, xl]),
            n,
        )
        return cls(
            crs=CRS.from_user_input(crs),
            geometry=np.asarray(geom),
            length_m=length,
            u=uu,
            v=vv,
            graph=graph,
            name=np.full(len(length), None, dtype=object),
            highway=np.full(len(length), "", dtype=object),
        )

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nearest segment of each point (shapely ``STRtree.query_nearest``).

        Parameters
        ----------
        xy
            (m, 2) metres in ``crs``, finite.

        Returns
        -------
        segment : (m,) int64 segment index.
        offset_m : (m,) float64 distance along the segment from its ``u`` end, metres.
        distance_m : (m,) float64 straight-line snapping distance, metres.

        Raises
        ------
        ValidationError
            For a bad shape or non-finite coordinates.
        """
        pts_xy = np.asarray(xy, dtype=np.float64)
        if pts_xy.ndim != 2 or pts_xy.shape[1] != 2:
            raise ValidationError(f"xy must have shape (m, 2), got {pts_xy.shape}")
        if not np.isfinite(pts_xy).all():
            raise ValidationError("xy holds NaN or infinite coordinates: drop those incidents")
        if len(pts_xy) == 0:
            z = np.empty(0)
            return z.astype(np.int64), z, z
        pts = shapely.points(pts_xy)
        tree = shapely.STRtree(self.geometry)
        (pi, si), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        seg = np.empty(len(pts), dtype=np.int64)
        d = np.empty(len(pts))
        seg[pi] = si
        d[pi] = dist
        offset = shapely.line_locate_point(self.geometry[seg], pts)
        return seg, np.asarray(offset, dtype=np.float64), d

    def node_distances_m(self, bandwidth_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Network distances between nodes below ``bandwidth_m``, as CSR arrays.

        Dijkstra's algorithm (:func:`scipy.sparse.csgraph.dijkstra`, undirected, limited to
        the bandwidth) from every node, in blocks of sources; cached per bandwidth.

        Returns
        -------
        indptr : (n_nodes + 1,) int64 row starts.
        node : (k,) int64 reached node of each entry (a node reaches itself at 0 m).
        distance_m : (k,) float64 metres, ``< bandwidth_m``.
        """
        key = float(bandwidth_m)
        if key in self._cache:
            return self._cache[key]
        n = self.graph.shape[0]
        chunk = max(1, _CHUNK_BYTES // (8 * max(n, 1)))
        rows, cols, dist = [], [], []
        for start in range(0, n, chunk):
            src = np.arange(start, min(n, start + chunk))
            block = dijkstra(self.graph, directed=False, indices=src, limit=key)
            r, c = np.nonzero(block < key)  # inf (beyond the limit) compares False
            rows.append(src[r])
            cols.append(c.astype(np.int64))
            dist.append(block[r, c])
        row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        indptr = np.searchsorted(row, np.arange(n + 1)).astype(np.int64)
        out = (
            indptr,
            np.concatenate(cols) if cols else np.empty(0, dtype=np.int64),
            np.concatenate(dist) if dist else np.empty(0),
        )
        self._cache[key] = out
        return out

    def kernel_mass(
        self, segment: np.ndarray, offset_m: np.ndarray, bandwidth_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The linear network kernel of each event integrated along each segment it reaches.

        For an event at ``offset_m`` along segment ``e`` and a point ``x`` metres along
        segment ``s`` from its ``u`` end, the network distance is ``min(a + x, b + L - x)``
        with ``a``, ``b`` the shortest distances from the event to ``s``'s ends (through
        ``e``'s ends), ``L`` the length of ``s``; on ``e`` itself it is ``|x - offset|``. The
        kernel ``k(d) = max(0, 1 - d / h)`` integrates in closed form with
        ``K(t) = min(t, h) - min(t, h)^2 / (2 h)``:
        ``K(a + x*) - K(a) + K(b + L - x*) - K(b)``, ``x* = (b + L - a) / 2`` clipped to
        ``[0, L]``; on ``e``: ``K(offset) + K(L_e - offset)``.

        Returns
        -------
        event, target, mass_m
            (k,) event index, segment index and integral (metres; at most ``h``).
        """
        h = float(bandwidth_m)
        indptr, node, dist = self.node_distances_m(h)
        n_seg = len(self)
        seg = np.asarray(segment, dtype=np.int64)
        off = np.clip(np.asarray(offset_m, dtype=np.float64), 0.0, self.length_m[seg])
        ev = np.arange(len(seg))

        def expand(start: np.ndarray, count: np.ndarray) -> np.ndarray:
            first = np.repeat(start, count)
            return first + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)

        # event -> node distances, through either end of the event's own segment
        parts_e, parts_n, parts_d = [], [], []
        for end, extra in ((self.u[seg], off), (self.v[seg], self.length_m[seg] - off)):
            cnt = indptr[end + 1] - indptr[end]
            idx = expand(indptr[end], cnt)
            parts_e.append(np.repeat(ev, cnt))
            parts_n.append(node[idx])
            parts_d.append(dist[idx] + np.repeat(extra, cnt))
        e_ev, e_node, e_d = _min_per_pair(
            np.concatenate(parts_e), np.concatenate(parts_n), np.concatenate(parts_d)
        )
        # node -> the segments it ends, marking which end
        ends = np.concatenate([self.u, self.v])
        order = np.argsort(ends, kind="stable")
        inc_seg = np.concatenate([np.arange(n_seg), np.arange(n_seg)])[order]
        inc_is_u = np.concatenate([np.ones(n_seg, bool), np.zeros(n_seg, bool)])[order]
        n_nodes = self.graph.shape[0]
        inc_ptr = np.searchsorted(ends[order], np.arange(n_nodes + 1))
        cnt = inc_ptr[e_node + 1] - inc_ptr[e_node]
        idx = expand(inc_ptr[e_node], cnt)
        p_ev = np.repeat(e_ev, cnt)
        p_seg = inc_seg[idx]
        p_is_u = inc_is_u[idx]
        p_d = np.repeat(e_d, cnt)
        keys = np.concatenate([p_ev * n_seg + p_seg, ev * n_seg + seg])  # own segment too
        uniq, inv = np.unique(keys, return_inverse=True)
        a = np.full(len(uniq), np.inf)
        b = np.full(len(uniq), np.inf)
        inv_p = inv[: len(p_ev)]
        np.minimum.at(a, inv_p[p_is_u], p_d[p_is_u])
        np.minimum.at(b, inv_p[~p_is_u], p_d[~p_is_u])
        t_ev, t_seg = np.divmod(uniq, n_seg)
        length = self.length_m[t_seg]

        def big_k(t: np.ndarray) -> np.ndarray:
            tt = np.minimum(t, h)
            return tt - tt * tt / (2.0 * h)

        with np.errstate(invalid="ignore"):
            x_star = np.clip((b + length - a) / 2.0, 0.0, length)
            x_star = np.where(np.isfinite(a), np.where(np.isfinite(b), x_star, length), 0.0)
            mass = big_k(a + x_star) - big_k(a) + big_k(b + length - x_star) - big_k(b)
        mass = np.nan_to_num(mass, nan=0.0, posinf=0.0, neginf=0.0)
        own = t_seg == seg[t_ev]
        o_off = off[t_ev[own]]
        mass[own] = big_k(o_off) + big_k(length[own] - o_off)
        keep = mass > 0
        return t_ev[keep], t_seg[keep], mass[keep]

    def to_geodataframe(self, columns: dict[str, np.ndarray] | None = None) -> gpd.GeoDataFrame:
        """The segments as a GeoDataFrame in ``crs`` with ``segment``, ``name``,
        ``highway``, ``length_m`` and any extra (n_seg,) ``columns``."""
        data: dict[str, Any] = {
            "segment": np.arange(len(self)),
            "name": self.name,
            "highway": self.highway,
            "length_m": self.length_m,
        }
        data.update(columns or {})
        return gpd.GeoDataFrame(data, geometry=list(self.geometry), crs=self.crs)


def _length_graph(u: np.ndarray, v: np.ndarray, length_m: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric CSR (n, n) of the shortest piece between two nodes, metres. Explicit
    zeros (zero-length pieces) stay: :mod:`scipy.sparse.csgraph` reads them as edges."""
    rows, cols, lens = _min_per_pair(
        np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([length_m, length_m])
    )
    return sp.csr_matrix((lens, (rows, cols)), shape=(n, n))


def _min_per_pair(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smallest value per (row, col), sorted by row then col."""
    if rows.size == 0:
        return rows.astype(np.int64), cols.astype(np.int64), vals.astype(np.float64)
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return rows[first], cols[first], vals[first]


# --------------------------------------------------------------------------- events
@dataclass(frozen=True)
class SegmentEvents:
    """Incidents snapped to segments.

    Attributes
    ----------
    t_day
        (n,) days since 1970-01-01 UTC, sorted ascending.
    segment
        (n,) int64 nearest segment.
    offset_m
        (n,) metres along the segment from its ``u`` end.
    snap_m
        (n,) straight-line snapping distance, metres.
    start_day, end_day
        Observation period ``[start_day, end_day)``.
    """

    t_day: np.ndarray
    segment: np.ndarray
    offset_m: np.ndarray
    snap_m: np.ndarray
    start_day: float
    end_day: float

    def __len__(self) -> int:
        return int(self.t_day.shape[0])

    @classmethod
    def from_table(cls, table: IncidentTable, segments: StreetSegments) -> SegmentEvents:
        """Snap every incident of ``table`` (projected like ``segments``) to its nearest
        segment; the period runs from the midnight (UTC) before the first incident to
        just after the last.

        Raises
        ------
        ValidationError
            If the CRS differ or the table is empty.
        """
        if CRS.from_user_input(table.crs) != segments.crs:
            raise ValidationError(
                f"incidents are in {table.crs.to_string()} but the segments in "
                f"{segments.crs.to_string()}: reproject the table (IncidentTable.reproject)"
            )
        if len(table) == 0:
            raise ValidationError("no incident to snap to the street segments")
        t = to_days(table.frame["occurred_at"])
        seg, off, dist = segments.snap(table.xy)
        order = np.argsort(t, kind="stable")
        return cls(
            t[order], seg[order], off[order], dist[order], float(np.floor(t.min())), float(t.max())
        )

    def between(self, start_day: float, end_day: float) -> SegmentEvents:
        """The events in ``[start_day, end_day)`` with that observation period."""
        if not end_day > start_day:
            raise ValidationError(
                f"the training period {from_days(start_day)} .. {from_days(end_day)} is empty"
            )
        lo, hi = np.searchsorted(self.t_day, [start_day, end_day], side="left")
        sl = slice(int(lo), int(hi))
        return SegmentEvents(
            self.t_day[sl],
            self.segment[sl],
            self.offset_m[sl],
            self.snap_m[sl],
            float(start_day),
            float(end_day),
        )

    def counts(self, n_segments: int) -> np.ndarray:
        """(n_segments,) incidents per segment."""
        return np.bincount(self.segment, minlength=n_segments).astype(np.float64)


# --------------------------------------------------------------------------- metric
def flagged_share(risk: np.ndarray, length_m: np.ndarray, fraction: float) -> np.ndarray:
    """Share of each segment flagged at a coverage of ``fraction`` of the total length.

    Segments are ranked by ``risk / length_m`` descending; equal values form a block;
    blocks are flagged whole while they fit ``fraction * sum(length_m)``, and the block
    straddling it gets the same share of each of its segments (module docstring).

    Parameters
    ----------
    risk
        (n,) risk per segment (any scale, >= 0; only the order of risk per metre matters).
    length_m
        (n,) segment lengths, metres, > 0.
    fraction
        Coverage in (0, 1].

    Returns
    -------
    numpy.ndarray
        (n,) float64 in [0, 1]; ``share @ length_m == fraction * length_m.sum()``.

    Raises
    ------
    ValidationError
        For mismatched shapes, NaN risk, non-positive lengths or a fraction outside (0, 1].
    """
    r = np.asarray(risk, dtype=np.float64)
    ln = np.asarray(length_m, dtype=np.float64)
    if r.shape != ln.shape or r.ndim != 1:
        raise ValidationError(f"risk {r.shape} and length_m {ln.shape} must be equal 1-d shapes")
    if not 0 < fraction <= 1:
        raise ValidationError(f"coverage fraction must be in (0, 1], got {fraction}")
    if np.isnan(r).any():
        raise ValidationError("risk has NaN values")
    if (ln <= 0).any() or not np.isfinite(ln).all():
        raise ValidationError("segment lengths must be positive, finite metres")
    density = r / ln
    order = np.argsort(-density, kind="stable")
    dens = density[order]
    new_block = np.ones(len(dens), dtype=bool)
    new_block[1:] = dens[1:] != dens[:-1]
    block = np.cumsum(new_block) - 1
    block_len = np.bincount(block, weights=ln[order])
    before = np.concatenate([[0.0], np.cumsum(block_len)[:-1]])
    budget = fraction * float(ln.sum())
    share_block = np.clip((budget - before) / block_len, 0.0, 1.0)
    out = np.empty(len(r))
    out[order] = share_block[block]
    return out


@dataclass(frozen=True)
class SegmentHits(CaptureRates):
    """Captures of a segment forecast at several coverages of road length.

    Attributes
    ----------
    fractions
        (m,) coverages (shares of total length).
    hits
        (m,) incidents captured (fractional at a partially flagged block).
    best_hits
        (m,) most any flagging of the same length could capture (the segments with the
        most incidents per metre first, same partial rule).
    total
        Incidents of the window on the segments.
    """

    fractions: np.ndarray
    hits: np.ndarray
    best_hits: np.ndarray
    total: int

    @property
    def pai(self) -> np.ndarray:
        """(m,) hit rate / share of road length flagged."""
        return self.hit_rate / self.fractions


def segment_hits(
    risk: np.ndarray, length_m: np.ndarray, counts: np.ndarray, fractions: Sequence[float]
) -> SegmentHits:
    """Incidents captured by the highest-risk-per-metre segments at each coverage of road
    length (rule of :func:`flagged_share`).

    Parameters
    ----------
    risk, length_m
        As :func:`flagged_share`.
    counts
        (n,) incidents per segment in the window, >= 0.
    fractions
        Coverages in (0, 1].

    Raises
    ------
    ValidationError
        As :func:`flagged_share`, or for negative counts / mismatched shapes.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.shape != np.shape(risk):
        raise ValidationError(f"counts {c.shape} and risk {np.shape(risk)} must match")
    if (c < 0).any():
        raise ValidationError("counts must be >= 0")
    hits = np.array([flagged_share(risk, length_m, f) @ c for f in fractions])
    best = np.array([flagged_share(c, length_m, f) @ c for f in fractions])
    return SegmentHits(np.asarray(fractions, dtype=np.float64), hits, best, round(float(c.sum())))


# --------------------------------------------------------------------------- forecasters
@dataclass(frozen=True)
class SegmentForecast:
    """Expected incidents per segment in a window.

    Attributes
    ----------
    method
        Name and parameters of the forecaster.
    segments
        The segments.
    window
        The window.
    risk
        (n_seg,) expected incidents on each segment in the window.
    """

    method: str
    segments: StreetSegments
    window: Window
    risk: np.ndarray

    @property
    def risk_per_km(self) -> np.ndarray:
        """(n_seg,) expected incidents per km of road (the ranking key)."""
        return self.risk / self.segments.length_m * 1000.0

    def flagged(self, fraction: float) -> gpd.GeoDataFrame:
        """The flagged segments at a coverage of road length, highest risk per km first:
        ``segment, name, highway, length_m, risk, risk_per_km, share_flagged,
        rank`` and the geometry (``crs`` of the segments)."""
        share = flagged_share(self.risk, self.segments.length_m, fraction)
        gdf = self.segments.to_geodataframe(
            {"risk": self.risk, "risk_per_km": self.risk_per_km, "share_flagged": share}
        )
        gdf = gdf[share > 0].sort_values("risk_per_km", ascending=False, kind="stable")
        gdf["rank"] = np.arange(1, len(gdf) + 1)
        return gdf.reset_index(drop=True)


class SegmentForecaster(ABC):
    """Base of the segment forecasters: the estimator contract of
    :class:`~xunfang.analyse.forecast.Forecaster` on segments instead of cells.

    ``__init__`` stores keyword-only parameters (``segments`` among them);
    :meth:`fit` takes :class:`SegmentEvents` and stores ``events_``; :meth:`predict`
    refuses a window that starts before the end of the training period.
    """

    name: ClassVar[str] = "segment"
    _params: ClassVar[tuple[str, ...]] = ()
    segments: StreetSegments

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters by name."""
        return {p: getattr(self, p) for p in self._params}

    def describe(self) -> str:
        """Name and parameters, for tables."""
        parts = [
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.get_params().items()
            if k != "segments"
        ]
        return f"{self.name}({', '.join(parts)})"

    def _validate(self) -> None:
        if not isinstance(self.segments, StreetSegments):
            raise ValidationError(f"{type(self).__name__}: segments must be StreetSegments")

    def fit(self, events: SegmentEvents) -> Self:
        """Store the training events (period ``[start_day, end_day)``).

        Raises
        ------
        ValidationError
            For a bad parameter.
        """
        self._validate()
        self.events_ = events
        return self

    def predict(self, window: Window) -> SegmentForecast:
        """Expected incidents per segment in ``window``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValidationError
            If the window starts before the end of the training period.
        """
        ev: SegmentEvents | None = getattr(self, "events_", None)
        if ev is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        if window.start_day < ev.end_day - 1e-9:
            raise ValidationError(
                f"window {window.label or window.start} starts before the end of the training "
                f"data ({from_days(ev.end_day)}): fit on earlier incidents"
            )
        risk = np.maximum(np.asarray(self._predict(ev, window), dtype=np.float64), 0.0)
        return SegmentForecast(self.describe(), self.segments, window, risk)

    @abstractmethod
    def _predict(self, events: SegmentEvents, window: Window) -> np.ndarray: ...


class SegmentCounts(SegmentForecaster):
    """Naive counts per segment over the previous ``period_days`` (``None``: the whole
    training period), scaled to the window's length: the baseline of Rosser et al.
    (2017) and of the grid comparisons (Chainey, Tompson & Uhlig 2008).

    Parameters
    ----------
    segments
        The street segments.
    period_days
        Days before the window start, or ``None``.
    """

    name: ClassVar[str] = "naive"
    _params: ClassVar[tuple[str, ...]] = ("segments", "period_days")

    def __init__(self, *, segments: StreetSegments, period_days: float | None = None) -> None:
        self.segments = segments
        self.period_days = period_days

    def _validate(self) -> None:
        super()._validate()
        p = self.period_days
        if p is not None and (not isinstance(p, int | float) or not p > 0):
            raise ValidationError(f"period_days must be positive or none, got {p!r}")

    def _predict(self, events: SegmentEvents, window: Window) -> np.ndarray:
        t0 = window.start_day
        lo = events.start_day if self.period_days is None else t0 - float(self.period_days)
        days = t0 - max(lo, events.start_day)
        sel = (events.t_day >= lo) & (events.t_day < t0)
        counts = np.bincount(events.segment[sel], minlength=len(self.segments))
        return counts.astype(np.float64) * (window.length_days / max(days, 1e-9))


class NetworkProspective(SegmentForecaster):
    """Network prospective hotspotting (Rosser et al. 2017; kernels in the module
    docstring)::

        risk(s) = sum_i  g(age_i) * integral over x in s of max(0, 1 - d_net(i, x) / bandwidth_m) dx

    (the kernel integrated along the segment, :meth:`StreetSegments.kernel_mass`; risk per
    metre is the kernel's mean over the segment).

    Parameters
    ----------
    segments
        The street segments.
    bandwidth_m
        Spatial bandwidth, metres along the roads.
    bandwidth_weeks
        Events this many weeks old or older add nothing.
    time
        ``weeks``: ``g = 1 / (1 + floor(age / 7 days))`` (Bowers et al. 2004);
        ``exponential``: ``g = exp(-age / time_scale_days)`` (Rosser et al. 2017).
    time_scale_days
        Scale of the exponential time kernel, days.

    Notes
    -----
    Defaults from validation (benchmarks/bench_segments.py: the 14 days before the test
    days, all crime and burglary, the example city's districts 1 and 8): of 400 m / 8 weeks
    (Bowers' prospective), 200 m, 100 m / 52 weeks / 90 days and 50 m / 52 weeks / 180
    days, the last scored best in all four; a short reach along the street and a long
    memory, close to naive counts on the segment, as crime repeats at the same addresses.

    Scores are scaled so that they sum to the expected count of the window at the event
    rate over the temporal bandwidth (as the grid's prospective method). Cost per
    prediction: one pass over the pairs (event, segment) within the bandwidth; the
    node-to-segment distances are computed once per network and bandwidth.
    """

    name: ClassVar[str] = "network"
    _params: ClassVar[tuple[str, ...]] = (
        "segments",
        "bandwidth_m",
        "bandwidth_weeks",
        "time",
        "time_scale_days",
    )

    def __init__(
        self,
        *,
        segments: StreetSegments,
        bandwidth_m: float = 50.0,
        bandwidth_weeks: float = 52.0,
        time: str = "exponential",
        time_scale_days: float = 180.0,
    ) -> None:
        self.segments = segments
        self.bandwidth_m = bandwidth_m
        self.bandwidth_weeks = bandwidth_weeks
        self.time = time
        self.time_scale_days = time_scale_days

    def _validate(self) -> None:
        super()._validate()
        for key in ("bandwidth_m", "bandwidth_weeks", "time_scale_days"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not value > 0 or not np.isfinite(value):
                raise ValidationError(f"{key} must be a positive number, got {value!r}")
        if self.time not in ("weeks", "exponential"):
            raise ValidationError(f"time must be 'weeks' or 'exponential', got {self.time!r}")

    def time_weights(self, age_days: np.ndarray) -> np.ndarray:
        """Time kernel of ages (days, >= 0); 0 at or beyond ``bandwidth_weeks``."""
        age = np.asarray(age_days, dtype=np.float64)
        if self.time == "weeks":
            g = 1.0 / (1.0 + np.floor(age / 7.0))
        else:
            g = np.exp(-age / float(self.time_scale_days))
        return np.where((age >= 0) & (age < 7.0 * float(self.bandwidth_weeks)), g, 0.0)

    def _predict(self, events: SegmentEvents, window: Window) -> np.ndarray:
        t0 = window.start_day
        g = self.time_weights(t0 - events.t_day)
        used = np.flatnonzero(g > 0)
        n = len(self.segments)
        if used.size == 0:
            return np.zeros(n)
        ev, tgt, mass = self.segments.kernel_mass(
            events.segment[used], events.offset_m[used], float(self.bandwidth_m)
        )
        score = np.bincount(tgt, weights=mass * g[used][ev], minlength=n)
        span = min(7.0 * float(self.bandwidth_weeks), t0 - events.start_day)
        total = score.sum()
        if total <= 0 or span <= 0:
            return np.zeros(n)
        return score * (used.size / span * window.length_days / total)


SEGMENT_METHODS: dict[str, type[SegmentForecaster]] = {
    "naive": SegmentCounts,
    "network": NetworkProspective,
}


def make_segment_forecaster(spec: str, segments: StreetSegments) -> SegmentForecaster:
    """A segment forecaster from a spec ``method[:param=value...]``, e.g. ``naive``,
    ``naive:period_days=56``, ``network:bandwidth_m=300:time=exponential``.

    Raises
    ------
    ValidationError
        For an unknown method or parameter, naming those that exist.
    """
    from xunfang.analyse.forecast.registry import _params as parse_params

    head, *rest = spec.split(":")
    key = head.strip().lower()
    if key not in SEGMENT_METHODS:
        raise ValidationError(
            f"unknown segment method {key!r} in {spec!r}; methods: {', '.join(SEGMENT_METHODS)}"
        )
    cls = SEGMENT_METHODS[key]
    params = parse_params(rest, spec)
    allowed = set(cls._params) - {"segments"}
    if set(params) - allowed:
        raise ValidationError(
            f"segment method {key!r} has no parameter(s) {sorted(set(params) - allowed)}; "
            f"parameters: {sorted(allowed)}"
        )
    factory: Callable[..., SegmentForecaster] = cls
    model = factory(segments=segments, **params)
    model._validate()
    return model


def grid_risk_on_segments(
    cell_risk_at_midpoints: np.ndarray, cell_area_m2: float, length_m: np.ndarray
) -> np.ndarray:
    """A grid forecast carried to segments, for ranking by :func:`flagged_share`: each
    segment gets the risk *density* of the cell holding its midpoint times its length
    (Rosser et al. 2017 compare grid and network forecasts on the network this way).
    Segments outside the grid's active cells (NaN) get 0.

    Parameters
    ----------
    cell_risk_at_midpoints
        (n_seg,) risk of the cell of each midpoint
        (:meth:`xunfang.analyse.forecast.Forecast.at`), NaN outside.
    cell_area_m2
        Area of one cell, m².
    length_m
        (n_seg,) lengths, metres.
    """
    dens = np.nan_to_num(np.asarray(cell_risk_at_midpoints, dtype=np.float64), nan=0.0)
    return dens / float(cell_area_m2) * np.asarray(length_m, dtype=np.float64)


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, spread and time over windows per method and coverage: ``method, fraction,
    windows, hit_rate_mean, hit_rate_sd, pai_mean, pei_mean, seconds_per_window``
    (windows without incidents are left out of the means)."""
    out = []
    for (method, frac), grp in rows.groupby(["method", "fraction"], sort=False):
        scored = grp[grp["n_events"] > 0]
        hr = scored["hit_rate"].to_numpy(dtype=np.float64)
        out.append(
            {
                "method": method,
                "fraction": float(frac),
                "windows": len(scored),
                "hit_rate_mean": float(hr.mean()) if len(hr) else np.nan,
                "hit_rate_sd": float(hr.std(ddof=1)) if len(hr) > 1 else np.nan,
                "pai_mean": float(scored["pai"].mean()) if len(hr) else np.nan,
                "pei_mean": float(scored["pei"].mean()) if len(hr) else np.nan,
                "seconds_per_window": float(grp["seconds"].mean()),
            }
        )
    return pd.DataFrame(out)
