"""Ways with tags to a directed, simplified road network (any city, one file).

The builder behind :func:`xunfang.ingest.roads.read_road_network` for OpenStreetMap XML/PBF
and road-line files (the Chicago walk graphs keep :func:`xunfang.ingest.network.build_network`):

1. drop ways closed to cars (:func:`~xunfang.ingest.osm.excluded_reason`), counting them by
   reason;
2. cut every way into segments between consecutive nodes; each segment gets its geodesic
   length on the WGS-84 ellipsoid (Karney 2013, :class:`pyproj.Geod`), the way's direction
   (:func:`~xunfang.ingest.osm.parse_oneway`) and the way's speed per direction
   (``maxspeed:forward``/``maxspeed:backward``, else ``maxspeed``, parsed by
   :func:`~xunfang.ingest.osm.parse_maxspeed`, else the class speed of the country);
   segments with an end missing from the file (a way cut at the extract's edge) are
   dropped and counted;
3. project the nodes to one metric CRS and clip to a polygon;
4. simplify: a node that only continues one road (two neighbours, passed straight through
   one way or both ways) is removed and its two segments are joined; a joined edge's
   length and travel time are the *sums* of its parts, so a 100 m stretch at 30 km/h
   followed by 100 m at 60 km/h takes 12 + 6 = 18 s, not 200 m at one speed (the rule of
   OSMnx's ``simplify_graph``, Boeing 2017, with travel times summed per segment);
5. keep the largest strongly connected component (Tarjan 1972, as implemented by
   :func:`scipy.sparse.csgraph.connected_components`) and report the nodes, edges and
   kilometres left out.

Road data from OpenStreetMap is (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from xunfang.errors import NetworkError
from xunfang.ingest.notes import Note, sorted_counts
from xunfang.ingest.osm import OsmWays, class_speeds, excluded_reason, parse_maxspeed, parse_oneway
from xunfang.ingest.road_network import NetworkReport, RoadNetwork, format_counts, freeze, min_csr
from xunfang.units import WGS84, require_projected

__all__ = ["network_from_ways"]

_GEOD = Geod(ellps="WGS84")
_RULE_LABEL = {
    "implied": "implied one-way (roundabout, motorway)",
    "reversible": "reversible, taken as two-way",
    "unknown": "unrecognised oneway value, taken as two-way",
    "none": "untagged, two-way",
}


def network_from_ways(
    ways: OsmWays,
    crs: CRS | str,
    *,
    source: str | Path,
    clip_polygon: BaseGeometry | None = None,
    speeds_kph: dict[str, float] | None = None,
    country: str | None = None,
    simplify: bool = True,
    one_way_known: bool = True,
    measure_polygon: BaseGeometry | None = None,
) -> RoadNetwork:
    """Build a directed drivable network from ways with tags.

    Parameters
    ----------
    ways
        The drivable-class ways of one file (:func:`~xunfang.ingest.osm.read_osm_ways`
        or a road-line reader): node ids, WGS-84 lon/lat and tags per way.
    crs
        Projected CRS in metres of the result.
    source
        The file, named in the report and in errors.
    clip_polygon
        Optional (Multi)Polygon in ``crs`` metres: segments with an end outside it are
        dropped (the caller adds any margin).
    speeds_kph
        Overrides of the class speeds, km/h, by ``highway`` class.
    country
        ISO 3166-1 alpha-2 code of the class speed table
        (:data:`~xunfang.ingest.osm.CLASS_SPEEDS_KPH`); ``None`` for the default table.
    simplify
        Join the segments through nodes that only continue one road (see the module
        text); ``False`` keeps every node of the file.
    one_way_known
        Whether the source states directions (``report.one_way_known``); ``False`` for a
        road-line file without a oneway field, whose lines are then all two-way (no
        direction is implied either, not even on a motorway).
    measure_polygon
        Optional study area in ``crs`` metres: the report then gives the road length
        inside it before and after keeping the largest strongly connected component
        (``area_road_km``, ``area_road_km_kept``) and says the share kept in a note.

    Returns
    -------
    RoadNetwork
        The largest strongly connected component; ``matrix`` directed (an edge ``i -> j``
        exists only where a car may drive it), ``length_matrix`` beside it, ``edges`` one
        row per road piece with a ``oneway`` column.

    Raises
    ------
    CRSError
        If ``crs`` is not projected in metres.
    ValidationError
        If ``country`` has no speed table or an override is not a positive speed.
    NetworkError
        If no drivable segment remains (after dropping closed ways, missing nodes and
        clipping); the message says which step removed them.
    """
    target_crs = require_projected(crs, "road network crs")
    name = Path(source).name
    speeds = class_speeds(country, speeds_kph)
    notes: list[str] = []

    # 1-2. ways -> directed segments
    excluded: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    way_no: list[np.ndarray] = []
    seg_a: list[np.ndarray] = []
    seg_b: list[np.ndarray] = []
    ll_a: list[np.ndarray] = []
    ll_b: list[np.ndarray] = []
    direction: list[int] = []
    speed_fwd: list[float] = []
    speed_bwd: list[float] = []
    posted_fwd: list[bool] = []
    posted_bwd: list[bool] = []
    highway: list[str] = []
    names: list[str | None] = []
    grade: list[bool] = []
    kept_ways = 0
    for i, tags in enumerate(ways.tags):
        reason = excluded_reason(tags)
        if reason is not None:
            excluded[reason] += 1
            continue
        refs = ways.refs[i]
        if refs.size < 2:
            excluded["fewer than 2 nodes"] += 1
            continue
        kept_ways += 1
        # without a direction field nothing is implied either (a motorway drawn as one line)
        d, rule = parse_oneway(tags) if one_way_known else (0, "none")
        if rule == "tag":
            rules["tagged one-way" if d else "tagged two-way"] += 1
        else:
            rules[_RULE_LABEL[rule]] += 1
        cls = tags.get("highway", "unclassified")
        base = parse_maxspeed(tags.get("maxspeed"))
        fwd = parse_maxspeed(tags.get("maxspeed:forward"))
        bwd = parse_maxspeed(tags.get("maxspeed:backward"))
        fwd = fwd if np.isfinite(fwd) else base
        bwd = bwd if np.isfinite(bwd) else base
        posted_fwd.append(bool(np.isfinite(fwd)))
        posted_bwd.append(bool(np.isfinite(bwd)))
        class_kph = speeds.get(cls, speeds["unclassified"])
        speed_fwd.append(float(fwd) if np.isfinite(fwd) else class_kph)
        speed_bwd.append(float(bwd) if np.isfinite(bwd) else class_kph)
        direction.append(d)
        highway.append(cls)
        names.append(tags.get("name"))
        grade.append(grade_separated(tags))
        w = len(direction) - 1
        way_no.append(np.full(refs.size - 1, w, dtype=np.int64))
        seg_a.append(refs[:-1])
        seg_b.append(refs[1:])
        ll_a.append(ways.lonlat[i][:-1])
        ll_b.append(ways.lonlat[i][1:])
    if not direction:
        raise NetworkError(
            f"{name}: no drivable way ({ways.ways_read} ways read; not drivable: "
            f"{format_counts(ways.skipped) or 'none'}; closed to cars: "
            f"{format_counts(excluded) or 'none'}); check the file holds streets"
        )
    w_of = np.concatenate(way_no)
    a_id = np.concatenate(seg_a)
    b_id = np.concatenate(seg_b)
    lla = np.concatenate(ll_a)
    llb = np.concatenate(ll_b)
    located = np.isfinite(lla).all(axis=1) & np.isfinite(llb).all(axis=1)
    n_missing = int((~located).sum())
    if n_missing:
        ways_cut = np.unique(w_of[~located]).size
        notes.append(Note("ways_cut", segments=n_missing, ways=ways_cut))
    ok = located & (a_id != b_id)
    w_of, a_id, b_id, lla, llb = w_of[ok], a_id[ok], b_id[ok], lla[ok], llb[ok]
    if a_id.size == 0:
        raise NetworkError(f"{name}: no drivable segment has both end nodes in the file")
    _, _, seg_len = _GEOD.inv(lla[:, 0], lla[:, 1], llb[:, 0], llb[:, 1])
    seg_len = np.asarray(seg_len, dtype=np.float64)

    # 3. nodes, projection, clip
    all_ids = np.concatenate([a_id, b_id])
    uniq_ids, first = np.unique(all_ids, return_index=True)
    lonlat = np.concatenate([lla, llb])[first]
    transformer = Transformer.from_crs(WGS84, target_crs, always_xy=True)
    x, y = transformer.transform(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([x, y]).astype(np.float64)
    a = np.searchsorted(uniq_ids, a_id)
    b = np.searchsorted(uniq_ids, b_id)
    if clip_polygon is not None:
        inside = shapely.intersects_xy(clip_polygon, xy[:, 0], xy[:, 1])
        keep = inside[a] & inside[b]
        notes.append(Note("clip_area", nodes=int((~inside).sum()), segments=int((~keep).sum())))
        if not keep.any():
            back = Transformer.from_crs(target_crs, WGS84, always_xy=True)
            cx0, cy0, cx1, cy1 = clip_polygon.bounds
            (blon0, blon1), (blat0, blat1) = back.transform([cx0, cx1], [cy0, cy1])
            raise NetworkError(
                f"{name}: no drivable road lies inside the study area: the area with its margin "
                f"spans lon {blon0:.5f} to {blon1:.5f}, lat {blat0:.5f} to {blat1:.5f}, "
                f"the roads lon {lonlat[:, 0].min():.5f} to {lonlat[:, 0].max():.5f}, lat "
                f"{lonlat[:, 1].min():.5f} to {lonlat[:, 1].max():.5f} (WGS-84). Check that "
                "the road file covers the area, and the boundary's --frame (a GCJ-02 boundary "
                "read as WGS-84 lies about 500 m off in China)"
            )
        w_of, a, b, seg_len = w_of[keep], a[keep], b[keep], seg_len[keep]

    # directed segments
    d_arr = np.asarray(direction, dtype=np.int64)[w_of]
    v_fwd = np.asarray(speed_fwd)[w_of]
    v_bwd = np.asarray(speed_bwd)[w_of]
    fw = d_arr >= 0
    bw = d_arr <= 0
    tail = np.concatenate([a[fw], b[bw]])
    head = np.concatenate([b[fw], a[bw]])
    length = np.concatenate([seg_len[fw], seg_len[bw]])
    time_s = length / (np.concatenate([v_fwd[fw], v_bwd[bw]]) / 3.6)
    seg_way = np.concatenate([w_of[fw], w_of[bw]])
    posted = np.concatenate([np.asarray(posted_fwd)[w_of[fw]], np.asarray(posted_bwd)[w_of[bw]]])
    # the fastest segment per (tail, head): parallel duplicates add nothing
    order = np.lexsort((time_s, head, tail))
    tail, head, length, time_s, seg_way, posted = (
        tail[order],
        head[order],
        length[order],
        time_s[order],
        seg_way[order],
        posted[order],
    )
    first_seg = np.ones(tail.size, dtype=bool)
    first_seg[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, length, time_s, seg_way, posted = (
        tail[first_seg],
        head[first_seg],
        length[first_seg],
        time_s[first_seg],
        seg_way[first_seg],
        posted[first_seg],
    )
    n_segments = int(tail.size)

    # 4. simplify
    chains = _chains(tail, head, uniq_ids.size, simplify=simplify)
    e_tail = np.array([c[0][0] for c in chains], dtype=np.int64)
    e_head = np.array([c[0][-1] for c in chains], dtype=np.int64)
    seg_order = np.fromiter((s for c in chains for s in c[1]), dtype=np.int64)
    chain_of = np.repeat(np.arange(len(chains)), [len(c[1]) for c in chains])
    e_len = np.bincount(chain_of, weights=length[seg_order], minlength=len(chains))
    e_time = np.bincount(chain_of, weights=time_s[seg_order], minlength=len(chains))
    e_posted = np.bincount(chain_of, weights=posted[seg_order], minlength=len(chains)) > 0
    e_first_way = seg_way[np.array([c[1][0] for c in chains], dtype=np.int64)]
    e_names = [
        names[int(seg_way[c[1][0]])] if len(c[1]) == 1 else _chain_names(seg_way[c[1]], names)
        for c in chains
    ]
    loops = e_tail == e_head
    if simplify:
        notes.append(
            Note(
                "simplified",
                segments=n_segments,
                nodes=uniq_ids.size,
                edges=int((~loops).sum()),
            )
        )

    # 5. largest strongly connected component
    graph_nodes = np.unique(np.concatenate([e_tail[~loops], e_head[~loops]]))
    if graph_nodes.size == 0:
        raise NetworkError(f"{name}: no drivable edge joins two different nodes")
    full, full_len = min_csr(e_tail, e_head, e_time, uniq_ids.size, lengths=e_len)
    sub = full[graph_nodes][:, graph_nodes]
    n_comp, labels = connected_components(sub, directed=True, connection="strong")
    biggest = int(np.argmax(np.bincount(labels, minlength=n_comp)))
    final_nodes = graph_nodes[labels == biggest]
    new_index = np.full(uniq_ids.size, -1, dtype=np.int64)
    new_index[final_nodes] = np.arange(final_nodes.size)
    in_final = (new_index[e_tail] >= 0) & (new_index[e_head] >= 0) & ~loops

    # one row per road piece: a chain and its reverse are one piece
    keys = [_piece_key(chains[i][0]) for i in range(len(chains))]
    piece_code = pd.factorize(pd.Series(keys, dtype=object))[0]
    piece_dirs = np.bincount(piece_code[~loops], minlength=piece_code.max() + 1)
    first_of_piece = ~pd.Series(piece_code).duplicated().to_numpy()
    row_sel = np.flatnonzero(first_of_piece & ~loops)
    row_final = in_final[row_sel]
    left_rows = row_sel[~row_final]
    nodes_left_out = int(graph_nodes.size - final_nodes.size)
    km_left_out = float(e_len[left_rows].sum()) / 1000.0
    edges_left_out = int((~in_final & ~loops).sum())
    notes.append(
        Note(
            "scc_file",
            kept=final_nodes.size,
            nodes=graph_nodes.size,
            left=nodes_left_out,
            edges=edges_left_out,
            km=km_left_out,
            components=n_comp - 1,
        )
    )

    area_km = area_km_kept = None
    if measure_polygon is not None:  # the study area's own streets: how much the SCC kept

        def km_inside(rows: np.ndarray) -> float:
            lines = [shapely.linestrings(xy[np.asarray(chains[i][0])]) for i in rows.tolist()]
            if not lines:
                return 0.0
            inside = shapely.intersection(np.asarray(lines, dtype=object), measure_polygon)
            return float(shapely.length(inside).sum()) / 1000.0

        area_km_kept = km_inside(row_sel[row_final])
        area_km = area_km_kept + km_inside(left_rows)
        notes.append(
            Note(
                "area_kept",
                share=100 * area_km_kept / area_km if area_km else 100.0,
                km=area_km,
                cut_km=area_km - area_km_kept,
            )
        )

    sel = row_sel[row_final]
    geoms = [shapely.linestrings(xy[np.asarray(chains[i][0])]) for i in sel.tolist()]
    table = pd.DataFrame(
        {
            "u_index": new_index[e_tail[sel]],
            "v_index": new_index[e_head[sel]],
            "length_m": e_len[sel],
            # effective speed of a joined edge; a zero-length edge keeps its way's speed
            "speed_kph": np.divide(
                e_len[sel] * 3.6,
                e_time[sel],
                out=np.asarray(speed_fwd, dtype=np.float64)[e_first_way[sel]],
                where=e_time[sel] > 0,
            ),
            "travel_time_s": e_time[sel],
            "highway": [highway[w] for w in e_first_way[sel].tolist()],
            "name": [e_names[i] for i in sel.tolist()],
            "oneway": piece_dirs[piece_code[sel]] == 1,
            "grade_separated": [grade[w] for w in e_first_way[sel].tolist()],
        }
    )
    edges = gpd.GeoDataFrame(table, geometry=geoms, crs=target_crs)
    final_idx = final_nodes
    matrix = full[final_idx][:, final_idx].tocsr()
    length_matrix = full_len[final_idx][:, final_idx].tocsr()

    n_oneway_ways = rules["tagged one-way"] + rules[_RULE_LABEL["implied"]]
    notes.insert(
        0,
        Note("oneway_tags", oneway=n_oneway_ways, ways=kept_ways, rules=sorted_counts(rules))
        if one_way_known
        else Note("oneway_none"),
    )
    n_edges_final = int(in_final.sum())
    notes.insert(
        1,
        Note(
            "ways_read",
            read=ways.ways_read,
            name=name,
            kept=kept_ways,
            skipped=sorted_counts(ways.skipped),
            excluded=sorted_counts(excluded),
        ),
    )
    notes.insert(
        2,
        Note(
            "speeds_file",
            posted=int(e_posted[in_final].sum()),
            edges=n_edges_final,
            table=Note("table", code=country.upper() if country else "default"),
            speeds={k: v for k, v in speeds.items() if not k.endswith("_link")},
        ),
    )
    notes.append(
        Note(
            "final_file",
            nodes=final_nodes.size,
            edges=n_edges_final,
            pieces=len(table),
            km=table["length_m"].sum() / 1000,
        )
    )
    notes.append(Note("osm_credit"))
    report = NetworkReport(
        areas=(name,),
        edges_read=ways.ways_read,
        edges_kept=kept_ways,
        edges_dropped_by_class=dict(
            sorted((ways.skipped + excluded).items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        stitch_links=0,
        stitch_threshold_m=0.0,
        nodes=int(final_nodes.size),
        nodes_left_out=nodes_left_out,
        components_before=int(n_comp),
        one_way_known=one_way_known,
        notes=tuple(notes),
        edges_left_out=edges_left_out,
        length_left_out_km=km_left_out,
        ways_excluded=dict(excluded),
        area_road_km=area_km,
        area_road_km_kept=area_km_kept,
        scc_nodes_before=int(graph_nodes.size),
        scc_nodes_left_out=nodes_left_out,
        scc_km_before=km_left_out + float(table["length_m"].sum()) / 1000.0,
        scc_left_out_xy=xy[graph_nodes[labels != biggest]],
        scc_left_out_pieces=np.column_stack(
            [xy[e_tail[left_rows]], xy[e_head[left_rows]], e_len[left_rows]]
        ).reshape(-1, 5),
    )
    return freeze(
        RoadNetwork(
            crs=target_crs,
            node_ids=uniq_ids[final_idx].astype(np.int64),
            node_xy=xy[final_idx],
            matrix=matrix,
            edges=edges,
            report=report,
            length_matrix=length_matrix,
        )
    )


def _chains(
    tail: np.ndarray, head: np.ndarray, n: int, *, simplify: bool
) -> list[tuple[list[int], list[int]]]:
    """Directed chains (node list, segment list) covering every segment once.

    A node is *interior* when it has exactly two distinct neighbours and is passed straight
    through: in = {a}, out = {b} (one-way) or in = out = {a, b} (two-way). Chains start at
    the other nodes; a cycle made only of interior nodes (a ring road on its own) keeps the
    two ends of its first segment, so that it stays routable.
    """
    out_adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    in_nb: list[set[int]] = [set() for _ in range(n)]
    for s, (t, h) in enumerate(zip(tail.tolist(), head.tolist(), strict=True)):
        out_adj[t].append((h, s))
        in_nb[h].add(t)
    interior = [False] * n
    if simplify:
        for node in range(n):
            outs = {h for h, _ in out_adj[node]}
            ins = in_nb[node]
            nbrs = outs | ins
            if len(nbrs) != 2:
                continue
            if (ins == outs == nbrs) or (len(ins) == 1 and len(outs) == 1 and ins != outs):
                interior[node] = True
    tails = tail.tolist()
    heads = head.tolist()
    used = bytearray(len(tails))
    chains: list[tuple[list[int], list[int]]] = []

    def walk(start_seg: int) -> None:
        first = tails[start_seg]
        prev, cur = first, heads[start_seg]
        nodes = [first, cur]
        segs = [start_seg]
        used[start_seg] = 1
        while interior[cur] and cur != first:
            nxt = -1
            for h, s in out_adj[cur]:
                if h != prev and not used[s]:
                    nxt = s
                    break
            if nxt < 0:
                break
            prev, cur = cur, heads[nxt]
            nodes.append(cur)
            segs.append(nxt)
            used[nxt] = 1
        chains.append((nodes, segs))

    for s in range(len(tails)):
        if not interior[tails[s]] and not used[s]:
            walk(s)
    for s in range(len(tails)):  # a cycle made only of interior nodes: keep two of them
        if not used[s]:
            ends = (tails[s], heads[s])
            interior[ends[0]] = interior[ends[1]] = False
            for node in ends:
                for _, seg in out_adj[node]:
                    if not used[seg]:
                        walk(seg)
    return chains


def grade_separated(tags: dict[str, str]) -> bool:
    """Whether a way runs above or below the streets: ``bridge`` or ``tunnel`` set (not
    ``no``) or a ``layer`` other than 0 (OSM wiki, Key:layer)."""
    for key in ("bridge", "tunnel"):
        if tags.get(key, "no").strip().lower() not in ("no", ""):
            return True
    layer = tags.get("layer", "0").strip()
    try:
        return int(float(layer)) != 0
    except ValueError:
        return False


def _chain_names(way_idx: np.ndarray, names: list[str | None]) -> str | None:
    seen: list[str] = []
    for w in way_idx.tolist():
        nm = names[w]
        if nm and nm not in seen:
            seen.append(nm)
    return " / ".join(seen) or None


def _piece_key(nodes: list[int]) -> tuple[int, ...]:
    fwd = tuple(nodes)
    rev = fwd[::-1]
    return min(fwd, rev)
