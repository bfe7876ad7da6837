"""The model's output is checked (issue 14 item 2), through the real app on loopback with the
wire-format Bedrock stand-in (tests/bedrock_standin.py) as the only thing not real: citations
that name no passage, answers cut at maxTokens, guardrails and content filters, and which
sources the answer cites, in /ask and in the stream's `done` event alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from app.answer._base import FILTERED_ANSWER, NO_ANSWER
from app.config import Settings
from app.main import create_app
from tests.bedrock_standin import SlowBedrock, converse_reply, stream_reply
from tests.servers import LiveServer, serve

Serve = Callable[[Any], LiveServer]
Events = Callable[[str], list[tuple[str, dict[str, Any]]]]
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
QUESTION = {"question": "How do I roll back a release?", "top_k": 4}
# Four passages are retrieved: [0], [7], [9] and [12] name none of them.
INVENTED = (
    "Use the rollout workflow [1][7]. Check the SHA first [0]. Images expire [12]. "
    "Keep the last good SHA [2, 9]."
)
CHECKED = (
    "Use the rollout workflow [1]. Check the SHA first. Images expire. Keep the last good SHA [2]."
)


def _bedrock(settings: Settings, **extra: str) -> Settings:
    update = {"AWS_REGION": "us-east-1", "BEDROCK_MODEL_ID": MODEL, "BEDROCK_MAX_ATTEMPTS": 1}
    return settings.model_copy(update={**update, **extra})


def _ask(server: LiveServer, path: str = "/ask", **extra: Any) -> Any:
    with server.client() as http:
        return http.post(path, json={**QUESTION, **extra})


def test_citations_of_passages_that_do_not_exist_are_removed_and_reported(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock
) -> None:
    model_standin.script_converse(converse_reply(INVENTED))
    response = _ask(live_server(create_app(_bedrock(sample_settings))))

    assert response.status_code == 200
    body = response.json()
    assert body["answer"] == CHECKED
    assert body["cited"] == [1, 2]
    assert body["citations_removed"] == [0, 7, 9, 12]
    # Every retrieved passage stays, so [n] is still sources[n-1]; the uncited are told apart.
    assert len(body["sources"]) == 4
    assert (body["stop_reason"], body["truncated"], body["blocked"]) == ("end_turn", False, False)


def test_the_stream_never_sends_a_citation_that_names_no_passage(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock, parse_sse: Events
) -> None:
    # Cut where a model's tokens are cut: inside the brackets, before the closing one.
    deltas = [
        "Use the rollout workflow [1]",
        "[7",
        "]. Check the SHA first ",
        "[0]. Images expire [1",
        "2]. Keep the last good SHA [2,",
        " 9].",
    ]
    model_standin.script_stream(stream_reply(deltas))
    response = _ask(live_server(create_app(_bedrock(sample_settings))), "/ask/stream")

    events = parse_sse(response.text)
    sent = [data["text"] for name, data in events if name == "delta"]
    assert "".join(sent) == CHECKED  # what /ask returns for the same reply
    assert not any(re.search(r"\[(7|0|12)\b|\b9\]", text) for text in sent)
    name, done = events[-1]
    assert name == "done"
    assert (done["cited"], done["citations_removed"]) == ([1, 2], [0, 7, 9, 12])
    assert (done["stop_reason"], done["truncated"], done["blocked"]) == ("end_turn", False, False)


@pytest.mark.parametrize(
    ("stop_reason", "truncated", "blocked"),
    [
        ("max_tokens", True, False),
        ("model_context_window_exceeded", True, False),
        ("guardrail_intervened", False, True),
        ("end_turn", False, False),
    ],
)
def test_stop_reason_and_its_flags_in_ask_and_in_done(
    sample_settings: Settings,
    live_server: Serve,
    model_standin: SlowBedrock,
    parse_sse: Events,
    stop_reason: str,
    truncated: bool,
    blocked: bool,
) -> None:
    text = "Roll back with the rollout workflow and the last"
    model_standin.script_converse(converse_reply(text, stop_reason))
    model_standin.script_stream(stream_reply([text], stop_reason))
    server = live_server(create_app(_bedrock(sample_settings)))
    answer, stream = _ask(server).json(), parse_sse(_ask(server, "/ask/stream").text)

    # The text is the model's (a guardrail's is the notice its owners wrote for the asker).
    assert answer["answer"] == text
    done = stream[-1][1]
    for outcome in (answer, done):
        assert outcome["stop_reason"] == stop_reason
        assert (outcome["truncated"], outcome["blocked"]) == (truncated, blocked)


def test_a_content_filter_is_not_passed_off_as_i_dont_know(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock, parse_sse: Events
) -> None:
    model_standin.script_converse(converse_reply("", "content_filtered"))
    model_standin.script_stream(stream_reply([], "content_filtered"))
    server = live_server(create_app(_bedrock(sample_settings)))
    answer, stream = _ask(server).json(), parse_sse(_ask(server, "/ask/stream").text)

    assert answer["answer"] == FILTERED_ANSWER != NO_ANSWER
    assert (answer["stop_reason"], answer["blocked"]) == ("content_filtered", True)
    assert [data["text"] for name, data in stream if name == "delta"] == [FILTERED_ANSWER]
    assert (stream[-1][1]["stop_reason"], stream[-1][1]["blocked"]) == ("content_filtered", True)


def test_the_guardrail_goes_with_every_answer_call_when_configured(
    sample_settings: Settings, model_standin: SlowBedrock
) -> None:
    guarded = _bedrock(
        sample_settings, BEDROCK_GUARDRAIL_ID="gr7abc2def", BEDROCK_GUARDRAIL_VERSION="3"
    )
    with serve(create_app(guarded)) as server:  # the embedded store: one server at a time
        assert _ask(server).status_code == 200
        assert _ask(server, "/ask/stream").status_code == 200
    with serve(create_app(_bedrock(sample_settings))) as server:
        assert _ask(server).status_code == 200

    (converse, stream, unguarded) = model_standin.requests
    assert converse[2]["guardrailConfig"] == {
        "guardrailIdentifier": "gr7abc2def",
        "guardrailVersion": "3",
    }
    assert stream[0] == "converse-stream"
    assert stream[2]["guardrailConfig"] == {
        "guardrailIdentifier": "gr7abc2def",
        "guardrailVersion": "3",
        "streamProcessingMode": "sync",
    }
    assert "guardrailConfig" not in unguarded[2]


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"BEDROCK_GUARDRAIL_ID": "gr7abc2def"}, "go together"),
        ({"BEDROCK_GUARDRAIL_VERSION": "DRAFT"}, "go together"),
        ({"BEDROCK_GUARDRAIL_ID": "gr7abc2def", "BEDROCK_GUARDRAIL_VERSION": "v3"}, "pattern"),
        ({"BEDROCK_GUARDRAIL_ID": "My Guardrail", "BEDROCK_GUARDRAIL_VERSION": "1"}, "pattern"),
    ],
)
def test_a_guardrail_setting_that_bedrock_would_refuse_stops_the_service(
    environment: dict[str, str], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings.from_env(environment)
    arn = "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr7abc2def"
    settings = Settings.from_env({"BEDROCK_GUARDRAIL_ID": arn, "BEDROCK_GUARDRAIL_VERSION": "1"})
    assert arn == settings.BEDROCK_GUARDRAIL_ID


def test_the_extractive_answer_reports_what_it_cites(sample_server: LiveServer) -> None:
    with sample_server.client() as http:
        body = http.post("/ask", json=QUESTION).json()

    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])})
    assert numbers
    assert body["cited"] == numbers
    assert body["citations_removed"] == []
    assert (body["stop_reason"], body["truncated"], body["blocked"]) == ("end_turn", False, False)
    assert body["search_query"] == QUESTION["question"]
