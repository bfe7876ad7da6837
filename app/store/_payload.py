"""What both stores agree on: vector names, payload fields, and the payload <-> Chunk mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.store.base import Chunk

DENSE = "dense"
SPARSE = "bm25"
# RRF's usual constant (Cormack et al. 2009); both stores pass it explicitly so they rank alike.
RRF_K = 60
# Each prefetch brings this many candidates per requested hit into the fusion.
PREFETCH_FACTOR = 4
MIN_PREFETCH = 20
# Upper bound on distinct documents listed by `info()`.
MAX_DOCUMENTS = 10_000


def to_payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "document": chunk.document,
        "chunk": chunk.chunk,
        "text": chunk.text,
        "page": chunk.page,
    }


def from_payload(payload: Mapping[str, Any] | None) -> Chunk:
    payload = payload or {}
    page = payload.get("page")
    return Chunk(
        document=str(payload.get("document", "")),
        chunk=int(payload.get("chunk", 0)),
        text=str(payload.get("text", "")),
        page=int(page) if page is not None else None,
    )


def prefetch_limit(top_k: int) -> int:
    return max(MIN_PREFETCH, top_k * PREFETCH_FACTOR)


def extra_info(engine: str, documents_listed: int) -> dict[str, str]:
    extra = {"engine": engine}
    if documents_listed >= MAX_DOCUMENTS:
        extra["documents"] = f"only the first {MAX_DOCUMENTS} documents are listed"
    return extra
