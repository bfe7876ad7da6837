"""What routes receive, as named aliases (`StoreDep`, `SettingsDep`, ...). Everything here is
created once by the lifespan in `app.main` and kept on `app.state`; a dependency only looks
it up.

The functions are `async` although they never await: FastAPI runs a sync dependency in the
thread pool, and a thread hop per dependency costs more than the whole retrieval. The /ask
routes resolve none: they read the `Services` with `services_of(request)`, because each
dependency FastAPI resolves costs ~20 µs, a twentieth of an answer (/ask in-process: ~340 µs
with its one dependency, ~320 µs without).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.answer import Answerer
from app.api.errors import request_id_of
from app.config import Settings
from app.retrieval import Retriever
from app.store.base import VectorStore

__all__ = ["RequestIdDep", "Services", "SettingsDep", "StoreDep", "services_of"]


@dataclass(frozen=True, slots=True)
class Services:
    """What answering needs, created once by the lifespan."""

    settings: Settings
    retriever: Retriever
    answerer: Answerer


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> VectorStore:
    store: VectorStore = request.app.state.store
    return store


async def get_request_id(request: Request) -> str:
    return request_id_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[VectorStore, Depends(get_store)]
RequestIdDep = Annotated[str, Depends(get_request_id)]


def services_of(request: Request) -> Services:
    """What the /ask routes need; read in the route, not declared as a dependency (see above)."""
    services: Services = request.app.state.services
    return services
