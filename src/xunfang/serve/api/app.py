"""The FastAPI application of the dispatch service and its start-up.

``create_app(settings, geo)`` wires settings, database, geography, event hub, intake
writer and routers; the lifespan migrates (or checks) the database, seeds the plan's
sites and units, and runs the intake writer. ``run(...)`` serves it with uvicorn: one
process, or on PostgreSQL ``workers`` processes sharing the port (uvicorn's supervisor
restarts a worker that dies), each with its own intake writer, and the live feed carried
between them by PostgreSQL LISTEN/NOTIFY (:mod:`xunfang.serve.api.bus`). SQLite serves
from one process with the in-process hub: its writers are serialised by one file lock
anyway, and a second process would gain nothing but lock waits.

``/docs`` serves Swagger UI from the ``swagger-ui-bundle`` package (FastAPI's
"self-hosting JavaScript and CSS for docs" recipe): no CDN, so it works offline.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from xunfang import __version__
from xunfang.dispatch.model import TransitionError
from xunfang.errors import ValidationError
from xunfang.serve.api.bus import PgBus
from xunfang.serve.api.calltypes import check_call_types
from xunfang.serve.api.events import EventHub
from xunfang.serve.api.geo import FieldError, Geo
from xunfang.serve.api.intake import IntakeWriter
from xunfang.serve.api.middleware import (
    BodyLimit,
    NoStore,
    StrictJSONBody,
    content_security_policy,
)
from xunfang.serve.api.routers import (
    alerts,
    audit,
    auth,
    calls,
    field,
    kpis,
    meta,
    recommend,
    sites,
    units,
    users,
    ws,
)
from xunfang.serve.api.service import ConflictError, ForbiddenError, NotFoundError, Service
from xunfang.serve.api.settings import ServeSettings
from xunfang.store.db import Database
from xunfang.store.migrate import current_revision, head_revision, upgrade

log = logging.getLogger("xunfang.serve")

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
_RETRYABLE = frozenset({"DeadlockDetected", "SerializationFailure", "LockNotAvailable"})
"""PostgreSQL errors that mean "someone else changed it first" (psycopg class names)."""
ROUTERS = (auth, users, field, calls, recommend, units, sites, alerts, kpis, audit, meta, ws)


def prepare_database(db: Database, *, migrate: bool = True) -> str | None:
    """Migrate the database to the latest schema, or check that it is there.

    Raises
    ------
    ValidationError
        Without ``migrate``, if the database is not at the latest revision.
    """
    if migrate:
        return upgrade(db)
    rev, head = current_revision(db), head_revision()
    if rev != head:
        raise ValidationError(
            f"the database is at schema revision {rev}, the service needs {head}: "
            "run `xunfang serve --migrate`"
        )
    return rev


def create_app(
    settings: ServeSettings, geo: Geo, *, db: Database | None = None, migrate: bool = True
) -> FastAPI:
    """The service application.

    Parameters
    ----------
    settings
        Checked with :meth:`ServeSettings.check` (unsafe production settings raise).
    geo
        Area, network and sites (see :func:`xunfang.serve.api.geo.build_geo`).
    db
        Database (default: from ``settings.database_url``).
    migrate
        Run the migrations at start-up (else only check the revision).

    Raises
    ------
    ValidationError
        For unsafe or invalid settings.
    """
    settings.check()
    check_call_types()
    database = db or Database(
        settings.database_url,
        connect_timeout_s=settings.db_connect_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )
    hub = EventHub()
    writer = IntakeWriter(database, batch_max=settings.intake_batch_max)
    service = Service(settings, database, geo, hub, writer)
    writer.on_committed = service.on_calls_committed
    bus = _bus(settings, database, hub, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_database(database, migrate=migrate)
        sites_added, units_added = service.seed()
        if sites_added or units_added:
            log.info("seeded %d sites and %d units", sites_added, units_added)
        hub.bind(asyncio.get_running_loop())
        if bus is not None:
            bus.start()
            hub.bus = bus
        # the road network and its tables are long-lived: keep them out of the cyclic
        # garbage collector's full passes (which would otherwise pause requests)
        gc.collect()
        gc.freeze()
        writer.start()
        ticker = asyncio.create_task(_tick_loop(service))
        try:
            yield
        finally:
            ticker.cancel()
            writer.stop()
            if bus is not None:
                hub.bus = None
                bus.stop()

    app = FastAPI(
        title="xunfang dispatch service",
        version=__version__,
        description="Calls, units, recommendation by road travel time, dispatch, alerts, KPIs.",
        lifespan=lifespan,
        docs_url=None,  # served below from the package's own Swagger UI files (no CDN)
        redoc_url=None,
    )
    app.state.service = service
    app.state.settings = settings
    app.add_middleware(StrictJSONBody)  # innermost: its 422 gets the CORS and no-store headers
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(NoStore)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: first
    for module in ROUTERS:
        app.include_router(module.router)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    _offline_docs(app)

    def page_headers(request: Request) -> dict[str, str]:
        """The pages' headers: the content security policy of this host (console and field)."""
        return {
            "Content-Security-Policy": content_security_policy(
                request.headers.get("host"), settings.tile_url
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    def page_html(name: str) -> str:
        """A page with ``<html lang>`` the default language (``settings.lang``)."""
        html = (WEB_DIR / name).read_text(encoding="utf-8")
        return html.replace('<html lang="zh">', f'<html lang="{settings.lang}">', 1)

    console_html, field_html = page_html("index.html"), page_html("field.html")

    @app.get("/", include_in_schema=False)
    def console(request: Request) -> HTMLResponse:
        """The console; its ``<html lang>`` is the default language (``settings.lang``)."""
        return HTMLResponse(console_html, headers=page_headers(request))

    @app.get("/field", include_in_schema=False)
    def field_page(request: Request) -> HTMLResponse:
        """The officer's page (phone or booth tablet), same content security policy; its
        ``<html lang>`` is the default language too, like the console's (it followed the
        browser's language: a tester's zh service showed officers an English page)."""
        return HTMLResponse(field_html, headers=page_headers(request))

    return app


async def _tick_loop(service: Service) -> None:
    """The background task: returns to post and alert escalation, every ``tick_s``."""
    from xunfang.serve.api.field import tick
    from xunfang.store.models import utcnow

    while True:
        await asyncio.sleep(service.settings.tick_s)
        try:
            await asyncio.to_thread(tick, service, utcnow())
        except (OperationalError, DBAPIError) as exc:  # e.g. database busy: next tick
            log.warning("background tick failed: %s", type(exc).__name__)


def _bus(
    settings: ServeSettings, database: Database, hub: EventHub, service: Service
) -> PgBus | None:
    """The cross-process live-feed bus: on PostgreSQL unless turned off; never on SQLite."""
    if database.is_sqlite or settings.live_feed_bus == "local":
        return None
    return PgBus(
        database.url,
        hub,
        service.event_from_db,
        connect_timeout_s=settings.db_connect_timeout_s,
    )


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` from the ``swagger-ui-bundle`` package's files (no CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )


def _error(code: int, field: str | None, msg: str, where: str = "body") -> JSONResponse:
    detail: list[dict[str, Any]] | str
    if field is None:
        detail = msg
    else:
        detail = [{"loc": [where, field], "field": field, "msg": msg, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=code)


def not_utf8_message(err: UnicodeDecodeError) -> str:
    """What a client is told of a request body that is not UTF-8 (in English and Chinese:
    the reference user's 110 systems write GB18030): where decoding stopped, whether the
    bytes read as GB18030, and that nothing was written. JSON between systems must be
    UTF-8 (RFC 8259, section 8.1)."""
    raw = err.object if isinstance(err.object, bytes) else bytes(err.object)
    try:
        raw.decode("gb18030")
        gb_en, gb_zh = (
            " (it reads as GB18030/GBK: re-encode it as UTF-8)",
            "（可按 GB18030/GBK 读出，请改用 UTF-8 编码）",
        )
    except UnicodeDecodeError:
        gb_en, gb_zh = "", ""
    return (
        f"the request body is not UTF-8 at byte {err.start}{gb_en}: JSON must be sent as "
        f"UTF-8 (RFC 8259, section 8.1); nothing was written. 请求体第 {err.start} 字节起不是 "
        f"UTF-8 编码{gb_zh}：JSON 须以 UTF-8 发送；未写入任何记录。"
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        # FastAPI answers a body that is not UTF-8 with "There was an error parsing the
        # body" (its cause, the UnicodeDecodeError, kept as __cause__): say what is wrong
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
            return _error(400, None, not_utf8_message(cause))
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the field named, the offending value NOT echoed (it may be personal data)
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            field = next((x for x in reversed(loc) if not x.isdigit()), loc[-1] if loc else "")
            errors.append(
                {"loc": loc, "field": field, "msg": e.get("msg", ""), "type": e.get("type", "")}
            )
        return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(FieldError)
    async def _field(request: Request, exc: FieldError) -> JSONResponse:
        where = "query" if request.method == "GET" else "body"
        return _error(422, exc.field, str(exc), where)

    @app.exception_handler(TransitionError)
    async def _transition(request: Request, exc: TransitionError) -> JSONResponse:
        return _error(409, None, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return _error(409, None, str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, None, str(exc))

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> JSONResponse:
        return _error(403, None, str(exc))

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        return _error(422, None, str(exc))

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        kind = type(exc.orig).__name__
        if kind in _RETRYABLE:
            log.warning("database conflict: %s", kind)
            return _error(409, None, "conflicting update, nothing was written: retry")
        log.warning("database unavailable or busy: %s", kind)
        resp = _error(503, None, "database unavailable or busy, retry")
        resp.headers["Retry-After"] = "1"
        return resp

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        kind = type(exc.orig).__name__
        if isinstance(exc, IntegrityError) or kind in _RETRYABLE:
            # e.g. a PostgreSQL deadlock between two dispatchers: the transaction was undone
            log.warning("database conflict: %s", kind)
            return _error(409, None, "conflicting update, nothing was written: retry")
        log.error("database error: %s", kind)  # the statement may hold personal data
        return _error(500, None, "internal error")


WORKER_SETTINGS_ENV = "XUNFANG_WORKER_SETTINGS"
"""Environment variable that hands the parent's settings (JSON) to worker processes."""
WORKER_GEO_ENV = "XUNFANG_WORKER_GEO"
"""Environment variable naming a ``module:function`` (no arguments, returns a ``Geo``)
for the workers (default: :func:`geo_from_settings`)."""


WORKER_START_TIMEOUT_S = 120
"""How long uvicorn's supervisor waits for a worker's answer before it replaces it, s."""


def _settings_json(settings: ServeSettings) -> str:
    values = settings.model_dump(mode="json")
    values["secret_key"] = settings.secret_key.get_secret_value()
    return json.dumps(values)


WORKER_CITY_ENV = "XUNFANG_WORKER_CITY"
"""Environment variable that hands the parent's city options (``--city``, ``--boundary``,
``--roads``, ...; JSON) to worker processes (unset: the plan folder's city, or the
default one)."""
_CITY_PATHS = ("city", "boundary", "roads", "stations", "data_dir")


def geo_from_settings(settings: ServeSettings) -> Geo:
    """The service's geography built from its settings (area, data, plan) and the city
    options of :data:`WORKER_CITY_ENV`, if any."""
    from xunfang.serve.api.geo import build_geo

    city = None
    options = os.environ.get(WORKER_CITY_ENV, "")
    if options:
        from xunfang.serve.cli_city import city_from_options

        values = json.loads(options)
        for key in _CITY_PATHS:
            if values.get(key) is not None:
                values[key] = Path(values[key])
        city = city_from_options(**values)
    return build_geo(
        settings.area or None,
        settings.data_dir,
        plan_dir=settings.plan_dir,
        buffer_m=settings.area_buffer_m,
        max_snap_m=settings.max_snap_m,
        city=city,
        cache_dir=settings.cache_dir,
    )


def worker_app() -> FastAPI:
    """The application of one worker process (uvicorn ``factory``): the parent's
    settings from :data:`WORKER_SETTINGS_ENV`, the geography built here."""
    import importlib
    import sys

    settings = ServeSettings(**json.loads(os.environ[WORKER_SETTINGS_ENV]))
    target = os.environ.get(WORKER_GEO_ENV, "")
    if target:
        module, _, func = target.partition(":")
        geo = getattr(importlib.import_module(module), func)()
    else:
        geo = geo_from_settings(settings)
    sys.setswitchinterval(0.001)  # see run()
    return create_app(settings, geo, migrate=False)


def run(
    settings: ServeSettings,
    geo: Geo | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    migrate: bool = True,
    log_level: str = "info",
    access_log: bool = True,
    workers: int = 1,
    geo_factory: str | None = None,
) -> None:
    """Serve the application with uvicorn until interrupted.

    Parameters
    ----------
    geo
        The geography (one worker); with ``workers > 1`` each worker builds its own
        (``geo_factory``, ``module:function`` without arguments, or from the settings).
    workers
        Worker processes; more than one needs PostgreSQL.

    Raises
    ------
    ValidationError
        ``workers > 1`` on SQLite.
    """
    import copy
    import sys

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["xunfang"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    if workers > 1:
        if settings.database_url.startswith("sqlite"):
            raise ValidationError(
                "--workers > 1 needs PostgreSQL: SQLite serialises writers on one file lock, "
                "so the service runs one process on it"
            )
        if migrate:
            prepare_database(Database(settings.database_url), migrate=True)
        os.environ[WORKER_SETTINGS_ENV] = _settings_json(settings)
        if geo_factory:
            os.environ[WORKER_GEO_ENV] = geo_factory
        uvicorn.run(
            "xunfang.serve.api.app:worker_app",
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            log_config=log_config,
            access_log=access_log,
            workers=workers,
            ws="websockets-sansio",
            ws_max_size=settings.max_body_bytes,  # the body limit holds for /ws messages too
            # a worker imports the geospatial stack and builds its road network before it
            # answers the supervisor's ping: uvicorn's default 5 s would kill it mid-start
            timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
        )
        return
    if geo is None:
        geo = geo_from_settings(settings)
    app = create_app(settings, geo, migrate=migrate)
    # The intake writer thread and the event loop share the GIL; a 1 ms switch interval
    # (default 5 ms) lets the loop take it back sooner after each C call that released
    # it (pyproj, shapely, sqlite): measured +15 % calls/s and -20 % p99 at 8 connections.
    sys.setswitchinterval(0.001)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        access_log=access_log,
        workers=1,
        ws="websockets-sansio",
        ws_max_size=settings.max_body_bytes,  # the body limit holds for /ws messages too
    )
