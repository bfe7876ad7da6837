"""bedrock-runtime on loopback, scripted reply by reply, for a real client; and a stubbed
aiobotocore client for request shapes checked against the service model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber

from tests.bedrock_standin import stream_event, stream_exception
from tests.servers import HTTPServerThread, QuietHandler


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]


class FakeBedrock:
    """A loopback HTTP server speaking bedrock-runtime's wire format to a real boto3 client
    (AWS_ENDPOINT_URL_BEDROCK_RUNTIME points the client here). It answers each request with
    the next scripted Reply, the last one repeating, and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                fake.seen.append(Seen(self.path, dict(self.headers), self.read_json()))
                reply = fake.replies[min(len(fake.seen), len(fake.replies)) - 1]
                self.reply(reply.status, reply.body, reply.headers)

        self._server = HTTPServerThread(Handler)
        self.url = self._server.url

    event = staticmethod(stream_event)
    exception = staticmethod(stream_exception)

    def reply_stream(self, frames: list[bytes]) -> None:
        self.replies.append(
            Reply(200, b"".join(frames), {"content-type": "application/vnd.amazon.eventstream"})
        )

    def reply_json(self, payload: dict[str, Any]) -> None:
        self.replies.append(
            Reply(200, json.dumps(payload).encode(), {"content-type": "application/json"})
        )

    def reply_error(self, status: int, code: str, message: str) -> None:
        self.replies.append(
            Reply(
                status,
                json.dumps({"message": message}).encode(),
                {
                    "content-type": "application/json",
                    "x-amzn-ErrorType": f"{code}:http://internal/",
                },
            )
        )

    def close(self) -> None:
        self._server.close()


@asynccontextmanager
async def stubbed_client() -> AsyncIterator[tuple[Any, AioStubber]]:
    """An aiobotocore bedrock-runtime client and the AioStubber that answers its calls
    (parameter validation on, botocore's default); every queued reply must be asked for."""
    creating = get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    async with creating as client:
        with AioStubber(client) as stubber:
            yield client, stubber
            stubber.assert_no_pending_responses()
