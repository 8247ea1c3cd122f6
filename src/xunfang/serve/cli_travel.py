"""``xunfang travel-time``: drive time and distance between two points on a road file.

Mounted by the main CLI (``app.add_typer(travel_app, name="travel-time")``)::

    xunfang travel-time --roads central_shanghai_drive.osm \\
        --from 121.4822,31.2328 --to 121.4824,31.2321 [--frame gcj02] [--json]

The road file is read by :func:`xunfang.ingest.roads.read_road_network` (every form it
reads); each point is snapped to the nearest node of the network's largest strongly
connected component and the fastest path is found both ways
(:meth:`xunfang.ingest.network.RoadNetwork.route`, Dijkstra 1959). With ``--json`` the
output is exactly one object::

    {"forward": {"travel_time_s": .., "distance_m": ..},
     "backward": {"travel_time_s": .., "distance_m": ..},
     "snap_m": [.., ..]}
"""

from __future__ import annotations

import glob
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import typer
from pyproj import CRS, Transformer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xunfang import strict_json
from xunfang.errors import ValidationError, XunfangError
from xunfang.serve._common import LangOpt, check_lang_option, fail

if TYPE_CHECKING:
    from xunfang.ingest.road_network import RoadNetwork

__all__ = ["app", "parse_lonlat", "travel_network", "travel_time_cmd"]

app = typer.Typer(
    help="Drive time and distance along a road network between two points, both ways.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)
console = Console()

FAR_SNAP_M = 300.0
"""Default of ``--max-snap-m``: a point snapped farther than this, metres, is refused."""


def parse_lonlat(text: str, option: str) -> tuple[float, float]:
    """``"LON,LAT"`` in degrees to a pair of floats.

    Raises
    ------
    ValidationError
        If the text is not two numbers, or they are not a longitude and a latitude (the
        message names the option and suggests swapping when that fits).
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise ValidationError(
            f"{option} must be LON,LAT in degrees (e.g. 121.4737,31.2304); got {text!r}"
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        hint = (
            " (it looks like LAT,LON: give the longitude first)"
            if abs(lon) <= 90 < abs(lat) <= 180
            else ""
        )
        raise ValidationError(f"{option} {text!r} is not a lon/lat position{hint}")
    return lon, lat


@app.callback(invoke_without_command=True)
def travel_time_cmd(
    roads: Annotated[
        Path,
        typer.Option(
            "--roads",
            help="Road file: OpenStreetMap .osm/.osm.pbf, osmnx .graphml(.gz), or road lines "
            "(.gpkg, .shp, .zip, .geojson).",
        ),
    ],
    from_: Annotated[str, typer.Option("--from", help="Start point LON,LAT.")],
    to: Annotated[str, typer.Option("--to", help="End point LON,LAT.")],
    frame: Annotated[
        str, typer.Option(help="Frame of --from/--to: wgs84, gcj02 or bd09.")
    ] = "wgs84",
    roads_frame: Annotated[
        str,
        typer.Option(help="Frame of a road-line file in lon/lat (OSM files are WGS-84)."),
    ] = "wgs84",
    country: Annotated[
        str,
        typer.Option(
            help="Road-class speed table: auto (CN when both points are in mainland China, "
            "else the default), CN, US or default."
        ),
    ] = "auto",
    crs: Annotated[
        str | None,
        typer.Option(help="Projected CRS in metres (default: the UTM zone of --from)."),
    ] = None,
    max_snap_m: Annotated[
        float,
        typer.Option(
            "--max-snap-m",
            help="Refuse a point farther than this from the road network, metres.",
        ),
    ] = FAR_SNAP_M,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    lang: LangOpt = "en",
) -> None:
    """Print the drive time and distance from --from to --to and back, and the snap
    distances."""
    check_lang_option(lang)
    zh = lang == "zh"
    from xunfang.ingest.coords import outside_china, to_wgs84
    from xunfang.units import utm_crs_for

    try:
        points = [parse_lonlat(from_, "--from"), parse_lonlat(to, "--to")]
        lon, lat = to_wgs84(
            np.array([p[0] for p in points]), np.array([p[1] for p in points]), frame
        )
        target_crs = crs or utm_crs_for(float(lon[0]), float(lat[0]))
        key = country.strip().lower()
        if key == "auto":
            table_country = None if outside_china(lon, lat).any() else "CN"
        elif key == "default":
            table_country = None
        else:
            table_country = country
        net = travel_network(roads, target_crs, table_country, roads_frame)
        x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
        nodes, snap_m = net.snap(np.column_stack([x, y]))
        for opt, given, dist in zip(("--from", "--to"), (from_, to), snap_m.tolist(), strict=True):
            if not dist <= max_snap_m:
                raise ValidationError(
                    f"{opt} {given!r} is {dist:,.0f} m from the nearest road node of "
                    f"{roads.name} (more than --max-snap-m {max_snap_m:g} m): a point outside "
                    "the road file, or check --frame (a GCJ-02 point read as WGS-84 is off by "
                    "about 500 m in China)"
                )
        fwd_s, fwd_m, _ = net.route(int(nodes[0]), int(nodes[1]))
        back_s, back_m, _ = net.route(int(nodes[1]), int(nodes[0]))
    except XunfangError as exc:
        raise fail(exc, lang) from exc
    result = {
        "forward": {"travel_time_s": _num(fwd_s), "distance_m": _num(fwd_m)},
        "backward": {"travel_time_s": _num(back_s), "distance_m": _num(back_m)},
        "snap_m": [_num(float(s)) for s in snap_m],
    }
    if as_json:
        typer.echo(strict_json.dumps(result, ensure_ascii=False))
        return
    table = Table(
        title=f"沿 {escape(roads.name)} 驾车" if zh else f"Drive along {escape(roads.name)}"
    )
    table.add_column("方向" if zh else "direction")
    table.add_column("行驶时间" if zh else "travel time", justify="right")
    table.add_column("距离" if zh else "distance", justify="right")
    labels = ("起点 -> 终点", "终点 -> 起点") if zh else ("from -> to", "to -> from")
    for label, (t_s, d_m) in zip(labels, ((fwd_s, fwd_m), (back_s, back_m)), strict=True):
        dist = (f"{d_m:,.0f} 米" if zh else f"{d_m:,.0f} m") if math.isfinite(d_m) else "-"
        table.add_row(label, _clock(t_s, lang), dist)
    console.print(table)
    if zh:
        console.print(
            f"--from 吸附 {snap_m[0]:.1f} 米、--to 吸附 {snap_m[1]:.1f} 米到最近的道路节点；"
            f"路网共 {net.n_nodes:,} 个节点，"
            + ("已遵守单行道。" if net.report.one_way_known else "所有道路按双向计。")
        )
    else:
        console.print(
            f"Snapped --from {snap_m[0]:.1f} m and --to {snap_m[1]:.1f} m to the nearest road "
            f"node; network of {net.n_nodes:,} nodes, "
            + (
                "one-way streets respected."
                if net.report.one_way_known
                else "every street two-way."
            )
        )
    far = [
        (
            f"{opt} 距最近的道路节点 {dist:,.0f} 米"
            if zh
            else f"{opt} is {dist:,.0f} m from the nearest road node"
        )
        for opt, dist in zip(("--from", "--to"), snap_m.tolist(), strict=True)
        if dist > FAR_SNAP_M
    ]
    if far and zh:
        console.print(
            f"[yellow]警告：[/]{'；'.join(far)}：请检查该点和 --frame"
            "（GCJ-02 坐标按 WGS-84 读取，在中国约偏 500 米）。",
            soft_wrap=True,
        )
    elif far:  # allowed by a --max-snap-m above the default
        console.print(
            f"[yellow]warning:[/] {'; '.join(far)}: check the point and --frame "
            "(a GCJ-02 point read as WGS-84 is off by about 500 m in China).",
            soft_wrap=True,
        )
    for note in net.report.notes[:3]:
        console.print(f"  {escape(note)}", soft_wrap=True)


def travel_network(
    roads: Path,
    crs: str | CRS,
    country: str | None,
    roads_frame: str = "wgs84",
    *,
    cache_dir: Path | Literal["settings"] | None = "settings",
) -> RoadNetwork:
    """The network of one road file as :func:`xunfang.ingest.roads.read_road_network`
    reads it, through the road network disk cache of plan, deploy, simulate and serve
    (:func:`xunfang.ingest.network_cache.cached_network`: keyed by the file's path, size
    and modification time, ``crs``, ``country`` and ``roads_frame``; a stale entry is
    rebuilt, a corrupt one rebuilt with a :class:`~xunfang.errors.CacheWarning`).

    Parameters
    ----------
    roads
        The road file (any form :func:`~xunfang.ingest.roads.read_road_network` reads).
    crs
        Projected CRS of the network, metres.
    country
        Road-class speed table (``CN``, ``US``; ``None`` for the default table).
    roads_frame
        Frame of a road-line file in lon/lat.
    cache_dir
        ``"settings"``: ``Settings.cache_dir`` (``XUNFANG_CACHE_DIR``); ``None``: no cache.

    Raises
    ------
    DataFileError, ValidationError, NetworkError
        From reading the road file.
    """
    from xunfang.config import get_settings
    from xunfang.ingest.network_cache import cached_network
    from xunfang.ingest.roads import read_road_network

    target = CRS.from_user_input(crs)

    def build() -> RoadNetwork:
        return read_road_network(roads, target, country=country, frame=roads_frame)

    if not roads.exists():
        return build()  # its error names the missing file
    if roads.is_dir():  # a folder holding one Shapefile: every file in it
        files = sorted(p for p in roads.iterdir() if p.is_file())
    elif roads.suffix.lower() == ".shp":  # with its .dbf, .shx, .prj, ...
        files = sorted(p for p in roads.parent.glob(f"{glob.escape(roads.stem)}.*"))
    else:
        files = [roads]
    key = {
        "reader": "read_road_network",
        "crs": target.to_wkt(),
        "country": country,
        "frame": roads_frame,
    }
    net, _ = cached_network(
        get_settings().cache_dir if cache_dir == "settings" else cache_dir,
        f"roads:{roads.name}",
        key,
        files,
        build,
    )
    return net


def _num(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _clock(seconds: float, lang: str = "en") -> str:
    if not math.isfinite(seconds):
        return "不可达" if lang == "zh" else "unreachable"
    minutes, secs = divmod(seconds, 60.0)
    if lang == "zh":
        return f"{seconds:,.1f} 秒（{int(minutes)} 分 {secs:04.1f} 秒）"
    return f"{seconds:,.1f} s ({int(minutes)} min {secs:04.1f} s)"
