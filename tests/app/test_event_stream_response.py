"""How /ask/stream's response leaves: the last events share the body's end (one send)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from app.api.ask import EventStreamResponse, _Last
from app.api.rendering import event


async def _sent(chunks: list[bytes]) -> list[dict[str, Any]]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(message)

    await EventStreamResponse(body()).stream_response(send)
    return messages


def test_the_last_events_go_out_with_the_end_of_the_body() -> None:
    done = _Last(event("delta", {"text": "held"}) + event("done", {"stop_reason": "end_turn"}))
    messages = asyncio.run(_sent([event("sources", {"sources": []}), done]))

    assert [m["type"] for m in messages] == ["http.response.start"] + ["http.response.body"] * 2
    assert messages[-1] == {"type": "http.response.body", "body": done, "more_body": False}


def test_a_body_without_a_last_event_still_ends() -> None:
    messages = asyncio.run(_sent([b"event: sources\ndata: {}\n\n"]))

    assert messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert messages[1]["more_body"] is True


def test_an_event_is_one_data_line_whatever_the_text_holds() -> None:
    assert event("delta", {"text": "a\nb\r\u2028é"}) == (
        b'event: delta\ndata: {"text":"a\\nb\\r\\u2028\\u00e9"}\n\n'
    )
