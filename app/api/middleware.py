"""The one middleware every request passes: request id, body limit and deadline, security
headers, and the request's log line. Pure ASGI (no BaseHTTPMiddleware) so it costs microseconds and
leaves streaming responses alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_body
from app.errors import ApiError, BodyTooLargeError, RequestTimeoutError, StoreError
from app.logging import REQUEST_LOGGER, request_id_from

__all__ = ["SECURITY_HEADERS", "RequestMiddleware", "cause_logged"]

# The page ships its own script and stylesheet files (no inline code, no CDN), so the policy
# can forbid everything else. connect-src 'self' covers fetch() to /ask and /ask/stream.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_log = logging.getLogger(REQUEST_LOGGER)
# Answers after which the connection must close: the client may still be sending a body
# nobody will read.
_CLOSE_AFTER = frozenset({408, 413})


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float, retry_after_s: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.retry_after = (b"retry-after", str(retry_after_s).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        timings: dict[str, float] = {}
        state["timings"] = timings
        response: dict[str, Any] = {"status": 500, "started": False}
        limit = self.max_body_bytes
        received = 0
        body_deadline = started + self.body_timeout_s
        body_done = False

        logged = False

        def log_line() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            route = scope.get("route")
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                # The route's template (/ask), or the raw path when no route matched.
                "route": getattr(route, "path", None) or scope["path"][:200],
                "status": response["status"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                **{f"{name}_ms": value for name, value in timings.items()},
            }
            # How the answer ended (app.api.ask): the same values as the response's fields.
            for key in ("error", "model", "hits", "stop_reason", "truncated", "blocked"):
                if key in state:
                    fields[key] = state[key]
            _log.info("request", extra={"fields": fields})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")
                if message["status"] in _CLOSE_AFTER:
                    headers["Connection"] = "close"
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Logged before the last byte leaves: once a client has its answer, the line
                # is already written (a caller reading the log right after sees it).
                log_line()
            await send(message)

        async def receive_limited() -> Message:
            # Counts what arrives, so a chunked body (no Content-Length) is bounded too; and
            # bounds the time it takes. Once the body is in, receive() only waits for the
            # client to leave (a streamed answer listens for that): no deadline then.
            nonlocal received, body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(
                    receive(), max(body_deadline - time.perf_counter(), 0)
                )
            except TimeoutError:
                raise RequestTimeoutError(self.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
                body_done = not message.get("more_body", False)
            return message

        try:
            if _content_length(scope) > limit:
                await _send_json(
                    send_with_headers, 413, BodyTooLargeError(limit).detail, request_id
                )
            else:
                await self.app(scope, receive_limited, send_with_headers)
        except asyncio.CancelledError:
            # The graceful shutdown ran out (app/server.py) while this request was in
            # progress. Say so in JSON (uvicorn would answer plain text), then let it end.
            state["error"] = "ShutdownTimeout"
            if not response["started"]:
                message = "The server is shutting down; retry the request."
                await _send_json(send_with_headers, 503, message, request_id, self.retry_after)
            raise
        except Exception as exc:  # noqa: BLE001 (the last line: answer JSON, never a trace)
            # Handlers cover every error we expect; this is the last line, and it logs the
            # exception's type only (a message or traceback could hold document text).
            state["error"] = type(exc).__name__
            if not response["started"]:
                message = f"Internal error; quote request id {request_id} when reporting it."
                await _send_json(send_with_headers, 500, message, request_id)
        finally:
            log_line()


@contextmanager
def cause_logged(request: Request) -> Iterator[None]:
    """The request's log line names the error a route answers with (StoreUnavailable for a
    locked or unreachable store, StoreTimeoutError, CollectionMissing, ...): the error
    handlers answer it, so the status alone would not tell on-call which one."""
    try:
        yield
    except (ApiError, StoreError) as exc:
        request.scope.setdefault("state", {})["error"] = type(exc).__name__
        raise


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _send_json(
    send: Send, status: int, message: str, request_id: str, *extra: tuple[bytes, bytes]
) -> None:
    body = json.dumps(error_body(message, request_id)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
