"""Guards found missing by a new-user test (synthetic data: the hand-made grid of
serve_support.py and made-up callers): one server per SQLite file, bidirectional
characters refused, one phone mask, the officer's own 反馈, a health check that sees the
database, and strict JSON files."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serve_support import ADM, ANA, DISP, OFF, OFF2, TestClient, app_client, lonlat
from typer.testing import CliRunner

from xunfang import strict_json
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import mask_phone as ingest_mask_phone
from xunfang.serve.api.security import mask_phone
from xunfang.serve.cli_serve import app
from xunfang.store.db import ServerLock

CALL_AT_11 = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))
HOLDER = """
import sys, time
from pathlib import Path
from xunfang.store.db import ServerLock
lock = ServerLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[TestClient]:
    with app_client(f"sqlite:///{tmp_path / 'x.db'}") as client:
        yield client


def _call(client: TestClient, **extra: object) -> int:
    r = client.post("/api/calls", json={"call_type": "theft", **CALL_AT_11, **extra}, headers=DISP)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _post(client: TestClient, path: str, body: object, headers: dict[str, str]) -> None:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200, (path, r.text)


# ---------------------------------------------------------------------------- one server
def test_a_second_server_on_one_sqlite_file_is_refused_until_the_first_dies(
    tmp_path: Path,
) -> None:
    db = tmp_path / "xf.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ValidationError) as info:
            ServerLock(db).acquire()
        assert f"database {db} is in use" in str(info.value)
        assert f"pid {holder.pid}" in str(info.value)
        # the command refuses before touching the database, naming file and process
        r = CliRunner().invoke(
            app,
            ["serve", "--data-dir", str(tmp_path)],
            env={"XUNFANG_DATABASE_URL": f"sqlite:///{db}"},
        )
        assert r.exit_code == 2 and f"pid {holder.pid}" in r.output, r.output
        assert not db.exists()
        # in Chinese with --lang zh (a tester's zh service said it in English)
        r = CliRunner().invoke(
            app,
            ["serve", "--data-dir", str(tmp_path), "--lang", "zh"],
            env={"XUNFANG_DATABASE_URL": f"sqlite:///{db}"},
        )
        said = " ".join(r.output.split())
        assert r.exit_code == 2
        assert (
            f"错误：数据库 {db} 正被另一个 xunfang serve 使用（pid {holder.pid}，锁文件 "
            f"{db}.serve.lock）：SQLite 只能由一个进程提供服务" in said
        ), said
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # dies without releasing anything itself
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the dead holder's lock file is taken over
    assert (tmp_path / "xf.db.serve.lock").read_text().strip() == str(holder.pid)
    with ServerLock(db) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


# ---------------------------------------------------------------------------- bidi
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("address", "abc\u202egnp.exe", "U+202E"),  # right-to-left override
        ("address", "人民大道\u2066200号", "U+2066"),  # left-to-right isolate
        ("description", "two lines\nare fine but \u200f is not", "U+200F"),
        ("caller_name", "张\u202a三", "U+202A"),
    ],
)
def test_bidirectional_characters_are_refused(
    lite: TestClient, field: str, value: str, code: str
) -> None:
    r = lite.post(
        "/api/calls", json={"call_type": "theft", **CALL_AT_11, field: value}, headers=DISP
    )
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["field"].endswith(field) and code in err["msg"]


def test_bidi_refused_on_edits_sightings_and_cli_user_names(
    lite: TestClient, tmp_path: Path
) -> None:
    cid = _call(lite, address="人民大道200号", description="lost wallet \u200d ok")
    r = lite.patch(f"/api/calls/{cid}", json={"address": "x\u202dy"}, headers=DISP)
    assert r.status_code == 422 and "U+202D" in r.text
    lon, lat = lonlat(5, 4)
    r = lite.post(
        "/api/alerts", json={"description": "car \u2067red", "lon": lon, "lat": lat}, headers=OFF
    )
    assert r.status_code == 422 and "U+2067" in r.text
    r = CliRunner().invoke(
        app,
        ["user", "add", "ad\u202emin", "--role", "admin", "--password-stdin"],
        input="s3cret-pass\n",
        env={"XUNFANG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"},
    )
    assert r.exit_code == 2 and "'ad\\u202emin'" in r.output, r.output


def test_zero_width_characters_are_stripped_from_text_fields(lite: TestClient) -> None:
    # pasted from a chat app: U+200B inside the address, U+FEFF before the name, U+2060
    # inside the phone and the description; stored without them, so a search finds them
    cid = _call(
        lite,
        address="南京\u200b东路100号",
        caller_name="\ufeff张三",
        caller_phone="138\u20600013 8000",
        description="lost\u200b wallet\u2060",
    )
    r = lite.get(f"/api/calls/{cid}", headers=DISP)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["address"] == "南京东路100号" and body["description"] == "lost wallet"
    r = lite.patch(f"/api/calls/{cid}", json={"address": "\u2060外滩\u200b1号"}, headers=DISP)
    assert r.status_code == 200 and r.json()["address"] == "外滩1号", r.text
    # nothing left but invisible characters: an empty name, refused as one
    r = lite.post(
        "/api/calls",
        json={"call_type": "theft", **CALL_AT_11, "caller_name": "\u200b\ufeff"},
        headers=DISP,
    )
    assert r.status_code == 422, r.text
    # the caller's name and phone, as the dispatcher sees them (the phone masked)
    r = lite.get(f"/api/calls/{cid}", headers=DISP)
    assert "\ufeff" not in r.text and "\\ufeff" not in r.text and "\\u2060" not in r.text


# ---------------------------------------------------------------------------- masks
def test_ingest_and_the_api_mask_a_phone_alike(lite: TestClient) -> None:
    phones = ["13812345678", "+86 138-1234-5678", "021-6432-1234", "+1 (312) 555-0100", "110"]
    assert ingest_mask_phone(pd.Series(phones)).tolist() == [mask_phone(p) for p in phones]
    assert [mask_phone(p) for p in phones] == [
        "138****5678",
        "138****5678",
        "021****1234",
        "131****0100",
        "***",
    ]
    cid = _call(lite, caller_name="李四", caller_phone="13812345678")
    seen = lite.get(f"/api/calls/{cid}", headers=ANA).json()
    assert (seen["caller_name"], seen["caller_phone"]) == ("李*", "138****5678")


# ---------------------------------------------------------------------------- 反馈
def test_the_officer_on_the_call_clears_it_and_no_other_officer(lite: TestClient) -> None:
    cid = _call(lite)
    _post(lite, f"/api/calls/{cid}/dispatch", {"unit_id": "B01"}, DISP)
    _post(lite, "/api/units/B01/status", {"status": "en_route"}, OFF)
    _post(lite, "/api/units/B01/status", {"status": "on_scene"}, OFF)
    body = {"disposition": "mediated", "note": "双方和解"}
    r = lite.post(f"/api/calls/{cid}/clear", json=body, headers=OFF2)  # B02's officer
    assert r.status_code == 403 and "not assigned to your unit" in r.json()["detail"]
    r = lite.post(f"/api/calls/{cid}/clear", json=body, headers=ANA)
    assert r.status_code == 403
    r = lite.post(f"/api/calls/{cid}/clear", json={"disposition": "nope"}, headers=OFF)
    assert r.status_code == 422
    r = lite.post(f"/api/calls/{cid}/clear", json=body, headers=OFF)
    assert r.status_code == 200, r.text
    call = r.json()
    assert (call["status"], call["disposition"], call["disposition_note"]) == (
        "cleared",
        "mediated",
        "双方和解",
    )
    audit = lite.get("/api/audit", headers=ADM).json()
    clears = [(a["username"], a["resource_id"]) for a in audit if a["action"] == "call.clear"]
    assert clears == [("off", str(cid))]
    # clearing it again is a conflict (409), not "not your unit" (its unit is released)
    again = lite.post(f"/api/calls/{cid}/clear", json=body, headers=OFF)
    assert again.status_code == 409 and "already cleared" in again.json()["detail"]


# ---------------------------------------------------------------------------- health
def test_health_reports_a_locked_database_as_unavailable(lite: TestClient) -> None:
    r = lite.get("/api/health")
    assert (r.status_code, r.json()) == (
        200,
        {"status": "ok", "database": "ok", "backend": "sqlite"},
    )
    db_path = lite.app.state.service.db.url.database  # type: ignore[attr-defined]
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        r = lite.get("/api/health")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "database": "unavailable", "backend": "sqlite"}
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert lite.get("/api/health").status_code == 200


# ---------------------------------------------------------------------------- strict JSON
def _strict(text: str) -> object:
    def refuse(constant: str) -> float:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_strict_json_writes_null_for_nan_and_infinity() -> None:
    summary = {
        "training_weeks": math.nan,
        "figures": {"p90_s": {"mean": np.float64("nan"), "ci95": -math.inf, "n": np.int64(2)}},
        "rates": np.array([1.5, np.inf]),
        "pair": (np.float32(0.25), float("inf")),
        "when": pd.Timestamp("2024-03-01", tz="UTC"),
    }
    with pytest.raises(ValueError, match="NaN"):
        _strict(json.dumps({"training_weeks": math.nan}))  # what was written before
    assert _strict(strict_json.dumps(summary, default=str)) == {
        "training_weeks": None,
        "figures": {"p90_s": {"mean": None, "ci95": None, "n": 2}},
        "rates": [1.5, None],
        "pair": [0.25, None],
        "when": "2024-03-01 00:00:00+00:00",
    }
    with pytest.raises(TypeError, match="Timestamp"):
        strict_json.dumps(summary)


def test_a_gb18030_body_is_refused_with_the_byte_and_the_encoding_and_nothing_written(
    lite: TestClient,
) -> None:
    """A 110 system posting its native GB18030 (synthetic call): FastAPI said only "There
    was an error parsing the body"."""
    body = {"call_type": "theft", **dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))}
    body["address"] = "南京路1号"
    raw = json.dumps(body, ensure_ascii=False).encode("gb18030")
    start = raw.index("南".encode("gb18030"))  # the first non-ASCII byte
    for ctype in ("application/json", "application/json; charset=gb18030"):
        r = lite.post("/api/calls", content=raw, headers={**DISP, "Content-Type": ctype})
        assert r.status_code == 400
        detail = r.json()["detail"]
        assert detail.startswith(
            f"the request body is not UTF-8 at byte {start} (it reads as GB18030/GBK: "
            "re-encode it as UTF-8)"
        )
        assert f"请求体第 {start} 字节起不是 UTF-8 编码" in detail
    # bytes that are neither UTF-8 nor GB18030: no encoding guessed
    bad = b'{"call_type": "theft", "address": "\xff\xff"}'
    r = lite.post("/api/calls", content=bad, headers={**DISP, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("the request body is not UTF-8 at byte 35: JSON")
    assert lite.get("/api/calls", headers=DISP).json() == []
    # other HTTP errors keep their own answer
    assert lite.get("/api/no-such-route", headers=DISP).json() == {"detail": "Not Found"}
