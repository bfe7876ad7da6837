"""Shared fixtures of tests/app. Each owner keeps a block; add yours below the others."""

from __future__ import annotations

# ============================================================================================
# API (app/main.py, app/api/): the real server on loopback (the plumbing: tests/servers.py).
#   live_server(app) -> LiveServer    uvicorn in a thread on 127.0.0.1, random port
#   sample_docs                       the docs/sample folder
#   sample_settings                   Settings on a fresh tmp store with docs/sample ingested
#   sample_server                     one LiveServer over the sample, shared (session)
#   ingest_sample(settings)           ingest docs/sample with the ingestion CLI's main()
#   parse_sse(text)                   a text/event-stream body -> [(event, data), ...]
#   fake_bedrock                      bedrock-runtime on loopback, for a real boto3 client
#   boto3_pointed_at(url)             boto3's environment pointed at a loopback bedrock-runtime
#   request_log                       the fields of every request log line written meanwhile
# ============================================================================================
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.logging import REQUEST_LOGGER
from tests.bedrock_standin import stream_event, stream_exception
from tests.servers import (
    SAMPLE_DOCS,
    HTTPServerThread,
    LiveServer,
    QuietHandler,
    serve,
)
from tests.servers import (
    ingest_sample as _ingest_sample,
)
from tests.servers import (
    sample_settings as _sample_settings,
)


@pytest.fixture
def live_server() -> Iterator[Callable[[FastAPI], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: FastAPI) -> LiveServer:
        servers.append(LiveServer(app).start())
        return servers[-1]

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def ingest_sample() -> Callable[[Settings], None]:
    return _ingest_sample


@pytest.fixture
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture
def sample_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh store in tmp_path with docs/sample ingested (extractive, no AWS)."""
    return _sample_settings(tmp_path / "store")


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server over the ingested sample for the tests that only read (most of them)."""
    from app.main import create_app

    settings = _sample_settings(tmp_path_factory.mktemp("sample-store"))
    with serve(create_app(settings)) as server:
        yield server


def _parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a text/event-stream body (https://html.spec.whatwg.org/#event-stream-interpretation)."""
    events: list[tuple[str, dict[str, Any]]] = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


@pytest.fixture
def parse_sse() -> Callable[[str], list[tuple[str, dict[str, Any]]]]:
    return _parse_sse


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]


class FakeBedrock:
    """A loopback HTTP server speaking bedrock-runtime's wire format to a real boto3 client
    (AWS_ENDPOINT_URL_BEDROCK_RUNTIME points the client here). It answers each request with
    the next scripted Reply, the last one repeating, and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                fake.seen.append(Seen(self.path, dict(self.headers), self.read_json()))
                reply = fake.replies[min(len(fake.seen), len(fake.replies)) - 1]
                self.reply(reply.status, reply.body, reply.headers)

        self._server = HTTPServerThread(Handler)
        self.url = self._server.url

    event = staticmethod(stream_event)
    exception = staticmethod(stream_exception)

    def reply_stream(self, frames: list[bytes]) -> None:
        self.replies.append(
            Reply(200, b"".join(frames), {"content-type": "application/vnd.amazon.eventstream"})
        )

    def reply_json(self, payload: dict[str, Any]) -> None:
        self.replies.append(
            Reply(200, json.dumps(payload).encode(), {"content-type": "application/json"})
        )

    def reply_error(self, status: int, code: str, message: str) -> None:
        self.replies.append(
            Reply(
                status,
                json.dumps({"message": message}).encode(),
                {
                    "content-type": "application/json",
                    "x-amzn-ErrorType": f"{code}:http://internal/",
                },
            )
        )

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def boto3_pointed_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], None]:
    """Point the environment boto3 reads at a loopback bedrock-runtime, with dummy
    credentials and no real AWS configuration (for this test only)."""

    def point(url: str) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))

    return point


@pytest.fixture
def fake_bedrock(boto3_pointed_at: Callable[[str], None]) -> Iterator[FakeBedrock]:
    """A FakeBedrock, with the environment boto3 reads pointed at it."""
    fake = FakeBedrock()
    boto3_pointed_at(fake.url)
    yield fake
    fake.close()


@pytest.fixture
def request_log() -> Iterator[list[dict[str, Any]]]:
    """The fields of every request log line written meanwhile."""
    lines: list[dict[str, Any]] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.fields)  # type: ignore[method-assign,attr-defined]
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


# ============================================================================================
# (other owners' fixtures below this line)
# ============================================================================================


# ============================================================================================
# Checked answers and follow-ups (issue 14 items 2 and 5)
#   model_standin                     tests/bedrock_standin.py's SlowBedrock, answering at once
#                                     and recording every call, with boto3 pointed at it
# ============================================================================================
@pytest.fixture
def model_standin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    from tests.bedrock_standin import SlowBedrock, Timing

    standin = SlowBedrock(
        Timing(converse_s=0, first_token_s=0, stream_s=0, deltas=1, invoke_s=0), record=True
    )
    with serve(standin) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        yield standin
