"""A disk cache of built road networks, and a district's network cut from the city's.

Building a road network is the slow part of every command that routes (Chicago: about 9 s
for one police district from its community-area graphs, 75 s for the whole city on a loaded
2-core machine; loading the cached city network takes about 2 s). :func:`cached_network`
keeps each built :class:`~xunfang.ingest.road_network.RoadNetwork` in one file under
``CACHE_DIR/networks/`` (``CACHE_DIR`` is ``Settings.cache_dir``: ``$XUNFANG_CACHE_DIR``,
default ``~/.cache/xunfang``), named by a SHA-256 digest of

- the road source files: absolute path, size in bytes and modification time (ns), so that
  a changed file gives a new key and the network is rebuilt (*stale* entries are removed
  when the new one is written);
- the build options (area, polygon, CRS, clip margin, stitch thresholds, speeds: the
  caller's ``key`` mapping);
- the package version and :data:`CACHE_FORMAT`.

The file is a pickle (protocol 5) of ``(digest, RoadNetwork)``, written to a temporary
file and renamed, so a reader never sees half a file. A file that cannot be read back, or
holds another digest or type, is *corrupt*: a :class:`~xunfang.errors.CacheWarning` names
it and the network is rebuilt and written again; nothing is raised. The cache directory
must be the user's own (pickles run code when loaded; never point it at files from others).

:func:`cut_network` takes a study area's network out of a larger one (the city plan builds
the whole city's network once and gives each district its cut; see
:mod:`xunfang.plan.city_plan`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

import xunfang
from xunfang.errors import CacheWarning, NetworkError
from xunfang.ingest.notes import Note
from xunfang.ingest.road_network import STITCH_HIGHWAY, RoadNetwork, freeze

__all__ = ["CACHE_FORMAT", "CacheStatus", "cache_path", "cached_network", "cut_network"]

CACHE_FORMAT = 3  # 2: NetworkReport.scc_* (the largest-component rule's loss); 3: where
# the rule's left-out nodes and pieces lie (a cut's own loss)
"""Bumped when the layout of a cached network changes (old files are then never read)."""

CacheStatus = Literal["loaded", "built", "rebuilt", "off"]
"""How :func:`cached_network` got its network: read from the cache; built (no entry);
rebuilt (the entry was corrupt); built without a cache (``cache_dir`` None)."""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "area"


def cache_path(cache_dir: Path, name: str, key: Mapping[str, Any], files: Sequence[Path]) -> Path:
    """The cache file of a network: ``cache_dir/networks/<name>-<digest>.pkl``.

    Parameters
    ----------
    cache_dir
        The cache directory (``Settings.cache_dir``).
    name
        Readable part of the file name (e.g. the study area ``district:7``).
    key
        The build options, JSON-serialisable (sorted before hashing).
    files
        The road source files; their absolute paths, sizes and modification times enter
        the digest.

    Raises
    ------
    DataFileError, OSError
        If a source file cannot be stat'ed (e.g. missing).
    """
    stamps = []
    for p in files:
        st = Path(p).stat()
        stamps.append([str(Path(p).resolve()), st.st_size, st.st_mtime_ns])
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "version": xunfang.__version__,
            "key": key,
            "files": stamps,
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()[:24]
    return Path(cache_dir) / "networks" / f"{_slug(name)}-{digest}.pkl"


def _read(path: Path) -> RoadNetwork:
    with path.open("rb") as fh:
        digest, net = pickle.load(fh)
    if digest != path.stem.rsplit("-", 1)[-1] or not isinstance(net, RoadNetwork):
        raise ValueError("the file holds another network (digest or type differs)")
    return freeze(net)


def _write(path: Path, net: RoadNetwork) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump((path.stem.rsplit("-", 1)[-1], net), fh, protocol=5)
    tmp.replace(path)
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(f"{prefix}*.pkl"):  # stale entries of the same name
        if old != path and re.fullmatch(re.escape(prefix) + r"[0-9a-f]{24}\.pkl", old.name):
            old.unlink(missing_ok=True)


def cached_network(
    cache_dir: Path | None,
    name: str,
    key: Mapping[str, Any],
    files: Sequence[Path],
    build: Callable[[], RoadNetwork],
) -> tuple[RoadNetwork, CacheStatus]:
    """The network of ``build()``, read from the disk cache when an entry of the same key
    and source files exists (see the module docstring).

    Parameters
    ----------
    cache_dir
        The cache directory; ``None`` builds without caching.
    name, key, files
        See :func:`cache_path`.
    build
        Builds the network on a cache miss.

    Returns
    -------
    network : RoadNetwork
    status : CacheStatus
        ``"loaded"``, ``"built"``, ``"rebuilt"`` (a corrupt entry was replaced) or ``"off"``.

    Warns
    -----
    CacheWarning
        When an entry exists but cannot be read (it is rebuilt), or cannot be written.

    Raises
    ------
    The errors of ``build`` and of stat'ing ``files`` pass through.
    """
    if cache_dir is None:
        return build(), "off"
    path = cache_path(cache_dir, name, key, files)
    status: CacheStatus = "built"
    if path.is_file():
        try:
            return _read(path), "loaded"
        except Exception as exc:  # any damage: a truncated, foreign or garbled file
            warnings.warn(
                f"road network cache {path} is unreadable ({type(exc).__name__}: {exc}); "
                "rebuilding it",
                CacheWarning,
                stacklevel=2,
            )
            status = "rebuilt"
    net = build()
    try:
        _write(path, net)
    except OSError as exc:
        warnings.warn(
            f"cannot write the road network cache {path} ({exc}); the network was built "
            "but will be built again next time",
            CacheWarning,
            stacklevel=2,
        )
    return net, status


def _cut_loss(
    network: RoadNetwork,
    polygon: BaseGeometry,
    measure: BaseGeometry,
    keep: np.ndarray,
    kept_edges: Any,
) -> dict[str, Any]:
    """The cut's own loss to the largest-component rule, as :class:`NetworkReport` fields
    (``scc_*``, ``length_left_out_km``, ``scc_of_cut``): of the nodes and road pieces of
    ``network`` inside ``measure`` (a piece: both its ends), with those ``network``'s own
    rule left out there (``scc_left_out_*``), the ones not in the cut (``keep``,
    ``kept_edges``); stitch links not counted. The left-out nodes and pieces inside
    ``polygon`` (the cut's) are recorded in turn. Empty (the larger network's figures
    stay) when ``network`` did not record where its left-out nodes and pieces lie."""
    r = network.report
    if r.scc_left_out_xy is None or r.scc_left_out_pieces is None:
        return {}
    gone_xy, gone = r.scc_left_out_xy, r.scc_left_out_pieces
    xy = network.node_xy
    e = network.edges
    u, v = e["u_index"].to_numpy(), e["v_index"].to_numpy()
    length_m = e["length_m"].to_numpy(dtype=np.float64)
    road = (e["highway"] != STITCH_HIGHWAY).to_numpy()
    kept = np.zeros(network.n_nodes, dtype=bool)
    kept[keep] = True

    def inside(poly: BaseGeometry, pts: np.ndarray) -> np.ndarray:
        return shapely.intersects_xy(poly, pts[:, 0], pts[:, 1])

    def figures(poly: BaseGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nodes inside, pieces inside, gone nodes inside, gone pieces inside."""
        nodes_in = inside(poly, xy)
        return (
            nodes_in,
            nodes_in[u] & nodes_in[v] & road,
            inside(poly, gone_xy),
            inside(poly, gone[:, 0:2]) & inside(poly, gone[:, 2:4]),
        )

    nodes_in, pieces_in, gone_in, gone_pieces_in = figures(measure)
    n_before = int(nodes_in.sum() + gone_in.sum())
    km_before = float(length_m[pieces_in].sum() + gone[gone_pieces_in, 4].sum()) / 1000.0
    km_kept = float(length_m[pieces_in & kept[u] & kept[v]].sum()) / 1000.0
    nodes_in, pieces_in, gone_in, gone_pieces_in = figures(polygon)
    lost_pieces = pieces_in & ~(kept[u] & kept[v])
    return {
        "scc_nodes_before": n_before,
        "scc_nodes_left_out": n_before - int((kept & inside(measure, xy)).sum()),
        "scc_km_before": km_before,
        "length_left_out_km": km_before - km_kept,
        "scc_left_out_xy": np.concatenate([gone_xy[gone_in], xy[nodes_in & ~kept]]),
        "scc_left_out_pieces": np.concatenate(
            [
                gone[gone_pieces_in],
                np.column_stack([xy[u[lost_pieces]], xy[v[lost_pieces]], length_m[lost_pieces]]),
            ]
        ),
        "scc_of_cut": True,
    }


def cut_network(
    network: RoadNetwork,
    polygon: BaseGeometry,
    *,
    name: str = "",
    measure: BaseGeometry | None = None,
) -> RoadNetwork:
    """The part of ``network`` inside ``polygon``: its nodes (boundary included), the edges
    between them, then the largest strongly connected component (Tarjan 1972, as
    implemented by :func:`scipy.sparse.csgraph.connected_components`).

    The same rule as the clipping of :func:`xunfang.ingest.network.build_network` (nodes
    outside dropped with every edge touching them, largest strongly connected component
    kept), applied to an already built network; a stitch or bridge link of the larger
    network stays when both its ends are inside, so travel times can differ a little from
    a network built from the clipped files (links between areas are chosen among all the
    nodes there, not only those inside the polygon).

    Parameters
    ----------
    network
        The larger network (e.g. the whole city's).
    polygon
        (Multi)Polygon in ``network.crs`` metres, e.g. a district buffered by the city's
        ``clip_margin_m``.
    name
        Named in the report's note.
    measure
        The (Multi)Polygon, in ``network.crs`` metres, whose nodes and streets (both ends
        inside) the report's loss to the largest-component rule counts (default
        ``polygon``; e.g. the district without the margin): those ``network``'s own rule
        left out there, when it recorded where they lie
        (:attr:`~xunfang.ingest.road_network.NetworkReport.scc_left_out_xy`), and those the
        cut's rule leaves out. Without that record the report keeps ``network``'s figures.

    Returns
    -------
    RoadNetwork
        Node indices ``0..k-1`` in the order of ``network``; ``node_ids`` kept.

    Raises
    ------
    TypeError
        If ``polygon`` is not a shapely geometry.
    NetworkError
        If no node of ``network`` lies inside ``polygon``.
    """
    if not isinstance(polygon, BaseGeometry):
        raise TypeError(
            f"polygon must be a shapely geometry in {network.crs.to_string()} metres; "
            f"got {type(polygon).__name__}"
        )
    xy = network.node_xy
    inside = shapely.intersects_xy(polygon, xy[:, 0], xy[:, 1])
    if not inside.any():
        raise NetworkError(f"no road node of the network lies inside {name or 'the polygon'}")
    idx = np.flatnonzero(inside)
    sub = network.matrix[idx][:, idx]
    n_comp, labels = connected_components(sub, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    biggest = int(np.argmax(sizes))
    keep_local = np.flatnonzero(labels == biggest)
    keep = idx[keep_local]
    new_index = np.full(network.n_nodes, -1, dtype=np.int64)
    new_index[keep] = np.arange(keep.size)
    matrix = network.matrix[keep][:, keep].tocsr()
    lengths = None
    if network.length_matrix is not None:
        lengths = network.length_matrix[keep][:, keep].tocsr()
    e = network.edges
    u = new_index[e["u_index"].to_numpy()]
    v = new_index[e["v_index"].to_numpy()]
    ok = (u >= 0) & (v >= 0)
    edges = e.loc[ok].copy()
    edges["u_index"] = u[ok]
    edges["v_index"] = v[ok]
    edges = edges.reset_index(drop=True)
    left_out = int(idx.size - keep.size)
    km = float(edges["length_m"].sum()) / 1000.0 if "length_m" in edges else math.nan
    note = Note(
        "cut_network",
        big=network.n_nodes,
        name=name or "the polygon",
        inside=int(idx.size),
        kept=int(keep.size),
        left=left_out,
        pieces=len(edges),
        km=km,
    )
    report = replace(
        network.report,
        nodes=int(keep.size),
        nodes_left_out=left_out,
        components_before=int(n_comp),
        notes=(*network.report.notes, note),
        **_cut_loss(network, polygon, polygon if measure is None else measure, keep, edges),
    )
    return freeze(
        RoadNetwork(
            crs=network.crs,
            node_ids=np.array(network.node_ids[keep]),
            node_xy=np.array(network.node_xy[keep]),
            matrix=matrix,
            edges=edges,
            report=report,
            length_matrix=lengths,
        )
    )
