"""The service as it runs: uvicorn in a subprocess on 127.0.0.1, SQLite and PostgreSQL.

* two dispatchers racing for one unit (and for one call) get one success and one 409;
* every call acknowledged with 201 is still there after ``kill -9`` and a restart, and
  the caller's phone never reached the server's log;
* the console in headless Chromium: log in, enter a call, dispatch the recommended unit,
  see its status change (live feed), switch to English;
* a schema-driven fuzz (schemathesis) over the OpenAPI spec finds no 500.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import (
    ADM,
    DISP,
    DISP2,
    Server,
    add_users,
    database_url,
    lonlat,
    pg_reachable,
    require_pg,
)

from xunfang.serve.api.app import prepare_database
from xunfang.store.db import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = "13977310042"


def _prepared(url: str) -> None:
    db = Database(url)
    prepare_database(db)
    add_users(db)
    db.dispose()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """One server per backend (PostgreSQL when reachable), started side by side."""
    folder = tmp_path_factory.mktemp("servers")
    out: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:
        for backend in ["sqlite"] + (["postgresql"] if pg_reachable() else []):
            (folder / backend).mkdir()
            url = stack.enter_context(database_url(backend, folder / backend))
            _prepared(url)
            out[backend] = Server(url, folder / f"{backend}.log").launch()
            stack.callback(out[backend].stop)
        for server in out.values():
            server.wait()
        yield out


@pytest.fixture
def sqlite_server(servers: dict[str, Server]) -> Server:
    return servers["sqlite"]


def _backend_server(request: pytest.FixtureRequest, backend: str) -> Server:
    if backend == "postgresql":
        require_pg()
    servers: dict[str, Server] = request.getfixturevalue("servers")
    return servers[backend]


def _client(server: Server, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=headers, timeout=30.0)


def _race(jobs: list[tuple[httpx.Client, str, dict[str, str]]]) -> list[int]:
    """Run the POSTs at the same moment; their status codes in order."""
    barrier = threading.Barrier(len(jobs))
    codes = [0] * len(jobs)

    def go(i: int) -> None:
        client, path, body = jobs[i]
        barrier.wait()
        codes[i] = client.post(path, json=body).status_code

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_dispatchers_racing_get_one_success_and_one_409(
    backend: str, request: pytest.FixtureRequest
) -> None:
    server = _backend_server(request, backend)
    lon, lat = lonlat(3, 3)
    with _client(server, DISP) as a, _client(server, DISP2) as b, _client(server, ADM) as adm:
        for uid in ("RACE1", "RACE2"):
            r = adm.post("/api/units", json={"id": uid, "kind": "patrol", "lon": lon, "lat": lat})
            assert r.status_code == 201, r.text
        for _ in range(4):  # one unit, two calls
            c1 = a.post("/api/calls", json={"call_type": "theft", "lon": lon, "lat": lat}).json()[
                "id"
            ]
            c2 = b.post("/api/calls", json={"call_type": "dispute", "lon": lon, "lat": lat}).json()[
                "id"
            ]
            codes = _race(
                [
                    (a, f"/api/calls/{c1}/dispatch", {"unit_id": "RACE1"}),
                    (b, f"/api/calls/{c2}/dispatch", {"unit_id": "RACE1"}),
                ]
            )
            assert sorted(codes) == [200, 409]
            won, lost = (c1, c2) if codes[0] == 200 else (c2, c1)
            assert a.get("/api/units/RACE1").json()["call_id"] == won
            assert (a.get(f"/api/calls/{lost}").json()["status"]) == "received"
            assert a.post(f"/api/calls/{won}/cancel").status_code == 200
            assert a.post(f"/api/calls/{lost}/cancel").status_code == 200
        for _ in range(2):  # one call, two units
            c = a.post("/api/calls", json={"call_type": "theft", "lon": lon, "lat": lat}).json()[
                "id"
            ]
            codes = _race(
                [
                    (a, f"/api/calls/{c}/dispatch", {"unit_id": "RACE1"}),
                    (b, f"/api/calls/{c}/dispatch", {"unit_id": "RACE2"}),
                ]
            )
            assert sorted(codes) == [200, 409]
            winner = "RACE1" if codes[0] == 200 else "RACE2"
            loser = "RACE2" if winner == "RACE1" else "RACE1"
            assert a.get(f"/api/calls/{c}").json()["unit_id"] == winner
            assert a.get(f"/api/units/{loser}").json()["status"] == "available"
            assert a.post(f"/api/calls/{c}/cancel").status_code == 200


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).is_file() or shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: install it (apt-get install -y chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")


def test_console_in_headless_chromium(sqlite_server: Server) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    lon, lat = lonlat(2, 3)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(sqlite_server.url + "/")
            page.fill("#login-user", "disp")
            page.fill("#login-pass", "pw-disp-1")
            page.click("#login-btn")
            page.wait_for_selector("#feed-state[data-state=on]", timeout=15000)
            assert page.locator("#layer-roads path").count() >= 1  # the vector road layer
            page.select_option("#call-type", "traffic_accident")
            page.fill("#call-lon", f"{lon:.6f}")
            page.fill("#call-lat", f"{lat:.6f}")
            page.fill("#call-phone", PHONE)
            page.click("#call-submit")
            first = page.locator("#recs-list .rec-item").first
            first.wait_for(timeout=15000)
            unit = first.get_attribute("data-unit-id")
            assert unit
            first.locator("button.dispatch").click()
            row = f'#units-table tr[data-unit-id="{unit}"]'
            page.wait_for_selector(f'{row} td.status[data-status="dispatched"]', timeout=15000)
            page.click(f"{row} button.act-en_route")
            page.wait_for_selector(f'{row} td.status[data-status="en_route"]', timeout=15000)
            page.click("#lang-toggle")
            assert page.inner_text(f"{row} td.status") == "en route"
            assert page.inner_text("#intake-panel h2") == "Call intake"
            page.click("#lang-toggle")
            assert page.inner_text(f"{row} td.status") == "在途"
        finally:
            browser.close()
    assert errors == []
    with _client(sqlite_server, DISP) as c:
        calls = c.get("/api/calls").json()
        mine = next(x for x in calls if x["call_type"] == "traffic_accident")
        assert (mine["status"], mine["unit_id"]) == ("en_route", unit)


def test_console_pages_open_calls_oldest_first_and_reloads_alerts_after_a_reconnect(
    sqlite_server: Server,
) -> None:
    """The open-calls list shows 20 a page, oldest waiting first; when the live feed drops,
    the console reloads alerts too (the alert below reaches it only through that reload:
    the test's WebSocket route swallows alert events)."""
    _chromium_or_skip()
    from playwright.sync_api import WebSocketRoute, sync_playwright

    lon, lat = lonlat(3, 3)
    with _client(sqlite_server, DISP) as c:
        for i in range(25):
            body = {"call_type": "theft", "lon": lon, "lat": lat, "address": f"page-{i}"}
            assert c.post("/api/calls", json=body).status_code == 201
        oldest = [x["id"] for x in c.get("/api/calls?open=true&order=oldest&limit=1000").json()]
    assert len(oldest) >= 25 and oldest == sorted(oldest)
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda m: server.send(m))
        server.on_message(lambda m: None if '"alert.created"' in str(m) else ws.send(m))
        routes.append(ws)

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route_web_socket("**/ws", route)
            page.goto(sqlite_server.url + "/")
            page.fill("#login-user", "disp")
            page.fill("#login-pass", "pw-disp-1")
            page.click("#login-btn")
            page.wait_for_selector("#feed-state[data-state=on]", timeout=15000)

            def shown() -> list[int]:
                items = page.locator("#calls-list li")
                return [
                    int(items.nth(i).get_attribute("data-call-id") or 0)
                    for i in range(items.count())
                ]

            assert shown() == oldest[:20]
            pages = -(-len(oldest) // 20)
            assert page.inner_text("#calls-page") == f"1 / {pages} ({len(oldest)})"
            page.click("#calls-next")
            assert shown() == oldest[20:40]
            assert page.is_disabled("#calls-next") == (pages == 2)

            with _client(sqlite_server, DISP2) as c:
                r = c.post("/api/alerts", json={"description": "grey van", "lon": lon, "lat": lat})
                assert r.status_code == 201
                aid = r.json()["id"]
            unit_row = '#units-table tr[data-unit-id="B01"]'
            page.wait_for_selector(unit_row, timeout=5000)
            page.wait_for_timeout(1000)
            assert page.locator(f'#alerts-list li[data-alert-id="{aid}"]').count() == 0
            routes[-1].close(code=4000, reason="test drops the feed")
            page.wait_for_selector(f'#alerts-list li[data-alert-id="{aid}"]', timeout=15000)
            page.wait_for_selector("#feed-state[data-state=on]", timeout=15000)
            assert len(routes) == 2  # it reconnected
        finally:
            browser.close()
    assert errors == []


def test_console_alert_form_sends_how_many_units_to_alert(sqlite_server: Server) -> None:
    """The console's alert form has the ``units`` of POST /api/alerts (found by a tester:
    the route took it, the form did not offer it, so every alert went to 3 units): a
    number input from 1 to the API's maximum, labelled in both languages, sent with the
    alert; the alert goes to that many units."""
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from xunfang.serve.api.schemas import AlertCreate

    api_max = next(m.le for m in AlertCreate.model_fields["units"].metadata if hasattr(m, "le"))
    lon, lat = lonlat(5, 5)
    sent: list[dict[str, object]] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    sent.append(r.post_data_json)
                    if r.method == "POST" and r.url.endswith("/api/alerts")
                    else None
                ),
            )
            page.goto(sqlite_server.url + "/")
            page.fill("#login-user", "disp")
            page.fill("#login-pass", "pw-disp-1")
            page.click("#login-btn")
            page.wait_for_selector("#feed-state[data-state=on]", timeout=15000)
            units = page.locator("#alert-units")
            assert (units.get_attribute("type"), units.get_attribute("min")) == ("number", "1")
            assert units.get_attribute("max") == str(api_max) == "500"
            assert units.input_value() == "3"  # the API's default
            label = '#alert-form span[data-i18n="alert_units"]'
            assert page.inner_text(label) == "通知警力数"
            page.click("#lang-toggle")
            assert page.inner_text(label) == "Units to alert"
            for n in (2, 3):
                page.fill("#alert-desc", f"white van {n}")
                page.fill("#alert-lon", f"{lon:.6f}")
                page.fill("#alert-lat", f"{lat:.6f}")
                page.fill("#alert-min", "30")
                page.fill("#alert-units", str(n))
                with page.expect_response(lambda r: r.url.endswith("/api/alerts")) as resp:
                    page.click("#alert-submit")
                assert resp.value.status == 201, resp.value.text()
                # 4 units on the grid (2 patrols, 2 booths), all within 30 min: busy ones
                # make up the number, so it is always the number asked for
                assert len(resp.value.json()["recipients"]) == n
            page.fill("#alert-units", "501")  # over the API's maximum: the form refuses
            page.click("#alert-submit")
            assert page.evaluate("document.querySelector('#alert-units').validity.valid") is False
        finally:
            browser.close()
    assert errors == []
    assert [b["units"] for b in sent] == [2, 3]


def test_openapi_fuzz_finds_no_server_error(sqlite_server: Server) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(sqlite_server.url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    strategy = st.one_of(
        [
            op.as_strategy(generation_mode=mode)
            for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )
    failures: list[str] = []
    seen: set[str] = set()

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        seen.add(f"{case.method} {case.path}")
        response = case.call(base_url=sqlite_server.url, headers=ADM, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    fuzz()
    assert failures == []
    assert len(seen) >= 15
    assert httpx.get(sqlite_server.url + "/api/health").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_calls_survive_kill9(backend: str, request: pytest.FixtureRequest) -> None:
    # the last test of the module: it kills the module's server and restarts it
    server = _backend_server(request, backend)
    lon, lat = lonlat(4, 6)
    acked: list[dict] = []  # type: ignore[type-arg]
    stop = threading.Event()

    def intake(worker: int) -> None:
        with _client(server, DISP) as c:
            i = 0
            while not stop.is_set():
                i += 1
                body = {
                    "call_type": "missing_person",
                    "lon": lon,
                    "lat": lat,
                    "address": f"w{worker}-{i}",
                    "caller_name": "Li Si",
                    "caller_phone": PHONE,
                }
                try:
                    r = c.post("/api/calls", json=body)
                except httpx.HTTPError:
                    return  # the server died under this request: not acknowledged
                if r.status_code == 201:
                    acked.append(r.json())

    threads = [threading.Thread(target=intake, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()  # while requests are in flight
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 60
    restarted = server.start()
    with _client(restarted, DISP) as c:
        for call in acked:
            r = c.get(f"/api/calls/{call['id']}")
            assert r.status_code == 200, call
            got = r.json()
            assert (got["address"], got["caller_phone"], got["received_at"]) == (
                call["address"],
                PHONE,
                call["received_at"],
            )
        stored = c.get("/api/calls", params={"limit": 1000}).json()
        mine = [x for x in stored if x["call_type"] == "missing_person"]
        assert len({x["address"] for x in mine}) == len(mine) >= len(acked)
        log = server.log_path.read_text()
        assert "POST /api/calls" in log and PHONE not in log and "Li Si" not in log
