"""POST /ask and POST /ask/stream: retrieve the best passages, then answer from them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from functools import lru_cache, partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.answer import Answerer, Delta, StreamEvent, TokenUsage
from app.answer.extractive import ExtractiveAnswerer
from app.api._offload import within
from app.api.deps import services_of
from app.config import Settings
from app.errors import (
    ASK_ERROR_RESPONSES,
    ASK_STREAM_RESPONSES,
    ApiError,
    error_body,
    request_id_of,
)
from app.plaintext import is_markdown, plain
from app.retrieval import Retriever
from app.schemas import AskRequest, AskResponse, Source, StreamDone, Timings, Usage
from app.store import EmbeddedStore
from app.store.base import Hit

router = APIRouter(tags=["ask"])


class EventStreamResponse(StreamingResponse):
    """text/event-stream from a route that first retrieves, so that retrieval errors are
    ordinary JSON statuses (FastAPI's EventSourceResponse would make the whole route the
    stream, and every failure a 200)."""

    media_type = "text/event-stream"


_SNIPPET_CHARS = 300


_to_json = AskResponse.__pydantic_serializer__.to_json


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _cut(text: str) -> str:
    """The first ~300 characters of `text` with whitespace collapsed, cut at a word."""
    if len(text) > _SNIPPET_CHARS * 2:
        # Collapsing the whitespace of a prefix gives a prefix of the collapsed text, so the
        # first 400 characters nearly always hold the 300 shown (a third less work per source).
        head = " ".join(text[:400].split())
        if len(head) < _SNIPPET_CHARS:
            head = " ".join(text[: _SNIPPET_CHARS * 2].split())
        return head[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    head = " ".join(text.split())
    if len(head) <= _SNIPPET_CHARS:
        return head
    return head[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


# Cleaning Markdown costs ~23 µs a passage (4 sources: about a third of what /ask adds to a
# bare request), and the same passages come back for many questions: remember the last
# couple of thousand snippets (a few MB).
@lru_cache(maxsize=2048)
def _snippet(document: str, text: str) -> str:
    if not is_markdown(document):
        return _cut(text)
    # Only the start is shown: clean up to the first paragraph break past where 300 readable
    # characters surely end (markup only shortens), so that no link or emphasis is cut.
    end = text.find("\n\n", _SNIPPET_CHARS * 3 // 2)
    return _cut(plain(text if end == -1 else text[:end]))


def _sources(hits: Sequence[Hit]) -> list[Source]:
    return [
        Source(
            document=hit.chunk.document,
            page=hit.chunk.page,
            chunk=hit.chunk.chunk,
            score=round(hit.score, 6),
            snippet=_snippet(hit.chunk.document, hit.chunk.text),
        )
        for hit in hits
    ]


def _usage(usage: TokenUsage | None) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


async def _retrieve(body: AskRequest, retriever: Retriever, settings: Settings) -> list[Hit]:
    # The deadline covers the store; with Titan embeddings, the embedding call's own too.
    deadline = settings.QDRANT_TIMEOUT_S
    if retriever.dense is not None:
        deadline += settings.BEDROCK_READ_TIMEOUT_S
    model_id = settings.BEDROCK_EMBEDDING_MODEL_ID or "the embedding model"

    def search() -> list[Hit]:
        return retriever.retrieve(
            body.question, top_k=body.top_k, mode=body.mode, documents=body.documents
        )

    def search_with_titan() -> list[Hit]:
        from app.answer.bedrock import bedrock_errors  # botocore: only when Bedrock is in use

        with bedrock_errors(model_id):
            return search()

    if isinstance(retriever.store, EmbeddedStore) and not retriever.embeds(body.mode):
        # In-process and sub-millisecond, so no deadline is needed and a thread hop costs more
        # than the search: `make bench` at concurrency 32 (20,000 points) gave /ask 24-25 %
        # of the bare endpoint's requests/s inline, 18 % through the thread pool. A thread
        # would not overlap with the event loop either: qdrant-edge holds the GIL while it
        # searches.
        return search()
    return await within(
        deadline, search if retriever.dense is None else search_with_titan, what="vector store"
    )


def _record(request: Request, answerer: Answerer, hits: Sequence[Hit], **timings: float) -> None:
    """What the request's log line adds: the timings, the model, how many passages."""
    state = request.scope["state"]
    state["timings"].update(timings)
    state["model"] = answerer.model
    state["hits"] = len(hits)


@router.post("/ask", response_model=AskResponse, responses=ASK_ERROR_RESPONSES)
async def post_ask(*, body: AskRequest, request: Request) -> Response:
    """Answer a question from the documents, citing the passages it used as [n]."""
    services = services_of(request)
    retriever, answerer, request_id = services.retriever, services.answerer, request_id_of(request)
    started = time.perf_counter()
    hits = await _retrieve(body, retriever, services.settings)
    retrieved = time.perf_counter()
    if isinstance(answerer, ExtractiveAnswerer):  # CPU only, well under a millisecond
        answer = answerer.answer(body.question, hits, temperature=body.temperature)
    else:
        answer = await run_in_threadpool(
            partial(answerer.answer, body.question, hits, temperature=body.temperature)
        )
    done = time.perf_counter()
    timings = Timings(
        retrieve=_ms(retrieved - started), generate=_ms(done - retrieved), total=_ms(done - started)
    )
    _record(request, answerer, hits, retrieve=timings.retrieve, generate=timings.generate)
    response = AskResponse(
        answer=answer.text,
        sources=_sources(hits),
        model=answerer.model,
        usage=_usage(answer.usage),
        timings_ms=timings,
        request_id=request_id,
    )
    # Serialized here rather than by FastAPI, which would first validate the model just built
    # again: the same bytes, 5-10 µs sooner. response_model keeps the OpenAPI schema.
    return Response(_to_json(response), media_type="application/json")


async def _iterate(items: Iterator[StreamEvent], *, inline: bool) -> AsyncIterator[StreamEvent]:
    """A model's stream blocks on the network, so it is read in a worker thread; the
    extractive one is computed up front and is read in place."""
    if not inline:
        async for item in iterate_in_threadpool(items):
            yield item
        return
    for item in items:
        yield item


def _event(name: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(data_str=json.dumps(data, separators=(",", ":")), event=name)


@router.post(
    "/ask/stream",
    response_class=EventStreamResponse,
    responses=ASK_STREAM_RESPONSES,
)
async def post_ask_stream(*, body: AskRequest, request: Request) -> EventStreamResponse:
    """The same answer as /ask, streamed as it is generated (server-sent events)."""
    services = services_of(request)
    retriever, answerer, request_id = services.retriever, services.answerer, request_id_of(request)
    started = time.perf_counter()
    # Retrieval fails before any byte is sent, so its errors are ordinary JSON responses.
    hits = await _retrieve(body, retriever, services.settings)
    retrieved = time.perf_counter()

    sources = [source.model_dump() for source in _sources(hits)]

    async def events() -> AsyncIterator[bytes]:
        yield _event("sources", {"sources": sources, "request_id": request_id})
        stream = answerer.stream(body.question, hits, temperature=body.temperature)
        try:
            async for item in _iterate(stream, inline=isinstance(answerer, ExtractiveAnswerer)):
                if isinstance(item, Delta):
                    yield _event("delta", {"text": item.text})
                    continue
                done = time.perf_counter()
                timings = Timings(
                    retrieve=_ms(retrieved - started),
                    generate=_ms(done - retrieved),
                    total=_ms(done - started),
                )
                _record(
                    request, answerer, hits, retrieve=timings.retrieve, generate=timings.generate
                )
                final = StreamDone(
                    stop_reason=item.stop_reason,
                    usage=_usage(item.usage),
                    model=answerer.model,
                    timings_ms=timings,
                    request_id=request_id,
                )
                yield _event("done", final.model_dump())
        except ApiError as exc:
            request.scope["state"]["error"] = type(exc).__name__
            yield _event(
                "error", {**error_body(exc.message, request_id), "status": exc.status_code}
            )
        except Exception as exc:  # noqa: BLE001 (the stream has started: report, don't raise)
            request.scope["state"]["error"] = type(exc).__name__
            message = f"The answer failed midway; quote request id {request_id} when reporting it."
            yield _event("error", {**error_body(message, request_id), "status": 500})

    return EventStreamResponse(
        events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
