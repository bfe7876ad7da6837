"""Fixtures for tests/deploy; they live in conftest_aws.py."""

from conftest_aws import _gateway_server, aws, gateway, github_waits, moto_server, stack

__all__ = ["_gateway_server", "aws", "gateway", "github_waits", "moto_server", "stack"]
