"""Road networks for travel times: OSM street graphs to a sparse travel-time graph.

The Chicago source graphs (``road_network/osm_walk_by_community_area/<AREA>.graphml.gz``,
see ``chicago/SOURCE.txt`` section 5) are OSMnx *walk* networks, one per community area,
clipped to the area and sharing no nodes with their neighbours. This module turns one or a
few of them into a vehicle graph:

1. keep the edges whose OSM ``highway`` class is drivable (:data:`DRIVABLE_HIGHWAYS`),
   counting what is dropped by class;
2. give every edge a speed (the OSM ``maxspeed`` tag when it parses, else the class
   default in :data:`DEFAULT_SPEEDS_KPH`) and a travel time ``length_m / speed``;
3. project the nodes to one metric CRS and optionally clip to a polygon;
4. stitch neighbouring areas with short straight links between their closest nodes and,
   optionally, longer links between the closest nodes of a street name found in both areas
   (bridges cut away where the area boundary follows a river);
5. keep the largest strongly connected component, counting the nodes left out.

The result, :class:`RoadNetwork`, holds a CSR travel-time matrix on which
:meth:`RoadNetwork.travel_time_matrix` runs Dijkstra's algorithm (Dijkstra 1959, as
implemented by :func:`scipy.sparse.csgraph.dijkstra`) from many sources at once.

Split along its seams: the value types live in :mod:`xunfang.ingest.road_network`
(re-exported here), the area stitching in :mod:`xunfang.ingest.stitch`, the OSM tag rules
and class speeds in :mod:`xunfang.ingest.osm`; a user's single road file (OSM XML/PBF,
GraphML, road lines) is read by :mod:`xunfang.ingest.roads`.

Road data (c) OpenStreetMap contributors, ODbL 1.0: maps and reports drawn from it must say so.
"""

from __future__ import annotations

import gzip
import math
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from xunfang.errors import DataFileError, NetworkError, ValidationError
from xunfang.ingest.areas import StudyArea, community_areas_touching
from xunfang.ingest.notes import Note, sorted_counts
from xunfang.ingest.osm import DEFAULT_SPEEDS_KPH, DRIVABLE_HIGHWAYS, excluded_reason
from xunfang.ingest.osm import drivable_class as _drivable_class
from xunfang.ingest.osm import parse_maxspeed as _parse_maxspeed
from xunfang.ingest.road_network import STITCH_HIGHWAY, NetworkReport, RoadNetwork
from xunfang.ingest.road_network import format_counts as _format_counts
from xunfang.ingest.road_network import freeze as _freeze
from xunfang.ingest.road_network import min_csr as _min_csr
from xunfang.ingest.stitch import nearest_links as _stitch
from xunfang.ingest.stitch import same_name_links as _stitch_same_name
from xunfang.ingest.stitch import unique_pairs as _unique_pairs
from xunfang.units import WGS84, kph_to_mps, require_projected

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "DRIVABLE_HIGHWAYS",
    "STITCH_HIGHWAY",
    "NetworkReport",
    "RoadNetwork",
    "build_network",
    "load_graphml_gz",
    "network_from_edges",
]

_MISSING_CLASS = "<missing>"


def load_graphml_gz(path: Path) -> nx.MultiDiGraph:
    """Load a gzip-compressed (or, named ``.graphml``, a plain) OSMnx GraphML file.

    Parameters
    ----------
    path
        A ``.graphml.gz`` file written by ``osmnx.save_graphml`` and gzipped, or the
        ``.graphml`` file itself.

    Returns
    -------
    networkx.MultiDiGraph
        As :func:`osmnx.load_graphml` returns it (node ``x``/``y`` floats, edge ``length``
        float, list-valued attributes as lists, ``geometry`` as shapely LineStrings).

    Raises
    ------
    DataFileError
        If the file is missing, not gzip, not UTF-8, or not valid OSMnx GraphML.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(
            path,
            "file not found; check the data directory (XUNFANG_DATA_DIR) and the area name "
            "(upper case, spaces as underscores, e.g. NEAR_WEST_SIDE.graphml.gz)",
        ) from None
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file: {exc}") from exc
    try:
        text = (
            raw.decode("utf-8")
            if path.name.lower().endswith(".graphml")
            else gzip.decompress(raw).decode("utf-8")
        )
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(
            path, f"not a valid gzip file ({exc}); re-download or re-gzip it"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"decompressed content is not UTF-8 text ({exc})") from exc
    try:
        graph = ox.load_graphml(graphml_str=text)
    except (ET.ParseError, nx.NetworkXError, ValueError, TypeError, KeyError) as exc:
        raise DataFileError(
            path, f"not a valid OSMnx GraphML graph ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(graph, nx.MultiDiGraph):  # pragma: no cover - osmnx always returns one
        raise DataFileError(path, "did not load as a networkx MultiDiGraph")
    return graph


def build_network(
    graph_paths: Sequence[Path],
    crs: CRS | str,
    *,
    clip_polygon: BaseGeometry | None = None,
    stitch_threshold_m: float = 60.0,
    speeds_kph: Mapping[str, float] | None = None,
    same_name_threshold_m: float = 0.0,
    exclude_closed: bool = False,
) -> RoadNetwork:
    """Build a drivable road network from one or more OSMnx GraphML area graphs.

    Parameters
    ----------
    graph_paths
        ``.graphml.gz`` files, one per area; node ``x``/``y`` in WGS-84 lon/lat
        (EPSG:4326), edge ``length`` in metres. The area name is the file name without
        ``.graphml.gz``.
    crs
        Projected CRS in metres for the result (e.g. ``"EPSG:32616"`` for Chicago).
    clip_polygon
        Optional (Multi)Polygon in ``crs`` metres. Nodes outside it (boundary included as
        inside) are dropped, with every edge touching them.
    stitch_threshold_m
        Longest straight link, metres, added between a node and the nearest node of
        another area. Each node gets at most one link to each other area; links run both
        ways at the ``residential`` speed. 0 adds none.
    speeds_kph
        Overrides of :data:`DEFAULT_SPEEDS_KPH` by class, km/h.
    same_name_threshold_m
        Longest *bridge* link, metres (0, the default, adds none). For every pair of areas
        and every street name found in both, the closest two nodes on streets of that name
        are linked when at most this far apart. This rejoins streets cut where an area
        boundary runs along a river: the clipping removed the bridge, but the street keeps
        its name on both banks. On Chicago's river 200 m recovers the downtown bridges
        (the bank-to-bank node gaps are 88-170 m) without linking streets that dead-end on
        both sides of the Dan Ryan expressway (gaps of 210 m and more).
    exclude_closed
        Also drop edges closed to cars by their ``access``/``motor_vehicle``/``service``/
        ``area`` attributes (:func:`xunfang.ingest.osm.excluded_reason`), counted in
        ``edges_dropped_by_class`` under the reason. Off for the Chicago area graphs, so
        that their node indices stay as they were; on for a user's GraphML file.

    Returns
    -------
    RoadNetwork
        The largest strongly connected component of the stitched drivable graph.

    Raises
    ------
    DataFileError
        If a file is missing or unreadable (see :func:`load_graphml_gz`).
    CRSError
        If ``crs`` is not projected in metres.
    ValidationError
        If an argument is invalid (no paths, a duplicated area, a bad speed or threshold).
    NetworkError
        If no drivable edge remains (after clipping).

    Notes
    -----
    Walk graphs carry no one-way data, so every drivable edge is used in both directions
    and ``report.one_way_known`` is ``False``. A graph whose ``network_type`` is not
    ``"walk"`` and that marks some edge ``oneway=True`` is taken as directed as given.
    When several edges join the same two nodes the fastest sets the travel time.
    """
    target_crs = require_projected(crs, "build_network crs")
    paths = [Path(p) for p in graph_paths]
    if not paths:
        raise ValidationError("graph_paths is empty; give at least one .graphml.gz area file")
    names = [_area_name(p) for p in paths]
    dupes = sorted(name for name, count in Counter(names).items() if count > 1)
    if dupes:
        raise ValidationError(f"graph_paths names the same area more than once: {dupes}")
    threshold_m = float(stitch_threshold_m)
    if not math.isfinite(threshold_m) or threshold_m < 0:
        raise ValidationError(
            f"stitch_threshold_m must be a finite number of metres >= 0; got {stitch_threshold_m!r}"
        )
    name_threshold_m = float(same_name_threshold_m)
    if not math.isfinite(name_threshold_m) or name_threshold_m < 0:
        raise ValidationError(
            "same_name_threshold_m must be a finite number of metres >= 0 (0 turns bridge "
            f"links off); got {same_name_threshold_m!r}"
        )
    speeds = _merge_speeds(speeds_kph)
    if clip_polygon is not None and not isinstance(clip_polygon, BaseGeometry):
        raise TypeError(
            f"clip_polygon must be a shapely geometry in {target_crs.to_string()} metres; "
            f"got {type(clip_polygon).__name__}"
        )

    # 1. read every area; drivable edges as flat lists (a loop over edges, not over pairs)
    node_ids_parts: list[np.ndarray] = []
    lonlat_parts: list[np.ndarray] = []
    area_parts: list[np.ndarray] = []
    cols: dict[str, list[Any]] = {
        k: [] for k in ("u", "v", "length", "highway", "maxspeed", "name", "geometry")
    }
    directed_flags: list[bool] = []
    dropped: Counter[str] = Counter()
    edges_read = 0
    for area_no, path in enumerate(paths):
        graph = load_graphml_gz(path)
        ids, lonlat = _node_table(graph, path)
        node_ids_parts.append(ids)
        lonlat_parts.append(lonlat)
        area_parts.append(np.full(ids.size, area_no, dtype=np.int64))
        one_way_area = graph.graph.get("network_type") != "walk" and any(
            d.get("oneway") is True for _, _, d in graph.edges(data=True)
        )
        n_before = len(cols["u"])
        for u, v, data in graph.edges(data=True):
            edges_read += 1
            cls = _drivable_class(data.get("highway"))
            if cls is None or cls not in DRIVABLE_HIGHWAYS:
                dropped[_MISSING_CLASS if cls is None else cls] += 1
                continue
            if exclude_closed:
                reason = excluded_reason(
                    {k: _first_text(data[k]) for k in _ACCESS_TAGS if data.get(k) is not None}
                )
                if reason is not None:
                    dropped[reason] += 1
                    continue
            cols["u"].append(u)
            cols["v"].append(v)
            cols["length"].append(data.get("length"))
            cols["highway"].append(cls)
            cols["maxspeed"].append(data.get("maxspeed"))
            cols["name"].append(data.get("name"))
            cols["geometry"].append(data.get("geometry"))
        directed_flags.extend([one_way_area] * (len(cols["u"]) - n_before))
    edges_kept = len(cols["u"])
    one_way_known = bool(directed_flags) and all(directed_flags)
    if edges_kept == 0:
        raise NetworkError(
            f"no drivable edge in {', '.join(names)}: {edges_read} edges read, all dropped by "
            f"class ({_format_counts(dropped)}); check the files are street graphs"
        )

    # 2. nodes: unique ids (a node shared by two areas is one node, labelled by its first area)
    all_ids = np.concatenate(node_ids_parts)
    all_lonlat = np.concatenate(lonlat_parts)
    all_area = np.concatenate(area_parts)
    uniq_ids, first = np.unique(all_ids, return_index=True)
    lonlat = all_lonlat[first]
    area_of = all_area[first]
    u_idx = np.searchsorted(uniq_ids, np.asarray(cols["u"], dtype=np.int64))
    v_idx = np.searchsorted(uniq_ids, np.asarray(cols["v"], dtype=np.int64))
    transformer = Transformer.from_crs(WGS84, target_crs, always_xy=True)
    x, y = transformer.transform(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([x, y]).astype(np.float64)

    # 3. lengths, speeds, travel times
    notes: list[str] = []
    length_m = np.array([_to_float(v) for v in cols["length"]], dtype=np.float64)
    bad_len = ~np.isfinite(length_m) | (length_m < 0)
    if bad_len.any():
        length_m[bad_len] = np.hypot(*(xy[u_idx[bad_len]] - xy[v_idx[bad_len]]).T)
        notes.append(Note("no_length", edges=int(bad_len.sum())))
    highway = np.asarray(cols["highway"], dtype=object)
    posted = np.array([_parse_maxspeed(v) for v in cols["maxspeed"]], dtype=np.float64)
    class_speed = np.array([speeds[c] for c in highway], dtype=np.float64)
    has_posted = np.isfinite(posted)
    speed_kph = np.where(has_posted, posted, class_speed)
    travel_time_s = length_m / (speed_kph / 3.6)  # km/h -> m/s
    directed = np.asarray(directed_flags, dtype=bool)

    # 4. clip
    keep_node = np.ones(uniq_ids.size, dtype=bool)
    if clip_polygon is not None:
        keep_node = shapely.intersects_xy(clip_polygon, xy[:, 0], xy[:, 1])
        in_edges = keep_node[u_idx] & keep_node[v_idx]
        used = np.zeros(uniq_ids.size, dtype=bool)
        used[u_idx] = used[v_idx] = True
        notes.append(
            Note(
                "clip_polygon",
                nodes=int((used & ~keep_node).sum()),
                edges=int((~in_edges).sum()),
            )
        )
        if not in_edges.any():
            hint = ""
            minx, miny, maxx, maxy = clip_polygon.bounds
            if max(abs(minx), abs(miny), abs(maxx), abs(maxy)) <= 180:
                hint = " (its bounds look like degrees: project it to the network CRS)"
            raise NetworkError(
                f"no drivable edge of {', '.join(names)} lies inside clip_polygon{hint}; "
                f"clip_polygon must be in {target_crs.to_string()} metres and overlap the areas"
            )
        u_idx, v_idx = u_idx[in_edges], v_idx[in_edges]
        length_m, speed_kph, travel_time_s = (
            length_m[in_edges],
            speed_kph[in_edges],
            travel_time_s[in_edges],
        )
        highway, directed, has_posted = highway[in_edges], directed[in_edges], has_posted[in_edges]
        names_kept = [cols["name"][i] for i in np.flatnonzero(in_edges)]
        geoms_kept = [cols["geometry"][i] for i in np.flatnonzero(in_edges)]
    else:
        names_kept, geoms_kept = cols["name"], cols["geometry"]

    # 5. stitch areas: nearest node of each other area within the threshold
    drivable = np.zeros(uniq_ids.size, dtype=bool)
    drivable[u_idx] = drivable[v_idx] = True
    near_u, near_v = _stitch(xy, area_of, drivable, threshold_m)
    name_u, name_v = _stitch_same_name(xy, area_of, u_idx, v_idx, names_kept, name_threshold_m)
    s_u, s_v = _unique_pairs(np.concatenate([near_u, name_u]), np.concatenate([near_v, name_v]))
    s_len = np.hypot(*(xy[s_u] - xy[s_v]).T) if s_u.size else np.empty(0, np.float64)
    stitch_kph = speeds["residential"]
    s_time = s_len / kph_to_mps(stitch_kph)
    if len(paths) > 1:
        notes.append(
            Note(
                "stitched",
                areas=len(paths),
                links=s_len.size,
                kph=stitch_kph,
                by_name=Note(
                    "stitched_by_name",
                    nearest=near_u.size,
                    threshold_m=threshold_m,
                    named=name_u.size,
                    name_threshold_m=name_threshold_m,
                )
                if name_threshold_m > 0
                else "",
                longest=Note("stitched_longest", m=s_len.max()) if s_len.size else "",
            )
        )

    # 6. travel-time graph (both ways unless one-way data is known), largest SCC
    two_way = ~directed
    rows = np.concatenate([u_idx, v_idx[two_way], s_u, s_v])
    cols_ = np.concatenate([v_idx, u_idx[two_way], s_v, s_u])
    times = np.concatenate([travel_time_s, travel_time_s[two_way], s_time, s_time])
    lens = np.concatenate([length_m, length_m[two_way], s_len, s_len])
    full, full_len = _min_csr(rows, cols_, times, uniq_ids.size, lengths=lens)
    node_sel = np.flatnonzero(drivable)
    sub = full[node_sel][:, node_sel]
    n_comp, labels = connected_components(sub, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    biggest = int(np.argmax(sizes))
    final_nodes = node_sel[labels == biggest]
    nodes_left_out = int(node_sel.size - final_nodes.size)
    notes.append(
        Note(
            "scc_areas",
            kept=final_nodes.size,
            nodes=node_sel.size,
            left=nodes_left_out,
            components=n_comp - 1,
        )
    )
    if nodes_left_out and len(paths) > 1:
        left_by_area = np.bincount(area_of[node_sel[labels != biggest]], minlength=len(paths))
        all_by_area = np.bincount(area_of[node_sel], minlength=len(paths))
        notes.append(
            Note(
                "left_by_area",
                areas=[
                    Note("left_in_area", name=names[i], left=left_by_area[i], all=all_by_area[i])
                    for i in range(len(paths))
                    if left_by_area[i]
                ],
            )
        )
        cut_off = [
            names[i] for i in range(len(paths)) if left_by_area[i] > 0.5 * all_by_area[i] > 0
        ]
        if cut_off:
            notes.append(Note("cut_off", names=", ".join(cut_off)))

    # 7. reindex to the final nodes
    new_index = np.full(uniq_ids.size, -1, dtype=np.int64)
    new_index[final_nodes] = np.arange(final_nodes.size)
    matrix = full[final_nodes][:, final_nodes].tocsr()
    length_matrix = full_len[final_nodes][:, final_nodes].tocsr()
    node_xy = xy[final_nodes]

    in_final = (new_index[u_idx] >= 0) & (new_index[v_idx] >= 0)
    road = _road_pieces(
        u=new_index[u_idx],
        v=new_index[v_idx],
        length_m=length_m,
        speed_kph=speed_kph,
        travel_time_s=travel_time_s,
        highway=highway,
        names=names_kept,
        geoms=geoms_kept,
        mask=in_final,
        directed=directed,
    )
    left_pieces = _road_pieces(
        u=u_idx,
        v=v_idx,
        length_m=length_m,
        speed_kph=speed_kph,
        travel_time_s=travel_time_s,
        highway=highway,
        names=names_kept,
        geoms=geoms_kept,
        mask=~in_final,
        directed=directed,
    )
    s_final = (new_index[s_u] >= 0) & (new_index[s_v] >= 0)
    stitch_rows = pd.DataFrame(
        {
            "u_index": new_index[s_u[s_final]],
            "v_index": new_index[s_v[s_final]],
            "length_m": s_len[s_final],
            "speed_kph": np.full(int(s_final.sum()), stitch_kph),
            "travel_time_s": s_time[s_final],
            "highway": STITCH_HIGHWAY,
            "name": None,
            "oneway": False,
        }
    )
    table = pd.concat([road, stitch_rows], ignore_index=True) if len(stitch_rows) else road
    geometry = _edge_geometry(table, geoms_kept_for=road, node_xy=node_xy, transformer=transformer)
    edges = gpd.GeoDataFrame(
        table.drop(columns=["_geom"], errors="ignore"), geometry=geometry, crs=target_crs
    )

    n_posted = int(has_posted[in_final].sum())
    notes.insert(
        0,
        Note("oneway_graph_none") if not one_way_known else Note("oneway_graph"),
    )
    notes.insert(
        1,
        Note("edges_read", kept=edges_kept, read=edges_read, dropped=sorted_counts(dropped)),
    )
    notes.insert(
        2,
        Note(
            "speeds_graph",
            speeds={k: v for k, v in speeds.items() if not k.endswith("_link")},
            link_kph=speeds["primary_link"],
            posted=n_posted,
        ),
    )
    notes.append(
        Note(
            "final_graph",
            nodes=final_nodes.size,
            pieces=len(road),
            km=road["length_m"].sum() / 1000,
        )
    )
    notes.append(Note("osm_credit"))

    report = NetworkReport(
        areas=tuple(names),
        edges_read=edges_read,
        edges_kept=edges_kept,
        edges_dropped_by_class=dict(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))),
        stitch_links=int(s_len.size),
        stitch_threshold_m=threshold_m,
        nodes=int(final_nodes.size),
        nodes_left_out=nodes_left_out,
        components_before=int(n_comp),
        one_way_known=one_way_known,
        notes=tuple(notes),
        edges_left_out=int((~in_final).sum()),
        length_left_out_km=float(left_pieces["length_m"].sum()) / 1000.0,
        ways_excluded={k: v for k, v in dropped.items() if "=" in k},
        scc_nodes_before=int(node_sel.size),
        scc_nodes_left_out=nodes_left_out,
        scc_km_before=float(left_pieces["length_m"].sum() + road["length_m"].sum()) / 1000.0,
        scc_left_out_xy=xy[node_sel[labels != biggest]],
        scc_left_out_pieces=np.column_stack(
            [
                xy[left_pieces["u_index"].to_numpy()],
                xy[left_pieces["v_index"].to_numpy()],
                left_pieces["length_m"].to_numpy(dtype=np.float64),
            ]
        ).reshape(-1, 5),
    )
    return _freeze(
        RoadNetwork(
            crs=target_crs,
            node_ids=uniq_ids[final_nodes].astype(np.int64),
            node_xy=node_xy,
            matrix=matrix,
            edges=edges,
            report=report,
            length_matrix=length_matrix,
        )
    )


AREA_CLIP_BUFFER_M = 400.0
"""An area's network keeps the streets this far outside its boundary, metres, so that
routes along its edge stay possible."""
GRAPH_SUBDIR = Path("road_network") / "osm_walk_by_community_area"


def area_graph_paths(city_dir: Path, area: StudyArea) -> list[Path]:
    """The per-community-area graph files covering a study area (every member's for an
    area of kind ``city``).

    Raises
    ------
    ValidationError
        If a graph file is missing (the first five are named).
    """
    names = (
        list(area.members)
        if area.kind == "city"
        else community_areas_touching(city_dir / "boundaries", area)
    )
    graph_dir = city_dir / GRAPH_SUBDIR
    paths = [graph_dir / f"{n.upper().replace(' ', '_')}.graphml.gz" for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ValidationError(
            f"road graphs missing for {area.name}: {', '.join(str(p) for p in missing[:5])}"
        )
    return paths


def build_area_network(
    city_dir: Path,
    area: StudyArea,
    *,
    stitch_threshold_m: float = 60.0,
    same_name_threshold_m: float = 200.0,
    clip_buffer_m: float = AREA_CLIP_BUFFER_M,
) -> RoadNetwork:
    """The drivable network of a study area: its community-area graphs stitched
    (:func:`build_network`) and clipped ``clip_buffer_m`` around the area (not clipped for
    an area of kind ``city``). The one recipe the plan, the deployment, the simulation and
    the service share, so that their node indices agree.

    Raises
    ------
    ValidationError
        If a graph file is missing; the errors of :func:`build_network` pass through.
    """
    return build_network(
        area_graph_paths(city_dir, area),
        area.crs,
        clip_polygon=None if area.kind == "city" else area.polygon.buffer(clip_buffer_m),
        stitch_threshold_m=stitch_threshold_m,
        same_name_threshold_m=same_name_threshold_m,
    )


def network_from_edges(
    node_xy: np.ndarray,
    edges: Sequence[tuple[int, int, float]],
    crs: CRS | str,
    *,
    speed_kph: float,
) -> RoadNetwork:
    """A road network from a hand-made list of undirected edges (tests, small studies).

    Every node is kept (no component is dropped, so indices stay as given); node ids are
    ``0..n-1``.

    Parameters
    ----------
    node_xy
        Array of shape (n, 2), metres in ``crs``.
    edges
        ``(u, v, length_m)`` triples: node indices and the road length in metres. Each edge
        runs both ways.
    crs
        Projected CRS in metres.
    speed_kph
        Speed on every edge, km/h (> 0).

    Returns
    -------
    RoadNetwork
        With ``edges`` highway ``"unspecified"`` and ``report.one_way_known`` ``False``.

    Raises
    ------
    CRSError
        If ``crs`` is not projected in metres.
    ValidationError
        If ``node_xy`` is not finite of shape (n, 2), an edge index is out of range, a
        length is negative or not finite, or ``speed_kph`` is not positive.
    """
    target_crs = require_projected(crs, "network_from_edges crs")
    xy = np.asarray(node_xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or not np.isfinite(xy).all():
        raise ValidationError(
            f"node_xy must be a finite array of shape (n, 2) in metres; got shape {xy.shape}"
            + ("" if xy.ndim != 2 or np.isfinite(xy).all() else " with NaN/inf values")
        )
    speed = float(speed_kph)
    if not math.isfinite(speed) or speed <= 0:
        raise ValidationError(f"speed_kph must be a positive number of km/h; got {speed_kph!r}")
    n = xy.shape[0]
    arr = np.asarray(list(edges), dtype=np.float64).reshape(-1, 3)
    u = arr[:, 0].astype(np.int64)
    v = arr[:, 1].astype(np.int64)
    length_m = arr[:, 2]
    if (arr[:, :2] != np.round(arr[:, :2])).any() or (
        (u < 0) | (u >= n) | (v < 0) | (v >= n)
    ).any():
        raise ValidationError(f"edges must name node indices as integers in [0, {n}) ")
    if not np.isfinite(length_m).all() or (length_m < 0).any():
        raise ValidationError("edges lengths (third item, metres) must be finite and >= 0")
    travel_time_s = length_m / kph_to_mps(speed)
    matrix = _min_csr(np.concatenate([u, v]), np.concatenate([v, u]), np.tile(travel_time_s, 2), n)
    n_comp = connected_components(matrix, directed=True, connection="strong")[0] if n else 0
    table = pd.DataFrame(
        {
            "u_index": u,
            "v_index": v,
            "length_m": length_m,
            "speed_kph": np.full(u.size, speed),
            "travel_time_s": travel_time_s,
            "highway": "unspecified",
            "name": None,
            "oneway": False,
        }
    )
    geometry = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)) if u.size else []
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs=target_crs)
    report = NetworkReport(
        areas=(),
        edges_read=int(u.size),
        edges_kept=int(u.size),
        edges_dropped_by_class={},
        stitch_links=0,
        stitch_threshold_m=0.0,
        nodes=n,
        nodes_left_out=0,
        components_before=int(n_comp),
        one_way_known=False,
        notes=(
            f"Hand-made network: {n} nodes, {u.size} two-way edges at {speed:g} km/h, "
            f"{n_comp} strongly connected component(s), every node kept.",
        ),
    )
    return _freeze(
        RoadNetwork(
            crs=target_crs,
            node_ids=np.arange(n, dtype=np.int64),
            node_xy=xy.copy(),
            matrix=matrix,
            edges=gdf,
            report=report,
        )
    )


# --------------------------------------------------------------------------- helpers


def _area_name(path: Path) -> str:
    name = path.name
    for suffix in (".graphml.gz", ".graphml", ".gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _merge_speeds(speeds_kph: Mapping[str, float] | None) -> dict[str, float]:
    speeds = dict(DEFAULT_SPEEDS_KPH)
    for key, value in (speeds_kph or {}).items():
        speed = float(value)
        if not math.isfinite(speed) or speed <= 0:
            raise ValidationError(
                f"speeds_kph[{key!r}] must be a positive number of km/h; got {value!r}"
            )
        speeds[key] = speed
    missing = sorted(DRIVABLE_HIGHWAYS - speeds.keys())
    if missing:  # pragma: no cover - defaults cover every class
        raise ValidationError(f"no speed for road classes {missing}")
    return speeds


def _node_table(graph: nx.MultiDiGraph, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Node ids (int64) and lon/lat (float64, shape (n, 2)) of one graph."""
    ids: list[int] = []
    lonlat: list[tuple[float, float]] = []
    for node, data in graph.nodes(data=True):
        try:
            ids.append(int(node))
            lonlat.append((float(data["x"]), float(data["y"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(
                path, f"node {node!r} lacks a numeric id or x/y lon/lat ({exc})"
            ) from exc
    arr = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    if (
        not np.isfinite(arr).all()
        or (np.abs(arr[:, 0]) > 180).any()
        or (np.abs(arr[:, 1]) > 90).any()
    ):
        raise DataFileError(path, "node x/y must be WGS-84 lon/lat degrees (EPSG:4326)")
    return np.asarray(ids, dtype=np.int64), arr


_ACCESS_TAGS = ("access", "motor_vehicle", "motorcar", "vehicle", "service", "area")


def _first_text(value: object) -> str:
    """A tag value as text; the first of a list (an edge simplified across ways)."""
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value)


def _to_float(value: object) -> float:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _road_pieces(
    *,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    speed_kph: np.ndarray,
    travel_time_s: np.ndarray,
    highway: np.ndarray,
    names: Sequence[object],
    geoms: Sequence[object],
    mask: np.ndarray,
    directed: np.ndarray,
) -> pd.DataFrame:
    """One row per undirected road piece: the two directions of a walk-graph edge (same end
    nodes and class, lengths within 1 cm) are one piece; the first in input order is kept.
    ``oneway`` is True for a piece of a directed graph found in one direction only."""
    sel = np.flatnonzero(mask)
    a = np.minimum(u[sel], v[sel])
    b = np.maximum(u[sel], v[sel])
    hw_code = pd.factorize(highway[sel])[0]
    lens = length_m[sel]
    order = np.lexsort((sel, lens, hw_code, b, a))
    same = np.zeros(sel.size, dtype=bool)
    o0, o1 = order[:-1], order[1:]
    same[1:] = (
        (a[o1] == a[o0])
        & (b[o1] == b[o0])
        & (hw_code[o1] == hw_code[o0])
        & (np.abs(lens[o1] - lens[o0]) < 0.01)
    )
    # a run of equal pieces collapses to its first member; keep input order. A piece is
    # one-way when its graph is directed and it runs in one direction only (a run of one).
    run_len = np.bincount(np.cumsum(~same) - 1)
    keep = sel[order[~same]]
    one_dir = directed[keep] & (run_len == 1)
    perm = np.argsort(keep, kind="stable")
    sel, one_dir = keep[perm], one_dir[perm]
    return pd.DataFrame(
        {
            "u_index": u[sel],
            "v_index": v[sel],
            "length_m": length_m[sel],
            "speed_kph": speed_kph[sel],
            "travel_time_s": travel_time_s[sel],
            "highway": highway[sel].astype(str),
            "name": [_name_text(names[i]) for i in sel.tolist()],
            "oneway": one_dir,
            "_geom": [geoms[i] for i in sel.tolist()],
        }
    )


def _name_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, list | tuple):
        return " / ".join(str(v) for v in value) or None
    return str(value)


def _edge_geometry(
    table: pd.DataFrame,
    *,
    geoms_kept_for: pd.DataFrame,
    node_xy: np.ndarray,
    transformer: Transformer,
) -> np.ndarray:
    """Projected LineStrings: the source geometry where there is one, else a straight line."""
    u = table["u_index"].to_numpy(dtype=np.int64)
    v = table["v_index"].to_numpy(dtype=np.int64)
    out = shapely.linestrings(np.stack([node_xy[u], node_xy[v]], axis=1))
    src = np.empty(len(table), dtype=object)
    src[: len(geoms_kept_for)] = geoms_kept_for["_geom"].to_numpy(dtype=object)
    has = np.array([isinstance(g, BaseGeometry) and not g.is_empty for g in src], dtype=bool)
    if has.any():

        def project(coords: np.ndarray) -> np.ndarray:
            px, py = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([px, py])

        out[has] = shapely.transform(src[has], project)
    return np.asarray(out, dtype=object)
