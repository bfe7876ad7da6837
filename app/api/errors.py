"""How the errors of `app.errors` become responses, and the handlers that write them.

Every error body is `{"error": "...", "request_id": "..."}` (422 adds `fields`). A response
never carries a stack trace, the input that failed, or a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from app.errors import ApiError, CollectionMissing, StoreError, UnknownDocumentsError
from app.schemas import (
    ErrorResponse,
    StreamDelta,
    StreamDone,
    StreamError,
    StreamSources,
    ValidationErrorResponse,
)

__all__ = [
    "ASK_ERROR_RESPONSES",
    "ASK_STREAM_RESPONSES",
    "ERROR_RESPONSES",
    "RETRY_AFTER_HEADER",
    "error_body",
    "install_error_handlers",
    "request_id_of",
]


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
    if isinstance(exc, UnknownDocumentsError):
        return _validation_response(request, exc.fields)
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
        # Not the path: rejected input is never echoed.
        message = "No such route; see /openapi.json for the routes."
    elif exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI's "There was an error parsing the body": json.loads failed on the bytes
        # (not UTF-8) or on the depth (RecursionError), not on the syntax. The same 422 as
        # any other body that is not JSON.
        reason = (
            "is nested too deeply"
            if isinstance(exc.__cause__, RecursionError)
            else "is not valid UTF-8 JSON"
        )
        return _validation_response(request, [{"field": "body", "reason": reason}])
    return _json_error(request, exc.status_code, message, dict(exc.headers or {}))


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "question") -> "question"; ("body", 12) (bad JSON at offset 12) -> "body"
    parts = [str(p) for p in loc if p != "body" and not isinstance(p, int)]
    return ".".join(parts) or "body"


def _reason(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "has a field the request does not have (its fields are in /openapi.json)"
    if error.get("type") == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"is not valid JSON ({detail})" if detail else "is not valid JSON"
    return str(error.get("msg", "is invalid"))


def _field(error: dict[str, Any]) -> dict[str, str]:
    loc = tuple(error["loc"])
    if error.get("type") == "extra_forbidden":
        # The unknown name is the client's input (it may be 60 KB): name its parent instead.
        loc = loc[:-1]
    return {"field": _field_name(loc), "reason": _reason(error)}


def _validation_response(request: Request, fields: list[dict[str, str]]) -> JSONResponse:
    # One line per distinct problem: ten unknown fields are one.
    fields = list({(f["field"], f["reason"]): f for f in fields}.values())
    summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    body = {**error_body(f"Invalid request: {summary}", request_id_of(request)), "fields": fields}
    return JSONResponse(body, status_code=422)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for it only)
    return _validation_response(request, [_field(e) for e in exc.errors()])


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
    408: {
        "model": ErrorResponse,
        "description": "The body did not arrive within HTTP_BODY_TIMEOUT_S.",
    },
    422: {"model": ValidationErrorResponse, "description": "A field is missing or invalid."},
    502: {"model": ErrorResponse, "description": "The Bedrock model refused or failed the call."},
    503: {
        "model": ErrorResponse,
        "description": "The vector store did not answer within QDRANT_TIMEOUT_S, nothing has "
        "been ingested, or Bedrock is still throttling after retries.",
        "headers": RETRY_AFTER_HEADER,
    },
}


_COMPONENT = "#/components/schemas/{model}"
_STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "sources": StreamSources,
    "delta": StreamDelta,
    "done": StreamDone,
    "error": StreamError,
}


def _event_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    # The data's nested models (Source, Usage, Timings) are components through /ask's
    # AskResponse; tests/app/test_openapi.py checks that every $ref resolves.
    data = model.model_json_schema(ref_template=_COMPONENT)
    data.pop("$defs", None)
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }


def _as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """`responses` with each model written out as application/json: FastAPI files a model
    under the route's own media type, which for /ask/stream is text/event-stream."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, response in responses.items():
        response = dict(response)
        model = response.pop("model")
        schema = {"$ref": _COMPONENT.format(model=model.__name__)}
        out[status] = {**response, "content": {"application/json": {"schema": schema}}}
    return out


# /ask/stream: the 200 is a stream of events (OpenAPI 3.2's itemSchema for sequential media,
# as FastAPI's own EventSourceResponse documents it); every error is JSON, as /ask's.
ASK_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events, in order: one `sources` event, `delta` events to "
        "append, then one `done` event. A failure after the stream has started arrives as an "
        "`error` event and ends the stream.",
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "oneOf": [_event_schema(name, m) for name, m in _STREAM_EVENTS.items()]
                }
            }
        },
    },
    **_as_json(ASK_ERROR_RESPONSES),
}
