"""Every setting of the service, read once from the environment (or a dict in tests).

The defaults need no AWS: an embedded Qdrant on local disk and the extractive answerer.
Each field is listed, with its default and meaning, in the README's settings table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["local", "dev", "prod"]


# The stemmer and stop words BM25 uses unless BM25_LANGUAGE says otherwise; the stores' own
# default, so a store built without settings (tests, tools) agrees with the service.
DEFAULT_BM25_LANGUAGE = "english"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    APP_NAME: str = "qa-service"
    ENVIRONMENT: Environment = "local"
    LOG_LEVEL: str = "INFO"

    # Vector store: embedded (QDRANT_PATH) unless QDRANT_URL is set.
    QDRANT_URL: str | None = None
    QDRANT_API_KEY: SecretStr | None = None
    QDRANT_PATH: Path = Path(".data/qdrant")
    QDRANT_COLLECTION: str = "documents"
    QDRANT_TIMEOUT_S: float = Field(default=5.0, gt=0)

    # Bedrock: dense embeddings and generation are each off unless their model id is set.
    AWS_REGION: str | None = None
    BEDROCK_EMBEDDING_MODEL_ID: str | None = None
    # Environment values are strings, and a Literal of ints does not coerce them by itself.
    BEDROCK_EMBEDDING_DIMENSIONS: Annotated[Literal[256, 512, 1024], BeforeValidator(int)] = 1024
    BEDROCK_MODEL_ID: str | None = None
    BEDROCK_MAX_TOKENS: int = Field(default=1024, ge=1, le=8192)
    BEDROCK_CONNECT_TIMEOUT_S: float = Field(default=2.0, gt=0)
    BEDROCK_READ_TIMEOUT_S: float = Field(default=60.0, gt=0)
    BEDROCK_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=10)
    # The relevance floor (app/retrieval.py): a reranker's score when a rerank model is set
    # (e.g. amazon.rerank-v1:0 or an ARN), else the share of the question's BM25 terms a
    # passage must hold (0 turns the floor off).
    BEDROCK_RERANK_MODEL_ID: str | None = None
    RERANK_MIN_SCORE: float = Field(default=0.2, ge=0, le=1)
    RELEVANCE_MIN_COVERAGE: float = Field(default=0.5, ge=0, le=1)
    # Bedrock calls in flight at once: the connections in each client's pool.
    BEDROCK_MAX_CONCURRENCY: int = Field(default=256, ge=1, le=4096)
    # An optional Bedrock guardrail on every answer (Converse's guardrailConfig). The
    # patterns are botocore's (bedrock-runtime service model, GuardrailIdentifier and
    # GuardrailVersion): an id or a guardrail ARN; a version number or DRAFT.
    BEDROCK_GUARDRAIL_ID: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$",
    )
    BEDROCK_GUARDRAIL_VERSION: str | None = Field(
        default=None, pattern=r"^([1-9][0-9]{0,7}|DRAFT)$"
    )

    # Ingestion
    CHUNK_TOKENS: int = Field(default=300, ge=50, le=2000)
    CHUNK_OVERLAP_TOKENS: int = Field(default=50, ge=0, le=500)
    INGEST_BATCH_SIZE: int = Field(default=64, ge=1, le=1024)
    # Stemmer and stop words of BM25 (qdrant-edge's names: english, portuguese, german, ...).
    # Recorded in the collection: ingestion and the service must agree, a change needs
    # --recreate.
    BM25_LANGUAGE: str = DEFAULT_BM25_LANGUAGE
    # A bigger file is refused by name (a 35 MB text dump would crowd every answer).
    MAX_FILE_BYTES: int = Field(default=20 * 1024 * 1024, ge=1024)

    # HTTP
    MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024)
    RETRY_AFTER_S: int = Field(default=5, ge=1, le=3600)

    # HTTP server (app/server.py): what one client may hold. Not counted against a response,
    # so a long /ask/stream is never cut by them.
    HTTP_MAX_HEADER_BYTES: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    HTTP_HEADER_TIMEOUT_S: float = Field(default=10.0, gt=0, le=300)
    HTTP_BODY_TIMEOUT_S: float = Field(default=20.0, gt=0, le=300)
    HTTP_MAX_CONNECTIONS: int = Field(default=1000, ge=2, le=100_000)
    # Inside ECS's default 30 s stopTimeout, after which the task is killed.
    HTTP_SHUTDOWN_GRACE_S: int = Field(default=25, ge=1, le=120)

    @field_validator("BM25_LANGUAGE")
    @classmethod
    def _known_bm25_language(cls, value: str) -> str:
        import qdrant_edge

        try:
            qdrant_edge.Bm25(qdrant_edge.Bm25Config(language=value))
        except ValueError as exc:
            raise ValueError(f"{exc} (e.g. english, portuguese, german)") from None
        return value

    @model_validator(mode="after")
    def _guardrail_needs_its_version(self) -> Settings:
        # No default version: DRAFT changes under a running service whenever someone edits
        # the guardrail, and a number is a choice only its owner can make.
        if bool(self.BEDROCK_GUARDRAIL_ID) != bool(self.BEDROCK_GUARDRAIL_VERSION):
            raise ValueError(
                "BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION go together: set both "
                "(a version number, or DRAFT) or neither"
            )
        return self

    @model_validator(mode="after")
    def _server_store_needs_key_outside_local(self) -> Settings:
        if self.ENVIRONMENT != "local" and self.QDRANT_URL and not self.QDRANT_API_KEY:
            raise ValueError(
                f"QDRANT_API_KEY is missing for QDRANT_URL in ENVIRONMENT={self.ENVIRONMENT}; "
                "set the secret <app>/<env>/qdrant-api-key (see README, 'Rotate the Qdrant key')."
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (tests pass a dict) or from the process environment."""
        if environ is None:
            return cls()
        known = {k: v for k, v in environ.items() if k in cls.model_fields}
        return cls.model_validate(known)


def settings_problems(exc: ValidationError) -> str:
    """One line naming each bad setting, never pydantic's report: that quotes the input
    (secrets included) under a stack trace."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
