"""The simulation of any city: a scenario that names a city file (the example city:
OpenStreetMap streets of central Shanghai, SYNTHETIC 110 calls of March 2024)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunfang.config import Settings
from xunfang.ingest.city import City
from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
from xunfang.serve.report import write_plan
from xunfang.simulate.runner import prepare
from xunfang.simulate.scenario import load_scenario

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"


@pytest.mark.realdata
def test_scenario_with_a_city_file(data_dir: Path, tmp_path: Path) -> None:
    if not (data_dir / "shanghai-osm/central_shanghai_drive.osm").is_file():
        pytest.skip("no Shanghai extract")
    settings = Settings(data_dir=data_dir, cache_dir=tmp_path / "cache")
    city = City.from_toml(EXAMPLE / "city.toml", data_dir=data_dir)
    plan = make_booth_plan(PlanConfig(city=city, booths=4, threshold_min=2.0), settings)
    # GCJ-02 in the plan's files: the simulation reads them back to WGS-84
    write_plan(plan, tmp_path / "plan", output_frame="gcj02")
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        "[scenario]\n"
        f'city = "{EXAMPLE / "city.toml"}"\n'
        'area = "西片,东片"\nmonth = "2024-03"\nreplications = 1\n'
        'compare = ["stations", "booths"]\n'
        "[calls]\ntraining_months = 1\n"
        f'[plan]\nsites_csv = "{tmp_path / "plan" / "sites.csv"}"\n',
        encoding="utf-8",
    )
    prep = prepare(load_scenario(scenario), settings)
    assert prep.area.members == ("西片", "东片")
    # the same network as the plan's (same recipe), so the sites land on the plan's nodes
    np.testing.assert_allclose(prep.network.node_xy, plan.network.node_xy)
    by_name = dict(prep.stations + prep.booths)
    for _, site in plan.sites.iterrows():
        assert by_name[site["name"]] == site["node"]
    assert len(prep.stations) == 3 and len(prep.booths) == 4
    # every incident of March inside the area is replayed (no month in the file's name)
    assert len(prep.incidents.heldout) == len(plan.incidents)
    months = pd.DatetimeIndex(prep.incidents.heldout["local"]).to_period("M").astype(str)
    assert set(months) == {"2024-03"}
