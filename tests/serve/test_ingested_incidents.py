"""``forecast evaluate`` / ``forecast predict`` read an ``xunfang ingest`` folder (or its
``.parquet``) with ``--boundary`` and no ``--profile``, as ``plan`` does: an ingested table
is read back as written and needs no profile. On the repository's synthetic Shanghai
example (examples/shanghai: made-up 110 calls)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from xunfang.serve.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples/shanghai"
AREA = [
    "--boundary",
    str(EXAMPLE / "boundary_gcj02.geojson"),
    "--boundary-name",
    "西片",
    "--frame",
    "gcj02",
]


def _run(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_forecast_reads_an_ingested_folder_without_a_profile(tmp_path: Path) -> None:
    raw = str(EXAMPLE / "incidents_110_synthetic.csv")
    mapping = str(EXAMPLE / "mapping_110.toml")
    _run(["ingest", raw, "--mapping", mapping, "--out", str(tmp_path / "ing")])
    evaluate = ["forecast", "evaluate", *AREA, "--windows", "3", "--methods", "naive,kde"]
    _run([*evaluate, "--incidents", raw, "--mapping", mapping, "--out", str(tmp_path / "a")])
    _run([*evaluate, "--incidents", str(tmp_path / "ing"), "--out", str(tmp_path / "b")])
    cols = ["method", "window", "fraction", "n_events", "hits", "hit_rate"]
    a = pd.read_csv(tmp_path / "a/results.csv")[cols]
    b = pd.read_csv(tmp_path / "b/results.csv")[cols]
    pd.testing.assert_frame_equal(a, b)
    assert a["n_events"].sum() > 0  # the same calls scored, not two empty runs
    predict = ["forecast", "predict", *AREA]
    _run([*predict, "--incidents", raw, "--mapping", mapping, "--out", str(tmp_path / "c")])
    table = str(tmp_path / "ing/incidents.parquet")
    _run([*predict, "--incidents", table, "--out", str(tmp_path / "d")])
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "c/hotspots.csv"), pd.read_csv(tmp_path / "d/hotspots.csv")
    )


def test_forecast_evaluate_of_the_baseline_alone(tmp_path: Path) -> None:
    # --methods naive (the baseline alone: no pair to test) crashed with KeyError 'method'
    # after printing its table
    raw = str(EXAMPLE / "incidents_110_synthetic.csv")
    mapping = str(EXAMPLE / "mapping_110.toml")
    evaluate = ["forecast", "evaluate", *AREA, "--windows", "3", "--incidents", raw]
    _run([*evaluate, "--mapping", mapping, "--methods", "naive", "--out", str(tmp_path / "n")])
    rows = pd.read_csv(tmp_path / "n/results.csv")
    assert set(rows["method"].str.split(":").str[0]) == {"naive"}
    assert rows["n_events"].sum() > 0
