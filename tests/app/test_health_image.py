"""`GET /health` reports the image ECS says the container runs (task metadata endpoint v4):
the blue/green smoke hook's proof that it talks to the new revision."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app import ecs_metadata
from app.config import Settings
from app.main import create_app
from tests.servers import HTTPServerThread, QuietHandler, serve, silent_port

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qa-service@sha256:" + "ab" * 32


def _metadata_endpoint(body: Any, status: int = 200) -> HTTPServerThread:
    """The container metadata path, answering like the v4 endpoint's example response."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != "/v4/abc-123":
                self.reply_json(404, {"message": "no such path"})
                return
            self.reply_json(status, body)

    return HTTPServerThread(Handler)


def _container_metadata(image: str) -> dict[str, Any]:
    return {
        "DockerId": "abc-123",
        "Name": "app",
        "DockerName": "app",
        "Image": image,
        "ImageID": "sha256:" + "cd" * 32,
        "Labels": {"com.amazonaws.ecs.container-name": "app"},
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
    }


def test_health_reports_the_image_from_the_task_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _metadata_endpoint(_container_metadata(IMAGE)) as endpoint:
        monkeypatch.setenv(ecs_metadata.METADATA_URI_VARIABLE, f"{endpoint.url}/v4/abc-123")
        settings = Settings.from_env({"QDRANT_PATH": str(tmp_path / "store")})
        with serve(create_app(settings)) as server, server.client() as client:
            first = client.get("/health").json()
            endpoint.close()  # read once at start-up: /health never calls it again
            second = client.get("/health").json()
    assert first == {"status": "ok", "image": IMAGE}
    assert second == first


@pytest.mark.parametrize(
    ("body", "status"),
    [({"Name": "app"}, 200), ({"message": "down"}, 500), (["not", "an", "object"], 200)],
)
def test_unreadable_metadata_means_no_image(body: Any, status: int) -> None:
    with _metadata_endpoint(body, status) as endpoint:
        environ = {ecs_metadata.METADATA_URI_VARIABLE: f"{endpoint.url}/v4/abc-123"}
        assert ecs_metadata.container_image(environ) is None


def test_off_ecs_there_is_no_image() -> None:
    assert ecs_metadata.container_image({}) is None


def test_a_silent_endpoint_costs_at_most_the_timeout() -> None:
    with silent_port() as port:
        environ = {ecs_metadata.METADATA_URI_VARIABLE: f"http://127.0.0.1:{port}/v4/x"}
        started = time.monotonic()
        assert ecs_metadata.container_image(environ, timeout_s=0.3) is None
    assert time.monotonic() - started < 2
