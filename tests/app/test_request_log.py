"""The one log line per request says how the answer ended: `stop_reason`, `truncated` and
`blocked`, the values /ask returns and the stream's `done` event carries. Read from the real
output: `python -m app.server` in a subprocess (the command the image runs), its stdout
parsed line by line, with the wire-format Bedrock stand-in as the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_server import launched
from tests.bedrock_standin import SlowBedrock, Timing, converse_reply, stream_reply
from tests.servers import sample_settings as make_sample_settings
from tests.servers import serve

QUESTION = {"question": "How do I roll back a release?", "top_k": 4}
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def standin() -> Iterator[tuple[SlowBedrock, str]]:
    model = SlowBedrock(Timing(converse_s=0, first_token_s=0, stream_s=0, deltas=1, invoke_s=0))
    with serve(model) as server:
        yield model, server.url


def _request_lines(output: str) -> dict[str, dict[str, Any]]:
    """The request lines of a server's stdout, by request id; every line must be JSON."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {line["request_id"]: line for line in lines if line.get("logger") == "qa.request"}


def test_the_log_line_says_how_the_answer_ended_for_ask_and_the_stream(
    tmp_path: Path, standin: tuple[SlowBedrock, str]
) -> None:
    model, url = standin
    store = tmp_path / "store"
    make_sample_settings(store)
    # Cut at maxTokens through /ask, stopped by a guardrail in the stream: both flags seen.
    model.script_converse(converse_reply("Roll back with the rollout workflow [1]", "max_tokens"))
    model.script_stream(stream_reply(["Sorry, this topic is blocked."], "guardrail_intervened"))
    environ = {
        "AWS_REGION": "us-east-1",
        "BEDROCK_MODEL_ID": MODEL,
        "BEDROCK_MAX_ATTEMPTS": "1",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    with launched(store, **environ) as running:
        with httpx.Client(base_url=running.url, timeout=30) as client:
            ask = client.post("/ask", json=QUESTION, headers={"x-gateway-request-id": "log-ask"})
            stream = client.post(
                "/ask/stream", json=QUESTION, headers={"x-gateway-request-id": "log-stream"}
            )
            off_topic = client.post(
                "/ask",
                json={"question": "What is the boiling point of water at sea level?"},
                headers={"x-gateway-request-id": "log-none"},
            )
        running.stop()
        output = running.process.stdout.read().decode() if running.process.stdout else ""

    assert (ask.status_code, stream.status_code, off_topic.status_code) == (200, 200, 200)
    lines = _request_lines(output)
    answered = ask.json()
    assert (answered["stop_reason"], answered["truncated"], answered["blocked"]) == (
        "max_tokens",
        True,
        False,
    )
    line = lines["log-ask"]
    assert (line["route"], line["stop_reason"], line["truncated"], line["blocked"]) == (
        "/ask",
        "max_tokens",
        True,
        False,
    )
    done = json.loads(stream.text.rstrip().rsplit("\ndata: ", 1)[1])
    assert (done["stop_reason"], done["truncated"], done["blocked"]) == (
        "guardrail_intervened",
        False,
        True,
    )
    line = lines["log-stream"]
    assert (line["route"], line["stop_reason"], line["truncated"], line["blocked"]) == (
        "/ask/stream",
        "guardrail_intervened",
        False,
        True,
    )
    # No passage clears the floor: no model call, and the line still says how it ended.
    abstained = off_topic.json()
    line = lines["log-none"]
    assert (line["stop_reason"], line["truncated"], line["blocked"]) == (
        abstained["stop_reason"],
        False,
        False,
    )
    assert "boiling point" not in output  # the question is never logged
