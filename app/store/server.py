"""`ServerStore`: a Qdrant server or Qdrant Cloud through qdrant-client (production).

Tests run it against `QdrantClient(":memory:")`, which speaks the same client API. Errors
from the client become `StoreUnavailable` (network, timeout, 5xx) or `CollectionMissing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from app.config import DEFAULT_BM25_LANGUAGE
from app.errors import CollectionMismatch, CollectionMissing, StoreError, StoreUnavailable
from app.offload import STORE_LANE
from app.store._payload import (
    DENSE,
    INDEXED,
    MARKER_FIELDS,
    MAX_DOCUMENTS,
    RRF_K,
    SCHEMA_VERSION,
    SPARSE,
    extra_info,
    from_payload,
    language_mismatch,
    prefetch_limit,
    to_payload,
)
from app.store.base import (
    Chunk,
    CollectionInfo,
    Hit,
    Mode,
    Point,
    Query,
    SparseVector,
)

__all__ = ["DENSE_SIZE_TTL_S", "ServerStore"]

T = TypeVar("T")
# How long the collection's dense size is trusted before it is read again (one extra
# get_collection call per interval, on whichever query comes next).
DENSE_SIZE_TTL_S = 30.0


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


class ServerStore:
    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        timeout_s: float = 5.0,
        bm25_language: str = DEFAULT_BM25_LANGUAGE,
    ) -> None:
        self.collection = collection
        self.timeout_s = timeout_s  # the API's bound per call (qdrant-client's is whole seconds)
        self.bm25_language = bm25_language
        self._client = client
        self._dense_size: int | None = None
        self._dense_read_at: float | None = None  # time.monotonic() of the last read

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one client call, turning its failures into the store's two errors."""
        try:
            return fn()
        except StoreError:
            raise
        except UnexpectedResponse as exc:
            if exc.status_code == 404:
                raise self._missing() from exc
            hint = "; check QDRANT_API_KEY" if exc.status_code in (401, 403) else ""
            raise StoreUnavailable(
                f"Qdrant answered {exc.status_code} to {what} on collection "
                f"'{self.collection}'{hint}"
            ) from exc
        except ResponseHandlingException as exc:
            # Connection refused, DNS, TLS, timeouts: the source is an httpx exception.
            raise StoreUnavailable(
                f"Qdrant did not answer {what} ({type(exc.source).__name__}); check QDRANT_URL "
                "and that the cluster is up"
            ) from exc
        except ValueError as exc:
            # Local mode (":memory:") reports a missing collection as ValueError.
            if "not found" in str(exc):
                raise self._missing() from exc
            raise

    def _missing(self) -> CollectionMissing:
        return CollectionMissing(
            f"collection '{self.collection}' does not exist on the Qdrant server; "
            "ingest documents first (python -m app.ingest SRC)"
        )

    def _config_dense_size(self) -> int | None:
        """The dense size; raises CollectionMismatch for another BM25 language or schema
        (the collection's metadata records both), so a mismatch is found on every re-read."""
        info = self._call("get_collection", lambda: self._client.get_collection(self.collection))
        meta = info.config.metadata or {}
        stored = meta.get("bm25_language") if meta.get("schema") == SCHEMA_VERSION else None
        problem = language_mismatch(self.collection, stored, self.bm25_language)
        if problem:
            raise CollectionMismatch(problem)
        vectors = info.config.params.vectors
        if isinstance(vectors, dict) and DENSE in vectors:
            return vectors[DENSE].size
        return None

    def _dense(self) -> int | None:
        # Read again now and then: another process may re-ingest with --recreate (adding or
        # dropping dense vectors) while this one serves.
        now = time.monotonic()
        if self._dense_read_at is None or now - self._dense_read_at > DENSE_SIZE_TTL_S:
            self._dense_size = self._config_dense_size()
            self._dense_read_at = now
        return self._dense_size

    def dense_size(self) -> int | None:
        return self._dense()

    # Every call is a network round trip: always in a worker thread, within timeout_s.
    async def asearch(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        search = partial(self.search, query, top_k=top_k, mode=mode, documents=documents)
        return await STORE_LANE.within(self.timeout_s, search, what="vector store")

    async def adense_size(self) -> int | None:
        read_at = self._dense_read_at
        if read_at is not None and time.monotonic() - read_at <= DENSE_SIZE_TTL_S:
            return self._dense_size  # remembered: no call to make
        return await STORE_LANE.within(self.timeout_s, self._dense, what="vector store")

    # --- lifecycle ---------------------------------------------------------------------------

    def ensure_collection(self, *, dense_size: int | None, recreate: bool = False) -> None:
        exists = self._call(
            "collection_exists", lambda: self._client.collection_exists(self.collection)
        )
        if exists and recreate:
            self._call("delete_collection", lambda: self._client.delete_collection(self.collection))
            exists = False
        if exists:
            current = self._config_dense_size()
            if current != dense_size:
                raise CollectionMismatch(
                    f"collection '{self.collection}' has dense size {current}, not {dense_size}; "
                    "ingest with --recreate"
                )
        else:
            vectors = (
                {DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)}
                if dense_size
                else {}
            )
            self._call(
                "create_collection",
                lambda: self._client.create_collection(
                    self.collection,
                    vectors_config=vectors,
                    sparse_vectors_config={
                        SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                    metadata={"bm25_language": self.bm25_language, "schema": SCHEMA_VERSION},
                ),
            )
            for field, kind in INDEXED.items():
                schema = models.PayloadSchemaType(kind)
                self._call(
                    "create_payload_index",
                    lambda f=field, s=schema: self._client.create_payload_index(  # type: ignore[misc]
                        self.collection, field_name=f, field_schema=s
                    ),
                )
        self._dense_size, self._dense_read_at = dense_size, time.monotonic()

    def close(self) -> None:
        self._client.close()

    # --- writes ------------------------------------------------------------------------------

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        records = []
        for point in points:
            vector: models.VectorStruct = (
                {SPARSE: _sparse(point.sparse)}
                if point.dense is None
                else {SPARSE: _sparse(point.sparse), DENSE: point.dense}
            )
            records.append(
                models.PointStruct(id=point.id, vector=vector, payload=to_payload(point.chunk))
            )
        self._call(
            "upsert", lambda: self._client.upsert(self.collection, points=records, wait=True)
        )

    def prune(self, source: str, *, keep: int) -> None:
        stale = models.Filter(
            must=[
                models.FieldCondition(key="source", match=models.MatchValue(value=source)),
                models.FieldCondition(key="chunk", range=models.Range(gte=keep)),
            ]
        )
        self._call(
            "delete",
            lambda: self._client.delete(
                self.collection, points_selector=models.FilterSelector(filter=stale), wait=True
            ),
        )

    def delete_sources(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        gone = models.Filter(
            must=[models.FieldCondition(key="source", match=models.MatchAny(any=list(sources)))]
        )
        self._call(
            "delete",
            lambda: self._client.delete(
                self.collection, points_selector=models.FilterSelector(filter=gone), wait=True
            ),
        )

    def markers(self) -> list[Chunk]:
        where = models.Filter(
            should=[
                models.FieldCondition(key="chunk", match=models.MatchValue(value=0)),
                models.FieldCondition(key="last", match=models.MatchValue(value=1)),
            ]
        )
        found: list[Chunk] = []
        offset: models.ExtendedPointId | None = None
        while True:
            records, offset = self._call(
                "scroll",
                lambda o=offset: self._client.scroll(  # type: ignore[misc]
                    self.collection,
                    scroll_filter=where,
                    limit=1000,
                    offset=o,
                    with_payload=MARKER_FIELDS,
                ),
            )
            found.extend(from_payload(r.payload) for r in records)
            if offset is None:
                return found

    def flush(self) -> None:
        """Nothing to do: upserts wait for the server, which indexes in the background."""

    # --- reads -------------------------------------------------------------------------------

    def search(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        where = (
            models.Filter(
                must=[
                    models.FieldCondition(
                        key="document", match=models.MatchAny(any=list(documents))
                    )
                ]
            )
            if documents
            else None
        )
        sparse = _sparse(query.sparse)
        dense = query.dense if self._dense() is not None else None
        if mode == "sparse" or dense is None:
            run = lambda: self._client.query_points(  # noqa: E731
                self.collection, query=sparse, using=SPARSE, query_filter=where, limit=top_k
            )
        elif mode == "dense":
            run = lambda: self._client.query_points(  # noqa: E731
                self.collection, query=dense, using=DENSE, query_filter=where, limit=top_k
            )
        else:
            depth = prefetch_limit(top_k)
            run = lambda: self._client.query_points(  # noqa: E731
                self.collection,
                prefetch=[
                    models.Prefetch(query=dense, using=DENSE, filter=where, limit=depth),
                    models.Prefetch(query=sparse, using=SPARSE, filter=where, limit=depth),
                ],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                query_filter=where,
                limit=top_k,
            )
        response = self._call("query_points", run)
        return [Hit(chunk=from_payload(p.payload), score=float(p.score)) for p in response.points]

    def _facet_documents(self) -> list[str]:
        facets = self._call(
            "facet",
            lambda: self._client.facet(
                self.collection, key="document", limit=MAX_DOCUMENTS, exact=False
            ),
        )
        return [str(hit.value) for hit in facets.hits]

    def documents(self) -> frozenset[str]:
        return frozenset(self._facet_documents())

    async def adocuments(self) -> frozenset[str]:
        return await STORE_LANE.within(self.timeout_s, self.documents, what="vector store")

    def info(self) -> CollectionInfo:
        dense_size = self._config_dense_size()
        points = self._call("count", lambda: self._client.count(self.collection, exact=True).count)
        documents = self._facet_documents()
        return CollectionInfo(
            name=self.collection,
            points=points,
            documents=sorted(documents),
            dense_size=dense_size,
            bm25_language=self.bm25_language,
            extra=extra_info("qdrant server", len(documents)),
        )
