"""The decisions end to end on a synthetic 6 x 6 street grid (100 m blocks, 10 s each): the
target answer agrees with the curve, the sentence states it in officers, every site gets a
sector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from test_booth_value import ROSTER_3X8

from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.network import network_from_edges
from xunfang.plan.decisions import DecisionConfig, plan_decisions
from xunfang.plan.siting import mclp

N = 6


def _grid_plan(config: DecisionConfig, booths: int = 4):  # type: ignore[no-untyped-def]
    idx = np.arange(N * N).reshape(N, N)
    edges = [(idx[r, c], idx[r, c + 1], 100.0) for r in range(N) for c in range(N - 1)]
    edges += [(idx[r, c], idx[r + 1, c], 100.0) for r in range(N - 1) for c in range(N)]
    xy = np.column_stack([(np.arange(N * N) % N) * 100.0, (np.arange(N * N) // N) * 100.0])
    net = network_from_edges(xy, edges, "EPSG:32616", speed_kph=36.0)
    nodes = np.arange(N * N)
    cost = net.travel_time_matrix(nodes, nodes).T
    w = 1.0 + (np.arange(N * N) % 5)  # synthetic incident counts 1..5
    res = mclp(cost, w, booths + 1, 20.0, fixed=[0])
    names = ["Station"] + [f"B{i:02d}" for i in range(1, booths + 1)]
    kinds = ["station"] + ["booth"] * booths
    return plan_decisions(
        config,
        cost=cost,
        demand_w=w,
        booths=booths,
        threshold_s=20.0,
        fixed_idx=np.array([0]),
        selected=res.selected,
        site_names=names,
        site_kinds=kinds,
        fixed_names=["Station"],
        cand_nodes=nodes,
        demand_nodes=nodes,
        network_matrix=net.matrix,
        node_xy=net.node_xy,
        edges_uv=(net.edges["u_index"].to_numpy(), net.edges["v_index"].to_numpy()),
        area_polygon=shapely.box(-50, -50, 550, 550),
        crs="EPSG:32616",
        days=10.0,
    ), w


def test_target_agrees_with_curve_and_sentence_counts_officers() -> None:
    d, w = _grid_plan(DecisionConfig(targets=("20s:50%",), curve_max_booths=8))
    assert d.curve is not None and d.target is not None
    k = d.curve.smallest_k(20.0, 0.5)
    assert d.target.status == "optimal" and d.target.booths == k
    assert d.target.shares[0] >= 0.5
    assert d.target_sites[0] == "Station" and len(d.target_sites) == k + 1
    extra = 4 - k
    assert f"needs {k} booths" in d.summary
    if extra > 0:
        assert f"add {extra} booths, {6 * extra} officers per day" in d.summary
        # the curve's 1-min shares are each ring's own optimum, not the sited layout's
        assert "at best raise the share within 1 min from 100.0% to 100.0% (the best " in d.summary
    assert d.sectors is not None and d.sector_frame is not None
    assert len(d.sector_frame) == 5
    assert d.sectors.workload.sum() == pytest.approx(w.sum())
    assert list(d.value_table["name"]) == ["Station", "B01", "B02", "B03", "B04"]


def test_roster_staffing_in_the_table_and_the_sentence(tmp_path: Path) -> None:
    # the roster of test_booth_value: 3 shifts a day, 2 officers per booth, B02 3
    path = tmp_path / "roster.toml"
    path.write_text(ROSTER_3X8, encoding="utf-8")
    d, _ = _grid_plan(DecisionConfig(curve=False, sectors=False, roster=str(path)))
    assert d.value_table["officers_per_day"].tolist() == [0.0, 6.0, 9.0, 6.0, 6.0]
    assert d.officers_per_day == 6.0 and d.staff_source == f"roster {path}"
    assert d.summary.endswith(
        "Booth staffing from the roster: 27 officers per day at the plan's 4 booths."
    )
    with pytest.raises(DataFileError, match="no-such"):
        DecisionConfig(roster=str(tmp_path / "no-such.toml")).validate()


def test_tiered_objective_replaces_the_layout_and_bad_options_are_named() -> None:
    d, _ = _grid_plan(DecisionConfig(objective="tiered", curve=False, sectors=False))
    assert d.layout is not None and d.layout.model == "tiered MCLP"
    assert d.curve is None and d.sectors is None
    with pytest.raises(ValidationError, match="--objective"):
        DecisionConfig(objective="fastest").validate()
    with pytest.raises(ValidationError, match="--target"):
        DecisionConfig(targets=("soon",)).validate()


def test_the_decision_reads_in_chinese() -> None:
    d, _ = _grid_plan(DecisionConfig(targets=("20s:50%",), curve_max_booths=8))
    assert d.target is not None
    k = d.target.booths
    head = f"目标 0.333333min:50% 需要 {k} 个岗亭；所要求的 4 个多出 {4 - k} 个"
    assert d.summary_zh.startswith(head)
    assert f"每天多 {6 * (4 - k)} 名警力（每个岗亭 6 名）" in d.summary_zh
    assert "1 分钟内到达的比例最多从 100.0% 提高到 100.0%" in d.summary_zh
    assert d.summary_zh.endswith("。") and "booths" not in d.summary_zh
