"""Helpers of the service tests: the app in process, database backends, a server
subprocess. The road grid is in grid_geo.py."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from grid_geo import SITES, lonlat, node, synthetic_geo

from xunfang.serve.api.app import create_app, prepare_database
from xunfang.serve.api.geo import Geo
from xunfang.serve.api.security import Principal, Role, create_token, hash_password
from xunfang.serve.api.settings import DEV_SECRET_KEY, ServeSettings
from xunfang.store import repo
from xunfang.store.db import Database

with warnings.catch_warnings():
    # starlette asks for its httpx fork; the plain httpx that FastAPI depends on works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "run_test_server.py"


# ---------------------------------------------------------------------------- databases
def pg_reachable() -> bool:
    """Whether PostgreSQL accepts connections at 127.0.0.1:5432."""
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=2
        ):
            return True
    except Exception:
        return False


def require_pg() -> None:
    """Fail in CI, skip locally, when PostgreSQL is not reachable."""
    if pg_reachable():
        return
    msg = "PostgreSQL not reachable at 127.0.0.1:5432 (database test, user postgres)"
    if os.environ.get("CI"):
        pytest.fail(msg + " - CI must provide it")
    pytest.skip(msg + " - start it to run the PostgreSQL variants")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; yields the URL that uses it."""
    import psycopg

    name = "xf_" + uuid.uuid4().hex[:12]
    dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextlib.contextmanager
def database_url(backend: str, folder: Path) -> Iterator[str]:
    """A URL of an empty database of ``backend`` (``sqlite`` file in ``folder``, or
    ``postgresql`` schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'xunfang.db'}"
    else:
        require_pg()
        with pg_schema() as url:
            yield url


# ---------------------------------------------------------------------------- in process
USERS = (
    "disp:dispatcher",
    "disp2:dispatcher",
    "off:officer:B01",
    "off2:officer:B02",
    "ana:analyst",
    "adm:admin",
)
"""Users of the in-process app: ``name:role[:unit]``, password ``pw-<name>-1``."""


@functools.cache
def password_hash(name: str) -> str:
    """Argon2 hash of ``pw-<name>-1``, computed once (a hash costs ~0.3 s here)."""
    return hash_password(f"pw-{name}-1")


def add_users(db: Database, users: tuple[str, ...] = USERS) -> None:
    with db.write() as s:
        for spec in users:
            name, role, *unit = spec.split(":")
            repo.add_user(s, name, password_hash(name), Role(role).value, *unit)


def auth(spec: str, secret: str = DEV_SECRET_KEY) -> dict[str, str]:
    """Bearer header for ``name:role[:unit]`` (a token minted directly)."""
    name, role, *unit = spec.split(":")
    token, _ = create_token(Principal(name, Role(role), unit[0] if unit else None), secret, 60)
    return {"Authorization": f"Bearer {token}"}


DISP = auth("disp:dispatcher")
DISP2 = auth("disp2:dispatcher")
OFF = auth("off:officer:B01")
OFF2 = auth("off2:officer:B02")
ANA = auth("ana:analyst")
ADM = auth("adm:admin")


@contextlib.contextmanager
def app_client(url: str, geo: Geo | None = None, **settings: object) -> Iterator[TestClient]:
    """The app on ``geo`` (default the grid) with a migrated database and :data:`USERS`,
    running, on the grid's clock (it lies in Chicago: the KPI tests' local hours are worked
    out there)."""
    db = Database(url)
    prepare_database(db)
    add_users(db)
    settings.setdefault("timezone", "America/Chicago")
    app = create_app(ServeSettings(database_url=url, **settings), geo or synthetic_geo(), db=db)  # type: ignore[arg-type]
    try:
        with TestClient(app) as client:
            yield client
    finally:
        db.dispose()


# ---------------------------------------------------------------------------- server
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The service on the synthetic grid, in a subprocess (uvicorn on 127.0.0.1).

    ``users`` are created before start: ``name:role[:unit]`` with password ``pw-<name>-1``.
    """

    def __init__(
        self, db_url: str, log_path: Path, users: tuple[str, ...] = (), workers: int = 1
    ) -> None:
        self.db_url = db_url
        self.log_path = log_path
        self.users = users
        self.workers = workers
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> Server:
        """Start the process (returns at once; see :meth:`wait`)."""
        self.port = free_port()
        env = {**os.environ, "XUNFANG_DATABASE_URL": self.db_url, "XUNFANG_ENV": "development"}
        args = [sys.executable, str(SERVER_SCRIPT), "--port", str(self.port)]
        for u in self.users:
            args += ["--user", u]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait(self, timeout_s: float = 60.0) -> Server:
        """Wait until the server answers its health check."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def start(self) -> Server:
        """Start and wait."""
        return self.launch().wait()

    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes (children of the server process)."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(x) for x in path.read_text().split()]
        # uvicorn's supervisor also starts a multiprocessing resource tracker: workers
        # are the children that opened the listening port's socket, i.e. not the tracker
        return [k for k in kids if "resource_tracker" not in _cmdline(k)]

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def token(self, username: str) -> str:
        r = httpx.post(
            self.url + "/api/auth/token",
            data={"username": username, "password": f"pw-{username}-1"},
            timeout=10.0,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def client(self, username: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=30.0,
        )


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


__all__ = ["SITES", "TestClient", "lonlat", "node", "synthetic_geo"]
