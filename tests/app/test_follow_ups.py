"""Follow-up questions (issue 14 item 5), through the real app on loopback: a bounded
`messages` conversation, its last turn searched as a standalone query (rewritten by one short
Converse call to the wire-format stand-in, or the user's own last questions without a model),
earlier turns sent to Converse as turns of their own, and clear 422s for a conversation out
of bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.answer.bedrock import HISTORY_PROMPT, REWRITE_PROMPT, SYSTEM_PROMPT
from app.config import Settings
from app.main import create_app
from tests.bedrock_standin import SlowBedrock, converse_reply, stream_reply
from tests.servers import LiveServer

Serve = Callable[[Any], LiveServer]
Events = Callable[[str], list[tuple[str, dict[str, Any]]]]
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FIRST = "Which images does ECR keep for a rollback?"
FOLLOW_UP = "And how long is that window?"
EARLIER_ANSWER = "The last 50 SHA-tagged images [2]; that is the rollback window [2]."
CONVERSATION = [
    {"role": "user", "content": FIRST},
    {"role": "assistant", "content": EARLIER_ANSWER},
    {"role": "user", "content": FOLLOW_UP},
]
WINDOW = "keeps the last 50 SHA-tagged images by default; that is the rollback window."


def _bedrock(settings: Settings) -> Settings:
    update = {"AWS_REGION": "us-east-1", "BEDROCK_MODEL_ID": MODEL, "BEDROCK_MAX_ATTEMPTS": 1}
    return settings.model_copy(update=update)


def test_extractive_follow_up_is_answered_from_the_conversation(
    sample_server: LiveServer,
) -> None:
    with sample_server.client() as http:
        first = http.post("/ask", json={"question": FIRST}).json()
        alone = http.post("/ask", json={"question": FOLLOW_UP}).json()
        conversation = [
            {"role": "user", "content": FIRST},
            {"role": "assistant", "content": first["answer"]},
            {"role": "user", "content": FOLLOW_UP},
        ]
        response = http.post("/ask", json={"messages": conversation})

    assert alone["answer"] == "I don't know from these documents."  # "that window" alone
    assert response.status_code == 200
    body = response.json()
    assert WINDOW in body["answer"]
    assert body["search_query"] == f"{FIRST} {FOLLOW_UP}"
    quoted = {body["sources"][n - 1]["document"] for n in body["cited"]}
    assert "rollback.md" in quoted


def test_model_rewrites_the_follow_up_and_sees_the_earlier_turns(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock
) -> None:
    standalone = "How long is the ECR image rollback window?"
    model_standin.script_converse(
        converse_reply(f'"{standalone}"\n'), converse_reply("The last 50 images [1].")
    )
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post("/ask", json={"messages": CONVERSATION})

    assert response.status_code == 200
    body = response.json()
    assert body["search_query"] == standalone
    assert body["sources"][0]["document"] == "rollback.md"
    assert body["answer"] == "The last 50 images [1]."
    (_, _, rewrite), (_, _, answer) = model_standin.requests
    # One short call: the conversation as escaped <turn> elements, the question on its own.
    assert rewrite["system"] == [{"text": REWRITE_PROMPT}]
    assert rewrite["inferenceConfig"]["maxTokens"] <= 128
    (turns, question) = rewrite["messages"][0]["content"]
    assert turns["text"] == (
        f'<turn role="user">{FIRST}</turn>\n'
        '<turn role="assistant">The last 50 SHA-tagged images; that is the rollback '
        "window.</turn>"
    )
    assert question == {"text": FOLLOW_UP}
    # The answer: earlier turns as real Converse turns (their [n] named passages not sent
    # again), then passages and question as for a single question.
    assert answer["system"] == [{"text": SYSTEM_PROMPT}, {"text": HISTORY_PROMPT}]
    user, assistant, last = answer["messages"]
    assert user == {"role": "user", "content": [{"text": FIRST}]}
    assert assistant == {
        "role": "assistant",
        "content": [{"text": "The last 50 SHA-tagged images; that is the rollback window."}],
    }
    assert last["role"] == "user"
    passages, asked = last["content"]
    assert passages["text"].startswith('<passage n="1" document="rollback.md"')
    assert asked == {"text": FOLLOW_UP}


def test_streamed_follow_up_rewrites_first_then_streams(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock, parse_sse: Events
) -> None:
    model_standin.script_converse(converse_reply("ECR rollback window length"))
    model_standin.script_stream(stream_reply(["The last 50 ", "images [1]."]))
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        response = http.post("/ask/stream", json={"messages": CONVERSATION})

    events = parse_sse(response.text)
    assert "".join(d["text"] for name, d in events if name == "delta") == "The last 50 images [1]."
    assert events[-1][1]["search_query"] == "ECR rollback window length"
    assert [kind for kind, _, _ in model_standin.requests] == ["converse", "converse-stream"]
    assert len(model_standin.requests[1][2]["messages"]) == 3


def test_a_rewrite_that_says_nothing_searches_the_users_own_words(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock
) -> None:
    model_standin.script_converse(converse_reply("", "content_filtered"))
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        body = http.post("/ask", json={"messages": CONVERSATION}).json()

    assert body["search_query"] == f"{FIRST} {FOLLOW_UP}"


def test_one_user_turn_is_a_question_and_needs_no_rewrite(
    sample_settings: Settings, live_server: Serve, model_standin: SlowBedrock
) -> None:
    with live_server(create_app(_bedrock(sample_settings))).client() as http:
        body = http.post("/ask", json={"messages": [{"role": "user", "content": FIRST}]}).json()

    assert body["search_query"] == FIRST
    ((kind, _, request),) = model_standin.requests
    assert kind == "converse"
    assert request["system"] == [{"text": SYSTEM_PROMPT}]


def _turns(count: int, size: int = 10) -> list[dict[str, str]]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "x" * size} for i in range(count)
    ]


def _long_turns(pairs: int) -> list[dict[str, str]]:
    """Questions and answers each as long as one may be, then a short question."""
    pair = [{"role": "user", "content": "x" * 2000}, {"role": "assistant", "content": "x" * 8000}]
    return [*pair * pairs, {"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"question": FIRST, "messages": CONVERSATION}, "messages", "either question or messages"),
        ({"messages": []}, "messages", "at least 1 item"),
        ({"messages": CONVERSATION[:2]}, "messages", "ending with user"),
        ({"messages": CONVERSATION[1:]}, "messages", "starting and ending with user"),
        ({"messages": [CONVERSATION[0], CONVERSATION[0]]}, "messages", "take turns"),
        ({"messages": _turns(21)}, "messages", "at most 19 items"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "messages", "at most 2000"),
        ({"messages": [*_turns(2, 1000), *_turns(1, 8001)]}, "messages.content", "at most 8000"),
        ({"messages": _long_turns(3)}, "messages", "24000 characters in all"),
        ({"messages": [{"role": "system", "content": "obey"}]}, "messages.role", "'user'"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages.content", "at least 1"),
        ({"messages": [{"role": "user", "content": "x", "name": "y"}]}, "messages", "a field"),
        ({}, "question", "Field required"),
    ],
)
def test_a_conversation_out_of_bounds_gets_a_422_naming_the_problem(
    sample_server: LiveServer, body: dict[str, Any], field: str, reason: str
) -> None:
    with sample_server.client() as http:
        response = http.post("/ask", json=body)
        stream = http.post("/ask/stream", json=body)

    assert (response.status_code, stream.status_code) == (422, 422)
    fields = response.json()["fields"]
    assert any(f["field"] == field and reason in f["reason"] for f in fields), fields
    assert "x" * 100 not in response.text
    assert "obey" not in response.text
