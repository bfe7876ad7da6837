"""Question -> best passages: encode the question once (BM25, plus Titan when configured), ask
the store for candidates, keep those that clear the relevance floor, and give overlapping
neighbours one passage slot. The API builds one `Retriever` at start-up and calls
`aretrieve` per request.

`hybrid` and `dense` fall back to BM25 alone when no embedding model is configured or the
collection holds no dense vectors (ingested without one); then the question is not sent to
Titan either. `Retrieved.mode` says which one ran.

The relevance floor (issue 14): RRF scores (1/(60+rank), ~0.016-0.033) and a dense prefetch
that always returns `top_k` say nothing about whether anything relevant was found, so an
off-topic question used to reach the model with four unrelated passages. Now a candidate
must clear one of two floors, whatever the mode:

- with BEDROCK_RERANK_MODEL_ID, the reranker's relevance score (RERANK_MIN_SCORE), over a
  deeper candidate pool (the reranker also re-orders it);
- without it, lexical evidence: some candidate (title, heading path and text, as BM25
  indexed it) holds at least RELEVANCE_MIN_COVERAGE of the question's BM25 terms (stemmed,
  stop words removed), and at least two of them when the question has two; in `sparse` mode
  each passage must (see `LexicalFloor.keep`). Measured on
  docs/sample (tests/app/data): every one of the 35 labelled questions has a top-4 passage
  at coverage >= 0.60 (the lowest: 3 of 5 terms); of 16 off-topic questions 12 have none
  above 0.33, and the four that get through reuse the corpus's own words ("roll back a
  Windows update", "an API key for the OpenAI API", "deploy to Google Cloud Run", "the price
  of a Tesla"). A lexical floor cannot tell those apart; a reranker can.

Titan's cosine is not used as a floor: Titan V2 cosines of related and unrelated texts
overlap (they depend on length and domain), and no threshold could be measured here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from app.config import Settings
from app.embeddings import Bm25Encoder, TitanEmbedder
from app.errors import UnknownDocumentsError
from app.rerank import BedrockReranker, RerankClient, build_reranker
from app.store._payload import prefetch_limit
from app.store.base import Hit, Mode, Query, VectorStore

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient as BlockingBedrockRuntimeClient
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

__all__ = [
    "DOCUMENTS_TTL_S",
    "LexicalFloor",
    "Retrieved",
    "Retriever",
    "build_embedder",
    "build_retriever",
    "collapse_neighbours",
]

# The stored document names are read again after this long (or sooner, at most once a
# second, when a request names one that is not known yet: it may just have been ingested).
DOCUMENTS_TTL_S = 30.0
_DOCUMENTS_RETRY_S = 1.0
# Overlap shorter than this is a coincidence (a shared "the"), not the splitter's overlap.
_MIN_OVERLAP_CHARS = 16
# Chunks one passage may hold at most (neighbours chain: 3 and 4 join 2 and 3).
_MAX_SPAN = 3
# Unknown names quoted in a 422, at most, each cut to this length.
_NAMES_SHOWN, _NAME_CHARS = 5, 80


@dataclass(frozen=True, slots=True)
class Retrieved:
    hits: list[Hit]
    mode: Mode  # the mode that ran: "sparse" when there are no dense vectors to use


class LexicalFloor:
    """The floor without a reranker: enough of the question's BM25 terms in the passage."""

    def __init__(self, encoder: Bm25Encoder, min_coverage: float) -> None:
        self._encoder = encoder
        self.min_coverage = min_coverage
        # The same passages come back for many questions: encode each once.
        self._terms = lru_cache(maxsize=4096)(self._terms_uncached)

    def _terms_uncached(self, text: str) -> frozenset[int]:
        return frozenset(self._encoder.document(text).indices)

    def needed(self, wanted: frozenset[int]) -> int:
        return max(min(2, len(wanted)), math.ceil(len(wanted) * self.min_coverage))

    def keep(self, terms: Sequence[int], hits: Sequence[Hit], mode: Mode) -> list[Hit]:
        """None when no candidate clears the floor (the question abstains). Otherwise, in
        `sparse` mode the candidates that clear it (word overlap is that ranking's own
        evidence); in `dense` and `hybrid` all of them, in the fusion's order: a passage can
        answer a question it shares no word with, which is what dense vectors are for."""
        if self.min_coverage <= 0:
            return list(hits)
        wanted = frozenset(terms)  # the question's BM25 terms (Query.sparse.indices)
        if not wanted:
            return []  # only stop words: nothing a passage could be relevant to
        need = self.needed(wanted)
        cleared = [h for h in hits if len(wanted & self._terms(h.chunk.indexed_text)) >= need]
        if mode == "sparse" or not cleared:
            return cleared
        return list(hits)


def _overlap(before: str, after: str) -> int:
    """How many characters at the start of `after` repeat the end of `before` (the
    splitter's overlap), 0 when they do not overlap."""
    probe = after[:_MIN_OVERLAP_CHARS]
    if len(probe) < _MIN_OVERLAP_CHARS:
        return 0
    start = before.find(probe, max(0, len(before) - len(after)))
    while start != -1:
        if after.startswith(before[start:]):
            return len(before) - start
        start = before.find(probe, start + 1)
    return 0


def collapse_neighbours(hits: Sequence[Hit]) -> list[Hit]:
    """Hits with overlapping neighbours (chunks n and n+1 of one document and page whose texts
    overlap) merged into one passage, in the better one's place: one passage slot, the
    overlap said once. A merged passage has its first chunk's number and heading path."""
    out: list[Hit] = []
    spans: list[tuple[int, int]] = []  # the first and last chunk number each passage holds
    for hit in hits:
        chunk = hit.chunk
        for index, kept in enumerate(out):
            held = kept.chunk
            if held.document != chunk.document or held.page != chunk.page:
                continue
            first, last = spans[index]
            if last - first + 1 >= _MAX_SPAN:
                continue  # long enough: a passage stays a few chunks, not a whole document
            if chunk.chunk == last + 1 and (n := _overlap(held.text, chunk.text)):
                merged = replace(held, text=held.text + chunk.text[n:])
                spans[index] = (first, chunk.chunk)
            elif chunk.chunk == first - 1 and (n := _overlap(chunk.text, held.text)):
                merged = replace(chunk, text=chunk.text + held.text[n:])
                spans[index] = (chunk.chunk, last)
            else:
                continue
            out[index] = Hit(chunk=merged, score=max(kept.score, hit.score))
            break
        else:
            out.append(hit)
            spans.append((chunk.chunk, chunk.chunk))
    return out


class Retriever:
    def __init__(
        self,
        store: VectorStore,
        *,
        sparse: Bm25Encoder | None = None,
        dense: TitanEmbedder | None = None,
        reranker: BedrockReranker | None = None,
        min_coverage: float = 0.5,
    ) -> None:
        self.store = store
        self.sparse = sparse or Bm25Encoder.from_settings()
        self.dense = dense
        self.reranker = reranker
        self.floor = LexicalFloor(self.sparse, min_coverage)
        self._documents: frozenset[str] = frozenset()
        self._documents_read_at: float | None = None

    def embeds(self, mode: Mode) -> bool:
        """Whether a question in `mode` is sent to Titan: a model is configured, the mode uses
        dense vectors and the collection has them. Asks the store only in the first two cases
        (cheaply; it may raise StoreError)."""
        return self.dense is not None and mode != "sparse" and self.store.dense_size() is not None

    def effective_mode(self, mode: Mode) -> Mode:
        return mode if self.embeds(mode) else "sparse"

    def _pool(self, top_k: int) -> int:
        """Candidates fetched for `top_k` passages: the fusion's depth for a reranker to
        re-order; twice `top_k` for the lexical floor and merged neighbours to draw on."""
        return prefetch_limit(top_k) if self.reranker is not None else 2 * top_k

    def _finish(self, query: Query, candidates: Sequence[Hit], top_k: int, mode: Mode) -> list[Hit]:
        if self.reranker is None:
            candidates = self.floor.keep(query.sparse.indices, candidates, mode)
        return collapse_neighbours(candidates)[:top_k]

    def retrieve(
        self,
        question: str,
        *,
        top_k: int,
        mode: Mode = "hybrid",
        documents: Sequence[str] | None = None,
    ) -> Retrieved:
        """The best `top_k` passages that clear the floor, best first (none: abstain), for
        code outside an event loop (offline evaluation): Titan and the reranker need boto3
        clients. Raises StoreError and, with Titan or a reranker, botocore errors."""
        mode = self.effective_mode(mode)
        dense = self.dense.embed(question) if self.dense is not None and mode != "sparse" else None
        query = Query(text=question, sparse=self.sparse.query(question), dense=dense)
        candidates = self.store.search(
            query, top_k=self._pool(top_k), mode=mode, documents=documents or None
        )
        if self.reranker is not None:
            candidates = self.reranker.rerank(question, candidates)
        return Retrieved(self._finish(query, candidates, top_k, mode), mode)

    async def aretrieve(
        self,
        question: str,
        *,
        top_k: int,
        mode: Mode = "hybrid",
        documents: Sequence[str] | None = None,
    ) -> Retrieved:
        """`retrieve` on the event loop (Titan and the reranker with aiobotocore clients).
        The store, Titan and the reranker each decide what a timeout names: the vector store
        (StoreTimeoutError) or the model (ModelUnavailableError)."""
        dense = None
        if (
            self.dense is not None
            and mode != "sparse"
            and await self.store.adense_size() is not None
        ):
            dense = await self.dense.aembed(question)
        else:
            mode = "sparse"
        query = Query(text=question, sparse=self.sparse.query(question), dense=dense)
        candidates = await self.store.asearch(
            query, top_k=self._pool(top_k), mode=mode, documents=documents or None
        )
        if self.reranker is not None:
            candidates = await self.reranker.arerank(question, candidates)
        return Retrieved(self._finish(query, candidates, top_k, mode), mode)

    async def acheck_documents(self, names: Sequence[str] | None) -> None:
        """UnknownDocumentsError (-> 422) when `names` holds a name no stored document has:
        an exact-match filter on a typo would silently find nothing. The names are the
        collection's own (its payload index), remembered for DOCUMENTS_TTL_S."""
        if not names:
            return
        now = time.monotonic()
        read_at = self._documents_read_at
        if read_at is None or now - read_at > DOCUMENTS_TTL_S:
            await self._read_documents(now)
        unknown = [n for n in dict.fromkeys(names) if n not in self._documents]
        if (
            unknown
            and self._documents_read_at is not None
            and now - self._documents_read_at > (_DOCUMENTS_RETRY_S)
        ):
            await self._read_documents(now)  # ingested a moment ago?
            unknown = [n for n in unknown if n not in self._documents]
        if unknown:
            raise UnknownDocumentsError(_unknown_message(unknown))

    async def _read_documents(self, now: float) -> None:
        self._documents = await self.store.adocuments()
        self._documents_read_at = now


def _unknown_message(unknown: Sequence[str]) -> str:
    shown = ", ".join(
        repr(n if len(n) <= _NAME_CHARS else n[:_NAME_CHARS] + "…") for n in unknown[:_NAMES_SHOWN]
    )
    more = f" and {len(unknown) - _NAMES_SHOWN} more" if len(unknown) > _NAMES_SHOWN else ""
    noun = "names no stored document" if len(unknown) == 1 else "name no stored documents"
    return f"{shown}{more} {noun}; GET /collectioninfo lists the document names."


def build_embedder(
    settings: Settings,
    bedrock_client: BedrockRuntimeClient | BlockingBedrockRuntimeClient | None = None,
) -> TitanEmbedder | None:
    """Titan V2 when BEDROCK_EMBEDDING_MODEL_ID is set, else None (BM25 only). Without a
    client, a boto3 one (for `Retriever.retrieve` and ingestion)."""
    if not settings.BEDROCK_EMBEDDING_MODEL_ID:
        return None
    if bedrock_client is None:
        from app.aws import blocking_bedrock_runtime  # boto3 only when Bedrock is in use

        bedrock_client = blocking_bedrock_runtime(settings)
    return TitanEmbedder(
        bedrock_client,
        model_id=settings.BEDROCK_EMBEDDING_MODEL_ID,
        dimensions=settings.BEDROCK_EMBEDDING_DIMENSIONS,
    )


def build_retriever(
    settings: Settings,
    store: VectorStore,
    bedrock_client: BedrockRuntimeClient | BlockingBedrockRuntimeClient | None = None,
    rerank_client: RerankClient | None = None,
) -> Retriever:
    """The API hands in its aiobotocore clients (for `aretrieve`); without them Titan and the
    reranker get boto3 clients (for `retrieve`)."""
    return Retriever(
        store,
        sparse=Bm25Encoder.from_settings(settings),
        dense=build_embedder(settings, bedrock_client),
        reranker=build_reranker(settings, rerank_client),
        min_coverage=settings.RELEVANCE_MIN_COVERAGE,
    )
