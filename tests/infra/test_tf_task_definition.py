"""The service's settings against what Terraform passes it: a contract across files that no
Terraform run sees (the rendered container definition itself is checked by `terraform test`:
terraform/tests/contracts.tftest.hcl, run task_definition_gets_its_roles_secrets_and_settings)."""

from __future__ import annotations

import re

from app.config import Settings
from tests.infra.tfconfig import Stack

# What the service needs to start in AWS (app/config.py), whatever else is passed.
CONTRACT_ENVIRONMENT = {
    "APP_NAME",
    "ENVIRONMENT",
    "AWS_REGION",
    "QDRANT_COLLECTION",
    "BEDROCK_EMBEDDING_MODEL_ID",
    "BEDROCK_MODEL_ID",
    "BEDROCK_MAX_TOKENS",
    "LOG_LEVEL",
}


def _environment_names(stack: Stack) -> set[str]:
    """The names main.tf's local.app_environment sets (its `merge(...)` of literal maps)."""
    expr = stack.root.config.locals["app_environment"]
    inner = expr[expr.index("merge(") :]
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) =", inner))


def test_every_environment_variable_is_a_setting_of_the_service(stack: Stack) -> None:
    env = _environment_names(stack)
    assert env >= CONTRACT_ENVIRONMENT, f"main.tf does not set {CONTRACT_ENVIRONMENT - env}"
    unknown = env - set(Settings.model_fields)
    assert not unknown, f"the service has no setting named {sorted(unknown)}"
    assert {"QDRANT_URL", "QDRANT_API_KEY"} <= set(Settings.model_fields)
    assert not env & {"QDRANT_URL", "QDRANT_API_KEY"}, "the Qdrant values are secrets"
