"""The dispatch API in process, on the hand-made 10 x 10 grid (serve_support.py).

Road times on the grid: 20 s per 200 m block. A call at node (1, 1) is 2 blocks = 40 s
from the station patrols at (0, 0), 8 blocks = 160 s from booth B01 at (5, 5) and
16 blocks = 320 s from booth B02 at (9, 9).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from serve_support import (
    ADM,
    ANA,
    DISP,
    DISP2,
    OFF,
    OFF2,
    TestClient,
    app_client,
    auth,
    database_url,
    lonlat,
    synthetic_geo,
)
from sqlalchemy import func, select, text
from starlette.websockets import WebSocketDisconnect

from xunfang.errors import ValidationError
from xunfang.serve.api.app import ROUTERS, WEB_DIR, create_app, prepare_database
from xunfang.serve.api.calltypes import CALL_TYPES, check_call_types
from xunfang.serve.api.deps import RoleGuard
from xunfang.serve.api.intake import IntakeWriter
from xunfang.serve.api.kpi import StatusChange, duty_summary, median_p90
from xunfang.serve.api.security import (
    Principal,
    Role,
    create_token,
    decode_token,
    mask_name,
    mask_phone,
)
from xunfang.serve.api.settings import DEV_SECRET_KEY, ServeSettings
from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.models import AuditEntry, Call

CALL_AT_11 = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path) as url, app_client(url) as client:
        yield client


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[TestClient]:
    with database_url("sqlite", tmp_path) as url, app_client(url) as client:
        yield client


def _call(client: TestClient, **extra: object) -> dict:  # type: ignore[type-arg]
    body = {"call_type": "theft", **CALL_AT_11, **extra}
    r = client.post("/api/calls", json=body, headers=DISP)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _recs(client: TestClient, call_id: int, k: int = 3) -> list[tuple[str, float]]:
    r = client.get(f"/api/calls/{call_id}/recommendations", params={"k": k}, headers=DISP)
    assert r.status_code == 200, r.text
    return [(u["unit_id"], round(u["eta_s"], 6)) for u in r.json()["units"]]


def _status(client: TestClient, unit: str, status: str, headers: dict[str, str] = DISP) -> int:
    return client.post(
        f"/api/units/{unit}/status", json={"status": status}, headers=headers
    ).status_code


# ---------------------------------------------------------------------------- lifecycle
def test_call_lifecycle_recommend_dispatch_and_response_times(api: TestClient) -> None:
    call = _call(api, caller_name="张三", caller_phone="13800138000")
    assert (call["status"], call["type_group"], call["priority"]) == ("received", "property", 3)
    cid = call["id"]
    assert _recs(api, cid) == [("StationA-P1", 40.0), ("StationA-P2", 40.0), ("B01", 160.0)]

    r = api.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "StationA-P1"}, headers=DISP)
    assert r.status_code == 200 and (r.json()["status"], r.json()["unit_id"]) == (
        "dispatched",
        "StationA-P1",
    )
    # the dispatched unit is no longer recommended
    assert _recs(api, cid) == [("StationA-P2", 40.0), ("B01", 160.0), ("B02", 320.0)]
    # a taken unit and a taken call are both refused with 409
    other = _call(api, call_type="dispute")["id"]
    r = api.post(f"/api/calls/{other}/dispatch", json={"unit_id": "StationA-P1"}, headers=DISP)
    assert r.status_code == 409 and "not available" in r.json()["detail"]
    r = api.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP)
    assert r.status_code == 409 and "cannot go from dispatched to dispatched" in r.json()["detail"]

    assert _status(api, "StationA-P1", "en_route") == 200
    r = api.post("/api/units/StationA-P1/status", json={"status": "available"}, headers=DISP)
    assert (
        r.status_code == 409
        and (
            "is en_route on call 1, not on scene: it becomes available by clearing the call from "
            "the scene (report on_scene first)"
        )
        in r.json()["detail"]
    )
    assert _status(api, "StationA-P1", "on_scene") == 200
    unit = api.get("/api/units/StationA-P1", headers=DISP).json()
    assert (unit["status"], unit["lon"], unit["lat"]) == ("on_scene", call["lon"], call["lat"])
    assert _status(api, "StationA-P1", "available") == 200

    detail = api.get(f"/api/calls/{cid}", headers=DISP).json()
    assert [h["status"] for h in detail["history"]] == [
        "received",
        "dispatched",
        "en_route",
        "on_scene",
        "cleared",
    ]
    assert {h["actor"] for h in detail["history"]} == {"disp"}
    t = {
        k: dt.datetime.fromisoformat(detail[k]).timestamp()
        for k in detail
        if k.endswith("_at") and detail[k]
    }
    assert detail["call_processing_s"] == pytest.approx(t["dispatched_at"] - t["received_at"])
    assert detail["dispatch_delay_s"] == pytest.approx(t["en_route_at"] - t["dispatched_at"])
    assert detail["travel_s"] == pytest.approx(t["on_scene_at"] - t["en_route_at"])
    assert detail["response_s"] == pytest.approx(t["on_scene_at"] - t["received_at"])
    assert detail["on_scene_time_s"] == pytest.approx(t["cleared_at"] - t["on_scene_at"])
    # cleared at (1, 1), the unit drives back to its post at (0, 0): 2 blocks = 40 s
    unit = api.get("/api/units/StationA-P1", headers=DISP).json()
    assert (unit["status"], unit["call_id"]) == ("returning", None)
    back_at = dt.datetime.fromisoformat(unit["return_eta_at"]).timestamp()
    assert back_at - t["cleared_at"] == pytest.approx(40.0)
    open_ids = [c["id"] for c in api.get("/api/calls", params={"open": True}, headers=DISP).json()]
    assert open_ids == [other]


def test_cancel_frees_the_unit(lite: TestClient) -> None:
    cid = _call(lite)["id"]
    assert (
        lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP).status_code
        == 200
    )
    r = lite.post(f"/api/calls/{cid}/cancel", headers=DISP)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert lite.get("/api/units/B01", headers=DISP).json()["status"] == "available"
    assert lite.post(f"/api/calls/{cid}/cancel", headers=DISP).status_code == 409
    assert lite.post("/api/calls/999/cancel", headers=DISP).status_code == 404
    r = lite.post("/api/calls/1/dispatch", json={"unit_id": "NOPE"}, headers=DISP)
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]


def test_a_failed_write_leaves_nothing_half_done(
    lite: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _call(lite)["id"]

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # the unit and call updates succeed, then the audit insert fails: all is rolled back
    monkeypatch.setattr(repo, "audit", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP)
    monkeypatch.undo()
    assert lite.get("/api/units/B01", headers=DISP).json()["status"] == "available"
    detail = lite.get(f"/api/calls/{cid}", headers=DISP).json()
    assert (detail["status"], detail["unit_id"], len(detail["history"])) == ("received", None, 1)


# ---------------------------------------------------------------------------- security
def test_every_route_checks_a_role(tmp_path: Path) -> None:
    app = create_app(ServeSettings(database_url=f"sqlite:///{tmp_path / 'x.db'}"), synthetic_geo())
    open_routes = {("POST", "/api/auth/token"), ("GET", "/api/health")}

    def guarded(dependant) -> bool:  # type: ignore[no-untyped-def]
        return any(isinstance(d.call, RoleGuard) or guarded(d) for d in dependant.dependencies)

    checked = set()
    for module in ROUTERS:
        for route in module.router.routes:
            if not isinstance(route, APIRoute):
                continue
            for method in route.methods:
                if (method, route.path) in open_routes:
                    continue
                assert guarded(route.dependant), f"{method} {route.path} has no role check"
                checked.add((method, route.path))
    published = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert published == checked | open_routes  # no route escaped the check
    assert len(checked) >= 20


def test_roles_and_tokens(lite: TestClient) -> None:
    assert lite.get("/api/calls").status_code == 401
    assert lite.get("/api/calls", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    expired, _ = create_token(Principal("disp", Role.DISPATCHER), DEV_SECRET_KEY, 60, now=old)
    r = lite.get("/api/calls", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    forged, _ = create_token(Principal("x", Role.ADMIN), "another-secret-of-at-least-32-chars!", 60)
    assert lite.get("/api/audit", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

    body = {"call_type": "theft", **CALL_AT_11}
    assert lite.post("/api/calls", json=body, headers=ANA).status_code == 403
    assert lite.post("/api/calls", json=body, headers=OFF).status_code == 403
    cid = _call(lite)["id"]
    r = lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=OFF)
    assert r.status_code == 403 and "role officer may not" in r.json()["detail"]
    assert lite.get("/api/kpis", headers=ANA).status_code == 200
    assert lite.get("/api/kpis", headers=OFF).status_code == 403
    assert lite.get("/api/audit", headers=DISP).status_code == 403
    assert lite.get("/api/users", headers=DISP).status_code == 403
    assert (
        lite.post(
            "/api/units", json={"id": "X1", "kind": "patrol", "site": "B01"}, headers=DISP
        ).status_code
        == 403
    )
    # officers report for their own unit only
    assert _status(lite, "B02", "out_of_service", OFF) == 403
    assert _status(lite, "B01", "out_of_service", OFF) == 200
    assert _status(lite, "B01", "available", OFF) == 200
    assert _status(lite, "B01", "en_route", OFF) == 409  # no call to go to


def test_login_with_password_and_audit_of_failures(lite: TestClient) -> None:
    bad = lite.post("/api/auth/token", data={"username": "disp", "password": "wrong-password"})
    assert bad.status_code == 401
    assert (
        lite.post("/api/auth/token", data={"username": "ghost", "password": "x" * 9}).status_code
        == 401
    )
    good = lite.post("/api/auth/token", data={"username": "disp", "password": "pw-disp-1"})
    assert good.status_code == 200 and good.json()["role"] == "dispatcher"
    token = good.json()["access_token"]
    assert decode_token(token, DEV_SECRET_KEY) == Principal("disp", Role.DISPATCHER, None)
    me = lite.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"username": "disp", "role": "dispatcher", "unit_id": None, "sees_caller": True}
    audit = lite.get("/api/audit", headers=ADM).json()
    assert [(a["action"], a["username"]) for a in audit if a["action"].startswith("auth")] == [
        ("auth.login", "disp"),
        ("auth.login_failed", "(unknown)"),
        ("auth.login_failed", "disp"),
    ]


def test_caller_details_are_masked_for_officers_and_analysts(lite: TestClient) -> None:
    cid = _call(lite, caller_name="张三丰", caller_phone="13800138000")["id"]
    full = lite.get(f"/api/calls/{cid}", headers=DISP).json()
    assert (full["caller_name"], full["caller_phone"]) == ("张三丰", "13800138000")
    for headers in (ANA, OFF):
        one = lite.get(f"/api/calls/{cid}", headers=headers).json()
        assert (one["caller_name"], one["caller_phone"]) == ("张*", "138****8000")
        (listed,) = lite.get("/api/calls", headers=headers).json()
        assert (listed["caller_name"], listed["caller_phone"]) == ("张*", "138****8000")
    assert (mask_name("Alice"), mask_phone("+1 (312) 555-0100")) == ("A*", "131****0100")
    assert (mask_name(None), mask_phone("12")) == (None, "***")


def test_caller_details_never_reach_the_logs(
    lite: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    name, phone = "Zhang Weiqiang", "13977310042"
    cid = _call(lite, caller_name=name, caller_phone=phone, description="wallet taken")["id"]
    lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP)
    lite.get(f"/api/calls/{cid}", headers=ANA)
    # a refused call: the offending value is not echoed back either
    r = lite.post(
        "/api/calls",
        json={"call_type": "theft", **CALL_AT_11, "caller_phone": phone + "x"},
        headers=DISP,
    )
    assert r.status_code == 422 and phone not in r.text
    assert any("call 1 received" in rec.getMessage() for rec in caplog.records)
    for rec in caplog.records:
        text_ = rec.getMessage() + repr(rec.args)
        assert name not in text_ and phone not in text_ and "wallet" not in text_
    audit = json.dumps(lite.get("/api/audit", headers=ADM).json())
    assert name not in audit and phone not in audit


def test_unsafe_settings_are_refused_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    ServeSettings(database_url=url).check()  # development: the default key is fine
    with pytest.raises(ValidationError, match="XUNFANG_SECRET_KEY must be set"):
        ServeSettings(database_url=url, env="production").check()
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ServeSettings(database_url=url, env="production", secret_key="short").check()  # type: ignore[arg-type]
    strong = "k" * 48
    with pytest.raises(ValidationError, match="CORS_ORIGINS must not contain"):
        ServeSettings(
            database_url=url, env="production", secret_key=strong, cors_origins=["*"]
        ).check()  # type: ignore[arg-type]
    ServeSettings(database_url=url, env="production", secret_key=strong).check()  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="XUNFANG_SECRET_KEY"):
        create_app(ServeSettings(database_url=url, env="production"), synthetic_geo())
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        ServeSettings(database_url=url, timezone="Mars/Olympus").check()


# ---------------------------------------------------------------------------- bad input
BAD_CALLS: list[tuple[object, str]] = [
    ({"call_type": "theft", "lon": 200.0, "lat": 41.88}, "lon"),
    ({"call_type": "theft", "lon": -87.63, "lat": "north"}, "lat"),
    ({"call_type": "theft", "lon": -87.63}, "lat"),
    ({"call_type": "alien_landing", **CALL_AT_11}, "call_type"),
    ({"call_type": "theft", "lon": 116.39, "lat": 39.9}, "lon"),  # Beijing: outside the area
    ({"call_type": "theft", **CALL_AT_11, "frame": "utm"}, "frame"),
    ({"call_type": "theft", **CALL_AT_11, "priority": 9}, "priority"),
    ({"call_type": "theft", **CALL_AT_11, "caller_phone": "call me"}, "caller_phone"),
    ({"call_type": "theft", **CALL_AT_11, "description": "a\x00b"}, "description"),
    ({"call_type": "theft", **CALL_AT_11, "caller_name": "x\ny"}, "caller_name"),
    ({"call_type": "theft", **CALL_AT_11, "sneaky": 1}, "sneaky"),
    ([1, 2, 3], "body"),
    (b'{"call_type": "theft", "lon": -87.6', "body"),
    (b'{"call_type": "theft", "lon": NaN, "lat": 41.88}', "lon"),
]


def test_bad_calls_are_422_naming_the_field_and_write_nothing(api: TestClient) -> None:
    for body, field in BAD_CALLS:
        if isinstance(body, bytes):
            r = api.post(
                "/api/calls", content=body, headers={**DISP, "Content-Type": "application/json"}
            )
        else:
            r = api.post("/api/calls", json=body, headers=DISP)
        assert r.status_code == 422, (body, r.text)
        fields = [d["field"] for d in r.json()["detail"]]
        assert field in fields, (body, fields)
    assert api.get("/api/calls", headers=DISP).json() == []
    actions = {a["action"] for a in api.get("/api/audit", headers=ADM).json()}
    assert "call.create" not in actions
    # positions of units and alerts are checked the same way
    r = api.post("/api/units/B01/position", json={"lon": 116.39, "lat": 39.9}, headers=DISP)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lon"
    r = api.post("/api/alerts", json={"description": "x", "lon": -87.63, "lat": 95}, headers=DISP)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lat"
    r = api.get("/api/recommend", params={"lon": 116.39, "lat": 39.9}, headers=DISP)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "lon"]
    r = api.post("/api/units/bad%20id!/status", json={"status": "en_route"}, headers=DISP)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit_id"
    assert api.get("/api/alerts", headers=DISP).json() == []


def test_booleans_are_refused_for_number_fields(lite: TestClient) -> None:
    """Lax pydantic read ``"priority": true`` as priority 1; JSON true/false is no number."""
    for key, value in (("priority", True), ("priority", False), ("lon", True)):
        body = {"call_type": "theft", **CALL_AT_11, key: value}
        r = lite.post("/api/calls", json=body, headers=DISP)
        assert r.status_code == 422, (key, value, r.text)
        detail = r.json()["detail"][0]
        assert detail["field"] == key
        assert f"expected a number or text, not {str(value).lower()}" in detail["msg"]
    unit = {"id": "T1", "kind": "patrol", **CALL_AT_11, "crew": True}
    r = lite.post("/api/units", json=unit, headers=ADM)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "crew"
    r = lite.post("/api/units", json={**unit, "speed_factor": True, "crew": 2}, headers=ADM)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "speed_factor"
    assert lite.get("/api/calls", headers=DISP).json() == []
    # a number is taken as before
    r = lite.post(
        "/api/calls", json={"call_type": "theft", **CALL_AT_11, "priority": 1}, headers=DISP
    )
    assert r.status_code == 201 and r.json()["priority"] == 1


def test_repeated_keys_in_a_body_are_422_naming_the_key(lite: TestClient) -> None:
    """Python's parser would keep the last ``lon``; the service refuses the call instead."""
    lon, lat = CALL_AT_11["lon"], CALL_AT_11["lat"]
    body = f'{{"call_type": "theft", "lon": {lon}, "lat": {lat}, "lon": {lon + 0.01}}}'
    for content_type in ("application/json", "application/merge-patch+json", None):
        headers = {**DISP, **({"Content-Type": content_type} if content_type else {})}
        r = lite.post("/api/calls", content=body.encode(), headers=headers)
        assert r.status_code == 422, (content_type, r.text)
        detail = r.json()["detail"]
        assert detail == [
            {
                "loc": ["body", "lon"],
                "field": "lon",
                "msg": "duplicate key 'lon' in a JSON object (line 1): each key may appear once",
                "type": "json_duplicate_key",
            }
        ]
        assert r.headers["cache-control"] == "no-store"
    assert lite.get("/api/calls", headers=DISP).json() == []
    # nested, in another router: a unit's status
    r = lite.post(
        "/api/units/B01/status",
        content=b'{"status": "en_route",\n "status": "available"}',
        headers={**DISP, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "status"
    assert "(line 2)" in r.json()["detail"][0]["msg"]
    # the same body without the repeat is taken
    ok = f'{{"call_type": "theft", "lon": {lon}, "lat": {lat}}}'
    r = lite.post(
        "/api/calls", content=ok.encode(), headers={**DISP, "Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    # the live feed's first message
    with lite.websocket_connect("/ws") as ws:
        token = DISP["Authorization"].split()[1]
        ws.send_text(f'{{"token": "{token}", "token": "x"}}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401 and "duplicate key 'token'" in closed.value.reason


def test_json_nested_beyond_the_parser_limit_is_422_not_a_crash(lite: TestClient) -> None:
    """30,000 nested arrays (60 KB, under the body limit) made Python's parser raise
    RecursionError: a 500 from the service and a dropped live feed. Refused instead."""
    deep = b"[" * 30_000 + b"]" * 30_000
    r = lite.post("/api/calls", content=deep, headers={**DISP, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {
            "loc": ["body"],
            "msg": "JSON nested too deeply (arrays or objects inside each other beyond the "
            "parser's limit of about 1,000 levels)",
            "type": "json_too_deep",
        }
    ]
    assert lite.get("/api/calls", headers=DISP).json() == []
    with lite.websocket_connect("/ws") as ws:
        ws.send_text('{"a":' * 10_000 + "1" + "}" * 10_000)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401 and "nested too deeply" in closed.value.reason


# ---------------------------------------------------------------------------- alerts, feed
def test_alert_reaches_units_within_minutes_and_tracks_acks(lite: TestClient) -> None:
    lon, lat = lonlat(5, 4)  # B01 one block away (20 s); patrols and B02 9 blocks (180 s)
    with lite.websocket_connect("/ws") as ws_b01, lite.websocket_connect("/ws") as ws_b02:
        ws_b01.send_json({"token": OFF["Authorization"].split()[1]})
        ws_b02.send_json({"token": OFF2["Authorization"].split()[1]})
        assert ws_b01.receive_json()["type"] == ws_b02.receive_json()["type"] == "hello"
        r = lite.post(
            "/api/alerts",
            json={"description": "suspect, red jacket", "lon": lon, "lat": lat, "within_min": 1},
            headers=OFF2,  # a patrol's sighting
        )
        assert r.status_code == 201
        alert = r.json()
        assert [(x["unit_id"], x["eta_s"]) for x in alert["recipients"]] == [("B01", 20.0)]
        got = ws_b01.receive_json()
        assert (got["type"], got["data"]["id"]) == ("alert.created", alert["id"])
        # B02 was not a recipient: the next thing it hears is a unit update, not the alert
        _status(lite, "B02", "out_of_service")
        assert ws_b02.receive_json()["type"] == "unit.updated"
    wide = lite.post(
        "/api/alerts",
        json={"description": "car", "lon": lon, "lat": lat, "within_min": 3},
        headers=DISP,
    ).json()
    assert sorted((x["unit_id"], x["eta_s"]) for x in wide["recipients"]) == [
        ("B01", 20.0),
        ("StationA-P1", 180.0),
        ("StationA-P2", 180.0),
    ]  # B02 is out of service
    aid = alert["id"]
    first = lite.post(f"/api/alerts/{aid}/ack", json={}, headers=OFF).json()
    assert (first["acked"], first["pending"], first["recipients"][0]["acked_by"]) == (1, 0, "off")
    again = lite.post(f"/api/alerts/{aid}/ack", json={}, headers=OFF).json()
    assert again["recipients"][0]["acked_at"] == first["recipients"][0]["acked_at"]
    r = lite.post(f"/api/alerts/{aid}/ack", json={}, headers=OFF2)
    assert r.status_code == 404 and "not sent to unit B02" in r.json()["detail"]
    r = lite.post(f"/api/alerts/{aid}/ack", json={"unit_id": "B01"}, headers=OFF2)
    assert r.status_code == 403
    assert [a["id"] for a in lite.get("/api/alerts", headers=OFF2).json()] == []
    assert [a["id"] for a in lite.get("/api/alerts", headers=OFF).json()] == [wide["id"], aid]


def test_a_sighting_goes_to_the_nearest_available_units_and_busy_ones_only_to_make_up(
    lite: TestClient,
) -> None:
    # found by a new-user test: a sighting was sent to units on a call as well. Synthetic
    # grid, 20 s a block: from (5, 6) B01 is 1 block (20 s), B02 7 (140 s), the two
    # patrols at the station 11 (220 s).
    lon, lat = lonlat(5, 6)
    cid = _call(lite)["id"]
    r = lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP)
    assert r.status_code == 200  # B01, the nearest, is now busy

    def alert(headers: dict[str, str], **body: object) -> dict:  # type: ignore[type-arg]
        r = lite.post(
            "/api/alerts",
            json={"description": "grey van", "lon": lon, "lat": lat, **body},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def sent(a: dict) -> list[tuple[str, float, bool]]:  # type: ignore[type-arg]
        return [(x["unit_id"], x["eta_s"], x["busy"]) for x in a["recipients"]]

    with lite.websocket_connect("/ws") as ws_b01, lite.websocket_connect("/ws") as ws_b02:
        ws_b01.send_json({"token": OFF["Authorization"].split()[1]})
        ws_b02.send_json({"token": OFF2["Authorization"].split()[1]})
        assert ws_b01.receive_json()["type"] == ws_b02.receive_json()["type"] == "hello"
        # one unit asked, within 5 min: the nearest available (B02), not busy B01 at 20 s
        one = alert(DISP, units=1, within_min=5)
        assert (sent(one), one["units"]) == ([("B02", 140.0, False)], 1)
        got = ws_b02.receive_json()
        assert (got["type"], got["data"]["id"]) == ("alert.created", one["id"])
        # B01 did not hear it: the next thing on its feed is a unit update
        assert _status(lite, "StationA-P2", "out_of_service") == 200
        assert ws_b01.receive_json()["type"] == "unit.updated"
        # two asked within 3 min (180 s): only B02 is available there, so the nearest busy
        # unit makes up the number, marked busy, and hears it on its feed
        by_b02 = alert(OFF2, units=2, within_min=3)  # a patrol's sighting: B02 reports it
        assert sent(by_b02) == [("B01", 20.0, True)]  # the reporter is never a recipient
        two = alert(DISP, units=2, within_min=3)
        assert sent(two) == [("B01", 20.0, True), ("B02", 140.0, False)]
        heard = []
        while len(heard) < 2:
            got = ws_b01.receive_json()
            if got["type"] == "alert.created":
                heard.append((got["data"]["id"], [x["busy"] for x in got["data"]["recipients"]]))
        assert heard == [(by_b02["id"], [True]), (two["id"], [True, False])]
    # enough available within reach: no busy unit (P2 is out of service)
    three = alert(DISP, units=2, within_min=5)
    assert sent(three) == [("B02", 140.0, False), ("StationA-P1", 220.0, False)]
    r = lite.post(
        "/api/alerts",
        json={"description": "x", "lon": lon, "lat": lat, "units": 0},
        headers=DISP,
    )
    assert r.status_code == 422


def test_live_feed_needs_a_token_and_masks_for_analysts(lite: TestClient) -> None:
    with lite.websocket_connect("/ws") as ws:
        ws.send_text('{"token": "forged"}')
        with pytest.raises(Exception) as info:
            ws.receive_json()
        assert getattr(info.value, "code", None) == 4401
    with lite.websocket_connect("/ws") as ana, lite.websocket_connect("/ws") as disp:
        ana.send_json({"token": ANA["Authorization"].split()[1]})
        disp.send_json({"token": DISP["Authorization"].split()[1]})
        hello = ana.receive_json()["data"]
        assert (hello["username"], hello["role"]) == ("ana", "analyst")
        disp.receive_json()
        cid = _call(lite, caller_name="王五", caller_phone="13512345678")["id"]
        seen_by_ana, seen_by_disp = ana.receive_json(), disp.receive_json()
        assert seen_by_ana["type"] == seen_by_disp["type"] == "call.created"
        assert seen_by_ana["data"]["id"] == cid
        assert (seen_by_ana["data"]["caller_name"], seen_by_ana["data"]["caller_phone"]) == (
            "王*",
            "135****5678",
        )
        assert (seen_by_disp["data"]["caller_name"], seen_by_disp["data"]["caller_phone"]) == (
            "王五",
            "13512345678",
        )
        lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B02"}, headers=DISP2)
        kinds = [disp.receive_json()["type"] for _ in range(2)]
        assert kinds == ["unit.updated", "call.updated"]


# ---------------------------------------------------------------------------- KPIs, audit
def test_kpis_by_hand(lite: TestClient) -> None:
    db: Database = lite.app.state.service.db  # type: ignore[attr-defined]
    t0 = dt.datetime(2026, 5, 1, 14, 0, tzinfo=dt.UTC)  # 09:00 in Chicago (CDT, UTC-5)
    rows = []
    for i in range(10):  # priority 2, response 60, 120, ..., 600 s
        rec = t0 + dt.timedelta(minutes=i)
        rows.append(
            Call(
                call_type="theft",
                type_group="property",
                priority=2,
                description="",
                address="",
                lon=0.0,
                lat=0.0,
                snap_distance_m=0.0,
                status="cleared",
                received_at=rec,
                dispatched_at=rec + dt.timedelta(seconds=10),
                en_route_at=rec + dt.timedelta(seconds=15),
                on_scene_at=rec + dt.timedelta(seconds=60 * (i + 1)),
                cleared_at=rec + dt.timedelta(seconds=3600),
                created_by="disp",
            )
        )
    late = dt.datetime(2026, 5, 2, 3, 30, tzinfo=dt.UTC)  # 22:30 on May 1 in Chicago
    rows.append(
        Call(
            call_type="robbery",
            type_group="violent",
            priority=1,
            description="",
            address="",
            lon=0.0,
            lat=0.0,
            snap_distance_m=0.0,
            status="on_scene",
            received_at=late,
            dispatched_at=late + dt.timedelta(seconds=30),
            en_route_at=late + dt.timedelta(seconds=40),
            on_scene_at=late + dt.timedelta(seconds=240),
            created_by="disp",
        )
    )
    at = dt.datetime(2026, 5, 1, 13, 0, tzinfo=dt.UTC)
    with db.write() as s:
        repo.add_calls(s, rows)
        repo.add_unit_event(s, "StationA-P1", at, None, "available", "x")
        repo.add_unit_event(
            s, "StationA-P1", at + dt.timedelta(hours=8), "available", "out_of_service", "x"
        )
        repo.add_unit_event(
            s, "StationA-P1", at + dt.timedelta(hours=10), "out_of_service", "available", "x"
        )
    k = lite.get(
        "/api/kpis",
        params={"since": "2026-05-01T05:00:00Z", "until": "2026-05-02T05:00:00Z"},  # May 1, local
        headers=ANA,
    ).json()
    assert k["calls"] == 11
    assert [
        (r["priority"], r["calls"], r["median_s"], r["p90_s"]) for r in k["response_by_priority"]
    ] == [
        (1, 1, 240.0, 240.0),
        (2, 10, 330.0, 540.0),
    ]
    assert [r["call_processing_median_s"] for r in k["response_by_priority"]] == [30.0, 10.0]
    assert k["calls_by_type"] == {"robbery": 1, "theft": 10}
    assert (
        k["calls_by_hour"][9] == 10
        and k["calls_by_hour"][22] == 1
        and sum(k["calls_by_hour"]) == 11
    )
    assert k["calls_by_type_hour"]["robbery"][22] == 1
    # StationA-P1 (crew 2): on duty 13:00-21:00 and 23:00-05:00 UTC -> 2 periods x 2 officers
    assert (k["person_times_on_duty"], k["person_hours_on_duty"]) == (4, 28.0)
    r = lite.get("/api/kpis", params={"since": "2026-05-01T05:00:00"}, headers=ANA)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "since"
    # both without a zone: since is named (it named until), and a window of years is
    # refused as /api/kpis/standards refuses it (a hostile-client test read 6 years)
    r = lite.get(
        "/api/kpis",
        params={"since": "2026-05-01T05:00:00", "until": "2026-05-02T05:00:00"},
        headers=ANA,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "since"
    r = lite.get(
        "/api/kpis",
        params={"since": "2020-01-01T00:00:00Z", "until": "2026-05-02T05:00:00Z"},
        headers=ANA,
    )
    assert r.status_code == 422 and "at most 31 days" in r.json()["detail"][0]["msg"]


def test_kpi_functions_by_hand() -> None:
    assert median_p90([60, 120, 180, 240, 300, 360, 420, 480, 540, 600]) == (330.0, 540.0)
    assert median_p90([]) == (None, None)
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    h = dt.timedelta(hours=1)
    changes = [
        StatusChange("A", t - 5 * h, "available"),  # on duty since before the window
        StatusChange("A", t + 2 * h, "out_of_service"),
        StatusChange("B", t + 1 * h, "available"),
        StatusChange("B", t + 3 * h, "dispatched"),  # still on duty
    ]
    summary = duty_summary(changes, {"A": 2, "B": 3}, t, t + 4 * h)
    assert (summary.person_times, summary.person_hours) == (5, 2 * 2 + 3 * 3)


def test_audit_trail_records_who_did_what(lite: TestClient) -> None:
    cid = _call(lite)["id"]
    lite.post(f"/api/calls/{cid}/dispatch", json={"unit_id": "B01"}, headers=DISP2)
    _status(lite, "B01", "en_route", OFF)
    entries = lite.get("/api/audit", headers=ADM).json()
    assert [(e["username"], e["role"], e["action"], e["resource_id"]) for e in entries[:3]] == [
        ("off", "officer", "unit.en_route", "B01"),
        ("disp2", "dispatcher", "call.dispatch", str(cid)),
        ("disp", "dispatcher", "call.create", str(cid)),
    ]
    assert lite.delete("/api/audit", headers=ADM).status_code == 405
    db: Database = lite.app.state.service.db  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="append-only"), db.write() as s:
        s.execute(text("DELETE FROM audit_log"))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == len(entries)


def test_users_and_units_admin(lite: TestClient) -> None:
    r = lite.post(
        "/api/users",
        json={"username": "o3", "password": "long-enough", "role": "officer", "unit_id": "B02"},
        headers=ADM,
    )
    assert r.status_code == 201 and r.json() == {
        "username": "o3",
        "role": "officer",
        "unit_id": "B02",
        "active": True,
    }
    # the same name but for case is refused, as the CLI refuses it
    r = lite.post(
        "/api/users",
        json={"username": "O3", "password": "long-enough", "role": "analyst"},
        headers=ADM,
    )
    assert (
        r.status_code == 409
        and "differs from the existing user 'o3' only in case" in (r.json()["detail"])
    )
    assert (
        lite.post(
            "/api/users",
            json={"username": "o3", "password": "long-enough", "role": "analyst"},
            headers=ADM,
        ).status_code
        == 409
    )
    r = lite.post(
        "/api/users",
        json={"username": "o4", "password": "long-enough", "role": "officer", "unit_id": "ZZ"},
        headers=ADM,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit_id"
    r = lite.post(
        "/api/units",
        json={"id": "RT1", "kind": "response_team", "site": "B01", "crew": 6},
        headers=ADM,
    )
    assert r.status_code == 201 and r.json()["crew"] == 6
    assert (
        lite.post(
            "/api/units", json={"id": "RT1", "kind": "patrol", "site": "B01"}, headers=ADM
        ).status_code
        == 409
    )
    r = lite.post("/api/units", json={"id": "RT2", "kind": "patrol"}, headers=ADM)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "site"
    names = [s["name"] for s in lite.get("/api/sites", headers=ANA).json()]
    assert names == ["B01", "B02", "Station A"]
    roads = lite.get("/api/map/roads", headers=ANA).json()
    assert sum(len(f["geometry"]["coordinates"]) for f in roads["features"]) == 180  # grid edges
    meta = lite.get("/api/meta", headers=OFF).json()
    assert {c["key"] for c in meta["call_types"]} >= {
        "missing_person",
        "dispute",
        "traffic_accident",
    }


def test_console_page_and_tile_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    with app_client(url, tile_url=tiles) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'id="map"' in page.text
        csp = page.headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.example.org;" in csp
        assert "script-src 'self'" in csp and "default-src 'self'" in csp
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/api/meta", headers=OFF).json()["tile_url"] == tiles
        assert "http" not in client.get("/static/index.html").text.replace("http://www.w3.org", "")
        assert '<html lang="zh">' in page.text  # the console's default language
        # the officer's page too (it followed the browser's language: a tester's zh
        # service showed English to officers whose phones were set to English)
        field = client.get("/field")
        assert field.status_code == 200 and '<html lang="zh">' in field.text
        assert field.headers["content-security-policy"] == csp
    with app_client(f"sqlite:///{tmp_path / 'en.db'}", lang="en") as client:
        page = client.get("/")  # xunfang serve --lang en
        assert '<html lang="en">' in page.text and '<html lang="zh">' not in page.text
        field = client.get("/field")
        assert '<html lang="en">' in field.text and '<html lang="zh">' not in field.text
    # and the page's script starts in that language (the officer's button still wins),
    # not in navigator.language
    script = (WEB_DIR / "field.js").read_text(encoding="utf-8")
    assert "navigator.language" not in script
    assert 'localStorage.getItem("xf_field_lang") || serverLang' in script


def test_call_types_fit_the_taxonomy() -> None:
    check_call_types()
    assert CALL_TYPES["missing_person"].group == "service"
    assert CALL_TYPES["traffic_accident"].group == "traffic"


# ---------------------------------------------------------------------------- group commit
def test_intake_writer_commits_waiting_calls_together(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gc.db'}")
    prepare_database(db)
    committed: list[int] = []
    writer = IntakeWriter(
        db, batch_max=100, on_committed=lambda rows: committed.extend(r.id for r in rows)
    )
    writer.start()
    t = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)

    def row(call_type: str | None = "theft") -> Call:
        return Call(
            call_type=call_type,
            type_group="property",
            priority=3,
            description="",
            address="",
            lon=0.0,
            lat=0.0,
            snap_distance_m=0.0,
            status="received",
            received_at=t,
            created_by="d",
        )

    lock = db.engine.execution_options(sqlite_begin="IMMEDIATE").connect()
    lock.begin()  # hold the write lock: calls pile up in the queue
    first = writer.submit(row(), "dispatcher", "")
    threading.Event().wait(0.2)
    rest = [writer.submit(row(None if i == 7 else "theft"), "dispatcher", "") for i in range(20)]
    lock.commit()
    lock.close()
    assert first.result(10) == 1
    ok = [f for i, f in enumerate(rest) if i != 7]
    ids = [f.result(10) for f in ok]
    with pytest.raises(Exception, match="NOT NULL"):
        rest[7].result(10)
    writer.stop()
    assert sorted(ids) == list(range(2, 21))
    assert sorted(committed) == list(range(1, 21))
    # 1 alone, then the 20 together (failed), then each retried alone: 1 + 19
    assert writer.written == 20 and writer.batches == 20
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 20
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 20
    db.dispose()


def test_tokens_take_the_users_current_role(tmp_path: Path) -> None:
    """A token proves who logged in; what they may do is read from the database now: a
    forged token for an unknown user, or one kept by a disabled user, is refused."""
    from xunfang.store import repo

    with app_client(f"sqlite:///{tmp_path / 'roles.db'}") as api:
        ghost = auth("ghost:admin")
        r = api.get("/api/users", headers=ghost)
        assert r.status_code == 401 and "no longer exists" in r.json()["detail"]
        # an analyst whose old token says dispatcher cannot dispatch
        stale = auth("ana:dispatcher")
        r = api.post("/api/calls", headers=stale, json={"call_type": "theft"})
        assert r.status_code == 403 and "role analyst" in r.json()["detail"]
        svc = api.app.state.service
        with svc.db.write() as s:
            repo.get_user(s, "disp").active = False
        svc._user_cache.clear()
        assert api.get("/api/units", headers=DISP).status_code == 401


@pytest.mark.parametrize(
    ("lang", "name"), [("zh", "Station A巡逻车1"), ("en", "Station A patrol 1")]
)
def test_station_patrol_units_are_named_in_the_console_language(
    tmp_path: Path, lang: str, name: str
) -> None:
    with database_url("sqlite", tmp_path) as url, app_client(url, lang=lang) as c:
        units = {u["id"]: u["name"] for u in c.get("/api/units", headers=DISP).json()}
    assert units["StationA-P1"] == name  # the id stays the same in both
