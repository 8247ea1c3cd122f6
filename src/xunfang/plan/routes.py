"""Patrol routes: a timed tour of a block's hotspots for one mobile unit, on the road network.

Each route starts and ends at the unit's patrol-line position (its anchor) and visits some of
the hotspots offered to it, stopping 10-15 minutes at each: Koper, C. S. (1995), "Just enough
police presence: reducing crime and disorderly behavior by optimizing patrol time in crime hot
spots", *Justice Quarterly* 12(4), 649-672, found that residual deterrence grows with stops up
to about 10-15 minutes and falls off beyond. Longer stops go to riskier hotspots (linear in the
hotspot's share of the largest risk offered).

The tour is a prize-collecting travelling salesman problem with a time budget (orienteering),
solved with the OR-Tools routing library (Google OR-Tools ``pywrapcp``, version 9): every hotspot
is an optional visit (a disjunction whose penalty grows with its risk), a time dimension adds the
travel time of each arc and the dwell at its tail, and the route's return time is capped by the
block length. Search: path-cheapest-arc start, then local search to a local optimum
(OR-Tools' greedy descent: deterministic, a few milliseconds for 16 optional stops). Guided
local search (Voudouris, C. & Tsang, E. (1999), "Guided local search and its application to
the traveling salesman problem", *European Journal of Operational Research* 113, 469-499) is
available with ``search="guided_local_search"``; it runs until its time limit (OR-Tools' solution
limit does not bound it: on real district instances it often stalls before the next solution),
so its routes depend on the machine's speed, and on the example city's district 1 week it visited no
more risk than the greedy descent (measured on 60 routes: same total).

Unpredictability (seeded). A patrol that always takes the same round is easy to avoid. Two small
perturbations, drawn from a ``numpy.random.Generator`` seeded per (seed, block, unit), vary the
routes among near-equal choices without giving up risk: the penalties are multiplied by
``1 + tie_tolerance * u`` with ``u`` uniform in [-1, 1] (hotspots whose risks are within about
``tie_tolerance`` of each other may swap), and the arc costs seen by the objective by
``1 + order_jitter * v`` with ``v`` uniform in [0, 1) (tours of equal length change order). The
time dimension always uses the true (unperturbed) times, so every route fits its block.

Times are whole seconds: travel times are rounded up and dwell times rounded up, so the
schedule is conservative (the unit can only be early).
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from xunfang.errors import SolverError, ValidationError
from xunfang.plan.roster import TimeBlock, format_minute_of_week

__all__ = [
    "OSM_LICENSE_URL",
    "Route",
    "RoutePlan",
    "dwell_times_s",
    "path_between",
    "route_geojson",
    "route_gpx",
    "route_in_block",
    "solve_route",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

OSM_LICENSE_URL = "https://opendatacommons.org/licenses/odbl/"
_COST_SCALE = 10
_SEARCHES = {
    "greedy_descent": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
    "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
}
"""Arc costs in the objective are tenths of a second (room for the seeded jitter)."""


@dataclass(frozen=True)
class RoutePlan:
    """The answer of :func:`solve_route`, in the indices of its inputs.

    Attributes
    ----------
    order
        (v,) int64, the visited stops (0-based indices into the stops), in visiting order.
    arrive_s
        (v,) float64, arrival at each visited stop, seconds from the block start.
    depart_s
        (v,) float64, departure from each visited stop (``arrive_s + dwell``).
    end_s
        Return to the depot, seconds from the block start (``<= horizon_s``).
    status
        ``"ok"`` (a solution within the solution limit) or ``"empty"`` (no stop offered).
    """

    order: IntArray
    arrive_s: FloatArray
    depart_s: FloatArray
    end_s: float
    status: str


def dwell_times_s(risk: ArrayLike, dwell_min: tuple[float, float] = (10.0, 15.0)) -> FloatArray:
    """Dwell time of each stop: from ``dwell_min[0]`` to ``dwell_min[1]`` minutes, linear in
    the stop's risk relative to the largest (Koper 1995's 10-15 minute stops).

    Parameters
    ----------
    risk
        (k,) risk of each stop, >= 0.
    dwell_min
        (shortest, longest) dwell, minutes.

    Returns
    -------
    numpy.ndarray
        (k,) float64, seconds, rounded up to whole seconds.
    """
    r = np.asarray(risk, dtype=np.float64)
    lo, hi = float(dwell_min[0]), float(dwell_min[1])
    if r.size == 0:
        return np.zeros(0)
    top = float(r.max())
    share = r / top if top > 0 else np.zeros_like(r)
    return np.ceil((lo + (hi - lo) * share) * 60.0)


def solve_route(
    travel_s: ArrayLike,
    dwell_s: ArrayLike,
    risk: ArrayLike,
    horizon_s: float,
    *,
    rng: np.random.Generator,
    tie_tolerance: float = 0.1,
    order_jitter: float = 0.05,
    search: str = "greedy_descent",
    time_limit_s: float = 0.1,
) -> RoutePlan:
    """Choose and order the stops of one patrol route (OR-Tools routing, module notes).

    Parameters
    ----------
    travel_s
        (k + 1, k + 1) travel times in seconds; index 0 is the depot (the unit's anchor),
        ``1..k`` the stops; ``inf`` where unreachable.
    dwell_s
        (k,) dwell at each stop, seconds.
    risk
        (k,) risk of each stop (expected incidents), >= 0; higher is visited first.
    horizon_s
        Block length, seconds: the route must be back at the depot by then.
    rng
        Seeded generator of the perturbations (module notes).
    tie_tolerance
        Relative penalty perturbation, in [0, 1).
    order_jitter
        Relative arc-cost perturbation, in [0, 1).
    search
        ``"greedy_descent"`` (deterministic, default) or ``"guided_local_search"`` (runs for
        ``time_limit_s``; not reproducible across machines).
    time_limit_s
        Time limit of one search, seconds (a safety limit for the greedy descent).

    Returns
    -------
    RoutePlan

    Raises
    ------
    ValidationError
        For shapes that do not match, negative or NaN times, negative risks, a non-positive
        horizon, perturbations outside [0, 1) or an unknown ``search``.
    SolverError
        If OR-Tools returns no solution (the empty route is always feasible, so this signals
        a solver failure).
    """
    t = np.asarray(travel_s, dtype=np.float64)
    d = np.asarray(dwell_s, dtype=np.float64)
    r = np.asarray(risk, dtype=np.float64)
    k = d.size
    if t.shape != (k + 1, k + 1) or r.shape != (k,):
        raise ValidationError(
            f"travel_s must be ({k + 1}, {k + 1}) for {k} dwell times and risk of shape "
            f"({k},); got {t.shape} and {r.shape}"
        )
    if np.isnan(t).any() or (t < 0).any() or np.isnan(d).any() or (d < 0).any():
        raise ValidationError("travel_s and dwell_s must be >= 0 seconds (inf = unreachable)")
    if np.isnan(r).any() or (r < 0).any():
        raise ValidationError("risk must be finite and >= 0")
    if not (horizon_s > 0 and math.isfinite(horizon_s)):
        raise ValidationError(f"horizon_s must be a positive number of seconds, got {horizon_s}")
    for name, val in (("tie_tolerance", tie_tolerance), ("order_jitter", order_jitter)):
        if not 0 <= val < 1:
            raise ValidationError(f"{name} must be in [0, 1), got {val}")
    if search not in _SEARCHES:
        raise ValidationError(f"search must be one of {sorted(_SEARCHES)}, got {search!r}")
    horizon = math.floor(horizon_s)
    if k == 0:
        return RoutePlan(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 0.0, "empty")

    big = 4 * horizon + 1  # an unreachable arc can never fit the horizon
    ti = np.where(np.isfinite(t), np.ceil(t), big).astype(np.int64)
    ti = np.minimum(ti, big)
    di = np.ceil(d).astype(np.int64)
    service = np.concatenate([[0], di])
    transit = (ti + service[:, None]).tolist()
    u = rng.uniform(-1.0, 1.0, size=k)
    v = rng.random(size=(k + 1, k + 1))
    cost = np.rint(_COST_SCALE * ti * (1.0 + order_jitter * v)).astype(np.int64).tolist()
    r_pert = r * (1.0 + tie_tolerance * u)
    top = float(r_pert.max())
    base = 3 * _COST_SCALE * big
    prize = (base + np.rint(100 * base * (r_pert / top if top > 0 else 0.0))).astype(np.int64)

    manager = pywrapcp.RoutingIndexManager(k + 1, 1, 0)
    model = pywrapcp.RoutingModel(manager)
    time_cb = model.RegisterTransitMatrix(transit)
    cost_cb = model.RegisterTransitMatrix(cost)
    model.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    model.AddDimension(time_cb, 0, horizon, True, "time")
    time_dim = model.GetDimensionOrDie("time")
    for i in range(1, k + 1):
        model.AddDisjunction([manager.NodeToIndex(i)], int(prize[i - 1]))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = _SEARCHES[search]
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    solution = model.SolveWithParameters(params)
    if (
        solution is None
        and model.status() == routing_enums_pb2.RoutingSearchStatus.ROUTING_FAIL_TIMEOUT
    ):
        # a loaded machine can spend the whole limit before the first solution: the empty
        # route is always feasible, so give the first-solution search room once more
        params.time_limit.FromMilliseconds(max(1000, int(time_limit_s * 10_000)))
        solution = model.SolveWithParameters(params)
    if solution is None:
        raise SolverError(
            f"OR-Tools found no route for {k} stops within {horizon} s (status "
            f"{model.status()}); the empty route is always feasible, so this is a solver fault"
        )
    order: list[int] = []
    arrive: list[float] = []
    index = model.Start(0)
    while True:
        index = solution.Value(model.NextVar(index))
        if model.IsEnd(index):
            end_s = float(solution.Value(time_dim.CumulVar(index)))
            break
        node = manager.IndexToNode(index)
        order.append(node - 1)
        arrive.append(float(solution.Value(time_dim.CumulVar(index))))
    o = np.asarray(order, dtype=np.int64)
    a = np.asarray(arrive, dtype=np.float64)
    return RoutePlan(o, a, a + di[o].astype(np.float64), end_s, "ok")


def path_between(predecessors: NDArray[np.int32], source: int, target: int) -> list[int]:
    """Node path from ``source`` to ``target`` given the predecessor row of ``source``.

    Parameters
    ----------
    predecessors
        (n,) predecessor array of a shortest-path tree rooted at ``source``, as returned by
        :func:`scipy.sparse.csgraph.dijkstra` with ``return_predecessors=True`` (-9999 = none).
    source, target
        Node indices.

    Returns
    -------
    list of int
        ``[source, ..., target]``; ``[source]`` when they are equal.

    Raises
    ------
    ValidationError
        If ``target`` is not reachable from ``source`` in the tree.
    """
    if source == target:
        return [int(source)]
    out = [int(target)]
    node = int(target)
    n = predecessors.shape[0]
    for _ in range(n):
        node = int(predecessors[node])
        if node < 0:
            raise ValidationError(f"node {target} is not reachable from node {source}")
        out.append(node)
        if node == source:
            return out[::-1]
    raise ValidationError(f"the predecessor row of node {source} has a cycle")


@dataclass(frozen=True)
class Route:
    """One mobile unit's route in one block.

    Attributes
    ----------
    unit
        Vehicle call sign.
    block
        Block index.
    block_label
        ``"Mon 06:00-08:00"``.
    block_start_min
        Block start, minute of the week.
    horizon_s
        Block length, seconds.
    crew
        Officers in the vehicle.
    depot_node
        Network node of the unit's patrol-line position (start and end).
    stop_nodes
        (v,) int64 network nodes of the stops, in visiting order.
    stop_names
        Street labels of the stops.
    stop_risk
        (v,) expected incidents at each stop in the block.
    arrive_s, depart_s
        (v,) seconds from the block start.
    end_s
        Return to the depot, seconds from the block start (``<= horizon_s``).
    path_nodes
        (p,) int64 nodes along the roads, depot -> stops -> depot.
    travel_s
        Driving time along ``path_nodes`` by the network's (unrounded) times, seconds.
    offered_risk
        Total risk of the hotspots offered to this unit (visited or not).
    """

    unit: str
    block: int
    block_label: str
    block_start_min: int
    horizon_s: float
    crew: tuple[str, ...]
    depot_node: int
    stop_nodes: IntArray
    stop_names: tuple[str, ...]
    stop_risk: FloatArray
    arrive_s: FloatArray
    depart_s: FloatArray
    end_s: float
    path_nodes: IntArray
    travel_s: float
    offered_risk: float

    @property
    def dwell_s(self) -> FloatArray:
        """(v,) dwell at each stop, seconds."""
        return self.depart_s - self.arrive_s

    @property
    def visited_risk(self) -> float:
        """Risk at the stops visited."""
        return float(self.stop_risk.sum())

    @property
    def key(self) -> str:
        """File name stem, ``"<unit>_<Mon-0600>"``."""
        day_time = format_minute_of_week(self.block_start_min).replace(" ", "-").replace(":", "")
        return f"{_safe(self.unit)}_{day_time}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def _clock_at(block_start_min: int, seconds: float) -> str:
    """Clock time of ``seconds`` after the block start, to the nearest minute."""
    return format_minute_of_week(block_start_min + round(seconds / 60.0))


def route_geojson(
    route: Route,
    node_lon: FloatArray,
    node_lat: FloatArray,
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A route as a GeoJSON FeatureCollection (RFC 7946, WGS-84 lon/lat).

    One LineString along the roads (``path_nodes``; straight between consecutive network
    nodes) and one Point per stop with its arrival, departure and dwell.

    Parameters
    ----------
    route
        The route.
    node_lon, node_lat
        (n,) WGS-84 degrees of every network node.
    properties
        Extra properties of the line.
    """
    line = [[round(float(node_lon[i]), 7), round(float(node_lat[i]), 7)] for i in route.path_nodes]
    if len(line) == 1:
        line = line * 2  # a LineString needs two positions
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {
                "unit": route.unit,
                "block": route.block_label,
                "crew": ", ".join(route.crew),
                "stops": len(route.stop_nodes),
                "start": _clock_at(route.block_start_min, 0),
                "back_at_base": _clock_at(route.block_start_min, route.end_s),
                "duration_min": round(route.end_s / 60.0, 1),
                "block_min": round(route.horizon_s / 60.0, 1),
                "driving_min": round(route.travel_s / 60.0, 1),
                "risk_visited": round(route.visited_risk, 4),
                **dict(properties or {}),
            },
        }
    ]
    for k, node in enumerate(route.stop_nodes.tolist()):
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(float(node_lon[node]), 7),
                        round(float(node_lat[node]), 7),
                    ],
                },
                "properties": {
                    "unit": route.unit,
                    "block": route.block_label,
                    "stop": k + 1,
                    "name": route.stop_names[k],
                    "arrive": _clock_at(route.block_start_min, route.arrive_s[k]),
                    "depart": _clock_at(route.block_start_min, route.depart_s[k]),
                    "dwell_min": round(float(route.dwell_s[k]) / 60.0, 1),
                    "risk": round(float(route.stop_risk[k]), 4),
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def route_gpx(route: Route, node_lon: FloatArray, node_lat: FloatArray) -> str:
    """A route as GPX 1.1 (https://www.topografix.com/GPX/1/1/): one waypoint per stop, a
    ``rte`` through the base and the stops, and a ``trk`` along the roads.

    The plan is a weekly pattern without dates, so GPX ``time`` elements are left out; the
    clock times are in each waypoint's ``desc``. The metadata carries the OpenStreetMap
    attribution (ODbL) of the road geometry.
    """
    ns = "http://www.topografix.com/GPX/1/1"
    ET.register_namespace("", ns)
    gpx = ET.Element(f"{{{ns}}}gpx", {"version": "1.1", "creator": "xunfang"})
    meta = ET.SubElement(gpx, f"{{{ns}}}metadata")
    ET.SubElement(meta, f"{{{ns}}}name").text = f"{route.unit} {route.block_label}"
    ET.SubElement(meta, f"{{{ns}}}desc").text = (
        f"Patrol route of {route.unit} ({', '.join(route.crew)}), {route.block_label}: "
        f"{len(route.stop_nodes)} stops, back at base "
        f"{_clock_at(route.block_start_min, route.end_s)}"
    )
    cr = ET.SubElement(meta, f"{{{ns}}}copyright", {"author": "OpenStreetMap contributors"})
    ET.SubElement(cr, f"{{{ns}}}license").text = OSM_LICENSE_URL

    def pt(tag: str, parent: ET.Element, node: int) -> ET.Element:
        return ET.SubElement(
            parent,
            f"{{{ns}}}{tag}",
            {"lat": f"{float(node_lat[node]):.7f}", "lon": f"{float(node_lon[node]):.7f}"},
        )

    for k, node in enumerate(route.stop_nodes.tolist()):
        w = pt("wpt", gpx, node)
        ET.SubElement(w, f"{{{ns}}}name").text = f"{k + 1}. {route.stop_names[k]}"
        ET.SubElement(w, f"{{{ns}}}desc").text = (
            f"arrive {_clock_at(route.block_start_min, route.arrive_s[k])}, stay "
            f"{float(route.dwell_s[k]) / 60:.0f} min"
        )
    rte = ET.SubElement(gpx, f"{{{ns}}}rte")
    ET.SubElement(rte, f"{{{ns}}}name").text = f"{route.unit} {route.block_label}"
    for node in [route.depot_node, *route.stop_nodes.tolist(), route.depot_node]:
        pt("rtept", rte, int(node))
    trk = ET.SubElement(gpx, f"{{{ns}}}trk")
    ET.SubElement(trk, f"{{{ns}}}name").text = f"{route.unit} {route.block_label} (roads)"
    seg = ET.SubElement(trk, f"{{{ns}}}trkseg")
    for node in route.path_nodes.tolist():
        pt("trkpt", seg, int(node))
    ET.indent(gpx)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(gpx, encoding="unicode") + "\n"


def route_in_block(
    unit: str,
    block: TimeBlock,
    crew: tuple[str, ...],
    depot: int,
    stops: ArrayLike,
    stop_risk: ArrayLike,
    travel_s: ArrayLike,
    leg: Callable[[int, int], tuple[float, list[int]]],
    stop_names: Mapping[int, str],
    *,
    horizon_s: float,
    dwell_min: tuple[float, float],
    rng: np.random.Generator,
    tie_tolerance: float,
    order_jitter: float,
    search: str,
    time_limit_s: float,
) -> Route:
    """One unit's route in one block: :func:`solve_route` over the offered stops, then the
    road path from the depot through the visited stops and back.

    Parameters
    ----------
    unit, block, crew
        Who and when.
    depot
        Network node where the route starts and ends.
    stops, stop_risk
        (k,) offered hotspot nodes and their risk.
    travel_s
        (k + 1, k + 1) travel times over ``[depot, *stops]``, seconds.
    leg
        ``leg(a, b)`` -> (seconds, node path ``[a, ..., b]``) of one leg on the roads.
    stop_names
        Street label of each stop node.
    horizon_s, dwell_min, rng, tie_tolerance, order_jitter, search, time_limit_s
        As :func:`solve_route` (``dwell_min`` through :func:`dwell_times_s`).

    Raises
    ------
    ValidationError, SolverError
        As :func:`solve_route`.
    """
    nodes = np.asarray(stops, dtype=np.int64)
    risk = np.asarray(stop_risk, dtype=np.float64)
    plan = solve_route(
        np.asarray(travel_s, dtype=np.float64),
        dwell_times_s(risk, dwell_min),
        risk,
        horizon_s,
        rng=rng,
        tie_tolerance=tie_tolerance,
        order_jitter=order_jitter,
        search=search,
        time_limit_s=time_limit_s,
    )
    visit = nodes[plan.order].astype(np.int64)
    path: list[int] = [int(depot)]
    travel = 0.0
    for a_node, b_node in itertools.pairwise([int(depot), *visit.tolist(), int(depot)]):
        t, nodes_ab = leg(a_node, b_node)
        path.extend(nodes_ab[1:])
        travel += t
    return Route(
        unit=unit,
        block=block.index,
        block_label=block.label,
        block_start_min=block.start_min,
        horizon_s=horizon_s,
        crew=crew,
        depot_node=int(depot),
        stop_nodes=visit,
        stop_names=tuple(stop_names.get(int(x), str(x)) for x in visit),
        stop_risk=risk[plan.order],
        arrive_s=plan.arrive_s,
        depart_s=plan.depart_s,
        end_s=plan.end_s,
        path_nodes=np.asarray(path, dtype=np.int64),
        travel_s=travel,
        offered_risk=float(risk.sum()),
    )
