"""AWS clients the service creates once at start-up (never per request)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from app.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_s3 import S3Client


def bedrock_runtime(settings: Settings) -> BedrockRuntimeClient:
    """bedrock-runtime with `standard` retries and explicit timeouts, so a slow or throttled
    model fails within a bound the API can turn into a 503 instead of hanging a worker.

    The pool holds BEDROCK_MAX_CONCURRENCY connections (botocore's default is 10), and
    `app.offload.lane_for` gives the client as many worker threads: a boto3 client is
    thread-safe, and a call that waits on the model holds a thread and a connection, nothing
    more, so a slow model no longer caps how many questions are in flight.
    """
    return boto3.client(
        "bedrock-runtime", region_name=settings.AWS_REGION, config=_config(settings)
    )


def _config(settings: Settings) -> Config:
    return Config(
        connect_timeout=settings.BEDROCK_CONNECT_TIMEOUT_S,
        read_timeout=settings.BEDROCK_READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": settings.BEDROCK_MAX_ATTEMPTS},
        max_pool_connections=settings.BEDROCK_MAX_CONCURRENCY,
        # botocore checks every request against the service model before sending it: ~5 %
        # of its CPU per call, for requests our own code builds the same way each time
        # (botocore/config.py: "You can disable parameter validation for performance
        # reasons"). The shapes are checked where they are built, by the tests' validating
        # clients (tests/app/test_bedrock_answerer.py, test_titan.py); a request Bedrock
        # refused would still be a 502 (ValidationException -> ModelCallError).
        parameter_validation=False,
    )


def bedrock_agent_runtime(settings: Settings) -> Any:
    """bedrock-agent-runtime (the reranker's `Rerank`) with the same retries, timeouts and
    pool as bedrock-runtime. Typed Any: no stubs package is installed for this service
    (`app.rerank.RerankClient` says what is used)."""
    return boto3.client(
        "bedrock-agent-runtime", region_name=settings.AWS_REGION, config=_config(settings)
    )


def s3(settings: Settings) -> S3Client:
    return boto3.client("s3", region_name=settings.AWS_REGION)
