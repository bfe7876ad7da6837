"""The loopback servers the tests start, in one place (tests/app, tests/deploy, the bench).

    free_port()              a port on 127.0.0.1 nobody listens on (bound, then closed again)
    silent_port()            a port that accepts connections and never answers (context manager)
    LiveServer(app)          uvicorn serving an ASGI app from a thread; start() waits until it
                             answers, stop() shuts it down cleanly
    serve(app)               the same as a context manager, for module- or session-scoped fixtures
    HTTPServerThread(h)      a stdlib ThreadingHTTPServer for handler class `h`, from a thread
    QuietHandler             a BaseHTTPRequestHandler that logs nothing and replies in one call
    wait_until_answers(...)  poll a server subprocess's URL until it answers
    sample_settings(path)    Settings on an embedded store at `path` with docs/sample ingested

Everything binds 127.0.0.1 only: no test reaches beyond the machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from app.config import Settings

LOOPBACK = "127.0.0.1"
SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "docs" / "sample"


def free_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@contextmanager
def silent_port(backlog: int = 16) -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(backlog)
        yield int(listener.getsockname()[1])


class LiveServer:
    """`uvicorn.Server` serving `app` from a thread, on a socket bound to 127.0.0.1:0 (binding
    first means the port is known, and taken, before uvicorn starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> LiveServer:
        """Returns once uvicorn listens and the app's lifespan start-up has run."""
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start (see the log above)")
            time.sleep(0.01)
        return self

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(15)
        self._socket.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextmanager
def serve(app: ASGIApp) -> Iterator[LiveServer]:
    """`LiveServer(app)`, started, and stopped on the way out."""
    with LiveServer(app) as server:
        yield server


def wait_until_answers(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    timeout: float,
    status: int | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `url`, served by `process`, until it answers (with `status`, when one is given).
    RuntimeError when the process exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            try:
                answered = client.get(url).status_code
            except httpx.TransportError:
                answered = None
            if answered is not None and status in (None, answered):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer {url} within {timeout:g} s")
            time.sleep(interval)


class QuietHandler(BaseHTTPRequestHandler):
    """A handler for fakes of HTTP APIs: no access log on stderr, a JSON body in, a reply out."""

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(length) or b"{}")

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        self.reply(status, json.dumps(payload).encode(), headers)


class HTTPServerThread:
    """A stdlib `ThreadingHTTPServer` on 127.0.0.1:0 serving `handler` from a daemon thread; it
    serves as soon as it is made. `close()` (or leaving the `with`) shuts it down."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> HTTPServerThread:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def ingest_sample(settings: Settings) -> None:
    """docs/sample into the store of `settings`, through the ingestion CLI's own main()."""
    from app.ingest.__main__ import main

    assert main([str(SAMPLE_DOCS)], settings=settings) == 0


def sample_settings(store: Path, **environ: str) -> Settings:
    """Settings on a fresh embedded store at `store` with docs/sample ingested: the extractive
    answerer and no AWS, whatever the process environment says (`environ` adds settings).
    Ingesting the sample takes well under a second; copying a store would take longer."""
    settings = Settings.from_env({**environ, "QDRANT_PATH": str(store)})
    ingest_sample(settings)
    return settings
