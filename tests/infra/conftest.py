"""Fixtures shared by the Terraform tests: parsed once per session."""

from __future__ import annotations

import pytest

from tests.infra.tfconfig import TERRAFORM, Config, Stack, all_configs


@pytest.fixture(scope="session")
def configs() -> list[Config]:
    return all_configs()


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack()


@pytest.fixture(scope="session")
def root(stack: Stack) -> Config:
    return stack.root.config


@pytest.fixture(scope="session")
def bootstrap() -> Config:
    return Config.load(TERRAFORM / "bootstrap")
