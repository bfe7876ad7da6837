"""Request and response bodies of the HTTP API (their JSON Schema is in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from app.store.base import Mode

DOCUMENT_NAME_MAX = 512
DocumentName = Annotated[str, StringConstraints(min_length=1, max_length=DOCUMENT_NAME_MAX)]


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


Question = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=2000, pattern=_NOT_ONLY_WHITESPACE
    ),
]
# A conversation's bounds: 10 questions and the 9 answers between them, each answer as long
# as BEDROCK_MAX_TOKENS' ceiling allows, and all of it within what one model call should
# carry (MAX_BODY_BYTES bounds the body too).
MAX_MESSAGES = 19
MAX_ANSWER_CHARS = 8000
MAX_CONVERSATION_CHARS = 24_000


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ANSWER_CHARS),
    ] = Field(description="A user turn: 1 to 2,000 characters; an assistant turn: up to 8,000.")

    @model_validator(mode="after")
    def _user_turn_is_a_question(self) -> Message:
        if self.role == "user" and len(self.content) > 2000:
            raise _invalid("a user turn has at most 2000 characters, as a question")
        return self


def _turn_schema(role: str, max_length: int) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["role", "content"],
        "properties": {
            "role": {"const": role},
            "content": {
                "type": "string",
                "minLength": 1,
                "maxLength": max_length,
                "pattern": _NOT_ONLY_WHITESPACE,
            },
        },
    }


# The turn-taking rule as JSON Schema, so the published document refuses what the
# validator refuses (schemathesis holds one to the other): user and assistant turns in
# turn, an odd count (first and last are the user's). The total-characters bound is the
# one rule JSON Schema cannot state; it is in the description.
_CONVERSATION_SCHEMA: dict[str, Any] = {
    "type": "array",
    "prefixItems": [
        _turn_schema("user", 2000) if i % 2 == 0 else _turn_schema("assistant", MAX_ANSWER_CHARS)
        for i in range(MAX_MESSAGES)
    ],
    "items": False,
    "minItems": 1,
    "maxItems": MAX_MESSAGES,
    "anyOf": [{"minItems": n, "maxItems": n} for n in range(1, MAX_MESSAGES + 1, 2)],
}


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["question"]}, {"required": ["messages"]}],
            "examples": [
                {"question": "How do I roll back a release?", "top_k": 4},
                {
                    "messages": [
                        {"role": "user", "content": "Which images does ECR keep for a rollback?"},
                        {"role": "assistant", "content": "The last 50 SHA-tagged images [1]."},
                        {"role": "user", "content": "And how long is that window?"},
                    ]
                },
            ],
        },
    )

    # Documented as the string it is when given (not string-or-null): null means "not given".
    question: Annotated[
        Question | None,
        WithJsonSchema(
            {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": _NOT_ONLY_WHITESPACE}
        ),
    ] = Field(
        default=None,
        description="The question, 1 to 2,000 characters, not all whitespace. Give either "
        "`question` or `messages`.",
    )
    messages: Annotated[
        list[Message] | None,
        WithJsonSchema(_CONVERSATION_SCHEMA),
    ] = Field(
        default=None,
        min_length=1,
        max_length=MAX_MESSAGES,
        description="A conversation instead of `question`: `user` and `assistant` turns in "
        f"turn, starting and ending with `user` (the question to answer); at most "
        f"{MAX_MESSAGES} turns and {MAX_CONVERSATION_CHARS:,} characters in all.",
    )
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

    @model_validator(mode="wrap")
    @classmethod
    def _question_or_messages(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Raised as pydantic's own error so that it names the field: `{}` is still
        # "question: Field required", as before conversations.
        # The OpenAPI document says the same (oneOf below; neither field takes null), and
        # schemathesis holds the two to each other: {} and {"question": null, ...} are refused.
        if isinstance(data, dict):
            given = [name for name in ("question", "messages") if name in data]
            if not given:
                raise _error("missing", "question", data)
            if len(given) == 2:
                raise _error(
                    _invalid("give either question or messages, not both"), "messages", data
                )
            if data[given[0]] is None:
                kind = "string_type" if given[0] == "question" else "list_type"
                raise _error(kind, given[0], data[given[0]])
        return handler(data)

    @field_validator("messages")
    @classmethod
    def _conversation_takes_turns(cls, messages: list[Message] | None) -> list[Message] | None:
        if messages is None:
            return None
        roles = [m.role for m in messages]
        if roles[-1] != "user" or any(
            role != ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles)
        ):
            raise _invalid("must take turns, user then assistant, starting and ending with user")
        if sum(len(m.content) for m in messages) > MAX_CONVERSATION_CHARS:
            raise _invalid(
                f"hold more than {MAX_CONVERSATION_CHARS} characters in all; leave out the "
                "oldest turns"
            )
        return messages

    @property
    def asked(self) -> str:
        """The question to answer: `question`, or the conversation's last turn."""
        return self.question if self.messages is None else self.messages[-1].content  # type: ignore[return-value]

    @property
    def history(self) -> list[Message]:
        """The turns before the question (none for `question`)."""
        return [] if self.messages is None else self.messages[:-1]


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("conversation", reason)


def _error(kind: str | PydanticCustomError, field: str, data: Any) -> ValidationError:
    detail = InitErrorDetails(type=kind, loc=(field,), input=data)
    return ValidationError.from_exception_data("AskRequest", [detail])


_MODE_RAN = (
    "The retrieval mode that ran: the requested one, or `sparse` when there are no dense "
    "vectors (no embedding model, or a collection ingested without one)."
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


# How the answer ended and what it cites: in /ask's response and in the stream's `done`.
StopReason = Annotated[
    str,
    Field(
        description="Converse's stopReason (`end_turn`, `max_tokens`, `guardrail_intervened`, "
        "`content_filtered`, ...); `end_turn` for a quoted answer, `no_answer` when nothing "
        "answers the question."
    ),
]
Truncated = Annotated[
    bool,
    Field(description="The answer was cut short (`max_tokens`, `model_context_window_exceeded`)."),
]
Blocked = Annotated[
    bool,
    Field(
        description="A guardrail or content filter stopped the answer (`guardrail_intervened`, "
        "`content_filtered`): the text is its notice, not an answer."
    ),
]
Cited = Annotated[
    list[int], Field(description="The [n] the answer cites (`sources[n-1]`), ascending.")
]
CitationsRemoved = Annotated[
    list[int],
    Field(description="Numbers the model cited that name no source, removed from the answer."),
]
SearchQuery = Annotated[
    str,
    Field(
        description="What the documents were searched with: the question, or a follow-up's "
        "standalone query."
    ),
]


class AskResponse(BaseModel):
    answer: str
    sources: list[Source] = Field(
        description="Every passage retrieved, in order; [n] in the answer is sources[n-1] "
        "(`cited` says which the answer cites)."
    )
    cited: Cited
    citations_removed: CitationsRemoved
    stop_reason: StopReason
    truncated: Truncated
    blocked: Blocked
    search_query: SearchQuery
    model: str = Field(description='"extractive" or the Bedrock model id.')
    mode: Mode = Field(description=_MODE_RAN)
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
    """Data of the final `done` event of /ask/stream: /ask's fields but the answer and the
    sources, which came before."""

    cited: Cited
    citations_removed: CitationsRemoved
    stop_reason: StopReason
    truncated: Truncated
    blocked: Blocked
    search_query: SearchQuery
    usage: Usage | None
    model: str
    mode: Mode = Field(description=_MODE_RAN)
    timings_ms: Timings
    request_id: str
