"""The few GitHub REST calls the deploy tools make: find, create and edit a comment or issue.

Context comes from the environment GitHub Actions sets: `GITHUB_TOKEN`, `GITHUB_REPOSITORY`
(`owner/name`), `GITHUB_API_URL` (GitHub Enterprise, or a local fake in tests). Lists are
read page by page through the `Link` header, and a `next` link is followed only while it
stays on the API host, so the token is never sent anywhere else.

Only what the token itself wrote is edited or closed: a comment or issue is ours when it
starts with the marker AND its author's login is the token's (`GITHUB_TOKEN_LOGIN`, default
`github-actions[bot]`, the login GitHub gives everything written with a workflow's
GITHUB_TOKEN). The login is configured, not looked up: an installation token (GITHUB_TOKEN,
or a GitHub App's) cannot read `GET /user`. With an App token set it to `<app-slug>[bot]`.

Retries follow GitHub's "Rate limits for the REST API" (docs.github.com/en/rest/
using-the-rest-api/rate-limits-for-the-rest-api, "Exceeding the rate limit" and "Handle rate
limit errors appropriately"): a 403 or 429 with `retry-after` waits that many seconds; with
`x-ratelimit-remaining: 0` it waits until `x-ratelimit-reset` (UTC epoch seconds); another
429 or a 403 that says "secondary rate limit" waits a minute; 5xx and connection errors wait
1, 2, 4 s. At most MAX_ATTEMPTS tries and MAX_WAIT_SECONDS of waiting in all: a limit that
resets later than that fails now, in one sentence saying when it resets, instead of holding
a runner for up to an hour. A 403 without those signs is a refusal and is not retried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from deploy._cli import ConfigError, DeployError

__all__ = ["GitHub", "GitHubContext", "GitHubError", "pr_number"]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_LOGIN = "github-actions[bot]"
MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 180.0
_SECONDARY_WAIT = 60.0  # GitHub: "wait for at least one minute before retrying"
_sleep: Callable[[float], None] = time.sleep  # looked up per call: tests record the waits
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubError(DeployError):
    """GitHub answered with an error status; `status` tells a refusal from an outage."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHubContext:
    token: str
    repository: str
    api_url: str = DEFAULT_API_URL
    login: str = DEFAULT_LOGIN

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitHubContext:
        token = environ.get("GITHUB_TOKEN", "")
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not token:
            raise ConfigError(
                "GITHUB_TOKEN is not set; pass `GITHUB_TOKEN: ${{ github.token }}` "
                "in the step's env."
            )
        if not _REPOSITORY.fullmatch(repository):
            raise ConfigError(
                f"GITHUB_REPOSITORY must be owner/name, got {repository!r}; "
                "GitHub Actions sets it in every job."
            )
        api_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        login = environ.get("GITHUB_TOKEN_LOGIN") or DEFAULT_LOGIN
        return cls(token=token, repository=repository, api_url=api_url, login=login)


def pr_number(environ: Mapping[str, str]) -> int:
    raw = environ.get("PR_NUMBER", "")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"PR_NUMBER must be the pull request number, got {raw!r}; "
            "pass `PR_NUMBER: ${{ github.event.pull_request.number }}` in the step's env."
        )
    return int(raw)


class GitHub:
    def __init__(
        self,
        context: GitHubContext,
        client: httpx.Client | None = None,
    ) -> None:
        self.context = context
        self._client = client or httpx.Client(timeout=httpx.Timeout(30.0))
        self._headers = {
            "Authorization": f"Bearer {context.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "qa-service-deploy",
        }

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    # --- issue comments (a pull request's conversation is its issue's comments) -------------

    def _ours(self, item: Mapping[str, Any], marker: str) -> bool:
        """Written by this token and starting with `marker` (a reply quoting it does not)."""
        author = (item.get("user") or {}).get("login")
        return author == self.context.login and str(item.get("body") or "").startswith(marker)

    def find_comment(self, number: int, marker: str) -> dict[str, Any] | None:
        """The comment this token wrote that starts with `marker`."""
        for comment in self._pages(f"/issues/{number}/comments"):
            if self._ours(comment, marker):
                return comment
        return None

    def upsert_comment(self, number: int, marker: str, body: str) -> tuple[str, str]:
        """Edit the comment that carries `marker`, or create it; returns (verb, html_url)."""
        existing = self.find_comment(number, marker)
        if existing is not None:
            comment = self._request("PATCH", f"/issues/comments/{existing['id']}", {"body": body})
            return "updated", str(comment.get("html_url", ""))
        comment = self._request("POST", f"/issues/{number}/comments", {"body": body})
        return "created", str(comment.get("html_url", ""))

    # --- issues ------------------------------------------------------------------------------

    def find_open_issue(self, marker: str) -> dict[str, Any] | None:
        for issue in self._pages("/issues", {"state": "open"}):
            if "pull_request" not in issue and self._ours(issue, marker):
                return issue
        return None

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        return self._request("POST", "/issues", {"title": title, "body": body, "labels": labels})

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        return self._request("PATCH", f"/issues/{number}", fields)

    def comment(self, number: int, body: str) -> dict[str, Any]:
        return self._request("POST", f"/issues/{number}/comments", {"body": body})

    # --- plumbing ----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.context.api_url}/repos/{self.context.repository}{path}"

    def _pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        url: str | None = self._url(path)
        query: dict[str, str] | None = {"per_page": "100", **(params or {})}
        while url:
            response = self._send("GET", url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GitHub API GET {url} did not answer with a list.", 502)
            yield from (item for item in items if isinstance(item, dict))
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query
            if url and not url.startswith(self.context.api_url + "/"):
                raise GitHubError(f"GitHub API sent a next page off the API host: {url}.", 502)

    def _request(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = self._send(method, self._url(path), json=payload).json()
        return data if isinstance(data, dict) else {}

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.request(method, url, headers=self._headers, **kwargs)
            except httpx.HTTPError as exc:
                failure = GitHubError(f"GitHub API {method} {url} failed: {exc}.", 0)
                # A POST whose answer was lost may have been done: only retry one never sent.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                wait: float | None = None if sent and method == "POST" else 2.0 ** (attempt - 1)
            else:
                if not response.is_error:
                    return response
                failure = GitHubError(
                    f"GitHub API {method} {url} answered {response.status_code}: "
                    f"{_message(response)}.",
                    response.status_code,
                )
                wait = retry_wait(response, attempt)
            if wait is None or attempt == MAX_ATTEMPTS:
                raise failure
            if waited + wait > MAX_WAIT_SECONDS:
                raise GitHubError(
                    f"{str(failure).rstrip('.')}; GitHub asks to wait {wait:.0f} s more, "
                    f"past this tool's {MAX_WAIT_SECONDS:.0f} s limit: re-run the job later.",
                    failure.status,
                )
            _sleep(wait)
            waited += wait
        raise AssertionError("unreachable")  # pragma: no cover (the loop returns or raises)


def retry_wait(
    response: httpx.Response, attempt: int, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait before retrying `response` (attempt `attempt`), or None: do not retry."""
    status = response.status_code
    if status >= 500:
        return 2.0 ** (attempt - 1)
    if status not in (403, 429):
        return None
    headers = response.headers
    after = str(headers.get("retry-after", "")).strip()
    if after.isdigit():
        return float(after)
    reset = str(headers.get("x-ratelimit-reset", ""))
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, float(reset) - float(now()))
    if status == 429 or "secondary rate limit" in _message(response).lower():
        return float(_SECONDARY_WAIT * 2 ** (attempt - 1))
    return None  # a plain 403: the token may not do this; asking again changes nothing


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"]).rstrip(".")
    return response.reason_phrase or "no message"
