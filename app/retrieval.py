"""Question -> best passages: encode the question once (BM25, plus Titan when configured) and
ask the store. The API builds one `Retriever` at start-up and calls `retrieve` per request.

`hybrid` and `dense` fall back to BM25 alone when no embedding model is configured or the
collection holds no dense vectors (ingested without one); then the question is not sent to
Titan either. `Retriever.effective_mode` tells which one runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.config import Settings
from app.embeddings import Bm25Encoder, TitanEmbedder
from app.store.base import Hit, Mode, Query, VectorStore

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

__all__ = ["Retriever", "build_embedder", "build_retriever"]


class Retriever:
    def __init__(
        self,
        store: VectorStore,
        *,
        sparse: Bm25Encoder | None = None,
        dense: TitanEmbedder | None = None,
    ) -> None:
        self.store = store
        self.sparse = sparse or Bm25Encoder()
        self.dense = dense

    def embeds(self, mode: Mode) -> bool:
        """Whether a question in `mode` is sent to Titan: a model is configured, the mode uses
        dense vectors and the collection has them. Asks the store only in the first two cases
        (cheaply; it may raise StoreError)."""
        return self.dense is not None and mode != "sparse" and self.store.dense_size() is not None

    def effective_mode(self, mode: Mode) -> Mode:
        return mode if self.embeds(mode) else "sparse"

    def retrieve(
        self,
        question: str,
        *,
        top_k: int,
        mode: Mode = "hybrid",
        documents: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Best `top_k` passages, best first. Raises StoreError (-> 503) and, with Titan,
        botocore errors (throttling after retries, timeouts)."""
        mode = self.effective_mode(mode)
        dense = self.dense.embed(question) if self.dense is not None and mode != "sparse" else None
        query = Query(text=question, sparse=self.sparse.query(question), dense=dense)
        return self.store.search(query, top_k=top_k, mode=mode, documents=documents or None)

    async def aretrieve(
        self,
        question: str,
        *,
        top_k: int,
        mode: Mode = "hybrid",
        documents: Sequence[str] | None = None,
    ) -> list[Hit]:
        """`retrieve` from the event loop. The store and Titan each decide where their calls
        run (`VectorStore.asearch`, `TitanEmbedder.aembed`) and what a timeout names: the
        vector store (StoreTimeoutError) or the embedding model (ModelUnavailableError)."""
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
        return await self.store.asearch(query, top_k=top_k, mode=mode, documents=documents or None)


def build_embedder(
    settings: Settings, bedrock_client: BedrockRuntimeClient | None = None
) -> TitanEmbedder | None:
    """Titan V2 when BEDROCK_EMBEDDING_MODEL_ID is set, else None (BM25 only)."""
    if not settings.BEDROCK_EMBEDDING_MODEL_ID:
        return None
    if bedrock_client is None:
        from app.aws import bedrock_runtime  # boto3 is only imported when Bedrock is in use

        bedrock_client = bedrock_runtime(settings)
    return TitanEmbedder(
        bedrock_client,
        model_id=settings.BEDROCK_EMBEDDING_MODEL_ID,
        dimensions=settings.BEDROCK_EMBEDDING_DIMENSIONS,
    )


def build_retriever(
    settings: Settings, store: VectorStore, bedrock_client: BedrockRuntimeClient | None = None
) -> Retriever:
    return Retriever(
        store,
        sparse=Bm25Encoder.from_settings(settings),
        dense=build_embedder(settings, bedrock_client),
    )
