"""Errors the API answers with, and the handlers that turn them into JSON.

Every error body is `{"error": "...", "request_id": "..."}` (422 adds `fields`):

    Exception
     ├── ApiError                      status + message, raised by the app's own code
     │    ├── ModelUnavailableError    503 + Retry-After: Bedrock timed out or unreachable
     │    │    └── ModelThrottledError 503 + Retry-After: still throttled after retries
     │    ├── ModelCallError           502: Bedrock refused or failed the call
     │    └── StoreTimeoutError        503 + Retry-After: the store did not answer in time
     ├── StoreError (app.store.base)   503 + Retry-After (CollectionMissing: nothing ingested)
     ├── HTTPException                 its status (404, 405, 413 BodyTooLargeError, ...)
     └── RequestValidationError        422 naming each field and reason

A response never carries a stack trace, the input that failed, or a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.schemas import ErrorResponse, ValidationErrorResponse
from app.store.base import CollectionMissing, StoreError

__all__ = [
    "ASK_ERROR_RESPONSES",
    "ERROR_RESPONSES",
    "RETRY_AFTER_HEADER",
    "ApiError",
    "BodyTooLargeError",
    "ModelCallError",
    "ModelThrottledError",
    "ModelUnavailableError",
    "StoreTimeoutError",
    "error_body",
    "install_error_handlers",
    "request_id_of",
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


class BodyTooLargeError(HTTPException):
    """An HTTPException so that FastAPI's body reader re-raises it instead of a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"The request body is larger than {limit} bytes (MAX_BODY_BYTES); "
            "send a shorter question.",
        )


def request_id_of(request: Request) -> str:
    """The id the middleware gave this request (also in the x-request-id header)."""
    return str(request.scope.get("state", {}).get("request_id", "-"))


def error_body(message: str, request_id: str) -> dict[str, str]:
    return {"error": message, "request_id": request_id}


def _json_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(message, request_id_of(request)), status_code=status, headers=headers
    )


def _retry_after(request: Request) -> dict[str, str]:
    return {"Retry-After": str(request.app.state.settings.RETRY_AFTER_S)}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)  # noqa: S101 (registered for ApiError only)
    headers = dict(exc.headers)
    if exc.status_code == 503:
        headers.setdefault("Retry-After", str(request.app.state.settings.RETRY_AFTER_S))
    return _json_error(request, exc.status_code, exc.message, headers)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, CollectionMissing):
        message = (
            "Nothing has been ingested yet: run `python -m app.ingest <files>` "
            "(or `make ingest SRC=...`), then ask again."
        )
    else:
        # Not the store's own text: it can name internal hosts and paths. The log line has
        # the exception type; a timeout, a refused connection or a locked embedded store all
        # land here.
        timeout = request.app.state.settings.QDRANT_TIMEOUT_S
        message = (
            "The vector store is unavailable (it refused the request or did not answer within "
            f"{timeout:g} s); try again shortly."
        )
    return _json_error(request, 503, message, _retry_after(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 (registered for HTTPException only)
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404:
        message = f"No route {request.url.path!r}; see /openapi.json for the routes."
    return _json_error(request, exc.status_code, message, dict(exc.headers or {}))


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "question") -> "question"; ("body", 12) (bad JSON at offset 12) -> "body"
    parts = [str(p) for p in loc if p != "body" and not isinstance(p, int)]
    return ".".join(parts) or "body"


def _reason(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"is not valid JSON ({detail})" if detail else "is not valid JSON"
    return str(error.get("msg", "is invalid"))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for it only)
    fields = [{"field": _field_name(tuple(e["loc"])), "reason": _reason(e)} for e in exc.errors()]
    summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    body = {**error_body(f"Invalid request: {summary}", request_id_of(request)), "fields": fields}
    return JSONResponse(body, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}

# Statuses every route can return, for the OpenAPI document (`responses=`). Unknown paths
# (404) and methods (405) answer the same JSON but belong to no route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body larger than MAX_BODY_BYTES."},
    500: {"model": ErrorResponse, "description": "Unexpected failure; the log has the request id."},
}
ASK_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    422: {"model": ValidationErrorResponse, "description": "A field is missing or invalid."},
    502: {"model": ErrorResponse, "description": "The Bedrock model refused or failed the call."},
    503: {
        "model": ErrorResponse,
        "description": "The vector store did not answer within QDRANT_TIMEOUT_S, nothing has "
        "been ingested, or Bedrock is still throttling after retries.",
        "headers": RETRY_AFTER_HEADER,
    },
}
