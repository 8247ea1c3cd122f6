"""Street-segment forecasts: the segment hit rate and the network kernel, worked by hand.

Every network here is synthetic (a few straight segments in a made-up metric frame).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    model = NetworkProspective(segments=segs, bandwidth_m=400.0, bandwidth_weeks=8.0)
    fc = model.fit(ev).predict(window())
    # event A: s0 at 30 m, 3 days old (week 0, weight 1); event B: s1 at 100 m (its
    # midpoint), 10 days old (week 1, weight 1/2). Kernel 1 - d/400 to each midpoint:
    # A -> s0: |30-50| = 20 -> 0.95; A -> s1: 70 + 100 = 170 -> 0.575;
    # A -> s2: 70 + 150 = 220 -> 0.45.
    # B -> s1: 0 -> 1 * 0.5; B -> s0: 100 + 50 = 150 -> 0.625 * 0.5;
    # B -> s2: 100 + 150 = 250 -> 0.375 * 0.5.
    score = np.array([0.95 + 0.3125, 0.575 + 0.5, 0.45 + 0.1875])
    # scaled to 2 events in the 56-day bandwidth, for a 1-day window
    assert fc.risk == pytest.approx(score * (2 / 56) / score.sum())
    # a shorter bandwidth cuts A -> s2 (220 m) and B -> s2 (250 m)
    short = NetworkProspective(segments=segs, bandwidth_m=200.0).fit(ev).predict(window())
    score200 = np.array([0.9 + 0.25 * 0.5, 0.15 + 0.5, 0.0])
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
    ev, tgt, d = segs.event_to_midpoint_m(np.array([0]), np.array([50.0]), 400.0)
    # from s0's midpoint: 50 to node 1, 10 across, 50 to s1's midpoint = 110 m
    assert dict(zip(tgt.tolist(), d.tolist(), strict=True)) == pytest.approx({0: 0.0, 1: 110.0})
    assert ev.tolist() == [0, 0]


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
