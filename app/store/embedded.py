"""`EmbeddedStore`: Qdrant's own engine in-process (qdrant-edge-py), on local disk.

One directory per collection under QDRANT_PATH. The shard takes an exclusive lock on its
write-ahead log, so one process at a time: ingest before starting the server (as `make run`
does), or stop the server to ingest. A server started on an empty path opens the collection
as soon as another process has finished creating it, which is how `/ready` turns 200 after a
first ingestion.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import qdrant_edge as qe

from app.config import DEFAULT_BM25_LANGUAGE
from app.errors import CollectionMismatch, CollectionMissing, StoreUnavailable
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

__all__ = ["EmbeddedStore"]

# Written last when a collection is created: a directory without it is an interrupted create.
# It records what the collection was built with (dense size, BM25 language, payload schema).
_META = "qa-service.json"
_SCHEMA = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
}


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=vector.indices, values=vector.values)


def _config(dense_size: int | None) -> qe.EdgeConfig:
    vectors = (
        {DENSE: qe.EdgeVectorParams(size=dense_size, distance=qe.Distance.Cosine)}
        if dense_size
        else None
    )
    return qe.EdgeConfig(
        vectors=vectors,
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        # A query searches the segments one after another, in the calling thread. The default
        # hands them to a pool of threads, and waiting for it costs more than the search
        # itself: BM25 over 20,000 points took ~150 µs that way and ~90 µs this way, and the
        # API already answers one query at a time on its event loop.
        max_search_threads=1,
    )


class EmbeddedStore:
    def __init__(
        self,
        path: Path,
        collection: str,
        *,
        timeout_s: float = 5.0,
        bm25_language: str = DEFAULT_BM25_LANGUAGE,
    ) -> None:
        self.collection = collection
        self.timeout_s = timeout_s  # for the API's calls while the shard is not open yet
        self.bm25_language = bm25_language
        self._dir = Path(path) / collection
        self._lock = threading.Lock()
        self._shard: qe.EdgeShard | None = None
        self._dense_size: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def _read_meta(self) -> dict[str, int | str | None] | None:
        try:
            meta: dict[str, int | str | None] = json.loads((self._dir / _META).read_text())
        except FileNotFoundError:
            return None
        return meta

    def _mismatch(self, meta: dict[str, int | str | None]) -> str | None:
        stored = meta.get("bm25_language") if meta.get("schema") == SCHEMA_VERSION else None
        return language_mismatch(
            self.collection, str(stored) if stored is not None else None, self.bm25_language
        )

    def _load(self) -> qe.EdgeShard:
        """The open shard, opening it on first use (it may have been created since we started)."""
        shard = self._shard
        if shard is not None:
            return shard
        with self._lock:
            if self._shard is not None:
                return self._shard
            meta = self._read_meta()
            if meta is None:
                raise CollectionMissing(
                    f"collection '{self.collection}' does not exist at {self._dir}; "
                    "ingest documents first (python -m app.ingest docs/sample)"
                )
            problem = self._mismatch(meta)
            if problem:
                raise CollectionMismatch(f"{problem} ({self._dir})")
            size = meta.get("dense_size")
            dense_size = int(size) if size is not None else None
            try:
                # With the config: a collection created before max_search_threads was set
                # gets it too (the shard checks the vectors match, and saves the config).
                self._shard = qe.EdgeShard.load(str(self._dir), _config(dense_size))
            except Exception as exc:  # qdrant-edge raises a bare Exception with the reason
                raise self._unavailable(exc) from exc
            self._dense_size = dense_size
            return self._shard

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        if "WouldBlock" in str(exc):
            return StoreUnavailable(
                f"embedded store {self._dir} is open in another process (a running server?); "
                "stop it and retry, or use a Qdrant server (QDRANT_URL)"
            )
        return StoreUnavailable(f"embedded store {self._dir} failed: {exc}")

    def ensure_collection(self, *, dense_size: int | None, recreate: bool = False) -> None:
        with self._lock:
            meta = self._read_meta()
            if meta is not None and not recreate:
                if meta.get("dense_size") != dense_size:
                    raise CollectionMismatch(
                        f"collection '{self.collection}' at {self._dir} has dense size "
                        f"{meta.get('dense_size')}, not {dense_size}; ingest with --recreate"
                    )
                problem = self._mismatch(meta)
                if problem:
                    raise CollectionMismatch(f"{problem} ({self._dir})")
                return
            if self._shard is None and meta is not None:
                # Take the lock before deleting anything: a running server keeps its files.
                try:
                    self._shard = qe.EdgeShard.load(str(self._dir))
                except Exception as exc:
                    raise self._unavailable(exc) from exc
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            shutil.rmtree(self._dir, ignore_errors=True)
            try:
                shard = qe.EdgeShard.create(str(self._dir), _config(dense_size))
                for name, kind in INDEXED.items():
                    shard.update(qe.UpdateOperation.create_field_index(name, _SCHEMA[kind]))
                shard.flush()
            except Exception as exc:
                raise self._unavailable(exc) from exc
            meta = {
                "dense_size": dense_size,
                "bm25_language": self.bm25_language,
                "schema": SCHEMA_VERSION,
            }
            (self._dir / _META).write_text(json.dumps(meta))
            self._shard, self._dense_size = shard, dense_size

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None

    # --- writes ------------------------------------------------------------------------------

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        shard = self._load()
        records = []
        for point in points:
            vector: dict[str, qe.NamedVector] = {SPARSE: _sparse(point.sparse)}
            if point.dense is not None:
                vector[DENSE] = point.dense
            records.append(qe.Point(point.id, vector, to_payload(point.chunk)))
        try:
            shard.update(qe.UpdateOperation.upsert_points(records))
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def prune(self, source: str, *, keep: int) -> None:
        shard = self._load()
        stale = qe.Filter(
            must=[
                qe.FieldCondition("source", match=qe.MatchValue(source)),
                qe.FieldCondition("chunk", range=qe.RangeFloat(gte=float(keep))),
            ]
        )
        try:
            shard.update(qe.UpdateOperation.delete_points_by_filter(stale))
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def delete_sources(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        shard = self._load()
        gone = qe.Filter(must=[qe.FieldCondition("source", match=qe.MatchAny(list(sources)))])
        try:
            shard.update(qe.UpdateOperation.delete_points_by_filter(gone))
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def markers(self) -> list[Chunk]:
        shard = self._load()
        where = qe.Filter(
            should=[
                qe.FieldCondition("chunk", match=qe.MatchValue(0)),
                qe.FieldCondition("last", match=qe.MatchValue(1)),
            ]
        )
        found: list[Chunk] = []
        offset = None
        try:
            while True:
                records, offset = shard.scroll(
                    qe.ScrollRequest(
                        offset=offset, limit=1000, filter=where, with_payload=MARKER_FIELDS
                    )
                )
                found.extend(from_payload(r.payload) for r in records)
                if offset is None:
                    return found
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def flush(self) -> None:
        shard = self._load()
        try:
            shard.flush()
            shard.optimize()
        except Exception as exc:
            raise self._unavailable(exc) from exc

    # --- reads -------------------------------------------------------------------------------

    def search(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        shard = self._load()
        where = (
            qe.Filter(must=[qe.FieldCondition("document", match=qe.MatchAny(list(documents)))])
            if documents
            else None
        )
        sparse = qe.Query.Nearest(_sparse(query.sparse), using=SPARSE)
        dense = query.dense if self._dense_size is not None else None
        if mode == "sparse" or dense is None:
            request = qe.QueryRequest(limit=top_k, query=sparse, filter=where, with_payload=True)
        elif mode == "dense":
            request = qe.QueryRequest(
                limit=top_k,
                query=qe.Query.Nearest(dense, using=DENSE),
                filter=where,
                with_payload=True,
            )
        else:
            depth = prefetch_limit(top_k)
            request = qe.QueryRequest(
                limit=top_k,
                prefetches=[
                    qe.Prefetch(
                        limit=depth, query=qe.Query.Nearest(dense, using=DENSE), filter=where
                    ),
                    qe.Prefetch(limit=depth, query=sparse, filter=where),
                ],
                # The stub types Fusion as a class; Rrf is one of its values at run time.
                query=qe.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
                filter=where,
                with_payload=True,
            )
        try:
            scored = shard.query(request)
        except Exception as exc:
            raise self._unavailable(exc) from exc
        return [Hit(chunk=from_payload(p.payload), score=float(p.score)) for p in scored]

    async def asearch(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        search = partial(self.search, query, top_k=top_k, mode=mode, documents=documents)
        if self._shard is None:
            # Opening reads the disk and can fail on another process's lock, every time it is
            # tried: a worker thread's job, so that /health stays fast whatever the store does.
            return await STORE_LANE.within(self.timeout_s, search, what="vector store")
        # Open: in-process and sub-millisecond, so a thread hop would cost more than the
        # search (`make bench` at concurrency 32, 20,000 points: /ask made 24-25 % of the bare
        # endpoint's requests/s inline, 18 % through a thread), and would not overlap with the
        # event loop either: qdrant-edge holds the GIL while it searches.
        return search()

    async def adense_size(self) -> int | None:
        if self._shard is None:
            return await STORE_LANE.within(self.timeout_s, self.dense_size, what="vector store")
        return self._dense_size

    def dense_size(self) -> int | None:
        # Fixed while the shard is open: it holds the lock, so no other process can recreate.
        self._load()
        return self._dense_size

    def documents(self) -> frozenset[str]:
        shard = self._load()
        try:
            facets = shard.facet(qe.FacetRequest("document", limit=MAX_DOCUMENTS, exact=False))
        except Exception as exc:
            raise self._unavailable(exc) from exc
        return frozenset(str(hit.value) for hit in facets)

    async def adocuments(self) -> frozenset[str]:
        return await STORE_LANE.within(self.timeout_s, self.documents, what="vector store")

    def info(self) -> CollectionInfo:
        shard = self._load()
        try:
            points = shard.count(qe.CountRequest(exact=True))
            # Approximate counts come from the payload index: ~10 ms instead of ~500 ms for
            # 10,000 documents, and we only use the values (/ready calls this).
            facets = shard.facet(qe.FacetRequest("document", limit=MAX_DOCUMENTS, exact=False))
        except Exception as exc:
            raise self._unavailable(exc) from exc
        return CollectionInfo(
            name=self.collection,
            points=points,
            documents=sorted(str(hit.value) for hit in facets),
            dense_size=self._dense_size,
            bm25_language=self.bm25_language,
            extra=extra_info("qdrant-edge (embedded)", len(facets)),
        )
