"""The optional Bedrock guardrail on the Terraform side (issue 14 item 2): the two variables,
their environment variables on the container, and bedrock:ApplyGuardrail on that guardrail
alone, within the workload boundary. Converse with `guardrailConfig` needs that action on
the guardrail's ARN, arn:<partition>:bedrock:<region>:<account>:guardrail/<id> (Bedrock user
guide, "Set up permissions to use Amazon Bedrock Guardrails")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_tf_first_contact import _bedrock_inputs
from tests.infra.test_tf_iam import Statement, _by_sid, statements
from tests.infra.tfconfig import TERRAFORM, Config, Stack
from tests.infra.tfrun import copy_module, run_module, validate_variables

ARN = "arn:aws:bedrock:us-east-1:210987654321:guardrail/gr7abc2def"


@pytest.mark.parametrize(
    ("guardrail_id", "arns"),
    [
        ("", []),
        ("gr7abc2def", [ARN]),  # an id: a guardrail of the caller's account and Region
        ("arn:aws:bedrock:eu-west-1:210987654321:guardrail/other1", None),  # an ARN as it is
    ],
)
def test_the_guardrail_arn_follows_from_its_id(
    tmp_path: Path, guardrail_id: str, arns: list[str] | None
) -> None:
    module = copy_module(tmp_path, TERRAFORM / "modules" / "bedrock_access")
    run = run_module(module, _bedrock_inputs("dev") | {"guardrail_id": guardrail_id})
    assert run.returncode == 0, run.error
    assert run.outputs["guardrail_arns"] == (arns if arns is not None else [guardrail_id])


def test_the_task_role_applies_the_configured_guardrail_and_no_other(
    stack: Stack, configs: list[Config]
) -> None:
    task = _by_sid(statements(configs), "terraform/modules/iam", "task")
    grant = task["ApplyConfiguredGuardrail"]
    assert grant.actions == ["bedrock:ApplyGuardrail"]
    assert grant.resources == "${var.bedrock_guardrail_arns}"
    assert stack.root.config.modules["iam"]["bedrock_guardrail_arns"] == (
        "${module.bedrock_access.guardrail_arns}"
    )
    assert stack.root.config.modules["bedrock_access"]["guardrail_id"] == (
        "${var.bedrock_guardrail_id}"
    )


def test_the_container_gets_both_guardrail_settings(stack: Stack) -> None:
    # The settings app/config.py reads; empty values are left out of the container's list.
    environment = str(stack.root.config.locals["app_environment"])
    assert "BEDROCK_GUARDRAIL_ID = var.bedrock_guardrail_id," in environment
    assert "BEDROCK_GUARDRAIL_VERSION = var.bedrock_guardrail_version}" in environment


def test_the_workload_boundary_lets_a_task_role_apply_its_guardrail(bootstrap: Config) -> None:
    boundary: list[Statement] = statements([bootstrap])
    granted = [s for s in boundary if "bedrock:ApplyGuardrail" in s.actions]
    assert granted, "the boundary would deny the task role's grant"
    (statement,) = granted
    assert statement.resources == ["arn:${local.partition}:bedrock:*:${local.account}:guardrail/*"]


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"bedrock_guardrail_id": "gr7abc2def", "bedrock_guardrail_version": "3"}, None),
        ({"bedrock_guardrail_id": "", "bedrock_guardrail_version": ""}, None),
        ({"bedrock_guardrail_id": "gr7abc2def", "bedrock_guardrail_version": ""}, "go together"),
        ({"bedrock_guardrail_id": "", "bedrock_guardrail_version": "DRAFT"}, "go together"),
        (
            {"bedrock_guardrail_id": "My Guardrail", "bedrock_guardrail_version": "1"},
            "guardrail id",
        ),
        (
            {"bedrock_guardrail_id": "gr7abc2def", "bedrock_guardrail_version": "v1"},
            "number or DRAFT",
        ),
    ],
)
def test_guardrail_variables_refuse_what_bedrock_would(
    tmp_path: Path, values: dict[str, Any], error: str | None
) -> None:
    names = ["bedrock_guardrail_id", "bedrock_guardrail_version"]
    run = validate_variables(tmp_path, TERRAFORM / "variables.tf", names, values)
    if error is None:
        assert run.returncode == 0, run.error
    else:
        assert run.returncode != 0
        assert error in run.error
