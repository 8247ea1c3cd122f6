"""The store on SQLite and PostgreSQL: migrations, conditional updates under a race,
the append-only audit log, UTC timestamps, SQLite durability settings."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, StatementError

from xunfang.errors import ValidationError
from xunfang.store import repo
from xunfang.store.db import Database, normalise_url
from xunfang.store.migrate import current_revision, head_revision, upgrade
from xunfang.store.models import Base, Call

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def _pg_or_skip() -> None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=2):
            return
    except Exception:
        msg = "PostgreSQL not reachable at 127.0.0.1:5432 (database test, user postgres)"
        if os.environ.get("CI"):
            pytest.fail(msg + " - CI must provide it")
        pytest.skip(msg + " - start it to run the PostgreSQL variants")


@contextlib.contextmanager
def _pg_schema() -> Iterator[str]:
    import psycopg

    name = "xf_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each backend."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'store.db'}"
        else:
            _pg_or_skip()
            url = stack.enter_context(_pg_schema())
        database = Database(url)
        stack.callback(database.dispose)
        assert upgrade(database) == head_revision() == "0002"
        yield database


def _unit(s: object, unit_id: str) -> None:
    repo.add_unit(
        s,  # type: ignore[arg-type]
        id=unit_id,
        kind="patrol",
        name=unit_id,
        status="available",
        home_lon=-87.63,
        home_lat=41.88,
        lon=-87.63,
        lat=41.88,
        crew=2,
        speed_factor=1.0,
        updated_at=T0,
    )


def _call(**kw: object) -> Call:
    values: dict[str, object] = dict(
        call_type="theft",
        type_group="property",
        priority=3,
        description="",
        address="",
        lon=-87.63,
        lat=41.88,
        snap_distance_m=1.0,
        status="received",
        received_at=T0,
        created_by="disp",
    )
    values.update(kw)
    return Call(**values)


def test_migrations_build_the_models_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert upgrade(db) == "0002"  # a second upgrade is a no-op
    assert current_revision(db) == "0002"


def test_conditional_update_assigns_a_unit_once(db: Database) -> None:
    with db.write() as s:
        _unit(s, "P1")
        c1, c2 = repo.add_calls(s, [_call(), _call(call_type="dispute")])
    with db.write() as s:
        assert repo.assign_unit(s, "P1", c1, T0) is True
    with db.write() as s:
        assert repo.assign_unit(s, "P1", c2, T0) is False  # no longer available
        assert repo.transition_call(s, c2, expected="dispatched", new="en_route", at=T0) is False
    with db.read() as s:
        unit = repo.get_unit(s, "P1")
        assert unit is not None and (unit.status, unit.call_id) == ("dispatched", c1)
        assert [e.status for e in repo.call_events(s, c1)] == ["received"]


def test_two_threads_racing_for_one_unit(db: Database) -> None:
    with db.write() as s:
        _unit(s, "P1")
        ids = repo.add_calls(s, [_call() for _ in range(8)])
    barrier = threading.Barrier(8)
    results: dict[int, bool] = {}

    def grab(call_id: int) -> None:
        barrier.wait()
        with db.write() as s:
            results[call_id] = repo.assign_unit(s, "P1", call_id, T0)

    threads = [threading.Thread(target=grab, args=(c,)) for c in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [c for c, ok in results.items() if ok]
    assert len(results) == 8 and len(winners) == 1
    with db.read() as s:
        unit = repo.get_unit(s, "P1")
        assert unit is not None and unit.call_id == winners[0]


def test_audit_log_is_append_only(db: Database) -> None:
    with db.write() as s:
        repo.audit(s, username="a", role="admin", action="x", resource="y", at=T0)
    for sql in ("UPDATE audit_log SET username = 'b'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.write() as s:
            s.execute(text(sql))
    with db.read() as s:
        assert [(e.username, e.action) for e in repo.list_audit(s)] == [("a", "x")]


def test_timestamps_are_utc_aware(db: Database) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    with db.write() as s:
        (cid,) = repo.add_calls(s, [_call(received_at=T0.astimezone(shanghai))])
    with db.read() as s:
        row = repo.get_call(s, cid)
        assert row is not None and row.received_at == T0
        assert row.received_at.utcoffset() == dt.timedelta(0)
    with pytest.raises(StatementError, match="timezone-aware"), db.write() as s:
        repo.add_calls(s, [_call(received_at=dt.datetime(2026, 5, 1))])


def test_sqlite_runs_wal_with_full_sync(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def test_database_urls() -> None:
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ValidationError, match="supports sqlite and postgresql"):
        normalise_url("mysql://u@h/db")
    with pytest.raises(ValidationError, match="not a database URL"):
        normalise_url("not a url")
    with pytest.raises(ValidationError, match="in-memory SQLite"):
        Database("sqlite://")


def test_database_errors_do_not_echo_personal_data(db: Database) -> None:
    with pytest.raises(DBAPIError) as info, db.write() as s:
        repo.add_calls(s, [_call(call_type=None, caller_phone="13977310042")])
    message = str(info.value)
    assert "SQL parameters hidden due to hide_parameters=True" in message
    if db.backend == "sqlite":
        assert "13977310042" not in message
    # PostgreSQL's own DETAIL line repeats the failing row: that is why the service logs
    # only the class name of a database error (see xunfang.serve.api.app)
