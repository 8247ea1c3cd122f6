"""``xunfang serve`` and ``xunfang user add``: the dispatch service's commands.

Mount in the main CLI with ``app.add_typer(cli_serve.app)`` (no name: the commands join
the top level). Settings come from ``XUNFANG_*`` variables (see
:mod:`xunfang.serve.api.settings`); the options below override them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from xunfang.errors import XunfangError
from xunfang.serve._common import LangOpt, check_lang_option, err_console, fail
from xunfang.serve.cli_city import (
    BoundaryNameOpt,
    BoundaryOpt,
    CityOpt,
    CountryOpt,
    FrameOpt,
    RoadsOpt,
    StationsOpt,
    city_from_options,
)

app = typer.Typer(
    help="The dispatch service (command centre): API, live feed and web console.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="Users of the dispatch service.", no_args_is_help=True)
app.add_typer(user_app, name="user")

console = Console()


def _settings(*, warn_lang: str = "en", **overrides: Any) -> Any:
    """The service's settings (``XUNFANG_*`` overridden by ``overrides``); the warning of a
    missing secret key in ``warn_lang``."""
    from pydantic import ValidationError as PydanticValidationError

    from xunfang.errors import ValidationError
    from xunfang.serve.api.settings import ServeSettings

    clean = {k: v for k, v in overrides.items() if v is not None}
    development = os.environ.get("XUNFANG_ENV", "development") != "production"
    if development and not os.environ.get("XUNFANG_SECRET_KEY") and "secret_key" not in clean:
        # never sign tokens with a key published in the source: without a configured key,
        # this process makes its own (tokens then end with the process); production refuses
        # to start without one (ServeSettings.check)
        clean["secret_key"] = secrets.token_urlsafe(48)
        err_console.print(
            "[yellow]警告：[/]未设置 XUNFANG_SECRET_KEY：本进程使用随机密钥；重启后用户须重新登录"
            if warn_lang == "zh"
            else "[yellow]warning:[/] XUNFANG_SECRET_KEY is not set: using a random key for "
            "this process; users must log in again after a restart",
            soft_wrap=True,
        )
    try:
        settings = ServeSettings(**clean)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise ValidationError(f"XUNFANG_{field.upper()}: {first['msg']}") from exc
    settings.check()
    return settings


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    area: Annotated[
        str | None, typer.Option(help="Study area of the road network (XUNFANG_AREA).")
    ] = None,
    plan_dir: Annotated[
        Path | None,
        typer.Option(help="`xunfang plan` output folder with sites.csv (XUNFANG_PLAN_DIR)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (XUNFANG_DATA_DIR).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (XUNFANG_DATABASE_URL).")
    ] = None,
    migrate: Annotated[
        bool, typer.Option(help="Upgrade the database schema to the latest revision first.")
    ] = True,
    migrate_only: Annotated[
        bool, typer.Option(help="Only upgrade the database schema, then exit.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    city: CityOpt = None,
    boundary: BoundaryOpt = None,
    boundary_name: BoundaryNameOpt = None,
    roads: RoadsOpt = None,
    country: CountryOpt = None,
    stations: StationsOpt = None,
    frame: FrameOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes on the port (PostgreSQL only; the live feed goes "
            "between them through LISTEN/NOTIFY).",
        ),
    ] = 1,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="zh or en: the console's default language (else XUNFANG_LANG, else zh; each "
            "browser's own choice wins) and this command's own output (else en).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the dispatch service: REST API under /api, live feed at /ws, console at /.

    The area and city default to those the plan folder records (``--plan-dir``)."""
    from xunfang.errors import ValidationError
    from xunfang.store.db import Database, ServerLock, default_sqlite_url, normalise_url

    if lang is not None:
        check_lang_option(lang)
    out_lang = lang or "en"  # this command's own lines: English unless asked
    zh = out_lang == "zh"

    server_lock: ServerLock | None = None
    try:
        url = normalise_url(
            database_url or os.environ.get("XUNFANG_DATABASE_URL") or default_sqlite_url()
        )
        file_db = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        if file_db and workers == 1 and not migrate_only:
            # SQLite is served by one process: refuse a second server on the same file at
            # once, before the slow imports (held until this process exits)
            server_lock = ServerLock(Path(str(url.database)).resolve()).acquire()
        from xunfang.serve.api.app import prepare_database, run
        from xunfang.serve.api.geo import build_geo

        the_city = None
        plan_dir = plan_dir or (
            Path(os.environ["XUNFANG_PLAN_DIR"]) if os.environ.get("XUNFANG_PLAN_DIR") else None
        )
        if plan_dir is not None and (plan_dir / "plan_summary.json").is_file():
            from xunfang.plan.booth_plan import read_plan_record

            record = read_plan_record(plan_dir)
            the_city = record.city
            if area is None and not os.environ.get("XUNFANG_AREA"):
                area = record.area
        if any(v is not None for v in (city, boundary, roads, stations)):
            the_city = city_from_options(
                city=city,
                boundary=boundary,
                boundary_name=boundary_name,
                roads=roads,
                country=country,
                stations=stations,
                frame=frame,
                data_dir=data_dir or Path(os.environ.get("XUNFANG_DATA_DIR", "data")),
            )
        if the_city is None:
            from xunfang.ingest.city import default_city

            the_city = default_city(data_dir or Path(os.environ.get("XUNFANG_DATA_DIR", "data")))
        timezone = None
        if the_city.timezone and not os.environ.get("XUNFANG_TIMEZONE"):
            timezone = the_city.timezone  # the city's clock for the KPIs' hour of day
        if boundary is not None and area is None and not os.environ.get("XUNFANG_AREA"):
            area = "boundary:" + boundary_name if boundary_name else ""
        settings = _settings(
            area=area,
            plan_dir=plan_dir,
            data_dir=data_dir,
            database_url=database_url,
            timezone=timezone,
            lang=lang,
            warn_lang=out_lang,
        )
        db = Database(settings.database_url)
        rev = prepare_database(db, migrate=migrate or migrate_only)
        db.dispose()
        console.print(
            f"数据库 {db.backend}，架构版本 {rev}"
            if zh
            else f"database {db.backend} at schema revision {rev}"
        )
        if migrate_only:
            return
        if workers > 1:
            if db.is_sqlite:
                raise ValidationError(
                    "--workers > 1 needs PostgreSQL: SQLite serialises writers on one file "
                    "lock, so the service runs one process on it"
                )
            if any(v is not None for v in (city, boundary, roads, stations)):
                from xunfang.serve.api.app import WORKER_CITY_ENV

                # each worker builds the same city from the same options
                os.environ[WORKER_CITY_ENV] = json.dumps(
                    {
                        "city": city and str(city),
                        "boundary": boundary and str(boundary),
                        "boundary_name": boundary_name,
                        "roads": roads and str(roads),
                        "stations": stations and str(stations),
                        "frame": frame,
                        "data_dir": str(
                            data_dir or Path(os.environ.get("XUNFANG_DATA_DIR", "data"))
                        ),
                    }
                )
            area_of = the_city.study_area(settings.area or None)
            building = (
                f"正在构建 {area_of.name} 的路网"
                if zh
                else f"building the road network of {area_of.name}"
            )
            with console.status(building):
                # built (or checked) once here, so that each worker loads it from the cache
                _, how = the_city.cached_road_network(area_of, cache_dir=settings.cache_dir)
            console.print(
                f"{workers} 个工作进程，各自加载 {area_of.name} 的路网（此处 {how}）；"
                f"控制台：http://{host}:{port}/"
                if zh
                else f"{workers} workers, each loading the road network of {area_of.name} "
                f"({how} here); console at http://{host}:{port}/"
            )
            run(
                settings,
                None,
                host=host,
                port=port,
                migrate=False,
                log_level=log_level,
                workers=workers,
            )
            return
        if zh:
            building = f"正在构建 {settings.area or the_city.name + ' 默认区域'} 的路网"
        else:
            where = settings.area or f"the default area of {the_city.name}"
            building = f"building the road network of {where}"
        with console.status(building):
            geo = build_geo(
                settings.area or None,
                settings.data_dir,
                plan_dir=settings.plan_dir,
                buffer_m=settings.area_buffer_m,
                max_snap_m=settings.max_snap_m,
                city=the_city,
                cache_dir=settings.cache_dir,
            )
        console.print(
            f"{geo.name}：{geo.network.n_nodes:,} 个道路节点，{len(geo.sites)} 个站点；"
            f"控制台：http://{host}:{port}/"
            if zh
            else f"{geo.name}: {geo.network.n_nodes:,} road nodes, {len(geo.sites)} sites; "
            f"console at http://{host}:{port}/"
        )
    except (XunfangError, OSError) as exc:
        if server_lock is not None:
            server_lock.release()
        raise fail(exc, out_lang) from exc
    try:
        run(settings, geo, host=host, port=port, migrate=False, log_level=log_level)
    finally:
        if server_lock is not None:
            server_lock.release()


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="dispatcher, officer, analyst or admin.")],
    unit: Annotated[
        str | None, typer.Option(help="For officers: the unit they crew (e.g. B01).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (no prompt).")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (XUNFANG_DATABASE_URL).")
    ] = None,
    lang: LangOpt = "en",
) -> None:
    """Add a user (the password is hashed with Argon2; it is never stored or shown)."""
    from xunfang.errors import ValidationError
    from xunfang.serve.api.app import prepare_database
    from xunfang.serve.api.schemas import USERNAME_PATTERN
    from xunfang.serve.api.security import Role, hash_password
    from xunfang.store import repo
    from xunfang.store.db import Database
    from xunfang.store.models import utcnow

    check_lang_option(lang)
    zh = lang == "zh"
    try:
        settings = _settings(database_url=database_url, warn_lang=lang)
        if not re.fullmatch(USERNAME_PATTERN, username):
            raise ValidationError(
                f"user name {username!a}: use 1 to 64 of A-Z a-z 0-9 _ . - @ "
                "(the rule of POST /api/users)"
            )
        try:
            role_value = Role(role).value
        except ValueError:
            raise ValidationError(
                f"--role must be one of {', '.join(r.value for r in Role)}, got {role!r}"
            ) from None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt(
                "密码" if zh else "password",
                hide_input=True,
                confirmation_prompt="再次输入密码" if zh else True,
            )
        hashed = hash_password(password)
        db = Database(settings.database_url)
        prepare_database(db)
        with db.write() as s:
            if repo.get_user(s, username) is not None:
                raise ValidationError(f"user {username!r} already exists")
            alike = repo.user_named_alike(s, username)
            if alike is not None:
                raise ValidationError(
                    f"user {username!r} differs from the existing user {alike!r} only in "
                    "case: choose another name (the audit log could not tell them apart)"
                )
            if unit is not None and repo.get_unit(s, unit) is None:
                raise ValidationError(
                    f"--unit: no unit {unit!r} (the units are made when `xunfang serve` "
                    "first starts, or by an admin: GET /api/units lists them)"
                )
            repo.add_user(s, username, hashed, role_value, unit)
            repo.audit(
                s,
                username="cli",
                role="admin",
                action="user.create",
                resource="user",
                resource_id=username,
                detail={"role": role_value},
                at=utcnow(),
            )
        db.dispose()
    except (XunfangError, OSError) as exc:
        raise fail(exc, lang) from exc
    console.print(
        f"已添加用户 {escape(username)}，角色 {role_value}"
        if zh
        else f"user {escape(username)} added with role {role_value}"
    )


class _CliUsers:
    """The command line's user store (:class:`xunfang.serve.api.accounts.UserStore`):
    a database and no cache (servers re-read users within a few seconds)."""

    def __init__(self, database_url: str | None) -> None:
        from xunfang.serve.api.app import prepare_database
        from xunfang.store.db import Database

        settings = _settings(database_url=database_url)
        self.db = Database(settings.database_url)
        prepare_database(self.db)

    def forget_users(self) -> None:
        """Nothing cached here."""

    def ctx(self) -> Any:
        from xunfang.serve.api.security import Principal, Role
        from xunfang.serve.api.service import Ctx
        from xunfang.store.models import utcnow

        return Ctx(Principal("cli", Role.ADMIN), "cli", utcnow())


DatabaseOpt = Annotated[str | None, typer.Option(help="Database URL (XUNFANG_DATABASE_URL).")]
NameArg = Annotated[str, typer.Argument(help="Login name.")]


def _user_command(action: Any, database_url: str | None) -> None:
    """Run ``action(store)`` with the errors of the domain reported as ``error: ...``."""
    store = None
    try:
        store = _CliUsers(database_url)
        action(store)
    except (XunfangError, OSError) as exc:
        raise fail(exc) from exc
    finally:
        if store is not None:
            store.db.dispose()


@user_app.command("disable")
def user_disable(username: NameArg, database_url: DatabaseOpt = None) -> None:
    """Disable a user: every token of theirs is refused from now on."""
    from xunfang.serve.api import accounts

    def act(store: _CliUsers) -> None:
        accounts.set_active(store, username, False, store.ctx())
        console.print(f"user {escape(username)} disabled: every token of theirs is revoked")

    _user_command(act, database_url)


@user_app.command("enable")
def user_enable(username: NameArg, database_url: DatabaseOpt = None) -> None:
    """Re-enable a disabled user (who logs in again)."""
    from xunfang.serve.api import accounts

    def act(store: _CliUsers) -> None:
        accounts.set_active(store, username, True, store.ctx())
        console.print(f"user {escape(username)} enabled")

    _user_command(act, database_url)


@user_app.command("role")
def user_role(
    username: NameArg,
    role: Annotated[str, typer.Option(help="dispatcher, officer, analyst or admin.")],
    unit: Annotated[
        str | None, typer.Option(help="For officers: the unit they crew (e.g. B01).")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Change a user's role (and unit); their requests and live feed follow at once."""
    from xunfang.errors import ValidationError
    from xunfang.serve.api import accounts
    from xunfang.serve.api import schemas as S

    def act(store: _CliUsers) -> None:
        try:
            body = S.RoleIn(role=role, unit_id=unit)  # type: ignore[arg-type]
        except ValueError:
            raise ValidationError(
                "--role must be one of dispatcher, officer, analyst, admin and --unit a unit "
                f"id, got {role!r} / {unit!r}"
            ) from None
        out = accounts.set_role(store, username, body, store.ctx())
        console.print(f"user {escape(username)} now has role {out.role.value}")

    _user_command(act, database_url)


@user_app.command("passwd")
def user_passwd(
    username: NameArg,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (no prompt).")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Set a user's password; every token of theirs is revoked."""
    from xunfang.serve.api import accounts

    def act(store: _CliUsers) -> None:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
        accounts.set_password(store, username, password, store.ctx())
        console.print(f"password of {escape(username)} changed; their tokens are revoked")

    _user_command(act, database_url)


@user_app.command("list")
def user_list(database_url: DatabaseOpt = None) -> None:
    """Every user with role, unit, state and live sessions."""
    from xunfang.serve.api import accounts
    from xunfang.store import repo
    from xunfang.store.models import utcnow

    def act(store: _CliUsers) -> None:
        now = utcnow()
        with store.db.read() as s:
            users = repo.list_users(s)
        for u in users:
            live = [x for x in accounts.list_sessions(store, u.username, now) if not x.revoked]
            state = "active" if u.active else "disabled"
            console.print(
                f"{escape(u.username)}\t{u.role}\t{escape(u.unit_id or '-')}\t{state}\t"
                f"{len(live)} sessions",
                soft_wrap=True,
            )

    _user_command(act, database_url)
