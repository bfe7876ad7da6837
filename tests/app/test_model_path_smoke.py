"""The model path end to end in about a second: the real app on uvicorn, a real boto3 client
(signing, serialising, event-stream parsing) and the bench's own Bedrock stand-in
(tests/bedrock_standin.py) with its delays cut to nothing. `make bench --part model` runs the
same path under load; this is the fast proof, in `make test`, that it still answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.bedrock_standin import SlowBedrock, Timing

Serve = Callable[[FastAPI], Any]
Events = Callable[[str], list[tuple[str, dict[str, Any]]]]
MODEL = "smoke.standin-model-v1:0"
QUESTION = {"question": "How do I roll back a release?"}
DELTAS = 3


@pytest.fixture
def standin(standin_served: Callable[..., SlowBedrock]) -> SlowBedrock:
    return standin_served(Timing(converse_s=0, first_token_s=0, stream_s=0.02, deltas=DELTAS))


def test_the_model_answers_through_the_real_stack_streamed_and_not(
    sample_settings: Settings, live_server: Serve, standin: SlowBedrock, parse_sse: Events
) -> None:
    settings = sample_settings.model_copy(
        update={"AWS_REGION": "us-east-1", "BEDROCK_MODEL_ID": MODEL, "BEDROCK_MAX_ATTEMPTS": 1}
    )
    with live_server(create_app(settings)).client() as http:
        answer = http.post("/ask", json=QUESTION)
        stream = http.post("/ask/stream", json=QUESTION)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["answer"], body["model"]) == ("Roll back [1].", MODEL)
    assert body["usage"] == {"input_tokens": 400, "output_tokens": 5, "total_tokens": 405}
    assert body["sources"]

    assert stream.status_code == 200, stream.text
    events = parse_sse(stream.text)
    assert [name for name, _ in events] == ["sources", *["delta"] * DELTAS, "done"]
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == "word0 word1 done [1]."
    done = events[-1][1]
    assert done["model"] == MODEL
    assert done["stop_reason"] == "end_turn"
    assert done["usage"] == {"input_tokens": 400, "output_tokens": DELTAS, "total_tokens": 420}
    assert standin.calls == {"converse": 1, "converse-stream": 1}
