"""Conversions between the WGS-84, GCJ-02 and BD-09 geographic frames used by Chinese map data.

Chinese web maps do not publish WGS-84 coordinates. Data taken from AMap (高德), Tencent, Apple
Maps in China or Google Maps (.cn) is in **GCJ-02** (国测局坐标, "Mars coordinates"); data from
Baidu is in **BD-09** (百度坐标), a second offset applied on top of GCJ-02. Everything inside
xunfang is WGS-84 at the edges (then one projected CRS in metres), so ingest converts with
:func:`to_wgs84`.

Sources
-------
* GCJ-02 is an obfuscation mandated by China's surveying authority; its algorithm is **not
  officially published**. The formulas here are the widely used public reconstruction, on the
  Krasovsky 1940 ellipsoid (a = 6378245.0 m, e² = 0.00669342162296594323), as implemented by
  "eviltransform" (github.com/googollee/eviltransform) and "coordtransform"
  (github.com/wandergis/coordtransform, Python port wandergis/coordTransform_py). The tests
  compare with the reference points published in those projects (the coordtransform README and
  the eviltransform test tables).
* BD-09: the conversion GCJ-02 → BD-09 (``x_pi = pi * 3000 / 180``, offsets 0.0065° / 0.006°)
  is the one circulated as Baidu's "bd_encrypt"/"bd_decrypt"; Baidu itself publishes the
  conversion only as a web service (its ``geoconv`` API), not as a formula. The published
  BD-09 → GCJ-02 formula is an approximate inverse: its round trip error is up to about 0.2 m
  over China. ``bd09_to_gcj02(..., exact=True)`` refines it by fixed-point iteration.
* :func:`outside_china` tests a simplified outline of mainland China shipped as
  ``xunfang/data/china_gcj02_outline.geojson``: Natural Earth 1:110m Admin 0 countries
  (public domain, naturalearthdata.com; the copy bundled with pyogrio's test fixtures as
  ``naturalearth_lowres``), China widened by 0.8° (about 80 km) into the sea so that coastal
  cities and islands stay inside, minus every other country of that layer, minus
  hand-drawn outlines of Hong Kong, Macau, Kinmen and Matsu. ``tools/make_china_outline.py``
  rebuilds it. Its land borders are as coarse as the 1:110m layer (about 10 km): a point
  within that distance of a land border may be judged wrongly (Sinuiju, across the Yalu
  from Dandong, counts as inside). The rectangle used by eviltransform and
  coordTransform_py (72.004–137.8347° E, 0.8293–55.8271° N) shifted Seoul, Ulaanbaatar,
  Thimphu, Hanoi and Taipei; the outline does not.
* **Hong Kong, Macau and Taiwan are not shifted** (nor Kinmen and Matsu). This is the
  common practice: the GCJ-02 obfuscation is a mainland surveying rule, and AMap, Tencent
  and Baidu serve those places' map data without the mainland offset; ``wgs84_to_gcj02``
  and ``gcj02_to_wgs84`` return their points unchanged, as they do for any point abroad.

Conventions
-----------
* Arguments are longitude then latitude, in degrees, as scalars or arrays of one shape (no
  broadcasting). Results are float64 arrays of that shape (0-d for scalars).
* Missing values propagate: a point with NaN (or ±inf) in either coordinate gives NaN in both
  result coordinates, in every conversion; :func:`outside_china` reports it as outside
  (True), because it is not inside the outline.
* Points outside the outline are returned unchanged by the GCJ-02 conversions. The BD-09
  offset (GCJ-02 ↔ BD-09) is applied everywhere, as in coordtransform (eviltransform instead
  leaves points outside the rectangle unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import Literal, get_args

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from xunfang.errors import SolverError, ValidationError

__all__ = [
    "A_KRASOVSKY_M",
    "BD09_X_PI",
    "CHINA_BBOX_DEG",
    "EE_KRASOVSKY",
    "FRAMES",
    "Frame",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "china_outline",
    "frame_column_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "outside_china",
    "to_output_frame",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = NDArray[np.float64]
_Forward = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
Frame = Literal["wgs84", "gcj02", "bd09"]
FRAMES: tuple[str, ...] = get_args(Frame)

#: Semi-major axis of the Krasovsky 1940 ellipsoid, metres (used by GCJ-02).
A_KRASOVSKY_M = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid.
EE_KRASOVSKY = 0.00669342162296594323
#: The angular constant of the BD-09 offset, radians per degree times 3000.
BD09_X_PI = np.pi * 3000.0 / 180.0
#: (min_lon, min_lat, max_lon, max_lat) of the rough rectangle of eviltransform, degrees:
#: a quick pre-test; the outline (:func:`china_outline`) decides.
CHINA_BBOX_DEG = (72.004, 0.8293, 137.8347, 55.8271)
_OUTLINE_FILE = "china_gcj02_outline.geojson"

_BD09_DLON_DEG = 0.0065
_BD09_DLAT_DEG = 0.006


def _as_float(value: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric degrees (int or float), got dtype {arr.dtype}; "
            "use NaN, not None, for a missing coordinate"
        )
    return arr.astype(np.float64, copy=False)


def _as_pair(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_arr = _as_float(lon, "lon")
    lat_arr = _as_float(lat, "lat")
    if lon_arr.shape != lat_arr.shape:
        raise ValidationError(
            f"lon and lat must have the same shape: lon has shape {lon_arr.shape}, "
            f"lat has shape {lat_arr.shape}; pass one longitude per latitude"
        )
    return lon_arr, lat_arr


def _finite(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return np.asarray(np.isfinite(lon) & np.isfinite(lat))


def _nan_like(arr: FloatArray) -> FloatArray:
    return np.full(arr.shape, np.nan, dtype=np.float64)


def _check_iteration(tol_deg: float, max_iter: int) -> None:
    if not (np.isfinite(tol_deg) and tol_deg > 0):
        raise ValidationError(f"tol_deg must be a positive number of degrees, got {tol_deg!r}")
    if max_iter < 1:
        raise ValidationError(f"max_iter must be at least 1, got {max_iter!r}")


@cache
def china_outline() -> BaseGeometry:
    """The outline where the GCJ-02 offset applies (WGS-84 degrees, a prepared MultiPolygon).

    Mainland China with Hainan and a coastal margin; Hong Kong, Macau, Taiwan, Kinmen and
    Matsu excluded. Source and licence: see the module docstring.
    """
    ref = resources.files("xunfang.data").joinpath(_OUTLINE_FILE)
    doc = json.loads(ref.read_text("utf-8"))
    geom = shape(doc["features"][0]["geometry"])
    shapely.prepare(geom)
    return geom


def outside_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points lie outside the outline where the GCJ-02 offset is applied.

    The outline is mainland China (with Hainan and about 80 km of coastal sea); Hong Kong,
    Macau, Taiwan, Kinmen and Matsu are outside, as are Seoul, Thimphu and Ulaanbaatar that
    the common rectangle test (72.004–137.8347° E, 0.8293–55.8271° N) took to be inside.
    Source, licence and accuracy (about 10 km along land borders): the module docstring.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, scalars or arrays of one shape.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the input; True outside the outline. Non-finite coordinates give
        True (they are not inside).

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape.
    TypeError
        If either is not numeric.
    """
    lon_arr, lat_arr = _as_pair(lon, lat)
    return _outside(lon_arr, lat_arr)


def _outside(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX_DEG
    inside = (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    if inside.any():
        flat = np.flatnonzero(inside.ravel())
        hit = shapely.contains_xy(china_outline(), lon.ravel()[flat], lat.ravel()[flat])
        keep = inside.ravel().copy()
        keep[flat] = hit
        inside = keep.reshape(lon.shape)
    return np.asarray(~inside)


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS-84 points, with no bounding-box test."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * np.pi
    y_pi = y * np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x_pi) + 20.0 * np.sin(2.0 * x_pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat = d_lat + common
    d_lat = d_lat + (20.0 * np.sin(y_pi) + 40.0 * np.sin(y_pi / 3.0)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon = d_lon + common
    d_lon = d_lon + (20.0 * np.sin(x_pi) + 40.0 * np.sin(x_pi / 3.0)) * 2.0 / 3.0
    d_lon = d_lon + (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0
    # Scale the "metres" above to degrees on the Krasovsky ellipsoid (meridian and
    # prime-vertical radii of curvature).
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - EE_KRASOVSKY * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    meridian_radius_m = A_KRASOVSKY_M * (1.0 - EE_KRASOVSKY) / (magic * sqrt_magic)
    d_lat = (d_lat * 180.0) / (meridian_radius_m * np.pi)
    d_lon = (d_lon * 180.0) / (A_KRASOVSKY_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 → GCJ-02 (the public reconstruction of the Chinese obfuscation).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees, scalars or arrays of one shape.

    Returns
    -------
    (lon, lat)
        GCJ-02 degrees, float64 arrays of the input shape. Points outside the outline of
        :func:`outside_china` are returned unchanged; non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape.
    TypeError
        If either is not numeric.

    Notes
    -----
    Formula of eviltransform / coordtransform (see the module docstring); the shift is a few
    hundred metres. The README of wandergis/coordtransform gives
    ``wgs84togcj02(116.404, 39.915) = (116.41024449916938, 39.91640428150164)``.
    """
    lon_arr, lat_arr = _as_pair(lon, lat)
    good = _finite(lon_arr, lat_arr)
    out_lon = np.where(good, lon_arr, np.nan)
    out_lat = np.where(good, lat_arr, np.nan)
    inside = good & ~_outside(lon_arr, lat_arr)
    d_lon, d_lat = _gcj_delta(lon_arr[inside], lat_arr[inside])
    out_lon[inside] += d_lon
    out_lat[inside] += d_lat
    return out_lon, out_lat


def gcj02_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → WGS-84, the exact inverse of :func:`wgs84_to_gcj02` by fixed-point iteration.

    The usual one-step inverse (``wgs = gcj - delta(gcj)``, as in coordtransform's
    ``gcj02towgs84``) is off by up to about 5 m. Here the iteration
    ``w <- w - (wgs84_to_gcj02(w) - gcj)`` starts from that estimate and stops when every
    point's forward image is within ``tol_deg`` of the input. The offset changes slowly (each
    step shrinks the error about a hundredfold), so 3 steps reach 1e-10 degrees (about
    0.01 mm) everywhere in China; the round trip WGS-84 → GCJ-02 → WGS-84 is then exact to
    far below 1 cm. Cost: about 2 s per million points.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees, scalars or arrays of one shape.
    tol_deg
        Stopping tolerance on the forward residual, degrees (> 0).
    max_iter
        Maximum number of iterations (>= 1).

    Returns
    -------
    (lon, lat)
        WGS-84 degrees, float64 arrays of the input shape. Points outside the outline of
        :func:`outside_china` (tested on the GCJ-02 input) are returned unchanged; non-finite
        points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape, ``tol_deg`` is not positive or ``max_iter`` < 1.
    SolverError
        If the iteration has not reached ``tol_deg`` after ``max_iter`` steps (not seen for
        finite inputs with the defaults).
    TypeError
        If either coordinate is not numeric.
    """
    _check_iteration(tol_deg, max_iter)
    lon_arr, lat_arr = _as_pair(lon, lat)
    good = _finite(lon_arr, lat_arr)
    out_lon = np.where(good, lon_arr, np.nan)
    out_lat = np.where(good, lat_arr, np.nan)
    inside = good & ~_outside(lon_arr, lat_arr)
    g_lon = lon_arr[inside]
    g_lat = lat_arr[inside]
    d_lon, d_lat = _gcj_delta(g_lon, g_lat)
    w_lon = g_lon - d_lon
    w_lat = g_lat - d_lat
    w_lon, w_lat = _fixed_point(
        w_lon,
        w_lat,
        g_lon,
        g_lat,
        _wgs_to_gcj_unmasked,
        tol_deg=tol_deg,
        max_iter=max_iter,
        what="gcj02_to_wgs84",
    )
    out_lon[inside] = w_lon
    out_lat[inside] = w_lat
    return out_lon, out_lat


def _wgs_to_gcj_unmasked(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lon, d_lat = _gcj_delta(lon, lat)
    return lon + d_lon, lat + d_lat


def _fixed_point(
    x_lon: FloatArray,
    x_lat: FloatArray,
    target_lon: FloatArray,
    target_lat: FloatArray,
    forward: _Forward,
    *,
    tol_deg: float,
    max_iter: int,
    what: str,
) -> tuple[FloatArray, FloatArray]:
    """Solve forward(x) = target by x <- x - (forward(x) - target), vectorised over points."""
    for _ in range(max_iter):
        f_lon, f_lat = forward(x_lon, x_lat)
        r_lon = f_lon - target_lon
        r_lat = f_lat - target_lat
        x_lon = x_lon - r_lon
        x_lat = x_lat - r_lat
        if not (np.any(np.abs(r_lon) > tol_deg) or np.any(np.abs(r_lat) > tol_deg)):
            return x_lon, x_lat
    f_lon, f_lat = forward(x_lon, x_lat)
    worst = max(
        float(np.max(np.abs(f_lon - target_lon), initial=0.0)),
        float(np.max(np.abs(f_lat - target_lat), initial=0.0)),
    )
    if worst > tol_deg:
        raise SolverError(
            f"{what}: the inverse did not reach tol_deg={tol_deg:g} after max_iter={max_iter} "
            f"iterations (largest residual {worst:.3g} degrees); raise max_iter or tol_deg"
        )
    return x_lon, x_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → BD-09 (Baidu), the circulated "bd_encrypt" formula.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees, scalars or arrays of one shape.

    Returns
    -------
    (lon, lat)
        BD-09 degrees, float64 arrays of the input shape; applied everywhere (no rectangle
        test); non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape.
    TypeError
        If either is not numeric.

    Notes
    -----
    ``z = hypot(lon, lat) + 2e-5 sin(lat x_pi)``, ``theta = atan2(lat, lon) + 3e-6 cos(lon x_pi)``,
    ``bd = (z cos theta + 0.0065, z sin theta + 0.006)`` with ``x_pi = pi * 3000 / 180``.
    The coordtransform README gives ``gcj02tobd09(116.404, 39.915) =
    (116.41036949371029, 39.92133699351021)``.
    """
    lon_arr, lat_arr = _as_pair(lon, lat)
    good = _finite(lon_arr, lat_arr)
    out_lon = _nan_like(lon_arr)
    out_lat = _nan_like(lat_arr)
    out_lon[good], out_lat[good] = _gcj_to_bd(lon_arr[good], lat_arr[good])
    return out_lon, out_lat


def _gcj_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * BD09_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * BD09_X_PI)
    return (
        np.asarray(z * np.cos(theta) + _BD09_DLON_DEG),
        np.asarray(z * np.sin(theta) + _BD09_DLAT_DEG),
    )


def _bd_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - _BD09_DLON_DEG
    y = lat - _BD09_DLAT_DEG
    z = np.hypot(x, y) - 0.00002 * np.sin(y * BD09_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * BD09_X_PI)
    return np.asarray(z * np.cos(theta)), np.asarray(z * np.sin(theta))


def bd09_to_gcj02(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    exact: bool = False,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[FloatArray, FloatArray]:
    """BD-09 (Baidu) → GCJ-02.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees, scalars or arrays of one shape.
    exact
        False (default): the published "bd_decrypt" formula, an approximate inverse of
        :func:`gcj02_to_bd09` whose round trip error is up to about 0.2 m; it is what other
        tools (and the coordtransform README value ``bd09togcj02(116.404, 39.915) =
        (116.39762729119315, 39.90865673957631)``) produce. True: start from that estimate
        and refine by fixed-point iteration until :func:`gcj02_to_bd09` of the result is
        within ``tol_deg`` of the input.
    tol_deg, max_iter
        Stopping rule of the iteration when ``exact`` (degrees > 0, count >= 1).

    Returns
    -------
    (lon, lat)
        GCJ-02 degrees, float64 arrays of the input shape; non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape, or (``exact``) the iteration settings are
        invalid.
    SolverError
        If (``exact``) the iteration does not reach ``tol_deg`` within ``max_iter`` steps.
    TypeError
        If either coordinate is not numeric.
    """
    if exact:
        _check_iteration(tol_deg, max_iter)
    lon_arr, lat_arr = _as_pair(lon, lat)
    good = _finite(lon_arr, lat_arr)
    out_lon = _nan_like(lon_arr)
    out_lat = _nan_like(lat_arr)
    b_lon = lon_arr[good]
    b_lat = lat_arr[good]
    g_lon, g_lat = _bd_to_gcj(b_lon, b_lat)
    if exact:
        g_lon, g_lat = _fixed_point(
            g_lon,
            g_lat,
            b_lon,
            b_lat,
            _gcj_to_bd,
            tol_deg=tol_deg,
            max_iter=max_iter,
            what="bd09_to_gcj02",
        )
    out_lon[good] = g_lon
    out_lat[good] = g_lat
    return out_lon, out_lat


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 → BD-09: :func:`wgs84_to_gcj02` then :func:`gcj02_to_bd09`.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees, scalars or arrays of one shape.

    Returns
    -------
    (lon, lat)
        BD-09 degrees, float64 arrays of the input shape; non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape.
    TypeError
        If either is not numeric.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    exact: bool = False,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[FloatArray, FloatArray]:
    """BD-09 → WGS-84: :func:`bd09_to_gcj02` then the exact :func:`gcj02_to_wgs84`.

    With ``exact=False`` the error is that of the published BD-09 inverse (up to about
    0.2 m); with ``exact=True`` both steps are solved to ``tol_deg``.

    Parameters
    ----------
    lon, lat
        BD-09 degrees, scalars or arrays of one shape.
    exact, tol_deg, max_iter
        As in :func:`bd09_to_gcj02`; ``tol_deg`` and ``max_iter`` also drive the GCJ-02 step.

    Returns
    -------
    (lon, lat)
        WGS-84 degrees, float64 arrays of the input shape; non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``lon`` and ``lat`` differ in shape, or an iteration is misconfigured.
    SolverError
        If an iteration does not reach ``tol_deg`` within ``max_iter`` steps.
    TypeError
        If either coordinate is not numeric.
    """
    g_lon, g_lat = bd09_to_gcj02(lon, lat, exact=exact, tol_deg=tol_deg, max_iter=max_iter)
    return gcj02_to_wgs84(g_lon, g_lat, tol_deg=tol_deg, max_iter=max_iter)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, frame: str) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates given in ``frame`` to WGS-84 (the dispatcher used by ingest).

    Parameters
    ----------
    lon, lat
        Degrees in ``frame``, scalars or arrays of one shape.
    frame
        One of ``"wgs84"`` (returned as float64 copies, non-finite points as NaN),
        ``"gcj02"`` or ``"bd09"``; case-insensitive, and "-"/"_" are ignored (``"GCJ-02"``,
        ``"BD_09"``).

    Returns
    -------
    (lon, lat)
        WGS-84 degrees, float64 arrays of the input shape; non-finite points give NaN.

    Raises
    ------
    ValidationError
        If ``frame`` is not one of the valid names (the message lists them), or the shapes
        differ.
    TypeError
        If a coordinate is not numeric.
    """
    key = _frame_key(frame)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _wgs84_copy(lon, lat)


def to_output_frame(lon: ArrayLike, lat: ArrayLike, frame: str) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 coordinates to the frame an output is written in (for writers).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees, scalars or arrays of one shape.
    frame
        ``"wgs84"`` (copies, non-finite points as NaN), ``"gcj02"`` (AMap, Tencent) or
        ``"bd09"`` (Baidu); case-insensitive, "-"/"_" ignored. Points outside the outline
        of :func:`outside_china` keep their WGS-84 values in ``gcj02``; ``bd09`` adds its
        offset everywhere (see the module docstring).

    Returns
    -------
    (lon, lat)
        Degrees in ``frame``, float64 arrays of the input shape.

    Raises
    ------
    ValidationError
        If ``frame`` is not a known name, or the shapes differ.
    TypeError
        If a coordinate is not numeric.
    """
    key = _frame_key(frame)
    if key == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if key == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _wgs84_copy(lon, lat)


def frame_column_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, frames: Sequence[object] | None, default: str = "wgs84"
) -> tuple[FloatArray, FloatArray]:
    """Positions of one of our own output files back in WGS-84, row by row from its
    ``coord_frame`` column.

    ``xunfang plan``/``deploy`` write lon/lat in the ``--output-frame`` of the run (for a
    Chinese map platform) with a ``coord_frame`` column naming it; every reader converts
    them back here before using them.

    Parameters
    ----------
    lon, lat
        Degrees, 1-D, one per row (strings that parse as numbers are accepted).
    frames
        The ``coord_frame`` value of each row (``wgs84``, ``gcj02``, ``bd09``, any case,
        "-"/"_" ignored), or ``None`` when the file has no such column; a blank value
        means ``default``.
    default
        The frame of rows that state none (e.g. the ``output_frame`` of the run's
        ``plan_summary.json``).

    Returns
    -------
    (lon, lat)
        WGS-84 degrees, float64 arrays; unparsable or non-finite points give NaN.

    Raises
    ------
    ValidationError
        If a frame value or ``default`` is not a known frame.
    """
    lon_arr, lat_arr = _parse_degrees(lon), _parse_degrees(lat)
    fallback = _frame_key(default)
    if frames is None:
        keys = np.full(len(lon_arr), fallback, dtype=object)
    else:
        stated = [_frame_key(str(f).strip()) if _stated(f) else fallback for f in frames]
        keys = np.array(stated, dtype=object)
        if len(keys) != len(lon_arr):
            raise ValidationError(f"{len(keys)} frame values for {len(lon_arr)} positions")
    out_lon, out_lat = lon_arr.copy(), lat_arr.copy()
    for key in set(keys.tolist()):
        rows = keys == key
        out_lon[rows], out_lat[rows] = to_wgs84(lon_arr[rows], lat_arr[rows], key)
    return out_lon, out_lat


def _parse_degrees(values: ArrayLike) -> FloatArray:
    """1-D float64 of ``values``; an entry that does not parse as a number is NaN."""

    def one(v: object) -> float:
        try:
            return float(str(v).strip()) if isinstance(v, str) else float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return float("nan")

    return np.array([one(v) for v in np.asarray(values, dtype=object).ravel()], dtype=np.float64)


def _stated(value: object) -> bool:
    """Whether a frame cell holds a value (not blank, not NaN/None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(str(value).strip())


def _frame_key(frame: str) -> str:
    """``frame`` as one of :data:`FRAMES` (case-insensitive, "-"/"_" ignored)."""
    key = str(frame).lower().replace("-", "").replace("_", "")
    if key not in ("wgs84", "gcj02", "bd09"):
        raise ValidationError(
            f"frame {frame!r} is not a known coordinate frame; use one of {', '.join(FRAMES)}"
        )
    return key


def _wgs84_copy(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The points as float64 arrays, non-finite points as NaN."""
    lon_arr, lat_arr = _as_pair(lon, lat)
    good = _finite(lon_arr, lat_arr)
    return np.where(good, lon_arr, np.nan), np.where(good, lat_arr, np.nan)
