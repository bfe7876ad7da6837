"""The one interface the service and the ingestion CLI use to reach a vector store.

Two implementations share it (and one contract test suite):

    VectorStore
     ├── EmbeddedStore  (qdrant-edge-py on local disk; the default)
     └── ServerStore    (qdrant-client against QDRANT_URL; production)

A store keeps, per point, an optional dense vector and always a BM25 sparse vector, plus
the payload in `Chunk`. Errors a caller can act on are `StoreError` subclasses (in
`app.errors`, with every other error class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from app.config import DEFAULT_BM25_LANGUAGE

Mode = Literal["hybrid", "dense", "sparse"]

# Between the headings of a chunk's `section` ("Failover > Step 4").
SECTION_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of one document, as stored in the payload."""

    document: str
    chunk: int
    text: str
    page: int | None = None
    # Where the document came from (file:///abs/path or s3://bucket/key): the key a re-run
    # matches documents by, whatever name the run gives them.
    source: str = ""
    # sha256 of the file and of the chunking settings it was split with (see app.ingest).
    hash: str = ""
    last: bool = False  # the document's final chunk: written last, so it marks a complete one
    title: str = ""  # the document's title (first heading, or its file name)
    section: str = ""  # the heading path above this chunk, "Failover > Step 4"

    @property
    def headings(self) -> tuple[str, ...]:
        """The title, then each heading of the path above the chunk: what it is about."""
        return tuple(h for h in (self.title, *self.section.split(SECTION_SEPARATOR)) if h)

    @property
    def indexed_text(self) -> str:
        """What BM25, Titan and a reranker see: title and heading path, then the chunk's own
        words (`text` stays verbatim, so quotes stay the document's)."""
        head = self.title if not self.section else f"{self.title}\n{self.section}"
        return f"{head}\n{self.text}"


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Point:
    id: str  # uuid5 of (source, chunk): re-ingesting the same file overwrites, never duplicates
    chunk: Chunk
    sparse: SparseVector
    dense: list[float] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    sparse: SparseVector
    dense: list[float] | None = None


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    points: int
    documents: list[str]
    dense_size: int | None  # None: sparse only (no embedding model configured)
    sparse: str = "bm25 (idf modifier)"
    bm25_language: str = DEFAULT_BM25_LANGUAGE
    extra: dict[str, str] = field(default_factory=dict)


class VectorStore(Protocol):
    def ensure_collection(self, *, dense_size: int | None, recreate: bool = False) -> None:
        """Create the collection (and payload indexes) if missing; drop it first if `recreate`.
        An existing collection with another dense size or BM25 language, or one written
        before documents had sources, raises CollectionMismatch."""

    def upsert(self, points: Sequence[Point]) -> None: ...

    def prune(self, source: str, *, keep: int) -> None:
        """Delete the chunks of `source` numbered `keep` and above (left by a longer version)."""

    def delete_sources(self, sources: Sequence[str]) -> None:
        """Delete every chunk of these sources (documents gone from their folder or prefix)."""

    def markers(self) -> list[Chunk]:
        """The first and the last chunk of every stored document, without text: what a
        re-run compares against (a document with no `last` chunk was interrupted)."""

    def flush(self) -> None:
        """Make what was upserted durable and fast to search (called at the end of ingestion)."""

    def search(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        """Best `top_k` chunks; `hybrid` fuses dense and sparse prefetches with RRF."""

    def info(self) -> CollectionInfo:
        """Raises CollectionMissing when nothing has been ingested."""

    def dense_size(self) -> int | None:
        """The collection's dense vector size, None when it holds BM25 only. Cheap enough to
        ask per query (remembered); raises CollectionMissing like `info()`."""

    def documents(self) -> frozenset[str]:
        """The names of the stored documents (what the `documents` filter matches), from the
        payload index: milliseconds, not per query (the retriever remembers them)."""

    # The API's two calls per question, awaited on the event loop. Each store decides where
    # its work runs: in place when it answers in-process in microseconds, else in a worker
    # thread within its deadline (StoreTimeoutError names the vector store). A store that
    # must open, wait on a lock or reach the network never runs on the event loop.
    async def asearch(
        self, query: Query, *, top_k: int, mode: Mode, documents: Sequence[str] | None = None
    ) -> list[Hit]:
        """`search` from the event loop."""

    async def adense_size(self) -> int | None:
        """`dense_size` from the event loop."""

    async def adocuments(self) -> frozenset[str]:
        """`documents` from the event loop (always in a worker thread: a facet of 10,000
        names takes milliseconds)."""

    def close(self) -> None: ...
