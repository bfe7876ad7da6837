"""The page asks follow-up questions (issue 14 item 5) and shows how an answer ended (item 2),
in a real browser against the real server (the fixtures of test_page_browser.py: Debian's
chromium, skipped with one line where it is missing)."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Request, expect

from tests.app.test_page_browser import (  # noqa: F401 (pytest fixtures, used by name)
    Watched,
    api_answer,
    ask,
    base_url,
    browser,
    playwright,
    watched,
)

FIRST = "Which images does ECR keep for a rollback?"
FOLLOW_UP = "And how long is that window?"


def _bodies(watched: Watched) -> list[dict[str, Any]]:  # noqa: F811
    bodies: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            bodies.append(json.loads(request.post_data or "{}"))

    watched.page.on("request", record)
    return bodies


def test_a_follow_up_is_sent_with_the_conversation_and_answered(
    base_url: str,  # noqa: F811
    watched: Watched,  # noqa: F811
) -> None:
    first = api_answer(base_url, FIRST)
    page = watched.page
    bodies = _bodies(watched)
    page.goto(f"{base_url}/")

    ask(page, FIRST)
    expect(page.locator("#answer")).to_have_text(first["answer"])
    expect(page.locator("#turns > li")).to_have_count(2)
    expect(page.locator("#follow-up-help")).to_be_visible()
    ask(page, FOLLOW_UP)

    expect(page.locator("#answer")).to_contain_text("keeps the last 50 SHA-tagged images")
    expect(page.locator("#turns > li")).to_have_count(4)
    assert bodies[0]["question"] == FIRST
    assert bodies[1]["messages"] == [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": first["answer"]},
        {"role": "user", "content": FOLLOW_UP},
    ]

    # A new conversation asks the question alone again: "that window" names nothing.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#history")).to_be_hidden()
    expect(page.locator("#follow-up-help")).to_be_hidden()
    ask(page, FOLLOW_UP)
    expect(page.locator("#answer")).to_have_text("I don't know from these documents.")
    assert bodies[2] == {"question": FOLLOW_UP, "mode": "hybrid", "top_k": 4}


def test_sources_the_answer_does_not_cite_are_marked(
    base_url: str,  # noqa: F811
    watched: Watched,  # noqa: F811
) -> None:
    expected = api_answer(base_url, FIRST)
    uncited = len(expected["sources"]) - len(expected["cited"])
    assert uncited > 0, "the test question should leave a source uncited"
    page = watched.page
    page.goto(f"{base_url}/")

    ask(page, FIRST)

    expect(page.locator("#answer")).to_have_text(expected["answer"])
    expect(page.locator("#sources > li.uncited")).to_have_count(uncited)
    for number in expected["cited"]:
        expect(page.locator(f"#source-{number}")).not_to_have_class("uncited")


def test_a_cut_short_answer_and_removed_citations_are_said(
    base_url: str,  # noqa: F811
    watched: Watched,  # noqa: F811
) -> None:
    # The server's own stream, its `done` event rewritten as a model cut at maxTokens that
    # invented a citation would have it.
    page = watched.page

    def cut_short(route: Any) -> None:
        real = route.fetch()
        events = real.text()
        done = events[events.index("event: done") :]
        data = json.loads(done.split("data: ", 1)[1].split("\n", 1)[0])
        data |= {"stop_reason": "max_tokens", "truncated": True, "citations_removed": [7]}
        body = events[: events.index("event: done")] + f"event: done\ndata: {json.dumps(data)}\n\n"
        route.fulfill(response=real, body=body)

    page.route("**/ask/stream", cut_short)
    page.goto(f"{base_url}/")

    ask(page, FIRST)

    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("cut short")
    expect(notice).to_contain_text("[7]")
