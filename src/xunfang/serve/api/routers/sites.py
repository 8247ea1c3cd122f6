"""Fixed posts: stations, booths and other posts from a plan."""

from __future__ import annotations

from fastapi import APIRouter

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Admin, AnyUser, ServiceDep

router = APIRouter(prefix="/api/sites", tags=["sites"])


@router.get("", response_model=list[S.SiteOut])
def list_sites(ctx: AnyUser, svc: ServiceDep) -> list[S.SiteOut]:
    """Every post."""
    return svc.list_sites()


@router.post("", response_model=S.SiteOut, status_code=201)
def create_site(body: S.SiteCreate, ctx: Admin, svc: ServiceDep) -> S.SiteOut:
    """Add a post."""
    return svc.create_site(body, ctx)
