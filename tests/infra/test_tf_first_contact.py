"""What the first plan, apply and rollout against AWS need from terraform/ (one test per
finding of the pre-merge review; the module docstrings and comments in the .tf files give
the evidence). Where Terraform itself can decide (validations, the provider-free module that
derives the Bedrock ARNs), the real Terraform runs offline (tfrun.py)."""

from __future__ import annotations

import csv
import fnmatch
import json
import re
from pathlib import Path

import pytest

from tests.infra.test_tf_apply_role import (
    ENVS,
    MANAGED_LIMIT,
    policy_size,
    render,
    render_document,
)
from tests.infra.test_tf_iam import Statement, _by_sid, statements
from tests.infra.tfconfig import REPO, TERRAFORM, Config, Stack, blocks, parse_file
from tests.infra.tfrun import copy_module, run_module, validate_variables

README = REPO / "README.md"


@pytest.fixture(scope="module")
def boot_statements(bootstrap: Config) -> list[Statement]:
    return statements([bootstrap])


def _conditions(st: Statement) -> dict[str, dict[str, object]]:
    return {c["variable"]: c for c in blocks(st.body.get("condition", []))}


def _granted(stmts: list[Statement], action: str) -> list[Statement]:
    return [
        s
        for s in stmts
        if s.effect == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in s.actions)
    ]


################################################################################
# 1 and 14: the plan role
################################################################################


def test_plan_role_can_refresh_the_smoke_key_version_but_no_other_secret(
    bootstrap: Config, boot_statements: list[Statement]
) -> None:
    plan = [s for s in boot_statements if s.where[1] in ("plan", "plan_read")]
    smoke = "${[for e in local.envs : e.smoke_secret]}"
    reads = _granted(plan, "secretsmanager:GetSecretValue")
    assert [s.resources for s in reads] == [smoke]
    (decrypt,) = [
        s
        for s in _granted(plan, "kms:Decrypt")
        if "aws:" not in str(s.resources) and s.resources != ["${module.state_kms.key_arn}"]
    ]
    cond = _conditions(decrypt)
    assert cond["kms:ViaService"]["values"] == ["secretsmanager.${local.region}.amazonaws.com"]
    assert cond["kms:EncryptionContext:SecretARN"]["values"] == smoke
    # The smoke secret's pattern is the one the stack names; the Qdrant secrets stay
    # unreadable: every other secret value is denied.
    pattern = render(bootstrap, "${each.value.smoke_secret}", "dev")
    assert fnmatch.fnmatchcase(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:qa-service/dev/smoke-api-key-AbCdEf",
        pattern,
    )
    assert not fnmatch.fnmatchcase(pattern.replace("smoke-api-key", "qdrant-api-key"), pattern)
    (deny,) = [
        s for s in plan if s.effect == "Deny" and "secretsmanager:GetSecretValue" in s.actions
    ]
    assert deny.body["not_resources"] == smoke


def _read_calls() -> set[str]:
    """What a refresh calls: the `read` rows of the provider call table (each cited from the
    provider source; the same rows `make iam-check` evaluates for the plan role)."""
    table = REPO / "tests" / "iam" / "data" / "provider_calls.csv"
    with table.open(encoding="utf-8", newline="") as rows:
        return {row["action"] for row in csv.DictReader(rows) if row["phase"] == "read"}


def test_plan_role_reads_what_a_refresh_reads_and_no_contents(
    bootstrap: Config, boot_statements: list[Statement]
) -> None:
    attached = [
        b["policy_arn"]
        for _, t, n, b in bootstrap.resources()
        if t == "aws_iam_role_policy_attachment" and b["role"] == "${aws_iam_role.plan.name}"
    ]
    assert attached == ["${aws_iam_policy.plan_read.arn}"], "no ReadOnlyAccess"
    plan = [s for s in boot_statements if s.where[1] in ("plan", "plan_read")]
    # Every read the provider makes for a resource of the stack, and the data sources'.
    needed = _read_calls() | {"ec2:DescribeAvailabilityZones", "ec2:DescribeVpcEndpointServices"}
    missing = sorted(c for c in needed if not _granted(plan, c))
    assert not missing, f"the plan role cannot refresh: {missing}"
    granted = {a for s in plan if s.effect == "Allow" for a in s.actions}
    for forbidden in (
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "logs:StartQuery",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "s3:GetObjectVersion",
        "ssm:GetParameter",
    ):
        assert not any(fnmatch.fnmatchcase(forbidden, a) for a in granted), forbidden
    # Reads only, apart from the lock file.
    writes = {a for a in granted if not re.match(r"[\w-]+:(Describe|Get|List|GET)", a)}
    assert writes == {
        "s3:PutObject",
        "s3:DeleteObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    for s in plan:
        if s.effect == "Allow" and {"s3:PutObject", "s3:GetObject"} & set(s.actions):
            assert "${local.state_arn}" in str(s.resources), s.where  # objects: state only


def test_readme_says_what_a_pull_request_can_read() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### What a pull request can read") :]
    section = section[: section.index("\n### ", 5)]
    for fact in ("state", "API key", "smoke", "Qdrant", "log", "image"):
        assert fact in section, fact


################################################################################
# 2: KMS calls right after CreateKey
################################################################################


def test_kms_calls_right_after_create_key_do_not_need_the_tag_yet(
    boot_statements: list[Statement],
) -> None:
    data = [s for s in boot_statements if s.where[1] == "apply_data"]
    for call in (
        "kms:DescribeKey",
        "kms:EnableKeyRotation",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
        "kms:CreateGrant",
        "kms:GenerateDataKey",
    ):
        sts = [s for s in _granted(data, call) if "key/" in str(s.resources)]
        assert sts, call
        for s in sts:
            tag = _conditions(s)["aws:ResourceTag/Environment"]
            assert tag["test"] == "StringEqualsIfExists", (call, s.where)
            assert tag["values"] == ["${each.key}"]
    # What could widen access to a key stays bound to a tag it already has.
    for call in (
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "kms:UntagResource",
        "kms:DisableKeyRotation",
        "kms:UpdateKeyDescription",
    ):
        for s in _granted(data, call):
            assert _conditions(s)["aws:ResourceTag/Environment"]["test"] == "StringEquals", call


################################################################################
# 3: API Gateway's CloudWatch role
################################################################################


def test_apigateway_cloudwatch_role_has_a_plain_service_trust(bootstrap: Config) -> None:
    trust = bootstrap.data("aws_iam_policy_document", "apigateway_assume")
    (st,) = blocks(trust["statement"])
    assert st["actions"] == ["sts:AssumeRole"]
    assert blocks(st["principals"])[0]["identifiers"] == ["apigateway.amazonaws.com"]
    assert "condition" not in st


################################################################################
# 4: zones by ID, endpoints where their service is
################################################################################


def test_subnets_by_zone_id_and_endpoints_only_where_their_service_is(stack: Stack) -> None:
    net = stack.scope("network").config
    assert "zone_ids" in net.locals["az_ids"]
    assert "sort(" in net.locals["az_ids"]
    for tier in ("public", "private"):
        subnet = net.resource("aws_subnet", tier)
        assert subnet["availability_zone_id"] == "${local.az_ids[count.index]}"
        assert "availability_zone" not in subnet
    service = net.data("aws_vpc_endpoint_service", "interface")
    assert service["for_each"] == "${local.interface_endpoints}"
    assert service["service_type"] == "Interface"
    endpoint = net.resource("aws_vpc_endpoint", "interface")
    subnets = endpoint["subnet_ids"]
    assert "data.aws_vpc_endpoint_service.interface[each.key].availability_zones" in subnets
    assert "aws_subnet.private" in subnets
    assert " if " in subnets
    (pre,) = blocks(blocks(endpoint["lifecycle"])[0]["precondition"])
    assert "availability_zones" in pre["condition"]


################################################################################
# 5: dev can be re-created the day it was destroyed
################################################################################


@pytest.mark.parametrize(
    ("days", "ok"), [(0, True), (3, False), (7, True), (30, True), (31, False)]
)
def test_secret_recovery_window_is_0_or_7_to_30(tmp_path: Path, days: int, ok: bool) -> None:
    run = validate_variables(
        tmp_path,
        TERRAFORM / "modules" / "secrets" / "variables.tf",
        ["recovery_window_in_days"],
        {"recovery_window_in_days": days},
    )
    assert (run.returncode == 0) is ok, run.error
    if not ok:
        assert "must be 0 (delete at once) or between 7 and 30" in run.error


def test_dev_deletes_secrets_at_once_and_the_readme_says_how_to_restore() -> None:
    assert parse_file(TERRAFORM / "envs" / "dev.tfvars")["secret_recovery_window_days"] == 0
    assert parse_file(TERRAFORM / "envs" / "prod.tfvars")["secret_recovery_window_days"] == 30
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Restore a deleted secret") :]
    section = section[: section.index("\n### ", 5)]
    assert "aws secretsmanager restore-secret" in section
    assert "terraform" in section
    assert " import " in section


################################################################################
# 6: no ECS Exec
################################################################################


def test_ecs_exec_is_off_and_no_flag_pretends_otherwise(
    configs: list[Config], stack: Stack
) -> None:
    for cfg in configs:
        assert "enable_execute_command" not in cfg.variables, cfg.rel
    ecs = stack.scope("ecs").config
    assert ecs.resource("aws_ecs_service", "this")["enable_execute_command"] is False
    assert "configuration" not in ecs.resource("aws_ecs_cluster", "this")
    text = json.dumps([s.actions for s in statements(configs)])
    assert "ssmmessages" not in text


################################################################################
# 7 and issue 12: Bedrock ARNs derived from the model ids and the caller's account
################################################################################


def _bedrock_inputs(env: str) -> dict[str, object]:
    tfvars = parse_file(TERRAFORM / "envs" / f"{env}.tfvars")
    return {
        "partition": "aws",
        "account_id": "210987654321",  # the caller's, whatever it is
        "region": tfvars["aws_region"],
        "answer_model_id": tfvars["bedrock_model_id"],
        "answer_model_regions": tfvars["bedrock_model_regions"],
        "embedding_model_id": tfvars["bedrock_embedding_model_id"],
    }


def test_no_account_id_is_written_in_the_environment_files() -> None:
    for env in ENVS:
        text = (TERRAFORM / "envs" / f"{env}.tfvars").read_text(encoding="utf-8")
        assert not re.search(r"\b\d{12}\b", text), f"envs/{env}.tfvars holds an account id"
        assert "arn:" not in text, f"envs/{env}.tfvars: the ARNs are derived"


@pytest.mark.parametrize("env", ENVS)
def test_bedrock_arns_follow_from_the_model_ids_and_the_callers_account(
    tmp_path: Path, stack: Stack, env: str
) -> None:
    call = stack.root.config.modules["bedrock_access"]
    assert call["account_id"] == "${data.aws_caller_identity.current.account_id}"
    assert call["partition"] == "${data.aws_partition.current.partition}"
    module = copy_module(tmp_path, TERRAFORM / "modules" / "bedrock_access")
    run = run_module(module, _bedrock_inputs(env))
    assert run.returncode == 0, run.error
    assert run.outputs["inference_profile_arns"] == [
        "arn:aws:bedrock:us-east-1:210987654321:inference-profile/us.amazon.nova-lite-v1:0"
    ]
    assert run.outputs["foundation_model_arns"] == [
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
        "arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
    ]


def test_a_foundation_model_id_needs_no_regions_and_a_profile_needs_them(tmp_path: Path) -> None:
    module = copy_module(tmp_path, TERRAFORM / "modules" / "bedrock_access")
    inputs = _bedrock_inputs("dev") | {
        "answer_model_id": "amazon.nova-pro-v1:0",
        "answer_model_regions": [],
        "embedding_model_id": "",
    }
    run = run_module(module, inputs)
    assert run.returncode == 0, run.error
    assert run.outputs == {
        "foundation_model_arns": [
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"
        ],
        "inference_profile_arns": [],
        "guardrail_arns": [],
        "rerank_model_arns": [],
    }
    inputs |= {"answer_model_id": "eu.amazon.nova-pro-v1:0"}
    run = run_module(module, inputs)
    assert run.returncode != 0
    assert "needs the Regions it routes to" in run.error
    inputs |= {"answer_model_id": "", "embedding_model_id": "us.amazon.titan-embed-text-v2:0"}
    run = run_module(module, inputs)
    assert run.returncode != 0
    assert "embedding_model_id must be a foundation-model id" in run.error


################################################################################
# 8, 9, 11, issue 11 item 10: API Gateway
################################################################################


def test_stream_timeout_is_exposed_and_measured_in_minutes(stack: Stack) -> None:
    root = stack.root.config
    default = root.variables["api_stream_timeout_ms"]["default"]
    assert 60_000 <= default <= 900_000
    assert root.modules["api_gateway"]["stream_timeout_ms"] == "${var.api_stream_timeout_ms}"
    api = stack.scope("api_gateway").config
    assert "default" not in api.variables["stream_timeout_ms"]  # one place for the value
    assert api.locals["routes"]["ask_stream"]["timeout_ms"] == "${var.stream_timeout_ms}"


def test_api_keys_are_replaced_when_the_generation_changes(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    generation = api.resource("terraform_data", "api_key_generation")
    assert generation["input"] == "${var.api_key_generation}"
    key = api.resource("aws_api_gateway_api_key", "this")
    lifecycle = blocks(key["lifecycle"])[0]
    assert lifecycle["replace_triggered_by"] == ["${terraform_data.api_key_generation}"]


def test_execution_log_group_is_declared_encrypted_and_before_logging(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    group = api.resource("aws_cloudwatch_log_group", "execution")
    # API Gateway's own name for it: API-Gateway-Execution-Logs_{rest_api_id}/{stage_name}
    assert group["name"] == (
        "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
    )
    assert group["kms_key_id"] == "${var.logs_kms_key_arn}"
    assert group["retention_in_days"] == "${var.log_retention_days}"
    settings = api.resource("aws_api_gateway_method_settings", "all")
    assert blocks(settings["settings"])[0]["logging_level"] == "INFO"
    for rtype, name in (
        ("aws_api_gateway_method_settings", "all"),
        ("aws_api_gateway_stage", "this"),
    ):
        assert api.resource(rtype, name)["depends_on"] == ["${aws_cloudwatch_log_group.execution}"]


def test_integrations_overwrite_the_gateway_request_id(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    integration = api.resource("aws_api_gateway_integration", "this")
    assert integration["for_each"] == "${local.routes}"  # every proxied route
    assert integration["type"] == "HTTP_PROXY"
    assert integration["request_parameters"] == {
        "integration.request.header.x-gateway-request-id": "context.requestId"
    }


################################################################################
# 10: the permissions boundary
################################################################################


def test_every_role_of_the_stack_carries_the_boundary(stack: Stack, bootstrap: Config) -> None:
    root = stack.root.config
    for call in root.modules:
        cfg = stack.scope(call).config
        for _, rtype, name, body in cfg.resources():
            if rtype == "aws_iam_role":
                assert body.get("permissions_boundary") == "${var.permissions_boundary_arn}", (
                    f"{cfg.rel}: aws_iam_role.{name}"
                )
                assert root.modules[call]["permissions_boundary_arn"] == (
                    "${local.permissions_boundary_arn}"
                )
    # The root module derives the ARN of the policy the bootstrap creates for the environment.
    arn = root.locals["permissions_boundary_arn"]
    assert arn.endswith(":policy/${local.name}-workload-boundary")
    policy = bootstrap.resource("aws_iam_policy", "workload_boundary")
    assert policy["name"] == "${each.value.name}-workload-boundary"
    assert policy["for_each"] == "${local.envs}"


def test_apply_role_creates_and_changes_roles_only_within_the_boundary(
    boot_statements: list[Statement],
) -> None:
    apply = _by_sid(boot_statements, "terraform/bootstrap", "apply")
    boundary = ["${aws_iam_policy.workload_boundary[each.key].arn}"]
    for call in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:AttachRolePolicy",
    ):
        for s in _granted(list(apply.values()), call):
            cond = _conditions(s)["iam:PermissionsBoundary"]
            assert (cond["test"], cond["values"]) == ("StringEquals", boundary), (call, s.where)
    deny = apply["NoRoleOutsideTheBoundary"]
    assert deny.effect == "Deny"
    assert deny.resources == ["*"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"} <= set(deny.actions)
    cond = _conditions(deny)["iam:PermissionsBoundary"]
    assert (cond["test"], cond["values"]) == ("StringNotEquals", boundary)
    never = apply["NeverRemoveTheBoundary"]
    assert (never.effect, never.actions) == ("Deny", ["iam:DeleteRolePermissionsBoundary"])
    # No other statement of any apply policy hands out role-policy writes.
    for s in boot_statements:
        if s.where[1].startswith("apply") and s.effect == "Allow":
            assert "iam:AttachRolePolicy" not in s.actions, s.where


def test_boundary_allows_what_the_stack_roles_need(
    stack: Stack, boot_statements: list[Statement]
) -> None:
    boundary = [s for s in boot_statements if s.where[1] == "workload_boundary"]
    role_docs = statements([stack.scope("iam").config, stack.scope("network").config])
    needed = {
        a for s in role_docs if s.where[1] in ("task", "task_exec", "flow_logs") for a in s.actions
    }
    assert len(needed) > 10
    missing = sorted(a for a in needed if not _granted(boundary, a))
    assert not missing, f"the boundary would cut the stack's roles off from {missing}"
    assert not any(a.startswith(("iam:", "sts:")) for s in boundary for a in s.actions)


################################################################################
# 12, 13: ECS
################################################################################


def test_service_is_created_after_the_listener(stack: Stack) -> None:
    lb = stack.scope("load_balancer").config
    assert lb.outputs["target_group_arn"]["depends_on"] == ["${aws_lb_listener.this}"]
    assert stack.root.config.modules["ecs"]["target_group_arn"] == (
        "${module.load_balancer.target_group_arn}"
    )
    service = stack.scope("ecs").config.resource("aws_ecs_service", "this")
    assert blocks(service["load_balancer"])[0]["target_group_arn"] == "${var.target_group_arn}"


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [
        (256, 512, True),
        (256, 4096, False),
        (512, 1024, True),
        (512, 512, False),
        (1024, 8192, True),
        (1024, 9216, False),
        (2048, 16384, True),
        (4096, 30720, True),
        (4096, 4096, False),
        (4096, 10000, False),
    ],
)
def test_fargate_cpu_and_memory_must_be_a_valid_pair(
    tmp_path: Path, cpu: int, memory: int, ok: bool
) -> None:
    run = validate_variables(
        tmp_path,
        TERRAFORM / "modules" / "ecs" / "variables.tf",
        ["task_cpu", "task_memory"],
        {"task_cpu": cpu, "task_memory": memory},
    )
    assert (run.returncode == 0) is ok, run.error
    if not ok:
        assert "is not a Fargate size for this task_cpu" in run.error


################################################################################
# Issue 8 item 16: the deploy role runs the one-off ingestion task
################################################################################


def test_deploy_role_can_run_the_ingestion_task_in_its_own_cluster_only(
    bootstrap: Config, boot_statements: list[Statement], stack: Stack
) -> None:
    # (PassTheTwoTaskRoles lists its roles from local.envs: test_tf_iam.py checks it.)
    deploy = [
        s for s in boot_statements if s.where[1] == "deploy" and isinstance(s.resources, list)
    ]
    doc = render_document(bootstrap, deploy, "dev")
    allows = [s for s in doc["Statement"] if s["Effect"] == "Allow"]

    def allowed(action: str, resource: str) -> list[dict[str, object]]:
        return [
            s
            for s in allows
            if action in s["Action"]
            and any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"])
        ]

    family = "arn:aws:ecs:us-east-1:123456789012:task-definition/qa-service-dev:7"
    (run,) = allowed("ecs:RunTask", family)
    assert run["Condition"] == {
        "ArnEquals": {"ecs:cluster": ["arn:aws:ecs:us-east-1:123456789012:cluster/qa-service-dev"]}
    }
    assert not allowed("ecs:RunTask", family.replace("-dev", "-prod"))
    assert allowed(
        "ecs:DescribeTasks", "arn:aws:ecs:us-east-1:123456789012:task/qa-service-dev/abc"
    )
    bucket = "arn:aws:s3:::qa-service-dev-documents-123456789012"
    assert not allowed("s3:ListBucket", bucket)  # upload_file lists nothing
    assert allowed("s3:PutObject", bucket + "/sample/a.md")
    assert not allowed("s3:PutObject", bucket.replace("-dev-", "-prod-") + "/a.md")
    (kms,) = [s for s in allows if "kms:GenerateDataKey" in s["Action"]]
    assert kms["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"] == [bucket]
    # ...and the task it starts can read what was uploaded.
    task = _by_sid(statements([stack.scope("iam").config]), "terraform/modules/iam", "task")
    assert task["ListDocuments"].actions == ["s3:ListBucket"]
    assert task["ReadDocuments"].actions == ["s3:GetObject"]
    assert "kms:Decrypt" in task["DecryptDocuments"].actions


@pytest.mark.parametrize("doc", ["plan_read", "workload_boundary"])
def test_new_managed_policies_fit_iam_size_limit(
    bootstrap: Config, boot_statements: list[Statement], doc: str
) -> None:
    stmts = [s for s in boot_statements if s.where[1] == doc]
    size = policy_size(render_document(bootstrap, stmts, "prod"))
    assert 500 < size < MANAGED_LIMIT, f"{doc}: {size} characters"
