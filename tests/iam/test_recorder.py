"""tests/conftest.py records the AWS calls of app/ and deploy/ code, not the tests' own."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

import tests.call_recorder as recorder
from app.ingest import sources


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
