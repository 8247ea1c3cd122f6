"""Closest available unit by road travel time.

One reverse shortest-path search from the call's node gives the travel time from every
network node to it (Dijkstra 1959, via ``scipy.sparse.csgraph.dijkstra`` on the transposed
travel-time matrix), so ranking any number of units costs one search; results are cached
per target node (LRU), so repeated locations cost a dictionary look-up.

Anchors make it cheap on a large network. Units mostly wait at a few known nodes (posts,
stations, patrol waypoints): :meth:`TravelTimeOracle.add_anchors` precomputes the travel
times from (and to) those nodes once. A unit at an anchor then costs a table look-up; for
units elsewhere (e.g. driving back from a call) the reverse search from the call is cut
off at the ``k``-th best anchored time, divided by the smallest speed factor among them
(scipy's ``limit``): a unit beyond that bound cannot be among the ``k`` closest, so the
ranking is the same as with a full search, at the cost of a small local search. The search
is skipped altogether when landmark lower bounds (the anchors serve as landmarks; Goldberg
and Harrelson 2005) show that no such unit can beat the bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from xunfang.dispatch.model import Unit, UnitStatus
from xunfang.errors import ValidationError


class TravelTimeOracle:
    """Travel times to a node from every node, cached.

    Parameters
    ----------
    matrix
        (n, n) sparse travel-time graph, seconds: ``matrix[u, v]`` is the time of the
        fastest edge u -> v (e.g. ``RoadNetwork.matrix``).
    cache_size
        How many target nodes to keep (each costs ``n`` float32 values).
    bounded_budget
        How many (node, time) pairs of bounded searches to keep, over all targets (LRU;
        8 bytes each): a later bounded search to the same target with a limit no larger
        is answered from them. 0 keeps only the last one.

    Raises
    ------
    ValidationError
        If the matrix is not square or has negative times.
    """

    def __init__(
        self,
        matrix: sp.spmatrix | sp.sparray,
        *,
        cache_size: int = 4096,
        bounded_budget: int = 8_000_000,
    ) -> None:
        m = sp.csr_matrix(matrix, dtype=np.float64)
        if m.shape[0] != m.shape[1]:
            raise ValidationError(f"travel-time matrix must be square, got shape {m.shape}")
        if m.nnz and m.data.min() < 0:
            raise ValidationError("travel-time matrix has negative times")
        self._forward = m
        self._reverse = m.T.tocsr()
        self.n_nodes = m.shape[0]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._bounded: tuple[int, float, np.ndarray] | None = None
        # target -> (limit, reached node indices, their times): bounded searches kept sparse
        self._bounded_kept: OrderedDict[int, tuple[float, np.ndarray, np.ndarray]] = OrderedDict()
        self._bounded_budget = int(bounded_budget)
        self._bounded_size = 0
        self.bounded_hits = 0
        """Bounded searches answered from the kept results."""
        self._anchor_row = np.full(self.n_nodes, -1, dtype=np.int64)
        self._from_anchor = np.empty((0, self.n_nodes), dtype=np.float32)
        self._to_anchor = self._from_anchor
        self._columns: np.ndarray | None = None
        self.searches = 0
        """Full reverse searches run (cache misses)."""
        self.bounded_searches = 0
        """Reverse searches cut off at a bound (see :func:`recommend`)."""

    # ---------------------------------------------------------------- anchors
    def add_anchors(self, nodes: Sequence[int] | np.ndarray) -> None:
        """Precompute travel times from and to these nodes (posts, stations, waypoints).

        Costs one forward and one reverse Dijkstra search per new node (one when the
        matrix is symmetric, as for two-way street graphs) and ``2 n`` float32 values
        per node (``n`` when symmetric).

        Raises
        ------
        ValidationError
            If a node is not in the network.
        """
        arr = np.unique(np.asarray(nodes, dtype=np.int64).ravel())
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_nodes):
            raise ValidationError(
                f"anchor nodes must be in 0..{self.n_nodes - 1}; got {arr.min()}..{arr.max()}"
            )
        new = arr[self._anchor_row[arr] < 0]
        if new.size == 0:
            return
        forward = _search_rows(self._forward, new, self.n_nodes)
        if self._from_anchor is self._to_anchor and _is_symmetric(self._forward):
            self._from_anchor = np.vstack([self._from_anchor, forward])
            self._to_anchor = self._from_anchor
        else:
            backward = _search_rows(self._reverse, new, self.n_nodes)
            to_anchor = np.vstack([self._to_anchor, backward])
            self._from_anchor = np.vstack([self._from_anchor, forward])
            self._to_anchor = to_anchor
        first = self._from_anchor.shape[0] - new.size
        self._anchor_row[new] = np.arange(first, first + new.size)
        self._columns = None

    def anchor_columns(self) -> np.ndarray:
        """(n, A + 1) float32 seconds: row ``v`` holds the travel times from each of the
        ``A`` anchors (in :attr:`anchors` order) to node ``v``, then ``inf``.

        The transpose of the anchor table, so that the times of every anchor to one call
        node are one contiguous row; the last column (index ``A``) stands for "not at an
        anchor". Built once after anchors change (``n (A + 1)`` float32 values), read-only.
        """
        if self._columns is None:
            cols = np.empty((self.n_nodes, self._from_anchor.shape[0] + 1), dtype=np.float32)
            cols[:, :-1] = self._from_anchor.T
            cols[:, -1] = np.inf
            cols.setflags(write=False)
            self._columns = cols
        return self._columns

    @property
    def anchors(self) -> np.ndarray:
        """Node indices with precomputed times, in the order they were added."""
        nodes = np.flatnonzero(self._anchor_row >= 0)
        return nodes[np.argsort(self._anchor_row[nodes])]

    def anchor_row(self, nodes: np.ndarray) -> np.ndarray:
        """Row of each node in the anchor tables, ``-1`` where it is not an anchor."""
        return self._anchor_row[np.asarray(nodes, dtype=np.int64)]

    # ---------------------------------------------------------------- searches
    def _check(self, node: int) -> int:
        node = int(node)
        if not 0 <= node < self.n_nodes:
            raise ValidationError(f"node {node} is not in the network (0..{self.n_nodes - 1})")
        return node

    def to_node(self, target: int, *, limit_s: float = np.inf) -> np.ndarray:
        """(n,) float32 seconds from every node to ``target``.

        ``inf`` where unreachable or, with ``limit_s``, farther than ``limit_s``. A full
        result is cached per target (LRU); the last bounded result is kept as well, so that
        :meth:`time` right after a recommendation costs a look-up.
        """
        target = self._check(target)
        hit = self._cache.get(target)
        if hit is not None:
            self._cache.move_to_end(target)
            return hit
        if np.isfinite(limit_s):
            last = self._bounded
            if last is not None and last[0] == target and last[1] >= limit_s:
                return last[2]
            kept = self._bounded_kept.get(target)
            if kept is not None and kept[0] >= limit_s:
                # exact within kept[0] >= limit_s, as a new search (the reached set is larger)
                self._bounded_kept.move_to_end(target)
                out = np.full(self.n_nodes, np.inf, dtype=np.float32)
                out[kept[1]] = kept[2]
                out.setflags(write=False)
                self.bounded_hits += 1
                self._bounded = (target, kept[0], out)
                return out
            dist = csgraph.dijkstra(
                self._reverse, directed=True, indices=target, limit=float(limit_s)
            )
            out = np.asarray(dist, dtype=np.float32)
            out.setflags(write=False)
            self.bounded_searches += 1
            self._bounded = (target, float(limit_s), out)
            self._keep_bounded(target, float(limit_s), out)
            return out
        dist = csgraph.dijkstra(self._reverse, directed=True, indices=target)
        out = np.asarray(dist, dtype=np.float32)
        out.setflags(write=False)
        self.searches += 1
        self._cache[target] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def _keep_bounded(self, target: int, limit_s: float, out: np.ndarray) -> None:
        """Keep a bounded result sparsely (reached nodes only), within the budget."""
        reached = np.flatnonzero(np.isfinite(out))
        if reached.size > self._bounded_budget:
            return
        old = self._bounded_kept.pop(target, None)
        if old is not None:
            self._bounded_size -= old[1].size
        self._bounded_kept[target] = (limit_s, reached.astype(np.int32), out[reached])
        self._bounded_size += reached.size
        while self._bounded_size > self._bounded_budget:
            _, (_, idx, _) = self._bounded_kept.popitem(last=False)
            self._bounded_size -= idx.size

    def time(self, source: int, target: int) -> float:
        """Seconds from ``source`` to ``target`` (anchor tables first, then searches)."""
        source, target = self._check(source), self._check(target)
        row = self._anchor_row[source]
        if row >= 0:
            return float(self._from_anchor[row, target])
        row = self._anchor_row[target]
        if row >= 0:
            return float(self._to_anchor[row, source])
        last = self._bounded
        if last is not None and last[0] == target and np.isfinite(last[2][source]):
            return float(last[2][source])
        return float(self.to_node(target)[source])

    def on_route(
        self, source: int, target: int, left_s: float, factor: float = 1.0
    ) -> tuple[int, float]:
        """Where a unit is on its fastest route from ``source`` to ``target`` when it has
        ``left_s`` seconds still to go: the next node of the route it has not passed yet
        and the seconds it needs to reach that node.

        Used for a unit driving back to its post without position reports: its last
        known node (the scene) is ``source``, its post ``target``, and ``left_s`` the
        time until its expected arrival. The route is followed from the cached times to
        ``target`` (one reverse search per target, then a walk of the route's length: at
        each node the out-edge with the least edge time plus time to go, ties to the first
        such edge of the matrix row), so the cost is a dictionary look-up and a few array
        reads per node of the route.

        Parameters
        ----------
        source
            Node the unit left from (or was last seen at).
        target
            Node it is driving to.
        left_s
            Seconds until it is expected at ``target`` (real seconds, ``factor``
            applied); clipped to 0 below.
        factor
            The unit's travel-time multiplier (the route's times are multiplied by it).

        Returns
        -------
        tuple of (int, float)
            The node and the seconds to reach it (>= 0). ``(source, 0.0)`` when the
            route from ``source`` takes no longer than ``left_s`` (the unit cannot be
            behind where it was seen) or ``target`` cannot be reached from ``source``;
            ``(target, left_s)`` when ``left_s`` is shorter than the route's last edge.

        Raises
        ------
        ValidationError
            If a node is not in the network or ``factor`` is not positive.
        """
        source, target = self._check(source), self._check(target)
        if not factor > 0:
            raise ValidationError(f"factor must be > 0, got {factor}")
        left = max(float(left_s), 0.0)
        to_go = self.to_node(target)
        if not np.isfinite(to_go[source]) or float(to_go[source]) * factor <= left:
            return source, 0.0
        indptr, indices, data = self._forward.indptr, self._forward.indices, self._forward.data
        node = source
        for _ in range(self.n_nodes):
            if node == target:
                break
            nbr = indices[indptr[node] : indptr[node + 1]]
            via = data[indptr[node] : indptr[node + 1]] + to_go[nbr].astype(np.float64)
            node = int(nbr[int(np.argmin(via))])
            ahead_s = float(to_go[node]) * factor
            if ahead_s <= left:
                return node, left - ahead_s
        return target, left

    def times_to(
        self,
        sources: np.ndarray,
        target: int,
        factors: np.ndarray,
        *,
        k: int,
        cap_s: np.ndarray | None = None,
        lag_s: np.ndarray | None = None,
    ) -> np.ndarray:
        """Travel times (factors applied) of ``sources`` to ``target``, exact for every
        source that can be among the ``k`` fastest.

        Parameters
        ----------
        sources
            (m,) node indices of the units.
        target
            Node of the call.
        factors
            (m,) positive travel-time multipliers of the units.
        k
            How many fastest are wanted.
        cap_s
            (m,) longest acceptable time per unit (``inf`` for none); slower units get
            ``inf``.
        lag_s
            (m,) seconds each unit still needs to reach its node (added to its time;
            ``None`` for none).

        Returns
        -------
        numpy.ndarray
            (m,) float64 seconds. Units at anchors get their exact time; other units get
            theirs when it is within the bound of :func:`recommend`, else ``inf``.
        """
        target = self._check(target)
        nodes = np.asarray(sources, dtype=np.int64)
        factor = np.asarray(factors, dtype=np.float64)
        cap = np.full(nodes.size, np.inf) if cap_s is None else np.asarray(cap_s, np.float64)
        lag = np.zeros(nodes.size) if lag_s is None else np.asarray(lag_s, np.float64)
        eta = np.full(nodes.size, np.inf)
        rows = self._anchor_row[nodes]
        anchored = rows >= 0
        if anchored.any():
            eta[anchored] = (
                self._from_anchor[rows[anchored], target] * factor[anchored] + lag[anchored]
            )
            eta[eta > cap] = np.inf
        rest = np.flatnonzero(~anchored)
        if rest.size:
            known = eta[anchored]
            finite = known[np.isfinite(known)]
            bound = float(np.partition(finite, k - 1)[k - 1]) if finite.size >= k else np.inf
            bound = min(bound, float(cap[rest].max()))
            if np.isfinite(bound) and self._from_anchor.shape[0]:
                # landmark lower bounds: units that cannot beat the bound need no search
                lower = self.lower_bound(nodes[rest], target) * factor[rest]
                rest = rest[lower <= bound * (1.0 + 1e-6) + 1e-3]
                if rest.size == 0:
                    return eta
            low = float(factor[rest].min())
            limit = bound / low if low > 0 and np.isfinite(bound) else np.inf
            if np.isfinite(limit):
                limit = float(np.nextafter(limit, np.inf))
            times = self.to_node(target, limit_s=limit)
            eta[rest] = times[nodes[rest]].astype(np.float64) * factor[rest] + lag[rest]
            over = eta[rest] > cap[rest]
            eta[rest[over]] = np.inf
        return eta

    def lower_bound(self, sources: np.ndarray, target: int) -> np.ndarray:
        """Lower bounds of the travel times from ``sources`` to ``target``, seconds.

        The landmark (ALT) bound of Goldberg and Harrelson (2005, "Computing the shortest
        path: A* search meets graph theory", SODA): for every anchor ``a``, by the triangle
        inequality, ``d(s, t) >= d(a, t) - d(a, s)`` and ``d(s, t) >= d(s, a) - d(t, a)``;
        the largest over the anchors (0 without anchors).
        """
        src = np.asarray(sources, dtype=np.int64)
        if self._from_anchor.shape[0] == 0 or src.size == 0:
            return np.zeros(src.size)
        with np.errstate(invalid="ignore"):
            f = self._from_anchor
            diff = f[:, [target]].astype(np.float64) - f[:, src]
            if self._to_anchor is f:
                diff = np.abs(diff)
            else:
                g = self._to_anchor
                diff = np.maximum(diff, g[:, src].astype(np.float64) - g[:, [target]])
            diff[~np.isfinite(diff)] = 0.0
        return np.maximum(diff.max(axis=0), 0.0)

    def upper_bound(self, sources: np.ndarray, target: int) -> np.ndarray:
        """Upper bounds of the travel times from ``sources`` to ``target``, seconds: the
        shortest detour through an anchor, ``min_a d(s, a) + d(a, t)`` (``inf`` without
        anchors). A search from ``target`` cut off at this bound reaches ``s``.
        """
        src = np.asarray(sources, dtype=np.int64)
        if self._from_anchor.shape[0] == 0 or src.size == 0:
            return np.full(src.size, np.inf)
        via = self._to_anchor[:, src].astype(np.float64) + self._from_anchor[:, [target]]
        return via.min(axis=0)


def _is_symmetric(m: sp.csr_matrix) -> bool:
    diff = (m - m.T).tocsr()
    return diff.nnz == 0 or bool(np.abs(diff.data).max() == 0)


_BLOCK_BYTES = 64 * 1024 * 1024


def _search_rows(graph: sp.csr_matrix, sources: np.ndarray, n: int) -> np.ndarray:
    """(len(sources), n) float32 shortest times from each source, in 64 MiB blocks."""
    out = np.empty((sources.size, n), dtype=np.float32)
    chunk = max(1, _BLOCK_BYTES // (8 * max(n, 1)))
    for start in range(0, sources.size, chunk):
        out[start : start + chunk] = csgraph.dijkstra(
            graph, directed=True, indices=sources[start : start + chunk]
        )
    return out


_NODE = attrgetter("node")
_FACTOR = attrgetter("speed_factor")
_MAX_TRAVEL = attrgetter("max_travel_s")
_TO_NODE = attrgetter("to_node_s")


@dataclass(frozen=True)
class Recommendation:
    """One recommended unit."""

    unit_id: str
    eta_s: float
    """Road travel time to the call, seconds (the unit's speed factor applied, plus the
    time it still needs to reach ``node``)."""
    node: int


def recommend(
    units: Sequence[Unit],
    target_node: int,
    oracle: TravelTimeOracle,
    *,
    k: int = 3,
    statuses: frozenset[UnitStatus] = frozenset({UnitStatus.AVAILABLE}),
    priority: int | None = None,
    respect_limits: bool = True,
) -> list[Recommendation]:
    """The ``k`` units with the shortest road travel time to ``target_node``.

    Parameters
    ----------
    units
        Candidate units (any states; only those in ``statuses`` are ranked).
    target_node
        Network node of the call.
    oracle
        Travel-time oracle of the network.
    k
        How many to return (fewer if fewer are eligible and reachable).
    statuses
        Unit states that may be recommended.
    priority
        Priority of the call: units whose ``max_priority`` is more urgent than it (a
        smaller number) are left out. ``None`` considers every unit.
    respect_limits
        Leave out units whose travel time exceeds their ``max_travel_s`` (a booth
        officer's own area). ``False`` for questions like "who is near" (alerts).

    Returns
    -------
    list of Recommendation
        Fastest first; ties broken by the order of ``units`` (stable), so results are
        deterministic. Unreachable units are left out. A unit's ``to_node_s`` (still
        driving to its node) is added to its time. With anchors
        (:meth:`TravelTimeOracle.add_anchors`) the ranking is computed with a bounded
        search, as described in the module docstring.

    Raises
    ------
    ValidationError
        If ``k < 1`` or the target is not a node of the network.
    """
    if k < 1:
        raise ValidationError(f"k must be >= 1, got {k}")
    if priority is None:
        eligible = [u for u in units if u.status in statuses]
    else:
        eligible = [u for u in units if u.status in statuses and priority <= u.max_priority]
    if not eligible:
        oracle._check(target_node)
        return []
    m = len(eligible)
    nodes = np.fromiter(map(_NODE, eligible), dtype=np.int64, count=m)
    factor = np.fromiter(map(_FACTOR, eligible), dtype=np.float64, count=m)
    cap = None
    if respect_limits:
        limits = list(map(_MAX_TRAVEL, eligible))
        if limits.count(None) < m:
            cap = np.array([np.inf if c is None else c for c in limits], dtype=np.float64)
    lags = list(map(_TO_NODE, eligible))
    lag = np.array(lags, dtype=np.float64) if any(lags) else None
    eta = oracle.times_to(nodes, target_node, factor, k=k, cap_s=cap, lag_s=lag)
    order = np.argsort(eta, kind="stable")
    out = []
    for i in order[:k]:
        if not np.isfinite(eta[i]):
            break
        out.append(Recommendation(eligible[i].unit_id, float(eta[i]), int(nodes[i])))
    return out
