"""Every error class of the service, in one place; none imports FastAPI, so the stores and
the ingestion CLI raise them without loading the web stack. How each becomes an HTTP
response (status, message, headers) is `app.api.errors`.

    Exception
     ├── ApiError                      status + message, raised by the app's own code
     │    ├── ModelUnavailableError    503 + Retry-After: Bedrock timed out or unreachable
     │    │    └── ModelThrottledError 503 + Retry-After: still throttled after retries
     │    ├── ModelCallError           502: Bedrock refused or failed the call
     │    ├── StoreTimeoutError        503 + Retry-After: the store did not answer in time
     │    └── UnknownDocumentsError    422 (with `fields`): `documents` names no stored one
     ├── StoreError                    503 + Retry-After: the vector store failed
     │    ├── StoreUnavailable         it did not answer (down, timeout, embedded files locked)
     │    ├── CollectionMissing        nothing has been ingested (the 503 says so)
     │    └── CollectionMismatch       another dense size, BM25 language or payload schema
     ├── SourceError                   ingestion: a source names nothing readable (exit 2)
     ├── SourceReadError               ingestion: one listed document could not be fetched
     ├── UnreadableDocument            ingestion: a file is not text (named with its line/page)
     └── HTTPException (starlette)     its status: BodyTooLargeError 413, RequestTimeoutError
                                       408 (404, 405 and unreadable bodies are FastAPI's own)

The ingestion CLI turns a StoreError into exit status 3, and names each unreadable file
(exit 1), with their messages.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

__all__ = [
    "ApiError",
    "BodyTooLargeError",
    "CollectionMismatch",
    "CollectionMissing",
    "ModelCallError",
    "ModelThrottledError",
    "ModelUnavailableError",
    "RequestTimeoutError",
    "SourceError",
    "SourceReadError",
    "StoreError",
    "StoreTimeoutError",
    "StoreUnavailable",
    "UnknownDocumentsError",
    "UnreadableDocument",
]


class ApiError(Exception):
    status_code = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class ModelUnavailableError(ApiError):
    status_code = 503


class ModelThrottledError(ModelUnavailableError):
    pass


class ModelCallError(ApiError):
    status_code = 502


class StoreTimeoutError(ApiError):
    status_code = 503


class UnknownDocumentsError(ApiError):
    """422 like any invalid field: the `documents` filter names a document nothing stored
    has (an exact-match filter would otherwise find nothing, silently)."""

    status_code = 422

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid request: documents: {reason}")
        self.fields = [{"field": "documents", "reason": reason}]


class BodyTooLargeError(HTTPException):
    """An HTTPException so that FastAPI's body reader re-raises it instead of a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"The request body is larger than {limit} bytes (MAX_BODY_BYTES); "
            "send a shorter question.",
        )


class RequestTimeoutError(HTTPException):
    """The body did not arrive in time (HTTP_BODY_TIMEOUT_S); raised by the middleware."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"The request body did not arrive within {timeout_s:g} s (HTTP_BODY_TIMEOUT_S).",
        )


class StoreError(Exception):
    """Base class for vector-store failures the API turns into a 503."""


class StoreUnavailable(StoreError):  # noqa: N818 - the agreed names
    """The store did not answer (server down, timeout, embedded files locked)."""


class CollectionMissing(StoreError):  # noqa: N818 - the agreed names
    """The collection does not exist yet: nothing has been ingested."""


class CollectionMismatch(StoreError):  # noqa: N818 - the agreed names
    """The collection exists with another vector configuration (e.g. a different dense size)."""


class SourceError(Exception):
    """A source argument names nothing we can read (missing path, bucket, permission)."""


class SourceReadError(Exception):
    """One listed document could not be fetched; the message says why."""


class UnreadableDocument(Exception):  # noqa: N818 - reads as the reason it is raised
    """The file could not be turned into text; the message says why (and where)."""
