"""Street-segment forecasts: the segment hit rate and the network kernel, worked by hand.

Every network here is synthetic (a few straight segments in a made-up metric frame).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.analyse.forecast._base import Window
from xunfang.analyse.forecast.segments import (
    NetworkProspective,
    SegmentCounts,
    SegmentEvents,
    StreetSegments,
    flagged_share,
    make_segment_forecaster,
    segment_hits,
)
from xunfang.errors import ValidationError
from xunfang.serve.cli_forecast import app

CRS = "EPSG:32616"


# --------------------------------------------------------------------------- hit rate
# Four segments, lengths 100, 200, 400, 300 m (total 1,000 m); forecast risk 5, 6, 8, 3,
# i.e. 0.05, 0.03, 0.02, 0.01 per metre; the window's incidents 1, 3, 4, 2 (10 in all).
LENGTH = np.array([100.0, 200.0, 400.0, 300.0])
RISK = np.array([5.0, 6.0, 8.0, 3.0])
COUNTS = np.array([1.0, 3.0, 4.0, 2.0])


def test_segment_hit_rate_four_segments_by_hand() -> None:
    h = segment_hits(RISK, LENGTH, COUNTS, [0.10, 0.25, 0.50, 1.0])
    # 10 % = 100 m: segment 0 exactly -> 1 incident.
    # 25 % = 250 m: segment 0 (100 m) + 150 of segment 1's 200 m -> 1 + 0.75 * 3 = 3.25.
    # 50 % = 500 m: segments 0, 1 (300 m) + 200 of segment 2's 400 m -> 1 + 3 + 0.5 * 4 = 6.
    # 100 %: all 10.
    assert h.hits == pytest.approx([1.0, 3.25, 6.0, 10.0])
    assert h.hit_rate == pytest.approx([0.1, 0.325, 0.6, 1.0])
    assert h.pai == pytest.approx([1.0, 1.3, 1.2, 1.0])
    # Best at 25 %: incidents per metre 0.01, 0.015, 0.01, 0.0067 -> segment 1 (200 m)
    # then segments 0 and 2 tie at 0.01: one block of 500 m gets the remaining 50 m,
    # a share of 0.1 of each -> 3 + 0.1 * (1 + 4) = 3.5.
    assert h.best_hits[1] == pytest.approx(3.5)
    assert h.pei[1] == pytest.approx(3.25 / 3.5)
    assert h.total == 10


def test_flagged_share_tie_block_and_exact_length() -> None:
    share = flagged_share(np.array([1.0, 2.0, 4.0, 0.0]), LENGTH, 0.25)
    # per metre 0.01, 0.01, 0.01, 0: the first three tie (700 m) and share 250 m.
    assert share == pytest.approx([250 / 700, 250 / 700, 250 / 700, 0.0])
    assert share @ LENGTH == pytest.approx(250.0)
    with pytest.raises(ValidationError, match="fraction"):
        flagged_share(RISK, LENGTH, 0.0)
    with pytest.raises(ValidationError, match="positive"):
        flagged_share(RISK, np.array([100.0, 0.0, 1.0, 1.0]), 0.5)


# --------------------------------------------------------------------------- network kernel
def tiny_segments() -> StreetSegments:
    """s0: node 0 (0,0) -> node 1 (100,0), 100 m; s1: node 1 -> node 2 (300,0), 200 m;
    s2: node 1 -> node 3 (100,300), 300 m."""
    return StreetSegments.from_lines(
        [[(0, 0), (100, 0)], [(100, 0), (300, 0)], [(100, 0), (100, 300)]],
        [0, 1, 1],
        [1, 2, 3],
        CRS,
    )


def window() -> Window:
    start = pd.Timestamp("2015-06-01", tz="UTC")
    return Window(start, start + pd.Timedelta(days=1))


def tiny_events(segs: StreetSegments) -> SegmentEvents:
    # event B (s1, 10 days old) first: times ascending; then event A (s0, 3 days old)
    seg, off, dist = segs.snap(np.array([[200.0, -2.0], [30.0, 5.0]]))
    t0 = window().start_day
    return SegmentEvents(np.array([t0 - 10.0, t0 - 3.0]), seg, off, dist, t0 - 100.0, t0)


def test_snap_to_nearest_segment() -> None:
    segs = tiny_segments()
    seg, off, dist = segs.snap(np.array([[30.0, 5.0], [200.0, -2.0], [98.0, 150.0]]))
    assert seg.tolist() == [0, 1, 2]
    assert off == pytest.approx([30.0, 100.0, 150.0])
    assert dist == pytest.approx([5.0, 2.0, 2.0])


def test_network_kernel_by_hand() -> None:
    segs = tiny_segments()
    ev = tiny_events(segs)
    weeks = {"bandwidth_weeks": 8.0, "time": "weeks"}
    model = NetworkProspective(segments=segs, bandwidth_m=400.0, **weeks)
    fc = model.fit(ev).predict(window())
    # Event A: s0 at 30 m, 3 days old (week 0, weight 1); event B: s1 at 100 m, 10 days
    # old (week 1, weight 1/2). Kernel 1 - d/400 integrated along each segment:
    # A on s0 (its own): int_0^30 + int_0^70 of (1 - y/400) dy = 28.875 + 63.875 = 92.75;
    # A -> s1 (entered at node 1, 70 m away): int_0^200 (1 - (70 + x)/400) dx = 115;
    # A -> s2 (also from node 1): int_0^300 (1 - (70 + x)/400) dx = 135.
    # B on s1 (own): 2 * int_0^100 (1 - y/400) dy = 175, times 1/2 = 87.5;
    # B -> s0 (from node 1, 100 m; node 0 is 200 m): int_0^100 (1 - (200 - x)/400) dx = 62.5,
    # times 1/2 = 31.25; B -> s2: int_0^300 (1 - (100 + x)/400) dx = 112.5, times 1/2 = 56.25.
    score = np.array([92.75 + 31.25, 115.0 + 87.5, 135.0 + 56.25])
    # scaled to 2 events in the 56-day bandwidth, for a 1-day window
    assert fc.risk == pytest.approx(score * (2 / 56) / score.sum())
    # 200 m: the kernel 1 - d/200 ends 130 m into s1 and s2 for A, at s2's 100th metre for B
    short = NetworkProspective(segments=segs, bandwidth_m=200.0, **weeks).fit(ev).predict(window())
    # A: own 27.75 + 57.75 = 85.5; s1 and s2: int_0^130 (1 - (70 + x)/200) dx = 42.25 each.
    # B (x 1/2): own 2 * 75 = 150 -> 75; s0: int_0^100 x/200 dx = 25 -> 12.5; s2: 25 -> 12.5.
    score200 = np.array([85.5 + 12.5, 42.25 + 75.0, 42.25 + 12.5])
    assert short.risk == pytest.approx(score200 * (2 / 56) / score200.sum())


def test_network_distance_through_a_link_that_is_not_a_segment() -> None:
    # s0 and s1 are 1,000 m apart but a 10 m link (a stitch) joins node 1 to node 2.
    segs = StreetSegments.from_lines(
        [[(0, 0), (100, 0)], [(1100, 0), (1200, 0)]],
        [0, 2],
        [1, 3],
        CRS,
        extra_links=[(1, 2, 10.0)],
    )
    ev, tgt, mass = segs.kernel_mass(np.array([0]), np.array([50.0]), 400.0)
    # own: 2 * int_0^50 (1 - y/400) dy = 93.75; s1 entered 50 + 10 = 60 m away:
    # int_0^100 (1 - (60 + x)/400) dx = 72.5
    assert ev.tolist() == [0, 0]
    assert dict(zip(tgt.tolist(), mass.tolist(), strict=True)) == pytest.approx({0: 93.75, 1: 72.5})


def test_naive_counts_and_no_look_ahead() -> None:
    segs = tiny_segments()
    ev = tiny_events(segs)
    fc = SegmentCounts(segments=segs, period_days=7.0).fit(ev).predict(window())
    assert fc.risk == pytest.approx([1 / 7, 0.0, 0.0])  # only event A is within 7 days
    early = Window(window().start - pd.Timedelta(days=1), window().start)
    with pytest.raises(ValidationError, match="before the end of the training"):
        SegmentCounts(segments=segs).fit(ev).predict(early)
    with pytest.raises(ValidationError, match="no parameter"):
        make_segment_forecaster("network:radius=3", segs)
    with pytest.raises(ValidationError, match="unknown segment method"):
        make_segment_forecaster("sepp", segs)


# --------------------------------------------------------------------------- command line
BLOCK = Path(__file__).resolve().parents[2] / "fixtures" / "oneway_block.osm"


def test_cli_segments_on_the_synthetic_block(tmp_path: Path) -> None:
    """SYNTHETIC: the hand-drawn block of tests/fixtures/oneway_block.osm and 60 days of
    made-up incidents (a 110 export with WGS-84 positions, the city's default frame): one
    in three on the one-way street A-B (about 95 m), the rest on East Street (B-C). The
    reader joins the two-way streets B-C-D-A into one piece (about 317 m), so the block has
    two segments; A-B has about 80 incidents on 95 m against 160 on 317 m."""
    boundary = tmp_path / "b.geojson"
    boundary.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"block"},"geometry":{"type":"Polygon","coordinates":'
        "[[[121.4699,31.2299],[121.4711,31.2299],[121.4711,31.2311],[121.4699,31.2311],"
        "[121.4699,31.2299]]]}}]}",
        encoding="utf-8",
    )
    rng = np.random.default_rng(0)
    lines = ["接警单编号,报警时间,报警类别,经度,纬度\n"]
    for i in range(240):
        on_ab = i % 3 == 0
        lon = 121.4701 + 0.0008 * rng.random() if on_ab else 121.4710
        lat = 31.2300 if on_ab else 31.2301 + 0.0008 * rng.random()
        when = pd.Timestamp("2024-03-01") + pd.Timedelta(minutes=int(rng.integers(0, 86400)))
        lines.append(f"J{i:05d},{when:%Y-%m-%d %H:%M:%S},刑事,{lon:.7f},{lat:.7f}\n")
    src = tmp_path / "crimes.csv"
    src.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "segments", "--boundary", str(boundary), "--roads", str(BLOCK),
            "--incidents", str(src), "--profile", "cn110", "--start", "2024-04-20",
            "--windows", "2", "--cell-m", "50", "--map-coverage", "0.25", "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    assert run["segments"] == 2  # the private road, parking aisle and footway are not streets
    assert run["incidents_inside_area"] == 240
    flagged = json.loads((out / "flagged_naive.geojson").read_text())["features"]
    props = [f["properties"] for f in flagged]
    # 25 % of the road: all of A-B (most incidents per metre), then the rest of the
    # budget as a share of the long piece
    assert [p["name"] for p in props] == ["单行路", "West Street / North Street / East Street"]
    budget_m = 0.25 * run["road_km"] * 1000
    assert props[0]["share_flagged"] == 1.0
    assert props[1]["share_flagged"] == pytest.approx(
        (budget_m - props[0]["length_m"]) / props[1]["length_m"]
    )
    assert flagged[0]["geometry"]["coordinates"][0] == pytest.approx([121.47, 31.23], abs=1e-6)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["unit"]) == {"road length", "area"}
    # --lang zh: the same run's terminal summary in Chinese
    zh = CliRunner().invoke(
        app,
        [
            "segments", "--boundary", str(boundary), "--roads", str(BLOCK),
            "--incidents", str(src), "--profile", "cn110", "--start", "2024-04-20",
            "--windows", "2", "--cell-m", "50", "--out", str(tmp_path / "zh"), "--lang", "zh",
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert zh.exit_code == 0, zh.output
    assert "2 个路段" in zh.output and "道路长度" in zh.output and "秒/时段" in zh.output
    assert "区域内 240 起警情（共选中 240 起）吸附到最近的路段" in zh.output
    assert "已写出" in zh.output
    # windows past the data: the end in local (Shanghai) time, in either language
    late = [
        "segments", "--boundary", str(boundary), "--roads", str(BLOCK), "--incidents",
        str(src), "--profile", "cn110", "--start", "2024-04-29", "--windows", "5",
        "--out", str(tmp_path / "late"),
    ]  # fmt: skip
    res = CliRunner().invoke(app, late)
    assert res.exit_code == 2
    assert "the last window ends at 2024-05-04 00:00 local time, after the data" in res.output
    res = CliRunner().invoke(app, [*late, "--lang", "zh"])
    assert "最后一个时段结束于 2024-05-04 00:00（当地时间），晚于数据结束" in res.output
