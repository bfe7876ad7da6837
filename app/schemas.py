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

# What `strip_whitespace` strips (pydantic-core trims Unicode's White_Space characters), as
# the OpenAPI document's `pattern`: a question of spaces is refused, so the document must
# not call it valid. Literal characters, not `\S`: engines disagree on what `\s` covers
# (Python's takes \x1c-\x1f, which are not White_Space and are not stripped).
_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NOT_ONLY_WHITESPACE = f"[^{_WHITESPACE}]"


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "How do I roll back a release?", "top_k": 4}],
        },
    )

    question: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=2000, pattern=_NOT_ONLY_WHITESPACE
        ),
    ] = Field(description="The question, 1 to 2,000 characters, not all whitespace.")
    top_k: JsonInt = Field(default=4, ge=1, le=20, description="How many passages to retrieve.")
    # The bounds go on the float, before the validator: set on the union (or after the
    # validator) pydantic still enforces them but documents them as `ge`/`le`, which JSON
    # Schema does not know, so the OpenAPI document allowed any number (schemathesis sent
    # -2.2e-309 as valid input and got a 422).
    temperature: Annotated[float, Field(ge=0, le=1), BeforeValidator(_json_number)] | None = Field(
        default=None,
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
