"""What the console needs: area and map settings, call types, the road network, the
hotspot layer and the plan's patrol sectors (GeoJSON, WGS-84); and the health check."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.serve.api import schemas as S
from xunfang.serve.api.calltypes import CALL_TYPES
from xunfang.serve.api.deps import AnyUser, ServiceDep

router = APIRouter(tags=["meta"])


@router.get("/api/health")
def health(svc: ServiceDep, response: Response) -> dict[str, str]:
    """Readiness (no authentication, no data): ``database`` is ``ok`` when the database
    takes a write within 2 s (:meth:`~xunfang.store.db.Database.ping`), else
    ``unavailable`` with status 503 (intake would fail too)."""
    response.headers["Cache-Control"] = "no-store"
    if svc.db.ping():
        return {"status": "ok", "database": "ok", "backend": svc.db.backend}
    response.status_code = 503
    return {"status": "unavailable", "database": "unavailable", "backend": svc.db.backend}


@router.get("/api/meta", response_model=S.MetaOut)
def meta(ctx: AnyUser, svc: ServiceDep) -> S.MetaOut:
    """Area, bounding box, tile URL, call types and type-group labels."""
    tax = load_taxonomy()
    return S.MetaOut(
        area=svc.geo.name,
        bbox=svc.geo.bbox,
        area_geojson=svc.geo.area_geojson(),
        tile_url=svc.settings.tile_url,
        call_types=[
            {"key": t.key, "group": t.group, "priority": t.priority, "en": t.en, "zh": t.zh}
            for t in CALL_TYPES.values()
        ],
        type_groups={g: {"en": tax.label(g, "en"), "zh": tax.label(g, "zh")} for g in tax.groups},
        unit_statuses=[
            "available",
            "dispatched",
            "en_route",
            "on_scene",
            "returning",
            "out_of_service",
        ],
        hotspots=True,
        sectors=svc.geo.sectors_geojson is not None,
    )


def _geojson(request: Request, body: bytes) -> Response:
    headers = {"Cache-Control": "private, max-age=300"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            gzip.compress(body, 6),
            media_type="application/geo+json",
            headers={**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(body, media_type="application/geo+json", headers=headers)


@router.get("/api/map/roads", response_class=Response)
def roads(ctx: AnyUser, svc: ServiceDep, request: Request) -> Response:
    """The drivable road network as GeoJSON MultiLineStrings by road class."""
    return _geojson(request, svc.geo.roads_geojson())


@router.get("/api/map/hotspots", response_class=Response)
def hotspots(
    ctx: AnyUser,
    svc: ServiceDep,
    request: Request,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """Hotspot cells: the plan's (``hotspots.geojson``) when there is one, else counts of
    the last ``days`` days' calls on a 250 m grid."""
    return _geojson(request, svc.hotspots_geojson(days, ctx.now))


@router.get("/api/map/sectors", response_class=Response)
def sectors(ctx: AnyUser, svc: ServiceDep, request: Request) -> Response:
    """The plan's patrol sectors (区块警务), one polygon per booth or station with its
    ``name``, ``kind``, ``sector`` index, ``workload`` and ``site_id``; an empty collection
    when the plan has none."""
    return _geojson(request, svc.sectors_geojson())
