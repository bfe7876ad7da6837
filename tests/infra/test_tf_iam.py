"""Least privilege, read from every IAM policy document in terraform/."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.infra.tfconfig import Config, Stack, blocks

# Where AWS accepts nothing but `*` as the resource (each commented in the .tf file), with
# the only actions (fnmatch patterns) each such statement may hold.
STAR_RESOURCE_ALLOWED: dict[tuple[str, str, str], set[str]] = {
    # key policy: `*` = this key, and every action is the key's own
    ("terraform/modules/kms", "this", "AccountIAMPolicies"): {"kms:*"},
    ("terraform/modules/kms", "this", "AWSServicesOfThisAccount"): {"kms:*"},
    ("terraform/modules/iam", "task_exec", "ECRLogin"): {"ecr:GetAuthorizationToken"},
    ("terraform/bootstrap", "deploy", "ECRLogin"): {"ecr:GetAuthorizationToken"},
    # no resource-level permissions
    ("terraform/bootstrap", "deploy", "ReadTaskDefinitions"): {
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
    },
    ("terraform/bootstrap", "deploy", "ListThisClustersTasks"): {"ecs:ListTasks"},  # ecs:cluster
    ("terraform/modules/network", "flow_logs", "FindTheLogGroup"): {"logs:DescribeLogGroups"},
    # Blue/green (modules/blue_green): ELB reads, and a VPC function's network interfaces
    # (created by Lambda with the role before any ID exists; DescribeNetworkInterfaces only `*`).
    ("terraform/modules/blue_green", "infrastructure", "ELBReadOperations"): {
        "elasticloadbalancing:Describe*"
    },
    ("terraform/modules/blue_green", "smoke_hook", "FindNetworkInterfaces"): {
        "ec2:Describe[A-Z]*[a-z]"
    },
    ("terraform/bootstrap", "workload_boundary", "FindNetworkInterfaces"): {
        "ec2:Describe[A-Z]*[a-z]"
    },
    # bedrock:Rerank supports no resource-level permissions (Bedrock user guide,
    # "Permissions for reranking"); the model it uses is scoped by bedrock:InvokeModel.
    ("terraform/modules/iam", "task", "Rerank"): {"bedrock:Rerank"},
    ("terraform/bootstrap", "workload_boundary", "RerankWithBedrockModels"): {"bedrock:Rerank"},
    ("terraform/bootstrap", "workload_boundary", "ReadLoadBalancers"): {
        "elasticloadbalancing:Describe*"
    },
    # The apply role (terraform/bootstrap/apply_permissions.tf): reads that support no
    # resource-level permissions (EC2's by name: ec2:Describe* holds some that do), the key
    # that does not exist yet (tag-conditioned), WAF's log delivery, SNS subscriptions.
    ("terraform/bootstrap", "apply_network", "EC2Describe"): {"ec2:Describe[A-Z]*[a-z]"},
    ("terraform/bootstrap", "apply_compute", "ECSDescribeTaskDefinitions"): {
        "ecs:DescribeTaskDefinition",
    },
    ("terraform/bootstrap", "apply_compute", "ELBDescribe"): {"elasticloadbalancing:Describe*"},
    ("terraform/bootstrap", "apply_compute", "AutoScalingDescribe"): {
        "application-autoscaling:Describe*"
    },
    ("terraform/bootstrap", "apply_edge", "LogsFindGroupsAndWAFDelivery"): {
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:PutResourcePolicy",
    },
    ("terraform/bootstrap", "apply_edge", "SNSEmailSubscriptions"): {
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
    },
    ("terraform/bootstrap", "apply_data", "KMSCreateTaggedKeys"): {"kms:CreateKey"},
    ("terraform/bootstrap", "apply_data", "KMSListAliases"): {"kms:ListAliases"},
    ("terraform/bootstrap", "workload_boundary", "ECRLogin"): {"ecr:GetAuthorizationToken"},
    ("terraform/bootstrap", "workload_boundary", "FindLogGroups"): {"logs:DescribeLogGroups"},
    # The plan role's reads that support no resource-level permissions (plan_permissions.tf).
    ("terraform/bootstrap", "plan_read", "ReadsWithoutResourceLevelPermissions"): {
        "application-autoscaling:Describe*",
        "ec2:Describe[A-Z]*[a-z]",
        "ecs:DescribeTaskDefinition",
        "elasticloadbalancing:Describe*",
        "kms:ListAliases",
        "logs:DescribeLogGroups",
        "sns:GetSubscriptionAttributes",
    },
}
MANAGED_POLICIES_ALLOWED = {
    "${aws_iam_policy.plan_read.arn}",  # the plan role's scoped reads, not ReadOnlyAccess
    "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    # the apply roles' own policies (test_tf_apply_role.py checks where they come from)
    "${each.value.arn}",
}


@dataclass
class Statement:
    where: tuple[str, str, str]
    effect: str
    actions: list[str]
    resources: list[str] | str
    body: dict[str, Any]


def _list(cfg: Config, value: Any) -> list[str] | str:
    if isinstance(value, list):
        return value
    m = re.fullmatch(r"\$\{local\.(\w+)\}", str(value))
    if m and isinstance(cfg.locals.get(m.group(1)), list):
        return list(cfg.locals[m.group(1)])
    return str(value)  # an expression (var.x, concat(...)): checked by the tests below


def statements(configs: list[Config]) -> list[Statement]:
    out = []
    for cfg in configs:
        for _, dtype, name, body in cfg.data_sources():
            if dtype != "aws_iam_policy_document":
                continue
            written = blocks(body.get("statement", []))
            for dyn in body.get("dynamic", []):
                if "statement" in dyn:
                    written += blocks(dyn["statement"].get("content", []))
            for st in written:
                actions = _list(cfg, st.get("actions", []))
                assert isinstance(actions, list), f"{cfg.rel} {name}: list the actions"
                out.append(
                    Statement(
                        where=(cfg.rel, name, st.get("sid", "")),
                        effect=st.get("effect", "Allow"),
                        actions=actions,
                        resources=_list(cfg, st.get("resources", [])),
                        body=st,
                    )
                )
    return out


@pytest.fixture(scope="module")
def all_statements(configs: list[Config]) -> list[Statement]:
    found = statements(configs)
    assert len(found) > 30
    return found


def _by_sid(stmts: list[Statement], rel: str, doc: str) -> dict[str, Statement]:
    return {s.where[2]: s for s in stmts if s.where[:2] == (rel, doc)}


def test_every_statement_has_a_sid_and_no_wildcard_action(all_statements: list[Statement]) -> None:
    for st in all_statements:
        assert st.where[2], f"{st.where}: give the statement a sid"
        if st.effect == "Deny":
            continue
        assert "not_actions" not in st.body, f"{st.where}: NotAction in an Allow"
        for action in st.actions:
            assert not re.fullmatch(r"\*|[\w-]+:\*", action), f"{st.where}: wildcard {action}"


def test_star_resources_only_where_aws_allows_nothing_else(
    all_statements: list[Statement],
) -> None:
    seen = set()
    for st in all_statements:
        if st.effect == "Allow" and "*" in st.resources:
            assert st.where in STAR_RESOURCE_ALLOWED, f"{st.where}: `*` resource"
            seen.add(st.where)
        assert "not_resources" not in st.body or st.effect == "Deny", st.where
    assert seen == set(STAR_RESOURCE_ALLOWED)  # the allow-list holds nothing stale
    for where, allowed in STAR_RESOURCE_ALLOWED.items():
        st = next(s for s in all_statements if s.where == where)
        for action in st.actions:
            assert any(fnmatch.fnmatchcase(action, p) for p in allowed), (where, action)


def test_every_policy_is_a_checked_policy_document(configs: list[Config]) -> None:
    for cfg in configs:
        for fname, rtype, name, body in cfg.resources():
            for key in ("policy", "assume_role_policy"):
                if key in body and rtype != "aws_ecr_lifecycle_policy":
                    assert re.fullmatch(
                        r"\$\{data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json\}", body[key]
                    ), f"{cfg.rel}/{fname}: {rtype}.{name}.{key} bypasses the policy checks"
            if rtype == "aws_iam_role_policy_attachment":
                assert body["policy_arn"] in MANAGED_POLICIES_ALLOWED, f"{rtype}.{name}"
            assert rtype not in {"aws_iam_user", "aws_iam_access_key"}, "no long-lived keys"


def test_task_role_reaches_only_bedrock_models_and_the_documents(
    stack: Stack, all_statements: list[Statement]
) -> None:
    task = _by_sid(all_statements, "terraform/modules/iam", "task")
    actions = {a for st in task.values() for a in st.actions}
    assert actions == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",  # the configured guardrail only (test_tf_guardrail.py)
        "bedrock:Rerank",  # with a reranker only (terraform/tests/rerank.tftest.hcl)
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
    }
    assert task["InvokeConfiguredModels"].resources == (
        "${concat(var.bedrock_model_arns, var.bedrock_inference_profile_arns)}"
    )
    assert task["ReadDocuments"].resources == ["${var.documents_bucket_arn}/*"]
    iam_args = stack.root.config.modules["iam"]
    assert iam_args["bedrock_model_arns"] == "${module.bedrock_access.foundation_model_arns}"
    assert iam_args["bedrock_inference_profile_arns"] == (
        "${module.bedrock_access.inference_profile_arns}"
    )
    assert iam_args["documents_bucket_arn"] == "${module.s3.bucket_arn}"


def test_execution_role_reads_only_the_two_qdrant_secrets(
    stack: Stack, all_statements: list[Statement]
) -> None:
    exec_ = _by_sid(all_statements, "terraform/modules/iam", "task_exec")
    assert exec_["ReadQdrantSecrets"].resources == "${var.secret_arns}"
    assert stack.root.config.modules["iam"]["secret_arns"] == [
        "${module.secrets.qdrant_url_secret_arn}",
        "${module.secrets.qdrant_api_key_secret_arn}",
    ]
    assert exec_["PullTheServiceImage"].resources == ["${var.ecr_repository_arn}"]
    assert exec_["WriteServiceLogs"].resources == ["${var.log_group_arn}:*"]


def test_github_roles_trust_exact_sub_claims(bootstrap: Config) -> None:
    trust = bootstrap.data("aws_iam_policy_document", "github_trust")
    for_each = trust["for_each"]
    assert '"repo:${var.github_repository}:pull_request"' in for_each
    assert '"repo:${var.github_repository}:environment:${env}"' in for_each
    assert "*" not in for_each  # no wildcard branch, environment or repository
    st = blocks(trust["statement"])[0]
    assert st["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: c for c in blocks(st["condition"])}
    aud = conditions["${local.github_oidc_url}:aud"]
    sub = conditions["${local.github_oidc_url}:sub"]
    assert (aud["test"], aud["values"]) == ("StringEquals", ["sts.amazonaws.com"])
    assert sub["test"] == "StringEquals"  # StringLike would let patterns through
    roles = {n: b for _, t, n, b in bootstrap.resources() if t == "aws_iam_role"}
    assert roles["plan"]["assume_role_policy"].endswith('github_trust["plan"].json}')
    for name in ("apply", "deploy"):
        assert roles[name]["assume_role_policy"].endswith('github_trust["env-${each.key}"].json}')


def test_deploy_role_has_exactly_the_rollout_permissions(
    bootstrap: Config, all_statements: list[Statement]
) -> None:
    deploy = _by_sid(all_statements, "terraform/bootstrap", "deploy")
    actions = {a for st in deploy.values() for a in st.actions}
    assert {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "iam:PassRole",
        "ecr:PutImage",
        "ecr:DescribeImages",
        "ecr:DescribeImageScanFindings",
        "secretsmanager:GetSecretValue",
        "s3:GetObject",
    } <= actions
    assert not {
        a
        for a in actions
        if a.startswith("s3:") and a not in {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    }
    # The only write: documents into this environment's bucket (deploy/ingest.py).
    writes = [s for s in deploy.values() if "s3:PutObject" in s.actions]
    assert [s.resources for s in writes] == [["${each.value.documents_bucket}/*"]]
    assert deploy["ReadThisState"].resources == ["${local.state_arn}/${each.value.state_key}"]
    prefix = {c["variable"]: c for c in blocks(deploy["FindThisState"].body["condition"])}
    assert prefix["s3:prefix"]["values"] == ["${each.value.state_key}", "env:/"]
    assert deploy["ReadTheSmokeTestKey"].resources == ["${each.value.smoke_secret}"]
    assert deploy["PassTheTwoTaskRoles"].resources == "${each.value.task_roles}"
    assert deploy["RollOutThisService"].resources == ["${each.value.service}"]
    assert deploy["PushAndInspectThisRepository"].resources == ["${each.value.repository}"]


def test_deploy_role_names_match_what_the_stack_creates(stack: Stack, bootstrap: Config) -> None:
    """The bootstrap scopes by name before the stack exists: the names must agree."""
    expr = bootstrap.locals["envs"]  # a for-expression: read its fields from the text
    env: dict[str, Any] = dict(re.findall(r'(\w+) = "([^"]*)"', expr))
    roles = re.search(r"task_roles = \[([^\]]*)\]", expr)
    assert roles, "local.envs lists the task roles the deploy role may pass"
    env["task_roles"] = re.findall(r'"([^"]*)"', roles.group(1))
    app, environment = "qa-service", "dev"

    def boot(value: str) -> str:
        for a, b in {
            "${local.partition}": "aws",
            "${local.region}": "us-east-1",
            "${local.account}": "123456789012",
            "${var.app_name}": app,
            "${env}": environment,
        }.items():
            value = value.replace(a, b)
        return value

    name = f"{app}-{environment}"
    assert stack.root.config.locals["name"] == "${var.app_name}-${var.environment}"
    iam = stack.scope("iam").config
    created_roles = {
        iam.resource("aws_iam_role", "task_exec")["name"].replace("${var.name}", name),
        iam.resource("aws_iam_role", "task")["name"].replace("${var.name}", name),
    }
    passable = {boot(arn).rsplit("/", 1)[1] for arn in env["task_roles"]}
    assert passable == created_roles
    assert boot(env["service"]).endswith(f":service/{name}/{name}")
    assert boot(env["repository"]).endswith(f":repository/{name}")
    for module, rtype in (
        ("ecs", "aws_ecs_service"),
        ("ecs", "aws_ecs_cluster"),
        ("ecr", "aws_ecr_repository"),
    ):
        assert stack.scope(module).config.resource(rtype, "this")["name"] == "${var.name}"
        assert stack.root.config.modules[module]["name"] == "${local.name}"
    assert boot(env["smoke_secret"]).endswith(f":secret:{app}/{environment}/smoke-api-key-??????")
    assert boot(env["state_key"]) == f"{app}/{environment}/terraform.tfstate"


def test_plan_role_reads_state_but_no_documents_or_secret_values(
    all_statements: list[Statement],
) -> None:
    plan = _by_sid(all_statements, "terraform/bootstrap", "plan")
    assert plan["NoOtherObjects"].effect == "Deny"
    assert plan["NoOtherObjects"].body["not_resources"] == ["${local.state_arn}/*"]
    deny = plan["NoOtherSecretValues"]
    assert "secretsmanager:GetSecretValue" in deny.actions
    assert deny.effect == "Deny"
    assert deny.body["not_resources"] == "${[for e in local.envs : e.smoke_secret]}"
    writes = {a for st in plan.values() if st.effect == "Allow" for a in st.actions if "Put" in a}
    assert writes == {"s3:PutObject"}
    assert (
        plan["TakeTheLock"].resources
        == '${[for e in local.envs : "${local.state_arn}/${e.state_key}.tflock"]}'
    )


def test_apply_role_cannot_touch_another_environments_resources(
    all_statements: list[Statement],
) -> None:
    apply = _by_sid(all_statements, "terraform/bootstrap", "apply")
    fence = apply["NotOtherEnvironmentsResources"]
    assert fence.effect == "Deny"
    assert fence.actions == ["*"]
    conditions = {c["test"]: c for c in blocks(fence.body["condition"])}
    assert conditions["StringNotEquals"]["variable"] == "aws:ResourceTag/Environment"
    assert conditions["StringNotEquals"]["values"] == ["${each.key}"]
    assert conditions["Null"]["values"] == ["false"]
    # Only the state stays reachable across the fence.
    assert fence.body["not_resources"] == [
        "${local.state_arn}",
        "${local.state_arn}/*",
        "${module.state_kms.key_arn}",
    ]
    roles = apply["ManageThisEnvironmentsRoles"].resources
    assert roles == ["arn:${local.partition}:iam::${local.account}:role/${each.value.name}-*"]
