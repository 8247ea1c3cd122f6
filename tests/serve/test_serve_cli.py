"""``xunfang serve`` / ``xunfang user add`` (the Typer sub-app), and the real service on
the Loop's road network (real data)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serve_support import free_port
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.serve.api.app import prepare_database
from xunfang.serve.api.geo import read_plan_sites
from xunfang.serve.api.security import verify_password
from xunfang.serve.cli_serve import app
from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.migrate import head_revision

runner = CliRunner()

LOOP_SITES = """name,kind,node,osm_id,x_m,y_m,lon,lat
Loop booth A,booth,,,,,-87.6278,41.8819
Loop booth B,booth,,,,,-87.6325,41.8786
Loop station,station,,,,,-87.6235,41.8765
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"XUNFANG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **extra}


def test_user_add_hashes_the_password_and_refuses_bad_input(tmp_path: Path) -> None:
    env = _env(tmp_path)
    r = runner.invoke(
        app,
        ["user", "add", "amy", "--role", "dispatcher", "--password-stdin"],
        input="s3cret-pass\n",
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert "user amy added with role dispatcher" in r.output
    db = Database(env["XUNFANG_DATABASE_URL"])
    with db.read() as s:
        user = repo.get_user(s, "amy")
        assert user is not None and user.role == "dispatcher"
        assert (
            user.password_hash.startswith("$argon2id$") and "s3cret-pass" not in user.password_hash
        )
        assert [e.action for e in repo.list_audit(s)] == ["user.create"]
    db.dispose()
    again = runner.invoke(
        app,
        ["user", "add", "amy", "--role", "analyst", "--password-stdin"],
        input="another-pass\n",
        env=env,
    )
    assert again.exit_code == 2 and "already exists" in again.output
    # a name that differs only in case (a hostile-client test made "Li" beside "li")
    alike = runner.invoke(
        app,
        ["user", "add", "AMY", "--role", "analyst", "--password-stdin"],
        input="another-pass\n",
        env=env,
    )
    assert alike.exit_code == 2
    assert "differs from the existing user 'amy' only in case" in " ".join(alike.output.split())
    bad = runner.invoke(
        app,
        ["user", "add", "bob", "--role", "chief", "--password-stdin"],
        input="long-enough\n",
        env=env,
    )
    assert (
        bad.exit_code == 2
        and "--role must be one of dispatcher, officer, analyst, admin" in bad.output
    )
    short = runner.invoke(
        app,
        ["user", "add", "bob", "--role", "officer", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code == 2 and "at least 8 characters" in short.output


def test_user_add_speaks_chinese_with_lang_zh(tmp_path: Path) -> None:
    """A tester found ``user add`` without the ``--lang`` of the other commands."""
    env = _env(tmp_path)

    def add(*args: str, stdin: str = "s3cret-pass\n") -> tuple[int, str]:
        r = runner.invoke(app, ["user", "add", *args, "--password-stdin", "--lang", "zh"],
                          input=stdin, env=env)  # fmt: skip
        return r.exit_code, " ".join(r.output.split())

    key = "警告：未设置 XUNFANG_SECRET_KEY：本进程使用随机密钥；重启后用户须重新登录"
    assert add("amy", "--role", "dispatcher") == (0, f"{key} 已添加用户 amy，角色 dispatcher")
    env["XUNFANG_SECRET_KEY"] = "k" * 40
    assert add("amy", "--role", "analyst") == (2, "错误：用户 'amy' 已存在")
    code, out = add("bob", "--role", "chief")
    assert code == 2
    assert out == "错误：--role 应为 dispatcher, officer, analyst, admin 之一，实为 'chief'"
    assert add("bob", "--role", "officer", stdin="short\n") == (2, "错误：密码至少需要 8 个字符")
    code, out = add("bob", "--role", "officer", "--unit", "B99")
    assert code == 2 and out.startswith("错误：--unit：没有警力单元 'B99'（警力单元在")
    code, out = add("b o b", "--role", "officer")
    assert code == 2 and out.startswith("错误：用户名 'b o b'：请用 1 至 64 个")
    fr = runner.invoke(app, ["user", "add", "bob", "--role", "officer", "--lang", "fr"], env=env)
    assert fr.exit_code == 2 and "--lang must be one of" in fr.output


def test_user_disable_enable_role_passwd_list_and_unknown_unit(tmp_path: Path) -> None:
    env = _env(tmp_path)
    db = Database(env["XUNFANG_DATABASE_URL"])
    prepare_database(db)
    with db.write() as s:
        repo.add_site(s, name="B01", kind="booth", lon=0.0, lat=0.0, source="test")
        site = repo.list_sites(s)[0]
        repo.add_unit(
            s,
            id="B01",
            kind="booth",
            name="B01",
            status="available",
            site_id=site.id,
            home_lon=0.0,
            home_lat=0.0,
            lon=0.0,
            lat=0.0,
            updated_at=dt.datetime.now(dt.UTC),
        )

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        r = runner.invoke(app, ["user", *args], input=stdin, env=env)
        return r.exit_code, r.output

    code, out = run(
        "add",
        "olga",
        "--role",
        "officer",
        "--unit",
        "ZZ9",
        "--password-stdin",
        stdin="long-enough\n",
    )
    assert code == 2 and "no unit 'ZZ9'" in out
    assert (
        run(
            "add",
            "olga",
            "--role",
            "officer",
            "--unit",
            "B01",
            "--password-stdin",
            stdin="long-enough\n",
        )[0]
        == 0
    )
    code, out = run("disable", "olga")
    assert code == 0 and "user olga disabled: every token of theirs is revoked" in out
    code, out = run("list")
    assert code == 0 and "olga" in out and "officer" in out and "disabled" in out
    assert run("enable", "olga")[0] == 0
    assert run("role", "olga", "--role", "analyst")[0] == 0
    code, out = run("role", "olga", "--role", "officer", "--unit", "Nope")
    assert code == 2 and "no unit 'Nope'" in out
    assert run("passwd", "olga", "--password-stdin", stdin="another-pass\n")[0] == 0
    code, out = run("disable", "ghost")
    assert code == 2 and "no user 'ghost'" in out
    with db.read() as s:
        user = repo.get_user(s, "olga")
        assert user is not None and (user.role, user.unit_id, user.active) == (
            "analyst",
            None,
            True,
        )
        assert verify_password("another-pass", user.password_hash)
        actions = [e.action for e in repo.list_audit(s)][::-1]
    assert actions == ["user.create", "user.disable", "user.enable", "user.role", "user.password"]
    db.dispose()


def test_serve_migrates_and_refuses_unsafe_production(tmp_path: Path) -> None:
    r = runner.invoke(app, ["serve", "--migrate-only"], env=_env(tmp_path))
    assert r.exit_code == 0, r.output
    assert f"sqlite at schema revision {head_revision()}" in r.output
    r = runner.invoke(
        app, ["serve", "--migrate-only"], env=_env(tmp_path, XUNFANG_ENV="production")
    )
    assert r.exit_code == 2 and "XUNFANG_SECRET_KEY must be set" in r.output
    r = runner.invoke(
        app,
        ["serve", "--migrate-only"],
        env=_env(
            tmp_path,
            XUNFANG_ENV="production",
            XUNFANG_SECRET_KEY="k" * 40,
            XUNFANG_CORS_ORIGINS='["*"]',
        ),
    )
    assert r.exit_code == 2 and "CORS_ORIGINS must not contain '*'" in r.output
    r = runner.invoke(
        app, ["serve", "--migrate-only"], env=_env(tmp_path, XUNFANG_TOKEN_TTL_MIN="-5")
    )
    assert r.exit_code == 2 and "XUNFANG_TOKEN_TTL_MIN" in r.output


def test_plan_sites_are_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(LOOP_SITES)
    sites = read_plan_sites(tmp_path)
    assert [(s.name, s.kind) for s in sites] == [
        ("Loop booth A", "booth"),
        ("Loop booth B", "booth"),
        ("Loop station", "station"),
    ]
    (tmp_path / "sites.csv").write_text("name,kind,lon,lat\nX,helipad,-87.6,41.8\n")
    with pytest.raises(DataFileError, match="row 1, field 'kind': kind 'helipad' is not one of"):
        read_plan_sites(tmp_path)
    with pytest.raises(DataFileError, match=r"no sites\.csv"):
        read_plan_sites(tmp_path / "nowhere")
    city = tmp_path / "city"  # a city plan: the error names its district folders
    for name in ("district_1", "district_2"):
        (city / name).mkdir(parents=True)
        (city / name / "sites.csv").write_text(LOOP_SITES)
    (city / "city_summary.json").write_text("{}")
    with pytest.raises(
        DataFileError, match=r"one district's folder inside it \(district_1, district_2\)"
    ):
        read_plan_sites(city)


@pytest.mark.realdata
def test_xunfang_serve_on_the_loop(data_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "sites.csv").write_text(LOOP_SITES)
    env = {
        **os.environ,
        **_env(tmp_path),
        "XUNFANG_DATA_DIR": str(data_dir),
        "XUNFANG_AREA": "community:LOOP",
        "XUNFANG_PLAN_DIR": str(plan),
    }
    r = runner.invoke(
        app,
        ["user", "add", "disp", "--role", "dispatcher", "--password-stdin"],
        input="pw-disp-1\n",
        env=env,
    )
    assert r.exit_code == 0, r.output
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [
        sys.executable,
        "-c",
        "from xunfang.serve.cli_serve import app; app()",
        "serve",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail(log.read_text())
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            subprocess.run(["sleep", "0.1"], check=True)
        token = httpx.post(
            base + "/api/auth/token", data={"username": "disp", "password": "pw-disp-1"}
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        with httpx.Client(base_url=base, headers=h, timeout=30) as c:
            units = c.get("/api/units").json()
            assert sorted(u["id"] for u in units) == [
                "LoopboothA",
                "LoopboothB",
                "Loopstation-P1",
                "Loopstation-P2",
            ]
            call = c.post(
                "/api/calls", json={"call_type": "missing_person", "lon": -87.6298, "lat": 41.8806}
            )
            assert call.status_code == 201 and call.json()["snap_distance_m"] < 100
            recs = c.get(f"/api/calls/{call.json()['id']}/recommendations", params={"k": 4}).json()[
                "units"
            ]
            etas = [u["eta_s"] for u in recs]
            assert len(etas) == 4 and etas == sorted(etas) and 0 < etas[0] < 600
            far = c.post(
                "/api/calls", json={"call_type": "theft", "lon": -87.904, "lat": 41.978}
            )  # O'Hare
            assert far.status_code == 422 and "outside the service area community:LOOP" in far.text
            roads = c.get("/api/map/roads").json()
            assert sum(len(f["geometry"]["coordinates"]) for f in roads["features"]) > 1000
            meta = c.get("/api/meta").json()
            west, south, east, north = meta["bbox"]
            assert west < -87.6298 < east and south < 41.8806 < north
    finally:
        proc.terminate()
        proc.wait(15)
    assert "console at http://127.0.0.1" in log.read_text()


def test_serve_refuses_workers_on_sqlite(tmp_path: Path) -> None:
    r = runner.invoke(app, ["serve", "--workers", "2"], env=_env(tmp_path))
    assert r.exit_code == 2 and "--workers > 1 needs PostgreSQL" in r.output
    r = runner.invoke(app, ["serve", "--workers", "2", "--lang", "zh"], env=_env(tmp_path))
    assert r.exit_code == 2
    assert "数据库 sqlite，架构版本" in r.output
    assert "错误：--workers > 1 需要 PostgreSQL" in r.output
