"""The smoke question's one place, the root input `smoke_question`: the offline plans
(`make tf-plan-offline`) carry it into the blue/green hook's environment and into the root
output deploy.smoke reads, and real Terraform refuses a blank one (tfrun.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_tf_stack_plans import _after, plans  # noqa: F401 (the session fixture)
from tests.infra.tfconfig import TERRAFORM
from tests.infra.tfrun import validate_variables

HOOK = "module.blue_green[0].aws_lambda_function.smoke_hook"


def _configured(plan: dict[str, Any]) -> Any:
    return plan["variables"]["smoke_question"]["value"]


def test_prod_plan_gives_its_question_to_the_hook_and_the_output(
    plans: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    prod = plans["prod"]
    question = _configured(prod)
    assert isinstance(question, str)
    assert question.strip()
    (environment,) = _after(prod, HOOK)["environment"]
    assert environment["variables"]["SMOKE_QUESTION"] == question
    assert prod["planned_values"]["outputs"]["smoke_question"]["value"] == question


def test_dev_plan_without_a_question_outputs_null(
    plans: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    dev = plans["dev"]
    assert _configured(dev) is None
    assert dev["planned_values"]["outputs"].get("smoke_question", {}).get("value") is None


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_a_blank_or_overlong_question_is_refused(tmp_path: Path, question: str) -> None:
    run = validate_variables(
        tmp_path, TERRAFORM / "variables.tf", ["smoke_question"], {"smoke_question": question}
    )
    assert run.returncode != 0
    assert "smoke_question must be a question of 1 to 2000 characters" in run.error


@pytest.mark.parametrize("question", [None, "How do I rotate the Qdrant API key?", "x" * 2000])
def test_an_unset_or_real_question_is_taken(tmp_path: Path, question: str | None) -> None:
    run = validate_variables(
        tmp_path, TERRAFORM / "variables.tf", ["smoke_question"], {"smoke_question": question}
    )
    assert run.returncode == 0, run.error
