"""``xunfang travel-time`` on the SYNTHETIC hand-drawn block tests/fixtures/oneway_block.osm
(A(1) -> B(2) one-way at 30 km/h; back round the block B-C 20 km/h, C-D class speed,
D-A 30 mph; see tests/ingest/test_roads.py for the drawing)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.ingest.coords import wgs84_to_gcj02
from xunfang.serve.cli import app

runner = CliRunner()
BLOCK = Path(__file__).resolve().parents[1] / "fixtures" / "oneway_block.osm"
_A = 6378137.0
_E2 = 0.00669437999014


def _n(lat: float) -> float:
    return _A / math.sqrt(1 - _E2 * math.sin(math.radians(lat)) ** 2)


def _m(lat: float) -> float:
    return _A * (1 - _E2) / (1 - _E2 * math.sin(math.radians(lat)) ** 2) ** 1.5


AB = _n(31.2300) * math.cos(math.radians(31.2300)) * math.radians(0.001)
CD = _n(31.2310) * math.cos(math.radians(31.2310)) * math.radians(0.001)
BC = DA = _m(31.2305) * math.radians(0.001)


def test_travel_time_json_both_ways() -> None:
    # --from 0.95 m east of A, --to 9.53 m west of B on the street (0.0001 deg of longitude)
    r = runner.invoke(
        app,
        [
            "travel-time",
            "--roads",
            str(BLOCK),
            "--from",
            "121.47001,31.2300",
            "--to",
            "121.4709,31.2300",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) == {"forward", "backward", "snap_m"}
    assert set(out["forward"]) == {"travel_time_s", "distance_m"}
    # the points are in mainland China: the CN class table (residential 20 km/h) applies
    assert out["forward"]["travel_time_s"] == pytest.approx(AB / (30 / 3.6), abs=2e-3)
    assert out["forward"]["distance_m"] == pytest.approx(AB, abs=2e-3)
    back = BC / (20 / 3.6) + CD / (20 / 3.6) + DA / (30 * 1.609344 / 3.6)
    assert out["backward"]["travel_time_s"] == pytest.approx(back, abs=2e-3)  # 45.374 s
    assert out["backward"]["distance_m"] == pytest.approx(BC + CD + DA, abs=2e-3)
    lon_step_m = AB / 10  # 0.0001 degree of longitude at 31.23 N
    assert out["snap_m"] == pytest.approx([lon_step_m * 0.1, lon_step_m], abs=0.01)


def test_travel_time_gcj02_points_are_converted() -> None:
    glon, glat = wgs84_to_gcj02([121.47001, 121.4709], [31.2300, 31.2300])
    r = runner.invoke(
        app,
        [
            "travel-time",
            "--roads",
            str(BLOCK),
            "--from",
            f"{glon[0]:.9f},{glat[0]:.9f}",
            "--to",
            f"{glon[1]:.9f},{glat[1]:.9f}",
            "--frame",
            "gcj02",
            "--country",
            "default",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    # back at WGS-84 the snaps are the same as above (the GCJ-02 shift is ~500 m here)
    assert out["snap_m"] == pytest.approx([AB / 100, AB / 10], abs=0.01)
    # the default table: C-D residential at 30 km/h instead of 20
    back = BC / (20 / 3.6) + CD / (30 / 3.6) + DA / (30 * 1.609344 / 3.6)
    assert out["backward"]["travel_time_s"] == pytest.approx(back, abs=2e-3)


def test_travel_time_bad_input_named(tmp_path: Path) -> None:
    r = runner.invoke(
        app, ["travel-time", "--roads", str(BLOCK), "--from", "31.23,121.47", "--to", "1,2"]
    )
    assert r.exit_code == 2
    assert "--from '31.23,121.47' is not a lon/lat position" in r.output
    assert "give the longitude first" in r.output
    bad = tmp_path / "roads.txt"
    bad.write_text("x")
    r = runner.invoke(
        app, ["travel-time", "--roads", str(bad), "--from", "121.47,31.23", "--to", "121.48,31.23"]
    )
    assert r.exit_code == 2
    assert "roads.txt: not a road file" in r.output


def test_travel_time_refuses_a_far_point_and_table() -> None:
    # --to given in GCJ-02 but read as WGS-84: it lands ~0.5 km east of B, still nearest B.
    # Refused beyond --max-snap-m (300 m), naming the point and the distance (issue 9,
    # finding 6: it was snapped any distance, 10,833 m in the tester's case, exit 0).
    glon, glat = wgs84_to_gcj02(121.4709, 31.2300)
    args = [
        "travel-time", "--roads", str(BLOCK), "--from", "121.47001,31.2300",
        "--to", f"{float(glon):.9f},{float(glat):.9f}",
    ]  # fmt: skip
    r = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert r.exit_code == 2
    flat = " ".join(r.output.split())
    to_m = float(flat.split(" m from the nearest road node")[0].split(" is ")[-1].replace(",", ""))
    # by hand: the GCJ-02 shift here is about 500 m, mostly east
    assert 400 < to_m < 700
    assert f"--to '{float(glon):.9f},{float(glat):.9f}' is {to_m:,.0f} m from the nearest" in flat
    assert "more than --max-snap-m 300 m" in flat
    assert "--from" not in flat.split("--to")[0]
    r = runner.invoke(app, [*args, "--max-snap-m", "1000"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "from -> to" in r.output and "to -> from" in r.output
    assert "11.4 s (0 min 11.4 s)" in r.output  # A to B, 95.27 m at 30 km/h
    assert "45.4 s (0 min 45.4 s)" in r.output  # round the block back
    assert "warning: --to is" in r.output and "m from the nearest road node" in r.output
    assert "--from is" not in r.output
    assert "one-way streets respected" in r.output
