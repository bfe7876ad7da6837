"""A tiny stand-in for API Gateway + qa-service on loopback, to make the smoke test fail on cue.

`mode` picks what /ask does: `ok`, `error` (HTTP 500), `no-sources`, `slow` (answers after
`delay` seconds), `open` (answers without the key too: a gateway without api_key_required),
`empty` (the service's 503 before anything was ingested).
`/health` and `/` answer like the service (`/health` reports `image`, None unless set);
`fail_first` makes the first N requests answer 503, like the seconds right after a rollout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

KEY_HEADER = "x-api-key"


@dataclass
class Behaviour:
    mode: str = "ok"
    api_key: str | None = None
    delay: float = 0.0
    fail_first: int = 0
    image: str | None = None
    requests: list[str] = field(default_factory=list)


def build(behaviour: Behaviour, stage: str) -> Starlette:
    def early_failure(request: Request) -> Response | None:
        behaviour.requests.append(f"{request.method} {request.url.path}")
        if behaviour.fail_first > 0:
            behaviour.fail_first -= 1
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        return None

    async def health(request: Request) -> Response:
        return early_failure(request) or JSONResponse({"status": "ok", "image": behaviour.image})

    async def page(request: Request) -> Response:
        html = "<!doctype html><html><body><form><textarea></textarea></form></body></html>"
        return early_failure(request) or HTMLResponse(html)

    async def ask(request: Request) -> Response:
        if (failure := early_failure(request)) is not None:
            return failure
        key = request.headers.get(KEY_HEADER)
        if behaviour.api_key and behaviour.mode != "open" and key != behaviour.api_key:
            return JSONResponse({"message": "Forbidden"}, status_code=403)
        body = await request.json()
        if behaviour.mode == "empty":
            message = "Nothing has been ingested yet: run `python -m app.ingest <files>`"
            return JSONResponse({"error": message, "request_id": "r1"}, status_code=503)
        if behaviour.mode == "error":
            return JSONResponse({"error": "internal error", "request_id": "r1"}, status_code=500)
        if behaviour.mode == "slow":
            await asyncio.sleep(behaviour.delay)
        sources = (
            []
            if behaviour.mode == "no-sources"
            else [
                {"document": "runbook.md", "page": None, "chunk": 0, "score": 0.9, "snippet": "..."}
            ]
        )
        answer = (
            "I don't know from these documents."
            if not sources
            else f"About '{body['question']}': see [1]."
        )
        return JSONResponse({"answer": answer, "sources": sources, "model": "extractive"})

    routes = [
        Route("/health", health),
        Route("/", page),
        Route("/ask", ask, methods=["POST"]),
    ]
    return Starlette(routes=[Mount(stage, routes=routes)] if stage else routes)
