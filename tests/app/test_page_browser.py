"""The page in a real browser: Debian's chromium, driven by Playwright, against the real server.

The server is `app.main.create_app` under uvicorn on 127.0.0.1 (random port) with an embedded
store filled from docs/sample. API Gateway is played by a small local proxy that serves the
app under a stage prefix (`/prod`, stripped before forwarding, as API Gateway does) and
answers 403 to `/ask` and `/ask/stream` without the right `x-api-key`.

Every test also checks that the page raised no Content-Security-Policy violation and no
uncaught script error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.config import Settings
from app.main import create_app
from tests.servers import free_port, sample_settings, serve

# Debian's chromium here (scripts/system-deps.sh); GitHub's Ubuntu runners have no chromium
# package but ship Google Chrome, so ci.yml points CHROMIUM_PATH at it.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(
        f"skipped: browser tests ({CHROMIUM} is missing; scripts/system-deps.sh installs chromium)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "How do I roll back a release?"
API_KEY = "test-key-for-the-gateway"  # not a secret: the local stand-in for API Gateway checks it
STAGE = "/prod"


# --- servers ------------------------------------------------------------------------------


@dataclass
class Gateway:
    """What the stand-in for API Gateway saw: the `x-api-key` of each forwarded POST."""

    keys: list[str | None] = field(default_factory=list)
    refused: int = 0


_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host"}


def gateway_app(upstream: str, record: Gateway) -> Starlette:
    """Forwards `/prod` and `/prod/...` to `upstream` with the stage stripped, like a REST API
    stage with HTTP_PROXY integrations; POSTs need the API key (`api_key_required`)."""
    client = httpx.AsyncClient(base_url=upstream, timeout=10)

    async def forward(request: Request) -> Response:
        if request.method == "POST":
            if request.headers.get("x-api-key") != API_KEY:
                record.refused += 1
                return JSONResponse({"message": "Forbidden"}, status_code=403)
            record.keys.append(request.headers.get("x-api-key"))
        upstream_request = client.build_request(
            request.method,
            "/" + request.path_params.get("path", ""),
            params=request.query_params,
            headers={k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP},
            content=await request.body(),
        )
        reply = await client.send(upstream_request, stream=True)
        return StreamingResponse(
            reply.aiter_raw(),
            status_code=reply.status_code,
            headers={k: v for k, v in reply.headers.items() if k not in _HOP_BY_HOP},
            background=BackgroundTask(reply.aclose),
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route(STAGE, forward, methods=methods),
            Route(STAGE + "/{path:path}", forward, methods=methods),
        ],
        lifespan=lifespan,
    )


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = sample_settings(tmp_path_factory.mktemp("qdrant"))
    with serve(create_app(settings)) as server:
        yield server.url


@pytest.fixture(scope="module")
def down_url() -> Iterator[str]:
    """The real app pointed at a Qdrant server that is down (a closed port on loopback)."""
    settings = Settings.from_env(
        {"QDRANT_URL": f"http://127.0.0.1:{free_port()}", "QDRANT_TIMEOUT_S": "1"}
    )
    with serve(create_app(settings)) as server:
        yield server.url


@pytest.fixture(scope="module")
def gateway(base_url: str) -> Iterator[tuple[str, Gateway]]:
    record = Gateway()
    with serve(gateway_app(base_url, record)) as server:
        yield server.url, record


# --- browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


# Registered before any page script runs; the page's CSP does not apply to init scripts.
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class Watched:
    page: Page
    console: list[ConsoleMessage]
    errors: list[str]
    posts: list[str]  # paths of the POSTs the page made


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    context.add_init_script(_CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watched(page, [], [], [])
    page.on("console", lambda message: watched.console.append(message))
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on(
        "request",
        lambda r: watched.posts.append(httpx.URL(r.url).path) if r.method == "POST" else None,
    )
    yield watched
    csp = [m.text for m in watched.console if "Content Security Policy" in m.text]
    violations = page.evaluate("window.__cspViolations")
    context.close()
    assert csp == [], f"CSP violations in the console: {csp}"
    assert violations == [], f"CSP violations: {violations}"
    assert watched.errors == [], f"uncaught errors in the page: {watched.errors}"


def api_answer(base_url: str, question: str) -> dict[str, Any]:
    reply = httpx.post(f"{base_url}/ask", json={"question": question}, timeout=10)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask").click()


def expect_answer(page: Page, expected: dict[str, Any]) -> None:
    """The page shows the API's answer and every one of its sources, in order."""
    expect(page.locator("#answer")).to_have_text(expected["answer"])
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "false")
    items = page.locator("#sources > li")
    expect(items).to_have_count(len(expected["sources"]))
    for i, source in enumerate(expected["sources"]):
        item = items.nth(i)
        expect(item.locator(".source-document")).to_have_text(source["document"])
        expect(item.locator(".source-facts")).to_contain_text(f"score {source['score']:.3f}")
        if source["page"] is not None:
            expect(item.locator(".source-facts")).to_contain_text(f"page {source['page']}")
        expect(item.locator(".snippet")).to_have_text(source["snippet"])
    expect(page.locator("#error")).to_be_hidden()


# --- tests --------------------------------------------------------------------------------


def test_page_is_served_with_its_assets_under_a_strict_csp(base_url: str) -> None:
    page = httpx.get(f"{base_url}/", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    for name, media_type in [("app.js", "text/javascript"), ("app.css", "text/css")]:
        asset = httpx.get(f"{base_url}/", params={"asset": name}, timeout=5)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(media_type)
        version = re.search(rf"\?asset={re.escape(name)}&amp;v=([0-9a-f]+)", page.text)
        assert version, f"the page does not reference {name} with its version"
        pinned = httpx.get(f"{base_url}/", params={"asset": name, "v": version[1]}, timeout=5)
        assert pinned.content == asset.content
        assert "immutable" in pinned.headers["cache-control"]
        assert "immutable" not in asset.headers["cache-control"]  # unversioned: revalidate
    assert "immutable" not in page.headers["cache-control"]
    unknown = httpx.get(f"{base_url}/", params={"asset": "../config.py"}, timeout=5)
    assert unknown.status_code == 422
    assert "asset" in unknown.json()["error"]


def test_question_shows_the_streamed_answer_and_its_sources(
    base_url: str, watched: Watched
) -> None:
    expected = api_answer(base_url, QUESTION)
    assert expected["sources"], "the sample corpus should answer the test question"
    page = watched.page
    page.goto(f"{base_url}/")
    expect(page).to_have_title("Ask the documents · qa-service")

    ask(page, QUESTION)

    expect_answer(page, expected)
    assert watched.posts == ["/ask/stream"]
    expect(page.locator("#meta")).to_contain_text("extractive")
    expect(page.locator("#status")).to_have_text("Answer ready.")
    # Each [n] in the answer links to source n, in order.
    # The extractive answer quotes its passages with their numbers: none would be a bug, and
    # would leave nothing below to check.
    numbers = re.findall(r"\[(\d+)\]", expected["answer"])
    assert numbers, expected["answer"]
    cites = page.locator("#answer a.cite")
    expect(cites).to_have_count(len(numbers))
    for index, number in enumerate(numbers):
        expect(cites.nth(index)).to_have_attribute("href", f"#source-{number}")


def test_loading_state_shows_until_the_answer_arrives(base_url: str, watched: Watched) -> None:
    page = watched.page
    held: list[Any] = []
    page.route("**/ask/stream", lambda route: held.append(route))
    page.goto(f"{base_url}/")
    ask(page, QUESTION)

    button = page.get_by_role("button", name="Asking…")
    expect(button).to_be_disabled()
    expect(page.locator("#status")).to_have_text("Searching the documents…")
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].continue_()

    expect(page.get_by_role("button", name="Ask")).to_be_enabled()
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#answer")).not_to_be_empty()


def test_without_streaming_the_page_asks_once_and_ctrl_enter_sends(
    base_url: str, watched: Watched
) -> None:
    expected = api_answer(base_url, QUESTION)
    page = watched.page
    page.goto(f"{base_url}/")
    page.locator("summary", has_text="Options").click()
    page.get_by_label("Show the answer as it is written").uncheck()

    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_label("Your question").press("Control+Enter")

    expect_answer(page, expected)
    assert watched.posts == ["/ask"]


def test_falls_back_to_ask_when_streaming_is_not_available(base_url: str, watched: Watched) -> None:
    expected = api_answer(base_url, QUESTION)
    page = watched.page
    page.route(
        "**/ask/stream",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body=json.dumps({"error": "no"})
        ),
    )
    page.goto(f"{base_url}/")

    ask(page, QUESTION)

    expect_answer(page, expected)
    assert watched.posts == ["/ask/stream", "/ask"]


def test_options_reach_the_api_and_its_422_is_shown_in_words(
    base_url: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{base_url}/")
    page.locator("summary", has_text="Options").click()
    page.get_by_label("Passages to read").fill("99")
    page.get_by_label("Search mode").select_option("sparse")
    with page.expect_request("**/ask/stream") as sent:
        ask(page, QUESTION)
    assert sent.value.post_data_json == {"question": QUESTION, "top_k": 99, "mode": "sparse"}

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Error 422")
    expect(alert).to_contain_text("top_k")
    expect(alert).to_contain_text("less than or equal to 20")
    expect(alert).to_contain_text("(request ")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.get_by_role("button", name="Ask")).to_be_enabled()


@pytest.mark.parametrize(
    ("ending", "shown"),
    [
        (
            'event: error\ndata: {"error":"Bedrock is still throttling; try again shortly.",'
            '"request_id":"r-midway","status":503}\n\n',
            "Error 503: Bedrock is still throttling; try again shortly. (request r-midway)",
        ),
        ("", "The connection closed before the answer was complete"),
    ],
    ids=["error-event", "cut-off"],
)
def test_an_answer_that_fails_midway_keeps_what_arrived_and_says_why(
    base_url: str, watched: Watched, ending: str, shown: str
) -> None:
    """The real server's stream, cut before its `done` event, then ended by `ending`."""
    page = watched.page

    def cut(route: Any) -> None:
        real = route.fetch()
        events = real.text()
        assert "event: done" in events
        route.fulfill(response=real, body=events[: events.index("event: done")] + ending)

    page.route("**/ask/stream", cut)
    page.goto(f"{base_url}/")

    ask(page, QUESTION)

    expect(page.get_by_role("alert")).to_contain_text(shown)
    expect(page.locator("#sources > li").first).to_be_visible()
    expect(page.locator("#answer")).not_to_be_empty()
    expect(page.locator("#status")).to_be_empty()


def test_store_down_is_shown_in_words(down_url: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{down_url}/")

    ask(page, QUESTION)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Error 503", timeout=15_000)
    expect(alert).to_contain_text("vector store is unavailable")
    expect(alert).to_contain_text(re.compile(r"\(retry after \d+ s\)"))
    expect(page.locator("#result")).to_be_hidden()


def test_empty_question_is_refused_without_a_request(base_url: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{base_url}/")

    ask(page, "   ")

    expect(page.get_by_role("alert")).to_have_text("Error: Type a question first.")
    assert watched.posts == []


def test_behind_the_gateway_the_key_is_asked_once_and_kept_for_the_session(
    base_url: str, gateway: tuple[str, Gateway], watched: Watched
) -> None:
    gateway_url, record = gateway
    expected = api_answer(base_url, QUESTION)
    page = watched.page
    # The stage URL as API Gateway's invoke_url spells it: no trailing slash.
    page.goto(gateway_url + STAGE)
    expect(page.locator(".card").first).to_have_css("border-top-style", "solid")  # CSS loaded

    ask(page, QUESTION)
    key_form = page.locator("#key-form")
    expect(key_form).to_be_visible()
    expect(key_form).to_contain_text("needs an API key")
    expect(page.get_by_label("API key")).to_be_focused()

    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Use this key").click()
    expect(key_form).to_contain_text("refused the key")
    assert page.evaluate("sessionStorage.getItem('qa-service.api-key')") is None

    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Use this key").click()
    expect_answer(page, expected)
    expect(key_form).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('qa-service.api-key')") == API_KEY
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert record.keys == [API_KEY]
    assert watched.posts == [f"{STAGE}/ask/stream"] * 3

    # A second question and a reload of the tab: no prompt, the key goes with each request.
    page.reload()
    ask(page, "How do I rotate the Qdrant key?")
    expect(page.locator("#answer")).not_to_be_empty()
    expect(key_form).to_be_hidden()
    assert record.keys == [API_KEY, API_KEY]
    assert record.refused == 2

    # "Forget the API key" clears it: the next question asks for it again.
    page.get_by_role("button", name="Forget the API key").click()
    assert page.evaluate("sessionStorage.getItem('qa-service.api-key')") is None
    ask(page, QUESTION)
    expect(key_form).to_be_visible()
    expect(key_form).to_contain_text("needs an API key")
    assert record.refused == 3


def test_page_fits_a_phone(base_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/")
        ask(page, QUESTION)
        expect(page.locator("#sources > li").first).to_be_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than a 360px phone screen"
        font_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font_px >= 16
    finally:
        context.close()


def test_csp_listener_catches_a_violation(base_url: str, browser: Browser) -> None:
    """The CSP check in every test above could not pass by accident: an inline style is caught."""
    context = browser.new_context()
    context.add_init_script(_CSP_LISTENER)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/")
        page.evaluate(
            "document.head.append(Object.assign(document.createElement('style'),"
            " {textContent: 'body { color: red }'}))"
        )
        page.wait_for_function("window.__cspViolations.length > 0")
        assert page.evaluate("window.__cspViolations[0]").startswith("style-src")
    finally:
        context.close()
