"""The live feed: call, unit and alert events fanned out to WebSocket subscribers.

Events are published from any thread (request handlers run on a thread pool, the intake
writer on its own thread) and delivered on the event loop. Each event is serialised
twice at most: with the caller's personal data for dispatchers and admins, masked for the
others by :func:`xunfang.serve.api.security.event_view` (the masking rule of the REST
answers too). Alerts reach officers only when their unit is a recipient.

With more than one worker process, :class:`xunfang.serve.api.bus.PgBus` carries each
published event through PostgreSQL to every process's hub (:meth:`EventHub.deliver`).
A subscriber that falls more than ``QUEUE_MAX`` events behind is dropped (the console
reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from xunfang.serve.api.security import Principal, Role, event_view

log = logging.getLogger("xunfang.serve")

QUEUE_MAX = 1000


@dataclass(frozen=True)
class Event:
    """One event.

    Attributes
    ----------
    type
        ``call.created``, ``call.updated``, ``unit.updated``, ``alert.created``,
        ``alert.acked``.
    data
        The full payload (JSON-ready).
    masked
        Ignored (kept for callers that still pass it): what a role may see is decided
        at delivery by :func:`~xunfang.serve.api.security.event_view`.
    units
        For alerts: the recipient unit ids (officers of other units do not get it).
    roles
        Only subscribers of these roles (values of :class:`Role`) get it (None: every
        role), e.g. ``alert.escalated`` for dispatchers and admins.
    """

    type: str
    data: dict[str, Any]
    masked: dict[str, Any] | None = None
    units: frozenset[str] | None = None
    roles: frozenset[str] | None = None


@dataclass(eq=False)
class Subscriber:
    """One WebSocket connection's queue of serialised events."""

    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: bool = False


def _wake(sub: Subscriber) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        sub.queue.put_nowait(json.dumps({"type": "feed.resync", "data": {}}))


class EventHub:
    """Publish/subscribe between the service and the WebSocket connections."""

    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.published = 0
        self.bus: Any = None
        """A cross-process bus with ``send(event)`` (None: this process only)."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on this event loop (the server's)."""
        self._loop = loop

    def subscribe(self, principal: Principal) -> Subscriber:
        """A new subscriber (call on the event loop)."""
        sub = Subscriber(principal)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a subscriber."""
        with self._lock:
            self._subs.discard(sub)

    def drop_all(self) -> None:
        """Drop every subscriber (events were missed: the consoles reconnect and
        reload); safe from any thread."""
        with self._lock:
            subs = list(self._subs)
            self._subs.clear()
        for sub in subs:
            sub.dropped = True
            loop = self._loop
            if loop is not None and not loop.is_closed():
                # wake the connection's loop, which then sees ``dropped`` and closes
                loop.call_soon_threadsafe(_wake, sub)

    @property
    def listening(self) -> bool:
        """Whether a published event may reach anyone (a subscriber here, or a bus to
        other processes)."""
        return self.bus is not None or bool(self._subs)

    @property
    def subscribers(self) -> int:
        """Number of live subscribers."""
        return len(self._subs)

    def publish(self, event: Event) -> None:
        """Queue an event for every subscriber; safe from any thread. With a bus
        (several processes) the event goes through it and comes back to every process's
        :meth:`deliver`."""
        self.published += 1
        if self.bus is not None:
            self.bus.send(event)
            return
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Fan an event out to this process's subscribers; safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fanout(event)
        else:
            loop.call_soon_threadsafe(self._fanout, event)

    def _fanout(self, event: Event) -> None:
        full = json.dumps({"type": event.type, "data": event.data}, default=str)
        masked: str | None = None
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            p = sub.principal
            if event.roles is not None and p.role.value not in event.roles:
                continue
            if (
                event.units is not None
                and p.role is Role.OFFICER
                and (p.unit_id is None or p.unit_id not in event.units)
            ):
                continue
            if p.sees_caller:
                text = full
            else:
                if masked is None:
                    view = event_view(p, event.type, event.data)
                    masked = (
                        full
                        if view is event.data
                        else json.dumps({"type": event.type, "data": view}, default=str)
                    )
                text = masked
            try:
                sub.queue.put_nowait(text)
            except asyncio.QueueFull:
                sub.dropped = True
                self.unsubscribe(sub)
                log.warning("live feed: dropped a subscriber (%s) that fell behind", p.username)
