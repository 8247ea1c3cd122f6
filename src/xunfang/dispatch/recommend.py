"""Closest available unit by road travel time.

One reverse shortest-path search from the call's node gives the travel time from every
network node to it (Dijkstra 1959, via ``scipy.sparse.csgraph.dijkstra`` on the transposed
travel-time matrix), so ranking any number of units costs one search; results are cached
per target node (LRU), so repeated locations cost a dictionary look-up.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

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

    Raises
    ------
    ValidationError
        If the matrix is not square or has negative times.
    """

    def __init__(self, matrix: sp.spmatrix | sp.sparray, *, cache_size: int = 4096) -> None:
        m = sp.csr_matrix(matrix)
        if m.shape[0] != m.shape[1]:
            raise ValidationError(f"travel-time matrix must be square, got shape {m.shape}")
        if m.nnz and m.data.min() < 0:
            raise ValidationError("travel-time matrix has negative times")
        self._reverse = m.T.tocsr()
        self.n_nodes = m.shape[0]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.searches = 0

    def to_node(self, target: int) -> np.ndarray:
        """(n,) float32 seconds from every node to ``target`` (``inf`` if unreachable)."""
        target = int(target)
        if not 0 <= target < self.n_nodes:
            raise ValidationError(f"node {target} is not in the network (0..{self.n_nodes - 1})")
        hit = self._cache.get(target)
        if hit is not None:
            self._cache.move_to_end(target)
            return hit
        dist = csgraph.dijkstra(self._reverse, directed=True, indices=target)
        out = np.asarray(dist, dtype=np.float32)
        out.setflags(write=False)
        self.searches += 1
        self._cache[target] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def time(self, source: int, target: int) -> float:
        """Seconds from ``source`` to ``target``."""
        return float(self.to_node(target)[int(source)])


@dataclass(frozen=True)
class Recommendation:
    """One recommended unit."""

    unit_id: str
    eta_s: float
    """Road travel time to the call, seconds (the unit's speed factor applied)."""
    node: int


def recommend(
    units: Sequence[Unit],
    target_node: int,
    oracle: TravelTimeOracle,
    *,
    k: int = 3,
    statuses: frozenset[UnitStatus] = frozenset({UnitStatus.AVAILABLE}),
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

    Returns
    -------
    list of Recommendation
        Fastest first; ties broken by the order of ``units`` (stable), so results are
        deterministic. Unreachable units are left out.

    Raises
    ------
    ValidationError
        If ``k < 1`` or the target is not a node of the network.
    """
    if k < 1:
        raise ValidationError(f"k must be >= 1, got {k}")
    eligible = [u for u in units if u.status in statuses]
    times = oracle.to_node(target_node)
    if not eligible:
        return []
    nodes = np.fromiter((u.node for u in eligible), dtype=np.int64, count=len(eligible))
    factor = np.fromiter((u.speed_factor for u in eligible), dtype=np.float64, count=len(eligible))
    eta = times[nodes].astype(np.float64) * factor
    order = np.argsort(eta, kind="stable")
    out = []
    for i in order[:k]:
        if not np.isfinite(eta[i]):
            break
        out.append(Recommendation(eligible[i].unit_id, float(eta[i]), int(nodes[i])))
    return out
