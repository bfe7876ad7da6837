"""Request and response bodies of the HTTP API (their JSON Schema is in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.store.base import Mode

DocumentName = Annotated[str, StringConstraints(min_length=1, max_length=512)]


def _json_number(value: Any) -> Any:
    # pydantic would turn "4", "0.5", true and false into numbers. A JSON number is the only
    # number here; 12.0 stays a valid integer, as JSON Schema's "integer" says.
    if isinstance(value, bool | str | bytes):
        raise ValueError(  # noqa: TRY004 (pydantic reports ValueError as a 422 reason)
            "Input should be a JSON number, not a string or a boolean"
        )
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]
JsonNumber = Annotated[float, BeforeValidator(_json_number)]


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "How do I roll back a release?", "top_k": 4}],
        },
    )

    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="The question, 1 to 2,000 characters.")
    top_k: JsonInt = Field(default=4, ge=1, le=20, description="How many passages to retrieve.")
    temperature: JsonNumber | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Sampling temperature for the Bedrock model (the extractive answerer "
        "ignores it). Unset: the model's default.",
    )
    mode: Mode = Field(
        default="hybrid",
        description="`hybrid` fuses dense and BM25 results (RRF); `dense` or `sparse` use one.",
    )
    documents: list[DocumentName] | None = Field(
        default=None,
        max_length=100,
        description="Only search these documents (names as listed by /collectioninfo).",
    )


class Source(BaseModel):
    document: str
    page: int | None = Field(description="1-based page for PDFs, null otherwise.")
    chunk: int
    score: float
    snippet: str = Field(description="The start of the passage, at most ~300 characters.")


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class Timings(BaseModel):
    retrieve: float
    generate: float
    total: float


class AskResponse(BaseModel):
    answer: str
    sources: list[Source] = Field(description="The passages the answer cites as [1], [2], ...")
    model: str = Field(description='"extractive" or the Bedrock model id.')
    usage: Usage | None = Field(description="Token counts when the model reports them.")
    timings_ms: Timings
    request_id: str


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and, where there is one, what to do next.")
    request_id: str


class FieldError(BaseModel):
    field: str
    reason: str


class ValidationErrorResponse(ErrorResponse):
    fields: list[FieldError]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    # The container's image as ECS reports it (null off ECS): blue/green's smoke hook checks
    # it is talking to the new revision.
    image: str | None = None


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    points: int


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    reason: str
    request_id: str


class CollectionDetails(BaseModel):
    name: str
    points: int
    documents: list[str]
    dense_size: int | None = Field(description="Dense vector size; null when sparse only.")
    sparse: str
    extra: dict[str, str]


class StreamSources(BaseModel):
    """Data of the first `sources` event of /ask/stream."""

    sources: list[Source]
    request_id: str


class StreamDelta(BaseModel):
    """Data of a `delta` event of /ask/stream: text to append to the answer."""

    text: str


class StreamError(ErrorResponse):
    """Data of an `error` event of /ask/stream: a failure after the stream started."""

    status: int = Field(description="The status the failure would have had before the stream.")


class StreamDone(BaseModel):
    """Data of the final `done` event of /ask/stream."""

    stop_reason: str
    usage: Usage | None
    model: str
    timings_ms: Timings
    request_id: str
