"""Joining area graphs that share no nodes: straight links between neighbouring areas.

The Chicago community-area graphs are clipped to their areas, so neighbours share no
streets (chicago/SOURCE.txt section 5). :func:`xunfang.ingest.network.build_network` adds
links from each node to the nearest node of every other area (:func:`nearest_links`) and,
across a river whose bridges the clipping cut away, between the closest nodes of a street
name found in both areas (:func:`same_name_links`). Nearest neighbours come from k-d trees
(:class:`scipy.spatial.cKDTree`, Maneewongvatana & Mount 1999).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

__all__ = ["nearest_links", "same_name_links", "unique_pairs"]


def nearest_links(
    xy: np.ndarray, area_of: np.ndarray, active: np.ndarray, threshold_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Undirected links (u, v) from each active node to the nearest active node of every
    other area within ``threshold_m`` (one k-d tree per area), duplicates removed."""
    empty = np.empty(0, np.int64)
    idx = np.flatnonzero(active)
    areas = np.unique(area_of[idx])
    if areas.size < 2 or threshold_m <= 0:
        return empty, empty
    found_u: list[np.ndarray] = []
    found_v: list[np.ndarray] = []
    bound = float(np.nextafter(threshold_m, np.inf))
    for area in areas:  # few areas; the queries are vectorised
        mine = idx[area_of[idx] == area]
        others = idx[area_of[idx] != area]
        dist, j = cKDTree(xy[mine]).query(xy[others], k=1, distance_upper_bound=bound)
        ok = np.isfinite(dist) & (dist <= threshold_m)
        found_u.append(others[ok])
        found_v.append(mine[j[ok]])
    return unique_pairs(np.concatenate(found_u), np.concatenate(found_v))


def same_name_links(
    xy: np.ndarray,
    area_of: np.ndarray,
    u_idx: np.ndarray,
    v_idx: np.ndarray,
    names: Sequence[object],
    threshold_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """For each pair of areas and each street name in both, link the closest two nodes on
    streets of that name when at most ``threshold_m`` apart.

    Vectorised with one k-d tree per area over (x, y, name code x (2 threshold + 1) m): nodes of
    different names are then never within the threshold of each other.
    """
    empty = np.empty(0, np.int64)
    if threshold_m <= 0 or np.unique(area_of[np.concatenate([u_idx, v_idx])]).size < 2:
        return empty, empty
    edge_no: list[int] = []
    edge_name: list[str] = []
    for i, value in enumerate(names):
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, str) and item.strip():
                edge_no.append(i)
                edge_name.append(item.strip().casefold())
    if not edge_no:
        return empty, empty
    rows = np.asarray(edge_no, dtype=np.int64)
    codes = pd.factorize(pd.Series(edge_name, dtype=object))[0].astype(np.int64)
    table = pd.DataFrame(
        {"node": np.concatenate([u_idx[rows], v_idx[rows]]), "code": np.tile(codes, 2)}
    ).drop_duplicates()
    node = table["node"].to_numpy()
    code = table["code"].to_numpy()
    area = area_of[node]
    pts = np.column_stack([xy[node], code.astype(np.float64) * (2.0 * threshold_m + 1.0)])
    bound = float(np.nextafter(threshold_m, np.inf))
    found: list[pd.DataFrame] = []
    for a in np.unique(area):
        mine = np.flatnonzero(area == a)
        others = np.flatnonzero(area != a)
        if not mine.size or not others.size:
            continue
        dist, j = cKDTree(pts[mine]).query(pts[others], k=1, distance_upper_bound=bound)
        ok = np.isfinite(dist) & (dist <= threshold_m)
        o, m = others[ok], mine[j[ok]]
        found.append(
            pd.DataFrame(
                {
                    "a1": np.minimum(area[o], a),
                    "a2": np.maximum(area[o], a),
                    "code": code[o],
                    "u": node[o],
                    "v": node[m],
                    "dist": dist[ok],
                }
            )
        )
    links = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if links.empty:
        return empty, empty
    best = links.sort_values(["dist", "u", "v"], kind="stable").drop_duplicates(
        ["a1", "a2", "code"]
    )
    return unique_pairs(best["u"].to_numpy(np.int64), best["v"].to_numpy(np.int64))


def unique_pairs(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected pairs as (min, max), sorted and without duplicates or self-pairs."""
    if u.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pairs = np.unique(np.column_stack([np.minimum(u, v), np.maximum(u, v)]), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
