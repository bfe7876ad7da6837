"""Fixtures for tests/deploy; they live in conftest_aws.py."""

from tests.deploy.conftest_aws import (
    _gateway_server,
    aws,
    gateway,
    github_waits,
    moto_server,
    stack,
)
from tests.deploy.tf_scenarios import tf_plans

__all__ = [
    "_gateway_server",
    "aws",
    "gateway",
    "github_waits",
    "moto_server",
    "stack",
    "tf_plans",
]
