"""Tests of xunfang.ingest.coords against published reference points.

Reference points (checked in the stored public sources):

* wandergis/coordtransform, README.md ("result" block of the Node.js example), input
  (116.404, 39.915) for every function.
* googollee/eviltransform, python/test.py and go/transform_test.go, table ``TESTS``
  (wgsLat, wgsLng, gcjLat, gcjLng) for Shanghai, Shenzhen and Beijing. Its ``TESTS_bd`` table
  is NOT used: it was produced by an old eviltransform that used ``pi`` where the BD-09
  formula has ``x_pi = pi * 3000 / 180`` (it is reproduced exactly with that slip, and is
  10-40 m away from the coordtransform formula).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pyproj import Geod

from xunfang.errors import SolverError, ValidationError
from xunfang.ingest.coords import (
    FRAMES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    outside_china,
    to_output_frame,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

Conversion = Callable[..., tuple[np.ndarray, np.ndarray]]
GEOD = Geod(ellps="WGS84")
TOL_DEG = 1e-9

# coordtransform README: f(116.404, 39.915)
CT_IN = (116.404, 39.915)
CT_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
CT_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
CT_BD_TO_GCJ = (116.39762729119315, 39.90865673957631)
CT_GCJ_TO_WGS_ONE_STEP = (116.39775550083061, 39.91359571849836)

# eviltransform TESTS: (wgs_lat, wgs_lng, gcj_lat, gcj_lng)
EVIL_TESTS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def _distance_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    _, _, dist_m = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist_m)


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.5, 134.5, 41), np.linspace(18.0, 53.0, 36))
    return lon.ravel(), lat.ravel()


# --- published points ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (wgs84_to_gcj02, CT_WGS_TO_GCJ),
        (gcj02_to_bd09, CT_GCJ_TO_BD),
        (bd09_to_gcj02, CT_BD_TO_GCJ),
    ],
    ids=["wgs84_to_gcj02", "gcj02_to_bd09", "bd09_to_gcj02"],
)
def test_coordtransform_readme_points(func: Conversion, expected: tuple[float, float]) -> None:
    lon, lat = func(*CT_IN)
    assert float(lon) == pytest.approx(expected[0], abs=TOL_DEG)
    assert float(lat) == pytest.approx(expected[1], abs=TOL_DEG)


def test_eviltransform_table_forward() -> None:
    wgs_lat, wgs_lon, gcj_lat, gcj_lon = np.array(EVIL_TESTS).T
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    np.testing.assert_allclose(lon, gcj_lon, rtol=0, atol=TOL_DEG)
    np.testing.assert_allclose(lat, gcj_lat, rtol=0, atol=TOL_DEG)


def test_eviltransform_table_exact_inverse() -> None:
    # The published GCJ values carry full double precision, so the exact inverse must give the
    # published WGS-84 points back to 1e-9 degrees (eviltransform itself only asks < 0.5 m).
    wgs_lat, wgs_lon, gcj_lat, gcj_lon = np.array(EVIL_TESTS).T
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(lon, wgs_lon, rtol=0, atol=TOL_DEG)
    np.testing.assert_allclose(lat, wgs_lat, rtol=0, atol=TOL_DEG)


def test_exact_inverse_improves_on_published_one_step_value() -> None:
    lon, lat = gcj02_to_wgs84(*CT_IN)
    # forward image of the exact inverse is the input ...
    f_lon, f_lat = wgs84_to_gcj02(lon, lat)
    assert float(f_lon) == pytest.approx(CT_IN[0], abs=1e-10)
    assert float(f_lat) == pytest.approx(CT_IN[1], abs=1e-10)
    # ... while the README's one-step value is a few centimetres off (here about 6 cm).
    gap_m = _distance_m(lon, lat, *CT_GCJ_TO_WGS_ONE_STEP)
    assert 0.03 < float(gap_m) < 0.1
    f1_lon, f1_lat = wgs84_to_gcj02(*CT_GCJ_TO_WGS_ONE_STEP)
    assert float(_distance_m(f1_lon, f1_lat, *CT_IN)) > 0.03


def test_gcj02_shift_is_hundreds_of_metres_in_beijing() -> None:
    lon, lat = wgs84_to_gcj02(*CT_IN)
    # 116.404,39.915 -> 116.410244,39.916404: ~533 m east, ~156 m north, ~556 m in all.
    assert float(_distance_m(np.asarray(CT_IN[0]), np.asarray(CT_IN[1]), lon, lat)) == (
        pytest.approx(556.0, abs=5.0)
    )


# --- round trips --------------------------------------------------------------------------


def test_round_trip_wgs_gcj_wgs_below_1cm_over_china() -> None:
    lon, lat = _china_grid()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _distance_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_round_trip_wgs_bd_wgs_below_1m_over_china() -> None:
    lon, lat = _china_grid()
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    err_m = _distance_m(lon, lat, back_lon, back_lat)
    assert err_m.max() < 1.0
    # the published BD-09 inverse is approximate: errors of a few decimetres remain
    assert err_m.max() > 0.1
    exact_lon, exact_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat), exact=True)
    assert _distance_m(lon, lat, exact_lon, exact_lat).max() < 0.01


def test_bd09_exact_inverse_is_forward_consistent() -> None:
    lon, lat = bd09_to_gcj02(*CT_IN, exact=True)
    f_lon, f_lat = gcj02_to_bd09(lon, lat)
    assert float(f_lon) == pytest.approx(CT_IN[0], abs=1e-10)
    assert float(f_lat) == pytest.approx(CT_IN[1], abs=1e-10)
    # and it differs from the published approximate inverse by a few centimetres only
    gap_m = _distance_m(lon, lat, *CT_BD_TO_GCJ)
    assert 0.0 < float(gap_m) < 0.3


# --- outside China, NaN, shapes -----------------------------------------------------------


# City coordinates as published by GeoNames (geonames.org, the main city record of each).
SHIFTED = {
    "Beijing": (116.39723, 39.9075),
    "Shanghai": (121.45806, 31.22222),
    "Urumqi": (87.60046, 43.80096),
    "Shenzhen": (114.0683, 22.54554),
    "Haikou": (110.34651, 20.02071),
}
NOT_SHIFTED = {
    "Seoul": (126.9784, 37.566),
    "Thimphu": (89.64191, 27.46609),
    "Ulaanbaatar": (106.88324, 47.90771),
    "Hong Kong": (114.17469, 22.27832),
    "Macau": (113.54611, 22.20056),
    "Taipei": (121.53185, 25.04776),
    "Kinmen (Jincheng)": (118.3171, 24.4342),
    "Pyongyang": (125.75432, 39.03385),
    "Hanoi": (105.84117, 21.0245),
    "Chicago": (-87.65005, 41.85003),
}


def test_outside_china_is_the_outline_not_the_rectangle() -> None:
    lon = np.array([p[0] for p in [*SHIFTED.values(), *NOT_SHIFTED.values()]])
    lat = np.array([p[1] for p in [*SHIFTED.values(), *NOT_SHIFTED.values()]])
    expected = np.array([False] * len(SHIFTED) + [True] * len(NOT_SHIFTED))
    np.testing.assert_array_equal(outside_china(lon, lat), expected)


@pytest.mark.parametrize("city", sorted(SHIFTED))
def test_mainland_cities_are_shifted(city: str) -> None:
    lon, lat = SHIFTED[city]
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    # the GCJ-02 offset is a few hundred metres everywhere on the mainland
    assert 100.0 < float(_distance_m(lon, lat, g_lon, g_lat)) < 800.0
    o_lon, o_lat = to_output_frame(lon, lat, "gcj02")
    assert (float(o_lon), float(o_lat)) == (float(g_lon), float(g_lat))


@pytest.mark.parametrize("city", sorted(NOT_SHIFTED))
def test_seoul_thimphu_ulaanbaatar_hk_macau_taiwan_are_not_shifted(city: str) -> None:
    lon, lat = NOT_SHIFTED[city]
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        assert (float(out_lon), float(out_lat)) == (lon, lat)


def test_to_output_frame_is_vectorised_and_checks_the_frame() -> None:
    lon, lat = np.array([121.5272106, -87.65]), np.array([31.1774276, 41.85])
    out_lon, out_lat = to_output_frame(lon, lat, "GCJ-02")
    # eviltransform's published Shanghai pair; Chicago unchanged
    assert out_lon[0] == pytest.approx(121.531541859215, abs=1e-9)
    assert out_lat[0] == pytest.approx(31.17530398364597, abs=1e-9)
    assert (out_lon[1], out_lat[1]) == (-87.65, 41.85)
    b_lon, b_lat = to_output_frame(lon[:1], lat[:1], "bd09")
    e_lon, e_lat = wgs84_to_bd09(lon[:1], lat[:1])
    np.testing.assert_array_equal(b_lon, e_lon)
    np.testing.assert_array_equal(b_lat, e_lat)
    w_lon, _ = to_output_frame(np.array([np.nan]), np.array([1.0]), "wgs84")
    assert np.isnan(w_lon[0])
    with pytest.raises(ValidationError, match="not a known coordinate frame"):
        to_output_frame(lon, lat, "mars")


def test_points_outside_china_are_unchanged_by_gcj02() -> None:
    lon = np.array([-87.6298, -0.1276, 151.2093, 72.003])  # Chicago, London, Sydney, W of it
    lat = np.array([41.8781, 51.5072, -33.8688, 30.0])
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)
    out_lon, out_lat = to_wgs84(lon, lat, "gcj02")
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


def test_bd09_offset_applies_everywhere_as_in_coordtransform() -> None:
    lon, lat = wgs84_to_bd09(-87.6298, 41.8781)  # Chicago: GCJ-02 is the identity there
    assert float(lon) != -87.6298
    b_lon, b_lat = gcj02_to_bd09(-87.6298, 41.8781)
    assert float(lon) == float(b_lon)
    assert float(lat) == float(b_lat)


@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_non_finite_points_give_nan_and_others_are_untouched(func: Conversion) -> None:
    lon = np.array([116.404, np.nan, 116.404, np.inf])
    lat = np.array([39.915, 39.915, np.nan, 39.915])
    out_lon, out_lat = func(lon, lat)
    assert np.isnan(out_lon[1:]).all()
    assert np.isnan(out_lat[1:]).all()
    ref_lon, ref_lat = func(116.404, 39.915)
    assert out_lon[0] == float(ref_lon)
    assert out_lat[0] == float(ref_lat)


def test_nan_is_outside_china() -> None:
    np.testing.assert_array_equal(
        outside_china([np.nan, 116.4], [39.9, 39.9]), np.array([True, False])
    )


def test_shapes_are_kept() -> None:
    lon = np.full((2, 3), 116.404)
    lat = np.full((2, 3), 39.915)
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    assert out_lon.shape == (2, 3)
    assert out_lat.shape == (2, 3)
    np.testing.assert_allclose(out_lon, CT_WGS_TO_GCJ[0], rtol=0, atol=TOL_DEG)
    s_lon, s_lat = gcj02_to_wgs84(116.404, 39.915)
    assert s_lon.shape == ()
    assert s_lat.shape == ()
    assert outside_china(116.4, 39.9).shape == ()


def test_lists_and_ints_are_accepted() -> None:
    lon, lat = wgs84_to_gcj02([116.404, 116.404], [39.915, 39.915])
    np.testing.assert_allclose(lon, [CT_WGS_TO_GCJ[0]] * 2, rtol=0, atol=TOL_DEG)
    np.testing.assert_allclose(lat, [CT_WGS_TO_GCJ[1]] * 2, rtol=0, atol=TOL_DEG)
    i_lon, _ = wgs84_to_gcj02(116, 40)
    f_lon, _ = wgs84_to_gcj02(116.0, 40.0)
    assert float(i_lon) == float(f_lon)


@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_mismatched_shapes_raise(func: Conversion) -> None:
    pattern = r"lon and lat must have the same shape: lon has shape \(3,\), lat has shape \(2,\)"
    with pytest.raises(ValidationError, match=pattern):
        func(np.zeros(3), np.zeros(2))


def test_non_numeric_raises_type_error_naming_argument() -> None:
    with pytest.raises(TypeError, match="lat must be numeric"):
        wgs84_to_gcj02([116.4], ["39.9"])
    with pytest.raises(TypeError, match=r"lon must be numeric.*NaN, not None"):
        wgs84_to_gcj02([116.4, None], [39.9, 39.9])


# --- dispatcher and iteration settings ---------------------------------------------------


def test_to_wgs84_dispatch() -> None:
    gcj = np.array([CT_WGS_TO_GCJ[0]]), np.array([CT_WGS_TO_GCJ[1]])
    for name in ("gcj02", "GCJ-02", "gcj_02"):
        lon, lat = to_wgs84(*gcj, name)
        np.testing.assert_allclose(lon, [CT_IN[0]], rtol=0, atol=TOL_DEG)
        np.testing.assert_allclose(lat, [CT_IN[1]], rtol=0, atol=TOL_DEG)
    bd_lon, bd_lat = wgs84_to_bd09(*CT_IN)
    lon, lat = to_wgs84(bd_lon, bd_lat, "BD-09")
    assert float(_distance_m(lon, lat, *CT_IN)) < 1.0
    src = np.array([1.5, 2.5])
    lon, lat = to_wgs84(src, src, "wgs84")
    np.testing.assert_array_equal(lon, src)
    lon[0] = 99.0
    assert src[0] == 1.5  # a copy, not a view


def test_to_wgs84_rejects_unknown_frame_listing_valid_ones() -> None:
    assert FRAMES == ("wgs84", "gcj02", "bd09")
    with pytest.raises(ValidationError, match=r"frame 'utm'.*wgs84, gcj02, bd09"):
        to_wgs84(116.4, 39.9, "utm")


def test_iteration_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="tol_deg must be a positive"):
        gcj02_to_wgs84(116.4, 39.9, tol_deg=0.0)
    with pytest.raises(ValidationError, match="max_iter must be at least 1"):
        gcj02_to_wgs84(116.4, 39.9, max_iter=0)
    # one step leaves a residual of about 3e-7 degrees here: not enough for 1e-10
    with pytest.raises(SolverError, match=r"did not reach tol_deg=1e-10 after max_iter=1"):
        gcj02_to_wgs84(116.404, 39.915, max_iter=1)
