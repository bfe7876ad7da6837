"""POST /ask and POST /ask/stream: retrieve the best passages, then answer from them.

The routes only await: where each call runs (in place, or in a worker thread within its
deadline) is the store's, Titan's and the answerer's own decision (`app.offload`).

A conversation (`messages`) is answered as its last turn: first the answerer turns it into a
standalone search query (one short model call, or the user's last questions without a
model), then the earlier turns go to the answerer with the passages. Every answer's
citations are checked against the passages retrieved (`app.answer.citations`), the same way
for /ask and, as the text arrives, for /ask/stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Send

from app.answer import BLOCKED, TRUNCATED, Answerer, Delta, Done, Turn
from app.answer.citations import Checked, CitationFilter, check
from app.api.deps import Services, services_of
from app.api.errors import (
    ASK_ERROR_RESPONSES,
    ASK_STREAM_RESPONSES,
    error_body,
    request_id_of,
)
from app.api.middleware import cause_logged
from app.api.rendering import event, ms, sources, usage
from app.errors import ApiError
from app.retrieval import Retrieved
from app.schemas import AskRequest, AskResponse, StreamDone, Timings
from app.store.base import Hit

router = APIRouter(tags=["ask"])


class _Last(bytes):
    """The stream's last events (`done` or `error`, with any delta held back before them)."""


class EventStreamResponse(StreamingResponse):
    """text/event-stream from a route that first retrieves, so that retrieval errors are
    ordinary JSON statuses (FastAPI's EventSourceResponse would make the whole route the
    stream, and every failure a 200).

    The last chunk (`_Last`) goes out with the end of the body in one message: uvicorn then
    writes it and the chunked terminator with one socket write instead of two; each write
    is a system call and, on loopback, the reader's wake-up too (about a tenth of the
    server's CPU per stream went to uvicorn's send).
    """

    media_type = "text/event-stream"

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        ended = False
        async for chunk in self.body_iterator:  # read to its end: its own cleanup runs now
            ended = isinstance(chunk, _Last)
            await send({"type": "http.response.body", "body": chunk, "more_body": not ended})
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


_to_json = AskResponse.__pydantic_serializer__.to_json


class _Clock:
    """Retrieval and generation times, for the response and the request's log line."""

    def __init__(self) -> None:
        self.started = self.retrieved = time.perf_counter()

    def retrieval_done(self) -> None:
        self.retrieved = time.perf_counter()

    def timings(self, request: Request, answerer: Answerer, hits: Sequence[Hit]) -> Timings:
        done = time.perf_counter()
        timings = Timings(
            retrieve=ms(self.retrieved - self.started),
            generate=ms(done - self.retrieved),
            total=ms(done - self.started),
        )
        state = request.scope["state"]
        state["timings"].update(retrieve=timings.retrieve, generate=timings.generate)
        state["model"], state["hits"] = answerer.model, len(hits)
        return timings


class _Asked:
    """The question to answer, the turns before it and what to search the documents with."""

    def __init__(self, body: AskRequest) -> None:
        self.question = body.asked
        self.history = [Turn(m.role, m.content) for m in body.history]
        self.query = self.question

    async def rewrite(self, answerer: Answerer) -> _Asked:
        if self.history:  # a model call at most, counted in the retrieval time
            self.query = await answerer.search_query(self.history, self.question)
        return self


async def _retrieve(services: Services, body: AskRequest, query: str) -> Retrieved:
    await services.retriever.acheck_documents(body.documents)  # 422 for an unknown name
    return await services.retriever.aretrieve(
        query, top_k=body.top_k, mode=body.mode, documents=body.documents
    )


def _outcome(request: Request, stop_reason: str, checked: Checked, query: str) -> dict[str, object]:
    """The fields /ask's response and the stream's `done` share; how the answer ended goes in
    the request's log line too (app.api.middleware)."""
    ended = {
        "stop_reason": stop_reason,
        "truncated": stop_reason in TRUNCATED,
        "blocked": stop_reason in BLOCKED,
    }
    request.scope["state"].update(ended)
    return {
        "cited": checked.cited,
        "citations_removed": checked.removed,
        **ended,
        "search_query": query,
    }


@router.post("/ask", response_model=AskResponse, responses=ASK_ERROR_RESPONSES)
async def post_ask(*, body: AskRequest, request: Request) -> Response:
    """Answer a question from the documents, citing the passages it used as [n]."""
    services, clock = services_of(request), _Clock()
    with cause_logged(request):
        asked = await _Asked(body).rewrite(services.answerer)
        retrieved = await _retrieve(services, body, asked.query)
        hits = retrieved.hits
        clock.retrieval_done()
        answer = await services.answerer.answer(
            asked.question, hits, temperature=body.temperature, history=asked.history
        )
    checked = check(answer.text, len(hits))
    response = AskResponse(
        answer=checked.text,
        sources=sources(hits),
        **_outcome(request, answer.stop_reason, checked, asked.query),  # type: ignore[arg-type]
        model=services.answerer.model,
        mode=retrieved.mode,
        usage=usage(answer.usage),
        timings_ms=clock.timings(request, services.answerer, hits),
        request_id=request_id_of(request),
    )
    # Serialized here rather than by FastAPI, which would first validate the model just built
    # again: the same bytes, 5-10 µs sooner. response_model keeps the OpenAPI schema.
    return Response(_to_json(response), media_type="application/json")


@router.post(
    "/ask/stream",
    response_class=EventStreamResponse,
    responses=ASK_STREAM_RESPONSES,
)
async def post_ask_stream(*, body: AskRequest, request: Request) -> EventStreamResponse:
    """The same answer as /ask, streamed as it is generated (server-sent events)."""
    services, clock = services_of(request), _Clock()
    with cause_logged(request):  # retrieval fails before any byte: an ordinary JSON status
        asked = await _Asked(body).rewrite(services.answerer)
        retrieved = await _retrieve(services, body, asked.query)
    clock.retrieval_done()
    return EventStreamResponse(
        _events(request, services.answerer, body, asked, retrieved, clock),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    answerer: Answerer,
    body: AskRequest,
    asked: _Asked,
    retrieved: Retrieved,
    clock: _Clock,
) -> AsyncIterator[bytes]:
    request_id, hits = request_id_of(request), retrieved.hits
    yield event(
        "sources", {"sources": [s.model_dump() for s in sources(hits)], "request_id": request_id}
    )
    # Checked as it arrives: a citation is held back until it is whole, and one that names
    # no source is never sent (the text is the one /ask would return).
    citations = CitationFilter(len(hits))
    stream = answerer.stream(
        asked.question, hits, temperature=body.temperature, history=asked.history
    )
    try:
        # Closed here even when the asker leaves midway, so the model's connection goes at
        # once rather than when the garbage collector finds the generator.
        async with aclosing(stream):
            async for item in stream:
                if isinstance(item, Delta):
                    if text := citations.feed(item.text):
                        yield event("delta", {"text": text})
                elif isinstance(item, Done):
                    checked = citations.finish()
                    # What was held back and `done` leave together: one send, one write.
                    held = event("delta", {"text": checked.text}) if checked.text else b""
                    final = StreamDone(
                        **_outcome(request, item.stop_reason, checked, asked.query),  # type: ignore[arg-type]
                        usage=usage(item.usage),
                        model=answerer.model,
                        mode=retrieved.mode,
                        timings_ms=clock.timings(request, answerer, hits),
                        request_id=request_id,
                    )
                    yield _Last(held + event("done", final.model_dump()))
    except ApiError as exc:
        request.scope["state"]["error"] = type(exc).__name__
        error = {**error_body(exc.message, request_id), "status": exc.status_code}
        yield _Last(event("error", error))
    except Exception as exc:  # noqa: BLE001 (the stream has started: report, don't raise)
        request.scope["state"]["error"] = type(exc).__name__
        message = f"The answer failed midway; quote request id {request_id} when reporting it."
        yield _Last(event("error", {**error_body(message, request_id), "status": 500}))
