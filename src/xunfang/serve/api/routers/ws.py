"""The live feed: ``/ws`` WebSocket of call, unit and alert events (JSON).

The client sends its access token as the first message, ``{"token": "..."}`` (a token
in the URL would end up in access logs); the server answers ``{"type": "hello", ...}``
and then streams events ``{"type": "call.created" | "call.updated" | "unit.updated" |
"alert.created" | "alert.acked", "data": {...}}``.

The token is checked like every REST request (:func:`xunfang.serve.api.identity.identify`:
the user's current role and active flag from the database, revoked sessions refused)
when the socket authenticates, and again every ``XUNFANG_WS_RECHECK_S`` seconds and at
the token's expiry. Close codes: 4401 for a bad, expired or revoked token or a disabled
or unknown user; 4403 when the user's role or unit changed (the console reconnects and
gets the feed its new role may see); 1003 for a binary frame (the feed speaks JSON text);
1009 for a message longer than ``XUNFANG_MAX_BODY_BYTES`` (the REST body limit, 64 KiB by
default; uvicorn is also started with ``ws_max_size`` at that limit, so a larger frame is
refused by the protocol layer before it is buffered).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from xunfang import strict_json
from xunfang.serve.api.identity import Identity, identify
from xunfang.serve.api.security import TokenError
from xunfang.serve.api.service import Service

router = APIRouter()

AUTH_TIMEOUT_S = 10.0


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason[:120])


class _PolicyClose(Exception):
    """A client message the feed refuses: close with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _receive_text(websocket: WebSocket, max_bytes: int) -> str:
    """The next text message of ``websocket``, at most ``max_bytes`` UTF-8 bytes.

    Raises
    ------
    WebSocketDisconnect
        The client went away.
    _PolicyClose
        1003 for a binary frame, 1009 for a message over ``max_bytes``.
    """
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise _PolicyClose(1003, "binary frames are not accepted: send JSON text")
    if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
        raise _PolicyClose(1009, f"message over {max_bytes} bytes")
    return str(text)


async def _recheck(svc: Service, token: str, who: Identity) -> tuple[int, str] | None:
    """Why the subscription must end now (close code, reason), or None."""
    try:
        now = await run_in_threadpool(identify, svc, token)
    except TokenError as exc:
        return 4401, str(exc)
    if now.principal != who.principal:
        return 4403, "your role changed: reconnect"
    return None


@router.websocket("/ws")
async def live_feed(websocket: WebSocket) -> None:
    """Stream events to an authenticated console."""
    svc: Service = websocket.app.state.service
    max_bytes = svc.settings.max_body_bytes
    await websocket.accept()
    try:
        first = await asyncio.wait_for(_receive_text(websocket, max_bytes), AUTH_TIMEOUT_S)
        token = str(strict_json.loads(first).get("token", ""))
        who = await run_in_threadpool(identify, svc, token)
    except _PolicyClose as exc:
        await _close(websocket, exc.code, exc.reason)
        return
    except TokenError as exc:
        await _close(websocket, 4401, str(exc))
        return
    except (strict_json.DuplicateKeyError, strict_json.NestingError) as exc:
        await _close(websocket, 4401, f'send {{"token": ...}} first: {exc}')
        return
    except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
        await _close(websocket, 4401, 'send {"token": ...} first')
        return
    sub = svc.hub.subscribe(who.principal)
    p = who.principal
    await websocket.send_text(
        json.dumps(
            {
                "type": "hello",
                "data": {"username": p.username, "role": p.role, "worker": os.getpid()},
            }
        )
    )

    async def drain() -> None:
        try:
            while True:
                await _receive_text(websocket, max_bytes)  # pings; a disconnect ends the loop
        except _PolicyClose as exc:
            await _close(websocket, exc.code, exc.reason)
        except (WebSocketDisconnect, RuntimeError):
            pass

    recheck_s = svc.settings.ws_recheck_s
    next_check = time.monotonic() + recheck_s
    reader = asyncio.create_task(drain())
    try:
        while not sub.dropped:
            to_expiry_s = (who.claims.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            wait_s = max(0.0, min(next_check - time.monotonic(), to_expiry_s))
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, reader}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
            )
            if reader in done:
                getter.cancel()
                break
            if getter in done:
                await websocket.send_text(getter.result())
            else:
                getter.cancel()
            if time.monotonic() >= next_check or dt.datetime.now(dt.UTC) >= who.claims.expires_at:
                verdict = await _recheck(svc, token, who)
                if verdict is not None:
                    await _close(websocket, *verdict)
                    break
                next_check = time.monotonic() + recheck_s
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        svc.hub.unsubscribe(sub)
        reader.cancel()
        await _close(websocket, 1000, "")
