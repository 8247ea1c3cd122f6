"""The live feed across worker processes: PostgreSQL ``LISTEN``/``NOTIFY``.

With several worker processes (``xunfang serve --workers N``, or several servers on one
database), a console's WebSocket is held by one process while the call it should hear
about may be written by another. Every process therefore publishes its events with
``NOTIFY`` on one channel and delivers to its own subscribers only what it hears back
with ``LISTEN`` - its own events included - so no event depends on the process that
wrote it, and a process that dies takes no other process's events with it.

Why PostgreSQL and not the machine's Redis or NATS: more than one process needs
PostgreSQL anyway (SQLite is one process), so the bus adds no server to run, secure or
monitor; NOTIFY payloads are delivered to every listener of the database in the order the
notifying sessions sent them (PostgreSQL documentation, "NOTIFY"). Its limits: payloads
under 8000 bytes (a larger event is sent as a reference and read back from the database
by each listener), and no replay for a listener that was disconnected - when the
listening connection drops, every subscriber of the process is closed so that consoles
reconnect and reload (the console reloads calls, units and alerts on every reconnect).

The channel name carries a hash of the database URL (schema included), so servers on
different databases or schemas of one PostgreSQL never hear each other. SQLite runs one
process with the in-process hub (:class:`~xunfang.serve.api.events.EventHub`) alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from xunfang.serve.api.events import Event, EventHub

log = logging.getLogger("xunfang.serve")

MAX_PAYLOAD_BYTES = 7900
"""NOTIFY payloads must be shorter than 8000 bytes (PostgreSQL's default)."""
RECONNECT_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Back-off between attempts to reconnect the listening connection, seconds."""

Resolver = Callable[[str, int], Event | None]
"""Rebuild an event too large for NOTIFY from the database: ``(type, id) -> Event``."""


def conninfo(url: URL) -> str:
    """A libpq connection URI for a SQLAlchemy PostgreSQL URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def channel_for(url: URL) -> str:
    """The NOTIFY channel of a database (and schema): ``xunfang_<12 hex>``."""
    key = url.set(password=None).render_as_string(hide_password=True)
    return "xunfang_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def encode(event: Event) -> str:
    """The NOTIFY payload of an event: the event itself, or a reference to it
    (``{"t": type, "ref": id}``) when it would be too large."""
    units = None if event.units is None else sorted(event.units)
    roles = None if event.roles is None else sorted(event.roles)
    payload = json.dumps(
        {"t": event.type, "d": event.data, "u": units, "r": roles},
        default=str,
        separators=(",", ":"),
    )
    if len(payload.encode()) <= MAX_PAYLOAD_BYTES:
        return payload
    return json.dumps({"t": event.type, "ref": event.data.get("id"), "u": units, "r": roles})


def decode(payload: str, resolve: Resolver) -> Event | None:
    """The event of a NOTIFY payload (see :func:`encode`); None when a referenced row is
    gone."""
    msg = json.loads(payload)
    units = None if msg.get("u") is None else frozenset(msg["u"])
    roles = None if msg.get("r") is None else frozenset(msg["r"])
    if "ref" in msg:
        event = resolve(str(msg["t"]), int(msg["ref"]))
        if event is None:
            return None
        return Event(
            event.type,
            event.data,
            units=units if units is not None else event.units,
            roles=roles if roles is not None else event.roles,
        )
    return Event(str(msg["t"]), dict(msg["d"]), units=units, roles=roles)


class PgBus:
    """Publish events with NOTIFY and deliver what LISTEN hears to a hub.

    Parameters
    ----------
    url
        The service's PostgreSQL URL.
    hub
        This process's hub; :meth:`EventHub.deliver` receives every event.
    resolve
        Rebuilds events sent by reference (see :func:`encode`).
    connect_timeout_s
        Connection timeout of both connections, seconds.
    """

    def __init__(
        self, url: URL, hub: EventHub, resolve: Resolver, *, connect_timeout_s: float = 3.0
    ) -> None:
        self.conninfo = conninfo(url)
        self.channel = channel_for(url)
        self.hub = hub
        self.resolve = resolve
        self.connect_timeout_s = max(2, int(connect_timeout_s))
        self._send_lock = threading.Lock()
        self._send_conn: psycopg.Connection[Any] | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.received = 0
        self.pid = os.getpid()

    # ------------------------------------------------------------------ sending
    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=self.connect_timeout_s
        )

    def send(self, event: Event) -> None:
        """NOTIFY every process (this one included); safe from any thread. When the
        database cannot be reached the event is delivered in this process only."""
        payload = encode(event)
        with self._send_lock:
            for attempt in (1, 2):
                try:
                    if self._send_conn is None or self._send_conn.closed:
                        self._send_conn = self._connect()
                    self._send_conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    self.sent += 1
                    return
                except psycopg.Error as exc:
                    self._close_sender()
                    if attempt == 2:
                        log.warning("live feed bus: NOTIFY failed (%s)", type(exc).__name__)
        self.hub.deliver(event)

    def _close_sender(self) -> None:
        if self._send_conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._send_conn.close()
        self._send_conn = None

    # ------------------------------------------------------------------ listening
    def start(self, timeout_s: float = 10.0) -> None:
        """Start listening (returns once LISTEN is in place, or after ``timeout_s``)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="xunfang-bus", daemon=True)
        self._thread.start()
        self._ready.wait(timeout_s)

    def stop(self) -> None:
        """Stop listening and close the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._send_lock:
            self._close_sender()

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._ready.set()
                    if failures:
                        log.info("live feed bus: listening again")
                    failures = 0
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._handle(note.payload)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                log.warning("live feed bus: listening connection lost (%s)", type(exc).__name__)
                # events may have been missed: the consoles reconnect and reload
                self.hub.drop_all()
                time.sleep(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
                failures += 1

    def _handle(self, payload: str) -> None:
        try:
            event = decode(payload, self.resolve)
        except Exception:  # one bad message must not stop the feed
            log.exception("live feed bus: unreadable message")
            return
        if event is not None:
            self.received += 1
            self.hub.deliver(event)
