"""``xunfang serve`` and ``xunfang travel-time`` read the road network disk cache of plan,
deploy and simulate: a second start loads the network instead of building it. On the
SYNTHETIC hand-drawn block tests/fixtures/oneway_block.osm (four nodes A, B, C, D; see
tests/ingest/test_roads.py) inside a SYNTHETIC boundary square made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xunfang.errors import CacheWarning, DataFileError, ValidationError
from xunfang.ingest import roads as roads_module
from xunfang.ingest.city import City, resolve_city
from xunfang.serve import cli_travel
from xunfang.serve.api.geo import build_geo

BLOCK = Path(__file__).resolve().parents[1] / "fixtures" / "oneway_block.osm"


def _block_city(tmp_path: Path) -> City:
    boundary = tmp_path / "boundary.geojson"
    ring = [[121.469, 31.229], [121.472, 31.229], [121.472, 31.232], [121.469, 31.232]]
    boundary.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "block"},
                        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    }
                ],
            }
        )
    )
    return resolve_city(boundary=boundary, roads=BLOCK, data_dir=tmp_path)


def _count_builds(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_service_geography_loads_the_cached_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _count_builds(monkeypatch, City, "_build_road_network")
    cache = tmp_path / "cache"
    first = build_geo(None, tmp_path, city=_block_city(tmp_path), cache_dir=cache)
    # a restart (or another worker): a new City object, the same files and options
    second = build_geo(None, tmp_path, city=_block_city(tmp_path), cache_dir=cache)
    assert len(builds) == 1
    # A and B (C and D lie inside the simplified road piece B-C-D-A)
    assert first.network.node_ids.tolist() == second.network.node_ids.tolist() == [1, 2]
    np.testing.assert_array_equal(first.network.node_ids, second.network.node_ids)
    np.testing.assert_array_equal(first.network.node_xy, second.network.node_xy)
    assert (first.network.matrix != second.network.matrix).nnz == 0
    assert len(list((cache / "networks").glob("*.pkl"))) == 1
    # without a cache folder it is built every time
    build_geo(None, tmp_path, city=_block_city(tmp_path))
    assert len(builds) == 2


def test_travel_time_network_cached_stale_and_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _count_builds(monkeypatch, roads_module, "read_road_network")
    roads = tmp_path / "block.osm"
    roads.write_bytes(BLOCK.read_bytes())
    cache = tmp_path / "cache"
    crs = "EPSG:32651"  # UTM 51N, the zone of 121.47 E
    first = cli_travel.travel_network(roads, crs, "CN", cache_dir=cache)
    again = cli_travel.travel_network(roads, crs, "CN", cache_dir=cache)
    assert len(builds) == 1
    np.testing.assert_array_equal(first.node_ids, again.node_ids)
    assert (first.matrix != again.matrix).nnz == 0
    # another speed table is another entry: built
    cli_travel.travel_network(roads, crs, None, cache_dir=cache)
    assert len(builds) == 2
    # the road file changes: stale, rebuilt
    roads.write_bytes(BLOCK.read_bytes() + b"\n")
    cli_travel.travel_network(roads, crs, "CN", cache_dir=cache)
    assert len(builds) == 3
    # a damaged entry: rebuilt with the cache's warning, then loaded again
    (entry,) = (cache / "networks").glob("roads_block_osm-*.pkl")  # older ones removed
    entry.write_bytes(b"not a pickle")
    with pytest.warns(CacheWarning, match="unreadable.*rebuilding"):
        cli_travel.travel_network(roads, crs, "CN", cache_dir=cache)
    assert len(builds) == 4
    cli_travel.travel_network(roads, crs, "CN", cache_dir=cache)
    assert len(builds) == 4


def test_serve_workers_parent_writes_the_cache_the_workers_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --workers 2``: the parent builds the network into the cache once before the
    workers start; each worker's geography (geo_from_settings) then loads it."""
    from typer.testing import CliRunner

    from xunfang.serve.api import app as app_module
    from xunfang.serve.api.settings import ServeSettings
    from xunfang.serve.cli_serve import app

    builds = _count_builds(monkeypatch, City, "_build_road_network")
    handed: list[ServeSettings] = []
    monkeypatch.setattr(app_module, "prepare_database", lambda db, migrate: "head")
    monkeypatch.setattr(app_module, "run", lambda settings, geo, **kw: handed.append(settings))
    # the command sets the workers' city options in os.environ: restored (unset) afterwards
    monkeypatch.setenv(app_module.WORKER_CITY_ENV, "")
    _block_city(tmp_path)  # writes boundary.geojson
    cache = tmp_path / "cache"
    r = CliRunner().invoke(
        app,
        [
            "serve",
            "--workers",
            "2",
            "--boundary",
            str(tmp_path / "boundary.geojson"),
            "--roads",
            str(BLOCK),
            "--data-dir",
            str(tmp_path),
        ],
        env={
            "XUNFANG_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "XUNFANG_CACHE_DIR": str(cache),
        },
    )
    assert r.exit_code == 0, r.output
    assert len(builds) == 1 and len(list((cache / "networks").glob("*.pkl"))) == 1
    (settings,) = handed
    assert settings.cache_dir == cache
    for _ in range(2):  # what each worker runs at start
        geo = app_module.geo_from_settings(ServeSettings(**settings.model_dump()))
        assert geo.network.node_ids.tolist() == [1, 2]
    assert len(builds) == 1


def test_serve_refuses_a_plan_made_for_another_area(tmp_path: Path) -> None:
    """serve --plan-dir (district A's plan) --area B: refused (a tester's console showed
    A's booths over B's map); the plan's own area is served."""
    boundary = tmp_path / "two.geojson"
    west = [[121.469, 31.229], [121.4705, 31.229], [121.4705, 31.232], [121.469, 31.232]]
    east = [[121.4705, 31.229], [121.472, 31.229], [121.472, 31.232], [121.4705, 31.232]]
    boundary.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": name},
                        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    }
                    for name, ring in (("west", west), ("east", east))
                ],
            }
        )
    )
    city = resolve_city(boundary=boundary, roads=BLOCK, data_dir=tmp_path)
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "plan_summary.json").write_text(
        json.dumps({"area": "boundary:west", "city": city.to_dict()}), encoding="utf-8"
    )
    (plan / "sites.csv").write_text("name,kind,lon,lat\n")
    with pytest.raises(ValidationError, match=r"is for boundary:west, not boundary:east"):
        build_geo("boundary:east", tmp_path, plan_dir=plan)
    # the city plan folder above it: told to pick a district folder, whatever --area says
    (tmp_path / "city_summary.json").write_text("{}")
    with pytest.raises(DataFileError, match=r"this is a city plan; .* folder inside it \(plan\)"):
        build_geo("boundary:east", tmp_path, plan_dir=tmp_path)
