"""The OpenAPI document says what the server sends: checked against real responses."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

QUESTION = {"question": "How do I roll back a release?"}


@pytest.fixture(scope="module")
def document(sample_server: Any) -> dict[str, Any]:
    with sample_server.client() as client:
        doc: dict[str, Any] = client.get("/openapi.json").json()
    return doc


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _validate(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    # "#/components/..." refs resolve against a root that carries the document's components.
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(
        instance
    )


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = set(_refs(document["paths"])) | set(_refs(schemas))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_stream_errors_are_documented_as_the_json_they_are(
    document: dict[str, Any], sample_server: Any
) -> None:
    responses = document["paths"]["/ask/stream"]["post"]["responses"]
    with sample_server.client() as client:
        invalid = client.post("/ask/stream", json={"question": ""})
    for status, response in responses.items():
        if status == "200":
            continue
        assert list(response["content"]) == ["application/json"], status
    assert invalid.headers["content-type"] == "application/json"
    schema = responses["422"]["content"]["application/json"]["schema"]
    _validate(document, schema, invalid.json())


def test_the_stream_documents_each_event_it_sends(
    document: dict[str, Any],
    sample_server: Any,
    parse_sse: Callable[[str], list[tuple[str, dict[str, Any]]]],
) -> None:
    content = document["paths"]["/ask/stream"]["post"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    assert "schema" not in content["text/event-stream"]  # a stream of events, not one string
    variants = {
        v["properties"]["event"]["const"]: v["properties"]["data"]["contentSchema"]
        for v in content["text/event-stream"]["itemSchema"]["oneOf"]
    }
    assert set(variants) == {"sources", "delta", "done", "error"}
    with sample_server.client() as client:
        response = client.post("/ask/stream", json=QUESTION)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert {name for name, _ in events} == {"sources", "delta", "done"}
    for name, data in events:
        _validate(document, variants[name], data)
    # And the schema would refuse what is not sent: a delta without its text.
    with pytest.raises(jsonschema.ValidationError):
        _validate(document, variants["delta"], {"txt": "x"})
    # An error event as the server writes it (its status included).
    error = {"error": "The answer failed midway.", "request_id": "r", "status": 500}
    _validate(document, variants["error"], error)


def test_ask_errors_stay_json_too(document: dict[str, Any]) -> None:
    for status, response in document["paths"]["/ask"]["post"]["responses"].items():
        assert list(response["content"]) == ["application/json"], status


def test_the_readme_lists_every_status_the_service_sends(document: dict[str, Any]) -> None:
    documented = {
        int(status)
        for path in document["paths"].values()
        for operation in path.values()
        for status in operation["responses"]
        if not status.startswith("2")
    }
    # Those no route declares: no route or method, and the server's own (app/server.py).
    documented |= {400, 404, 405, 408, 431, 503}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("### Errors", 1)[1].split("###", 1)[0]
    listed = {int(n) for n in re.findall(r"^\| ([0-9]{3})", table, re.MULTILINE)}
    listed |= {int(n) for n in re.findall(r"^\| [0-9]{3} / ([0-9]{3})", table, re.MULTILINE)}
    assert documented == listed
