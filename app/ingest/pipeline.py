"""Documents -> chunks -> vectors -> store, in batches; a run is a sync of the sources it lists.

Chunks come from semantic-text-splitter (sentence- and heading-aware; Markdown keeps its
sections together), sized by `app.embeddings.chunk_size`. A PDF is split page by page, so
every chunk has exactly one page number. A Markdown chunk records the heading path above it
(`section`), which is indexed with its text; a chunk that holds nothing but headings is
merged into the chunk after it rather than stored as an 18-character passage.

Point ids are uuid5(source URI, chunk), and every chunk carries the document's `hash` (its
bytes and the chunking settings). A re-run skips a document whose last chunk (`last`, written
after all the others) has the same hash: no splitting, no Titan call. A changed document is
rewritten and its leftover chunks pruned; an interrupted run is resumed by running it again.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Literal

from semantic_text_splitter import MarkdownSplitter, TextSplitter

from app.config import Settings
from app.embeddings import CHARS_PER_TOKEN, Bm25Encoder, TitanEmbedder, chunk_size
from app.ingest.readers import Document, Section
from app.store.base import SECTION_SEPARATOR, Chunk, Point, VectorStore

__all__ = [
    "CHARS_PER_TOKEN",
    "IngestReport",
    "Ingestor",
    "Status",
    "chunk_document",
    "content_hash",
    "point_id",
]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qa-service/documents")
# Bumped when chunking changes, so that a re-run re-splits every document.
_PIPELINE_VERSION = "2"

Status = Literal["added", "changed", "unchanged"]


def point_id(source: str, chunk: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{source}\x00{chunk}"))


def content_hash(data: bytes, settings: Settings) -> str:
    """The document's bytes and what they are split with: either changing means re-ingest."""
    size = chunk_size(settings)
    digest = hashlib.sha256(data)
    digest.update(f"\x00{_PIPELINE_VERSION}/{size.capacity}/{size.overlap}".encode())
    return f"sha256:{digest.hexdigest()}"


@dataclass
class Splitters:
    text: TextSplitter
    markdown: MarkdownSplitter

    @classmethod
    def from_settings(cls, settings: Settings) -> Splitters:
        size = chunk_size(settings)
        return cls(
            TextSplitter(size.capacity, overlap=size.overlap),
            MarkdownSplitter(size.capacity, overlap=size.overlap),
        )


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of each Markdown heading outside code fences."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    found = []
    for match in _HEADING.finditer(text):
        inside = sum(1 for f in fences if f < match.start()) % 2 == 1
        if not inside:
            found.append((match.start(), len(match.group(1)), match.group(2).strip()))
    return found


def _path_at(headings: list[tuple[int, int, str]], offset: int) -> str:
    stack: list[tuple[int, str]] = []
    for start, level, title in headings:
        if start > offset:
            break
        stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
    return SECTION_SEPARATOR.join(t for _, t in stack)


def _only_headings(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(_HEADING.match(line) for line in lines)


def _title(document: Document) -> str:
    """The first top-level Markdown heading, else the file name: 'rotate-qdrant-key.md' ->
    'rotate qdrant key' (a file's name often holds the words a question uses)."""
    if document.kind == "markdown":
        for section in document.sections:
            for _, level, title in _headings(section.text):
                if level == 1:
                    return title
    return PurePosixPath(document.name).stem.replace("-", " ").replace("_", " ")


def chunk_document(document: Document, splitters: Splitters) -> list[Chunk]:
    markdown = document.kind == "markdown"
    splitter = splitters.markdown if markdown else splitters.text
    title = _title(document)
    pieces: list[tuple[str, str, int | None]] = []  # (text, section, page)
    for section in document.sections:
        headings = _headings(section.text) if markdown else []
        held = ""  # heading-only text waiting for the chunk after it
        for offset, text in splitter.chunk_indices(section.text):
            if not text.strip():
                continue
            if markdown and _only_headings(text):
                held = f"{held}\n\n{text}" if held else text
                continue
            if held:
                # Start the merged chunk where the held headings start, so its path is theirs.
                text = f"{held}\n\n{text}"
                held = ""
            pieces.append((text, _path_at(headings, offset), section.page))
        if held:
            if pieces and pieces[-1][2] == section.page:
                text, path, page = pieces[-1]
                pieces[-1] = (f"{text}\n\n{held}", path, page)
            else:
                pieces.append((held, _path_at(headings, len(section.text)), section.page))
    return [
        Chunk(
            document=document.name,
            chunk=number,
            text=text,
            page=page,
            title=title,
            section=path,
            last=number == len(pieces) - 1,
        )
        for number, (text, path, page) in enumerate(pieces)
    ]


@dataclass
class IngestReport:
    documents: int = 0  # read and stored (added or changed)
    chunks: int = 0  # written this run
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)  # "<origin>: <reason>"
    skipped: int = 0  # unsupported files found in folders
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    image_only_pages: list[str] = field(default_factory=list)  # "<origin>: pages 2, 5"

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def count(self, status: Status) -> None:
        setattr(self, status, getattr(self, status) + 1)

    def summary(self) -> str:
        line = (
            f"ingested {self.documents} documents, {self.chunks} chunks "
            f"in {self.seconds:.2f} s ({self.chunks_per_second:.0f} chunks/s): "
            f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.deleted} deleted"
        )
        if self.skipped:
            line += f"; skipped {self.skipped} unsupported files"
        if self.image_only_pages:
            pages = sum(p.count(",") + 1 for p in self.image_only_pages)
            line += f"; {pages} PDF pages without text (scanned images?)"
        if self.failures:
            line += f"; {len(self.failures)} failed"
        return line


@dataclass(frozen=True, slots=True)
class _Stored:
    document: str  # name at chunk 0
    complete_hash: str | None  # hash of the `last` chunk, None if the document was interrupted


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
        self.settings = settings
        self.sparse = sparse or Bm25Encoder.from_settings(settings)
        self.dense = dense
        self.batch_size = settings.INGEST_BATCH_SIZE
        self.splitters = Splitters.from_settings(settings)
        self._pending: list[Chunk] = []
        self._stored: dict[str, _Stored] = {}

    def prepare(self, *, recreate: bool = False) -> None:
        self.store.ensure_collection(
            dense_size=self.dense.dimensions if self.dense else None, recreate=recreate
        )
        names: dict[str, str] = {}
        hashes: dict[str, str] = {}
        for marker in self.store.markers():
            if marker.chunk == 0:
                names[marker.source] = marker.document
            if marker.last:
                hashes[marker.source] = marker.hash
        self._stored = {source: _Stored(name, hashes.get(source)) for source, name in names.items()}

    def status(self, source: str, name: str, digest: str) -> Status:
        stored = self._stored.get(source)
        if stored is None:
            return "added"
        if stored.complete_hash == digest and stored.document == name:
            return "unchanged"
        return "changed"

    def add(self, document: Document, *, source: str, digest: str) -> int:
        """Queue one document's chunks (writing full batches); returns its chunk count."""
        chunks = [
            replace(c, source=source, hash=digest) for c in chunk_document(document, self.splitters)
        ]
        if source in self._stored:
            # Only numbers >= len(chunks) go, and none of those is in the buffer: safe now.
            self.store.prune(source, keep=len(chunks))
        self._pending.extend(chunks)
        while len(self._pending) >= self.batch_size:
            self._write(self._pending[: self.batch_size])
            del self._pending[: self.batch_size]
        return len(chunks)

    def delete_gone(self, roots: Sequence[str], seen: set[str]) -> int:
        """Delete the stored documents under `roots` (folder URIs ending in '/', S3 prefixes)
        that this run did not list; returns how many."""
        gone = [
            source
            for source in self._stored
            if source not in seen and any(source.startswith(root) for root in roots)
        ]
        self.store.delete_sources(gone)
        return len(gone)

    def finish(self) -> None:
        """Write what is buffered and let the store optimise."""
        if self._pending:
            self._write(self._pending)
            self._pending = []
        self.store.flush()

    def _write(self, chunks: list[Chunk]) -> None:
        texts = [c.indexed_text for c in chunks]
        dense: list[list[float]] | list[None] = (
            self.dense.embed_many(texts) if self.dense else [None] * len(chunks)
        )
        points = [
            Point(
                id=point_id(c.source, c.chunk),
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
    """Ingest in-memory `(document name, text)` pairs as plain text (the benchmark's corpus),
    each under the source URI `memory:<name>`.

    A text shorter than CHUNK_TOKENS becomes exactly one chunk.
    """
    started = time.perf_counter()
    ingestor = Ingestor(store, settings, dense=dense)
    ingestor.prepare(recreate=recreate)
    report = IngestReport()
    for name, text in texts:
        source = f"memory:{name}"
        digest = content_hash(text.encode(), settings)
        status = ingestor.status(source, name, digest)
        report.count(status)
        if status != "unchanged":
            document = Document(name=name, kind="text", sections=[Section(text)])
            report.chunks += ingestor.add(document, source=source, digest=digest)
            report.documents += 1
        if progress:
            progress(1)
    ingestor.finish()
    report.seconds = time.perf_counter() - started
    return report
