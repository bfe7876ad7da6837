"""Fixtures of tests/app. The real server on loopback (the plumbing: tests/servers.py):
live_server(app) -> LiveServer    uvicorn in a thread on 127.0.0.1, random port
sample_docs                       the docs/sample folder
sample_settings                   Settings on a fresh tmp store with docs/sample ingested
sample_server                     one LiveServer over the sample, shared (session)
sample_retriever                  a Retriever over docs/sample, ingested once per test module
ingest_sample(settings)           ingest docs/sample with the ingestion CLI's main()
parse_sse(text)                   a text/event-stream body -> [(event, data), ...] (sse.py)
fake_bedrock                      bedrock-runtime on loopback (bedrock_fake.py), for a real
                                  boto3 client
boto3_pointed_at(url)             boto3's environment pointed at a loopback bedrock-runtime
request_log                       the fields of every request log line written meanwhile
model_standin                     tests/bedrock_standin.py's SlowBedrock, answering at once
                                  and recording every call, with boto3 pointed at it
standin_served(timing, **options) a SlowBedrock(timing, **options) on loopback, with the
                                  AWS clients' environment pointed at it
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.logging import REQUEST_LOGGER
from app.retrieval import Retriever, build_retriever
from app.store import open_store
from tests.app import sse
from tests.app.bedrock_fake import FakeBedrock
from tests.bedrock_standin import SlowBedrock, Timing
from tests.servers import (
    SAMPLE_DOCS,
    LiveServer,
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


@pytest.fixture(scope="module")
def sample_retriever(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retriever]:
    settings = _sample_settings(tmp_path_factory.mktemp("sample-retriever"))
    store = open_store(settings)
    yield build_retriever(settings, store)
    store.close()


@pytest.fixture
def parse_sse() -> Callable[[str], list[tuple[str, dict[str, Any]]]]:
    return sse.parse_sse


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


@pytest.fixture
def standin_served(
    boto3_pointed_at: Callable[[str], None],
) -> Iterator[Callable[..., SlowBedrock]]:
    with ExitStack() as servers:

        def start(timing: Timing, **options: Any) -> SlowBedrock:
            standin = SlowBedrock(timing, **options)
            boto3_pointed_at(servers.enter_context(serve(standin)).url)
            return standin

        yield start


@pytest.fixture
def model_standin(standin_served: Callable[..., SlowBedrock]) -> SlowBedrock:
    timing = Timing(converse_s=0, first_token_s=0, stream_s=0, deltas=1, invoke_s=0)
    return standin_served(timing, record=True)
