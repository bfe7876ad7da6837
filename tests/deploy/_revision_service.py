"""The real service on loopback as one revision of an ECS service: it reports `image` in
`GET /health` because a loopback stand-in of the ECS task metadata endpoint v4 says so (the
container metadata path answers `{"Image": ...}` like the documented response), exactly as it
would on Fargate. `ingested=False` is a revision whose store holds nothing (its `ask` fails)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app import ecs_metadata
from app.config import Settings
from app.main import create_app
from tests.servers import HTTPServerThread, QuietHandler, sample_settings, serve


def _metadata_endpoint(image: str) -> HTTPServerThread:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.reply_json(200, {"DockerId": "0a1b", "Name": "app", "Image": image})

    return HTTPServerThread(Handler)


@contextmanager
def revision_service(image: str, store: Path, *, ingested: bool = True) -> Iterator[str]:
    """The base URL of the real service running `image` (as far as /health can tell)."""
    with _metadata_endpoint(image) as endpoint, pytest.MonkeyPatch.context() as env:
        env.setenv(ecs_metadata.METADATA_URI_VARIABLE, f"{endpoint.url}/v4/0a1b")
        settings = (
            sample_settings(store, LOG_LEVEL="WARNING")
            if ingested
            else Settings.from_env({"QDRANT_PATH": str(store), "LOG_LEVEL": "WARNING"})
        )
        with serve(create_app(settings)) as server:
            yield server.url
