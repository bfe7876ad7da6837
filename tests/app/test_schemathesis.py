"""schemathesis against the real server: every check, every phase, the cases fixed by
`schemathesis.toml` (deterministic, ~400 in all). The server is `python -m app.server` (the
image's and `make run`'s launcher, with its bounds) on loopback, on an embedded store with
docs/sample ingested, the extractive answerer and no AWS.

Every operation is run, /ask/stream included: its errors are JSON like /ask's, and each
server-sent event of a 200 is checked against the `itemSchema` the document gives it.

The planted tests are what makes the run count: the same configuration against the app
with one contract broken (a status, a body, a content type, an event the document does not
describe) must fail, naming the check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.main import create_app
from tests.servers import LiveServer, free_port, sample_settings, wait_until_answers

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "schemathesis.toml"
# Generous: the run takes ~15 s on a quiet machine; a loaded CI runner gets room, a hang
# does not get forever.
RUN_TIMEOUT_S = 300


def schemathesis(url: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`schemathesis run` of the repository's configuration against the server at `url`,
    from `cwd` (the CLI writes its scratch files there, never into the repository)."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run"]
    command += [f"{url}/openapi.json", "--no-color", *options]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.app.schemathesis_hooks",
        "SCHEMATHESIS_DOCUMENT_NAMES": json.dumps(_stored_names(url)),
    }
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _stored_names(url: str) -> list[str]:
    """The documents the server holds (none when it cannot say: the hook then leaves the
    generated names alone)."""
    try:
        with urllib.request.urlopen(f"{url}/collectioninfo", timeout=10) as reply:
            return list(json.load(reply).get("documents", []))
    except (OSError, ValueError):
        return []


def _offline_environment(store: Path) -> dict[str, str]:
    """The process environment without anything that points at AWS or a Qdrant server."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "BEDROCK_", "QDRANT_"))
    }
    return {**env, "QDRANT_PATH": str(store), "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("schemathesis") / "store"
    sample_settings(store)
    port = free_port()
    command = [sys.executable, "-m", "app.server", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_offline_environment(store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/ready", process, timeout=60, status=200)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def test_the_real_server_keeps_every_promise_of_its_openapi_document(
    server_url: str, tmp_path: Path
) -> None:
    result = schemathesis(server_url, tmp_path)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    for operation in ("POST /ask", "POST /ask/stream", "GET /collectioninfo"):
        assert operation not in result.stdout  # named only in a failure report


# --- planted violations ---------------------------------------------------------------------


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class Plant:
    status: int
    body: bytes
    content_type: str
    reported: str  # how schemathesis names the failed check


# One broken promise per operation, all in one run (each run costs seconds of start-up).
PLANTS = {
    ("GET", "/health"): Plant(
        418, b'{"status":"ok"}', "application/json", "ST103 Undocumented status code"
    ),
    ("GET", "/collectioninfo"): Plant(
        200, b'{"name": 7, "points": "many"}', "application/json", "ST108 Response violates schema"
    ),
    ("GET", "/ready"): Plant(200, b"ok", "text/plain", "ST105 Undocumented Content-Type"),
    ("POST", "/ask/stream"): Plant(
        200,
        b'event: delta\ndata: {"txt": 1}\n\n',
        "text/event-stream",
        "ST108 SSE event violates schema",
    ),
}


def planted(app: ASGIApp) -> ASGIApp:
    """`app`, except that each operation of PLANTS answers its plant whatever it is sent."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        plant = PLANTS.get((scope.get("method", ""), scope.get("path", "")))
        if scope["type"] == "http" and plant is not None:
            while (await receive()).get("more_body"):
                pass
            await _send(send, plant.status, plant.body, plant.content_type)
            return
        await app(scope, receive, send)

    return broken


def test_the_run_fails_on_planted_contract_violations(tmp_path: Path) -> None:
    # An undocumented status, a body against its schema, an undocumented content type, and
    # a stream event its itemSchema does not allow: each reported on its own operation.
    app = create_app(sample_settings(tmp_path / "store"))
    paths = [option for _, path in PLANTS for option in ("--include-path", path)]
    with LiveServer(planted(app)) as server:
        result = schemathesis(server.url, tmp_path, *paths)

    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    reports = result.stdout.split("=== SUMMARY ===")[0]
    for (method, path), plant in PLANTS.items():
        section = reports.split(f"_ {method} {path} _", 1)
        assert len(section) == 2, f"{method} {path}: no failure reported\n{result.stdout[-4000:]}"
        assert plant.reported in section[1].split("\n_")[0], (method, path, result.stdout[-4000:])
