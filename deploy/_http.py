"""A minimal HTTP client on the standard library, for the smoke checks.

Why not httpx: the same checks run inside the blue/green smoke hook, a Lambda function whose
runtime provides the standard library and boto3 only (deploy/smoke_hook.py). One request per
connection, no redirects followed (a redirect is an answer to check, not to chase), a bounded
timeout on connect and on every read.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Client", "Response", "TransportError"]


class TransportError(Exception):
    """No HTTP answer: the sentence says why (cannot connect, no response in time, ...)."""


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)


class Client:
    """Requests relative to `base_url` (http or https; its path is a prefix)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{base_url}' is not an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_json(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/json", **(headers or {})}
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            try:
                connection.connect()
            except TimeoutError as exc:
                raise TransportError("no connection before the request timeout") from exc
            except OSError as exc:
                raise TransportError("cannot connect") from exc
            try:
                connection.request(method, self._prefix + path, body=body, headers=headers or {})
                answer = connection.getresponse()
                content = answer.read()
            except TimeoutError as exc:
                raise TransportError("no response before the request timeout") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise TransportError(f"the connection broke ({type(exc).__name__})") from exc
            headers_out = {k.lower(): v for k, v in answer.getheaders()}
            return Response(answer.status, headers_out, content)
        finally:
            connection.close()
