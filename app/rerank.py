"""An optional Bedrock reranker (BEDROCK_RERANK_MODEL_ID): the relevance floor and the final
order of the fused candidates.

One `Rerank` call of bedrock-agent-runtime per question (botocore's service model,
bedrock-agent-runtime 2023-07-26: `POST /rerank` with one TEXT query, INLINE TEXT sources and
a BEDROCK_RERANKING_MODEL configuration holding the model's ARN; the reply lists
`{index, relevanceScore}` best first). The task role needs `bedrock:Rerank` and
`bedrock:InvokeModel` on the reranker model (Bedrock user guide, "Permissions for reranking":
both actions for using Rerank directly with a list of sources).

Candidates scoring below RERANK_MIN_SCORE are dropped; when none is left the question is
answered "I don't know" without a model call. Its default is uncalibrated (no real
reranker's scores were measured): the README says how a team calibrates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from app.config import Settings
from app.store.base import Hit

__all__ = ["BedrockReranker", "RerankClient", "build_reranker", "model_arn"]


class RerankClient(Protocol):
    """The part of a bedrock-agent-runtime client used here (no stubs package is installed
    for that service): `rerank` returns the reply from a boto3 client, an awaitable of it from
    an aiobotocore one."""

    @property
    def meta(self) -> Any: ...

    def rerank(self, **kwargs: Any) -> Any: ...


def model_arn(model_id: str, *, partition: str, region: str) -> str:
    """Rerank takes a model ARN; a bare id (`amazon.rerank-v1:0`) is the foundation model in
    the client's Region."""
    if model_id.startswith("arn:"):
        return model_id
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


class BedrockReranker:
    """`rerank` with a boto3 client (`app.aws.blocking_bedrock_agent_runtime`, offline
    evaluation), `arerank` with an aiobotocore one (`app.aws.bedrock_agent_runtime`, the API)."""

    def __init__(self, client: RerankClient, *, model_id: str, min_score: float) -> None:
        self._client = client
        self.model_id = model_id
        self.min_score = min_score
        meta = client.meta
        self.model_arn = model_arn(
            model_id, partition=str(meta.partition), region=str(meta.region_name)
        )

    def _request(self, question: str, hits: Sequence[Hit]) -> dict[str, Any]:
        return {
            "queries": [{"type": "TEXT", "textQuery": {"text": question}}],
            "sources": [
                {
                    "type": "INLINE",
                    "inlineDocumentSource": {
                        "type": "TEXT",
                        "textDocument": {"text": hit.chunk.indexed_text},
                    },
                }
                for hit in hits
            ],
            "rerankingConfiguration": {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "numberOfResults": len(hits),
                    "modelConfiguration": {"modelArn": self.model_arn},
                },
            },
        }

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """`hits` that clear the floor, best first, each scored by the reranker (0-1).
        Raises botocore's errors."""
        if not hits:
            return []  # Rerank refuses an empty source list
        return self._kept(hits, self._client.rerank(**self._request(question, hits)))

    def _kept(self, hits: Sequence[Hit], response: Any) -> list[Hit]:
        kept = [
            Hit(chunk=hits[int(r["index"])].chunk, score=float(r["relevanceScore"]))
            for r in response.get("results", [])
            if 0 <= int(r["index"]) < len(hits) and float(r["relevanceScore"]) >= self.min_score
        ]
        return sorted(kept, key=lambda hit: -hit.score)

    async def arerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """`rerank` on the event loop; errors are the API's (503/502)."""
        from app.answer.bedrock import bedrock_errors

        if not hits:
            return []
        with bedrock_errors(self.model_id):
            response = await self._client.rerank(**self._request(question, hits))
        return self._kept(hits, response)


def build_reranker(
    settings: Settings, client: RerankClient | None = None
) -> BedrockReranker | None:
    """The reranker when BEDROCK_RERANK_MODEL_ID is set, else None (the lexical floor)."""
    if not settings.BEDROCK_RERANK_MODEL_ID:
        return None
    if client is None:
        from app.aws import blocking_bedrock_agent_runtime

        client = blocking_bedrock_agent_runtime(settings)
    return BedrockReranker(
        client, model_id=settings.BEDROCK_RERANK_MODEL_ID, min_score=settings.RERANK_MIN_SCORE
    )
