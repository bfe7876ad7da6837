"""The FastAPI application: `uvicorn app.main:app` (one worker per container).

The lifespan creates the store, the Bedrock clients (only when a Bedrock model is configured),
the retriever and the answerer once, and closes them at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from pydantic import ValidationError

from app.answer import Answerer
from app.answer.extractive import ExtractiveAnswerer
from app.api import ask, health, page
from app.api.deps import Services
from app.api.errors import install_error_handlers
from app.api.middleware import RequestMiddleware
from app.config import Settings, settings_problems
from app.ecs_metadata import container_image
from app.logging import configure_logging
from app.retrieval import build_retriever
from app.store import VectorStore, open_store

if TYPE_CHECKING:
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

__all__ = ["app", "create_app"]

_log = logging.getLogger("qa.app")


def _answerer(
    settings: Settings, client: BedrockRuntimeClient | None, fallback: Answerer
) -> Answerer:
    if not settings.BEDROCK_MODEL_ID or client is None:
        return fallback
    from app.answer.bedrock import BedrockAnswerer

    guardrail = None
    if settings.BEDROCK_GUARDRAIL_ID and settings.BEDROCK_GUARDRAIL_VERSION:
        guardrail = (settings.BEDROCK_GUARDRAIL_ID, settings.BEDROCK_GUARDRAIL_VERSION)
    return BedrockAnswerer(
        client,
        model_id=settings.BEDROCK_MODEL_ID,
        max_tokens=settings.BEDROCK_MAX_TOKENS,
        guardrail=guardrail,
    )


def _settings_from_environment() -> Settings:
    """Settings from the environment, or exit with one line naming each bad setting: never
    pydantic's report, which quotes the input (secrets included) under a stack trace."""
    try:
        return Settings.from_env()
    except ValidationError as exc:
        raise SystemExit(f"qa-service: invalid settings: {settings_problems(exc)}") from None


def _document_streams_as_events(app: FastAPI) -> None:
    """FastAPI adds `schema: {type: string}` beside a stream's `itemSchema` (the route's
    response class has a media type): the events are the schema, not one string."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for path in generate()["paths"].values():
                for operation in path.values():
                    ok = operation.get("responses", {}).get("200", {})
                    stream = ok.get("content", {}).get("text/event-stream", {})
                    if "itemSchema" in stream:
                        stream.pop("schema", None)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None,
    *,
    store: VectorStore | None = None,
) -> FastAPI:
    """The app for `settings` (default: the environment). Tests may hand in a store; the app
    then uses it instead of opening its own, and does not close it."""
    settings = settings or _settings_from_environment()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as opened:  # closed in reverse: the store, then clients
            client: BedrockRuntimeClient | None = None
            rerank_client = None
            # aiobotocore loads only when Bedrock is in use.
            if settings.BEDROCK_MODEL_ID or settings.BEDROCK_EMBEDDING_MODEL_ID:
                from app.aws import bedrock_runtime

                client = await opened.enter_async_context(bedrock_runtime(settings))
            if settings.BEDROCK_RERANK_MODEL_ID:
                from app.aws import bedrock_agent_runtime

                rerank_client = await opened.enter_async_context(bedrock_agent_runtime(settings))
            app.state.image = await asyncio.to_thread(container_image)  # GET /health
            app.state.store = vectors = store or open_store(settings)
            if store is None:
                opened.callback(vectors.close)
            retriever = build_retriever(settings, vectors, client, rerank_client)
            answerer = _answerer(settings, client, ExtractiveAnswerer(retriever.sparse))
            app.state.services = Services(settings, retriever, answerer)
            _log.info(
                "started",
                extra={
                    "fields": {
                        "store": type(vectors).__name__,
                        "collection": settings.QDRANT_COLLECTION,
                        "answerer": answerer.model,
                        "embeddings": settings.BEDROCK_EMBEDDING_MODEL_ID,
                    }
                },
            )
            yield
            answerer.close()

    app = FastAPI(
        title="qa-service",
        summary="Questions over a team's documents, answered with cited passages.",
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI and ReDoc load scripts from a CDN, which the CSP (rightly) refuses;
        # the OpenAPI document itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    _document_streams_as_events(app)
    install_error_handlers(app)
    # Routes match in order: the busiest first.
    app.include_router(ask.router)
    app.include_router(health.router)
    app.include_router(page.router)
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_timeout_s=settings.HTTP_BODY_TIMEOUT_S,
        retry_after_s=settings.RETRY_AFTER_S,
    )
    return app


app = create_app()
