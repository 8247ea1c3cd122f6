"""The complete loop and the KPI standards, in process on the hand-made 10 x 10 grid
(serve_support.py; synthetic: 20 s per 200 m block by car, both ways).

Road times used below: a call at node (1, 1) is 2 blocks (40 s) from the station patrols
at (0, 0) and 8 blocks (160 s) from booth B01 at (5, 5); on foot at 5 km/h (1.3889 m/s)
two blocks (400 m) take 288 s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import (
    ADM,
    ANA,
    DISP,
    OFF,
    OFF2,
    TestClient,
    app_client,
    database_url,
    lonlat,
)
from sqlalchemy import select, update

from xunfang.dispatch.crew import walking_matrix
from xunfang.errors import DataFileError
from xunfang.serve.api.codes import load_dispositions, load_standards
from xunfang.serve.api.field import tick
from xunfang.store import kpi_sql, repo
from xunfang.store.models import Alert, Call, Unit, UnitPresence, utcnow

CALL_AT_11 = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))
UTC = dt.UTC


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path) as url, app_client(url) as client:
        yield client


def _call(client: TestClient, **extra: object) -> int:
    r = client.post("/api/calls", json={"call_type": "theft", **CALL_AT_11, **extra}, headers=DISP)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _post(client: TestClient, path: str, body: object, headers: dict[str, str] = DISP) -> dict:  # type: ignore[type-arg]
    r = client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), (path, r.status_code, r.text)
    return r.json()  # type: ignore[no-any-return]


def _unit(client: TestClient, uid: str) -> dict:  # type: ignore[type-arg]
    return client.get(f"/api/units/{uid}", headers=DISP).json()  # type: ignore[no-any-return]


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_backup_release_reassign_clear_and_return_to_post(api: TestClient) -> None:
    svc = api.app.state.service  # type: ignore[attr-defined]
    cid = _call(api)
    _post(api, f"/api/calls/{cid}/dispatch", {"unit_id": "StationA-P1"})
    detail = _post(api, f"/api/calls/{cid}/units", {"unit_id": "B01"})
    assert [(m["unit_id"], m["role"], m["status"]) for m in detail["crew"]] == [
        ("StationA-P1", "primary", "dispatched"),
        ("B01", "backup", "dispatched"),
    ]
    # a unit already on the call cannot join it twice
    r = api.post(f"/api/calls/{cid}/units", json={"unit_id": "B01"}, headers=DISP)
    assert r.status_code == 409
    # the backup (officer of B01) arrives first: the call is on scene with its time
    _post(api, "/api/units/B01/status", {"status": "en_route"}, OFF)
    _post(api, "/api/units/B01/status", {"status": "on_scene"}, OFF)
    call = api.get(f"/api/calls/{cid}", headers=DISP).json()
    assert (call["status"], call["unit_id"]) == ("on_scene", "StationA-P1")
    # the backup setting off does not acknowledge the call: 签收 is the primary's
    assert call["acknowledged_at"] is None and call["on_scene_at"] is not None
    # releasing the primary hands the call to the backup on scene; the call goes on
    call = _post(api, f"/api/calls/{cid}/release", {"unit_id": "StationA-P1"})
    assert (call["status"], call["unit_id"]) == ("on_scene", "B01")
    assert [m["unit_id"] for m in call["crew"]] == ["B01"]
    assert _unit(api, "StationA-P1")["status"] == "available"  # it had not set off
    # the last unit of a call on scene cannot just leave
    r = api.post(f"/api/calls/{cid}/release", json={"unit_id": "B01"}, headers=DISP)
    assert r.status_code == 409 and "clear the call" in r.json()["detail"]
    # clearing needs a known disposition
    r = api.post(f"/api/calls/{cid}/clear", json={"disposition": "nope"}, headers=DISP)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "disposition"
    call = _post(api, f"/api/calls/{cid}/clear", {"disposition": "mediated", "note": "settled"})
    assert (call["status"], call["disposition"], call["disposition_note"]) == (
        "cleared",
        "mediated",
        "settled",
    )
    # B01 drives back from (1, 1) to its post at (5, 5): 8 blocks = 160 s
    b01 = _unit(api, "B01")
    assert (b01["status"], b01["call_id"]) == ("returning", None)
    assert _ts(b01["return_eta_at"]) - _ts(call["cleared_at"]) == pytest.approx(160.0)
    cleared = dt.datetime.fromisoformat(call["cleared_at"])
    assert tick(svc, cleared + dt.timedelta(seconds=159)) == (0, 0)
    assert tick(svc, cleared + dt.timedelta(seconds=161)) == (1, 0)
    b01 = _unit(api, "B01")
    home = lonlat(5, 5)
    assert b01["status"] == "available"
    assert (b01["lon"], b01["lat"]) == pytest.approx(home)

    # reassignment: the new unit takes the primary's place; the call is not cancelled
    c2 = _call(api, call_type="dispute")
    _post(api, f"/api/calls/{c2}/dispatch", {"unit_id": "StationA-P2"})
    call = _post(
        api,
        f"/api/calls/{c2}/reassign",
        {"from_unit_id": "StationA-P2", "to_unit_id": "StationA-P1"},
    )
    assert (call["status"], call["unit_id"]) == ("dispatched", "StationA-P1")
    assert [(m["unit_id"], m["role"]) for m in call["crew"]] == [("StationA-P1", "primary")]
    assert _unit(api, "StationA-P2")["status"] == "available"
    # the primary's "available" with a disposition clears the call (a single-unit call)
    _post(api, "/api/units/StationA-P1/status", {"status": "en_route"})
    _post(api, "/api/units/StationA-P1/status", {"status": "on_scene"})
    _post(
        api, "/api/units/StationA-P1/status", {"status": "available", "disposition": "help_given"}
    )
    call = api.get(f"/api/calls/{c2}", headers=DISP).json()
    assert (call["status"], call["disposition"]) == ("cleared", "help_given")
    audit = api.get("/api/audit", headers=ADM).json()
    actions = [a["action"] for a in audit]
    assert {"call.backup", "call.release", "call.reassign", "call.clear"} <= set(actions)


def test_sighting_alert_call_expiry_edit_and_the_officers_view(api: TestClient) -> None:
    svc = api.app.state.service  # type: ignore[attr-defined]
    lon, lat = lonlat(5, 4)  # B01 is one block away, but its officer reports it
    alert = _post(
        api, "/api/alerts", {"description": "man, red jacket", "lon": lon, "lat": lat}, OFF
    )
    assert alert["reporter_unit_id"] == "B01"
    assert sorted((x["unit_id"], x["eta_s"]) for x in alert["recipients"]) == [
        ("B02", 180.0),
        ("StationA-P1", 180.0),
        ("StationA-P2", 180.0),
    ]
    assert _ts(alert["expires_at"]) - _ts(alert["created_at"]) == pytest.approx(300.0)
    _post(api, f"/api/alerts/{alert['id']}/ack", {}, OFF2)
    # one step from alert to call: same place and text
    call = _post(api, f"/api/alerts/{alert['id']}/call", {"call_type": "theft"})
    assert (call["lon"], call["lat"], call["description"], call["alert_id"]) == (
        pytest.approx(lon),
        pytest.approx(lat),
        "man, red jacket",
        alert["id"],
    )
    r = api.post(f"/api/alerts/{alert['id']}/call", json={"call_type": "theft"}, headers=DISP)
    assert r.status_code == 409
    # expiry: two patrols never acknowledged, but the alert is a call already: a
    # dispatcher acted on it, so it is not escalated (a tester saw it escalated)
    created = dt.datetime.fromisoformat(alert["created_at"])
    assert tick(svc, created + dt.timedelta(seconds=301))[1] == 0
    got = next(a for a in api.get("/api/alerts", headers=DISP).json() if a["id"] == alert["id"])
    assert got["escalated_at"] is None and got["call_id"] == call["id"]

    # edits after intake: each change in the audit log, personal data masked there
    r = api.patch(
        f"/api/calls/{call['id']}",
        json={
            "priority": 1,
            "caller_phone": "13800138000",
            "address": "Main St",
            "description": "报警人李四称电话13912345678",
        },
        headers=DISP,
    )
    assert r.status_code == 200 and r.json()["priority"] == 1
    entry = next(a for a in api.get("/api/audit", headers=ADM).json() if a["action"] == "call.edit")
    assert entry["detail"]["changes"] == {
        "priority": {"old": 3, "new": 1},
        "caller_phone": {"old": None, "new": "138****8000"},
        "address": {"old": "", "new": "Main St"},
        "description": {"old": "man, red jacket", "new": "报警人李*称电话139****5678"},
    }
    audit = str(api.get("/api/audit", headers=ADM).json())
    assert "13800138000" not in audit and "13912345678" not in audit and "李四" not in audit
    # a phone typed into the address is masked in the log too (a tester read it in clear)
    r = api.patch(
        f"/api/calls/{call['id']}", json={"address": "新地址 电话15011112222"}, headers=DISP
    )
    assert r.status_code == 200
    edits = [a for a in api.get("/api/audit", headers=ADM).json() if a["action"] == "call.edit"]
    assert {"old": "Main St", "new": "新地址 电话150****2222"} in [
        e["detail"]["changes"].get("address") for e in edits
    ]
    assert "15011112222" not in str(edits)

    # the officer of the assigned unit sees the caller's phone; another officer does not
    _post(api, f"/api/calls/{call['id']}/dispatch", {"unit_id": "B01"})
    me = api.get("/api/field/me", headers=OFF)
    assert me.headers["cache-control"] == "no-store"
    me_j = me.json()
    assert (me_j["unit"]["id"], me_j["role_on_call"]) == ("B01", "primary")
    assert me_j["call"]["caller_phone"] == "13800138000"
    other = api.get(f"/api/calls/{call['id']}", headers=OFF2).json()
    assert other["caller_phone"] == "138****8000"
    # one rule at both doors: the call itself, read by the assigned officer, unmasked too
    # (a tester saw it masked there while /api/field/me showed it), and audited alike
    mine = api.get(f"/api/calls/{call['id']}", headers=OFF).json()
    assert (
        mine["caller_phone"] == "13800138000" and mine["caller_name"] == me_j["call"]["caller_name"]
    )
    reads = [
        a for a in api.get("/api/audit", headers=ADM).json() if a["action"] == "call.contact_read"
    ]
    assert sorted((a["username"], a["resource_id"]) for a in reads) == [
        ("off", str(call["id"])),
        ("off", str(call["id"])),
    ]
    # 签收 by the assigned unit; another officer may not
    assert api.post(f"/api/calls/{call['id']}/ack", headers=OFF2).status_code == 403
    acked = _post(api, f"/api/calls/{call['id']}/ack", {}, OFF)
    assert acked["acknowledged_at"] is not None
    # the route from B01 at (5, 5) to the call at (5, 4): one block
    route = api.get("/api/units/B01/route", headers=OFF).json()
    assert (route["eta_s"], route["distance_m"]) == (pytest.approx(20.0), pytest.approx(200.0))
    assert route["line"]["type"] == "LineString" and len(route["line"]["coordinates"]) == 4
    assert api.get("/api/units/B02/route", headers=OFF).status_code == 403


def test_officers_on_foot_get_walking_times(api: TestClient) -> None:
    lon, lat = lonlat(1, 3)
    _post(
        api,
        "/api/units",
        {"id": "F1", "kind": "booth", "lon": lon, "lat": lat, "mode": "foot"},
        ADM,
    )
    cid = _call(api)
    recs = api.get(f"/api/calls/{cid}/recommendations", params={"k": 5}, headers=DISP).json()
    etas = {u["unit_id"]: round(u["eta_s"], 3) for u in recs["units"]}
    # 400 m at 5 km/h = 400 / (5 / 3.6) = 288 s (by car it would be 40 s)
    assert etas["F1"] == 288.0 and etas["StationA-P1"] == 40.0


def test_walking_matrix_by_hand() -> None:
    m = walking_matrix([0, 1, 0], [1, 2, 1], [100.0, 50.0, 70.0], 3, speed_kph=3.6)
    assert m[0, 1] == m[1, 0] == 70.0  # the shorter of two parallel pieces, both ways
    assert m[1, 2] == m[2, 1] == 50.0 and m.nnz == 4


# ---------------------------------------------------------------------------- KPIs
DAY = dt.datetime(2026, 5, 1, tzinfo=UTC)


def test_an_alert_made_into_a_call_is_acted_on_and_not_escalated(api: TestClient) -> None:
    """The tester's case: alert 1, acknowledged by nobody, became call 2; five minutes on
    the escalation job escalated it and the KPIs said 0 alerts acted on. Now: of two
    unacknowledged alerts, the one made into a call is acted on and never escalated; the
    other is escalated once, at expiry (300 s)."""
    svc = api.app.state.service  # type: ignore[attr-defined]
    lon, lat = lonlat(5, 4)
    body = {"description": "白色面包车", "lon": lon, "lat": lat}
    made, left = _post(api, "/api/alerts", body, DISP), _post(api, "/api/alerts", body, DISP)
    assert made["recipients"] and all(r["acked_at"] is None for r in made["recipients"])
    call = _post(api, f"/api/alerts/{made['id']}/call", {"call_type": "theft"})
    created = dt.datetime.fromisoformat(left["created_at"])
    assert tick(svc, created + dt.timedelta(seconds=299))[1] == 0
    assert tick(svc, created + dt.timedelta(seconds=301))[1] == 1
    assert tick(svc, created + dt.timedelta(seconds=302))[1] == 0
    got = {a["id"]: a for a in api.get("/api/alerts", headers=DISP).json()}
    assert (got[made["id"]]["escalated_at"], got[made["id"]]["call_id"]) == (None, call["id"])
    assert got[left["id"]]["escalated_at"] is not None
    with svc.db.read() as s:
        counts = kpi_sql.alert_counts(
            s, created - dt.timedelta(minutes=1), created + dt.timedelta(minutes=10), 60.0
        )
    # 2 alerts; acted on: the one made into a call; none acknowledged by a unit;
    # escalated: the other one; made into calls: 1
    assert counts == {"n": 2, "acted": 1, "in_time": 0, "escalated": 1, "calls": 1}


def test_a_returning_unit_is_ranked_from_where_it_is_on_its_way_home(api: TestClient) -> None:
    """A tester saw a unit six seconds from its post, with no position report, ranked from
    the scene: 196 s to a point next to its post. StationA-P1 clears a call at (0, 9) and
    drives back along row 0 to (0, 0): 9 blocks, 180 s; the point asked about is (1, 0),
    one block from the post (from the scene: 10 blocks, 200 s)."""
    svc = api.app.state.service  # type: ignore[attr-defined]
    lon, lat = lonlat(0, 9)
    cid = _call(api, lon=lon, lat=lat)
    _post(api, f"/api/calls/{cid}/dispatch", {"unit_id": "StationA-P1"})
    for status in ("en_route", "on_scene"):
        _post(api, "/api/units/StationA-P1/status", {"status": status})
    _post(api, f"/api/calls/{cid}/clear", {"disposition": "mediated"})
    p1 = _unit(api, "StationA-P1")
    assert p1["status"] == "returning"
    assert (p1["lon"], p1["lat"]) == pytest.approx(lonlat(0, 9))

    def eta_at_1_0(left_s: float) -> tuple[float, tuple[float, float]]:
        """P1's recommendation for (1, 0) with ``left_s`` seconds to its post."""
        with svc.db.write() as s:
            s.execute(
                update(Unit)
                .where(Unit.id == "StationA-P1")
                .values(return_eta_at=utcnow() + dt.timedelta(seconds=left_s))
            )
        q = dict(zip(("lon", "lat"), lonlat(1, 0), strict=True))
        r = api.get("/api/recommend", params={**q, "k": 5}, headers=DISP)
        assert r.status_code == 200, r.text
        got = next(u for u in r.json()["units"] if u["unit_id"] == "StationA-P1")
        return got["eta_s"], (got["lon"], got["lat"])

    # 185 s to go, more than the route takes: still at the scene, 10 blocks
    assert eta_at_1_0(185.0) == (pytest.approx(200.0), pytest.approx(lonlat(0, 9)))
    # 90 s to go: 4.5 blocks driven; 10 s short of (0, 4), then 5 blocks: 110 s
    assert eta_at_1_0(90.0) == (pytest.approx(110.0, abs=0.5), pytest.approx(lonlat(0, 4)))
    # the tester's case, 6 s to go: 6 s to the post, then one block: 26 s
    assert eta_at_1_0(6.0) == (pytest.approx(26.0, abs=0.5), pytest.approx(lonlat(0, 0)))


def _at(hh: int, mm: int, ss: int = 0, day: dt.datetime = DAY) -> dt.datetime:
    return day + dt.timedelta(hours=hh, minutes=mm, seconds=ss)


def _hand_made_day(svc: object) -> None:
    """Synthetic: three calls on 1 May 2026 and one the evening before, three alerts,
    three units' duty and presence (values worked out in the test)."""
    db = svc.db  # type: ignore[attr-defined]
    lon, lat = lonlat(1, 1)
    calls = [  # received, dispatched, acknowledged, en route, on scene, cleared, disposition
        (
            _at(8, 0),
            _at(8, 0, 20),
            _at(8, 0, 40),
            _at(8, 1),
            _at(8, 4),
            _at(8, 30),
            "resolved_on_scene",
        ),
        (_at(12, 0), _at(12, 1), _at(12, 1, 45), _at(12, 3), _at(12, 7), _at(13, 0), "mediated"),
        (_at(20, 0), _at(20, 0, 10), _at(20, 0, 30), _at(20, 0, 30), None, None, None),
        (_at(-1, 59), _at(-1, 59, 30), _at(-1, 59, 40), None, None, None, None),
    ]
    with db.write() as s:
        rows = []
        for rec, dis, ack, enr, ons, clr, disp in calls:
            rows.append(
                Call(
                    call_type="theft",
                    type_group="property",
                    priority=3,
                    description="",
                    address="",
                    caller_name=None,
                    caller_phone=None,
                    lon=lon,
                    lat=lat,
                    snap_distance_m=0.0,
                    status="cleared" if clr else "en_route",
                    unit_id=None,
                    received_at=rec,
                    dispatched_at=dis,
                    en_route_at=enr,
                    on_scene_at=ons,
                    cleared_at=clr,
                    cancelled_at=None,
                    created_by="disp",
                    acknowledged_at=ack,
                    disposition=disp,
                    disposition_note="",
                    alert_id=None,
                )
            )
        ids = repo.add_calls(s, rows)
        for unit_id, kind, crew in (
            ("KP", "patrol", 2),
            ("KB", "booth", 1),
            ("KS", "station_car", 2),
        ):
            repo.add_unit(
                s,
                id=unit_id,
                kind=kind,
                name=unit_id,
                status="available",
                home_lon=lon,
                home_lat=lat,
                lon=lon,
                lat=lat,
                crew=crew,
                speed_factor=1.0,
                updated_at=DAY,
            )
        s.flush()
        for unit_id, at, old, new in (
            ("KP", _at(-4, 0), None, "available"),
            ("KP", _at(6, 0), "available", "out_of_service"),
            ("KP", _at(18, 0), "out_of_service", "available"),
            ("KB", _at(8, 0), None, "available"),
            ("KB", _at(8, 10), "available", "dispatched"),
            ("KS", _at(10, 0), None, "available"),
        ):
            repo.add_unit_event(s, unit_id, at, old, new, "system")
        # presence: away from / back at the post
        for unit_id, at, away in (
            ("KP", _at(-2, 0), True),
            ("KP", _at(3, 0), False),
            ("KP", _at(19, 0), True),
            ("KB", _at(8, 10), True),
            ("KB", _at(9, 10), False),
        ):
            s.add(UnitPresence(unit_id=unit_id, at=at, away=away))
        for created, acks, escalated, call_id in (
            (_at(9, 0), [("KP", _at(9, 0, 40)), ("KB", None)], _at(9, 5), None),
            (_at(10, 0), [("KP", _at(10, 2))], None, ids[0]),
            (_at(11, 0), [("KB", None)], None, None),
        ):
            a = repo.add_alert(
                s,
                Alert(
                    description="x",
                    lon=lon,
                    lat=lat,
                    within_min=5.0,
                    created_at=created,
                    created_by="off",
                    escalated_at=escalated,
                    call_id=call_id,
                ),
                [(u, 60.0, False) for u, _ in acks],
            )
            for u, at in acks:
                if at is not None:
                    repo.ack_alert(s, a.id, u, at, "off")


def test_visibility_counts_no_time_after_now(api: TestClient) -> None:
    """A window ending in the future (the tester's 见警率 counted 4 h ahead as on duty): the
    hand-made day asked up to midnight at 12:00 counts on-duty and away time to 12:00."""
    from xunfang.serve.api.kpi_standards import kpi_standards

    svc = api.app.state.service  # type: ignore[attr-defined]
    _hand_made_day(svc)
    utc = dt.UTC
    k = kpi_standards(
        svc,
        dt.datetime(2026, 5, 1, tzinfo=utc),
        dt.datetime(2026, 5, 2, tzinfo=utc),
        now=dt.datetime(2026, 5, 1, 12, tzinfo=utc),
    )
    # on duty to 12:00: KP 00-06 (6 h), KB 08-12 (4 h), KS 10-12 (2 h) = 43,200 s;
    # away: KP 00-03 (3 h), KB 08:10-09:10 (1 h) = 14,400 s
    assert (k.on_duty_unit_s, k.away_from_post_unit_s) == (
        pytest.approx(43200.0, abs=0.01),
        pytest.approx(14400.0, abs=0.01),
    )
    assert k.visibility == pytest.approx(0.3333)
    # a window wholly after now: no duty time at all
    later = kpi_standards(
        svc,
        dt.datetime(2026, 5, 1, 13, tzinfo=utc),
        dt.datetime(2026, 5, 2, tzinfo=utc),
        now=dt.datetime(2026, 5, 1, 12, tzinfo=utc),
    )
    assert (later.on_duty_unit_s, later.visibility) == (0.0, None)


def test_kpi_standards_on_a_hand_made_day(api: TestClient) -> None:
    _hand_made_day(api.app.state.service)  # type: ignore[attr-defined]
    r = api.get(
        "/api/kpis/standards",
        params={"since": "2026-05-01T00:00:00Z", "until": "2026-05-02T00:00:00Z"},
        headers=ANA,
    )
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["calls"] == 3  # the call of 30 April 23:59 is outside the window
    got = {
        n: (k[n]["measured"], k[n]["within"], k[n]["mean_s"], k[n]["max_s"])
        for n in ("acknowledge", "depart", "arrive", "feedback")
    }
    assert got == {
        # 签收 20, 45, 20 s against 30 s
        "acknowledge": (3, 2, pytest.approx(85 / 3, abs=1e-3), 45.0),
        # 出警 40, 120, 20 s against 60 s
        "depart": (3, 2, 60.0, 120.0),
        # 到场 240, 420 s against 300 s, and the 20:00 call no unit has reached: a miss
        "arrive": (3, 1, 330.0, 420.0),
        # 反馈 1560, 3180 s against 1800 s
        "feedback": (2, 1, 2370.0, 3180.0),
    }
    assert k["acknowledge"]["share_within"] == pytest.approx(0.6667)
    assert (k["arrive"]["missed_unfinished"], k["arrive"]["pending"]) == (1, 0)
    assert k["dispositions"] == {"mediated": 1, "resolved_on_scene": 1}
    # alerts: 3; acknowledged 2 (after 40 s: within 60 s; after 120 s: not); 1 escalated;
    # 1 made into a call
    assert (
        k["alerts"],
        k["alerts_acted_on"],
        k["alerts_acked_within_standard"],
        k["alerts_escalated"],
        k["alerts_made_calls"],
    ) == (3, 2, 1, 1, 1)
    # patrol person-times: KP (crew 2) on duty at midnight and again from 18:00 = 4;
    # KB (crew 1) from 08:00 = 1; the station car does not count
    assert k["patrol_person_times"] == 5
    # on duty: KP 00-06 and 18-24 (12 h), KB 08-24 (16 h), KS 10-24 (14 h) = 151,200 s;
    # away: KP 00-03 and 19-24 (8 h), KB 08:10-09:10 (1 h) = 32,400 s
    assert (k["on_duty_unit_s"], k["away_from_post_unit_s"]) == (
        pytest.approx(151200.0, abs=0.01),
        pytest.approx(32400.0, abs=0.01),
    )
    assert k["visibility"] == pytest.approx(0.2143)
    r = api.get(
        "/api/kpis/standards",
        params={"since": "2026-01-01T00:00:00Z", "until": "2026-05-02T00:00:00Z"},
        headers=ANA,
    )
    assert r.status_code == 422 and "at most 31 days" in r.text


def test_presence_follows_position_reports_and_duty(api: TestClient) -> None:
    svc = api.app.state.service  # type: ignore[attr-defined]
    lon, lat = lonlat(5, 3)  # 2 blocks = 400 m from B01's post: away (> 100 m)
    _post(api, "/api/units/B01/position", {"lon": lon, "lat": lat}, OFF)
    _post(api, "/api/units/B01/position", {"lon": lon, "lat": lat}, OFF)  # no change: no row
    _post(api, "/api/units/B01/status", {"status": "out_of_service"}, OFF)  # off duty: not away
    lon, lat = lonlat(5, 5)
    _post(api, "/api/units/B01/status", {"status": "available"}, OFF)  # on duty, still away
    _post(api, "/api/units/B01/position", {"lon": lon, "lat": lat}, OFF)  # back at the post
    _post(api, "/api/units/B01/position", {"lon": lon, "lat": lat}, OFF)  # no change: no row
    with svc.db.read() as s:
        rows = s.scalars(
            select(UnitPresence).where(UnitPresence.unit_id == "B01").order_by(UnitPresence.id)
        ).all()
    assert [r.away for r in rows] == [True, False, True, False]


def test_code_lists_name_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "codes.toml"
    bad.write_text('[codes.ok]\nzh = "好"\nen = "ok"\n[codes."bad code"]\nzh = "x"\nen = "x"\n')
    with pytest.raises(DataFileError, match=r"codes\.toml.*codes\.bad code: a code is"):
        load_dispositions(bad)
    std = tmp_path / "std.toml"
    std.write_text("arrive_s = -5\nspeed = 3\n")
    with pytest.raises(DataFileError, match=r"speed: unknown key.*arrive_s: must be a positive"):
        load_standards(std)
    std.write_text("depart_s = 1e999\n")  # TOML reads it as inf: every call "within"
    with pytest.raises(DataFileError, match=r"depart_s: must be a positive number, got inf"):
        load_standards(std)
    assert load_standards().arrive_s == 300.0
    assert list(load_dispositions())[:2] == ["resolved_on_scene", "mediated"]


def test_the_call_is_acknowledged_by_its_primary_unit_only(api: TestClient) -> None:
    cid = _call(api)
    _post(api, f"/api/calls/{cid}/dispatch", {"unit_id": "StationA-P1"})
    _post(api, f"/api/calls/{cid}/units", {"unit_id": "B01"})
    # the backup's 签收 and setting off: audited, the call not acknowledged
    assert _post(api, f"/api/calls/{cid}/ack", {}, OFF)["acknowledged_at"] is None
    _post(api, "/api/units/B01/status", {"status": "en_route"}, OFF)
    call = api.get(f"/api/calls/{cid}", headers=DISP).json()
    assert (call["status"], call["acknowledged_at"]) == ("en_route", None)
    acks = [a for a in api.get("/api/audit", headers=ADM).json() if a["action"] == "call.ack"]
    assert [(a["detail"]["unit_id"], a["detail"]["role"]) for a in acks] == [("B01", "backup")]
    # the primary setting off acknowledges it, although the call is en route already
    _post(api, "/api/units/StationA-P1/status", {"status": "en_route"})
    call = api.get(f"/api/calls/{cid}", headers=DISP).json()
    assert call["acknowledged_at"] is not None


def _timed_call(received: dt.datetime, **stamps: dt.datetime | None) -> Call:
    lon, lat = lonlat(1, 1)
    return Call(
        call_type="theft",
        type_group="property",
        priority=3,
        description="",
        address="",
        caller_name=None,
        caller_phone=None,
        lon=lon,
        lat=lat,
        snap_distance_m=0.0,
        status="cancelled" if stamps.get("cancelled_at") else "dispatched",
        unit_id=None,
        received_at=received,
        dispatched_at=stamps.get("dispatched_at"),
        en_route_at=None,
        on_scene_at=None,
        cleared_at=None,
        cancelled_at=stamps.get("cancelled_at"),
        created_by="disp",
        acknowledged_at=stamps.get("acknowledged_at"),
        disposition=None,
        disposition_note="",
        alert_id=None,
    )


def test_calls_never_acknowledged_past_the_standard_count_as_misses(api: TestClient) -> None:
    """Synthetic: 8 calls on 1 May 2026, the query at 01:00 (standards 30/60/300/1800 s)."""
    svc = api.app.state.service  # type: ignore[attr-defined]
    now = _at(1, 0)
    calls = []
    for k, ack_s in enumerate((10, 20, 25, 50)):  # acknowledged: 3 within 30 s, 1 not
        d = _at(0, 10 + k)
        calls.append(
            _timed_call(
                d - dt.timedelta(seconds=5),
                dispatched_at=d,
                acknowledged_at=d + dt.timedelta(seconds=ack_s),
            )
        )
    for k in range(2):  # dispatched at 00:20 and 00:21, never acknowledged: 40 min late
        d = _at(0, 20 + k)
        calls.append(_timed_call(d - dt.timedelta(seconds=5), dispatched_at=d))
    d = now - dt.timedelta(seconds=10)  # dispatched 10 s ago: pending
    calls.append(_timed_call(d - dt.timedelta(seconds=5), dispatched_at=d))
    d = _at(0, 30)  # cancelled 10 s after dispatch, never acknowledged: not counted
    calls.append(
        _timed_call(
            d - dt.timedelta(seconds=5), dispatched_at=d, cancelled_at=d + dt.timedelta(seconds=10)
        )
    )
    with svc.db.write() as s:
        repo.add_calls(s, calls)
    limits = {"acknowledge": 30.0, "depart": 60.0, "arrive": 300.0, "feedback": 1800.0}
    with svc.db.read() as s:
        n, steps, _ = kpi_sql.call_steps(s, DAY, DAY + dt.timedelta(days=1), limits, now)
    assert n == 8
    ack = steps["acknowledge"]
    # 3 of 6, not 3 of 4; mean and max over the 4 acknowledged: (10+20+25+50)/4, 50
    assert (ack.measured, ack.within, ack.missed_unfinished, ack.pending) == (6, 3, 2, 1)
    assert (ack.mean_s, ack.max_s) == (26.25, 50.0)
    # none set off: the 6 dispatched before 00:59 are late (> 60 s), the last pending
    dep = steps["depart"]
    assert (dep.measured, dep.within, dep.missed_unfinished, dep.pending) == (6, 0, 6, 1)
    assert dep.mean_s is None
    # none arrived: received 5 s before dispatch; the cancelled call waited 15 s only
    arr = steps["arrive"]
    assert (arr.measured, arr.within, arr.missed_unfinished, arr.pending) == (6, 0, 6, 1)
    assert steps["feedback"].measured == steps["feedback"].pending == 0  # none on scene


def test_available_before_the_scene_is_refused_in_the_words_of_the_request(
    api: TestClient,
) -> None:
    """An officer dispatched to a call asked to be available and was told "call N: cannot
    go from dispatched to cleared" (a hostile-client test): the 409 now says what was
    asked and how a unit becomes available."""
    lon, lat = lonlat(1, 1)
    call = _post(api, "/api/calls", {"lon": lon, "lat": lat, "call_type": "theft"})
    _post(api, f"/api/calls/{call['id']}/dispatch", {"unit_id": "B01"})
    r = api.post("/api/units/B01/status", json={"status": "available"}, headers=OFF)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        f"unit B01 is dispatched on call {call['id']}, not on scene: it becomes available by "
        "clearing the call from the scene (report en_route and on_scene first), or when a "
        "dispatcher releases it or cancels the call"
    )
    assert _unit(api, "B01")["status"] == "dispatched"  # nothing changed
