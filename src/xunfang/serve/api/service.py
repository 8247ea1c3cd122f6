"""The dispatch service: the dispatch core plus persistence, concurrency and events.

Every state change follows one pattern:

1. in one write transaction, read the rows involved (call, unit);
2. rebuild them as the dispatch core's ``Unit``/``Call`` objects on a throw-away
   :class:`~xunfang.dispatch.board.DispatchBoard` and apply the operation there, so the
   core's state machines decide what is allowed (a refusal is ``TransitionError`` ->
   409, and nothing was written);
3. write what changed with conditional updates (``WHERE status = <what we read>``); a
   row that changed meanwhile matches nothing, the transaction rolls back -> 409;
4. append lifecycle, unit and audit rows in the same transaction, commit, then publish
   the events.

The database is the source of truth; nothing is cached between requests but the road
network's travel times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import time
import zoneinfo
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xunfang.dispatch.board import DispatchBoard
from xunfang.dispatch.crew import alert_recipients, rank_mixed
from xunfang.dispatch.model import (
    DISPATCHABLE,
    CallStatus,
    TransitionError,
    UnitKind,
    UnitStatus,
)
from xunfang.dispatch.model import Call as CoreCall
from xunfang.dispatch.model import Unit as CoreUnit
from xunfang.dispatch.recommend import Recommendation
from xunfang.errors import ValidationError, XunfangError
from xunfang.serve.api import schemas as S
from xunfang.serve.api.calltypes import CALL_TYPES
from xunfang.serve.api.events import Event, EventHub
from xunfang.serve.api.geo import FieldError, Geo
from xunfang.serve.api.intake import IntakeWriter
from xunfang.serve.api.kpi import StatusChange, duty_summary, median_p90
from xunfang.serve.api.security import (
    Principal,
    Role,
    alert_involved,
    caller_view,
    hash_password,
    text_view,
)
from xunfang.serve.api.settings import ServeSettings
from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.models import Alert, Call, CallEvent, Site, Unit, utcnow

log = logging.getLogger("xunfang.serve")

ON_DUTY = frozenset(
    {
        UnitStatus.AVAILABLE,
        UnitStatus.DISPATCHED,
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.RETURNING,
    }
)


class NotFoundError(XunfangError, LookupError):
    """No such resource (404)."""


class ConflictError(XunfangError):
    """The resource changed meanwhile or already exists (409)."""


class ForbiddenError(XunfangError, PermissionError):
    """The role may call the endpoint but not on this resource (403)."""


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def core_call(row: Call, events: Sequence[CallEvent] | None = None, node: int = 0) -> CoreCall:
    """The dispatch core's view of a call row.

    With ``events`` the history is the stored lifecycle; without, it is rebuilt from the
    timestamps (exact unless a unit was taken off the call before arriving).
    """
    if events:
        history = [(e.at.timestamp(), CallStatus(e.status), e.unit_id) for e in events]
    else:
        steps = [
            (row.received_at, CallStatus.RECEIVED),
            (row.dispatched_at, CallStatus.DISPATCHED),
            (row.en_route_at, CallStatus.EN_ROUTE),
            (row.on_scene_at, CallStatus.ON_SCENE),
            (row.cleared_at, CallStatus.CLEARED),
            (row.cancelled_at, CallStatus.CANCELLED),
        ]
        history = [
            (at.timestamp(), st, None if st is CallStatus.RECEIVED else row.unit_id)
            for at, st in steps
            if at is not None
        ]
    return CoreCall(
        call_id=str(row.id),
        priority=row.priority,
        type_group=row.type_group,
        node=node,
        received_s=row.received_at.timestamp(),
        status=CallStatus(row.status),
        unit_id=row.unit_id,
        dispatched_s=_ts(row.dispatched_at),
        en_route_s=_ts(row.en_route_at),
        on_scene_s=_ts(row.on_scene_at),
        cleared_s=_ts(row.cleared_at),
        cancelled_s=_ts(row.cancelled_at),
        history=history,
    )


def call_out(
    row: Call,
    principal: Principal | None,
    events: Sequence[CallEvent] | None = None,
    *,
    unmask: bool = False,
) -> S.CallOut:
    """A call for a user: personal data masked unless the role may see it
    (``principal=None`` masks) or ``unmask`` (an officer of a unit on the call)."""
    c = core_call(row, events)
    caller_name, caller_phone = caller_view(
        principal, row.caller_name, row.caller_phone, unmask=unmask
    )
    return S.CallOut(
        id=row.id,
        call_type=row.call_type,
        type_group=row.type_group,
        priority=row.priority,
        status=row.status,  # type: ignore[arg-type]
        description=text_view(principal, row.description, unmask=unmask) or "",
        address=text_view(principal, row.address, unmask=unmask) or "",
        caller_name=caller_name,
        caller_phone=caller_phone,
        lon=row.lon,
        lat=row.lat,
        snap_distance_m=row.snap_distance_m,
        unit_id=row.unit_id,
        received_at=row.received_at,
        dispatched_at=row.dispatched_at,
        en_route_at=row.en_route_at,
        on_scene_at=row.on_scene_at,
        cleared_at=row.cleared_at,
        cancelled_at=row.cancelled_at,
        call_processing_s=c.call_processing_s,
        dispatch_delay_s=c.dispatch_delay_s,
        travel_s=c.travel_s,
        response_s=c.response_s,
        on_scene_time_s=c.on_scene_time_s,
        created_by=row.created_by,
        acknowledged_at=row.acknowledged_at,
        disposition=row.disposition,
        disposition_note=text_view(principal, row.disposition_note, unmask=unmask) or "",
        alert_id=row.alert_id,
    )


def unit_out(row: Unit) -> S.UnitOut:
    """A unit for the API."""
    return S.UnitOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        call_id=row.call_id,
        site_id=row.site_id,
        lon=row.lon,
        lat=row.lat,
        home_lon=row.home_lon,
        home_lat=row.home_lat,
        crew=row.crew,
        speed_factor=row.speed_factor,
        updated_at=row.updated_at,
        position_at=row.position_at,
        mode=row.mode or "car",
        return_eta_at=row.return_eta_at,
    )


def _call_event(kind: str, row: Call) -> Event:
    # the full payload; each subscriber gets what its role may see (security.event_view)
    return Event(kind, call_out(row, Principal("system", Role.ADMIN)).model_dump(mode="json"))


def _unit_event(row: Unit) -> Event:
    return Event("unit.updated", unit_out(row).model_dump(mode="json"))


_SLUG = re.compile(r"[^A-Za-z0-9]+")
_KINDS = {k.value: k for k in UnitKind}
_STATUSES = {st.value: st for st in UnitStatus}


@dataclass(frozen=True)
class Ctx:
    """Who is acting, from where, and when."""

    principal: Principal
    client: str
    now: dt.datetime


AWAY_FROM_POST_M = 100.0
"""A unit farther than this from its post is out on patrol (police visibility), metres."""
SEED_LOCK_KEY = 0x78756E66616E67  # "xunfang"
"""PostgreSQL advisory lock taken while seeding (workers starting together)."""

USER_CACHE_S = 2.0
"""How long a user's role and active flag are trusted before the database is asked again."""
USER_CACHE_MAX = 10_000
"""Most user and session states cached at once."""


@dataclass
class Service:
    """The operations behind the API routers (see the module docstring; the field side
    and the multi-unit loop are in :mod:`xunfang.serve.api.field`)."""

    settings: ServeSettings
    db: Database
    geo: Geo
    hub: EventHub
    writer: IntakeWriter
    _user_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ set-up
    def seed(self) -> tuple[int, int]:
        """Load the plan's sites; when there are no units yet (and seeding is on), put
        one booth unit at each booth/post and ``units_per_station`` patrols at each
        station. Returns (sites added, units added)."""
        now = utcnow()
        with self.db.write() as s:
            if not self.db.is_sqlite:
                # several workers start at once: one seeds, the others wait and find it done
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEED_LOCK_KEY})
            added_sites = repo.upsert_sites(
                s,
                [
                    {"name": x.name, "kind": x.kind, "lon": x.lon, "lat": x.lat, "source": x.source}
                    for x in self.geo.sites
                ],
            )
            added_units = 0
            if self.settings.seed_units and repo.count_units(s) == 0:
                for site in repo.list_sites(s):
                    for unit in self._units_for_site(site):
                        repo.add_unit(s, **unit, updated_at=now)
                        repo.add_unit_event(s, unit["id"], now, None, "available", "system")
                        added_units += 1
                if added_units:
                    repo.audit(
                        s,
                        username="system",
                        role="admin",
                        action="unit.seed",
                        resource="unit",
                        detail={"units": added_units},
                        at=now,
                    )
        return added_sites, added_units

    def _units_for_site(self, site: Site) -> list[dict[str, Any]]:
        slug = _SLUG.sub("", site.name)[:24] or f"S{site.id}"
        base = {
            "site_id": site.id,
            "home_lon": site.lon,
            "home_lat": site.lat,
            "lon": site.lon,
            "lat": site.lat,
            "status": "available",
            "crew": 2,
            "speed_factor": 1.0,
        }
        if site.kind == "station":  # named in the console's language (ids stay the same)
            patrol = "巡逻车" if self.settings.lang == "zh" else " patrol "
            return [
                {**base, "id": f"{slug}-P{i}", "kind": "patrol", "name": f"{site.name}{patrol}{i}"}
                for i in range(1, self.settings.units_per_station + 1)
            ]
        return [
            {
                **base,
                "id": slug,
                "kind": "booth",
                "name": site.name,
                "mode": self.settings.booth_mode,
            }
        ]

    # ------------------------------------------------------------------ users
    def current_principal(self, username: str) -> Principal | None:
        """The user as the database has them now (role, unit), or None when the user no
        longer exists or is disabled (see :meth:`user_state`)."""
        return self.user_state(username)[0]

    def user_state(self, username: str) -> tuple[Principal | None, dt.datetime | None]:
        """The user as the database has them now and their token cut-off
        (``tokens_valid_after``); ``(None, None)`` when the user no longer exists or is
        disabled. A token proves who signed in, not what they may do today: every request
        and the live feed take the role from here. Answers are cached for
        ``USER_CACHE_S`` seconds so that intake does not pay a query per call."""
        now = time.monotonic()
        key = "u:" + username
        hit = self._user_cache.get(key)
        if hit is not None and now - hit[0] < USER_CACHE_S:
            return hit[1]
        with self.db.read() as s:
            user = repo.get_user(s, username)
        state: tuple[Principal | None, dt.datetime | None] = (
            (Principal(user.username, Role(user.role), user.unit_id), user.tokens_valid_after)
            if user is not None and user.active
            else (None, None)
        )
        self._remember(key, now, state)
        return state

    def _remember(self, key: str, now: float, value: Any) -> None:
        if len(self._user_cache) >= USER_CACHE_MAX:
            self._user_cache.clear()  # entries live 2 s: a full cache is only old ones
        self._user_cache[key] = (now, value)

    def session_state(self, session_id: str) -> tuple[bool, bool]:
        """``(known, revoked)`` of a login session (cached like :meth:`user_state`)."""
        now = time.monotonic()
        key = "s:" + session_id
        hit = self._user_cache.get(key)
        if hit is not None and now - hit[0] < USER_CACHE_S:
            return hit[1]
        with self.db.read() as s:
            row = repo.get_session(s, session_id)
        state = (row is not None, row is not None and row.revoked_at is not None)
        self._remember(key, now, state)
        return state

    def forget_users(self) -> None:
        """Drop the cached user and session states (after a change to a user)."""
        self._user_cache.clear()

    def create_user(self, body: S.UserCreate, ctx: Ctx) -> S.UserOut:
        """Add a user (409 if the name exists; 422 if an officer's unit does not)."""
        hashed = hash_password(body.password)
        try:
            with self.db.write() as s:
                if body.unit_id is not None and repo.get_unit(s, body.unit_id) is None:
                    raise FieldError("unit_id", f"no unit {body.unit_id!r}")
                if repo.get_user(s, body.username) is not None:
                    raise ConflictError(f"user {body.username!r} already exists")
                alike = repo.user_named_alike(s, body.username)
                if alike is not None:
                    raise ConflictError(
                        f"user {body.username!r} differs from the existing user {alike!r} only "
                        "in case: choose another name (the audit log could not tell them apart)"
                    )
                user = repo.add_user(s, body.username, hashed, body.role.value, body.unit_id)
                self._audit(s, ctx, "user.create", "user", body.username, {"role": body.role.value})
        except IntegrityError as exc:
            raise ConflictError(f"user {body.username!r} already exists") from exc
        return S.UserOut(
            username=user.username, role=Role(user.role), unit_id=user.unit_id, active=user.active
        )

    def list_users(self) -> list[S.UserOut]:
        """Every user."""
        with self.db.read() as s:
            return [
                S.UserOut(
                    username=u.username, role=Role(u.role), unit_id=u.unit_id, active=u.active
                )
                for u in repo.list_users(s)
            ]

    # ------------------------------------------------------------------ calls
    def submit_call(
        self,
        body: S.CallCreate,
        ctx: Ctx,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[Call, Future[int]]:
        """Validate a call and queue it for the group-commit writer; the future resolves
        once it is committed.

        Raises
        ------
        FieldError
            Unknown call type, bad or out-of-area position (422, naming the field).
        """
        ctype = CALL_TYPES.get(body.call_type)
        if ctype is None:
            raise FieldError(
                "call_type",
                f"unknown call type {body.call_type!r}; GET /api/meta lists the call types",
            )
        loc = self.geo.locate(body.lon, body.lat, body.frame)
        row = Call(
            call_type=ctype.key,
            type_group=ctype.group,
            priority=body.priority or ctype.priority,
            description=body.description,
            address=body.address,
            caller_name=body.caller_name,
            caller_phone=body.caller_phone,
            lon=loc.lon,
            lat=loc.lat,
            snap_distance_m=loc.snap_distance_m,
            status="received",
            unit_id=None,
            received_at=ctx.now,
            created_by=ctx.principal.username,
            disposition_note="",
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return row, self.writer.submit(row, ctx.principal.role.value, ctx.client)

    async def create_call(
        self, body: S.CallCreate, ctx: Ctx, idempotency_key: str | None = None
    ) -> S.CallOut:
        """Take a call; returns once it is durably committed.

        With an ``idempotency_key`` (the client's ``Idempotency-Key`` header, stored
        with the call under a unique index), a retry finds the stored call and answers
        it as it is now instead of storing it again (IETF draft "The Idempotency-Key
        HTTP Header Field"); two requests racing with one key store one call.

        Raises
        ------
        FieldError
            The key was used by another call intake (another body or user): 422.
        """
        if idempotency_key is None:
            row, fut = self.submit_call(body, ctx)
            await asyncio.wrap_future(fut)
            return call_out(row, ctx.principal)
        digest = hashlib.sha256(
            json.dumps(
                [ctx.principal.username, body.model_dump(mode="json")], sort_keys=True
            ).encode()
        ).hexdigest()
        stored = await asyncio.to_thread(self._replay, idempotency_key, digest, ctx)
        if stored is not None:
            return stored
        row, fut = self.submit_call(body, ctx, idempotency_key, digest)
        try:
            await asyncio.wrap_future(fut)
        except IntegrityError:  # the same key committed meanwhile by a racing request
            stored = await asyncio.to_thread(self._replay, idempotency_key, digest, ctx)
            if stored is None:
                raise
            return stored
        return call_out(row, ctx.principal)

    def _replay(self, key: str, digest: str, ctx: Ctx) -> S.CallOut | None:
        with self.db.read() as s:
            row = repo.call_by_idempotency_key(s, key)
        if row is None:
            return None
        if row.request_hash != digest:
            raise FieldError(
                "Idempotency-Key",
                "this Idempotency-Key was used for another call: send a new key for a new call",
            )
        return call_out(row, ctx.principal)

    def on_calls_committed(self, rows: Sequence[Call]) -> None:
        """Publish newly committed calls (called by the intake writer)."""
        for row in rows:
            log.info("call %d received: %s, priority %d", row.id, row.call_type, row.priority)
        if self.hub.listening:  # serialise only for someone listening
            for row in rows:
                self.hub.publish(_call_event("call.created", row))

    def get_call(
        self, call_id: int, principal: Principal, *, unmask: bool = False
    ) -> S.CallDetailOut:
        """One call with its history; the caller in clear with ``unmask`` (an officer of a
        unit on the call: :func:`~xunfang.serve.api.security.on_the_call`)."""
        with self.db.read() as s:
            row = repo.get_call(s, call_id)
            if row is None:
                raise NotFoundError(f"no call {call_id}")
            events = repo.call_events(s, call_id)
        out = call_out(row, principal, events, unmask=unmask)
        return S.CallDetailOut(
            **out.model_dump(),
            history=[
                S.CallEventOut(at=e.at, status=e.status, unit_id=e.unit_id, actor=e.actor)  # type: ignore[arg-type]
                for e in events
            ],
        )

    def list_calls(
        self,
        principal: Principal,
        *,
        open_only: bool,
        statuses: Sequence[str] | None,
        limit: int,
        before_id: int | None,
        oldest_first: bool = False,
        after_id: int | None = None,
    ) -> list[S.CallOut]:
        """Calls, newest first (or oldest first, paged by ``after_id``)."""
        with self.db.read() as s:
            rows = repo.list_calls(
                s,
                open_only=open_only,
                statuses=statuses,
                limit=limit,
                before_id=before_id,
                oldest_first=oldest_first,
                after_id=after_id,
            )
        return [call_out(r, principal) for r in rows]

    # ------------------------------------------------------------------ recommend
    def recommend_for_call(self, call_id: int, k: int) -> S.RecommendOut:
        """The ``k`` closest available units to a call, by road travel time (units kept
        for more urgent calls are left out)."""
        with self.db.read() as s:
            row = repo.get_call(s, call_id)
            if row is None:
                raise NotFoundError(f"no call {call_id}")
            node = int(self.geo.nodes_of([row.lon], [row.lat])[0])
            return self._recommend(s, node, k, priority=row.priority)

    def recommend_at(self, lon: float, lat: float, frame: str, k: int) -> S.RecommendOut:
        """The ``k`` closest available units to a position."""
        loc = self.geo.locate(lon, lat, frame)
        with self.db.read() as s:
            return self._recommend(s, loc.node, k)

    def _core_units(self, rows: Sequence[Any]) -> list[CoreUnit]:
        """The dispatch core's units for database rows (positions snapped to nodes)."""
        nodes = self.geo.nodes_of([u.lon for u in rows], [u.lat for u in rows]).tolist()
        return [
            CoreUnit(
                u.id,
                _KINDS[u.kind],
                home_node=n,
                node=n,
                status=_STATUSES[u.status],
                call_id=None if u.call_id is None else str(u.call_id),
                speed_factor=u.speed_factor,
            )
            for u, n in zip(rows, nodes, strict=True)
        ]

    def _placed(self, rows: Sequence[Any], now: dt.datetime) -> list[CoreUnit]:
        """The core units of :meth:`_core_units`, with each unit returning to its post
        placed on its route home by the time it has left: its stored position is where
        it was last seen (the scene, or its last position report), and with
        ``return_eta_at - now`` seconds to go it is at the route's node that far from
        its post, plus the seconds to reach that node
        (:meth:`~xunfang.dispatch.recommend.TravelTimeOracle.on_route`). A tester saw a
        unit six seconds from its post ranked from the scene: 196 s to a call next to
        the post. Costs one cached reverse search per post and a walk along the route.
        """
        units = self._core_units(rows)
        back = [
            i
            for i, r in enumerate(rows)
            if r.status == "returning" and getattr(r, "return_eta_at", None) is not None
        ]
        if not back:
            return units
        homes = self.geo.nodes_of(
            [rows[i].home_lon for i in back], [rows[i].home_lat for i in back]
        ).tolist()
        for i, home in zip(back, homes, strict=True):
            r, u = rows[i], units[i]
            foot = getattr(r, "mode", "car") == "foot"
            oracle = self.geo.walk_oracle if foot else self.geo.oracle
            left_s = (r.return_eta_at - now).total_seconds()
            # the same factors as the return ETA (xunfang.serve.api.field._home_eta_s)
            u.node, u.to_node_s = oracle.on_route(
                u.node, int(home), left_s, 1.0 if foot else float(r.speed_factor)
            )
        return units

    def _rank(
        self,
        rows: Sequence[Any],
        node: int,
        *,
        k: int,
        statuses: frozenset[UnitStatus],
        now: dt.datetime,
        priority: int | None = None,
        respect_limits: bool = True,
    ) -> list[Recommendation]:
        """Units ranked by travel time to ``node``: units on foot at walking speed, units
        returning to their post from where they are on the way (:meth:`_placed`)."""
        foot = frozenset(u.id for u in rows if getattr(u, "mode", "car") == "foot")
        return rank_mixed(
            self._placed(rows, now),
            foot,
            node,
            self.geo.oracle,
            self.geo.walk_oracle if foot else None,
            k=k,
            statuses=statuses,
            priority=priority,
            respect_limits=respect_limits,
        )

    def _recommend(
        self, s: Session, node: int, k: int, priority: int | None = None
    ) -> S.RecommendOut:
        rows = repo.unit_positions(s, statuses=["available", "returning"])
        recs = self._rank(rows, node, k=k, priority=priority, statuses=DISPATCHABLE, now=utcnow())
        by_id = {u.id: u for u in rows}
        lon, lat = self.geo.node_lonlat(node)
        outside: dict[str, bool | None] = {}
        if self.geo.sectors_geojson is not None:
            call_sector = self.geo.sector_at(lon, lat)
            site_name = {x.id: x.name for x in repo.list_sites(s)}
            for r in recs:
                own = site_name.get(by_id[r.unit_id].site_id)
                has = own is not None and own in self.geo.sector_names
                outside[r.unit_id] = (call_sector != own) if has else None
        shown = [self._shown_at(by_id[r.unit_id], r.node) for r in recs]
        return S.RecommendOut(
            node=node,
            lon=lon,
            lat=lat,
            units=[
                S.RecommendationOut(
                    unit_id=r.unit_id,
                    kind=by_id[r.unit_id].kind,
                    name=by_id[r.unit_id].name,
                    eta_s=r.eta_s,
                    lon=at[0],
                    lat=at[1],
                    outside_own_sector=outside.get(r.unit_id),
                )
                for r, at in zip(recs, shown, strict=True)
            ],
        )

    def _shown_at(self, row: Any, node: int) -> tuple[float, float]:
        """A recommended unit's position: the stored one, or for a unit returning to its
        post, the node of its route it was ranked from (:meth:`_placed`)."""
        if row.status == "returning" and getattr(row, "return_eta_at", None) is not None:
            return self.geo.node_lonlat(node)
        return float(row.lon), float(row.lat)

    # ------------------------------------------------------------------ lifecycle
    def dispatch(self, call_id: int, unit_id: str, ctx: Ctx) -> S.CallOut:
        """Assign an available unit to a waiting call (409 if either is taken)."""
        row = self._lifecycle(ctx, call_id=call_id, unit_id=unit_id, op="dispatch")
        assert row is not None
        return call_out(row, ctx.principal)

    def cancel(self, call_id: int, ctx: Ctx) -> S.CallOut:
        """Cancel a call nobody has reached; its unit is freed."""
        row = self._lifecycle(ctx, call_id=call_id, unit_id=None, op="cancel")
        assert row is not None
        return call_out(row, ctx.principal)

    def unit_status(self, unit_id: str, status: str, ctx: Ctx) -> S.UnitOut:
        """A unit's status report: en_route, on_scene, available (clear its call or back
        in service), out_of_service."""
        self._own_unit(ctx.principal, unit_id)
        self._lifecycle(ctx, call_id=None, unit_id=unit_id, op=status)
        with self.db.read() as s:
            row = repo.get_unit(s, unit_id)
            assert row is not None
            return unit_out(row)

    def _own_unit(self, principal: Principal, unit_id: str) -> None:
        if principal.role is Role.OFFICER and principal.unit_id != unit_id:
            raise ForbiddenError(
                f"officers report for their own unit ({principal.unit_id or 'none assigned'}), "
                f"not {unit_id}"
            )

    def _lifecycle(
        self, ctx: Ctx, *, call_id: int | None, unit_id: str | None, op: str
    ) -> Call | None:
        try:
            return self._lifecycle_tx(ctx, call_id=call_id, unit_id=unit_id, op=op)
        except (TransitionError, FieldError, NotFoundError, ConflictError, ForbiddenError):
            raise
        except ValidationError as exc:  # e.g. a step time before the previous one
            raise ConflictError(str(exc)) from exc

    def _lifecycle_tx(
        self, ctx: Ctx, *, call_id: int | None, unit_id: str | None, op: str
    ) -> Call | None:
        t = ctx.now.timestamp()
        touched_calls: list[Call] = []
        touched_units: list[Unit] = []
        with self.db.write() as s:
            unit = None
            if unit_id is not None:
                unit = repo.get_unit(s, unit_id)
                if unit is None:
                    raise NotFoundError(f"no unit {unit_id!r}")
            if call_id is None and unit is not None and unit.call_id is not None:
                call_id = unit.call_id
            call = None
            if call_id is not None:
                call = repo.get_call(s, call_id)
                if call is None:
                    raise NotFoundError(f"no call {call_id}")
                if unit is None and call.unit_id is not None:
                    unit = repo.get_unit(s, call.unit_id)
            events = repo.call_events(s, call.id) if call is not None else []
            board = DispatchBoard(self.geo.oracle)
            cu = self._core_units([unit])[0] if unit is not None else None
            cc = None
            if call is not None:
                node = int(self.geo.nodes_of([call.lon], [call.lat])[0])
                cc = core_call(call, events, node=node)
                board.calls[cc.call_id] = cc
            if cu is not None:
                board.units[cu.unit_id] = cu
                if unit is not None and unit.call_id is not None and unit.call_id != call_id:
                    # the unit's own call, so that the core can say why it is busy
                    busy = repo.get_call(s, unit.call_id)
                    if busy is not None:
                        board.calls[str(busy.id)] = core_call(busy)
            n_history = len(cc.history) if cc is not None else 0
            before_unit = (unit.status, unit.call_id) if unit is not None else None
            # --- the core decides
            if op == "dispatch":
                assert cc is not None and cu is not None
                board.dispatch(cc.call_id, cu.unit_id, t)
            elif op == "cancel":
                assert cc is not None
                board.cancel(cc.call_id, t)
            elif op == "en_route":
                assert cu is not None
                board.en_route(cu.unit_id, t)
            elif op == "on_scene":
                assert cu is not None
                board.arrive(cu.unit_id, t)
            elif op == "available":
                assert cu is not None
                if cu.status is UnitStatus.OUT_OF_SERVICE:
                    board.set_out_of_service(cu.unit_id, False)
                elif cu.call_id is not None:
                    board.clear(cu.unit_id, t)
                else:
                    raise TransitionError(f"unit {cu.unit_id} is already available")
            elif op == "out_of_service":
                assert cu is not None
                board.set_out_of_service(cu.unit_id, True)
            else:
                raise TransitionError(
                    f"a unit cannot report {op!r}: dispatch it with POST /api/calls/{{id}}/dispatch"
                )
            # --- persist what changed: units first, then calls (one lock order)
            if unit is not None and cu is not None and before_unit is not None:
                self._apply_unit(s, unit, cu, before_unit, call, ctx)
                touched_units.append(unit)
            if call is not None and cc is not None:
                self._apply_call(s, call, cc, n_history, ctx)
                touched_calls.append(call)
            self._audit(
                s,
                ctx,
                f"call.{op}" if op in ("dispatch", "cancel") else f"unit.{op}",
                "call" if op in ("dispatch", "cancel") else "unit",
                str(call_id) if op in ("dispatch", "cancel") else str(unit_id),
                {"call_id": call.id if call else None, "unit_id": unit.id if unit else None},
            )
            s.flush()
            for touched in (*touched_units, *touched_calls):
                s.refresh(touched)
        for u in touched_units:
            self.hub.publish(_unit_event(u))
        for c in touched_calls:
            self.hub.publish(_call_event("call.updated", c))
        log.info(
            "%s: call %s unit %s by %s",
            op,
            call_id,
            unit.id if unit else None,
            ctx.principal.username,
        )
        return call

    def _apply_unit(
        self,
        s: Session,
        row: Unit,
        core: CoreUnit,
        before: tuple[str, int | None],
        call: Call | None,
        ctx: Ctx,
    ) -> None:
        old_status, old_call = before
        new_call = None if core.call_id is None else int(core.call_id)
        lon = lat = None
        if core.status is UnitStatus.ON_SCENE and old_status != "on_scene" and call is not None:
            lon, lat = call.lon, call.lat  # the unit is where the call is
        ok = repo.transition_unit(
            s,
            row.id,
            expected=old_status,
            new=core.status.value,
            at=ctx.now,
            call_id=new_call,
            lon=lon,
            lat=lat,
        )
        if not ok:
            raise ConflictError(f"unit {row.id} changed meanwhile: reload and try again")
        if core.status.value != old_status:
            repo.add_unit_event(
                s,
                row.id,
                ctx.now,
                old_status,
                core.status.value,
                ctx.principal.username,
                new_call if new_call is not None else old_call,
            )

    def _apply_call(
        self,
        s: Session,
        row: Call,
        core: CoreCall,
        n_history: int,
        ctx: Ctx,
        *,
        primary_set_off: bool = True,
    ) -> None:
        """Persist the core's call: its status, unit, first-time stamps and history.
        ``primary_set_off``: a call going en route acknowledges it (签收) only when its
        primary unit set off (the crew path, where a backup may have, says False and
        acknowledges itself: :func:`xunfang.serve.api.field.ack_call`)."""
        stamps: dict[str, dt.datetime | None] = {}
        for column, value in (
            ("dispatched_at", core.dispatched_s),
            ("en_route_at", core.en_route_s),
            ("on_scene_at", core.on_scene_s),
            ("cleared_at", core.cleared_s),
            ("cancelled_at", core.cancelled_s),
        ):
            if value is not None and getattr(row, column) is None:
                stamps[column] = ctx.now
        if primary_set_off and core.en_route_s is not None and row.acknowledged_at is None:
            stamps["acknowledged_at"] = ctx.now  # setting off acknowledges the call (签收)
        ok = repo.transition_call(
            s,
            row.id,
            expected=row.status,
            new=core.status.value,
            at=ctx.now,
            unit_id=core.unit_id,
            stamps=stamps,
        )
        if not ok:
            raise ConflictError(f"call {row.id} changed meanwhile: reload and try again")
        for _t, status, unit_id in core.history[n_history:]:
            repo.add_call_event(s, row.id, ctx.now, status.value, unit_id, ctx.principal.username)

    # ------------------------------------------------------------------ units
    def list_units(self) -> list[S.UnitOut]:
        """Every unit."""
        with self.db.read() as s:
            return [unit_out(u) for u in repo.list_units(s)]

    def get_unit(self, unit_id: str) -> S.UnitOut:
        """One unit."""
        with self.db.read() as s:
            row = repo.get_unit(s, unit_id)
            if row is None:
                raise NotFoundError(f"no unit {unit_id!r}")
            return unit_out(row)

    def create_unit(self, body: S.UnitCreate, ctx: Ctx) -> S.UnitOut:
        """Add a unit at a site or at a position."""
        with self.db.write() as s:
            if repo.get_unit(s, body.id) is not None:
                raise ConflictError(f"unit {body.id!r} already exists")
            site_id = None
            if body.site is not None:
                site = next((x for x in repo.list_sites(s) if x.name == body.site), None)
                if site is None:
                    raise FieldError("site", f"no site {body.site!r} (GET /api/sites)")
                lon, lat, site_id = site.lon, site.lat, site.id
            elif body.lon is not None and body.lat is not None:
                loc = self.geo.locate(body.lon, body.lat, body.frame)
                lon, lat = loc.lon, loc.lat
            else:
                raise FieldError("site", "give a site name or lon and lat")
            row = repo.add_unit(
                s,
                id=body.id,
                kind=body.kind,
                mode=body.mode,
                name=body.name or body.id,
                status="available",
                site_id=site_id,
                home_lon=lon,
                home_lat=lat,
                lon=lon,
                lat=lat,
                crew=body.crew,
                speed_factor=body.speed_factor,
                updated_at=ctx.now,
            )
            repo.add_unit_event(s, body.id, ctx.now, None, "available", ctx.principal.username)
            self._audit(s, ctx, "unit.create", "unit", body.id, {"kind": body.kind})
        out = unit_out(row)
        self.hub.publish(Event("unit.updated", out.model_dump(mode="json")))
        return out

    def move_unit(self, unit_id: str, body: S.PositionIn, ctx: Ctx) -> S.UnitOut:
        """A position report."""
        self._own_unit(ctx.principal, unit_id)
        loc = self.geo.locate(body.lon, body.lat, body.frame)
        with self.db.write() as s:
            if not repo.move_unit(s, unit_id, loc.lon, loc.lat, ctx.now):
                raise NotFoundError(f"no unit {unit_id!r}")
            self._audit(s, ctx, "unit.position", "unit", unit_id, {})
            row = repo.get_unit(s, unit_id)
            assert row is not None
            self.note_presence(s, row, ctx.now)
        out = unit_out(row)
        self.hub.publish(Event("unit.updated", out.model_dump(mode="json")))
        return out

    def note_presence(self, s: Session, row: Unit, at: dt.datetime) -> None:
        """Record whether the unit is away from its post (more than ``AWAY_FROM_POST_M``)
        when that changes (police visibility, see ``xunfang.store.kpi_sql``)."""
        x, y = self.geo.project(
            np.array([row.lon, row.home_lon]), np.array([row.lat, row.home_lat])
        )
        away = float(np.hypot(x[0] - x[1], y[0] - y[1])) > AWAY_FROM_POST_M
        repo.record_presence(s, row.id, away, at)

    # ------------------------------------------------------------------ sites
    def list_sites(self) -> list[S.SiteOut]:
        """Every fixed post."""
        with self.db.read() as s:
            return [
                S.SiteOut(id=x.id, name=x.name, kind=x.kind, lon=x.lon, lat=x.lat)
                for x in repo.list_sites(s)
            ]

    def create_site(self, body: S.SiteCreate, ctx: Ctx) -> S.SiteOut:
        """Add a post."""
        loc = self.geo.locate(body.lon, body.lat, body.frame)
        try:
            with self.db.write() as s:
                if any(x.name == body.name for x in repo.list_sites(s)):
                    raise ConflictError(f"site {body.name!r} already exists")
                site = repo.add_site(
                    s, name=body.name, kind=body.kind, lon=loc.lon, lat=loc.lat, source="api"
                )
                self._audit(s, ctx, "site.create", "site", str(site.id), {"kind": body.kind})
        except IntegrityError as exc:
            raise ConflictError(f"site {body.name!r} already exists") from exc
        return S.SiteOut(id=site.id, name=site.name, kind=site.kind, lon=site.lon, lat=site.lat)

    # ------------------------------------------------------------------ alerts
    def create_alert(self, body: S.AlertCreate, ctx: Ctx) -> S.AlertOut:
        """Push a lookout to the ``units`` nearest available units (by road) within
        ``within_min`` minutes' travel; busy units make up the number, marked busy, only
        when fewer are available (:func:`xunfang.dispatch.crew.alert_recipients`). The
        reporting officer's unit is never a recipient."""
        loc = self.geo.locate(body.lon, body.lat, body.frame)
        limit_s = body.within_min * 60.0
        with self.db.write() as s:
            rows = repo.unit_positions(s, statuses=[st.value for st in ON_DUTY])
            recs = self._rank(
                rows,
                loc.node,
                k=max(len(rows), 1),
                statuses=ON_DUTY,
                now=ctx.now,
                respect_limits=False,  # "who is near", whatever their own beat
            )
            reporter = ctx.principal.unit_id if ctx.principal.role is Role.OFFICER else None
            near = [r for r in recs if r.eta_s <= limit_s and r.unit_id != reporter]
            chosen = alert_recipients(near, {u.id: u.status for u in rows}, body.units)
            recipients = [(r.unit_id, r.eta_s, r.busy) for r in chosen]
            alert = repo.add_alert(
                s,
                Alert(
                    description=body.description,
                    lon=loc.lon,
                    lat=loc.lat,
                    within_min=body.within_min,
                    created_at=ctx.now,
                    created_by=ctx.principal.username,
                    reporter_unit_id=reporter,
                    expires_at=ctx.now + dt.timedelta(seconds=self.settings.alert_ttl_s),
                    units_wanted=body.units,
                ),
                recipients,
            )
            self._audit(
                s,
                ctx,
                "alert.create",
                "alert",
                str(alert.id),
                {"recipients": len(recipients), "busy": sum(r.busy for r in chosen)},
            )
            out = self._alert_out(s, alert)
        self.hub.publish(
            Event(
                "alert.created",
                out.model_dump(mode="json"),
                units=frozenset(u for u, _, _ in recipients),
            )
        )
        return self.alert_for(ctx.principal, out)

    def event_from_db(self, kind: str, row_id: int) -> Event | None:
        """A call or alert event rebuilt from the database (the live-feed bus sends events
        too large for a NOTIFY as a reference); None when the row is gone."""
        with self.db.read() as s:
            if kind.startswith("call."):
                call = repo.get_call(s, row_id)
                return None if call is None else _call_event(kind, call)
            if kind.startswith("alert."):
                alert = repo.get_alert(s, row_id)
                if alert is None:
                    return None
                out = self._alert_out(s, alert)
                return Event(
                    kind,
                    out.model_dump(mode="json"),
                    units=frozenset(r.unit_id for r in out.recipients),
                )
        return None

    @staticmethod
    def alert_for(principal: Principal, out: S.AlertOut) -> S.AlertOut:
        """An alert as ``principal`` may read it: the description in clear for the roles
        that see the caller and for those the alert involves
        (:func:`~xunfang.serve.api.security.alert_involved`), masked for the others
        (:func:`~xunfang.serve.api.security.text_view`); the rule the live feed applies
        (:func:`~xunfang.serve.api.security.event_view`)."""
        units = [r.unit_id for r in out.recipients]
        if principal.sees_caller or alert_involved(principal, out.created_by, units):
            return out
        return out.model_copy(update={"description": text_view(principal, out.description) or ""})

    def _alert_out(self, s: Session, alert: Alert) -> S.AlertOut:
        recs = repo.alert_recipients(s, [alert.id])
        return self._alert_from(alert, recs)

    @staticmethod
    def _alert_from(alert: Alert, recs: Sequence[Any]) -> S.AlertOut:
        acked = sum(1 for r in recs if r.acked_at is not None)
        return S.AlertOut(
            id=alert.id,
            description=alert.description,
            lon=alert.lon,
            lat=alert.lat,
            within_min=alert.within_min,
            created_at=alert.created_at,
            created_by=alert.created_by,
            recipients=[
                S.RecipientOut(
                    unit_id=r.unit_id,
                    eta_s=r.eta_s,
                    acked_at=r.acked_at,
                    acked_by=r.acked_by,
                    busy=bool(r.busy),
                )
                for r in recs
            ],
            units=alert.units_wanted,
            acked=acked,
            pending=len(recs) - acked,
            reporter_unit_id=alert.reporter_unit_id,
            expires_at=alert.expires_at,
            escalated_at=alert.escalated_at,
            call_id=alert.call_id,
        )

    def list_alerts(self, principal: Principal, limit: int) -> list[S.AlertOut]:
        """Recent alerts (officers: those sent to their unit)."""
        with self.db.read() as s:
            alerts = repo.list_alerts(s, limit)
            recs = repo.alert_recipients(s, [a.id for a in alerts])
        by_alert: dict[int, list[Any]] = {}
        for r in recs:
            by_alert.setdefault(r.alert_id, []).append(r)
        out = []
        for a in alerts:
            mine = by_alert.get(a.id, [])
            if principal.role is Role.OFFICER and not any(
                r.unit_id == principal.unit_id for r in mine
            ):
                continue
            out.append(self.alert_for(principal, self._alert_from(a, mine)))
        return out

    def ack_alert(self, alert_id: int, body: S.AckIn, ctx: Ctx) -> S.AlertOut:
        """Record a unit's acknowledgement (idempotent: the first one is kept)."""
        p = ctx.principal
        unit_id = body.unit_id or p.unit_id
        if unit_id is None:
            raise FieldError("unit_id", "name the unit that acknowledges")
        self._own_unit(p, unit_id)
        with self.db.write() as s:
            alert = repo.get_alert(s, alert_id)
            if alert is None:
                raise NotFoundError(f"no alert {alert_id}")
            if repo.ack_alert(s, alert_id, unit_id, ctx.now, p.username):
                self._audit(s, ctx, "alert.ack", "alert", str(alert_id), {"unit_id": unit_id})
                fresh = True
            else:
                recs = repo.alert_recipients(s, [alert_id])
                if not any(r.unit_id == unit_id for r in recs):
                    raise NotFoundError(f"alert {alert_id} was not sent to unit {unit_id}")
                fresh = False
            out = self._alert_out(s, alert)
        if fresh:
            self.hub.publish(
                Event(
                    "alert.acked",
                    out.model_dump(mode="json"),
                    units=frozenset(r.unit_id for r in out.recipients),
                )
            )
        return self.alert_for(p, out)

    # ------------------------------------------------------------------ KPIs, audit
    def kpis(
        self, since: dt.datetime, until: dt.datetime, now: dt.datetime | None = None
    ) -> S.KpiOut:
        """Response times by priority, calls by type and hour, person-times on duty
        (person-hours counted up to ``now`` when the window ends later: time not yet
        passed is not on duty)."""
        tz = zoneinfo.ZoneInfo(self.settings.timezone)
        with self.db.read() as s:
            calls = repo.calls_received_between(s, since, until)
            units = repo.list_units(s)
            changes = repo.unit_events(s, until)
        by_priority: dict[int, list[CoreCall]] = {}
        by_type: dict[str, int] = {}
        by_hour = [0] * 24
        by_type_hour: dict[str, list[int]] = {}
        for row in calls:
            c = core_call(row)
            by_priority.setdefault(row.priority, []).append(c)
            by_type[row.call_type] = by_type.get(row.call_type, 0) + 1
            hour = row.received_at.astimezone(tz).hour
            by_hour[hour] += 1
            by_type_hour.setdefault(row.call_type, [0] * 24)[hour] += 1
        stats = []
        for prio in sorted(by_priority):
            cs = by_priority[prio]
            resp = [c.response_s for c in cs if c.response_s is not None]
            med, p90 = median_p90(resp)
            proc, _ = median_p90(
                [c.call_processing_s for c in cs if c.call_processing_s is not None]
            )
            trav, _ = median_p90([c.travel_s for c in cs if c.travel_s is not None])
            stats.append(
                S.ResponseStats(
                    priority=prio,
                    calls=len(resp),
                    median_s=med,
                    p90_s=p90,
                    call_processing_median_s=proc,
                    travel_median_s=trav,
                )
            )
        duty = duty_summary(
            [StatusChange(e.unit_id, e.at, e.new_status) for e in changes],
            {u.id: u.crew for u in units},
            since,
            max(since, min(until, now)) if now is not None else until,
        )
        return S.KpiOut(
            since=since,
            until=until,
            timezone=self.settings.timezone,
            calls=len(calls),
            response_by_priority=stats,
            calls_by_type=dict(sorted(by_type.items())),
            calls_by_hour=by_hour,
            calls_by_type_hour=dict(sorted(by_type_hour.items())),
            person_times_on_duty=duty.person_times,
            person_hours_on_duty=round(duty.person_hours, 3),
            persons_on_duty_now=sum(u.crew for u in units if u.status != "out_of_service"),
        )

    def sectors_geojson(self) -> bytes:
        """The plan's patrol sectors (GeoJSON polygons, WGS-84), each with the ``site_id`` of
        its booth or station (None when no site has that name); an empty collection when
        the plan has no sectors."""
        fc: dict[str, Any] = (
            json.loads(self.geo.sectors_geojson)
            if self.geo.sectors_geojson is not None
            else {"type": "FeatureCollection", "features": []}
        )
        with self.db.read() as s:
            ids = {x.name: x.id for x in repo.list_sites(s)}
        for f in fc["features"]:
            f["properties"]["site_id"] = ids.get(str(f["properties"].get("name")))
        return json.dumps(fc, separators=(",", ":"), ensure_ascii=False).encode()

    def hotspots_geojson(self, days: int, now: dt.datetime, cell_m: float = 250.0) -> bytes:
        """The plan's hotspot cells, or else the last ``days`` days' calls counted on a
        ``cell_m`` grid in the area's CRS (GeoJSON polygons, WGS-84, ``calls`` property)."""
        if self.geo.hotspots_geojson is not None:
            return self.geo.hotspots_geojson.encode()
        with self.db.read() as s:
            rows = repo.calls_received_between(s, now - dt.timedelta(days=days), now)
            lon = np.array([r.lon for r in rows], dtype=np.float64)
            lat = np.array([r.lat for r in rows], dtype=np.float64)
        features: list[dict[str, Any]] = []
        if len(lon):
            x, y = self.geo.project(lon, lat)
            cells = np.floor(np.column_stack([x, y]) / cell_m).astype(np.int64)
            keys, counts = np.unique(cells, axis=0, return_counts=True)
            x0, y0 = keys[:, 0] * cell_m, keys[:, 1] * cell_m
            corners_x = np.stack([x0, x0 + cell_m, x0 + cell_m, x0, x0], axis=1)
            corners_y = np.stack([y0, y0, y0 + cell_m, y0 + cell_m, y0], axis=1)
            clon, clat = self.geo.unproject(corners_x.ravel(), corners_y.ravel())
            clon, clat = clon.reshape(-1, 5), clat.reshape(-1, 5)
            for i, n in enumerate(counts.tolist()):
                ring = [
                    [round(float(a), 6), round(float(b), 6)]
                    for a, b in zip(clon[i], clat[i], strict=True)
                ]
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"calls": n, "incidents": n},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                )
        return json.dumps({"type": "FeatureCollection", "features": features}).encode()

    def list_audit(self, limit: int, before_id: int | None) -> list[S.AuditOut]:
        """Audit entries, newest first."""
        with self.db.read() as s:
            return [
                S.AuditOut(
                    id=e.id,
                    at=e.at,
                    username=e.username,
                    role=e.role,
                    action=e.action,
                    resource=e.resource,
                    resource_id=e.resource_id,
                    detail=e.detail,
                    client=e.client,
                )
                for e in repo.list_audit(s, limit=limit, before_id=before_id)
            ]

    def _audit(
        self,
        s: Session,
        ctx: Ctx,
        action: str,
        resource: str,
        resource_id: str,
        detail: dict[str, Any],
    ) -> None:
        repo.audit(
            s,
            username=ctx.principal.username,
            role=ctx.principal.role.value,
            action=action,
            resource=resource,
            resource_id=resource_id,
            detail=detail,
            client=ctx.client,
            at=ctx.now,
        )
