"""A slow bedrock-runtime on loopback, for `make bench` and the concurrency tests: a real HTTP
server (uvicorn) that speaks Bedrock's wire format to a real boto3 client and takes as long
as a model does, counting the calls it holds at once.

    POST /model/{id}/converse         JSON, after --converse-s
    POST /model/{id}/converse-stream  application/vnd.amazon.eventstream, chunked: the first
                                      delta after --first-token-s, then --deltas in all,
                                      evenly over --stream-s
    POST /model/{id}/invoke           Titan V2 JSON `{"embedding": [...]}` after --invoke-s
    POST /rerank                      bedrock-agent-runtime's Rerank: `{"results": [{"index",
                                      "relevanceScore"}]}` best first, scored by
                                      `rerank_score` (point AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME
                                      here)
    GET  /stats                       {"peak": {kind: most calls at once}, "calls": {...}}
    POST /stats/reset

    python -m tests.bedrock_standin --port N [--converse-s 1.0] ...

`event_frame` is the one encoder of AWS event-stream messages the tests and the bench use.
Everything binds 127.0.0.1: nothing here reaches beyond the machine.

Tests can also script what the model says: `script_converse(reply)` queues the next Converse
replies (`converse_reply(...)` builds one), `script_stream(events)` the next ConverseStream
ones (`stream_reply(...)`), each used once, in order; unscripted calls get the default
replies above. With `record=True`, `requests` holds every call as (operation, model id, JSON body).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.types import Receive, Scope, Send

EVENTSTREAM = "application/vnd.amazon.eventstream"


def event_frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One message of the AWS event-stream encoding (what ConverseStream sends on the wire,
    and what botocore/eventstream.py decodes): prelude (total length, headers length, CRC),
    headers (type 7 = string), the JSON payload, then the CRC of the whole message."""
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 16 + len(encoded) + len(body), len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + body
    return message + struct.pack(">I", zlib.crc32(message))


def stream_event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return event_frame(headers, payload)


def stream_exception(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return event_frame(headers, {"message": message})


def pseudo_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-length vector for `text` (the same text, the same vector)."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] + 31 * i) % 251) / 250 - 0.5 for i in range(dimensions)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


_QUESTION_WORDS = {"what", "which", "when", "where", "does", "with", "that", "this", "from"}


def rerank_score(query: str, text: str) -> float:
    """A deterministic stand-in for a reranker's relevance (0-1): the share of the query's
    words of four letters or more (question words aside) that the text contains."""
    words = set(re.findall(r"[a-z0-9]{4,}", query.lower())) - _QUESTION_WORDS
    if not words:
        return 0.0
    found = set(re.findall(r"[a-z0-9]{4,}", text.lower()))
    return round(len(words & found) / len(words), 4)


def rerank_reply(request: dict[str, Any]) -> dict[str, Any]:
    """Rerank's reply to `request` (botocore's bedrock-agent-runtime model: one TEXT query,
    INLINE TEXT sources; at most numberOfResults results, best first)."""
    query = request["queries"][0]["textQuery"]["text"]
    texts = [s["inlineDocumentSource"]["textDocument"]["text"] for s in request["sources"]]
    config = request["rerankingConfiguration"]["bedrockRerankingConfiguration"]
    scored = sorted(
        ((rerank_score(query, text), index) for index, text in enumerate(texts)),
        key=lambda pair: (-pair[0], pair[1]),
    )[: int(config.get("numberOfResults", len(texts)))]
    return {"results": [{"index": i, "relevanceScore": score} for score, i in scored]}


@dataclass
class Timing:
    converse_s: float = 1.0
    first_token_s: float = 0.5
    stream_s: float = 2.0
    deltas: int = 20
    invoke_s: float = 0.05


class SlowBedrock:
    """The ASGI app. `peak[kind]` is the most calls of that kind it held at once."""

    def __init__(
        self, timing: Timing, *, gather: int = 0, gather_s: float = 5.0, record: bool = False
    ) -> None:
        self.timing = timing
        self.record = record  # off for the bench: parsing every body costs its CPU
        # Tests: hold each call until `gather` of its kind are waiting at once (at most
        # `gather_s`), so that a slow test machine cannot let early calls finish before the
        # last ones arrive. A service that caps its calls below `gather` just waits gather_s.
        self.gather, self.gather_s = gather, gather_s
        self._gathered: dict[str, asyncio.Event] = {}
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._converse_script: list[dict[str, Any]] = []
        self._stream_script: list[list[tuple[str, dict[str, Any]]]] = []
        self.last: dict[str, Any] = {}  # the last request body of each kind, parsed

    def script_converse(self, *replies: dict[str, Any]) -> None:
        """The next Converse calls answer these bodies, one each, in order."""
        self._converse_script.extend(replies)

    def script_stream(self, *streams: list[tuple[str, dict[str, Any]]]) -> None:
        """The next ConverseStream calls send these (event type, payload) lists."""
        self._stream_script.extend(streams)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        if path == "/stats":
            if scope["method"] == "POST":
                self.peak.clear()
                self.calls.clear()
            stats = {"peak": dict(self.peak), "calls": dict(self.calls)}
            await _reply(send, 200, json.dumps(stats).encode(), "application/json")
            return
        kind = path.rsplit("/", 1)[-1]  # converse, converse-stream, invoke, rerank
        if self.record:
            model = unquote(path.removeprefix("/model/").rpartition("/")[0])
            self.requests.append((kind, model, json.loads(body or b"{}")))
        self.in_flight[kind] += 1
        self.calls[kind] += 1
        self.peak[kind] = max(self.peak[kind], self.in_flight[kind])
        try:
            if self.gather:
                await self._wait_for_company(kind)
            if kind == "converse":
                await asyncio.sleep(self.timing.converse_s)
                reply = self._converse_script.pop(0) if self._converse_script else _converse_reply()
                await _reply(send, 200, json.dumps(reply).encode(), "application/json")
            elif kind == "converse-stream":
                if self._stream_script:
                    await self._scripted_stream(send, self._stream_script.pop(0))
                else:
                    await self._stream(send)
            elif kind == "rerank":
                self.last[kind] = request = json.loads(body or b"{}")
                await asyncio.sleep(self.timing.invoke_s)
                reply = json.dumps(rerank_reply(request)).encode()
                await _reply(send, 200, reply, "application/json")
            elif kind == "invoke":
                request = json.loads(body or b"{}")
                await asyncio.sleep(self.timing.invoke_s)
                vector = pseudo_embedding(
                    str(request.get("inputText", "")), int(request.get("dimensions", 1024))
                )
                reply = {"embedding": vector, "inputTextTokenCount": 8}
                await _reply(send, 200, json.dumps(reply).encode(), "application/json")
            else:
                await _reply(send, 404, b'{"message":"unknown operation"}', "application/json")
        finally:
            self.in_flight[kind] -= 1

    async def _wait_for_company(self, kind: str) -> None:
        gathered = self._gathered.setdefault(kind, asyncio.Event())
        if self.in_flight[kind] >= self.gather:
            gathered.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gathered.wait(), self.gather_s)

    async def _scripted_stream(self, send: Send, events: list[tuple[str, dict[str, Any]]]) -> None:
        await _start_stream(send)
        for index, (kind, payload) in enumerate(events):
            more = index < len(events) - 1
            frame = stream_event(kind, payload)
            await send({"type": "http.response.body", "body": frame, "more_body": more})

    async def _stream(self, send: Send) -> None:
        timing = self.timing
        # No content-length: uvicorn sends it chunked, one chunk per event, as Bedrock does.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", EVENTSTREAM.encode())],
            }
        )

        async def frame(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await frame(stream_event("messageStart", {"role": "assistant"}))
        await asyncio.sleep(timing.first_token_s)
        gap = timing.stream_s / max(1, timing.deltas - 1)
        for index in range(timing.deltas):
            if index:
                await asyncio.sleep(gap)
            text = f"word{index} " if index < timing.deltas - 1 else "done [1]."
            await frame(
                stream_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
            )
        await frame(stream_event("contentBlockStop", {"contentBlockIndex": 0}))
        await frame(stream_event("messageStop", {"stopReason": "end_turn"}))
        usage = {"inputTokens": 400, "outputTokens": timing.deltas, "totalTokens": 420}
        last = stream_event("metadata", {"usage": usage, "metrics": {"latencyMs": 2500}})
        await send({"type": "http.response.body", "body": last, "more_body": False})


async def _start_stream(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", EVENTSTREAM.encode())],
        }
    )


def converse_reply(text: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    """A Converse response body saying `text` and stopping for `stop_reason`."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 400, "outputTokens": 5, "totalTokens": 405},
        "metrics": {"latencyMs": 1000},
    }


def stream_reply(
    deltas: list[str], stop_reason: str = "end_turn"
) -> list[tuple[str, dict[str, Any]]]:
    """ConverseStream's events for an answer in these `deltas`, stopping for `stop_reason`."""
    return [
        ("messageStart", {"role": "assistant"}),
        *(
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
            for text in deltas
        ),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": stop_reason}),
        (
            "metadata",
            {
                "usage": {"inputTokens": 400, "outputTokens": len(deltas), "totalTokens": 400},
                "metrics": {"latencyMs": 100},
            },
        ),
    ]


def _converse_reply() -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "Roll back [1]."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 400, "outputTokens": 5, "totalTokens": 405},
        "metrics": {"latencyMs": 1000},
    }


async def _reply(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bedrock_standin")
    parser.add_argument("--port", type=int, required=True)
    defaults = Timing()
    for name in ("converse_s", "first_token_s", "stream_s", "invoke_s"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name)
        )
    parser.add_argument("--deltas", type=int, default=defaults.deltas)
    args = parser.parse_args(argv)
    timing = Timing(args.converse_s, args.first_token_s, args.stream_s, args.deltas, args.invoke_s)
    uvicorn.run(
        SlowBedrock(timing),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
