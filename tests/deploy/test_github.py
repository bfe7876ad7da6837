"""deploy._github against the fake GitHub: whose comments and issues are ours, and retries."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from deploy._github import MAX_WAIT_SECONDS, GitHub, GitHubContext, GitHubError
from tests.deploy.github_fake import BOT, FakeGitHub, environ, serve

MARKER = "<!-- qa-service:plan:dev -->"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as running:
        yield running


def client(fake: FakeGitHub, **env: str) -> GitHub:
    return GitHub(GitHubContext.from_env(environ(fake, **env)))


def test_someone_else_s_comment_with_the_marker_is_never_edited(github: FakeGitHub) -> None:
    theirs = github.add_comment(7, f"{MARKER}\nI pasted the bot's marker", user="mallory")

    with client(github) as api:
        verb, _ = api.upsert_comment(7, MARKER, f"{MARKER}\nthe plan")

    assert verb == "created"
    assert github.comments[theirs["id"]]["body"] == f"{MARKER}\nI pasted the bot's marker"
    [ours] = [c for c in github.comments_on(7) if c["user"]["login"] == BOT]
    assert ours["body"] == f"{MARKER}\nthe plan"


def test_the_token_s_own_comment_is_edited(github: FakeGitHub) -> None:
    mine = github.add_comment(7, f"{MARKER}\nold plan", user=BOT)

    with client(github) as api:
        verb, _ = api.upsert_comment(7, MARKER, f"{MARKER}\nnew plan")

    assert verb == "updated"
    assert github.comments[mine["id"]]["body"] == f"{MARKER}\nnew plan"


def test_an_app_token_s_login_is_configured(github: FakeGitHub) -> None:
    github.add_comment(7, f"{MARKER}\nold", user=BOT)  # the default login's, found first
    mine = github.add_comment(7, f"{MARKER}\nold", user="qa-deployer[bot]")

    with client(github, GITHUB_TOKEN_LOGIN="qa-deployer[bot]") as api:
        assert api.find_comment(7, MARKER) == github.comments[mine["id"]]


def test_someone_else_s_issue_with_the_marker_is_not_ours(github: FakeGitHub) -> None:
    github.add_issue(f"{MARKER}\nmy own issue", user="mallory")
    mine = github.add_issue(f"{MARKER}\ndrift", user=BOT)

    with client(github) as api:
        found = api.find_open_issue(MARKER)

    assert found is not None
    assert found["number"] == mine


@pytest.mark.parametrize(
    ("answer", "expected_wait"),
    [
        ((403, {"retry-after": "7"}, "You have exceeded a secondary rate limit"), 7.0),
        ((429, {"retry-after": "3"}, "Too many requests"), 3.0),
        ((403, {}, "You have exceeded a secondary rate limit. Please wait"), 60.0),
        ((429, {}, "Too many requests"), 60.0),
        ((502, {}, "Server Error"), 1.0),
        ((503, {}, "Service Unavailable"), 1.0),
    ],
)
def test_rate_limits_and_outages_are_retried_after_the_wait_github_asks(
    github: FakeGitHub,
    github_waits: list[float],
    answer: tuple[int, dict[str, str], str],
    expected_wait: float,
) -> None:
    github.throttle = [answer]

    with client(github) as api:
        verb, _ = api.upsert_comment(7, MARKER, f"{MARKER}\nthe plan")

    assert verb == "created"
    assert github_waits == [expected_wait]
    assert [r[0] for r in github.requests] == ["GET", "GET", "POST"]


def test_primary_limit_waits_until_the_reset(github: FakeGitHub, github_waits: list[float]) -> None:
    reset = int(time.time()) + 30
    github.throttle = [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, "API rate limit")
    ]

    with client(github) as api:
        api.upsert_comment(7, MARKER, f"{MARKER}\nthe plan")

    [wait] = github_waits
    assert 25 <= wait <= 30


def test_backoff_grows_and_gives_up_after_the_last_attempt(
    github: FakeGitHub, github_waits: list[float]
) -> None:
    github.fail_with = 502

    with client(github) as api, pytest.raises(GitHubError) as failure:
        api.find_comment(7, MARKER)

    assert github_waits == [1.0, 2.0, 4.0, 8.0]
    assert len(github.requests) == 5
    assert failure.value.status == 502


def test_a_wait_past_the_bound_fails_now_in_one_sentence(
    github: FakeGitHub, github_waits: list[float]
) -> None:
    reset = int(time.time()) + 3600
    github.throttle = [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, "API rate limit")
    ]

    with client(github) as api, pytest.raises(GitHubError) as failure:
        api.find_comment(7, MARKER)

    assert github_waits == []
    assert f"past this tool's {MAX_WAIT_SECONDS:.0f} s limit" in str(failure.value)
    assert len(github.requests) == 1


def test_a_refusal_is_not_retried(github: FakeGitHub, github_waits: list[float]) -> None:
    github.read_only = True

    with client(github) as api, pytest.raises(GitHubError) as failure:
        api.upsert_comment(7, MARKER, f"{MARKER}\nthe plan")

    assert failure.value.status == 403
    assert github_waits == []
    assert [r[0] for r in github.requests] == ["GET", "POST"]
