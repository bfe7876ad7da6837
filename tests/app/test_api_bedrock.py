"""The API in Bedrock mode on a real server: answers and usage from Converse, the stream from
ConverseStream's event-stream, and throttling (after botocore's retries) as 503 + Retry-After,
before or in the middle of a stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.bedrock_standin import SlowBedrock, Timing

Serve = Callable[[FastAPI], Any]
Events = Callable[[str], list[tuple[str, dict[str, Any]]]]
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
QUESTION = {"question": "How do I roll back a release?", "temperature": 0.3}
# The start of the system prompt Bedrock must be sent (test_bedrock_answerer has it whole).
SYSTEM_START = "You answer questions about a team's documents. The user's message has two parts"


def _bedrock(settings: Settings, **extra: str | int) -> Settings:
    update = {"AWS_REGION": "us-east-1", "BEDROCK_MODEL_ID": MODEL, "BEDROCK_MAX_ATTEMPTS": 2}
    return settings.model_copy(update={**update, **extra})


def test_ask_answers_with_the_model_and_reports_usage(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any
) -> None:
    fake_bedrock.reply_json(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Roll back [1]."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 500, "outputTokens": 5, "totalTokens": 505},
            "metrics": {"latencyMs": 300},
        }
    )
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post("/ask", json=QUESTION)

    assert response.status_code == 200
    body = response.json()
    assert body["answer"] == "Roll back [1]."
    assert body["model"] == MODEL
    assert body["usage"] == {"input_tokens": 500, "output_tokens": 5, "total_tokens": 505}
    assert body["sources"]
    (seen,) = fake_bedrock.seen
    request = seen.json
    assert unquote(seen.path) == f"/model/{MODEL}/converse"
    assert request["inferenceConfig"] == {"maxTokens": 1024, "temperature": 0.3}
    assert request["system"][0]["text"].startswith(SYSTEM_START)
    ((passages, question),) = ([b["text"] for b in m["content"]] for m in request["messages"])
    first = body["sources"][0]
    assert passages.startswith(f'<passage n="1" document="{first["document"]}"')
    assert question == QUESTION["question"]  # its own block, the last one


def test_stream_relays_model_deltas_and_usage(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any, parse_sse: Events
) -> None:
    fake_bedrock.reply_stream(
        [
            fake_bedrock.event("messageStart", {"role": "assistant"}),
            fake_bedrock.event(
                "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Use the "}}
            ),
            fake_bedrock.event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"text": "rollback workflow [1]."}},
            ),
            fake_bedrock.event("contentBlockStop", {"contentBlockIndex": 0}),
            fake_bedrock.event("messageStop", {"stopReason": "end_turn"}),
            fake_bedrock.event(
                "metadata",
                {
                    "usage": {"inputTokens": 640, "outputTokens": 9, "totalTokens": 649},
                    "metrics": {"latencyMs": 500},
                },
            ),
        ]
    )
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post("/ask/stream", json=QUESTION)

    assert response.status_code == 200
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["sources", "delta", "delta", "done"]
    assert events[1][1]["text"] + events[2][1]["text"] == "Use the rollback workflow [1]."
    done = events[-1][1]
    assert done["model"] == MODEL
    assert done["usage"] == {"input_tokens": 640, "output_tokens": 9, "total_tokens": 649}
    (sent,) = fake_bedrock.seen
    assert unquote(sent.path) == f"/model/{MODEL}/converse-stream"
    # The passages sent are the ones announced in the `sources` event, numbered in order.
    prompt = sent.json["messages"][0]["content"][0]["text"]
    for number, source in enumerate(events[0][1]["sources"], start=1):
        assert f'<passage n="{number}" document="{source["document"]}"' in prompt


def test_throttled_ask_gets_503_with_retry_after_after_retries(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any
) -> None:
    fake_bedrock.reply_error(429, "ThrottlingException", "Too many requests, please wait.")
    settings = _bedrock(sample_settings, RETRY_AFTER_S=7)
    with live_server(create_app(settings)).client() as http:
        response = http.post("/ask", json=QUESTION)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert "throttling" in body["error"]
    assert MODEL in body["error"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert len(fake_bedrock.seen) == settings.BEDROCK_MAX_ATTEMPTS


def test_throttling_midway_ends_the_stream_with_an_error_event(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any, parse_sse: Events
) -> None:
    fake_bedrock.reply_stream(
        [
            fake_bedrock.event("messageStart", {"role": "assistant"}),
            fake_bedrock.event(
                "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Use"}}
            ),
            fake_bedrock.exception("throttlingException", "Too many tokens, please wait."),
        ]
    )
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post("/ask/stream", json=QUESTION)

    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["sources", "delta", "error"]
    error = events[-1][1]
    assert error["status"] == 503
    assert "throttling" in error["error"]
    assert error["request_id"] == response.headers["x-request-id"]


TITAN = "amazon.titan-embed-text-v2:0"


def _titan(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "AWS_REGION": "us-east-1",
            "BEDROCK_EMBEDDING_MODEL_ID": TITAN,
            "BEDROCK_EMBEDDING_DIMENSIONS": 256,
            "BEDROCK_MAX_ATTEMPTS": 1,
        }
    )


def _ingest_with_dense_vectors(settings: Settings, fake_bedrock: Any) -> int:
    """Two passages with Titan vectors (from the fake) into the collection of `settings`;
    returns how many Titan calls that took."""
    from app.ingest import ingest_texts
    from app.retrieval import build_embedder
    from app.store import open_store

    fake_bedrock.reply_json({"embedding": [1.0] + [0.0] * 255, "inputTextTokenCount": 3})
    texts = [
        ("rollback.md", "Roll back a release by rolling out the previous commit SHA."),
        ("costs.md", "NAT gateways dominate the monthly bill."),
    ]
    store = open_store(settings)
    try:
        ingest_texts(store, texts, settings, dense=build_embedder(settings))
        assert store.dense_size() == 256
    finally:
        store.close()
    return len(texts)


def test_throttled_question_embedding_gets_503_before_any_answer(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any
) -> None:
    settings = _titan(sample_settings).model_copy(update={"QDRANT_COLLECTION": "dense"})
    ingested = _ingest_with_dense_vectors(settings, fake_bedrock)
    fake_bedrock.reply_error(429, "ThrottlingException", "Too many requests, please wait.")
    with live_server(create_app(settings)).client() as http:
        response = http.post("/ask/stream", json={**QUESTION, "mode": "dense"})

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == str(settings.RETRY_AFTER_S)
    assert TITAN in response.json()["error"]
    assert len(fake_bedrock.seen) == ingested + 1
    assert {unquote(seen.path) for seen in fake_bedrock.seen} == {f"/model/{TITAN}/invoke"}


def test_questions_go_to_titan_only_when_the_collection_has_dense_vectors(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any
) -> None:
    # The sample was ingested without an embedding model: BM25 only. Hybrid and dense search
    # fall back to BM25, so embedding the question would be a wasted call (and latency).
    bm25_only = _titan(sample_settings)
    with live_server(create_app(bm25_only)).client() as http:
        answers = [
            http.post("/ask", json={**QUESTION, "mode": mode}) for mode in ("hybrid", "dense")
        ]
        stream = http.post("/ask/stream", json=QUESTION)
    assert [r.status_code for r in [*answers, stream]] == [200, 200, 200]
    assert all(r.json()["sources"] for r in answers)
    assert fake_bedrock.seen == []

    dense = bm25_only.model_copy(update={"QDRANT_COLLECTION": "dense"})
    ingested = _ingest_with_dense_vectors(dense, fake_bedrock)
    with live_server(create_app(dense)).client() as http:
        response = http.post("/ask", json={**QUESTION, "mode": "hybrid"})
        sparse = http.post("/ask", json={**QUESTION, "mode": "sparse"})
    assert (response.status_code, sparse.status_code) == (200, 200)
    (question,) = fake_bedrock.seen[ingested:]  # hybrid embeds the question; sparse does not
    assert question.json["inputText"] == QUESTION["question"]
    assert response.json()["sources"][0]["document"] == "rollback.md"


def test_unexpected_failure_midway_ends_the_stream_with_a_500_error_event(
    sample_settings: Settings, live_server: Serve, fake_bedrock: Any, parse_sse: Events
) -> None:
    fake_bedrock.reply_stream(
        [
            fake_bedrock.event(
                "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Use"}}
            ),
            fake_bedrock.event("messageStop", {"stopReason": "end_turn"}),
            # Token counts that are not numbers: a broken response, not an outage.
            fake_bedrock.event("metadata", {"usage": {"inputTokens": "many"}, "metrics": {}}),
        ]
    )
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post(
            "/ask/stream", json=QUESTION, headers={"x-gateway-request-id": "mid-1"}
        )

    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["sources", "delta", "error"]
    error = events[-1][1]
    assert error["status"] == 500
    assert "mid-1" in error["error"]
    assert "many" not in error["error"]


@pytest.fixture
def slow_bedrock(standin_served: Callable[..., SlowBedrock]) -> SlowBedrock:
    """The bench's slow stand-in, holding each call until 60 are waiting (or 5 s pass)."""
    timing = Timing(converse_s=0.1, first_token_s=0.1, stream_s=0.1, deltas=3)
    return standin_served(timing, gather=60, gather_s=5.0)


async def _concurrently(url: str, path: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        return await asyncio.gather(*(http.post(path, json=QUESTION) for _ in range(count)))


@pytest.mark.parametrize(
    ("path", "kind"), [("/ask", "converse"), ("/ask/stream", "converse-stream")]
)
def test_slow_model_calls_all_wait_at_once_not_forty_at_a_time(
    sample_settings: Settings, live_server: Serve, slow_bedrock: SlowBedrock, path: str, kind: str
) -> None:
    # 60 questions at once against a model that answers once 60 calls wait: each call holds
    # a pooled connection, so the model must see all 60 together. With anyio's shared 40
    # threads (or botocore's pool of 10) it saw at most 40.
    server = live_server(create_app(_bedrock(sample_settings)))
    responses = asyncio.run(_concurrently(server.url, path, 60))

    assert [r.status_code for r in responses] == [200] * 60
    assert slow_bedrock.calls[kind] == 60
    assert slow_bedrock.peak[kind] == 60


def test_the_connection_pool_is_as_wide_as_the_setting(
    sample_settings: Settings, live_server: Serve, slow_bedrock: SlowBedrock
) -> None:
    # The other side of the bound: BEDROCK_MAX_CONCURRENCY=8 lets 8 calls wait at once, no
    # more (the stand-in answers each group of 8 as soon as it is complete).
    slow_bedrock.gather = 8
    app = create_app(_bedrock(sample_settings, BEDROCK_MAX_CONCURRENCY=8))
    server = live_server(app)
    responses = asyncio.run(_concurrently(server.url, "/ask", 24))

    assert [r.status_code for r in responses] == [200] * 24
    assert slow_bedrock.peak["converse"] == 8


@pytest.fixture
def stalling_bedrock(standin_served: Callable[..., SlowBedrock]) -> SlowBedrock:
    """A model slower than the read timeout below: Converse after 3 s, and a stream whose
    second delta comes 3 s after its first."""
    return standin_served(Timing(converse_s=3.0, first_token_s=0.05, stream_s=3.0, deltas=2))


def test_a_model_slower_than_the_read_timeout_is_a_503_before_or_during_the_stream(
    sample_settings: Settings, live_server: Serve, stalling_bedrock: SlowBedrock, parse_sse: Events
) -> None:
    settings = _bedrock(sample_settings, BEDROCK_READ_TIMEOUT_S=0.5, BEDROCK_MAX_ATTEMPTS=1)
    with live_server(create_app(settings)).client() as http:
        answered = http.post("/ask", json=QUESTION)
        streamed = http.post("/ask/stream", json=QUESTION)

    assert answered.status_code == 503
    assert answered.headers["retry-after"] == str(settings.RETRY_AFTER_S)
    assert "Bedrock did not answer" in answered.json()["error"]
    events = parse_sse(streamed.text)
    assert [name for name, _ in events] == ["sources", "delta", "error"]
    assert events[-1][1]["status"] == 503
    assert "Bedrock did not answer" in events[-1][1]["error"]
    assert stalling_bedrock.calls["converse"] == 1  # BEDROCK_MAX_ATTEMPTS=1: not retried
