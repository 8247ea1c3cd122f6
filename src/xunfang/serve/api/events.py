"""The live feed: call, unit and alert events fanned out to WebSocket subscribers.

Events are published from any thread (request handlers run on a thread pool, the intake
writer on its own thread) and delivered on the event loop. Each event is serialised
twice at most: with the caller's personal data for dispatchers and admins, masked for the
others. Alerts reach officers only when their unit is a recipient. A subscriber that
falls more than ``QUEUE_MAX`` events behind is dropped (the console reconnects and
reloads).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from xunfang.serve.api.security import Principal, Role

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
        The payload for roles that may not see callers' personal data (None: same as
        ``data``).
    units
        For alerts: the recipient unit ids (officers of other units do not get it).
    """

    type: str
    data: dict[str, Any]
    masked: dict[str, Any] | None = None
    units: frozenset[str] | None = None


@dataclass(eq=False)
class Subscriber:
    """One WebSocket connection's queue of serialised events."""

    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: bool = False


class EventHub:
    """Publish/subscribe between the service and the WebSocket connections."""

    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.published = 0

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

    @property
    def subscribers(self) -> int:
        """Number of live subscribers."""
        return len(self._subs)

    def publish(self, event: Event) -> None:
        """Queue an event for every subscriber; safe from any thread."""
        self.published += 1
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
        masked = (
            full
            if event.masked is None
            else json.dumps({"type": event.type, "data": event.masked}, default=str)
        )
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            p = sub.principal
            if (
                event.units is not None
                and p.role is Role.OFFICER
                and (p.unit_id is None or p.unit_id not in event.units)
            ):
                continue
            try:
                sub.queue.put_nowait(full if p.sees_caller else masked)
            except asyncio.QueueFull:
                sub.dropped = True
                self.unsubscribe(sub)
                log.warning("live feed: dropped a subscriber (%s) that fell behind", p.username)
