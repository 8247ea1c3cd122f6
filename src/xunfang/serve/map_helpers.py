"""Helpers that make the plan maps readable on their own: a figure sized to the area's shape,
the area boundary, names of the main streets, and point labels that do not pile up."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely

# 28+ visually distinct colours (Glasbey-like, from plotly's qualitative sets)
SECTOR_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
    "#6baed6",
    "#fd8d3c",
    "#74c476",
    "#9e9ac8",
    "#969696",
    "#9c9ede",
    "#cedb9c",
    "#e7cb94",
    "#e7969c",
    "#de9ed6",
)
"""Sector colours (the plan's sector map, the deployment map and the console)."""

MAIN_ROADS = ("motorway", "trunk", "primary", "secondary")
"""OSM highway classes whose names the maps print."""


def figure_height(bounds: tuple[float, float, float, float], width_px: int = 1100) -> int:
    """Height in pixels for a lon/lat map of ``bounds`` drawn ``width_px`` wide at true scale,
    between 480 and 1500."""
    lon0, lat0, lon1, lat1 = bounds
    mid = math.radians((lat0 + lat1) / 2)
    aspect = (lat1 - lat0) / max((lon1 - lon0) * math.cos(mid), 1e-12)
    return int(min(max(width_px * aspect * 0.75, 480), 1500))


def boundary_trace(polygon_wgs84: Any, name: str) -> go.Scatter:
    """The area's outline (WGS-84) as a dark line."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for part in shapely.get_parts(polygon_wgs84):
        rings = [part.exterior] if hasattr(part, "exterior") else []
        for ring in rings:
            x, y = ring.coords.xy
            xs += [*map(float, x), None]
            ys += [*map(float, y), None]
    return go.Scatter(
        x=xs, y=ys, mode="lines", line={"color": "#222", "width": 2}, name=name, hoverinfo="skip"
    )


def street_labels(
    edges: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    max_labels: int = 24,
    min_gap_deg: float = 0.004,
) -> list[dict[str, Any]]:
    """Plotly annotations naming the main streets (:data:`MAIN_ROADS`), longest first, one
    label per street at the middle of its longest run, none closer than ``min_gap_deg`` to
    another.

    Parameters
    ----------
    edges
        ``u_index``, ``v_index``, ``length_m``, ``highway``, ``name``.
    lon, lat
        Node coordinates, WGS-84.
    """
    if "name" not in edges or "highway" not in edges:
        return []
    main = edges[edges["highway"].isin(MAIN_ROADS) & edges["name"].notna()]
    if main.empty:
        return []
    total = main.groupby("name")["length_m"].sum().sort_values(ascending=False)
    placed: list[tuple[float, float]] = []
    out: list[dict[str, Any]] = []
    for name in total.index:
        part = main[main["name"] == name]
        u = part["u_index"].to_numpy()
        v = part["v_index"].to_numpy()
        mx = (lon[u] + lon[v]) / 2
        my = (lat[u] + lat[v]) / 2
        cx, cy = float(np.median(mx)), float(np.median(my))
        i = int(np.argmin((mx - cx) ** 2 + (my - cy) ** 2))
        x, y = float(mx[i]), float(my[i])
        if any(math.hypot(x - a, y - b) < min_gap_deg for a, b in placed):
            continue
        dx = float(lon[v[i]] - lon[u[i]])
        dy = float(lat[v[i]] - lat[u[i]]) / max(math.cos(math.radians(y)), 1e-6) * 1.0
        angle = -math.degrees(math.atan2(dy, dx)) if dx or dy else 0.0
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        placed.append((x, y))
        out.append(
            {
                "x": x,
                "y": y,
                "text": str(name),
                "showarrow": False,
                "textangle": angle,
                "font": {"size": 9, "color": "#555"},
                "bgcolor": "rgba(255,255,255,0.6)",
            }
        )
        if len(out) >= max_labels:
            break
    return out


_POSITIONS = (
    ("top center", 0.0, 1.0),
    ("bottom center", 0.0, -1.0),
    ("middle right", 1.0, 0.0),
    ("middle left", -1.0, 0.0),
    ("top right", 0.8, 0.8),
    ("bottom left", -0.8, -0.8),
    ("top left", -0.8, 0.8),
    ("bottom right", 0.8, -0.8),
)


def label_positions(x: np.ndarray, y: np.ndarray, gap: float) -> list[str]:
    """A plotly ``textposition`` per point so that labels keep apart: each label takes the
    first of eight places around its point whose anchor is at least ``gap`` (in the units of
    ``x``/``y``) from every label already placed (greedy, points in order)."""
    anchors: list[tuple[float, float]] = []
    out: list[str] = []
    for xi, yi in zip(np.asarray(x, float), np.asarray(y, float), strict=True):
        choice = _POSITIONS[0]
        best_d = -1.0
        for pos in _POSITIONS:
            ax, ay = xi + pos[1] * gap * 0.6, yi + pos[2] * gap * 0.6
            d = min((math.hypot(ax - a, ay - b) for a, b in anchors), default=math.inf)
            if d >= gap:
                choice, best_d = pos, d
                break
            if d > best_d:
                choice, best_d = pos, d
        anchors.append((xi + choice[1] * gap * 0.6, yi + choice[2] * gap * 0.6))
        out.append(choice[0])
    return out


def sector_trace(
    geometry: Any, colour: str, *, name: str, hover: str, opacity: float = 0.55
) -> go.Scatter:
    """One sector polygon (WGS-84; holes not drawn) filled in ``colour``, named ``name``."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for g in shapely.get_parts(geometry):
        if g.is_empty or not hasattr(g, "exterior"):
            continue
        x, y = g.exterior.coords.xy
        xs += [*map(float, x), None]
        ys += [*map(float, y), None]
    return go.Scatter(
        x=xs,
        y=ys,
        fill="toself",
        mode="lines",
        line={"color": "white", "width": 1},
        fillcolor=colour,
        opacity=opacity,
        name=name,
        hovertemplate=hover + "<extra></extra>",
    )
