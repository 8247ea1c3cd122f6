"""Report pieces of the decisions that need no plan: label placement, figure height, and the
simulation report's refusal to draw empty charts. Synthetic inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from xunfang.serve.map_helpers import figure_height, label_positions
from xunfang.serve.sim_report import MIN_WORKLOAD_POINTS, _workload_figure


def test_labels_of_close_points_take_different_places() -> None:
    # three points 0.1 apart with a label gap of 1: the first takes "top center", the others
    # must move away from it
    pos = label_positions(np.array([0.0, 0.1, 0.2]), np.array([0.0, 0.0, 0.0]), gap=1.0)
    assert pos[0] == "top center"
    assert len(set(pos)) == 3
    # far apart: all keep the first place
    assert label_positions(np.array([0.0, 10.0]), np.array([0.0, 0.0]), gap=1.0) == [
        "top center",
        "top center",
    ]


def test_figure_height_follows_the_shape() -> None:
    tall = figure_height((0.0, 0.0, 0.01, 0.03))  # three times as tall as wide (equator)
    wide = figure_height((0.0, 0.0, 0.03, 0.01))
    assert tall == 1500 and wide == 480  # 1100 * 3 * 0.75 capped; 1100 / 3 * 0.75 floored


def test_validation_chart_of_three_districts_is_replaced_by_a_sentence() -> None:
    table = pd.DataFrame(
        {"district": ["1", "2", "3"], "incidents": [1, 2, 3], "busy_hours": [1, 2, 4]}
    )
    html = _workload_figure(table)
    assert "No chart" in html and f"at least {MIN_WORKLOAD_POINTS}" in html
    zh = _workload_figure(table, "zh")
    assert "只有 3 个辖区" in zh and f"至少 {MIN_WORKLOAD_POINTS} 个" in zh
    # five districts: the chart, titled in Chinese with r of the five points
    five = pd.DataFrame(
        {"district": list("12345"), "incidents": [1, 2, 3, 4, 5], "busy_hours": [2, 4, 6, 8, 10]}
    )
    title = json.dumps("各辖区仿真忙碌时长与警情数（皮尔逊 r = 1.000）")[
        1:-1
    ]  # as plotly writes it
    assert title in _workload_figure(five, "zh")
