"""Prepared states: apply only into a scratch local state; unknowns filled with values in
each service's ARN format (expected ARNs written by hand from the service authorization
reference, see identifiers.py); drift and import from the scenario's overlay."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aws_standin import scratch
from aws_standin.identifiers import Identity
from aws_standin.planning import replace_paths
from aws_standin.schema import provider
from aws_standin.values import UNKNOWN

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, object]]:
    return {k: v["block"] for k, v in provider()["resource_schemas"].items()}


def _backend(cwd: Path, kind: str, config: dict[str, str] | None = None) -> None:
    (cwd / ".terraform").mkdir(parents=True)
    (cwd / ".terraform" / "terraform.tfstate").write_text(
        json.dumps({"backend": {"type": kind, "config": config or {}}})
    )


def test_apply_is_refused_without_a_scratch_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scratch.APPLY_INTO, raising=False)
    assert scratch.apply_refusal() == scratch.APPLY_REFUSED


def test_apply_is_refused_outside_the_scratch_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scratch").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv(scratch.APPLY_INTO, str(tmp_path / "scratch"))
    monkeypatch.chdir(tmp_path / "elsewhere")
    refusal = scratch.apply_refusal()
    assert refusal is not None
    assert refusal.startswith(scratch.APPLY_REFUSED)


def test_apply_is_refused_with_a_remote_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backend(tmp_path, "s3", {"bucket": "real-state"})
    monkeypatch.setenv(scratch.APPLY_INTO, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert "backend must be local" in (scratch.apply_refusal() or "")


def test_apply_is_refused_with_a_local_state_outside_the_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backend(tmp_path / "copy", "local", {"path": "../../real.tfstate"})
    monkeypatch.setenv(scratch.APPLY_INTO, str(tmp_path / "copy"))
    monkeypatch.chdir(tmp_path / "copy")
    assert "must stay inside" in (scratch.apply_refusal() or "")


def test_apply_is_allowed_into_a_local_state_in_the_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backend(tmp_path / "copy" / "terraform", "local")
    monkeypatch.setenv(scratch.APPLY_INTO, str(tmp_path / "copy"))
    monkeypatch.chdir(tmp_path / "copy" / "terraform")
    assert scratch.apply_refusal() is None


def _applied(resources: dict[str, dict[str, object]], kind: str, **known: object) -> dict:
    block = resources[kind]
    planned = dict.fromkeys(block["attributes"], UNKNOWN)  # type: ignore[attr-defined]
    planned.update(known)
    for name in block.get("block_types", {}):  # type: ignore[attr-defined]
        planned[name] = []
    out = scratch.fill(block, planned, Identity(kind, planned, REGION))
    assert UNKNOWN not in out.values()
    return out


@pytest.mark.parametrize(
    ("kind", "known", "arn"),
    [
        ("aws_iam_role", {"name": "r", "path": "/"}, "arn:aws:iam::111122223333:role/r"),
        ("aws_ecs_cluster", {"name": "c"}, "arn:aws:ecs:eu-west-1:111122223333:cluster/c"),
        (
            "aws_ecs_service",
            {"name": "s", "cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/c"},
            "arn:aws:ecs:eu-west-1:111122223333:service/c/s",
        ),
        (
            "aws_ecs_task_definition",
            {"family": "f"},
            "arn:aws:ecs:eu-west-1:111122223333:task-definition/f:1",
        ),
        ("aws_ecr_repository", {"name": "e"}, "arn:aws:ecr:eu-west-1:111122223333:repository/e"),
        ("aws_s3_bucket", {"bucket": "b"}, "arn:aws:s3:::b"),
        ("aws_s3_object", {"bucket": "b", "key": "k/x"}, "arn:aws:s3:::b/k/x"),
        ("aws_kms_alias", {"name": "alias/a"}, "arn:aws:kms:eu-west-1:111122223333:alias/a"),
        (
            "aws_cloudwatch_log_group",
            {"name": "/ecs/x"},
            "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/x",
        ),
        (
            "aws_lambda_function",
            {"function_name": "fn"},
            "arn:aws:lambda:eu-west-1:111122223333:function:fn",
        ),
        ("aws_sns_topic", {"name": "t"}, "arn:aws:sns:eu-west-1:111122223333:t"),
        (
            "aws_cloudwatch_metric_alarm",
            {"alarm_name": "a"},
            "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:a",
        ),
    ],
)
def test_arns_in_the_service_format(
    resources: dict[str, dict[str, object]], kind: str, known: dict[str, object], arn: str
) -> None:
    assert _applied(resources, kind, **known)["arn"] == arn


def test_a_secret_arn_ends_in_six_characters(resources: dict[str, dict[str, object]]) -> None:
    out = _applied(resources, "aws_secretsmanager_secret", name="app/dev/qdrant-url")
    assert re.fullmatch(
        r"arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/dev/qdrant-url-[a-z0-9]{6}",
        out["arn"],
    )
    assert out["id"] == out["arn"]


def test_kms_key_elb_and_ec2_ids_have_their_shapes(
    resources: dict[str, dict[str, object]],
) -> None:
    key = _applied(resources, "aws_kms_key", description="k")
    assert re.fullmatch(r"arn:aws:kms:eu-west-1:111122223333:key/[0-9a-f-]{36}", key["arn"])
    assert key["arn"].endswith("/" + key["key_id"])
    lb = _applied(resources, "aws_lb", name="n", load_balancer_type="network", internal=True)
    assert re.fullmatch(
        r"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/n/[0-9a-f]{16}",
        lb["arn"],
    )
    listener = _applied(resources, "aws_lb_listener", load_balancer_arn=lb["arn"])
    assert listener["arn"].startswith(lb["arn"].replace(":loadbalancer/", ":listener/") + "/")
    vpc = _applied(resources, "aws_vpc", cidr_block="10.0.0.0/16")
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc["id"])
    assert vpc["arn"] == f"arn:aws:ec2:eu-west-1:111122223333:vpc/{vpc['id']}"


def test_a_name_prefix_gets_the_providers_26_character_suffix(
    resources: dict[str, dict[str, object]],
) -> None:
    out = _applied(resources, "aws_iam_role", name_prefix="app-flow-logs-", path="/")
    assert re.fullmatch(r"app-flow-logs-\d{26}", out["name"])
    assert out["arn"] == f"arn:aws:iam::111122223333:role/{out['name']}"


def test_the_same_plan_applies_to_the_same_values(
    resources: dict[str, dict[str, object]],
) -> None:
    one = _applied(resources, "aws_kms_key", description="k")
    assert _applied(resources, "aws_kms_key", description="k") == one
    assert _applied(resources, "aws_kms_key", description="other")["arn"] != one["arn"]


def test_drift_and_imports_come_from_the_overlay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = tmp_path / "overlay.json"
    overlay.write_text(
        json.dumps(
            {
                "drift": [
                    {"type": "aws_ecs_service", "match": {"name": "s"}, "set": {"desired_count": 5}}
                ],
                "objects": [{"type": "aws_sns_topic", "id": "arn:t", "state": {"name": "t"}}],
            }
        )
    )
    monkeypatch.setenv(scratch.OVERLAY, str(overlay))
    assert scratch.drifted("aws_ecs_service", {"name": "s", "desired_count": 2}) == {
        "name": "s",
        "desired_count": 5,
    }
    assert scratch.drifted("aws_ecs_service", {"name": "other", "desired_count": 2}) == {
        "name": "other",
        "desired_count": 2,
    }
    assert scratch.existing("aws_sns_topic", "arn:t") == {"name": "t", "id": "arn:t"}
    assert scratch.existing("aws_sns_topic", "arn:u") == {"id": "arn:u"}


def test_a_force_new_argument_requires_replacement() -> None:
    prior = {"description": "a", "vpc_id": "vpc-1", "tags": {"x": "1"}}
    assert replace_paths("aws_security_group", {**prior, "description": "b"}, prior) == [
        "description"
    ]
    assert replace_paths("aws_security_group", {**prior, "tags": {"x": "2"}}, prior) == []
    assert replace_paths("aws_security_group", prior, None) == []


def test_a_name_with_a_prefix_is_computed(resources: dict[str, dict[str, object]]) -> None:
    """With only name_prefix set, the role's name is known after apply, and kept in state."""
    attrs = resources["aws_iam_role"]["attributes"]
    assert attrs["name"]["computed"]  # type: ignore[index]
    assert attrs["name_prefix"]["computed"]  # type: ignore[index]
    assert resources["aws_s3_bucket"]["attributes"]["bucket"]["computed"]  # type: ignore[index]
