"""The plan's patrol sectors in the service: ``/api/map/sectors`` behind the same rules as
the other map layers, with each sector's site id for the officer's page; recommendations say
when a call lies outside the unit's own sector.

Synthetic sectors on the road grid of ``grid_geo.py``: the western half (columns 0-4) is
Station A's, the north-east quarter B02's, the south-east quarter B01's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
from grid_geo import CRS, STEP_M, X0, Y0, lonlat, synthetic_geo
from serve_support import ADM, ANA, DISP, OFF, app_client
from shapely.geometry import box

HALF = 4.5 * STEP_M


def sectors_text() -> str:
    top = Y0 + 9 * STEP_M
    right = X0 + 9 * STEP_M
    frame = gpd.GeoDataFrame(
        {
            "name": ["Station A", "B01", "B02"],
            "kind": ["station", "booth", "booth"],
            "sector": [0, 1, 2],
            "workload": [50.0, 30.0, 20.0],
        },
        geometry=[
            box(X0, Y0, X0 + HALF, top),
            box(X0 + HALF, Y0, right, Y0 + HALF),
            box(X0 + HALF, Y0 + HALF, right, top),
        ],
        crs=CRS,
    )
    return str(frame.to_crs("EPSG:4326").to_json(drop_id=True))


def test_sectors_endpoint_roles_and_content(tmp_path: Path) -> None:
    geo = replace(synthetic_geo(), sectors_geojson=sectors_text())
    with app_client(f"sqlite:///{tmp_path / 'x.db'}", geo=geo) as client:
        assert client.get("/api/map/sectors").status_code == 401
        bad = {"Authorization": "Bearer nonsense"}
        assert client.get("/api/map/sectors", headers=bad).status_code == 401
        ids = {s["name"]: s["id"] for s in client.get("/api/sites", headers=ANA).json()}
        for who in (OFF, DISP, ANA, ADM):
            r = client.get("/api/map/sectors", headers=who)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/geo+json"
            props = [f["properties"] for f in r.json()["features"]]
            assert [(p["name"], p["kind"], p["sector"], p["workload"]) for p in props] == [
                ("Station A", "station", 0, 50.0),
                ("B01", "booth", 1, 30.0),
                ("B02", "booth", 2, 20.0),
            ]
            assert [p["site_id"] for p in props] == [ids["Station A"], ids["B01"], ids["B02"]]
        # B01's sector: the south-east quarter, in WGS-84 degrees near the Loop
        b01 = client.get("/api/map/sectors", headers=OFF).json()["features"][1]["geometry"]
        lons = [c[0] for c in b01["coordinates"][0]]
        lats = [c[1] for c in b01["coordinates"][0]]
        assert -87.64 < min(lons) < max(lons) < -87.61 and 41.87 < min(lats) < max(lats) < 41.89
        assert client.get("/api/meta", headers=OFF).json()["sectors"] is True
        # a call at grid node (1, 1), in Station A's sector: its patrols stay in their
        # sector, the booth units would leave theirs
        call = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))
        r = client.post("/api/calls", json={"call_type": "theft", **call}, headers=DISP)
        assert r.status_code == 201, r.text
        recs = client.get(
            f"/api/calls/{r.json()['id']}/recommendations", params={"k": 4}, headers=DISP
        ).json()["units"]
        flags = {u["unit_id"]: u["outside_own_sector"] for u in recs}
        assert len(flags) == 4
        for unit_id, flag in flags.items():
            assert flag is (not unit_id.startswith("StationA")), (unit_id, flag)
        # the officer's page draws its own sector: the page and its script are served
        assert "layer-sectors" in client.get("/field").text
        assert "drawSectors" in client.get("/static/field.js").text


def test_no_sectors_gives_an_empty_layer(tmp_path: Path) -> None:
    with app_client(f"sqlite:///{tmp_path / 'x.db'}") as client:
        r = client.get("/api/map/sectors", headers=DISP)
        assert r.status_code == 200 and r.json() == {"type": "FeatureCollection", "features": []}
        assert client.get("/api/meta", headers=DISP).json()["sectors"] is False
        call = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))
        r = client.post("/api/calls", json={"call_type": "theft", **call}, headers=DISP)
        recs = client.get(f"/api/calls/{r.json()['id']}/recommendations", headers=DISP).json()
        assert {u["outside_own_sector"] for u in recs["units"]} == {None}
