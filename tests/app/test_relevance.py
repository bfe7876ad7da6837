"""The relevance floor (issue 14 item 4) through the real app and the real embedded Qdrant:
an off-topic question abstains in every mode, with and without a reranker, and no model is
called; the response says which mode ran. Bedrock (Converse, Titan, Rerank) is the loopback
stand-in of tests/bedrock_standin.py, reached by real boto3 clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.answer._base import NO_ANSWER
from app.config import Settings
from app.main import create_app
from tests.bedrock_standin import SlowBedrock, Timing
from tests.servers import SAMPLE_DOCS, serve
from tests.servers import sample_settings as ingested

OFF_TOPIC = json.loads((Path(__file__).parent / "data" / "off_topic_questions.json").read_text())
ROLLBACK = "How do I roll back to an earlier release?"
RERANK_MODEL = "amazon.rerank-v1:0"
MODES = ("sparse", "dense", "hybrid")


@pytest.fixture(scope="module")
def bedrock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowBedrock]:
    """The stand-in, fast, with boto3's environment pointed at it (both services) and at no
    real AWS configuration or credentials."""
    standin = SlowBedrock(Timing(converse_s=0, first_token_s=0, stream_s=0, deltas=2, invoke_s=0))
    home = tmp_path_factory.mktemp("aws")
    with serve(standin) as server, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
        env.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", server.url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", str(home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        yield standin


@pytest.fixture(scope="module")
def dense_sample(tmp_path_factory: pytest.TempPathFactory, bedrock: SlowBedrock) -> Settings:
    """docs/sample ingested with (stand-in) Titan vectors, and a Converse model configured."""
    return ingested(
        tmp_path_factory.mktemp("dense-sample"),
        AWS_REGION="us-east-1",
        BEDROCK_EMBEDDING_MODEL_ID="amazon.titan-embed-text-v2:0",
        BEDROCK_EMBEDDING_DIMENSIONS="256",
        BEDROCK_MODEL_ID="amazon.nova-lite-v1:0",
    )


# Function-scoped: a server holds the embedded store's lock, and some tests start their own.
@pytest.fixture(params=["lexical floor", "reranker"])
def api(
    request: pytest.FixtureRequest, dense_sample: Settings, bedrock: SlowBedrock
) -> Iterator[httpx.Client]:
    extra = {"BEDROCK_RERANK_MODEL_ID": RERANK_MODEL} if request.param == "reranker" else {}
    settings = dense_sample.model_copy(update=extra)
    with serve(create_app(settings)) as server, server.client() as client:
        yield client


def _calls(bedrock: SlowBedrock) -> dict[str, int]:
    return dict(bedrock.calls)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("question", OFF_TOPIC["questions"][1:3] + OFF_TOPIC["questions"][-1:])
def test_an_off_topic_question_abstains_without_a_model_call(
    api: httpx.Client, bedrock: SlowBedrock, question: str, mode: str
) -> None:
    before = _calls(bedrock)
    reply = api.post("/ask", json={"question": question, "mode": mode})

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["answer"], body["sources"], body["mode"]) == (NO_ANSWER, [], mode)
    after = _calls(bedrock)
    assert after.get("converse", 0) == before.get("converse", 0)  # no answer was paid for


@pytest.mark.parametrize("mode", MODES)
def test_the_stream_of_an_off_topic_question_abstains_and_names_the_mode(
    api: httpx.Client,
    bedrock: SlowBedrock,
    parse_sse: Callable[[str], list[tuple[str, dict[str, Any]]]],
    mode: str,
) -> None:
    before = _calls(bedrock).get("converse-stream", 0)
    reply = api.post("/ask/stream", json={"question": OFF_TOPIC["questions"][1], "mode": mode})

    events = parse_sse(reply.text)
    assert events[0] == ("sources", {"sources": [], "request_id": events[0][1]["request_id"]})
    assert "".join(data["text"] for name, data in events if name == "delta") == NO_ANSWER
    assert events[-1][0] == "done"
    assert events[-1][1]["mode"] == mode
    assert _calls(bedrock).get("converse-stream", 0) == before


@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_an_on_topic_question_reaches_the_model_and_names_the_mode(
    api: httpx.Client, bedrock: SlowBedrock, mode: str
) -> None:
    before = _calls(bedrock).get("converse", 0)
    body = api.post("/ask", json={"question": ROLLBACK, "mode": mode}).json()

    assert body["mode"] == mode
    # (The stand-in's vectors are hashes, so the fusion's order is not the point here.)
    assert "rollback.md" in {s["document"] for s in body["sources"]}
    assert _calls(bedrock).get("converse", 0) == before + 1


def test_the_reranker_gets_the_fused_candidates_and_its_scores_order_the_sources(
    dense_sample: Settings, bedrock: SlowBedrock
) -> None:
    settings = dense_sample.model_copy(update={"BEDROCK_RERANK_MODEL_ID": RERANK_MODEL})
    with serve(create_app(settings)) as server, server.client() as client:
        reply = client.post("/ask", json={"question": ROLLBACK, "top_k": 2})
    assert reply.status_code == 200, reply.text
    body = reply.json()

    sent = bedrock.last["rerank"]
    assert sent["queries"] == [{"type": "TEXT", "textQuery": {"text": ROLLBACK}}]
    config = sent["rerankingConfiguration"]
    assert config["type"] == "BEDROCK_RERANKING_MODEL"
    model = config["bedrockRerankingConfiguration"]["modelConfiguration"]["modelArn"]
    assert model == f"arn:aws:bedrock:us-east-1::foundation-model/{RERANK_MODEL}"
    # The fusion's depth (20 for top_k=2), not just the two passages that are returned.
    assert len(sent["sources"]) == 20 == config["bedrockRerankingConfiguration"]["numberOfResults"]
    scores = [s["score"] for s in body["sources"]]
    assert len(scores) == 2
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] >= settings.RERANK_MIN_SCORE
    assert body["sources"][0]["document"] == "rollback.md"


def test_a_reranker_that_scores_every_candidate_low_leaves_nothing_to_answer_from(
    dense_sample: Settings, bedrock: SlowBedrock
) -> None:
    # The lexical floor would let this through (3 of its 4 terms are in rollback.md); the
    # reranker's floor decides instead, and the stand-in scores it 0.5 at best.
    question = "How do I roll back a Windows update?"
    settings = dense_sample.model_copy(
        update={"BEDROCK_RERANK_MODEL_ID": RERANK_MODEL, "RERANK_MIN_SCORE": 0.9}
    )
    before = _calls(bedrock)
    with serve(create_app(settings)) as server, server.client() as client:
        body = client.post("/ask", json={"question": question}).json()

    assert (body["answer"], body["sources"]) == (NO_ANSWER, [])
    after = _calls(bedrock)
    assert after["rerank"] == before.get("rerank", 0) + 1
    assert after.get("converse", 0) == before.get("converse", 0)


def test_without_dense_vectors_the_mode_that_ran_is_sparse(sample_server: Any) -> None:
    with sample_server.client() as client:
        body = client.post("/ask", json={"question": ROLLBACK, "mode": "hybrid"}).json()
    assert body["mode"] == "sparse"
    assert body["sources"]


# --- the `documents` filter -----------------------------------------------------------------


def test_an_unknown_document_name_is_a_422_that_names_it(sample_server: Any) -> None:
    with sample_server.client() as client:
        reply = client.post(
            "/ask", json={"question": ROLLBACK, "documents": ["rollback.md", "rolback.md"]}
        )
        known = client.post("/ask", json={"question": ROLLBACK, "documents": ["rollback.md"]})

    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["fields"] == [{"field": "documents", "reason": body["fields"][0]["reason"]}]
    assert "'rolback.md'" in body["error"]
    assert "'rollback.md'" not in body["error"]  # the known one is not blamed
    assert known.status_code == 200
    assert {s["document"] for s in known.json()["sources"]} == {"rollback.md"}


def test_on_the_sample_every_document_name_is_known(sample_server: Any) -> None:
    names = sorted(p.name for p in SAMPLE_DOCS.iterdir() if p.suffix in {".md", ".pdf"})
    with sample_server.client() as client:
        reply = client.post("/ask", json={"question": ROLLBACK, "documents": names})
    assert reply.status_code == 200, reply.text


def test_a_throttled_reranker_is_a_503_that_names_it(
    sample_settings: Settings,
    fake_bedrock: Any,
    monkeypatch: pytest.MonkeyPatch,
    live_server: Callable[[Any], Any],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", fake_bedrock.url)
    fake_bedrock.reply_error(429, "ThrottlingException", "Too many requests")
    settings = sample_settings.model_copy(
        update={
            "BEDROCK_RERANK_MODEL_ID": RERANK_MODEL,
            "AWS_REGION": "us-east-1",
            "BEDROCK_MAX_ATTEMPTS": 1,
        }
    )
    server = live_server(create_app(settings))
    with server.client() as client:
        reply = client.post("/ask", json={"question": ROLLBACK})

    assert reply.status_code == 503, reply.text
    assert RERANK_MODEL in reply.json()["error"]
    assert reply.headers["retry-after"]
    assert [seen.path for seen in fake_bedrock.seen] == ["/rerank"]
