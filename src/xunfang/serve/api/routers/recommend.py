"""Recommendation at any position (before a call is entered)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Dispatcher, ServiceDep

router = APIRouter(prefix="/api/recommend", tags=["recommend"])


@router.get("", response_model=S.RecommendOut)
def recommend_at(
    ctx: Dispatcher,
    svc: ServiceDep,
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    frame: S.Frame = "wgs84",
    k: Annotated[int, Query(ge=1, le=50)] = 3,
) -> S.RecommendOut:
    """The k nearest available units to a position by road travel time, with ETA."""
    return svc.recommend_at(lon, lat, frame, k)
