"""Path and query parameters shared by the routers (bounded, so no input reaches the
database out of its column's range)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**63 - 1

CallId = Annotated[int, Path(ge=1, le=MAX_ID, description="call id")]
AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="alert id")]
UnitIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,32}$", description="unit id")]
