"""Documents -> chunks -> vectors -> store, in batches.

Chunks come from semantic-text-splitter (sentence- and heading-aware; Markdown keeps its
sections together), sized in characters at ~4 characters per token so that no tokenizer has
to be downloaded. A PDF is split page by page, so every chunk has exactly one page number.

Point ids are uuid5(document, chunk): ingesting the same file again overwrites its points, an
interrupted run can simply be run again, and chunks left over from a longer earlier version
of a document are deleted (`VectorStore.prune`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from semantic_text_splitter import MarkdownSplitter, TextSplitter

from app.config import Settings
from app.embeddings import Bm25Encoder, TitanEmbedder
from app.ingest.readers import Document, Section
from app.store.base import Chunk, Point, VectorStore

__all__ = ["CHARS_PER_TOKEN", "IngestReport", "Ingestor", "chunk_document", "point_id"]

CHARS_PER_TOKEN = 4
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qa-service/documents")


def point_id(document: str, chunk: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{document}\x00{chunk}"))


@dataclass
class Splitters:
    text: TextSplitter
    markdown: MarkdownSplitter

    @classmethod
    def from_settings(cls, settings: Settings) -> Splitters:
        capacity = settings.CHUNK_TOKENS * CHARS_PER_TOKEN
        # The splitter requires overlap < capacity; settings allow e.g. 500 over 50 tokens.
        overlap = min(settings.CHUNK_OVERLAP_TOKENS, settings.CHUNK_TOKENS // 2) * CHARS_PER_TOKEN
        return cls(
            TextSplitter(capacity, overlap=overlap), MarkdownSplitter(capacity, overlap=overlap)
        )


def chunk_document(document: Document, splitters: Splitters) -> list[Chunk]:
    splitter = splitters.markdown if document.kind == "markdown" else splitters.text
    chunks: list[Chunk] = []
    for section in document.sections:
        for text in splitter.chunks(section.text):
            if text.strip():
                chunks.append(
                    Chunk(document=document.name, chunk=len(chunks), text=text, page=section.page)
                )
    return chunks


def _title(document: str) -> str:
    """'runbook/rotate-qdrant-key.md' -> 'rotate qdrant key': indexed with every chunk, since
    a file's name often holds the words a question uses."""
    return PurePosixPath(document).stem.replace("-", " ").replace("_", " ")


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)  # "<origin>: <reason>"
    skipped: int = 0  # unsupported files found in folders

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        line = (
            f"ingested {self.documents} documents, {self.chunks} chunks "
            f"in {self.seconds:.2f} s ({self.chunks_per_second:.0f} chunks/s)"
        )
        if self.skipped:
            line += f"; skipped {self.skipped} unsupported files"
        if self.failures:
            line += f"; {len(self.failures)} failed"
        return line


class Ingestor:
    """Buffers chunks from many documents and writes them `batch_size` at a time."""

    def __init__(
        self,
        store: VectorStore,
        settings: Settings,
        *,
        sparse: Bm25Encoder | None = None,
        dense: TitanEmbedder | None = None,
    ) -> None:
        self.store = store
        self.sparse = sparse or Bm25Encoder()
        self.dense = dense
        self.batch_size = settings.INGEST_BATCH_SIZE
        self.splitters = Splitters.from_settings(settings)
        self._pending: list[Chunk] = []
        self._may_hold_stale = True

    def prepare(self, *, recreate: bool = False) -> None:
        self.store.ensure_collection(
            dense_size=self.dense.dimensions if self.dense else None, recreate=recreate
        )
        # Into an empty collection there is nothing stale to delete: skip one call per document.
        self._may_hold_stale = self.store.info().points > 0

    def add(self, document: Document) -> int:
        """Queue one document's chunks (writing full batches); returns its chunk count."""
        chunks = chunk_document(document, self.splitters)
        if self._may_hold_stale:
            # Only numbers >= len(chunks) go, and none of those is in the buffer: safe now.
            self.store.prune(document.name, keep=len(chunks))
        self._pending.extend(chunks)
        while len(self._pending) >= self.batch_size:
            self._write(self._pending[: self.batch_size])
            del self._pending[: self.batch_size]
        return len(chunks)

    def finish(self) -> None:
        """Write what is buffered and let the store optimise."""
        if self._pending:
            self._write(self._pending)
            self._pending = []
        self.store.flush()

    def _write(self, chunks: list[Chunk]) -> None:
        texts = [f"{_title(c.document)}\n{c.text}" for c in chunks]
        dense: list[list[float]] | list[None] = (
            self.dense.embed_many(texts) if self.dense else [None] * len(chunks)
        )
        points = [
            Point(
                id=point_id(c.document, c.chunk),
                chunk=c,
                sparse=self.sparse.document(text),
                dense=vector,
            )
            for c, text, vector in zip(chunks, texts, dense, strict=True)
        ]
        self.store.upsert(points)


def ingest_texts(
    store: VectorStore,
    texts: Iterable[tuple[str, str]],
    settings: Settings,
    *,
    dense: TitanEmbedder | None = None,
    recreate: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest in-memory `(document name, text)` pairs as plain text (the benchmark's corpus).

    A text shorter than CHUNK_TOKENS becomes exactly one chunk.
    """
    started = time.perf_counter()
    ingestor = Ingestor(store, settings, dense=dense)
    ingestor.prepare(recreate=recreate)
    report = IngestReport()
    for name, text in texts:
        report.chunks += ingestor.add(Document(name=name, kind="text", sections=[Section(text)]))
        report.documents += 1
        if progress:
            progress(1)
    ingestor.finish()
    report.seconds = time.perf_counter() - started
    return report
