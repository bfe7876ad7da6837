"""AWS clients the service creates once at start-up (never per request).

The API's Bedrock clients are aiobotocore's: a call that waits on the model holds a
connection of the client's pool and nothing else (no thread, no turn of the event loop), so
a task has BEDROCK_MAX_CONCURRENCY model calls in flight however slow the model is. They
are async context managers, entered by the app's lifespan on its own event loop (the
connection pool is that loop's). The `blocking_*` clients are boto3's, for code that runs
outside an event loop (ingestion, offline evaluation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.config import Config

from app.config import Settings

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient as BlockingBedrockRuntimeClient
    from mypy_boto3_s3 import S3Client
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

__all__ = [
    "bedrock_agent_runtime",
    "bedrock_runtime",
    "blocking_bedrock_agent_runtime",
    "blocking_bedrock_runtime",
    "s3",
]


def _options(settings: Settings) -> dict[str, Any]:
    """`standard` retries and explicit timeouts, so a slow or throttled model fails within a
    bound the API can turn into a 503 instead of hanging a request."""
    return {
        "connect_timeout": settings.BEDROCK_CONNECT_TIMEOUT_S,
        "read_timeout": settings.BEDROCK_READ_TIMEOUT_S,
        "retries": {"mode": "standard", "total_max_attempts": settings.BEDROCK_MAX_ATTEMPTS},
        # botocore's default is 10: the number of model calls a client has in flight.
        "max_pool_connections": settings.BEDROCK_MAX_CONCURRENCY,
        # botocore checks every request against the service model before sending it: ~5 %
        # of its CPU per call, for requests our own code builds the same way each time
        # (botocore/config.py: "You can disable parameter validation for performance
        # reasons"). The shapes are checked where they are built, by the tests' validating
        # clients (tests/app/test_bedrock_answerer.py, test_titan.py); a request Bedrock
        # refused would still be a 502 (ValidationException -> ModelCallError).
        "parameter_validation": False,
    }


def _async_client(service: str, settings: Settings) -> AbstractAsyncContextManager[Any]:
    # Imported here: the ingestion CLI and the offline tools never load aiohttp.
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session: Any = get_session()  # its stubs type create_client per literal service name
    return session.create_client(  # type: ignore[no-any-return]
        service, region_name=settings.AWS_REGION, config=AioConfig(**_options(settings))
    )


def bedrock_runtime(settings: Settings) -> AbstractAsyncContextManager[BedrockRuntimeClient]:
    """bedrock-runtime for the API (Converse, ConverseStream, Titan's InvokeModel): `async
    with bedrock_runtime(settings) as client:`."""
    return _async_client("bedrock-runtime", settings)


def bedrock_agent_runtime(settings: Settings) -> AbstractAsyncContextManager[Any]:
    """bedrock-agent-runtime for the API (the reranker's `Rerank`), with the same retries,
    timeouts and pool. Typed Any: no stubs package is installed for this service
    (`app.rerank.RerankClient` says what is used)."""
    return _async_client("bedrock-agent-runtime", settings)


def _blocking_client(service: str, settings: Settings) -> Any:
    import boto3

    client: Any = boto3.client  # its stubs type it per literal service name
    return client(service, region_name=settings.AWS_REGION, config=Config(**_options(settings)))


def blocking_bedrock_runtime(settings: Settings) -> BlockingBedrockRuntimeClient:
    return _blocking_client("bedrock-runtime", settings)  # type: ignore[no-any-return]


def blocking_bedrock_agent_runtime(settings: Settings) -> Any:
    return _blocking_client("bedrock-agent-runtime", settings)


def s3(settings: Settings) -> S3Client:
    import boto3

    return boto3.client("s3", region_name=settings.AWS_REGION)
