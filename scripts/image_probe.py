"""The checks `make image-test` runs against the container; each exits 1 at the first surprise.

Usage (from scripts/image-test.sh):
    python3 scripts/image_probe.py api PORT QUESTION EXPECTED_TEXT EXPECTED_DOCUMENT
    python3 scripts/image_probe.py log FILE

`api` calls the service over loopback, inside the container's network namespace
(`nsenter --net`); `log` reads the server's captured output after it stopped. Standard
library only: it runs with the host's python3, so neither the image nor the host needs curl
or the project's environment.

Exit status: 0 as expected, 1 a check failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from typing import Any

_STARTUP_TIMEOUT_S = 60.0


class ProbeError(Exception):
    """The service answered, but not as the image's contract says."""


def _fetch(
    port: int, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {} if body is None else {"content-type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        conn.close()


def _request(
    port: int, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    status, _, raw = _fetch(port, method, path, body)
    try:
        return status, json.loads(raw)
    except ValueError as exc:
        raise ProbeError(f"{method} {path} answered {status} with non-JSON body") from exc


def _wait_for_health(port: int) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while True:
        try:
            status, body = _request(port, "GET", "/health")
        except OSError:
            if time.monotonic() > deadline:
                raise ProbeError(f"nothing listens on 127.0.0.1:{port} after 60 s") from None
            time.sleep(0.25)
            continue
        # Off ECS there is no task metadata endpoint, so the image it reports is null.
        if status != 200 or body != {"status": "ok", "image": None}:
            raise ProbeError(f"GET /health answered {status} {body!r}")
        return


def probe(port: int, question: str, expected_text: str, expected_document: str) -> list[str]:
    _wait_for_health(port)
    lines = ["GET /health -> 200 {'status': 'ok', 'image': None}"]

    status, body = _request(port, "GET", "/ready")
    if status != 200 or body.get("status") != "ready" or not body.get("points", 0) > 0:
        raise ProbeError(f"GET /ready answered {status} {body!r}; expected ready with points")
    lines.append(f"GET /ready -> 200, {body['points']} points")

    status, body = _request(port, "POST", "/ask", {"question": question})
    if status != 200:
        raise ProbeError(f"POST /ask answered {status} {body!r}")
    if expected_text not in body.get("answer", ""):
        raise ProbeError(f"POST /ask answer lacks {expected_text!r}: {body.get('answer')!r}")
    sources = body.get("sources") or []
    if not sources or not str(sources[0].get("document", "")).endswith(expected_document):
        raise ProbeError(f"POST /ask first source is not {expected_document}: {sources!r}")
    lines.append(f"POST /ask -> 200, answer cites {sources[0]['document']}")

    # The page and its script are package data of the wheel, not Python modules.
    status, media_type, page = _fetch(port, "GET", "/")
    if status != 200 or not media_type.startswith("text/html") or b"?asset=app.js" not in page:
        raise ProbeError(f"GET / answered {status} {media_type} without the page's script")
    status, media_type, script = _fetch(port, "GET", "/?asset=app.js")
    if status != 200 or "javascript" not in media_type or not script:
        raise ProbeError(f"GET /?asset=app.js answered {status} {media_type}")
    lines.append("GET / -> 200 the page, and its script")

    status, body = _request(port, "POST", "/ask", {"question": ""})
    if status != 422 or "error" not in body or "Traceback" in json.dumps(body):
        raise ProbeError(f"POST /ask with an empty question answered {status} {body!r}")
    lines.append("POST /ask with an empty question -> 422 with a message")
    return lines


def check_log(text: str) -> list[str]:
    """One JSON object per line (what CloudWatch parses), no error, a clean shutdown."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise ProbeError(f"server log line {number} is not JSON: {line[:200]!r}") from None
    for record in records:
        if record.get("level") in ("ERROR", "CRITICAL") or "Traceback" in json.dumps(record):
            raise ProbeError(f"server logged an error: {json.dumps(record)[:300]}")
    if not any(str(r.get("message", "")).startswith("Finished server process") for r in records):
        raise ProbeError("server log has no 'Finished server process': no clean shutdown")
    return [f"server log: {len(records)} JSON lines, no error, clean shutdown"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image_probe.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="call /health, /ready, /ask and / over loopback")
    api.add_argument("port", type=int)
    api.add_argument("question")
    api.add_argument("expected_text", help="text the answer must quote")
    api.add_argument("expected_document", help="name the first source must end with")
    log = commands.add_parser("log", help="check the server's captured output")
    log.add_argument("file", type=argparse.FileType("r", encoding="utf-8"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "api":
            lines = probe(args.port, args.question, args.expected_text, args.expected_document)
        else:
            lines = check_log(args.file.read())
    except ProbeError as exc:
        print(f"image-test: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
