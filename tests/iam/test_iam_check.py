"""iam-check: the evaluator on AWS's documented evaluation rules, and the check on this stack's
policies with one statement removed (it must then report the call that statement allowed).

AWS's rules: "Policy evaluation logic" in the IAM User Guide (reference_policies_evaluation-
logic.html): an explicit Deny overrides any Allow; without an Allow the request is implicitly
denied; NotResource, wildcards and condition operators as in reference_policies_elements_*.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.iam import calls as roles
from tests.iam.check import REPO, check_env, load_env, stale_justifications
from tests.iam.evaluate import Verdict, available, evaluate
from tests.iam.policies import Document, RolePolicies, Stack, from_plan

pytestmark = pytest.mark.skipif(
    available() is not None, reason=f"iam-check evaluator: {available()}"
)

ARN = "arn:aws:s3:::docs-bucket/report.pdf"


def _role(*statements: dict[str, Any], unavailable: list[str] | None = None) -> RolePolicies:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return RolePolicies("r", [Document("p", doc)], unavailable=unavailable or [])


def _one(
    role: RolePolicies, call: roles.Call, resource_policies: dict[str, Any] | None = None
) -> Verdict:
    return evaluate(role, [call], resource_policies or {})[0]


def _allow(**extra: Any) -> dict[str, Any]:
    return {
        "Sid": "A",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::docs-bucket/*",
        **extra,
    }


################################################################################
# The evaluator
################################################################################


def test_allow_is_needed_and_a_matching_allow_allows() -> None:
    call = roles.Call("s3:GetObject", ARN, "t")
    assert _one(_role(_allow()), call).outcome == "allowed"
    other = roles.Call("s3:GetObject", "arn:aws:s3:::other-bucket/x", "t")
    verdict = _one(_role(_allow()), other)
    assert verdict.outcome == "denied"
    assert "no identity statement allows it" in verdict.why


def test_explicit_deny_wins_and_is_named() -> None:
    deny = {"Sid": "NoReports", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    verdict = _one(_role(_allow(), deny), roles.Call("s3:GetObject", ARN, "t"))
    assert verdict.outcome == "denied"
    assert "NoReports" in verdict.why


def test_not_resource_deny_spares_the_listed_resources() -> None:
    deny = {
        "Sid": "OnlyDocs",
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "NotResource": "arn:aws:s3:::docs-bucket/*",
    }
    role = _role({**_allow(), "Resource": "*"}, deny)
    assert _one(role, roles.Call("s3:GetObject", ARN, "t")).outcome == "allowed"
    assert _one(role, roles.Call("s3:GetObject", "arn:aws:s3:::x/y", "t")).outcome == "denied"


def test_wildcards_in_actions_and_arns() -> None:
    role = _role(
        {"Sid": "W", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::docs-*/*"}
    )
    assert _one(role, roles.Call("s3:GetObjectTagging", ARN, "t")).outcome == "allowed"
    assert _one(role, roles.Call("s3:PutObject", ARN, "t")).outcome == "denied"


def test_a_condition_on_a_known_key_is_evaluated() -> None:
    role = _role(_allow(Condition={"StringEquals": {"s3:ExistingObjectTag/team": "docs"}}))
    ok = roles.Call("s3:GetObject", ARN, "t", {"s3:ExistingObjectTag/team": "docs"})
    wrong = roles.Call("s3:GetObject", ARN, "t", {"s3:ExistingObjectTag/team": "ops"})
    assert _one(role, ok).outcome == "allowed"
    assert _one(role, wrong).outcome == "denied"


def test_if_exists_holds_when_the_key_is_known_to_be_absent() -> None:
    role = _role(_allow(Condition={"StringEqualsIfExists": {"s3:ExistingObjectTag/team": "docs"}}))
    absent = roles.Call("s3:GetObject", ARN, "t", absent=["s3:ExistingObjectTag/team"])
    assert _one(role, absent).outcome == "allowed"


def test_for_any_value_and_for_all_values() -> None:
    any_ = _role(
        _allow(
            Action="s3:PutObjectTagging",
            Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        )
    )
    all_ = _role(
        _allow(
            Action="s3:PutObjectTagging",
            Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        )
    )
    call = roles.Call("s3:PutObjectTagging", ARN, "t", {"aws:TagKeys": ["team", "owner"]})
    assert _one(any_, call).outcome == "allowed"
    assert _one(all_, call).outcome == "denied"


def test_a_condition_on_an_unknown_key_is_not_evaluable_never_allowed() -> None:
    role = _role(_allow(Condition={"StringEquals": {"s3:ExistingObjectTag/team": "docs"}}))
    verdict = _one(role, roles.Call("s3:GetObject", ARN, "t"))  # the tag's value is not known
    assert verdict.outcome == "not evaluable"
    assert "s3:ExistingObjectTag/team" in verdict.why


def test_a_deny_on_an_unknown_key_is_not_evaluable() -> None:
    deny = {
        "Sid": "Fence",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:ResourceTag/Environment": "dev"}},
    }
    call = roles.Call("kms:DescribeKey", "arn:aws:kms:us-east-1:111122223333:key/k", "t")
    role = _role(
        {"Sid": "A", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}, deny
    )
    root = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    assert _one(role, call, {call.resource: root}).outcome == "not evaluable"
    tagged = roles.Call(call.action, call.resource, "t", {"aws:ResourceTag/Environment": "prod"})
    assert _one(role, tagged, {call.resource: root}).outcome == "denied"


def test_a_kms_key_needs_its_key_policy_too() -> None:
    role = _role({"Sid": "A", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})
    call = roles.Call("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k", "t")
    assert (
        _one(role, call, {call.resource: {"Version": "2012-10-17", "Statement": []}}).outcome
        == "denied"
    )


def test_an_unavailable_managed_policy_makes_a_missing_allow_not_evaluable() -> None:
    role = _role(_allow(), unavailable=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    verdict = _one(role, roles.Call("s3:GetObject", "arn:aws:s3:::x/y", "t"))
    assert verdict.outcome == "not evaluable"
    assert "ReadOnlyAccess" in verdict.why


################################################################################
# The stack's policies, each with one statement removed
################################################################################


@pytest.fixture(scope="module")
def dev() -> tuple[Stack, roles.Names]:
    """dev's policies and names as Terraform rendered them: the applied states
    `make tf-plan-offline` writes (made here when terraform/ changed since)."""
    if shutil.which("terraform") is None:
        pytest.skip("skipped: terraform not installed (the policies are Terraform's rendering)")
    made = subprocess.run(
        ["make", "-s", "-C", str(REPO), ".data/plans/.made"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return load_env("dev")


def _without(role: RolePolicies, sid: str) -> RolePolicies:
    out = copy.deepcopy(role)
    removed = 0
    for d in out.identity:
        before = len(d.policy["Statement"])
        d.policy["Statement"] = [s for s in d.policy["Statement"] if s.get("Sid") != sid]
        removed += before - len(d.policy["Statement"])
    assert removed, f"{role.role} has no statement {sid}"
    return out


def _denied(stack: Stack, role: RolePolicies, calls: list[roles.Call]) -> set[tuple[str, str]]:
    return {
        (v.call.action, v.call.resource)
        for v in evaluate(role, calls, stack.resource_policies)
        if v.outcome == "denied"
    }


@pytest.mark.parametrize(
    ("role_name", "calls_of", "sid", "action"),
    [
        (
            "qa-service-dev-task-exec",
            roles.task_execution,
            "ReadQdrantSecrets",
            "secretsmanager:GetSecretValue",
        ),
        ("qa-service-dev-task-exec", roles.task_execution, "DecryptQdrantSecrets", "kms:Decrypt"),
        (
            "qa-service-dev-task-exec",
            roles.task_execution,
            "PullTheServiceImage",
            "ecr:GetDownloadUrlForLayer",
        ),
        ("qa-service-dev-task-exec", roles.task_execution, "WriteServiceLogs", "logs:PutLogEvents"),
        # Fixed with this check: DescribeLogGroups matches only `*` (modules/network).
        (
            "qa-service-dev-flow-logs-",
            roles.flow_logs_role,
            "FindTheLogGroup",
            "logs:DescribeLogGroups",
        ),
        ("qa-service-github-apply-dev", roles.apply_role, "KMSCreateTaggedKeys", "kms:CreateKey"),
        # The refresh call a pre-merge review found denied (issue 9): the smoke key's version.
        (
            "qa-service-github-plan",
            roles.plan_role,
            "RefreshTheSmokeTestKeyVersion",
            "secretsmanager:GetSecretValue",
        ),
        ("qa-service-github-plan", roles.plan_role, "DecryptTheSmokeTestKeyVersion", "kms:Decrypt"),
        (
            "qa-service-github-deploy-dev",
            roles.deploy_role,
            "DecryptTheSmokeTestKey",
            "kms:Decrypt",
        ),
        ("qa-service-github-deploy-dev", roles.deploy_role, "PassTheTwoTaskRoles", "iam:PassRole"),
        (
            "qa-service-github-deploy-dev",
            roles.deploy_role,
            "RollOutThisService",
            "ecs:UpdateService",
        ),
        (
            "qa-service-github-apply-dev",
            roles.apply_role,
            "EC2ChangeThisEnvironmentsNetwork",
            "ec2:CreateRoute",
        ),
        # Found by citing the provider: an association's update replaces it in place.
        (
            "qa-service-github-apply-dev",
            roles.apply_role,
            "EC2ChangeThisEnvironmentsNetwork",
            "ec2:ReplaceRouteTableAssociation",
        ),
    ],
)
def test_removing_a_statement_denies_the_call_it_allowed(
    dev: tuple[Stack, roles.Names], role_name: str, calls_of: Any, sid: str, action: str
) -> None:
    stack, n = dev
    role = next(
        r
        for name, r in stack.roles.items()
        if name == role_name or (role_name.endswith("-") and name.startswith(role_name))
    )
    calls = calls_of(n)
    if not any(c.action == action for c in calls):
        pytest.skip(
            f"no {action} call recorded in this run (tests/deploy and tests/app record them)"
        )
    assert not _denied(stack, role, calls) - _known_denials(role_name)
    denied = _denied(stack, _without(role, sid), calls)
    assert action in {a for a, _ in denied}, f"without {sid}, {action} should be denied"


def _known_denials(role_name: str) -> set[tuple[str, str]]:
    return set()


def test_recorded_calls_of_the_task_role_are_checked_when_present(
    dev: tuple[Stack, roles.Names],
) -> None:
    """The recorder's file feeds the task role: a GetObject recorded from app/ becomes an
    s3:GetObject on the documents bucket and a kms:Decrypt on its key."""
    stack, n = dev
    if not roles.RECORDED.exists():
        pytest.skip("no recorded calls yet (make pytest writes them at the end of the run)")
    calls = roles.task_role(n)
    if not any(c.action == "s3:GetObject" for c in calls):
        pytest.skip("this run recorded no S3 read")
    role = _without(stack.roles["qa-service-dev-task"], "ReadDocuments")
    assert "s3:GetObject" in {a for a, _ in _denied(stack, role, calls)}


def test_kms_encryption_context_keys_are_evaluated_with_their_values() -> None:
    """The library drops `kms:EncryptionContext:<key>` (simulate.mjs renames it so it is
    evaluated): the right secret's ARN is allowed, another secret's is denied."""
    smoke = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/dev/smoke-api-key-??????"
    role = _role(
        {
            "Sid": "SmokeKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:SecretARN": smoke}},
        }
    )
    key = "arn:aws:kms:us-east-1:111122223333:key/k"
    root = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }

    def call(secret: str) -> roles.Call:
        return roles.Call("kms:Decrypt", key, "t", {"kms:EncryptionContext:SecretARN": secret})

    ok = call("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/dev/smoke-api-key-AbCdEf")
    other = call("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/dev/qdrant-url-AbCdEf")
    assert _one(role, ok, {key: root}).outcome == "allowed"
    assert _one(role, other, {key: root}).outcome == "denied"


def test_the_task_role_is_held_to_its_permissions_boundary(dev: tuple[Stack, roles.Names]) -> None:
    stack, n = dev
    role = stack.roles["qa-service-dev-task"]
    assert role.boundary, "the task role has a permissions boundary"
    calls = [c for c in roles.task_role(n) if c.action.startswith("bedrock:")]
    if not calls:
        pytest.skip("this run recorded no Bedrock call")
    assert not _denied(stack, role, calls)
    cut = copy.deepcopy(role)
    for d in cut.boundary:
        d.policy["Statement"] = [
            st
            for st in d.policy["Statement"]
            if not any(str(a).startswith("bedrock:") for a in _actions(st))
        ]
    assert {a for a, _ in _denied(stack, cut, calls)} >= {c.action for c in calls}


def _actions(st: dict[str, Any]) -> list[str]:
    a = st.get("Action", [])
    return a if isinstance(a, list) else [a]


def test_calls_after_create_key_are_reported_as_resting_on_a_fresh_tag(
    dev: tuple[Stack, roles.Names],
) -> None:
    from tests.iam import check

    stack, n = dev
    check._index_conditions(stack)
    reports = check.check_env("dev", stack, set(), n)
    text = check.render([r for r in reports if r.label == "apply role"], stack.source)
    timing = text.split("timing:", 1)[1].split("informational:", 1)[0]
    assert "kms:GetKeyPolicy (aws_kms_key create)" in timing
    assert "kms:CreateKey" not in timing  # the create itself carries the tag in the request


def test_policies_are_read_from_a_plan_by_role() -> None:
    """`terraform show -json`: inline policies and attached customer-managed policies by role
    name; an AWS-managed attachment is reported as unavailable."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "S", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    plan = {
        "planned_values": {
            "root_module": {
                "resources": [{"type": "aws_iam_role", "values": {"name": "r"}}],
                "child_modules": [
                    {
                        "resources": [
                            {
                                "type": "aws_iam_role_policy",
                                "values": {
                                    "role": "r",
                                    "name": "inline",
                                    "policy": json.dumps(doc),
                                },
                            },
                            {
                                "type": "aws_iam_policy",
                                "values": {
                                    "name": "p",
                                    "arn": "arn:aws:iam::111122223333:policy/p",
                                    "policy": json.dumps(doc),
                                },
                            },
                            {
                                "type": "aws_iam_role_policy_attachment",
                                "values": {
                                    "role": "r",
                                    "policy_arn": "arn:aws:iam::111122223333:policy/p",
                                },
                            },
                            {
                                "type": "aws_iam_role_policy_attachment",
                                "values": {
                                    "role": "r",
                                    "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                                },
                            },
                        ]
                    }
                ],
            }
        }
    }
    stack = from_plan(plan)
    role = stack.roles["r"]
    assert [d.name for d in role.identity] == [
        "inline inline",
        "arn:aws:iam::111122223333:policy/p",
    ]
    assert role.unavailable == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


def _with_condition(role: RolePolicies, sid: str, key: str, value: str) -> RolePolicies:
    """The role with statement `sid`'s condition on `key` naming `value` instead."""
    out = copy.deepcopy(role)
    hit = 0
    for d in out.identity:
        for st in d.policy["Statement"]:
            if st.get("Sid") != sid:
                continue
            for operands in st.get("Condition", {}).values():
                if key in operands:
                    operands[key] = value
                    hit += 1
    assert hit, f"{role.role}: no {sid} condition on {key}"
    return out


def test_run_task_is_authorized_on_the_task_definition_in_this_cluster(
    dev: tuple[Stack, roles.Names],
) -> None:
    """deploy.ingest's RunTask: on the task definition, `ecs:cluster` the cluster it starts
    in. A grant naming another cluster denies it (the planted mistake)."""
    stack, n = dev
    role = stack.roles["qa-service-github-deploy-dev"]
    params = {
        "cluster": "qa-service-dev",
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/qa-service-dev:7",
    }
    calls = roles.run_task(n, params, "t")
    [run] = calls
    assert run.resource == f"arn:aws:ecs:{n.region}:111122223333:task-definition/qa-service-dev:7"
    assert (
        run.context["ecs:cluster"] == f"arn:aws:ecs:{n.region}:111122223333:cluster/qa-service-dev"
    )
    assert [v.outcome for v in evaluate(role, calls, stack.resource_policies)] == ["allowed"]
    other = f"arn:aws:ecs:{n.region}:111122223333:cluster/qa-service-prod"
    planted = _with_condition(role, "RunTheOneOffIngestionTask", "ecs:cluster", other)
    assert [v.outcome for v in evaluate(planted, calls, stack.resource_policies)] == ["denied"]


def test_a_rest_api_stage_arn_is_evaluated_as_a_stage() -> None:
    """API Gateway's Stage has two documented ARN formats (/apis/... and /restapis/...); the
    library's data joins them in one string no ARN matches, so SetWebACL on a stage used to be
    refused (simulate.mjs picks the documented format the ARN has)."""
    stage = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/dev"
    role = _role(
        {
            "Sid": "W",
            "Effect": "Allow",
            "Action": "apigateway:SetWebACL",
            "Resource": "arn:aws:apigateway:us-east-1::/restapis/*/stages/dev",
        }
    )
    assert _one(role, roles.Call("apigateway:SetWebACL", stage, "t")).outcome == "allowed"
    prod = stage.replace("/dev", "/prod")
    assert _one(role, roles.Call("apigateway:SetWebACL", prod, "t")).outcome == "denied"
    http_api = "arn:aws:apigateway:us-east-1::/apis/a1b2c3d4e5/stages/dev"
    assert _one(role, roles.Call("apigateway:SetWebACL", http_api, "t")).outcome == "denied"


def test_the_api_gateway_logging_role_is_evaluated_against_its_vendored_managed_policy(
    dev: tuple[Stack, roles.Names],
) -> None:
    """AmazonAPIGatewayPushToCloudWatchLogs (v1, vendored in tests/iam/data) allows every
    logging call API Gateway makes; without its PutLogEvents the writes are denied."""
    from tests.iam.evaluate import vendored_managed_policies, with_vendored

    stack, n = dev
    attached = stack.roles["qa-service-apigateway-cloudwatch"]
    arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    assert arn in attached.unavailable
    role = with_vendored(attached)
    assert not role.unavailable
    assert [d.name for d in role.identity] == [f"{arn} v1"]
    assert vendored_managed_policies()[arn]["source"].startswith(
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
    )
    calls = roles.apigateway_cloudwatch_role(n)
    assert {c.action for c in calls} == set(role.identity[0].policy["Statement"][0]["Action"])
    assert {v.outcome for v in evaluate(role, calls, {})} == {"allowed"}
    cut = copy.deepcopy(role)
    cut.identity[0].policy["Statement"][0]["Action"].remove("logs:PutLogEvents")
    denied = {v.call.action for v in evaluate(cut, calls, {}) if v.outcome == "denied"}
    assert denied == {"logs:PutLogEvents"}


def test_elbv2_tagging_of_a_target_group_is_evaluated_on_the_target_group() -> None:
    """AddTags is shared by Classic ELB and ELBv2; the library's data keeps the Classic
    resource types only, so tagging a target group used to be refused (simulate.mjs adds the
    V2 types of the service authorization reference)."""
    elb = "arn:aws:elasticloadbalancing:us-east-1:111122223333"
    tg = f"{elb}:targetgroup/qa-service-dev/0123456789abcdef"
    role = _role(
        {
            "Sid": "T",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": f"{elb}:targetgroup/qa-service-dev/*",
        }
    )
    for action in ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"):
        assert _one(role, roles.Call(action, tg, "t")).outcome == "allowed"
        other = tg.replace("qa-service-dev", "qa-service-prod")
        assert _one(role, roles.Call(action, other, "t")).outcome == "denied"


def test_every_provider_call_cites_the_provider_source_or_the_service_doc() -> None:
    """Each row of data/provider_calls.csv names where it comes from: a provider file and
    function (internal/service/<svc>/<file>.go[@commit] F -> G -> Operation) or, for a call
    the service makes with the caller's permissions, the AWS page that says so."""
    rows = roles.provider_rows()
    assert rows
    uncited = [
        (r["resource_type"], r["phase"], r["action"])
        for r in rows
        if not (
            (r["source"].startswith("internal/") and ".go" in r["source"].split(" ", 1)[0])
            or r["source"].startswith("https://docs.aws.amazon.com/")
        )
        or "not yet read" in r["source"]
        or " " not in r["source"].strip()  # a file alone names no function
    ]
    assert not uncited, f"{len(uncited)} rows cite no provider function or doc: {uncited[:5]}"
    assert {r["phase"] for r in rows} <= {"create", "read", "update", "delete"}


def test_an_unused_grant_fails_the_check_unless_justified(dev: tuple[Stack, roles.Names]) -> None:
    """Least privilege the other way round: every action a policy grants is used by a call
    (recorded or tabled), or justified in JUSTIFIED_UNUSED. A planted grant that nothing
    uses is reported as unjustified; justified, it is not; a justification for a grant that
    is not unused is stale."""
    stack, n = dev
    if not (roles.recorded("app") and roles.recorded("deploy")):
        pytest.skip("no calls recorded in this run (tests/app and tests/deploy record them)")
    reports = check_env("dev", stack, set(), n)
    assert not [str(u) for r in reports for u in r.unjustified()]
    planted = copy.deepcopy(stack)
    apply = planted.roles["qa-service-github-apply-dev"]
    apply.identity[0].policy["Statement"].append(
        {"Sid": "Planted", "Effect": "Allow", "Action": "ec2:DeleteKeyPair", "Resource": "*"}
    )
    reports = check_env("dev", planted, set(), n)
    unjustified = [str(u) for r in reports for u in r.unjustified()]
    assert len(unjustified) == 1, unjustified
    assert unjustified[0].startswith("ec2:DeleteKeyPair (")
    assert "Planted" in unjustified[0]
    justified = {("Planted", "ec2:DeleteKeyPair"): "a test"}
    assert not [u for r in reports for u in r.unjustified(justified)]
    assert stale_justifications(reports, justified) == []
    assert stale_justifications(reports, {("Gone", "ec2:DeleteVpc"): "t"}) == [
        ("Gone", "ec2:DeleteVpc")
    ]


@pytest.mark.parametrize(
    ("role_name", "calls_of"),
    [
        ("qa-service-github-apply-dev", roles.apply_role),
        ("qa-service-github-deploy-dev", roles.deploy_role),
    ],
)
def test_register_task_definition_is_scoped_to_this_environments_family(
    dev: tuple[Stack, roles.Names], role_name: str, calls_of: Any
) -> None:
    """RegisterTaskDefinition is authorized on the new revision's ARN: the stack's family is
    allowed, another family (the other environment's) is denied."""
    stack, n = dev
    role = stack.roles[role_name]
    ours = [c for c in calls_of(n) if c.action == "ecs:RegisterTaskDefinition"]
    if not ours:
        pytest.skip("no RegisterTaskDefinition recorded in this run (tests/deploy record it)")
    assert {c.resource.rsplit("/", 1)[1].split(":")[0] for c in ours} == {"qa-service-dev"}
    assert {v.outcome for v in evaluate(role, ours, stack.resource_policies)} == {"allowed"}
    theirs = [
        dataclasses.replace(c, resource=c.resource.replace("/qa-service-dev:", "/qa-service-prod:"))
        for c in ours
    ]
    verdicts = evaluate(role, theirs, stack.resource_policies)
    assert {v.outcome for v in verdicts} == {"denied"}, [v.why for v in verdicts]


def _with_reranker(n: roles.Names, model_id: str) -> roles.Names:
    """dev's names with the task definition carrying BEDROCK_RERANK_MODEL_ID (what
    `bedrock_rerank_model_id` sets, terraform/tests/rerank.tftest.hcl)."""
    root = copy.copy(n.root)
    values = copy.deepcopy(n.root_values())
    (address,) = [a for a in values if a.endswith("aws_ecs_task_definition.this")]
    containers = json.loads(values[address]["container_definitions"])
    containers[0]["environment"].append({"name": "BEDROCK_RERANK_MODEL_ID", "value": model_id})
    values[address]["container_definitions"] = json.dumps(containers)
    root.values = values  # type: ignore[attr-defined]
    return dataclasses.replace(n, root=root)


def test_the_rerank_call_is_checked_when_a_reranker_is_set(
    dev: tuple[Stack, roles.Names],
) -> None:
    """Without a reranker the task role makes no Rerank call (and is granted none); with one,
    the Rerank call is bedrock:Rerank on `*` and bedrock:InvokeModel on the model, allowed
    by the two statements modules/iam renders for it (their shape: rerank.tftest.hcl) within
    the rendered permissions boundary, and denied without either grant or without the
    boundary's RerankWithBedrockModels."""
    stack, n = dev
    if not any(e["operation"] == "Rerank" for e in roles.recorded("app")):
        pytest.skip("no Rerank call recorded in this run (tests/app record it)")
    role = stack.roles["qa-service-dev-task"]
    assert not [c for c in roles.task_role(n) if c.action == "bedrock:Rerank"]
    assert "bedrock:Rerank" not in json.dumps([d.policy for d in role.identity])
    model = "arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0"
    calls = [
        c for c in roles.task_role(_with_reranker(n, model)) if c.operation.startswith("Rerank")
    ]
    assert {(c.action, c.resource) for c in calls} == {
        ("bedrock:Rerank", "*"),
        ("bedrock:InvokeModel", model),
    }
    granted = copy.deepcopy(role)
    granted.identity[0].policy["Statement"] += [
        {"Sid": "Rerank", "Effect": "Allow", "Action": "bedrock:Rerank", "Resource": "*"},
        {
            "Sid": "InvokeTheRerankModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": model,
        },
    ]
    assert {v.outcome for v in evaluate(granted, calls, stack.resource_policies)} == {"allowed"}
    for sid, action in (
        ("Rerank", "bedrock:Rerank"),
        ("InvokeTheRerankModel", "bedrock:InvokeModel"),
    ):
        assert action in {a for a, _ in _denied(stack, _without(granted, sid), calls)}
    fenced = copy.deepcopy(granted)
    for d in fenced.boundary:
        d.policy["Statement"] = [
            s for s in d.policy["Statement"] if s.get("Sid") != "RerankWithBedrockModels"
        ]
    assert fenced.boundary[0].policy != granted.boundary[0].policy
    assert {a for a, _ in _denied(stack, fenced, calls)} == {"bedrock:Rerank"}


def test_an_inference_profile_is_invoked_in_the_regions_the_tfvars_give(
    dev: tuple[Stack, roles.Names], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer model's calls name the profile and the model in each Region of
    `bedrock_model_regions` (envs/<env>.tfvars), not a copy of them."""
    stack, n = dev
    if not any(e["operation"] == "Converse" for e in roles.recorded("app")):
        pytest.skip("no Converse call recorded in this run (tests/app record it)")
    v = roles.tfvars("dev")

    def converse_arns() -> set[str]:
        return {c.resource for c in roles.task_role(n) if c.operation.startswith("Converse ")}

    model = v["bedrock_model_id"]
    base = model.split(".", 1)[1]
    assert converse_arns() == {
        f"arn:aws:bedrock:us-east-1:{roles.ACCOUNT}:inference-profile/{model}",
        *(f"arn:aws:bedrock:{r}::foundation-model/{base}" for r in v["bedrock_model_regions"]),
    }
    more = {**v, "bedrock_model_regions": [*v["bedrock_model_regions"], "ca-central-1"]}
    monkeypatch.setattr(roles, "tfvars", lambda env: more)
    assert f"arn:aws:bedrock:ca-central-1::foundation-model/{base}" in converse_arns()
    # ...which the rendered policy (the same tfvars, applied) does not grant: a Region the
    # profile routes to but the task role may not invoke would be denied.
    verdicts = evaluate(stack.roles["qa-service-dev-task"], roles.task_role(n), {})
    assert "ca-central-1" in " ".join(v.call.resource for v in verdicts if v.outcome == "denied")


def test_every_provider_call_records_the_stored_copy_it_was_read_at() -> None:
    """`read_at`: the commit of the provider source copy the row was read at (the one its
    citation names), `aws-doc` for an AWS page, `unrecorded` where the citation names no
    copy. None of these copies is known to be the pinned 6.25.0: the stored copies carry no
    CHANGELOG or version file at their commits."""
    for r in roles.provider_rows():
        cited = re.match(r"internal/\S+?\.go@([0-9a-f]{8})", r["source"])
        if cited:
            assert r["read_at"] == cited.group(1), r
        elif r["source"].startswith("https://docs.aws.amazon.com/"):
            assert r["read_at"] == "aws-doc", r
        else:
            assert r["read_at"] == "unrecorded", r
