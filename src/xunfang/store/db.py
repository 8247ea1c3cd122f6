"""Database engine and sessions for SQLite (file, WAL mode) and PostgreSQL.

SQLite settings, applied to every connection:

* ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers
  (SQLite documentation, "Write-Ahead Logging").
* ``synchronous=FULL``: the WAL is fsync'ed at every commit, so a transaction that
  returned from ``COMMIT`` is on disk. In WAL mode ``NORMAL`` already survives a crash
  of the *process* (kill -9: the committed pages are in the operating system's cache),
  but can lose the last commits on an operating-system crash or power cut. A call that
  the service acknowledged with 201 is a promise to the caller, so we pay the fsync and
  keep throughput with group commit (several intakes share one transaction, see
  ``xunfang.serve.api.intake``).
* ``foreign_keys=ON`` and ``busy_timeout``: writers wait for the lock instead of failing.

Write transactions on SQLite start with ``BEGIN IMMEDIATE``: the write lock is taken
before the first read, so two writers are serialised at the start of the transaction
and never fail with ``SQLITE_BUSY`` on a stale read snapshot half-way through.
PostgreSQL runs at READ COMMITTED; races are settled by conditional updates whose row
count the caller checks (a second ``UPDATE ... WHERE status = 'available'`` waits for the
first to commit, re-reads the row and matches nothing).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from xunfang.errors import ValidationError

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for the lock before giving up, milliseconds."""
HEALTH_TIMEOUT_S = 2.0
"""How long the health check (:meth:`Database.ping`) waits for the database, seconds."""


def default_sqlite_url(folder: Path | None = None) -> str:
    """``sqlite:///<folder or cwd>/xunfang.db`` (absolute path)."""
    return f"sqlite:///{(folder or Path.cwd()).resolve() / 'xunfang.db'}"


def normalise_url(url: str) -> URL:
    """Parse a database URL and choose the drivers xunfang ships with.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3).

    Raises
    ------
    ValidationError
        If the URL cannot be parsed or names a backend other than SQLite or PostgreSQL.
    """
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        parsed = make_url(text)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise ValidationError(
            "XUNFANG_DATABASE_URL is not a database URL; use e.g. sqlite:///xunfang.db or "
            "postgresql://user@host:5432/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if "+" not in parsed.drivername or parsed.drivername.endswith("+psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise ValidationError(
            f"XUNFANG_DATABASE_URL uses backend {backend!r}; xunfang supports sqlite and postgresql"
        )
    return parsed


class Database:
    """An engine with read and write session factories.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql://...``).
    pool_size
        Connections kept open (the web server runs handlers on a thread pool).
    connect_timeout_s
        A connection not made by then fails with ``OperationalError`` (the service
        answers 503 instead of hanging on a database that does not answer); also the
        longest wait for a pooled connection. PostgreSQL (libpq) counts whole seconds,
        at least 2.
    statement_timeout_s
        PostgreSQL cancels statements running longer than this (``statement_timeout``);
        SQLite writers wait at most ``SQLITE_BUSY_TIMEOUT_MS`` for the lock.

    Raises
    ------
    ValidationError
        For an unsupported URL (see :func:`normalise_url`), or an in-memory SQLite
        database (each connection would see its own empty database).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout_s: float = 3.0,
        statement_timeout_s: float = 15.0,
    ) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # hide_parameters: error messages and logs never show bound values (a call's
        # caller name and phone are personal data)
        kwargs: dict[str, Any] = {
            "pool_pre_ping": not self.is_sqlite,
            "hide_parameters": True,
            "pool_timeout": connect_timeout_s,
        }
        if self.is_sqlite:
            if self.url.database in (None, "", ":memory:"):
                raise ValidationError(
                    "XUNFANG_DATABASE_URL: an in-memory SQLite database cannot be shared by "
                    "the server's threads; use a file, e.g. sqlite:///xunfang.db"
                )
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10.0}
        else:
            options = str(self.url.query.get("options", ""))
            statement_ms = int(statement_timeout_s * 1000)
            kwargs["connect_args"] = {
                "connect_timeout": max(2, math.ceil(connect_timeout_s)),
                "options": f"{options} -c statement_timeout={statement_ms}".strip(),
            }
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = 2 * pool_size
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._write_engine: Engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (one transaction, rolled back at the end)."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed when the block ends normally,
        rolled back if it raises."""
        with self._write.begin() as session:
            yield session

    def ping(self, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
        """Whether the database takes a write now: SQLite takes and releases the write
        lock (``BEGIN IMMEDIATE`` then ``ROLLBACK``, waiting at most ``timeout_s``), so a
        file locked by another process reads as unavailable, as intake would find it;
        PostgreSQL runs ``SELECT 1`` from the schema's version table under a
        ``statement_timeout`` and ``lock_timeout`` of ``timeout_s``. Nothing is written;
        any error (no connection, pool exhausted, locked, timed out) is ``False``."""
        ms = max(1, int(timeout_s * 1000))
        try:
            if self.is_sqlite:
                raw = self.engine.raw_connection()
                try:
                    cur = raw.cursor()
                    cur.execute(f"PRAGMA busy_timeout={ms}")
                    try:
                        cur.execute("BEGIN IMMEDIATE")
                        cur.execute("SELECT count(*) FROM sqlite_master").fetchall()
                        cur.execute("ROLLBACK")
                    finally:
                        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                        cur.close()
                finally:
                    raw.close()
            else:
                with self.engine.connect() as conn, conn.begin():
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                    conn.exec_driver_sql("SELECT 1 FROM alembic_version LIMIT 1").fetchall()
        except Exception:  # the health check reports, it does not raise
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take BEGIN out of the driver's hands so that we choose DEFERRED or IMMEDIATE
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class ServerLock:
    """The exclusive claim of one server process on a SQLite file: an advisory ``flock``
    on ``<database>.serve.lock`` next to it, holding the holder's process id.

    SQLite is served by one process (the live feed and the intake writer live in it); a
    second ``xunfang serve`` on the same file would take calls its consoles never hear
    of. The operating system releases the lock when the holder exits, however it ends
    (even ``kill -9``), so a lock file left by a dead process is simply taken over.
    On systems without ``fcntl`` (Windows) no lock is taken.

    Raises
    ------
    ValidationError
        From :meth:`acquire`, when another live process holds the lock; the message
        names the database and that process id.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".serve.lock")
        self._fd: int | None = None

    def acquire(self) -> ServerLock:
        """Take the lock (at once, without waiting) and write our process id into it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ValidationError(
                f"database {self.database} is in use by another xunfang serve (pid "
                f"{holder}, lock {self.path}): SQLite is served by one process; stop that "
                "one first, or use PostgreSQL (XUNFANG_DATABASE_URL) for several"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ServerLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
