"""Liveness, readiness and what the collection holds."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import RequestIdDep, SettingsDep, StoreDep
from app.api.errors import ERROR_RESPONSES, RETRY_AFTER_HEADER
from app.api.middleware import cause_logged
from app.errors import ApiError, CollectionMissing, StoreError
from app.offload import STORE_LANE
from app.schemas import CollectionDetails, ErrorResponse, Health, NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/health", responses=ERROR_RESPONSES)
async def get_health(request: Request) -> Health:
    """Liveness: the process serves HTTP. Calls nothing (the NLB and HEALTHCHECK poll it);
    `image` was read once at start-up (app/ecs_metadata.py)."""
    return Health(image=getattr(request.app.state, "image", None))


@router.get(
    "/ready",
    responses={
        **ERROR_RESPONSES,
        503: {"model": NotReady, "description": "The store does not answer or holds nothing."},
    },
)
async def get_ready(
    *, store: StoreDep, settings: SettingsDep, request_id: RequestIdDep, response: Response
) -> Ready | NotReady:
    """Readiness: the vector store answers and the collection has points."""
    reason: str
    try:
        info = await STORE_LANE.within(settings.QDRANT_TIMEOUT_S, store.info, what="vector store")
    except CollectionMissing:
        reason = "the collection does not exist yet: nothing has been ingested"
    except (StoreError, ApiError) as exc:
        reason = f"the vector store is unavailable ({type(exc).__name__})"
    else:
        if info.points > 0:
            return Ready(points=info.points)
        reason = f"the collection '{info.name}' has no points: nothing has been ingested"
    response.status_code = 503
    return NotReady(reason=reason, request_id=request_id)


@router.get(
    "/collectioninfo",
    responses={
        **ERROR_RESPONSES,
        503: {
            "model": ErrorResponse,
            "description": "The store does not answer, or nothing has been ingested.",
            "headers": RETRY_AFTER_HEADER,
        },
    },
)
async def get_collection_info(
    *, store: StoreDep, settings: SettingsDep, request: Request
) -> CollectionDetails:
    """Points, documents and vector configuration of the collection."""
    with cause_logged(request):
        info = await STORE_LANE.within(settings.QDRANT_TIMEOUT_S, store.info, what="vector store")
    return CollectionDetails(
        name=info.name,
        points=info.points,
        documents=info.documents,
        dense_size=info.dense_size,
        sparse=info.sparse,
        extra=dict(info.extra),
    )
