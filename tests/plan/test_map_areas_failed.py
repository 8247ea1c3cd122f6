"""The city runs (plan, deploy, simulate) share map_areas: with ``failed`` given a district's
XunfangError is recorded and the others run; the summary tables list the failed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from xunfang.errors import DataFileError, ValidationError
from xunfang.plan.city_plan import AreaJob, map_areas, write_summary_tables


def _task(area: str) -> tuple[str, dict[str, object]]:
    if area == "district:2":
        raise ValidationError("no incidents inside district:2: check the files")
    if area == "district:3":
        raise DataFileError("x.csv", "unreadable")
    return area.upper(), {"area": area, "booths": int(area[-1])}


def _jobs() -> list[AreaJob]:
    return [AreaJob(a, (a,)) for a in ("district:1", "district:2", "district:3", "district:4")]


def test_failed_districts_are_recorded_and_the_others_run() -> None:
    done: list[str] = []
    failed: dict[str, str] = {}
    out = map_areas(_task, _jobs(), on_done=lambda full, s: done.append(full), failed=failed)
    assert list(out) == ["district:1", "district:4"] and done == ["DISTRICT:1", "DISTRICT:4"]
    assert failed == {
        "district:2": "no incidents inside district:2: check the files",
        "district:3": "x.csv: unreadable",
    }
    # without failed: the first error stops the run
    with pytest.raises(ValidationError, match="no incidents inside district:2"):
        map_areas(_task, _jobs())


def test_summary_tables_list_the_failed_districts(tmp_path: Path) -> None:
    rows = [{"area": "district:1", "booths": 1}, {"area": "district:4", "booths": 4}]
    totals = {"districts": 2, "booths": 5}
    write_summary_tables(rows, totals, tmp_path, "s", failed={"district:2": "no incidents"})
    doc = json.loads((tmp_path / "s.json").read_text("utf-8"))
    assert [d["area"] for d in doc["districts"]] == ["district:1", "district:4"]
    assert doc["failed"] == [{"area": "district:2", "reason": "no incidents"}]
    table = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    assert table["area"].tolist() == ["district:1", "district:4", "district:2"]
    assert table["failed"].tolist() == ["", "", "no incidents"]
    assert table["booths"].tolist() == ["1", "4", ""]  # written 1, not 1.0
    # nothing failed: the files as before (no failed column or key)
    write_summary_tables(rows, totals, tmp_path, "ok")
    assert "failed" not in json.loads((tmp_path / "ok.json").read_text("utf-8"))
    assert "failed" not in pd.read_csv(tmp_path / "ok.csv").columns


def test_on_a_cluster_a_failed_district_logs_no_worker_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from distributed import Client, LocalCluster

    caplog.set_level(logging.INFO, logger="distributed")
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        failed: dict[str, str] = {}
        out = map_areas(_task, _jobs(), client=client, failed=failed)
        assert sorted(out) == ["district:1", "district:4"]
        assert failed == {
            "district:2": "no incidents inside district:2: check the files",
            "district:3": "x.csv: unreadable",
        }
        # the failures are reported once, as failed districts: no worker error nor traceback
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
        # without failed: the first error still passes through
        with pytest.raises((ValidationError, DataFileError)):
            map_areas(_task, _jobs(), client=client)
