"""The server's own bounds (app/server.py), on the real launcher: `python -m app.server` in a
subprocess on loopback, the command the image and `make run` start. Each client here is a raw
socket, so the test controls exactly what arrives and when."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.middleware import SECURITY_HEADERS
from tests.bedrock_standin import stream_event
from tests.servers import LOOPBACK, HTTPServerThread, QuietHandler, free_port, wait_until_answers
from tests.servers import sample_settings as make_sample_settings

ROOT = Path(__file__).resolve().parents[2]
ASK = b'{"question": "How do I roll back a release?"}'


class Launched:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"

    def connect(self) -> socket.socket:
        return socket.create_connection((LOOPBACK, self.port), timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def _env(store: Path, **settings: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "QDRANT_PATH": str(store), "PYTHONUNBUFFERED": "1", **settings}


@contextmanager
def launched(store: Path, **settings: str) -> Iterator[Launched]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--port", str(port)],
        cwd=ROOT,
        env=_env(store, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Launched(process, port)
    try:
        wait_until_answers(f"{server.url}/health", process, timeout=60, status=200)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("server") / "store"
    make_sample_settings(path)
    return path


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Launched]:
    # Short bounds, so that each test waits a fraction of a second for them.
    with launched(
        store,
        HTTP_MAX_HEADER_BYTES="4096",
        HTTP_HEADER_TIMEOUT_S="0.6",
        HTTP_BODY_TIMEOUT_S="0.6",
    ) as running:
        yield running


def _read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response read off `sock` until the server closes it (each answer here
    says `connection: close`)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> Any:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    payload = json.loads(body)
    assert payload["request_id"] == headers["x-request-id"]
    # A refusal the server writes itself carries the same security headers as the app's.
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value.lower(), name  # _read_response lowercases
    assert headers["cache-control"] == "no-store"
    return payload


def test_an_oversized_header_gets_431_without_stalling_other_clients(server: Launched) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024))
        status, headers, body = _read_response(sock)
    payload = _assert_json_error(status, headers, body, 431)
    assert "4096 bytes (HTTP_MAX_HEADER_BYTES)" in payload["error"]
    assert b"aaaa" not in body
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_header_within_the_limit_passes_with_a_body_in_the_same_packet(
    server: Launched,
) -> None:
    head = (
        b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Pad: " + b"p" * 3000 + b"\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ASK)
    )
    with server.connect() as sock:
        sock.sendall(head + ASK)  # head + body: over the header limit together, not alone
        status, _, body = _read_response(sock)
    assert status == 200, body
    assert json.loads(body)["sources"]


def test_headers_sent_slowly_get_408_at_the_header_timeout(server: Launched) -> None:
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # still sending, a byte at a time: the deadline does not move
            time.sleep(0.15)
            sock.sendall(b"X")
        status, headers, body = _read_response(sock)
        elapsed = time.monotonic() - started
    payload = _assert_json_error(status, headers, body, 408)
    assert "HTTP_HEADER_TIMEOUT_S" in payload["error"]
    assert elapsed < 3


def test_a_connection_that_sends_nothing_is_closed(server: Launched) -> None:
    with server.connect() as sock:
        sock.settimeout(5)
        assert sock.recv(1024) == b""  # closed, and nothing said: there was no request


def test_half_a_body_gets_408_from_the_app_with_its_request_id(server: Launched) -> None:
    head = (
        b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Gateway-Request-Id: slow-body-1\r\nContent-Length: %d\r\n\r\n" % len(ASK)
    )
    with server.connect() as sock:
        sock.sendall(head + ASK[:10])
        status, headers, body = _read_response(sock)
    payload = _assert_json_error(status, headers, body, 408)
    assert payload["request_id"] == "slow-body-1"
    assert "HTTP_BODY_TIMEOUT_S" in payload["error"]
    assert headers["content-security-policy"].startswith("default-src 'self'")


def test_bytes_that_are_not_http_get_json_400(server: Launched) -> None:
    with server.connect() as sock:
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        status, headers, body = _read_response(sock)
    _assert_json_error(status, headers, body, 400)


def test_beyond_the_connection_limit_a_request_gets_json_503(store: Path) -> None:
    with launched(store, HTTP_MAX_CONNECTIONS="3", HTTP_HEADER_TIMEOUT_S="30") as limited:
        idle = [limited.connect() for _ in range(2)]
        try:
            time.sleep(0.2)  # the server has accepted them
            with limited.connect() as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, headers, body = _read_response(sock)
            for sock in idle:
                sock.close()
            time.sleep(0.2)
            after = httpx.get(f"{limited.url}/health")
        finally:
            for sock in idle:
                sock.close()
    payload = _assert_json_error(status, headers, body, 503)
    assert "HTTP_MAX_CONNECTIONS" in payload["error"]
    assert headers["retry-after"] == "5"
    assert after.status_code == 200


class _SlowConverseStream(QuietHandler):
    """bedrock-runtime's ConverseStream, writing one delta every 0.3 s for ~2.5 s: an answer
    that streams far longer than the header and body timeouts."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.read_json()
        frames = [stream_event("messageStart", {"role": "assistant"})]
        frames += [
            stream_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"w{i} "}})
            for i in range(8)
        ]
        frames.append(stream_event("messageStop", {"stopReason": "end_turn"}))
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Content-Length", str(sum(len(f) for f in frames)))
        self.end_headers()
        for frame in frames:
            self.wfile.write(frame)
            self.wfile.flush()
            time.sleep(0.3)


def test_a_stream_outlasting_every_timeout_arrives_whole(
    tmp_path: Path, parse_sse: Callable[[str], list[tuple[str, dict[str, Any]]]]
) -> None:
    store = tmp_path / "store"  # its own: an embedded store serves one process at a time
    make_sample_settings(store)
    aws = {
        "AWS_REGION": "us-east-1",
        "BEDROCK_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    with HTTPServerThread(_SlowConverseStream) as bedrock:
        bounds = {"HTTP_HEADER_TIMEOUT_S": "0.5", "HTTP_BODY_TIMEOUT_S": "0.5"}
        with launched(
            store, **bounds, **aws, AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.url
        ) as running:
            started = time.monotonic()
            response = httpx.post(f"{running.url}/ask/stream", json=json.loads(ASK), timeout=30)
            elapsed = time.monotonic() - started
    events = parse_sse(response.text)
    assert response.status_code == 200
    assert elapsed > 2  # it did outlast both timeouts
    assert [name for name, _ in events] == ["sources"] + ["delta"] * 8 + ["done"]
    assert "".join(data["text"] for name, data in events if name == "delta").startswith("w0 w1")


def test_sigterm_exits_0_and_a_client_mid_body_gets_json_503(store: Path) -> None:
    # A body deadline longer than the grace: the shutdown, not the timeout, ends the request.
    settings = {"HTTP_SHUTDOWN_GRACE_S": "1", "HTTP_BODY_TIMEOUT_S": "60"}
    with launched(store, **settings) as running:
        sock = running.connect()
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(ASK) + ASK[:10]
        )
        time.sleep(0.3)
        reply: dict[str, Any] = {}
        reader = threading.Thread(target=lambda: reply.update(r=_read_response(sock, 20)))
        reader.start()
        started = time.monotonic()
        status = running.stop()
        stopped = time.monotonic() - started
        reader.join(20)
        sock.close()
        output = running.process.stdout.read().decode() if running.process.stdout else ""

    assert status == 0, output
    assert stopped < 10
    code, headers, body = reply["r"]
    assert code == 503, body
    assert headers["content-type"] == "application/json"
    assert "shutting down" in json.loads(body)["error"]
    assert headers["retry-after"] == "5"
    assert "Traceback" not in output
