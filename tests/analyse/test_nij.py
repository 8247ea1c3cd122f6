"""The NIJ Real-Time Crime Forecasting Challenge rules: PEI* and PAI on a hand-worked
grid, the cell-size and hotspot-area rules, the category table, the forecast periods the
data can hold, and one end-to-end run. All incident files here are synthetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xunfang.analyse.nij import (
    NijSpec,
    check_rules,
    hotspot_cell_count,
    nij_score,
    nij_windows,
    read_categories,
    run_nij,
    select_category,
)
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.incidents import ingest
from xunfang.serve.cli import app

CELL_SQ_MI_600 = 360_000 / 27_878_400  # one 600 ft cell, square miles


# --------------------------------------------------------------------------- the rules
def test_hotspot_cells_stay_inside_the_area_rule() -> None:
    # 600 ft: 0.25 sq mi is 19.36 cells; 19 would be 0.2453 sq mi < 0.25, so 20
    assert hotspot_cell_count(600, 0.25) == 20
    assert 19 * CELL_SQ_MI_600 < 0.25 <= 20 * CELL_SQ_MI_600
    # 600 ft, 0.75 sq mi = 58.08 cells -> 58 (0.7490 sq mi)
    assert hotspot_cell_count(600, 0.75) == 58
    # 250 ft (62,500 sq ft): 0.75 sq mi = 334.54 cells; 335 would be 0.7510 > 0.75, so 334
    assert hotspot_cell_count(250, 0.75) == 334
    # 250 ft, 0.25 sq mi = 111.51 cells -> 112 (nearest, and >= 0.25)
    assert hotspot_cell_count(250, 0.25) == 112


@pytest.mark.parametrize("side_ft", [249.9, 601, 0, -300])
def test_cell_side_outside_250_600_ft_is_refused(side_ft: float) -> None:
    with pytest.raises(ValidationError, match=r"--cell-ft must be 250-600 ft"):
        check_rules(side_ft, 0.5)


@pytest.mark.parametrize("area", [0.2499, 0.76, 1.0])
def test_hotspot_area_outside_quarter_to_three_quarter_sq_mi_is_refused(area: float) -> None:
    with pytest.raises(ValidationError, match=r"--hotspot-sq-mi must be 0.25-0.75 square miles"):
        check_rules(600, area)


def test_the_rules_are_enforced_before_any_file_is_read(tmp_path: Path) -> None:
    spec = NijSpec(incident_files=(tmp_path / "missing.csv",), cell_side_ft=700)
    with pytest.raises(ValidationError, match="250-600 ft"):
        run_nij(spec)


def test_cli_refuses_a_cell_outside_the_rules(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        ["forecast", "nij", "--incidents", str(tmp_path / "x.csv"), "--cell-ft", "200"],
    )
    assert r.exit_code == 2
    assert "--cell-ft must be 250-600 ft" in r.output
    r = CliRunner().invoke(
        app,
        [
            *("forecast", "nij", "--incidents", str(tmp_path / "x.csv"), "--cell-ft", "200"),
            *("--lang", "zh"),
        ],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 2
    assert (
        "错误：NIJ 规则：--cell-ft 必须在 250-600 英尺之间（网格面积 62,500-360,000 平方英尺），"
        "实际为 200.0"
    ) in r.output


# --------------------------------------------------------------------------- PEI*, PAI
def hand_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """36 cells of 600 ft; the last 6 are outside the study area.

    risk: cells 0-17 at 5 (flagged), cells 18-21 tied at 3 at the cut-off, 22-29 at 1;
    with k = 20 flagged (0.25 sq mi), 2 of the 4 tied cells are flagged.
    counts: cells 0-17 one call each (18); tied cells 4, 0, 2, 0 (6); cell 22 has 10,
    cell 23 has 3; the inactive cells 50 each (never counted).
    """
    risk = np.array([5.0] * 18 + [3.0] * 4 + [1.0] * 8 + [100.0] * 6)
    counts = np.array([1] * 18 + [4, 0, 2, 0] + [10, 3] + [0] * 6 + [50] * 6, dtype=float)
    mask = np.array([True] * 30 + [False] * 6)
    return risk, counts, mask


def test_pei_star_on_a_hand_worked_grid_with_ties() -> None:
    risk, counts, mask = hand_grid()
    s = nij_score(
        risk,
        counts,
        cell_side_ft=600,
        hotspot_sq_mi=0.25,
        study_area_sq_mi=30 * CELL_SQ_MI_600,
        mask=mask,
    )
    assert s.k_cells == 20
    # N: 18 + 6 + 13 = 37 calls in the 30 active cells
    assert s.n_total == 37
    # n: the 18 cells above the cut-off (18) + 2 of the 4 tied cells, expected 2/4 of 6 = 3
    assert s.n == pytest.approx(21.0)
    # n*: the 20 busiest cells: 10 + 4 + 3 + 2 + sixteen of the eighteen 1-call cells (the
    # ones tied at the 20th place: any 16 give the same sum) = 35
    assert s.n_star == pytest.approx(35.0)
    assert s.pei_star == pytest.approx(21 / 35)  # 0.6
    # PAI = (n/N)/(a/A) = (21/37)/(20/30) = 63/74
    assert s.pai == pytest.approx(63 / 74)
    assert s.hotspot_sq_mi == pytest.approx(20 * CELL_SQ_MI_600)


def test_pei_star_is_one_for_the_observed_counts_and_nan_without_calls() -> None:
    risk, counts, mask = hand_grid()
    perfect = nij_score(
        counts, counts, cell_side_ft=600, hotspot_sq_mi=0.25, study_area_sq_mi=1.0, mask=mask
    )
    assert perfect.pei_star == pytest.approx(1.0)
    none = nij_score(risk, np.zeros(36), cell_side_ft=600, hotspot_sq_mi=0.25, study_area_sq_mi=1.0)
    assert np.isnan(none.pei_star) and np.isnan(none.pai)


def test_more_flagged_cells_than_the_area_holds_is_an_error() -> None:
    risk, counts, mask = hand_grid()
    with pytest.raises(ValidationError, match="58 cells of 600 ft are to be flagged"):
        nij_score(
            risk, counts, cell_side_ft=600, hotspot_sq_mi=0.75, study_area_sq_mi=1.0, mask=mask
        )


# --------------------------------------------------------------------------- data
HEADER = (
    "CATEGORY;CALL GROUPS;final_case_type;CASE DESC;occ_date;x_coordinate;y_coordinate;census_tract"
)


def write_calls(path: Path, rows: list[tuple[str, str, str, str, str, float, float]]) -> Path:
    """A synthetic file in the layout of the NIJ Portland release (semicolons, DD/MM/YYYY,
    Oregon State Plane North feet)."""
    lines = [HEADER] + [
        f"{c};{g};{t} ;{d};{day};{x:.0f};{y:.0f};5200" for c, g, t, d, day, x, y in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


X0, Y0 = 7_640_000.0, 680_000.0  # downtown Portland, ft


def test_categories_follow_the_table_and_count_disagreement(tmp_path: Path) -> None:
    cats = read_categories()
    assert set(cats) == {"all", "burglary", "street", "vehicle"}
    assert cats["burglary"].case_types == {"BURGP", "PROWLP"}
    assert cats["vehicle"].case_types == {"VEHREC", "VEHSTP"}
    assert cats["all"].case_types is None
    f = write_calls(
        tmp_path / "calls.csv",
        [
            ("BURGLARY", "PROPERTY CRIME", "BURGP", "BURGLARY - PRIORITY", "01/08/2016", X0, Y0),
            ("BURGLARY", "SUSPICIOUS", "PROWLP", "PROWLER", "02/08/2016", X0, Y0),
            ("OTHER", "PROPERTY CRIME", "BURG", "BURGLARY - COLD", "03/08/2016", X0, Y0),
            # a row whose CATEGORY disagrees with its call type: counted, kept by the table
            ("OTHER", "PROPERTY CRIME", "BURGP", "BURGLARY - PRIORITY", "04/08/2016", X0, Y0),
        ],
    )
    table, _, _ = ingest([f], "portland")
    burglary, disagree = select_category(table, cats["burglary"])
    assert len(burglary) == 3
    assert disagree == 1
    # date only: local midnight, marked as known to the day (no invented hour)
    assert set(table.frame["time_precision"]) == {"day"}
    first = table.local_time().iloc[0]
    assert (first.hour, first.minute, str(first.date())) == (0, 0, "2016-08-01")


def test_forecast_periods_the_two_months_can_hold(tmp_path: Path) -> None:
    f = write_calls(
        tmp_path / "span.csv",
        [
            ("OTHER", "DISORDER", "NOISE", "NOISE DISTURBANCE", "01/08/2016", X0, Y0),
            ("OTHER", "DISORDER", "NOISE", "NOISE DISTURBANCE", "30/09/2016", X0, Y0),
        ],
    )
    table, _, _ = ingest([f], "portland")
    week, _ = nij_windows(table, "1w", min_train_days=28)
    # 61 days, 28 of training: 33 // 7 = 4 weeks, the last ending 30 September
    assert [w.label for w in week] == [
        "2016-09-03..2016-09-09",
        "2016-09-10..2016-09-16",
        "2016-09-17..2016-09-23",
        "2016-09-24..2016-09-30",
    ]
    assert str(week[0].start) == "2016-09-03 00:00:00-07:00"
    two, _ = nij_windows(table, "2w", min_train_days=28)
    assert [w.label for w in two] == ["2016-09-03..2016-09-16", "2016-09-17..2016-09-30"]
    month, _ = nij_windows(table, "1m", min_train_days=28)
    assert [w.label for w in month] == ["2016-08-31..2016-09-30"]  # 31 days, as March
    none, why = nij_windows(table, "2m", min_train_days=28)
    assert none == [] and "need 89 days; the data hold 61" in why
    assert nij_windows(table, "3m")[0] == []


def test_a_run_trains_only_before_each_period(tmp_path: Path) -> None:
    # training: 30 burglaries at one spot (A) in August; the month 31 Aug - 30 Sep: 3 at
    # A, 2 at B 3 km away. Naive counts flag A first, so n = 3 + (ties at 0) and n* = 5.
    a = (X0, Y0)
    b = (X0 + 10_000, Y0 + 10_000)
    rows = [
        ("BURGLARY", "PROPERTY CRIME", "BURGP", "BURGLARY - PRIORITY", f"{d:02d}/08/2016", *a)
        for d in range(1, 31)
    ]
    rows += [
        ("BURGLARY", "PROPERTY CRIME", "BURGP", "B", f"{d:02d}/09/2016", *a) for d in (1, 2, 3)
    ]
    rows += [("BURGLARY", "PROPERTY CRIME", "BURGP", "B", f"{d:02d}/09/2016", *b) for d in (10, 30)]
    # far corners so that the hull holds more than 58 cells
    rows += [("OTHER", "DISORDER", "NOISE", "N", "15/08/2016", X0 - 8000, Y0 + 12_000)]
    rows += [("OTHER", "DISORDER", "NOISE", "N", "15/08/2016", X0 + 14_000, Y0 - 6000)]
    f = write_calls(tmp_path / "run.csv", rows)
    run = run_nij(
        NijSpec(
            incident_files=(f,),
            categories=("burglary",),
            horizons=("1m", "2m"),
            methods=("naive:period_days=none",),
            hotspot_sq_mi=(0.25,),
        )
    )
    assert set(run.skipped) == {"2m"}
    assert len(run.rows) == 1
    r = run.rows.iloc[0]
    assert r["window"] == "2016-08-31..2016-09-30"
    assert r["n_train"] == 30  # the August calls only: none of the period's
    assert r["N"] == 5 and r["n_star"] == pytest.approx(5.0)
    # A is flagged (3 calls); B is one of the cells tied at zero risk: 19 of the
    # n_active - 1 tied cells are flagged, so B adds 2 * 19 / (n_active - 1)
    tied = run.grid.n_active - 1
    assert r["n"] == pytest.approx(3 + 2 * 19 / tied)
    assert r["pei_star"] == pytest.approx((3 + 2 * 19 / tied) / 5)
    # the same run from the command line writes the tables and says what it left out
    out = tmp_path / "out"
    cli = CliRunner().invoke(
        app,
        [
            "forecast",
            "nij",
            "--incidents",
            str(f),
            "--categories",
            "burglary",
            "--horizons",
            "1m,2m",
            "--methods",
            "naive:period_days=none",
            "--hotspot-sq-mi",
            "0.25",
            "--out",
            str(out),
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert "Not run: 2m: 61 days of forecast plus 28 of training need 89 days" in cli.output
    assert {p.name for p in out.iterdir()} == {
        "report.html",
        "rows.csv",
        "summary.csv",
        "summary.md",
        "settings.json",
    }
    # the report (found by a new-user test: nij alone of the forecast commands wrote none):
    # the PAI / PEI* of the hand-worked period, the category's call types, the data
    html = (out / "report.html").read_text("utf-8")
    k = run.settings["hotspot_cells"][0.25]
    assert f"{k} cells = {k * 600**2 / 5280**2:.3f} sq mi flagged (asked 0.25)" in html
    assert f"<td>{r['pai']:.2f} / {r['pei_star']:.3f}</td>" in html
    assert "<td>BURGP, PROWLP</td>" in html and "<td>Burglary</td>" in html
    assert "<td>2016-08-31..2016-09-30</td>" in html
    assert f"{len(rows):,} calls of run.csv" in html
    assert "Not run: 2m: 61 days of forecast plus 28 of training need 89 days" in html
    zh = CliRunner().invoke(
        app,
        [
            "forecast", "nij", "--incidents", str(f), "--categories", "burglary",
            "--horizons", "1m", "--methods", "naive:period_days=none",
            "--hotspot-sq-mi", "0.25", "--lang", "zh", "--out", str(tmp_path / "zh"),
        ],
    )  # fmt: skip
    assert zh.exit_code == 0, zh.output
    html_zh = (tmp_path / "zh" / "report.html").read_text("utf-8")
    assert '<html lang="zh-CN">' in html_zh
    assert f"标记 {k} 个网格 = {k * 600**2 / 5280**2:.3f} 平方英里（要求 0.25）" in html_zh
    assert f"<td>{r['pai']:.2f} / {r['pei_star']:.3f}</td>" in html_zh
    assert "<td>BURGP, PROWLP</td>" in html_zh and "计算所用数据" in html_zh


def test_a_category_table_without_a_label_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "cats.toml"
    bad.write_text('[burglary]\ncase_types = ["BURGP"]\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="label") as info:
        read_categories(bad)
    assert "burglary" in str(info.value)
