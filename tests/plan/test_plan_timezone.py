"""``serve --plan-dir`` of a plan made with ``--boundary`` (a city with no time zone) takes
the clock of the plan's incidents, recorded in ``plan_summary.json``, not UTC. Synthetic
summaries, written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xunfang.plan.booth_plan import read_plan_record


def _summary(tmp_path: Path, **extra: object) -> Path:
    boundary = tmp_path / "b.geojson"
    boundary.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    city = {"name": "b", "boundaries": [{"kind": "boundary", "file": str(boundary)}]}
    doc = {"area": "boundary:我的辖区", "output_frame": "gcj02", "city": city, **extra}
    (tmp_path / "plan_summary.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "extra",
    [
        {"incident_timezone": "Asia/Shanghai"},  # as plans write it now
        {"ingest": {"timezone": "Asia/Shanghai"}},  # an earlier plan of raw 110 files
    ],
)
def test_a_plan_city_without_a_timezone_takes_its_incidents(
    tmp_path: Path, extra: dict[str, object]
) -> None:
    assert read_plan_record(_summary(tmp_path, **extra)).city.timezone == "Asia/Shanghai"  # type: ignore[union-attr]


def test_a_city_timezone_wins_and_none_recorded_stays_none(tmp_path: Path) -> None:
    assert read_plan_record(_summary(tmp_path)).city.timezone is None  # type: ignore[union-attr]
    doc = json.loads((tmp_path / "plan_summary.json").read_text(encoding="utf-8"))
    doc["city"]["timezone"] = "America/Chicago"
    doc["incident_timezone"] = "Asia/Shanghai"
    (tmp_path / "plan_summary.json").write_text(json.dumps(doc), encoding="utf-8")
    assert read_plan_record(tmp_path).city.timezone == "America/Chicago"  # type: ignore[union-attr]
