"""Every error path of the API on a real server: each answers JSON {"error", "request_id"}
with the status the OpenAPI document promises, and never a stack trace."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import qdrant_edge as qe
from fastapi import FastAPI

from app.config import Settings
from app.logging import REQUEST_LOGGER
from app.main import create_app
from app.store import EmbeddedStore
from app.store.base import CollectionInfo, Hit, Mode, Point, Query
from tests.servers import free_port, silent_port

Serve = Callable[[FastAPI], Any]
QUESTION = {"question": "How do I roll back a release?"}


@pytest.fixture
def api(sample_server: Any) -> Iterator[httpx.Client]:
    with sample_server.client() as client:
        yield client


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["error"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({}, "question", "Field required"),
        ({"question": ""}, "question", "at least 1 character"),
        ({"question": "   "}, "question", "at least 1 character"),
        ({"question": "x" * 2001}, "question", "at most 2000 characters"),
        ({**QUESTION, "top_k": 0}, "top_k", "greater than or equal to 1"),
        ({**QUESTION, "top_k": 21}, "top_k", "less than or equal to 20"),
        ({**QUESTION, "temperature": 1.5}, "temperature", "less than or equal to 1"),
        ({**QUESTION, "mode": "fuzzy"}, "mode", "'hybrid', 'dense' or 'sparse'"),
        ({**QUESTION, "documents": "rollback.md"}, "documents", "valid list"),
        ({**QUESTION, "colour": "blue"}, "body", "has a field the request does not have"),
        # No coercion: a JSON number is the only top_k or temperature.
        ({**QUESTION, "temperature": False}, "temperature", "JSON number"),
        ({**QUESTION, "temperature": "0.5"}, "temperature", "JSON number"),
        ({**QUESTION, "top_k": "4"}, "top_k", "JSON number"),
        ({**QUESTION, "top_k": True}, "top_k", "JSON number"),
        ({**QUESTION, "top_k": 4.5}, "top_k", "valid integer"),
    ],
)
def test_invalid_fields_get_422_naming_field_and_reason(
    api: httpx.Client, payload: dict[str, Any], field: str, reason: str
) -> None:
    for route in ("/ask", "/ask/stream"):
        body = _assert_error(api.post(route, json=payload), 422)
        assert {"field": field, "reason": body["fields"][0]["reason"]} in body["fields"]
        assert reason in body["fields"][0]["reason"]
        assert field in body["error"]


def test_malformed_json_gets_422_and_is_not_echoed(api: httpx.Client) -> None:
    secret_looking = b'{"question": "sk-ABCDEF-secret", '
    response = api.post(
        "/ask", content=secret_looking, headers={"content-type": "application/json"}
    )

    body = _assert_error(response, 422)
    assert body["fields"][0]["field"] == "body"
    assert "not valid JSON" in body["error"]
    assert "sk-ABCDEF" not in response.text


def test_json_numbers_stay_numbers(api: httpx.Client) -> None:
    # JSON Schema's "integer" includes 12.0, and 1 is a number: the document and the server agree.
    response = api.post("/ask", json={**QUESTION, "temperature": 1, "top_k": 3.0})
    assert response.status_code == 200
    assert len(response.json()["sources"]) == 3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"question": "caf\xe9 \xff\xfe"}', "not valid UTF-8"),
        (b'{"question": "x", "documents": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested"),
    ],
    ids=["invalid-utf8", "nesting-20000"],
)
def test_a_body_json_cannot_read_gets_422_not_400(
    api: httpx.Client, content: bytes, reason: str
) -> None:
    for route in ("/ask", "/ask/stream"):
        response = api.post(route, content=content, headers={"content-type": "application/json"})
        body = _assert_error(response, 422)
        assert body["fields"] == [{"field": "body", "reason": body["fields"][0]["reason"]}]
        assert reason in body["error"]


def test_rejected_input_is_never_echoed(api: httpx.Client) -> None:
    name = "n" * 60_000
    unknown = api.post("/ask", json={**QUESTION, name: 1, "other": 2})
    missing = api.get("/nope-" + "p" * 500)

    body = _assert_error(unknown, 422)
    assert name[:50] not in unknown.text
    assert "other" not in unknown.text
    assert len(unknown.content) < 1000
    assert body["fields"] == [
        {
            "field": "body",
            "reason": "has a field the request does not have (its fields are in /openapi.json)",
        }
    ]
    assert "ppppp" not in missing.text
    assert "/openapi.json" in _assert_error(missing, 404)["error"]


def test_only_api_gateways_request_id_is_trusted(api: httpx.Client) -> None:
    gateway = api.get("/health", headers={"x-gateway-request-id": "gw-42", "x-request-id": "c"})
    spoofed = api.get("/health", headers={"x-amzn-requestid": "someone-elses-id"})
    own = api.get("/health", headers={"x-request-id": "client-chosen"})
    unsafe = api.get("/health", headers={"x-gateway-request-id": "bad id\twith spaces"})

    assert gateway.headers["x-request-id"] == "gw-42"
    for response in (spoofed, own, unsafe):
        generated = response.headers["x-request-id"]
        assert generated not in {"someone-elses-id", "client-chosen"}
        assert len(generated) == 32
        int(generated, 16)


def test_body_over_the_limit_gets_413_by_content_length(api: httpx.Client) -> None:
    big = json.dumps({"question": "x" * (64 * 1024)})

    body = _assert_error(api.post("/ask", content=big), 413)

    assert "65536" in body["error"]


def test_chunked_body_over_the_limit_gets_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield b'{"question": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    response = api.post("/ask", content=chunks(), headers={"content-type": "application/json"})

    assert "content-length" not in response.request.headers
    assert _assert_error(response, 413)["error"].startswith("The request body is larger")


def test_limit_follows_the_setting(sample_settings: Settings, live_server: Serve) -> None:
    settings = sample_settings.model_copy(update={"MAX_BODY_BYTES": 1024})
    with live_server(create_app(settings)).client() as client:
        small_enough = client.post("/ask", json={"question": "roll back " * 50})
        too_big = client.post("/ask", json={"question": "roll back " * 150})
    assert small_enough.status_code == 200
    assert "1024" in _assert_error(too_big, 413)["error"]


def test_unknown_route_and_method_get_json(api: httpx.Client) -> None:
    assert "No such route" in _assert_error(api.get("/nope"), 404)["error"]
    _assert_error(api.get("/ask"), 405)


@pytest.fixture(name="silent_port")
def _silent_port() -> Iterator[int]:
    with silent_port() as port:
        yield port


@pytest.mark.parametrize("port_kind", ["closed", "silent"])
def test_store_down_gets_503_within_the_timeout(
    port_kind: str, live_server: Serve, request: pytest.FixtureRequest
) -> None:
    port = free_port() if port_kind == "closed" else request.getfixturevalue("silent_port")
    timeout = 0.5  # qdrant-client rounds its own up to 1 s: only our deadline can beat that
    settings = Settings.from_env(
        {"QDRANT_URL": f"http://127.0.0.1:{port}", "QDRANT_TIMEOUT_S": str(timeout)}
    )
    with live_server(create_app(settings)).client() as client:
        started = time.monotonic()
        ask = client.post("/ask", json=QUESTION)
        elapsed = time.monotonic() - started
        ready = client.get("/ready")
        info = client.get("/collectioninfo")
        health = client.get("/health")

    body = _assert_error(ask, 503)
    assert "vector store" in body["error"]
    assert ask.headers["retry-after"] == str(settings.RETRY_AFTER_S)
    # The promise is the configured timeout; allow scheduling slack, not the client's 1 s.
    assert elapsed < timeout + 0.45
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert "unavailable" in ready.json()["reason"]
    _assert_error(info, 503)
    assert health.status_code == 200


class _BrokenStore:
    """A store whose search fails in a way no handler expects (a bug, not an outage)."""

    def ensure_collection(self, *, dense_size: int | None, recreate: bool = False) -> None:
        return None

    def upsert(self, points: Sequence[Point]) -> None:
        return None

    def search(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        raise RuntimeError("payload for doc 'secret plans.md' is corrupt")

    async def asearch(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        return self.search(query, top_k=top_k, mode=mode, documents=documents)

    def dense_size(self) -> int | None:
        return None

    async def adense_size(self) -> int | None:
        return None

    def info(self) -> CollectionInfo:
        return CollectionInfo(name="documents", points=1, documents=["a.md"], dense_size=None)

    def close(self) -> None:
        return None


def test_unexpected_failure_gets_500_without_details(live_server: Serve) -> None:
    logger = logging.getLogger(REQUEST_LOGGER)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        app = create_app(Settings.from_env({}), store=_BrokenStore())
        with live_server(app).client() as client:
            response = client.post(
                "/ask", json=QUESTION, headers={"x-gateway-request-id": "boom-1"}
            )
            stream = client.post("/ask/stream", json=QUESTION)
    finally:
        logger.removeHandler(handler)

    body = _assert_error(response, 500)
    assert "boom-1" in body["error"]
    assert "secret plans" not in response.text
    _assert_error(stream, 500)
    (line,) = [r.fields for r in records if r.fields["request_id"] == "boom-1"]  # type: ignore[attr-defined]
    assert line["status"] == 500
    assert line["error"] == "RuntimeError"
    assert "secret plans" not in json.dumps(line)


def test_invalid_settings_stop_the_process_with_one_line_and_no_secret() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ENVIRONMENT": "prod",
        "QDRANT_URL": "https://reader:hunter2@qdrant.internal:6333",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )

    assert result.returncode == 1
    assert "QDRANT_API_KEY is missing" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_log_lines_name_an_exception_without_its_traceback() -> None:
    from app.logging import JsonFormatter

    try:
        raise ValueError("lifespan could not open the store")
    except ValueError:
        record = logging.LogRecord("uvicorn.error", logging.ERROR, "-", 1, "failed", None, None)
        record.exc_info = sys.exc_info()

    line = JsonFormatter().format(record)

    assert json.loads(line)["error"] == "ValueError: lifespan could not open the store"
    assert "Traceback" not in line
    assert "\n" not in line


def test_a_locked_store_gets_503_and_the_log_line_names_the_cause(
    sample_settings: Settings, live_server: Serve, request_log: list[dict[str, Any]]
) -> None:
    # Another process holding the embedded store (an ingestion, a second server) locks it;
    # a second open in this process meets the same lock.
    holder = EmbeddedStore(sample_settings.QDRANT_PATH, sample_settings.QDRANT_COLLECTION)
    holder.info()
    try:
        with live_server(create_app(sample_settings)).client() as client:
            answers = [client.post(path, json=QUESTION) for path in ("/ask", "/ask/stream")]
    finally:
        holder.close()

    for response in answers:
        body = _assert_error(response, 503)
        assert "unavailable" in body["error"]
        assert response.headers["retry-after"] == str(sample_settings.RETRY_AFTER_S)
    causes = [line.get("error") for line in request_log if line["status"] == 503]
    assert causes == ["StoreUnavailable", "StoreUnavailable"]


def test_health_answers_while_the_store_hangs_opening(
    sample_settings: Settings,
    live_server: Serve,
    monkeypatch: pytest.MonkeyPatch,
    request_log: list[dict[str, Any]],
) -> None:
    # The store's open is held until the test lets it go (a disk or lock that does not
    # answer). /ask waits on it; the event loop must not: /health, the liveness check the
    # load balancer polls, still answers at once.
    entered, release = threading.Event(), threading.Event()
    real_load = qe.EdgeShard.load

    def stuck_load(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(qe.EdgeShard, "load", stuck_load)
    settings = sample_settings.model_copy(update={"QDRANT_TIMEOUT_S": 1.0})
    server = live_server(create_app(settings))
    with ThreadPoolExecutor(1) as pool, server.client() as client:
        asked = pool.submit(client.post, "/ask", json=QUESTION)
        assert entered.wait(10), "/ask never opened the store"
        try:
            health = httpx.get(f"{server.url}/health", timeout=0.5)
        finally:
            answer = asked.result(timeout=10)  # the deadline (1 s) answers it meanwhile
            release.set()

    assert health.status_code == 200
    body = _assert_error(answer, 503)
    assert "vector store did not answer within 1 s" in body["error"]
    assert [line.get("error") for line in request_log if line["status"] == 503] == [
        "StoreTimeoutError"
    ]
