"""ASGI middleware of the service: a request-body limit and ``Cache-Control: no-store``.

``BodyLimit`` counts the bytes of each HTTP request body as they arrive, chunked
transfer included: a ``Content-Length`` over the limit is answered 413 before a byte
is read, and a body without one is cut off at the first chunk that crosses the limit
(the application then sees a disconnect, and whatever it answers is dropped in favour
of the 413). This is the ASGI counterpart of nginx's ``client_max_body_size``; Starlette
has none of its own.

``StrictJSONBody`` refuses a JSON request body that names a key twice in one object
(``{"priority": 1, "priority": 3}``) with 422 naming the key, before any route reads it:
Python's JSON parser, and so FastAPI's, would keep the last value without a word
(:mod:`xunfang.strict_json`). It sits inside ``BodyLimit``, so it buffers at most the
body limit.

``NoStore`` marks every ``/api/`` answer without a ``Cache-Control`` of its own as
``no-store`` (RFC 9111 section 5.2.2.5): calls, users, the audit log and tokens hold
personal data that no browser or proxy cache may keep.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xunfang import strict_json


class BodyLimit:
    """Refuse HTTP request bodies larger than ``max_bytes`` with 413.

    Parameters
    ----------
    app
        The wrapped ASGI application.
    max_bytes
        Largest accepted body, bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> bytes:
        return json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()

    async def _refuse(self, send: Send) -> None:
        body = self._message()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    await self._refuse(send)
                    return
        seen = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; the application's answer is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _json_content(scope: Scope) -> bool:
    """Whether FastAPI would parse the request body as JSON: no ``Content-Type`` or an
    ``application/json`` / ``application/*+json`` one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


class StrictJSONBody:
    """Answer 422 to a JSON request body with a repeated key, naming it.

    The answer has the shape of the service's other validation errors: ``{"detail": [{"loc":
    ["body", KEY], "field": KEY, "msg": ..., "type": "json_duplicate_key"}]}``. Bodies that
    are not JSON at all pass through (FastAPI answers them 422 ``json_invalid``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                strict_json.loads(body)
            except (strict_json.DuplicateKeyError, strict_json.NestingError) as exc:
                await self._refuse(send, exc)
                return
            except ValueError:
                pass  # not JSON (or not UTF-8): FastAPI's own answer
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(
        send: Send, exc: strict_json.DuplicateKeyError | strict_json.NestingError
    ) -> None:
        if isinstance(exc, strict_json.DuplicateKeyError):
            detail: dict[str, Any] = {
                "loc": ["body", exc.key],
                "field": exc.key,
                "msg": str(exc),
                "type": "json_duplicate_key",
            }
        else:
            detail = {"loc": ["body"], "msg": str(exc), "type": "json_too_deep"}
        body = json.dumps({"detail": [detail]}, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class NoStore:
    """Add ``Cache-Control: no-store`` to ``/api/`` answers that set no cache policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


def content_security_policy(host: str | None, tile_url: str) -> str:
    """The console's CSP: scripts, styles, connections and images from this host only
    (plus the configured tile server's host for images).

    ``connect-src`` names ``'self'`` and this host's ``ws://`` and ``wss://`` origins
    (browsers before CSP level 3 do not let ``'self'`` cover WebSockets); a ``Host``
    header that is not a plain host name is left out.
    """
    img = "'self' data:"
    if tile_url.startswith(("http://", "https://")):
        scheme, _, rest = tile_url.partition("://")
        tile_host = rest.split("/", 1)[0].replace("{s}", "*")
        img += f" {scheme}://{tile_host}"
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return (
        f"default-src 'self'; img-src {img}; connect-src {connect}; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
