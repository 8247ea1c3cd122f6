"""The live feed: ``/ws`` WebSocket of call, unit and alert events (JSON).

The client sends its access token as the first message, ``{"token": "..."}`` (a token
in the URL would end up in access logs); the server answers ``{"type": "hello", ...}``
and then streams events ``{"type": "call.created" | "call.updated" | "unit.updated" |
"alert.created" | "alert.acked", "data": {...}}``. A bad token closes the socket with
code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xunfang.serve.api.security import TokenError, decode_token
from xunfang.serve.api.service import Service

router = APIRouter()

AUTH_TIMEOUT_S = 10.0


@router.websocket("/ws")
async def live_feed(websocket: WebSocket) -> None:
    """Stream events to an authenticated console."""
    svc: Service = websocket.app.state.service
    await websocket.accept()
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        token = json.loads(first).get("token", "")
        principal = decode_token(str(token), svc.settings.secret_key.get_secret_value())
    except (TimeoutError, ValueError, TokenError, AttributeError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await websocket.close(code=4401, reason='send {"token": ...} first')
        return
    sub = svc.hub.subscribe(principal)
    await websocket.send_text(
        json.dumps(
            {"type": "hello", "data": {"username": principal.username, "role": principal.role}}
        )
    )

    async def drain() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await websocket.receive_text()  # pings; a disconnect ends the loop

    reader = asyncio.create_task(drain())
    try:
        while not sub.dropped:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            await websocket.send_text(getter.result())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        svc.hub.unsubscribe(sub)
        reader.cancel()
        with contextlib.suppress(Exception):
            await websocket.close()
