"""A small fake of the GitHub REST calls the deploy tools make, as a real HTTP server.

It runs on 127.0.0.1 in a thread and keeps issues and comments in memory. Like GitHub it
pages lists (`per_page` capped at `page_size`, `Link: <...>; rel="next"`), refuses a body
over 65,536 characters with 422, a wrong token with 401, and every write with 403 when
`read_only` (the token a fork's pull request gets). What the token writes is authored by
`BOT` (GitHub's login for a workflow's GITHUB_TOKEN). `throttle` holds answers GitHub gives
under load, served one per request before the real answer: `(status, headers, message)`,
e.g. `(403, {"retry-after": "1"}, "You have exceeded a secondary rate limit")`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import HTTPServerThread, QuietHandler

TOKEN = "ghs_faketoken0123456789abcdefghijklmnopqrstu"  # not a real token: the fake's own
REPO = "acme/qa-service"
MAX_BODY = 65_536
BOT = "github-actions[bot]"


@dataclass
class FakeGitHub:
    page_size: int = 100
    read_only: bool = False
    fail_with: int | None = None
    throttle: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> issue
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    link_base: str | None = None  # where `next` links point (default: this server)
    _next_id: int = 1000

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_comment(self, issue: int, body: str, user: str = "someone") -> dict[str, Any]:
        comment_id = self.new_id()
        comment = {
            "id": comment_id,
            "issue": issue,
            "body": body,
            "user": {"login": user},
            "html_url": f"https://github.test/{REPO}/pull/{issue}#issuecomment-{comment_id}",
        }
        self.comments[comment_id] = comment
        return comment

    def add_issue(
        self, body: str, state: str = "open", pull_request: bool = False, user: str = BOT
    ) -> int:
        number = len(self.issues) + 1
        issue: dict[str, Any] = {
            "number": number,
            "title": f"issue {number}",
            "body": body,
            "state": state,
            "labels": [],
            "user": {"login": user},
            "html_url": f"https://github.test/{REPO}/issues/{number}",
        }
        if pull_request:
            issue["pull_request"] = {"url": "..."}
        self.issues[number] = issue
        return number

    def comments_on(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == issue]

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]


def _handler(fake: FakeGitHub) -> type[QuietHandler]:
    prefix = f"/repos/{REPO}"

    class Handler(QuietHandler):
        def _guard(self) -> bool:
            fake.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.reply_json(401, {"message": "Bad credentials"})
                return False
            if fake.throttle:
                status, headers, message = fake.throttle.pop(0)
                self.reply_json(status, {"message": message}, headers)
                return False
            if fake.fail_with:
                self.reply_json(fake.fail_with, {"message": "Server Error"})
                return False
            if self.command != "GET" and fake.read_only:
                self.reply_json(403, {"message": "Resource not accessible by integration"})
                return False
            return True

        def _page(self, items: list[dict[str, Any]]) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            per_page = min(int(query.get("per_page", "30")), fake.page_size)
            page = int(query.get("page", "1"))
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(items):
                base = fake.link_base or fake.url
                nxt = f"{base}{parts.path}?per_page={per_page}&page={page + 1}"
                if "state" in query:
                    nxt += f"&state={query['state']}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            self.reply_json(200, chunk, headers)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._guard():
                return
            path = urlsplit(self.path).path
            query = parse_qs(urlsplit(self.path).query)
            if m := re.fullmatch(rf"{prefix}/issues/(\d+)/comments", path):
                self._page(fake.comments_on(int(m[1])))
            elif path == f"{prefix}/issues":
                state = query.get("state", ["open"])[0]
                self._page([i for i in fake.issues.values() if i["state"] == state])
            else:
                self.reply_json(404, {"message": "Not Found"})

        def _write(self) -> tuple[str, dict[str, Any]] | None:
            """The path and JSON body of a write GitHub accepts; None once it answered a refusal."""
            if not self._guard():
                return None
            body = self.read_json()
            if len(body.get("body") or "") > MAX_BODY:
                self.reply_json(422, {"message": "Body is too long (maximum is 65536 characters)"})
                return None
            return urlsplit(self.path).path, body

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if (write := self._write()) is None:
                return
            path, body = write
            if m := re.fullmatch(rf"{prefix}/issues/(\d+)/comments", path):
                self.reply_json(201, fake.add_comment(int(m[1]), body["body"], user=BOT))
            elif path == f"{prefix}/issues":
                number = fake.add_issue(body["body"])
                fake.issues[number].update(title=body["title"], labels=body.get("labels", []))
                self.reply_json(201, fake.issues[number])
            else:
                self.reply_json(404, {"message": "Not Found"})

        def do_PATCH(self) -> None:  # noqa: N802 (http.server's name)
            if (write := self._write()) is None:
                return
            path, body = write
            if (m := re.fullmatch(rf"{prefix}/issues/comments/(\d+)", path)) and int(
                m[1]
            ) in fake.comments:
                fake.comments[int(m[1])]["body"] = body["body"]
                self.reply_json(200, fake.comments[int(m[1])])
            elif (m := re.fullmatch(rf"{prefix}/issues/(\d+)", path)) and int(m[1]) in fake.issues:
                fake.issues[int(m[1])].update(body)
                self.reply_json(200, fake.issues[int(m[1])])
            else:
                self.reply_json(404, {"message": "Not Found"})

    return Handler


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    with HTTPServerThread(_handler(fake)) as server:
        fake.url = server.url
        yield fake


def environ(fake: FakeGitHub, **extra: str) -> dict[str, str]:
    """The environment a workflow step gives the tools, pointed at the fake."""
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake.url,
        **extra,
    }
