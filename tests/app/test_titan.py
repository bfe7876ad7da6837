"""Titan Text Embeddings V2 through botocore's Stubber: the request body we send, the response
we parse, and dense vectors flowing through ingestion into hybrid search."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from app.config import Settings
from app.embeddings import TitanEmbedder
from app.ingest import ingest_texts
from app.retrieval import build_retriever
from app.store import open_store

MODEL = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # never used: the Stubber answers every call
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, text: str, vector: Sequence[float], dimensions: int) -> None:
    body = json.dumps({"embedding": list(vector), "inputTextTokenCount": 3}).encode()
    stubber.add_response(
        "invoke_model",
        {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"},
        expected_params={
            "modelId": MODEL,
            "body": json.dumps({"inputText": text, "dimensions": dimensions, "normalize": True}),
            "contentType": "application/json",
            "accept": "application/json",
        },
    )


def unit(i: int, size: int = 256) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(size)]


def test_embed_sends_the_titan_v2_body_and_returns_the_vector(
    bedrock: tuple[Any, Stubber],
) -> None:
    client, stubber = bedrock
    expect(stubber, "how do I roll back?", unit(7), 256)
    vector = TitanEmbedder(client, model_id=MODEL, dimensions=256).embed("how do I roll back?")
    assert vector == unit(7)


def test_a_vector_of_the_wrong_size_is_refused(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    expect(stubber, "q", unit(0, 512), 256)
    with pytest.raises(ValueError, match="returned 512 dimensions, expected 256"):
        TitanEmbedder(client, model_id=MODEL, dimensions=256).embed("q")


def test_throttling_reaches_the_caller_as_a_client_error(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_client_error(
        "invoke_model", service_error_code="ThrottlingException", http_status_code=429
    )
    with pytest.raises(ClientError) as caught:
        TitanEmbedder(client, model_id=MODEL, dimensions=256).embed("q")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_dense_vectors_flow_from_ingestion_to_hybrid_search(
    bedrock: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stubber = bedrock
    settings = Settings.from_env(
        {
            "QDRANT_PATH": str(tmp_path),
            "BEDROCK_EMBEDDING_MODEL_ID": MODEL,
            "BEDROCK_EMBEDDING_DIMENSIONS": "256",
        }
    )
    texts = [
        ("rollback.md", "Roll back by redeploying the previous image digest."),
        ("costs.md", "NAT gateways dominate the monthly bill."),
    ]
    # Ingestion embeds "<title>\n<text>"; the vectors put costs.md on axis 1.
    expect(stubber, "rollback\n" + texts[0][1], unit(0), 256)
    expect(stubber, "costs\n" + texts[1][1], unit(1), 256)
    store = open_store(settings)
    retriever = build_retriever(settings, store, client)
    assert retriever.dense is not None
    retriever.dense._concurrency = 1  # the Stubber answers in order
    report = ingest_texts(store, texts, settings, dense=retriever.dense)
    assert report.chunks == 2
    assert store.info().dense_size == 256

    # The question's words match rollback.md; its vector points at costs.md.
    expect(stubber, "roll back the image", unit(1), 256)
    dense = retriever.retrieve("roll back the image", top_k=1, mode="dense").hits
    assert [h.chunk.document for h in dense] == ["costs.md"]
    expect(stubber, "roll back the image", unit(1), 256)
    hybrid = retriever.retrieve("roll back the image", top_k=2, mode="hybrid").hits
    assert {h.chunk.document for h in hybrid} == {"rollback.md", "costs.md"}
    # BM25 alone makes no Bedrock call (the Stubber would fail on an unexpected one).
    sparse = retriever.retrieve("roll back the image", top_k=2, mode="sparse").hits
    assert [h.chunk.document for h in sparse] == ["rollback.md"]
    store.close()


def test_a_collection_without_dense_vectors_costs_no_titan_call(
    bedrock: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, _ = bedrock  # nothing queued: the Stubber fails any Titan call
    settings = Settings.from_env(
        {
            "QDRANT_PATH": str(tmp_path),
            "BEDROCK_EMBEDDING_MODEL_ID": MODEL,
            "BEDROCK_EMBEDDING_DIMENSIONS": "256",
        }
    )
    store = open_store(settings)
    texts = [
        ("rollback.md", "Roll back by redeploying the previous image digest."),
        ("costs.md", "NAT gateways dominate the monthly bill."),
    ]
    ingest_texts(store, texts, settings)  # no `dense`: BM25 only, as without a model
    retriever = build_retriever(settings, store, client)
    assert retriever.dense is not None  # configured, but the collection is BM25 only
    for mode in ("hybrid", "dense"):
        assert retriever.effective_mode(mode) == "sparse"
        hits = retriever.retrieve("roll back the image", top_k=1, mode=mode).hits
        assert [h.chunk.document for h in hits] == ["rollback.md"]
    store.close()


def test_without_an_embedding_model_retrieval_is_bm25_only(tmp_path: Path) -> None:
    settings = Settings.from_env({"QDRANT_PATH": str(tmp_path)})
    store = open_store(settings)
    retriever = build_retriever(settings, store)
    assert retriever.dense is None
    assert retriever.effective_mode("hybrid") == "sparse"
    store.close()
