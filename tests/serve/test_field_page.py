"""The officer's page in real (headless) Chromium against the service in a subprocess
(synthetic grid, serve_support.py), with a faked geolocation.

A patrol officer (unit StationA-P1) reports a sighting from the device's position at grid
node (5, 4); the nearest booth, B01 at (5, 5), one block away, gets it on its page, with
its one-tap acknowledgement; the dispatcher's console shows the acknowledgement. Then
B01 is dispatched to a call with the caller's phone: its page shows the phone (unmasked
for the assigned unit) and the route drawn on the map.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import DISP, Server, lonlat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
USERS = ("disp:dispatcher", "pat:officer:StationA-P1", "off:officer:B01")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI")
        pytest.skip(f"{CHROMIUM} not installed")
    folder = tmp_path_factory.mktemp("field")
    srv = Server(f"sqlite:///{folder / 'xunfang.db'}", folder / "server.log", USERS)
    os.environ["XUNFANG_FIELD_POSITION_S"] = "2"
    try:
        srv.start()
    finally:
        del os.environ["XUNFANG_FIELD_POSITION_S"]
    yield srv
    srv.stop()


def _login(page, url: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/field")
    page.fill("#login-user", user)
    page.fill("#login-pass", f"pw-{user}-1")
    page.click("#login-btn")
    page.wait_for_selector("#feed-state[data-state=on]", timeout=15000)


def test_sighting_reaches_the_nearest_booth_which_acknowledges(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    lon, lat = lonlat(5, 4)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            phone = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN"}
            reporter = browser.new_context(
                **phone,
                geolocation={"longitude": lon, "latitude": lat},
                permissions=["geolocation"],
            ).new_page()
            booth = browser.new_context(
                viewport={"width": 800, "height": 1280},
                locale="en-US",
                geolocation={"longitude": lonlat(5, 5)[0], "latitude": lonlat(5, 5)[1]},
                permissions=["geolocation"],
            ).new_page()
            console = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            for pg in (reporter, booth, console):
                pg.on("pageerror", lambda e: errors.append(str(e)))
            _login(reporter, server.url, "pat")
            _login(booth, server.url, "off")
            assert reporter.inner_text("#unit-name").endswith("(StationA-P1)")
            # the service's language (zh here) whatever the browser's (en-US for the booth;
            # the page followed the browser once), and the officer's button switches it
            assert booth.inner_text("h1") == "巡防 警员"
            booth.click("#lang-toggle")
            assert booth.inner_text("h1") == "xunfang field"
            assert reporter.inner_text("h1") == "巡防 警员"
            console.goto(server.url + "/")
            console.fill("#login-user", "disp")
            console.fill("#login-pass", "pw-disp-1")
            console.click("#login-btn")
            console.wait_for_selector("#feed-state[data-state=on]", timeout=15000)

            reporter.click("#sight-gps")
            # not wait_for_function: its polling evaluates a string, which the page's
            # content security policy (no 'unsafe-eval') refuses
            expect(reporter.locator("#sight-lon")).not_to_have_value("", timeout=15000)
            assert float(reporter.input_value("#sight-lon")) == pytest.approx(lon, abs=1e-6)
            reporter.fill("#sight-desc", "男子, 红色上衣, 向北")
            reporter.click("#sight-send")
            reporter.wait_for_selector("#sight-msg[data-alert-id]", timeout=15000)
            aid = reporter.get_attribute("#sight-msg", "data-alert-id")
            # the reporter's own unit is not a recipient
            assert reporter.locator(f'li.alert[data-alert-id="{aid}"] button.ack').count() == 0

            item = booth.locator(f'li.alert[data-alert-id="{aid}"]')
            item.wait_for(timeout=15000)
            assert "红色上衣" in item.inner_text()
            item.locator("button.ack").click()
            booth.wait_for_selector(
                f'li.alert[data-alert-id="{aid}"][data-acked="1"]', timeout=15000
            )
            sel = f'#alerts-list li[data-alert-id="{aid}"]'
            console.locator(sel, has_text="1/").wait_for(timeout=15000)  # acked 1 of n
            # the dispatcher makes the alert a call in one step: its place and text kept
            console.select_option("#call-type", "theft")
            console.click(f"{sel} button.to-call")
            console.locator(sel, has_text="→ #").wait_for(timeout=15000)
            console.locator("#calls-list li", has_text="盗窃").first.wait_for(timeout=15000)

            # the booth is sent to a call: its page shows the caller's phone and the route
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.token('disp')}"}
            ) as d:
                c = d.post(
                    "/api/calls",
                    json={
                        "call_type": "theft",
                        "lon": lonlat(3, 5)[0],
                        "lat": lonlat(3, 5)[1],
                        "caller_phone": "13977310042",
                    },
                ).json()
                assert (
                    d.post(f"/api/calls/{c['id']}/dispatch", json={"unit_id": "B01"}).status_code
                    == 200
                )
            booth.wait_for_selector("#assignment:not([hidden])", timeout=15000)
            booth.wait_for_selector("#route-info[data-eta-s]", timeout=15000)
            assert booth.inner_text("#call-phone") == "13977310042"
            assert float(booth.get_attribute("#route-info", "data-eta-s") or 0) == pytest.approx(
                40.0
            )
            assert booth.locator("#layer-route path.route").count() == 1
            booth.click("#ack-call")
            booth.wait_for_selector("#ack-call:disabled", timeout=15000)
            booth.click('.st-btn[data-status="en_route"]')
            booth.wait_for_selector('#unit-status[data-status="en_route"]', timeout=15000)
            # the console's KPI panel counts the booth's acknowledgement (签收) of its call
            console.click("#kpi-load")
            row = console.locator('#kpi-standards tr[data-kpi="acknowledge"]')
            row.wait_for(timeout=15000)
            assert "/1" in row.inner_text()
            # on scene, the officer records the result (反馈) from the page
            booth.click('.st-btn[data-status="on_scene"]')
            booth.wait_for_selector('#unit-status[data-status="on_scene"]', timeout=15000)
            booth.select_option("#disposition", "mediated")
            booth.fill("#clear-note", "已调解")
            booth.click("#clear-call")
            booth.wait_for_selector("#assignment[hidden]", state="attached", timeout=15000)
        finally:
            browser.close()
    assert errors == []
    with httpx.Client(base_url=server.url, headers=DISP) as d:
        alert = next(a for a in d.get("/api/alerts").json() if str(a["id"]) == aid)
        acked = {r["unit_id"]: r["acked_by"] for r in alert["recipients"] if r["acked_at"]}
        assert acked == {"B01": "off"} and alert["reporter_unit_id"] == "StationA-P1"
        made = d.get(f"/api/calls/{alert['call_id']}").json()
        assert (made["alert_id"], made["description"], made["lon"]) == (
            alert["id"],
            "男子, 红色上衣, 向北",
            pytest.approx(lon),
        )
        done = d.get(f"/api/calls/{c['id']}").json()
        assert (done["status"], done["disposition"], done["disposition_note"]) == (
            "cleared",
            "mediated",
            "已调解",
        )
        # the page sent the booth's position (faked at its post) while on duty
        assert d.get("/api/units/B01").json()["position_at"] is not None
