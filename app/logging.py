"""JSON log lines on stdout, one per request (CloudWatch Logs Insights reads the fields).

A request line carries the request id, method, route template, status and timings. It never
carries the question, document text, headers or the API key: the fields are chosen here,
never copied from the request.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "GATEWAY_ID_HEADER",
    "REQUEST_LOGGER",
    "JsonFormatter",
    "configure_logging",
    "request_id_from",
]

REQUEST_LOGGER = "qa.request"
_HANDLER_NAME = "qa-json"
# Incoming ids are echoed in a header and logged: accept only short, plain tokens.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The only id trusted from a request: API Gateway's integration sets this header from
# `context.requestId`, overwriting whatever a client sent (a REST API integration request
# parameter may map a context variable; AWS's "Parameter mapping source reference for REST
# APIs"). A client's own x-request-id or x-amzn-requestid could name someone else's request
# in the logs, so they are ignored.
GATEWAY_ID_HEADER = b"x-gateway-request-id"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            # What failed, in one line; never the traceback (it can quote data and paths).
            exc = record.exc_info[1]
            line["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return json.dumps(line, separators=(",", ":"), default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the `qa` loggers to stdout as JSON (idempotent: create_app may run many times)."""
    logger = logging.getLogger("qa")
    logger.setLevel(level.upper())
    logger.propagate = False
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    # uvicorn has set up its own handlers by the time it imports the app: make its lines
    # ("Started server process", errors) JSON too, and drop tracebacks (JsonFormatter never
    # prints exc_info), so the log stream is one format a query can parse.
    for name in ("uvicorn", "uvicorn.error"):
        for uvicorn_handler in logging.getLogger(name).handlers:
            uvicorn_handler.setFormatter(JsonFormatter())


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """API Gateway's id (x-gateway-request-id, set by the integration), else a new one."""
    for name, value in headers:
        if name.lower() == GATEWAY_ID_HEADER:
            candidate = value.decode("latin-1").strip()
            if _SAFE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex
