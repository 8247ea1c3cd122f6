"""Settings of the dispatch service, read from the environment (prefix ``XUNFANG_``).

==================  ==================================================================
variable            meaning
==================  ==================================================================
DATABASE_URL        ``sqlite:///<cwd>/xunfang.db`` by default; ``postgresql://...``
SECRET_KEY          key that signs access tokens (HS256); at least 32 characters
TOKEN_TTL_MIN       access-token lifetime, minutes
ENV                 ``development`` or ``production``
TILE_URL            optional map tile template, e.g. ``https://tile.example/{z}/{x}/{y}.png``
AREA                study area whose road network the service builds (``district:1``);
                    default: the city's default polygon (its boundary layer's ``default``)
PLAN_DIR            an ``xunfang plan`` output folder: booths and stations from sites.csv
DATA_DIR            the data directory (boundaries, road graphs, stations)
CACHE_DIR           the built road network is kept under ``CACHE_DIR/networks`` and read
                    back by a restart and by every worker (default ``~/.cache/xunfang``)
CORS_ORIGINS        allowed browser origins (JSON list); ``*`` is refused in production
TIMEZONE            local time zone of the KPIs' hour of day (``xunfang serve``: the city's;
                    UTC when neither is set)
ALERT_TTL_S         an alert expires this long after it is sent; unacknowledged: escalated
BOOTH_MODE          ``car`` or ``foot``: how seeded booth units travel (foot: 5 km/h)
FIELD_POSITION_S    how often the officer's page sends its position while on duty, s
DISPOSITIONS        TOML of disposition codes (default: xunfang/data/dispositions.toml)
KPI_STANDARDS       TOML of KPI time standards (default: xunfang/data/kpi_standards.toml)
MAX_BODY_BYTES      larger request bodies are refused with 413 before they are read
WS_RECHECK_S        how often the live feed re-checks its user against the database
LOGIN_*             login throttle (see :mod:`xunfang.serve.api.accounts`)
DB_CONNECT_TIMEOUT_S, DB_STATEMENT_TIMEOUT_S
                    a database that does not answer gives 503 after this, not a hang
==================  ==================================================================

In production an unset or weak ``SECRET_KEY`` and a ``*`` CORS origin are refused at
start-up (:meth:`ServeSettings.check`), after the full-stack-fastapi-template habit.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from xunfang.config import DEFAULT_CACHE_DIR
from xunfang.errors import ValidationError
from xunfang.store.db import default_sqlite_url

DEV_SECRET_KEY = "xunfang-development-secret-do-not-use-in-production"
"""The development default of ``SECRET_KEY`` (refused in production)."""
MIN_SECRET_CHARS = 32


class ServeSettings(BaseSettings):
    """Validated settings of ``xunfang serve`` (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix="XUNFANG_", extra="ignore")

    database_url: str = Field(default_factory=default_sqlite_url)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    token_ttl_min: float = Field(default=480.0, gt=0, le=7 * 24 * 60)
    env: Literal["development", "production"] = "development"
    tile_url: str = ""
    lang: Literal["zh", "en"] = "zh"
    """Default language of the console and the officer's page ``/field`` (``xunfang serve
    --lang``); each browser's own choice (the language button) wins over it."""
    area: str = ""
    plan_dir: Path | None = None
    data_dir: Path = Path("data")
    cache_dir: Path = DEFAULT_CACHE_DIR
    """Where the road network is cached (``XUNFANG_CACHE_DIR``; see
    :mod:`xunfang.ingest.network_cache`): a restart and every worker load it."""
    cors_origins: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    area_buffer_m: float = Field(default=300.0, ge=0)
    """Points up to this far outside the area polygon are accepted, metres."""
    max_snap_m: float = Field(default=500.0, gt=0)
    """A point farther than this from every road node is refused, metres."""
    units_per_station: int = Field(default=2, ge=0, le=50)
    """Patrol units created at each station when the units table is empty."""
    seed_units: bool = True
    intake_batch_max: int = Field(default=128, ge=1, le=10_000)
    """Most calls written in one transaction by the intake writer (group commit)."""
    alert_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
    """An alert expires this long after it is sent; unacknowledged ones are escalated."""
    booth_mode: Literal["car", "foot"] = "car"
    """How the booth units seeded from a plan travel (``foot``: walking speed)."""
    field_position_s: float = Field(default=30.0, ge=1, le=3600)
    """Interval of the officer's page's position reports while on duty, seconds."""
    tick_s: float = Field(default=1.0, gt=0, le=60)
    """Interval of the background task (returns to post, alert expiry), seconds."""
    dispositions: Path | None = None
    kpi_standards: Path | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Request bodies larger than this are refused (413) before they are read, bytes."""
    ws_recheck_s: float = Field(default=5.0, gt=0, le=300)
    """The live feed re-checks its user's role and active flag this often, seconds."""
    login_free_failures: int = Field(default=3, ge=1, le=100)
    """Failed logins of one (user, address) pair before the exponential delay starts."""
    login_base_delay_s: float = Field(default=1.0, gt=0, le=3600)
    """First delay of the exponential back-off, seconds (doubles at each failure)."""
    login_max_delay_s: float = Field(default=300.0, gt=0, le=86_400)
    """Longest delay between two login attempts of one (user, address) pair, seconds."""
    login_max_failures_per_address: int = Field(default=30, ge=1, le=100_000)
    """Failed logins from one address in ``login_window_s`` before it must wait."""
    login_window_s: float = Field(default=900.0, gt=0, le=86_400)
    """How far back failed logins count, seconds."""
    live_feed_bus: Literal["auto", "local"] = "auto"
    """``auto``: on PostgreSQL the live feed goes through LISTEN/NOTIFY, so that every
    worker process hears every event; ``local``: this process only (SQLite always)."""
    db_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """A database connection not made by then fails (503), seconds."""
    db_statement_timeout_s: float = Field(default=15.0, gt=0, le=3600)
    """PostgreSQL cancels a statement running longer than this (503), seconds."""

    def check(self) -> None:
        """Refuse unsafe settings outside development.

        Raises
        ------
        ValidationError
            In production: a default or short ``SECRET_KEY``, or ``*`` among
            ``CORS_ORIGINS``; in any environment: an unknown ``TIMEZONE``.
        """
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                f"XUNFANG_TIMEZONE {self.timezone!r} is not an IANA time zone "
                "(e.g. Asia/Shanghai, Europe/Berlin)"
            ) from exc
        if self.env != "production":
            return
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_CHARS:
            raise ValidationError(
                "XUNFANG_SECRET_KEY must be set to a random string of at least "
                f"{MIN_SECRET_CHARS} characters in production (it signs the access tokens); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if "*" in self.cors_origins:
            raise ValidationError(
                "XUNFANG_CORS_ORIGINS must not contain '*' in production: list the console's "
                'origins, e.g. ["https://cad.example.org"]'
            )
