"""/collectioninfo when the store cannot answer: a JSON 503 with Retry-After, and a log line
that names the cause, as /ask's do (locked and nothing-ingested are both 503s; on-call must
tell them apart from the log)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.store import EmbeddedStore

Serve = Callable[[FastAPI], Any]


@pytest.mark.parametrize(
    ("fault", "cause"), [("locked", "StoreUnavailable"), ("empty", "CollectionMissing")]
)
def test_collectioninfo_503_is_json_and_its_log_line_names_the_cause(
    fault: str,
    cause: str,
    sample_settings: Settings,
    tmp_path: Path,
    live_server: Serve,
    request_log: list[dict[str, Any]],
) -> None:
    settings, holder = sample_settings, None
    if fault == "locked":  # another process (an ingestion) holds the embedded store
        holder = EmbeddedStore(settings.QDRANT_PATH, settings.QDRANT_COLLECTION)
        holder.info()
    else:
        settings = settings.model_copy(update={"QDRANT_PATH": tmp_path / "never-ingested"})
    try:
        with live_server(create_app(settings)).client() as client:
            response = client.get("/collectioninfo")
    finally:
        if holder is not None:
            holder.close()

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == str(settings.RETRY_AFTER_S)
    body = response.json()
    assert body["error"]
    assert body["request_id"] == response.headers["x-request-id"]
    (line,) = [line for line in request_log if line["route"] == "/collectioninfo"]
    assert (line["status"], line.get("error")) == (503, cause)
