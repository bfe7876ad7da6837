"""The HTTP server: `python -m app.server [--host H] [--port P] [--proxy-headers]`.

The one place for the server's flags: the image's CMD and `make run` both start this, so a
laptop and a Fargate task bound clients and shut down the same way.

uvicorn with httptools (the fastest parser uvicorn has) bounds neither the size of a request
head nor the time a client takes to send it or its body: `--timeout-keep-alive` only closes
idle connections between requests, and the only size limit, `--h11-max-incomplete-event-size`,
belongs to the slower h11 parser (uvicorn's `config.py` and `protocols/http/httptools_impl.py`
at 0.54). Feeding httptools a 64 MiB header took 8.8 s here, with /health on other
connections stalled up to 4 s; 200 clients sending headers slowly were never timed out. So
this module adds what uvicorn lacks, on its own protocol class:

- a request head (request line and headers) over HTTP_MAX_HEADER_BYTES: 431, closed;
- a head not complete HTTP_HEADER_TIMEOUT_S after its first byte (or after the connection
  opened): 408, closed (a connection that sent nothing is closed without a word);
- a body not complete HTTP_BODY_TIMEOUT_S after the head: the app answers 408 while it waits
  for the body (app/api/middleware.py); a client still sending a body nobody reads is
  disconnected at the same deadline;
- at HTTP_MAX_CONNECTIONS open connections or requests in progress, uvicorn's
  `limit_concurrency`, answered with a JSON 503 + Retry-After instead of uvicorn's plain text.

None of these runs once the request has arrived: a response may stream for as long as the
model writes (API Gateway's integration timeout is the bound there).

Shutdown: on SIGTERM or SIGINT uvicorn stops accepting, closes idle connections and gives
requests in progress HTTP_SHUTDOWN_GRACE_S; what is still running then is cancelled, and a
request cancelled before its response started gets a JSON 503 (the middleware). The default
25 s fits inside ECS's default 30 s stopTimeout before SIGKILL.

Exit status: 0 after a shutdown on SIGTERM/SIGINT (in a container and in a shell alike;
uvicorn would re-raise the signal, which a container's PID 1 ignores but a shell reports as
143), 1 invalid settings (one line on stderr), 3 the app failed to start (uvicorn's
STARTUP_FAILURE: the port is taken, the store cannot be opened, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from app.api.errors import error_body
from app.api.middleware import SECURITY_HEADERS
from app.config import Settings
from app.logging import REQUEST_LOGGER, configure_logging, request_id_from

__all__ = ["KEEP_ALIVE_S", "ServerLimits", "main", "protocol_class"]

# uvicorn's default: an idle keep-alive connection is closed after 5 s.
KEEP_ALIVE_S = 5
# After answering 431/408 the rest of what the client sends is read and dropped for this
# long before closing: closing with unread data makes the kernel send a reset, which can
# destroy the answer before the client reads it (nginx's "lingering close").
_LINGER_S = 1.0
_log = logging.getLogger(REQUEST_LOGGER)


@dataclass(frozen=True)
class ServerLimits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    retry_after_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_header_bytes=settings.HTTP_MAX_HEADER_BYTES,
            header_timeout_s=settings.HTTP_HEADER_TIMEOUT_S,
            body_timeout_s=settings.HTTP_BODY_TIMEOUT_S,
            retry_after_s=settings.RETRY_AFTER_S,
        )


def _log_rejection(status: int, error: str, request_id: str) -> None:
    # The same fields as the middleware's request line, so one query finds every refusal.
    fields = {"request_id": request_id, "method": "-", "route": "-", "status": status}
    _log.info("request", extra={"fields": {**fields, "error": error}})


# What the middleware adds to every response the app sends, for the refusals written here
# before the app sees the request: one list of security headers (app/api/middleware.py).
_SECURITY = [
    (name.lower().encode(), value.encode())
    for name, value in {**SECURITY_HEADERS, "Cache-Control": "no-store"}.items()
]


def _json_response(status: int, message: str, request_id: str) -> bytes:
    body = json.dumps(error_body(message, request_id)).encode()
    head = [
        STATUS_LINE[status],
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"x-request-id: " + request_id.encode() + b"\r\n",
        *(name + b": " + value + b"\r\n" for name, value in _SECURITY),
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


def protocol_class(limits: ServerLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits` (uvicorn.Config(http=...) takes a class)."""

    async def overloaded(scope: Any, receive: Any, send: Any) -> None:
        request_id = request_id_from(scope["headers"])
        message = "The server is at its connection limit (HTTP_MAX_CONNECTIONS); retry shortly."
        body = json.dumps(error_body(message, request_id)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(limits.retry_after_s).encode()),
            (b"x-request-id", request_id.encode()),
            *_SECURITY,
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        _log_rejection(503, "ConnectionLimit", request_id)

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _in_head = True
        _head_bytes = 0
        _head_started = False
        _discarding = False
        _head_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._discarding:
                return
            if self._in_head:
                self._head_started = True
                room = limits.max_header_bytes - self._head_bytes
                if len(data) > room:
                    # Feed what fits: a head that ends within it is fine, whatever follows.
                    super().data_received(data[:room])
                    if self._in_head and not self.transport.is_closing():
                        self._reject(431, "HeaderTooLarge", self._too_large_message())
                    elif not self.transport.is_closing():
                        super().data_received(data[room:])
                    return
                self._head_bytes += len(data)
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_started = True
            self._arm_head_timer()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._head_started = False
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().on_headers_complete()
            self._body_timer = self.loop.call_later(
                limits.body_timeout_s + 0.5, self._body_timed_out
            )

        def on_message_complete(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            self._in_head = True  # what arrives next is the head of the next request
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            # Bytes that are not HTTP: JSON like every other error, not uvicorn's plain text.
            self._reject(400, "InvalidHttp", "The request is not valid HTTP/1.1.")

        def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
            # uvicorn answers its concurrency limit with a plain-text 503 of its own.
            super()._start_asgi_task(cycle, overloaded if app is service_unavailable else app)

        def _arm_head_timer(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    limits.header_timeout_s, self._head_timed_out
                )

        def _cancel_timers(self) -> None:
            for timer in (self._head_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._head_timer = self._body_timer = None

        def _too_large_message(self) -> str:
            return (
                f"The request's headers are larger than {limits.max_header_bytes} bytes "
                "(HTTP_MAX_HEADER_BYTES)."
            )

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or not self._in_head:
                return
            if not self._head_started:
                self.transport.close()  # never sent a byte: nothing to answer
                return
            message = (
                f"The request's headers did not arrive within {limits.header_timeout_s:g} s "
                "(HTTP_HEADER_TIMEOUT_S)."
            )
            self._reject(408, "HeaderTimeout", message)

        def _body_timed_out(self) -> None:
            # The app answers 408 itself while it waits for a body (half a second sooner);
            # this closes a connection whose client keeps sending a body nobody reads.
            self._body_timer = None
            if not self.transport.is_closing():
                _log_rejection(408, "BodyTimeout", "-")
                self.transport.close()

        def _reject(self, status: int, error: str, message: str) -> None:
            request_id = uuid.uuid4().hex
            self._cancel_timers()
            self._discarding = True
            self.transport.write(_json_response(status, message, request_id))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(_LINGER_S, self.transport.close)
            _log_rejection(status, error, request_id)

    return BoundedHttpToolsProtocol


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises a captured signal once it has shut down; a drained shutdown is a
        # success here, so the status is 0 in a shell (not 143) as it is in a container.
        self._captured_signals.clear()


def config(
    app: Any, settings: Settings, *, host: str, port: int, proxy_headers: bool
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(ServerLimits.from_settings(settings)),
        limit_concurrency=settings.HTTP_MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=settings.HTTP_SHUTDOWN_GRACE_S,
        # One worker per task (ECS scales tasks); the app logs one JSON line per request.
        workers=1,
        access_log=False,
        # X-Forwarded-* are trusted only from FORWARDED_ALLOW_IPS (the image sets the VPC's
        # private ranges: the peer is the internal NLB).
        proxy_headers=proxy_headers,
        lifespan="on",
    )


def main(argv: list[str] | None = None, *, app_factory: Callable[[], Any] | None = None) -> int:
    """`app_factory`: the app to serve instead of `app.main:app` (the bench adds one route to
    it), with the same flags, bounds and shutdown."""
    parser = argparse.ArgumentParser(prog="python -m app.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-* from FORWARDED_ALLOW_IPS"
    )
    args = parser.parse_args(argv)
    if app_factory is None:
        from app.main import app  # reads and checks the settings: exits 1 with one line if bad
    else:
        app = app_factory()

    settings: Settings = app.state.settings
    server = _Server(
        config(app, settings, host=args.host, port=args.port, proxy_headers=args.proxy_headers)
    )
    # uvicorn.Config has just installed uvicorn's plain-text log handlers: JSON again.
    configure_logging(settings.LOG_LEVEL)
    server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(main())
