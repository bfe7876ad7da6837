"""Turning text into the vectors the store keeps.

- `Bm25Encoder`: sparse BM25 term weights from qdrant-edge's own `Bm25` (no network, no model
  files). Both stores use it, and the collection applies IDF (`Modifier.IDF`) at query time,
  so document vectors carry only term frequencies and stay valid as the corpus grows.
- `TitanEmbedder`: dense vectors from Amazon Bedrock Titan Text Embeddings V2, one
  `InvokeModel` call per text (the model takes one `inputText`): a few at a time in threads
  for ingestion, on the event loop for the API's questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import qdrant_edge

from app.config import Settings
from app.store.base import SparseVector

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient as BlockingBedrockRuntimeClient
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

__all__ = ["CHARS_PER_TOKEN", "Bm25Encoder", "ChunkSize", "TitanEmbedder", "chunk_size"]

# Chunks are sized in characters at ~4 per token, so that no tokenizer has to be downloaded.
CHARS_PER_TOKEN = 4
# ~6 characters per word counted by BM25 (5 letters and a space, stop words gone): 300-token
# chunks -> 1,200 characters -> 200 words, the average length BM25 normalises by.
_CHARS_PER_BM25_WORD = 6


@dataclass(frozen=True, slots=True)
class ChunkSize:
    capacity: int  # characters
    overlap: int  # characters

    @property
    def average_words(self) -> float:
        return self.capacity / _CHARS_PER_BM25_WORD


def chunk_size(settings: Settings) -> ChunkSize:
    """The one place CHUNK_TOKENS becomes sizes: the splitters and BM25's average length."""
    # The splitter requires overlap < capacity; settings allow e.g. 500 over 50 tokens.
    overlap = min(settings.CHUNK_OVERLAP_TOKENS, settings.CHUNK_TOKENS // 2)
    return ChunkSize(settings.CHUNK_TOKENS * CHARS_PER_TOKEN, overlap * CHARS_PER_TOKEN)


class Bm25Encoder:
    """BM25 (k=1.2, b=0.75, the language's stemmer and stop words) shared by ingestion and
    queries; both must use the collection's language (BM25_LANGUAGE, checked by the store)."""

    # No defaults: the language and the average length are settings (BM25_LANGUAGE, and
    # CHUNK_TOKENS through chunk_size), so every encoder comes from `from_settings`.
    def __init__(self, *, language: str, average_words: float) -> None:
        self.language = language
        self.average_words = average_words
        self._model = qdrant_edge.Bm25(
            qdrant_edge.Bm25Config(avg_len=average_words, language=language)
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Bm25Encoder:
        """`None`: the settings' defaults, without reading the environment (a Retriever or
        ExtractiveAnswerer built without an encoder)."""
        if settings is None:
            settings = Settings.model_construct()
        return cls(
            language=settings.BM25_LANGUAGE, average_words=chunk_size(settings).average_words
        )

    def document(self, text: str) -> SparseVector:
        vector = self._model.embed_document(text)
        return SparseVector(indices=list(vector.indices), values=list(vector.values))

    def query(self, text: str) -> SparseVector:
        vector = self._model.embed_query(text)
        return SparseVector(indices=list(vector.indices), values=list(vector.values))


class TitanEmbedder:
    """Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): normalised vectors, so cosine
    and dot product rank the same.

    The client decides which half works: `embed` and `embed_many` take a boto3 client
    (`app.aws.blocking_bedrock_runtime`, ingestion's own), `aembed` an aiobotocore one
    (`app.aws.bedrock_runtime`, the API's). `embed`'s errors (throttling after botocore's
    retries, timeouts) are botocore exceptions, left for the caller.
    """

    # Titan V2 accepts up to 50,000 characters; a chunk is far below, a question too.
    _MAX_CHARS = 50_000

    def __init__(
        self,
        client: BedrockRuntimeClient | BlockingBedrockRuntimeClient,
        *,
        model_id: str,
        dimensions: int,
        concurrency: int = 8,
    ) -> None:
        self._client = client
        self.model_id = model_id
        self.dimensions = dimensions
        self._concurrency = concurrency

    async def aembed(self, text: str) -> list[float]:
        """`embed` on the event loop (an aiobotocore client); errors are the API's
        (`bedrock_errors`: throttling and timeouts -> 503 naming this model)."""
        from app.answer.bedrock import bedrock_errors  # the API's errors: not for ingestion

        client: BedrockRuntimeClient = self._client  # type: ignore[assignment]
        with bedrock_errors(self.model_id):
            response = await client.invoke_model(**self._request(text))
            async with response["body"] as body:
                return self._vector(await body.read())

    def embed(self, text: str) -> list[float]:
        client: BlockingBedrockRuntimeClient = self._client  # type: ignore[assignment]
        response = client.invoke_model(**self._request(text))
        return self._vector(response["body"].read())

    def _request(self, text: str) -> dict[str, Any]:
        body = {
            "inputText": text[: self._MAX_CHARS],
            "dimensions": self.dimensions,
            "normalize": True,
        }
        return {
            "modelId": self.model_id,
            "body": json.dumps(body),
            "contentType": "application/json",
            "accept": "application/json",
        }

    def _vector(self, payload: bytes) -> list[float]:
        vector = json.loads(payload)["embedding"]
        if len(vector) != self.dimensions:
            raise ValueError(
                f"{self.model_id} returned {len(vector)} dimensions, expected {self.dimensions} "
                "(BEDROCK_EMBEDDING_DIMENSIONS)"
            )
        return [float(x) for x in vector]

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """One call per text, `concurrency` at a time: Bedrock has no batch call for Titan V2
        outside batch-inference jobs, and boto3 clients are thread-safe."""
        if len(texts) <= 1 or self._concurrency <= 1:
            return [self.embed(t) for t in texts]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(texts))) as pool:
            return list(pool.map(self.embed, texts))
