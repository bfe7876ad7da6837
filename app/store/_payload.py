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


# Bumped when the payload changes meaning; a collection of another version needs --recreate.
# 2: points keyed by source URI, with hash / last / title / section, and a BM25 language.
SCHEMA_VERSION = 2
# Keyword/integer/bool payload indexes both stores create: filters and re-run markers.
# `last` is stored as 0/1: qdrant-edge 0.9's MatchValue(True) matches no stored bool.
INDEXED = {"document": "keyword", "chunk": "integer", "source": "keyword", "last": "integer"}
# What `markers()` reads: everything but the text.
MARKER_FIELDS = ["document", "chunk", "page", "source", "hash", "last", "title", "section"]


def to_payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "document": chunk.document,
        "chunk": chunk.chunk,
        "text": chunk.text,
        "page": chunk.page,
        "source": chunk.source,
        "hash": chunk.hash,
        "last": int(chunk.last),
        "title": chunk.title,
        "section": chunk.section,
    }


def from_payload(payload: Mapping[str, Any] | None) -> Chunk:
    payload = payload or {}
    page = payload.get("page")
    return Chunk(
        document=str(payload.get("document", "")),
        chunk=int(payload.get("chunk", 0)),
        text=str(payload.get("text", "")),
        page=int(page) if page is not None else None,
        source=str(payload.get("source", "")),
        hash=str(payload.get("hash", "")),
        last=bool(payload.get("last", False)),
        title=str(payload.get("title", "")),
        section=str(payload.get("section", "")),
    )


def language_mismatch(collection: str, stored: str | None, wanted: str) -> str | None:
    """The sentence for a collection built with another BM25 language, or None."""
    if stored == wanted:
        return None
    if stored is None:
        return (
            f"collection '{collection}' was built by an older version (no BM25 language "
            "recorded); re-ingest with --recreate"
        )
    return (
        f"collection '{collection}' was built with BM25_LANGUAGE={stored}, not {wanted}; "
        f"set BM25_LANGUAGE={stored}, or re-ingest with --recreate"
    )


def prefetch_limit(top_k: int) -> int:
    return max(MIN_PREFETCH, top_k * PREFETCH_FACTOR)


def extra_info(engine: str, documents_listed: int) -> dict[str, str]:
    extra = {"engine": engine}
    if documents_listed >= MAX_DOCUMENTS:
        extra["documents"] = f"only the first {MAX_DOCUMENTS} documents are listed"
    return extra
