"""boto3 clients for the deploy tools, and AWS errors turned into one sentence.

Region and endpoint come from the standard environment only: `AWS_REGION` (or
`AWS_DEFAULT_REGION`) and `AWS_ENDPOINT_URL`, which botocore reads itself. Nothing here knows
about tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from deploy._cli import ConfigError, DeployError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "aws_call",
    "aws_error",
    "ecr_client",
    "ecs_client",
    "error_code",
    "s3_client",
    "secrets_client",
]

# Throttling during a rollout is normal (describe_services every few seconds); `standard`
# retries it with backoff instead of failing the deploy.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


def _region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("no AWS region: set AWS_REGION (configure-aws-credentials does).")
    return region


def ecr_client() -> ECRClient:
    return boto3.client("ecr", region_name=_region(), config=_CONFIG)


def ecs_client(config: Config | None = None) -> ECSClient:
    """`config` replaces the tools' retries and timeouts (the smoke hook has a short budget)."""
    return boto3.client("ecs", region_name=_region(), config=config or _CONFIG)


def s3_client() -> S3Client:
    return boto3.client("s3", region_name=_region(), config=_CONFIG)


def secrets_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", region_name=_region(), config=_CONFIG)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def aws_error(what: str, exc: ClientError | BotoCoreError) -> DeployError:
    """One sentence naming what was tried and what AWS answered."""
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return DeployError(f"{what} failed: {error_code(exc)}: {message}".rstrip(": ") + ".")
    return DeployError(f"{what} failed: {exc}.")


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn a botocore error inside the block into a DeployError that says what was tried."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(what, exc) from exc
