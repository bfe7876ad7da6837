"""tests/conftest.py records the AWS calls of app/ and deploy/ code, not the tests' own."""

from __future__ import annotations

import asyncio

import boto3
import pytest
from botocore.stub import Stubber

import tests.call_recorder as recorder
from app.answer.bedrock import BedrockAnswerer
from app.ingest import sources
from app.store.base import Chunk, Hit
from tests.app.bedrock_fake import stubbed_client


def _client() -> object:
    return boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_a_call_from_app_code_is_recorded_with_its_caller_and_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder, "_calls", {})  # this test's calls only, the session's kept
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("list_objects_v2", {"Contents": [{"Key": "docs/a.md", "Size": 3}]})
        listed = list(sources._s3_objects(client, "team-docs", "docs/"))  # type: ignore[arg-type]
        assert listed == [("docs/a.md", 3)]
    entry = recorder._calls[("app", "s3", "ListObjectsV2", "app/ingest/sources.py")]
    assert entry["params"] == [{"Bucket": "team-docs", "Prefix": "docs/", "EncodingType": "url"}]
    assert entry["signing_name"] == "s3"


def test_a_call_from_a_test_is_not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "_calls", {})
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("head_bucket", {})
        client.head_bucket(Bucket="seeded-by-a-test")  # type: ignore[attr-defined]
    assert recorder._calls == {}


def test_a_call_from_app_code_through_aiobotocore_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's Bedrock client is aiobotocore's: its frames sit between the call and app/."""
    monkeypatch.setattr(recorder, "_calls", {})
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    reply = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Yes [1]."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }

    async def answer() -> str:
        async with stubbed_client() as (client, stub):
            stub.add_response("converse", reply)
            answerer = BedrockAnswerer(client, model_id=model, max_tokens=8)
            passage = Hit(Chunk("a.md", 0, "Yes."), 1.0)
            return (await answerer.answer("Is it?", [passage])).text

    assert asyncio.run(answer()) == "Yes [1]."
    entry = recorder._calls[("app", "bedrock-runtime", "Converse", "app/answer/bedrock.py")]
    assert entry["params"] == [{"modelId": model}]
