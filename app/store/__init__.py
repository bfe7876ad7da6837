"""Vector stores behind one interface (`VectorStore`); `open_store` picks one from settings.

`ServerStore` (and qdrant-client, a large import) is loaded only when a server is used, so
the embedded default starts faster and smaller.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.errors import CollectionMismatch, CollectionMissing, StoreError, StoreUnavailable
from app.store.base import (
    Chunk,
    CollectionInfo,
    Hit,
    Mode,
    Point,
    Query,
    SparseVector,
    VectorStore,
)
from app.store.embedded import EmbeddedStore

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from app.store.server import ServerStore

__all__ = [
    "Chunk",
    "CollectionInfo",
    "CollectionMismatch",
    "CollectionMissing",
    "EmbeddedStore",
    "Hit",
    "Mode",
    "Point",
    "Query",
    "ServerStore",
    "SparseVector",
    "StoreError",
    "StoreUnavailable",
    "VectorStore",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "ServerStore":
        from app.store.server import ServerStore

        return ServerStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(settings: Settings, *, client: QdrantClient | None = None) -> VectorStore:
    """The embedded store at QDRANT_PATH, or the server at QDRANT_URL (or the given client).

    Opening never contacts a server, so start-up does not wait on Qdrant; the first call does,
    within QDRANT_TIMEOUT_S (qdrant-client rounds it up to whole seconds).
    """
    if client is None and not settings.QDRANT_URL:
        return EmbeddedStore(
            settings.QDRANT_PATH,
            settings.QDRANT_COLLECTION,
            timeout_s=settings.QDRANT_TIMEOUT_S,
            bm25_language=settings.BM25_LANGUAGE,
        )

    from qdrant_client import QdrantClient

    from app.store.server import ServerStore

    if client is None:
        api_key = settings.QDRANT_API_KEY.get_secret_value() if settings.QDRANT_API_KEY else None
        client = QdrantClient(
            url=settings.QDRANT_URL,
            api_key=api_key,
            timeout=math.ceil(settings.QDRANT_TIMEOUT_S),
            check_compatibility=False,  # it would call the server while the app starts
        )
    return ServerStore(
        client,
        settings.QDRANT_COLLECTION,
        timeout_s=settings.QDRANT_TIMEOUT_S,
        bm25_language=settings.BM25_LANGUAGE,
    )
